# The four-API mock upstream (tests/mock/api_mock.py, issue 11) and the
# official client SDKs (tests/sdk, installed by tools/test with npm ci):
# the mock's refusals, and every SDK scenario straight against the mock.
MOCK_PY_TESTS = \
	tests/integration/api_mock_strict.py \
	tests/integration/sdk_mock.py
TESTS += $(MOCK_PY_TESTS)
EXTRA_DIST += $(MOCK_PY_TESTS) \
	tests/mock/api_mock.py \
	tests/sdk/package.json \
	tests/sdk/package-lock.json \
	tests/sdk/common.mjs \
	tests/sdk/openai.mjs \
	tests/sdk/anthropic.mjs \
	tests/sdk/gemini.mjs
