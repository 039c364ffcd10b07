/*
 * fuzz_yaml.c - config load and one splice save (DESIGN.md 3): never
 * crashes; when the input loads, a yaml_set of a list and of a nested
 * scalar either fails cleanly or yields a document that loads again and
 * holds the value that was set.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

static void
set_and_check(const char *text, size_t len, const char *const *path, const cJSON *value)
{
	char *out = NULL, err[256];
	size_t outlen = 0;
	cJSON *back = NULL;
	struct cfg *c = NULL;

	if (yaml_set(text, len, path, value, &out, &outlen, err, sizeof(err)) != CP_OK)
		return;
	if (yaml_get_json(out, outlen, path, &back, err, sizeof(err)) != CP_OK)
		abort();
	if (!cJSON_Compare(back, value, 1))
		abort();
	/* Semantics may fail (the original may be invalid in other keys), but
	 * the syntax of a document we wrote must never break. */
	if (cfg_parse(out, outlen, &c, err, sizeof(err)) == CP_EPARSE)
		abort();
	cfg_free(c);
	cJSON_Delete(back);
	free(out);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	static const char *const keys[] = { "api-keys", NULL };
	static const char *const nested[] = { "quota-exceeded", "switch-project", NULL };
	struct cfg *c = NULL;
	char *text, err[256];
	cJSON *list, *f;

	text = malloc(len + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, len);
	text[len] = '\0';
	if (cfg_parse(text, len, &c, err, sizeof(err)) != CP_OK)
		goto out;
	list = cJSON_CreateArray();
	cJSON_AddItemToArray(list, cJSON_CreateString("k1"));
	cJSON_AddItemToArray(list, cJSON_CreateString("# not a comment"));
	set_and_check(text, len, keys, list);
	cJSON_Delete(list);
	f = cJSON_CreateFalse();
	set_and_check(text, len, nested, f);
	cJSON_Delete(f);
out:
	cfg_free(c);
	free(text);
	return 0;
}
