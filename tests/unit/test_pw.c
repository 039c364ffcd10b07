/*
 * test_pw.c - bcrypt hashing and the verified-key memo (DESIGN 5).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core.h"

static char hash_a[PW_HASH_MAX];  /* bcrypt of "key-a" */
static char hash_b[PW_HASH_MAX];  /* bcrypt of "key-b" */

static int
group_setup(void **state)
{
	(void)state;
	if (pw_hash("key-a", hash_a, sizeof(hash_a)) != CP_OK)
		return -1;
	if (pw_hash("key-b", hash_b, sizeof(hash_b)) != CP_OK)
		return -1;
	return 0;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_hash_verify(void **state)
{
	char again[PW_HASH_MAX], small[20];

	(void)state;
	assert_int_equal(strncmp(hash_a, "$2b$10$", 7), 0);
	assert_int_equal(strlen(hash_a), 60);
	assert_true(pw_is_hash(hash_a));
	assert_true(pw_verify("key-a", hash_a));
	assert_false(pw_verify("key-b", hash_a));
	assert_false(pw_verify("key-", hash_a));
	assert_false(pw_verify("", hash_a));
	assert_false(pw_verify("key-a", "key-a"));   /* plaintext is no hash */
	assert_false(pw_verify(NULL, hash_a));
	/* A fresh salt every time. */
	assert_int_equal(pw_hash("key-a", again, sizeof(again)), CP_OK);
	assert_string_not_equal(again, hash_a);
	assert_true(pw_verify("key-a", again));
	/* Too small an output buffer. */
	assert_int_equal(pw_hash("key-a", small, sizeof(small)), CP_ETOOBIG);
}

/* Issue 10 item 8: bcrypt reads 72 bytes. A key of 72 bytes is fine; a
 * longer one is refused by pw_hash, and a presented key that shares the
 * first 72 bytes of the real one must not match (it did: crypt_rn cut it). */
static void
test_key_over_72_bytes(void **state)
{
	char k72[PW_KEY_MAX + 1], k73[PW_KEY_MAX + 2], h[PW_HASH_MAX];
	struct pw_memo m;

	(void)state;
	memset(k72, 'k', PW_KEY_MAX);
	k72[PW_KEY_MAX] = '\0';
	memcpy(k73, k72, PW_KEY_MAX);
	k73[PW_KEY_MAX] = 'x';
	k73[PW_KEY_MAX + 1] = '\0';
	assert_int_equal(PW_KEY_MAX, 72);
	assert_int_equal(pw_hash(k72, h, sizeof(h)), CP_OK);
	assert_true(pw_verify(k72, h));
	assert_false(pw_verify(k73, h));
	pw_memo_init(&m);
	assert_false(pw_check(&m, k73, h));
	assert_true(pw_check(&m, k72, h));
	assert_false(pw_check(&m, k73, h));     /* the memo does not help it */
	assert_int_equal(pw_hash(k73, h, sizeof(h)), CP_ETOOBIG);
}

static void
test_is_hash(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} cases[] = {
		{ "$2b$10$abcdefghijklmnopqrstuuQ0vVPKXb5xKSoNbbNTlkJGWpfVkh.Lu", true },
		{ "$2a$10$abcdefghijklmnopqrstuuQ0vVPKXb5xKSoNbbNTlkJGWpfVkh.Lu", true },
		{ "$2y$12$abcdefghijklmnopqrstuuQ0vVPKXb5xKSoNbbNTlkJGWpfVkh.Lu", true },
		{ "$2x$10$abcdefghijklmnopqrstuuQ0vVPKXb5xKSoNbbNTlkJGWpfVkh.Lu", false },
		{ "$2b$03$abcdefghijklmnopqrstuuQ0vVPKXb5xKSoNbbNTlkJGWpfVkh.Lu", false },
		{ "$2b$32$abcdefghijklmnopqrstuuQ0vVPKXb5xKSoNbbNTlkJGWpfVkh.Lu", false },
		{ "$2b$1$abcdefghijklmnopqrstuuQ0vVPKXb5xKSoNbbNTlkJGWpfVkh.Lu", false },
		{ "$2b$10$abcdefghijklmnopqrstuuQ0vVPKXb5xKSoNbbNTlkJGWpfVkh.L", false },
		{ "$2b$10$abcdefghijklmnopqrstuuQ0vVPKXb5xKSoNbbNTlkJGWpfVkh.Luu", false },
		{ "$2b$10$abcdefghijklmnopqrstuuQ0vVPKXb5xKSoNbbNTlkJGWpfVkh.L!", false },
		{ "$6$salt$hash", false },
		{ "plaintext-key", false },
		{ "", false },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (pw_is_hash(cases[i].s) != cases[i].ok)
			fail_msg("pw_is_hash case %zu != %d", i, cases[i].ok);
	assert_false(pw_is_hash(NULL));
}

static void
test_memo(void **state)
{
	struct pw_memo m;
	double t0, full, fast;

	(void)state;
	pw_memo_init(&m);
	assert_false(m.valid);
	/* A wrong key never sets the memo. */
	assert_false(pw_check(&m, "key-b", hash_a));
	assert_false(m.valid);
	/* First success: full bcrypt, then remembered. */
	t0 = now_s();
	assert_true(pw_check(&m, "key-a", hash_a));
	full = now_s() - t0;
	assert_true(m.valid);
	assert_string_equal(m.hash, hash_a);
	/* Same key again: the fast path, much cheaper than bcrypt. */
	t0 = now_s();
	assert_true(pw_check(&m, "key-a", hash_a));
	fast = now_s() - t0;
	assert_true(fast * 4 < full);
	/* A wrong key still pays full bcrypt and fails; the memo stays. */
	t0 = now_s();
	assert_false(pw_check(&m, "key-x", hash_a));
	assert_true((now_s() - t0) * 10 > full);
	assert_true(m.valid);
	assert_true(pw_check(&m, "key-a", hash_a));
	/* A changed hash drops the memo: key-a is wrong for hash_b. */
	assert_false(pw_check(&m, "key-a", hash_b));
	assert_false(m.valid);
	assert_true(pw_check(&m, "key-b", hash_b));
	assert_true(m.valid);
	assert_string_equal(m.hash, hash_b);
	assert_false(pw_check(&m, "key-a", hash_b));
	/* Not a hash at all: refused, whatever the memo holds. */
	assert_false(pw_check(&m, "key-b", "key-b"));
	/* NULL memo: plain verification. */
	assert_true(pw_check(NULL, "key-a", hash_a));
	assert_false(pw_check(NULL, "key-b", hash_a));
}

static void
test_memo_disabled(void **state)
{
	struct pw_memo m;
	double t0, dt;

	(void)state;
	pw_memo_init(&m);
	m.disabled = true;
	assert_true(pw_check(&m, "key-a", hash_a));
	assert_false(m.valid);   /* nothing remembered */
	t0 = now_s();
	assert_true(pw_check(&m, "key-a", hash_a));
	dt = now_s() - t0;
	/* Cost 10 bcrypt is milliseconds, the digest compare microseconds. */
	assert_true(dt > 0.002);
	assert_false(pw_check(&m, "key-b", hash_a));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_verify),
		cmocka_unit_test(test_key_over_72_bytes),
		cmocka_unit_test(test_is_hash),
		cmocka_unit_test(test_memo),
		cmocka_unit_test(test_memo_disabled),
	};

	return cmocka_run_group_tests_name("pw", tests, group_setup, NULL);
}
