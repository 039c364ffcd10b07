/*
 * pivot.c - the pivot request's lifecycle and the helpers every codec
 * shares (DESIGN 6). See pivot.h for the shapes and the ownership rules.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "pivot.h"

#define PV_GROW(arr, n, type) \
	((type *)pv_grow((void **)&(arr), (n), sizeof(type)))

/* Grow *arr by one zeroed element of size sz; n is the current count.
 * The caller bumps its count when this returns non-NULL. */
static void *
pv_grow(void **arr, size_t n, size_t sz)
{
	void *p;

	if (n >= SIZE_MAX / sz - 1)
		return NULL;
	p = realloc(*arr, (n + 1) * sz);
	if (p == NULL)
		return NULL;
	*arr = p;
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
	default: return status >= 500 ? PVE_SERVER : PVE_INVALID;
	}
}
