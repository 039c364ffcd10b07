/*
 * json.c - strict parsing and typed getters over cJSON (DESIGN 5 "Details
 * that clients rely on": one complete value, no trailing bytes, UTF-8 only).
 */
#include "config.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* From 2^53 on, the double cJSON keeps cannot tell n from n + 1
 * ("9007199254740993" reads as 2^53), so such integers are refused. */
#define JSON_INT_EXACT_MAX 9007199254740992.0

static bool
json_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
json_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Check an RFC 8259 number starting at s[*i]; advance past it. cJSON takes
 * "01", "1." and "-.5" through strtod, so the grammar is checked here. */
static bool
json_scan_number(const char *s, size_t len, size_t *i)
{
	size_t k = *i;

	if (k < len && s[k] == '-')
		k++;
	if (k >= len || !json_digit(s[k]))
		return false;
	if (s[k] == '0') {
		k++;
	} else {
		while (k < len && json_digit(s[k]))
			k++;
	}
	if (k < len && s[k] == '.') {
		k++;
		if (k >= len || !json_digit(s[k]))
			return false;
		while (k < len && json_digit(s[k]))
			k++;
	}
	if (k < len && (s[k] == 'e' || s[k] == 'E')) {
		k++;
		if (k < len && (s[k] == '+' || s[k] == '-'))
			k++;
		if (k >= len || !json_digit(s[k]))
			return false;
		while (k < len && json_digit(s[k]))
			k++;
	}
	/* A number runs into the next structural byte, never into more
	 * number-ish bytes ("1.2.3", "0x1", "1e5e5"). */
	if (k < len && (json_digit(s[k]) || s[k] == '.' || s[k] == 'e' || s[k] == 'E' ||
	    s[k] == '+' || s[k] == '-' || s[k] == 'x' || s[k] == 'X'))
		return false;
	*i = k;
	return true;
}

/* One cheap pass before cJSON: nesting depth (so 10,000 '[' never reach
 * its recursion), raw control bytes and \u0000 inside strings, number
 * grammar, and that there is something besides whitespace. */
static bool
json_prescan(const char *s, size_t len)
{
	size_t i = 0, depth = 0;
	bool in_str = false, any = false;

	while (i < len) {
		char c = s[i];

		if (in_str) {
			if ((unsigned char)c < 0x20)
				return false;
			if (c == '\\') {
				/* "\u0000" would cut the C string cJSON hands out
				 * ("key\u0000x" read as "key"): refuse it. */
				if (len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0)
					return false;
				i += 2;
				continue;
			}
			if (c == '"')
				in_str = false;
			i++;
			continue;
		}
		/* Outside strings only RFC 8259 whitespace may separate tokens;
		 * cJSON would skip any byte <= 0x20, NUL included. */
		if ((unsigned char)c < 0x20 && !json_ws(c))
			return false;
		if (!json_ws(c))
			any = true;
		if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > CP_JSON_DEPTH_MAX)
				return false;
		} else if (c == ']' || c == '}') {
			if (depth > 0)
				depth--;
		} else if (c == '-' || json_digit(c)) {
			if (!json_scan_number(s, len, &i))
				return false;
			continue;
		}
		i++;
	}
	return any && !in_str;
}

/* true if every number in v is finite: "1e999" parses to infinity, which
 * cJSON would print back as null, so such a body is not one faithful value.
 * Recursion is bounded by the CP_JSON_DEPTH_MAX prescan. */
static bool
json_all_finite(const cJSON *v)
{
	const cJSON *c;

	if (cJSON_IsNumber(v))
		return isfinite(v->valuedouble);
	for (c = v->child; c != NULL; c = c->next)
		if (!json_all_finite(c))
			return false;
	return true;
}

static int
json_key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* true if no object in v has two members of the same name: cJSON keeps
 * both and every getter sees the first, while other parsers take the last,
 * so {"index":0,"index":5} would mean different things to different
 * readers. Recursion is bounded by the CP_JSON_DEPTH_MAX prescan. */
static bool
json_keys_unique(const cJSON *v)
{
	const cJSON *c;
	const char **keys = NULL;
	size_t n = 0, i;
	bool ok = true;

	for (c = v->child; c != NULL; c = c->next) {
		if (!json_keys_unique(c))
			return false;
		n++;
	}
	if (!cJSON_IsObject(v) || n < 2)
		return true;
	if ((keys = malloc(n * sizeof(*keys))) == NULL)
		return false;
	for (c = v->child, i = 0; c != NULL; c = c->next)
		keys[i++] = c->string != NULL ? c->string : "";
	qsort(keys, n, sizeof(*keys), json_key_cmp);
	for (i = 1; i < n && ok; i++)
		ok = strcmp(keys[i - 1], keys[i]) != 0;
	free(keys);
	return ok;
}

int
json_parse_strict(const char *data, size_t len, cJSON **out)
{
	return json_parse_strict_max(data, len, CP_BODY_MAX, out);
}

int
json_parse_strict_max(const char *data, size_t len, size_t max, cJSON **out)
{
	const char *end = NULL;
	cJSON *root = NULL;
	size_t i;
	int rc = CP_EPARSE;

	*out = NULL;
	if (len > max) {
		rc = CP_ETOOBIG;
		goto out;
	}
	if (data == NULL || len == 0)
		goto out;
	if (!utf8_valid(data, len) || !json_prescan(data, len))
		goto out;
	root = cJSON_ParseWithLengthOpts(data, len, &end, false);
	if (root == NULL || end == NULL)
		goto out;
	for (i = (size_t)(end - data); i < len; i++)
		if (!json_ws(data[i]))
			goto out;
	if (!json_all_finite(root) || !json_keys_unique(root))
		goto out;
	*out = root;
	root = NULL;
	rc = CP_OK;
out:
	cJSON_Delete(root);
	return rc;
}

/* The member key of obj: CP_ETYPE if obj is not an object. */
static int
json_member(const cJSON *obj, const char *key, const cJSON **item)
{
	if (!cJSON_IsObject(obj) || key == NULL)
		return CP_ETYPE;
	*item = cJSON_GetObjectItemCaseSensitive(obj, key);
	return *item == NULL ? CP_ENOTFOUND : CP_OK;
}

int
json_get_string(const cJSON *obj, const char *key, const char **out)
{
	const cJSON *it;
	int rc;

	if ((rc = json_member(obj, key, &it)) != CP_OK)
		return rc;
	if (!cJSON_IsString(it) || it->valuestring == NULL)
		return CP_ETYPE;
	*out = it->valuestring;
	return CP_OK;
}

int
json_get_bool(const cJSON *obj, const char *key, bool *out)
{
	const cJSON *it;
	int rc;

	if ((rc = json_member(obj, key, &it)) != CP_OK)
		return rc;
	if (!cJSON_IsBool(it))
		return CP_ETYPE;
	*out = cJSON_IsTrue(it);
	return CP_OK;
}

int
json_item_int(const cJSON *item, long long min, long long max, long long *out)
{
	double v;
	long long ll;

	if (!cJSON_IsNumber(item))
		return CP_ETYPE;
	v = item->valuedouble;
	/* 1e400 is inf after strtod: not an integer (DESIGN 5: a JSON index
	 * must be an integer number). */
	if (!isfinite(v))
		return CP_ETYPE;
	if (v >= JSON_INT_EXACT_MAX || v <= -JSON_INT_EXACT_MAX)
		return CP_EINVAL;
	ll = (long long)v;
	/* 1.5 is not an integer; 1.0 is the integer 1. */
	if ((double)ll != v)
		return CP_ETYPE;
	if (ll < min || ll > max)
		return CP_EINVAL;
	if (out != NULL)
		*out = ll;
	return CP_OK;
}

int
json_get_int(const cJSON *obj, const char *key, long long min, long long max, long long *out)
{
	const cJSON *it;
	int rc;

	if ((rc = json_member(obj, key, &it)) != CP_OK)
		return rc;
	return json_item_int(it, min, max, out);
}

int
json_get_array(const cJSON *obj, const char *key, const cJSON **out)
{
	const cJSON *it;
	int rc;

	if ((rc = json_member(obj, key, &it)) != CP_OK)
		return rc;
	if (!cJSON_IsArray(it))
		return CP_ETYPE;
	*out = it;
	return CP_OK;
}

int
json_get_object(const cJSON *obj, const char *key, const cJSON **out)
{
	const cJSON *it;
	int rc;

	if ((rc = json_member(obj, key, &it)) != CP_OK)
		return rc;
	if (!cJSON_IsObject(it))
		return CP_ETYPE;
	*out = it;
	return CP_OK;
}

char *
json_print(const cJSON *item)
{
	return cJSON_PrintUnformatted(item);
}

static int
json_member_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string != NULL ? x->string : "", y->string != NULL ? y->string : "");
}

int
json_sorted_members(const cJSON *o, const cJSON ***out, size_t *n)
{
	const cJSON *c, **v = NULL;
	size_t cnt = 0, i = 0;

	*out = NULL;
	*n = 0;
	for (c = o != NULL ? o->child : NULL; c != NULL; c = c->next)
		cnt++;
	if (cnt == 0)
		return CP_OK;
	if ((v = malloc(cnt * sizeof(*v))) == NULL)
		return CP_ENOMEM;
	for (c = o->child; c != NULL; c = c->next)
		v[i++] = c;
	/* mergesort would keep equal names in order; none are equal in our
	 * documents (duplicate keys are refused by both parsers) */
	qsort(v, cnt, sizeof(*v), json_member_cmp);
	*out = v;
	*n = cnt;
	return CP_OK;
}

const cJSON *
json_sorted_find(const cJSON *const *v, size_t n, const char *name)
{
	size_t lo = 0, hi = n, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(v[mid]->string != NULL ? v[mid]->string : "", name);
		if (c == 0)
			return v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* cJSON_Compare's rule for numbers (cJSON 1.7: equal within DBL_EPSILON
 * of the larger magnitude). */
static bool
json_num_eq(double a, double b)
{
	double ma = fabs(a) > fabs(b) ? fabs(a) : fabs(b);

	return fabs(a - b) <= ma * DBL_EPSILON;
}

bool
json_equal(const cJSON *a, const cJSON *b)
{
	const cJSON **va = NULL, **vb = NULL;
	const cJSON *x, *y;
	size_t na = 0, nb = 0, i;
	bool eq = false;

	if (a == NULL || b == NULL || (a->type & 0xFF) != (b->type & 0xFF))
		return false;
	switch (a->type & 0xFF) {
	case cJSON_False:
	case cJSON_True:
	case cJSON_NULL:
		return true;
	case cJSON_Number:
		return json_num_eq(a->valuedouble, b->valuedouble);
	case cJSON_String:
	case cJSON_Raw:
		return a->valuestring != NULL && b->valuestring != NULL &&
		    strcmp(a->valuestring, b->valuestring) == 0;
	case cJSON_Array:
		for (x = a->child, y = b->child; x != NULL && y != NULL; x = x->next, y = y->next)
			if (!json_equal(x, y))
				return false;
		return x == NULL && y == NULL;
	case cJSON_Object:
		/* Sorted by name on both sides: cJSON_Compare looks every member
		 * up by a scan, O(n^2) for an object of n members (issue 10: a
		 * config of 20,000 top-level keys took 4 s to verify a write). */
		if (json_sorted_members(a, &va, &na) != CP_OK ||
		    json_sorted_members(b, &vb, &nb) != CP_OK || na != nb)
			goto out;
		for (i = 0; i < na; i++)
			if (strcmp(va[i]->string != NULL ? va[i]->string : "",
			    vb[i]->string != NULL ? vb[i]->string : "") != 0 ||
			    !json_equal(va[i], vb[i]))
				goto out;
		eq = true;
	out:
		free(va);
		free(vb);
		return eq;
	default:
		return false;
	}
}
