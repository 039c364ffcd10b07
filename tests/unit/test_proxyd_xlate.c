/*
 * test_proxyd_xlate.c - the relay's translation seam (src/proxyd/xlate.c):
 * decoder -> events -> encoder with any split of the bytes, the count and
 * error paths, and xlate_possible refusing while a codec function is
 * missing. Two toy codecs stand in for the real ones (tested by
 * test_formats against the golden files).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proxyd.h"

/* Upstream toy: every byte but '\n' is a text delta; finish emits STOP. */
struct pv_dec {
	int n;
};

static struct pv_dec *
t_dec_new(bool stream)
{
	(void)stream;
	return calloc(1, sizeof(struct pv_dec));
}

static int
t_dec_feed(struct pv_dec *d, const char *data, size_t len, pv_emit_fn emit, void *arg)
{
	size_t i;
	int rc;

	for (i = 0; i < len; i++) {
		struct pv_event ev = { .kind = PV_EV_TEXT, .text = data + i, .len = 1 };

		if (data[i] == '!')
			return CP_EPARSE;
		if (data[i] == '\n')
			continue;
		d->n++;
		if ((rc = emit(&ev, arg)) != CP_OK)
			return rc;
	}
	return CP_OK;
}

static int
t_dec_finish(struct pv_dec *d, pv_emit_fn emit, void *arg)
{
	struct pv_event ev = { .kind = PV_EV_STOP, .stop = PV_STOP_END };

	(void)d;
	return emit(&ev, arg);
}

static void
t_dec_free(struct pv_dec *d)
{
	free(d);
}

static int
t_decode_count(const cJSON *ans, long long *tokens)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(ans, "t");

	if (!cJSON_IsNumber(t))
		return CP_EPARSE;
	*tokens = (long long)t->valuedouble;
	return CP_OK;
}

static int
t_decode_error(const char *body, size_t len, char *msg, size_t msglen)
{
	if (len > 4 && memcmp(body, "ERR:", 4) == 0)
		snprintf(msg, msglen, "%.*s", (int)(len - 4), body + 4);
	else
		msg[0] = '\0';
	return CP_OK;
}

static int
t_encode_request(const struct pv_request *r, cJSON **out)
{
	(void)r;
	*out = cJSON_CreateObject();
	return *out != NULL ? CP_OK : CP_ENOMEM;
}

/* Client toy: text in brackets, "." at STOP, "<end>" at finish. */
struct pv_enc {
	bool stream;
};

static struct pv_enc *
t_enc_new(const struct pv_enc_opts *o)
{
	struct pv_enc *e = calloc(1, sizeof(*e));

	if (e != NULL)
		e->stream = o->stream;
	return e;
}

static int
t_enc_event(struct pv_enc *e, const struct pv_event *ev, struct buf *out)
{
	(void)e;
	if (ev->kind == PV_EV_TEXT)
		return buf_printf(out, "[%.*s]", (int)ev->len, ev->text);
	if (ev->kind == PV_EV_STOP)
		return buf_appends(out, ".");
	return CP_OK;
}

static int
t_enc_finish(struct pv_enc *e, struct buf *out)
{
	(void)e;
	return buf_appends(out, "<end>");
}

static void
t_enc_free(struct pv_enc *e)
{
	free(e);
}

static int
t_decode_request(const cJSON *req, const char *pm, bool ps, struct pv_request *out,
    char *err, size_t errlen)
{
	(void)req;
	(void)pm;
	(void)ps;
	(void)out;
	(void)err;
	(void)errlen;
	return CP_OK;
}

static int
t_count_body(struct buf *out, long long tokens)
{
	return buf_printf(out, "{\"n\":%lld}", tokens);
}

static const struct codec up_codec = {
	.id = FMT_GEMINI, .name = "toy-up",
	.encode_request = t_encode_request,
	.dec_new = t_dec_new, .dec_feed = t_dec_feed, .dec_finish = t_dec_finish,
	.dec_free = t_dec_free, .decode_error = t_decode_error,
	.encode_count = t_encode_request, .decode_count = t_decode_count,
};

static const struct codec cl_codec = {
	.id = FMT_CLAUDE, .name = "toy-client",
	.decode_request = t_decode_request,
	.enc_new = t_enc_new, .enc_event = t_enc_event, .enc_finish = t_enc_finish,
	.enc_free = t_enc_free, .count_body = t_count_body,
};

static void
test_translate_any_split(void **state)
{
	const char *in = "ab\ncd";
	struct pv_enc_opts o = { .stream = true };
	size_t split;

	(void)state;
	for (split = 0; split <= strlen(in); split++) {
		struct xlate *x = xlate_new(&up_codec, &cl_codec, true, &o);
		struct buf all;

		assert_non_null(x);
		buf_init(&all, 4096);
		assert_int_equal(xlate_feed(x, in, split), CP_OK);
		/* what a stream sends now, then takes away */
		buf_append(&all, xlate_out(x)->p != NULL ? xlate_out(x)->p : "", xlate_out(x)->len);
		buf_reset(xlate_out(x));
		assert_int_equal(xlate_feed(x, in + split, strlen(in) - split), CP_OK);
		assert_int_equal(xlate_finish(x), CP_OK);
		buf_append(&all, xlate_out(x)->p, xlate_out(x)->len);
		assert_string_equal(all.p, "[a][b][c][d].<end>");
		buf_release(&all);
		xlate_free(x);
	}
}

static void
test_bad_bytes(void **state)
{
	struct pv_enc_opts o = { 0 };
	struct xlate *x = xlate_new(&up_codec, &cl_codec, false, &o);

	(void)state;
	assert_int_equal(xlate_feed(x, "a!b", 3), CP_EPARSE);
	xlate_free(x);
	xlate_free(NULL);
}

static void
test_count_and_error(void **state)
{
	struct buf b;
	char msg[64];

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(xlate_count(&up_codec, &cl_codec, "{\"t\":42}", 8, &b), CP_OK);
	assert_string_equal(b.p, "{\"n\":42}");
	buf_reset(&b);
	assert_int_not_equal(xlate_count(&up_codec, &cl_codec, "{\"t\":\"x\"}", 9, &b), CP_OK);
	assert_int_not_equal(xlate_count(&up_codec, &cl_codec, "nope", 4, &b), CP_OK);
	assert_int_not_equal(xlate_count(&up_codec, &cl_codec, NULL, 0, &b), CP_OK);
	buf_release(&b);
	xlate_error_message(&up_codec, 429, "ERR:slow down", 13, msg, sizeof(msg));
	assert_string_equal(msg, "slow down");
	xlate_error_message(&up_codec, 503, "<html>", 6, msg, sizeof(msg));
	assert_string_equal(msg, "upstream answered status 503");
	xlate_error_message(&cl_codec, 500, "ERR:x", 5, msg, sizeof(msg)); /* no decode_error */
	assert_string_equal(msg, "upstream answered status 500");
}

static void
test_possible(void **state)
{
	struct codec up = up_codec, cl = cl_codec;

	(void)state;
	assert_true(xlate_possible(&cl, &up, false));
	assert_true(xlate_possible(&cl, &up, true));
	/* Each function the path needs, missing, makes it impossible. */
	up.dec_feed = NULL;
	assert_false(xlate_possible(&cl, &up, false));
	assert_true(xlate_possible(&cl, &up, true));
	up = up_codec;
	cl.enc_finish = NULL;
	assert_false(xlate_possible(&cl, &up, false));
	cl = cl_codec;
	cl.count_body = NULL;
	assert_false(xlate_possible(&cl, &up, true));
	cl = cl_codec;
	cl.decode_request = NULL;
	assert_false(xlate_possible(&cl, &up, false));
	assert_false(xlate_possible(&cl, &up, true));
	/* The client decodes, the upstream must encode. */
	assert_false(xlate_possible(&up_codec, &cl_codec, false));
}

static void
test_body_model(void **state)
{
	cJSON *j = cJSON_Parse("{\"a\":1,\"model\":\"m1\",\"stream\":true,\"z\":2}");
	const char *model = NULL;
	bool stream = false;
	char *txt;

	(void)state;
	assert_int_equal(pv_body_request_model(j, NULL, false, &model, &stream), CP_OK);
	assert_string_equal(model, "m1");
	assert_true(stream);
	assert_int_equal(pv_body_set_model(j, "up-m"), CP_OK);
	txt = cJSON_PrintUnformatted(j);
	assert_string_equal(txt, "{\"a\":1,\"model\":\"up-m\",\"stream\":true,\"z\":2}");
	free(txt);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"model\":\"m\",\"stream\":\"yes\"}");
	assert_int_equal(pv_body_request_model(j, NULL, false, &model, &stream), CP_EINVAL);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"model\":\"\"}");
	assert_int_equal(pv_body_request_model(j, NULL, false, &model, &stream), CP_EINVAL);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"model\":\"m\",\"stream\":null}");
	assert_int_equal(pv_body_request_model(j, NULL, false, &model, &stream), CP_OK);
	assert_false(stream);
	cJSON_Delete(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_translate_any_split),
		cmocka_unit_test(test_bad_bytes),
		cmocka_unit_test(test_count_and_error),
		cmocka_unit_test(test_possible),
		cmocka_unit_test(test_body_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
