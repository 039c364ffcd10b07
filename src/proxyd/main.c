/*
 * main.c - cliproxyd: options, start-up, signals, the one event loop
 * (DESIGN 1, 6). Only this file may exit, and only at start-up.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proxyd.h"

#define DEFAULT_STATE_DIR LOCALSTATEDIR "/lib/cliproxy" /* for usage() */

static struct event_base *base;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: cliproxyd [-f] [-c config] [--listen ADDR:PORT|PATH] [--state-dir DIR]\n"
	    "                 [--log syslog|stderr]\n"
	    "  -c, --config PATH   config file (else $CLIPROXY_CONFIG, else %s/cliproxy/config.yaml)\n"
	    "  --listen SPEC       ADDR:PORT, [V6]:PORT or a unix socket path (else host:port\n"
	    "                      of the config)\n"
	    "  -f, --foreground    stay in the foreground (the default)\n"
	    "  --state-dir DIR     where cliproxyd.status and requests/ go (default: the\n"
	    "                      config's state-dir, else %s for the packaged\n"
	    "                      config, else state/ beside the config)\n"
	    "  --log WHERE         syslog or stderr (default stderr)\n",
	    SYSCONFDIR, DEFAULT_STATE_DIR);
}

static void
sig_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (sig == SIGHUP) {
		log_info("SIGHUP: reloading");
		watch_force_reload();
		return;
	}
	log_info("signal %d: stopping", (int)sig);
	server_stop_accepting();
}

/* The state dir: --state-dir, else the config's state-dir by the rule
 * the responder uses too (cfg_state_dir, DESIGN 3), read once at start:
 * a later change of state-dir takes effect on restart. */
static char *
pick_state_dir(const char *opt, const char *config_path)
{
	struct cfg *c = NULL;
	char err[256];
	char *dir;

	if (opt != NULL)
		return cp_strdup(opt);
	if (cfg_load(config_path, &c, err, sizeof(err)) != CP_OK)
		c = NULL;  /* watch_start reports the bad config */
	dir = cfg_state_dir(c, config_path);
	cfg_free(c);
	return dir;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'L' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "log", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *listen = NULL, *state_opt = NULL;
	struct event *sig_term = NULL, *sig_int = NULL, *sig_hup = NULL;
	struct event_config *ecfg = NULL;
	struct server_opts so;
	struct watch_opts wo;
	bool to_syslog = false;
	char *state_dir = NULL, err[600];
	int ch, ret = 1;

	while ((ch = getopt_long(argc, argv, "c:fh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'L':
			listen = optarg;
			break;
		case 'f':
			break; /* foreground is the only mode (systemd, tests) */
		case 'S':
			state_opt = optarg;
			break;
		case 'l':
			if (strcmp(optarg, "syslog") == 0)
				to_syslog = true;
			else if (strcmp(optarg, "stderr") == 0)
				to_syslog = false;
			else {
				usage(stderr);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init("cliproxyd", to_syslog, LOG_LVL_INFO);
	/* -c, else $CLIPROXY_CONFIG, else the packaged path (DESIGN 3). */
	if (config == NULL)
		config = cfg_default_path();
	signal(SIGPIPE, SIG_IGN);
	if ((state_dir = pick_state_dir(state_opt, config)) == NULL)
		goto out;
	if (mkdir(state_dir, 0770) != 0 && errno != EEXIST) {
		log_err("cannot create state directory '%s'", state_dir);
		goto out;
	}
	reqlog_set_state_dir(state_dir);
	/* No EVENT_BASE_FLAG_PRECISE_TIMER: it costs a timerfd_settime per
	 * loop turn (bench figure 5), and the reload debounce is "about
	 * 20 ms" (DESIGN 6), which CLOCK_MONOTONIC_COARSE ticks keep.
	 * The epoll changelist folds the interest changes one turn makes on
	 * a socket into one epoll_ctl (evhttp stops reading, the client-EOF
	 * watch starts: no call at all). libevent's one caveat, dup()ed
	 * descriptors, does not apply: nothing here dups a socket. */
	if ((ecfg = event_config_new()) == NULL ||
	    event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST) != 0 ||
	    (base = event_base_new_with_config(ecfg)) == NULL) {
		log_errx("cannot create the event loop");
		goto out;
	}
	if (status_init(base, state_dir) != CP_OK || up_init(base) != CP_OK) {
		log_errx("cannot initialise");
		goto out;
	}
	/* OAuth refresh (issue 12): workers before the first load, which
	 * already installs its hooks' snapshot */
	if (refresh_init(base, status_touch_later) != CP_OK) {
		log_errx("cannot start the token refresh workers");
		goto out;
	}
	watch_set_hooks(refresh_same_auth, refresh_installed);
	wo.config_path = config;
	/* The daemon refuses to start only when there is no good config. */
	if (watch_start(base, &wo, err, sizeof(err)) != CP_OK) {
		log_errx("no usable config: %s", err);
		goto out;
	}
	so.listen = listen;
	if (server_start(base, &so) != CP_OK) {
		log_errx("cannot listen");
		goto out;
	}
	status_set_listen(server_listen_desc());
	if ((sig_term = evsignal_new(base, SIGTERM, sig_cb, NULL)) == NULL ||
	    (sig_int = evsignal_new(base, SIGINT, sig_cb, NULL)) == NULL ||
	    (sig_hup = evsignal_new(base, SIGHUP, sig_cb, NULL)) == NULL ||
	    evsignal_add(sig_term, NULL) != 0 || evsignal_add(sig_int, NULL) != 0 ||
	    evsignal_add(sig_hup, NULL) != 0) {
		log_errx("cannot install signal handlers");
		goto out;
	}
	status_touch(true);
	event_base_dispatch(base);
	log_info("stopped");
	ret = 0;
out:
	server_free();
	/* never waits long on a hung token endpoint (REFRESH_STOP_GRACE_MS) */
	refresh_shutdown();
	watch_stop();
	if (sig_term != NULL)
		event_free(sig_term);
	if (sig_int != NULL)
		event_free(sig_int);
	if (sig_hup != NULL)
		event_free(sig_hup);
	status_touch(true);
	status_shutdown();
	up_shutdown();
	snapshot_install(NULL);
	pool_free_all();
	if (base != NULL)
		event_base_free(base);
	if (ecfg != NULL)
		event_config_free(ecfg);
	free(state_dir);
	return ret;
}
