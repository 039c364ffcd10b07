/*
 * h_list.c - one set of handlers for every list setting, string lists
 * (api-keys, generative-language-api-key) and object lists
 * (claude-api-key, codex-api-key, openai-compatibility), driven by a
 * struct list_desc from router.c (DESIGN 5 "String lists", "Object lists").
 *
 * Changes start from the list as it is written in the file (yaml_get_json
 * under the lock), not from the normalized model, so that untouched items
 * keep their lines byte for byte (DESIGN 3).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt.h"

/* What a PATCH or DELETE does to the current list. */
enum list_op {
	OP_REPLACE_ALL,            /* PUT */
	OP_PATCH_INDEX,            /* item at index becomes value */
	OP_PATCH_MATCH,            /* first item equal to / matching match */
	OP_DELETE_INDEX,           /* remove the item at index */
	OP_DELETE_MATCH,           /* remove every equal / matching item */
};

struct list_edit {
	const struct list_desc *d; /* which list */
	enum list_op op;           /* what to do */
	long long index;           /* OP_*_INDEX */
	const char *match;         /* OP_*_MATCH: the string to compare */
	size_t match_len;          /* its length (query values may hold NUL) */
	const cJSON *value;        /* new item or new list (borrowed) */
	bool ran;                  /* the callback was reached */
	int refused;               /* error decided inside the callback */
	const char *msg;           /* its text */
};

void
h_list_get(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const struct list_desc *d = arg;
	const char *path[2] = { d->key, NULL };

	h_get_path(rq, rs, path);
}

/* Does item match e->match: equal string, or an object whose match field
 * is that string? */
static bool
item_matches(const struct list_edit *e, const cJSON *item)
{
	const cJSON *s = item;

	if (e->d->kind == LIST_OBJECT)
		s = cJSON_IsObject(item) ?
		    cJSON_GetObjectItemCaseSensitive(item, e->d->match_field) : NULL;
	if (!cJSON_IsString(s) || s->valuestring == NULL)
		return false;
	return strlen(s->valuestring) == e->match_len &&
	    memcmp(s->valuestring, e->match, e->match_len) == 0;
}

/* Is name a member of the items that the model reads? */
static bool
field_known(const char *const *known, const char *name)
{
	for (; known != NULL && *known != NULL; known++)
		if (strcmp(*known, name) == 0)
			return true;
	return false;
}

/* The item that a PATCH of old with value writes; caller owns it. The
 * spec's "replaces the whole item" holds for the members the project
 * models (cfg_item_fields: one left out of value is gone); a member it
 * does not model ("priority", "headers", a future one) keeps its value
 * unless value names it (DESIGN 3: unknown keys survive every write;
 * issue 10 item 9). */
static cJSON *
patched_item(const struct list_desc *d, const cJSON *old, const cJSON *value)
{
	const char *const *known = cfg_item_fields(d->key);
	cJSON *item = cJSON_Duplicate(value, true), *m;
	const cJSON *c, **named = NULL;
	size_t nnamed = 0;

	if (item == NULL || d->kind != LIST_OBJECT || !cJSON_IsObject(old) ||
	    !cJSON_IsObject(item))
		return item;
	/* value's names sorted: an item of many members costs n log n, not
	 * n^2 lookups */
	if (json_sorted_members(value, &named, &nnamed) != CP_OK)
		goto fail;
	cJSON_ArrayForEach(c, old) {
		if (c->string == NULL || field_known(known, c->string) ||
		    json_sorted_find(named, nnamed, c->string) != NULL)
			continue;
		if ((m = cJSON_Duplicate(c, true)) == NULL ||
		    !cJSON_AddItemToObject(item, c->string, m)) {
			cJSON_Delete(m);
			goto fail;
		}
	}
	free(named);
	return item;
fail:
	free(named);
	cJSON_Delete(item);
	return NULL;
}

struct keyed_item {
	const char *key;           /* the old item's match field */
	size_t pos;                /* its position in the list */
	const cJSON *item;         /* the old item (borrowed) */
	bool used;                 /* paired with a new item already */
};

static int
keyed_cmp(const void *a, const void *b)
{
	const struct keyed_item *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	if (c != 0)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* The match field of an object item, NULL if it has none. */
static const char *
item_key(const struct list_desc *d, const cJSON *item)
{
	const cJSON *s = cJSON_IsObject(item) ?
	    cJSON_GetObjectItemCaseSensitive(item, d->match_field) : NULL;

	return cJSON_IsString(s) ? s->valuestring : NULL;
}

/* PUT of an object list (DESIGN 3: unknown keys survive every write):
 * a new item whose match field equals an old item's (the first old one of
 * that key not yet paired) keeps the old item's members the project does
 * not model, as a PATCH would (patched_item). A client that GETs the list
 * (modelled members only), edits it and PUTs it back loses nothing.
 * Sorted, so O(n log n) for any list. neu is changed in place. */
static int
put_keep_unknown(const struct list_desc *d, const cJSON *old, cJSON *neu)
{
	struct keyed_item *v = NULL, probe, *hit;
	const cJSON *c;
	cJSON *it, *next, *item;
	size_t n = 0, cap = (size_t)cJSON_GetArraySize(old), lo, hi, mid;
	int rc = CP_OK;

	if (cap == 0 || (v = calloc(cap, sizeof(*v))) == NULL)
		return cap == 0 ? CP_OK : CP_ENOMEM;
	cJSON_ArrayForEach(c, old) {
		if ((v[n].key = item_key(d, c)) == NULL)
			continue;
		v[n].pos = n;
		v[n].item = c;
		n++;
	}
	qsort(v, n, sizeof(*v), keyed_cmp);
	for (it = neu->child; it != NULL && rc == CP_OK; it = next) {
		next = it->next;
		if ((probe.key = item_key(d, it)) == NULL)
			continue;
		/* the first entry of that key (pos 0 sorts first) */
		probe.pos = 0;
		for (lo = 0, hi = n; lo < hi;) {
			mid = lo + (hi - lo) / 2;
			if (strcmp(v[mid].key, probe.key) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (hit = NULL; lo < n && strcmp(v[lo].key, probe.key) == 0; lo++)
			if (!v[lo].used) {
				hit = &v[lo];
				break;
			}
		if (hit == NULL)
			continue;
		hit->used = true;
		if ((item = patched_item(d, hit->item, it)) == NULL ||
		    !cJSON_ReplaceItemViaPointer(neu, it, item)) {
			cJSON_Delete(item);
			rc = CP_ENOMEM;
		}
	}
	free(v);
	return rc;
}

/* Every list operation is one pass over the list (issue 10 item 6: the
 * config lock is held meanwhile): items are reached by walking the
 * children, never by cJSON_GetArrayItem(i) in a loop, and removals are
 * one splice of the file (yaml_seq_remove). */
static int
list_fn(struct cfg_tx *tx, void *arg)
{
	struct list_edit *e = arg;
	const char *path[2] = { e->d->key, NULL };
	cJSON *cur = NULL, *it, *target = NULL, *item = NULL;
	bool *drop = NULL;
	char err[256];
	size_t n, i, hits = 0;
	int rc;

	e->ran = true;
	if (e->op == OP_REPLACE_ALL && e->d->kind == LIST_STRING)
		return h_tx_set(tx, path, e->value);

	rc = yaml_get_json(tx->text, tx->len, path, &cur, err, sizeof(err));
	if (rc == CP_ENOTFOUND || (rc == CP_OK && !cJSON_IsArray(cur))) {
		/* absent or empty ("api-keys:") is the default [] */
		cJSON_Delete(cur);
		cur = cJSON_CreateArray();
		rc = cur != NULL ? CP_OK : CP_ENOMEM;
	}
	if (rc != CP_OK) {
		snprintf(tx->err, sizeof(tx->err), "%s", err);
		goto out;
	}
	n = (size_t)cJSON_GetArraySize(cur);
	switch (e->op) {
	case OP_PATCH_INDEX:
	case OP_PATCH_MATCH:
		/* DESIGN 5: the item at index, or the first equal / matching one */
		i = 0;
		cJSON_ArrayForEach(it, cur) {
			if (e->op == OP_PATCH_INDEX ? i == (size_t)e->index : item_matches(e, it)) {
				target = it;
				break;
			}
			i++;
		}
		if (target == NULL)
			goto notfound;
		if ((item = patched_item(e->d, target, e->value)) == NULL ||
		    !cJSON_ReplaceItemViaPointer(cur, target, item)) {
			cJSON_Delete(item);
			rc = CP_ENOMEM;
			goto out;
		}
		rc = h_tx_set(tx, path, cur);
		break;
	case OP_DELETE_INDEX:
	case OP_DELETE_MATCH:
		/* ?index= one item, ?value= / ?api-key= / ?name= every match */
		if ((drop = calloc(n + 1, sizeof(*drop))) == NULL) {
			rc = CP_ENOMEM;
			goto out;
		}
		i = 0;
		cJSON_ArrayForEach(it, cur) {
			drop[i] = e->op == OP_DELETE_INDEX ? i == (size_t)e->index :
			    item_matches(e, it);
			hits += drop[i];
			i++;
		}
		if (hits == 0)
			goto notfound;
		rc = cfg_tx_seq_remove(tx, path, drop, n);
		break;
	case OP_REPLACE_ALL:
		if ((item = cJSON_Duplicate(e->value, true)) == NULL) {
			rc = CP_ENOMEM;
			goto out;
		}
		rc = put_keep_unknown(e->d, cur, item);
		if (rc == CP_OK)
			rc = h_tx_set(tx, path, item);
		cJSON_Delete(item);
		break;
	}
	goto out;
notfound:
	e->refused = CP_ENOTFOUND;
	e->msg = "item not found";
	rc = CP_ENOTFOUND;
out:
	free(drop);
	cJSON_Delete(cur);
	return rc;
}

static void
commit(struct mgmt_req *rq, struct mgmt_resp *rs, struct list_edit *e)
{
	char err[256] = "";
	int rc = cfg_transact(rq->st->config_path, list_fn, e, err, sizeof(err));

	if (rc == CP_OK)
		resp_ok(rs);
	else if (e->refused != CP_OK)
		resp_cp_error(rs, e->refused, e->msg);
	else
		resp_tx_error(rs, rc, e->ran, err);
}

/* One item of d's kind, validated by the core's rules (the message names
 * the field). CP_OK, or rs filled. */
static int
check_item(const struct list_desc *d, const cJSON *item, struct mgmt_resp *rs)
{
	char err[256] = "";

	if (d->kind == LIST_STRING && !cJSON_IsString(item)) {
		resp_cp_error(rs, CP_EINVAL, "invalid body");
		return CP_ETYPE;
	}
	if (d->kind == LIST_OBJECT && !cJSON_IsObject(item)) {
		resp_cp_error(rs, CP_EINVAL, "invalid body");
		return CP_ETYPE;
	}
	if (cfg_validate_item(d->key, item, err, sizeof(err)) != CP_OK) {
		resp_cp_error(rs, CP_EINVAL, err[0] != '\0' ? err : "invalid body");
		return CP_EINVAL;
	}
	return CP_OK;
}

void
h_list_put(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const struct list_desc *d = arg;
	struct list_edit e = { .d = d, .op = OP_REPLACE_ALL };
	cJSON *body = NULL;
	const cJSON *items, *it;

	if (req_json(rq, rs, &body) != CP_OK)
		goto out;
	/* a raw array or {"items": [...]} (spec "Request/Response Conventions") */
	items = body;
	if (cJSON_IsObject(body))
		items = cJSON_GetObjectItemCaseSensitive(body, "items");
	if (!cJSON_IsArray(items)) {
		resp_cp_error(rs, CP_EINVAL, "invalid body");
		goto out;
	}
	cJSON_ArrayForEach(it, items)
		if (check_item(d, it, rs) != CP_OK)
			goto out;
	e.value = items;
	commit(rq, rs, &e);
out:
	cJSON_Delete(body);
}

/* A JSON "index": a non-negative integral number (DESIGN 5). */
static int
json_index(const cJSON *v, long long *out)
{
	return json_item_int(v, 0, 0x7fffffff, out);
}

void
h_list_patch(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const struct list_desc *d = arg;
	struct list_edit e = { .d = d };
	cJSON *body = NULL;
	const cJSON *index, *value, *match;

	if (req_json(rq, rs, &body) != CP_OK)
		goto out;
	if (!cJSON_IsObject(body)) {
		resp_cp_error(rs, CP_EINVAL, "invalid body");
		goto out;
	}
	index = cJSON_GetObjectItemCaseSensitive(body, "index");
	if (d->kind == LIST_STRING) {
		/* {"index","value"} or {"old","new"} */
		value = cJSON_GetObjectItemCaseSensitive(body, index != NULL ? "value" : "new");
		match = index != NULL ? NULL : cJSON_GetObjectItemCaseSensitive(body, "old");
	} else {
		/* {"index"|"match"|"name", "value": {...}}; "match" works for
		 * every object list */
		value = cJSON_GetObjectItemCaseSensitive(body, "value");
		match = index != NULL ? NULL : cJSON_GetObjectItemCaseSensitive(body, d->patch_match);
		if (index == NULL && match == NULL)
			match = cJSON_GetObjectItemCaseSensitive(body, "match");
	}
	if (value == NULL || (index == NULL && match == NULL)) {
		resp_cp_error(rs, CP_EINVAL, "missing fields");
		goto out;
	}
	if (index != NULL) {
		if (json_index(index, &e.index) != CP_OK) {
			resp_cp_error(rs, CP_EINVAL, "invalid index");
			goto out;
		}
		e.op = OP_PATCH_INDEX;
	} else {
		if (!cJSON_IsString(match)) {
			resp_cp_error(rs, CP_EINVAL, "invalid body");
			goto out;
		}
		e.op = OP_PATCH_MATCH;
		e.match = match->valuestring;
		e.match_len = strlen(match->valuestring);
	}
	if (check_item(d, value, rs) != CP_OK)
		goto out;
	e.value = value;
	commit(rq, rs, &e);
out:
	cJSON_Delete(body);
}

void
h_list_delete(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const struct list_desc *d = arg;
	struct list_edit e = { .d = d };
	/* An item is as long as a PUT made it: ?value= may name one as long
	 * as the query string allows, not only MGMT_QVALUE_MAX (a 2 KiB key
	 * was "invalid query" here, deletable only by index). */
	char v[MGMT_QUERY_MAX + 1];
	size_t vlen;
	int rc;

	rc = req_query(rq, "index", v, sizeof(v), &vlen);
	if (rc == CP_OK) {
		if (req_parse_index(v, vlen, &e.index) != CP_OK) {
			resp_cp_error(rs, CP_EINVAL, "invalid index");
			return;
		}
		e.op = OP_DELETE_INDEX;
		commit(rq, rs, &e);
		return;
	}
	if (rc != CP_ENOTFOUND) {
		resp_cp_error(rs, CP_EINVAL, "invalid index");
		return;
	}
	rc = req_query(rq, d->query, v, sizeof(v), &vlen);
	if (rc == CP_ENOTFOUND) {
		char msg[96];

		snprintf(msg, sizeof(msg), "missing index or %s", d->query);
		resp_cp_error(rs, CP_EINVAL, msg);
		return;
	}
	if (rc != CP_OK) {
		resp_cp_error(rs, CP_EINVAL, "invalid query");
		return;
	}
	e.op = OP_DELETE_MATCH;
	e.match = v;
	e.match_len = vlen;
	commit(rq, rs, &e);
}
