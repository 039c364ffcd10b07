/*
 * test_multipart.c - the multipart/form-data parser on good and hostile
 * input (src/mgmt/multipart.c; DESIGN 5 uploads): it must split what is
 * well formed and refuse the rest with a message, never crash.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mgmt.h"

static int
parse(const char *body, size_t len, const char *b, struct mp_part *parts, size_t *n,
    char *err)
{
	return mp_parse(body, len, b, parts, MP_PARTS_MAX, n, err, 128);
}

static void
test_boundary(void **state)
{
	char b[MP_BOUNDARY_MAX + 1];

	(void)state;
	assert_int_equal(mp_boundary("multipart/form-data; boundary=abc123", b, sizeof(b)), CP_OK);
	assert_string_equal(b, "abc123");
	assert_int_equal(mp_boundary("Multipart/Form-Data;boundary=\"x y\"", b, sizeof(b)), CP_OK);
	assert_string_equal(b, "x y");
	assert_int_equal(mp_boundary("multipart/form-data; charset=utf-8; boundary=q", b,
	    sizeof(b)), CP_OK);
	assert_string_equal(b, "q");
	assert_int_equal(mp_boundary("multipart/form-data", b, sizeof(b)), CP_EINVAL);
	assert_int_equal(mp_boundary("multipart/form-data; boundary=", b, sizeof(b)), CP_EINVAL);
	assert_int_equal(mp_boundary("multipart/form-dataX; boundary=a", b, sizeof(b)), CP_EINVAL);
	assert_int_equal(mp_boundary("application/json", b, sizeof(b)), CP_EINVAL);
	assert_int_equal(mp_boundary(NULL, b, sizeof(b)), CP_EINVAL);
	assert_int_equal(mp_boundary("multipart/form-data; boundary=\"unterminated", b,
	    sizeof(b)), CP_EINVAL);
	/* 71 characters: past RFC 2046's 70 */
	{
		char ct[200];

		snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%071d", 7);
		assert_int_equal(mp_boundary(ct, b, sizeof(b)), CP_EINVAL);
		snprintf(ct, sizeof(ct), "multipart/form-data; boundary=%070d", 7);
		assert_int_equal(mp_boundary(ct, b, sizeof(b)), CP_OK);
		assert_int_equal(strlen(b), 70);
	}
	assert_int_equal(mp_boundary("multipart/form-data; boundary=a\x01", b, sizeof(b)),
	    CP_EINVAL);
	/* twice, even the same one, or differently cased: which one is meant? */
	assert_int_equal(mp_boundary("multipart/form-data; boundary=a; boundary=b", b, sizeof(b)),
	    CP_EEXIST);
	assert_int_equal(mp_boundary("multipart/form-data; boundary=a; BOUNDARY=\"a\"", b,
	    sizeof(b)), CP_EEXIST);
}

static void
test_two_parts(void **state)
{
	static const char body[] =
	    "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"note\"\r\n"
	    "\r\n"
	    "hello\r\n"
	    "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"file\"; filename=\"dir/acc1.json\"\r\n"
	    "Content-Type: application/json\r\n"
	    "\r\n"
	    "{\"type\":\"gemini\"}\r\n"
	    "--XyZ--\r\n";
	struct mp_part parts[MP_PARTS_MAX];
	size_t n = 0;
	char err[128];

	(void)state;
	assert_int_equal(parse(body, sizeof(body) - 1, "XyZ", parts, &n, err), CP_OK);
	assert_int_equal(n, 2);
	assert_string_equal(parts[0].name, "note");
	assert_false(parts[0].has_filename);
	assert_int_equal(parts[0].len, 5);
	assert_memory_equal(parts[0].data, "hello", 5);
	assert_string_equal(parts[1].name, "file");
	assert_true(parts[1].has_filename);
	assert_string_equal(parts[1].filename, "dir/acc1.json");
	assert_string_equal(mp_basename(parts[1].filename), "acc1.json");
	assert_int_equal(parts[1].len, strlen("{\"type\":\"gemini\"}"));
}

static void
test_preamble_and_binary(void **state)
{
	static const char body[] =
	    "preamble text\r\n"
	    "--b\r\n"
	    "content-disposition: form-data; name=file; filename=a.json\r\n"
	    "\r\n"
	    "x\r\n--c\0y\r\n"
	    "--b--";
	struct mp_part parts[MP_PARTS_MAX];
	size_t n = 0;
	char err[128];

	(void)state;
	assert_int_equal(parse(body, sizeof(body) - 1, "b", parts, &n, err), CP_OK);
	assert_int_equal(n, 1);
	assert_string_equal(parts[0].filename, "a.json");
	assert_int_equal(parts[0].len, 8); /* "x\r\n--c\0y" keeps its NUL */
	assert_memory_equal(parts[0].data, "x\r\n--c\0y", 8);
}

static void
test_malformed(void **state)
{
	static const char *const bad[] = {
		"",                                     /* empty */
		"no boundary here",
		"--b",                                  /* delimiter, then nothing */
		"--b\r\n",                              /* no headers */
		"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n", /* no blank line */
		"--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ndata", /* no close */
		"--b\r\nX-Other: 1\r\n\r\ndata\r\n--b--", /* no Content-Disposition */
		"--b\r\nContent-Disposition: attachment\r\n\r\ndata\r\n--b--",
		"--b\r\nContent-Disposition: form-data\r\n\r\ndata\r\n--b--", /* no name */
		"--b\r\nbroken header line\r\n\r\ndata\r\n--b--",
		"--b\r\nContent-Disposition: form-data; name=\"f\r\n\r\nx\r\n--b--",
		"--bX\r\n",                             /* junk after delimiter */
		"--b--",                                /* closed with no part */
		"--b\r\nContent-Disposition: form-data; name=\"file\"; name=\"x\"\r\n\r\nd\r\n--b--",
		"--b\r\nContent-Disposition: form-data; name=file; filename=a.json; "
		"filename=b.json\r\n\r\nd\r\n--b--",
	};
	struct mp_part parts[MP_PARTS_MAX];
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = 99;

		err[0] = '\0';
		assert_int_not_equal(parse(bad[i], strlen(bad[i]), "b", parts, &n, err), CP_OK);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(mp_parse("--b--", 5, "", parts, MP_PARTS_MAX, &(size_t){ 0 }, err,
	    sizeof(err)), CP_EINVAL);
	assert_int_equal(mp_parse("--b--", 5, NULL, parts, MP_PARTS_MAX, &(size_t){ 0 }, err,
	    sizeof(err)), CP_EINVAL);
}

static void
test_nul_in_filename(void **state)
{
	static const char body[] =
	    "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.json\0../x\"\r\n"
	    "\r\n{}\r\n--b--";
	struct mp_part parts[MP_PARTS_MAX];
	size_t n = 0;
	char err[128];

	(void)state;
	assert_int_not_equal(parse(body, sizeof(body) - 1, "b", parts, &n, err), CP_OK);
}

static void
test_caps(void **state)
{
	struct mp_part parts[MP_PARTS_MAX];
	char err[128];
	size_t n = 0;
	char *body;
	size_t len;
	int off;

	(void)state;
	/* a header block past MP_HEADER_MAX */
	len = MP_HEADER_MAX * 2 + 200;
	body = malloc(len);
	assert_non_null(body);
	off = snprintf(body, len, "--b\r\nContent-Disposition: form-data; name=\"file\"\r\nX: ");
	memset(body + off, 'a', len - (size_t)off);
	assert_int_equal(parse(body, len, "b", parts, &n, err), CP_ETOOBIG);
	assert_non_null(strstr(err, "too large"));
	free(body);

	/* more parts than MP_PARTS_MAX */
	{
		static const char one[] = "--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n";
		size_t olen = sizeof(one) - 1, total = olen * (MP_PARTS_MAX + 1) + 5;

		body = malloc(total);
		assert_non_null(body);
		for (size_t i = 0; i <= MP_PARTS_MAX; i++)
			memcpy(body + i * olen, one, olen);
		memcpy(body + olen * (MP_PARTS_MAX + 1), "--b--", 5);
		assert_int_equal(parse(body, total, "b", parts, &n, err), CP_ETOOBIG);
		assert_non_null(strstr(err, "too many"));
		/* exactly MP_PARTS_MAX parts are fine */
		memcpy(body + olen * MP_PARTS_MAX, "--b--", 5);
		assert_int_equal(parse(body, olen * MP_PARTS_MAX + 5, "b", parts, &n, err), CP_OK);
		assert_int_equal(n, MP_PARTS_MAX);
		free(body);
	}

	/* a filename longer than MP_PARAM_MAX */
	{
		size_t blen = MP_PARAM_MAX + 200;

		body = malloc(blen + 200);
		assert_non_null(body);
		off = snprintf(body, 200, "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"");
		memset(body + off, 'n', blen);
		off += (int)blen;
		memcpy(body + off, "\"\r\n\r\n{}\r\n--b--", 15);
		off += 15;
		assert_int_equal(parse(body, (size_t)off, "b", parts, &n, err), CP_ETOOBIG);
		free(body);
	}
}

/* Every truncation of a good body is refused or parsed, never a crash
 * (ASan watches the reads). */
static void
test_truncations(void **state)
{
	static const char body[] =
	    "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"file\"; filename=\"a\\\"b.json\"\r\n"
	    "\r\n"
	    "{\"a\":1}\r\n"
	    "--XyZ--\r\n";
	struct mp_part parts[MP_PARTS_MAX];
	char err[128];

	(void)state;
	for (size_t cut = 0; cut < sizeof(body) - 1; cut++) {
		char *copy = malloc(cut + 1);
		size_t n = 0;
		int rc;

		assert_non_null(copy);
		memcpy(copy, body, cut);
		rc = parse(copy, cut, "XyZ", parts, &n, err);
		/* only cuts after the final "--" can succeed */
		if (cut < sizeof(body) - 1 - 2)
			assert_int_not_equal(rc, CP_OK);
		free(copy);
	}
	{
		size_t n = 0;

		assert_int_equal(parse(body, sizeof(body) - 1, "XyZ", parts, &n, err), CP_OK);
		assert_string_equal(parts[0].filename, "a\"b.json");
	}
}

static void
test_basename(void **state)
{
	(void)state;
	assert_string_equal(mp_basename("a.json"), "a.json");
	assert_string_equal(mp_basename("../../etc/x.json"), "x.json");
	assert_string_equal(mp_basename("C:\\Users\\me\\y.json"), "y.json");
	assert_string_equal(mp_basename("dir/"), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boundary),
		cmocka_unit_test(test_two_parts),
		cmocka_unit_test(test_preamble_and_binary),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_nul_in_filename),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_basename),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
