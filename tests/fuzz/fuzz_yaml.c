/*
 * fuzz_yaml.c - libFuzzer harness for the config parser and the splice
 * editor (STYLE.md: every parser of untrusted input has a harness). Not
 * built by default. Build by hand, e.g.:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Isrc/core \
 *     tests/fuzz/fuzz_yaml.c src/core/libcore.a -lyaml -lcjson -lcrypt
 * (from a build dir configured with CC=clang, so config.h and libcore.a
 * exist). Invariants checked: no crash; a successful yaml_set/yaml_delete
 * returns text that parses and reads back the requested value.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const paths[][4] = {
	{ "port", NULL }, { "api-keys", NULL }, { "remote-management", "secret-key", NULL },
	{ "quota-exceeded", "switch-project", NULL }, { "claude-api-key", NULL },
	{ "openai-compatibility", NULL }, { "endpoints", "gemini", NULL }, { "new-key", NULL },
	{ "a", "b", "c", NULL },
};

static const char *const values[] = {
	"1", "\"x\"", "\"\"", "true", "null", "[]", "{}", "[\"a\", \"b: c\"]",
	"[{\"api-key\": \"k\", \"base-url\": \"https://x\"}]",
	"[{\"name\": \"n\", \"api-keys\": [\"a\"], \"models\": [{\"name\": \"m\", \"alias\": \"a\"}]}]",
	"{\"x\": [1, {\"y\": \"#\"}]}", "\" lead\\n\\u0085 \"",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	const char *const *path;
	struct cfg *c = NULL;
	cJSON *v, *got = NULL, *j;
	char *out = NULL, err[256];
	size_t outlen, np = sizeof(paths) / sizeof(paths[0]);
	size_t nv = sizeof(values) / sizeof(values[0]);
	unsigned pick = size > 0 ? data[size - 1] : 0;

	if (cfg_parse(text, size, &c, err, sizeof(err)) == CP_OK) {
		j = cfg_to_json(c, true);
		cJSON_Delete(j);
		cfg_free(c);
	}
	path = paths[pick % np];
	v = cJSON_Parse(values[(pick / np) % nv]);
	if (yaml_set(text, size, path, v, &out, &outlen, err, sizeof(err)) == CP_OK) {
		if (yaml_get_json(out, outlen, path, &got, err, sizeof(err)) != CP_OK ||
		    !cJSON_Compare(got, v, 1))
			abort();
		cJSON_Delete(got);
		free(out);
	}
	if (yaml_delete(text, size, path, &out, &outlen, err, sizeof(err)) == CP_OK) {
		if (yaml_has(out, outlen, path))
			abort();
		free(out);
	}
	cJSON_Delete(v);
	return 0;
}
