/*
 * claude.c - Claude API keys (claude-api-key, PROVIDERS.md 3): POST
 * {claude}/v1/messages and /v1/messages/count_tokens with x-api-key (what
 * Anthropic documents) and anthropic-version: 2023-06-01. A key item's
 * base-url replaces {claude} for that key, so each item is an instance of
 * its own; its models: [{name, alias}] add names. A Claude client's
 * anthropic-beta header goes along in passthrough.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "proxyd.h"

#define CLAUDE_BASE "https://api.anthropic.com"
#define CLAUDE_VERSION "2023-06-01"

static int
ck_build(struct prov_builder *b)
{
	return prov_build_keyed(b, &prov_claude_key, b->cfg->claude, b->cfg->n_claude, "claude", CLAUDE_BASE);
}

static int
ck_url(const struct prov *p, const struct cred *c, const struct up_target *t,
    struct buf *out)
{
	(void)c;
	buf_reset(out);
	return buf_printf(out, "%s/v1/messages%s", p->base_url,
	    t->op == UPOP_COUNT ? "/count_tokens" : "");
}

static int
ck_headers(const struct cred *c, const struct cred_state *st, const struct up_target *t,
    struct curl_slist **out)
{
	int rc;

	(void)st;
	if ((rc = prov_headers_base(t, out)) != CP_OK ||
	    (rc = prov_header(out, "anthropic-version", CLAUDE_VERSION)) != CP_OK)
		return rc;
	return prov_header(out, "x-api-key", c->secret);
}

/* A Claude client's feature switches (Claude Code sends several) reach
 * Anthropic as they came: the answer depends on them. */
static const char *const ck_client_headers[] = { "anthropic-beta", NULL };

const struct provider_ops prov_claude_key = {
	.kind = "claude-api-key",
	.format = FMT_CLAUDE,
	.also = FMT__COUNT,
	.family = CAT_CLAUDE,
	.has_count = true,
	.build = ck_build,
	.url = ck_url,
	.headers = ck_headers,
	.static_headers = true,
	.client_headers = ck_client_headers,
	.classify = prov_classify_common,
};

/* ------------------------------------------------- Claude Code accounts */

/*
 * Claude Code accounts (auth files of type "claude", PROVIDERS.md 2, 3):
 * the same Messages API at {claude} with "Authorization: Bearer <access
 * token>" and anthropic-beta oauth-2025-04-20 (plus claude-code-20250219).
 * Anthropic serves account tokens only to requests whose system prompt
 * starts with the Claude Code block: we put that block first and keep the
 * client's own system prompt after it, never replacing it and never
 * adding a message of ours (the original did both).
 */
#define CLAUDE_CODE_SYSTEM "You are Claude Code, Anthropic's official CLI for Claude."
#define CLAUDE_ACCOUNT_BETA "claude-code-20250219,oauth-2025-04-20"

static const char *
ca_read(const cJSON *j, struct prov_acct *a)
{
	if (json_get_string(j, "access_token", &a->token) != CP_OK)
		return "no access_token";
	return NULL;
}

static int
ca_build(struct prov_builder *b)
{
	return prov_build_accounts(b, &prov_claude_account, "claude", "claude", CLAUDE_BASE,
	    ca_read);
}

static int
ca_headers(const struct cred *c, const struct cred_state *st, const struct up_target *t,
    struct curl_slist **out)
{
	int rc;

	if ((rc = prov_headers_account(c, st, t, out)) != CP_OK)
		return rc;
	if ((rc = prov_header(out, "anthropic-version", CLAUDE_VERSION)) != CP_OK ||
	    (rc = prov_header(out, "anthropic-beta", CLAUDE_ACCOUNT_BETA)) != CP_OK) {
		prov_headers_free(*out);
		*out = NULL;
	}
	return rc;
}

/* The system prompt of a Messages (or count) body, with the Claude Code
 * block first: a string becomes [block, string], a list gets the block in
 * front unless its first block already starts with it (Claude Code sends
 * it itself), none becomes [block]. A system of another type is left to
 * the upstream's 400. */
static int
ca_wrap(const struct cred *c, const struct cred_state *st, const struct up_target *t,
    cJSON **body)
{
	cJSON *sys = cJSON_GetObjectItemCaseSensitive(*body, "system"), *arr, *blk, *it;
	const cJSON *first;

	(void)c;
	(void)st;
	(void)t;
	if (sys != NULL && !cJSON_IsNull(sys) && !cJSON_IsString(sys) && !cJSON_IsArray(sys))
		return CP_OK;
	if (cJSON_IsArray(sys) && (first = cJSON_GetArrayItem(sys, 0)) != NULL &&
	    cJSON_IsString(cJSON_GetObjectItemCaseSensitive(first, "text")) &&
	    strncmp(cJSON_GetObjectItemCaseSensitive(first, "text")->valuestring,
	    CLAUDE_CODE_SYSTEM, strlen(CLAUDE_CODE_SYSTEM)) == 0)
		return CP_OK;
	if ((arr = cJSON_CreateArray()) == NULL)
		return CP_ENOMEM;
	if ((blk = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(arr);
		return CP_ENOMEM;
	}
	cJSON_AddItemToArray(arr, blk);
	if (cJSON_AddStringToObject(blk, "type", "text") == NULL ||
	    cJSON_AddStringToObject(blk, "text", CLAUDE_CODE_SYSTEM) == NULL)
		goto nomem;
	if (cJSON_IsString(sys) && sys->valuestring[0] != '\0') {
		if ((blk = cJSON_CreateObject()) == NULL)
			goto nomem;
		cJSON_AddItemToArray(arr, blk);
		if (cJSON_AddStringToObject(blk, "type", "text") == NULL ||
		    cJSON_AddStringToObject(blk, "text", sys->valuestring) == NULL)
			goto nomem;
	} else if (cJSON_IsArray(sys)) {
		while ((it = cJSON_DetachItemFromArray(sys, 0)) != NULL)
			cJSON_AddItemToArray(arr, it);
	}
	if (sys != NULL)
		return cJSON_ReplaceItemInObjectCaseSensitive(*body, "system", arr) ? CP_OK :
		    (cJSON_Delete(arr), CP_ENOMEM);
	if (!cJSON_AddItemToObject(*body, "system", arr)) {
		cJSON_Delete(arr);
		return CP_ENOMEM;
	}
	return CP_OK;
nomem:
	cJSON_Delete(arr);
	return CP_ENOMEM;
}

const struct provider_ops prov_claude_account = {
	.kind = "claude-account",
	.format = FMT_CLAUDE,
	.also = FMT__COUNT,
	.family = CAT_CLAUDE,
	.oauth = true,
	.has_count = true,
	.build = ca_build,
	.url = ck_url,
	.headers = ca_headers,
	.client_headers = ck_client_headers,
	.wrap = ca_wrap,
	.classify = prov_classify_common,
	.refresh = refresh_start,
};
