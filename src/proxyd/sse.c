/*
 * sse.c - a bounded incremental parser of text/event-stream (WHATWG HTML
 * "Server-sent events", 9.2.6 interpretation): lines end in CR, LF or
 * CRLF (a CRLF may be split across two feeds), a blank line dispatches,
 * "data:" lines join with LF, a leading space after the colon is dropped,
 * comment lines start with ':'. Every buffer has a cap (STYLE.md).
 */
#include "config.h"

#include <string.h>

#include "proxyd.h"

void
sse_init(struct sse_parser *p)
{
	memset(p, 0, sizeof(*p));
	buf_init(&p->line, SSE_LINE_MAX);
	buf_init(&p->data, SSE_DATA_MAX);
	buf_init(&p->event, 256);
	buf_init(&p->id, 1024);
}

void
sse_release(struct sse_parser *p)
{
	buf_release(&p->line);
	buf_release(&p->data);
	buf_release(&p->event);
	buf_release(&p->id);
}

static int
dispatch(struct sse_parser *p, sse_cb cb, void *arg)
{
	struct sse_event ev;
	int rc = CP_OK;

	if (p->has_data) {
		ev.event = p->event.p != NULL ? p->event.p : "";
		ev.data = p->data.p != NULL ? p->data.p : "";
		ev.data_len = p->data.len;
		ev.id = p->id.p != NULL ? p->id.p : "";
		p->n_events++;
		if (cb != NULL)
			rc = cb(&ev, arg);
	}
	buf_reset(&p->data);
	buf_reset(&p->event);
	p->has_data = false;
	return rc;
}

static int
field(struct sse_parser *p, const char *line, size_t len, sse_cb cb, void *arg)
{
	const char *colon, *val;
	size_t nlen, vlen;
	int rc;

	if (len == 0)
		return dispatch(p, cb, arg);
	if (line[0] == ':')
		return CP_OK; /* comment */
	colon = memchr(line, ':', len);
	nlen = colon != NULL ? (size_t)(colon - line) : len;
	val = colon != NULL ? colon + 1 : line + len;
	vlen = colon != NULL ? len - nlen - 1 : 0;
	if (vlen > 0 && val[0] == ' ') {
		val++;
		vlen--;
	}
	if (nlen == 4 && memcmp(line, "data", 4) == 0) {
		if (p->has_data && (rc = buf_append(&p->data, "\n", 1)) != CP_OK)
			return rc;
		if ((rc = buf_append(&p->data, val, vlen)) != CP_OK)
			return rc;
		if (p->data.p == NULL && (rc = buf_append(&p->data, "", 0)) != CP_OK)
			return rc;
		p->has_data = true;
	} else if (nlen == 5 && memcmp(line, "event", 5) == 0) {
		buf_reset(&p->event);
		return buf_append(&p->event, val, vlen);
	} else if (nlen == 2 && memcmp(line, "id", 2) == 0) {
		if (memchr(val, '\0', vlen) == NULL) {
			buf_reset(&p->id);
			return buf_append(&p->id, val, vlen);
		}
	}
	/* "retry" and unknown fields are ignored. */
	return CP_OK;
}

int
sse_feed(struct sse_parser *p, const char *data, size_t len, sse_cb cb, void *arg)
{
	size_t i = 0;
	int rc;

	/* One optional UTF-8 BOM at the very start of the stream, possibly
	 * split across feeds. */
	while (!p->bom_checked && i < len) {
		static const char bom[] = "\xEF\xBB\xBF";

		if (data[i] == bom[p->bom_n]) {
			i++;
			if (++p->bom_n == 3)
				p->bom_checked = true;
			continue;
		}
		/* Not a BOM after all: the bytes matched so far are text. */
		p->bom_checked = true;
		if (p->bom_n > 0 && (rc = buf_append(&p->line, bom, p->bom_n)) != CP_OK)
			return rc;
	}
	while (i < len) {
		const char *s = data + i;
		size_t rest = len - i, k;

		if (p->saw_cr) {
			p->saw_cr = false;
			if (*s == '\n') {
				i++;
				continue;
			}
		}
		for (k = 0; k < rest && s[k] != '\n' && s[k] != '\r'; k++)
			;
		if ((rc = buf_append(&p->line, s, k)) != CP_OK)
			return rc;
		i += k;
		if (k == rest)
			break; /* partial line: wait for more */
		if (s[k] == '\r')
			p->saw_cr = true;
		i++;
		rc = field(p, p->line.p != NULL ? p->line.p : "", p->line.len, cb, arg);
		buf_reset(&p->line);
		if (rc != CP_OK)
			return rc;
	}
	return CP_OK;
}
