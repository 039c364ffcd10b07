/*
 * gate.c - the connection gate of cliproxyd (DESIGN 6 "Limits", "Client
 * keys": checked as soon as the headers are in, before any body is read;
 * an unauthenticated client costs at most a few KiB), and the count of
 * client connections (max-connections).
 *
 * evhttp (libevent 2.1) reads a whole body before it calls us and has no
 * hook between the headers and the body for a server request, so every
 * connection's bufferevent is ours (evhttp_set_bevcb) and a callback on its
 * input buffer sees each byte before evhttp does. The bytes of a request
 * head are held back (the stash, at most PXD_HEADERS_MAX) until the head is
 * complete; then the head is parsed, the route, client address and key are
 * checked with the same code the handler uses (clientauth.c), and:
 * - accepted: the head goes on to evhttp unchanged, followed by exactly its
 *   body (Content-Length); the next head is held back again;
 * - refused: evhttp gets the head without its body (Content-Length,
 *   Transfer-Encoding and Expect removed) and with GATE_HEADER naming the
 *   answer, which dispatch() gives in the route's error shape. A body of
 *   known length is then dropped as it arrives (never kept), so a client
 *   that sends it anyway reads its answer and may go on with the
 *   connection; otherwise ("Connection: close") every later byte is
 *   dropped until the connection closes.
 * A chunked body (length unknown) of an accepted request is de-chunked
 * here (RFC 9112 7.1) up to the route's cap: evhttp then gets the head with
 * a Content-Length and the plain body, and what follows is gated as the
 * next head. A body over the cap or malformed framing gets its 413/400 in
 * the route's error shape (dispatch), and the connection closes.
 * GATE_HEADER sent by a client only ever makes its own request fail.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/keyvalq_struct.h>

#include "proxyd.h"

enum gate_state {
	G_HEAD = 0,      /* holding back the bytes of a head */
	G_BODY,          /* passing body_left bytes of an accepted body */
	G_CHUNKED,       /* de-chunking an accepted chunked body (struct dechunk) */
	G_SKIP,          /* dropping body_left bytes of a refused body */
	G_DISCARD,       /* dropping everything (refused; closes after) */
};

#define GATE_CHUNK_LINE_MAX 4096  /* chunk-size line with extensions */

enum dechunk_state {
	DC_SIZE = 0,     /* reading a chunk-size line */
	DC_DATA,         /* copying chunk data (left bytes) */
	DC_DATA_END,     /* the CRLF after chunk data */
	DC_TRAILER,      /* trailer lines until the blank one */
};

/* An accepted chunked body being de-chunked (G_CHUNKED). */
struct dechunk {
	enum dechunk_state st;
	ev_uint64_t left;          /* DC_DATA: bytes of this chunk still to come */
	size_t trailer;            /* trailer bytes so far (PXD_HEADERS_MAX) */
	size_t cap;                /* the route's request-body-max */
	char *head;                /* the request head as it came */
	size_t head_len;
	struct evbuffer *raw;      /* bytes not parsed yet */
	struct evbuffer *body;     /* the body so far */
};

struct conn {
	struct bufferevent *bev;   /* the connection (one reference is ours) */
	struct evbuffer_cb_entry *cb; /* our callback on its input */
	struct evbuffer *stash;    /* held-back bytes of the next head */
	enum gate_state st;
	ev_uint64_t body_left;     /* G_BODY, G_SKIP: body bytes still to come */
	evutil_socket_t fd;        /* index in srv_conn_by_fd, -1 before setup */
	bool over;                 /* accepted beyond max-connections: 503 */
	bool setup;                /* closecb installed, fd known */
	bool closed;               /* released */
	bool in_cb;                /* our own changes call us again */
	bool once;                 /* conn_setup_cb still to run (frees then) */
	struct event *head_tmr;    /* PXD_HEAD_TIMEOUT_S for a head once begun */
	struct dechunk *ck;        /* G_CHUNKED, else NULL */
	void (*close_fn)(struct evhttp_connection *, void *); /* relay's closecb */
	void *close_arg;
	struct conn *prev, *next;  /* srv_conns */
};

static gate_route_fn g_route;        /* the server's route table */
static bool g_local;                 /* peers are local (unix socket) */
static struct conn **srv_conn_by_fd; /* live connections by descriptor */
static size_t srv_conn_cap;          /* size of srv_conn_by_fd */
static size_t srv_nconns;            /* live client connections */
static struct conn *srv_conns;       /* all of them (server_free) */
static struct evbuffer *srv_scratch; /* gate_take's temporary */

static void
dechunk_free(struct dechunk *ck)
{
	if (ck == NULL)
		return;
	free(ck->head);
	if (ck->raw != NULL)
		evbuffer_free(ck->raw);
	if (ck->body != NULL)
		evbuffer_free(ck->body);
	free(ck);
}

static void
conn_free(struct conn *cn)
{
	if (cn->prev != NULL)
		cn->prev->next = cn->next;
	else
		srv_conns = cn->next;
	if (cn->next != NULL)
		cn->next->prev = cn->prev;
	free(cn);
}

static void
conn_release(struct conn *cn)
{
	if (cn->closed)
		return;
	cn->closed = true;
	if (cn->fd >= 0 && (size_t)cn->fd < srv_conn_cap && srv_conn_by_fd[cn->fd] == cn)
		srv_conn_by_fd[cn->fd] = NULL;
	if (cn->cb != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(cn->bev), cn->cb);
	srv_nconns--;
	if (cn->head_tmr != NULL)
		event_free(cn->head_tmr);
	cn->head_tmr = NULL;
	evbuffer_free(cn->stash);
	cn->stash = NULL;
	dechunk_free(cn->ck);
	cn->ck = NULL;
	bufferevent_decref(cn->bev);
	cn->bev = NULL;
	/* The set-up event still holds cn: it frees it. */
	if (!cn->once)
		conn_free(cn);
}

static void
conn_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	struct conn *cn = arg;

	if (cn->close_fn != NULL)
		cn->close_fn(evcon, cn->close_arg);
	conn_release(cn);
}

/* Once evhttp has made its connection object: our closecb on it, and the
 * descriptor index. false when evhttp has already freed the connection. */
static bool
conn_setup(struct conn *cn)
{
	bufferevent_data_cb r, w;
	bufferevent_event_cb e;
	void *arg = NULL;
	evutil_socket_t fd;

	if (cn->setup)
		return true;
	bufferevent_getcb(cn->bev, &r, &w, &e, &arg);
	if (e == NULL || arg == NULL)
		return false;
	evhttp_connection_set_closecb(arg, conn_closed_cb, cn);
	cn->setup = true;
	fd = bufferevent_getfd(cn->bev);
	if (fd < 0)
		return true;
	if ((size_t)fd >= srv_conn_cap) {
		size_t ncap = (size_t)fd + 1 > srv_conn_cap * 2 ? (size_t)fd + 1 : srv_conn_cap * 2;
		struct conn **t = realloc(srv_conn_by_fd, ncap * sizeof(*t));

		if (t == NULL)
			return true;
		memset(t + srv_conn_cap, 0, (ncap - srv_conn_cap) * sizeof(*t));
		srv_conn_by_fd = t;
		srv_conn_cap = ncap;
	}
	srv_conn_by_fd[fd] = cn;
	cn->fd = fd;
	return true;
}

static void
conn_setup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *cn = arg;

	(void)fd;
	(void)what;
	cn->once = false;
	if (cn->closed) {
		conn_free(cn);
		return;
	}
	/* A connection evhttp freed before our setup (no closecb yet). */
	if (!conn_setup(cn))
		conn_release(cn);
}

static struct conn *
conn_of(struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
	evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
	struct conn *cn;

	if (fd < 0 || (size_t)fd >= srv_conn_cap)
		return NULL;
	cn = srv_conn_by_fd[fd];
	return cn != NULL && cn->bev == bev ? cn : NULL;
}

void
gate_conn_watch(struct evhttp_connection *evcon,
    void (*fn)(struct evhttp_connection *, void *), void *arg)
{
	struct conn *cn = conn_of(evcon);

	if (cn == NULL) {
		evhttp_connection_set_closecb(evcon, fn, arg);
		return;
	}
	cn->close_fn = fn;
	cn->close_arg = arg;
}

size_t
gate_n_connections(void)
{
	return srv_nconns;
}

void
gate_peer(struct evhttp_connection *evcon, char *out, size_t outlen)
{
	char *peer = NULL;
	ev_uint16_t port = 0;

	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &peer, &port);
	if (g_local || peer == NULL || peer[0] == '\0')
		snprintf(out, outlen, "127.0.0.1");
	else
		snprintf(out, outlen, "%s", peer);
}

/* Drop n bytes of in after its first keep bytes. */
static void
gate_drop(struct evbuffer *in, size_t keep, size_t n)
{
	if (keep > 0)
		evbuffer_remove_buffer(in, srv_scratch, keep);
	evbuffer_drain(in, n);
	if (keep > 0)
		evbuffer_prepend_buffer(in, srv_scratch);
}

/* Move the bytes of in after its first keep bytes to dst (or drop them
 * when dst is NULL). */
static void
gate_take(struct evbuffer *in, size_t keep, struct evbuffer *dst)
{
	if (keep > 0)
		evbuffer_remove_buffer(in, srv_scratch, keep);
	if (dst != NULL)
		evbuffer_add_buffer(dst, in);
	else
		evbuffer_drain(in, evbuffer_get_length(in));
	if (keep > 0)
		evbuffer_prepend_buffer(in, srv_scratch);
}

/* A parsed head (the gate's view; evhttp parses the same bytes again). */
struct ghead {
	char *line;                  /* request line, NUL-terminated (in the copy) */
	enum evhttp_cmd_type method; /* 0 when not GET, POST or HEAD */
	struct evhttp_uri *uri;      /* parsed target, NULL when it does not parse */
	struct evkeyvalq h;          /* headers as evhttp keeps them */
	bool bad;                    /* malformed request line or header */
};

/* Parse a head (a NUL-terminated copy whose lines end in LF) the way
 * evhttp 2.1 does, so both read the same framing: "METHOD SP target SP
 * version", then "Name: value" lines (the name untrimmed, leading spaces
 * and trailing spaces and tabs off the value; a line starting with a space
 * or tab continues the previous value, joined by one space). */
static void
ghead_parse(char *txt, struct ghead *g)
{
	char *p = txt, *nl;
	bool first = true;

	TAILQ_INIT(&g->h);
	while ((nl = strchr(p, '\n')) != NULL) {
		char *line = p;
		size_t l = (size_t)(nl - p);

		p = nl + 1;
		if (l > 0 && line[l - 1] == '\r')
			l--;
		line[l] = '\0';
		if (l == 0)
			break;
		if (first) {
			char *sp1 = strchr(line, ' '), *sp2;

			first = false;
			g->line = line;
			sp2 = sp1 != NULL ? strchr(sp1 + 1, ' ') : NULL;
			if (sp1 == NULL || sp2 == NULL || strchr(sp2 + 1, ' ') != NULL) {
				g->bad = true;
				continue;
			}
			if ((size_t)(sp1 - line) == 3 && memcmp(line, "GET", 3) == 0)
				g->method = EVHTTP_REQ_GET;
			else if ((size_t)(sp1 - line) == 4 && memcmp(line, "POST", 4) == 0)
				g->method = EVHTTP_REQ_POST;
			else if ((size_t)(sp1 - line) == 4 && memcmp(line, "HEAD", 4) == 0)
				g->method = EVHTTP_REQ_HEAD;
			{
				char *t = strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));

				if (t != NULL)
					g->uri = evhttp_uri_parse_with_flags(t, EVHTTP_URI_NONCONFORMANT);
				free(t);
			}
			continue;
		}
		if (*line == ' ' || *line == '\t') {
			struct evkeyval *last = TAILQ_LAST(&g->h, evkeyvalq);
			size_t ol, al;
			char *nv;

			while (*line == ' ' || *line == '\t')
				line++;
			al = strlen(line);
			while (al > 0 && (line[al - 1] == ' ' || line[al - 1] == '\t'))
				line[--al] = '\0';
			if (last == NULL) {
				g->bad = true;
				continue;
			}
			ol = strlen(last->value);
			if ((nv = realloc(last->value, ol + al + 2)) == NULL) {
				g->bad = true;
				continue;
			}
			nv[ol] = ' ';
			memcpy(nv + ol + 1, line, al + 1);
			last->value = nv;
			continue;
		}
		{
			char *colon = strchr(line, ':'), *v, *e;

			if (colon == NULL) {
				g->bad = true;
				continue;
			}
			*colon = '\0';
			/* evhttp skips spaces only (not tabs) before a value:
			 * the same here, or "Transfer-Encoding:<TAB>chunked"
			 * would frame the body one way for us and another for
			 * evhttp. */
			v = colon + 1;
			while (*v == ' ')
				v++;
			e = v + strlen(v);
			while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
				*--e = '\0';
			if (evhttp_add_header(&g->h, line, v) != 0)
				g->bad = true;
		}
	}
}

static void
ghead_release(struct ghead *g)
{
	evhttp_clear_headers(&g->h);
	if (g->uri != NULL)
		evhttp_uri_free(g->uri);
}

/* The head of len bytes at h again, without the lines named in drop (and
 * their continuations), with extra lines before the blank line. */
static void
gate_rewrite(const char *h, size_t len, const char *const *drop, const char *extra,
    bool close, struct evbuffer *out)
{
	const char *p = h, *end = h + len;
	bool first = true, skipping = false;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		size_t ll = l;
		size_t i;

		/* One LF and one CR before it, as evbuffer_readln takes them. */
		if (ll > 0 && p[ll - 1] == '\n')
			ll--;
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll == 0)
			break;
		if (first) {
			first = false;
		} else if (p[0] == ' ' || p[0] == '\t') {
			if (skipping) {
				p += l;
				continue;
			}
		} else {
			skipping = false;
			for (i = 0; drop[i] != NULL; i++)
				if (ll > strlen(drop[i]) && p[strlen(drop[i])] == ':' &&
				    strncasecmp(p, drop[i], strlen(drop[i])) == 0)
					skipping = true;
			if (skipping) {
				p += l;
				continue;
			}
		}
		evbuffer_add(out, p, ll);
		evbuffer_add(out, "\r\n", 2);
		p += l;
	}
	evbuffer_add_printf(out, "%s%s\r\n", extra, close ? "Connection: close\r\n" : "");
}

/* Decide a complete head of hl bytes at the front of the stash; append
 * what evhttp is to read to in and set the state. */
static void
gate_decide(struct conn *cn, struct evbuffer *in, size_t hl)
{
	static const char *const drop_body[] = { "Content-Length", "Transfer-Encoding", "Expect",
		"Connection", GATE_HEADER, NULL };
	static const char *const drop_keep[] = { "Content-Length", "Transfer-Encoding", "Expect",
		GATE_HEADER, NULL };
	const struct cfg *c = snapshot_current()->cfg;
	struct evhttp_connection *evcon = NULL;
	struct gate_route r;
	struct ghead g;
	char *txt = NULL, *work = NULL, client[64], peer[64], extra[64];
	const char *te, *cl;
	int verdict = 0;
	bool framed = false;
	long long clen = 0;
	void *arg = NULL;

	memset(&g, 0, sizeof(g));
	TAILQ_INIT(&g.h);
	extra[0] = '\0';
	{
		bufferevent_data_cb rd, wr;
		bufferevent_event_cb ev;

		bufferevent_getcb(cn->bev, &rd, &wr, &ev, &arg);
		evcon = arg;
	}
	if ((txt = malloc(hl + 1)) == NULL) {
		verdict = 503;
		goto refuse;
	}
	evbuffer_copyout(cn->stash, txt, hl);
	txt[hl] = '\0';
	if (memchr(txt, '\0', hl) != NULL) {
		/* evhttp would cut a header value at the NUL: "K\0junk" would
		 * read as "K". */
		verdict = 400;
		goto refuse;
	}
	/* ghead_parse cuts its text up; txt stays whole for gate_rewrite. */
	if ((work = malloc(hl + 1)) == NULL) {
		verdict = 503;
		goto refuse;
	}
	memcpy(work, txt, hl + 1);
	ghead_parse(work, &g);
	if (cn->over) {
		verdict = 503;
		goto refuse;
	}
	if (g.bad || g.method == 0 || g.uri == NULL) {
		/* evhttp answers these itself (400, 501): no body for it. */
		goto refuse;
	}
	if (g.method != EVHTTP_REQ_POST) {
		framed = true; /* evhttp reads no body for GET and HEAD */
	} else if ((te = evhttp_find_header(&g.h, "Transfer-Encoding")) == NULL &&
	    ((cl = evhttp_find_header(&g.h, "Content-Length")) == NULL ||
	    str_to_ll(cl, strlen(cl), 0, LLONG_MAX, &clen) == CP_OK)) {
		framed = true;
	}
	g_route(evhttp_uri_get_path(g.uri), g.method, &r);
	if (!r.known) {
		/* dispatch answers 404 or 405, without the body */
		goto refuse;
	}
	if (r.auth) {
		gate_peer(evcon, peer, sizeof(peer));
		ca_client_address(&g.h, peer, c, client, sizeof(client));
		if (!ca_authorized(&g.h, evhttp_uri_get_query(g.uri), c, client)) {
			verdict = 401;
			goto refuse;
		}
	}
	if (g.method != EVHTTP_REQ_POST || !r.body) {
		/* evhttp reads no body for GET and HEAD. */
		evbuffer_remove_buffer(cn->stash, in, hl);
		cn->st = G_HEAD;
		goto out;
	}
	te = evhttp_find_header(&g.h, "Transfer-Encoding");
	cl = evhttp_find_header(&g.h, "Content-Length");
	if (te != NULL && strcasecmp(te, "chunked") == 0) {
		const char *ex = evhttp_find_header(&g.h, "Expect");

		if ((cn->ck = calloc(1, sizeof(*cn->ck))) == NULL ||
		    (cn->ck->raw = evbuffer_new()) == NULL ||
		    (cn->ck->body = evbuffer_new()) == NULL) {
			dechunk_free(cn->ck);
			cn->ck = NULL;
			verdict = 503;
			goto refuse;
		}
		cn->ck->head = txt;
		cn->ck->head_len = hl;
		cn->ck->cap = c->request_body_max > 0 ? (size_t)c->request_body_max : 0;
		txt = NULL;
		if (evcon != NULL)
			evhttp_connection_set_max_body_size(evcon, c->request_body_max);
		/* evhttp never sees this Expect: the gate answers it, on the
		 * socket itself (evhttp does not write while it reads a
		 * request) and only when no earlier answer is still queued. A
		 * client that does not get it sends the body after its own
		 * wait (RFC 9110 10.1.1). */
		if (ex != NULL && strcasecmp(ex, "100-continue") == 0 &&
		    evbuffer_get_length(bufferevent_get_output(cn->bev)) == 0 &&
		    bufferevent_getfd(cn->bev) >= 0 &&
		    send(bufferevent_getfd(cn->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25,
		    MSG_NOSIGNAL | MSG_DONTWAIT) != 25)
			log_debug("could not send 100 Continue");
		evbuffer_drain(cn->stash, hl);
		cn->st = G_CHUNKED;
		goto out;
	}
	if (cl != NULL && str_to_ll(cl, strlen(cl), 0, LLONG_MAX, &clen) != CP_OK) {
		verdict = 400;
		goto refuse;
	}
	framed = true;
	if (clen > c->request_body_max) {
		verdict = 413;
		goto refuse;
	}
	if (evcon != NULL)
		evhttp_connection_set_max_body_size(evcon, c->request_body_max);
	evbuffer_remove_buffer(cn->stash, in, hl);
	cn->body_left = (ev_uint64_t)clen;
	cn->st = clen > 0 ? G_BODY : G_HEAD;
	goto out;
refuse:
	if (verdict != 0)
		snprintf(extra, sizeof(extra), GATE_HEADER ": %d\r\n", verdict);
	if (framed && !cn->over && verdict != 400 && work != NULL) {
		/* Keep-alive: the body (if any) is dropped as it comes. */
		gate_rewrite(txt, hl, drop_keep, extra, false, in);
		evbuffer_drain(cn->stash, hl);
		cn->body_left = g.method == EVHTTP_REQ_POST ? (ev_uint64_t)clen : 0;
		cn->st = cn->body_left > 0 ? G_SKIP : G_HEAD;
		goto out;
	}
	if (txt != NULL && work != NULL && g.line != NULL && !(verdict != 0 && g.bad)) {
		gate_rewrite(txt, hl, drop_body, extra, true, in);
	} else {
		/* Nothing usable to keep: a minimal head that carries the
		 * verdict (or that evhttp refuses, as it would the original). */
		evbuffer_add_printf(in, "%s HTTP/1.1\r\n%s", verdict != 0 ? "GET /" : "BAD", extra);
		evbuffer_add_printf(in, "Connection: close\r\n\r\n");
	}
	evbuffer_drain(cn->stash, evbuffer_get_length(cn->stash));
	cn->st = G_DISCARD;
out:
	ghead_release(&g);
	free(work);
	free(txt);
}

/* One line of raw (LF or CRLF, as evhttp reads them) into line (at most
 * max bytes, terminator off). 1: got it; 0: not complete yet; -1: too long. */
static int
dechunk_line(struct evbuffer *raw, char *line, size_t max, size_t *len)
{
	struct evbuffer_ptr e;
	size_t eol = 0;

	e = evbuffer_search_eol(raw, NULL, &eol, EVBUFFER_EOL_CRLF);
	if (e.pos < 0) {
		size_t n = evbuffer_get_length(raw);
		unsigned char last = 0;

		/* A CR at the end may be the first half of the CRLF. */
		if (n > 0 && evbuffer_ptr_set(raw, &e, n - 1, EVBUFFER_PTR_SET) == 0)
			evbuffer_copyout_from(raw, &e, &last, 1);
		return n > max + 1 || (n == max + 1 && last != '\r') ? -1 : 0;
	}
	if ((size_t)e.pos > max)
		return -1;
	if (line != NULL)
		evbuffer_copyout(raw, line, (size_t)e.pos);
	*len = (size_t)e.pos;
	evbuffer_drain(raw, (size_t)e.pos + eol);
	return 1;
}

/* chunk-size [ BWS ";" chunk-ext ] of a line of len bytes. */
static int
dechunk_size(const char *line, size_t len, ev_uint64_t *out)
{
	ev_uint64_t v = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		int d;
		char ch = line[i];

		if (ch >= '0' && ch <= '9')
			d = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			d = ch - 'a' + 10;
		else if (ch >= 'A' && ch <= 'F')
			d = ch - 'A' + 10;
		else
			break;
		if (v > (UINT64_MAX >> 4))
			return CP_EINVAL;
		v = v << 4 | (ev_uint64_t)d;
	}
	if (i == 0)
		return CP_EINVAL;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i < len && line[i] != ';')
		return CP_EINVAL;
	*out = v;
	return CP_OK;
}

/* Parse what raw holds. 0: more bytes are needed; 200: the body is
 * complete (raw keeps what follows it); 400 or 413: refused. */
static int
dechunk_feed(struct dechunk *ck)
{
	char line[GATE_CHUNK_LINE_MAX];
	size_t len, n;
	int r;

	for (;;) {
		switch (ck->st) {
		case DC_SIZE:
			if ((r = dechunk_line(ck->raw, line, sizeof(line), &len)) <= 0)
				return r < 0 ? 400 : 0;
			if (dechunk_size(line, len, &ck->left) != CP_OK)
				return 400;
			if (ck->left > ck->cap - evbuffer_get_length(ck->body))
				return 413;
			ck->st = ck->left == 0 ? DC_TRAILER : DC_DATA;
			break;
		case DC_DATA:
			n = evbuffer_get_length(ck->raw);
			if (n == 0)
				return 0;
			if ((ev_uint64_t)n > ck->left)
				n = (size_t)ck->left;
			if (evbuffer_remove_buffer(ck->raw, ck->body, n) != (int)n)
				return 400;
			ck->left -= n;
			if (ck->left == 0)
				ck->st = DC_DATA_END;
			break;
		case DC_DATA_END:
			if ((r = dechunk_line(ck->raw, NULL, 0, &len)) <= 0)
				return r < 0 ? 400 : 0;
			ck->st = DC_SIZE;
			break;
		case DC_TRAILER:
			/* Trailer fields are read and dropped (RFC 9112 7.1.2
			 * lets a recipient discard them). */
			if ((r = dechunk_line(ck->raw, NULL, PXD_HEADERS_MAX, &len)) <= 0)
				return r < 0 ? 400 : 0;
			ck->trailer += len + 2;
			if (ck->trailer > PXD_HEADERS_MAX)
				return 400;
			if (len == 0)
				return 200;
			break;
		}
	}
}

/* Feed the bytes of a chunked body; once it is decided, append to in
 * what evhttp is to read (the head with a Content-Length and the body, or
 * a refused head) and set the state. true when it was decided. */
static bool
gate_dechunk(struct conn *cn, struct evbuffer *in)
{
	static const char *const drop_len[] = { "Content-Length", "Transfer-Encoding", "Expect",
		GATE_HEADER, NULL };
	static const char *const drop_body[] = { "Content-Length", "Transfer-Encoding", "Expect",
		"Connection", GATE_HEADER, NULL };
	struct dechunk *ck = cn->ck;
	char extra[64];
	int r = dechunk_feed(ck);

	if (r == 0)
		return false;
	if (r == 200) {
		snprintf(extra, sizeof(extra), "Content-Length: %zu\r\n",
		    evbuffer_get_length(ck->body));
		gate_rewrite(ck->head, ck->head_len, drop_len, extra, false, in);
		evbuffer_add_buffer(in, ck->body);
		/* What followed the body is the next head. */
		evbuffer_add_buffer(cn->stash, ck->raw);
		cn->st = G_HEAD;
	} else {
		snprintf(extra, sizeof(extra), GATE_HEADER ": %d\r\n", r);
		gate_rewrite(ck->head, ck->head_len, drop_body, extra, true, in);
		cn->st = G_DISCARD;
	}
	dechunk_free(ck);
	cn->ck = NULL;
	return true;
}

/* Try to complete the head in the stash. true when it was decided. */
static bool
gate_head(struct conn *cn, struct evbuffer *in)
{
	struct evbuffer_ptr p, e;
	size_t eol = 0, hl = 0;

	if (evbuffer_ptr_set(cn->stash, &p, 0, EVBUFFER_PTR_SET) != 0)
		return false;
	for (;;) {
		e = evbuffer_search_eol(cn->stash, &p, &eol, EVBUFFER_EOL_CRLF);
		if (e.pos < 0)
			break;
		if (e.pos == p.pos || (size_t)e.pos + eol > PXD_HEADERS_MAX) {
			hl = (size_t)e.pos + eol;
			break;
		}
		if (evbuffer_ptr_set(cn->stash, &p, (size_t)e.pos + eol, EVBUFFER_PTR_SET) != 0)
			return false;
	}
	if (hl == 0 && evbuffer_get_length(cn->stash) <= PXD_HEADERS_MAX)
		return false;
	if (hl == 0 || hl > PXD_HEADERS_MAX) {
		/* Too long a head: evhttp gets one it refuses (as it would this
		 * one), the connection closes. */
		evbuffer_add_printf(in, "GET / HTTP/1.1\r\n" GATE_HEADER ": 431\r\n"
		    "Connection: close\r\n\r\n");
		evbuffer_drain(cn->stash, evbuffer_get_length(cn->stash));
		cn->st = G_DISCARD;
		return true;
	}
	gate_decide(cn, in, hl);
	return true;
}

/* A request head must be complete PXD_HEAD_TIMEOUT_S after the connection
 * opened or after its first byte, and a refused body must have arrived
 * PXD_HEAD_TIMEOUT_S after its head (slowloris: a client that drips would
 * otherwise hold its max-connections slot for the whole I/O timeout). An
 * exchange in flight on the connection is never cut for a slow pipelined
 * head: the timer waits for it. */
static void
head_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { PXD_HEAD_TIMEOUT_S, 0 };
	struct conn *cn = arg;

	(void)fd;
	(void)what;
	if (cn->closed)
		return;
	if (cn->close_fn != NULL || !conn_setup(cn)) {
		evtimer_add(cn->head_tmr, &tv);
		return;
	}
	log_info("closing a client connection: no complete request head within %d s",
	    PXD_HEAD_TIMEOUT_S);
	/* evhttp sees an end of file and frees the connection (closecb). */
	bufferevent_trigger_event(cn->bev, BEV_EVENT_EOF | BEV_EVENT_READING, 0);
}

/* The evbuffer callback on a connection's input: new bytes were added at
 * its end (a read from the socket). */
static void
gate_cb(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *cn = arg;
	size_t nnew, old;

	if (cn->in_cb || info->n_added == 0 || cn->closed)
		return;
	cn->in_cb = true;
	conn_setup(cn);
	nnew = info->n_added;
	old = evbuffer_get_length(in) - nnew;
	while (nnew > 0) {
		if (cn->st == G_CHUNKED) {
			gate_take(in, old, cn->ck->raw);
			nnew = 0;
			if (!gate_dechunk(cn, in))
				break;
			if (cn->st == G_DISCARD)
				break;
			/* The next head, if any of it came, is classified. */
			old = evbuffer_get_length(in);
			evbuffer_add_buffer(in, cn->stash);
			nnew = evbuffer_get_length(in) - old;
			continue;
		}
		if (cn->st == G_BODY) {
			size_t k = nnew < cn->body_left ? nnew : (size_t)cn->body_left;

			cn->body_left -= k;
			old += k;
			nnew -= k;
			if (cn->body_left == 0)
				cn->st = G_HEAD;
			continue;
		}
		if (cn->st == G_SKIP) {
			size_t k = nnew < cn->body_left ? nnew : (size_t)cn->body_left;

			gate_drop(in, old, k);
			cn->body_left -= k;
			nnew -= k;
			if (cn->body_left == 0) {
				cn->st = G_HEAD;
				if (cn->head_tmr != NULL)
					evtimer_del(cn->head_tmr);
			}
			continue;
		}
		if (cn->st == G_DISCARD) {
			gate_take(in, old, NULL);
			break;
		}
		if (evbuffer_get_length(cn->stash) == 0 && cn->head_tmr != NULL) {
			struct timeval tv = { PXD_HEAD_TIMEOUT_S, 0 };

			evtimer_add(cn->head_tmr, &tv); /* a head begins */
		}
		gate_take(in, old, cn->stash);
		nnew = 0;
		if (!gate_head(cn, in))
			break;
		if (cn->head_tmr != NULL && cn->st != G_SKIP)
			evtimer_del(cn->head_tmr);
		/* G_SKIP: a refused body gets the same time to arrive. */
		/* What followed the head is classified again. */
		old = evbuffer_get_length(in);
		evbuffer_add_buffer(in, cn->stash);
		nnew = evbuffer_get_length(in) - old;
	}
	cn->in_cb = false;
}

/* evhttp_set_bevcb: every client connection's bufferevent, gated. */
static struct bufferevent *
conn_new_bev(struct event_base *base, void *arg)
{
	struct timeval now = { 0, 0 };
	struct bufferevent *bev;
	struct conn *cn;

	(void)arg;
	if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return NULL;
	if ((cn = calloc(1, sizeof(*cn))) == NULL || (cn->stash = evbuffer_new()) == NULL ||
	    (cn->cb = evbuffer_add_cb(bufferevent_get_input(bev), gate_cb, cn)) == NULL) {
		/* No gate: evhttp's own cap (the largest request-body-max)
		 * still holds. */
		log_warnx("cannot set up a client connection: out of memory");
		if (cn != NULL)
			evbuffer_free(cn->stash);
		free(cn);
		return bev;
	}
	cn->bev = bev;
	cn->fd = -1;
	bufferevent_incref(bev);
	srv_nconns++;
	cn->next = srv_conns;
	if (srv_conns != NULL)
		srv_conns->prev = cn;
	srv_conns = cn;
	cn->over = srv_nconns > (size_t)snapshot_current()->cfg->max_connections;
	if (cn->over)
		status_ctr.refused_connections++;
	if ((cn->head_tmr = evtimer_new(base, head_timeout_cb, cn)) != NULL) {
		struct timeval tv = { PXD_HEAD_TIMEOUT_S, 0 };

		evtimer_add(cn->head_tmr, &tv); /* the first head, from the connect */
	}
	cn->once = event_base_once(base, -1, EV_TIMEOUT, conn_setup_cb, cn, &now) == 0;
	if (!cn->once)
		log_warnx("cannot schedule a connection set-up");
	return bev;
}

int
gate_init(struct evhttp *http, gate_route_fn route)
{
	g_route = route;
	if (srv_scratch == NULL && (srv_scratch = evbuffer_new()) == NULL)
		return CP_ENOMEM;
	evhttp_set_bevcb(http, conn_new_bev, NULL);
	return CP_OK;
}

void
gate_set_local_peers(bool local)
{
	g_local = local;
}

void
gate_free(void)
{
	/* Connections evhttp freed before their set-up ran, and set-ups that
	 * will not run any more. */
	while (srv_conns != NULL) {
		struct conn *cn = srv_conns;

		cn->once = false;
		if (cn->closed)
			conn_free(cn);
		else
			conn_release(cn);
	}
	if (srv_scratch != NULL)
		evbuffer_free(srv_scratch);
	srv_scratch = NULL;
	free(srv_conn_by_fd);
	srv_conn_by_fd = NULL;
	srv_conn_cap = 0;
}
