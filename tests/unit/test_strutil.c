/*
 * test_strutil.c - strict integers, constant-time compare, addresses,
 * UTF-8, suffixes, RFC 3339.
 *
 * Decisions pinned here: str_to_ll takes the canonical spelling only, as
 * Redis string2ll: "0" yes, "01" and "-0" no; never '+', never spaces.
 */
#include "config.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"

struct int_case {
	const char *s;
	long long min, max;
	int rc;
	long long want;
};

static void
test_str_to_ll(void **state)
{
	static const struct int_case cases[] = {
		{ "0", 0, 100, CP_OK, 0 },
		{ "7", 0, 100, CP_OK, 7 },
		{ "100", 0, 100, CP_OK, 100 },
		{ "101", 0, 100, CP_EINVAL, 0 },
		{ "", 0, 100, CP_EINVAL, 0 },
		{ " 1", 0, 100, CP_EINVAL, 0 },
		{ "1 ", 0, 100, CP_EINVAL, 0 },
		{ "+1", 0, 100, CP_EINVAL, 0 },
		{ "+1", -100, 100, CP_EINVAL, 0 },
		{ "-1", 0, 100, CP_EINVAL, 0 },
		{ "-1", -100, 100, CP_OK, -1 },
		{ "-0", -100, 100, CP_EINVAL, 0 },
		{ "-", -100, 100, CP_EINVAL, 0 },
		{ "01", 0, 100, CP_EINVAL, 0 },
		{ "00", 0, 100, CP_EINVAL, 0 },
		{ "1x", 0, 100, CP_EINVAL, 0 },
		{ "0x10", 0, 100, CP_EINVAL, 0 },
		{ "1.0", 0, 100, CP_EINVAL, 0 },
		{ "9223372036854775807", 0, LLONG_MAX, CP_OK, LLONG_MAX },
		{ "9223372036854775808", 0, LLONG_MAX, CP_EINVAL, 0 },
		{ "99999999999999999999", 0, LLONG_MAX, CP_EINVAL, 0 },
		{ "-9223372036854775808", LLONG_MIN, 0, CP_OK, LLONG_MIN },
		{ "-9223372036854775809", LLONG_MIN, 0, CP_EINVAL, 0 },
		{ "-5", -4, 4, CP_EINVAL, 0 },
		{ "8317", 1, 65535, CP_OK, 8317 },
		{ "65536", 1, 65535, CP_EINVAL, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long v = 12345;
		int rc = str_to_ll(cases[i].s, strlen(cases[i].s), cases[i].min,
		    cases[i].max, &v);

		if (rc != cases[i].rc)
			fail_msg("str_to_ll(\"%s\") = %d, want %d", cases[i].s, rc,
			    cases[i].rc);
		if (rc == CP_OK && v != cases[i].want)
			fail_msg("str_to_ll(\"%s\") -> %lld", cases[i].s, v);
	}
	/* The length is explicit: "12" out of "123" and an embedded NUL. */
	{
		long long v = 0;

		assert_int_equal(str_to_ll("123", 2, 0, 1000, &v), CP_OK);
		assert_int_equal(v, 12);
		assert_int_equal(str_to_ll("1\0" "2", 3, 0, 1000, &v), CP_EINVAL);
	}
}

/* Every canonical spelling of a number reads back as that number, and a
 * range one short of it refuses it. */
static void
test_str_to_ll_roundtrip(void **state)
{
	uint64_t x = 88172645463325252ull;
	char s[32];
	int i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		long long v, got = 0;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = (long long)x >> (i % 63);
		snprintf(s, sizeof(s), "%lld", v);
		assert_int_equal(str_to_ll(s, strlen(s), LLONG_MIN, LLONG_MAX, &got), CP_OK);
		assert_true(got == v);
		if (v > LLONG_MIN)
			assert_int_equal(str_to_ll(s, strlen(s), LLONG_MIN, v - 1, &got),
			    CP_EINVAL);
		if (v < LLONG_MAX)
			assert_int_equal(str_to_ll(s, strlen(s), v + 1, LLONG_MAX, &got),
			    CP_EINVAL);
	}
}

static void
test_ct_memeq(void **state)
{
	(void)state;
	assert_true(ct_memeq("abc", 3, "abc", 3));
	assert_false(ct_memeq("abc", 3, "abd", 3));
	assert_false(ct_memeq("abc", 3, "xbc", 3));
	assert_false(ct_memeq("abc", 3, "abcd", 4));
	assert_false(ct_memeq("abcd", 4, "abc", 3));
	assert_false(ct_memeq("abc", 3, "", 0));
	assert_false(ct_memeq("", 0, "abc", 3));
	assert_true(ct_memeq("", 0, "", 0));
	/* "abcabc" vs "abc": same bytes under the modulo walk, still unequal. */
	assert_false(ct_memeq("abcabc", 6, "abc", 3));
	assert_true(ct_streq("secret", "secret"));
	assert_false(ct_streq("secret", "secreT"));
	assert_false(ct_streq("secret", NULL));
}

static void
test_wipe(void **state)
{
	char b[16];

	(void)state;
	memset(b, 'x', sizeof(b));
	cp_wipe(b, sizeof(b));
	for (size_t i = 0; i < sizeof(b); i++)
		assert_int_equal(b[i], 0);
	cp_wipe(NULL, 0);
}

struct addr_case {
	const char *addr;
	bool loop;
};

static void
test_loopback(void **state)
{
	static const struct addr_case cases[] = {
		{ "127.0.0.1", true },
		{ "127.255.255.254", true },
		{ "127.1.2.3", true },
		{ "128.0.0.1", false },
		{ "126.255.255.255", false },
		{ "10.0.0.1", false },
		{ "0.0.0.0", false },
		{ "::1", true },
		{ "0:0:0:0:0:0:0:1", true },
		{ "::2", false },
		{ "::", false },
		{ "::ffff:127.0.0.1", true },
		{ "::ffff:127.9.9.9", true },
		{ "::ffff:10.0.0.1", false },
		{ "::127.0.0.1", false },
		{ "fe80::1", false },
		{ "", false },
		{ "localhost", false },
		{ "127.0.0.1 ", false },
		{ " 127.0.0.1", false },
		{ "127.0.0.1/8", false },
		{ "127.0.0", false },
		{ "127.0.0.1.", false },
		{ "[::1]", false },
		{ "::1%lo", false },
		{ "1::1::1", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (addr_is_loopback(cases[i].addr) != cases[i].loop)
			fail_msg("addr_is_loopback(\"%s\") != %d", cases[i].addr,
			    cases[i].loop);
	assert_false(addr_is_loopback(NULL));
}

struct cidr_case {
	const char *addr, *cidr;
	bool in;
};

static void
test_cidr(void **state)
{
	static const struct cidr_case cases[] = {
		{ "10.1.2.3", "10.0.0.0/8", true },
		{ "11.1.2.3", "10.0.0.0/8", false },
		{ "192.168.1.77", "192.168.1.64/26", true },
		{ "192.168.1.128", "192.168.1.64/26", false },
		{ "192.168.1.63", "192.168.1.64/26", false },
		{ "1.2.3.4", "0.0.0.0/0", true },
		{ "1.2.3.4", "1.2.3.4", true },
		{ "1.2.3.5", "1.2.3.4", false },
		{ "1.2.3.4", "1.2.3.4/32", true },
		{ "1.2.3.4", "1.2.3.4/33", false },
		{ "1.2.3.4", "1.2.3.4/-1", false },
		{ "1.2.3.4", "1.2.3.4/", false },
		{ "1.2.3.4", "1.2.3.4/08", false },
		{ "1.2.3.4", "1.2.3.4/8x", false },
		{ "::ffff:10.9.8.7", "10.0.0.0/8", true },
		{ "10.9.8.7", "::ffff:10.0.0.0/104", true },
		{ "10.9.8.7", "::ffff:0:0/96", true },
		{ "2001:db8::1", "2001:db8::/32", true },
		{ "2001:db9::1", "2001:db8::/32", false },
		{ "2001:db8:ffff::1", "2001:db8::/33", false },
		{ "2001:db8:7fff::1", "2001:db8::/33", true },
		{ "2001:db8::1", "::/0", true },
		{ "2001:db8::1", "2001:db8::1/128", true },
		{ "2001:db8::1", "2001:db8::1/129", false },
		{ "2001:db8::1", "10.0.0.0/8", false },
		{ "10.0.0.1", "2001:db8::/32", false },
		{ "garbage", "10.0.0.0/8", false },
		{ "10.0.0.1", "garbage/8", false },
		{ "10.0.0.1", "", false },
		{ "", "10.0.0.0/8", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (addr_in_cidr(cases[i].addr, cases[i].cidr) != cases[i].in)
			fail_msg("addr_in_cidr(\"%s\", \"%s\") != %d", cases[i].addr,
			    cases[i].cidr, cases[i].in);
}

struct utf8_case {
	const char *s;
	size_t len;
	bool ok;
};

#define U(s, ok) { s, sizeof(s) - 1, ok }

static void
test_utf8(void **state)
{
	static const struct utf8_case cases[] = {
		U("", true),
		U("plain ascii", true),
		U("caf\xc3\xa9", true),                 /* U+00E9 */
		U("\xe2\x82\xac", true),                /* U+20AC */
		U("\xf0\x9f\x98\x80", true),            /* U+1F600 */
		U("\xf4\x8f\xbf\xbf", true),            /* U+10FFFF */
		U("\xed\x9f\xbf", true),                /* U+D7FF */
		U("\xee\x80\x80", true),                /* U+E000 */
		U("\xc0\xaf", false),                   /* overlong '/' */
		U("\xc1\xbf", false),                   /* overlong */
		U("\xe0\x80\xaf", false),               /* overlong, 3 bytes */
		U("\xf0\x80\x80\xaf", false),           /* overlong, 4 bytes */
		U("\xed\xa0\x80", false),               /* U+D800 surrogate */
		U("\xed\xbf\xbf", false),               /* U+DFFF surrogate */
		U("\xf4\x90\x80\x80", false),           /* U+110000 */
		U("\xf5\x80\x80\x80", false),
		U("\xf8\x88\x80\x80\x80", false),       /* 5-byte form */
		U("\xc3", false),                       /* truncated */
		U("\xe2\x82", false),                   /* truncated */
		U("\xf0\x9f\x98", false),               /* truncated */
		U("a\x80" "b", false),                  /* lone continuation */
		U("\xc3\x28", false),                   /* bad continuation */
		U("\xff", false),
		U("\xfe", false),
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (utf8_valid(cases[i].s, cases[i].len) != cases[i].ok)
			fail_msg("utf8_valid case %zu != %d", i, cases[i].ok);
	/* An embedded NUL is valid UTF-8 (U+0000); the length rules. */
	assert_true(utf8_valid("a\0b", 3));
	/* The truncation is judged against len, not the C string. */
	assert_false(utf8_valid("\xc3\xa9", 1));
}

static void
test_suffix_dup(void **state)
{
	char *p;

	(void)state;
	assert_true(str_has_suffix_ci("a.JSON", ".json"));
	assert_true(str_has_suffix_ci("a.json", ".Json"));
	assert_false(str_has_suffix_ci("a.jsonx", ".json"));
	assert_false(str_has_suffix_ci("json", ".json"));
	assert_true(str_has_suffix_ci("x", ""));
	p = cp_strdup("hello");
	assert_non_null(p);
	assert_string_equal(p, "hello");
	free(p);
	p = cp_strndup("hello", 3);
	assert_string_equal(p, "hel");
	free(p);
	p = cp_strndup("hi", 10);
	assert_string_equal(p, "hi");
	free(p);
}

static void
test_rfc3339(void **state)
{
	char out[32];

	(void)state;
	fmt_rfc3339(0, out, sizeof(out));
	assert_string_equal(out, "1970-01-01T00:00:00Z");
	fmt_rfc3339((time_t)1756557296, out, sizeof(out));
	assert_string_equal(out, "2025-08-30T12:34:56Z");
	fmt_rfc3339((time_t)951782400, out, sizeof(out));  /* leap day 2000 */
	assert_string_equal(out, "2000-02-29T00:00:00Z");
	fmt_rfc3339((time_t)1756557296, out, 21);
	assert_string_equal(out, "2025-08-30T12:34:56Z");
	/* Too small: empty, never a cut-off date. */
	fmt_rfc3339((time_t)1756557296, out, 10);
	assert_string_equal(out, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_str_to_ll),
		cmocka_unit_test(test_str_to_ll_roundtrip),
		cmocka_unit_test(test_ct_memeq),
		cmocka_unit_test(test_wipe),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_suffix_dup),
		cmocka_unit_test(test_rfc3339),
	};

	return cmocka_run_group_tests_name("strutil", tests, NULL, NULL);
}
