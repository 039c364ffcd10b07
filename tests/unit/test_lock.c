/*
 * test_lock.c - the writers' lock (DESIGN 4 step 1): bounded wait, release,
 * and that a lock of a killed process dies with it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core.h"

struct fixture {
	char dir[64];       /* temporary directory */
	char path[96];      /* lock file inside it */
	pid_t child;        /* holder process, killed in teardown */
	int to_child[2];    /* parent -> child: "release now" */
	int from_child[2];  /* child -> parent: "locked" / "released" */
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/cp-lock-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/.lock", f->dir);
	f->child = -1;
	if (pipe(f->to_child) == -1 || pipe(f->from_child) == -1)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f->child > 0) {
		kill(f->child, SIGKILL);
		waitpid(f->child, NULL, 0);
	}
	close(f->to_child[0]);
	close(f->to_child[1]);
	close(f->from_child[0]);
	close(f->from_child[1]);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Child: take the lock, say 'L', wait for a byte (or death), release, say
 * 'R', exit. Never returns. */
static void
holder(struct fixture *f)
{
	struct lock l = LOCK_INIT;
	char c;

	if (lock_acquire(&l, f->path, 1000) != CP_OK)
		_exit(2);
	if (write(f->from_child[1], "L", 1) != 1)
		_exit(3);
	if (read(f->to_child[0], &c, 1) != 1)
		_exit(4);
	lock_release(&l);
	if (write(f->from_child[1], "R", 1) != 1)
		_exit(5);
	_exit(0);
}

static void
start_holder(struct fixture *f)
{
	char c = 0;

	f->child = fork();
	assert_true(f->child >= 0);
	if (f->child == 0)
		holder(f);
	assert_int_equal(read(f->from_child[0], &c, 1), 1);
	assert_int_equal(c, 'L');
}

static void
test_contend(void **state)
{
	struct fixture *f = *state;
	struct lock l = LOCK_INIT;
	long long t0, dt;
	struct stat st;
	char c = 0;
	int status;

	start_holder(f);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* Held elsewhere: CP_EBUSY after about the timeout, not at once and not
	 * much later. */
	t0 = now_ms();
	assert_int_equal(lock_acquire(&l, f->path, 300), CP_EBUSY);
	dt = now_ms() - t0;
	assert_true(dt >= 290);
	assert_true(dt < 3000);
	assert_int_equal(l.fd, -1);
	/* Released: it succeeds. */
	assert_int_equal(write(f->to_child[1], "x", 1), 1);
	assert_int_equal(read(f->from_child[0], &c, 1), 1);
	assert_int_equal(c, 'R');
	assert_int_equal(lock_acquire(&l, f->path, 1000), CP_OK);
	assert_true(l.fd >= 0);
	/* Taking it again through the same struct is a caller bug. */
	assert_int_equal(lock_acquire(&l, f->path, 10), CP_EINVAL);
	lock_release(&l);
	assert_int_equal(l.fd, -1);
	lock_release(&l);  /* idempotent */
	assert_int_equal(waitpid(f->child, &status, 0), f->child);
	f->child = -1;
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A waiter gets the lock as soon as the holder lets go mid-wait. */
static void
test_wait_then_get(void **state)
{
	struct fixture *f = *state;
	struct lock l = LOCK_INIT;
	long long t0, dt;
	pid_t releaser;

	start_holder(f);
	releaser = fork();
	assert_true(releaser >= 0);
	if (releaser == 0) {
		usleep(200 * 1000);
		_exit(write(f->to_child[1], "x", 1) == 1 ? 0 : 1);
	}
	t0 = now_ms();
	assert_int_equal(lock_acquire(&l, f->path, 5000), CP_OK);
	dt = now_ms() - t0;
	assert_true(dt >= 150);
	assert_true(dt < 4000);
	lock_release(&l);
	waitpid(releaser, NULL, 0);
}

/* OFD locks die with the descriptor: SIGKILL of the holder frees it. */
static void
test_killed_holder(void **state)
{
	struct fixture *f = *state;
	struct lock l = LOCK_INIT;

	start_holder(f);
	assert_int_equal(lock_acquire(&l, f->path, 50), CP_EBUSY);
	assert_int_equal(kill(f->child, SIGKILL), 0);
	assert_int_equal(waitpid(f->child, NULL, 0), f->child);
	f->child = -1;
	assert_int_equal(lock_acquire(&l, f->path, 1000), CP_OK);
	lock_release(&l);
}

/* OFD locks belong to the open file, not the process: two lock structs in
 * one process exclude each other (a classic F_SETLK would not). */
static void
test_same_process(void **state)
{
	struct fixture *f = *state;
	struct lock a = LOCK_INIT, b = LOCK_INIT;

	assert_int_equal(lock_acquire(&a, f->path, 100), CP_OK);
	assert_int_equal(lock_acquire(&b, f->path, 0), CP_EBUSY);
	lock_release(&a);
	assert_int_equal(lock_acquire(&b, f->path, 0), CP_OK);
	lock_release(&b);
}

/* A holder that takes the lock straight back after each release (a
 * back-to-back writer) does not starve a waiter: each of WAITS waits gets
 * the lock well inside its bound. (Polling, as lock.c once did, lost most
 * of these.) */
#define FAIR_WAITS 30
#define FAIR_HOLD_US 2000

static void
test_back_to_back_holder_does_not_starve(void **state)
{
	struct fixture *f = *state;
	struct lock l = LOCK_INIT;
	long long t0, dt, worst = 0;
	int i, got = 0;
	pid_t hog;

	hog = fork();
	assert_true(hog >= 0);
	if (hog == 0) {
		struct lock h = LOCK_INIT;

		for (;;) {
			if (lock_acquire(&h, f->path, 5000) != CP_OK)
				continue;
			usleep(FAIR_HOLD_US);
			lock_release(&h);
		}
	}
	f->child = hog;   /* teardown kills it if an assert fires */
	usleep(20 * 1000);
	for (i = 0; i < FAIR_WAITS; i++) {
		t0 = now_ms();
		if (lock_acquire(&l, f->path, 1000) == CP_OK) {
			got++;
			lock_release(&l);
		}
		dt = now_ms() - t0;
		if (dt > worst)
			worst = dt;
	}
	print_message("# %d of %d waits behind a back-to-back holder got the lock, "
	    "worst wait %lld ms\n", got, FAIR_WAITS, worst);
	assert_int_equal(got, FAIR_WAITS);
}

static volatile sig_atomic_t usr1_seen;

static void
on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

/* Other signals (not restarted) during the wait neither end it early nor
 * make it hang: CP_EBUSY after the timeout, as without them. */
static void
test_other_signals_during_wait(void **state)
{
	struct fixture *f = *state;
	struct lock l = LOCK_INIT;
	struct sigaction sa, old;
	long long t0, dt;
	pid_t pinger, me = getpid();

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	start_holder(f);
	usr1_seen = 0;
	pinger = fork();
	assert_true(pinger >= 0);
	if (pinger == 0) {
		int i;

		for (i = 0; i < 25; i++) {
			usleep(10 * 1000);
			kill(me, SIGUSR1);
		}
		_exit(0);
	}
	t0 = now_ms();
	assert_int_equal(lock_acquire(&l, f->path, 400), CP_EBUSY);
	dt = now_ms() - t0;
	waitpid(pinger, NULL, 0);
	sigaction(SIGUSR1, &old, NULL);
	assert_true(usr1_seen > 5);
	assert_true(dt >= 390);
	assert_true(dt < 3000);
}

static void
test_bad_path(void **state)
{
	struct fixture *f = *state;
	struct lock l = LOCK_INIT;
	char p[160];

	snprintf(p, sizeof(p), "%s/missing/.lock", f->dir);
	errno = 0;
	assert_int_equal(lock_acquire(&l, p, 10), CP_EIO);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(l.fd, -1);
	/* A symlink is not followed. */
	snprintf(p, sizeof(p), "%s/link", f->dir);
	assert_int_equal(symlink(f->path, p), 0);
	assert_int_equal(lock_acquire(&l, p, 10), CP_EIO);
	unlink(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_contend, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_then_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_back_to_back_holder_does_not_starve, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_other_signals_during_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_path, setup, teardown),
	};

	return cmocka_run_group_tests_name("lock", tests, NULL, NULL);
}
