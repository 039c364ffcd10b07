/*
 * change.c - what every accepted change of the management API does
 * besides the change itself (issue 13): If-Match judged under the config
 * lock, the previous file kept in the history, one audit line, the new
 * ETag on the answer. The change goes through cfg_transact_opts (DESIGN 4);
 * the history and audit hooks run under its lock, so their order is the
 * order of the changes.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mgmt.h"

struct chg_ctx {
	struct mgmt_req *rq;       /* the request making the change */
	struct cfg_tx_opts *o;     /* its transaction options (sha before/after) */
	const char *restored;      /* history id a restore brings back, or NULL */
	char *state_dir;           /* where the audit log is */
	struct audit_log audit;    /* open between the hooks */
	char hist_id[HIST_ID_MAX]; /* version saved by before_write, "" if none */
	cJSON *keys;               /* keys the change touches */
};

char *
chg_state_dir(const struct mgmt_req *rq)
{
	return cfg_state_dir(rq->cfg_stale ? NULL : rq->cfg, rq->st->config_path);
}

/* "2026-11-30T07:21:37.123Z": audit lines of one second stay ordered. */
static void
now_ms(char *out, size_t outlen)
{
	struct timespec ts;
	struct tm tm;
	char s[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%.20s.%03dZ", s, (int)(ts.tv_nsec / 1000000L % 1000));
}

/* The fields every audit line and history note share. The path is the
 * routed path without the query: "?value=<key>" would put a secret in
 * the log (issue 13: never a secret value). */
static cJSON *
base_entry(const struct mgmt_req *rq)
{
	cJSON *o = cJSON_CreateObject();
	char t[40];

	now_ms(t, sizeof(t));
	if (o == NULL || cJSON_AddStringToObject(o, "time", t) == NULL ||
	    cJSON_AddStringToObject(o, "client", rq->remote_addr) == NULL ||
	    cJSON_AddStringToObject(o, "method", req_method_name(rq->method) != NULL ?
	    req_method_name(rq->method) : "OTHER") == NULL ||
	    cJSON_AddStringToObject(o, "path", rq->path) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static bool
add_keys(cJSON *o, const cJSON *keys)
{
	cJSON *k = cJSON_Duplicate(keys, true);

	if (k == NULL || !cJSON_AddItemToObject(o, "keys", k)) {
		cJSON_Delete(k);
		return false;
	}
	return true;
}

static int
before_write(struct cfg_tx *tx, void *arg)
{
	struct chg_ctx *c = arg;
	cJSON *meta = NULL;
	char err[200] = "";
	int rc;

	c->keys = chg_changed_keys(tx->text, tx->len, tx->out, tx->outlen);
	if (c->keys == NULL)
		return CP_ENOMEM;
	/* Open the audit log first: a change that cannot be recorded is
	 * not made (the file is still untouched here). Its place comes from
	 * the config as read under the lock. */
	if ((c->state_dir = cfg_state_dir(tx->cfg, tx->path)) == NULL)
		return CP_ENOMEM;
	rc = audit_open(&c->audit, c->state_dir, MGMT_AUDIT_MAX, MGMT_AUDIT_KEEP, err,
	    sizeof(err));
	if (rc != CP_OK) {
		snprintf(tx->err, sizeof(tx->err), "cannot write the audit log: %s", err);
		return rc;
	}
	if ((meta = base_entry(c->rq)) == NULL || !add_keys(meta, c->keys) ||
	    (c->restored != NULL && cJSON_AddStringToObject(meta, "restored", c->restored) == NULL)) {
		cJSON_Delete(meta);
		return CP_ENOMEM;
	}
	rc = hist_save(c->rq->st->config_path, tx->text, tx->len, meta, c->hist_id,
	    sizeof(c->hist_id), err, sizeof(err));
	cJSON_Delete(meta);
	if (rc != CP_OK)
		snprintf(tx->err, sizeof(tx->err), "cannot keep the previous version: %s", err);
	return rc;
}

static void
after_write(const struct cfg_tx *tx, void *arg)
{
	struct chg_ctx *c = arg;
	cJSON *e = base_entry(c->rq);

	(void)tx;
	if (e == NULL || !add_keys(e, c->keys) ||
	    cJSON_AddStringToObject(e, "sha256-before", c->o->sha_before) == NULL ||
	    cJSON_AddStringToObject(e, "sha256-after", c->o->sha_after) == NULL ||
	    cJSON_AddStringToObject(e, "history", c->hist_id) == NULL ||
	    (c->restored != NULL && cJSON_AddStringToObject(e, "restored", c->restored) == NULL) ||
	    audit_append(&c->audit, e) != CP_OK)
		log_warnx("cannot append to the audit log in '%s'", c->state_dir);
	cJSON_Delete(e);
}

int
chg_config(struct mgmt_req *rq, struct mgmt_resp *rs, cfg_tx_fn fn, void *arg,
    const char *restored, char *err, size_t errlen)
{
	struct cfg_tx_opts o;
	struct chg_ctx c;
	char etag[ETAG_LEN + 1];
	int rc;

	memset(&o, 0, sizeof(o));
	memset(&c, 0, sizeof(c));
	c.rq = rq;
	c.o = &o;
	c.restored = restored;
	c.audit.fd = -1;
	c.audit.lk.fd = -1;
	o.if_match = req_header(rq, "HTTP_IF_MATCH");
	o.before_write = before_write;
	o.after_write = after_write;
	o.hook_arg = &c;
	rc = cfg_transact_opts(rq->st->config_path, &o, fn, arg, err, errlen);
	audit_close(&c.audit);
	/* the change did not happen after all: its "previous version" is
	 * the current file */
	if (!o.written && c.hist_id[0] != '\0')
		hist_remove(rq->st->config_path, c.hist_id);
	if (rc == CP_OK) {
		etag_of_sha(o.sha_after, etag, sizeof(etag));
		resp_etag(rs, etag);
	}
	cJSON_Delete(c.keys);
	free(c.state_dir);
	return rc;
}

void
chg_audit_files(struct mgmt_req *rq, const char *name, size_t n)
{
	struct audit_log a = AUDIT_INIT;
	char *dir = chg_state_dir(rq), err[200] = "";
	cJSON *e = base_entry(rq), *files = NULL;

	if (dir == NULL || e == NULL)
		goto fail;
	if (name != NULL) {
		if ((files = cJSON_AddArrayToObject(e, "files")) == NULL ||
		    !cJSON_AddItemToArray(files, cJSON_CreateString(name)))
			goto fail;
	} else if (cJSON_AddNumberToObject(e, "files-deleted", (double)n) == NULL) {
		goto fail;
	}
	if (audit_open(&a, dir, MGMT_AUDIT_MAX, MGMT_AUDIT_KEEP, err, sizeof(err)) != CP_OK ||
	    audit_append(&a, e) != CP_OK)
		goto fail;
	goto out;
fail:
	log_warnx("cannot append to the audit log in '%s': %s", dir != NULL ? dir : "?", err);
out:
	audit_close(&a);
	cJSON_Delete(e);
	free(dir);
}

/* ------------------------------------------------------- what changed */

#define CHG_KEYS_MAX 256          /* changed keys named in one audit line */

static bool
keys_add(cJSON *out, const char *parent, const char *key)
{
	char name[512];
	cJSON *s;

	if (parent != NULL)
		snprintf(name, sizeof(name), "%s.%s", parent, key);
	else
		snprintf(name, sizeof(name), "%s", key);
	/* The audit line is bounded: past CHG_KEYS_MAX changed keys the rest
	 * are not named (a whole-file PUT may change 100,000). */
	if (cJSON_GetArraySize(out) >= CHG_KEYS_MAX)
		return true;
	/* a key given twice in a changed text is one change */
	cJSON_ArrayForEach(s, out)
		if (strcmp(s->valuestring, name) == 0)
			return true;
	s = cJSON_CreateString(name);
	if (s == NULL || !cJSON_AddItemToArray(out, s)) {
		cJSON_Delete(s);
		return false;
	}
	return true;
}

/* The value of key in mapping m through its index (NULL if absent). */
static const struct ynode *
ix_get(const struct ynode *m, const struct map_ix *ix, size_t n, const char *key)
{
	long pi = ynode_map_index_find(ix, n, key);

	return pi >= 0 ? m->kids[pi + 1] : NULL;
}

/* Compare the values of every key of mapping a or b (a's order, then b's
 * new keys); descend one level where both are mappings and parent is NULL
 * ("quota-exceeded.switch-project"). Lookups go through sorted indexes:
 * a file of 100,000 keys took minutes with ynode_get's scan. */
static bool
diff_maps(const struct ynode *a, const struct ynode *b, const char *parent, cJSON *out)
{
	const struct ynode *maps[2] = { a, b };
	struct map_ix *ixa = NULL, *ixb = NULL;
	size_t na = 0, nb = 0;
	bool ok = false;

	if ((a != NULL && a->kind == YN_MAP && ynode_map_index(a, &ixa, &na) != CP_OK) ||
	    (b != NULL && b->kind == YN_MAP && ynode_map_index(b, &ixb, &nb) != CP_OK))
		goto out;
	for (int side = 0; side < 2; side++) {
		const struct ynode *m = maps[side];

		for (size_t i = 0; m != NULL && m->kind == YN_MAP && i + 1 < m->n; i += 2) {
			const char *k = m->kids[i]->kind == YN_SCALAR ? m->kids[i]->s : NULL;
			const struct ynode *va, *vb;
			cJSON *ja, *jb;
			bool same, added = true;

			if (k == NULL)
				continue;  /* not a key of ours: cfg_parse refuses it */
			va = ix_get(a, ixa, na, k);
			vb = ix_get(b, ixb, nb, k);
			if (side == 1 && va != NULL)
				continue;  /* seen from a's side */
			if (parent == NULL && va != NULL && vb != NULL && va->kind == YN_MAP &&
			    vb->kind == YN_MAP) {
				if (!diff_maps(va, vb, k, out))
					goto out;
				continue;
			}
			ja = va != NULL ? ynode_to_json(va) : NULL;
			jb = vb != NULL ? ynode_to_json(vb) : NULL;
			if ((va != NULL && ja == NULL) || (vb != NULL && jb == NULL)) {
				cJSON_Delete(ja);
				cJSON_Delete(jb);
				goto out;
			}
			same = ja != NULL && jb != NULL && json_equal(ja, jb);
			if (!same)
				added = keys_add(out, parent, k);
			cJSON_Delete(ja);
			cJSON_Delete(jb);
			if (!added)
				goto out;
		}
	}
	ok = true;
out:
	free(ixa);
	free(ixb);
	return ok;
}

cJSON *
chg_changed_keys(const char *a, size_t alen, const char *b, size_t blen)
{
	struct ydoc *da = NULL, *db = NULL;
	cJSON *out = cJSON_CreateArray();
	char err[128];

	if (out == NULL || ydoc_parse(a, alen, &da, err, sizeof(err)) != CP_OK ||
	    ydoc_parse(b, blen, &db, err, sizeof(err)) != CP_OK ||
	    !diff_maps(ydoc_root(da), ydoc_root(db), NULL, out)) {
		cJSON_Delete(out);
		out = NULL;
	}
	ydoc_free(da);
	ydoc_free(db);
	return out;
}
