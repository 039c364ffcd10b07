# Unit tests of the config modules.
CFG_TESTS = tests/unit/test_yaml
check_PROGRAMS += $(CFG_TESTS)
TESTS += $(CFG_TESTS)
EXTRA_DIST += tests/unit/cfgtest.h
tests_unit_test_yaml_SOURCES = tests/unit/test_yaml.c tests/unit/cfgtest.h
tests_unit_test_yaml_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_yaml_LDADD = $(UNIT_LIBS)
