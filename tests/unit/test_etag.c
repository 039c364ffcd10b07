/*
 * test_etag.c - entity tags (RFC 9110 8.8.3) and the If-Match /
 * If-None-Match checks of etag.c; the state-dir rule of config.c that
 * cliproxyd and the responder share (issue 13).
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

#define TAG "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""

static void
test_etag_of(void **state)
{
	char e[ETAG_LEN + 1];

	(void)state;
	etag_of("abc", 3, e, sizeof(e));
	assert_string_equal(e, TAG);
	assert_int_equal(strlen(e), ETAG_LEN);
}

static void
test_if_match(void **state)
{
	static const char *const yes[] = {
		TAG, " " TAG " ", "\"x\", " TAG, TAG ",\"y\"", ",," TAG ",", "*", " * ",
	};
	static const char *const no[] = {
		"W/" TAG, "\"x\"", "", "**", "* , " TAG, TAG " junk", TAG "x",
		"\"ba7816bf\"", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"\"x\" " TAG, "\"unterminated", "\"a\tb\", " TAG,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(etag_if_match(yes[i], TAG));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(etag_if_match(no[i], TAG));
	/* no resource: nothing matches, "*" neither */
	assert_false(etag_if_match("*", NULL));
	assert_false(etag_if_match(TAG, NULL));
	assert_false(etag_if_match(NULL, TAG));
}

static void
test_if_none_match(void **state)
{
	char big[ETAG_HEADER_MAX + 200];

	(void)state;
	/* the weak comparison: W/ counts */
	assert_true(etag_if_none_match("W/" TAG, TAG));
	assert_true(etag_if_none_match(TAG, TAG));
	assert_true(etag_if_none_match("*", TAG));
	assert_false(etag_if_none_match("\"other\"", TAG));
	assert_false(etag_if_none_match("W/", TAG));
	/* over the cap: treated as malformed, never a match */
	memset(big, ' ', sizeof(big));
	memcpy(big + sizeof(big) - 1 - ETAG_LEN, TAG, ETAG_LEN);
	big[sizeof(big) - 1] = '\0';
	assert_false(etag_if_none_match(big, TAG));
}

static void
test_state_dir_rule(void **state)
{
	struct cfg *c = NULL;
	char err[256], *d;

	(void)state;
	d = cfg_state_dir(NULL, "/srv/x/config.yaml");
	assert_string_equal(d, "/srv/x/state");
	free(d);
	d = cfg_state_dir(NULL, SYSCONFDIR "/cliproxy/config.yaml");
	assert_string_equal(d, LOCALSTATEDIR "/lib/cliproxy");
	free(d);
	d = cfg_state_dir(NULL, "config.yaml");
	assert_string_equal(d, "./state");
	free(d);
	assert_int_equal(cfg_parse("state-dir: run/st\n", 18, &c, err, sizeof(err)), CP_OK);
	d = cfg_state_dir(c, "/srv/x/config.yaml");
	assert_string_equal(d, "/srv/x/run/st");
	free(d);
	cfg_free(c);
	assert_int_equal(cfg_parse("state-dir: /var/st\n", 19, &c, err, sizeof(err)), CP_OK);
	d = cfg_state_dir(c, SYSCONFDIR "/cliproxy/config.yaml");
	assert_string_equal(d, "/var/st");
	free(d);
	cfg_free(c);
	/* an empty state-dir is the default */
	assert_int_equal(cfg_parse("state-dir: \"\"\n", 14, &c, err, sizeof(err)), CP_OK);
	d = cfg_state_dir(c, "/a/b.yaml");
	assert_string_equal(d, "/a/state");
	free(d);
	cfg_free(c);
	assert_int_equal(cfg_parse("state-dir: [1]\n", 15, &c, err, sizeof(err)), CP_EINVAL);
	assert_string_equal(err, "line 1: state-dir: must be a string");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_etag_of),
		cmocka_unit_test(test_if_match),
		cmocka_unit_test(test_if_none_match),
		cmocka_unit_test(test_state_dir_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
