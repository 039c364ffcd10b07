/*
 * ctl.h - the private header of cliproxyctl (DESIGN 2), prototypes by file.
 */
#ifndef CLIPROXY_CTL_H
#define CLIPROXY_CTL_H

#include "core.h"

/* ------------------------------------------------------------ login.c */

/* `cliproxyctl login KIND [options]`; argv[0] is "login". Exit status. */
int ctl_login(int argc, char **argv);

#endif /* CLIPROXY_CTL_H */
