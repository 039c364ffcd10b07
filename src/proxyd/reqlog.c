/*
 * reqlog.c - request-log: one file per proxied exchange in a bounded
 * directory (request-log-dir, default <state-dir>/requests; at most
 * PXD_REQLOG_FILES files and PXD_REQLOG_BYTES bytes, oldest removed
 * first). Secrets are masked before anything reaches the disk (DESIGN 5:
 * no secret is ever written to a log).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/http.h>
#include <sys/queue.h>

#include <event2/keyvalq_struct.h>

#include "proxyd.h"

#define REQLOG_PATH_MAX 4096
#define REQLOG_SUFFIX ".log"

static char rl_default[REQLOG_PATH_MAX];  /* <state-dir>/requests */
static unsigned long rl_seq;              /* per-process sequence */

void
reqlog_set_state_dir(const char *state_dir)
{
	if (state_dir != NULL)
		snprintf(rl_default, sizeof(rl_default), "%s/requests", state_dir);
}

void
reqlog_mask(const char *secret, char *out, size_t outlen)
{
	size_t l = strlen(secret);

	/* Enough to tell two keys apart in a log, too little to use. */
	if (l >= 16)
		snprintf(out, outlen, "%.3s...%s", secret, secret + l - 2);
	else
		snprintf(out, outlen, "***");
}

/* Log text is escaped, never decoded: a byte outside printable ASCII
 * (a CR or LF a client smuggled in as %0A, a NUL, an escape sequence)
 * is written as %XX, so no value can forge a line. */
static void
rl_escape(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[3];

		if (c >= 0x20 && c < 0x7f) {
			buf_append(out, s + i, 1);
			continue;
		}
		e[0] = '%';
		e[1] = hex[c >> 4];
		e[2] = hex[c & 15];
		buf_append(out, e, 3);
	}
}

static void
rl_escapes(struct buf *out, const char *s)
{
	rl_escape(out, s, strlen(s));
}

/* The masked form of a secret, escaped. */
static void
rl_masked(struct buf *out, const char *secret)
{
	char m[64];

	reqlog_mask(secret, m, sizeof(m));
	rl_escapes(out, m);
}

/* The raw query (as the client sent it, not decoded) with the value of
 * every credential parameter (clientauth.c's rule: the one the key lookup
 * uses) masked. */
static void
rl_query(struct buf *out, const char *q)
{
	const char *p = q;

	buf_appends(out, "?");
	while (p != NULL && *p != '\0') {
		const char *amp = strchr(p, '&');
		size_t seg = amp != NULL ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', seg);
		size_t nlen = eq != NULL ? (size_t)(eq - p) : seg;

		rl_escape(out, p, nlen);
		if (eq != NULL) {
			buf_appends(out, "=");
			if (ca_secret_param(p, nlen)) {
				char *v = strndup(eq + 1, seg - nlen - 1), *d = NULL;
				size_t dl = 0;

				if (v != NULL && (d = evhttp_uridecode(v, 1, &dl)) != NULL) {
					rl_masked(out, d);
					cp_wipe(d, dl);
				} else {
					buf_appends(out, "***");
				}
				if (v != NULL)
					cp_wipe(v, strlen(v));
				free(d);
				free(v);
			} else {
				rl_escape(out, eq + 1, seg - nlen - 1);
			}
		}
		if (amp != NULL)
			buf_appends(out, "&");
		p = amp != NULL ? amp + 1 : NULL;
	}
}

int
reqlog_render_request(struct evhttp_request *req, const char *body, size_t len,
    struct buf *out)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u != NULL ? evhttp_uri_get_query(u) : NULL;
	struct evkeyval *kv;
	char ts[32];

	fmt_rfc3339(time(NULL), ts, sizeof(ts));
	buf_printf(out, "=== request %s ===\n%s ", ts,
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "GET");
	rl_escapes(out, u != NULL && evhttp_uri_get_path(u) != NULL ? evhttp_uri_get_path(u) : "/");
	if (q != NULL)
		rl_query(out, q);
	buf_appends(out, "\n");
	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next) {
		rl_escapes(out, kv->key);
		buf_appends(out, ": ");
		if (ca_secret_header(kv->key)) {
			const char *v = kv->value;

			if (strncasecmp(v, "Bearer ", 7) == 0) {
				buf_appends(out, "Bearer ");
				v += 7;
			}
			rl_masked(out, v);
		} else {
			rl_escapes(out, kv->value);
		}
		buf_appends(out, "\n");
	}
	buf_appends(out, "\n");
	return buf_append(out, body, len > PXD_REQLOG_BODY_MAX ? PXD_REQLOG_BODY_MAX : len);
}

struct rl_file {
	char name[NAME_MAX + 1];
	off_t size;
};

static int
rl_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rl_file *)a)->name, ((const struct rl_file *)b)->name);
}

/* Keep the directory within its bounds: oldest (smallest name: the names
 * start with a UTC timestamp) removed first. */
static void
rl_prune(const char *dir)
{
	struct rl_file *v = NULL;
	size_t n = 0, cap = 0, i;
	unsigned long long total = 0;
	struct dirent *de;
	DIR *d;
	int dfd;

	if ((d = opendir(dir)) == NULL)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.' || !str_has_suffix_ci(de->d_name, REQLOG_SUFFIX))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct rl_file *t = realloc(v, ncap * sizeof(*t));

			if (t == NULL)
				goto out;
			v = t;
			cap = ncap;
		}
		snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
		v[n].size = st.st_size;
		total += (unsigned long long)st.st_size;
		n++;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), rl_cmp);
	for (i = 0; i < n && (n - i > PXD_REQLOG_FILES || total > PXD_REQLOG_BYTES); i++) {
		if (unlinkat(dfd, v[i].name, 0) == 0)
			total -= (unsigned long long)v[i].size;
	}
out:
	free(v);
	closedir(d);
}

void
reqlog_write(const struct snapshot *s, const char *text, size_t len)
{
	const char *dir = s->cfg->request_log_dir[0] != '\0' ? s->cfg->request_log_dir :
	    rl_default;
	char path[REQLOG_PATH_MAX], ts[32];
	struct tm tm;
	time_t now = time(NULL);
	ssize_t w;
	size_t off = 0;
	int fd;

	if (dir[0] == '\0')
		return;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		log_warn("cannot create request-log directory '%s'", dir);
		return;
	}
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	if (snprintf(path, sizeof(path), "%s/%s-%08lu-%ld%s", dir, ts, ++rl_seq,
	    (long)getpid(), REQLOG_SUFFIX) >= (int)sizeof(path))
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		log_warn("cannot write request log '%s'", path);
		return;
	}
	while (off < len) {
		w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			log_warn("cannot write request log '%s'", path);
			break;
		}
		off += (size_t)w;
	}
	close(fd);
	rl_prune(dir);
}
