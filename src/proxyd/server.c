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

typedef void (*route_fn)(struct evhttp_request *req, const char *client,
    const struct route_match *m, const struct client_id *who);

static void h_info(struct evhttp_request *req, const char *client,
    const struct route_match *m, const struct client_id *who);
static void h_healthz(struct evhttp_request *req, const char *client,
    const struct route_match *m, const struct client_id *who);
static void h_models(struct evhttp_request *req, const char *client,
    const struct route_match *m, const struct client_id *who);
static void h_relay(struct evhttp_request *req, const char *client,
    const struct route_match *m, const struct client_id *who);

/* Handlers parallel to enum route_id; the patterns are route.c's table
 * (STYLE.md "Tables over branches"). */
static void server_exchange_done(void);

static const route_fn handlers[RT__COUNT] = {
	[RT_INFO] = h_info,
	[RT_HEALTHZ] = h_healthz,
	[RT_MODELS] = h_models,
	[RT_CHAT] = h_relay,
	[RT_COMPLETIONS] = h_relay,
	[RT_MESSAGES] = h_relay,
	[RT_COUNT_TOKENS] = h_relay,
	[RT_RESPONSES] = h_relay,
	[RT_GEMINI_MODELS] = h_models,
	[RT_GEMINI_MODEL] = h_models,
	[RT_GEMINI_GENERATE] = h_relay,
	[RT_GEMINI_STREAM] = h_relay,
	[RT_GEMINI_COUNT] = h_relay,
};

/* ------------------------------------------------------------ handlers */

/* Answer 200 with o printed (and free it); NULL, or a failed print, is the
 * out-of-memory answer. */
static void
send_cjson(struct evhttp_request *req, cJSON *o)
{
	char *txt = o != NULL ? cJSON_PrintUnformatted(o) : NULL;

	cJSON_Delete(o);
	if (txt == NULL) {
		reply_error(req, NULL, 500, "out of memory", "server_error", NULL);
		return;
	}
	reply_json(req, 200, txt, strlen(txt));
	free(txt);
}

static void
h_info(struct evhttp_request *req, const char *client, const struct route_match *m,
    const struct client_id *who)
{
	cJSON *o = cJSON_CreateObject(), *eps;
	const struct route *rt;
	size_t i, n;

	(void)client;
	(void)m;
	(void)who;
	if (o == NULL)
		goto fail;
	cJSON_AddStringToObject(o, "name", "cliproxyd");
	cJSON_AddStringToObject(o, "version", PACKAGE_VERSION);
	cJSON_AddStringToObject(o, "message", "CLI Proxy API server");
	if ((eps = cJSON_AddArrayToObject(o, "endpoints")) == NULL)
		goto fail;
	rt = route_table(&n);
	for (i = 0; i < n; i++) {
		char line[128];

		snprintf(line, sizeof(line), "%s %s", rt[i].method == RM_GET ? "GET" : "POST",
		    rt[i].pattern);
		cJSON_AddItemToArray(eps, cJSON_CreateString(line));
	}
	send_cjson(req, o);
	return;
fail:
	send_cjson(req, NULL);
	cJSON_Delete(o);
}

static void
h_healthz(struct evhttp_request *req, const char *client, const struct route_match *m,
    const struct client_id *who)
{
	(void)client;
	(void)m;
	(void)who;
	reply_json(req, 200, "{\"status\":\"ok\"}", 15);
}

/* The OpenAI list shape (also what a codec without models_body gets). */
static cJSON *
models_openai(const struct snapshot *s, const char *const *names, size_t n)
{
	cJSON *o = cJSON_CreateObject(), *data;
	size_t i;

	if (o == NULL || cJSON_AddStringToObject(o, "object", "list") == NULL ||
	    (data = cJSON_AddArrayToObject(o, "data")) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		const struct route_model *rm = snapshot_route(s, names[i]);
		cJSON *it = cJSON_CreateObject();

		if (it == NULL)
			goto fail;
		cJSON_AddItemToArray(data, it);
		if (cJSON_AddStringToObject(it, "id", names[i]) == NULL ||
		    cJSON_AddStringToObject(it, "object", "model") == NULL ||
		    cJSON_AddNumberToObject(it, "created", (double)s->loaded_at) == NULL ||
		    cJSON_AddStringToObject(it, "owned_by", rm == NULL || rm->n == 0 ?
		    "cliproxy" : rm->t[0].prov->ops->family != CAT_NONE ?
		    catalogue_owner(rm->t[0].prov->ops->family) : rm->t[0].prov->name) == NULL)
			goto fail;
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* DESIGN 6: /v1/models answers in the Claude shape for Claude clients
 * (an anthropic-version header or a claude-cli User-Agent). */
static bool
claude_client(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *ua = evhttp_find_header(h, "User-Agent");

	return evhttp_find_header(h, "anthropic-version") != NULL ||
	    (ua != NULL && strncmp(ua, "claude-cli", 10) == 0);
}

/* GET /v1/models, /v1beta/models, /v1beta/models/{model}: what the
 * configured credentials can serve, in the client's format. */
static void
h_models(struct evhttp_request *req, const char *client, const struct route_match *m,
    const struct client_id *who)
{
	const struct snapshot *s = snapshot_current();
	const struct codec *c = codec_for(m->r->fmt);
	const char **names = NULL;
	const char *one[1];
	size_t n = 0;
	struct buf b;

	(void)client;
	buf_init(&b, PXD_MODELS_BODY_MAX);
	if (m->r->id == RT_MODELS && claude_client(req))
		c = &codec_claude;
	if (m->r->id == RT_GEMINI_MODEL) {
		if (snapshot_route(s, m->model) == NULL ||
		    (who != NULL && !keypol_model_ok(who->pol, m->model))) {
			char msg[ROUTE_MODEL_MAX + 48];

			snprintf(msg, sizeof(msg), "models/%s is not found", m->model);
			reply_error(req, c, 404, msg, NULL, "model_not_found");
			goto out;
		}
		one[0] = m->model;
	} else if (snapshot_model_names(s, &names, &n) != CP_OK) {
		reply_error(req, c, 500, "out of memory", "server_error", NULL);
		goto out;
	} else if (who != NULL && who->pol != NULL) {
		/* A key limited to some models (api-key-policy) sees only
		 * those. */
		size_t i, k = 0;

		for (i = 0; i < n; i++)
			if (keypol_model_ok(who->pol, names[i]))
				names[k++] = names[i];
		n = k;
	}
	/* OpenAI clients get the list written here: its owned_by names the
	 * serving provider, which a codec's models_body (names only) cannot
	 * know. Claude and Gemini clients get their codec's shape. */
	if (c->models_body != NULL && c->id != FMT_OPENAI_CHAT) {
		if (c->models_body(&b, m->r->id == RT_GEMINI_MODEL ? one : names,
		    m->r->id == RT_GEMINI_MODEL ? 1 : n, m->r->id == RT_GEMINI_MODEL) != CP_OK) {
			reply_error(req, c, 500, "out of memory", "server_error", NULL);
			goto out;
		}
		reply_json(req, 200, b.p != NULL ? b.p : "{}", b.p != NULL ? b.len : 2);
		goto out;
	}
	if (m->r->fmt == FMT_GEMINI) {
		reply_error(req, c, 501, "the Gemini model list is not available yet",
		    "server_error", "not_implemented");
		goto out;
	}
	send_cjson(req, models_openai(s, names, n));
out:
	free(names);
	buf_release(&b);
}

/* Gemini's ?alt=sse (else its JSON-array stream). */
static bool
query_alt_sse(struct evhttp_request *req)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq qs;
	const char *v;
	bool sse = false;

	if (q == NULL)
		return false;
	TAILQ_INIT(&qs);
	if (evhttp_parse_query_str(q, &qs) == 0 && (v = evhttp_find_header(&qs, "alt")) != NULL)
		sse = strcmp(v, "sse") == 0;
	evhttp_clear_headers(&qs);
	return sse;
}

static void
h_relay(struct evhttp_request *req, const char *client, const struct route_match *m,
    const struct client_id *who)
{
	const struct codec *fmt = codec_for(m->r->fmt);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	struct relay_call call;
	const char *body;

	if (len > (size_t)snapshot_current()->cfg->request_body_max) {
		reply_error(req, fmt, 413, "request body too large", "invalid_request_error",
		    "request_too_large");
		return;
	}
	body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	if (body == NULL) {
		reply_error(req, fmt, 500, "out of memory", "server_error", NULL);
		return;
	}
	memset(&call, 0, sizeof(call));
	call.fmt = fmt;
	call.op = m->r->op == UPOP_COUNT ? UPOP_COUNT : UPOP_GENERATE;
	if (m->model[0] != '\0') {
		call.path_model = m->model;
		call.path_stream = m->r->op == UPOP_STREAM;
		call.gemini_sse = call.path_stream && query_alt_sse(req);
	}
	call.body = body;
	call.len = len;
	call.client_addr = client;
	call.who = who;
	relay_start(req, &call);
}

/* ------------------------------------------------------------ dispatch */

static enum route_method
route_method_of(enum evhttp_cmd_type method)
{
	if (method == EVHTTP_REQ_POST)
		return RM_POST;
	if (method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD)
		return RM_GET;
	return (enum route_method)0;
}

/* What the connection gate needs of the route table (gate_route_fn). */
static void
gate_route_of(const char *path, enum evhttp_cmd_type method, struct gate_route *out)
{
	struct route_match m;
	int rc;

	rc = route_match(route_method_of(method), path == NULL || path[0] == '\0' ? "/" : path,
	    &m);
	out->path_known = rc != CP_ENOTFOUND;
	out->known = rc == CP_OK;
	out->auth = rc == CP_OK && m.r->auth;
	out->body = rc == CP_OK && m.r->relayed;
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

/* Answer the gate's verdict v (in the error shape of the path's format,
 * whatever the method); a value not of ours (the client sent the
 * header) is answered 400. */
static void
gate_answer(struct evhttp_request *req, const struct route_match *m, const char *v)
{
	size_t i;

	for (i = 0; i < sizeof(gate_answers) / sizeof(gate_answers[0]); i++)
		if (strlen(v) == 3 && gate_answers[i].status == (v[0] - '0') * 100 +
		    (v[1] - '0') * 10 + (v[2] - '0'))
			break;
	if (i == sizeof(gate_answers) / sizeof(gate_answers[0]))
		i = 0;
	if (gate_answers[i].status == 503)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
	if (gate_answers[i].status == 401)
		status_ctr.unauthorized++;
	reply_error(req, codec_for(m->fmt), gate_answers[i].status, gate_answers[i].message,
	    gate_answers[i].type, gate_answers[i].code);
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
	struct route_match m;
	struct client_id who;
	char client[64], peer[64];
	int rc;

	(void)arg;
	memset(&who, 0, sizeof(who));
	status_ctr.requests++;
	status_touch(false);
	if (path == NULL || path[0] == '\0')
		path = "/";
	rc = route_match(route_method_of(method), path, &m);
	if (gate != NULL) {
		gate_answer(req, &m, gate);
		return;
	}
	if (rc == CP_EPERM) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", m.allow);
		reply_error(req, codec_for(m.fmt), 405, "method not allowed",
		    "invalid_request_error", "method_not_allowed");
		return;
	}
	if (rc != CP_OK) {
		reply_error(req, codec_for(m.fmt), 404, "not found", "invalid_request_error",
		    "not_found");
		return;
	}
	if (srv_stopping) {
		reply_error(req, codec_for(m.fmt), 503, "server is shutting down",
		    "server_error", NULL);
		return;
	}
	/* The gate checked the key before the body was read; this check on
	 * evhttp's own parse of the same head is the one that counts. */
	gate_peer(evhttp_request_get_connection(req), peer, sizeof(peer));
	ca_client_address(ih, peer, s->cfg, client, sizeof(client));
	if (client[0] == '\0')
		snprintf(client, sizeof(client), "unknown");
	if (m.r->auth && !ca_identify(ih, uri != NULL ? evhttp_uri_get_query(uri) : NULL,
	    s->cfg, client, &who)) {
		log_info("rejected client '%s' on '%s': invalid api key", client, path);
		status_ctr.unauthorized++;
		reply_error(req, codec_for(m.fmt), 401, "Invalid API key",
		    "invalid_request_error", "invalid_api_key");
		return;
	}
	if (m.r->auth) {
		/* api-key-policy (issue 15): a disabled key is refused on every
		 * route; the model and the limits are checked by the relay,
		 * which reads the model from the body */
		struct keypol_verdict v;

		keypol_decide(who.pol, NULL, NULL, time(NULL), &v);
		if (v.status != 0) {
			log_info("rejected client '%s' on '%s': key '%s' is disabled", client, path,
			    who.key_id);
			status_ctr.unauthorized++;
			reply_error(req, codec_for(m.r->fmt), v.status, v.message, v.type, v.code);
			return;
		}
	} else {
		keypol_key_id(NULL, NULL, who.key_id, sizeof(who.key_id));
	}
	handlers[m.r->id](req, client, &m, &who);
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
	relay_init(base, server_exchange_done);
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
	reply_set_closing(true);
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

/* relay_init's idle callback: an exchange ended. */
static void
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
