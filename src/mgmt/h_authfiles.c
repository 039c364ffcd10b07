/*
 * h_authfiles.c - the auth-dir endpoints (spec "Auth Files Management",
 * DESIGN 4 name rules, DESIGN 5 "Auth files"). Names are hostile: every
 * one goes through authstore_name_ok, and the core opens files with
 * openat + O_NOFOLLOW, so nothing outside auth-dir is created or read.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "mgmt.h"

/* auth-dir of the current model; 500 filled when the file is broken. */
const char *
h_auth_dir(struct mgmt_req *rq, struct mgmt_resp *rs)
{
	if (rq->cfg_stale) {
		char msg[320];

		snprintf(msg, sizeof(msg), "failed to load config: %s", rq->cfg_err);
		resp_cp_error(rs, CP_EIO, msg);
		return NULL;
	}
	return rq->cfg->auth_dir;
}

/* ?name= checked: CP_OK with the name in out, else rs filled. */
static int
query_name(struct mgmt_req *rq, struct mgmt_resp *rs, char *out, size_t outlen)
{
	size_t len;
	int rc = req_query(rq, "name", out, outlen, &len);

	if (rc == CP_ENOTFOUND || (rc == CP_OK && len == 0)) {
		resp_cp_error(rs, CP_EINVAL, "missing name");
		return CP_EINVAL;
	}
	/* a decoded NUL or '/' is just a name the allow-list refuses */
	if (rc != CP_OK || !authstore_name_ok(out, len)) {
		resp_cp_error(rs, CP_EINVAL, "invalid name");
		return CP_EINVAL;
	}
	return CP_OK;
}

/* ------------------------------------------- the daemon's view (issue 12) */

#define DAEMON_STATUS_FILE "cliproxyd.status"  /* DESIGN 6 */
#define DAEMON_STATUS_MAX  (4u * 1024u * 1024u) /* what we read of it */

/* The daemon's status file, when it describes this auth-dir: NULL when
 * there is none (no daemon yet, another auth-dir, unreadable). */
static cJSON *
daemon_view(struct mgmt_req *rq, const char *dir)
{
	char *sdir = chg_state_dir(rq), *data = NULL, path[4200];
	const cJSON *ad;
	cJSON *st = NULL;
	size_t len = 0;

	if (sdir == NULL)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", sdir, DAEMON_STATUS_FILE);
	free(sdir);
	if (fio_read_file(path, DAEMON_STATUS_MAX, &data, &len) != CP_OK)
		return NULL;
	if (json_parse_strict(data, len, &st) != CP_OK || !cJSON_IsObject(st) ||
	    !cJSON_IsString(ad = cJSON_GetObjectItemCaseSensitive(st, "auth-dir")) ||
	    strcmp(ad->valuestring, dir) != 0) {
		cJSON_Delete(st);
		st = NULL;
	}
	free(data);
	return st;
}

/* Entry f (file name) gains "state" and, for an account the daemon
 * serves, "daemon": what its status file says of it (state, expiry, last
 * refresh, refresh failure with when and why, cooldowns; the status file
 * never holds a token). "skipped" (with "state-reason") for a file the
 * daemon does not use, "not-loaded" for one it has not seen yet. */
static int
add_daemon_view(cJSON *f, const char *name, const cJSON *view)
{
	const cJSON *cr = cJSON_GetObjectItemCaseSensitive(view, "credentials"), *e, *v;
	static const char *const skip[] = { "kind", "id", "label", "file", "failures", NULL };
	cJSON *d = NULL;
	size_t i;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cr, "list")) {
		v = cJSON_GetObjectItemCaseSensitive(e, "file");
		if (!cJSON_IsString(v) || strcmp(v->valuestring, name) != 0)
			continue;
		v = cJSON_GetObjectItemCaseSensitive(e, "state");
		if (cJSON_AddStringToObject(f, "state", cJSON_IsString(v) ? v->valuestring :
		    "ok") == NULL || (d = cJSON_Duplicate(e, true)) == NULL)
			return CP_ENOMEM;
		for (i = 0; skip[i] != NULL; i++)
			cJSON_DeleteItemFromObjectCaseSensitive(d, skip[i]);
		if (!cJSON_AddItemToObject(f, "daemon", d)) {
			cJSON_Delete(d);
			return CP_ENOMEM;
		}
		return CP_OK;
	}
	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cr, "auth-files-skipped")) {
		v = cJSON_GetObjectItemCaseSensitive(e, "name");
		if (!cJSON_IsString(v) || strcmp(v->valuestring, name) != 0)
			continue;
		v = cJSON_GetObjectItemCaseSensitive(e, "reason");
		if (cJSON_AddStringToObject(f, "state", "skipped") == NULL ||
		    (cJSON_IsString(v) && cJSON_AddStringToObject(f, "state-reason",
		    v->valuestring) == NULL))
			return CP_ENOMEM;
		return CP_OK;
	}
	return cJSON_AddStringToObject(f, "state", "not-loaded") != NULL ? CP_OK : CP_ENOMEM;
}

void
h_auth_list(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const char *dir = h_auth_dir(rq, rs);
	struct authstore_entry *v = NULL;
	size_t n = 0, total = 0;
	cJSON *o = NULL, *files, *view = NULL;
	int rc;

	(void)arg;
	if (dir == NULL)
		return;
	rc = authstore_list(dir, &v, &n, &total);
	if (rc == CP_ENOTFOUND) {  /* no auth-dir yet: nothing in it */
		v = NULL;
		n = 0;
	} else if (rc != CP_OK) {
		log_warnx("cannot list auth-dir '%s': %s", dir, cp_strerror(rc));
		resp_cp_error(rs, CP_EIO, "cannot list auth files");
		return;
	}
	/* issue 12: the daemon's view of each account, by file name */
	view = daemon_view(rq, dir);
	o = cJSON_CreateObject();
	files = cJSON_AddArrayToObject(o, "files");
	if (files == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		cJSON *f = cJSON_CreateObject();
		char t[32];

		if (f == NULL || !cJSON_AddItemToArray(files, f)) {
			cJSON_Delete(f);
			goto nomem;
		}
		fmt_rfc3339(v[i].mtime, t, sizeof(t));
		if (cJSON_AddStringToObject(f, "name", v[i].name) == NULL ||
		    cJSON_AddNumberToObject(f, "size", (double)v[i].size) == NULL ||
		    cJSON_AddStringToObject(f, "modtime", t) == NULL ||
		    (v[i].type != NULL && cJSON_AddStringToObject(f, "type", v[i].type) == NULL) ||
		    (v[i].email != NULL && cJSON_AddStringToObject(f, "email", v[i].email) == NULL) ||
		    cJSON_AddBoolToObject(f, "disabled", v[i].disabled) == NULL)
			goto nomem;
		if (v[i].expires != 0) {
			fmt_rfc3339(v[i].expires, t, sizeof(t));
			if (cJSON_AddStringToObject(f, "expires", t) == NULL)
				goto nomem;
		}
		if (view != NULL && add_daemon_view(f, v[i].name, view) != CP_OK)
			goto nomem;
	}
	/* Past CP_AUTHDIR_FILES_MAX (files put there by hand: uploads stop
	 * at it) the list holds the first names and says it is cut; every
	 * file still downloads and deletes, ?all=true takes them all. */
	if (total > n && (cJSON_AddTrueToObject(o, "truncated") == NULL ||
	    cJSON_AddNumberToObject(o, "total", (double)total) == NULL))
		goto nomem;
	resp_json(rs, 200, o);
	goto out;
nomem:
	resp_cp_error(rs, CP_ENOMEM, NULL);
out:
	cJSON_Delete(o);
	cJSON_Delete(view);
	authstore_list_free(v, n);
}

void
h_auth_download(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const char *dir = h_auth_dir(rq, rs);
	char name[MGMT_QVALUE_MAX];
	char cd[MGMT_QVALUE_MAX + 64], etag[ETAG_LEN + 1];
	const char *inm;
	char *data = NULL;
	size_t len = 0;
	int rc;

	(void)arg;
	if (dir == NULL || query_name(rq, rs, name, sizeof(name)) != CP_OK)
		return;
	rc = authstore_read(dir, name, &data, &len);
	if (rc == CP_ENOTFOUND || rc == CP_EPERM) {
		/* symlinks and non-regular files are invisible (DESIGN 5) */
		resp_cp_error(rs, CP_ENOTFOUND, "file not found");
		goto out;
	}
	if (rc == CP_EINVAL) {
		resp_cp_error(rs, CP_EINVAL, "invalid name");
		goto out;
	}
	if (rc == CP_EBUSY) {
		/* rewritten in place faster than we can read one version */
		resp_cp_error(rs, CP_EBUSY, "auth file is changing, try again");
		goto out;
	}
	if (rc != CP_OK) {
		log_warnx("cannot read auth file '%s': %s", name, cp_strerror(rc));
		resp_cp_error(rs, CP_EIO, "cannot read auth file");
		goto out;
	}
	/* per-file validator (issue 13): the ETag of the bytes served */
	etag_of(data, len, etag, sizeof(etag));
	inm = req_header(rq, "HTTP_IF_NONE_MATCH");
	if (inm != NULL && etag_if_none_match(inm, etag)) {
		resp_not_modified(rs, etag);
		goto out;
	}
	buf_reset(&rs->body);
	if (buf_append(&rs->body, data, len) != CP_OK) {
		resp_cp_error(rs, CP_EIO, "auth file too large");
		goto out;
	}
	rs->status = 200;
	resp_etag(rs, etag);
	/* the name passed the allow-list: no quote or CR can be in it */
	snprintf(cd, sizeof(cd), "attachment; filename=\"%s\"", name);
	resp_header(rs, "Content-Disposition", cd);
out:
	if (data != NULL)
		cp_wipe(data, len);  /* tokens */
	free(data);
}

/* Create auth-dir (one level, 0700) if it is missing, as a first upload
 * into a fresh installation needs. */
static void
ensure_dir(const char *dir)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		log_warn("cannot create auth-dir '%s'", dir);
}

static void
store(struct mgmt_req *rq, struct mgmt_resp *rs, const char *dir, const char *name,
    const char *data, size_t len)
{
	char err[256] = "", etag[ETAG_LEN + 1];
	cJSON *doc = NULL;
	int rc;

	/* DESIGN 4: the content must be one JSON object, at most 1 MiB */
	if (len > CP_AUTHFILE_MAX) {
		resp_cp_error(rs, CP_ETOOBIG, "request body too large");
		return;
	}
	if (json_parse_strict(data, len, &doc) != CP_OK || !cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		resp_cp_error(rs, CP_EINVAL, "auth file must be a JSON object");
		return;
	}
	cJSON_Delete(doc);
	ensure_dir(dir);
	rc = authstore_write_if(dir, name, data, len, req_header(rq, "HTTP_IF_MATCH"), err,
	    sizeof(err));
	if (rc == CP_OK) {
		chg_audit_files(rq, name, 1);
		etag_of(data, len, etag, sizeof(etag));
		resp_etag(rs, etag);
		resp_ok(rs);
	} else if (rc == CP_ECHANGED) {
		resp_cp_error(rs, CP_ECHANGED, "file changed since it was read");
	} else if (rc == CP_EBUSY) {
		resp_cp_error(rs, CP_EBUSY, "auth-dir is busy");
	} else if (rc == CP_EINVAL || rc == CP_EPARSE) {
		resp_cp_error(rs, CP_EINVAL, err[0] != '\0' ? err : "invalid body");
	} else if (rc == CP_EEXIST || rc == CP_ELIMIT) {
		/* 409: a directory is in the way, or auth-dir is full */
		resp_cp_error(rs, rc, err);
	} else {
		char msg[320];

		snprintf(msg, sizeof(msg), "failed to save auth file: %s",
		    err[0] != '\0' ? err : cp_strerror(rc));
		resp_cp_error(rs, CP_EIO, msg);
	}
}

void
h_auth_upload(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const char *dir = h_auth_dir(rq, rs);
	const char *ct = req_env(rq, "CONTENT_TYPE");
	char boundary[MP_BOUNDARY_MAX + 1];
	struct mp_part *parts = NULL;
	size_t nparts = 0;
	char err[128] = "";
	bool multipart;
	int rc;

	(void)arg;
	if (dir == NULL)
		return;
	/* DESIGN 4 caps the file at 1 MiB, not the form around it (issue
	 * 10: a 1 MiB - 1 file was 413 as multipart, 200 as raw JSON). The
	 * envelope gets a bounded slack; the file part is checked in store(). */
	multipart = ct != NULL && strncasecmp(ct, "multipart/", 10) == 0;
	rc = req_read_body_max(rq, multipart ? CP_AUTHFILE_MAX + MP_ENVELOPE_SLACK : CP_BODY_MAX);
	if (rc == CP_ETOOBIG) {
		resp_cp_error(rs, CP_ETOOBIG, "request body too large");
		return;
	}
	if (rc != CP_OK) {
		resp_cp_error(rs, CP_EINVAL, "invalid body");
		return;
	}
	if (multipart) {
		const struct mp_part *file = NULL;
		const char *base;

		if ((rc = mp_boundary(ct, boundary, sizeof(boundary))) != CP_OK) {
			resp_cp_error(rs, CP_EINVAL, rc == CP_EEXIST ?
			    "invalid multipart body: repeated boundary" :
			    "invalid multipart body: missing boundary");
			return;
		}
		parts = calloc(MP_PARTS_MAX, sizeof(*parts));
		if (parts == NULL) {
			resp_cp_error(rs, CP_ENOMEM, NULL);
			return;
		}
		rc = mp_parse(rq->body, rq->body_len, boundary, parts, MP_PARTS_MAX, &nparts,
		    err, sizeof(err));
		if (rc != CP_OK) {
			char msg[192];

			snprintf(msg, sizeof(msg), "invalid multipart body: %s", err);
			resp_cp_error(rs, CP_EINVAL, msg);
			goto out;
		}
		for (size_t i = 0; i < nparts; i++) {
			if (strcmp(parts[i].name, "file") != 0)
				continue;
			if (file != NULL) {
				/* which one did the client mean? (issue 10: the
				 * second was ignored) */
				resp_cp_error(rs, CP_EINVAL, "invalid multipart body: more than "
				    "one file field");
				goto out;
			}
			file = &parts[i];
		}
		if (file == NULL) {
			resp_cp_error(rs, CP_EINVAL, "missing file field");
			goto out;
		}
		base = mp_basename(file->filename);
		if (!file->has_filename || base[0] == '\0') {
			resp_cp_error(rs, CP_EINVAL, "missing file name");
			goto out;
		}
		if (!authstore_name_ok(base, strlen(base))) {
			resp_cp_error(rs, CP_EINVAL, "invalid name");
			goto out;
		}
		store(rq, rs, dir, base, file->data, file->len);
	} else {
		char name[MGMT_QVALUE_MAX];

		/* raw JSON body with ?name= */
		if (query_name(rq, rs, name, sizeof(name)) != CP_OK)
			goto out;
		store(rq, rs, dir, name, rq->body, rq->body_len);
	}
out:
	free(parts);
}

void
h_auth_delete(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const char *dir = h_auth_dir(rq, rs);
	char v[MGMT_QVALUE_MAX];
	size_t vlen;
	int rc;

	(void)arg;
	if (dir == NULL)
		return;
	if (req_query(rq, "all", v, sizeof(v), &vlen) == CP_OK &&
	    (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)) {
		size_t deleted = 0;
		cJSON *o;

		/* If-Match names one file's version: it does not apply here */
		rc = authstore_delete_all(dir, &deleted);
		if (rc != CP_OK && rc != CP_ENOTFOUND) {
			log_warnx("cannot empty auth-dir '%s': %s", dir, cp_strerror(rc));
			resp_cp_error(rs, rc == CP_EBUSY ? CP_EBUSY : CP_EIO,
			    rc == CP_EBUSY ? "auth-dir is busy" : "cannot delete auth files");
			return;
		}
		chg_audit_files(rq, NULL, deleted);
		o = cJSON_CreateObject();
		if (o == NULL || cJSON_AddStringToObject(o, "status", "ok") == NULL ||
		    cJSON_AddNumberToObject(o, "deleted", (double)deleted) == NULL) {
			cJSON_Delete(o);
			resp_cp_error(rs, CP_ENOMEM, NULL);
			return;
		}
		resp_json(rs, 200, o);
		cJSON_Delete(o);
		return;
	}
	if (query_name(rq, rs, v, sizeof(v)) != CP_OK)
		return;
	rc = authstore_delete_if(dir, v, req_header(rq, "HTTP_IF_MATCH"));
	if (rc == CP_OK) {
		chg_audit_files(rq, v, 1);
		resp_ok(rs);
	} else if (rc == CP_ECHANGED)
		resp_cp_error(rs, CP_ECHANGED, "file changed since it was read");
	else if (rc == CP_ENOTFOUND || rc == CP_EPERM)
		resp_cp_error(rs, CP_ENOTFOUND, "file not found");
	else if (rc == CP_EINVAL)
		resp_cp_error(rs, CP_EINVAL, "invalid name");
	else if (rc == CP_EBUSY)
		resp_cp_error(rs, CP_EBUSY, "auth-dir is busy");
	else
		resp_cp_error(rs, CP_EIO, "cannot delete auth file");
}
