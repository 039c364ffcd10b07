/*
 * test_codec_cg.c - the Claude and Gemini codecs (src/proxyd/formats/
 * claude.c, gemini.c) and the pivot helpers they own (pivot.c: schema
 * conversion, token estimate).
 *
 * Two parts:
 * - the golden cases of tests/data/formats/ whose client and upstream are
 *   "claude" or "gemini", run as codec-contract.md says (request in ->
 *   upstream request out; upstream answer in -> client answer out, the
 *   answer fed whole and one byte at a time; upstream error -> client
 *   error; the round trips per file), plus the count files
 *   (client_count.json -> upstream_count.json, upstream_count_answer.json
 *   -> client_count_answer.json);
 * - direct tests of what goldens cannot show: 400 messages, schema
 *   conversion, the estimate, model lists, hostile input.
 */
#include "config.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "proxyd.h"

#define DATA_MAX (4u * 1024u * 1024u)

static const char *
srcdir(void)
{
	const char *s = getenv("srcdir");

	return s != NULL ? s : ".";
}

/* Read dir/name into a malloc'd NUL-terminated string, NULL if absent. */
static char *
slurp(const char *dir, const char *name, size_t *len)
{
	char path[2048];
	char *data = NULL;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (fio_read_file(path, DATA_MAX, &data, &n) != CP_OK)
		return NULL;
	if (len != NULL)
		*len = n;
	return data;
}

static cJSON *
slurp_json(const char *dir, const char *name)
{
	char *s = slurp(dir, name, NULL);
	cJSON *j;

	if (s == NULL)
		return NULL;
	j = cJSON_Parse(s);
	if (j == NULL)
		fail_msg("%s/%s: not JSON", dir, name);
	free(s);
	return j;
}

static const struct codec *
codec_named(const char *name, size_t len)
{
	static const enum fmt_id ids[] = { FMT_CLAUDE, FMT_GEMINI };
	size_t i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const struct codec *c = codec_for(ids[i]);

		if (strlen(c->name) == len && strncmp(c->name, name, len) == 0)
			return c;
	}
	return NULL;
}

static void
json_expect(const char *what, const cJSON *got, const cJSON *want)
{
	if (!cJSON_Compare(got, want, true)) {
		char *g = cJSON_Print(got), *w = cJSON_Print(want);

		print_error("%s differs\n--- got\n%s\n--- want\n%s\n", what, g, w);
		free(g);
		free(w);
		fail();
	}
}

/* --------------------------------------------------------- SSE compare */

struct sse_list {
	char *name[512];
	char *data[512];
	int n;
};

static int
sse_collect(const struct sse_event *ev, void *arg)
{
	struct sse_list *l = arg;

	if (l->n >= 512)
		return CP_ETOOBIG;
	l->name[l->n] = strdup(ev->event);
	l->data[l->n] = strndup(ev->data, ev->data_len);
	l->n++;
	return CP_OK;
}

static void
sse_list_free(struct sse_list *l)
{
	for (int i = 0; i < l->n; i++) {
		free(l->name[i]);
		free(l->data[i]);
	}
	l->n = 0;
}

static void
sse_parse_all(const char *s, size_t len, struct sse_list *l)
{
	struct sse_parser p;

	memset(l, 0, sizeof(*l));
	sse_init(&p);
	assert_int_equal(sse_feed(&p, s, len, sse_collect, l), CP_OK);
	assert_int_equal(sse_feed(&p, "\n\n", 2, sse_collect, l), CP_OK);
	sse_release(&p);
}

static void
sse_expect(const char *what, const char *got, size_t glen, const char *want, size_t wlen)
{
	struct sse_list g, w;
	int i;

	sse_parse_all(got, glen, &g);
	sse_parse_all(want, wlen, &w);
	if (g.n != w.n)
		print_error("%s: %d events, want %d\n--- got\n%.*s\n", what, g.n, w.n, (int)glen, got);
	assert_int_equal(g.n, w.n);
	for (i = 0; i < g.n; i++) {
		cJSON *gj, *wj;

		if (strcmp(g.name[i], w.name[i]) != 0)
			fail_msg("%s: event %d is '%s', want '%s'", what, i, g.name[i], w.name[i]);
		if (strcmp(w.data[i], "[DONE]") == 0) {
			assert_string_equal(g.data[i], "[DONE]");
			continue;
		}
		gj = cJSON_Parse(g.data[i]);
		wj = cJSON_Parse(w.data[i]);
		assert_non_null(wj);
		if (gj == NULL)
			fail_msg("%s: event %d data is not JSON: %s", what, i, g.data[i]);
		if (!cJSON_Compare(gj, wj, true))
			fail_msg("%s: event %d (%s) differs\n--- got\n%s\n--- want\n%s", what, i,
			    g.name[i], g.data[i], w.data[i]);
		cJSON_Delete(gj);
		cJSON_Delete(wj);
	}
	sse_list_free(&g);
	sse_list_free(&w);
}

/* -------------------------------------------------------------- events */

struct evlog {
	struct buf b;            /* one line per event, deltas coalesced */
	int last;                /* kind of the last line (-1 none) */
	int last_index;
};

static int
ev_record(const struct pv_event *ev, void *arg)
{
	struct evlog *l = arg;
	bool delta = ev->kind == PV_EV_TEXT || ev->kind == PV_EV_THINKING || ev->kind == PV_EV_TOOL_ARGS;

	if (delta && l->last == (int)ev->kind && l->last_index == ev->index) {
		/* consecutive deltas are one: chunking is not the contract */
		l->b.len--; /* the '\n' */
		buf_append(&l->b, ev->text, ev->len);
		buf_appends(&l->b, "\n");
		return CP_OK;
	}
	l->last = (int)ev->kind;
	l->last_index = ev->index;
	buf_printf(&l->b, "%d|%s|%s|%s|%d|%lld,%lld,%lld,%lld|%d|%d|%d|", (int)ev->kind,
	    ev->id != NULL ? ev->id : "", ev->model != NULL ? ev->model : "",
	    ev->name != NULL ? ev->name : "", ev->index,
	    ev->kind == PV_EV_USAGE ? ev->usage.input : 0, ev->kind == PV_EV_USAGE ? ev->usage.output : 0,
	    ev->kind == PV_EV_USAGE ? ev->usage.cached : 0,
	    ev->kind == PV_EV_USAGE ? ev->usage.reasoning : 0, (int)ev->stop,
	    ev->kind == PV_EV_ERROR ? ev->status : 0, ev->redacted);
	if (ev->text != NULL)
		buf_append(&l->b, ev->text, ev->len);
	buf_appends(&l->b, "\n");
	return CP_OK;
}

/* Events of an answer, fed in pieces of step bytes (0: whole). */
static void
decode_answer(const struct codec *c, bool stream, const char *data, size_t len, size_t step,
    struct evlog *l)
{
	struct pv_dec *d = c->dec_new(stream);
	size_t off;

	assert_non_null(d);
	buf_init(&l->b, DATA_MAX);
	l->last = -1;
	if (step == 0)
		step = len > 0 ? len : 1;
	for (off = 0; off < len; off += step) {
		size_t k = len - off < step ? len - off : step;

		assert_int_equal(c->dec_feed(d, data + off, k, ev_record, l), CP_OK);
	}
	assert_int_equal(c->dec_finish(d, ev_record, l), CP_OK);
	c->dec_free(d);
}

struct enc_arg {
	const struct codec *c;
	struct pv_enc *e;
	struct buf *out;
};

static int
ev_encode(const struct pv_event *ev, void *arg)
{
	struct enc_arg *a = arg;

	return a->c->enc_event(a->e, ev, a->out);
}

/* Upstream answer -> client bytes. */
static void
translate_answer(const struct codec *up, bool up_stream, const char *data, size_t len,
    const struct codec *cl, const struct pv_enc_opts *o, struct buf *out)
{
	struct pv_dec *d = up->dec_new(up_stream);
	struct enc_arg a = { cl, cl->enc_new(o), out };

	assert_non_null(d);
	assert_non_null(a.e);
	assert_int_equal(up->dec_feed(d, data, len, ev_encode, &a), CP_OK);
	assert_int_equal(up->dec_finish(d, ev_encode, &a), CP_OK);
	assert_int_equal(cl->enc_finish(a.e, out), CP_OK);
	cl->enc_free(a.e);
	up->dec_free(d);
}

/* --------------------------------------------------------- pivot equal */

static bool
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
pivot_expect(const char *what, const struct pv_request *a, const struct pv_request *b)
{
	size_t i, j;

#define PEQ(cond, fmt, ...) do { if (!(cond)) fail_msg("%s: round trip: " fmt, what, __VA_ARGS__); } while (0)
	PEQ(str_eq(a->model, b->model), "model %s / %s", a->model, b->model);
	PEQ(str_eq(a->system, b->system), "system %s / %s", a->system, b->system);
	PEQ(a->n_msgs == b->n_msgs, "%zu / %zu messages", a->n_msgs, b->n_msgs);
	for (i = 0; i < a->n_msgs; i++) {
		const struct pv_msg *x = &a->msgs[i], *y = &b->msgs[i];

		PEQ(x->role == y->role && x->n_parts == y->n_parts, "message %zu: role %d/%d parts %zu/%zu",
		    i, x->role, y->role, x->n_parts, y->n_parts);
		for (j = 0; j < x->n_parts; j++) {
			const struct pv_part *p = &x->parts[j], *q = &y->parts[j];
			cJSON *pa = p->args != NULL ? cJSON_Parse(p->args) : NULL;
			cJSON *qa = q->args != NULL ? cJSON_Parse(q->args) : NULL;

			PEQ(p->kind == q->kind && str_eq(p->text, q->text) && str_eq(p->mime, q->mime) &&
			    str_eq(p->data, q->data) && str_eq(p->url, q->url) && str_eq(p->id, q->id) &&
			    str_eq(p->name, q->name) && p->is_error == q->is_error &&
			    str_eq(p->signature, q->signature) && p->redacted == q->redacted &&
			    cJSON_Compare(pa, qa, true) == (pa != NULL || qa != NULL),
			    "message %zu part %zu (kind %d/%d, text '%s'/'%s', id %s/%s)", i, j, p->kind,
			    q->kind, p->text, q->text, p->id, q->id);
			cJSON_Delete(pa);
			cJSON_Delete(qa);
		}
	}
	PEQ(a->n_tools == b->n_tools, "%zu / %zu tools", a->n_tools, b->n_tools);
	for (i = 0; i < a->n_tools; i++)
		PEQ(str_eq(a->tools[i].name, b->tools[i].name) &&
		    str_eq(a->tools[i].description, b->tools[i].description) &&
		    (a->tools[i].schema == NULL) == (b->tools[i].schema == NULL) &&
		    (a->tools[i].schema == NULL || cJSON_Compare(a->tools[i].schema, b->tools[i].schema, true)),
		    "tool %zu", i);
	PEQ(a->tool_choice == b->tool_choice && str_eq(a->tool_choice_name, b->tool_choice_name) &&
	    a->parallel_tools_off == b->parallel_tools_off, "tool choice %d / %d", a->tool_choice,
	    b->tool_choice);
	PEQ(a->max_tokens == b->max_tokens, "max_tokens %lld / %lld", a->max_tokens, b->max_tokens);
	PEQ(a->temperature == b->temperature && a->top_p == b->top_p && a->top_k == b->top_k,
	    "sampling %g/%g", a->temperature, b->temperature);
	PEQ(a->n_stop == b->n_stop, "%zu / %zu stops", a->n_stop, b->n_stop);
	for (i = 0; i < a->n_stop; i++)
		PEQ(str_eq(a->stop[i], b->stop[i]), "stop %zu", i);
	PEQ(a->stream == b->stream, "stream %d / %d", a->stream, b->stream);
	PEQ(a->effort == b->effort && a->budget == b->budget && a->want_thoughts == b->want_thoughts,
	    "thinking effort %d/%d budget %lld/%lld", a->effort, b->effort, a->budget, b->budget);
	PEQ(str_eq(a->user, b->user), "user %s / %s", a->user, b->user);
#undef PEQ
}

/* --------------------------------------------------------- golden cases */

struct gcase {
	char dir[1024];          /* the case directory */
	char name[256];          /* its name */
	const struct codec *client, *upstream;
	char path_model[256];    /* Gemini clients: from "path" */
	bool path_stream;
	bool has_path;
};

static void
case_path(struct gcase *g)
{
	char *p = slurp(g->dir, "path", NULL), *sp;

	g->has_path = false;
	if (p == NULL)
		return;
	sp = strchr(p, ' ');
	assert_non_null(sp);
	*sp++ = '\0';
	snprintf(g->path_model, sizeof(g->path_model), "%s", p);
	g->path_stream = strncmp(sp, "streamGenerateContent", 21) == 0;
	g->has_path = true;
	free(p);
}

static void
decode_file(const struct codec *c, const struct gcase *g, const cJSON *req, struct pv_request *r)
{
	char err[256] = "";
	/* a Gemini upstream request has no path of its own: any model will do */
	const char *pm = g->has_path ? g->path_model : c->id == FMT_GEMINI ? "gemini-2.5-pro" : NULL;
	int rc = c->decode_request(req, pm, g->path_stream, r, err, sizeof(err));

	if (rc != CP_OK)
		fail_msg("%s: %s decode_request: %s (%s)", g->name, c->name, cp_strerror(rc), err);
}

/* Round trip of one request file of format c. */
static void
request_round_trip(const struct gcase *g, const struct codec *c, const char *file, bool count)
{
	struct pv_request a, b;
	cJSON *req = slurp_json(g->dir, file), *enc = NULL;
	char what[512];

	if (req == NULL)
		return;
	/* an upstream Gemini request's model/stream are the client's */
	decode_file(c, g, req, &a);
	assert_int_equal((count ? c->encode_count : c->encode_request)(&a, &enc), CP_OK);
	decode_file(c, g, enc, &b);
	snprintf(what, sizeof(what), "%s/%s", g->name, file);
	pivot_expect(what, &a, &b);
	pv_request_release(&a);
	pv_request_release(&b);
	cJSON_Delete(enc);
	cJSON_Delete(req);
}

static void
run_requests(struct gcase *g)
{
	cJSON *creq = slurp_json(g->dir, "client_request.json");
	cJSON *want = slurp_json(g->dir, "upstream_request.json"), *got = NULL;
	struct pv_request r;

	if (creq != NULL && want != NULL) {
		decode_file(g->client, g, creq, &r);
		assert_int_equal(g->upstream->encode_request(&r, &got), CP_OK);
		json_expect(g->name, got, want);
		cJSON_Delete(got);
		pv_request_release(&r);
	}
	cJSON_Delete(creq);
	cJSON_Delete(want);
	request_round_trip(g, g->client, "client_request.json", false);
	request_round_trip(g, g->upstream, "upstream_request.json", false);

	creq = slurp_json(g->dir, "client_count.json");
	want = slurp_json(g->dir, "upstream_count.json");
	if (creq != NULL && want != NULL) {
		decode_file(g->client, g, creq, &r);
		assert_int_equal(g->upstream->encode_count(&r, &got), CP_OK);
		json_expect(g->name, got, want);
		cJSON_Delete(got);
		pv_request_release(&r);
	}
	cJSON_Delete(creq);
	cJSON_Delete(want);
	creq = slurp_json(g->dir, "upstream_count_answer.json");
	want = slurp_json(g->dir, "client_count_answer.json");
	if (creq != NULL && want != NULL) {
		long long n = -1;
		struct buf out;

		buf_init(&out, DATA_MAX);
		assert_int_equal(g->upstream->decode_count(creq, &n), CP_OK);
		assert_int_equal(g->client->count_body(&out, n), CP_OK);
		got = cJSON_Parse(out.p);
		json_expect(g->name, got, want);
		cJSON_Delete(got);
		buf_release(&out);
	}
	cJSON_Delete(creq);
	cJSON_Delete(want);
}

static void
answer_round_trip(const struct gcase *g, const char *data, size_t len, bool stream)
{
	struct evlog a, b;
	struct buf out;
	struct pv_enc_opts o = { .stream = stream, .include_usage = true, .model = NULL,
	    .gemini_sse = true, .created = 1700000000 };

	decode_answer(g->upstream, stream, data, len, 0, &a);
	buf_init(&out, DATA_MAX);
	translate_answer(g->upstream, stream, data, len, g->upstream, &o, &out);
	decode_answer(g->upstream, stream, out.p != NULL ? out.p : "", out.len, 0, &b);
	if (strcmp(a.b.p, b.b.p) != 0)
		fail_msg("%s: answer round trip\n--- first\n%s--- again\n%s--- encoded\n%s", g->name,
		    a.b.p, b.b.p, out.p);
	buf_release(&a.b);
	buf_release(&b.b);
	buf_release(&out);
}

static void
run_answers(struct gcase *g)
{
	static const char *const outs[] = { "client_answer.json", "client_answer.sse",
	    "client_answer.jsonstream" };
	cJSON *creq = slurp_json(g->dir, "client_request.json");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(creq, "model");
	size_t ulen = 0, wlen = 0, i;
	bool ustream = false;
	char *up = slurp(g->dir, "upstream_answer.json", &ulen), *want;
	struct evlog whole, bytewise;
	struct buf out;

	if (up == NULL) {
		up = slurp(g->dir, "upstream_answer.sse", &ulen);
		ustream = true;
	}
	if (up == NULL) {
		cJSON_Delete(creq);
		return;
	}
	/* any split of the bytes gives the same events */
	decode_answer(g->upstream, ustream, up, ulen, 0, &whole);
	decode_answer(g->upstream, ustream, up, ulen, 1, &bytewise);
	assert_string_equal(whole.b.p, bytewise.b.p);
	buf_release(&whole.b);
	buf_release(&bytewise.b);
	answer_round_trip(g, up, ulen, ustream);

	for (i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
		struct pv_enc_opts o = { .stream = i > 0, .include_usage = true,
		    .model = cJSON_IsString(m) ? m->valuestring : g->has_path ? g->path_model : "test-model",
		    .gemini_sse = i == 1, .created = 1700000000 };
		char what[512];

		if ((want = slurp(g->dir, outs[i], &wlen)) == NULL)
			continue;
		buf_init(&out, DATA_MAX);
		translate_answer(g->upstream, ustream, up, ulen, g->client, &o, &out);
		snprintf(what, sizeof(what), "%s/%s", g->name, outs[i]);
		if (i == 1) {
			sse_expect(what, out.p != NULL ? out.p : "", out.len, want, wlen);
		} else {
			cJSON *gj = cJSON_Parse(out.p != NULL ? out.p : ""), *wj = cJSON_Parse(want);

			if (gj == NULL)
				fail_msg("%s: not JSON: %s", what, out.p);
			json_expect(what, gj, wj);
			if (i == 2) {
				/* the framing Google's clients parse: "[" obj ",\r\n" obj "]" */
				assert_true(out.p[0] == '[' && out.p[out.len - 1] == ']');
				assert_true(cJSON_GetArraySize(gj) < 2 || strstr(out.p, "},\r\n{") != NULL);
			}
			cJSON_Delete(gj);
			cJSON_Delete(wj);
		}
		assert_string_equal(g->client->content_type(&o),
		    i == 1 ? "text/event-stream" : "application/json");
		buf_release(&out);
		free(want);
	}
	free(up);
	cJSON_Delete(creq);
}

static void
run_errors(struct gcase *g)
{
	char *up, *st, msg[1024];
	size_t ulen = 0;
	long long status;
	cJSON *want, *got;
	struct buf out;

	if ((up = slurp(g->dir, "upstream_error.json", &ulen)) == NULL)
		return;
	st = slurp(g->dir, "status", NULL);
	want = slurp_json(g->dir, "client_error.json");
	assert_non_null(st);
	assert_non_null(want);
	assert_int_equal(str_to_ll(st, strcspn(st, "\n"), 100, 599, &status), CP_OK);
	assert_int_equal(g->upstream->decode_error(up, ulen, msg, sizeof(msg)), CP_OK);
	buf_init(&out, DATA_MAX);
	assert_int_equal(g->client->error_body(&out, (int)status, pv_err_of_status((int)status), msg,
	    NULL, NULL), CP_OK);
	got = cJSON_Parse(out.p);
	json_expect(g->name, got, want);
	cJSON_Delete(got);
	cJSON_Delete(want);
	buf_release(&out);
	free(up);
	free(st);
}

static void
test_goldens(void **state)
{
	char base[512];
	struct dirent **ents = NULL;
	int n, i, ran = 0;

	(void)state;
	snprintf(base, sizeof(base), "%s/tests/data/formats", srcdir());
	n = scandir(base, &ents, NULL, alphasort);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		struct gcase g;
		const char *nm = ents[i]->d_name, *sep1 = strstr(nm, "--"), *sep2;

		memset(&g, 0, sizeof(g));
		if (nm[0] == '.' || sep1 == NULL || (sep2 = strstr(sep1 + 2, "--")) == NULL)
			goto next;
		g.client = codec_named(nm, (size_t)(sep1 - nm));
		g.upstream = codec_named(sep1 + 2, (size_t)(sep2 - sep1 - 2));
		if (g.client == NULL || g.upstream == NULL)
			goto next; /* a pair of the OpenAI codecs */
		snprintf(g.dir, sizeof(g.dir), "%s/%s", base, nm);
		snprintf(g.name, sizeof(g.name), "%s", nm);
		case_path(&g);
		run_requests(&g);
		run_answers(&g);
		run_errors(&g);
		ran++;
next:
		free(ents[i]);
	}
	free(ents);
	print_message("# %d golden cases\n", ran);
	assert_true(ran >= 40);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_goldens),
	};

	log_init("test_codec_cg", false, LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
