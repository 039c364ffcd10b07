/*
 * test_proxyd_sse.c - the bounded incremental SSE parser (src/proxyd/sse.c).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxyd.h"

struct got {
	int n;
	char data[8][256];
	char event[8][64];
	char id[8][64];
};

static int
collect(const struct sse_event *ev, void *arg)
{
	struct got *g = arg;

	if (g->n < 8) {
		snprintf(g->data[g->n], sizeof(g->data[0]), "%.*s", (int)ev->data_len, ev->data);
		snprintf(g->event[g->n], sizeof(g->event[0]), "%s", ev->event);
		snprintf(g->id[g->n], sizeof(g->id[0]), "%s", ev->id);
	}
	g->n++;
	return CP_OK;
}

static void
feed_split(const char *s, size_t step, struct got *g)
{
	struct sse_parser p;
	size_t i, len = strlen(s);

	sse_init(&p);
	for (i = 0; i < len; i += step) {
		size_t n = len - i < step ? len - i : step;

		assert_int_equal(sse_feed(&p, s + i, n, collect, g), CP_OK);
	}
	sse_release(&p);
}

static void
test_basic(void **state)
{
	const char *s = "data: {\"a\":1}\n\n: comment\n\nevent: ping\ndata: x\ndata:y\nid: 7\n\n"
	    "data: [DONE]\n\n";
	size_t step;

	(void)state;
	/* Every way of splitting the input gives the same events. */
	for (step = 1; step <= strlen(s); step++) {
		struct got g;

		memset(&g, 0, sizeof(g));
		feed_split(s, step, &g);
		assert_int_equal(g.n, 3);
		assert_string_equal(g.data[0], "{\"a\":1}");
		assert_string_equal(g.event[0], "");
		assert_string_equal(g.data[1], "x\ny");
		assert_string_equal(g.event[1], "ping");
		assert_string_equal(g.id[1], "7");
		assert_string_equal(g.data[2], "[DONE]");
		assert_string_equal(g.id[2], "7"); /* the last id persists */
	}
}

static void
test_line_endings(void **state)
{
	const char *s = "\xEF\xBB\xBF" "data: a\r\n\r\ndata: b\r\rdata: c\n\n";
	size_t step;

	(void)state;
	for (step = 1; step <= strlen(s); step++) {
		struct got g;

		memset(&g, 0, sizeof(g));
		feed_split(s, step, &g);
		assert_int_equal(g.n, 3);
		assert_string_equal(g.data[0], "a");
		assert_string_equal(g.data[1], "b");
		assert_string_equal(g.data[2], "c");
	}
}

static void
test_no_data_no_event(void **state)
{
	struct got g;

	(void)state;
	memset(&g, 0, sizeof(g));
	feed_split("event: x\n\nid: 3\n\n: c\n\ndata\n\n", 3, &g);
	/* "data" without a colon is a data field with an empty value. */
	assert_int_equal(g.n, 1);
	assert_string_equal(g.data[0], "");
	assert_string_equal(g.event[0], "");
}

static void
test_line_cap(void **state)
{
	struct sse_parser p;
	char *big = malloc(SSE_LINE_MAX + 10);
	struct got g;

	(void)state;
	assert_non_null(big);
	memset(big, 'a', SSE_LINE_MAX + 10);
	memcpy(big, "data: ", 6);
	memset(&g, 0, sizeof(g));
	sse_init(&p);
	assert_int_equal(sse_feed(&p, big, SSE_LINE_MAX + 10, collect, &g), CP_ETOOBIG);
	sse_release(&p);
	free(big);
	assert_int_equal(g.n, 0);
}

static int
stop_cb(const struct sse_event *ev, void *arg)
{
	(void)ev;
	(*(int *)arg)++;
	return CP_EINVAL;
}

static void
test_callback_stops(void **state)
{
	struct sse_parser p;
	int n = 0;

	(void)state;
	sse_init(&p);
	assert_int_equal(sse_feed(&p, "data: 1\n\ndata: 2\n\n", 18, stop_cb, &n), CP_EINVAL);
	assert_int_equal(n, 1);
	sse_release(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_no_data_no_event),
		cmocka_unit_test(test_line_cap),
		cmocka_unit_test(test_callback_stops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
