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

static bool
secret_header(const char *name)
{
	static const char *const names[] = {
		"Authorization", "Proxy-Authorization", "X-Api-Key", "X-Goog-Api-Key",
		"Cookie", "X-Management-Key",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i]) == 0)
			return true;
	return false;
}

int
reqlog_render_request(struct evhttp_request *req, const char *body, size_t len,
    struct buf *out)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u != NULL ? evhttp_uri_get_query(u) : NULL;
	struct evkeyval *kv;
	char ts[32], m[64];

	fmt_rfc3339(time(NULL), ts, sizeof(ts));
	buf_printf(out, "=== request %s ===\n%s %s", ts,
	    evhttp_request_get_command(req) == EVHTTP_REQ_POST ? "POST" : "GET",
	    u != NULL && evhttp_uri_get_path(u) != NULL ? evhttp_uri_get_path(u) : "/");
	if (q != NULL) {
		/* Query parameters, with ?key= masked. */
		struct evkeyvalq qs;

		TAILQ_INIT(&qs);
		if (evhttp_parse_query_str(q, &qs) == 0) {
			char sep = '?';

			TAILQ_FOREACH(kv, &qs, next) {
				if (strcmp(kv->key, "key") == 0) {
					reqlog_mask(kv->value, m, sizeof(m));
					buf_printf(out, "%c%s=%s", sep, kv->key, m);
				} else {
					buf_printf(out, "%c%s=%s", sep, kv->key, kv->value);
				}
				sep = '&';
			}
		}
		evhttp_clear_headers(&qs);
	}
	buf_appends(out, "\n");
	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next) {
		if (secret_header(kv->key)) {
			const char *v = kv->value;

			if (strncasecmp(v, "Bearer ", 7) == 0) {
				reqlog_mask(v + 7, m, sizeof(m));
				buf_printf(out, "%s: Bearer %s\n", kv->key, m);
			} else {
				reqlog_mask(v, m, sizeof(m));
				buf_printf(out, "%s: %s\n", kv->key, m);
			}
		} else {
			buf_printf(out, "%s: %s\n", kv->key, kv->value);
		}
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
	/* Group rwx, files group rw, as the umask allows (the packaged unit:
	 * 0007): the management responder, in the daemon's group, lists,
	 * serves and deletes them (GET/DELETE /request-logs). */
	if (mkdir(dir, 0770) != 0 && errno != EEXIST) {
		log_warn("cannot create request-log directory '%s'", dir);
		return;
	}
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	if (snprintf(path, sizeof(path), "%s/%s-%08lu-%ld%s", dir, ts, ++rl_seq,
	    (long)getpid(), REQLOG_SUFFIX) >= (int)sizeof(path))
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0660)) < 0) {
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
