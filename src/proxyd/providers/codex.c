/*
 * codex.c - Codex API keys (codex-api-key, PROVIDERS.md 3): the OpenAI
 * Responses API, POST {base-url, else codex-api}/responses with
 * "Authorization: Bearer"; no account headers. Each key item is its own
 * instance (its base-url and models). A 429 may say when the quota
 * resets (resets_in_seconds) instead of Retry-After.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "proxyd.h"

#define CODEX_API_BASE "https://api.openai.com/v1"

static int
xk_build(struct prov_builder *b)
{
	return prov_build_keyed(b, &prov_codex_key, b->cfg->codex, b->cfg->n_codex, "codex-api", CODEX_API_BASE);
}

static int
xk_url(const struct prov *p, const struct cred *c, const struct up_target *t,
    struct buf *out)
{
	(void)c;
	(void)t;
	buf_reset(out);
	return buf_printf(out, "%s/responses", p->base_url);
}

static int
xk_headers(const struct cred *c, const struct cred_state *st, const struct up_target *t,
    struct curl_slist **out)
{
	(void)st;
	return prov_headers_bearer(c, t, out);
}

void
prov_codex_classify(const struct up_answer *a, struct up_class *out)
{
	prov_classify_common(a, out);
	if (a->status == 429 && out->hint_s < 0)
		out->hint_s = policy_codex_resets(a->body, a->len);
}

/* PROVIDERS 3: the catalogue's gpt-5-<effort> names are gpt-5 with that
 * reasoning effort (other members of "reasoning" kept). */
int
prov_codex_effort_alias(cJSON *body)
{
	static const char *const efforts[] = { "minimal", "low", "medium", "high" };
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "model");
	cJSON *r;
	size_t i;
	int rc;

	if (!cJSON_IsString(m) || strncmp(m->valuestring, "gpt-5-", 6) != 0)
		return CP_OK;
	for (i = 0; i < sizeof(efforts) / sizeof(efforts[0]); i++)
		if (strcmp(m->valuestring + 6, efforts[i]) == 0)
			break;
	if (i == sizeof(efforts) / sizeof(efforts[0]))
		return CP_OK;
	r = cJSON_GetObjectItemCaseSensitive(body, "reasoning");
	if (!cJSON_IsObject(r) &&
	    (rc = prov_json_set(body, "reasoning", r = cJSON_CreateObject())) != CP_OK)
		return rc;
	if ((rc = prov_json_set(r, "effort", cJSON_CreateString(efforts[i]))) != CP_OK)
		return rc;
	return pv_body_set_model(body, "gpt-5");
}

static int
xk_wrap(const struct cred *c, const struct cred_state *st, const struct up_target *t,
    cJSON **body)
{
	(void)c;
	(void)st;
	(void)t;
	return prov_codex_effort_alias(*body);
}

const struct provider_ops prov_codex_key = {
	.kind = "codex-api-key",
	.format = FMT_OPENAI_RESPONSES,
	.also = FMT__COUNT,
	.family = CAT_CODEX,
	.build = xk_build,
	.url = xk_url,
	.headers = xk_headers,
	.static_headers = true,
	.wrap = xk_wrap,
	.classify = prov_codex_classify,
};

/* ----------------------------------------------------- ChatGPT accounts */

/*
 * ChatGPT/Codex accounts (auth files of type "codex", PROVIDERS.md 2, 3):
 * the ChatGPT backend's Responses API at {codex}/responses, with the
 * account's Bearer token, chatgpt-account-id (the file's account_id, else
 * the id_token's claim), originator codex_cli_rs, OpenAI-Beta
 * responses=experimental and a session_id per attempt. The backend only
 * streams and stores nothing: stream and store are forced, encrypted
 * reasoning is asked for, sampling limits it refuses are dropped
 * (logged at debug), instructions are the client's or "" (we inject no
 * prompt). A non-streaming client's answer is gathered from the stream
 * by the relay (stream_only).
 */
#define CODEX_BASE "https://chatgpt.com/backend-api/codex"
#define CODEX_ORIGINATOR "codex_cli_rs"

/* The account id of an account's file into out ("" when none). */
static void
xa_account_id(const cJSON *j, char *out, size_t outlen)
{
	const char *s = NULL;
	char *email = NULL, *acct = NULL;

	out[0] = '\0';
	if (json_get_string(j, "account_id", &s) == CP_OK && s[0] != '\0') {
		snprintf(out, outlen, "%s", s);
		return;
	}
	if (json_get_string(j, "id_token", &s) == CP_OK &&
	    oauth_jwt_claims(s, &email, &acct) == CP_OK && acct != NULL)
		snprintf(out, outlen, "%s", acct);
	free(email);
	free(acct);
}

/* An account id goes into a header: printable ASCII only. */
static bool
xa_id_ok(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++)
		if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f)
			return false;
	return i > 0 && i < 256;
}

static const char *
xa_read(const cJSON *j, struct prov_acct *a)
{
	char id[256];

	if (json_get_string(j, "access_token", &a->token) != CP_OK)
		return "no access_token";
	xa_account_id(j, id, sizeof(id));
	if (id[0] == '\0')
		return "no account_id (nor an id_token that names one)";
	if (!xa_id_ok(id))
		return "account_id is not printable ASCII";
	return NULL;
}

static int
xa_build(struct prov_builder *b)
{
	return prov_build_accounts(b, &prov_codex_account, "codex", "codex", CODEX_BASE,
	    xa_read);
}

static int
xa_headers(const struct cred *c, const struct cred_state *st, const struct up_target *t,
    struct curl_slist **out)
{
	unsigned char r[16];
	char id[256], sid[40];
	int rc;

	xa_account_id(c->acct->json, id, sizeof(id));
	if (!xa_id_ok(id))
		return CP_EINVAL;
	/* session_id: a random (version 4) UUID per attempt */
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return CP_EIO;
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	snprintf(sid, sizeof(sid), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7],
	    r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
	if ((rc = prov_headers_account(c, st, t, out)) != CP_OK)
		return rc;
	if ((rc = prov_header(out, "chatgpt-account-id", id)) != CP_OK ||
	    (rc = prov_header(out, "originator", CODEX_ORIGINATOR)) != CP_OK ||
	    (rc = prov_header(out, "OpenAI-Beta", "responses=experimental")) != CP_OK ||
	    (rc = prov_header(out, "session_id", sid)) != CP_OK) {
		prov_headers_free(*out);
		*out = NULL;
	}
	return rc;
}

static int
xa_wrap(const struct cred *c, const struct cred_state *st, const struct up_target *t,
    cJSON **body)
{
	static const char *const refused[] = { "max_output_tokens", "temperature", "top_p" };
	static const char enc[] = "reasoning.encrypted_content";
	cJSON *b = *body, *inc, *it;
	const cJSON *ins;
	bool have = false;
	size_t i;
	int rc;

	(void)c;
	(void)st;
	(void)t;
	if ((rc = prov_codex_effort_alias(b)) != CP_OK ||
	    (rc = prov_json_set(b, "stream", cJSON_CreateTrue())) != CP_OK ||
	    (rc = prov_json_set(b, "store", cJSON_CreateFalse())) != CP_OK)
		return rc;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (cJSON_GetObjectItemCaseSensitive(b, refused[i]) == NULL)
			continue;
		log_debug("codex account: '%s' dropped (the backend refuses it)", refused[i]);
		cJSON_DeleteItemFromObjectCaseSensitive(b, refused[i]);
	}
	ins = cJSON_GetObjectItemCaseSensitive(b, "instructions");
	if (!cJSON_IsString(ins) && (rc = prov_json_set(b, "instructions", cJSON_CreateString(""))) !=
	    CP_OK)
		return rc;
	inc = cJSON_GetObjectItemCaseSensitive(b, "include");
	if (!cJSON_IsArray(inc)) {
		if ((rc = prov_json_set(b, "include", cJSON_CreateArray())) != CP_OK)
			return rc;
		inc = cJSON_GetObjectItemCaseSensitive(b, "include");
	}
	cJSON_ArrayForEach(it, inc)
		if (cJSON_IsString(it) && strcmp(it->valuestring, enc) == 0)
			have = true;
	if (!have && ((it = cJSON_CreateString(enc)) == NULL ||
	    !cJSON_AddItemToArray(inc, it))) {
		cJSON_Delete(it);
		return CP_ENOMEM;
	}
	return CP_OK;
}

const struct provider_ops prov_codex_account = {
	.kind = "codex-account",
	.format = FMT_OPENAI_RESPONSES,
	.also = FMT__COUNT,
	.family = CAT_CODEX,
	.oauth = true,
	.stream_only = true,
	.build = xa_build,
	.url = xk_url,
	.headers = xa_headers,
	.wrap = xa_wrap,
	.classify = prov_codex_classify,
	.refresh = refresh_start,
};
