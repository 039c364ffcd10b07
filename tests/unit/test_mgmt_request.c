/*
 * test_mgmt_request.c - request parsing of cliproxy-mgmt (src/mgmt/request.c)
 * and response framing (src/mgmt/response.c): routed path from the server
 * variables, query decoding, strict indexes, body reading with the 1 MiB
 * cap (DESIGN 5), the cp_err -> HTTP table.
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

/* A fake request: a few variables, a body, an output buffer. */
struct fake {
	const char *env[16];       /* "NAME=value" */
	const char *body;          /* stdin */
	size_t body_len;           /* its length */
	size_t pos;                /* read position */
	size_t chunk;              /* max bytes per read (0 = any) */
	struct buf out;            /* what was written */
};

static const char *
fake_getenv(void *ctx, const char *name)
{
	struct fake *f = ctx;
	size_t n = strlen(name);

	for (size_t i = 0; f->env[i] != NULL; i++)
		if (strncmp(f->env[i], name, n) == 0 && f->env[i][n] == '=')
			return f->env[i] + n + 1;
	return NULL;
}

static long
fake_read(void *ctx, char *buf, size_t len)
{
	struct fake *f = ctx;
	size_t left = f->body_len - f->pos;

	if (f->chunk != 0 && len > f->chunk)
		len = f->chunk;
	if (len > left)
		len = left;
	memcpy(buf, f->body + f->pos, len);
	f->pos += len;
	return (long)len;
}

static int
fake_write(void *ctx, const char *buf, size_t len)
{
	struct fake *f = ctx;

	return buf_append(&f->out, buf, len);
}

static void
route_of(const char *const *env, const char *want)
{
	struct fake f = { .body = "" };
	struct mgmt_io io = { fake_getenv, fake_read, fake_write, &f };
	struct mgmt_req rq;

	for (size_t i = 0; env[i] != NULL; i++)
		f.env[i] = env[i];
	req_init(&rq, &io, NULL);
	if (want == NULL) {
		assert_false(rq.path_ok);
	} else {
		assert_true(rq.path_ok);
		assert_string_equal(rq.path, want);
	}
	req_release(&rq);
}

static void
test_paths(void **state)
{
	(void)state;
	route_of((const char *[]){ "SCRIPT_NAME=/v0/management", "PATH_INFO=/api-keys", NULL },
	    "/api-keys");
	route_of((const char *[]){ "SCRIPT_NAME=/v0/management/debug", NULL }, "/debug");
	route_of((const char *[]){ "SCRIPT_NAME=/x/v0/management", "PATH_INFO=/a/b", NULL },
	    "/a/b");
	route_of((const char *[]){ "SCRIPT_NAME=/cgi-bin/m", "PATH_INFO=/debug", NULL },
	    "/debug");
	route_of((const char *[]){ "REQUEST_URI=/v0/management/debug?a=b", NULL }, "/debug");
	route_of((const char *[]){ "SCRIPT_NAME=/v0/managementx", "PATH_INFO=/debug", NULL },
	    "/debug");
	route_of((const char *[]){ "SCRIPT_NAME=/v0/management", NULL }, "");
	route_of((const char *[]){ NULL }, "");
}

static void
test_pct_decode(void **state)
{
	char out[16];
	size_t n;

	(void)state;
	assert_int_equal(req_pct_decode("a%20b+c", 7, out, sizeof(out), &n), CP_OK);
	assert_string_equal(out, "a b c");
	assert_int_equal(req_pct_decode("%2e%2E%2f", 9, out, sizeof(out), &n), CP_OK);
	assert_string_equal(out, "../");
	assert_int_equal(req_pct_decode("a%00b", 5, out, sizeof(out), &n), CP_OK);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "a\0b", 3);
	assert_int_equal(req_pct_decode("%", 1, out, sizeof(out), &n), CP_EINVAL);
	assert_int_equal(req_pct_decode("%4", 2, out, sizeof(out), &n), CP_EINVAL);
	assert_int_equal(req_pct_decode("%zz", 3, out, sizeof(out), &n), CP_EINVAL);
	assert_int_equal(req_pct_decode("0123456789abcdef", 16, out, sizeof(out), &n),
	    CP_ETOOBIG);
	assert_int_equal(req_pct_decode("0123456789abcde", 15, out, sizeof(out), &n), CP_OK);
	assert_int_equal(req_pct_decode("", 0, out, sizeof(out), &n), CP_OK);
	assert_int_equal(n, 0);
}

static void
test_query(void **state)
{
	struct mgmt_req rq;
	char out[64];
	size_t n;

	(void)state;
	memset(&rq, 0, sizeof(rq));
	rq.query = "a=1&name=x%2Fy.json&flag&value=&n%61me2=z";
	assert_int_equal(req_query(&rq, "a", out, sizeof(out), &n), CP_OK);
	assert_string_equal(out, "1");
	assert_int_equal(req_query(&rq, "name", out, sizeof(out), &n), CP_OK);
	assert_string_equal(out, "x/y.json");
	assert_int_equal(req_query(&rq, "flag", out, sizeof(out), &n), CP_OK);
	assert_int_equal(n, 0);
	assert_int_equal(req_query(&rq, "value", out, sizeof(out), &n), CP_OK);
	assert_int_equal(n, 0);
	assert_int_equal(req_query(&rq, "name2", out, sizeof(out), &n), CP_OK);
	assert_string_equal(out, "z");
	assert_int_equal(req_query(&rq, "nam", out, sizeof(out), &n), CP_ENOTFOUND);
	assert_int_equal(req_query(&rq, "index", out, sizeof(out), &n), CP_ENOTFOUND);
	rq.query = "name=%ZZ";
	assert_int_equal(req_query(&rq, "name", out, sizeof(out), &n), CP_EINVAL);
	rq.query = "";
	assert_int_equal(req_query(&rq, "name", out, sizeof(out), &n), CP_ENOTFOUND);
}

static void
test_query_problem(void **state)
{
	static const char *const fine[] = { "", "name=a.json", "index=0", "a=1&b=2&c",
		"a&&b", "=x&=y", "name=a&name2=b", "value=a&value%3D=b" };
	static const char *const repeated[] = { "index=0&index=1", "name=a&name=a",
		"all=true&all", "n%61me=x&name=y", "a=1&b=2&a=3" };
	struct mgmt_req rq;
	char many[MGMT_QPARAMS_MAX * 8 + 16], *big;
	size_t o = 0;

	(void)state;
	memset(&rq, 0, sizeof(rq));
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		rq.query = fine[i];
		assert_null(req_query_problem(&rq));
	}
	for (size_t i = 0; i < sizeof(repeated) / sizeof(repeated[0]); i++) {
		rq.query = repeated[i];
		assert_string_equal(req_query_problem(&rq), "repeated query parameter");
	}
	for (int i = 0; i < MGMT_QPARAMS_MAX; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "%sp%d=1", i ? "&" : "", i);
	rq.query = many;
	assert_null(req_query_problem(&rq));
	snprintf(many + o, sizeof(many) - o, "&extra=1");
	assert_string_equal(req_query_problem(&rq), "too many query parameters");
	big = malloc(MGMT_QUERY_MAX + 2);
	assert_non_null(big);
	memset(big, 'a', MGMT_QUERY_MAX + 1);
	big[MGMT_QUERY_MAX + 1] = '\0';
	rq.query = big;
	assert_string_equal(req_query_problem(&rq), "query string too long");
	free(big);
}

static void
test_index(void **state)
{
	static const char *const bad[] = { "", "01", "-1", "+1", "1 ", " 1", "1.5", "1e2",
		"0x1", "abc", "1234567890123456789", "１" };
	long long v;

	(void)state;
	assert_int_equal(req_parse_index("0", 1, &v), CP_OK);
	assert_int_equal(v, 0);
	assert_int_equal(req_parse_index("42", 2, &v), CP_OK);
	assert_int_equal(v, 42);
	assert_int_equal(req_parse_index("123456789012345678", 18, &v), CP_OK);
	assert_int_equal(req_parse_index("1\0", 2, &v), CP_EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(req_parse_index(bad[i], strlen(bad[i]), &v), CP_EINVAL);
}

static int
read_body(const char *cl, const char *body, size_t len, size_t chunk, size_t *got)
{
	struct fake f = { .body = body, .body_len = len, .chunk = chunk };
	struct mgmt_io io = { fake_getenv, fake_read, fake_write, &f };
	struct mgmt_req rq;
	char clbuf[64];
	int rc;

	f.env[0] = "REQUEST_METHOD=PUT";
	if (cl != NULL) {
		snprintf(clbuf, sizeof(clbuf), "CONTENT_LENGTH=%s", cl);
		f.env[1] = clbuf;
	}
	req_init(&rq, &io, NULL);
	rc = req_read_body(&rq);
	if (rc == CP_OK) {
		assert_non_null(rq.body);
		assert_int_equal(rq.body[rq.body_len], '\0');
		assert_memory_equal(rq.body, body, rq.body_len);
	}
	*got = rq.body_len;
	req_release(&rq);
	return rc;
}

static void
test_body(void **state)
{
	char *big = malloc(CP_BODY_MAX + 2);
	char cl[32];
	size_t got;

	(void)state;
	assert_non_null(big);
	memset(big, 'x', CP_BODY_MAX + 2);
	assert_int_equal(read_body("3", "abc", 3, 0, &got), CP_OK);
	assert_int_equal(got, 3);
	assert_int_equal(read_body("2", "abc", 3, 0, &got), CP_OK);
	assert_int_equal(got, 2);
	assert_int_equal(read_body("4", "abc", 3, 0, &got), CP_EINVAL);
	assert_int_equal(read_body("", "abc", 3, 1, &got), CP_OK);
	assert_int_equal(got, 3);
	assert_int_equal(read_body(NULL, "", 0, 0, &got), CP_OK);
	assert_int_equal(got, 0);
	for (size_t i = 0; i < 5; i++) {
		static const char *const badcl[] = { "x", "-1", "+3", " 3", "3 " };

		assert_int_equal(read_body(badcl[i], "abc", 3, 0, &got), CP_EINVAL);
	}
	snprintf(cl, sizeof(cl), "%u", CP_BODY_MAX);
	assert_int_equal(read_body(cl, big, CP_BODY_MAX, 7, &got), CP_OK);
	assert_int_equal(got, CP_BODY_MAX);
	snprintf(cl, sizeof(cl), "%u", CP_BODY_MAX + 1);
	assert_int_equal(read_body(cl, big, CP_BODY_MAX + 1, 0, &got), CP_ETOOBIG);
	assert_int_equal(read_body(NULL, big, CP_BODY_MAX, 4096, &got), CP_OK);
	assert_int_equal(got, CP_BODY_MAX);
	assert_int_equal(read_body(NULL, big, CP_BODY_MAX + 1, 4096, &got), CP_ETOOBIG);
	free(big);
}

static void
test_status_table(void **state)
{
	(void)state;
	assert_int_equal(resp_status_of(CP_OK), 200);
	assert_int_equal(resp_status_of(CP_EINVAL), 400);
	assert_int_equal(resp_status_of(CP_ETYPE), 400);
	assert_int_equal(resp_status_of(CP_EPARSE), 400);
	assert_int_equal(resp_status_of(CP_ENOTFOUND), 404);
	assert_int_equal(resp_status_of(CP_EPERM), 403);
	assert_int_equal(resp_status_of(CP_ETOOBIG), 413);
	assert_int_equal(resp_status_of(CP_EBUSY), 503);
	assert_int_equal(resp_status_of(CP_EIO), 500);
	assert_int_equal(resp_status_of(CP_ENOMEM), 500);
	assert_int_equal(resp_status_of(-1), 500);
	assert_int_equal(resp_status_of(999), 500);
}

static void
test_send(void **state)
{
	struct fake f = { .body = "" };
	struct mgmt_io io = { fake_getenv, fake_read, fake_write, &f };
	struct mgmt_resp rs;

	(void)state;
	buf_init(&f.out, 1 << 20);
	resp_init(&rs);
	resp_cp_error(&rs, CP_ENOTFOUND, "item \"x\" not found");
	resp_header(&rs, "X-Bad", "a\r\nInjected: 1");
	resp_header(&rs, "Allow", "GET, PUT");
	assert_int_equal(resp_send(&rs, &io), CP_OK);
	assert_non_null(strstr(f.out.p, "Status: 404 Not Found\r\n"));
	assert_non_null(strstr(f.out.p, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(f.out.p, "Access-Control-Allow-Origin: *\r\n"));
	assert_non_null(strstr(f.out.p, "Allow: GET, PUT\r\n"));
	assert_null(strstr(f.out.p, "Injected"));
	assert_non_null(strstr(f.out.p, "\r\n\r\n{\"error\":\"item \\\"x\\\" not found\"}"));
	resp_release(&rs);
	buf_release(&f.out);

	buf_init(&f.out, 1 << 20);
	resp_init(&rs);
	rs.status = 204;
	assert_int_equal(resp_send(&rs, &io), CP_OK);
	assert_non_null(strstr(f.out.p, "Status: 204 No Content\r\n"));
	assert_int_equal(strcmp(f.out.p + f.out.len - 4, "\r\n\r\n"), 0);
	resp_release(&rs);
	buf_release(&f.out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_pct_decode),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_query_problem),
		cmocka_unit_test(test_index),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_status_table),
		cmocka_unit_test(test_send),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
