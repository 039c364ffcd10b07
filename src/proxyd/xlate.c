/*
 * xlate.c - one upstream answer translated for the client (DESIGN 6
 * "Formats are translated through one pivot"): the upstream codec's
 * decoder turns bytes into pivot events, the client codec's encoder turns
 * them into the client's bytes; plus the token-count answer and the
 * upstream error message. No event loop, no curl.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd.h"

#define XLATE_OUT_MAX (64u * 1024u * 1024u) /* encoded bytes held (a gathered answer) */

struct xlate {
	const struct codec *up;  /* upstream codec (decoder) */
	const struct codec *cl;  /* client codec (encoder) */
	struct pv_dec *dec;
	struct pv_enc *enc;
	struct pv_names names;   /* tools the upstream request renamed */
	struct buf out;          /* encoded, not yet taken */
};

bool
xlate_possible(const struct codec *cl, const struct codec *up, bool count)
{
	if (cl->decode_request == NULL)
		return false;
	if (count)
		return up->encode_count != NULL && up->decode_count != NULL &&
		    cl->count_body != NULL;
	return up->encode_request != NULL && up->dec_new != NULL && up->dec_feed != NULL &&
	    up->dec_finish != NULL && up->dec_free != NULL && cl->enc_new != NULL &&
	    cl->enc_event != NULL && cl->enc_finish != NULL && cl->enc_free != NULL;
}

struct xlate *
xlate_new(const struct codec *up, const struct codec *cl, bool up_stream,
    const struct pv_enc_opts *o)
{
	struct xlate *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->up = up;
	x->cl = cl;
	buf_init(&x->out, XLATE_OUT_MAX);
	pv_names_init(&x->names);
	/* the upstream encoder renamed what it refuses the same way */
	if ((o->req != NULL && pv_names_build(&x->names, o->req, up->id) != CP_OK) ||
	    (x->dec = up->dec_new(up_stream)) == NULL || (x->enc = cl->enc_new(o)) == NULL) {
		xlate_free(x);
		return NULL;
	}
	return x;
}

static int
xlate_emit(const struct pv_event *ev, void *arg)
{
	struct xlate *x = arg;
	struct pv_event named;

	if (pv_event_dropped(ev, x->up->id, x->cl->id))
		return CP_OK;
	if (ev->kind == PV_EV_TOOL_START && x->names.n > 0) {
		named = *ev;
		named.name = pv_names_back(&x->names, ev->name);
		ev = &named;
	}
	return x->cl->enc_event(x->enc, ev, &x->out);
}

int
xlate_feed(struct xlate *x, const char *data, size_t len)
{
	return x->up->dec_feed(x->dec, data, len, xlate_emit, x);
}

int
xlate_finish(struct xlate *x)
{
	int rc = x->up->dec_finish(x->dec, xlate_emit, x);

	return rc != CP_OK ? rc : x->cl->enc_finish(x->enc, &x->out);
}

struct buf *
xlate_out(struct xlate *x)
{
	return &x->out;
}

void
xlate_free(struct xlate *x)
{
	if (x == NULL)
		return;
	if (x->dec != NULL)
		x->up->dec_free(x->dec);
	if (x->enc != NULL)
		x->cl->enc_free(x->enc);
	pv_names_release(&x->names);
	buf_release(&x->out);
	free(x);
}

int
xlate_count(const struct codec *up, const struct codec *cl, const char *body, size_t len,
    struct buf *out)
{
	cJSON *j = NULL;
	long long tokens = 0;
	int rc;

	if ((rc = json_parse_strict(body != NULL ? body : "", len, &j)) == CP_OK &&
	    (rc = up->decode_count(j, &tokens)) == CP_OK)
		rc = cl->count_body(out, tokens);
	cJSON_Delete(j);
	return rc;
}

void
xlate_error_message(const struct codec *up, long status, const char *body, size_t len,
    char *msg, size_t msglen)
{
	msg[0] = '\0';
	if (len > 0 && up != NULL && up->decode_error != NULL &&
	    up->decode_error(body, len, msg, msglen) != CP_OK)
		msg[0] = '\0';
	if (msg[0] == '\0')
		snprintf(msg, msglen, "upstream answered status %ld", status);
}
