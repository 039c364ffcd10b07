/*
 * usage_rec.c - cliproxyd's usage accounting and api-key-policy state
 * (issue 15): one row per exchange into <state-dir>/usage.sqlite through
 * the core's writer (usage.c: a bounded queue and a worker thread, so the
 * event loop never waits on the database), and per key what the limits
 * need - requests in the last minute, tokens of the UTC day. The
 * decisions themselves are keypol.c's (pure).
 *
 * Token counts per day start from the database (its hourly aggregates by
 * key) at start-up, so a restart does not reset them, and count up here
 * as rows are recorded. They are kept by the key's SHA-256, so a policy
 * item renamed by a reload keeps its count; a key seen for the first time
 * since start-up takes the database's count of its id.
 *
 * Everything here runs on the event loop.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proxyd.h"

#define UR_BUCKETS  1024     /* hash chains of key states */
#define UR_KEYS_MAX 65536    /* key states kept (keys are config-bound) */

struct ur_key {
	struct ur_key *next;     /* hash chain */
	char sha[65];            /* SHA-256 hex of the key */
	struct keypol_state st;  /* what it used */
};

struct ur_seed {             /* today's tokens of a key id, from the database */
	char key_id[USAGE_TEXT_MAX];
	long long day;           /* UTC day */
	long long tokens;        /* input + output */
};

static struct usage_writer *ur_w;    /* NULL: not recording */
static char *ur_path;                /* the database */
static char ur_err[256];             /* why not recording */
static long ur_raw_days = -1, ur_days = -1; /* retention applied */
static struct ur_key *ur_tab[UR_BUCKETS];
static size_t ur_n_keys;
static struct ur_seed *ur_seeds;
static size_t ur_n_seeds;

static unsigned
ur_hash(const char *sha)
{
	unsigned h = 2166136261u;

	for (int i = 0; i < 16 && sha[i] != '\0'; i++)
		h = (h ^ (unsigned char)sha[i]) * 16777619u;
	return h % UR_BUCKETS;
}

/* The state of key sha; created (seeded with key_id's count of today from
 * the database) when create. NULL when absent or the table is full. */
static struct keypol_state *
ur_state(const char *sha, const char *key_id, bool create)
{
	unsigned h;
	struct ur_key *k;

	if (sha[0] == '\0')
		return NULL;
	h = ur_hash(sha);
	for (k = ur_tab[h]; k != NULL; k = k->next)
		if (strcmp(k->sha, sha) == 0)
			return &k->st;
	if (!create || ur_n_keys >= UR_KEYS_MAX || (k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	snprintf(k->sha, sizeof(k->sha), "%s", sha);
	for (size_t i = 0; i < ur_n_seeds; i++)
		if (strcmp(ur_seeds[i].key_id, key_id) == 0)
			keypol_count_tokens(&k->st, (time_t)(ur_seeds[i].day * 86400),
			    ur_seeds[i].tokens);
	k->next = ur_tab[h];
	ur_tab[h] = k;
	ur_n_keys++;
	return &k->st;
}

static int
ur_seed_fn(const char *key_id, int64_t tokens, void *arg)
{
	struct ur_seed *n;
	long long day = *(const long long *)arg;

	if ((n = realloc(ur_seeds, (ur_n_seeds + 1) * sizeof(*n))) == NULL)
		return CP_ENOMEM;
	ur_seeds = n;
	usage_set_text(n[ur_n_seeds].key_id, key_id);
	n[ur_n_seeds].day = day;
	n[ur_n_seeds].tokens = tokens;
	ur_n_seeds++;
	return CP_OK;
}

/* Today's tokens per key id from the database (its hourly aggregates). */
static void
ur_seed(void)
{
	struct usage_reader *r = NULL;
	char err[256] = "";
	long long day = (long long)time(NULL) / 86400;
	int rc;

	if ((rc = usage_reader_open(ur_path, &r, err, sizeof(err))) == CP_OK)
		rc = usage_key_tokens(r, (int64_t)day * 86400, ur_seed_fn, &day, err, sizeof(err));
	if (rc != CP_OK && rc != CP_ENOTFOUND)
		log_warnx("usage: cannot read today's token counts: %s",
		    err[0] != '\0' ? err : cp_strerror(rc));
	usage_reader_close(r);
}

int
usage_rec_start(const char *state_dir, const struct cfg *c)
{
	struct usage_writer_opts o;
	int rc;

	if ((ur_path = usage_db_path(state_dir, "")) == NULL)
		return CP_ENOMEM;
	memset(&o, 0, sizeof(o));
	o.path = ur_path;
	o.queue_cap = USAGE_QUEUE_DEFAULT;
	o.raw_days = (int)c->usage_raw_days;
	o.days = (int)c->usage_days;
	ur_raw_days = o.raw_days;
	ur_days = o.days;
	if ((rc = usage_writer_open(&o, &ur_w, ur_err, sizeof(ur_err))) != CP_OK) {
		log_warnx("usage is not recorded: %s", ur_err);
		ur_w = NULL;
		return rc;
	}
	ur_seed();
	return CP_OK;
}

void
usage_rec_stop(void)
{
	struct usage_stats st;

	if (ur_w != NULL) {
		usage_writer_close(ur_w, &st);
		if (st.dropped > 0 || st.failed > 0)
			log_warnx("usage: %llu rows dropped (queue full), %llu lost to errors",
			    (unsigned long long)st.dropped, (unsigned long long)st.failed);
	}
	ur_w = NULL;
	for (size_t i = 0; i < UR_BUCKETS; i++) {
		while (ur_tab[i] != NULL) {
			struct ur_key *k = ur_tab[i];

			ur_tab[i] = k->next;
			free(k);
		}
	}
	ur_n_keys = 0;
	free(ur_seeds);
	ur_seeds = NULL;
	ur_n_seeds = 0;
	free(ur_path);
	ur_path = NULL;
}

void
usage_rec_config(const struct cfg *c)
{
	if (ur_w == NULL || c == NULL ||
	    (c->usage_raw_days == ur_raw_days && c->usage_days == ur_days))
		return;
	ur_raw_days = c->usage_raw_days;
	ur_days = c->usage_days;
	usage_writer_retention(ur_w, (int)ur_raw_days, (int)ur_days);
	log_info("usage retention: raw rows %ld days, hourly %ld days", ur_raw_days, ur_days);
}

void
usage_rec_status(cJSON *o)
{
	struct usage_stats st;
	cJSON *u = cJSON_AddObjectToObject(o, "usage");

	if (u == NULL)
		return;
	cJSON_AddBoolToObject(u, "recording", ur_w != NULL);
	if (ur_w == NULL) {
		cJSON_AddStringToObject(u, "error", ur_err[0] != '\0' ? ur_err : "off (--no-usage)");
		return;
	}
	usage_writer_stats(ur_w, &st);
	cJSON_AddNumberToObject(u, "queued", (double)st.queued);
	cJSON_AddNumberToObject(u, "written", (double)st.written);
	cJSON_AddNumberToObject(u, "dropped", (double)st.dropped);
	cJSON_AddNumberToObject(u, "failed", (double)st.failed);
	cJSON_AddNumberToObject(u, "queue-size", USAGE_QUEUE_DEFAULT);
}

void
usage_ex_begin(struct usage_ex *ux, const struct client_id *who, size_t len, enum fmt_id fmt)
{
	usage_scan_init(&ux->scan, fmt);
	if (who != NULL)
		ux->who = *who;
	else
		keypol_key_id(NULL, NULL, ux->who.key_id, sizeof(ux->who.key_id));
	ux->t0_ms = cp_mono_ms();
	ux->ttfb_ms = -1;
	ux->bytes_in = (int64_t)len;
}

bool
usage_ex_admit(struct usage_ex *ux, const struct cfg *c, const char *model,
    struct keypol_verdict *v)
{
	struct keypol_state *st = ur_state(ux->who.sha, ux->who.key_id, true);
	time_t now = time(NULL);

	(void)c;
	keypol_decide(ux->who.pol, model, st, now, v);
	if (v->status != 0)
		return false;
	if (st != NULL)
		keypol_count_request(st, now);
	return true;
}

void
usage_ex_first_byte(struct usage_ex *ux)
{
	if (ux->ttfb_ms < 0)
		ux->ttfb_ms = cp_mono_ms() - ux->t0_ms;
}

static int64_t
ur_count(long long v)
{
	return v > 0 ? (int64_t)v : 0;
}

void
usage_ex_end(struct usage_ex *ux, const struct usage_end *e)
{
	struct usage_row row;
	struct pv_usage u = { -1, -1, -1, -1 };
	struct timespec now;
	struct keypol_state *st;
	bool have;

	if (e->xusage != NULL) {
		u = *e->xusage;
		have = true;
	} else {
		have = usage_scan_result(&ux->scan, &u);
	}
	usage_scan_release(&ux->scan);
	memset(&row, 0, sizeof(row));
	clock_gettime(CLOCK_REALTIME, &now);
	row.ts_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	usage_set_text(row.key_id, ux->who.key_id);
	usage_set_text(row.model, e->model);
	usage_set_text(row.upstream_model, e->upstream);
	usage_set_text(row.format, e->format);
	if (e->cred != NULL) {
		usage_set_text(row.provider, e->cred->prov->ops->kind);
		if (e->cred->acct != NULL)
			usage_set_text(row.credential, e->cred->acct->name);
		else
			snprintf(row.credential, sizeof(row.credential), "%.*s", KEYPOL_ID_HEX,
			    e->cred->id);
	}
	row.status = (int)e->status;
	if (have) {
		row.in_tok = ur_count(u.input);
		row.out_tok = ur_count(u.output);
		row.cached_tok = ur_count(u.cached);
		row.reasoning_tok = ur_count(u.reasoning);
	}
	row.total_ms = cp_mono_ms() - ux->t0_ms;
	row.ttfb_ms = ux->ttfb_ms >= 0 ? ux->ttfb_ms : row.total_ms;
	row.bytes_in = ux->bytes_in;
	row.bytes_out = (int64_t)e->bytes_out;
	row.retries = e->attempts > 1 ? (int)e->attempts - 1 : 0;
	if ((st = ur_state(ux->who.sha, ux->who.key_id, true)) != NULL)
		keypol_count_tokens(st, now.tv_sec, row.in_tok + row.out_tok);
	if (ur_w != NULL)
		(void)usage_push(ur_w, &row);
}
