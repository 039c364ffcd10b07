/*
 * usage_scan.c - the token usage of a passthrough answer (issue 15),
 * found without decoding it. The relay's fast path passes answer bytes
 * through untouched (bench figure 5); decoding every event to learn four
 * numbers would cost more than the relay itself. So the bytes go through a
 * small scanner: memchr to the next '"', a match of the member name
 * "usage" (Gemini: "usageMetadata"), then only that member's object is
 * copied (bounded) and parsed. A non-stream answer carries it once at the
 * end; a stream in its usage-bearing events (OpenAI's final chunk,
 * Claude's message_start / message_delta, Gemini's chunks, Responses'
 * response.completed). Several objects merge: a count present in a later
 * one wins (Claude gives input tokens first and output tokens last).
 *
 * A quote inside a JSON string is escaped, so the sequence "usage" with
 * both quotes bare followed by ':' and '{' only occurs as a member name.
 * A tool's JSON arguments may hold such a member (Claude and Gemini
 * non-stream answers carry them as objects); the answer's own usage comes
 * after the content in every format, and the last one wins.
 *
 * The counts mean what the pivot's struct pv_usage means (formats/
 * pivot.h): input includes cached tokens, output includes reasoning -
 * the same numbers a translated answer's decoder reports.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "proxyd.h"
#include "formats/openai.h"

enum {
	US_IDLE = 0,     /* looking for a '"' */
	US_MATCH,        /* matching the member name after the '"' */
	US_KEY,          /* the name matched: ':' next */
	US_COLON,        /* ':' seen: '{' next */
	US_CAPTURE,      /* inside the member's object */
};

static const char us_name[] = "usageMetadata\""; /* "usage" is its first 5 bytes */
#define US_SHORT 5                                /* strlen("usage") */

void
usage_scan_init(struct usage_scan *s, enum fmt_id fmt)
{
	memset(s, 0, sizeof(*s));
	s->fmt = fmt;
	s->u.input = s->u.output = s->u.cached = s->u.reasoning = -1;
	buf_init(&s->cap, USAGE_SCAN_CAP);
}

void
usage_scan_release(struct usage_scan *s)
{
	buf_release(&s->cap);
}

static void
us_set(long long *dst, long long v)
{
	if (v >= 0)
		*dst = v;
}

/* Fold one captured object into s->u, by the format's member names. */
static void
us_fold(struct usage_scan *s, const cJSON *u)
{
	struct pv_usage n = { -1, -1, -1, -1 };

	switch (s->fmt) {
	case FMT_OPENAI_CHAT:
	case FMT_OPENAI_COMPLETIONS:
		oa_usage_read(u, false, &n);
		break;
	case FMT_OPENAI_RESPONSES:
		oa_usage_read(u, true, &n);
		break;
	case FMT_CLAUDE: {
		long long in = pv_json_count(u, "input_tokens");
		long long cr = pv_json_count(u, "cache_read_input_tokens");
		long long cc = pv_json_count(u, "cache_creation_input_tokens");

		if (in >= 0)
			n.input = in + (cr > 0 ? cr : 0) + (cc > 0 ? cc : 0);
		n.cached = cr;
		n.output = pv_json_count(u, "output_tokens");
		break;
	}
	case FMT_GEMINI: {
		long long cand = pv_json_count(u, "candidatesTokenCount");
		long long th = pv_json_count(u, "thoughtsTokenCount");

		n.input = pv_json_count(u, "promptTokenCount");
		n.cached = pv_json_count(u, "cachedContentTokenCount");
		n.reasoning = th;
		if (cand >= 0 || th >= 0)
			n.output = (cand > 0 ? cand : 0) + (th > 0 ? th : 0);
		break;
	}
	case FMT__COUNT:
		return;
	}
	if (n.input < 0 && n.output < 0 && n.cached < 0 && n.reasoning < 0)
		return;
	us_set(&s->u.input, n.input);
	us_set(&s->u.output, n.output);
	us_set(&s->u.cached, n.cached);
	us_set(&s->u.reasoning, n.reasoning);
	s->have = true;
}

static void
us_done(struct usage_scan *s)
{
	cJSON *j = cJSON_ParseWithLength(s->cap.p, s->cap.len);

	if (cJSON_IsObject(j))
		us_fold(s, j);
	cJSON_Delete(j);
	buf_reset(&s->cap);
	s->state = US_IDLE;
}

/* Bytes of the captured object from data: up to its closing brace. */
static size_t
us_capture(struct usage_scan *s, const char *data, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = data[i];

		if (s->esc) {
			s->esc = false;
		} else if (s->in_str) {
			if (c == '\\')
				s->esc = true;
			else if (c == '"')
				s->in_str = false;
		} else if (c == '"') {
			s->in_str = true;
		} else if (c == '{' || c == '[') {
			s->depth++;
		} else if (c == '}' || c == ']') {
			if (--s->depth == 0) {
				i++;
				break;
			}
		}
	}
	if (buf_append(&s->cap, data, i) != CP_OK) {
		/* not a usage object we can read: give it up */
		buf_reset(&s->cap);
		s->state = US_IDLE;
		return i;
	}
	if (s->depth == 0)
		us_done(s);
	return i;
}

void
usage_scan_feed(struct usage_scan *s, const char *data, size_t len)
{
	size_t i = 0;

	while (i < len) {
		char c = data[i];
		const char *q;

		switch (s->state) {
		case US_IDLE:
			if ((q = memchr(data + i, '"', len - i)) == NULL)
				return;
			i = (size_t)(q - data) + 1;
			s->state = US_MATCH;
			s->mpos = 0;
			break;
		case US_MATCH:
			if (s->mpos == US_SHORT && c == '"' && s->fmt != FMT_GEMINI) {
				s->state = US_KEY;
				i++;
			} else if (c == us_name[s->mpos] && (s->mpos < US_SHORT || s->fmt == FMT_GEMINI)) {
				i++;
				if (us_name[++s->mpos] == '\0')
					s->state = US_KEY;
			} else {
				/* this byte may open the next name: look at it again */
				s->state = US_IDLE;
			}
			break;
		case US_KEY:
		case US_COLON:
			if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
				i++;
			} else if (s->state == US_KEY && c == ':') {
				s->state = US_COLON;
				i++;
			} else if (s->state == US_COLON && c == '{') {
				s->state = US_CAPTURE;
				s->depth = 0;
				s->in_str = s->esc = false;
				buf_reset(&s->cap);
			} else {
				s->state = US_IDLE; /* a value "usage", or usage: null */
			}
			break;
		case US_CAPTURE:
			i += us_capture(s, data + i, len - i);
			break;
		default:
			s->state = US_IDLE;
			break;
		}
	}
}

bool
usage_scan_result(const struct usage_scan *s, struct pv_usage *out)
{
	*out = s->u;
	return s->have;
}
