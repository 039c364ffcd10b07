/*
 * test_proxyd_keypol.c - api-key-policy decisions (src/proxyd/keypol.c)
 * and the passthrough usage scanner (src/proxyd/usage_scan.c), issue 15.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proxyd.h"

static char *g_team[] = { "claude-*", "gemini-2.5-?lash", NULL };

static struct cfg_policy
item(const char *key, const char *name)
{
	struct cfg_policy p;

	memset(&p, 0, sizeof(p));
	p.api_key = (char *)key;
	p.name = (char *)name;
	return p;
}

static void
test_find_and_id(void **state)
{
	struct cfg c;
	struct cfg_policy pol[3];
	char sha[65], sha_up[80], id[USAGE_TEXT_MAX];

	(void)state;
	sha256_hex("k2", 2, sha);
	snprintf(sha_up, sizeof(sha_up), "sha256:%s", sha);
	for (char *p = sha_up + 7; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	pol[0] = item("k1", "one");
	pol[1] = item(sha_up, "");
	pol[2] = item("k3", "three");
	memset(&c, 0, sizeof(c));
	c.policy = pol;
	c.n_policy = 3;
	{
		char s1[65];

		sha256_hex("k1", 2, s1);
		assert_ptr_equal(keypol_find(&c, "k1", s1), &pol[0]);
	}
	assert_ptr_equal(keypol_find(&c, "k2", sha), &pol[1]);   /* by hash, any case */
	assert_null(keypol_find(&c, "k9", sha + 1));
	assert_null(keypol_find(&c, "k", "0"));
	keypol_key_id(&pol[0], sha, id, sizeof(id));
	assert_string_equal(id, "one");
	keypol_key_id(&pol[1], sha, id, sizeof(id));             /* no name: hash prefix */
	assert_int_equal(strlen(id), KEYPOL_ID_HEX);
	assert_memory_equal(id, sha, KEYPOL_ID_HEX);
	keypol_key_id(NULL, "", id, sizeof(id));
	assert_string_equal(id, KEYPOL_ID_LOCAL);
}

static void
test_decide(void **state)
{
	struct cfg_policy p = item("k", "n");
	struct keypol_state st;
	struct keypol_verdict v;
	time_t t0 = 1700000000;   /* 22:13:20 UTC */

	(void)state;
	memset(&st, 0, sizeof(st));
	keypol_decide(NULL, "anything", &st, t0, &v);
	assert_int_equal(v.status, 0);
	/* allow-list */
	p.models.v = g_team;
	p.models.n = 2;
	keypol_decide(&p, "claude-opus", &st, t0, &v);
	assert_int_equal(v.status, 0);
	keypol_decide(&p, "gemini-2.5-flash", &st, t0, &v);
	assert_int_equal(v.status, 0);
	keypol_decide(&p, "gemini-2.5-pro", &st, t0, &v);
	assert_int_equal(v.status, 403);
	keypol_decide(&p, "xclaude-opus", &st, t0, &v);
	assert_int_equal(v.status, 403);
	keypol_decide(&p, NULL, &st, t0, &v);                     /* model unknown yet */
	assert_int_equal(v.status, 0);
	/* disabled wins over everything */
	p.disabled = true;
	keypol_decide(&p, "claude-opus", NULL, t0, &v);
	assert_int_equal(v.status, 401);
	p.disabled = false;
	/* requests per minute: a sliding minute of one-second slots */
	p.max_rpm = 3;
	keypol_count_request(&st, t0);
	keypol_count_request(&st, t0 + 10);
	keypol_count_request(&st, t0 + 20);
	keypol_decide(&p, "claude-opus", &st, t0 + 30, &v);
	assert_int_equal(v.status, 429);
	assert_int_equal(v.retry_after, 30);                      /* t0 leaves at t0 + 60 */
	keypol_decide(&p, "claude-opus", &st, t0 + 60, &v);
	assert_int_equal(v.status, 0);
	keypol_decide(&p, "claude-opus", &st, t0 + 200, &v);    /* every slot stale */
	assert_int_equal(v.status, 0);
	/* tokens per UTC day */
	p.max_rpm = 0;
	p.max_tpd = 100;
	keypol_count_tokens(&st, t0, 60);
	keypol_decide(&p, "claude-opus", &st, t0, &v);
	assert_int_equal(v.status, 0);
	keypol_count_tokens(&st, t0, 40);
	assert_int_equal(keypol_tokens_today(&st, t0), 100);
	keypol_decide(&p, "claude-opus", &st, t0, &v);
	assert_int_equal(v.status, 429);
	assert_int_equal(v.retry_after, 86400 - (t0 % 86400));  /* until 00:00 UTC */
	keypol_count_tokens(&st, t0 - 86400, 1000);               /* yesterday: ignored */
	assert_int_equal(keypol_tokens_today(&st, t0), 100);
	keypol_decide(&p, "claude-opus", &st, t0 + 86400 - t0 % 86400, &v);
	assert_int_equal(v.status, 0);                            /* a new day */
}

/* Feed text in pieces of n bytes. */
static bool
scan(enum fmt_id f, const char *text, size_t n, struct pv_usage *u)
{
	struct usage_scan s;
	size_t len = strlen(text);
	bool have;

	usage_scan_init(&s, f);
	for (size_t i = 0; i < len; i += n)
		usage_scan_feed(&s, text + i, len - i < n ? len - i : n);
	have = usage_scan_result(&s, u);
	usage_scan_release(&s);
	return have;
}

static void
test_scan(void **state)
{
	static const char chat[] = "{\"id\":\"x\",\"choices\":[{\"message\":{\"content\":"
	    "\"say \\\"usage\\\": {\\\"prompt_tokens\\\":999}\"}}],\"usage\" : {\"prompt_tokens\":7,"
	    "\"completion_tokens\":4,\"prompt_tokens_details\":{\"cached_tokens\":2},"
	    "\"completion_tokens_details\":{\"reasoning_tokens\":1}}}";
	static const char claude_sse[] = "event: message_start\ndata: {\"type\":\"message_start\","
	    "\"message\":{\"usage\":{\"input_tokens\":3,\"cache_read_input_tokens\":5,"
	    "\"output_tokens\":1}}}\n\nevent: content_block_delta\ndata: {\"delta\":{\"text\":"
	    "\"usage\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":"
	    "{\"output_tokens\":9}}\n\n";
	static const char gemini[] = "[{\"candidates\":[],\"usageMetadata\":{\"promptTokenCount\":"
	    "4,\"candidatesTokenCount\":2,\"thoughtsTokenCount\":3}},\n{\"usageMetadata\":"
	    "{\"promptTokenCount\":4,\"candidatesTokenCount\":6,\"thoughtsTokenCount\":3,"
	    "\"cachedContentTokenCount\":1}}]";
	static const char resp[] = "event: response.created\ndata: {\"response\":{\"usage\":null}}"
	    "\n\nevent: response.completed\ndata: {\"response\":{\"usage\":{\"input_tokens\":11,"
	    "\"output_tokens\":12,\"output_tokens_details\":{\"reasoning_tokens\":5}}}}\n\n";
	struct pv_usage u;

	(void)state;
	for (size_t n = 1; n <= sizeof(chat); n += (n < 20 ? 1 : 37)) {
		assert_true(scan(FMT_OPENAI_CHAT, chat, n, &u));
		assert_int_equal(u.input, 7);
		assert_int_equal(u.output, 4);
		assert_int_equal(u.cached, 2);
		assert_int_equal(u.reasoning, 1);
		assert_true(scan(FMT_CLAUDE, claude_sse, n, &u));
		assert_int_equal(u.input, 8);    /* input + cache reads, as the decoder says */
		assert_int_equal(u.cached, 5);
		assert_int_equal(u.output, 9);   /* the last count wins */
		assert_true(scan(FMT_GEMINI, gemini, n, &u));
		assert_int_equal(u.input, 4);
		assert_int_equal(u.output, 9);   /* candidates + thoughts */
		assert_int_equal(u.reasoning, 3);
		assert_int_equal(u.cached, 1);
		assert_true(scan(FMT_OPENAI_RESPONSES, resp, n, &u));
		assert_int_equal(u.input, 11);
		assert_int_equal(u.output, 12);
		assert_int_equal(u.reasoning, 5);
	}
	/* Gemini's member is usageMetadata: "usage" alone is not it, and
	 * other formats do not take usageMetadata */
	assert_false(scan(FMT_GEMINI, "{\"usage\":{\"promptTokenCount\":1}}", 3, &u));
	assert_false(scan(FMT_OPENAI_CHAT, "{\"usageMetadata\":{\"prompt_tokens\":1}}", 3, &u));
	assert_false(scan(FMT_OPENAI_CHAT, "{\"x\":\"no usage here\"}", 5, &u));
	/* an object past the cap is given up, not half read */
	{
		char big[USAGE_SCAN_CAP + 200];
		int n = snprintf(big, sizeof(big), "{\"usage\":{\"pad\":\"");

		memset(big + n, 'a', USAGE_SCAN_CAP);
		snprintf(big + n + USAGE_SCAN_CAP, sizeof(big) - (size_t)n - USAGE_SCAN_CAP,
		    "\",\"prompt_tokens\":5}}");
		assert_false(scan(FMT_OPENAI_CHAT, big, 1000, &u));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find_and_id),
		cmocka_unit_test(test_decide),
		cmocka_unit_test(test_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
