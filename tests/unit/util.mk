# Unit tests of the utility modules.
UTIL_TESTS = tests/unit/test_strutil tests/unit/test_sha256
check_PROGRAMS += $(UTIL_TESTS)
TESTS += $(UTIL_TESTS)
tests_unit_test_strutil_SOURCES = tests/unit/test_strutil.c
tests_unit_test_strutil_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_strutil_LDADD = $(UNIT_LIBS)
tests_unit_test_sha256_SOURCES = tests/unit/test_sha256.c
tests_unit_test_sha256_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_sha256_LDADD = $(UNIT_LIBS)
