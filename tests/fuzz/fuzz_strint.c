/*
 * fuzz_strint.c - strict integer parsing (STYLE.md "Untrusted input")
 * against a reference: digits only (a '-' only when negatives are allowed),
 * whole string, in range.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	long long v = 0, ref = 0;
	char buf[64], *end;
	size_t i;
	int rc, ok;

	rc = str_to_ll((const char *)data, len, 0, 100, &v);
	ok = len > 0 && len < sizeof(buf);
	for (i = 0; ok && i < len; i++)
		if (data[i] < '0' || data[i] > '9')
			ok = 0;
	if (ok) {
		memcpy(buf, data, len);
		buf[len] = '\0';
		errno = 0;
		ref = strtoll(buf, &end, 10);
		ok = errno == 0 && ref >= 0 && ref <= 100;
	}
	if (rc == CP_OK && (!ok || v != ref))
		abort();
	/* Leading zeros ("007") are the implementation's choice. */
	if (rc != CP_OK && ok && !(len > 1 && data[0] == '0'))
		abort();
	return 0;
}
