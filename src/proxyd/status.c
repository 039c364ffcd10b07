/*
 * status.c - the daemon's status file <state-dir>/cliproxyd.status
 * (DESIGN 6): pid, start time, config hash, load time, last error,
 * credential counts, request counters. Written atomically after every
 * reload and at most once a second otherwise; the management API and
 * cliproxyctl read it, so it is the daemon's only voice.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxyd.h"

#define STATUS_NAME "cliproxyd.status"
/* Temp of the non-durable write: fio's dot-temp pattern plus our pid, so
 * fio_clean_stale_temps would recognise one left by a killed daemon. */
#define STATUS_TMP_FMT "%s/." STATUS_NAME ".tmp%ld"

struct status_counters status_ctr;

static struct event *st_timer;      /* pending delayed write */
static char *st_path;               /* the status file */
static char *st_tmp;                /* its temp for non-durable writes */
static char *st_last_error;         /* last reload error, NULL when fine */
static time_t st_last_error_at;     /* when it happened */
static time_t st_started;           /* daemon start */
static char st_listen[300];         /* what the server listens on */
static struct timespec st_last_write; /* monotonic time of the last write */
static bool st_dirty;               /* something changed since */

time_t
status_started(void)
{
	return st_started;
}

void
status_set_listen(const char *desc)
{
	snprintf(st_listen, sizeof(st_listen), "%s", desc != NULL ? desc : "");
}

const char *
status_last_error(void)
{
	return st_last_error;
}

void
status_set_error(const char *msg)
{
	char *n = NULL;

	if (msg == st_last_error)
		return;
	if (msg != NULL && (n = cp_strdup(msg)) == NULL)
		return;
	free(st_last_error);
	st_last_error = n;
	if (msg != NULL)
		st_last_error_at = time(NULL);
}

static void
add_time(cJSON *o, const char *key, time_t t)
{
	char ts[32];

	fmt_rfc3339(t, ts, sizeof(ts));
	cJSON_AddStringToObject(o, key, ts);
}

/*
 * The periodic write: temp + rename, atomic for readers but without
 * fio_write_atomic's two fsyncs. The file is advisory (DESIGN 6) and this
 * runs on the event loop, where each fsync stalled every exchange for
 * tens of ms (bench figure 5). A crash may leave the previous content,
 * which the next write replaces anyway.
 */
static int
status_write_fast(const char *txt, size_t len, char *err, size_t errlen)
{
	size_t off = 0;
	int fd, rc = CP_EIO;

	if ((fd = open(st_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0644)) < 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		return CP_EIO;
	}
	while (off < len) {
		ssize_t n = write(fd, txt + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s", n < 0 ? strerror(errno) : "short write");
			goto out;
		}
		off += (size_t)n;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "%s", strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(st_tmp, st_path) != 0) {
		snprintf(err, errlen, "%s", strerror(errno));
		goto out;
	}
	rc = CP_OK;
out:
	if (fd >= 0)
		close(fd);
	if (rc != CP_OK)
		unlink(st_tmp);
	return rc;
}

/* An account's view (issue 12, DESIGN 6): its file, its state (ok,
 * cooling, refreshing, refresh-failed with when and why), expiry, last
 * refresh, a pending write-back. Never a token. */
static const char *
add_account(cJSON *o, const struct cred *c, const struct cred_state *st, bool cooling)
{
	const char *state = cooling ? "cooling" : "ok";
	time_t exp = 0;

	cJSON_AddStringToObject(o, "file", c->acct->name);
	if (st != NULL && st->token != NULL)
		exp = st->token_expiry;
	else if (oauth_file_expiry(c->acct->json, &exp) != CP_OK)
		exp = 0;
	if (exp != 0)
		add_time(o, "expires", exp);
	if (st == NULL)
		return state;
	if (st->last_refresh != 0)
		add_time(o, "last-refresh", st->last_refresh);
	if (st->refresh_failed_at != 0) {
		state = "refresh-failed";
		add_time(o, "refresh-failed-at", st->refresh_failed_at);
		cJSON_AddStringToObject(o, "refresh-error", st->refresh_err);
		if (st->refresh_retry_at != 0)
			add_time(o, "refresh-retry-at", st->refresh_retry_at);
	}
	if (st->writeback_pending) {
		cJSON_AddStringToObject(o, "write-back", "pending");
		cJSON_AddStringToObject(o, "write-back-error", st->refresh_err);
	}
	if (st->refreshing)
		state = "refreshing";
	return state;
}

/* Auth files not used, each with why (DESIGN 6: the status says so): the
 * first STATUS_SKIPPED_MAX by name, and how many in all. */
#define STATUS_SKIPPED_MAX 200
static void
add_skipped(cJSON *cr, const struct snapshot *s)
{
	cJSON *list = cJSON_AddArrayToObject(cr, "auth-files-skipped"), *o;
	size_t i, n = 0;

	for (i = 0; list != NULL && i < s->n_auth; i++) {
		if (s->auth[i].why == NULL || n++ >= STATUS_SKIPPED_MAX)
			continue;
		if ((o = cJSON_CreateObject()) == NULL)
			return;
		cJSON_AddItemToArray(list, o);
		cJSON_AddStringToObject(o, "name", s->auth[i].name);
		cJSON_AddStringToObject(o, "reason", s->auth[i].why);
	}
	cJSON_AddNumberToObject(cr, "auth-files-skipped-total", (double)n);
}

/* Auth files that are JSON objects (the others are only named, as
 * skipped). */
static size_t
n_auth_objects(const struct snapshot *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->n_auth; i++)
		if (s->auth[i].json != NULL)
			n++;
	return n;
}

/* DESIGN 6 status: each credential's kind, id, label and state (ok, or
 * cooling down for which models until when) - never a secret. The id is
 * the first 16 hex digits of the pool key (enough to tell them apart). */
static void
add_cred_list(cJSON *cr, const struct snapshot *s, time_t now)
{
	cJSON *list = cJSON_AddArrayToObject(cr, "list");
	size_t i, j, k;

	for (i = 0; list != NULL && i < s->n_provs; i++) {
		const struct prov *p = s->provs[i];

		for (j = 0; j < p->n_creds; j++) {
			const struct cred_state *st = pool_state(p->creds[j].id, false);
			cJSON *o = cJSON_CreateObject(), *cool = NULL;
			char id[17];

			if (o == NULL)
				return;
			cJSON_AddItemToArray(list, o);
			memcpy(id, p->creds[j].id, 16);
			id[16] = '\0';
			cJSON_AddStringToObject(o, "kind", p->ops->kind);
			cJSON_AddStringToObject(o, "id", id);
			cJSON_AddStringToObject(o, "label", p->creds[j].label);
			for (k = 0; st != NULL && k < st->n_cools; k++) {
				cJSON *c;

				if (st->cools[k].until <= now)
					continue;
				if (cool == NULL && (cool = cJSON_AddArrayToObject(o, "cooling")) == NULL)
					break;
				if ((c = cJSON_CreateObject()) == NULL)
					break;
				cJSON_AddItemToArray(cool, c);
				cJSON_AddStringToObject(c, "model", st->cools[k].model);
				add_time(c, "until", st->cools[k].until);
			}
			cJSON_AddStringToObject(o, "state", p->creds[j].acct != NULL ?
			    add_account(o, &p->creds[j], st, cool != NULL) :
			    cool != NULL ? "cooling" : "ok");
			cJSON_AddNumberToObject(o, "failures", st != NULL ? (double)st->failures : 0);
		}
	}
}

static void
status_write(bool durable)
{
	struct snapshot *s = snapshot_current();
	cJSON *o = NULL, *cr, *rq;
	char *txt = NULL, err[128];
	time_t now = time(NULL);

	if (st_path == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &st_last_write);
	st_dirty = false;
	if ((o = cJSON_CreateObject()) == NULL)
		goto out;
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	add_time(o, "started", st_started);
	cJSON_AddStringToObject(o, "listen", st_listen);
	if (s != NULL) {
		cJSON_AddStringToObject(o, "config-sha256", s->cfg_sha);
		add_time(o, "loaded-at", s->loaded_at);
		cJSON_AddStringToObject(o, "auth-dir", s->auth_dir);
	}
	if (st_last_error != NULL) {
		cJSON_AddStringToObject(o, "last-error", st_last_error);
		add_time(o, "last-error-at", st_last_error_at);
	} else {
		cJSON_AddNullToObject(o, "last-error");
	}
	if ((cr = cJSON_AddObjectToObject(o, "credentials")) != NULL && s != NULL) {
		cJSON_AddNumberToObject(cr, "providers", (double)s->n_provs);
		cJSON_AddNumberToObject(cr, "api-keys", (double)snapshot_n_creds(s));
		cJSON_AddNumberToObject(cr, "auth-files", (double)n_auth_objects(s));
		/* DESIGN 6: the status says when files are not used */
		cJSON_AddNumberToObject(cr, "auth-files-ignored",
		    (double)(status_ctr.auth_over_cap + status_ctr.auth_invalid));
		if (status_ctr.auth_over_cap + status_ctr.auth_invalid > 0) {
			char why[160];

			snprintf(why, sizeof(why), "%zu past the limit of %d files, %zu not a JSON "
			    "object", status_ctr.auth_over_cap, PXD_AUTH_FILES_MAX,
			    status_ctr.auth_invalid);
			cJSON_AddStringToObject(cr, "auth-files-ignored-why", why);
		}
		cJSON_AddNumberToObject(cr, "cooling-down", (double)pool_n_cooling(s, now));
		cJSON_AddNumberToObject(cr, "models", (double)s->n_models);
		add_cred_list(cr, s, now);
		add_skipped(cr, s);
	}
	if ((rq = cJSON_AddObjectToObject(o, "requests")) != NULL) {
		cJSON_AddNumberToObject(rq, "total", (double)status_ctr.requests);
		cJSON_AddNumberToObject(rq, "ok", (double)status_ctr.proxied_ok);
		cJSON_AddNumberToObject(rq, "errors", (double)status_ctr.errors);
		cJSON_AddNumberToObject(rq, "unauthorized", (double)status_ctr.unauthorized);
		cJSON_AddNumberToObject(rq, "refused-connections",
		    (double)status_ctr.refused_connections);
		cJSON_AddNumberToObject(rq, "retries", (double)status_ctr.retries);
		cJSON_AddNumberToObject(rq, "cooldowns", (double)status_ctr.cooldowns);
		cJSON_AddNumberToObject(rq, "in-flight", (double)status_ctr.in_flight);
		cJSON_AddNumberToObject(rq, "translated", (double)status_ctr.translated);
	}
	cJSON_AddNumberToObject(o, "reloads", (double)status_ctr.reloads);
	cJSON_AddNumberToObject(o, "reload-errors", (double)status_ctr.reload_errors);
	if ((txt = cJSON_Print(o)) == NULL)
		goto out;
	/* After reloads, at start and stop (rare) the file is made durable;
	 * the once-a-second counter updates are not. */
	if ((durable ? fio_write_atomic(st_path, txt, strlen(txt), 0644, err, sizeof(err)) :
	    status_write_fast(txt, strlen(txt), err, sizeof(err))) != CP_OK)
		log_warnx("cannot write status file '%s': %s", st_path, err);
out:
	free(txt);
	cJSON_Delete(o);
}

void
status_touch_later(void)
{
	status_touch(false);
}

static void
status_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	pool_gc(time(NULL));
	if (st_dirty)
		status_write(false);
}

void
status_touch(bool now)
{
	struct timespec t;
	long long ms;

	st_dirty = true;
	if (now) {
		status_write(true);
		return;
	}
	if (st_timer == NULL || evtimer_pending(st_timer, NULL))
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	ms = (t.tv_sec - st_last_write.tv_sec) * 1000LL +
	    (t.tv_nsec - st_last_write.tv_nsec) / 1000000LL;
	{
		/* At most once a second (DESIGN 6). */
		long long wait = ms >= PXD_STATUS_MIN_MS ? 0 : PXD_STATUS_MIN_MS - ms;
		struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000) };

		evtimer_add(st_timer, &tv);
	}
}

int
status_init(struct event_base *base, const char *state_dir)
{
	size_t l = strlen(state_dir) + sizeof(STATUS_NAME) + 2;

	st_started = time(NULL);
	if ((st_path = malloc(l)) == NULL)
		return CP_ENOMEM;
	snprintf(st_path, l, "%s/%s", state_dir, STATUS_NAME);
	l = (size_t)snprintf(NULL, 0, STATUS_TMP_FMT, state_dir, (long)getpid()) + 1;
	if ((st_tmp = malloc(l)) == NULL)
		return CP_ENOMEM;
	snprintf(st_tmp, l, STATUS_TMP_FMT, state_dir, (long)getpid());
	if ((st_timer = evtimer_new(base, status_timer_cb, NULL)) == NULL)
		return CP_ENOMEM;
	return CP_OK;
}

void
status_shutdown(void)
{
	if (st_timer != NULL) {
		event_free(st_timer);
		st_timer = NULL;
	}
	free(st_path);
	st_path = NULL;
	free(st_tmp);
	st_tmp = NULL;
	free(st_last_error);
	st_last_error = NULL;
}
