/*
 * strutil.c - small string helpers for untrusted input (STYLE.md "Untrusted
 * input"): strict integers, constant-time compares, address checks, UTF-8.
 */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"

#define ADDR_TEXT_MAX 64 /* longest textual address we look at (with /n) */

int
str_to_ll(const char *s, size_t len, long long min, long long max, long long *out)
{
	unsigned long long acc = 0, lim;
	bool neg = false;
	size_t i = 0;

	if (s == NULL || len == 0 || min > max)
		return CP_EINVAL;
	if (s[0] == '-') {
		if (min >= 0)
			return CP_EINVAL;
		neg = true;
		i = 1;
	}
	if (i == len)
		return CP_EINVAL;
	/* Canonical spelling only (Redis string2ll): "0" but not "01" or "-0". */
	if (s[i] == '0' && (len - i > 1 || neg))
		return CP_EINVAL;
	/* Magnitude limit: |LLONG_MIN| for negatives, LLONG_MAX otherwise. */
	lim = neg ? (unsigned long long)LLONG_MAX + 1ull : (unsigned long long)LLONG_MAX;
	for (; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return CP_EINVAL;
		d = (unsigned)(s[i] - '0');
		if (acc > (lim - d) / 10)
			return CP_EINVAL;
		acc = acc * 10 + d;
	}
	{
		long long v;

		if (neg)
			v = acc == (unsigned long long)LLONG_MAX + 1ull ? LLONG_MIN :
			    -(long long)acc;
		else
			v = (long long)acc;
		if (v < min || v > max)
			return CP_EINVAL;
		if (out != NULL)
			*out = v;
	}
	return CP_OK;
}

bool
ct_memeq(const void *a, size_t alen, const void *b, size_t blen)
{
	const volatile unsigned char *pa = a, *pb = b;
	unsigned char diff = 0;
	size_t i;

	/* Walk a's length whatever b's is, so the time depends only on the
	 * lengths (lighttpd ck_memeq_const_time). */
	if (blen == 0)
		pb = pa;  /* nothing to read from b; the lengths decide */
	for (i = 0; i < alen; i++)
		diff |= (unsigned char)(pa[i] ^ pb[blen ? i % blen : i]);
	return diff == 0 && alen == blen;
}

bool
ct_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return false;
	return ct_memeq(a, strlen(a), b, strlen(b));
}

void
cp_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		explicit_bzero(p, len);
}

/* Parse a textual address into 16 bytes (IPv4 as ::ffff:a.b.c.d); *v4 says
 * it was written as IPv4. */
static bool
addr_parse(const char *s, size_t len, unsigned char out[16], bool *v4)
{
	char tmp[ADDR_TEXT_MAX];
	struct in_addr a4;

	if (len == 0 || len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (inet_pton(AF_INET, tmp, &a4) == 1) {
		memset(out, 0, 10);
		out[10] = 0xff;
		out[11] = 0xff;
		memcpy(out + 12, &a4, 4);
		*v4 = true;
		return true;
	}
	if (inet_pton(AF_INET6, tmp, out) == 1) {
		*v4 = false;
		return true;
	}
	return false;
}

static bool
addr_prefix_eq(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned full = bits / 8, rem = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rem == 0)
		return true;
	return ((a[full] ^ b[full]) & (unsigned char)(0xff << (8 - rem))) == 0;
}

bool
addr_in_cidr(const char *addr, const char *cidr)
{
	unsigned char a[16], net[16];
	bool av4, nv4;
	const char *slash;
	long long bits;
	size_t nlen;

	if (addr == NULL || cidr == NULL)
		return false;
	if (!addr_parse(addr, strlen(addr), a, &av4))
		return false;
	slash = strchr(cidr, '/');
	nlen = slash ? (size_t)(slash - cidr) : strlen(cidr);
	if (!addr_parse(cidr, nlen, net, &nv4))
		return false;
	if (slash == NULL) {
		bits = 128;
	} else {
		if (str_to_ll(slash + 1, strlen(slash + 1), 0, nv4 ? 32 : 128, &bits) != CP_OK)
			return false;
		/* An IPv4 prefix counts inside the v4-mapped block ::ffff:0:0/96,
		 * so "127.0.0.0/8" also matches "::ffff:127.0.0.1". */
		if (nv4)
			bits += 96;
	}
	return addr_prefix_eq(a, net, (unsigned)bits);
}

bool
addr_is_loopback(const char *addr)
{
	/* DESIGN 5 access control step 3. */
	return addr_in_cidr(addr, "127.0.0.0/8") || addr_in_cidr(addr, "::1");
}

bool
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned c = p[i];
		size_t n;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return false;
		}
		if (len - i - 1 < n)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

bool
str_has_suffix_ci(const char *s, const char *suffix)
{
	size_t ls, lx;

	if (s == NULL || suffix == NULL)
		return false;
	ls = strlen(s);
	lx = strlen(suffix);
	return lx <= ls && strcasecmp(s + ls - lx, suffix) == 0;
}

char *
cp_strdup(const char *s)
{
	return cp_strndup(s, strlen(s));
}

char *
cp_strndup(const char *s, size_t n)
{
	size_t l = strnlen(s, n);
	char *p = malloc(l + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, l);
	p[l] = '\0';
	return p;
}

long long
cp_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
fmt_rfc3339(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (out == NULL || outlen == 0)
		return;
	out[0] = '\0';
	if (gmtime_r(&t, &tm) == NULL)
		return;
	if (strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}
