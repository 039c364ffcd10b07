# (filled by its issue)
include tests/integration/proxyd.mk
