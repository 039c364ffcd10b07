/*
 * test_proxyd_route.c - the daemon's route table (src/proxyd/route.c,
 * DESIGN 6 Endpoints): every endpoint, the Gemini model and action from
 * the path, 404 and 405 with Allow from the same table.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "proxyd.h"

static void
test_every_endpoint(void **state)
{
	static const struct {
		enum route_method m;
		const char *path;
		enum route_id id;
		enum fmt_id fmt;
		const char *model;
	} ok[] = {
		{ RM_GET, "/", RT_INFO, FMT_OPENAI_CHAT, "" },
		{ RM_GET, "/healthz", RT_HEALTHZ, FMT_OPENAI_CHAT, "" },
		{ RM_GET, "/v1/models", RT_MODELS, FMT_OPENAI_CHAT, "" },
		{ RM_POST, "/v1/chat/completions", RT_CHAT, FMT_OPENAI_CHAT, "" },
		{ RM_POST, "/v1/completions", RT_COMPLETIONS, FMT_OPENAI_COMPLETIONS, "" },
		{ RM_POST, "/v1/messages", RT_MESSAGES, FMT_CLAUDE, "" },
		{ RM_POST, "/v1/messages/count_tokens", RT_COUNT_TOKENS, FMT_CLAUDE, "" },
		{ RM_POST, "/v1/responses", RT_RESPONSES, FMT_OPENAI_RESPONSES, "" },
		{ RM_GET, "/v1beta/models", RT_GEMINI_MODELS, FMT_GEMINI, "" },
		{ RM_GET, "/v1beta/models/gemini-2.5-pro", RT_GEMINI_MODEL, FMT_GEMINI,
		  "gemini-2.5-pro" },
		{ RM_POST, "/v1beta/models/gemini-2.5-pro:generateContent", RT_GEMINI_GENERATE,
		  FMT_GEMINI, "gemini-2.5-pro" },
		{ RM_POST, "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
		  RT_GEMINI_STREAM, FMT_GEMINI, "gemini-2.5-flash" },
		{ RM_POST, "/v1beta/models/x_1.2@3:countTokens", RT_GEMINI_COUNT, FMT_GEMINI,
		  "x_1.2@3" },
	};
	size_t i, n;
	struct route_match m;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(route_match(ok[i].m, ok[i].path, &m), CP_OK);
		assert_non_null(m.r);
		assert_int_equal(m.r->id, ok[i].id);
		assert_int_equal(m.r->fmt, ok[i].fmt);
		assert_string_equal(m.model, ok[i].model);
	}
	/* Every route of the table is reachable and has its own id. */
	route_table(&n);
	assert_int_equal(n, RT__COUNT);
	assert_int_equal(sizeof(ok) / sizeof(ok[0]), RT__COUNT);
}

static void
test_misses(void **state)
{
	static const char *const nf[] = {
		"/v1/chat", "/v1/chat/completions/", "/v1beta/models/:generateContent",
		"/v1beta/models/a/b:generateContent", "/v1beta/models/a%2Fb:generateContent",
		"/v1beta/models/a:unknownAction", "/v1beta/models/a:generateContentX",
		"/v1/modelsx", "//v1/models", "/v1beta/models/a:b:generateContent",
	};
	struct route_match m;
	char longm[400];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(nf) / sizeof(nf[0]); i++) {
		assert_int_equal(route_match(RM_POST, nf[i], &m), CP_ENOTFOUND);
		assert_null(m.r);
	}
	/* A miss under /v1beta answers in Gemini's shape, /v1/messages in
	 * Claude's. */
	assert_int_equal(route_match(RM_POST, "/v1beta/nothing", &m), CP_ENOTFOUND);
	assert_int_equal(m.fmt, FMT_GEMINI);
	assert_int_equal(route_match(RM_POST, "/v1/messages/x", &m), CP_ENOTFOUND);
	assert_int_equal(m.fmt, FMT_CLAUDE);
	/* An over-long model never overflows: not found. */
	memset(longm, 'a', sizeof(longm));
	memcpy(longm, "/v1beta/models/", 15);
	memcpy(longm + sizeof(longm) - 17, ":generateContent", 17);
	assert_int_equal(route_match(RM_POST, longm, &m), CP_ENOTFOUND);
}

static void
test_allow(void **state)
{
	struct route_match m;

	(void)state;
	assert_int_equal(route_match(RM_POST, "/v1/models", &m), CP_EPERM);
	assert_string_equal(m.allow, "GET, HEAD");
	assert_int_equal(route_match(RM_GET, "/v1/chat/completions", &m), CP_EPERM);
	assert_string_equal(m.allow, "POST");
	assert_int_equal(route_match(RM_GET, "/v1beta/models/m:streamGenerateContent", &m),
	    CP_EPERM);
	assert_string_equal(m.allow, "POST");
	assert_int_equal(m.fmt, FMT_GEMINI);
	assert_int_equal(route_match(RM_POST, "/v1beta/models/m", &m), CP_EPERM);
	assert_string_equal(m.allow, "GET, HEAD");
	assert_int_equal(route_match((enum route_method)0, "/", &m), CP_EPERM);
	assert_string_equal(m.allow, "GET, HEAD");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_endpoint),
		cmocka_unit_test(test_misses),
		cmocka_unit_test(test_allow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
