/*
 * keypol.c - the per-client-key policy of api-key-policy (issue 15, DESIGN
 * 3): which item applies to a presented key, the key's id in usage rows,
 * and the verdict on one request (disabled -> 401, model outside the
 * allow-list -> 403, over max-requests-per-minute or max-tokens-per-day
 * -> 429 with the seconds to wait). Pure: no event loop, no globals, the
 * clock is an argument; unit-tested in tests/unit/test_proxyd_keypol.c.
 */
#include "config.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "proxyd.h"

#define KP_SHA_PREFIX "sha256:"

/* Does item p name this key (the key itself, or "sha256:<hex>" of it)?
 * Constant time in the key's bytes: ct_streq on both forms. */
static bool
kp_item_matches(const struct cfg_policy *p, const char *key, const char *sha)
{
	size_t pl = sizeof(KP_SHA_PREFIX) - 1;
	char want[65];
	size_t i;

	if (strncmp(p->api_key, KP_SHA_PREFIX, pl) != 0)
		return ct_streq(key, p->api_key);
	/* the hex may be written in either case */
	for (i = 0; i < 64 && p->api_key[pl + i] != '\0'; i++)
		want[i] = (char)tolower((unsigned char)p->api_key[pl + i]);
	want[i] = '\0';
	return ct_streq(sha, want);
}

const struct cfg_policy *
keypol_find(const struct cfg *c, const char *key, const char *sha)
{
	const struct cfg_policy *hit = NULL;
	size_t i;

	/* No early exit: the time does not tell which item matched. */
	for (i = 0; i < c->n_policy; i++)
		if (kp_item_matches(&c->policy[i], key, sha) && hit == NULL)
			hit = &c->policy[i];
	return hit;
}

void
keypol_key_id(const struct cfg_policy *p, const char *sha, char *out, size_t outlen)
{
	if (p != NULL && p->name != NULL && p->name[0] != '\0')
		snprintf(out, outlen, "%s", p->name);
	else if (sha != NULL && sha[0] != '\0')
		snprintf(out, outlen, "%.*s", KEYPOL_ID_HEX, sha);
	else
		snprintf(out, outlen, "%s", KEYPOL_ID_LOCAL);
}

bool
keypol_model_ok(const struct cfg_policy *p, const char *model)
{
	size_t i;

	if (p == NULL || p->models.n == 0)
		return true;
	for (i = 0; i < p->models.n; i++)
		if (fnmatch(p->models.v[i], model, 0) == 0)
			return true;
	return false;
}

/* Requests in the minute before now (the slot of each second keeps the
 * second it counts, so a stale slot reads as empty). */
static long
kp_rpm_count(const struct keypol_state *st, time_t now, time_t *oldest)
{
	long n = 0;

	*oldest = 0;
	for (int i = 0; i < KEYPOL_RPM_SLOTS; i++) {
		time_t t = st->sec[i];

		if (st->cnt[i] == 0 || t > now || t <= now - KEYPOL_RPM_SLOTS)
			continue;
		n += st->cnt[i];
		if (*oldest == 0 || t < *oldest)
			*oldest = t;
	}
	return n;
}

/* The UTC day of t (days since the epoch). */
static long long
kp_day(time_t t)
{
	return (long long)(t >= 0 ? t / 86400 : (t - 86399) / 86400);
}

long long
keypol_tokens_today(const struct keypol_state *st, time_t now)
{
	return st->day == kp_day(now) ? st->tokens : 0;
}

void
keypol_decide(const struct cfg_policy *p, const char *model, const struct keypol_state *st,
    time_t now, struct keypol_verdict *v)
{
	time_t oldest;

	memset(v, 0, sizeof(*v));
	if (p == NULL)
		return;
	if (p->disabled) {
		v->status = 401;
		v->message = "this API key is disabled";
		v->type = "authentication_error";
		v->code = "api_key_disabled";
		return;
	}
	if (model != NULL && !keypol_model_ok(p, model)) {
		v->status = 403;
		v->message = "this API key may not use this model";
		v->type = "permission_error";
		v->code = "model_not_allowed";
		return;
	}
	if (st == NULL)
		return;
	if (p->max_rpm > 0 && kp_rpm_count(st, now, &oldest) >= p->max_rpm) {
		v->status = 429;
		v->message = "this API key is over its requests per minute";
		v->type = "rate_limit_error";
		v->code = "rate_limit_exceeded";
		/* the oldest second of the window leaves it then */
		v->retry_after = (long)(oldest + KEYPOL_RPM_SLOTS - now);
		if (v->retry_after < 1)
			v->retry_after = 1;
		return;
	}
	if (p->max_tpd > 0 && keypol_tokens_today(st, now) >= p->max_tpd) {
		v->status = 429;
		v->message = "this API key is over its tokens per day";
		v->type = "rate_limit_error";
		v->code = "token_limit_exceeded";
		/* the count starts again at 00:00 UTC */
		v->retry_after = (long)((kp_day(now) + 1) * 86400 - (long long)now);
		if (v->retry_after < 1)
			v->retry_after = 1;
	}
}

void
keypol_count_request(struct keypol_state *st, time_t now)
{
	int i = (int)(((long long)now % KEYPOL_RPM_SLOTS + KEYPOL_RPM_SLOTS) % KEYPOL_RPM_SLOTS);

	if (st->sec[i] != now) {
		st->sec[i] = now;
		st->cnt[i] = 0;
	}
	st->cnt[i]++;
}

void
keypol_count_tokens(struct keypol_state *st, time_t when, long long tokens)
{
	long long d = kp_day(when);

	if (tokens <= 0 || d < st->day)
		return;
	if (d > st->day) {
		st->day = d;
		st->tokens = 0;
	}
	st->tokens += tokens;
}
