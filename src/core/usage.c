/*
 * usage.c - usage accounting in SQLite (issue 15, DESIGN 3 usage-raw-days,
 * usage-days, state-dir).
 *
 * Writer: cliproxyd's event loop must never wait on the database, so
 * usage_push copies a row into a bounded ring under a mutex held only for
 * the copy; one worker thread takes up to USAGE_BATCH_MAX rows at a time,
 * writes them where they lie in the ring (the loop fills only the slots
 * after them), RAW_MULTI rows per INSERT, and commits them with their
 * hourly aggregates in one transaction, at least every USAGE_FLUSH_MS. A
 * full ring counts the row as dropped. The connection is opened NOMUTEX:
 * only the worker uses it. About 1.3 us of the worker's CPU per row
 * (bench/README.md, issue 15).
 * WAL with synchronous=NORMAL: a killed process loses no committed
 * transaction and never corrupts the file; only the rows still queued
 * (at most the last second's) are lost.
 *
 * Reader: cliproxy-mgmt opens the file read-only; WAL lets it read while
 * the daemon writes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core.h"

#define USAGE_SCHEMA_VERSION 1
#define USAGE_BUSY_MS        5000       /* wait for another connection's lock */
#define USAGE_PRUNE_EVERY_S  3600       /* retention pass in the worker */
#define USAGE_WORKER_NICE    10         /* the worker's nice above the loop's */

/* Upper bounds (ms) of the total-time histogram; the last bucket is open. */
static const int64_t bucket_limits[USAGE_LAT_BUCKETS] = {
	25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500,
	10000, 15000, 20000, 30000, 60000, 120000, 300000, INT64_MAX,
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS usage_raw ("
    " ts INTEGER NOT NULL,"            /* Unix ms */
    " key_id TEXT NOT NULL, model TEXT NOT NULL, upstream_model TEXT NOT NULL,"
    " provider TEXT NOT NULL, credential TEXT NOT NULL, format TEXT NOT NULL,"
    " status INTEGER NOT NULL,"
    " in_tok INTEGER NOT NULL, out_tok INTEGER NOT NULL,"
    " cached_tok INTEGER NOT NULL, reasoning_tok INTEGER NOT NULL,"
    " ttfb_ms INTEGER NOT NULL, total_ms INTEGER NOT NULL,"
    " bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,"
    " retries INTEGER NOT NULL, lat_bucket INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS usage_raw_ts ON usage_raw(ts);"
    /* One row per hour, dimension and value: dim 0 is everything (value
     * ""), 1..4 are key, model, provider, credential (enum usage_by). A
     * 30-day series reads 720 rows per value, whatever the raw volume. */
    "CREATE TABLE IF NOT EXISTS usage_hourly ("
    " hour INTEGER NOT NULL,"          /* Unix seconds, multiple of 3600 */
    " dim INTEGER NOT NULL, value TEXT NOT NULL,"
    " requests INTEGER NOT NULL, errors INTEGER NOT NULL,"
    " in_tok INTEGER NOT NULL, out_tok INTEGER NOT NULL,"
    " cached_tok INTEGER NOT NULL, reasoning_tok INTEGER NOT NULL,"
    " bytes_in INTEGER NOT NULL, bytes_out INTEGER NOT NULL,"
    " lat BLOB NOT NULL,"              /* USAGE_LAT_BUCKETS int64, little-endian */
    " PRIMARY KEY (dim, hour, value)) WITHOUT ROWID;";

#define RAW_COLS  18   /* columns of usage_raw */
#define RAW_MULTI 32   /* rows of one multi-row INSERT (fewer statements) */
#define RAW_ROW   "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"   /* RAW_COLS parameters */
static const char insert_raw_sql[] = "INSERT INTO usage_raw VALUES " RAW_ROW;

/* The aggregate row is read, merged in C (the histogram is a blob) and
 * written back: one SELECT + one UPSERT per (hour, group) per batch. */
static const char select_hourly_sql[] =
    "SELECT requests, errors, in_tok, out_tok, cached_tok, reasoning_tok,"
    " bytes_in, bytes_out, lat FROM usage_hourly"
    " WHERE dim=? AND hour=? AND value=?";
static const char upsert_hourly_sql[] =
    "INSERT OR REPLACE INTO usage_hourly VALUES (?,?,?,?,?,?,?,?,?,?,?,?)";

/* ------------------------------------------------------------ helpers */

void
usage_set_text(char *dst, const char *s)
{
	size_t n = s != NULL ? strnlen(s, USAGE_TEXT_MAX - 1) : 0;

	if (n > 0)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

int64_t
usage_bucket_limit(int i)
{
	if (i < 0 || i >= USAGE_LAT_BUCKETS)
		return INT64_MAX;
	return bucket_limits[i];
}

int
usage_bucket_of(int64_t ms)
{
	int i;

	for (i = 0; i < USAGE_LAT_BUCKETS - 1; i++)
		if (ms <= bucket_limits[i])
			break;
	return i;
}

char *
usage_db_path(const char *state_dir, const char *config_path)
{
	char buf[PATH_MAX];
	const char *slash;
	int n;

	if (state_dir != NULL && state_dir[0] != '\0')
		n = snprintf(buf, sizeof(buf), "%s/%s", state_dir, USAGE_DB_NAME);
	else if ((slash = strrchr(config_path, '/')) == NULL)
		n = snprintf(buf, sizeof(buf), "state/%s", USAGE_DB_NAME);
	else
		n = snprintf(buf, sizeof(buf), "%.*s/state/%s",
		    (int)(slash - config_path), config_path, USAGE_DB_NAME);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return NULL;
	return cp_strdup(buf);
}

static void
hist_encode(const int64_t *h, unsigned char *out)
{
	for (int i = 0; i < USAGE_LAT_BUCKETS; i++)
		for (int b = 0; b < 8; b++)
			out[i * 8 + b] = (unsigned char)((uint64_t)h[i] >> (8 * b));
}

static void
hist_add_blob(int64_t *h, const void *blob, int len)
{
	const unsigned char *p = blob;

	if (p == NULL || len != USAGE_LAT_BUCKETS * 8)
		return;
	for (int i = 0; i < USAGE_LAT_BUCKETS; i++) {
		uint64_t v = 0;

		for (int b = 0; b < 8; b++)
			v |= (uint64_t)p[i * 8 + b] << (8 * b);
		h[i] += (int64_t)v;
	}
}

static int
exec_sql(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		cp_seterr(err, errlen, "usage database: %s", msg != NULL ? msg : "error");
		sqlite3_free(msg);
		return CP_EIO;
	}
	return CP_OK;
}

static bool
row_is_error(int status)
{
	return status == 0 || status >= 400;
}

/* ------------------------------------------------------------- writer */

struct usage_writer {
	sqlite3 *db;                 /* the worker's connection */
	sqlite3_stmt *ins_raw;       /* insert_raw_sql */
	sqlite3_stmt *ins_raw_multi; /* the same for RAW_MULTI rows */
	sqlite3_stmt *sel_hourly;    /* select_hourly_sql */
	sqlite3_stmt *put_hourly;    /* upsert_hourly_sql */
	pthread_t thread;            /* the worker */
	bool started;                /* thread is running */
	pthread_mutex_t mu;          /* guards everything below */
	pthread_cond_t cv;           /* worker wake-up */
	struct usage_row *ring;      /* queue_cap rows */
	size_t cap, head, len;       /* ring geometry; len counts the batch */
	size_t wake_at;              /* len that wakes the worker: a batch, or
	                              * the whole of a smaller queue */
	bool stop;                   /* close asked */
	int raw_days, days;          /* retention */
	struct usage_stats st;       /* counters (queued derived from len) */
	/* The batch is the first nbatch rows of the ring, written where they
	 * are (no copy under the lock); the loop only fills slots past len. */
	const struct usage_row **batch; /* USAGE_BATCH_MAX: the batch's rows */
	size_t nbatch;               /* rows in the batch (0: none taken) */
	time_t last_prune;           /* worker: last retention pass */
};

static int
prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char *err, size_t errlen)
{
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK) {
		cp_seterr(err, errlen, "usage database: %s", sqlite3_errmsg(db));
		return CP_EIO;
	}
	return CP_OK;
}

/* insert_raw_sql with RAW_MULTI rows of parameters. */
static int
prepare_multi(struct usage_writer *w, char *err, size_t errlen)
{
	static const char row[] = "," RAW_ROW;
	char sql[sizeof(insert_raw_sql) + RAW_MULTI * sizeof(row)];
	size_t off = strlen(insert_raw_sql);

	memcpy(sql, insert_raw_sql, off);
	for (int i = 1; i < RAW_MULTI; i++) {
		memcpy(sql + off, row, sizeof(row) - 1);
		off += sizeof(row) - 1;
	}
	sql[off] = '\0';
	return prepare(w->db, sql, &w->ins_raw_multi, err, errlen);
}

static int
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* The value of row r in dimension d (enum usage_by; USAGE_BY_NONE is
 * everything, ""). */
static const char *
dim_value(const struct usage_row *r, enum usage_by d)
{
	switch (d) {
	case USAGE_BY_KEY:
		return r->key_id;
	case USAGE_BY_MODEL:
		return r->model;
	case USAGE_BY_PROVIDER:
		return r->provider;
	case USAGE_BY_CREDENTIAL:
		return r->credential;
	case USAGE_BY_NONE:
		break;
	}
	return "";
}

/* Merge the rows of the batch with the same hour and dimension-d value as
 * rows[first] into usage_hourly. done[] marks rows already merged. */
static int
merge_hourly(struct usage_writer *w, const struct usage_row *const *rows, size_t n,
    size_t first, bool *done, enum usage_by d)
{
	const struct usage_row *a = rows[first];
	const char *av = dim_value(a, d);
	int64_t hour = a->ts_ms / 1000 / 3600 * 3600;
	int64_t sum[8] = { 0 }, hist[USAGE_LAT_BUCKETS] = { 0 };
	unsigned char blob[USAGE_LAT_BUCKETS * 8];
	sqlite3_stmt *s = w->sel_hourly;
	int rc;

	for (size_t i = first; i < n; i++) {
		const struct usage_row *b = rows[i];

		if (done[i] || b->ts_ms / 1000 / 3600 * 3600 != hour ||
		    strcmp(av, dim_value(b, d)) != 0)
			continue;
		done[i] = true;
		sum[0]++;
		sum[1] += row_is_error(b->status);
		sum[2] += b->in_tok;
		sum[3] += b->out_tok;
		sum[4] += b->cached_tok;
		sum[5] += b->reasoning_tok;
		sum[6] += b->bytes_in;
		sum[7] += b->bytes_out;
		hist[usage_bucket_of(b->total_ms)]++;
	}
	sqlite3_reset(s);
	sqlite3_bind_int(s, 1, (int)d);
	sqlite3_bind_int64(s, 2, hour);
	bind_text(s, 3, av);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		for (int i = 0; i < 8; i++)
			sum[i] += sqlite3_column_int64(s, i);
		hist_add_blob(hist, sqlite3_column_blob(s, 8), sqlite3_column_bytes(s, 8));
	} else if (rc != SQLITE_DONE) {
		return rc;
	}
	sqlite3_reset(s);
	hist_encode(hist, blob);
	s = w->put_hourly;
	sqlite3_reset(s);
	sqlite3_bind_int64(s, 1, hour);
	sqlite3_bind_int(s, 2, (int)d);
	bind_text(s, 3, av);
	for (int i = 0; i < 8; i++)
		sqlite3_bind_int64(s, 4 + i, sum[i]);
	sqlite3_bind_blob(s, 12, blob, (int)sizeof(blob), SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Bind row r to the RAW_COLS parameters of s after the first base. */
static void
bind_raw(sqlite3_stmt *s, int base, const struct usage_row *r)
{
	sqlite3_bind_int64(s, base + 1, r->ts_ms);
	bind_text(s, base + 2, r->key_id);
	bind_text(s, base + 3, r->model);
	bind_text(s, base + 4, r->upstream_model);
	bind_text(s, base + 5, r->provider);
	bind_text(s, base + 6, r->credential);
	bind_text(s, base + 7, r->format);
	sqlite3_bind_int(s, base + 8, r->status);
	sqlite3_bind_int64(s, base + 9, r->in_tok);
	sqlite3_bind_int64(s, base + 10, r->out_tok);
	sqlite3_bind_int64(s, base + 11, r->cached_tok);
	sqlite3_bind_int64(s, base + 12, r->reasoning_tok);
	sqlite3_bind_int64(s, base + 13, r->ttfb_ms);
	sqlite3_bind_int64(s, base + 14, r->total_ms);
	sqlite3_bind_int64(s, base + 15, r->bytes_in);
	sqlite3_bind_int64(s, base + 16, r->bytes_out);
	sqlite3_bind_int(s, base + 17, r->retries);
	sqlite3_bind_int(s, base + 18, usage_bucket_of(r->total_ms));
}

/* One transaction: the raw rows and their aggregates. SQLITE_OK or the
 * error (the transaction is rolled back; the caller keeps the batch). */
static int
write_batch(struct usage_writer *w, bool *done)
{
	const struct usage_row *const *rows = w->batch;
	size_t n = w->nbatch;
	int rc;

	if ((rc = sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
		return rc;
	for (size_t i = 0; i < n;) {
		/* RAW_MULTI rows per statement while there are as many */
		sqlite3_stmt *s = n - i >= RAW_MULTI ? w->ins_raw_multi : w->ins_raw;
		size_t k = s == w->ins_raw ? 1 : RAW_MULTI;

		sqlite3_reset(s);
		for (size_t j = 0; j < k; j++)
			bind_raw(s, (int)(j * RAW_COLS), rows[i + j]);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc != SQLITE_DONE)
			goto fail;
		i += k;
	}
	for (int d = USAGE_BY_NONE; d <= USAGE_BY_CREDENTIAL; d++) {
		memset(done, 0, n * sizeof(*done));
		for (size_t i = 0; i < n; i++)
			if (!done[i] && (rc = merge_hourly(w, rows, n, i, done,
			    (enum usage_by)d)) != SQLITE_OK)
				goto fail;
	}
	if ((rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	return SQLITE_OK;
fail:
	(void)sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void
prune(struct usage_writer *w, int raw_days, int days)
{
	sqlite3_stmt *s = NULL;
	time_t now = time(NULL);

	if (sqlite3_prepare_v2(w->db, "DELETE FROM usage_raw WHERE ts < ?", -1, &s, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_int64(s, 1, ((int64_t)now - (int64_t)raw_days * 86400) * 1000);
		if (sqlite3_step(s) != SQLITE_DONE)
			log_warnx("usage: cannot prune raw rows: %s", sqlite3_errmsg(w->db));
	}
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(w->db, "DELETE FROM usage_hourly WHERE hour < ?", -1, &s,
	    NULL) == SQLITE_OK) {
		/* an hour is kept while any of it is inside the window */
		sqlite3_bind_int64(s, 1, (int64_t)now - (int64_t)days * 86400 - 3600);
		if (sqlite3_step(s) != SQLITE_DONE)
			log_warnx("usage: cannot prune hourly rows: %s", sqlite3_errmsg(w->db));
	}
	sqlite3_finalize(s);
}

/* The worker runs USAGE_WORKER_NICE below the daemon's priority: on a
 * busy machine the event loop (and the upstreams beside it) go first,
 * and a batch's millisecond of SQLite is not taken from a request in
 * flight; at nice +10 the worker still gets about a tenth of a contended
 * core, several times what recording needs at full speed (bench/usage.py:
 * ~1.3 us per row). Linux nice is per thread. */
static void
worker_yield_to_loop(void)
{
	pid_t tid = gettid();
	int cur;

	errno = 0;
	cur = getpriority(PRIO_PROCESS, (id_t)tid);
	if (errno == 0)
		(void)setpriority(PRIO_PROCESS, (id_t)tid,
		    cur + USAGE_WORKER_NICE > 19 ? 19 : cur + USAGE_WORKER_NICE);
}

static void *
worker(void *arg)
{
	struct usage_writer *w = arg;
	bool *done = calloc(USAGE_BATCH_MAX, sizeof(*done));

	(void)pthread_setname_np(pthread_self(), "cp-usage");  /* top -H, ps -L */
	worker_yield_to_loop();
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct timespec until;
		bool stopping;
		int raw_days, days, rc;
		time_t now;

		/* wait until a batch is full, a second has passed, or close */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += USAGE_FLUSH_MS / 1000;
		while (!w->stop && w->len < w->wake_at && w->nbatch == 0) {
			if (pthread_cond_timedwait(&w->cv, &w->mu, &until) == ETIMEDOUT)
				break;
		}
		/* The batch: the oldest rows, in place (a failed batch is
		 * kept, and grows); the loop meanwhile fills slots after them. */
		while (w->nbatch < USAGE_BATCH_MAX && w->nbatch < w->len) {
			w->batch[w->nbatch] = &w->ring[(w->head + w->nbatch) % w->cap];
			w->nbatch++;
		}
		stopping = w->stop;
		raw_days = w->raw_days;
		days = w->days;
		pthread_mutex_unlock(&w->mu);

		rc = SQLITE_OK;
		if (w->nbatch > 0) {
			rc = done == NULL ? SQLITE_NOMEM : write_batch(w, done);
			if (rc != SQLITE_OK)
				log_warnx("usage: cannot write %zu rows: %s", w->nbatch,
				    sqlite3_errstr(rc));
		}
		now = time(NULL);
		if (now - w->last_prune >= USAGE_PRUNE_EVERY_S || now < w->last_prune) {
			prune(w, raw_days, days);
			w->last_prune = now;
		}

		pthread_mutex_lock(&w->mu);
		if (rc == SQLITE_OK)
			w->st.written += w->nbatch;
		else if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			w->st.failed += w->nbatch;  /* not a passing lock: forever */
		else if (stopping)
			w->st.failed += w->nbatch;
		else
			continue;                   /* a passing lock: again */
		w->head = (w->head + w->nbatch) % w->cap;
		w->len -= w->nbatch;
		w->nbatch = 0;
		/* An empty ring starts again at its first slot: a writer that
		 * keeps up touches only the slots of one batch, and the rest of
		 * the queue (7 MB) never becomes resident (rel_reload's RSS
		 * bound caught it walking the whole ring). */
		if (w->len == 0)
			w->head = 0;
		if (stopping && w->len == 0)
			break;
	}
	pthread_mutex_unlock(&w->mu);
	free(done);
	return NULL;
}

/* Both <path>-wal and <path>-shm exist. */
static bool
wal_files_exist(const char *path)
{
	char p[PATH_MAX];

	if (snprintf(p, sizeof(p), "%s-wal", path) >= (int)sizeof(p) || access(p, F_OK) != 0)
		return false;
	snprintf(p, sizeof(p), "%s-shm", path);
	return access(p, F_OK) == 0;
}

static int
open_db(const char *path, bool readonly, sqlite3 **out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	char *uri = NULL;
	bool immutable = false;
	/* NOMUTEX: a connection is only ever used by one thread at a time
	 * (the writer's by its worker, after open and before close), so
	 * SQLite need not lock it on every bind and step. */
	int flags = SQLITE_OPEN_NOMUTEX | (readonly ? SQLITE_OPEN_READONLY :
	    (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
	int fd;

	if (!readonly) {
		/* Created 0660: the responder reads it as another user of the
		 * state dir's group (doc/deploy.md: cliproxyd runs as cliproxy,
		 * cliproxy-mgmt as www-data in the cliproxy group). SQLite gives
		 * the -wal and -shm files the database's mode and owner. Rows
		 * name keys and credentials only by id. */
		if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		    0660)) >= 0) {
			/* whatever the umask: a reader that cannot write the -shm
			 * file falls back to SQLite's unreliable read-only-shm
			 * mode, which missed rows under writes in the test */
			(void)fchmod(fd, 0660);
		} else if (errno != EEXIST ||
		    (fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
			cp_seterr(err, errlen, "cannot open '%s': %s", path, strerror(errno));
			return CP_EIO;
		}
		close(fd);
	} else if (access(path, F_OK) != 0) {
		cp_seterr(err, errlen, "no usage database yet");
		return CP_ENOTFOUND;
	} else if (!wal_files_exist(path)) {
		/* The writer keeps its -wal and -shm (SQLITE_FCNTL_PERSIST_WAL);
		 * without them nobody writes. A reader must not create them:
		 * they would belong to its user, whom the daemon's user may not
		 * be able to write for. The file alone is the whole database. */
		immutable = true;
		flags |= SQLITE_OPEN_URI;
	}
	if (immutable) {
		if ((uri = sqlite3_mprintf("file:%s?mode=ro&immutable=1", path)) == NULL) {
			cp_seterr(err, errlen, "out of memory");
			return CP_ENOMEM;
		}
		/* a path is a URI path: '?' and '#' would end it */
		if (strpbrk(path, "?#%") != NULL) {
			sqlite3_free(uri);
			uri = NULL;
			flags &= ~SQLITE_OPEN_URI;
		}
	}
	if (sqlite3_open_v2(uri != NULL ? uri : path, &db, flags | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		sqlite3_free(uri);
		cp_seterr(err, errlen, "cannot open '%s': %s", path,
		    db != NULL ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return CP_EIO;
	}
	sqlite3_free(uri);
	sqlite3_busy_timeout(db, USAGE_BUSY_MS);
	if (!readonly) {
		int persist = 1;

		(void)sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	}
	*out = db;
	return CP_OK;
}

int
usage_writer_open(const struct usage_writer_opts *o, struct usage_writer **out,
    char *err, size_t errlen)
{
	struct usage_writer *w = NULL;
	int rc = CP_ENOMEM;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		goto out;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->cap = o->queue_cap > 0 ? o->queue_cap : USAGE_QUEUE_DEFAULT;
	w->wake_at = w->cap < USAGE_BATCH_MAX ? w->cap : USAGE_BATCH_MAX;
	w->raw_days = o->raw_days;
	w->days = o->days;
	if ((w->ring = calloc(w->cap, sizeof(*w->ring))) == NULL ||
	    (w->batch = calloc(USAGE_BATCH_MAX, sizeof(*w->batch))) == NULL)
		goto out;
	if ((rc = open_db(o->path, false, &w->db, err, errlen)) != CP_OK)
		goto out;
	if ((rc = exec_sql(w->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
	    err, errlen)) != CP_OK ||
	    (rc = exec_sql(w->db, "BEGIN IMMEDIATE", err, errlen)) != CP_OK)
		goto out;
	if ((rc = exec_sql(w->db, schema_sql, err, errlen)) != CP_OK ||
	    (rc = exec_sql(w->db, "PRAGMA user_version=1; COMMIT", err, errlen)) != CP_OK) {
		(void)sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	if ((rc = prepare(w->db, insert_raw_sql, &w->ins_raw, err, errlen)) != CP_OK ||
	    (rc = prepare_multi(w, err, errlen)) != CP_OK ||
	    (rc = prepare(w->db, select_hourly_sql, &w->sel_hourly, err, errlen)) != CP_OK ||
	    (rc = prepare(w->db, upsert_hourly_sql, &w->put_hourly, err, errlen)) != CP_OK)
		goto out;
	if (pthread_create(&w->thread, NULL, worker, w) != 0) {
		cp_seterr(err, errlen, "cannot start the usage writer thread");
		rc = CP_EIO;
		goto out;
	}
	w->started = true;
	*out = w;
	w = NULL;
	rc = CP_OK;
out:
	usage_writer_close(w, NULL);
	return rc;
}

bool
usage_push(struct usage_writer *w, const struct usage_row *row)
{
	bool ok;

	if (w == NULL)
		return false;
	pthread_mutex_lock(&w->mu);
	ok = !w->stop && w->len < w->cap;
	if (ok) {
		w->ring[(w->head + w->len) % w->cap] = *row;
		if (++w->len == w->wake_at)
			pthread_cond_signal(&w->cv);
	} else {
		w->st.dropped++;
	}
	pthread_mutex_unlock(&w->mu);
	return ok;
}

void
usage_writer_retention(struct usage_writer *w, int raw_days, int days)
{
	pthread_mutex_lock(&w->mu);
	w->raw_days = raw_days;
	w->days = days;
	w->last_prune = 0;   /* apply it on the worker's next pass */
	pthread_mutex_unlock(&w->mu);
}

void
usage_writer_stats(struct usage_writer *w, struct usage_stats *st)
{
	pthread_mutex_lock(&w->mu);
	*st = w->st;
	st->queued = w->len;
	pthread_mutex_unlock(&w->mu);
}

void
usage_writer_close(struct usage_writer *w, struct usage_stats *final)
{
	if (w == NULL)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = true;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
	}
	if (final != NULL) {
		*final = w->st;
		final->queued = w->len;
	}
	sqlite3_finalize(w->ins_raw);
	sqlite3_finalize(w->ins_raw_multi);
	sqlite3_finalize(w->sel_hourly);
	sqlite3_finalize(w->put_hourly);
	sqlite3_close(w->db);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	free(w->ring);
	free(w->batch);
	free(w);
}

/* ------------------------------------------------------------- reader */

struct usage_reader {
	sqlite3 *db;   /* read-only connection */
};

int
usage_reader_open(const char *path, struct usage_reader **out, char *err, size_t errlen)
{
	struct usage_reader *r;
	int rc;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return CP_ENOMEM;
	if ((rc = open_db(path, true, &r->db, err, errlen)) != CP_OK) {
		free(r);
		return rc;
	}
	*out = r;
	return CP_OK;
}

void
usage_reader_close(struct usage_reader *r)
{
	if (r == NULL)
		return;
	sqlite3_close(r->db);
	free(r);
}

/* Group columns by enum usage_by: one table. */
static const char *const by_column[] = {
	[USAGE_BY_NONE] = "''", [USAGE_BY_KEY] = "key_id", [USAGE_BY_MODEL] = "model",
	[USAGE_BY_PROVIDER] = "provider", [USAGE_BY_CREDENTIAL] = "credential",
};

int
usage_series(struct usage_reader *r, int64_t from, int64_t to, int64_t step,
    enum usage_by by, usage_point_fn fn, void *arg, char *err, size_t errlen)
{
	struct buf sql;
	sqlite3_stmt *s = NULL;
	struct usage_point p;
	const char *g = by_column[by];
	char cur_g[USAGE_TEXT_MAX] = "";
	bool have = false;
	int rc = CP_ENOMEM, src;

	buf_init(&sql, 16384);
	if (step == 60) {
		/* raw rows: the histogram from lat_bucket */
		if (buf_printf(&sql, "SELECT ts/60000*60 AS t, %s AS g, COUNT(*),"
		    " SUM(status=0 OR status>=400), SUM(in_tok), SUM(out_tok),"
		    " SUM(cached_tok), SUM(reasoning_tok), SUM(bytes_in), SUM(bytes_out)", g) != CP_OK)
			goto out;
		for (int i = 0; i < USAGE_LAT_BUCKETS; i++)
			if (buf_printf(&sql, ", SUM(lat_bucket=%d)", i) != CP_OK)
				goto out;
		if (buf_appends(&sql, " FROM usage_raw WHERE ts>=?1*1000 AND ts<?2*1000"
		    " GROUP BY g, t ORDER BY g, t") != CP_OK)
			goto out;
	} else {
		/* hourly aggregates; the histogram is summed in C */
		if (buf_appends(&sql, "SELECT hour/?3*?3 AS t, value AS g, requests, errors,"
		    " in_tok, out_tok, cached_tok, reasoning_tok, bytes_in, bytes_out, lat"
		    " FROM usage_hourly WHERE dim=?4 AND hour>=?1 AND hour<?2"
		    " ORDER BY g, t") != CP_OK)
			goto out;
	}
	if (sqlite3_prepare_v2(r->db, sql.p, -1, &s, NULL) != SQLITE_OK) {
		cp_seterr(err, errlen, "usage database: %s", sqlite3_errmsg(r->db));
		rc = CP_EIO;
		goto out;
	}
	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 2, to);
	if (step != 60) {
		sqlite3_bind_int64(s, 3, step);
		sqlite3_bind_int(s, 4, (int)by);
	}
	memset(&p, 0, sizeof(p));
	rc = CP_OK;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t t = sqlite3_column_int64(s, 0);
		const char *gv = (const char *)sqlite3_column_text(s, 1);
		int64_t v[8];

		if (gv == NULL)
			gv = "";
		/* hourly rows of one group and bucket arrive together (ORDER BY
		 * g, t): emit the point when either changes */
		if (have && (t != p.t || strcmp(gv, cur_g) != 0)) {
			p.group = cur_g;
			if ((rc = fn(&p, arg)) != CP_OK)
				goto out;
			memset(&p, 0, sizeof(p));
			have = false;
		}
		if (!have) {
			usage_set_text(cur_g, gv);
			p.t = t;
			have = true;
		}
		for (int i = 0; i < 8; i++)
			v[i] = sqlite3_column_int64(s, 2 + i);
		p.requests += v[0];
		p.errors += v[1];
		p.in_tok += v[2];
		p.out_tok += v[3];
		p.cached_tok += v[4];
		p.reasoning_tok += v[5];
		p.bytes_in += v[6];
		p.bytes_out += v[7];
		if (step == 60) {
			for (int i = 0; i < USAGE_LAT_BUCKETS; i++)
				p.lat[i] += sqlite3_column_int64(s, 10 + i);
		} else {
			hist_add_blob(p.lat, sqlite3_column_blob(s, 10), sqlite3_column_bytes(s, 10));
		}
	}
	if (src != SQLITE_DONE) {
		cp_seterr(err, errlen, "usage database: %s", sqlite3_errmsg(r->db));
		rc = CP_EIO;
		goto out;
	}
	if (have) {
		p.group = cur_g;
		rc = fn(&p, arg);
	}
out:
	sqlite3_finalize(s);
	buf_release(&sql);
	return rc;
}

int
usage_key_tokens(struct usage_reader *r, int64_t since, usage_key_fn fn, void *arg,
    char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	int rc = CP_OK, src;

	if (sqlite3_prepare_v2(r->db, "SELECT value, SUM(in_tok + out_tok) FROM usage_hourly"
	    " WHERE dim=?1 AND hour>=?2 GROUP BY value", -1, &s, NULL) != SQLITE_OK) {
		cp_seterr(err, errlen, "usage database: %s", sqlite3_errmsg(r->db));
		return CP_EIO;
	}
	sqlite3_bind_int(s, 1, (int)USAGE_BY_KEY);
	sqlite3_bind_int64(s, 2, since);
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(s, 0);

		if ((rc = fn(k != NULL ? k : "", sqlite3_column_int64(s, 1), arg)) != CP_OK)
			goto out;
	}
	if (src != SQLITE_DONE) {
		cp_seterr(err, errlen, "usage database: %s", sqlite3_errmsg(r->db));
		rc = CP_EIO;
	}
out:
	sqlite3_finalize(s);
	return rc;
}

static void
col_text(sqlite3_stmt *s, int i, char *dst)
{
	usage_set_text(dst, (const char *)sqlite3_column_text(s, i));
}

int
usage_export(struct usage_reader *r, int64_t from, int64_t to, usage_row_fn fn,
    void *arg, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	struct usage_row *row = NULL;
	int rc = CP_ENOMEM, src;

	if ((row = calloc(1, sizeof(*row))) == NULL)
		goto out;
	if (sqlite3_prepare_v2(r->db, "SELECT ts, key_id, model, upstream_model, provider,"
	    " credential, format, status, in_tok, out_tok, cached_tok, reasoning_tok,"
	    " ttfb_ms, total_ms, bytes_in, bytes_out, retries FROM usage_raw"
	    " WHERE ts>=?1*1000 AND ts<?2*1000 ORDER BY ts", -1, &s, NULL) != SQLITE_OK) {
		cp_seterr(err, errlen, "usage database: %s", sqlite3_errmsg(r->db));
		rc = CP_EIO;
		goto out;
	}
	sqlite3_bind_int64(s, 1, from);
	sqlite3_bind_int64(s, 2, to);
	rc = CP_OK;
	while ((src = sqlite3_step(s)) == SQLITE_ROW) {
		row->ts_ms = sqlite3_column_int64(s, 0);
		col_text(s, 1, row->key_id);
		col_text(s, 2, row->model);
		col_text(s, 3, row->upstream_model);
		col_text(s, 4, row->provider);
		col_text(s, 5, row->credential);
		col_text(s, 6, row->format);
		row->status = sqlite3_column_int(s, 7);
		row->in_tok = sqlite3_column_int64(s, 8);
		row->out_tok = sqlite3_column_int64(s, 9);
		row->cached_tok = sqlite3_column_int64(s, 10);
		row->reasoning_tok = sqlite3_column_int64(s, 11);
		row->ttfb_ms = sqlite3_column_int64(s, 12);
		row->total_ms = sqlite3_column_int64(s, 13);
		row->bytes_in = sqlite3_column_int64(s, 14);
		row->bytes_out = sqlite3_column_int64(s, 15);
		row->retries = sqlite3_column_int(s, 16);
		if ((rc = fn(row, arg)) != CP_OK)
			goto out;
	}
	if (src != SQLITE_DONE) {
		cp_seterr(err, errlen, "usage database: %s", sqlite3_errmsg(r->db));
		rc = CP_EIO;
	}
out:
	sqlite3_finalize(s);
	free(row);
	return rc;
}
