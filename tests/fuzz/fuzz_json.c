/*
 * fuzz_json.c - the strict body parser of the management API (DESIGN.md 5):
 * never crashes, and whatever it accepts is one valid value that prints and
 * parses back to the same value.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	cJSON *v = NULL, *again = NULL;
	char *txt = NULL;
	long long n;

	if (json_parse_strict((const char *)data, len, &v) != CP_OK)
		return 0;
	txt = json_print(v);
	if (txt == NULL)
		goto out;
	if (json_parse_strict(txt, strlen(txt), &again) != CP_OK)
		abort();
	if (!cJSON_Compare(v, again, 1))
		abort();
	(void)json_item_int(v, 0, 100, &n);
	if (cJSON_IsObject(v)) {
		const char *s;
		bool b;
		const cJSON *a;

		(void)json_get_string(v, "value", &s);
		(void)json_get_bool(v, "value", &b);
		(void)json_get_int(v, "index", 0, 1000000, &n);
		(void)json_get_array(v, "items", &a);
		(void)json_get_object(v, "value", &a);
	}
out:
	free(txt);
	cJSON_Delete(v);
	cJSON_Delete(again);
	return 0;
}
