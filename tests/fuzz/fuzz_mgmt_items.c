/*
 * fuzz_mgmt_items.c - the pure pieces under every management body and
 * query (DESIGN.md 5): the strict JSON body parser followed by the item
 * validator of each list key (what PUT/PATCH of a list runs before it
 * writes), the query-string decoder and the strict index parser.
 * Never crashes; a decoded query value fits its buffer and is
 * NUL-terminated; an accepted index is digits only, without a leading zero.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "mgmt.h"

// needs: src/mgmt/request.c src/mgmt/response.c

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

static const char *const list_keys[] = {
	"api-keys", "generative-language-api-key", "claude-api-key", "codex-api-key",
	"openai-compatibility",
};

static void
validate_all(const cJSON *v)
{
	char err[256];

	for (size_t k = 0; k < sizeof(list_keys) / sizeof(list_keys[0]); k++) {
		const cJSON *it;

		err[0] = '\0';
		(void)cfg_validate_item(list_keys[k], v, err, sizeof(err));
		if (memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		/* bodies are a raw array, {"items": [...]}, or {"value": item} */
		if (cJSON_IsArray(v)) {
			cJSON_ArrayForEach(it, v)
				(void)cfg_validate_item(list_keys[k], it, err, sizeof(err));
		} else if (cJSON_IsObject(v)) {
			const cJSON *items = cJSON_GetObjectItemCaseSensitive(v, "items");
			const cJSON *value = cJSON_GetObjectItemCaseSensitive(v, "value");

			if (cJSON_IsArray(items))
				cJSON_ArrayForEach(it, items)
					(void)cfg_validate_item(list_keys[k], it, err, sizeof(err));
			if (value != NULL)
				(void)cfg_validate_item(list_keys[k], value, err, sizeof(err));
		}
	}
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	cJSON *v = NULL;
	char out[64], *copy;
	size_t used = 0;
	long long idx;

	/* the body: an exact-size copy so ASan catches over-reads */
	if ((copy = malloc(len + 1)) == NULL)
		return 0;
	memcpy(copy, data, len);
	if (json_parse_strict(copy, len, &v) == CP_OK)
		validate_all(v);
	cJSON_Delete(v);

	/* the same bytes as a query value and as an index */
	if (req_pct_decode(copy, len, out, sizeof(out), &used) == CP_OK) {
		if (used >= sizeof(out) || out[used] != '\0')
			abort();
	}
	if (req_parse_index(copy, len, &idx) == CP_OK) {
		if (len == 0 || idx < 0 || (len > 1 && copy[0] == '0'))
			abort();
		for (size_t i = 0; i < len; i++)
			if (copy[i] < '0' || copy[i] > '9')
				abort();
	}
	free(copy);
	return 0;
}
