/*
 * openai.h - what the two OpenAI codecs (openai_chat.c, openai_responses.c)
 * share: the error and model-list shapes, reasoning effort names, image
 * data URLs, answer ids, SSE writing and the strict reading of optional
 * request members. Defined in openai_chat.c. Private to formats/.
 */
#ifndef CLIPROXY_FORMATS_OPENAI_H
#define CLIPROXY_FORMATS_OPENAI_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "proxyd.h"

struct buf;

#define OA_ANSWER_MAX   (64u * 1024u * 1024u) /* a gathered upstream JSON answer */
#define OA_CALLS_MAX    1024                  /* tool calls in one answer */
#define OA_ID_MAX       160                   /* an id we derive */
#define OA_USER_MAX     64                    /* OpenAI's longest "user" */
#define OA_NAME_SCAN_MAX 256                  /* calls looked at per tool result */

/* What both upstream decoders share: the bytes in (SSE or one JSON
 * document), the current feed's callback. */
struct oa_io {
	bool stream;             /* text/event-stream, else one JSON answer */
	struct sse_parser sse;   /* stream */
	struct buf body;         /* JSON answer gathered (OA_ANSWER_MAX) */
	pv_emit_fn emit;         /* the current feed's callback */
	void *arg;
};
void oa_io_init(struct oa_io *io, bool stream);
void oa_io_release(struct oa_io *io);
/* Stream: SSE events to cb(self); JSON: gathered for oa_io_finish. */
int oa_io_feed(struct oa_io *io, const char *data, size_t len, pv_emit_fn emit, void *arg,
    sse_cb cb, void *self);
/* The end of the bytes: a stream's last event is flushed (its final line
 * ended but its blank line never came); a JSON answer is parsed into
 * *doc (the caller deletes it; NULL for a stream). CP_EPARSE. */
int oa_io_finish(struct oa_io *io, pv_emit_fn emit, void *arg, sse_cb cb, void *self,
    cJSON **doc);
/* The ERROR event (502) of a stream cut before its end. */
int oa_io_cut(struct oa_io *io);

/* Passthrough: the model and stream members, and the model's rewrite
 * (the same in both OpenAI formats). */

/* Optional request members (absent or null: *out untouched): a number
 * in [0, max], a boolean. CP_EINVAL with err naming the member. */
#define OA_TEMP_MAX 2.0                        /* temperature in [0, 2] */
int oa_number(const cJSON *o, const char *key, double max, double *out, char *err,
    size_t errlen);
int oa_bool(const cJSON *o, const char *key, bool *out, char *err, size_t errlen);
/* Function tools of either API into r / out of r: nested is Chat's
 * {"type":"function","function":{...}}, else Responses' flat shape. */
int oa_tools(const cJSON *tools, struct pv_request *r, bool nested, char *err, size_t errlen);
int oa_enc_tools(const struct pv_request *r, cJSON *root, bool nested);
/* OpenAI models known to refuse any reasoning parameter (gpt-4*,
 * gpt-3.5*, chatgpt-*): a translated request for them carries none.
 * Every other model may reason (new names included). */
bool oa_no_reasoning(const char *model);
/* OpenAI's reasoning models (o1, o3, o4, gpt-5, codex-): only
 * max_completion_tokens, only the default temperature and top_p. */
bool oa_reasoning_model(const char *model);
/* temperature and top_p into root (dropped for a reasoning model unless 1). */
int oa_enc_sampling(const struct pv_request *r, cJSON *root);
/* r->user as "user" when OpenAI takes it (at most OA_USER_MAX bytes). */
int oa_enc_user(const struct pv_request *r, cJSON *root);
/* tool_choice of either API into r (absent: unset). */
int oa_tool_choice(const cJSON *tc, struct pv_request *r, char *err, size_t errlen);

/* A member that is absent or JSON null reads as absent (OpenAI treats
 * null as "not given" for optional parameters). */
const cJSON *oa_member(const cJSON *o, const char *key);

/* Reasoning effort: name <-> pivot ("none", "minimal", "low", "medium",
 * "high"). oa_effort_parse: CP_EINVAL for an unknown name. */
int oa_effort_parse(const char *s, enum pv_effort *out);
/* The effort to send upstream: r->effort, else one derived from a
 * thinking budget (0: none; up to 2048: low; up to 8192: medium; more:
 * high: the Claude codec's effort budgets 2048/8192/24576 map back, and
 * minimal, which o-series models refuse, is never made up), else
 * PV_EFFORT_UNSET; always unset for an oa_no_reasoning model. */
enum pv_effort oa_effort_of(const struct pv_request *r);
const char *oa_effort_name(enum pv_effort e);

/* An image URL into p: "data:<mime>;base64,<b64>" fills mime and data,
 * http(s) fills url. CP_EINVAL for anything else (err says why). */
int oa_image_from_url(const char *url, struct pv_part *p, char *err, size_t errlen);
/* The URL of an image part ("data:..." rebuilt or the url); malloc'd,
 * NULL when out of memory or the part has neither. */
char *oa_image_url(const struct pv_part *p);

/* The name of the tool that call id belongs to: a call of the latest
 * assistant message decoded so far, or NULL. *hint (0 at first) carries
 * where the last search ended, from one result to the next. */
const char *oa_call_name(const struct pv_request *r, const char *id, size_t *hint);

/* Derive an id "<prefix><core>" from an answer id (START), where core is
 * the answer id without a known prefix ("chatcmpl-", "resp_", "msg_");
 * with n >= 0, "_<n>" is appended. Truncated to OA_ID_MAX - 1 bytes. */
void oa_make_id(char out[OA_ID_MAX], const char *prefix, const char *answer_id, int n);

/* Append len bytes of an answer to b, counting them in *bytes: an
 * encoder bounds its answer as a whole (OA_ANSWER_MAX), not per buffer,
 * so that an upstream cannot make it hold more. CP_ETOOBIG past it. */
int oa_keep(size_t *bytes, struct buf *b, const char *s, size_t len);

/* Append "event: <event>\n" (when event != NULL) "data: <o>\n\n". */
int oa_sse_json(struct buf *out, const char *event, const cJSON *o);
/* Append the compact JSON text of o. */
int oa_put_json(struct buf *out, const cJSON *o);

/* Usage members as both APIs spell them (chat: prompt_/completion_tokens,
 * responses: input_/output_tokens); -1 for what is missing. */
void oa_usage_read(const cJSON *u, bool responses, struct pv_usage *out);
/* A usage object in either spelling: input/output < 0 are written as 0,
 * cached/reasoning < 0 leave their details member out. */
cJSON *oa_usage_json(const struct pv_usage *u, bool responses);

/* "text/event-stream" for a stream, else "application/json". */
const char *oa_content_type(const struct pv_enc_opts *o);

/* The OpenAI error body's message (shared decode_error) and models list. */
int oa_decode_error(const char *body, size_t len, char *msg, size_t msglen);
int oa_models_body(struct buf *out, const char *const *names, size_t n, bool single);
/* Append the OpenAI error body for status and message, then tail. */
int oa_error_append(struct buf *out, int status, const char *message, const char *tail);
/* The message of an error object {"message": ...} (or a string), "" else. */
void oa_error_message(const cJSON *e, char *msg, size_t msglen);

#endif /* CLIPROXY_FORMATS_OPENAI_H */
