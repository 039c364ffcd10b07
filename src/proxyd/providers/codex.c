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
	const struct cfg *c = b->cfg;
	size_t i;
	int rc;

	for (i = 0; i < c->n_codex; i++) {
		const struct cfg_keyed *k = &c->codex[i];
		char name[64];
		struct prov *p;

		if (k->api_key[0] == '\0' || strlen(k->api_key) > PXD_KEY_MAX)
			continue;
		snprintf(name, sizeof(name), "codex-api-key#%zu", i);
		if ((p = b->add_prov(b, &prov_codex_key, name, k->base_url[0] != '\0' ?
		    k->base_url : prov_endpoint(c, "codex-api", CODEX_API_BASE))) == NULL ||
		    b->add_cred(b, p, k->api_key, name) == NULL)
			return CP_ENOMEM;
		if ((rc = prov_add_models(b, p, k->models, k->n_models)) != CP_OK)
			return rc;
	}
	return CP_OK;
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
	char v[PXD_KEY_MAX + 8];
	int rc;

	(void)st;
	if ((rc = prov_headers_base(t, out)) != CP_OK)
		return rc;
	snprintf(v, sizeof(v), "Bearer %s", c->secret);
	rc = prov_header(out, "Authorization", v);
	cp_wipe(v, sizeof(v));
	return rc;
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
