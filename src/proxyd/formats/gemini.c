/*
 * gemini.c - the Gemini API (POST /v1beta/models/{m}:generateContent,
 * :streamGenerateContent, :countTokens, GET /v1beta/models[/{m}]) codec
 * (DESIGN 6 "Formats are translated through one pivot", formats/pivot.h).
 *
 * The model and the stream flag come from the path, never the body.
 * Gemini has no tool call ids: a request's calls get call_<n> in order
 * (n from 0 over the whole request) and each functionResponse takes the
 * id of the earliest unanswered call of the same name; an answer's calls
 * are call_<n> from 0. Ids never go to Gemini.
 * Thought signatures: Gemini puts the signature of its thoughts on the
 * first part after them (a functionCall or a text; a thought part only
 * when nothing follows). In the pivot the signature belongs to the
 * thinking it signs (PV_THINKING.signature, THINKING_SIG after the
 * thinking); the decoders take it from the part after the thoughts and
 * the encoders put it back there, so that a history that went through
 * another format reaches Gemini as Gemini wrote it. Gemini 3 refuses a
 * function call turn whose first call has no signature: a history from
 * another model gets Google's documented placeholder
 * (GM_SIG_PLACEHOLDER) there.
 * Usage: promptTokenCount includes cached tokens; candidatesTokenCount
 * excludes thoughts (pivot output = candidates + thoughts).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxyd.h"

#define GM_SIG_PLACEHOLDER "skip_thought_signature_validator"
#define GM_STOP_MAX 5            /* Gemini takes at most 5 stop sequences */
#define GM_NAME_MAX 256          /* a model name we print into "models/..." */

/* thinkingBudget per OpenAI-style effort for models without thinkingLevel
 * (cliproxyd(8) "Thinking"). */
static const long long gm_effort_budget[] = {
	[PV_EFFORT_UNSET] = -1,
	[PV_EFFORT_NONE] = 0,
	[PV_EFFORT_MINIMAL] = 512,
	[PV_EFFORT_LOW] = 1024,
	[PV_EFFORT_MEDIUM] = 8192,
	[PV_EFFORT_HIGH] = 24576,
};

static const struct {
	const char *name;
	enum pv_effort effort;
} gm_levels[] = {
	{ "minimal", PV_EFFORT_MINIMAL }, { "low", PV_EFFORT_LOW },
	{ "medium", PV_EFFORT_MEDIUM }, { "high", PV_EFFORT_HIGH },
};

/* finishReason <-> pivot stop (the first row of a stop is what we write). */
static const struct {
	enum pv_stop stop;
	const char *name;
} gm_stops[] = {
	{ PV_STOP_END, "STOP" },
	{ PV_STOP_MAX_TOKENS, "MAX_TOKENS" },
	{ PV_STOP_FILTER, "SAFETY" },
	{ PV_STOP_ERROR, "OTHER" },
	{ PV_STOP_FILTER, "RECITATION" },
	{ PV_STOP_FILTER, "BLOCKLIST" },
	{ PV_STOP_FILTER, "PROHIBITED_CONTENT" },
	{ PV_STOP_FILTER, "SPII" },
	{ PV_STOP_FILTER, "IMAGE_SAFETY" },
	{ PV_STOP_ERROR, "MALFORMED_FUNCTION_CALL" },
	{ PV_STOP_ERROR, "UNEXPECTED_TOOL_CALL" },
	{ PV_STOP_END, "LANGUAGE" },
};

static const struct {
	int code;
	const char *status;
} gm_err_status[PVE__COUNT] = {
	[PVE_INVALID] = { 400, "INVALID_ARGUMENT" },
	[PVE_AUTH] = { 401, "UNAUTHENTICATED" },
	[PVE_PERMISSION] = { 403, "PERMISSION_DENIED" },
	[PVE_NOT_FOUND] = { 404, "NOT_FOUND" },
	[PVE_TOO_LARGE] = { 413, "INVALID_ARGUMENT" },
	[PVE_RATE_LIMIT] = { 429, "RESOURCE_EXHAUSTED" },
	[PVE_SERVER] = { 500, "INTERNAL" },
	[PVE_UPSTREAM] = { 502, "UNAVAILABLE" },
	[PVE_UNAVAILABLE] = { 503, "UNAVAILABLE" },
	[PVE_TIMEOUT] = { 504, "DEADLINE_EXCEEDED" },
};

/* Is status an HTTP code Google's APIs answer with (google.rpc.Code's
 * mapping)? Another one (Anthropic's 529) takes its kind's code. */
static bool
gm_google_code(int status)
{
	static const int codes[] = { 400, 401, 403, 404, 409, 413, 429, 499, 500, 501, 502,
		503, 504 };
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i] == status)
			return true;
	return false;
}

static cJSON *
gm_error_obj(int status, enum pv_err kind, const char *message)
{
	cJSON *root = cJSON_CreateObject(), *e;

	if ((unsigned)kind >= PVE__COUNT)
		kind = PVE_SERVER;
	if (root == NULL || (e = cJSON_AddObjectToObject(root, "error")) == NULL ||
	    cJSON_AddNumberToObject(e, "code", gm_google_code(status) ? status :
	    gm_err_status[kind].code) == NULL ||
	    cJSON_AddStringToObject(e, "message", message != NULL ? message : "") == NULL ||
	    cJSON_AddStringToObject(e, "status", gm_err_status[kind].status) == NULL) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* A member spelled camelCase or snake_case (the API takes both). */
static const cJSON *
gm_get(const cJSON *o, const char *camel, const char *snake)
{
	const cJSON *it;

	if (!cJSON_IsObject(o))
		return NULL;
	it = cJSON_GetObjectItemCaseSensitive(o, camel);
	if (it == NULL && snake != NULL)
		it = cJSON_GetObjectItemCaseSensitive(o, snake);
	return cJSON_IsNull(it) ? NULL : it;
}

/* ---------------------------------------------------------- passthrough */

static int
gm_request_model(const cJSON *req, const char *path_model, bool path_stream,
    const char **model, bool *stream)
{
	if (!cJSON_IsObject(req) || path_model == NULL || path_model[0] == '\0')
		return CP_EINVAL;
	*model = path_model;
	*stream = path_stream;
	return CP_OK;
}

static int
gm_set_model(cJSON *req, const char *model)
{
	(void)req;
	(void)model;
	return CP_OK;
}

/* ------------------------------------------------------ decode_request */

#define GM_NONE SIZE_MAX

/* The calls of one name, in order: the earliest unanswered one is head;
 * next[] (per call number) chains them. */
struct gm_queue {
	size_t head;             /* earliest unanswered call number, or GM_NONE */
	size_t tail;             /* latest call number */
};

struct gm_dec_ctx {
	struct pv_request *r;    /* being filled */
	size_t n_calls;          /* call_<n> counter */
	struct pv_map names;     /* call name (borrowed from the request) -> queue */
	struct gm_queue *q;      /* queues */
	size_t n_q;              /* queues used */
	size_t *next;            /* per call number: next call of its name */
	size_t cap_next;         /* entries allocated in next */
	char *err;               /* the caller's message buffer */
	size_t errlen;           /* its size */
};

/* A functionCall named name takes call number n. */
static int
gm_call_add(struct gm_dec_ctx *c, const char *name, size_t n)
{
	size_t qi, *nx;
	struct gm_queue *q;

	if (n >= c->cap_next) {
		size_t cap = c->cap_next == 0 ? 64 : c->cap_next * 2;

		if (cap > SIZE_MAX / sizeof(*nx) || (nx = realloc(c->next, cap * sizeof(*nx))) == NULL)
			return CP_ENOMEM;
		c->next = nx;
		c->cap_next = cap;
	}
	c->next[n] = GM_NONE;
	if (pv_map_get(&c->names, name, &qi)) {
		q = &c->q[qi];
		c->next[q->tail] = n;
		if (q->head == GM_NONE)
			q->head = n;
		q->tail = n;
		return CP_OK;
	}
	/* a new name: grow by doubling (n_q hits each power of two once) */
	if ((c->n_q & (c->n_q - 1)) == 0) {
		size_t cap = c->n_q == 0 ? 8 : c->n_q * 2;

		if (cap > SIZE_MAX / sizeof(*q) || (q = realloc(c->q, cap * sizeof(*q))) == NULL)
			return CP_ENOMEM;
		c->q = q;
	}
	c->q[c->n_q].head = c->q[c->n_q].tail = n;
	if (pv_map_put(&c->names, name, c->n_q) != CP_OK)
		return CP_ENOMEM;
	c->n_q++;
	return CP_OK;
}

/* The number of the earliest call named name that no earlier response
 * answered (now answered), or GM_NONE. */
static size_t
gm_call_take(struct gm_dec_ctx *c, const char *name)
{
	size_t qi, n;

	if (!pv_map_get(&c->names, name, &qi) || c->q[qi].head == GM_NONE)
		return GM_NONE;
	n = c->q[qi].head;
	c->q[qi].head = c->next[n];
	return n;
}

/* "call_<n>" for call number n (GM_NONE: the next number). */
static int
gm_call_id(struct gm_dec_ctx *c, size_t n, char **out)
{
	char id[32];

	snprintf(id, sizeof(id), "call_%zu", n != GM_NONE ? n : c->n_calls++);
	return (*out = strdup(id)) != NULL ? CP_OK : CP_ENOMEM;
}

/* functionResponse.response -> result text: {"result": s} or {"error": s}
 * give s; anything else its JSON. */
static int
gm_response_text(const cJSON *resp, struct pv_part *p)
{
	const cJSON *only = cJSON_IsObject(resp) && resp->child != NULL &&
	    resp->child->next == NULL ? resp->child : NULL;

	if (only != NULL && strcmp(only->string, "error") == 0) {
		p->is_error = true;
		resp = only;
	} else if (only != NULL && strcmp(only->string, "result") == 0 && cJSON_IsString(only))
		resp = only;
	if (cJSON_IsString(resp))
		p->text = strdup(resp->valuestring);
	else if (resp == NULL)
		p->text = strdup("");
	else
		p->text = json_print(resp);
	return p->text != NULL ? CP_OK : CP_ENOMEM;
}

static int
gm_dec_part(struct gm_dec_ctx *c, const cJSON *pj, struct pv_msg *m, size_t ci, size_t pi)
{
	const cJSON *it, *sig = gm_get(pj, "thoughtSignature", "thought_signature");
	const char *s = NULL, *s2 = NULL;
	struct pv_part *p;
	bool thought = false;

	if (!cJSON_IsObject(pj))
		goto bad;
	if (sig != NULL && !cJSON_IsString(sig))
		goto bad;
	it = gm_get(pj, "thought", NULL);
	thought = cJSON_IsTrue(it);
	if ((it = gm_get(pj, "text", NULL)) != NULL) {
		if (!cJSON_IsString(it))
			goto bad;
		if (thought) {
			if ((p = pv_part_add(m, PV_THINKING)) == NULL || (p->text = strdup(it->valuestring)) == NULL ||
			    (sig != NULL && (p->signature = strdup(sig->valuestring)) == NULL))
				return CP_ENOMEM;
			return CP_OK;
		}
	}
	if (sig != NULL) {
		/* the signature of the thinking before this part: on that
		 * thinking when it is right there, else a thinking of its own */
		p = m->n_parts > 0 ? &m->parts[m->n_parts - 1] : NULL;
		if (p == NULL || p->kind != PV_THINKING || p->signature != NULL || p->redacted)
			p = pv_part_add(m, PV_THINKING);
		if (p == NULL || (p->signature = strdup(sig->valuestring)) == NULL)
			return CP_ENOMEM;
	}
	if (it != NULL) {
		if (it->valuestring[0] == '\0')
			return CP_OK;
		if ((p = pv_part_add(m, PV_TEXT)) == NULL || (p->text = strdup(it->valuestring)) == NULL)
			return CP_ENOMEM;
		return CP_OK;
	}
	if ((it = gm_get(pj, "inlineData", "inline_data")) != NULL) {
		if (pv_get_str(it, "mimeType", "", &s, NULL, 0) != CP_OK &&
		    pv_get_str(it, "mime_type", "", &s, NULL, 0) != CP_OK)
			goto bad;
		if (pv_get_str(it, "data", "", &s2, NULL, 0) != CP_OK)
			goto bad;
		if ((p = pv_part_add(m, PV_IMAGE)) == NULL || (p->mime = strdup(s)) == NULL ||
		    (p->data = strdup(s2)) == NULL)
			return CP_ENOMEM;
		return CP_OK;
	}
	if ((it = gm_get(pj, "fileData", "file_data")) != NULL) {
		if (pv_get_str(it, "fileUri", "", &s2, NULL, 0) != CP_OK &&
		    pv_get_str(it, "file_uri", "", &s2, NULL, 0) != CP_OK)
			goto bad;
		if (pv_get_str(it, "mimeType", "", &s, NULL, 0) != CP_OK &&
		    pv_get_str(it, "mime_type", "", &s, NULL, 0) != CP_OK)
			s = NULL;
		if ((p = pv_part_add(m, PV_IMAGE)) == NULL || (p->url = strdup(s2)) == NULL ||
		    (s != NULL && (p->mime = strdup(s)) == NULL))
			return CP_ENOMEM;
		return CP_OK;
	}
	if ((it = gm_get(pj, "functionCall", "function_call")) != NULL) {
		const cJSON *args = gm_get(it, "args", NULL);

		if (pv_get_str(it, "name", "", &s, NULL, 0) != CP_OK || s[0] == '\0' ||
		    (args != NULL && !cJSON_IsObject(args)))
			goto bad;
		if (gm_call_add(c, s, c->n_calls) != CP_OK)
			return CP_ENOMEM;
		if ((p = pv_part_add(m, PV_TOOL_CALL)) == NULL || gm_call_id(c, GM_NONE, &p->id) != CP_OK ||
		    (p->name = strdup(s)) == NULL ||
		    (p->args = args != NULL ? json_print(args) : strdup("{}")) == NULL)
			return CP_ENOMEM;
		return CP_OK;
	}
	if ((it = gm_get(pj, "functionResponse", "function_response")) != NULL) {
		if (pv_get_str(it, "name", "", &s, NULL, 0) != CP_OK || s[0] == '\0')
			goto bad;
		if ((p = pv_part_add(m, PV_TOOL_RESULT)) == NULL || (p->name = strdup(s)) == NULL ||
		    gm_call_id(c, gm_call_take(c, s), &p->id) != CP_OK)
			return CP_ENOMEM;
		return gm_response_text(gm_get(it, "response", NULL), p);
	}
	if (gm_get(pj, "executableCode", "executable_code") != NULL ||
	    gm_get(pj, "codeExecutionResult", "code_execution_result") != NULL ||
	    gm_get(pj, "videoMetadata", "video_metadata") != NULL || sig != NULL) {
		log_debug("gemini: contents[%zu].parts[%zu]: part kind dropped", ci, pi);
		return CP_OK;
	}
bad:
	cp_seterr(c->err, c->errlen, "contents[%zu].parts[%zu]: must hold text, inlineData, "
	    "fileData, functionCall (with a name) or functionResponse (with a name)", ci, pi);
	return CP_EINVAL;
}

static int
gm_dec_contents(struct gm_dec_ctx *c, const cJSON *contents)
{
	const cJSON *cj, *parts, *pj;
	const char *role;
	struct pv_msg *m;
	size_t i = 0, j;
	int rc;

	if (!cJSON_IsArray(contents)) {
		cp_seterr(c->err, c->errlen, "contents: must be an array");
		return CP_EINVAL;
	}
	cJSON_ArrayForEach(cj, contents) {
		role = "user";
		if (!cJSON_IsObject(cj) || pv_get_str(cj, "role", "", &role, NULL, 0) == CP_EINVAL ||
		    (strcmp(role, "user") != 0 && strcmp(role, "model") != 0 &&
		    strcmp(role, "function") != 0 && strcmp(role, "tool") != 0)) {
			cp_seterr(c->err, c->errlen, "contents[%zu].role: must be \"user\" or \"model\"", i);
			return CP_EINVAL;
		}
		parts = gm_get(cj, "parts", NULL);
		if (!cJSON_IsArray(parts)) {
			cp_seterr(c->err, c->errlen, "contents[%zu].parts: must be an array", i);
			return CP_EINVAL;
		}
		if ((m = pv_msg_add(c->r, strcmp(role, "model") == 0 ? PV_ASSISTANT : PV_USER)) == NULL)
			return CP_ENOMEM;
		j = 0;
		cJSON_ArrayForEach(pj, parts)
			if ((rc = gm_dec_part(c, pj, m, i, j++)) != CP_OK)
				return rc;
		i++;
	}
	return CP_OK;
}

static int
gm_dec_system(struct gm_dec_ctx *c, const cJSON *si)
{
	const cJSON *parts, *p, *t;
	struct buf b;
	int rc = CP_EINVAL;

	if (cJSON_IsString(si))
		return (c->r->system = strdup(si->valuestring)) != NULL ? CP_OK : CP_ENOMEM;
	parts = gm_get(si, "parts", NULL);
	if (!cJSON_IsArray(parts)) {
		cp_seterr(c->err, c->errlen, "systemInstruction.parts: must be an array");
		return CP_EINVAL;
	}
	buf_init(&b, PV_ANSWER_MAX);
	cJSON_ArrayForEach(p, parts) {
		t = gm_get(p, "text", NULL);
		if (t == NULL) {
			log_debug("gemini: a systemInstruction part without text dropped");
			continue;
		}
		if (!cJSON_IsString(t)) {
			cp_seterr(c->err, c->errlen, "systemInstruction.parts[].text: must be a string");
			goto out;
		}
		if ((b.len > 0 && buf_appends(&b, "\n") != CP_OK) || buf_appends(&b, t->valuestring) != CP_OK) {
			rc = CP_ETOOBIG;
			goto out;
		}
	}
	rc = (c->r->system = buf_steal(&b, NULL)) != NULL ? CP_OK : CP_ENOMEM;
out:
	buf_release(&b);
	return rc;
}

static int
gm_dec_tools(struct gm_dec_ctx *c, const cJSON *tools)
{
	const cJSON *t, *decls, *d, *schema;
	const char *name = NULL, *desc = NULL;
	struct pv_tool *pt;
	size_t i = 0, j;
	int rc;

	if (!cJSON_IsArray(tools)) {
		cp_seterr(c->err, c->errlen, "tools: must be an array");
		return CP_EINVAL;
	}
	cJSON_ArrayForEach(t, tools) {
		decls = gm_get(t, "functionDeclarations", "function_declarations");
		if (decls == NULL) {
			log_debug("gemini: tools[%zu]: a built-in tool (search, code execution) dropped", i);
			i++;
			continue;
		}
		if (!cJSON_IsArray(decls)) {
			cp_seterr(c->err, c->errlen, "tools[%zu].functionDeclarations: must be an array", i);
			return CP_EINVAL;
		}
		j = 0;
		cJSON_ArrayForEach(d, decls) {
			schema = gm_get(d, "parametersJsonSchema", "parameters_json_schema");
			if (schema == NULL)
				schema = gm_get(d, "parameters", NULL);
			desc = NULL;
			if (pv_get_str(d, "name", "", &name, NULL, 0) != CP_OK || name[0] == '\0' ||
			    pv_get_str(d, "description", "", &desc, NULL, 0) == CP_EINVAL ||
			    (schema != NULL && !cJSON_IsObject(schema))) {
				cp_seterr(c->err, c->errlen, "tools[%zu].functionDeclarations[%zu]: "
				    "a name and an object of parameters are required", i, j);
				return CP_EINVAL;
			}
			if (schema != NULL && (rc = pv_schema_check(schema)) != CP_OK) {
				char what[64];

				snprintf(what, sizeof(what), "tools[%zu].functionDeclarations[%zu]", i, j);
				return pv_schema_refused(rc, what, c->err, c->errlen);
			}
			if ((pt = pv_tool_add(c->r)) == NULL || (pt->name = strdup(name)) == NULL ||
			    (desc != NULL && (pt->description = strdup(desc)) == NULL) ||
			    (schema != NULL && (pt->schema = cJSON_Duplicate(schema, true)) == NULL))
				return CP_ENOMEM;
			j++;
		}
		i++;
	}
	return CP_OK;
}

static int
gm_dec_tool_config(struct gm_dec_ctx *c, const cJSON *tc)
{
	const cJSON *fc = gm_get(tc, "functionCallingConfig", "function_calling_config"), *names;
	const char *mode = NULL;
	struct pv_request *r = c->r;

	if (fc == NULL)
		return CP_OK;
	if (pv_get_str(fc, "mode", "", &mode, NULL, 0) == CP_EINVAL)
		goto bad;
	names = gm_get(fc, "allowedFunctionNames", "allowed_function_names");
	if (names != NULL && !cJSON_IsArray(names))
		goto bad;
	if (mode == NULL || strcmp(mode, "MODE_UNSPECIFIED") == 0)
		return CP_OK;
	if (strcmp(mode, "AUTO") == 0 || strcmp(mode, "VALIDATED") == 0)
		r->tool_choice = PV_TC_AUTO;
	else if (strcmp(mode, "NONE") == 0)
		r->tool_choice = PV_TC_NONE;
	else if (strcmp(mode, "ANY") == 0) {
		r->tool_choice = PV_TC_ANY;
		if (cJSON_GetArraySize(names) == 1 && cJSON_IsString(names->child)) {
			r->tool_choice = PV_TC_TOOL;
			if ((r->tool_choice_name = strdup(names->child->valuestring)) == NULL)
				return CP_ENOMEM;
		} else if (cJSON_GetArraySize(names) > 1)
			log_debug("gemini: allowedFunctionNames of several tools sent as any tool");
	} else
		goto bad;
	return CP_OK;
bad:
	cp_seterr(c->err, c->errlen, "toolConfig.functionCallingConfig: mode must be AUTO, ANY, "
	    "NONE or VALIDATED and allowedFunctionNames an array");
	return CP_EINVAL;
}

static int
gm_dec_gen(struct gm_dec_ctx *c, const cJSON *g)
{
	static const char *const path = "generationConfig";
	struct pv_request *r = c->r;
	const cJSON *it, *tc;
	const char *s = NULL;
	long long n;
	double d;
	bool b;
	size_t i;

	if (!cJSON_IsObject(g)) {
		cp_seterr(c->err, c->errlen, "generationConfig: must be an object");
		return CP_EINVAL;
	}
#define GM_OPT(call, set) switch (call) { case CP_OK: set; break; case CP_EINVAL: return CP_EINVAL; default: break; }
	GM_OPT(pv_get_int(g, "maxOutputTokens", path, 1, 1LL << 40, &n, c->err, c->errlen), r->max_tokens = n)
	GM_OPT(pv_get_num(g, "temperature", path, 0, 2, &d, c->err, c->errlen), r->temperature = d)
	GM_OPT(pv_get_num(g, "topP", path, 0, 1, &d, c->err, c->errlen), r->top_p = d)
	GM_OPT(pv_get_int(g, "topK", path, 0, 1LL << 40, &n, c->err, c->errlen), r->top_k = n)
	GM_OPT(pv_get_int(g, "candidateCount", path, 1, 1, &n, c->err, c->errlen), (void)n)
	if ((it = gm_get(g, "stopSequences", "stop_sequences")) != NULL) {
		const cJSON *e;

		if (!cJSON_IsArray(it))
			goto badstop;
		cJSON_ArrayForEach(e, it) {
			if (!cJSON_IsString(e))
				goto badstop;
			if (pv_stop_add(r, e->valuestring) != CP_OK)
				return CP_ENOMEM;
		}
	}
	if ((tc = gm_get(g, "thinkingConfig", "thinking_config")) != NULL) {
		if (!cJSON_IsObject(tc)) {
			cp_seterr(c->err, c->errlen, "generationConfig.thinkingConfig: must be an object");
			return CP_EINVAL;
		}
		/* -1 is "dynamic": Gemini's default, the pivot's unset */
		GM_OPT(pv_get_int(tc, "thinkingBudget", "generationConfig.thinkingConfig", -1,
		    1LL << 40, &n, c->err, c->errlen), r->budget = n)
		if (r->budget == 0)
			r->effort = PV_EFFORT_NONE;
		GM_OPT(pv_get_bool(tc, "includeThoughts", "generationConfig.thinkingConfig", &b,
		    c->err, c->errlen), r->want_thoughts = b)
		GM_OPT(pv_get_str(tc, "thinkingLevel", "generationConfig.thinkingConfig", &s,
		    c->err, c->errlen), (void)s)
		if (s != NULL) {
			for (i = 0; i < sizeof(gm_levels) / sizeof(gm_levels[0]); i++)
				if (strcasecmp(s, gm_levels[i].name) == 0)
					r->effort = gm_levels[i].effort;
			if (r->effort == PV_EFFORT_UNSET && strcasecmp(s, "THINKING_LEVEL_UNSPECIFIED") != 0) {
				cp_seterr(c->err, c->errlen, "generationConfig.thinkingConfig.thinkingLevel: "
				    "must be minimal, low, medium or high");
				return CP_EINVAL;
			}
		}
	}
#undef GM_OPT
	return CP_OK;
badstop:
	cp_seterr(c->err, c->errlen, "generationConfig.stopSequences: must be an array of strings");
	return CP_EINVAL;
}

static int
gm_decode_request(const cJSON *req, const char *path_model, bool path_stream,
    struct pv_request *r, char *err, size_t errlen)
{
	struct gm_dec_ctx c = { .r = r, .n_calls = 0, .err = err, .errlen = errlen };
	const cJSON *it, *inner;
	int rc = CP_EINVAL;

	pv_map_init(&c.names);
	pv_request_init(r);
	if (!cJSON_IsObject(req)) {
		cp_seterr(err, errlen, "request body must be a JSON object");
		goto out;
	}
	if (path_model == NULL || path_model[0] == '\0') {
		cp_seterr(err, errlen, "the model is missing from the path");
		goto out;
	}
	/* countTokens may wrap the whole request */
	inner = gm_get(req, "generateContentRequest", "generate_content_request");
	if (cJSON_IsObject(inner) && gm_get(req, "contents", NULL) == NULL)
		req = inner;
	if ((r->model = strdup(path_model)) == NULL)
		goto nomem;
	r->stream = path_stream;
	if ((it = gm_get(req, "contents", NULL)) == NULL) {
		cp_seterr(err, errlen, "contents: field required");
		goto out;
	}
	if ((rc = gm_dec_contents(&c, it)) != CP_OK)
		goto out;
	if ((it = gm_get(req, "systemInstruction", "system_instruction")) != NULL &&
	    (rc = gm_dec_system(&c, it)) != CP_OK)
		goto out;
	if ((it = gm_get(req, "tools", NULL)) != NULL && (rc = gm_dec_tools(&c, it)) != CP_OK)
		goto out;
	if ((it = gm_get(req, "toolConfig", "tool_config")) != NULL &&
	    (rc = gm_dec_tool_config(&c, it)) != CP_OK)
		goto out;
	if ((it = gm_get(req, "generationConfig", "generation_config")) != NULL &&
	    (rc = gm_dec_gen(&c, it)) != CP_OK)
		goto out;
	if (pv_normalize(r) != CP_OK)
		goto nomem;
	rc = CP_OK;
	goto out;
nomem:
	rc = CP_ENOMEM;
	cp_seterr(err, errlen, "out of memory");
out:
	pv_map_release(&c.names);
	free(c.q);
	free(c.next);
	if (rc != CP_OK)
		pv_request_release(r);
	return rc;
}

/* ------------------------------------------------------ encode_request */

static bool
gm_has_levels(const char *model)
{
	/* thinkingLevel is Gemini 3's; 2.x models take a budget */
	return model != NULL && strstr(model, "gemini-3") != NULL;
}

static bool
gm_add_str(cJSON *o, const char *k, const char *v)
{
	return cJSON_AddStringToObject(o, k, v != NULL ? v : "") != NULL;
}

/* The functionResponse.response object of a result. */
static cJSON *
gm_response_obj(const struct pv_part *p)
{
	cJSON *v = p->text != NULL && p->text[0] == '{' ? cJSON_Parse(p->text) : NULL, *o;

	if (v != NULL && !cJSON_IsObject(v)) {
		cJSON_Delete(v);
		v = NULL;
	}
	if (v != NULL && !p->is_error)
		return v;
	if ((o = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(v);
		return NULL;
	}
	if (v == NULL)
		v = cJSON_CreateString(p->text != NULL ? p->text : "");
	if (!cJSON_AddItemToObject(o, p->is_error ? "error" : "result", v)) {
		cJSON_Delete(v);
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The Gemini part of a pivot part (NULL *out: dropped). */
static int
gm_enc_part(const struct pv_request *r, const struct pv_part *p, cJSON **out)
{
	cJSON *o = cJSON_CreateObject(), *x;

	*out = NULL;
	if (o == NULL)
		return CP_ENOMEM;
	switch (p->kind) {
	case PV_TEXT:
		if (p->text == NULL || p->text[0] == '\0')
			goto drop;
		if (!gm_add_str(o, "text", p->text))
			goto nomem;
		break;
	case PV_THINKING:
		if (p->redacted || pv_sig_openai(p->signature)) {
			/* OpenAI's reasoning is not Gemini's to read */
			log_debug("gemini: redacted or OpenAI thinking dropped");
			goto drop;
		}
		/* the signature goes on the next part (gm_enc_parts) */
		if (p->text == NULL || p->text[0] == '\0')
			goto drop;
		if (!gm_add_str(o, "text", p->text) || cJSON_AddTrueToObject(o, "thought") == NULL)
			goto nomem;
		break;
	case PV_IMAGE:
		if (p->data != NULL) {
			if ((x = cJSON_AddObjectToObject(o, "inlineData")) == NULL ||
			    !gm_add_str(x, "mimeType", p->mime != NULL ? p->mime : "image/png") ||
			    !gm_add_str(x, "data", p->data))
				goto nomem;
		} else if (p->url != NULL) {
			if ((x = cJSON_AddObjectToObject(o, "fileData")) == NULL ||
			    (p->mime != NULL && !gm_add_str(x, "mimeType", p->mime)) ||
			    !gm_add_str(x, "fileUri", p->url))
				goto nomem;
		} else
			goto drop;
		break;
	case PV_TOOL_CALL:
		if ((x = cJSON_AddObjectToObject(o, "functionCall")) == NULL ||
		    !gm_add_str(x, "name", p->name) || !cJSON_AddItemToObject(x, "args", pv_args_object(p->args)))
			goto nomem;
		break;
	case PV_TOOL_RESULT:
		if ((x = cJSON_AddObjectToObject(o, "functionResponse")) == NULL ||
		    !gm_add_str(x, "name", p->name != NULL ? p->name : p->id != NULL ? p->id : "unknown") ||
		    !cJSON_AddItemToObject(x, "response", gm_response_obj(p)))
			goto nomem;
		break;
	}
	(void)r;
	*out = o;
	return CP_OK;
drop:
	cJSON_Delete(o);
	return CP_OK;
nomem:
	cJSON_Delete(o);
	return CP_ENOMEM;
}

/* A part {"text": "", "thoughtSignature": sig}: a signature with no part
 * after it (Gemini writes the same). */
static cJSON *
gm_sig_part(const char *sig)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !gm_add_str(o, "text", "") || !gm_add_str(o, "thoughtSignature", sig)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Append the parts of pivot message m to parts; a thinking's signature
 * goes on the first part after the thoughts. */
static int
gm_enc_parts(const struct pv_request *r, const struct pv_msg *m, cJSON *parts)
{
	const char *sig = NULL;
	cJSON *o;
	size_t j;
	int rc;

	for (j = 0; j < m->n_parts; j++) {
		const struct pv_part *p = &m->parts[j];
		bool thought = p->kind == PV_THINKING;

		if ((rc = gm_enc_part(r, p, &o)) != CP_OK)
			return rc;
		if (o != NULL && !thought && sig != NULL) {
			if (!gm_add_str(o, "thoughtSignature", sig)) {
				cJSON_Delete(o);
				return CP_ENOMEM;
			}
			sig = NULL;
		}
		if (o != NULL)
			cJSON_AddItemToArray(parts, o);
		if (thought && !p->redacted && p->signature != NULL && !pv_sig_openai(p->signature)) {
			/* a second signature before any other part: the first
			 * one stands alone */
			if (sig != NULL && ((o = gm_sig_part(sig)) == NULL || !cJSON_AddItemToArray(parts, o)))
				return CP_ENOMEM;
			sig = p->signature;
		}
	}
	if (sig != NULL && ((o = gm_sig_part(sig)) == NULL || !cJSON_AddItemToArray(parts, o)))
		return CP_ENOMEM;
	return CP_OK;
}

/* Gemini 3 wants a signature on the first functionCall of a model turn. */
static int
gm_sig_placeholder(const struct pv_request *r, cJSON *content)
{
	cJSON *p;

	if (!gm_has_levels(r->model))
		return CP_OK;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(content, "parts")) {
		if (!cJSON_HasObjectItem(p, "functionCall"))
			continue;
		if (!cJSON_HasObjectItem(p, "thoughtSignature") &&
		    !gm_add_str(p, "thoughtSignature", GM_SIG_PLACEHOLDER))
			return CP_ENOMEM;
		break;
	}
	return CP_OK;
}

static int
gm_enc_contents(const struct pv_request *r, cJSON *root)
{
	cJSON *contents, *content = NULL, *parts = NULL;
	enum pv_role role = PV_USER;
	size_t i;
	int rc;

	if ((contents = cJSON_AddArrayToObject(root, "contents")) == NULL)
		return CP_ENOMEM;
	for (i = 0; i < r->n_msgs; i++) {
		const struct pv_msg *m = &r->msgs[i];

		if (content == NULL || m->role != role) {
			/* consecutive turns of one role are one content */
			if (content != NULL && cJSON_GetArraySize(parts) == 0)
				cJSON_DeleteItemFromArray(contents, cJSON_GetArraySize(contents) - 1);
			else if (content != NULL && role == PV_ASSISTANT &&
			    gm_sig_placeholder(r, content) != CP_OK)
				return CP_ENOMEM;
			if ((content = cJSON_CreateObject()) == NULL ||
			    !cJSON_AddItemToArray(contents, content)) {
				cJSON_Delete(content);
				return CP_ENOMEM;
			}
			role = m->role;
			if (!gm_add_str(content, "role", role == PV_USER ? "user" : "model") ||
			    (parts = cJSON_AddArrayToObject(content, "parts")) == NULL)
				return CP_ENOMEM;
		}
		if ((rc = gm_enc_parts(r, m, parts)) != CP_OK)
			return rc;
	}
	if (content != NULL && cJSON_GetArraySize(parts) == 0)
		cJSON_DeleteItemFromArray(contents, cJSON_GetArraySize(contents) - 1);
	else if (content != NULL && role == PV_ASSISTANT && gm_sig_placeholder(r, content) != CP_OK)
		return CP_ENOMEM;
	return CP_OK;
}

static int
gm_enc_tools(const struct pv_request *r, cJSON *root)
{
	cJSON *tools, *t, *decls, *d, *fc, *names, *schema = NULL;
	const char *mode = NULL;
	size_t i;
	int rc;

	if (r->n_tools == 0)
		return CP_OK;
	if ((tools = cJSON_AddArrayToObject(root, "tools")) == NULL ||
	    (t = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(tools, t) ||
	    (decls = cJSON_AddArrayToObject(t, "functionDeclarations")) == NULL)
		return CP_ENOMEM;
	for (i = 0; i < r->n_tools; i++) {
		if ((d = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(decls, d) ||
		    !gm_add_str(d, "name", r->tools[i].name) ||
		    (r->tools[i].description != NULL && !gm_add_str(d, "description", r->tools[i].description)))
			return CP_ENOMEM;
		if (r->tools[i].schema == NULL)
			continue;
		if ((rc = pv_schema_for_gemini(r->tools[i].schema, &schema)) != CP_OK)
			return rc;
		if (!cJSON_AddItemToObject(d, "parameters", schema)) {
			cJSON_Delete(schema);
			return CP_ENOMEM;
		}
	}
	switch (r->tool_choice) {
	case PV_TC_AUTO: mode = "AUTO"; break;
	case PV_TC_NONE: mode = "NONE"; break;
	case PV_TC_ANY: case PV_TC_TOOL: mode = "ANY"; break;
	default: break;
	}
	if (r->parallel_tools_off)
		log_debug("gemini: no way to ask for one tool call per turn: dropped");
	if (mode == NULL)
		return CP_OK;
	if ((t = cJSON_AddObjectToObject(root, "toolConfig")) == NULL ||
	    (fc = cJSON_AddObjectToObject(t, "functionCallingConfig")) == NULL ||
	    !gm_add_str(fc, "mode", mode))
		return CP_ENOMEM;
	if (r->tool_choice == PV_TC_TOOL &&
	    ((names = cJSON_AddArrayToObject(fc, "allowedFunctionNames")) == NULL ||
	    !cJSON_AddItemToArray(names, cJSON_CreateString(r->tool_choice_name != NULL ?
	    r->tool_choice_name : ""))))
		return CP_ENOMEM;
	return CP_OK;
}

static int
gm_enc_gen(const struct pv_request *r, cJSON *root)
{
	cJSON *g = cJSON_CreateObject(), *a, *tc = NULL;
	long long budget = r->budget;
	size_t i;
	int rc = CP_ENOMEM;

	if (g == NULL)
		return CP_ENOMEM;
	if (r->max_tokens > 0 && cJSON_AddNumberToObject(g, "maxOutputTokens", (double)r->max_tokens) == NULL)
		goto out;
	if (r->temperature >= 0 && cJSON_AddNumberToObject(g, "temperature", r->temperature) == NULL)
		goto out;
	if (r->top_p >= 0 && cJSON_AddNumberToObject(g, "topP", r->top_p) == NULL)
		goto out;
	if (r->top_k >= 0 && cJSON_AddNumberToObject(g, "topK", (double)r->top_k) == NULL)
		goto out;
	if (r->n_stop > 0) {
		if ((a = cJSON_AddArrayToObject(g, "stopSequences")) == NULL)
			goto out;
		for (i = 0; i < r->n_stop && i < GM_STOP_MAX; i++)
			if (!cJSON_AddItemToArray(a, cJSON_CreateString(r->stop[i])))
				goto out;
		if (r->n_stop > GM_STOP_MAX)
			log_debug("gemini: stop sequences past %d dropped", GM_STOP_MAX);
	}
	if (budget >= 0 || r->effort != PV_EFFORT_UNSET || r->want_thoughts) {
		if ((tc = cJSON_AddObjectToObject(g, "thinkingConfig")) == NULL)
			goto out;
		if (budget < 0 && r->effort != PV_EFFORT_UNSET && r->effort != PV_EFFORT_NONE &&
		    gm_has_levels(r->model) && (unsigned)r->effort <= PV_EFFORT_HIGH) {
			for (i = 0; i < sizeof(gm_levels) / sizeof(gm_levels[0]); i++)
				if (gm_levels[i].effort == r->effort &&
				    !gm_add_str(tc, "thinkingLevel", gm_levels[i].name))
					goto out;
		} else {
			if (budget < 0 && (unsigned)r->effort <= PV_EFFORT_HIGH)
				budget = gm_effort_budget[r->effort];
			if (budget >= 0 && cJSON_AddNumberToObject(tc, "thinkingBudget", (double)budget) == NULL)
				goto out;
		}
		if (r->want_thoughts && budget != 0 && cJSON_AddTrueToObject(tc, "includeThoughts") == NULL)
			goto out;
		if (tc->child == NULL)
			cJSON_DeleteItemFromObjectCaseSensitive(g, "thinkingConfig");
	}
	if (g->child == NULL) {
		rc = CP_OK;
		goto out;
	}
	if (!cJSON_AddItemToObject(root, "generationConfig", g))
		goto out;
	return CP_OK;
out:
	cJSON_Delete(g);
	return rc;
}

/* The request as it is (encode_request renames tools first). */
static int
gm_encode_named(const struct pv_request *r, cJSON **out)
{
	cJSON *root = NULL, *si, *parts, *p;
	int rc = CP_ENOMEM;

	*out = NULL;
	if ((root = cJSON_CreateObject()) == NULL)
		goto out;
	if ((rc = gm_enc_contents(r, root)) != CP_OK)
		goto out;
	rc = CP_ENOMEM;
	if (r->system != NULL && r->system[0] != '\0') {
		if ((si = cJSON_AddObjectToObject(root, "systemInstruction")) == NULL ||
		    (parts = cJSON_AddArrayToObject(si, "parts")) == NULL ||
		    (p = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(parts, p) ||
		    !gm_add_str(p, "text", r->system))
			goto out;
	}
	if ((rc = gm_enc_tools(r, root)) != CP_OK || (rc = gm_enc_gen(r, root)) != CP_OK)
		goto out;
	*out = root;
	root = NULL;
	rc = CP_OK;
out:
	cJSON_Delete(root);
	return rc;
}

static int
gm_encode_request(const struct pv_request *r, cJSON **out)
{
	return pv_encode_named(r, FMT_GEMINI, gm_encode_named, out);
}

/* ---------------------------------------------------- upstream decoder */

struct pv_dec {
	bool stream;             /* ?alt=sse, else one JSON document (or array) */
	struct sse_parser sse;   /* stream parser */
	struct buf body;         /* JSON answer bytes */
	bool started;            /* START emitted */
	bool stopped;            /* STOP emitted */
	bool usage_seen;         /* a usageMetadata came */
	bool usage_dirty;        /* usage changed since the last USAGE event */
	struct pv_usage usage;   /* the last usageMetadata */
	int n_tools;             /* calls so far (call_<n>) */
	pv_emit_fn emit;         /* during a feed */
	void *arg;               /* its argument */
};

static struct pv_dec *
gm_dec_new(bool stream)
{
	struct pv_dec *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->stream = stream;
	sse_init(&d->sse);
	buf_init(&d->body, PV_ANSWER_MAX);
	return d;
}

static void
gm_dec_free(struct pv_dec *d)
{
	if (d == NULL)
		return;
	sse_release(&d->sse);
	buf_release(&d->body);
	free(d);
}

static int
gm_emit(struct pv_dec *d, enum pv_ev_kind kind, const char *text, int index)
{
	return pv_emit_text(d->emit, d->arg, kind, text, index);
}

static int
gm_part_events(struct pv_dec *d, const cJSON *p)
{
	const cJSON *sig = gm_get(p, "thoughtSignature", "thought_signature"), *it, *fc;
	struct pv_event ev;
	const char *s = NULL;
	char id[32], *args;
	bool thought = cJSON_IsTrue(gm_get(p, "thought", NULL));
	int rc;

	if (!cJSON_IsString(sig))
		sig = NULL;
	it = gm_get(p, "text", NULL);
	if (thought && cJSON_IsString(it)) {
		if (it->valuestring[0] != '\0' && (rc = gm_emit(d, PV_EV_THINKING, it->valuestring, 0)) != CP_OK)
			return rc;
		return sig != NULL ? gm_emit(d, PV_EV_THINKING_SIG, sig->valuestring, 0) : CP_OK;
	}
	if (sig != NULL && (rc = gm_emit(d, PV_EV_THINKING_SIG, sig->valuestring, 0)) != CP_OK)
		return rc;
	if (cJSON_IsString(it))
		return it->valuestring[0] != '\0' ? gm_emit(d, PV_EV_TEXT, it->valuestring, 0) : CP_OK;
	if ((fc = gm_get(p, "functionCall", "function_call")) != NULL) {
		int idx = d->n_tools++;

		(void)pv_get_str(fc, "name", "", &s, NULL, 0);
		snprintf(id, sizeof(id), "call_%d", idx);
		memset(&ev, 0, sizeof(ev));
		ev.kind = PV_EV_TOOL_START;
		ev.id = id;
		ev.name = s != NULL ? s : "";
		ev.index = idx;
		if ((rc = d->emit(&ev, d->arg)) != CP_OK)
			return rc;
		it = gm_get(fc, "args", NULL);
		if ((args = cJSON_IsObject(it) ? json_print(it) : strdup("{}")) == NULL)
			return CP_ENOMEM;
		rc = gm_emit(d, PV_EV_TOOL_ARGS, args, idx);
		free(args);
		return rc != CP_OK ? rc : gm_emit(d, PV_EV_TOOL_END, NULL, idx);
	}
	log_debug("gemini: a part of the answer without text or functionCall dropped");
	return CP_OK;
}

static int
gm_emit_usage(struct pv_dec *d)
{
	struct pv_event ev;

	if (!d->usage_dirty)
		return CP_OK;
	d->usage_dirty = false;
	memset(&ev, 0, sizeof(ev));
	ev.kind = PV_EV_USAGE;
	ev.usage = d->usage;
	return d->emit(&ev, d->arg);
}

static int
gm_emit_stop(struct pv_dec *d, enum pv_stop stop)
{
	struct pv_event ev;
	int rc;

	if (d->stopped)
		return CP_OK;
	if ((rc = gm_emit_usage(d)) != CP_OK)
		return rc;
	d->stopped = true;
	memset(&ev, 0, sizeof(ev));
	ev.kind = PV_EV_STOP;
	ev.stop = stop == PV_STOP_END && d->n_tools > 0 ? PV_STOP_TOOL : stop;
	return d->emit(&ev, d->arg);
}

/* One GenerateContentResponse (a stream chunk or the whole answer). */
static int
gm_response(struct pv_dec *d, const cJSON *root)
{
	const cJSON *cand, *parts, *p, *u, *fb, *e;
	const char *s = NULL, *fr = NULL;
	struct pv_event ev;
	size_t i;
	int rc;

	if (!cJSON_IsObject(root))
		return CP_EPARSE;
	/* the Gemini CLI backend wraps every answer in "response" */
	if (cJSON_IsObject(gm_get(root, "response", NULL)) && gm_get(root, "candidates", NULL) == NULL)
		root = gm_get(root, "response", NULL);
	if ((e = gm_get(root, "error", NULL)) != NULL) {
		memset(&ev, 0, sizeof(ev));
		ev.kind = PV_EV_ERROR;
		(void)pv_get_str(e, "message", "", &s, NULL, 0);
		ev.text = s != NULL ? s : "upstream error";
		ev.len = strlen(ev.text);
		ev.status = pv_json_count(e, "code") > 0 && pv_json_count(e, "code") < 1000 ? (int)pv_json_count(e, "code") : 500;
		return d->emit(&ev, d->arg);
	}
	if (!d->started) {
		d->started = true;
		memset(&ev, 0, sizeof(ev));
		ev.kind = PV_EV_START;
		(void)pv_get_str(root, "responseId", "", &ev.id, NULL, 0);
		(void)pv_get_str(root, "modelVersion", "", &ev.model, NULL, 0);
		if ((rc = d->emit(&ev, d->arg)) != CP_OK)
			return rc;
	}
	if ((u = gm_get(root, "usageMetadata", "usage_metadata")) != NULL && cJSON_IsObject(u)) {
		long long cand_n = pv_json_count(u, "candidatesTokenCount"), th = pv_json_count(u, "thoughtsTokenCount");

		d->usage_dirty = true;
		d->usage.input = pv_json_count(u, "promptTokenCount");
		d->usage.cached = pv_json_count(u, "cachedContentTokenCount");
		d->usage.reasoning = th;
		d->usage.output = cand_n < 0 && th < 0 ? -1 : (cand_n > 0 ? cand_n : 0) + (th > 0 ? th : 0);
		/* the first usage goes out before the content (a Claude
		 * client's message_start carries the input tokens); later
		 * ones only with the stop */
		if (!d->usage_seen && !d->stopped) {
			d->usage_seen = true;
			if ((rc = gm_emit_usage(d)) != CP_OK)
				return rc;
		}
	}
	cand = gm_get(root, "candidates", NULL);
	cand = cJSON_IsArray(cand) ? cand->child : NULL;
	if (cand == NULL) {
		fb = gm_get(root, "promptFeedback", "prompt_feedback");
		if (pv_get_str(fb, "blockReason", "", &s, NULL, 0) == CP_OK)
			return gm_emit_stop(d, PV_STOP_FILTER);
		return CP_OK;
	}
	parts = gm_get(gm_get(cand, "content", NULL), "parts", NULL);
	cJSON_ArrayForEach(p, parts)
		if ((rc = gm_part_events(d, p)) != CP_OK)
			return rc;
	if (pv_get_str(cand, "finishReason", "", &fr, NULL, 0) == CP_OK &&
	    strcmp(fr, "FINISH_REASON_UNSPECIFIED") != 0) {
		enum pv_stop stop = PV_STOP_ERROR;

		for (i = 0; i < sizeof(gm_stops) / sizeof(gm_stops[0]); i++)
			if (strcmp(fr, gm_stops[i].name) == 0) {
				stop = gm_stops[i].stop;
				break;
			}
		return gm_emit_stop(d, stop);
	}
	return CP_OK;
}

static int
gm_on_sse(const struct sse_event *se, void *arg)
{
	struct pv_dec *d = arg;
	cJSON *root = NULL;
	int rc;

	if ((rc = pv_parse_answer(se->data, se->data_len, &root)) != CP_OK)
		return CP_EPARSE;
	rc = gm_response(d, root);
	cJSON_Delete(root);
	return rc;
}

static int
gm_dec_feed(struct pv_dec *d, const char *data, size_t len, pv_emit_fn emit, void *arg)
{
	int rc;

	if (!d->stream)
		return buf_append(&d->body, data, len);
	d->emit = emit;
	d->arg = arg;
	rc = sse_feed(&d->sse, data, len, gm_on_sse, d);
	return rc == CP_ETOOBIG ? CP_EPARSE : rc;
}

static int
gm_dec_finish(struct pv_dec *d, pv_emit_fn emit, void *arg)
{
	const cJSON *it;
	cJSON *root = NULL;
	int rc;

	d->emit = emit;
	d->arg = arg;
	if (d->stream) {
		rc = sse_feed(&d->sse, "\n\n", 2, gm_on_sse, d);
		if (rc == CP_ETOOBIG)
			rc = CP_EPARSE;
	} else if ((rc = pv_parse_answer(d->body.p, d->body.len, &root)) == CP_OK) {
		if (cJSON_IsArray(root)) {
			/* streamGenerateContent without alt=sse: a JSON array */
			cJSON_ArrayForEach(it, root)
				if ((rc = gm_response(d, it)) != CP_OK)
					break;
		} else
			rc = gm_response(d, root);
	}
	cJSON_Delete(root);
	if (rc == CP_OK && !d->stopped)
		rc = gm_emit_usage(d);
	return rc;
}

/* ------------------------------------------------------- client encoder */

struct pv_enc {
	struct pv_enc_base b;    /* options and the answer so far */
	cJSON *pending;          /* stream: the part of the next chunk, or NULL */
	char *sig;               /* a signature waiting for the next part */
	size_t chunks;           /* stream chunks written */
	bool errored;            /* an error was written: nothing follows */
};

static struct pv_enc *
gm_enc_new(const struct pv_enc_opts *o)
{
	struct pv_enc *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	if (pv_enc_base_init(&e->b, o) != CP_OK) {
		pv_enc_base_release(&e->b);
		free(e);
		return NULL;
	}
	return e;
}

static void
gm_enc_free(struct pv_enc *e)
{
	if (e == NULL)
		return;
	pv_enc_base_release(&e->b);
	cJSON_Delete(e->pending);
	free(e->sig);
	free(e);
}

static cJSON *
gm_usage_obj(const struct pv_usage *u)
{
	cJSON *o = cJSON_CreateObject();
	long long th = u->reasoning > 0 ? u->reasoning : 0;
	long long out = u->output >= 0 ? u->output - th : -1;

	if (o == NULL)
		return NULL;
	if ((u->input >= 0 && cJSON_AddNumberToObject(o, "promptTokenCount", (double)u->input) == NULL) ||
	    (out >= 0 && cJSON_AddNumberToObject(o, "candidatesTokenCount", (double)out) == NULL) ||
	    (u->cached > 0 && cJSON_AddNumberToObject(o, "cachedContentTokenCount", (double)u->cached) == NULL) ||
	    (th > 0 && cJSON_AddNumberToObject(o, "thoughtsTokenCount", (double)th) == NULL) ||
	    cJSON_AddNumberToObject(o, "totalTokenCount",
	    (double)((u->input > 0 ? u->input : 0) + (u->output > 0 ? u->output : 0))) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static const char *
gm_stop_name(enum pv_stop s)
{
	size_t i;

	if (s == PV_STOP_UNSET || s == PV_STOP_SEQUENCE || s == PV_STOP_TOOL)
		return "STOP";
	for (i = 0; i < sizeof(gm_stops) / sizeof(gm_stops[0]); i++)
		if (gm_stops[i].stop == s)
			return gm_stops[i].name;
	return "OTHER";
}

/* A GenerateContentResponse holding parts (consumed); final: with
 * finishReason and usageMetadata. */
static cJSON *
gm_response_obj_of(struct pv_enc *e, cJSON *parts, bool final)
{
	cJSON *root = cJSON_CreateObject(), *cands, *cand, *content;
	const char *model = e->b.o.model != NULL ? e->b.o.model : e->b.g.model;
	char idtmp[48];

	if (parts == NULL || root == NULL || (cands = cJSON_AddArrayToObject(root, "candidates")) == NULL ||
	    (cand = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(cands, cand) ||
	    (content = cJSON_AddObjectToObject(cand, "content")) == NULL)
		goto fail;
	if (cJSON_GetArraySize(parts) == 0) {
		cJSON *t = cJSON_CreateObject();

		if (t == NULL || !cJSON_AddItemToArray(parts, t) || !gm_add_str(t, "text", ""))
			goto fail;
	}
	cJSON_AddItemToObject(content, "parts", parts);
	parts = NULL;
	if (!gm_add_str(content, "role", "model"))
		goto fail;
	if (final && !gm_add_str(cand, "finishReason", gm_stop_name(e->b.g.stop)))
		goto fail;
	if (cJSON_AddNumberToObject(cand, "index", 0) == NULL)
		goto fail;
	/* like Gemini, every chunk carries the usage known so far */
	if (e->b.g.have_usage && !cJSON_AddItemToObject(root, "usageMetadata", gm_usage_obj(&e->b.g.usage)))
		goto fail;
	if (model != NULL && !gm_add_str(root, "modelVersion", model))
		goto fail;
	if (e->b.g.id != NULL && e->b.g.id[0] != '\0') {
		if (!gm_add_str(root, "responseId", e->b.g.id))
			goto fail;
	} else {
		snprintf(idtmp, sizeof(idtmp), "resp_%lld", e->b.o.created);
		if (!gm_add_str(root, "responseId", idtmp))
			goto fail;
	}
	return root;
fail:
	cJSON_Delete(parts);
	cJSON_Delete(root);
	return NULL;
}

/* Write one chunk: an SSE data line, or an element of the JSON array. */
static int
gm_put_chunk(struct pv_enc *e, cJSON *chunk, struct buf *out)
{
	int rc;

	if (chunk == NULL)
		return CP_ENOMEM;
	if (!e->b.o.gemini_sse && (rc = buf_appends(out, e->chunks == 0 ? "[" : ",\r\n")) != CP_OK)
		goto out;
	e->chunks++;
	rc = pv_put_json(out, chunk, e->b.o.gemini_sse, NULL);
out:
	cJSON_Delete(chunk);
	return rc;
}

static int
gm_flush(struct pv_enc *e, struct buf *out, bool final)
{
	cJSON *parts = cJSON_CreateArray();

	if (parts == NULL)
		return CP_ENOMEM;
	if (e->pending != NULL)
		cJSON_AddItemToArray(parts, e->pending);
	e->pending = NULL;
	return gm_put_chunk(e, gm_response_obj_of(e, parts, final), out);
}

/* Make p the pending part (the one before is written first); a
 * non-thought part takes the signature that waits. */
static int
gm_pend(struct pv_enc *e, cJSON *p, struct buf *out)
{
	int rc;

	if (p == NULL)
		return CP_ENOMEM;
	if (e->sig != NULL && !cJSON_HasObjectItem(p, "thought")) {
		if (!gm_add_str(p, "thoughtSignature", e->sig)) {
			cJSON_Delete(p);
			return CP_ENOMEM;
		}
		free(e->sig);
		e->sig = NULL;
	}
	if (e->pending != NULL && (rc = gm_flush(e, out, false)) != CP_OK) {
		cJSON_Delete(p);
		return rc;
	}
	e->pending = p;
	return CP_OK;
}

static cJSON *
gm_text_part(const char *text, size_t len, bool thought)
{
	cJSON *p = cJSON_CreateObject();
	char *s = pv_strndup(text != NULL ? text : "", text != NULL ? len : 0);

	if (p == NULL || s == NULL || !gm_add_str(p, "text", s) ||
	    (thought && cJSON_AddTrueToObject(p, "thought") == NULL)) {
		free(s);
		cJSON_Delete(p);
		return NULL;
	}
	free(s);
	return p;
}

static cJSON *
gm_call_part(const struct pv_block *b)
{
	cJSON *p = cJSON_CreateObject(), *fc;

	if (p == NULL || (fc = cJSON_AddObjectToObject(p, "functionCall")) == NULL ||
	    !gm_add_str(fc, "name", b->name) || !cJSON_AddItemToObject(fc, "args", pv_args_object(b->text))) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

static int
gm_enc_stream(struct pv_enc *e, const struct pv_event *ev, struct buf *out)
{
	struct pv_block *b;
	cJSON *err;
	char *s;
	int rc;

	switch (ev->kind) {
	case PV_EV_TEXT:
		return gm_pend(e, gm_text_part(ev->text, ev->len, false), out);
	case PV_EV_THINKING:
		return gm_pend(e, gm_text_part(ev->text, ev->len, true), out);
	case PV_EV_THINKING_SIG:
		if (ev->redacted) {
			log_debug("gemini: redacted thinking dropped");
			return CP_OK;
		}
		/* it waits for the next part; a second one first lets the
		 * waiting one out alone */
		if (e->sig != NULL) {
			s = e->sig;
			e->sig = NULL;
			rc = gm_pend(e, gm_sig_part(s), out);
			free(s);
			if (rc != CP_OK)
				return rc;
		}
		if ((e->sig = pv_strndup(ev->text != NULL ? ev->text : "", ev->text != NULL ? ev->len : 0)) == NULL)
			return CP_ENOMEM;
		return CP_OK;
	case PV_EV_TOOL_END:
		/* Gemini sends a call whole, with its arguments as an object */
		if ((b = pv_gather_tool(&e->b.g, ev->index)) == NULL)
			return CP_OK;
		return gm_pend(e, gm_call_part(b), out);
	case PV_EV_ERROR:
		if (e->pending != NULL && (rc = gm_flush(e, out, false)) != CP_OK)
			return rc;
		e->errored = true;
		if ((s = pv_strndup(ev->text != NULL ? ev->text : "", ev->text != NULL ? ev->len : 0)) == NULL)
			return CP_ENOMEM;
		err = gm_error_obj(ev->status, pv_err_of_status(ev->status), s);
		free(s);
		return gm_put_chunk(e, err, out);
	default:
		return CP_OK;
	}
}

static int
gm_enc_event(struct pv_enc *e, const struct pv_event *ev, struct buf *out)
{
	int rc;

	if (e->errored)
		return CP_OK;
	if ((rc = pv_gather_add(&e->b.g, ev)) != CP_OK)
		return rc;
	return e->b.o.stream ? gm_enc_stream(e, ev, out) : CP_OK;
}

/* The gathered answer's parts (signatures as gm_enc_parts puts them). */
static cJSON *
gm_parts_of(struct pv_enc *e)
{
	cJSON *parts = cJSON_CreateArray(), *p;
	const char *sig = NULL;
	size_t i;

	for (i = 0; parts != NULL && i < e->b.g.n_blocks; i++) {
		const struct pv_block *b = &e->b.g.blocks[i];

		p = NULL;
		if (b->kind == PV_THINKING && b->redacted)
			continue;
		if (b->kind == PV_THINKING) {
			if (sig != NULL && ((p = gm_sig_part(sig)) == NULL || !cJSON_AddItemToArray(parts, p)))
				goto fail;
			if (b->len > 0 && ((p = gm_text_part(b->text, b->len, true)) == NULL ||
			    !cJSON_AddItemToArray(parts, p)))
				goto fail;
			sig = b->signature;
			continue;
		}
		p = b->kind == PV_TOOL_CALL ? gm_call_part(b) : gm_text_part(b->text, b->len, false);
		if (p == NULL || !cJSON_AddItemToArray(parts, p))
			goto fail;
		if (sig != NULL && !gm_add_str(p, "thoughtSignature", sig))
			goto fail;
		sig = NULL;
	}
	if (sig != NULL && ((p = gm_sig_part(sig)) == NULL || !cJSON_AddItemToArray(parts, p)))
		goto fail;
	return parts;
fail:
	cJSON_Delete(parts);
	return NULL;
}

static int
gm_enc_finish(struct pv_enc *e, struct buf *out)
{
	cJSON *root;
	size_t i;
	int rc;

	if (!e->b.o.stream) {
		if (e->b.g.error != NULL && e->b.g.n_blocks == 0)
			root = gm_error_obj(e->b.g.error_status, pv_err_of_status(e->b.g.error_status), e->b.g.error);
		else
			root = gm_response_obj_of(e, gm_parts_of(e), true);
		if (root == NULL)
			return CP_ENOMEM;
		rc = pv_put_json(out, root, false, NULL);
		cJSON_Delete(root);
		return rc;
	}
	if (!e->errored) {
		/* calls whose end never came still go out whole */
		for (i = 0; i < e->b.g.n_blocks; i++)
			if (e->b.g.blocks[i].kind == PV_TOOL_CALL && !e->b.g.blocks[i].done &&
			    (rc = gm_pend(e, gm_call_part(&e->b.g.blocks[i]), out)) != CP_OK)
				return rc;
		if (e->sig != NULL) {
			char *sig = e->sig;

			e->sig = NULL;
			rc = gm_pend(e, gm_sig_part(sig), out);
			free(sig);
			if (rc != CP_OK)
				return rc;
		}
		if ((rc = gm_flush(e, out, true)) != CP_OK)
			return rc;
	}
	return e->b.o.gemini_sse ? CP_OK : buf_appends(out, e->chunks == 0 ? "[]" : "]");
}

static const char *
gm_content_type(const struct pv_enc_opts *o)
{
	return o->stream && o->gemini_sse ? "text/event-stream" : "application/json";
}

/* -------------------------------------------------- the daemon's answers */

static int
gm_error_body(struct buf *out, int status, enum pv_err kind, const char *message,
    const char *type, const char *code)
{
	cJSON *root;
	int rc;

	(void)type;
	(void)code;
	buf_reset(out);
	if ((root = gm_error_obj(status, kind, message)) == NULL)
		return CP_ENOMEM;
	rc = pv_put_json(out, root, false, NULL);
	cJSON_Delete(root);
	return rc;
}

static int
gm_decode_error(const char *body, size_t len, char *msg, size_t msglen)
{
	cJSON *root = NULL;
	const cJSON *o;
	const char *m = NULL;

	if (msglen > 0)
		msg[0] = '\0';
	if (pv_parse_answer(body, len, &root) != CP_OK)
		return CP_OK;
	/* the JSON-array stream sends its error as [{"error": ...}] */
	o = cJSON_IsArray(root) ? root->child : root;
	if (pv_get_str(gm_get(o, "error", NULL), "message", "", &m, NULL, 0) == CP_OK && msglen > 0)
		snprintf(msg, msglen, "%s", m);
	cJSON_Delete(root);
	return CP_OK;
}

static cJSON *
gm_model_obj(const char *name)
{
	static const char *const methods[] = { "generateContent", "streamGenerateContent", "countTokens" };
	cJSON *m = cJSON_CreateObject(), *a;
	const char *bare = strncmp(name, "models/", 7) == 0 ? name + 7 : name;
	char full[GM_NAME_MAX + 8];
	size_t i;

	snprintf(full, sizeof(full), "models/%s", bare);
	if (m == NULL || !gm_add_str(m, "name", full) || !gm_add_str(m, "displayName", bare) ||
	    !gm_add_str(m, "description", bare) ||
	    (a = cJSON_AddArrayToObject(m, "supportedGenerationMethods")) == NULL)
		goto fail;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(methods[i])))
			goto fail;
	return m;
fail:
	cJSON_Delete(m);
	return NULL;
}

static int
gm_models_body(struct buf *out, const char *const *names, size_t n, bool single)
{
	cJSON *root = NULL, *arr, *m;
	size_t i;
	int rc = CP_ENOMEM;

	buf_reset(out);
	if (single) {
		root = n > 0 ? gm_model_obj(names[0]) : NULL;
	} else {
		if ((root = cJSON_CreateObject()) == NULL ||
		    (arr = cJSON_AddArrayToObject(root, "models")) == NULL)
			goto out;
		for (i = 0; i < n; i++)
			if ((m = gm_model_obj(names[i])) == NULL || !cJSON_AddItemToArray(arr, m))
				goto out;
	}
	if (root != NULL)
		rc = pv_put_json(out, root, false, NULL);
out:
	cJSON_Delete(root);
	return rc;
}

/* ------------------------------------------------------- countTokens */

/* {"contents": ...} when that is all; with a system instruction or tools,
 * {"generateContentRequest": {"model": "models/<m>", ...}} (the API
 * counts those only in that form). */
static int
gm_encode_count(const struct pv_request *r, cJSON **out)
{
	cJSON *req = NULL, *root = NULL, *c;
	char full[GM_NAME_MAX + 8];
	int rc;

	*out = NULL;
	if ((rc = gm_encode_request(r, &req)) != CP_OK)
		return rc;
	rc = CP_ENOMEM;
	cJSON_DeleteItemFromObjectCaseSensitive(req, "generationConfig");
	cJSON_DeleteItemFromObjectCaseSensitive(req, "toolConfig");
	if ((root = cJSON_CreateObject()) == NULL)
		goto out;
	if (!cJSON_HasObjectItem(req, "systemInstruction") && !cJSON_HasObjectItem(req, "tools")) {
		c = cJSON_DetachItemFromObjectCaseSensitive(req, "contents");
		if (c == NULL || !cJSON_AddItemToObject(root, "contents", c))
			goto out;
	} else {
		snprintf(full, sizeof(full), "models/%s", r->model != NULL ? r->model : "");
		if ((c = cJSON_CreateString(full)) == NULL)
			goto out;
		/* "model" first */
		if (!cJSON_AddItemToObject(req, "model", c))
			goto out;
		if (!cJSON_AddItemToObject(root, "generateContentRequest", req))
			goto out;
		req = NULL;
	}
	*out = root;
	root = NULL;
	rc = CP_OK;
out:
	cJSON_Delete(req);
	cJSON_Delete(root);
	return rc;
}

static int
gm_decode_count(const cJSON *ans, long long *tokens)
{
	long long n;

	if (json_get_int(ans, "totalTokens", 0, 1LL << 50, &n) != CP_OK)
		return CP_EPARSE;
	*tokens = n;
	return CP_OK;
}

static int
gm_count_body(struct buf *out, long long tokens)
{
	buf_reset(out);
	return buf_printf(out, "{\"totalTokens\":%lld}", tokens);
}

const struct codec codec_gemini = {
	.id = FMT_GEMINI,
	.name = "gemini",
	.request_model = gm_request_model,
	.set_model = gm_set_model,
	.decode_request = gm_decode_request,
	.encode_request = gm_encode_request,
	.dec_new = gm_dec_new,
	.dec_feed = gm_dec_feed,
	.dec_finish = gm_dec_finish,
	.dec_free = gm_dec_free,
	.enc_new = gm_enc_new,
	.enc_event = gm_enc_event,
	.enc_finish = gm_enc_finish,
	.enc_free = gm_enc_free,
	.content_type = gm_content_type,
	.error_body = gm_error_body,
	.decode_error = gm_decode_error,
	.models_body = gm_models_body,
	.encode_count = gm_encode_count,
	.decode_count = gm_decode_count,
	.count_body = gm_count_body,
};
