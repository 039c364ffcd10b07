/*
 * h_config.c - the whole config (issue 13): GET /config (the effective
 * config as JSON, unknown keys as read, never the management key), GET and
 * PUT /config.yaml (the file's text with the management key replaced by a
 * placeholder; a whole-file replace that keeps the protected keys), and the
 * history: GET /config/history, POST /config/history/{id}/restore.
 *
 * Protected keys (DESIGN 5: "cannot be changed via API"): remote-
 * management.allow-remote, remote-management.secret-key and their flat
 * aliases. A whole-file write keeps the values the file has now by
 * splicing the file's own bytes of each value into the new text, so a
 * GET-then-PUT round trip is byte-identical (the placeholder never reaches
 * the disk).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt.h"

static const char *const protected_paths[][3] = {
	{ "remote-management", "allow-remote", NULL },
	{ "remote-management", "secret-key", NULL },
	{ "allow-remote-management", NULL, NULL },
	{ "remote-management-key", NULL, NULL },
};
#define N_PROTECTED (sizeof(protected_paths) / sizeof(protected_paths[0]))

/* The paths that hold the management key (hidden by GET /config.yaml). */
static bool
is_secret_path(const char *const *p)
{
	return (p[1] != NULL && strcmp(p[1], "secret-key") == 0) ||
	    strcmp(p[0], "remote-management-key") == 0;
}

static const struct ynode *
node_at(const struct ydoc *d, const char *const *path)
{
	const struct ynode *n = ydoc_root(d);

	for (size_t i = 0; path[i] != NULL && n != NULL; i++)
		n = ynode_get(n, path[i]);
	return n;
}

/* text[0..len) with [start, end) replaced by rep; caller frees. */
static char *
splice(const char *text, size_t len, size_t start, size_t end, const char *rep,
    size_t replen, size_t *outlen)
{
	struct buf b;

	buf_init(&b, CP_CONFIG_MAX * 2);
	if (buf_append(&b, text, start) != CP_OK || buf_append(&b, rep, replen) != CP_OK ||
	    buf_append(&b, text + end, len - end) != CP_OK || b.p == NULL) {
		buf_release(&b);
		return NULL;
	}
	return buf_steal(&b, outlen);
}

static void
free_text(char *t, size_t len)
{
	if (t != NULL)
		cp_wipe(t, len);
	free(t);
}

static void
kept_add(cJSON *kept, const char *key)
{
	cJSON *s;

	cJSON_ArrayForEach(s, kept)
		if (strcmp(s->valuestring, key) == 0)
			return;
	cJSON_AddItemToArray(kept, cJSON_CreateString(key));
}

/*
 * New text = body with every protected value as cur has it. *out is the
 * caller's; kept collects the top-level keys where the body asked for
 * something else (the placeholder asks for nothing). CP_EPARSE / CP_EINVAL
 * with err when a text does not parse or a value cannot be put back.
 */
static int
protect(const char *cur, size_t curlen, const char *body, size_t blen, cJSON *kept,
    char **out, size_t *outlen, char *err, size_t errlen)
{
	struct ydoc *dc = NULL, *db = NULL;
	char *t = NULL, *nt = NULL;
	size_t tlen = 0, ntlen = 0;
	cJSON *v = NULL;
	int rc;

	*out = NULL;
	if ((rc = ydoc_parse(cur, curlen, &dc, err, errlen)) != CP_OK)
		goto out;
	if ((t = cp_strndup(body, blen)) == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	tlen = blen;
	for (size_t i = 0; i < N_PROTECTED; i++) {
		const char *const *p = protected_paths[i];
		const struct ynode *nc = node_at(dc, p), *nb;
		bool placeholder;

		ydoc_free(db);
		db = NULL;
		if ((rc = ydoc_parse(t, tlen, &db, err, errlen)) != CP_OK)
			goto out;
		nb = node_at(db, p);
		placeholder = nb != NULL && nb->kind == YN_SCALAR && is_secret_path(p) &&
		    strcmp(nb->s, MGMT_SECRET_PLACEHOLDER) == 0;
		nt = NULL;
		if (nc != NULL && nb != NULL) {
			if (nb->end - nb->start == nc->end - nc->start &&
			    memcmp(t + nb->start, cur + nc->start, nc->end - nc->start) == 0)
				continue;
			nt = splice(t, tlen, nb->start, nb->end, cur + nc->start,
			    nc->end - nc->start, &ntlen);
		} else if (nc != NULL) {
			if ((v = ynode_to_json(nc)) == NULL) {
				rc = CP_ENOMEM;
				goto out;
			}
			rc = yaml_set(t, tlen, p, v, &nt, &ntlen, err, errlen);
			cJSON_Delete(v);
			v = NULL;
			if (rc != CP_OK)
				goto out;
		} else if (nb != NULL) {
			rc = yaml_delete(t, tlen, p, &nt, &ntlen, err, errlen);
			if (rc != CP_OK)
				goto out;
		} else {
			continue;
		}
		if (nt == NULL) {
			rc = CP_ENOMEM;
			goto out;
		}
		if (!placeholder)
			kept_add(kept, p[0]);
		free_text(t, tlen);
		t = nt;
		tlen = ntlen;
	}
	*out = t;
	*outlen = tlen;
	t = NULL;
	rc = CP_OK;
out:
	free_text(t, tlen);
	ydoc_free(dc);
	ydoc_free(db);
	return rc;
}

/* ------------------------------------------------------- GET /config */

static bool
stale(struct mgmt_req *rq, struct mgmt_resp *rs)
{
	char msg[320];

	if (!rq->cfg_stale)
		return false;
	snprintf(msg, sizeof(msg), "failed to load config: %s", rq->cfg_err);
	resp_cp_error(rs, CP_EIO, msg);
	return true;
}

/* Keys of the file the model does not know, as read (DESIGN 3: unknown
 * keys are kept; issue 13: included). The flat aliases are shown through
 * their nested form, the management key never. */
static bool
add_unknown(cJSON *j, const char *text, size_t len)
{
	struct ydoc *d = NULL;
	const struct ynode *r;
	char err[128];
	bool ok = true;

	if (text == NULL || ydoc_parse(text, len, &d, err, sizeof(err)) != CP_OK)
		return true;  /* the model loaded from it: not reached */
	r = ydoc_root(d);
	for (size_t i = 0; r != NULL && r->kind == YN_MAP && i + 1 < r->n && ok; i += 2) {
		const struct ynode *k = r->kids[i], *v = r->kids[i + 1];
		cJSON *have, *x;

		if (k->kind != YN_SCALAR || strcmp(k->s, "allow-remote-management") == 0 ||
		    strcmp(k->s, "remote-management-key") == 0)
			continue;
		have = cJSON_GetObjectItemCaseSensitive(j, k->s);
		if (have != NULL && !(cJSON_IsObject(have) && v->kind == YN_MAP))
			continue;
		if (have == NULL) {
			ok = (x = ynode_to_json(v)) != NULL && cJSON_AddItemToObject(j, k->s, x);
			continue;
		}
		/* a known mapping: its unknown members */
		for (size_t m = 0; m + 1 < v->n && ok; m += 2) {
			const struct ynode *ck = v->kids[m];

			if (ck->kind != YN_SCALAR || strcmp(ck->s, "secret-key") == 0 ||
			    cJSON_GetObjectItemCaseSensitive(have, ck->s) != NULL)
				continue;
			ok = (x = ynode_to_json(v->kids[m + 1])) != NULL &&
			    cJSON_AddItemToObject(have, ck->s, x);
		}
	}
	ydoc_free(d);
	return ok;
}

void
h_config_get(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	cJSON *j = NULL;
	char *sd = NULL, rl[4200];

	(void)arg;
	if (stale(rq, rs))
		return;
	if ((j = cfg_to_json(rq->cfg, false)) == NULL ||
	    !add_unknown(j, rq->st->text, rq->st->text_len) ||
	    (sd = cfg_state_dir(rq->cfg, rq->st->config_path)) == NULL)
		goto nomem;
	/* effective values of the two directories (DESIGN 3 defaults) */
	snprintf(rl, sizeof(rl), "%s/requests", sd);
	if (!cJSON_ReplaceItemInObjectCaseSensitive(j, "state-dir", cJSON_CreateString(sd)) ||
	    (rq->cfg->request_log_dir[0] == '\0' &&
	    !cJSON_ReplaceItemInObjectCaseSensitive(j, "request-log-dir", cJSON_CreateString(rl))))
		goto nomem;
	resp_json(rs, 200, j);
	goto out;
nomem:
	resp_cp_error(rs, CP_ENOMEM, NULL);
out:
	free(sd);
	cJSON_Delete(j);
}

/* -------------------------------------------------- GET /config.yaml */

void
h_config_yaml_get(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	struct mgmt_state *st = rq->st;
	struct ydoc *d = NULL;
	char *t = NULL, err[256];
	size_t tlen = 0;
	int rc;

	(void)arg;
	if (stale(rq, rs))
		return;
	if ((t = cp_strndup(st->text != NULL ? st->text : "", st->text_len)) == NULL)
		goto nomem;
	tlen = st->text_len;
	/* every spelling of the key: the nested one wins, the flat one may be
	 * there too (DESIGN 3) */
	for (size_t i = 0; i < N_PROTECTED; i++) {
		const struct ynode *n;
		char *nt;
		size_t ntlen;

		if (!is_secret_path(protected_paths[i]))
			continue;
		ydoc_free(d);
		d = NULL;
		if ((rc = ydoc_parse(t, tlen, &d, err, sizeof(err))) != CP_OK) {
			log_warnx("cannot hide the management key: %s", err);
			resp_cp_error(rs, CP_EIO, "internal error");
			goto out;
		}
		n = node_at(d, protected_paths[i]);
		if (n == NULL || n->kind != YN_SCALAR)
			continue;
		nt = splice(t, tlen, n->start, n->end, "\"" MGMT_SECRET_PLACEHOLDER "\"",
		    sizeof(MGMT_SECRET_PLACEHOLDER) + 1, &ntlen);
		if (nt == NULL)
			goto nomem;
		free_text(t, tlen);
		t = nt;
		tlen = ntlen;
	}
	buf_reset(&rs->body);
	if (buf_append(&rs->body, t, tlen) != CP_OK) {
		resp_cp_error(rs, CP_EIO, "config too large");
		goto out;
	}
	rs->status = 200;
	rs->is_json = false;
	resp_header(rs, "Content-Type", "application/yaml; charset=utf-8");
	goto out;
nomem:
	resp_cp_error(rs, CP_ENOMEM, NULL);
out:
	ydoc_free(d);
	free_text(t, tlen);
}

/* ------------------------------------------- PUT /config.yaml, restore */

struct whole_edit {
	const char *text;          /* new file as asked (borrowed) */
	size_t len;                /* its length */
	cJSON *kept;               /* protected keys put back */
	bool ran;                  /* the callback was reached */
};

static int
whole_fn(struct cfg_tx *tx, void *arg)
{
	struct whole_edit *e = arg;
	char *out = NULL;
	size_t outlen = 0;
	int rc;

	e->ran = true;
	rc = protect(tx->text, tx->len, e->text, e->len, e->kept, &out, &outlen, tx->err,
	    sizeof(tx->err));
	if (rc != CP_OK)
		return rc == CP_ENOMEM ? rc : CP_EINVAL;
	if (outlen == tx->len && memcmp(out, tx->text, outlen) == 0) {
		/* the same file: nothing to write, nothing to reload */
		free_text(out, outlen);
		return CP_OK;
	}
	tx->out = out;
	tx->outlen = outlen;
	return CP_OK;
}

/* Run the whole-file change and answer {"status":"ok","kept":[...]}. */
static void
whole_commit(struct mgmt_req *rq, struct mgmt_resp *rs, const char *text, size_t len,
    const char *restored)
{
	struct whole_edit e = { text, len, cJSON_CreateArray(), false };
	char err[256] = "";
	cJSON *o = NULL;
	int rc;

	if (e.kept == NULL) {
		resp_cp_error(rs, CP_ENOMEM, NULL);
		return;
	}
	rc = chg_config(rq, rs, whole_fn, &e, restored, err, sizeof(err));
	if (rc != CP_OK) {
		/* a text refused while being put together is the client's */
		resp_tx_error(rs, rc, e.ran, err);
		goto out;
	}
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "status", "ok") == NULL ||
	    !cJSON_AddItemToObject(o, "kept", e.kept)) {
		resp_cp_error(rs, CP_ENOMEM, NULL);
		goto out;
	}
	e.kept = NULL;
	resp_json(rs, 200, o);
out:
	cJSON_Delete(o);
	cJSON_Delete(e.kept);
}

void
h_config_yaml_put(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	struct cfg *c = NULL;
	char err[256] = "";
	int rc;

	(void)arg;
	rc = req_read_body_max(rq, MGMT_YAML_BODY_MAX);
	if (rc == CP_ETOOBIG) {
		resp_cp_error(rs, CP_ETOOBIG, "request body too large");
		return;
	}
	if (rc != CP_OK) {
		resp_cp_error(rs, CP_EINVAL, "invalid body");
		return;
	}
	/* Parsed and validated before anything else: 400 with the line and
	 * the reason, nothing written (issue 13). The result is validated
	 * again under the lock, with the protected keys put back. */
	if (!utf8_valid(rq->body, rq->body_len) || memchr(rq->body, '\0', rq->body_len) != NULL) {
		resp_cp_error(rs, CP_EINVAL, "config must be UTF-8 text without NUL bytes");
		return;
	}
	rc = cfg_parse(rq->body, rq->body_len, &c, err, sizeof(err));
	cfg_free(c);
	if (rc != CP_OK) {
		resp_cp_error(rs, rc == CP_ENOMEM ? CP_ENOMEM : CP_EINVAL,
		    err[0] != '\0' ? err : "invalid config");
		return;
	}
	whole_commit(rq, rs, rq->body, rq->body_len, NULL);
}

void
h_history_list(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	cJSON *o = cJSON_CreateObject(), *l = hist_list(rq->st->config_path);

	(void)arg;
	if (o == NULL || l == NULL || !cJSON_AddItemToObject(o, "history", l)) {
		cJSON_Delete(l);
		resp_cp_error(rs, CP_ENOMEM, NULL);
	} else {
		resp_json(rs, 200, o);
	}
	cJSON_Delete(o);
}

void
h_history_restore(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	(void)arg;
	if (!hist_id_ok(rq->param)) {
		resp_cp_error(rs, CP_EINVAL, "invalid history id");
		return;
	}
	rc = hist_read(rq->st->config_path, rq->param, &text, &len);
	if (rc == CP_ENOTFOUND) {
		resp_cp_error(rs, CP_ENOTFOUND, "version not found");
		return;
	}
	if (rc != CP_OK) {
		resp_cp_error(rs, rc, NULL);
		return;
	}
	whole_commit(rq, rs, text, len, rq->param);
	free_text(text, len);
}
