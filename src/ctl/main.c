/*
 * main.c - cliproxyctl, the small admin CLI (DESIGN 2): log an OAuth
 * account in (login.c), hash a management key, check a config. Commands
 * are one table; each parses its own options.
 */
#include "config.h"

#include <getopt.h>
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

static const struct {
	const char *name;                       /* command word */
	int (*fn)(int argc, char **argv);       /* argv[0] is the command */
	const char *usage;                      /* one line */
} commands[] = {
	{ "login", ctl_login, "login gemini|claude|codex|qwen [--no-browser] [-c config] "
	    "[--callback-port N] [--project ID] [--alias NAME] [--timeout S]" },
	{ "hash-key", cmd_hash_key, "hash-key < keyfile" },
	{ "check-config", cmd_check_config, "check-config [-c config]" },
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
