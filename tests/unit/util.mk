# Unit tests of the utility modules.
UTIL_TESTS = tests/unit/test_strutil tests/unit/test_sha256 tests/unit/test_json \
	tests/unit/test_lock tests/unit/test_fileio
check_PROGRAMS += $(UTIL_TESTS)
TESTS += $(UTIL_TESTS)
tests_unit_test_strutil_SOURCES = tests/unit/test_strutil.c
tests_unit_test_strutil_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_strutil_LDADD = $(UNIT_LIBS)
tests_unit_test_sha256_SOURCES = tests/unit/test_sha256.c
tests_unit_test_sha256_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_sha256_LDADD = $(UNIT_LIBS)
tests_unit_test_json_SOURCES = tests/unit/test_json.c
tests_unit_test_json_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_json_LDADD = $(UNIT_LIBS)
tests_unit_test_lock_SOURCES = tests/unit/test_lock.c
tests_unit_test_lock_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_lock_LDADD = $(UNIT_LIBS)
tests_unit_test_fileio_SOURCES = tests/unit/test_fileio.c
tests_unit_test_fileio_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_fileio_LDADD = $(UNIT_LIBS)
