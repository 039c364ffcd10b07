/*
 * watch.c - hot reload: inotify on the config file's directory and on
 * auth-dir, debounced (schedule), content-hash compared (DESIGN 6 "Reload").
 *
 * Directories, not files, are watched (STYLE.md "Files and events"): an
 * atomic rename replaces the inode and would silently drop a watch on the
 * file. The config directory's events are filtered to the config's name;
 * auth-dir's to *.json that are not dot-files, so our own temps and lock
 * files are invisible. When auth-dir goes away (IN_DELETE_SELF /
 * IN_IGNORED) its parent is watched for its re-creation; when the config
 * names another auth-dir, the watch moves.
 *
 * A config path that is a symlink (DESIGN 6) is watched in two places: the
 * link's directory (the link itself replaced) and the directory of the
 * file it resolves to, where the responder's atomic rename replaces the
 * target (fio_write_atomic writes to the resolved path). The target is
 * resolved again on every reload, so a link pointed elsewhere moves that
 * watch.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxyd.h"

#define WATCH_DIR_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE)
/* The config's directories also report IN_ATTRIB: a chmod that makes the
 * config unreadable (or readable again) changes what a reload finds. */
#define WATCH_CFG_MASK (WATCH_DIR_MASK | IN_ATTRIB)
#define WATCH_PATH_MAX 4096

static struct event_base *w_base;
static int w_fd = -1;                 /* inotify descriptor */
static struct event *w_ev;            /* its read event */
static struct event *w_debounce;      /* the coalescing timer (see schedule) */
static long long w_last_reload_ms;    /* when the last reload started */
static char w_cfg_path[WATCH_PATH_MAX];   /* config file */
static char w_cfg_dir[WATCH_PATH_MAX];    /* its directory */
static char w_cfg_name[NAME_MAX + 1];     /* its name */
static int w_cfg_wd = -1;             /* watch on the config's directory */
static char w_tgt_path[WATCH_PATH_MAX];   /* the config resolved ("" unless a symlink) */
static char w_tgt_dir[WATCH_PATH_MAX];    /* its directory */
static char w_tgt_name[NAME_MAX + 1];     /* its name */
static int w_tgt_wd = -1;             /* watch on the target's directory */
static char w_auth_dir[WATCH_PATH_MAX];   /* auth-dir being watched */
static char w_auth_parent[WATCH_PATH_MAX]; /* its parent */
static char w_auth_name[NAME_MAX + 1];    /* its last component */
static int w_auth_wd = -1;            /* watch on auth-dir */
static int w_parent_wd = -1;          /* watch on its parent (re-creation) */
static char w_bad_sha[65];            /* hash of the last config refused */
static bool w_force;                  /* SIGHUP: rebuild even if unchanged */
/* main's hooks (refresh.c): a changed auth-dir that needs no rebuild (our
 * own token write-backs), and news of every snapshot swapped in */
static bool (*w_same_auth)(const struct snapshot *, const struct authfile *, size_t);
static void (*w_installed)(const struct snapshot *, const struct snapshot *);

void
watch_set_hooks(bool (*same_auth)(const struct snapshot *cur, const struct authfile *auth,
    size_t n), void (*installed)(const struct snapshot *old, const struct snapshot *s))
{
	w_same_auth = same_auth;
	w_installed = installed;
}

static void
split_path(const char *path, char *dir, size_t dl, char *name, size_t nl)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL) {
		snprintf(dir, dl, ".");
		snprintf(name, nl, "%s", path);
	} else if (slash == path) {
		snprintf(dir, dl, "/");
		snprintf(name, nl, "%s", slash + 1);
	} else {
		snprintf(dir, dl, "%.*s", (int)(slash - path), path);
		snprintf(name, nl, "%s", slash + 1);
	}
}

static void
rm_watch(int *wd)
{
	/* Watches on one inode share a wd (auth-dir beside or equal to the
	 * config's directory): never remove the config's. */
	if (*wd >= 0 && w_fd >= 0 && *wd != w_cfg_wd && *wd != w_tgt_wd)
		inotify_rm_watch(w_fd, *wd);
	*wd = -1;
}

/* (Re)point the target watch at where the config path resolves to now. */
static void
watch_target(void)
{
	char *real = realpath(w_cfg_path, NULL);
	struct stat st;

	if (real == NULL || lstat(w_cfg_path, &st) != 0 || !S_ISLNK(st.st_mode) ||
	    strlen(real) >= sizeof(w_tgt_path)) {
		/* Not a symlink (any more), or dangling: the link's own
		 * directory watch sees it come back. */
		free(real);
		return;
	}
	if (strcmp(real, w_tgt_path) == 0 && w_tgt_wd >= 0) {
		free(real);
		return;
	}
	if (w_tgt_wd >= 0 && w_tgt_wd != w_cfg_wd && w_tgt_wd != w_auth_wd &&
	    w_tgt_wd != w_parent_wd)
		inotify_rm_watch(w_fd, w_tgt_wd);
	snprintf(w_tgt_path, sizeof(w_tgt_path), "%s", real);
	free(real);
	split_path(w_tgt_path, w_tgt_dir, sizeof(w_tgt_dir), w_tgt_name, sizeof(w_tgt_name));
	/* IN_MASK_ADD: the directory may carry another of our watches. */
	w_tgt_wd = inotify_add_watch(w_fd, w_tgt_dir, WATCH_CFG_MASK | IN_ONLYDIR | IN_MASK_ADD);
	if (w_tgt_wd < 0)
		log_warn("cannot watch directory '%s' of the config's target", w_tgt_dir);
	else
		log_debug("config '%s' is a symlink: watching '%s' too", w_cfg_path, w_tgt_path);
}

static int
add_auth_watch(void)
{
	/* IN_MASK_ADD: the inode may already carry the config's watch. */
	return inotify_add_watch(w_fd, w_auth_dir, WATCH_DIR_MASK | IN_DELETE_SELF |
	    IN_MOVE_SELF | IN_ONLYDIR | IN_MASK_ADD);
}

/* Point the auth-dir watches at dir (DESIGN 6: a changed auth-dir moves
 * the watch). Adding the watch before the scan means nothing written in
 * between is missed (dnsmasq's order). */
static void
watch_auth(const char *dir, bool force)
{
	char copy[WATCH_PATH_MAX];
	size_t l;

	snprintf(copy, sizeof(copy), "%s", dir);
	l = strlen(copy);
	while (l > 1 && copy[l - 1] == '/')
		copy[--l] = '\0';
	if (!force && strcmp(copy, w_auth_dir) == 0 && (w_auth_wd >= 0 || w_parent_wd >= 0))
		return;
	rm_watch(&w_auth_wd);
	rm_watch(&w_parent_wd);
	snprintf(w_auth_dir, sizeof(w_auth_dir), "%s", copy);
	split_path(w_auth_dir, w_auth_parent, sizeof(w_auth_parent), w_auth_name,
	    sizeof(w_auth_name));
	/* The parent always: it tells us when auth-dir is created, renamed in
	 * or removed. Filtered to auth-dir's name. */
	w_parent_wd = inotify_add_watch(w_fd, w_auth_parent, IN_CREATE | IN_MOVED_TO |
	    IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR | IN_MASK_ADD);
	w_auth_wd = add_auth_watch();
	if (w_auth_wd < 0 && errno != ENOENT && errno != ENOTDIR)
		log_warn("cannot watch auth-dir '%s'", w_auth_dir);
	if (w_auth_wd >= 0)
		log_debug("watching auth-dir '%s'", w_auth_dir);
}

/* What a config path that is not a regular file is (fio_read_file
 * refuses it with CP_EPERM, whose text "not permitted" says nothing). */
static const char *
not_a_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return strerror(errno);
	if (S_ISDIR(st.st_mode))
		return "it is a directory, not a file";
	if (S_ISFIFO(st.st_mode))
		return "it is a FIFO, not a file";
	if (S_ISSOCK(st.st_mode))
		return "it is a socket, not a file";
	return "it is not a regular file";
}

static void
report_bad(bool first, const char *msg, char *err, size_t errlen)
{
	if (first) {
		if (err != NULL)
			snprintf(err, errlen, "%s", msg);
		return;
	}
	log_warnx("%s; keeping the last good config", msg);
	status_ctr.reload_errors++;
	status_set_error(msg);
	status_touch(true);
}

/* Build and install a new snapshot if anything changed. */
static void
reload(bool first, char *err, size_t errlen)
{
	struct snapshot *cur = snapshot_current(), *ns = NULL;
	struct authfile *auth = NULL;
	size_t n_auth = 0, len = 0;
	char *text = NULL;
	char sha[65], auth_sha[65], msg[WATCH_PATH_MAX + 1024], perr[512];
	bool dir_ok = false, force = w_force, disk_bad = false;
	struct cfg *c = NULL;
	int rc;

	w_force = false;
	w_last_reload_ms = cp_mono_ms();
	watch_target();
	rc = fio_read_file(w_cfg_path, CP_CONFIG_MAX, &text, &len);
	if (rc != CP_OK) {
		snprintf(msg, sizeof(msg), "cannot read config '%s': %s", w_cfg_path,
		    rc == CP_EIO ? strerror(errno) : rc == CP_EPERM ? not_a_file(w_cfg_path) :
		    cp_strerror(rc));
		report_bad(first, msg, err, errlen);
		return;
	}
	if (len == 0 && cur != NULL) {
		/* An editor or a shell redirect truncates before it writes:
		 * an empty file is a write in progress, and its close brings
		 * another event. Never serve it in place of the last good, but
		 * say so in the status until then (DESIGN 6: the status says
		 * why); the next good read clears it. */
		snprintf(msg, sizeof(msg), "config '%s' is empty: keeping the last good config",
		    w_cfg_path);
		log_info("%s (being written?)", msg);
		status_set_error(msg);
		status_touch(true);
		free(text);
		return;
	}
	sha256_hex(text, len, sha);
	if (cur != NULL && strcmp(sha, cur->cfg_sha) != 0 && !force &&
	    strcmp(sha, w_bad_sha) == 0)
		disk_bad = true; /* the same broken bytes: reported already */
	if (!disk_bad && (cur == NULL || strcmp(sha, cur->cfg_sha) != 0 || force)) {
		if (cfg_parse(text, len, &c, perr, sizeof(perr)) != CP_OK) {
			snprintf(msg, sizeof(msg), "config '%s': %s", w_cfg_path, perr);
			memcpy(w_bad_sha, sha, sizeof(w_bad_sha));
			free(text);
			report_bad(first, msg, err, errlen);
			return;
		}
	}
	if (c == NULL) {
		/* Config unchanged (or known bad): auth-dir changes still apply
		 * on top of the last good config. */
		free(text);
		if ((text = cp_strndup(cur->cfg_text, cur->cfg_len)) == NULL)
			return;
		len = cur->cfg_len;
		memcpy(sha, cur->cfg_sha, sizeof(sha));
		watch_auth(cur->auth_dir, false);
	} else {
		watch_auth(c->auth_dir, false);
		cfg_free(c);
		c = NULL;
	}
	if ((rc = snapshot_read_auth(w_auth_dir, &auth, &n_auth, auth_sha, &dir_ok)) != CP_OK) {
		snprintf(msg, sizeof(msg), "cannot read auth-dir '%s': %s", w_auth_dir,
		    cp_strerror(rc));
		free(text);
		report_bad(first, msg, err, errlen);
		return;
	}
	if (dir_ok && w_auth_wd < 0)
		w_auth_wd = add_auth_watch(); /* it appeared since */
	if (cur != NULL && !force && strcmp(sha, cur->cfg_sha) == 0 &&
	    (strcmp(auth_sha, cur->auth_sha) == 0 ||
	    (w_same_auth != NULL && w_same_auth(cur, auth, n_auth)))) {
		/* DESIGN 6: content hash compared, nothing to rebuild; nor
		 * for the daemon's own token write-backs (issue 12): the
		 * pool holds those tokens already. */
		log_debug("reload: nothing changed");
		free(text);
		snapshot_auth_free(auth, n_auth);
		if (!disk_bad && status_last_error() != NULL) {
			w_bad_sha[0] = '\0';
			status_set_error(NULL);
			status_touch(true);
		}
		return;
	}
	rc = snapshot_build(&text, len, &auth, n_auth, auth_sha, dir_ok, &ns, perr, sizeof(perr));
	free(text);
	snapshot_auth_free(auth, n_auth);
	if (rc != CP_OK) {
		snprintf(msg, sizeof(msg), "config '%s': %s", w_cfg_path, perr);
		memcpy(w_bad_sha, sha, sizeof(w_bad_sha));
		report_bad(first, msg, err, errlen);
		return;
	}
	log_set_level(ns->cfg->debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	log_info("%s config '%s' (sha256 %.12s, %zu providers, %zu keys, %zu auth files)",
	    first ? "loaded" : "reloaded", w_cfg_path, ns->cfg_sha, ns->n_provs,
	    snapshot_n_creds(ns), ns->n_auth);
	if (cur != NULL)
		snapshot_ref(cur);   /* the hook compares it with ns */
	snapshot_install(ns);
	if (w_installed != NULL)
		w_installed(cur, ns);
	if (cur != NULL)
		snapshot_unref(cur);
	if (!first)
		status_ctr.reloads++;
	if (!disk_bad) {
		w_bad_sha[0] = '\0';
		status_set_error(NULL);
	}
	status_touch(true);
}

static void
debounce_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	reload(false, NULL, 0);
}

/*
 * The debounce (DESIGN 6, about 20 ms). An event that says a file is
 * complete (renamed into place, closed after writing, deleted) reloads at
 * once when the last reload is PXD_DEBOUNCE_MS old: the responder's
 * atomic rename is picked up in a millisecond, not after a fixed wait.
 * Anything else (a file created but maybe not yet written, renamed away,
 * a lost-events overflow, auth-dir itself moving), and every event within
 * PXD_DEBOUNCE_MS of a reload, arms one timer that is not pushed back by
 * later events: a burst costs a reload per PXD_DEBOUNCE_MS at most, and
 * a file that changes without pause is still reloaded every 20 ms.
 */
static void
schedule(bool complete)
{
	long long since;
	struct timeval tv;

	if (evtimer_pending(w_debounce, NULL))
		return; /* a reload is due: it will read the latest bytes */
	since = cp_mono_ms() - w_last_reload_ms;
	if (complete && since >= PXD_DEBOUNCE_MS) {
		reload(false, NULL, 0);
		return;
	}
	if (complete && since >= 0)
		since = PXD_DEBOUNCE_MS - since;
	else
		since = PXD_DEBOUNCE_MS;
	tv.tv_sec = 0;
	tv.tv_usec = (suseconds_t)(since * 1000);
	evtimer_add(w_debounce, &tv);
}

static bool
auth_name_relevant(const char *name)
{
	/* DESIGN 6: *.json, not dot-files (our temps and .lock). */
	return name[0] != '.' && str_has_suffix_ci(name, ".json");
}

static void
inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	char b[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false, complete = true;
	ssize_t n;

	(void)what;
	(void)arg;
	for (;;) {
		char *p;

		n = read(fd, b, sizeof(b));
		if (n <= 0)
			break;
		for (p = b; p < b + n;) {
			struct inotify_event *ev = (struct inotify_event *)(void *)p;
			const char *name = ev->len > 0 ? ev->name : "";
			bool rel = false;

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				hit = true; /* events lost: look at everything */
				complete = false;
				continue;
			}
			if (ev->wd == w_auth_wd) {
				if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
					/* auth-dir went away: the parent watch
					 * reports its re-creation. */
					if (ev->mask & IN_IGNORED)
						w_auth_wd = -1;
					rel = true;
				} else if (auth_name_relevant(name)) {
					rel = true;
				}
			}
			if (ev->wd == w_parent_wd && strcmp(name, w_auth_name) == 0) {
				if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
					rm_watch(&w_auth_wd);
					w_auth_wd = add_auth_watch();
				}
				rel = true;
			}
			if (ev->wd == w_cfg_wd && strcmp(name, w_cfg_name) == 0)
				rel = true;
			if (ev->wd == w_tgt_wd && w_tgt_path[0] != '\0' &&
			    strcmp(name, w_tgt_name) == 0)
				rel = true;
			if (!rel)
				continue;
			hit = true;
			/* anything but a finished file waits for the timer */
			if (!(ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE)) ||
			    ev->wd == w_parent_wd)
				complete = false;
		}
	}
	if (hit)
		schedule(complete);
}

int
watch_start(struct event_base *base, const struct watch_opts *o, char *err, size_t errlen)
{
	w_base = base;
	if (strlen(o->config_path) >= sizeof(w_cfg_path)) {
		snprintf(err, errlen, "config path too long");
		return CP_EINVAL;
	}
	snprintf(w_cfg_path, sizeof(w_cfg_path), "%s", o->config_path);
	split_path(w_cfg_path, w_cfg_dir, sizeof(w_cfg_dir), w_cfg_name, sizeof(w_cfg_name));
	if ((w_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		snprintf(err, errlen, "inotify_init1: %s", strerror(errno));
		return CP_EIO;
	}
	/* Watch first, then load: a write in between is not missed. */
	w_cfg_wd = inotify_add_watch(w_fd, w_cfg_dir, WATCH_CFG_MASK | IN_ONLYDIR);
	if (w_cfg_wd < 0)
		log_warn("cannot watch config directory '%s'", w_cfg_dir);
	if ((w_ev = event_new(base, w_fd, EV_READ | EV_PERSIST, inotify_cb, NULL)) == NULL ||
	    event_add(w_ev, NULL) != 0 ||
	    (w_debounce = evtimer_new(base, debounce_cb, NULL)) == NULL) {
		snprintf(err, errlen, "cannot set up the watcher");
		return CP_ENOMEM;
	}
	err[0] = '\0';
	reload(true, err, errlen);
	if (snapshot_current() == NULL)
		return CP_EINVAL;
	return CP_OK;
}

void
watch_force_reload(void)
{
	w_force = true;
	reload(false, NULL, 0);
}

void
watch_stop(void)
{
	if (w_ev != NULL)
		event_free(w_ev);
	w_ev = NULL;
	if (w_debounce != NULL)
		event_free(w_debounce);
	w_debounce = NULL;
	if (w_fd >= 0)
		close(w_fd);
	w_fd = -1;
}
