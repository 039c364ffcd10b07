/*
 * test_authstore.c - the auth-dir (DESIGN 4, DESIGN 5 "Auth files").
 *
 * Decision pinned here: a symlink, directory or FIFO with a valid name is
 * invisible to read and delete as well as to the list: CP_ENOTFOUND.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
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

struct fixture {
	char top[64];    /* temporary directory */
	char dir[96];    /* auth-dir inside it */
	char out[96];    /* a directory outside auth-dir */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->top, sizeof(f->top), "/tmp/cp-auth-XXXXXX");
	if (mkdtemp(f->top) == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/auth", f->top);
	snprintf(f->out, sizeof(f->out), "%s/outside", f->top);
	if (mkdir(f->dir, 0700) != 0 || mkdir(f->out, 0700) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->top);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
put(const char *dir, const char *name, const char *data)
{
	char p[512];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fp = fopen(p, "w");
	assert_non_null(fp);
	assert_true(fputs(data, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static bool
exists(const char *dir, const char *name)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

struct name_case {
	const char *s;
	size_t len;
	bool ok;
};

#define N(s, ok) { s, sizeof(s) - 1, ok }

static void
test_names(void **state)
{
	static const struct name_case cases[] = {
		N("a.json", true),
		N("A-b_c@d+e.JSON", true),
		N("gemini-user@example.com-project.json", true),
		N("x.Json", true),
		N("a.b.json", true),
		N("", false),
		N(".x.json", false),
		N(".json", false),
		N("../a.json", false),
		N("a/b.json", false),
		N("%2e%2e.json", false),
		N("a.json\0x", false),
		N("a\0.json", false),
		N("a.txt", false),
		N("a.json.txt", false),
		N("a json.json", false),
		N("a\\b.json", false),
		N("a:b.json", false),
		N("a.json ", false),
		N("json", false),
		N("\xc3\xa9.json", false),
	};
	char big[CP_AUTHNAME_MAX + 2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (authstore_name_ok(cases[i].s, cases[i].len) != cases[i].ok)
			fail_msg("authstore_name_ok case %zu != %d", i, cases[i].ok);
	/* 200 bytes is the longest allowed name; 201 is refused. */
	memset(big, 'a', sizeof(big));
	memcpy(big + CP_AUTHNAME_MAX - 5, ".json", 5);
	assert_true(authstore_name_ok(big, CP_AUTHNAME_MAX));
	memset(big, 'a', sizeof(big));
	memcpy(big + CP_AUTHNAME_MAX + 1 - 5, ".json", 5);
	assert_false(authstore_name_ok(big, CP_AUTHNAME_MAX + 1));
	assert_false(authstore_name_ok(NULL, 0));
}

/* The zoo of things list must hide. */
static void
make_zoo(const struct fixture *f)
{
	char p[512], link[512];

	put(f->dir, "b.json", "{\"type\":\"claude\",\"access_token\":\"t\"}");
	put(f->dir, "a.json", "{\"type\":\"codex\"}");
	put(f->dir, "C.json", "{\"email\":\"x@example.com\"}");   /* no type */
	put(f->dir, "d.JSON", "[1,2]");                           /* not an object */
	put(f->dir, "e.json", "{\"type\":42}");                   /* type not a string */
	put(f->dir, "f.json", "not json");
	put(f->dir, ".hidden.json", "{\"type\":\"gemini\"}");
	put(f->dir, "notes.txt", "{}");
	put(f->out, "secret.json", "{\"type\":\"outside\"}");
	snprintf(p, sizeof(p), "%s/secret.json", f->out);
	snprintf(link, sizeof(link), "%s/x.json", f->dir);
	assert_int_equal(symlink(p, link), 0);
	snprintf(p, sizeof(p), "%s/d2.json", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/fifo.json", f->dir);
	assert_int_equal(mkfifo(p, 0600), 0);
}

static void
test_list(void **state)
{
	static const char *const want[] = { "C.json", "a.json", "b.json", "d.JSON",
		"e.json", "f.json" };
	static const char *const want_type[] = { NULL, "codex", "claude", NULL, NULL,
		NULL };
	struct fixture *f = *state;
	struct authstore_entry *v = NULL;
	size_t n = 0, i;

	(void)state;
	assert_int_equal(authstore_list(f->dir, &v, &n, NULL), CP_OK);
	assert_int_equal(n, 0);
	authstore_list_free(v, n);
	make_zoo(f);
	assert_int_equal(authstore_list(f->dir, &v, &n, NULL), CP_OK);
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < n; i++) {
		assert_string_equal(v[i].name, want[i]);
		if (want_type[i] == NULL)
			assert_null(v[i].type);
		else
			assert_string_equal(v[i].type, want_type[i]);
	}
	assert_int_equal(v[1].size, strlen("{\"type\":\"codex\"}"));
	assert_true(v[1].mtime > 1000000000);
	authstore_list_free(v, n);
}

static void
test_list_missing(void **state)
{
	struct fixture *f = *state;
	struct authstore_entry *v = NULL;
	char p[160];
	size_t n = 5;

	snprintf(p, sizeof(p), "%s/none", f->top);
	assert_int_equal(authstore_list(p, &v, &n, NULL), CP_ENOTFOUND);
	assert_null(v);
	assert_int_equal(n, 0);
}

static void
test_read(void **state)
{
	struct fixture *f = *state;
	char *data = NULL;
	size_t len = 0;

	make_zoo(f);
	assert_int_equal(authstore_read(f->dir, "a.json", &data, &len), CP_OK);
	assert_int_equal(len, strlen("{\"type\":\"codex\"}"));
	assert_string_equal(data, "{\"type\":\"codex\"}");
	free(data);
	data = NULL;
	assert_int_equal(authstore_read(f->dir, "zz.json", &data, &len), CP_ENOTFOUND);
	assert_int_equal(authstore_read(f->dir, "x.json", &data, &len), CP_ENOTFOUND);
	assert_null(data);
	assert_int_equal(authstore_read(f->dir, "d2.json", &data, &len), CP_ENOTFOUND);
	assert_int_equal(authstore_read(f->dir, "fifo.json", &data, &len), CP_ENOTFOUND);
	assert_int_equal(authstore_read(f->dir, ".hidden.json", &data, &len), CP_EINVAL);
	assert_int_equal(authstore_read(f->dir, "../outside/secret.json", &data, &len),
	    CP_EINVAL);
	assert_int_equal(authstore_read(f->dir, "notes.txt", &data, &len), CP_EINVAL);
	assert_null(data);
}

static void
test_write(void **state)
{
	struct fixture *f = *state;
	char err[128], *big, *data = NULL, p[160];
	struct stat st;
	size_t len;

	assert_int_equal(authstore_write(f->dir, "n.json", "{\"type\":\"qwen\"}", 15, err,
	    sizeof(err)), CP_OK);
	assert_int_equal(authstore_read(f->dir, "n.json", &data, &len), CP_OK);
	assert_string_equal(data, "{\"type\":\"qwen\"}");
	free(data);
	snprintf(p, sizeof(p), "%s/n.json", f->dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* The lock file exists, is a dot-file, and is not listed. */
	assert_true(exists(f->dir, ".lock"));
	/* A directory in the way is a conflict, named in the message. */
	{
		char d[160];

		snprintf(d, sizeof(d), "%s/in-the-way.json", f->dir);
		assert_int_equal(mkdir(d, 0700), 0);
		assert_int_equal(authstore_write(f->dir, "in-the-way.json", "{}", 2, err,
		    sizeof(err)), CP_EEXIST);
		assert_non_null(strstr(err, "directory"));
		assert_int_equal(rmdir(d), 0);
	}
	/* Replacing keeps the mode. */
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(authstore_write(f->dir, "n.json", "{}", 2, err, sizeof(err)),
	    CP_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_size, 2);

	/* Refusals leave the file as it was. */
	assert_int_equal(authstore_write(f->dir, "n.json", "[]", 2, err, sizeof(err)),
	    CP_EINVAL);
	assert_int_equal(authstore_write(f->dir, "n.json", "1", 1, err, sizeof(err)),
	    CP_EINVAL);
	assert_int_equal(authstore_write(f->dir, "n.json", "\"s\"", 3, err, sizeof(err)),
	    CP_EINVAL);
	assert_int_equal(authstore_write(f->dir, "n.json", "junk", 4, err, sizeof(err)),
	    CP_EPARSE);
	assert_int_equal(authstore_write(f->dir, "n.json", "{} junk", 7, err, sizeof(err)),
	    CP_EPARSE);
	assert_int_equal(authstore_write(f->dir, "n.json", "", 0, err, sizeof(err)),
	    CP_EPARSE);
	assert_int_equal(authstore_write(f->dir, "../n.json", "{}", 2, err, sizeof(err)),
	    CP_EINVAL);
	assert_int_equal(authstore_write(f->dir, ".n.json", "{}", 2, err, sizeof(err)),
	    CP_EINVAL);
	assert_false(exists(f->dir, ".n.json"));
	big = malloc(CP_AUTHFILE_MAX + 2);
	assert_non_null(big);
	memset(big, ' ', CP_AUTHFILE_MAX + 1);
	big[0] = '{';
	big[CP_AUTHFILE_MAX - 1] = '}';
	/* Exactly the cap is fine, one byte more is not. */
	assert_int_equal(authstore_write(f->dir, "big.json", big, CP_AUTHFILE_MAX, err,
	    sizeof(err)), CP_OK);
	assert_int_equal(authstore_write(f->dir, "big2.json", big, CP_AUTHFILE_MAX + 1, err,
	    sizeof(err)), CP_ETOOBIG);
	assert_false(exists(f->dir, "big2.json"));
	free(big);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 2);
}

static void
test_write_creates_dir(void **state)
{
	struct fixture *f = *state;
	char dir[160], err[128];
	struct authstore_entry *v = NULL;
	struct stat st;
	size_t n = 0;

	snprintf(dir, sizeof(dir), "%s/fresh", f->top);
	assert_int_equal(authstore_write(dir, "a.json", "{}", 2, err, sizeof(err)), CP_OK);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(authstore_list(dir, &v, &n, NULL), CP_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "a.json");
	authstore_list_free(v, n);
	/* Two levels missing: not created. */
	snprintf(dir, sizeof(dir), "%s/x/y", f->top);
	assert_int_equal(authstore_write(dir, "a.json", "{}", 2, err, sizeof(err)),
	    CP_ENOTFOUND);
	assert_true(err[0] != '\0');
}

static void
test_write_busy(void **state)
{
	struct fixture *f = *state;
	struct lock l = LOCK_INIT;
	char lp[160], err[128];

	authstore_lock_path(f->dir, lp, sizeof(lp));
	snprintf(err, sizeof(err), "%s/.lock", f->dir);
	assert_string_equal(lp, err);
	/* Held by another open file description: the writer waits out
	 * CP_LOCK_TIMEOUT_MS and gives up. */
	assert_int_equal(lock_acquire(&l, lp, 100), CP_OK);
	assert_int_equal(authstore_write(f->dir, "a.json", "{}", 2, err, sizeof(err)),
	    CP_EBUSY);
	assert_false(exists(f->dir, "a.json"));
	assert_int_equal(authstore_delete(f->dir, "a.json"), CP_EBUSY);
	lock_release(&l);
	assert_int_equal(authstore_write(f->dir, "a.json", "{}", 2, err, sizeof(err)),
	    CP_OK);
}

static void
test_delete(void **state)
{
	struct fixture *f = *state;
	char p[160];

	make_zoo(f);
	assert_int_equal(authstore_delete(f->dir, "a.json"), CP_OK);
	assert_false(exists(f->dir, "a.json"));
	assert_int_equal(authstore_delete(f->dir, "a.json"), CP_ENOTFOUND);
	assert_int_equal(authstore_delete(f->dir, "x.json"), CP_ENOTFOUND);
	assert_true(exists(f->dir, "x.json"));
	assert_int_equal(authstore_delete(f->dir, "d2.json"), CP_ENOTFOUND);
	assert_true(exists(f->dir, "d2.json"));
	assert_int_equal(authstore_delete(f->dir, "fifo.json"), CP_ENOTFOUND);
	assert_int_equal(authstore_delete(f->dir, ".hidden.json"), CP_EINVAL);
	assert_int_equal(authstore_delete(f->dir, "../outside/secret.json"), CP_EINVAL);
	assert_true(exists(f->dir, ".hidden.json"));
	assert_true(exists(f->out, "secret.json"));
	snprintf(p, sizeof(p), "%s/none", f->top);
	assert_int_equal(authstore_delete(p, "a.json"), CP_ENOTFOUND);
}

static void
test_delete_all(void **state)
{
	struct fixture *f = *state;
	struct authstore_entry *v = NULL;
	size_t n = 0, deleted = 99;
	char p[160];

	make_zoo(f);
	assert_int_equal(authstore_delete_all(f->dir, &deleted), CP_OK);
	assert_int_equal(deleted, 6);
	assert_int_equal(authstore_list(f->dir, &v, &n, NULL), CP_OK);
	assert_int_equal(n, 0);
	authstore_list_free(v, n);
	/* Everything the list hides is still there. */
	assert_true(exists(f->dir, ".hidden.json"));
	assert_true(exists(f->dir, "notes.txt"));
	assert_true(exists(f->dir, "x.json"));
	assert_true(exists(f->dir, "d2.json"));
	assert_true(exists(f->dir, "fifo.json"));
	assert_true(exists(f->out, "secret.json"));
	assert_false(exists(f->dir, "a.json"));
	assert_false(exists(f->dir, "d.JSON"));
	/* Again: nothing left to delete. */
	assert_int_equal(authstore_delete_all(f->dir, &deleted), CP_OK);
	assert_int_equal(deleted, 0);
	snprintf(p, sizeof(p), "%s/none", f->top);
	assert_int_equal(authstore_delete_all(p, &deleted), CP_ENOTFOUND);
}

/* Issue 10 item 7. CP_AUTHDIR_FILES_MAX files list; at the cap a new name
 * is refused (CP_ELIMIT, the message names the cap) while replacing a file
 * still works; files put there by hand past the cap still list (the
 * smallest names, *total counts all: it was CP_ETOOBIG, a 500) and
 * delete_all removes every one (it deleted nothing). A file over
 * CP_AUTHFILE_MAX is listed without a type. */
static void
test_caps(void **state)
{
	struct fixture *f = *state;
	struct authstore_entry *v = NULL;
	size_t n = 0, total = 0, deleted = 7, i;
	char name[32], p[160], err[256] = "";
	FILE *fp;
	int dfd, fd;

	snprintf(p, sizeof(p), "%s/big.json", f->dir);
	fp = fopen(p, "w");
	assert_non_null(fp);
	assert_true(fputs("{\"type\":\"claude\",\"pad\":\"", fp) >= 0);
	for (i = 0; i < CP_AUTHFILE_MAX; i++)
		assert_true(fputc('x', fp) != EOF);
	assert_true(fputs("\"}", fp) >= 0);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(authstore_list(f->dir, &v, &n, &total), CP_OK);
	assert_int_equal(n, 1);
	assert_int_equal(total, 1);
	assert_string_equal(v[0].name, "big.json");
	assert_null(v[0].type);
	assert_true(v[0].size > (long long)CP_AUTHFILE_MAX);
	authstore_list_free(v, n);

	dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	/* in reverse order, so that the heap has work to do */
	for (i = CP_AUTHDIR_FILES_MAX - 1; i >= 1; i--) {
		snprintf(name, sizeof(name), "f%05zu.json", i);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	assert_int_equal(authstore_list(f->dir, &v, &n, &total), CP_OK);
	assert_int_equal(n, CP_AUTHDIR_FILES_MAX);
	assert_int_equal(total, CP_AUTHDIR_FILES_MAX);
	assert_string_equal(v[0].name, "big.json");
	assert_string_equal(v[n - 1].name, "f09999.json");
	authstore_list_free(v, n);
	/* full: a new name is refused, the directory is unchanged */
	assert_int_equal(authstore_write(f->dir, "new.json", "{}", 2, err, sizeof(err)),
	    CP_ELIMIT);
	assert_non_null(strstr(err, "10000"));
	assert_false(exists(f->dir, "new.json"));
	assert_int_equal(authstore_write(f->dir, "f00001.json", "{\"type\":\"qwen\"}", 15, err,
	    sizeof(err)), CP_OK);
	/* past the cap by hand */
	fd = openat(dfd, "one-more.json", O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	fd = openat(dfd, "a-first.json", O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	close(dfd);
	assert_int_equal(authstore_list(f->dir, &v, &n, &total), CP_OK);
	assert_int_equal(n, CP_AUTHDIR_FILES_MAX);
	assert_int_equal(total, CP_AUTHDIR_FILES_MAX + 2);
	assert_string_equal(v[0].name, "a-first.json");
	assert_string_equal(v[1].name, "big.json");
	assert_string_equal(v[2].name, "f00001.json");
	assert_string_equal(v[2].type, "qwen");
	assert_string_equal(v[n - 1].name, "f09998.json");
	for (i = 1; i < n; i++)
		assert_true(strcmp(v[i - 1].name, v[i].name) < 0);
	authstore_list_free(v, n);
	assert_int_equal(authstore_delete_all(f->dir, &deleted), CP_OK);
	assert_int_equal(deleted, CP_AUTHDIR_FILES_MAX + 2);
	assert_false(exists(f->dir, "f00001.json"));
	assert_false(exists(f->dir, "one-more.json"));
	assert_int_equal(authstore_list(f->dir, &v, &n, &total), CP_OK);
	assert_int_equal(n, 0);
	assert_int_equal(total, 0);
	authstore_list_free(v, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_creates_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
	};

	return cmocka_run_group_tests_name("authstore", tests, NULL, NULL);
}
