/*
 * log.c - the one place that prints (STYLE.md "Errors"): stderr with the
 * program name and level, or syslog(3). Library code logs through here and
 * never prints directly. Messages never carry secrets (DESIGN 5).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "core.h"

#define LOG_LINE_MAX 2048 /* one formatted message; longer ones are cut */

static const char *log_ident = "cliproxy"; /* program name (borrowed) */
static bool log_syslog;                    /* syslog(3) instead of stderr */
static enum log_level log_level = LOG_LVL_INFO; /* most verbose level shown */

static const char *const log_names[] = {
	[LOG_LVL_ERR] = "error",
	[LOG_LVL_WARN] = "warning",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

static const int log_prio[] = {
	[LOG_LVL_ERR] = LOG_ERR,
	[LOG_LVL_WARN] = LOG_WARNING,
	[LOG_LVL_INFO] = LOG_INFO,
	[LOG_LVL_DEBUG] = LOG_DEBUG,
};

void
log_init(const char *ident, bool to_syslog, enum log_level level)
{
	if (ident != NULL && *ident != '\0')
		log_ident = ident;
	if (log_syslog && !to_syslog)
		closelog();
	log_syslog = to_syslog;
	log_set_level(level);
	if (log_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(enum log_level level)
{
	if ((int)level < (int)LOG_LVL_ERR)
		level = LOG_LVL_ERR;
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

__attribute__((format(printf, 3, 0)))
static void
log_vemit(enum log_level level, bool with_errno, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int saved = errno;
	size_t n;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(saved));
	}
	/* Arguments can come from requests (addresses, names): a control byte
	 * must not forge or split log lines. */
	for (n = 0; msg[n] != '\0'; n++)
		if ((unsigned char)msg[n] < 0x20 || msg[n] == 0x7f)
			msg[n] = '?';
	if (log_syslog)
		syslog(log_prio[level], "%s", msg);
	else
		fprintf(stderr, "%s: %s: %s\n", log_ident, log_names[level], msg);
	errno = saved;
}

#define LOG_FN(fn, level, with_errno) \
	void \
	fn(const char *fmt, ...) \
	{ \
		va_list ap; \
		va_start(ap, fmt); \
		log_vemit(level, with_errno, fmt, ap); \
		va_end(ap); \
	}

LOG_FN(log_err, LOG_LVL_ERR, true)
LOG_FN(log_errx, LOG_LVL_ERR, false)
LOG_FN(log_warn, LOG_LVL_WARN, true)
LOG_FN(log_warnx, LOG_LVL_WARN, false)
LOG_FN(log_info, LOG_LVL_INFO, false)
LOG_FN(log_debug, LOG_LVL_DEBUG, false)
