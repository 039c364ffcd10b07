/*
 * fuzz_multipart.c - the multipart/form-data parser of auth-file uploads
 * (src/mgmt/multipart.c, DESIGN.md 5). The input's first line is the
 * Content-Type, the rest the body. Never crashes; every part it returns
 * lies inside the body, its name and filename are NUL-terminated within
 * their caps, at most the asked number of parts come back, and the base
 * name of a filename holds no '/' or '\\'.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "mgmt.h"

// needs: src/mgmt/multipart.c

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	const unsigned char *nl = memchr(data, '\n', len);
	char ct[1024], boundary[MP_BOUNDARY_MAX + 1], err[256];
	struct mp_part parts[MP_PARTS_MAX];
	size_t ctlen, n = 0, maxparts;
	char *body;
	size_t blen;

	if (nl == NULL)
		return 0;
	ctlen = (size_t)(nl - data);
	if (ctlen >= sizeof(ct))
		return 0;
	memcpy(ct, data, ctlen);
	ct[ctlen] = '\0';
	if (mp_boundary(ct, boundary, sizeof(boundary)) != CP_OK)
		return 0;
	if (strlen(boundary) == 0 || strlen(boundary) > MP_BOUNDARY_MAX)
		abort();
	/* an exact-size heap copy, so ASan sees any read past the end */
	blen = len - ctlen - 1;
	if ((body = malloc(blen + 1)) == NULL)
		return 0;
	memcpy(body, nl + 1, blen);
	maxparts = 1 + (blen % MP_PARTS_MAX);
	if (mp_parse(body, blen, boundary, parts, maxparts, &n, err, sizeof(err)) == CP_OK) {
		if (n > maxparts)
			abort();
		for (size_t i = 0; i < n; i++) {
			const char *b;

			if (parts[i].data < body || parts[i].len > blen ||
			    parts[i].data + parts[i].len > body + blen)
				abort();
			if (memchr(parts[i].name, '\0', sizeof(parts[i].name)) == NULL ||
			    memchr(parts[i].filename, '\0', sizeof(parts[i].filename)) == NULL)
				abort();
			b = mp_basename(parts[i].filename);
			if (strchr(b, '/') != NULL || strchr(b, '\\') != NULL)
				abort();
		}
	} else if (memchr(err, '\0', sizeof(err)) == NULL) {
		abort();
	}
	free(body);
	return 0;
}
