/*
 * config.c - the configuration model (DESIGN.md section 3): every key with
 * its default, the flat aliases of the spec, validation with the key and
 * line of the offending value, and the effective config as JSON.
 */
#include "config.h"

#include <arpa/inet.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

#define CFG_DEFAULT_PORT 8317                 /* DESIGN 3 */
#define CFG_DEFAULT_HOST "127.0.0.1"          /* DESIGN 3 */
#define CFG_DEFAULT_AUTH_DIR "~/.cli-proxy-api" /* DESIGN 3 */
#define CFG_RETRY_MAX 100                     /* request-retry 0..100 */
#define CFG_USAGE_RAW_DAYS 7                  /* usage-raw-days default (DESIGN 3) */
#define CFG_USAGE_DAYS 400                    /* usage-days default (DESIGN 3) */
#define CFG_USAGE_DAYS_MAX 36500              /* retention cap: 100 years */
#define CFG_POLICY_NAME_MAX 64                /* api-key-policy name bytes */
#define CFG_POLICY_RPM_MAX 1000000L           /* max-requests-per-minute cap */
#define CFG_POLICY_TPD_MAX 1000000000000L     /* max-tokens-per-day cap */
#define CFG_PATH_MAX 4096                     /* paths we build */
#define CFG_URL_MAX 2048                      /* proxy-url / base-url length */
/* cliproxyd limits (DESIGN 6 "Limits"): one spot for their ranges. */
#define CFG_BODY_MAX_DEFAULT (8L * 1024 * 1024)  /* request-body-max */
#define CFG_BODY_MAX_MIN     1024L
#define CFG_BODY_MAX_MAX     (256L * 1024 * 1024)
#define CFG_CONN_MAX_DEFAULT 16384L              /* max-connections */
#define CFG_CONN_MAX_MAX     1000000L

static const char *const default_trusted[] = { "127.0.0.0/8", "::1" };

struct pctx {
	struct cfg *c;             /* model being filled */
	char *err;                 /* caller's buffer */
	size_t errlen;             /* its size */
};

static int
bad(struct pctx *p, const struct ynode *n, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int empty_list(struct cfg_strlist *l);

static int
bad(struct pctx *p, const struct ynode *n, const char *key, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	if (p->err != NULL && p->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		snprintf(p->err, p->errlen, "line %zu: %s: %s", n->line, key, msg);
	}
	return CP_EINVAL;
}

/* ------------------------------------------------------------ typed */

/* A string value: any non-null scalar (an unquoted 123 is the string
 * "123", as Go's yaml reads it into a string field); null means absent. */
static int
get_str(struct pctx *p, const struct ynode *n, const char *key, char **out)
{
	char *s;

	if (n == NULL || yaml_scalar_is_null(n))
		return CP_OK;
	if (n->kind != YN_SCALAR)
		return bad(p, n, key, "must be a string");
	if (n->slen != strlen(n->s))
		return bad(p, n, key, "must not contain NUL bytes");
	if ((s = cp_strdup(n->s)) == NULL)
		return CP_ENOMEM;
	free(*out);
	*out = s;
	return CP_OK;
}

static int
get_bool(struct pctx *p, const struct ynode *n, const char *key, bool *out)
{
	if (n == NULL || yaml_scalar_is_null(n))
		return CP_OK;
	if (!yaml_scalar_bool(n, out))
		return bad(p, n, key, "must be true or false");
	return CP_OK;
}

static int
get_int(struct pctx *p, const struct ynode *n, const char *key, long lo, long hi, long *out)
{
	long long v;

	if (n == NULL || yaml_scalar_is_null(n))
		return CP_OK;
	if (n->kind != YN_SCALAR || !n->plain ||
	    str_to_ll(n->s, n->slen, lo, hi, &v) != CP_OK)
		return bad(p, n, key, "must be an integer %ld..%ld", lo, hi);
	*out = (long)v;
	return CP_OK;
}

static void
strlist_release(struct cfg_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* A list of non-empty strings (an empty key would match an empty
 * credential: refused). */
static int
get_strlist(struct pctx *p, const struct ynode *n, const char *key, struct cfg_strlist *out)
{
	struct cfg_strlist l = { NULL, 0 };
	size_t i;
	int rc = CP_OK;

	if (n == NULL || yaml_scalar_is_null(n))
		return CP_OK;
	if (n->kind != YN_SEQ)
		return bad(p, n, key, "must be a list of strings");
	if ((l.v = calloc(n->n + 1, sizeof(*l.v))) == NULL)
		return CP_ENOMEM;
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->kids[i];
		if (it->kind != YN_SCALAR || yaml_scalar_is_null(it) || it->slen == 0 ||
		    it->slen != strlen(it->s)) {
			rc = bad(p, it, key, "items must be non-empty strings");
			goto out;
		}
		if ((l.v[l.n] = cp_strdup(it->s)) == NULL) {
			rc = CP_ENOMEM;
			goto out;
		}
		l.n++;
	}
	strlist_release(out);
	*out = l;
	l.v = NULL;
	l.n = 0;
out:
	strlist_release(&l);
	return rc;
}

/* ------------------------------------------------------------ URLs */

static bool
prefix_ci(const char *s, const char *pre)
{
	for (; *pre; s++, pre++) {
		char c = *s;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != *pre)
			return false;
	}
	return true;
}

/* authority = [userinfo@]host[:port]; host a name, IPv4 or [IPv6]. */
static bool
authority_ok(const char *a, size_t len)
{
	const char *at = NULL, *h, *end = a + len, *colon = NULL;
	size_t i;
	long long port;

	for (i = 0; i < len; i++)
		if (a[i] == '@')
			at = a + i;
	h = at != NULL ? at + 1 : a;
	if (h >= end)
		return false;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		char v6[64];
		struct in6_addr in6;
		if (rb == NULL || (size_t)(rb - h - 1) >= sizeof(v6))
			return false;
		memcpy(v6, h + 1, (size_t)(rb - h - 1));
		v6[rb - h - 1] = '\0';
		if (inet_pton(AF_INET6, v6, &in6) != 1)
			return false;
		if (rb + 1 == end)
			return true;
		if (rb[1] != ':')
			return false;
		colon = rb + 1;
	} else {
		const char *q;
		for (q = h; q < end; q++) {
			if (*q == ':') {
				colon = q;
				break;
			}
			if (!((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
			    (*q >= '0' && *q <= '9') || *q == '.' || *q == '-' || *q == '_'))
				return false;
		}
		if ((colon != NULL ? colon : end) == h)
			return false;
	}
	if (colon == NULL)
		return true;
	return str_to_ll(colon + 1, (size_t)(end - colon - 1), 1, 65535, &port) == CP_OK;
}

/* scheme://authority[/rest], no spaces or controls anywhere. */
static bool
url_ok(const char *url, const char *const *schemes, bool allow_path)
{
	const char *rest = NULL, *slash;
	size_t i, len = strlen(url);

	if (len == 0)
		return true;
	if (len > CFG_URL_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7F)
			return false;
	for (i = 0; schemes[i] != NULL; i++) {
		size_t sl = strlen(schemes[i]);
		if (prefix_ci(url, schemes[i]) && strncmp(url + sl, "://", 3) == 0) {
			rest = url + sl + 3;
			break;
		}
	}
	if (rest == NULL)
		return false;
	slash = strpbrk(rest, "/?#");
	if (slash != NULL && !allow_path && !(slash[0] == '/' && slash[1] == '\0'))
		return false;
	return authority_ok(rest, slash != NULL ? (size_t)(slash - rest) : strlen(rest));
}

bool
cfg_proxy_url_ok(const char *url)
{
	static const char *const schemes[] = { "https", "http", "socks5h", "socks5",
		"socks4a", "socks4", NULL };

	return url != NULL && url_ok(url, schemes, false);
}

bool
cfg_http_url_ok(const char *url)
{
	static const char *const schemes[] = { "https", "http", NULL };

	return url != NULL && url_ok(url, schemes, true);
}

/* "a.b.c.d[/n]" or "x::y[/n]" for trusted-proxies (DESIGN 6). */
static bool
cidr_ok(const char *s)
{
	char a[64];
	const char *sl = strchr(s, '/');
	size_t al = sl != NULL ? (size_t)(sl - s) : strlen(s);
	unsigned char bin[16];
	long long bits;
	int fam;

	if (al == 0 || al >= sizeof(a))
		return false;
	memcpy(a, s, al);
	a[al] = '\0';
	if (inet_pton(AF_INET, a, bin) == 1)
		fam = 32;
	else if (inet_pton(AF_INET6, a, bin) == 1)
		fam = 128;
	else
		return false;
	if (sl == NULL)
		return true;
	return str_to_ll(sl + 1, strlen(sl + 1), 0, fam, &bits) == CP_OK;
}

/* -------------------------------------------------------- object lists */

/* A models: [{name, alias}] list of an item (PROVIDERS.md 1: any key
 * list's item may carry one). *out has one zeroed entry past the end. */
static int
get_models(struct pctx *p, const struct ynode *it, const char *name,
    struct cfg_model_alias **out, size_t *nout)
{
	const struct ynode *ms = ynode_get(it, "models"), *k;
	size_t j;
	int rc;

	if (ms == NULL || yaml_scalar_is_null(ms))
		ms = NULL;
	else if (ms->kind != YN_SEQ)
		return bad(p, ms, name, "models must be a list");
	if ((*out = calloc((ms ? ms->n : 0) + 1, sizeof(**out))) == NULL)
		return CP_ENOMEM;
	for (j = 0; ms != NULL && j < ms->n; j++) {
		const struct ynode *m = ms->kids[j];
		struct cfg_model_alias *a = &(*out)[j];
		if (m->kind != YN_MAP)
			return bad(p, m, name, "models items must be mappings with name");
		(*nout)++;
		if ((rc = get_str(p, (k = ynode_get(m, "name")), name, &a->name)) != CP_OK)
			return rc;
		if (a->name == NULL || a->name[0] == '\0')
			return bad(p, k != NULL ? k : m, name,
			    "models name must be a non-empty string");
		if ((rc = get_str(p, ynode_get(m, "alias"), name, &a->alias)) != CP_OK)
			return rc;
		if (a->alias == NULL && (a->alias = cp_strdup("")) == NULL)
			return CP_ENOMEM;
	}
	return CP_OK;
}

static int
get_keyed(struct pctx *p, const struct ynode *n, const char *key, struct cfg_keyed **out,
    size_t *nout)
{
	struct cfg_keyed *v;
	size_t i;
	int rc;

	if (n == NULL || yaml_scalar_is_null(n))
		return CP_OK;
	if (n->kind != YN_SEQ)
		return bad(p, n, key, "must be a list");
	if ((v = calloc(n->n + 1, sizeof(*v))) == NULL)
		return CP_ENOMEM;
	*out = v;
	*nout = 0;
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->kids[i], *k;
		char name[64];

		snprintf(name, sizeof(name), "%s[%zu]", key, i);
		if (it->kind != YN_MAP)
			return bad(p, it, name, "must be a mapping with api-key");
		(*nout)++;
		if ((rc = get_str(p, (k = ynode_get(it, "api-key")), name, &v[i].api_key)) != CP_OK)
			return rc;
		if (v[i].api_key == NULL || v[i].api_key[0] == '\0')
			return bad(p, k != NULL ? k : it, name, "api-key must be a non-empty string");
		if ((rc = get_str(p, (k = ynode_get(it, "base-url")), name, &v[i].base_url)) != CP_OK)
			return rc;
		if (v[i].base_url == NULL && (v[i].base_url = cp_strdup("")) == NULL)
			return CP_ENOMEM;
		if (!cfg_http_url_ok(v[i].base_url))
			return bad(p, k, name, "base-url must be empty or an http(s) url");
		if ((rc = get_models(p, it, name, &v[i].models, &v[i].n_models)) != CP_OK)
			return rc;
	}
	return CP_OK;
}

/* api-key-policy rules shared by the YAML parser and cfg_validate_item:
 * NULL when ok, else the message. */
static const char *
policy_key_problem(const char *k)
{
	static const char pre[] = "sha256:";
	size_t i;

	if (k == NULL || k[0] == '\0')
		return "api-key must be a non-empty string";
	if (strncmp(k, pre, sizeof(pre) - 1) != 0)
		return NULL;
	for (i = sizeof(pre) - 1; k[i] != '\0'; i++)
		if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'f') ||
		    (k[i] >= 'A' && k[i] <= 'F')))
			break;
	if (k[i] != '\0' || i != sizeof(pre) - 1 + 2 * SHA256_LEN)
		return "api-key sha256: must be followed by 64 hex digits";
	return NULL;
}

/* A name is an id in usage rows and logs: printable ASCII without spaces
 * or quotes, at most CFG_POLICY_NAME_MAX bytes. */
static const char *
policy_name_problem(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '"' || s[i] == '\'' || s[i] == '\\')
			return "name must be printable ascii without spaces or quotes";
	if (i > CFG_POLICY_NAME_MAX)
		return "name must be at most 64 bytes";
	return NULL;
}

static int
get_policy(struct pctx *p, const struct ynode *n)
{
	static const char key[] = "api-key-policy";
	struct cfg *c = p->c;
	const char *why;
	size_t i, j;
	int rc;

	if (n == NULL || yaml_scalar_is_null(n))
		return CP_OK;
	if (n->kind != YN_SEQ)
		return bad(p, n, key, "must be a list");
	if ((c->policy = calloc(n->n + 1, sizeof(*c->policy))) == NULL)
		return CP_ENOMEM;
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->kids[i], *k;
		struct cfg_policy *o = &c->policy[i];
		char name[64];

		snprintf(name, sizeof(name), "%s[%zu]", key, i);
		if (it->kind != YN_MAP)
			return bad(p, it, name, "must be a mapping with api-key");
		c->n_policy++;
		if ((rc = get_str(p, (k = ynode_get(it, "api-key")), name, &o->api_key)) != CP_OK)
			return rc;
		if ((why = policy_key_problem(o->api_key)) != NULL)
			return bad(p, k != NULL ? k : it, name, "%s", why);
		for (j = 0; j < i; j++)
			if (strcmp(c->policy[j].api_key, o->api_key) == 0)
				return bad(p, k, name, "api-key is already in item %zu", j);
		if ((rc = get_str(p, (k = ynode_get(it, "name")), name, &o->name)) != CP_OK)
			return rc;
		if (o->name == NULL && (o->name = cp_strdup("")) == NULL)
			return CP_ENOMEM;
		if ((why = policy_name_problem(o->name)) != NULL)
			return bad(p, k, name, "%s", why);
		if ((rc = get_strlist(p, ynode_get(it, "models"), name, &o->models)) != CP_OK ||
		    (rc = empty_list(&o->models)) != CP_OK)
			return rc;
		if ((rc = get_int(p, ynode_get(it, "max-requests-per-minute"), name, 0,
		    CFG_POLICY_RPM_MAX, &o->max_rpm)) != CP_OK ||
		    (rc = get_int(p, ynode_get(it, "max-tokens-per-day"), name, 0,
		    CFG_POLICY_TPD_MAX, &o->max_tpd)) != CP_OK ||
		    (rc = get_bool(p, ynode_get(it, "disabled"), name, &o->disabled)) != CP_OK)
			return rc;
	}
	return CP_OK;
}

static int
get_compat(struct pctx *p, const struct ynode *n)
{
	struct cfg *c = p->c;
	size_t i;
	int rc;

	if (n == NULL || yaml_scalar_is_null(n))
		return CP_OK;
	if (n->kind != YN_SEQ)
		return bad(p, n, "openai-compatibility", "must be a list");
	if ((c->compat = calloc(n->n + 1, sizeof(*c->compat))) == NULL)
		return CP_ENOMEM;
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->kids[i], *k;
		struct cfg_compat *o = &c->compat[i];
		char name[64];

		snprintf(name, sizeof(name), "openai-compatibility[%zu]", i);
		if (it->kind != YN_MAP)
			return bad(p, it, name, "must be a mapping with name and base-url");
		c->n_compat++;
		if ((rc = get_str(p, (k = ynode_get(it, "name")), name, &o->name)) != CP_OK)
			return rc;
		if (o->name == NULL || o->name[0] == '\0')
			return bad(p, k != NULL ? k : it, name, "name must be a non-empty string");
		if ((rc = get_str(p, (k = ynode_get(it, "base-url")), name, &o->base_url)) != CP_OK)
			return rc;
		if (o->base_url == NULL && (o->base_url = cp_strdup("")) == NULL)
			return CP_ENOMEM;
		if (!cfg_http_url_ok(o->base_url))
			return bad(p, k, name, "base-url must be empty or an http(s) url");
		if ((rc = get_strlist(p, ynode_get(it, "api-keys"), name, &o->api_keys)) != CP_OK)
			return rc;
		if (o->api_keys.v == NULL && (o->api_keys.v = calloc(1, sizeof(char *))) == NULL)
			return CP_ENOMEM;
		if ((rc = get_models(p, it, name, &o->models, &o->n_models)) != CP_OK)
			return rc;
	}
	return CP_OK;
}

static int
get_endpoints(struct pctx *p, const struct ynode *n)
{
	struct cfg *c = p->c;
	size_t i;
	int rc;

	if (n == NULL || yaml_scalar_is_null(n))
		return CP_OK;
	if (n->kind != YN_MAP)
		return bad(p, n, "endpoints", "must be a mapping of names to urls");
	if ((c->endpoints = calloc(n->n / 2 + 1, sizeof(*c->endpoints))) == NULL)
		return CP_ENOMEM;
	for (i = 0; i + 1 < n->n; i += 2) {
		const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
		struct cfg_endpoint *e = &c->endpoints[c->n_endpoints];
		if (k->kind != YN_SCALAR || k->slen == 0 || k->slen != strlen(k->s))
			return bad(p, k, "endpoints", "names must be strings");
		if (yaml_scalar_is_null(v))
			continue;
		if ((e->name = cp_strdup(k->s)) == NULL)
			return CP_ENOMEM;
		c->n_endpoints++;
		if ((rc = get_str(p, v, "endpoints", &e->url)) != CP_OK)
			return rc;
		if (e->url[0] == '\0' || !cfg_http_url_ok(e->url))
			return bad(p, v, "endpoints", "%s must be an http(s) url", e->name);
	}
	return CP_OK;
}

/* ------------------------------------------------------------ model */

static void
models_free(struct cfg_model_alias *m, size_t n)
{
	size_t j;

	for (j = 0; m != NULL && j <= n; j++) {
		free(m[j].name);
		free(m[j].alias);
	}
	free(m);
}

static void
keyed_free(struct cfg_keyed *v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i <= n; i++) {
		free(v[i].api_key);
		free(v[i].base_url);
		models_free(v[i].models, v[i].n_models);
	}
	free(v);
}

void
cfg_free(struct cfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	free(c->host);
	if (c->secret_key != NULL)
		cp_wipe(c->secret_key, strlen(c->secret_key));
	free(c->secret_key);
	free(c->auth_dir);
	free(c->proxy_url);
	strlist_release(&c->api_keys);
	strlist_release(&c->gl_api_keys);
	keyed_free(c->claude, c->n_claude);
	keyed_free(c->codex, c->n_codex);
	for (i = 0; c->compat != NULL && i <= c->n_compat; i++) {
		free(c->compat[i].name);
		free(c->compat[i].base_url);
		strlist_release(&c->compat[i].api_keys);
		models_free(c->compat[i].models, c->compat[i].n_models);
	}
	free(c->compat);
	for (i = 0; c->policy != NULL && i <= c->n_policy; i++) {
		free(c->policy[i].api_key);
		free(c->policy[i].name);
		strlist_release(&c->policy[i].models);
	}
	free(c->policy);
	free(c->request_log_dir);
	strlist_release(&c->trusted_proxies);
	for (i = 0; c->endpoints != NULL && i <= c->n_endpoints; i++) {
		free(c->endpoints[i].name);
		free(c->endpoints[i].url);
	}
	free(c->endpoints);
	free(c->secret_key_path);
	free(c->state_dir);
	free(c);
}

static int
set_default_str(char **p, const char *v)
{
	if (*p != NULL)
		return CP_OK;
	*p = cp_strdup(v);
	return *p != NULL ? CP_OK : CP_ENOMEM;
}

static int
empty_list(struct cfg_strlist *l)
{
	if (l->v != NULL)
		return CP_OK;
	l->v = calloc(1, sizeof(*l->v));
	return l->v != NULL ? CP_OK : CP_ENOMEM;
}

static int
fill_defaults(struct cfg *c)
{
	size_t i;
	int rc = CP_OK;

	if (c->auth_dir == NULL) {
		if ((c->auth_dir = cfg_expand_home(CFG_DEFAULT_AUTH_DIR)) == NULL)
			return CP_ENOMEM;
	}
	if ((rc = set_default_str(&c->host, CFG_DEFAULT_HOST)) != CP_OK ||
	    (rc = set_default_str(&c->secret_key, "")) != CP_OK ||
	    (rc = set_default_str(&c->proxy_url, "")) != CP_OK ||
	    (rc = set_default_str(&c->request_log_dir, "")) != CP_OK ||
	    (rc = set_default_str(&c->secret_key_path, "remote-management.secret-key")) != CP_OK ||
	    (rc = set_default_str(&c->state_dir, "")) != CP_OK)
		return rc;
	if (c->request_body_max == 0)
		c->request_body_max = CFG_BODY_MAX_DEFAULT;
	if (c->max_connections == 0)
		c->max_connections = CFG_CONN_MAX_DEFAULT;
	if (c->trusted_proxies.v == NULL) {
		size_t n = sizeof(default_trusted) / sizeof(default_trusted[0]);
		if ((c->trusted_proxies.v = calloc(n + 1, sizeof(char *))) == NULL)
			return CP_ENOMEM;
		for (i = 0; i < n; i++) {
			if ((c->trusted_proxies.v[i] = cp_strdup(default_trusted[i])) == NULL)
				return CP_ENOMEM;
			c->trusted_proxies.n++;
		}
	}
	if ((rc = empty_list(&c->api_keys)) != CP_OK || (rc = empty_list(&c->gl_api_keys)) != CP_OK)
		return rc;
	if (c->claude == NULL && (c->claude = calloc(1, sizeof(*c->claude))) == NULL)
		return CP_ENOMEM;
	if (c->codex == NULL && (c->codex = calloc(1, sizeof(*c->codex))) == NULL)
		return CP_ENOMEM;
	if (c->compat == NULL && (c->compat = calloc(1, sizeof(*c->compat))) == NULL)
		return CP_ENOMEM;
	if (c->policy == NULL && (c->policy = calloc(1, sizeof(*c->policy))) == NULL)
		return CP_ENOMEM;
	if (c->endpoints == NULL && (c->endpoints = calloc(1, sizeof(*c->endpoints))) == NULL)
		return CP_ENOMEM;
	return CP_OK;
}

/* The daemon's limits (DESIGN 6 "Limits"), absent = default. */
static int
get_limits(struct pctx *p, const struct ynode *r)
{
	int rc;

	if ((rc = get_int(p, ynode_get(r, "request-body-max"), "request-body-max",
	    CFG_BODY_MAX_MIN, CFG_BODY_MAX_MAX, &p->c->request_body_max)) != CP_OK ||
	    (rc = get_int(p, ynode_get(r, "max-connections"), "max-connections", 1,
	    CFG_CONN_MAX_MAX, &p->c->max_connections)) != CP_OK)
		return rc;
	return CP_OK;
}

static int
parse_root(struct pctx *p, const struct ynode *r)
{
	struct cfg *c = p->c;
	const struct ynode *n, *rm, *qe, *kn = NULL;
	char *dir = NULL;
	size_t i;
	int rc;

	if ((rc = get_int(p, ynode_get(r, "port"), "port", 1, 65535, &c->port)) != CP_OK ||
	    (rc = get_str(p, ynode_get(r, "host"), "host", &c->host)) != CP_OK)
		return rc;
	/* Flat aliases first, the nested form overrides (DESIGN 3). */
	if ((rc = get_bool(p, ynode_get(r, "allow-remote-management"), "allow-remote-management",
	    &c->allow_remote)) != CP_OK)
		return rc;
	n = ynode_get(r, "remote-management-key");
	if ((rc = get_str(p, n, "remote-management-key", &c->secret_key)) != CP_OK)
		return rc;
	kn = n;
	if (c->secret_key != NULL && (c->secret_key_path = cp_strdup("remote-management-key")) == NULL)
		return CP_ENOMEM;
	rm = ynode_get(r, "remote-management");
	if (rm != NULL && !yaml_scalar_is_null(rm)) {
		if (rm->kind != YN_MAP)
			return bad(p, rm, "remote-management", "must be a mapping");
		if ((rc = get_bool(p, ynode_get(rm, "allow-remote"), "remote-management.allow-remote",
		    &c->allow_remote)) != CP_OK)
			return rc;
		n = ynode_get(rm, "secret-key");
		if (n != NULL && !yaml_scalar_is_null(n)) {
			if ((rc = get_str(p, n, "remote-management.secret-key", &c->secret_key)) != CP_OK)
				return rc;
			kn = n;
			free(c->secret_key_path);
			if ((c->secret_key_path = cp_strdup("remote-management.secret-key")) == NULL)
				return CP_ENOMEM;
		}
	}
	/* bcrypt reads 72 bytes: a longer plaintext key would accept every
	 * key that shares them (issue 10 item 8). Refused, never cut. */
	if (c->secret_key != NULL && !pw_is_hash(c->secret_key) &&
	    strlen(c->secret_key) > PW_KEY_MAX)
		return bad(p, kn, c->secret_key_path, "the management key is longer than %d bytes, "
		    "the most bcrypt reads; use a key of at most %d bytes", PW_KEY_MAX, PW_KEY_MAX);
	if ((rc = get_str(p, ynode_get(r, "auth-dir"), "auth-dir", &dir)) != CP_OK)
		return rc;
	if (dir != NULL) {
		c->auth_dir = cfg_expand_home(dir);
		free(dir);
		if (c->auth_dir == NULL)
			return CP_ENOMEM;
	}
	if ((rc = get_bool(p, ynode_get(r, "debug"), "debug", &c->debug)) != CP_OK)
		return rc;
	n = ynode_get(r, "proxy-url");
	if ((rc = get_str(p, n, "proxy-url", &c->proxy_url)) != CP_OK)
		return rc;
	if (c->proxy_url != NULL && !cfg_proxy_url_ok(c->proxy_url))
		return bad(p, n, "proxy-url", "must be empty or an http, https, socks5, socks5h, "
		    "socks4 or socks4a url");
	if ((rc = get_int(p, ynode_get(r, "request-retry"), "request-retry", 0, CFG_RETRY_MAX,
	    &c->request_retry)) != CP_OK)
		return rc;
	qe = ynode_get(r, "quota-exceeded");
	if (qe != NULL && !yaml_scalar_is_null(qe)) {
		if (qe->kind != YN_MAP)
			return bad(p, qe, "quota-exceeded", "must be a mapping");
		if ((rc = get_bool(p, ynode_get(qe, "switch-project"),
		    "quota-exceeded.switch-project", &c->switch_project)) != CP_OK ||
		    (rc = get_bool(p, ynode_get(qe, "switch-preview-model"),
		    "quota-exceeded.switch-preview-model", &c->switch_preview_model)) != CP_OK)
			return rc;
	}
	if ((rc = get_strlist(p, ynode_get(r, "api-keys"), "api-keys", &c->api_keys)) != CP_OK ||
	    (rc = get_strlist(p, ynode_get(r, "generative-language-api-key"),
	    "generative-language-api-key", &c->gl_api_keys)) != CP_OK ||
	    (rc = get_keyed(p, ynode_get(r, "claude-api-key"), "claude-api-key", &c->claude,
	    &c->n_claude)) != CP_OK ||
	    (rc = get_keyed(p, ynode_get(r, "codex-api-key"), "codex-api-key", &c->codex,
	    &c->n_codex)) != CP_OK ||
	    (rc = get_compat(p, ynode_get(r, "openai-compatibility"))) != CP_OK ||
	    (rc = get_bool(p, ynode_get(r, "request-log"), "request-log", &c->request_log)) != CP_OK ||
	    (rc = get_bool(p, ynode_get(r, "allow-localhost-unauthenticated"),
	    "allow-localhost-unauthenticated", &c->allow_localhost_unauth)) != CP_OK ||
	    (rc = get_str(p, ynode_get(r, "request-log-dir"), "request-log-dir",
	    &c->request_log_dir)) != CP_OK ||
	    (rc = get_str(p, ynode_get(r, "state-dir"), "state-dir", &c->state_dir)) != CP_OK)
		return rc;
	n = ynode_get(r, "trusted-proxies");
	if ((rc = get_strlist(p, n, "trusted-proxies", &c->trusted_proxies)) != CP_OK)
		return rc;
	for (i = 0; i < c->trusted_proxies.n; i++)
		if (!cidr_ok(c->trusted_proxies.v[i]))
			return bad(p, n->kids[i], "trusted-proxies", "'%.64s' is not an address or cidr",
			    c->trusted_proxies.v[i]);
	if ((rc = get_limits(p, r)) != CP_OK)
		return rc;
	if ((rc = get_int(p, ynode_get(r, "usage-raw-days"), "usage-raw-days", 1,
	    CFG_USAGE_DAYS_MAX, &c->usage_raw_days)) != CP_OK ||
	    (rc = get_int(p, ynode_get(r, "usage-days"), "usage-days", 1,
	    CFG_USAGE_DAYS_MAX, &c->usage_days)) != CP_OK ||
	    (rc = get_policy(p, ynode_get(r, "api-key-policy"))) != CP_OK)
		return rc;
	return get_endpoints(p, ynode_get(r, "endpoints"));
}

int
cfg_parse(const char *text, size_t len, struct cfg **out, char *err, size_t errlen)
{
	struct ydoc *d = NULL;
	const struct ynode *r;
	struct pctx p;
	struct cfg *c;
	int rc;

	*out = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CP_ENOMEM;
	c->port = CFG_DEFAULT_PORT;
	c->switch_project = true;
	c->switch_preview_model = true;
	c->usage_raw_days = CFG_USAGE_RAW_DAYS;
	c->usage_days = CFG_USAGE_DAYS;
	p.c = c;
	p.err = err;
	p.errlen = errlen;
	if ((rc = ydoc_parse(text, len, &d, err, errlen)) != CP_OK)
		goto out;
	r = ydoc_root(d);
	if (r != NULL && yaml_scalar_is_null(r))
		r = NULL;
	if (r != NULL && r->kind != YN_MAP) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "line %zu: the top level must be a mapping", r->line);
		rc = CP_EINVAL;
		goto out;
	}
	if (r != NULL && (rc = parse_root(&p, r)) != CP_OK)
		goto out;
	rc = fill_defaults(c);
out:
	ydoc_free(d);
	if (rc == CP_ENOMEM && err != NULL && errlen > 0)
		snprintf(err, errlen, "out of memory");
	if (rc != CP_OK) {
		cfg_free(c);
		return rc;
	}
	*out = c;
	return CP_OK;
}

int
cfg_load(const char *path, struct cfg **out, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	rc = fio_read_file(path, CP_CONFIG_MAX, &text, &len);
	if (rc != CP_OK) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "cannot read '%s': %s", path,
			    rc == CP_ETOOBIG ? "file too large" : cp_strerror(rc));
		return rc;
	}
	rc = cfg_parse(text, len, out, err, errlen);
	free(text);
	return rc;
}

/* ------------------------------------------------------------ JSON */

static cJSON *
strlist_json(const struct cfg_strlist *l)
{
	return cJSON_CreateStringArray((const char *const *)l->v, (int)l->n);
}

/* "models": [{name, alias}] added to o. */
static int
models_json(cJSON *o, const struct cfg_model_alias *v, size_t n)
{
	cJSON *ms, *m;
	size_t j;

	if ((ms = cJSON_AddArrayToObject(o, "models")) == NULL)
		return CP_ENOMEM;
	for (j = 0; j < n; j++) {
		if ((m = cJSON_CreateObject()) == NULL)
			return CP_ENOMEM;
		cJSON_AddItemToArray(ms, m);
		if (cJSON_AddStringToObject(m, "name", v[j].name) == NULL ||
		    cJSON_AddStringToObject(m, "alias", v[j].alias) == NULL)
			return CP_ENOMEM;
	}
	return CP_OK;
}

static cJSON *
keyed_json(const struct cfg_keyed *v, size_t n)
{
	cJSON *a = cJSON_CreateArray(), *o;
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		if ((o = cJSON_CreateObject()) == NULL) {
			cJSON_Delete(a);
			return NULL;
		}
		cJSON_AddItemToArray(a, o);
		/* models only when given: the management API's documented
		 * item shape is {api-key, base-url}. */
		if (cJSON_AddStringToObject(o, "api-key", v[i].api_key) == NULL ||
		    cJSON_AddStringToObject(o, "base-url", v[i].base_url) == NULL ||
		    (v[i].n_models > 0 && models_json(o, v[i].models, v[i].n_models) != CP_OK)) {
			cJSON_Delete(a);
			return NULL;
		}
	}
	return a;
}

static cJSON *
compat_json(const struct cfg *c)
{
	cJSON *a = cJSON_CreateArray(), *o, *m;
	size_t i;

	for (i = 0; a != NULL && i < c->n_compat; i++) {
		const struct cfg_compat *x = &c->compat[i];
		if ((o = cJSON_CreateObject()) == NULL)
			goto fail;
		cJSON_AddItemToArray(a, o);
		if (cJSON_AddStringToObject(o, "name", x->name) == NULL ||
		    cJSON_AddStringToObject(o, "base-url", x->base_url) == NULL)
			goto fail;
		if ((m = strlist_json(&x->api_keys)) == NULL)
			goto fail;
		cJSON_AddItemToObject(o, "api-keys", m);
		if (models_json(o, x->models, x->n_models) != CP_OK)
			goto fail;
	}
	return a;
fail:
	cJSON_Delete(a);
	return NULL;
}

static cJSON *
policy_json(const struct cfg *c)
{
	cJSON *a = cJSON_CreateArray(), *o, *m;
	size_t i;

	for (i = 0; a != NULL && i < c->n_policy; i++) {
		const struct cfg_policy *x = &c->policy[i];

		if ((o = cJSON_CreateObject()) == NULL)
			goto fail;
		cJSON_AddItemToArray(a, o);
		if (cJSON_AddStringToObject(o, "api-key", x->api_key) == NULL ||
		    cJSON_AddStringToObject(o, "name", x->name) == NULL ||
		    (m = strlist_json(&x->models)) == NULL)
			goto fail;
		cJSON_AddItemToObject(o, "models", m);
		if (cJSON_AddNumberToObject(o, "max-requests-per-minute", (double)x->max_rpm) == NULL ||
		    cJSON_AddNumberToObject(o, "max-tokens-per-day", (double)x->max_tpd) == NULL ||
		    cJSON_AddBoolToObject(o, "disabled", x->disabled) == NULL)
			goto fail;
	}
	return a;
fail:
	cJSON_Delete(a);
	return NULL;
}

cJSON *
cfg_to_json(const struct cfg *c, bool with_secret)
{
	cJSON *j = cJSON_CreateObject(), *o, *x;
	size_t i;

	if (j == NULL)
		return NULL;
	if (cJSON_AddNumberToObject(j, "port", (double)c->port) == NULL ||
	    cJSON_AddStringToObject(j, "host", c->host) == NULL)
		goto fail;
	if ((o = cJSON_AddObjectToObject(j, "remote-management")) == NULL ||
	    cJSON_AddBoolToObject(o, "allow-remote", c->allow_remote) == NULL ||
	    (with_secret && cJSON_AddStringToObject(o, "secret-key", c->secret_key) == NULL))
		goto fail;
	if (cJSON_AddStringToObject(j, "auth-dir", c->auth_dir) == NULL ||
	    cJSON_AddBoolToObject(j, "debug", c->debug) == NULL ||
	    cJSON_AddStringToObject(j, "proxy-url", c->proxy_url) == NULL ||
	    cJSON_AddNumberToObject(j, "request-retry", (double)c->request_retry) == NULL)
		goto fail;
	if ((o = cJSON_AddObjectToObject(j, "quota-exceeded")) == NULL ||
	    cJSON_AddBoolToObject(o, "switch-project", c->switch_project) == NULL ||
	    cJSON_AddBoolToObject(o, "switch-preview-model", c->switch_preview_model) == NULL)
		goto fail;
	if ((x = strlist_json(&c->api_keys)) == NULL)
		goto fail;
	cJSON_AddItemToObject(j, "api-keys", x);
	if ((x = strlist_json(&c->gl_api_keys)) == NULL)
		goto fail;
	cJSON_AddItemToObject(j, "generative-language-api-key", x);
	if ((x = keyed_json(c->claude, c->n_claude)) == NULL)
		goto fail;
	cJSON_AddItemToObject(j, "claude-api-key", x);
	if ((x = keyed_json(c->codex, c->n_codex)) == NULL)
		goto fail;
	cJSON_AddItemToObject(j, "codex-api-key", x);
	if ((x = compat_json(c)) == NULL)
		goto fail;
	cJSON_AddItemToObject(j, "openai-compatibility", x);
	if (cJSON_AddBoolToObject(j, "request-log", c->request_log) == NULL ||
	    cJSON_AddBoolToObject(j, "allow-localhost-unauthenticated",
	    c->allow_localhost_unauth) == NULL ||
	    cJSON_AddStringToObject(j, "request-log-dir", c->request_log_dir) == NULL ||
	    cJSON_AddStringToObject(j, "state-dir", c->state_dir) == NULL)
		goto fail;
	if ((x = strlist_json(&c->trusted_proxies)) == NULL)
		goto fail;
	cJSON_AddItemToObject(j, "trusted-proxies", x);
	if (cJSON_AddNumberToObject(j, "request-body-max", (double)c->request_body_max) == NULL ||
	    cJSON_AddNumberToObject(j, "max-connections", (double)c->max_connections) == NULL)
		goto fail;
	if (cJSON_AddNumberToObject(j, "usage-raw-days", (double)c->usage_raw_days) == NULL ||
	    cJSON_AddNumberToObject(j, "usage-days", (double)c->usage_days) == NULL)
		goto fail;
	if ((x = policy_json(c)) == NULL)
		goto fail;
	cJSON_AddItemToObject(j, "api-key-policy", x);
	if ((o = cJSON_AddObjectToObject(j, "endpoints")) == NULL)
		goto fail;
	for (i = 0; i < c->n_endpoints; i++)
		if (cJSON_AddStringToObject(o, c->endpoints[i].name, c->endpoints[i].url) == NULL)
			goto fail;
	return j;
fail:
	cJSON_Delete(j);
	return NULL;
}

/* ------------------------------------------------------------ paths */

const char *
cfg_find_path(const char *env, const char *home, char *out, size_t outlen)
{
	int n;

	if (env != NULL && env[0] != '\0')
		return env;
	if (home != NULL && home[0] == '/') {
		n = snprintf(out, outlen, "%s/" CFG_USER_PATH, home);
		if (n > 0 && (size_t)n < outlen && access(out, F_OK) == 0)
			return out;
	}
	return SYSCONFDIR "/cliproxy/config.yaml";
}

/* The running user's home from the password database, not $HOME: suexec
 * and mod_fcgid start the responder with a cleaned environment. */
const char *
cfg_default_path(void)
{
	static char path[CFG_PATH_MAX];
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	const char *home = NULL;

	if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res != NULL)
		home = res->pw_dir;
	return cfg_find_path(getenv("CLIPROXY_CONFIG"), home, path, sizeof(path));
}

char *
cfg_expand_home(const char *path)
{
	const char *home = getenv("HOME");
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	struct buf b;

	if (path[0] != '~' || (path[1] != '\0' && path[1] != '/'))
		return cp_strdup(path);
	if (home == NULL || home[0] == '\0') {
		if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) != 0 || res == NULL)
			return cp_strdup(path);
		home = res->pw_dir;
	}
	buf_init(&b, CFG_PATH_MAX);
	if (buf_appends(&b, home) != CP_OK || buf_appends(&b, path + 1) != CP_OK ||
	    b.p == NULL) {
		buf_release(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

void
cfg_dir_of(const char *path, char *out, size_t outlen)
{
	const char *sl = strrchr(path, '/');

	if (sl == NULL)
		snprintf(out, outlen, ".");
	else if (sl == path)
		snprintf(out, outlen, "/");
	else
		snprintf(out, outlen, "%.*s", (int)(sl - path), path);
}

/* The state-dir rule (DESIGN 3), in one place so that cliproxyd and the
 * responder agree on where the status file and the audit log are. */
char *
cfg_state_dir(const struct cfg *c, const char *config_path)
{
	char dir[CFG_PATH_MAX], out[CFG_PATH_MAX * 2];
	char *exp;
	int n;

	cfg_dir_of(config_path, dir, sizeof(dir));
	if (c != NULL && c->state_dir != NULL && c->state_dir[0] != '\0') {
		if ((exp = cfg_expand_home(c->state_dir)) == NULL || exp[0] == '/')
			return exp;
		n = snprintf(out, sizeof(out), "%s/%s", dir, exp);
		free(exp);
		return n > 0 && (size_t)n < sizeof(out) ? cp_strdup(out) : NULL;
	}
	if (strcmp(config_path, SYSCONFDIR "/cliproxy/config.yaml") == 0)
		return cp_strdup(LOCALSTATEDIR "/lib/cliproxy");
	n = snprintf(out, sizeof(out), "%s/state", dir);
	return n > 0 && (size_t)n < sizeof(out) ? cp_strdup(out) : NULL;
}

void
cfg_lock_path(const char *config_path, char *out, size_t outlen)
{
	const char *sl = strrchr(config_path, '/');

	if (sl == NULL)
		snprintf(out, outlen, "./.cliproxy.lock");
	else if (sl == config_path)
		snprintf(out, outlen, "/.cliproxy.lock");
	else
		snprintf(out, outlen, "%.*s/.cliproxy.lock", (int)(sl - config_path), config_path);
}

/* ------------------------------------------------------ item checks */

static int
item_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
	return CP_EINVAL;
}

static bool
nonempty_str(const cJSON *o, const char *k)
{
	const char *s;

	return json_get_string(o, k, &s) == CP_OK && s[0] != '\0';
}

/* Optional string member that, when present, passes ok(). */
static bool
opt_url(const cJSON *o, const char *k)
{
	const char *s;
	int rc = json_get_string(o, k, &s);

	if (rc == CP_ENOTFOUND)
		return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, k)) ||
		    cJSON_GetObjectItemCaseSensitive(o, k) == NULL;
	return rc == CP_OK && cfg_http_url_ok(s);
}

static bool
strlist_ok(const cJSON *a)
{
	const cJSON *c;

	if (!cJSON_IsArray(a))
		return false;
	cJSON_ArrayForEach(c, a)
		if (!cJSON_IsString(c) || c->valuestring[0] == '\0')
			return false;
	return true;
}

/* An optional integer member in [0, max]: absent or null is fine. */
static bool
opt_count(const cJSON *o, const char *k, double max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (v == NULL || cJSON_IsNull(v))
		return true;
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= max &&
	    v->valuedouble == (double)(long long)v->valuedouble;
}

/* The same rules as get_policy (duplicate api-keys are caught by the
 * whole-file validation after the change). */
static int
policy_item_ok(const cJSON *item, char *err, size_t errlen)
{
	const cJSON *v;
	const char *s = NULL, *why;

	if (!cJSON_IsObject(item))
		return item_err(err, errlen, "item must be an object");
	if (json_get_string(item, "api-key", &s) != CP_OK)
		s = NULL;
	if ((why = policy_key_problem(s)) != NULL)
		return item_err(err, errlen, why);
	v = cJSON_GetObjectItemCaseSensitive(item, "name");
	if (v != NULL && !cJSON_IsNull(v)) {
		if (!cJSON_IsString(v))
			return item_err(err, errlen, "name must be a string");
		if ((why = policy_name_problem(v->valuestring)) != NULL)
			return item_err(err, errlen, why);
	}
	v = cJSON_GetObjectItemCaseSensitive(item, "models");
	if (v != NULL && !cJSON_IsNull(v) && !strlist_ok(v))
		return item_err(err, errlen, "models must be a list of non-empty strings");
	if (!opt_count(item, "max-requests-per-minute", (double)CFG_POLICY_RPM_MAX))
		return item_err(err, errlen,
		    "max-requests-per-minute must be an integer 0..1000000");
	if (!opt_count(item, "max-tokens-per-day", (double)CFG_POLICY_TPD_MAX))
		return item_err(err, errlen,
		    "max-tokens-per-day must be an integer 0..1000000000000");
	v = cJSON_GetObjectItemCaseSensitive(item, "disabled");
	if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsBool(v))
		return item_err(err, errlen, "disabled must be true or false");
	return CP_OK;
}

/* The members of an object-list item the model reads (get_keyed,
 * get_compat); everything else in an item is the administrator's and is
 * kept (DESIGN 3). */
static const char *const keyed_fields[] = { "api-key", "base-url", NULL };
static const char *const compat_fields[] = { "name", "base-url", "api-keys", "models", NULL };
static const char *const policy_fields[] = { "api-key", "name", "models",
	"max-requests-per-minute", "max-tokens-per-day", "disabled", NULL };

static const struct {
	const char *key;                 /* list key */
	const char *const *fields;       /* members of its items we model */
} item_fields[] = {
	{ "claude-api-key", keyed_fields },
	{ "codex-api-key", keyed_fields },
	{ "openai-compatibility", compat_fields },
	{ "api-key-policy", policy_fields },
};

const char *const *
cfg_item_fields(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(item_fields) / sizeof(item_fields[0]); i++)
		if (strcmp(item_fields[i].key, key) == 0)
			return item_fields[i].fields;
	return NULL;
}

int
cfg_validate_item(const char *key, const cJSON *item, char *err, size_t errlen)
{
	const cJSON *a, *m;

	if (strcmp(key, "api-keys") == 0 || strcmp(key, "generative-language-api-key") == 0) {
		if (!cJSON_IsString(item) || item->valuestring[0] == '\0')
			return item_err(err, errlen, "value must be a non-empty string");
		return CP_OK;
	}
	if (strcmp(key, "claude-api-key") == 0 || strcmp(key, "codex-api-key") == 0) {
		if (!cJSON_IsObject(item))
			return item_err(err, errlen, "item must be an object");
		if (!nonempty_str(item, "api-key"))
			return item_err(err, errlen, "api-key must be a non-empty string");
		if (!opt_url(item, "base-url"))
			return item_err(err, errlen, "base-url must be empty or an http(s) url");
		return CP_OK;
	}
	if (strcmp(key, "openai-compatibility") == 0) {
		if (!cJSON_IsObject(item))
			return item_err(err, errlen, "item must be an object");
		if (!nonempty_str(item, "name"))
			return item_err(err, errlen, "name must be a non-empty string");
		if (!opt_url(item, "base-url"))
			return item_err(err, errlen, "base-url must be empty or an http(s) url");
		a = cJSON_GetObjectItemCaseSensitive(item, "api-keys");
		if (a != NULL && !cJSON_IsNull(a) && !strlist_ok(a))
			return item_err(err, errlen, "api-keys must be a list of non-empty strings");
		a = cJSON_GetObjectItemCaseSensitive(item, "models");
		if (a != NULL && !cJSON_IsNull(a)) {
			if (!cJSON_IsArray(a))
				return item_err(err, errlen, "models must be a list");
			cJSON_ArrayForEach(m, a) {
				const cJSON *al;
				if (!cJSON_IsObject(m) || !nonempty_str(m, "name"))
					return item_err(err, errlen,
					    "models items need a non-empty name");
				al = cJSON_GetObjectItemCaseSensitive(m, "alias");
				if (al != NULL && !cJSON_IsNull(al) && !cJSON_IsString(al))
					return item_err(err, errlen, "models alias must be a string");
			}
		}
		return CP_OK;
	}
	if (strcmp(key, "api-key-policy") == 0)
		return policy_item_ok(item, err, errlen);
	return item_err(err, errlen, "unknown list");
}
