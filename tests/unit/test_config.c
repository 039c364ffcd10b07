/*
 * test_config.c - the configuration model (DESIGN.md 3): defaults, flat
 * aliases, "~" expansion, YAML 1.1 booleans, strict integers, errors that
 * name the key and the line, caps, and the effective config as JSON.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core.h"
#include "cfgtest.h"

static struct cfg *
parse_ok(const char *text)
{
	struct cfg *c = NULL;
	char err[256] = "";
	int rc = cfg_parse(text, strlen(text), &c, err, sizeof(err));

	if (rc != CP_OK)
		fprintf(stderr, "# unexpected: %s\n", err);
	assert_int_equal(rc, CP_OK);
	assert_non_null(c);
	return c;
}

static void
parse_fails(const char *text, int want_rc, const char *want_prefix)
{
	struct cfg *c = NULL;
	char err[256] = "";
	int rc = cfg_parse(text, strlen(text), &c, err, sizeof(err));

	if (rc != want_rc || strncmp(err, want_prefix, strlen(want_prefix)) != 0)
		fprintf(stderr, "# rc %d err '%s' (wanted '%s')\n", rc, err, want_prefix);
	assert_int_equal(rc, want_rc);
	assert_null(c);
	assert_int_equal(strncmp(err, want_prefix, strlen(want_prefix)), 0);
}

static void
test_defaults(void **state)
{
	static const char *const texts[] = { "", "# nothing here\n\n   # at all\n", "---\n",
		"~\n", "port:\n" };
	size_t i;

	(void)state;
	setenv("HOME", "/home/tester", 1);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct cfg *c = parse_ok(texts[i]);
		assert_int_equal(c->port, 8317);
		assert_string_equal(c->host, "127.0.0.1");
		assert_false(c->allow_remote);
		assert_string_equal(c->secret_key, "");
		assert_string_equal(c->secret_key_path, "remote-management.secret-key");
		assert_string_equal(c->auth_dir, "/home/tester/.cli-proxy-api");
		assert_false(c->debug);
		assert_string_equal(c->proxy_url, "");
		assert_int_equal(c->request_retry, 0);
		assert_true(c->switch_project);
		assert_true(c->switch_preview_model);
		assert_int_equal(c->api_keys.n, 0);
		assert_non_null(c->api_keys.v);
		assert_int_equal(c->gl_api_keys.n, 0);
		assert_int_equal(c->n_claude, 0);
		assert_int_equal(c->n_codex, 0);
		assert_int_equal(c->n_compat, 0);
		assert_false(c->request_log);
		assert_false(c->allow_localhost_unauth);
		assert_string_equal(c->request_log_dir, "");
		assert_int_equal(c->trusted_proxies.n, 2);
		assert_string_equal(c->trusted_proxies.v[0], "127.0.0.0/8");
		assert_string_equal(c->trusted_proxies.v[1], "::1");
		assert_int_equal(c->n_endpoints, 0);
		cfg_free(c);
	}
}

static void
test_example(void **state)
{
	size_t len;
	char *t = ct_read_src("conf/config.example.yaml", &len);
	struct cfg *c = NULL;
	char err[256] = "";

	(void)state;
	setenv("HOME", "/home/ex", 1);
	assert_int_equal(cfg_parse(t, len, &c, err, sizeof(err)), CP_OK);
	assert_int_equal(c->port, 8317);
	assert_int_equal(c->request_retry, 3);
	assert_string_equal(c->auth_dir, "/home/ex/.cli-proxy-api");
	assert_int_equal(c->api_keys.n, 2);
	assert_string_equal(c->api_keys.v[0], "sk-client-key-one");
	assert_int_equal(c->gl_api_keys.n, 2);
	assert_int_equal(c->n_claude, 2);
	assert_string_equal(c->claude[0].base_url, "");
	assert_string_equal(c->claude[1].base_url, "https://claude-gateway.example.com");
	assert_int_equal(c->n_codex, 0);
	assert_int_equal(c->n_compat, 1);
	assert_string_equal(c->compat[0].name, "openrouter");
	assert_int_equal(c->compat[0].api_keys.n, 1);
	assert_int_equal(c->compat[0].n_models, 1);
	assert_string_equal(c->compat[0].models[0].name, "moonshotai/kimi-k2:free");
	assert_string_equal(c->compat[0].models[0].alias, "kimi-k2");
	assert_int_equal(c->n_endpoints, 1);
	assert_string_equal(c->endpoints[0].name, "claude");
	cfg_free(c);
	free(t);
}

static void
test_aliases(void **state)
{
	struct cfg *c;

	(void)state;
	c = parse_ok("allow-remote-management: true\nremote-management-key: flat\n");
	assert_true(c->allow_remote);
	assert_string_equal(c->secret_key, "flat");
	assert_string_equal(c->secret_key_path, "remote-management-key");
	cfg_free(c);
	/* nested wins when both are present */
	c = parse_ok("allow-remote-management: true\nremote-management-key: flat\n"
	    "remote-management:\n  allow-remote: false\n  secret-key: nested\n");
	assert_false(c->allow_remote);
	assert_string_equal(c->secret_key, "nested");
	assert_string_equal(c->secret_key_path, "remote-management.secret-key");
	cfg_free(c);
	/* an empty nested key does not hide the flat one */
	c = parse_ok("remote-management-key: flat\nremote-management:\n  secret-key:\n");
	assert_string_equal(c->secret_key, "flat");
	assert_string_equal(c->secret_key_path, "remote-management-key");
	cfg_free(c);
	c = parse_ok("remote-management:\n  secret-key: \"$2b$10$x\"\n");
	assert_string_equal(c->secret_key, "$2b$10$x");
	assert_string_equal(c->secret_key_path, "remote-management.secret-key");
	cfg_free(c);
}

/* Issue 10 item 8: a plaintext management key longer than the 72 bytes
 * bcrypt reads is refused at load with the line, the key's name and the
 * limit, never the key; 72 bytes load, and so does a hash. */
static void
test_long_management_key(void **state)
{
	char text[256], key[80], err[256] = "";
	struct cfg *c = NULL;

	(void)state;
	memset(key, 'k', 72);
	key[72] = '\0';
	snprintf(text, sizeof(text), "port: 8317\nremote-management:\n  secret-key: %s\n", key);
	c = parse_ok(text);
	assert_int_equal(strlen(c->secret_key), 72);
	cfg_free(c);
	c = NULL;
	snprintf(text, sizeof(text), "port: 8317\nremote-management:\n  secret-key: %sx\n", key);
	parse_fails(text, CP_EINVAL, "line 3: remote-management.secret-key: the management key "
	    "is longer than 72 bytes");
	assert_int_equal(cfg_parse(text, strlen(text), &c, err, sizeof(err)), CP_EINVAL);
	assert_null(strstr(err, key));
	snprintf(text, sizeof(text), "remote-management-key: \"%sxyz\"\n", key);
	parse_fails(text, CP_EINVAL, "line 1: remote-management-key: the management key is "
	    "longer than 72 bytes");
}

static void
test_home(void **state)
{
	struct cfg *c;
	char *p;

	(void)state;
	setenv("HOME", "/srv/h", 1);
	c = parse_ok("auth-dir: ~/creds\n");
	assert_string_equal(c->auth_dir, "/srv/h/creds");
	cfg_free(c);
	c = parse_ok("auth-dir: \"~\"\n");
	assert_string_equal(c->auth_dir, "/srv/h");
	cfg_free(c);
	c = parse_ok("auth-dir: /abs/dir\n");
	assert_string_equal(c->auth_dir, "/abs/dir");
	cfg_free(c);
	p = cfg_expand_home("~other/x");
	assert_string_equal(p, "~other/x");
	free(p);
	p = cfg_expand_home("a/~/b");
	assert_string_equal(p, "a/~/b");
	free(p);
}

static void
test_booleans_ints(void **state)
{
	static const struct {
		const char *word;
		bool v;
	} b[] = {
		{ "true", true }, { "True", true }, { "TRUE", true }, { "yes", true },
		{ "Yes", true }, { "on", true }, { "ON", true }, { "false", false },
		{ "False", false }, { "no", false }, { "NO", false }, { "off", false },
		{ "Off", false },
	};
	char text[128];
	struct cfg *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(b) / sizeof(b[0]); i++) {
		snprintf(text, sizeof(text), "debug: %s\nrequest-log: %s\n", b[i].word, b[i].word);
		c = parse_ok(text);
		assert_int_equal(c->debug, b[i].v);
		assert_int_equal(c->request_log, b[i].v);
		cfg_free(c);
	}
	c = parse_ok("port: 1\nrequest-retry: 100\n");
	assert_int_equal(c->port, 1);
	assert_int_equal(c->request_retry, 100);
	cfg_free(c);
	c = parse_ok("port: 65535\nhost: 10.1.2.3\n");
	assert_int_equal(c->port, 65535);
	assert_string_equal(c->host, "10.1.2.3");
	cfg_free(c);
	/* a number where a string is expected is that string */
	c = parse_ok("api-keys: [12345, abc]\n");
	assert_string_equal(c->api_keys.v[0], "12345");
	cfg_free(c);
}

static void
test_syntax_errors(void **state)
{
	(void)state;
	/* bad indentation */
	parse_fails("port: 1\nhost: a\n  debug: true\n", CP_EPARSE, "line 3: ");
	parse_fails("api-keys:\n  - a\n - b\nport: 1\n", CP_EPARSE, "line 3: ");
	/* unclosed quote: the line where it opened */
	parse_fails("port: 1\nhost: \"abc\ndebug: true\n", CP_EPARSE, "line 2: ");
	/* tab indentation */
	parse_fails("quota-exceeded:\n\tswitch-project: true\n", CP_EPARSE, "line 2: ");
	parse_fails("api-keys: [a, b\nport: 1\n", CP_EPARSE, "line ");
	parse_fails("a: 1\n---\nb: 2\n", CP_EINVAL, "line 2: more than one document");
	parse_fails("port: 1\nhost: x\nport: 2\n", CP_EINVAL,
	    "line 3: duplicate key (the same key as line 1)");
	/* The key text never reaches the message: it may be a secret typed
	 * where a list item was meant (issue 10). */
	parse_fails("api-keys:\n  - {sk-secret-0123456789: 1, sk-secret-0123456789: 2}\n",
	    CP_EINVAL, "line 2: duplicate key (the same key as line 2)");
	parse_fails("a: 1\nb: 2\nc: 3\nsk-secret-0123456789: 1\nsk-secret-0123456789: 2\n",
	    CP_EINVAL, "line 5: duplicate key (the same key as line 4)");
	parse_fails("- a\n- b\n", CP_EINVAL, "line 1: ");
	parse_fails("a: *nope\n", CP_EPARSE, "line 1: unknown alias");
	parse_fails("\xff\xfe" "a\0:\0", CP_EPARSE, "line 1");
}

static void
test_semantic_errors(void **state)
{
	(void)state;
	parse_fails("# c\nrequest-retry: 101\n", CP_EINVAL, "line 2: request-retry: must be an integer 0..100");
	parse_fails("request-retry: abc\n", CP_EINVAL, "line 1: request-retry: must be an integer");
	parse_fails("request-retry: -1\n", CP_EINVAL, "line 1: request-retry:");
	parse_fails("request-retry: 1.5\n", CP_EINVAL, "line 1: request-retry:");
	parse_fails("request-retry: \"5\"\n", CP_EINVAL, "line 1: request-retry:");
	parse_fails("request-retry: 0x5\n", CP_EINVAL, "line 1: request-retry:");
	parse_fails("\n\nport: 70000\n", CP_EINVAL, "line 3: port: must be an integer 1..65535");
	parse_fails("port: 0\n", CP_EINVAL, "line 1: port:");
	parse_fails("port: [1]\n", CP_EINVAL, "line 1: port:");
	parse_fails("proxy-url: ftp://x\n", CP_EINVAL, "line 1: proxy-url:");
	parse_fails("proxy-url: http://\n", CP_EINVAL, "line 1: proxy-url:");
	parse_fails("proxy-url: socks5://a b\n", CP_EINVAL, "line 1: proxy-url:");
	parse_fails("debug: maybe\n", CP_EINVAL, "line 1: debug: must be true or false");
	parse_fails("debug: \"true\"\n", CP_EINVAL, "line 1: debug:");
	parse_fails("quota-exceeded:\n  switch-project: 2\n", CP_EINVAL,
	    "line 2: quota-exceeded.switch-project:");
	parse_fails("quota-exceeded: 5\n", CP_EINVAL, "line 1: quota-exceeded:");
	parse_fails("remote-management:\n  allow-remote: perhaps\n", CP_EINVAL,
	    "line 2: remote-management.allow-remote:");
	parse_fails("claude-api-key:\n  - base-url: https://x\n", CP_EINVAL,
	    "line 2: claude-api-key[0]: api-key must be a non-empty string");
	parse_fails("codex-api-key:\n  - api-key: k\n  - api-key: \"\"\n", CP_EINVAL,
	    "line 3: codex-api-key[1]: api-key");
	parse_fails("claude-api-key:\n  - api-key: k\n    base-url: ftp://x\n", CP_EINVAL,
	    "line 3: claude-api-key[0]: base-url");
	parse_fails("claude-api-key: [k]\n", CP_EINVAL, "line 1: claude-api-key[0]:");
	parse_fails("api-keys: a\n", CP_EINVAL, "line 1: api-keys: must be a list");
	parse_fails("api-keys:\n  - a\n  - [b]\n", CP_EINVAL, "line 3: api-keys:");
	parse_fails("api-keys:\n  - a\n  - \"\"\n", CP_EINVAL, "line 3: api-keys:");
	parse_fails("api-keys:\n  - a\n  -\n", CP_EINVAL, "line 3: api-keys:");
	parse_fails("openai-compatibility:\n  - base-url: https://x\n", CP_EINVAL,
	    "line 2: openai-compatibility[0]: name");
	parse_fails("openai-compatibility:\n  - name: a\n    models:\n      - alias: b\n",
	    CP_EINVAL, "line 4: openai-compatibility[0]: models name");
	parse_fails("openai-compatibility:\n  - name: a\n    api-keys: k\n", CP_EINVAL,
	    "line 3: openai-compatibility[0]:");
	parse_fails("trusted-proxies: [10.0.0.0/33]\n", CP_EINVAL, "line 1: trusted-proxies:");
	parse_fails("trusted-proxies: [bogus]\n", CP_EINVAL, "line 1: trusted-proxies:");
	parse_fails("endpoints:\n  claude: not-a-url\n", CP_EINVAL, "line 2: endpoints:");
	parse_fails("endpoints: [a]\n", CP_EINVAL, "line 1: endpoints:");
	/* no secret in the message */
	{
		struct cfg *c = NULL;
		char err[256] = "";
		assert_int_equal(cfg_parse("remote-management-key: [s3cr3t]\n", 32, &c, err,
		    sizeof(err)), CP_EINVAL);
		assert_null(strstr(err, "s3cr3t"));
	}
}

static void
test_caps(void **state)
{
	struct buf b;
	struct cfg *c = NULL;
	char err[256] = "";
	size_t i;

	(void)state;
	/* nesting */
	buf_init(&b, 2 * CP_CONFIG_MAX);
	buf_appends(&b, "x: ");
	for (i = 0; i < CP_YAML_DEPTH_MAX + 5; i++)
		buf_appends(&b, "[");
	for (i = 0; i < CP_YAML_DEPTH_MAX + 5; i++)
		buf_appends(&b, "]");
	assert_int_equal(cfg_parse(b.p, b.len, &c, err, sizeof(err)), CP_ETOOBIG);
	assert_non_null(strstr(err, "nesting"));
	/* billion laughs: each level doubles */
	buf_reset(&b);
	buf_appends(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (i = 1; i < 30; i++)
		buf_printf(&b, "a%zu: &a%zu [*a%zu, *a%zu, *a%zu, *a%zu, *a%zu, *a%zu, *a%zu, *a%zu]\n",
		    i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	assert_int_equal(cfg_parse(b.p, b.len, &c, err, sizeof(err)), CP_ETOOBIG);
	/* node count */
	buf_reset(&b);
	buf_appends(&b, "k: [");
	for (i = 0; i < YAML_NODES_MAX; i++)
		buf_appends(&b, "1,");
	buf_appends(&b, "1]\n");
	assert_int_equal(cfg_parse(b.p, b.len, &c, err, sizeof(err)), CP_ETOOBIG);
	assert_non_null(strstr(err, "too many nodes"));
	/* a small, harmless alias is resolved */
	c = parse_ok("k: &k [one, two]\napi-keys: *k\n");
	assert_int_equal(c->api_keys.n, 2);
	assert_string_equal(c->api_keys.v[1], "two");
	cfg_free(c);
	c = NULL;
	/* size */
	buf_reset(&b);
	buf_appends(&b, "# ");
	while (b.len < CP_CONFIG_MAX + 1)
		buf_appends(&b, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n");
	assert_int_equal(cfg_parse(b.p, b.len, &c, err, sizeof(err)), CP_ETOOBIG);
	assert_null(c);
	buf_release(&b);
}

/* issue 15: api-key-policy, state-dir and the usage retention keys. */
static void
test_usage_policy(void **state)
{
	struct cfg *c;
	cJSON *j;
	char *txt;

	(void)state;
	c = parse_ok("");
	assert_string_equal(c->state_dir, "");
	assert_int_equal(c->usage_raw_days, 7);
	assert_int_equal(c->usage_days, 400);
	assert_int_equal(c->n_policy, 0);
	cfg_free(c);
	c = parse_ok("state-dir: /srv/state\nusage-raw-days: 2\nusage-days: 30\n"
	    "api-key-policy:\n"
	    "  - api-key: k1\n    name: team-a\n    models: [\"claude-*\"]\n"
	    "    max-requests-per-minute: 60\n    max-tokens-per-day: 1000000000000\n"
	    "    disabled: true\n"
	    "  - api-key: sha256:0123456789abcdef0123456789abcdef0123456789ABCDEF0123456789abcdef\n");
	assert_string_equal(c->state_dir, "/srv/state");
	assert_int_equal(c->usage_raw_days, 2);
	assert_int_equal(c->usage_days, 30);
	assert_int_equal(c->n_policy, 2);
	assert_string_equal(c->policy[0].name, "team-a");
	assert_int_equal(c->policy[0].models.n, 1);
	assert_string_equal(c->policy[0].models.v[0], "claude-*");
	assert_int_equal(c->policy[0].max_rpm, 60);
	assert_true(c->policy[0].max_tpd == 1000000000000L);
	assert_true(c->policy[0].disabled);
	assert_string_equal(c->policy[1].name, "");
	assert_int_equal(c->policy[1].models.n, 0);
	assert_false(c->policy[1].disabled);
	j = cfg_to_json(c, false);
	assert_non_null(j);
	txt = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "api-key-policy"));
	assert_string_equal(txt, "[{\"api-key\":\"k1\",\"name\":\"team-a\",\"models\":"
	    "[\"claude-*\"],\"max-requests-per-minute\":60,\"max-tokens-per-day\":"
	    "1000000000000,\"disabled\":true},{\"api-key\":\"sha256:0123456789abcdef"
	    "0123456789abcdef0123456789ABCDEF0123456789abcdef\",\"name\":\"\",\"models\":[],"
	    "\"max-requests-per-minute\":0,\"max-tokens-per-day\":0,\"disabled\":false}]");
	cJSON_free(txt);
	cJSON_Delete(j);
	cfg_free(c);

	parse_fails("usage-raw-days: 0\n", CP_EINVAL, "line 1: usage-raw-days: must be an integer");
	parse_fails("usage-days: 36501\n", CP_EINVAL, "line 1: usage-days:");
	parse_fails("api-key-policy: k\n", CP_EINVAL, "line 1: api-key-policy: must be a list");
	parse_fails("api-key-policy:\n  - k\n", CP_EINVAL, "line 2: api-key-policy[0]:");
	parse_fails("api-key-policy:\n  - name: x\n", CP_EINVAL,
	    "line 2: api-key-policy[0]: api-key must be a non-empty string");
	parse_fails("api-key-policy:\n  - api-key: sha256:abc\n", CP_EINVAL,
	    "line 2: api-key-policy[0]: api-key sha256: must be followed by 64 hex digits");
	parse_fails("api-key-policy:\n  - api-key: a\n  - api-key: a\n", CP_EINVAL,
	    "line 3: api-key-policy[1]: api-key is already in item 0");
	parse_fails("api-key-policy:\n  - api-key: a\n    name: \"a b\"\n", CP_EINVAL,
	    "line 3: api-key-policy[0]: name must be printable");
	parse_fails("api-key-policy:\n  - api-key: a\n    max-requests-per-minute: -1\n",
	    CP_EINVAL, "line 3: api-key-policy[0]: must be an integer 0..1000000");
	parse_fails("api-key-policy:\n  - api-key: a\n    models: [\"\"]\n", CP_EINVAL,
	    "line 3: api-key-policy[0]: items must be non-empty strings");
	parse_fails("api-key-policy:\n  - api-key: a\n    disabled: 1\n", CP_EINVAL,
	    "line 3: api-key-policy[0]: must be true or false");
}

static void
test_to_json(void **state)
{
	struct cfg *c;
	cJSON *j, *rm, *x;

	(void)state;
	c = parse_ok("remote-management:\n  secret-key: hush\ncodex-api-key:\n  - api-key: k\n"
	    "openai-compatibility:\n  - name: n\n    base-url: https://u/v1\n"
	    "endpoints:\n  qwen: http://127.0.0.1:5/x\n  gemini: https://g\n");
	j = cfg_to_json(c, false);
	rm = cJSON_GetObjectItemCaseSensitive(j, "remote-management");
	assert_non_null(rm);
	assert_null(cJSON_GetObjectItemCaseSensitive(rm, "secret-key"));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(rm, "allow-remote")));
	{
		char *s = cJSON_PrintUnformatted(j);
		assert_null(strstr(s, "hush"));
		free(s);
	}
	assert_int_equal(cJSON_GetObjectItemCaseSensitive(j, "port")->valueint, 8317);
	x = cJSON_GetObjectItemCaseSensitive(j, "api-keys");
	assert_true(cJSON_IsArray(x));
	assert_int_equal(cJSON_GetArraySize(x), 0);
	x = cJSON_GetObjectItemCaseSensitive(j, "claude-api-key");
	assert_true(cJSON_IsArray(x));
	x = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "codex-api-key"), 0);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(x, "api-key")->valuestring, "k");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(x, "base-url")->valuestring, "");
	x = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "openai-compatibility"), 0);
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(x, "api-keys")));
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(x, "models")));
	x = cJSON_GetObjectItemCaseSensitive(j, "quota-exceeded");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "switch-project")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "switch-preview-model")));
	x = cJSON_GetObjectItemCaseSensitive(j, "endpoints");
	assert_true(cJSON_IsObject(x));
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(x, "qwen")->valuestring,
	    "http://127.0.0.1:5/x");
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "trusted-proxies")));
	cJSON_Delete(j);
	j = cfg_to_json(c, true);
	rm = cJSON_GetObjectItemCaseSensitive(j, "remote-management");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(rm, "secret-key")->valuestring, "hush");
	cJSON_Delete(j);
	cfg_free(c);
}

/* PROVIDERS.md 1: an item of claude-api-key / codex-api-key may carry
 * models: [{name, alias}]; to-JSON shows it only when given (the
 * management API's item shape stays {api-key, base-url}). */
static void
test_keyed_models(void **state)
{
	struct cfg *c;
	cJSON *j, *x;

	(void)state;
	c = parse_ok("claude-api-key:\n  - api-key: k1\n    models:\n"
	    "      - name: claude-opus-4-1-20250805\n        alias: opus\n      - name: plain\n"
	    "  - api-key: k2\ncodex-api-key:\n  - api-key: k3\n    models: []\n");
	assert_int_equal(c->n_claude, 2);
	assert_int_equal(c->claude[0].n_models, 2);
	assert_string_equal(c->claude[0].models[0].name, "claude-opus-4-1-20250805");
	assert_string_equal(c->claude[0].models[0].alias, "opus");
	assert_string_equal(c->claude[0].models[1].alias, "");
	assert_int_equal(c->claude[1].n_models, 0);
	assert_int_equal(c->codex[0].n_models, 0);
	j = cfg_to_json(c, false);
	x = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "claude-api-key"), 0);
	x = cJSON_GetObjectItemCaseSensitive(x, "models");
	assert_int_equal(cJSON_GetArraySize(x), 2);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(x, 0),
	    "alias")->valuestring, "opus");
	x = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "claude-api-key"), 1);
	assert_null(cJSON_GetObjectItemCaseSensitive(x, "models"));
	cJSON_Delete(j);
	cfg_free(c);
	parse_fails("claude-api-key:\n  - api-key: k\n    models: x\n", CP_EINVAL,
	    "line 3: claude-api-key[0]: models must be a list");
	parse_fails("codex-api-key:\n  - api-key: k\n    models:\n      - alias: a\n", CP_EINVAL,
	    "line 4: codex-api-key[0]: models name must be a non-empty string");
}

static void
test_urls(void **state)
{
	static const char *const proxy_good[] = { "", "http://p", "https://p:8443",
		"socks5://u:pw@10.0.0.2:1080", "SOCKS5H://h", "socks4://h", "socks4a://h:1",
		"http://[::1]:3128", "http://h/" };
	static const char *const proxy_bad[] = { "ftp://x", "http://", "http//x", "x",
		"http://h:0", "http://h:65536", "http://h:abc", "socks5://a b", "http://h/path",
		"http://[zz]:1", "socks6://h", "http://\x01" };
	static const char *const http_good[] = { "", "https://api.example.com",
		"http://127.0.0.1:9/v1", "https://openrouter.ai/api/v1" };
	static const char *const http_bad[] = { "socks5://h", "https://", "api.example.com",
		"https://a b", "file:///etc/passwd" };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(proxy_good) / sizeof(proxy_good[0]); i++)
		assert_true(cfg_proxy_url_ok(proxy_good[i]));
	for (i = 0; i < sizeof(proxy_bad) / sizeof(proxy_bad[0]); i++) {
		if (cfg_proxy_url_ok(proxy_bad[i]))
			fprintf(stderr, "# accepted %s\n", proxy_bad[i]);
		assert_false(cfg_proxy_url_ok(proxy_bad[i]));
	}
	for (i = 0; i < sizeof(http_good) / sizeof(http_good[0]); i++)
		assert_true(cfg_http_url_ok(http_good[i]));
	for (i = 0; i < sizeof(http_bad) / sizeof(http_bad[0]); i++)
		assert_false(cfg_http_url_ok(http_bad[i]));
}

static void
test_validate_item(void **state)
{
	static const struct {
		const char *key, *json;
		int rc;
		const char *msg;
	} t[] = {
		{ "api-keys", "\"k\"", CP_OK, NULL },
		{ "api-keys", "\"\"", CP_EINVAL, "non-empty" },
		{ "api-keys", "5", CP_EINVAL, "string" },
		{ "generative-language-api-key", "\"k\"", CP_OK, NULL },
		{ "claude-api-key", "{\"api-key\":\"k\"}", CP_OK, NULL },
		{ "claude-api-key", "{\"api-key\":\"k\",\"base-url\":\"https://x\"}", CP_OK, NULL },
		{ "claude-api-key", "{\"api-key\":\"k\",\"base-url\":\"\"}", CP_OK, NULL },
		{ "claude-api-key", "{\"base-url\":\"https://x\"}", CP_EINVAL, "api-key" },
		{ "codex-api-key", "{\"api-key\":\"\"}", CP_EINVAL, "api-key" },
		{ "codex-api-key", "{\"api-key\":\"k\",\"base-url\":\"ftp://x\"}", CP_EINVAL, "base-url" },
		{ "codex-api-key", "{\"api-key\":\"k\",\"base-url\":5}", CP_EINVAL, "base-url" },
		{ "codex-api-key", "\"k\"", CP_EINVAL, "object" },
		{ "openai-compatibility", "{\"name\":\"n\",\"base-url\":\"https://x/v1\","
		  "\"api-keys\":[\"a\"],\"models\":[{\"name\":\"m\",\"alias\":\"a\"}]}", CP_OK, NULL },
		{ "openai-compatibility", "{\"base-url\":\"https://x/v1\"}", CP_EINVAL, "name" },
		{ "openai-compatibility", "{\"name\":\"n\",\"models\":[{\"alias\":\"a\"}]}",
		  CP_EINVAL, "models" },
		{ "openai-compatibility", "{\"name\":\"n\",\"api-keys\":\"a\"}", CP_EINVAL, "api-keys" },
		{ "openai-compatibility", "{\"name\":\"n\",\"models\":{}}", CP_EINVAL, "models" },
		{ "nope", "\"k\"", CP_EINVAL, "unknown" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cJSON *j = cJSON_Parse(t[i].json);
		char err[128] = "";
		assert_non_null(j);
		assert_int_equal(cfg_validate_item(t[i].key, j, err, sizeof(err)), t[i].rc);
		if (t[i].msg != NULL)
			assert_non_null(strstr(err, t[i].msg));
		cJSON_Delete(j);
	}
}

static void
test_paths(void **state)
{
	char out[256];

	(void)state;
	cfg_lock_path("/etc/cliproxy/config.yaml", out, sizeof(out));
	assert_string_equal(out, "/etc/cliproxy/.cliproxy.lock");
	cfg_lock_path("config.yaml", out, sizeof(out));
	assert_string_equal(out, "./.cliproxy.lock");
	cfg_lock_path("/config.yaml", out, sizeof(out));
	assert_string_equal(out, "/.cliproxy.lock");
	setenv("CLIPROXY_CONFIG", "/tmp/x.yaml", 1);
	assert_string_equal(cfg_default_path(), "/tmp/x.yaml");
	unsetenv("CLIPROXY_CONFIG");
	assert_string_equal(cfg_find_path(NULL, "/nonexistent-home", out, sizeof(out)),
	    SYSCONFDIR "/cliproxy/config.yaml");
}

/* A shared host's user: no CLIPROXY_CONFIG (suexec cleans it), the config
 * in ~/.config/cliproxy/config.yaml is found; without it the system path. */
static void
test_user_config_path(void **state)
{
	char home[] = "/tmp/cfgtest-home-XXXXXX", p[512], out[512];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(home));
	assert_string_equal(cfg_find_path(NULL, home, out, sizeof(out)),
	    SYSCONFDIR "/cliproxy/config.yaml");
	assert_string_equal(cfg_find_path("", home, out, sizeof(out)),
	    SYSCONFDIR "/cliproxy/config.yaml");
	snprintf(p, sizeof(p), "%s/.config", home);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/.config/cliproxy", home);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/.config/cliproxy/config.yaml", home);
	f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
	assert_string_equal(cfg_find_path(NULL, home, out, sizeof(out)), p);
	/* CLIPROXY_CONFIG still wins; a relative or missing home is ignored */
	assert_string_equal(cfg_find_path("/tmp/x.yaml", home, out, sizeof(out)), "/tmp/x.yaml");
	assert_string_equal(cfg_find_path(NULL, "relative", out, sizeof(out)),
	    SYSCONFDIR "/cliproxy/config.yaml");
	/* a home too long for out falls back instead of truncating */
	assert_string_equal(cfg_find_path(NULL, home, out, 8), SYSCONFDIR "/cliproxy/config.yaml");
	unlink(p);
	snprintf(p, sizeof(p), "%s/.config/cliproxy", home);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/.config", home);
	rmdir(p);
	rmdir(home);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_long_management_key),
		cmocka_unit_test(test_home),
		cmocka_unit_test(test_user_config_path),
		cmocka_unit_test(test_booleans_ints),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_semantic_errors),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_to_json),
		cmocka_unit_test(test_keyed_models),
		cmocka_unit_test(test_usage_policy),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_validate_item),
		cmocka_unit_test(test_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
