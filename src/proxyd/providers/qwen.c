/*
 * qwen.c - Qwen Code accounts (auth files of type "qwen", PROVIDERS.md
 * 2, 3, 7): OpenAI Chat Completions at https://{resource_url}/v1 (the
 * account's own API host, which the original ignored by mistake), else
 * {qwen}; an endpoints: qwen entry wins over the file's host (that is how
 * tests reach a loopback mock). Bearer token; streams ask for the usage
 * chunk (stream_options.include_usage). No count endpoint: the local
 * estimate answers counts.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "proxyd.h"

#define QWEN_BASE "https://portal.qwen.ai/v1"

/* resource_url is a host name ("portal.qwen.ai", maybe with a port); a
 * leading "https://" and a trailing "/" or "/v1" are tolerated. Anything
 * else (another scheme, a path, user info, a query) is refused: the token
 * must not go anywhere but an https host. */
static const char *
qa_base(const char *ru, char *out, size_t outlen)
{
	size_t n, i, colon = 0;

	if (strncmp(ru, "https://", 8) == 0)
		ru += 8;
	n = strlen(ru);
	if (n >= 3 && strcmp(ru + n - 3, "/v1") == 0)
		n -= 3;
	else if (n >= 1 && ru[n - 1] == '/')
		n--;
	if (n == 0 || n > 253)
		return "resource_url is not a host name";
	for (i = 0; i < n; i++) {
		char ch = ru[i];

		if (ch == ':' && colon == 0 && i > 0) {
			colon = i;
			continue;
		}
		if (colon != 0 ? (ch < '0' || ch > '9') :
		    !((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '-'))
			return "resource_url is not a host name";
	}
	if (colon != 0 && (n - colon - 1 == 0 || n - colon - 1 > 5))
		return "resource_url is not a host name";
	snprintf(out, outlen, "https://%.*s/v1", (int)n, ru);
	return NULL;
}

static const char *
qa_read(const cJSON *j, struct prov_acct *a)
{
	const char *ru;

	if (json_get_string(j, "access_token", &a->token) != CP_OK)
		return "no access_token";
	if (json_get_string(j, "resource_url", &ru) == CP_OK && ru[0] != '\0')
		return qa_base(ru, a->base, sizeof(a->base));
	return NULL;
}

static int
qa_build(struct prov_builder *b)
{
	return prov_build_accounts(b, &prov_qwen_account, "qwen", "qwen", QWEN_BASE, qa_read);
}

static int
qa_url(const struct prov *p, const struct cred *c, const struct up_target *t,
    struct buf *out)
{
	(void)c;
	(void)t;
	buf_reset(out);
	return buf_printf(out, "%s/chat/completions", p->base_url);
}

/* A stream asks for its usage chunk (the client's other stream options
 * kept). */
static int
qa_wrap(const struct cred *c, const struct cred_state *st, const struct up_target *t,
    cJSON **body)
{
	cJSON *so;
	int rc;

	(void)c;
	(void)st;
	if (t->op != UPOP_STREAM)
		return CP_OK;
	so = cJSON_GetObjectItemCaseSensitive(*body, "stream_options");
	if (!cJSON_IsObject(so) &&
	    (rc = prov_json_set(*body, "stream_options", so = cJSON_CreateObject())) != CP_OK)
		return rc;
	return prov_json_set(so, "include_usage", cJSON_CreateTrue());
}

const struct provider_ops prov_qwen_account = {
	.kind = "qwen-account",
	.format = FMT_OPENAI_CHAT,
	.also = FMT__COUNT,
	.family = CAT_QWEN,
	.oauth = true,
	.build = qa_build,
	.url = qa_url,
	.headers = prov_headers_account,
	.wrap = qa_wrap,
	.classify = prov_classify_common,
	.refresh = refresh_start,
};
