/*
 * test_proxyd_policy.c - the pure decisions on upstream answers
 * (src/proxyd/policy.c, PROVIDERS.md 5) and the hints they read.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "proxyd.h"

static struct pol_out
decide(long status, long hint, bool missing, bool oauth, bool refreshed, bool sw,
    long retries)
{
	struct pol_in in = { status, hint, missing, oauth, refreshed, sw, retries };
	struct pol_out out;

	policy_decide(&in, &out);
	return out;
}

/* One row per line of the PROVIDERS.md 5 table. */
static void
test_table(void **state)
{
	struct pol_out o;

	(void)state;
	o = decide(200, -1, false, false, false, true, 0);
	assert_int_equal(o.action, POL_OK);
	assert_int_equal(o.cooldown_s, 0);
	/* 429: the hint, else 30 min; next for free with switch-project. */
	o = decide(429, 17, false, false, false, true, 0);
	assert_int_equal(o.action, POL_NEXT);
	assert_false(o.spend_retry);
	assert_int_equal(o.cooldown_s, 17);
	o = decide(429, -1, false, false, false, true, 0);
	assert_int_equal(o.cooldown_s, 30 * 60);
	o = decide(429, -1, false, false, false, false, 5);
	assert_int_equal(o.action, POL_PASS);
	assert_int_equal(o.cooldown_s, 30 * 60);
	o = decide(429, 10 * 24 * 3600, false, false, false, true, 0);
	assert_int_equal(o.cooldown_s, POL_HINT_MAX_S);
	/* 401 account: refresh once; the second 401 cools it down. */
	o = decide(401, -1, false, true, false, true, 0);
	assert_int_equal(o.action, POL_REFRESH);
	assert_int_equal(o.cooldown_s, 0);
	o = decide(401, -1, false, true, true, true, 1);
	assert_int_equal(o.action, POL_NEXT);
	assert_true(o.spend_retry);
	assert_int_equal(o.cooldown_s, 30 * 60);
	/* 401/403 key, 402: 30 min, next spending a retry, else pass. */
	for (long s = 401; s <= 403; s++) {
		o = decide(s, -1, false, false, false, true, 1);
		assert_int_equal(o.action, POL_NEXT);
		assert_true(o.spend_retry);
		assert_int_equal(o.cooldown_s, 30 * 60);
		o = decide(s, -1, false, false, false, true, 0);
		assert_int_equal(o.action, POL_PASS);
		assert_int_equal(o.cooldown_s, 30 * 60);
	}
	/* 404 model not found: 12 h, next (free); another 404: passed. */
	o = decide(404, -1, true, false, false, true, 0);
	assert_int_equal(o.action, POL_NEXT);
	assert_false(o.spend_retry);
	assert_int_equal(o.cooldown_s, 12 * 3600);
	o = decide(404, -1, false, false, false, true, 3);
	assert_int_equal(o.action, POL_PASS);
	assert_int_equal(o.cooldown_s, 0);
	/* 408, 5xx, transport: 1 min, next spending a retry. */
	{
		const long st[] = { 0, 408, 500, 502, 503, 504, 529 };

		for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
			o = decide(st[i], -1, false, false, false, true, 2);
			assert_int_equal(o.action, POL_NEXT);
			assert_true(o.spend_retry);
			assert_int_equal(o.cooldown_s, 60);
			o = decide(st[i], -1, false, false, false, true, 0);
			assert_int_equal(o.action, POL_PASS);
			assert_int_equal(o.cooldown_s, 60);
		}
	}
	/* 400 and other client errors: passed, nothing cools. */
	{
		const long st[] = { 400, 405, 409, 413, 422, 301 };

		for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
			o = decide(st[i], 99, true, true, false, true, 9);
			assert_int_equal(o.action, POL_PASS);
			assert_int_equal(o.cooldown_s, 0);
		}
	}
}

static void
test_retry_after(void **state)
{
	time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

	(void)state;
	assert_int_equal(policy_retry_after(" 60\r\n", 5, now), 60);
	assert_int_equal(policy_retry_after("0", 1, now), 0);
	assert_int_equal(policy_retry_after("99999999", 8, now), POL_HINT_MAX_S);
	assert_int_equal(policy_retry_after("-5", 2, now), -1);
	assert_int_equal(policy_retry_after("1.5", 3, now), -1);
	assert_int_equal(policy_retry_after("", 0, now), -1);
	assert_int_equal(policy_retry_after("soon", 4, now), -1);
	assert_int_equal(policy_retry_after("Sun, 06 Nov 1994 08:50:37 GMT", 29, now), 60);
	assert_int_equal(policy_retry_after("Sun, 06 Nov 1994 08:40:00 GMT", 29, now), 0);
	assert_int_equal(policy_retry_after("Sun, 06 Nov 1994 08:50:37 GMTx", 30, now), -1);
}

static void
test_gemini_retry_delay(void **state)
{
	const char *b1 = "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\","
	    "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.QuotaFailure\"},"
	    "{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"37s\"}]}}";
	const char *b2 = "{\"error\":{\"details\":[{\"@type\":"
	    "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"1.2s\"}]}}";
	const char *b3 = "{\"error\":{\"details\":[{\"@type\":"
	    "\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"12\"}]}}";
	const char *b4 = "{\"error\":{\"details\":{\"retryDelay\":\"5s\"}}}";

	(void)state;
	assert_int_equal(policy_gemini_retry_delay(b1, strlen(b1)), 37);
	assert_int_equal(policy_gemini_retry_delay(b2, strlen(b2)), 2);
	assert_int_equal(policy_gemini_retry_delay(b3, strlen(b3)), -1);
	assert_int_equal(policy_gemini_retry_delay(b4, strlen(b4)), -1);
	assert_int_equal(policy_gemini_retry_delay("not json", 8), -1);
	assert_int_equal(policy_gemini_retry_delay(NULL, 0), -1);
}

static void
test_codex_resets(void **state)
{
	const char *b1 = "{\"error\":{\"type\":\"usage_limit_reached\",\"resets_in_seconds\":1234}}";
	const char *b2 = "{\"resets_in_seconds\":5.5}";
	const char *b3 = "{\"error\":{\"resets_in_seconds\":\"5\"}}";
	const char *b4 = "{\"error\":{\"resets_in_seconds\":-3}}";

	(void)state;
	assert_int_equal(policy_codex_resets(b1, strlen(b1)), 1234);
	assert_int_equal(policy_codex_resets(b2, strlen(b2)), 6);
	assert_int_equal(policy_codex_resets(b3, strlen(b3)), -1);
	assert_int_equal(policy_codex_resets(b4, strlen(b4)), -1);
}

static void
test_model_missing(void **state)
{
	const char *oa = "{\"error\":{\"message\":\"The model `x` does not exist\","
	    "\"type\":\"invalid_request_error\",\"code\":\"model_not_found\"}}";
	const char *gm = "{\"error\":{\"code\":404,\"message\":\"models/x is not found for API "
	    "version v1beta\",\"status\":\"NOT_FOUND\"}}";
	const char *cl = "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\","
	    "\"message\":\"model: x\"}}";
	const char *other = "{\"error\":{\"type\":\"not_found_error\",\"message\":\"file gone\"}}";

	(void)state;
	assert_true(policy_body_model_missing(oa, strlen(oa)));
	assert_true(policy_body_model_missing(gm, strlen(gm)));
	assert_true(policy_body_model_missing(cl, strlen(cl)));
	assert_false(policy_body_model_missing(other, strlen(other)));
	assert_false(policy_body_model_missing("<html>", 6));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_gemini_retry_delay),
		cmocka_unit_test(test_codex_resets),
		cmocka_unit_test(test_model_missing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
