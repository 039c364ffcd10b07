/*
 * fuzz_authname.c - the auth-file name allow-list (DESIGN.md 4) against a
 * reference written the slow, obvious way: they must agree on every input.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

static int
reference(const unsigned char *s, size_t n)
{
	static const char allowed[] = "._@+-";
	size_t i;

	if (n < 1 || n > CP_AUTHNAME_MAX || s[0] == '.' || n < 5)
		return 0;
	for (i = 0; i < n; i++) {
		int alnum = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9');

		if (!alnum && (s[i] == 0 || strchr(allowed, s[i]) == NULL))
			return 0;
	}
	return tolower(s[n - 5]) == '.' && tolower(s[n - 4]) == 'j' &&
	    tolower(s[n - 3]) == 's' && tolower(s[n - 2]) == 'o' &&
	    tolower(s[n - 1]) == 'n';
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy == NULL)
		return 0;
	memcpy(copy, data, len);
	copy[len] = '\0';
	if ((int)authstore_name_ok(copy, len) != reference(data, len))
		abort();
	free(copy);
	return 0;
}
