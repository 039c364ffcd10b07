/*
 * clientauth.c - who the client is and which key it presented (DESIGN 6
 * "Client address", "Client keys"). One rule for "what is a credential"
 * drives both the key lookup here and the masking in reqlog.c, so a form
 * the lookup accepts can never reach a log unmasked (issue 10 item 3).
 *
 * Every function here works on parsed headers and the raw query, not on an
 * evhttp request, so the connection gate of server.c (which runs before
 * evhttp has read the body) and the request handler use the same code.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "proxyd.h"

/* Headers that carry a client credential, in lookup order (DESIGN 6).
 * bearer: the value is "Bearer <key>". Proxy-Authorization, Cookie and
 * X-Management-Key are never looked up but are secrets all the same. */
static const struct {
	const char *name;
	bool bearer;   /* value is "Bearer <key>" */
	bool lookup;   /* a client key may come from here */
} ca_headers[] = {
	{ "Authorization", true, true },
	{ "X-Api-Key", false, true },
	{ "X-Goog-Api-Key", false, true },
	{ "Proxy-Authorization", false, false },
	{ "Cookie", false, false },
	{ "X-Management-Key", false, false },
};

/* The query parameter of a key, compared without regard to case: the
 * lookup and the masking both use this. */
#define CA_KEY_PARAM "key"

bool
ca_secret_header(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(ca_headers) / sizeof(ca_headers[0]); i++)
		if (strcasecmp(name, ca_headers[i].name) == 0)
			return true;
	return false;
}

bool
ca_secret_param(const char *name, size_t len)
{
	char *raw, *dec;
	size_t dl = 0;
	bool yes;

	/* The name as evhttp_parse_query_str would read it: "%4Bey" is "Key". */
	if (memchr(name, '%', len) == NULL && memchr(name, '+', len) == NULL)
		return len == strlen(CA_KEY_PARAM) && strncasecmp(name, CA_KEY_PARAM, len) == 0;
	if ((raw = strndup(name, len)) == NULL)
		return true; /* unsure: treat it as a secret */
	dec = evhttp_uridecode(raw, 1, &dl);
	yes = dec == NULL || (dl == strlen(CA_KEY_PARAM) && strncasecmp(dec, CA_KEY_PARAM, dl) == 0);
	free(dec);
	free(raw);
	return yes;
}

/* Copy a key of len bytes to out. A key must be non-empty, fit, and hold
 * no NUL (a decoded "K%00junk" must not become "K"). */
static int
ca_take(const char *v, size_t len, char *out, size_t outlen)
{
	if (len == 0 || len >= outlen || memchr(v, '\0', len) != NULL)
		return CA_KEY_BAD;
	memcpy(out, v, len);
	out[len] = '\0';
	return CA_KEY_FOUND;
}

/* The ?key= parameter (any case) of a raw query. More than one is
 * ambiguous: refused. */
static int
ca_query_key(const char *q, char *out, size_t outlen)
{
	const char *p = q;
	int rc = CA_KEY_NONE;

	while (p != NULL && *p != '\0') {
		const char *amp = strchr(p, '&');
		size_t seg = amp != NULL ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', seg);
		size_t nlen = eq != NULL ? (size_t)(eq - p) : seg;

		if (ca_secret_param(p, nlen)) {
			char *raw = NULL, *dec = NULL;
			size_t vlen = eq != NULL ? seg - nlen - 1 : 0, dlen = 0;

			if (rc != CA_KEY_NONE)
				return CA_KEY_BAD;
			if ((raw = malloc(vlen + 1)) == NULL)
				return CA_KEY_BAD;
			memcpy(raw, eq != NULL ? eq + 1 : p + seg, vlen);
			raw[vlen] = '\0';
			/* As evhttp_parse_query_str decodes: '+' is a space. */
			dec = evhttp_uridecode(raw, 1, &dlen);
			rc = dec != NULL ? ca_take(dec, dlen, out, outlen) : CA_KEY_BAD;
			if (dec != NULL)
				cp_wipe(dec, dlen);
			cp_wipe(raw, vlen);
			free(dec);
			free(raw);
			if (rc == CA_KEY_BAD)
				return rc;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	return rc;
}

int
ca_client_key(const struct evkeyvalq *h, const char *query, char *out, size_t outlen)
{
	const struct evkeyval *kv;
	size_t i;

	for (i = 0; i < sizeof(ca_headers) / sizeof(ca_headers[0]); i++) {
		const char *v = NULL;
		size_t seen = 0;

		if (!ca_headers[i].lookup)
			continue;
		TAILQ_FOREACH(kv, h, next) {
			if (strcasecmp(kv->key, ca_headers[i].name) != 0)
				continue;
			v = kv->value;
			seen++;
		}
		if (seen == 0)
			continue;
		/* Two of one credential header: which one counts would depend
		 * on the reader. */
		if (seen > 1)
			return CA_KEY_BAD;
		if (ca_headers[i].bearer) {
			if (strncasecmp(v, "Bearer ", 7) != 0)
				continue;
			v += 7;
			while (*v == ' ')
				v++;
		}
		return ca_take(v, strlen(v), out, outlen);
	}
	return query != NULL ? ca_query_key(query, out, outlen) : CA_KEY_NONE;
}

/* Constant-time check against every configured key: no early exit, so the
 * time does not tell which one (or whether any) matched. */
static bool
ca_key_ok(const struct cfg *c, const char *key)
{
	bool ok = false;
	size_t i;

	for (i = 0; i < c->api_keys.n; i++)
		ok |= ct_streq(key, c->api_keys.v[i]);
	return ok;
}

/* trusted-proxies has one definition: the config's list, whose default
 * (loopback) config.c fills. An explicit empty list trusts nobody. */
static bool
ca_trusted(const struct cfg *c, const char *addr)
{
	size_t i;

	for (i = 0; i < c->trusted_proxies.n; i++)
		if (addr_in_cidr(addr, c->trusted_proxies.v[i]))
			return true;
	return false;
}

static void
ca_trim(const char **s, size_t *len)
{
	while (*len > 0 && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
		(*len)--;
}

/* DESIGN 6: the peer, or when the peer is a trusted proxy, the right-most
 * X-Forwarded-For entry that is not itself trusted. Every way the walk can
 * stop short of an untrusted address (header too long, too many entries,
 * an empty or malformed entry, two headers) leaves the address unknown
 * (""), which is never loopback (issue 10 item 1). */
void
ca_client_address(const struct evkeyvalq *h, const char *peer, const struct cfg *c,
    char *out, size_t outlen)
{
	const struct evkeyval *kv;
	const char *xff = NULL, *end;
	size_t n = 0, seen = 0;

	snprintf(out, outlen, "%s", peer);
	if (!ca_trusted(c, out))
		return;
	TAILQ_FOREACH(kv, h, next) {
		if (strcasecmp(kv->key, "X-Forwarded-For") == 0) {
			xff = kv->value;
			seen++;
		}
	}
	if (seen == 0)
		return;
	out[0] = '\0';
	if (seen > 1 || strlen(xff) > PXD_XFF_MAX)
		return;
	end = xff + strlen(xff);
	while (end > xff) {
		const char *start = end;
		const char *s;
		size_t len;
		char cand[64];
		unsigned char bin[16];

		if (++n > PXD_XFF_ENTRIES_MAX)
			return;
		while (start > xff && start[-1] != ',')
			start--;
		s = start;
		len = (size_t)(end - start);
		ca_trim(&s, &len);
		if (len == 0 || len >= sizeof(cand))
			return;
		memcpy(cand, s, len);
		cand[len] = '\0';
		if (inet_pton(AF_INET, cand, bin) != 1 && inet_pton(AF_INET6, cand, bin) != 1)
			return;
		if (!ca_trusted(c, cand)) {
			snprintf(out, outlen, "%s", cand);
			return;
		}
		end = start > xff ? start - 1 : xff;
	}
	/* Every entry was a trusted proxy: the left-most one is the client
	 * (a local client through local proxies stays local). */
	{
		const char *s = xff;
		size_t len = strcspn(xff, ",");

		ca_trim(&s, &len);
		if (len > 0 && len < outlen) {
			memcpy(out, s, len);
			out[len] = '\0';
		}
	}
}

bool
ca_identify(const struct evkeyvalq *h, const char *query, const struct cfg *c,
    const char *client, struct client_id *who)
{
	char key[PXD_KEY_MAX + 1];
	bool ok = false;

	if (ca_client_key(h, query, key, sizeof(key)) == CA_KEY_FOUND)
		ok = ca_key_ok(c, key);
	if (who != NULL) {
		/* issue 15: a valid key is known by its SHA-256 and its
		 * api-key-policy item; anything else is a local client */
		memset(who, 0, sizeof(*who));
		if (ok) {
			sha256_hex(key, strlen(key), who->sha);
			who->pol = keypol_find(c, key, who->sha);
		}
		keypol_key_id(who->pol, who->sha, who->key_id, sizeof(who->key_id));
	}
	cp_wipe(key, sizeof(key));
	if (ok)
		return true;
	/* DESIGN 6: stricter than the original; an empty list admits nobody
	 * except loopback clients under allow-localhost-unauthenticated. An
	 * unknown address ("") is never loopback. */
	return c->allow_localhost_unauth && client[0] != '\0' && addr_is_loopback(client);
}

bool
ca_authorized(const struct evkeyvalq *h, const char *query, const struct cfg *c,
    const char *client)
{
	return ca_identify(h, query, c, client, NULL);
}
