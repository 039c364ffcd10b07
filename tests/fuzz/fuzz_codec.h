/*
 * fuzz_codec.h - the body of the per-codec harnesses (fuzz_codec_claude.c,
 * fuzz_codec_gemini.c): FUZZ_CODEC names the codec. The first input byte
 * picks the job, the rest is the document:
 *   even: a client request (strict JSON) -> decode_request; what decodes
 *         encodes with every translating codec and as a count request,
 *         and what this codec encodes must decode again (our own output
 *         is never a 400);
 *   odd:  an upstream answer (bit 1: a stream) -> the upstream decoder,
 *         fed whole and in pieces of pseudo-random sizes (seeded by the
 *         input): the same events and result whatever the split; the
 *         events then go through the Claude and Gemini encoders, streamed
 *         and gathered.
 * Never a crash, a leak or a sanitizer report.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "proxyd.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

struct fz_trace {
	struct sha256_ctx h;     /* digest of the events */
	size_t n;                /* events */
	struct pv_enc *enc[4];   /* encoders fed with the events, or NULL */
	const struct codec *ec[4];
	struct buf out;          /* their output */
};

static int
fz_event(const struct pv_event *ev, void *arg)
{
	struct fz_trace *t = arg;
	size_t l;
	int i;

	sha256_update(&t->h, &ev->kind, sizeof(ev->kind));
	l = ev->text != NULL ? ev->len : 0;
	sha256_update(&t->h, &l, sizeof(l));
	if (l > 0)
		sha256_update(&t->h, ev->text, l);
	l = ev->id != NULL ? strlen(ev->id) : 0;
	sha256_update(&t->h, &l, sizeof(l));
	if (l > 0)
		sha256_update(&t->h, ev->id, l);
	l = ev->name != NULL ? strlen(ev->name) : 0;
	sha256_update(&t->h, &l, sizeof(l));
	if (l > 0)
		sha256_update(&t->h, ev->name, l);
	sha256_update(&t->h, &ev->index, sizeof(ev->index));
	sha256_update(&t->h, &ev->stop, sizeof(ev->stop));
	sha256_update(&t->h, &ev->usage, sizeof(ev->usage));
	t->n++;
	for (i = 0; i < 4; i++)
		if (t->enc[i] != NULL && t->ec[i]->enc_event(t->enc[i], ev, &t->out) == CP_ENOMEM)
			abort();
	return CP_OK;
}

static int
fz_decode(const char *data, size_t len, bool stream, uint32_t seed, bool encode,
    uint8_t digest[SHA256_LEN], size_t *n)
{
	const struct codec *c = &FUZZ_CODEC;
	struct pv_dec *d = c->dec_new(stream);
	struct fz_trace t;
	size_t off = 0;
	int rc = CP_OK, i;

	if (d == NULL)
		abort();
	memset(&t, 0, sizeof(t));
	sha256_init(&t.h);
	buf_init(&t.out, 64u << 20);
	for (i = 0; encode && i < 4; i++) {
		struct pv_enc_opts o = { .stream = i & 1, .include_usage = true, .model = "m",
		    .gemini_sse = (seed & 1) != 0, .created = 1 };

		t.ec[i] = i < 2 ? &codec_claude : &codec_gemini;
		if ((t.enc[i] = t.ec[i]->enc_new(&o)) == NULL)
			abort();
	}
	while (off < len && rc == CP_OK) {
		size_t k;
		char *piece;

		seed = seed * 1103515245u + 12345u;
		k = seed == 0 ? len - off : 1 + (seed >> 16) % 97;
		if (k > len - off)
			k = len - off;
		/* an exact-size heap copy, so ASan sees over-reads */
		if ((piece = malloc(k)) == NULL)
			abort();
		memcpy(piece, data + off, k);
		rc = c->dec_feed(d, piece, k, fz_event, &t);
		free(piece);
		off += k;
	}
	if (rc == CP_OK)
		rc = c->dec_finish(d, fz_event, &t);
	for (i = 0; i < 4; i++) {
		if (t.enc[i] == NULL)
			continue;
		if (t.ec[i]->enc_finish(t.enc[i], &t.out) == CP_ENOMEM)
			abort();
		t.ec[i]->enc_free(t.enc[i]);
	}
	buf_release(&t.out);
	c->dec_free(d);
	sha256_final(&t.h, digest);
	*n = t.n;
	return rc;
}

static void
fz_request(const char *data, size_t len)
{
	static const struct codec *const targets[] = { &codec_claude, &codec_gemini };
	const struct codec *c = &FUZZ_CODEC;
	struct pv_request r, again;
	cJSON *req = NULL, *out = NULL;
	char err[256];
	size_t i;

	if (json_parse_strict(data, len, &req) != CP_OK)
		return;
	if (c->decode_request(req, "gemini-2.5-pro", (len & 1) != 0, &r, err, sizeof(err)) != CP_OK) {
		/* a refusal leaves nothing allocated and says why */
		if (r.msgs != NULL || r.model != NULL || err[0] == '\0')
			abort();
		goto out;
	}
	(void)pv_estimate_tokens(&r);
	for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		int rc = targets[i]->encode_request(&r, &out);

		if (rc == CP_OK && targets[i] == c) {
			/* what we write, we read */
			if (c->decode_request(out, "gemini-2.5-pro", false, &again, err, sizeof(err)) != CP_OK)
				abort();
			pv_request_release(&again);
		} else if (rc != CP_OK && rc != CP_ETOOBIG)
			abort();
		cJSON_Delete(out);
		out = NULL;
		if (targets[i]->encode_count(&r, &out) == CP_ENOMEM)
			abort();
		cJSON_Delete(out);
		out = NULL;
	}
	pv_request_release(&r);
out:
	cJSON_Delete(req);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	uint8_t a[SHA256_LEN], b[SHA256_LEN];
	size_t na, nb;
	uint32_t seed;
	bool stream;
	int ra, rb;

	if (len < 1)
		return 0;
	if ((data[0] & 1) == 0) {
		fz_request((const char *)data + 1, len - 1);
		return 0;
	}
	stream = (data[0] & 2) != 0;
	seed = (uint32_t)data[0] * 2654435761u + (uint32_t)len;
	ra = fz_decode((const char *)data + 1, len - 1, stream, 0, false, a, &na);
	rb = fz_decode((const char *)data + 1, len - 1, stream, seed | 1, true, b, &nb);
	/* a failure may stop one split earlier than another, not otherwise */
	if (ra != rb || (ra == CP_OK && (na != nb || memcmp(a, b, sizeof(a)) != 0)))
		abort();
	return 0;
}
