# libcore.a: everything cliproxy-mgmt and cliproxyd share (DESIGN.md 2).
# The utility files and the config files keep their lists in two fragments
# so that they can grow independently.
noinst_LIBRARIES += src/core/libcore.a
CORE_UTIL_SRC =
CORE_CFG_SRC =
include src/core/util.mk
include src/core/cfg.mk
src_core_libcore_a_SOURCES = src/core/core.h src/core/err.c \
	$(CORE_UTIL_SRC) $(CORE_CFG_SRC)
src_core_libcore_a_CFLAGS = $(AM_CFLAGS) $(CRYPT_CFLAGS) $(CURL_CFLAGS) $(SQLITE_CFLAGS) \
	-pthread

# What a program linking libcore.a needs after it.
CORE_LIBS = src/core/libcore.a $(YAML_LIBS) $(CJSON_LIBS) $(CRYPT_LIBS) $(SQLITE_LIBS)
