/*
 * test_codec_cg.c - the Claude and Gemini codecs (src/proxyd/formats/
 * claude.c, gemini.c) and the pivot helpers they own (pivot.c: schema
 * conversion, token estimate, normalisation, tool-call matching).
 *
 * The golden cases of tests/data/formats/ run in test_formats.c. Here:
 * - the count cases of tests/data/count/<client>--<upstream>/ (the
 *   contract has no count files): client_count.json -> upstream
 *   encode_count -> upstream_count.json, upstream_count_answer.json ->
 *   decode_count -> client count_body -> client_count_answer.json;
 * - direct tests of what goldens cannot show: 400 messages, Anthropic's
 *   and Gemini's request rules, schema conversion, the estimate, model
 *   lists, upstream oddities, hostile sizes.
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

/* ---------------------------------------------------------- count cases */

static void
count_case(const char *dir, const struct codec *client, const struct codec *up, const char *name)
{
	cJSON *creq = slurp_json(dir, "client_count.json"), *want = slurp_json(dir, "upstream_count.json");
	cJSON *ans = slurp_json(dir, "upstream_count_answer.json"), *cwant = slurp_json(dir, "client_count_answer.json");
	cJSON *got = NULL;
	struct pv_request r;
	char err[256] = "";
	long long n = -1;
	struct buf out;

	assert_non_null(creq);
	assert_non_null(want);
	assert_non_null(ans);
	assert_non_null(cwant);
	/* a Gemini client's model is in the path: "<model>:countTokens" */
	if (client->decode_request(creq, "gemini-2.5-pro", false, &r, err, sizeof(err)) != CP_OK)
		fail_msg("%s: decode: %s", name, err);
	assert_int_equal(up->encode_count(&r, &got), CP_OK);
	json_expect(name, got, want);
	cJSON_Delete(got);
	pv_request_release(&r);
	buf_init(&out, DATA_MAX);
	assert_int_equal(up->decode_count(ans, &n), CP_OK);
	assert_int_equal(client->count_body(&out, n), CP_OK);
	got = cJSON_Parse(out.p);
	json_expect(name, got, cwant);
	cJSON_Delete(got);
	buf_release(&out);
	cJSON_Delete(creq);
	cJSON_Delete(want);
	cJSON_Delete(ans);
	cJSON_Delete(cwant);
}

static void
test_count_goldens(void **state)
{
	static const char *const names[] = { "claude", "gemini" };
	char dir[1024];
	int i, j;

	(void)state;
	for (i = 0; i < 2; i++)
		for (j = 0; j < 2; j++) {
			snprintf(dir, sizeof(dir), "%s/tests/data/count/%s--%s", srcdir(), names[i], names[j]);
			count_case(dir, codec_named(names[i], strlen(names[i])),
			    codec_named(names[j], strlen(names[j])), dir);
		}
}

/* ------------------------------------------------------- direct tests */

static int
decode_str(const struct codec *c, const char *json, const char *pm, struct pv_request *r,
    char *err, size_t errlen)
{
	cJSON *j = NULL;
	int rc;

	assert_int_equal(json_parse_strict(json, strlen(json), &j), CP_OK);
	err[0] = '\0';
	rc = c->decode_request(j, pm, false, r, err, errlen);
	cJSON_Delete(j);
	return rc;
}

/* Each bad request is a 400 whose message names the field. */
static void
test_bad_requests(void **state)
{
	static const struct {
		enum fmt_id fmt;
		const char *body;
		const char *needle;
	} cases[] = {
		{ FMT_CLAUDE, "[]", "JSON object" },
		{ FMT_CLAUDE, "{\"messages\":[]}", "model" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":{}}", "messages" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}", "messages.0.role" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages.0.content" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"video\"}]}]}",
		  "messages.0.content.0.type" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
		  "\"id\":\"t\",\"name\":\"f\"}]}]}", "messages.0.content.0" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\"}]}]}",
		  "tool_use_id" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image\","
		  "\"source\":{\"type\":\"base64\",\"data\":\"x\"}}]}]}", "media_type" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"temperature\":1.5}", "temperature" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"max_tokens\":0}", "max_tokens" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"top_k\":1.5}", "top_k" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"stream\":\"yes\"}", "stream" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":10}}",
		  "budget_tokens" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"tool_choice\":{\"type\":\"some\"}}", "tool_choice" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"tool_choice\":{\"type\":\"tool\"}}", "tool_choice.name" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"tools\":[{\"name\":\"f\"}]}", "tools.0" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"stop_sequences\":[1]}", "stop_sequences" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"metadata\":{\"user_id\":7}}", "metadata.user_id" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"system\":{}}", "system" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"thinking\":{\"type\":\"lots\"}}", "thinking.type" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"thinking\":{\"type\":\"adaptive\",\"display\":1}}",
		  "thinking.display" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"output_config\":{\"effort\":\"huge\"}}",
		  "output_config.effort" },
		{ FMT_CLAUDE, "{\"model\":\"m\",\"messages\":[],\"output_config\":[]}", "output_config" },
		{ FMT_GEMINI, "{}", "contents" },
		{ FMT_GEMINI, "{\"contents\":[{\"role\":\"system\",\"parts\":[]}]}", "contents[0].role" },
		{ FMT_GEMINI, "{\"contents\":[{\"role\":\"user\"}]}", "contents[0].parts" },
		{ FMT_GEMINI, "{\"contents\":[{\"parts\":[{\"bogus\":1}]}]}", "contents[0].parts[0]" },
		{ FMT_GEMINI, "{\"contents\":[{\"parts\":[{\"functionCall\":{\"args\":{}}}]}]}", "contents[0].parts[0]" },
		{ FMT_GEMINI, "{\"contents\":[{\"parts\":[{\"inlineData\":{\"data\":\"x\"}}]}]}", "contents[0].parts[0]" },
		{ FMT_GEMINI, "{\"contents\":[],\"generationConfig\":{\"candidateCount\":2}}", "candidateCount" },
		{ FMT_GEMINI, "{\"contents\":[],\"generationConfig\":{\"temperature\":3}}", "temperature" },
		{ FMT_GEMINI, "{\"contents\":[],\"generationConfig\":{\"thinkingConfig\":{\"thinkingLevel\":\"max\"}}}",
		  "thinkingLevel" },
		{ FMT_GEMINI, "{\"contents\":[],\"generationConfig\":{\"thinkingConfig\":{\"thinkingBudget\":-2}}}",
		  "thinkingBudget" },
		{ FMT_GEMINI, "{\"contents\":[],\"toolConfig\":{\"functionCallingConfig\":{\"mode\":\"SOME\"}}}",
		  "functionCallingConfig" },
		{ FMT_GEMINI, "{\"contents\":[],\"tools\":[{\"functionDeclarations\":[{\"description\":\"x\"}]}]}",
		  "functionDeclarations[0]" },
		{ FMT_GEMINI, "{\"contents\":[],\"systemInstruction\":{\"parts\":[{\"text\":1}]}}", "systemInstruction" },
	};
	struct pv_request r;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = decode_str(codec_for(cases[i].fmt), cases[i].body, "gemini-2.5-pro", &r, err,
		    sizeof(err));

		if (rc != CP_EINVAL || strstr(err, cases[i].needle) == NULL)
			fail_msg("case %zu (%s): rc %d, message '%s', want '%s'", i, cases[i].body, rc, err,
			    cases[i].needle);
		/* a failed decode leaves nothing behind */
		assert_null(r.msgs);
		assert_null(r.model);
	}
	/* Gemini: the model comes from the path, which must be there */
	assert_int_equal(decode_str(&codec_gemini, "{\"contents\":[]}", NULL, &r, err, sizeof(err)), CP_EINVAL);
	assert_non_null(strstr(err, "path"));
}

/* What a format cannot carry is dropped, not refused; snake_case works. */
static void
test_lenient(void **state)
{
	struct pv_request r;
	char err[256];

	(void)state;
	assert_int_equal(decode_str(&codec_claude, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":["
	    "{\"type\":\"server_tool_use\",\"id\":\"s\"},{\"type\":\"text\",\"text\":\"\"},{\"type\":\"text\",\"text\":\"hi\"}]}],"
	    "\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}]}", NULL, &r, err, sizeof(err)), CP_OK);
	assert_int_equal(r.n_msgs, 1);
	assert_int_equal(r.msgs[0].n_parts, 1);
	assert_string_equal(r.msgs[0].parts[0].text, "hi");
	assert_int_equal(r.n_tools, 0);
	pv_request_release(&r);
	assert_int_equal(decode_str(&codec_gemini, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"a\"},"
	    "{\"inline_data\":{\"mime_type\":\"image/png\",\"data\":\"QQ==\"}},{\"executableCode\":{}}]}],"
	    "\"system_instruction\":{\"parts\":[{\"text\":\"s\"}]},\"generation_config\":{\"maxOutputTokens\":9}}",
	    "gemini-2.5-pro", &r, err, sizeof(err)), CP_OK);
	assert_int_equal(r.msgs[0].n_parts, 2);
	assert_string_equal(r.msgs[0].parts[1].mime, "image/png");
	assert_string_equal(r.system, "s");
	assert_int_equal(r.max_tokens, 9);
	assert_string_equal(r.model, "gemini-2.5-pro");
	pv_request_release(&r);
	/* countTokens' generateContentRequest form */
	assert_int_equal(decode_str(&codec_gemini, "{\"generateContentRequest\":{\"model\":\"models/x\","
	    "\"contents\":[{\"parts\":[{\"text\":\"a\"}]}]}}", "x", &r, err, sizeof(err)), CP_OK);
	assert_int_equal(r.n_msgs, 1);
	pv_request_release(&r);
}

static cJSON *
enc(const struct codec *c, const struct pv_request *r)
{
	cJSON *out = NULL;

	assert_int_equal(c->encode_request(r, &out), CP_OK);
	return out;
}

static double
num_at(const cJSON *o, const char *a, const char *b)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b != NULL)
		it = cJSON_GetObjectItemCaseSensitive(it, b);
	return cJSON_IsNumber(it) ? it->valuedouble : -12345;
}

/* Anthropic's rules for thinking and its defaults. */
static void
test_claude_rules(void **state)
{
	struct pv_request r;
	struct pv_msg *m;
	struct pv_part *p;
	cJSON *o;
	char *txt;

	(void)state;
	pv_request_init(&r);
	r.model = strdup("claude-x");
	m = pv_msg_add(&r, PV_USER);
	p = pv_part_add(m, PV_TEXT);
	p->text = strdup("hi");
	/* no max_tokens: the documented default */
	o = enc(&codec_claude, &r);
	assert_true(num_at(o, "max_tokens", NULL) == 4096);
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "thinking"));
	cJSON_Delete(o);
	/* effort high -> budget 24576, max_tokens above it; temperature,
	 * top_k dropped, tool_choice any -> auto, top_p < 0.95 dropped */
	r.effort = PV_EFFORT_HIGH;
	r.temperature = 0.7;
	r.top_k = 5;
	r.top_p = 0.5;
	r.tool_choice = PV_TC_ANY;
	pv_tool_add(&r)->name = strdup("f");
	o = enc(&codec_claude, &r);
	assert_true(num_at(o, "thinking", "budget_tokens") == 24576);
	assert_true(num_at(o, "max_tokens", NULL) == 24576 + 4096);
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "temperature"));
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "top_k"));
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "top_p"));
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "tool_choice"),
	    "type")->valuestring, "auto");
	/* a tool without a schema gets an empty object schema */
	txt = json_print(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
	    cJSON_GetObjectItemCaseSensitive(o, "tools"), 0), "input_schema"));
	assert_string_equal(txt, "{\"type\":\"object\",\"properties\":{}}");
	free(txt);
	cJSON_Delete(o);
	/* max_tokens below the budget: the budget shrinks under it */
	r.max_tokens = 3000;
	o = enc(&codec_claude, &r);
	assert_true(num_at(o, "thinking", "budget_tokens") == 2999);
	assert_true(num_at(o, "max_tokens", NULL) == 3000);
	cJSON_Delete(o);
	/* no room for the minimum budget: thinking off, sampling back */
	r.max_tokens = 1000;
	o = enc(&codec_claude, &r);
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "thinking"));
	assert_true(num_at(o, "temperature", NULL) == 0.7);
	cJSON_Delete(o);
	/* Claude 4.6 and later: adaptive thinking steered by an effort
	 * (from the budget when there is no effort); 4.7 and later also
	 * say whether to show the thinking; older models take a budget */
	{
		static const struct {
			const char *model;
			const char *type;
			const char *effort;
			bool display;
		} vs[] = {
			{ "claude-sonnet-4-6", "adaptive", "medium", false },
			{ "claude-opus-4-7-20260101", "adaptive", "medium", true },
			{ "claude-fable-5", "adaptive", "medium", true },
			{ "claude-sonnet-4-5-20250929", "enabled", NULL, false },
			{ "claude-3-7-sonnet-latest", "enabled", NULL, false },
			{ "claude-opus-4", "enabled", NULL, false },
			{ "my-alias", "enabled", NULL, false },
		};
		size_t k;

		r.max_tokens = 20000;
		r.effort = PV_EFFORT_UNSET;
		r.budget = 5000;
		r.want_thoughts = true;
		for (k = 0; k < sizeof(vs) / sizeof(vs[0]); k++) {
			const cJSON *th, *oc;

			free(r.model);
			r.model = strdup(vs[k].model);
			o = enc(&codec_claude, &r);
			th = cJSON_GetObjectItemCaseSensitive(o, "thinking");
			oc = cJSON_GetObjectItemCaseSensitive(o, "output_config");
			if (strcmp(cJSON_GetObjectItemCaseSensitive(th, "type")->valuestring, vs[k].type) != 0)
				fail_msg("%s: thinking type %s", vs[k].model, cJSON_GetObjectItemCaseSensitive(th,
				    "type")->valuestring);
			if (vs[k].effort != NULL)
				assert_string_equal(cJSON_GetObjectItemCaseSensitive(oc, "effort")->valuestring,
				    vs[k].effort);
			else {
				assert_null(oc);
				assert_true(num_at(th, "budget_tokens", NULL) == 5000);
			}
			assert_int_equal(cJSON_HasObjectItem(th, "display"), vs[k].display);
			cJSON_Delete(o);
		}
		r.budget = -1;
		r.want_thoughts = false;
		r.effort = PV_EFFORT_HIGH;
		r.max_tokens = 1000;
		free(r.model);
		r.model = strdup("claude-x");
	}
	/* OpenAI's temperature 2 is Anthropic's 1 */
	r.temperature = 2;
	o = enc(&codec_claude, &r);
	assert_true(num_at(o, "temperature", NULL) == 1);
	cJSON_Delete(o);
	pv_request_release(&r);
}

/* Turns merged, tool results first, ids in Anthropic's alphabet,
 * thinking without a signature dropped. */
static void
test_claude_turns(void **state)
{
	struct pv_request r;
	struct pv_msg *m;
	struct pv_part *p;
	cJSON *o, *msgs, *c;

	(void)state;
	pv_request_init(&r);
	r.model = strdup("claude-x");
	m = pv_msg_add(&r, PV_USER);
	pv_part_add(m, PV_TEXT)->text = strdup("q");
	m = pv_msg_add(&r, PV_ASSISTANT);
	p = pv_part_add(m, PV_THINKING);
	p->text = strdup("unsigned thought");
	p = pv_part_add(m, PV_TOOL_CALL);
	p->id = strdup("call.1/x");
	p->name = strdup("f");
	p->args = strdup("not json");
	m = pv_msg_add(&r, PV_USER);
	pv_part_add(m, PV_TEXT)->text = strdup("see result");
	m = pv_msg_add(&r, PV_USER);
	p = pv_part_add(m, PV_TOOL_RESULT);
	p->id = strdup("call.1/x");
	p->text = strdup("ok");
	o = enc(&codec_claude, &r);
	msgs = cJSON_GetObjectItemCaseSensitive(o, "messages");
	assert_int_equal(cJSON_GetArraySize(msgs), 3);
	c = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(msgs, 1), "content");
	assert_int_equal(cJSON_GetArraySize(c), 1); /* the unsigned thinking went */
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(c->child, "id")->valuestring, "call_1_x");
	assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(c->child, "input")));
	c = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(msgs, 2), "content");
	assert_int_equal(cJSON_GetArraySize(c), 2);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(c->child, "type")->valuestring, "tool_result");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(c->child, "tool_use_id")->valuestring, "call_1_x");
	cJSON_Delete(o);
	pv_request_release(&r);
}

/* Gemini 3: levels, and the placeholder signature on a foreign call. */
static void
test_gemini_rules(void **state)
{
	struct pv_request r;
	struct pv_msg *m;
	struct pv_part *p;
	cJSON *o, *tc, *parts;
	size_t i;

	(void)state;
	pv_request_init(&r);
	r.model = strdup("gemini-3-pro-preview");
	r.effort = PV_EFFORT_LOW;
	for (i = 0; i < 7; i++)
		pv_stop_add(&r, "s");
	m = pv_msg_add(&r, PV_USER);
	pv_part_add(m, PV_TEXT)->text = strdup("q");
	m = pv_msg_add(&r, PV_ASSISTANT);
	for (i = 0; i < 2; i++) {
		p = pv_part_add(m, PV_TOOL_CALL);
		p->id = strdup(i == 0 ? "toolu_1" : "toolu_2");
		p->name = strdup("f");
		p->args = strdup("{\"a\":1}");
	}
	o = enc(&codec_gemini, &r);
	tc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "generationConfig"), "thinkingConfig");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(tc, "thinkingLevel")->valuestring, "low");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(o, "generationConfig"), "stopSequences")), 5);
	parts = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "contents"), 1),
	    "parts");
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(parts->child, "thoughtSignature")->valuestring,
	    "skip_thought_signature_validator");
	assert_null(cJSON_GetObjectItemCaseSensitive(parts->child->next, "thoughtSignature"));
	cJSON_Delete(o);
	/* a signed thinking before the calls (a Claude client's history of
	 * a Gemini answer): the signature goes back on the first call, where
	 * Gemini wrote it, and no placeholder is needed */
	{
		struct pv_part sig = { .kind = PV_THINKING };

		sig.text = strdup("plan");
		sig.signature = strdup("gsig");
		p = pv_part_add(m, PV_TEXT); /* make room, then shift the calls */
		memmove(&m->parts[1], &m->parts[0], 2 * sizeof(*p));
		m->parts[0] = sig;
	}
	o = enc(&codec_gemini, &r);
	parts = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "contents"), 1),
	    "parts");
	assert_int_equal(cJSON_GetArraySize(parts), 3);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(parts->child, "thought")));
	assert_null(cJSON_GetObjectItemCaseSensitive(parts->child, "thoughtSignature"));
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(parts->child->next, "thoughtSignature")->valuestring,
	    "gsig");
	assert_non_null(cJSON_GetObjectItemCaseSensitive(parts->child->next, "functionCall"));
	assert_null(cJSON_GetObjectItemCaseSensitive(parts->child->next->next, "thoughtSignature"));
	cJSON_Delete(o);
	/* Gemini 2.5 takes a budget for the same effort, and no placeholder */
	free(r.model);
	r.model = strdup("gemini-2.5-flash");
	o = enc(&codec_gemini, &r);
	tc = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "generationConfig"), "thinkingConfig");
	assert_true(num_at(tc, "thinkingBudget", NULL) == 1024);
	parts = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, "contents"), 1),
	    "parts");
	assert_null(cJSON_GetObjectItemCaseSensitive(parts->child, "thoughtSignature"));
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(parts->child->next, "thoughtSignature")->valuestring,
	    "gsig");
	cJSON_Delete(o);
	pv_request_release(&r);
}

static void
schema_expect(const char *in, const char *want, bool gemini)
{
	cJSON *s = cJSON_Parse(in), *w = cJSON_Parse(want), *out = NULL;

	assert_non_null(s);
	assert_non_null(w);
	assert_int_equal((gemini ? pv_schema_for_gemini : pv_schema_lower_types)(s, &out), CP_OK);
	json_expect(in, out, w);
	cJSON_Delete(s);
	cJSON_Delete(w);
	cJSON_Delete(out);
}

static void
test_schema(void **state)
{
	char *bomb;
	struct buf b;
	cJSON *s, *out = NULL;
	int i;

	(void)state;
	/* oneOf -> anyOf, anyOf null -> nullable, several types -> anyOf */
	schema_expect("{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}",
	    "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}", true);
	schema_expect("{\"anyOf\":[{\"type\":\"string\",\"maxLength\":3},{\"type\":\"null\"}]}",
	    "{\"type\":\"string\",\"maxLength\":3,\"nullable\":true}", true);
	schema_expect("{\"type\":[\"string\",\"number\",\"null\"]}",
	    "{\"nullable\":true,\"anyOf\":[{\"type\":\"string\"},{\"type\":\"number\"}]}", true);
	/* allOf merged; required keeps only known properties, once */
	schema_expect("{\"allOf\":[{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"]},"
	    "{\"properties\":{\"b\":{\"type\":\"integer\"}}}],\"required\":[\"a\",\"b\",\"zz\"]}",
	    "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"integer\"}},"
	    "\"required\":[\"a\",\"b\"]}", true);
	/* non-string enum dropped; const of a number dropped */
	schema_expect("{\"type\":\"integer\",\"enum\":[1,2],\"const\":3,\"format\":\"int64\"}",
	    "{\"type\":\"integer\",\"format\":\"int64\"}", true);
	/* a recursive $ref stops after PV_SCHEMA_REF_DEPTH expansions */
	s = cJSON_Parse("{\"$defs\":{\"n\":{\"type\":\"object\",\"properties\":{\"next\":{\"$ref\":\"#/$defs/n\"}}}},"
	    "\"$ref\":\"#/$defs/n\"}");
	assert_int_equal(pv_schema_for_gemini(s, &out), CP_OK);
	bomb = json_print(out);
	assert_non_null(strstr(bomb, "\"next\":{\"type\":\"object\"}"));
	assert_null(strstr(bomb, "$ref"));
	free(bomb);
	cJSON_Delete(out);
	cJSON_Delete(s);
	/* ref bombs: 30 levels of 2 refs stop at the ref depth (small);
	 * 9 levels of 5 refs pass the node cap and are refused */
	for (int k = 0; k < 2; k++) {
		int levels = k == 0 ? 30 : 9, fan = k == 0 ? 2 : 5;

		buf_init(&b, 1u << 20);
		buf_appends(&b, "{\"$defs\":{");
		for (i = 0; i < levels; i++) {
			buf_printf(&b, "%s\"d%d\":{\"type\":\"object\",\"properties\":{", i > 0 ? "," : "", i);
			for (int f = 0; f < fan; f++)
				buf_printf(&b, "%s\"p%d\":{\"$ref\":\"#/$defs/d%d\"}", f > 0 ? "," : "", f, i + 1);
			buf_appends(&b, "}}");
		}
		buf_printf(&b, ",\"d%d\":{\"type\":\"string\"}},\"$ref\":\"#/$defs/d0\"}", levels);
		s = cJSON_Parse(b.p);
		assert_non_null(s);
		out = NULL;
		if (k == 0) {
			assert_int_equal(pv_schema_for_gemini(s, &out), CP_OK);
			bomb = json_print(out);
			assert_true(strlen(bomb) < 200000);
			free(bomb);
			cJSON_Delete(out);
		} else {
			assert_int_equal(pv_schema_for_gemini(s, &out), CP_ETOOBIG);
			assert_null(out);
		}
		cJSON_Delete(s);
		buf_release(&b);
	}
	/* lower types: schema "type" members only, never data */
	schema_expect("{\"properties\":{\"enum\":{\"type\":\"STRING\"}},\"$defs\":{\"type\":{\"type\":\"NUMBER\"}}}",
	    "{\"properties\":{\"enum\":{\"type\":\"string\"}},\"$defs\":{\"type\":{\"type\":\"number\"}}}", false);
	schema_expect("{\"type\":\"OBJECT\",\"properties\":{\"type\":{\"type\":\"STRING\",\"enum\":[\"A\",\"B\"]},"
	    "\"n\":{\"type\":[\"INTEGER\",\"NULL\"],\"default\":{\"type\":\"X\"}}}}",
	    "{\"type\":\"object\",\"properties\":{\"type\":{\"type\":\"string\",\"enum\":[\"A\",\"B\"]},"
	    "\"n\":{\"type\":[\"integer\",\"null\"],\"default\":{\"type\":\"X\"}}}}", false);
}

/* Empty parts and messages go, runs of one role become one message,
 * and parts can still be added after (the array keeps its capacity). */
static void
test_normalize(void **state)
{
	static const int roles[] = { 1, 0, 0, 1, 1, 0 };
	static const char *const texts[] = { "", "a", "", "b", "c", "d" };
	struct pv_request r;
	struct pv_msg *m;
	size_t i;

	(void)state;
	pv_request_init(&r);
	for (i = 0; i < 6; i++) {
		m = pv_msg_add(&r, roles[i] ? PV_ASSISTANT : PV_USER);
		pv_part_add(m, PV_TEXT)->text = strdup(texts[i]);
	}
	pv_msg_add(&r, PV_USER); /* no parts at all */
	assert_int_equal(pv_normalize(&r), CP_OK);
	assert_int_equal(r.n_msgs, 3);
	assert_int_equal(r.msgs[0].role, PV_USER);
	assert_int_equal(r.msgs[0].n_parts, 1);
	assert_string_equal(r.msgs[0].parts[0].text, "a");
	assert_int_equal(r.msgs[1].role, PV_ASSISTANT);
	assert_int_equal(r.msgs[1].n_parts, 2);
	assert_string_equal(r.msgs[1].parts[1].text, "c");
	assert_int_equal(r.msgs[2].n_parts, 1);
	for (i = 0; i < 100; i++)
		assert_non_null(pv_part_add(&r.msgs[1], PV_TEXT));
	assert_int_equal(r.msgs[1].n_parts, 102);
	pv_request_release(&r);
	/* user, a model turn without parts (no array at all), user: one
	 * message (fuzz_codec_gemini found a memcpy from NULL here) */
	for (i = 0; i < 3; i++) {
		m = pv_msg_add(&r, i == 1 ? PV_ASSISTANT : PV_USER);
		if (i != 1)
			pv_part_add(m, PV_TEXT)->text = strdup(texts[i + 1]);
	}
	assert_int_equal(pv_normalize(&r), CP_OK);
	assert_int_equal(r.n_msgs, 1);
	assert_int_equal(r.msgs[0].n_parts, 2);
	pv_request_release(&r);
}

/* The documented estimate: ceil(bytes/4) per text, 4 per message, 3,
 * 258 per image. */
static void
test_estimate(void **state)
{
	struct pv_request r;
	struct pv_msg *m;
	struct pv_part *p;

	(void)state;
	pv_request_init(&r);
	assert_int_equal(pv_estimate_tokens(&r), 3);
	r.system = strdup("12345");                    /* 2 */
	m = pv_msg_add(&r, PV_USER);
	pv_part_add(m, PV_TEXT)->text = strdup("abcdefgh"); /* 2 */
	pv_part_add(m, PV_IMAGE)->data = strdup("QUFB");    /* 258 */
	m = pv_msg_add(&r, PV_ASSISTANT);
	p = pv_part_add(m, PV_TOOL_CALL);
	p->name = strdup("f");                          /* 1 */
	p->args = strdup("{}");                         /* 1 */
	pv_tool_add(&r)->name = strdup("tool");         /* 1 */
	r.tools[0].schema = cJSON_Parse("{\"type\":\"object\"}"); /* 17 bytes: 5 */
	assert_int_equal(pv_estimate_tokens(&r), 3 + 2 + 4 + 2 + 258 + 4 + 1 + 1 + 1 + 5);
	pv_request_release(&r);
}

static void
body_expect(struct buf *b, const char *want)
{
	cJSON *g = cJSON_Parse(b->p), *w = cJSON_Parse(want);

	assert_non_null(g);
	json_expect(want, g, w);
	cJSON_Delete(g);
	cJSON_Delete(w);
}

static void
test_daemon_answers(void **state)
{
	const char *names[] = { "claude-a", "models/gemini-b" };
	struct buf b;
	long long n;
	cJSON *j;

	(void)state;
	buf_init(&b, 1u << 20);
	assert_int_equal(codec_claude.models_body(&b, names, 2, false), CP_OK);
	body_expect(&b, "{\"data\":[{\"type\":\"model\",\"id\":\"claude-a\",\"display_name\":\"claude-a\","
	    "\"created_at\":\"1970-01-01T00:00:00Z\"},{\"type\":\"model\",\"id\":\"models/gemini-b\","
	    "\"display_name\":\"models/gemini-b\",\"created_at\":\"1970-01-01T00:00:00Z\"}],"
	    "\"has_more\":false,\"first_id\":\"claude-a\",\"last_id\":\"models/gemini-b\"}");
	assert_int_equal(codec_claude.models_body(&b, names, 0, false), CP_OK);
	body_expect(&b, "{\"data\":[],\"has_more\":false,\"first_id\":null,\"last_id\":null}");
	assert_int_equal(codec_gemini.models_body(&b, names, 2, false), CP_OK);
	body_expect(&b, "{\"models\":[{\"name\":\"models/claude-a\",\"displayName\":\"claude-a\",\"description\":\"claude-a\","
	    "\"supportedGenerationMethods\":[\"generateContent\",\"streamGenerateContent\",\"countTokens\"]},"
	    "{\"name\":\"models/gemini-b\",\"displayName\":\"gemini-b\",\"description\":\"gemini-b\","
	    "\"supportedGenerationMethods\":[\"generateContent\",\"streamGenerateContent\",\"countTokens\"]}]}");
	assert_int_equal(codec_gemini.models_body(&b, names + 1, 1, true), CP_OK);
	body_expect(&b, "{\"name\":\"models/gemini-b\",\"displayName\":\"gemini-b\",\"description\":\"gemini-b\","
	    "\"supportedGenerationMethods\":[\"generateContent\",\"streamGenerateContent\",\"countTokens\"]}");
	assert_int_equal(codec_claude.count_body(&b, 42), CP_OK);
	body_expect(&b, "{\"input_tokens\":42}");
	assert_int_equal(codec_gemini.count_body(&b, 42), CP_OK);
	body_expect(&b, "{\"totalTokens\":42}");
	j = cJSON_Parse("{\"totalTokens\":\"7\"}");
	assert_int_equal(codec_gemini.decode_count(j, &n), CP_EPARSE);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"input_tokens\":-1}");
	assert_int_equal(codec_claude.decode_count(j, &n), CP_EPARSE);
	cJSON_Delete(j);
	assert_int_equal(codec_claude.error_body(&b, 404, PVE_NOT_FOUND, "no such model", NULL, NULL), CP_OK);
	body_expect(&b, "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"no such model\"}}");
	assert_int_equal(codec_claude.error_body(&b, 413, PVE_TOO_LARGE, "big", NULL, NULL), CP_OK);
	body_expect(&b, "{\"type\":\"error\",\"error\":{\"type\":\"request_too_large\",\"message\":\"big\"}}");
	assert_int_equal(codec_gemini.error_body(&b, 401, PVE_AUTH, "bad key", NULL, NULL), CP_OK);
	body_expect(&b, "{\"error\":{\"code\":401,\"message\":\"bad key\",\"status\":\"UNAUTHENTICATED\"}}");
	assert_int_equal(codec_gemini.error_body(&b, 504, PVE_TIMEOUT, "slow", NULL, NULL), CP_OK);
	body_expect(&b, "{\"error\":{\"code\":504,\"message\":\"slow\",\"status\":\"DEADLINE_EXCEEDED\"}}");
	buf_release(&b);
}

static int
ev_ignore(const struct pv_event *ev, void *arg)
{
	(void)ev;
	(void)arg;
	return CP_OK;
}

/* Upstream oddities: Gemini's JSON array, the Gemini CLI envelope, a
 * blocked prompt, errors; bytes that are not the format. */
static void
test_upstream_shapes(void **state)
{
	static const char arr[] = "[{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"a\"}]}}]},\r\n"
	    "{\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"b\"}]},\"finishReason\":\"STOP\"}]}]";
	static const char cli[] = "data: {\"response\":{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},"
	    "\"finishReason\":\"MAX_TOKENS\"}],\"responseId\":\"q\"}}\n\n";
	static const char blocked[] = "{\"promptFeedback\":{\"blockReason\":\"SAFETY\"}}";
	struct evlog l;
	struct pv_dec *d;
	char msg[128];

	(void)state;
	decode_answer(&codec_gemini, false, arr, sizeof(arr) - 1, 0, &l);
	assert_non_null(strstr(l.b.p, "|ab\n"));
	assert_non_null(strstr(l.b.p, "\n8||||0|0,0,0,0|1|0|0|\n")); /* STOP END */
	buf_release(&l.b);
	decode_answer(&codec_gemini, true, cli, sizeof(cli) - 1, 1, &l);
	assert_non_null(strstr(l.b.p, "0|q|"));
	assert_non_null(strstr(l.b.p, "|2|0|0|")); /* MAX_TOKENS */
	buf_release(&l.b);
	decode_answer(&codec_gemini, false, blocked, sizeof(blocked) - 1, 0, &l);
	assert_non_null(strstr(l.b.p, "|5|0|0|")); /* FILTER */
	buf_release(&l.b);
	/* a stream tool_use block whose start already holds the input */
	{
		static const char st[] = "event: content_block_start\ndata: {\"type\":\"content_block_start\","
		    "\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\","
		    "\"input\":{\"a\":1}}}\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\","
		    "\"index\":0}\n\n";

		decode_answer(&codec_claude, true, st, sizeof(st) - 1, 1, &l);
		assert_non_null(strstr(l.b.p, "|{\"a\":1}\n"));
		assert_non_null(strstr(l.b.p, "\n6|"));                /* one TOOL_END */
		assert_null(strstr(strstr(l.b.p, "\n6|") + 1, "\n6|"));
		buf_release(&l.b);
	}
	/* not the format: CP_EPARSE, never a crash */
	d = codec_claude.dec_new(true);
	assert_int_equal(codec_claude.dec_feed(d, "data: {nope\n\n", 13, ev_ignore, NULL), CP_EPARSE);
	codec_claude.dec_free(d);
	d = codec_gemini.dec_new(false);
	assert_int_equal(codec_gemini.dec_feed(d, "<html>", 6, ev_ignore, NULL), CP_OK);
	assert_int_equal(codec_gemini.dec_finish(d, ev_ignore, NULL), CP_EPARSE);
	codec_gemini.dec_free(d);
	d = codec_claude.dec_new(false);
	assert_int_equal(codec_claude.dec_feed(d, "{\"type\":\"other\"}", 16, ev_ignore, NULL), CP_OK);
	assert_int_equal(codec_claude.dec_finish(d, ev_ignore, NULL), CP_EPARSE);
	codec_claude.dec_free(d);
	/* error bodies */
	{
		static const char e[] = "[{\"error\":{\"code\":429,\"message\":\"quota\"}}]";

		assert_int_equal(codec_gemini.decode_error(e, sizeof(e) - 1, msg, sizeof(msg)), CP_OK);
	}
	assert_string_equal(msg, "quota");
	assert_int_equal(codec_claude.decode_error("not json", 8, msg, sizeof(msg)), CP_OK);
	assert_string_equal(msg, "");
}

/* Interleaved tool arguments cannot be a Claude stream: dropped, and the
 * stream stays well formed; a gathered error becomes the error shape. */
static void
test_encoder_edges(void **state)
{
	struct pv_enc_opts o = { .stream = true, .model = "m", .created = 1 };
	struct pv_event ev;
	struct pv_enc *e;
	struct buf b;

	(void)state;
	buf_init(&b, 1u << 20);
	e = codec_claude.enc_new(&o);
	memset(&ev, 0, sizeof(ev));
	ev.kind = PV_EV_TOOL_START;
	ev.id = "a";
	ev.name = "f";
	assert_int_equal(codec_claude.enc_event(e, &ev, &b), CP_OK);
	ev.index = 1;
	ev.id = "b";
	assert_int_equal(codec_claude.enc_event(e, &ev, &b), CP_OK);
	ev.kind = PV_EV_TOOL_ARGS;
	ev.index = 0;
	ev.text = "{}";
	ev.len = 2;
	assert_int_equal(codec_claude.enc_event(e, &ev, &b), CP_OK);
	assert_int_equal(codec_claude.enc_finish(e, &b), CP_OK);
	codec_claude.enc_free(e);
	assert_null(strstr(b.p, "input_json_delta"));
	assert_non_null(strstr(b.p, "\"stop_reason\":\"tool_use\""));
	assert_non_null(strstr(b.p, "event: message_stop"));
	buf_reset(&b);
	o.stream = false;
	e = codec_gemini.enc_new(&o);
	memset(&ev, 0, sizeof(ev));
	ev.kind = PV_EV_ERROR;
	ev.text = "boom";
	ev.len = 4;
	ev.status = 503;
	assert_int_equal(codec_gemini.enc_event(e, &ev, &b), CP_OK);
	assert_int_equal(codec_gemini.enc_finish(e, &b), CP_OK);
	codec_gemini.enc_free(e);
	body_expect(&b, "{\"error\":{\"code\":503,\"message\":\"boom\",\"status\":\"UNAVAILABLE\"}}");
	/* a JSON-array stream with nothing in it is still an array */
	buf_reset(&b);
	o.stream = true;
	o.gemini_sse = false;
	e = codec_gemini.enc_new(&o);
	assert_int_equal(codec_gemini.enc_finish(e, &b), CP_OK);
	codec_gemini.enc_free(e);
	assert_true(b.p[0] == '[' && b.p[b.len - 1] == ']');
	/* two chunks: "[" obj ",\r\n" obj "]", what Google's clients split on */
	buf_reset(&b);
	e = codec_gemini.enc_new(&o);
	memset(&ev, 0, sizeof(ev));
	ev.kind = PV_EV_TEXT;
	ev.text = "a";
	ev.len = 1;
	assert_int_equal(codec_gemini.enc_event(e, &ev, &b), CP_OK);
	assert_int_equal(codec_gemini.enc_event(e, &ev, &b), CP_OK);
	assert_int_equal(codec_gemini.enc_finish(e, &b), CP_OK);
	codec_gemini.enc_free(e);
	assert_true(b.p[0] == '[' && b.p[1] == '{' && b.p[b.len - 1] == ']' && b.p[b.len - 2] == '}');
	assert_non_null(strstr(b.p, "},\r\n{"));
	assert_null(strstr(strstr(b.p, "},\r\n{") + 1, "},\r\n{"));
	buf_release(&b);
}

/* Thousands of items and deep schemas go through without trouble. */
static void
test_hostile(void **state)
{
	struct buf b;
	struct pv_request r;
	char err[256];
	cJSON *o;
	int i;

	(void)state;
	buf_init(&b, 8u << 20);
	buf_appends(&b, "{\"model\":\"m\",\"messages\":[");
	for (i = 0; i < 5000; i++)
		buf_printf(&b, "%s{\"role\":\"%s\",\"content\":\"m%d\"}", i > 0 ? "," : "", i % 2 ? "assistant" : "user", i);
	buf_appends(&b, "],\"tools\":[{\"name\":\"f\",\"input_schema\":");
	for (i = 0; i < 30; i++)
		buf_appends(&b, "{\"type\":\"object\",\"properties\":{\"a\":");
	buf_appends(&b, "{\"type\":\"string\"}");
	for (i = 0; i < 30; i++)
		buf_appends(&b, "}}");
	buf_appends(&b, "}]}");
	assert_int_equal(decode_str(&codec_claude, b.p, NULL, &r, err, sizeof(err)), CP_OK);
	assert_int_equal(r.n_msgs, 5000);
	o = enc(&codec_gemini, &r);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "contents")), 5000);
	cJSON_Delete(o);
	pv_request_release(&r);
	/* 8000 calls and responses of one name: matched in order, each
	 * once (a scan per response would be cubic) */
	buf_reset(&b);
	buf_appends(&b, "{\"contents\":[{\"role\":\"model\",\"parts\":[");
	for (i = 0; i < 8000; i++)
		buf_printf(&b, "%s{\"functionCall\":{\"name\":\"f\"}}", i > 0 ? "," : "");
	buf_appends(&b, "]},{\"role\":\"user\",\"parts\":[");
	for (i = 0; i < 8001; i++)
		buf_printf(&b, "%s{\"functionResponse\":{\"name\":\"%s\",\"response\":{}}}", i > 0 ? "," : "",
		    i == 0 ? "g" : "f");
	buf_appends(&b, "]}]}");
	assert_int_equal(decode_str(&codec_gemini, b.p, "m", &r, err, sizeof(err)), CP_OK);
	assert_string_equal(r.msgs[1].parts[0].id, "call_8000"); /* "g": no call */
	assert_string_equal(r.msgs[1].parts[1].id, "call_0");
	assert_string_equal(r.msgs[1].parts[8000].id, "call_7999");
	pv_request_release(&r);
	/* 8000 Claude results of an id no call has */
	buf_reset(&b);
	buf_appends(&b, "{\"model\":\"m\",\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
	    "\"id\":\"a\",\"name\":\"f\",\"input\":{}}]},{\"role\":\"user\",\"content\":[");
	for (i = 0; i < 8000; i++)
		buf_printf(&b, "%s{\"type\":\"tool_result\",\"tool_use_id\":\"%s\"}", i > 0 ? "," : "",
		    i == 7999 ? "a" : "zz");
	buf_appends(&b, "]}]}");
	assert_int_equal(decode_str(&codec_claude, b.p, NULL, &r, err, sizeof(err)), CP_OK);
	assert_null(r.msgs[1].parts[0].name);
	assert_string_equal(r.msgs[1].parts[7999].name, "f");
	pv_request_release(&r);
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count_goldens),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_lenient),
		cmocka_unit_test(test_claude_rules),
		cmocka_unit_test(test_claude_turns),
		cmocka_unit_test(test_gemini_rules),
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_estimate),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_daemon_answers),
		cmocka_unit_test(test_upstream_shapes),
		cmocka_unit_test(test_encoder_edges),
		cmocka_unit_test(test_hostile),
	};

	log_init("test_codec_cg", false, LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
