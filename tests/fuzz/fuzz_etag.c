/*
 * fuzz_etag.c - the If-Match / If-None-Match parser of etag.c (RFC 9110
 * 13.1.1, 13.1.2) on hostile header values, against simple truths: never
 * a crash or a read past the value; a strong match implies a weak one; a
 * header that holds no copy of the tag (and no "*") never matches; nothing
 * matches a resource that does not exist.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

#define TAG "\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	char *h;
	bool strong, weak;

	if (len > ETAG_HEADER_MAX + 16 || (h = malloc(len + 1)) == NULL)
		return 0;
	memcpy(h, data, len);
	h[len] = '\0';
	strong = etag_if_match(h, TAG);
	weak = etag_if_none_match(h, TAG);
	if (strong && !weak)
		abort();
	if ((strong || weak) && strstr(h, TAG) == NULL && strchr(h, '*') == NULL)
		abort();
	/* no resource: not even "*" matches (RFC 9110 13.1.1, 13.1.2) */
	if (etag_if_match(h, NULL) || etag_if_none_match(h, NULL))
		abort();
	free(h);
	return 0;
}
