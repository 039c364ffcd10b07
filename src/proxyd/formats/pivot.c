/*
 * pivot.c - the pivot request's lifecycle and the helpers every codec
 * shares (DESIGN 6). See pivot.h for the shapes and the ownership rules.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"
#include "pivot.h"

/* OpenAI's encrypted_content is a Fernet token: version byte 0x80, so
 * base64 "gAAAAA..." */
#define PV_SIG_OPENAI "gAAAAA"

#define PV_GROW(arr, n, type) \
	((type *)pv_grow((void **)&(arr), (n), sizeof(type)))

/* Elements allocated for a count of n: the next power of two (at least
 * 4), so that appending one at a time costs amortized O(1) instead of a
 * copy of the whole array per element. */
static size_t
pv_cap_for(size_t n)
{
	size_t c = 4;

	while (c < n && c <= SIZE_MAX / 2)
		c *= 2;
	return c;
}

/* Grow *arr by one zeroed element of size sz; n is the current count.
 * The caller bumps its count when this returns non-NULL. The array is
 * reallocated only when n reaches its capacity (pv_cap_for). */
static void *
pv_grow(void **arr, size_t n, size_t sz)
{
	size_t cap = pv_cap_for(n);
	void *p = *arr;

	if (n >= SIZE_MAX / sz / 2)
		return NULL;
	if (p == NULL || n == cap) {
		if (n == cap)
			cap *= 2;
		if ((p = realloc(*arr, cap * sz)) == NULL)
			return NULL;
		*arr = p;
	}
	memset((char *)p + n * sz, 0, sz);
	return (char *)p + n * sz;
}

char *
pv_strdup(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}

char *
pv_strndup(const char *s, size_t n)
{
	return s == NULL ? NULL : strndup(s, n);
}

void
pv_request_init(struct pv_request *r)
{
	memset(r, 0, sizeof(*r));
	r->max_tokens = -1;
	r->temperature = -1;
	r->top_p = -1;
	r->top_k = -1;
	r->budget = -1;
}

static void
pv_part_release(struct pv_part *p)
{
	free(p->text);
	free(p->mime);
	free(p->data);
	free(p->url);
	free(p->id);
	free(p->name);
	free(p->args);
	free(p->signature);
}

void
pv_request_release(struct pv_request *r)
{
	size_t i, j;

	free(r->model);
	free(r->system);
	for (i = 0; i < r->n_msgs; i++) {
		for (j = 0; j < r->msgs[i].n_parts; j++)
			pv_part_release(&r->msgs[i].parts[j]);
		free(r->msgs[i].parts);
	}
	free(r->msgs);
	for (i = 0; i < r->n_tools; i++) {
		free(r->tools[i].name);
		free(r->tools[i].description);
		cJSON_Delete(r->tools[i].schema);
	}
	free(r->tools);
	free(r->tool_choice_name);
	for (i = 0; i < r->n_stop; i++)
		free(r->stop[i]);
	free(r->stop);
	free(r->user);
	pv_request_init(r);
}

struct pv_msg *
pv_msg_add(struct pv_request *r, enum pv_role role)
{
	struct pv_msg *m = PV_GROW(r->msgs, r->n_msgs, struct pv_msg);

	if (m == NULL)
		return NULL;
	r->n_msgs++;
	m->role = role;
	return m;
}

struct pv_part *
pv_part_add(struct pv_msg *m, enum pv_part_kind kind)
{
	struct pv_part *p = PV_GROW(m->parts, m->n_parts, struct pv_part);

	if (p == NULL)
		return NULL;
	m->n_parts++;
	p->kind = kind;
	return p;
}

struct pv_tool *
pv_tool_add(struct pv_request *r)
{
	struct pv_tool *t = PV_GROW(r->tools, r->n_tools, struct pv_tool);

	if (t == NULL)
		return NULL;
	r->n_tools++;
	return t;
}

int
pv_stop_add(struct pv_request *r, const char *s)
{
	char **slot, *copy;

	if ((copy = strdup(s)) == NULL)
		return CP_ENOMEM;
	slot = PV_GROW(r->stop, r->n_stop, char *);
	if (slot == NULL) {
		free(copy);
		return CP_ENOMEM;
	}
	r->n_stop++;
	*slot = copy;
	return CP_OK;
}

const struct codec *
codec_for(enum fmt_id id)
{
	static const struct codec *const tab[FMT__COUNT] = {
		[FMT_OPENAI_CHAT] = &codec_openai_chat,
		[FMT_OPENAI_COMPLETIONS] = &codec_openai_completions,
		[FMT_OPENAI_RESPONSES] = &codec_openai_responses,
		[FMT_CLAUDE] = &codec_claude,
		[FMT_GEMINI] = &codec_gemini,
	};

	return (unsigned)id < FMT__COUNT ? tab[id] : NULL;
}

bool
pv_same_family(enum fmt_id a, enum fmt_id b)
{
	bool oa_a = a == FMT_OPENAI_CHAT || a == FMT_OPENAI_COMPLETIONS || a == FMT_OPENAI_RESPONSES;
	bool oa_b = b == FMT_OPENAI_CHAT || b == FMT_OPENAI_COMPLETIONS || b == FMT_OPENAI_RESPONSES;

	return oa_a == oa_b;
}

bool
pv_sig_openai(const char *sig)
{
	return sig != NULL && strncmp(sig, PV_SIG_OPENAI, strlen(PV_SIG_OPENAI)) == 0;
}

bool
pv_event_dropped(const struct pv_event *ev, enum fmt_id up, enum fmt_id cl)
{
	return ev->kind == PV_EV_THINKING_SIG && !pv_same_family(up, cl);
}

enum pv_err
pv_err_of_status(int status)
{
	switch (status) {
	case 401: return PVE_AUTH;
	case 403: return PVE_PERMISSION;
	case 404: return PVE_NOT_FOUND;
	case 413: return PVE_TOO_LARGE;
	case 429: return PVE_RATE_LIMIT;
	case 502: return PVE_UPSTREAM;
	case 503: return PVE_UNAVAILABLE;
	case 504: return PVE_TIMEOUT;
	case 529: return PVE_UNAVAILABLE;  /* Anthropic's "overloaded" */
	default: return status >= 500 ? PVE_SERVER : PVE_INVALID;
	}
}

/* ------------------------------------------------------ shared helpers */

void
pv_map_init(struct pv_map *m)
{
	memset(m, 0, sizeof(*m));
}

void
pv_map_release(struct pv_map *m)
{
	free(m->keys);
	free(m->vals);
	pv_map_init(m);
}

static size_t
pv_map_slot(const char **keys, size_t cap, const char *k)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	size_t i;

	for (const unsigned char *p = (const unsigned char *)k; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ull;
	for (i = (size_t)h & (cap - 1); keys[i] != NULL && strcmp(keys[i], k) != 0; i = (i + 1) & (cap - 1))
		;
	return i;
}

int
pv_map_put(struct pv_map *m, const char *k, size_t v)
{
	size_t i;

	if (m->n + 1 > m->cap / 2) {
		size_t cap = m->cap == 0 ? 16 : m->cap * 2, j;
		const char **keys;
		size_t *vals;

		if (cap > SIZE_MAX / sizeof(*vals))
			return CP_ENOMEM;
		keys = calloc(cap, sizeof(*keys));
		vals = calloc(cap, sizeof(*vals));
		if (keys == NULL || vals == NULL) {
			free(keys);
			free(vals);
			return CP_ENOMEM;
		}
		for (j = 0; j < m->cap; j++)
			if (m->keys[j] != NULL) {
				i = pv_map_slot(keys, cap, m->keys[j]);
				keys[i] = m->keys[j];
				vals[i] = m->vals[j];
			}
		free(m->keys);
		free(m->vals);
		m->keys = keys;
		m->vals = vals;
		m->cap = cap;
	}
	i = pv_map_slot(m->keys, m->cap, k);
	if (m->keys[i] == NULL)
		m->n++;
	m->keys[i] = k;
	m->vals[i] = v;
	return CP_OK;
}

bool
pv_map_get(const struct pv_map *m, const char *k, size_t *v)
{
	size_t i;

	if (m->cap == 0)
		return false;
	i = pv_map_slot(m->keys, m->cap, k);
	if (m->keys[i] == NULL)
		return false;
	*v = m->vals[i];
	return true;
}

/* ------------------------------------------------------ tool names */

#define PV_NAME_HASH_LEN 9       /* "_" and 8 hex digits */
#define PV_NAME_TRIES 64         /* hash variants tried on a collision */

static bool
pv_name_byte_ok(unsigned char c, enum fmt_id fmt, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return true;
	if (fmt == FMT_GEMINI) {
		/* Gemini: a letter or '_' first; '.' ':' '-' and digits after */
		if (first)
			return false;
		return (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':';
	}
	return (c >= '0' && c <= '9') || c == '-';
}

bool
pv_tool_name_ok(const char *name, enum fmt_id fmt)
{
	size_t i;

	if (name == NULL || name[0] == '\0')
		return false;
	for (i = 0; name[i] != '\0'; i++)
		if (i >= PV_TOOL_NAME_MAX || !pv_name_byte_ok((unsigned char)name[i], fmt, i == 0))
			return false;
	return true;
}

void
pv_names_init(struct pv_names *m)
{
	memset(m, 0, sizeof(*m));
}

void
pv_names_release(struct pv_names *m)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		free(m->from[i]);
		free(m->to[i]);
	}
	free(m->from);
	free(m->to);
	pv_map_release(&m->by_from);
	pv_map_release(&m->by_to);
	pv_names_init(m);
}

static uint32_t
pv_name_hash(const char *s, unsigned salt)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	for (; salt > 0; salt >>= 8)
		h = (h ^ (salt & 0xff)) * 16777619u;
	return h;
}

/* Is name taken: a client name that stays, or a name given already? */
static bool
pv_name_taken(const struct pv_map *keep, const struct pv_names *m, const char *name)
{
	size_t v;

	return pv_map_get(keep, name, &v) || pv_map_get(&m->by_to, name, &v);
}

/* Give name (refused by fmt) a valid name that nothing has. */
static int
pv_names_add(struct pv_names *m, const struct pv_map *keep, const char *name, enum fmt_id fmt)
{
	char to[PV_TOOL_NAME_MAX + 1];
	char *f = NULL, *t = NULL, **nf, **nt;
	size_t len = 0, i, cut;
	unsigned salt;
	int rc;

	if (fmt == FMT_GEMINI && !pv_name_byte_ok((unsigned char)name[0], fmt, true))
		to[len++] = '_';
	for (i = 0; name[i] != '\0' && len < PV_TOOL_NAME_MAX; i++, len++)
		to[len] = pv_name_byte_ok((unsigned char)name[i], fmt, len == 0) ? name[i] : '_';
	if (len == 0)
		to[len++] = '_';
	to[len] = '\0';
	for (salt = 0; pv_name_taken(keep, m, to); salt++) {
		if (salt >= PV_NAME_TRIES)
			return CP_EINVAL;
		cut = len < PV_TOOL_NAME_MAX - PV_NAME_HASH_LEN ? len : PV_TOOL_NAME_MAX - PV_NAME_HASH_LEN;
		snprintf(to + cut, sizeof(to) - cut, "_%08x", (unsigned)pv_name_hash(name, salt));
	}
	if ((f = strdup(name)) == NULL || (t = strdup(to)) == NULL)
		goto nomem;
	if ((nf = realloc(m->from, (m->n + 1) * sizeof(*nf))) == NULL)
		goto nomem;
	m->from = nf;
	if ((nt = realloc(m->to, (m->n + 1) * sizeof(*nt))) == NULL)
		goto nomem;
	m->to = nt;
	m->from[m->n] = f;
	m->to[m->n] = t;
	m->n++; /* f and t belong to m now */
	if ((rc = pv_map_put(&m->by_from, f, m->n - 1)) != CP_OK ||
	    (rc = pv_map_put(&m->by_to, t, m->n - 1)) != CP_OK)
		return rc;
	log_debug("pivot: a tool name the upstream refuses is '%s' upstream", to);
	return CP_OK;
nomem:
	free(f);
	free(t);
	return CP_ENOMEM;
}

/* Call fn on every tool name of r, in order. */
static int
pv_names_walk(const struct pv_request *r, int (*fn)(const char *, void *), void *arg)
{
	size_t i, j;
	int rc;

	for (i = 0; i < r->n_tools; i++)
		if (r->tools[i].name != NULL && (rc = fn(r->tools[i].name, arg)) != CP_OK)
			return rc;
	for (i = 0; i < r->n_msgs; i++)
		for (j = 0; j < r->msgs[i].n_parts; j++) {
			const struct pv_part *p = &r->msgs[i].parts[j];

			if ((p->kind == PV_TOOL_CALL || p->kind == PV_TOOL_RESULT) && p->name != NULL &&
			    (rc = fn(p->name, arg)) != CP_OK)
				return rc;
		}
	if (r->tool_choice_name != NULL)
		return fn(r->tool_choice_name, arg);
	return CP_OK;
}

struct pv_names_ctx {
	struct pv_names *m;
	struct pv_map keep;      /* client names that stay as they are */
	enum fmt_id fmt;
	bool refused;            /* some name needs a new one */
};

static int
pv_names_keep(const char *name, void *arg)
{
	struct pv_names_ctx *c = arg;

	if (!pv_tool_name_ok(name, c->fmt)) {
		c->refused = true;
		return CP_OK;
	}
	return pv_map_put(&c->keep, name, 0);
}

static int
pv_names_give(const char *name, void *arg)
{
	struct pv_names_ctx *c = arg;
	size_t v;

	if (pv_tool_name_ok(name, c->fmt) || pv_map_get(&c->m->by_from, name, &v))
		return CP_OK;
	return pv_names_add(c->m, &c->keep, name, c->fmt);
}

int
pv_names_build(struct pv_names *m, const struct pv_request *r, enum fmt_id fmt)
{
	struct pv_names_ctx c = { .m = m, .fmt = fmt, .refused = false };
	int rc;

	pv_names_init(m);
	pv_map_init(&c.keep);
	/* first every name that stays (a new name must not take one), then
	 * a new name for each refused one, in the order they come */
	if ((rc = pv_names_walk(r, pv_names_keep, &c)) == CP_OK && c.refused)
		rc = pv_names_walk(r, pv_names_give, &c);
	pv_map_release(&c.keep);
	if (rc != CP_OK)
		pv_names_release(m);
	return rc;
}

const char *
pv_names_up(const struct pv_names *m, const char *name)
{
	size_t v;

	return name != NULL && pv_map_get(&m->by_from, name, &v) ? m->to[v] : name;
}

const char *
pv_names_back(const struct pv_names *m, const char *name)
{
	size_t v;

	return name != NULL && pv_map_get(&m->by_to, name, &v) ? m->from[v] : name;
}

int
pv_view_for(const struct pv_request *r, enum fmt_id fmt, struct pv_view *v,
    const struct pv_request **out)
{
	struct pv_request *c = &v->req;
	size_t i;
	int rc;

	memset(v, 0, sizeof(*v));
	*out = r;
	if ((rc = pv_names_build(&v->names, r, fmt)) != CP_OK || v->names.n == 0)
		return rc;
	/* the struct, its tools and messages copied; the parts of a message
	 * with a tool call or result copied too; strings borrowed */
	*c = *r;
	c->tools = NULL;
	c->msgs = NULL;
	v->copied = true;
	if (r->n_tools > 0) {
		if ((c->tools = calloc(r->n_tools, sizeof(*c->tools))) == NULL)
			goto nomem;
		for (i = 0; i < r->n_tools; i++) {
			c->tools[i] = r->tools[i];
			c->tools[i].name = (char *)pv_names_up(&v->names, r->tools[i].name);
		}
	}
	if (r->n_msgs > 0) {
		if ((c->msgs = calloc(r->n_msgs, sizeof(*c->msgs))) == NULL)
			goto nomem;
		for (i = 0; i < r->n_msgs; i++) {
			const struct pv_msg *m = &r->msgs[i];
			struct pv_part *np;
			size_t j;

			c->msgs[i].role = m->role;
			c->msgs[i].n_parts = m->n_parts;
			if (m->n_parts == 0)
				continue;
			if ((np = calloc(m->n_parts, sizeof(*np))) == NULL)
				goto nomem;
			c->msgs[i].parts = np;
			for (j = 0; j < m->n_parts; j++) {
				np[j] = m->parts[j];
				if (np[j].kind == PV_TOOL_CALL || np[j].kind == PV_TOOL_RESULT)
					np[j].name = (char *)pv_names_up(&v->names, m->parts[j].name);
			}
		}
	}
	c->tool_choice_name = (char *)pv_names_up(&v->names, r->tool_choice_name);
	*out = c;
	return CP_OK;
nomem:
	pv_view_release(v);
	*out = r;
	return CP_ENOMEM;
}

void
pv_view_release(struct pv_view *v)
{
	size_t i;

	if (v->copied) {
		free(v->req.tools);
		for (i = 0; v->req.msgs != NULL && i < v->req.n_msgs; i++)
			free(v->req.msgs[i].parts);
		free(v->req.msgs);
	}
	pv_names_release(&v->names);
	memset(&v->req, 0, sizeof(v->req));
	v->copied = false;
}

int
pv_encode_named(const struct pv_request *r, enum fmt_id fmt,
    int (*enc)(const struct pv_request *, cJSON **), cJSON **out)
{
	struct pv_view v;
	const struct pv_request *view;
	int rc;

	*out = NULL;
	if ((rc = pv_view_for(r, fmt, &v, &view)) == CP_OK)
		rc = enc(view, out);
	pv_view_release(&v);
	return rc;
}

int
pv_result_names(struct pv_request *r)
{
	struct pv_map ids;
	size_t i, j, at;
	int rc = CP_OK;

	/* one pass: the map holds the latest call of each id so far, so a
	 * result finds the nearest earlier call (a linear walk back per
	 * result would be quadratic in a hostile request) */
	pv_map_init(&ids);
	for (i = 0; i < r->n_msgs && rc == CP_OK; i++) {
		for (j = 0; j < r->msgs[i].n_parts && rc == CP_OK; j++) {
			struct pv_part *p = &r->msgs[i].parts[j];

			/* value: the call part itself (no part moves here) */
			if (p->kind == PV_TOOL_CALL && p->id != NULL && p->name != NULL)
				rc = pv_map_put(&ids, p->id, (size_t)(uintptr_t)p);
			else if (p->kind == PV_TOOL_RESULT && p->name == NULL && p->id != NULL &&
			    pv_map_get(&ids, p->id, &at)) {
				const struct pv_part *c = (const struct pv_part *)(uintptr_t)at;

				if ((p->name = strdup(c->name)) == NULL)
					rc = CP_ENOMEM;
			}
		}
	}
	pv_map_release(&ids);
	return rc;
}

int
pv_normalize(struct pv_request *r)
{
	size_t i, j, k, g, total, out = 0;

	/* empty text parts go (Anthropic refuses them, Gemini ignores) */
	for (i = 0; i < r->n_msgs; i++) {
		struct pv_msg *m = &r->msgs[i];

		for (j = k = 0; j < m->n_parts; j++) {
			struct pv_part *p = &m->parts[j];

			if (p->kind == PV_TEXT && (p->text == NULL || p->text[0] == '\0')) {
				pv_part_release(p);
				continue;
			}
			m->parts[k++] = *p;
		}
		m->n_parts = k;
	}
	/* then each run of one role (empty messages skipped) becomes one
	 * message, its parts copied once into an array of pv_cap_for size */
	for (i = 0; i < r->n_msgs; i = g) {
		struct pv_part *np;
		enum pv_role role;
		size_t nm = 0;

		/* the run's role is its first non-empty message's */
		for (g = i; g < r->n_msgs && r->msgs[g].n_parts == 0; g++)
			;
		role = g < r->n_msgs ? r->msgs[g].role : PV_USER;
		total = 0;
		for (g = i; g < r->n_msgs && (r->msgs[g].role == role || r->msgs[g].n_parts == 0); g++) {
			total += r->msgs[g].n_parts;
			nm += r->msgs[g].n_parts > 0;
		}
		if (total == 0) {
			for (j = i; j < g; j++)
				free(r->msgs[j].parts);
			continue;
		}
		if (nm > 1) {
			if ((np = malloc(pv_cap_for(total) * sizeof(*np))) == NULL) {
				/* r stays consistent: what is not merged yet moves down */
				for (; i < r->n_msgs; i++)
					r->msgs[out++] = r->msgs[i];
				r->n_msgs = out;
				return CP_ENOMEM;
			}
			for (j = i, k = 0; j < g; j++) {
				/* an empty message may have no array at all */
				if (r->msgs[j].n_parts > 0)
					memcpy(np + k, r->msgs[j].parts, r->msgs[j].n_parts * sizeof(*np));
				k += r->msgs[j].n_parts;
				free(r->msgs[j].parts);
			}
			r->msgs[out].role = role;
			r->msgs[out].parts = np;
			r->msgs[out].n_parts = total;
		} else {
			/* one non-empty message: it stays as it is */
			for (j = i; j < g; j++) {
				if (r->msgs[j].n_parts > 0)
					r->msgs[out] = r->msgs[j];
				else
					free(r->msgs[j].parts);
			}
		}
		out++;
	}
	r->n_msgs = out;
	return CP_OK;
}

int
pv_put_json(struct buf *out, const cJSON *item, bool sse, const char *event)
{
	char *txt;
	int rc = CP_OK;

	if ((txt = cJSON_PrintUnformatted(item)) == NULL)
		return CP_ENOMEM;
	if (sse && event != NULL)
		rc = buf_printf(out, "event: %s\n", event);
	if (rc == CP_OK && sse)
		rc = buf_appends(out, "data: ");
	if (rc == CP_OK)
		rc = buf_appends(out, txt);
	if (rc == CP_OK && sse)
		rc = buf_appends(out, "\n\n");
	free(txt);
	return rc;
}

int
pv_parse_answer(const char *data, size_t len, cJSON **out)
{
	const char *end = NULL;
	cJSON *root;
	size_t i;

	*out = NULL;
	if (len > PV_ANSWER_MAX)
		return CP_ETOOBIG;
	if (data == NULL || len == 0)
		return CP_EPARSE;
	/* cJSON caps nesting itself (CJSON_NESTING_LIMIT) */
	root = cJSON_ParseWithLengthOpts(data, len, &end, false);
	if (root == NULL || end == NULL)
		goto bad;
	for (i = (size_t)(end - data); i < len; i++)
		if (data[i] != ' ' && data[i] != '\t' && data[i] != '\r' && data[i] != '\n')
			goto bad;
	*out = root;
	return CP_OK;
bad:
	cJSON_Delete(root);
	return CP_EPARSE;
}

/* -------------------------------------------------------------- gather */

int
pv_enc_base_init(struct pv_enc_base *b, const struct pv_enc_opts *o)
{
	memset(b, 0, sizeof(*b));
	b->o = *o;
	if (o->model != NULL && (b->model = strdup(o->model)) == NULL)
		return CP_ENOMEM;
	b->o.model = b->model;
	pv_gather_init(&b->g);
	return CP_OK;
}

void
pv_enc_base_release(struct pv_enc_base *b)
{
	pv_gather_release(&b->g);
	free(b->model);
	b->model = NULL;
}

int
pv_emit_text(pv_emit_fn emit, void *arg, enum pv_ev_kind kind, const char *text, int index)
{
	struct pv_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.text = text;
	ev.len = text != NULL ? strlen(text) : 0;
	ev.index = index;
	return emit(&ev, arg);
}

long long
pv_json_count(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;

	return cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble < 9007199254740992.0 ?
	    (long long)it->valuedouble : -1;
}

void
pv_gather_init(struct pv_gather *g)
{
	memset(g, 0, sizeof(*g));
	g->usage.input = g->usage.output = g->usage.cached = g->usage.reasoning = -1;
}

void
pv_gather_release(struct pv_gather *g)
{
	size_t i;

	for (i = 0; i < g->n_blocks; i++) {
		free(g->blocks[i].text);
		free(g->blocks[i].signature);
		free(g->blocks[i].id);
		free(g->blocks[i].name);
	}
	free(g->blocks);
	free(g->id);
	free(g->model);
	free(g->error);
	pv_gather_init(g);
}

static int
pv_block_append(struct pv_gather *g, struct pv_block *b, const char *s, size_t n)
{
	size_t need;
	char *p;

	if (n > PV_ANSWER_MAX - g->bytes)
		return CP_ETOOBIG;
	need = b->len + n + 1;
	if (need > b->cap) {
		size_t cap = b->cap < 64 ? 64 : b->cap;

		while (cap < need)
			cap *= 2;
		if ((p = realloc(b->text, cap)) == NULL)
			return CP_ENOMEM;
		b->text = p;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->text + b->len, s, n);
	b->len += n;
	b->text[b->len] = '\0';
	g->bytes += n;
	return CP_OK;
}

static struct pv_block *
pv_block_new(struct pv_gather *g, enum pv_part_kind kind)
{
	struct pv_block *b = PV_GROW(g->blocks, g->n_blocks, struct pv_block);

	if (b == NULL)
		return NULL;
	g->n_blocks++;
	b->kind = kind;
	b->index = -1;
	/* an empty string rather than NULL: encoders print text as is */
	if (pv_block_append(g, b, "", 0) != CP_OK) {
		g->n_blocks--;
		return NULL;
	}
	return b;
}

struct pv_block *
pv_gather_tool(struct pv_gather *g, int index)
{
	size_t i;

	for (i = g->n_blocks; i-- > 0;)
		if (g->blocks[i].kind == PV_TOOL_CALL && g->blocks[i].index == index)
			return &g->blocks[i];
	return NULL;
}

static int
pv_dupinto(char **dst, const char *s, size_t n)
{
	char *p = strndup(s != NULL ? s : "", s != NULL ? n : 0);

	if (p == NULL)
		return CP_ENOMEM;
	free(*dst);
	*dst = p;
	return CP_OK;
}

int
pv_gather_add(struct pv_gather *g, const struct pv_event *ev)
{
	struct pv_block *b = g->n_blocks > 0 ? &g->blocks[g->n_blocks - 1] : NULL;
	const char *t = ev->text != NULL ? ev->text : "";
	size_t n = ev->text != NULL ? ev->len : 0;

	switch (ev->kind) {
	case PV_EV_START:
		g->started = true;
		if (ev->id != NULL && pv_dupinto(&g->id, ev->id, strlen(ev->id)) != CP_OK)
			return CP_ENOMEM;
		if (ev->model != NULL && pv_dupinto(&g->model, ev->model, strlen(ev->model)) != CP_OK)
			return CP_ENOMEM;
		return CP_OK;
	case PV_EV_TEXT:
		if (b == NULL || b->kind != PV_TEXT)
			if ((b = pv_block_new(g, PV_TEXT)) == NULL)
				return CP_ENOMEM;
		return pv_block_append(g, b, t, n);
	case PV_EV_THINKING:
		if (b == NULL || b->kind != PV_THINKING || b->signature != NULL || b->redacted)
			if ((b = pv_block_new(g, PV_THINKING)) == NULL)
				return CP_ENOMEM;
		return pv_block_append(g, b, t, n);
	case PV_EV_THINKING_SIG:
		if (ev->redacted || b == NULL || b->kind != PV_THINKING || b->signature != NULL ||
		    b->redacted)
			if ((b = pv_block_new(g, PV_THINKING)) == NULL)
				return CP_ENOMEM;
		b->redacted = ev->redacted;
		if (n > PV_ANSWER_MAX - g->bytes)
			return CP_ETOOBIG;
		g->bytes += n;
		return pv_dupinto(&b->signature, t, n);
	case PV_EV_TOOL_START:
		if ((b = pv_block_new(g, PV_TOOL_CALL)) == NULL)
			return CP_ENOMEM;
		b->index = ev->index;
		g->n_tools++;
		if (pv_dupinto(&b->id, ev->id, ev->id != NULL ? strlen(ev->id) : 0) != CP_OK ||
		    pv_dupinto(&b->name, ev->name, ev->name != NULL ? strlen(ev->name) : 0) != CP_OK)
			return CP_ENOMEM;
		return CP_OK;
	case PV_EV_TOOL_ARGS:
		if ((b = pv_gather_tool(g, ev->index)) == NULL) {
			log_debug("pivot: arguments for unknown tool call %d dropped", ev->index);
			return CP_OK;
		}
		return pv_block_append(g, b, t, n);
	case PV_EV_TOOL_END:
		if ((b = pv_gather_tool(g, ev->index)) != NULL)
			b->done = true;
		return CP_OK;
	case PV_EV_USAGE:
		g->usage = ev->usage;
		g->have_usage = true;
		return CP_OK;
	case PV_EV_STOP:
		g->stop = ev->stop;
		return CP_OK;
	case PV_EV_ERROR:
		if (g->error != NULL)
			return CP_OK;
		g->error_status = ev->status > 0 ? ev->status : 500;
		return pv_dupinto(&g->error, t, n);
	}
	return CP_OK;
}

/* -------------------------------------------------------------- schema */

/*
 * Gemini's Schema (an OpenAPI 3.0 subset) refuses most of JSON schema.
 * pv_schema_for_gemini keeps only the members Gemini documents:
 *   type format title description nullable enum items minItems maxItems
 *   properties required minProperties maxProperties minLength maxLength
 *   pattern example anyOf propertyOrdering default minimum maximum
 * and rewrites what has an equivalent:
 *   - "type": ["string", "null"] -> "type": "string", "nullable": true
 *     (several non-null types -> anyOf of each);
 *   - "const": v -> "enum": [v] (strings only);
 *   - "oneOf" -> "anyOf"; an anyOf member {"type": "null"} -> nullable;
 *   - "allOf" -> its members' properties/required merged in;
 *   - "$ref": "#/$defs/X" or "#/definitions/X" -> X inlined (at most
 *     PV_SCHEMA_REF_DEPTH refs deep; deeper, or any other $ref, becomes
 *     {"type": "object"});
 *   - "enum" kept only when every value is a string (Gemini's enum is
 *     for strings);
 *   - "format": strings keep "enum" and "date-time", numbers "float"
 *     and "double", integers "int32" and "int64"; others are dropped;
 *   - "required" keeps only names listed in "properties";
 *   - an empty "properties" is dropped (Gemini refuses it for OBJECT).
 * Everything else ($schema, $id, $comment, $defs, definitions,
 * additionalProperties, patternProperties, unevaluatedProperties,
 * propertyNames, dependentRequired, dependentSchemas, if/then/else, not,
 * contains, uniqueItems, exclusiveMinimum/Maximum, multipleOf, examples,
 * readOnly, writeOnly, deprecated, strict, ...) is removed.
 */
#define PV_SCHEMA_REF_DEPTH 8        /* nested $ref expansions */
#define PV_SCHEMA_NODES_MAX 20000    /* schema nodes written (no ref bombs) */
#define PV_SCHEMA_DEPTH_MAX 64       /* nesting followed */
#define PV_SCHEMA_COPY_MAX (8u << 20) /* bytes of values (enum, default, ...) copied */

struct pv_sch {
	const cJSON *root;       /* the whole input schema ($ref target) */
	size_t nodes;            /* nodes written so far */
	size_t copied;           /* weight of the values copied so far */
	int rc;                  /* first failure */
};

static const char *const pv_gem_keep[] = {
	"title", "description", "nullable", "minItems", "maxItems",
	"minProperties", "maxProperties", "minLength", "maxLength", "pattern",
	"example", "propertyOrdering", "default", "minimum", "maximum",
};

static cJSON *pv_sch_node(struct pv_sch *c, const cJSON *s, int depth, int refs);

static bool
pv_sch_count(struct pv_sch *c)
{
	if (++c->nodes > PV_SCHEMA_NODES_MAX) {
		if (c->rc == CP_OK)
			c->rc = CP_ETOOBIG;
		return false;
	}
	return true;
}

/* About the bytes a copy of v takes (a node counts 16). */
static size_t
pv_sch_weight(const cJSON *v, int depth)
{
	size_t w = 16;
	const cJSON *it;

	if (v->string != NULL)
		w += strlen(v->string);
	if (cJSON_IsString(v) && v->valuestring != NULL)
		w += strlen(v->valuestring);
	if (depth < 2 * PV_SCHEMA_DEPTH_MAX)
		for (it = v->child; it != NULL && w <= PV_SCHEMA_COPY_MAX; it = it->next)
			w += pv_sch_weight(it, depth + 1);
	return w;
}

/* A copy of a value kept as it is (enum, default, ...): an enum of a
 * megabyte behind a $ref used ten thousand times would be gigabytes, so
 * what is copied is weighed against PV_SCHEMA_COPY_MAX. NULL on failure
 * (c->rc says why). */
static cJSON *
pv_sch_dup(struct pv_sch *c, const cJSON *v)
{
	cJSON *d;

	c->copied += pv_sch_weight(v, 0);
	if (c->copied > PV_SCHEMA_COPY_MAX) {
		if (c->rc == CP_OK)
			c->rc = CP_ETOOBIG;
		return NULL;
	}
	if ((d = cJSON_Duplicate(v, true)) == NULL && c->rc == CP_OK)
		c->rc = CP_ENOMEM;
	return d;
}

/* The target of a local $ref, or NULL. */
static const cJSON *
pv_sch_ref(const struct pv_sch *c, const char *ref)
{
	const char *name;
	const cJSON *defs;

	if (strncmp(ref, "#/$defs/", 8) == 0) {
		name = ref + 8;
		defs = cJSON_GetObjectItemCaseSensitive(c->root, "$defs");
	} else if (strncmp(ref, "#/definitions/", 14) == 0) {
		name = ref + 14;
		defs = cJSON_GetObjectItemCaseSensitive(c->root, "definitions");
	} else if (strcmp(ref, "#") == 0) {
		return c->root;
	} else
		return NULL;
	if (strchr(name, '/') != NULL || strchr(name, '~') != NULL)
		return NULL;
	return cJSON_IsObject(defs) ? cJSON_GetObjectItemCaseSensitive(defs, name) : NULL;
}

static bool
pv_sch_add(struct pv_sch *c, cJSON *o, const char *k, cJSON *v)
{
	if (v == NULL) {
		if (c->rc == CP_OK)
			c->rc = CP_ENOMEM;
		return false;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(o, k);
	if (!cJSON_AddItemToObject(o, k, v)) {
		cJSON_Delete(v);
		if (c->rc == CP_OK)
			c->rc = CP_ENOMEM;
		return false;
	}
	return true;
}

static bool
pv_sch_format_ok(const char *type, const char *fmt)
{
	static const char *const ok[][2] = {
		{ "string", "enum" }, { "string", "date-time" },
		{ "number", "float" }, { "number", "double" },
		{ "integer", "int32" }, { "integer", "int64" },
	};
	size_t i;

	if (type == NULL)
		return false;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcasecmp(type, ok[i][0]) == 0 && strcmp(fmt, ok[i][1]) == 0)
			return true;
	return false;
}

/* Merge src's members (an already converted schema) into dst: properties
 * and required are unioned, other members are taken when dst lacks them. */
static void
pv_sch_merge(struct pv_sch *c, cJSON *dst, cJSON *src)
{
	cJSON *it, *dp, *dr;

	cJSON_ArrayForEach(it, src) {
		if (strcmp(it->string, "properties") == 0 && cJSON_IsObject(it)) {
			dp = cJSON_GetObjectItemCaseSensitive(dst, "properties");
			if (dp == NULL && !pv_sch_add(c, dst, "properties", dp = cJSON_CreateObject()))
				return;
			for (cJSON *p = it->child; p != NULL; p = p->next)
				if (!cJSON_HasObjectItem(dp, p->string) &&
				    !pv_sch_add(c, dp, p->string, cJSON_Duplicate(p, true)))
					return;
		} else if (strcmp(it->string, "required") == 0 && cJSON_IsArray(it)) {
			dr = cJSON_GetObjectItemCaseSensitive(dst, "required");
			if (dr == NULL && !pv_sch_add(c, dst, "required", dr = cJSON_CreateArray()))
				return;
			for (cJSON *p = it->child; p != NULL; p = p->next)
				if (!cJSON_AddItemToArray(dr, cJSON_Duplicate(p, false)))
					return;
		} else if (!cJSON_HasObjectItem(dst, it->string)) {
			if (!pv_sch_add(c, dst, it->string, cJSON_Duplicate(it, true)))
				return;
		}
	}
}

/* "type" of s into o: a string, or an array with "null" -> nullable. */
static void
pv_sch_type(struct pv_sch *c, cJSON *o, const cJSON *t)
{
	const cJSON *it;
	cJSON *any;
	int n = 0;

	if (cJSON_IsString(t)) {
		if (strcasecmp(t->valuestring, "null") == 0)
			pv_sch_add(c, o, "nullable", cJSON_CreateTrue());
		else
			pv_sch_add(c, o, "type", cJSON_CreateString(t->valuestring));
		return;
	}
	if (!cJSON_IsArray(t))
		return;
	cJSON_ArrayForEach(it, t)
		if (cJSON_IsString(it) && strcasecmp(it->valuestring, "null") != 0)
			n++;
	cJSON_ArrayForEach(it, t) {
		if (!cJSON_IsString(it))
			continue;
		if (strcasecmp(it->valuestring, "null") == 0)
			pv_sch_add(c, o, "nullable", cJSON_CreateTrue());
		else if (n == 1)
			pv_sch_add(c, o, "type", cJSON_CreateString(it->valuestring));
	}
	if (n > 1) {
		if (!pv_sch_add(c, o, "anyOf", any = cJSON_CreateArray()))
			return;
		cJSON_ArrayForEach(it, t) {
			cJSON *m;

			if (!cJSON_IsString(it) || strcasecmp(it->valuestring, "null") == 0)
				continue;
			if ((m = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(any, m)) {
				cJSON_Delete(m);
				c->rc = CP_ENOMEM;
				return;
			}
			pv_sch_add(c, m, "type", cJSON_CreateString(it->valuestring));
		}
	}
}

static void
pv_sch_anyof(struct pv_sch *c, cJSON *o, const cJSON *arr, int depth, int refs)
{
	const cJSON *it;
	cJSON *any, *m;

	if (!cJSON_IsArray(arr))
		return;
	if ((any = cJSON_CreateArray()) == NULL) {
		c->rc = CP_ENOMEM;
		return;
	}
	cJSON_ArrayForEach(it, arr) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");

		if (cJSON_IsObject(it) && it->child != NULL && it->child->next == NULL &&
		    cJSON_IsString(t) && strcasecmp(t->valuestring, "null") == 0) {
			pv_sch_add(c, o, "nullable", cJSON_CreateTrue());
			continue;
		}
		if ((m = pv_sch_node(c, it, depth + 1, refs)) == NULL)
			break;
		cJSON_AddItemToArray(any, m);
	}
	if (cJSON_GetArraySize(any) == 1) {
		/* a single alternative is the schema itself */
		m = cJSON_DetachItemFromArray(any, 0);
		pv_sch_merge(c, o, m);
		cJSON_Delete(m);
		cJSON_Delete(any);
	} else if (cJSON_GetArraySize(any) == 0)
		cJSON_Delete(any);
	else
		pv_sch_add(c, o, "anyOf", any);
}

static cJSON *
pv_sch_node(struct pv_sch *c, const cJSON *s, int depth, int refs)
{
	const cJSON *it, *ref, *t;
	cJSON *o = NULL, *p, *m;
	const char *type = NULL;
	size_t i;

	if (c->rc != CP_OK || !pv_sch_count(c))
		return NULL;
	if ((o = cJSON_CreateObject()) == NULL) {
		c->rc = CP_ENOMEM;
		return NULL;
	}
	if (!cJSON_IsObject(s) || depth > PV_SCHEMA_DEPTH_MAX)
		return o;
	ref = cJSON_GetObjectItemCaseSensitive(s, "$ref");
	if (cJSON_IsString(ref)) {
		const cJSON *target = pv_sch_ref(c, ref->valuestring);

		if (target == NULL || refs >= PV_SCHEMA_REF_DEPTH) {
			pv_sch_add(c, o, "type", cJSON_CreateString("object"));
		} else if ((m = pv_sch_node(c, target, depth + 1, refs + 1)) != NULL) {
			pv_sch_merge(c, o, m);
			cJSON_Delete(m);
		}
		/* siblings of $ref (description, ...) are kept below */
	}
	t = cJSON_GetObjectItemCaseSensitive(s, "type");
	pv_sch_type(c, o, t);
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "type")))
		type = cJSON_GetObjectItemCaseSensitive(o, "type")->valuestring;
	for (i = 0; i < sizeof(pv_gem_keep) / sizeof(pv_gem_keep[0]); i++) {
		it = cJSON_GetObjectItemCaseSensitive(s, pv_gem_keep[i]);
		if (it != NULL && !pv_sch_add(c, o, pv_gem_keep[i], pv_sch_dup(c, it)))
			goto fail;
	}
	it = cJSON_GetObjectItemCaseSensitive(s, "format");
	if (cJSON_IsString(it) && pv_sch_format_ok(type, it->valuestring))
		pv_sch_add(c, o, "format", cJSON_CreateString(it->valuestring));
	it = cJSON_GetObjectItemCaseSensitive(s, "enum");
	if (cJSON_IsArray(it) && cJSON_GetArraySize(it) > 0) {
		bool strings = true;

		for (p = it->child; p != NULL; p = p->next)
			strings = strings && cJSON_IsString(p);
		if (strings)
			pv_sch_add(c, o, "enum", pv_sch_dup(c, it));
	}
	it = cJSON_GetObjectItemCaseSensitive(s, "const");
	if (cJSON_IsString(it)) {
		if ((p = cJSON_CreateArray()) == NULL ||
		    !cJSON_AddItemToArray(p, cJSON_CreateString(it->valuestring)) ||
		    !pv_sch_add(c, o, "enum", p)) {
			c->rc = CP_ENOMEM;
			goto fail;
		}
		if (type == NULL)
			pv_sch_add(c, o, "type", cJSON_CreateString("string"));
	}
	it = cJSON_GetObjectItemCaseSensitive(s, "items");
	if (cJSON_IsObject(it)) {
		if ((m = pv_sch_node(c, it, depth + 1, refs)) == NULL || !pv_sch_add(c, o, "items", m))
			goto fail;
	} else if (cJSON_IsArray(it) && it->child != NULL) {
		/* tuple form: Gemini takes one items schema; the first one */
		if ((m = pv_sch_node(c, it->child, depth + 1, refs)) == NULL ||
		    !pv_sch_add(c, o, "items", m))
			goto fail;
	}
	it = cJSON_GetObjectItemCaseSensitive(s, "properties");
	if (cJSON_IsObject(it) && it->child != NULL) {
		if ((p = cJSON_CreateObject()) == NULL || !pv_sch_add(c, o, "properties", p))
			goto fail;
		cJSON_ArrayForEach(t, it) {
			if ((m = pv_sch_node(c, t, depth + 1, refs)) == NULL)
				goto fail;
			if (!pv_sch_add(c, p, t->string, m))
				goto fail;
		}
	}
	pv_sch_anyof(c, o, cJSON_GetObjectItemCaseSensitive(s, "anyOf"), depth, refs);
	pv_sch_anyof(c, o, cJSON_GetObjectItemCaseSensitive(s, "oneOf"), depth, refs);
	it = cJSON_GetObjectItemCaseSensitive(s, "allOf");
	if (cJSON_IsArray(it)) {
		cJSON_ArrayForEach(t, it) {
			if ((m = pv_sch_node(c, t, depth + 1, refs)) == NULL)
				goto fail;
			pv_sch_merge(c, o, m);
			cJSON_Delete(m);
		}
	}
	/* required: only names that exist in properties, each once */
	it = cJSON_GetObjectItemCaseSensitive(s, "required");
	p = cJSON_GetObjectItemCaseSensitive(o, "properties");
	if (cJSON_IsArray(it) || cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "required"))) {
		cJSON *req = cJSON_CreateArray(), *prev;

		if (req == NULL) {
			c->rc = CP_ENOMEM;
			goto fail;
		}
		/* merged requireds (allOf, $ref) first, then this node's */
		prev = cJSON_DetachItemFromObjectCaseSensitive(o, "required");
		for (int pass = 0; pass < 2; pass++) {
			const cJSON *src = pass == 0 ? prev : it;

			if (!cJSON_IsArray(src))
				continue;
			cJSON_ArrayForEach(t, src) {
				bool dup = false;

				if (!cJSON_IsString(t) || !cJSON_HasObjectItem(p, t->valuestring))
					continue;
				for (m = req->child; m != NULL && !dup; m = m->next)
					dup = strcmp(m->valuestring, t->valuestring) == 0;
				if (!dup)
					cJSON_AddItemToArray(req, cJSON_CreateString(t->valuestring));
			}
		}
		cJSON_Delete(prev);
		if (cJSON_GetArraySize(req) > 0)
			pv_sch_add(c, o, "required", req);
		else
			cJSON_Delete(req);
	}
	return o;
fail:
	cJSON_Delete(o);
	if (c->rc == CP_OK)
		c->rc = CP_ENOMEM;
	return NULL;
}

int
pv_schema_for_gemini(const cJSON *s, cJSON **out)
{
	struct pv_sch c = { .root = s, .nodes = 0, .rc = CP_OK };
	cJSON *o;

	*out = NULL;
	o = pv_sch_node(&c, s, 0, 0);
	if (c.rc != CP_OK) {
		cJSON_Delete(o);
		return c.rc;
	}
	*out = o;
	return o != NULL ? CP_OK : CP_ENOMEM;
}

int
pv_schema_check(const cJSON *s)
{
	cJSON *o = NULL;
	int rc = pv_schema_for_gemini(s, &o);

	cJSON_Delete(o);
	return rc;
}

int
pv_schema_refused(int rc, const char *what, char *err, size_t errlen)
{
	if (rc == CP_ENOMEM)
		return rc;
	cp_seterr(err, errlen, "%s: the schema is too large once its $refs are expanded "
	    "(at most %u nodes and %u bytes of enum and default values)", what,
	    (unsigned)PV_SCHEMA_NODES_MAX, (unsigned)PV_SCHEMA_COPY_MAX);
	return CP_EINVAL;
}

/* Members whose values are data, not schemas: never rewritten. */
static bool
pv_lower_skip(const char *k)
{
	static const char *const data[] = { "enum", "const", "default", "example", "examples" };
	size_t i;

	for (i = 0; i < sizeof(data) / sizeof(data[0]); i++)
		if (strcmp(k, data[i]) == 0)
			return true;
	return false;
}

/* Members whose values map names to schemas (a property may be called
 * "type" or "enum"). */
static bool
pv_lower_names(const char *k)
{
	static const char *const maps[] = {
		"properties", "patternProperties", "$defs", "definitions", "dependentSchemas",
	};
	size_t i;

	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if (strcmp(k, maps[i]) == 0)
			return true;
	return false;
}

/* n is a schema (object), a list of schemas (array) or, with names, a
 * map of names to schemas. */
static void
pv_lower(cJSON *n, int depth, bool names)
{
	cJSON *it;

	if (depth > PV_SCHEMA_DEPTH_MAX)
		return;
	cJSON_ArrayForEach(it, n) {
		if (names || cJSON_IsArray(n)) {
			if (cJSON_IsObject(it) || cJSON_IsArray(it))
				pv_lower(it, depth + 1, false);
			continue;
		}
		if (strcmp(it->string, "type") == 0 && (cJSON_IsString(it) || cJSON_IsArray(it))) {
			cJSON *v = cJSON_IsArray(it) ? it->child : it;

			for (; v != NULL; v = cJSON_IsArray(it) ? v->next : NULL)
				if (cJSON_IsString(v))
					for (char *q = v->valuestring; *q != '\0'; q++)
						if (*q >= 'A' && *q <= 'Z')
							*q = (char)(*q - 'A' + 'a');
			continue;
		}
		if (pv_lower_skip(it->string))
			continue;
		if (cJSON_IsObject(it) || cJSON_IsArray(it))
			pv_lower(it, depth + 1, cJSON_IsObject(it) && pv_lower_names(it->string));
	}
}

int
pv_schema_lower_types(const cJSON *s, cJSON **out)
{
	cJSON *o;

	*out = NULL;
	if ((o = cJSON_Duplicate(s, true)) == NULL)
		return CP_ENOMEM;
	pv_lower(o, 0, false);
	*out = o;
	return CP_OK;
}

/* ------------------------------------------------------------ estimate */

/*
 * The local token estimate (cliproxyd(8) "Token counting"): one token per
 * 4 bytes (rounded up) of the system text, every text, thinking text, tool
 * call name and arguments, tool result, tool name, description and
 * printed schema; 258 per image or file (Gemini's figure for an image);
 * 4 per message and 3 for the answer's priming. It is an estimate for
 * clients that budget context, not a bill.
 */
#define PV_EST_IMAGE 258
#define PV_EST_PER_MSG 4
#define PV_EST_PRIME 3

static long long
pv_est_text(const char *s)
{
	return s == NULL ? 0 : (long long)((strlen(s) + 3) / 4);
}

long long
pv_estimate_tokens(const struct pv_request *r)
{
	long long n = PV_EST_PRIME + pv_est_text(r->system);
	size_t i, j;

	for (i = 0; i < r->n_msgs; i++) {
		n += PV_EST_PER_MSG;
		for (j = 0; j < r->msgs[i].n_parts; j++) {
			const struct pv_part *p = &r->msgs[i].parts[j];

			if (p->kind == PV_IMAGE)
				n += PV_EST_IMAGE;
			n += pv_est_text(p->text) + pv_est_text(p->name) + pv_est_text(p->args);
		}
	}
	for (i = 0; i < r->n_tools; i++) {
		char *txt = r->tools[i].schema != NULL ? cJSON_PrintUnformatted(r->tools[i].schema) : NULL;

		n += pv_est_text(r->tools[i].name) + pv_est_text(r->tools[i].description) +
		    pv_est_text(txt);
		free(txt);
	}
	return n;
}

/* ------------------------------------------------------ request members */

static const cJSON *
pv_member(const cJSON *o, const char *key)
{
	const cJSON *it = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;

	return cJSON_IsNull(it) ? NULL : it;
}

static int
pv_bad(char *err, size_t errlen, const char *path, const char *key, const char *what)
{
	cp_seterr(err, errlen, "%s%s%s: must be %s", path, path[0] != '\0' ? "." : "", key, what);
	return CP_EINVAL;
}

int
pv_get_str(const cJSON *o, const char *key, const char *path, const char **out,
    char *err, size_t errlen)
{
	const cJSON *it = pv_member(o, key);

	if (it == NULL)
		return CP_ENOTFOUND;
	if (!cJSON_IsString(it))
		return pv_bad(err, errlen, path, key, "a string");
	*out = it->valuestring;
	return CP_OK;
}

int
pv_get_num(const cJSON *o, const char *key, const char *path, double min, double max,
    double *out, char *err, size_t errlen)
{
	const cJSON *it = pv_member(o, key);
	char what[96];

	if (it == NULL)
		return CP_ENOTFOUND;
	if (!cJSON_IsNumber(it) || !(it->valuedouble >= min && it->valuedouble <= max)) {
		snprintf(what, sizeof(what), "a number from %g to %g", min, max);
		return pv_bad(err, errlen, path, key, what);
	}
	*out = it->valuedouble;
	return CP_OK;
}

int
pv_get_int(const cJSON *o, const char *key, const char *path, long long min,
    long long max, long long *out, char *err, size_t errlen)
{
	const cJSON *it = pv_member(o, key);
	char what[96];

	if (it == NULL)
		return CP_ENOTFOUND;
	if (json_item_int(it, min, max, out) != CP_OK) {
		snprintf(what, sizeof(what), "an integer from %lld to %lld", min, max);
		return pv_bad(err, errlen, path, key, what);
	}
	return CP_OK;
}

int
pv_get_bool(const cJSON *o, const char *key, const char *path, bool *out,
    char *err, size_t errlen)
{
	const cJSON *it = pv_member(o, key);

	if (it == NULL)
		return CP_ENOTFOUND;
	if (!cJSON_IsBool(it))
		return pv_bad(err, errlen, path, key, "a boolean");
	*out = cJSON_IsTrue(it);
	return CP_OK;
}

cJSON *
pv_args_object(const char *args)
{
	cJSON *o = NULL;

	if (args != NULL && args[0] != '\0') {
		o = cJSON_Parse(args);
		if (o != NULL && !cJSON_IsObject(o)) {
			cJSON_Delete(o);
			o = NULL;
		}
		if (o == NULL)
			log_debug("pivot: tool call arguments are not a JSON object: {} sent");
	}
	return o != NULL ? o : cJSON_CreateObject();
}

/* The model and stream members of a body that carries them (OpenAI Chat,
 * Completions and Responses, Claude): one reader and one writer for every
 * such codec's passthrough. */
int
pv_body_request_model(const cJSON *req, const char *path_model, bool path_stream,
    const char **model, bool *stream)
{
	const cJSON *m, *s;

	(void)path_model;
	(void)path_stream;
	if (!cJSON_IsObject(req))
		return CP_EINVAL;
	m = cJSON_GetObjectItemCaseSensitive(req, "model");
	if (!cJSON_IsString(m) || m->valuestring[0] == '\0')
		return CP_EINVAL;
	*model = m->valuestring;
	*stream = false;
	s = cJSON_GetObjectItemCaseSensitive(req, "stream");
	if (s != NULL) {
		/* OpenAI accepts only a boolean here; null means absent. */
		if (cJSON_IsBool(s))
			*stream = cJSON_IsTrue(s);
		else if (!cJSON_IsNull(s))
			return CP_EINVAL;
	}
	return CP_OK;
}

int
pv_body_set_model(cJSON *req, const char *model)
{
	cJSON *m;

	m = cJSON_CreateString(model);
	if (m == NULL)
		return CP_ENOMEM;
	/* Replace in place so that member order stays as the client sent it. */
	if (!cJSON_ReplaceItemInObjectCaseSensitive(req, "model", m)) {
		cJSON_Delete(m);
		return CP_EINVAL;
	}
	return CP_OK;
}
