/*
 * fileio.c - reading files with caps and replacing them atomically
 * (DESIGN 4 steps 4-5; STYLE.md "Files and events": temp beside the
 * target, write loop, fsync, fchmod, rename, fsync of the directory,
 * unlink the temp on failure).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

#define FIO_TMP_TAG ".tmp"          /* between the name and the random part */
#define FIO_TMP_RAND 6               /* random characters, as mkstemp uses */
#define FIO_TMP_TRIES 100            /* EEXIST retries for the _at variant */
#define FIO_READ_CHUNK 65536         /* read(2) size when the size is unknown */
#define FIO_READ_TRIES 8             /* reads of a file that keeps changing */

/* Fill err with strerror(e) (the reason shown to admins, DESIGN 5 "failed
 * to save config: <reason>"). */
static void
fio_seterr(char *err, size_t errlen, int e)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", strerror(e));
}

/* Read fd from offset 0 to EOF, at most cap bytes, into a fresh buffer
 * sized from st (the file may grow or shrink under us). */
static int
fio_read_pass(int fd, const struct stat *st, size_t cap, char **out, size_t *outlen)
{
	char *p = NULL, *np;
	size_t len = 0, alloc;
	ssize_t n;
	int rc = CP_EIO, saved;

	alloc = (size_t)st->st_size + 1;
	if (alloc < 64)
		alloc = 64;
	if ((p = malloc(alloc)) == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	for (;;) {
		if (len + 1 >= alloc) {
			/* The file grew under us: keep going up to cap + 1. */
			if (len > cap) {
				rc = CP_ETOOBIG;
				goto out;
			}
			alloc = alloc + FIO_READ_CHUNK > cap + 2 ? cap + 2 : alloc + FIO_READ_CHUNK;
			if ((np = realloc(p, alloc)) == NULL) {
				rc = CP_ENOMEM;
				goto out;
			}
			p = np;
		}
		n = pread(fd, p + len, alloc - len - 1, (off_t)len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > cap) {
			rc = CP_ETOOBIG;
			goto out;
		}
	}
	p[len] = '\0';
	*out = p;
	p = NULL;
	*outlen = len;
	rc = CP_OK;
out:
	saved = errno;
	free(p);
	errno = saved;
	return rc;
}

static bool
fio_same_version(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Read fd to EOF, at most cap bytes, and only a version of the file that
 * did not change while it was read: a file edited in place (truncated,
 * rewritten by an editor or a shell redirect) can otherwise be seen torn,
 * e.g. its first page from before a truncate. The size and the change
 * times before and after the read must agree with what was read, else we
 * read again (with pauses from the third try on: 20 ms in all); a file
 * that keeps changing is CP_EBUSY. (Timestamps are coarse, so a same-size
 * rewrite within one clock tick is not detected; our own writers replace
 * files by rename and are never torn.) */
static int
fio_read_fd(int fd, size_t cap, char **out, size_t *outlen)
{
	struct stat before, after;
	char *p = NULL;
	size_t len = 0;
	int rc, try, saved;

	for (try = 0; try < FIO_READ_TRIES; try++) {
		if (fstat(fd, &before) == -1)
			return CP_EIO;
		if (!S_ISREG(before.st_mode))
			return CP_EPERM;
		if (before.st_size > 0 && (unsigned long long)before.st_size > cap)
			return CP_ETOOBIG;
		if ((rc = fio_read_pass(fd, &before, cap, &p, &len)) != CP_OK)
			return rc;
		if (fstat(fd, &after) == -1) {
			saved = errno;
			free(p);
			errno = saved;
			return CP_EIO;
		}
		if (fio_same_version(&before, &after) && (off_t)len == after.st_size) {
			*out = p;
			if (outlen != NULL)
				*outlen = len;
			return CP_OK;
		}
		free(p);
		p = NULL;
		if (try >= 2 && try + 1 < FIO_READ_TRIES) {
			/* let an editor or a shell redirect finish its write */
			struct timespec ts = { 0, (long)try * 1000000L };

			nanosleep(&ts, NULL);
		}
	}
	errno = EAGAIN;
	return CP_EBUSY;
}

static int
fio_open_err(void)
{
	if (errno == ENOENT || errno == ENOTDIR)
		return CP_ENOTFOUND;
	if (errno == ELOOP)
		return CP_EPERM; /* O_NOFOLLOW met a symlink */
	return CP_EIO;
}

/* Open name relative to dirfd with extra flags and read it whole.
 * O_NONBLOCK: a FIFO must not hang the open; fio_read_fd's fstat refuses it. */
static int
fio_open_read(int dirfd, const char *name, int flags, size_t cap, char **out,
    size_t *outlen)
{
	int fd, rc, saved;

	*out = NULL;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | flags);
	if (fd < 0)
		return fio_open_err();
	rc = fio_read_fd(fd, cap, out, outlen);
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

int
fio_read_file(const char *path, size_t cap, char **out, size_t *outlen)
{
	return fio_open_read(AT_FDCWD, path, 0, cap, out, outlen);
}

int
fio_read_at(int dirfd, const char *name, size_t cap, char **out, size_t *outlen)
{
	return fio_open_read(dirfd, name, O_NOFOLLOW, cap, out, outlen);
}

/* Create ".<name>.tmpXXXXXX" in dirfd with O_EXCL and a random suffix from
 * getrandom(2); the name goes to tmp. */
static int
fio_tmp_at(int dirfd, const char *name, char *tmp, size_t tmplen)
{
	static const char set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[FIO_TMP_RAND];
	char suffix[FIO_TMP_RAND + 1];
	int i, k, fd, n;

	for (i = 0; i < FIO_TMP_TRIES; i++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -1;
		for (k = 0; k < FIO_TMP_RAND; k++)
			suffix[k] = set[rnd[k] % (sizeof(set) - 1)];
		suffix[FIO_TMP_RAND] = '\0';
		n = snprintf(tmp, tmplen, ".%s" FIO_TMP_TAG "%s", name, suffix);
		if (n < 0 || (size_t)n >= tmplen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

/* Steps 4-5 once the temp exists: write, mode, group, fsync, rename,
 * directory fsync. On failure the temp is unlinked and errno kept. */
/* Mode of a file that did not exist before. In a setgid, group-writable
 * directory (the packaged layout: the responder runs as www-data, the
 * daemon as cliproxy, both in group cliproxy; doc/deploy.md) the group
 * gets the owner's read/write bits, or the other program could not read
 * what this one wrote; anywhere else newmode stands as is (DESIGN 4). */
static mode_t
fio_new_mode(int dirfd, mode_t newmode)
{
	struct stat d;

	if (fstat(dirfd, &d) == 0 && (d.st_mode & S_ISGID) && (d.st_mode & S_IWGRP))
		return newmode | ((newmode & 0600) >> 3);
	return newmode;
}

static int
fio_commit(int dirfd, const char *name, int fd, const char *tmp, const void *data,
    size_t len, mode_t newmode, char *err, size_t errlen)
{
	const char *p = data;
	struct stat old;
	bool have_old;
	size_t off = 0;
	ssize_t n;
	int rc = CP_EIO, saved;

	have_old = fstatat(dirfd, name, &old, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(old.st_mode);
	while (off < len) {
		n = write(fd, p + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (n == 0) {
			errno = EIO;
			goto out;
		}
		off += (size_t)n;
	}
	if (have_old) {
		/* Keep the group (and, as root, the owner) so that the web
		 * server's user can still read the file; not allowed is fine. */
		if (fchown(fd, geteuid() == 0 ? old.st_uid : (uid_t)-1, old.st_gid) == -1 &&
		    errno != EPERM)
			goto out;
	}
	/* fchmod after fchown: chown may clear set-id bits. */
	if (fchmod(fd, have_old ? (old.st_mode & 07777) : fio_new_mode(dirfd, newmode)) == -1)
		goto out;
	if (fsync(fd) == -1)
		goto out;
	if (close(fd) == -1) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, name) == -1)
		goto out;
	tmp = NULL;
	/* Make the rename itself durable. */
	if (fsync(dirfd) == -1)
		goto out;
	rc = CP_OK;
out:
	saved = errno;
	if (rc != CP_OK)
		fio_seterr(err, errlen, saved);
	if (fd >= 0)
		close(fd);
	if (tmp != NULL)
		unlinkat(dirfd, tmp, 0);
	errno = saved;
	return rc;
}

int
fio_write_atomic_at(int dirfd, const char *name, const void *data, size_t len,
    mode_t newmode, char *err, size_t errlen)
{
	char tmp[NAME_MAX + 1];
	int fd;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (name == NULL || *name == '\0' || strchr(name, '/') != NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "invalid file name");
		return CP_EINVAL;
	}
	fd = fio_tmp_at(dirfd, name, tmp, sizeof(tmp));
	if (fd < 0) {
		fio_seterr(err, errlen, errno);
		return errno == ENOENT ? CP_ENOTFOUND : CP_EIO;
	}
	return fio_commit(dirfd, name, fd, tmp, data, len, newmode, err, errlen);
}

int
fio_write_atomic(const char *path, const void *data, size_t len, mode_t newmode,
    char *err, size_t errlen)
{
	char *real = NULL, *dir = NULL, *tmpl = NULL;
	const char *target, *base, *slash;
	struct stat st;
	size_t tlen;
	int dirfd = -1, fd = -1, rc = CP_EIO, saved;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	/* A symlinked config stays a symlink: replace the file it points to. */
	target = path;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		if ((real = realpath(path, NULL)) == NULL)
			goto fail;
		target = real;
	}
	slash = strrchr(target, '/');
	base = slash ? slash + 1 : target;
	if (*base == '\0') {
		errno = EISDIR;
		goto fail;
	}
	if (slash == NULL)
		dir = cp_strdup(".");
	else if (slash == target)
		dir = cp_strdup("/");
	else
		dir = cp_strndup(target, (size_t)(slash - target));
	if (dir == NULL) {
		errno = ENOMEM;
		rc = CP_ENOMEM;
		goto fail;
	}
	tlen = strlen(dir) + strlen(base) + sizeof("/." FIO_TMP_TAG "XXXXXX");
	if ((tmpl = malloc(tlen)) == NULL) {
		errno = ENOMEM;
		rc = CP_ENOMEM;
		goto fail;
	}
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		goto fail;
	snprintf(tmpl, tlen, "%s/.%s" FIO_TMP_TAG "XXXXXX", dir, base);
	if ((fd = mkostemp(tmpl, O_CLOEXEC)) < 0)
		goto fail;
	/* The temp's name relative to dirfd is its base name. */
	rc = fio_commit(dirfd, base, fd, strrchr(tmpl, '/') + 1, data, len, newmode,
	    err, errlen);
	goto out;
fail:
	saved = errno;
	if (rc == CP_EIO && (saved == ENOENT || saved == ENOTDIR))
		rc = CP_ENOTFOUND;
	fio_seterr(err, errlen, saved);
	errno = saved;
out:
	saved = errno;
	if (dirfd >= 0)
		close(dirfd);
	free(tmpl);
	free(dir);
	free(real);
	errno = saved;
	return rc;
}

/* Our temps: ".<name>.tmpXXXXXX" (six random characters at the end). */
static bool
fio_is_temp(const char *n)
{
	size_t l = strlen(n), tag = sizeof(FIO_TMP_TAG) - 1;

	return n[0] == '.' && l >= 2 + tag + FIO_TMP_RAND &&
	    memcmp(n + l - FIO_TMP_RAND - tag, FIO_TMP_TAG, tag) == 0;
}

void
fio_clean_stale_temps(int dirfd, int max_age_s)
{
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	DIR *d;
	int fd;

	/* A fresh open file description, so dirfd's offset is left alone. */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!fio_is_temp(de->d_name))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (now - st.st_mtime < (time_t)max_age_s)
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == 0)
			log_debug("removed stale temp file '%s'", de->d_name);
	}
	closedir(d);
}

int
fio_stamp(const char *path, struct fio_stamp *s)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return (errno == ENOENT || errno == ENOTDIR) ? CP_ENOTFOUND : CP_EIO;
	memset(s, 0, sizeof(*s));
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->size = st.st_size;
	s->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	return CP_OK;
}

bool
fio_stamp_eq(const struct fio_stamp *a, const struct fio_stamp *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	    a->mtime_ns == b->mtime_ns;
}
