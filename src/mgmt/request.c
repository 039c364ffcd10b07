/*
 * request.c - what a request says: method, routed path, query parameters,
 * body (DESIGN 5 "Request/response rules", deployment facts).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mgmt.h"

static const struct {
	const char *name;          /* REQUEST_METHOD */
	enum mgmt_method m;        /* its bit */
} methods[] = {
	{ "GET", MGMT_GET }, { "PUT", MGMT_PUT }, { "PATCH", MGMT_PATCH },
	{ "POST", MGMT_POST }, { "DELETE", MGMT_DELETE }, { "OPTIONS", MGMT_OPTIONS },
};

const char *
req_env(const struct mgmt_req *rq, const char *name)
{
	return rq->io->getenv(rq->io->ctx, name);
}

/* Route on SCRIPT_NAME + PATH_INFO (lighttpd and Apache split at the
 * mapped prefix; nginx or a cgi-bin install may not), falling back on
 * REQUEST_URI without its query. The part after MGMT_PREFIX is routed;
 * without the prefix anywhere, PATH_INFO is. */
static void
set_path(struct mgmt_req *rq)
{
	const char *sn = req_env(rq, "SCRIPT_NAME");
	const char *pi = req_env(rq, "PATH_INFO");
	const char *ru = req_env(rq, "REQUEST_URI");
	char full[MGMT_PATH_MAX * 2];
	const size_t plen = sizeof(MGMT_PREFIX) - 1;
	const char *p, *hit = NULL;
	int n;

	rq->path_ok = false;
	n = snprintf(full, sizeof(full), "%s%s", sn != NULL ? sn : "", pi != NULL ? pi : "");
	if (n < 0 || (size_t)n >= sizeof(full))
		return;
	if (full[0] == '\0' && ru != NULL) {
		size_t l = strcspn(ru, "?");

		if (l >= sizeof(full))
			return;
		memcpy(full, ru, l);
		full[l] = '\0';
	}
	for (p = strstr(full, MGMT_PREFIX); p != NULL; p = strstr(p + 1, MGMT_PREFIX)) {
		if (p[plen] == '\0' || p[plen] == '/') {
			hit = p + plen;
			break;
		}
	}
	if (hit == NULL)
		hit = pi != NULL ? pi : full;
	if (strlen(hit) >= sizeof(rq->path))
		return;
	snprintf(rq->path, sizeof(rq->path), "%s", hit);
	rq->path_ok = true;
}

void
req_init(struct mgmt_req *rq, const struct mgmt_io *io, struct mgmt_state *st)
{
	const char *m, *q, *ra;

	memset(rq, 0, sizeof(*rq));
	rq->io = io;
	rq->st = st;
	rq->method = MGMT_OTHER;
	m = req_env(rq, "REQUEST_METHOD");
	for (size_t i = 0; m != NULL && i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i].name) == 0)
			rq->method = methods[i].m;
	/* HEAD is GET without the body (RFC 9110 9.3.2): same access rules,
	 * same status and headers (issue 10: it was 405 without HEAD in
	 * Allow). */
	if (m != NULL && strcmp(m, "HEAD") == 0) {
		rq->method = MGMT_GET;
		rq->head = true;
	}
	q = req_env(rq, "QUERY_STRING");
	rq->query = q != NULL ? q : "";
	ra = req_env(rq, "REMOTE_ADDR");
	rq->remote_addr = ra != NULL ? ra : "";
	set_path(rq);
}

void
req_release(struct mgmt_req *rq)
{
	free(rq->body);
	rq->body = NULL;
	rq->body_len = 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
req_pct_decode(const char *s, size_t len, char *out, size_t outlen, size_t *used)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return CP_EINVAL; /* "%" or "%4" at the end */
			hi = hexval(s[i + 1]);
			lo = hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return CP_EINVAL;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (o + 1 >= outlen)
			return CP_ETOOBIG;
		out[o++] = c;
	}
	if (outlen == 0)
		return CP_ETOOBIG;
	out[o] = '\0';
	*used = o;
	return CP_OK;
}

int
req_query(const struct mgmt_req *rq, const char *name, char *out, size_t outlen, size_t *len)
{
	const char *q = rq->query;
	size_t qlen = strnlen(q, MGMT_QUERY_MAX + 1);
	size_t i = 0;

	if (qlen > MGMT_QUERY_MAX)
		return CP_ETOOBIG;
	while (i < qlen) {
		size_t end = i, eq;
		char key[MGMT_QVALUE_MAX];
		size_t klen;

		while (end < qlen && q[end] != '&')
			end++;
		eq = i;
		while (eq < end && q[eq] != '=')
			eq++;
		if (req_pct_decode(q + i, eq - i, key, sizeof(key), &klen) == CP_OK &&
		    klen == strlen(name) && memcmp(key, name, klen) == 0) {
			if (eq == end) {  /* "?name" without '=' is an empty value */
				if (outlen == 0)
					return CP_ETOOBIG;
				out[0] = '\0';
				*len = 0;
				return CP_OK;
			}
			return req_pct_decode(q + eq + 1, end - eq - 1, out, outlen, len);
		}
		i = end + 1;
	}
	return CP_ENOTFOUND;
}

const char *
req_query_problem(const struct mgmt_req *rq)
{
	const char *q = rq->query;
	size_t qlen = strnlen(q, MGMT_QUERY_MAX + 1);
	size_t ks[MGMT_QPARAMS_MAX], kl[MGMT_QPARAMS_MAX], n = 0, i = 0, j;
	char a[MGMT_QVALUE_MAX], b[MGMT_QVALUE_MAX];
	size_t al, bl;

	if (qlen > MGMT_QUERY_MAX)
		return "query string too long";
	while (i < qlen) {
		size_t end = i, eq;

		while (end < qlen && q[end] != '&')
			end++;
		eq = i;
		while (eq < end && q[eq] != '=')
			eq++;
		if (eq > i) {  /* "a&&b" or "=x" name nothing */
			if (n == MGMT_QPARAMS_MAX)
				return "too many query parameters";
			ks[n] = i;
			kl[n] = eq - i;
			n++;
		}
		i = end + 1;
	}
	/* Names compare decoded: "name" and "n%61me" are one parameter. */
	for (i = 0; i < n; i++) {
		if (req_pct_decode(q + ks[i], kl[i], a, sizeof(a), &al) != CP_OK)
			continue;  /* a handler that looks for it says why */
		for (j = i + 1; j < n; j++)
			if (req_pct_decode(q + ks[j], kl[j], b, sizeof(b), &bl) == CP_OK &&
			    al == bl && memcmp(a, b, al) == 0)
				return "repeated query parameter";
	}
	return NULL;
}

int
req_parse_index(const char *s, size_t len, long long *out)
{
	/* DESIGN 5: decimal integers written exactly; "01" is not exact. */
	if (len == 0 || len > 18)
		return CP_EINVAL;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return CP_EINVAL;
	if (len > 1 && s[0] == '0')
		return CP_EINVAL;
	return str_to_ll(s, len, 0, 999999999999999999LL, out);
}

/* Read and throw away what is left of the body so the web server can
 * deliver our 413 instead of failing on a half-read request. */
static void
drain(struct mgmt_req *rq)
{
	char tmp[16384];
	size_t total = 0;

	while (total < MGMT_DRAIN_MAX) {
		long n = rq->io->read(rq->io->ctx, tmp, sizeof(tmp));

		if (n <= 0)
			break;
		total += (size_t)n;
	}
}

int
req_read_body(struct mgmt_req *rq)
{
	return req_read_body_max(rq, CP_BODY_MAX);
}

int
req_read_body_max(struct mgmt_req *rq, size_t max)
{
	const char *cl = req_env(rq, "CONTENT_LENGTH");
	long long want = -1;
	struct buf b;
	char tmp[16384];
	int rc = CP_OK;

	if (rq->body_read)
		return rq->body != NULL ? CP_OK : CP_EINVAL;
	rq->body_read = true;
	buf_init(&b, max);
	/* RFC 3875 4.1.2: CONTENT_LENGTH is a decimal integer; an empty or
	 * absent one means "read to the end" with our cap. */
	if (cl != NULL && cl[0] != '\0') {
		if (str_to_ll(cl, strlen(cl), 0, 0x7fffffffffffffffLL, &want) != CP_OK) {
			rc = CP_EINVAL;
			goto out;
		}
		if (want > (long long)max) {
			drain(rq);
			rc = CP_ETOOBIG;
			goto out;
		}
	}
	for (;;) {
		size_t ask = sizeof(tmp);
		long n;

		if (want >= 0) {
			if (b.len >= (size_t)want)
				break;
			if ((size_t)want - b.len < ask)
				ask = (size_t)want - b.len;
		}
		n = rq->io->read(rq->io->ctx, tmp, ask);
		if (n < 0) {
			rc = CP_EIO;
			goto out;
		}
		if (n == 0) {
			if (want >= 0)
				rc = CP_EINVAL; /* shorter than announced */
			break;
		}
		rc = buf_append(&b, tmp, (size_t)n);
		if (rc != CP_OK) {
			if (rc == CP_ETOOBIG)
				drain(rq);
			goto out;
		}
	}
	if (rc != CP_OK)
		goto out;
	if (b.p == NULL && buf_append(&b, "", 0) != CP_OK) {
		rc = CP_ENOMEM;
		goto out;
	}
	rq->body = buf_steal(&b, &rq->body_len);
	if (rq->body == NULL) {
		/* an empty body may leave p NULL: keep a valid empty string */
		rq->body = calloc(1, 1);
		rq->body_len = 0;
		if (rq->body == NULL)
			rc = CP_ENOMEM;
	}
out:
	buf_release(&b);
	return rc;
}

int
req_json(struct mgmt_req *rq, struct mgmt_resp *rs, cJSON **out)
{
	int rc = req_read_body(rq);

	*out = NULL;
	if (rc == CP_ETOOBIG) {
		resp_cp_error(rs, CP_ETOOBIG, "request body too large");
		return rc;
	}
	if (rc != CP_OK) {
		resp_cp_error(rs, CP_EINVAL, "invalid body");
		return rc;
	}
	/* DESIGN 5: one complete value, UTF-8, nothing after it */
	rc = json_parse_strict(rq->body, rq->body_len, out);
	if (rc != CP_OK) {
		*out = NULL;
		resp_cp_error(rs, CP_EINVAL, "invalid body");
	}
	return rc;
}
