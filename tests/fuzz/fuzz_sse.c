/*
 * fuzz_sse.c - the daemon's bounded incremental SSE parser
 * (src/proxyd/sse.c, DESIGN.md 6 "Streaming"). Upstream bytes arrive in
 * arbitrary pieces, so the parser must give the same events whatever the
 * split: the input is fed whole, in pieces of a size taken from its first
 * byte, and one byte at a time; the three event sequences (event name,
 * data, id) and results must be identical. Never crashes; every event's
 * data is within SSE_DATA_MAX.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "proxyd.h"

// needs: src/proxyd/sse.c

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

struct trace {
	struct sha256_ctx h;   /* digest of every event seen */
	size_t n;              /* events */
};

static int
on_event(const struct sse_event *ev, void *arg)
{
	struct trace *t = arg;
	size_t el = strlen(ev->event), il = strlen(ev->id);

	if (ev->data_len > SSE_DATA_MAX)
		abort();
	/* lengths first, so that ("ab","c") and ("a","bc") differ */
	sha256_update(&t->h, &el, sizeof(el));
	sha256_update(&t->h, ev->event, el);
	sha256_update(&t->h, &ev->data_len, sizeof(ev->data_len));
	sha256_update(&t->h, ev->data, ev->data_len);
	sha256_update(&t->h, &il, sizeof(il));
	sha256_update(&t->h, ev->id, il);
	t->n++;
	return CP_OK;
}

static int
run(const char *data, size_t len, size_t step, uint8_t out[SHA256_LEN], size_t *n)
{
	struct sse_parser p;
	struct trace t;
	int rc = CP_OK;

	sha256_init(&t.h);
	t.n = 0;
	sse_init(&p);
	for (size_t off = 0; off < len && rc == CP_OK; off += step) {
		size_t k = len - off < step ? len - off : step;
		/* an exact-size heap copy of each piece, so ASan sees over-reads */
		char *piece = malloc(k);

		if (piece == NULL)
			abort();
		memcpy(piece, data + off, k);
		rc = sse_feed(&p, piece, k, on_event, &t);
		free(piece);
	}
	sse_release(&p);
	sha256_final(&t.h, out);
	*n = t.n;
	return rc;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	uint8_t a[SHA256_LEN], b[SHA256_LEN], c[SHA256_LEN];
	size_t na, nb, nc, step;
	int ra, rb, rc;

	if (len == 0)
		return 0;
	step = 1 + data[0] % 64;
	ra = run((const char *)data, len, len, a, &na);
	rb = run((const char *)data, len, step, b, &nb);
	rc = run((const char *)data, len, 1, c, &nc);
	if (ra != rb || ra != rc || na != nb || na != nc)
		abort();
	if (memcmp(a, b, sizeof(a)) != 0 || memcmp(a, c, sizeof(a)) != 0)
		abort();
	return 0;
}
