/*
 * core.h - the private header of libcore.a, shared by cliproxy-mgmt and
 * cliproxyd (DESIGN.md section 2). Prototypes are grouped by file.
 *
 * Conventions (STYLE.md):
 * - functions return enum cp_err (CP_OK on success) unless noted;
 * - "err, errlen" is an optional caller buffer for a human message
 *   (lowercase, no final period, never a secret); NULL is allowed;
 * - arguments are borrowed; a function that returns memory says who frees it;
 * - S_init / S_release / S_free lifecycle names.
 */
#ifndef CLIPROXY_CORE_H
#define CLIPROXY_CORE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <cjson/cJSON.h>

/* ---------------------------------------------------------------- caps */

#define CP_BODY_MAX        (1024u * 1024u)   /* request body / auth file (DESIGN 5) */
#define CP_CONFIG_MAX      (4u * 1024u * 1024u) /* config.yaml size we accept */
#define CP_AUTHFILE_MAX    (1024u * 1024u)   /* one auth-dir JSON file (DESIGN 4) */
#define CP_AUTHNAME_MAX    200               /* auth file name length (DESIGN 4) */
#define CP_AUTHDIR_FILES_MAX 10000           /* files in auth-dir: uploads of new
                                                names stop here, listings and the
                                                daemon show this many */
#define CP_LOCK_TIMEOUT_MS 5000              /* bounded lock wait (DESIGN 4) */
#define CP_JSON_DEPTH_MAX  64                /* nesting accepted in bodies */
#define CP_YAML_DEPTH_MAX  64                /* nesting accepted in config */

/* -------------------------------------------------------------- errors */

enum cp_err {
	CP_OK = 0,     /* success */
	CP_ENOMEM,     /* allocation failed */
	CP_EINVAL,     /* malformed or out-of-range input */
	CP_ENOTFOUND,  /* no such key, item or file */
	CP_EBUSY,      /* lock wait timed out */
	CP_EIO,        /* system call failed; errno kept */
	CP_EPARSE,     /* document does not parse (YAML or JSON) */
	CP_ETOOBIG,    /* input passed a named cap */
	CP_ETYPE,      /* value present but of the wrong type */
	CP_EEXIST,     /* already exists */
	CP_EPERM,      /* not allowed (name, path, permission) */
	CP_ELIMIT,     /* a named cap on what is stored is reached (auth-dir files) */
	CP_ECHANGED,   /* If-Match precondition failed: the file changed */
};

/* Short stable name of an error code, e.g. "busy". Never NULL. */
const char *cp_strerror(int err);
/* Fill a caller's optional error buffer (err may be NULL, errlen 0). */
void cp_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ----------------------------------------------------------------- log.c */

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* ident: program name; to_syslog: use syslog(3) instead of stderr. */
void log_init(const char *ident, bool to_syslog, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* log_warn/log_err append ": strerror(errno)"; the x variants do not.
 * Never pass a secret (key, token) in the arguments. */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ----------------------------------------------------------------- buf.c */

/* A growable byte buffer that refuses to pass its cap (curl's dynbuf).
 * p is always NUL-terminated when non-NULL (the NUL is not counted in len). */
struct buf {
	char *p;       /* bytes, NUL-terminated; NULL until first append */
	size_t len;    /* bytes used */
	size_t cap;    /* bytes allocated */
	size_t max;    /* hard cap on len; appends beyond it fail */
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);                 /* frees p, keeps max */
void buf_reset(struct buf *b);                   /* len = 0, keeps memory */
int buf_append(struct buf *b, const void *data, size_t len); /* CP_ETOOBIG past max */
int buf_appends(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Hands p to the caller (who frees it) and re-inits b with the same max. */
char *buf_steal(struct buf *b, size_t *len);

/* ------------------------------------------------------------- strutil.c */

/* Strict decimal integer: the whole of s[0..len), optional '-' only when
 * min < 0, no '+', no spaces, in [min, max]. CP_EINVAL otherwise.
 * Canonical spelling only (Redis string2ll): "0", but not "01" or "-0". */
int str_to_ll(const char *s, size_t len, long long min, long long max, long long *out);
/* Constant-time equality of two byte strings (time depends only on lengths). */
bool ct_memeq(const void *a, size_t alen, const void *b, size_t blen);
bool ct_streq(const char *a, const char *b);
/* Overwrite memory in a way the compiler cannot drop. */
void cp_wipe(void *p, size_t len);
/* true if addr (textual IPv4/IPv6) is loopback: 127.0.0.0/8, ::1,
 * ::ffff:127.0.0.0/104 (DESIGN 5). */
bool addr_is_loopback(const char *addr);
/* CIDR match of textual addr against textual "a.b.c.d/n" or "x::/n" (or a
 * bare address). false on any parse failure. */
bool addr_in_cidr(const char *addr, const char *cidr);
/* Valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool utf8_valid(const char *s, size_t len);
/* Case-insensitive suffix test. */
bool str_has_suffix_ci(const char *s, const char *suffix);
/* strdup that returns NULL only on ENOMEM (s may not be NULL). */
char *cp_strdup(const char *s);
char *cp_strndup(const char *s, size_t n);
/* RFC 3339 UTC with seconds, "2025-08-30T12:34:56Z"; out >= 21 bytes. */
void fmt_rfc3339(time_t t, char *out, size_t outlen);
/* Milliseconds of CLOCK_MONOTONIC (for intervals and deadlines). */
long long cp_mono_ms(void);

/* -------------------------------------------------------------- sha256.c */

#define SHA256_LEN 32
struct sha256_ctx {
	uint32_t h[8];      /* state */
	uint64_t nbytes;    /* bytes hashed so far */
	uint8_t blk[64];    /* partial block */
	size_t blen;        /* bytes in blk */
};
void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *data, size_t len);
void sha256_final(struct sha256_ctx *c, uint8_t out[SHA256_LEN]);
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);
/* Lowercase hex of out; hex must hold 65 bytes. */
void sha256_hex(const void *data, size_t len, char hex[65]);

/* ---------------------------------------------------------------- etag.c */

/* Entity tags of files (RFC 9110 8.8.3): one strong validator derived from
 * the bytes, '"' + sha256 hex + '"'. The one place that makes them and the
 * one place that compares them (DESIGN 5 "Beyond the spec"). */
#define ETAG_LEN 66            /* bytes of an ETag, quotes included */
#define ETAG_HEADER_MAX 8192   /* If-Match / If-None-Match bytes we look at */
/* ETag of data into out (>= ETAG_LEN + 1 bytes). */
void etag_of(const void *data, size_t len, char *out, size_t outlen);
/* ETag of a file whose sha256 hex is already known. */
void etag_of_sha(const char sha[65], char *out, size_t outlen);
/* If-Match (RFC 9110 13.1.1): true when header is "*" and the resource
 * exists (etag != NULL), or lists etag by strong comparison. A weak tag or
 * a malformed header never matches. */
bool etag_if_match(const char *header, const char *etag);
/* If-None-Match (RFC 9110 13.1.2): true when the header matches, i.e. a
 * GET may answer 304: "*" with a resource, or etag listed (weak
 * comparison). A malformed header matches nothing. */
bool etag_if_none_match(const char *header, const char *etag);

/* ---------------------------------------------------------------- json.c */

/* Parse exactly one complete JSON value from data[0..len): valid UTF-8, no
 * trailing bytes except whitespace, nesting <= CP_JSON_DEPTH_MAX, len <=
 * CP_BODY_MAX, RFC 8259 numbers, no raw control bytes or \u0000 in
 * strings. *out is owned by the caller (cJSON_Delete). CP_ETOOBIG when
 * len > CP_BODY_MAX, CP_EPARSE on any other failure (an empty body too). */
int json_parse_strict(const char *data, size_t len, cJSON **out);
/* The same with the caller's cap instead of CP_BODY_MAX (cliproxyd's
 * request-body-max: the daemon and the responder share one parser). */
int json_parse_strict_max(const char *data, size_t len, size_t max, cJSON **out);
/* Typed getters: CP_OK, CP_ENOTFOUND (member absent), CP_ETYPE (present,
 * wrong type). Returned pointers are borrowed from obj. */
int json_get_string(const cJSON *obj, const char *key, const char **out);
int json_get_bool(const cJSON *obj, const char *key, bool *out);
/* An integral number in [min, max] (1.5, 1e400, "1", true are CP_ETYPE;
 * out of range is CP_EINVAL). */
int json_get_int(const cJSON *obj, const char *key, long long min, long long max, long long *out);
int json_get_array(const cJSON *obj, const char *key, const cJSON **out);
int json_get_object(const cJSON *obj, const char *key, const cJSON **out);
/* Same checks on a bare item (not a member). */
int json_item_int(const cJSON *item, long long min, long long max, long long *out);
/* Deep equality as cJSON_Compare(a, b, true), with objects compared by
 * their members sorted by name: O(n log n) where cJSON_Compare is
 * O(n^2) in the members of an object. false on ENOMEM. Recursion depth is
 * the documents' (bounded by their parsers). */
bool json_equal(const cJSON *a, const cJSON *b);
/* The members of object o sorted by name (*out: malloc'd array of
 * borrowed pointers, caller frees; NULL when o has none), for lookups in
 * O(log n) with json_sorted_find where cJSON_GetObjectItem scans. */
int json_sorted_members(const cJSON *o, const cJSON ***out, size_t *n);
const cJSON *json_sorted_find(const cJSON *const *v, size_t n, const char *name);
/* Compact serialization; caller frees with free(). NULL on ENOMEM. */
char *json_print(const cJSON *item);

/* ---------------------------------------------------------------- lock.c */

struct lock {
	int fd;            /* open lock file, -1 when not held */
};
#define LOCK_INIT { -1 }

/* Open (create 0600) path and take an exclusive F_OFD_SETLKW lock, waiting
 * at most timeout_ms (CP_EBUSY after that; 0: one try). Waiters are served
 * in turn, never starved by a holder that comes straight back (lock.c).
 * The wait is bounded by a timer signal (SIGRTMAX - 2) on this thread. */
int lock_acquire(struct lock *l, const char *path, int timeout_ms);
void lock_release(struct lock *l);

/* -------------------------------------------------------------- fileio.c */

/* Read a whole file (at most cap bytes; CP_ETOOBIG past it). *out is
 * NUL-terminated, owned by the caller. CP_ENOTFOUND if it does not exist.
 * Never a torn read of a file edited in place: the size and change times
 * must be the same before and after the read, else it is read again;
 * CP_EBUSY when it keeps changing. */
int fio_read_file(const char *path, size_t cap, char **out, size_t *outlen);
/* Same, relative to a directory descriptor, with O_NOFOLLOW; refuses
 * anything that is not a regular file (CP_EPERM). */
int fio_read_at(int dirfd, const char *name, size_t cap, char **out, size_t *outlen);
/* Atomic replace (DESIGN 4 steps 4-5): dot-prefixed mkstemp temp beside
 * path, write loop, fchmod to the old file's mode (newmode if none; in a
 * setgid group-writable directory the group also gets newmode's owner
 * read/write bits), keep its group, fsync, rename, fsync the directory;
 * temp unlinked on failure, old file intact. err gets e.g. "No space left
 * on device". */
int fio_write_atomic(const char *path, const void *data, size_t len, mode_t newmode,
    char *err, size_t errlen);
/* The same relative to a directory descriptor (auth-dir). */
int fio_write_atomic_at(int dirfd, const char *name, const void *data, size_t len,
    mode_t newmode, char *err, size_t errlen);
/* Remove dot-temp files (".<name>.tmp*" made by fio_write_atomic*) older
 * than max_age_s in dir; called under the lock by writers. */
void fio_clean_stale_temps(int dirfd, int max_age_s);
/* Identity of a file for caches: (dev, ino, size, mtime ns). */
struct fio_stamp {
	dev_t dev;         /* device */
	ino_t ino;         /* inode */
	off_t size;        /* size in bytes */
	long long mtime_ns; /* modification time, ns since epoch */
};
int fio_stamp(const char *path, struct fio_stamp *st);
bool fio_stamp_eq(const struct fio_stamp *a, const struct fio_stamp *b);

/* ------------------------------------------------------------------ pw.c */

#define PW_HASH_MAX 128
#define PW_KEY_MAX  72      /* key bytes bcrypt reads: longer keys are refused */
/* bcrypt "$2b$" cost 10 hash of plain into out (>= PW_HASH_MAX bytes).
 * CP_ETOOBIG when plain is longer than PW_KEY_MAX bytes: bcrypt would
 * ignore the rest, so every key sharing the first 72 bytes would match. */
int pw_hash(const char *plain, char *out, size_t outlen);
/* true if plain matches the bcrypt hash (full crypt_rn cost); always
 * false for a plain longer than PW_KEY_MAX bytes. */
bool pw_verify(const char *plain, const char *hash);
/* true if s looks like a crypt hash we can verify ("$2a$", "$2b$", "$2y$"). */
bool pw_is_hash(const char *s);
/* The per-process verified-key memory (DESIGN 5): after a successful full
 * check, remembers SHA-256(key) beside the hash it matched; later keys are
 * compared to that digest in constant time. A different hash forgets it.
 * Failed keys always pay a full bcrypt. */
struct pw_memo {
	char hash[PW_HASH_MAX];      /* hash the digest was verified against */
	uint8_t digest[SHA256_LEN];  /* SHA-256 of the accepted key */
	bool valid;                  /* digest is usable */
	bool disabled;               /* benchmark switch: always full bcrypt */
};
void pw_memo_init(struct pw_memo *m);
bool pw_check(struct pw_memo *m, const char *plain, const char *hash);

/* ----------------------------------------------------------- authstore.c */

/* Name allow-list (DESIGN 4): [A-Za-z0-9._@+-], 1..200 bytes, ends in
 * ".json" case-insensitively, does not start with '.'. len is explicit so
 * an embedded NUL fails. */
bool authstore_name_ok(const char *name, size_t len);
/* The same allow-list with another suffix (request logs: ".log"). */
bool file_name_ok(const char *name, size_t len, const char *suffix);

struct authstore_entry {
	char name[CP_AUTHNAME_MAX + 1]; /* file name */
	long long size;                 /* bytes */
	time_t mtime;                   /* modification time */
	char *type;                     /* "type" string from the file, or NULL */
	char *email;                    /* "email" string from the file, or NULL */
	bool disabled;                  /* "disabled": true at the top level */
	time_t expires;                 /* token expiry (oauth_file_expiry), 0 if none */
};
/* Regular *.json files directly in dir, passing the name check, no
 * dot-files, no symlinks, no directories; sorted by name: at most the
 * CP_AUTHDIR_FILES_MAX smallest names (bounded memory however many there
 * are); *total (may be NULL) counts every visible file, so *n < *total
 * says the list is cut. *out is freed with authstore_list_free.
 * CP_ENOTFOUND if dir is missing. */
int authstore_list(const char *dir, struct authstore_entry **out, size_t *n, size_t *total);
void authstore_list_free(struct authstore_entry *v, size_t n);
/* Read one file (name checked, openat + O_NOFOLLOW, regular only).
 * CP_EINVAL bad name, CP_ENOTFOUND missing or not a regular file (a
 * symlink, directory or FIFO is invisible). *data owned by the caller. */
int authstore_read(const char *dir, const char *name, char **data, size_t *len);
/* Validate data is a JSON object <= CP_AUTHFILE_MAX and write it atomically
 * under dir/.lock (mode 0600 for new files; dir created 0700 if absent).
 * CP_EINVAL bad name or not an object, CP_EPARSE not JSON, CP_ETOOBIG,
 * CP_EBUSY lock timeout, CP_ELIMIT a new name when the directory already
 * holds CP_AUTHDIR_FILES_MAX files (err says so), CP_EIO with the reason
 * in err. */
int authstore_write(const char *dir, const char *name, const char *data, size_t len,
    char *err, size_t errlen);
/* Under the lock; CP_EINVAL bad name, CP_ENOTFOUND missing or not a
 * regular file. */
int authstore_delete(const char *dir, const char *name);
/* The same two with an If-Match precondition (etag_if_match, NULL: none)
 * checked under the auth-dir lock against the file as it is then:
 * CP_ECHANGED when it fails (a missing file fails every If-Match). */
int authstore_write_if(const char *dir, const char *name, const char *data, size_t len,
    const char *if_match, char *err, size_t errlen);
int authstore_delete_if(const char *dir, const char *name, const char *if_match);
/* Delete every file authstore_list's rules make visible (all of them,
 * not only the listed CP_AUTHDIR_FILES_MAX); *deleted counts them. */
int authstore_delete_all(const char *dir, size_t *deleted);
/* Change one file under dir/.lock (DESIGN 4): read it as it is now,
 * parse it (a JSON object, else CP_EPARSE and nothing is written), call
 * fn with the document (fn edits it in place and returns CP_OK to write,
 * anything else to abort: returned as is), write it back atomically with
 * its mode kept. CP_ENOTFOUND when the file does not exist (it is never
 * created here), CP_EINVAL bad name, CP_EBUSY lock timeout. Pretty-printed
 * output, as the original's logins wrote. */
typedef int (*authstore_update_fn)(cJSON *doc, void *arg);
int authstore_update(const char *dir, const char *name, authstore_update_fn fn, void *arg,
    char *err, size_t errlen);
/* Path of the auth-dir lock file into out. */
void authstore_lock_path(const char *dir, char *out, size_t outlen);

/* -------------------------------------------------------------- config.c */

/* The configuration model (DESIGN 3). Every string is non-NULL (empty when
 * absent); every list is a valid (possibly empty) array. */
struct cfg_strlist {
	char **v;          /* items */
	size_t n;          /* count */
};
struct cfg_model_alias {
	char *name;        /* upstream model name */
	char *alias;       /* name clients ask for ("" -> same as name) */
};
struct cfg_keyed {     /* claude-api-key / codex-api-key item */
	char *api_key;     /* api-key */
	char *base_url;    /* base-url, "" when absent */
	struct cfg_model_alias *models; /* models (PROVIDERS 1), NULL-name terminated */
	size_t n_models;
};
struct cfg_compat {    /* openai-compatibility item */
	char *name;        /* provider name */
	char *base_url;    /* base-url including the version path */
	struct cfg_strlist api_keys; /* api-keys */
	struct cfg_model_alias *models; /* models */
	size_t n_models;
};
struct cfg_policy {    /* api-key-policy item (issue 15) */
	char *api_key;     /* the key, or "sha256:<64 hex>" */
	char *name;        /* key id in usage and logs, "" = hash prefix */
	struct cfg_strlist models; /* allowed model globs, empty = any */
	long max_rpm;      /* max-requests-per-minute, 0 = no limit */
	long max_tpd;      /* max-tokens-per-day, 0 = no limit */
	bool disabled;     /* disabled: every request refused */
};
struct cfg_endpoint {  /* one endpoints: entry */
	char *name;        /* "gemini", "claude-token-url", ... */
	char *url;         /* base URL */
};
struct cfg {
	long port;                    /* port, default 8317 */
	char *host;                   /* host, default "127.0.0.1" */
	bool allow_remote;            /* remote-management.allow-remote */
	char *secret_key;             /* remote-management.secret-key (hash or plaintext) */
	char *auth_dir;               /* auth-dir, "~" expanded */
	bool debug;                   /* debug */
	char *proxy_url;              /* proxy-url */
	long request_retry;           /* request-retry 0..100 */
	bool switch_project;          /* quota-exceeded.switch-project, default true */
	bool switch_preview_model;    /* quota-exceeded.switch-preview-model, default true */
	struct cfg_strlist api_keys;  /* api-keys */
	struct cfg_strlist gl_api_keys; /* generative-language-api-key */
	struct cfg_keyed *claude;     /* claude-api-key */
	size_t n_claude;
	struct cfg_keyed *codex;      /* codex-api-key */
	size_t n_codex;
	struct cfg_compat *compat;    /* openai-compatibility */
	size_t n_compat;
	bool request_log;             /* request-log */
	bool allow_localhost_unauth;  /* allow-localhost-unauthenticated */
	char *request_log_dir;        /* request-log-dir, "" = <state dir>/requests */
	struct cfg_strlist trusted_proxies; /* trusted-proxies, default loopback */
	struct cfg_endpoint *endpoints; /* endpoints mapping, in file order */
	size_t n_endpoints;
	char *secret_key_path;        /* "remote-management.secret-key" or
	                                 "remote-management-key": where it lives */
	char *state_dir;              /* state-dir as written, "" = the default
	                                 (cfg_state_dir) */
	/* cliproxyd limits (DESIGN 6 "Limits"; ours, not the original's) */
	long request_body_max;        /* request-body-max: bytes of a request body */
	long max_connections;         /* max-connections: client connections at once */
	/* usage accounting and client-key policy (issue 15) */
	long usage_raw_days;          /* usage-raw-days, default 7 */
	long usage_days;              /* usage-days, default 400 */
	struct cfg_policy *policy;    /* api-key-policy */
	size_t n_policy;
};

/* Parse YAML text into a model, filling defaults and validating every key
 * (types, ranges, URLs). On failure returns CP_EPARSE (syntax) or CP_EINVAL
 * (semantics) with err like "line 12: request-retry: must be an integer
 * 0..100". *out is allocated; free with cfg_free. */
int cfg_parse(const char *text, size_t len, struct cfg **out, char *err, size_t errlen);
/* cfg_parse of a file (fio_read_file with CP_CONFIG_MAX). */
int cfg_load(const char *path, struct cfg **out, char *err, size_t errlen);
void cfg_free(struct cfg *c);
/* The effective configuration as a JSON object keyed as in the YAML (every
 * key of DESIGN 3, defaults filled, lists [] never null). with_secret false
 * leaves out remote-management.secret-key. Caller owns it (cJSON_Delete). */
cJSON *cfg_to_json(const struct cfg *c, bool with_secret);
/* The default config path: $CLIPROXY_CONFIG, else the running user's
 * ~/.config/cliproxy/config.yaml when it exists (home from the password
 * database: a shared host's suexec cleans the environment), else
 * SYSCONFDIR/cliproxy/config.yaml. */
#define CFG_USER_PATH ".config/cliproxy/config.yaml"
const char *cfg_default_path(void);
/* The same choice with env ($CLIPROXY_CONFIG or NULL) and home given; the
 * per-user path is built in out. */
const char *cfg_find_path(const char *env, const char *home, char *out, size_t outlen);
/* "~" / "~/x" expanded against the running user's home; caller frees. */
char *cfg_expand_home(const char *path);
/* The state directory (DESIGN 3 state-dir), the one rule both programs
 * use: the config's state-dir ("~" expanded, relative to the config's
 * directory), else LOCALSTATEDIR/lib/cliproxy when config_path is the
 * packaged config, else "<config dir>/state". c may be NULL (a config
 * that does not load). Caller frees; NULL on ENOMEM. */
char *cfg_state_dir(const struct cfg *c, const char *config_path);
/* The directory part of path into out ("." when none, "/" for "/x"). */
void cfg_dir_of(const char *path, char *out, size_t outlen);
/* Lock file beside the config: "<dir>/.cliproxy.lock" into out. */
void cfg_lock_path(const char *config_path, char *out, size_t outlen);
/* Validate one item of a list key given as JSON (used by the management
 * API before writing). key is "claude-api-key", "codex-api-key",
 * "openai-compatibility", "api-keys", "generative-language-api-key",
 * "api-key-policy".
 * err names the field: "api-key must be a non-empty string". */
int cfg_validate_item(const char *key, const cJSON *item, char *err, size_t errlen);
/* The members of an item of object list key that the model reads
 * ("api-key", "base-url", ...; NULL-terminated), NULL for other keys. A
 * member not in it is unknown to the project and kept on every write. */
const char *const *cfg_item_fields(const char *key);
/* proxy-url rule (DESIGN 3): empty, or scheme in the allowed set with a host. */
bool cfg_proxy_url_ok(const char *url);
/* base-url rule: empty, or http(s)://host... */
bool cfg_http_url_ok(const char *url);

/* --------------------------------------------------------- config_yaml.c */

/* A parsed YAML document with byte positions, shared by config.c (model,
 * error lines) and config_yaml.c (splice). Built from libyaml events with
 * caps: CP_YAML_DEPTH_MAX nesting, YAML_NODES_MAX nodes, aliases resolved
 * by reference (the expanded size is capped, so no billion laughs),
 * duplicate mapping keys refused. */
#define YAML_NODES_MAX    (1u << 18)  /* nodes in one document */
#define YAML_EXPANDED_MAX (1u << 19)  /* nodes counting alias expansion */
enum ynode_kind { YN_SCALAR, YN_SEQ, YN_MAP };
struct ynode {
	enum ynode_kind kind;  /* scalar, sequence or mapping */
	bool plain;            /* scalar written plain (typed by YAML 1.1 rules) */
	bool flow;             /* collection written in flow style ([..], {..}) */
	bool virt;             /* empty plain scalar: start/end set by us */
	char *s;               /* scalar value, NUL-terminated */
	size_t slen;           /* its length */
	size_t line;           /* 1-based line of the node's first byte */
	size_t start, end;     /* byte range in the text (block collections:
	                          first byte to end of last content) */
	struct ynode **kids;   /* seq: items; map: key, value, key, value... */
	size_t n;              /* entries in kids */
	size_t cap;            /* allocated entries in kids */
	size_t weight;         /* nodes below, aliases expanded */
	size_t height;         /* nesting below, aliases expanded */
};
struct ydoc;
/* Parse text; CP_EPARSE "line N: <problem>" on syntax errors, CP_ETOOBIG
 * past CP_CONFIG_MAX or the node caps, CP_EINVAL for duplicate keys or
 * more than one document. *out freed with ydoc_free. */
int ydoc_parse(const char *text, size_t len, struct ydoc **out, char *err, size_t errlen);
void ydoc_free(struct ydoc *d);
/* The root node, NULL for an empty (or comment-only) document. */
const struct ynode *ydoc_root(const struct ydoc *d);
/* Value of key in mapping m (NULL if absent or m is not a mapping). */
const struct ynode *ynode_get(const struct ynode *m, const char *key);
/* The scalar keys of mapping m sorted (*out malloc'd, NULL if none), for
 * lookups in O(log n) where ynode_get scans: a caller that looks up every
 * member of a mapping of n members would be O(n^2) (issue 10 item 6). */
struct map_ix {
	const struct ynode *k;     /* a scalar key of the mapping */
	size_t pi;                 /* its pair index in m->kids */
};
int ynode_map_index(const struct ynode *m, struct map_ix **out, size_t *n);
/* Pair index of key in an index of ynode_map_index, or -1. */
long ynode_map_index_find(const struct map_ix *v, size_t n, const char *key);
/* YAML 1.1 typing of a plain scalar: true when it reads as null/bool. */
bool yaml_scalar_is_null(const struct ynode *n);
bool yaml_scalar_bool(const struct ynode *n, bool *out);
/* A node converted to JSON (plain scalars typed). NULL on ENOMEM. */
cJSON *ynode_to_json(const struct ynode *n);

/* Comment-preserving edits (DESIGN 3): splice new YAML text into the
 * original bytes at the libyaml marks of the node being replaced.
 * A path is a NULL-terminated array of mapping keys from the root, e.g.
 * {"quota-exceeded", "switch-project", NULL}.
 *
 * yaml_set: replace the value at path with the YAML rendering of value
 * (any JSON value: scalars keep a plain style where the re-read string is
 * identical and quote otherwise; lists/objects render as block style at
 * the right indentation, or flow style if the old value was flow). A
 * missing key is appended at the end of its mapping (missing parent
 * mappings are created). For sequences it changes only the items that
 * differ where it can (one PATCH changes one item's lines).
 * *out is the whole new text, caller frees. */
int yaml_set(const char *text, size_t len, const char *const *path, const cJSON *value,
    char **out, size_t *outlen, char *err, size_t errlen);
/* Remove the key at path (and its value) from its mapping. CP_ENOTFOUND if absent. */
int yaml_delete(const char *text, size_t len, const char *const *path,
    char **out, size_t *outlen, char *err, size_t errlen);
/* Remove the items i of the block sequence at path where drop[i] is set
 * (n: the sequence's length as the caller read it, else CP_EINVAL). Each
 * removed item takes its own lines and the comment lines right above it
 * at its '-' column; the other items keep their bytes. One pass over the
 * list (issue 10 item 6). Flow lists and a list emptied completely are
 * rewritten through yaml_set. *out is the whole new text, caller frees. */
int yaml_seq_remove(const char *text, size_t len, const char *const *path, const bool *drop,
    size_t n, char **out, size_t *outlen, char *err, size_t errlen);
/* Does path exist as a key? */
bool yaml_has(const char *text, size_t len, const char *const *path);
/* The value at path converted to JSON (scalars typed by YAML 1.1 core
 * rules as the loader does). CP_ENOTFOUND if absent. Caller owns *out. */
int yaml_get_json(const char *text, size_t len, const char *const *path, cJSON **out,
    char *err, size_t errlen);

/* --------------------------------------------------------------- cfgtx.c */

/* One config transaction (DESIGN 4): lock "<dir>/.cliproxy.lock" (bounded
 * wait, CP_EBUSY), read and parse the file under the lock (CP_EPARSE with
 * the line in err: never overwrite a file that does not parse), call fn
 * with the current text and model, and if fn produced new text
 * (tx->out != NULL), check it parses and validates (CP_EINVAL with the
 * message otherwise, file untouched), write it atomically, unlock.
 * fn returns CP_OK to commit, anything else to abort (returned as is). */
struct cfg_tx {
	const char *path;      /* config path */
	const char *text;      /* current bytes (borrowed, NUL-terminated) */
	size_t len;            /* their length */
	const struct cfg *cfg; /* current model (borrowed) */
	char *out;             /* new text set by fn (malloc'd; tx frees) */
	size_t outlen;         /* its length */
	char err[256];         /* message from fn on failure */
};
typedef int (*cfg_tx_fn)(struct cfg_tx *tx, void *arg);
int cfg_transact(const char *path, cfg_tx_fn fn, void *arg, char *err, size_t errlen);
/* What a caller may add to a transaction: a precondition checked and
 * hooks run under the lock, and what happened. */
struct cfg_tx_opts {
	const char *if_match;      /* If-Match value (etag_if_match), NULL: none;
	                              checked against the file read under the
	                              lock: CP_ECHANGED, fn not called */
	int (*before_write)(struct cfg_tx *tx, void *arg); /* new text
	                              validated, not yet renamed; non-CP_OK
	                              aborts with the file untouched; a
	                              message goes in tx->err */
	void (*after_write)(const struct cfg_tx *tx, void *arg); /* renamed */
	void *hook_arg;            /* argument of both hooks */
	char sha_before[65];       /* out: sha256 hex of the file read */
	char sha_after[65];        /* out: of the file left (== before when
	                              nothing was written) */
	bool written;              /* out: a new file replaced the old */
};
int cfg_transact_opts(const char *path, struct cfg_tx_opts *o, cfg_tx_fn fn, void *arg,
    char *err, size_t errlen);
/* Convenience inside fn: tx->out = yaml_set(current out or text, path, value). */
int cfg_tx_set(struct cfg_tx *tx, const char *const *path, const cJSON *value);

/* --------------------------------------------------------------- usage.c */

/* Usage accounting (issue 15): <state-dir>/usage.sqlite in WAL mode, raw
 * rows plus hourly aggregates. cliproxyd owns the one writer; the
 * responder reads with its own read-only connection. */

#define USAGE_DB_NAME       "usage.sqlite"  /* file inside the state dir */
/* Rows queued before drops. The worker commits USAGE_BATCH_MAX rows in a
 * few ms, so the queue only bridges a stalled disk: 8,192 rows (~850
 * bytes each, 7 MB) are about half a second of cliproxyd's peak rate on
 * the bench machine (figure 5); 65,536 held 54 MB for nothing. */
#define USAGE_QUEUE_DEFAULT 8192
#define USAGE_BATCH_MAX     1000            /* rows per transaction (issue 15) */
#define USAGE_FLUSH_MS      1000            /* a queued row waits at most this */
#define USAGE_TEXT_MAX      128             /* bytes of one text field, NUL included */
#define USAGE_LAT_BUCKETS   21              /* latency histogram buckets */

/* One exchange. Text fields are truncated copies, never secrets: key_id is
 * the policy name or a hash prefix, credential the auth file name or a key
 * hash prefix (issue 15). */
struct usage_row {
	int64_t ts_ms;                  /* end of the exchange, Unix ms */
	char key_id[USAGE_TEXT_MAX];    /* client key id */
	char model[USAGE_TEXT_MAX];     /* model the client asked for */
	char upstream_model[USAGE_TEXT_MAX]; /* model sent upstream */
	char provider[USAGE_TEXT_MAX];  /* provider kind ("claude", ...) */
	char credential[USAGE_TEXT_MAX]; /* credential id */
	char format[USAGE_TEXT_MAX];    /* client API format ("openai-chat", ...) */
	int status;                     /* HTTP status to the client, 0 transport */
	int64_t in_tok;                 /* input tokens */
	int64_t out_tok;                /* output tokens */
	int64_t cached_tok;             /* cached input tokens */
	int64_t reasoning_tok;          /* reasoning tokens */
	int64_t ttfb_ms;                /* time to first byte, ms */
	int64_t total_ms;               /* total time, ms */
	int64_t bytes_in;               /* request bytes from the client */
	int64_t bytes_out;              /* response bytes to the client */
	int retries;                    /* upstream retries spent */
};

/* Fill the text field dst (USAGE_TEXT_MAX bytes) from s, truncated; NULL
 * gives "". */
void usage_set_text(char *dst, const char *s);
/* Upper bound in ms of latency bucket i (the last is open: INT64_MAX). */
int64_t usage_bucket_limit(int i);
/* Bucket of a latency in ms. */
int usage_bucket_of(int64_t ms);

/* The usage database path: <state_dir>/usage.sqlite (state_dir from
 * cfg_state_dir; "" gives cfg_state_dir's last default, "<config
 * dir>/state"). Caller frees. */
char *usage_db_path(const char *state_dir, const char *config_path);

struct usage_writer_opts {
	const char *path;        /* database file (created 0600 if absent) */
	size_t queue_cap;        /* rows queued at most, 0 = USAGE_QUEUE_DEFAULT */
	int raw_days;            /* keep raw rows this many days (usage-raw-days) */
	int days;                /* keep hourly rows this many days (usage-days) */
};

struct usage_stats {
	uint64_t queued;         /* rows in the queue now */
	uint64_t written;        /* rows committed since open */
	uint64_t dropped;        /* rows refused because the queue was full */
	uint64_t failed;         /* rows lost to a database error */
};

struct usage_writer;

/* Open (create, migrate) the database and start the worker thread.
 * *out is freed by usage_writer_close. */
int usage_writer_open(const struct usage_writer_opts *o, struct usage_writer **out,
    char *err, size_t errlen);
/* Queue one row (copied). Never waits for the database: when the queue is
 * full the row is counted as dropped and false is returned. Thread-safe. */
bool usage_push(struct usage_writer *w, const struct usage_row *row);
/* Change the retention (hot reload). */
void usage_writer_retention(struct usage_writer *w, int raw_days, int days);
void usage_writer_stats(struct usage_writer *w, struct usage_stats *st);
/* Write what is queued, stop the worker, close; the final counters into
 * *final when it is not NULL. w NULL is a no-op. */
void usage_writer_close(struct usage_writer *w, struct usage_stats *final);

/* Reader side (cliproxy-mgmt). */
struct usage_reader;
/* Open read-only; CP_ENOTFOUND if the database does not exist yet. */
int usage_reader_open(const char *path, struct usage_reader **out, char *err, size_t errlen);
void usage_reader_close(struct usage_reader *r);

enum usage_by { USAGE_BY_NONE, USAGE_BY_KEY, USAGE_BY_MODEL, USAGE_BY_PROVIDER,
	USAGE_BY_CREDENTIAL };

/* One bucket of the series: the sums of the rows of one group in
 * [t, t + step). */
struct usage_point {
	int64_t t;                       /* bucket start, Unix seconds */
	const char *group;               /* group value, "" for USAGE_BY_NONE */
	int64_t requests;                /* exchanges */
	int64_t errors;                  /* status 0 or >= 400 */
	int64_t in_tok, out_tok, cached_tok, reasoning_tok; /* token sums */
	int64_t bytes_in, bytes_out;     /* byte sums */
	int64_t lat[USAGE_LAT_BUCKETS];  /* total-time histogram */
};

typedef int (*usage_point_fn)(const struct usage_point *p, void *arg);
/* Series over [from, to) (Unix seconds; the caller aligns them to step).
 * step 60 reads raw rows, 3600 and 86400 read the hourly aggregates.
 * Points come ordered by group, then t. fn returning non-CP_OK stops
 * and is returned. */
int usage_series(struct usage_reader *r, int64_t from, int64_t to, int64_t step,
    enum usage_by by, usage_point_fn fn, void *arg, char *err, size_t errlen);
typedef int (*usage_row_fn)(const struct usage_row *row, void *arg);
typedef int (*usage_key_fn)(const char *key_id, int64_t tokens, void *arg);
/* Input + output tokens per key id since since (Unix seconds, a whole
 * hour), from the hourly aggregates. */
int usage_key_tokens(struct usage_reader *r, int64_t since, usage_key_fn fn, void *arg,
    char *err, size_t errlen);
/* Raw rows with from <= ts < to (Unix seconds), in time order. */
int usage_export(struct usage_reader *r, int64_t from, int64_t to, usage_row_fn fn,
    void *arg, char *err, size_t errlen);

/* Same inside fn: tx->out = yaml_seq_remove(current out or text, ...). */
int cfg_tx_seq_remove(struct cfg_tx *tx, const char *const *path, const bool *drop, size_t n);

/* --------------------------------------------------------------- oauth.c */

/* OAuth accounts (PROVIDERS.md 2, 4, 7): one table row per kind. */
enum oauth_kind { OAUTH_GEMINI = 0, OAUTH_CLAUDE, OAUTH_CODEX, OAUTH_QWEN, OAUTH_KIND_N };
/* The URLs a kind uses, each an endpoints: name with a default. */
enum oauth_ep { OAUTH_EP_AUTH = 0, OAUTH_EP_TOKEN, OAUTH_EP_DEVICE, OAUTH_EP_USERINFO,
	OAUTH_EP_API, OAUTH_EP_N };
struct oauth_endpoint {
	const char *name;          /* endpoints: key, NULL when the kind has none */
	const char *def;           /* the real service */
};
struct oauth_provider {
	enum oauth_kind kind;      /* row index */
	const char *type;          /* auth file "type" and CLI name */
	const char *mgmt;          /* management path stem: "<mgmt>-auth-url" */
	const char *client_id;     /* public client id */
	const char *client_secret; /* installed-app secret, NULL if none */
	const char *scopes;        /* space-separated */
	int redirect_port;         /* registered loopback port, 0: device flow */
	const char *redirect_path; /* registered path, NULL: device flow */
	bool pkce;                 /* S256 PKCE */
	bool device;               /* device authorization flow (qwen) */
	bool json_body;            /* exchange and refresh bodies are JSON */
	const char *auth_extra;    /* "&..." appended to the authorize URL */
	const char *refresh_scope; /* scope= of a refresh, NULL if none */
	struct oauth_endpoint ep[OAUTH_EP_N]; /* URLs by use */
	int refresh_lead_s;        /* refresh this long before expiry */
};
#define OAUTH_STATE_LEN     32   /* characters of a state (24 random bytes) */
#define OAUTH_VERIFIER_LEN  64   /* characters of a PKCE verifier (48 bytes) */
#define OAUTH_CHALLENGE_LEN 43   /* base64url of a SHA-256 */
#define OAUTH_PENDING_TTL_S 600  /* a pending login expires (PROVIDERS 6) */
/* One login in progress: what the callback needs to finish it. */
struct oauth_pending {
	const struct oauth_provider *p;            /* kind */
	char state[OAUTH_STATE_LEN + 1];           /* state parameter */
	char verifier[OAUTH_VERIFIER_LEN + 1];     /* PKCE verifier ("" without PKCE) */
	char challenge[OAUTH_CHALLENGE_LEN + 1];   /* its S256 challenge */
};
/* The useful parts of a token endpoint's answer. Strings are NULL when
 * absent or empty; secrets are wiped by oauth_tokens_release. */
struct oauth_tokens {
	char *access_token;        /* secret */
	char *refresh_token;       /* secret; NULL: the answer had none */
	char *id_token;            /* Codex JWT (secret) */
	char *token_type;          /* "Bearer" */
	long long expires_in;      /* seconds, -1 when absent */
	char *email;               /* Claude account.email_address, Codex id_token email */
	char *account_id;          /* Codex chatgpt_account_id */
	char *resource_url;        /* Qwen API host */
	char *error;               /* RFC 6749 "error" code of a refusal */
};
enum oauth_merge_result {
	OAUTH_MERGE_WRITTEN,       /* tokens merged into the file */
	OAUTH_MERGE_SUPERSEDED,    /* the file's refresh_token changed: its tokens kept */
	OAUTH_MERGE_GONE,          /* the file was deleted: not brought back */
};

/* The row of a kind; by CLI/management name ("gemini", "gemini-cli",
 * "claude", "anthropic", "codex", "qwen"); by auth file type (NULL or ""
 * is gemini). NULL when unknown. */
const struct oauth_provider *oauth_provider(enum oauth_kind kind);
const struct oauth_provider *oauth_provider_by_name(const char *name);
const struct oauth_provider *oauth_provider_by_type(const char *type);
/* The URL of ep for p: the config's endpoints: entry, else the default
 * (borrowed). NULL when the kind has no such endpoint. c may be NULL. */
const char *oauth_url(const struct cfg *c, const struct oauth_provider *p, enum oauth_ep ep);
/* "http://localhost:<port><path>", port 0 = the registered one. */
int oauth_redirect_uri(const struct oauth_provider *p, int port, char *out, size_t outlen);
/* base64url without padding of data into out (>= 4*len/3 + 2 bytes). */
int oauth_b64url_encode(const void *data, size_t len, char *out, size_t outlen);
/* nbytes (<= 64) from getrandom(2), base64url into out. */
int oauth_random_token(char *out, size_t outlen, size_t nbytes);
/* RFC 7636 S256 challenge of verifier. */
void oauth_pkce_challenge(const char *verifier, char out[OAUTH_CHALLENGE_LEN + 1]);
/* A fresh state, and verifier + challenge when p uses PKCE. */
int oauth_pending_init(struct oauth_pending *pd, const struct oauth_provider *p);
/* Pure request builders (out is reset first; ctype borrowed):
 * the authorize URL; the code exchange (gemini/codex form, claude JSON);
 * qwen's device-code request and device poll; the refresh of each kind. */
int oauth_authorize_url(const struct oauth_provider *p, const char *auth_url,
    const char *redirect_uri, const struct oauth_pending *pd, struct buf *out);
int oauth_exchange_body(const struct oauth_provider *p, const char *code,
    const char *redirect_uri, const struct oauth_pending *pd, struct buf *out,
    const char **ctype);
int oauth_device_body(const struct oauth_provider *p, const struct oauth_pending *pd,
    struct buf *out);
int oauth_device_poll_body(const struct oauth_provider *p, const char *device_code,
    const struct oauth_pending *pd, struct buf *out);
int oauth_refresh_body(const struct oauth_provider *p, const char *refresh_token,
    struct buf *out, const char **ctype);
/* Parse a token endpoint answer. CP_EPARSE not a JSON object; CP_EPERM an
 * RFC 6749 error (t->error holds its code, e.g. "authorization_pending");
 * CP_EINVAL no access_token. err never holds a token. Release t always. */
int oauth_parse_tokens(const struct oauth_provider *p, const char *body, size_t len,
    struct oauth_tokens *t, char *err, size_t errlen);
void oauth_tokens_release(struct oauth_tokens *t);
/* email and chatgpt_account_id of a JWT's payload, signature not checked
 * (PROVIDERS 2). Caller frees both (NULL when absent). */
int oauth_jwt_claims(const char *jwt, char **email, char **account_id);
/* Expiry formats (PROVIDERS 2): local time with offset ("Z" in UTC),
 * fraction = gemini's ".000000000". */
void oauth_fmt_time(time_t t, bool fraction, char *out, size_t outlen);
/* RFC 3339 with optional fraction, "Z" or "+hh:mm". */
int oauth_parse_time(const char *s, time_t *out);
/* token.expiry or expired of an auth file. CP_ENOTFOUND when neither. */
int oauth_file_expiry(const cJSON *doc, time_t *out);
/* The auth file of a new login (PROVIDERS 2 field names). *out owned by
 * the caller. */
int oauth_auth_file(const struct oauth_provider *p, const struct oauth_tokens *t,
    const char *email, const char *project_id, time_t now, cJSON **out);
/* "<email>-<project>.json", "claude-<email>.json", "codex-<email>.json",
 * "qwen-<alias>.json" (email is the alias for qwen) through DESIGN 4's
 * name rule: other bytes become '_', at most 200 bytes. */
int oauth_file_name(const struct oauth_provider *p, const char *email, const char *project,
    char *out, size_t outlen);
/* What a redirect carried (or what a user pasted). */
#define OAUTH_CODE_MAX 2048
struct oauth_callback {
	char code[OAUTH_CODE_MAX];  /* authorization code (secret) */
	char state[128];            /* state, "" when not given */
	char error[128];            /* error=, "" when none */
};
/* Parse a redirect URL ("http://localhost:1455/auth/callback?code=..&state=.."),
 * a path with a query, Claude's "code#state", or a bare code. CP_OK with a
 * code; CP_EPERM when the provider sent error= (cb->error); CP_EEXIST a
 * parameter given twice; CP_EINVAL no code or bad %-encoding. */
int oauth_parse_callback(const char *in, struct oauth_callback *cb);
/* THE write-back of a refresh (PROVIDERS 4, 7): under dir/.lock, re-read
 * dir/name as it is now; if it is gone: *res GONE, nothing written; if its
 * refresh_token is not used_refresh (a re-login or an upload): *res
 * SUPERSEDED, nothing written (load the file's tokens); else only the
 * token fields change (gemini: token.access_token, token_type,
 * refresh_token, expiry; others: access_token, refresh_token, id_token,
 * expired, last_refresh, resource_url, account_id), the expiry always,
 * the refresh token only when t has one, every other field (disabled,
 * unknown ones) stays: *res WRITTEN. CP_OK in all three cases; an error
 * (busy, unreadable or unparsable file, write failure) leaves the file
 * as it was. err never holds a token. */
int oauth_merge_tokens(const char *dir, const char *name, const struct oauth_provider *p,
    const char *used_refresh, const struct oauth_tokens *t, time_t now,
    enum oauth_merge_result *res, char *err, size_t errlen);

/* --------------------------------------------------------------- httpc.c */

#define HTTPC_ANSWER_MAX (1024u * 1024u)  /* bytes of an answer we keep */
#define HTTPC_TIMEOUT_MS 30000            /* whole exchange */
/* One blocking HTTP exchange (libcurl easy; TLS verified). */
struct httpc_resp {
	long status;               /* HTTP status, 0 on transport failure */
	struct buf body;           /* answer (<= HTTPC_ANSWER_MAX) */
};
void httpc_resp_init(struct httpc_resp *r);
void httpc_resp_release(struct httpc_resp *r);  /* wipes the body */
/* POST (body != NULL) or GET url. ctype: Content-Type of body; bearer: an
 * Authorization token or NULL; json_accept: Accept: application/json.
 * proxy: proxy-url ("" or NULL: none, the environment is ignored).
 * timeout_ms 0: HTTPC_TIMEOUT_MS. CP_OK when an answer (any status)
 * arrived; CP_EIO (transport, timeout) or CP_ETOOBIG with a message in
 * err that names the host, never a token or a body. */
int httpc_request(const char *url, const char *ctype, const char *body, size_t len,
    const char *bearer, const char *proxy, long timeout_ms, struct httpc_resp *r,
    char *err, size_t errlen);
/* The same, ended (CP_EIO, "stopped") within about a second of *stop
 * turning true: a daemon's shutdown never waits for a hung peer. stop
 * may be NULL. */
int httpc_request_stop(const char *url, const char *ctype, const char *body, size_t len,
    const char *bearer, const char *proxy, long timeout_ms, const atomic_bool *stop,
    struct httpc_resp *r, char *err, size_t errlen);
/* curl_global_init once, for a program that calls httpc from threads:
 * call it on the main thread before starting them. */
int httpc_init(void);

/* ---------------------------------------------------------- oauth_flow.c */

/* The network steps of a login (cliproxyctl and cliproxy-mgmt). Each
 * returns CP_OK or an error with err naming the step and the HTTP status
 * or RFC 6749 code (never a token). c may be NULL (real services). */
struct oflow_device {
	char *device_code;         /* to poll with */
	char *user_code;           /* shown to the user */
	char *verification_uri;    /* verification_uri_complete (else _uri) */
	int interval;              /* seconds between polls */
	int expires_in;            /* seconds the code lives */
};
int oflow_exchange(const struct cfg *c, const struct oauth_pending *pd, const char *code,
    const char *redirect_uri, struct oauth_tokens *t, char *err, size_t errlen);
int oflow_device_start(const struct cfg *c, const struct oauth_pending *pd, struct oflow_device *d,
    char *err, size_t errlen);
void oflow_device_release(struct oflow_device *d);
/* One poll: CP_OK with tokens; CP_EPERM with t->error
 * ("authorization_pending", "slow_down", "expired_token", ...). */
int oflow_device_poll(const struct cfg *c, const struct oauth_pending *pd, const char *device_code,
    struct oauth_tokens *t, char *err, size_t errlen);
/* Google userinfo email of an access token; *email freed by the caller. */
int oflow_gemini_email(const struct cfg *c, const char *access, char **email, char *err,
    size_t errlen);
/* Code Assist project (PROVIDERS 3): loadCodeAssist, else onboardUser
 * polled every poll_ms until done. want: the project the user asked for
 * or NULL. *project freed by the caller. */
int oflow_gemini_project(const struct cfg *c, const char *access, const char *want,
    int poll_ms, char **project, char *err, size_t errlen);
/* Write the auth file of a new login into c->auth_dir (name rule, atomic,
 * 0600); the file name into name. */
int oflow_save(const struct cfg *c, const struct oauth_provider *p, const struct oauth_tokens *t,
    const char *email, const char *project, char *name, size_t namelen, char *err, size_t errlen);

#endif /* CLIPROXY_CORE_H */
