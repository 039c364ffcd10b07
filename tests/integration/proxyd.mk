# cliproxyd integration tests (DESIGN 7): the real daemon against python
# mock upstreams on loopback ports chosen at run time. proxyd_sdk.py drives
# the official SDKs (tests/sdk, node) through it to tests/mock/api_mock.py.
PROXYD_PY_TESTS = \
	tests/integration/proxyd_basic.py \
	tests/integration/proxyd_retry.py \
	tests/integration/proxyd_stream.py \
	tests/integration/proxyd_reload.py \
	tests/integration/proxyd_upconn.py \
	tests/integration/proxyd_providers.py \
	tests/integration/proxyd_hostile.py \
	tests/integration/proxyd_usage.py \
	tests/integration/proxyd_accounts.py \
	tests/integration/proxyd_refresh.py \
	tests/integration/proxyd_sdk.py
TESTS += $(PROXYD_PY_TESTS)
EXTRA_DIST += $(PROXYD_PY_TESTS) \
	tests/integration/proxyd_support.py \
	tests/mock/openai_mock.py \
	tests/mock/proxy_mock.py \
	bench/proxyd_reload.py \
	bench/proxyd_refresh.py \
	bench/proxyd_accounts.py \
	bench/proxyd_rss.py
