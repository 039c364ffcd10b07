/*
 * claude.c - the Anthropic Messages API (POST /v1/messages,
 * /v1/messages/count_tokens, GET /v1/models) codec (DESIGN 6 "Formats are
 * translated through one pivot", formats/pivot.h).
 *
 * Anthropic is strict and this codec is too, both ways:
 * - decode_request refuses what Anthropic refuses (wrong types, unknown
 *   roles and block types) with Anthropic-style paths in the message;
 *   max_tokens is not required here because the same decoder reads
 *   count_tokens requests, which have none;
 * - encode_request writes what Anthropic accepts: roles alternate (same
 *   roles merged), tool_result blocks first in their user turn, no empty
 *   text blocks, thinking only with a signature, tool ids spelled
 *   [A-Za-z0-9_-], max_tokens always (CL_MAX_TOKENS_DEFAULT when the
 *   client gave none), thinking's rules (budget >= 1024 and below
 *   max_tokens, no temperature/top_k, top_p >= 0.95, tool_choice auto or
 *   none).
 * Usage: Anthropic's input_tokens excludes cache reads and writes; the
 * pivot's input includes them (input = input_tokens + cache_read +
 * cache_creation, cached = cache_read).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd.h"

#define CL_MAX_TOKENS_DEFAULT 4096  /* max_tokens when the client gave none (every Claude model takes it) */
#define CL_THINK_MIN 1024           /* Anthropic's smallest budget_tokens */
#define CL_THINK_DEFAULT 8192       /* budget for "think" without a number */
#define CL_TEMP_MAX 1.0             /* Anthropic's temperature range is 0..1 */

/* Claude 4.6 and later think "adaptive" (Opus 4.7 and later refuse a
 * budget): the model decides, output_config.effort steers. */
#define CL_ADAPTIVE_SINCE 46        /* version x 10 */
#define CL_DISPLAY_SINCE 47         /* thinking.display exists from 4.7 */

/* output_config.effort <-> pivot effort (xhigh and max read as high). */
static const struct {
	const char *name;
	enum pv_effort effort;
} cl_efforts[] = {
	{ "low", PV_EFFORT_LOW }, { "medium", PV_EFFORT_MEDIUM }, { "high", PV_EFFORT_HIGH },
	{ "xhigh", PV_EFFORT_HIGH }, { "max", PV_EFFORT_HIGH },
};

/* Budget per OpenAI-style effort (cliproxyd(8) "Thinking"). */
static const long long cl_effort_budget[] = {
	[PV_EFFORT_UNSET] = -1,
	[PV_EFFORT_NONE] = 0,
	[PV_EFFORT_MINIMAL] = CL_THINK_MIN,
	[PV_EFFORT_LOW] = 2048,
	[PV_EFFORT_MEDIUM] = CL_THINK_DEFAULT,
	[PV_EFFORT_HIGH] = 24576,
};

/* ------------------------------------------------------------- common */

static const struct {
	enum pv_stop stop;
	const char *name;
} cl_stops[] = {
	{ PV_STOP_END, "end_turn" },
	{ PV_STOP_MAX_TOKENS, "max_tokens" },
	{ PV_STOP_SEQUENCE, "stop_sequence" },
	{ PV_STOP_TOOL, "tool_use" },
	{ PV_STOP_FILTER, "refusal" },
	{ PV_STOP_END, "pause_turn" },
	{ PV_STOP_MAX_TOKENS, "model_context_window_exceeded" },
};

static enum pv_stop
cl_stop_of(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(cl_stops) / sizeof(cl_stops[0]); i++)
		if (strcmp(s, cl_stops[i].name) == 0)
			return cl_stops[i].stop;
	return PV_STOP_END;
}

static const char *
cl_stop_name(enum pv_stop s, bool tools)
{
	size_t i;

	if ((s == PV_STOP_END || s == PV_STOP_UNSET) && tools)
		return "tool_use";
	for (i = 0; i < sizeof(cl_stops) / sizeof(cl_stops[0]); i++)
		if (cl_stops[i].stop == s)
			return cl_stops[i].name;
	return "end_turn";
}

/* Anthropic's error types (their "Errors" page) and statuses. */
static const struct {
	const char *type;
	int status;
} cl_errs[] = {
	{ "invalid_request_error", 400 },
	{ "authentication_error", 401 },
	{ "permission_error", 403 },
	{ "not_found_error", 404 },
	{ "request_too_large", 413 },
	{ "rate_limit_error", 429 },
	{ "api_error", 500 },
	{ "timeout_error", 504 },
	{ "overloaded_error", 529 },
};

static const char *const cl_err_type[PVE__COUNT] = {
	[PVE_INVALID] = "invalid_request_error",
	[PVE_AUTH] = "authentication_error",
	[PVE_PERMISSION] = "permission_error",
	[PVE_NOT_FOUND] = "not_found_error",
	[PVE_TOO_LARGE] = "request_too_large",
	[PVE_RATE_LIMIT] = "rate_limit_error",
	[PVE_SERVER] = "api_error",
	[PVE_UPSTREAM] = "api_error",
	[PVE_UNAVAILABLE] = "overloaded_error",
	[PVE_TIMEOUT] = "timeout_error",
};

static int
cl_err_status(const char *type)
{
	size_t i;

	for (i = 0; type != NULL && i < sizeof(cl_errs) / sizeof(cl_errs[0]); i++)
		if (strcmp(type, cl_errs[i].type) == 0)
			return cl_errs[i].status;
	return 500;
}

static const char *
cl_err_type_of_status(int status)
{
	enum pv_err k;

	if (status == 529)
		return "overloaded_error";
	k = pv_err_of_status(status);
	return (unsigned)k < PVE__COUNT ? cl_err_type[k] : "api_error";
}

/* {"type":"error","error":{"type":type,"message":message}} */
static cJSON *
cl_error_obj(const char *type, const char *message)
{
	cJSON *root = cJSON_CreateObject(), *e;

	if (root == NULL || cJSON_AddStringToObject(root, "type", "error") == NULL ||
	    (e = cJSON_AddObjectToObject(root, "error")) == NULL ||
	    cJSON_AddStringToObject(e, "type", type) == NULL ||
	    cJSON_AddStringToObject(e, "message", message != NULL ? message : "") == NULL) {
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* ---------------------------------------------------------- passthrough */

/* ------------------------------------------------------ decode_request */

/* Block types Anthropic knows that the pivot cannot carry: dropped. */
static const char *const cl_dropped_blocks[] = {
	"server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
	"code_execution_tool_result", "bash_code_execution_tool_result",
	"text_editor_code_execution_tool_result", "mcp_tool_use", "mcp_tool_result",
	"container_upload", "search_result",
};

static bool
cl_in(const char *s, const char *const *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return true;
	return false;
}

/* Text of a string or of an array of text blocks (joined with "\n");
 * other blocks are dropped. *out is malloc'd. */
static int
cl_text_of(const cJSON *v, const char *path, char **out, char *err, size_t errlen)
{
	struct buf b;
	const cJSON *it;
	size_t i = 0;
	int rc = CP_EINVAL;

	*out = NULL;
	buf_init(&b, CP_BODY_MAX * 8);
	if (cJSON_IsString(v)) {
		*out = strdup(v->valuestring);
		return *out != NULL ? CP_OK : CP_ENOMEM;
	}
	if (!cJSON_IsArray(v)) {
		cp_seterr(err, errlen, "%s: must be a string or an array of content blocks", path);
		goto out;
	}
	cJSON_ArrayForEach(it, v) {
		const char *type = NULL, *text = NULL;

		if (pv_get_str(it, "type", "", &type, NULL, 0) != CP_OK) {
			cp_seterr(err, errlen, "%s.%zu.type: field required", path, i);
			goto out;
		}
		if (strcmp(type, "text") != 0) {
			log_debug("claude: %s.%zu: '%.64s' block dropped", path, i, type);
			i++;
			continue;
		}
		if (pv_get_str(it, "text", "", &text, NULL, 0) != CP_OK) {
			cp_seterr(err, errlen, "%s.%zu.text: must be a string", path, i);
			goto out;
		}
		if ((b.len > 0 && (rc = buf_appends(&b, "\n")) != CP_OK) ||
		    (rc = buf_appends(&b, text)) != CP_OK)
			goto out;
		rc = CP_EINVAL;
		i++;
	}
	*out = buf_steal(&b, NULL);
	rc = *out != NULL ? CP_OK : CP_ENOMEM;
out:
	buf_release(&b);
	return rc;
}

static int
cl_dec_image(const cJSON *blk, struct pv_msg *m, const char *path, char *err, size_t errlen)
{
	const cJSON *src = cJSON_GetObjectItemCaseSensitive(blk, "source");
	const char *st = NULL, *mime = NULL, *data = NULL, *url = NULL;
	struct pv_part *p;

	if (!cJSON_IsObject(src) || pv_get_str(src, "type", "", &st, NULL, 0) != CP_OK) {
		cp_seterr(err, errlen, "%s.source: field required", path);
		return CP_EINVAL;
	}
	if (strcmp(st, "base64") == 0) {
		if (pv_get_str(src, "media_type", "", &mime, NULL, 0) != CP_OK ||
		    pv_get_str(src, "data", "", &data, NULL, 0) != CP_OK) {
			cp_seterr(err, errlen, "%s.source: media_type and data are required", path);
			return CP_EINVAL;
		}
	} else if (strcmp(st, "url") == 0) {
		if (pv_get_str(src, "url", "", &url, NULL, 0) != CP_OK) {
			cp_seterr(err, errlen, "%s.source.url: field required", path);
			return CP_EINVAL;
		}
	} else if (strcmp(st, "text") == 0 && pv_get_str(src, "data", "", &data, NULL, 0) == CP_OK) {
		/* a plain-text document is text */
		if ((p = pv_part_add(m, PV_TEXT)) == NULL || (p->text = strdup(data)) == NULL)
			return CP_ENOMEM;
		return CP_OK;
	} else {
		log_debug("claude: %s: source type '%.64s' dropped", path, st);
		return CP_OK;
	}
	if ((p = pv_part_add(m, PV_IMAGE)) == NULL)
		return CP_ENOMEM;
	if ((mime != NULL && (p->mime = strdup(mime)) == NULL) ||
	    (data != NULL && (p->data = strdup(data)) == NULL) ||
	    (url != NULL && (p->url = strdup(url)) == NULL))
		return CP_ENOMEM;
	return CP_OK;
}

static int
cl_dec_block(const cJSON *blk, struct pv_msg *m, const char *path, char *err, size_t errlen)
{
	const char *type = NULL, *s = NULL, *sig = NULL;
	const cJSON *input;
	struct pv_part *p;
	bool b = false;
	int rc;

	if (!cJSON_IsObject(blk) || pv_get_str(blk, "type", "", &type, NULL, 0) != CP_OK) {
		cp_seterr(err, errlen, "%s.type: field required", path);
		return CP_EINVAL;
	}
	if (strcmp(type, "text") == 0) {
		if (pv_get_str(blk, "text", path, &s, err, errlen) != CP_OK) {
			cp_seterr(err, errlen, "%s.text: field required", path);
			return CP_EINVAL;
		}
		if ((p = pv_part_add(m, PV_TEXT)) == NULL || (p->text = strdup(s)) == NULL)
			return CP_ENOMEM;
		return CP_OK;
	}
	if (strcmp(type, "image") == 0 || strcmp(type, "document") == 0)
		return cl_dec_image(blk, m, path, err, errlen);
	if (strcmp(type, "tool_use") == 0) {
		const char *id = NULL, *name = NULL;

		input = cJSON_GetObjectItemCaseSensitive(blk, "input");
		if (pv_get_str(blk, "id", "", &id, NULL, 0) != CP_OK ||
		    pv_get_str(blk, "name", "", &name, NULL, 0) != CP_OK || !cJSON_IsObject(input)) {
			cp_seterr(err, errlen, "%s: tool_use needs id, name and an input object", path);
			return CP_EINVAL;
		}
		if ((p = pv_part_add(m, PV_TOOL_CALL)) == NULL || (p->id = strdup(id)) == NULL ||
		    (p->name = strdup(name)) == NULL || (p->args = json_print(input)) == NULL)
			return CP_ENOMEM;
		return CP_OK;
	}
	if (strcmp(type, "tool_result") == 0) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(blk, "content");
		char sub[128];

		if (pv_get_str(blk, "tool_use_id", "", &s, NULL, 0) != CP_OK) {
			cp_seterr(err, errlen, "%s.tool_use_id: field required", path);
			return CP_EINVAL;
		}
		if ((rc = pv_get_bool(blk, "is_error", path, &b, err, errlen)) == CP_EINVAL)
			return rc;
		if ((p = pv_part_add(m, PV_TOOL_RESULT)) == NULL || (p->id = strdup(s)) == NULL)
			return CP_ENOMEM;
		p->is_error = b;
		snprintf(sub, sizeof(sub), "%s.content", path);
		if (c == NULL || cJSON_IsNull(c))
			p->text = strdup("");
		else if ((rc = cl_text_of(c, sub, &p->text, err, errlen)) != CP_OK)
			return rc;
		return p->text != NULL ? CP_OK : CP_ENOMEM;
	}
	if (strcmp(type, "thinking") == 0) {
		if (pv_get_str(blk, "thinking", "", &s, NULL, 0) != CP_OK ||
		    pv_get_str(blk, "signature", "", &sig, NULL, 0) == CP_EINVAL) {
			cp_seterr(err, errlen, "%s.thinking: field required", path);
			return CP_EINVAL;
		}
		if ((p = pv_part_add(m, PV_THINKING)) == NULL || (p->text = strdup(s)) == NULL ||
		    (sig != NULL && (p->signature = strdup(sig)) == NULL))
			return CP_ENOMEM;
		return CP_OK;
	}
	if (strcmp(type, "redacted_thinking") == 0) {
		if (pv_get_str(blk, "data", "", &s, NULL, 0) != CP_OK) {
			cp_seterr(err, errlen, "%s.data: field required", path);
			return CP_EINVAL;
		}
		if ((p = pv_part_add(m, PV_THINKING)) == NULL || (p->signature = strdup(s)) == NULL)
			return CP_ENOMEM;
		p->redacted = true;
		return CP_OK;
	}
	if (cl_in(type, cl_dropped_blocks, sizeof(cl_dropped_blocks) / sizeof(cl_dropped_blocks[0]))) {
		log_debug("claude: %s: '%.64s' block dropped", path, type);
		return CP_OK;
	}
	cp_seterr(err, errlen, "%s.type: unknown content block type '%.64s'", path, type);
	return CP_EINVAL;
}

static int
cl_dec_messages(const cJSON *msgs, struct pv_request *r, char *err, size_t errlen)
{
	const cJSON *mj, *c, *blk;
	const char *role = NULL;
	struct pv_msg *m;
	struct pv_part *p;
	char path[96];
	size_t i = 0, j;
	int rc;

	cJSON_ArrayForEach(mj, msgs) {
		if (!cJSON_IsObject(mj) || pv_get_str(mj, "role", "", &role, NULL, 0) != CP_OK ||
		    (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)) {
			cp_seterr(err, errlen, "messages.%zu.role: must be \"user\" or \"assistant\"", i);
			return CP_EINVAL;
		}
		if ((m = pv_msg_add(r, role[0] == 'u' ? PV_USER : PV_ASSISTANT)) == NULL)
			return CP_ENOMEM;
		c = cJSON_GetObjectItemCaseSensitive(mj, "content");
		if (cJSON_IsString(c)) {
			if ((p = pv_part_add(m, PV_TEXT)) == NULL || (p->text = strdup(c->valuestring)) == NULL)
				return CP_ENOMEM;
		} else if (cJSON_IsArray(c)) {
			j = 0;
			cJSON_ArrayForEach(blk, c) {
				snprintf(path, sizeof(path), "messages.%zu.content.%zu", i, j++);
				if ((rc = cl_dec_block(blk, m, path, err, errlen)) != CP_OK)
					return rc;
			}
		} else {
			cp_seterr(err, errlen, "messages.%zu.content: must be a string or an array", i);
			return CP_EINVAL;
		}
		i++;
	}
	return CP_OK;
}

static int
cl_dec_tools(const cJSON *tools, struct pv_request *r, char *err, size_t errlen)
{
	const cJSON *t, *schema;
	const char *name = NULL, *desc = NULL, *type = NULL;
	struct pv_tool *pt;
	size_t i = 0;
	int rc;

	if (!cJSON_IsArray(tools)) {
		cp_seterr(err, errlen, "tools: must be an array");
		return CP_EINVAL;
	}
	cJSON_ArrayForEach(t, tools) {
		if (!cJSON_IsObject(t)) {
			cp_seterr(err, errlen, "tools.%zu: must be an object", i);
			return CP_EINVAL;
		}
		type = NULL;
		if (pv_get_str(t, "type", "", &type, NULL, 0) == CP_OK && strcmp(type, "custom") != 0) {
			/* server tools (web_search_..., bash_..., ...) run at Anthropic */
			log_debug("claude: tools.%zu: server tool '%.64s' dropped", i, type);
			i++;
			continue;
		}
		schema = cJSON_GetObjectItemCaseSensitive(t, "input_schema");
		desc = NULL;
		if (pv_get_str(t, "name", "", &name, NULL, 0) != CP_OK || name[0] == '\0' ||
		    !cJSON_IsObject(schema) ||
		    pv_get_str(t, "description", "", &desc, NULL, 0) == CP_EINVAL) {
			cp_seterr(err, errlen, "tools.%zu: name and an input_schema object are required", i);
			return CP_EINVAL;
		}
		if ((rc = pv_schema_check(schema)) != CP_OK) {
			char what[40];

			snprintf(what, sizeof(what), "tools.%zu.input_schema", i);
			return pv_schema_refused(rc, what, err, errlen);
		}
		if ((pt = pv_tool_add(r)) == NULL || (pt->name = strdup(name)) == NULL ||
		    (desc != NULL && (pt->description = strdup(desc)) == NULL) ||
		    (pt->schema = cJSON_Duplicate(schema, true)) == NULL)
			return CP_ENOMEM;
		i++;
	}
	return CP_OK;
}

static int
cl_dec_tool_choice(const cJSON *tc, struct pv_request *r, char *err, size_t errlen)
{
	static const struct {
		const char *name;
		enum pv_tool_choice tc;
	} tab[] = {
		{ "auto", PV_TC_AUTO }, { "any", PV_TC_ANY }, { "tool", PV_TC_TOOL }, { "none", PV_TC_NONE },
	};
	const char *type = NULL, *name = NULL;
	bool off = false;
	size_t i;

	if (!cJSON_IsObject(tc) || pv_get_str(tc, "type", "", &type, NULL, 0) != CP_OK)
		goto bad;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(type, tab[i].name) == 0)
			r->tool_choice = tab[i].tc;
	if (r->tool_choice == PV_TC_UNSET)
		goto bad;
	if (r->tool_choice == PV_TC_TOOL) {
		if (pv_get_str(tc, "name", "", &name, NULL, 0) != CP_OK) {
			cp_seterr(err, errlen, "tool_choice.name: field required");
			return CP_EINVAL;
		}
		if ((r->tool_choice_name = strdup(name)) == NULL)
			return CP_ENOMEM;
	}
	if (pv_get_bool(tc, "disable_parallel_tool_use", "tool_choice", &off, err, errlen) == CP_EINVAL)
		return CP_EINVAL;
	r->parallel_tools_off = off;
	return CP_OK;
bad:
	cp_seterr(err, errlen, "tool_choice.type: must be one of \"auto\", \"any\", \"tool\", \"none\"");
	return CP_EINVAL;
}

/* The Claude version in a model name, times ten: "claude-opus-4-7" 47,
 * "claude-sonnet-4-5-20250929" 45, "claude-3-5-haiku-latest" 35,
 * "claude-fable-5" 50; 0 when the name says none. */
static int
cl_version(const char *model)
{
	const char *p;
	int major = -1, minor = 0;

	if (model == NULL || strncmp(model, "claude-", 7) != 0)
		return 0;
	for (p = model + 7; *p != '\0';) {
		size_t n = strcspn(p, "-"), d = strspn(p, "0123456789");

		if (d == n && n > 0 && n <= 2) {
			if (major < 0)
				major = (p[0] - '0') * (n == 2 ? 10 : 1) + (n == 2 ? p[1] - '0' : 0);
			else {
				minor = p[0] - '0';
				break;
			}
		} else if (major >= 0)
			break;
		p += n;
		if (*p == '-')
			p++;
	}
	return major < 0 ? 0 : major * 10 + minor;
}

static int
cl_dec_thinking(const cJSON *th, struct pv_request *r, char *err, size_t errlen)
{
	const char *type = NULL, *display = NULL;
	long long budget;

	if (!cJSON_IsObject(th) || pv_get_str(th, "type", "", &type, NULL, 0) != CP_OK) {
		cp_seterr(err, errlen, "thinking.type: field required");
		return CP_EINVAL;
	}
	if (strcmp(type, "disabled") == 0) {
		r->effort = PV_EFFORT_NONE;
		r->budget = 0;
		return CP_OK;
	}
	if (strcmp(type, "adaptive") == 0) {
		/* display "omitted": thinking happens, its text is not shown */
		if (pv_get_str(th, "display", "thinking", &display, err, errlen) == CP_EINVAL)
			return CP_EINVAL;
		r->want_thoughts = display == NULL || strcmp(display, "omitted") != 0;
		if (r->effort == PV_EFFORT_UNSET && !r->want_thoughts)
			r->effort = PV_EFFORT_MEDIUM;
		return CP_OK;
	}
	if (strcmp(type, "enabled") != 0) {
		cp_seterr(err, errlen, "thinking.type: must be \"enabled\", \"adaptive\" or \"disabled\"");
		return CP_EINVAL;
	}
	if (pv_get_int(th, "budget_tokens", "thinking", CL_THINK_MIN, 1LL << 40, &budget,
	    err, errlen) != CP_OK) {
		cp_seterr(err, errlen, "thinking.budget_tokens: must be an integer >= %d", CL_THINK_MIN);
		return CP_EINVAL;
	}
	r->budget = budget;
	r->want_thoughts = true;
	return CP_OK;
}

/* output_config {effort}; its "format" (structured output) has no pivot
 * field and is dropped. */
static int
cl_dec_output_config(const cJSON *oc, struct pv_request *r, char *err, size_t errlen)
{
	const char *e = NULL;
	size_t i;

	if (!cJSON_IsObject(oc)) {
		cp_seterr(err, errlen, "output_config: must be an object");
		return CP_EINVAL;
	}
	if (cJSON_HasObjectItem(oc, "format"))
		log_debug("claude: output_config.format dropped");
	switch (pv_get_str(oc, "effort", "output_config", &e, err, errlen)) {
	case CP_OK:
		for (i = 0; i < sizeof(cl_efforts) / sizeof(cl_efforts[0]); i++)
			if (strcmp(e, cl_efforts[i].name) == 0) {
				r->effort = cl_efforts[i].effort;
				return CP_OK;
			}
		cp_seterr(err, errlen, "output_config.effort: must be low, medium, high, xhigh or max");
		return CP_EINVAL;
	case CP_EINVAL:
		return CP_EINVAL;
	default:
		return CP_OK;
	}
}

static int
cl_decode_request(const cJSON *req, const char *path_model, bool path_stream,
    struct pv_request *r, char *err, size_t errlen)
{
	const cJSON *it, *md;
	const char *s = NULL;
	double d;
	long long n;
	bool b;
	int rc = CP_EINVAL;

	(void)path_model;
	(void)path_stream;
	pv_request_init(r);
	if (!cJSON_IsObject(req)) {
		cp_seterr(err, errlen, "request body must be a JSON object");
		goto out;
	}
	if (pv_get_str(req, "model", "", &s, NULL, 0) != CP_OK || s[0] == '\0') {
		cp_seterr(err, errlen, "model: field required");
		goto out;
	}
	if ((r->model = strdup(s)) == NULL)
		goto nomem;
	if ((it = cJSON_GetObjectItemCaseSensitive(req, "messages")) == NULL || !cJSON_IsArray(it)) {
		cp_seterr(err, errlen, "messages: field required (an array)");
		goto out;
	}
	if ((rc = cl_dec_messages(it, r, err, errlen)) != CP_OK)
		goto out;
	rc = CP_EINVAL;
	it = cJSON_GetObjectItemCaseSensitive(req, "system");
	if (it != NULL && !cJSON_IsNull(it) && (rc = cl_text_of(it, "system", &r->system, err, errlen)) != CP_OK)
		goto out;
	rc = CP_EINVAL;
	switch (pv_get_int(req, "max_tokens", "", 1, 1LL << 40, &n, err, errlen)) {
	case CP_OK: r->max_tokens = n; break;
	case CP_EINVAL: goto out;
	default: break;
	}
	if ((it = cJSON_GetObjectItemCaseSensitive(req, "tools")) != NULL && !cJSON_IsNull(it) &&
	    (rc = cl_dec_tools(it, r, err, errlen)) != CP_OK)
		goto out;
	if ((it = cJSON_GetObjectItemCaseSensitive(req, "tool_choice")) != NULL && !cJSON_IsNull(it) &&
	    (rc = cl_dec_tool_choice(it, r, err, errlen)) != CP_OK)
		goto out;
	if ((it = cJSON_GetObjectItemCaseSensitive(req, "output_config")) != NULL && !cJSON_IsNull(it) &&
	    (rc = cl_dec_output_config(it, r, err, errlen)) != CP_OK)
		goto out;
	if ((it = cJSON_GetObjectItemCaseSensitive(req, "thinking")) != NULL && !cJSON_IsNull(it) &&
	    (rc = cl_dec_thinking(it, r, err, errlen)) != CP_OK)
		goto out;
	rc = CP_EINVAL;
	if ((it = cJSON_GetObjectItemCaseSensitive(req, "stop_sequences")) != NULL && !cJSON_IsNull(it)) {
		const cJSON *e;

		if (!cJSON_IsArray(it)) {
			cp_seterr(err, errlen, "stop_sequences: must be an array of strings");
			goto out;
		}
		cJSON_ArrayForEach(e, it) {
			if (!cJSON_IsString(e)) {
				cp_seterr(err, errlen, "stop_sequences: must be an array of strings");
				goto out;
			}
			if (pv_stop_add(r, e->valuestring) != CP_OK)
				goto nomem;
		}
	}
	switch (pv_get_num(req, "temperature", "", 0, CL_TEMP_MAX, &d, err, errlen)) {
	case CP_OK: r->temperature = d; break;
	case CP_EINVAL: goto out;
	default: break;
	}
	switch (pv_get_num(req, "top_p", "", 0, 1, &d, err, errlen)) {
	case CP_OK: r->top_p = d; break;
	case CP_EINVAL: goto out;
	default: break;
	}
	switch (pv_get_int(req, "top_k", "", 0, 1LL << 40, &n, err, errlen)) {
	case CP_OK: r->top_k = n; break;
	case CP_EINVAL: goto out;
	default: break;
	}
	switch (pv_get_bool(req, "stream", "", &b, err, errlen)) {
	case CP_OK: r->stream = b; break;
	case CP_EINVAL: goto out;
	default: break;
	}
	md = cJSON_GetObjectItemCaseSensitive(req, "metadata");
	if (md != NULL && !cJSON_IsNull(md)) {
		if (!cJSON_IsObject(md)) {
			cp_seterr(err, errlen, "metadata: must be an object");
			goto out;
		}
		switch (pv_get_str(md, "user_id", "metadata", &s, err, errlen)) {
		case CP_OK:
			if ((r->user = strdup(s)) == NULL)
				goto nomem;
			break;
		case CP_EINVAL: goto out;
		default: break;
		}
	}
	if (pv_normalize(r) != CP_OK || pv_result_names(r) != CP_OK)
		goto nomem;
	rc = CP_OK;
	goto out;
nomem:
	rc = CP_ENOMEM;
	cp_seterr(err, errlen, "out of memory");
out:
	if (rc != CP_OK)
		pv_request_release(r);
	return rc;
}

/* ------------------------------------------------------ encode_request */

/* A tool id in Anthropic's spelling ^[a-zA-Z0-9_-]+$; "toolu_<m>_<p>"
 * when empty. Caller frees. */
static char *
cl_tool_id(const char *id, size_t mi, size_t pi)
{
	char *s, fb[48];

	if (id == NULL || id[0] == '\0') {
		snprintf(fb, sizeof(fb), "toolu_%zu_%zu", mi, pi);
		return strdup(fb);
	}
	if ((s = strdup(id)) == NULL)
		return NULL;
	for (char *q = s; *q != '\0'; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
		    (*q >= '0' && *q <= '9') || *q == '_' || *q == '-'))
			*q = '_';
	return s;
}

static cJSON *
cl_block(const char *type)
{
	cJSON *b = cJSON_CreateObject();

	if (b != NULL && cJSON_AddStringToObject(b, "type", type) == NULL) {
		cJSON_Delete(b);
		return NULL;
	}
	return b;
}

/* The Anthropic block of one pivot part, or *blk = NULL when the part is
 * dropped. */
static int
cl_enc_part(const struct pv_part *p, size_t mi, size_t pi, cJSON **blk)
{
	cJSON *b = NULL, *src;
	char *id = NULL;
	int rc = CP_ENOMEM;

	*blk = NULL;
	switch (p->kind) {
	case PV_TEXT:
		if (p->text == NULL || p->text[0] == '\0')
			return CP_OK; /* Anthropic refuses empty text blocks */
		if ((b = cl_block("text")) == NULL || cJSON_AddStringToObject(b, "text", p->text) == NULL)
			goto out;
		break;
	case PV_IMAGE:
		if (p->data != NULL) {
			const char *mime = p->mime != NULL ? p->mime : "image/png";
			bool doc = strcmp(mime, "application/pdf") == 0;

			if (!doc && strncmp(mime, "image/", 6) != 0) {
				log_debug("claude: a '%.64s' file cannot be sent to Claude: dropped", mime);
				return CP_OK;
			}
			if ((b = cl_block(doc ? "document" : "image")) == NULL ||
			    (src = cJSON_AddObjectToObject(b, "source")) == NULL ||
			    cJSON_AddStringToObject(src, "type", "base64") == NULL ||
			    cJSON_AddStringToObject(src, "media_type", mime) == NULL ||
			    cJSON_AddStringToObject(src, "data", p->data) == NULL)
				goto out;
		} else if (p->url != NULL) {
			if ((b = cl_block("image")) == NULL ||
			    (src = cJSON_AddObjectToObject(b, "source")) == NULL ||
			    cJSON_AddStringToObject(src, "type", "url") == NULL ||
			    cJSON_AddStringToObject(src, "url", p->url) == NULL)
				goto out;
		} else
			return CP_OK;
		break;
	case PV_TOOL_CALL:
		if ((id = cl_tool_id(p->id, mi, pi)) == NULL || (b = cl_block("tool_use")) == NULL ||
		    cJSON_AddStringToObject(b, "id", id) == NULL ||
		    cJSON_AddStringToObject(b, "name", p->name != NULL ? p->name : "") == NULL ||
		    !cJSON_AddItemToObject(b, "input", pv_args_object(p->args)))
			goto out;
		break;
	case PV_TOOL_RESULT:
		if ((id = cl_tool_id(p->id, mi, pi)) == NULL || (b = cl_block("tool_result")) == NULL ||
		    cJSON_AddStringToObject(b, "tool_use_id", id) == NULL)
			goto out;
		if (p->text != NULL && p->text[0] != '\0' &&
		    cJSON_AddStringToObject(b, "content", p->text) == NULL)
			goto out;
		if (p->is_error && cJSON_AddTrueToObject(b, "is_error") == NULL)
			goto out;
		break;
	case PV_THINKING:
		if (p->redacted) {
			if ((b = cl_block("redacted_thinking")) == NULL ||
			    cJSON_AddStringToObject(b, "data", p->signature != NULL ? p->signature : "") == NULL)
				goto out;
			break;
		}
		if (p->signature == NULL || p->signature[0] == '\0' || pv_sig_openai(p->signature)) {
			/* Anthropic verifies the signature of every thinking
			 * block (an OpenAI one would fail the request) */
			log_debug("claude: thinking without a Claude signature dropped");
			return CP_OK;
		}
		if ((b = cl_block("thinking")) == NULL ||
		    cJSON_AddStringToObject(b, "thinking", p->text != NULL ? p->text : "") == NULL ||
		    cJSON_AddStringToObject(b, "signature", p->signature) == NULL)
			goto out;
		break;
	}
	*blk = b;
	b = NULL;
	rc = CP_OK;
out:
	free(id);
	cJSON_Delete(b);
	return rc;
}

/* Close the turn being built: tool results first, then the rest. */
static int
cl_flush_turn(cJSON *msgs, enum pv_role role, cJSON **results, cJSON **rest)
{
	cJSON *m = NULL, *content, *it;
	int rc = CP_ENOMEM;

	if (cJSON_GetArraySize(*results) + cJSON_GetArraySize(*rest) == 0)
		return CP_OK;
	if ((m = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(m, "role", role == PV_USER ? "user" : "assistant") == NULL)
		goto out;
	content = *results;
	while ((it = cJSON_DetachItemFromArray(*rest, 0)) != NULL)
		cJSON_AddItemToArray(content, it);
	cJSON_AddItemToObject(m, "content", content);
	*results = cJSON_CreateArray();
	if (*results == NULL || !cJSON_AddItemToArray(msgs, m))
		goto out;
	m = NULL;
	rc = CP_OK;
out:
	cJSON_Delete(m);
	return rc;
}

static int
cl_enc_messages(const struct pv_request *r, cJSON *root)
{
	cJSON *msgs, *results = cJSON_CreateArray(), *rest = cJSON_CreateArray(), *b;
	enum pv_role role = PV_USER;
	size_t i, j;
	int rc = CP_ENOMEM;

	if (results == NULL || rest == NULL ||
	    (msgs = cJSON_AddArrayToObject(root, "messages")) == NULL)
		goto out;
	for (i = 0; i < r->n_msgs; i++) {
		const struct pv_msg *m = &r->msgs[i];

		if (m->role != role && (rc = cl_flush_turn(msgs, role, &results, &rest)) != CP_OK)
			goto out;
		rc = CP_ENOMEM;
		role = m->role;
		for (j = 0; j < m->n_parts; j++) {
			if ((rc = cl_enc_part(&m->parts[j], i, j, &b)) != CP_OK)
				goto out;
			rc = CP_ENOMEM;
			if (b != NULL)
				cJSON_AddItemToArray(m->parts[j].kind == PV_TOOL_RESULT ? results : rest, b);
		}
	}
	rc = cl_flush_turn(msgs, role, &results, &rest);
out:
	cJSON_Delete(results);
	cJSON_Delete(rest);
	return rc;
}

static int
cl_enc_tools(const struct pv_request *r, cJSON *root, bool thinking)
{
	cJSON *tools, *t, *tc, *schema = NULL;
	const char *type;
	size_t i;

	if (r->n_tools == 0)
		return CP_OK;
	if ((tools = cJSON_AddArrayToObject(root, "tools")) == NULL)
		return CP_ENOMEM;
	for (i = 0; i < r->n_tools; i++) {
		if ((t = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(tools, t))
			return CP_ENOMEM;
		if (r->tools[i].schema != NULL) {
			if (pv_schema_lower_types(r->tools[i].schema, &schema) != CP_OK)
				return CP_ENOMEM;
		} else if ((schema = cJSON_Parse("{\"type\":\"object\",\"properties\":{}}")) == NULL)
			return CP_ENOMEM;
		if (cJSON_AddStringToObject(t, "name", r->tools[i].name != NULL ? r->tools[i].name : "") == NULL ||
		    (r->tools[i].description != NULL &&
		    cJSON_AddStringToObject(t, "description", r->tools[i].description) == NULL) ||
		    !cJSON_AddItemToObject(t, "input_schema", schema)) {
			cJSON_Delete(schema);
			return CP_ENOMEM;
		}
	}
	if (r->tool_choice == PV_TC_UNSET && !r->parallel_tools_off)
		return CP_OK;
	switch (r->tool_choice) {
	case PV_TC_NONE: type = "none"; break;
	case PV_TC_ANY: type = "any"; break;
	case PV_TC_TOOL: type = "tool"; break;
	default: type = "auto"; break;
	}
	if (thinking && (r->tool_choice == PV_TC_ANY || r->tool_choice == PV_TC_TOOL)) {
		/* Anthropic: thinking takes only tool_choice auto or none */
		log_debug("claude: tool_choice '%s' with thinking sent as auto", type);
		type = "auto";
	}
	if ((tc = cJSON_AddObjectToObject(root, "tool_choice")) == NULL ||
	    cJSON_AddStringToObject(tc, "type", type) == NULL)
		return CP_ENOMEM;
	if (strcmp(type, "tool") == 0 &&
	    cJSON_AddStringToObject(tc, "name", r->tool_choice_name != NULL ? r->tool_choice_name : "") == NULL)
		return CP_ENOMEM;
	if (r->parallel_tools_off && strcmp(type, "none") != 0 &&
	    cJSON_AddTrueToObject(tc, "disable_parallel_tool_use") == NULL)
		return CP_ENOMEM;
	return CP_OK;
}

/* The thinking budget to send, 0 for none. */
static long long
cl_budget(const struct pv_request *r, long long *max_tokens)
{
	long long budget = r->budget;

	if (budget < 0 && (unsigned)r->effort < sizeof(cl_effort_budget) / sizeof(cl_effort_budget[0]))
		budget = cl_effort_budget[r->effort];
	if (budget < 0 && r->want_thoughts)
		budget = CL_THINK_DEFAULT;
	if (r->effort == PV_EFFORT_NONE || budget <= 0) {
		*max_tokens = r->max_tokens > 0 ? r->max_tokens : CL_MAX_TOKENS_DEFAULT;
		return 0;
	}
	if (budget < CL_THINK_MIN)
		budget = CL_THINK_MIN;
	if (r->max_tokens <= 0) {
		*max_tokens = budget + CL_MAX_TOKENS_DEFAULT;
		return budget;
	}
	*max_tokens = r->max_tokens;
	if (budget >= r->max_tokens)
		budget = r->max_tokens - 1;
	if (budget < CL_THINK_MIN) {
		log_debug("claude: max_tokens %lld leaves no room for thinking: thinking off",
		    r->max_tokens);
		return 0;
	}
	return budget;
}

/* The request as it is (encode_request renames tools first). */
static int
cl_encode_named(const struct pv_request *r, cJSON **out)
{
	cJSON *root = NULL, *a, *o;
	long long max_tokens, budget;
	size_t i;
	int rc = CP_ENOMEM, version;

	*out = NULL;
	version = cl_version(r->model);
	budget = cl_budget(r, &max_tokens);
	if ((root = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(root, "model", r->model != NULL ? r->model : "") == NULL ||
	    cJSON_AddNumberToObject(root, "max_tokens", (double)max_tokens) == NULL)
		goto out;
	if (r->system != NULL && r->system[0] != '\0' &&
	    cJSON_AddStringToObject(root, "system", r->system) == NULL)
		goto out;
	if ((rc = cl_enc_messages(r, root)) != CP_OK)
		goto out;
	rc = CP_ENOMEM;
	if (cl_enc_tools(r, root, budget > 0) != CP_OK)
		goto out;
	if (budget > 0 && version >= CL_ADAPTIVE_SINCE) {
		/* the model decides how much; the effort (the client's, else
		 * one for its budget) steers */
		enum pv_effort eff = r->effort;

		if (eff == PV_EFFORT_UNSET && r->budget > 0)
			eff = r->budget <= 2048 ? PV_EFFORT_LOW : r->budget <= 8192 ? PV_EFFORT_MEDIUM :
			    PV_EFFORT_HIGH;
		if (eff == PV_EFFORT_MINIMAL)
			eff = PV_EFFORT_LOW;
		if ((o = cJSON_AddObjectToObject(root, "thinking")) == NULL ||
		    cJSON_AddStringToObject(o, "type", "adaptive") == NULL)
			goto out;
		if (version >= CL_DISPLAY_SINCE && cJSON_AddStringToObject(o, "display",
		    r->want_thoughts ? "summarized" : "omitted") == NULL)
			goto out;
		for (i = 0; eff != PV_EFFORT_UNSET && i < sizeof(cl_efforts) / sizeof(cl_efforts[0]); i++)
			if (cl_efforts[i].effort == eff) {
				if ((o = cJSON_AddObjectToObject(root, "output_config")) == NULL ||
				    cJSON_AddStringToObject(o, "effort", cl_efforts[i].name) == NULL)
					goto out;
				break;
			}
	} else if (budget > 0) {
		if ((o = cJSON_AddObjectToObject(root, "thinking")) == NULL ||
		    cJSON_AddStringToObject(o, "type", "enabled") == NULL ||
		    cJSON_AddNumberToObject(o, "budget_tokens", (double)budget) == NULL)
			goto out;
	}
	if (budget > 0) {
		if (r->temperature >= 0 || r->top_k >= 0)
			log_debug("claude: temperature/top_k are not allowed with thinking: dropped");
	} else {
		if (r->temperature >= 0 && cJSON_AddNumberToObject(root, "temperature",
		    r->temperature > CL_TEMP_MAX ? CL_TEMP_MAX : r->temperature) == NULL)
			goto out;
		if (r->top_k >= 0 && cJSON_AddNumberToObject(root, "top_k", (double)r->top_k) == NULL)
			goto out;
	}
	if (r->top_p >= 0 && (budget == 0 || r->top_p >= 0.95) &&
	    cJSON_AddNumberToObject(root, "top_p", r->top_p) == NULL)
		goto out;
	if (r->n_stop > 0) {
		if ((a = cJSON_AddArrayToObject(root, "stop_sequences")) == NULL)
			goto out;
		for (i = 0; i < r->n_stop; i++)
			if (!cJSON_AddItemToArray(a, cJSON_CreateString(r->stop[i])))
				goto out;
	}
	if (r->stream && cJSON_AddTrueToObject(root, "stream") == NULL)
		goto out;
	if (r->user != NULL && ((o = cJSON_AddObjectToObject(root, "metadata")) == NULL ||
	    cJSON_AddStringToObject(o, "user_id", r->user) == NULL))
		goto out;
	*out = root;
	root = NULL;
	rc = CP_OK;
out:
	cJSON_Delete(root);
	return rc;
}

static int
cl_encode_request(const struct pv_request *r, cJSON **out)
{
	return pv_encode_named(r, FMT_CLAUDE, cl_encode_named, out);
}

/* ---------------------------------------------------- upstream decoder */

enum cl_blk { CLB_NONE = 0, CLB_TEXT, CLB_THINKING, CLB_TOOL, CLB_OTHER };

struct pv_dec {
	bool stream;             /* text/event-stream, else one JSON document */
	struct sse_parser sse;   /* stream parser */
	struct buf body;         /* JSON answer bytes */
	enum cl_blk cur;         /* the open content block's kind */
	int cur_tool;            /* its tool index (CLB_TOOL) */
	int n_tools;             /* tool calls so far */
	struct pv_usage usage;   /* from message_start, updated by message_delta */
	bool started;            /* START emitted */
	bool stopped;            /* STOP emitted */
	pv_emit_fn emit;         /* during a feed */
	void *arg;               /* its argument */
};

static struct pv_dec *
cl_dec_new(bool stream)
{
	struct pv_dec *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	d->stream = stream;
	sse_init(&d->sse);
	buf_init(&d->body, PV_ANSWER_MAX);
	d->usage.input = d->usage.output = d->usage.cached = d->usage.reasoning = -1;
	return d;
}

static void
cl_dec_free(struct pv_dec *d)
{
	if (d == NULL)
		return;
	sse_release(&d->sse);
	buf_release(&d->body);
	free(d);
}

static int
cl_emit(struct pv_dec *d, enum pv_ev_kind kind, const char *text, int index)
{
	return pv_emit_text(d->emit, d->arg, kind, text, index);
}

/* Fold an Anthropic usage object into d->usage (only members present). */
static void
cl_usage_in(struct pv_dec *d, const cJSON *u)
{
	long long in = pv_json_count(u, "input_tokens"), cr = pv_json_count(u, "cache_read_input_tokens"),
	    cc = pv_json_count(u, "cache_creation_input_tokens"), out = pv_json_count(u, "output_tokens");

	if (in >= 0)
		d->usage.input = in + (cr > 0 ? cr : 0) + (cc > 0 ? cc : 0);
	if (cr >= 0)
		d->usage.cached = cr;
	if (out >= 0)
		d->usage.output = out;
}

static int
cl_emit_usage(struct pv_dec *d)
{
	struct pv_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = PV_EV_USAGE;
	ev.usage = d->usage;
	return d->emit(&ev, d->arg);
}

static int
cl_emit_start(struct pv_dec *d, const cJSON *msg)
{
	struct pv_event ev;
	const char *id = NULL, *model = NULL;

	if (d->started)
		return CP_OK;
	d->started = true;
	memset(&ev, 0, sizeof(ev));
	(void)pv_get_str(msg, "id", "", &id, NULL, 0);
	(void)pv_get_str(msg, "model", "", &model, NULL, 0);
	ev.kind = PV_EV_START;
	ev.id = id;
	ev.model = model;
	return d->emit(&ev, d->arg);
}

static int
cl_emit_error(struct pv_dec *d, const cJSON *root)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	const char *type = NULL, *msg = NULL;
	struct pv_event ev;

	(void)pv_get_str(e, "type", "", &type, NULL, 0);
	(void)pv_get_str(e, "message", "", &msg, NULL, 0);
	memset(&ev, 0, sizeof(ev));
	ev.kind = PV_EV_ERROR;
	ev.text = msg != NULL ? msg : "upstream error";
	ev.len = strlen(ev.text);
	ev.status = cl_err_status(type);
	return d->emit(&ev, d->arg);
}

/* One content block as a whole (JSON answer) or its start (stream). */
static int
cl_block_start(struct pv_dec *d, const cJSON *blk, bool whole)
{
	const char *type = NULL, *s = NULL, *s2 = NULL;
	const cJSON *input;
	struct pv_event ev;
	char *args;
	int rc;

	d->cur = CLB_OTHER;
	if (pv_get_str(blk, "type", "", &type, NULL, 0) != CP_OK)
		return CP_EPARSE;
	if (strcmp(type, "text") == 0) {
		d->cur = CLB_TEXT;
		if (pv_get_str(blk, "text", "", &s, NULL, 0) == CP_OK && s[0] != '\0')
			return cl_emit(d, PV_EV_TEXT, s, 0);
		return CP_OK;
	}
	if (strcmp(type, "thinking") == 0) {
		d->cur = CLB_THINKING;
		if (pv_get_str(blk, "thinking", "", &s, NULL, 0) == CP_OK && s[0] != '\0' &&
		    (rc = cl_emit(d, PV_EV_THINKING, s, 0)) != CP_OK)
			return rc;
		if (pv_get_str(blk, "signature", "", &s, NULL, 0) == CP_OK && s[0] != '\0')
			return cl_emit(d, PV_EV_THINKING_SIG, s, 0);
		return CP_OK;
	}
	if (strcmp(type, "redacted_thinking") == 0) {
		if (pv_get_str(blk, "data", "", &s, NULL, 0) != CP_OK)
			return CP_OK;
		memset(&ev, 0, sizeof(ev));
		ev.kind = PV_EV_THINKING_SIG;
		ev.text = s;
		ev.len = strlen(s);
		ev.redacted = true;
		return d->emit(&ev, d->arg);
	}
	if (strcmp(type, "tool_use") == 0) {
		d->cur = CLB_TOOL;
		d->cur_tool = d->n_tools++;
		(void)pv_get_str(blk, "id", "", &s, NULL, 0);
		(void)pv_get_str(blk, "name", "", &s2, NULL, 0);
		memset(&ev, 0, sizeof(ev));
		ev.kind = PV_EV_TOOL_START;
		ev.id = s != NULL ? s : "";
		ev.name = s2 != NULL ? s2 : "";
		ev.index = d->cur_tool;
		if ((rc = d->emit(&ev, d->arg)) != CP_OK)
			return rc;
		/* a stream's block starts with "input": {} and the arguments
		 * follow as deltas; an input already there is sent as one */
		input = cJSON_GetObjectItemCaseSensitive(blk, "input");
		if (!whole && (!cJSON_IsObject(input) || input->child == NULL))
			return CP_OK;
		if ((args = json_print(input)) == NULL)
			args = strdup("{}");
		if (args == NULL)
			return CP_ENOMEM;
		rc = cl_emit(d, PV_EV_TOOL_ARGS, args, d->cur_tool);
		free(args);
		return rc != CP_OK || !whole ? rc : cl_emit(d, PV_EV_TOOL_END, NULL, d->cur_tool);
	}
	log_debug("claude: '%.64s' block of the answer dropped", type);
	return CP_OK;
}

static int
cl_delta(struct pv_dec *d, const cJSON *delta)
{
	const char *type = NULL, *s = NULL;

	if (pv_get_str(delta, "type", "", &type, NULL, 0) != CP_OK)
		return CP_EPARSE;
	if (strcmp(type, "text_delta") == 0 && pv_get_str(delta, "text", "", &s, NULL, 0) == CP_OK)
		return s[0] != '\0' ? cl_emit(d, PV_EV_TEXT, s, 0) : CP_OK;
	if (strcmp(type, "thinking_delta") == 0 &&
	    pv_get_str(delta, "thinking", "", &s, NULL, 0) == CP_OK)
		return s[0] != '\0' ? cl_emit(d, PV_EV_THINKING, s, 0) : CP_OK;
	if (strcmp(type, "signature_delta") == 0 &&
	    pv_get_str(delta, "signature", "", &s, NULL, 0) == CP_OK)
		return cl_emit(d, PV_EV_THINKING_SIG, s, 0);
	if (strcmp(type, "input_json_delta") == 0 && d->cur == CLB_TOOL &&
	    pv_get_str(delta, "partial_json", "", &s, NULL, 0) == CP_OK)
		return s[0] != '\0' ? cl_emit(d, PV_EV_TOOL_ARGS, s, d->cur_tool) : CP_OK;
	return CP_OK;
}

static int
cl_stop_event(struct pv_dec *d, const char *reason)
{
	struct pv_event ev;

	if (d->stopped)
		return CP_OK;
	d->stopped = true;
	memset(&ev, 0, sizeof(ev));
	ev.kind = PV_EV_STOP;
	ev.stop = cl_stop_of(reason);
	return d->emit(&ev, d->arg);
}

/* One SSE event of the Messages stream (the "type" member decides; the
 * event: name repeats it). */
static int
cl_on_sse(const struct sse_event *se, void *arg)
{
	struct pv_dec *d = arg;
	const cJSON *it;
	const char *type = NULL, *s = NULL;
	cJSON *root = NULL;
	int rc = CP_EPARSE;

	if (pv_parse_answer(se->data, se->data_len, &root) != CP_OK || !cJSON_IsObject(root) ||
	    pv_get_str(root, "type", "", &type, NULL, 0) != CP_OK)
		goto out;
	rc = CP_OK;
	if (strcmp(type, "message_start") == 0) {
		it = cJSON_GetObjectItemCaseSensitive(root, "message");
		if ((rc = cl_emit_start(d, it)) != CP_OK)
			goto out;
		it = cJSON_GetObjectItemCaseSensitive(it, "usage");
		if (cJSON_IsObject(it)) {
			cl_usage_in(d, it);
			rc = cl_emit_usage(d);
		}
	} else if (strcmp(type, "content_block_start") == 0) {
		if ((rc = cl_emit_start(d, NULL)) == CP_OK)
			rc = cl_block_start(d, cJSON_GetObjectItemCaseSensitive(root, "content_block"), false);
	} else if (strcmp(type, "content_block_delta") == 0) {
		rc = cl_delta(d, cJSON_GetObjectItemCaseSensitive(root, "delta"));
	} else if (strcmp(type, "content_block_stop") == 0) {
		if (d->cur == CLB_TOOL)
			rc = cl_emit(d, PV_EV_TOOL_END, NULL, d->cur_tool);
		d->cur = CLB_NONE;
	} else if (strcmp(type, "message_delta") == 0) {
		it = cJSON_GetObjectItemCaseSensitive(root, "usage");
		if (cJSON_IsObject(it)) {
			cl_usage_in(d, it);
			if ((rc = cl_emit_usage(d)) != CP_OK)
				goto out;
		}
		it = cJSON_GetObjectItemCaseSensitive(root, "delta");
		if (pv_get_str(it, "stop_reason", "", &s, NULL, 0) == CP_OK)
			rc = cl_stop_event(d, s);
	} else if (strcmp(type, "error") == 0) {
		rc = cl_emit_error(d, root);
	}
	/* message_stop, ping and unknown events carry nothing for the pivot */
out:
	cJSON_Delete(root);
	return rc;
}

static int
cl_dec_feed(struct pv_dec *d, const char *data, size_t len, pv_emit_fn emit, void *arg)
{
	int rc;

	if (!d->stream)
		return buf_append(&d->body, data, len);
	d->emit = emit;
	d->arg = arg;
	rc = sse_feed(&d->sse, data, len, cl_on_sse, d);
	return rc == CP_ETOOBIG ? CP_EPARSE : rc;
}

static int
cl_dec_finish(struct pv_dec *d, pv_emit_fn emit, void *arg)
{
	const cJSON *it, *blk;
	const char *type = NULL, *s = NULL;
	cJSON *root = NULL;
	int rc;

	d->emit = emit;
	d->arg = arg;
	if (d->stream) {
		/* a last event without its blank line still counts */
		rc = sse_feed(&d->sse, "\n\n", 2, cl_on_sse, d);
		return rc == CP_ETOOBIG ? CP_EPARSE : rc;
	}
	if ((rc = pv_parse_answer(d->body.p, d->body.len, &root)) != CP_OK)
		goto out;
	rc = CP_EPARSE;
	if (!cJSON_IsObject(root) || pv_get_str(root, "type", "", &type, NULL, 0) != CP_OK)
		goto out;
	if (strcmp(type, "error") == 0) {
		rc = cl_emit_error(d, root);
		goto out;
	}
	if (strcmp(type, "message") != 0)
		goto out;
	if ((rc = cl_emit_start(d, root)) != CP_OK)
		goto out;
	it = cJSON_GetObjectItemCaseSensitive(root, "content");
	cJSON_ArrayForEach(blk, it) {
		if ((rc = cl_block_start(d, blk, true)) != CP_OK)
			goto out;
	}
	it = cJSON_GetObjectItemCaseSensitive(root, "usage");
	if (cJSON_IsObject(it)) {
		cl_usage_in(d, it);
		if ((rc = cl_emit_usage(d)) != CP_OK)
			goto out;
	}
	if (pv_get_str(root, "stop_reason", "", &s, NULL, 0) == CP_OK)
		rc = cl_stop_event(d, s);
out:
	cJSON_Delete(root);
	return rc;
}

/* ------------------------------------------------------- client encoder */

struct pv_enc {
	struct pv_enc_base b;    /* options and the answer so far */
	bool head;               /* message_start written */
	enum cl_blk open;        /* the open block's kind */
	int open_tool;           /* its tool index */
	bool open_signed;        /* the open thinking block has its signature */
	int next_index;          /* next content block index */
	bool errored;            /* an error event was written: nothing follows */
};

static struct pv_enc *
cl_enc_new(const struct pv_enc_opts *o)
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
cl_enc_free(struct pv_enc *e)
{
	if (e == NULL)
		return;
	pv_enc_base_release(&e->b);
	free(e);
}

static const char *
cl_enc_model(const struct pv_enc *e)
{
	return e->b.o.model != NULL ? e->b.o.model : e->b.g.model != NULL ? e->b.g.model : "";
}

/* The message id: the upstream's, else one made from the creation time. */
static const char *
cl_enc_id(const struct pv_enc *e, char *tmp, size_t tmplen)
{
	if (e->b.g.id != NULL && e->b.g.id[0] != '\0')
		return e->b.g.id;
	snprintf(tmp, tmplen, "msg_%lld", e->b.o.created);
	return tmp;
}

static cJSON *
cl_usage_obj(const struct pv_usage *u, bool delta)
{
	cJSON *o = cJSON_CreateObject();
	long long cached = u->cached > 0 ? u->cached : 0;
	long long in = u->input >= 0 ? u->input - cached : 0;

	if (o == NULL)
		return NULL;
	if (in < 0)
		in = 0;
	/* message_delta carries input too (Anthropic sends it there since
	 * the usage of a stream is final only at the end) */
	if ((!delta || u->input >= 0) &&
	    (cJSON_AddNumberToObject(o, "input_tokens", (double)in) == NULL ||
	    cJSON_AddNumberToObject(o, "cache_creation_input_tokens", 0) == NULL ||
	    cJSON_AddNumberToObject(o, "cache_read_input_tokens", (double)cached) == NULL))
		goto fail;
	if (cJSON_AddNumberToObject(o, "output_tokens", (double)(u->output > 0 ? u->output : 0)) == NULL)
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* The message object: empty content for message_start, the gathered
 * content for a JSON answer. */
static cJSON *
cl_message(struct pv_enc *e, bool full)
{
	cJSON *m = cJSON_CreateObject(), *content, *b;
	char idtmp[48];
	size_t i;

	if (m == NULL || cJSON_AddStringToObject(m, "id", cl_enc_id(e, idtmp, sizeof(idtmp))) == NULL ||
	    cJSON_AddStringToObject(m, "type", "message") == NULL ||
	    cJSON_AddStringToObject(m, "role", "assistant") == NULL ||
	    cJSON_AddStringToObject(m, "model", cl_enc_model(e)) == NULL ||
	    (content = cJSON_AddArrayToObject(m, "content")) == NULL)
		goto fail;
	for (i = 0; full && i < e->b.g.n_blocks; i++) {
		const struct pv_block *k = &e->b.g.blocks[i];

		b = NULL;
		if (k->kind == PV_TEXT) {
			if ((b = cl_block("text")) == NULL || !cJSON_AddItemToArray(content, b) ||
			    cJSON_AddStringToObject(b, "text", k->text) == NULL)
				goto fail;
		} else if (k->kind == PV_THINKING && k->redacted) {
			if ((b = cl_block("redacted_thinking")) == NULL || !cJSON_AddItemToArray(content, b) ||
			    cJSON_AddStringToObject(b, "data", k->signature != NULL ? k->signature : "") == NULL)
				goto fail;
		} else if (k->kind == PV_THINKING) {
			if ((b = cl_block("thinking")) == NULL || !cJSON_AddItemToArray(content, b) ||
			    cJSON_AddStringToObject(b, "thinking", k->text) == NULL ||
			    cJSON_AddStringToObject(b, "signature", k->signature != NULL ? k->signature : "") == NULL)
				goto fail;
		} else if (k->kind == PV_TOOL_CALL) {
			if ((b = cl_block("tool_use")) == NULL || !cJSON_AddItemToArray(content, b) ||
			    cJSON_AddStringToObject(b, "id", k->id) == NULL ||
			    cJSON_AddStringToObject(b, "name", k->name) == NULL ||
			    !cJSON_AddItemToObject(b, "input", pv_args_object(k->text)))
				goto fail;
		}
	}
	if (full) {
		if (cJSON_AddStringToObject(m, "stop_reason",
		    cl_stop_name(e->b.g.stop, e->b.g.n_tools > 0)) == NULL)
			goto fail;
	} else if (cJSON_AddNullToObject(m, "stop_reason") == NULL)
		goto fail;
	if (cJSON_AddNullToObject(m, "stop_sequence") == NULL ||
	    !cJSON_AddItemToObject(m, "usage", cl_usage_obj(&e->b.g.usage, false)))
		goto fail;
	return m;
fail:
	cJSON_Delete(m);
	return NULL;
}

/* An event body {"type": type} ("type" first, as Anthropic writes it). */
static cJSON *
cl_ev(const char *type)
{
	return cl_block(type);
}

/* Write body (built by cl_ev) as one SSE event named by its type; frees
 * body. */
static int
cl_put(struct buf *out, cJSON *body)
{
	const char *type = NULL;
	int rc = CP_ENOMEM;

	if (body != NULL && pv_get_str(body, "type", "", &type, NULL, 0) == CP_OK)
		rc = pv_put_json(out, body, true, type);
	cJSON_Delete(body);
	return rc;
}

static int
cl_head(struct pv_enc *e, struct buf *out)
{
	cJSON *b;
	int rc;

	if (e->head)
		return CP_OK;
	e->head = true;
	if ((b = cl_ev("message_start")) == NULL ||
	    !cJSON_AddItemToObject(b, "message", cl_message(e, false))) {
		cJSON_Delete(b);
		return CP_ENOMEM;
	}
	if ((rc = cl_put(out, b)) != CP_OK)
		return rc;
	return cl_put(out, cl_ev("ping"));
}

static int
cl_close(struct pv_enc *e, struct buf *out)
{
	cJSON *b;

	if (e->open == CLB_NONE)
		return CP_OK;
	e->open = CLB_NONE;
	if ((b = cl_ev("content_block_stop")) == NULL ||
	    cJSON_AddNumberToObject(b, "index", e->next_index - 1) == NULL) {
		cJSON_Delete(b);
		return CP_ENOMEM;
	}
	return cl_put(out, b);
}

/* Open a block of kind with content_block cb (consumed). */
static int
cl_open(struct pv_enc *e, struct buf *out, enum cl_blk kind, cJSON *cb)
{
	cJSON *b;
	int rc;

	if (cb == NULL)
		return CP_ENOMEM;
	if ((rc = cl_close(e, out)) != CP_OK) {
		cJSON_Delete(cb);
		return rc;
	}
	if ((b = cl_ev("content_block_start")) == NULL ||
	    cJSON_AddNumberToObject(b, "index", e->next_index) == NULL ||
	    !cJSON_AddItemToObject(b, "content_block", cb)) {
		cJSON_Delete(b);
		return CP_ENOMEM;
	}
	e->next_index++;
	e->open = kind;
	e->open_signed = false;
	return cl_put(out, b);
}

static int
cl_put_delta(struct pv_enc *e, struct buf *out, const char *dtype, const char *key,
    const char *text, size_t len)
{
	cJSON *b = cl_ev("content_block_delta"), *d;
	char *s = pv_strndup(text != NULL ? text : "", text != NULL ? len : 0);

	if (b == NULL || s == NULL || cJSON_AddNumberToObject(b, "index", e->next_index - 1) == NULL ||
	    (d = cJSON_AddObjectToObject(b, "delta")) == NULL ||
	    cJSON_AddStringToObject(d, "type", dtype) == NULL ||
	    cJSON_AddStringToObject(d, key, s) == NULL) {
		free(s);
		cJSON_Delete(b);
		return CP_ENOMEM;
	}
	free(s);
	return cl_put(out, b);
}

static cJSON *
cl_cb(const char *type, const char *k1, const char *v1, const char *k2, const char *v2)
{
	cJSON *b = cl_block(type);

	if (b == NULL || (k1 != NULL && cJSON_AddStringToObject(b, k1, v1 != NULL ? v1 : "") == NULL) ||
	    (k2 != NULL && cJSON_AddStringToObject(b, k2, v2 != NULL ? v2 : "") == NULL)) {
		cJSON_Delete(b);
		return NULL;
	}
	return b;
}

static int
cl_enc_stream(struct pv_enc *e, const struct pv_event *ev, struct buf *out)
{
	cJSON *cb, *b;
	char *s;
	int rc;

	if (ev->kind == PV_EV_START || ev->kind == PV_EV_USAGE || ev->kind == PV_EV_STOP)
		return CP_OK;
	if ((rc = cl_head(e, out)) != CP_OK)
		return rc;
	switch (ev->kind) {
	case PV_EV_TEXT:
		if (e->open != CLB_TEXT && (rc = cl_open(e, out, CLB_TEXT,
		    cl_cb("text", "text", "", NULL, NULL))) != CP_OK)
			return rc;
		return cl_put_delta(e, out, "text_delta", "text", ev->text, ev->len);
	case PV_EV_THINKING:
		if ((e->open != CLB_THINKING || e->open_signed) && (rc = cl_open(e, out, CLB_THINKING,
		    cl_cb("thinking", "thinking", "", NULL, NULL))) != CP_OK)
			return rc;
		return cl_put_delta(e, out, "thinking_delta", "thinking", ev->text, ev->len);
	case PV_EV_THINKING_SIG:
		if (ev->redacted) {
			if ((s = pv_strndup(ev->text != NULL ? ev->text : "", ev->text != NULL ? ev->len : 0)) == NULL)
				return CP_ENOMEM;
			rc = cl_open(e, out, CLB_OTHER, cl_cb("redacted_thinking", "data", s, NULL, NULL));
			free(s);
			return rc != CP_OK ? rc : cl_close(e, out);
		}
		if ((e->open != CLB_THINKING || e->open_signed) && (rc = cl_open(e, out, CLB_THINKING,
		    cl_cb("thinking", "thinking", "", NULL, NULL))) != CP_OK)
			return rc;
		e->open_signed = true;
		return cl_put_delta(e, out, "signature_delta", "signature", ev->text, ev->len);
	case PV_EV_TOOL_START:
		cb = cl_cb("tool_use", "id", ev->id, "name", ev->name);
		if (cb != NULL && cJSON_AddObjectToObject(cb, "input") == NULL) {
			cJSON_Delete(cb);
			cb = NULL;
		}
		if ((rc = cl_open(e, out, CLB_TOOL, cb)) != CP_OK)
			return rc;
		e->open_tool = ev->index;
		return CP_OK;
	case PV_EV_TOOL_ARGS:
		if (e->open != CLB_TOOL || e->open_tool != ev->index) {
			/* Claude streams one block at a time: interleaved
			 * arguments of an earlier call cannot be expressed */
			log_debug("claude: arguments of tool call %d out of order dropped", ev->index);
			return CP_OK;
		}
		if (ev->len == 0)
			return CP_OK;
		return cl_put_delta(e, out, "input_json_delta", "partial_json", ev->text, ev->len);
	case PV_EV_TOOL_END:
		return e->open == CLB_TOOL && e->open_tool == ev->index ? cl_close(e, out) : CP_OK;
	case PV_EV_ERROR:
		if ((rc = cl_close(e, out)) != CP_OK)
			return rc;
		e->errored = true;
		if ((s = pv_strndup(ev->text != NULL ? ev->text : "", ev->text != NULL ? ev->len : 0)) == NULL)
			return CP_ENOMEM;
		b = cl_error_obj(cl_err_type_of_status(ev->status), s);
		free(s);
		if (b == NULL)
			return CP_ENOMEM;
		/* cl_error_obj already has "type":"error" */
		rc = pv_put_json(out, b, true, "error");
		cJSON_Delete(b);
		return rc;
	default:
		return CP_OK;
	}
}

static int
cl_enc_event(struct pv_enc *e, const struct pv_event *ev, struct buf *out)
{
	int rc;

	if (e->errored)
		return CP_OK;
	if ((rc = pv_gather_add(&e->b.g, ev)) != CP_OK)
		return rc;
	if (!e->b.o.stream)
		return CP_OK;
	return cl_enc_stream(e, ev, out);
}

static int
cl_enc_finish(struct pv_enc *e, struct buf *out)
{
	cJSON *b, *d;
	int rc;

	if (!e->b.o.stream) {
		if (e->b.g.error != NULL && e->b.g.n_blocks == 0) {
			b = cl_error_obj(cl_err_type_of_status(e->b.g.error_status), e->b.g.error);
		} else
			b = cl_message(e, true);
		if (b == NULL)
			return CP_ENOMEM;
		rc = pv_put_json(out, b, false, NULL);
		cJSON_Delete(b);
		return rc;
	}
	if (e->errored)
		return CP_OK;
	if ((rc = cl_head(e, out)) != CP_OK || (rc = cl_close(e, out)) != CP_OK)
		return rc;
	if ((b = cl_ev("message_delta")) == NULL || (d = cJSON_AddObjectToObject(b, "delta")) == NULL ||
	    cJSON_AddStringToObject(d, "stop_reason", cl_stop_name(e->b.g.stop, e->b.g.n_tools > 0)) == NULL ||
	    cJSON_AddNullToObject(d, "stop_sequence") == NULL ||
	    !cJSON_AddItemToObject(b, "usage", cl_usage_obj(&e->b.g.usage, true))) {
		cJSON_Delete(b);
		return CP_ENOMEM;
	}
	if ((rc = cl_put(out, b)) != CP_OK)
		return rc;
	return cl_put(out, cl_ev("message_stop"));
}

static const char *
cl_content_type(const struct pv_enc_opts *o)
{
	return o->stream ? "text/event-stream" : "application/json";
}

/* -------------------------------------------------- the daemon's answers */

static int
cl_error_body(struct buf *out, int status, enum pv_err kind, const char *message,
    const char *type, const char *code)
{
	cJSON *root;
	int rc;

	(void)type;
	(void)code;
	buf_reset(out);
	root = cl_error_obj(status == 529 ? "overloaded_error" :
	    (unsigned)kind < PVE__COUNT ? cl_err_type[kind] : "api_error", message);
	if (root == NULL)
		return CP_ENOMEM;
	rc = pv_put_json(out, root, false, NULL);
	cJSON_Delete(root);
	return rc;
}

static int
cl_decode_error(const char *body, size_t len, char *msg, size_t msglen)
{
	cJSON *root = NULL;
	const char *m = NULL;

	if (msglen > 0)
		msg[0] = '\0';
	if (pv_parse_answer(body, len, &root) != CP_OK)
		return CP_OK;
	if (pv_get_str(cJSON_GetObjectItemCaseSensitive(root, "error"), "message", "", &m,
	    NULL, 0) == CP_OK && msglen > 0)
		snprintf(msg, msglen, "%s", m);
	cJSON_Delete(root);
	return CP_OK;
}

/* GET /v1/models in Anthropic's shape. We know no release dates:
 * created_at is the epoch (documented in cliproxyd(8)). */
static cJSON *
cl_model_obj(const char *name)
{
	cJSON *m = cJSON_CreateObject();

	if (m == NULL || cJSON_AddStringToObject(m, "type", "model") == NULL ||
	    cJSON_AddStringToObject(m, "id", name) == NULL ||
	    cJSON_AddStringToObject(m, "display_name", name) == NULL ||
	    cJSON_AddStringToObject(m, "created_at", "1970-01-01T00:00:00Z") == NULL) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

static int
cl_models_body(struct buf *out, const char *const *names, size_t n, bool single)
{
	cJSON *root = NULL, *data, *m;
	size_t i;
	int rc = CP_ENOMEM;

	buf_reset(out);
	if (single) {
		root = n > 0 ? cl_model_obj(names[0]) : NULL;
		goto put;
	}
	if ((root = cJSON_CreateObject()) == NULL || (data = cJSON_AddArrayToObject(root, "data")) == NULL)
		goto out;
	for (i = 0; i < n; i++)
		if ((m = cl_model_obj(names[i])) == NULL || !cJSON_AddItemToArray(data, m))
			goto out;
	if (cJSON_AddFalseToObject(root, "has_more") == NULL ||
	    (n > 0 ? cJSON_AddStringToObject(root, "first_id", names[0]) :
	    cJSON_AddNullToObject(root, "first_id")) == NULL ||
	    (n > 0 ? cJSON_AddStringToObject(root, "last_id", names[n - 1]) :
	    cJSON_AddNullToObject(root, "last_id")) == NULL)
		goto out;
put:
	if (root != NULL)
		rc = pv_put_json(out, root, false, NULL);
out:
	cJSON_Delete(root);
	return rc;
}

/* ------------------------------------------------------- count_tokens */

/* POST /v1/messages/count_tokens takes the request without max_tokens,
 * sampling, stop sequences, stream and metadata. */
static int
cl_encode_count(const struct pv_request *r, cJSON **out)
{
	static const char *const drop[] = {
		"max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "stream", "metadata",
	};
	size_t i;
	int rc;

	if ((rc = cl_encode_request(r, out)) != CP_OK)
		return rc;
	for (i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		cJSON_DeleteItemFromObjectCaseSensitive(*out, drop[i]);
	return CP_OK;
}

static int
cl_decode_count(const cJSON *ans, long long *tokens)
{
	long long n;

	if (json_get_int(ans, "input_tokens", 0, 1LL << 50, &n) != CP_OK)
		return CP_EPARSE;
	*tokens = n;
	return CP_OK;
}

static int
cl_count_body(struct buf *out, long long tokens)
{
	buf_reset(out);
	return buf_printf(out, "{\"input_tokens\":%lld}", tokens);
}

const struct codec codec_claude = {
	.id = FMT_CLAUDE,
	.name = "claude",
	.request_model = pv_body_request_model,
	.set_model = pv_body_set_model,
	.decode_request = cl_decode_request,
	.encode_request = cl_encode_request,
	.dec_new = cl_dec_new,
	.dec_feed = cl_dec_feed,
	.dec_finish = cl_dec_finish,
	.dec_free = cl_dec_free,
	.enc_new = cl_enc_new,
	.enc_event = cl_enc_event,
	.enc_finish = cl_enc_finish,
	.enc_free = cl_enc_free,
	.content_type = cl_content_type,
	.error_body = cl_error_body,
	.decode_error = cl_decode_error,
	.models_body = cl_models_body,
	.encode_count = cl_encode_count,
	.decode_count = cl_decode_count,
	.count_body = cl_count_body,
};
