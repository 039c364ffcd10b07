/*
 * oauth.c - the OAuth accounts of PROVIDERS.md sections 2, 4 and 7 as data
 * and pure functions: one table row per kind (client, scopes, redirect URI,
 * PKCE, body encoding, endpoint names and their defaults), the authorize
 * URL, the code-exchange / device / refresh request bodies, the token
 * answer parser, the auth file of a new login and its file name, and the
 * write-back merge under the auth-dir lock (oauth_merge_tokens), which is
 * what a refresh calls. No network here (httpc.c does that): every
 * function except the random ones and the merge is a function of its
 * arguments that a unit test checks byte for byte.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core.h"

/* PROVIDERS.md 4: one row per kind. */
static const struct oauth_provider oauth_table[OAUTH_KIND_N] = {
	[OAUTH_GEMINI] = {
		.kind = OAUTH_GEMINI, .type = "gemini", .mgmt = "gemini-cli",
		.client_id = "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
		.client_secret = "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",
		.scopes = "https://www.googleapis.com/auth/cloud-platform "
		    "https://www.googleapis.com/auth/userinfo.email "
		    "https://www.googleapis.com/auth/userinfo.profile",
		.redirect_port = 8085, .redirect_path = "/oauth2callback",
		.pkce = false, .device = false, .json_body = false,
		.auth_extra = "&access_type=offline&prompt=consent",
		.refresh_scope = NULL,
		.ep = {
			[OAUTH_EP_AUTH] = { "gemini-cli-auth-url", "https://accounts.google.com/o/oauth2/auth" },
			[OAUTH_EP_TOKEN] = { "gemini-cli-token-url", "https://oauth2.googleapis.com/token" },
			[OAUTH_EP_USERINFO] = { "gemini-cli-userinfo-url",
			    "https://www.googleapis.com/oauth2/v2/userinfo" },
			[OAUTH_EP_API] = { "gemini-cli", "https://cloudcode-pa.googleapis.com" },
		},
		.refresh_lead_s = 5 * 60,
	},
	[OAUTH_CLAUDE] = {
		.kind = OAUTH_CLAUDE, .type = "claude", .mgmt = "anthropic",
		.client_id = "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
		.client_secret = NULL,
		.scopes = "org:create_api_key user:profile user:inference",
		.redirect_port = 54545, .redirect_path = "/callback",
		.pkce = true, .device = false, .json_body = true,
		.auth_extra = "&code=true",
		.refresh_scope = NULL,
		.ep = {
			[OAUTH_EP_AUTH] = { "claude-auth-url", "https://claude.ai/oauth/authorize" },
			[OAUTH_EP_TOKEN] = { "claude-token-url", "https://console.anthropic.com/v1/oauth/token" },
		},
		.refresh_lead_s = 4 * 3600,
	},
	[OAUTH_CODEX] = {
		.kind = OAUTH_CODEX, .type = "codex", .mgmt = "codex",
		.client_id = "app_EMoamEEZ73f0CkXaXp7hrann",
		.client_secret = NULL,
		.scopes = "openid email profile offline_access",
		.redirect_port = 1455, .redirect_path = "/auth/callback",
		.pkce = true, .device = false, .json_body = false,
		.auth_extra = "&prompt=login&id_token_add_organizations=true"
		    "&codex_cli_simplified_flow=true",
		.refresh_scope = "openid profile email",
		.ep = {
			[OAUTH_EP_AUTH] = { "codex-auth-url", "https://auth.openai.com/oauth/authorize" },
			[OAUTH_EP_TOKEN] = { "codex-token-url", "https://auth.openai.com/oauth/token" },
		},
		.refresh_lead_s = 5 * 86400,
	},
	[OAUTH_QWEN] = {
		.kind = OAUTH_QWEN, .type = "qwen", .mgmt = "qwen",
		.client_id = "f0304373b74a44d2b584a3fb70ca9e56",
		.client_secret = NULL,
		.scopes = "openid profile email model.completion",
		.redirect_port = 0, .redirect_path = NULL,
		.pkce = true, .device = true, .json_body = false,
		.auth_extra = NULL,
		.refresh_scope = NULL,
		.ep = {
			[OAUTH_EP_DEVICE] = { "qwen-device-url",
			    "https://chat.qwen.ai/api/v1/oauth2/device/code" },
			[OAUTH_EP_TOKEN] = { "qwen-token-url", "https://chat.qwen.ai/api/v1/oauth2/token" },
		},
		.refresh_lead_s = 30 * 60,
	},
};

/* Names a caller may use for a kind (PROVIDERS.md 7 "provider values"). */
static const struct {
	const char *name;          /* as typed */
	enum oauth_kind kind;      /* what it means */
} oauth_aliases[] = {
	{ "gemini", OAUTH_GEMINI }, { "gemini-cli", OAUTH_GEMINI },
	{ "claude", OAUTH_CLAUDE }, { "anthropic", OAUTH_CLAUDE },
	{ "codex", OAUTH_CODEX }, { "qwen", OAUTH_QWEN },
};

const struct oauth_provider *
oauth_provider(enum oauth_kind kind)
{
	if ((unsigned)kind >= OAUTH_KIND_N)
		return NULL;
	return &oauth_table[kind];
}

const struct oauth_provider *
oauth_provider_by_name(const char *name)
{
	if (name == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof(oauth_aliases) / sizeof(oauth_aliases[0]); i++)
		if (strcmp(oauth_aliases[i].name, name) == 0)
			return &oauth_table[oauth_aliases[i].kind];
	return NULL;
}

const struct oauth_provider *
oauth_provider_by_type(const char *type)
{
	/* PROVIDERS.md 2: a file with no type is a gemini file */
	if (type == NULL || type[0] == '\0')
		return &oauth_table[OAUTH_GEMINI];
	for (size_t i = 0; i < OAUTH_KIND_N; i++)
		if (strcmp(oauth_table[i].type, type) == 0)
			return &oauth_table[i];
	return NULL;
}

const char *
oauth_url(const struct cfg *c, const struct oauth_provider *p, enum oauth_ep ep)
{
	const struct oauth_endpoint *e;

	if (p == NULL || (unsigned)ep >= OAUTH_EP_N)
		return NULL;
	e = &p->ep[ep];
	if (e->name == NULL)
		return NULL;
	/* DESIGN 3: the endpoints: mapping wins over the real service */
	for (size_t i = 0; c != NULL && i < c->n_endpoints; i++)
		if (strcmp(c->endpoints[i].name, e->name) == 0 && c->endpoints[i].url[0] != '\0')
			return c->endpoints[i].url;
	return e->def;
}

int
oauth_redirect_uri(const struct oauth_provider *p, int port, char *out, size_t outlen)
{
	int n;

	if (p->redirect_path == NULL)
		return CP_EINVAL;
	n = snprintf(out, outlen, "http://localhost:%d%s", port > 0 ? port : p->redirect_port,
	    p->redirect_path);
	return n < 0 || (size_t)n >= outlen ? CP_ETOOBIG : CP_OK;
}

/* ------------------------------------------------------------ base64 */

static const char oauth_b64url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
oauth_b64url_encode(const void *data, size_t len, char *out, size_t outlen)
{
	const unsigned char *s = data;
	size_t o = 0, i;

	if (outlen < (len * 4 + 2) / 3 + 1)
		return CP_ETOOBIG;
	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];

		out[o++] = oauth_b64url_alpha[v >> 18 & 63];
		out[o++] = oauth_b64url_alpha[v >> 12 & 63];
		out[o++] = oauth_b64url_alpha[v >> 6 & 63];
		out[o++] = oauth_b64url_alpha[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned)s[i] << 16;

		out[o++] = oauth_b64url_alpha[v >> 18 & 63];
		out[o++] = oauth_b64url_alpha[v >> 12 & 63];
	} else if (len - i == 2) {
		unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8;

		out[o++] = oauth_b64url_alpha[v >> 18 & 63];
		out[o++] = oauth_b64url_alpha[v >> 12 & 63];
		out[o++] = oauth_b64url_alpha[v >> 6 & 63];
	}
	out[o] = '\0';
	return CP_OK;
}

static int
oauth_b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-' || c == '+')
		return 62;
	if (c == '_' || c == '/')
		return 63;
	return -1;
}

/* Decode base64url (or standard base64; '=' padding allowed at the end).
 * *out is NUL-terminated, caller frees. */
static int
oauth_b64_decode(const char *s, size_t len, char **out, size_t *outlen)
{
	char *p;
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;

	while (len > 0 && s[len - 1] == '=')
		len--;
	if ((p = malloc(len * 3 / 4 + 2)) == NULL)
		return CP_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int v = oauth_b64_val((unsigned char)s[i]);

		if (v < 0) {
			free(p);
			return CP_EINVAL;
		}
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			p[o++] = (char)(acc >> bits & 0xff);
		}
	}
	if (bits >= 6) {               /* one lone character: not base64 */
		free(p);
		return CP_EINVAL;
	}
	p[o] = '\0';
	*out = p;
	*outlen = o;
	return CP_OK;
}

/* ------------------------------------------------------------- random */

int
oauth_random_token(char *out, size_t outlen, size_t nbytes)
{
	unsigned char rnd[64];
	size_t got = 0;
	int rc;

	if (nbytes > sizeof(rnd))
		return CP_EINVAL;
	while (got < nbytes) {
		ssize_t n = getrandom(rnd + got, nbytes - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return CP_EIO;
		}
		got += (size_t)n;
	}
	rc = oauth_b64url_encode(rnd, nbytes, out, outlen);
	cp_wipe(rnd, sizeof(rnd));
	return rc;
}

void
oauth_pkce_challenge(const char *verifier, char out[OAUTH_CHALLENGE_LEN + 1])
{
	uint8_t d[SHA256_LEN];

	/* RFC 7636 4.2: BASE64URL(SHA256(ASCII(code_verifier))) */
	sha256(verifier, strlen(verifier), d);
	(void)oauth_b64url_encode(d, sizeof(d), out, OAUTH_CHALLENGE_LEN + 1);
}

int
oauth_pending_init(struct oauth_pending *pd, const struct oauth_provider *p)
{
	int rc;

	memset(pd, 0, sizeof(*pd));
	pd->p = p;
	/* 24 random bytes -> 32 characters of state; 48 -> a 64-character
	 * verifier (RFC 7636 4.1: 43..128 characters) */
	if ((rc = oauth_random_token(pd->state, sizeof(pd->state), 24)) != CP_OK)
		return rc;
	if (p->pkce) {
		if ((rc = oauth_random_token(pd->verifier, sizeof(pd->verifier), 48)) != CP_OK)
			return rc;
		oauth_pkce_challenge(pd->verifier, pd->challenge);
	}
	return CP_OK;
}

/* -------------------------------------------------------- URL, bodies */

/* RFC 3986 unreserved bytes pass, everything else is %XX (so a space is
 * %20, what every provider accepts in scope). */
static int
oauth_pct(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = CP_OK;

	for (; *s != '\0' && rc == CP_OK; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			rc = buf_append(b, s, 1);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			rc = buf_append(b, e, 3);
		}
	}
	return rc;
}

/* Append "&name=value" ("name=value" first), value %-encoded. */
static int
oauth_form(struct buf *b, const char *name, const char *value)
{
	int rc;

	if (b->len > 0 && (rc = buf_append(b, "&", 1)) != CP_OK)
		return rc;
	if ((rc = buf_appends(b, name)) != CP_OK || (rc = buf_append(b, "=", 1)) != CP_OK)
		return rc;
	return oauth_pct(b, value);
}

/* A JSON object of string members (name, value, name, value, ..., NULL)
 * printed into b. */
static int
oauth_json_body(struct buf *b, const char *const *kv)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;
	int rc = CP_ENOMEM;

	if (o == NULL)
		goto out;
	for (; kv[0] != NULL; kv += 2)
		if (cJSON_AddStringToObject(o, kv[0], kv[1]) == NULL)
			goto out;
	if ((s = cJSON_PrintUnformatted(o)) == NULL)
		goto out;
	rc = buf_appends(b, s);
out:
	if (s != NULL)
		cp_wipe(s, strlen(s));
	free(s);
	cJSON_Delete(o);
	return rc;
}

int
oauth_authorize_url(const struct oauth_provider *p, const char *auth_url,
    const char *redirect_uri, const struct oauth_pending *pd, struct buf *out)
{
	int rc;

	if (p->device)
		return CP_EINVAL;
	buf_reset(out);
	if ((rc = buf_appends(out, auth_url)) != CP_OK ||
	    (rc = buf_appends(out, strchr(auth_url, '?') != NULL ? "&" : "?")) != CP_OK)
		return rc;
	/* the order the providers' own CLIs use */
	if ((rc = buf_appends(out, "client_id=")) != CP_OK ||
	    (rc = oauth_pct(out, p->client_id)) != CP_OK ||
	    (rc = buf_appends(out, "&response_type=code&redirect_uri=")) != CP_OK ||
	    (rc = oauth_pct(out, redirect_uri)) != CP_OK ||
	    (rc = buf_appends(out, "&scope=")) != CP_OK ||
	    (rc = oauth_pct(out, p->scopes)) != CP_OK ||
	    (rc = buf_appends(out, "&state=")) != CP_OK ||
	    (rc = oauth_pct(out, pd->state)) != CP_OK)
		return rc;
	if (p->pkce && ((rc = buf_appends(out, "&code_challenge=")) != CP_OK ||
	    (rc = oauth_pct(out, pd->challenge)) != CP_OK ||
	    (rc = buf_appends(out, "&code_challenge_method=S256")) != CP_OK))
		return rc;
	if (p->auth_extra != NULL && (rc = buf_appends(out, p->auth_extra)) != CP_OK)
		return rc;
	return CP_OK;
}

int
oauth_exchange_body(const struct oauth_provider *p, const char *code,
    const char *redirect_uri, const struct oauth_pending *pd, struct buf *out,
    const char **ctype)
{
	int rc = CP_OK;

	buf_reset(out);
	*ctype = p->json_body ? "application/json" : "application/x-www-form-urlencoded";
	switch (p->kind) {
	case OAUTH_GEMINI:
		if ((rc = oauth_form(out, "code", code)) != CP_OK ||
		    (rc = oauth_form(out, "client_id", p->client_id)) != CP_OK ||
		    (rc = oauth_form(out, "client_secret", p->client_secret)) != CP_OK ||
		    (rc = oauth_form(out, "redirect_uri", redirect_uri)) != CP_OK ||
		    (rc = oauth_form(out, "grant_type", "authorization_code")) != CP_OK)
			return rc;
		break;
	case OAUTH_CLAUDE: {
		const char *kv[] = { "code", code, "state", pd->state,
		    "grant_type", "authorization_code", "client_id", p->client_id,
		    "redirect_uri", redirect_uri, "code_verifier", pd->verifier, NULL };

		rc = oauth_json_body(out, kv);
		break;
	}
	case OAUTH_CODEX:
		if ((rc = oauth_form(out, "grant_type", "authorization_code")) != CP_OK ||
		    (rc = oauth_form(out, "client_id", p->client_id)) != CP_OK ||
		    (rc = oauth_form(out, "code", code)) != CP_OK ||
		    (rc = oauth_form(out, "redirect_uri", redirect_uri)) != CP_OK ||
		    (rc = oauth_form(out, "code_verifier", pd->verifier)) != CP_OK)
			return rc;
		break;
	case OAUTH_QWEN:
	case OAUTH_KIND_N:
		return CP_EINVAL;     /* the device flow polls instead */
	}
	return rc;
}

int
oauth_device_body(const struct oauth_provider *p, const struct oauth_pending *pd,
    struct buf *out)
{
	int rc;

	if (!p->device)
		return CP_EINVAL;
	buf_reset(out);
	if ((rc = oauth_form(out, "client_id", p->client_id)) != CP_OK ||
	    (rc = oauth_form(out, "scope", p->scopes)) != CP_OK ||
	    (rc = oauth_form(out, "code_challenge", pd->challenge)) != CP_OK ||
	    (rc = oauth_form(out, "code_challenge_method", "S256")) != CP_OK)
		return rc;
	return CP_OK;
}

int
oauth_device_poll_body(const struct oauth_provider *p, const char *device_code,
    const struct oauth_pending *pd, struct buf *out)
{
	int rc;

	if (!p->device)
		return CP_EINVAL;
	buf_reset(out);
	if ((rc = oauth_form(out, "grant_type",
	    "urn:ietf:params:oauth:grant-type:device_code")) != CP_OK ||
	    (rc = oauth_form(out, "client_id", p->client_id)) != CP_OK ||
	    (rc = oauth_form(out, "device_code", device_code)) != CP_OK ||
	    (rc = oauth_form(out, "code_verifier", pd->verifier)) != CP_OK)
		return rc;
	return CP_OK;
}

int
oauth_refresh_body(const struct oauth_provider *p, const char *refresh_token,
    struct buf *out, const char **ctype)
{
	int rc = CP_OK;

	buf_reset(out);
	*ctype = p->json_body ? "application/json" : "application/x-www-form-urlencoded";
	switch (p->kind) {
	case OAUTH_GEMINI:
		if ((rc = oauth_form(out, "grant_type", "refresh_token")) != CP_OK ||
		    (rc = oauth_form(out, "refresh_token", refresh_token)) != CP_OK ||
		    (rc = oauth_form(out, "client_id", p->client_id)) != CP_OK ||
		    (rc = oauth_form(out, "client_secret", p->client_secret)) != CP_OK)
			return rc;
		break;
	case OAUTH_CLAUDE: {
		const char *kv[] = { "client_id", p->client_id, "grant_type", "refresh_token",
		    "refresh_token", refresh_token, NULL };

		rc = oauth_json_body(out, kv);
		break;
	}
	case OAUTH_CODEX:
		if ((rc = oauth_form(out, "client_id", p->client_id)) != CP_OK ||
		    (rc = oauth_form(out, "grant_type", "refresh_token")) != CP_OK ||
		    (rc = oauth_form(out, "refresh_token", refresh_token)) != CP_OK ||
		    (rc = oauth_form(out, "scope", p->refresh_scope)) != CP_OK)
			return rc;
		break;
	case OAUTH_QWEN:
		if ((rc = oauth_form(out, "grant_type", "refresh_token")) != CP_OK ||
		    (rc = oauth_form(out, "refresh_token", refresh_token)) != CP_OK ||
		    (rc = oauth_form(out, "client_id", p->client_id)) != CP_OK)
			return rc;
		break;
	case OAUTH_KIND_N:
		return CP_EINVAL;
	}
	return rc;
}

/* --------------------------------------------------------- the answer */

static void
oauth_free_secret(char **s)
{
	if (*s != NULL) {
		cp_wipe(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void
oauth_tokens_release(struct oauth_tokens *t)
{
	oauth_free_secret(&t->access_token);
	oauth_free_secret(&t->refresh_token);
	oauth_free_secret(&t->id_token);
	free(t->token_type);
	free(t->email);
	free(t->account_id);
	free(t->resource_url);
	free(t->error);
	memset(t, 0, sizeof(*t));
	t->expires_in = -1;
}

/* A string member copied (NULL when absent, not a string or empty). */
static int
oauth_dup(const cJSON *o, const char *key, char **out)
{
	const char *s;

	*out = NULL;
	if (json_get_string(o, key, &s) != CP_OK || s[0] == '\0')
		return CP_OK;
	return (*out = cp_strdup(s)) == NULL ? CP_ENOMEM : CP_OK;
}

int
oauth_jwt_claims(const char *jwt, char **email, char **account_id)
{
	const char *a, *b;
	const cJSON *auth;
	char *payload = NULL;
	size_t plen;
	cJSON *root = NULL;
	int rc;

	*email = NULL;
	*account_id = NULL;
	/* header.payload.signature; the signature is not checked (PROVIDERS
	 * 2: the token came from the token endpoint over TLS) */
	if (jwt == NULL || (a = strchr(jwt, '.')) == NULL || (b = strchr(a + 1, '.')) == NULL)
		return CP_EINVAL;
	if ((rc = oauth_b64_decode(a + 1, (size_t)(b - a - 1), &payload, &plen)) != CP_OK)
		goto out;
	if ((rc = json_parse_strict(payload, plen, &root)) != CP_OK)
		goto out;
	if (!cJSON_IsObject(root)) {
		rc = CP_EINVAL;
		goto out;
	}
	if ((rc = oauth_dup(root, "email", email)) != CP_OK)
		goto out;
	if (json_get_object(root, "https://api.openai.com/auth", &auth) == CP_OK &&
	    (rc = oauth_dup(auth, "chatgpt_account_id", account_id)) != CP_OK)
		goto out;
	rc = CP_OK;
out:
	if (rc != CP_OK) {
		free(*email);
		free(*account_id);
		*email = *account_id = NULL;
	}
	cJSON_Delete(root);
	if (payload != NULL)
		cp_wipe(payload, plen);
	free(payload);
	return rc;
}

int
oauth_parse_tokens(const struct oauth_provider *p, const char *body, size_t len,
    struct oauth_tokens *t, char *err, size_t errlen)
{
	const cJSON *acct;
	cJSON *root = NULL;
	long long n;
	int rc;

	memset(t, 0, sizeof(*t));
	t->expires_in = -1;
	if (json_parse_strict(body, len, &root) != CP_OK || !cJSON_IsObject(root)) {
		cp_seterr(err, errlen, "token endpoint answered something that is not a JSON object");
		rc = CP_EPARSE;
		goto out;
	}
	if ((rc = oauth_dup(root, "error", &t->error)) != CP_OK)
		goto out;
	if (t->error != NULL) {
		/* RFC 6749 5.2 error codes are short ASCII words: shown as is,
		 * error_description is not (it is free text from upstream) */
		for (char *c = t->error; *c != '\0'; c++)
			if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
			    *c == '-' || (*c >= '0' && *c <= '9')) || c - t->error > 64)
				*c = '\0';
		cp_seterr(err, errlen, "token endpoint refused: %s", t->error);
		rc = CP_EPERM;
		goto out;
	}
	if ((rc = oauth_dup(root, "access_token", &t->access_token)) != CP_OK ||
	    (rc = oauth_dup(root, "refresh_token", &t->refresh_token)) != CP_OK ||
	    (rc = oauth_dup(root, "id_token", &t->id_token)) != CP_OK ||
	    (rc = oauth_dup(root, "token_type", &t->token_type)) != CP_OK ||
	    (rc = oauth_dup(root, "resource_url", &t->resource_url)) != CP_OK)
		goto out;
	if (t->access_token == NULL) {
		cp_seterr(err, errlen, "token endpoint answered without access_token");
		rc = CP_EINVAL;
		goto out;
	}
	if (json_get_int(root, "expires_in", 0, 10LL * 365 * 86400, &n) == CP_OK)
		t->expires_in = n;
	switch (p->kind) {
	case OAUTH_CLAUDE:
		if (json_get_object(root, "account", &acct) == CP_OK &&
		    (rc = oauth_dup(acct, "email_address", &t->email)) != CP_OK)
			goto out;
		break;
	case OAUTH_CODEX:
		/* a junk id_token is not fatal: the account id is then missing
		 * and the caller decides (a login refuses, a refresh keeps the
		 * file's) */
		if (t->id_token != NULL)
			(void)oauth_jwt_claims(t->id_token, &t->email, &t->account_id);
		break;
	case OAUTH_GEMINI:
	case OAUTH_QWEN:
	case OAUTH_KIND_N:
		break;
	}
	rc = CP_OK;
out:
	if (rc != CP_OK && t->error == NULL) {
		char *e = t->error;

		t->error = NULL;
		oauth_tokens_release(t);
		t->error = e;
	}
	cJSON_Delete(root);
	return rc;
}

/* -------------------------------------------------------------- times */

void
oauth_fmt_time(time_t t, bool fraction, char *out, size_t outlen)
{
	struct tm tm;
	char base[32];
	long off;

	if (localtime_r(&t, &tm) == NULL) {
		fmt_rfc3339(t, out, outlen);
		return;
	}
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	off = tm.tm_gmtoff;
	if (off == 0) {
		snprintf(out, outlen, "%s%sZ", base, fraction ? ".000000000" : "");
		return;
	}
	snprintf(out, outlen, "%s%s%c%02ld:%02ld", base, fraction ? ".000000000" : "",
	    off < 0 ? '-' : '+', (off < 0 ? -off : off) / 3600, (off < 0 ? -off : off) % 3600 / 60);
}

static int
oauth_digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return CP_EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return CP_OK;
}

int
oauth_parse_time(const char *s, time_t *out)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0;
	long off = 0;
	struct tm tm;
	size_t len, i = 19;

	if (s == NULL || (len = strlen(s)) < 20)
		return CP_EINVAL;
	if (oauth_digits(s, 4, &Y) || s[4] != '-' || oauth_digits(s + 5, 2, &M) ||
	    s[7] != '-' || oauth_digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' &&
	    s[10] != ' ') || oauth_digits(s + 11, 2, &h) || s[13] != ':' ||
	    oauth_digits(s + 14, 2, &m) || s[16] != ':' || oauth_digits(s + 17, 2, &sec))
		return CP_EINVAL;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		return CP_EINVAL;
	if (s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == 20)
			return CP_EINVAL;
	}
	if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == len) {
		off = 0;
	} else if ((s[i] == '+' || s[i] == '-') && i + 6 == len && s[i + 3] == ':' &&
	    oauth_digits(s + i + 1, 2, &oh) == CP_OK && oauth_digits(s + i + 4, 2, &om) == CP_OK &&
	    oh < 24 && om < 60) {
		off = (long)(oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1);
	} else {
		return CP_EINVAL;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	*out = timegm(&tm) - off;
	return CP_OK;
}

int
oauth_file_expiry(const cJSON *doc, time_t *out)
{
	const cJSON *tok;
	const char *s;

	if (json_get_object(doc, "token", &tok) == CP_OK && json_get_string(tok, "expiry", &s) == CP_OK)
		return oauth_parse_time(s, out);
	if (json_get_string(doc, "expired", &s) == CP_OK)
		return oauth_parse_time(s, out);
	return CP_ENOTFOUND;
}

/* --------------------------------------------------- new auth files */

/* Expiry of an answer: now + expires_in (1 hour when the answer has no
 * figure: every provider's tokens last at least that long). */
static time_t
oauth_expiry(const struct oauth_tokens *t, time_t now)
{
	return now + (t->expires_in >= 0 ? (time_t)t->expires_in : 3600);
}

/* Set a string member, replacing one of that name. */
static int
oauth_set_str(cJSON *o, const char *key, const char *v)
{
	cJSON *s = cJSON_CreateString(v != NULL ? v : "");

	if (s == NULL)
		return CP_ENOMEM;
	if (cJSON_GetObjectItemCaseSensitive(o, key) != NULL)
		return cJSON_ReplaceItemInObjectCaseSensitive(o, key, s) ? CP_OK : CP_ENOMEM;
	if (!cJSON_AddItemToObject(o, key, s)) {
		cJSON_Delete(s);
		return CP_ENOMEM;
	}
	return CP_OK;
}

/* The token fields of a file (PROVIDERS.md 4: the `token` object for
 * gemini; the flat fields for the others) set from t. keep_refresh: the
 * answer has no refresh token and the file's stays (PROVIDERS 7). */
static int
oauth_apply_tokens(const struct oauth_provider *p, cJSON *doc, const struct oauth_tokens *t,
    time_t now)
{
	char exp[48], last[48];
	cJSON *tok;
	int rc;

	oauth_fmt_time(oauth_expiry(t, now), p->kind == OAUTH_GEMINI, exp, sizeof(exp));
	if (p->kind == OAUTH_GEMINI) {
		tok = cJSON_GetObjectItemCaseSensitive(doc, "token");
		if (!cJSON_IsObject(tok)) {
			if ((tok = cJSON_CreateObject()) == NULL)
				return CP_ENOMEM;
			if (cJSON_GetObjectItemCaseSensitive(doc, "token") != NULL)
				cJSON_ReplaceItemInObjectCaseSensitive(doc, "token", tok);
			else if (!cJSON_AddItemToObject(doc, "token", tok)) {
				cJSON_Delete(tok);
				return CP_ENOMEM;
			}
		}
		if ((rc = oauth_set_str(tok, "access_token", t->access_token)) != CP_OK ||
		    (rc = oauth_set_str(tok, "token_type",
		    t->token_type != NULL ? t->token_type : "Bearer")) != CP_OK ||
		    (t->refresh_token != NULL &&
		    (rc = oauth_set_str(tok, "refresh_token", t->refresh_token)) != CP_OK) ||
		    (rc = oauth_set_str(tok, "expiry", exp)) != CP_OK)
			return rc;
		return CP_OK;
	}
	oauth_fmt_time(now, false, last, sizeof(last));
	if ((rc = oauth_set_str(doc, "access_token", t->access_token)) != CP_OK ||
	    (t->refresh_token != NULL &&
	    (rc = oauth_set_str(doc, "refresh_token", t->refresh_token)) != CP_OK) ||
	    (rc = oauth_set_str(doc, "expired", exp)) != CP_OK ||
	    (rc = oauth_set_str(doc, "last_refresh", last)) != CP_OK)
		return rc;
	/* id_token: Claude's is empty by design (PROVIDERS 2); Codex's is
	 * replaced only by a new one */
	if (t->id_token != NULL && (rc = oauth_set_str(doc, "id_token", t->id_token)) != CP_OK)
		return rc;
	if (p->kind == OAUTH_CLAUDE && cJSON_GetObjectItemCaseSensitive(doc, "id_token") == NULL &&
	    (rc = oauth_set_str(doc, "id_token", "")) != CP_OK)
		return rc;
	if (t->resource_url != NULL && (rc = oauth_set_str(doc, "resource_url", t->resource_url)) != CP_OK)
		return rc;
	if (t->account_id != NULL && (rc = oauth_set_str(doc, "account_id", t->account_id)) != CP_OK)
		return rc;
	return CP_OK;
}

int
oauth_auth_file(const struct oauth_provider *p, const struct oauth_tokens *t,
    const char *email, const char *project_id, time_t now, cJSON **out)
{
	cJSON *doc = NULL, *tok, *scopes;
	const char *sp, *e;
	int rc = CP_ENOMEM;

	*out = NULL;
	if ((doc = cJSON_CreateObject()) == NULL)
		goto out;
	if ((rc = oauth_set_str(doc, "type", p->type)) != CP_OK)
		goto out;
	if ((rc = oauth_apply_tokens(p, doc, t, now)) != CP_OK)
		goto out;
	rc = CP_ENOMEM;
	if (p->kind == OAUTH_GEMINI) {
		tok = cJSON_GetObjectItemCaseSensitive(doc, "token");
		if (t->refresh_token == NULL && oauth_set_str(tok, "refresh_token", "") != CP_OK)
			goto out;
		if (oauth_set_str(tok, "token_uri", p->ep[OAUTH_EP_TOKEN].def) != CP_OK ||
		    oauth_set_str(tok, "client_id", p->client_id) != CP_OK ||
		    oauth_set_str(tok, "client_secret", p->client_secret) != CP_OK ||
		    (scopes = cJSON_AddArrayToObject(tok, "scopes")) == NULL ||
		    oauth_set_str(tok, "universe_domain", "googleapis.com") != CP_OK)
			goto out;
		for (sp = p->scopes; *sp != '\0'; sp = *e == ' ' ? e + 1 : e) {
			cJSON *one;
			char *s;

			if ((e = strchr(sp, ' ')) == NULL)
				e = sp + strlen(sp);
			if ((s = cp_strndup(sp, (size_t)(e - sp))) == NULL)
				goto out;
			one = cJSON_CreateString(s);
			free(s);
			if (one == NULL || !cJSON_AddItemToArray(scopes, one)) {
				cJSON_Delete(one);
				goto out;
			}
		}
		if (oauth_set_str(doc, "project_id", project_id != NULL ? project_id : "") != CP_OK ||
		    oauth_set_str(doc, "email", email != NULL ? email : "") != CP_OK ||
		    cJSON_AddBoolToObject(doc, "auto", false) == NULL ||
		    cJSON_AddBoolToObject(doc, "checked", true) == NULL)
			goto out;
	} else {
		if (t->refresh_token == NULL && oauth_set_str(doc, "refresh_token", "") != CP_OK)
			goto out;
		if (p->kind == OAUTH_CODEX && oauth_set_str(doc, "account_id",
		    t->account_id != NULL ? t->account_id : "") != CP_OK)
			goto out;
		if (p->kind == OAUTH_QWEN && oauth_set_str(doc, "resource_url",
		    t->resource_url != NULL ? t->resource_url : "") != CP_OK)
			goto out;
		if (p->kind == OAUTH_CODEX && t->id_token == NULL &&
		    oauth_set_str(doc, "id_token", "") != CP_OK)
			goto out;
		if (oauth_set_str(doc, "email", email != NULL ? email : "") != CP_OK)
			goto out;
	}
	*out = doc;
	doc = NULL;
	rc = CP_OK;
out:
	cJSON_Delete(doc);
	return rc;
}

int
oauth_file_name(const struct oauth_provider *p, const char *email, const char *project,
    char *out, size_t outlen)
{
	char raw[CP_AUTHNAME_MAX * 2];
	size_t len, max;
	int n;

	if (email == NULL || email[0] == '\0')
		email = "account";
	if (p->kind == OAUTH_GEMINI)
		n = snprintf(raw, sizeof(raw), "%s-%s", email,
		    project != NULL && project[0] != '\0' ? project : "all");
	else
		n = snprintf(raw, sizeof(raw), "%s-%s", p->type, email);
	if (n < 0)
		return CP_EINVAL;
	len = strlen(raw);
	/* DESIGN 4: 1..200 bytes ending in .json */
	max = CP_AUTHNAME_MAX - 5;
	if (len > max)
		len = max;
	if (outlen < len + 6)
		return CP_ETOOBIG;
	for (size_t i = 0; i < len; i++) {
		char c = raw[i];

		out[i] = ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' || c == '+' ||
		    c == '-') ? c : '_';
	}
	if (out[0] == '.')            /* never a dot-file */
		out[0] = '_';
	memcpy(out + len, ".json", 6);
	return authstore_name_ok(out, strlen(out)) ? CP_OK : CP_EINVAL;
}

/* -------------------------------------------------- write-back merge */

struct oauth_merge_arg {
	const struct oauth_provider *p;     /* kind of the file */
	const char *used_refresh;           /* refresh token the refresh used */
	const struct oauth_tokens *t;       /* the answer */
	time_t now;                         /* for expiry and last_refresh */
	enum oauth_merge_result res;        /* outcome */
};

static int
oauth_merge_fn(cJSON *doc, void *varg)
{
	struct oauth_merge_arg *a = varg;
	const cJSON *tok = doc;
	const char *cur = NULL;

	if (a->p->kind == OAUTH_GEMINI && json_get_object(doc, "token", &tok) != CP_OK)
		tok = NULL;
	if (tok != NULL)
		(void)json_get_string(tok, "refresh_token", &cur);
	/* PROVIDERS 4: someone logged in again (or replaced the file): their
	 * tokens win, ours are dropped */
	if (cur == NULL || a->used_refresh == NULL || !ct_streq(cur, a->used_refresh)) {
		a->res = OAUTH_MERGE_SUPERSEDED;
		return CP_EEXIST;
	}
	a->res = OAUTH_MERGE_WRITTEN;
	return oauth_apply_tokens(a->p, doc, a->t, a->now);
}

int
oauth_merge_tokens(const char *dir, const char *name, const struct oauth_provider *p,
    const char *used_refresh, const struct oauth_tokens *t, time_t now,
    enum oauth_merge_result *res, char *err, size_t errlen)
{
	struct oauth_merge_arg a = { p, used_refresh, t, now, OAUTH_MERGE_GONE };
	int rc;

	*res = OAUTH_MERGE_GONE;
	if (t == NULL || t->access_token == NULL) {
		cp_seterr(err, errlen, "no access token to write back");
		return CP_EINVAL;
	}
	rc = authstore_update(dir, name, oauth_merge_fn, &a, err, errlen);
	if (rc == CP_ENOTFOUND) {      /* deleted meanwhile: stays deleted */
		*res = OAUTH_MERGE_GONE;
		return CP_OK;
	}
	if (rc == CP_EEXIST && a.res == OAUTH_MERGE_SUPERSEDED) {
		*res = OAUTH_MERGE_SUPERSEDED;
		return CP_OK;
	}
	if (rc == CP_OK)
		*res = a.res;
	return rc;
}

/* ----------------------------------------------------- the callback */

static int
oauth_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* %-decode s[0..len) ('+' is a space) into out; NUL bytes refused. */
static int
oauth_unpct(const char *s, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '%') {
			int h, l;

			if (i + 2 >= len || (h = oauth_hexval(s[i + 1])) < 0 ||
			    (l = oauth_hexval(s[i + 2])) < 0)
				return CP_EINVAL;
			c = (char)(h << 4 | l);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c == '\0' || o + 1 >= outlen)
			return c == '\0' ? CP_EINVAL : CP_ETOOBIG;
		out[o++] = c;
	}
	out[o] = '\0';
	return CP_OK;
}

int
oauth_parse_callback(const char *in, struct oauth_callback *cb)
{
	const char *q, *end, *p;
	bool have_code = false, have_state = false;
	int rc;

	memset(cb, 0, sizeof(*cb));
	if (in == NULL)
		return CP_EINVAL;
	while (*in == ' ' || *in == '\t')
		in++;
	end = in + strlen(in);
	while (end > in && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end == in)
		return CP_EINVAL;
	q = memchr(in, '?', (size_t)(end - in));
	if (q == NULL) {
		/* Claude's page shows "code#state"; a bare code has no state */
		const char *h = memchr(in, '#', (size_t)(end - in));

		if ((rc = oauth_unpct(in, (size_t)((h != NULL ? h : end) - in), cb->code,
		    sizeof(cb->code))) != CP_OK)
			return rc;
		if (h != NULL && (rc = oauth_unpct(h + 1, (size_t)(end - h - 1), cb->state,
		    sizeof(cb->state))) != CP_OK)
			return rc;
		return cb->code[0] != '\0' ? CP_OK : CP_EINVAL;
	}
	for (p = q + 1; p < end;) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *eq;
		const char *stop = amp != NULL ? amp : end;
		char *dst = NULL;
		size_t dlen = 0;
		bool *seen = NULL;

		/* a fragment ends the query */
		if ((eq = memchr(p, '#', (size_t)(stop - p))) != NULL)
			stop = eq, amp = NULL, end = eq;
		eq = memchr(p, '=', (size_t)(stop - p));
		if (eq != NULL) {
			size_t klen = (size_t)(eq - p);

			if (klen == 4 && memcmp(p, "code", 4) == 0)
				dst = cb->code, dlen = sizeof(cb->code), seen = &have_code;
			else if (klen == 5 && memcmp(p, "state", 5) == 0)
				dst = cb->state, dlen = sizeof(cb->state), seen = &have_state;
			else if (klen == 5 && memcmp(p, "error", 5) == 0)
				dst = cb->error, dlen = sizeof(cb->error);
			if (dst != NULL) {
				/* a repeated parameter is ambiguous: refuse */
				if ((seen != NULL && *seen) || (seen == NULL && dst[0] != '\0'))
					return CP_EEXIST;
				if ((rc = oauth_unpct(eq + 1, (size_t)(stop - eq - 1), dst, dlen)) != CP_OK)
					return rc;
				if (seen != NULL)
					*seen = true;
			}
		}
		p = amp != NULL ? amp + 1 : end;
	}
	if (cb->error[0] != '\0')
		return CP_EPERM;
	return cb->code[0] != '\0' ? CP_OK : CP_EINVAL;
}
