/*
 * pool.c - credential choice per model: round-robin rotation and 429
 * cooldowns (DESIGN 3 quota-exceeded, DESIGN 6 "Credentials").
 *
 * This state outlives snapshots on purpose: a reload must neither forget
 * that a key is cooling down nor restart the rotation. So it is keyed by
 * values, never by snapshot pointers: cooldowns by the credential id (a
 * hash of kind, provider name and key), rotation counters by model alias.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyd.h"

#define POOL_COOL_MAX 65536   /* cooldown entries kept */
#define POOL_RR_MAX   4096    /* aliases with a rotation counter */

struct cool {
	char id[65];              /* credential id */
	time_t until;             /* cooling down until then */
};

struct rr {
	char *alias;              /* model alias */
	unsigned long next;       /* next starting offset */
};

static struct cool *cools;    /* cooldown table */
static size_t n_cools, cap_cools;
static struct rr *rrs;        /* rotation counters */
static size_t n_rrs, cap_rrs;

static struct rr *
rr_get(const char *alias)
{
	size_t i;

	for (i = 0; i < n_rrs; i++)
		if (strcmp(rrs[i].alias, alias) == 0)
			return &rrs[i];
	if (n_rrs >= POOL_RR_MAX) {
		/* Aliases come from the config, so this only fills after many
		 * reloads with new names: start the rotation over. */
		for (i = 0; i < n_rrs; i++)
			free(rrs[i].alias);
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
	if ((rrs[n_rrs].alias = cp_strdup(alias)) == NULL)
		return NULL;
	rrs[n_rrs].next = 0;
	return &rrs[n_rrs++];
}

int
pool_candidates(const struct route_model *m, struct candidate **out, size_t *n)
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
	/* Flatten in config order, then rotate by the alias' counter: each
	 * request starts one credential further on. */
	if ((r = rr_get(m->alias)) != NULL) {
		start = r->next % total;
		r->next = (start + 1) % total;
	}
	for (i = 0; i < m->n && k < total; i++) {
		const struct prov *p = m->t[i].prov;

		for (j = 0; j < p->n_creds && k < total; j++) {
			size_t pos = (k + total - start) % total;

			v[pos].cred = &p->creds[j];
			v[pos].upstream = m->t[i].upstream;
			k++;
		}
	}
	*out = v;
	*n = total;
	return CP_OK;
}

static struct cool *
cool_find(const char *id)
{
	size_t i;

	for (i = 0; i < n_cools; i++)
		if (strcmp(cools[i].id, id) == 0)
			return &cools[i];
	return NULL;
}

bool
pool_cooling(const char *cred_id, time_t now)
{
	struct cool *c = cool_find(cred_id);

	return c != NULL && c->until > now;
}

void
pool_cooldown(const char *cred_id, time_t until)
{
	struct cool *c = cool_find(cred_id);

	if (c != NULL) {
		c->until = until;
		return;
	}
	pool_gc(time(NULL));
	if (n_cools >= POOL_COOL_MAX)
		return; /* bounded: a key we cannot remember is simply not cooled */
	if (n_cools == cap_cools) {
		size_t ncap = cap_cools ? cap_cools * 2 : 16;
		struct cool *t = realloc(cools, ncap * sizeof(*t));

		if (t == NULL)
			return;
		cools = t;
		cap_cools = ncap;
	}
	snprintf(cools[n_cools].id, sizeof(cools[n_cools].id), "%s", cred_id);
	cools[n_cools].until = until;
	n_cools++;
}

size_t
pool_n_cooling(const struct snapshot *s, time_t now)
{
	size_t i, j, n = 0;

	for (i = 0; i < s->n_provs; i++)
		for (j = 0; j < s->provs[i].n_creds; j++)
			if (pool_cooling(s->provs[i].creds[j].id, now))
				n++;
	return n;
}

void
pool_gc(time_t now)
{
	size_t i = 0;

	while (i < n_cools) {
		if (cools[i].until <= now)
			cools[i] = cools[--n_cools];
		else
			i++;
	}
}

void
pool_free_all(void)
{
	size_t i;

	for (i = 0; i < n_rrs; i++)
		free(rrs[i].alias);
	free(rrs);
	rrs = NULL;
	n_rrs = cap_rrs = 0;
	free(cools);
	cools = NULL;
	n_cools = cap_cools = 0;
}
