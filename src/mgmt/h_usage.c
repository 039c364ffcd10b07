/*
 * h_usage.c - the usage endpoints (issue 15): GET /usage (series and
 * totals) and GET /usage/export (raw rows, streamed). The database is
 * <state-dir>/usage.sqlite, written by cliproxyd and opened read-only
 * here (usage.c). Nothing secret is in it: keys and credentials appear
 * only by id.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mgmt.h"

#define USAGE_DEFAULT_RANGE 86400           /* from defaults to to - 24 h */
#define USAGE_TIME_MAX  253402300799LL      /* 9999-12-31T23:59:59Z */

static const struct {
	const char *name;          /* step= value */
	int64_t seconds;           /* bucket width */
} steps[] = { { "minute", 60 }, { "hour", 3600 }, { "day", 86400 } };

static const struct {
	const char *name;          /* by= value */
	enum usage_by by;          /* grouping */
} bys[] = {
	{ "key", USAGE_BY_KEY }, { "model", USAGE_BY_MODEL },
	{ "provider", USAGE_BY_PROVIDER }, { "credential", USAGE_BY_CREDENTIAL },
};

/* ------------------------------------------------------- parameters */

/* Every query parameter name must be one of allowed (strict: a typo such
 * as "form=" must not silently mean "the last 24 hours"). */
static const char *
unknown_param(const char *q, const char *const *allowed)
{
	static char msg[96];
	const char *p = q;

	while (*p != '\0') {
		size_t n = strcspn(p, "=&"), i;
		bool ok = false;

		for (i = 0; allowed[i] != NULL; i++)
			if (strlen(allowed[i]) == n && strncmp(allowed[i], p, n) == 0)
				ok = true;
		if (!ok && n > 0) {
			snprintf(msg, sizeof(msg), "unknown parameter '%.*s'",
			    (int)(n > 32 ? 32 : n), p);
			for (char *c = msg; *c != '\0'; c++)
				if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
					*c = '?';
			return msg;
		}
		p += strcspn(p, "&");
		if (*p == '&')
			p++;
	}
	return NULL;
}

/* A time: Unix seconds (canonical decimal) or RFC 3339 UTC
 * "YYYY-MM-DDTHH:MM:SSZ". */
static bool
parse_time(const char *s, size_t len, int64_t *out)
{
	long long v;
	struct tm tm;
	const char *end;

	if (str_to_ll(s, len, 0, USAGE_TIME_MAX, &v) == CP_OK) {
		*out = v;
		return true;
	}
	if (len != 20)
		return false;
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end == NULL || *end != '\0')
		return false;
	*out = (int64_t)timegm(&tm);
	return *out >= 0;
}

struct usage_params {
	int64_t from, to;          /* [from, to), Unix seconds, aligned */
	int64_t step;              /* bucket seconds (export: 0) */
	const char *step_name;     /* "minute", "hour", "day" */
	enum usage_by by;          /* grouping */
	const char *by_name;       /* by= value or NULL */
	bool csv;                  /* export format */
};

/* One optional parameter into val; false with rs filled on error. */
static bool
param(struct mgmt_req *rq, struct mgmt_resp *rs, const char *name, char *val, size_t vlen,
    size_t *len, bool *present)
{
	int rc = req_query(rq, name, val, vlen, len);

	*present = rc == CP_OK;
	if (rc == CP_OK || rc == CP_ENOTFOUND) {
		if (rc == CP_OK && strlen(val) != *len) {
			resp_error(rs, 400, "invalid query parameter");
			return false;
		}
		return true;
	}
	resp_error(rs, 400, "invalid query parameter");
	return false;
}

/* Parse and check from, to, step, by, format. export selects the
 * parameter set. false with rs filled (400) on any problem. */
static bool
parse_params(struct mgmt_req *rq, struct mgmt_resp *rs, bool export, struct usage_params *p)
{
	static const char *const series_names[] = { "from", "to", "by", "step", NULL };
	static const char *const export_names[] = { "from", "to", "format", NULL };
	char v[64];
	size_t len;
	bool present;
	const char *why;
	int64_t now = (int64_t)time(NULL);
	size_t i;

	memset(p, 0, sizeof(*p));
	if ((why = unknown_param(rq->query, export ? export_names : series_names)) != NULL) {
		resp_error(rs, 400, why);
		return false;
	}
	p->step = 3600;
	p->step_name = "hour";
	if (!export) {
		if (!param(rq, rs, "step", v, sizeof(v), &len, &present))
			return false;
		if (present) {
			for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
				if (strcmp(v, steps[i].name) == 0)
					break;
			if (i == sizeof(steps) / sizeof(steps[0])) {
				resp_error(rs, 400, "step must be minute, hour or day");
				return false;
			}
			p->step = steps[i].seconds;
			p->step_name = steps[i].name;
		}
		if (!param(rq, rs, "by", v, sizeof(v), &len, &present))
			return false;
		if (present) {
			for (i = 0; i < sizeof(bys) / sizeof(bys[0]); i++)
				if (strcmp(v, bys[i].name) == 0)
					break;
			if (i == sizeof(bys) / sizeof(bys[0])) {
				resp_error(rs, 400, "by must be key, model, provider or credential");
				return false;
			}
			p->by = bys[i].by;
			p->by_name = bys[i].name;
		}
	} else {
		if (!param(rq, rs, "format", v, sizeof(v), &len, &present))
			return false;
		if (present && strcmp(v, "csv") == 0) {
			p->csv = true;
		} else if (present && strcmp(v, "json") != 0) {
			resp_error(rs, 400, "format must be csv or json");
			return false;
		}
	}
	p->to = now + 1;
	if (!param(rq, rs, "to", v, sizeof(v), &len, &present))
		return false;
	if (present && !parse_time(v, len, &p->to)) {
		resp_error(rs, 400, "to must be Unix seconds or YYYY-MM-DDTHH:MM:SSZ");
		return false;
	}
	p->from = p->to - USAGE_DEFAULT_RANGE;
	if (p->from < 0)
		p->from = 0;
	if (!param(rq, rs, "from", v, sizeof(v), &len, &present))
		return false;
	if (present && !parse_time(v, len, &p->from)) {
		resp_error(rs, 400, "from must be Unix seconds or YYYY-MM-DDTHH:MM:SSZ");
		return false;
	}
	if (p->from >= p->to) {
		resp_error(rs, 400, "from must be before to");
		return false;
	}
	if (!export) {
		/* buckets are whole steps: from down, to up */
		p->from -= p->from % p->step;
		if (p->to % p->step != 0)
			p->to += p->step - p->to % p->step;
		if ((p->to - p->from) / p->step > USAGE_BUCKETS_MAX) {
			resp_error(rs, 400, "too many buckets: narrow from..to or use a larger step");
			return false;
		}
	}
	return true;
}

/* Open the database of this config in its state dir (cfg_state_dir: the
 * one rule cliproxyd follows too). *r stays NULL when there is no
 * database yet. */
static bool
open_reader(struct mgmt_req *rq, struct mgmt_resp *rs, struct usage_reader **r)
{
	char *sd, *path = NULL;
	char err[256] = "";
	int rc;

	*r = NULL;
	if ((sd = cfg_state_dir(rq->cfg, rq->st->config_path)) != NULL)
		path = usage_db_path(sd, rq->st->config_path);
	free(sd);
	if (path == NULL) {
		resp_cp_error(rs, CP_ENOMEM, NULL);
		return false;
	}
	rc = usage_reader_open(path, r, err, sizeof(err));
	free(path);
	if (rc == CP_OK || rc == CP_ENOTFOUND)
		return true;
	log_warnx("usage: %s", err);
	resp_error(rs, 500, "cannot read the usage database");
	return false;
}

/* ----------------------------------------------------------- series */

struct totals {
	int64_t requests, errors;                /* counts */
	int64_t in_tok, out_tok, cached_tok, reasoning_tok; /* tokens */
	int64_t bytes_in, bytes_out;             /* bytes */
	int64_t lat[USAGE_LAT_BUCKETS];          /* histogram */
};

static void
totals_add(struct totals *t, const struct usage_point *p)
{
	t->requests += p->requests;
	t->errors += p->errors;
	t->in_tok += p->in_tok;
	t->out_tok += p->out_tok;
	t->cached_tok += p->cached_tok;
	t->reasoning_tok += p->reasoning_tok;
	t->bytes_in += p->bytes_in;
	t->bytes_out += p->bytes_out;
	for (int i = 0; i < USAGE_LAT_BUCKETS; i++)
		t->lat[i] += p->lat[i];
}

/* The q-quantile of a histogram as the upper bound of its bucket (the
 * open last bucket reports the bound below it); -1 when empty. */
static int64_t
quantile(const int64_t *h, int64_t pct)
{
	int64_t n = 0, need, seen = 0;

	for (int i = 0; i < USAGE_LAT_BUCKETS; i++)
		n += h[i];
	if (n == 0)
		return -1;
	need = (n * pct + 99) / 100;   /* rank ceil(n * pct / 100), exact */
	if (need < 1)
		need = 1;
	for (int i = 0; i < USAGE_LAT_BUCKETS; i++) {
		seen += h[i];
		if (seen >= need)
			return i == USAGE_LAT_BUCKETS - 1 ? usage_bucket_limit(i - 1) :
			    usage_bucket_limit(i);
	}
	return usage_bucket_limit(USAGE_LAT_BUCKETS - 2);
}

/*
 * The answer is written as text, not built as cJSON: a month of hours by
 * model is ~9,000 points of 13 numbers, and cJSON prints each number
 * with snprintf("%.15g") and a sscanf round-trip check, which made
 * by=model take 200-300 ms over 10 million rows where the database part
 * takes ~10 ms (bench/usage.py). Every value here is an integer.
 */

/* The members of a totals struct, without braces. */
static int
totals_text(struct buf *b, const struct totals *t)
{
	int64_t p50 = quantile(t->lat, 50), p95 = quantile(t->lat, 95);
	char q50[24] = "null", q95[24] = "null";

	if (p50 >= 0)
		snprintf(q50, sizeof(q50), "%" PRId64, p50);
	if (p95 >= 0)
		snprintf(q95, sizeof(q95), "%" PRId64, p95);
	return buf_printf(b, "\"requests\":%" PRId64 ",\"errors\":%" PRId64 ",\"tokens\":{"
	    "\"input\":%" PRId64 ",\"output\":%" PRId64 ",\"cached\":%" PRId64 ","
	    "\"reasoning\":%" PRId64 "},\"bytes\":{\"in\":%" PRId64 ",\"out\":%" PRId64 "},"
	    "\"latency_ms\":{\"p50\":%s,\"p95\":%s}", t->requests, t->errors, t->in_tok,
	    t->out_tok, t->cached_tok, t->reasoning_tok, t->bytes_in, t->bytes_out, q50, q95);
}

/* s as a JSON string (quotes and escapes by cJSON). */
static int
string_text(struct buf *b, const char *s)
{
	cJSON *j = cJSON_CreateString(s);
	char *txt = j != NULL ? cJSON_PrintUnformatted(j) : NULL;
	int rc = txt != NULL ? buf_appends(b, txt) : CP_ENOMEM;

	cJSON_free(txt);
	cJSON_Delete(j);
	return rc;
}

struct series_ctx {
	struct buf *out;           /* the answer being written */
	bool open;                 /* a series object is open */
	size_t n_series;           /* series written */
	size_t n_points;           /* points of the open series */
	char group[USAGE_TEXT_MAX]; /* its group */
	bool grouped;              /* by= was given */
	struct totals st;          /* totals of the current series */
	struct totals all;         /* totals of everything */
};

static int
close_series(struct series_ctx *c)
{
	int rc;

	if (!c->open)
		return CP_OK;
	if ((rc = buf_appends(c->out, "],\"totals\":{")) != CP_OK ||
	    (rc = totals_text(c->out, &c->st)) != CP_OK ||
	    (rc = buf_appends(c->out, "}}")) != CP_OK)
		return rc;
	c->open = false;
	memset(&c->st, 0, sizeof(c->st));
	return CP_OK;
}

static int
point_fn(const struct usage_point *p, void *arg)
{
	struct series_ctx *c = arg;
	struct totals one;
	int rc;

	if (c->open && strcmp(c->group, p->group) != 0 && (rc = close_series(c)) != CP_OK)
		return rc;
	if (!c->open) {
		if ((rc = buf_appends(c->out, c->n_series++ > 0 ? ",{" : "{")) != CP_OK)
			return rc;
		if (c->grouped && ((rc = buf_appends(c->out, "\"key\":")) != CP_OK ||
		    (rc = string_text(c->out, p->group)) != CP_OK ||
		    (rc = buf_appends(c->out, ",")) != CP_OK))
			return rc;
		if ((rc = buf_appends(c->out, "\"points\":[")) != CP_OK)
			return rc;
		usage_set_text(c->group, p->group);
		c->open = true;
		c->n_points = 0;
	}
	memset(&one, 0, sizeof(one));
	totals_add(&one, p);
	totals_add(&c->st, p);
	totals_add(&c->all, p);
	if ((rc = buf_appends(c->out, c->n_points++ > 0 ? ",{" : "{")) != CP_OK ||
	    (rc = totals_text(c->out, &one)) != CP_OK ||
	    (rc = buf_printf(c->out, ",\"t\":%" PRId64 "}", p->t)) != CP_OK)
		return rc;
	return CP_OK;
}

void
h_usage_get(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	struct usage_params p;
	struct usage_reader *r = NULL;
	struct series_ctx *c = NULL;
	struct buf *out = &rs->body;
	char err[256] = "";
	int rc = CP_ENOMEM;

	(void)arg;
	if (!parse_params(rq, rs, false, &p) || !open_reader(rq, rs, &r))
		goto out;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		goto fail;
	/* a grouped month of hours is bigger than the default body cap */
	out->max = USAGE_BODY_MAX;
	buf_reset(out);
	c->out = out;
	c->grouped = p.by != USAGE_BY_NONE;
	if ((rc = buf_printf(out, "{\"from\":%" PRId64 ",\"to\":%" PRId64 ",\"step\":\"%s\","
	    "\"by\":", p.from, p.to, p.step_name)) != CP_OK ||
	    (rc = p.by_name != NULL ? string_text(out, p.by_name) :
	    buf_appends(out, "null")) != CP_OK ||
	    (rc = buf_appends(out, ",\"series\":[")) != CP_OK)
		goto fail;
	if (r != NULL && (rc = usage_series(r, p.from, p.to, p.step, p.by, point_fn, c,
	    err, sizeof(err))) != CP_OK)
		goto fail;
	if ((rc = close_series(c)) != CP_OK ||
	    (rc = buf_appends(out, "],\"totals\":{")) != CP_OK ||
	    (rc = totals_text(out, &c->all)) != CP_OK ||
	    (rc = buf_appends(out, "}}")) != CP_OK)
		goto fail;
	rs->status = 200;
	rs->is_json = true;
	goto out;
fail:
	if (rc == CP_EIO) {
		log_warnx("usage: %s", err);
		resp_error(rs, 500, "cannot read the usage database");
	} else if (rc == CP_ETOOBIG) {
		resp_error(rs, 500, "usage answer too large: narrow from..to");
	} else {
		resp_cp_error(rs, rc == CP_OK ? CP_ENOMEM : rc, NULL);
	}
out:
	free(c);
	usage_reader_close(r);
}

/* ----------------------------------------------------------- export */

#define EXPORT_CHUNK 65536         /* bytes gathered before a write */

struct export_ctx {
	struct usage_reader *r;    /* open database, or NULL: no rows */
	struct usage_params p;     /* range and format */
	const struct mgmt_io *io;  /* where rows go */
	struct buf out;            /* pending bytes */
	int64_t n;                 /* rows written */
};

static const char csv_header[] = "time,ts_ms,key,model,upstream_model,provider,"
    "credential,format,status,input_tokens,output_tokens,cached_tokens,"
    "reasoning_tokens,ttfb_ms,total_ms,bytes_in,bytes_out,retries\r\n";

/* One CSV field (RFC 4180): quoted when it holds a comma, quote, CR or
 * LF. Model names come from clients: a leading = + - @ TAB or CR would
 * run as a formula in a spreadsheet, so such a field gets a leading
 * apostrophe (OWASP "CSV injection"). */
static int
csv_field(struct buf *b, const char *s)
{
	bool quote = strpbrk(s, ",\"\r\n") != NULL || strchr("=+-@\t\r", s[0]) != NULL;
	int rc = CP_OK;

	if (s[0] == '\0')
		return buf_appends(b, ",");
	if (quote)
		rc = buf_appends(b, "\"");
	if (rc == CP_OK && strchr("=+-@\t\r", s[0]) != NULL)
		rc = buf_appends(b, "'");
	for (const char *p = s; rc == CP_OK && *p != '\0'; p++)
		rc = *p == '"' ? buf_appends(b, "\"\"") : buf_append(b, p, 1);
	if (rc == CP_OK && quote)
		rc = buf_appends(b, "\"");
	if (rc == CP_OK)
		rc = buf_appends(b, ",");
	return rc;
}

static int
flush_out(struct export_ctx *x)
{
	int rc = CP_OK;

	if (x->out.len > 0)
		rc = x->io->write(x->io->ctx, x->out.p, x->out.len);
	buf_reset(&x->out);
	return rc;
}

static int
export_row(const struct usage_row *row, void *arg)
{
	struct export_ctx *x = arg;
	char when[40];
	time_t sec = (time_t)(row->ts_ms / 1000);
	int rc = CP_OK;

	fmt_rfc3339(sec, when, sizeof(when));
	if (x->p.csv) {
		rc = buf_printf(&x->out, "%s,%" PRId64 ",", when, row->ts_ms);
		if (rc == CP_OK) rc = csv_field(&x->out, row->key_id);
		if (rc == CP_OK) rc = csv_field(&x->out, row->model);
		if (rc == CP_OK) rc = csv_field(&x->out, row->upstream_model);
		if (rc == CP_OK) rc = csv_field(&x->out, row->provider);
		if (rc == CP_OK) rc = csv_field(&x->out, row->credential);
		if (rc == CP_OK) rc = csv_field(&x->out, row->format);
		if (rc == CP_OK)
			rc = buf_printf(&x->out, "%d,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
			    ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%d\r\n", row->status,
			    row->in_tok, row->out_tok, row->cached_tok, row->reasoning_tok,
			    row->ttfb_ms, row->total_ms, row->bytes_in, row->bytes_out,
			    row->retries);
	} else {
		cJSON *o = cJSON_CreateObject();
		char *s = NULL;

		if (o == NULL ||
		    cJSON_AddStringToObject(o, "time", when) == NULL ||
		    cJSON_AddNumberToObject(o, "ts_ms", (double)row->ts_ms) == NULL ||
		    cJSON_AddStringToObject(o, "key", row->key_id) == NULL ||
		    cJSON_AddStringToObject(o, "model", row->model) == NULL ||
		    cJSON_AddStringToObject(o, "upstream_model", row->upstream_model) == NULL ||
		    cJSON_AddStringToObject(o, "provider", row->provider) == NULL ||
		    cJSON_AddStringToObject(o, "credential", row->credential) == NULL ||
		    cJSON_AddStringToObject(o, "format", row->format) == NULL ||
		    cJSON_AddNumberToObject(o, "status", row->status) == NULL ||
		    cJSON_AddNumberToObject(o, "input_tokens", (double)row->in_tok) == NULL ||
		    cJSON_AddNumberToObject(o, "output_tokens", (double)row->out_tok) == NULL ||
		    cJSON_AddNumberToObject(o, "cached_tokens", (double)row->cached_tok) == NULL ||
		    cJSON_AddNumberToObject(o, "reasoning_tokens", (double)row->reasoning_tok) == NULL ||
		    cJSON_AddNumberToObject(o, "ttfb_ms", (double)row->ttfb_ms) == NULL ||
		    cJSON_AddNumberToObject(o, "total_ms", (double)row->total_ms) == NULL ||
		    cJSON_AddNumberToObject(o, "bytes_in", (double)row->bytes_in) == NULL ||
		    cJSON_AddNumberToObject(o, "bytes_out", (double)row->bytes_out) == NULL ||
		    cJSON_AddNumberToObject(o, "retries", row->retries) == NULL ||
		    (s = cJSON_PrintUnformatted(o)) == NULL)
			rc = CP_ENOMEM;
		if (rc == CP_OK)
			rc = buf_printf(&x->out, "%s%s", x->n > 0 ? ",\n" : "\n", s);
		cJSON_free(s);
		cJSON_Delete(o);
	}
	x->n++;
	if (rc == CP_OK && x->out.len >= EXPORT_CHUNK)
		rc = flush_out(x);
	return rc;
}

static int
export_stream(const struct mgmt_io *io, void *arg)
{
	struct export_ctx *x = arg;
	char err[256] = "";
	int rc = CP_OK;

	x->io = io;
	rc = buf_appends(&x->out, x->p.csv ? csv_header : "[");
	if (rc == CP_OK && x->r != NULL)
		rc = usage_export(x->r, x->p.from, x->p.to, export_row, x, err, sizeof(err));
	if (rc != CP_OK) {
		/* the status line is gone: a cut-off body (no closing ']' in
		 * JSON) is how the client learns; the log says why */
		log_warnx("usage export stopped after %" PRId64 " rows: %s", x->n,
		    err[0] != '\0' ? err : cp_strerror(rc));
		(void)flush_out(x);
		return rc;
	}
	if (!x->p.csv)
		rc = buf_appends(&x->out, "\n]\n");
	if (rc == CP_OK)
		rc = flush_out(x);
	return rc;
}

static void
export_free(void *arg)
{
	struct export_ctx *x = arg;

	if (x == NULL)
		return;
	usage_reader_close(x->r);
	buf_release(&x->out);
	free(x);
}

void
h_usage_export(struct mgmt_req *rq, struct mgmt_resp *rs, const void *arg)
{
	struct export_ctx *x = NULL;

	(void)arg;
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		resp_cp_error(rs, CP_ENOMEM, NULL);
		return;
	}
	buf_init(&x->out, EXPORT_CHUNK + 4 * USAGE_TEXT_MAX * 8);
	if (!parse_params(rq, rs, true, &x->p) || !open_reader(rq, rs, &x->r)) {
		export_free(x);
		return;
	}
	resp_stream(rs, 200, export_stream, x, export_free);
	resp_header(rs, "Content-Type", x->p.csv ? "text/csv; charset=utf-8" :
	    "application/json");
	resp_header(rs, "Content-Disposition", x->p.csv ?
	    "attachment; filename=\"usage.csv\"" : "attachment; filename=\"usage.json\"");
}
