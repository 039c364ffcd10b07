# Unit tests of cliproxyd's pure modules: the SSE parser and the pool.
PROXYD_UNIT_TESTS = tests/unit/test_proxyd_sse tests/unit/test_proxyd_pool
check_PROGRAMS += $(PROXYD_UNIT_TESTS)
TESTS += $(PROXYD_UNIT_TESTS)
PROXYD_UNIT_CFLAGS = $(UNIT_CFLAGS) $(EVENT_CFLAGS) $(CURL_CFLAGS)
PROXYD_UNIT_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/proxyd
tests_unit_test_proxyd_sse_SOURCES = tests/unit/test_proxyd_sse.c src/proxyd/sse.c
tests_unit_test_proxyd_sse_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_proxyd_sse_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_proxyd_sse_LDADD = $(UNIT_LIBS)
tests_unit_test_proxyd_pool_SOURCES = tests/unit/test_proxyd_pool.c src/proxyd/pool.c
tests_unit_test_proxyd_pool_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_proxyd_pool_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_proxyd_pool_LDADD = $(UNIT_LIBS)
# The golden-file driver of the codecs (tests/data/formats/, DESIGN 6).
PROXYD_CODEC_SOURCES = src/proxyd/sse.c src/proxyd/formats/pivot.c \
	src/proxyd/formats/openai_chat.c src/proxyd/formats/openai_responses.c \
	src/proxyd/formats/claude.c src/proxyd/formats/gemini.c
check_PROGRAMS += tests/unit/test_formats
TESTS += tests/unit/test_formats
tests_unit_test_formats_SOURCES = tests/unit/test_formats.c $(PROXYD_CODEC_SOURCES)
tests_unit_test_formats_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_formats_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_formats_LDADD = $(UNIT_LIBS) -lm
# The Claude and Gemini codecs: direct tests and their count goldens.
check_PROGRAMS += tests/unit/test_codec_cg
TESTS += tests/unit/test_codec_cg
tests_unit_test_codec_cg_SOURCES = tests/unit/test_codec_cg.c $(PROXYD_CODEC_SOURCES)
tests_unit_test_codec_cg_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_codec_cg_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_codec_cg_LDADD = $(UNIT_LIBS)
EXTRA_DIST += tests/data/formats tests/data/count
