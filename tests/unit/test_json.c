/*
 * test_json.c - json_parse_strict, the typed getters, json_item_int, and
 * the capped buffer (buf.c).
 *
 * Decision pinned here: a body over CP_BODY_MAX is CP_ETOOBIG (the caller
 * answers 413), not CP_EPARSE.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core.h"

struct parse_case {
	const char *s;
	size_t len;
	int rc;
};

#define P(s, rc) { s, sizeof(s) - 1, rc }

static void
test_parse_table(void **state)
{
	static const struct parse_case cases[] = {
		P("{}", CP_OK),
		P(" {} \n\t\r", CP_OK),
		P("[]", CP_OK),
		P("1", CP_OK),
		P("-0.5e+3", CP_OK),
		P("\"x\"", CP_OK),
		P("true", CP_OK),
		P("null", CP_OK),
		P("{\"a\":[1,2,{\"b\":null}]}", CP_OK),
		P("{\"k\":\"caf\xc3\xa9\"}", CP_OK),
		P("{\"k\":\"\\u00e9 \\\" \\\\\"}", CP_OK),
		P("1e400", CP_EPARSE),      /* infinity would print back as null */
		P("[-1e400]", CP_EPARSE),
		P("{\"index\":8e888}", CP_EPARSE),
		P("{} junk", CP_EPARSE),
		P("{}{}", CP_EPARSE),
		P("{} x", CP_EPARSE),
		P("{}\0", CP_EPARSE),
		P("", CP_EPARSE),
		P("   ", CP_EPARSE),
		P("\n\t", CP_EPARSE),
		P("{", CP_EPARSE),
		P("{\"a\":}", CP_EPARSE),
		P("[1,]", CP_EPARSE),
		P("{\"a\":1,}", CP_EPARSE),
		P("\"\xc3\x28\"", CP_EPARSE),          /* invalid UTF-8 in a string */
		P("{\"k\":\"\xed\xa0\x80\"}", CP_EPARSE), /* surrogate */
		P("{\"k\":\"a\nb\"}", CP_EPARSE),      /* raw control byte */
		P("\"abc", CP_EPARSE),
		P("{\"k\":\"a\\u0000b\"}", CP_EPARSE),   /* would cut the C string */
		P("{\"k\":\"a\\\\u0000b\"}", CP_OK),  /* an escaped backslash, then text */
		P("\"\\ud800\"", CP_EPARSE),          /* lone surrogate escape */
		P("\"abc\\", CP_EPARSE),
		P("01", CP_EPARSE),
		P("1.", CP_EPARSE),
		P(".5", CP_EPARSE),
		P("+1", CP_EPARSE),
		P("-", CP_EPARSE),
		P("1e", CP_EPARSE),
		P("0x10", CP_EPARSE),
		P("1.2.3", CP_EPARSE),
		P("NaN", CP_EPARSE),
		P("Infinity", CP_EPARSE),
		P("'a'", CP_EPARSE),
		P("tru", CP_EPARSE),
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *j = (cJSON *)1;
		int rc = json_parse_strict(cases[i].s, cases[i].len, &j);

		if (rc != cases[i].rc)
			fail_msg("case %zu \"%s\": rc %d, want %d", i, cases[i].s, rc,
			    cases[i].rc);
		if (rc == CP_OK)
			assert_non_null(j);
		else
			assert_null(j);
		cJSON_Delete(rc == CP_OK ? j : NULL);
	}
}

static char *
repeat(char c, size_t n)
{
	char *p = malloc(n + 1);

	assert_non_null(p);
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

static void
test_parse_depth(void **state)
{
	char buf[2 * CP_JSON_DEPTH_MAX + 4];
	cJSON *j = NULL;
	char *deep;
	int d;

	(void)state;
	/* 10,000 '[' is refused before cJSON recurses. */
	deep = repeat('[', 10000);
	assert_int_equal(json_parse_strict(deep, 10000, &j), CP_EPARSE);
	assert_null(j);
	free(deep);
	/* Exactly the limit parses; one more does not. */
	for (d = CP_JSON_DEPTH_MAX; d <= CP_JSON_DEPTH_MAX + 1; d++) {
		memset(buf, '[', (size_t)d);
		memset(buf + d, ']', (size_t)d);
		assert_int_equal(json_parse_strict(buf, 2 * (size_t)d, &j),
		    d <= CP_JSON_DEPTH_MAX ? CP_OK : CP_EPARSE);
		cJSON_Delete(j);
		j = NULL;
	}
	/* Brackets inside strings do not count. */
	deep = repeat('[', 5000);
	deep[0] = '"';
	deep[4999] = '"';
	assert_int_equal(json_parse_strict(deep, 5000, &j), CP_OK);
	assert_true(cJSON_IsString(j));
	cJSON_Delete(j);
	free(deep);
}

static void
test_parse_size(void **state)
{
	size_t n = CP_BODY_MAX;
	cJSON *j = NULL;
	char *p;

	(void)state;
	/* Exactly CP_BODY_MAX: a string filling the whole body is accepted. */
	p = repeat('a', n + 1);
	p[0] = '"';
	p[n - 1] = '"';
	assert_int_equal(json_parse_strict(p, n, &j), CP_OK);
	assert_int_equal(strlen(cJSON_GetStringValue(j)), n - 2);
	cJSON_Delete(j);
	j = NULL;
	/* One byte more (whitespace even) is CP_ETOOBIG. */
	p[n] = ' ';
	assert_int_equal(json_parse_strict(p, n + 1, &j), CP_ETOOBIG);
	assert_null(j);
	/* The caller's cap (cliproxyd's request-body-max) replaces it, both
	 * ways; the rules stay (a duplicate member is refused under any cap). */
	assert_int_equal(json_parse_strict_max(p, n + 1, n + 1, &j), CP_OK);
	cJSON_Delete(j);
	j = NULL;
	assert_int_equal(json_parse_strict_max("[1, 2]", 6, 5, &j), CP_ETOOBIG);
	assert_int_equal(json_parse_strict_max("[1, 2]", 6, 6, &j), CP_OK);
	cJSON_Delete(j);
	j = NULL;
	assert_int_equal(json_parse_strict_max("{\"a\":1,\"a\":2}", 13, 1 << 20, &j),
	    CP_EPARSE);
	assert_null(j);
	free(p);
}

static void
test_getters(void **state)
{
	const char *doc = "{\"s\":\"str\",\"b\":true,\"f\":false,\"i\":42,\"n\":null,"
	    "\"a\":[1],\"o\":{\"x\":1},\"d\":1.5}";
	const cJSON *sub;
	const char *s;
	long long v;
	cJSON *j;
	bool b;

	(void)state;
	assert_int_equal(json_parse_strict(doc, strlen(doc), &j), CP_OK);
	assert_int_equal(json_get_string(j, "s", &s), CP_OK);
	assert_string_equal(s, "str");
	assert_int_equal(json_get_string(j, "missing", &s), CP_ENOTFOUND);
	assert_int_equal(json_get_string(j, "i", &s), CP_ETYPE);
	assert_int_equal(json_get_string(j, "n", &s), CP_ETYPE);
	assert_int_equal(json_get_string(j, "S", &s), CP_ENOTFOUND); /* case matters */
	assert_int_equal(json_get_bool(j, "b", &b), CP_OK);
	assert_true(b);
	assert_int_equal(json_get_bool(j, "f", &b), CP_OK);
	assert_false(b);
	assert_int_equal(json_get_bool(j, "s", &b), CP_ETYPE);
	assert_int_equal(json_get_bool(j, "i", &b), CP_ETYPE);
	assert_int_equal(json_get_bool(j, "zz", &b), CP_ENOTFOUND);
	assert_int_equal(json_get_int(j, "i", 0, 100, &v), CP_OK);
	assert_int_equal(v, 42);
	assert_int_equal(json_get_int(j, "i", 0, 10, &v), CP_EINVAL);
	assert_int_equal(json_get_int(j, "d", 0, 10, &v), CP_ETYPE);
	assert_int_equal(json_get_int(j, "s", 0, 10, &v), CP_ETYPE);
	assert_int_equal(json_get_int(j, "b", 0, 10, &v), CP_ETYPE);
	assert_int_equal(json_get_int(j, "zz", 0, 10, &v), CP_ENOTFOUND);
	assert_int_equal(json_get_array(j, "a", &sub), CP_OK);
	assert_true(cJSON_IsArray(sub));
	assert_int_equal(json_get_array(j, "o", &sub), CP_ETYPE);
	assert_int_equal(json_get_array(j, "zz", &sub), CP_ENOTFOUND);
	assert_int_equal(json_get_object(j, "o", &sub), CP_OK);
	assert_true(cJSON_IsObject(sub));
	assert_int_equal(json_get_object(j, "a", &sub), CP_ETYPE);
	assert_int_equal(json_get_object(j, "n", &sub), CP_ETYPE);
	/* Not an object at all. */
	assert_int_equal(json_get_string(cJSON_GetObjectItem(j, "a"), "x", &s), CP_ETYPE);
	cJSON_Delete(j);
}

struct int_case {
	const char *json;
	long long min, max;
	int rc;
	long long want;
};

static void
test_item_int(void **state)
{
	static const struct int_case cases[] = {
		{ "0", 0, 100, CP_OK, 0 },
		{ "1", 0, 100, CP_OK, 1 },
		{ "100", 0, 100, CP_OK, 100 },
		{ "101", 0, 100, CP_EINVAL, 0 },
		{ "-1", 0, 100, CP_EINVAL, 0 },
		{ "-1", -5, 100, CP_OK, -1 },
		{ "1.5", 0, 100, CP_ETYPE, 0 },
		{ "0.5", 0, 100, CP_ETYPE, 0 },
		{ "1e2", 0, 100, CP_OK, 100 },
		{ "1.0", 0, 100, CP_OK, 1 },
		{ "1e300", 0, 9223372036854775807LL, CP_EINVAL, 0 },
		{ "9007199254740993", 0, 9223372036854775807LL, CP_EINVAL, 0 },
		{ "9007199254740991", 0, 9223372036854775807LL, CP_OK, 9007199254740991LL },
		{ "true", 0, 100, CP_ETYPE, 0 },
		{ "false", 0, 100, CP_ETYPE, 0 },
		{ "\"1\"", 0, 100, CP_ETYPE, 0 },
		{ "null", 0, 100, CP_ETYPE, 0 },
		{ "[1]", 0, 100, CP_ETYPE, 0 },
		{ "{}", 0, 100, CP_ETYPE, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long v = -777;
		cJSON *j = NULL;
		int rc;

		assert_int_equal(json_parse_strict(cases[i].json, strlen(cases[i].json), &j),
		    CP_OK);
		rc = json_item_int(j, cases[i].min, cases[i].max, &v);
		if (rc != cases[i].rc)
			fail_msg("json_item_int(%s) = %d, want %d", cases[i].json, rc,
			    cases[i].rc);
		if (rc == CP_OK && v != cases[i].want)
			fail_msg("json_item_int(%s) -> %lld", cases[i].json, v);
		cJSON_Delete(j);
	}
	assert_int_equal(json_item_int(NULL, 0, 1, NULL), CP_ETYPE);
}

static void
test_print(void **state)
{
	cJSON *j = NULL;
	char *s;

	(void)state;
	assert_int_equal(json_parse_strict("{ \"a\" : [ 1 , true ] }", 22, &j), CP_OK);
	s = json_print(j);
	assert_non_null(s);
	assert_string_equal(s, "{\"a\":[1,true]}");
	free(s);
	cJSON_Delete(j);
}

/* Deterministic mutations of a valid document: nothing crashes (the
 * sanitizer build watches), and whatever is accepted prints back to a
 * document that is accepted again and prints identically. */
static void
test_mutations(void **state)
{
	static const char seed[] = "{\"a\":[1,-2.5e3,true,null,\"x\\u00e9\\n\"],"
	    "\"b\":{\"c\":{}},\"d\":\"caf\xc3\xa9\"}";
	static const char pool[] = "{}[]\",:\\-+.0123456789eEtrufalsn \t\n\x80\xc3\xed";
	char buf[sizeof(seed) + 8];
	uint32_t x = 2463534242u;
	int i, k, accepted = 0, refused = 0;

	(void)state;
	for (i = 0; i < 20000; i++) {
		size_t len = sizeof(seed) - 1;
		cJSON *j = NULL, *j2 = NULL;
		char *out, *out2;

		memcpy(buf, seed, len);
		for (k = 0; k < 1 + i % 3; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			switch (x % 3) {
			case 0:  /* replace a byte */
				if (len > 0)
					buf[(x >> 8) % len] =
					    pool[(x >> 20) % (sizeof(pool) - 1)];
				break;
			case 1:  /* cut the tail */
				len = (x >> 8) % (len + 1);
				break;
			default: /* insert a byte */
				if (len < sizeof(buf)) {
					size_t at = (x >> 8) % (len + 1);

					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = pool[(x >> 20) % (sizeof(pool) - 1)];
					len++;
				}
				break;
			}
		}
		if (json_parse_strict(buf, len, &j) != CP_OK) {
			assert_null(j);
			refused++;
			continue;
		}
		accepted++;
		out = json_print(j);
		assert_non_null(out);
		assert_int_equal(json_parse_strict(out, strlen(out), &j2), CP_OK);
		out2 = json_print(j2);
		assert_string_equal(out, out2);
		free(out);
		free(out2);
		cJSON_Delete(j);
		cJSON_Delete(j2);
	}
	/* Both outcomes happen, or the mutator is not doing its job. */
	assert_true(accepted > 100);
	assert_true(refused > 100);
}

static void
test_buf(void **state)
{
	struct buf b;
	char *p;
	size_t n;

	(void)state;
	buf_init(&b, 10);
	assert_null(b.p);
	assert_int_equal(buf_appends(&b, "hello"), CP_OK);
	assert_int_equal(buf_printf(&b, "%d", 1234), CP_OK);
	assert_string_equal(b.p, "hello1234");
	assert_int_equal(b.len, 9);
	/* 9 + 2 > 10: refused, buffer unchanged. */
	assert_int_equal(buf_appends(&b, "ab"), CP_ETOOBIG);
	assert_int_equal(buf_printf(&b, "%s", "ab"), CP_ETOOBIG);
	assert_string_equal(b.p, "hello1234");
	assert_int_equal(buf_append(&b, "x", 1), CP_OK);
	assert_int_equal(b.len, 10);
	assert_int_equal(buf_append(&b, "y", 1), CP_ETOOBIG);
	assert_int_equal(buf_append(&b, "", 0), CP_OK);
	assert_string_equal(b.p, "hello1234x");
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");
	assert_int_equal(buf_append(&b, "a\0b", 3), CP_OK);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.p, "a\0b", 4);
	p = buf_steal(&b, &n);
	assert_int_equal(n, 3);
	assert_memory_equal(p, "a\0b", 3);
	free(p);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.max, 10);
	p = buf_steal(&b, &n);   /* empty buffer: an empty string */
	assert_non_null(p);
	assert_int_equal(n, 0);
	assert_string_equal(p, "");
	free(p);
	buf_release(&b);

	/* Growth across many appends keeps the content. */
	buf_init(&b, 100000);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_printf(&b, "%d,", i % 10), CP_OK);
	assert_int_equal(b.len, 20000);
	assert_int_equal(b.p[19998], '9');
	assert_int_equal(b.p[20000], '\0');
	buf_release(&b);
	assert_null(b.p);
}

/* json_equal agrees with cJSON_Compare(a, b, true) (issue 10: it replaces
 * it where objects can be large), ignores member order as cJSON_Compare
 * does, and a sorted lookup finds every member. */
static void
test_equal(void **state)
{
	static const char *const pairs[][2] = {
		{ "1", "1" }, { "1", "1.0" }, { "1", "2" }, { "0.1", "0.10000000000000001" },
		{ "\"a\"", "\"a\"" }, { "\"a\"", "\"b\"" }, { "\"1\"", "1" },
		{ "true", "true" }, { "true", "false" }, { "null", "null" }, { "null", "false" },
		{ "[]", "[]" }, { "[1,2]", "[1,2]" }, { "[1,2]", "[2,1]" }, { "[1]", "[1,1]" },
		{ "{}", "{}" }, { "{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}" },
		{ "{\"a\":1}", "{\"a\":1,\"b\":2}" }, { "{\"a\":1,\"b\":2}", "{\"a\":1,\"c\":2}" },
		{ "{\"a\":[1,{\"x\":null}]}", "{\"a\":[1,{\"x\":null}]}" },
		{ "{\"a\":[1,{\"x\":null}]}", "{\"a\":[1,{\"x\":0}]}" }, { "{}", "[]" },
		{ "{\"A\":1}", "{\"a\":1}" },
	};
	cJSON *a, *b, *c;
	const cJSON **v = NULL;
	char name[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		a = cJSON_Parse(pairs[i][0]);
		b = cJSON_Parse(pairs[i][1]);
		assert_non_null(a);
		assert_non_null(b);
		if (json_equal(a, b) != (bool)cJSON_Compare(a, b, true))
			fail_msg("pair %zu: %s vs %s", i, pairs[i][0], pairs[i][1]);
		assert_int_equal(json_equal(b, a), json_equal(a, b));
		cJSON_Delete(a);
		cJSON_Delete(b);
	}
	assert_false(json_equal(NULL, NULL));
	/* 50,000 members in opposite orders */
	a = cJSON_CreateObject();
	b = cJSON_CreateObject();
	for (i = 0; i < 50000; i++) {
		snprintf(name, sizeof(name), "k%05zu", i);
		cJSON_AddNumberToObject(a, name, (double)i);
		snprintf(name, sizeof(name), "k%05zu", 49999 - i);
		cJSON_AddNumberToObject(b, name, (double)(49999 - i));
	}
	assert_true(json_equal(a, b));
	assert_int_equal(json_sorted_members(a, &v, &n), CP_OK);
	assert_int_equal(n, 50000);
	assert_string_equal(v[0]->string, "k00000");
	c = (cJSON *)(uintptr_t)json_sorted_find(v, n, "k31337");
	assert_non_null(c);
	assert_int_equal((int)c->valuedouble, 31337);
	assert_null(json_sorted_find(v, n, "k50000"));
	assert_null(json_sorted_find(v, n, ""));
	free(v);
	cJSON_ReplaceItemInObjectCaseSensitive(b, "k12345", cJSON_CreateNumber(0));
	assert_false(json_equal(a, b));
	cJSON_Delete(a);
	cJSON_Delete(b);
	assert_int_equal(json_sorted_members(NULL, &v, &n), CP_OK);
	assert_null(v);
	assert_int_equal(n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_parse_depth),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_item_int),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_equal),
	};

	return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
