/*
 * authstore.c - the auth-dir of credential JSON files (DESIGN 4 and
 * DESIGN 5 "Auth files"). Names are hostile input and pass an allow-list;
 * files are opened relative to the directory descriptor without following
 * symlinks. Symlinks, directories, FIFOs and dot-files are invisible: not
 * listed, not read, not deleted. Writers hold dir/.lock; readers never lock.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

#define AUTHSTORE_LOCK_NAME ".lock"  /* DESIGN 4: auth-dir/.lock */
#define AUTHSTORE_TEMP_AGE_S 60      /* dot-temps older than this are debris */
#define AUTHSTORE_DIR_MODE 0700      /* a created auth-dir holds secrets */
#define AUTHSTORE_FILE_MODE 0600     /* new credential files */
#define AUTHSTORE_TYPE_MAX 64        /* longest "type" a listing shows */
#define AUTHSTORE_EMAIL_MAX 254      /* longest "email" a listing shows (RFC 5321) */
#define AUTHSTORE_DELETE_PASSES 8    /* readdir passes of delete_all */

bool
authstore_name_ok(const char *name, size_t len)
{
	size_t i;

	if (name == NULL || len < 1 || len > CP_AUTHNAME_MAX || name[0] == '.')
		return false;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '@' ||
		    c == '+' || c == '-'))
			return false;
	}
	/* The checks above rule out an embedded NUL, so name is a C string of
	 * exactly len bytes from here on. */
	return len > 5 && strncasecmp(name + len - 5, ".json", 5) == 0;
}

void
authstore_lock_path(const char *dir, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/" AUTHSTORE_LOCK_NAME, dir);
}

static int
authstore_open_dir(const char *dir, int *dirfd)
{
	*dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dirfd >= 0)
		return CP_OK;
	return (errno == ENOENT || errno == ENOTDIR) ? CP_ENOTFOUND : CP_EIO;
}

/* A name we show: allowed and a regular file (not following symlinks). */
static bool
authstore_visible(int dirfd, const char *name, struct stat *st)
{
	return authstore_name_ok(name, strlen(name)) &&
	    fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st->st_mode);
}

/* What the list shows from inside a file (DESIGN 5 "Auth files": "type";
 * issue 12: email, disabled, expiry, never a token) when it is a JSON
 * object; nothing on any read error. */
static void
authstore_meta(int dirfd, const char *name, struct authstore_entry *e)
{
	char *data = NULL;
	const char *t;
	cJSON *root = NULL;
	size_t len;
	bool b;

	if (fio_read_at(dirfd, name, CP_AUTHFILE_MAX, &data, &len) != CP_OK)
		goto out;
	if (json_parse_strict(data, len, &root) != CP_OK || !cJSON_IsObject(root))
		goto out;
	/* A type or an email is a short word; a long string is not one and
	 * would blow up a listing of thousands of files (the answer is
	 * capped): not shown. */
	if (json_get_string(root, "type", &t) == CP_OK && strlen(t) <= AUTHSTORE_TYPE_MAX)
		e->type = cp_strdup(t);
	if (json_get_string(root, "email", &t) == CP_OK && t[0] != '\0' &&
	    strlen(t) <= AUTHSTORE_EMAIL_MAX)
		e->email = cp_strdup(t);
	if (json_get_bool(root, "disabled", &b) == CP_OK)
		e->disabled = b;
	if (oauth_file_expiry(root, &e->expires) != CP_OK)
		e->expires = 0;
out:
	cJSON_Delete(root);
	if (data != NULL)
		cp_wipe(data, len);   /* tokens */
	free(data);
}

static int
authstore_cmp(const void *a, const void *b)
{
	return strcmp(((const struct authstore_entry *)a)->name,
	    ((const struct authstore_entry *)b)->name);
}

void
authstore_list_free(struct authstore_entry *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].type);
		free(v[i].email);
	}
	free(v);
}

/* Max-heap on name over v[0..n): the largest name kept sits at v[0]. */
static void
authstore_sift_down(struct authstore_entry *v, size_t n, size_t i)
{
	struct authstore_entry t;
	size_t c;

	while ((c = 2 * i + 1) < n) {
		if (c + 1 < n && strcmp(v[c + 1].name, v[c].name) > 0)
			c++;
		if (strcmp(v[c].name, v[i].name) <= 0)
			break;
		t = v[i];
		v[i] = v[c];
		v[c] = t;
		i = c;
	}
}

static void
authstore_sift_up(struct authstore_entry *v, size_t i)
{
	struct authstore_entry t;
	size_t p;

	while (i > 0 && strcmp(v[(p = (i - 1) / 2)].name, v[i].name) < 0) {
		t = v[i];
		v[i] = v[p];
		v[p] = t;
		i = p;
	}
}

/* A fresh DIR stream on dirfd (its offset is not shared with dirfd). */
static DIR *
authstore_opendir(int dirfd)
{
	DIR *d;
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close(fd);
	return d;
}

/* List with an already open dirfd: the CP_AUTHDIR_FILES_MAX smallest
 * names of every visible file, sorted, in one pass over the directory and
 * bounded memory (a max-heap of the names kept), so that a directory past
 * the cap still lists (issue 10 item 7: it answered 500). *total counts
 * every visible file. "type" is read only for the entries kept. */
static int
authstore_list_fd(int dirfd, struct authstore_entry **out, size_t *n, size_t *total)
{
	struct authstore_entry *v = NULL, *nv, *e;
	struct dirent *de;
	struct stat st;
	size_t cnt = 0, alloc = 0, seen = 0, i;
	DIR *d = NULL;
	int rc = CP_EIO;

	*out = NULL;
	*n = 0;
	if (total != NULL)
		*total = 0;
	if ((d = authstore_opendir(dirfd)) == NULL)
		goto out;
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!authstore_visible(dirfd, de->d_name, &st))
			continue;
		seen++;
		if (cnt == CP_AUTHDIR_FILES_MAX) {
			/* full: the new name replaces the largest if smaller */
			if (strcmp(de->d_name, v[0].name) >= 0)
				continue;
			e = &v[0];
		} else {
			if (cnt == alloc) {
				alloc = alloc ? alloc * 2 : 16;
				if (alloc > CP_AUTHDIR_FILES_MAX)
					alloc = CP_AUTHDIR_FILES_MAX;
				if ((nv = realloc(v, alloc * sizeof(*v))) == NULL) {
					rc = CP_ENOMEM;
					goto out;
				}
				v = nv;
			}
			e = &v[cnt];
		}
		memset(e, 0, sizeof(*e));
		/* authstore_visible checked the length <= CP_AUTHNAME_MAX. */
		memcpy(e->name, de->d_name, strlen(de->d_name) + 1);
		e->size = (long long)st.st_size;
		e->mtime = st.st_mtime;
		if (e == &v[0] && cnt == CP_AUTHDIR_FILES_MAX) {
			authstore_sift_down(v, cnt, 0);
		} else {
			cnt++;
			authstore_sift_up(v, cnt - 1);
		}
	}
	if (errno != 0)
		goto out;
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), authstore_cmp);
	for (i = 0; i < cnt; i++)
		authstore_meta(dirfd, v[i].name, &v[i]);
	*out = v;
	*n = cnt;
	if (total != NULL)
		*total = seen;
	v = NULL;
	cnt = 0;
	rc = CP_OK;
out:
	if (d != NULL)
		closedir(d);
	authstore_list_free(v, cnt);
	return rc;
}

/* Visible files in the directory (one readdir pass, nothing kept). */
static int
authstore_count_fd(int dirfd, size_t *count)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc = CP_OK;

	*count = 0;
	if ((d = authstore_opendir(dirfd)) == NULL)
		return CP_EIO;
	while ((errno = 0, de = readdir(d)) != NULL)
		if (authstore_visible(dirfd, de->d_name, &st))
			(*count)++;
	if (errno != 0)
		rc = CP_EIO;
	closedir(d);
	return rc;
}

int
authstore_list(const char *dir, struct authstore_entry **out, size_t *n, size_t *total)
{
	int dirfd = -1, rc;

	*out = NULL;
	*n = 0;
	if (total != NULL)
		*total = 0;
	if ((rc = authstore_open_dir(dir, &dirfd)) != CP_OK)
		return rc;
	rc = authstore_list_fd(dirfd, out, n, total);
	close(dirfd);
	return rc;
}

int
authstore_read(const char *dir, const char *name, char **data, size_t *len)
{
	int dirfd = -1, rc;

	*data = NULL;
	if (name == NULL || !authstore_name_ok(name, strlen(name)))
		return CP_EINVAL;
	if ((rc = authstore_open_dir(dir, &dirfd)) != CP_OK)
		return rc;
	rc = fio_read_at(dirfd, name, CP_AUTHFILE_MAX, data, len);
	/* A symlink, directory or FIFO is invisible, as in the list. */
	if (rc == CP_EPERM)
		rc = CP_ENOTFOUND;
	close(dirfd);
	return rc;
}

/* Open dir (creating it 0700 when create is set) and take its lock. */
static int
authstore_begin(const char *dir, bool create, int *dirfd, struct lock *lk)
{
	char lpath[PATH_MAX];
	int rc;

	if (create && mkdir(dir, AUTHSTORE_DIR_MODE) == -1 && errno != EEXIST)
		return (errno == ENOENT || errno == ENOTDIR) ? CP_ENOTFOUND : CP_EIO;
	if ((rc = authstore_open_dir(dir, dirfd)) != CP_OK)
		return rc;
	authstore_lock_path(dir, lpath, sizeof(lpath));
	if ((rc = lock_acquire(lk, lpath, CP_LOCK_TIMEOUT_MS)) != CP_OK) {
		close(*dirfd);
		*dirfd = -1;
		return rc;
	}
	fio_clean_stale_temps(*dirfd, AUTHSTORE_TEMP_AGE_S);
	return CP_OK;
}

static void
authstore_end(int dirfd, struct lock *lk)
{
	lock_release(lk);
	if (dirfd >= 0)
		close(dirfd);
}

static void
authstore_seterr(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

int
authstore_write(const char *dir, const char *name, const char *data, size_t len,
    char *err, size_t errlen)
{
	struct lock lk = LOCK_INIT;
	struct stat st;
	cJSON *root = NULL;
	int dirfd = -1, rc;

	authstore_seterr(err, errlen, "");
	if (name == NULL || !authstore_name_ok(name, strlen(name))) {
		authstore_seterr(err, errlen, "invalid file name");
		rc = CP_EINVAL;
		goto out;
	}
	if (len > CP_AUTHFILE_MAX) {
		authstore_seterr(err, errlen, "file too large");
		rc = CP_ETOOBIG;
		goto out;
	}
	/* DESIGN 4: uploaded content must be a JSON object. */
	if ((rc = json_parse_strict(data, len, &root)) != CP_OK) {
		authstore_seterr(err, errlen, "invalid json");
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		authstore_seterr(err, errlen, "not a json object");
		rc = CP_EINVAL;
		goto out;
	}
	if ((rc = authstore_begin(dir, true, &dirfd, &lk)) != CP_OK) {
		authstore_seterr(err, errlen, rc == CP_EBUSY ? "auth-dir is busy" :
		    strerror(errno));
		goto out;
	}
	/* A directory of that name cannot be replaced by a rename: say so as a
	 * conflict the client can act on, not as an i/o failure. */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
		cp_seterr(err, errlen, "a directory named '%s' is in the way", name);
		rc = CP_EEXIST;
		goto out;
	}
	/* A new file past the cap would put the directory where the daemon
	 * ignores files and the list is cut (issue 10 item 7): refused, under
	 * the lock so that two uploads cannot both take the last place.
	 * Replacing an existing file is always allowed. */
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
		size_t count = 0;

		if ((rc = authstore_count_fd(dirfd, &count)) != CP_OK) {
			authstore_seterr(err, errlen, strerror(errno));
			goto out;
		}
		if (count >= CP_AUTHDIR_FILES_MAX) {
			cp_seterr(err, errlen, "auth-dir holds %zu files, the most it may hold is %u: "
			    "delete some first", count, (unsigned)CP_AUTHDIR_FILES_MAX);
			rc = CP_ELIMIT;
			goto out;
		}
	}
	rc = fio_write_atomic_at(dirfd, name, data, len, AUTHSTORE_FILE_MODE, err, errlen);
out:
	authstore_end(dirfd, &lk);
	cJSON_Delete(root);
	return rc;
}

int
authstore_delete(const char *dir, const char *name)
{
	struct lock lk = LOCK_INIT;
	struct stat st;
	int dirfd = -1, rc;

	if (name == NULL || !authstore_name_ok(name, strlen(name)))
		return CP_EINVAL;
	if ((rc = authstore_begin(dir, false, &dirfd, &lk)) != CP_OK)
		goto out;
	if (!authstore_visible(dirfd, name, &st)) {
		rc = CP_ENOTFOUND;
		goto out;
	}
	if (unlinkat(dirfd, name, 0) == -1) {
		rc = errno == ENOENT ? CP_ENOTFOUND : CP_EIO;
		goto out;
	}
	(void)fsync(dirfd);
	rc = CP_OK;
out:
	authstore_end(dirfd, &lk);
	return rc;
}

int
authstore_delete_all(const char *dir, size_t *deleted)
{
	struct lock lk = LOCK_INIT;
	struct dirent *de;
	struct stat st;
	size_t pass_n;
	int dirfd = -1, rc, pass;
	DIR *d = NULL;

	*deleted = 0;
	if ((rc = authstore_begin(dir, false, &dirfd, &lk)) != CP_OK)
		goto out;
	/* Every file the list rules make visible (DESIGN 5), however many
	 * (issue 10 item 7: past the cap this answered 500), streamed: no
	 * list in memory. Whether readdir still returns names after unlinks
	 * is unspecified (POSIX), so passes repeat until one finds nothing;
	 * writers are locked out, so the second pass normally is the last. */
	for (pass = 0; pass < AUTHSTORE_DELETE_PASSES; pass++) {
		pass_n = 0;
		rc = CP_EIO;
		if ((d = authstore_opendir(dirfd)) == NULL)
			goto out;
		while ((errno = 0, de = readdir(d)) != NULL) {
			if (!authstore_visible(dirfd, de->d_name, &st))
				continue;
			if (unlinkat(dirfd, de->d_name, 0) == -1) {
				if (errno == ENOENT)
					continue;
				goto out;
			}
			pass_n++;
			(*deleted)++;
		}
		if (errno != 0)
			goto out;
		closedir(d);
		d = NULL;
		if (pass_n == 0)
			break;
	}
	(void)fsync(dirfd);
	rc = CP_OK;
out:
	if (d != NULL)
		closedir(d);
	authstore_end(dirfd, &lk);
	return rc;
}

int
authstore_update(const char *dir, const char *name, authstore_update_fn fn, void *arg,
    char *err, size_t errlen)
{
	struct lock lk = LOCK_INIT;
	char *data = NULL, *out = NULL;
	size_t len = 0;
	cJSON *doc = NULL;
	int dirfd = -1, rc;

	authstore_seterr(err, errlen, "");
	if (name == NULL || !authstore_name_ok(name, strlen(name))) {
		authstore_seterr(err, errlen, "invalid file name");
		return CP_EINVAL;
	}
	if ((rc = authstore_begin(dir, false, &dirfd, &lk)) != CP_OK) {
		authstore_seterr(err, errlen, rc == CP_EBUSY ? "auth-dir is busy" :
		    "auth-dir is missing");
		goto out;
	}
	/* DESIGN 4 step 2: the file as it is now, under the lock; a file
	 * deleted meanwhile is not brought back */
	rc = fio_read_at(dirfd, name, CP_AUTHFILE_MAX, &data, &len);
	if (rc == CP_EPERM)
		rc = CP_ENOTFOUND;
	if (rc != CP_OK) {
		authstore_seterr(err, errlen, rc == CP_ENOTFOUND ? "file not found" :
		    "cannot read the file");
		goto out;
	}
	if (json_parse_strict(data, len, &doc) != CP_OK || !cJSON_IsObject(doc)) {
		/* never overwrite what we cannot read (an admin's half edit) */
		authstore_seterr(err, errlen, "the file is not a JSON object");
		rc = CP_EPARSE;
		goto out;
	}
	if ((rc = fn(doc, arg)) != CP_OK)
		goto out;
	if ((out = cJSON_Print(doc)) == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	if (strlen(out) > CP_AUTHFILE_MAX) {
		authstore_seterr(err, errlen, "file too large");
		rc = CP_ETOOBIG;
		goto out;
	}
	rc = fio_write_atomic_at(dirfd, name, out, strlen(out), AUTHSTORE_FILE_MODE, err, errlen);
out:
	authstore_end(dirfd, &lk);
	cJSON_Delete(doc);
	if (data != NULL)
		cp_wipe(data, len);   /* tokens */
	free(data);
	if (out != NULL)
		cp_wipe(out, strlen(out));
	free(out);
	return rc;
}
