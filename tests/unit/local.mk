# cmocka unit tests (DESIGN.md 7). Each fragment adds its programs.
UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
UNIT_LIBS = $(CORE_LIBS) $(CMOCKA_LIBS)
include tests/unit/util.mk
include tests/unit/cfg.mk
include tests/unit/mgmt.mk
include tests/unit/proxyd.mk
