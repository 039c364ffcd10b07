/*
 * main.c - cliproxyctl, the small admin CLI (DESIGN 2): log an OAuth
 * account in (login.c), hash a management key, check a config, print the
 * daemon's status. Commands
 * are one table; each parses its own options.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

static int
cmd_hash_key(int argc, char **argv)
{
	char line[1024], hash[PW_HASH_MAX];
	size_t n;
	int rc = 1;

	/* the key is read from stdin, never from argv (ps(1) shows argv) */
	if (argc > 1) {
		fprintf(stderr, "usage: cliproxyctl hash-key < keyfile\n");
		return 2;
	}
	(void)argv;
	if (isatty(STDIN_FILENO))
		fprintf(stderr, "management key: ");
	if (fgets(line, sizeof(line), stdin) == NULL) {
		fprintf(stderr, "cliproxyctl: no key on stdin\n");
		goto out;
	}
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (n == 0) {
		fprintf(stderr, "cliproxyctl: empty key\n");
		goto out;
	}
	if (pw_hash(line, hash, sizeof(hash)) != CP_OK) {
		fprintf(stderr, "cliproxyctl: cannot hash the key\n");
		goto out;
	}
	printf("%s\n", hash);
	rc = 0;
out:
	cp_wipe(line, sizeof(line));
	return rc;
}

static int
cmd_check_config(int argc, char **argv)
{
	const char *path = cfg_default_path();
	struct cfg *c = NULL;
	char err[512] = "";
	int opt, rc;
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};

	while ((opt = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
		if (opt != 'c') {
			fprintf(stderr, "usage: cliproxyctl check-config [-c config]\n");
			return 2;
		}
		path = optarg;
	}
	if ((rc = cfg_load(path, &c, err, sizeof(err))) != CP_OK) {
		fprintf(stderr, "cliproxyctl: '%s': %s\n", path,
		    err[0] != '\0' ? err : cp_strerror(rc));
		return 1;
	}
	printf("%s: ok\n", path);
	cfg_free(c);
	return 0;
}

#define CTL_STATUS_NAME "cliproxyd.status"          /* DESIGN 6 */
#define CTL_STATE_DIR LOCALSTATEDIR "/lib/cliproxy"  /* cliproxyd's packaged default */
#define CTL_STATUS_MAX (4u * 1024u * 1024u)          /* status file we read */

/* cliproxyd's status file: --state-dir, else the packaged state dir when
 * it has one, else ".cliproxyd" beside the config (cliproxyd(8)'s rule). */
static void
status_path(const char *state_dir, const char *config, char *out, size_t outlen)
{
	const char *slash;

	if (state_dir != NULL) {
		snprintf(out, outlen, "%s/" CTL_STATUS_NAME, state_dir);
		return;
	}
	snprintf(out, outlen, CTL_STATE_DIR "/" CTL_STATUS_NAME);
	if (access(out, R_OK) == 0)
		return;
	slash = strrchr(config, '/');
	if (slash == NULL)
		snprintf(out, outlen, ".cliproxyd/" CTL_STATUS_NAME);
	else
		snprintf(out, outlen, "%.*s/.cliproxyd/" CTL_STATUS_NAME, (int)(slash - config), config);
}

/* Print the daemon's status file (it never holds a token, DESIGN 6).
 * Exit 0: running; 3: the file names a process that is gone (LSB "not
 * running"); 1: no readable status file. */
static int
cmd_status(int argc, char **argv)
{
	const char *config = cfg_default_path(), *state_dir = NULL;
	char path[PATH_MAX], *data = NULL, *pretty = NULL;
	cJSON *doc = NULL;
	long long pid = 0;
	size_t len;
	int opt, rc = 1;
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};

	while ((opt = getopt_long(argc, argv, "c:", lo, NULL)) != -1) {
		if (opt == 'c') {
			config = optarg;
		} else if (opt == 'S') {
			state_dir = optarg;
		} else {
			fprintf(stderr, "usage: cliproxyctl status [-c config] [--state-dir DIR]\n");
			return 2;
		}
	}
	status_path(state_dir, config, path, sizeof(path));
	if (fio_read_file(path, CTL_STATUS_MAX, &data, &len) != CP_OK) {
		fprintf(stderr, "cliproxyctl: cannot read '%s': is cliproxyd running?\n", path);
		goto out;
	}
	if (json_parse_strict(data, len, &doc) != CP_OK || !cJSON_IsObject(doc) ||
	    (pretty = cJSON_Print(doc)) == NULL) {
		fprintf(stderr, "cliproxyctl: '%s' is not a status file\n", path);
		goto out;
	}
	printf("%s\n", pretty);
	if (json_get_int(doc, "pid", 1, INT_MAX, &pid) != CP_OK ||
	    (kill((pid_t)pid, 0) != 0 && errno != EPERM)) {
		fprintf(stderr, "cliproxyctl: cliproxyd (pid %lld) is not running\n", pid);
		rc = 3;
		goto out;
	}
	rc = 0;
out:
	free(pretty);
	cJSON_Delete(doc);
	free(data);
	return rc;
}

static const struct {
	const char *name;                       /* command word */
	int (*fn)(int argc, char **argv);       /* argv[0] is the command */
	const char *usage;                      /* one line */
} commands[] = {
	{ "login", ctl_login, "login gemini|claude|codex|qwen [--no-browser] [-c config] "
	    "[--callback-port N] [--project ID] [--alias NAME] [--timeout S]" },
	{ "hash-key", cmd_hash_key, "hash-key < keyfile" },
	{ "check-config", cmd_check_config, "check-config [-c config]" },
	{ "status", cmd_status, "status [-c config] [--state-dir DIR]" },
};

static void
usage(void)
{
	fprintf(stderr, "usage:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stderr, "  cliproxyctl %s\n", commands[i].usage);
}

int
main(int argc, char **argv)
{
	log_init("cliproxyctl", false, LOG_LVL_WARN);
	if (argc < 2) {
		usage();
		return 2;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage();
		return 0;
	}
	fprintf(stderr, "cliproxyctl: unknown command '%s'\n", argv[1]);
	usage();
	return 2;
}
