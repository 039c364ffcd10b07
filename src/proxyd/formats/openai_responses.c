/*
 * openai_responses.c - the OpenAI Responses API codec (POST /v1/responses;
 * DESIGN 6 "Formats are translated through one pivot", formats/pivot.h).
 *
 * Shapes follow the OpenAI API reference for Responses: a request of
 * instructions + input items (message, function_call,
 * function_call_output, reasoning), the response object with its output
 * items, and the streaming events from response.created to
 * response.completed, each with a sequence_number. Reasoning travels as
 * reasoning items: the summary is the pivot's thinking text and
 * encrypted_content its signature.
 *
 * Requests we send upstream are stateless (store: false) and ask for
 * reasoning.encrypted_content, as Codex does, so that reasoning can go back
 * on the next turn without server-side state.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd.h"
#include "formats/openai.h"

#define OA_TEMP_MAX 2.0      /* temperature in [0, 2] */

/* ================================================== request decode */

/* The message (or assistant-side item) of r that the next part of role
 * goes to: the last message when it has that role, else a new one. The
 * Responses input is a flat item list; the pivot groups a turn's items. */
static struct pv_msg *
rs_turn(struct pv_request *r, enum pv_role role)
{
	if (r->n_msgs > 0 && r->msgs[r->n_msgs - 1].role == role)
		return &r->msgs[r->n_msgs - 1];
	return pv_msg_add(r, role);
}

/* A text of a content part into a new part of m. */
static int
rs_add_text(struct pv_msg *m, enum pv_part_kind kind, const char *s)
{
	struct pv_part *p = pv_part_add(m, kind);

	if (p == NULL || (p->text = strdup(s)) == NULL)
		return CP_ENOMEM;
	return CP_OK;
}

/* A message item's content: a string or an array of parts. System and
 * developer text is joined into r->system. */
static int
rs_message(struct pv_request *r, const cJSON *item, size_t ii, char *err, size_t errlen)
{
	const cJSON *role = cJSON_GetObjectItemCaseSensitive(item, "role");
	const cJSON *content = cJSON_GetObjectItemCaseSensitive(item, "content");
	const cJSON *c;
	bool sys, user;
	struct buf sysb;
	struct pv_msg *m = NULL;
	size_t k = 0;
	int rc = CP_EINVAL;

	buf_init(&sysb, CP_BODY_MAX);
	if (!cJSON_IsString(role) || (!cJSON_IsString(content) && !cJSON_IsArray(content))) {
		cp_seterr(err, errlen, "input[%zu] needs a role and a content (string or array)", ii);
		goto out;
	}
	sys = strcmp(role->valuestring, "system") == 0 ||
	    strcmp(role->valuestring, "developer") == 0;
	user = strcmp(role->valuestring, "user") == 0;
	if (!sys && !user && strcmp(role->valuestring, "assistant") != 0) {
		cp_seterr(err, errlen, "input[%zu].role '%.40s' is not supported", ii,
		    role->valuestring);
		goto out;
	}
	if (sys && r->system != NULL && buf_appends(&sysb, r->system) != CP_OK)
		goto nomem;
	if (!sys && (m = rs_turn(r, user ? PV_USER : PV_ASSISTANT)) == NULL)
		goto nomem;
	if (cJSON_IsString(content)) {
		if (sys) {
			if ((sysb.len > 0 && buf_appends(&sysb, "\n\n") != CP_OK) ||
			    buf_appends(&sysb, content->valuestring) != CP_OK)
				goto nomem;
		} else if (rs_add_text(m, PV_TEXT, content->valuestring) != CP_OK)
			goto nomem;
	}
	if (!cJSON_IsArray(content))
		content = NULL;
	cJSON_ArrayForEach(c, content) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(c, "type");
		const char *t;
		const cJSON *v;

		if (!cJSON_IsObject(c) || !cJSON_IsString(type)) {
			cp_seterr(err, errlen, "input[%zu].content[%zu] must be an object with a 'type'",
			    ii, k);
			goto out;
		}
		t = type->valuestring;
		if (strcmp(t, "input_text") == 0 || strcmp(t, "output_text") == 0 ||
		    strcmp(t, "refusal") == 0) {
			v = cJSON_GetObjectItemCaseSensitive(c, t[0] == 'r' ? "refusal" : "text");
			if (!cJSON_IsString(v)) {
				cp_seterr(err, errlen, "input[%zu].content[%zu] has no text", ii, k);
				goto out;
			}
			if (sys) {
				if ((sysb.len > 0 && buf_appends(&sysb, "\n\n") != CP_OK) ||
				    buf_appends(&sysb, v->valuestring) != CP_OK)
					goto nomem;
			} else if (rs_add_text(m, PV_TEXT, v->valuestring) != CP_OK)
				goto nomem;
		} else if (strcmp(t, "input_image") == 0 && user) {
			struct pv_part *p;

			v = oa_member(c, "image_url");
			if (!cJSON_IsString(v)) {
				/* A file_id points into OpenAI's storage, which
				 * other upstreams cannot read. */
				cp_seterr(err, errlen, "input[%zu].content[%zu]: only input_image "
				    "with image_url can be translated", ii, k);
				goto out;
			}
			if ((p = pv_part_add(m, PV_IMAGE)) == NULL)
				goto nomem;
			if ((rc = oa_image_from_url(v->valuestring, p, err, errlen)) != CP_OK)
				goto out;
			rc = CP_EINVAL;
		} else if (strcmp(t, "input_file") == 0 || strcmp(t, "input_audio") == 0) {
			log_debug("openai-responses: dropping an '%s' content part (no pivot form)", t);
		} else {
			cp_seterr(err, errlen, "input[%zu].content[%zu]: unsupported type '%.40s'",
			    ii, k, t);
			goto out;
		}
		k++;
	}
	if (sys) {
		if (buf_append(&sysb, "", 0) != CP_OK)
			goto nomem;
		free(r->system);
		r->system = buf_steal(&sysb, NULL);
	}
	rc = CP_OK;
	goto out;
nomem:
	rc = CP_ENOMEM;
out:
	buf_release(&sysb);
	return rc;
}

static int
rs_function_call(struct pv_request *r, const cJSON *item, size_t ii, char *err, size_t errlen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "call_id");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(item, "arguments");
	struct pv_msg *m;
	struct pv_part *p;

	if (!cJSON_IsString(id) || !cJSON_IsString(name) || !cJSON_IsString(args)) {
		cp_seterr(err, errlen, "input[%zu] (function_call) needs call_id, name and "
		    "arguments (strings)", ii);
		return CP_EINVAL;
	}
	if ((m = rs_turn(r, PV_ASSISTANT)) == NULL || (p = pv_part_add(m, PV_TOOL_CALL)) == NULL ||
	    (p->id = strdup(id->valuestring)) == NULL ||
	    (p->name = strdup(name->valuestring)) == NULL ||
	    (p->args = strdup(args->valuestring[0] != '\0' ? args->valuestring : "{}")) == NULL)
		return CP_ENOMEM;
	return CP_OK;
}

static int
rs_function_output(struct pv_request *r, const cJSON *item, size_t ii, size_t *hint,
    char *err, size_t errlen)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(item, "call_id");
	const cJSON *output = cJSON_GetObjectItemCaseSensitive(item, "output");
	const cJSON *c;
	const char *name;
	struct pv_msg *m;
	struct pv_part *p;
	struct buf b;
	int rc = CP_ENOMEM;

	if (!cJSON_IsString(id) || (!cJSON_IsString(output) && !cJSON_IsArray(output))) {
		cp_seterr(err, errlen, "input[%zu] (function_call_output) needs call_id and "
		    "output (string or array)", ii);
		return CP_EINVAL;
	}
	buf_init(&b, CP_BODY_MAX);
	if (cJSON_IsString(output) && buf_appends(&b, output->valuestring) != CP_OK)
		goto out;
	if (!cJSON_IsArray(output))
		output = NULL;
	cJSON_ArrayForEach(c, output) {
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "text");

		if (cJSON_IsString(text)) {
			if (buf_appends(&b, text->valuestring) != CP_OK)
				goto out;
		} else {
			log_debug("openai-responses: dropping a non-text part of a tool output");
		}
	}
	if (buf_append(&b, "", 0) != CP_OK)
		goto out;
	name = oa_call_name(r, id->valuestring, hint);
	if ((m = rs_turn(r, PV_USER)) == NULL || (p = pv_part_add(m, PV_TOOL_RESULT)) == NULL ||
	    (p->id = strdup(id->valuestring)) == NULL ||
	    (name != NULL && (p->name = strdup(name)) == NULL))
		goto out;
	p->text = buf_steal(&b, NULL);
	rc = CP_OK;
out:
	buf_release(&b);
	return rc;
}

/* A reasoning item: its summary texts (blank-line apart) are the thinking
 * text, encrypted_content the signature. Without encrypted_content the
 * item can go nowhere (it names server-side state), so it is dropped. */
static int
rs_reasoning(struct pv_request *r, const cJSON *item, size_t ii, char *err, size_t errlen)
{
	const cJSON *summary = oa_member(item, "summary");
	const cJSON *enc = oa_member(item, "encrypted_content");
	const cJSON *s;
	struct pv_msg *m;
	struct pv_part *p;
	struct buf b;
	int rc = CP_ENOMEM;

	if ((summary != NULL && !cJSON_IsArray(summary)) || (enc != NULL && !cJSON_IsString(enc))) {
		cp_seterr(err, errlen, "input[%zu] (reasoning): summary must be an array and "
		    "encrypted_content a string", ii);
		return CP_EINVAL;
	}
	if (enc == NULL) {
		log_debug("openai-responses: dropping a reasoning item without encrypted_content");
		return CP_OK;
	}
	buf_init(&b, CP_BODY_MAX);
	cJSON_ArrayForEach(s, summary) {
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(s, "text");

		if (!cJSON_IsString(text)) {
			cp_seterr(err, errlen, "input[%zu].summary needs text parts", ii);
			rc = CP_EINVAL;
			goto out;
		}
		if ((b.len > 0 && buf_appends(&b, "\n\n") != CP_OK) ||
		    buf_appends(&b, text->valuestring) != CP_OK)
			goto out;
	}
	if ((m = rs_turn(r, PV_ASSISTANT)) == NULL || (p = pv_part_add(m, PV_THINKING)) == NULL ||
	    (p->signature = strdup(enc->valuestring)) == NULL)
		goto out;
	if (b.len > 0)
		p->text = buf_steal(&b, NULL);
	rc = CP_OK;
out:
	buf_release(&b);
	return rc;
}

static int
rs_input(const cJSON *input, struct pv_request *r, char *err, size_t errlen)
{
	const cJSON *item;
	struct pv_msg *m;
	size_t ii = 0, hint = 0;
	int rc;

	if (cJSON_IsString(input)) {
		if ((m = pv_msg_add(r, PV_USER)) == NULL)
			return CP_ENOMEM;
		return rs_add_text(m, PV_TEXT, input->valuestring);
	}
	if (!cJSON_IsArray(input)) {
		cp_seterr(err, errlen, "'input' must be a string or an array of items");
		return CP_EINVAL;
	}
	cJSON_ArrayForEach(item, input) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
		const char *t;

		if (!cJSON_IsObject(item) || (type != NULL && !cJSON_IsString(type))) {
			cp_seterr(err, errlen, "input[%zu] must be an object", ii);
			return CP_EINVAL;
		}
		/* EasyInputMessage: {role, content} without a type. */
		t = type != NULL ? type->valuestring : "message";
		if (strcmp(t, "message") == 0)
			rc = rs_message(r, item, ii, err, errlen);
		else if (strcmp(t, "function_call") == 0)
			rc = rs_function_call(r, item, ii, err, errlen);
		else if (strcmp(t, "function_call_output") == 0)
			rc = rs_function_output(r, item, ii, &hint, err, errlen);
		else if (strcmp(t, "reasoning") == 0)
			rc = rs_reasoning(r, item, ii, err, errlen);
		else if (strcmp(t, "item_reference") == 0) {
			cp_seterr(err, errlen, "input[%zu]: item_reference needs stored responses, "
			    "which this model's upstream does not have", ii);
			return CP_EINVAL;
		} else {
			log_debug("openai-responses: dropping an input item of type '%.40s'", t);
			rc = CP_OK;
		}
		if (rc != CP_OK)
			return rc;
		ii++;
	}
	return CP_OK;
}


/* Members that need OpenAI's server-side state: refused, not dropped,
 * because the answer would silently be about something else. */
static const char *const rs_refused[] = {
	"previous_response_id", "conversation", "prompt", "background",
};

/* Members with no pivot form: dropped with a debug line. */
static const char *const rs_dropped[] = {
	"store", "include", "text", "truncation", "metadata", "service_tier",
	"prompt_cache_key", "safety_identifier", "top_logprobs", "max_tool_calls",
	"stream_options",
};

static int
rs_decode_request(const cJSON *req, const char *path_model, bool path_stream,
    struct pv_request *r, char *err, size_t errlen)
{
	const cJSON *model, *v, *reasoning;
	bool par = true, store = false;
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
	for (i = 0; i < sizeof(rs_refused) / sizeof(rs_refused[0]); i++) {
		v = oa_member(req, rs_refused[i]);
		if (v != NULL && !cJSON_IsFalse(v)) {
			cp_seterr(err, errlen, "'%s' needs OpenAI's stored state and cannot be "
			    "used with this model", rs_refused[i]);
			goto out;
		}
	}
	if ((r->model = strdup(model->valuestring)) == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	if ((v = oa_member(req, "instructions")) != NULL) {
		if (!cJSON_IsString(v)) {
			cp_seterr(err, errlen, "'instructions' must be a string");
			goto out;
		}
		if ((r->system = strdup(v->valuestring)) == NULL) {
			rc = CP_ENOMEM;
			goto out;
		}
	}
	if ((v = oa_member(req, "input")) == NULL) {
		cp_seterr(err, errlen, "'input' is required");
		goto out;
	}
	if ((rc = rs_input(v, r, err, errlen)) != CP_OK ||
	    (rc = oa_tools(oa_member(req, "tools"), r, false, err, errlen)) != CP_OK ||
	    (rc = oa_tool_choice(oa_member(req, "tool_choice"), r, err, errlen)) != CP_OK ||
	    (rc = oa_number(req, "temperature", OA_TEMP_MAX, &r->temperature, err,
	    errlen)) != CP_OK ||
	    (rc = oa_number(req, "top_p", 1.0, &r->top_p, err, errlen)) != CP_OK ||
	    (rc = oa_bool(req, "stream", &r->stream, err, errlen)) != CP_OK ||
	    (rc = oa_bool(req, "store", &store, err, errlen)) != CP_OK ||
	    (rc = oa_bool(req, "parallel_tool_calls", &par, err, errlen)) != CP_OK)
		goto out;
	rc = CP_EINVAL;
	r->parallel_tools_off = !par && r->n_tools > 0;
	/* A stream reports usage in response.completed, always. */
	r->include_usage = r->stream;
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
	if ((v = oa_member(req, "max_output_tokens")) != NULL &&
	    json_item_int(v, 1, INT32_MAX, &r->max_tokens) != CP_OK) {
		cp_seterr(err, errlen, "'max_output_tokens' must be a positive integer");
		goto out;
	}
	if ((reasoning = oa_member(req, "reasoning")) != NULL) {
		if (!cJSON_IsObject(reasoning)) {
			cp_seterr(err, errlen, "'reasoning' must be an object");
			goto out;
		}
		v = oa_member(reasoning, "effort");
		if (v != NULL && (!cJSON_IsString(v) ||
		    oa_effort_parse(v->valuestring, &r->effort) != CP_OK)) {
			cp_seterr(err, errlen, "'reasoning.effort' must be none, minimal, low, "
			    "medium or high");
			goto out;
		}
		/* A summary asked for is reasoning text shown to the client. */
		if ((v = oa_member(reasoning, "summary")) != NULL ||
		    (v = oa_member(reasoning, "generate_summary")) != NULL) {
			if (!cJSON_IsString(v)) {
				cp_seterr(err, errlen, "'reasoning.summary' must be a string");
				goto out;
			}
			r->want_thoughts = true;
		}
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
	for (i = 0; i < sizeof(rs_dropped) / sizeof(rs_dropped[0]); i++)
		if (oa_member(req, rs_dropped[i]) != NULL)
			log_debug("openai-responses: dropping '%s' (no pivot form)", rs_dropped[i]);
	rc = CP_OK;
out:
	if (rc != CP_OK)
		pv_request_release(r);
	return rc;
}

/* ================================================== request encode */

static cJSON *
rs_new_item(cJSON *input, const char *type)
{
	cJSON *it = cJSON_CreateObject();

	if (it == NULL)
		return NULL;
	cJSON_AddItemToArray(input, it);
	if (cJSON_AddStringToObject(it, "type", type) == NULL)
		return NULL;
	return it;
}

/* One pivot message as input items, in the parts' order: a run of text
 * and image parts is one message item; calls, results and reasoning are
 * items of their own. */
static int
rs_enc_msg(const struct pv_msg *m, cJSON *input)
{
	bool user = m->role == PV_USER;
	cJSON *content = NULL, *it, *c, *arr;
	char *url;
	size_t j;

	for (j = 0; j < m->n_parts; j++) {
		const struct pv_part *p = &m->parts[j];

		if (p->kind == PV_TEXT || (p->kind == PV_IMAGE && user)) {
			if (content == NULL) {
				if ((it = rs_new_item(input, "message")) == NULL ||
				    cJSON_AddStringToObject(it, "role", user ? "user" : "assistant") == NULL ||
				    (content = cJSON_AddArrayToObject(it, "content")) == NULL)
					return CP_ENOMEM;
			}
			if ((c = cJSON_CreateObject()) == NULL)
				return CP_ENOMEM;
			cJSON_AddItemToArray(content, c);
			if (p->kind == PV_TEXT) {
				if (cJSON_AddStringToObject(c, "type", user ? "input_text" :
				    "output_text") == NULL ||
				    cJSON_AddStringToObject(c, "text", p->text != NULL ? p->text : "") == NULL ||
				    (!user && cJSON_AddArrayToObject(c, "annotations") == NULL))
					return CP_ENOMEM;
				continue;
			}
			if ((url = oa_image_url(p)) == NULL)
				return CP_ENOMEM;
			it = cJSON_AddStringToObject(c, "image_url", url);
			free(url);
			if (it == NULL || cJSON_AddStringToObject(c, "type", "input_image") == NULL ||
			    cJSON_AddStringToObject(c, "detail", "auto") == NULL)
				return CP_ENOMEM;
			continue;
		}
		content = NULL;
		switch (p->kind) {
		case PV_TOOL_CALL:
			if ((it = rs_new_item(input, "function_call")) == NULL ||
			    cJSON_AddStringToObject(it, "call_id", p->id != NULL ? p->id : "") == NULL ||
			    cJSON_AddStringToObject(it, "name", p->name != NULL ? p->name : "") == NULL ||
			    cJSON_AddStringToObject(it, "arguments", p->args != NULL ? p->args : "{}") == NULL)
				return CP_ENOMEM;
			break;
		case PV_TOOL_RESULT:
			if (p->is_error)
				log_debug("openai-responses: tool result '%s' loses its error flag",
				    p->id != NULL ? p->id : "");
			if ((it = rs_new_item(input, "function_call_output")) == NULL ||
			    cJSON_AddStringToObject(it, "call_id", p->id != NULL ? p->id : "") == NULL ||
			    cJSON_AddStringToObject(it, "output", p->text != NULL ? p->text : "") == NULL)
				return CP_ENOMEM;
			break;
		case PV_THINKING:
			/* other families' signatures (Claude's) would make
			 * OpenAI refuse the whole request */
			if (p->redacted || !pv_sig_openai(p->signature)) {
				log_debug("openai-responses: dropping thinking without OpenAI encrypted content");
				break;
			}
			if ((it = rs_new_item(input, "reasoning")) == NULL ||
			    (arr = cJSON_AddArrayToObject(it, "summary")) == NULL)
				return CP_ENOMEM;
			if (p->text != NULL && p->text[0] != '\0') {
				if ((c = cJSON_CreateObject()) == NULL)
					return CP_ENOMEM;
				cJSON_AddItemToArray(arr, c);
				if (cJSON_AddStringToObject(c, "type", "summary_text") == NULL ||
				    cJSON_AddStringToObject(c, "text", p->text) == NULL)
					return CP_ENOMEM;
			}
			if (cJSON_AddStringToObject(it, "encrypted_content", p->signature) == NULL)
				return CP_ENOMEM;
			break;
		default:
			log_debug("openai-responses: dropping an image in an assistant turn");
			break;
		}
	}
	return CP_OK;
}


static bool
rs_has_sig(const struct pv_request *r)
{
	size_t i, j;

	for (i = 0; i < r->n_msgs; i++)
		for (j = 0; j < r->msgs[i].n_parts; j++)
			if (r->msgs[i].parts[j].kind == PV_THINKING &&
			    r->msgs[i].parts[j].signature != NULL)
				return true;
	return false;
}

/* The request as it is (encode_request renames tools first). */
static int
rs_encode_named(const struct pv_request *r, cJSON **out)
{
	static const char *const tc_names[] = {
		[PV_TC_AUTO] = "auto", [PV_TC_NONE] = "none", [PV_TC_ANY] = "required",
	};
	cJSON *root, *input, *o, *inc;
	enum pv_effort eff = oa_effort_of(r);
	bool thoughts = r->want_thoughts && !oa_no_reasoning(r->model);
	size_t i;
	int rc = CP_ENOMEM;

	*out = NULL;
	if ((root = cJSON_CreateObject()) == NULL)
		return CP_ENOMEM;
	if (cJSON_AddStringToObject(root, "model", r->model != NULL ? r->model : "") == NULL)
		goto out;
	if (r->system != NULL && cJSON_AddStringToObject(root, "instructions", r->system) == NULL)
		goto out;
	if ((input = cJSON_AddArrayToObject(root, "input")) == NULL)
		goto out;
	for (i = 0; i < r->n_msgs; i++)
		if (rs_enc_msg(&r->msgs[i], input) != CP_OK)
			goto out;
	if (oa_enc_tools(r, root, false) != CP_OK)
		goto out;
	if (r->tool_choice == PV_TC_TOOL) {
		if ((o = cJSON_AddObjectToObject(root, "tool_choice")) == NULL ||
		    cJSON_AddStringToObject(o, "type", "function") == NULL ||
		    cJSON_AddStringToObject(o, "name", r->tool_choice_name) == NULL)
			goto out;
	} else if (r->tool_choice != PV_TC_UNSET &&
	    cJSON_AddStringToObject(root, "tool_choice", tc_names[r->tool_choice]) == NULL)
		goto out;
	if (r->parallel_tools_off && r->n_tools > 0 &&
	    cJSON_AddFalseToObject(root, "parallel_tool_calls") == NULL)
		goto out;
	if (eff != PV_EFFORT_UNSET || thoughts) {
		if ((o = cJSON_AddObjectToObject(root, "reasoning")) == NULL ||
		    (eff != PV_EFFORT_UNSET &&
		    cJSON_AddStringToObject(o, "effort", oa_effort_name(eff)) == NULL) ||
		    (thoughts && cJSON_AddStringToObject(o, "summary", "auto") == NULL))
			goto out;
	}
	if (r->max_tokens >= 0 &&
	    cJSON_AddNumberToObject(root, "max_output_tokens", (double)r->max_tokens) == NULL)
		goto out;
	if (oa_enc_sampling(r, root) != CP_OK)
		goto out;
	if (r->top_k >= 0)
		log_debug("openai-responses: dropping top_k (no Responses form)");
	if (oa_enc_user(r, root) != CP_OK)
		goto out;
	if (cJSON_AddBoolToObject(root, "stream", r->stream) == NULL ||
	    cJSON_AddFalseToObject(root, "store") == NULL)
		goto out;
	/* Stateless: reasoning comes back encrypted so that the next turn
	 * can carry it (as Codex does). */
	if ((eff != PV_EFFORT_UNSET && eff != PV_EFFORT_NONE) || thoughts || rs_has_sig(r)) {
		if ((inc = cJSON_AddArrayToObject(root, "include")) == NULL ||
		    (o = cJSON_CreateString("reasoning.encrypted_content")) == NULL)
			goto out;
		cJSON_AddItemToArray(inc, o);
	}
	*out = root;
	root = NULL;
	rc = CP_OK;
out:
	cJSON_Delete(root);
	return rc;
}

/* DESIGN 6: the Responses API has no stop sequences; a client that set
 * some would get text past them, so the request is refused (400). */
static const char *
rs_refuses(const struct pv_request *r)
{
	return r->n_stop > 0 ? "stop sequences (the OpenAI Responses API has none)" : NULL;
}

static int
rs_encode_request(const struct pv_request *r, cJSON **out)
{
	if (rs_refuses(r) != NULL)
		return CP_EINVAL;
	return pv_encode_named(r, FMT_OPENAI_RESPONSES, rs_encode_named, out);
}

/* ================================================== upstream decoder */

struct rs_dcall {            /* a function call item of the answer */
	int output_index;        /* upstream output_index */
	bool open;               /* TOOL_START emitted, TOOL_END not yet */
	bool args_seen;          /* some arguments were emitted */
};

struct pv_dec {
	struct oa_io io;         /* bytes in, callback */
	bool started;            /* START emitted */
	bool done;               /* STOP or ERROR emitted */
	struct rs_dcall calls[OA_CALLS_MAX];
	int n_calls;
	int summary_parts;       /* summary parts seen in the current reasoning item */
};

static int
rsd_ev(struct pv_dec *d, enum pv_ev_kind kind, const char *text, size_t len)
{
	struct pv_event ev = { .kind = kind, .text = text, .len = len };

	return d->io.emit(&ev, d->io.arg);
}

static int
rsd_start(struct pv_dec *d, const cJSON *resp)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(resp, "id");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(resp, "model");
	struct pv_event ev = { .kind = PV_EV_START };

	if (d->started)
		return CP_OK;
	d->started = true;
	ev.id = cJSON_IsString(id) ? id->valuestring : "";
	ev.model = cJSON_IsString(model) ? model->valuestring : "";
	return d->io.emit(&ev, d->io.arg);
}

static struct rs_dcall *
rsd_call(struct pv_dec *d, const cJSON *o, int *index)
{
	const cJSON *oi = cJSON_GetObjectItemCaseSensitive(o, "output_index");
	int i;

	if (!cJSON_IsNumber(oi))
		return NULL;
	for (i = 0; i < d->n_calls; i++)
		if (d->calls[i].output_index == (int)oi->valuedouble) {
			*index = i;
			return &d->calls[i];
		}
	return NULL;
}

/* A function_call item begins (stream: output_item.added; JSON: the item). */
static int
rsd_call_start(struct pv_dec *d, const cJSON *item, int output_index)
{
	const cJSON *cid = cJSON_GetObjectItemCaseSensitive(item, "call_id");
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
	struct pv_event ev = { .kind = PV_EV_TOOL_START };
	char made[OA_ID_MAX];

	if (d->n_calls >= OA_CALLS_MAX)
		return CP_ETOOBIG;
	d->calls[d->n_calls].output_index = output_index;
	d->calls[d->n_calls].open = true;
	d->calls[d->n_calls].args_seen = false;
	ev.index = d->n_calls++;
	if (cJSON_IsString(cid) && cid->valuestring[0] != '\0') {
		ev.id = cid->valuestring;
	} else {
		snprintf(made, sizeof(made), "call_%d", ev.index);
		ev.id = made;
	}
	ev.name = cJSON_IsString(name) ? name->valuestring : "";
	return d->io.emit(&ev, d->io.arg);
}

/* Arguments not yet streamed (from .done or the item), then the end. */
static int
rsd_call_end(struct pv_dec *d, struct rs_dcall *c, int index, const cJSON *args)
{
	struct pv_event ev = { .index = index };
	int rc;

	if (!c->open)
		return CP_OK;
	if (!c->args_seen && cJSON_IsString(args) && args->valuestring[0] != '\0') {
		ev.kind = PV_EV_TOOL_ARGS;
		ev.text = args->valuestring;
		ev.len = strlen(args->valuestring);
		c->args_seen = true;
		if ((rc = d->io.emit(&ev, d->io.arg)) != CP_OK)
			return rc;
	}
	c->open = false;
	ev.kind = PV_EV_TOOL_END;
	ev.text = NULL;
	ev.len = 0;
	return d->io.emit(&ev, d->io.arg);
}

static int
rsd_end_calls(struct pv_dec *d)
{
	int i, rc;

	for (i = 0; i < d->n_calls; i++)
		if ((rc = rsd_call_end(d, &d->calls[i], i, NULL)) != CP_OK)
			return rc;
	return CP_OK;
}

/* A JSON answer's reasoning summary: its parts as one thinking text,
 * blank-line apart (as a stream's parts read). */
static int
rsd_summary_text(struct pv_dec *d, const cJSON *summary)
{
	const cJSON *s;
	struct buf b;
	int rc = CP_OK;

	buf_init(&b, OA_ANSWER_MAX);
	if (!cJSON_IsArray(summary))
		summary = NULL;
	cJSON_ArrayForEach(s, summary) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "text");

		if (!cJSON_IsString(t))
			continue;
		if ((b.len > 0 && (rc = buf_appends(&b, "\n\n")) != CP_OK) ||
		    (rc = buf_appends(&b, t->valuestring)) != CP_OK)
			goto out;
	}
	if (b.len > 0)
		rc = rsd_ev(d, PV_EV_THINKING, b.p, b.len);
out:
	buf_release(&b);
	return rc;
}

static int
rsd_sig(struct pv_dec *d, const cJSON *item)
{
	const cJSON *enc = cJSON_GetObjectItemCaseSensitive(item, "encrypted_content");

	if (!cJSON_IsString(enc) || enc->valuestring[0] == '\0')
		return CP_OK;
	return rsd_ev(d, PV_EV_THINKING_SIG, enc->valuestring, strlen(enc->valuestring));
}

/* A whole output item of a JSON answer. */
static int
rsd_item(struct pv_dec *d, const cJSON *item, int output_index)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(item, "type");
	const cJSON *content, *c;
	int rc;

	if (!cJSON_IsString(type))
		return CP_OK;
	if (strcmp(type->valuestring, "reasoning") == 0) {
		if ((rc = rsd_summary_text(d, cJSON_GetObjectItemCaseSensitive(item,
		    "summary"))) != CP_OK)
			return rc;
		return rsd_sig(d, item);
	}
	if (strcmp(type->valuestring, "function_call") == 0) {
		if ((rc = rsd_call_start(d, item, output_index)) != CP_OK)
			return rc;
		return rsd_call_end(d, &d->calls[d->n_calls - 1], d->n_calls - 1,
		    cJSON_GetObjectItemCaseSensitive(item, "arguments"));
	}
	if (strcmp(type->valuestring, "message") != 0)
		return CP_OK;
	content = cJSON_GetObjectItemCaseSensitive(item, "content");
	if (!cJSON_IsArray(content))
		content = NULL;
	cJSON_ArrayForEach(c, content) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "text");

		if (!cJSON_IsString(t))
			t = cJSON_GetObjectItemCaseSensitive(c, "refusal");
		if (cJSON_IsString(t) && t->valuestring[0] != '\0' &&
		    (rc = rsd_ev(d, PV_EV_TEXT, t->valuestring, strlen(t->valuestring))) != CP_OK)
			return rc;
	}
	return CP_OK;
}

static int
rsd_failed(struct pv_dec *d, const cJSON *e, int status)
{
	struct pv_event ev = { .kind = PV_EV_ERROR, .status = status };
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(e, "code");
	char msg[1024];

	oa_error_message(e, msg, sizeof(msg));
	if (msg[0] == '\0')
		snprintf(msg, sizeof(msg), "upstream response failed");
	if (cJSON_IsString(code) && strcmp(code->valuestring, "rate_limit_exceeded") == 0)
		ev.status = 429;
	ev.text = msg;
	ev.len = strlen(msg);
	d->done = true;
	return d->io.emit(&ev, d->io.arg);
}

/* The end of a response object: usage, then why it stopped. */
static int
rsd_end(struct pv_dec *d, const cJSON *resp)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(resp, "status");
	const cJSON *u = oa_member(resp, "usage");
	const cJSON *inc = oa_member(resp, "incomplete_details");
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(inc, "reason");
	struct pv_event ev = { .kind = PV_EV_STOP, .stop = PV_STOP_END };
	int rc;

	if (cJSON_IsString(status) && strcmp(status->valuestring, "failed") == 0)
		return rsd_failed(d, oa_member(resp, "error"), 500);
	if ((rc = rsd_end_calls(d)) != CP_OK)
		return rc;
	if (cJSON_IsObject(u)) {
		struct pv_event uev = { .kind = PV_EV_USAGE };

		oa_usage_read(u, true, &uev.usage);
		if ((rc = d->io.emit(&uev, d->io.arg)) != CP_OK)
			return rc;
	}
	if (cJSON_IsString(status) && strcmp(status->valuestring, "incomplete") == 0)
		ev.stop = cJSON_IsString(reason) &&
		    strcmp(reason->valuestring, "content_filter") == 0 ?
		    PV_STOP_FILTER : PV_STOP_MAX_TOKENS;
	else if (d->n_calls > 0)
		ev.stop = PV_STOP_TOOL;
	d->done = true;
	return d->io.emit(&ev, d->io.arg);
}

/* One streamed event (its "type" says which). */
static int
rsd_event(struct pv_dec *d, const char *type, const cJSON *o)
{
	const cJSON *resp = cJSON_GetObjectItemCaseSensitive(o, "response");
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, "item");
	const cJSON *delta = cJSON_GetObjectItemCaseSensitive(o, "delta");
	const cJSON *itype = cJSON_GetObjectItemCaseSensitive(item, "type");
	const cJSON *oi = cJSON_GetObjectItemCaseSensitive(o, "output_index");
	struct rs_dcall *c;
	int index, rc;

	if (strcmp(type, "error") == 0)
		return rsd_failed(d, o, 500);
	if (strcmp(type, "response.failed") == 0) {
		if ((rc = rsd_start(d, resp)) != CP_OK)
			return rc;
		return rsd_failed(d, oa_member(resp, "error"), 500);
	}
	if (strncmp(type, "response.", 9) != 0)
		return CP_OK;
	type += 9;
	if (strcmp(type, "created") == 0 || strcmp(type, "in_progress") == 0)
		return rsd_start(d, resp);
	/* An answer without response.created still starts somewhere. */
	if ((rc = rsd_start(d, NULL)) != CP_OK)
		return rc;
	if (strcmp(type, "completed") == 0 || strcmp(type, "incomplete") == 0)
		return rsd_end(d, resp);
	if (strcmp(type, "output_text.delta") == 0 || strcmp(type, "refusal.delta") == 0 ||
	    strcmp(type, "reasoning_summary_text.delta") == 0 ||
	    strcmp(type, "reasoning_text.delta") == 0) {
		bool text = strcmp(type, "output_text.delta") == 0 ||
		    strcmp(type, "refusal.delta") == 0;

		if (!cJSON_IsString(delta) || delta->valuestring[0] == '\0')
			return CP_OK;
		return rsd_ev(d, text ? PV_EV_TEXT : PV_EV_THINKING, delta->valuestring,
		    strlen(delta->valuestring));
	}
	if (strcmp(type, "reasoning_summary_part.added") == 0) {
		/* Parts of one summary read as paragraphs. */
		if (d->summary_parts++ > 0)
			return rsd_ev(d, PV_EV_THINKING, "\n\n", 2);
		return CP_OK;
	}
	if (strcmp(type, "output_item.added") == 0 && cJSON_IsString(itype)) {
		if (strcmp(itype->valuestring, "reasoning") == 0)
			d->summary_parts = 0;
		if (strcmp(itype->valuestring, "function_call") == 0 && cJSON_IsNumber(oi))
			return rsd_call_start(d, item, (int)oi->valuedouble);
		return CP_OK;
	}
	if (strcmp(type, "function_call_arguments.delta") == 0) {
		struct pv_event ev = { .kind = PV_EV_TOOL_ARGS };

		if ((c = rsd_call(d, o, &index)) == NULL || !c->open || !cJSON_IsString(delta) ||
		    delta->valuestring[0] == '\0')
			return CP_OK;
		ev.index = index;
		c->args_seen = true;
		ev.text = delta->valuestring;
		ev.len = strlen(delta->valuestring);
		return d->io.emit(&ev, d->io.arg);
	}
	if (strcmp(type, "function_call_arguments.done") == 0) {
		if ((c = rsd_call(d, o, &index)) == NULL)
			return CP_OK;
		return rsd_call_end(d, c, index, cJSON_GetObjectItemCaseSensitive(o, "arguments"));
	}
	if (strcmp(type, "output_item.done") == 0 && cJSON_IsString(itype)) {
		if (strcmp(itype->valuestring, "reasoning") == 0)
			return rsd_sig(d, item);
		if (strcmp(itype->valuestring, "function_call") == 0 &&
		    (c = rsd_call(d, o, &index)) != NULL)
			return rsd_call_end(d, c, index,
			    cJSON_GetObjectItemCaseSensitive(item, "arguments"));
	}
	return CP_OK;
}

static int
rsd_sse_cb(const struct sse_event *sev, void *arg)
{
	struct pv_dec *d = arg;
	const cJSON *type;
	cJSON *o;
	int rc;

	if (d->done || sev->data_len == 0)
		return CP_OK;
	if (sev->data_len == 6 && memcmp(sev->data, "[DONE]", 6) == 0)
		return CP_OK;
	if ((o = cJSON_ParseWithLength(sev->data, sev->data_len)) == NULL)
		return CP_EPARSE;
	type = cJSON_GetObjectItemCaseSensitive(o, "type");
	if (!cJSON_IsObject(o))
		rc = CP_EPARSE;
	else if (cJSON_IsString(type))
		rc = rsd_event(d, type->valuestring, o);
	else
		rc = sev->event[0] != '\0' ? rsd_event(d, sev->event, o) : CP_OK;
	cJSON_Delete(o);
	return rc;
}

static int
rsd_object(struct pv_dec *d, const cJSON *o)
{
	const cJSON *out, *item, *e;
	int oi = 0, rc;

	if (!cJSON_IsObject(o))
		return CP_EPARSE;
	if ((e = oa_member(o, "error")) != NULL && !cJSON_IsObject(oa_member(o, "output")))
		return rsd_failed(d, e, 500);
	if ((rc = rsd_start(d, o)) != CP_OK)
		return rc;
	out = cJSON_GetObjectItemCaseSensitive(o, "output");
	if (!cJSON_IsArray(out))
		out = NULL;
	cJSON_ArrayForEach(item, out) {
		if ((rc = rsd_item(d, item, oi++)) != CP_OK)
			return rc;
	}
	return rsd_end(d, o);
}

static struct pv_dec *
rs_dec_new(bool stream)
{
	struct pv_dec *d = calloc(1, sizeof(*d));

	if (d != NULL)
		oa_io_init(&d->io, stream);
	return d;
}

static int
rs_dec_feed(struct pv_dec *d, const char *data, size_t len, pv_emit_fn emit, void *arg)
{
	return oa_io_feed(&d->io, data, len, emit, arg, rsd_sse_cb, d);
}

static int
rs_dec_finish(struct pv_dec *d, pv_emit_fn emit, void *arg)
{
	cJSON *o = NULL;
	int rc;

	if ((rc = oa_io_finish(&d->io, emit, arg, rsd_sse_cb, d, &o)) != CP_OK || d->done)
		goto out;
	if (o != NULL) {
		rc = rsd_object(d, o);
		goto out;
	}
	/* No response.completed: the stream was cut. */
	d->done = true;
	if ((rc = rsd_end_calls(d)) == CP_OK)
		rc = oa_io_cut(&d->io);
out:
	cJSON_Delete(o);
	return rc;
}

static void
rs_dec_free(struct pv_dec *d)
{
	if (d == NULL)
		return;
	oa_io_release(&d->io);
	free(d);
}

/* ==================================================== client encoder */

enum rs_kind { RS_MSG, RS_REASONING, RS_CALL };

struct rs_item {             /* one output item of the answer */
	enum rs_kind kind;
	char id[OA_ID_MAX];      /* msg_/rs_/fc_ id */
	struct buf text;         /* text, summary text or arguments */
	char *call_id;           /* RS_CALL */
	char *name;              /* RS_CALL */
	char *sig;               /* RS_REASONING: encrypted_content */
	bool has_part;           /* RS_REASONING: a summary part is open */
	bool done;               /* output_item.done sent */
	bool cut;                /* ended by the output limit or a failure */
};

struct pv_enc {
	struct pv_enc_opts o;    /* options (model copied) */
	char *model;
	char id[OA_ID_MAX];      /* resp_... */
	long long seq;           /* next sequence_number */
	bool started;            /* created + in_progress sent */
	bool failed;             /* an ERROR ended the answer */
	struct rs_item *items;   /* output items, by output_index */
	int n_items;
	int cur;                 /* open message/reasoning item, or -1 */
	int call_item[OA_CALLS_MAX]; /* pivot call index -> item */
	int n_calls;
	enum pv_stop stop;
	struct pv_usage usage;
	bool have_usage;
	char *err_msg;           /* ERROR text */
	int err_status;
	size_t bytes;            /* kept so far, at most OA_ANSWER_MAX */
};


static struct pv_enc *
rs_enc_new(const struct pv_enc_opts *o)
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
	e->cur = -1;
	oa_make_id(e->id, "resp_", "", -1);
	return e;
}

static void
rs_enc_free(struct pv_enc *e)
{
	int i;

	if (e == NULL)
		return;
	for (i = 0; i < e->n_items; i++) {
		buf_release(&e->items[i].text);
		free(e->items[i].call_id);
		free(e->items[i].name);
		free(e->items[i].sig);
	}
	free(e->items);
	free(e->err_msg);
	free(e->model);
	free(e);
}

/* Emit one streamed event: o gets its type and sequence_number and is
 * consumed. Gathered answers emit nothing. */
static int
rs_emit(struct pv_enc *e, const char *type, cJSON *o, struct buf *out)
{
	int rc = CP_ENOMEM;

	if (o == NULL)
		return CP_ENOMEM;
	if (!e->o.stream) {
		cJSON_Delete(o);
		return CP_OK;
	}
	if (cJSON_AddStringToObject(o, "type", type) != NULL &&
	    cJSON_AddNumberToObject(o, "sequence_number", (double)e->seq++) != NULL)
		rc = oa_sse_json(out, type, o);
	cJSON_Delete(o);
	return rc;
}

static cJSON *
rs_text_part(const char *type, const char *text)
{
	cJSON *p = cJSON_CreateObject();

	if (p == NULL || cJSON_AddStringToObject(p, "type", type) == NULL ||
	    cJSON_AddStringToObject(p, "text", text) == NULL ||
	    (strcmp(type, "output_text") == 0 && cJSON_AddArrayToObject(p, "annotations") == NULL)) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

static const char *
rs_status(const struct rs_item *it, bool done)
{
	return !done ? "in_progress" : it->cut ? "incomplete" : "completed";
}

/* Items still open when the answer ends early are incomplete (OpenAI
 * marks the message cut by max_output_tokens so). */
static void
rs_cut_open(struct pv_enc *e)
{
	int i;

	for (i = 0; i < e->n_items; i++)
		if (!e->items[i].done)
			e->items[i].cut = true;
}

/* The item as it stands (done: finished, with its content). */
static cJSON *
rs_item_json(const struct rs_item *it, bool done)
{
	cJSON *o = cJSON_CreateObject(), *arr, *p;
	const char *text = it->text.p != NULL ? it->text.p : "";

	if (o == NULL || cJSON_AddStringToObject(o, "id", it->id) == NULL)
		goto fail;
	switch (it->kind) {
	case RS_MSG:
		if (cJSON_AddStringToObject(o, "type", "message") == NULL ||
		    cJSON_AddStringToObject(o, "status", rs_status(it, done)) == NULL ||
		    cJSON_AddStringToObject(o, "role", "assistant") == NULL ||
		    (arr = cJSON_AddArrayToObject(o, "content")) == NULL)
			goto fail;
		if (done) {
			if ((p = rs_text_part("output_text", text)) == NULL)
				goto fail;
			cJSON_AddItemToArray(arr, p);
		}
		break;
	case RS_REASONING:
		if (cJSON_AddStringToObject(o, "type", "reasoning") == NULL ||
		    (arr = cJSON_AddArrayToObject(o, "summary")) == NULL)
			goto fail;
		if (done && it->text.len > 0) {
			if ((p = rs_text_part("summary_text", text)) == NULL)
				goto fail;
			cJSON_AddItemToArray(arr, p);
		}
		if (done && it->sig != NULL &&
		    cJSON_AddStringToObject(o, "encrypted_content", it->sig) == NULL)
			goto fail;
		break;
	case RS_CALL:
		if (cJSON_AddStringToObject(o, "type", "function_call") == NULL ||
		    cJSON_AddStringToObject(o, "status", rs_status(it, done)) == NULL ||
		    cJSON_AddStringToObject(o, "arguments", done ? text : "") == NULL ||
		    cJSON_AddStringToObject(o, "call_id", it->call_id) == NULL ||
		    cJSON_AddStringToObject(o, "name", it->name) == NULL)
			goto fail;
		break;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* {"item_id", "output_index", ...} common to the item-scoped events. */
static cJSON *
rs_scoped(const struct pv_enc *e, int idx)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "item_id", e->items[idx].id) == NULL ||
	    cJSON_AddNumberToObject(o, "output_index", idx) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* scoped + content_index/summary_index + one more member (taken over). */
static cJSON *
rs_scoped2(const struct pv_enc *e, int idx, const char *index_key, const char *key,
    cJSON *val)
{
	cJSON *o = rs_scoped(e, idx);

	if (o == NULL || val == NULL || cJSON_AddNumberToObject(o, index_key, 0) == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(val);
		return NULL;
	}
	cJSON_AddItemToObject(o, key, val);
	if (strcmp(key, "delta") == 0 || strcmp(key, "text") == 0) {
		if (strcmp(index_key, "content_index") == 0 &&
		    cJSON_AddArrayToObject(o, "logprobs") == NULL) {
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

static int
rs_item_event(struct pv_enc *e, const char *type, int idx, bool done, struct buf *out)
{
	cJSON *o = cJSON_CreateObject(), *item = rs_item_json(&e->items[idx], done);

	if (o == NULL || item == NULL || cJSON_AddNumberToObject(o, "output_index", idx) == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(item);
		return CP_ENOMEM;
	}
	cJSON_AddItemToObject(o, "item", item);
	return rs_emit(e, type, o, out);
}

/* A new output item of kind; *pidx gets its output_index. Message and
 * reasoning items become the open one and are announced; a call item is
 * announced by its caller once it has its id and name. */
static int
rs_open(struct pv_enc *e, enum rs_kind kind, struct buf *out, int *pidx)
{
	static const char *const prefix[] = { [RS_MSG] = "msg_", [RS_REASONING] = "rs_",
		[RS_CALL] = "fc_" };
	struct rs_item *items, *it;
	int idx, rc;

	if (e->n_items >= 2 * OA_CALLS_MAX)
		return CP_ETOOBIG;
	items = realloc(e->items, (size_t)(e->n_items + 1) * sizeof(*items));
	if (items == NULL)
		return CP_ENOMEM;
	e->items = items;
	idx = e->n_items++;
	*pidx = idx;
	it = &e->items[idx];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	buf_init(&it->text, OA_ANSWER_MAX);
	oa_make_id(it->id, prefix[kind], e->id, idx);
	if (kind == RS_CALL)
		return CP_OK;
	e->cur = idx;
	if ((rc = rs_item_event(e, "response.output_item.added", idx, false, out)) != CP_OK)
		return rc;
	if (kind == RS_MSG) {
		cJSON *o = rs_scoped2(e, idx, "content_index", "part",
		    rs_text_part("output_text", ""));

		if ((rc = rs_emit(e, "response.content_part.added", o, out)) != CP_OK)
			return rc;
	}
	return CP_OK;
}

static int
rs_close(struct pv_enc *e, struct buf *out)
{
	struct rs_item *it;
	const char *text;
	int idx = e->cur, rc;

	if (idx < 0)
		return CP_OK;
	e->cur = -1;
	it = &e->items[idx];
	text = it->text.p != NULL ? it->text.p : "";
	if (it->kind == RS_MSG) {
		if ((rc = rs_emit(e, "response.output_text.done", rs_scoped2(e, idx, "content_index",
		    "text", cJSON_CreateString(text)), out)) != CP_OK ||
		    (rc = rs_emit(e, "response.content_part.done", rs_scoped2(e, idx,
		    "content_index", "part", rs_text_part("output_text", text)), out)) != CP_OK)
			return rc;
	} else if (it->has_part) {
		if ((rc = rs_emit(e, "response.reasoning_summary_text.done", rs_scoped2(e, idx,
		    "summary_index", "text", cJSON_CreateString(text)), out)) != CP_OK ||
		    (rc = rs_emit(e, "response.reasoning_summary_part.done", rs_scoped2(e, idx,
		    "summary_index", "part", rs_text_part("summary_text", text)), out)) != CP_OK)
			return rc;
	}
	it->done = true;
	return rs_item_event(e, "response.output_item.done", idx, true, out);
}

static cJSON *
rs_response_json(const struct pv_enc *e, const char *status, bool final)
{
	cJSON *o = cJSON_CreateObject(), *arr, *it, *x;
	int i;

	if (o == NULL || cJSON_AddStringToObject(o, "id", e->id) == NULL ||
	    cJSON_AddStringToObject(o, "object", "response") == NULL ||
	    cJSON_AddNumberToObject(o, "created_at", (double)e->o.created) == NULL ||
	    cJSON_AddStringToObject(o, "status", status) == NULL ||
	    cJSON_AddStringToObject(o, "model", e->model) == NULL ||
	    (arr = cJSON_AddArrayToObject(o, "output")) == NULL)
		goto fail;
	if (strcmp(status, "failed") == 0) {
		if ((x = cJSON_AddObjectToObject(o, "error")) == NULL ||
		    cJSON_AddStringToObject(x, "code", e->err_status == 429 ?
		    "rate_limit_exceeded" : "server_error") == NULL ||
		    cJSON_AddStringToObject(x, "message", e->err_msg != NULL ? e->err_msg : "") == NULL)
			goto fail;
	} else if (cJSON_AddNullToObject(o, "error") == NULL)
		goto fail;
	if (strcmp(status, "incomplete") == 0) {
		if ((x = cJSON_AddObjectToObject(o, "incomplete_details")) == NULL ||
		    cJSON_AddStringToObject(x, "reason", e->stop == PV_STOP_FILTER ?
		    "content_filter" : "max_output_tokens") == NULL)
			goto fail;
	} else if (cJSON_AddNullToObject(o, "incomplete_details") == NULL)
		goto fail;
	if (final) {
		for (i = 0; i < e->n_items; i++) {
			if ((it = rs_item_json(&e->items[i], true)) == NULL)
				goto fail;
			cJSON_AddItemToArray(arr, it);
		}
		if (e->have_usage) {
			if ((x = oa_usage_json(&e->usage, true)) == NULL)
				goto fail;
			cJSON_AddItemToObject(o, "usage", x);
		} else if (cJSON_AddNullToObject(o, "usage") == NULL)
			goto fail;
	} else if (cJSON_AddNullToObject(o, "usage") == NULL)
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static int
rs_response_event(struct pv_enc *e, const char *type, const char *status, bool final,
    struct buf *out)
{
	cJSON *o = cJSON_CreateObject(), *r = rs_response_json(e, status, final);

	if (o == NULL || r == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(r);
		return CP_ENOMEM;
	}
	cJSON_AddItemToObject(o, "response", r);
	return rs_emit(e, type, o, out);
}

static int
rs_begin(struct pv_enc *e, struct buf *out)
{
	int rc;

	if (e->started)
		return CP_OK;
	e->started = true;
	if ((rc = rs_response_event(e, "response.created", "in_progress", false, out)) != CP_OK)
		return rc;
	return rs_response_event(e, "response.in_progress", "in_progress", false, out);
}

/* Text or summary delta into the open item of kind (opened if needed). */
static int
rs_enc_text(struct pv_enc *e, enum rs_kind kind, const struct pv_event *ev, struct buf *out)
{
	struct rs_item *it;
	char *s;
	cJSON *o;
	int idx = e->cur, rc;

	if (ev->len == 0)
		return CP_OK;
	/* A reasoning item that already has its signature is finished: the
	 * next thinking is a new item (interleaved thinking). */
	if (idx < 0 || e->items[idx].kind != kind ||
	    (kind == RS_REASONING && e->items[idx].sig != NULL)) {
		if ((rc = rs_close(e, out)) != CP_OK || (rc = rs_open(e, kind, out, &idx)) != CP_OK)
			return rc;
	}
	it = &e->items[idx];
	if (kind == RS_REASONING && !it->has_part) {
		it->has_part = true;
		o = rs_scoped2(e, idx, "summary_index", "part", rs_text_part("summary_text", ""));
		if ((rc = rs_emit(e, "response.reasoning_summary_part.added", o, out)) != CP_OK)
			return rc;
	}
	if ((rc = oa_keep(&e->bytes, &it->text, ev->text, ev->len)) != CP_OK)
		return rc;
	if (!e->o.stream)
		return CP_OK;
	if ((s = pv_strndup(ev->text, ev->len)) == NULL)
		return CP_ENOMEM;
	o = rs_scoped2(e, idx, kind == RS_MSG ? "content_index" : "summary_index", "delta",
	    cJSON_CreateString(s));
	free(s);
	return rs_emit(e, kind == RS_MSG ? "response.output_text.delta" :
	    "response.reasoning_summary_text.delta", o, out);
}

static int
rs_enc_sig(struct pv_enc *e, const struct pv_event *ev, struct buf *out)
{
	struct rs_item *it;
	int idx = e->cur, rc;

	if (idx < 0 || e->items[idx].kind != RS_REASONING || e->items[idx].sig != NULL) {
		if ((rc = rs_close(e, out)) != CP_OK ||
		    (rc = rs_open(e, RS_REASONING, out, &idx)) != CP_OK)
			return rc;
	}
	it = &e->items[idx];
	return (it->sig = pv_strndup(ev->text != NULL ? ev->text : "", ev->text != NULL ?
	    ev->len : 0)) != NULL ? CP_OK : CP_ENOMEM;
}

static int
rs_enc_call(struct pv_enc *e, const struct pv_event *ev, struct buf *out)
{
	struct rs_item *it;
	char made[OA_ID_MAX];
	int idx, rc;

	if (ev->index != e->n_calls || e->n_calls >= OA_CALLS_MAX)
		return CP_EINVAL; /* calls start in order, from 0 */
	if ((rc = rs_close(e, out)) != CP_OK || (rc = rs_open(e, RS_CALL, out, &idx)) != CP_OK)
		return rc;
	e->call_item[e->n_calls++] = idx;
	it = &e->items[idx];
	if (ev->id == NULL || ev->id[0] == '\0')
		oa_make_id(made, "call_", e->id, ev->index);
	if ((it->call_id = strdup(ev->id != NULL && ev->id[0] != '\0' ? ev->id : made)) == NULL ||
	    (it->name = strdup(ev->name != NULL ? ev->name : "")) == NULL)
		return CP_ENOMEM;
	return rs_item_event(e, "response.output_item.added", idx, false, out);
}

static int
rs_enc_call_end(struct pv_enc *e, int index, struct buf *out)
{
	struct rs_item *it;
	cJSON *o;
	int idx, rc;

	if (index < 0 || index >= e->n_calls)
		return CP_EINVAL;
	idx = e->call_item[index];
	it = &e->items[idx];
	if (it->done)
		return CP_OK;
	it->done = true;
	o = rs_scoped(e, idx);
	if (o != NULL && (cJSON_AddStringToObject(o, "name", it->name) == NULL ||
	    cJSON_AddStringToObject(o, "arguments", it->text.p != NULL ? it->text.p : "") == NULL)) {
		cJSON_Delete(o);
		o = NULL;
	}
	if ((rc = rs_emit(e, "response.function_call_arguments.done", o, out)) != CP_OK)
		return rc;
	return rs_item_event(e, "response.output_item.done", idx, true, out);
}

static int
rs_enc_event(struct pv_enc *e, const struct pv_event *ev, struct buf *out)
{
	int rc;

	if (e->failed)
		return CP_OK;
	if (ev->kind == PV_EV_START)
		oa_make_id(e->id, "resp_", ev->id, -1);
	if ((rc = rs_begin(e, out)) != CP_OK)
		return rc;
	switch (ev->kind) {
	case PV_EV_TEXT:
		return rs_enc_text(e, RS_MSG, ev, out);
	case PV_EV_THINKING:
		return rs_enc_text(e, RS_REASONING, ev, out);
	case PV_EV_THINKING_SIG:
		return rs_enc_sig(e, ev, out);
	case PV_EV_TOOL_START:
		return rs_enc_call(e, ev, out);
	case PV_EV_TOOL_ARGS: {
		struct rs_item *it;
		cJSON *o;
		char *s;

		if (ev->index < 0 || ev->index >= e->n_calls)
			return CP_EINVAL;
		it = &e->items[e->call_item[ev->index]];
		if (it->done || ev->len == 0)
			return CP_OK;
		if ((rc = oa_keep(&e->bytes, &it->text, ev->text, ev->len)) != CP_OK)
			return rc;
		if (!e->o.stream)
			return CP_OK;
		if ((s = pv_strndup(ev->text, ev->len)) == NULL)
			return CP_ENOMEM;
		o = rs_scoped(e, e->call_item[ev->index]);
		if (o != NULL && cJSON_AddStringToObject(o, "delta", s) == NULL) {
			cJSON_Delete(o);
			o = NULL;
		}
		free(s);
		return rs_emit(e, "response.function_call_arguments.delta", o, out);
	}
	case PV_EV_TOOL_END:
		return rs_enc_call_end(e, ev->index, out);
	case PV_EV_USAGE:
		e->usage = ev->usage;
		e->have_usage = true;
		return CP_OK;
	case PV_EV_STOP:
		e->stop = ev->stop;
		return CP_OK;
	case PV_EV_ERROR:
		e->failed = true;
		e->err_status = ev->status;
		if ((e->err_msg = pv_strndup(ev->text != NULL ? ev->text : "", ev->text != NULL ?
		    ev->len : 0)) == NULL)
			return CP_ENOMEM;
		rs_cut_open(e);
		return rs_response_event(e, "response.failed", "failed", true, out);
	default:
		return CP_OK;
	}
}

static int
rs_enc_finish(struct pv_enc *e, struct buf *out)
{
	const char *status = "completed", *type = "response.completed";
	cJSON *r;
	int i, rc;

	if (e->failed) {
		if (e->o.stream)
			return CP_OK;
		return oa_error_append(out, e->err_status, e->err_msg, "");
	}
	if (e->stop == PV_STOP_MAX_TOKENS || e->stop == PV_STOP_FILTER) {
		status = "incomplete";
		type = "response.incomplete";
		rs_cut_open(e);
	}
	if ((rc = rs_begin(e, out)) != CP_OK || (rc = rs_close(e, out)) != CP_OK)
		return rc;
	for (i = 0; i < e->n_calls; i++)
		if ((rc = rs_enc_call_end(e, i, out)) != CP_OK)
			return rc;
	if (e->o.stream)
		return rs_response_event(e, type, status, true, out);
	if ((r = rs_response_json(e, status, true)) == NULL)
		return CP_ENOMEM;
	rc = oa_put_json(out, r);
	cJSON_Delete(r);
	return rc;
}

const struct codec codec_openai_responses = {
	.id = FMT_OPENAI_RESPONSES,
	.name = "openai-responses",
	.request_model = pv_body_request_model,
	.set_model = pv_body_set_model,
	.decode_request = rs_decode_request,
	.encode_request = rs_encode_request,
	.refuses = rs_refuses,
	.dec_new = rs_dec_new,
	.dec_feed = rs_dec_feed,
	.dec_finish = rs_dec_finish,
	.dec_free = rs_dec_free,
	.enc_new = rs_enc_new,
	.enc_event = rs_enc_event,
	.enc_finish = rs_enc_finish,
	.enc_free = rs_enc_free,
	.content_type = oa_content_type,
	.error_body = fmt_openai_error,
	.decode_error = oa_decode_error,
	.models_body = oa_models_body,
	/* No count API: encode_count/decode_count/count_body stay NULL. */
};
