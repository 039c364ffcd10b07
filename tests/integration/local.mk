# Python integration tests (standard library only; DESIGN.md 7). Each
# script speaks TAP through tap.py; harness.py starts servers and cleans up.
EXTRA_DIST += tests/integration/tap.py tests/integration/harness.py \
	tests/integration/mgmtlib.py tests/integration/mgmtplus.py
# Management API (issue 3): plain CGI, then three deployments.
MGMT_INTEGRATION_TESTS = tests/integration/mgmt_cgi.py \
	tests/integration/mgmt_lighttpd.py tests/integration/mgmt_apache.py \
	tests/integration/mgmt_spawnfcgi.py \
	tests/integration/mgmt_plus.py tests/integration/mgmt_usage.py
TESTS += $(MGMT_INTEGRATION_TESTS)
EXTRA_DIST += $(MGMT_INTEGRATION_TESTS)
include tests/integration/rel.mk
include tests/integration/proxyd.mk
include tests/integration/mock.mk
# cliproxyctl login against the OAuth mock (issue 12).
CTL_PY_TESTS = tests/integration/ctl_login.py tests/integration/mgmt_login.py
TESTS += $(CTL_PY_TESTS)
EXTRA_DIST += $(CTL_PY_TESTS) tests/mock/oauth_mock.py
# The shared-host deployment (issue 14): a user's home, mod_userdir,
# suexec, cgi-bin/install.sh (root: creates and removes the user).
TESTS += tests/integration/shared_host.py
EXTRA_DIST += tests/integration/shared_host.py
