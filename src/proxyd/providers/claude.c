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
	const struct cfg *c = b->cfg;
	size_t i;
	int rc;

	for (i = 0; i < c->n_claude; i++) {
		const struct cfg_keyed *k = &c->claude[i];
		char name[64];
		struct prov *p;

		if (k->api_key[0] == '\0' || strlen(k->api_key) > PXD_KEY_MAX)
			continue;
		snprintf(name, sizeof(name), "claude-api-key#%zu", i);
		if ((p = b->add_prov(b, &prov_claude_key, name, k->base_url[0] != '\0' ?
		    k->base_url : prov_endpoint(c, "claude", CLAUDE_BASE))) == NULL ||
		    b->add_cred(b, p, k->api_key, name) == NULL)
			return CP_ENOMEM;
		if ((rc = prov_add_models(b, p, k->models, k->n_models)) != CP_OK)
			return rc;
	}
	return CP_OK;
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
