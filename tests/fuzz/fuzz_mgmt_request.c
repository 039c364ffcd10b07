/*
 * fuzz_mgmt_request.c - a whole management request through the real
 * router and handlers (route_dispatch, DESIGN.md 5) without a web server:
 * the mgmt_io callbacks serve the environment and the body from the fuzz
 * input against a config and auth-dir in a private temp dir. The right
 * key is always presented from loopback, so every handler and body
 * decoder is reached.
 *
 * Input: byte 0 picks the method, byte 1 the path, byte 2 the
 * Content-Type; the rest is "QUERY\nBODY".
 * Invariants: never a crash; never a 5xx (the config is valid and the dirs
 * writable); every error body is exactly {"error": "<text>"}; after any
 * 4xx the config file is byte-identical; after anything it still loads.
 */
#include "config.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "mgmt.h"

// needs: src/mgmt/request.c src/mgmt/response.c src/mgmt/router.c src/mgmt/access.c src/mgmt/h_scalar.c src/mgmt/h_list.c src/mgmt/h_authfiles.c src/mgmt/multipart.c src/mgmt/change.c src/mgmt/history.c src/mgmt/audit.c src/mgmt/h_config.c src/mgmt/h_status.c src/mgmt/h_login.c src/mgmt/h_usage.c

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t len);

#define FZ_KEY "fuzz-management-key"

static const char *const methods[] = { "GET", "PUT", "PATCH", "POST", "DELETE", "OPTIONS",
	"HEAD" };
static const char *const paths[] = {
	"/debug", "/proxy-url", "/quota-exceeded/switch-project",
	"/quota-exceeded/switch-preview-model", "/request-log", "/request-retry",
	"/allow-localhost-unauthenticated", "/api-keys", "/generative-language-api-key",
	"/claude-api-key", "/codex-api-key", "/openai-compatibility", "/auth-files",
	"/auth-files/download", "/nothing", "",
	"/config", "/config.yaml", "/config/history", "/config/history/000000000000001-abcdef12/restore",
	"/config/history/x/restore", "/status", "/audit", "/request-logs", "/request-logs/a.log",
	"/request-logs/..", "/endpoints",
};
static const char *const ctypes[] = {
	"application/json", "multipart/form-data; boundary=B", "text/plain", NULL,
	"multipart/form-data; boundary=\"x y\"", "multipart/form-data",
};

static char dir[64], cfgpath[128], authdir[128];
static char *base_cfg;
static size_t base_len;
static struct mgmt_state st;

struct fz_io {
	const char *method, *path, *ctype;
	char query[4096];
	char clen[32];
	const char *body;
	size_t blen, off;
};

static const char *
fz_getenv(void *ctx, const char *name)
{
	struct fz_io *f = ctx;

	if (strcmp(name, "REQUEST_METHOD") == 0)
		return f->method;
	if (strcmp(name, "SCRIPT_NAME") == 0)
		return MGMT_PREFIX;
	if (strcmp(name, "PATH_INFO") == 0)
		return f->path;
	if (strcmp(name, "QUERY_STRING") == 0)
		return f->query;
	if (strcmp(name, "CONTENT_TYPE") == 0)
		return f->ctype;
	if (strcmp(name, "CONTENT_LENGTH") == 0)
		return f->clen;
	if (strcmp(name, "REMOTE_ADDR") == 0)
		return "127.0.0.1";
	if (strcmp(name, "HTTP_AUTHORIZATION") == 0)
		return "Bearer " FZ_KEY;
	if (strcmp(name, "GATEWAY_INTERFACE") == 0)
		return "CGI/1.1";
	return NULL;
}

static long
fz_read(void *ctx, char *buf, size_t len)
{
	struct fz_io *f = ctx;
	size_t n = f->blen - f->off;

	if (n > len)
		n = len;
	memcpy(buf, f->body + f->off, n);
	f->off += n;
	return (long)n;
}

static int
fz_write(void *ctx, const char *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return CP_OK;
}

static void
write_plain(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	if (fp == NULL || fwrite(data, 1, len, fp) != len || fclose(fp) != 0)
		abort();
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* The private temp dir goes when libFuzzer exits (it calls exit()). */
static void
teardown(void)
{
	if (dir[0] != '\0')
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
setup(void)
{
	char hash[PW_HASH_MAX];
	struct buf b;

	snprintf(dir, sizeof(dir), "%s/fuzz-mgmt-XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL)
		abort();
	atexit(teardown);
	snprintf(cfgpath, sizeof(cfgpath), "%s/config.yaml", dir);
	snprintf(authdir, sizeof(authdir), "%s/auth", dir);
	if (mkdir(authdir, 0700) != 0 || pw_hash(FZ_KEY, hash, sizeof(hash)) != CP_OK)
		abort();
	buf_init(&b, 1 << 20);
	if (buf_printf(&b, "# fuzz config\nport: 8317\nremote-management:\n"
	    "  allow-remote: false\n  secret-key: \"%s\"\nauth-dir: \"%s\"\n"
	    "debug: false\nproxy-url: \"\"\nrequest-retry: 3\napi-keys:\n  - \"k1\"\n"
	    "  - \"k2\"\nclaude-api-key:\n  - api-key: \"c1\"\n"
	    "openai-compatibility:\n  - name: \"p\"\n    base-url: \"http://127.0.0.1:1/v1\"\n"
	    "    api-keys: [\"x\"]\n    models:\n      - name: \"m\"\n        alias: \"a\"\n"
	    "future: [1, 2]\n", hash, authdir) != CP_OK)
		abort();
	base_cfg = buf_steal(&b, &base_len);
	memset(&st, 0, sizeof(st));
	st.config_path = cfgpath;
	st.ban_seconds = 60;
	pw_memo_init(&st.memo);
	log_init("fuzz", false, LOG_LVL_ERR);
}

static void
check_error_body(const struct mgmt_resp *rs)
{
	cJSON *j = NULL;

	if (rs->status < 400)
		return;
	if (json_parse_strict(rs->body.p, rs->body.len, &j) != CP_OK)
		abort();
	if (!cJSON_IsObject(j) || cJSON_GetArraySize(j) != 1 ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "error")))
		abort();
	cJSON_Delete(j);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t len)
{
	const struct mgmt_io io = { fz_getenv, fz_read, fz_write, NULL };
	struct mgmt_io myio = io;
	struct fz_io f;
	struct mgmt_req rq;
	struct mgmt_resp rs;
	const unsigned char *nl;
	struct cfg *c = NULL;
	char *after = NULL, err[256];
	size_t alen = 0, qlen;

	if (len < 3)
		return 0;
	if (base_cfg == NULL)
		setup();
	write_plain(cfgpath, base_cfg, base_len);
	memset(&f, 0, sizeof(f));
	f.method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	f.path = paths[data[1] % (sizeof(paths) / sizeof(paths[0]))];
	f.ctype = ctypes[data[2] % (sizeof(ctypes) / sizeof(ctypes[0]))];
	data += 3;
	len -= 3;
	nl = memchr(data, '\n', len);
	qlen = nl != NULL ? (size_t)(nl - data) : 0;
	if (qlen >= sizeof(f.query))
		return 0;
	memcpy(f.query, data, qlen);
	f.query[qlen] = '\0';
	if (strlen(f.query) != qlen)  /* a NUL cannot travel in QUERY_STRING */
		return 0;
	f.body = nl != NULL ? (const char *)nl + 1 : (const char *)data;
	f.blen = nl != NULL ? len - qlen - 1 : len;
	snprintf(f.clen, sizeof(f.clen), "%zu", f.blen);
	myio.ctx = &f;

	req_init(&rq, &myio, &st);
	resp_init(&rs);
	route_dispatch(&rq, &rs);
	if (rs.status < 100 || rs.status >= 500)
		abort();
	check_error_body(&rs);
	if (fio_read_file(cfgpath, CP_CONFIG_MAX, &after, &alen) != CP_OK)
		abort();
	if (rs.status >= 400 && (alen != base_len || memcmp(after, base_cfg, alen) != 0))
		abort();
	if (cfg_parse(after, alen, &c, err, sizeof(err)) != CP_OK)
		abort();
	cfg_free(c);
	free(after);
	resp_release(&rs);
	req_release(&rq);
	return 0;
}
