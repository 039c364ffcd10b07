/*
 * h_scalar.c - one handler for every boolean, integer and string setting
 * (spec "Debug", "Proxy URL", "Quota Exceeded Behavior", "Request
 * Logging", "Request Retry", "Allow Localhost Unauthenticated"), driven by
 * a struct scalar_desc from router.c.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "mgmt.h"

void
h_get_path(struct mgmt_req *rq, struct mgmt_resp *rs, const char *const *path)
{
	cJSON *all = NULL;
	const cJSON *v;
	const char *leaf = path[0];

	if (rq->cfg_stale) {
		char msg[320];

		snprintf(msg, sizeof(msg), "failed to load config: %s", rq->cfg_err);
		resp_cp_error(rs, CP_EIO, msg);
		return;
	}
	all = cfg_to_json(rq->cfg, false);
	if (all == NULL) {
		resp_cp_error(rs, CP_ENOMEM, NULL);
		return;
	}
	v = all;
	for (size_t i = 0; path[i] != NULL && v != NULL; i++) {
		v = cJSON_GetObjectItemCaseSensitive(v, path[i]);
		leaf = path[i];
	}
	if (v == NULL) {
		log_errx("effective config lacks '%s'", leaf);
		resp_cp_error(rs, CP_EIO, "internal error");
	} else {
		/* the quota-exceeded leaves answer under their own name (DESIGN 5) */
		resp_keyed(rs, leaf, v);
	}
	cJSON_Delete(all);
}

int
h_tx_set(struct cfg_tx *tx, const char *const *path, const cJSON *value)
{
	cJSON *cur = NULL;
	char err[256];
	bool same;

	if (yaml_get_json(tx->text, tx->len, path, &cur, err, sizeof(err)) == CP_OK) {
		same = json_equal(cur, value);
		cJSON_Delete(cur);
		if (same)
			return CP_OK;
	}
	return cfg_tx_set(tx, path, value);
}

void
h_scalar_get(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const struct scalar_desc *d = arg;

	h_get_path(rq, rs, d->path);
}

struct scalar_edit {
	const struct scalar_desc *d; /* what */
	const cJSON *value;          /* new value (borrowed) */
	bool ran;                    /* the callback was reached */
};

static int
scalar_fn(struct cfg_tx *tx, void *arg)
{
	struct scalar_edit *e = arg;

	e->ran = true;
	return h_tx_set(tx, e->d->path, e->value);
}

static void
commit(struct mgmt_req *rq, struct mgmt_resp *rs, const struct scalar_desc *d,
    const cJSON *value)
{
	struct scalar_edit e = { d, value, false };
	char err[256] = "";
	int rc = cfg_transact(rq->st->config_path, scalar_fn, &e, err, sizeof(err));

	if (rc != CP_OK)
		resp_tx_error(rs, rc, e.ran, err);
	else
		resp_ok(rs);
}

void
h_scalar_set(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const struct scalar_desc *d = arg;
	cJSON *body = NULL, *value = NULL;
	int rc;

	if (req_json(rq, rs, &body) != CP_OK)
		goto out;
	/* DESIGN 5: {"value": <typed>}; missing or mistyped is "invalid body" */
	if (!cJSON_IsObject(body)) {
		resp_cp_error(rs, CP_EINVAL, "invalid body");
		goto out;
	}
	switch (d->type) {
	case SCALAR_BOOL: {
		bool b;

		if (json_get_bool(body, "value", &b) != CP_OK) {
			resp_cp_error(rs, CP_EINVAL, "invalid body");
			goto out;
		}
		value = cJSON_CreateBool(b);
		break;
	}
	case SCALAR_INT: {
		long long n;

		rc = json_get_int(body, "value", d->min, d->max, &n);
		if (rc == CP_EINVAL) {
			resp_cp_error(rs, CP_EINVAL, d->invalid);
			goto out;
		}
		if (rc != CP_OK) {
			resp_cp_error(rs, CP_EINVAL, "invalid body");
			goto out;
		}
		value = cJSON_CreateNumber((double)n);
		break;
	}
	case SCALAR_STRING: {
		const char *s;

		if (json_get_string(body, "value", &s) != CP_OK) {
			resp_cp_error(rs, CP_EINVAL, "invalid body");
			goto out;
		}
		if (d->valid != NULL && !d->valid(s)) {
			resp_cp_error(rs, CP_EINVAL, d->invalid);
			goto out;
		}
		value = cJSON_CreateString(s);
		break;
	}
	}
	if (value == NULL) {
		resp_cp_error(rs, CP_ENOMEM, NULL);
		goto out;
	}
	commit(rq, rs, d, value);
out:
	cJSON_Delete(value);
	cJSON_Delete(body);
}

void
h_scalar_clear(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	const struct scalar_desc *d = arg;
	cJSON *value;

	switch (d->type) {
	case SCALAR_BOOL:
		value = cJSON_CreateFalse();
		break;
	case SCALAR_INT:
		value = cJSON_CreateNumber((double)d->min);
		break;
	case SCALAR_STRING:
	default:
		value = cJSON_CreateString("");
		break;
	}
	if (value == NULL) {
		resp_cp_error(rs, CP_ENOMEM, NULL);
		return;
	}
	commit(rq, rs, d, value);
	cJSON_Delete(value);
}
