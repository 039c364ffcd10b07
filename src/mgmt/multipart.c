/*
 * multipart.c - a bounded multipart/form-data parser for auth-file uploads
 * (spec "Auth Files Management": multipart form, field "file"; DESIGN 5).
 * The body is hostile: every scan is bounded by the body length, the
 * header block of a part by MP_HEADER_MAX and the number of parts by
 * MP_PARTS_MAX; nothing is copied except the two parameters we need.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mgmt.h"

static void
set_err(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/* RFC 2046 5.1.1 bchars, plus the characters browsers and curl use. */
static bool
bchar_ok(unsigned char c)
{
	return isalnum(c) || strchr("'()+_,-./:=? ", c) != NULL;
}

/* Value of parameter pname in a header value "type; a=b; c="d"" into out.
 * CP_ENOTFOUND if absent, CP_ETOOBIG past outlen, CP_EINVAL if malformed,
 * CP_EEXIST if given twice (two boundaries or two file names: which one
 * would the sender mean?). */
static int
header_param(const char *v, size_t vlen, const char *pname, char *out, size_t outlen)
{
	size_t i = 0, plen = strlen(pname);
	bool found = false;

	/* skip the first token (the type or "form-data") */
	while (i < vlen && v[i] != ';')
		i++;
	while (i < vlen) {
		size_t ns, ne, o = 0;
		bool match;

		i++; /* the ';' */
		while (i < vlen && (v[i] == ' ' || v[i] == '\t'))
			i++;
		ns = i;
		while (i < vlen && v[i] != '=' && v[i] != ';')
			i++;
		ne = i;
		while (ne > ns && (v[ne - 1] == ' ' || v[ne - 1] == '\t'))
			ne--;
		if (i >= vlen || v[i] == ';')
			continue; /* a parameter without a value */
		i++; /* '=' */
		while (i < vlen && (v[i] == ' ' || v[i] == '\t'))
			i++;
		match = ne - ns == plen && strncasecmp(v + ns, pname, plen) == 0;
		if (match && found)
			return CP_EEXIST;
		if (i < vlen && v[i] == '"') {
			i++;
			for (;;) {
				char c;

				if (i >= vlen)
					return CP_EINVAL; /* unterminated quote */
				c = v[i++];
				if (c == '"')
					break;
				if (c == '\\' && i < vlen)
					c = v[i++];
				if ((unsigned char)c < 0x20 || c == 0x7f)
					return CP_EINVAL; /* NUL, CR, LF never in a name */
				if (match) {
					if (o + 1 >= outlen)
						return CP_ETOOBIG;
					out[o++] = c;
				}
			}
			while (i < vlen && v[i] != ';')
				i++;
		} else {
			while (i < vlen && v[i] != ';' && v[i] != ' ' && v[i] != '\t') {
				if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
					return CP_EINVAL;
				if (match) {
					if (o + 1 >= outlen)
						return CP_ETOOBIG;
					out[o++] = v[i];
				}
				i++;
			}
			while (i < vlen && v[i] != ';')
				i++;
		}
		if (match) {
			out[o] = '\0';
			found = true;
		}
	}
	return found ? CP_OK : CP_ENOTFOUND;
}

int
mp_boundary(const char *content_type, char *out, size_t outlen)
{
	static const char type[] = "multipart/form-data";
	size_t vlen, blen;
	int rc;

	if (content_type == NULL || outlen < MP_BOUNDARY_MAX + 1)
		return CP_EINVAL;
	while (*content_type == ' ' || *content_type == '\t')
		content_type++;
	if (strncasecmp(content_type, type, sizeof(type) - 1) != 0)
		return CP_EINVAL;
	{
		char c = content_type[sizeof(type) - 1];

		if (c != '\0' && c != ';' && c != ' ' && c != '\t')
			return CP_EINVAL;
	}
	vlen = strlen(content_type);
	rc = header_param(content_type, vlen, "boundary", out, MP_BOUNDARY_MAX + 1);
	if (rc == CP_EEXIST)
		return CP_EEXIST;
	if (rc != CP_OK)
		return CP_EINVAL;
	blen = strlen(out);
	if (blen == 0 || blen > MP_BOUNDARY_MAX || out[blen - 1] == ' ')
		return CP_EINVAL;
	for (size_t i = 0; i < blen; i++)
		if (!bchar_ok((unsigned char)out[i]))
			return CP_EINVAL;
	return CP_OK;
}

/* Find needle in hay[0..hlen). */
static const char *
find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	return memmem(hay, hlen, needle, nlen);
}

/* Parse the header block h[0..hlen) (lines ending in CRLF) of one part. */
static int
part_headers(const char *h, size_t hlen, struct mp_part *p, char *err, size_t errlen)
{
	static const char cd[] = "content-disposition";
	size_t i = 0;
	bool seen = false;

	while (i < hlen) {
		const char *eol = find(h + i, hlen - i, "\r\n", 2);
		size_t llen = eol != NULL ? (size_t)(eol - (h + i)) : hlen - i;
		const char *line = h + i;
		const char *colon = memchr(line, ':', llen);

		i += llen + (eol != NULL ? 2 : 0);
		if (llen == 0)
			continue;
		if (colon == NULL) {
			set_err(err, errlen, "malformed multipart part header");
			return CP_EINVAL;
		}
		if ((size_t)(colon - line) == sizeof(cd) - 1 &&
		    strncasecmp(line, cd, sizeof(cd) - 1) == 0) {
			const char *v = colon + 1;
			size_t vlen = llen - (size_t)(v - line);
			int rc;

			while (vlen > 0 && (*v == ' ' || *v == '\t')) {
				v++;
				vlen--;
			}
			if (vlen < 9 || strncasecmp(v, "form-data", 9) != 0) {
				set_err(err, errlen, "multipart part is not form-data");
				return CP_EINVAL;
			}
			rc = header_param(v, vlen, "name", p->name, sizeof(p->name));
			if (rc == CP_ETOOBIG) {
				set_err(err, errlen, "multipart field name too long");
				return CP_ETOOBIG;
			}
			if (rc == CP_EEXIST) {
				set_err(err, errlen, "multipart part with two field names");
				return CP_EINVAL;
			}
			if (rc != CP_OK) {
				set_err(err, errlen, "multipart part without a field name");
				return CP_EINVAL;
			}
			rc = header_param(v, vlen, "filename", p->filename, sizeof(p->filename));
			if (rc == CP_ETOOBIG) {
				set_err(err, errlen, "multipart file name too long");
				return CP_ETOOBIG;
			}
			if (rc == CP_EINVAL || rc == CP_EEXIST) {
				set_err(err, errlen, rc == CP_EEXIST ? "multipart part with two file names" :
				    "malformed multipart file name");
				return CP_EINVAL;
			}
			p->has_filename = rc == CP_OK;
			seen = true;
		}
	}
	if (!seen) {
		set_err(err, errlen, "multipart part without Content-Disposition");
		return CP_EINVAL;
	}
	return CP_OK;
}

int
mp_parse(const char *body, size_t len, const char *boundary, struct mp_part *parts,
    size_t maxparts, size_t *nparts, char *err, size_t errlen)
{
	char delim[MP_BOUNDARY_MAX + 5]; /* "\r\n--" + boundary */
	size_t dlen, blen, pos;
	const char *d;

	*nparts = 0;
	blen = boundary != NULL ? strlen(boundary) : 0;
	if (blen == 0 || blen > MP_BOUNDARY_MAX) {
		set_err(err, errlen, "missing multipart boundary");
		return CP_EINVAL;
	}
	dlen = (size_t)snprintf(delim, sizeof(delim), "\r\n--%s", boundary);

	/* The first delimiter may start the body (no preamble) or follow a
	 * preamble line (RFC 2046 5.1.1). */
	if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
		pos = dlen - 2;
	} else {
		d = find(body, len, delim, dlen);
		if (d == NULL) {
			set_err(err, errlen, "multipart boundary not found in body");
			return CP_EINVAL;
		}
		pos = (size_t)(d - body) + dlen;
	}

	for (;;) {
		struct mp_part *p;
		const char *hend, *dnext;
		size_t hstart, dstart;
		int rc;

		/* after a delimiter: "--" closes, else optional padding + CRLF */
		if (len - pos >= 2 && body[pos] == '-' && body[pos + 1] == '-')
			break;
		while (pos < len && (body[pos] == ' ' || body[pos] == '\t'))
			pos++;
		if (len - pos < 2 || body[pos] != '\r' || body[pos + 1] != '\n') {
			set_err(err, errlen, "truncated multipart body");
			return CP_EINVAL;
		}
		pos += 2;
		if (*nparts >= maxparts || *nparts >= MP_PARTS_MAX) {
			set_err(err, errlen, "too many multipart parts");
			return CP_ETOOBIG;
		}
		p = &parts[*nparts];
		memset(p, 0, sizeof(*p));

		/* headers end at the first empty line, within MP_HEADER_MAX */
		hstart = pos;
		if (len - pos >= 2 && body[pos] == '\r' && body[pos + 1] == '\n') {
			hend = body + pos;  /* no headers at all */
			dstart = pos + 2;
		} else {
			size_t span = len - pos;

			if (span > MP_HEADER_MAX + 4)
				span = MP_HEADER_MAX + 4;
			hend = find(body + pos, span, "\r\n\r\n", 4);
			if (hend == NULL) {
				if (len - pos > MP_HEADER_MAX) {
					set_err(err, errlen, "multipart part headers too large");
					return CP_ETOOBIG;
				}
				set_err(err, errlen, "truncated multipart part headers");
				return CP_EINVAL;
			}
			dstart = (size_t)(hend - body) + 4;
		}
		rc = part_headers(body + hstart, (size_t)(hend - (body + hstart)), p, err, errlen);
		if (rc != CP_OK)
			return rc;

		dnext = find(body + dstart, len - dstart, delim, dlen);
		if (dnext == NULL) {
			set_err(err, errlen, "truncated multipart part");
			return CP_EINVAL;
		}
		p->data = body + dstart;
		p->len = (size_t)(dnext - (body + dstart));
		(*nparts)++;
		pos = (size_t)(dnext - body) + dlen;
	}
	if (*nparts == 0) {
		set_err(err, errlen, "empty multipart body");
		return CP_EINVAL;
	}
	return CP_OK;
}

const char *
mp_basename(const char *filename)
{
	const char *b = filename;

	for (const char *s = filename; *s != '\0'; s++)
		if (*s == '/' || *s == '\\')
			b = s + 1;
	return b;
}
