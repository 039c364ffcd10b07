/*
 * openai_compat.c - OpenAI-compatible upstreams (the openai-compatibility
 * list, DESIGN 3, PROVIDERS.md 3): the base URL includes the version path,
 * so the URL is base-url + "/chat/completions" (or "/completions" for the
 * legacy format, passed through only); keys round-robin in
 * "Authorization: Bearer"; clients ask for an alias, the upstream gets
 * its name.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "proxyd.h"

static int
oc_build(struct prov_builder *b)
{
	const struct cfg *c = b->cfg;
	size_t i, j;
	int rc;

	for (i = 0; i < c->n_compat; i++) {
		const struct cfg_compat *cc = &c->compat[i];
		struct prov *p;

		if ((p = b->add_prov(b, &prov_openai_compat, cc->name, cc->base_url)) == NULL)
			return CP_ENOMEM;
		for (j = 0; j < cc->api_keys.n; j++) {
			const char *k = cc->api_keys.v[j];
			char label[96];

			if (k == NULL || k[0] == '\0' || strlen(k) > PXD_KEY_MAX)
				continue;
			snprintf(label, sizeof(label), "%.60s#%zu", cc->name, j);
			if (b->add_cred(b, p, k, label) == NULL)
				return CP_ENOMEM;
		}
		if ((rc = prov_add_models(b, p, cc->models, cc->n_models)) != CP_OK)
			return rc;
	}
	return CP_OK;
}

static int
oc_url(const struct prov *p, const struct cred *c, const struct up_target *t,
    struct buf *out)
{
	(void)c;
	buf_reset(out);
	return buf_printf(out, "%s%s", p->base_url,
	    t->fmt == FMT_OPENAI_COMPLETIONS ? "/completions" : "/chat/completions");
}

static int
oc_headers(const struct cred *c, const struct cred_state *st, const struct up_target *t,
    struct curl_slist **out)
{
	(void)st;
	return prov_headers_bearer(c, t, out);
}

const struct provider_ops prov_openai_compat = {
	.kind = "openai-compatibility",
	.format = FMT_OPENAI_CHAT,
	.also = FMT_OPENAI_COMPLETIONS,
	.family = CAT_NONE,
	.build = oc_build,
	.url = oc_url,
	.headers = oc_headers,
	.static_headers = true,
	.classify = prov_classify_common,
};
