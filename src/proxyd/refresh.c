/*
 * refresh.c - OAuth token refresh for accounts (issue 12, PROVIDERS.md 4
 * and 5). Not written yet: every refresh fails, so a 401 from an account
 * cools it down like a bad key (policy.c).
 */
#include "config.h"

#include "proxyd.h"

int
refresh_init(struct event_base *base)
{
	(void)base;
	return CP_OK;
}

void
refresh_shutdown(void)
{
}

int
refresh_start(const struct cred *c, prov_refresh_done done, void *arg)
{
	(void)c;
	(void)done;
	(void)arg;
	return CP_EPERM;  /* not yet: the caller cools the account down */
}
