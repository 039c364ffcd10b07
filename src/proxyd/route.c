/*
 * route.c - the daemon's endpoints as one table of path patterns (DESIGN 6
 * Endpoints: "Routes are patterns in one table (the Gemini model and
 * action come from the path); Allow comes from the same table").
 *
 * Pure: no libevent, so tests/unit/test_proxyd_route.c checks the real
 * table. server.c holds the handler array parallel to enum route_id
 * (kcgi's page enum and dispatch array, STYLE.md "Tables over branches").
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "proxyd.h"

static const struct route routes[] = {
	{ RT_INFO, RM_GET, "/", false, FMT_OPENAI_CHAT, false, UPOP_GENERATE },
	{ RT_HEALTHZ, RM_GET, "/healthz", false, FMT_OPENAI_CHAT, false, UPOP_GENERATE },
	{ RT_MODELS, RM_GET, "/v1/models", true, FMT_OPENAI_CHAT, false, UPOP_GENERATE },
	{ RT_CHAT, RM_POST, "/v1/chat/completions", true, FMT_OPENAI_CHAT, true,
	  UPOP_GENERATE },
	{ RT_COMPLETIONS, RM_POST, "/v1/completions", true, FMT_OPENAI_COMPLETIONS, true,
	  UPOP_GENERATE },
	{ RT_MESSAGES, RM_POST, "/v1/messages", true, FMT_CLAUDE, true, UPOP_GENERATE },
	{ RT_COUNT_TOKENS, RM_POST, "/v1/messages/count_tokens", true, FMT_CLAUDE, true,
	  UPOP_COUNT },
	{ RT_RESPONSES, RM_POST, "/v1/responses", true, FMT_OPENAI_RESPONSES, true,
	  UPOP_GENERATE },
	{ RT_GEMINI_MODELS, RM_GET, "/v1beta/models", true, FMT_GEMINI, false, UPOP_GENERATE },
	{ RT_GEMINI_MODEL, RM_GET, "/v1beta/models/{model}", true, FMT_GEMINI, false,
	  UPOP_GENERATE },
	{ RT_GEMINI_GENERATE, RM_POST, "/v1beta/models/{model}:generateContent", true,
	  FMT_GEMINI, true, UPOP_GENERATE },
	{ RT_GEMINI_STREAM, RM_POST, "/v1beta/models/{model}:streamGenerateContent", true,
	  FMT_GEMINI, true, UPOP_STREAM },
	{ RT_GEMINI_COUNT, RM_POST, "/v1beta/models/{model}:countTokens", true, FMT_GEMINI,
	  true, UPOP_COUNT },
};

const struct route *
route_table(size_t *n)
{
	*n = sizeof(routes) / sizeof(routes[0]);
	return routes;
}

/* Bytes a model name in a path may hold: Google's and everyone's model
 * ids ("gemini-2.5-pro", "claude-3-5-haiku@20241022", "o4-mini"); no '/',
 * no ':' (the action separator), no percent-escapes. */
static bool
model_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_' || c == '.' || c == '@';
}

/* Does path match pattern? {model} is captured into model (modelsz). */
static bool
pattern_match(const char *pat, const char *path, char *model, size_t modelsz)
{
	const char *hole = strstr(pat, "{model}");
	size_t pre, n = 0;

	if (hole == NULL)
		return strcmp(pat, path) == 0;
	pre = (size_t)(hole - pat);
	if (strncmp(pat, path, pre) != 0)
		return false;
	path += pre;
	pat = hole + strlen("{model}");
	while (model_byte((unsigned char)path[n]))
		n++;
	if (n == 0 || n >= modelsz || strcmp(path + n, pat) != 0)
		return false;
	memcpy(model, path, n);
	model[n] = '\0';
	return true;
}

/* The client format of a path nobody serves, for its 404 (a Claude or
 * Gemini SDK reads its own error shape). */
static enum fmt_id
miss_format(const char *path)
{
	if (strncmp(path, "/v1beta/", 8) == 0)
		return FMT_GEMINI;
	if (strncmp(path, "/v1/messages", 12) == 0)
		return FMT_CLAUDE;
	if (strncmp(path, "/v1/responses", 13) == 0)
		return FMT_OPENAI_RESPONSES;
	return FMT_OPENAI_CHAT;
}

int
route_match(enum route_method method, const char *path, struct route_match *m)
{
	unsigned methods = 0;
	size_t i;

	memset(m, 0, sizeof(*m));
	m->fmt = miss_format(path);
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		char model[ROUTE_MODEL_MAX];

		model[0] = '\0';
		if (!pattern_match(routes[i].pattern, path, model, sizeof(model)))
			continue;
		methods |= routes[i].method;
		m->fmt = routes[i].fmt;
		if (routes[i].method == method && m->r == NULL) {
			m->r = &routes[i];
			snprintf(m->model, sizeof(m->model), "%s", model);
		}
	}
	if (m->r != NULL) {
		m->fmt = m->r->fmt;
		return CP_OK;
	}
	if (methods == 0)
		return CP_ENOTFOUND;
	snprintf(m->allow, sizeof(m->allow), "%s%s%s",
	    (methods & RM_GET) != 0 ? "GET, HEAD" : "",
	    (methods & RM_GET) != 0 && (methods & RM_POST) != 0 ? ", " : "",
	    (methods & RM_POST) != 0 ? "POST" : "");
	return CP_EPERM;
}
