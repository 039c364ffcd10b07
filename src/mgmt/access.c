/*
 * access.c - who may use the management API (DESIGN 5 "Access control",
 * in order: no key -> 404, ban, remote, key), the per-process config cache
 * (DESIGN 4: keyed by device, inode, size, mtime) and the ban table shared
 * by every responder process: "<config dir>/.cliproxy.bans", one line per
 * address "<addr> <failures> <banned-until> <last-failure>", replaced
 * atomically under its own lock "<config dir>/.cliproxy.bans.lock".
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mgmt.h"

#define BAN_ADDR_MAX 64            /* textual address bytes (IPv6 + zone) */
#define PATH_BUF     4096          /* file paths built here */

struct ban_entry {
	char addr[BAN_ADDR_MAX];   /* client address as REMOTE_ADDR gave it */
	long fails;                /* failures in a row */
	long long until;           /* banned until (epoch seconds), 0 = not */
	long long last;            /* time of the last failure */
};

struct ban_table {
	struct ban_entry *v;       /* entries */
	size_t n;                  /* count */
};

/* ------------------------------------------------------------ config */

/* Split "a.b" into {"a", "b", NULL} (keys of our YAML hold no dots). */
static int
split_path(const char *s, char *store, size_t storelen, const char *out[4])
{
	size_t n = 0;
	char *p;

	if (strlen(s) >= storelen)
		return CP_ETOOBIG;
	snprintf(store, storelen, "%s", s);
	p = store;
	out[n++] = p;
	while ((p = strchr(p, '.')) != NULL) {
		if (n >= 3)
			return CP_EINVAL;
		*p++ = '\0';
		out[n++] = p;
	}
	out[n] = NULL;
	return CP_OK;
}

/* cfg_transact callback: replace a plaintext key by its bcrypt hash,
 * changing only that value (DESIGN 5); another process may have hashed
 * it already, which leaves nothing to do. */
static int
hash_key_fn(struct cfg_tx *tx, void *arg)
{
	const char *path[4];
	char store[128];
	char hash[PW_HASH_MAX];
	cJSON *v = NULL;
	int rc;

	(void)arg;
	if (tx->cfg->secret_key[0] == '\0' || pw_is_hash(tx->cfg->secret_key))
		return CP_OK;
	rc = split_path(tx->cfg->secret_key_path, store, sizeof(store), path);
	if (rc != CP_OK)
		goto out;
	rc = pw_hash(tx->cfg->secret_key, hash, sizeof(hash));
	if (rc != CP_OK)
		goto out;
	v = cJSON_CreateString(hash);
	if (v == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	rc = cfg_tx_set(tx, path, v);
out:
	cJSON_Delete(v);
	cp_wipe(hash, sizeof(hash));
	return rc;
}

/* The model of the file as it is now, with the bytes it came from
 * (*text, *tlen: the caller's, wiped before free: they hold keys) and
 * their sha256 (the ETag of every config-backed GET). */
static int
load_model(struct mgmt_state *st, struct fio_stamp *stamp, struct cfg **out,
    char **text, size_t *tlen, char sha[65], char *err, size_t errlen)
{
	int rc = fio_stamp(st->config_path, stamp);

	*text = NULL;
	*tlen = 0;
	sha[0] = '\0';
	if (rc == CP_ENOTFOUND) {
		/* no file yet: every default, hence no key and a 404 */
		memset(stamp, 0, sizeof(*stamp));
		return cfg_parse("", 0, out, err, errlen);
	}
	if (rc != CP_OK) {
		snprintf(err, errlen, "cannot stat '%s'", st->config_path);
		return rc;
	}
	rc = fio_read_file(st->config_path, CP_CONFIG_MAX, text, tlen);
	if (rc != CP_OK) {
		snprintf(err, errlen, "cannot read '%s': %s", st->config_path,
		    rc == CP_ETOOBIG ? "file too large" : cp_strerror(rc));
		return rc;
	}
	sha256_hex(*text, *tlen, sha);
	return cfg_parse(*text, *tlen, out, err, errlen);
}

static void
drop_text(char **text, size_t len)
{
	if (*text != NULL)
		cp_wipe(*text, len);
	free(*text);
	*text = NULL;
}

int
access_load_cfg(struct mgmt_req *rq, struct mgmt_resp *rs)
{
	struct mgmt_state *st = rq->st;
	struct fio_stamp now;
	struct cfg *c = NULL;
	char err[256] = "", sha[65];
	char *text = NULL;
	size_t tlen = 0;
	int rc;

	if (st->have_stamp && fio_stamp(st->config_path, &now) == CP_OK &&
	    fio_stamp_eq(&now, &st->stamp) && st->cfg != NULL) {
		rq->cfg = st->cfg;
		return CP_OK;
	}
	rc = load_model(st, &now, &c, &text, &tlen, sha, err, sizeof(err));
	if (rc == CP_OK && c->secret_key[0] != '\0' && !pw_is_hash(c->secret_key)) {
		char terr[256] = "";
		int trc = cfg_transact(st->config_path, hash_key_fn, NULL, terr, sizeof(terr));

		if (trc == CP_OK) {
			cfg_free(c);
			c = NULL;
			drop_text(&text, tlen);
			rc = load_model(st, &now, &c, &text, &tlen, sha, err, sizeof(err));
		} else {
			/* keep serving with the plaintext (compared in constant
			 * time below); the reason is not secret */
			log_warnx("cannot store the hashed management key in '%s': %s",
			    st->config_path, terr);
		}
	}
	if (rc != CP_OK) {
		log_warnx("cannot load '%s': %s", st->config_path, err);
		cfg_free(c);
		drop_text(&text, tlen);
		if (st->cfg == NULL) {
			char msg[320];

			/* a change that cannot even start failed to save */
			snprintf(msg, sizeof(msg), "failed to %s config: %s",
			    rq->method == MGMT_GET ? "load" : "save", err);
			resp_cp_error(rs, CP_EIO, msg);
			return rc;
		}
		/* keep the last good model for access control; GET answers
		 * say the file is broken (h_scalar.c, h_list.c) */
		rq->cfg = st->cfg;
		rq->cfg_stale = true;
		snprintf(rq->cfg_err, sizeof(rq->cfg_err), "%s", err);
		return CP_OK;
	}
	cfg_free(st->cfg);
	st->cfg = c;
	drop_text(&st->text, st->text_len);
	st->text = text;
	st->text_len = tlen;
	memcpy(st->sha, sha, sizeof(st->sha));
	st->stamp = now;
	st->have_stamp = true;
	rq->cfg = c;
	return CP_OK;
}

/* --------------------------------------------------------- ban table */

static void
ban_paths(const char *config_path, char *file, char *lockp, size_t len)
{
	const char *slash = strrchr(config_path, '/');
	int dlen = slash == NULL ? 1 : (int)(slash - config_path);
	const char *dir = slash == NULL ? "." : config_path;

	if (slash == config_path) {  /* "/config.yaml" */
		dir = "/";
		dlen = 0;
	}
	snprintf(file, len, "%.*s/.cliproxy.bans", dlen, dir);
	snprintf(lockp, len, "%.*s/.cliproxy.bans.lock", dlen, dir);
}

static void
ban_table_free(struct ban_table *t)
{
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

/* Parse the table; a malformed line is dropped (the file is ours). */
static int
ban_read(const char *file, struct ban_table *t)
{
	char *data = NULL, *line, *save = NULL;
	size_t len;
	int rc;

	t->v = NULL;
	t->n = 0;
	rc = fio_read_file(file, MGMT_BAN_FILE_MAX, &data, &len);
	if (rc == CP_ENOTFOUND)
		return CP_OK;
	if (rc != CP_OK)
		return rc;
	t->v = calloc(MGMT_BAN_MAX, sizeof(*t->v));
	if (t->v == NULL) {
		free(data);
		return CP_ENOMEM;
	}
	for (line = strtok_r(data, "\n", &save); line != NULL && t->n < MGMT_BAN_MAX;
	    line = strtok_r(NULL, "\n", &save)) {
		struct ban_entry *e = &t->v[t->n];
		char *f[4];
		size_t nf = 0;
		char *s2 = NULL, *tok;
		long long fails;

		for (tok = strtok_r(line, " ", &s2); tok != NULL && nf < 4;
		    tok = strtok_r(NULL, " ", &s2))
			f[nf++] = tok;
		if (nf != 4 || strlen(f[0]) >= sizeof(e->addr))
			continue;
		if (str_to_ll(f[1], strlen(f[1]), 0, 1000000, &fails) != CP_OK ||
		    str_to_ll(f[2], strlen(f[2]), 0, 0x7fffffffffffLL, &e->until) != CP_OK ||
		    str_to_ll(f[3], strlen(f[3]), 0, 0x7fffffffffffLL, &e->last) != CP_OK)
			continue;
		snprintf(e->addr, sizeof(e->addr), "%s", f[0]);
		e->fails = (long)fails;
		t->n++;
	}
	free(data);
	return CP_OK;
}

static int
ban_write(const char *file, const struct ban_table *t, long long now)
{
	struct buf b;
	char err[128];
	int rc = CP_OK;

	buf_init(&b, MGMT_BAN_FILE_MAX);
	for (size_t i = 0; i < t->n && rc == CP_OK; i++) {
		const struct ban_entry *e = &t->v[i];

		/* forget expired bans and stale failure counts */
		if (e->addr[0] == '\0' || (e->until <= now && e->fails == 0))
			continue;
		rc = buf_printf(&b, "%s %ld %lld %lld\n", e->addr, e->fails, e->until, e->last);
	}
	if (rc == CP_OK)
		rc = fio_write_atomic(file, b.p != NULL ? b.p : "", b.len, 0600, err, sizeof(err));
	if (rc != CP_OK)
		log_warnx("cannot write the ban table '%s': %s", file, err);
	buf_release(&b);
	return rc;
}

static struct ban_entry *
ban_find(struct ban_table *t, const char *addr)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].addr, addr) == 0)
			return &t->v[i];
	return NULL;
}

long
access_ban_remaining(const char *config_path, const char *addr)
{
	char file[PATH_BUF], lockp[PATH_BUF];
	struct ban_table t;
	struct ban_entry *e;
	long long now = (long long)time(NULL);
	long left = 0;

	ban_paths(config_path, file, lockp, sizeof(file));
	/* readers never lock: the table is replaced by rename (DESIGN 4) */
	if (ban_read(file, &t) != CP_OK)
		return 0;
	e = ban_find(&t, addr);
	if (e != NULL && e->until > now)
		left = (long)(e->until - now);
	ban_table_free(&t);
	return left;
}

/* Count a failure (failed = true) or forget the address (a success). */
static void
ban_record(const struct mgmt_state *st, const char *addr, bool failed)
{
	char file[PATH_BUF], lockp[PATH_BUF];
	struct lock l = LOCK_INIT;
	struct ban_table t = { NULL, 0 };
	struct ban_entry *e;
	long long now = (long long)time(NULL);

	if (strlen(addr) >= BAN_ADDR_MAX || strpbrk(addr, " \n") != NULL)
		return;
	ban_paths(st->config_path, file, lockp, sizeof(file));
	if (!failed) {
		/* the common case, a success with no record, takes no lock */
		if (ban_read(file, &t) != CP_OK || ban_find(&t, addr) == NULL)
			goto out;
		ban_table_free(&t);
	}
	if (lock_acquire(&l, lockp, CP_LOCK_TIMEOUT_MS) != CP_OK) {
		log_warnx("cannot lock the ban table '%s'", lockp);
		goto out;
	}
	if (ban_read(file, &t) != CP_OK)
		goto out;
	if (t.v == NULL && (t.v = calloc(MGMT_BAN_MAX, sizeof(*t.v))) == NULL)
		goto out;
	e = ban_find(&t, addr);
	if (!failed) {
		if (e != NULL)
			e->addr[0] = '\0';
		(void)ban_write(file, &t, now);
		goto out;
	}
	if (e == NULL) {
		if (t.n >= MGMT_BAN_MAX) {
			/* full: reuse the entry with the oldest failure that is
			 * not banned, else the oldest of all */
			size_t victim = 0;

			for (size_t i = 1; i < t.n; i++) {
				bool vb = t.v[victim].until > now, ib = t.v[i].until > now;

				if ((vb && !ib) || (vb == ib && t.v[i].last < t.v[victim].last))
					victim = i;
			}
			e = &t.v[victim];
		} else {
			e = &t.v[t.n++];
		}
		memset(e, 0, sizeof(*e));
		snprintf(e->addr, sizeof(e->addr), "%s", addr);
	}
	if (e->until != 0 && e->until <= now) {
		e->until = 0;  /* an expired ban starts a new count */
		e->fails = 0;
	}
	e->fails++;
	e->last = now;
	if (e->fails >= MGMT_BAN_FAILS) {
		e->until = now + st->ban_seconds;
		e->fails = 0;
		log_warnx("banning '%s' for %lds after %d failed management logins",
		    addr, st->ban_seconds, MGMT_BAN_FAILS);
	}
	(void)ban_write(file, &t, now);
out:
	lock_release(&l);
	ban_table_free(&t);
}

/* ------------------------------------------------------- access check */

/* The key a client presented: "Authorization: Bearer <key>" (any other
 * Authorization value counts as a wrong key, as in the original), else
 * X-Management-Key. NULL if none. */
static const char *
presented_key(const struct mgmt_req *rq)
{
	const char *a = req_env(rq, "HTTP_AUTHORIZATION");
	const char *x = req_env(rq, "HTTP_X_MANAGEMENT_KEY");

	if (a != NULL) {
		while (*a == ' ' || *a == '\t')
			a++;
		if (strncasecmp(a, "Bearer ", 7) == 0) {
			a += 7;
			while (*a == ' ' || *a == '\t')
				a++;
		}
		if (*a != '\0')
			return a;
	}
	if (x != NULL && x[0] != '\0')
		return x;
	return NULL;
}

/* Benchmark-only switch (bench/run, issue 7): CLIPROXY_NO_KEY_MEMO=1 in
 * the responder's environment turns the verified-key memory off, so every
 * request pays a full bcrypt as the original Go server does. Never set it
 * in a deployment: it only makes the API slower. */
static bool
memo_disabled(void)
{
	static int disabled = -1;   /* read once per process */

	if (disabled < 0) {
		const char *s = getenv("CLIPROXY_NO_KEY_MEMO");

		disabled = s != NULL && strcmp(s, "1") == 0;
	}
	return disabled != 0;
}

static bool
key_matches(struct mgmt_state *st, const char *key, const char *secret)
{
	size_t klen = strlen(key);

	/* trailing blanks of a header value are not part of the key */
	while (klen > 0 && (key[klen - 1] == ' ' || key[klen - 1] == '\t'))
		klen--;
	if (klen == 0 || klen > MGMT_KEY_MAX)
		return false;
	if (pw_is_hash(secret)) {
		char tmp[MGMT_KEY_MAX + 1];
		bool ok;

		memcpy(tmp, key, klen);
		tmp[klen] = '\0';
		st->memo.disabled = memo_disabled();
		ok = pw_check(&st->memo, tmp, secret);
		cp_wipe(tmp, sizeof(tmp));
		return ok;
	}
	/* the plaintext could not be hashed and stored (logged once) */
	return ct_memeq(key, klen, secret, strlen(secret));
}

int
access_check(struct mgmt_req *rq, struct mgmt_resp *rs, bool skip_key)
{
	const struct cfg *c = rq->cfg;
	bool local = addr_is_loopback(rq->remote_addr);
	const char *key;
	long left;

	/* 1. no key configured: the API does not exist (spec "Authentication") */
	if (c->secret_key[0] == '\0') {
		resp_cp_error(rs, CP_ENOTFOUND, "not found");
		return CP_ENOTFOUND;
	}
	/* 2. banned (loopback never is) */
	if (!local && (left = access_ban_remaining(rq->st->config_path, rq->remote_addr)) > 0) {
		char msg[128];

		snprintf(msg, sizeof(msg),
		    "IP banned due to too many failed attempts. Try again in %lds", left);
		resp_cp_error(rs, CP_EPERM, msg);
		return CP_EPERM;
	}
	/* 3. remote clients need allow-remote */
	if (!local && !c->allow_remote) {
		resp_cp_error(rs, CP_EPERM, "remote management disabled");
		return CP_EPERM;
	}
	if (skip_key)
		return CP_OK;
	/* 4. the key */
	key = presented_key(rq);
	if (key == NULL) {
		if (!local)
			ban_record(rq->st, rq->remote_addr, true);
		resp_error(rs, 401, "missing management key");
		return CP_EPERM;
	}
	if (!key_matches(rq->st, key, c->secret_key)) {
		if (!local)
			ban_record(rq->st, rq->remote_addr, true);
		resp_error(rs, 401, "invalid management key");
		return CP_EPERM;
	}
	if (!local)
		ban_record(rq->st, rq->remote_addr, false);
	return CP_OK;
}
