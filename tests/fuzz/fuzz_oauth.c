/*
 * fuzz_oauth.c - the OAuth parsers of untrusted input (PROVIDERS.md 4):
 * a pasted or redirected callback URL, a token endpoint's answer per kind
 * (Codex id_token claims included), an expiry string. The first byte picks
 * the parser; invariants: a parsed callback has a non-empty code, a parsed
 * answer an access token, and an RFC 6749 refusal never echoes more than
 * a short code word.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	struct oauth_callback cb;
	struct oauth_tokens t;
	char *s, err[256];
	time_t when;
	int rc;

	if (len < 1)
		return 0;
	if ((s = malloc(len)) == NULL)
		return 0;
	memcpy(s, data + 1, len - 1);
	s[len - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		if (oauth_parse_callback(s, &cb) == CP_OK && cb.code[0] == '\0')
			abort();
		break;
	case 1:
	case 2:
		rc = oauth_parse_tokens(oauth_provider((enum oauth_kind)(data[0] / 4 % OAUTH_KIND_N)),
		    (const char *)data + 1, len - 1, &t, err, sizeof(err));
		if (rc == CP_OK && t.access_token == NULL)
			abort();
		if (t.error != NULL && strlen(t.error) > 65)
			abort();
		oauth_tokens_release(&t);
		break;
	default:
		(void)oauth_parse_time(s, &when);
		break;
	}
	free(s);
	return 0;
}
