/*
 * h_status.c - what the daemon and past changes say (issue 13):
 * GET /status ("is my change live?": the config's sha256 against the one
 * cliproxyd loaded, from its status file <state-dir>/cliproxyd.status,
 * DESIGN 6), GET /audit?limit=N, and the daemon's request logs:
 * GET /request-logs, GET /request-logs/{name}, DELETE /request-logs.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mgmt.h"

#define STATUS_FILE      "cliproxyd.status"  /* DESIGN 6 */
#define STATUS_FILE_MAX  (1024u * 1024u)     /* what we read of it */
#define REQLOG_SUFFIX    ".log"              /* proxyd/reqlog.c */
#define REQLOG_NAME_MAX  CP_AUTHNAME_MAX     /* as auth files (DESIGN 4) */
#define REQLOG_FILES_MAX 10000               /* listed at most */
#define REQLOG_FILE_MAX  (8u * 1024u * 1024u) /* served at most */
#define REQLOG_SCAN      65536               /* status scan chunk */

/* --------------------------------------------------------- GET /status */

/* Read /proc/<pid>/<what> into out (NUL-terminated); false when it cannot. */
static bool
proc_read(long long pid, const char *what, char *out, size_t outlen)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%lld/%s", pid, what);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	n = read(fd, out, outlen - 1);
	close(fd);
	if (n <= 0)
		return false;
	out[n] = '\0';
	return true;
}

/* Is pid a running cliproxyd? kill(0) says whether the process exists
 * (EPERM: it does, as another user), but a dead daemon its parent has not
 * reaped yet (a zombie) exists too: /proc/<pid>/stat's state tells it.
 * /proc/<pid>/comm, when readable, tells a reused pid from the daemon. */
static bool
daemon_alive(long long pid)
{
	char comm[64], stat[512];
	const char *rp;

	if (pid <= 1 || pid > 0x7fffffff)
		return false;
	if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
		return false;
	/* "pid (comm) S ...": the state follows the last ')'. */
	if (proc_read(pid, "stat", stat, sizeof(stat)) &&
	    (rp = strrchr(stat, ')')) != NULL && rp[1] == ' ' &&
	    (rp[2] == 'Z' || rp[2] == 'X'))
		return false;
	if (!proc_read(pid, "comm", comm, sizeof(comm)))
		return true;
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "cliproxyd") == 0;
}

void
h_status(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	char *dir = chg_state_dir(rq), *data = NULL, path[4200], sha[65] = "";
	cJSON *o = NULL, *d = NULL, *file = NULL;
	const cJSON *pid, *loaded;
	size_t len = 0;
	bool running = false;
	int rc;

	(void)arg;
	if (dir == NULL)
		goto nomem;
	/* the file as it is now (the cached copy is checked by stat on
	 * every request, so it is) */
	if (!rq->cfg_stale)
		snprintf(sha, sizeof(sha), "%s", rq->st->sha);
	else if (fio_read_file(rq->st->config_path, CP_CONFIG_MAX, &data, &len) == CP_OK)
		sha256_hex(data, len, sha);
	free(data);
	data = NULL;
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "version", PACKAGE_VERSION) == NULL ||
	    (sha[0] != '\0' ? cJSON_AddStringToObject(o, "config-sha256", sha) :
	    cJSON_AddNullToObject(o, "config-sha256")) == NULL ||
	    cJSON_AddBoolToObject(o, "config-valid", !rq->cfg_stale) == NULL ||
	    cJSON_AddStringToObject(o, "state-dir", dir) == NULL)
		goto nomem;
	snprintf(path, sizeof(path), "%s/%s", dir, STATUS_FILE);
	rc = fio_read_file(path, STATUS_FILE_MAX, &data, &len);
	if (rc == CP_OK && json_parse_strict(data, len, &file) == CP_OK && cJSON_IsObject(file)) {
		/* the daemon's own words, plus whether it still runs */
		d = file;
		file = NULL;
		pid = cJSON_GetObjectItemCaseSensitive(d, "pid");
		running = cJSON_IsNumber(pid) && daemon_alive((long long)pid->valuedouble);
	} else {
		if ((d = cJSON_CreateObject()) == NULL)
			goto nomem;
		cJSON_AddStringToObject(d, "reason", rc == CP_ENOTFOUND ? "no status file" :
		    rc == CP_OK ? "status file is not a JSON object" : "cannot read the status file");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(d, "running");
	if (!cJSON_AddItemToObject(o, "daemon", d)) {
		cJSON_Delete(d);
		goto nomem;
	}
	cJSON_AddBoolToObject(d, "running", running);
	loaded = cJSON_GetObjectItemCaseSensitive(d, "config-sha256");
	if (cJSON_AddBoolToObject(o, "in-sync", running && sha[0] != '\0' &&
	    cJSON_IsString(loaded) && strcmp(loaded->valuestring, sha) == 0) == NULL)
		goto nomem;
	resp_json(rs, 200, o);
	goto out;
nomem:
	resp_cp_error(rs, CP_ENOMEM, NULL);
out:
	free(data);
	cJSON_Delete(file);
	cJSON_Delete(o);
	free(dir);
}

/* ---------------------------------------------------------- GET /audit */

void
h_audit(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	char v[MGMT_QVALUE_MAX], *dir = NULL;
	long long limit = MGMT_AUDIT_LIMIT;
	size_t vlen;
	cJSON *o = NULL, *l = NULL;
	int rc;

	(void)arg;
	rc = req_query(rq, "limit", v, sizeof(v), &vlen);
	if (rc != CP_ENOTFOUND && (rc != CP_OK ||
	    str_to_ll(v, vlen, 1, MGMT_AUDIT_LIMIT_MAX, &limit) != CP_OK)) {
		resp_cp_error(rs, CP_EINVAL, "limit must be an integer 1..10000");
		return;
	}
	if ((dir = chg_state_dir(rq)) == NULL || (o = cJSON_CreateObject()) == NULL ||
	    (l = audit_read(dir, MGMT_AUDIT_KEEP, (long)limit)) == NULL ||
	    !cJSON_AddItemToObject(o, "entries", l)) {
		cJSON_Delete(l);
		resp_cp_error(rs, CP_ENOMEM, NULL);
	} else {
		resp_json(rs, 200, o);
	}
	cJSON_Delete(o);
	free(dir);
}

/* ------------------------------------------------------ request logs */

/* Names the daemon makes ("<time>-<seq>-<pid>.log"), checked like auth
 * file names (DESIGN 4): an allow-list, not a ".." test. */
static bool
reqlog_name_ok(const char *s, size_t len)
{
	return file_name_ok(s, len, REQLOG_SUFFIX);
}

/* The request-log directory (request-log-dir, else <state-dir>/requests)
 * opened without following a symlink; -1 with errno. */
static int
reqlog_dir(struct mgmt_req *rq, struct mgmt_resp *rs)
{
	char *sd = NULL, path[4200];
	int fd;

	if (rq->cfg_stale) {
		char msg[320];

		snprintf(msg, sizeof(msg), "failed to load config: %s", rq->cfg_err);
		resp_cp_error(rs, CP_EIO, msg);
		return -2;
	}
	if (rq->cfg->request_log_dir[0] != '\0') {
		snprintf(path, sizeof(path), "%s", rq->cfg->request_log_dir);
	} else {
		if ((sd = chg_state_dir(rq)) == NULL) {
			resp_cp_error(rs, CP_ENOMEM, NULL);
			return -2;
		}
		snprintf(path, sizeof(path), "%s/requests", sd);
		free(sd);
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT && errno != ENOTDIR) {
		log_warn("cannot open request-log directory '%s'", path);
		resp_cp_error(rs, CP_EIO, "cannot open the request-log directory");
		return -2;
	}
	return fd;
}

/* The final status of the exchange a log records: relay.c writes
 * "=== <what> (status N) ===" or "=== error N ===". -1 if none. */
static long
reqlog_status(int dfd, const char *name)
{
	static const char *const marks[] = { " (status ", "=== error " };
	char *buf = NULL;
	size_t have = 0;
	long st = -1;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 || (buf = malloc(REQLOG_SCAN + 64 + 1)) == NULL)
		goto out;
	for (;;) {
		ssize_t n = read(fd, buf + have, REQLOG_SCAN);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		for (size_t m = 0; m < 2; m++) {
			const char *p = strstr(buf, marks[m]);
			long long v;
			size_t dl;

			if (p == NULL || strlen(p) < strlen(marks[m]) + 3)
				continue;
			p += strlen(marks[m]);
			dl = strspn(p, "0123456789");
			if (dl > 0 && p[dl] != '\0' && str_to_ll(p, dl, 0, 999, &v) == CP_OK) {
				st = (long)v;
				goto out;
			}
		}
		/* keep a tail so that a mark across chunks is found */
		if (have > 64) {
			memmove(buf, buf + have - 64, 64);
			have = 64;
		}
	}
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return st;
}

struct rl_entry {
	char name[REQLOG_NAME_MAX + 1]; /* file name */
	long long size;                 /* bytes */
	time_t mtime;                   /* modification time */
};

static int
rl_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rl_entry *)a)->name, ((const struct rl_entry *)b)->name);
}

/* Regular *.log files with allowed names, sorted by name (= time). */
static int
reqlog_scan(int dfd, struct rl_entry **out, size_t *n)
{
	struct rl_entry *v = NULL;
	struct dirent *de;
	size_t cap = 0;
	DIR *d;
	int fd = dup(dfd);

	*out = NULL;
	*n = 0;
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return CP_EIO;
	}
	while ((de = readdir(d)) != NULL && *n < REQLOG_FILES_MAX) {
		struct stat st;

		if (!reqlog_name_ok(de->d_name, strlen(de->d_name)) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			struct rl_entry *t = realloc(v, nc * sizeof(*t));

			if (t == NULL) {
				closedir(d);
				free(v);
				return CP_ENOMEM;
			}
			v = t;
			cap = nc;
		}
		snprintf(v[*n].name, sizeof(v[*n].name), "%s", de->d_name);
		v[*n].size = (long long)st.st_size;
		v[*n].mtime = st.st_mtime;
		(*n)++;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), rl_cmp);
	*out = v;
	return CP_OK;
}

void
h_reqlog_list(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	struct rl_entry *v = NULL;
	size_t n = 0;
	cJSON *o = NULL, *files;
	int dfd = reqlog_dir(rq, rs);

	(void)arg;
	if (dfd == -2)
		return;
	if (dfd >= 0 && reqlog_scan(dfd, &v, &n) != CP_OK)
		goto nomem;
	if ((o = cJSON_CreateObject()) == NULL ||
	    (files = cJSON_AddArrayToObject(o, "files")) == NULL)
		goto nomem;
	/* newest first: the one an administrator looks for */
	for (size_t i = n; i-- > 0;) {
		cJSON *f = cJSON_CreateObject();
		char t[32];
		long st = reqlog_status(dfd, v[i].name);

		if (f == NULL || !cJSON_AddItemToArray(files, f))
			goto nomem;
		fmt_rfc3339(v[i].mtime, t, sizeof(t));
		if (cJSON_AddStringToObject(f, "name", v[i].name) == NULL ||
		    cJSON_AddNumberToObject(f, "size", (double)v[i].size) == NULL ||
		    cJSON_AddStringToObject(f, "modtime", t) == NULL ||
		    (st >= 0 ? cJSON_AddNumberToObject(f, "status", (double)st) :
		    cJSON_AddNullToObject(f, "status")) == NULL)
			goto nomem;
	}
	resp_json(rs, 200, o);
	goto out;
nomem:
	resp_cp_error(rs, CP_ENOMEM, NULL);
out:
	cJSON_Delete(o);
	free(v);
	if (dfd >= 0)
		close(dfd);
}

void
h_reqlog_get(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	char *data = NULL;
	size_t len = 0;
	int dfd, rc;

	(void)arg;
	if (!reqlog_name_ok(rq->param, strlen(rq->param))) {
		resp_cp_error(rs, CP_EINVAL, "invalid name");
		return;
	}
	if ((dfd = reqlog_dir(rq, rs)) == -2)
		return;
	rc = dfd >= 0 ? fio_read_at(dfd, rq->param, REQLOG_FILE_MAX, &data, &len) : CP_ENOTFOUND;
	if (rc == CP_ENOTFOUND || rc == CP_EPERM) {
		resp_cp_error(rs, CP_ENOTFOUND, "file not found");
	} else if (rc != CP_OK) {
		resp_cp_error(rs, CP_EIO, rc == CP_ETOOBIG ? "request log too large" :
		    "cannot read request log");
	} else {
		buf_reset(&rs->body);
		if (buf_append(&rs->body, data, len) != CP_OK) {
			resp_cp_error(rs, CP_EIO, "request log too large");
		} else {
			rs->status = 200;
			rs->is_json = false;
			resp_header(rs, "Content-Type", "text/plain; charset=utf-8");
		}
	}
	free(data);
	if (dfd >= 0)
		close(dfd);
}

void
h_reqlog_clear(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	struct rl_entry *v = NULL;
	size_t n = 0, deleted = 0, failed = 0;
	cJSON *o = NULL;
	int dfd = reqlog_dir(rq, rs), why = 0;

	(void)arg;
	if (dfd == -2)
		return;
	if (dfd >= 0 && reqlog_scan(dfd, &v, &n) != CP_OK) {
		resp_cp_error(rs, CP_ENOMEM, NULL);
		goto out;
	}
	/* exactly what the list shows */
	for (size_t i = 0; i < n; i++) {
		if (unlinkat(dfd, v[i].name, 0) == 0)
			deleted++;
		else if (errno != ENOENT && failed++ == 0)
			why = errno;
	}
	if (dfd >= 0)
		(void)fsync(dfd);
	if (deleted > 0)
		chg_audit_files(rq, NULL, deleted);
	if (failed > 0) {
		char msg[160];

		snprintf(msg, sizeof(msg), "cannot delete %zu request logs: %s", failed,
		    strerror(why));
		resp_cp_error(rs, CP_EIO, msg);
		goto out;
	}
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "status", "ok") == NULL ||
	    cJSON_AddNumberToObject(o, "deleted", (double)deleted) == NULL) {
		resp_cp_error(rs, CP_ENOMEM, NULL);
		goto out;
	}
	resp_json(rs, 200, o);
out:
	cJSON_Delete(o);
	free(v);
	if (dfd >= 0)
		close(dfd);
}
