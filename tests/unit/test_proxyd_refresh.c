/*
 * test_proxyd_refresh.c - refresh.c against the mock authorization server
 * (tests/mock/oauth_mock.py, run as a child on a loopback port chosen at
 * run time) on a real event loop and auth-dir:
 * - a refresh on request: new tokens in the pool and merged into the file
 *   (other fields kept), one token call for many waiters, a 401 right
 *   after a refresh costs no second call;
 * - a token endpoint that fails (500, junk, no access_token,
 *   invalid_grant) or hangs: the file byte-identical, the pool says why
 *   (never a token), backoff 1 min then 2 min, other accounts refresh
 *   meanwhile; a refresh ahead of expiry from the tick;
 * - 200 rounds of a refresh racing an upload (re-login), a disable, an
 *   admin's edit and a delete through the core file API: nothing undone,
 *   nothing resurrected, and after the reload the pool serves the file's
 *   tokens when they are someone else's;
 * - refresh_same_auth: our own write-back needs no rebuild, an edit does;
 * - refresh_shutdown with a hung token call returns promptly.
 * The build gives refresh.c a short REFRESH_HTTP_MS and REFRESH_TICK_S.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "proxyd.h"

struct status_counters status_ctr;  /* snapshot.c counts into it */

static struct event_base *base;
static pid_t mock_pid = -1;
static char mock_url[64];
static char tmpdir[256], authdir[300];
static unsigned notified;          /* refresh.c's notify calls */

/* ------------------------------------------------------------- the mock */

static void
notify_cb(void)
{
	notified++;
}

static int
mock_start(void)
{
	const char *src = getenv("CLIPROXY_SRCDIR");
	char script[1024], portfile[400], buf[32] = "";
	int i;

	if (src == NULL)
		src = ".";
	snprintf(script, sizeof(script), "%s/tests/mock/oauth_mock.py", src);
	snprintf(portfile, sizeof(portfile), "%s/mock.port", tmpdir);
	if ((mock_pid = fork()) < 0)
		return -1;
	if (mock_pid == 0) {
		int dn = open("/dev/null", O_WRONLY);

		/* quiet: a hung answer's peer is gone when it is written */
		if (dn >= 0) {
			dup2(dn, 1);
			dup2(dn, 2);
			close(dn);
		}
		execlp("python3", "python3", script, "--port-file", portfile, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		FILE *f = fopen(portfile, "r");

		if (f != NULL) {
			if (fgets(buf, sizeof(buf), f) != NULL) {
				fclose(f);
				buf[strcspn(buf, "\n")] = '\0';
				snprintf(mock_url, sizeof(mock_url), "http://127.0.0.1:%s", buf);
				return 0;
			}
			fclose(f);
		}
		usleep(20000);
	}
	return -1;
}

/* POST a control body; the answer parsed (caller frees). */
static cJSON *
mock_post(const char *path, const char *body)
{
	struct httpc_resp r;
	char url[256], err[256];
	cJSON *j = NULL;

	snprintf(url, sizeof(url), "%s%s", mock_url, path);
	httpc_resp_init(&r);
	if (httpc_request(url, "application/json", body, strlen(body), NULL, NULL, 10000, &r,
	    err, sizeof(err)) != CP_OK || r.status != 200)
		fail_msg("mock %s: %s (HTTP %ld)", path, err, r.status);
	assert_int_equal(json_parse_strict(r.body.p, r.body.len, &j), CP_OK);
	httpc_resp_release(&r);
	return j;
}

static long
mock_calls(const char *kind)
{
	struct httpc_resp r;
	char url[256], err[256];
	cJSON *j = NULL;
	long long n = -1;

	snprintf(url, sizeof(url), "%s/_mock/count?kind=%s", mock_url, kind);
	httpc_resp_init(&r);
	assert_int_equal(httpc_request(url, NULL, NULL, 0, NULL, NULL, 10000, &r, err,
	    sizeof(err)), CP_OK);
	assert_int_equal(json_parse_strict(r.body.p, r.body.len, &j), CP_OK);
	assert_int_equal(json_get_int(j, "count", 0, 1LL << 40, &n), CP_OK);
	cJSON_Delete(j);
	httpc_resp_release(&r);
	return (long)n;
}

static void
mock_set(const char *json)
{
	cJSON_Delete(mock_post("/_mock/set", json));
}

static void
mock_fail(const char *kind, const char *mode, int n)
{
	char b[128];

	snprintf(b, sizeof(b), "{\"kind\":\"%s\",\"mode\":\"%s\",\"n\":%d}", kind, mode, n);
	cJSON_Delete(mock_post("/_mock/fail", b));
}

/* ---------------------------------------------------------- auth files */

/* A claude account file of a new mock account, with fields an admin set
 * (which every write-back must keep); expires in exp_s seconds. */
static void
write_account(const char *name, long exp_s, char *rt_out, size_t rtlen)
{
	cJSON *tok = mock_post("/_mock/account", "{\"kind\":\"claude\"}"), *doc;
	const char *at = NULL, *rt = NULL;
	char exp[48], *txt, err[128];

	assert_int_equal(json_get_string(tok, "access_token", &at), CP_OK);
	assert_int_equal(json_get_string(tok, "refresh_token", &rt), CP_OK);
	oauth_fmt_time(time(NULL) + exp_s, false, exp, sizeof(exp));
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "type", "claude");
	cJSON_AddStringToObject(doc, "access_token", at);
	cJSON_AddStringToObject(doc, "refresh_token", rt);
	cJSON_AddStringToObject(doc, "id_token", "");
	cJSON_AddStringToObject(doc, "email", "someone@example.com");
	cJSON_AddStringToObject(doc, "expired", exp);
	cJSON_AddStringToObject(doc, "x-admin-note", "keep me");
	txt = cJSON_PrintUnformatted(doc);
	assert_int_equal(authstore_write(authdir, name, txt, strlen(txt), err, sizeof(err)), CP_OK);
	if (rt_out != NULL)
		snprintf(rt_out, rtlen, "%s", rt);
	free(txt);
	cJSON_Delete(doc);
	cJSON_Delete(tok);
}

static cJSON *
read_account(const char *name)
{
	char *data = NULL;
	size_t len = 0;
	cJSON *j = NULL;

	if (authstore_read(authdir, name, &data, &len) != CP_OK)
		return NULL;
	if (json_parse_strict(data, len, &j) != CP_OK)
		fail_msg("'%s' does not parse", name);
	free(data);
	return j;
}

static char *
read_bytes(const char *name, size_t *len)
{
	char *data = NULL;

	assert_int_equal(authstore_read(authdir, name, &data, len), CP_OK);
	return data;
}

static const char *
str_of(const cJSON *j, const char *k)
{
	const char *s = NULL;

	return j != NULL && json_get_string(j, k, &s) == CP_OK ? s : NULL;
}

/* ----------------------------------------------------------- snapshots */

static const struct provider_ops fake_ops = {
	.kind = "claude", .format = FMT_CLAUDE, .also = FMT__COUNT, .family = CAT_NONE,
	.oauth = true, .refresh = refresh_start,
};

/* The config and auth-dir as a snapshot, installed. Accounts nobody's
 * build made credentials of (the account providers come from another
 * branch) get one each in a provider of our own. */
static struct snapshot *
load(void)
{
	char cfgtxt[1024], sha[65], err[256];
	struct authfile *auth = NULL;
	struct snapshot *s = NULL;
	struct prov *p, **np;
	size_t n = 0, i, k, j;
	bool ok;
	char *text;

	snprintf(cfgtxt, sizeof(cfgtxt),
	    "auth-dir: %s\n"
	    "endpoints:\n"
	    "  claude-token-url: %s/claude/token\n"
	    "  codex-token-url: %s/codex/token\n"
	    "  qwen-token-url: %s/qwen/token\n"
	    "  gemini-cli-token-url: %s/gemini/token\n", authdir, mock_url, mock_url, mock_url,
	    mock_url);
	text = strdup(cfgtxt);
	assert_int_equal(snapshot_read_auth(authdir, &auth, &n, sha, &ok), CP_OK);
	if (snapshot_build(&text, strlen(cfgtxt), &auth, n, sha, ok, &s, err, sizeof(err)) != CP_OK)
		fail_msg("snapshot_build: %s", err);
	free(text);
	p = calloc(1, sizeof(*p));
	p->ops = &fake_ops;
	p->name = strdup("claude-accounts");
	p->base_url = strdup("");
	p->creds = calloc(s->n_auth + 1, sizeof(*p->creds));
	for (i = 0; i < s->n_auth; i++) {
		bool have = s->auth[i].why != NULL;   /* skipped: disabled, broken */

		for (k = 0; k < s->n_provs; k++)
			for (j = 0; j < s->provs[k]->n_creds; j++)
				if (s->provs[k]->creds[j].acct == &s->auth[i])
					have = true;
		if (have)
			continue;
		struct cred *c = &p->creds[p->n_creds++];

		c->prov = p;
		c->acct = &s->auth[i];
		c->secret = strdup(refresh_file_token(&s->auth[i], "access_token") ?: "none");
		sha256_hex(s->auth[i].name, strlen(s->auth[i].name), c->id);
		snprintf(c->label, sizeof(c->label), "%s", s->auth[i].name);
	}
	np = realloc(s->provs, (s->n_provs + 1) * sizeof(*np));
	np[s->n_provs++] = p;
	s->provs = np;
	{   /* as watch.c does: the hook hears of the old one too */
		struct snapshot *old = snapshot_current();

		if (old != NULL)
			snapshot_ref(old);
		snapshot_install(s);
		refresh_installed(old, s);
		if (old != NULL)
			snapshot_unref(old);
	}
	return s;
}

static const struct cred *
cred_find(const struct snapshot *s, const char *name)
{
	size_t i, j;

	for (i = 0; i < s->n_provs; i++)
		for (j = 0; j < s->provs[i]->n_creds; j++)
			if (s->provs[i]->creds[j].acct != NULL &&
			    strcmp(s->provs[i]->creds[j].acct->name, name) == 0)
				return &s->provs[i]->creds[j];
	return NULL;
}

static const struct cred *
cred_of(const struct snapshot *s, const char *name)
{
	const struct cred *c = cred_find(s, name);

	if (c == NULL)
		fail_msg("no credential for '%s'", name);
	return c;
}

/* ------------------------------------------------------------- the loop */

struct waits {
	int n_done;                /* answers */
	int n_ok;                  /* of them CP_OK */
	int last_rc;
};

static void
done_cb(const char *id, int rc, void *arg)
{
	struct waits *w = arg;

	(void)id;
	w->n_done++;
	if (rc == CP_OK)
		w->n_ok++;
	w->last_rc = rc;
}

static long long
ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the loop until *n reaches want (or timeout_ms). */
static void
run_until(const int *n, int want, long timeout_ms)
{
	long long end = ms_now() + timeout_ms;
	struct timeval tv = { 0, 20000 };

	while (*n < want && ms_now() < end) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	if (*n < want)
		fail_msg("timed out: %d of %d answers", *n, want);
}

static void
run_for(long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* ------------------------------------------------------------ fixtures */

static int
group_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/cp-refresh-XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(authdir, sizeof(authdir), "%s/auth", tmpdir);
	if (mkdir(authdir, 0700) != 0 || mock_start() != 0)
		return -1;
	log_init("test_proxyd_refresh", false, LOG_LVL_ERR);
	if ((base = event_base_new()) == NULL)
		return -1;
	return refresh_init(base, notify_cb) == CP_OK ? 0 : -1;
}

static int
group_teardown(void **state)
{
	char cmd[400];

	(void)state;
	refresh_shutdown();
	snapshot_install(NULL);
	pool_free_all();
	event_base_free(base);
	if (mock_pid > 0) {
		kill(mock_pid, SIGTERM);
		waitpid(mock_pid, NULL, 0);
	}
	if (getenv("CLIPROXY_KEEP_TMP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			return -1;
	}
	return 0;
}

/* --------------------------------------------------------------- tests */

static void
test_refresh_merges(void **state)
{
	struct snapshot *s;
	const struct cred *c;
	const struct cred_state *st;
	struct waits w = { 0, 0, 0 };
	char old_rt[128];
	cJSON *f;
	long calls;
	time_t exp = 0;

	(void)state;
	mock_set("{\"slow_seconds\":0.3}");
	write_account("a.json", 86400, old_rt, sizeof(old_rt));
	s = load();
	c = cred_of(s, "a.json");
	calls = mock_calls("claude");
	/* 20 requests hit a 401 at once: one token call */
	for (int i = 0; i < 20; i++)
		assert_int_equal(refresh_start(c, done_cb, &w), CP_OK);
	st = pool_state(c->id, false);
	assert_non_null(st);
	assert_true(st->refreshing);
	run_until(&w.n_done, 20, 10000);
	assert_int_equal(w.n_ok, 20);
	assert_int_equal(mock_calls("claude") - calls, 1);
	assert_false(st->refreshing);
	assert_non_null(st->token);
	assert_string_not_equal(st->token, c->secret);
	assert_true(st->token_expiry > time(NULL) + 3000);
	/* merged into the file: the new tokens, the admin's field kept */
	f = read_account("a.json");
	assert_string_equal(str_of(f, "access_token"), st->token);
	assert_string_equal(str_of(f, "refresh_token"), st->refresh_tok);
	assert_string_not_equal(str_of(f, "refresh_token"), old_rt);
	assert_string_equal(str_of(f, "x-admin-note"), "keep me");
	assert_string_equal(str_of(f, "email"), "someone@example.com");
	assert_non_null(str_of(f, "last_refresh"));
	assert_int_equal(oauth_file_expiry(f, &exp), CP_OK);
	assert_true(exp > time(NULL) + 3000);
	cJSON_Delete(f);
	/* a 401 right after: the request had the old token, no new call */
	assert_int_equal(refresh_start(c, done_cb, &w), CP_OK);
	run_until(&w.n_done, 21, 5000);
	assert_int_equal(w.last_rc, CP_OK);
	assert_int_equal(mock_calls("claude") - calls, 1);
	assert_true(notified > 0);
	mock_set("{\"slow_seconds\":0}");
}

/* Our write-back changes the file: no rebuild needed; an edit: needed. */
static void
test_same_auth(void **state)
{
	struct snapshot *s = snapshot_current();
	struct authfile *auth = NULL;
	size_t n = 0;
	char sha[65], err[128];
	bool ok;
	cJSON *f;
	char *txt;

	(void)state;
	assert_non_null(s);
	assert_int_equal(snapshot_read_auth(authdir, &auth, &n, sha, &ok), CP_OK);
	assert_string_not_equal(sha, s->auth_sha);
	assert_true(refresh_same_auth(s, auth, n));
	snapshot_auth_free(auth, n);
	/* the admin sets a proxy: a real change */
	f = read_account("a.json");
	cJSON_AddStringToObject(f, "proxy-url", "socks5://admin.example:1080");
	txt = cJSON_PrintUnformatted(f);
	assert_int_equal(authstore_write(authdir, "a.json", txt, strlen(txt), err, sizeof(err)),
	    CP_OK);
	free(txt);
	cJSON_Delete(f);
	assert_int_equal(snapshot_read_auth(authdir, &auth, &n, sha, &ok), CP_OK);
	assert_false(refresh_same_auth(s, auth, n));
	snapshot_auth_free(auth, n);
	/* a rebuild keeps the pool's fresh token: the file holds it */
	{
		const char *tok_before = pool_state(cred_of(s, "a.json")->id, false)->token;
		char keep[256];

		snprintf(keep, sizeof(keep), "%s", tok_before);
		s = load();
		assert_non_null(pool_state(cred_of(s, "a.json")->id, false)->token);
		assert_string_equal(pool_state(cred_of(s, "a.json")->id, false)->token, keep);
	}
}

/* Every way a token endpoint fails: the file byte-identical, the pool
 * says why without a token, backoff doubles. */
static void
test_failures(void **state)
{
	static const char *const modes[] = { "500", "junk", "no_access", "invalid_grant", "hang" };
	struct snapshot *s;
	const struct cred *c;
	struct cred_state *st;
	struct waits w = { 0, 0, 0 };
	char *before, *after, rt[128];
	size_t blen, alen;
	size_t i;

	(void)state;
	mock_set("{\"hang_seconds\":4}");
	write_account("f.json", 86400, rt, sizeof(rt));
	s = load();
	c = cred_of(s, "f.json");
	before = read_bytes("f.json", &blen);
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		long long t0;

		st = pool_state(c->id, true);
		st->refresh_retry_at = 0;           /* skip the wait */
		st->refresh_failures = 0;
		mock_fail("claude", modes[i], 1);
		t0 = ms_now();
		assert_int_equal(refresh_start(c, done_cb, &w), CP_OK);
		run_until(&w.n_done, (int)i + 1, 10000);
		assert_int_not_equal(w.last_rc, CP_OK);
		if (strcmp(modes[i], "hang") == 0)  /* REFRESH_HTTP_MS of the build */
			assert_true(ms_now() - t0 < 3500);
		st = pool_state(c->id, false);
		assert_true(st->refresh_failed_at != 0);
		assert_true(st->refresh_err[0] != '\0');
		assert_null(strstr(st->refresh_err, rt));
		assert_null(strstr(st->refresh_err, "at-claude"));
		assert_null(strstr(st->refresh_err, "rt-claude"));
		assert_true(st->refresh_retry_at >= time(NULL) + REFRESH_BACKOFF_MIN_S - 2);
		assert_null(st->token);
		after = read_bytes("f.json", &alen);
		assert_int_equal(alen, blen);
		assert_memory_equal(after, before, blen);
		free(after);
		print_message("# %s: %s\n", modes[i], st->refresh_err);
	}
	/* backing off: refused at once, no call */
	{
		long calls = mock_calls("claude");

		assert_int_equal(refresh_start(c, done_cb, &w), CP_EBUSY);
		assert_int_equal(mock_calls("claude"), calls);
	}
	/* a second failure in a row doubles the wait */
	st->refresh_retry_at = 0;
	st->refresh_failures = 1;
	mock_fail("claude", "500", 1);
	assert_int_equal(refresh_start(c, done_cb, &w), CP_OK);
	run_until(&w.n_done, (int)i + 1, 10000);
	assert_true(st->refresh_retry_at >= time(NULL) + 2 * REFRESH_BACKOFF_MIN_S - 2);
	/* it recovers: the next refresh clears the failure */
	st->refresh_retry_at = 0;
	assert_int_equal(refresh_start(c, done_cb, &w), CP_OK);
	run_until(&w.n_done, (int)i + 2, 10000);
	assert_int_equal(w.last_rc, CP_OK);
	assert_int_equal(st->refresh_failed_at, 0);
	assert_int_equal(st->refresh_failures, 0);
	free(before);
	mock_set("{\"hang_seconds\":60}");
}

/* An account the daemon never refreshed cools down for one model because
 * its token was refused and for another on a quota; an edit of its file
 * that keeps the tokens keeps both, and a new login into the same file
 * forgets the refused token's cooldown and the failures (the new tokens
 * have earned nothing yet) but keeps the quota's. */
static void
test_relogin_forgets_cooldowns(void **state)
{
	struct snapshot *s;
	const struct cred *c;
	struct cred_state *st;
	time_t now = time(NULL);
	cJSON *doc;
	char *txt, err[128], id[65];

	(void)state;
	write_account("g.json", 86400, NULL, 0);
	s = load();
	c = cred_of(s, "g.json");
	memcpy(id, c->id, sizeof(id));
	pool_cooldown(id, "claude-sonnet-4-5", now + 3600, true);  /* token refused */
	pool_cooldown(id, "claude-opus-4-1", now + 3600, false);   /* quota */
	pool_result(id, false, now);
	st = pool_state(id, false);
	assert_non_null(st);
	assert_null(st->token);           /* never refreshed by the daemon */

	/* an admin's edit that keeps the tokens: still cooling */
	doc = read_account("g.json");
	cJSON_ReplaceItemInObject(doc, "email", cJSON_CreateString("edited@example.com"));
	txt = cJSON_PrintUnformatted(doc);
	assert_int_equal(authstore_write(authdir, "g.json", txt, strlen(txt), err, sizeof(err)),
	    CP_OK);
	free(txt);
	cJSON_Delete(doc);
	s = load();
	assert_string_equal(cred_of(s, "g.json")->id, id);
	assert_true(pool_cooling(id, "claude-sonnet-4-5", now, NULL));
	assert_true(pool_cooling(id, "claude-opus-4-1", now, NULL));
	assert_int_equal(pool_state(id, false)->failures, 1);

	/* a new login into the same file: forgotten */
	write_account("g.json", 86400, NULL, 0);
	s = load();
	assert_string_equal(cred_of(s, "g.json")->id, id);
	assert_false(pool_cooling(id, "claude-sonnet-4-5", now, NULL));
	/* a quota belongs to the account, whatever its token */
	assert_true(pool_cooling(id, "claude-opus-4-1", now, NULL));
	st = pool_state(id, false);
	assert_int_equal(st->failures, 0);
}

/* One account's token endpoint hangs; another's refresh goes through
 * meanwhile, and a refresh ahead of expiry starts from the tick. */
static void
test_hang_others_serve(void **state)
{
	struct snapshot *s;
	const struct cred *hung, *good, *soon;
	struct waits wh = { 0, 0, 0 }, wg = { 0, 0, 0 };
	const struct cred_state *st;
	long long t0;
	cJSON *f;

	(void)state;
	mock_set("{\"hang_seconds\":3}");
	write_account("h.json", 86400, NULL, 0);
	write_account("g.json", 86400, NULL, 0);
	/* inside claude's 4 h lead: the tick refreshes it unasked */
	write_account("soon.json", 600, NULL, 0);
	s = load();
	hung = cred_of(s, "h.json");
	good = cred_of(s, "g.json");
	soon = cred_of(s, "soon.json");
	mock_fail("claude", "hang", 1);
	assert_int_equal(refresh_start(hung, done_cb, &wh), CP_OK);
	usleep(100000);               /* the hang is the first call */
	t0 = ms_now();
	assert_int_equal(refresh_start(good, done_cb, &wg), CP_OK);
	run_until(&wg.n_done, 1, 5000);
	assert_int_equal(wg.last_rc, CP_OK);
	assert_true(ms_now() - t0 < 1500);
	assert_int_equal(wh.n_done, 0);
	run_until(&wh.n_done, 1, 10000);
	assert_int_not_equal(wh.last_rc, CP_OK);
	/* the tick (REFRESH_TICK_S of the build) */
	t0 = ms_now();
	while (((st = pool_state(soon->id, false)) == NULL || st->token == NULL) &&
	    ms_now() - t0 < 5000)
		run_for(50);
	assert_non_null(st);
	assert_non_null(st->token);
	f = read_account("soon.json");
	assert_string_equal(str_of(f, "access_token"), st->token);
	cJSON_Delete(f);
	mock_set("{\"hang_seconds\":60}");
}

/* ---------------------------------------------------------------- races */

enum edit { ED_UPLOAD = 0, ED_DISABLE, ED_EDIT, ED_DELETE, ED__N };
static const char *const edit_names[ED__N] = { "upload", "disable", "edit", "delete" };

struct racer {
	enum edit e;
	int delay_us;
	char *upload;              /* ED_UPLOAD: the new file */
};

static int
set_disabled(cJSON *doc, void *arg)
{
	(void)arg;
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "disabled");
	return cJSON_AddTrueToObject(doc, "disabled") != NULL ? CP_OK : CP_ENOMEM;
}

static int
admin_edit(cJSON *doc, void *arg)
{
	(void)arg;
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "proxy-url");
	return cJSON_AddStringToObject(doc, "proxy-url", "socks5://admin.example:1080") != NULL ?
	    CP_OK : CP_ENOMEM;
}

static void *
race_thread(void *arg)
{
	struct racer *r = arg;
	char err[128];

	usleep((useconds_t)r->delay_us);
	switch (r->e) {
	case ED_UPLOAD:
		(void)authstore_write(authdir, "race.json", r->upload, strlen(r->upload), err,
		    sizeof(err));
		break;
	case ED_DISABLE:
		(void)authstore_update(authdir, "race.json", set_disabled, NULL, err, sizeof(err));
		break;
	case ED_EDIT:
		(void)authstore_update(authdir, "race.json", admin_edit, NULL, err, sizeof(err));
		break;
	case ED_DELETE:
		(void)authstore_delete(authdir, "race.json");
		break;
	case ED__N:
		break;
	}
	return NULL;
}

static void
test_races(void **state)
{
	int rounds = 200, lost = 0, resurrected = 0, per[ED__N] = { 0 }, superseded = 0;
	struct waits w = { 0, 0, 0 };
	unsigned seed = (unsigned)time(NULL);

	(void)state;
	print_message("# seed %u\n", seed);
	for (int r = 0; r < rounds; r++) {
		struct racer rc = { (enum edit)(r % ED__N), (int)(rand_r(&seed) % 6000), NULL };
		struct snapshot *s;
		const struct cred *c;
		const struct cred_state *st;
		char up_rt[128] = "", err[128], id[65];
		pthread_t th;
		cJSON *f;

		write_account("race.json", 86400, NULL, 0);
		if (rc.e == ED_UPLOAD) {
			/* a re-login: the same file with a new account's tokens */
			cJSON *tok = mock_post("/_mock/account", "{\"kind\":\"claude\"}"), *doc;

			const char *nrt = str_of(tok, "refresh_token");

			assert_non_null(nrt);
			snprintf(up_rt, sizeof(up_rt), "%s", nrt != NULL ? nrt : "");
			doc = cJSON_CreateObject();
			cJSON_AddStringToObject(doc, "type", "claude");
			cJSON_AddStringToObject(doc, "access_token", str_of(tok, "access_token"));
			cJSON_AddStringToObject(doc, "refresh_token", up_rt);
			cJSON_AddStringToObject(doc, "email", "relogin@example.com");
			rc.upload = cJSON_PrintUnformatted(doc);
			cJSON_Delete(doc);
			cJSON_Delete(tok);
		}
		s = load();
		c = cred_of(s, "race.json");
		memcpy(id, c->id, sizeof(id));
		assert_int_equal(pthread_create(&th, NULL, race_thread, &rc), 0);
		assert_int_equal(refresh_start(c, done_cb, &w), CP_OK);
		run_until(&w.n_done, r + 1, 10000);
		pthread_join(th, NULL);
		per[rc.e]++;
		f = read_account("race.json");
		switch (rc.e) {
		case ED_UPLOAD:
			if (f == NULL || str_of(f, "refresh_token") == NULL ||
			    strcmp(str_of(f, "refresh_token"), up_rt) != 0 ||
			    str_of(f, "x-admin-note") != NULL)
				lost++;
			break;
		case ED_DISABLE:
			if (f == NULL || !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f,
			    "disabled")) || str_of(f, "x-admin-note") == NULL)
				lost++;
			break;
		case ED_EDIT:
			if (f == NULL || str_of(f, "proxy-url") == NULL ||
			    str_of(f, "x-admin-note") == NULL)
				lost++;
			break;
		case ED_DELETE:
			if (f != NULL)
				resurrected++;
			break;
		case ED__N:
			break;
		}
		/* after the reload the pool serves what the file says */
		s = load();
		if (f != NULL && rc.e == ED_DISABLE) {
			/* the reload drops a disabled account */
			if (cred_find(s, "race.json") != NULL)
				fail_msg("round %d: a disabled account is served", r);
			/* PROVIDERS 7: and it still got the new tokens */
			st = pool_state(id, false);
			if (st == NULL || st->token == NULL ||
			    strcmp(st->token, str_of(f, "access_token")) != 0)
				fail_msg("round %d: the disabled file lacks the refreshed token", r);
		} else if (f != NULL) {
			st = pool_state(cred_of(s, "race.json")->id, false);
			if (st != NULL && st->token != NULL &&
			    strcmp(st->token, str_of(f, "access_token")) != 0)
				fail_msg("round %d (%s): the pool serves a token the file does not "
				    "hold", r, edit_names[rc.e]);
			if (rc.e == ED_UPLOAD && st != NULL && st->token != NULL)
				superseded++;
			/* an edit still got the new tokens */
			if (rc.e == ED_EDIT &&
			    (st == NULL || st->token == NULL))
				fail_msg("round %d: the refresh was not merged (rc %d, %s, %s)", r,
				    w.last_rc, st != NULL ? st->refresh_err : "no state",
				    f != NULL && str_of(f, "last_refresh") ? "file refreshed" :
				    "file not refreshed");
		}
		cJSON_Delete(f);
		free(rc.upload);
		(void)authstore_delete(authdir, "race.json");
		(void)err;
	}
	print_message("# races: %d (upload %d, disable %d, edit %d, delete %d), lost edits: %d, "
	    "resurrected: %d, re-logins whose tokens the pool serves: %d\n", rounds,
	    per[ED_UPLOAD], per[ED_DISABLE], per[ED_EDIT], per[ED_DELETE], lost, resurrected,
	    superseded);
	assert_int_equal(lost, 0);
	assert_int_equal(resurrected, 0);
	assert_int_equal(w.n_ok, rounds);
}

/* Write raw bytes as the file (a hand edit that broke it). */
static void
write_raw(const char *name, const char *data, size_t len)
{
	char path[600], tmp[620];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", authdir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", authdir, name);
	assert_non_null(f = fopen(tmp, "w"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

/* The file cannot take the write-back (broken by hand meanwhile): the
 * new token serves, the write is retried on ticks and goes through once
 * the file is fixed; a refresh while one is pending still finds the file
 * its own (it holds the refresh token before the pending one). */
static void
test_writeback_retry(void **state)
{
	struct snapshot *s;
	const struct cred *c;
	struct cred_state *st;
	struct waits w = { 0, 0, 0 };
	char *orig, *mid;
	size_t olen, mlen;
	long long t0;
	cJSON *f;

	(void)state;
	write_account("p.json", 86400, NULL, 0);
	s = load();
	c = cred_of(s, "p.json");
	orig = read_bytes("p.json", &olen);
	mock_set("{\"slow_seconds\":0.3}");
	assert_int_equal(refresh_start(c, done_cb, &w), CP_OK);
	run_for(100);
	write_raw("p.json", "[1]", 3);
	run_until(&w.n_done, 1, 5000);
	mock_set("{\"slow_seconds\":0}");
	assert_int_equal(w.last_rc, CP_OK);      /* the token serves */
	st = pool_state(c->id, false);
	assert_true(st->writeback_pending);
	assert_non_null(strstr(st->refresh_err, "write-back"));
	run_for(1500);                           /* retried, still broken */
	assert_true(st->writeback_pending);
	write_raw("p.json", orig, olen);         /* fixed: the old tokens */
	t0 = ms_now();
	while (st->writeback_pending && ms_now() - t0 < 5000)
		run_for(50);
	assert_false(st->writeback_pending);
	f = read_account("p.json");
	assert_string_equal(str_of(f, "access_token"), st->token);
	assert_string_equal(str_of(f, "refresh_token"), st->refresh_tok);
	cJSON_Delete(f);
	/* pending again, the file fixed, and a new refresh before the retry */
	mid = read_bytes("p.json", &mlen);
	st->last_refresh = 0;                    /* no 10 s shortcut */
	mock_set("{\"slow_seconds\":0.3}");
	assert_int_equal(refresh_start(c, done_cb, &w), CP_OK);
	run_for(100);
	write_raw("p.json", "[2]", 3);
	run_until(&w.n_done, 2, 5000);
	mock_set("{\"slow_seconds\":0}");
	assert_true(st->writeback_pending);
	write_raw("p.json", mid, mlen);
	st->last_refresh = 0;
	assert_int_equal(refresh_start(c, done_cb, &w), CP_OK);
	run_until(&w.n_done, 3, 5000);
	assert_int_equal(w.last_rc, CP_OK);
	t0 = ms_now();
	while (st->writeback_pending && ms_now() - t0 < 5000)
		run_for(50);
	run_for(1200);                           /* a stale retry, if any, ran */
	f = read_account("p.json");
	assert_false(st->writeback_pending);
	assert_string_equal(str_of(f, "access_token"), st->token);
	assert_string_equal(str_of(f, "refresh_token"), st->refresh_tok);
	assert_string_equal(str_of(f, "x-admin-note"), "keep me");
	cJSON_Delete(f);
	/* and the refresh token both hold is a live one */
	st->last_refresh = 0;
	assert_int_equal(refresh_start(c, done_cb, &w), CP_OK);
	run_until(&w.n_done, 4, 5000);
	assert_int_equal(w.last_rc, CP_OK);
	free(orig);
	free(mid);
}

/* Shutdown with a token call hanging: prompt; a restart works. */
static void
test_shutdown_hung(void **state)
{
	struct snapshot *s;
	struct waits w = { 0, 0, 0 };
	long long t0;

	(void)state;
	mock_set("{\"hang_seconds\":30}");
	write_account("z.json", 86400, NULL, 0);
	s = load();
	mock_fail("claude", "hang", 1);
	assert_int_equal(refresh_start(cred_of(s, "z.json"), done_cb, &w), CP_OK);
	run_for(200);
	t0 = ms_now();
	refresh_shutdown();
	print_message("# shutdown with a hung token call: %lld ms\n", ms_now() - t0);
	assert_true(ms_now() - t0 < REFRESH_STOP_GRACE_MS + 2500);
	assert_int_equal(refresh_start(cred_of(s, "z.json"), done_cb, &w), CP_EPERM);
	assert_int_equal(refresh_init(base, notify_cb), CP_OK);
	mock_set("{\"hang_seconds\":60}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refresh_merges),
		cmocka_unit_test(test_same_auth),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_relogin_forgets_cooldowns),
		cmocka_unit_test(test_hang_others_serve),
		cmocka_unit_test(test_races),
		cmocka_unit_test(test_writeback_retry),
		cmocka_unit_test(test_shutdown_hung),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
