/*
 * mgmt.h - the private header of cliproxy-mgmt, the FastCGI responder of the
 * management API (DESIGN.md section 5, spec/management-api.txt).
 * Prototypes are grouped by file.
 */
#ifndef CLIPROXY_MGMT_H
#define CLIPROXY_MGMT_H

#include <stdbool.h>
#include <stddef.h>

#include "core.h"

/* ---------------------------------------------------------------- caps */

#define MGMT_PREFIX       "/v0/management" /* base path (DESIGN 5) */
#define MGMT_PATH_MAX     1024      /* routed path bytes */
#define MGMT_QUERY_MAX    8192      /* QUERY_STRING bytes we look at */
#define MGMT_QVALUE_MAX   1024      /* one decoded query value */
#define MGMT_QPARAMS_MAX  64        /* query parameters (no endpoint takes 3) */
#define MGMT_KEY_MAX      1024      /* management key bytes */
#define MGMT_DRAIN_MAX    (64u * 1024u * 1024u) /* bytes discarded after a 413 */
#define MGMT_BAN_FAILS    5         /* failures in a row before a ban (DESIGN 5) */
#define MGMT_BAN_SECONDS  1800      /* default ban length: 30 minutes */
#define MGMT_BAN_MAX      4096      /* addresses kept in the ban table */
#define MGMT_BAN_FILE_MAX (512u * 1024u) /* ban table file size */
#define MGMT_PARAM_MAX    256       /* a {param} path segment */
#define MGMT_YAML_BODY_MAX CP_CONFIG_MAX /* PUT /config.yaml body: 4 MiB */
#define MGMT_SECRET_PLACEHOLDER "<secret-key unchanged>" /* GET /config.yaml */
#define MGMT_HISTORY_KEEP 20        /* versions kept in .cliproxy-history */
#define MGMT_HISTORY_DIR  ".cliproxy-history" /* beside the config */
#define MGMT_AUDIT_NAME   "audit.log" /* in the state dir */
#define MGMT_AUDIT_MAX    (10u * 1024u * 1024u) /* rotate past this */
#define MGMT_AUDIT_KEEP   5         /* audit.log + 4 rotated files */
#define MGMT_AUDIT_LIMIT  100       /* GET /audit default limit */
#define MGMT_AUDIT_LIMIT_MAX 10000  /* and its cap */

struct mgmt_resp;

/* ------------------------------------------------------------ main.c */

/* How a request reaches us: FastCGI (libfcgi streams) or plain CGI
 * (environment, stdin, stdout). Handlers never see the difference. */
struct mgmt_io {
	const char *(*getenv)(void *ctx, const char *name); /* NULL if unset */
	long (*read)(void *ctx, char *buf, size_t len);     /* bytes, 0 EOF, -1 error */
	int (*write)(void *ctx, const char *buf, size_t len); /* CP_OK or CP_EIO */
	void *ctx;                                          /* backend state */
};

/* Per-process state kept between requests. */
struct mgmt_state {
	const char *config_path;   /* CLIPROXY_CONFIG or cfg_default_path() */
	struct cfg *cfg;           /* last good model, NULL before the first */
	char *text;                /* the bytes cfg was parsed from (GET
	                              /config.yaml, unknown keys of /config) */
	size_t text_len;           /* their length */
	char sha[65];              /* their sha256 hex: the ETag (etag.c) */
	struct fio_stamp stamp;    /* identity of the file cfg came from */
	bool have_stamp;           /* stamp is valid */
	struct pw_memo memo;       /* verified-key memory (DESIGN 5) */
	long ban_seconds;          /* ban length, CLIPROXY_BAN_SECONDS for tests */
};

/* ---------------------------------------------------------- request.c */

enum mgmt_method {
	MGMT_GET = 1 << 0,
	MGMT_PUT = 1 << 1,
	MGMT_PATCH = 1 << 2,
	MGMT_POST = 1 << 3,
	MGMT_DELETE = 1 << 4,
	MGMT_OPTIONS = 1 << 5,
	MGMT_OTHER = 1 << 6,       /* TRACE, anything else (HEAD is a GET) */
};

struct mgmt_req {
	const struct mgmt_io *io;  /* where the request comes from */
	struct mgmt_state *st;     /* process state */
	enum mgmt_method method;   /* parsed REQUEST_METHOD (HEAD is MGMT_GET) */
	bool head;                 /* HEAD: served as GET, no body sent */
	char path[MGMT_PATH_MAX];  /* path below MGMT_PREFIX, e.g. "/api-keys" */
	bool path_ok;              /* path fitted and was found */
	char param[MGMT_PARAM_MAX]; /* the {param} segment of a pattern route */
	const char *query;         /* raw QUERY_STRING, "" if none */
	const char *remote_addr;   /* REMOTE_ADDR, "" if none */
	const struct cfg *cfg;     /* model for this request (access, GET) */
	bool cfg_stale;            /* the file did not load; cfg is older */
	char cfg_err[256];         /* why it did not load */
	char *body;                /* request body, NUL-terminated, or NULL */
	size_t body_len;           /* its length */
	bool body_read;            /* req_read_body ran */
};

void req_init(struct mgmt_req *rq, const struct mgmt_io *io, struct mgmt_state *st);
void req_release(struct mgmt_req *rq);
/* The name of one method bit ("GET"), NULL for MGMT_OTHER or a mask. The
 * bits in increasing order are the order of an Allow header. */
const char *req_method_name(unsigned m);
/* An environment value of this request, NULL if unset. */
const char *req_env(const struct mgmt_req *rq, const char *name);
/* Decoded value of query parameter name into out (NUL-terminated; *len
 * excludes the NUL and counts embedded NULs). CP_ENOTFOUND if absent,
 * CP_EINVAL on bad %-encoding, CP_ETOOBIG past outlen. */
int req_query(const struct mgmt_req *rq, const char *name, char *out, size_t outlen,
    size_t *len);
/* Why the query string as a whole is refused (400), NULL when it is not:
 * longer than MGMT_QUERY_MAX, more than MGMT_QPARAMS_MAX parameters, or a
 * parameter given twice ("?index=0&index=1": which one did the admin
 * mean?). The router asks before any handler runs. */
const char *req_query_problem(const struct mgmt_req *rq);
/* Read the body (CONTENT_LENGTH checked strictly, else to EOF) with the cap
 * CP_BODY_MAX: CP_ETOOBIG (413), CP_EINVAL (bad length or short body). */
int req_read_body(struct mgmt_req *rq);
/* The same with another cap (a multipart upload: the file part is capped,
 * the envelope gets MP_ENVELOPE_SLACK more). */
int req_read_body_max(struct mgmt_req *rq, size_t max);
/* A request header (CGI name, e.g. "HTTP_IF_MATCH"), NULL if absent or
 * empty. */
const char *req_header(const struct mgmt_req *rq, const char *cgi_name);
/* Read and strictly parse the body as JSON (json_parse_strict). On
 * failure rs is filled (413 or 400 "invalid body") and an error returned.
 * *out is owned by the caller. */
int req_json(struct mgmt_req *rq, struct mgmt_resp *rs, cJSON **out);
/* Percent-decode s[0..len) into out; '+' becomes a space. */
int req_pct_decode(const char *s, size_t len, char *out, size_t outlen, size_t *outlen_used);
/* Strict list index: decimal digits only, no leading zero, no sign. */
int req_parse_index(const char *s, size_t len, long long *out);

/* --------------------------------------------------------- response.c */

/* A body written after the headers instead of rs->body (no
 * Content-Length; the server frames it): CP_OK or CP_EIO. */
typedef int (*resp_stream_fn)(const struct mgmt_io *io, void *arg);

struct mgmt_resp {
	int status;                /* HTTP status, 0 until set */
	struct buf hdr;            /* extra header lines, each ending in \r\n */
	struct buf body;           /* response body */
	bool is_json;              /* Content-Type: application/json */
	resp_stream_fn stream;     /* streamed body, NULL = body */
	void *stream_arg;          /* its argument */
	void (*stream_free)(void *arg); /* frees stream_arg in resp_release */
	bool head;                 /* answer to HEAD: headers (Content-Length of
	                              the body a GET gets), no body */
};

void resp_init(struct mgmt_resp *rs);
void resp_release(struct mgmt_resp *rs);
/* HTTP status of a core error code: the one table (STYLE.md "Errors"). */
int resp_status_of(int err);
/* A header line; name and value must not contain CR or LF. */
void resp_header(struct mgmt_resp *rs, const char *name, const char *value);
/* Body = compact JSON of obj (borrowed). */
void resp_json(struct mgmt_resp *rs, int status, const cJSON *obj);
/* Body = {"error": msg}. */
void resp_error(struct mgmt_resp *rs, int status, const char *msg);
/* Status from the error table; msg NULL uses the table's default text. */
void resp_cp_error(struct mgmt_resp *rs, int err, const char *msg);
/* 200 {"status":"ok"}. */
void resp_ok(struct mgmt_resp *rs);
/* {"<key>": value} with value borrowed. */
void resp_keyed(struct mgmt_resp *rs, const char *key, const cJSON *value);
/* The outcome of a cfg_transact that did not succeed (DESIGN 4, 5):
 * busy 503, current file broken or write failed 500 "failed to save
 * config: ...", our own change refused by validation 400. */
void resp_tx_error(struct mgmt_resp *rs, int rc, bool fn_ran, const char *err);
/* ETag header (etag.c form). */
void resp_etag(struct mgmt_resp *rs, const char *etag);
/* 304 Not Modified with etag (no body). */
void resp_not_modified(struct mgmt_resp *rs, const char *etag);
/* A streamed body (e.g. /usage/export): fn writes it after the headers;
 * free (may be NULL) releases arg in resp_release. */
void resp_stream(struct mgmt_resp *rs, int status, resp_stream_fn fn, void *arg,
    void (*free_fn)(void *arg));
/* Write status line, headers, CORS, body. */
int resp_send(const struct mgmt_resp *rs, const struct mgmt_io *io);

/* ----------------------------------------------------------- router.c */

typedef void (*route_fn)(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);

enum route_flag {
	ROUTE_CFG = 1 << 0,        /* a GET whose answer derives from the config:
	                              ETag and If-None-Match by the router */
};

struct route {
	unsigned methods;          /* mask of enum mgmt_method */
	const char *path;          /* path below MGMT_PREFIX; one segment may be
	                              "{name}" (any allowed segment, in rq->param) */
	route_fn fn;               /* handler */
	const void *arg;           /* descriptor for the handler */
	unsigned flags;            /* enum route_flag */
};

/* Serve one request: access control (access.c), then the table. */
void route_dispatch(struct mgmt_req *rq, struct mgmt_resp *rs);
/* GET /endpoints: every path of the table with its methods. */
void h_endpoints(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);

/* ----------------------------------------------------------- access.c */

/* Load (or reuse) the model into rq->cfg; a plaintext key is hashed and
 * written back first (DESIGN 5). CP_OK, or an error with rs filled. */
int access_load_cfg(struct mgmt_req *rq, struct mgmt_resp *rs);
/* DESIGN 5 access control in order (not found, ban, remote, key).
 * skip_key: only the first three steps (CORS preflight). CP_OK if the
 * request may go on, otherwise rs is filled. */
int access_check(struct mgmt_req *rq, struct mgmt_resp *rs, bool skip_key);
/* Seconds of the ban left for addr (0 if none), reading the table. */
long access_ban_remaining(const char *config_path, const char *addr);

/* ----------------------------------------------------------- change.c */

/* One config change of this request (DESIGN 4, issue 13): the If-Match
 * header checked under the lock (412), the previous file kept in the
 * history, one audit line, and on success the new ETag on rs. fn and arg
 * as for cfg_transact. restored: the history id a restore brings back
 * (NULL otherwise), noted in the audit line. Returns cfg_transact's code;
 * the caller answers (resp_tx_error knows CP_ECHANGED). */
int chg_config(struct mgmt_req *rq, struct mgmt_resp *rs, cfg_tx_fn fn, void *arg,
    const char *restored, char *err, size_t errlen);
/* The audit line of an accepted auth-file change (name of the file, or
 * NULL with n files for delete-all). */
void chg_audit_files(struct mgmt_req *rq, const char *name, size_t n);
/* The state dir of this request's model (cfg_state_dir); caller frees. */
char *chg_state_dir(const struct mgmt_req *rq);
/* Top-level keys (and "parent.child" inside mappings) whose values differ
 * between two config texts; an array of strings the caller deletes, NULL
 * when a text does not parse or on ENOMEM. Never values: they hold keys. */
cJSON *chg_changed_keys(const char *a, size_t alen, const char *b, size_t blen);

/* ---------------------------------------------------------- history.c */

#define HIST_ID_MAX 40             /* "<ms>-<8 hex>" */

/* Is s a history id we could have made? (allow-list: digits, '-', hex) */
bool hist_id_ok(const char *s);
/* Keep text (the file about to be replaced) as a new version, with meta
 * (borrowed JSON object: time, change...) beside it, and drop versions past
 * MGMT_HISTORY_KEEP. id gets the new version's id. CP_EIO with err. */
int hist_save(const char *config_path, const char *text, size_t len, const cJSON *meta,
    char *id, size_t idlen, char *err, size_t errlen);
/* Forget one version (a change that did not happen after all). */
void hist_remove(const char *config_path, const char *id);
/* The versions, newest first: [{"id","time","sha256","size","change"}].
 * Caller deletes. NULL on ENOMEM. */
cJSON *hist_list(const char *config_path);
/* The text of one version. CP_ENOTFOUND, or CP_OK with *out the caller's. */
int hist_read(const char *config_path, const char *id, char **out, size_t *outlen);

/* ------------------------------------------------------------ audit.c */

/* The audit log <state-dir>/audit.log (issue 13): JSON lines, appended
 * under <state-dir>/.audit.lock, rotated past max bytes into audit.log.1 ..
 * audit.log.<keep-1>. */
struct audit_log {
	int fd;                    /* open for append, -1 when closed */
	struct lock lk;            /* held while open */
};
#define AUDIT_INIT { -1, LOCK_INIT }
/* Take the lock, rotate when the file has reached max bytes, open it
 * (creating the state dir if missing). CP_EIO with err. */
int audit_open(struct audit_log *a, const char *state_dir, size_t max, int keep,
    char *err, size_t errlen);
/* Append one line (compact JSON of entry, borrowed) and a newline. */
int audit_append(struct audit_log *a, const cJSON *entry);
void audit_close(struct audit_log *a);
/* The newest limit entries, newest first, across the rotated files.
 * Caller deletes. NULL on ENOMEM. */
cJSON *audit_read(const char *state_dir, int keep, long limit);

/* ---------------------------------------------------------- h_config.c */

void h_config_get(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_config_yaml_get(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_config_yaml_put(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_history_list(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_history_restore(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);

/* ---------------------------------------------------------- h_status.c */

void h_status(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_audit(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_reqlog_list(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_reqlog_get(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_reqlog_clear(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);

/* ---------------------------------------------------------- h_scalar.c */

/* The effective value at path (cfg_to_json of rq->cfg), answered as
 * {"<leaf>": value}; 500 when the file does not load. */
void h_get_path(struct mgmt_req *rq, struct mgmt_resp *rs, const char *const *path);

enum scalar_type { SCALAR_BOOL, SCALAR_INT, SCALAR_STRING };

struct scalar_desc {
	const char *path[3];       /* YAML path, NULL-terminated */
	enum scalar_type type;     /* JSON type of "value" */
	long long min, max;        /* SCALAR_INT range */
	bool (*valid)(const char *s); /* SCALAR_STRING rule, NULL = any */
	const char *invalid;       /* 400 text when min/max or valid refuse */
};

/* cfg_tx_set inside a transaction, unless the file already holds exactly
 * value there: a no-op change writes nothing (the daemon does not reload
 * for it). */
int h_tx_set(struct cfg_tx *tx, const char *const *path, const cJSON *value);
void h_scalar_get(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_scalar_set(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
/* DELETE: back to the empty value ("" for strings; DESIGN 5 proxy-url). */
void h_scalar_clear(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);

/* ------------------------------------------------------------ h_list.c */

enum list_kind { LIST_STRING, LIST_OBJECT };

struct list_desc {
	const char *key;           /* top-level YAML key */
	enum list_kind kind;       /* items are strings or objects */
	const char *match_field;   /* object member items are matched on */
	const char *patch_match;   /* PATCH body member naming the match */
	const char *query;         /* DELETE query parameter besides index */
};

void h_list_get(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_list_put(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_list_patch(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_list_delete(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);

/* ------------------------------------------------------- h_authfiles.c */

/* auth-dir of the current model; NULL with a 500 in rs when the config
 * does not load. */
const char *h_auth_dir(struct mgmt_req *rq, struct mgmt_resp *rs);
void h_auth_list(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_auth_download(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_auth_upload(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_auth_delete(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);

/* ----------------------------------------------------------- h_usage.c */

#define USAGE_BUCKETS_MAX 20000    /* time buckets of one /usage answer */
#define USAGE_BODY_MAX (32u * 1024u * 1024u) /* bytes of one /usage answer */

/* GET /usage: series and totals (issue 15). */
void h_usage_get(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
/* GET /usage/export: raw rows as CSV or JSON, streamed. */
void h_usage_export(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);

/* ---------------------------------------------------------- h_login.c */

/* PROVIDERS.md 6: arg points at the enum oauth_kind of the endpoint. */
void h_login_url(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_login_status(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
void h_login_callback(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);
/* PATCH /auth-files/status {"name","disabled"} under the auth-dir lock. */
void h_auth_status(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg);

/* --------------------------------------------------------- multipart.c */

#define MP_BOUNDARY_MAX 70         /* RFC 2046 5.1.1 */
#define MP_HEADER_MAX   8192       /* header bytes of one part */
#define MP_PARTS_MAX    16         /* parts in one body */
#define MP_PARAM_MAX    512        /* a decoded name= or filename= value */
#define MP_ENVELOPE_SLACK (64u * 1024u) /* multipart bytes beyond the file part's
                                   cap (boundaries, part headers, small fields) */

struct mp_part {
	char name[MP_PARAM_MAX];     /* form field name */
	char filename[MP_PARAM_MAX]; /* filename parameter, "" if none */
	bool has_filename;           /* filename= was present */
	const char *data;            /* content (points into the body) */
	size_t len;                  /* its length */
};

/* The boundary parameter of a multipart/form-data Content-Type into out
 * (>= MP_BOUNDARY_MAX + 1). CP_EINVAL if not multipart/form-data or no
 * valid boundary, CP_EEXIST if the boundary is given twice. */
int mp_boundary(const char *content_type, char *out, size_t outlen);
/* Split body into at most maxparts parts (pointing into body). CP_EINVAL
 * or CP_ETOOBIG with a message in err on malformed input. */
int mp_parse(const char *body, size_t len, const char *boundary, struct mp_part *parts,
    size_t maxparts, size_t *nparts, char *err, size_t errlen);
/* The base name of an uploaded file name (after the last '/' or '\\'). */
const char *mp_basename(const char *filename);

#endif /* CLIPROXY_MGMT_H */
