# Unit tests of cliproxyd's pure modules: the SSE parser, the pool, the
# policy, the route table, model routing (catalogue + snapshot), the
# translation seam (xlate.c) and the format codecs.
PROXYD_UNIT_TESTS = tests/unit/test_proxyd_sse tests/unit/test_proxyd_pool \
	tests/unit/test_proxyd_policy tests/unit/test_proxyd_route \
	tests/unit/test_proxyd_catalogue tests/unit/test_proxyd_xlate \
	tests/unit/test_codec_openai
check_PROGRAMS += $(PROXYD_UNIT_TESTS)
TESTS += $(PROXYD_UNIT_TESTS)
PROXYD_UNIT_CFLAGS = $(UNIT_CFLAGS) $(EVENT_CFLAGS) $(CURL_CFLAGS)
PROXYD_UNIT_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/proxyd
# Every codec (pivot.c's codec_for names them all) and what they use.
PROXYD_CODEC_SOURCES = src/proxyd/sse.c src/proxyd/formats/pivot.c \
	src/proxyd/formats/openai_chat.c src/proxyd/formats/openai_responses.c \
	src/proxyd/formats/claude.c src/proxyd/formats/gemini.c
tests_unit_test_proxyd_sse_SOURCES = tests/unit/test_proxyd_sse.c src/proxyd/sse.c
tests_unit_test_proxyd_sse_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_proxyd_sse_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_proxyd_sse_LDADD = $(UNIT_LIBS)
tests_unit_test_proxyd_pool_SOURCES = tests/unit/test_proxyd_pool.c src/proxyd/pool.c
tests_unit_test_proxyd_pool_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_proxyd_pool_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_proxyd_pool_LDADD = $(UNIT_LIBS)
tests_unit_test_codec_openai_SOURCES = tests/unit/test_codec_openai.c $(PROXYD_CODEC_SOURCES)
tests_unit_test_codec_openai_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_codec_openai_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_codec_openai_LDADD = $(UNIT_LIBS)
tests_unit_test_proxyd_policy_SOURCES = tests/unit/test_proxyd_policy.c src/proxyd/policy.c
tests_unit_test_proxyd_policy_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_proxyd_policy_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_proxyd_policy_LDADD = $(UNIT_LIBS)
tests_unit_test_proxyd_route_SOURCES = tests/unit/test_proxyd_route.c src/proxyd/route.c
tests_unit_test_proxyd_route_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_proxyd_route_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_proxyd_route_LDADD = $(UNIT_LIBS)
tests_unit_test_proxyd_xlate_SOURCES = tests/unit/test_proxyd_xlate.c src/proxyd/xlate.c \
	$(PROXYD_CODEC_SOURCES)
tests_unit_test_proxyd_xlate_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_proxyd_xlate_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_proxyd_xlate_LDADD = $(UNIT_LIBS)
# Model routing runs the real snapshot build: the providers and what they
# stand on, no event loop.
tests_unit_test_proxyd_catalogue_SOURCES = tests/unit/test_proxyd_catalogue.c \
	src/proxyd/snapshot.c src/proxyd/policy.c src/proxyd/providers/common.c \
	src/proxyd/providers/catalogue.c src/proxyd/providers/openai_compat.c \
	src/proxyd/providers/gemini.c src/proxyd/providers/claude.c \
	src/proxyd/providers/codex.c src/proxyd/providers/qwen.c src/proxyd/refresh.c \
	src/proxyd/pool.c $(PROXYD_CODEC_SOURCES)
tests_unit_test_proxyd_catalogue_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_proxyd_catalogue_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_proxyd_catalogue_LDADD = $(UNIT_LIBS) $(EVENT_LIBS) $(CURL_LIBS) -lm
# OAuth refresh (issue 12) against tests/mock/oauth_mock.py on a real loop
# and auth-dir; short token-call timeout and tick for the test.
check_PROGRAMS += tests/unit/test_proxyd_refresh
TESTS += tests/unit/test_proxyd_refresh
tests_unit_test_proxyd_refresh_SOURCES = tests/unit/test_proxyd_refresh.c \
	src/proxyd/refresh.c src/proxyd/pool.c src/proxyd/snapshot.c src/proxyd/policy.c \
	src/proxyd/providers/common.c src/proxyd/providers/catalogue.c \
	src/proxyd/providers/openai_compat.c src/proxyd/providers/gemini.c \
	src/proxyd/providers/claude.c src/proxyd/providers/codex.c \
	src/proxyd/providers/qwen.c $(PROXYD_CODEC_SOURCES)
tests_unit_test_proxyd_refresh_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_proxyd_refresh_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS) -DREFRESH_HTTP_MS=1500 \
	-DREFRESH_TICK_S=1
tests_unit_test_proxyd_refresh_LDADD = $(UNIT_LIBS) $(EVENT_LIBS) $(CURL_LIBS) -lm
# The golden-file driver of the codecs (tests/data/formats/, DESIGN 6).
check_PROGRAMS += tests/unit/test_formats
TESTS += tests/unit/test_formats
tests_unit_test_formats_SOURCES = tests/unit/test_formats.c src/proxyd/xlate.c $(PROXYD_CODEC_SOURCES)
tests_unit_test_formats_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_formats_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_formats_LDADD = $(UNIT_LIBS) -lm
# Translation across families: tool names, schema bombs.
check_PROGRAMS += tests/unit/test_codec_names
TESTS += tests/unit/test_codec_names
tests_unit_test_codec_names_SOURCES = tests/unit/test_codec_names.c src/proxyd/xlate.c \
	$(PROXYD_CODEC_SOURCES)
tests_unit_test_codec_names_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_codec_names_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_codec_names_LDADD = $(UNIT_LIBS)
# The Claude and Gemini codecs: direct tests and their count goldens.
check_PROGRAMS += tests/unit/test_codec_cg
TESTS += tests/unit/test_codec_cg
tests_unit_test_codec_cg_SOURCES = tests/unit/test_codec_cg.c $(PROXYD_CODEC_SOURCES)
tests_unit_test_codec_cg_CFLAGS = $(PROXYD_UNIT_CFLAGS)
tests_unit_test_codec_cg_CPPFLAGS = $(PROXYD_UNIT_CPPFLAGS)
tests_unit_test_codec_cg_LDADD = $(UNIT_LIBS)
EXTRA_DIST += tests/data/formats tests/data/count
# The official openai SDK reads the OpenAI goldens' client answers
# (tests/sdk/goldens.mjs; node and tests/sdk/node_modules as sdk_mock.py).
TESTS += tests/integration/sdk_goldens.py
EXTRA_DIST += tests/integration/sdk_goldens.py tests/sdk/goldens.mjs
