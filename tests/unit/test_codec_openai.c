/*
 * test_codec_openai.c - the OpenAI Chat and Responses codecs
 * (src/proxyd/formats/openai_chat.c, openai_responses.c): what the golden
 * files (tests/data/formats/, run by test_formats) do not pin down: the
 * 400s of decode_request, tool-result names, the upstream decoders under
 * any split of the bytes, cut streams, encoder edge cases and the
 * signature filter.
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
#include "formats/openai.h"

/* ------------------------------------------------------------ helpers */

static cJSON *
parse(const char *s)
{
	cJSON *o = NULL;

	assert_int_equal(json_parse_strict(s, strlen(s), &o), CP_OK);
	return o;
}

/* decode_request of codec c on text s: the return code; err filled. */
static int
decode(const struct codec *c, const char *s, struct pv_request *r, char *err, size_t errlen)
{
	cJSON *o = parse(s);
	int rc;

	err[0] = '\0';
	rc = c->decode_request(o, NULL, false, r, err, errlen);
	cJSON_Delete(o);
	return rc;
}

static void
expect_400(const struct codec *c, const char *s, const char *needle)
{
	struct pv_request r;
	char err[256];

	assert_int_equal(decode(c, s, &r, err, sizeof(err)), CP_EINVAL);
	if (strstr(err, needle) == NULL)
		fail_msg("error '%s' does not mention '%s'", err, needle);
	/* a failed decode leaves nothing allocated */
	assert_null(r.model);
	assert_int_equal(r.n_msgs, 0);
}

/* Events rendered as one line each, to compare runs. */
struct trace {
	struct buf b;
	int n;
	int rc_at;          /* fail with CP_EIO at this event (-1: never) */
};

static int
trace_ev(const struct pv_event *ev, void *arg)
{
	struct trace *t = arg;

	if (t->n++ == t->rc_at)
		return CP_EIO;
	return buf_printf(&t->b, "%d|%s|%s|%s|%.*s|%d|%lld,%lld,%lld,%lld|%d|%d\n", ev->kind,
	    ev->id != NULL ? ev->id : "-", ev->model != NULL ? ev->model : "-",
	    ev->name != NULL ? ev->name : "-", (int)ev->len, ev->text != NULL ? ev->text : "",
	    ev->index, ev->usage.input, ev->usage.output, ev->usage.cached,
	    ev->usage.reasoning, ev->stop, ev->status);
}

/* Decode s with c (stream or not), fed step bytes at a time. */
static int
run_dec(const struct codec *c, bool stream, const char *s, size_t step, struct trace *t)
{
	struct pv_dec *d = c->dec_new(stream);
	size_t len = strlen(s), off;
	int rc = CP_OK;

	assert_non_null(d);
	buf_init(&t->b, SIZE_MAX);
	t->n = 0;
	for (off = 0; off < len && rc == CP_OK; off += step) {
		size_t k = len - off < step ? len - off : step;
		char *piece = malloc(k);

		assert_non_null(piece);
		memcpy(piece, s + off, k);
		rc = c->dec_feed(d, piece, k, trace_ev, t);
		free(piece);
	}
	if (rc == CP_OK)
		rc = c->dec_finish(d, trace_ev, t);
	c->dec_free(d);
	return rc;
}

/* Events of s must not depend on how the bytes are split. */
static void
dec_split_invariant(const struct codec *c, bool stream, const char *s, struct trace *whole)
{
	struct trace one = { .rc_at = -1 }, seven = { .rc_at = -1 };

	whole->rc_at = -1;
	assert_int_equal(run_dec(c, stream, s, strlen(s) + 1, whole), CP_OK);
	assert_int_equal(run_dec(c, stream, s, 1, &one), CP_OK);
	assert_int_equal(run_dec(c, stream, s, 7, &seven), CP_OK);
	assert_string_equal(whole->b.p, one.b.p);
	assert_string_equal(whole->b.p, seven.b.p);
	buf_release(&one.b);
	buf_release(&seven.b);
}

/* Encode a list of events with c; the text into *out (caller frees). */
static char *
encode(const struct codec *c, bool stream, bool include_usage, const struct pv_event *evs,
    size_t n)
{
	struct pv_enc_opts o = { .stream = stream, .include_usage = include_usage,
		.model = "client-model", .created = 1700000000 };
	struct pv_enc *e = c->enc_new(&o);
	struct buf out;
	size_t i;

	assert_non_null(e);
	buf_init(&out, SIZE_MAX);
	for (i = 0; i < n; i++)
		assert_int_equal(c->enc_event(e, &evs[i], &out), CP_OK);
	assert_int_equal(c->enc_finish(e, &out), CP_OK);
	c->enc_free(e);
	if (out.p == NULL)
		assert_int_equal(buf_append(&out, "", 0), CP_OK);
	return buf_steal(&out, NULL);
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* ---------------------------------------------------- chat decode */

static void
chat_decode_full(void **state)
{
	struct pv_request r;
	char err[256];
	const struct pv_msg *m;

	(void)state;
	assert_int_equal(decode(&codec_openai_chat,
	    "{\"model\":\"m\",\"messages\":["
	    "{\"role\":\"system\",\"content\":\"S1\"},"
	    "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"S2\"}]},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},"
	    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBO\"}},"
	    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x.test/a.png\",\"detail\":\"low\"}}]},"
	    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
	    "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}},"
	    "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"\"}}]},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":\"two\"},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":[{\"type\":\"text\",\"text\":\"one\"}]},"
	    "{\"role\":\"user\",\"content\":\"next\"}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}},"
	    "{\"type\":\"function\",\"function\":{\"name\":\"g\"}},{\"type\":\"custom\",\"custom\":{\"name\":\"x\"}}],"
	    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"g\"}},"
	    "\"parallel_tool_calls\":false,\"max_tokens\":5,\"max_completion_tokens\":7,"
	    "\"temperature\":0.5,\"top_p\":0.9,\"stop\":\"END\",\"stream\":true,"
	    "\"stream_options\":{\"include_usage\":true},\"reasoning_effort\":\"low\","
	    "\"user\":\"u1\",\"n\":1,\"seed\":3}", &r, err, sizeof(err)), CP_OK);
	assert_string_equal(r.model, "m");
	assert_string_equal(r.system, "S1\n\nS2");
	assert_int_equal(r.n_msgs, 4);
	m = &r.msgs[0];
	assert_int_equal(m->role, PV_USER);
	assert_int_equal(m->n_parts, 3);
	assert_string_equal(m->parts[1].mime, "image/png");
	assert_string_equal(m->parts[1].data, "iVBO");
	assert_null(m->parts[1].url);
	assert_string_equal(m->parts[2].url, "https://x.test/a.png");
	m = &r.msgs[1];
	assert_int_equal(m->role, PV_ASSISTANT);
	assert_int_equal(m->n_parts, 2);
	assert_string_equal(m->parts[1].args, "{}");
	/* the two tool messages are one user turn; names found by id */
	m = &r.msgs[2];
	assert_int_equal(m->role, PV_USER);
	assert_int_equal(m->n_parts, 2);
	assert_string_equal(m->parts[0].name, "g");
	assert_string_equal(m->parts[0].text, "two");
	assert_string_equal(m->parts[1].name, "f");
	assert_string_equal(r.msgs[3].parts[0].text, "next");
	assert_int_equal(r.n_tools, 2); /* custom tool dropped */
	assert_null(r.tools[1].schema);
	assert_int_equal(r.tool_choice, PV_TC_TOOL);
	assert_string_equal(r.tool_choice_name, "g");
	assert_true(r.parallel_tools_off);
	assert_int_equal(r.max_tokens, 7);
	assert_true(r.temperature == 0.5);
	assert_int_equal(r.n_stop, 1);
	assert_true(r.stream);
	assert_true(r.include_usage);
	assert_int_equal(r.effort, PV_EFFORT_LOW);
	assert_string_equal(r.user, "u1");
	pv_request_release(&r);
}

/* Names of results in a turn with many calls: found through the hint
 * in the calls' order, wrapping around; an unknown id stays nameless. */
static void
chat_result_names_many(void **state)
{
	struct buf b;
	struct pv_request r;
	char err[256];
	const struct pv_msg *m;
	int i;

	(void)state;
	buf_init(&b, SIZE_MAX);
	assert_int_equal(buf_appends(&b, "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\","
	    "\"tool_calls\":["), CP_OK);
	for (i = 0; i < 600; i++)
		assert_int_equal(buf_printf(&b, "%s{\"id\":\"c%d\",\"type\":\"function\",\"function\":"
		    "{\"name\":\"f%d\",\"arguments\":\"{}\"}}", i ? "," : "", i, i), CP_OK);
	assert_int_equal(buf_appends(&b, "]}"), CP_OK);
	for (i = 0; i < 600; i++)
		assert_int_equal(buf_printf(&b, ",{\"role\":\"tool\",\"tool_call_id\":\"c%d\","
		    "\"content\":\"r\"}", i), CP_OK);
	assert_int_equal(buf_appends(&b, ",{\"role\":\"tool\",\"tool_call_id\":\"c0\",\"content\":\"r\"},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"nope\",\"content\":\"r\"}]}"), CP_OK);
	assert_int_equal(decode(&codec_openai_chat, b.p, &r, err, sizeof(err)), CP_OK);
	m = &r.msgs[1];
	assert_int_equal(m->n_parts, 602);
	for (i = 0; i < 600; i++) {
		char want[16];

		snprintf(want, sizeof(want), "f%d", i);
		assert_non_null(m->parts[i].name);
		assert_string_equal(m->parts[i].name, want);
	}
	assert_string_equal(m->parts[600].name, "f0");
	assert_null(m->parts[601].name);
	pv_request_release(&r);
	buf_release(&b);
}

static void
chat_decode_errors(void **state)
{
	const struct codec *c = &codec_openai_chat;

	(void)state;
	expect_400(c, "[]", "JSON object");
	expect_400(c, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "'model'");
	expect_400(c, "{\"model\":\"\",\"messages\":[]}", "'model'");
	expect_400(c, "{\"model\":\"m\",\"messages\":[]}", "'messages'");
	expect_400(c, "{\"model\":\"m\",\"messages\":{}}", "'messages'");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}", "role");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}",
	    "wizard");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\"}]}", "content");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":5}]}",
	    "content");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"ftp://x\"}}]}]}", "image url");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:;base64,AAAA\"}}]}]}",
	    "media type");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png,AAAA\"}}]}]}",
	    "image url");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
	    "[{\"type\":\"video\"}]}]}", "video");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
	    "tool_call_id");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"tool_calls\":"
	    "[{\"id\":\"c\",\"function\":{\"name\":\"f\",\"arguments\":{}}}]}]}", "tool_calls[0]");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\"}}],"
	    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"nope\"}}}", "nope");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"tool_choice\":\"sometimes\"}", "tool_choice");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"temperature\":3}", "temperature");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"top_p\":\"1\"}", "top_p");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"max_tokens\":0}", "max_tokens");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"max_completion_tokens\":1.5}", "max_completion_tokens");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"stop\":[1]}", "stop");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"stream\":\"yes\"}", "stream");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"reasoning_effort\":\"max\"}", "reasoning_effort");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"n\":2}", "'n'");
	expect_400(c, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":[]}}]}",
	    "tools[0]");
}

static void
chat_encode_order(void **state)
{
	struct pv_request r;
	struct pv_msg *m;
	struct pv_part *p;
	cJSON *out;
	char *txt;

	(void)state;
	/* A Claude-style user turn: text first, then results. Chat needs
	 * the tool messages right after the assistant's calls. */
	pv_request_init(&r);
	r.model = strdup("m");
	m = pv_msg_add(&r, PV_ASSISTANT);
	p = pv_part_add(m, PV_TOOL_CALL);
	p->id = strdup("toolu_1");
	p->name = strdup("f");
	p->args = strdup("{}");
	m = pv_msg_add(&r, PV_USER);
	p = pv_part_add(m, PV_TEXT);
	p->text = strdup("and then?");
	p = pv_part_add(m, PV_TOOL_RESULT);
	p->id = strdup("toolu_1");
	p->text = strdup("boom");
	p->is_error = true;
	r.budget = 3000;
	r.top_k = 4;
	{
		struct pv_tool *t = pv_tool_add(&r);

		t->name = strdup("f");
		t->schema = parse("{\"type\":\"OBJECT\",\"properties\":{\"a\":{\"type\":\"STRING\"}}}");
	}
	/* Claude Code's metadata.user_id: longer than OpenAI's 64 */
	r.user = strdup("user_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	    "_account__session_3f2b");
	assert_int_equal(codec_openai_chat.encode_request(&r, &out), CP_OK);
	txt = cJSON_PrintUnformatted(out);
	assert_string_equal(txt, "{\"model\":\"m\",\"messages\":["
	    "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":\"function\","
	    "\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}],\"content\":null},"
	    "{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":\"boom\"},"
	    "{\"role\":\"user\",\"content\":\"and then?\"}],"
	    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":"
	    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}}}}],"
	    "\"reasoning_effort\":\"medium\",\"stream\":false}");
	free(txt);
	cJSON_Delete(out);
	pv_request_release(&r);
}

/* ----------------------------------------------- responses decode */

/* A translated request for an OpenAI reasoning model leaves out what
 * the model refuses: temperature/top_p other than 1, max_tokens. */
static void
encode_reasoning_model(void **state)
{
	struct pv_request r;
	cJSON *out;
	char *txt;

	(void)state;
	pv_request_init(&r);
	r.model = strdup("gpt-5-codex");
	pv_part_add(pv_msg_add(&r, PV_USER), PV_TEXT)->text = strdup("Hi");
	r.temperature = 0.7;
	r.top_p = 1;
	r.max_tokens = 100;
	assert_int_equal(codec_openai_chat.encode_request(&r, &out), CP_OK);
	txt = cJSON_PrintUnformatted(out);
	assert_string_equal(txt, "{\"model\":\"gpt-5-codex\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"Hi\"}],\"max_completion_tokens\":100,\"top_p\":1,\"stream\":false}");
	free(txt);
	cJSON_Delete(out);
	assert_int_equal(codec_openai_responses.encode_request(&r, &out), CP_OK);
	txt = cJSON_PrintUnformatted(out);
	assert_string_equal(txt, "{\"model\":\"gpt-5-codex\",\"input\":[{\"type\":\"message\","
	    "\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"Hi\"}]}],"
	    "\"max_output_tokens\":100,\"top_p\":1,\"stream\":false,\"store\":false}");
	free(txt);
	cJSON_Delete(out);
	/* a model that cannot reason gets no reasoning parameter at all */
	free(r.model);
	r.model = strdup("gpt-4.1");
	r.effort = PV_EFFORT_HIGH;
	r.want_thoughts = true;
	assert_int_equal(codec_openai_responses.encode_request(&r, &out), CP_OK);
	assert_null(cJSON_GetObjectItem(out, "reasoning"));
	assert_null(cJSON_GetObjectItem(out, "include"));
	cJSON_Delete(out);
	/* any other model keeps temperature and max_tokens */
	r.effort = PV_EFFORT_UNSET;
	assert_int_equal(codec_openai_chat.encode_request(&r, &out), CP_OK);
	txt = cJSON_PrintUnformatted(out);
	assert_non_null(strstr(txt, "\"max_tokens\":100,\"temperature\":0.7,\"top_p\":1"));
	assert_null(strstr(txt, "reasoning_effort"));
	free(txt);
	cJSON_Delete(out);
	pv_request_release(&r);
}

static void
rs_decode_full(void **state)
{
	struct pv_request r;
	char err[256];

	(void)state;
	assert_int_equal(decode(&codec_openai_responses,
	    "{\"model\":\"m\",\"instructions\":\"I\",\"input\":["
	    "{\"role\":\"developer\",\"content\":\"D\"},"
	    "{\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"hi\"},"
	    "{\"type\":\"input_image\",\"image_url\":\"data:image/jpeg;base64,/9j/\"}]},"
	    "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"a\"},"
	    "{\"type\":\"summary_text\",\"text\":\"b\"}],\"encrypted_content\":\"gAAAAAx\"},"
	    "{\"type\":\"reasoning\",\"id\":\"rs_2\",\"summary\":[]},"
	    "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{}\"},"
	    "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"r\"},"
	    "{\"type\":\"web_search_call\",\"id\":\"ws\"},"
	    "{\"type\":\"message\",\"role\":\"user\",\"content\":\"more\"}],"
	    "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":{\"type\":\"object\"}},"
	    "{\"type\":\"web_search\"}],\"tool_choice\":\"required\","
	    "\"reasoning\":{\"effort\":\"high\",\"summary\":\"auto\"},\"max_output_tokens\":9,"
	    "\"store\":true,\"include\":[\"reasoning.encrypted_content\"],\"stream\":true}",
	    &r, err, sizeof(err)), CP_OK);
	assert_string_equal(r.system, "I\n\nD");
	assert_int_equal(r.n_msgs, 3);
	assert_int_equal(r.msgs[0].n_parts, 2);
	assert_string_equal(r.msgs[0].parts[1].mime, "image/jpeg");
	/* reasoning (the one without encrypted_content dropped) + call */
	assert_int_equal(r.msgs[1].role, PV_ASSISTANT);
	assert_int_equal(r.msgs[1].n_parts, 2);
	assert_string_equal(r.msgs[1].parts[0].text, "a\n\nb");
	assert_string_equal(r.msgs[1].parts[0].signature, "gAAAAAx");
	/* result and the following user text: one user turn */
	assert_int_equal(r.msgs[2].n_parts, 2);
	assert_string_equal(r.msgs[2].parts[0].name, "f");
	assert_int_equal(r.n_tools, 1);
	assert_int_equal(r.tool_choice, PV_TC_ANY);
	assert_int_equal(r.effort, PV_EFFORT_HIGH);
	assert_true(r.want_thoughts);
	assert_int_equal(r.max_tokens, 9);
	assert_true(r.stream);
	pv_request_release(&r);
}

static void
rs_decode_errors(void **state)
{
	const struct codec *c = &codec_openai_responses;

	(void)state;
	expect_400(c, "{\"input\":\"x\"}", "'model'");
	expect_400(c, "{\"model\":\"m\"}", "'input'");
	expect_400(c, "{\"model\":\"m\",\"input\":5}", "'input'");
	expect_400(c, "{\"model\":\"m\",\"input\":\"x\",\"previous_response_id\":\"resp_1\"}",
	    "previous_response_id");
	expect_400(c, "{\"model\":\"m\",\"input\":\"x\",\"background\":true}", "background");
	expect_400(c, "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"web_search\"}],"
	    "\"tool_choice\":{\"type\":\"web_search\"}}", "web_search");
	expect_400(c, "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":"
	    "[{\"type\":\"input_image\",\"file_id\":\"file-1\"}]}]}", "input_image");
	expect_400(c, "{\"model\":\"m\",\"input\":[{\"type\":\"item_reference\",\"id\":\"x\"}]}",
	    "item_reference");
	expect_400(c, "{\"model\":\"m\",\"input\":[{\"type\":\"function_call\",\"call_id\":\"c\"}]}",
	    "function_call");
	expect_400(c, "{\"model\":\"m\",\"input\":[{\"type\":\"function_call_output\",\"output\":\"x\"}]}",
	    "function_call_output");
	expect_400(c, "{\"model\":\"m\",\"input\":[{\"role\":\"tool\",\"content\":\"x\"}]}", "tool");
	expect_400(c, "{\"model\":\"m\",\"input\":\"x\",\"reasoning\":{\"effort\":\"max\"}}",
	    "reasoning.effort");
	expect_400(c, "{\"model\":\"m\",\"input\":\"x\",\"max_output_tokens\":-1}",
	    "max_output_tokens");
	expect_400(c, "{\"model\":\"m\",\"input\":\"x\",\"instructions\":1}", "instructions");
	expect_400(c, "{\"model\":\"m\",\"input\":\"x\",\"tools\":[{\"type\":\"function\"}]}",
	    "tools[0]");
}

/* Signatures of another family (Claude's) never reach OpenAI; OpenAI's
 * own (Fernet, "gAAAAA") go back as reasoning items. */
static void
rs_encode_signature_filter(void **state)
{
	struct pv_request r;
	struct pv_msg *m;
	struct pv_part *p;
	cJSON *out;
	char *txt;

	(void)state;
	pv_request_init(&r);
	r.model = strdup("m");
	m = pv_msg_add(&r, PV_ASSISTANT);
	p = pv_part_add(m, PV_THINKING);
	p->text = strdup("claude thought");
	p->signature = strdup("EqQBCkYIBxgCKkA");
	p = pv_part_add(m, PV_THINKING);
	p->text = strdup("openai thought");
	p->signature = strdup("gAAAAABfoo");
	p = pv_part_add(m, PV_TEXT);
	p->text = strdup("answer");
	r.n_stop = 0;
	assert_int_equal(codec_openai_responses.encode_request(&r, &out), CP_OK);
	txt = cJSON_PrintUnformatted(out);
	assert_string_equal(txt, "{\"model\":\"m\",\"input\":["
	    "{\"type\":\"reasoning\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"openai thought\"}],"
	    "\"encrypted_content\":\"gAAAAABfoo\"},"
	    "{\"type\":\"message\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
	    "\"text\":\"answer\",\"annotations\":[]}]}],"
	    "\"stream\":false,\"store\":false,\"include\":[\"reasoning.encrypted_content\"]}");
	free(txt);
	cJSON_Delete(out);
	pv_request_release(&r);
}

/* ------------------------------------------------------- decoders */

static const char chat_sse[] =
    ": keep-alive\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt\","
    "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"hm\"}}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hé\"}}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
    "{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
    "{\"index\":0,\"function\":{\"arguments\":\"{\\\"x\\\":1}\"}}]}}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":["
    "{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]}}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: {\"id\":\"chatcmpl-1\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,"
    "\"completion_tokens\":5,\"prompt_tokens_details\":{\"cached_tokens\":4},"
    "\"completion_tokens_details\":{\"reasoning_tokens\":2}}}\n\n"
    "data: [DONE]\n\n";

static void
chat_decoder_splits(void **state)
{
	struct trace t;

	(void)state;
	dec_split_invariant(&codec_openai_chat, true, chat_sse, &t);
	assert_string_equal(t.b.p,
	    "0|chatcmpl-1|gpt|-||0|0,0,0,0|0|0\n"
	    "2|-|-|-|hm|0|0,0,0,0|0|0\n"
	    "1|-|-|-|Hé|0|0,0,0,0|0|0\n"
	    "4|call_a|-|f||0|0,0,0,0|0|0\n"
	    "5|-|-|-|{\"x\":1}|0|0,0,0,0|0|0\n"
	    "6|-|-|-||0|0,0,0,0|0|0\n"   /* a new index ends the call before */
	    "4|call_b|-|g||1|0,0,0,0|0|0\n"
	    "5|-|-|-|{}|1|0,0,0,0|0|0\n"
	    "6|-|-|-||1|0,0,0,0|0|0\n"
	    "7|-|-|-||0|10,5,4,2|0|0\n"
	    "8|-|-|-||0|0,0,0,0|4|0\n");
	buf_release(&t.b);
}

/* Compatible servers that stream whole calls without "index", or with
 * index 0 for each: a new id is a new call, a chunk without one continues
 * the last. */
static void
chat_decoder_unindexed_calls(void **state)
{
	struct trace t;

	(void)state;
	dec_split_invariant(&codec_openai_chat, true,
	    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"a\","
	    "\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"x\\\"\"}}]}}]}\n\n"
	    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
	    "\"function\":{\"arguments\":\":1}\"}}]}}]}\n\n"
	    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"b\","
	    "\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]}}]}\n\n"
	    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
	    "\"id\":\"c3\",\"function\":{\"name\":\"h\",\"arguments\":\"{}\"}}]},"
	    "\"finish_reason\":null}]}\n\n"
	    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
	    "\"function\":{\"arguments\":\"[]\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n"
	    "data: [DONE]\n\n", &t);
	assert_string_equal(t.b.p,
	    "0|c||-||0|0,0,0,0|0|0\n"
	    "4|a|-|f||0|0,0,0,0|0|0\n"
	    "5|-|-|-|{\"x\"|0|0,0,0,0|0|0\n"
	    "5|-|-|-|:1}|0|0,0,0,0|0|0\n"
	    "6|-|-|-||0|0,0,0,0|0|0\n"
	    "4|b|-|g||1|0,0,0,0|0|0\n"
	    "5|-|-|-|{}|1|0,0,0,0|0|0\n"
	    "6|-|-|-||1|0,0,0,0|0|0\n"
	    "4|c3|-|h||2|0,0,0,0|0|0\n"
	    "5|-|-|-|{}|2|0,0,0,0|0|0\n"
	    "5|-|-|-|[]|2|0,0,0,0|0|0\n"  /* index 0 again: the latest call at 0 */
	    "6|-|-|-||2|0,0,0,0|0|0\n"
	    "8|-|-|-||0|0,0,0,0|4|0\n");
	buf_release(&t.b);
}

static void
chat_decoder_cut_and_errors(void **state)
{
	struct trace t = { .rc_at = -1 };

	(void)state;
	/* no finish_reason, no [DONE]: the client learns the stream broke */
	assert_int_equal(run_dec(&codec_openai_chat, true,
	    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n"
	    "data: {\"id\":\"c\",\"choi", 5, &t), CP_OK);
	assert_non_null(strstr(t.b.p, "1|-|-|-|par|"));
	assert_non_null(strstr(t.b.p, "9|-|-|-|upstream stream ended"));
	assert_non_null(strstr(t.b.p, "|502\n"));
	buf_release(&t.b);
	/* a last event without its blank line (and a CR line end) counts */
	assert_int_equal(run_dec(&codec_openai_chat, true,
	    "data: {\"id\":\"c\",\"choices\":[]}\n\ndata: [DONE]\r", 4, &t), CP_OK);
	assert_string_equal(t.b.p, "0|c||-||0|0,0,0,0|0|0\n8|-|-|-||0|0,0,0,0|1|0\n");
	buf_release(&t.b);
	/* an error object inside the stream */
	assert_int_equal(run_dec(&codec_openai_chat, true,
	    "data: {\"error\":{\"message\":\"overloaded\",\"code\":503}}\n\n", 3, &t), CP_OK);
	assert_string_equal(t.b.p, "9|-|-|-|overloaded|0|0,0,0,0|0|503\n");
	buf_release(&t.b);
	/* not JSON */
	assert_int_equal(run_dec(&codec_openai_chat, true, "data: {nope\n\n", 1, &t), CP_EPARSE);
	buf_release(&t.b);
	assert_int_equal(run_dec(&codec_openai_chat, false, "<html>", 1, &t), CP_EPARSE);
	buf_release(&t.b);
	/* a callback's error stops the decoder and comes back */
	t.rc_at = 1;
	assert_int_equal(run_dec(&codec_openai_chat, true, chat_sse, 64, &t), CP_EIO);
	buf_release(&t.b);
}

static const char rs_sse[] =
    "event: response.created\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_9\","
    "\"object\":\"response\",\"status\":\"in_progress\",\"model\":\"gpt-5\",\"output\":[]}}\n\n"
    "event: response.output_item.added\n"
    "data: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"id\":\"rs_1\","
    "\"type\":\"reasoning\",\"summary\":[]}}\n\n"
    "event: response.reasoning_summary_part.added\n"
    "data: {\"type\":\"response.reasoning_summary_part.added\",\"output_index\":0,\"summary_index\":0}\n\n"
    "event: response.reasoning_summary_text.delta\n"
    "data: {\"type\":\"response.reasoning_summary_text.delta\",\"output_index\":0,\"delta\":\"A\"}\n\n"
    "event: response.reasoning_summary_part.added\n"
    "data: {\"type\":\"response.reasoning_summary_part.added\",\"output_index\":0,\"summary_index\":1}\n\n"
    "event: response.reasoning_summary_text.delta\n"
    "data: {\"type\":\"response.reasoning_summary_text.delta\",\"output_index\":0,\"delta\":\"B\"}\n\n"
    "event: response.output_item.done\n"
    "data: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"id\":\"rs_1\","
    "\"type\":\"reasoning\",\"summary\":[],\"encrypted_content\":\"gAAAAAsig\"}}\n\n"
    "event: response.output_item.added\n"
    "data: {\"type\":\"response.output_item.added\",\"output_index\":1,\"item\":{\"id\":\"fc_1\","
    "\"type\":\"function_call\",\"call_id\":\"call_7\",\"name\":\"f\",\"arguments\":\"\"}}\n\n"
    "event: response.function_call_arguments.done\n"
    "data: {\"type\":\"response.function_call_arguments.done\",\"output_index\":1,"
    "\"arguments\":\"{\\\"q\\\":2}\"}\n\n"
    "event: response.completed\n"
    "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_9\",\"status\":\"completed\","
    "\"usage\":{\"input_tokens\":3,\"output_tokens\":4}}}\n\n";

static void
rs_decoder_splits(void **state)
{
	struct trace t;

	(void)state;
	dec_split_invariant(&codec_openai_responses, true, rs_sse, &t);
	/* arguments given only in .done still arrive; a tool turn stops TOOL */
	assert_string_equal(t.b.p,
	    "0|resp_9|gpt-5|-||0|0,0,0,0|0|0\n"
	    "2|-|-|-|A|0|0,0,0,0|0|0\n"
	    "2|-|-|-|\n\n|0|0,0,0,0|0|0\n"
	    "2|-|-|-|B|0|0,0,0,0|0|0\n"
	    "3|-|-|-|gAAAAAsig|0|0,0,0,0|0|0\n"
	    "4|call_7|-|f||0|0,0,0,0|0|0\n"
	    "5|-|-|-|{\"q\":2}|0|0,0,0,0|0|0\n"
	    "6|-|-|-||0|0,0,0,0|0|0\n"
	    "7|-|-|-||0|3,4,-1,-1|0|0\n"
	    "8|-|-|-||0|0,0,0,0|4|0\n");
	buf_release(&t.b);
}

static void
rs_decoder_failures(void **state)
{
	struct trace t = { .rc_at = -1 };

	(void)state;
	assert_int_equal(run_dec(&codec_openai_responses, true,
	    "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"id\":\"r\","
	    "\"status\":\"failed\",\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"slow down\"}}}\n\n",
	    2, &t), CP_OK);
	assert_string_equal(t.b.p, "0|r||-||0|0,0,0,0|0|0\n9|-|-|-|slow down|0|0,0,0,0|0|429\n");
	buf_release(&t.b);
	assert_int_equal(run_dec(&codec_openai_responses, true,
	    "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"bad\"}\n\n",
	    2, &t), CP_OK);
	assert_string_equal(t.b.p, "9|-|-|-|bad|0|0,0,0,0|0|500\n");
	buf_release(&t.b);
	/* cut before response.completed */
	assert_int_equal(run_dec(&codec_openai_responses, true, rs_sse, 3, &t), CP_OK);
	buf_release(&t.b);
	{
		char *cut = strndup(rs_sse, strstr(rs_sse, "event: response.completed") - rs_sse);

		assert_int_equal(run_dec(&codec_openai_responses, true, cut, 11, &t), CP_OK);
		assert_non_null(strstr(t.b.p, "6|-|-|-||0|0,0,0,0|0|0\n9|-|-|-|upstream stream ended"));
		buf_release(&t.b);
		free(cut);
	}
	/* an incomplete answer is a max-tokens stop */
	assert_int_equal(run_dec(&codec_openai_responses, false,
	    "{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"incomplete\","
	    "\"incomplete_details\":{\"reason\":\"max_output_tokens\"},\"output\":[{\"type\":\"message\","
	    "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hal\"}]}]}", 5, &t),
	    CP_OK);
	assert_string_equal(t.b.p, "0|resp_1||-||0|0,0,0,0|0|0\n1|-|-|-|Hal|0|0,0,0,0|0|0\n"
	    "8|-|-|-||0|0,0,0,0|2|0\n");
	buf_release(&t.b);
}

/* ------------------------------------------------------- encoders */

static void
chat_encoder_edges(void **state)
{
	struct pv_event evs[] = {
		{ .kind = PV_EV_START, .id = "msg_01", .model = "claude" },
		{ .kind = PV_EV_TOOL_START, .index = 0, .name = "f" }, /* no id */
		{ .kind = PV_EV_TOOL_ARGS, .index = 0, .text = "{}", .len = 2 },
		{ .kind = PV_EV_TOOL_END, .index = 0 },
		{ .kind = PV_EV_STOP, .stop = PV_STOP_END },
	};
	char *s;

	(void)state;
	/* no usage asked: no usage chunk; a tool turn says tool_calls */
	s = encode(&codec_openai_chat, true, false, evs, 5);
	assert_int_equal(count(s, "data: "), 5);
	assert_int_equal(count(s, "\"usage\""), 0);
	assert_non_null(strstr(s, "\"id\":\"call_01_0\""));
	assert_non_null(strstr(s, "\"id\":\"chatcmpl-01\""));
	assert_non_null(strstr(s, "\"finish_reason\":\"tool_calls\""));
	assert_non_null(strstr(s, "\"model\":\"client-model\""));
	assert_true(strlen(s) > 14 && strcmp(s + strlen(s) - 14, "data: [DONE]\n\n") == 0);
	free(s);
	/* nothing at all still ends properly */
	s = encode(&codec_openai_chat, true, true, NULL, 0);
	assert_int_equal(count(s, "data: "), 4);
	assert_non_null(strstr(s, "\"role\":\"assistant\""));
	free(s);
	/* an error mid-stream: an error object, no [DONE] */
	{
		struct pv_event err[] = {
			{ .kind = PV_EV_START, .id = "x" },
			{ .kind = PV_EV_TEXT, .text = "ab", .len = 1 },
			{ .kind = PV_EV_ERROR, .text = "gone", .len = 4, .status = 502 },
		};

		s = encode(&codec_openai_chat, true, true, err, 3);
		assert_non_null(strstr(s, "data: {\"error\":{\"message\":\"gone\",\"type\":\"upstream_error\""));
		assert_null(strstr(s, "[DONE]"));
		assert_non_null(strstr(s, "\"content\":\"a\"}")); /* len respected */
		free(s);
		s = encode(&codec_openai_chat, false, true, err, 3);
		assert_string_equal(s, "{\"error\":{\"message\":\"gone\",\"type\":\"upstream_error\","
		    "\"code\":null}}");
		free(s);
	}
	/* out of order tool indexes are refused */
	{
		struct pv_enc_opts o = { .stream = true, .model = "m" };
		struct pv_enc *e = codec_openai_chat.enc_new(&o);
		struct pv_event ev = { .kind = PV_EV_TOOL_ARGS, .index = 3, .text = "x", .len = 1 };
		struct buf out;

		buf_init(&out, SIZE_MAX);
		assert_int_equal(codec_openai_chat.enc_event(e, &ev, &out), CP_EINVAL);
		ev.kind = PV_EV_TOOL_START;
		assert_int_equal(codec_openai_chat.enc_event(e, &ev, &out), CP_EINVAL);
		codec_openai_chat.enc_free(e);
		buf_release(&out);
	}
}

static void
rs_encoder_sequence(void **state)
{
	struct pv_event evs[] = {
		{ .kind = PV_EV_START, .id = "chatcmpl-7", .model = "x" },
		{ .kind = PV_EV_THINKING, .text = "t1", .len = 2 },
		{ .kind = PV_EV_THINKING_SIG, .text = "sig1", .len = 4 },
		{ .kind = PV_EV_THINKING, .text = "t2", .len = 2 },  /* a new item */
		{ .kind = PV_EV_TEXT, .text = "hi", .len = 2 },
		{ .kind = PV_EV_TOOL_START, .index = 0, .id = "call_1", .name = "f" },
		{ .kind = PV_EV_TOOL_ARGS, .index = 0, .text = "{}", .len = 2 },
		{ .kind = PV_EV_USAGE, .usage = { 1, 2, -1, -1 } },
		{ .kind = PV_EV_STOP, .stop = PV_STOP_MAX_TOKENS },
	};
	char *s, *p, want[64];
	int i, n;

	(void)state;
	s = encode(&codec_openai_responses, true, false, evs, 9);
	/* every event numbered 0.. in order */
	n = (int)count(s, "\"sequence_number\":");
	assert_true(n > 10);
	for (i = 0, p = s; i < n; i++) {
		snprintf(want, sizeof(want), "\"sequence_number\":%d", i);
		assert_non_null(p = strstr(p, want));
	}
	assert_int_equal(count(s, "event: response.output_item.added"), 4);
	assert_int_equal(count(s, "event: response.output_item.done"), 4);
	assert_non_null(strstr(s, "\"id\":\"rs_7_0\""));
	assert_non_null(strstr(s, "\"id\":\"rs_7_1\""));
	assert_non_null(strstr(s, "\"id\":\"msg_7_2\""));
	assert_non_null(strstr(s, "\"id\":\"fc_7_3\""));
	/* the call never ended: closed at the end, before the final event */
	assert_non_null(strstr(s, "event: response.function_call_arguments.done"));
	assert_non_null(strstr(s, "event: response.incomplete"));
	assert_non_null(strstr(s, "\"reason\":\"max_output_tokens\""));
	assert_null(strstr(s, "input_tokens_details"));
	free(s);
	s = encode(&codec_openai_responses, false, false, evs, 9);
	assert_int_equal(count(s, "\"type\":\"reasoning\""), 2);
	assert_non_null(strstr(s, "\"encrypted_content\":\"sig1\""));
	assert_non_null(strstr(s, "\"status\":\"incomplete\""));
	free(s);
}

/* A gathered answer is bounded as a whole, whatever buffer the bytes go
 * to (text, reasoning, arguments, items). */
static void
encoders_bounded(void **state)
{
	const struct codec *cs[] = { &codec_openai_chat, &codec_openai_responses };
	size_t half = OA_ANSWER_MAX / 2 + 1, i;
	char *big = malloc(half);

	(void)state;
	assert_non_null(big);
	memset(big, 'a', half);
	for (i = 0; i < 2; i++) {
		struct pv_enc_opts o = { .stream = false, .model = "m" };
		struct pv_enc *e = cs[i]->enc_new(&o);
		struct pv_event t = { .kind = PV_EV_TEXT, .text = big, .len = half };
		struct pv_event th = { .kind = PV_EV_THINKING, .text = big, .len = half };
		struct buf out;

		buf_init(&out, SIZE_MAX);
		assert_int_equal(cs[i]->enc_event(e, &t, &out), CP_OK);
		assert_int_equal(cs[i]->enc_event(e, &th, &out), CP_ETOOBIG);
		cs[i]->enc_free(e);
		buf_release(&out);
	}
	free(big);
}

static void
shared_helpers(void **state)
{
	struct buf b;
	char msg[64], id[OA_ID_MAX];

	(void)state;
	assert_int_equal(oa_decode_error("{\"error\":{\"message\":\"no\",\"type\":\"x\"}}",
	    strlen("{\"error\":{\"message\":\"no\",\"type\":\"x\"}}"), msg, sizeof(msg)), CP_OK);
	assert_string_equal(msg, "no");
	assert_int_equal(oa_decode_error("{\"error\":\"plain\"}", 17, msg, sizeof(msg)), CP_OK);
	assert_string_equal(msg, "plain");
	assert_int_equal(oa_decode_error("<html>", 6, msg, sizeof(msg)), CP_OK);
	assert_string_equal(msg, "");
	buf_init(&b, SIZE_MAX);
	{
		const char *names[] = { "a", "b" };

		assert_int_equal(oa_models_body(&b, names, 2, false), CP_OK);
		assert_string_equal(b.p, "{\"object\":\"list\",\"data\":["
		    "{\"id\":\"a\",\"object\":\"model\",\"created\":0,\"owned_by\":\"cliproxy\"},"
		    "{\"id\":\"b\",\"object\":\"model\",\"created\":0,\"owned_by\":\"cliproxy\"}]}");
		assert_int_equal(oa_models_body(&b, names, 1, true), CP_OK);
		assert_string_equal(b.p,
		    "{\"id\":\"a\",\"object\":\"model\",\"created\":0,\"owned_by\":\"cliproxy\"}");
	}
	buf_release(&b);
	oa_make_id(id, "resp_", "chatcmpl-abc", -1);
	assert_string_equal(id, "resp_abc");
	oa_make_id(id, "fc_", "resp_abc", 3);
	assert_string_equal(id, "fc_abc_3");
	assert_null(codec_openai_completions.decode_request);
	assert_null(codec_openai_completions.enc_new);
	assert_null(codec_openai_responses.encode_count);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chat_decode_full),
		cmocka_unit_test(chat_decode_errors),
		cmocka_unit_test(chat_result_names_many),
		cmocka_unit_test(chat_encode_order),
		cmocka_unit_test(encode_reasoning_model),
		cmocka_unit_test(rs_decode_full),
		cmocka_unit_test(rs_decode_errors),
		cmocka_unit_test(rs_encode_signature_filter),
		cmocka_unit_test(chat_decoder_splits),
		cmocka_unit_test(chat_decoder_unindexed_calls),
		cmocka_unit_test(chat_decoder_cut_and_errors),
		cmocka_unit_test(rs_decoder_splits),
		cmocka_unit_test(rs_decoder_failures),
		cmocka_unit_test(chat_encoder_edges),
		cmocka_unit_test(rs_encoder_sequence),
		cmocka_unit_test(encoders_bounded),
		cmocka_unit_test(shared_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
