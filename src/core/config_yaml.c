/*
 * config_yaml.c - YAML document tree with byte positions, and the
 * comment-preserving editor of the config file (DESIGN.md section 3,
 * "Rules"): libyaml drops comments, so a write parses the text to learn the
 * byte range of the node it replaces, renders the new value as YAML at the
 * right indentation and splices it into the original bytes. Everything
 * outside the changed range stays byte-for-byte identical.
 *
 * Every edit is checked before it is returned: the result is parsed again
 * and must equal the old document with exactly the requested change
 * (otherwise CP_EINVAL: a corrupted file is never written).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "core.h"

#define YAML_ANCHORS_MAX 1024      /* distinct anchors in one document */
#define YAML_PATH_MAX 16           /* keys in a path */

struct anchor {
	char *name;                /* anchor name */
	struct ynode *node;        /* completed node it names */
};

struct ydoc {
	struct ynode *root;        /* NULL for an empty document */
	struct ynode **all;        /* every node allocated, for freeing */
	size_t nall;               /* count */
	size_t capall;             /* allocated */
	struct anchor *anchors;    /* anchors defined so far */
	size_t nanchors;           /* count */
};

/* libyaml marks count characters, not bytes (and skip a UTF-8 BOM): this
 * maps a mark index to a byte offset. ASCII text needs no table. */
struct cmap {
	size_t base;               /* bytes skipped before index 0 (BOM) */
	uint32_t *off;             /* byte offset of each character, or NULL */
	size_t noff;               /* entries in off */
	size_t len;                /* text length */
};

static int
cmap_init(struct cmap *m, const char *text, size_t len)
{
	const unsigned char *t = (const unsigned char *)text;
	size_t i, n;
	bool ascii = true;

	memset(m, 0, sizeof(*m));
	m->len = len;
	if (len >= 3 && t[0] == 0xEF && t[1] == 0xBB && t[2] == 0xBF)
		m->base = 3;
	for (i = m->base; i < len; i++)
		if (t[i] >= 0x80) {
			ascii = false;
			break;
		}
	if (ascii)
		return CP_OK;
	m->off = malloc((len + 1) * sizeof(*m->off));
	if (m->off == NULL)
		return CP_ENOMEM;
	n = 0;
	for (i = m->base; i < len; i++)
		if ((t[i] & 0xC0) != 0x80)
			m->off[n++] = (uint32_t)i;
	m->off[n++] = (uint32_t)len;
	m->noff = n;
	return CP_OK;
}

static size_t
cmap_byte(const struct cmap *m, size_t idx)
{
	size_t b;

	if (m->off == NULL) {
		b = m->base + idx;
		return b > m->len ? m->len : b;
	}
	return idx < m->noff ? m->off[idx] : m->len;
}

/* ------------------------------------------------------------- tree */

struct builder {
	struct ydoc *d;            /* document being built */
	const char *text;          /* its text */
	size_t len;                /* text length */
	struct cmap cm;            /* mark -> byte */
	struct ynode *stack[CP_YAML_DEPTH_MAX + 1]; /* open collections */
	char *stack_anchor[CP_YAML_DEPTH_MAX + 1]; /* their anchors */
	size_t depth;              /* entries in stack */
	size_t *lines;             /* byte offset of each line start */
	size_t nlines;             /* entries in lines */
	size_t ndocs;              /* documents seen */
	char *err;                 /* caller's buffer */
	size_t errlen;             /* its size */
};

static size_t
line_of(const struct builder *b, size_t pos)
{
	size_t lo = 0, hi = b->nlines;

	/* Last line start <= pos. */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->lines[mid] <= pos)
			lo = mid;
		else
			hi = mid;
	}
	return lo + 1;
}

static int
lines_init(struct builder *b)
{
	size_t i, n = 1;

	for (i = 0; i < b->len; i++)
		if (b->text[i] == '\n')
			n++;
	b->lines = malloc(n * sizeof(*b->lines));
	if (b->lines == NULL)
		return CP_ENOMEM;
	b->lines[0] = 0;
	b->nlines = 1;
	for (i = 0; i < b->len; i++)
		if (b->text[i] == '\n')
			b->lines[b->nlines++] = i + 1;
	return CP_OK;
}

static struct ynode *
node_new(struct builder *b, enum ynode_kind kind)
{
	struct ynode *n;

	if (b->d->nall >= YAML_NODES_MAX)
		return NULL;
	if (b->d->nall == b->d->capall) {
		size_t nc = b->d->capall ? b->d->capall * 2 : 64;
		struct ynode **na = realloc(b->d->all, nc * sizeof(*na));
		if (na == NULL)
			return NULL;
		b->d->all = na;
		b->d->capall = nc;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->kind = kind;
	n->weight = 1;
	b->d->all[b->d->nall++] = n;
	return n;
}

static int
kid_push(struct ynode *p, struct ynode *k)
{
	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 4;
		struct ynode **nk = realloc(p->kids, nc * sizeof(*nk));
		if (nk == NULL)
			return CP_ENOMEM;
		p->kids = nk;
		p->cap = nc;
	}
	p->kids[p->n++] = k;
	return CP_OK;
}

/* An empty plain scalar in a block collection gets the marks of the next
 * token from libyaml; we place it right after its ':' or '-' instead so
 * that edits land on the right line. */
static void
fix_empty(struct builder *b, struct ynode *p, struct ynode *s)
{
	const char *t = b->text;
	size_t i;

	if (p->kind == YN_MAP && p->n % 2 == 1) {
		i = p->kids[p->n - 1]->end;
		while (i < b->len && (t[i] == ' ' || t[i] == '\t'))
			i++;
		if (i < b->len && t[i] == ':') {
			s->start = s->end = i + 1;
			s->virt = true;
		}
		return;
	}
	if (p->kind != YN_SEQ)
		return;
	i = p->n > 0 ? p->kids[p->n - 1]->end : p->start;
	while (i < b->len) {
		if (t[i] == ' ' || t[i] == '\t' || t[i] == '\r' || t[i] == '\n') {
			i++;
		} else if (t[i] == '#') {
			while (i < b->len && t[i] != '\n')
				i++;
		} else {
			break;
		}
	}
	if (i < b->len && t[i] == '-') {
		s->start = s->end = i + 1;
		s->virt = true;
	}
}

static int
key_cmp(const void *a, const void *b)
{
	const struct ynode *x = *(const struct ynode *const *)a;
	const struct ynode *y = *(const struct ynode *const *)b;
	size_t l = x->slen < y->slen ? x->slen : y->slen;
	int c = memcmp(x->s, y->s, l);

	if (c != 0)
		return c;
	return x->slen < y->slen ? -1 : x->slen > y->slen;
}

/* Duplicate keys are refused (as Go's yaml.v3 does): the config would
 * otherwise mean different things to different readers. The message names
 * the line, never the key: a key may be a secret typed where a list item
 * was meant ("- sk-...: "), and this text reaches status files and logs. */
static int
check_dups(struct builder *b, const struct ynode *m)
{
	struct ynode **v;
	size_t i, n = 0;
	int rc = CP_OK;

	if (m->n < 4)
		goto small;
	v = malloc((m->n / 2) * sizeof(*v));
	if (v == NULL)
		return CP_ENOMEM;
	for (i = 0; i + 1 < m->n; i += 2)
		if (m->kids[i]->kind == YN_SCALAR)
			v[n++] = m->kids[i];
	qsort(v, n, sizeof(*v), key_cmp);
	for (i = 1; i < n; i++)
		if (key_cmp(&v[i - 1], &v[i]) == 0) {
			const struct ynode *late = v[i]->start > v[i - 1]->start ? v[i] : v[i - 1];
			cp_seterr(b->err, b->errlen, "line %zu: duplicate key (the same key "
			    "as line %zu)", late->line,
			    late == v[i] ? v[i - 1]->line : v[i]->line);
			rc = CP_EINVAL;
			break;
		}
	free(v);
	return rc;
small:
	if (m->n == 4 && m->kids[0]->kind == YN_SCALAR && m->kids[2]->kind == YN_SCALAR &&
	    key_cmp(&m->kids[0], &m->kids[2]) == 0) {
		cp_seterr(b->err, b->errlen, "line %zu: duplicate key (the same key as line %zu)",
		    m->kids[2]->line, m->kids[0]->line);
		return CP_EINVAL;
	}
	return CP_OK;
}

/* Attach a completed node to the open collection (or make it the root). */
static int
attach(struct builder *b, struct ynode *n, const char *anchor)
{
	struct ynode *p;
	int rc;

	if (anchor != NULL) {
		if (b->d->nanchors >= YAML_ANCHORS_MAX) {
			cp_seterr(b->err, b->errlen, "line %zu: too many anchors", n->line);
			return CP_ETOOBIG;
		}
		if (b->d->nanchors % 16 == 0) {
			struct anchor *na = realloc(b->d->anchors,
			    (b->d->nanchors + 16) * sizeof(*na));
			if (na == NULL)
				return CP_ENOMEM;
			b->d->anchors = na;
		}
		b->d->anchors[b->d->nanchors].name = cp_strdup(anchor);
		if (b->d->anchors[b->d->nanchors].name == NULL)
			return CP_ENOMEM;
		b->d->anchors[b->d->nanchors++].node = n;
	}
	if (b->depth == 0) {
		b->d->root = n;
		return CP_OK;
	}
	p = b->stack[b->depth - 1];
	if (n->kind == YN_SCALAR && n->plain && n->slen == 0 && !p->flow &&
	    n->start == n->end)
		fix_empty(b, p, n);
	if ((rc = kid_push(p, n)) != CP_OK)
		return rc;
	if (n->weight > YAML_EXPANDED_MAX - p->weight) {
		cp_seterr(b->err, b->errlen, "line %zu: document too large once aliases are expanded",
		    n->line);
		return CP_ETOOBIG;
	}
	p->weight += n->weight;
	if (n->height + 1 > p->height)
		p->height = n->height + 1;
	return CP_OK;
}

static int
on_event(struct builder *b, const yaml_event_t *e)
{
	struct ynode *n;
	size_t i;
	const char *anchor = NULL;

	switch (e->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++b->ndocs > 1) {
			cp_seterr(b->err, b->errlen, "line %zu: more than one document",
			    e->start_mark.line + 1);
			return CP_EINVAL;
		}
		return CP_OK;
	case YAML_ALIAS_EVENT:
		for (i = b->d->nanchors; i > 0; i--)
			if (strcmp(b->d->anchors[i - 1].name, (const char *)e->data.alias.anchor) == 0)
				break;
		if (i == 0) {
			cp_seterr(b->err, b->errlen, "line %zu: unknown alias",
			    e->start_mark.line + 1);
			return CP_EPARSE;
		}
		n = b->d->anchors[i - 1].node;
		if (b->depth + n->height + 1 > CP_YAML_DEPTH_MAX) {
			cp_seterr(b->err, b->errlen, "line %zu: nesting too deep",
			    e->start_mark.line + 1);
			return CP_ETOOBIG;
		}
		return attach(b, n, NULL);
	case YAML_SCALAR_EVENT:
		if ((n = node_new(b, YN_SCALAR)) == NULL)
			goto nomem;
		n->s = cp_strndup((const char *)e->data.scalar.value, e->data.scalar.length);
		if (n->s == NULL)
			return CP_ENOMEM;
		n->slen = e->data.scalar.length;
		n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		n->start = cmap_byte(&b->cm, e->start_mark.index);
		n->end = cmap_byte(&b->cm, e->end_mark.index);
		n->line = line_of(b, n->start);
		return attach(b, n, (const char *)e->data.scalar.anchor);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (b->depth >= CP_YAML_DEPTH_MAX) {
			cp_seterr(b->err, b->errlen, "line %zu: nesting too deep",
			    e->start_mark.line + 1);
			return CP_ETOOBIG;
		}
		n = node_new(b, e->type == YAML_SEQUENCE_START_EVENT ? YN_SEQ : YN_MAP);
		if (n == NULL)
			goto nomem;
		if (e->type == YAML_SEQUENCE_START_EVENT) {
			n->flow = e->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
			anchor = (const char *)e->data.sequence_start.anchor;
		} else {
			n->flow = e->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE;
			anchor = (const char *)e->data.mapping_start.anchor;
		}
		n->start = cmap_byte(&b->cm, e->start_mark.index);
		n->line = line_of(b, n->start);
		b->stack_anchor[b->depth] = NULL;
		if (anchor != NULL && (b->stack_anchor[b->depth] = cp_strdup(anchor)) == NULL)
			return CP_ENOMEM;
		b->stack[b->depth++] = n;
		return CP_OK;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		char *a;
		int rc;

		n = b->stack[--b->depth];
		a = b->stack_anchor[b->depth];
		b->stack_anchor[b->depth] = NULL;
		if (n->flow || n->n == 0)
			n->end = cmap_byte(&b->cm, e->end_mark.index);
		else
			n->end = n->kids[n->n - 1]->end;
		if (n->end < n->start)
			n->end = n->start;
		rc = CP_OK;
		if (n->kind == YN_MAP)
			rc = check_dups(b, n);
		if (rc == CP_OK)
			rc = attach(b, n, a);
		free(a);
		return rc;
	}
	default:
		return CP_OK;
	}
nomem:
	if (b->d->nall >= YAML_NODES_MAX) {
		cp_seterr(b->err, b->errlen, "line %zu: too many nodes", e->start_mark.line + 1);
		return CP_ETOOBIG;
	}
	return CP_ENOMEM;
}

static void
parse_error(const yaml_parser_t *p, const struct builder *b, char *err, size_t errlen)
{
	size_t line;

	if (p->error == YAML_MEMORY_ERROR) {
		cp_seterr(err, errlen, "out of memory");
		return;
	}
	if (p->error == YAML_READER_ERROR) {
		line = line_of(b, p->problem_offset < b->len ? p->problem_offset : b->len);
		cp_seterr(err, errlen, "line %zu: %s", line,
		    p->problem ? p->problem : "cannot read input");
		return;
	}
	line = p->problem_mark.line + 1;
	/* An unclosed quote or bracket is found at the end of the text: the
	 * line where it was opened is the useful one. */
	if (p->context != NULL && p->problem != NULL &&
	    strstr(p->problem, "end of stream") != NULL) {
		cp_seterr(err, errlen, "line %zu: %s (%s)", p->context_mark.line + 1,
		    p->problem, p->context);
		return;
	}
	if (p->context != NULL)
		cp_seterr(err, errlen, "line %zu: %s (%s at line %zu)", line,
		    p->problem ? p->problem : "syntax error", p->context,
		    p->context_mark.line + 1);
	else
		cp_seterr(err, errlen, "line %zu: %s", line,
		    p->problem ? p->problem : "syntax error");
}

void
ydoc_free(struct ydoc *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->nall; i++) {
		free(d->all[i]->s);
		free(d->all[i]->kids);
		free(d->all[i]);
	}
	for (i = 0; i < d->nanchors; i++)
		free(d->anchors[i].name);
	free(d->anchors);
	free(d->all);
	free(d);
}

int
ydoc_parse(const char *text, size_t len, struct ydoc **out, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t e;
	struct builder b;
	bool parser_ok = false, done = false;
	int rc = CP_OK;
	size_t i;

	*out = NULL;
	memset(&b, 0, sizeof(b));
	if (len > CP_CONFIG_MAX) {
		cp_seterr(err, errlen, "config is larger than %u bytes", CP_CONFIG_MAX);
		return CP_ETOOBIG;
	}
	/* Only UTF-8 (libyaml would also take UTF-16 after a BOM). */
	if (len >= 2 && (((unsigned char)text[0] == 0xFE && (unsigned char)text[1] == 0xFF) ||
	    ((unsigned char)text[0] == 0xFF && (unsigned char)text[1] == 0xFE))) {
		cp_seterr(err, errlen, "line 1: only UTF-8 is accepted");
		return CP_EPARSE;
	}
	b.text = text;
	b.len = len;
	b.err = err;
	b.errlen = errlen;
	if ((b.d = calloc(1, sizeof(*b.d))) == NULL)
		return CP_ENOMEM;
	if ((rc = cmap_init(&b.cm, text, len)) != CP_OK)
		goto out;
	if ((rc = lines_init(&b)) != CP_OK)
		goto out;
	if (!yaml_parser_initialize(&p)) {
		rc = CP_ENOMEM;
		goto out;
	}
	parser_ok = true;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&p, &e)) {
			parse_error(&p, &b, err, errlen);
			rc = p.error == YAML_MEMORY_ERROR ? CP_ENOMEM : CP_EPARSE;
			goto out;
		}
		done = e.type == YAML_STREAM_END_EVENT;
		rc = on_event(&b, &e);
		yaml_event_delete(&e);
		if (rc != CP_OK)
			goto out;
	}
	*out = b.d;
	b.d = NULL;
out:
	for (i = 0; i < b.depth; i++)
		free(b.stack_anchor[i]);
	if (parser_ok)
		yaml_parser_delete(&p);
	free(b.cm.off);
	free(b.lines);
	ydoc_free(b.d);
	return rc;
}

const struct ynode *
ydoc_root(const struct ydoc *d)
{
	return d->root;
}

const struct ynode *
ynode_get(const struct ynode *m, const char *key)
{
	size_t i, kl;

	if (m == NULL || m->kind != YN_MAP)
		return NULL;
	kl = strlen(key);
	for (i = 0; i + 1 < m->n; i += 2)
		if (m->kids[i]->kind == YN_SCALAR && m->kids[i]->slen == kl &&
		    memcmp(m->kids[i]->s, key, kl) == 0)
			return m->kids[i + 1];
	return NULL;
}

/* Index of key's pair in m, or -1. */
static long
map_find(const struct ynode *m, const char *key)
{
	size_t i, kl = strlen(key);

	for (i = 0; i + 1 < m->n; i += 2)
		if (m->kids[i]->kind == YN_SCALAR && m->kids[i]->slen == kl &&
		    memcmp(m->kids[i]->s, key, kl) == 0)
			return (long)i;
	return -1;
}

/* ----------------------------------------------------- scalar typing */

static bool
ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a, y = *b;
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return *a == *b;
}

static bool
word_is_null(const char *s)
{
	return s[0] == '\0' || strcmp(s, "~") == 0 || ieq(s, "null");
}

/* YAML 1.1 booleans, any case (DESIGN 3 via the issue). */
static int
word_bool(const char *s)
{
	static const char *const t[] = { "true", "yes", "on" };
	static const char *const f[] = { "false", "no", "off" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (ieq(s, t[i]))
			return 1;
		if (ieq(s, f[i]))
			return 0;
	}
	return -1;
}

bool
yaml_scalar_is_null(const struct ynode *n)
{
	return n->kind == YN_SCALAR && n->plain && word_is_null(n->s);
}

bool
yaml_scalar_bool(const struct ynode *n, bool *out)
{
	int v;

	if (n->kind != YN_SCALAR || !n->plain || n->slen != strlen(n->s))
		return false;
	if ((v = word_bool(n->s)) < 0)
		return false;
	*out = v == 1;
	return true;
}

static bool
all_digits(const char *s, const char *set)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (strchr(set, *s) == NULL)
			return false;
	return true;
}

/* Plain scalar that YAML 1.1 reads as a number: decimal, 0x, 0o-style
 * octal and floats (with '.' or an exponent). */
static bool
word_number(const char *s, double *out)
{
	const char *p = s;
	char *end;
	bool dot = false, exp = false, digit = false;

	if (*p == '+' || *p == '-')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && all_digits(p + 2, "0123456789abcdefABCDEF")) {
		*out = (double)strtoull(p + 2, NULL, 16);
		if (*s == '-')
			*out = -*out;
		return true;
	}
	if (p[0] == '0' && p[1] != '\0' && all_digits(p + 1, "01234567")) {
		*out = (double)strtoull(p + 1, NULL, 8);
		if (*s == '-')
			*out = -*out;
		return true;
	}
	for (; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			digit = true;
		} else if (*p == '.' && !dot && !exp) {
			dot = true;
		} else if ((*p == 'e' || *p == 'E') && digit && !exp) {
			exp = true;
			if (p[1] == '+' || p[1] == '-')
				p++;
			if (!(p[1] >= '0' && p[1] <= '9'))
				return false;
		} else {
			return false;
		}
	}
	if (!digit)
		return false;
	*out = strtod(s, &end);
	return *end == '\0';
}

static cJSON *
scalar_to_json(const struct ynode *n)
{
	double d;
	int b;

	if (!n->plain || n->slen != strlen(n->s))
		return cJSON_CreateString(n->s);
	if (word_is_null(n->s))
		return cJSON_CreateNull();
	if ((b = word_bool(n->s)) >= 0)
		return cJSON_CreateBool(b);
	if (word_number(n->s, &d))
		return cJSON_CreateNumber(d);
	return cJSON_CreateString(n->s);
}

cJSON *
ynode_to_json(const struct ynode *n)
{
	cJSON *j = NULL, *k;
	size_t i;

	if (n->kind == YN_SCALAR)
		return scalar_to_json(n);
	j = n->kind == YN_SEQ ? cJSON_CreateArray() : cJSON_CreateObject();
	if (j == NULL)
		return NULL;
	if (n->kind == YN_SEQ) {
		for (i = 0; i < n->n; i++) {
			if ((k = ynode_to_json(n->kids[i])) == NULL)
				goto fail;
			cJSON_AddItemToArray(j, k);
		}
		return j;
	}
	for (i = 0; i + 1 < n->n; i += 2) {
		const struct ynode *key = n->kids[i];
		if ((k = ynode_to_json(n->kids[i + 1])) == NULL)
			goto fail;
		/* Complex keys have no JSON form; the config never uses them. */
		cJSON_AddItemToObject(j, key->kind == YN_SCALAR ? key->s : "?", k);
	}
	return j;
fail:
	cJSON_Delete(j);
	return NULL;
}

/* -------------------------------------------------------- rendering */

/* Indentation habits of the file: how far a sequence's '-' sits right of
 * its key (0 for "key:\n- a", 2 for "key:\n  - a") and how far a nested
 * mapping is indented. */
struct style {
	size_t seq_step;           /* dash column - key column */
	size_t map_step;           /* child key column - key column */
};

static size_t
col_of(const char *text, size_t pos)
{
	size_t i = pos;

	while (i > 0 && text[i - 1] != '\n')
		i--;
	return pos - i;
}

static size_t
line_start(const char *text, size_t pos)
{
	while (pos > 0 && text[pos - 1] != '\n')
		pos--;
	return pos;
}

/* Position just after the end of the line holding pos ("pos" itself if it
 * already starts a line, as after a block scalar). */
static size_t
eol_after(const char *text, size_t len, size_t pos)
{
	if (pos > 0 && text[pos - 1] == '\n')
		return pos;
	while (pos < len && text[pos] != '\n')
		pos++;
	return pos < len ? pos + 1 : len;
}

/* Position of the '-' of a block sequence item. */
static bool
item_dash(const char *text, const struct ynode *it, size_t *dash)
{
	size_t i = it->start;

	if (it->virt) {
		*dash = i - 1;
		return true;
	}
	while (i > 0 && (text[i - 1] == ' ' || text[i - 1] == '\t'))
		i--;
	if (i == 0 || text[i - 1] != '-')
		return false;
	*dash = i - 1;
	return true;
}

static void
style_scan(const char *text, const struct ynode *n, struct style *st, bool *seq_done,
    bool *map_done, int depth)
{
	size_t i, d;

	if (n->kind == YN_SCALAR || depth > CP_YAML_DEPTH_MAX)
		return;
	if (n->kind == YN_MAP && !n->flow) {
		for (i = 0; i + 1 < n->n; i += 2) {
			const struct ynode *k = n->kids[i], *v = n->kids[i + 1];
			if (v->start < k->end || v->flow || v->kind == YN_SCALAR)
				continue;
			if (v->kind == YN_SEQ && !*seq_done && item_dash(text, v->kids[0], &d) &&
			    col_of(text, d) >= col_of(text, k->start)) {
				st->seq_step = col_of(text, d) - col_of(text, k->start);
				*seq_done = true;
			}
			if (v->kind == YN_MAP && !*map_done &&
			    col_of(text, v->kids[0]->start) > col_of(text, k->start)) {
				st->map_step = col_of(text, v->kids[0]->start) - col_of(text, k->start);
				*map_done = true;
			}
		}
	}
	for (i = 0; i < n->n && !(*seq_done && *map_done); i++)
		style_scan(text, n->kids[i], st, seq_done, map_done, depth + 1);
}

/* The habits of the subtree n where it shows them, else the file's: a new
 * item looks like its siblings. */
static struct style
local_style(const char *text, const struct ynode *n, const struct style *global)
{
	struct style st = *global;
	bool seq_done = false, map_done = false;

	style_scan(text, n, &st, &seq_done, &map_done, 0);
	return st;
}

static bool
indicator(unsigned char c)
{
	return strchr("-?:,[]{}#&*!|>'\"%@`=< \t.+", c) != NULL;
}

/* Can s be written as a plain scalar that a YAML 1.1 reader reads back as
 * the identical string? Conservative: when in doubt, quote. */
static bool
plain_ok(const char *s, size_t len, bool flow)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i;

	if (len == 0 || strlen(s) != len || indicator(u[0]) || (u[0] >= '0' && u[0] <= '9'))
		return false;
	if (u[len - 1] == ' ' || u[len - 1] == ':')
		return false;
	if (word_is_null(s) || word_bool(s) >= 0 || ieq(s, "y") || ieq(s, "n"))
		return false;
	for (i = 0; i < len; i++) {
		if (u[i] < 0x20 || u[i] == 0x7F)
			return false;
		if (u[i] == ':' && i + 1 < len && u[i + 1] == ' ')
			return false;
		if (u[i] == '#' && i > 0 && u[i - 1] == ' ')
			return false;
		if (flow && strchr(",[]{}", u[i]) != NULL)
			return false;
		/* C1 controls, NEL, LS, PS, BOM, U+FFFE/FFFF: not plain-printable. */
		if (u[i] == 0xC2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9F)
			return false;
		if (u[i] == 0xE2 && i + 2 < len && u[i + 1] == 0x80 &&
		    (u[i + 2] == 0xA8 || u[i + 2] == 0xA9))
			return false;
		if (u[i] == 0xEF && i + 2 < len && ((u[i + 1] == 0xBB && u[i + 2] == 0xBF) ||
		    (u[i + 1] == 0xBF && (u[i + 2] == 0xBE || u[i + 2] == 0xBF))))
			return false;
	}
	return true;
}

static int
emit_dq(struct buf *b, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i;
	int rc = buf_append(b, "\"", 1);

	for (i = 0; i < len && rc == CP_OK; i++) {
		switch (u[i]) {
		case '"': rc = buf_appends(b, "\\\""); continue;
		case '\\': rc = buf_appends(b, "\\\\"); continue;
		case '\n': rc = buf_appends(b, "\\n"); continue;
		case '\t': rc = buf_appends(b, "\\t"); continue;
		case '\r': rc = buf_appends(b, "\\r"); continue;
		case '\0': rc = buf_appends(b, "\\0"); continue;
		default: break;
		}
		if (u[i] < 0x20 || u[i] == 0x7F) {
			rc = buf_printf(b, "\\x%02X", u[i]);
		} else if (u[i] == 0xC2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9F) {
			rc = buf_printf(b, "\\x%02X", u[i + 1]);
			i++;
		} else if (u[i] == 0xE2 && i + 2 < len && u[i + 1] == 0x80 &&
		    (u[i + 2] == 0xA8 || u[i + 2] == 0xA9)) {
			rc = buf_appends(b, u[i + 2] == 0xA8 ? "\\L" : "\\P");
			i += 2;
		} else if (u[i] == 0xEF && i + 2 < len && u[i + 1] == 0xBB && u[i + 2] == 0xBF) {
			rc = buf_appends(b, "\\uFEFF");
			i += 2;
		} else if (u[i] == 0xEF && i + 2 < len && u[i + 1] == 0xBF &&
		    (u[i + 2] == 0xBE || u[i + 2] == 0xBF)) {
			rc = buf_appends(b, u[i + 2] == 0xBE ? "\\uFFFE" : "\\uFFFF");
			i += 2;
		} else {
			rc = buf_append(b, &u[i], 1);
		}
	}
	if (rc == CP_OK)
		rc = buf_append(b, "\"", 1);
	return rc;
}

static int
emit_str(struct buf *b, const char *s, bool flow)
{
	size_t len = strlen(s);

	if (!utf8_valid(s, len))
		return CP_EINVAL;
	if (plain_ok(s, len, flow))
		return buf_append(b, s, len);
	return emit_dq(b, s, len);
}

static int
emit_scalar(struct buf *b, const cJSON *v, bool flow)
{
	double d;

	if (cJSON_IsString(v))
		return emit_str(b, v->valuestring, flow);
	if (cJSON_IsTrue(v))
		return buf_appends(b, "true");
	if (cJSON_IsFalse(v))
		return buf_appends(b, "false");
	if (cJSON_IsNull(v))
		return buf_appends(b, "null");
	if (cJSON_IsNumber(v)) {
		d = v->valuedouble;
		if (d != d || d > 1e308 || d < -1e308)
			return CP_EINVAL;
		if (d == (double)(long long)d && d < 9007199254740992.0 && d > -9007199254740992.0)
			return buf_printf(b, "%lld", (long long)d);
		return buf_printf(b, "%.17g", d);
	}
	return CP_EINVAL;
}

static bool
is_inline(const cJSON *v)
{
	return !(cJSON_IsArray(v) || cJSON_IsObject(v)) || v->child == NULL;
}

static int
emit_flow(struct buf *b, const cJSON *v)
{
	const cJSON *c;
	int rc = CP_OK;

	if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
		bool obj = cJSON_IsObject(v);
		rc = buf_appends(b, obj ? "{" : "[");
		for (c = v->child; c != NULL && rc == CP_OK; c = c->next) {
			if (obj) {
				rc = emit_str(b, c->string, true);
				if (rc == CP_OK)
					rc = buf_appends(b, ": ");
			}
			if (rc == CP_OK)
				rc = emit_flow(b, c);
			if (rc == CP_OK && c->next != NULL)
				rc = buf_appends(b, ", ");
		}
		if (rc == CP_OK)
			rc = buf_appends(b, obj ? "}" : "]");
		return rc;
	}
	return emit_scalar(b, v, true);
}

static int
indent(struct buf *b, size_t col)
{
	static const char sp[] = "                                ";
	int rc = CP_OK;

	while (col > 0 && rc == CP_OK) {
		size_t k = col < sizeof(sp) - 1 ? col : sizeof(sp) - 1;
		rc = buf_append(b, sp, k);
		col -= k;
	}
	return rc;
}

static int emit_members(struct buf *b, const cJSON *obj, size_t col, bool first_inline,
    const struct style *st);

static int
emit_item(struct buf *b, const cJSON *c, size_t col, const struct style *st)
{
	int rc = indent(b, col);

	if (rc == CP_OK)
		rc = buf_appends(b, "- ");
	if (rc != CP_OK)
		return rc;
	if (cJSON_IsObject(c) && c->child != NULL)
		return emit_members(b, c, col + 2, true, st);
	if (cJSON_IsArray(c) && c->child != NULL)
		rc = emit_flow(b, c);
	else if (cJSON_IsArray(c))
		rc = buf_appends(b, "[]");
	else if (cJSON_IsObject(c))
		rc = buf_appends(b, "{}");
	else
		rc = emit_scalar(b, c, false);
	if (rc == CP_OK)
		rc = buf_appends(b, "\n");
	return rc;
}

static int
emit_items(struct buf *b, const cJSON *arr, size_t col, const struct style *st)
{
	const cJSON *c;
	int rc = CP_OK;

	for (c = arr->child; c != NULL && rc == CP_OK; c = c->next)
		rc = emit_item(b, c, col, st);
	return rc;
}

/* What follows "key:" for value v of a key at column col: " x\n" or a
 * newline and a block. */
static int
emit_after_key(struct buf *b, const cJSON *v, size_t col, const struct style *st)
{
	int rc;

	if (is_inline(v)) {
		rc = buf_appends(b, " ");
		if (rc == CP_OK)
			rc = cJSON_IsArray(v) ? buf_appends(b, "[]") :
			    cJSON_IsObject(v) ? buf_appends(b, "{}") : emit_scalar(b, v, false);
		if (rc == CP_OK)
			rc = buf_appends(b, "\n");
		return rc;
	}
	if ((rc = buf_appends(b, "\n")) != CP_OK)
		return rc;
	if (cJSON_IsArray(v))
		return emit_items(b, v, col + st->seq_step, st);
	return emit_members(b, v, col + st->map_step, false, st);
}

static int
emit_members(struct buf *b, const cJSON *obj, size_t col, bool first_inline,
    const struct style *st)
{
	const cJSON *c;
	int rc = CP_OK;

	for (c = obj->child; c != NULL && rc == CP_OK; c = c->next) {
		if (!(first_inline && c == obj->child))
			rc = indent(b, col);
		if (rc == CP_OK)
			rc = emit_str(b, c->string, false);
		if (rc == CP_OK)
			rc = buf_appends(b, ":");
		if (rc == CP_OK)
			rc = emit_after_key(b, c, col, st);
	}
	return rc;
}

/* ------------------------------------------------------------ edits */

struct edit {
	size_t pos;                /* byte offset in the old text */
	size_t del;                /* bytes removed there */
	char *ins;                 /* text inserted (owned) */
	size_t inslen;             /* its length */
};

struct splice {
	const char *text;          /* old text */
	size_t len;                /* its length */
	struct style st;           /* the file's indentation habits */
	struct edit *v;            /* edits, non-overlapping */
	size_t n;                  /* count */
	size_t cap;                /* allocated entries in v */
	char *err;                 /* caller's buffer */
	size_t errlen;             /* its size */
};

/* A splice of text with no edits yet; the default indentation steps are
 * 2 until style_scan finds the file's own. */
static void
splice_init(struct splice *s, const char *text, size_t len, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	s->text = text;
	s->len = len;
	s->err = err;
	s->errlen = errlen;
	s->st.seq_step = 2;
	s->st.map_step = 2;
}

/* Takes ownership of b's bytes. */
static int
edit_add(struct splice *s, size_t pos, size_t del, struct buf *b)
{
	struct edit *nv;
	size_t len = 0, ncap;
	char *p;

	/* Doubling: one edit per removed item of a 100k-item list must not
	 * cost a copy of the array each (issue 10 item 6). */
	if (s->n == s->cap) {
		ncap = s->cap ? s->cap * 2 : 8;
		nv = realloc(s->v, ncap * sizeof(*nv));
		if (nv == NULL)
			return CP_ENOMEM;
		s->v = nv;
		s->cap = ncap;
	}
	p = b != NULL ? buf_steal(b, &len) : NULL;
	s->v[s->n].pos = pos;
	s->v[s->n].del = del;
	s->v[s->n].ins = p;
	s->v[s->n].inslen = p != NULL ? len : 0;
	s->n++;
	return CP_OK;
}

static int
edit_cmp(const void *a, const void *b)
{
	const struct edit *x = a, *y = b;

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return (x->del > 0) - (y->del > 0);
}

static int
edits_apply(struct splice *s, char **out, size_t *outlen)
{
	struct buf b;
	size_t i, at = 0;
	int rc = CP_OK;

	if (s->n > 0)   /* qsort(NULL, 0, ...) is undefined behaviour */
		qsort(s->v, s->n, sizeof(*s->v), edit_cmp);
	buf_init(&b, CP_CONFIG_MAX);
	for (i = 0; i < s->n && rc == CP_OK; i++) {
		if (s->v[i].pos < at || s->v[i].pos + s->v[i].del > s->len) {
			cp_seterr(s->err, s->errlen, "overlapping edits");
			rc = CP_EINVAL;
			break;
		}
		rc = buf_append(&b, s->text + at, s->v[i].pos - at);
		if (rc == CP_OK && s->v[i].inslen > 0)
			rc = buf_append(&b, s->v[i].ins, s->v[i].inslen);
		at = s->v[i].pos + s->v[i].del;
	}
	if (rc == CP_OK)
		rc = buf_append(&b, s->text + at, s->len - at);
	if (rc != CP_OK) {
		if (rc == CP_ETOOBIG)
			cp_seterr(s->err, s->errlen, "config would be larger than %u bytes",
			    CP_CONFIG_MAX);
		buf_release(&b);
		return rc;
	}
	if (b.p == NULL) {
		*out = calloc(1, 1);
		*outlen = 0;
		return *out != NULL ? CP_OK : CP_ENOMEM;
	}
	*out = buf_steal(&b, outlen);
	return CP_OK;
}

static void
splice_release(struct splice *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].ins);
	free(s->v);
	s->v = NULL;
	s->n = 0;
	s->cap = 0;
}

static bool
text_ends_nl(const struct splice *s)
{
	return s->len == 0 || s->text[s->len - 1] == '\n';
}

/* Position right after the ':' that follows key node k in a block mapping. */
static int
colon_after(const struct splice *s, const struct ynode *k, size_t *pos)
{
	size_t i = k->end;

	while (i < s->len && (s->text[i] == ' ' || s->text[i] == '\t'))
		i++;
	if (i >= s->len || s->text[i] != ':') {
		cp_seterr(s->err, s->errlen, "line %zu: unsupported key form", k->line);
		return CP_EINVAL;
	}
	*pos = i + 1;
	return CP_OK;
}

/* Is text[pos..eol) blank or a comment? */
static bool
rest_is_comment(const struct splice *s, size_t pos, bool *has_comment)
{
	*has_comment = false;
	while (pos < s->len && (s->text[pos] == ' ' || s->text[pos] == '\t' || s->text[pos] == '\r'))
		pos++;
	if (pos >= s->len || s->text[pos] == '\n')
		return true;
	if (s->text[pos] == '#') {
		*has_comment = true;
		return true;
	}
	return false;
}

static void
buf_chop_nl(struct buf *b)
{
	if (b->len > 0 && b->p[b->len - 1] == '\n')
		b->p[--b->len] = '\0';
}

/* Replace whatever follows "key:" (value node v, possibly virtual) with a
 * block rendering of value. A trailing comment on the key's line stays on
 * that line. */
static int
set_block_after_key(struct splice *s, const struct ynode *k, const struct ynode *v,
    const cJSON *value)
{
	struct buf b;
	size_t colon, del_end, eol;
	bool comment;
	int rc;

	if ((rc = colon_after(s, k, &colon)) != CP_OK)
		return rc;
	del_end = v->virt ? colon : v->end;
	if (del_end < colon)
		del_end = colon;
	buf_init(&b, CP_CONFIG_MAX);
	rc = emit_after_key(&b, value, col_of(s->text, k->start), &s->st);
	if (rc != CP_OK)
		goto out;
	buf_chop_nl(&b);
	if (rest_is_comment(s, del_end, &comment) && comment) {
		eol = del_end;
		while (eol < s->len && s->text[eol] != '\n')
			eol++;
		if (eol > 0 && s->text[eol - 1] == '\r')
			eol--;
		if (del_end > colon && (rc = edit_add(s, colon, del_end - colon, NULL)) != CP_OK)
			goto out;
		rc = edit_add(s, eol, 0, &b);
	} else {
		rc = edit_add(s, colon, del_end - colon, &b);
	}
out:
	buf_release(&b);
	return rc;
}

/* Render a scalar (or [] / {}) for a value position. */
static int
render_inline(struct buf *b, const cJSON *v)
{
	if (cJSON_IsArray(v))
		return buf_appends(b, "[]");
	if (cJSON_IsObject(v))
		return buf_appends(b, "{}");
	return emit_scalar(b, v, false);
}

/* A block scalar's range ends at the start of the next line; an inline
 * replacement needs that line break back. */
static int
replace_scalar(struct splice *s, const struct ynode *v, const cJSON *value)
{
	struct buf b;
	int rc;

	buf_init(&b, CP_CONFIG_MAX);
	rc = render_inline(&b, value);
	if (rc == CP_OK && v->end > v->start && s->text[v->end - 1] == '\n')
		rc = buf_appends(&b, "\n");
	if (rc == CP_OK)
		rc = edit_add(s, v->start, v->end - v->start, &b);
	buf_release(&b);
	return rc;
}

static int
replace_flow(struct splice *s, const struct ynode *v, const cJSON *value)
{
	struct buf b;
	int rc;

	buf_init(&b, CP_CONFIG_MAX);
	rc = emit_flow(&b, value);
	if (rc == CP_OK)
		rc = edit_add(s, v->start, v->end - v->start, &b);
	buf_release(&b);
	return rc;
}

struct item_lines {
	size_t cs;                 /* start of the item's own comment lines
	                              (ls when it has none) */
	size_t ls;                 /* start of the item's first line */
	size_t le;                 /* just after its last line */
	size_t col;                /* column of its '-' */
};

/* The item's own comment lines: the comment-only lines right above its
 * first line (floor..ls), with '#' in the column of its '-', no blank line
 * between. They go when the item goes (issue 10 item 9); a comment at
 * another column (a section heading above the key, a note indented under
 * the previous item) stays. */
static size_t
own_comments(const struct splice *s, size_t floor, size_t ls, size_t col)
{
	size_t cs = ls, p, i;

	while (cs > floor) {
		p = line_start(s->text, cs - 1);
		if (p < floor)
			break;
		for (i = p; i < cs && s->text[i] == ' '; i++)
			;
		if (i - p != col || i >= cs || s->text[i] != '#')
			break;
		cs = p;
	}
	return cs;
}

/* The end of the item's notes: comment-only lines right below its last
 * line indented deeper than its '-' (under the item, so they are its
 * own), no blank line between. */
static size_t
own_notes(const struct splice *s, size_t le, size_t col)
{
	size_t i, e;

	while (le < s->len) {
		for (i = le; i < s->len && s->text[i] == ' '; i++)
			;
		if (i - le <= col || i >= s->len || s->text[i] != '#')
			break;
		e = eol_after(s->text, s->len, i);
		le = e;
	}
	return le;
}

/* Line ranges of the items of block sequence v; false when an item does
 * not own whole lines (e.g. "- - a"). */
static bool
seq_lines(const struct splice *s, const struct ynode *v, struct item_lines *il)
{
	size_t i, dash, j;

	for (i = 0; i < v->n; i++) {
		if (!item_dash(s->text, v->kids[i], &dash))
			return false;
		il[i].ls = line_start(s->text, dash);
		for (j = il[i].ls; j < dash; j++)
			if (s->text[j] != ' ')
				return false;
		il[i].col = dash - il[i].ls;
		il[i].le = own_notes(s, eol_after(s->text, s->len, v->kids[i]->end), il[i].col);
		if (i > 0 && (il[i].ls < il[i - 1].le || il[i].col != il[0].col))
			return false;
		il[i].cs = own_comments(s, i > 0 ? il[i - 1].le : 0, il[i].ls, il[i].col);
	}
	return true;
}

static int
render_item(struct splice *s, const cJSON *item, size_t col, struct buf *b)
{
	return emit_item(b, item, col, &s->st);
}

static int set_block_map(struct splice *s, const struct ynode *v, const cJSON *obj);

/* PUT/PATCH/DELETE of a block sequence: touch only the items that differ
 * where the change is one of: same length with some items changed, some
 * items removed, items appended. Otherwise all items are rewritten. */
static int
set_block_seq(struct splice *s, const struct ynode *k, const struct ynode *v,
    const cJSON *arr)
{
	struct item_lines *il = NULL;
	cJSON **old = NULL;
	const cJSON *c;
	size_t no = v->n, na = (size_t)cJSON_GetArraySize(arr), i, j;
	bool *keep = NULL;
	struct style saved = s->st;
	struct buf b;
	int rc = CP_OK;

	s->st = local_style(s->text, v, &saved);
	buf_init(&b, CP_CONFIG_MAX);
	il = calloc(no, sizeof(*il));
	old = calloc(no, sizeof(*old));
	keep = calloc(no, sizeof(*keep));
	if (il == NULL || old == NULL || keep == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	if (!seq_lines(s, v, il)) {
		rc = set_block_after_key(s, k, v, arr);
		goto out;
	}
	for (i = 0; i < no; i++)
		if ((old[i] = ynode_to_json(v->kids[i])) == NULL) {
			rc = CP_ENOMEM;
			goto out;
		}
	if (na == no) {
		for (i = 0, c = arr->child; i < no && rc == CP_OK; i++, c = c->next) {
			if (json_equal(old[i], c))
				continue;
			if (v->kids[i]->kind == YN_SCALAR && !v->kids[i]->virt && is_inline(c)) {
				rc = replace_scalar(s, v->kids[i], c);
				continue;
			}
			/* An object item edited in place keeps its other lines,
			 * unless its first key (on the "- " line) goes away. */
			if (v->kids[i]->kind == YN_MAP && !v->kids[i]->flow &&
			    cJSON_IsObject(c) && c->child != NULL &&
			    v->kids[i]->kids[0]->kind == YN_SCALAR &&
			    cJSON_GetObjectItemCaseSensitive(c, v->kids[i]->kids[0]->s) != NULL) {
				rc = set_block_map(s, v->kids[i], c);
				continue;
			}
			buf_reset(&b);
			rc = render_item(s, c, il[i].col, &b);
			if (rc == CP_OK)
				rc = edit_add(s, il[i].ls, il[i].le - il[i].ls, &b);
		}
		goto out;
	}
	if (na < no) {
		/* Is arr old minus some items? Greedy subsequence match. */
		for (i = 0, c = arr->child; i < no && c != NULL; i++)
			if (json_equal(old[i], c)) {
				keep[i] = true;
				c = c->next;
			}
		if (c == NULL) {
			for (i = 0; i < no && rc == CP_OK; i++)
				if (!keep[i])
					rc = edit_add(s, il[i].cs, il[i].le - il[i].cs, NULL);
			goto out;
		}
	} else {
		for (i = 0, c = arr->child; i < no; i++, c = c->next)
			if (!json_equal(old[i], c))
				break;
		if (i == no) {
			if (il[no - 1].le == s->len && !text_ends_nl(s))
				rc = buf_appends(&b, "\n");
			for (; c != NULL && rc == CP_OK; c = c->next)
				rc = render_item(s, c, il[0].col, &b);
			if (rc == CP_OK)
				rc = edit_add(s, il[no - 1].le, 0, &b);
			goto out;
		}
	}
	/* Whole replacement of the items' lines, comments between them go. */
	for (j = 0, c = arr->child; c != NULL && rc == CP_OK; c = c->next, j++)
		rc = render_item(s, c, il[0].col, &b);
	if (rc == CP_OK)
		rc = edit_add(s, il[0].ls, il[no - 1].le - il[0].ls, &b);
out:
	if (old != NULL)
		for (i = 0; i < no; i++)
			cJSON_Delete(old[i]);
	free(old);
	free(il);
	free(keep);
	buf_release(&b);
	s->st = saved;
	return rc;
}

static int set_value(struct splice *s, const struct ynode *k, const struct ynode *v,
    const cJSON *value);
static int append_members(struct splice *s, const struct ynode *m, const cJSON *obj);
static int delete_pair(struct splice *s, const struct ynode *m, size_t pi);

struct map_ix {
	const struct ynode *k;     /* a scalar key of the mapping */
	size_t pi;                 /* its pair index */
};

static int
map_ix_cmp(const void *a, const void *b)
{
	const struct map_ix *x = a, *y = b;

	return key_cmp(&x->k, &y->k);
}

/* The scalar keys of mapping m sorted, for lookups in O(log n) where
 * map_find scans: set_block_map looks up every member of both sides, which
 * was O(n^2) for a mapping of n members. *out malloc'd (NULL if none). */
static int
map_index(const struct ynode *m, struct map_ix **out, size_t *n)
{
	struct map_ix *v = NULL;
	size_t i, cnt = 0;

	*out = NULL;
	*n = 0;
	if (m->n < 2)
		return CP_OK;
	if ((v = malloc((m->n / 2) * sizeof(*v))) == NULL)
		return CP_ENOMEM;
	for (i = 0; i + 1 < m->n; i += 2)
		if (m->kids[i]->kind == YN_SCALAR) {
			v[cnt].k = m->kids[i];
			v[cnt].pi = i;
			cnt++;
		}
	qsort(v, cnt, sizeof(*v), map_ix_cmp);
	*out = v;
	*n = cnt;
	return CP_OK;
}

/* Pair index of key in an index of map_index, or -1. */
static long
map_index_find(const struct map_ix *v, size_t n, const char *key)
{
	struct ynode probe;
	struct map_ix p;
	size_t lo = 0, hi = n, mid;
	int c;

	memset(&probe, 0, sizeof(probe));
	probe.s = (char *)(uintptr_t)key;
	probe.slen = strlen(key);
	p.k = &probe;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = map_ix_cmp(&v[mid], &p);
		if (c == 0)
			return (long)v[mid].pi;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* PUT of a whole block mapping: change, add and remove members one by one
 * so that untouched members keep their lines. Lookups go through sorted
 * indexes of both sides (linear-log in the members). */
static int
set_block_map(struct splice *s, const struct ynode *v, const cJSON *obj)
{
	const cJSON *c, **om = NULL;
	struct map_ix *ix = NULL;
	cJSON *add = NULL;
	size_t i, nix = 0, nom = 0;
	long pi;
	int rc = CP_OK;

	if ((add = cJSON_CreateObject()) == NULL ||
	    map_index(v, &ix, &nix) != CP_OK || json_sorted_members(obj, &om, &nom) != CP_OK) {
		rc = CP_ENOMEM;
		goto out;
	}
	for (c = obj->child; c != NULL && rc == CP_OK; c = c->next) {
		pi = map_index_find(ix, nix, c->string);
		if (pi < 0) {
			cJSON *d = cJSON_Duplicate(c, true);
			if (d == NULL)
				rc = CP_ENOMEM;
			else
				cJSON_AddItemToObject(add, c->string, d);
			continue;
		}
		rc = set_value(s, v->kids[pi], v->kids[pi + 1], c);
	}
	for (i = 0; i + 1 < v->n && rc == CP_OK; i += 2)
		if (v->kids[i]->kind != YN_SCALAR ||
		    json_sorted_find(om, nom, v->kids[i]->s) == NULL)
			rc = delete_pair(s, v, i);
	if (rc == CP_OK && add->child != NULL)
		rc = append_members(s, v, add);
out:
	free(ix);
	free(om);
	cJSON_Delete(add);
	return rc;
}

static int
set_value(struct splice *s, const struct ynode *k, const struct ynode *v, const cJSON *value)
{
	cJSON *cur;
	bool same;

	if (v->start < k->end) {
		cp_seterr(s->err, s->errlen, "line %zu: cannot change a value given by an alias",
		    k->line);
		return CP_EINVAL;
	}
	if ((cur = ynode_to_json(v)) == NULL)
		return CP_ENOMEM;
	same = json_equal(cur, value);
	cJSON_Delete(cur);
	if (same)
		return CP_OK;
	if (is_inline(value)) {
		if (v->kind == YN_SCALAR && !v->virt)
			return replace_scalar(s, v, value);
		if (v->kind == YN_SCALAR) {
			struct buf b;
			int rc;
			buf_init(&b, CP_CONFIG_MAX);
			rc = buf_appends(&b, " ");
			if (rc == CP_OK)
				rc = render_inline(&b, value);
			if (rc == CP_OK)
				rc = edit_add(s, v->start, 0, &b);
			buf_release(&b);
			return rc;
		}
		if (v->flow)
			return replace_scalar(s, v, value);
		{
			struct buf b;
			size_t colon;
			int rc;
			if ((rc = colon_after(s, k, &colon)) != CP_OK)
				return rc;
			buf_init(&b, CP_CONFIG_MAX);
			rc = buf_appends(&b, " ");
			if (rc == CP_OK)
				rc = render_inline(&b, value);
			if (rc == CP_OK)
				rc = edit_add(s, colon, v->end - colon, &b);
			buf_release(&b);
			return rc;
		}
	}
	if (v->flow && v->n > 0)
		return replace_flow(s, v, value);
	if (cJSON_IsArray(value) && v->kind == YN_SEQ && !v->flow)
		return set_block_seq(s, k, v, value);
	if (cJSON_IsObject(value) && v->kind == YN_MAP && !v->flow)
		return set_block_map(s, v, value);
	return set_block_after_key(s, k, v, value);
}

/* Build {keys[1]: {... keys[n-1]: value}} around value (borrowed). */
static cJSON *
nest(const char *const *keys, const cJSON *value)
{
	cJSON *o, *inner;

	if (keys[1] == NULL)
		return cJSON_Duplicate(value, true);
	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if ((inner = nest(keys + 1, value)) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddItemToObject(o, keys[1], inner);
	return o;
}

/* Append the members of obj at the end of block mapping m (NULL: the
 * document is empty, append at its end at column 0). */
static int
append_members(struct splice *s, const struct ynode *m, const cJSON *obj)
{
	struct style st = m != NULL ? local_style(s->text, m, &s->st) : s->st;
	struct buf b;
	size_t pos, col;
	int rc = CP_OK;

	buf_init(&b, CP_CONFIG_MAX);
	if (m == NULL) {
		pos = s->len;
		col = 0;
	} else {
		pos = eol_after(s->text, s->len, m->end);
		col = col_of(s->text, m->kids[0]->start);
	}
	if (pos == s->len && !text_ends_nl(s))
		rc = buf_appends(&b, "\n");
	if (rc == CP_OK)
		rc = emit_members(&b, obj, col, false, &st);
	if (rc == CP_OK)
		rc = edit_add(s, pos, 0, &b);
	buf_release(&b);
	return rc;
}

/* Remove pair pi (key index) of block mapping m: its lines. */
static int
delete_pair(struct splice *s, const struct ynode *m, size_t pi)
{
	const struct ynode *k = m->kids[pi], *v = m->kids[pi + 1];
	size_t ls = line_start(s->text, k->start), le, j, end;

	for (j = ls; j < k->start; j++)
		if (s->text[j] != ' ') {
			cp_seterr(s->err, s->errlen, "line %zu: cannot remove this key", k->line);
			return CP_EINVAL;
		}
	end = v->start >= k->end && v->end > k->end ? v->end : k->end;
	if (v->virt)
		end = v->start;
	le = eol_after(s->text, s->len, end);
	return edit_add(s, ls, le - ls, NULL);
}

static bool
path_ok(const char *const *path, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; path != NULL && path[i] != NULL; i++)
		if (path[i][0] == '\0' || i >= YAML_PATH_MAX)
			break;
	if (path == NULL || i == 0 || path[i] != NULL) {
		cp_seterr(err, errlen, "invalid key path");
		return false;
	}
	return true;
}

/* Expected document after the change, for the re-parse check. */
static int
json_apply(cJSON *root, const char *const *path, const cJSON *value)
{
	cJSON *cur = root, *nx, *d;
	size_t i;

	for (i = 0; path[i + 1] != NULL; i++) {
		nx = cJSON_GetObjectItemCaseSensitive(cur, path[i]);
		if (nx == NULL || !cJSON_IsObject(nx)) {
			if ((nx = cJSON_CreateObject()) == NULL)
				return CP_ENOMEM;
			if (cJSON_GetObjectItemCaseSensitive(cur, path[i]) != NULL)
				cJSON_ReplaceItemInObjectCaseSensitive(cur, path[i], nx);
			else
				cJSON_AddItemToObject(cur, path[i], nx);
		}
		cur = nx;
	}
	if (value == NULL) {
		cJSON_DeleteItemFromObjectCaseSensitive(cur, path[i]);
		return CP_OK;
	}
	if ((d = cJSON_Duplicate(value, true)) == NULL)
		return CP_ENOMEM;
	if (cJSON_GetObjectItemCaseSensitive(cur, path[i]) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(cur, path[i], d);
	else
		cJSON_AddItemToObject(cur, path[i], d);
	return CP_OK;
}

static cJSON *
doc_json(const struct ydoc *d)
{
	const struct ynode *r = ydoc_root(d);

	if (r == NULL || yaml_scalar_is_null(r))
		return cJSON_CreateObject();
	return ynode_to_json(r);
}

/* Re-parse out and compare with the old document changed by hand. */
static int
verify(const struct ydoc *old, const char *out, size_t outlen, const char *const *path,
    const cJSON *value, char *err, size_t errlen)
{
	struct ydoc *nd = NULL;
	cJSON *want = NULL, *got = NULL;
	char perr[160];
	int rc;

	rc = ydoc_parse(out, outlen, &nd, perr, sizeof(perr));
	if (rc != CP_OK) {
		cp_seterr(err, errlen, "edit would not parse (%s)", perr);
		rc = CP_EINVAL;
		goto out;
	}
	want = doc_json(old);
	got = doc_json(nd);
	if (want == NULL || got == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	if ((rc = json_apply(want, path, value)) != CP_OK)
		goto out;
	if (!json_equal(want, got)) {
		cp_seterr(err, errlen, "edit of '%s' did not produce the requested value", path[0]);
		rc = CP_EINVAL;
	}
out:
	cJSON_Delete(want);
	cJSON_Delete(got);
	ydoc_free(nd);
	return rc;
}

static int
open_doc(const char *text, size_t len, struct ydoc **d, const struct ynode **root,
    char *err, size_t errlen)
{
	int rc = ydoc_parse(text, len, d, err, errlen);

	if (rc != CP_OK)
		return rc;
	*root = ydoc_root(*d);
	if (*root != NULL && yaml_scalar_is_null(*root))
		*root = NULL;
	if (*root != NULL && (*root)->kind != YN_MAP) {
		cp_seterr(err, errlen, "line %zu: the top level must be a mapping", (*root)->line);
		ydoc_free(*d);
		*d = NULL;
		return CP_EINVAL;
	}
	return CP_OK;
}

int
yaml_set(const char *text, size_t len, const char *const *path, const cJSON *value,
    char **out, size_t *outlen, char *err, size_t errlen)
{
	struct ydoc *d = NULL;
	const struct ynode *m, *v;
	struct splice s;
	cJSON *wrap = NULL, *cur = NULL;
	bool seq_done = false, map_done = false;
	size_t i;
	long pi;
	int rc;

	*out = NULL;
	*outlen = 0;
	memset(&s, 0, sizeof(s));
	cp_seterr(err, errlen, "%s", "");
	if (!path_ok(path, err, errlen) || value == NULL)
		return CP_EINVAL;
	if ((rc = open_doc(text, len, &d, &m, err, errlen)) != CP_OK)
		return rc;
	splice_init(&s, text, len, err, errlen);
	if (m != NULL)
		style_scan(text, m, &s.st, &seq_done, &map_done, 0);
	for (i = 0;; i++) {
		if (m == NULL || (m->kind == YN_MAP && !m->flow && m->n == 0)) {
			/* Empty document: append "path[i]: ..." at the end. */
			if ((wrap = cJSON_CreateObject()) == NULL || (cur = nest(path + i, value)) == NULL) {
				rc = CP_ENOMEM;
				goto out;
			}
			cJSON_AddItemToObject(wrap, path[i], cur);
			cur = NULL;
			rc = append_members(&s, NULL, wrap);
			break;
		}
		if (m->flow) {
			/* Flow mappings are rewritten whole, staying flow. */
			if ((cur = ynode_to_json(m)) == NULL) {
				rc = CP_ENOMEM;
				goto out;
			}
			if ((rc = json_apply(cur, path + i, value)) == CP_OK)
				rc = replace_flow(&s, m, cur);
			break;
		}
		pi = map_find(m, path[i]);
		if (pi < 0) {
			if ((wrap = cJSON_CreateObject()) == NULL || (cur = nest(path + i, value)) == NULL) {
				rc = CP_ENOMEM;
				goto out;
			}
			cJSON_AddItemToObject(wrap, path[i], cur);
			cur = NULL;
			rc = append_members(&s, m, wrap);
			break;
		}
		v = m->kids[pi + 1];
		if (path[i + 1] == NULL) {
			rc = set_value(&s, m->kids[pi], v, value);
			break;
		}
		if (v->kind == YN_MAP && v->start >= m->kids[pi]->end) {
			m = v;
			continue;
		}
		if (yaml_scalar_is_null(v)) {
			if ((cur = nest(path + i, value)) == NULL) {
				rc = CP_ENOMEM;
				goto out;
			}
			rc = set_value(&s, m->kids[pi], v, cur);
			break;
		}
		cp_seterr(err, errlen, "line %zu: %s is not a mapping", v->line, path[i]);
		rc = CP_EINVAL;
		break;
	}
	if (rc == CP_OK)
		rc = edits_apply(&s, out, outlen);
	if (rc == CP_OK)
		rc = verify(d, *out, *outlen, path, value, err, errlen);
out:
	if (rc != CP_OK && *out != NULL) {
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
	if (rc == CP_ENOMEM)
		cp_seterr(err, errlen, "out of memory");
	else if (rc != CP_OK && err != NULL && errlen > 0 && err[0] == '\0')
		cp_seterr(err, errlen, "value cannot be written as yaml");
	cJSON_Delete(wrap);
	cJSON_Delete(cur);
	splice_release(&s);
	ydoc_free(d);
	return rc;
}

/* Walk path to its mapping; *pm the mapping holding the last key, *pi its
 * pair index (or -1); the mapping holding *pm and its pair in *pp, *ppi. */
static int
walk(const struct ynode *root, const char *const *path, const struct ynode **pm, long *pi,
    const struct ynode **pp, long *ppi)
{
	const struct ynode *m = root, *parent = NULL;
	long i = -1, pidx = -1;
	size_t d;

	for (d = 0; path[d] != NULL; d++) {
		if (m == NULL || m->kind != YN_MAP)
			return CP_ENOTFOUND;
		if ((i = map_find(m, path[d])) < 0)
			return CP_ENOTFOUND;
		if (path[d + 1] == NULL)
			break;
		parent = m;
		pidx = i;
		m = m->kids[i + 1];
	}
	*pm = m;
	*pi = i;
	*pp = parent;
	*ppi = pidx;
	return CP_OK;
}

/* The start of yaml_delete and yaml_seq_remove: parse, walk path to its
 * mapping (walk), a splice on the text. On failure *d is freed and NULL. */
static int
open_walk(const char *text, size_t len, const char *const *path, struct ydoc **d,
    struct splice *s, const struct ynode **m, long *pi, const struct ynode **pp, long *ppi,
    char *err, size_t errlen)
{
	const struct ynode *root;
	int rc;

	*d = NULL;
	memset(s, 0, sizeof(*s));
	if (!path_ok(path, err, errlen))
		return CP_EINVAL;
	if ((rc = open_doc(text, len, d, &root, err, errlen)) != CP_OK)
		return rc;
	splice_init(s, text, len, err, errlen);
	if ((rc = walk(root, path, m, pi, pp, ppi)) != CP_OK) {
		cp_seterr(err, errlen, "no such key");
		ydoc_free(*d);
		*d = NULL;
	}
	return rc;
}

int
yaml_delete(const char *text, size_t len, const char *const *path,
    char **out, size_t *outlen, char *err, size_t errlen)
{
	struct ydoc *d = NULL;
	const struct ynode *m, *pp;
	struct splice s;
	cJSON *cur = NULL;
	long pi, ppi;
	int rc;

	*out = NULL;
	*outlen = 0;
	if ((rc = open_walk(text, len, path, &d, &s, &m, &pi, &pp, &ppi, err, errlen)) != CP_OK)
		goto out;
	if (m->flow) {
		if ((cur = ynode_to_json(m)) == NULL) {
			rc = CP_ENOMEM;
			goto out;
		}
		cJSON_DeleteItemFromObjectCaseSensitive(cur, m->kids[pi]->s);
		rc = replace_flow(&s, m, cur);
	} else if (m->n == 2 && pp != NULL) {
		/* Removing the only member would leave "parent:" (null): write
		 * "parent: {}" so the document means what was asked. */
		if ((cur = cJSON_CreateObject()) == NULL) {
			rc = CP_ENOMEM;
			goto out;
		}
		rc = set_value(&s, pp->kids[ppi], m, cur);
	} else {
		rc = delete_pair(&s, m, (size_t)pi);
	}
	if (rc == CP_OK)
		rc = edits_apply(&s, out, outlen);
	if (rc == CP_OK)
		rc = verify(d, *out, *outlen, path, NULL, err, errlen);
out:
	if (rc != CP_OK && *out != NULL) {
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
	cJSON_Delete(cur);
	splice_release(&s);
	ydoc_free(d);
	return rc;
}

int
yaml_seq_remove(const char *text, size_t len, const char *const *path, const bool *drop,
    size_t n, char **out, size_t *outlen, char *err, size_t errlen)
{
	struct ydoc *d = NULL;
	const struct ynode *m, *pp, *v;
	struct item_lines *il = NULL;
	struct splice s;
	cJSON *want = NULL, *c, *next;
	size_t i, left = 0;
	long pi, ppi;
	int rc;

	*out = NULL;
	*outlen = 0;
	if ((rc = open_walk(text, len, path, &d, &s, &m, &pi, &pp, &ppi, err, errlen)) != CP_OK)
		goto out;
	v = m->kids[pi + 1];
	if (v->kind != YN_SEQ || v->n != n) {
		cp_seterr(err, errlen, "line %zu: %s is not the list that was read", v->line,
		    m->kids[pi]->s);
		rc = CP_EINVAL;
		goto out;
	}
	/* The list as it will be: one walk over the items, no indexing. */
	if ((want = ynode_to_json(v)) == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	for (i = 0, c = want->child; c != NULL; i++, c = next) {
		next = c->next;
		if (drop[i])
			cJSON_Delete(cJSON_DetachItemViaPointer(want, c));
		else
			left++;
	}
	il = calloc(n + 1, sizeof(*il));
	if (il == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	if (m->flow || v->flow || v->start < m->kids[pi]->end || left == 0 ||
	    !seq_lines(&s, v, il)) {
		/* Flow style, aliases, an emptied list ("key: []"), items that
		 * share lines: the general rewrite does it right. */
		splice_release(&s);
		free(il);
		il = NULL;
		ydoc_free(d);
		d = NULL;
		rc = yaml_set(text, len, path, want, out, outlen, err, errlen);
		goto out;
	}
	for (i = 0; i < n && rc == CP_OK; i++)
		if (drop[i])
			rc = edit_add(&s, il[i].cs, il[i].le - il[i].cs, NULL);
	if (rc == CP_OK)
		rc = edits_apply(&s, out, outlen);
	if (rc == CP_OK)
		rc = verify(d, *out, *outlen, path, want, err, errlen);
	if (rc != CP_OK && *out != NULL) {
		free(*out);
		*out = NULL;
		*outlen = 0;
	}
out:
	if (rc == CP_ENOMEM)
		cp_seterr(err, errlen, "out of memory");
	free(il);
	cJSON_Delete(want);
	splice_release(&s);
	ydoc_free(d);
	return rc;
}

bool
yaml_has(const char *text, size_t len, const char *const *path)
{
	struct ydoc *d = NULL;
	const struct ynode *root, *m, *pp;
	long pi, ppi;
	bool ok;

	if (!path_ok(path, NULL, 0) || open_doc(text, len, &d, &root, NULL, 0) != CP_OK)
		return false;
	ok = walk(root, path, &m, &pi, &pp, &ppi) == CP_OK;
	ydoc_free(d);
	return ok;
}

int
yaml_get_json(const char *text, size_t len, const char *const *path, cJSON **out,
    char *err, size_t errlen)
{
	struct ydoc *d = NULL;
	const struct ynode *root, *m, *pp;
	long pi, ppi;
	int rc;

	*out = NULL;
	if (!path_ok(path, err, errlen))
		return CP_EINVAL;
	if ((rc = open_doc(text, len, &d, &root, err, errlen)) != CP_OK)
		return rc;
	if ((rc = walk(root, path, &m, &pi, &pp, &ppi)) != CP_OK) {
		cp_seterr(err, errlen, "no such key");
		goto out;
	}
	if ((*out = ynode_to_json(m->kids[pi + 1])) == NULL)
		rc = CP_ENOMEM;
out:
	ydoc_free(d);
	return rc;
}
