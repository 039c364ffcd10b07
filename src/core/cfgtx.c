/*
 * cfgtx.c - one change of the config file under the write protocol of
 * DESIGN.md section 4: lock, read fresh, parse, change, validate, atomic
 * replace, unlock. A file that does not parse is never overwritten
 * (DESIGN 3 "Rules").
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

#define CFGTX_TEMP_MAX_AGE_S 60   /* leftover temps of killed writers older than
                                     this go (issue 5: "older than a minute") */
#define CFGTX_NEW_MODE 0600       /* a config created by a transaction */

/* Directory of path into out ("." when it has none). */
static void
dir_of(const char *path, char *out, size_t outlen)
{
	const char *sl = strrchr(path, '/');

	if (sl == NULL)
		snprintf(out, outlen, ".");
	else if (sl == path)
		snprintf(out, outlen, "/");
	else
		snprintf(out, outlen, "%.*s", (int)(sl - path), path);
}

int
cfg_transact(const char *path, cfg_tx_fn fn, void *arg, char *err, size_t errlen)
{
	struct lock lk = LOCK_INIT;
	struct cfg_tx tx;
	struct cfg *cur = NULL, *next = NULL;
	char lockpath[4096], dir[4096], perr[256];
	char *text = NULL;
	size_t len = 0;
	int dfd = -1, rc;

	memset(&tx, 0, sizeof(tx));
	cfg_lock_path(path, lockpath, sizeof(lockpath));
	rc = lock_acquire(&lk, lockpath, CP_LOCK_TIMEOUT_MS);
	if (rc == CP_EBUSY) {
		cp_seterr(err, errlen, "config is busy");
		goto out;
	} else if (rc != CP_OK) {
		/* The reason ("Read-only file system"), not the lock's path:
		 * this text reaches clients as "failed to save config: ...". */
		cp_seterr(err, errlen, "cannot lock the config: %s", strerror(errno));
		goto out;
	}
	dir_of(path, dir, sizeof(dir));
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0)
		fio_clean_stale_temps(dfd, CFGTX_TEMP_MAX_AGE_S);
	/* Read under the lock: never a cached copy (DESIGN 4 step 2). */
	rc = fio_read_file(path, CP_CONFIG_MAX, &text, &len);
	if (rc != CP_OK) {
		cp_seterr(err, errlen, "cannot read config: %s",
		    rc == CP_ETOOBIG ? "file too large" : cp_strerror(rc));
		goto out;
	}
	rc = cfg_parse(text, len, &cur, perr, sizeof(perr));
	if (rc != CP_OK) {
		cp_seterr(err, errlen, "%s", perr);
		goto out;
	}
	tx.path = path;
	tx.text = text;
	tx.len = len;
	tx.cfg = cur;
	rc = fn(&tx, arg);
	if (rc != CP_OK) {
		cp_seterr(err, errlen, "%s", tx.err[0] != '\0' ? tx.err : cp_strerror(rc));
		goto out;
	}
	if (tx.out == NULL)
		goto out;
	/* The new text must load (DESIGN 4 step 3). */
	rc = cfg_parse(tx.out, tx.outlen, &next, perr, sizeof(perr));
	if (rc != CP_OK) {
		cp_seterr(err, errlen, "%s", perr);
		rc = CP_EINVAL;
		goto out;
	}
	rc = fio_write_atomic(path, tx.out, tx.outlen, CFGTX_NEW_MODE, perr, sizeof(perr));
	if (rc != CP_OK)
		cp_seterr(err, errlen, "%s", perr);
out:
	if (dfd >= 0)
		close(dfd);
	lock_release(&lk);
	cfg_free(cur);
	cfg_free(next);
	/* The text holds keys (and maybe a plaintext management key). */
	if (text != NULL)
		cp_wipe(text, len);
	free(text);
	if (tx.out != NULL)
		cp_wipe(tx.out, tx.outlen);
	free(tx.out);
	cp_wipe(&tx.err, sizeof(tx.err));
	return rc;
}

/* The text a change inside fn starts from: the last change's, else the
 * file's. */
static const char *
tx_base(const struct cfg_tx *tx, size_t *len)
{
	*len = tx->out != NULL ? tx->outlen : tx->len;
	return tx->out != NULL ? tx->out : tx->text;
}

/* Keep out (taken over) as the transaction's new text when rc is CP_OK. */
static int
tx_adopt(struct cfg_tx *tx, int rc, char *out, size_t outlen)
{
	if (rc != CP_OK)
		return rc;
	free(tx->out);
	tx->out = out;
	tx->outlen = outlen;
	return CP_OK;
}

int
cfg_tx_set(struct cfg_tx *tx, const char *const *path, const cJSON *value)
{
	char *out = NULL;
	size_t blen, outlen = 0;
	const char *base = tx_base(tx, &blen);
	int rc = yaml_set(base, blen, path, value, &out, &outlen, tx->err, sizeof(tx->err));

	return tx_adopt(tx, rc, out, outlen);
}

int
cfg_tx_seq_remove(struct cfg_tx *tx, const char *const *path, const bool *drop, size_t n)
{
	char *out = NULL;
	size_t blen, outlen = 0;
	const char *base = tx_base(tx, &blen);
	int rc = yaml_seq_remove(base, blen, path, drop, n, &out, &outlen, tx->err,
	    sizeof(tx->err));

	return tx_adopt(tx, rc, out, outlen);
}
