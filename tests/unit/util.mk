# Unit tests of the utility modules.
UTIL_TESTS = tests/unit/test_strutil tests/unit/test_sha256 tests/unit/test_json \
	tests/unit/test_lock tests/unit/test_fileio \
	tests/unit/test_pw tests/unit/test_authstore \
	tests/unit/test_log tests/unit/test_etag tests/unit/test_oauth tests/unit/test_usage
check_PROGRAMS += $(UTIL_TESTS)
TESTS += $(UTIL_TESTS)
tests_unit_test_strutil_SOURCES = tests/unit/test_strutil.c
tests_unit_test_strutil_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_strutil_LDADD = $(UNIT_LIBS)
tests_unit_test_etag_SOURCES = tests/unit/test_etag.c
tests_unit_test_etag_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_etag_LDADD = $(UNIT_LIBS)
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
tests_unit_test_pw_SOURCES = tests/unit/test_pw.c
tests_unit_test_pw_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_pw_LDADD = $(UNIT_LIBS)
tests_unit_test_authstore_SOURCES = tests/unit/test_authstore.c
tests_unit_test_authstore_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_authstore_LDADD = $(UNIT_LIBS)
tests_unit_test_log_SOURCES = tests/unit/test_log.c
tests_unit_test_log_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_log_LDADD = $(UNIT_LIBS)
tests_unit_test_oauth_SOURCES = tests/unit/test_oauth.c
tests_unit_test_oauth_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_oauth_LDADD = $(UNIT_LIBS)
tests_unit_test_usage_SOURCES = tests/unit/test_usage.c
tests_unit_test_usage_CFLAGS = $(UNIT_CFLAGS) $(SQLITE_CFLAGS)
tests_unit_test_usage_LDADD = $(UNIT_LIBS)
