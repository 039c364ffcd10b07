/*
 * rel_core.c - a second writer for the reliability suite (issue 5): it
 * uses the core API directly, as cliproxyd's token refresh does (DESIGN.md
 * 4), so the tests can race it against the responder behind a web server.
 *
 *   rel_core check CONFIG              load CONFIG with the real loader;
 *                                      print the effective config as JSON
 *                                      (secret left out); exit 1 if it
 *                                      does not load
 *   rel_core cfgappend CONFIG TAG N [MS]  N transactions, each appending
 *                                      "TAG-<k>" to api-keys
 *   rel_core authwrite DIR NAME N [MS] N authstore_write of NAME with
 *                                      {"writer":"core","seq":k}
 *   MS: pause between two changes, in milliseconds (default 0)
 *
 * Each acknowledged change prints "ack <k>" (flushed) so the caller knows
 * exactly which changes must survive; a failed one prints "fail <k> <code>"
 * and the program goes on. Never prints config values other than on
 * "check" (whose JSON has no secret).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"

#define REL_N_MAX 1000000   /* changes one run may ask for */
#define REL_PAUSE_MAX 10000 /* longest pause between changes, ms */

static long long pause_ms;    /* between two changes */

static void
pause_between(void)
{
	struct timespec ts = { (time_t)(pause_ms / 1000), (long)(pause_ms % 1000) * 1000000L };

	if (pause_ms > 0)
		nanosleep(&ts, NULL);
}

struct append_arg {
	const char *tag;     /* value prefix */
	long long k;         /* sequence number of this change */
};

static int
append_fn(struct cfg_tx *tx, void *argp)
{
	const struct append_arg *a = argp;
	static const char *const path[] = { "api-keys", NULL };
	cJSON *list = NULL, *item;
	char val[128];
	int rc;

	rc = yaml_get_json(tx->text, tx->len, path, &list, tx->err, sizeof(tx->err));
	if (rc == CP_ENOTFOUND) {
		list = cJSON_CreateArray();
		rc = list != NULL ? CP_OK : CP_ENOMEM;
	}
	if (rc != CP_OK)
		goto out;
	if (!cJSON_IsArray(list)) {
		rc = CP_ETYPE;
		goto out;
	}
	snprintf(val, sizeof(val), "%s-%lld", a->tag, a->k);
	if ((item = cJSON_CreateString(val)) == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	cJSON_AddItemToArray(list, item);
	rc = cfg_tx_set(tx, path, list);
out:
	cJSON_Delete(list);
	return rc;
}

static int
count_arg(const char *s, long long *n)
{
	return str_to_ll(s, strlen(s), 0, REL_N_MAX, n);
}

static int
cmd_check(const char *path)
{
	struct cfg *c = NULL;
	cJSON *j = NULL;
	char *txt = NULL, err[256];
	int rc;

	rc = cfg_load(path, &c, err, sizeof(err));
	if (rc != CP_OK) {
		fprintf(stderr, "rel_core: %s: %s\n", cp_strerror(rc), err);
		goto out;
	}
	if ((j = cfg_to_json(c, false)) == NULL || (txt = json_print(j)) == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	printf("%s\n", txt);
out:
	free(txt);
	cJSON_Delete(j);
	cfg_free(c);
	return rc == CP_OK ? 0 : 1;
}

static int
cmd_cfgappend(const char *path, const char *tag, long long n)
{
	struct append_arg a = { tag, 0 };
	char err[256];
	int rc, fails = 0;

	for (a.k = 0; a.k < n; a.k++) {
		rc = cfg_transact(path, append_fn, &a, err, sizeof(err));
		if (rc == CP_OK) {
			printf("ack %lld\n", a.k);
		} else {
			printf("fail %lld %s\n", a.k, cp_strerror(rc));
			fails++;
		}
		fflush(stdout);
		pause_between();
	}
	return fails == 0 ? 0 : 1;
}

static int
cmd_authwrite(const char *dir, const char *name, long long n)
{
	char doc[128], err[256];
	long long k;
	int rc, fails = 0, len;

	for (k = 0; k < n; k++) {
		len = snprintf(doc, sizeof(doc), "{\"writer\":\"core\",\"seq\":%lld}", k);
		rc = authstore_write(dir, name, doc, (size_t)len, err, sizeof(err));
		if (rc == CP_OK) {
			printf("ack %lld\n", k);
		} else {
			printf("fail %lld %s\n", k, cp_strerror(rc));
			fails++;
		}
		fflush(stdout);
		pause_between();
	}
	return fails == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	long long n;

	log_init("rel_core", false, LOG_LVL_WARN);
	if (argc == 3 && strcmp(argv[1], "check") == 0)
		return cmd_check(argv[2]);
	if (argc == 6 && str_to_ll(argv[5], strlen(argv[5]), 0, REL_PAUSE_MAX, &pause_ms) != CP_OK)
		goto usage;
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "cfgappend") == 0 &&
	    count_arg(argv[4], &n) == CP_OK)
		return cmd_cfgappend(argv[2], argv[3], n);
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "authwrite") == 0 &&
	    count_arg(argv[4], &n) == CP_OK)
		return cmd_authwrite(argv[2], argv[3], n);
usage:
	fprintf(stderr, "usage: rel_core check CONFIG | cfgappend CONFIG TAG N [MS] | "
	    "authwrite DIR NAME N [MS]\n");
	return 2;
}
