/*
 * relay.c - one proxied exchange: pick a credential, send, retry, stream
 * back (DESIGN 6). Nothing here is provider-specific: the provider builds
 * the URL, attaches the credential and classifies the answer; the format
 * finds and rewrites the model.
 *
 * Rules (DESIGN 3 request-retry / quota-exceeded, DESIGN 6 Credentials):
 * - 2xx: the reply starts, the body or SSE stream goes through byte-exact;
 *   from the first byte sent on, nothing can be retried;
 * - 403/408/500/502/503/504/transport error: next credential, spending
 *   one of request-retry; none left: the client gets the error;
 * - 429: the credential cools down (Retry-After, else 30 minutes) and, with
 *   quota-exceeded.switch-project, the next one is tried for free;
 * - no credential: 503; every credential cooling down: 429;
 * - every path answers something: never an empty 200.
 * - A slow client pauses the transfer (CURL_WRITEFUNC_PAUSE) instead of
 *   buffering without bound; a client that leaves cancels it at once.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "proxyd.h"

struct exchange {
	struct exchange *prev, *next;    /* active list */
	struct evhttp_request *req;      /* client request; NULL once freed */
	struct evhttp_connection *evcon; /* its connection (closecb owner) */
	struct snapshot *snap;           /* reference held for our whole life */
	const struct codec *fmt;           /* client format */
	cJSON *body;                     /* decoded client request */
	char *model;                     /* alias the client asked for */
	bool stream;                     /* client asked for a stream */
	struct candidate *cands;         /* rotation order */
	bool *excluded;                  /* per candidate: 429'd in this exchange */
	size_t n_cands;
	size_t next_cand;                /* where the next attempt looks first */
	long retries_left;               /* request-retry budget */
	unsigned attempts;               /* upstream attempts so far */
	/* the current attempt */
	struct up_xfer x;                /* curl transfer */
	struct curl_slist *hdrs;         /* its request headers (the credential's) */
	char *up_body;                   /* JSON sent upstream */
	struct buf url;                  /* upstream URL */
	const struct candidate *cur;     /* credential in use */
	bool decided;                    /* status of this attempt known */
	long status;                     /* upstream HTTP status */
	long retry_after;                /* Retry-After seconds, -1 if none */
	char ctype[128];                 /* upstream Content-Type */
	struct buf uphdrs;               /* upstream headers passed on: name\0value\0... */
	struct buf errbody;              /* non-2xx body kept for the client */
	/* the client side */
	bool committed;                  /* reply started: no retry possible */
	bool paused;                     /* upstream paused for backpressure */
	bool resume_wanted;              /* drained while paused */
	bool client_gone;                /* connection closed under us */
	bool finished;                   /* answered; waiting to be freed */
	unsigned long long sent;         /* body bytes relayed */
	struct event kick;               /* deferred work from callbacks */
	bool kick_set;                   /* kick assigned */
	struct event peer;               /* EOF watch on the client socket */
	bool peer_on;                    /* peer assigned and added */
	struct buf log;                  /* request-log text, when enabled */
	long final_status;               /* what the client got */
	char client_addr[64];            /* for logs */
};

static struct event_base *relay_base;
static struct exchange *ex_head;     /* active exchanges */
static size_t ex_count;
static size_t ex_peak;               /* most at once since the last trim */
static struct event ex_trim_ev;      /* the pending malloc_trim */

static void ex_next_attempt(struct exchange *ex);
static void ex_finish(struct exchange *ex);

size_t
relay_n_active(void)
{
	return ex_count;
}

static void
ex_trim_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	ex_peak = ex_count;
}

void
relay_init(struct event_base *base)
{
	relay_base = base;
	evtimer_assign(&ex_trim_ev, base, ex_trim_cb, NULL);
}

/* ------------------------------------------------------------ replies */

static const char *
reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
	}
}

static void
ex_log_response(struct exchange *ex, const char *what, const char *data, size_t len)
{
	if (ex->log.max == 0)
		return;
	buf_printf(&ex->log, "\n=== %s (status %ld) ===\n", what, ex->final_status);
	if (data != NULL && len > 0)
		buf_append(&ex->log, data, len > PXD_REQLOG_BODY_MAX ? PXD_REQLOG_BODY_MAX : len);
}

/* Stop the end-of-file watch on the client socket, if it runs. */
static void
ex_peer_stop(struct exchange *ex)
{
	if (ex->peer_on)
		event_del(&ex->peer);
	ex->peer_on = false;
}

/* Before the final reply: libevent may free the connection as soon as
 * it is sent, and its close callback must not reach us then. */
static void
ex_unhook(struct exchange *ex)
{
	if (ex->evcon != NULL && !ex->client_gone)
		gate_conn_watch(ex->evcon, NULL, NULL);
	ex->evcon = NULL;
	ex_peer_stop(ex);
}

/* Answer with an error in the client's format. */
static void
ex_error(struct exchange *ex, int status, const char *msg, const char *type, const char *code)
{
	ex->final_status = status;
	status_ctr.errors++;
	ex_unhook(ex);
	if (ex->log.max != 0) {
		buf_printf(&ex->log, "\n=== error %d ===\n%s\n", status, msg);
	}
	if (ex->req != NULL && !ex->client_gone)
		server_send_error(ex->req, ex->fmt, status, msg, type, code);
	else if (ex->req != NULL)
		evhttp_send_reply_end(ex->req); /* detached: this frees it */
	ex->req = NULL;
	ex_finish(ex);
}

/* ------------------------------------------------- upstream headers */

/*
 * Upstream response headers the client gets too: the provider's request
 * id (what its support asks for), Retry-After, and the rate-limit state
 * SDKs pace themselves by. Everything else (cookies, connection and
 * framing headers, server names) stays with us.
 */
static const struct {
	const char *name;   /* lower case */
	bool prefix;        /* a family: "x-ratelimit-limit-requests", ... */
} pass_hdrs[] = {
	{ "retry-after", false },
	{ "x-request-id", false },
	{ "request-id", false },
	{ "openai-processing-ms", false },
	{ "x-ratelimit-", true },
	{ "anthropic-ratelimit-", true },
};

static bool
header_passed(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(pass_hdrs) / sizeof(pass_hdrs[0]); i++) {
		size_t pl = strlen(pass_hdrs[i].name);

		if ((pass_hdrs[i].prefix ? len > pl : len == pl) &&
		    strncasecmp(name, pass_hdrs[i].name, pl) == 0)
			return true;
	}
	return false;
}

/* One raw header line from curl ("Name: value\r\n"): keep it when it is
 * passed on and well formed. A header that does not fit the cap is
 * dropped, never cut. */
static void
ex_keep_header(struct exchange *ex, const char *data, size_t len)
{
	const char *colon = memchr(data, ':', len), *v;
	size_t nl, vl, mark = ex->uphdrs.len;

	if (colon == NULL)
		return;
	nl = (size_t)(colon - data);
	if (nl == 0 || !header_passed(data, nl))
		return;
	for (size_t i = 0; i < nl; i++)
		if (!isalnum((unsigned char)data[i]) && data[i] != '-')
			return;
	v = colon + 1;
	vl = len - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' ||
	    v[vl - 1] == '\t'))
		vl--;
	for (size_t i = 0; i < vl; i++)
		if ((unsigned char)v[i] < 0x20 && v[i] != '\t')
			return;
	if (buf_append(&ex->uphdrs, data, nl) != CP_OK ||
	    buf_append(&ex->uphdrs, "", 1) != CP_OK ||
	    buf_append(&ex->uphdrs, v, vl) != CP_OK ||
	    buf_append(&ex->uphdrs, "", 1) != CP_OK)
		ex->uphdrs.len = mark;
}

/* Add the kept upstream headers to the client's reply, then let their
 * memory go (a stream lives long). */
static void
ex_put_headers(struct exchange *ex, struct evkeyvalq *oh)
{
	const char *p = ex->uphdrs.p, *end = p + ex->uphdrs.len;

	while (p != NULL && p < end) {
		const char *name = p, *value = name + strlen(name) + 1;

		if (value >= end)
			break;
		evhttp_add_header(oh, name, value);
		p = value + strlen(value) + 1;
	}
	buf_release(&ex->uphdrs);
}

/* Hand the upstream's own error answer to the client byte-exact. */
static void
ex_pass_upstream(struct exchange *ex)
{
	struct evbuffer *eb;

	if (ex->errbody.len == 0) {
		char msg[96];

		snprintf(msg, sizeof(msg), "upstream answered status %ld", ex->status);
		ex_error(ex, ex->status >= 400 && ex->status < 600 ? (int)ex->status : 502,
		    msg, "upstream_error", NULL);
		return;
	}
	ex->final_status = ex->status;
	status_ctr.errors++;
	ex_unhook(ex);
	ex_log_response(ex, "upstream error passed on", ex->errbody.p, ex->errbody.len);
	if (ex->req != NULL && !ex->client_gone && (eb = evbuffer_new()) != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(ex->req), "Content-Type",
		    ex->ctype[0] != '\0' ? ex->ctype : "application/json");
		ex_put_headers(ex, evhttp_request_get_output_headers(ex->req));
		evbuffer_add(eb, ex->errbody.p, ex->errbody.len);
		evhttp_send_reply(ex->req, (int)ex->status, reason_of((int)ex->status), eb);
		evbuffer_free(eb);
	} else if (ex->req != NULL) {
		evhttp_send_reply_end(ex->req);
	}
	ex->req = NULL;
	ex_finish(ex);
}

/* ------------------------------------------------------------ cleanup */

static void
ex_attempt_release(struct exchange *ex)
{
	if (ex->x.easy != NULL) {
		up_cancel(&ex->x);
		up_easy_put(ex->x.easy, ex->stream);
		ex->x.easy = NULL;
	}
	ex->hdrs = NULL;
	free(ex->up_body);
	ex->up_body = NULL;
	buf_reset(&ex->errbody);
	ex->decided = false;
	ex->status = 0;
	ex->retry_after = -1;
	ex->ctype[0] = '\0';
	buf_reset(&ex->uphdrs);
	ex->paused = false;
	ex->resume_wanted = false;
}

static void
ex_free(struct exchange *ex)
{
	ex_attempt_release(ex);
	ex_peer_stop(ex);
	if (ex->kick_set)
		event_del(&ex->kick);
	buf_release(&ex->url);
	buf_release(&ex->errbody);
	buf_release(&ex->uphdrs);
	buf_release(&ex->log);
	cJSON_Delete(ex->body);
	free(ex->model);
	free(ex->cands);
	free(ex->excluded);
	snapshot_unref(ex->snap);
	free(ex);
}

/* The client has its answer (or is gone): log, count, free. */
static void
ex_finish(struct exchange *ex)
{
	if (ex->finished)
		return;
	ex->finished = true;
	ex_unhook(ex);
	if (ex->final_status >= 200 && ex->final_status < 300)
		status_ctr.proxied_ok++;
	if (ex->log.max != 0 && ex->log.len > 0)
		reqlog_write(ex->snap, ex->log.p, ex->log.len);
	log_debug("exchange for '%s' from '%s' ended: status %ld, %u attempts, %llu bytes%s",
	    ex->model != NULL ? ex->model : "", ex->client_addr, ex->final_status,
	    ex->attempts, ex->sent, ex->client_gone ? ", client gone" : "");
	if (ex->prev != NULL)
		ex->prev->next = ex->next;
	else
		ex_head = ex->next;
	if (ex->next != NULL)
		ex->next->prev = ex->prev;
	ex_count--;
	ex_free(ex);
#ifdef __GLIBC__
	/* Thousands of streams leave their memory free but mapped when they
	 * end (bench figure 6: RSS stayed at its peak). Give it back once
	 * most of them are gone: when the count falls to a quarter of a
	 * large peak, PXD_TRIM_DELAY_S later (the rest usually follow), one
	 * trim at a time. A busy daemon's count swings all the time and a
	 * trim costs an madvise per free page range (0.8 per request in
	 * figure 5 with an immediate trim and a peak of 256). */
	if (ex_peak >= PXD_TRIM_PEAK_MIN && ex_count <= ex_peak / 4 &&
	    !evtimer_pending(&ex_trim_ev, NULL)) {
		struct timeval tv = { PXD_TRIM_DELAY_S, 0 };

		evtimer_add(&ex_trim_ev, &tv);
	}
#endif
	status_touch(false);
	server_exchange_done();
}

/* The client went away: stop the upstream now (DESIGN 6 streaming). */
static void
ex_abort(struct exchange *ex)
{
	ex_attempt_release(ex);
	if (ex->req != NULL)
		evhttp_send_reply_end(ex->req); /* detached by libevent: frees it */
	ex->req = NULL;
	if (ex->final_status == 0)
		ex->final_status = 499; /* nginx's "client closed request", logs only */
	ex_log_response(ex, "client closed the connection", NULL, 0);
	ex_finish(ex);
}

/* Deferred work from libevent/curl callbacks runs here, from the loop,
 * where it is safe to remove handles and free requests. */
static void
ex_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exchange *ex = arg;

	(void)fd;
	(void)what;
	if (ex->client_gone) {
		ex_abort(ex);
		return;
	}
	if (ex->resume_wanted && ex->paused) {
		ex->resume_wanted = false;
		ex->paused = false;
		up_resume(&ex->x);
	}
}

/* The client hung up while libevent was not reading (it reads nothing
 * between the request and the end of our reply): drop the connection and
 * with it the request, then stop the upstream (DESIGN 6: a client that
 * goes away cancels its upstream transfer at once). */
static void
ex_client_lost(struct exchange *ex)
{
	struct evhttp_connection *evcon = ex->evcon;

	if (ex->client_gone)
		return; /* the close callback came first: the kick frees all */
	ex_unhook(ex);
	ex->client_gone = true;
	ex->req = NULL; /* freed with the connection */
	if (evcon != NULL)
		evhttp_connection_free(evcon);
	ex_abort(ex);
}

static void
ex_peer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct exchange *ex = arg;
	ssize_t n;
	char c;

	(void)what;
	n = recv(fd, &c, 1, MSG_PEEK);
	if (n > 0) {
		/* Pipelined bytes, not a hang-up: stop watching (the socket
		 * would stay readable) and let evhttp read them later. */
		ex_peer_stop(ex);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	log_debug("client of '%s' hung up (eof watch)", ex->model != NULL ? ex->model : "");
	ex_client_lost(ex);
}

static void
ex_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct exchange *ex = arg;

	(void)evcon;
	/* libevent detached the request (req->evcon = NULL) and will not free
	 * it; we do, from the loop. */
	log_debug("client of '%s' went away", ex->model != NULL ? ex->model : "");
	ex->client_gone = true;
	ex->evcon = NULL;
	/* The descriptor is closed now (and may be reused): stop the EOF
	 * watch before it fires on it. */
	ex_peer_stop(ex);
	event_active(&ex->kick, EV_TIMEOUT, 0);
}

/* Output drained (evhttp_send_reply_chunk_with_cb): resume a paused
 * transfer, again from the loop. */
static void
ex_drain_cb(struct evhttp_connection *evcon, void *arg)
{
	struct exchange *ex = arg;

	(void)evcon;
	if (ex->paused && !ex->resume_wanted) {
		ex->resume_wanted = true;
		event_active(&ex->kick, EV_TIMEOUT, 0);
	}
}

void
relay_cancel_all(void)
{
	while (ex_head != NULL) {
		struct exchange *ex = ex_head;

		ex_attempt_release(ex);
		if (ex->committed) {
			ex_unhook(ex);
			if (ex->req != NULL)
				evhttp_send_reply_end(ex->req);
			ex->req = NULL;
			ex_finish(ex);
		} else {
			ex_error(ex, 503, "server is shutting down", "server_error", NULL);
		}
	}
}

/* ------------------------------------------------------ curl callbacks */

static size_t
ex_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct exchange *ex = arg;
	size_t len = size * n;

	/* A new status line starts a new header block (proxy CONNECT,
	 * 100-continue): forget what the previous one said. */
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		ex->retry_after = -1;
		buf_reset(&ex->uphdrs);
		return len;
	}
	ex_keep_header(ex, data, len);
	if (len > 12 && strncasecmp(data, "retry-after:", 12) == 0) {
		const char *v = data + 12;
		size_t vl = len - 12;
		long long secs;

		while (vl > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		/* Delay-seconds only; an HTTP-date falls back to the default. */
		if (str_to_ll(v, vl, 0, PXD_RETRY_AFTER_MAX, &secs) == CP_OK)
			ex->retry_after = (long)secs;
	}
	return len;
}

/* First body byte of an attempt: the status is final now. */
static void
ex_decide(struct exchange *ex)
{
	char *ct = NULL;

	ex->decided = true;
	curl_easy_getinfo(ex->x.easy, CURLINFO_RESPONSE_CODE, &ex->status);
	if (curl_easy_getinfo(ex->x.easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
	    ct != NULL && strlen(ct) < sizeof(ex->ctype) && strpbrk(ct, "\r\n") == NULL)
		snprintf(ex->ctype, sizeof(ex->ctype), "%s", ct);
}

static void
ex_commit(struct exchange *ex)
{
	struct evkeyvalq *oh;

	ex->committed = true;
	ex->final_status = ex->status;
	/* No retry from here on: the decoded request only served to build
	 * attempts. A stream holds the rest for its whole life (bench
	 * figure 6), so it goes now. */
	cJSON_Delete(ex->body);
	ex->body = NULL;
	if (ex->log.max != 0)
		buf_printf(&ex->log, "\n=== response %ld from upstream '%s' ===\n", ex->status,
		    ex->cur->cred->label);
	if (ex->client_gone || ex->req == NULL)
		return;
	oh = evhttp_request_get_output_headers(ex->req);
	evhttp_add_header(oh, "Content-Type", ex->ctype[0] != '\0' ? ex->ctype :
	    ex->stream ? "text/event-stream" : "application/json");
	ex_put_headers(ex, oh);
	if (ex->stream) {
		evhttp_add_header(oh, "Cache-Control", "no-cache");
		/* nginx and friends must not buffer a stream. */
		evhttp_add_header(oh, "X-Accel-Buffering", "no");
	}
	evhttp_send_reply_start(ex->req, (int)ex->status, reason_of((int)ex->status));
}

static size_t
ex_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct exchange *ex = arg;
	size_t len = size * n;
	struct bufferevent *bev;
	struct evbuffer *eb;

	if (ex->client_gone)
		return 0; /* CURLE_WRITE_ERROR: the transfer stops here */
	if (!ex->decided) {
		ex_decide(ex);
		if (ex->cur->cred->prov->ops->classify(ex->status) == UPV_OK)
			ex_commit(ex);
	}
	if (!ex->committed) {
		/* An error body: keep it (capped) for the client or the log. */
		size_t room = PXD_ERRBODY_MAX - ex->errbody.len;

		buf_append(&ex->errbody, data, len < room ? len : room);
		return len;
	}
	if (ex->req == NULL || len == 0)
		return len;
	bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(ex->req));
	if (bev != NULL && evbuffer_get_length(bufferevent_get_output(bev)) > PXD_OUTBUF_HIGH) {
		/* The data is not consumed: curl hands it again on resume. */
		ex->paused = true;
		return CURL_WRITEFUNC_PAUSE;
	}
	if ((eb = evbuffer_new()) == NULL)
		return 0;
	evbuffer_add(eb, data, len);
	evhttp_send_reply_chunk_with_cb(ex->req, eb, ex_drain_cb, ex);
	evbuffer_free(eb);
	ex->sent += len;
	if (ex->log.max != 0 && ex->log.len < PXD_REQLOG_BODY_MAX * 2)
		buf_append(&ex->log, data, len);
	return len;
}

/* --------------------------------------------------------- the attempt */

static void
ex_done_cb(struct up_xfer *x, CURLcode rc)
{
	struct exchange *ex = x->arg;
	const struct cred *cr = ex->cur->cred;
	enum up_verdict v;
	char msg[192];

	if (ex->client_gone) {
		ex_abort(ex);
		return;
	}
	if (!ex->decided && rc == CURLE_OK)
		ex_decide(ex);
	if (ex->committed) {
		if (rc != CURLE_OK) {
			/* Mid-stream failure: bytes went out, so no retry; cut
			 * the connection rather than end the chunked body
			 * cleanly, so the client sees a truncated answer. */
			log_warnx("upstream '%s' failed mid-response: %s", cr->label,
			    curl_easy_strerror(rc));
			ex_log_response(ex, "upstream failed mid-response", NULL, 0);
			ex_attempt_release(ex);
			if (ex->req != NULL && ex->evcon != NULL) {
				struct evhttp_connection *evcon = ex->evcon;

				ex_unhook(ex);
				ex->client_gone = true;
				ex->req = NULL;
				evhttp_connection_free(evcon);
			}
			ex_finish(ex);
			return;
		}
		ex_unhook(ex);
		if (ex->req != NULL)
			evhttp_send_reply_end(ex->req);
		ex->req = NULL;
		ex_finish(ex);
		return;
	}
	if (rc != CURLE_OK) {
		log_warnx("upstream '%s' for '%s': %s", cr->label, ex->model,
		    curl_easy_strerror(rc));
		ex->status = 0;
		v = UPV_RETRY;
	} else if (ex->status >= 200 && ex->status < 300) {
		/* A 2xx with no body at all: an empty 200 must not reach the
		 * client (DESIGN 6), treat it as an upstream failure. */
		log_warnx("upstream '%s' answered %ld with an empty body", cr->label, ex->status);
		v = UPV_RETRY;
	} else {
		v = cr->prov->ops->classify(ex->status);
	}
	if (ex->log.max != 0)
		buf_printf(&ex->log, "\n=== attempt %u via '%s': status %ld%s%s ===\n",
		    ex->attempts, cr->label, ex->status, rc != CURLE_OK ? ", " : "",
		    rc != CURLE_OK ? curl_easy_strerror(rc) : "");
	switch (v) {
	case UPV_COOLDOWN: {
		long secs = ex->retry_after > 0 ? ex->retry_after : PXD_COOLDOWN_S;

		pool_cooldown(cr->id, time(NULL) + secs);
		status_ctr.cooldowns++;
		ex->excluded[ex->cur - ex->cands] = true;
		log_info("credential '%s' cooling down for %lds", cr->label, secs);
		if (ex->snap->cfg->switch_project) {
			ex_attempt_release(ex);
			ex_next_attempt(ex);
			return;
		}
		ex_pass_upstream(ex);
		return;
	}
	case UPV_RETRY:
		if (ex->retries_left > 0) {
			ex->retries_left--;
			status_ctr.retries++;
			ex_attempt_release(ex);
			ex_next_attempt(ex);
			return;
		}
		if (ex->status == 0) {
			snprintf(msg, sizeof(msg), "upstream request failed: %s",
			    curl_easy_strerror(rc));
			ex_error(ex, 502, msg, "upstream_error", "upstream_failure");
			return;
		}
		if (ex->status >= 200 && ex->status < 300) {
			ex_error(ex, 502, "upstream returned an empty response", "upstream_error",
			    "upstream_failure");
			return;
		}
		ex_pass_upstream(ex);
		return;
	case UPV_OK:
	case UPV_REFRESH:
	case UPV_PASS:
	default:
		ex_pass_upstream(ex);
		return;
	}
}

int
relay_cred_headers(const struct cred *c, bool stream, struct curl_slist **out)
{
	struct curl_slist *h;
	int rc = CP_ENOMEM;

	*out = NULL;
	if ((h = curl_slist_append(NULL, "Content-Type: application/json")) == NULL)
		goto out;
	/* "Expect:": no 100-continue round trip before the body. */
	if (curl_slist_append(h, stream ? "Accept: text/event-stream" :
	    "Accept: application/json") == NULL || curl_slist_append(h, "Expect:") == NULL)
		goto out;
	if ((rc = c->prov->ops->attach(c, &h)) != CP_OK)
		goto out;
	*out = h;
	h = NULL;
out:
	relay_headers_free(h);
	return rc;
}

void
relay_headers_free(struct curl_slist *h)
{
	struct curl_slist *n;

	for (n = h; n != NULL; n = n->next)
		if (n->data != NULL)
			cp_wipe(n->data, strlen(n->data));
	curl_slist_free_all(h);
}

static int
ex_setup_easy(struct exchange *ex)
{
	const struct candidate *c = ex->cur;
	const struct prov *p = c->cred->prov;
	const struct cfg *cfg = ex->snap->cfg;
	CURL *e;
	int rc;

	if ((rc = ex->fmt->set_model(ex->body, c->upstream)) != CP_OK)
		return rc;
	if ((ex->up_body = cJSON_PrintUnformatted(ex->body)) == NULL)
		return CP_ENOMEM;
	if ((rc = p->ops->url(p, c->cred, ex->fmt->id, c->upstream, ex->stream, &ex->url)) != CP_OK)
		return rc;
	if ((ex->hdrs = c->cred->hdrs[ex->stream ? 1 : 0]) == NULL)
		return CP_ENOMEM;
	if ((e = up_easy_get(ex->stream)) == NULL)
		return CP_ENOMEM;
	ex->x.easy = e;
	ex->x.done = ex_done_cb;
	ex->x.arg = ex;
	curl_easy_setopt(e, CURLOPT_URL, ex->url.p);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, ex->up_body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(ex->up_body));
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, ex->hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ex_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, ex);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, ex_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, ex);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)PXD_CONNECT_TIMEOUT_S);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	/* Pass the body byte-exact: no transparent decoding. */
	curl_easy_setopt(e, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	/* DESIGN 3 proxy-url, applied to every transfer; "" means direct
	 * (and overrides any *_proxy environment variable). */
	curl_easy_setopt(e, CURLOPT_PROXY, cfg->proxy_url);
	return CP_OK;
}

static void
ex_next_attempt(struct exchange *ex)
{
	time_t now = time(NULL);
	size_t i, idx;
	bool any_cooling = false;
	int rc;

	for (;;) {
		const struct candidate *pick = NULL;

		for (i = 0; i < ex->n_cands; i++) {
			idx = (ex->next_cand + i) % ex->n_cands;
			if (ex->excluded[idx])
				continue;
			if (pool_cooling(ex->cands[idx].cred->id, now)) {
				any_cooling = true;
				continue;
			}
			pick = &ex->cands[idx];
			ex->next_cand = idx + 1;
			break;
		}
		if (pick == NULL) {
			if (any_cooling || ex->attempts > 0)
				ex_error(ex, 429, "all credentials for this model are cooling down",
				    "rate_limit_error", "rate_limit_exceeded");
			else
				ex_error(ex, 503, "no credential available for this model",
				    "server_error", "no_credential");
			return;
		}
		ex->cur = pick;
		ex->attempts++;
		if ((rc = ex_setup_easy(ex)) == CP_OK && (rc = up_start(&ex->x)) == CP_OK)
			return;
		log_warnx("cannot start upstream request via '%s': %s", pick->cred->label,
		    cp_strerror(rc));
		ex_attempt_release(ex);
		if (ex->retries_left <= 0) {
			ex_error(ex, 502, "cannot reach the upstream", "upstream_error",
			    "upstream_failure");
			return;
		}
		ex->retries_left--;
	}
}

/* ------------------------------------------------------------ the start */

void
relay_start(struct evhttp_request *req, const struct codec *fmt, const char *body,
    size_t len, const char *client_addr)
{
	struct exchange *ex;
	const struct route_model *m;
	const char *model = NULL;
	struct snapshot *snap = snapshot_current();

	if ((ex = calloc(1, sizeof(*ex))) == NULL) {
		server_send_error(req, fmt, 500, "out of memory", "server_error", NULL);
		return;
	}
	ex->req = req;
	ex->fmt = fmt;
	ex->snap = snapshot_ref(snap);
	ex->retry_after = -1;
	snprintf(ex->client_addr, sizeof(ex->client_addr), "%s", client_addr);
	buf_init(&ex->url, PXD_URL_MAX);
	buf_init(&ex->errbody, PXD_ERRBODY_MAX);
	buf_init(&ex->uphdrs, PXD_UPHDRS_MAX);
	buf_init(&ex->log, 0);
	ex->next = ex_head;
	if (ex_head != NULL)
		ex_head->prev = ex;
	ex_head = ex;
	ex_count++;
	if (ex_count > ex_peak)
		ex_peak = ex_count;
	/* The events live in the exchange: two allocations less per request. */
	if (event_assign(&ex->kick, relay_base, -1, 0, ex_kick_cb, ex) != 0) {
		ex_error(ex, 500, "cannot set up the exchange", "server_error", NULL);
		return;
	}
	ex->kick_set = true;
	if (snap->cfg->request_log) {
		buf_init(&ex->log, 4 * PXD_REQLOG_BODY_MAX);
		reqlog_render_request(req, body, len, &ex->log);
	}
	/* DESIGN 6: the management API's strict parser: duplicate member
	 * names ({"model":"a","model":"b"} means different things to
	 * different readers), \u0000 (cJSON would cut the string there, so
	 * "m1\u0000x" would read as "m1" and text would be forwarded cut)
	 * and invalid UTF-8 are 400. */
	if (json_parse_strict_max(body, len, (size_t)snap->cfg->request_body_max,
	    &ex->body) != CP_OK || !cJSON_IsObject(ex->body)) {
		ex_error(ex, 400, "request body is not valid JSON (one object, UTF-8, no duplicate "
		    "member names, no \\u0000)", "invalid_request_error", "invalid_json");
		return;
	}
	/* Decoded: the raw body (evhttp keeps it with the request, which a
	 * stream holds for its whole life) is no longer needed. body points
	 * into it and is not used after this. */
	evbuffer_drain(evhttp_request_get_input_buffer(req), len);
	if (fmt->request_model(ex->body, NULL, false, &model, &ex->stream) != CP_OK) {
		ex_error(ex, 400, "request needs a string \"model\" and a boolean \"stream\"",
		    "invalid_request_error", "invalid_request");
		return;
	}
	if ((ex->model = cp_strdup(model)) == NULL) {
		ex_error(ex, 500, "out of memory", "server_error", NULL);
		return;
	}
	if ((m = snapshot_model(snap, model)) == NULL) {
		char msg[160];

		/* The name is the client's own input, quoted back to it. */
		snprintf(msg, sizeof(msg), "The model '%.100s' does not exist", model);
		ex_error(ex, 404, msg, "invalid_request_error", "model_not_found");
		return;
	}
	if (pool_candidates(m, &ex->cands, &ex->n_cands) != CP_OK ||
	    (ex->n_cands > 0 && (ex->excluded = calloc(ex->n_cands, sizeof(bool))) == NULL)) {
		ex_error(ex, 500, "out of memory", "server_error", NULL);
		return;
	}
	ex->retries_left = snap->cfg->request_retry;
	ex->evcon = evhttp_request_get_connection(req);
	if (ex->evcon != NULL) {
		struct bufferevent *bev = evhttp_connection_get_bufferevent(ex->evcon);
		evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;

		gate_conn_watch(ex->evcon, ex_close_cb, ex);
		if (fd >= 0 && event_assign(&ex->peer, relay_base, fd, EV_READ | EV_PERSIST,
		    ex_peer_cb, ex) == 0 && event_add(&ex->peer, NULL) == 0)
			ex->peer_on = true;
	}
	ex_next_attempt(ex);
}
