/*
 * err.c - names of the core error codes (STYLE.md "Errors").
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "core.h"

static const char *const err_names[] = {
	[CP_OK] = "ok",
	[CP_ENOMEM] = "out of memory",
	[CP_EINVAL] = "invalid input",
	[CP_ENOTFOUND] = "not found",
	[CP_EBUSY] = "busy",
	[CP_EIO] = "i/o error",
	[CP_EPARSE] = "parse error",
	[CP_ETOOBIG] = "too large",
	[CP_ETYPE] = "wrong type",
	[CP_EEXIST] = "already exists",
	[CP_EPERM] = "not permitted",
	[CP_ELIMIT] = "limit reached",
};

const char *
cp_strerror(int err)
{
	if (err < 0 || (size_t)err >= sizeof(err_names) / sizeof(err_names[0]) ||
	    err_names[err] == NULL)
		return "unknown error";
	return err_names[err];
}

void
cp_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
