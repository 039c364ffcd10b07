/*
 * common.c - what several providers share: endpoint lookup, header lists
 * (wiped when freed: one line holds a secret), key-item model lists and
 * the classification every API-key upstream uses (PROVIDERS.md 3, 5).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd.h"

const char *
prov_endpoint(const struct cfg *c, const char *name, const char *dflt)
{
	size_t i;

	for (i = 0; i < c->n_endpoints; i++)
		if (strcmp(c->endpoints[i].name, name) == 0)
			return c->endpoints[i].url;
	return dflt;
}

int
prov_header(struct curl_slist **h, const char *name, const char *value)
{
	char line[PXD_TOKEN_MAX + 128];
	struct curl_slist *n;
	int w;

	w = snprintf(line, sizeof(line), "%s: %s", name, value);
	if (w < 0 || (size_t)w >= sizeof(line))
		return CP_ETOOBIG;
	n = curl_slist_append(*h, line);
	cp_wipe(line, sizeof(line));
	if (n == NULL)
		return CP_ENOMEM;
	*h = n;
	return CP_OK;
}

int
prov_headers_base(const struct up_target *t, struct curl_slist **h)
{
	bool stream = t->op == UPOP_STREAM;

	*h = NULL;
	/* "Expect:": no 100-continue round trip before the body. */
	if (prov_header(h, "Content-Type", "application/json") != CP_OK ||
	    prov_header(h, "Accept", stream ? "text/event-stream" : "application/json") != CP_OK ||
	    (*h = curl_slist_append(*h, "Expect:")) == NULL) {
		prov_headers_free(*h);
		*h = NULL;
		return CP_ENOMEM;
	}
	return CP_OK;
}

void
prov_headers_free(struct curl_slist *h)
{
	struct curl_slist *n;

	for (n = h; n != NULL; n = n->next)
		if (n->data != NULL)
			cp_wipe(n->data, strlen(n->data));
	curl_slist_free_all(h);
}

int
prov_headers_dup(const struct curl_slist *h, struct curl_slist **out)
{
	struct curl_slist *n = NULL, *t;

	for (; h != NULL; h = h->next) {
		if ((t = curl_slist_append(n, h->data)) == NULL) {
			prov_headers_free(n);
			*out = NULL;
			return CP_ENOMEM;
		}
		n = t;
	}
	*out = n;
	return CP_OK;
}

int
prov_add_models(struct prov_builder *b, struct prov *p, const struct cfg_model_alias *m,
    size_t n)
{
	size_t j;
	int rc;

	for (j = 0; j < n; j++) {
		const char *alias = m[j].alias[0] != '\0' ? m[j].alias : m[j].name;

		if (m[j].name[0] == '\0')
			continue;
		if ((rc = b->add_model(b, p, alias, m[j].name)) != CP_OK)
			return rc;
	}
	return CP_OK;
}

void
prov_classify_common(const struct up_answer *a, struct up_class *out)
{
	out->hint_s = a->retry_after;
	out->model_missing = false;
	if (a->status == 404)
		out->model_missing = policy_body_model_missing(a->body, a->len);
}

int
prov_build_keyed(struct prov_builder *b, const struct provider_ops *ops,
    const struct cfg_keyed *items, size_t n, const char *endpoint, const char *dflt)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		const struct cfg_keyed *k = &items[i];
		char name[64];
		struct prov *p;

		if (k->api_key[0] == '\0' || strlen(k->api_key) > PXD_KEY_MAX)
			continue;
		snprintf(name, sizeof(name), "%s#%zu", ops->kind, i);
		if ((p = b->add_prov(b, ops, name, k->base_url[0] != '\0' ? k->base_url :
		    prov_endpoint(b->cfg, endpoint, dflt))) == NULL ||
		    b->add_cred(b, p, k->api_key, name) == NULL)
			return CP_ENOMEM;
		if ((rc = prov_add_models(b, p, k->models, k->n_models)) != CP_OK)
			return rc;
	}
	return CP_OK;
}

int
prov_headers_bearer(const struct cred *c, const struct up_target *t,
    struct curl_slist **out)
{
	char v[PXD_KEY_MAX + 8];
	int rc;

	if ((rc = prov_headers_base(t, out)) != CP_OK)
		return rc;
	snprintf(v, sizeof(v), "Bearer %s", c->secret);
	rc = prov_header(out, "Authorization", v);
	cp_wipe(v, sizeof(v));
	return rc;
}

const char *
prov_cred_token(const struct cred *c, const struct cred_state *st)
{
	return st != NULL && st->token != NULL ? st->token : c->secret;
}

/* A token goes into a header line: printable ASCII, no space (a CR or
 * LF would add header lines of the file's choosing). */
static bool
prov_token_ok(const char *t)
{
	for (; *t != '\0'; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f)
			return false;
	return true;
}

/* One instance of an account kind per base URL (qwen accounts may name
 * their own hosts; the other kinds have one). */
static struct prov *
acct_prov(struct prov_builder *b, const struct provider_ops *ops, struct prov ***seen,
    size_t *n_seen, const char *base)
{
	struct prov *p, **t;
	char name[64];
	size_t i;

	for (i = 0; i < *n_seen; i++)
		if (strcmp((*seen)[i]->base_url, base) == 0)
			return (*seen)[i];
	if ((t = realloc(*seen, (*n_seen + 1) * sizeof(*t))) == NULL)
		return NULL;
	*seen = t;
	if (*n_seen == 0)
		snprintf(name, sizeof(name), "%s", ops->kind);
	else
		snprintf(name, sizeof(name), "%s#%zu", ops->kind, *n_seen);
	if ((p = b->add_prov(b, ops, name, base)) == NULL)
		return NULL;
	t[(*n_seen)++] = p;
	return p;
}

int
prov_build_accounts(struct prov_builder *b, const struct provider_ops *ops,
    const char *type, const char *endpoint, const char *dflt, prov_acct_read read)
{
	const char *ep = prov_endpoint(b->cfg, endpoint, NULL);
	struct prov **seen = NULL;
	size_t i, n_seen = 0;
	int rc = CP_OK;

	for (i = 0; i < b->n_auth; i++) {
		const struct authfile *af = &b->auth[i];
		struct prov_acct a;
		const char *why;
		bool off = false;
		char label[96];
		int r;
		struct prov *p;

		if (af->json == NULL || af->type == NULL || strcmp(af->type, type) != 0)
			continue;
		memset(&a, 0, sizeof(a));
		if ((r = json_get_bool(af->json, "disabled", &off)) == CP_OK && off)
			why = "disabled";
		else if (r != CP_OK && r != CP_ENOTFOUND &&
		    !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(af->json, "disabled")))
			why = "\"disabled\" is not true or false"; /* intent unclear: not used */
		else if ((why = read(af->json, &a)) == NULL && (a.token == NULL ||
		    a.token[0] == '\0'))
			why = "no access token";
		else if (why == NULL && strlen(a.token) > PXD_TOKEN_MAX)
			why = "access token too long";
		else if (why == NULL && !prov_token_ok(a.token))
			why = "access token is not printable ASCII";
		if (why != NULL) {
			if ((rc = b->skip_auth(b, af, why)) != CP_OK)
				goto out;
			continue;
		}
		/* PROVIDERS 7: an endpoints: entry wins over the file's URL. */
		p = acct_prov(b, ops, &seen, &n_seen, ep != NULL ? ep : a.base[0] != '\0' ?
		    a.base : dflt);
		snprintf(label, sizeof(label), "%s:%.*s", type, (int)(sizeof(label) -
		    strlen(type) - 2), af->name);
		if (p == NULL || b->add_account(b, p, af, a.token, label) == NULL) {
			rc = CP_ENOMEM;
			goto out;
		}
	}
out:
	free(seen);
	return rc;
}

int
prov_headers_account(const struct cred *c, const struct cred_state *st,
    const struct up_target *t, struct curl_slist **out)
{
	char v[PXD_TOKEN_MAX + 8];
	int rc;

	if (strlen(prov_cred_token(c, st)) > PXD_TOKEN_MAX)
		return CP_ETOOBIG; /* never a cut token */
	if (!prov_token_ok(prov_cred_token(c, st)))
		return CP_EINVAL;
	if ((rc = prov_headers_base(t, out)) != CP_OK)
		return rc;
	snprintf(v, sizeof(v), "Bearer %s", prov_cred_token(c, st));
	rc = prov_header(out, "Authorization", v);
	cp_wipe(v, sizeof(v));
	if (rc != CP_OK) {
		prov_headers_free(*out);
		*out = NULL;
	}
	return rc;
}

int
prov_json_set(cJSON *o, const char *key, cJSON *v)
{
	if (v == NULL)
		return CP_ENOMEM;
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	if (!cJSON_AddItemToObject(o, key, v)) {
		cJSON_Delete(v);
		return CP_ENOMEM;
	}
	return CP_OK;
}
