/*
 * test_formats.c - the golden-file driver of the codecs (DESIGN 6, 7;
 * src/proxyd/formats/pivot.h).
 *
 * Every directory tests/data/formats/<client>--<upstream>--<topic>/ is one
 * case; each check below runs when its files are present:
 *   request  client_request.json [+ path] -> upstream_request.json
 *   answer   upstream_answer.{json,sse} -> client_answer.{json,sse,jsonstream}
 *   error    upstream_error.json + status -> client_error.json
 *   round trip, per format: every *_request.json decodes, re-encodes and
 *            decodes to the same pivot; every upstream answer decodes,
 *            re-encodes with the same codec and decodes to the same events.
 * JSON compares semantically (member order ignored); SSE compares event by
 * event (names in order, data as JSON, "[DONE]" literally).
 * Answers are fed whole and one byte at a time: both must give the same
 * bytes.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "proxyd.h"

#define FT_FILE_MAX   (4u * 1024u * 1024u)  /* a golden file */
#define FT_OUT_MAX    (16u * 1024u * 1024u) /* what an encoder may write */
#define FT_CREATED    1700000000LL          /* codec-contract.md */
#define FT_EVENTS_MAX 100000

struct ft_case {
	char dir[1024];               /* the case directory */
	char name[256];               /* its base name */
	const struct codec *client;   /* <client> */
	const struct codec *upstream; /* <upstream> */
	int checks;                   /* checks that ran */
};

/* ------------------------------------------------------------ helpers */

static const struct codec *
ft_codec(const char *name, size_t len)
{
	int i;

	for (i = 0; i < FMT__COUNT; i++) {
		const struct codec *c = codec_for((enum fmt_id)i);

		if (c != NULL && strlen(c->name) == len && memcmp(c->name, name, len) == 0)
			return c;
	}
	return NULL;
}

/* Read dir/name into a malloc'd NUL-terminated string; NULL if absent. */
static char *
ft_read(const struct ft_case *c, const char *name, size_t *len)
{
	char path[1400];
	char *p = NULL;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", c->dir, name);
	if (fio_read_file(path, FT_FILE_MAX, &p, &n) != CP_OK)
		return NULL;
	if (len != NULL)
		*len = n;
	return p;
}

static cJSON *
ft_parse(const char *what, const char *text, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(text, len);

	if (j == NULL)
		fail_msg("%s is not JSON: %.*s", what, (int)(len > 2000 ? 2000 : len), text);
	return j;
}

/* Diagnostics in full (cmocka's print_error cuts long messages short). */
static void ft_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
ft_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static void
ft_json_equal(const char *what, const cJSON *want, const cJSON *got)
{
	char *a, *b;

	if (cJSON_Compare(want, got, true))
		return;
	a = cJSON_Print(want);
	b = cJSON_Print(got);
	ft_say("%s differs\n--- want\n%s\n--- got\n%s\n", what, a ? a : "?", b ? b : "?");
	free(a);
	free(b);
	fail();
}

/* One SSE event as text: name and data. */
struct ft_sse {
	char **name;
	char **data;
	size_t n;
};

static void
ft_sse_release(struct ft_sse *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->name[i]);
		free(s->data[i]);
	}
	free(s->name);
	free(s->data);
	memset(s, 0, sizeof(*s));
}

static int
ft_sse_cb(const struct sse_event *ev, void *arg)
{
	struct ft_sse *s = arg;
	char **nn, **nd;

	nn = realloc(s->name, (s->n + 1) * sizeof(*nn));
	if (nn == NULL)
		return CP_ENOMEM;
	s->name = nn;
	nd = realloc(s->data, (s->n + 1) * sizeof(*nd));
	if (nd == NULL)
		return CP_ENOMEM;
	s->data = nd;
	s->name[s->n] = strdup(ev->event);
	s->data[s->n] = strndup(ev->data, ev->data_len);
	if (s->name[s->n] == NULL || s->data[s->n] == NULL)
		return CP_ENOMEM;
	s->n++;
	return CP_OK;
}

static void
ft_sse_split(const char *text, size_t len, struct ft_sse *out)
{
	struct sse_parser p;

	sse_init(&p);
	assert_int_equal(sse_feed(&p, text, len, ft_sse_cb, out), CP_OK);
	/* A stream must end with a complete event: feed a blank line to flush
	 * nothing; a partial event left over is a defect of the stream. */
	sse_release(&p);
}

static void
ft_sse_equal(const char *what, const char *want, size_t wlen, const char *got, size_t glen)
{
	struct ft_sse a = { 0 }, b = { 0 };
	size_t i;

	ft_sse_split(want, wlen, &a);
	ft_sse_split(got, glen, &b);
	for (i = 0; i < a.n || i < b.n; i++) {
		cJSON *ja, *jb;

		if (i >= a.n || i >= b.n) {
			ft_say("%s: %zu events wanted, %zu written; first extra: %s %s\n--- got\n%.*s\n",
			    what, a.n, b.n, i < a.n ? a.name[i] : b.name[i],
			    i < a.n ? a.data[i] : b.data[i], (int)glen, got);
			fail();
		}
		if (strcmp(a.name[i], b.name[i]) != 0) {
			ft_say("%s: event %zu is '%s', wanted '%s'\n--- got\n%.*s\n", what, i,
			    b.name[i], a.name[i], (int)glen, got);
			fail();
		}
		ja = cJSON_Parse(a.data[i]);
		jb = cJSON_Parse(b.data[i]);
		if (ja == NULL || jb == NULL) {
			if (strcmp(a.data[i], b.data[i]) != 0) {
				ft_say("%s: event %zu data '%s', wanted '%s'\n", what, i,
				    b.data[i], a.data[i]);
				fail();
			}
		} else if (!cJSON_Compare(ja, jb, true)) {
			ft_say("%s: event %zu (%s) data differs\n--- want\n%s\n--- got\n%s\n",
			    what, i, a.name[i], a.data[i], b.data[i]);
			fail();
		}
		cJSON_Delete(ja);
		cJSON_Delete(jb);
	}
	ft_sse_release(&a);
	ft_sse_release(&b);
}

/* Compare an answer by the expected file's kind. */
static void
ft_answer_equal(const char *what, const char *kind, const char *want, size_t wlen,
    const char *got, size_t glen)
{
	if (strcmp(kind, "sse") == 0) {
		ft_sse_equal(what, want, wlen, got, glen);
	} else {
		/* json and jsonstream (a JSON array once complete) */
		cJSON *a = ft_parse("expected answer", want, wlen);
		cJSON *b = ft_parse("written answer", got, glen);

		ft_json_equal(what, a, b);
		cJSON_Delete(a);
		cJSON_Delete(b);
	}
}

/* ---------------------------------------------------- recorded events */

struct ft_ev {                    /* an owned copy of a pv_event */
	struct pv_event ev;
	char *id, *model, *name, *text;
};

struct ft_evs {
	struct ft_ev *v;
	size_t n;
};

static void
ft_evs_release(struct ft_evs *e)
{
	size_t i;

	for (i = 0; i < e->n; i++) {
		free(e->v[i].id);
		free(e->v[i].model);
		free(e->v[i].name);
		free(e->v[i].text);
	}
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static int
ft_record(const struct pv_event *ev, void *arg)
{
	struct ft_evs *e = arg;
	struct ft_ev *v, *x;

	if (e->n >= FT_EVENTS_MAX)
		return CP_ETOOBIG;
	v = realloc(e->v, (e->n + 1) * sizeof(*v));
	if (v == NULL)
		return CP_ENOMEM;
	e->v = v;
	x = &e->v[e->n++];
	memset(x, 0, sizeof(*x));
	x->ev = *ev;
	x->id = ev->id ? strdup(ev->id) : NULL;
	x->model = ev->model ? strdup(ev->model) : NULL;
	x->name = ev->name ? strdup(ev->name) : NULL;
	x->text = ev->text ? strndup(ev->text, ev->len) : NULL;
	x->ev.id = x->id;
	x->ev.model = x->model;
	x->ev.name = x->name;
	x->ev.text = x->text;
	return CP_OK;
}

/* Decode an upstream answer with codec c, fed in pieces of step bytes
 * (0: whole), into evs. */
static void
ft_decode(const struct codec *c, bool stream, const char *text, size_t len, size_t step,
    struct ft_evs *evs)
{
	struct pv_dec *d;
	size_t off = 0;
	int rc;

	assert_non_null(c->dec_new);
	d = c->dec_new(stream);
	assert_non_null(d);
	if (step == 0)
		step = len > 0 ? len : 1;
	while (off < len) {
		size_t n = len - off < step ? len - off : step;

		rc = c->dec_feed(d, text + off, n, ft_record, evs);
		if (rc != CP_OK) {
			c->dec_free(d);
			fail_msg("%s decoder refused its answer at byte %zu: %s", c->name, off,
			    cp_strerror(rc));
		}
		off += n;
	}
	rc = c->dec_finish(d, ft_record, evs);
	c->dec_free(d);
	if (rc != CP_OK)
		fail_msg("%s decoder failed at the end: %s", c->name, cp_strerror(rc));
}

/* Encode recorded events with codec c into out; events from upstream up
 * pass what xlate.c does first: pv_event_dropped, and tool names back to
 * the client's (names: NULL when none were renamed). */
static void
ft_encode(const struct codec *c, const struct codec *up, const struct pv_enc_opts *o,
    const struct pv_names *names, const struct ft_evs *evs, struct buf *out)
{
	struct pv_enc *e;
	size_t i;

	assert_non_null(c->enc_new);
	e = c->enc_new(o);
	assert_non_null(e);
	for (i = 0; i < evs->n; i++) {
		struct pv_event ev = evs->v[i].ev;
		int rc;

		if (pv_event_dropped(&ev, up->id, c->id))
			continue;
		if (names != NULL && ev.kind == PV_EV_TOOL_START)
			ev.name = pv_names_back(names, ev.name);
		if ((rc = c->enc_event(e, &ev, out)) != CP_OK) {
			c->enc_free(e);
			fail_msg("%s encoder refused event %zu (kind %d): %s", c->name, i,
			    (int)evs->v[i].ev.kind, cp_strerror(rc));
		}
	}
	assert_int_equal(c->enc_finish(e, out), CP_OK);
	c->enc_free(e);
}

/* Normalise a sequence for comparison: consecutive deltas of one kind and
 * index are joined (a gathered answer holds them as one), usage events
 * are merged into one (last value of each count wins) placed before STOP,
 * START ids are not compared (encoders may derive their own). */
static void
ft_normalise(const struct ft_evs *in, struct ft_evs *out)
{
	struct pv_usage u = { -1, -1, -1, -1 };
	bool have_u = false;
	size_t i;

	for (i = 0; i < in->n; i++) {
		const struct pv_event *ev = &in->v[i].ev;
		struct ft_ev *last = out->n > 0 ? &out->v[out->n - 1] : NULL;

		if (ev->kind == PV_EV_USAGE) {
			if (ev->usage.input >= 0) u.input = ev->usage.input;
			if (ev->usage.output >= 0) u.output = ev->usage.output;
			if (ev->usage.cached >= 0) u.cached = ev->usage.cached;
			if (ev->usage.reasoning >= 0) u.reasoning = ev->usage.reasoning;
			have_u = true;
			continue;
		}
		if (last != NULL && last->ev.kind == ev->kind && ev->kind != PV_EV_START &&
		    (ev->kind == PV_EV_TEXT || ev->kind == PV_EV_THINKING ||
		    (ev->kind == PV_EV_TOOL_ARGS && last->ev.index == ev->index))) {
			size_t a = last->text ? strlen(last->text) : 0, b = ev->len;
			char *t = realloc(last->text, a + b + 1);

			assert_non_null(t);
			if (b > 0)
				memcpy(t + a, ev->text, b);
			t[a + b] = '\0';
			last->text = t;
			last->ev.text = t;
			last->ev.len = a + b;
			continue;
		}
		if (ev->kind == PV_EV_STOP && have_u) {
			struct pv_event ue = { .kind = PV_EV_USAGE, .usage = u };

			assert_int_equal(ft_record(&ue, out), CP_OK);
			have_u = false;
		}
		if ((ev->kind == PV_EV_TEXT || ev->kind == PV_EV_THINKING) && ev->len == 0)
			continue;
		assert_int_equal(ft_record(ev, out), CP_OK);
	}
	if (have_u) {
		struct pv_event ue = { .kind = PV_EV_USAGE, .usage = u };

		assert_int_equal(ft_record(&ue, out), CP_OK);
	}
}

static bool
ft_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b || (a == NULL ? b[0] == '\0' : a[0] == '\0');
	return strcmp(a, b) == 0;
}

static void
ft_evs_equal(const char *what, const struct ft_evs *a0, const struct ft_evs *b0)
{
	struct ft_evs a = { 0 }, b = { 0 };
	size_t i;

	ft_normalise(a0, &a);
	ft_normalise(b0, &b);
	for (i = 0; i < a.n || i < b.n; i++) {
		const struct pv_event *x, *y;
		bool same;

		if (i >= a.n || i >= b.n)
			fail_msg("%s: %zu events, then %zu (first extra: kind %d)", what, a.n, b.n,
			    (int)(i < a.n ? a.v[i].ev.kind : b.v[i].ev.kind));
		x = &a.v[i].ev;
		y = &b.v[i].ev;
		same = x->kind == y->kind;
		switch (same ? x->kind : PV_EV_START) {
		case PV_EV_START:
			break;
		case PV_EV_TEXT:
		case PV_EV_THINKING:
		case PV_EV_THINKING_SIG:
			same = ft_streq(x->text, y->text);
			break;
		case PV_EV_TOOL_START:
			same = x->index == y->index && ft_streq(x->id, y->id) &&
			    ft_streq(x->name, y->name);
			break;
		case PV_EV_TOOL_ARGS: {
			cJSON *ja = cJSON_Parse(x->text ? x->text : "");
			cJSON *jb = cJSON_Parse(y->text ? y->text : "");

			same = x->index == y->index && (ja != NULL && jb != NULL ?
			    cJSON_Compare(ja, jb, true) : ft_streq(x->text, y->text));
			cJSON_Delete(ja);
			cJSON_Delete(jb);
			break;
		}
		case PV_EV_TOOL_END:
			same = x->index == y->index;
			break;
		case PV_EV_USAGE:
			same = memcmp(&x->usage, &y->usage, sizeof(x->usage)) == 0;
			break;
		case PV_EV_STOP:
			same = x->stop == y->stop;
			break;
		case PV_EV_ERROR:
			same = ft_streq(x->text, y->text);
			break;
		}
		if (!same)
			fail_msg("%s: event %zu differs: kind %d/%d index %d/%d text '%s'/'%s' "
			    "id '%s'/'%s' stop %d/%d usage %lld,%lld,%lld,%lld/%lld,%lld,%lld,%lld",
			    what, i, (int)x->kind, (int)y->kind, x->index, y->index,
			    x->text ? x->text : "", y->text ? y->text : "",
			    x->id ? x->id : "", y->id ? y->id : "", (int)x->stop, (int)y->stop,
			    x->usage.input, x->usage.output, x->usage.cached, x->usage.reasoning,
			    y->usage.input, y->usage.output, y->usage.cached, y->usage.reasoning);
	}
	ft_evs_release(&a);
	ft_evs_release(&b);
}

/* ----------------------------------------------------- pivot equality */

static void
ft_pv_equal(const char *what, const struct pv_request *a, const struct pv_request *b)
{
	size_t i, j;

#define FT_S(f) if (!ft_streq(a->f, b->f)) \
	fail_msg("%s: " #f " '%s' then '%s'", what, a->f ? a->f : "(null)", b->f ? b->f : "(null)")
#define FT_N(f) if (a->f != b->f) \
	fail_msg("%s: " #f " %lld then %lld", what, (long long)a->f, (long long)b->f)
#define FT_D(f) if (fabs(a->f - b->f) > 1e-9) \
	fail_msg("%s: " #f " %g then %g", what, a->f, b->f)
	FT_S(model);
	FT_S(system);
	FT_N(n_msgs);
	for (i = 0; i < a->n_msgs; i++) {
		const struct pv_msg *x = &a->msgs[i], *y = &b->msgs[i];

		if (x->role != y->role || x->n_parts != y->n_parts)
			fail_msg("%s: message %zu: role %d/%d, %zu/%zu parts", what, i,
			    (int)x->role, (int)y->role, x->n_parts, y->n_parts);
		for (j = 0; j < x->n_parts; j++) {
			const struct pv_part *p = &x->parts[j], *q = &y->parts[j];
			cJSON *ja, *jb;
			bool args_same;

			ja = cJSON_Parse(p->args ? p->args : "null");
			jb = cJSON_Parse(q->args ? q->args : "null");
			args_same = ja != NULL && jb != NULL ? cJSON_Compare(ja, jb, true) :
			    ft_streq(p->args, q->args);
			cJSON_Delete(ja);
			cJSON_Delete(jb);
			if (p->kind != q->kind || !ft_streq(p->text, q->text) ||
			    !ft_streq(p->mime, q->mime) || !ft_streq(p->data, q->data) ||
			    !ft_streq(p->url, q->url) || !ft_streq(p->id, q->id) ||
			    !ft_streq(p->name, q->name) || !args_same ||
			    p->is_error != q->is_error || !ft_streq(p->signature, q->signature) ||
			    p->redacted != q->redacted)
				fail_msg("%s: message %zu part %zu (kind %d/%d) differs: text '%s'/'%s' "
				    "id '%s'/'%s' name '%s'/'%s' args '%s'/'%s' sig '%s'/'%s'",
				    what, i, j, (int)p->kind, (int)q->kind,
				    p->text ? p->text : "", q->text ? q->text : "",
				    p->id ? p->id : "", q->id ? q->id : "",
				    p->name ? p->name : "", q->name ? q->name : "",
				    p->args ? p->args : "", q->args ? q->args : "",
				    p->signature ? p->signature : "", q->signature ? q->signature : "");
		}
	}
	FT_N(n_tools);
	for (i = 0; i < a->n_tools; i++) {
		const struct pv_tool *x = &a->tools[i], *y = &b->tools[i];

		if (!ft_streq(x->name, y->name) || !ft_streq(x->description, y->description))
			fail_msg("%s: tool %zu: '%s'/'%s'", what, i, x->name, y->name);
		if ((x->schema == NULL) != (y->schema == NULL) ||
		    (x->schema != NULL && !cJSON_Compare(x->schema, y->schema, true)))
			ft_json_equal("tool schema", x->schema, y->schema);
	}
	FT_N(tool_choice);
	FT_S(tool_choice_name);
	FT_N(parallel_tools_off);
	FT_N(max_tokens);
	FT_D(temperature);
	FT_D(top_p);
	FT_N(top_k);
	FT_N(n_stop);
	for (i = 0; i < a->n_stop; i++)
		if (strcmp(a->stop[i], b->stop[i]) != 0)
			fail_msg("%s: stop %zu '%s' then '%s'", what, i, a->stop[i], b->stop[i]);
	FT_N(stream);
	FT_N(include_usage);
	FT_N(effort);
	FT_N(budget);
	FT_N(want_thoughts);
	FT_S(user);
#undef FT_S
#undef FT_N
#undef FT_D
}

/* -------------------------------------------------------------- checks */

/* The path file of a Gemini client: "<model> <action>". */
static void
ft_path(const struct ft_case *c, char *model, size_t mlen, bool *stream)
{
	char *p = ft_read(c, "path", NULL), *sp;

	model[0] = '\0';
	*stream = false;
	if (p == NULL)
		return;
	p[strcspn(p, "\r\n")] = '\0';
	if ((sp = strchr(p, ' ')) != NULL) {
		*sp = '\0';
		*stream = strcmp(sp + 1, "streamGenerateContent") == 0;
	}
	snprintf(model, mlen, "%s", p);
	free(p);
}

static void
ft_decode_req(const struct codec *c, const cJSON *j, const char *pm, bool ps,
    struct pv_request *out, const char *what)
{
	char err[512] = "";
	int rc;

	assert_non_null(c->decode_request);
	pv_request_init(out);
	rc = c->decode_request(j, pm, ps, out, err, sizeof(err));
	if (rc != CP_OK)
		fail_msg("%s: %s decode_request refused it: %s (%s)", what, c->name, err,
		    cp_strerror(rc));
}

static void
ft_check_request(struct ft_case *c)
{
	char *in = NULL, *want = NULL, pm[256];
	size_t inlen, wantlen;
	cJSON *jin = NULL, *jwant = NULL, *jout = NULL;
	struct pv_request pv;
	bool ps;

	if ((in = ft_read(c, "client_request.json", &inlen)) == NULL)
		return;
	if ((want = ft_read(c, "upstream_request.json", &wantlen)) == NULL) {
		free(in);
		return;
	}
	ft_path(c, pm, sizeof(pm), &ps);
	jin = ft_parse("client_request.json", in, inlen);
	jwant = ft_parse("upstream_request.json", want, wantlen);
	ft_decode_req(c->client, jin, pm[0] ? pm : NULL, ps, &pv, "client_request.json");
	assert_non_null(c->upstream->encode_request);
	assert_int_equal(c->upstream->encode_request(&pv, &jout), CP_OK);
	ft_json_equal("upstream request", jwant, jout);
	pv_request_release(&pv);
	cJSON_Delete(jin);
	cJSON_Delete(jwant);
	cJSON_Delete(jout);
	free(in);
	free(want);
	c->checks++;
}

/* Find "<base>.<ext>" among exts; returns the text and sets *kind. */
static char *
ft_read_kind(const struct ft_case *c, const char *base, const char *const *exts,
    const char **kind, size_t *len)
{
	char name[128];
	char *p;

	for (; *exts != NULL; exts++) {
		snprintf(name, sizeof(name), "%s.%s", base, *exts);
		if ((p = ft_read(c, name, len)) != NULL) {
			*kind = *exts;
			return p;
		}
	}
	return NULL;
}

static void
ft_client_model(const struct ft_case *c, char *model, size_t mlen)
{
	char *in = ft_read(c, "client_request.json", NULL);
	bool ps;

	snprintf(model, mlen, "test-model");
	if (in != NULL) {
		cJSON *j = cJSON_Parse(in);
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");

		if (cJSON_IsString(m))
			snprintf(model, mlen, "%s", m->valuestring);
		cJSON_Delete(j);
		free(in);
		if (strcmp(model, "test-model") != 0)
			return;
	}
	ft_path(c, model, mlen, &ps);
	if (model[0] == '\0')
		snprintf(model, mlen, "test-model");
}

/* The client's request decoded (what the relay hands xlate_new), when
 * the case has one. */
static void
ft_client_pivot(const struct ft_case *c, struct pv_request *req, bool *have)
{
	char *in, pm[256];
	size_t len;
	cJSON *j;
	bool ps;

	pv_request_init(req);
	*have = false;
	if ((in = ft_read(c, "client_request.json", &len)) == NULL)
		return;
	ft_path(c, pm, sizeof(pm), &ps);
	j = ft_parse("client_request.json", in, len);
	ft_decode_req(c->client, j, pm[0] ? pm : NULL, ps, req, "client_request.json");
	*have = true;
	cJSON_Delete(j);
	free(in);
}

static void
ft_check_answer(struct ft_case *c)
{
	static const char *const up_exts[] = { "json", "sse", NULL };
	static const char *const cl_exts[] = { "json", "sse", "jsonstream", NULL };
	const char *up_kind = NULL, *cl_kind = NULL;
	char *up = NULL, *want = NULL, model[256];
	size_t uplen = 0, wantlen = 0;
	struct ft_evs whole = { 0 }, bytes = { 0 };
	struct buf out1, out2;
	struct pv_enc_opts o;
	struct xlate *x;
	struct pv_request req;
	struct pv_names names;
	bool have_req;

	if ((up = ft_read_kind(c, "upstream_answer", up_exts, &up_kind, &uplen)) == NULL)
		return;
	if ((want = ft_read_kind(c, "client_answer", cl_exts, &cl_kind, &wantlen)) == NULL) {
		free(up);
		return;
	}
	ft_client_model(c, model, sizeof(model));
	ft_client_pivot(c, &req, &have_req);
	pv_names_init(&names);
	if (have_req)
		assert_int_equal(pv_names_build(&names, &req, c->upstream->id), CP_OK);
	memset(&o, 0, sizeof(o));
	o.req = have_req ? &req : NULL;
	o.stream = strcmp(cl_kind, "json") != 0;
	o.include_usage = true;
	o.model = model;
	o.gemini_sse = strcmp(cl_kind, "sse") == 0;
	o.created = FT_CREATED;

	ft_decode(c->upstream, strcmp(up_kind, "sse") == 0, up, uplen, 0, &whole);
	ft_decode(c->upstream, strcmp(up_kind, "sse") == 0, up, uplen, 1, &bytes);
	ft_evs_equal("decoded whole vs byte by byte", &whole, &bytes);
	buf_init(&out1, FT_OUT_MAX);
	buf_init(&out2, FT_OUT_MAX);
	/* the whole answer through the relay's own translation (xlate.c) */
	x = xlate_new(c->upstream, c->client, strcmp(up_kind, "sse") == 0, &o);
	assert_non_null(x);
	assert_int_equal(xlate_feed(x, up, uplen), CP_OK);
	assert_int_equal(xlate_finish(x), CP_OK);
	assert_int_equal(buf_append(&out1, xlate_out(x)->p ? xlate_out(x)->p : "",
	    xlate_out(x)->len), CP_OK);
	xlate_free(x);
	ft_encode(c->client, c->upstream, &o, &names, &bytes, &out2);
	ft_answer_equal("client answer", cl_kind, want, wantlen, out1.p ? out1.p : "", out1.len);
	ft_answer_equal("client answer (upstream fed byte by byte)", cl_kind, want, wantlen,
	    out2.p ? out2.p : "", out2.len);
	buf_release(&out1);
	buf_release(&out2);
	ft_evs_release(&whole);
	ft_evs_release(&bytes);
	pv_names_release(&names);
	pv_request_release(&req);
	free(up);
	free(want);
	c->checks++;
}

static void
ft_check_error(struct ft_case *c)
{
	char *up = NULL, *st = NULL, *want = NULL, msg[4096];
	size_t uplen, wantlen;
	long long status;
	struct buf out;
	cJSON *jw, *jg;

	if ((up = ft_read(c, "upstream_error.json", &uplen)) == NULL)
		return;
	st = ft_read(c, "status", NULL);
	want = ft_read(c, "client_error.json", &wantlen);
	assert_non_null(st);
	assert_non_null(want);
	st[strcspn(st, "\r\n")] = '\0';
	assert_int_equal(str_to_ll(st, strlen(st), 100, 599, &status), CP_OK);
	assert_non_null(c->upstream->decode_error);
	assert_non_null(c->client->error_body);
	assert_int_equal(c->upstream->decode_error(up, uplen, msg, sizeof(msg)), CP_OK);
	buf_init(&out, FT_OUT_MAX);
	assert_int_equal(c->client->error_body(&out, (int)status, pv_err_of_status((int)status),
	    msg, NULL, NULL), CP_OK);
	jw = ft_parse("client_error.json", want, wantlen);
	jg = ft_parse("written error", out.p ? out.p : "", out.len);
	ft_json_equal("client error", jw, jg);
	cJSON_Delete(jw);
	cJSON_Delete(jg);
	buf_release(&out);
	free(up);
	free(st);
	free(want);
	c->checks++;
}

/* decode with f, encode with f, decode again: the same pivot. */
static void
ft_roundtrip_request(struct ft_case *c, const struct codec *f, const char *file)
{
	char *in, pm[256], what[512];
	size_t len;
	cJSON *j, *j2 = NULL;
	struct pv_request a, b;
	bool ps;

	if ((in = ft_read(c, file, &len)) == NULL)
		return;
	snprintf(what, sizeof(what), "round trip of %s through %s", file, f->name);
	ft_path(c, pm, sizeof(pm), &ps);
	if (f != c->client || f->id != FMT_GEMINI) {
		pm[0] = '\0';
		ps = false;
	}
	if (f->id == FMT_GEMINI && pm[0] == '\0') {
		/* An upstream Gemini request has its model and stream in the
		 * URL: give the decoder the pivot's own. */
		snprintf(pm, sizeof(pm), "test-model");
	}
	j = ft_parse(file, in, len);
	ft_decode_req(f, j, pm[0] ? pm : NULL, ps, &a, what);
	assert_non_null(f->encode_request);
	assert_int_equal(f->encode_request(&a, &j2), CP_OK);
	ft_decode_req(f, j2, pm[0] ? pm : NULL, ps, &b, what);
	ft_pv_equal(what, &a, &b);
	pv_request_release(&a);
	pv_request_release(&b);
	cJSON_Delete(j);
	cJSON_Delete(j2);
	free(in);
	c->checks++;
}

static void
ft_roundtrip_answer(struct ft_case *c)
{
	static const char *const up_exts[] = { "json", "sse", NULL };
	const char *kind = NULL;
	char *up;
	size_t len;
	bool stream;
	struct ft_evs a = { 0 }, b = { 0 };
	struct buf out;
	struct pv_enc_opts o;

	if ((up = ft_read_kind(c, "upstream_answer", up_exts, &kind, &len)) == NULL)
		return;
	stream = strcmp(kind, "sse") == 0;
	ft_decode(c->upstream, stream, up, len, 0, &a);
	memset(&o, 0, sizeof(o));
	o.stream = stream;
	o.include_usage = true;
	o.gemini_sse = true;
	o.created = FT_CREATED;
	o.model = "test-model";
	if (a.n > 0 && a.v[0].ev.kind == PV_EV_START && a.v[0].model != NULL)
		o.model = a.v[0].model;
	buf_init(&out, FT_OUT_MAX);
	ft_encode(c->upstream, c->upstream, &o, NULL, &a, &out);
	ft_decode(c->upstream, stream, out.p ? out.p : "", out.len, 0, &b);
	ft_evs_equal("round trip of upstream_answer", &a, &b);
	buf_release(&out);
	ft_evs_release(&a);
	ft_evs_release(&b);
	free(up);
	c->checks++;
}

static void
ft_run_case(void **state)
{
	struct ft_case *c = *state;

	ft_check_request(c);
	ft_check_answer(c);
	ft_check_error(c);
	ft_roundtrip_request(c, c->client, "client_request.json");
	ft_roundtrip_request(c, c->upstream, "upstream_request.json");
	ft_roundtrip_answer(c);
	if (c->checks == 0)
		fail_msg("%s: no check ran (which files are missing?)", c->name);
}

/* Every codec named in pivot.h exists and knows its format. */
static void
ft_codecs_named(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < FMT__COUNT; i++) {
		const struct codec *c = codec_for((enum fmt_id)i);

		assert_non_null(c);
		assert_int_equal(c->id, i);
		assert_non_null(c->name);
		assert_ptr_equal(ft_codec(c->name, strlen(c->name)), c);
	}
	assert_null(codec_for(FMT__COUNT));
}

static int
ft_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(void)
{
	const char *srcdir = getenv("srcdir");
	char root[900];
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, i, k = 0;
	struct CMUnitTest *tests;
	struct ft_case *cases;
	int rc;

	snprintf(root, sizeof(root), "%s/tests/data/formats", srcdir ? srcdir : ".");
	if ((d = opendir(root)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			char **nn;

			if (de->d_name[0] == '.')
				continue;
			nn = realloc(names, (n + 1) * sizeof(*nn));
			if (nn == NULL)
				return 1;
			names = nn;
			names[n++] = strdup(de->d_name);
		}
		closedir(d);
	} else if (errno != ENOENT) {
		fprintf(stderr, "cannot open '%s'\n", root);
		return 1;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), ft_cmp);
	tests = calloc(n + 1, sizeof(*tests));
	cases = calloc(n + 1, sizeof(*cases));
	if (tests == NULL || cases == NULL)
		return 1;
	tests[k++] = (struct CMUnitTest){ "codecs_named", ft_codecs_named, NULL, NULL, NULL };
	for (i = 0; i < n; i++) {
		struct ft_case *c = &cases[i];
		const char *a = names[i], *s1 = strstr(a, "--"), *s2;

		snprintf(c->dir, sizeof(c->dir), "%s/%s", root, a);
		snprintf(c->name, sizeof(c->name), "%s", a);
		s2 = s1 != NULL ? strstr(s1 + 2, "--") : NULL;
		if (s1 == NULL || s2 == NULL) {
			fprintf(stderr, "bad case name '%s' (want client--upstream--topic)\n", a);
			return 1;
		}
		c->client = ft_codec(a, (size_t)(s1 - a));
		c->upstream = ft_codec(s1 + 2, (size_t)(s2 - s1 - 2));
		if (c->client == NULL || c->upstream == NULL) {
			fprintf(stderr, "case '%s' names an unknown codec\n", a);
			return 1;
		}
		tests[k++] = (struct CMUnitTest){ c->name, ft_run_case, NULL, NULL, c };
	}
	rc = _cmocka_run_group_tests("formats", tests, k, NULL, NULL);
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(tests);
	free(cases);
	return rc;
}
