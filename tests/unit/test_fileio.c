/*
 * test_fileio.c - capped reads and the atomic replace of DESIGN 4 steps
 * 4-5. CI runs as root, so failures are forced with RLIMIT_FSIZE (a write
 * past it fails with EFBIG even for root) rather than directory modes.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core.h"

struct fixture {
	char dir[64];   /* temporary directory, removed in teardown */
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cp-fio-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
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
path_in(const struct fixture *f, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/%s", f->dir, name);
}

static void
put(const char *path, const char *data)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(data, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static void
assert_content(const char *path, const char *want)
{
	char *got = NULL;
	size_t len = 0;

	assert_int_equal(fio_read_file(path, 1 << 20, &got, &len), CP_OK);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(got, want, len);
	free(got);
}

/* Count ".*.tmp*" entries in dir. */
static int
count_temps(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] == '.' && strstr(de->d_name, ".tmp") != NULL)
			n++;
	closedir(d);
	return n;
}

static void
test_read(void **state)
{
	struct fixture *f = *state;
	char p[128], *out = (char *)1;
	size_t len = 99;
	int dfd;

	path_in(f, "a", p, sizeof(p));
	put(p, "0123456789");
	assert_int_equal(fio_read_file(p, 10, &out, &len), CP_OK);
	assert_int_equal(len, 10);
	assert_string_equal(out, "0123456789");  /* NUL-terminated */
	free(out);
	assert_int_equal(fio_read_file(p, 9, &out, &len), CP_ETOOBIG);
	assert_null(out);
	path_in(f, "none", p, sizeof(p));
	assert_int_equal(fio_read_file(p, 10, &out, &len), CP_ENOTFOUND);
	/* Empty file. */
	path_in(f, "empty", p, sizeof(p));
	put(p, "");
	assert_int_equal(fio_read_file(p, 10, &out, &len), CP_OK);
	assert_int_equal(len, 0);
	assert_string_equal(out, "");
	free(out);
	/* A directory is not a regular file. */
	assert_int_equal(fio_read_file(f->dir, 10, &out, &len), CP_EPERM);

	dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(fio_read_at(dfd, "a", 100, &out, &len), CP_OK);
	assert_string_equal(out, "0123456789");
	free(out);
	assert_int_equal(fio_read_at(dfd, "none", 100, &out, &len), CP_ENOTFOUND);
	/* O_NOFOLLOW: a symlink is refused, even to a readable file. */
	assert_int_equal(symlinkat("a", dfd, "link"), 0);
	assert_int_equal(fio_read_at(dfd, "link", 100, &out, &len), CP_EPERM);
	assert_null(out);
	/* A FIFO neither hangs nor is read. */
	assert_int_equal(mkfifoat(dfd, "fifo", 0600), 0);
	assert_int_equal(fio_read_at(dfd, "fifo", 100, &out, &len), CP_EPERM);
	close(dfd);
}

/* A file edited in place (cut to 3 bytes, then extended to TORN_FULL
 * bytes, over and over by another process: each change is one atomic
 * size change) is only ever read as one of its two versions, never torn
 * (e.g. its first page from before a truncate and nothing after), or
 * refused as CP_EBUSY when it keeps changing. */
#define TORN_FULL 12288
#define TORN_READS 200     /* 1 in 10 or more is torn without the check */

static void
test_read_edited_in_place(void **state)
{
	struct fixture *f = *state;
	static const char full[TORN_FULL] = "abc";  /* then zeros, as extended */
	char p[128], *out;
	size_t len, i;
	int fd, st, whole = 0, shortv = 0, busy = 0, torn = 0, other = 0;
	pid_t pid;

	path_in(f, "edited", p, sizeof(p));
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, full, 3, 0), 3);
	assert_int_equal(ftruncate(fd, TORN_FULL), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;) {
			if (ftruncate(fd, 3) != 0 || ftruncate(fd, TORN_FULL) != 0)
				_exit(1);
		}
	}
	for (i = 0; i < TORN_READS; i++) {
		int rc = fio_read_file(p, 1 << 20, &out, &len);

		if (rc == CP_EBUSY) {
			busy++;
			continue;
		}
		if (rc != CP_OK) {
			other++;
			continue;
		}
		if (len == 3 && memcmp(out, full, 3) == 0)
			shortv++;
		else if (len == sizeof(full) && memcmp(out, full, len) == 0)
			whole++;
		else
			torn++;
		free(out);
	}
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(fd);
	print_message("# %d reads while resized in place: %d whole, %d short, %d busy, %d torn\n",
	    TORN_READS, whole, shortv, busy, torn);
	assert_int_equal(torn, 0);
	assert_int_equal(other, 0);
}

static void
test_write_new_and_replace(void **state)
{
	struct fixture *f = *state;
	char p[128], err[128];
	struct stat st;
	ino_t ino;

	path_in(f, "config.yaml", p, sizeof(p));
	/* New file: newmode. */
	assert_int_equal(fio_write_atomic(p, "one\n", 4, 0600, err, sizeof(err)), CP_OK);
	assert_content(p, "one\n");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Replacement keeps the old mode (0640 stays 0640) and the group. */
	assert_int_equal(chmod(p, 0640), 0);
	assert_int_equal(chown(p, (uid_t)-1, 12345), 0);
	assert_int_equal(stat(p, &st), 0);
	ino = st.st_ino;
	assert_int_equal(fio_write_atomic(p, "two, longer\n", 12, 0600, err, sizeof(err)),
	    CP_OK);
	assert_content(p, "two, longer\n");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_gid, 12345);
	assert_true(st.st_ino != ino);  /* a new inode: rename, not rewrite */
	/* Shorter content fully replaces. */
	assert_int_equal(fio_write_atomic(p, "3", 1, 0600, err, sizeof(err)), CP_OK);
	assert_content(p, "3");
	/* Zero bytes is a valid file. */
	assert_int_equal(fio_write_atomic(p, "", 0, 0600, err, sizeof(err)), CP_OK);
	assert_content(p, "");
	assert_int_equal(count_temps(f->dir), 0);
}

static void
test_write_symlinked(void **state)
{
	struct fixture *f = *state;
	char real[128], link[128], err[128];
	struct stat st;

	path_in(f, "real.yaml", real, sizeof(real));
	path_in(f, "link.yaml", link, sizeof(link));
	put(real, "old");
	assert_int_equal(symlink("real.yaml", link), 0);
	assert_int_equal(fio_write_atomic(link, "new", 3, 0600, err, sizeof(err)), CP_OK);
	/* The link stays a link; the file it names changed. */
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_content(real, "new");
	assert_int_equal(count_temps(f->dir), 0);
}

static void
test_write_missing_dir(void **state)
{
	struct fixture *f = *state;
	char p[128], err[128];
	int dfd;

	path_in(f, "nodir/config.yaml", p, sizeof(p));
	err[0] = '\0';
	assert_int_equal(fio_write_atomic(p, "x", 1, 0600, err, sizeof(err)), CP_ENOTFOUND);
	assert_string_equal(err, "No such file or directory");
	/* _at with a bad name. */
	dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(fio_write_atomic_at(dfd, "a/b", "x", 1, 0600, err, sizeof(err)),
	    CP_EINVAL);
	assert_int_equal(fio_write_atomic_at(dfd, "", "x", 1, 0600, err, sizeof(err)),
	    CP_EINVAL);
	close(dfd);
}

/* In a child with RLIMIT_FSIZE = limit and SIGXFSZ ignored, write len bytes
 * over path (or name in dir for the _at variant); exit status carries the
 * return code, and the message goes back through a pipe. */
static int
write_limited(const char *dir, const char *path, const char *name, size_t len,
    rlim_t limit, char *err, size_t errlen)
{
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = { limit, limit };
		char msg[128] = "";
		char *data = malloc(len);
		int rc, dfd;

		if (data == NULL)
			_exit(100);
		memset(data, 'N', len);
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
			_exit(101);
		if (name == NULL) {
			rc = fio_write_atomic(path, data, len, 0600, msg, sizeof(msg));
		} else {
			if ((dfd = open(dir, O_RDONLY | O_DIRECTORY)) < 0)
				_exit(102);
			rc = fio_write_atomic_at(dfd, name, data, len, 0600, msg, sizeof(msg));
		}
		if (write(pfd[1], msg, strlen(msg)) < 0)
			_exit(103);
		_exit(rc);
	}
	close(pfd[1]);
	n = read(pfd[0], err, errlen - 1);
	err[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
test_write_failure_keeps_old(void **state)
{
	struct fixture *f = *state;
	char p[128], err[128];
	struct stat st;
	int dfd;

	path_in(f, "config.yaml", p, sizeof(p));
	put(p, "original content\n");
	assert_int_equal(chmod(p, 0640), 0);
	/* 4096 bytes allowed, 100000 asked: a short write, then EFBIG. */
	assert_int_equal(write_limited(f->dir, p, NULL, 100000, 4096, err, sizeof(err)),
	    CP_EIO);
	assert_string_equal(err, strerror(EFBIG));
	assert_content(p, "original content\n");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(count_temps(f->dir), 0);

	/* The same through the directory-descriptor variant. */
	assert_int_equal(write_limited(f->dir, NULL, "config.yaml", 100000, 4096, err,
	    sizeof(err)), CP_EIO);
	assert_string_equal(err, strerror(EFBIG));
	assert_content(p, "original content\n");
	assert_int_equal(count_temps(f->dir), 0);

	/* Under the limit the same child path succeeds (the harness works). */
	assert_int_equal(write_limited(f->dir, NULL, "config.yaml", 1000, 4096, err,
	    sizeof(err)), CP_OK);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 1000);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* A new file that fails leaves nothing behind. */
	assert_int_equal(write_limited(f->dir, NULL, "new.json", 100000, 4096, err,
	    sizeof(err)), CP_EIO);
	dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(faccessat(dfd, "new.json", F_OK, AT_SYMLINK_NOFOLLOW), -1);
	close(dfd);
	assert_int_equal(count_temps(f->dir), 0);
}

static void
test_write_at(void **state)
{
	struct fixture *f = *state;
	char p[128], err[128];
	struct stat st;
	int dfd;

	dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(fio_write_atomic_at(dfd, "a.json", "{}", 2, 0600, err,
	    sizeof(err)), CP_OK);
	path_in(f, "a.json", p, sizeof(p));
	assert_content(p, "{}");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(fio_write_atomic_at(dfd, "a.json", "{\"x\":1}", 7, 0600, err,
	    sizeof(err)), CP_OK);
	assert_content(p, "{\"x\":1}");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	/* A symlink in the way is replaced, its target left alone. */
	path_in(f, "target", p, sizeof(p));
	put(p, "keep");
	assert_int_equal(symlinkat("target", dfd, "l.json"), 0);
	assert_int_equal(fio_write_atomic_at(dfd, "l.json", "{}", 2, 0600, err,
	    sizeof(err)), CP_OK);
	assert_content(p, "keep");
	assert_int_equal(fstatat(dfd, "l.json", &st, AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(count_temps(f->dir), 0);
	close(dfd);
}

static void
test_clean_stale(void **state)
{
	struct fixture *f = *state;
	struct timespec old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	char p[128];
	int dfd;

	dfd = open(f->dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	path_in(f, ".a.json.tmpAAAAAA", p, sizeof(p));
	put(p, "old temp");
	assert_int_equal(utimensat(dfd, ".a.json.tmpAAAAAA", old, 0), 0);
	path_in(f, ".a.json.tmpBBBBBB", p, sizeof(p));
	put(p, "fresh temp");
	path_in(f, ".lock", p, sizeof(p));
	put(p, "");
	assert_int_equal(utimensat(dfd, ".lock", old, 0), 0);
	path_in(f, "a.json.tmpCCCCCC", p, sizeof(p));   /* not a dot-file */
	put(p, "");
	assert_int_equal(utimensat(dfd, "a.json.tmpCCCCCC", old, 0), 0);
	path_in(f, "x.json", p, sizeof(p));
	put(p, "{}");
	assert_int_equal(utimensat(dfd, "x.json", old, 0), 0);
	assert_int_equal(mkdirat(dfd, ".d.tmpDDDDDD", 0700), 0);  /* a directory */
	assert_int_equal(utimensat(dfd, ".d.tmpDDDDDD", old, 0), 0);

	fio_clean_stale_temps(dfd, 60);
	assert_int_equal(faccessat(dfd, ".a.json.tmpAAAAAA", F_OK, 0), -1);
	assert_int_equal(faccessat(dfd, ".a.json.tmpBBBBBB", F_OK, 0), 0);
	assert_int_equal(faccessat(dfd, ".lock", F_OK, 0), 0);
	assert_int_equal(faccessat(dfd, "a.json.tmpCCCCCC", F_OK, 0), 0);
	assert_int_equal(faccessat(dfd, "x.json", F_OK, 0), 0);
	assert_int_equal(faccessat(dfd, ".d.tmpDDDDDD", F_OK, 0), 0);
	/* With age 0 the fresh one goes too. */
	fio_clean_stale_temps(dfd, 0);
	assert_int_equal(faccessat(dfd, ".a.json.tmpBBBBBB", F_OK, 0), -1);
	assert_int_equal(faccessat(dfd, ".lock", F_OK, 0), 0);
	close(dfd);
}

static void
test_stamp(void **state)
{
	struct fixture *f = *state;
	struct fio_stamp a, b, c;
	char p[128], err[64];

	path_in(f, "s", p, sizeof(p));
	assert_int_equal(fio_stamp(p, &a), CP_ENOTFOUND);
	put(p, "abc");
	assert_int_equal(fio_stamp(p, &a), CP_OK);
	assert_int_equal(fio_stamp(p, &b), CP_OK);
	assert_true(fio_stamp_eq(&a, &b));
	assert_int_equal(a.size, 3);
	/* An atomic replace with the same size is still a different stamp. */
	assert_int_equal(fio_write_atomic(p, "xyz", 3, 0600, err, sizeof(err)), CP_OK);
	assert_int_equal(fio_stamp(p, &c), CP_OK);
	assert_false(fio_stamp_eq(&a, &c));
	c = a;
	c.mtime_ns++;
	assert_false(fio_stamp_eq(&a, &c));
}

/* A setgid group-writable directory is shared by two users (responder and
 * daemon): new files there get the group the owner's bits; elsewhere they
 * stay private. An existing file's mode always wins. */
static void
test_write_shared_dir_mode(void **state)
{
	struct fixture *f = *state;
	char path[128];
	struct stat st;

	path_in(f, "private.json", path, sizeof(path));
	assert_int_equal(fio_write_atomic(path, "{}", 2, 0600, NULL, 0), CP_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	assert_int_equal(chmod(f->dir, 02770), 0);
	path_in(f, "shared.json", path, sizeof(path));
	assert_int_equal(fio_write_atomic(path, "{}", 2, 0600, NULL, 0), CP_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);

	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(fio_write_atomic(path, "{\"a\":1}", 7, 0600, NULL, 0), CP_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);

	/* setgid without group write is not a shared directory */
	assert_int_equal(chmod(f->dir, 02750), 0);
	path_in(f, "other.json", path, sizeof(path));
	assert_int_equal(fio_write_atomic(path, "{}", 2, 0600, NULL, 0), CP_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(chmod(f->dir, 0700), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_edited_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_new_and_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_symlinked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_shared_dir_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_missing_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failure_keeps_old, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_at, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stamp, setup, teardown),
	};

	return cmocka_run_group_tests_name("fileio", tests, NULL, NULL);
}
