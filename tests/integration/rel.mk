# Reliability and security suites (issue 5; tests/README.md has the figures
# and how to rerun each). rel_core is a second writer on the core API.
check_PROGRAMS += tests/integration/rel_core
tests_integration_rel_core_SOURCES = tests/integration/rel_core.c
tests_integration_rel_core_LDADD = $(CORE_LIBS)
EXTRA_DIST += tests/integration/rellib.py tests/README.md
REL_TESTS = tests/integration/rel_kill.py tests/integration/rel_concurrency.py \
	tests/integration/rel_faults.py tests/integration/rel_hostile.py \
	tests/integration/rel_reload.py tests/integration/rel_secrets.py
TESTS += $(REL_TESTS)
EXTRA_DIST += $(REL_TESTS)
# usage_fill: fills a usage database through the core writer (issue 15;
# mgmt_usage.py and bench/usage.py).
check_PROGRAMS += tests/integration/usage_fill
tests_integration_usage_fill_SOURCES = tests/integration/usage_fill.c
tests_integration_usage_fill_LDADD = $(CORE_LIBS)
