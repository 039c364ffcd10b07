/*
 * login.c - `cliproxyctl login KIND` (PROVIDERS.md 4): PKCE with a
 * loopback listener on the provider's registered redirect port (or
 * --no-browser: print the URL, read the pasted redirect URL from stdin),
 * the device flow for qwen, Gemini's project discovery; the auth file is
 * written with DESIGN 4's atomic write and name rule. Every URL comes from
 * the config's endpoints: (defaults: the real services). Nothing secret is
 * printed: the authorize URL carries only public values.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define LOGIN_TIMEOUT_S 300        /* default wait for the browser / device */
#define LOGIN_REQ_MAX 8192         /* request head bytes the listener reads */
#define LOGIN_READ_TIMEOUT_S 5     /* one browser connection */
#define LOGIN_ONBOARD_POLL_MS 5000 /* PROVIDERS 3: onboardUser every 5 s */
#define LOGIN_SLOWDOWN_MAX_S 10    /* PROVIDERS 4: slow_down x1.5 up to 10 s */

struct login_opts {
	const char *config;        /* -c */
	bool no_browser;           /* --no-browser */
	int callback_port;         /* --callback-port, 0 = registered */
	const char *project;       /* --project (gemini) */
	const char *alias;         /* --alias (qwen file name) */
	int timeout_s;             /* --timeout */
};

static const char login_page_ok[] =
    "<!doctype html><title>cliproxy</title><p>Login complete. You may close this window.</p>\n";
static const char login_page_bad[] =
    "<!doctype html><title>cliproxy</title><p>This is not the login cliproxyctl is waiting for.</p>\n";

static void
login_reply(int fd, int status, const char *page)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
	    status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Bad Request", strlen(page));

	if (n > 0 && (size_t)n < sizeof(head)) {
		(void)!write(fd, head, (size_t)n);
		(void)!write(fd, page, strlen(page));
	}
}

/* Read one request head; the target of "GET <target> HTTP/1.x" into out. */
static int
login_read_target(int fd, char *out, size_t outlen)
{
	char req[LOGIN_REQ_MAX + 1];
	size_t len = 0;
	struct timeval tv = { LOGIN_READ_TIMEOUT_S, 0 };
	char *sp, *sp2;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < LOGIN_REQ_MAX) {
		ssize_t n = read(fd, req + len, LOGIN_REQ_MAX - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return CP_EIO;
		len += (size_t)n;
		req[len] = '\0';
		if (memchr(req, '\n', len) != NULL)
			break;
	}
	req[len] = '\0';
	if (strncmp(req, "GET ", 4) != 0 || (sp = strchr(req + 4, ' ')) == NULL)
		return CP_EINVAL;
	sp2 = strpbrk(req, "\r\n");
	if (sp2 != NULL && sp2 < sp)
		return CP_EINVAL;
	if ((size_t)(sp - req - 4) >= outlen)
		return CP_ETOOBIG;
	memcpy(out, req + 4, (size_t)(sp - req - 4));
	out[sp - req - 4] = '\0';
	cp_wipe(req, sizeof(req));
	return CP_OK;
}

static int
login_listen(int port, int *out)
{
	struct sockaddr_in sa;
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return CP_EIO;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 8) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return CP_EIO;
	}
	*out = fd;
	return CP_OK;
}

/* Wait for the browser's redirect on lfd: a GET of path with our state. */
static int
login_wait_redirect(int lfd, const char *path, const char *state, time_t deadline,
    struct oauth_callback *cb)
{
	char target[LOGIN_REQ_MAX];
	size_t plen = strlen(path);

	for (;;) {
		struct pollfd pfd = { lfd, POLLIN, 0 };
		time_t left = deadline - time(NULL);
		int fd, rc;

		if (left <= 0) {
			fprintf(stderr, "cliproxyctl: no redirect from the browser in time\n");
			return CP_EBUSY;
		}
		rc = poll(&pfd, 1, (int)(left > 3600 ? 3600000 : left * 1000));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			continue;
		if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		rc = login_read_target(fd, target, sizeof(target));
		if (rc != CP_OK || strncmp(target, path, plen) != 0 ||
		    (target[plen] != '?' && target[plen] != '\0')) {
			login_reply(fd, 404, login_page_bad);
			close(fd);
			continue;
		}
		rc = oauth_parse_callback(target, cb);
		cp_wipe(target, sizeof(target));
		/* anything without our state is someone else's page: ignored */
		if ((rc != CP_OK && rc != CP_EPERM) || !ct_streq(cb->state, state)) {
			login_reply(fd, 400, login_page_bad);
			close(fd);
			continue;
		}
		login_reply(fd, 200, rc == CP_OK ? login_page_ok : login_page_bad);
		close(fd);
		if (rc == CP_EPERM) {
			fprintf(stderr, "cliproxyctl: the provider refused the login: %s\n", cb->error);
			return CP_EPERM;
		}
		return CP_OK;
	}
}

/* --no-browser: the redirect URL (or Claude's code#state) from stdin. */
static int
login_read_pasted(const char *state, struct oauth_callback *cb)
{
	char line[OAUTH_CODE_MAX + 1024];
	int rc;

	fprintf(stderr, "paste the URL the browser ended on (it may show an error page): ");
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL) {
		fprintf(stderr, "cliproxyctl: nothing pasted\n");
		return CP_EINVAL;
	}
	rc = oauth_parse_callback(line, cb);
	cp_wipe(line, sizeof(line));
	if (rc == CP_EPERM) {
		fprintf(stderr, "cliproxyctl: the provider refused the login: %s\n", cb->error);
		return rc;
	}
	if (rc != CP_OK) {
		fprintf(stderr, "cliproxyctl: no authorization code in what was pasted\n");
		return rc;
	}
	/* a pasted bare code carries no state; one that does must match */
	if (cb->state[0] != '\0' && !ct_streq(cb->state, state)) {
		fprintf(stderr, "cliproxyctl: the pasted URL belongs to another login (state differs)\n");
		return CP_EINVAL;
	}
	return CP_OK;
}

static void
login_open_browser(const char *url)
{
	pid_t pid;

	/* only with a display; the URL is printed either way */
	if (getenv("DISPLAY") == NULL && getenv("WAYLAND_DISPLAY") == NULL)
		return;
	if ((pid = fork()) == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execlp("xdg-open", "xdg-open", url, (char *)NULL);
		_exit(127);
	}
}

/* Finish with tokens: email / project as the kind needs, then save. */
static int
login_finish(const struct cfg *c, const struct oauth_provider *p, const struct login_opts *o,
    struct oauth_tokens *t)
{
	char name[CP_AUTHNAME_MAX + 1], err[512] = "", alias[64];
	char *email = NULL, *project = NULL;
	const char *who = t->email;
	int rc;

	if (p->kind == OAUTH_GEMINI) {
		if ((rc = oflow_gemini_email(c, t->access_token, &email, err, sizeof(err))) != CP_OK)
			goto out;
		who = email;
		fprintf(stderr, "logged in as %s; finding the Code Assist project\n", email);
		if ((rc = oflow_gemini_project(c, t->access_token, o->project, LOGIN_ONBOARD_POLL_MS,
		    &project, err, sizeof(err))) != CP_OK)
			goto out;
	} else if (p->kind == OAUTH_QWEN) {
		/* PROVIDERS 2: qwen's "email" is an alias the user chose */
		if (o->alias != NULL && o->alias[0] != '\0') {
			who = o->alias;
		} else {
			snprintf(alias, sizeof(alias), "%lld", (long long)time(NULL));
			who = alias;
		}
	}
	rc = oflow_save(c, p, t, who, project, name, sizeof(name), err, sizeof(err));
	if (rc == CP_OK)
		printf("saved %s/%s\n", c->auth_dir, name);
out:
	if (rc != CP_OK)
		fprintf(stderr, "cliproxyctl: login failed: %s\n", err[0] != '\0' ? err : cp_strerror(rc));
	free(email);
	free(project);
	return rc;
}

static int
login_device(const struct cfg *c, const struct oauth_pending *pd, const struct login_opts *o,
    struct oauth_tokens *t)
{
	struct oflow_device d;
	char err[512] = "";
	double interval;
	time_t deadline;
	int rc;

	if ((rc = oflow_device_start(c, pd, &d, err, sizeof(err))) != CP_OK) {
		fprintf(stderr, "cliproxyctl: login failed: %s\n", err);
		return rc;
	}
	printf("open this URL and approve the login (code %s):\n%s\n",
	    d.user_code != NULL ? d.user_code : "-", d.verification_uri != NULL ?
	    d.verification_uri : "(the device endpoint gave none)");
	fflush(stdout);
	interval = d.interval;
	deadline = time(NULL) + (d.expires_in < o->timeout_s ? d.expires_in : o->timeout_s);
	for (;;) {
		usleep((useconds_t)(interval * 1e6));
		rc = oflow_device_poll(c, pd, d.device_code, t, err, sizeof(err));
		if (rc == CP_OK)
			break;
		if (rc == CP_EPERM && t->error != NULL && strcmp(t->error, "authorization_pending") == 0) {
			oauth_tokens_release(t);
		} else if (rc == CP_EPERM && t->error != NULL && strcmp(t->error, "slow_down") == 0) {
			oauth_tokens_release(t);
			interval = interval * 1.5 > LOGIN_SLOWDOWN_MAX_S ? LOGIN_SLOWDOWN_MAX_S :
			    interval * 1.5;
		} else {
			/* expired_token, access_denied, anything else */
			fprintf(stderr, "cliproxyctl: login failed: %s\n", err);
			goto out;
		}
		if (time(NULL) >= deadline) {
			fprintf(stderr, "cliproxyctl: login failed: the device code expired\n");
			rc = CP_EBUSY;
			goto out;
		}
	}
	rc = CP_OK;
out:
	oflow_device_release(&d);
	return rc;
}

static int
login_code(const struct cfg *c, const struct oauth_pending *pd, const struct login_opts *o,
    struct oauth_tokens *t)
{
	const struct oauth_provider *p = pd->p;
	struct oauth_callback cb;
	char redirect[256], err[512] = "";
	struct buf url;
	int lfd = -1, rc, port = o->callback_port > 0 ? o->callback_port : p->redirect_port;

	buf_init(&url, 16384);
	memset(&cb, 0, sizeof(cb));
	if ((rc = oauth_redirect_uri(p, port, redirect, sizeof(redirect))) != CP_OK ||
	    (rc = oauth_authorize_url(p, oauth_url(c, p, OAUTH_EP_AUTH), redirect, pd, &url)) != CP_OK) {
		fprintf(stderr, "cliproxyctl: cannot build the authorize URL\n");
		goto out;
	}
	if (!o->no_browser && (rc = login_listen(port, &lfd)) != CP_OK) {
		fprintf(stderr, "cliproxyctl: cannot listen on 127.0.0.1:%d (%s); "
		    "try --no-browser\n", port, strerror(errno));
		goto out;
	}
	printf("open this URL in a browser and log in:\n%s\n", url.p);
	fflush(stdout);
	if (o->no_browser) {
		rc = login_read_pasted(pd->state, &cb);
	} else {
		login_open_browser(url.p);
		rc = login_wait_redirect(lfd, p->redirect_path, pd->state, time(NULL) + o->timeout_s, &cb);
	}
	if (rc != CP_OK)
		goto out;
	if ((rc = oflow_exchange(c, pd, cb.code, redirect, t, err, sizeof(err))) != CP_OK)
		fprintf(stderr, "cliproxyctl: login failed: %s\n", err);
out:
	cp_wipe(&cb, sizeof(cb));
	if (lfd >= 0)
		close(lfd);
	buf_release(&url);
	return rc;
}

int
ctl_login(int argc, char **argv)
{
	struct login_opts o = { cfg_default_path(), false, 0, NULL, NULL, LOGIN_TIMEOUT_S };
	const struct oauth_provider *p;
	struct oauth_tokens t;
	struct oauth_pending pd;
	struct cfg *c = NULL;
	char err[512] = "";
	long long n;
	int opt, rc, ret = 1;
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "no-browser", no_argument, NULL, 'n' },
		{ "callback-port", required_argument, NULL, 'p' },
		{ "project", required_argument, NULL, 'P' },
		{ "alias", required_argument, NULL, 'a' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};

	memset(&t, 0, sizeof(t));
	memset(&pd, 0, sizeof(pd));
	while ((opt = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o.config = optarg;
			break;
		case 'n':
			o.no_browser = true;
			break;
		case 'p':
		case 't':
			if (str_to_ll(optarg, strlen(optarg), 1, opt == 'p' ? 65535 : 86400, &n) != CP_OK) {
				fprintf(stderr, "cliproxyctl: bad number '%s'\n", optarg);
				return 2;
			}
			if (opt == 'p')
				o.callback_port = (int)n;
			else
				o.timeout_s = (int)n;
			break;
		case 'P':
			o.project = optarg;
			break;
		case 'a':
			o.alias = optarg;
			break;
		default:
			fprintf(stderr, "usage: cliproxyctl login gemini|claude|codex|qwen [--no-browser] "
			    "[-c config] [--callback-port N] [--project ID] [--alias NAME] [--timeout S]\n");
			return 2;
		}
	}
	if (optind != argc - 1 || (p = oauth_provider_by_name(argv[optind])) == NULL) {
		fprintf(stderr, "cliproxyctl: login needs one of gemini, claude, codex, qwen\n");
		return 2;
	}
	if ((rc = cfg_load(o.config, &c, err, sizeof(err))) != CP_OK) {
		fprintf(stderr, "cliproxyctl: '%s': %s\n", o.config, err[0] != '\0' ? err : cp_strerror(rc));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (oauth_pending_init(&pd, p) != CP_OK) {
		fprintf(stderr, "cliproxyctl: no randomness\n");
		goto out;
	}
	rc = p->device ? login_device(c, &pd, &o, &t) : login_code(c, &pd, &o, &t);
	if (rc != CP_OK)
		goto out;
	if (login_finish(c, p, &o, &t) != CP_OK)
		goto out;
	ret = 0;
out:
	oauth_tokens_release(&t);
	cp_wipe(&pd, sizeof(pd));
	cfg_free(c);
	return ret;
}
