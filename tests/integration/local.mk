# Python integration tests (standard library only; DESIGN.md 7). Each
# script speaks TAP through tap.py; harness.py starts servers and cleans up.
EXTRA_DIST += tests/integration/tap.py tests/integration/harness.py
