/*
 * test_proxyd_catalogue.c - model routing (PROVIDERS.md 1): the built-in
 * catalogue's families by prefix, and a snapshot built from a config
 * routing by alias first, then by family, with key items' own models,
 * per-key base-url and the endpoints: mapping.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxyd.h"

/* snapshot.c counts ignored auth files in the status counters. */
struct status_counters status_ctr;

static void
test_families(void **state)
{
	const char *const *names;
	size_t n, i;

	(void)state;
	assert_int_equal(catalogue_family("gemini-2.5-pro"), CAT_GEMINI);
	assert_int_equal(catalogue_family("gemini-9-new"), CAT_GEMINI);
	assert_int_equal(catalogue_family("claude-sonnet-4-5"), CAT_CLAUDE);
	assert_int_equal(catalogue_family("gpt-5-codex"), CAT_CODEX);
	assert_int_equal(catalogue_family("o3-mini"), CAT_CODEX);
	assert_int_equal(catalogue_family("o4-mini"), CAT_CODEX);
	assert_int_equal(catalogue_family("codex-mini-latest"), CAT_CODEX);
	assert_int_equal(catalogue_family("qwen3-coder-plus"), CAT_QWEN);
	assert_int_equal(catalogue_family("llama-3"), CAT_NONE);
	assert_int_equal(catalogue_family("gemini"), CAT_NONE);
	assert_int_equal(catalogue_family(""), CAT_NONE);
	/* Every catalogue name is in the family of its own prefix. */
	for (int f = CAT_GEMINI; f < CAT__COUNT; f++) {
		names = catalogue_names((enum cat_family)f, &n);
		assert_true(n > 0);
		for (i = 0; i < n; i++)
			assert_int_equal(catalogue_family(names[i]), f);
	}
	names = catalogue_names(CAT_CLAUDE, &n);
	for (i = 0; i < n; i++)
		if (strcmp(names[i], "claude-sonnet-4-5") == 0)
			break;
	assert_true(i < n);
}

static struct snapshot *
build(const char *yaml)
{
	char *text = strdup(yaml), err[256];
	struct authfile *auth = NULL;
	struct snapshot *s = NULL;
	char sha[65];

	memset(sha, '0', 64);
	sha[64] = '\0';
	assert_non_null(text);
	if (snapshot_build(&text, strlen(yaml), &auth, 0, sha, true, &s, err,
	    sizeof(err)) != CP_OK)
		fail_msg("snapshot_build: %s", err);
	free(text);
	return s;
}

static const char *cfg_all =
    "auth-dir: /nonexistent-cliproxy-test\n"
    "endpoints:\n"
    "  gemini: http://127.0.0.1:1/g/\n"
    "  codex-api: http://127.0.0.1:2/v1\n"
    "generative-language-api-key: [g-1, g-2]\n"
    "claude-api-key:\n"
    "  - api-key: c-1\n"
    "  - api-key: c-2\n"
    "    base-url: http://127.0.0.1:3/own\n"
    "    models:\n"
    "      - name: claude-opus-4-1-20250805\n"
    "        alias: opus\n"
    "codex-api-key:\n"
    "  - api-key: x-1\n"
    "openai-compatibility:\n"
    "  - name: mock\n"
    "    base-url: http://127.0.0.1:4/v1\n"
    "    api-keys: [o-1]\n"
    "    models:\n"
    "      - name: up-model\n"
    "        alias: gemini-2.5-pro\n"
    "      - name: local\n";

static void
test_routes(void **state)
{
	struct snapshot *s = build(cfg_all);
	const struct route_model *m;
	size_t i;

	(void)state;
	assert_int_equal(snapshot_n_creds(s), 6);
	/* An openai-compatibility alias wins over the gemini- prefix. */
	m = snapshot_route(s, "gemini-2.5-pro");
	assert_non_null(m);
	assert_int_equal(m->n, 1);
	assert_ptr_equal(m->t[0].prov->ops, &prov_openai_compat);
	assert_string_equal(m->t[0].upstream, "up-model");
	/* Other gemini- names go to the Gemini keys, name as asked. */
	m = snapshot_route(s, "gemini-2.5-flash");
	assert_non_null(m);
	assert_int_equal(m->n, 1);
	assert_ptr_equal(m->t[0].prov->ops, &prov_gemini_key);
	assert_null(m->t[0].upstream);
	assert_int_equal(m->t[0].prov->n_creds, 2);
	assert_string_equal(m->t[0].prov->base_url, "http://127.0.0.1:1/g");
	/* claude-: both key items, each with its base URL. */
	m = snapshot_route(s, "claude-sonnet-4-5");
	assert_non_null(m);
	assert_int_equal(m->n, 2);
	assert_string_equal(m->t[0].prov->base_url, "https://api.anthropic.com");
	assert_string_equal(m->t[1].prov->base_url, "http://127.0.0.1:3/own");
	/* A key item's own alias goes to that item only. */
	m = snapshot_route(s, "opus");
	assert_non_null(m);
	assert_int_equal(m->n, 1);
	assert_string_equal(m->t[0].prov->creds[0].secret, "c-2");
	assert_string_equal(m->t[0].upstream, "claude-opus-4-1-20250805");
	m = snapshot_route(s, "o3");
	assert_non_null(m);
	assert_ptr_equal(m->t[0].prov->ops, &prov_codex_key);
	assert_string_equal(m->t[0].prov->base_url, "http://127.0.0.1:2/v1");
	assert_non_null(snapshot_route(s, "local"));
	/* Nobody serves these. */
	assert_null(snapshot_route(s, "qwen3-coder-plus"));
	assert_null(snapshot_route(s, "llama-3"));
	/* Static headers are built once per credential, stream or not. */
	for (i = 0; i < s->n_provs; i++)
		for (size_t j = 0; j < s->provs[i]->n_creds; j++) {
			assert_non_null(s->provs[i]->creds[j].hdrs[0]);
			assert_non_null(s->provs[i]->creds[j].hdrs[1]);
		}
	snapshot_unref(s);
}

static void
test_names(void **state)
{
	struct snapshot *s = build(cfg_all);
	const char **names = NULL;
	size_t n = 0, i, have = 0;

	(void)state;
	assert_int_equal(snapshot_model_names(s, &names, &n), CP_OK);
	for (i = 0; i < n; i++) {
		if (i > 0)
			assert_true(strcmp(names[i - 1], names[i]) < 0); /* sorted, unique */
		if (strcmp(names[i], "gemini-2.5-pro") == 0 || strcmp(names[i], "opus") == 0 ||
		    strcmp(names[i], "local") == 0 || strcmp(names[i], "gpt-5") == 0 ||
		    strcmp(names[i], "claude-sonnet-4-5") == 0)
			have++;
		assert_int_not_equal(catalogue_family(names[i]), CAT_QWEN);
	}
	assert_int_equal(have, 5);
	free(names);
	snapshot_unref(s);
}

/* Each provider's URL for each operation; a model name from a request
 * body never reaches a Gemini URL unless it is a model name. */
static void
test_urls(void **state)
{
	struct snapshot *s = build(cfg_all);
	const struct route_model *g = snapshot_route(s, "gemini-2.5-flash");
	const struct route_model *c = snapshot_route(s, "opus");
	const struct route_model *x = snapshot_route(s, "gpt-5");
	const struct route_model *o = snapshot_route(s, "local");
	struct up_target t = { FMT_GEMINI, UPOP_GENERATE, false, "gemini-2.5-flash" };
	static const char *const bad[] = {
		"gemini-x/../y", "gemini-x?key=1", "gemini-x#f", "gemini x", "gemini-%2f", "",
	};
	struct buf b;
	size_t i;

	(void)state;
	buf_init(&b, PXD_URL_MAX);
#define URL(rm, want) do { \
		assert_int_equal((rm)->t[0].prov->ops->url((rm)->t[0].prov, \
		    &(rm)->t[0].prov->creds[0], &t, &b), CP_OK); \
		assert_string_equal(b.p, want); \
	} while (0)
	URL(g, "http://127.0.0.1:1/g/v1beta/models/gemini-2.5-flash:generateContent");
	t.op = UPOP_STREAM;
	URL(g, "http://127.0.0.1:1/g/v1beta/models/gemini-2.5-flash:streamGenerateContent");
	t.gemini_sse = true;
	URL(g, "http://127.0.0.1:1/g/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
	t.op = UPOP_COUNT;
	URL(g, "http://127.0.0.1:1/g/v1beta/models/gemini-2.5-flash:countTokens");
	URL(c, "http://127.0.0.1:3/own/v1/messages/count_tokens");
	t.op = UPOP_STREAM;
	URL(c, "http://127.0.0.1:3/own/v1/messages");
	URL(x, "http://127.0.0.1:2/v1/responses");
	t.fmt = FMT_OPENAI_CHAT;
	URL(o, "http://127.0.0.1:4/v1/chat/completions");
	t.fmt = FMT_OPENAI_COMPLETIONS;
	URL(o, "http://127.0.0.1:4/v1/completions");
#undef URL
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		t.model = bad[i];
		assert_int_equal(g->t[0].prov->ops->url(g->t[0].prov, &g->t[0].prov->creds[0],
		    &t, &b), CP_EINVAL);
	}
	buf_release(&b);
	snapshot_unref(s);
}

/* Without keys of a family, its prefix routes nowhere. */
static void
test_empty(void **state)
{
	struct snapshot *s = build("auth-dir: /nonexistent-cliproxy-test\n");
	const char **names = NULL;
	size_t n = 7;

	(void)state;
	assert_null(snapshot_route(s, "gemini-2.5-pro"));
	assert_null(snapshot_route(s, "claude-sonnet-4-5"));
	assert_int_equal(snapshot_model_names(s, &names, &n), CP_OK);
	assert_int_equal(n, 0);
	snapshot_unref(s);
}

/* Auth files (name, JSON text) as snapshot_read_auth gives them, built
 * into a snapshot of yaml. */
static struct snapshot *
build_auth(const char *yaml, const char *const files[][2], size_t n)
{
	char *text = strdup(yaml), err[256], sha[65];
	struct authfile *auth = calloc(n, sizeof(*auth));
	struct snapshot *s = NULL;
	const char *type;
	size_t i;

	assert_non_null(text);
	assert_non_null(auth);
	memset(sha, '0', 64);
	sha[64] = '\0';
	for (i = 0; i < n; i++) {
		auth[i].name = strdup(files[i][0]);
		auth[i].json = cJSON_Parse(files[i][1]);
		assert_non_null(auth[i].json);
		if (json_get_string(auth[i].json, "type", &type) != CP_OK)
			type = "gemini";
		auth[i].type = strdup(type);
	}
	if (snapshot_build(&text, strlen(yaml), &auth, n, sha, true, &s, err,
	    sizeof(err)) != CP_OK)
		fail_msg("snapshot_build: %s", err);
	free(text);
	return s;
}

static const char *
auth_why(const struct snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_auth; i++)
		if (strcmp(s->auth[i].name, name) == 0)
			return s->auth[i].why;
	fail_msg("no auth file %s", name);
	return NULL;
}

/* The base URL of the account made of auth file name. */
static const char *
acct_base(const struct snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->n_provs; i++)
		for (size_t j = 0; j < s->provs[i]->n_creds; j++)
			if (s->provs[i]->creds[j].acct != NULL &&
			    strcmp(s->provs[i]->creds[j].acct->name, name) == 0)
				return s->provs[i]->base_url;
	return NULL;
}

/* PROVIDERS 3, 7: a qwen account at https://{resource_url}/v1, else
 * {qwen}; an endpoints: qwen entry wins; a resource_url that is not a
 * host name never receives the token. */
static void
test_qwen_resource_url(void **state)
{
	static const char *const files[][2] = {
		{ "q1.json", "{\"type\":\"qwen\",\"access_token\":\"t1\","
		    "\"resource_url\":\"portal.qwen.ai\"}" },
		{ "q2.json", "{\"type\":\"qwen\",\"access_token\":\"t2\","
		    "\"resource_url\":\"https://other.example:8443/\"}" },
		{ "q3.json", "{\"type\":\"qwen\",\"access_token\":\"t3\"}" },
		{ "q4.json", "{\"type\":\"qwen\",\"access_token\":\"t4\","
		    "\"resource_url\":\"evil.example/x?y\"}" },
		{ "q5.json", "{\"type\":\"qwen\",\"access_token\":\"t5\","
		    "\"resource_url\":\"http://plain.example\"}" },
		{ "q6.json", "{\"type\":\"qwen\",\"access_token\":\"t6\","
		    "\"resource_url\":\"user@host.example\"}" },
		{ "q7.json", "{\"type\":\"qwen\",\"access_token\":\"t7\","
		    "\"resource_url\":\"host.example:\"}" },
	};
	struct snapshot *s = build_auth("auth-dir: /nonexistent-cliproxy-test\n", files, 7);
	const struct route_model *m;

	(void)state;
	assert_string_equal(acct_base(s, "q1.json"), "https://portal.qwen.ai/v1");
	assert_string_equal(acct_base(s, "q2.json"), "https://other.example:8443/v1");
	assert_string_equal(acct_base(s, "q3.json"), "https://portal.qwen.ai/v1");
	for (const char *const *n = (const char *const[]){ "q4.json", "q5.json", "q6.json",
	    "q7.json", NULL }; *n != NULL; n++) {
		assert_null(acct_base(s, *n));
		assert_string_equal(auth_why(s, *n), "resource_url is not a host name");
	}
	m = snapshot_route(s, "qwen3-coder-plus");
	assert_non_null(m);
	assert_int_equal(m->n, 2); /* one instance per host */
	snapshot_unref(s);
	s = build_auth("auth-dir: /nonexistent-cliproxy-test\nendpoints:\n"
	    "  qwen: http://127.0.0.1:9/q/v1\n", files, 3);
	assert_string_equal(acct_base(s, "q1.json"), "http://127.0.0.1:9/q/v1");
	assert_string_equal(acct_base(s, "q2.json"), "http://127.0.0.1:9/q/v1");
	assert_string_equal(acct_base(s, "q3.json"), "http://127.0.0.1:9/q/v1");
	snapshot_unref(s);
}

/* An account's id comes from its kind and file name, not its token. */
static void
test_account_ids(void **state)
{
	static const char *const a[][2] = {
		{ "c.json", "{\"type\":\"claude\",\"access_token\":\"tok-1\"}" },
		{ "d.json", "{\"type\":\"claude\",\"access_token\":\"tok-1\"}" },
	};
	static const char *const b[][2] = {
		{ "c.json", "{\"type\":\"claude\",\"access_token\":\"tok-2\"}" },
	};
	struct snapshot *s1 = build_auth("auth-dir: /nonexistent-cliproxy-test\n", a, 2);
	struct snapshot *s2 = build_auth("auth-dir: /nonexistent-cliproxy-test\n", b, 1);
	const struct cred *c1 = &snapshot_route(s1, "claude-x")->t[0].prov->creds[0];
	const struct cred *d1 = &snapshot_route(s1, "claude-x")->t[0].prov->creds[1];
	const struct cred *c2 = &snapshot_route(s2, "claude-x")->t[0].prov->creds[0];

	(void)state;
	assert_string_equal(c1->acct->name, "c.json");
	assert_string_equal(c1->secret, "tok-1");
	assert_string_equal(c2->secret, "tok-2");
	assert_string_equal(c1->id, c2->id);
	assert_string_not_equal(c1->id, d1->id);
	snapshot_unref(s1);
	snapshot_unref(s2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_qwen_resource_url),
		cmocka_unit_test(test_account_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
