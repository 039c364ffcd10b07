/*
 * test_usage.c - usage accounting (issue 15): rows in -> hourly aggregates
 * and series right; a full queue counts drops and never blocks; retention
 * pruning; a writer SIGKILLed mid-stream leaves an intact database that
 * lacks at most the last second's rows.
 */
#include "config.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core.h"

struct fixture {
	char dir[64];    /* temporary directory */
	char path[128];  /* usage.sqlite inside it */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cp-usage-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/usage.sqlite", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void
mkrow(struct usage_row *r, int64_t ts_ms, const char *key, const char *model, int status,
    int64_t in, int64_t out, int64_t total_ms)
{
	memset(r, 0, sizeof(*r));
	r->ts_ms = ts_ms;
	usage_set_text(r->key_id, key);
	usage_set_text(r->model, model);
	usage_set_text(r->upstream_model, model);
	usage_set_text(r->provider, "claude");
	usage_set_text(r->credential, "a.json");
	usage_set_text(r->format, "openai-chat");
	r->status = status;
	r->in_tok = in;
	r->out_tok = out;
	r->cached_tok = in / 2;
	r->reasoning_tok = out / 3;
	r->total_ms = total_ms;
	r->ttfb_ms = total_ms / 2;
	r->bytes_in = 100;
	r->bytes_out = 200;
}

/* One integer from a query on a separate connection. */
static int64_t
q1(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

struct collect {
	struct usage_point p[64];  /* points seen */
	char g[64][USAGE_TEXT_MAX]; /* their groups */
	int n;
};

static int
collect_fn(const struct usage_point *p, void *arg)
{
	struct collect *c = arg;

	if (c->n >= 64)
		return CP_ETOOBIG;
	c->p[c->n] = *p;
	usage_set_text(c->g[c->n], p->group);
	c->p[c->n].group = c->g[c->n];
	c->n++;
	return CP_OK;
}

static struct usage_writer *
open_writer(const char *path, size_t cap, int raw_days, int days)
{
	struct usage_writer_opts o = { path, cap, raw_days, days };
	struct usage_writer *w = NULL;
	char err[256] = "";

	assert_int_equal(usage_writer_open(&o, &w, err, sizeof(err)), CP_OK);
	return w;
}

/* Rows of two keys in two hours: the hourly table and every step of the
 * series equal the sums of the rows. */
static void
test_aggregates(void **state)
{
	struct fixture *f = *state;
	int64_t h0 = (now_ms() / 3600000 - 3) * 3600000;   /* an hour start, ms */
	struct usage_writer *w = open_writer(f->path, 0, 7, 400);
	struct usage_reader *r = NULL;
	struct usage_stats st;
	struct collect *c = calloc(1, sizeof(*c));
	struct usage_row row;
	char err[256];

	assert_non_null(c);
	/* key a: 3 rows in hour 0 (one error), 1 in hour 1; key b: 2 in hour 0 */
	mkrow(&row, h0 + 1000, "a", "m1", 200, 10, 20, 40);
	assert_true(usage_push(w, &row));
	mkrow(&row, h0 + 61000, "a", "m1", 500, 1, 0, 400);
	assert_true(usage_push(w, &row));
	mkrow(&row, h0 + 120000, "a", "m2", 200, 30, 60, 90);
	assert_true(usage_push(w, &row));
	mkrow(&row, h0 + 3600000 + 5, "a", "m1", 200, 7, 9, 1200);
	assert_true(usage_push(w, &row));
	mkrow(&row, h0 + 2000, "b", "m1", 0, 0, 0, 10);
	assert_true(usage_push(w, &row));
	mkrow(&row, h0 + 3599999, "b", "m1", 429, 5, 0, 20);
	assert_true(usage_push(w, &row));
	usage_writer_close(w, NULL);

	assert_int_equal(q1(f->path, "SELECT COUNT(*) FROM usage_raw"), 6);
	assert_int_equal(q1(f->path, "SELECT SUM(requests) FROM usage_hourly WHERE dim=0"), 6);
	assert_int_equal(q1(f->path, "SELECT SUM(in_tok) FROM usage_hourly WHERE dim=0"), 53);
	assert_int_equal(q1(f->path, "SELECT SUM(errors) FROM usage_hourly WHERE dim=0"), 3);
	assert_int_equal(q1(f->path, "SELECT COUNT(*) FROM usage_hourly WHERE dim=0"), 2);
	assert_int_equal(q1(f->path, "SELECT COUNT(*) FROM usage_hourly WHERE dim=1"), 3);
	assert_int_equal(q1(f->path, "SELECT SUM(requests) FROM usage_hourly WHERE dim=4"), 6);
	{
		sqlite3 *db = NULL;
		sqlite3_stmt *s = NULL;

		assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
		sqlite3_finalize(s);
		sqlite3_close(db);
	}

	assert_int_equal(usage_reader_open(f->path, &r, err, sizeof(err)), CP_OK);
	/* by key, hourly: a@h0 (3 rows), a@h1 (1), b@h0 (2) */
	assert_int_equal(usage_series(r, h0 / 1000, h0 / 1000 + 7200, 3600, USAGE_BY_KEY,
	    collect_fn, c, err, sizeof(err)), CP_OK);
	assert_int_equal(c->n, 3);
	assert_string_equal(c->p[0].group, "a");
	assert_int_equal(c->p[0].t, h0 / 1000);
	assert_int_equal(c->p[0].requests, 3);
	assert_int_equal(c->p[0].errors, 1);
	assert_int_equal(c->p[0].in_tok, 41);
	assert_int_equal(c->p[0].out_tok, 80);
	assert_int_equal(c->p[0].cached_tok, 5 + 0 + 15);
	assert_int_equal(c->p[0].reasoning_tok, 6 + 0 + 20);
	assert_int_equal(c->p[0].bytes_out, 600);
	/* 40 ms -> bucket 1 (<=50), 90 -> 2 (<=100), 400 -> 5 (<=500) */
	assert_int_equal(c->p[0].lat[1], 1);
	assert_int_equal(c->p[0].lat[2], 1);
	assert_int_equal(c->p[0].lat[5], 1);
	assert_int_equal(c->p[1].t, h0 / 1000 + 3600);
	assert_int_equal(c->p[1].requests, 1);
	assert_string_equal(c->p[2].group, "b");
	assert_int_equal(c->p[2].requests, 2);
	assert_int_equal(c->p[2].errors, 2);

	/* by model, daily: both hours in one day bucket when aligned */
	c->n = 0;
	assert_int_equal(usage_series(r, 0, h0 / 1000 + 7200, 86400, USAGE_BY_MODEL,
	    collect_fn, c, err, sizeof(err)), CP_OK);
	{
		int64_t m1 = 0, m2 = 0;

		for (int i = 0; i < c->n; i++) {
			if (strcmp(c->p[i].group, "m1") == 0)
				m1 += c->p[i].requests;
			else if (strcmp(c->p[i].group, "m2") == 0)
				m2 += c->p[i].requests;
			assert_int_equal(c->p[i].t % 86400, 0);
		}
		assert_int_equal(m1, 5);
		assert_int_equal(m2, 1);
	}

	/* minute step from the raw rows, no grouping */
	c->n = 0;
	assert_int_equal(usage_series(r, h0 / 1000, h0 / 1000 + 180, 60, USAGE_BY_NONE,
	    collect_fn, c, err, sizeof(err)), CP_OK);
	assert_int_equal(c->n, 3);
	assert_int_equal(c->p[0].requests, 2);   /* a at +1 s, b at +2 s */
	assert_int_equal(c->p[1].requests, 1);
	assert_int_equal(c->p[1].errors, 1);
	assert_int_equal(c->p[2].requests, 1);
	assert_int_equal(c->p[2].in_tok, 30);
	usage_reader_close(r);

	/* a second writer adds to the existing aggregates */
	w = open_writer(f->path, 0, 7, 400);
	mkrow(&row, h0 + 1000, "a", "m1", 200, 100, 0, 40);
	assert_true(usage_push(w, &row));
	usage_writer_stats(w, &st);
	usage_writer_close(w, NULL);
	assert_int_equal(q1(f->path, "SELECT requests FROM usage_hourly WHERE dim=1"
	    " AND value='a' ORDER BY hour LIMIT 1"), 4);
	assert_int_equal(q1(f->path, "SELECT SUM(in_tok) FROM usage_hourly WHERE dim=0"), 153);
	free(c);
}

/* A queue of 16 with the worker stuck behind another connection's write
 * lock: the 17th push is refused at once and counted; nothing blocks. */
static void
test_full_queue(void **state)
{
	struct fixture *f = *state;
	struct usage_writer *w = open_writer(f->path, 16, 7, 400);
	struct usage_stats st;
	struct usage_row row;
	sqlite3 *db = NULL;
	int64_t t0, dt;
	int ok = 0;

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
	mkrow(&row, now_ms(), "k", "m", 200, 1, 1, 1);
	t0 = now_ms();
	for (int i = 0; i < 100000; i++)
		ok += usage_push(w, &row);
	dt = now_ms() - t0;
	usage_writer_stats(w, &st);
	/* the worker writes its batch where it is in the queue: the
	 * bound is exact (it was 16 + USAGE_BATCH_MAX with a copied batch) */
	assert_int_equal(ok, 16);
	assert_int_equal(st.dropped, 100000 - ok);
	/* 100 000 pushes while the database is locked: never a wait on it
	 * (the lock would make one wait USAGE_BUSY_MS = 5 s) */
	assert_true(dt < 2000);
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	usage_writer_close(w, NULL);
	assert_int_equal(q1(f->path, "SELECT COUNT(*) FROM usage_raw"), ok);
}

/* A queue of 16 that wraps around hundreds of times while the worker
 * writes batches in place: every row once, none lost or doubled. */
static void
test_small_queue_wraps(void **state)
{
	struct fixture *f = *state;
	struct usage_writer *w = open_writer(f->path, 16, 7, 400);
	struct usage_stats st;
	struct usage_row row;
	int64_t t = now_ms();

	for (int i = 1; i <= 5000; i++) {
		mkrow(&row, t, "k", "m", 200, 1, 1, 1);
		row.bytes_in = i;
		while (!usage_push(w, &row)) {
			struct timespec ms = { 0, 1000000 };

			nanosleep(&ms, NULL);
		}
	}
	usage_writer_close(w, &st);
	assert_int_equal(st.written, 5000);
	assert_int_equal(st.queued, 0);
	assert_int_equal(q1(f->path, "SELECT COUNT(DISTINCT bytes_in) FROM usage_raw"), 5000);
	assert_int_equal(q1(f->path, "SELECT SUM(bytes_in) FROM usage_raw"), 5000 * 5001 / 2);
	assert_int_equal(q1(f->path, "SELECT SUM(requests) FROM usage_hourly WHERE dim=0"), 5000);
}

/* Every column of every row lands in its place, whether the row went in a
 * statement of one row or of many (usage.c binds RAW_MULTI rows per
 * INSERT while a batch has that many left): 1037 rows, each column a
 * different function of the row's number. */
static void
test_every_column_of_every_row(void **state)
{
	struct fixture *f = *state;
	struct usage_writer *w = open_writer(f->path, 0, 7, 400);
	struct usage_row row;
	char up[32], cred[32];
	int64_t t = now_ms() - 3600 * 1000;
	char sql[1024];

	for (int i = 1; i <= 1037; i++) {
		snprintf(up, sizeof(up), "u%d", i);
		snprintf(cred, sizeof(cred), "c%d", i);
		mkrow(&row, t + i, "k", "m", 200 + i % 3, i, 2 * i, i % 90);
		usage_set_text(row.upstream_model, up);
		usage_set_text(row.credential, cred);
		row.cached_tok = 3 * i;
		row.reasoning_tok = 4 * i;
		row.ttfb_ms = i % 50;
		row.bytes_in = i;
		row.bytes_out = 5 * i;
		row.retries = i % 4;
		assert_true(usage_push(w, &row));
	}
	usage_writer_close(w, NULL);
	snprintf(sql, sizeof(sql), "SELECT COUNT(DISTINCT in_tok) FROM usage_raw WHERE"
	    " ts = %lld + in_tok AND key_id = 'k' AND model = 'm'"
	    " AND upstream_model = 'u' || in_tok AND provider = 'claude'"
	    " AND credential = 'c' || in_tok AND format = 'openai-chat'"
	    " AND status = 200 + in_tok %% 3 AND out_tok = 2 * in_tok"
	    " AND cached_tok = 3 * in_tok AND reasoning_tok = 4 * in_tok"
	    " AND ttfb_ms = in_tok %% 50 AND total_ms = in_tok %% 90"
	    " AND bytes_in = in_tok AND bytes_out = 5 * in_tok AND retries = in_tok %% 4"
	    " AND lat_bucket = (CASE WHEN total_ms <= 25 THEN 0 WHEN total_ms <= 50 THEN 1"
	    " ELSE 2 END)", (long long)t);
	assert_int_equal(q1(f->path, sql), 1037);
	assert_int_equal(q1(f->path, "SELECT COUNT(*) FROM usage_raw"), 1037);
	assert_int_equal(q1(f->path, "SELECT SUM(requests) FROM usage_hourly WHERE dim=0"), 1037);
}

/* Retention: raw rows older than raw_days and hourly rows older than days
 * go on the worker's first pass (and hourly after). */
static void
test_prune(void **state)
{
	struct fixture *f = *state;
	int64_t now = now_ms(), day = 86400000;
	struct usage_writer *w = open_writer(f->path, 0, 7, 400);
	struct usage_row row;

	mkrow(&row, now - 401 * day, "k", "old", 200, 1, 1, 1);
	assert_true(usage_push(w, &row));
	mkrow(&row, now - 8 * day, "k", "mid", 200, 1, 1, 1);
	assert_true(usage_push(w, &row));
	mkrow(&row, now - 6 * day, "k", "new", 200, 1, 1, 1);
	assert_true(usage_push(w, &row));
	usage_writer_close(w, NULL);   /* the worker's first pass prunes after the write */
	assert_int_equal(q1(f->path, "SELECT COUNT(*) FROM usage_raw"), 1);
	assert_int_equal(q1(f->path, "SELECT COUNT(*) FROM usage_raw WHERE model='new'"), 1);
	assert_int_equal(q1(f->path, "SELECT COUNT(*) FROM usage_hourly WHERE dim=0"), 2);
	assert_int_equal(q1(f->path, "SELECT COUNT(*) FROM usage_hourly WHERE dim=2 AND value='old'"), 0);

	/* a hot change of the retention applies on the next pass */
	w = open_writer(f->path, 0, 7, 400);
	usage_writer_retention(w, 1, 5);
	mkrow(&row, now, "k", "now", 200, 1, 1, 1);
	assert_true(usage_push(w, &row));
	usage_writer_close(w, NULL);
	assert_int_equal(q1(f->path, "SELECT COUNT(*) FROM usage_raw"), 1);
	assert_int_equal(q1(f->path, "SELECT COUNT(*) FROM usage_hourly WHERE dim=0"), 1);
}

/* A child writes rows as fast as it can (bytes_in = sequence number,
 * ts = push time) and is SIGKILLed: integrity_check is ok, the stored
 * rows are exactly 0..n-1, and the newest stored row is less than a
 * flush interval (plus scheduling slack) older than the kill. */
static void
test_sigkill(void **state)
{
	struct fixture *f = *state;
	struct usage_writer *w = open_writer(f->path, 0, 7, 400);
	int64_t kill_ms, n, maxseq, maxts;
	pid_t pid;
	int status;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	usage_writer_close(w, NULL);   /* schema in place before the fork */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct usage_row row;
		int64_t seq = 0;

		w = NULL;
		{
			struct usage_writer_opts o = { f->path, 0, 7, 400 };

			if (usage_writer_open(&o, &w, NULL, 0) != CP_OK)
				_exit(1);
		}
		for (;;) {
			mkrow(&row, now_ms(), "k", "m", 200, 1, 1, 1);
			row.bytes_in = seq;
			if (usage_push(w, &row))
				seq++;
			if (seq % 64 == 0)
				usleep(200);
		}
	}
	usleep(2500 * 1000);
	kill_ms = now_ms();
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));

	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
	sqlite3_finalize(s);
	sqlite3_close(db);
	n = q1(f->path, "SELECT COUNT(*) FROM usage_raw");
	maxseq = q1(f->path, "SELECT MAX(bytes_in) FROM usage_raw");
	maxts = q1(f->path, "SELECT MAX(ts) FROM usage_raw");
	assert_true(n > 1000);
	assert_int_equal(maxseq, n - 1);
	assert_int_equal(q1(f->path, "SELECT SUM(requests) FROM usage_hourly WHERE dim=0"), n);
	/* USAGE_FLUSH_MS plus one transaction and scheduling on a busy box */
	assert_true(kill_ms - maxts < USAGE_FLUSH_MS + 1000);
}

static void
test_helpers(void **state)
{
	char *p;

	(void)state;
	assert_int_equal(usage_bucket_of(0), 0);
	assert_int_equal(usage_bucket_of(25), 0);
	assert_int_equal(usage_bucket_of(26), 1);
	assert_int_equal(usage_bucket_of(INT64_MAX), USAGE_LAT_BUCKETS - 1);
	assert_int_equal(usage_bucket_of(300001), USAGE_LAT_BUCKETS - 1);
	p = usage_db_path("/var/lib/cliproxy", "/etc/cliproxy/config.yaml");
	assert_string_equal(p, "/var/lib/cliproxy/usage.sqlite");
	free(p);
	p = usage_db_path("", "/etc/cliproxy/config.yaml");
	assert_string_equal(p, "/etc/cliproxy/state/usage.sqlite");
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helpers),
		cmocka_unit_test_setup_teardown(test_aggregates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_queue_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_every_column_of_every_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigkill, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
