/*
 * h_login.c - the login endpoints of PROVIDERS.md section 6, so that a
 * panel on another machine can log an OAuth account in:
 *   GET  /{anthropic|codex|gemini-cli|qwen}-auth-url   {"status":"ok","url","state"}
 *   GET  /get-auth-status?state=                       always 200: wait | ok | error
 *   POST /oauth-callback {"provider","redirect_url"} or {"provider","code","state"}
 * and PATCH /auth-files/status {"name","disabled"}.
 *
 * The responder keeps no process between requests (PROVIDERS 6): a
 * pending login lives in a 0600 dot-file "auth-dir/.oauth-<state>.pending"
 * (JSON: kind, PKCE verifier, redirect URI, expiry, status, qwen's device
 * code), invisible to the auth-file list and to the daemon (dot-files).
 * It expires after OAUTH_PENDING_TTL_S; every login request sweeps expired
 * ones. A step that talks to the provider first claims the file by renaming
 * it to ".oauth-<state>.claimed" (one rename wins), so two pasted callbacks
 * or two status polls never spend one code twice; the result is written
 * back to the .pending name.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mgmt.h"

#define LOGIN_PREFIX ".oauth-"            /* pending dot-files */
#define LOGIN_SUFFIX ".pending"
#define LOGIN_CLAIMED ".claimed"
#define LOGIN_FILE_MAX (64u * 1024u)      /* a pending file */
#define LOGIN_ONBOARD_POLL_MS 5000        /* PROVIDERS 3: onboardUser every 5 s */
#define LOGIN_SLOWDOWN_MAX_S 10           /* PROVIDERS 4 */
#define LOGIN_CLAIM_STALE_S 120           /* a claim older than this was a crash */

/* ?state= and pending names: base64url only (our own states are). */
static bool
login_state_ok(const char *s, size_t len)
{
	if (len < 8 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return true;
}

static void
login_name(char *out, size_t outlen, const char *state, const char *suffix)
{
	snprintf(out, outlen, LOGIN_PREFIX "%.64s%s", state, suffix);  /* states are <= 64 */
}

/* Remove pending logins past their expiry (and claims a crash left). */
static void
login_sweep(int dirfd)
{
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	DIR *d;
	int fd;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		bool pend = n > sizeof(LOGIN_SUFFIX) && strcmp(de->d_name + n - 8, LOGIN_SUFFIX) == 0;
		bool claim = n > sizeof(LOGIN_CLAIMED) && strcmp(de->d_name + n - 8, LOGIN_CLAIMED) == 0;

		if (strncmp(de->d_name, LOGIN_PREFIX, 7) != 0 || (!pend && !claim))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (now - st.st_mtime > (pend ? OAUTH_PENDING_TTL_S : LOGIN_CLAIM_STALE_S))
			(void)unlinkat(dirfd, de->d_name, 0);
	}
	closedir(d);
}

static int
login_open_dir(const char *dir, int *dirfd)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return CP_EIO;
	*dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return *dirfd >= 0 ? CP_OK : CP_EIO;
}

static int
login_write(int dirfd, const char *state, const cJSON *doc)
{
	char name[128], *text;
	int rc;

	login_name(name, sizeof(name), state, LOGIN_SUFFIX);
	if ((text = cJSON_PrintUnformatted(doc)) == NULL)
		return CP_ENOMEM;
	rc = fio_write_atomic_at(dirfd, name, text, strlen(text), 0600, NULL, 0);
	cp_wipe(text, strlen(text));
	free(text);
	return rc;
}

/* Read name (under dirfd) as a JSON object. */
static int
login_read(int dirfd, const char *name, cJSON **doc)
{
	char *data = NULL;
	size_t len;
	int rc;

	*doc = NULL;
	if ((rc = fio_read_at(dirfd, name, LOGIN_FILE_MAX, &data, &len)) != CP_OK)
		return rc == CP_EPERM ? CP_ENOTFOUND : rc;
	rc = json_parse_strict(data, len, doc);
	cp_wipe(data, len);
	free(data);
	if (rc == CP_OK && !cJSON_IsObject(*doc)) {
		cJSON_Delete(*doc);
		*doc = NULL;
		rc = CP_EPARSE;
	}
	return rc;
}

/* The pending login of doc rebuilt (kind, state, verifier). */
static int
login_pending_of(const cJSON *doc, struct oauth_pending *pd)
{
	const char *kind, *state, *verifier = "";

	memset(pd, 0, sizeof(*pd));
	if (json_get_string(doc, "kind", &kind) != CP_OK ||
	    (pd->p = oauth_provider_by_name(kind)) == NULL ||
	    json_get_string(doc, "state", &state) != CP_OK || strlen(state) > OAUTH_STATE_LEN)
		return CP_EINVAL;
	(void)json_get_string(doc, "verifier", &verifier);
	if (strlen(verifier) > OAUTH_VERIFIER_LEN)
		return CP_EINVAL;
	memcpy(pd->state, state, strlen(state) + 1);
	memcpy(pd->verifier, verifier, strlen(verifier) + 1);
	if (pd->p->pkce)
		oauth_pkce_challenge(pd->verifier, pd->challenge);
	return CP_OK;
}

static void
login_set(cJSON *doc, const char *key, const char *value)
{
	cJSON *s = cJSON_CreateString(value);

	if (s == NULL)
		return;
	if (cJSON_GetObjectItemCaseSensitive(doc, key) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(doc, key, s);
	else
		cJSON_AddItemToObject(doc, key, s);
}

static void
login_set_num(cJSON *doc, const char *key, double v)
{
	cJSON *n = cJSON_CreateNumber(v);

	if (n == NULL)
		return;
	if (cJSON_GetObjectItemCaseSensitive(doc, key) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(doc, key, n);
	else
		cJSON_AddItemToObject(doc, key, n);
}

/* Tokens in hand: email / project as the kind needs, then the auth file.
 * The outcome goes into doc (status ok + file, or error). */
static void
login_finish(const struct cfg *c, const struct oauth_pending *pd, cJSON *doc,
    const struct oauth_tokens *t)
{
	char name[CP_AUTHNAME_MAX + 1], err[512] = "", alias[64];
	char *email = NULL, *project = NULL;
	const char *who = t->email, *want = NULL, *a = NULL;
	int rc;

	if (pd->p->kind == OAUTH_GEMINI) {
		(void)json_get_string(doc, "project_id", &want);
		if ((rc = oflow_gemini_email(c, t->access_token, &email, err, sizeof(err))) != CP_OK)
			goto out;
		who = email;
		if ((rc = oflow_gemini_project(c, t->access_token, want, LOGIN_ONBOARD_POLL_MS,
		    &project, err, sizeof(err))) != CP_OK)
			goto out;
	} else if (pd->p->kind == OAUTH_QWEN) {
		if (json_get_string(doc, "alias", &a) == CP_OK && a[0] != '\0') {
			who = a;
		} else {
			snprintf(alias, sizeof(alias), "%lld", (long long)time(NULL));
			who = alias;
		}
	}
	rc = oflow_save(c, pd->p, t, who, project, name, sizeof(name), err, sizeof(err));
out:
	if (rc == CP_OK) {
		login_set(doc, "status", "ok");
		login_set(doc, "file", name);
		log_info("login of a %s account saved as '%s'", pd->p->type, name);
	} else {
		login_set(doc, "status", "error");
		login_set(doc, "error", err[0] != '\0' ? err : cp_strerror(rc));
		log_warnx("login of a %s account failed: %s", pd->p->type,
		    err[0] != '\0' ? err : cp_strerror(rc));
	}
	free(email);
	free(project);
}

/* ------------------------------------------------------ the auth URL */

void
h_login_url(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const struct oauth_provider *p = oauth_provider(*(const enum oauth_kind *)arg);
	const char *dir = h_auth_dir(rq, rs);
	struct oauth_pending pd;
	struct oflow_device dv;
	char redirect[256], project[MGMT_QVALUE_MAX] = "", alias[MGMT_QVALUE_MAX] = "", err[512] = "";
	cJSON *doc = NULL, *o = NULL;
	struct buf url;
	size_t len;
	int dirfd = -1, rc;

	memset(&dv, 0, sizeof(dv));
	buf_init(&url, 16384);
	if (dir == NULL)
		goto out;
	if (p->kind == OAUTH_GEMINI &&
	    (rc = req_query(rq, "project_id", project, sizeof(project), &len)) != CP_OK &&
	    rc != CP_ENOTFOUND) {
		resp_cp_error(rs, CP_EINVAL, "invalid project_id");
		goto out;
	}
	if (p->kind == OAUTH_QWEN &&
	    (rc = req_query(rq, "alias", alias, sizeof(alias), &len)) != CP_OK && rc != CP_ENOTFOUND) {
		resp_cp_error(rs, CP_EINVAL, "invalid alias");
		goto out;
	}
	if (strlen(project) > 128 || strlen(alias) > 128) {
		resp_cp_error(rs, CP_EINVAL, "project_id or alias too long");
		goto out;
	}
	if (login_open_dir(dir, &dirfd) != CP_OK) {
		resp_cp_error(rs, CP_EIO, "cannot open auth-dir");
		goto out;
	}
	login_sweep(dirfd);
	if (oauth_pending_init(&pd, p) != CP_OK) {
		resp_cp_error(rs, CP_EIO, "no randomness");
		goto out;
	}
	if ((doc = cJSON_CreateObject()) == NULL)
		goto nomem;
	login_set(doc, "kind", p->type);
	login_set(doc, "state", pd.state);
	login_set(doc, "verifier", pd.verifier);
	login_set(doc, "status", "wait");
	login_set_num(doc, "expires", (double)(time(NULL) + OAUTH_PENDING_TTL_S));
	if (project[0] != '\0')
		login_set(doc, "project_id", project);
	if (alias[0] != '\0')
		login_set(doc, "alias", alias);
	if (p->device) {
		/* qwen: ask for a device code now; status calls poll */
		if (oflow_device_start(rq->cfg, &pd, &dv, err, sizeof(err)) != CP_OK) {
			char msg[600];

			snprintf(msg, sizeof(msg), "cannot start the device login: %s", err);
			resp_error(rs, 502, msg);
			goto out;
		}
		login_set(doc, "device_code", dv.device_code);
		login_set_num(doc, "interval", dv.interval);
		if (buf_appends(&url, dv.verification_uri != NULL ? dv.verification_uri : "") != CP_OK)
			goto nomem;
	} else {
		/* the registered loopback redirect: the admin's browser ends on
		 * an error page there and pastes its URL (POST /oauth-callback) */
		if (oauth_redirect_uri(p, 0, redirect, sizeof(redirect)) != CP_OK ||
		    oauth_authorize_url(p, oauth_url(rq->cfg, p, OAUTH_EP_AUTH), redirect, &pd, &url) != CP_OK)
			goto nomem;
		login_set(doc, "redirect_uri", redirect);
	}
	if ((rc = login_write(dirfd, pd.state, doc)) != CP_OK) {
		resp_cp_error(rs, CP_EIO, "cannot save the pending login");
		goto out;
	}
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "status", "ok") == NULL ||
	    cJSON_AddStringToObject(o, "url", url.p != NULL ? url.p : "") == NULL ||
	    cJSON_AddStringToObject(o, "state", pd.state) == NULL)
		goto nomem;
	resp_json(rs, 200, o);
	goto out;
nomem:
	resp_cp_error(rs, CP_ENOMEM, NULL);
out:
	oflow_device_release(&dv);
	cJSON_Delete(o);
	cJSON_Delete(doc);
	buf_release(&url);
	cp_wipe(&pd, sizeof(pd));
	if (dirfd >= 0)
		close(dirfd);
}

/* ----------------------------------------------------------- status */

static void
login_status_answer(struct mgmt_resp *rs, const char *status, const char *error, const char *file)
{
	cJSON *o = cJSON_CreateObject();

	/* PROVIDERS 7: always 200, status wait | ok | error */
	if (o == NULL || cJSON_AddStringToObject(o, "status", status) == NULL ||
	    (error != NULL && cJSON_AddStringToObject(o, "error", error) == NULL) ||
	    (file != NULL && cJSON_AddStringToObject(o, "file", file) == NULL)) {
		cJSON_Delete(o);
		resp_cp_error(rs, CP_ENOMEM, NULL);
		return;
	}
	resp_json(rs, 200, o);
	cJSON_Delete(o);
}

/* Claim the pending login of state: rename to .claimed. CP_EBUSY when
 * someone else holds it, CP_ENOTFOUND when there is none. */
static int
login_claim(int dirfd, const char *state, cJSON **doc)
{
	char from[128], to[128];
	struct stat st;
	int rc;

	login_name(from, sizeof(from), state, LOGIN_SUFFIX);
	login_name(to, sizeof(to), state, LOGIN_CLAIMED);
	if (renameat(dirfd, from, dirfd, to) != 0) {
		if (errno == ENOENT && fstatat(dirfd, to, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return CP_EBUSY;
		return CP_ENOTFOUND;
	}
	if ((rc = login_read(dirfd, to, doc)) != CP_OK)
		(void)unlinkat(dirfd, to, 0);
	return rc;
}

/* Put a claimed login back under its .pending name with doc's state. */
static void
login_release(int dirfd, const char *state, const cJSON *doc)
{
	char to[128];

	if (login_write(dirfd, state, doc) != CP_OK)
		log_warnx("cannot save the pending login");
	login_name(to, sizeof(to), state, LOGIN_CLAIMED);
	(void)unlinkat(dirfd, to, 0);
}

/* One device poll for a qwen login (PROVIDERS 6: once per status call). */
static void
login_qwen_poll(const struct cfg *c, cJSON *doc)
{
	struct oauth_pending pd;
	struct oauth_tokens t;
	const char *dc;
	char err[512] = "";
	long long interval = 5, last = 0;
	int rc;

	memset(&t, 0, sizeof(t));
	if (login_pending_of(doc, &pd) != CP_OK || json_get_string(doc, "device_code", &dc) != CP_OK) {
		login_set(doc, "status", "error");
		login_set(doc, "error", "the pending login is damaged");
		return;
	}
	(void)json_get_int(doc, "interval", 1, 60, &interval);
	(void)json_get_int(doc, "last_poll", 0, (long long)1 << 40, &last);
	/* honour the provider's interval between polls of one device code */
	if (time(NULL) - last < interval)
		goto out;
	login_set_num(doc, "last_poll", (double)time(NULL));
	rc = oflow_device_poll(c, &pd, dc, &t, err, sizeof(err));
	if (rc == CP_OK) {
		login_finish(c, &pd, doc, &t);
	} else if (rc == CP_EPERM && t.error != NULL && strcmp(t.error, "authorization_pending") == 0) {
		/* still waiting for the user */
	} else if (rc == CP_EPERM && t.error != NULL && strcmp(t.error, "slow_down") == 0) {
		interval = interval * 3 / 2 > LOGIN_SLOWDOWN_MAX_S ? LOGIN_SLOWDOWN_MAX_S :
		    interval * 3 / 2;
		login_set_num(doc, "interval", (double)interval);
	} else {
		login_set(doc, "status", "error");
		login_set(doc, "error", err);
	}
out:
	oauth_tokens_release(&t);
	cp_wipe(&pd, sizeof(pd));
}

/* ?state= checked into out; false with rs filled otherwise. */
static bool
login_query_state(struct mgmt_req *rq, struct mgmt_resp *rs, char *out, size_t outlen)
{
	size_t len;

	if (req_query(rq, "state", out, outlen, &len) != CP_OK || len == 0) {
		login_status_answer(rs, "error", "missing state", NULL);
		return false;
	}
	if (!login_state_ok(out, len)) {
		login_status_answer(rs, "error", "unknown or expired state", NULL);
		return false;
	}
	return true;
}

void
h_login_status(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const char *dir = h_auth_dir(rq, rs), *status = "wait", *e = NULL, *f = NULL, *kind;
	char state[MGMT_QVALUE_MAX], name[128];
	cJSON *doc = NULL;
	long long exp = 0;
	int dirfd = -1, rc;

	(void)arg;
	if (dir == NULL || !login_query_state(rq, rs, state, sizeof(state)))
		return;
	if (login_open_dir(dir, &dirfd) != CP_OK) {
		login_status_answer(rs, "error", "cannot open auth-dir", NULL);
		return;
	}
	login_sweep(dirfd);
	login_name(name, sizeof(name), state, LOGIN_SUFFIX);
	rc = login_read(dirfd, name, &doc);
	if (rc == CP_ENOTFOUND) {
		struct stat st;

		login_name(name, sizeof(name), state, LOGIN_CLAIMED);
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			login_status_answer(rs, "wait", NULL, NULL);   /* a step is running */
		else
			login_status_answer(rs, "error", "unknown or expired state", NULL);
		goto out;
	}
	if (rc != CP_OK) {
		login_status_answer(rs, "error", "the pending login is damaged", NULL);
		goto out;
	}
	(void)json_get_int(doc, "expires", 0, (long long)1 << 40, &exp);
	(void)json_get_string(doc, "status", &status);
	if (strcmp(status, "wait") == 0 && time(NULL) > exp) {
		login_status_answer(rs, "error", "the login expired", NULL);
		(void)unlinkat(dirfd, name, 0);
		goto out;
	}
	if (strcmp(status, "wait") == 0 && json_get_string(doc, "kind", &kind) == CP_OK &&
	    strcmp(kind, "qwen") == 0) {
		cJSON_Delete(doc);
		doc = NULL;
		rc = login_claim(dirfd, state, &doc);
		if (rc == CP_EBUSY || rc == CP_ENOTFOUND) {
			login_status_answer(rs, rc == CP_EBUSY ? "wait" : "error",
			    rc == CP_EBUSY ? NULL : "unknown or expired state", NULL);
			goto out;
		}
		if (rc != CP_OK) {
			login_status_answer(rs, "error", "the pending login is damaged", NULL);
			goto out;
		}
		login_qwen_poll(rq->cfg, doc);
		login_release(dirfd, state, doc);
		status = "wait";
		(void)json_get_string(doc, "status", &status);
	}
	(void)json_get_string(doc, "error", &e);
	(void)json_get_string(doc, "file", &f);
	login_status_answer(rs, status, strcmp(status, "error") == 0 ? (e != NULL ? e : "failed") : NULL,
	    strcmp(status, "ok") == 0 ? f : NULL);
out:
	cJSON_Delete(doc);
	if (dirfd >= 0)
		close(dirfd);
}

/* ---------------------------------------------------------- callback */

void
h_login_callback(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const char *dir = h_auth_dir(rq, rs), *prov, *s, *status = "", *redirect = "";
	const struct oauth_provider *p;
	struct oauth_callback cb;
	struct oauth_pending pd;
	struct oauth_tokens t;
	cJSON *body = NULL, *doc = NULL;
	char err[512] = "";
	int dirfd = -1, rc;
	bool claimed = false;

	(void)arg;
	memset(&cb, 0, sizeof(cb));
	memset(&t, 0, sizeof(t));
	memset(&pd, 0, sizeof(pd));
	if (dir == NULL || req_json(rq, rs, &body) != CP_OK)
		goto out;
	if (!cJSON_IsObject(body) || json_get_string(body, "provider", &prov) != CP_OK) {
		resp_cp_error(rs, CP_EINVAL, "missing provider");
		goto out;
	}
	if ((p = oauth_provider_by_name(prov)) == NULL) {
		resp_cp_error(rs, CP_EINVAL, "unknown provider");
		goto out;
	}
	if (p->device) {
		resp_cp_error(rs, CP_EINVAL, "qwen logs in by device code: poll get-auth-status");
		goto out;
	}
	if (json_get_string(body, "redirect_url", &s) == CP_OK) {
		rc = oauth_parse_callback(s, &cb);
		if (rc == CP_EPERM) {
			/* the provider refused: the login ends with that error */
		} else if (rc != CP_OK) {
			resp_cp_error(rs, CP_EINVAL, rc == CP_EEXIST ? "redirect_url repeats a parameter" :
			    "redirect_url carries no code");
			goto out;
		}
	} else if (json_get_string(body, "code", &s) == CP_OK) {
		if ((rc = oauth_parse_callback(s, &cb)) != CP_OK) {
			resp_cp_error(rs, CP_EINVAL, "invalid code");
			goto out;
		}
	} else {
		resp_cp_error(rs, CP_EINVAL, "missing redirect_url or code");
		goto out;
	}
	if (json_get_string(body, "state", &s) == CP_OK) {
		if (cb.state[0] != '\0' && strcmp(cb.state, s) != 0) {
			resp_cp_error(rs, CP_EINVAL, "state differs from the one in the code");
			goto out;
		}
		snprintf(cb.state, sizeof(cb.state), "%s", s);
	}
	if (!login_state_ok(cb.state, strlen(cb.state))) {
		resp_cp_error(rs, CP_EINVAL, cb.state[0] == '\0' ? "missing state" : "unknown or expired state");
		goto out;
	}
	if (login_open_dir(dir, &dirfd) != CP_OK) {
		resp_cp_error(rs, CP_EIO, "cannot open auth-dir");
		goto out;
	}
	login_sweep(dirfd);
	rc = login_claim(dirfd, cb.state, &doc);
	if (rc == CP_EBUSY) {
		resp_cp_error(rs, CP_EEXIST, "this login is being completed already");
		goto out;
	}
	if (rc != CP_OK) {
		resp_cp_error(rs, CP_ENOTFOUND, "unknown or expired state");
		goto out;
	}
	claimed = true;
	(void)json_get_string(doc, "status", &status);
	if (login_pending_of(doc, &pd) != CP_OK || pd.p != p) {
		resp_cp_error(rs, CP_EINVAL, "the state belongs to another provider's login");
		goto out;
	}
	if (strcmp(status, "wait") != 0) {
		resp_cp_error(rs, CP_EEXIST, "this login is finished already");
		goto out;
	}
	if (cb.error[0] != '\0') {
		snprintf(err, sizeof(err), "the provider refused the login: %.100s", cb.error);
		login_set(doc, "status", "error");
		login_set(doc, "error", err);
		resp_cp_error(rs, CP_EINVAL, err);
		goto out;
	}
	(void)json_get_string(doc, "redirect_uri", &redirect);
	if (oflow_exchange(rq->cfg, &pd, cb.code, redirect, &t, err, sizeof(err)) != CP_OK) {
		login_set(doc, "status", "error");
		login_set(doc, "error", err);
		log_warnx("login of a %s account failed: %s", p->type, err);
		resp_error(rs, 502, err);
		goto out;
	}
	login_finish(rq->cfg, &pd, doc, &t);
	(void)json_get_string(doc, "status", &status);
	if (strcmp(status, "ok") == 0) {
		cJSON *o = cJSON_CreateObject();

		if (o == NULL || cJSON_AddStringToObject(o, "status", "ok") == NULL ||
		    (json_get_string(doc, "file", &s) == CP_OK &&
		    cJSON_AddStringToObject(o, "file", s) == NULL))
			resp_cp_error(rs, CP_ENOMEM, NULL);
		else
			resp_json(rs, 200, o);
		cJSON_Delete(o);
	} else {
		const char *e = "login failed";

		(void)json_get_string(doc, "error", &e);
		resp_error(rs, 502, e);
	}
out:
	if (claimed)
		login_release(dirfd, cb.state, doc);
	oauth_tokens_release(&t);
	cp_wipe(&cb, sizeof(cb));
	cp_wipe(&pd, sizeof(pd));
	cJSON_Delete(doc);
	cJSON_Delete(body);
	if (dirfd >= 0)
		close(dirfd);
}

/* --------------------------------------------- PATCH /auth-files/status */

static int
login_set_disabled(cJSON *doc, void *arg)
{
	const bool *disabled = arg;
	cJSON *b = cJSON_CreateBool(*disabled);

	if (b == NULL)
		return CP_ENOMEM;
	if (cJSON_GetObjectItemCaseSensitive(doc, "disabled") != NULL)
		return cJSON_ReplaceItemInObjectCaseSensitive(doc, "disabled", b) ? CP_OK : CP_ENOMEM;
	if (!cJSON_AddItemToObject(doc, "disabled", b)) {
		cJSON_Delete(b);
		return CP_ENOMEM;
	}
	return CP_OK;
}

void
h_auth_status(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const char *dir = h_auth_dir(rq, rs), *name;
	char err[256] = "";
	cJSON *body = NULL;
	bool disabled;
	int rc;

	(void)arg;
	if (dir == NULL || req_json(rq, rs, &body) != CP_OK)
		goto out;
	if (!cJSON_IsObject(body) || json_get_string(body, "name", &name) != CP_OK ||
	    json_get_bool(body, "disabled", &disabled) != CP_OK) {
		resp_cp_error(rs, CP_EINVAL, "missing fields");
		goto out;
	}
	if (!authstore_name_ok(name, strlen(name))) {
		resp_cp_error(rs, CP_EINVAL, "invalid name");
		goto out;
	}
	/* DESIGN 4: under the auth-dir lock, merged into the file as it is
	 * now; every other field stays */
	rc = authstore_update(dir, name, login_set_disabled, &disabled, err, sizeof(err));
	if (rc == CP_OK)
		resp_ok(rs);
	else if (rc == CP_ENOTFOUND)
		resp_cp_error(rs, CP_ENOTFOUND, "file not found");
	else if (rc == CP_EBUSY)
		resp_cp_error(rs, CP_EBUSY, "auth-dir is busy");
	else if (rc == CP_EPARSE)
		resp_error(rs, 409, "the auth file is not a JSON object");
	else
		resp_cp_error(rs, CP_EIO, "cannot save auth file");
out:
	cJSON_Delete(body);
}
