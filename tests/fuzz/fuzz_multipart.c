/*
 * fuzz_multipart.c - the upload parser of the management API
 * (src/mgmt/multipart.c, DESIGN 5): the first line of the input is a
 * Content-Type header value, the rest the body. Never crashes, never reads
 * outside the body, and every part it returns lies inside the body.
 */
// needs: src/mgmt/multipart.c
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mgmt.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	static struct mp_part parts[MP_PARTS_MAX];
	const unsigned char *nl = memchr(data, '\n', len);
	char boundary[MP_BOUNDARY_MAX + 1];
	char ct[512], err[128];
	size_t ctlen, blen, n = 0;
	char *body;

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
	/* an exact-size copy so ASan sees any read past the body */
	blen = len - ctlen - 1;
	body = malloc(blen ? blen : 1);
	if (body == NULL)
		return 0;
	memcpy(body, nl + 1, blen);
	if (mp_parse(body, blen, boundary, parts, MP_PARTS_MAX, &n, err, sizeof(err)) == CP_OK) {
		if (n == 0 || n > MP_PARTS_MAX)
			abort();
		for (size_t i = 0; i < n; i++) {
			if (parts[i].data < body || parts[i].data + parts[i].len > body + blen)
				abort();
			if (memchr(parts[i].name, '\0', sizeof(parts[i].name)) == NULL)
				abort();
			(void)mp_basename(parts[i].filename);
		}
	} else if (err[0] == '\0') {
		abort();  /* every refusal says why */
	}
	free(body);
	return 0;
}
