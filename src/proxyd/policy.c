/*
 * policy.c - what an upstream answer means for the credential and the
 * request (PROVIDERS.md 5, DESIGN 3 request-retry / quota-exceeded), as
 * pure functions of their inputs: no event loop, no curl, no globals.
 *
 * | answer                 | credential (for that model)   | request                 |
 * | 429                    | cooldown: hint, else 30 min   | next, free with         |
 * |                        |                               | switch-project, else pass |
 * | 401 account            | refresh once, then retry; a   | retry                   |
 * |                        | second 401: cooldown 30 min   |                         |
 * | 401/403 key, 402       | cooldown 30 min               | next, spends a retry    |
 * | 404 model not found    | cooldown 12 h                 | next (free)             |
 * | 408, 5xx, transport    | cooldown 1 min                | next, spends a retry    |
 * | 400 and other 4xx      | none                          | pass to the client      |
 * With no retry left, "next" becomes "pass" (the cooldown still holds).
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxyd.h"

/* Whole seconds of d >= 0, rounded up (no libm). */
static long
ceil_s(double d)
{
	long w = (long)d;

	return (double)w < d ? w + 1 : w;
}

static void
next_or_pass(const struct pol_in *in, struct pol_out *out, bool spends)
{
	if (!spends) {
		out->action = POL_NEXT;
		return;
	}
	if (in->retries_left > 0) {
		out->action = POL_NEXT;
		out->spend_retry = true;
	} else {
		out->action = POL_PASS;
	}
}

static long
hint_or(long hint, long dflt)
{
	if (hint <= 0)
		return dflt;
	return hint > POL_HINT_MAX_S ? POL_HINT_MAX_S : hint;
}

void
policy_decide(const struct pol_in *in, struct pol_out *out)
{
	long s = in->status;

	memset(out, 0, sizeof(*out));
	out->action = POL_PASS;
	if (s >= 200 && s < 300) {
		out->action = POL_OK;
		return;
	}
	if (s == 429) {
		out->cooldown_s = hint_or(in->hint_s, POL_COOL_QUOTA_S);
		if (in->switch_project)
			out->action = POL_NEXT;
		return;
	}
	if (s == 401 && in->oauth && !in->refreshed) {
		/* PROVIDERS 5: refresh once, then retry (that retry is the
		 * refresh's purpose: it spends nothing). */
		out->action = POL_REFRESH;
		return;
	}
	if (s == 401 || s == 402 || s == 403) {
		out->cooldown_s = POL_COOL_AUTH_S;
		out->token_refused = s != 402;   /* 402: the account's, not the token's */
		next_or_pass(in, out, true);
		return;
	}
	if (s == 404) {
		if (!in->model_missing)
			return;
		out->cooldown_s = POL_COOL_MISSING_S;
		next_or_pass(in, out, false);
		return;
	}
	if (s == 0 || s == 408 || (s >= 500 && s < 600)) {
		out->cooldown_s = hint_or(in->hint_s, POL_COOL_SERVER_S);
		next_or_pass(in, out, true);
		return;
	}
	/* 400 and every other answer: the client's problem, passed on. */
}

/* ------------------------------------------------------------ hints */

long
policy_retry_after(const char *v, size_t len, time_t now)
{
	char tmp[64];
	struct tm tm;
	const char *end;
	long long secs;
	time_t t;

	while (len > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '\r' ||
	    v[len - 1] == '\n'))
		len--;
	if (len == 0 || len >= sizeof(tmp))
		return -1;
	if (str_to_ll(v, len, 0, (long long)1 << 40, &secs) == CP_OK)
		return secs > POL_HINT_MAX_S ? POL_HINT_MAX_S : (long)secs;
	/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7). */
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	memset(&tm, 0, sizeof(tm));
	end = strptime(tmp, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *end != '\0')
		return -1;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	if (t <= now)
		return 0;
	return t - now > POL_HINT_MAX_S ? POL_HINT_MAX_S : (long)(t - now);
}

static cJSON *
parse_obj(const char *body, size_t len)
{
	cJSON *j = NULL;

	if (body == NULL || len == 0)
		return NULL;
	if (json_parse_strict(body, len, &j) != CP_OK)
		return NULL;
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

/* "12s", "1.5s", "0.25s" (protobuf Duration in JSON) -> whole seconds,
 * rounded up; -1 when malformed. */
static long
duration_s(const char *s)
{
	char *end = NULL;
	double d;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	d = strtod(s, &end);
	if (end == NULL || strcmp(end, "s") != 0 || !isfinite(d) || d < 0)
		return -1;
	if (d > POL_HINT_MAX_S)
		return POL_HINT_MAX_S;
	return ceil_s(d);
}

long
policy_gemini_retry_delay(const char *body, size_t len)
{
	cJSON *j = parse_obj(body, len), *err, *details, *d;
	long r = -1;

	if (j == NULL)
		return -1;
	err = cJSON_GetObjectItemCaseSensitive(j, "error");
	details = cJSON_IsObject(err) ? cJSON_GetObjectItemCaseSensitive(err, "details") : NULL;
	if (!cJSON_IsArray(details))
		details = NULL;
	cJSON_ArrayForEach(d, details) {
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(d, "@type");
		const cJSON *delay = cJSON_GetObjectItemCaseSensitive(d, "retryDelay");

		if (!cJSON_IsString(type) || !cJSON_IsString(delay))
			continue;
		if (strstr(type->valuestring, "google.rpc.RetryInfo") == NULL)
			continue;
		if ((r = duration_s(delay->valuestring)) >= 0)
			break;
	}
	cJSON_Delete(j);
	return r;
}

static long
number_s(const cJSON *n)
{
	if (!cJSON_IsNumber(n) || !isfinite(n->valuedouble) || n->valuedouble < 0)
		return -1;
	if (n->valuedouble > POL_HINT_MAX_S)
		return POL_HINT_MAX_S;
	return ceil_s(n->valuedouble);
}

long
policy_codex_resets(const char *body, size_t len)
{
	cJSON *j = parse_obj(body, len), *err;
	long r;

	if (j == NULL)
		return -1;
	err = cJSON_GetObjectItemCaseSensitive(j, "error");
	r = number_s(cJSON_IsObject(err) ?
	    cJSON_GetObjectItemCaseSensitive(err, "resets_in_seconds") : NULL);
	if (r < 0)
		r = number_s(cJSON_GetObjectItemCaseSensitive(j, "resets_in_seconds"));
	cJSON_Delete(j);
	return r;
}

bool
policy_body_model_missing(const char *body, size_t len)
{
	cJSON *j = parse_obj(body, len), *err;
	const cJSON *code, *type, *status, *msg;
	bool r = false;

	if (j == NULL)
		return false;
	err = cJSON_GetObjectItemCaseSensitive(j, "error");
	if (!cJSON_IsObject(err))
		goto out;
	code = cJSON_GetObjectItemCaseSensitive(err, "code");
	type = cJSON_GetObjectItemCaseSensitive(err, "type");
	status = cJSON_GetObjectItemCaseSensitive(err, "status");
	msg = cJSON_GetObjectItemCaseSensitive(err, "message");
	/* OpenAI: {"error":{"code":"model_not_found"}}. */
	if (cJSON_IsString(code) && strcmp(code->valuestring, "model_not_found") == 0)
		r = true;
	/* Gemini: {"error":{"code":404,"status":"NOT_FOUND","message":
	 * "models/x is not found ..."}}; Claude: {"type":"error","error":
	 * {"type":"not_found_error","message":"model: x"}}. */
	else if (((cJSON_IsString(status) && strcmp(status->valuestring, "NOT_FOUND") == 0) ||
	    (cJSON_IsString(type) && strcmp(type->valuestring, "not_found_error") == 0)) &&
	    cJSON_IsString(msg) && strstr(msg->valuestring, "model") != NULL)
		r = true;
out:
	cJSON_Delete(j);
	return r;
}
