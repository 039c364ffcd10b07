#!/usr/bin/env python3
"""sdk_mock.py - the official client SDKs (tests/sdk: openai, @anthropic-ai/sdk,
@google/genai from npm) run every scenario of tests/sdk/*.mjs against the
four-API mock upstream (tests/mock/api_mock.py) directly, and every result
is asserted. This proves the mock speaks what the SDKs parse, event for
event; the same scenarios then prove cliproxyd does (see tests/README.md).

Reuse against another server: subclass SdkScenarios with a Target:

    class SdkThroughDaemon(SdkScenarios, unittest.TestCase):
        @classmethod
        def setUpClass(cls):
            ... start the mock and cliproxyd ...
            cls.target = Target(openai="http://127.0.0.1:%d/v1" % port,
                                anthropic="http://127.0.0.1:%d" % port,
                                gemini="http://127.0.0.1:%d" % port,
                                key=CLIENT_KEY, exact=False)
            super().setUpClass()

exact=True (direct against the mock) also asserts the mock's ids, usage
figures and token counts, which a translating proxy may legitimately change.

Needs node (Debian: nodejs) and tests/sdk/node_modules (tools/test runs
`npm ci` there; by hand: npm ci --prefix tests/sdk). Standard library only.
"""
import json
import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("CLIPROXY_SRCDIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "mock"))
import tap  # noqa: E402
import api_mock  # noqa: E402

SDK_DIR = os.path.join(SRCDIR, "tests", "sdk")
SDK_PACKAGES = {"openai": "openai", "anthropic": "@anthropic-ai/sdk", "gemini": "@google/genai"}
DEFAULT_MODELS = {"openai": "gpt-5", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-pro"}
TOOL_ANSWER = "Tool results: get_weather(Paris) ok | get_time(Tokyo) ok."
CALLS = [("get_weather", {"city": "Paris"}), ("get_time", {"city": "Tokyo"})]


class Target:
    """Where the SDKs send their requests."""

    def __init__(self, openai, anthropic, gemini, key, models=None, codex=None, exact=False):
        self.base = {"openai": openai, "anthropic": anthropic, "gemini": gemini}
        self.key = key
        self.models = dict(DEFAULT_MODELS, **(models or {}))
        self.codex = codex
        self.exact = exact


def node_or_fail():
    node = shutil.which("node")
    if not node:
        raise RuntimeError("node not found: install the Debian packages nodejs and npm "
                           "(tools/deps.sh does)")
    for pkg in SDK_PACKAGES.values():
        if not os.path.isfile(os.path.join(SDK_DIR, "node_modules", pkg, "package.json")):
            raise RuntimeError("%s missing under tests/sdk/node_modules: run tools/test, or "
                               "npm ci --prefix tests/sdk" % pkg)
    return node


def run_sdk(sdk, target, timeout=120):
    """Run tests/sdk/<sdk>.mjs against target; {scenario: result line}."""
    node = node_or_fail()
    args = [node, os.path.join(SDK_DIR, sdk + ".mjs"), "--base-url", target.base[sdk],
            "--key", target.key, "--model", target.models[sdk]]
    if sdk == "openai" and target.codex:
        args += ["--codex-base-url", target.codex]
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=SDK_DIR)
    lines = {}
    for ln in p.stdout.splitlines():
        d = json.loads(ln)
        lines[d["scenario"]] = d
    if p.returncode != 0:
        raise RuntimeError("%s.mjs exited %d: %s" % (sdk, p.returncode, p.stderr[-2000:]))
    return lines


def _subset(tc, actual, expected, where):
    """Every member of expected is in actual with the same value (recursively;
    lists of objects element by element)."""
    if isinstance(expected, dict):
        tc.assertIsInstance(actual, dict, where)
        for k, v in expected.items():
            tc.assertIn(k, actual, "%s: no %r in %s" % (where, k, actual))
            _subset(tc, actual[k], v, "%s.%s" % (where, k))
    elif isinstance(expected, list) and any(isinstance(e, dict) for e in expected):
        tc.assertIsInstance(actual, list, where)
        tc.assertEqual(len(actual), len(expected), "%s: %s" % (where, actual))
        for i, (a, e) in enumerate(zip(actual, expected)):
            _subset(tc, a, e, "%s[%d]" % (where, i))
    else:
        tc.assertEqual(actual, expected, where)


# What each scenario must give through any faithful server, and (exact) what
# the mock gives directly. A callable gets (testcase, result, target).
def _err429(tc, r, t):
    tc.assertTrue(r["threw"], r)
    tc.assertEqual(r["status"], 429, r)


EXPECT = {
    "openai": {
        "chat_text": ({"text": api_mock.TEXT, "finish_reason": "stop"},
                      {"id": "chatcmpl-mock", "usage": {"prompt": 4, "completion": 4}}),
        "chat_stream": ({"text": api_mock.TEXT, "role": "assistant", "finish_reason": "stop"},
                        {"usage": {"prompt": 4, "completion": 4}, "chunks": 7}),
        "chat_tools": ({"calls": [{"name": n, "arguments": a} for n, a in CALLS],
                        "finish_reason": "tool_calls", "answer": TOOL_ANSWER,
                        "answer_finish": "stop"},
                       {"calls": [{"id": "call_mock_%d" % (i + 1), "name": n, "arguments": a}
                                  for i, (n, a) in enumerate(CALLS)]}),
        "chat_tools_stream": ({"calls": [{"name": n, "arguments": a} for n, a in CALLS],
                               "finish_reason": "tool_calls", "answer": TOOL_ANSWER},
                              {"arg_deltas": 6}),
        "chat_think": ({"text": api_mock.TEXT, "reasoning_tokens": 8},
                       {"reasoning_content": api_mock.THINK_TEXT}),
        "chat_error": (_err429, {"retry_after": "7", "class": "RateLimitError"}),
        "chat_stream_error": ({"threw": True, "text": "Hello from"},
                              {"error": "The mock failed in the middle of the stream."}),
        "completions": ({"text": api_mock.TEXT, "finish_reason": "stop"}, {}),
        "responses_text": ({"status": "completed", "text": api_mock.TEXT},
                           {"id": "resp_mock", "usage": {"input": 4, "output": 4, "cached": 0,
                                                         "reasoning": 0}}),
        "responses_stream": ({"text": api_mock.TEXT, "final_text": api_mock.TEXT,
                              "status": "completed", "sequence_ok": True,
                              "first": "response.created", "last": "response.completed"},
                             {"usage": {"input": 4, "output": 4}}),
        "responses_tools": ({"calls": [{"name": n, "arguments": a} for n, a in CALLS],
                             "answer": TOOL_ANSWER},
                            {"calls": [{"call_id": "call_mock_%d" % (i + 1)} for i in range(2)]}),
        "responses_think": ({"summary": api_mock.THINK_TEXT, "encrypted": True,
                             "text": api_mock.TEXT, "next_text": api_mock.TEXT},
                            {"usage": {"reasoning": 8}}),
        "responses_error": (_err429, {"retry_after": "7"}),
        "models_list": ({"includes_model": True},
                        {"ids": api_mock.DEFAULT_MODELS["openai"]}),
        "codex_stream": ({"status": "completed", "calls": ["get_weather", "get_time"]}, {}),
    },
    "anthropic": {
        "messages_text": ({"text": api_mock.TEXT, "stop_reason": "end_turn"},
                          {"id": "msg_mock", "usage": {"input": 4, "output": 4, "cache_read": 0}}),
        "messages_stream": ({"text": api_mock.TEXT, "final_text": api_mock.TEXT,
                             "stop_reason": "end_turn", "first": "message_start",
                             "last": "message_stop"}, {"usage": {"input": 4, "output": 4}}),
        "messages_tools": ({"calls": [{"name": n, "input": a} for n, a in CALLS],
                            "stop_reason": "tool_use", "answer": TOOL_ANSWER,
                            "answer_stop": "end_turn"},
                           {"calls": [{"id": "toolu_mock_%d" % (i + 1)} for i in range(2)],
                            "json_deltas": 6}),
        "messages_think": ({"thinking": api_mock.THINK_TEXT, "text": api_mock.TEXT,
                            "blocks": ["thinking", "text"]},
                           {"signature": api_mock.sig_for(api_mock.THINK_TEXT)}),
        "messages_think_tools": ({"blocks": ["thinking", "tool_use", "tool_use"],
                                  "calls": ["get_weather", "get_time"], "answer": TOOL_ANSWER}, {}),
        "messages_stop_sequence": ({"text": "Hello from the ", "stop_reason": "stop_sequence",
                                    "stop_sequence": "mock"}, {}),
        "count_tokens": (lambda tc, r, t: tc.assertGreater(r["input_tokens"], 0, r),
                         {"input_tokens": 30}),
        "models_list": ({"includes_model": True},
                        {"ids": api_mock.DEFAULT_MODELS["claude"]}),
        "messages_error": (_err429, {"retry_after": "7", "class": "RateLimitError"}),
        "messages_stream_error": ({"threw": True, "text": "Hello from"},
                                  {"class": "APIError"}),
    },
    "gemini": {
        "generate_text": ({"text": api_mock.TEXT, "finish_reason": "STOP"},
                          {"usage": {"prompt": 4, "candidates": 4, "total": 8},
                           "response_id": "mock-response"}),
        "generate_stream": ({"text": api_mock.TEXT, "finish_reason": "STOP"},
                            {"chunks": 4, "usage": {"prompt": 4, "candidates": 4, "total": 8}}),
        "generate_tools": ({"calls": [{"name": n, "args": a} for n, a in CALLS],
                            "answer": TOOL_ANSWER, "answer_finish": "STOP"}, {}),
        "generate_think": ({"thoughts": api_mock.THINK_TEXT, "text": api_mock.TEXT, "signed": True},
                           {"usage": {"thoughts": 8}}),
        "generate_think_tools": ({"calls": ["get_weather", "get_time"], "signed": True,
                                  "answer": TOOL_ANSWER}, {}),
        "generate_stop_sequence": ({"text": "Hello from the ", "finish_reason": "STOP"}, {}),
        "count_tokens": (lambda tc, r, t: tc.assertGreater(r["total_tokens"], 0, r),
                         {"total_tokens": 4}),
        "models_list": (lambda tc, r, t: (tc.assertTrue(r["includes_model"], r),
                                          tc.assertEqual(r["get_name"],
                                                         "models/" + t.models["gemini"], r)),
                        {"names": ["models/" + n for n in api_mock.DEFAULT_MODELS["gemini"]]}),
        "generate_error": (_err429, {}),
        "generate_stream_error": ({"threw": True, "text": "Hello from", "status": 500}, {}),
    },
}


class SdkScenarios:
    """Mixin: runs the three SDK scripts once against cls.target, then one
    test per (sdk, scenario) checks its line against EXPECT."""
    target = None
    results = None

    @classmethod
    def setUpClass(cls):
        cls.results = {sdk: run_sdk(sdk, cls.target) for sdk in SDK_PACKAGES}

    def check(self, sdk, scenario):
        line = self.results[sdk].get(scenario)
        self.assertIsNotNone(line, "%s.mjs printed no %s line" % (sdk, scenario))
        self.assertTrue(line["ok"], "%s %s failed: %s" % (sdk, scenario, line))
        always, exact = EXPECT[sdk][scenario]
        r = line["result"]
        where = "%s.%s" % (sdk, scenario)
        if callable(always):
            always(self, r, self.target)
        else:
            _subset(self, r, always, where)
        if self.target.exact:
            _subset(self, r, exact, where + " (exact)")


def _make(sdk, scenario):
    def test(self):
        if scenario == "codex_stream" and not self.target.codex:
            # only a target with a Codex backend runs it (clients never
            # talk that protocol to the proxy)
            self.assertNotIn(scenario, self.results[sdk])
            return
        self.check(sdk, scenario)
    test.__name__ = "test_%s_%s" % (sdk, scenario)
    return test


for _sdk, _table in EXPECT.items():
    for _sc in _table:
        setattr(SdkScenarios, "test_%s_%s" % (_sdk, _sc), _make(_sdk, _sc))


class SdkAgainstMock(SdkScenarios, unittest.TestCase):
    """The SDKs straight at the mock: every scenario, exact values."""

    @classmethod
    def setUpClass(cls):
        cls.mock = api_mock.ApiMock(keys=["sk-sdk-test"]).start()
        u = cls.mock.url
        cls.target = Target(openai=u + "/v1", anthropic=u, gemini=u, key="sk-sdk-test",
                            codex=u + "/backend-api/codex", exact=True)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def test_every_scenario_is_checked(self):
        """A scenario added to an .mjs script needs an EXPECT entry here."""
        for sdk, lines in self.results.items():
            self.assertEqual(sorted(lines), sorted(EXPECT[sdk]), sdk)

    def test_mock_refused_only_the_scripted_errors(self):
        """Every request the SDKs made was accepted by the strict validators,
        except the scripted errors; so the SDKs' requests are well-formed and
        the multi-turn ones (tool results, thinking signatures, encrypted
        reasoning) went back as the real services demand."""
        for rec in self.mock.requests():
            model = (rec["json"] or {}).get("model") or rec["path"]
            if "err429" in model:
                self.assertEqual(rec["status"], 429, rec["path"])
            else:
                self.assertEqual(rec["status"], 200, "%s %s refused: %s"
                                 % (rec["path"], model, rec["error"]))
        apis = {r["api"] for r in self.mock.requests()}
        self.assertEqual(apis, {"chat", "completions", "responses", "codex", "claude",
                                "claude_count", "gemini", "models", "gemini_models",
                                "gemini_model"})


if __name__ == "__main__":
    tap.main()
