/*
 * audit.c - the audit log of the management API (issue 13):
 * "<state-dir>/audit.log", one compact JSON object per line, appended
 * under "<state-dir>/.audit.lock" by whichever responder process made the
 * change; past MGMT_AUDIT_MAX bytes it is rotated (audit.log.1 is the
 * newest old file, MGMT_AUDIT_KEEP files in all). The lines hold key
 * names, addresses and hashes, never a value (change.c builds them).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mgmt.h"

#define AUDIT_PATH_MAX 4200
#define AUDIT_LINE_MAX (64u * 1024u) /* one entry; longer ones are cut from the read */

static void
audit_path(const char *dir, int n, char *out, size_t outlen)
{
	if (n == 0)
		snprintf(out, outlen, "%s/%s", dir, MGMT_AUDIT_NAME);
	else
		snprintf(out, outlen, "%s/%s.%d", dir, MGMT_AUDIT_NAME, n);
}

/* audit.log.<keep-2> -> <keep-1>, ..., audit.log -> audit.log.1 */
static int
audit_rotate(const char *dir, int keep)
{
	char from[AUDIT_PATH_MAX], to[AUDIT_PATH_MAX];

	for (int i = keep - 1; i >= 1; i--) {
		audit_path(dir, i - 1, from, sizeof(from));
		audit_path(dir, i, to, sizeof(to));
		if (rename(from, to) != 0 && errno != ENOENT)
			return CP_EIO;
	}
	return CP_OK;
}

int
audit_open(struct audit_log *a, const char *dir, size_t max, int keep, char *err,
    size_t errlen)
{
	char path[AUDIT_PATH_MAX], lpath[AUDIT_PATH_MAX];
	struct stat st;
	int rc;

	a->fd = -1;
	a->lk.fd = -1;
	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		cp_seterr(err, errlen, "cannot create '%s': %s", dir, strerror(errno));
		return CP_EIO;
	}
	snprintf(lpath, sizeof(lpath), "%s/.audit.lock", dir);
	if ((rc = lock_acquire(&a->lk, lpath, CP_LOCK_TIMEOUT_MS)) != CP_OK) {
		cp_seterr(err, errlen, "%s", rc == CP_EBUSY ? "busy" : strerror(errno));
		return rc == CP_EBUSY ? CP_EBUSY : CP_EIO;
	}
	audit_path(dir, 0, path, sizeof(path));
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size >= max &&
	    audit_rotate(dir, keep) != CP_OK) {
		cp_seterr(err, errlen, "cannot rotate: %s", strerror(errno));
		goto fail;
	}
	a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (a->fd < 0) {
		cp_seterr(err, errlen, "%s", strerror(errno));
		goto fail;
	}
	return CP_OK;
fail:
	lock_release(&a->lk);
	return CP_EIO;
}

int
audit_append(struct audit_log *a, const cJSON *entry)
{
	char *s;
	size_t len, off = 0;
	int rc = CP_OK;

	if (a->fd < 0)
		return CP_EIO;
	if ((s = cJSON_PrintUnformatted(entry)) == NULL)
		return CP_ENOMEM;
	len = strlen(s);
	s[len] = '\n';  /* over the NUL: one write per line */
	len++;
	while (off < len) {
		ssize_t n = write(a->fd, s + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = CP_EIO;
			break;
		}
		off += (size_t)n;
	}
	free(s);
	return rc;
}

void
audit_close(struct audit_log *a)
{
	if (a->fd >= 0)
		close(a->fd);
	a->fd = -1;
	lock_release(&a->lk);
}

/* Prepend the entries of one file, newest first, to out until it holds
 * limit. Readers take no lock: lines are appended whole. */
static void
audit_read_file(const char *path, long limit, cJSON *out)
{
	char *data = NULL;
	size_t len = 0;

	if (fio_read_file(path, MGMT_AUDIT_MAX + AUDIT_LINE_MAX * 4, &data, &len) != CP_OK)
		return;
	while (len > 0 && cJSON_GetArraySize(out) < limit) {
		size_t end = len, start;
		cJSON *e;

		while (end > 0 && data[end - 1] == '\n')
			end--;
		if (end == 0)
			break;
		start = end;
		while (start > 0 && data[start - 1] != '\n')
			start--;
		e = cJSON_ParseWithLength(data + start, end - start);
		if (cJSON_IsObject(e)) {
			if (!cJSON_AddItemToArray(out, e))
				cJSON_Delete(e);
		} else {
			cJSON_Delete(e);  /* a torn or foreign line */
		}
		len = start;
	}
	free(data);
}

cJSON *
audit_read(const char *dir, int keep, long limit)
{
	char path[AUDIT_PATH_MAX];
	cJSON *out = cJSON_CreateArray();

	for (int i = 0; out != NULL && i < keep && cJSON_GetArraySize(out) < limit; i++) {
		audit_path(dir, i, path, sizeof(path));
		audit_read_file(path, limit, out);
	}
	return out;
}
