/*
 * fuzz_gate.c - the connection gate's head parser and rewriter
 * (src/proxyd/gate.c, DESIGN.md 6 "Limits"; issue 10). A client's request
 * head is parsed the way evhttp parses it, and a refused head is rewritten
 * without its body framing. Whatever the head: no crash; the rewrite of a
 * head, parsed again, carries no Content-Length, Transfer-Encoding or
 * Expect header (so evhttp reads no body), keeps the request line, ends in
 * exactly one blank line and holds no byte the original did not (no NUL,
 * no bare CR). The same bytes as a chunked body: the de-chunker gives
 * the same verdict and the same body however they are split across
 * reads, and never a body past its cap.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "proxyd.h"

// needs: src/proxyd/clientauth.c

/* gate.c's statics are what is fuzzed: the file is compiled in here. */
#include "gate.c"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

/* What gate.c uses from the rest of the daemon. */
struct status_counters status_ctr;

struct snapshot *
snapshot_current(void)
{
	return NULL; /* gate_decide is not reached from here */
}

static size_t
count_header(struct ghead *g, const char *name)
{
	struct evkeyval *kv;
	size_t n = 0;

	TAILQ_FOREACH(kv, &g->h, next)
		if (strcasecmp(kv->key, name) == 0)
			n++;
	return n;
}

/* De-chunk data in two reads split at cut; *verdict as dechunk_feed's
 * last answer; the body (malloc'd) into *body. */
static void
dechunk_run(const unsigned char *data, size_t len, size_t cut, int *verdict,
    char **body, size_t *blen)
{
	struct dechunk ck;

	memset(&ck, 0, sizeof(ck));
	ck.cap = 1024;
	*body = NULL;
	*blen = 0;
	if ((ck.raw = evbuffer_new()) == NULL || (ck.body = evbuffer_new()) == NULL)
		abort();
	evbuffer_add(ck.raw, data, cut);
	*verdict = dechunk_feed(&ck);
	if (*verdict == 0) {
		evbuffer_add(ck.raw, data + cut, len - cut);
		*verdict = dechunk_feed(&ck);
	}
	if (*verdict != 0 && *verdict != 200 && *verdict != 400 && *verdict != 413)
		abort();
	*blen = evbuffer_get_length(ck.body);
	if (*blen > ck.cap)
		abort();
	if ((*body = malloc(*blen + 1)) == NULL)
		abort();
	evbuffer_copyout(ck.body, *body, *blen);
	evbuffer_free(ck.raw);
	evbuffer_free(ck.body);
}

static void
dechunk_check(const unsigned char *data, size_t len)
{
	char *b1, *b2;
	size_t l1, l2;
	int v1, v2;

	if (len == 0)
		return;
	dechunk_run(data, len, len, &v1, &b1, &l1);
	dechunk_run(data, len, data[0] % len, &v2, &b2, &l2);
	/* A 413 or 400 may come earlier with less read; a success or a
	 * "need more" must be the same whatever the split. */
	if ((v1 == 200 || v2 == 200 || (v1 == 0 && v2 == 0)) &&
	    (v1 != v2 || l1 != l2 || memcmp(b1, b2, l1) != 0))
		abort();
	free(b1);
	free(b2);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	static const char *const drop[] = { "Content-Length", "Transfer-Encoding", "Expect",
		"Connection", GATE_HEADER, NULL };
	struct evbuffer *out = NULL;
	struct ghead g, g2;
	char *txt = NULL, *work = NULL, *re = NULL, *re2 = NULL;
	size_t rl;

	dechunk_check(data, len);
	if (len > PXD_HEADERS_MAX || memchr(data, '\0', len) != NULL)
		return 0; /* the gate refuses these before parsing */
	/* A head as the gate hands it over: it ends at the first empty line. */
	if ((txt = malloc(len + 3)) == NULL || (work = malloc(len + 3)) == NULL)
		goto out;
	memcpy(txt, data, len);
	memcpy(txt + len, "\n\n", 3);
	memcpy(work, txt, len + 3);
	memset(&g, 0, sizeof(g));
	ghead_parse(work, &g);
	if (g.line == NULL) {
		ghead_release(&g);
		goto out;
	}
	if ((out = evbuffer_new()) == NULL) {
		ghead_release(&g);
		goto out;
	}
	gate_rewrite(txt, len + 2, drop, GATE_HEADER ": 401\r\n", true, out);
	rl = evbuffer_get_length(out);
	if ((re = malloc(rl + 1)) == NULL || (re2 = malloc(rl + 1)) == NULL) {
		ghead_release(&g);
		goto out;
	}
	evbuffer_copyout(out, re, rl);
	re[rl] = '\0';
	if (strlen(re) != rl)
		abort(); /* a NUL appeared */
	if (rl < 4 || memcmp(re + rl - 4, "\r\n\r\n", 4) != 0)
		abort();
	{
		const char *blank = strstr(re, "\r\n\r\n");

		if (blank == NULL || (size_t)(blank - re) + 4 != rl)
			abort(); /* one blank line, at the end */
	}
	memcpy(re2, re, rl + 1);
	memset(&g2, 0, sizeof(g2));
	ghead_parse(re2, &g2);
	if (g2.line == NULL || strcmp(g2.line, g.line) != 0)
		abort();
	if (count_header(&g2, "Content-Length") != 0 ||
	    count_header(&g2, "Transfer-Encoding") != 0 || count_header(&g2, "Expect") != 0 ||
	    count_header(&g2, GATE_HEADER) != 1 || count_header(&g2, "Connection") != 1)
		abort();
	ghead_release(&g2);
	ghead_release(&g);
out:
	if (out != NULL)
		evbuffer_free(out);
	free(re2);
	free(re);
	free(work);
	free(txt);
	return 0;
}
