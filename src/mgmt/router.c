/*
 * router.c - the one routing table of the management API
 * (spec/management-api.txt "Endpoints", DESIGN 5) and the descriptors that
 * drive the shared scalar and list handlers.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mgmt.h"

/* ------------------------------------------------------- descriptors */

static const struct scalar_desc d_debug = {
	{ "debug", NULL }, SCALAR_BOOL, 0, 0, NULL, NULL };
static const struct scalar_desc d_proxy_url = {
	{ "proxy-url", NULL }, SCALAR_STRING, 0, 0, cfg_proxy_url_ok, "invalid proxy url" };
static const struct scalar_desc d_switch_project = {
	{ "quota-exceeded", "switch-project", NULL }, SCALAR_BOOL, 0, 0, NULL, NULL };
static const struct scalar_desc d_switch_preview = {
	{ "quota-exceeded", "switch-preview-model", NULL }, SCALAR_BOOL, 0, 0, NULL, NULL };
static const struct scalar_desc d_request_log = {
	{ "request-log", NULL }, SCALAR_BOOL, 0, 0, NULL, NULL };
/* DESIGN 3: request-retry is an integer 0..100 */
static const struct scalar_desc d_request_retry = {
	{ "request-retry", NULL }, SCALAR_INT, 0, 100, NULL,
	"request-retry must be an integer 0..100" };
static const struct scalar_desc d_allow_local = {
	{ "allow-localhost-unauthenticated", NULL }, SCALAR_BOOL, 0, 0, NULL, NULL };

static const struct list_desc d_api_keys = {
	"api-keys", LIST_STRING, NULL, NULL, "value" };
static const struct list_desc d_gl_keys = {
	"generative-language-api-key", LIST_STRING, NULL, NULL, "value" };
static const struct list_desc d_claude = {
	"claude-api-key", LIST_OBJECT, "api-key", "match", "api-key" };
static const struct list_desc d_codex = {
	"codex-api-key", LIST_OBJECT, "api-key", "match", "api-key" };
static const struct list_desc d_compat = {
	"openai-compatibility", LIST_OBJECT, "name", "name", "name" };
/* issue 15: per-client-key policy, PATCH by index or by api-key */
static const struct list_desc d_policy = {
	"api-key-policy", LIST_OBJECT, "api-key", "match", "api-key" };

/* PROVIDERS.md 6: one login endpoint per kind */
static const enum oauth_kind k_claude = OAUTH_CLAUDE, k_codex = OAUTH_CODEX,
    k_gemini = OAUTH_GEMINI, k_qwen = OAUTH_QWEN;

/* ------------------------------------------------------------- table */

#define SET (MGMT_PUT | MGMT_PATCH)
#define CFG ROUTE_CFG
#define DEL MGMT_DELETE

static const struct route routes[] = {
	{ MGMT_GET, "/debug", h_scalar_get, &d_debug, CFG },
	{ SET, "/debug", h_scalar_set, &d_debug, 0 },
	{ MGMT_GET, "/proxy-url", h_scalar_get, &d_proxy_url, CFG },
	{ SET, "/proxy-url", h_scalar_set, &d_proxy_url, 0 },
	{ DEL, "/proxy-url", h_scalar_clear, &d_proxy_url, 0 },
	{ MGMT_GET, "/quota-exceeded/switch-project", h_scalar_get, &d_switch_project, CFG },
	{ SET, "/quota-exceeded/switch-project", h_scalar_set, &d_switch_project, 0 },
	{ MGMT_GET, "/quota-exceeded/switch-preview-model", h_scalar_get, &d_switch_preview, CFG },
	{ SET, "/quota-exceeded/switch-preview-model", h_scalar_set, &d_switch_preview, 0 },
	{ MGMT_GET, "/request-log", h_scalar_get, &d_request_log, CFG },
	{ SET, "/request-log", h_scalar_set, &d_request_log, 0 },
	{ MGMT_GET, "/request-retry", h_scalar_get, &d_request_retry, CFG },
	{ SET, "/request-retry", h_scalar_set, &d_request_retry, 0 },
	{ MGMT_GET, "/allow-localhost-unauthenticated", h_scalar_get, &d_allow_local, CFG },
	{ SET, "/allow-localhost-unauthenticated", h_scalar_set, &d_allow_local, 0 },

	{ MGMT_GET, "/api-keys", h_list_get, &d_api_keys, CFG },
	{ MGMT_PUT, "/api-keys", h_list_put, &d_api_keys, 0 },
	{ MGMT_PATCH, "/api-keys", h_list_patch, &d_api_keys, 0 },
	{ DEL, "/api-keys", h_list_delete, &d_api_keys, 0 },
	{ MGMT_GET, "/generative-language-api-key", h_list_get, &d_gl_keys, CFG },
	{ MGMT_PUT, "/generative-language-api-key", h_list_put, &d_gl_keys, 0 },
	{ MGMT_PATCH, "/generative-language-api-key", h_list_patch, &d_gl_keys, 0 },
	{ DEL, "/generative-language-api-key", h_list_delete, &d_gl_keys, 0 },
	{ MGMT_GET, "/claude-api-key", h_list_get, &d_claude, CFG },
	{ MGMT_PUT, "/claude-api-key", h_list_put, &d_claude, 0 },
	{ MGMT_PATCH, "/claude-api-key", h_list_patch, &d_claude, 0 },
	{ DEL, "/claude-api-key", h_list_delete, &d_claude, 0 },
	{ MGMT_GET, "/codex-api-key", h_list_get, &d_codex, CFG },
	{ MGMT_PUT, "/codex-api-key", h_list_put, &d_codex, 0 },
	{ MGMT_PATCH, "/codex-api-key", h_list_patch, &d_codex, 0 },
	{ DEL, "/codex-api-key", h_list_delete, &d_codex, 0 },
	{ MGMT_GET, "/openai-compatibility", h_list_get, &d_compat, CFG },
	{ MGMT_PUT, "/openai-compatibility", h_list_put, &d_compat, 0 },
	{ MGMT_PATCH, "/openai-compatibility", h_list_patch, &d_compat, 0 },
	{ DEL, "/openai-compatibility", h_list_delete, &d_compat, 0 },
	{ MGMT_GET, "/api-key-policy", h_list_get, &d_policy, CFG },
	{ MGMT_PUT, "/api-key-policy", h_list_put, &d_policy, 0 },
	{ MGMT_PATCH, "/api-key-policy", h_list_patch, &d_policy, 0 },
	{ DEL, "/api-key-policy", h_list_delete, &d_policy, 0 },

	{ MGMT_GET, "/auth-files", h_auth_list, NULL, 0 },
	{ MGMT_POST, "/auth-files", h_auth_upload, NULL, 0 },
	{ DEL, "/auth-files", h_auth_delete, NULL, 0 },
	{ MGMT_GET, "/auth-files/download", h_auth_download, NULL, 0 },
	{ MGMT_PATCH, "/auth-files/status", h_auth_status, NULL, 0 },

	{ MGMT_GET, "/anthropic-auth-url", h_login_url, &k_claude, 0 },
	{ MGMT_GET, "/codex-auth-url", h_login_url, &k_codex, 0 },
	{ MGMT_GET, "/gemini-cli-auth-url", h_login_url, &k_gemini, 0 },
	{ MGMT_GET, "/qwen-auth-url", h_login_url, &k_qwen, 0 },
	{ MGMT_GET, "/get-auth-status", h_login_status, NULL, 0 },
	{ MGMT_POST, "/oauth-callback", h_login_callback, NULL, 0 },

	/* beyond the spec (issue 13) */
	{ MGMT_GET, "/config", h_config_get, NULL, CFG },
	{ MGMT_GET, "/config.yaml", h_config_yaml_get, NULL, CFG },
	{ MGMT_PUT, "/config.yaml", h_config_yaml_put, NULL, 0 },
	{ MGMT_GET, "/config/history", h_history_list, NULL, 0 },
	{ MGMT_POST, "/config/history/{id}/restore", h_history_restore, NULL, 0 },
	{ MGMT_GET, "/status", h_status, NULL, 0 },
	{ MGMT_GET, "/audit", h_audit, NULL, 0 },
	{ MGMT_GET, "/request-logs", h_reqlog_list, NULL, 0 },
	{ DEL, "/request-logs", h_reqlog_clear, NULL, 0 },
	{ MGMT_GET, "/request-logs/{name}", h_reqlog_get, NULL, 0 },
	{ MGMT_GET, "/endpoints", h_endpoints, NULL, 0 },

	/* usage (issue 15) */
	{ MGMT_GET, "/usage", h_usage_get, NULL, 0 },
	{ MGMT_GET, "/usage/export", h_usage_export, NULL, 0 },
};

#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static void
allow_header(struct mgmt_resp *rs, const char *name, unsigned mask)
{
	char v[128] = "";
	size_t o = 0;

	/* every named method bit below MGMT_OTHER, in Allow-header order */
	for (unsigned b = 1; b < MGMT_OTHER; b <<= 1) {
		int n;

		if (!(mask & b) || req_method_name(b) == NULL)
			continue;
		/* HEAD is served as GET without the body (RFC 9110 9.3.2) */
		n = snprintf(v + o, sizeof(v) - o, "%s%s%s", o > 0 ? ", " : "", req_method_name(b),
		    b == MGMT_GET ? ", HEAD" : "");
		if (n < 0 || (size_t)n >= sizeof(v) - o)
			break;
		o += (size_t)n;
	}
	resp_header(rs, name, v);
}

/*
 * Does path match the route's pattern? Literal segments compare exactly; a
 * "{name}" segment takes one non-empty segment of at most MGMT_PARAM_MAX - 1
 * bytes, copied into param (the handler validates it by its own
 * allow-list).
 */
static bool
route_match(const char *pat, const char *path, char *param, size_t plen)
{
	for (;;) {
		const char *open = strchr(pat, '{');
		size_t lit = open != NULL ? (size_t)(open - pat) : strlen(pat);
		const char *close;
		size_t seg;

		if (strncmp(pat, path, lit) != 0)
			return false;
		pat += lit;
		path += lit;
		if (open == NULL)
			return *path == '\0';
		if ((close = strchr(open, '}')) == NULL)
			return false;
		seg = strcspn(path, "/");
		if (seg == 0 || seg >= plen)
			return false;
		memcpy(param, path, seg);
		param[seg] = '\0';
		pat = close + 1;
		path += seg;
	}
}

void
h_endpoints(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	cJSON *o = cJSON_CreateObject(), *list;

	(void)rq;
	(void)arg;
	if (o == NULL || (list = cJSON_AddArrayToObject(o, "endpoints")) == NULL)
		goto nomem;
	/* one entry per path, in table order, methods in Allow order */
	for (size_t i = 0; i < N_ROUTES; i++) {
		cJSON *e, *ms;
		unsigned mask = 0;
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(routes[j].path, routes[i].path) == 0;
		if (seen)
			continue;
		for (size_t j = i; j < N_ROUTES; j++)
			if (strcmp(routes[j].path, routes[i].path) == 0)
				mask |= routes[j].methods;
		if ((e = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(list, e)) {
			cJSON_Delete(e);
			goto nomem;
		}
		if (cJSON_AddStringToObject(e, "path", routes[i].path) == NULL ||
		    (ms = cJSON_AddArrayToObject(e, "methods")) == NULL)
			goto nomem;
		for (unsigned b = 1; b < MGMT_OTHER; b <<= 1) {
			cJSON *m;

			if (!(mask & b) || req_method_name(b) == NULL)
				continue;
			if ((m = cJSON_CreateString(req_method_name(b))) == NULL ||
			    !cJSON_AddItemToArray(ms, m)) {
				cJSON_Delete(m);
				goto nomem;
			}
		}
	}
	resp_json(rs, 200, o);
	cJSON_Delete(o);
	return;
nomem:
	cJSON_Delete(o);
	resp_cp_error(rs, CP_ENOMEM, NULL);
}

/* A GET of config-backed data (ROUTE_CFG): the ETag of the file the model
 * came from, and 304 when the client already has it (RFC 9110 13.1.2). A
 * broken file has no ETag: the handler answers 500. true when answered. */
static bool
route_not_modified(struct mgmt_req *rq, struct mgmt_resp *rs, char *etag, size_t elen)
{
	const char *inm;

	etag[0] = '\0';
	if (rq->cfg_stale || rq->st->sha[0] == '\0')
		return false;
	etag_of_sha(rq->st->sha, etag, elen);
	inm = req_header(rq, "HTTP_IF_NONE_MATCH");
	if (inm != NULL && etag_if_none_match(inm, etag)) {
		resp_not_modified(rs, etag);
		return true;
	}
	return false;
}

void
route_dispatch(struct mgmt_req *rq, struct mgmt_resp *rs)
{
	const struct route *hit = NULL;
	const char *qerr;
	char param[MGMT_PARAM_MAX], etag[ETAG_LEN + 1] = "";
	unsigned allowed = 0;

	if (access_load_cfg(rq, rs) != CP_OK)
		return;
	for (size_t i = 0; rq->path_ok && i < N_ROUTES; i++) {
		if (!route_match(routes[i].path, rq->path, param, sizeof(param)))
			continue;
		allowed |= routes[i].methods;
		if ((routes[i].methods & rq->method) && hit == NULL) {
			hit = &routes[i];
			if (strchr(hit->path, '{') != NULL)
				snprintf(rq->param, sizeof(rq->param), "%s", param);
		}
	}
	/* CORS preflight carries no credentials (browsers strip them), so it
	 * passes only the first three access steps (DESIGN 5). */
	if (rq->method == MGMT_OPTIONS) {
		if (access_check(rq, rs, true) != CP_OK)
			return;
		if (allowed == 0) {
			resp_cp_error(rs, CP_ENOTFOUND, "not found");
			return;
		}
		rs->status = 204;
		resp_header(rs, "Access-Control-Allow-Methods",
		    "GET, PUT, PATCH, POST, DELETE, OPTIONS");
		resp_header(rs, "Access-Control-Allow-Headers",
		    "Authorization, X-Management-Key, Content-Type, If-Match, If-None-Match");
		resp_header(rs, "Access-Control-Max-Age", "600");
		return;
	}
	if (access_check(rq, rs, false) != CP_OK)
		return;
	if (allowed == 0) {
		resp_cp_error(rs, CP_ENOTFOUND, "not found");
		return;
	}
	if (hit == NULL) {
		allow_header(rs, "Allow", allowed | MGMT_OPTIONS);
		resp_error(rs, 405, "method not allowed");
		return;
	}
	if ((qerr = req_query_problem(rq)) != NULL) {
		resp_error(rs, 400, qerr);
		return;
	}
	if ((hit->flags & ROUTE_CFG) && route_not_modified(rq, rs, etag, sizeof(etag)))
		return;
	hit->fn(rq, rs, hit->arg);
	if ((hit->flags & ROUTE_CFG) && etag[0] != '\0' && rs->status == 200)
		resp_etag(rs, etag);
}
