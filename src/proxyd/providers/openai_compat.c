/*
 * openai_compat.c - OpenAI-compatible upstreams (the openai-compatibility
 * list, DESIGN 3): the base URL includes the version path, so the URL is
 * base-url + "/chat/completions" or "/completions" (DESIGN 6); the key goes
 * in "Authorization: Bearer".
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "proxyd.h"

static bool
oc_speaks(enum fmt_id fmt)
{
	return fmt == FMT_OPENAI_CHAT || fmt == FMT_OPENAI_COMPLETIONS;
}

static int
oc_url(const struct prov *p, const struct cred *c, enum fmt_id fmt, const char *model,
    bool stream, struct buf *out)
{
	(void)c;
	(void)model;
	(void)stream;
	buf_reset(out);
	return buf_printf(out, "%s%s", p->base_url,
	    fmt == FMT_OPENAI_COMPLETIONS ? "/completions" : "/chat/completions");
}

static int
oc_attach(const struct cred *c, struct curl_slist **hdrs)
{
	char line[PXD_KEY_MAX + 32];
	struct curl_slist *n;
	int w;

	w = snprintf(line, sizeof(line), "Authorization: Bearer %s", c->secret);
	if (w < 0 || (size_t)w >= sizeof(line))
		return CP_ETOOBIG;
	n = curl_slist_append(*hdrs, line);
	cp_wipe(line, sizeof(line));
	if (n == NULL)
		return CP_ENOMEM;
	*hdrs = n;
	return CP_OK;
}

/* DESIGN 3 request-retry: 403, 408, 500, 502, 503, 504 and transport
 * errors go to the next credential; 429 cools the credential down. */
static enum up_verdict
oc_classify(long status)
{
	if (status >= 200 && status < 300)
		return UPV_OK;
	switch (status) {
	case 0:
	case 403:
	case 408:
	case 500:
	case 502:
	case 503:
	case 504:
		return UPV_RETRY;
	case 429:
		return UPV_COOLDOWN;
	default:
		return UPV_PASS;
	}
}

const struct provider_ops prov_openai_compat = {
	.kind = "openai-compatibility",
	.speaks = oc_speaks,
	.url = oc_url,
	.attach = oc_attach,
	.classify = oc_classify,
};
