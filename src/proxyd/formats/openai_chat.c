/*
 * openai_chat.c - the OpenAI Chat Completions codec (POST
 * /v1/chat/completions) and its legacy Completions sibling (DESIGN 6
 * "Formats are translated through one pivot", formats/pivot.h), plus the
 * helpers both OpenAI codecs share (formats/openai.h).
 *
 * Shapes follow the OpenAI API reference: the request's messages
 * (system/developer, user with text and image_url parts, assistant with
 * tool_calls, tool with tool_call_id), the chat.completion answer and the
 * chat.completion.chunk stream ending in "data: [DONE]". Reasoning text,
 * which OpenAI itself never shows, travels as "reasoning_content" the way
 * DeepSeek, vLLM and most compatible servers spell it.
 *
 * The legacy Completions API is passthrough only: its translation members
 * are NULL, so the relay answers a request that would need translation
 * with an error instead of guessing.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxyd.h"
#include "formats/openai.h"


/* ============================================================ shared */

const cJSON *
oa_member(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNull(v) ? NULL : v;
}

static const char *const oa_effort_names[] = {
	[PV_EFFORT_UNSET] = NULL,
	[PV_EFFORT_NONE] = "none",
	[PV_EFFORT_MINIMAL] = "minimal",
	[PV_EFFORT_LOW] = "low",
	[PV_EFFORT_MEDIUM] = "medium",
	[PV_EFFORT_HIGH] = "high",
};

int
oa_effort_parse(const char *s, enum pv_effort *out)
{
	size_t i;

	for (i = 1; i < sizeof(oa_effort_names) / sizeof(oa_effort_names[0]); i++)
		if (strcmp(s, oa_effort_names[i]) == 0) {
			*out = (enum pv_effort)i;
			return CP_OK;
		}
	return CP_EINVAL;
}

const char *
oa_effort_name(enum pv_effort e)
{
	return (unsigned)e < sizeof(oa_effort_names) / sizeof(oa_effort_names[0]) ?
	    oa_effort_names[e] : NULL;
}

bool
oa_no_reasoning(const char *model)
{
	static const char *const prefix[] = { "gpt-4", "gpt-3.5", "chatgpt-" };
	size_t i;

	for (i = 0; model != NULL && i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (strncmp(model, prefix[i], strlen(prefix[i])) == 0)
			return true;
	return false;
}

enum pv_effort
oa_effort_of(const struct pv_request *r)
{
	if ((r->effort != PV_EFFORT_UNSET || r->budget >= 0 || r->want_thoughts) &&
	    oa_no_reasoning(r->model)) {
		log_debug("openai: dropping reasoning for '%s' (not a reasoning model)", r->model);
		return PV_EFFORT_UNSET;
	}
	if (r->effort != PV_EFFORT_UNSET)
		return r->effort;
	if (r->budget < 0)
		return PV_EFFORT_UNSET;
	if (r->budget == 0)
		return PV_EFFORT_NONE;
	if (r->budget <= 2048)
		return PV_EFFORT_LOW;
	if (r->budget <= 8192)
		return PV_EFFORT_MEDIUM;
	return PV_EFFORT_HIGH;
}

int
oa_image_from_url(const char *url, struct pv_part *p, char *err, size_t errlen)
{
	const char *comma, *semi;

	if (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) {
		if ((p->url = strdup(url)) == NULL)
			return CP_ENOMEM;
		return CP_OK;
	}
	/* RFC 2397: data:[<mediatype>][;base64],<data>; images must say
	 * their type and be base64 (OpenAI refuses anything else). */
	if (strncasecmp(url, "data:", 5) != 0 || (comma = strchr(url, ',')) == NULL ||
	    comma - url < 12 || strncasecmp(comma - 7, ";base64", 7) != 0 ||
	    comma[1] == '\0') {
		cp_seterr(err, errlen, "image url must be an http(s) URL or a base64 data URL");
		return CP_EINVAL;
	}
	semi = memchr(url + 5, ';', (size_t)(comma - url - 5));
	if (semi == url + 5) {
		cp_seterr(err, errlen, "image data URL has no media type");
		return CP_EINVAL;
	}
	if ((p->mime = strndup(url + 5, (size_t)(semi - url - 5))) == NULL ||
	    (p->data = strdup(comma + 1)) == NULL)
		return CP_ENOMEM;
	return CP_OK;
}

char *
oa_image_url(const struct pv_part *p)
{
	const char *mime;
	size_t n;
	char *s;

	if (p->data == NULL)
		return pv_strdup(p->url);
	mime = p->mime != NULL ? p->mime : "application/octet-stream";
	n = strlen("data:;base64,") + strlen(mime) + strlen(p->data) + 1;
	if ((s = malloc(n)) == NULL)
		return NULL;
	snprintf(s, n, "data:%s;base64,%s", mime, p->data);
	return s;
}

const char *
oa_call_name(const struct pv_request *r, const char *id, size_t *hint)
{
	const struct pv_msg *m = NULL;
	size_t i, j, k, n;

	/* A result answers a call of the latest assistant turn (both APIs
	 * require it). Results usually come in the calls' order, so the
	 * search starts after the last match; it looks at no more than
	 * OA_NAME_SCAN_MAX parts, so that a body of thousands of results
	 * with unknown ids costs linear time, not quadratic. */
	for (i = r->n_msgs; i-- > 0;)
		if (r->msgs[i].role == PV_ASSISTANT) {
			m = &r->msgs[i];
			break;
		}
	if (m == NULL || m->n_parts == 0)
		return NULL;
	n = m->n_parts < OA_NAME_SCAN_MAX ? m->n_parts : OA_NAME_SCAN_MAX;
	for (k = 0; k < n; k++) {
		const struct pv_part *p;

		j = (*hint + k) % m->n_parts;
		p = &m->parts[j];
		if (p->kind == PV_TOOL_CALL && p->id != NULL && strcmp(p->id, id) == 0) {
			*hint = j + 1;
			return p->name;
		}
	}
	return NULL;
}

void
oa_make_id(char out[OA_ID_MAX], const char *prefix, const char *answer_id, int n)
{
	static const char *const known[] = { "chatcmpl-", "resp_", "msg_" };
	const char *core = answer_id != NULL ? answer_id : "";
	size_t i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strncmp(core, known[i], strlen(known[i])) == 0) {
			core += strlen(known[i]);
			break;
		}
	if (n >= 0)
		snprintf(out, OA_ID_MAX, "%s%.100s_%d", prefix, core, n);
	else
		snprintf(out, OA_ID_MAX, "%s%.100s", prefix, core);
}

int
oa_keep(size_t *bytes, struct buf *b, const char *s, size_t len)
{
	if (len > OA_ANSWER_MAX - *bytes)
		return CP_ETOOBIG;
	*bytes += len;
	return buf_append(b, s, len);
}

int
oa_put_json(struct buf *out, const cJSON *o)
{
	char *txt = cJSON_PrintUnformatted(o);
	int rc;

	if (txt == NULL)
		return CP_ENOMEM;
	rc = buf_appends(out, txt);
	free(txt);
	return rc;
}

int
oa_sse_json(struct buf *out, const char *event, const cJSON *o)
{
	int rc = CP_OK;

	if (event != NULL)
		rc = buf_printf(out, "event: %s\n", event);
	if (rc == CP_OK)
		rc = buf_appends(out, "data: ");
	if (rc == CP_OK)
		rc = oa_put_json(out, o);
	if (rc == CP_OK)
		rc = buf_appends(out, "\n\n");
	return rc;
}

/* A token count member, -1 when absent or not a count. */
static long long
oa_count(const cJSON *o, const char *key)
{
	long long v;

	if (o == NULL || json_get_int(o, key, 0, (1LL << 53), &v) != CP_OK)
		return -1;
	return v;
}

void
oa_usage_read(const cJSON *u, bool responses, struct pv_usage *out)
{
	const cJSON *in_d, *out_d;

	in_d = oa_member(u, responses ? "input_tokens_details" : "prompt_tokens_details");
	out_d = oa_member(u, responses ? "output_tokens_details" : "completion_tokens_details");
	out->input = oa_count(u, responses ? "input_tokens" : "prompt_tokens");
	out->output = oa_count(u, responses ? "output_tokens" : "completion_tokens");
	out->cached = cJSON_IsObject(in_d) ? oa_count(in_d, "cached_tokens") : -1;
	out->reasoning = cJSON_IsObject(out_d) ? oa_count(out_d, "reasoning_tokens") : -1;
}

cJSON *
oa_usage_json(const struct pv_usage *u, bool responses)
{
	long long in = u->input > 0 ? u->input : 0, outp = u->output > 0 ? u->output : 0;
	cJSON *o = cJSON_CreateObject(), *d;

	if (o == NULL)
		return NULL;
	/* The details are written only when the upstream gave them, so
	 * that a count never seen is not reported as 0. */
	if (cJSON_AddNumberToObject(o, responses ? "input_tokens" : "prompt_tokens",
	    (double)in) == NULL ||
	    (u->cached >= 0 && ((d = cJSON_AddObjectToObject(o, responses ?
	    "input_tokens_details" : "prompt_tokens_details")) == NULL ||
	    cJSON_AddNumberToObject(d, "cached_tokens", (double)u->cached) == NULL)) ||
	    cJSON_AddNumberToObject(o, responses ? "output_tokens" : "completion_tokens",
	    (double)outp) == NULL ||
	    (u->reasoning >= 0 && ((d = cJSON_AddObjectToObject(o, responses ?
	    "output_tokens_details" : "completion_tokens_details")) == NULL ||
	    cJSON_AddNumberToObject(d, "reasoning_tokens", (double)u->reasoning) == NULL)) ||
	    cJSON_AddNumberToObject(o, "total_tokens", (double)(in + outp)) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

void
oa_error_message(const cJSON *e, char *msg, size_t msglen)
{
	const cJSON *m;

	msg[0] = '\0';
	if (cJSON_IsString(e)) {
		snprintf(msg, msglen, "%s", e->valuestring);
		return;
	}
	m = cJSON_GetObjectItemCaseSensitive(e, "message");
	if (cJSON_IsString(m))
		snprintf(msg, msglen, "%s", m->valuestring);
}

int
oa_decode_error(const char *body, size_t len, char *msg, size_t msglen)
{
	cJSON *root = NULL;
	const cJSON *e;

	if (msglen == 0)
		return CP_EINVAL;
	msg[0] = '\0';
	if (json_parse_strict(body, len, &root) != CP_OK)
		return CP_OK;
	/* {"error": {"message": ...}} and the compatible servers' variants
	 * {"error": "text"} and {"message": ...}. */
	e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (e != NULL)
		oa_error_message(e, msg, msglen);
	else if (cJSON_IsObject(root))
		oa_error_message(root, msg, msglen);
	cJSON_Delete(root);
	return CP_OK;
}

int
oa_models_body(struct buf *out, const char *const *names, size_t n, bool single)
{
	cJSON *root = NULL, *data = NULL, *it;
	size_t i;
	int rc = CP_ENOMEM;

	buf_reset(out);
	if (!single && ((root = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(root, "object", "list") == NULL ||
	    (data = cJSON_AddArrayToObject(root, "data")) == NULL))
		goto out;
	for (i = 0; i < n; i++) {
		if ((it = cJSON_CreateObject()) == NULL)
			goto out;
		if (single)
			root = it;
		else
			cJSON_AddItemToArray(data, it);
		if (cJSON_AddStringToObject(it, "id", names[i]) == NULL ||
		    cJSON_AddStringToObject(it, "object", "model") == NULL ||
		    cJSON_AddNumberToObject(it, "created", 0) == NULL ||
		    cJSON_AddStringToObject(it, "owned_by", "cliproxy") == NULL)
			goto out;
		if (single)
			break;
	}
	if (root == NULL) {
		rc = CP_ENOTFOUND;
		goto out;
	}
	rc = oa_put_json(out, root);
out:
	cJSON_Delete(root);
	return rc;
}

void
oa_io_init(struct oa_io *io, bool stream)
{
	memset(io, 0, sizeof(*io));
	io->stream = stream;
	sse_init(&io->sse);
	buf_init(&io->body, OA_ANSWER_MAX);
}

void
oa_io_release(struct oa_io *io)
{
	sse_release(&io->sse);
	buf_release(&io->body);
}

int
oa_io_feed(struct oa_io *io, const char *data, size_t len, pv_emit_fn emit, void *arg,
    sse_cb cb, void *self)
{
	io->emit = emit;
	io->arg = arg;
	if (!io->stream)
		return buf_append(&io->body, data, len);
	return sse_feed(&io->sse, data, len, cb, self);
}

int
oa_io_finish(struct oa_io *io, pv_emit_fn emit, void *arg, sse_cb cb, void *self,
    cJSON **doc)
{
	io->emit = emit;
	io->arg = arg;
	*doc = NULL;
	if (io->stream) {
		/* A line cut in the middle is dropped (WHATWG: an incomplete
		 * event is discarded); a complete last line still counts. */
		if (io->sse.line.len == 0 && io->sse.has_data)
			return sse_feed(&io->sse, io->sse.saw_cr ? "\r" : "\n", 1, cb, self);
		return CP_OK;
	}
	*doc = cJSON_ParseWithLength(io->body.p != NULL ? io->body.p : "", io->body.len);
	return *doc != NULL ? CP_OK : CP_EPARSE;
}

int
oa_io_cut(struct oa_io *io)
{
	struct pv_event ev = { .kind = PV_EV_ERROR, .status = 502 };

	ev.text = "upstream stream ended before the answer was complete";
	ev.len = strlen(ev.text);
	return io->emit(&ev, io->arg);
}

/* ===================================================== passthrough */

/* OpenAI's "type" for each kind (their documented error types). */
static const char *const oa_err_type[PVE__COUNT] = {
	[PVE_INVALID] = "invalid_request_error",
	[PVE_AUTH] = "authentication_error",
	[PVE_PERMISSION] = "permission_error",
	[PVE_NOT_FOUND] = "invalid_request_error",
	[PVE_TOO_LARGE] = "invalid_request_error",
	[PVE_RATE_LIMIT] = "rate_limit_error",
	[PVE_SERVER] = "server_error",
	[PVE_UPSTREAM] = "upstream_error",
	[PVE_UNAVAILABLE] = "server_error",
	[PVE_TIMEOUT] = "server_error",
};

int
fmt_openai_error(struct buf *out, int status, enum pv_err kind, const char *message,
    const char *type, const char *code)
{
	cJSON *root = NULL, *err;
	char *txt = NULL;
	int rc = CP_ENOMEM;

	(void)status;
	if (type == NULL)
		type = (unsigned)kind < PVE__COUNT ? oa_err_type[kind] : "server_error";
	buf_reset(out);
	if ((root = cJSON_CreateObject()) == NULL)
		goto out;
	if ((err = cJSON_AddObjectToObject(root, "error")) == NULL)
		goto out;
	if (cJSON_AddStringToObject(err, "message", message) == NULL ||
	    cJSON_AddStringToObject(err, "type", type != NULL ? type : "server_error") == NULL)
		goto out;
	if (code != NULL) {
		if (cJSON_AddStringToObject(err, "code", code) == NULL)
			goto out;
	} else if (cJSON_AddNullToObject(err, "code") == NULL)
		goto out;
	if ((txt = cJSON_PrintUnformatted(root)) == NULL)
		goto out;
	rc = buf_appends(out, txt);
out:
	free(txt);
	cJSON_Delete(root);
	return rc;
}

int
oa_error_append(struct buf *out, int status, const char *message, const char *tail)
{
	struct buf b;
	int rc;

	buf_init(&b, SIZE_MAX);
	rc = fmt_openai_error(&b, status, pv_err_of_status(status), message, NULL, NULL);
	if (rc == CP_OK && (rc = buf_append(out, b.p, b.len)) == CP_OK)
		rc = buf_appends(out, tail);
	buf_release(&b);
	return rc;
}

/* ================================================== request decode */

/* Content of a message: a string, or an array of parts. Text parts (and
 * assistant "refusal" parts) become PV_TEXT; image_url parts PV_IMAGE
 * (user only); audio and file parts cannot be translated and are
 * dropped. */
static int
chat_content(const cJSON *c, struct pv_msg *m, bool user, size_t mi, char *err,
    size_t errlen)
{
	const cJSON *it;
	struct pv_part *p;
	size_t k = 0;
	int rc;

	if (c == NULL)
		return CP_OK;
	if (cJSON_IsString(c)) {
		if ((p = pv_part_add(m, PV_TEXT)) == NULL || (p->text = strdup(c->valuestring)) == NULL)
			return CP_ENOMEM;
		return CP_OK;
	}
	if (!cJSON_IsArray(c)) {
		cp_seterr(err, errlen, "messages[%zu].content must be a string or an array", mi);
		return CP_EINVAL;
	}
	cJSON_ArrayForEach(it, c) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(it, "type");
		const cJSON *v;
		const char *t;

		if (!cJSON_IsObject(it) || !cJSON_IsString(type)) {
			cp_seterr(err, errlen, "messages[%zu].content[%zu] must be an object with a 'type'",
			    mi, k);
			return CP_EINVAL;
		}
		t = type->valuestring;
		if (strcmp(t, "text") == 0 || (!user && strcmp(t, "refusal") == 0)) {
			v = cJSON_GetObjectItemCaseSensitive(it, t[0] == 't' ? "text" : "refusal");
			if (!cJSON_IsString(v)) {
				cp_seterr(err, errlen, "messages[%zu].content[%zu].%s must be a string",
				    mi, k, t[0] == 't' ? "text" : "refusal");
				return CP_EINVAL;
			}
			if ((p = pv_part_add(m, PV_TEXT)) == NULL ||
			    (p->text = strdup(v->valuestring)) == NULL)
				return CP_ENOMEM;
		} else if (user && strcmp(t, "image_url") == 0) {
			const cJSON *img = cJSON_GetObjectItemCaseSensitive(it, "image_url");
			const cJSON *url = cJSON_GetObjectItemCaseSensitive(img, "url");

			if (!cJSON_IsObject(img) || !cJSON_IsString(url)) {
				cp_seterr(err, errlen,
				    "messages[%zu].content[%zu].image_url.url must be a string", mi, k);
				return CP_EINVAL;
			}
			if ((p = pv_part_add(m, PV_IMAGE)) == NULL)
				return CP_ENOMEM;
			if ((rc = oa_image_from_url(url->valuestring, p, err, errlen)) != CP_OK)
				return rc;
		} else if (user && (strcmp(t, "input_audio") == 0 || strcmp(t, "file") == 0)) {
			log_debug("openai-chat: dropping a '%s' content part (no pivot form)", t);
		} else {
			cp_seterr(err, errlen, "messages[%zu].content[%zu]: unsupported type '%.40s'",
			    mi, k, t);
			return CP_EINVAL;
		}
		k++;
	}
	return CP_OK;
}

static int
chat_tool_calls(const cJSON *tcs, struct pv_msg *m, size_t mi, char *err, size_t errlen)
{
	const cJSON *tc;
	size_t k = 0;

	if (tcs == NULL)
		return CP_OK;
	if (!cJSON_IsArray(tcs)) {
		cp_seterr(err, errlen, "messages[%zu].tool_calls must be an array", mi);
		return CP_EINVAL;
	}
	cJSON_ArrayForEach(tc, tcs) {
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
		const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
		struct pv_part *p;

		if (!cJSON_IsString(id) || !cJSON_IsObject(fn) || !cJSON_IsString(name) ||
		    !cJSON_IsString(args)) {
			cp_seterr(err, errlen, "messages[%zu].tool_calls[%zu] needs id, "
			    "function.name and function.arguments (strings)", mi, k);
			return CP_EINVAL;
		}
		if ((p = pv_part_add(m, PV_TOOL_CALL)) == NULL ||
		    (p->id = strdup(id->valuestring)) == NULL ||
		    (p->name = strdup(name->valuestring)) == NULL ||
		    (p->args = strdup(args->valuestring[0] != '\0' ? args->valuestring : "{}")) == NULL)
			return CP_ENOMEM;
		k++;
	}
	return CP_OK;
}

/* System and developer messages join into r->system, blank-line apart. */
static int
chat_system(struct pv_request *r, const cJSON *c, size_t mi, char *err, size_t errlen)
{
	struct pv_msg tmp = { 0 };
	struct buf b;
	size_t j;
	int rc;

	buf_init(&b, CP_BODY_MAX);
	if ((rc = chat_content(c, &tmp, false, mi, err, errlen)) != CP_OK)
		goto out;
	if (r->system != NULL && (rc = buf_printf(&b, "%s", r->system)) != CP_OK)
		goto out;
	for (j = 0; j < tmp.n_parts; j++) {
		if (b.len > 0 && (rc = buf_appends(&b, "\n\n")) != CP_OK)
			goto out;
		if ((rc = buf_appends(&b, tmp.parts[j].text)) != CP_OK)
			goto out;
	}
	if ((rc = buf_append(&b, "", 0)) != CP_OK)
		goto out;
	free(r->system);
	r->system = buf_steal(&b, NULL);
out:
	for (j = 0; j < tmp.n_parts; j++)
		free(tmp.parts[j].text);
	free(tmp.parts);
	buf_release(&b);
	return rc;
}

static int
chat_tool_msg(struct pv_request *r, const cJSON *msg, size_t mi, size_t *hint, char *err,
    size_t errlen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "tool_call_id");
	struct pv_msg tmp = { 0 }, *m;
	struct pv_part *p;
	struct buf b;
	const char *name;
	size_t j;
	int rc;

	buf_init(&b, CP_BODY_MAX);
	if (!cJSON_IsString(id)) {
		cp_seterr(err, errlen, "messages[%zu].tool_call_id must be a string", mi);
		rc = CP_EINVAL;
		goto out;
	}
	if ((rc = chat_content(oa_member(msg, "content"), &tmp, false, mi, err, errlen)) != CP_OK)
		goto out;
	for (j = 0; j < tmp.n_parts; j++)
		if ((rc = buf_appends(&b, tmp.parts[j].text)) != CP_OK)
			goto out;
	if ((rc = buf_append(&b, "", 0)) != CP_OK)
		goto out;
	/* Results of one assistant turn go into one user message. */
	m = r->n_msgs > 0 ? &r->msgs[r->n_msgs - 1] : NULL;
	if (m == NULL || m->role != PV_USER || m->n_parts == 0 ||
	    m->parts[m->n_parts - 1].kind != PV_TOOL_RESULT)
		m = pv_msg_add(r, PV_USER);
	rc = CP_ENOMEM;
	name = oa_call_name(r, id->valuestring, hint);
	if (m == NULL || (p = pv_part_add(m, PV_TOOL_RESULT)) == NULL ||
	    (p->id = strdup(id->valuestring)) == NULL ||
	    (name != NULL && (p->name = strdup(name)) == NULL))
		goto out;
	p->text = buf_steal(&b, NULL);
	rc = CP_OK;
out:
	for (j = 0; j < tmp.n_parts; j++)
		free(tmp.parts[j].text);
	free(tmp.parts);
	buf_release(&b);
	return rc;
}

static int
chat_messages(const cJSON *msgs, struct pv_request *r, char *err, size_t errlen)
{
	const cJSON *msg;
	size_t mi = 0, hint = 0;
	int rc;

	if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0) {
		cp_seterr(err, errlen, "'messages' must be a non-empty array");
		return CP_EINVAL;
	}
	cJSON_ArrayForEach(msg, msgs) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
		const cJSON *content = oa_member(msg, "content");
		const char *ro;
		struct pv_msg *m;

		if (!cJSON_IsObject(msg) || !cJSON_IsString(role)) {
			cp_seterr(err, errlen, "messages[%zu] must be an object with a 'role'", mi);
			return CP_EINVAL;
		}
		ro = role->valuestring;
		if (strcmp(ro, "system") == 0 || strcmp(ro, "developer") == 0) {
			rc = chat_system(r, content, mi, err, errlen);
		} else if (strcmp(ro, "user") == 0) {
			if (content == NULL) {
				cp_seterr(err, errlen, "messages[%zu].content is required", mi);
				return CP_EINVAL;
			}
			if ((m = pv_msg_add(r, PV_USER)) == NULL)
				return CP_ENOMEM;
			rc = chat_content(content, m, true, mi, err, errlen);
		} else if (strcmp(ro, "assistant") == 0) {
			/* Reasoning text echoed back has no signature, so no
			 * upstream can verify it; DeepSeek refuses it outright. */
			if (oa_member(msg, "reasoning_content") != NULL)
				log_debug("openai-chat: dropping messages[%zu].reasoning_content", mi);
			if ((m = pv_msg_add(r, PV_ASSISTANT)) == NULL)
				return CP_ENOMEM;
			rc = chat_content(content, m, false, mi, err, errlen);
			if (rc == CP_OK)
				rc = chat_tool_calls(oa_member(msg, "tool_calls"), m, mi, err, errlen);
		} else if (strcmp(ro, "tool") == 0) {
			rc = chat_tool_msg(r, msg, mi, &hint, err, errlen);
		} else {
			cp_seterr(err, errlen, "messages[%zu].role '%.40s' is not supported", mi, ro);
			return CP_EINVAL;
		}
		if (rc != CP_OK)
			return rc;
		mi++;
	}
	return CP_OK;
}

/* Function tools of either API ({"type":"function","function":{name,
 * description, parameters}} in Chat, flat in Responses) into r. Other
 * types (Chat "custom"; Responses built-ins such as web_search or
 * file_search, which run on OpenAI's side) have no pivot form: dropped. */
int
oa_tools(const cJSON *tools, struct pv_request *r, bool nested, char *err, size_t errlen)
{
	const cJSON *t;
	size_t k = 0;
	int rc;

	if (tools == NULL)
		return CP_OK;
	if (!cJSON_IsArray(tools)) {
		cp_seterr(err, errlen, "'tools' must be an array");
		return CP_EINVAL;
	}
	cJSON_ArrayForEach(t, tools) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(t, "type");
		const cJSON *fn = nested ? cJSON_GetObjectItemCaseSensitive(t, "function") : t;
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
		const cJSON *desc = oa_member(fn, "description");
		const cJSON *params = oa_member(fn, "parameters");
		struct pv_tool *pt;

		if (!cJSON_IsObject(t) || !cJSON_IsString(type)) {
			cp_seterr(err, errlen, "tools[%zu] must be an object with a 'type'", k);
			return CP_EINVAL;
		}
		if (strcmp(type->valuestring, "function") != 0) {
			log_debug("openai: dropping tool of type '%.40s'", type->valuestring);
			k++;
			continue;
		}
		if (!cJSON_IsObject(fn) || !cJSON_IsString(name) || name->valuestring[0] == '\0' ||
		    (desc != NULL && !cJSON_IsString(desc)) ||
		    (params != NULL && !cJSON_IsObject(params))) {
			cp_seterr(err, errlen, "tools[%zu]%s needs a name; description must be a "
			    "string and parameters an object", k, nested ? ".function" : "");
			return CP_EINVAL;
		}
		if (params != NULL && (rc = pv_schema_check(params)) != CP_OK) {
			char what[48];

			snprintf(what, sizeof(what), "tools[%zu]%s.parameters", k, nested ? ".function" : "");
			return pv_schema_refused(rc, what, err, errlen);
		}
		if ((pt = pv_tool_add(r)) == NULL || (pt->name = strdup(name->valuestring)) == NULL ||
		    (desc != NULL && (pt->description = strdup(desc->valuestring)) == NULL) ||
		    (params != NULL && (pt->schema = cJSON_Duplicate(params, true)) == NULL))
			return CP_ENOMEM;
		k++;
	}
	return CP_OK;
}

/* tool_choice: "auto" | "none" | "required" | {"type":"function",
 * "function":{"name"}} (Chat) or {"type":"function","name"} (Responses);
 * allowed_tools becomes auto; built-in and custom tools cannot be
 * required of another upstream. */
int
oa_tool_choice(const cJSON *tc, struct pv_request *r, char *err, size_t errlen)
{
	static const struct { const char *s; enum pv_tool_choice c; } tab[] = {
		{ "auto", PV_TC_AUTO }, { "none", PV_TC_NONE }, { "required", PV_TC_ANY },
	};
	const cJSON *type, *fn, *name;
	size_t i;

	if (tc == NULL)
		return CP_OK;
	if (cJSON_IsString(tc)) {
		for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
			if (strcmp(tc->valuestring, tab[i].s) == 0) {
				r->tool_choice = tab[i].c;
				return CP_OK;
			}
		cp_seterr(err, errlen, "'tool_choice' must be auto, none, required or an object");
		return CP_EINVAL;
	}
	type = cJSON_GetObjectItemCaseSensitive(tc, "type");
	if (!cJSON_IsObject(tc) || !cJSON_IsString(type)) {
		cp_seterr(err, errlen, "'tool_choice' must be a string or an object with a 'type'");
		return CP_EINVAL;
	}
	if (strcmp(type->valuestring, "allowed_tools") == 0) {
		log_debug("openai: tool_choice allowed_tools becomes auto");
		r->tool_choice = PV_TC_AUTO;
		return CP_OK;
	}
	fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
	name = cJSON_GetObjectItemCaseSensitive(fn, "name");
	if (name == NULL)
		name = cJSON_GetObjectItemCaseSensitive(tc, "name");
	if (strcmp(type->valuestring, "function") != 0 || !cJSON_IsString(name)) {
		/* a built-in or custom tool required: cannot be honoured */
		cp_seterr(err, errlen, "'tool_choice' of type '%.40s' cannot be translated "
		    "for this model", type->valuestring);
		return CP_EINVAL;
	}
	r->tool_choice = PV_TC_TOOL;
	return (r->tool_choice_name = strdup(name->valuestring)) != NULL ? CP_OK : CP_ENOMEM;
}

int
oa_number(const cJSON *req, const char *key, double max, double *out, char *err,
    size_t errlen)
{
	const cJSON *v = oa_member(req, key);

	if (v == NULL)
		return CP_OK;
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max) {
		cp_seterr(err, errlen, "'%s' must be a number from 0 to %g", key, max);
		return CP_EINVAL;
	}
	*out = v->valuedouble;
	return CP_OK;
}

int
oa_bool(const cJSON *o, const char *key, bool *out, char *err, size_t errlen)
{
	const cJSON *v = oa_member(o, key);

	if (v == NULL)
		return CP_OK;
	if (!cJSON_IsBool(v)) {
		cp_seterr(err, errlen, "'%s' must be a boolean", key);
		return CP_EINVAL;
	}
	*out = cJSON_IsTrue(v);
	return CP_OK;
}

static int
chat_stop(const cJSON *stop, struct pv_request *r, char *err, size_t errlen)
{
	const cJSON *s;
	int rc;

	if (stop == NULL)
		return CP_OK;
	if (cJSON_IsString(stop))
		return pv_stop_add(r, stop->valuestring);
	if (!cJSON_IsArray(stop)) {
		cp_seterr(err, errlen, "'stop' must be a string or an array of strings");
		return CP_EINVAL;
	}
	cJSON_ArrayForEach(s, stop) {
		if (!cJSON_IsString(s)) {
			cp_seterr(err, errlen, "'stop' must be a string or an array of strings");
			return CP_EINVAL;
		}
		if ((rc = pv_stop_add(r, s->valuestring)) != CP_OK)
			return rc;
	}
	return CP_OK;
}

/* Members with no pivot form: dropped, each with a debug line. */
static const char *const chat_dropped[] = {
	"response_format", "seed", "logprobs", "top_logprobs", "logit_bias",
	"frequency_penalty", "presence_penalty", "metadata", "store", "service_tier",
	"prediction", "audio", "modalities", "web_search_options", "verbosity",
	"prompt_cache_key", "safety_identifier", "functions", "function_call",
};

static int
chat_decode_request(const cJSON *req, const char *path_model, bool path_stream,
    struct pv_request *r, char *err, size_t errlen)
{
	const cJSON *model, *v, *so;
	long long n;
	bool par = true;
	size_t i;
	int rc;

	(void)path_model;
	(void)path_stream;
	pv_request_init(r);
	rc = CP_EINVAL;
	if (!cJSON_IsObject(req)) {
		cp_seterr(err, errlen, "the request body must be a JSON object");
		goto out;
	}
	model = cJSON_GetObjectItemCaseSensitive(req, "model");
	if (!cJSON_IsString(model) || model->valuestring[0] == '\0') {
		cp_seterr(err, errlen, "'model' must be a non-empty string");
		goto out;
	}
	if ((r->model = strdup(model->valuestring)) == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	if ((rc = chat_messages(cJSON_GetObjectItemCaseSensitive(req, "messages"), r, err,
	    errlen)) != CP_OK ||
	    (rc = oa_tools(oa_member(req, "tools"), r, true, err, errlen)) != CP_OK ||
	    (rc = oa_tool_choice(oa_member(req, "tool_choice"), r, err, errlen)) != CP_OK ||
	    (rc = oa_number(req, "temperature", OA_TEMP_MAX, &r->temperature, err,
	    errlen)) != CP_OK ||
	    (rc = oa_number(req, "top_p", 1.0, &r->top_p, err, errlen)) != CP_OK ||
	    (rc = chat_stop(oa_member(req, "stop"), r, err, errlen)) != CP_OK ||
	    (rc = oa_bool(req, "stream", &r->stream, err, errlen)) != CP_OK ||
	    (rc = oa_bool(req, "parallel_tool_calls", &par, err, errlen)) != CP_OK)
		goto out;
	rc = CP_EINVAL;
	/* parallel_tool_calls means something only with tools (OpenAI refuses
	 * it without). */
	r->parallel_tools_off = !par && r->n_tools > 0;
	if (r->tool_choice == PV_TC_TOOL) {
		for (i = 0; i < r->n_tools; i++)
			if (strcmp(r->tools[i].name, r->tool_choice_name) == 0)
				break;
		if (i == r->n_tools) {
			cp_seterr(err, errlen, "tool_choice names '%.80s', which is not in 'tools'",
			    r->tool_choice_name);
			goto out;
		}
	}
	if ((so = oa_member(req, "stream_options")) != NULL) {
		if (!cJSON_IsObject(so)) {
			cp_seterr(err, errlen, "'stream_options' must be an object");
			goto out;
		}
		if ((rc = oa_bool(so, "include_usage", &r->include_usage, err, errlen)) != CP_OK)
			goto out;
		rc = CP_EINVAL;
	}
	/* max_completion_tokens replaces the deprecated max_tokens. */
	if ((v = oa_member(req, "max_completion_tokens")) != NULL ||
	    (v = oa_member(req, "max_tokens")) != NULL) {
		if (json_item_int(v, 1, INT32_MAX, &r->max_tokens) != CP_OK) {
			cp_seterr(err, errlen, "'%s' must be a positive integer", v->string);
			goto out;
		}
	}
	if ((v = oa_member(req, "reasoning_effort")) != NULL &&
	    (!cJSON_IsString(v) || oa_effort_parse(v->valuestring, &r->effort) != CP_OK)) {
		cp_seterr(err, errlen, "'reasoning_effort' must be none, minimal, low, medium or high");
		goto out;
	}
	if ((v = oa_member(req, "user")) != NULL) {
		if (!cJSON_IsString(v)) {
			cp_seterr(err, errlen, "'user' must be a string");
			goto out;
		}
		if ((r->user = strdup(v->valuestring)) == NULL) {
			rc = CP_ENOMEM;
			goto out;
		}
	}
	/* Several choices cannot be expressed by the other formats: asking
	 * for them is an explicit request we cannot honour. */
	if ((v = oa_member(req, "n")) != NULL &&
	    (json_item_int(v, 1, 128, &n) != CP_OK || n != 1)) {
		cp_seterr(err, errlen, "'n' other than 1 is not supported for this model");
		goto out;
	}
	for (i = 0; i < sizeof(chat_dropped) / sizeof(chat_dropped[0]); i++)
		if (oa_member(req, chat_dropped[i]) != NULL)
			log_debug("openai-chat: dropping '%s' (no pivot form)", chat_dropped[i]);
	rc = CP_OK;
out:
	if (rc != CP_OK)
		pv_request_release(r);
	return rc;
}

/* ================================================== request encode */

static cJSON *
chat_text_content(const struct pv_msg *m)
{
	cJSON *arr, *o;
	size_t j, n = 0;
	const char *one = NULL;

	for (j = 0; j < m->n_parts; j++)
		if (m->parts[j].kind == PV_TEXT) {
			one = m->parts[j].text != NULL ? m->parts[j].text : "";
			n++;
		}
	if (n == 1)
		return cJSON_CreateString(one);
	if ((arr = cJSON_CreateArray()) == NULL)
		return NULL;
	for (j = 0; j < m->n_parts; j++) {
		if (m->parts[j].kind != PV_TEXT)
			continue;
		if ((o = cJSON_CreateObject()) == NULL) {
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToArray(arr, o);
		if (cJSON_AddStringToObject(o, "type", "text") == NULL ||
		    cJSON_AddStringToObject(o, "text",
		    m->parts[j].text != NULL ? m->parts[j].text : "") == NULL) {
			cJSON_Delete(arr);
			return NULL;
		}
	}
	return arr;
}

/* A user message's text and images; NULL content when it has none. */
static int
chat_enc_user(const struct pv_msg *m, cJSON *msgs)
{
	cJSON *o = NULL, *content = NULL, *it, *img;
	bool images = false, any = false;
	char *url = NULL;
	size_t j;
	int rc = CP_ENOMEM;

	for (j = 0; j < m->n_parts; j++) {
		images |= m->parts[j].kind == PV_IMAGE;
		any |= m->parts[j].kind == PV_TEXT || m->parts[j].kind == PV_IMAGE;
	}
	if (!any)
		return CP_OK;
	if (!images) {
		content = chat_text_content(m);
	} else if ((content = cJSON_CreateArray()) != NULL) {
		for (j = 0; j < m->n_parts; j++) {
			const struct pv_part *p = &m->parts[j];

			if (p->kind != PV_TEXT && p->kind != PV_IMAGE)
				continue;
			if ((it = cJSON_CreateObject()) == NULL)
				goto out;
			cJSON_AddItemToArray(content, it);
			if (p->kind == PV_TEXT) {
				if (cJSON_AddStringToObject(it, "type", "text") == NULL ||
				    cJSON_AddStringToObject(it, "text", p->text != NULL ? p->text : "") == NULL)
					goto out;
				continue;
			}
			if ((url = oa_image_url(p)) == NULL ||
			    cJSON_AddStringToObject(it, "type", "image_url") == NULL ||
			    (img = cJSON_AddObjectToObject(it, "image_url")) == NULL ||
			    cJSON_AddStringToObject(img, "url", url) == NULL)
				goto out;
			free(url);
			url = NULL;
		}
	}
	if (content == NULL || (o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "role", "user") == NULL)
		goto out;
	cJSON_AddItemToObject(o, "content", content);
	content = NULL;
	cJSON_AddItemToArray(msgs, o);
	o = NULL;
	rc = CP_OK;
out:
	free(url);
	cJSON_Delete(content);
	cJSON_Delete(o);
	return rc;
}

static int
chat_enc_results(const struct pv_msg *m, cJSON *msgs)
{
	size_t j;

	for (j = 0; j < m->n_parts; j++) {
		const struct pv_part *p = &m->parts[j];
		cJSON *o;

		if (p->kind != PV_TOOL_RESULT)
			continue;
		/* Chat has no error flag: the content says what went wrong. */
		if (p->is_error)
			log_debug("openai-chat: tool result '%s' loses its error flag",
			    p->id != NULL ? p->id : "");
		if ((o = cJSON_CreateObject()) == NULL)
			return CP_ENOMEM;
		cJSON_AddItemToArray(msgs, o);
		if (cJSON_AddStringToObject(o, "role", "tool") == NULL ||
		    cJSON_AddStringToObject(o, "tool_call_id", p->id != NULL ? p->id : "") == NULL ||
		    cJSON_AddStringToObject(o, "content", p->text != NULL ? p->text : "") == NULL)
			return CP_ENOMEM;
	}
	return CP_OK;
}

static int
chat_enc_assistant(const struct pv_msg *m, cJSON *msgs)
{
	cJSON *o, *tcs = NULL, *tc, *fn, *content;
	size_t j, n_text = 0;

	if ((o = cJSON_CreateObject()) == NULL)
		return CP_ENOMEM;
	cJSON_AddItemToArray(msgs, o);
	if (cJSON_AddStringToObject(o, "role", "assistant") == NULL)
		return CP_ENOMEM;
	for (j = 0; j < m->n_parts; j++) {
		const struct pv_part *p = &m->parts[j];

		if (p->kind == PV_TEXT) {
			n_text++;
		} else if (p->kind == PV_THINKING) {
			/* Chat has no way to carry reasoning back. */
			log_debug("openai-chat: dropping thinking of an assistant turn");
		} else if (p->kind == PV_TOOL_CALL) {
			if (tcs == NULL && (tcs = cJSON_AddArrayToObject(o, "tool_calls")) == NULL)
				return CP_ENOMEM;
			if ((tc = cJSON_CreateObject()) == NULL)
				return CP_ENOMEM;
			cJSON_AddItemToArray(tcs, tc);
			if (cJSON_AddStringToObject(tc, "id", p->id != NULL ? p->id : "") == NULL ||
			    cJSON_AddStringToObject(tc, "type", "function") == NULL ||
			    (fn = cJSON_AddObjectToObject(tc, "function")) == NULL ||
			    cJSON_AddStringToObject(fn, "name", p->name != NULL ? p->name : "") == NULL ||
			    cJSON_AddStringToObject(fn, "arguments",
			    p->args != NULL ? p->args : "{}") == NULL)
				return CP_ENOMEM;
		}
	}
	if (n_text > 0)
		content = chat_text_content(m);
	else
		content = tcs != NULL ? cJSON_CreateNull() : cJSON_CreateString("");
	if (content == NULL)
		return CP_ENOMEM;
	cJSON_AddItemToObject(o, "content", content);
	return CP_OK;
}

bool
oa_reasoning_model(const char *model)
{
	static const char *const prefix[] = { "o1", "o3", "o4", "gpt-5", "codex-" };
	size_t i;

	for (i = 0; model != NULL && i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (strncmp(model, prefix[i], strlen(prefix[i])) == 0)
			return true;
	return false;
}

int
oa_enc_sampling(const struct pv_request *r, cJSON *root)
{
	bool fixed = oa_reasoning_model(r->model);

	/* OpenAI's reasoning models refuse any temperature or top_p but
	 * the default 1 (400 unsupported_value): another format's client
	 * (Claude Code sends one) must not fail for it. */
	if (r->temperature >= 0 && (!fixed || r->temperature == 1) &&
	    cJSON_AddNumberToObject(root, "temperature", r->temperature) == NULL)
		return CP_ENOMEM;
	if (r->top_p >= 0 && (!fixed || r->top_p == 1) &&
	    cJSON_AddNumberToObject(root, "top_p", r->top_p) == NULL)
		return CP_ENOMEM;
	if (fixed && ((r->temperature >= 0 && r->temperature != 1) ||
	    (r->top_p >= 0 && r->top_p != 1)))
		log_debug("openai: dropping temperature/top_p for reasoning model '%s'", r->model);
	return CP_OK;
}

int
oa_enc_user(const struct pv_request *r, cJSON *root)
{
	if (r->user == NULL)
		return CP_OK;
	/* OpenAI refuses a longer one (400); Claude Code's metadata.user_id
	 * is longer. The id only helps abuse monitoring: leave it out. */
	if (strlen(r->user) > OA_USER_MAX) {
		log_debug("openai: dropping a user id longer than %d bytes", OA_USER_MAX);
		return CP_OK;
	}
	return cJSON_AddStringToObject(root, "user", r->user) != NULL ? CP_OK : CP_ENOMEM;
}

int
oa_enc_tools(const struct pv_request *r, cJSON *root, bool nested)
{
	cJSON *arr, *t, *fn, *schema;
	size_t i;

	if (r->n_tools == 0)
		return CP_OK;
	if ((arr = cJSON_AddArrayToObject(root, "tools")) == NULL)
		return CP_ENOMEM;
	for (i = 0; i < r->n_tools; i++) {
		const struct pv_tool *pt = &r->tools[i];

		if ((t = cJSON_CreateObject()) == NULL)
			return CP_ENOMEM;
		cJSON_AddItemToArray(arr, t);
		if (cJSON_AddStringToObject(t, "type", "function") == NULL ||
		    (fn = nested ? cJSON_AddObjectToObject(t, "function") : t) == NULL ||
		    cJSON_AddStringToObject(fn, "name", pt->name) == NULL ||
		    (pt->description != NULL &&
		    cJSON_AddStringToObject(fn, "description", pt->description) == NULL))
			return CP_ENOMEM;
		/* JSON schema with lowercase type names (a Gemini client may
		 * spell them "OBJECT", "STRING"; DESIGN 6). */
		if (pt->schema != NULL) {
			int rc = pv_schema_lower_types(pt->schema, &schema);

			if (rc != CP_OK)
				return rc;
			cJSON_AddItemToObject(fn, "parameters", schema);
		}
	}
	return CP_OK;
}

/* tool_choice in Chat's spelling, or NULL for unset. */
static cJSON *
chat_enc_tool_choice(const struct pv_request *r)
{
	static const char *const names[] = {
		[PV_TC_AUTO] = "auto", [PV_TC_NONE] = "none", [PV_TC_ANY] = "required",
	};
	cJSON *o, *fn;

	switch (r->tool_choice) {
	case PV_TC_UNSET:
		return NULL;
	case PV_TC_TOOL:
		if ((o = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(o, "type", "function") == NULL ||
		    (fn = cJSON_AddObjectToObject(o, "function")) == NULL ||
		    cJSON_AddStringToObject(fn, "name", r->tool_choice_name) == NULL) {
			cJSON_Delete(o);
			return NULL;
		}
		return o;
	default:
		return cJSON_CreateString(names[r->tool_choice]);
	}
}

/* The request as it is (encode_request renames tools first). */
static int
chat_encode_named(const struct pv_request *r, cJSON **out)
{
	cJSON *root, *msgs, *o, *arr;
	enum pv_effort eff;
	size_t i;
	int rc = CP_ENOMEM;

	*out = NULL;
	if ((root = cJSON_CreateObject()) == NULL)
		return CP_ENOMEM;
	if (cJSON_AddStringToObject(root, "model", r->model != NULL ? r->model : "") == NULL ||
	    (msgs = cJSON_AddArrayToObject(root, "messages")) == NULL)
		goto out;
	if (r->system != NULL) {
		if ((o = cJSON_CreateObject()) == NULL)
			goto out;
		cJSON_AddItemToArray(msgs, o);
		if (cJSON_AddStringToObject(o, "role", "system") == NULL ||
		    cJSON_AddStringToObject(o, "content", r->system) == NULL)
			goto out;
	}
	for (i = 0; i < r->n_msgs; i++) {
		const struct pv_msg *m = &r->msgs[i];

		/* Tool messages must follow the assistant's tool_calls at
		 * once, so a user turn's results go before its text. */
		if (m->role == PV_USER)
			rc = chat_enc_results(m, msgs) == CP_OK ? chat_enc_user(m, msgs) : CP_ENOMEM;
		else
			rc = chat_enc_assistant(m, msgs);
		if (rc != CP_OK)
			goto out;
	}
	rc = CP_ENOMEM;
	if (oa_enc_tools(r, root, true) != CP_OK)
		goto out;
	if ((o = chat_enc_tool_choice(r)) != NULL)
		cJSON_AddItemToObject(root, "tool_choice", o);
	else if (r->tool_choice != PV_TC_UNSET)
		goto out;
	if (r->parallel_tools_off && r->n_tools > 0 &&
	    cJSON_AddFalseToObject(root, "parallel_tool_calls") == NULL)
		goto out;
	/* OpenAI's reasoning models take only max_completion_tokens; most
	 * compatible servers know only max_tokens. A request for such a
	 * model or with a reasoning effort is for the former. */
	eff = oa_effort_of(r);
	if (r->max_tokens >= 0 && cJSON_AddNumberToObject(root,
	    eff != PV_EFFORT_UNSET || oa_reasoning_model(r->model) ?
	    "max_completion_tokens" : "max_tokens", (double)r->max_tokens) == NULL)
		goto out;
	if (oa_enc_sampling(r, root) != CP_OK)
		goto out;
	if (r->n_stop > 0) {
		if ((arr = cJSON_CreateStringArray((const char *const *)r->stop,
		    (int)r->n_stop)) == NULL)
			goto out;
		cJSON_AddItemToObject(root, "stop", arr);
	}
	if (eff != PV_EFFORT_UNSET &&
	    cJSON_AddStringToObject(root, "reasoning_effort", oa_effort_name(eff)) == NULL)
		goto out;
	if (r->top_k >= 0)
		log_debug("openai-chat: dropping top_k (no Chat form)");
	if (oa_enc_user(r, root) != CP_OK)
		goto out;
	if (cJSON_AddBoolToObject(root, "stream", r->stream) == NULL)
		goto out;
	/* Usage is what every client format reports at the end: ask for it
	 * whatever the client asked (its own encoder decides what it sees). */
	if (r->stream && ((o = cJSON_AddObjectToObject(root, "stream_options")) == NULL ||
	    cJSON_AddTrueToObject(o, "include_usage") == NULL))
		goto out;
	*out = root;
	root = NULL;
	rc = CP_OK;
out:
	cJSON_Delete(root);
	return rc;
}

static int
chat_encode_request(const struct pv_request *r, cJSON **out)
{
	return pv_encode_named(r, FMT_OPENAI_CHAT, chat_encode_named, out);
}

/* ================================================== upstream decoder */

struct pv_dec {
	struct oa_io io;         /* bytes in, callback */
	bool started;            /* START emitted */
	bool done;               /* [DONE] seen or STOP emitted */
	bool have_stop;          /* a finish_reason was seen */
	enum pv_stop stop;       /* ... and what it said */
	int n_calls;             /* tool calls started */
	int up_index[OA_CALLS_MAX]; /* upstream "index" of each call */
	bool open[OA_CALLS_MAX]; /* started and not ended */
	char last_id[OA_ID_MAX]; /* id of the last call started (truncated) */
};

static int
dec_ev(struct pv_dec *d, enum pv_ev_kind kind, const char *text, size_t len)
{
	struct pv_event ev = { .kind = kind, .text = text, .len = len };

	return d->io.emit(&ev, d->io.arg);
}

static enum pv_stop
chat_stop_of(const char *fr)
{
	static const struct { const char *s; enum pv_stop st; } tab[] = {
		{ "stop", PV_STOP_END }, { "length", PV_STOP_MAX_TOKENS },
		{ "tool_calls", PV_STOP_TOOL }, { "function_call", PV_STOP_TOOL },
		{ "content_filter", PV_STOP_FILTER },
	};
	size_t i;

	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(fr, tab[i].s) == 0)
			return tab[i].st;
	return PV_STOP_END;
}

static int
dec_start(struct pv_dec *d, const cJSON *o)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(o, "model");
	struct pv_event ev = { .kind = PV_EV_START };

	if (d->started)
		return CP_OK;
	d->started = true;
	ev.id = cJSON_IsString(id) ? id->valuestring : "";
	ev.model = cJSON_IsString(model) ? model->valuestring : "";
	return d->io.emit(&ev, d->io.arg);
}

static int
dec_end_calls(struct pv_dec *d)
{
	int i, rc;

	for (i = 0; i < d->n_calls; i++)
		if (d->open[i]) {
			struct pv_event ev = { .kind = PV_EV_TOOL_END, .index = i };

			d->open[i] = false;
			if ((rc = d->io.emit(&ev, d->io.arg)) != CP_OK)
				return rc;
		}
	return CP_OK;
}

/* One tool call of a delta (stream) or a message (pos: its position). */
static int
dec_tool_call(struct pv_dec *d, const cJSON *tc, int pos)
{
	const cJSON *idx = cJSON_GetObjectItemCaseSensitive(tc, "index");
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
	const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
	bool has_id = cJSON_IsString(id) && id->valuestring[0] != '\0';
	int up = cJSON_IsNumber(idx) ? (int)idx->valuedouble : pos, i, rc;
	char made[OA_ID_MAX];

	if (!cJSON_IsObject(tc))
		return CP_EPARSE;
	/* Only a call's first chunk has its id. Some compatible servers
	 * stream calls without "index" (each chunk a whole call) or with
	 * index 0 for every call: an id other than the last call's is a new
	 * call whatever its index, a chunk without an index continues the
	 * last call. */
	if (d->io.stream && !cJSON_IsNumber(idx))
		up = d->n_calls > 0 ? d->up_index[d->n_calls - 1] : 0;
	for (i = d->n_calls; i-- > 0;)
		if (d->up_index[i] == up)
			break;
	if (i < 0 || (has_id && strncmp(id->valuestring, d->last_id,
	    sizeof(d->last_id) - 1) != 0))
		i = d->n_calls;
	if (i == d->n_calls) {
		struct pv_event ev = { .kind = PV_EV_TOOL_START };

		if (d->n_calls >= OA_CALLS_MAX)
			return CP_ETOOBIG;
		/* Calls stream one after the other: a new index ends the
		 * ones before, so that encoders can close their blocks. */
		if ((rc = dec_end_calls(d)) != CP_OK)
			return rc;
		d->up_index[i] = up;
		d->open[i] = true;
		d->n_calls++;
		ev.index = i;
		if (has_id) {
			ev.id = id->valuestring;
		} else {
			snprintf(made, sizeof(made), "call_%d", i);
			ev.id = made;
		}
		snprintf(d->last_id, sizeof(d->last_id), "%s", ev.id);
		ev.name = cJSON_IsString(name) ? name->valuestring : "";
		if ((rc = d->io.emit(&ev, d->io.arg)) != CP_OK)
			return rc;
	}
	if (cJSON_IsString(args) && args->valuestring[0] != '\0') {
		struct pv_event ev = { .kind = PV_EV_TOOL_ARGS, .index = i };

		ev.text = args->valuestring;
		ev.len = strlen(args->valuestring);
		return d->io.emit(&ev, d->io.arg);
	}
	return CP_OK;
}

/* Text, reasoning and tool calls of a stream delta or an answer message. */
static int
dec_delta(struct pv_dec *d, const cJSON *delta)
{
	static const struct { const char *key; enum pv_ev_kind k; } tab[] = {
		/* "reasoning" is OpenRouter's spelling of reasoning_content */
		{ "reasoning_content", PV_EV_THINKING }, { "reasoning", PV_EV_THINKING },
		{ "content", PV_EV_TEXT }, { "refusal", PV_EV_TEXT },
	};
	const cJSON *v, *tc;
	size_t i;
	int pos = 0, rc;

	if (!cJSON_IsObject(delta))
		return CP_OK;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		v = cJSON_GetObjectItemCaseSensitive(delta, tab[i].key);
		if (cJSON_IsString(v) && v->valuestring[0] != '\0' &&
		    (rc = dec_ev(d, tab[i].k, v->valuestring, strlen(v->valuestring))) != CP_OK)
			return rc;
	}
	v = cJSON_GetObjectItemCaseSensitive(delta, "tool_calls");
	if (!cJSON_IsArray(v))
		return CP_OK;
	cJSON_ArrayForEach(tc, v) {
		if ((rc = dec_tool_call(d, tc, pos++)) != CP_OK)
			return rc;
	}
	return CP_OK;
}

static int
dec_error(struct pv_dec *d, const cJSON *e)
{
	struct pv_event ev = { .kind = PV_EV_ERROR, .status = 500 };
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	char msg[1024];

	oa_error_message(e, msg, sizeof(msg));
	if (msg[0] == '\0')
		snprintf(msg, sizeof(msg), "upstream error");
	if (cJSON_IsNumber(code) && code->valuedouble >= 400 && code->valuedouble < 600)
		ev.status = (int)code->valuedouble;
	ev.text = msg;
	ev.len = strlen(msg);
	d->done = true;
	return d->io.emit(&ev, d->io.arg);
}

/* One chunk (stream) or the whole answer (JSON). */
static int
dec_object(struct pv_dec *d, const cJSON *o)
{
	const cJSON *choices, *ch, *fr, *u, *e;
	int rc;

	if (!cJSON_IsObject(o))
		return CP_EPARSE;
	if ((e = oa_member(o, "error")) != NULL)
		return dec_error(d, e);
	if ((rc = dec_start(d, o)) != CP_OK)
		return rc;
	choices = cJSON_GetObjectItemCaseSensitive(o, "choices");
	if (!cJSON_IsArray(choices))
		choices = NULL;
	cJSON_ArrayForEach(ch, choices) {
		const cJSON *idx = cJSON_GetObjectItemCaseSensitive(ch, "index");

		/* One choice is all the pivot has (n > 1 is refused). */
		if (cJSON_IsNumber(idx) && idx->valuedouble != 0)
			continue;
		if ((rc = dec_delta(d, cJSON_GetObjectItemCaseSensitive(ch,
		    d->io.stream ? "delta" : "message"))) != CP_OK)
			return rc;
		fr = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
		if (cJSON_IsString(fr)) {
			d->have_stop = true;
			d->stop = chat_stop_of(fr->valuestring);
			if ((rc = dec_end_calls(d)) != CP_OK)
				return rc;
		}
	}
	u = oa_member(o, "usage");
	if (cJSON_IsObject(u)) {
		struct pv_event ev = { .kind = PV_EV_USAGE };

		oa_usage_read(u, false, &ev.usage);
		if ((rc = d->io.emit(&ev, d->io.arg)) != CP_OK)
			return rc;
	}
	return CP_OK;
}

/* The end of the answer: open calls end, then the stop reason. */
static int
dec_stop(struct pv_dec *d)
{
	struct pv_event ev = { .kind = PV_EV_STOP };
	int rc;

	if (d->done)
		return CP_OK;
	d->done = true;
	if ((rc = dec_end_calls(d)) != CP_OK)
		return rc;
	ev.stop = d->have_stop ? d->stop : PV_STOP_END;
	return d->io.emit(&ev, d->io.arg);
}

static int
dec_sse_cb(const struct sse_event *sev, void *arg)
{
	struct pv_dec *d = arg;
	cJSON *o = NULL;
	int rc;

	if (d->done)
		return CP_OK;
	if (sev->data_len == 6 && memcmp(sev->data, "[DONE]", 6) == 0)
		return dec_stop(d);
	if (sev->data_len == 0)
		return CP_OK;
	if ((o = cJSON_ParseWithLength(sev->data, sev->data_len)) == NULL)
		return CP_EPARSE;
	rc = dec_object(d, o);
	cJSON_Delete(o);
	return rc;
}

static struct pv_dec *
chat_dec_new(bool stream)
{
	struct pv_dec *d = calloc(1, sizeof(*d));

	if (d != NULL)
		oa_io_init(&d->io, stream);
	return d;
}

static int
chat_dec_feed(struct pv_dec *d, const char *data, size_t len, pv_emit_fn emit, void *arg)
{
	return oa_io_feed(&d->io, data, len, emit, arg, dec_sse_cb, d);
}

static int
chat_dec_finish(struct pv_dec *d, pv_emit_fn emit, void *arg)
{
	cJSON *o = NULL;
	int rc;

	if ((rc = oa_io_finish(&d->io, emit, arg, dec_sse_cb, d, &o)) != CP_OK || d->done)
		goto out;
	if (o != NULL && (rc = dec_object(d, o)) != CP_OK)
		goto out;
	/* A stream without a finish_reason or [DONE] was cut. */
	if (d->io.stream && !d->have_stop) {
		d->done = true;
		if ((rc = dec_end_calls(d)) == CP_OK)
			rc = oa_io_cut(&d->io);
		goto out;
	}
	rc = dec_stop(d);
out:
	cJSON_Delete(o);
	return rc;
}

static void
chat_dec_free(struct pv_dec *d)
{
	if (d == NULL)
		return;
	oa_io_release(&d->io);
	free(d);
}

/* ==================================================== client encoder */

struct chat_call {           /* a tool call gathered for the answer */
	char *id;
	char *name;
	struct buf args;
};

struct pv_enc {
	struct pv_enc_opts o;    /* options (model copied) */
	char *model;             /* o.model's copy */
	char id[OA_ID_MAX];      /* chatcmpl-... */
	bool started;            /* role chunk sent (stream) */
	bool stopped;            /* finish chunk sent (stream) */
	bool failed;             /* an ERROR ended the answer */
	enum pv_stop stop;       /* last STOP */
	struct pv_usage usage;   /* last USAGE */
	bool have_usage;
	struct buf text;         /* gathered text */
	struct buf thinking;     /* gathered reasoning */
	struct chat_call *calls; /* gathered or started calls, by pivot index */
	int n_calls;
	char *err_msg;           /* ERROR text (gathered) */
	int err_status;
	size_t bytes;            /* gathered so far, at most OA_ANSWER_MAX */
};


static struct pv_enc *
chat_enc_new(const struct pv_enc_opts *o)
{
	struct pv_enc *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->o = *o;
	if ((e->model = strdup(o->model != NULL ? o->model : "")) == NULL) {
		free(e);
		return NULL;
	}
	e->o.model = e->model;
	buf_init(&e->text, OA_ANSWER_MAX);
	buf_init(&e->thinking, OA_ANSWER_MAX);
	oa_make_id(e->id, "chatcmpl-", "", -1);
	return e;
}

static void
chat_enc_free(struct pv_enc *e)
{
	int i;

	if (e == NULL)
		return;
	for (i = 0; i < e->n_calls; i++) {
		free(e->calls[i].id);
		free(e->calls[i].name);
		buf_release(&e->calls[i].args);
	}
	free(e->calls);
	buf_release(&e->text);
	buf_release(&e->thinking);
	free(e->err_msg);
	free(e->model);
	free(e);
}

static const char *
chat_finish_reason(const struct pv_enc *e)
{
	switch (e->stop) {
	case PV_STOP_MAX_TOKENS: return "length";
	case PV_STOP_TOOL: return "tool_calls";
	case PV_STOP_FILTER: return "content_filter";
	default:
		/* Some upstreams (Gemini) end a tool turn with a plain stop;
		 * Chat clients loop on "tool_calls". */
		return e->n_calls > 0 ? "tool_calls" : "stop";
	}
}

/* A chat.completion.chunk with one choice holding delta (taken over) and
 * finish_reason (or null), appended as an SSE event. */
static int
chat_chunk(struct pv_enc *e, cJSON *delta, const char *finish, struct buf *out)
{
	cJSON *o, *choices, *ch;
	int rc = CP_ENOMEM;

	if ((o = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(delta);
		return CP_ENOMEM;
	}
	if (cJSON_AddStringToObject(o, "id", e->id) == NULL ||
	    cJSON_AddStringToObject(o, "object", "chat.completion.chunk") == NULL ||
	    cJSON_AddNumberToObject(o, "created", (double)e->o.created) == NULL ||
	    cJSON_AddStringToObject(o, "model", e->model) == NULL ||
	    (choices = cJSON_AddArrayToObject(o, "choices")) == NULL) {
		cJSON_Delete(delta);
		goto out;
	}
	if (delta != NULL) {
		if ((ch = cJSON_CreateObject()) == NULL) {
			cJSON_Delete(delta);
			goto out;
		}
		cJSON_AddItemToArray(choices, ch);
		if (cJSON_AddNumberToObject(ch, "index", 0) == NULL) {
			cJSON_Delete(delta);
			goto out;
		}
		cJSON_AddItemToObject(ch, "delta", delta);
		if (cJSON_AddNullToObject(ch, "logprobs") == NULL ||
		    (finish != NULL ? cJSON_AddStringToObject(ch, "finish_reason", finish) :
		    cJSON_AddNullToObject(ch, "finish_reason")) == NULL)
			goto out;
		/* With include_usage every chunk but the last says usage null. */
		if (e->o.include_usage && cJSON_AddNullToObject(o, "usage") == NULL)
			goto out;
	} else {
		cJSON *u = oa_usage_json(&e->usage, false);

		if (u == NULL)
			goto out;
		cJSON_AddItemToObject(o, "usage", u);
	}
	rc = oa_sse_json(out, NULL, o);
out:
	cJSON_Delete(o);
	return rc;
}

/* {"content": s} or {"reasoning_content": s} of len bytes. */
static cJSON *
chat_text_delta(const char *key, const char *s, size_t len)
{
	cJSON *d = cJSON_CreateObject();
	char *t = pv_strndup(s != NULL ? s : "", s != NULL ? len : 0);

	if (d == NULL || t == NULL || cJSON_AddStringToObject(d, key, t) == NULL) {
		cJSON_Delete(d);
		d = NULL;
	}
	free(t);
	return d;
}

static cJSON *
chat_call_delta(const struct pv_event *ev, bool first)
{
	cJSON *d = cJSON_CreateObject(), *arr, *tc, *fn;
	char *args = NULL;

	if (d == NULL || (arr = cJSON_AddArrayToObject(d, "tool_calls")) == NULL ||
	    (tc = cJSON_CreateObject()) == NULL)
		goto fail;
	cJSON_AddItemToArray(arr, tc);
	if (cJSON_AddNumberToObject(tc, "index", ev->index) == NULL)
		goto fail;
	if (first && (cJSON_AddStringToObject(tc, "id", ev->id != NULL ? ev->id : "") == NULL ||
	    cJSON_AddStringToObject(tc, "type", "function") == NULL))
		goto fail;
	if ((fn = cJSON_AddObjectToObject(tc, "function")) == NULL)
		goto fail;
	if (first && cJSON_AddStringToObject(fn, "name", ev->name != NULL ? ev->name : "") == NULL)
		goto fail;
	if ((args = pv_strndup(first ? "" : ev->text != NULL ? ev->text : "",
	    first ? 0 : ev->len)) == NULL ||
	    cJSON_AddStringToObject(fn, "arguments", args) == NULL)
		goto fail;
	free(args);
	return d;
fail:
	free(args);
	cJSON_Delete(d);
	return NULL;
}

static int
chat_enc_call(struct pv_enc *e, const struct pv_event *ev)
{
	struct chat_call *c;
	char made[OA_ID_MAX];

	if (ev->index != e->n_calls || e->n_calls >= OA_CALLS_MAX)
		return CP_EINVAL; /* calls start in order, from 0 */
	c = realloc(e->calls, (size_t)(e->n_calls + 1) * sizeof(*c));
	if (c == NULL)
		return CP_ENOMEM;
	e->calls = c;
	c = &e->calls[e->n_calls];
	memset(c, 0, sizeof(*c));
	buf_init(&c->args, OA_ANSWER_MAX);
	e->n_calls++;
	if (ev->id == NULL || ev->id[0] == '\0')
		oa_make_id(made, "call_", e->id, ev->index);
	if ((c->id = strdup(ev->id != NULL && ev->id[0] != '\0' ? ev->id : made)) == NULL ||
	    (c->name = strdup(ev->name != NULL ? ev->name : "")) == NULL)
		return CP_ENOMEM;
	return CP_OK;
}

static int
chat_enc_event(struct pv_enc *e, const struct pv_event *ev, struct buf *out)
{
	struct pv_event tmp;
	cJSON *delta;

	if (e->failed)
		return CP_OK;
	if (ev->kind == PV_EV_START) {
		oa_make_id(e->id, "chatcmpl-", ev->id, -1);
		if (!e->o.stream || e->started)
			return CP_OK;
		e->started = true;
		/* The first chunk carries the role (and empty content), as
		 * OpenAI's does. */
		if ((delta = cJSON_CreateObject()) == NULL ||
		    cJSON_AddStringToObject(delta, "role", "assistant") == NULL ||
		    cJSON_AddStringToObject(delta, "content", "") == NULL) {
			cJSON_Delete(delta);
			return CP_ENOMEM;
		}
		return chat_chunk(e, delta, NULL, out);
	}
	if (e->o.stream && !e->started && ev->kind != PV_EV_ERROR) {
		struct pv_event st = { .kind = PV_EV_START };
		int rc;

		if ((rc = chat_enc_event(e, &st, out)) != CP_OK)
			return rc;
	}
	switch (ev->kind) {
	case PV_EV_TEXT:
	case PV_EV_THINKING:
		if (!e->o.stream)
			return oa_keep(&e->bytes, ev->kind == PV_EV_TEXT ? &e->text : &e->thinking,
			    ev->text, ev->len);
		if (ev->len == 0)
			return CP_OK;
		delta = chat_text_delta(ev->kind == PV_EV_TEXT ? "content" : "reasoning_content",
		    ev->text, ev->len);
		return delta != NULL ? chat_chunk(e, delta, NULL, out) : CP_ENOMEM;
	case PV_EV_THINKING_SIG:
		/* Chat cannot carry a reasoning signature back. */
		return CP_OK;
	case PV_EV_TOOL_START: {
		int rc = chat_enc_call(e, ev);

		if (rc != CP_OK || !e->o.stream)
			return rc;
		tmp = *ev;
		tmp.id = e->calls[ev->index].id;
		delta = chat_call_delta(&tmp, true);
		return delta != NULL ? chat_chunk(e, delta, NULL, out) : CP_ENOMEM;
	}
	case PV_EV_TOOL_ARGS:
		if (ev->index < 0 || ev->index >= e->n_calls)
			return CP_EINVAL;
		if (!e->o.stream)
			return oa_keep(&e->bytes, &e->calls[ev->index].args, ev->text, ev->len);
		if (ev->len == 0)
			return CP_OK;
		delta = chat_call_delta(ev, false);
		return delta != NULL ? chat_chunk(e, delta, NULL, out) : CP_ENOMEM;
	case PV_EV_TOOL_END:
		return CP_OK;
	case PV_EV_USAGE:
		e->usage = ev->usage;
		e->have_usage = true;
		return CP_OK;
	case PV_EV_STOP:
		e->stop = ev->stop;
		if (!e->o.stream || e->stopped)
			return CP_OK;
		e->stopped = true;
		if ((delta = cJSON_CreateObject()) == NULL)
			return CP_ENOMEM;
		return chat_chunk(e, delta, chat_finish_reason(e), out);
	case PV_EV_ERROR:
		e->failed = true;
		e->err_status = ev->status;
		if ((e->err_msg = pv_strndup(ev->text != NULL ? ev->text : "", ev->text != NULL ?
		    ev->len : 0)) == NULL)
			return CP_ENOMEM;
		if (!e->o.stream)
			return CP_OK;
		/* OpenAI reports a failure inside a stream as a data event
		 * holding its error object; no [DONE] follows. */
		if (buf_appends(out, "data: ") != CP_OK)
			return CP_ENOMEM;
		return oa_error_append(out, ev->status, e->err_msg, "\n\n");
	default:
		return CP_OK;
	}
}

static int
chat_enc_gathered(struct pv_enc *e, struct buf *out)
{
	cJSON *o, *choices, *ch, *msg, *tcs, *tc, *fn, *u;
	int i, rc = CP_ENOMEM;

	if ((o = cJSON_CreateObject()) == NULL)
		return CP_ENOMEM;
	if (cJSON_AddStringToObject(o, "id", e->id) == NULL ||
	    cJSON_AddStringToObject(o, "object", "chat.completion") == NULL ||
	    cJSON_AddNumberToObject(o, "created", (double)e->o.created) == NULL ||
	    cJSON_AddStringToObject(o, "model", e->model) == NULL ||
	    (choices = cJSON_AddArrayToObject(o, "choices")) == NULL ||
	    (ch = cJSON_CreateObject()) == NULL)
		goto out;
	cJSON_AddItemToArray(choices, ch);
	if (cJSON_AddNumberToObject(ch, "index", 0) == NULL ||
	    (msg = cJSON_AddObjectToObject(ch, "message")) == NULL ||
	    cJSON_AddStringToObject(msg, "role", "assistant") == NULL)
		goto out;
	if (e->text.len > 0 || e->n_calls == 0) {
		if (cJSON_AddStringToObject(msg, "content", e->text.p != NULL ? e->text.p : "") == NULL)
			goto out;
	} else if (cJSON_AddNullToObject(msg, "content") == NULL)
		goto out;
	if (e->thinking.len > 0 &&
	    cJSON_AddStringToObject(msg, "reasoning_content", e->thinking.p) == NULL)
		goto out;
	if (cJSON_AddNullToObject(msg, "refusal") == NULL)
		goto out;
	if (e->n_calls > 0) {
		if ((tcs = cJSON_AddArrayToObject(msg, "tool_calls")) == NULL)
			goto out;
		for (i = 0; i < e->n_calls; i++) {
			if ((tc = cJSON_CreateObject()) == NULL)
				goto out;
			cJSON_AddItemToArray(tcs, tc);
			if (cJSON_AddStringToObject(tc, "id", e->calls[i].id) == NULL ||
			    cJSON_AddStringToObject(tc, "type", "function") == NULL ||
			    (fn = cJSON_AddObjectToObject(tc, "function")) == NULL ||
			    cJSON_AddStringToObject(fn, "name", e->calls[i].name) == NULL ||
			    cJSON_AddStringToObject(fn, "arguments", e->calls[i].args.len > 0 ?
			    e->calls[i].args.p : "{}") == NULL)
				goto out;
		}
	}
	if (cJSON_AddNullToObject(ch, "logprobs") == NULL ||
	    cJSON_AddStringToObject(ch, "finish_reason", chat_finish_reason(e)) == NULL ||
	    (u = oa_usage_json(&e->usage, false)) == NULL)
		goto out;
	cJSON_AddItemToObject(o, "usage", u);
	rc = oa_put_json(out, o);
out:
	cJSON_Delete(o);
	return rc;
}

static int
chat_enc_finish(struct pv_enc *e, struct buf *out)
{
	cJSON *delta;
	int rc;

	if (!e->o.stream) {
		if (e->failed)
			return oa_error_append(out, e->err_status, e->err_msg, "");
		return chat_enc_gathered(e, out);
	}
	if (e->failed)
		return CP_OK;
	if (!e->started) {
		struct pv_event st = { .kind = PV_EV_START };

		if ((rc = chat_enc_event(e, &st, out)) != CP_OK)
			return rc;
	}
	if (!e->stopped) {
		e->stopped = true;
		if ((delta = cJSON_CreateObject()) == NULL)
			return CP_ENOMEM;
		if ((rc = chat_chunk(e, delta, chat_finish_reason(e), out)) != CP_OK)
			return rc;
	}
	if (e->o.include_usage && (rc = chat_chunk(e, NULL, NULL, out)) != CP_OK)
		return rc;
	return buf_appends(out, "data: [DONE]\n\n");
}

const char *
oa_content_type(const struct pv_enc_opts *o)
{
	return o->stream ? "text/event-stream" : "application/json";
}

const struct codec codec_openai_chat = {
	.id = FMT_OPENAI_CHAT,
	.name = "openai-chat",
	.request_model = pv_body_request_model,
	.set_model = pv_body_set_model,
	.decode_request = chat_decode_request,
	.encode_request = chat_encode_request,
	.dec_new = chat_dec_new,
	.dec_feed = chat_dec_feed,
	.dec_finish = chat_dec_finish,
	.dec_free = chat_dec_free,
	.enc_new = chat_enc_new,
	.enc_event = chat_enc_event,
	.enc_finish = chat_enc_finish,
	.enc_free = chat_enc_free,
	.content_type = oa_content_type,
	.error_body = fmt_openai_error,
	.decode_error = oa_decode_error,
	.models_body = oa_models_body,
};

/* Legacy Completions: passthrough only (no pivot form for a bare prompt
 * answer); the translation members stay NULL. */
const struct codec codec_openai_completions = {
	.id = FMT_OPENAI_COMPLETIONS,
	.name = "openai-completions",
	.request_model = pv_body_request_model,
	.set_model = pv_body_set_model,
	.content_type = oa_content_type,
	.error_body = fmt_openai_error,
	.decode_error = oa_decode_error,
	.models_body = oa_models_body,
};
