/*
 * gemini.c - Gemini API keys (generative-language-api-key, PROVIDERS.md
 * 3): POST {gemini}/v1beta/models/{model}:generateContent,
 * :streamGenerateContent?alt=sse (or without alt: the JSON-array stream,
 * when a Gemini client asked for that), :countTokens; the key in
 * x-goog-api-key. 429 answers carry their wait in the body
 * (google.rpc.RetryInfo retryDelay) when Retry-After is absent.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "proxyd.h"

#define GEMINI_BASE "https://generativelanguage.googleapis.com"

static int
gk_build(struct prov_builder *b)
{
	const struct cfg *c = b->cfg;
	struct prov *p = NULL;
	size_t i;

	for (i = 0; i < c->gl_api_keys.n; i++) {
		const char *k = c->gl_api_keys.v[i];
		char label[96];

		if (k == NULL || k[0] == '\0' || strlen(k) > PXD_KEY_MAX)
			continue;
		/* One instance for every key: they share the base URL. */
		if (p == NULL && (p = b->add_prov(b, &prov_gemini_key, "gemini",
		    prov_endpoint(c, "gemini", GEMINI_BASE))) == NULL)
			return CP_ENOMEM;
		snprintf(label, sizeof(label), "generative-language-api-key#%zu", i);
		if (b->add_cred(b, p, k, label) == NULL)
			return CP_ENOMEM;
	}
	return CP_OK;
}

static int
gk_url(const struct prov *p, const struct cred *c, const struct up_target *t,
    struct buf *out)
{
	static const char *const action[] = {
		[UPOP_GENERATE] = ":generateContent",
		[UPOP_STREAM] = ":streamGenerateContent",
		[UPOP_COUNT] = ":countTokens",
	};

	size_t i;

	(void)c;
	/* The model goes into the path: only a model name's bytes (a
	 * client's "x/../y?key=" must not reach another URL). */
	for (i = 0; t->model[i] != '\0'; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.@",
		    t->model[i]) == NULL)
			return CP_EINVAL;
	if (i == 0 || i >= ROUTE_MODEL_MAX)
		return CP_EINVAL;
	buf_reset(out);
	return buf_printf(out, "%s/v1beta/models/%s%s%s", p->base_url, t->model,
	    action[t->op], t->op == UPOP_STREAM && t->gemini_sse ? "?alt=sse" : "");
}

static int
gk_headers(const struct cred *c, const struct cred_state *st, const struct up_target *t,
    struct curl_slist **out)
{
	int rc;

	(void)st;
	if ((rc = prov_headers_base(t, out)) != CP_OK)
		return rc;
	return prov_header(out, "x-goog-api-key", c->secret);
}

static void
gk_classify(const struct up_answer *a, struct up_class *out)
{
	prov_classify_common(a, out);
	if (a->status == 429 && out->hint_s < 0)
		out->hint_s = policy_gemini_retry_delay(a->body, a->len);
}

/* PROVIDERS 5: the preview names of a model whose every credential is
 * cooling down (quota-exceeded.switch-preview-model). */
static const char *const *
gk_previews(const char *model)
{
	static const char *const pro[] = {
		"gemini-2.5-pro-preview-05-06", "gemini-2.5-pro-preview-06-05", NULL,
	};
	static const char *const flash[] = {
		"gemini-2.5-flash-preview-04-17", "gemini-2.5-flash-preview-05-20", NULL,
	};

	if (strcmp(model, "gemini-2.5-pro") == 0)
		return pro;
	if (strcmp(model, "gemini-2.5-flash") == 0)
		return flash;
	return NULL;
}

const struct provider_ops prov_gemini_key = {
	.kind = "generative-language-api-key",
	.format = FMT_GEMINI,
	.also = FMT__COUNT,
	.family = CAT_GEMINI,
	.has_count = true,
	.build = gk_build,
	.url = gk_url,
	.headers = gk_headers,
	.static_headers = true,
	.previews = gk_previews,
	.classify = gk_classify,
};
