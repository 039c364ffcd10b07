/*
 * etag.c - entity tags of config and auth files (RFC 9110 8.8.3) and the
 * two conditional-request checks the management API makes (RFC 9110
 * 13.1.1 If-Match, 13.1.2 If-None-Match). One strong validator per
 * content: '"' + sha256 hex of the bytes + '"', so every responder process
 * computes the same tag for the same file without sharing anything.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "core.h"

void
etag_of_sha(const char sha[65], char *out, size_t outlen)
{
	snprintf(out, outlen, "\"%s\"", sha);
}

void
etag_of(const void *data, size_t len, char *out, size_t outlen)
{
	char sha[65];

	sha256_hex(data, len, sha);
	etag_of_sha(sha, out, outlen);
}

static const char *
skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * Walk a list of entity tags (RFC 9110 8.8.3: entity-tag = [ "W/" ]
 * DQUOTE *etagc DQUOTE, "#" list with optional whitespace and empty
 * elements) and say whether one equals etag; weak tags count only when
 * weak_ok (If-None-Match uses the weak comparison, If-Match the strong
 * one). "*" alone matches any existing resource. A malformed header
 * matches nothing: the client gets the safe answer (412 on a change, a
 * full body on a read).
 */
static bool
etag_list_has(const char *header, const char *etag, bool weak_ok)
{
	const char *p;
	size_t elen;
	bool hit = false;

	if (header == NULL || strlen(header) > ETAG_HEADER_MAX)
		return false;
	p = skip_ows(header);
	if (*p == '*') {
		if (*skip_ows(p + 1) != '\0')
			return false;
		return etag != NULL;
	}
	if (etag == NULL)
		return false;
	elen = strlen(etag);
	for (;;) {
		const char *start;
		bool weak = false;

		p = skip_ows(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\0')
			break;
		if (p[0] == 'W' && p[1] == '/') {
			weak = true;
			p += 2;
		}
		if (*p != '"')
			return false;
		start = p++;
		/* etagc = %x21 / %x23-7E / obs-text */
		while (*p != '"') {
			unsigned char c = (unsigned char)*p;

			if (c == '\0' || c < 0x21 || c == 0x7F)
				return false;
			p++;
		}
		p++;
		if ((!weak || weak_ok) && (size_t)(p - start) == elen &&
		    memcmp(start, etag, elen) == 0)
			hit = true;
		p = skip_ows(p);
		if (*p != ',' && *p != '\0')
			return false;
	}
	return hit;
}

bool
etag_if_match(const char *header, const char *etag)
{
	return etag_list_has(header, etag, false);
}

bool
etag_if_none_match(const char *header, const char *etag)
{
	return etag_list_has(header, etag, true);
}
