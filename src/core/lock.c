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
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

/*
 * Fairness. F_OFD_SETLKW alone is not fair: the kernel wakes the waiters
 * when the holder unlocks, but a holder that takes the lock again at once
 * (a back-to-back writer) is already running and wins before they are
 * scheduled, round after round, until they time out with "config is busy".
 * So the lock file has two bytes: a waiter first takes the GATE, then
 * waits for MAIN while holding it, and lets the gate go once MAIN is its.
 * The holder that comes back finds the gate taken by the waiter and waits
 * behind it: MAIN passes to somebody who was waiting.
 *
 * The bound (DESIGN 4: 5 s, then 503) comes from a per-thread POSIX timer
 * whose signal, caught without SA_RESTART, ends the blocking F_OFD_SETLKW
 * with EINTR. It repeats every LOCK_TICK_MS after the timeout, so a tick
 * that lands between two waits cannot leave us blocked for good.
 */
#define LOCK_GATE 0         /* byte of the lock file waiters queue on */
#define LOCK_MAIN 1         /* byte held while writing */
#define LOCK_TICK_MS 5      /* timer period once the deadline passed */
#define LOCK_SIGNAL (SIGRTMAX - 2)  /* private: nothing else here uses it */

/* fcntl on one byte of the lock file: F_WRLCK or F_UNLCK with
 * F_OFD_SETLK or F_OFD_SETLKW. 0 done, -1 with errno. */
static int
lock_byte(int fd, short type, off_t byte, int cmd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = byte;
	fl.l_len = 1;
	fl.l_pid = 0;   /* required for OFD locks */
	return fcntl(fd, cmd, &fl);
}

static bool
lock_held_elsewhere(void)
{
	return errno == EAGAIN || errno == EACCES;
}

static void
lock_on_timer(int sig)
{
	(void)sig;  /* only there to interrupt F_OFD_SETLKW */
}

/* The timer of one bounded wait, and the signal mask to restore. */
struct lock_wait {
	timer_t timer;
	sigset_t oldmask;
	bool armed;
};

static int
lock_wait_arm(struct lock_wait *w, int timeout_ms)
{
	struct sigaction sa;
	struct sigevent sev;
	struct itimerspec its;
	sigset_t set;

	memset(w, 0, sizeof(*w));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = lock_on_timer;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;  /* no SA_RESTART: the wait must end with EINTR */
	if (sigaction(LOCK_SIGNAL, &sa, NULL) == -1)
		return -1;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = LOCK_SIGNAL;
	sev._sigev_un._tid = gettid();  /* this thread, the one that waits */
	if (timer_create(CLOCK_MONOTONIC, &sev, &w->timer) == -1)
		return -1;
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = timeout_ms / 1000;
	its.it_value.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	its.it_interval.tv_nsec = LOCK_TICK_MS * 1000000L;
	sigemptyset(&set);
	sigaddset(&set, LOCK_SIGNAL);
	if (pthread_sigmask(SIG_UNBLOCK, &set, &w->oldmask) != 0 ||
	    timer_settime(w->timer, 0, &its, NULL) == -1) {
		timer_delete(w->timer);
		return -1;
	}
	w->armed = true;
	return 0;
}

static void
lock_wait_disarm(struct lock_wait *w)
{
	int saved = errno;

	if (!w->armed)
		return;
	timer_delete(w->timer);
	(void)pthread_sigmask(SIG_SETMASK, &w->oldmask, NULL);
	w->armed = false;
	errno = saved;
}

/* Block for one byte until it is ours or the deadline passed: CP_OK,
 * CP_EBUSY, CP_EIO. */
static int
lock_wait_byte(int fd, off_t byte, long long deadline)
{
	for (;;) {
		if (lock_byte(fd, F_WRLCK, byte, F_OFD_SETLKW) == 0)
			return CP_OK;
		if (errno != EINTR)
			return CP_EIO;
		if (cp_mono_ms() >= deadline)
			return CP_EBUSY;
		/* another signal: keep waiting, the timer is still set */
	}
}

int
lock_acquire(struct lock *l, const char *path, int timeout_ms)
{
	struct lock_wait w = { .armed = false };
	long long deadline;
	bool gate = false;
	int fd = -1, rc = CP_EIO, saved;

	if (l == NULL || path == NULL || l->fd >= 0)
		return CP_EINVAL;
	if (timeout_ms < 0)
		timeout_ms = 0;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		goto out;
	deadline = cp_mono_ms() + timeout_ms;
	/* Uncontended: both bytes at once, no timer. */
	if (lock_byte(fd, F_WRLCK, LOCK_GATE, F_OFD_SETLK) == 0) {
		gate = true;
		if (lock_byte(fd, F_WRLCK, LOCK_MAIN, F_OFD_SETLK) == 0) {
			rc = CP_OK;
			goto out;
		}
	}
	if (!lock_held_elsewhere())
		goto out;
	if (timeout_ms == 0) {
		rc = CP_EBUSY;
		goto out;
	}
	if (lock_wait_arm(&w, timeout_ms) == -1)
		goto out;
	if (!gate) {
		if ((rc = lock_wait_byte(fd, LOCK_GATE, deadline)) != CP_OK)
			goto out;
		gate = true;
	}
	rc = lock_wait_byte(fd, LOCK_MAIN, deadline);
out:
	lock_wait_disarm(&w);
	if (gate && fd >= 0) {
		saved = errno;
		(void)lock_byte(fd, F_UNLCK, LOCK_GATE, F_OFD_SETLK);
		errno = saved;
	}
	if (rc == CP_OK) {
		l->fd = fd;
		return CP_OK;
	}
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
