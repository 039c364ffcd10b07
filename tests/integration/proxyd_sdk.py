#!/usr/bin/env python3
"""proxyd_sdk.py - the official client SDKs through cliproxyd (issue 11).

One strict four-API mock upstream (tests/mock/api_mock.py), one cliproxyd
whose `endpoints:` point every upstream at it, and the three SDK scenario
scripts of tests/sdk (openai: Chat Completions, Completions, Responses;
@anthropic-ai/sdk: Messages; @google/genai: generateContent,
generateContentStream), each run once in one node process looping over a
model of each API-key provider kind:

  kind                          client model        upstream API (mock record)
  openai-compatibility          compat[-...]        Chat (model mock-chat[-...])
  claude-api-key                claude-sonnet-4-5   Claude Messages
  generative-language-api-key   gemini-2.5-pro      Gemini
  codex-api-key                 gpt-5               OpenAI Responses

so every client API meets every upstream API, passthrough and translated:
text, streams, a tool round (tool definitions -> two tool calls -> tool
results -> answer), thinking/reasoning (the signature or encrypted
reasoning sent back on the next turn where the upstream has one), stop
sequences, token counts, models.list, a 429 and a mid-stream error.

Each (SDK, kind, scenario) is one test. It asserts what the SDK returned
(text, tool call names and arguments, finish/stop reason, the usage
figures the mock reported, token counts) and what the mock received in the
scenario's time window (the scripts print t0/t1): the right upstream API
and credential, the upstream model name (aliases rewritten), a streamed
upstream call for a streamed client call, the number of upstream calls,
and that the strict mock accepted every request (refused only the
scripted 429). The client key never reaches an upstream.
"""
import json
import os
import socket
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import tap  # noqa: E402
import proxyd_support as ps  # noqa: E402
import sdk_mock  # noqa: E402
import api_mock  # noqa: E402

CLIENT_KEY = "sdk-client-key-5e1f"
UP_KEYS = {"compat": "up-compat-key", "claude": "up-claude-key", "gemini": "up-gemini-key",
           "codex": "up-codex-key"}
SUFFIXES = ["", "-tools", "-think", "-think-tools", "-err429", "-midstream", "-drip"]

# kind -> client model, the mock's api for generate and for count (None:
# the daemon estimates), how the upstream credential is presented.
KINDS = {
    "compat": {"model": "compat", "api": "chat", "count": None},
    "claude": {"model": "claude-sonnet-4-5", "api": "claude", "count": "claude_count"},
    "gemini": {"model": "gemini-2.5-pro", "api": "gemini", "count": "gemini"},
    "codex": {"model": "gpt-5", "api": "responses", "count": None},
}
MODEL_KIND = {v["model"]: k for k, v in KINDS.items()}
SDKS = ("openai", "anthropic", "gemini")
# The API each SDK speaks to the daemon: a pair with the same upstream API
# is passthrough, every other pair is translated.
CLIENT_API = {"openai": None, "anthropic": "claude", "gemini": "gemini"}


def upstream_model(kind, model):
    """The model name the upstream must receive for a client model."""
    return "mock-chat" + model[len("compat"):] if kind == "compat" else model


def tool_answer(wrap):
    """The round trip's answer when a Gemini functionResponse object
    ({wrap: text}) carries the tool result on one side of the translation."""
    return "Tool results: %s." % " | ".join(
        json.dumps({wrap: "%s(%s) ok" % (n, a["city"])}, separators=(",", ":")) for n, a in
        sdk_mock.CALLS)


# Upstream calls a scenario makes (absent: not checked; a 429 scenario
# makes one or none: the first puts the model's only credential in
# cooldown, and later ones are answered by the daemon).
CALLS_OF = {
    "chat_text": 1, "chat_stream": 1, "chat_tools": 2, "chat_tools_stream": 2, "chat_think": 1,
    "chat_stream_error": 1, "responses_text": 1, "responses_stream": 1, "responses_tools": 2,
    "responses_think": 2, "models_list": 0,
    "messages_text": 1, "messages_stream": 1, "messages_tools": 2, "messages_think": 1,
    "messages_think_tools": 2, "messages_stop_sequence": 1, "messages_stream_error": 1,
    "generate_text": 1, "generate_stream": 1, "generate_tools": 2, "generate_think": 1,
    "generate_think_tools": 2, "generate_stop_sequence": 1, "generate_stream_error": 1,
}
# Client calls that stream (the upstream call must stream too) and that do not.
STREAMED = {"chat_stream", "responses_stream", "messages_stream", "generate_stream",
            "chat_stream_error", "messages_stream_error", "generate_stream_error"}
UNSTREAMED = {"chat_text", "responses_text", "messages_text", "generate_text"}
# Scenarios whose usage the SDK reports: result member -> usage figure.
USAGE = {
    "chat_text": {"prompt": "input", "completion": "output"},
    "chat_stream": {"prompt": "input", "completion": "output"},
    "responses_text": {"input": "input", "output": "output"},
    "responses_stream": {"input": "input", "output": "output"},
    "messages_text": {"input": "input", "output": "output"},
    "messages_stream": {"input": "input", "output": "output"},
    "generate_text": {"prompt": "input", "candidates": "output"},
    "generate_stream": {"prompt": "input", "candidates": "output"},
}


def expected(sdk, kind, scenario):
    """What the SDK must return for scenario through kind: sdk_mock's
    'always' expectation, adjusted where the upstream API cannot carry a
    thing (each adjustment says why)."""
    always = sdk_mock.EXPECT[sdk][scenario][0]
    if scenario == "models_list":
        return {"includes_model": True}  # the listing is checked in check()
    text = api_mock.TEXT
    cut = {"text": "Hello from the "}
    if sdk == "openai":
        if scenario in ("chat_tools", "chat_tools_stream", "responses_tools") and kind == "gemini":
            # a Chat/Responses tool output reaches Gemini as {"result": text}
            return dict(always, answer=tool_answer("result"))
        if scenario == "chat_think":
            # reasoning text: Chat gives reasoning_content, Claude its
            # thinking; reasoning token counts: all but Claude
            return {"compat": {"text": text, "reasoning_content": api_mock.THINK_TEXT,
                               "reasoning_tokens": 8},
                    "claude": {"text": text, "reasoning_content": api_mock.THINK_TEXT},
                    "gemini": {"text": text, "reasoning_tokens": 8},
                    "codex": {"text": text, "reasoning_tokens": 8}}[kind]
        if scenario == "responses_think" and kind != "codex":
            # encrypted reasoning holds only OpenAI's own (a signature never
            # crosses families, cliproxyd(8)); Chat has none at all
            return dict(always, encrypted=False)
    if sdk == "anthropic":
        if scenario in ("messages_tools", "messages_think_tools") and kind == "gemini":
            return dict(always, answer=tool_answer("result"))
        if scenario == "messages_stop_sequence" and kind != "claude":
            # Chat and Gemini cut at the sequence but do not say which one
            # stopped them (Responses has none: a 400, checked in check)
            return dict(cut, stop_reason="end_turn", stop_sequence=None)
    if sdk == "gemini":
        if scenario in ("generate_tools", "generate_think_tools") and kind != "gemini":
            # the functionResponse object travels as JSON text
            d = dict(always, answer=tool_answer("output"))
            if scenario == "generate_think_tools":
                d["signed"] = False  # thought signatures exist only in Gemini
            return d
        if scenario == "generate_think" and kind in ("compat", "codex"):
            # Chat has no signatures; OpenAI's encrypted reasoning stays in
            # its family
            return dict(always, signed=False)
        if scenario == "generate_stream_error":
            return {"threw": True, "text": "Hello from"}  # status checked below
    return always


def run_sdk(sdk, base, models, timeout=120):
    """tests/sdk/<sdk>.mjs once against base for every model: {(model,
    scenario): line}."""
    node = sdk_mock.node_or_fail()
    args = [node, os.path.join(sdk_mock.SDK_DIR, sdk + ".mjs"), "--base-url", base,
            "--key", CLIENT_KEY, "--model", ",".join(models)]
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                       cwd=sdk_mock.SDK_DIR)
    if p.returncode != 0:
        raise RuntimeError("%s.mjs exited %d: %s" % (sdk, p.returncode, p.stderr[-2000:]))
    out = {}
    for ln in p.stdout.splitlines():
        d = json.loads(ln)
        out[(d["model"], d["scenario"])] = d
    return out


def scenario_names(sdk):
    node = sdk_mock.node_or_fail()
    p = subprocess.run([node, os.path.join(sdk_mock.SDK_DIR, sdk + ".mjs"), "--list"],
                       capture_output=True, text=True, timeout=60, cwd=sdk_mock.SDK_DIR)
    return [n for n in p.stdout.split() if n != "codex_stream"]


def _cred_of(rec):
    h = rec["headers"]
    if h.get("x-api-key"):
        return h["x-api-key"]
    if h.get("x-goog-api-key"):
        return h["x-goog-api-key"]
    a = h.get("authorization", "")
    return a[7:] if a.startswith("Bearer ") else None


def _model_of(rec):
    if rec["api"] == "gemini":
        return rec["path"].rsplit("/", 1)[1].split(":", 1)[0]
    return (rec["json"] or {}).get("model")


def _streamed(rec):
    if rec["api"] == "gemini":
        return rec["action"] == "streamGenerateContent"
    return (rec["json"] or {}).get("stream") is True


class SdkThroughDaemon(ps.DaemonPerClass, unittest.TestCase):
    MOCK = staticmethod(lambda: api_mock.ApiMock(keys=list(UP_KEYS.values())))
    SECRETS = (CLIENT_KEY,) + tuple(UP_KEYS.values())
    results = {}
    records = []

    @classmethod
    def cfg(cls, m):
        u = m.url
        return {
            "api-keys": [CLIENT_KEY],
            "endpoints": {"gemini": u, "claude": u, "codex-api": u + "/v1"},
            "generative-language-api-key": [UP_KEYS["gemini"]],
            "claude-api-key": [{"api-key": UP_KEYS["claude"]}],
            "codex-api-key": [{"api-key": UP_KEYS["codex"]}],
            "openai-compatibility": [ps.compat(
                "mock", u + "/compat/v1", [UP_KEYS["compat"]],
                [("mock-chat" + s, "compat" + s) for s in SUFFIXES])],
        }

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            base = "http://127.0.0.1:%d" % cls.d.port
            models = [k["model"] for k in KINDS.values()]
            t = time.time()
            cls.results = {sdk: run_sdk(sdk, base + "/v1" if sdk == "openai" else base, models)
                           for sdk in SDKS}
            cls.seconds = time.time() - t
        except Exception:
            cls.tearDownClass()
            raise
        cls.records = cls.m.requests()

    # ------------------------------------------------------------------
    def line(self, sdk, kind, scenario):
        ln = self.results[sdk].get((KINDS[kind]["model"], scenario))
        self.assertIsNotNone(ln, "%s.mjs printed no %s line for %s" % (sdk, scenario, kind))
        return ln

    def window(self, ln):
        """The mock's records made while the scenario ran (t0 and t1 are
        Date.now() in ms: floored)."""
        return [r for r in self.records if ln["t0"] <= r["t"] <= ln["t1"] + 0.001]

    def check(self, sdk, kind, scenario):
        ln = self.line(sdk, kind, scenario)
        where = "%s %s via %s" % (sdk, scenario, kind)
        recs = self.window(ln)
        k = KINDS[kind]
        if scenario == "completions" and kind != "compat":
            # legacy Completions is served by OpenAI-compatible upstreams only
            self.assertFalse(ln["ok"], ln)
            self.assertEqual(ln["status"], 501, ln)
            self.assertIn("not available", ln["error"])
            self.assertEqual(recs, [], where)
            return
        if scenario.endswith("_stop_sequence") and kind == "codex":
            # the Responses API has no stop sequences: a 400 in the
            # client's shape (DESIGN 6), never text past the sequence
            self.assertFalse(ln["ok"], ln)
            self.assertEqual(ln["status"], 400, ln)
            self.assertIn("cannot honour stop sequences", ln["error"])
            self.assertEqual(recs, [], where)
            return
        self.assertTrue(ln["ok"], "%s failed: %s" % (where, ln))
        r = ln["result"]
        exp = expected(sdk, kind, scenario)
        if callable(exp):
            exp(self, r, None)
        else:
            sdk_mock._subset(self, r, exp, where)
        if scenario.endswith("_error") and not scenario.endswith("stream_error") \
                and sdk != "gemini":
            # the upstream's 429 put the model's only credential in
            # cooldown for its 7 s; the daemon says how long is left
            self.assertIn(int(r["retry_after"]), range(1, 8), r)
        if scenario == "generate_stream_error":
            self.assertGreaterEqual(r["status"], 500, r)

        # what the upstream received
        count = scenario == "count_tokens"
        api = k["count"] if count else k["api"]
        if scenario == "completions":
            api = "completions"
        if scenario == "models_list" or (count and api is None):
            self.assertEqual(recs, [], "%s: the daemon answers itself, no upstream call"
                             % where)
        for rec in recs:
            self.assertEqual(rec["api"], api, "%s: %s" % (where, rec["path"]))
            if count and api == "gemini":
                self.assertEqual(rec["action"], "countTokens", where)
            self.assertEqual(_cred_of(rec), UP_KEYS[kind], "%s: upstream credential" % where)
            self.assertNotIn(CLIENT_KEY, json.dumps(rec), "%s: client key upstream" % where)
            model = _model_of(rec)
            self.assertTrue(model.startswith(upstream_model(kind, k["model"])),
                            "%s: upstream model %r" % (where, model))
            if "err429" in model:
                self.assertEqual(rec["status"], 429, where)
            else:
                self.assertEqual(rec["status"], 200, "%s: the mock refused %s: %s"
                                 % (where, rec["path"], rec["error"]))
            if scenario in STREAMED:
                self.assertTrue(_streamed(rec), "%s: upstream call not streamed" % where)
            if scenario in UNSTREAMED:
                self.assertFalse(_streamed(rec), "%s: upstream call streamed" % where)
        if scenario in CALLS_OF:
            self.assertEqual(len(recs), CALLS_OF[scenario],
                             "%s: upstream calls %s" % (where, [x["path"] for x in recs]))
        if scenario.endswith("_error") and "stream" not in scenario:
            self.assertLessEqual(len(recs), 1, where)

        # the figures the SDK reports are the ones the mock answered
        if scenario in USAGE:
            got = r["usage"]
            for member, fig in USAGE[scenario].items():
                self.assertEqual(got[member], recs[0]["usage"][fig],
                                 "%s: usage %s (mock: %s)" % (where, member, recs[0]["usage"]))
        if count and api is not None:
            n = r["input_tokens"] if sdk == "anthropic" else r["total_tokens"]
            self.assertEqual(n, recs[0]["usage"]["input"], where)
        if scenario in ("chat_think",) and "reasoning_tokens" in exp:
            self.assertEqual(r["reasoning_tokens"], recs[0]["usage"]["reasoning"], where)
        if scenario == "models_list":
            self.assertTrue(r["includes_model"], where)
            ids = r.get("ids") or [n[len("models/"):] for n in r["names"]]
            for other in KINDS.values():
                self.assertIn(other["model"], ids, where)
            self.assertIn("compat-tools", ids, where)
            if sdk == "gemini":
                self.assertEqual(r["get_name"], "models/" + k["model"], where)

    # ------------------------------------------------------------------
    def test_every_pair_was_served(self):
        """Every (SDK, kind) pair ran all its scenarios, and the mock saw
        every upstream API, the client key nowhere."""
        for sdk in SDKS:
            names = scenario_names(sdk)
            for kind in KINDS:
                for n in names:
                    self.assertIn((KINDS[kind]["model"], n), self.results[sdk], (sdk, kind, n))
        apis = {r["api"] for r in self.records}
        self.assertEqual(apis, {"chat", "completions", "claude", "claude_count", "gemini",
                                "responses"})
        self.assertLess(self.seconds, 120, "the SDK runs took %.1f s" % self.seconds)

    def test_gemini_json_array_stream_from_every_kind(self):
        """Gemini's stream without ?alt=sse (a JSON array, which the SDK
        never asks for) from every upstream kind: one array, the text in
        order, STOP last, the usage the mock answered."""
        body = {"contents": [{"role": "user", "parts": [{"text": "Say hello."}]}]}
        for kind, k in KINDS.items():
            n = len(self.m.requests())
            st, h, raw = self.d.request(
                "POST", "/v1beta/models/%s:streamGenerateContent" % k["model"], body,
                {"X-Goog-Api-Key": CLIENT_KEY})
            self.assertEqual(st, 200, (kind, raw[:300]))
            self.assertTrue(h.get("content-type", "").startswith("application/json"), (kind, h))
            arr = json.loads(raw)
            self.assertIsInstance(arr, list, kind)
            text = "".join(p.get("text", "") for c in arr for cand in c.get("candidates", [])
                           for p in cand.get("content", {}).get("parts", []))
            self.assertEqual(text, api_mock.TEXT, kind)
            self.assertEqual(arr[-1]["candidates"][0]["finishReason"], "STOP", kind)
            recs = self.m.requests()[n:]
            self.assertEqual([r["api"] for r in recs], [k["api"]], kind)
            self.assertTrue(_streamed(recs[0]), kind)
            u = [c["usageMetadata"] for c in arr if "usageMetadata" in c][-1]
            self.assertEqual((u["promptTokenCount"], u["candidatesTokenCount"]),
                             (recs[0]["usage"]["input"], recs[0]["usage"]["output"]), kind)

    def test_translated_streams_flow_and_cancel_upstream(self):
        """A translated stream reaches the client as the upstream sends it
        (the mock's drip model: one word every 0.1 s for 6 s), and a client
        that goes away cancels the upstream transfer at once (DESIGN 6):
        every client API, every upstream kind."""
        gem = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        cases = [  # client path (model), body, key header, upstream kind
            ("/v1beta/models/claude-sonnet-4-5-drip:streamGenerateContent?alt=sse", gem,
             "X-Goog-Api-Key", "claude"),
            ("/v1beta/models/gpt-5-drip:streamGenerateContent", gem, "X-Goog-Api-Key", "codex"),
            ("/v1/messages", {"model": "compat-drip", "max_tokens": 256, "stream": True,
                              "messages": [{"role": "user", "content": "hi"}]},
             "X-Api-Key", "compat"),
            ("/v1/chat/completions", {"model": "gemini-2.5-pro-drip", "stream": True,
                                      "messages": [{"role": "user", "content": "hi"}]},
             "Authorization", "gemini"),
            ("/v1/responses", {"model": "claude-sonnet-4-5-drip", "stream": True, "input": "hi"},
             "Authorization", "claude"),
        ]
        for path, body, hk, kind in cases:
            self.m.reset()
            raw = json.dumps(body).encode()
            hv = "Bearer " + CLIENT_KEY if hk == "Authorization" else CLIENT_KEY
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
            try:
                s.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                           "application/json\r\n%s: %s\r\nanthropic-version: 2023-06-01\r\n"
                           "Content-Length: %d\r\n\r\n" % (path, hk, hv, len(raw))).encode() + raw)
                t0 = time.monotonic()
                got = b""
                while got.count(b"word") < 3:
                    chunk = s.recv(4096)
                    self.assertTrue(chunk, "%s: closed early: %r" % (path, got[-300:]))
                    got += chunk
                # three of 60 words, 0.1 s apart: well before the upstream is done
                self.assertLess(time.monotonic() - t0, 3.0, path)
                self.assertTrue(got.startswith(b"HTTP/1.1 200"), got[:200])
            finally:
                s.close()
            closed = ps.wait_until(lambda: [e for e in self.m.events()
                                            if e["kind"] == "client_closed"], timeout=3)
            self.assertTrue(closed, "%s: the upstream transfer went on after the client left"
                            % path)
            self.assertLess(closed[0]["sent"], 30, closed)
            recs = self.m.requests()
            self.assertEqual([r["api"] for r in recs], [KINDS[kind]["api"]], path)
            self.assertTrue(_streamed(recs[0]), path)

    def test_passthrough_and_translation_both_ran(self):
        """Anthropic to claude and Gemini to gemini are passthrough (the
        upstream answer's ids reach the client unchanged); every other pair
        translates."""
        r = self.line("anthropic", "claude", "messages_text")["result"]
        self.assertEqual(r["id"], "msg_mock")
        r = self.line("anthropic", "compat", "messages_text")["result"]
        self.assertEqual(r["id"], "chatcmpl-mock")
        r = self.line("gemini", "gemini", "generate_text")["result"]
        self.assertEqual(r["response_id"], "mock-response")
        r = self.line("openai", "codex", "responses_text")["result"]
        self.assertEqual(r["id"], "resp_mock")


def _make(sdk, kind, scenario):
    def test(self):
        self.check(sdk, kind, scenario)
    test.__name__ = "test_%s_%s_%s" % (sdk, kind, scenario)
    return test


for _sdk in SDKS:
    for _sc in sdk_mock.EXPECT[_sdk]:
        if _sc == "codex_stream":
            continue
        for _kind in KINDS:
            setattr(SdkThroughDaemon, "test_%s_%s_%s" % (_sdk, _kind, _sc),
                    _make(_sdk, _kind, _sc))


if __name__ == "__main__":
    tap.main()
