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
