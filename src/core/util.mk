# Utility modules of libcore (log, buf, strutil, sha256, json, lock,
# fileio, pw, authstore).
CORE_UTIL_SRC +=
