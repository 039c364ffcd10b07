/*
 * server.c - the evhttp front of cliproxyd: listening, limits, the route
 * table, client address and client key checks (DESIGN 6).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "proxyd.h"

static struct event_base *srv_base;
static struct evhttp *srv_http;
static struct evhttp_bound_socket *srv_bound;  /* the listening socket */
static char srv_desc[300];                     /* what we listen on */
static char srv_unix_path[108];                /* unix socket to unlink at exit */
static bool srv_stopping;                      /* SIGTERM received */
static struct event *srv_grace;                /* shutdown deadline */

typedef void (*route_fn)(struct evhttp_request *req, const char *client);

struct route {
	enum evhttp_cmd_type method;   /* GET or POST */
	const char *path;              /* exact path */
	bool auth;                     /* needs a client key (DESIGN 6) */
	bool body;                     /* takes a body (up to request-body-max) */
	const struct codec *fmt;         /* format of the body and of errors */
	route_fn fn;                   /* handler, or NULL for relay */
};

static void h_info(struct evhttp_request *req, const char *client);
static void h_healthz(struct evhttp_request *req, const char *client);
static void h_models(struct evhttp_request *req, const char *client);

/* The route table (STYLE.md "Tables over branches"). Claude, Gemini and
 * Responses endpoints join it with their formats. */
static const struct route routes[] = {
	{ EVHTTP_REQ_GET, "/", false, false, NULL, h_info },
	{ EVHTTP_REQ_GET, "/healthz", false, false, NULL, h_healthz },
	{ EVHTTP_REQ_GET, "/v1/models", true, false, &codec_openai_chat, h_models },
	{ EVHTTP_REQ_POST, "/v1/chat/completions", true, true, &codec_openai_chat, NULL },
	{ EVHTTP_REQ_POST, "/v1/completions", true, true, &codec_openai_completions, NULL },
};

/* ------------------------------------------------------------ replies */

static void
send_json(struct evhttp_request *req, int status, const char *reason, const char *body)
{
	struct evbuffer *eb = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "application/json");
	if (srv_stopping)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
	if (eb == NULL) {
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	evbuffer_add(eb, body, strlen(body));
	evhttp_send_reply(req, status, reason, eb);
	evbuffer_free(eb);
}

static const char *
err_reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 431: return "Request Header Fields Too Large";
	case 429: return "Too Many Requests";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

void
server_send_error(struct evhttp_request *req, const struct codec *fmt, int status,
    const char *message, const char *type, const char *code)
{
	struct buf b;

	buf_init(&b, 64 * 1024);
	if (fmt != NULL)
		fmt->error_body(&b, status, pv_err_of_status(status), message, type, code);
	else
		fmt_openai_error(&b, status, pv_err_of_status(status), message, type, code);
	if (status == 401)
		status_ctr.unauthorized++;
	send_json(req, status, err_reason(status), b.p != NULL ? b.p : "{}");
	buf_release(&b);
}

/* ------------------------------------------------------------ handlers */

/* Answer 200 with o printed (and free it); NULL, or a failed print, is the
 * out-of-memory answer. */
static void
send_cjson(struct evhttp_request *req, cJSON *o)
{
	char *txt = o != NULL ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	if (txt == NULL) {
		server_send_error(req, NULL, 500, "out of memory", "server_error", NULL);
		return;
	}
	send_json(req, 200, "OK", txt);
	free(txt);
}

static void
h_info(struct evhttp_request *req, const char *client)
{
	cJSON *o = cJSON_CreateObject(), *eps;
	size_t i;

	(void)client;
	if (o == NULL)
		goto fail;
	cJSON_AddStringToObject(o, "name", "cliproxyd");
	cJSON_AddStringToObject(o, "version", PACKAGE_VERSION);
	cJSON_AddStringToObject(o, "message", "CLI Proxy API server");
	if ((eps = cJSON_AddArrayToObject(o, "endpoints")) == NULL)
		goto fail;
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		char line[128];

		snprintf(line, sizeof(line), "%s %s",
		    routes[i].method == EVHTTP_REQ_GET ? "GET" : "POST", routes[i].path);
		cJSON_AddItemToArray(eps, cJSON_CreateString(line));
	}
	send_cjson(req, o);
	return;
fail:
	send_cjson(req, NULL);
	cJSON_Delete(o);
}

static void
h_healthz(struct evhttp_request *req, const char *client)
{
	(void)client;
	send_json(req, 200, "OK", "{\"status\":\"ok\"}");
}

/* OpenAI list shape, merged from every configured provider. */
static void
h_models(struct evhttp_request *req, const char *client)
{
	struct snapshot *s = snapshot_current();
	cJSON *o = cJSON_CreateObject(), *data;
	size_t i;

	(void)client;
	if (o == NULL || cJSON_AddStringToObject(o, "object", "list") == NULL ||
	    (data = cJSON_AddArrayToObject(o, "data")) == NULL)
		goto fail;
	for (i = 0; i < s->n_models; i++) {
		const struct route_model *m = &s->models[i];
		cJSON *it = cJSON_CreateObject();

		if (it == NULL)
			goto fail;
		cJSON_AddItemToArray(data, it);
		if (cJSON_AddStringToObject(it, "id", m->alias) == NULL ||
		    cJSON_AddStringToObject(it, "object", "model") == NULL ||
		    cJSON_AddNumberToObject(it, "created", (double)s->loaded_at) == NULL ||
		    cJSON_AddStringToObject(it, "owned_by",
		    m->n > 0 ? m->t[0].prov->name : "cliproxy") == NULL)
			goto fail;
	}
	send_cjson(req, o);
	return;
fail:
	send_cjson(req, NULL);
	cJSON_Delete(o);
}

/* ------------------------------------------------------------ dispatch */

static const struct route *
route_of(const char *path, enum evhttp_cmd_type method, bool *path_known)
{
	size_t i;

	*path_known = false;
	if (path == NULL || path[0] == '\0')
		path = "/";
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, path) != 0)
			continue;
		*path_known = true;
		if (routes[i].method == method ||
		    (method == EVHTTP_REQ_HEAD && routes[i].method == EVHTTP_REQ_GET))
			return &routes[i];
	}
	return NULL;
}

/* What the connection gate needs of the route table (gate_route_fn). */
static void
gate_route_of(const char *path, enum evhttp_cmd_type method, struct gate_route *out)
{
	const struct route *r = route_of(path, method, &out->path_known);

	out->known = r != NULL;
	out->auth = r != NULL && r->auth;
	out->body = r != NULL && r->body;
}

/* The answers the gate hands to dispatch (GATE_HEADER). */
static const struct {
	int status;
	const char *message;
	const char *type;
	const char *code;
} gate_answers[] = {
	{ 400, "bad request", "invalid_request_error", "bad_request" },
	{ 401, "Invalid API key", "invalid_request_error", "invalid_api_key" },
	{ 413, "request body too large", "invalid_request_error", "request_too_large" },
	{ 431, "request header fields too large", "invalid_request_error", "headers_too_large" },
	{ 503, "too many connections", "server_error", "too_many_connections" },
};

/* Answer the gate's verdict v; false when v is not one of ours (the
 * client sent the header: answered 400). */
static void
gate_answer(struct evhttp_request *req, const char *path, const char *v)
{
	const struct route *r = NULL;
	size_t i, k;

	/* The error shape of the path's format, whatever the method. */
	for (k = 0; k < sizeof(routes) / sizeof(routes[0]) && r == NULL; k++)
		if (path != NULL && strcmp(routes[k].path, path) == 0)
			r = &routes[k];
	for (i = 0; i < sizeof(gate_answers) / sizeof(gate_answers[0]); i++)
		if (strlen(v) == 3 && gate_answers[i].status == (v[0] - '0') * 100 +
		    (v[1] - '0') * 10 + (v[2] - '0'))
			break;
	if (i == sizeof(gate_answers) / sizeof(gate_answers[0]))
		i = 0;
	if (gate_answers[i].status == 503)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
	server_send_error(req, r != NULL ? r->fmt : NULL, gate_answers[i].status,
	    gate_answers[i].message, gate_answers[i].type, gate_answers[i].code);
}

static void
dispatch(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const char *gate = evhttp_find_header(ih, GATE_HEADER);
	struct snapshot *s = snapshot_current();
	const struct route *r;
	bool path_known = false;
	char client[64], peer[64];

	(void)arg;
	status_ctr.requests++;
	status_touch(false);
	if (path == NULL || path[0] == '\0')
		path = "/";
	if (gate != NULL) {
		gate_answer(req, path, gate);
		return;
	}
	r = route_of(path, method, &path_known);
	if (r == NULL) {
		if (path_known) {
			evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
			    strcmp(path, "/") == 0 || strcmp(path, "/healthz") == 0 ||
			    strcmp(path, "/v1/models") == 0 ? "GET, HEAD" : "POST");
			server_send_error(req, NULL, 405, "method not allowed",
			    "invalid_request_error", "method_not_allowed");
		} else {
			server_send_error(req, NULL, 404, "not found", "invalid_request_error",
			    "not_found");
		}
		return;
	}
	if (srv_stopping) {
		server_send_error(req, r->fmt, 503, "server is shutting down", "server_error",
		    NULL);
		return;
	}
	/* The gate checked the key before the body was read; this check on
	 * evhttp's own parse of the same head is the one that counts. */
	gate_peer(evhttp_request_get_connection(req), peer, sizeof(peer));
	ca_client_address(ih, peer, s->cfg, client, sizeof(client));
	if (r->auth && !ca_authorized(ih, uri != NULL ? evhttp_uri_get_query(uri) : NULL,
	    s->cfg, client)) {
		log_info("rejected client '%s' on '%s': invalid api key",
		    client[0] != '\0' ? client : "unknown", path);
		server_send_error(req, r->fmt, 401, "Invalid API key", "invalid_request_error",
		    "invalid_api_key");
		return;
	}
	if (r->fn != NULL) {
		r->fn(req, client);
		return;
	}
	{
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t len = evbuffer_get_length(in);
		const char *body;

		if (len > (size_t)s->cfg->request_body_max) {
			server_send_error(req, r->fmt, 413, "request body too large",
			    "invalid_request_error", "request_too_large");
			return;
		}
		body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
		if (body == NULL) {
			server_send_error(req, r->fmt, 500, "out of memory", "server_error", NULL);
			return;
		}
		relay_start(req, r->fmt, body, len, client[0] != '\0' ? client : "unknown");
	}
}

/* --------------------------------------------------------- listening */

static int
listen_unix(const char *path)
{
	struct sockaddr_un sa;
	struct evconnlistener *l;
	int fd = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path) || strlen(path) >= sizeof(srv_unix_path)) {
		log_warnx("unix socket path '%s' is too long", path);
		return CP_EINVAL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* A stale socket from a previous run would make bind fail. */
	{
		struct stat st;

		if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
			unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 512) != 0) {
		log_warn("cannot listen on '%s'", path);
		if (fd >= 0)
			close(fd);
		return CP_EIO;
	}
	l = evconnlistener_new(srv_base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (l == NULL) {
		close(fd);
		return CP_EIO;
	}
	if ((srv_bound = evhttp_bind_listener(srv_http, l)) == NULL) {
		evconnlistener_free(l);
		return CP_EIO;
	}
	snprintf(srv_unix_path, sizeof(srv_unix_path), "%s", path);
	snprintf(srv_desc, sizeof(srv_desc), "%s", path);
	/* The socket file's permissions are the access check: its clients
	 * are local. */
	gate_set_local_peers(true);
	return CP_OK;
}

static int
listen_inet(const char *host, long port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char h[INET6_ADDRSTRLEN + 2];
	evutil_socket_t fd;

	if ((srv_bound = evhttp_bind_socket_with_handle(srv_http, host, (ev_uint16_t)port)) == NULL) {
		log_warn("cannot listen on '%s' port %ld", host, port);
		return CP_EIO;
	}
	/* Port 0 picks a free port: report the real one (status file). */
	fd = evhttp_bound_socket_get_fd(srv_bound);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			evutil_inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof(h));
			snprintf(srv_desc, sizeof(srv_desc), "[%s]:%u", h, ntohs(s6->sin6_port));
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			evutil_inet_ntop(AF_INET, &s4->sin_addr, h, sizeof(h));
			snprintf(srv_desc, sizeof(srv_desc), "%s:%u", h, ntohs(s4->sin_port));
		}
	}
	return CP_OK;
}

/* "ADDR:PORT", "[v6]:PORT", or a path (contains '/') for a unix socket. */
static int
listen_spec(const char *spec)
{
	char host[256];
	const char *colon;
	long long port;
	size_t hl;

	if (strchr(spec, '/') != NULL)
		return listen_unix(spec);
	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');

		if (rb == NULL || rb[1] != ':')
			return CP_EINVAL;
		hl = (size_t)(rb - spec - 1);
		if (hl == 0 || hl >= sizeof(host))
			return CP_EINVAL;
		memcpy(host, spec + 1, hl);
		colon = rb + 1;
	} else {
		if ((colon = strrchr(spec, ':')) == NULL)
			return CP_EINVAL;
		hl = (size_t)(colon - spec);
		if (hl == 0 || hl >= sizeof(host))
			return CP_EINVAL;
		memcpy(host, spec, hl);
	}
	host[hl] = '\0';
	if (str_to_ll(colon + 1, strlen(colon + 1), 0, 65535, &port) != CP_OK)
		return CP_EINVAL;
	return listen_inet(host, (long)port);
}

int
server_start(struct event_base *base, const struct server_opts *o)
{
	struct timeval tv = { PXD_IO_TIMEOUT_S, 0 };
	const struct cfg *c = snapshot_current()->cfg;
	int rc;

	srv_base = base;
	if ((srv_http = evhttp_new(base)) == NULL)
		return CP_ENOMEM;
	evhttp_set_max_headers_size(srv_http, PXD_HEADERS_MAX);
	/* The gate sets each connection's cap to request-body-max before a
	 * body is read; this is the cap of a connection it could not set up. */
	evhttp_set_max_body_size(srv_http, c->request_body_max);
	if ((rc = gate_init(srv_http, gate_route_of)) != CP_OK)
		return rc;
	evhttp_set_timeout_tv(srv_http, &tv);
	evhttp_set_allowed_methods(srv_http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(srv_http, dispatch, NULL);
	if (o->listen != NULL)
		rc = listen_spec(o->listen);
	else
		rc = listen_inet(c->host, c->port);
	if (rc != CP_OK)
		return rc;
	log_info("listening on '%s'", srv_desc);
	return CP_OK;
}

const char *
server_listen_desc(void)
{
	return srv_desc;
}

static void
grace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_warnx("shutdown grace period over: cancelling %zu exchanges", relay_n_active());
	relay_cancel_all();
	event_base_loopexit(srv_base, NULL);
}

void
server_stop_accepting(void)
{
	struct timeval tv = { PXD_SHUTDOWN_GRACE_S, 0 };

	if (srv_stopping)
		return;
	srv_stopping = true;
	if (srv_bound != NULL)
		evhttp_del_accept_socket(srv_http, srv_bound);
	srv_bound = NULL;
	if (relay_n_active() == 0) {
		event_base_loopexit(srv_base, NULL);
		return;
	}
	log_info("waiting for %zu exchanges to finish", relay_n_active());
	if ((srv_grace = evtimer_new(srv_base, grace_cb, NULL)) != NULL)
		evtimer_add(srv_grace, &tv);
}

void
server_exchange_done(void)
{
	if (srv_stopping && relay_n_active() == 0)
		event_base_loopexit(srv_base, NULL);
}

void
server_free(void)
{
	relay_cancel_all();
	if (srv_grace != NULL)
		event_free(srv_grace);
	srv_grace = NULL;
	if (srv_http != NULL)
		evhttp_free(srv_http);
	srv_http = NULL;
	gate_free();
	if (srv_unix_path[0] != '\0')
		unlink(srv_unix_path);
}
