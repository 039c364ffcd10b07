/*
 * pw.c - bcrypt for the management key (DESIGN 5) through libxcrypt, and
 * the per-process memo of the last verified key.
 */
#include "config.h"

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define PW_PREFIX "$2b$"   /* bcrypt, the variant we write (DESIGN 5) */
#define PW_COST 10          /* about 50 ms a check (DESIGN 5) */
#define PW_BCRYPT_LEN 60    /* "$2b$10$" + 22 salt + 31 hash characters */

int
pw_hash(const char *plain, char *out, size_t outlen)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = NULL;
	const char *h;
	int rc = CP_EIO;

	if (plain == NULL || out == NULL || outlen == 0)
		return CP_EINVAL;
	out[0] = '\0';
	if (strlen(plain) > PW_KEY_MAX)
		return CP_ETOOBIG;
	/* NULL random bytes: libxcrypt reads them from the OS. */
	if (crypt_gensalt_rn(PW_PREFIX, PW_COST, NULL, 0, salt, sizeof(salt)) == NULL)
		goto out;
	/* struct crypt_data is ~32 KiB: heap, not stack. */
	if ((cd = calloc(1, sizeof(*cd))) == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	h = crypt_rn(plain, salt, cd, (int)sizeof(*cd));
	if (h == NULL || h[0] == '*')
		goto out;
	if (strlen(h) >= outlen) {
		rc = CP_ETOOBIG;
		goto out;
	}
	memcpy(out, h, strlen(h) + 1);
	rc = CP_OK;
out:
	if (cd != NULL) {
		/* crypt_data holds key material (STYLE.md: wipe bcrypt buffers). */
		cp_wipe(cd, sizeof(*cd));
		free(cd);
	}
	cp_wipe(salt, sizeof(salt));
	return rc;
}

bool
pw_verify(const char *plain, const char *hash)
{
	struct crypt_data *cd;
	const char *h;
	bool ok = false;

	/* bcrypt stops at 72 bytes: a longer key would match on its prefix
	 * (issue 10 item 8). pw_check goes through here before it remembers
	 * a key, so the memo never holds one either. */
	if (plain == NULL || !pw_is_hash(hash) || strlen(plain) > PW_KEY_MAX)
		return false;
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return false;
	h = crypt_rn(plain, hash, cd, (int)sizeof(*cd));
	if (h != NULL && h[0] != '*')
		ok = ct_streq(h, hash);
	cp_wipe(cd, sizeof(*cd));
	free(cd);
	return ok;
}

static bool
pw_b64(char c)
{
	return c == '.' || c == '/' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9');
}

bool
pw_is_hash(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != PW_BCRYPT_LEN)
		return false;
	if (s[0] != '$' || s[1] != '2' || (s[2] != 'a' && s[2] != 'b' && s[2] != 'y') ||
	    s[3] != '$')
		return false;
	/* Cost: two digits, 04..31 (bcrypt's range). */
	if (s[4] < '0' || s[4] > '3' || s[5] < '0' || s[5] > '9' || s[6] != '$')
		return false;
	if ((s[4] - '0') * 10 + (s[5] - '0') < 4 || (s[4] - '0') * 10 + (s[5] - '0') > 31)
		return false;
	for (i = 7; i < PW_BCRYPT_LEN; i++)
		if (!pw_b64(s[i]))
			return false;
	return true;
}

void
pw_memo_init(struct pw_memo *m)
{
	cp_wipe(m, sizeof(*m));
	m->valid = false;
	m->disabled = false;
}

static void
pw_memo_forget(struct pw_memo *m)
{
	bool disabled = m->disabled;

	cp_wipe(m, sizeof(*m));
	m->valid = false;
	m->disabled = disabled;
}

bool
pw_check(struct pw_memo *m, const char *plain, const char *hash)
{
	uint8_t d[SHA256_LEN];
	bool ok = false;

	if (plain == NULL || !pw_is_hash(hash))
		return false;
	if (m == NULL || m->disabled)
		return pw_verify(plain, hash);
	sha256(plain, strlen(plain), d);
	if (m->valid && strcmp(m->hash, hash) != 0)
		pw_memo_forget(m);  /* the key changed: DESIGN 5 */
	if (m->valid && ct_memeq(d, sizeof(d), m->digest, sizeof(m->digest))) {
		ok = true;
		goto out;
	}
	/* Anything but the remembered key pays a full bcrypt (DESIGN 5). */
	if (!pw_verify(plain, hash))
		goto out;
	snprintf(m->hash, sizeof(m->hash), "%s", hash);
	memcpy(m->digest, d, sizeof(d));
	m->valid = true;
	ok = true;
out:
	cp_wipe(d, sizeof(d));
	return ok;
}
