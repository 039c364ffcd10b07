# cliproxyd, the proxy daemon (DESIGN.md 6). The file split is the design:
# formats/ and providers/ are the two seams later work plugs into.
sbin_PROGRAMS += src/proxyd/cliproxyd
src_proxyd_cliproxyd_SOURCES = src/proxyd/proxyd.h \
	src/proxyd/main.c src/proxyd/server.c src/proxyd/snapshot.c \
	src/proxyd/watch.c src/proxyd/upstream.c src/proxyd/pool.c \
	src/proxyd/relay.c src/proxyd/sse.c src/proxyd/reqlog.c \
	src/proxyd/status.c src/proxyd/reply.c src/proxyd/route.c src/proxyd/policy.c \
	src/proxyd/xlate.c src/proxyd/clientauth.c src/proxyd/gate.c src/proxyd/refresh.c \
	src/proxyd/formats/pivot.h src/proxyd/formats/pivot.c \
	src/proxyd/formats/openai.h \
	src/proxyd/formats/openai_chat.c src/proxyd/formats/openai_responses.c \
	src/proxyd/formats/claude.c src/proxyd/formats/gemini.c \
	src/proxyd/providers/common.c src/proxyd/providers/catalogue.c \
	src/proxyd/providers/catalogue.def \
	src/proxyd/providers/openai_compat.c src/proxyd/providers/gemini.c \
	src/proxyd/providers/claude.c src/proxyd/providers/codex.c \
	src/proxyd/providers/qwen.c
src_proxyd_cliproxyd_CFLAGS = $(AM_CFLAGS) $(EVENT_CFLAGS) $(CURL_CFLAGS)
src_proxyd_cliproxyd_LDADD = $(CORE_LIBS) $(EVENT_LIBS) $(CURL_LIBS)
src_proxyd_cliproxyd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/proxyd
