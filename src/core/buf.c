/*
 * buf.c - growable byte buffer with a hard cap (STYLE.md "Untrusted input":
 * growable buffers refuse to pass their cap, as curl's dynbuf does).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

#define BUF_MIN_ALLOC 64 /* first allocation */

void
buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_release(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

/* Make room for need more bytes plus the NUL. */
static int
buf_grow(struct buf *b, size_t need)
{
	size_t want, ncap;
	char *np;

	if (need > b->max - b->len)
		return CP_ETOOBIG;
	want = b->len + need + 1;
	if (want <= b->cap)
		return CP_OK;
	ncap = b->cap ? b->cap : BUF_MIN_ALLOC;
	while (ncap < want) {
		if (ncap > SIZE_MAX / 2) {
			ncap = want;
			break;
		}
		ncap *= 2;
	}
	/* Never allocate far beyond what max allows. */
	if (b->max < SIZE_MAX && ncap > b->max + 1 && want <= b->max + 1)
		ncap = b->max + 1;
	np = realloc(b->p, ncap);
	if (np == NULL)
		return CP_ENOMEM;
	b->p = np;
	b->cap = ncap;
	return CP_OK;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	int rc;

	if ((rc = buf_grow(b, len)) != CP_OK)
		return rc;
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return CP_OK;
}

int
buf_appends(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list cp;
	int n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return CP_EINVAL;
	if ((rc = buf_grow(b, (size_t)n)) != CP_OK)
		return rc;
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	b->len += (size_t)n;
	return CP_OK;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *
buf_steal(struct buf *b, size_t *len)
{
	char *p = b->p;

	if (len != NULL)
		*len = b->len;
	if (p == NULL)
		p = calloc(1, 1);
	buf_init(b, b->max);
	return p;
}
