/*
 * refresh.c - OAuth token refresh for accounts (issue 12, PROVIDERS.md 4,
 * 5 and 7): on a 401 (relay.c calls ops->refresh) and ahead of expiry by
 * kind (a timer over the current snapshot's accounts).
 *
 * The token call (httpc.c, blocking) and the write-back (oauth_merge_tokens
 * under the auth-dir lock, which may wait 5 s) run on REFRESH_WORKERS
 * threads; the loop never blocks on either. A job carries copies of all it
 * needs (no pointer into a snapshot or the pool), a worker fills in its
 * results and puts it on the done list, and a byte on a pipe wakes the
 * loop, which applies it to the pool and answers the requests waiting on
 * it. Workers never touch libevent, the pool or a snapshot.
 *
 * One refresh in flight per account (a flight): requests that hit a 401
 * meanwhile wait on it (at most REFRESH_WAITERS_MAX, at most
 * REFRESH_WAIT_MAX_S). A failed refresh backs off (1 min doubling to
 * 30 min) and says why in the pool (the status file shows it); the
 * account's file is only ever changed by a successful refresh, merged into
 * the file as it is at that moment (PROVIDERS 4): an upload, a disable, an
 * admin's edit or a delete made meanwhile is never undone.
 *
 * Reloads: the daemon's own write-back changes the auth-dir, but a file
 * that differs from the snapshot's only in token fields whose values the
 * pool holds needs no rebuild (refresh_same_auth); a file whose refresh
 * token the pool does not know was logged in again or uploaded, and its
 * tokens replace the pool's (refresh_installed).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proxyd.h"

#define RF_BODY_MAX 16384          /* a refresh request body */

struct rf_job {                    /* one refresh, to a worker and back */
	struct rf_job *next;           /* queue / done / retry list */
	char id[65];                   /* credential id (pool key) */
	char label[96];                /* for logs */
	const struct oauth_provider *p; /* kind (static table) */
	char *url;                     /* token endpoint */
	char *proxy;                   /* proxy-url, "" for none */
	char *dir;                     /* auth-dir */
	char *name;                    /* the account's file */
	char *used;                    /* refresh token sent (secret) */
	char *file_rt;                 /* another refresh token of ours the file may
	                                * still hold (a write-back not done yet),
	                                * NULL: none (secret) */
	bool writeback_only;           /* a write-back retried: t is given */
	struct rf_job *wnext;          /* rf_writing list */
	/* results, filled by the worker */
	int rc;                        /* CP_OK: t holds the new tokens */
	struct oauth_tokens t;         /* the answer (secrets) */
	time_t got_at;                 /* when it came */
	time_t expiry;                 /* of the new access token */
	int wrc;                       /* the write-back: CP_OK or why not */
	enum oauth_merge_result mres;  /* its outcome when CP_OK */
	char *their_access;            /* SUPERSEDED: the file's tokens (secrets) */
	char *their_refresh;
	time_t their_expiry;
	char err[160];                 /* why rc / wrc failed, never a token */
};

struct rf_waiter {                 /* a request waiting on a flight */
	prov_refresh_done done;
	void *arg;
};

struct rf_flight {                 /* one account's refresh in flight (loop) */
	struct rf_flight *next;
	char id[65];                   /* credential id */
	struct rf_waiter *w;           /* waiting requests */
	size_t n, cap;
	time_t started;                /* for the waiters' bound */
};

struct rf_soon {                   /* an answer given on the next loop turn */
	struct rf_soon *next;
	char id[65];
	prov_refresh_done done;
	void *arg;
	int rc;
};

/* shared with the workers, under rf_mu */
static pthread_mutex_t rf_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rf_cv = PTHREAD_COND_INITIALIZER;
static struct rf_job *rf_q_head, *rf_q_tail; /* jobs for the workers */
static struct rf_job *rf_done;     /* jobs back from them */
static struct rf_job *rf_writing;  /* jobs writing back now (wnext): their
                                    * file may change before the loop hears */
static size_t rf_busy;             /* jobs a worker holds now */
static atomic_bool rf_stopping;    /* workers take no new job */
static atomic_bool rf_abort;       /* token calls end now (shutdown) */
static int rf_pipe[2] = { -1, -1 }; /* worker -> loop wake-up */

/* the loop's own */
static struct event_base *rf_base;
static struct event *rf_pipe_ev;   /* the pipe's read end */
static struct event *rf_tick_ev;   /* proactive refresh, waiters' bound */
static struct event *rf_soon_ev;   /* deferred answers */
static pthread_t rf_threads[REFRESH_WORKERS];
static size_t rf_n_threads;
static struct rf_flight *rf_flights; /* refreshes in flight */
static struct rf_soon *rf_soon_head; /* answers due on the next turn */
static struct rf_job *rf_retry;    /* write-backs that failed, retried on ticks */
static void (*rf_notify)(void);    /* status: something changed */

/* ------------------------------------------------------------ helpers */

static void
rf_free_secret(char **s)
{
	(void)pool_secret_set(s, NULL);
}

static void
rf_job_free(struct rf_job *j)
{
	if (j == NULL)
		return;
	free(j->url);
	free(j->proxy);
	free(j->dir);
	free(j->name);
	rf_free_secret(&j->used);
	rf_free_secret(&j->file_rt);
	rf_free_secret(&j->their_access);
	rf_free_secret(&j->their_refresh);
	oauth_tokens_release(&j->t);
	free(j);
}

static void
rf_changed(void)
{
	if (rf_notify != NULL)
		rf_notify();
}

/* The member of an account file's token fields: gemini keeps them in its
 * "token" object, the others at the top (PROVIDERS 2). */
static const cJSON *
rf_token_obj(const cJSON *doc, const char *type)
{
	const cJSON *tok;

	if (oauth_provider_by_type(type) == oauth_provider(OAUTH_GEMINI))
		return json_get_object(doc, "token", &tok) == CP_OK ? tok : NULL;
	return doc;
}

static const char *
rf_json_token(const cJSON *doc, const char *type, const char *member)
{
	const cJSON *o = rf_token_obj(doc, type);
	const char *s;

	if (o == NULL || json_get_string(o, member, &s) != CP_OK || s[0] == '\0')
		return NULL;
	return s;
}

const char *
refresh_file_token(const struct authfile *a, const char *member)
{
	if (a->json == NULL || a->type == NULL)
		return NULL;       /* not a JSON object: skipped, no account */
	return rf_json_token(a->json, a->type, member);
}

/* ------------------------------------------------------------ workers */

/* The token call of j: j->rc, j->t, j->expiry, j->err. */
static void
rf_call(struct rf_job *j)
{
	struct httpc_resp r;
	const char *ctype;
	char e[160] = "";
	struct buf b;
	int rc;

	httpc_resp_init(&r);
	buf_init(&b, RF_BODY_MAX);
	if ((rc = oauth_refresh_body(j->p, j->used, &b, &ctype)) != CP_OK) {
		snprintf(j->err, sizeof(j->err), "cannot build the refresh request");
		goto out;
	}
	rc = httpc_request_stop(j->url, ctype, b.p, b.len, NULL, j->proxy, REFRESH_HTTP_MS,
	    &rf_abort, &r, e, sizeof(e));
	if (rc != CP_OK) {
		snprintf(j->err, sizeof(j->err), "token endpoint: %s", e);
		goto out;
	}
	rc = oauth_parse_tokens(j->p, r.body.p != NULL ? r.body.p : "", r.body.len, &j->t, e,
	    sizeof(e));
	if (rc == CP_EPARSE) {
		snprintf(j->err, sizeof(j->err), "token endpoint answered HTTP %ld without a JSON "
		    "object", r.status);
	} else if (rc != CP_OK) {
		snprintf(j->err, sizeof(j->err), "%s (HTTP %ld)", e, r.status);
	} else if (r.status != 200) {
		snprintf(j->err, sizeof(j->err), "token endpoint answered HTTP %ld", r.status);
		rc = CP_EIO;
	}
	if (rc != CP_OK) {
		oauth_tokens_release(&j->t);
		goto out;
	}
	j->got_at = time(NULL);
	/* no figure: an hour, as oauth_apply_tokens writes it */
	j->expiry = j->got_at + (j->t.expires_in >= 0 ? (time_t)j->t.expires_in : 3600);
out:
	j->rc = rc;
	if (b.p != NULL)
		cp_wipe(b.p, b.len);
	buf_release(&b);
	httpc_resp_release(&r);
}

/* SUPERSEDED: the file's own tokens, for the pool. */
static void
rf_read_theirs(struct rf_job *j)
{
	char *data = NULL;
	size_t len = 0;
	cJSON *doc = NULL;
	const char *type = "gemini", *s;

	if (authstore_read(j->dir, j->name, &data, &len) != CP_OK)
		return;
	if (json_parse_strict(data, len, &doc) == CP_OK && cJSON_IsObject(doc)) {
		(void)json_get_string(doc, "type", &type);
		if ((s = rf_json_token(doc, type, "access_token")) != NULL)
			(void)pool_secret_set(&j->their_access, s);
		if ((s = rf_json_token(doc, type, "refresh_token")) != NULL)
			(void)pool_secret_set(&j->their_refresh, s);
		if (oauth_file_expiry(doc, &j->their_expiry) != CP_OK)
			j->their_expiry = 0;
	}
	cJSON_Delete(doc);
	cp_wipe(data, len);
	free(data);
}

/* The write-back of j's tokens (PROVIDERS 4): j->wrc, j->mres. */
static void
rf_write(struct rf_job *j)
{
	char e[160] = "";
	time_t now = time(NULL);
	long long left = (long long)(j->expiry - now);

	/* oauth_apply_tokens writes now + expires_in: what is left of it */
	j->t.expires_in = left > 0 ? left : 0;
	j->wrc = oauth_merge_tokens(j->dir, j->name, j->p, j->used, &j->t, now, &j->mres, e,
	    sizeof(e));
	/* The file may still hold the refresh token before used (the write-
	 * back of the refresh that gave us used has not gone through): it
	 * is ours too. */
	if (j->wrc == CP_OK && j->mres == OAUTH_MERGE_SUPERSEDED && j->file_rt != NULL &&
	    strcmp(j->file_rt, j->used) != 0)
		j->wrc = oauth_merge_tokens(j->dir, j->name, j->p, j->file_rt, &j->t, now,
		    &j->mres, e, sizeof(e));
	if (j->wrc != CP_OK) {
		snprintf(j->err, sizeof(j->err), "write-back: %s", e[0] != '\0' ? e :
		    cp_strerror(j->wrc));
		return;
	}
	if (j->mres == OAUTH_MERGE_SUPERSEDED)
		rf_read_theirs(j);
}

static void *
rf_worker(void *arg)
{
	(void)arg;
	(void)pthread_setname_np(pthread_self(), "cp-refresh");  /* top -H, ps -L */
	for (;;) {
		struct rf_job *j;
		char one = 1;

		pthread_mutex_lock(&rf_mu);
		while (rf_q_head == NULL && !atomic_load(&rf_stopping))
			pthread_cond_wait(&rf_cv, &rf_mu);
		if (atomic_load(&rf_stopping)) {
			pthread_mutex_unlock(&rf_mu);
			break;
		}
		j = rf_q_head;
		rf_q_head = j->next;
		if (rf_q_head == NULL)
			rf_q_tail = NULL;
		rf_busy++;
		pthread_mutex_unlock(&rf_mu);

		if (!j->writeback_only)
			rf_call(j);
		/* A refresh that succeeded is written back even at shutdown:
		 * the token endpoint may have rotated the refresh token, and
		 * the file must not keep a dead one. The loop may see the
		 * file change before it hears of the job: rf_writing tells
		 * refresh_same_auth the write is ours. */
		if (j->rc == CP_OK) {
			pthread_mutex_lock(&rf_mu);
			j->wnext = rf_writing;
			rf_writing = j;
			pthread_mutex_unlock(&rf_mu);
			rf_write(j);
		}

		pthread_mutex_lock(&rf_mu);
		if (j->rc == CP_OK) {
			struct rf_job **pp;

			for (pp = &rf_writing; *pp != NULL && *pp != j; pp = &(*pp)->wnext)
				;
			if (*pp != NULL)
				*pp = j->wnext;
		}
		j->next = rf_done;
		rf_done = j;
		rf_busy--;
		pthread_cond_broadcast(&rf_cv);
		pthread_mutex_unlock(&rf_mu);
		/* a full pipe already holds a wake-up */
		while (write(rf_pipe[1], &one, 1) < 0 && errno == EINTR)
			;
	}
	return NULL;
}

static void
rf_enqueue(struct rf_job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&rf_mu);
	if (rf_q_tail != NULL)
		rf_q_tail->next = j;
	else
		rf_q_head = j;
	rf_q_tail = j;
	pthread_cond_signal(&rf_cv);
	pthread_mutex_unlock(&rf_mu);
}

/* ------------------------------------------------------- loop: flights */

static struct rf_flight *
rf_flight_find(const char *id)
{
	struct rf_flight *f;

	for (f = rf_flights; f != NULL; f = f->next)
		if (strcmp(f->id, id) == 0)
			return f;
	return NULL;
}

static int
rf_flight_wait(struct rf_flight *f, prov_refresh_done done, void *arg)
{
	if (done == NULL)
		return CP_OK;
	if (f->n >= REFRESH_WAITERS_MAX)
		return CP_ELIMIT;
	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 4;
		struct rf_waiter *t = realloc(f->w, ncap * sizeof(*t));

		if (t == NULL)
			return CP_ENOMEM;
		f->w = t;
		f->cap = ncap;
	}
	f->w[f->n].done = done;
	f->w[f->n].arg = arg;
	f->n++;
	return CP_OK;
}

/* Answer f's waiters with rc (they may start new refreshes: f is taken
 * off its waiters first). */
static void
rf_flight_answer(struct rf_flight *f, int rc)
{
	struct rf_waiter *w = f->w;
	size_t n = f->n, i;

	f->w = NULL;
	f->n = f->cap = 0;
	for (i = 0; i < n; i++)
		w[i].done(f->id, rc, w[i].arg);
	free(w);
}

static void
rf_flight_end(const char *id, int rc)
{
	struct rf_flight **pp, *f;

	for (pp = &rf_flights; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0)
			break;
	if ((f = *pp) == NULL)
		return;
	*pp = f->next;
	rf_flight_answer(f, rc);
	free(f);
}

/* An answer on the next loop turn (never from inside refresh_start). */
static int
rf_soon(const char *id, prov_refresh_done done, void *arg, int rc)
{
	struct rf_soon *s, **pp;

	if (done == NULL)
		return CP_OK;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CP_ENOMEM;
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->done = done;
	s->arg = arg;
	s->rc = rc;
	for (pp = &rf_soon_head; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = s;
	event_active(rf_soon_ev, EV_TIMEOUT, 1);
	return CP_OK;
}

static void
rf_soon_cb(evutil_socket_t fd, short what, void *arg)
{
	struct rf_soon *s = rf_soon_head, *n;

	(void)fd;
	(void)what;
	(void)arg;
	rf_soon_head = NULL;
	for (; s != NULL; s = n) {
		n = s->next;
		s->done(s->id, s->rc, s->arg);
		free(s);
	}
}

/* ------------------------------------------------------ loop: results */

static void
rf_fail(struct cred_state *st, const char *label, const char *why, time_t now)
{
	long back;
	unsigned k;

	st->refresh_failures++;
	/* PROVIDERS 4: 1 min, doubling, at most 30 min */
	back = REFRESH_BACKOFF_MIN_S;
	for (k = 1; k < st->refresh_failures && back < REFRESH_BACKOFF_MAX_S; k++)
		back *= 2;
	if (back > REFRESH_BACKOFF_MAX_S)
		back = REFRESH_BACKOFF_MAX_S;
	st->refresh_retry_at = now + back;
	st->refresh_failed_at = now;
	snprintf(st->refresh_err, sizeof(st->refresh_err), "%s", why);
	log_warnx("account '%s': refresh failed: %s; next try in %lds", label, why, back);
}

/* Drop a pending write-back of id (a newer one, or the file's own
 * tokens, replace it). */
static void
rf_retry_drop(const char *id)
{
	struct rf_job **pp = &rf_retry;

	while (*pp != NULL) {
		if (strcmp((*pp)->id, id) == 0) {
			struct rf_job *j = *pp;

			*pp = j->next;
			rf_job_free(j);
			continue;
		}
		pp = &(*pp)->next;
	}
}

/* A job is back: into the pool, the waiters answered. Takes j. */
static void
rf_apply(struct rf_job *j)
{
	bool wb = j->writeback_only;
	struct cred_state *st;
	time_t now = time(NULL);
	char id[65];
	int rc = j->rc;

	memcpy(id, j->id, sizeof(id));
	if ((st = pool_state(id, true)) == NULL) {
		log_warnx("account '%s': no room for its state", j->label);
		rc = CP_ENOMEM;
		goto out;
	}
	if (!wb)
		st->refreshing = false;
	if (rc != CP_OK) {
		rf_fail(st, j->label, j->err, now);
		goto out;
	}
	if (!wb) {
		/* the new tokens serve at once, written back or not */
		if (pool_secret_set(&st->token, j->t.access_token) != CP_OK ||
		    pool_secret_set(&st->refresh_tok, j->t.refresh_token != NULL ?
		    j->t.refresh_token : j->used) != CP_OK ||
		    pool_secret_set(&st->refresh_base, j->file_rt != NULL ? j->file_rt :
		    j->used) != CP_OK) {
			rc = CP_ENOMEM;
			rf_fail(st, j->label, "out of memory", now);
			goto out;
		}
		st->token_expiry = j->expiry;
		st->last_refresh = j->got_at;
		st->refresh_failures = 0;
		st->refresh_failed_at = 0;
		st->refresh_retry_at = 0;
		st->refresh_err[0] = '\0';
		rf_retry_drop(id);
	} else if (st->token == NULL || !ct_streq(st->token, j->t.access_token)) {
		goto out;    /* a retried write-back whose tokens were replaced */
	}
	if (j->wrc != CP_OK) {
		/* Serving goes on with the pool's token; the file keeps the
		 * old ones until a tick retries (the lock was busy, the disk
		 * full, the file broken by hand). Said once, not per retry. */
		if (!st->writeback_pending)
			log_warnx("account '%s': refreshed, but %s; retrying every %ds", j->label,
			    j->err, REFRESH_TICK_S);
		st->writeback_pending = true;
		snprintf(st->refresh_err, sizeof(st->refresh_err), "%s", j->err);
		j->writeback_only = true;
		j->next = rf_retry;
		rf_retry = j;
		j = NULL;
		goto out;
	}
	st->writeback_pending = false;
	st->refresh_err[0] = '\0';
	switch (j->mres) {
	case OAUTH_MERGE_WRITTEN:
		/* the file now holds refresh_tok */
		(void)pool_secret_set(&st->refresh_base, st->refresh_tok);
		log_info("account '%s': token refreshed and written back", j->label);
		break;
	case OAUTH_MERGE_GONE:
		log_info("account '%s': token refreshed; its file is gone, not written",
		    j->label);
		break;
	case OAUTH_MERGE_SUPERSEDED:
		/* PROVIDERS 4: someone logged in again: their tokens win */
		log_info("account '%s': its file holds new tokens (a new login): they replace "
		    "the refreshed ones", j->label);
		(void)pool_secret_set(&st->token, j->their_access);
		(void)pool_secret_set(&st->refresh_tok, j->their_refresh);
		(void)pool_secret_set(&st->refresh_base, j->their_refresh);
		st->token_expiry = j->their_expiry;
		break;
	}
out:
	if (!wb)
		rf_flight_end(id, rc);
	rf_job_free(j);
	rf_changed();
}

static void
rf_pipe_cb(evutil_socket_t fd, short what, void *arg)
{
	char drain[64];
	struct rf_job *list, *j, *rev = NULL;

	(void)what;
	(void)arg;
	while (read(fd, drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&rf_mu);
	list = rf_done;
	rf_done = NULL;
	pthread_mutex_unlock(&rf_mu);
	/* oldest first */
	while (list != NULL) {
		j = list;
		list = j->next;
		j->next = rev;
		rev = j;
	}
	while (rev != NULL) {
		j = rev;
		rev = j->next;
		rf_apply(j);
	}
}

/* ------------------------------------------------------- loop: starting */

/* The token endpoint of an account: the endpoints: entry; else a gemini
 * file's own token_uri when it is https (PROVIDERS 7); else the real
 * service. */
static const char *
rf_token_url(const struct cfg *cfg, const struct oauth_provider *p, const struct authfile *a)
{
	const char *u = oauth_url(cfg, p, OAUTH_EP_TOKEN), *fu;

	if (u != p->ep[OAUTH_EP_TOKEN].def || p->kind != OAUTH_GEMINI)
		return u;
	fu = refresh_file_token(a, "token_uri");
	return fu != NULL && strncmp(fu, "https://", 8) == 0 ? fu : u;
}

static struct rf_job *
rf_job_new(const struct cred *c, const struct oauth_provider *p, const char *used)
{
	const struct snapshot *s = snapshot_current();
	struct rf_job *j;

	if (s == NULL || (j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	memcpy(j->id, c->id, sizeof(j->id));
	snprintf(j->label, sizeof(j->label), "%s", c->acct->name);
	j->p = p;
	j->t.expires_in = -1;
	j->url = cp_strdup(rf_token_url(s->cfg, p, c->acct));
	j->proxy = cp_strdup(s->cfg->proxy_url);
	j->dir = cp_strdup(s->auth_dir);
	j->name = cp_strdup(c->acct->name);
	j->used = cp_strdup(used);
	if (j->url == NULL || j->proxy == NULL || j->dir == NULL || j->name == NULL ||
	    j->used == NULL) {
		rf_job_free(j);
		return NULL;
	}
	return j;
}

/* Start a refresh of c (no flight of it yet). done may be NULL (ahead of
 * expiry). */
static int
rf_begin(const struct cred *c, struct cred_state *st, prov_refresh_done done, void *arg)
{
	const struct oauth_provider *p = oauth_provider_by_type(c->acct->type);
	const char *used;
	struct rf_flight *f = NULL;
	struct rf_job *j = NULL;
	time_t now = time(NULL);

	if (p == NULL)
		return CP_EINVAL;
	used = st->refresh_tok != NULL ? st->refresh_tok : refresh_file_token(c->acct,
	    "refresh_token");
	if (used == NULL) {
		rf_fail(st, c->acct->name, "the auth file has no refresh_token", now);
		rf_changed();
		return CP_EPERM;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL || (j = rf_job_new(c, p, used)) == NULL ||
	    (st->writeback_pending && st->refresh_base != NULL &&
	    pool_secret_set(&j->file_rt, st->refresh_base) != CP_OK) ||
	    rf_flight_wait(f, done, arg) != CP_OK) {
		if (f != NULL)
			free(f->w);
		free(f);
		rf_job_free(j);
		return CP_ENOMEM;
	}
	memcpy(f->id, c->id, sizeof(f->id));
	f->started = now;
	f->next = rf_flights;
	rf_flights = f;
	st->refreshing = true;
	log_info("account '%s': refreshing its token", c->acct->name);
	rf_enqueue(j);
	rf_changed();
	return CP_OK;
}

int
refresh_start(const struct cred *c, prov_refresh_done done, void *arg)
{
	struct cred_state *st;
	struct rf_flight *f;
	time_t now = time(NULL);

	if (c == NULL || c->acct == NULL)
		return CP_EINVAL;
	if (rf_base == NULL || rf_n_threads == 0 || atomic_load(&rf_stopping))
		return CP_EPERM;
	if ((st = pool_state(c->id, true)) == NULL)
		return CP_ENOMEM;
	if ((f = rf_flight_find(c->id)) != NULL)
		return rf_flight_wait(f, done, arg);
	/* A 401 right after a refresh: the request went out with the old
	 * token; the retry takes the new one. */
	if (st->token != NULL && st->last_refresh != 0 && now - st->last_refresh < REFRESH_FRESH_S)
		return rf_soon(c->id, done, arg, CP_OK);
	if (st->refresh_retry_at > now)
		return CP_EBUSY;      /* backing off: the caller cools it down */
	return rf_begin(c, st, done, arg);
}

/* ------------------------------------------------------ loop: the tick */

/* How long before exp to refresh: the kind's lead (PROVIDERS 4), but
 * when the token we got lives shorter than that lead (a token endpoint
 * that hands out 1-hour tokens to a kind with a 4-hour lead), half its
 * life: never a refresh on every tick. */
static time_t
rf_lead(const struct oauth_provider *op, const struct cred_state *st, time_t exp)
{
	time_t lead = op->refresh_lead_s;

	if (st != NULL && st->token != NULL && st->last_refresh != 0 &&
	    exp - st->last_refresh <= lead)
		lead = (exp - st->last_refresh) / 2;
	return lead;
}

/* The expiry of account c's current token: the pool's (a refreshed
 * one), else its file's; 0 when unknown. */
static time_t
rf_expiry(const struct cred *c, const struct cred_state *st)
{
	time_t exp;

	if (st != NULL && st->token != NULL)
		return st->token_expiry;
	return oauth_file_expiry(c->acct->json, &exp) == CP_OK ? exp : 0;
}

static void
rf_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	const struct snapshot *s = snapshot_current();
	time_t now = time(NULL);
	struct rf_flight *f;
	struct rf_job *retry;
	size_t i, k;

	(void)fd;
	(void)what;
	(void)arg;
	/* waiters of a flight that takes too long give up (it goes on) */
	for (f = rf_flights; f != NULL; f = f->next)
		if (f->n > 0 && now - f->started >= REFRESH_WAIT_MAX_S)
			rf_flight_answer(f, CP_EBUSY);
	/* write-backs to retry */
	retry = rf_retry;
	rf_retry = NULL;
	while (retry != NULL) {
		struct rf_job *j = retry;

		retry = j->next;
		rf_enqueue(j);
	}
	if (s == NULL || atomic_load(&rf_stopping))
		return;
	/* ahead of expiry, by kind (PROVIDERS 4) */
	for (i = 0; i < s->n_provs; i++) {
		const struct prov *p = s->provs[i];

		for (k = 0; k < p->n_creds; k++) {
			const struct cred *c = &p->creds[k];
			const struct oauth_provider *op;
			struct cred_state *st;
			time_t exp;

			if (c->acct == NULL || (op = oauth_provider_by_type(c->acct->type)) == NULL)
				continue;
			st = pool_state(c->id, false);
			exp = rf_expiry(c, st);
			if (exp == 0 || now < exp - rf_lead(op, st, exp))
				continue;
			if (st != NULL && (st->refreshing || st->refresh_retry_at > now))
				continue;
			if (st == NULL && (st = pool_state(c->id, true)) == NULL)
				continue;
			(void)rf_begin(c, st, NULL, NULL);
		}
	}
}

bool
refresh_token_expired(const struct cred *c, time_t now)
{
	time_t exp;

	if (c->acct == NULL || c->acct->json == NULL)
		return false;
	exp = rf_expiry(c, pool_state(c->id, false));
	return exp != 0 && exp <= now + REFRESH_EXPIRED_MARGIN_S;
}

/* ------------------------------------------------------- reload hooks */

/* The token fields a write-back changes (oauth.c's oauth_apply_tokens),
 * stripped before comparing a file with the snapshot's copy. account_id
 * and resource_url are not: a change there needs a rebuild. */
static const char *const rf_tok_fields[] = {
	"access_token", "refresh_token", "id_token", "token_type", "expiry", "expired",
	"last_refresh", NULL,
};

static cJSON *
rf_stripped(const cJSON *doc, const char *type)
{
	cJSON *d = cJSON_Duplicate(doc, true), *o;
	size_t i;

	if (d == NULL)
		return NULL;
	o = (cJSON *)rf_token_obj(d, type);
	for (i = 0; o != NULL && rf_tok_fields[i] != NULL; i++)
		cJSON_DeleteItemFromObjectCaseSensitive(o, rf_tok_fields[i]);
	return d;
}

/* Are at/rt the tokens a job of id is writing back or has written and
 * the loop has not applied yet? */
static bool
rf_job_wrote(const struct rf_job *list, bool writing, const char *id, const char *at,
    const char *rt)
{
	const struct rf_job *j;

	for (j = list; j != NULL; j = writing ? j->wnext : j->next)
		if (strcmp(j->id, id) == 0 && j->rc == CP_OK && j->t.access_token != NULL &&
		    ct_streq(j->t.access_token, at) && ct_streq(j->t.refresh_token != NULL ?
		    j->t.refresh_token : j->used, rt))
			return true;
	return false;
}

/* Is nw (on disk) old (the snapshot's) plus a write-back of ours? */
static bool
rf_own_write(const struct snapshot *cur, const struct authfile *old, const struct authfile *nw)
{
	const struct cred_state *st = NULL;
	const char *at, *rt, *id = NULL;
	cJSON *a = NULL, *b = NULL;
	bool same = false, ours;
	size_t i, k;

	if (old->json == NULL || nw->json == NULL || old->type == NULL || nw->type == NULL ||
	    strcmp(old->type, nw->type) != 0)
		return false;
	for (i = 0; id == NULL && i < cur->n_provs; i++)
		for (k = 0; k < cur->provs[i]->n_creds; k++)
			if (cur->provs[i]->creds[k].acct == old) {
				id = cur->provs[i]->creds[k].id;
				break;
			}
	at = refresh_file_token(nw, "access_token");
	rt = refresh_file_token(nw, "refresh_token");
	if (id == NULL || at == NULL || rt == NULL)
		return false;
	st = pool_state(id, false);
	ours = st != NULL && st->token != NULL && st->refresh_tok != NULL &&
	    ct_streq(at, st->token) && ct_streq(rt, st->refresh_tok);
	if (!ours) {
		pthread_mutex_lock(&rf_mu);
		ours = rf_job_wrote(rf_writing, true, id, at, rt) ||
		    rf_job_wrote(rf_done, false, id, at, rt);
		pthread_mutex_unlock(&rf_mu);
	}
	if (!ours)
		return false;
	if ((a = rf_stripped(old->json, old->type)) != NULL &&
	    (b = rf_stripped(nw->json, nw->type)) != NULL)
		same = cJSON_Compare(a, b, true);
	cJSON_Delete(a);
	cJSON_Delete(b);
	return same;
}

bool
refresh_same_auth(const struct snapshot *cur, const struct authfile *auth, size_t n)
{
	size_t i;

	if (cur == NULL || n != cur->n_auth)
		return false;
	for (i = 0; i < n; i++) {
		if (strcmp(cur->auth[i].name, auth[i].name) != 0)
			return false;
		if (cJSON_Compare(cur->auth[i].json, auth[i].json, true))
			continue;
		if (!rf_own_write(cur, &cur->auth[i], &auth[i]))
			return false;
	}
	log_debug("reload: only our own token write-backs changed, no rebuild");
	return true;
}

/* The credential of snapshot s with id, NULL when none. */
static const struct cred *
rf_cred_by_id(const struct snapshot *s, const char *id)
{
	for (size_t i = 0; s != NULL && i < s->n_provs; i++)
		for (size_t k = 0; k < s->provs[i]->n_creds; k++)
			if (strcmp(s->provs[i]->creds[k].id, id) == 0)
				return &s->provs[i]->creds[k];
	return NULL;
}

/* Did the file behind account c's old credential hold other tokens? */
static bool
rf_file_tokens_changed(const struct cred *was, const struct cred *c)
{
	const char *a = refresh_file_token(was->acct, "refresh_token");
	const char *b = refresh_file_token(c->acct, "refresh_token");

	if ((was->secret == NULL) != (c->secret == NULL) ||
	    (c->secret != NULL && !ct_streq(was->secret, c->secret)))
		return true;
	return (a == NULL) != (b == NULL) || (a != NULL && !ct_streq(a, b));
}

/* An account logged in again (or uploaded) by someone else: what its old
 * tokens earned - cooldowns, failures, refresh backoff - is forgotten. */
static void
rf_forgive(struct cred_state *st, const char *id)
{
	pool_forgive(st);
	st->refresh_failures = 0;
	st->refresh_failed_at = 0;
	st->refresh_retry_at = 0;
	st->refresh_err[0] = '\0';
	rf_retry_drop(id);
}

void
refresh_installed(const struct snapshot *old, const struct snapshot *s)
{
	size_t i, k;

	for (i = 0; i < s->n_provs; i++)
		for (k = 0; k < s->provs[i]->n_creds; k++) {
			const struct cred *c = &s->provs[i]->creds[k], *was;
			struct cred_state *st;
			const char *rt;

			if (c->acct == NULL || (st = pool_state(c->id, false)) == NULL)
				continue;
			if (st->token == NULL) {
				/* Never refreshed here: every change of the
				 * file's tokens is someone else's. Looked up
				 * only for an account with something to
				 * forgive (a reload stays linear). */
				if ((st->n_cools > 0 || st->failures > 0 || st->refresh_failures > 0) &&
				    (was = rf_cred_by_id(old, c->id)) != NULL && was->acct != NULL &&
				    rf_file_tokens_changed(was, c)) {
					log_info("account '%s': its file holds other tokens (a new "
					    "login or upload): its cooldowns are forgotten",
					    c->acct->name);
					rf_forgive(st, c->id);
					rf_changed();
				}
				continue;
			}
			rt = refresh_file_token(c->acct, "refresh_token");
			if (rt != NULL && ((st->refresh_tok != NULL && ct_streq(rt, st->refresh_tok)) ||
			    (st->refresh_base != NULL && ct_streq(rt, st->refresh_base))))
				continue;
			/* PROVIDERS 4: a new login or an upload: the file's
			 * tokens serve from now on, also for requests still on
			 * an older snapshot (whose credential has the old one) */
			log_info("account '%s': its file holds other tokens (a new login or "
			    "upload): they replace the daemon's", c->acct->name);
			if (pool_secret_set(&st->token, c->secret) != CP_OK ||
			    pool_secret_set(&st->refresh_tok, rt) != CP_OK ||
			    pool_secret_set(&st->refresh_base, rt) != CP_OK) {
				rf_free_secret(&st->token);
				rf_free_secret(&st->refresh_tok);
				rf_free_secret(&st->refresh_base);
			}
			if (st->token == NULL || oauth_file_expiry(c->acct->json,
			    &st->token_expiry) != CP_OK)
				st->token_expiry = 0;
			st->writeback_pending = false;
			rf_forgive(st, c->id);
			rf_changed();
		}
}

/* ----------------------------------------------------------- lifecycle */

int
refresh_init(struct event_base *base, void (*notify)(void))
{
	struct timeval tv = { REFRESH_TICK_S, 0 };
	sigset_t all, old;
	size_t i;
	int rc = CP_ENOMEM;

	rf_notify = notify;
	atomic_store(&rf_stopping, false);
	atomic_store(&rf_abort, false);
	if (httpc_init() != CP_OK)
		return CP_EIO;
	if (pipe2(rf_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		return CP_EIO;
	if ((rf_pipe_ev = event_new(base, rf_pipe[0], EV_READ | EV_PERSIST, rf_pipe_cb,
	    NULL)) == NULL || event_add(rf_pipe_ev, NULL) != 0 ||
	    (rf_tick_ev = event_new(base, -1, EV_PERSIST, rf_tick_cb, NULL)) == NULL ||
	    event_add(rf_tick_ev, &tv) != 0 ||
	    (rf_soon_ev = event_new(base, -1, 0, rf_soon_cb, NULL)) == NULL)
		return CP_ENOMEM;
	/* Workers take no signal: the loop's evsignal handlers and the
	 * lock's own timer signal (unblocked by lock.c while it waits). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < REFRESH_WORKERS; i++) {
		if (pthread_create(&rf_threads[i], NULL, rf_worker, NULL) != 0)
			break;
		rf_n_threads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rf_n_threads > 0)
		rc = CP_OK;
	rf_base = base;
	return rc;
}

void
refresh_shutdown(void)
{
	struct timespec dl;
	struct rf_job *j, *n;
	struct rf_flight *f;
	struct rf_soon *s;
	size_t i;

	atomic_store(&rf_stopping, true);
	pthread_mutex_lock(&rf_mu);
	pthread_cond_broadcast(&rf_cv);
	/* token calls in flight get a short grace (a refresh that already
	 * spent its refresh token should reach its file), then are cut */
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += REFRESH_STOP_GRACE_MS / 1000;
	dl.tv_nsec += (long)(REFRESH_STOP_GRACE_MS % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	while (rf_busy > 0)
		if (pthread_cond_timedwait(&rf_cv, &rf_mu, &dl) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&rf_mu);
	atomic_store(&rf_abort, true);
	for (i = 0; i < rf_n_threads; i++)
		pthread_join(rf_threads[i], NULL);
	rf_n_threads = 0;
	for (j = rf_q_head; j != NULL; j = n) {
		n = j->next;
		rf_job_free(j);
	}
	rf_q_head = rf_q_tail = NULL;
	for (j = rf_done; j != NULL; j = n) {
		n = j->next;
		rf_job_free(j);
	}
	rf_done = NULL;
	for (j = rf_retry; j != NULL; j = n) {
		n = j->next;
		rf_job_free(j);
	}
	rf_retry = NULL;
	while ((f = rf_flights) != NULL) {
		rf_flights = f->next;
		free(f->w);
		free(f);
	}
	while ((s = rf_soon_head) != NULL) {
		rf_soon_head = s->next;
		free(s);
	}
	if (rf_pipe_ev != NULL)
		event_free(rf_pipe_ev);
	if (rf_tick_ev != NULL)
		event_free(rf_tick_ev);
	if (rf_soon_ev != NULL)
		event_free(rf_soon_ev);
	rf_pipe_ev = rf_tick_ev = rf_soon_ev = NULL;
	for (i = 0; i < 2; i++)
		if (rf_pipe[i] >= 0)
			close(rf_pipe[i]);
	rf_pipe[0] = rf_pipe[1] = -1;
	rf_base = NULL;
}
