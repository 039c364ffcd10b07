/*
 * test_oauth.c - the OAuth module (PROVIDERS.md 2, 4, 7): request URLs and
 * bodies byte for byte, token answers, auth files and their names, and
 * the write-back merge in every race a refresh can lose (a file disabled,
 * edited, deleted or logged in again while the refresh was in flight).
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core.h"

#define NOW ((time_t)1756656900)   /* 2025-08-31T16:15:00Z */

static void
pending(struct oauth_pending *pd, const struct oauth_provider *p)
{
	memset(pd, 0, sizeof(*pd));
	pd->p = p;
	snprintf(pd->state, sizeof(pd->state), "st4te");
	/* challenge computed independently: python3 hashlib + urlsafe_b64encode */
	snprintf(pd->verifier, sizeof(pd->verifier), "dBjftJeZ4CVP-mJ92K9qh9AgRwAe2vqsDH6s3yYYu5s");
	oauth_pkce_challenge(pd->verifier, pd->challenge);
}

static void
test_pkce_s256(void **state)
{
	char c[OAUTH_CHALLENGE_LEN + 1];
	struct oauth_pending a, b;

	(void)state;
	oauth_pkce_challenge("dBjftJeZ4CVP-mJ92K9qh9AgRwAe2vqsDH6s3yYYu5s", c);
	assert_string_equal(c, "m1yjq-fzGKqZyA5UUPX4bKMfBR3_ZHUb7XABj6X-1_Q");
	/* fresh randomness every time, of the documented lengths */
	assert_int_equal(oauth_pending_init(&a, oauth_provider(OAUTH_CODEX)), CP_OK);
	assert_int_equal(oauth_pending_init(&b, oauth_provider(OAUTH_CODEX)), CP_OK);
	assert_int_equal(strlen(a.state), OAUTH_STATE_LEN);
	assert_int_equal(strlen(a.verifier), OAUTH_VERIFIER_LEN);
	assert_string_not_equal(a.state, b.state);
	assert_string_not_equal(a.verifier, b.verifier);
	oauth_pkce_challenge(a.verifier, c);
	assert_string_equal(c, a.challenge);
	/* gemini has no PKCE */
	assert_int_equal(oauth_pending_init(&a, oauth_provider(OAUTH_GEMINI)), CP_OK);
	assert_string_equal(a.verifier, "");
}

static void
test_names_and_endpoints(void **state)
{
	struct cfg *c = NULL;
	const char *y = "endpoints:\n  claude-token-url: http://127.0.0.1:9/tok\n";
	char r[128];

	(void)state;
	assert_ptr_equal(oauth_provider_by_name("anthropic"), oauth_provider(OAUTH_CLAUDE));
	assert_ptr_equal(oauth_provider_by_name("gemini-cli"), oauth_provider(OAUTH_GEMINI));
	assert_null(oauth_provider_by_name("openai"));
	assert_ptr_equal(oauth_provider_by_type(NULL), oauth_provider(OAUTH_GEMINI));
	assert_ptr_equal(oauth_provider_by_type("qwen"), oauth_provider(OAUTH_QWEN));
	assert_null(oauth_provider_by_type("anthropic"));
	assert_int_equal(cfg_parse(y, strlen(y), &c, NULL, 0), CP_OK);
	assert_string_equal(oauth_url(c, oauth_provider(OAUTH_CLAUDE), OAUTH_EP_TOKEN),
	    "http://127.0.0.1:9/tok");
	assert_string_equal(oauth_url(c, oauth_provider(OAUTH_CLAUDE), OAUTH_EP_AUTH),
	    "https://claude.ai/oauth/authorize");
	assert_string_equal(oauth_url(NULL, oauth_provider(OAUTH_QWEN), OAUTH_EP_DEVICE),
	    "https://chat.qwen.ai/api/v1/oauth2/device/code");
	assert_null(oauth_url(c, oauth_provider(OAUTH_QWEN), OAUTH_EP_AUTH));
	cfg_free(c);
	assert_int_equal(oauth_redirect_uri(oauth_provider(OAUTH_CODEX), 0, r, sizeof(r)), CP_OK);
	assert_string_equal(r, "http://localhost:1455/auth/callback");
	assert_int_equal(oauth_redirect_uri(oauth_provider(OAUTH_GEMINI), 4000, r, sizeof(r)), CP_OK);
	assert_string_equal(r, "http://localhost:4000/oauth2callback");
	assert_int_equal(oauth_redirect_uri(oauth_provider(OAUTH_QWEN), 0, r, sizeof(r)), CP_EINVAL);
}

static void
test_authorize_urls(void **state)
{
	struct oauth_pending pd;
	struct buf b;

	(void)state;
	buf_init(&b, 8192);
	pending(&pd, oauth_provider(OAUTH_CLAUDE));
	assert_int_equal(oauth_authorize_url(oauth_provider(OAUTH_CLAUDE), "http://a/auth",
	    "http://localhost:54545/callback", &pd, &b), CP_OK);
	assert_string_equal(b.p, "http://a/auth?client_id=9d1c250a-e61b-44d9-88ed-5944d1962f5e"
	    "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A54545%2Fcallback"
	    "&scope=org%3Acreate_api_key%20user%3Aprofile%20user%3Ainference&state=st4te"
	    "&code_challenge=m1yjq-fzGKqZyA5UUPX4bKMfBR3_ZHUb7XABj6X-1_Q"
	    "&code_challenge_method=S256&code=true");
	pending(&pd, oauth_provider(OAUTH_CODEX));
	assert_int_equal(oauth_authorize_url(oauth_provider(OAUTH_CODEX), "http://a/x?v=1",
	    "http://localhost:1455/auth/callback", &pd, &b), CP_OK);
	assert_string_equal(b.p, "http://a/x?v=1&client_id=app_EMoamEEZ73f0CkXaXp7hrann"
	    "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback"
	    "&scope=openid%20email%20profile%20offline_access&state=st4te"
	    "&code_challenge=m1yjq-fzGKqZyA5UUPX4bKMfBR3_ZHUb7XABj6X-1_Q"
	    "&code_challenge_method=S256&prompt=login&id_token_add_organizations=true"
	    "&codex_cli_simplified_flow=true");
	pending(&pd, oauth_provider(OAUTH_GEMINI));
	pd.verifier[0] = '\0';
	assert_int_equal(oauth_authorize_url(oauth_provider(OAUTH_GEMINI), "http://g/o",
	    "http://localhost:8085/oauth2callback", &pd, &b), CP_OK);
	assert_string_equal(b.p, "http://g/o?client_id=681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j"
	    ".apps.googleusercontent.com&response_type=code"
	    "&redirect_uri=http%3A%2F%2Flocalhost%3A8085%2Foauth2callback"
	    "&scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform%20"
	    "https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fuserinfo.email%20"
	    "https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fuserinfo.profile&state=st4te"
	    "&access_type=offline&prompt=consent");
	/* qwen has no authorize URL */
	assert_int_equal(oauth_authorize_url(oauth_provider(OAUTH_QWEN), "http://q",
	    "http://localhost:1/", &pd, &b), CP_EINVAL);
	buf_release(&b);
}

static void
test_exchange_and_refresh_bodies(void **state)
{
	struct oauth_pending pd;
	const char *ct;
	struct buf b;

	(void)state;
	buf_init(&b, 8192);
	pending(&pd, oauth_provider(OAUTH_CLAUDE));
	assert_int_equal(oauth_exchange_body(oauth_provider(OAUTH_CLAUDE), "c0de&x",
	    "http://localhost:54545/callback", &pd, &b, &ct), CP_OK);
	assert_string_equal(ct, "application/json");
	assert_string_equal(b.p, "{\"code\":\"c0de&x\",\"state\":\"st4te\","
	    "\"grant_type\":\"authorization_code\","
	    "\"client_id\":\"9d1c250a-e61b-44d9-88ed-5944d1962f5e\","
	    "\"redirect_uri\":\"http://localhost:54545/callback\","
	    "\"code_verifier\":\"dBjftJeZ4CVP-mJ92K9qh9AgRwAe2vqsDH6s3yYYu5s\"}");
	pending(&pd, oauth_provider(OAUTH_CODEX));
	assert_int_equal(oauth_exchange_body(oauth_provider(OAUTH_CODEX), "c0de&x",
	    "http://localhost:1455/auth/callback", &pd, &b, &ct), CP_OK);
	assert_string_equal(ct, "application/x-www-form-urlencoded");
	assert_string_equal(b.p, "grant_type=authorization_code&client_id=app_EMoamEEZ73f0CkXaXp7hrann"
	    "&code=c0de%26x&redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback"
	    "&code_verifier=dBjftJeZ4CVP-mJ92K9qh9AgRwAe2vqsDH6s3yYYu5s");
	assert_int_equal(oauth_exchange_body(oauth_provider(OAUTH_GEMINI), "4/0A b",
	    "http://localhost:8085/oauth2callback", &pd, &b, &ct), CP_OK);
	assert_string_equal(b.p, "code=4%2F0A%20b&client_id=681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j"
	    ".apps.googleusercontent.com&client_secret=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"
	    "&redirect_uri=http%3A%2F%2Flocalhost%3A8085%2Foauth2callback"
	    "&grant_type=authorization_code");
	assert_int_equal(oauth_exchange_body(oauth_provider(OAUTH_QWEN), "c", "r", &pd, &b, &ct),
	    CP_EINVAL);

	assert_int_equal(oauth_device_body(oauth_provider(OAUTH_QWEN), &pd, &b), CP_OK);
	assert_string_equal(b.p, "client_id=f0304373b74a44d2b584a3fb70ca9e56"
	    "&scope=openid%20profile%20email%20model.completion"
	    "&code_challenge=m1yjq-fzGKqZyA5UUPX4bKMfBR3_ZHUb7XABj6X-1_Q&code_challenge_method=S256");
	assert_int_equal(oauth_device_poll_body(oauth_provider(OAUTH_QWEN), "dev+1", &pd, &b), CP_OK);
	assert_string_equal(b.p, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
	    "&client_id=f0304373b74a44d2b584a3fb70ca9e56&device_code=dev%2B1"
	    "&code_verifier=dBjftJeZ4CVP-mJ92K9qh9AgRwAe2vqsDH6s3yYYu5s");

	assert_int_equal(oauth_refresh_body(oauth_provider(OAUTH_GEMINI), "1//r t", &b, &ct), CP_OK);
	assert_string_equal(ct, "application/x-www-form-urlencoded");
	assert_string_equal(b.p, "grant_type=refresh_token&refresh_token=1%2F%2Fr%20t"
	    "&client_id=681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com"
	    "&client_secret=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");
	assert_int_equal(oauth_refresh_body(oauth_provider(OAUTH_CLAUDE), "rt\"1", &b, &ct), CP_OK);
	assert_string_equal(ct, "application/json");
	assert_string_equal(b.p, "{\"client_id\":\"9d1c250a-e61b-44d9-88ed-5944d1962f5e\","
	    "\"grant_type\":\"refresh_token\",\"refresh_token\":\"rt\\\"1\"}");
	assert_int_equal(oauth_refresh_body(oauth_provider(OAUTH_CODEX), "rt", &b, &ct), CP_OK);
	assert_string_equal(b.p, "client_id=app_EMoamEEZ73f0CkXaXp7hrann&grant_type=refresh_token"
	    "&refresh_token=rt&scope=openid%20profile%20email");
	assert_int_equal(oauth_refresh_body(oauth_provider(OAUTH_QWEN), "rt", &b, &ct), CP_OK);
	assert_string_equal(b.p, "grant_type=refresh_token&refresh_token=rt"
	    "&client_id=f0304373b74a44d2b584a3fb70ca9e56");
	buf_release(&b);
}

/* A JWT with payload p (signature junk: never checked). */
static void
jwt(const char *payload, char *out, size_t outlen)
{
	char enc[1024];

	assert_int_equal(oauth_b64url_encode(payload, strlen(payload), enc, sizeof(enc)), CP_OK);
	snprintf(out, outlen, "eyJhbGciOiJSUzI1NiJ9.%s.c2ln", enc);
}

static void
test_parse_answers(void **state)
{
	struct oauth_tokens t;
	char err[256], tok[2048], body[4096];
	const char *s;

	(void)state;
	s = "{\"access_token\":\"at1\",\"refresh_token\":\"rt1\",\"expires_in\":28800,"
	    "\"token_type\":\"Bearer\",\"account\":{\"uuid\":\"u\",\"email_address\":\"a@b.c\"},"
	    "\"organization\":{\"uuid\":\"o\"}}";
	assert_int_equal(oauth_parse_tokens(oauth_provider(OAUTH_CLAUDE), s, strlen(s), &t, err,
	    sizeof(err)), CP_OK);
	assert_string_equal(t.access_token, "at1");
	assert_string_equal(t.refresh_token, "rt1");
	assert_int_equal(t.expires_in, 28800);
	assert_string_equal(t.email, "a@b.c");
	assert_null(t.id_token);
	oauth_tokens_release(&t);

	jwt("{\"email\":\"me@x.io\",\"https://api.openai.com/auth\":"
	    "{\"chatgpt_account_id\":\"acc-9\"}}", tok, sizeof(tok));
	snprintf(body, sizeof(body), "{\"access_token\":\"at\",\"refresh_token\":\"rt\","
	    "\"id_token\":\"%s\",\"expires_in\":864000}", tok);
	assert_int_equal(oauth_parse_tokens(oauth_provider(OAUTH_CODEX), body, strlen(body), &t,
	    err, sizeof(err)), CP_OK);
	assert_string_equal(t.email, "me@x.io");
	assert_string_equal(t.account_id, "acc-9");
	assert_string_equal(t.id_token, tok);
	oauth_tokens_release(&t);

	/* a junk id_token is not fatal; the claims are just missing */
	s = "{\"access_token\":\"at\",\"id_token\":\"not-a-jwt\"}";
	assert_int_equal(oauth_parse_tokens(oauth_provider(OAUTH_CODEX), s, strlen(s), &t, err,
	    sizeof(err)), CP_OK);
	assert_null(t.account_id);
	assert_int_equal(t.expires_in, -1);
	assert_null(t.refresh_token);
	oauth_tokens_release(&t);

	s = "{\"access_token\":\"at\",\"refresh_token\":\"rt\",\"resource_url\":\"portal.qwen.ai\","
	    "\"expires_in\":7200}";
	assert_int_equal(oauth_parse_tokens(oauth_provider(OAUTH_QWEN), s, strlen(s), &t, err,
	    sizeof(err)), CP_OK);
	assert_string_equal(t.resource_url, "portal.qwen.ai");
	oauth_tokens_release(&t);

	/* refusals: the RFC 6749 code, never the description or a token */
	s = "{\"error\":\"invalid_grant\",\"error_description\":\"token rt-SECRET is bad\"}";
	assert_int_equal(oauth_parse_tokens(oauth_provider(OAUTH_QWEN), s, strlen(s), &t, err,
	    sizeof(err)), CP_EPERM);
	assert_string_equal(t.error, "invalid_grant");
	assert_string_equal(err, "token endpoint refused: invalid_grant");
	oauth_tokens_release(&t);
	s = "{\"error\":\"bad code rt-SECRET\"}";
	assert_int_equal(oauth_parse_tokens(oauth_provider(OAUTH_QWEN), s, strlen(s), &t, err,
	    sizeof(err)), CP_EPERM);
	assert_null(strstr(err, "SECRET"));
	oauth_tokens_release(&t);
	s = "<html>oops</html>";
	assert_int_equal(oauth_parse_tokens(oauth_provider(OAUTH_GEMINI), s, strlen(s), &t, err,
	    sizeof(err)), CP_EPARSE);
	oauth_tokens_release(&t);
	s = "{\"refresh_token\":\"rt-SECRET\"}";
	assert_int_equal(oauth_parse_tokens(oauth_provider(OAUTH_GEMINI), s, strlen(s), &t, err,
	    sizeof(err)), CP_EINVAL);
	assert_null(strstr(err, "SECRET"));
	assert_null(t.refresh_token);
	oauth_tokens_release(&t);
	s = "{\"access_token\":\"a\",\"access_token\":\"b\"}";   /* duplicate member */
	assert_int_equal(oauth_parse_tokens(oauth_provider(OAUTH_GEMINI), s, strlen(s), &t, err,
	    sizeof(err)), CP_EPARSE);
	oauth_tokens_release(&t);
}

static void
test_times(void **state)
{
	char s[64];
	time_t t;

	(void)state;
	setenv("TZ", "Asia/Shanghai", 1);
	tzset();
	oauth_fmt_time(NOW, false, s, sizeof(s));
	assert_string_equal(s, "2025-09-01T00:15:00+08:00");
	oauth_fmt_time(NOW, true, s, sizeof(s));
	assert_string_equal(s, "2025-09-01T00:15:00.000000000+08:00");
	setenv("TZ", "UTC", 1);
	tzset();
	oauth_fmt_time(NOW, false, s, sizeof(s));
	assert_string_equal(s, "2025-08-31T16:15:00Z");
	assert_int_equal(oauth_parse_time("2025-09-01T00:15:00+08:00", &t), CP_OK);
	assert_int_equal(t, NOW);
	assert_int_equal(oauth_parse_time("2025-08-31T12:15:00.123456-04:00", &t), CP_OK);
	assert_int_equal(t, NOW);
	assert_int_equal(oauth_parse_time("2025-08-31T16:15:00Z", &t), CP_OK);
	assert_int_equal(t, NOW);
	assert_int_equal(oauth_parse_time("2025-08-31T16:15:00", &t), CP_EINVAL);
	assert_int_equal(oauth_parse_time("2025-08-31T16:15:00+8", &t), CP_EINVAL);
	assert_int_equal(oauth_parse_time("2025-13-31T16:15:00Z", &t), CP_EINVAL);
	assert_int_equal(oauth_parse_time("2025-08-31T16:15:00.Z", &t), CP_EINVAL);
}

static void
test_auth_files_and_names(void **state)
{
	struct oauth_tokens t = { .expires_in = 3600 };
	cJSON *doc = NULL;
	char *s, name[256], longer[400];

	(void)state;
	setenv("TZ", "UTC", 1);
	tzset();
	t.access_token = "at";
	t.refresh_token = "rt";
	assert_int_equal(oauth_auth_file(oauth_provider(OAUTH_CLAUDE), &t, "a@b.c", NULL, NOW, &doc),
	    CP_OK);
	s = cJSON_PrintUnformatted(doc);
	assert_string_equal(s, "{\"type\":\"claude\",\"access_token\":\"at\",\"refresh_token\":\"rt\","
	    "\"expired\":\"2025-08-31T17:15:00Z\",\"last_refresh\":\"2025-08-31T16:15:00Z\","
	    "\"id_token\":\"\",\"email\":\"a@b.c\"}");
	free(s);
	cJSON_Delete(doc);
	t.resource_url = "portal.qwen.ai";
	assert_int_equal(oauth_auth_file(oauth_provider(OAUTH_QWEN), &t, "me", NULL, NOW, &doc), CP_OK);
	s = cJSON_PrintUnformatted(doc);
	assert_string_equal(s, "{\"type\":\"qwen\",\"access_token\":\"at\",\"refresh_token\":\"rt\","
	    "\"expired\":\"2025-08-31T17:15:00Z\",\"last_refresh\":\"2025-08-31T16:15:00Z\","
	    "\"resource_url\":\"portal.qwen.ai\",\"email\":\"me\"}");
	free(s);
	cJSON_Delete(doc);
	t.resource_url = NULL;
	t.refresh_token = NULL;     /* Google may answer without one */
	assert_int_equal(oauth_auth_file(oauth_provider(OAUTH_GEMINI), &t, "g@x.io", "proj-1", NOW,
	    &doc), CP_OK);
	s = cJSON_PrintUnformatted(doc);
	assert_string_equal(s, "{\"type\":\"gemini\",\"token\":{\"access_token\":\"at\","
	    "\"token_type\":\"Bearer\",\"expiry\":\"2025-08-31T17:15:00.000000000Z\","
	    "\"refresh_token\":\"\",\"token_uri\":\"https://oauth2.googleapis.com/token\","
	    "\"client_id\":\"681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com\","
	    "\"client_secret\":\"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\",\"scopes\":["
	    "\"https://www.googleapis.com/auth/cloud-platform\","
	    "\"https://www.googleapis.com/auth/userinfo.email\","
	    "\"https://www.googleapis.com/auth/userinfo.profile\"],"
	    "\"universe_domain\":\"googleapis.com\"},\"project_id\":\"proj-1\",\"email\":\"g@x.io\","
	    "\"auto\":false,\"checked\":true}");
	free(s);
	cJSON_Delete(doc);

	assert_int_equal(oauth_file_name(oauth_provider(OAUTH_GEMINI), "g@x.io", "proj-1", name,
	    sizeof(name)), CP_OK);
	assert_string_equal(name, "g@x.io-proj-1.json");
	assert_int_equal(oauth_file_name(oauth_provider(OAUTH_CLAUDE), "a b/../c@d", NULL, name,
	    sizeof(name)), CP_OK);
	assert_string_equal(name, "claude-a_b_.._c@d.json");
	assert_int_equal(oauth_file_name(oauth_provider(OAUTH_CODEX), "", NULL, name, sizeof(name)),
	    CP_OK);
	assert_string_equal(name, "codex-account.json");
	assert_int_equal(oauth_file_name(oauth_provider(OAUTH_QWEN), "my alias\n", NULL, name,
	    sizeof(name)), CP_OK);
	assert_string_equal(name, "qwen-my_alias_.json");
	assert_int_equal(oauth_file_name(oauth_provider(OAUTH_GEMINI), ".hidden", "p", name,
	    sizeof(name)), CP_OK);
	assert_string_equal(name, "_hidden-p.json");
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(oauth_file_name(oauth_provider(OAUTH_CLAUDE), longer, NULL, name,
	    sizeof(name)), CP_OK);
	assert_int_equal(strlen(name), CP_AUTHNAME_MAX);
	assert_true(authstore_name_ok(name, strlen(name)));
}


static void
test_parse_callback(void **state)
{
	struct oauth_callback cb;

	(void)state;
	assert_int_equal(oauth_parse_callback("http://localhost:1455/auth/callback?code=a%2Fb+c"
	    "&scope=x&state=s1\n", &cb), CP_OK);
	assert_string_equal(cb.code, "a/b c");
	assert_string_equal(cb.state, "s1");
	assert_int_equal(oauth_parse_callback("/cb?state=s2&code=k#frag", &cb), CP_OK);
	assert_string_equal(cb.code, "k");
	assert_string_equal(cb.state, "s2");
	assert_int_equal(oauth_parse_callback("  c0de#st4te \r\n", &cb), CP_OK);
	assert_string_equal(cb.code, "c0de");
	assert_string_equal(cb.state, "st4te");
	assert_int_equal(oauth_parse_callback("barecode", &cb), CP_OK);
	assert_string_equal(cb.state, "");
	assert_int_equal(oauth_parse_callback("http://x/cb?error=access_denied&state=s", &cb), CP_EPERM);
	assert_string_equal(cb.error, "access_denied");
	assert_int_equal(oauth_parse_callback("http://x/cb?code=a&code=b&state=s", &cb), CP_EEXIST);
	assert_int_equal(oauth_parse_callback("http://x/cb?code=a%00b", &cb), CP_EINVAL);
	assert_int_equal(oauth_parse_callback("http://x/cb?code=a%2", &cb), CP_EINVAL);
	assert_int_equal(oauth_parse_callback("http://x/cb?state=s", &cb), CP_EINVAL);
	assert_int_equal(oauth_parse_callback("", &cb), CP_EINVAL);
}

/* ------------------------------------------------------------ merge */

struct fixture {
	char dir[64];    /* temporary auth-dir */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cp-oauth-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	setenv("TZ", "UTC", 1);
	tzset();
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
put(const struct fixture *f, const char *name, const char *json)
{
	assert_int_equal(authstore_write(f->dir, name, json, strlen(json), NULL, 0), CP_OK);
}

static cJSON *
get(const struct fixture *f, const char *name)
{
	char *data = NULL;
	size_t len;
	cJSON *doc = NULL;

	assert_int_equal(authstore_read(f->dir, name, &data, &len), CP_OK);
	assert_int_equal(json_parse_strict(data, len, &doc), CP_OK);
	free(data);
	return doc;
}

static const char *
str(const cJSON *o, const char *k)
{
	const char *s = NULL;

	assert_int_equal(json_get_string(o, k, &s), CP_OK);
	return s;
}

static void
test_merge_flat_keeps_edits(void **state)
{
	const struct fixture *f = *state;
	struct oauth_tokens t = { .access_token = "at2", .refresh_token = "rt2", .expires_in = 600 };
	enum oauth_merge_result res;
	char err[128];
	struct stat st;
	cJSON *d;
	bool b;

	/* the file was disabled and given an unknown field while the refresh
	 * that used rt1 was in flight */
	put(f, "claude-a.json", "{\"type\":\"claude\",\"access_token\":\"at1\","
	    "\"refresh_token\":\"rt1\",\"id_token\":\"\",\"email\":\"a@b.c\","
	    "\"expired\":\"2025-08-31T16:00:00Z\",\"disabled\":true,\"proxy\":\"socks5://h:1\","
	    "\"x-note\":{\"k\":[1,2]}}");
	assert_int_equal(oauth_merge_tokens(f->dir, "claude-a.json", oauth_provider(OAUTH_CLAUDE),
	    "rt1", &t, NOW, &res, err, sizeof(err)), CP_OK);
	assert_int_equal(res, OAUTH_MERGE_WRITTEN);
	d = get(f, "claude-a.json");
	assert_string_equal(str(d, "access_token"), "at2");
	assert_string_equal(str(d, "refresh_token"), "rt2");
	assert_string_equal(str(d, "expired"), "2025-08-31T16:25:00Z");
	assert_string_equal(str(d, "last_refresh"), "2025-08-31T16:15:00Z");
	assert_string_equal(str(d, "email"), "a@b.c");
	assert_string_equal(str(d, "proxy"), "socks5://h:1");
	assert_string_equal(str(d, "id_token"), "");
	assert_int_equal(json_get_bool(d, "disabled", &b), CP_OK);
	assert_true(b);
	assert_non_null(cJSON_GetObjectItemCaseSensitive(d, "x-note"));
	cJSON_Delete(d);
	assert_int_equal(stat(f->dir, &st), CP_OK);

	/* an answer without a refresh token keeps the file's; the expiry is
	 * rewritten all the same */
	t.access_token = "at3";
	t.refresh_token = NULL;
	t.expires_in = 60;
	t.resource_url = "portal.example";
	assert_int_equal(oauth_merge_tokens(f->dir, "claude-a.json", oauth_provider(OAUTH_CLAUDE),
	    "rt2", &t, NOW + 100, &res, err, sizeof(err)), CP_OK);
	assert_int_equal(res, OAUTH_MERGE_WRITTEN);
	d = get(f, "claude-a.json");
	assert_string_equal(str(d, "access_token"), "at3");
	assert_string_equal(str(d, "refresh_token"), "rt2");
	assert_string_equal(str(d, "expired"), "2025-08-31T16:17:40Z");
	assert_string_equal(str(d, "resource_url"), "portal.example");
	cJSON_Delete(d);
}

static void
test_merge_gemini_token_object(void **state)
{
	const struct fixture *f = *state;
	struct oauth_tokens t = { .access_token = "ya29.new", .expires_in = 3599 };
	enum oauth_merge_result res;
	const cJSON *tok;
	cJSON *d;

	put(f, "g@x-p.json", "{\"token\":{\"access_token\":\"ya29.old\",\"token_type\":\"Bearer\","
	    "\"refresh_token\":\"1//r\",\"expiry\":\"2025-08-31T16:00:00Z\",\"client_id\":\"cid\","
	    "\"scopes\":[\"a\"]},\"project_id\":\"p\",\"email\":\"g@x\",\"auto\":false,"
	    "\"checked\":true,\"disabled\":false}");
	assert_int_equal(oauth_merge_tokens(f->dir, "g@x-p.json", oauth_provider(OAUTH_GEMINI),
	    "1//r", &t, NOW, &res, NULL, 0), CP_OK);
	assert_int_equal(res, OAUTH_MERGE_WRITTEN);
	d = get(f, "g@x-p.json");
	assert_int_equal(json_get_object(d, "token", &tok), CP_OK);
	assert_string_equal(str(tok, "access_token"), "ya29.new");
	assert_string_equal(str(tok, "refresh_token"), "1//r");
	assert_string_equal(str(tok, "expiry"), "2025-08-31T17:14:59.000000000Z");
	assert_string_equal(str(tok, "client_id"), "cid");
	assert_non_null(cJSON_GetObjectItemCaseSensitive(tok, "scopes"));
	assert_string_equal(str(d, "project_id"), "p");
	/* no flat token fields appear in a gemini file */
	assert_null(cJSON_GetObjectItemCaseSensitive(d, "access_token"));
	assert_null(cJSON_GetObjectItemCaseSensitive(d, "expired"));
	cJSON_Delete(d);
}

static void
test_merge_superseded_and_gone(void **state)
{
	const struct fixture *f = *state;
	struct oauth_tokens t = { .access_token = "at-ours", .refresh_token = "rt-ours",
	    .expires_in = 600 };
	enum oauth_merge_result res;
	char *before = NULL, *after = NULL, err[128];
	size_t bl, al;
	struct stat st;

	/* someone logged in again meanwhile: their tokens stay, byte for byte */
	put(f, "codex-a.json", "{\"type\":\"codex\",\"access_token\":\"at-theirs\","
	    "\"refresh_token\":\"rt-theirs\"}");
	assert_int_equal(authstore_read(f->dir, "codex-a.json", &before, &bl), CP_OK);
	assert_int_equal(oauth_merge_tokens(f->dir, "codex-a.json", oauth_provider(OAUTH_CODEX),
	    "rt-used", &t, NOW, &res, err, sizeof(err)), CP_OK);
	assert_int_equal(res, OAUTH_MERGE_SUPERSEDED);
	assert_int_equal(authstore_read(f->dir, "codex-a.json", &after, &al), CP_OK);
	assert_int_equal(bl, al);
	assert_memory_equal(before, after, bl);
	free(before);
	free(after);
	/* a file without a refresh token is not ours either */
	put(f, "qwen-b.json", "{\"type\":\"qwen\",\"access_token\":\"x\"}");
	assert_int_equal(oauth_merge_tokens(f->dir, "qwen-b.json", oauth_provider(OAUTH_QWEN),
	    "rt-used", &t, NOW, &res, err, sizeof(err)), CP_OK);
	assert_int_equal(res, OAUTH_MERGE_SUPERSEDED);

	/* deleted meanwhile: stays deleted */
	assert_int_equal(oauth_merge_tokens(f->dir, "claude-gone.json", oauth_provider(OAUTH_CLAUDE),
	    "rt", &t, NOW, &res, err, sizeof(err)), CP_OK);
	assert_int_equal(res, OAUTH_MERGE_GONE);
	assert_int_not_equal(stat("claude-gone.json", &st), 0);
	{
		char p[128];

		snprintf(p, sizeof(p), "%s/claude-gone.json", f->dir);
		assert_int_not_equal(stat(p, &st), 0);
	}
}

static void
test_merge_refuses_broken_file(void **state)
{
	const struct fixture *f = *state;
	struct oauth_tokens t = { .access_token = "at-NEW", .expires_in = 600 };
	enum oauth_merge_result res;
	char p[128], err[128], data[64];
	FILE *fp;
	size_t n;

	/* an admin's half-written edit is never overwritten */
	snprintf(p, sizeof(p), "%s/claude-x.json", f->dir);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("{\"refresh_token\":\"rt\",", fp);
	fclose(fp);
	assert_int_equal(oauth_merge_tokens(f->dir, "claude-x.json", oauth_provider(OAUTH_CLAUDE),
	    "rt", &t, NOW, &res, err, sizeof(err)), CP_EPARSE);
	assert_null(strstr(err, "at-NEW"));
	fp = fopen(p, "r");
	n = fread(data, 1, sizeof(data) - 1, fp);
	data[n] = '\0';
	fclose(fp);
	assert_string_equal(data, "{\"refresh_token\":\"rt\",");
	/* a bad name is refused before anything is opened */
	assert_int_equal(oauth_merge_tokens(f->dir, "../x.json", oauth_provider(OAUTH_CLAUDE),
	    "rt", &t, NOW, &res, err, sizeof(err)), CP_EINVAL);
	/* and a symlink is not followed */
	snprintf(p, sizeof(p), "%s/claude-l.json", f->dir);
	assert_int_equal(symlink("/etc/passwd", p), 0);
	assert_int_equal(oauth_merge_tokens(f->dir, "claude-l.json", oauth_provider(OAUTH_CLAUDE),
	    "rt", &t, NOW, &res, err, sizeof(err)), CP_OK);
	assert_int_equal(res, OAUTH_MERGE_GONE);
}

static int
set_disabled(cJSON *doc, void *arg)
{
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "disabled");
	return cJSON_AddBoolToObject(doc, "disabled", *(bool *)arg) != NULL ? CP_OK : CP_ENOMEM;
}

#define RACE_ROUNDS 200

/* A refresh writer (child process) merging rotated tokens 200 times while
 * this process toggles "disabled" 200 times and then deletes the file:
 * no toggle is undone, no field lost, the deleted file stays deleted. */
static void
test_merge_race_with_disable_and_delete(void **state)
{
	const struct fixture *f = *state;
	enum oauth_merge_result res;
	int status, interleaved = 0;
	char p[128];
	struct stat st;
	pid_t pid;
	cJSON *d;
	bool b;

	put(f, "codex-r.json", "{\"type\":\"codex\",\"access_token\":\"at0\","
	    "\"refresh_token\":\"rt0\",\"x-keep\":\"yes\"}");
	if ((pid = fork()) == 0) {
		int rc = 0;

		for (int i = 1; i <= RACE_ROUNDS; i++) {
			char at[32], rt[32], used[32];
			struct oauth_tokens t = { .access_token = at, .refresh_token = rt,
			    .expires_in = 600 };

			snprintf(at, sizeof(at), "at%d", i);
			snprintf(rt, sizeof(rt), "rt%d", i);
			snprintf(used, sizeof(used), "rt%d", i - 1);
			if (oauth_merge_tokens(f->dir, "codex-r.json", oauth_provider(OAUTH_CODEX), used,
			    &t, NOW, &res, NULL, 0) != CP_OK || res == OAUTH_MERGE_SUPERSEDED)
				rc = 1;
			if (res == OAUTH_MERGE_GONE)
				break;
		}
		_exit(rc);
	}
	assert_true(pid > 0);
	for (int i = 0; i < RACE_ROUNDS; i++) {
		b = i % 2 == 0;
		assert_int_equal(authstore_update(f->dir, "codex-r.json", set_disabled, &b, NULL, 0), CP_OK);
		d = get(f, "codex-r.json");
		/* our own toggle is there right after we wrote it, whatever
		 * the refresh did in between */
		assert_int_equal(json_get_bool(d, "disabled", &b), CP_OK);
		assert_true(b == (i % 2 == 0));
		assert_string_equal(str(d, "x-keep"), "yes");
		if (strcmp(str(d, "access_token"), "at0") != 0 &&
		    strcmp(str(d, "access_token"), "at200") != 0)
			interleaved++;   /* the refresh was mid-way */
		cJSON_Delete(d);
	}
	assert_int_equal(authstore_delete(f->dir, "codex-r.json"), CP_OK);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	snprintf(p, sizeof(p), "%s/codex-r.json", f->dir);
	/* a merge after the delete found nothing and wrote nothing */
	{
		struct oauth_tokens t = { .access_token = "late", .refresh_token = "late",
		    .expires_in = 1 };

		assert_int_equal(oauth_merge_tokens(f->dir, "codex-r.json", oauth_provider(OAUTH_CODEX),
		    "rt200", &t, NOW, &res, NULL, 0), CP_OK);
		assert_int_equal(res, OAUTH_MERGE_GONE);
	}
	assert_int_not_equal(stat(p, &st), 0);
	print_message("# race: %d of %d toggles saw a refresh in flight\n", interleaved, RACE_ROUNDS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pkce_s256),
		cmocka_unit_test(test_names_and_endpoints),
		cmocka_unit_test(test_authorize_urls),
		cmocka_unit_test(test_exchange_and_refresh_bodies),
		cmocka_unit_test(test_parse_answers),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_auth_files_and_names),
		cmocka_unit_test(test_parse_callback),
		cmocka_unit_test_setup_teardown(test_merge_flat_keeps_edits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_gemini_token_object, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_superseded_and_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_refuses_broken_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_merge_race_with_disable_and_delete, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
