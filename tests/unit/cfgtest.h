/*
 * cfgtest.h - helpers shared by the config unit tests: reading data files
 * from $CLIPROXY_SRCDIR (distcheck builds out of tree) and a line-level
 * diff that counts changed lines.
 */
#ifndef CLIPROXY_CFGTEST_H
#define CLIPROXY_CFGTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* Whole file below $CLIPROXY_SRCDIR; aborts the test on failure. */
static inline char *
ct_read_src(const char *rel, size_t *len)
{
	const char *src = getenv("CLIPROXY_SRCDIR");
	char path[4096];
	char *t = NULL;

	snprintf(path, sizeof(path), "%s/%s", src != NULL ? src : ".", rel);
	if (fio_read_file(path, CP_CONFIG_MAX, &t, len) != CP_OK) {
		fprintf(stderr, "# cannot read %s (is CLIPROXY_SRCDIR set?)\n", path);
		abort();
	}
	return t;
}

struct ct_lines {
	const char **p;    /* line starts */
	size_t *l;         /* line lengths (with the newline) */
	size_t n;          /* count */
};

static inline void
ct_split(const char *t, size_t len, struct ct_lines *ls)
{
	size_t i, s = 0;

	ls->p = calloc(len + 2, sizeof(*ls->p));
	ls->l = calloc(len + 2, sizeof(*ls->l));
	ls->n = 0;
	for (i = 0; i < len; i++)
		if (t[i] == '\n') {
			ls->p[ls->n] = t + s;
			ls->l[ls->n++] = i + 1 - s;
			s = i + 1;
		}
	if (s < len) {
		ls->p[ls->n] = t + s;
		ls->l[ls->n++] = len - s;
	}
}

static inline int
ct_line_eq(const struct ct_lines *a, size_t i, const struct ct_lines *b, size_t j)
{
	return a->l[i] == b->l[j] && memcmp(a->p[i], b->p[j], a->l[i]) == 0;
}

/* Line diff by LCS: *removed = old lines not kept, *added = new lines not
 * from the old text. */
static inline void
ct_diff(const char *a, size_t alen, const char *b, size_t blen, size_t *removed,
    size_t *added)
{
	struct ct_lines la, lb;
	size_t i, j, *dp, w;

	ct_split(a, alen, &la);
	ct_split(b, blen, &lb);
	w = lb.n + 1;
	dp = calloc((la.n + 1) * w, sizeof(*dp));
	for (i = la.n; i-- > 0;)
		for (j = lb.n; j-- > 0;)
			dp[i * w + j] = ct_line_eq(&la, i, &lb, j) ? dp[(i + 1) * w + j + 1] + 1 :
			    (dp[(i + 1) * w + j] > dp[i * w + j + 1] ? dp[(i + 1) * w + j] :
			    dp[i * w + j + 1]);
	*removed = la.n - dp[0];
	*added = lb.n - dp[0];
	free(dp);
	free(la.p);
	free(la.l);
	free(lb.p);
	free(lb.l);
}

#endif
