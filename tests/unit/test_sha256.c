/*
 * test_sha256.c - FIPS 180-4 / NIST example vectors and incremental use.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"

static void
check_hex(const void *data, size_t len, const char *want)
{
	char hex[65];

	sha256_hex(data, len, hex);
	assert_string_equal(hex, want);
}

static void
test_vectors(void **state)
{
	(void)state;
	check_hex("", 0,
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_hex("abc", 3,
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	check_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
	    112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void
test_million_a(void **state)
{
	struct sha256_ctx c;
	uint8_t d[SHA256_LEN], d2[SHA256_LEN];
	char *a;
	char chunk[1000];
	int i;

	(void)state;
	a = malloc(1000000);
	assert_non_null(a);
	memset(a, 'a', 1000000);
	check_hex(a, 1000000,
	    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* The same through 1000-byte updates (not a multiple of 64). */
	memset(chunk, 'a', sizeof(chunk));
	sha256_init(&c);
	for (i = 0; i < 1000; i++)
		sha256_update(&c, chunk, sizeof(chunk));
	sha256_final(&c, d);
	sha256(a, 1000000, d2);
	assert_memory_equal(d, d2, SHA256_LEN);
	free(a);
}

/* Every split point around the 55/56/64-byte padding edges gives the
 * one-shot answer. */
static void
test_incremental(void **state)
{
	unsigned char msg[300];
	uint8_t want[SHA256_LEN], got[SHA256_LEN];
	struct sha256_ctx c;
	size_t len, cut, i;

	(void)state;
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 7 + 3);
	for (len = 0; len < 200; len += 1) {
		sha256(msg, len, want);
		for (cut = 0; cut <= len; cut += 13) {
			sha256_init(&c);
			sha256_update(&c, msg, cut);
			sha256_update(&c, msg + cut, 0);
			sha256_update(&c, msg + cut, len - cut);
			sha256_final(&c, got);
			assert_memory_equal(want, got, SHA256_LEN);
		}
		/* Byte at a time. */
		sha256_init(&c);
		for (i = 0; i < len; i++)
			sha256_update(&c, msg + i, 1);
		sha256_final(&c, got);
		assert_memory_equal(want, got, SHA256_LEN);
	}
	/* Distinct inputs, distinct digests (guards against a constant). */
	sha256(msg, 55, want);
	sha256(msg, 56, got);
	assert_memory_not_equal(want, got, SHA256_LEN);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_incremental),
	};

	return cmocka_run_group_tests_name("sha256", tests, NULL, NULL);
}
