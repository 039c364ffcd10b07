/*
 * test_log.c - stderr lines carry the program name and level, levels
 * filter, log_warn appends strerror(errno) and keeps errno.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core.h"

/* Run the logging calls with stderr sent to a temp file; return its text. */
static char *
capture(void (*fn)(void))
{
	char path[] = "/tmp/cp-log-XXXXXX";
	char *out = NULL;
	size_t len;
	int fd, saved;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	fn();
	fflush(stderr);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	close(fd);
	assert_int_equal(fio_read_file(path, 65536, &out, &len), CP_OK);
	unlink(path);
	return out;
}

static void
emit_info_level(void)
{
	log_init("tprog", false, LOG_LVL_INFO);
	log_debug("hidden %d", 1);
	log_info("shown '%s'", "subject");
	log_warnx("plain warning");
	errno = ENOSPC;
	log_warn("cannot write '%s'", "f");
	log_errx("bad %s", "thing");
	errno = ENOENT;
	log_err("cannot open");
}

static void
emit_err_level(void)
{
	log_init("tprog", false, LOG_LVL_ERR);
	log_info("hidden info");
	log_warnx("hidden warning");
	log_errx("only this");
	log_errx("forged '%s'", "x\ntprog: info: fake\r\x1b[0m");
}

static void
test_stderr(void **state)
{
	char *out;

	(void)state;
	out = capture(emit_info_level);
	assert_string_equal(out,
	    "tprog: info: shown 'subject'\n"
	    "tprog: warning: plain warning\n"
	    "tprog: warning: cannot write 'f': No space left on device\n"
	    "tprog: error: bad thing\n"
	    "tprog: error: cannot open: No such file or directory\n");
	free(out);
	out = capture(emit_err_level);
	/* A newline in an argument cannot start a second line. */
	assert_string_equal(out, "tprog: error: only this\n"
	    "tprog: error: forged 'x?tprog: info: fake??[0m'\n");
	free(out);
}

static void
test_levels_errno(void **state)
{
	(void)state;
	log_init("tprog", false, LOG_LVL_WARN);
	assert_int_equal(log_get_level(), LOG_LVL_WARN);
	log_set_level(LOG_LVL_DEBUG);
	assert_int_equal(log_get_level(), LOG_LVL_DEBUG);
	log_set_level((enum log_level)99);
	assert_int_equal(log_get_level(), LOG_LVL_DEBUG);
	log_set_level(LOG_LVL_ERR);
	/* A logging call does not disturb errno for the caller. */
	errno = EACCES;
	log_warn("filtered");
	log_debug("%s", "filtered too");
	assert_int_equal(errno, EACCES);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stderr),
		cmocka_unit_test(test_levels_errno),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
