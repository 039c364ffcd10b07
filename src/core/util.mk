# Utility modules of libcore (log, buf, strutil, sha256, json, lock,
# fileio, pw, authstore, etag, oauth, usage).
CORE_UTIL_SRC += src/core/log.c src/core/buf.c src/core/strutil.c \
	src/core/sha256.c src/core/json.c src/core/lock.c src/core/fileio.c \
	src/core/pw.c src/core/authstore.c src/core/etag.c src/core/oauth.c \
	src/core/oauth_flow.c src/core/httpc.c \
	src/core/usage.c
