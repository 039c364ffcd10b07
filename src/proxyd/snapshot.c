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
		free(v[i].why);
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
		v[nv].name = raw[i].name;
		raw[i].name = NULL;
		if (json_parse_strict(raw[i].data, raw[i].len, &j) != CP_OK ||
		    !cJSON_IsObject(j)) {
			/* Kept without its content: the status file names it
			 * and says why it is not used. */
			log_warnx("auth file '%s' is not a JSON object, ignored", v[nv].name);
			cJSON_Delete(j);
			invalid++;
			v[nv].type = cp_strdup("");
			if ((v[nv++].why = cp_strdup("not a JSON object (invalid JSON, duplicate "
			    "member names or invalid UTF-8)")) == NULL || v[nv - 1].type == NULL) {
				rc = CP_ENOMEM;
				goto out;
			}
			continue;
		}
		if (json_get_string(j, "type", &type) != CP_OK)
			type = "gemini"; /* DESIGN 6: gemini is the default type */
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
prov_free(struct prov *p)
{
	size_t j;

	for (j = 0; j < p->n_creds; j++) {
		prov_headers_free(p->creds[j].hdrs[0]);
		prov_headers_free(p->creds[j].hdrs[1]);
		if (p->creds[j].secret != NULL) {
			cp_wipe(p->creds[j].secret, strlen(p->creds[j].secret));
			free(p->creds[j].secret);
		}
	}
	free(p->creds);
	free(p->name);
	free(p->base_url);
	free(p);
}

static void
rmodel_release(struct route_model *m)
{
	size_t j;

	for (j = 0; j < m->n; j++)
		free(m->t[j].upstream);
	free(m->t);
	free(m->alias);
}

static void
snap_free(struct snapshot *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_provs; i++)
		prov_free(s->provs[i]);
	free(s->provs);
	for (i = 0; i < s->n_models; i++)
		rmodel_release(&s->models[i]);
	free(s->models);
	for (i = 0; i < CAT__COUNT; i++)
		rmodel_release(&s->families[i]);
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

/* ------------------------------------------------ building (callbacks) */

struct build_ctx {
	struct snapshot *s;      /* being built */
	size_t cap_provs;        /* allocated provs */
	size_t cap_models;       /* allocated models */
	bool *acct_used;         /* per auth file: an account was made of it */
};

static struct prov *
b_add_prov(struct prov_builder *b, const struct provider_ops *ops, const char *name,
    const char *base_url)
{
	struct build_ctx *bc = b->ctx;
	struct snapshot *s = bc->s;
	struct prov *p;
	size_t bl;

	if (s->n_provs == bc->cap_provs) {
		size_t ncap = bc->cap_provs ? bc->cap_provs * 2 : 8;
		struct prov **t = realloc(s->provs, ncap * sizeof(*t));

		if (t == NULL)
			return NULL;
		s->provs = t;
		bc->cap_provs = ncap;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	s->provs[s->n_provs++] = p;
	p->ops = ops;
	p->name = cp_strdup(name);
	p->base_url = cp_strdup(base_url);
	if (p->name == NULL || p->base_url == NULL)
		return NULL;
	/* "https://x/v1/" + "/chat/completions" would double the slash. */
	bl = strlen(p->base_url);
	while (bl > 0 && p->base_url[bl - 1] == '/')
		p->base_url[--bl] = '\0';
	return p;
}

static struct cred *
b_add_cred(struct prov_builder *b, struct prov *p, const char *secret, const char *label)
{
	struct cred *cr;

	(void)b;
	if (p->n_creds == p->cap_creds) {
		size_t ncap = p->cap_creds ? p->cap_creds * 2 : 4;
		struct cred *t = realloc(p->creds, ncap * sizeof(*t));

		if (t == NULL)
			return NULL;
		p->creds = t;
		p->cap_creds = ncap;
	}
	cr = &p->creds[p->n_creds];
	memset(cr, 0, sizeof(*cr));
	cr->prov = p;
	if ((cr->secret = cp_strdup(secret)) == NULL)
		return NULL;
	p->n_creds++;
	cred_id(p->ops->kind, p->name, secret, cr->id);
	snprintf(cr->label, sizeof(cr->label), "%s", label);
	return cr;
}

/* The snapshot's own (mutable) copy of auth file af, NULL when af is not
 * one of them. */
static struct authfile *
b_authfile(struct prov_builder *b, const struct authfile *af)
{
	struct snapshot *s = ((struct build_ctx *)b->ctx)->s;

	if (af < s->auth || af >= s->auth + s->n_auth)
		return NULL;
	return &s->auth[af - s->auth];
}

static struct cred *
b_add_account(struct prov_builder *b, struct prov *p, const struct authfile *af,
    const char *token, const char *label)
{
	struct build_ctx *bc = b->ctx;
	struct authfile *own = b_authfile(b, af);
	struct cred *cr;

	if (own == NULL || (cr = b_add_cred(b, p, token, label)) == NULL)
		return NULL;
	/* The id names the account, not its token: a refreshed token (in
	 * the pool) or a reload after the write-back keeps its state. */
	cred_id(p->ops->kind, af->name, "", cr->id);
	cr->acct = own;
	bc->acct_used[own - bc->s->auth] = true;
	return cr;
}

static int
b_skip_auth(struct prov_builder *b, const struct authfile *af, const char *why)
{
	struct authfile *own = b_authfile(b, af);

	if (own == NULL)
		return CP_EINVAL;
	free(own->why);
	if ((own->why = cp_strdup(why)) == NULL)
		return CP_ENOMEM;
	log_debug("auth file '%s' not used: %s", own->name, why);
	return CP_OK;
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

/* Add target (p, upstream) to m; upstream NULL: the client's name. */
static int
target_add(struct route_model *m, struct prov *p, const char *upstream)
{
	struct model_target *t;
	size_t i;

	/* The same provider listed twice for one alias adds nothing. */
	for (i = 0; i < m->n; i++)
		if (m->t[i].prov == p && (m->t[i].upstream == NULL ? upstream == NULL :
		    upstream != NULL && strcmp(m->t[i].upstream, upstream) == 0))
			return CP_OK;
	if ((t = realloc(m->t, (m->n + 1) * sizeof(*t))) == NULL)
		return CP_ENOMEM;
	m->t = t;
	t[m->n].prov = p;
	t[m->n].upstream = NULL;
	if (upstream != NULL && (t[m->n].upstream = cp_strdup(upstream)) == NULL)
		return CP_ENOMEM;
	m->n++;
	return CP_OK;
}

static int
b_add_model(struct prov_builder *b, struct prov *p, const char *alias, const char *upstream)
{
	struct build_ctx *bc = b->ctx;
	struct snapshot *s = bc->s;
	struct route_model *m;

	if ((m = model_find_mut(s, alias)) == NULL) {
		if (s->n_models == bc->cap_models) {
			size_t ncap = bc->cap_models ? bc->cap_models * 2 : 8;
			struct route_model *nm = realloc(s->models, ncap * sizeof(*nm));

			if (nm == NULL)
				return CP_ENOMEM;
			s->models = nm;
			bc->cap_models = ncap;
		}
		m = &s->models[s->n_models];
		memset(m, 0, sizeof(*m));
		if ((m->alias = cp_strdup(alias)) == NULL)
			return CP_ENOMEM;
		s->n_models++;
	}
	return target_add(m, p, upstream);
}

static int
model_cmp(const void *a, const void *b)
{
	const struct route_model *x = a, *y = b;

	return strcmp(x->alias, y->alias);
}

/* Every upstream kind the daemon knows (DESIGN 6 providers/). */
static const struct provider_ops *const prov_kinds[] = {
	&prov_gemini_key,
	&prov_claude_key,
	&prov_codex_key,
	&prov_openai_compat,
	&prov_gemini_account,
	&prov_claude_account,
	&prov_codex_account,
	&prov_qwen_account,
};

/* Headers that never change for a credential, built once here and not
 * per request (bench figure 5). */
static int
cred_static_headers(struct cred *cr)
{
	const struct provider_ops *ops = cr->prov->ops;
	struct up_target t = { ops->format, UPOP_GENERATE, true, "" };
	int rc;

	if (!ops->static_headers)
		return CP_OK;
	if ((rc = ops->headers(cr, NULL, &t, &cr->hdrs[0])) != CP_OK)
		return rc;
	t.op = UPOP_STREAM;
	return ops->headers(cr, NULL, &t, &cr->hdrs[1]);
}

static int build_routes(struct snapshot *s);

static int
build_provs(struct snapshot *s)
{
	struct build_ctx bc = { s, 0, 0, NULL };
	struct prov_builder b = {
		.cfg = s->cfg, .auth = s->auth, .n_auth = s->n_auth, .ctx = &bc,
		.add_prov = b_add_prov, .add_cred = b_add_cred, .add_account = b_add_account,
		.skip_auth = b_skip_auth, .add_model = b_add_model,
	};
	size_t i, j;
	int rc = CP_OK;

	if (s->n_auth > 0 && (bc.acct_used = calloc(s->n_auth, sizeof(bool))) == NULL)
		return CP_ENOMEM;
	for (i = 0; i < sizeof(prov_kinds) / sizeof(prov_kinds[0]); i++)
		if ((rc = prov_kinds[i]->build(&b)) != CP_OK)
			goto out;
	/* A file no kind took nor refused has a type nobody serves. */
	for (i = 0; i < s->n_auth; i++) {
		char why[96];

		if (bc.acct_used[i] || s->auth[i].why != NULL)
			continue;
		snprintf(why, sizeof(why), "unknown type '%.40s'", s->auth[i].type);
		if ((rc = b_skip_auth(&b, &s->auth[i], why)) != CP_OK)
			goto out;
	}
	for (i = j = 0; i < s->n_auth; i++)
		if (s->auth[i].why != NULL)
			j++;
	if (j > 0)
		log_info("%zu auth files not used (the status file says why)", j);
	rc = build_routes(s);
out:
	free(bc.acct_used);
	return rc;
}

static int
build_routes(struct snapshot *s)
{
	size_t i, j;
	int rc;

	for (i = 0; i < s->n_provs; i++) {
		struct prov *p = s->provs[i];
		enum cat_family f = p->ops->family;

		for (j = 0; j < p->n_creds; j++)
			if ((rc = cred_static_headers(&p->creds[j])) != CP_OK)
				return rc;
		/* PROVIDERS 1: names of a family's prefix go to every
		 * instance of that family. */
		if (f == CAT_NONE || p->n_creds == 0)
			continue;
		if (s->families[f].alias == NULL &&
		    (s->families[f].alias = cp_strdup(catalogue_owner(f))) == NULL)
			return CP_ENOMEM;
		if ((rc = target_add(&s->families[f], p, NULL)) != CP_OK)
			return rc;
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
	if ((rc = build_provs(s)) != CP_OK) {
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

static const struct route_model *
alias_find(const struct snapshot *s, const char *alias)
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

const struct route_model *
snapshot_route(const struct snapshot *s, const char *model)
{
	const struct route_model *m = alias_find(s, model);
	enum cat_family f;

	if (m != NULL)
		return m;
	f = catalogue_family(model);
	if (f != CAT_NONE && s->families[f].n > 0)
		return &s->families[f];
	return NULL;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
snapshot_model_names(const struct snapshot *s, const char ***out, size_t *n)
{
	const char **v;
	size_t total = s->n_models, i, j, k = 0;

	*out = NULL;
	*n = 0;
	for (i = 0; i < CAT__COUNT; i++) {
		if (s->families[i].n > 0) {
			catalogue_names((enum cat_family)i, &j);
			total += j;
		}
	}
	if (total == 0)
		return CP_OK;
	if ((v = malloc(total * sizeof(*v))) == NULL)
		return CP_ENOMEM;
	for (i = 0; i < s->n_models; i++)
		v[k++] = s->models[i].alias;
	for (i = 0; i < CAT__COUNT; i++) {
		const char *const *names;
		size_t nn;

		if (s->families[i].n == 0)
			continue;
		names = catalogue_names((enum cat_family)i, &nn);
		for (j = 0; j < nn; j++)
			v[k++] = names[j];
	}
	qsort(v, k, sizeof(*v), str_cmp);
	for (i = j = 0; i < k; i++)
		if (j == 0 || strcmp(v[j - 1], v[i]) != 0)
			v[j++] = v[i];
	*out = v;
	*n = j;
	return CP_OK;
}

size_t
snapshot_n_creds(const struct snapshot *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->n_provs; i++)
		n += s->provs[i]->n_creds;
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
