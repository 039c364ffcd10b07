/*
 * proxyd.h - the private header of cliproxyd (DESIGN.md section 6).
 * Prototypes are grouped by file, as OpenBSD's httpd.h does, so that a
 * reader finds any function from here.
 *
 * The seams (DESIGN 2, 6):
 * - a codec (formats/, pivot.h) knows one wire format: its requests, its
 *   answers and streams, its errors; formats translate through the pivot;
 * - a provider (providers/) knows one upstream kind: the format it speaks,
 *   its credentials, URL, headers, envelope, how to read an error, how to
 *   refresh a token;
 * - the relay (relay.c) runs one exchange and knows nothing
 *   provider-specific; policy.c decides (purely) what an answer means;
 * - the snapshot (snapshot.c) is the immutable, reference-counted view of
 *   config + auth-dir that a request keeps for its whole life;
 * - the pool (pool.c) holds the state that must survive reloads:
 *   round-robin counters, cooldowns per model, failures, OAuth tokens,
 *   keyed by credential id.
 * Calls point one way (DESIGN 6): main -> server, watch, status; server ->
 * relay, reply; relay -> snapshot, pool, upstream, formats, providers,
 * policy, reply; snapshot -> providers. Upward news travels through
 * callbacks registered by the caller (relay_init's idle_cb).
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
#define PXD_TOKEN_MAX       8192                  /* an account's access token (Codex: a JWT) */
#define PXD_XFF_MAX         4096                  /* X-Forwarded-For we look at */
#define PXD_XFF_ENTRIES_MAX 32                    /* hops we walk back */
#define PXD_ERRBODY_MAX     (1024u * 1024u)       /* upstream error body kept */
#define PXD_MODELS_BODY_MAX (4u * 1024u * 1024u)  /* a model list answer */
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
struct cred_state;
struct provider_ops;
struct authfile;
struct exchange;

/* ------------------------------------------------------------- formats/ */

/* The formats, their codecs and the pivot between them: formats/pivot.h.
 * fmt_openai_error is the OpenAI error shape, shared by the OpenAI codecs. */
int fmt_openai_error(struct buf *out, int status, enum pv_err kind,
    const char *message, const char *type, const char *code);

/* ------------------------------------------------------------- route.c */

/* The daemon's endpoints (DESIGN 6 Endpoints): one table of patterns in
 * route.c; server.c keeps the handler array parallel to this enum. */
enum route_id {
	RT_INFO = 0,             /* GET / */
	RT_HEALTHZ,              /* GET /healthz */
	RT_MODELS,               /* GET /v1/models */
	RT_CHAT,                 /* POST /v1/chat/completions */
	RT_COMPLETIONS,          /* POST /v1/completions */
	RT_MESSAGES,             /* POST /v1/messages */
	RT_COUNT_TOKENS,         /* POST /v1/messages/count_tokens */
	RT_RESPONSES,            /* POST /v1/responses */
	RT_GEMINI_MODELS,        /* GET /v1beta/models */
	RT_GEMINI_MODEL,         /* GET /v1beta/models/{model} */
	RT_GEMINI_GENERATE,      /* POST /v1beta/models/{model}:generateContent */
	RT_GEMINI_STREAM,        /* POST ...:streamGenerateContent[?alt=sse] */
	RT_GEMINI_COUNT,         /* POST ...:countTokens */
	RT__COUNT
};

/* What an upstream call is for. */
enum up_op {
	UPOP_GENERATE = 0,       /* one answer (JSON) */
	UPOP_STREAM,             /* a streamed answer */
	UPOP_COUNT,              /* token count */
};

enum route_method {
	RM_GET = 1,              /* GET (HEAD too) */
	RM_POST = 2,             /* POST */
};

#define ROUTE_MODEL_MAX 256  /* a model name taken from a path */

struct route {
	enum route_id id;
	enum route_method method;
	const char *pattern;     /* literal path; "{model}" captures one model name */
	bool auth;               /* needs a client key (DESIGN 6) */
	enum fmt_id fmt;         /* format of the body and of error answers */
	bool relayed;            /* proxied upstream (else answered here) */
	enum up_op op;           /* relayed: what for (STREAM: the path says so) */
};

struct route_match {
	const struct route *r;   /* the route, NULL when none */
	char model[ROUTE_MODEL_MAX]; /* {model} of the path, "" when none */
	char allow[32];          /* methods of the path ("GET, HEAD", "POST"):
	                          * set when the path exists, for 405 */
	enum fmt_id fmt;         /* error format for a miss (by path prefix) */
};

/* The table (borrowed, *n entries). */
const struct route *route_table(size_t *n);
/* Find method+path. CP_OK: m->r set; CP_ENOTFOUND: no such path (404);
 * CP_EPERM: the path exists, not with this method (405, m->allow). */
int route_match(enum route_method method, const char *path, struct route_match *m);

/* ------------------------------------------------------------ policy.c */

/* Pure decisions on upstream answers (PROVIDERS.md 5): no event loop, no
 * curl, no globals; unit-tested in tests/unit/test_proxyd_policy.c. */
enum pol_action {
	POL_OK = 0,              /* 2xx: the answer goes to the client */
	POL_NEXT,                /* try the next credential */
	POL_REFRESH,             /* refresh this account's token, then retry it */
	POL_PASS,                /* hand the upstream's answer to the client */
};

struct pol_in {
	long status;             /* HTTP status; 0: transport error */
	long hint_s;             /* cooldown the upstream asked for (s), -1: none */
	bool model_missing;      /* the upstream says the model does not exist */
	bool oauth;              /* the credential is an account (refreshable) */
	bool refreshed;          /* it was refreshed once in this exchange */
	bool switch_project;     /* quota-exceeded.switch-project */
	long retries_left;       /* request-retry budget left */
};

struct pol_out {
	enum pol_action action;
	long cooldown_s;         /* cool (credential, model) down this long; 0: no */
	bool token_refused;      /* that cooldown is for a refused token (401,
	                          * 403): a new login ends it (pool_forgive) */
	bool spend_retry;        /* POL_NEXT/POL_REFRESH spend one retry */
};

#define POL_COOL_QUOTA_S   (30 * 60)      /* 429 without a hint */
#define POL_COOL_AUTH_S    (30 * 60)      /* 401/403 key, 402, failed refresh */
#define POL_COOL_MISSING_S (12 * 3600)    /* 404 model not found */
#define POL_COOL_SERVER_S  60             /* 408, 5xx, transport */
#define POL_HINT_MAX_S     (24 * 3600)    /* cap on any upstream hint */

void policy_decide(const struct pol_in *in, struct pol_out *out);
/* Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date, relative
 * to now; -1 when absent or malformed; capped at POL_HINT_MAX_S. */
long policy_retry_after(const char *v, size_t len, time_t now);
/* Gemini: error.details[] of type google.rpc.RetryInfo, "retryDelay":
 * "12s" / "1.5s" (rounded up). -1 when none. */
long policy_gemini_retry_delay(const char *body, size_t len);
/* Codex: error.resets_in_seconds (also at the top level). -1 when none. */
long policy_codex_resets(const char *body, size_t len);
/* An OpenAI/Claude/Gemini error body saying the model does not exist
 * (code model_not_found, not_found_error about "model", NOT_FOUND). */
bool policy_body_model_missing(const char *body, size_t len);

/* ---------------------------------------------------------- catalogue.c */

/* The built-in model catalogue (providers/catalogue.def, PROVIDERS.md 1):
 * families of models by name prefix, and the names /v1/models lists. */
enum cat_family {
	CAT_NONE = 0,            /* no family: only explicit aliases route it */
	CAT_GEMINI,              /* gemini-* */
	CAT_CLAUDE,              /* claude-* */
	CAT_CODEX,               /* gpt-*, o1*, o3*, o4*, codex-* */
	CAT_QWEN,                /* qwen* */
	CAT__COUNT
};
/* The family a model name belongs to by its prefix. */
enum cat_family catalogue_family(const char *model);
/* The catalogue's names of a family, in catalogue order. */
const char *const *catalogue_names(enum cat_family f, size_t *n);
/* Family name for logs and for /v1/models owned_by ("google", ...). */
const char *catalogue_owner(enum cat_family f);

/* ----------------------------------------------------------- providers/ */

/* One failed upstream answer, as a provider's classify sees it. */
struct up_answer {
	long status;             /* HTTP status; 0: transport error */
	long retry_after;        /* Retry-After in seconds, -1: none */
	const char *body;        /* error body (capped), may be NULL */
	size_t len;
};

/* The provider's reading of it (policy.c decides what follows). */
struct up_class {
	long hint_s;             /* cooldown the upstream asked for, -1: none */
	bool model_missing;      /* the model does not exist upstream */
};

/* The target of one attempt. */
struct up_target {
	enum fmt_id fmt;         /* wire format of the body sent */
	enum up_op op;           /* generate, stream or count */
	bool gemini_sse;         /* Gemini stream: ?alt=sse (else JSON array) */
	const char *model;       /* upstream model name */
};

/* A provider's answer-body filter: the envelope off (Gemini CLI wraps
 * every answer and every SSE data line in "response"). */
struct up_filter;

/* Handed to a provider's build by snapshot.c: callbacks that add to the
 * snapshot being built (DESIGN 6: providers never call snapshot.c). */
struct prov_builder {
	const struct cfg *cfg;   /* the config being loaded */
	const struct authfile *auth; /* auth-dir files, sorted by name */
	size_t n_auth;
	void *ctx;               /* snapshot.c's */
	/* A new provider instance; base_url is trimmed of trailing '/'. */
	struct prov *(*add_prov)(struct prov_builder *b, const struct provider_ops *ops,
	    const char *name, const char *base_url);
	/* A credential of p; id from kind, name and secret; label for logs. */
	struct cred *(*add_cred)(struct prov_builder *b, struct prov *p, const char *secret,
	    const char *label);
	/* An account credential of p from auth file af (one of auth[]) with
	 * its access token: id from the kind and the file name, never the
	 * token (its pool state survives a refresh), cred->acct = af. */
	struct cred *(*add_account)(struct prov_builder *b, struct prov *p,
	    const struct authfile *af, const char *token, const char *label);
	/* Auth file af is not used: why (no secret in it) goes to the status
	 * file. CP_ENOMEM. */
	int (*skip_auth)(struct prov_builder *b, const struct authfile *af, const char *why);
	/* Clients asking for alias go to p with the upstream name given. */
	int (*add_model)(struct prov_builder *b, struct prov *p, const char *alias,
	    const char *upstream);
};

/* Asynchronous token refresh: done() runs later on the loop with CP_OK
 * (the new token is in the pool) or an error. */
typedef void (*prov_refresh_done)(const char *cred_id, int rc, void *arg);

struct provider_ops {
	const char *kind;        /* config key or auth type, for logs/status */
	enum fmt_id format;      /* the wire format its upstream speaks */
	enum fmt_id also;        /* a second format it passes through
	                          * (openai-compat: legacy completions), or
	                          * FMT__COUNT for none */
	enum cat_family family;  /* models it serves by prefix, CAT_NONE: aliases only */
	bool oauth;              /* credentials are accounts (401: refresh) */
	bool has_count;          /* the upstream has a token count endpoint */
	bool stream_only;        /* the upstream only streams (Codex accounts):
	                          * a non-streaming client's answer is gathered */

	/* Add its instances and credentials from the config/auth files. */
	int (*build)(struct prov_builder *b);
	/* Upstream URL of an attempt into out (replaced). */
	int (*url)(const struct prov *p, const struct cred *c, const struct up_target *t,
	    struct buf *out);
	/* Request headers for credential c in its current state st (NULL
	 * when the pool has none) into *out (a new list; freed with
	 * prov_headers_free). static_headers: they never change for a
	 * credential (API keys), so snapshot.c builds them once per
	 * credential and stream-ness (bench figure 5). */
	int (*headers)(const struct cred *c, const struct cred_state *st,
	    const struct up_target *t, struct curl_slist **out);
	bool static_headers;
	/* Client request headers passed on in passthrough (the client speaks
	 * this upstream's format): NULL-terminated names, NULL: none. */
	const char *const *client_headers;
	/* Envelope: may replace *body (a request of t->fmt) with a wrapped
	 * one. NULL: none. */
	int (*wrap)(const struct cred *c, const struct cred_state *st,
	    const struct up_target *t, cJSON **body);
	/* Answer filter (the envelope off); NULL: the body is the format's. */
	struct up_filter *(*unwrap_new)(bool stream);
	int (*unwrap_feed)(struct up_filter *f, const char *data, size_t len,
	    struct buf *out);
	void (*unwrap_free)(struct up_filter *f);
	/* Other names of model to try when every credential is cooling down
	 * for it (PROVIDERS 5: Gemini preview models, under
	 * quota-exceeded.switch-preview-model); NULL-terminated, static.
	 * NULL: none. */
	const char *const *(*previews)(const char *model);
	/* Body-aware classification of a non-2xx answer. */
	void (*classify)(const struct up_answer *a, struct up_class *out);
	/* Start refreshing an account's token (NULL for keys). */
	int (*refresh)(const struct cred *c, prov_refresh_done done, void *arg);
};

/* providers/<kind>.c */
extern const struct provider_ops prov_openai_compat;
extern const struct provider_ops prov_gemini_key;
extern const struct provider_ops prov_claude_key;
extern const struct provider_ops prov_codex_key;
/* OAuth accounts from auth files (PROVIDERS.md 2, 3; issue 12). */
extern const struct provider_ops prov_gemini_account;
extern const struct provider_ops prov_claude_account;
extern const struct provider_ops prov_codex_account;
extern const struct provider_ops prov_qwen_account;

/* providers/common.c: what several providers share. */
/* The endpoints: URL of name, else dflt (DESIGN 3, PROVIDERS 7). */
const char *prov_endpoint(const struct cfg *c, const char *name, const char *dflt);
/* Append "Name: value" to *h (the line is wiped after copying). */
int prov_header(struct curl_slist **h, const char *name, const char *value);
/* Content-Type, Accept (stream or not) and "Expect:" into a new *h. */
int prov_headers_base(const struct up_target *t, struct curl_slist **h);
/* Free a header list, wiping each line first (one holds a secret). */
void prov_headers_free(struct curl_slist *h);
/* A copy of h into *out (freed with prov_headers_free). */
int prov_headers_dup(const struct curl_slist *h, struct curl_slist **out);
/* One instance per key item (claude-api-key, codex-api-key): named
 * "<kind>#<i>", its base-url else the endpoint's URL else dflt, its key,
 * its models. */
int prov_build_keyed(struct prov_builder *b, const struct provider_ops *ops,
    const struct cfg_keyed *items, size_t n, const char *endpoint, const char *dflt);
/* prov_headers_base plus "Authorization: Bearer <secret>". */
int prov_headers_bearer(const struct cred *c, const struct up_target *t,
    struct curl_slist **out);
/* Add the models: [{name, alias}] of a key item. */
int prov_add_models(struct prov_builder *b, struct prov *p,
    const struct cfg_model_alias *m, size_t n);
/* The token to send for c: the pool's fresh one (a refreshed account)
 * when there is one, else the credential's own secret. */
const char *prov_cred_token(const struct cred *c, const struct cred_state *st);
/* What every upstream's classify starts from: the Retry-After hint, and
 * model_missing for a 404 whose body is about the model. */
void prov_classify_common(const struct up_answer *a, struct up_class *out);
/* What an account kind reads from its auth file (prov_build_accounts). */
#define PROV_BASE_MAX 512
struct prov_acct {
	const char *token;       /* the access token (borrowed from the file) */
	char base[PROV_BASE_MAX]; /* base URL from the file (qwen resource_url);
	                          * "": the endpoint's */
};
/* Fill a from auth file j (a JSON object); NULL when it is usable, else
 * why not (static text, no secret: "no access_token"). */
typedef const char *(*prov_acct_read)(const cJSON *j, struct prov_acct *a);
/* Every auth file of type as an account of ops (PROVIDERS 2): skipped
 * with its reason when "disabled": true or when read says what it lacks;
 * else a credential (add_account) of the instance "<kind>" at the
 * endpoint's URL (else dflt), or at the file's own base when read gave
 * one and the config names no endpoint (PROVIDERS 7: endpoints win). */
int prov_build_accounts(struct prov_builder *b, const struct provider_ops *ops,
    const char *type, const char *endpoint, const char *dflt, prov_acct_read read);
/* "Bearer <token of c in its state st>" with prov_headers_base. */
int prov_headers_account(const struct cred *c, const struct cred_state *st,
    const struct up_target *t, struct curl_slist **out);
/* Set o's member key to v (taken over; NULL: CP_ENOMEM), replacing one. */
int prov_json_set(cJSON *o, const char *key, cJSON *v);
/* providers/gemini.c, codex.c: shared by a family's key and account kinds. */
void prov_gemini_classify(const struct up_answer *a, struct up_class *out);
const char *const *prov_gemini_previews(const char *model);
void prov_codex_classify(const struct up_answer *a, struct up_class *out);
/* PROVIDERS 3: gpt-5-minimal|low|medium|high are gpt-5 with that
 * reasoning effort: body (a Responses request) rewritten. */
int prov_codex_effort_alias(cJSON *body);

/* ------------------------------------------------------------ snapshot.c */

struct cred {                /* one credential of one provider instance */
	const struct prov *prov; /* owner */
	char *secret;            /* API key or token: never logged */
	char id[65];             /* sha256 hex of kind\0name\0secret: pool key */
	char label[96];          /* "<provider>#<index>", safe for logs */
	struct curl_slist *hdrs[2]; /* static headers, [stream] (provider's
	                          * static_headers), else NULL */
	/* OAuth accounts (issue 12): the auth file the credential came from
	 * (borrowed from the snapshot), NULL for API keys. An account's id
	 * is made from its kind and file name, not its token, so that its
	 * pool state (fresh token, cooldowns) survives a refresh. */
	const struct authfile *acct;
};

struct prov {                /* one configured upstream */
	const struct provider_ops *ops; /* its kind */
	char *name;              /* provider name ("gemini", "claude#0", compat name) */
	char *base_url;          /* base URL, version path included, no trailing '/' */
	struct cred *creds;      /* its credentials */
	size_t n_creds;
	size_t cap_creds;        /* allocated (building) */
};

struct model_target {        /* one place a model alias can go */
	struct prov *prov;       /* provider (borrowed from the snapshot) */
	char *upstream;          /* model name the upstream receives; NULL:
	                          * the name the client asked for (prefix routes) */
};

struct route_model {         /* a model clients can ask for */
	char *alias;             /* what clients say (prefix routes: family name) */
	struct model_target *t;  /* where it can go, config order */
	size_t n;
};

struct authfile {            /* one auth-dir file (PROVIDERS 2) */
	char *name;              /* file name */
	char *type;              /* "type" member, default "gemini"; "" when json is NULL */
	cJSON *json;             /* parsed content; NULL: not a JSON object (why says so) */
	char *why;               /* why it is not used (status file), NULL: in use
	                          * (set while reading and by the build) */
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
	struct prov **provs;     /* configured upstreams (stable pointers) */
	size_t n_provs;
	struct route_model *models; /* explicit alias table, sorted by alias */
	size_t n_models;
	struct route_model families[CAT__COUNT]; /* prefix routes per family */
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
/* Where model goes (PROVIDERS.md 1): an explicit alias wins, else the
 * family of its prefix when some credential serves that family. NULL:
 * nobody serves it. */
const struct route_model *snapshot_route(const struct snapshot *s, const char *model);
size_t snapshot_n_creds(const struct snapshot *s);
/* Every model name the snapshot serves (aliases, then catalogue names of
 * the families it has credentials for), sorted, without duplicates.
 * *out is malloc'd (names borrowed from s and the catalogue). */
int snapshot_model_names(const struct snapshot *s, const char ***out, size_t *n);
/* The currently served snapshot (borrowed; take a ref to keep it). */
struct snapshot *snapshot_current(void);
/* Swap in s (takes the caller's reference); the old one is unreffed. */
void snapshot_install(struct snapshot *s);

/* ---------------------------------------------------------------- pool.c */

struct pool_cool {           /* one model a credential is cooling down for */
	char *model;             /* upstream model name */
	time_t until;            /* cooling down until then */
	bool auth;               /* for a refused token (401/403, failed
	                          * refresh): a new login ends it */
};

/* The changing state of one credential (DESIGN 6 Credentials), keyed by
 * its id and kept across reloads. */
struct cred_state {
	struct cred_state *next; /* hash chain */
	char id[65];             /* credential id */
	struct pool_cool *cools; /* cooldowns per model */
	size_t n_cools, cap_cools;
	unsigned long failures;  /* consecutive failed attempts */
	time_t last_ok;          /* last 2xx */
	/* OAuth accounts (refresh.c fills these; secrets wiped on free): */
	char *token;             /* current access token, NULL: the credential's own */
	time_t token_expiry;     /* its expiry, 0: unknown */
	bool refreshing;         /* a refresh is in flight */
	time_t refresh_retry_at; /* after a failed refresh: not before then */
	char *refresh_tok;       /* refresh token that goes with token (secret) */
	char *refresh_base;      /* the file's refresh token token came from:
	                          * a file still holding it (write-back pending)
	                          * or holding refresh_tok is ours; another one
	                          * is a re-login, which wins (PROVIDERS 4) */
	time_t last_refresh;     /* last successful refresh, 0: none */
	unsigned refresh_failures; /* consecutive failed refreshes (backoff) */
	time_t refresh_failed_at; /* the last failure, 0: none since the last success */
	char refresh_err[160];   /* why it failed, never a token ("" when fine) */
	bool writeback_pending;  /* the new token is not in the file yet */
};

struct candidate {           /* one (provider, key, upstream model) to try */
	const struct cred *cred; /* borrowed from the exchange's snapshot */
	const char *upstream;    /* model name for the upstream */
};

/* Candidates of route m for the client's model in round-robin order (the
 * rotation advances once per call, kept across reloads by model name).
 * Targets without an upstream name get model. *out is malloc'd. */
int pool_candidates(const struct route_model *m, const char *model,
    struct candidate **out, size_t *n);
/* The state of credential id: existing, or (create) a new one; NULL when
 * absent (or out of memory, or the bounded table is full). */
struct cred_state *pool_state(const char *id, bool create);
/* Cooldowns per (credential, model); *until (may be NULL) gets the end. */
bool pool_cooling(const char *cred_id, const char *model, time_t now, time_t *until);
void pool_cooldown(const char *cred_id, const char *model, time_t until, bool auth);
/* Forget s's cooldowns for a refused token and its failures (an account
 * logged in again: the new tokens have earned nothing yet). Quota and
 * other cooldowns stay: they belong to the account, not its token. */
void pool_forgive(struct cred_state *s);
/* Record the outcome of an attempt (failures count, last success). */
void pool_result(const char *cred_id, bool ok, time_t now);
/* Credentials of the snapshot with some model cooling down. */
size_t pool_n_cooling(const struct snapshot *s, time_t now);
/* Replace the secret string *slot with a copy of v (NULL: none), the old
 * one wiped. CP_ENOMEM leaves *slot as it was. */
int pool_secret_set(char **slot, const char *v);
/* Drop expired cooldowns and states that hold nothing (status timer). */
void pool_gc(time_t now);
void pool_free_all(void);

/* ------------------------------------------------------------- refresh.c */

/* OAuth token refresh (issue 12, PROVIDERS 4 and 5): off the event loop,
 * one in flight per account, written back into the auth file under the
 * auth-dir lock. refresh_start is every account provider's ops->refresh. */
#define REFRESH_WORKERS      4      /* threads doing token calls and write-backs */
#ifndef REFRESH_HTTP_MS             /* (the unit test builds with a short one) */
#define REFRESH_HTTP_MS      20000  /* a token call, connect to last byte */
#endif
#define REFRESH_WAITERS_MAX  1024   /* requests queued on one account's refresh */
#define REFRESH_WAIT_MAX_S   35     /* a waiting request gives up after this */
#ifndef REFRESH_TICK_S
#define REFRESH_TICK_S       5      /* proactive check period (PROVIDERS 7: < 30 s) */
#endif
#define REFRESH_FRESH_S      10     /* a 401 this soon after a refresh: the token
                                     * the request used was the old one */
#define REFRESH_BACKOFF_MIN_S 60    /* PROVIDERS 4: 1 min, doubling ... */
#define REFRESH_BACKOFF_MAX_S 1800  /* ... to 30 min */
#define REFRESH_STOP_GRACE_MS 2000  /* shutdown: token calls get this long */
/* notify: called on the loop after each state change of an account
 * (main registers status_touch_later). */
int refresh_init(struct event_base *base, void (*notify)(void));
void refresh_shutdown(void);
int refresh_start(const struct cred *c, prov_refresh_done done, void *arg);
/* Has account c's current token (the pool's, else its file's) a known
 * expiry within REFRESH_EXPIRED_MARGIN_S of now? Such a token is refreshed
 * before it is sent (an answer 401 would only cost a round trip). */
#define REFRESH_EXPIRED_MARGIN_S 10
bool refresh_token_expired(const struct cred *c, time_t now);
/* watch.c's hooks (registered by main). refresh_same_auth: is auth (read
 * from disk) the snapshot's auth-dir but for token write-backs whose
 * tokens the pool holds already (no rebuild needed)? */
bool refresh_same_auth(const struct snapshot *cur, const struct authfile *auth, size_t n);
/* A new snapshot s is in (old: the one it replaced, NULL at start-up): a
 * file whose refresh token is neither the pool's nor the one the pool's
 * token came from was logged in again or uploaded by someone else: its
 * tokens win over the pool's, and the account's cooldowns, failures and
 * refresh backoff are forgotten (also for an account the daemon never
 * refreshed, whose file's tokens changed from old to s). */
void refresh_installed(const struct snapshot *old, const struct snapshot *s);
/* The refresh token and expiry an auth file holds (gemini: token.*),
 * NULL / 0 when absent. */
const char *refresh_file_token(const struct authfile *a, const char *member);

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

/* --------------------------------------------------------------- xlate.c */

/* One upstream answer translated for the client (formats in motion). */
struct xlate;
/* The usage the upstream's decoder reported so far (false: none). */
bool xlate_usage(const struct xlate *x, struct pv_usage *out);
struct xlate;
/* Can an answer of codec up reach a client of codec cl (count: the token
 * count)? false while a codec function it needs is missing. */
bool xlate_possible(const struct codec *cl, const struct codec *up, bool count);
/* Decoder of up (up_stream: an SSE answer) into the encoder of cl. NULL
 * when out of memory. */
struct xlate *xlate_new(const struct codec *up, const struct codec *cl, bool up_stream,
    const struct pv_enc_opts *o);
/* Feed answer bytes (any split); the client's bytes gather in xlate_out. */
int xlate_feed(struct xlate *x, const char *data, size_t len);
/* The answer ended: flush decoder and encoder into xlate_out. */
int xlate_finish(struct xlate *x);
/* Encoded bytes not yet sent (the caller resets it after sending). */
struct buf *xlate_out(struct xlate *x);
void xlate_free(struct xlate *x);
/* An upstream count answer (JSON) as the client's count answer. */
int xlate_count(const struct codec *up, const struct codec *cl, const char *body,
    size_t len, struct buf *out);
/* The message of an upstream error body of codec up, else "upstream
 * answered status N". */
void xlate_error_message(const struct codec *up, long status, const char *body,
    size_t len, char *msg, size_t msglen);

/* --------------------------------------------------------------- reply.c */

/* Every answer the daemon makes itself (DESIGN 2 reply.c). */
/* The reason phrase of an HTTP status (one table). */
const char *reply_reason(int status);
/* 200-like answer with a JSON body (Content-Type application/json). */
void reply_json(struct evhttp_request *req, int status, const char *body, size_t len);
/* An error in codec c's shape (NULL, or a codec without error_body: the
 * OpenAI shape); type/code are OpenAI-style hints, NULL: derived. */
void reply_error(struct evhttp_request *req, const struct codec *c, int status,
    const char *message, const char *type, const char *code);
/* Ask every answer from now on to close its connection (shutdown). */
void reply_set_closing(bool on);

/* -------------------------------------------------------------- keypol.c */

/* api-key-policy (issue 15, DESIGN 3): pure decisions, unit-tested in
 * tests/unit/test_proxyd_keypol.c. */
#define KEYPOL_RPM_SLOTS 60       /* one-second slots of the minute window */
#define KEYPOL_ID_HEX    12       /* hex digits of a key's SHA-256 as its id */
#define KEYPOL_ID_LOCAL  "local"  /* id of a loopback client without a key */

struct keypol_state {        /* what one key used (usage_rec.c keeps one per key) */
	time_t sec[KEYPOL_RPM_SLOTS];  /* the second each slot counts */
	unsigned cnt[KEYPOL_RPM_SLOTS]; /* requests admitted in that second */
	long long day;           /* UTC day (days since the epoch) of tokens */
	long long tokens;        /* input + output tokens of that day */
};

struct keypol_verdict {
	int status;              /* 0: admitted; 401, 403 or 429 */
	long retry_after;        /* 429: seconds until it would pass */
	const char *message;     /* for the client (static) */
	const char *type, *code; /* OpenAI-style error type and code */
};

/* The policy item of a key (sha: its SHA-256 hex), or NULL. Every item
 * is compared, in constant time. */
const struct cfg_policy *keypol_find(const struct cfg *c, const char *key, const char *sha);
/* A key's id in usage rows: the item's name, else the first
 * KEYPOL_ID_HEX hex digits of sha, else KEYPOL_ID_LOCAL (no key). */
void keypol_key_id(const struct cfg_policy *p, const char *sha, char *out, size_t outlen);
/* The model matches one of p's globs (fnmatch), or p has none. */
bool keypol_model_ok(const struct cfg_policy *p, const char *model);
/* The verdict on a request for model (NULL: not known yet, the model
 * check is skipped) by a key of item p (NULL: no limits) that used st
 * (NULL: limits not checked). Order: disabled, model, requests, tokens. */
void keypol_decide(const struct cfg_policy *p, const char *model, const struct keypol_state *st,
    time_t now, struct keypol_verdict *v);
/* Count an admitted request / tokens used (at when) into st. */
void keypol_count_request(struct keypol_state *st, time_t now);
void keypol_count_tokens(struct keypol_state *st, time_t when, long long tokens);
long long keypol_tokens_today(const struct keypol_state *st, time_t now);

/* ---------------------------------------------------------- usage_scan.c */

/* The usage of a passthrough answer, found by a scanner instead of a
 * decoder (bench figure 5). */
#define USAGE_SCAN_CAP 8192  /* bytes of one usage object kept */
struct usage_scan {
	enum fmt_id fmt;         /* the answer's wire format */
	unsigned char state;     /* scanner state (usage_scan.c) */
	unsigned char mpos;      /* bytes of the member name matched */
	bool in_str, esc;        /* inside a string / after a backslash */
	int depth;               /* nesting inside the captured object */
	struct buf cap;          /* the captured object */
	struct pv_usage u;       /* merged counts, -1 unknown */
	bool have;               /* some usage was seen */
};
void usage_scan_init(struct usage_scan *s, enum fmt_id fmt);
void usage_scan_release(struct usage_scan *s);
/* Answer bytes, any split. */
void usage_scan_feed(struct usage_scan *s, const char *data, size_t len);
/* The counts seen (false: none). */
bool usage_scan_result(const struct usage_scan *s, struct pv_usage *out);

/* ----------------------------------------------------------- usage_rec.c */

/* Who made a request, for usage rows and api-key-policy (issue 15). */
struct client_id {
	char sha[65];            /* SHA-256 hex of the key presented, "" none */
	char key_id[USAGE_TEXT_MAX]; /* keypol_key_id */
	const struct cfg_policy *pol; /* its item in the current snapshot's
	                          * config (borrowed for this loop turn), NULL */
};

/* One exchange's accounting, kept in the relay's exchange. */
struct usage_ex {
	struct client_id who;    /* the client */
	int64_t t0_ms;           /* start (monotonic ms) */
	int64_t ttfb_ms;         /* first answer byte after t0, -1 none yet */
	int64_t bytes_in;        /* request body bytes */
	struct usage_scan scan;  /* passthrough answers */
};

/* Open <state_dir>/usage.sqlite and seed today's token counts per key
 * from it (c: the first config, its retention). A database that cannot be opened is logged and usage is not
 * recorded (the proxy runs on). */
int usage_rec_start(const char *state_dir, const struct cfg *c);
/* Flush what is queued and close (shutdown). */
void usage_rec_stop(void);
/* Apply the retention of c (hot reload; cheap when unchanged). */
void usage_rec_config(const struct cfg *c);
/* Counters for the status file: an object "usage" added to o. */
void usage_rec_status(cJSON *o);
/* The start of an exchange of who (copied; NULL: a local client) with a
 * body of len bytes, in client format fmt. usage_ex_end releases it. */
void usage_ex_begin(struct usage_ex *ux, const struct client_id *who, size_t len,
    enum fmt_id fmt);
/* The policy check once the model is known: false with v filled when
 * the request is refused; else it is counted against the key's limits. */
bool usage_ex_admit(struct usage_ex *ux, const struct cfg *c, const char *model,
    struct keypol_verdict *v);
/* The first answer byte (the first call counts). */
void usage_ex_first_byte(struct usage_ex *ux);
/* What relay.c knows at the end of an exchange. */
struct usage_end {
	const char *model;       /* asked for, NULL unknown */
	const char *upstream;    /* sent upstream, NULL none */
	const struct cred *cred; /* credential used, NULL none */
	const char *format;      /* client API format */
	long status;             /* what the client got */
	const struct pv_usage *xusage; /* a translated answer's usage, NULL */
	unsigned long long bytes_out; /* answer bytes to the client */
	unsigned attempts;       /* upstream attempts */
};
/* Record the exchange's row and count its tokens; releases ux. */
void usage_ex_end(struct usage_ex *ux, const struct usage_end *e);

/* --------------------------------------------------------------- relay.c */

/* One relayed request, as the route and the client gave it. */
struct relay_call {
	const struct codec *fmt; /* the client's format */
	enum up_op op;           /* GENERATE (the body may ask to stream) or COUNT */
	const char *path_model;  /* Gemini: the model of the path, else NULL */
	bool path_stream;        /* Gemini: streamGenerateContent */
	bool gemini_sse;         /* Gemini: ?alt=sse */
	const char *body;        /* raw request body (copied as needed) */
	size_t len;
	const char *client_addr; /* for logs */
	const struct client_id *who; /* the client (usage, api-key-policy) */
};

/* Run one proxied exchange for an authenticated request. Answers the
 * client in every case. */
void relay_start(struct evhttp_request *req, const struct relay_call *call);
size_t relay_n_active(void);
/* Cancel every exchange (shutdown deadline). */
void relay_cancel_all(void);
/* idle_cb runs whenever an exchange ends (the server waits for the last
 * one at shutdown): registered by its caller, never called up. */
void relay_init(struct event_base *base, void (*idle_cb)(void));

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
/* The same, and who (when not NULL) says which key it was: its SHA-256,
 * api-key-policy item and id in usage rows (issue 15). */
bool ca_identify(const struct evkeyvalq *h, const char *query, const struct cfg *c,
    const char *client, struct client_id *who);

/* --------------------------------------------------------------- watch.c */

struct watch_opts {
	const char *config_path; /* the config file */
};
/* First load + watches. CP_OK only if a good config was loaded. */
int watch_start(struct event_base *base, const struct watch_opts *o, char *err, size_t errlen);
/* SIGHUP: reload even if nothing changed. */
void watch_force_reload(void);
/* Hooks (main registers refresh.c's): same_auth says a changed auth-dir
 * needs no rebuild; installed hears of every new snapshot. NULL: none. */
void watch_set_hooks(bool (*same_auth)(const struct snapshot *cur,
    const struct authfile *auth, size_t n),
    void (*installed)(const struct snapshot *old, const struct snapshot *s));
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
	unsigned long long cooldowns;  /* cooldowns started (PROVIDERS 5) */
	unsigned long long translated; /* exchanges translated between formats */
	unsigned long long in_flight;  /* exchanges running now (relay.c keeps it) */
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
/* status_touch(false) for a callback without arguments. */
void status_touch_later(void);
void status_shutdown(void);
const char *status_last_error(void);
time_t status_started(void);
/* What the daemon listens on, for the status file (main sets it). */
void status_set_listen(const char *desc);

#endif /* CLIPROXY_PROXYD_H */
