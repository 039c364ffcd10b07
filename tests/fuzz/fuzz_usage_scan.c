/*
 * fuzz_usage_scan.c - the passthrough usage scanner (src/proxyd/
 * usage_scan.c, issue 15): upstream answer bytes in any format and any
 * split. The first byte picks the format; the rest is fed whole, in pieces
 * of a size taken from the second byte, and one byte at a time: the three
 * results must be identical, never crash, and every count is -1 or a
 * non-negative number.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "proxyd.h"

// needs: src/proxyd/usage_scan.c src/proxyd/sse.c src/proxyd/formats/pivot.c src/proxyd/formats/openai_chat.c src/proxyd/formats/openai_responses.c src/proxyd/formats/claude.c src/proxyd/formats/gemini.c

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

static bool
run(enum fmt_id f, const char *d, size_t len, size_t step, struct pv_usage *u)
{
	struct usage_scan s;
	bool have;

	usage_scan_init(&s, f);
	for (size_t i = 0; i < len; i += step)
		usage_scan_feed(&s, d + i, len - i < step ? len - i : step);
	have = usage_scan_result(&s, u);
	usage_scan_release(&s);
	return have;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	struct pv_usage a, b, c;
	enum fmt_id f;
	size_t step;
	bool ha, hb, hc;

	if (len < 2)
		return 0;
	f = (enum fmt_id)(data[0] % FMT__COUNT);
	step = (size_t)data[1] + 1;
	data += 2;
	len -= 2;
	ha = run(f, (const char *)data, len, len > 0 ? len : 1, &a);
	hb = run(f, (const char *)data, len, step, &b);
	hc = run(f, (const char *)data, len, 1, &c);
	if (ha != hb || ha != hc || memcmp(&a, &b, sizeof(a)) != 0 ||
	    memcmp(&a, &c, sizeof(a)) != 0)
		abort();
	if (a.input < -1 || a.output < -1 || a.cached < -1 || a.reasoning < -1)
		abort();
	return 0;
}
