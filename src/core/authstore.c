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
	if (json_get_string(root, "type", &t) == CP_OK)
		e->type = cp_strdup(t);
	if (json_get_string(root, "email", &t) == CP_OK && t[0] != '\0')
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

/* List with an already open dirfd (used under the lock by delete_all). */
static int
authstore_list_fd(int dirfd, struct authstore_entry **out, size_t *n)
{
	struct authstore_entry *v = NULL, *nv;
	struct dirent *de;
	struct stat st;
	size_t cnt = 0, alloc = 0;
	DIR *d = NULL;
	int fd, rc = CP_EIO;

	*out = NULL;
	*n = 0;
	/* A fresh open file description: dirfd's offset is not shared. */
	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		goto out;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		goto out;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!authstore_visible(dirfd, de->d_name, &st))
			continue;
		if (cnt == CP_AUTHDIR_FILES_MAX) {
			rc = CP_ETOOBIG;
			goto out;
		}
		if (cnt == alloc) {
			alloc = alloc ? alloc * 2 : 16;
			if ((nv = realloc(v, alloc * sizeof(*v))) == NULL) {
				rc = CP_ENOMEM;
				goto out;
			}
			v = nv;
		}
		memset(&v[cnt], 0, sizeof(v[cnt]));
		/* authstore_visible checked the length <= CP_AUTHNAME_MAX. */
		memcpy(v[cnt].name, de->d_name, strlen(de->d_name) + 1);
		v[cnt].size = (long long)st.st_size;
		v[cnt].mtime = st.st_mtime;
		authstore_meta(dirfd, de->d_name, &v[cnt]);
		cnt++;
	}
	if (errno != 0)
		goto out;
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), authstore_cmp);
	*out = v;
	*n = cnt;
	v = NULL;
	cnt = 0;
	rc = CP_OK;
out:
	if (d != NULL)
		closedir(d);
	authstore_list_free(v, cnt);
	return rc;
}

int
authstore_list(const char *dir, struct authstore_entry **out, size_t *n)
{
	int dirfd = -1, rc;

	*out = NULL;
	*n = 0;
	if ((rc = authstore_open_dir(dir, &dirfd)) != CP_OK)
		return rc;
	rc = authstore_list_fd(dirfd, out, n);
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
	struct authstore_entry *v = NULL;
	struct lock lk = LOCK_INIT;
	struct stat st;
	size_t n = 0, i;
	int dirfd = -1, rc;

	*deleted = 0;
	if ((rc = authstore_begin(dir, false, &dirfd, &lk)) != CP_OK)
		goto out;
	/* Exactly what the list shows (DESIGN 5), decided under the lock. */
	if ((rc = authstore_list_fd(dirfd, &v, &n)) != CP_OK)
		goto out;
	for (i = 0; i < n; i++) {
		if (!authstore_visible(dirfd, v[i].name, &st))
			continue;
		if (unlinkat(dirfd, v[i].name, 0) == -1) {
			if (errno == ENOENT)
				continue;
			rc = CP_EIO;
			goto out;
		}
		(*deleted)++;
	}
	(void)fsync(dirfd);
	rc = CP_OK;
out:
	authstore_list_free(v, n);
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
