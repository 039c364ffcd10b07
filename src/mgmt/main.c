/*
 * main.c - cliproxy-mgmt: the management API responder (DESIGN 1, 5).
 *
 * Started by a web server (lighttpd mod_fastcgi, Apache mod_fcgid) or by
 * spawn-fcgi, descriptor 0 is a listening socket and we loop on
 * FCGX_Accept_r. Started as a plain CGI program (descriptor 0 is the
 * request body: a pipe, a file, /dev/null) we answer one request from the
 * environment. libfcgi's FCGX_IsCGI() tells the two apart: it asks
 * getpeername(0), which fails with ENOTCONN only on a listening socket.
 *
 * Environment: CLIPROXY_CONFIG (config path, else cfg_default_path());
 * CLIPROXY_BAN_SECONDS (ban length after five failed logins, default 1800;
 * tests make it short).
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "mgmt.h"

/* ------------------------------------------------------- FastCGI I/O */

static const char *
fcgi_getenv(void *ctx, const char *name)
{
	FCGX_Request *r = ctx;

	return FCGX_GetParam(name, r->envp);
}

static long
fcgi_read(void *ctx, char *buf, size_t len)
{
	FCGX_Request *r = ctx;
	int n;

	if (len > 1u << 30)
		len = 1u << 30;
	n = FCGX_GetStr(buf, (int)len, r->in);
	if (n < 0)
		return -1;
	if (n == 0 && FCGX_GetError(r->in) != 0)
		return -1;
	return n;
}

static int
fcgi_write(void *ctx, const char *buf, size_t len)
{
	FCGX_Request *r = ctx;

	while (len > 0) {
		int chunk = len > 1u << 20 ? 1 << 20 : (int)len;

		if (FCGX_PutStr(buf, chunk, r->out) != chunk)
			return CP_EIO;
		buf += chunk;
		len -= (size_t)chunk;
	}
	return CP_OK;
}

/* ----------------------------------------------------------- CGI I/O */

static const char *
cgi_getenv(void *ctx, const char *name)
{
	(void)ctx;
	return getenv(name);
}

static long
cgi_read(void *ctx, char *buf, size_t len)
{
	ssize_t n;

	(void)ctx;
	do
		n = read(0, buf, len);
	while (n < 0 && errno == EINTR);
	return (long)n;
}

static int
cgi_write(void *ctx, const char *buf, size_t len)
{
	(void)ctx;
	while (len > 0) {
		ssize_t n = write(1, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return CP_EIO;
		buf += n;
		len -= (size_t)n;
	}
	return CP_OK;
}

/* ------------------------------------------------------------- main */

static void
serve(const struct mgmt_io *io, struct mgmt_state *st)
{
	struct mgmt_req rq;
	struct mgmt_resp rs;

	req_init(&rq, io, st);
	resp_init(&rs);
	route_dispatch(&rq, &rs);
	rs.head = rq.head;
	if (resp_send(&rs, io) != CP_OK)
		log_warnx("cannot send the response");
	resp_release(&rs);
	req_release(&rq);
}

static long
ban_seconds(void)
{
	const char *s = getenv("CLIPROXY_BAN_SECONDS");
	long long v;

	if (s == NULL || s[0] == '\0')
		return MGMT_BAN_SECONDS;
	if (str_to_ll(s, strlen(s), 1, 365LL * 86400, &v) != CP_OK) {
		log_warnx("ignoring CLIPROXY_BAN_SECONDS '%s': not an integer 1..31536000", s);
		return MGMT_BAN_SECONDS;
	}
	return (long)v;
}

int
main(int argc, char **argv)
{
	struct mgmt_state st;
	const char *cfgpath = getenv("CLIPROXY_CONFIG");

	(void)argv;
	log_init("cliproxy-mgmt", false, LOG_LVL_INFO);
	if (argc > 1) {
		fprintf(stderr, "usage: cliproxy-mgmt (run by a web server as FastCGI or CGI)\n"
		    "environment: CLIPROXY_CONFIG, CLIPROXY_BAN_SECONDS\n");
		return 2;
	}
	/* a web server that goes away must not kill us mid-write */
	signal(SIGPIPE, SIG_IGN);
	memset(&st, 0, sizeof(st));
	st.config_path = cfgpath != NULL && cfgpath[0] != '\0' ? cfgpath : cfg_default_path();
	st.ban_seconds = ban_seconds();
	pw_memo_init(&st.memo);

	if (FCGX_Init() != 0) {
		log_errx("cannot initialize libfcgi");
		return 1;
	}
	if (FCGX_IsCGI()) {
		struct mgmt_io io = { cgi_getenv, cgi_read, cgi_write, NULL };

		if (getenv("GATEWAY_INTERFACE") == NULL && getenv("REQUEST_METHOD") == NULL) {
			fprintf(stderr, "cliproxy-mgmt: not started as FastCGI or CGI "
			    "(no listening socket on descriptor 0, no GATEWAY_INTERFACE)\n");
			return 2;
		}
		serve(&io, &st);
	} else {
		FCGX_Request r;
		struct mgmt_io io = { fcgi_getenv, fcgi_read, fcgi_write, &r };

		if (FCGX_InitRequest(&r, 0, 0) != 0) {
			log_errx("cannot initialize the FastCGI request");
			return 1;
		}
		while (FCGX_Accept_r(&r) >= 0) {
			serve(&io, &st);
			FCGX_Finish_r(&r);
		}
		FCGX_Free(&r, 1);
	}
	cfg_free(st.cfg);
	return 0;
}
