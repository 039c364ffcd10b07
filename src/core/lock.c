/*
 * lock.c - the writers' lock (DESIGN 4 step 1): an exclusive open file
 * description lock on a lock file. OFD locks belong to the open file, not
 * the process, so two threads or a forked child do not share them by
 * accident, and the lock dies with the last descriptor (a killed writer
 * never leaves a stale lock).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

#define LOCK_SLEEP_MIN_MS 1  /* first pause between attempts */
#define LOCK_SLEEP_MAX_MS 20 /* pauses grow up to this */

static long long
lock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
lock_sleep_ms(long long ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* One non-blocking attempt: 1 taken, 0 held by someone else, -1 error. */
static int
lock_try(int fd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 0;   /* whole file */
	fl.l_pid = 0;   /* required for OFD locks */
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 1;
	if (errno == EAGAIN || errno == EACCES || errno == EINTR)
		return 0;
	return -1;
}

int
lock_acquire(struct lock *l, const char *path, int timeout_ms)
{
	long long deadline, now, pause = LOCK_SLEEP_MIN_MS;
	int fd = -1, rc = CP_EIO, r, saved;

	if (l == NULL || path == NULL || l->fd >= 0)
		return CP_EINVAL;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto out;
	/* F_OFD_SETLKW cannot time out by itself, so poll with a growing pause
	 * (bounded wait, DESIGN 4: 5 s then "config is busy"). */
	deadline = lock_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	for (;;) {
		r = lock_try(fd);
		if (r == 1)
			break;
		if (r < 0)
			goto out;
		now = lock_now_ms();
		if (now >= deadline) {
			rc = CP_EBUSY;
			goto out;
		}
		lock_sleep_ms(pause < deadline - now ? pause : deadline - now);
		if (pause < LOCK_SLEEP_MAX_MS)
			pause = pause * 2 > LOCK_SLEEP_MAX_MS ? LOCK_SLEEP_MAX_MS : pause * 2;
	}
	l->fd = fd;
	fd = -1;
	rc = CP_OK;
out:
	if (fd >= 0) {
		saved = errno;
		close(fd);
		errno = saved;
	}
	return rc;
}

void
lock_release(struct lock *l)
{
	struct flock fl;

	if (l == NULL || l->fd < 0)
		return;
	/* Unlock explicitly: a forked child may still hold a copy of the
	 * descriptor, which would otherwise keep the lock alive. */
	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_UNLCK;
	fl.l_whence = SEEK_SET;
	(void)fcntl(l->fd, F_OFD_SETLK, &fl);
	close(l->fd);
	l->fd = -1;
}
