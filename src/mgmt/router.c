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

static const struct route routes[] = {
	{ MGMT_GET, "/debug", h_scalar_get, &d_debug },
	{ SET, "/debug", h_scalar_set, &d_debug },
	{ MGMT_GET, "/proxy-url", h_scalar_get, &d_proxy_url },
	{ SET, "/proxy-url", h_scalar_set, &d_proxy_url },
	{ MGMT_DELETE, "/proxy-url", h_scalar_clear, &d_proxy_url },
	{ MGMT_GET, "/quota-exceeded/switch-project", h_scalar_get, &d_switch_project },
	{ SET, "/quota-exceeded/switch-project", h_scalar_set, &d_switch_project },
	{ MGMT_GET, "/quota-exceeded/switch-preview-model", h_scalar_get, &d_switch_preview },
	{ SET, "/quota-exceeded/switch-preview-model", h_scalar_set, &d_switch_preview },
	{ MGMT_GET, "/request-log", h_scalar_get, &d_request_log },
	{ SET, "/request-log", h_scalar_set, &d_request_log },
	{ MGMT_GET, "/request-retry", h_scalar_get, &d_request_retry },
	{ SET, "/request-retry", h_scalar_set, &d_request_retry },
	{ MGMT_GET, "/allow-localhost-unauthenticated", h_scalar_get, &d_allow_local },
	{ SET, "/allow-localhost-unauthenticated", h_scalar_set, &d_allow_local },

	{ MGMT_GET, "/api-keys", h_list_get, &d_api_keys },
	{ MGMT_PUT, "/api-keys", h_list_put, &d_api_keys },
	{ MGMT_PATCH, "/api-keys", h_list_patch, &d_api_keys },
	{ MGMT_DELETE, "/api-keys", h_list_delete, &d_api_keys },
	{ MGMT_GET, "/generative-language-api-key", h_list_get, &d_gl_keys },
	{ MGMT_PUT, "/generative-language-api-key", h_list_put, &d_gl_keys },
	{ MGMT_PATCH, "/generative-language-api-key", h_list_patch, &d_gl_keys },
	{ MGMT_DELETE, "/generative-language-api-key", h_list_delete, &d_gl_keys },
	{ MGMT_GET, "/claude-api-key", h_list_get, &d_claude },
	{ MGMT_PUT, "/claude-api-key", h_list_put, &d_claude },
	{ MGMT_PATCH, "/claude-api-key", h_list_patch, &d_claude },
	{ MGMT_DELETE, "/claude-api-key", h_list_delete, &d_claude },
	{ MGMT_GET, "/codex-api-key", h_list_get, &d_codex },
	{ MGMT_PUT, "/codex-api-key", h_list_put, &d_codex },
	{ MGMT_PATCH, "/codex-api-key", h_list_patch, &d_codex },
	{ MGMT_DELETE, "/codex-api-key", h_list_delete, &d_codex },
	{ MGMT_GET, "/openai-compatibility", h_list_get, &d_compat },
	{ MGMT_PUT, "/openai-compatibility", h_list_put, &d_compat },
	{ MGMT_PATCH, "/openai-compatibility", h_list_patch, &d_compat },
	{ MGMT_DELETE, "/openai-compatibility", h_list_delete, &d_compat },
	{ MGMT_GET, "/api-key-policy", h_list_get, &d_policy },
	{ MGMT_PUT, "/api-key-policy", h_list_put, &d_policy },
	{ MGMT_PATCH, "/api-key-policy", h_list_patch, &d_policy },
	{ MGMT_DELETE, "/api-key-policy", h_list_delete, &d_policy },

	{ MGMT_GET, "/auth-files", h_auth_list, NULL },
	{ MGMT_POST, "/auth-files", h_auth_upload, NULL },
	{ MGMT_DELETE, "/auth-files", h_auth_delete, NULL },
	{ MGMT_GET, "/auth-files/download", h_auth_download, NULL },
	{ MGMT_PATCH, "/auth-files/status", h_auth_status, NULL },

	{ MGMT_GET, "/anthropic-auth-url", h_login_url, &k_claude },
	{ MGMT_GET, "/codex-auth-url", h_login_url, &k_codex },
	{ MGMT_GET, "/gemini-cli-auth-url", h_login_url, &k_gemini },
	{ MGMT_GET, "/qwen-auth-url", h_login_url, &k_qwen },
	{ MGMT_GET, "/get-auth-status", h_login_status, NULL },
	{ MGMT_POST, "/oauth-callback", h_login_callback, NULL },

	{ MGMT_GET, "/usage", h_usage_get, NULL },
	{ MGMT_GET, "/usage/export", h_usage_export, NULL },
};

static const struct {
	enum mgmt_method m;        /* bit */
	const char *name;          /* as in an Allow header */
} method_names[] = {
	{ MGMT_GET, "GET" }, { MGMT_GET, "HEAD" }, /* HEAD is served as GET */
	{ MGMT_PUT, "PUT" }, { MGMT_PATCH, "PATCH" },
	{ MGMT_POST, "POST" }, { MGMT_DELETE, "DELETE" }, { MGMT_OPTIONS, "OPTIONS" },
};

static void
allow_header(struct mgmt_resp *rs, const char *name, unsigned mask)
{
	char v[128] = "";
	size_t o = 0;

	for (size_t i = 0; i < sizeof(method_names) / sizeof(method_names[0]); i++) {
		int n;

		if (!(mask & method_names[i].m))
			continue;
		n = snprintf(v + o, sizeof(v) - o, "%s%s", o > 0 ? ", " : "", method_names[i].name);
		if (n < 0 || (size_t)n >= sizeof(v) - o)
			break;
		o += (size_t)n;
	}
	resp_header(rs, name, v);
}

void
route_dispatch(struct mgmt_req *rq, struct mgmt_resp *rs)
{
	const struct route *hit = NULL;
	const char *qerr;
	unsigned allowed = 0;

	if (access_load_cfg(rq, rs) != CP_OK)
		return;
	for (size_t i = 0; rq->path_ok && i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, rq->path) != 0)
			continue;
		allowed |= routes[i].methods;
		if (routes[i].methods & rq->method)
			hit = &routes[i];
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
		    "Authorization, X-Management-Key, Content-Type");
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
	hit->fn(rq, rs, hit->arg);
}
