/*
 * codex.c - Codex API keys (codex-api-key, PROVIDERS.md 3): the OpenAI
 * Responses API, POST {base-url, else codex-api}/responses with
 * "Authorization: Bearer"; no account headers. Each key item is its own
 * instance (its base-url and models). A 429 may say when the quota
 * resets (resets_in_seconds) instead of Retry-After.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

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

static void
xk_classify(const struct up_answer *a, struct up_class *out)
{
	prov_classify_common(a, out);
	if (a->status == 429 && out->hint_s < 0)
		out->hint_s = policy_codex_resets(a->body, a->len);
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
	.classify = xk_classify,
};
