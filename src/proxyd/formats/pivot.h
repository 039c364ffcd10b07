/*
 * pivot.h - the one shape every wire format translates through (DESIGN 6
 * "Formats are translated through one pivot").
 *
 * A codec (one file per wire format in formats/) does four things:
 *   client request JSON   --decode_request-->  struct pv_request
 *   struct pv_request     --encode_request-->  upstream request JSON
 *   upstream answer bytes --dec_* (stream or JSON)--> struct pv_event ...
 *   struct pv_event ...   --enc_* (stream or gathered JSON)--> client bytes
 * plus its error shape, its model list shape and, where the format has
 * one, its token-count request/answer.
 *
 * Codecs are pure: no event loop, no curl, no globals. Everything here can
 * be driven by a unit test from golden files (tests/data/formats/).
 *
 * When the client's format equals the upstream's, none of this runs: the
 * relay passes the body through with only the model rewritten
 * (request_model / set_model) and the answer byte for byte.
 *
 * Ownership: a pv_request owns every string and cJSON it points to;
 * pv_request_free releases all of it. Events are borrowed: a callback must
 * copy what it keeps.
 */
#ifndef CLIPROXY_PIVOT_H
#define CLIPROXY_PIVOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct buf;

/* Wire formats (DESIGN 6 Endpoints). */
enum fmt_id {
	FMT_OPENAI_CHAT = 0,     /* POST /v1/chat/completions */
	FMT_OPENAI_COMPLETIONS,  /* POST /v1/completions (legacy, passthrough only) */
	FMT_OPENAI_RESPONSES,    /* POST /v1/responses */
	FMT_CLAUDE,              /* POST /v1/messages */
	FMT_GEMINI,              /* POST /v1beta/models/{m}:generateContent ... */
	FMT__COUNT
};

/* ------------------------------------------------------------ request */

enum pv_role {
	PV_USER = 0,             /* user turn (tool results travel here too) */
	PV_ASSISTANT,            /* model turn */
};

enum pv_part_kind {
	PV_TEXT = 0,             /* text */
	PV_IMAGE,                /* image: data (base64) + mime, or url */
	PV_TOOL_CALL,            /* the model called a tool */
	PV_TOOL_RESULT,          /* the client's answer to a tool call */
	PV_THINKING,             /* reasoning text and/or its signature */
};

struct pv_part {
	enum pv_part_kind kind;
	char *text;              /* TEXT; THINKING text; TOOL_RESULT content (text) */
	/* IMAGE */
	char *mime;              /* "image/png"; NULL for a url image without one */
	char *data;              /* base64 bytes (no "data:" prefix), or NULL */
	char *url;               /* http(s) URL, or NULL */
	/* TOOL_CALL and TOOL_RESULT */
	char *id;                /* call id ("call_…", "toolu_…"; Gemini: made up) */
	char *name;              /* tool name (results: the called tool's, when known) */
	char *args;              /* TOOL_CALL: arguments as JSON text ("{}" at least) */
	bool is_error;           /* TOOL_RESULT: the tool failed */
	/* THINKING */
	char *signature;         /* Claude signature / OpenAI encrypted content */
	bool redacted;           /* Claude redacted_thinking (data in signature) */
};

struct pv_msg {
	enum pv_role role;
	struct pv_part *parts;
	size_t n_parts;
};

struct pv_tool {
	char *name;              /* function name */
	char *description;       /* or NULL */
	cJSON *schema;           /* JSON schema of the parameters (owned), or NULL */
};

enum pv_tool_choice {
	PV_TC_UNSET = 0,         /* the client said nothing */
	PV_TC_AUTO,              /* model decides */
	PV_TC_NONE,              /* no tool calls */
	PV_TC_ANY,               /* must call some tool ("required", "any") */
	PV_TC_TOOL,              /* must call tool_choice_name */
};

enum pv_effort {
	PV_EFFORT_UNSET = 0,
	PV_EFFORT_NONE,          /* thinking off */
	PV_EFFORT_MINIMAL,
	PV_EFFORT_LOW,
	PV_EFFORT_MEDIUM,
	PV_EFFORT_HIGH,
};

struct pv_request {
	char *model;             /* model as the client named it */
	char *system;            /* system / developer / instructions text, or NULL */
	struct pv_msg *msgs;
	size_t n_msgs;
	struct pv_tool *tools;
	size_t n_tools;
	enum pv_tool_choice tool_choice;
	char *tool_choice_name;  /* PV_TC_TOOL */
	bool parallel_tools_off; /* the client asked for one call per turn */
	long long max_tokens;    /* -1: unset */
	double temperature;      /* < 0: unset */
	double top_p;            /* < 0: unset */
	long long top_k;         /* -1: unset (Claude, Gemini) */
	char **stop;             /* stop sequences */
	size_t n_stop;
	bool stream;             /* client wants a stream */
	bool include_usage;      /* OpenAI stream_options.include_usage */
	enum pv_effort effort;   /* reasoning effort (OpenAI, Gemini level) */
	long long budget;        /* thinking budget tokens, -1: unset (Claude, Gemini) */
	bool want_thoughts;      /* show thinking text (Gemini includeThoughts, Claude thinking on) */
	char *user;              /* end-user id (OpenAI user, Claude metadata.user_id) or NULL */
};

/* Set every field to its unset value (no allocation). */
void pv_request_init(struct pv_request *r);
/* Free everything r owns and re-init it. */
void pv_request_release(struct pv_request *r);
/* Append a message / part / tool / stop sequence; the new element is
 * zeroed (parts: kind PV_TEXT) and returned, or NULL when out of memory. */
struct pv_msg *pv_msg_add(struct pv_request *r, enum pv_role role);
struct pv_part *pv_part_add(struct pv_msg *m, enum pv_part_kind kind);
struct pv_tool *pv_tool_add(struct pv_request *r);
int pv_stop_add(struct pv_request *r, const char *s);
/* strdup that counts on the caller checking NULL (s may be NULL: NULL). */
char *pv_strdup(const char *s);
char *pv_strndup(const char *s, size_t n);

/* ----------------------------------------------------------- response */

enum pv_stop {
	PV_STOP_UNSET = 0,
	PV_STOP_END,             /* natural end of turn */
	PV_STOP_MAX_TOKENS,      /* output limit */
	PV_STOP_SEQUENCE,        /* a stop sequence matched */
	PV_STOP_TOOL,            /* the model called tools */
	PV_STOP_FILTER,          /* content filter / safety */
	PV_STOP_ERROR,           /* ended by an error */
};

struct pv_usage {            /* -1 for a count the upstream did not give */
	long long input;         /* prompt tokens, cached ones included */
	long long output;        /* completion tokens, reasoning included */
	long long cached;        /* prompt tokens served from cache */
	long long reasoning;     /* of output, spent thinking */
};

enum pv_ev_kind {
	PV_EV_START = 0,         /* id, model: first event of every answer */
	PV_EV_TEXT,              /* text delta */
	PV_EV_THINKING,          /* thinking text delta */
	PV_EV_THINKING_SIG,      /* signature of the thinking just streamed (text) */
	PV_EV_TOOL_START,        /* index, id, name: a tool call begins */
	PV_EV_TOOL_ARGS,         /* index, text: a delta of its JSON arguments */
	PV_EV_TOOL_END,          /* index: the call's arguments are complete */
	PV_EV_USAGE,             /* usage (may come more than once: last wins) */
	PV_EV_STOP,              /* stop reason: last event before the end */
	PV_EV_ERROR,             /* the upstream failed mid-answer (text, status) */
};

struct pv_event {
	enum pv_ev_kind kind;
	const char *id;          /* START: answer id; TOOL_START: call id */
	const char *model;       /* START: model name */
	const char *name;        /* TOOL_START: tool name */
	const char *text;        /* TEXT, THINKING, THINKING_SIG, TOOL_ARGS, ERROR */
	size_t len;              /* bytes of text */
	int index;               /* TOOL_*: the call's position in this answer, from 0 */
	struct pv_usage usage;   /* USAGE */
	enum pv_stop stop;       /* STOP */
	int status;              /* ERROR: HTTP-like status (500 when unknown) */
	bool redacted;           /* THINKING_SIG: Claude redacted_thinking (text = data) */
};

/* Receives each decoded event; a non-CP_OK return stops the decoder and
 * is returned by it. */
typedef int (*pv_emit_fn)(const struct pv_event *ev, void *arg);

/* -------------------------------------------------------------- errors */

/* One error vocabulary for every client answer the daemon makes itself
 * (reply.c maps status -> kind; each codec spells the kind its way). */
enum pv_err {
	PVE_INVALID = 0,         /* 400 invalid_request_error / INVALID_ARGUMENT */
	PVE_AUTH,                /* 401 authentication_error / UNAUTHENTICATED */
	PVE_PERMISSION,          /* 403 permission_error / PERMISSION_DENIED */
	PVE_NOT_FOUND,           /* 404 not_found_error / NOT_FOUND (model_not_found) */
	PVE_TOO_LARGE,           /* 413 request_too_large */
	PVE_RATE_LIMIT,          /* 429 rate_limit_error / RESOURCE_EXHAUSTED */
	PVE_SERVER,              /* 500 api_error / INTERNAL */
	PVE_UPSTREAM,            /* 502 api_error: the upstream failed */
	PVE_UNAVAILABLE,         /* 503 overloaded_error / UNAVAILABLE */
	PVE_TIMEOUT,             /* 504 timeout */
	PVE__COUNT
};

/* -------------------------------------------------------------- codec */

struct pv_dec;               /* a codec's upstream-answer decoder state */
struct pv_enc;               /* a codec's client-answer encoder state */

struct pv_enc_opts {
	bool stream;             /* stream to the client, else one JSON answer */
	bool include_usage;      /* OpenAI Chat: usage chunk at the end */
	const char *model;       /* model name the client asked for (echoed) */
	bool gemini_sse;         /* Gemini: ?alt=sse, else a JSON-array stream */
	long long created;       /* unix time stamped into answers (relay: now;
	                          * golden tests: a fixed value) */
	const struct pv_request *req; /* the client's decoded request, or NULL:
	                          * xlate_new names the upstream's renamed
	                          * tools back (pv_names); borrowed only
	                          * during xlate_new */
};

/* Encoders are deterministic: given the same events and options they
 * write the same bytes. Ids they need beyond the START id (items, blocks,
 * tool calls without one) are derived from the START id and a counter. */

struct codec {
	enum fmt_id id;
	const char *name;        /* "openai-chat", "claude", ... for logs */

	/* --- passthrough (client format == upstream format) --- */
	/* Model and stream flag of a client request; path_model/path_stream
	 * come from the route (Gemini puts them in the URL; NULL/false for
	 * the others). CP_EINVAL: missing or not a string (400). */
	int (*request_model)(const cJSON *req, const char *path_model,
	    bool path_stream, const char **model, bool *stream);
	/* Replace the model in req (Gemini: no-op, the model is in the URL). */
	int (*set_model)(cJSON *req, const char *model);

	/* --- translation --- */
	/* Client request -> pivot. err gets a message for the client's 400
	 * (CP_EINVAL); path_* as for request_model. */
	int (*decode_request)(const cJSON *req, const char *path_model,
	    bool path_stream, struct pv_request *out, char *err, size_t errlen);
	/* Pivot -> upstream request body (*out owned by the caller). The
	 * model written is r->model (the relay sets the upstream name). */
	int (*encode_request)(const struct pv_request *r, cJSON **out);
	/* What of r this format cannot express although the client asked
	 * for it (DESIGN 6: then 400, never a silent drop), as a phrase for
	 * the client's error message; NULL when it can all be sent. NULL
	 * function: everything can. encode_request refuses the same with
	 * CP_EINVAL. */
	const char *(*refuses)(const struct pv_request *r);

	/* Upstream answer -> events. stream: the body is text/event-stream
	 * (Gemini: ?alt=sse), else one JSON document. feed may be called with
	 * any split of the bytes; finish flushes and emits what a JSON answer
	 * holds. CP_EPARSE on bytes that are not this format. */
	struct pv_dec *(*dec_new)(bool stream);
	int (*dec_feed)(struct pv_dec *d, const char *data, size_t len,
	    pv_emit_fn emit, void *arg);
	int (*dec_finish)(struct pv_dec *d, pv_emit_fn emit, void *arg);
	void (*dec_free)(struct pv_dec *d);

	/* Events -> client answer. enc_event appends to out what can be sent
	 * now (stream: SSE/JSON-array text; gathered: nothing until finish);
	 * enc_finish appends the rest (stream: final events, "[DONE]";
	 * gathered: the whole JSON answer). */
	struct pv_enc *(*enc_new)(const struct pv_enc_opts *o);
	int (*enc_event)(struct pv_enc *e, const struct pv_event *ev, struct buf *out);
	int (*enc_finish)(struct pv_enc *e, struct buf *out);
	void (*enc_free)(struct pv_enc *e);
	/* Content-Type of the client answer. */
	const char *(*content_type)(const struct pv_enc_opts *o);

	/* --- answers the daemon makes itself --- */
	/* The format's error body (replaces out's content). type and code are
	 * optional OpenAI-style hints ("upstream_error", "model_not_found");
	 * NULL: derived from kind. Formats without such members ignore them. */
	int (*error_body)(struct buf *out, int status, enum pv_err kind,
	    const char *message, const char *type, const char *code);
	/* The message of an upstream error body of this format (NUL-
	 * terminated into msg; "" when the body is not this format's error).
	 * The relay re-spells it in the client's shape. */
	int (*decode_error)(const char *body, size_t len, char *msg, size_t msglen);
	/* Model list in this format's shape (names borrowed); one model when
	 * single (Gemini GET /v1beta/models/{m}). NULL: OpenAI shape is used. */
	int (*models_body)(struct buf *out, const char *const *names, size_t n,
	    bool single);

	/* --- token counting (NULL when the format has no count API) --- */
	/* Pivot -> upstream count request body. */
	int (*encode_count)(const struct pv_request *r, cJSON **out);
	/* Upstream count answer -> tokens. */
	int (*decode_count)(const cJSON *ans, long long *tokens);
	/* tokens -> this format's count answer for the client. */
	int (*count_body)(struct buf *out, long long tokens);
};

/* The codec of each format (formats/<name>.c). */
extern const struct codec codec_openai_chat;
extern const struct codec codec_openai_completions;
extern const struct codec codec_openai_responses;
extern const struct codec codec_claude;
extern const struct codec codec_gemini;
const struct codec *codec_for(enum fmt_id id);
/* The error kind of an HTTP status (400 and unknown 4xx: PVE_INVALID,
 * unknown 5xx: PVE_SERVER). */
enum pv_err pv_err_of_status(int status);

/* Thinking signatures belong to a family: OpenAI's (Chat, Responses:
 * encrypted_content, a Fernet token "gAAAAA...") or Claude's and
 * Gemini's. A signature only goes back to an upstream of the family that
 * made it (the others refuse a foreign one). */
bool pv_same_family(enum fmt_id a, enum fmt_id b);
/* sig is an OpenAI encrypted_content (NULL: false). */
bool pv_sig_openai(const char *sig);
/* An upstream event the client of format cl must not see when the
 * upstream speaks up: a thinking signature of another family (the client
 * would send it back to an upstream that refuses it). The relay's
 * translation (xlate.c) and the golden tests drop what this says. */
bool pv_event_dropped(const struct pv_event *ev, enum fmt_id up, enum fmt_id cl);

/* A local token estimate for formats/providers without a count endpoint
 * (documented in cliproxyd(8)): about one token per 4 bytes of text,
 * arguments and schemas, plus a few per message. */
long long pv_estimate_tokens(const struct pv_request *r);

/* request_model / set_model of the formats whose body names the model
 * ("model", "stream": OpenAI Chat, Completions, Responses, Claude). */
int pv_body_request_model(const cJSON *req, const char *path_model, bool path_stream,
    const char **model, bool *stream);
int pv_body_set_model(cJSON *req, const char *model);

/* JSON schema helpers (pivot.c): a deep copy of s with what the target
 * cannot take removed. Gemini takes a subset of OpenAPI 3 (no $schema,
 * additionalProperties, $ref, ...; upper- or lowercase type names);
 * OpenAI and Claude take JSON schema with lowercase type names. *out is
 * owned by the caller. */
int pv_schema_for_gemini(const cJSON *s, cJSON **out);
int pv_schema_lower_types(const cJSON *s, cJSON **out);
/* Decoders check every tool schema they keep: CP_OK, or CP_ETOOBIG when
 * its conversion would pass the limits (a "schema bomb": $refs expanding
 * past 20000 nodes, or enums and defaults copied past 8 MiB). The client
 * gets a 400 then (decode_request fails with CP_EINVAL and a message
 * from pv_schema_refused), never a 500. */
int pv_schema_check(const cJSON *s);
/* The decoders' message for a schema pv_schema_check refused ("<what>:
 * ..."), CP_EINVAL; CP_ENOMEM passes. */
int pv_schema_refused(int rc, const char *what, char *err, size_t errlen);

/* ------------------------------------------- helpers shared by codecs */

#define PV_ANSWER_MAX (32u * 1024u * 1024u) /* a JSON answer or gathered text we keep */

/* A string -> index map for decoders (keys borrowed, never copied):
 * linear probing, grows at half full. */
struct pv_map {
	const char **keys;       /* slot keys, NULL when free */
	size_t *vals;            /* slot values */
	size_t cap;              /* slots (a power of two, or 0) */
	size_t n;                /* keys held */
};
void pv_map_init(struct pv_map *m);
void pv_map_release(struct pv_map *m);
/* Set k to v (replacing an old value). CP_ENOMEM. */
int pv_map_put(struct pv_map *m, const char *k, size_t v);
/* true and *v when k is held. */
bool pv_map_get(const struct pv_map *m, const char *k, size_t *v);

/* ------------------------------------------------------ tool names */

/* Tool names each API takes: OpenAI and Claude ^[a-zA-Z0-9_-]{1,64}$;
 * Gemini [a-zA-Z0-9_.:-], at most 64, starting with a letter or '_'. A
 * client's name the upstream refuses gets a valid name for that exchange
 * (its bytes outside the rule become '_', cut to fit; a name another tool
 * already has or gets is cut further and given "_" and 8 hex digits of a
 * hash of the client's name), and the answer's calls get the client's
 * name back. Deterministic: the same request gives the same names. */
#define PV_TOOL_NAME_MAX 64
struct pv_names {
	char **from;             /* client names the upstream refuses (owned) */
	char **to;               /* the name used upstream for each (owned) */
	size_t n;
	struct pv_map by_from;   /* from -> index */
	struct pv_map by_to;     /* to -> index */
};
bool pv_tool_name_ok(const char *name, enum fmt_id fmt);
void pv_names_init(struct pv_names *m);
void pv_names_release(struct pv_names *m);
/* The renames r needs for upstream format fmt (tools, calls, results,
 * tool_choice_name). CP_ENOMEM. */
int pv_names_build(struct pv_names *m, const struct pv_request *r, enum fmt_id fmt);
/* The upstream's name for a client name / the client's for an upstream
 * name (name itself when it is not renamed; NULL stays NULL). */
const char *pv_names_up(const struct pv_names *m, const char *name);
const char *pv_names_back(const struct pv_names *m, const char *name);

/* r as upstream format fmt must see it: *out is r itself when no tool
 * name changes, else v->req, a shallow copy whose strings are r's but for
 * the renamed tool names. Encoders call this first. */
struct pv_view {
	struct pv_request req;   /* the copy (arrays owned, strings borrowed) */
	struct pv_names names;
	bool copied;
};
int pv_view_for(const struct pv_request *r, enum fmt_id fmt, struct pv_view *v,
    const struct pv_request **out);
void pv_view_release(struct pv_view *v);
/* enc(view of r for fmt): what every encode_request is. */
int pv_encode_named(const struct pv_request *r, enum fmt_id fmt,
    int (*enc)(const struct pv_request *, cJSON **), cJSON **out);

/* Fill the name of every TOOL_RESULT part that has none from the nearest
 * earlier TOOL_CALL with the same id (formats whose results carry only
 * the id: OpenAI, Claude). */
int pv_result_names(struct pv_request *r);
/* Append item as compact JSON; with sse, as one SSE event
 * ("event: <event>\n" when event is non-NULL, "data: <json>\n\n"). */
int pv_put_json(struct buf *out, const cJSON *item, bool sse, const char *event);
/* Parse an upstream JSON document of len bytes (at most PV_ANSWER_MAX, no
 * trailing bytes but whitespace). CP_EPARSE / CP_ETOOBIG. */
int pv_parse_answer(const char *data, size_t len, cJSON **out);

/* What every decoder does last: drop empty text parts and messages left
 * without parts, merge neighbouring messages of one role (Claude and
 * Gemini treat them as one turn; encoders write them as one). */
int pv_normalize(struct pv_request *r);

/* Optional members of a client request (JSON null counts as absent):
 * CP_OK (set), CP_ENOTFOUND (absent), CP_EINVAL with err "<path>.<key>:
 * must be ..." (path may be "" for top-level members). */
int pv_get_str(const cJSON *o, const char *key, const char *path, const char **out,
    char *err, size_t errlen);
int pv_get_num(const cJSON *o, const char *key, const char *path, double min, double max,
    double *out, char *err, size_t errlen);
int pv_get_int(const cJSON *o, const char *key, const char *path, long long min,
    long long max, long long *out, char *err, size_t errlen);
int pv_get_bool(const cJSON *o, const char *key, const char *path, bool *out,
    char *err, size_t errlen);
/* A tool call's JSON arguments as an object ({} when args is NULL, empty
 * or not a JSON object: logged at debug). NULL only on ENOMEM. */
cJSON *pv_args_object(const char *args);

/* An answer's events gathered into blocks, for encoders that write one
 * JSON answer (and the Gemini stream, which needs whole tool calls). */
struct pv_block {
	enum pv_part_kind kind;  /* PV_TEXT, PV_THINKING or PV_TOOL_CALL */
	char *text;              /* text / thinking text / call arguments (NUL-terminated) */
	size_t len;              /* bytes in text */
	size_t cap;              /* bytes allocated for text */
	char *signature;         /* THINKING: signature (redacted: the data) */
	bool redacted;           /* THINKING: Claude redacted_thinking */
	char *id;                /* TOOL_CALL: call id */
	char *name;              /* TOOL_CALL: tool name */
	int index;               /* TOOL_CALL: the events' index */
	bool done;               /* TOOL_CALL: TOOL_END seen */
};
struct pv_gather {
	char *id;                /* START id, or NULL */
	char *model;             /* START model, or NULL */
	bool started;            /* START seen */
	struct pv_block *blocks; /* content in order */
	size_t n_blocks;         /* blocks used */
	size_t bytes;            /* total kept, capped at PV_ANSWER_MAX */
	struct pv_usage usage;   /* last USAGE */
	bool have_usage;         /* a USAGE was seen */
	enum pv_stop stop;       /* STOP reason (PV_STOP_UNSET: none yet) */
	char *error;             /* first ERROR text, or NULL */
	int error_status;        /* its status */
	int n_tools;             /* TOOL_CALL blocks */
};
/* What every answer encoder keeps: its options and the answer so far. */
struct pv_enc_base {
	struct pv_enc_opts o;    /* options; o.model points at model */
	char *model;             /* copy of the client's model, or NULL */
	struct pv_gather g;      /* the answer gathered so far */
};
int pv_enc_base_init(struct pv_enc_base *b, const struct pv_enc_opts *o);
void pv_enc_base_release(struct pv_enc_base *b);
/* Emit one event of kind with text (NUL-terminated, or NULL) and index. */
int pv_emit_text(pv_emit_fn emit, void *arg, enum pv_ev_kind kind, const char *text, int index);
/* A token count member of an upstream answer: -1 unless a number in
 * [0, 2^53). */
long long pv_json_count(const cJSON *o, const char *key);

void pv_gather_init(struct pv_gather *g);
void pv_gather_release(struct pv_gather *g);
/* Add one event: TEXT after TEXT (THINKING after unsigned THINKING) grows
 * the last block; a signature closes its thinking block. CP_ETOOBIG past
 * PV_ANSWER_MAX. */
int pv_gather_add(struct pv_gather *g, const struct pv_event *ev);
/* The block of tool call index, or NULL. */
struct pv_block *pv_gather_tool(struct pv_gather *g, int index);

#endif /* CLIPROXY_PIVOT_H */
