/*
 * snapshot.c - the immutable, reference-counted view of config + auth-dir
 * that every request keeps for its whole life (DESIGN 6 "Reload").
 *
 * A snapshot is built completely, validated, and only then swapped in; a
 * request in flight holds a reference to the one it started with, so a
 * reload never changes anything under it. The loop is single-threaded, so
 * the count is a plain int.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxyd.h"

static struct snapshot *snap_cur;   /* the one new requests get */

/* ------------------------------------------------------------ auth-dir */

static int
auth_cmp(const void *a, const void *b)
{
	const struct authfile *x = a, *y = b;

	return strcmp(x->name, y->name);
}

void
snapshot_auth_free(struct authfile *v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].type);
		cJSON_Delete(v[i].json);
	}
	free(v);
}

/* The raw bytes of each file are hashed after sorting, so keep them until
 * then beside the parsed form. */
struct raw_auth {
	char *name;
	char *data;
	size_t len;
};

static int
raw_cmp(const void *a, const void *b)
{
	const struct raw_auth *x = a, *y = b;

	return strcmp(x->name, y->name);
}

int
snapshot_read_auth(const char *dir, struct authfile **out, size_t *n, char sha[65],
    bool *dir_ok)
{
	struct sha256_ctx hc;
	uint8_t dg[SHA256_LEN];
	struct raw_auth *raw = NULL;
	struct authfile *v = NULL;
	size_t nraw = 0, cap = 0, i, nv = 0, over = 0, invalid = 0;
	struct dirent *de;
	DIR *d = NULL;
	int dfd = -1, rc = CP_OK;
	static const char hexd[] = "0123456789abcdef";

	*out = NULL;
	*n = 0;
	*dir_ok = false;
	sha256_init(&hc);
	if ((d = opendir(dir)) == NULL) {
		/* A missing auth-dir is an empty one (DESIGN 6: it may be
		 * deleted and re-created); the watcher waits for it. */
		if (errno != ENOENT && errno != ENOTDIR)
			log_warn("cannot open auth-dir '%s'", dir);
		goto hash;
	}
	*dir_ok = true;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		char *data = NULL;
		size_t len = 0;
		int r;

		/* DESIGN 4: dot-files (our temps, the lock) are invisible. */
		if (de->d_name[0] == '.' ||
		    !authstore_name_ok(de->d_name, strlen(de->d_name)))
			continue;
		if (nraw >= PXD_AUTH_FILES_MAX) {
			/* counted, not read: the status says how many (issue 10
			 * item 7); the management API refuses to add more */
			struct stat st;

			if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			    S_ISREG(st.st_mode))
				over++;
			continue;
		}
		r = fio_read_at(dfd, de->d_name, CP_AUTHFILE_MAX, &data, &len);
		if (r != CP_OK) {
			/* Symlinks, directories, vanished or oversized files. */
			if (r != CP_ENOTFOUND && r != CP_EPERM)
				log_warnx("auth file '%s': %s", de->d_name, cp_strerror(r));
			continue;
		}
		if (nraw == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct raw_auth *t = realloc(raw, ncap * sizeof(*t));

			if (t == NULL) {
				free(data);
				rc = CP_ENOMEM;
				goto out;
			}
			raw = t;
			cap = ncap;
		}
		raw[nraw].name = cp_strdup(de->d_name);
		raw[nraw].data = data;
		raw[nraw].len = len;
		if (raw[nraw].name == NULL) {
			free(data);
			rc = CP_ENOMEM;
			goto out;
		}
		nraw++;
	}
	if (over > 0)
		log_warnx("auth-dir '%s': more than %d files, %zu ignored", dir,
		    PXD_AUTH_FILES_MAX, over);
	if (nraw > 0)
		qsort(raw, nraw, sizeof(*raw), raw_cmp);
	if (nraw > 0 && (v = calloc(nraw, sizeof(*v))) == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	for (i = 0; i < nraw; i++) {
		cJSON *j = NULL;
		const char *type = NULL;
		uint64_t l = raw[i].len;

		sha256_update(&hc, raw[i].name, strlen(raw[i].name) + 1);
		sha256_update(&hc, &l, sizeof(l));
		sha256_update(&hc, raw[i].data, raw[i].len);
		if (json_parse_strict(raw[i].data, raw[i].len, &j) != CP_OK ||
		    !cJSON_IsObject(j)) {
			log_warnx("auth file '%s' is not a JSON object, ignored", raw[i].name);
			cJSON_Delete(j);
			invalid++;
			continue;
		}
		if (json_get_string(j, "type", &type) != CP_OK)
			type = "gemini"; /* DESIGN 6: gemini is the default type */
		v[nv].name = raw[i].name;
		raw[i].name = NULL;
		v[nv].type = cp_strdup(type);
		v[nv].json = j;
		if (v[nv].type == NULL) {
			nv++;
			rc = CP_ENOMEM;
			goto out;
		}
		nv++;
	}
	if (nv > 1)
		qsort(v, nv, sizeof(*v), auth_cmp);
hash:
	status_ctr.auth_over_cap = over;
	status_ctr.auth_invalid = invalid;
	sha256_final(&hc, dg);
	for (i = 0; i < SHA256_LEN; i++) {
		sha[2 * i] = hexd[dg[i] >> 4];
		sha[2 * i + 1] = hexd[dg[i] & 15];
	}
	sha[64] = '\0';
out:
	for (i = 0; i < nraw; i++) {
		free(raw[i].name);
		free(raw[i].data);
	}
	free(raw);
	if (d != NULL)
		closedir(d);
	if (rc != CP_OK) {
		snapshot_auth_free(v, nv);
		return rc;
	}
	*out = v;
	*n = nv;
	return CP_OK;
}

/* ------------------------------------------------------------ building */

static void
snap_free(struct snapshot *s)
{
	size_t i, j;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_provs; i++) {
		struct prov *p = &s->provs[i];

		for (j = 0; j < p->n_creds; j++) {
			relay_headers_free(p->creds[j].hdrs[0]);
			relay_headers_free(p->creds[j].hdrs[1]);
			if (p->creds[j].secret != NULL) {
				cp_wipe(p->creds[j].secret, strlen(p->creds[j].secret));
				free(p->creds[j].secret);
			}
		}
		free(p->creds);
		free(p->name);
		free(p->base_url);
	}
	free(s->provs);
	for (i = 0; i < s->n_models; i++) {
		for (j = 0; j < s->models[i].n; j++)
			free(s->models[i].t[j].upstream);
		free(s->models[i].t);
		free(s->models[i].alias);
	}
	free(s->models);
	snapshot_auth_free(s->auth, s->n_auth);
	free(s->auth_dir);
	if (s->cfg != NULL)
		cfg_free(s->cfg);
	free(s->cfg_text);
	free(s);
}

static void
cred_id(const char *kind, const char *name, const char *secret, char out[65])
{
	struct sha256_ctx c;
	uint8_t dg[SHA256_LEN];
	static const char hexd[] = "0123456789abcdef";
	size_t i;

	sha256_init(&c);
	sha256_update(&c, kind, strlen(kind) + 1);
	sha256_update(&c, name, strlen(name) + 1);
	sha256_update(&c, secret, strlen(secret));
	sha256_final(&c, dg);
	for (i = 0; i < SHA256_LEN; i++) {
		out[2 * i] = hexd[dg[i] >> 4];
		out[2 * i + 1] = hexd[dg[i] & 15];
	}
	out[64] = '\0';
	cp_wipe(&c, sizeof(c));
}

static struct route_model *
model_find_mut(struct snapshot *s, const char *alias)
{
	size_t i;

	/* Linear while building (the table is sorted afterwards). */
	for (i = 0; i < s->n_models; i++)
		if (strcmp(s->models[i].alias, alias) == 0)
			return &s->models[i];
	return NULL;
}

static int
model_add(struct snapshot *s, size_t *cap, const char *alias, struct prov *p,
    const char *upstream)
{
	struct route_model *m;
	struct model_target *t;

	if ((m = model_find_mut(s, alias)) == NULL) {
		if (s->n_models == *cap) {
			size_t ncap = *cap ? *cap * 2 : 8;
			struct route_model *nm = realloc(s->models, ncap * sizeof(*nm));

			if (nm == NULL)
				return CP_ENOMEM;
			s->models = nm;
			*cap = ncap;
		}
		m = &s->models[s->n_models];
		memset(m, 0, sizeof(*m));
		if ((m->alias = cp_strdup(alias)) == NULL)
			return CP_ENOMEM;
		s->n_models++;
	}
	/* The same provider listed twice for one alias adds nothing. */
	for (size_t i = 0; i < m->n; i++)
		if (m->t[i].prov == p && strcmp(m->t[i].upstream, upstream) == 0)
			return CP_OK;
	if ((t = realloc(m->t, (m->n + 1) * sizeof(*t))) == NULL)
		return CP_ENOMEM;
	m->t = t;
	t[m->n].prov = p;
	if ((t[m->n].upstream = cp_strdup(upstream)) == NULL)
		return CP_ENOMEM;
	m->n++;
	return CP_OK;
}

static int
model_cmp(const void *a, const void *b)
{
	const struct route_model *x = a, *y = b;

	return strcmp(x->alias, y->alias);
}

static int
build_compat(struct snapshot *s)
{
	const struct cfg *c = s->cfg;
	size_t i, j, mcap = 0;
	int rc;

	if (c->n_compat == 0)
		return CP_OK;
	if ((s->provs = calloc(c->n_compat, sizeof(*s->provs))) == NULL)
		return CP_ENOMEM;
	for (i = 0; i < c->n_compat; i++) {
		const struct cfg_compat *cc = &c->compat[i];
		struct prov *p = &s->provs[s->n_provs++];
		size_t bl;

		p->ops = &prov_openai_compat;
		p->name = cp_strdup(cc->name);
		p->base_url = cp_strdup(cc->base_url);
		if (p->name == NULL || p->base_url == NULL)
			return CP_ENOMEM;
		/* "https://x/v1/" + "/chat/completions" would double the slash. */
		bl = strlen(p->base_url);
		while (bl > 0 && p->base_url[bl - 1] == '/')
			p->base_url[--bl] = '\0';
		if (cc->api_keys.n > 0 &&
		    (p->creds = calloc(cc->api_keys.n, sizeof(*p->creds))) == NULL)
			return CP_ENOMEM;
		for (j = 0; j < cc->api_keys.n; j++) {
			const char *k = cc->api_keys.v[j];
			struct cred *cr;

			if (k == NULL || k[0] == '\0' || strlen(k) > PXD_KEY_MAX)
				continue;
			cr = &p->creds[p->n_creds];
			cr->prov = p;
			if ((cr->secret = cp_strdup(k)) == NULL)
				return CP_ENOMEM;
			cred_id(p->ops->kind, p->name, k, cr->id);
			snprintf(cr->label, sizeof(cr->label), "%.60s#%zu", p->name, j);
			p->n_creds++;
			/* Built once here, not per request (bench figure 5). */
			if ((rc = relay_cred_headers(cr, false, &cr->hdrs[0])) != CP_OK ||
			    (rc = relay_cred_headers(cr, true, &cr->hdrs[1])) != CP_OK)
				return rc;
		}
		for (j = 0; j < cc->n_models; j++) {
			const struct cfg_model_alias *ma = &cc->models[j];
			const char *alias = ma->alias[0] != '\0' ? ma->alias : ma->name;

			if (ma->name[0] == '\0')
				continue;
			if ((rc = model_add(s, &mcap, alias, p, ma->name)) != CP_OK)
				return rc;
		}
	}
	if (s->n_models > 1)
		qsort(s->models, s->n_models, sizeof(*s->models), model_cmp);
	return CP_OK;
}

int
snapshot_build(char **text, size_t len, struct authfile **auth, size_t n_auth,
    const char auth_sha[65], bool auth_dir_ok, struct snapshot **out,
    char *err, size_t errlen)
{
	struct snapshot *s = NULL;
	int rc;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return CP_ENOMEM;
	s->refs = 1;
	if ((rc = cfg_parse(*text, len, &s->cfg, err, errlen)) != CP_OK) {
		s->cfg = NULL;
		goto out;
	}
	s->cfg_text = *text;
	s->cfg_len = len;
	*text = NULL;
	sha256_hex(s->cfg_text, s->cfg_len, s->cfg_sha);
	memcpy(s->auth_sha, auth_sha, 65);
	s->auth = *auth;
	s->n_auth = n_auth;
	*auth = NULL;
	s->auth_dir_ok = auth_dir_ok;
	s->loaded_at = time(NULL);
	if ((s->auth_dir = cp_strdup(s->cfg->auth_dir)) == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	if ((rc = build_compat(s)) != CP_OK) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "cannot build providers: %s", cp_strerror(rc));
		goto out;
	}
	*out = s;
	s = NULL;
out:
	snap_free(s);
	return rc;
}

struct snapshot *
snapshot_ref(struct snapshot *s)
{
	if (s != NULL)
		s->refs++;
	return s;
}

void
snapshot_unref(struct snapshot *s)
{
	if (s == NULL)
		return;
	if (--s->refs == 0)
		snap_free(s);
}

const struct route_model *
snapshot_model(const struct snapshot *s, const char *alias)
{
	size_t lo = 0, hi = s->n_models;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(alias, s->models[mid].alias);

		if (c == 0)
			return &s->models[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t
snapshot_n_creds(const struct snapshot *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->n_provs; i++)
		n += s->provs[i].n_creds;
	return n;
}

struct snapshot *
snapshot_current(void)
{
	return snap_cur;
}

void
snapshot_install(struct snapshot *s)
{
	struct snapshot *old = snap_cur;

	snap_cur = s;
	snapshot_unref(old);
}
