# Unit tests of the config modules.
CFG_TESTS = tests/unit/test_yaml tests/unit/test_config tests/unit/test_cfgtx
check_PROGRAMS += $(CFG_TESTS)
TESTS += $(CFG_TESTS)
tests_unit_test_yaml_SOURCES = tests/unit/test_yaml.c tests/unit/cfgtest.h
tests_unit_test_yaml_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_yaml_LDADD = $(UNIT_LIBS)
tests_unit_test_config_SOURCES = tests/unit/test_config.c tests/unit/cfgtest.h
tests_unit_test_config_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_config_LDADD = $(UNIT_LIBS)
tests_unit_test_cfgtx_SOURCES = tests/unit/test_cfgtx.c
tests_unit_test_cfgtx_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_cfgtx_LDADD = $(UNIT_LIBS)
# libFuzzer harness for cfg_parse + yaml_set (built by hand, see its header).
EXTRA_DIST += tests/fuzz/fuzz_yaml.c
