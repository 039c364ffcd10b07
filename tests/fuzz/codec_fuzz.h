/*
 * codec_fuzz.h - the body shared by the codec harnesses
 * (fuzz_codec_<name>.c define FUZZ_CODEC and include this). Input mode is
 * taken from the first byte, the rest is the data:
 *
 *  - a client request: decode_request must not crash; what it accepts
 *    encodes with every codec that has encode_request, and what FUZZ_CODEC
 *    encodes decodes again with FUZZ_CODEC (our own output is valid input);
 *  - an upstream answer (SSE stream or one JSON document): the decoder
 *    gives the same events and result whether the bytes come whole, in
 *    pieces of a size taken from the second byte, or one at a time; the
 *    events drive every OpenAI client encoder (stream and gathered), which
 *    must not crash whatever order the events come in.
 */
#ifndef FUZZ_CODEC_H
#define FUZZ_CODEC_H

#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "proxyd.h"

#define FZ_BYTEWISE_MAX 8192 /* inputs fed one byte at a time too */

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

struct fz_trace {
	struct sha256_ctx h;          /* digest of every event */
	size_t n;                     /* events */
	struct pv_enc *enc[4];        /* client encoders fed the events */
	const struct codec *enc_c[4];
	struct buf out;               /* their output (reset now and then) */
};

static void
fz_hash(struct fz_trace *t, const void *p, size_t n)
{
	sha256_update(&t->h, &n, sizeof(n));
	if (n > 0)
		sha256_update(&t->h, p, n);
}

static void
fz_hash_s(struct fz_trace *t, const char *s)
{
	fz_hash(t, s != NULL ? s : "", s != NULL ? strlen(s) + 1 : 0);
}

static int
fz_event(const struct pv_event *ev, void *arg)
{
	struct fz_trace *t = arg;
	int i;

	sha256_update(&t->h, &ev->kind, sizeof(ev->kind));
	fz_hash_s(t, ev->id);
	fz_hash_s(t, ev->model);
	fz_hash_s(t, ev->name);
	fz_hash(t, ev->text, ev->text != NULL ? ev->len : 0);
	sha256_update(&t->h, &ev->index, sizeof(ev->index));
	sha256_update(&t->h, &ev->usage, sizeof(ev->usage));
	sha256_update(&t->h, &ev->stop, sizeof(ev->stop));
	sha256_update(&t->h, &ev->status, sizeof(ev->status));
	t->n++;
	for (i = 0; i < 4; i++)
		if (t->enc[i] != NULL)
			(void)t->enc_c[i]->enc_event(t->enc[i], ev, &t->out);
	if (t->out.len > 1024 * 1024)
		buf_reset(&t->out);
	return CP_OK;
}

/* Decode data with FUZZ_CODEC, fed step bytes at a time; with_enc: also
 * drive the client encoders. */
static int
fz_decode(bool stream, const char *data, size_t len, size_t step, bool with_enc,
    uint8_t digest[SHA256_LEN], size_t *n)
{
	const struct codec *c = &FUZZ_CODEC;
	const struct codec *clients[2] = { &codec_openai_chat, &codec_openai_responses };
	struct pv_enc_opts o = { .include_usage = true, .model = "m", .created = 1 };
	struct fz_trace t;
	struct pv_dec *d;
	size_t off;
	int i, rc = CP_OK;

	memset(&t, 0, sizeof(t));
	sha256_init(&t.h);
	buf_init(&t.out, SIZE_MAX);
	for (i = 0; with_enc && i < 4; i++) {
		o.stream = i % 2 == 0;
		t.enc_c[i] = clients[i / 2];
		if ((t.enc[i] = t.enc_c[i]->enc_new(&o)) == NULL)
			abort();
	}
	if ((d = c->dec_new(stream)) == NULL)
		abort();
	for (off = 0; off < len && rc == CP_OK; off += step) {
		size_t k = len - off < step ? len - off : step;
		char *piece = malloc(k);

		if (piece == NULL)
			abort();
		memcpy(piece, data + off, k);
		rc = c->dec_feed(d, piece, k, fz_event, &t);
		free(piece);
	}
	if (rc == CP_OK)
		rc = c->dec_finish(d, fz_event, &t);
	c->dec_free(d);
	for (i = 0; i < 4; i++)
		if (t.enc[i] != NULL) {
			(void)t.enc_c[i]->enc_finish(t.enc[i], &t.out);
			t.enc_c[i]->enc_free(t.enc[i]);
		}
	buf_release(&t.out);
	sha256_final(&t.h, digest);
	*n = t.n;
	return rc;
}

static void
fz_request(const char *data, size_t len)
{
	struct pv_request r, again;
	cJSON *req = NULL, *out = NULL;
	char err[256];
	int i;

	if (json_parse_strict(data, len, &req) != CP_OK)
		return;
	if (FUZZ_CODEC.decode_request(req, NULL, false, &r, err, sizeof(err)) != CP_OK) {
		cJSON_Delete(req);
		return;
	}
	for (i = 0; i < FMT__COUNT; i++) {
		const struct codec *c = codec_for((enum fmt_id)i);

		if (c == NULL || c->encode_request == NULL)
			continue;
		/* our encoders take every pivot our decoders make, but for
		 * what the format says it refuses (refuses(): a 400 to the
		 * client); the other codecs may refuse one, but must not crash */
		if (c->encode_request(&r, &out) != CP_OK) {
			if ((c == &codec_openai_chat || c == &codec_openai_responses) &&
			    (c->refuses == NULL || c->refuses(&r) == NULL))
				abort();
			continue;
		}
		if (c->refuses != NULL && c->refuses(&r) != NULL)
			abort();   /* refused, yet encoded */
		if (c == &FUZZ_CODEC) {
			/* what we send must be what we accept */
			if (c->decode_request(out, NULL, false, &again, err, sizeof(err)) != CP_OK)
				abort();
			pv_request_release(&again);
		}
		cJSON_Delete(out);
		out = NULL;
	}
	pv_request_release(&r);
	cJSON_Delete(req);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	uint8_t a[SHA256_LEN], b[SHA256_LEN], c[SHA256_LEN];
	const char *s = (const char *)data + 2;
	size_t na, nb, nc, step, n;
	int ra, rb, rc;
	bool stream;

	if (len < 2)
		return 0;
	n = len - 2;
	if (data[0] % 3 == 0) {
		fz_request(s, n);
		return 0;
	}
	stream = data[0] % 3 == 1;
	step = 1 + data[1] % 64;
	ra = fz_decode(stream, s, n, n + 1, true, a, &na);
	rb = fz_decode(stream, s, n, step, false, b, &nb);
	/* byte by byte only for smaller inputs: it costs a malloc a byte */
	rc = fz_decode(stream, s, n, n <= FZ_BYTEWISE_MAX ? 1 : 3, false, c, &nc);
	/* A JSON answer is decoded at finish, so the split cannot matter; a
	 * stream may fail at a different byte (a cap) but not differently. */
	if (ra != rb || ra != rc)
		abort();
	if (ra == CP_OK && (na != nb || na != nc || memcmp(a, b, sizeof(a)) != 0 ||
	    memcmp(a, c, sizeof(a)) != 0))
		abort();
	return 0;
}

#endif /* FUZZ_CODEC_H */
