/*
 * gemini.c - Gemini API keys (generative-language-api-key, PROVIDERS.md
 * 3): POST {gemini}/v1beta/models/{model}:generateContent,
 * :streamGenerateContent?alt=sse (or without alt: the JSON-array stream,
 * when a Gemini client asked for that), :countTokens; the key in
 * x-goog-api-key. 429 answers carry their wait in the body
 * (google.rpc.RetryInfo retryDelay) when Retry-After is absent.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd.h"

#define GEMINI_BASE "https://generativelanguage.googleapis.com"

static int
gk_build(struct prov_builder *b)
{
	const struct cfg *c = b->cfg;
	struct prov *p = NULL;
	size_t i;

	for (i = 0; i < c->gl_api_keys.n; i++) {
		const char *k = c->gl_api_keys.v[i];
		char label[96];

		if (k == NULL || k[0] == '\0' || strlen(k) > PXD_KEY_MAX)
			continue;
		/* One instance for every key: they share the base URL. */
		if (p == NULL && (p = b->add_prov(b, &prov_gemini_key, "gemini",
		    prov_endpoint(c, "gemini", GEMINI_BASE))) == NULL)
			return CP_ENOMEM;
		snprintf(label, sizeof(label), "generative-language-api-key#%zu", i);
		if (b->add_cred(b, p, k, label) == NULL)
			return CP_ENOMEM;
	}
	return CP_OK;
}

static int
gk_url(const struct prov *p, const struct cred *c, const struct up_target *t,
    struct buf *out)
{
	static const char *const action[] = {
		[UPOP_GENERATE] = ":generateContent",
		[UPOP_STREAM] = ":streamGenerateContent",
		[UPOP_COUNT] = ":countTokens",
	};

	size_t i;

	(void)c;
	/* The model goes into the path: only a model name's bytes (a
	 * client's "x/../y?key=" must not reach another URL). */
	for (i = 0; t->model[i] != '\0'; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@",
		    t->model[i]) == NULL)
			return CP_EINVAL;
	if (i == 0 || i >= ROUTE_MODEL_MAX)
		return CP_EINVAL;
	buf_reset(out);
	return buf_printf(out, "%s/v1beta/models/%s%s%s", p->base_url, t->model,
	    action[t->op], t->op == UPOP_STREAM && t->gemini_sse ? "?alt=sse" : "");
}

static int
gk_headers(const struct cred *c, const struct cred_state *st, const struct up_target *t,
    struct curl_slist **out)
{
	int rc;

	(void)st;
	if ((rc = prov_headers_base(t, out)) != CP_OK)
		return rc;
	return prov_header(out, "x-goog-api-key", c->secret);
}

void
prov_gemini_classify(const struct up_answer *a, struct up_class *out)
{
	prov_classify_common(a, out);
	if (a->status == 429 && out->hint_s < 0)
		out->hint_s = policy_gemini_retry_delay(a->body, a->len);
}

/* PROVIDERS 5: the preview names of a model whose every credential is
 * cooling down (quota-exceeded.switch-preview-model). */
const char *const *
prov_gemini_previews(const char *model)
{
	static const char *const pro[] = {
		"gemini-2.5-pro-preview-05-06", "gemini-2.5-pro-preview-06-05", NULL,
	};
	static const char *const flash[] = {
		"gemini-2.5-flash-preview-04-17", "gemini-2.5-flash-preview-05-20", NULL,
	};

	if (strcmp(model, "gemini-2.5-pro") == 0)
		return pro;
	if (strcmp(model, "gemini-2.5-flash") == 0)
		return flash;
	return NULL;
}

const struct provider_ops prov_gemini_key = {
	.kind = "generative-language-api-key",
	.format = FMT_GEMINI,
	.also = FMT__COUNT,
	.family = CAT_GEMINI,
	.has_count = true,
	.build = gk_build,
	.url = gk_url,
	.headers = gk_headers,
	.static_headers = true,
	.previews = prov_gemini_previews,
	.classify = prov_gemini_classify,
};

/* -------------------------------------------------- Gemini CLI accounts */

/*
 * Gemini CLI accounts (auth files of type "gemini" or without a type,
 * PROVIDERS.md 2, 3): Code Assist at {gemini-cli}/v1internal:
 * generateContent, :streamGenerateContent, :countTokens with the
 * account's Bearer token and the CLI's identity headers. The Gemini
 * request travels in an envelope {"project": <the file's project_id>,
 * "model": <model>, "request": <the request without model>} (countTokens:
 * {"request": {"model": "models/<model>", ...}}); every answer, and each
 * SSE event or JSON-array element of a stream, wraps the normal one in
 * "response", which the filter below takes off.
 */
#define GEMINI_CLI_BASE "https://cloudcode-pa.googleapis.com"

static const char *
ga_read(const cJSON *j, struct prov_acct *a)
{
	const cJSON *tok;
	const char *proj;

	if (json_get_object(j, "token", &tok) != CP_OK ||
	    json_get_string(tok, "access_token", &a->token) != CP_OK)
		return "no token.access_token";
	if (json_get_string(j, "project_id", &proj) != CP_OK || proj[0] == '\0')
		return "no project_id";
	return NULL;
}

static int
ga_build(struct prov_builder *b)
{
	return prov_build_accounts(b, &prov_gemini_account, "gemini", "gemini-cli",
	    GEMINI_CLI_BASE, ga_read);
}

static int
ga_url(const struct prov *p, const struct cred *c, const struct up_target *t,
    struct buf *out)
{
	static const char *const action[] = {
		[UPOP_GENERATE] = "generateContent",
		[UPOP_STREAM] = "streamGenerateContent",
		[UPOP_COUNT] = "countTokens",
	};

	(void)c;
	buf_reset(out);
	return buf_printf(out, "%s/v1internal:%s%s", p->base_url, action[t->op],
	    t->op == UPOP_STREAM && t->gemini_sse ? "?alt=sse" : "");
}

static int
ga_headers(const struct cred *c, const struct cred_state *st, const struct up_target *t,
    struct curl_slist **out)
{
	int rc;

	if ((rc = prov_headers_account(c, st, t, out)) != CP_OK)
		return rc;
	/* The identity the Gemini CLI sends (PROVIDERS 3). */
	if ((rc = prov_header(out, "User-Agent", "google-api-nodejs-client/9.15.1")) != CP_OK ||
	    (rc = prov_header(out, "X-Goog-Api-Client", "gl-node/22.17.0")) != CP_OK ||
	    (rc = prov_header(out, "Client-Metadata", "ideType=IDE_UNSPECIFIED,"
	    "platform=PLATFORM_UNSPECIFIED,pluginType=GEMINI")) != CP_OK) {
		prov_headers_free(*out);
		*out = NULL;
	}
	return rc;
}

static int
ga_wrap(const struct cred *c, const struct cred_state *st, const struct up_target *t,
    cJSON **body)
{
	cJSON *env = NULL, *req = *body, *inner;
	const char *proj = NULL;
	char model[ROUTE_MODEL_MAX + 8];
	int rc = CP_ENOMEM;

	(void)st;
	if (json_get_string(c->acct->json, "project_id", &proj) != CP_OK)
		return CP_EINVAL;
	if ((env = cJSON_CreateObject()) == NULL)
		return CP_ENOMEM;
	if (t->op == UPOP_COUNT) {
		/* A count request may hold the whole generate request. */
		inner = cJSON_DetachItemFromObjectCaseSensitive(req, "generateContentRequest");
		if (inner != NULL) {
			cJSON_Delete(req);
			req = inner;
		}
		*body = NULL;
		cJSON_DeleteItemFromObjectCaseSensitive(req, "model");
		snprintf(model, sizeof(model), "models/%s", t->model);
		if (!cJSON_IsObject(req) || cJSON_AddStringToObject(req, "model", model) == NULL) {
			cJSON_Delete(req);
			goto out;
		}
	} else {
		*body = NULL;
		cJSON_DeleteItemFromObjectCaseSensitive(req, "model");
		if (cJSON_AddStringToObject(env, "project", proj) == NULL ||
		    cJSON_AddStringToObject(env, "model", t->model) == NULL) {
			cJSON_Delete(req);
			goto out;
		}
	}
	if (!cJSON_AddItemToObject(env, "request", req)) {
		cJSON_Delete(req);
		goto out;
	}
	*body = env;
	env = NULL;
	rc = CP_OK;
out:
	cJSON_Delete(env);
	return rc;
}

/* The envelope off an answer: one JSON document (generate, count: the
 * count answer is not wrapped and passes as it is), an SSE stream (each
 * event's data), or a JSON-array stream (each element), told apart by
 * the first byte. Output keeps the stream's own framing. */
enum ga_mode { GA_JSON = 0, GA_START, GA_SSE, GA_ARRAY, GA_ARRAY_END };

struct up_filter {
	enum ga_mode mode;
	struct buf in;           /* JSON: the whole answer; ARRAY: one element */
	struct sse_parser sse;
	struct buf *out;         /* output of the current feed */
	int depth;               /* ARRAY: nesting inside the element */
	bool in_str, esc;        /* ARRAY: inside a string, after a backslash */
	size_t n_elems;          /* ARRAY: elements written */
};

static struct up_filter *
ga_unwrap_new(bool stream)
{
	struct up_filter *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->mode = stream ? GA_START : GA_JSON;
	buf_init(&f->in, PV_ANSWER_MAX);
	sse_init(&f->sse);
	return f;
}

static void
ga_unwrap_free(struct up_filter *f)
{
	if (f == NULL)
		return;
	buf_release(&f->in);
	sse_release(&f->sse);
	free(f);
}

/* data (one JSON document) with its "response" member taken out when it
 * has one, appended to out. Anything else passes as it is (an error
 * object, a count answer). */
static int
ga_unwrapped(const char *data, size_t len, struct buf *out)
{
	cJSON *j = NULL;
	const cJSON *r;
	char *txt;
	int rc;

	if (pv_parse_answer(data, len, &j) != CP_OK || !cJSON_IsObject(j) ||
	    !cJSON_IsObject(r = cJSON_GetObjectItemCaseSensitive(j, "response"))) {
		cJSON_Delete(j);
		return buf_append(out, data, len);
	}
	txt = cJSON_PrintUnformatted(r);
	cJSON_Delete(j);
	if (txt == NULL)
		return CP_ENOMEM;
	rc = buf_appends(out, txt);
	free(txt);
	return rc;
}

static int
ga_sse_event(const struct sse_event *ev, void *arg)
{
	struct up_filter *f = arg;
	int rc;

	if ((rc = buf_appends(f->out, "data: ")) != CP_OK ||
	    (rc = ga_unwrapped(ev->data, ev->data_len, f->out)) != CP_OK)
		return rc;
	return buf_appends(f->out, "\r\n\r\n");
}

/* ARRAY: bytes of the JSON-array stream, element by element. */
static int
ga_array_feed(struct up_filter *f, const char *data, size_t len)
{
	size_t i;
	int rc;

	for (i = 0; i < len; i++) {
		char ch = data[i];

		if (f->mode == GA_ARRAY_END)
			continue; /* whitespace after the array */
		if (f->depth == 0) {
			/* between elements: separators, the end */
			if (ch == ']') {
				f->mode = GA_ARRAY_END;
				if ((rc = buf_appends(f->out, f->n_elems == 0 ? "[]" : "]")) != CP_OK)
					return rc;
				continue;
			}
			if (ch == ',' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
				continue;
			if (ch != '{')
				return CP_EPARSE;
		}
		if ((rc = buf_append(&f->in, &ch, 1)) != CP_OK)
			return rc;
		if (f->in_str) {
			if (f->esc)
				f->esc = false;
			else if (ch == '\\')
				f->esc = true;
			else if (ch == '"')
				f->in_str = false;
			continue;
		}
		if (ch == '"')
			f->in_str = true;
		else if (ch == '{' || ch == '[')
			f->depth++;
		else if ((ch == '}' || ch == ']') && --f->depth == 0) {
			if ((rc = buf_appends(f->out, f->n_elems == 0 ? "[" : ",\r\n")) != CP_OK ||
			    (rc = ga_unwrapped(f->in.p, f->in.len, f->out)) != CP_OK)
				return rc;
			f->n_elems++;
			buf_reset(&f->in);
		}
	}
	return CP_OK;
}

static int
ga_unwrap_feed(struct up_filter *f, const char *data, size_t len, struct buf *out)
{
	size_t i;

	f->out = out;
	if (f->mode == GA_JSON) {
		if (data != NULL)
			return buf_append(&f->in, data, len);
		return ga_unwrapped(f->in.p != NULL ? f->in.p : "", f->in.len, out);
	}
	if (data == NULL)
		return f->mode == GA_ARRAY && f->depth == 0 && f->in.len == 0 ? CP_OK :
		    f->mode == GA_ARRAY ? CP_EPARSE : CP_OK;
	if (f->mode == GA_START) {
		for (i = 0; i < len && strchr(" \t\r\n", data[i]) != NULL; i++)
			;
		if (i == len)
			return CP_OK;
		data += i;
		len -= i;
		f->mode = data[0] == '[' ? GA_ARRAY : GA_SSE;
		if (f->mode == GA_ARRAY) {
			data++;
			len--;
		}
	}
	if (f->mode == GA_SSE)
		return sse_feed(&f->sse, data, len, ga_sse_event, f);
	return ga_array_feed(f, data, len);
}

const struct provider_ops prov_gemini_account = {
	.kind = "gemini-account",
	.format = FMT_GEMINI,
	.also = FMT__COUNT,
	.family = CAT_GEMINI,
	.oauth = true,
	.has_count = true,
	.build = ga_build,
	.url = ga_url,
	.headers = ga_headers,
	.wrap = ga_wrap,
	.unwrap_new = ga_unwrap_new,
	.unwrap_feed = ga_unwrap_feed,
	.unwrap_free = ga_unwrap_free,
	.previews = prov_gemini_previews,
	.classify = prov_gemini_classify,
	.refresh = refresh_start,
};
