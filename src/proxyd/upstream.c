/*
 * upstream.c - libcurl multi on the daemon's libevent loop (DESIGN 6).
 *
 * The structure is curl's docs/examples/hiperfifo.c (STYLE.md "Files and
 * events"): CURLMOPT_SOCKETFUNCTION assigns one event per socket,
 * CURLMOPT_TIMERFUNCTION arms one timer, and curl_multi_info_read is
 * drained after every curl_multi_socket_action. Unlike the example, errors
 * never exit: they are logged and the transfer concerned is failed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event_struct.h>

#include "proxyd.h"

/*
 * One record per socket curl has told us about, found by descriptor.
 * When curl stops watching a connection's socket (CURL_POLL_REMOVE) that
 * stays open in its connection cache, the epoll registration is kept: the
 * next transfer on that connection wants CURL_POLL_IN again, and keeping
 * the event saves an epoll_ctl pair per request on a reused connection
 * (bench figure 5). That record goes only when curl closes the socket,
 * which it does through up_close_fn (CURLOPT_CLOSESOCKETFUNCTION, set on
 * every transfer and inherited by the connection): libevent must forget a
 * descriptor before it is closed, or a new socket with the same number
 * would never be registered. Only sockets opened through up_open_fn are
 * such connections; curl closes its other descriptors (the threaded
 * resolver's socketpair) itself, so their records go at CURL_POLL_REMOVE.
 */
struct up_sock {
	struct event ev;          /* its event (EV_PERSIST), set when armed */
	short kind;               /* EV_READ|EV_WRITE armed, 0 when not */
	bool wanted;              /* curl watches it (not CURL_POLL_REMOVE) */
	bool conn;                /* a connection: closes through up_close_fn */
};

#define UP_FD_MAX (1 << 20)       /* descriptors the table may index */

static struct event_base *up_base;
static CURLM *up_multi;
static struct event *up_timer;   /* the one timer curl asks for */
static int up_running;           /* transfers curl still runs */
static size_t up_active;         /* handles we added */
static CURL *up_free[PXD_UP_EASY_FREE_MAX]; /* reset easy handles to reuse */
static size_t up_n_free;         /* how many of them */
static struct up_sock **up_socks; /* by descriptor, NULL when unknown */
static size_t up_n_socks;        /* slots in up_socks */

static void
up_check_info(void)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(up_multi, &left)) != NULL) {
		struct up_xfer *x = NULL;
		CURL *e;
		CURLcode rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		e = msg->easy_handle;
		rc = msg->data.result;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
		/* msg points into the multi; read it before removing. */
		curl_multi_remove_handle(up_multi, e);
		if (x == NULL)
			continue;
		x->active = false;
		up_active--;
		if (x->done != NULL)
			x->done(x, rc);
	}
}

static void
up_action(curl_socket_t fd, int flags)
{
	CURLMcode mc;

	mc = curl_multi_socket_action(up_multi, fd, flags, &up_running);
	if (mc != CURLM_OK)
		log_warnx("curl multi socket action: %s", curl_multi_strerror(mc));
	/* Unlike hiperfifo, the timer is not deleted when nothing runs: a
	 * done() above may already have added the next attempt, whose timer
	 * curl has just armed. curl disarms it itself (timeout -1). */
	up_check_info();
}

static void
up_event_cb(evutil_socket_t fd, short kind, void *arg)
{
	struct up_sock *s = arg;
	int flags = 0;

	if (!s->wanted) {
		/* An idle cached connection became readable: the upstream
		 * closed it (or sent something unasked). Stop watching; curl's
		 * own check before reuse finds it dead and closes it. */
		event_del(&s->ev);
		s->kind = 0;
		return;
	}
	if (kind & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (kind & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	up_action(fd, flags);
}

static void
up_timer_cb(evutil_socket_t fd, short kind, void *arg)
{
	(void)fd;
	(void)kind;
	(void)arg;
	up_action(CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_TIMERFUNCTION: -1 deletes the timer, anything else (0 too)
 * re-arms it; the action itself always runs from the loop. */
static int
up_timer_fn(CURLM *multi, long timeout_ms, void *userp)
{
	struct timeval tv;

	(void)multi;
	(void)userp;
	if (timeout_ms < 0) {
		evtimer_del(up_timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(up_timer, &tv);
	return 0;
}

/* The record of fd, created when create is set; NULL when there is none
 * (or no memory for one). */
static struct up_sock *
up_sock_get(curl_socket_t fd, bool create)
{
	struct up_sock **nv;
	size_t n;

	if (fd < 0 || fd >= UP_FD_MAX)
		return NULL;
	if ((size_t)fd < up_n_socks && up_socks[fd] != NULL)
		return up_socks[fd];
	if (!create)
		return NULL;
	if ((size_t)fd >= up_n_socks) {
		n = up_n_socks > 0 ? up_n_socks : 64;
		while (n <= (size_t)fd)
			n *= 2;
		if ((nv = realloc(up_socks, n * sizeof(*nv))) == NULL)
			return NULL;
		memset(nv + up_n_socks, 0, (n - up_n_socks) * sizeof(*nv));
		up_socks = nv;
		up_n_socks = n;
	}
	return up_socks[fd] = calloc(1, sizeof(struct up_sock));
}

static void
up_sock_forget(curl_socket_t fd)
{
	struct up_sock *s = up_sock_get(fd, false);

	if (s == NULL)
		return;
	if (s->kind != 0)
		event_del(&s->ev);
	free(s);
	up_socks[fd] = NULL;
}

/* CURLMOPT_SOCKETFUNCTION: arm the event only when the set curl wants
 * changes; REMOVE keeps a read event armed (see struct up_sock). */
static int
up_sock_fn(CURL *e, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct up_sock *s;
	short kind = 0;

	(void)e;
	(void)userp;
	(void)sockp;
	if (what == CURL_POLL_REMOVE) {
		if ((s = up_sock_get(fd, false)) == NULL)
			return 0;
		if (!s->conn) {
			up_sock_forget(fd);
			return 0;
		}
		s->wanted = false;
		if (s->kind & EV_WRITE) {
			/* A writable socket would wake us at every turn. */
			event_del(&s->ev);
			s->kind = 0;
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if ((s = up_sock_get(fd, true)) == NULL) {
		log_errx("cannot allocate a socket record");
		return -1;
	}
	s->wanted = true;
	if (s->kind == kind)
		return 0;
	if (s->kind != 0)
		event_del(&s->ev);
	s->kind = 0;
	if (event_assign(&s->ev, up_base, fd, kind | EV_PERSIST, up_event_cb, s) != 0 ||
	    event_add(&s->ev, NULL) != 0) {
		log_errx("cannot watch an upstream socket");
		return -1;
	}
	s->kind = kind;
	return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: a connection's socket, marked as one that
 * closes through up_close_fn (see struct up_sock). */
static curl_socket_t
up_open_fn(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct up_sock *s;
	curl_socket_t fd;

	(void)clientp;
	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if ((fd = socket(a->family, a->socktype, a->protocol)) == CURL_SOCKET_BAD)
		return CURL_SOCKET_BAD;
	/* A record under this number is stale: its descriptor was closed
	 * without a REMOVE reaching us. */
	up_sock_forget(fd);
	if ((s = up_sock_get(fd, true)) == NULL) {
		close(fd);
		return CURL_SOCKET_BAD;
	}
	s->conn = true;
	return fd;
}

/* CURLOPT_CLOSESOCKETFUNCTION: forget the socket, then close it. */
static int
up_close_fn(void *clientp, curl_socket_t fd)
{
	(void)clientp;
	up_sock_forget(fd);
	return close(fd);
}

int
up_init(struct event_base *base)
{
	up_base = base;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return CP_EIO;
	if ((up_multi = curl_multi_init()) == NULL)
		return CP_ENOMEM;
	if ((up_timer = evtimer_new(base, up_timer_cb, NULL)) == NULL)
		return CP_ENOMEM;
	curl_multi_setopt(up_multi, CURLMOPT_SOCKETFUNCTION, up_sock_fn);
	curl_multi_setopt(up_multi, CURLMOPT_TIMERFUNCTION, up_timer_fn);
	/* Connection reuse (DESIGN 6): without MAXCONNECTS libcurl caps its
	 * idle cache at 4x the handles currently added, which drops to a few
	 * between bursts and closes the idle upstream connections the next
	 * burst would have reused (bench figure 5: 1 request in 7 opened a
	 * new connection at 16 clients). A fixed cap keeps them; the number
	 * of connections per host stays unlimited, as before. */
	curl_multi_setopt(up_multi, CURLMOPT_MAXCONNECTS, (long)PXD_UP_IDLE_MAX);
	curl_multi_setopt(up_multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
	return CP_OK;
}

void
up_shutdown(void)
{
	size_t i;

	while (up_n_free > 0)
		curl_easy_cleanup(up_free[--up_n_free]);
	if (up_multi != NULL)
		curl_multi_cleanup(up_multi); /* closes sockets: up_close_fn */
	up_multi = NULL;
	for (i = 0; i < up_n_socks; i++)
		up_sock_forget((curl_socket_t)i);
	free(up_socks);
	up_socks = NULL;
	if (up_timer != NULL)
		event_free(up_timer);
	up_timer = NULL;
	curl_global_cleanup();
}

int
up_start(struct up_xfer *x)
{
	CURLMcode mc;

	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	/* Every connection opens and closes through us (struct up_sock). */
	curl_easy_setopt(x->easy, CURLOPT_OPENSOCKETFUNCTION, up_open_fn);
	curl_easy_setopt(x->easy, CURLOPT_CLOSESOCKETFUNCTION, up_close_fn);
	mc = curl_multi_add_handle(up_multi, x->easy);
	if (mc != CURLM_OK) {
		log_warnx("curl multi add: %s", curl_multi_strerror(mc));
		return CP_EIO;
	}
	x->active = true;
	up_active++;
	return CP_OK;
}

void
up_cancel(struct up_xfer *x)
{
	if (!x->active)
		return;
	curl_multi_remove_handle(up_multi, x->easy);
	x->active = false;
	up_active--;
}

void
up_resume(struct up_xfer *x)
{
	if (x->active)
		curl_easy_pause(x->easy, CURLPAUSE_CONT);
}

size_t
up_n_active(void)
{
	return up_active;
}

/*
 * Easy handles are reused: curl_easy_init + cleanup per request (a large
 * zeroed struct, its receive buffer, default strings) showed up in the
 * profile of bench figure 5. curl_easy_reset clears every option and the
 * request state but keeps the allocations (and the DNS/connection caches
 * live in the multi anyway).
 *
 * A stream's handle is the exception: it lives as long as the stream,
 * so its receive buffer is what an open stream costs (bench figure 6),
 * and SSE events are small. It gets PXD_UP_STREAM_RECVBUF instead of
 * libcurl's 16 KiB, and is never put on the free list: curl_easy_reset
 * keeps the buffer but forgets its size, so a reused small handle would
 * not be safe to read 16 KiB into.
 */
CURL *
up_easy_get(bool stream)
{
	CURL *e;

	if (!stream && up_n_free > 0)
		return up_free[--up_n_free];
	if ((e = curl_easy_init()) != NULL && stream &&
	    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, (long)PXD_UP_STREAM_RECVBUF) != CURLE_OK) {
		curl_easy_cleanup(e);
		e = NULL;
	}
	return e;
}

void
up_easy_put(CURL *e, bool stream)
{
	if (e == NULL)
		return;
	if (stream || up_n_free >= PXD_UP_EASY_FREE_MAX) {
		curl_easy_cleanup(e);
		return;
	}
	curl_easy_reset(e);
	up_free[up_n_free++] = e;
}
