/*
 * test_cfgtx.c - config transactions (DESIGN.md 4): concurrent writers
 * lose nothing, a file that does not parse is never overwritten, a failed
 * change leaves the file byte-identical, the file's mode is kept; the
 * If-Match precondition and the hooks of cfg_transact_opts (issue 13).
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
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

#define APPENDS_PER_PROC 500   /* issue 2 acceptance: 2 x 500 */

struct fixture {
	char dir[64];          /* temporary directory */
	char path[128];        /* config.yaml inside it */
	pid_t kids[2];         /* writer processes, killed in teardown */
};

static const char base_text[] =
	"# clients\n"
	"api-keys: [] # filled by the test\n"
	"\n"
	"# retries\n"
	"request-retry: 1\n";

static void
write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static char *
slurp(const char *path, size_t *len)
{
	char *t = NULL;

	assert_int_equal(fio_read_file(path, CP_CONFIG_MAX, &t, len), CP_OK);
	return t;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cp-cfgtx-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/config.yaml", f->dir);
	f->kids[0] = f->kids[1] = -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	struct dirent *de;
	DIR *d;
	char p[512];
	int i;

	for (i = 0; i < 2; i++)
		if (f->kids[i] > 0) {
			kill(f->kids[i], SIGKILL);
			waitpid(f->kids[i], NULL, 0);
		}
	if ((d = opendir(f->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

struct append_arg {
	const char *prefix;    /* writer name */
	int i;                 /* entry number */
};

/* Read the list from the model under the lock, append one, set it. */
static int
append_key(struct cfg_tx *tx, void *argp)
{
	const struct append_arg *a = argp;
	static const char *const path[] = { "api-keys", NULL };
	cJSON *arr = cJSON_CreateArray();
	char item[64];
	size_t i;
	int rc;

	for (i = 0; i < tx->cfg->api_keys.n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(tx->cfg->api_keys.v[i]));
	snprintf(item, sizeof(item), "%s-%d", a->prefix, a->i);
	cJSON_AddItemToArray(arr, cJSON_CreateString(item));
	rc = cfg_tx_set(tx, path, arr);
	cJSON_Delete(arr);
	return rc;
}

static void
test_concurrent_appends(void **state)
{
	struct fixture *f = *state;
	struct cfg *c = NULL;
	char err[256];
	int k, status;
	size_t i, j;

	write_file(f->path, base_text, 0640);
	for (k = 0; k < 2; k++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct append_arg a = { k == 0 ? "alpha" : "beta", 0 };
			for (a.i = 0; a.i < APPENDS_PER_PROC; a.i++) {
				int rc;
				/* a busy lock is retried: the test is about losing nothing */
				while ((rc = cfg_transact(f->path, append_key, &a, err, sizeof(err))) ==
				    CP_EBUSY)
					;
				if (rc != CP_OK)
					_exit(10);
			}
			_exit(0);
		}
		f->kids[k] = pid;
	}
	for (k = 0; k < 2; k++) {
		assert_int_equal(waitpid(f->kids[k], &status, 0), f->kids[k]);
		f->kids[k] = -1;
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(cfg_load(f->path, &c, err, sizeof(err)), CP_OK);
	assert_int_equal(c->api_keys.n, 2 * APPENDS_PER_PROC);
	for (i = 0; i < c->api_keys.n; i++)
		for (j = i + 1; j < c->api_keys.n; j++)
			assert_string_not_equal(c->api_keys.v[i], c->api_keys.v[j]);
	assert_int_equal(c->request_retry, 1);
	cfg_free(c);
	{
		size_t len;
		char *t = slurp(f->path, &len);
		struct stat st;
		/* comments survived a thousand writes, mode kept */
		assert_int_equal(strncmp(t, "# clients\napi-keys: # filled by the test\n", 41), 0);
		assert_non_null(strstr(t, "\n\n# retries\nrequest-retry: 1\n"));
		free(t);
		assert_int_equal(stat(f->path, &st), 0);
		assert_int_equal(st.st_mode & 07777, 0640);
	}
}

static int
set_retry(struct cfg_tx *tx, void *arg)
{
	static const char *const path[] = { "request-retry", NULL };
	cJSON *v = cJSON_CreateNumber(*(int *)arg);
	int rc = cfg_tx_set(tx, path, v);

	cJSON_Delete(v);
	return rc;
}

static int
calls;

static int
fail_after_set(struct cfg_tx *tx, void *arg)
{
	int rc = set_retry(tx, arg);

	calls++;
	assert_int_equal(rc, CP_OK);
	snprintf(tx->err, sizeof(tx->err), "refused by the test");
	return CP_EPERM;
}

static int
write_garbage(struct cfg_tx *tx, void *arg)
{
	(void)arg;
	calls++;
	tx->out = strdup("request-retry: 500\n");
	tx->outlen = strlen(tx->out);
	return CP_OK;
}

static int
no_change(struct cfg_tx *tx, void *arg)
{
	(void)tx;
	(void)arg;
	calls++;
	return CP_OK;
}

static void
test_bad_file_untouched(void **state)
{
	struct fixture *f = *state;
	static const char broken[] = "# broken\nport: 1\n  host: x\n";
	char err[256] = "";
	size_t len;
	char *t;
	int v = 7;

	write_file(f->path, broken, 0600);
	calls = 0;
	assert_int_equal(cfg_transact(f->path, set_retry, &v, err, sizeof(err)), CP_EPARSE);
	assert_int_equal(strncmp(err, "line 3: ", 8), 0);
	t = slurp(f->path, &len);
	assert_int_equal(len, strlen(broken));
	assert_memory_equal(t, broken, len);
	free(t);
	/* semantically bad: also refused, also untouched */
	write_file(f->path, "request-retry: 101\n", 0600);
	assert_int_equal(cfg_transact(f->path, set_retry, &v, err, sizeof(err)), CP_EINVAL);
	assert_non_null(strstr(err, "request-retry"));
	t = slurp(f->path, &len);
	assert_string_equal(t, "request-retry: 101\n");
	free(t);
	/* missing file */
	unlink(f->path);
	assert_int_equal(cfg_transact(f->path, set_retry, &v, err, sizeof(err)), CP_ENOTFOUND);
}

static void
test_failures_leave_file(void **state)
{
	struct fixture *f = *state;
	char err[256] = "";
	size_t len;
	char *t;
	int v = 9;
	struct stat st1, st2;

	write_file(f->path, base_text, 0640);
	assert_int_equal(stat(f->path, &st1), 0);
	calls = 0;
	assert_int_equal(cfg_transact(f->path, fail_after_set, &v, err, sizeof(err)), CP_EPERM);
	assert_int_equal(calls, 1);
	assert_string_equal(err, "refused by the test");
	assert_int_equal(cfg_transact(f->path, write_garbage, &v, err, sizeof(err)), CP_EINVAL);
	assert_non_null(strstr(err, "line 1: request-retry"));
	assert_int_equal(cfg_transact(f->path, no_change, &v, err, sizeof(err)), CP_OK);
	t = slurp(f->path, &len);
	assert_int_equal(len, strlen(base_text));
	assert_memory_equal(t, base_text, len);
	free(t);
	assert_int_equal(stat(f->path, &st2), 0);
	assert_int_equal(st1.st_ino, st2.st_ino);
	/* and a good change: mode kept, only its line changed */
	assert_int_equal(cfg_transact(f->path, set_retry, &v, err, sizeof(err)), CP_OK);
	t = slurp(f->path, &len);
	assert_string_equal(t, "# clients\napi-keys: [] # filled by the test\n\n# retries\n"
	    "request-retry: 9\n");
	free(t);
	assert_int_equal(stat(f->path, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0640);
}

/* Two cfg_tx_set calls in one transaction build on each other. */
static int
two_sets(struct cfg_tx *tx, void *arg)
{
	static const char *const p1[] = { "request-retry", NULL };
	static const char *const p2[] = { "quota-exceeded", "switch-project", NULL };
	cJSON *a = cJSON_CreateNumber(4), *b = cJSON_CreateFalse();
	int rc;

	(void)arg;
	rc = cfg_tx_set(tx, p1, a);
	if (rc == CP_OK)
		rc = cfg_tx_set(tx, p2, b);
	cJSON_Delete(a);
	cJSON_Delete(b);
	return rc;
}

static void
test_two_sets(void **state)
{
	struct fixture *f = *state;
	struct cfg *c = NULL;
	char err[256] = "";

	write_file(f->path, base_text, 0600);
	assert_int_equal(cfg_transact(f->path, two_sets, NULL, err, sizeof(err)), CP_OK);
	assert_int_equal(cfg_load(f->path, &c, err, sizeof(err)), CP_OK);
	assert_int_equal(c->request_retry, 4);
	assert_false(c->switch_project);
	cfg_free(c);
}

/* cfg_transact_opts (issue 13): If-Match judged under the lock before fn
 * runs, hooks around the rename, the hashes before and after. */
static int hook_calls[2];       /* before_write, after_write */
static int before_rc;           /* what before_write answers */

static int
hook_before(struct cfg_tx *tx, void *arg)
{
	(void)arg;
	hook_calls[0]++;
	if (before_rc != CP_OK)
		snprintf(tx->err, sizeof(tx->err), "refused by the hook");
	return before_rc;
}

static void
hook_after(const struct cfg_tx *tx, void *arg)
{
	struct cfg_tx_opts *o = arg;

	hook_calls[1]++;
	/* the new file is in place and its hash known */
	assert_true(o->written);
	assert_int_equal(strlen(o->sha_after), 64);
	assert_non_null(tx->out);
}

static int
counted_set(struct cfg_tx *tx, void *arg)
{
	calls++;
	return set_retry(tx, arg);
}

static void
test_opts_if_match_and_hooks(void **state)
{
	struct fixture *f = *state;
	struct cfg_tx_opts o;
	char err[256] = "", etag[ETAG_LEN + 1], sha[65];
	size_t len;
	char *t;
	int v = 7;

	write_file(f->path, base_text, 0600);
	sha256_hex(base_text, strlen(base_text), sha);
	etag_of(base_text, strlen(base_text), etag, sizeof(etag));
	memset(&o, 0, sizeof(o));
	o.before_write = hook_before;
	o.after_write = hook_after;
	o.hook_arg = &o;
	/* a stale tag: fn never runs, nothing is written */
	o.if_match = "\"0000\"";
	calls = 0;
	assert_int_equal(cfg_transact_opts(f->path, &o, counted_set, &v, err, sizeof(err)),
	    CP_ECHANGED);
	assert_string_equal(err, "config changed since it was read");
	assert_int_equal(calls, 0);
	assert_int_equal(hook_calls[0] + hook_calls[1], 0);
	assert_string_equal(o.sha_before, sha);
	assert_false(o.written);
	/* the hook refuses: the file stays, after_write does not run */
	o.if_match = etag;
	before_rc = CP_EIO;
	assert_int_equal(cfg_transact_opts(f->path, &o, set_retry, &v, err, sizeof(err)), CP_EIO);
	assert_string_equal(err, "refused by the hook");
	assert_int_equal(hook_calls[0], 1);
	assert_int_equal(hook_calls[1], 0);
	assert_false(o.written);
	t = slurp(f->path, &len);
	assert_int_equal(len, strlen(base_text));
	assert_memory_equal(t, base_text, len);
	free(t);
	/* the current tag (in a list): written, both hooks, new hash */
	before_rc = CP_OK;
	o.if_match = "\"x\", W/\"y\", " ;
	assert_int_equal(cfg_transact_opts(f->path, &o, set_retry, &v, err, sizeof(err)),
	    CP_ECHANGED);
	o.if_match = etag;
	assert_int_equal(cfg_transact_opts(f->path, &o, set_retry, &v, err, sizeof(err)), CP_OK);
	assert_int_equal(hook_calls[0], 2);
	assert_int_equal(hook_calls[1], 1);
	assert_true(o.written);
	t = slurp(f->path, &len);
	sha256_hex(t, len, sha);
	free(t);
	assert_string_equal(o.sha_after, sha);
	/* the old tag no longer matches; a no-op change writes nothing and
	 * runs no hook */
	assert_int_equal(cfg_transact_opts(f->path, &o, set_retry, &v, err, sizeof(err)),
	    CP_ECHANGED);
	o.if_match = "*";
	assert_int_equal(cfg_transact_opts(f->path, &o, no_change, &v, err, sizeof(err)), CP_OK);
	assert_false(o.written);
	assert_string_equal(o.sha_after, o.sha_before);
	assert_int_equal(hook_calls[0], 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_file_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failures_leave_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_sets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_opts_if_match_and_hooks, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
