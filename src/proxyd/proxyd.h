/*
 * proxyd.h - the private header of cliproxyd (DESIGN.md section 6).
 * Prototypes are grouped by file, as OpenBSD's httpd.h does, so that a
 * reader finds any function from here.
 *
 * The seams (DESIGN 2, 6):
 * - a format (formats/) knows one wire format a client speaks: where the
 *   model is, how to rewrite it, its error shape;
 * - a provider (providers/) knows one upstream kind: the format it speaks,
 *   its URL, how to attach a credential, how to classify an error;
 * - the relay (relay.c) runs one exchange and knows nothing
 *   provider-specific;
 * - the snapshot (snapshot.c) is the immutable, reference-counted view of
 *   config + auth-dir that a request keeps for its whole life;
 * - the pool (pool.c) holds the state that must survive reloads:
 *   round-robin counters and cooldowns, keyed by credential hash.
 */
#ifndef CLIPROXY_PROXYD_H
#define CLIPROXY_PROXYD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/http.h>

#include "core.h"
#include "formats/pivot.h"

/* ---------------------------------------------------------------- caps */

#define PXD_HEADERS_MAX     (16 * 1024)           /* request head (line + headers) */
#define PXD_HEAD_TIMEOUT_S  20                    /* a request head, from connect or its first byte */
#define PXD_KEY_MAX         1024                  /* a client API key */
#define PXD_XFF_MAX         4096                  /* X-Forwarded-For we look at */
#define PXD_XFF_ENTRIES_MAX 32                    /* hops we walk back */
#define PXD_ERRBODY_MAX     (1024u * 1024u)       /* upstream error body kept */
#define PXD_UPHDRS_MAX      4096u                 /* upstream headers passed on (relay.c) */
#define PXD_URL_MAX         4096                  /* upstream URL */
#define PXD_OUTBUF_HIGH     (256u * 1024u)        /* client output above this pauses upstream */
#define PXD_CANDIDATES_MAX  4096                  /* (provider, key) pairs per model */
#define PXD_DEBOUNCE_MS     20                    /* inotify debounce (DESIGN 6) */
#define PXD_COOLDOWN_S      (30 * 60)             /* 429 without Retry-After (DESIGN 6) */
#define PXD_RETRY_AFTER_MAX (24 * 3600)           /* cap on an upstream Retry-After */
#define PXD_REQLOG_FILES    1000                  /* request-log directory bound */
#define PXD_REQLOG_BYTES    (100ull * 1024 * 1024)
#define PXD_REQLOG_BODY_MAX (1024u * 1024u)       /* body bytes kept per log file */
#define PXD_SHUTDOWN_GRACE_S 10                   /* SIGTERM: in-flight get this long */
#define PXD_IO_TIMEOUT_S    600                   /* evhttp read/write timeout */
#define PXD_CONNECT_TIMEOUT_S 30                  /* upstream connect timeout */
#define PXD_UP_IDLE_MAX     256                   /* idle upstream connections kept for reuse */
#define PXD_UP_EASY_FREE_MAX 16                   /* idle easy handles kept for reuse */
#define PXD_UP_STREAM_RECVBUF 1024                /* curl receive buffer of a stream */
#define PXD_TRIM_PEAK_MIN   512                   /* exchanges at once worth a malloc_trim */
#define PXD_TRIM_DELAY_S    1                     /* malloc_trim this long after the fall */
#define PXD_STATUS_MIN_MS   1000                  /* status file at most once a second */
#define PXD_AUTH_FILES_MAX  CP_AUTHDIR_FILES_MAX

struct snapshot;
struct prov;
struct cred;
struct exchange;

/* ------------------------------------------------------------- formats/ */

/* The formats, their codecs and the pivot between them: formats/pivot.h.
 * fmt_openai_error is the OpenAI error shape, shared by the OpenAI codecs. */
int fmt_openai_error(struct buf *out, int status, enum pv_err kind,
    const char *message, const char *type, const char *code);

/* ----------------------------------------------------------- providers/ */

/* What the relay does with an upstream answer (DESIGN 3, 6). */
enum up_verdict {
	UPV_OK = 0,       /* 2xx: stream it to the client */
	UPV_RETRY,        /* 403/408/5xx/transport: next credential, spends a retry */
	UPV_COOLDOWN,     /* 429: cool this credential down */
	UPV_REFRESH,      /* 401 on OAuth: refresh once (later) */
	UPV_PASS,         /* anything else: hand it to the client as is */
};

struct provider_ops {
	const char *kind;        /* "openai-compatibility" */
	/* Formats this upstream speaks natively (passthrough possible). */
	bool (*speaks)(enum fmt_id fmt);
	/* Upstream URL for fmt/model/stream into out. */
	int (*url)(const struct prov *p, const struct cred *c, enum fmt_id fmt,
	    const char *model, bool stream, struct buf *out);
	/* Attach the credential: headers appended to *hdrs (caller frees). */
	int (*attach)(const struct cred *c, struct curl_slist **hdrs);
	/* Classify an answer: status 0 means a transport error. */
	enum up_verdict (*classify)(long status);
};

/* providers/openai_compat.c */
extern const struct provider_ops prov_openai_compat;

/* ------------------------------------------------------------ snapshot.c */

struct cred {                /* one credential of one provider instance */
	const struct prov *prov; /* owner */
	char *secret;            /* API key or token: never logged */
	char id[65];             /* sha256 hex of kind\0name\0secret: pool key */
	char label[96];          /* "<provider>#<index>", safe for logs */
	struct curl_slist *hdrs[2]; /* request headers, [stream]: relay_cred_headers */
};

struct prov {                /* one configured upstream */
	const struct provider_ops *ops; /* its kind */
	char *name;              /* provider name from the config */
	char *base_url;          /* base URL, version path included, no trailing '/' */
	struct cred *creds;      /* its credentials */
	size_t n_creds;
};

struct model_target {        /* one place a model alias can go */
	struct prov *prov;       /* provider (borrowed from the snapshot) */
	char *upstream;          /* model name the upstream receives */
};

struct route_model {         /* a model clients can ask for */
	char *alias;             /* what clients say */
	struct model_target *t;  /* where it can go, config order */
	size_t n;
};

struct authfile {            /* one auth-dir JSON file (OAuth use comes later) */
	char *name;              /* file name */
	char *type;              /* "type" member, default "gemini" */
	cJSON *json;             /* parsed content */
};

struct snapshot {
	int refs;                /* reference count: loop-only, no atomics */
	struct cfg *cfg;         /* parsed config (owned) */
	char *cfg_text;          /* the bytes it came from (owned) */
	size_t cfg_len;
	char cfg_sha[65];        /* sha256 hex of cfg_text */
	char auth_sha[65];       /* sha256 over auth-dir names + contents */
	char *auth_dir;          /* effective auth-dir ("~" expanded) */
	bool auth_dir_ok;        /* auth-dir could be read */
	struct authfile *auth;   /* sorted by name */
	size_t n_auth;
	struct prov *provs;      /* configured upstreams */
	size_t n_provs;
	struct route_model *models; /* alias table, sorted by alias */
	size_t n_models;
	time_t loaded_at;        /* when it was built */
};

/* Read the auth-dir files into out (sorted) and hash them. */
int snapshot_read_auth(const char *dir, struct authfile **out, size_t *n,
    char sha[65], bool *dir_ok);
void snapshot_auth_free(struct authfile *v, size_t n);
/* Build a snapshot from config bytes (taken over: *text is set to NULL on
 * success) and already-read auth files (taken over likewise). err gets the
 * parse/validation message. Refcount 1. */
int snapshot_build(char **text, size_t len, struct authfile **auth, size_t n_auth,
    const char auth_sha[65], bool auth_dir_ok, struct snapshot **out,
    char *err, size_t errlen);
struct snapshot *snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s);
const struct route_model *snapshot_model(const struct snapshot *s, const char *alias);
size_t snapshot_n_creds(const struct snapshot *s);
/* The currently served snapshot (borrowed; take a ref to keep it). */
struct snapshot *snapshot_current(void);
/* Swap in s (takes the caller's reference); the old one is unreffed. */
void snapshot_install(struct snapshot *s);

/* ---------------------------------------------------------------- pool.c */

struct candidate {           /* one (provider, key, upstream model) to try */
	const struct cred *cred; /* borrowed from the exchange's snapshot */
	const char *upstream;    /* model name for the upstream */
};

/* Candidates of model m in round-robin order (the rotation advances once
 * per call, kept across reloads by alias). *out is malloc'd, caller frees. */
int pool_candidates(const struct route_model *m, struct candidate **out, size_t *n);
/* Cooldown state keyed by credential id (survives reloads). */
bool pool_cooling(const char *cred_id, time_t now);
void pool_cooldown(const char *cred_id, time_t until);
/* Credentials of the snapshot currently cooling down. */
size_t pool_n_cooling(const struct snapshot *s, time_t now);
/* Drop expired entries (called from the status timer). */
void pool_gc(time_t now);
void pool_free_all(void);

/* ------------------------------------------------------------ upstream.c */

/* One transfer on the shared multi handle. */
struct up_xfer {
	CURL *easy;              /* owned by the owner of the xfer */
	/* Called once from the loop when the transfer ends (rc CURLE_OK or
	 * an error); the handle is already removed from the multi. */
	void (*done)(struct up_xfer *x, CURLcode rc);
	void *arg;               /* owner */
	bool active;             /* added to the multi */
};

int up_init(struct event_base *base);
void up_shutdown(void);
/* Add x->easy to the multi; done() follows later. */
int up_start(struct up_xfer *x);
/* Remove it now without calling done(). */
void up_cancel(struct up_xfer *x);
/* Resume a paused transfer (from outside curl callbacks). */
void up_resume(struct up_xfer *x);
/* An easy handle for a new transfer: a reset one from the free list when
 * there is one, else a new one; a stream's handle is always new, with a
 * PXD_UP_STREAM_RECVBUF receive buffer. NULL when out of memory. */
CURL *up_easy_get(bool stream);
/* Give e back (no longer added to the multi), stream as it was got:
 * reset and kept on the free list up to PXD_UP_EASY_FREE_MAX, else (and
 * always for a stream's) cleaned up. */
void up_easy_put(CURL *e, bool stream);
size_t up_n_active(void);

/* ----------------------------------------------------------------- sse.c */

/* A bounded incremental parser of text/event-stream (WHATWG HTML 9.2):
 * feed bytes as they arrive, get one callback per dispatched event. */
#define SSE_LINE_MAX  (1024u * 1024u)   /* longest line we keep */
#define SSE_DATA_MAX  (4u * 1024u * 1024u) /* data of one event */
struct sse_event {
	const char *event;       /* "event:" field, "" if none */
	const char *data;        /* data lines joined with '\n' */
	size_t data_len;
	const char *id;          /* "id:" field, "" if none */
};
typedef int (*sse_cb)(const struct sse_event *ev, void *arg);
struct sse_parser {
	struct buf line;         /* current partial line */
	struct buf data;         /* data of the event being built */
	struct buf event;        /* event name */
	struct buf id;           /* last id */
	bool saw_cr;             /* last byte was CR (CRLF split across feeds) */
	bool has_data;           /* a data: field was seen */
	bool bom_checked;        /* leading BOM handled */
	unsigned char bom_n;     /* BOM bytes matched so far (split feeds) */
	size_t n_events;         /* dispatched so far */
};
void sse_init(struct sse_parser *p);
void sse_release(struct sse_parser *p);
/* CP_ETOOBIG when a line or event passes its cap; a callback's non-OK
 * return stops the feed and is returned. */
int sse_feed(struct sse_parser *p, const char *data, size_t len, sse_cb cb, void *arg);

/* --------------------------------------------------------------- relay.c */

/* Run one proxied exchange for an authenticated request: fmt is the
 * client's format, body the raw request (copied). Answers the client in
 * every case. */
void relay_start(struct evhttp_request *req, const struct codec *fmt,
    const char *body, size_t len, const char *client_addr);
size_t relay_n_active(void);
/* Cancel every exchange (shutdown deadline). */
void relay_cancel_all(void);
void relay_init(struct event_base *base);
/* The upstream request headers for credential c (content type, accept
 * for stream or not, the credential attached) into *out; built once per
 * credential by snapshot_build, freed with relay_headers_free. */
int relay_cred_headers(const struct cred *c, bool stream, struct curl_slist **out);
/* Free a header list, wiping each line first (one holds the secret). */
void relay_headers_free(struct curl_slist *h);

/* -------------------------------------------------------------- server.c */

struct server_opts {
	const char *listen;      /* --listen, or NULL for host:port of the config */
};
int server_start(struct event_base *base, const struct server_opts *o);
/* Stop accepting (SIGTERM); in-flight requests continue. */
void server_stop_accepting(void);
void server_free(void);
/* The address we listen on ("127.0.0.1:8318" or a socket path). */
const char *server_listen_desc(void);
/* Send an error in fmt's shape (fmt NULL: OpenAI shape). */
void server_send_error(struct evhttp_request *req, const struct codec *fmt, int status,
    const char *message, const char *type, const char *code);
/* Called by relay when an exchange ends (shutdown waits for them). */
void server_exchange_done(void);

/* ---------------------------------------------------------------- gate.c */

/* The answer the gate chose for a refused head, for dispatch to give. */
#define GATE_HEADER "X-Cliproxy-Gate"
struct gate_route {          /* what the gate needs of the route table */
	bool path_known;         /* some route has this path */
	bool known;              /* a route for this path and method */
	bool auth;               /* it needs a client key */
	bool body;               /* it takes a body (up to request-body-max) */
};
typedef void (*gate_route_fn)(const char *path, enum evhttp_cmd_type method,
    struct gate_route *out);
/* Gate every connection of http (evhttp_set_bevcb); route answers for the
 * route table. */
int gate_init(struct evhttp *http, gate_route_fn route);
/* Peers are local whatever evhttp says (a unix socket). */
void gate_set_local_peers(bool local);
void gate_free(void);
/* The peer address of a connection ("127.0.0.1" on a unix socket). */
void gate_peer(struct evhttp_connection *evcon, char *out, size_t outlen);
/* Be told when the client connection goes away (evhttp's closecb, which
 * the gate owns); fn NULL stops it. */
void gate_conn_watch(struct evhttp_connection *evcon,
    void (*fn)(struct evhttp_connection *, void *), void *arg);
/* Client connections open now. */
size_t gate_n_connections(void);

/* ---------------------------------------------------------- clientauth.c */

/* ca_client_key results */
#define CA_KEY_NONE  0 /* no credential presented */
#define CA_KEY_FOUND 1 /* one, copied out */
#define CA_KEY_BAD   2 /* unusable: empty, too long, NUL inside, given twice */
/* The one rule for what is a client credential (lookup and log masking). */
bool ca_secret_header(const char *name);
bool ca_secret_param(const char *name, size_t len);
/* The key a client presented in headers h or the raw query (DESIGN 6). */
int ca_client_key(const struct evkeyvalq *h, const char *query, char *out, size_t outlen);
/* The client's address from the peer and X-Forwarded-For; "" when it
 * cannot be determined (never loopback). */
void ca_client_address(const struct evkeyvalq *h, const char *peer, const struct cfg *c,
    char *out, size_t outlen);
/* A valid key, or a loopback client under allow-localhost-unauthenticated. */
bool ca_authorized(const struct evkeyvalq *h, const char *query, const struct cfg *c,
    const char *client);

/* --------------------------------------------------------------- watch.c */

struct watch_opts {
	const char *config_path; /* the config file */
};
/* First load + watches. CP_OK only if a good config was loaded. */
int watch_start(struct event_base *base, const struct watch_opts *o, char *err, size_t errlen);
/* SIGHUP: reload even if nothing changed. */
void watch_force_reload(void);
void watch_stop(void);

/* -------------------------------------------------------------- reqlog.c */

/* Directory for request logs: request-log-dir, else <state-dir>/requests. */
void reqlog_set_state_dir(const char *state_dir);
/* Render the client side of an exchange (method, URI, headers, body) with
 * Authorization / API keys / ?key= masked, appended to out. */
int reqlog_render_request(struct evhttp_request *req, const char *body, size_t len,
    struct buf *out);
/* Write one exchange (text already rendered and masked) into its own file
 * of the bounded request-log directory (PXD_REQLOG_FILES/BYTES, oldest
 * removed first). */
void reqlog_write(const struct snapshot *s, const char *text, size_t len);
/* Mask a secret for logs ("sk-a...wxyz" style, or "***" when short). */
void reqlog_mask(const char *secret, char *out, size_t outlen);

/* -------------------------------------------------------------- status.c */

struct status_counters {
	unsigned long long requests;   /* client requests */
	unsigned long long proxied_ok; /* exchanges answered 2xx */
	unsigned long long errors;     /* answered with an error */
	unsigned long long retries;    /* upstream attempts beyond the first */
	unsigned long long cooldowns;  /* 429 cooldowns started */
	unsigned long long reloads;    /* snapshots swapped in */
	unsigned long long reload_errors; /* bad configs refused */
	unsigned long long unauthorized; /* 401 to clients */
	unsigned long long refused_connections; /* beyond max-connections: 503 */
	size_t auth_over_cap;          /* auth files past PXD_AUTH_FILES_MAX, not
	                                  loaded (last read of auth-dir) */
	size_t auth_invalid;           /* auth files not a JSON object, not loaded */
};
extern struct status_counters status_ctr;
int status_init(struct event_base *base, const char *state_dir);
/* Record the result of a reload attempt (NULL msg = success). */
void status_set_error(const char *msg);
/* Ask for a write: now (after a reload) or within a second. */
void status_touch(bool now);
void status_shutdown(void);
const char *status_last_error(void);
time_t status_started(void);

#endif /* CLIPROXY_PROXYD_H */
