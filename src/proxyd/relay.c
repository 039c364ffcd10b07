/*
 * relay.c - one proxied exchange: pick a credential, send, retry, stream
 * back (DESIGN 6). Nothing here is provider-specific: the provider builds
 * the URL, headers and envelope and reads its errors (providers/), the
 * codecs translate (formats/), policy.c decides what an answer means.
 *
 * Two paths:
 * - passthrough (the upstream speaks the client's format): the body goes
 *   up with only the model rewritten and the answer comes back byte for
 *   byte (the fast path, bench figure 5);
 * - translation: client codec decode_request -> pivot -> upstream codec
 *   encode_request; the answer goes upstream decoder -> events -> client
 *   encoder; upstream errors are re-spelled in the client's error shape.
 *   A codec function that is not there yet answers 501 in the client's
 *   shape, never a crash.
 *
 * Rules (PROVIDERS.md 5, DESIGN 3 request-retry / quota-exceeded):
 * - 2xx: the reply starts; from the first byte on nothing is retried;
 * - other answers: policy_decide (cooldown per credential and model,
 *   next credential with or without spending a retry, or pass on);
 * - no credential: 503; every one cooling down: 429 with Retry-After;
 *   every path answers something: never an empty 200.
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

#define RELAY_FILTER_MAX (64u * 1024u * 1024u) /* envelope filter output of one feed */

struct exchange {
	struct exchange *prev, *next;    /* active list */
	unsigned long serial;            /* names it for callbacks that outlive it */
	struct evhttp_request *req;      /* client request; NULL once freed */
	struct evhttp_connection *evcon; /* its connection (closecb owner) */
	struct snapshot *snap;           /* reference held for our whole life */
	const struct codec *fmt;         /* client format */
	enum up_op op;                   /* GENERATE (stream by flag) or COUNT */
	char *path_model;                /* Gemini: model of the path */
	bool path_stream;                /* Gemini: streamGenerateContent */
	bool gemini_sse;                 /* Gemini: ?alt=sse */
	cJSON *body;                     /* decoded client request */
	struct pv_request pv;            /* the pivot, once a translation needs it */
	bool pv_ok;                      /* pv decoded */
	char *model;                     /* name the client asked for */
	bool stream;                     /* client asked for a stream */
	struct candidate *cands;         /* rotation order */
	bool *excluded;                  /* per candidate: used up in this exchange */
	size_t n_cands;
	size_t next_cand;                /* where the next attempt looks first */
	long retries_left;               /* request-retry budget */
	unsigned attempts;               /* upstream attempts so far */
	bool untranslatable;             /* a candidate was skipped: no codec path */
	bool refreshed;                  /* a token refresh was spent */
	bool refresh_wait;               /* waiting for a refresh */
	bool want_tokens;                /* the key has a token limit: count them */
	bool previews_added;             /* preview models joined the candidates */
	/* the current attempt */
	struct up_xfer x;                /* curl transfer */
	struct up_target tgt;            /* what it asks the upstream */
	bool translate;                  /* formats differ */
	const struct codec *upc;         /* upstream codec */
	struct curl_slist *hdrs;         /* request headers */
	bool hdrs_owned;                 /* built for this attempt (else the cred's) */
	char *up_body;                   /* JSON sent upstream */
	struct buf url;                  /* upstream URL */
	const struct candidate *cur;     /* credential in use */
	bool decided;                    /* status of this attempt known */
	long status;                     /* upstream HTTP status */
	long retry_after;                /* Retry-After seconds, -1 if none */
	char ctype[128];                 /* upstream Content-Type */
	struct buf uphdrs;               /* upstream headers passed on: name\0value\0... */
	struct buf errbody;              /* non-2xx body kept (or a count answer) */
	struct up_filter *filt;          /* provider's envelope filter */
	struct buf fout;                 /* its output */
	struct xlate *xl;                /* the answer's translation */
	/* the last failed attempt, passed on when nothing else is left */
	long last_status;                /* 0: none */
	struct buf last_body;
	const struct codec *last_upc;    /* its format */
	char last_ctype[128];
	/* the client side */
	bool committed;                  /* 2xx: no retry possible */
	bool started;                    /* reply headers sent */
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
	struct usage_ex ux;              /* usage row and key policy (usage_rec.c) */
};

static struct event_base *relay_base;
static void (*relay_idle_cb)(void);  /* registered by the server */
static struct exchange *ex_head;     /* active exchanges */
static size_t ex_count;
static size_t ex_peak;               /* most at once since the last trim */
static unsigned long ex_serial;      /* last serial given */
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
relay_init(struct event_base *base, void (*idle_cb)(void))
{
	relay_base = base;
	relay_idle_cb = idle_cb;
	evtimer_assign(&ex_trim_ev, base, ex_trim_cb, NULL);
}

/* ------------------------------------------------------------ replies */

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
	if (ex->req != NULL && !ex->client_gone && !ex->started)
		reply_error(ex->req, ex->fmt, status, msg, type, code);
	else if (ex->req != NULL)
		evhttp_send_reply_end(ex->req); /* detached or started: this ends it */
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

/* Hand the last upstream error to the client: byte-exact when the
 * upstream speaks the client's format, else its message re-spelled in the
 * client's error shape (DESIGN 6). */
static void
ex_pass_upstream(struct exchange *ex)
{
	struct evbuffer *eb;
	int status = (int)ex->last_status;

	if (status < 400 || status > 599)
		status = 502;
	if (ex->last_body.len == 0 || ex->last_upc != ex->fmt) {
		char msg[512];

		xlate_error_message(ex->last_upc, ex->last_status, ex->last_body.p,
		    ex->last_body.len, msg, sizeof(msg));
		/* 529 (overloaded) is Anthropic's own: other clients get
		 * the standard code for it. */
		if (status == 529 && ex->fmt->id != FMT_CLAUDE)
			status = 503;
		if (ex->req != NULL && !ex->client_gone)
			ex_put_headers(ex, evhttp_request_get_output_headers(ex->req));
		ex_log_response(ex, "upstream error", ex->last_body.p, ex->last_body.len);
		ex_error(ex, status, msg, "upstream_error", NULL);
		return;
	}
	ex->final_status = status;
	status_ctr.errors++;
	ex_unhook(ex);
	ex_log_response(ex, "upstream error passed on", ex->last_body.p, ex->last_body.len);
	if (ex->req != NULL && !ex->client_gone && (eb = evbuffer_new()) != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(ex->req), "Content-Type",
		    ex->last_ctype[0] != '\0' ? ex->last_ctype : "application/json");
		ex_put_headers(ex, evhttp_request_get_output_headers(ex->req));
		evbuffer_add(eb, ex->last_body.p, ex->last_body.len);
		ex->sent += ex->last_body.len;
		evhttp_send_reply(ex->req, status, reply_reason(status), eb);
		evbuffer_free(eb);
	} else if (ex->req != NULL) {
		evhttp_send_reply_end(ex->req);
	}
	ex->req = NULL;
	ex_finish(ex);
}

/* ------------------------------------------------------------ cleanup */

static void
ex_xlate_release(struct exchange *ex)
{
	xlate_free(ex->xl);
	ex->xl = NULL;
	if (ex->filt != NULL)
		ex->cur->cred->prov->ops->unwrap_free(ex->filt);
	ex->filt = NULL;
	buf_release(&ex->fout);
}

static void
ex_attempt_release(struct exchange *ex)
{
	if (ex->x.easy != NULL) {
		up_cancel(&ex->x);
		up_easy_put(ex->x.easy, ex->tgt.op == UPOP_STREAM);
		ex->x.easy = NULL;
	}
	ex_xlate_release(ex);
	if (ex->hdrs_owned)
		prov_headers_free(ex->hdrs);
	ex->hdrs = NULL;
	ex->hdrs_owned = false;
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
	buf_release(&ex->last_body);
	buf_release(&ex->log);
	cJSON_Delete(ex->body);
	pv_request_release(&ex->pv);
	free(ex->model);
	free(ex->path_model);
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
	{
		struct pv_usage xu;
		struct usage_end ue = { ex->model, ex->cur != NULL ? ex->cur->upstream : NULL,
			ex->cur != NULL ? ex->cur->cred : NULL, ex->fmt->name, ex->final_status,
			xlate_usage(ex->xl, &xu) ? &xu : NULL, ex->sent, ex->attempts };

		usage_ex_end(&ex->ux, &ue);
	}
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
	status_ctr.in_flight = ex_count;
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
	if (relay_idle_cb != NULL)
		relay_idle_cb();
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
		if (ex->started) {
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
	if (len > 12 && strncasecmp(data, "retry-after:", 12) == 0)
		ex->retry_after = policy_retry_after(data + 12, len - 12, time(NULL));
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

/* The encoder options of this exchange's client answer. */
static void
ex_enc_opts(const struct exchange *ex, struct pv_enc_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->stream = ex->stream;
	o->include_usage = ex->pv_ok ? ex->pv.include_usage : false;
	o->model = ex->model;
	o->gemini_sse = ex->gemini_sse;
	o->created = (long long)time(NULL);
	/* The tools the upstream request renamed are named back (xlate_new
	 * copies what it needs of the request). */
	o->req = ex->pv_ok ? &ex->pv : NULL;
}

/* Start the client's reply (status and headers). */
static void
ex_start_reply(struct exchange *ex, const char *ctype)
{
	struct evkeyvalq *oh;

	ex->started = true;
	if (ex->client_gone || ex->req == NULL)
		return;
	oh = evhttp_request_get_output_headers(ex->req);
	evhttp_add_header(oh, "Content-Type", ctype);
	ex_put_headers(ex, oh);
	if (ex->stream) {
		evhttp_add_header(oh, "Cache-Control", "no-cache");
		/* nginx and friends must not buffer a stream. */
		evhttp_add_header(oh, "X-Accel-Buffering", "no");
	}
	evhttp_send_reply_start(ex->req, (int)ex->status, reply_reason((int)ex->status));
}

static void
ex_commit(struct exchange *ex)
{
	struct pv_enc_opts o;
	const char *ct = NULL;

	ex->committed = true;
	ex->final_status = ex->status;
	usage_ex_first_byte(&ex->ux);
	pool_result(ex->cur->cred->id, true, time(NULL));
	/* No retry from here on: the decoded request only served to build
	 * attempts. A stream holds the rest for its whole life (bench
	 * figure 6), so it goes now. */
	cJSON_Delete(ex->body);
	ex->body = NULL;
	if (ex->log.max != 0)
		buf_printf(&ex->log, "\n=== response %ld from upstream '%s' ===\n", ex->status,
		    ex->cur->cred->label);
	if (ex->cur->cred->prov->ops->unwrap_new != NULL)
		ex->filt = ex->cur->cred->prov->ops->unwrap_new(ex->tgt.op == UPOP_STREAM);
	if (ex->tgt.op == UPOP_COUNT && ex->translate) {
		/* The count answer is gathered (errbody) and answered at the end. */
		pv_request_release(&ex->pv);
		return;
	}
	if (ex->translate) {
		status_ctr.translated++;
		ex_enc_opts(ex, &o);
		ex->xl = xlate_new(ex->upc, ex->fmt, ex->tgt.op == UPOP_STREAM, &o);
		pv_request_release(&ex->pv);
		if (!ex->stream)
			return; /* gathered: the reply goes out whole at the end */
		if (ex->fmt->content_type != NULL)
			ct = ex->fmt->content_type(&o);
		ex_start_reply(ex, ct != NULL ? ct : "text/event-stream");
		return;
	}
	ex_start_reply(ex, ex->ctype[0] != '\0' ? ex->ctype :
	    ex->stream ? "text/event-stream" : "application/json");
}

/* Send bytes to a started reply. */
static void
ex_send(struct exchange *ex, const char *data, size_t len)
{
	struct evbuffer *eb;

	if (ex->req == NULL || len == 0)
		return;
	if ((eb = evbuffer_new()) == NULL)
		return;
	evbuffer_add(eb, data, len);
	evhttp_send_reply_chunk_with_cb(ex->req, eb, ex_drain_cb, ex);
	evbuffer_free(eb);
	ex->sent += len;
	if (ex->log.max != 0 && ex->log.len < PXD_REQLOG_BODY_MAX * 2)
		buf_append(&ex->log, data, len);
}

/* Answer bytes after the envelope filter: passed, translated or kept. */
static int
ex_body(struct exchange *ex, const char *data, size_t len)
{
	int rc;

	if (ex->tgt.op == UPOP_COUNT && ex->translate)
		return buf_append(&ex->errbody, data, len);
	if (!ex->translate) {
		usage_scan_feed(&ex->ux.scan, data, len);
		ex_send(ex, data, len);
		return CP_OK;
	}
	if (ex->xl == NULL)
		return CP_ENOMEM;
	if ((rc = xlate_feed(ex->xl, data, len)) != CP_OK)
		return rc;
	if (ex->stream && xlate_out(ex->xl)->len > 0) {
		ex_send(ex, xlate_out(ex->xl)->p, xlate_out(ex->xl)->len);
		buf_reset(xlate_out(ex->xl));
	}
	return CP_OK;
}

static size_t
ex_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct exchange *ex = arg;
	size_t len = size * n;
	struct bufferevent *bev;

	if (ex->client_gone)
		return 0; /* CURLE_WRITE_ERROR: the transfer stops here */
	if (!ex->decided) {
		ex_decide(ex);
		if (ex->status >= 200 && ex->status < 300)
			ex_commit(ex);
	}
	if (!ex->committed) {
		/* An error body: keep it (capped) for the client or the log. */
		size_t room = PXD_ERRBODY_MAX - ex->errbody.len;

		buf_append(&ex->errbody, data, len < room ? len : room);
		return len;
	}
	if (len == 0)
		return len;
	if (ex->started && ex->req != NULL) {
		bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(ex->req));
		if (bev != NULL &&
		    evbuffer_get_length(bufferevent_get_output(bev)) > PXD_OUTBUF_HIGH) {
			/* Not consumed: curl hands the data again on resume. */
			ex->paused = true;
			return CURL_WRITEFUNC_PAUSE;
		}
	}
	if (ex->filt != NULL) {
		buf_reset(&ex->fout);
		if (ex->cur->cred->prov->ops->unwrap_feed(ex->filt, data, len, &ex->fout) != CP_OK ||
		    ex_body(ex, ex->fout.p, ex->fout.len) != CP_OK)
			return 0; /* the transfer fails: ex_done_cb answers */
		return len;
	}
	if (ex_body(ex, data, len) != CP_OK)
		return 0;
	return len;
}

/* --------------------------------------------------------- the attempt */

/* Cut a started answer: the client sees a truncated one, not a clean
 * end that would pass for complete. */
static void
ex_cut(struct exchange *ex)
{
	ex_attempt_release(ex);
	if (ex->req != NULL && ex->evcon != NULL) {
		struct evhttp_connection *evcon = ex->evcon;

		ex_unhook(ex);
		ex->client_gone = true;
		ex->req = NULL;
		evhttp_connection_free(evcon);
	}
	ex_finish(ex);
}

/* A count for an upstream without a count endpoint: the local estimate
 * (pv_estimate_tokens, cliproxyd(8)) in the client's count shape. */
static void
ex_count_local(struct exchange *ex)
{
	char err[256] = "";
	struct buf b;
	int rc;

	if (!ex->pv_ok) {
		if ((rc = ex->fmt->decode_request(ex->body, ex->path_model, ex->path_stream,
		    &ex->pv, err, sizeof(err))) != CP_OK) {
			ex_error(ex, rc == CP_ENOMEM ? 500 : 400, err[0] != '\0' ? err :
			    "the request cannot be read", "invalid_request_error", "invalid_request");
			return;
		}
		ex->pv_ok = true;
	}
	buf_init(&b, 64 * 1024);
	if (ex->fmt->count_body(&b, pv_estimate_tokens(&ex->pv)) != CP_OK) {
		buf_release(&b);
		ex_error(ex, 500, "out of memory", "server_error", NULL);
		return;
	}
	ex->final_status = 200;
	ex_unhook(ex);
	if (ex->req != NULL && !ex->client_gone)
		reply_json(ex->req, 200, b.p, b.len);
	else if (ex->req != NULL)
		evhttp_send_reply_end(ex->req);
	ex->req = NULL;
	buf_release(&b);
	ex_finish(ex);
}

/* A translated count answer: upstream count -> tokens -> client shape. */
static void
ex_count_answer(struct exchange *ex)
{
	struct buf b;

	buf_init(&b, 64 * 1024);
	if (xlate_count(ex->upc, ex->fmt, ex->errbody.p, ex->errbody.len, &b) != CP_OK) {
		buf_release(&b);
		ex_error(ex, 502, "the upstream's token count could not be read",
		    "upstream_error", "upstream_failure");
		return;
	}
	ex_unhook(ex);
	if (ex->req != NULL && !ex->client_gone)
		reply_json(ex->req, 200, b.p, b.len);
	else if (ex->req != NULL)
		evhttp_send_reply_end(ex->req);
	ex->req = NULL;
	buf_release(&b);
	ex_finish(ex);
}

/* The committed answer ended well: flush filter, decoder and encoder. */
static void
ex_complete(struct exchange *ex)
{
	struct evbuffer *eb;
	struct pv_enc_opts o;
	const char *ct = NULL;
	int rc = CP_OK;

	if (ex->filt != NULL) {
		buf_reset(&ex->fout);
		if ((rc = ex->cur->cred->prov->ops->unwrap_feed(ex->filt, NULL, 0,
		    &ex->fout)) == CP_OK)
			rc = ex_body(ex, ex->fout.p, ex->fout.len);
	}
	if (rc == CP_OK && ex->tgt.op == UPOP_COUNT && ex->translate) {
		ex_count_answer(ex);
		return;
	}
	if (rc == CP_OK && ex->translate)
		rc = ex->xl != NULL ? xlate_finish(ex->xl) : CP_ENOMEM;
	if (rc != CP_OK) {
		log_warnx("answer of upstream '%s' cannot be translated: %s",
		    ex->cur->cred->label, cp_strerror(rc));
		if (!ex->started) {
			ex_error(ex, 502, "the upstream's answer could not be translated",
			    "upstream_error", "upstream_failure");
			return;
		}
		ex_cut(ex);
		return;
	}
	if (ex->translate && !ex->stream) {
		const struct buf *out = xlate_out(ex->xl);

		/* The gathered answer goes out whole, with its length. */
		ex_enc_opts(ex, &o);
		if (ex->fmt->content_type != NULL)
			ct = ex->fmt->content_type(&o);
		ex_unhook(ex);
		if (ex->req != NULL && !ex->client_gone && (eb = evbuffer_new()) != NULL) {
			struct evkeyvalq *oh = evhttp_request_get_output_headers(ex->req);

			evhttp_add_header(oh, "Content-Type", ct != NULL ? ct : "application/json");
			ex_put_headers(ex, oh);
			evbuffer_add(eb, out->p != NULL ? out->p : "", out->len);
			ex->sent += out->len;
			if (ex->log.max != 0)
				buf_append(&ex->log, out->p != NULL ? out->p : "", out->len);
			evhttp_send_reply(ex->req, (int)ex->status, reply_reason((int)ex->status),
			    eb);
			evbuffer_free(eb);
		} else if (ex->req != NULL) {
			evhttp_send_reply_end(ex->req);
		}
		ex->req = NULL;
		ex_finish(ex);
		return;
	}
	if (ex->translate && xlate_out(ex->xl)->len > 0)
		ex_send(ex, xlate_out(ex->xl)->p, xlate_out(ex->xl)->len);
	ex_unhook(ex);
	if (ex->req != NULL)
		evhttp_send_reply_end(ex->req);
	ex->req = NULL;
	ex_finish(ex);
}

/* Keep this attempt's failure: it is what the client gets when nothing
 * else is left. */
static void
ex_keep_last(struct exchange *ex)
{
	struct buf t = ex->last_body;

	ex->last_status = ex->status;
	ex->last_body = ex->errbody;
	ex->errbody = t;
	buf_reset(&ex->errbody);
	ex->last_upc = ex->upc;
	memcpy(ex->last_ctype, ex->ctype, sizeof(ex->ctype));
}

static void ex_refresh_done(const char *cred_id, int rc, void *arg);

/* Wait for a refresh of cr's token (started, or joined when one is in
 * flight): once per exchange; ex_refresh_done goes on. Not CP_OK: no
 * refresh now (the exchange is not waiting). */
static int
ex_wait_refresh(struct exchange *ex, const struct cred *cr)
{
	int rc;

	ex->refreshed = true;
	ex->refresh_wait = true;
	rc = cr->prov->ops->refresh(cr, ex_refresh_done, (void *)(uintptr_t)ex->serial);
	if (rc != CP_OK)
		ex->refresh_wait = false;
	return rc;
}

static void
ex_done_cb(struct up_xfer *x, CURLcode rc)
{
	struct exchange *ex = x->arg;
	const struct cred *cr = ex->cur->cred;
	const struct provider_ops *ops = cr->prov->ops;
	struct up_answer a;
	struct up_class cl;
	struct pol_in pi;
	struct pol_out po;
	char msg[192] = "";

	if (ex->client_gone) {
		ex_abort(ex);
		return;
	}
	if (!ex->decided && rc == CURLE_OK)
		ex_decide(ex);
	if (ex->committed) {
		if (rc != CURLE_OK) {
			/* Mid-answer failure: no retry once 2xx came. */
			log_warnx("upstream '%s' failed mid-response: %s", cr->label,
			    curl_easy_strerror(rc));
			ex_log_response(ex, "upstream failed mid-response", NULL, 0);
			if (!ex->started) {
				ex_error(ex, 502, "the upstream failed mid-answer", "upstream_error",
				    "upstream_failure");
				return;
			}
			ex_cut(ex);
			return;
		}
		ex_complete(ex);
		return;
	}
	memset(&a, 0, sizeof(a));
	if (rc != CURLE_OK) {
		log_warnx("upstream '%s' for '%s': %s", cr->label, ex->model,
		    curl_easy_strerror(rc));
		ex->status = 0;
	} else if (ex->status >= 200 && ex->status < 300) {
		/* A 2xx with no body at all: an empty 200 must not reach the
		 * client (DESIGN 6), treat it as an upstream failure. */
		log_warnx("upstream '%s' answered %ld with an empty body", cr->label, ex->status);
		ex->status = 0;
	}
	a.status = ex->status;
	a.retry_after = ex->retry_after;
	a.body = ex->errbody.p;
	a.len = ex->errbody.len;
	cl.hint_s = -1;
	cl.model_missing = false;
	if (a.status != 0)
		ops->classify(&a, &cl);
	memset(&pi, 0, sizeof(pi));
	pi.status = ex->status;
	pi.hint_s = cl.hint_s;
	pi.model_missing = cl.model_missing;
	pi.oauth = ops->oauth && ops->refresh != NULL;
	pi.refreshed = ex->refreshed;
	pi.switch_project = ex->snap->cfg->switch_project;
	pi.retries_left = ex->retries_left;
	policy_decide(&pi, &po);
	if (ex->log.max != 0)
		buf_printf(&ex->log, "\n=== attempt %u via '%s': status %ld%s%s ===\n",
		    ex->attempts, cr->label, ex->status, rc != CURLE_OK ? ", " : "",
		    rc != CURLE_OK ? curl_easy_strerror(rc) : "");
	pool_result(cr->id, false, time(NULL));
	if (po.cooldown_s > 0) {
		pool_cooldown(cr->id, ex->cur->upstream, time(NULL) + po.cooldown_s,
		    po.token_refused);
		status_ctr.cooldowns++;
		log_info("credential '%s' cooling down for '%s' %lds (status %ld)", cr->label,
		    ex->cur->upstream, po.cooldown_s, ex->status);
	}
	if (rc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "upstream request failed: %s", curl_easy_strerror(rc));
	} else if (ex->status == 0) {
		snprintf(msg, sizeof(msg), "upstream returned an empty response");
	}
	ex_keep_last(ex);
	if (ex->status == 0)
		buf_reset(&ex->last_body);
	switch (po.action) {
	case POL_NEXT:
		if (po.spend_retry)
			ex->retries_left--;
		ex->excluded[ex->cur - ex->cands] = true;
		ex_attempt_release(ex);
		ex_next_attempt(ex);
		return;
	case POL_REFRESH:
		ex_attempt_release(ex);
		if (ex_wait_refresh(ex, cr) != CP_OK) {
			pool_cooldown(cr->id, ex->cur->upstream, time(NULL) + POL_COOL_AUTH_S,
			    true);
			ex->excluded[ex->cur - ex->cands] = true;
			ex_next_attempt(ex);
		}
		return;
	case POL_OK:
	case POL_PASS:
	default:
		break;
	}
	if (ex->status == 0) {
		ex_error(ex, 502, msg, "upstream_error", "upstream_failure");
		return;
	}
	ex_pass_upstream(ex);
}

/* Find a live exchange by serial (a refresh may outlive its exchange). */
static struct exchange *
ex_by_serial(unsigned long serial)
{
	struct exchange *ex;

	for (ex = ex_head; ex != NULL; ex = ex->next)
		if (ex->serial == serial)
			return ex;
	return NULL;
}

static void
ex_refresh_done(const char *cred_id, int rc, void *arg)
{
	struct exchange *ex = ex_by_serial((unsigned long)(uintptr_t)arg);

	if (ex == NULL || !ex->refresh_wait || ex->finished)
		return;
	ex->refresh_wait = false;
	if (ex->client_gone) {
		ex_abort(ex);
		return;
	}
	if (rc != CP_OK) {
		/* PROVIDERS 5: refresh fails -> cooldown 30 min, next one. */
		pool_cooldown(cred_id, ex->cur->upstream, time(NULL) + POL_COOL_AUTH_S, true);
		ex->excluded[ex->cur - ex->cands] = true;
	} else {
		/* The same credential again, with its new token. */
		ex->next_cand = (size_t)(ex->cur - ex->cands);
	}
	ex_next_attempt(ex);
}

/* An account whose token has expired (or is about to) waits for a
 * refresh, joining one in flight, before it is tried: sending the dead
 * token would only earn a 401 first. true: the exchange waits
 * (ex_refresh_done goes on). Once per exchange, like the 401 refresh. */
static bool
ex_refresh_first(struct exchange *ex)
{
	const struct cred *cr = ex->cur->cred;
	const struct provider_ops *ops = cr->prov->ops;

	if (!ops->oauth || ops->refresh == NULL || ex->refreshed ||
	    !refresh_token_expired(cr, time(NULL)))
		return false;
	/* No refresh now (backing off after a failure): the old token is
	 * tried, and its 401 cools the account down. */
	return ex_wait_refresh(ex, cr) == CP_OK;
}

/* Passthrough or translation to candidate c: false when neither works
 * (a codec function not written yet, or a count the upstream cannot do). */
static bool
ex_usable(const struct exchange *ex, const struct candidate *c)
{
	const struct provider_ops *ops = c->cred->prov->ops;

	/* No count endpoint upstream: the documented local estimate, when
	 * the client's codec can read the request and write a count. */
	if (ex->op == UPOP_COUNT && !ops->has_count)
		return ex->fmt->decode_request != NULL && ex->fmt->count_body != NULL;
	if ((ops->format == ex->fmt->id || ops->also == ex->fmt->id) &&
	    (!ops->stream_only || ex->stream || ex->op == UPOP_COUNT))
		return ex->path_model != NULL || ex->fmt->set_model != NULL ||
		    ex->fmt->request_model == NULL;
	return xlate_possible(ex->fmt, codec_for(ops->format), ex->op == UPOP_COUNT);
}

/* The upstream body of this attempt into ex->up_body; err for a 400. */
static int
ex_build_body(struct exchange *ex, char *err, size_t errlen)
{
	const struct cred *cr = ex->cur->cred;
	const struct provider_ops *ops = cr->prov->ops;
	const char *what;
	cJSON *j = NULL;
	bool own = false;
	int rc;

	if (!ex->translate) {
		/* Passthrough: only the model changes (Gemini: it is in the URL). */
		if (ex->path_model == NULL) {
			if ((rc = ex->fmt->set_model(ex->body, ex->cur->upstream)) != CP_OK)
				return rc;
		}
		j = ex->body;
	} else {
		if (!ex->pv_ok) {
			err[0] = '\0';
			if ((rc = ex->fmt->decode_request(ex->body, ex->path_model, ex->path_stream,
			    &ex->pv, err, errlen)) != CP_OK) {
				if (err[0] == '\0')
					snprintf(err, errlen, "the request cannot be read");
				return rc == CP_ENOMEM ? rc : CP_EINVAL;
			}
			ex->pv_ok = true;
		}
		free(ex->pv.model);
		if ((ex->pv.model = pv_strdup(ex->cur->upstream)) == NULL)
			return CP_ENOMEM;
		ex->pv.stream = ex->tgt.op == UPOP_STREAM;
		if (ex->op != UPOP_COUNT && ex->upc->refuses != NULL &&
		    (what = ex->upc->refuses(&ex->pv)) != NULL) {
			snprintf(err, errlen, "this model's upstream (%s) cannot honour %s",
			    ex->upc->name, what);
			return CP_EINVAL;
		}
		rc = ex->op == UPOP_COUNT ? ex->upc->encode_count(&ex->pv, &j) :
		    ex->upc->encode_request(&ex->pv, &j);
		if (rc == CP_EINVAL || rc == CP_ETOOBIG) {
			/* The encoder refuses what the client sent (a tool
			 * set that cannot be named for this upstream, a
			 * request past a cap): the client's fault, 400. */
			snprintf(err, errlen, "the request cannot be sent to this model's upstream: %s",
			    cp_strerror(rc));
			return CP_EINVAL;
		}
		if (rc != CP_OK)
			return rc;
		own = true;
	}
	if (ops->wrap != NULL) {
		cJSON *w = own ? j : cJSON_Duplicate(j, true);

		if (w == NULL)
			return CP_ENOMEM;
		own = true;
		j = w;
		if ((rc = ops->wrap(cr, pool_state(cr->id, false), &ex->tgt, &j)) != CP_OK) {
			cJSON_Delete(j);
			return rc;
		}
	}
	ex->up_body = cJSON_PrintUnformatted(j);
	if (own)
		cJSON_Delete(j);
	return ex->up_body != NULL ? CP_OK : CP_ENOMEM;
}

/* The client's own headers the provider passes on (passthrough only):
 * appended to a copy of the credential's list when the client sent any. */
static int
ex_client_headers(struct exchange *ex, const char *const *names)
{
	struct evkeyvalq *in;
	struct curl_slist *h;
	const char *v;
	size_t i;
	int rc;

	if (ex->req == NULL)
		return CP_OK;
	in = evhttp_request_get_input_headers(ex->req);
	for (i = 0; names[i] != NULL; i++) {
		if ((v = evhttp_find_header(in, names[i])) == NULL || strlen(v) > 1024 ||
		    strpbrk(v, "\r\n") != NULL)
			continue;
		if (!ex->hdrs_owned) {
			if ((rc = prov_headers_dup(ex->hdrs, &h)) != CP_OK)
				return rc;
			ex->hdrs = h;
			ex->hdrs_owned = true;
		}
		if ((rc = prov_header(&ex->hdrs, names[i], v)) != CP_OK)
			return rc;
	}
	return CP_OK;
}

/* Did a Chat client ask for the usage chunk (stream_options.include_usage)? */
static bool
ex_chat_asks_usage(const cJSON *body)
{
	const cJSON *so = cJSON_GetObjectItemCaseSensitive(body, "stream_options");

	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(so, "include_usage"));
}

static int
ex_setup_easy(struct exchange *ex, char *err, size_t errlen)
{
	const struct candidate *c = ex->cur;
	const struct prov *p = c->cred->prov;
	const struct provider_ops *ops = p->ops;
	const struct cfg *cfg = ex->snap->cfg;
	bool up_stream;
	CURL *e;
	int rc;

	/* A stream-only upstream (Codex accounts) answers a non-streaming
	 * client through the codec even in its own format: the stream is
	 * gathered into one answer. */
	up_stream = ex->op != UPOP_COUNT && (ex->stream || ops->stream_only);
	ex->translate = (ops->format != ex->fmt->id && ops->also != ex->fmt->id) ||
	    up_stream != ex->stream;
	/* A Chat stream passed through carries no usage unless the client
	 * asked for it; a key with a token limit must be counted (else it
	 * streams past its limit): such a stream goes through the codec,
	 * which asks the upstream for usage and gives the client only what
	 * it asked for. */
	if (!ex->translate && ex->want_tokens && up_stream && ex->fmt->id == FMT_OPENAI_CHAT &&
	    ops->format == FMT_OPENAI_CHAT && !ex_chat_asks_usage(ex->body))
		ex->translate = true;
	ex->upc = codec_for(ops->format == ex->fmt->id || ops->also == ex->fmt->id ?
	    ex->fmt->id : ops->format);
	ex->tgt.fmt = ex->upc->id;
	ex->tgt.op = ex->op == UPOP_COUNT ? UPOP_COUNT : up_stream ? UPOP_STREAM : UPOP_GENERATE;
	/* Translating into Gemini reads its SSE; passthrough keeps the
	 * client's choice (alt=sse or the JSON-array stream). */
	ex->tgt.gemini_sse = ex->translate ? true : ex->gemini_sse;
	ex->tgt.model = c->upstream;
	if ((rc = ex_build_body(ex, err, errlen)) != CP_OK)
		return rc;
	if ((rc = ops->url(p, c->cred, &ex->tgt, &ex->url)) != CP_OK) {
		if (rc == CP_EINVAL)
			snprintf(err, errlen, "the model name cannot be sent upstream");
		return rc;
	}
	if (ops->static_headers && ex->tgt.op != UPOP_COUNT) {
		ex->hdrs = c->cred->hdrs[up_stream ? 1 : 0];
	} else {
		if ((rc = ops->headers(c->cred, pool_state(c->cred->id, false), &ex->tgt,
		    &ex->hdrs)) != CP_OK)
			return rc;
		ex->hdrs_owned = true;
	}
	if (ex->hdrs == NULL)
		return CP_ENOMEM;
	if (!ex->translate && ops->client_headers != NULL &&
	    (rc = ex_client_headers(ex, ops->client_headers)) != CP_OK)
		return rc;
	if ((e = up_easy_get(up_stream)) == NULL)
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

/* Nothing left to try: the most useful answer (PROVIDERS 5). Every
 * candidate cooling down (none tried, or the last one said 429): 429
 * with the earliest Retry-After; else the last upstream failure; else
 * 501 when only a missing codec stood in the way; else 503. */
static void
ex_exhausted(struct exchange *ex, bool any_cooling, time_t earliest)
{
	char msg[160];

	if (any_cooling && (ex->attempts == 0 || ex->last_status == 429)) {
		long secs = earliest > time(NULL) ? (long)(earliest - time(NULL)) : 1;
		char ra[24];

		snprintf(ra, sizeof(ra), "%ld", secs);
		if (ex->req != NULL && !ex->client_gone)
			evhttp_add_header(evhttp_request_get_output_headers(ex->req), "Retry-After",
			    ra);
		ex_error(ex, 429, "all credentials for this model are cooling down",
		    "rate_limit_error", "rate_limit_exceeded");
		return;
	}
	if (ex->last_status != 0) {
		ex_pass_upstream(ex);
		return;
	}
	if (ex->attempts > 0) {
		ex_error(ex, 502, "no upstream answered", "upstream_error", "upstream_failure");
		return;
	}
	if (ex->untranslatable) {
		const struct codec *up = NULL;
		size_t i;

		for (i = 0; i < ex->n_cands && up == NULL; i++)
			up = codec_for(ex->cands[i].cred->prov->ops->format);
		snprintf(msg, sizeof(msg), "%s from %s to %s is not available",
		    ex->op == UPOP_COUNT ? "token counting" : "translation", ex->fmt->name,
		    up != NULL ? up->name : "?");
		ex_error(ex, 501, msg, "server_error", "not_implemented");
		return;
	}
	ex_error(ex, 503, "no credential available for this model", "server_error",
	    "no_credential");
}

/* PROVIDERS 5: every credential cooling down for a Gemini model: with
 * quota-exceeded.switch-preview-model, its preview names join the
 * candidates (each credential of the provider, each name, once). true
 * when some were added. */
static bool
ex_add_previews(struct exchange *ex)
{
	struct candidate *nc;
	bool *nx;
	size_t i, k, add = 0, n = ex->n_cands;

	if (ex->previews_added || !ex->snap->cfg->switch_preview_model)
		return false;
	ex->previews_added = true;
	for (i = 0; i < n; i++) {
		const struct provider_ops *ops = ex->cands[i].cred->prov->ops;
		const char *const *pv = ops->previews != NULL ?
		    ops->previews(ex->cands[i].upstream) : NULL;

		for (k = 0; pv != NULL && pv[k] != NULL; k++)
			add++;
	}
	if (add == 0 || n + add > PXD_CANDIDATES_MAX)
		return false;
	if ((nc = realloc(ex->cands, (n + add) * sizeof(*nc))) == NULL)
		return false;
	ex->cands = nc;
	if ((nx = realloc(ex->excluded, (n + add) * sizeof(*nx))) == NULL)
		return false;
	ex->excluded = nx;
	for (i = 0; i < n; i++) {
		const struct provider_ops *ops = ex->cands[i].cred->prov->ops;
		const char *const *pv = ops->previews != NULL ?
		    ops->previews(ex->cands[i].upstream) : NULL;

		for (k = 0; pv != NULL && pv[k] != NULL; k++) {
			ex->cands[ex->n_cands].cred = ex->cands[i].cred;
			ex->cands[ex->n_cands].upstream = pv[k];
			ex->excluded[ex->n_cands] = false;
			ex->n_cands++;
		}
	}
	ex->next_cand = n;
	log_info("every credential of '%s' is cooling down: trying its preview models",
	    ex->model);
	return true;
}

static void
ex_next_attempt(struct exchange *ex)
{
	time_t now = time(NULL), earliest = 0, until;
	size_t i, idx;
	bool any_cooling = false;
	char err[256];
	int rc;

	for (;;) {
		const struct candidate *pick = NULL;

		for (i = 0; i < ex->n_cands; i++) {
			idx = (ex->next_cand + i) % ex->n_cands;
			/* Cooling ones count even when this exchange used them
			 * up: their end is the Retry-After of a 429. */
			if (pool_cooling(ex->cands[idx].cred->id, ex->cands[idx].upstream, now,
			    &until)) {
				if (!any_cooling || until < earliest)
					earliest = until;
				any_cooling = true;
				continue;
			}
			if (ex->excluded[idx])
				continue;
			if (!ex_usable(ex, &ex->cands[idx])) {
				ex->untranslatable = true;
				ex->excluded[idx] = true;
				continue;
			}
			pick = &ex->cands[idx];
			ex->next_cand = idx + 1;
			break;
		}
		if (pick == NULL && any_cooling && ex_add_previews(ex))
			continue;
		if (pick == NULL) {
			ex_exhausted(ex, any_cooling, earliest);
			return;
		}
		ex->cur = pick;
		if (ex->op == UPOP_COUNT && !pick->cred->prov->ops->has_count) {
			ex_count_local(ex);
			return;
		}
		if (ex_refresh_first(ex))
			return;
		if (ex->attempts++ > 0)
			status_ctr.retries++;
		err[0] = '\0';
		if ((rc = ex_setup_easy(ex, err, sizeof(err))) == CP_OK &&
		    (rc = up_start(&ex->x)) == CP_OK)
			return;
		ex_attempt_release(ex);
		if (rc == CP_EINVAL && err[0] != '\0') {
			/* The client's request (or model name) is at fault. */
			ex_error(ex, 400, err, "invalid_request_error", "invalid_request");
			return;
		}
		log_warnx("cannot start upstream request via '%s': %s", pick->cred->label,
		    cp_strerror(rc));
		ex->excluded[pick - ex->cands] = true;
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
relay_start(struct evhttp_request *req, const struct relay_call *call)
{
	struct exchange *ex;
	const struct route_model *m;
	const char *model = NULL;
	struct snapshot *snap = snapshot_current();
	const struct codec *fmt = call->fmt;
	int rc;

	if ((ex = calloc(1, sizeof(*ex))) == NULL) {
		reply_error(req, fmt, 500, "out of memory", "server_error", NULL);
		return;
	}
	ex->req = req;
	ex->fmt = fmt;
	ex->op = call->op;
	ex->serial = ++ex_serial;
	ex->snap = snapshot_ref(snap);
	ex->retry_after = -1;
	usage_ex_begin(&ex->ux, call->who, call->len, fmt->id);
	pv_request_init(&ex->pv);
	snprintf(ex->client_addr, sizeof(ex->client_addr), "%s", call->client_addr);
	buf_init(&ex->url, PXD_URL_MAX);
	buf_init(&ex->errbody, PXD_ERRBODY_MAX);
	buf_init(&ex->last_body, PXD_ERRBODY_MAX);
	buf_init(&ex->uphdrs, PXD_UPHDRS_MAX);
	buf_init(&ex->fout, RELAY_FILTER_MAX);
	buf_init(&ex->log, 0);
	ex->next = ex_head;
	if (ex_head != NULL)
		ex_head->prev = ex;
	ex_head = ex;
	ex_count++;
	status_ctr.in_flight = ex_count;
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
		reqlog_render_request(req, call->body, call->len, &ex->log);
	}
	/* DESIGN 6: the management API's strict parser: duplicate member
	 * names ({"model":"a","model":"b"} means different things to
	 * different readers), \u0000 (cJSON would cut the string there, so
	 * "m1\u0000x" would read as "m1" and text would be forwarded cut)
	 * and invalid UTF-8 are 400. */
	if (json_parse_strict_max(call->body, call->len, (size_t)snap->cfg->request_body_max,
	    &ex->body) != CP_OK || !cJSON_IsObject(ex->body)) {
		ex_error(ex, 400, "request body is not valid JSON (one object, UTF-8, no duplicate "
		    "member names, no \\u0000)", "invalid_request_error", "invalid_json");
		return;
	}
	/* Decoded: the raw body (evhttp keeps it with the request, which a
	 * stream holds for its whole life) is no longer needed. body points
	 * into it and is not used after this. */
	evbuffer_drain(evhttp_request_get_input_buffer(req), call->len);
	if (call->path_model != NULL) {
		if ((ex->path_model = cp_strdup(call->path_model)) == NULL) {
			ex_error(ex, 500, "out of memory", "server_error", NULL);
			return;
		}
		ex->path_stream = call->path_stream;
		ex->gemini_sse = call->gemini_sse;
	}
	if ((rc = fmt->request_model(ex->body, ex->path_model, ex->path_stream, &model,
	    &ex->stream)) != CP_OK) {
		ex_error(ex, 400, "request needs a string \"model\" and a boolean \"stream\"",
		    "invalid_request_error", "invalid_request");
		return;
	}
	if (ex->op == UPOP_COUNT)
		ex->stream = false;
	if ((ex->model = cp_strdup(model)) == NULL) {
		ex_error(ex, 500, "out of memory", "server_error", NULL);
		return;
	}
	{
		struct keypol_verdict v;   /* api-key-policy (issue 15) */

		if (!usage_ex_admit(&ex->ux, snap->cfg, ex->model, &v)) {
			char ra[24];

			snprintf(ra, sizeof(ra), "%ld", v.retry_after);
			if (v.status == 429)
				evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
			ex_error(ex, v.status, v.message, v.type, v.code);
			return;
		}
		ex->want_tokens = ex->ux.who.pol != NULL && ex->ux.who.pol->max_tpd > 0;
	}
	if ((m = snapshot_route(snap, ex->model)) == NULL) {
		char msg[160];

		/* The name is the client's own input, quoted back to it. */
		snprintf(msg, sizeof(msg), "The model '%.100s' does not exist", ex->model);
		ex_error(ex, 404, msg, "invalid_request_error", "model_not_found");
		return;
	}
	if (pool_candidates(m, ex->model, &ex->cands, &ex->n_cands) != CP_OK ||
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
