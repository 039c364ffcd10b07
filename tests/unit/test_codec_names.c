/*
 * test_codec_names.c - what translation between the OpenAI and the
 * Claude/Gemini families needs beyond the golden files (pivot.h "tool
 * names", pv_schema_check, pv_event_dropped):
 * - tool names each upstream refuses get valid, deterministic, unique
 *   names in the upstream request (tools, calls, results, tool_choice) and
 *   the client's names back in the answer (xlate.c), collisions included;
 * - a "schema bomb" (a $ref fan-out, an enormous enum behind $refs) is a
 *   400 in the client's own shape from every decoder, never a crash or a
 *   500; deep nesting encodes for every upstream.
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

#include "proxyd.h"

/* FNV-1a 32 of s, written here again (not pivot.c's). */
static uint32_t
t_fnv(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static void
t_add_tool(struct pv_request *r, const char *name)
{
	struct pv_tool *t = pv_tool_add(r);

	assert_non_null(t);
	assert_non_null(t->name = strdup(name));
	assert_non_null(t->schema = cJSON_Parse("{\"type\":\"object\",\"properties\":{}}"));
}

static void
test_name_rules(void **state)
{
	static const struct {
		const char *name;
		bool openai, gemini;
	} cases[] = {
		{ "get_weather", true, true },
		{ "get-weather-2", true, true },
		{ "ns.get:v1", false, true },
		{ "7day", true, false },      /* Gemini: a letter or '_' first */
		{ "-x", true, false },
		{ "_x", true, true },
		{ "a b", false, false },
		{ "caf\xc3\xa9", false, false },
		{ "", false, false },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", true, true }, /* 64 */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false, false }, /* 65 */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(pv_tool_name_ok(cases[i].name, FMT_OPENAI_CHAT), cases[i].openai);
		assert_int_equal(pv_tool_name_ok(cases[i].name, FMT_OPENAI_RESPONSES), cases[i].openai);
		assert_int_equal(pv_tool_name_ok(cases[i].name, FMT_CLAUDE), cases[i].openai);
		assert_int_equal(pv_tool_name_ok(cases[i].name, FMT_GEMINI), cases[i].gemini);
	}
	assert_false(pv_tool_name_ok(NULL, FMT_CLAUDE));
}

/* Two names that shorten the same, and one that a kept name blocks. */
static void
test_names_collision(void **state)
{
	struct pv_request r;
	struct pv_names m, m2;
	char want[80];
	size_t i;

	(void)state;
	pv_request_init(&r);
	t_add_tool(&r, "a.b");
	t_add_tool(&r, "a:b");
	t_add_tool(&r, "x.y");
	t_add_tool(&r, "x_y");       /* valid: stays, so "x.y" cannot take it */
	assert_int_equal(pv_names_build(&m, &r, FMT_CLAUDE), CP_OK);
	assert_int_equal(m.n, 3);
	assert_string_equal(pv_names_up(&m, "a.b"), "a_b");
	snprintf(want, sizeof(want), "a_b_%08x", (unsigned)t_fnv("a:b"));
	assert_string_equal(pv_names_up(&m, "a:b"), want);
	snprintf(want, sizeof(want), "x_y_%08x", (unsigned)t_fnv("x.y"));
	assert_string_equal(pv_names_up(&m, "x.y"), want);
	assert_string_equal(pv_names_up(&m, "x_y"), "x_y");
	/* back: every upstream name to its client name, the kept one too */
	assert_string_equal(pv_names_back(&m, "a_b"), "a.b");
	assert_string_equal(pv_names_back(&m, want), "x.y");
	assert_string_equal(pv_names_back(&m, "x_y"), "x_y");
	assert_string_equal(pv_names_back(&m, "other"), "other");
	assert_null(pv_names_back(&m, NULL));
	/* deterministic: a second build gives the same names */
	assert_int_equal(pv_names_build(&m2, &r, FMT_CLAUDE), CP_OK);
	assert_int_equal(m2.n, m.n);
	for (i = 0; i < m.n; i++) {
		assert_string_equal(m.from[i], m2.from[i]);
		assert_string_equal(m.to[i], m2.to[i]);
		assert_true(pv_tool_name_ok(m.to[i], FMT_CLAUDE));
	}
	pv_names_release(&m2);
	pv_names_release(&m);
	/* Gemini takes all of them but nothing here needs renaming */
	assert_int_equal(pv_names_build(&m, &r, FMT_GEMINI), CP_OK);
	assert_int_equal(m.n, 0);
	pv_names_release(&m);
	pv_request_release(&r);
}

/* Long names: cut to 64; two that share their first 64 bytes differ by
 * the hash and stay within 64. */
static void
test_names_long(void **state)
{
	char a[120], b[120], want[80];
	struct pv_request r;
	struct pv_names m;

	(void)state;
	memset(a, 'n', 100);
	a[100] = '\0';
	a[10] = '.';
	memcpy(b, a, sizeof(b));
	b[90] = 'z';
	pv_request_init(&r);
	t_add_tool(&r, a);
	t_add_tool(&r, b);
	t_add_tool(&r, "9lives");    /* Gemini: '_' goes first */
	assert_int_equal(pv_names_build(&m, &r, FMT_GEMINI), CP_OK);
	assert_int_equal(m.n, 3);
	assert_int_equal(strlen(pv_names_up(&m, a)), 64);
	assert_memory_equal(pv_names_up(&m, a), a, 64); /* '.' is Gemini's */
	assert_int_equal(strlen(pv_names_up(&m, b)), 64);
	snprintf(want, sizeof(want), "%.55s_%08x", b, (unsigned)t_fnv(b));
	assert_string_equal(pv_names_up(&m, b), want);
	assert_string_equal(pv_names_up(&m, "9lives"), "_9lives");
	pv_names_release(&m);
	assert_int_equal(pv_names_build(&m, &r, FMT_OPENAI_CHAT), CP_OK);
	assert_int_equal(m.n, 2);    /* "9lives" is fine for OpenAI */
	assert_non_null(strchr(a, '.'));
	assert_null(strchr(pv_names_up(&m, a), '.'));
	assert_true(pv_tool_name_ok(pv_names_up(&m, a), FMT_OPENAI_CHAT));
	assert_true(pv_tool_name_ok(pv_names_up(&m, b), FMT_OPENAI_CHAT));
	assert_string_not_equal(pv_names_up(&m, a), pv_names_up(&m, b));
	pv_names_release(&m);
	pv_request_release(&r);
}

/* Thousands of tools, each renamed one colliding with a kept one: every
 * upstream name is valid and unique, and names back to its own. */
static void
test_names_many(void **state)
{
	enum { N = 5000 };
	struct pv_request r;
	struct pv_names m;
	struct pv_map seen;
	char name[32];
	size_t i, v;

	(void)state;
	pv_request_init(&r);
	for (i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "t.%zu", i);
		t_add_tool(&r, name);
		snprintf(name, sizeof(name), "t_%zu", i);
		t_add_tool(&r, name);
	}
	assert_int_equal(pv_names_build(&m, &r, FMT_OPENAI_RESPONSES), CP_OK);
	assert_int_equal(m.n, N);
	pv_map_init(&seen);
	for (i = 0; i < r.n_tools; i++) {
		const char *up = pv_names_up(&m, r.tools[i].name);

		assert_true(pv_tool_name_ok(up, FMT_OPENAI_RESPONSES));
		assert_false(pv_map_get(&seen, up, &v));
		assert_int_equal(pv_map_put(&seen, up, i), CP_OK);
		assert_string_equal(pv_names_back(&m, up), r.tools[i].name);
	}
	pv_map_release(&seen);
	pv_names_release(&m);
	pv_request_release(&r);
}

/* A Gemini client's request with names OpenAI and Claude refuse, in
 * tools, history and tool_choice. */
static const char t_gemini_req[] =
    "{\"contents\":["
    "{\"role\":\"user\",\"parts\":[{\"text\":\"Weather?\"}]},"
    "{\"role\":\"model\",\"parts\":[{\"functionCall\":{\"name\":\"wx.get:v1\",\"args\":{\"c\":\"P\"}}}]},"
    "{\"role\":\"user\",\"parts\":[{\"functionResponse\":{\"name\":\"wx.get:v1\",\"response\":{\"t\":9}}}]}],"
    "\"tools\":[{\"functionDeclarations\":["
    "{\"name\":\"wx.get:v1\",\"parameters\":{\"type\":\"object\"}},"
    "{\"name\":\"wx_get_v1\",\"parameters\":{\"type\":\"object\"}}]}],"
    "\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"ANY\",\"allowedFunctionNames\":[\"wx.get:v1\"]}}}";

/* Every string value of member key anywhere in j, joined by ' '. */
static void
t_collect(const cJSON *j, const char *key, char *out, size_t len)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, j) {
		if (it->string != NULL && strcmp(it->string, key) == 0 && cJSON_IsString(it)) {
			size_t n = strlen(out);

			snprintf(out + n, len - n, "%s%s", n > 0 ? " " : "", it->valuestring);
		}
		if (cJSON_IsObject(it) || cJSON_IsArray(it))
			t_collect(it, key, out, len);
	}
}

static void
test_names_through_codecs(void **state)
{
	static const enum fmt_id ups[] = { FMT_CLAUDE, FMT_OPENAI_CHAT, FMT_OPENAI_RESPONSES };
	char renamed[40], got[400], err[256] = "";
	cJSON *j = cJSON_Parse(t_gemini_req), *out;
	struct pv_request r;
	size_t i;

	(void)state;
	assert_non_null(j);
	pv_request_init(&r);
	assert_int_equal(codec_gemini.decode_request(j, "gemini-2.5-pro", false, &r, err,
	    sizeof(err)), CP_OK);
	snprintf(renamed, sizeof(renamed), "wx_get_v1_%08x", (unsigned)t_fnv("wx.get:v1"));
	for (i = 0; i < sizeof(ups) / sizeof(ups[0]); i++) {
		const struct codec *up = codec_for(ups[i]);
		char *s;

		assert_int_equal(up->encode_request(&r, &out), CP_OK);
		got[0] = '\0';
		t_collect(out, "name", got, sizeof(got));
		s = cJSON_PrintUnformatted(out);
		/* the client's names never reach the upstream */
		assert_null(strstr(s, "wx.get:v1"));
		assert_non_null(strstr(got, renamed));
		assert_non_null(strstr(got, "wx_get_v1"));
		free(s);
		cJSON_Delete(out);
	}
	/* Claude: tool_choice names the renamed tool */
	assert_int_equal(codec_claude.encode_request(&r, &out), CP_OK);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(out, "tool_choice"),
	    "name")->valuestring, renamed);
	cJSON_Delete(out);
	/* the pivot itself is the client's: nothing renamed in place */
	assert_string_equal(r.tools[0].name, "wx.get:v1");
	assert_string_equal(r.tool_choice_name, "wx.get:v1");
	pv_request_release(&r);
	cJSON_Delete(j);
}

/* The answer: a Claude upstream calls the renamed tool; the Gemini
 * client sees its own name, streamed and not; without the request the
 * names stay (nothing to map). */
static void
test_names_back_in_answers(void **state)
{
	char renamed[40], body[1024], err[256] = "";
	cJSON *j = cJSON_Parse(t_gemini_req);
	struct pv_request r;
	struct pv_enc_opts o;
	int k;

	(void)state;
	pv_request_init(&r);
	assert_int_equal(codec_gemini.decode_request(j, "gemini-2.5-pro", false, &r, err,
	    sizeof(err)), CP_OK);
	snprintf(renamed, sizeof(renamed), "wx_get_v1_%08x", (unsigned)t_fnv("wx.get:v1"));
	snprintf(body, sizeof(body),
	    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\","
	    "\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"%s\",\"input\":{}},"
	    "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"wx_get_v1\",\"input\":{}}],"
	    "\"stop_reason\":\"tool_use\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}",
	    renamed);
	for (k = 0; k < 3; k++) {
		struct xlate *x;
		const struct buf *b;
		char *txt;

		memset(&o, 0, sizeof(o));
		o.stream = k == 1;
		o.gemini_sse = true;
		o.model = "gemini-2.5-pro";
		o.created = 1;
		o.req = k < 2 ? &r : NULL;
		assert_non_null(x = xlate_new(&codec_claude, &codec_gemini, false, &o));
		assert_int_equal(xlate_feed(x, body, strlen(body)), CP_OK);
		assert_int_equal(xlate_finish(x), CP_OK);
		b = xlate_out(x);
		assert_non_null(txt = strndup(b->p, b->len));
		if (k < 2) {
			assert_non_null(strstr(txt, "\"name\":\"wx.get:v1\""));
			assert_null(strstr(txt, renamed));
		} else {
			assert_non_null(strstr(txt, renamed));
		}
		/* a name that was valid comes back as it is */
		assert_non_null(strstr(txt, "\"name\":\"wx_get_v1\""));
		free(txt);
		xlate_free(x);
	}
	pv_request_release(&r);
	cJSON_Delete(j);
}

/* ------------------------------------------------------ schema bombs */

/* {"type":"object","properties":{"p":{"$ref":"#/$defs/d0"}},"$defs":
 * {"d<i>":{"type":"object","properties":{"a":{"$ref":"d<i+1>"},...}}}}:
 * fan-out of width per level, depth levels. */
static cJSON *
t_ref_bomb(int depth, int width)
{
	cJSON *s = cJSON_CreateObject(), *defs, *props;
	char name[32], ref[48];
	int i, k;

	cJSON_AddStringToObject(s, "type", "object");
	props = cJSON_AddObjectToObject(s, "properties");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(props, "p"), "$ref", "#/$defs/d0");
	defs = cJSON_AddObjectToObject(s, "$defs");
	for (i = 0; i < depth; i++) {
		cJSON *d, *dp;

		snprintf(name, sizeof(name), "d%d", i);
		d = cJSON_AddObjectToObject(defs, name);
		cJSON_AddStringToObject(d, "type", i + 1 < depth ? "object" : "string");
		if (i + 1 == depth)
			break;
		dp = cJSON_AddObjectToObject(d, "properties");
		snprintf(ref, sizeof(ref), "#/$defs/d%d", i + 1);
		for (k = 0; k < width; k++) {
			snprintf(name, sizeof(name), "a%d", k);
			cJSON_AddStringToObject(cJSON_AddObjectToObject(dp, name), "$ref", ref);
		}
	}
	return s;
}

/* An enum of n strings in $defs.e, referenced by refs properties. */
static cJSON *
t_enum_bomb(int n, int refs)
{
	cJSON *s = cJSON_CreateObject(), *e, *arr, *props;
	char v[32];
	int i;

	cJSON_AddStringToObject(s, "type", "object");
	props = cJSON_AddObjectToObject(s, "properties");
	for (i = 0; i < refs; i++) {
		snprintf(v, sizeof(v), "p%d", i);
		cJSON_AddStringToObject(cJSON_AddObjectToObject(props, v), "$ref", "#/$defs/e");
	}
	e = cJSON_AddObjectToObject(cJSON_AddObjectToObject(s, "$defs"), "e");
	cJSON_AddStringToObject(e, "type", "string");
	arr = cJSON_AddArrayToObject(e, "enum");
	for (i = 0; i < n; i++) {
		snprintf(v, sizeof(v), "value-%08d", i);
		cJSON_AddItemToArray(arr, cJSON_CreateString(v));
	}
	return s;
}

/* A client request of format f with one tool whose schema is s (owned). */
static cJSON *
t_request_with_schema(enum fmt_id f, cJSON *s)
{
	cJSON *req = cJSON_CreateObject(), *tools = cJSON_AddArrayToObject(req, "tools"), *t, *c;

	t = cJSON_CreateObject();
	cJSON_AddItemToArray(tools, t);
	switch (f) {
	case FMT_OPENAI_CHAT:
		cJSON_AddStringToObject(req, "model", "gpt-4.1");
		c = cJSON_AddArrayToObject(req, "messages");
		cJSON_AddItemToArray(c, cJSON_Parse("{\"role\":\"user\",\"content\":\"hi\"}"));
		cJSON_AddStringToObject(t, "type", "function");
		t = cJSON_AddObjectToObject(t, "function");
		cJSON_AddStringToObject(t, "name", "f");
		cJSON_AddItemToObject(t, "parameters", s);
		break;
	case FMT_OPENAI_RESPONSES:
		cJSON_AddStringToObject(req, "model", "gpt-4.1");
		cJSON_AddStringToObject(req, "input", "hi");
		cJSON_AddStringToObject(t, "type", "function");
		cJSON_AddStringToObject(t, "name", "f");
		cJSON_AddItemToObject(t, "parameters", s);
		break;
	case FMT_CLAUDE:
		cJSON_AddStringToObject(req, "model", "claude-sonnet-4-5");
		cJSON_AddNumberToObject(req, "max_tokens", 100);
		c = cJSON_AddArrayToObject(req, "messages");
		cJSON_AddItemToArray(c, cJSON_Parse("{\"role\":\"user\",\"content\":\"hi\"}"));
		cJSON_AddStringToObject(t, "name", "f");
		cJSON_AddItemToObject(t, "input_schema", s);
		break;
	default:
		c = cJSON_AddArrayToObject(req, "contents");
		cJSON_AddItemToArray(c, cJSON_Parse("{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}"));
		cJSON_DeleteItemFromObjectCaseSensitive(req, "tools");
		tools = cJSON_AddArrayToObject(req, "tools");
		t = cJSON_CreateObject();
		cJSON_AddItemToArray(tools, t);
		t = cJSON_AddArrayToObject(t, "functionDeclarations");
		c = cJSON_CreateObject();
		cJSON_AddItemToArray(t, c);
		cJSON_AddStringToObject(c, "name", "f");
		cJSON_AddItemToObject(c, "parametersJsonSchema", s);
		break;
	}
	return req;
}

static const enum fmt_id t_clients[] = {
	FMT_OPENAI_CHAT, FMT_OPENAI_RESPONSES, FMT_CLAUDE, FMT_GEMINI,
};

/* Every decoder refuses the bomb with a 400 message; the client's error
 * body is a 400 of its own shape. */
static void
t_refused(cJSON *(*make)(void))
{
	size_t i;

	for (i = 0; i < sizeof(t_clients) / sizeof(t_clients[0]); i++) {
		const struct codec *c = codec_for(t_clients[i]);
		cJSON *req = t_request_with_schema(t_clients[i], make()), *e;
		struct pv_request r;
		char err[512] = "";
		struct buf out;

		pv_request_init(&r);
		assert_int_equal(c->decode_request(req, "gemini-2.5-pro", false, &r, err,
		    sizeof(err)), CP_EINVAL);
		assert_non_null(strstr(err, "too large"));
		pv_request_release(&r);
		buf_init(&out, 1u << 20);
		assert_int_equal(c->error_body(&out, 400, pv_err_of_status(400), err, NULL, NULL),
		    CP_OK);
		assert_non_null(e = cJSON_ParseWithLength(out.p, out.len));
		assert_non_null(strstr(out.p, "too large"));
		cJSON_Delete(e);
		buf_release(&out);
		cJSON_Delete(req);
	}
}

static cJSON *
t_make_ref_bomb(void)
{
	return t_ref_bomb(8, 10);    /* 10^8 nodes once expanded */
}

static cJSON *
t_make_enum_bomb(void)
{
	return t_enum_bomb(100000, 8); /* ~2.6 MB of enum, 8 copies */
}

static void
test_schema_bombs(void **state)
{
	(void)state;
	t_refused(t_make_ref_bomb);
	t_refused(t_make_enum_bomb);
}

/* Deep nesting (deeper than the strict parser lets through) and a
 * modest $ref fan-out pass every decoder and encode for every upstream. */
static void
test_schema_deep(void **state)
{
	size_t i, k;

	(void)state;
	for (i = 0; i < sizeof(t_clients) / sizeof(t_clients[0]); i++) {
		cJSON *s = cJSON_CreateObject(), *n = s, *req;
		struct pv_request r;
		char err[512] = "";

		for (k = 0; k < 200; k++) {
			cJSON_AddStringToObject(n, "type", "object");
			n = cJSON_AddObjectToObject(cJSON_AddObjectToObject(n, "properties"), "x");
		}
		cJSON_AddStringToObject(n, "type", "string");
		cJSON_AddItemToObject(cJSON_AddObjectToObject(cJSON_GetObjectItem(s, "properties"),
		    "y"), "allOf", cJSON_CreateArray());
		req = t_request_with_schema(t_clients[i], s);
		pv_request_init(&r);
		assert_int_equal(codec_for(t_clients[i])->decode_request(req, "gemini-2.5-pro", false,
		    &r, err, sizeof(err)), CP_OK);
		for (k = 0; k < sizeof(t_clients) / sizeof(t_clients[0]); k++) {
			cJSON *out = NULL;

			assert_int_equal(codec_for(t_clients[k])->encode_request(&r, &out), CP_OK);
			assert_non_null(out);
			cJSON_Delete(out);
		}
		pv_request_release(&r);
		cJSON_Delete(req);
		/* a small fan-out is no bomb */
		req = t_request_with_schema(t_clients[i], t_ref_bomb(3, 4));
		pv_request_init(&r);
		assert_int_equal(codec_for(t_clients[i])->decode_request(req, "gemini-2.5-pro", false,
		    &r, err, sizeof(err)), CP_OK);
		pv_request_release(&r);
		cJSON_Delete(req);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_rules),
		cmocka_unit_test(test_names_collision),
		cmocka_unit_test(test_names_long),
		cmocka_unit_test(test_names_many),
		cmocka_unit_test(test_names_through_codecs),
		cmocka_unit_test(test_names_back_in_answers),
		cmocka_unit_test(test_schema_bombs),
		cmocka_unit_test(test_schema_deep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
