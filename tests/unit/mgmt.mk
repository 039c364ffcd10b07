# Unit tests of the management responder's parsers (src/mgmt).
check_PROGRAMS += tests/unit/test_multipart
TESTS += tests/unit/test_multipart
tests_unit_test_multipart_SOURCES = tests/unit/test_multipart.c src/mgmt/multipart.c
tests_unit_test_multipart_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/mgmt
tests_unit_test_multipart_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_multipart_LDADD = $(CMOCKA_LIBS)

check_PROGRAMS += tests/unit/test_mgmt_request
TESTS += tests/unit/test_mgmt_request
tests_unit_test_mgmt_request_SOURCES = tests/unit/test_mgmt_request.c \
	src/mgmt/request.c src/mgmt/response.c
tests_unit_test_mgmt_request_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/mgmt
tests_unit_test_mgmt_request_CFLAGS = $(UNIT_CFLAGS)
tests_unit_test_mgmt_request_LDADD = $(UNIT_LIBS)
