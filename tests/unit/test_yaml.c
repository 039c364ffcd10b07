/*
 * test_yaml.c - the comment-preserving splice (DESIGN.md 3 "Rules"): one
 * change at a time on conf/config.example.yaml must change exactly the
 * lines of that key, read back as the requested value, and leave every
 * other key as it was.
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
#include "cfgtest.h"

#define EXAMPLE "conf/config.example.yaml"

/* Whole document as JSON (independent of the path being set). */
static cJSON *
doc_json(const char *t, size_t len)
{
	struct ydoc *d = NULL;
	cJSON *j;

	assert_int_equal(ydoc_parse(t, len, &d, NULL, 0), CP_OK);
	j = ydoc_root(d) != NULL ? ynode_to_json(ydoc_root(d)) : cJSON_CreateObject();
	ydoc_free(d);
	assert_non_null(j);
	return j;
}

/* Set path in a JSON object by hand (value NULL: delete). */
static void
json_put(cJSON *root, const char *const *path, const cJSON *value)
{
	cJSON *cur = root, *nx;
	size_t i;

	for (i = 0; path[i + 1] != NULL; i++) {
		nx = cJSON_GetObjectItemCaseSensitive(cur, path[i]);
		if (nx == NULL) {
			nx = cJSON_CreateObject();
			cJSON_AddItemToObject(cur, path[i], nx);
		}
		cur = nx;
	}
	if (value == NULL) {
		cJSON_DeleteItemFromObjectCaseSensitive(cur, path[i]);
		return;
	}
	if (cJSON_GetObjectItemCaseSensitive(cur, path[i]) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(cur, path[i], cJSON_Duplicate(value, 1));
	else
		cJSON_AddItemToObject(cur, path[i], cJSON_Duplicate(value, 1));
}

struct change {
	const char *path[4];   /* key path */
	const char *json;      /* new value, NULL = delete */
	size_t removed;        /* old lines that must go */
	size_t added;          /* new lines that must appear */
};

static const struct change changes[] = {
	{ { "port" }, "9000", 1, 1 },
	{ { "host" }, "\"0.0.0.0\"", 1, 1 },
	{ { "remote-management", "allow-remote" }, "true", 1, 1 },
	{ { "remote-management", "secret-key" },
	  "\"$2b$10$abcdefghijklmnopqrstuuJmXW0E9Yd8mN1GQ1Hf5lYq2c3Cq8nG\"", 1, 1 },
	{ { "auth-dir" }, "\"/var/lib/cliproxy/auth\"", 1, 1 },
	{ { "debug" }, "true", 1, 1 },
	{ { "proxy-url" }, "\"socks5h://user:pass@10.0.0.2:1080\"", 1, 1 },
	{ { "request-retry" }, "0", 1, 1 },
	{ { "quota-exceeded", "switch-project" }, "false", 1, 1 },
	{ { "quota-exceeded", "switch-preview-model" }, "false", 1, 1 },
	/* string list: PATCH one item, delete one, append, empty, PUT */
	{ { "api-keys" }, "[\"sk-client-key-one\", \"sk-new\"]", 1, 1 },
	{ { "api-keys" }, "[\"sk-client-key-two\"]", 1, 0 },
	{ { "api-keys" }, "[\"sk-client-key-one\", \"sk-client-key-two\", \"k3\"]", 0, 1 },
	{ { "api-keys" }, "[]", 3, 1 },
	{ { "api-keys" }, "[\"a\", \"b\", \"c\"]", 2, 3 },
	{ { "generative-language-api-key" }, "[\"AIzaSy-example-key-1\"]", 1, 1 },
	/* object lists */
	{ { "claude-api-key" }, "[{\"api-key\": \"sk-ant-example-1\"}, {\"api-key\": "
	  "\"sk-ant-example-2\", \"base-url\": \"https://gw2.example.com\"}]", 1, 1 },
	{ { "claude-api-key" }, "[{\"api-key\": \"sk-ant-example-2\", \"base-url\": "
	  "\"https://claude-gateway.example.com\"}]", 1, 0 },
	{ { "claude-api-key" }, "[{\"api-key\": \"sk-ant-example-1\"}, {\"api-key\": "
	  "\"sk-ant-example-2\", \"base-url\": \"https://claude-gateway.example.com\"}, "
	  "{\"api-key\": \"sk-ant-3\", \"base-url\": \"https://x.example\"}]", 0, 2 },
	{ { "codex-api-key" }, "[{\"api-key\": \"sk-codex\"}]", 1, 2 },
	{ { "openai-compatibility" }, "[{\"name\": \"openrouter\", \"base-url\": "
	  "\"https://openrouter.ai/api/v1\", \"api-keys\": [\"sk-or-v1-example\", \"sk-or-2\"], "
	  "\"models\": [{\"name\": \"moonshotai/kimi-k2:free\", \"alias\": \"kimi-k2\"}]}]", 0, 1 },
	{ { "openai-compatibility" }, "[{\"name\": \"openrouter\", \"base-url\": "
	  "\"https://openrouter.ai/api/v1\", \"api-keys\": [\"sk-or-v1-example\"], "
	  "\"models\": [{\"name\": \"moonshotai/kimi-k2:free\", \"alias\": \"kimi\"}]}]", 1, 1 },
	{ { "openai-compatibility" }, "[]", 8, 1 },
	/* a new provider item, in the style of its sibling (indentless lists) */
	{ { "openai-compatibility" }, "[{\"name\": \"openrouter\", \"base-url\": "
	  "\"https://openrouter.ai/api/v1\", \"api-keys\": [\"sk-or-v1-example\"], "
	  "\"models\": [{\"name\": \"moonshotai/kimi-k2:free\", \"alias\": \"kimi-k2\"}]}, "
	  "{\"name\": \"vllm\", \"base-url\": \"http://127.0.0.1:8000/v1\", "
	  "\"api-keys\": [\"a\", \"b\"], \"models\": [{\"name\": \"m1\", \"alias\": \"x\"}]}]",
	  0, 8 },
	{ { "request-log" }, "true", 1, 1 },
	{ { "allow-localhost-unauthenticated" }, "true", 1, 1 },
	{ { "request-log-dir" }, "\"/var/log/cliproxy\"", 1, 1 },
	{ { "trusted-proxies" }, "[\"127.0.0.0/8\", \"::1\", \"10.0.0.0/8\"]", 0, 1 },
	{ { "endpoints", "gemini" }, "\"http://127.0.0.1:9999\"", 0, 1 },
	{ { "endpoints" }, "{\"claude\": \"http://127.0.0.1:1\"}", 1, 1 },
	{ { "brand-new" }, "\"v\"", 0, 1 },
	{ { "brand", "new" }, "true", 0, 2 },
	{ { "proxy-url" }, NULL, 1, 0 },
	{ { "quota-exceeded", "switch-project" }, NULL, 1, 0 },
};

static void
check_change(const char *text, size_t len, const struct change *c, char **outp, size_t *outlenp)
{
	cJSON *value = NULL, *want, *got, *at = NULL;
	struct cfg *cfg = NULL;
	char *out = NULL, err[256] = "";
	size_t outlen = 0, removed, added;
	int rc;

	if (c->json != NULL) {
		value = cJSON_Parse(c->json);
		assert_non_null(value);
		rc = yaml_set(text, len, c->path, value, &out, &outlen, err, sizeof(err));
	} else {
		rc = yaml_delete(text, len, c->path, &out, &outlen, err, sizeof(err));
	}
	if (rc != CP_OK)
		fprintf(stderr, "# %s: %s\n", c->path[0], err);
	assert_int_equal(rc, CP_OK);
	/* the value reads back */
	if (value != NULL) {
		assert_int_equal(yaml_get_json(out, outlen, c->path, &at, err, sizeof(err)), CP_OK);
		assert_true(cJSON_Compare(at, value, 1));
		cJSON_Delete(at);
	} else {
		assert_false(yaml_has(out, outlen, c->path));
	}
	/* every other key is unchanged */
	want = doc_json(text, len);
	json_put(want, c->path, value);
	got = doc_json(out, outlen);
	assert_true(cJSON_Compare(want, got, 1));
	cJSON_Delete(want);
	cJSON_Delete(got);
	/* the model still loads */
	rc = cfg_parse(out, outlen, &cfg, err, sizeof(err));
	if (rc != CP_OK)
		fprintf(stderr, "# %s: %s\n", c->path[0], err);
	assert_int_equal(rc, CP_OK);
	cfg_free(cfg);
	/* only the lines of this key changed */
	ct_diff(text, len, out, outlen, &removed, &added);
	if (removed != c->removed || added != c->added)
		fprintf(stderr, "# %s: removed %zu added %zu\n", c->path[0], removed, added);
	assert_int_equal(removed, c->removed);
	assert_int_equal(added, c->added);
	cJSON_Delete(value);
	if (outp != NULL) {
		*outp = out;
		*outlenp = outlen;
	} else {
		free(out);
	}
}

/* Each change alone on the pristine example file. */
static void
test_example_single_changes(void **state)
{
	size_t len, i;
	char *text = ct_read_src(EXAMPLE, &len);

	(void)state;
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
		check_change(text, len, &changes[i], NULL, NULL);
	free(text);
}

static bool
is_comment_or_blank(const char *p, size_t l)
{
	size_t i = 0;

	while (i < l && p[i] == ' ')
		i++;
	return i == l || p[i] == '\n' || p[i] == '#';
}

/* Acceptance (issue 2): a commented file survives 20+ changes in sequence,
 * each touching only its own lines; every comment and blank line of the
 * original is still there, in order. */
static void
test_sequence_keeps_comments(void **state)
{
	static const size_t seq[] = { 0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 15, 16, 19, 20, 24, 25, 26,
		27, 28, 30, 31 };
	size_t len, curlen, i, j, k;
	char *orig = ct_read_src(EXAMPLE, &len), *cur, *next = NULL;
	struct ct_lines lo, lc;

	(void)state;
	cur = malloc(len + 1);
	memcpy(cur, orig, len + 1);
	curlen = len;
	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		check_change(cur, curlen, &changes[seq[i]], &next, &curlen);
		free(cur);
		cur = next;
	}
	ct_split(orig, len, &lo);
	ct_split(cur, curlen, &lc);
	for (i = 0, j = 0; i < lo.n; i++) {
		if (!is_comment_or_blank(lo.p[i], lo.l[i]))
			continue;
		for (k = j; k < lc.n && !ct_line_eq(&lo, i, &lc, k); k++)
			;
		if (k == lc.n)
			fprintf(stderr, "# lost line %zu: %.*s", i + 1, (int)lo.l[i], lo.p[i]);
		assert_true(k < lc.n);
		j = k + 1;
	}
	free(lo.p);
	free(lo.l);
	free(lc.p);
	free(lc.l);
	free(cur);
	free(orig);
}

static const char *const tricky[] = {
	"#", "a #b", ": ", "a: b", "*x", "&x", "!x", "- x", "yes", "No", "null", "~", "123",
	"1.5", "0x1f", "1e3", "", " lead", "trail ", "\xc3\xbcn\xc3\xaf\x63\xc3\xb8\x64\xc3\xa9 \xe2\x9c\x93",
	"line\nbreak", "tab\t", "quote\"s", "back\\slash", "'single'", "%x", "@x", "`x",
	"?x", "[x", "{x", "|x", ">x", "true", "OFF", "On", "y", "-", "---", "...", "a,b", "x:",
	"ctrl\x01", "nel\xc2\x85", "https://example.com/a#b", "~/dir", "<<", "=", ".5", "+1",
	"-1", "0o17", "2001-12-14",
};

/* Tricky strings read back identical, by yaml_get_json and by the model. */
static void
test_tricky_strings(void **state)
{
	static const char base[] = "# c\nhost: old # keep me\napi-keys:\n  - k1\n  - k2\n";
	static const char *const hp[] = { "host", NULL };
	static const char *const ap[] = { "api-keys", NULL };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
		cJSON *v = cJSON_CreateString(tricky[i]), *got = NULL, *arr;
		struct cfg *c = NULL;
		char *out = NULL, *out2 = NULL, err[256] = "";
		size_t outlen, outlen2;
		int rc;

		rc = yaml_set(base, strlen(base), hp, v, &out, &outlen, err, sizeof(err));
		if (rc != CP_OK)
			fprintf(stderr, "# [%zu]: %s\n", i, err);
		assert_int_equal(rc, CP_OK);
		assert_int_equal(yaml_get_json(out, outlen, hp, &got, err, sizeof(err)), CP_OK);
		assert_true(cJSON_IsString(got));
		assert_string_equal(got->valuestring, tricky[i]);
		cJSON_Delete(got);
		assert_int_equal(cfg_parse(out, outlen, &c, err, sizeof(err)), CP_OK);
		assert_string_equal(c->host, tricky[i]);
		cfg_free(c);
		/* the trailing comment on that line stays */
		assert_non_null(strstr(out, " # keep me\n"));
		assert_int_equal(memcmp(out, "# c\nhost: ", 10), 0);
		if (tricky[i][0] != '\0') {
			/* and as a list item (flow-sensitive characters too) */
			arr = cJSON_CreateArray();
			cJSON_AddItemToArray(arr, cJSON_CreateString("k1"));
			cJSON_AddItemToArray(arr, cJSON_CreateString(tricky[i]));
			rc = yaml_set(out, outlen, ap, arr, &out2, &outlen2, err, sizeof(err));
			assert_int_equal(rc, CP_OK);
			assert_int_equal(cfg_parse(out2, outlen2, &c, err, sizeof(err)), CP_OK);
			assert_int_equal(c->api_keys.n, 2);
			assert_string_equal(c->api_keys.v[1], tricky[i]);
			cfg_free(c);
			free(out2);
			cJSON_Delete(arr);
		}
		free(out);
		cJSON_Delete(v);
	}
}

static char *
set1(const char *text, const char *const *path, const char *json, size_t *outlen, int *rc)
{
	cJSON *v = cJSON_Parse(json);
	char *out = NULL, err[256] = "";

	assert_non_null(v);
	*rc = yaml_set(text, strlen(text), path, v, &out, outlen, err, sizeof(err));
	if (*rc != CP_OK)
		fprintf(stderr, "# set: %s\n", err);
	cJSON_Delete(v);
	return out;
}

/* Shapes found in the wild: indentless lists, flow lists, empty and null
 * values, files without a final newline, empty and comment-only files. */
static void
test_shapes(void **state)
{
	static const char *const k[] = { "api-keys", NULL };
	static const char *const q[] = { "quota-exceeded", "switch-project", NULL };
	static const char *const pt[] = { "port", NULL };
	static const struct {
		const char *in, *const *path, *json, *want;
	} t[] = {
		{ "api-keys:\n- a\n- b\nx: 1\n", k, "[\"a\", \"c\"]", "api-keys:\n- a\n- c\nx: 1\n" },
		{ "api-keys:\n- a\n- b\nx: 1\n", k, "[\"a\", \"b\", \"c\"]",
		  "api-keys:\n- a\n- b\n- c\nx: 1\n" },
		{ "api-keys: [a, b] # flow\n", k, "[\"a\", \"b\", \"c,d\"]",
		  "api-keys: [a, b, \"c,d\"] # flow\n" },
		{ "api-keys: []\n", k, "[\"a\"]", "api-keys:\n  - a\n" },
		{ "api-keys:\nport: 1\n", k, "[\"a\"]", "api-keys:\n  - a\nport: 1\n" },
		{ "api-keys: # clients\nport: 1\n", k, "[\"a\"]", "api-keys: # clients\n  - a\nport: 1\n" },
		{ "port: 1", pt, "2", "port: 2" },
		{ "port: 1", k, "[\"a\"]", "port: 1\napi-keys:\n  - a\n" },
		{ "", q, "false", "quota-exceeded:\n  switch-project: false\n" },
		{ "# only a comment\n", pt, "5", "# only a comment\nport: 5\n" },
		{ "# c", pt, "5", "# c\nport: 5\n" },
		{ "quota-exceeded:\nport: 1\n", q, "false",
		  "quota-exceeded:\n  switch-project: false\nport: 1\n" },
		{ "quota-exceeded: {switch-preview-model: true}\n", q, "false",
		  "quota-exceeded: {switch-preview-model: true, switch-project: false}\n" },
		{ "a:\n    b: 1\nport: 1\n", q, "true",
		  "a:\n    b: 1\nport: 1\nquota-exceeded:\n    switch-project: true\n" },
		{ "api-keys:\n    - a   # first\n    # between\n    - b\n", k, "[\"a\", \"z\"]",
		  "api-keys:\n    - a   # first\n    # between\n    - z\n" },
		{ "api-keys:\n  - a\n  - b\n  - c\n", k, "[\"b\"]", "api-keys:\n  - b\n" },
		{ "port: |\n  5\nhost: x\n", pt, "6", "port: 6\nhost: x\n" },
		{ "port: \"7\"\n", pt, "8", "port: 8\n" },
		{ "\xef\xbb\xbfhost: \xc3\xbc\xc3\xbc\nport: 1\n", pt, "2",
		  "\xef\xbb\xbfhost: \xc3\xbc\xc3\xbc\nport: 2\n" },
		{ "host: \xc3\xbc\xc3\xbc # \xc3\xbc\nport: 1 # x\n", pt, "2",
		  "host: \xc3\xbc\xc3\xbc # \xc3\xbc\nport: 2 # x\n" },
		{ "port: 1\r\nhost: x\r\n", pt, "3", "port: 3\r\nhost: x\r\n" },
	};
	size_t i, outlen;
	char *out;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		out = set1(t[i].in, t[i].path, t[i].json, &outlen, &rc);
		assert_int_equal(rc, CP_OK);
		if (strcmp(out, t[i].want) != 0)
			fprintf(stderr, "# case %zu differs\n", i);
		assert_string_equal(out, t[i].want);
		assert_int_equal(outlen, strlen(t[i].want));
		free(out);
	}
}

static void
test_delete_and_errors(void **state)
{
	static const char *const q[] = { "quota-exceeded", "switch-project", NULL };
	static const char *const pt[] = { "port", NULL };
	static const char *const none[] = { "nope", NULL };
	static const char *const deep[] = { "port", "x", NULL };
	static const char *const empty[] = { NULL };
	const char *t = "port: 1 # p\nquota-exceeded:\n  switch-project: true\n";
	char *out = NULL, err[256];
	size_t outlen;
	cJSON *v = cJSON_CreateTrue();

	(void)state;
	assert_int_equal(yaml_delete(t, strlen(t), q, &out, &outlen, err, sizeof(err)), CP_OK);
	assert_string_equal(out, "port: 1 # p\nquota-exceeded: {}\n");
	free(out);
	assert_int_equal(yaml_delete(t, strlen(t), pt, &out, &outlen, err, sizeof(err)), CP_OK);
	assert_string_equal(out, "quota-exceeded:\n  switch-project: true\n");
	free(out);
	assert_int_equal(yaml_delete(t, strlen(t), none, &out, &outlen, err, sizeof(err)),
	    CP_ENOTFOUND);
	assert_null(out);
	/* port is a scalar, not a mapping */
	assert_int_equal(yaml_set(t, strlen(t), deep, v, &out, &outlen, err, sizeof(err)), CP_EINVAL);
	assert_null(out);
	assert_int_equal(yaml_set(t, strlen(t), empty, v, &out, &outlen, err, sizeof(err)), CP_EINVAL);
	assert_true(yaml_has(t, strlen(t), q));
	assert_false(yaml_has(t, strlen(t), none));
	/* broken input is refused with its line */
	assert_int_equal(yaml_set("a: 1\n b: 2\n", 11, pt, v, &out, &outlen, err, sizeof(err)),
	    CP_EPARSE);
	assert_non_null(strstr(err, "line 2"));
	/* a string that is not UTF-8 cannot be written */
	{
		cJSON *bad = cJSON_CreateString("\xff\xfe");
		assert_int_equal(yaml_set(t, strlen(t), pt, bad, &out, &outlen, err, sizeof(err)),
		    CP_EINVAL);
		assert_null(out);
		assert_true(err[0] != '\0');
		cJSON_Delete(bad);
	}
	/* editing through an alias is refused rather than changing two keys */
	{
		static const char *const bp[] = { "b", NULL };
		const char *a = "a: &x [1]\nb: *x\n";
		assert_int_equal(yaml_set(a, strlen(a), bp, v, &out, &outlen, err, sizeof(err)),
		    CP_EINVAL);
		assert_null(out);
	}
	cJSON_Delete(v);
}

/* yaml_seq_remove (issue 10 items 6 and 9): exactly the flagged items go,
 * each with the comment lines right above it at its '-' column and the
 * notes right below it indented under it; section comments and the other
 * items keep their bytes;
 * equal items are told apart by position; flow lists, emptied lists and a
 * length that does not match are handled or refused. */
static void
seq_remove_case(const char *in, const char *const *path, const bool *drop, size_t n,
    int want_rc, const char *want)
{
	char *out = NULL, err[256] = "";
	size_t outlen = 0;
	int rc = yaml_seq_remove(in, strlen(in), path, drop, n, &out, &outlen, err, sizeof(err));

	if (rc != want_rc || (want != NULL && (out == NULL || strcmp(out, want) != 0)))
		fprintf(stderr, "# rc %d err '%s' out:\n%s\n# wanted:\n%s\n", rc, err,
		    out != NULL ? out : "(null)", want != NULL ? want : "(null)");
	assert_int_equal(rc, want_rc);
	if (want != NULL) {
		assert_non_null(out);
		assert_int_equal(outlen, strlen(want));
		assert_string_equal(out, want);
	} else {
		assert_null(out);
	}
	free(out);
}

/* text without piece a and piece b (each must be there once); caller frees */
static char *
cut(const char *text, const char *a, const char *b)
{
	const char *pieces[2] = { a, b };
	char *out = strdup(text), *p;
	size_t i;

	assert_non_null(out);
	for (i = 0; i < 2 && pieces[i] != NULL; i++) {
		p = strstr(out, pieces[i]);
		assert_non_null(p);
		memmove(p, p + strlen(pieces[i]), strlen(p + strlen(pieces[i])) + 1);
	}
	return out;
}

static void
test_seq_remove(void **state)
{
	static const char *const keys[] = { "keys", NULL };
	static const char *const objs[] = { "objs", NULL };
	static const char *const nested[] = { "a", "list", NULL };
	static const char *const none[] = { "nothing", NULL };
	static const bool first[] = { true, false, false };
	static const bool second[] = { false, true, false };
	static const bool ends[] = { true, false, true };
	static const bool all2[] = { true, true };
	static const bool first2[] = { true, false };
	char *want;
	const char *text =
	    "# head\n"
	    "keys:\n"
	    "  # the first dup\n"
	    "  - dup   # c1\n"
	    "  # the second dup\n"
	    "  # (two lines)\n"
	    "  - dup   # c2\n"
	    "\n"
	    "  - tail\n"
	    "# section comment of objs\n"
	    "objs:\n"
	    "  # A\n"
	    "  - api-key: a\n"
	    "    priority: 1\n"
	    "      # a note indented under a\n"
	    "  - api-key: b\n"
	    "  - {api-key: c}\n"
	    "after: 1\n";

	(void)state;
	/* equal items: the one at the position goes, with its own comments */
	want = cut(text, "  # the first dup\n  - dup   # c1\n", NULL);
	seq_remove_case(text, keys, first, 3, CP_OK, want);
	free(want);
	/* both comment lines above the second go; the blank line below stays */
	want = cut(text, "  # the second dup\n  # (two lines)\n  - dup   # c2\n", NULL);
	seq_remove_case(text, keys, second, 3, CP_OK, want);
	free(want);
	/* notes indented under an item go with it; the section comment stays */
	want = cut(text, "  # A\n  - api-key: a\n    priority: 1\n      # a note indented under a\n",
	    "  - {api-key: c}\n");
	seq_remove_case(text, objs, ends, 3, CP_OK, want);
	free(want);
	/* every item: "keys: []", through yaml_set */
	seq_remove_case("keys:\n  - a\n  - b\nx: 1\n", keys, all2, 2, CP_OK, "keys: []\nx: 1\n");
	/* flow style stays flow */
	seq_remove_case("keys: [a, b]  # flow\n", keys, first2, 2, CP_OK, "keys: [b]  # flow\n");
	/* nested path, items at the key's column */
	seq_remove_case("a:\n  list:\n  # x\n  - 1\n  - 2\n", nested, first2, 2, CP_OK,
	    "a:\n  list:\n  - 2\n");
	/* the list changed since it was read, or is not there */
	seq_remove_case(text, keys, first2, 2, CP_EINVAL, NULL);
	seq_remove_case(text, none, first2, 2, CP_ENOTFOUND, NULL);
	seq_remove_case("keys: 1\n", keys, first2, 2, CP_EINVAL, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_single_changes),
		cmocka_unit_test(test_sequence_keeps_comments),
		cmocka_unit_test(test_tricky_strings),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_delete_and_errors),
		cmocka_unit_test(test_seq_remove),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
