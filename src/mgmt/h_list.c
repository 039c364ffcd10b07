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

static int
list_fn(struct cfg_tx *tx, void *arg)
{
	struct list_edit *e = arg;
	const char *path[2] = { e->d->key, NULL };
	cJSON *cur = NULL, *dup = NULL;
	char err[256];
	int rc, n;

	e->ran = true;
	if (e->op == OP_REPLACE_ALL)
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
	n = cJSON_GetArraySize(cur);
	switch (e->op) {
	case OP_PATCH_INDEX:
	case OP_DELETE_INDEX:
		if (e->index >= n) {
			e->refused = CP_ENOTFOUND;
			e->msg = "item not found";
			rc = CP_ENOTFOUND;
			goto out;
		}
		if (e->op == OP_DELETE_INDEX) {
			cJSON_DeleteItemFromArray(cur, (int)e->index);
		} else {
			dup = cJSON_Duplicate(e->value, true);
			if (dup == NULL || !cJSON_ReplaceItemInArray(cur, (int)e->index, dup)) {
				cJSON_Delete(dup);
				rc = CP_ENOMEM;
				goto out;
			}
		}
		break;
	case OP_PATCH_MATCH:
	case OP_DELETE_MATCH: {
		int hits = 0;

		for (int i = n - 1; i >= 0; i--) {
			if (!item_matches(e, cJSON_GetArrayItem(cur, i)))
				continue;
			hits++;
			if (e->op == OP_DELETE_MATCH)
				cJSON_DeleteItemFromArray(cur, i);
		}
		if (hits == 0) {
			e->refused = CP_ENOTFOUND;
			e->msg = "item not found";
			rc = CP_ENOTFOUND;
			goto out;
		}
		if (e->op == OP_PATCH_MATCH) {
			/* DESIGN 5: PATCH replaces the first equal entry */
			for (int i = 0; i < n; i++) {
				if (!item_matches(e, cJSON_GetArrayItem(cur, i)))
					continue;
				dup = cJSON_Duplicate(e->value, true);
				if (dup == NULL || !cJSON_ReplaceItemInArray(cur, i, dup)) {
					cJSON_Delete(dup);
					rc = CP_ENOMEM;
					goto out;
				}
				break;
			}
		}
		break;
	}
	case OP_REPLACE_ALL:
		break;
	}
	rc = h_tx_set(tx, path, cur);
out:
	cJSON_Delete(cur);
	return rc;
}

static void
commit(struct mgmt_req *rq, struct mgmt_resp *rs, struct list_edit *e)
{
	char err[256] = "";
	int rc = chg_config(rq, rs, list_fn, e, NULL, err, sizeof(err));

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
	char v[MGMT_QVALUE_MAX];
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
