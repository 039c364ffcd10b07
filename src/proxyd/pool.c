/*
 * pool.c - the changing state of credentials (DESIGN 6 "Credentials"):
 * round-robin rotation per model, cooldowns per (credential, model),
 * consecutive failures, and (issue 12) the current OAuth token and the
 * refresh in flight.
 *
 * This state outlives snapshots on purpose: a reload must neither forget
 * that a key is cooling down nor restart the rotation. So it is keyed by
 * values, never by snapshot pointers: states by the credential id (a hash
 * of kind, provider name and key, or of the auth file's name), rotation
 * counters by model name.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd.h"

#define POOL_STATES_MAX  65536  /* credential states kept */
#define POOL_COOLS_MAX   256    /* models one credential cools down for */
#define POOL_BUCKETS     1024   /* hash buckets (a power of two) */
#define POOL_RR_MAX      4096   /* models with a rotation counter */

struct rr {
	char *model;              /* model name (or alias) */
	unsigned long next;       /* next starting offset */
};

static struct cred_state *buckets[POOL_BUCKETS]; /* states by id hash */
static size_t n_states;
static struct rr *rrs;        /* rotation counters */
static size_t n_rrs, cap_rrs;

static unsigned
id_hash(const char *id)
{
	unsigned h = 2166136261u; /* FNV-1a */

	while (*id != '\0')
		h = (h ^ (unsigned char)*id++) * 16777619u;
	return h & (POOL_BUCKETS - 1);
}

static struct rr *
rr_get(const char *model)
{
	size_t i;

	for (i = 0; i < n_rrs; i++)
		if (strcmp(rrs[i].model, model) == 0)
			return &rrs[i];
	if (n_rrs >= POOL_RR_MAX) {
		/* Prefix routes take any name a client sends: when the
		 * bounded table fills, the rotation starts over. */
		for (i = 0; i < n_rrs; i++)
			free(rrs[i].model);
		n_rrs = 0;
	}
	if (n_rrs == cap_rrs) {
		size_t ncap = cap_rrs ? cap_rrs * 2 : 16;
		struct rr *t = realloc(rrs, ncap * sizeof(*t));

		if (t == NULL)
			return NULL;
		rrs = t;
		cap_rrs = ncap;
	}
	if ((rrs[n_rrs].model = cp_strdup(model)) == NULL)
		return NULL;
	rrs[n_rrs].next = 0;
	return &rrs[n_rrs++];
}

int
pool_candidates(const struct route_model *m, const char *model, struct candidate **out,
    size_t *n)
{
	struct candidate *v = NULL;
	size_t total = 0, i, j, k = 0, start = 0;
	struct rr *r;

	*out = NULL;
	*n = 0;
	for (i = 0; i < m->n; i++)
		total += m->t[i].prov->n_creds;
	if (total == 0)
		return CP_OK;
	if (total > PXD_CANDIDATES_MAX)
		total = PXD_CANDIDATES_MAX;
	if ((v = malloc(total * sizeof(*v))) == NULL)
		return CP_ENOMEM;
	/* Flatten in config order, then rotate by the model's counter: each
	 * request starts one credential further on. */
	if ((r = rr_get(model)) != NULL) {
		start = r->next % total;
		r->next = (start + 1) % total;
	}
	for (i = 0; i < m->n && k < total; i++) {
		const struct prov *p = m->t[i].prov;

		for (j = 0; j < p->n_creds && k < total; j++) {
			size_t pos = (k + total - start) % total;

			v[pos].cred = &p->creds[j];
			v[pos].upstream = m->t[i].upstream != NULL ? m->t[i].upstream : model;
			k++;
		}
	}
	*out = v;
	*n = total;
	return CP_OK;
}

/* ------------------------------------------------------------ states */

struct cred_state *
pool_state(const char *id, bool create)
{
	unsigned h = id_hash(id);
	struct cred_state *s;

	for (s = buckets[h]; s != NULL; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	if (!create)
		return NULL;
	if (n_states >= POOL_STATES_MAX) {
		pool_gc(time(NULL));
		if (n_states >= POOL_STATES_MAX)
			return NULL; /* bounded: such a key is simply not tracked */
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->next = buckets[h];
	buckets[h] = s;
	n_states++;
	return s;
}

int
pool_secret_set(char **slot, const char *v)
{
	char *n = NULL;

	if (v != NULL && (n = cp_strdup(v)) == NULL)
		return CP_ENOMEM;
	if (*slot != NULL) {
		cp_wipe(*slot, strlen(*slot));
		free(*slot);
	}
	*slot = n;
	return CP_OK;
}

static void
state_free(struct cred_state *s)
{
	size_t i;

	for (i = 0; i < s->n_cools; i++)
		free(s->cools[i].model);
	free(s->cools);
	pool_secret_set(&s->token, NULL);
	pool_secret_set(&s->refresh_tok, NULL);
	pool_secret_set(&s->refresh_base, NULL);
	free(s);
}

static struct pool_cool *
cool_find(const struct cred_state *s, const char *model)
{
	size_t i;

	for (i = 0; i < s->n_cools; i++)
		if (strcmp(s->cools[i].model, model) == 0)
			return &s->cools[i];
	return NULL;
}

bool
pool_cooling(const char *cred_id, const char *model, time_t now, time_t *until)
{
	const struct cred_state *s = pool_state(cred_id, false);
	const struct pool_cool *c;

	if (s == NULL || s->n_cools == 0 || (c = cool_find(s, model)) == NULL ||
	    c->until <= now)
		return false;
	if (until != NULL)
		*until = c->until;
	return true;
}

void
pool_cooldown(const char *cred_id, const char *model, time_t until, bool auth)
{
	struct cred_state *s = pool_state(cred_id, true);
	struct pool_cool *c;

	if (s == NULL)
		return;
	if ((c = cool_find(s, model)) != NULL) {
		c->until = until;
		c->auth = auth;
		return;
	}
	if (s->n_cools >= POOL_COOLS_MAX)
		return; /* bounded, like the table */
	if (s->n_cools == s->cap_cools) {
		size_t ncap = s->cap_cools ? s->cap_cools * 2 : 2;
		struct pool_cool *t = realloc(s->cools, ncap * sizeof(*t));

		if (t == NULL)
			return;
		s->cools = t;
		s->cap_cools = ncap;
	}
	if ((s->cools[s->n_cools].model = cp_strdup(model)) == NULL)
		return;
	s->cools[s->n_cools].until = until;
	s->cools[s->n_cools].auth = auth;
	s->n_cools++;
}

void
pool_forgive(struct cred_state *s)
{
	size_t i = 0;

	while (i < s->n_cools) {
		if (s->cools[i].auth) {
			free(s->cools[i].model);
			s->cools[i] = s->cools[--s->n_cools];
		} else {
			i++;
		}
	}
	s->failures = 0;
}

void
pool_result(const char *cred_id, bool ok, time_t now)
{
	struct cred_state *s = pool_state(cred_id, !ok);

	if (s == NULL)
		return;
	if (ok) {
		s->failures = 0;
		s->last_ok = now;
	} else {
		s->failures++;
	}
}

size_t
pool_n_cooling(const struct snapshot *s, time_t now)
{
	size_t i, j, k, n = 0;

	for (i = 0; i < s->n_provs; i++)
		for (j = 0; j < s->provs[i]->n_creds; j++) {
			const struct cred_state *st = pool_state(s->provs[i]->creds[j].id, false);

			for (k = 0; st != NULL && k < st->n_cools; k++)
				if (st->cools[k].until > now) {
					n++;
					break;
				}
		}
	return n;
}

void
pool_gc(time_t now)
{
	size_t b;

	for (b = 0; b < POOL_BUCKETS; b++) {
		struct cred_state **pp = &buckets[b];

		while (*pp != NULL) {
			struct cred_state *s = *pp;
			size_t i = 0;

			while (i < s->n_cools) {
				if (s->cools[i].until <= now) {
					free(s->cools[i].model);
					s->cools[i] = s->cools[--s->n_cools];
				} else {
					i++;
				}
			}
			/* A state that holds nothing worth keeping goes; a
			 * failure count alone is not worth a slot forever. */
			if (s->n_cools == 0 && s->token == NULL && !s->refreshing &&
			    s->refresh_retry_at <= now && s->refresh_failed_at == 0) {
				*pp = s->next;
				state_free(s);
				n_states--;
				continue;
			}
			pp = &s->next;
		}
	}
}

void
pool_free_all(void)
{
	size_t i;

	for (i = 0; i < n_rrs; i++)
		free(rrs[i].model);
	free(rrs);
	rrs = NULL;
	n_rrs = cap_rrs = 0;
	for (i = 0; i < POOL_BUCKETS; i++) {
		while (buckets[i] != NULL) {
			struct cred_state *s = buckets[i];

			buckets[i] = s->next;
			state_free(s);
		}
	}
	n_states = 0;
}
