/*
 * history.c - the versions of the config kept for undo (issue 13):
 * "<config dir>/.cliproxy-history/<id>.json", one file per version, mode
 * 0600 in a 0700 directory (they hold the same secrets as the config),
 * the last MGMT_HISTORY_KEEP kept. A version is the file as it was before
 * a change, with a note of that change:
 *   {"id","time","sha256","size","change":{time,client,method,path,keys},
 *    "text":"<the YAML>"}
 * Written by change.c under the config lock, so ids are made and pruned by
 * one process at a time. Ids are "<ms since the epoch, 15 digits>-<first 8
 * hex of the version's sha256>": they sort by time as strings.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mgmt.h"

#define HIST_FILE_MAX (8u * CP_CONFIG_MAX) /* a version file: text JSON-escaped */
#define HIST_SUFFIX   ".json"
#define HIST_MS_DIGITS 15

bool
hist_id_ok(const char *s)
{
	size_t i;

	for (i = 0; i < HIST_MS_DIGITS; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	if (s[i++] != '-')
		return false;
	for (size_t j = 0; j < 8; j++, i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == '\0';
}

/* Open the history directory (creating it 0700 when create), never
 * through a symlink. -1 with errno. */
static int
hist_dir(const char *config_path, bool create)
{
	char dir[4096], path[4200];

	cfg_dir_of(config_path, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, MGMT_HISTORY_DIR);
	if (create && mkdir(path, 0700) != 0 && errno != EEXIST)
		return -1;
	return open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Is name "<id>.json" for a valid id? id gets the id. */
static bool
hist_name(const char *name, char *id, size_t idlen)
{
	size_t l = strlen(name), sl = sizeof(HIST_SUFFIX) - 1;

	if (l <= sl || l - sl >= idlen || strcmp(name + l - sl, HIST_SUFFIX) != 0)
		return false;
	memcpy(id, name, l - sl);
	id[l - sl] = '\0';
	return hist_id_ok(id);
}

static int
cmp_desc(const void *a, const void *b)
{
	return strcmp(*(char *const *)b, *(char *const *)a);
}

/* The ids present, newest first. *out freed with free() each and all. */
static int
hist_ids(int dfd, char ***out, size_t *n)
{
	DIR *d;
	struct dirent *de;
	char **v = NULL, id[HIST_ID_MAX];
	size_t cap = 0;
	int fd = dup(dfd);

	*out = NULL;
	*n = 0;
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return CP_EIO;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		if (!hist_name(de->d_name, id, sizeof(id)))
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 32;
			char **t = realloc(v, nc * sizeof(*t));

			if (t == NULL)
				break;
			v = t;
			cap = nc;
		}
		if ((v[*n] = cp_strdup(id)) == NULL)
			break;
		(*n)++;
	}
	closedir(d);
	if (*n > 1)
		qsort(v, *n, sizeof(*v), cmp_desc);
	*out = v;
	return CP_OK;
}

static void
hist_ids_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
hist_save(const char *config_path, const char *text, size_t len, const cJSON *meta,
    char *id, size_t idlen, char *err, size_t errlen)
{
	struct timespec ts;
	struct stat st;
	char sha[65], name[HIST_ID_MAX + 8], t[32];
	cJSON *o = NULL, *ch;
	char *js = NULL;
	char **ids = NULL;
	size_t nids = 0;
	long long ms;
	int dfd, rc = CP_EIO;

	id[0] = '\0';
	if ((dfd = hist_dir(config_path, true)) < 0) {
		cp_seterr(err, errlen, "%s", strerror(errno));
		return CP_EIO;
	}
	/* a config holds no NUL (libyaml refuses one), a JSON string cannot */
	if (memchr(text, '\0', len) != NULL) {
		cp_seterr(err, errlen, "the file holds a NUL byte");
		goto out;
	}
	sha256_hex(text, len, sha);
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	for (;; ms++) {
		snprintf(id, idlen, "%0*lld-%.8s", HIST_MS_DIGITS, ms, sha);
		snprintf(name, sizeof(name), "%s%s", id, HIST_SUFFIX);
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			break;
	}
	fmt_rfc3339(ts.tv_sec, t, sizeof(t));
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(o, "id", id) == NULL ||
	    cJSON_AddStringToObject(o, "time", t) == NULL ||
	    cJSON_AddStringToObject(o, "sha256", sha) == NULL ||
	    cJSON_AddNumberToObject(o, "size", (double)len) == NULL)
		goto nomem;
	if ((ch = cJSON_Duplicate(meta, true)) == NULL || !cJSON_AddItemToObject(o, "change", ch)) {
		cJSON_Delete(ch);
		goto nomem;
	}
	if (cJSON_AddStringToObject(o, "text", text) == NULL ||
	    (js = cJSON_PrintUnformatted(o)) == NULL)
		goto nomem;
	rc = fio_write_atomic_at(dfd, name, js, strlen(js), 0600, err, errlen);
	if (rc != CP_OK) {
		id[0] = '\0';
		goto out;
	}
	/* keep the last MGMT_HISTORY_KEEP versions */
	if (hist_ids(dfd, &ids, &nids) == CP_OK) {
		for (size_t i = MGMT_HISTORY_KEEP; i < nids; i++) {
			snprintf(name, sizeof(name), "%s%s", ids[i], HIST_SUFFIX);
			(void)unlinkat(dfd, name, 0);
		}
	}
	goto out;
nomem:
	cp_seterr(err, errlen, "out of memory");
	id[0] = '\0';
	rc = CP_ENOMEM;
out:
	hist_ids_free(ids, nids);
	if (js != NULL)
		cp_wipe(js, strlen(js));
	free(js);
	cJSON_Delete(o);
	close(dfd);
	return rc;
}

void
hist_remove(const char *config_path, const char *id)
{
	char name[HIST_ID_MAX + 8];
	int dfd;

	if (!hist_id_ok(id) || (dfd = hist_dir(config_path, false)) < 0)
		return;
	snprintf(name, sizeof(name), "%s%s", id, HIST_SUFFIX);
	(void)unlinkat(dfd, name, 0);
	close(dfd);
}

/* One version file parsed; NULL when missing or not ours. */
static cJSON *
hist_load(int dfd, const char *id)
{
	char name[HIST_ID_MAX + 8];
	char *data = NULL;
	size_t len = 0;
	cJSON *o = NULL;

	snprintf(name, sizeof(name), "%s%s", id, HIST_SUFFIX);
	if (fio_read_at(dfd, name, HIST_FILE_MAX, &data, &len) != CP_OK)
		return NULL;
	o = cJSON_ParseWithLength(data, len);
	cp_wipe(data, len);
	free(data);
	if (o != NULL && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "text"))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

static void
wipe_text(cJSON *o)
{
	cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");

	if (cJSON_IsString(t) && t->valuestring != NULL)
		cp_wipe(t->valuestring, strlen(t->valuestring));
}

cJSON *
hist_list(const char *config_path)
{
	cJSON *arr = cJSON_CreateArray();
	char **ids = NULL;
	size_t n = 0;
	int dfd;

	if (arr == NULL)
		return NULL;
	if ((dfd = hist_dir(config_path, false)) < 0)
		return arr;  /* no history yet */
	if (hist_ids(dfd, &ids, &n) == CP_OK) {
		for (size_t i = 0; i < n; i++) {
			cJSON *o = hist_load(dfd, ids[i]);

			if (o == NULL)
				continue;
			wipe_text(o);
			cJSON_DeleteItemFromObjectCaseSensitive(o, "text");
			if (!cJSON_AddItemToArray(arr, o))
				cJSON_Delete(o);
		}
	}
	hist_ids_free(ids, n);
	close(dfd);
	return arr;
}

int
hist_read(const char *config_path, const char *id, char **out, size_t *outlen)
{
	cJSON *o = NULL;
	const cJSON *t, *sha;
	char got[65];
	int dfd, rc = CP_ENOTFOUND;

	*out = NULL;
	*outlen = 0;
	if (!hist_id_ok(id) || (dfd = hist_dir(config_path, false)) < 0)
		return CP_ENOTFOUND;
	if ((o = hist_load(dfd, id)) == NULL)
		goto out;
	t = cJSON_GetObjectItemCaseSensitive(o, "text");
	sha = cJSON_GetObjectItemCaseSensitive(o, "sha256");
	sha256_hex(t->valuestring, strlen(t->valuestring), got);
	/* a damaged version is not restored */
	if (!cJSON_IsString(sha) || strcmp(sha->valuestring, got) != 0) {
		log_warnx("history version '%s' does not match its sha256", id);
		goto out;
	}
	if ((*out = cp_strdup(t->valuestring)) == NULL) {
		rc = CP_ENOMEM;
		goto out;
	}
	*outlen = strlen(*out);
	rc = CP_OK;
out:
	if (o != NULL)
		wipe_text(o);
	cJSON_Delete(o);
	close(dfd);
	return rc;
}
