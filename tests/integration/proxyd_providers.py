#!/usr/bin/env python3
"""cliproxyd: the API-key providers of PROVIDERS.md 3 in passthrough - a
Claude client to claude-api-key, a Gemini client to
generative-language-api-key, a Responses client to codex-api-key -
streamed and not; the request each upstream receives (path, headers,
body), answers byte for byte, cooldowns from each kind of 429 hint
(Retry-After, Gemini RetryInfo, Codex resets_in_seconds), model routing
by prefix and key-item models, hot reload of keys, /v1/models, and the
501 of a translation no codec can do.

The upstreams are one small loopback mock speaking the three APIs well
enough for passthrough (tests/mock/api_mock.py is the strict one)."""
import json
import os
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import proxyd_support as ps  # noqa: E402

KEY = "prov-client-key"

CLAUDE_JSON = (b'{"id":"msg_mock","type":"message","role":"assistant","model":"%s",'
               b'"content":[{"type":"text","text":"hi from claude"}],'
               b'"stop_reason":"end_turn","stop_sequence":null,'
               b'"usage":{"input_tokens":3,"output_tokens":4}}')
CLAUDE_SSE = (b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_mock",'
              b'"type":"message","role":"assistant","model":"%s","content":[],'
              b'"stop_reason":null,"usage":{"input_tokens":3,"output_tokens":1}}}\n\n'
              b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
              b'"content_block":{"type":"text","text":""}}\n\n'
              b'event: ping\ndata: {"type":"ping"}\n\n'
              b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
              b'"delta":{"type":"text_delta","text":"hi"}}\n\n'
              b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
              b'event: message_delta\ndata: {"type":"message_delta","delta":'
              b'{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":4}}\n\n'
              b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
GEMINI_JSON = (b'{"candidates":[{"content":{"role":"model","parts":[{"text":"hi from gemini"}]},'
               b'"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,'
               b'"candidatesTokenCount":4,"totalTokenCount":7},"modelVersion":"%s"}')
GEMINI_SSE = (b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},'
              b'"index":0}],"modelVersion":"%s"}\r\n\r\n'
              b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":" there"}]},'
              b'"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,'
              b'"candidatesTokenCount":2,"totalTokenCount":5}}\r\n\r\n')
RESP_JSON = (b'{"id":"resp_mock","object":"response","created_at":1700000000,'
             b'"status":"completed","model":"%s","output":[{"type":"message","id":"msg_1",'
             b'"status":"completed","role":"assistant","content":[{"type":"output_text",'
             b'"text":"hi from codex","annotations":[]}]}],"usage":{"input_tokens":3,'
             b'"output_tokens":4,"total_tokens":7}}')
RESP_SSE = (b'event: response.created\ndata: {"type":"response.created","sequence_number":0,'
            b'"response":{"id":"resp_mock","model":"%s","status":"in_progress","output":[]}}\n\n'
            b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
            b'"sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,'
            b'"delta":"hi"}\n\n'
            b'event: response.completed\ndata: {"type":"response.completed","sequence_number":2,'
            b'"response":{"id":"resp_mock","status":"completed","output":[]}}\n\n')


def key_of(h):
    if h.get("x-api-key"):
        return h["x-api-key"]
    if h.get("x-goog-api-key"):
        return h["x-goog-api-key"]
    a = h.get("authorization", "")
    return a[7:] if a.startswith("Bearer ") else ""


class _H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body, ctype="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        h = {k.lower(): v for k, v in self.headers.items()}
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        rec = {"path": self.path, "headers": h, "raw": raw, "json": body}
        self.server.mock.add(rec)
        key = key_of(h)
        path = self.path.split("?", 1)[0]
        # 429 in each provider's own way, by key
        if key == "k-429-ra2":
            return self._send(429, b'{"type":"error","error":{"type":"rate_limit_error",'
                                   b'"message":"slow down"}}', extra={"Retry-After": "2"})
        if key == "k-429-ra100":
            return self._send(429, b'{"error":{"message":"slow down"}}',
                              extra={"Retry-After": "100"})
        if key == "k-429-info2":
            return self._send(429, json.dumps({"error": {
                "code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED",
                "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                             "retryDelay": "1.5s"}]}}).encode())
        if key == "k-429-resets2":
            return self._send(429, json.dumps({"error": {
                "type": "usage_limit_reached", "message": "limit",
                "resets_in_seconds": 2}}).encode())
        if key == "k-429-nohint":
            return self._send(429, b'{"error":{"message":"no hint"}}')
        if key == "k-pro-429" and "/gemini-2.5-pro:" in self.path:
            return self._send(429, b'{"error":{"code":429,"status":"RESOURCE_EXHAUSTED",'
                                   b'"message":"quota"}}')
        if key == "k-404":
            return self._send(404, json.dumps({"error": {
                "code": 404, "message": "models/x is not found", "status": "NOT_FOUND"}}).encode())
        if key == "k-529":
            return self._send(529, b'{"type":"error","error":{"type":"overloaded_error",'
                                   b'"message":"Overloaded"}}')
        if key == "k-400":
            return self._send(400, b'{"type":"error","error":{"type":"invalid_request_error",'
                                   b'"message":"bad thing"}}')
        model = (body or {}).get("model", "") if isinstance(body, dict) else ""
        stream = isinstance(body, dict) and body.get("stream") is True
        if path.endswith("/v1/messages/count_tokens"):
            return self._send(200, b'{"input_tokens":42}')
        if path.endswith("/v1/messages"):
            if stream:
                return self._send(200, CLAUDE_SSE % model.encode(), "text/event-stream")
            return self._send(200, CLAUDE_JSON % model.encode())
        if path.endswith("/responses"):
            if stream:
                return self._send(200, RESP_SSE % model.encode(), "text/event-stream")
            return self._send(200, RESP_JSON % model.encode())
        if "/v1beta/models/" in path:
            m, action = path.rsplit("/", 1)[1].split(":", 1)
            if action == "countTokens":
                return self._send(200, b'{"totalTokens":42}')
            if action == "streamGenerateContent":
                if "alt=sse" in self.path:
                    return self._send(200, GEMINI_SSE % m.encode(), "text/event-stream")
                arr = b"[" + (GEMINI_JSON % m.encode()) + b"]"
                return self._send(200, arr)
            if action == "generateContent":
                return self._send(200, GEMINI_JSON % m.encode())
        return self._send(404, b'{"error":{"message":"mock: no such path"}}')


class Mock:
    def __init__(self):
        self.lock = threading.Lock()
        self.reqs = []
        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        self.srv.daemon_threads = True
        self.srv.mock = self
        self.port = self.srv.server_address[1]
        self.base = "http://127.0.0.1:%d" % self.port

    def start(self):
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        return self

    def add(self, r):
        with self.lock:
            self.reqs.append(r)

    def requests(self):
        with self.lock:
            return list(self.reqs)

    def reset(self):
        with self.lock:
            self.reqs = []

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def cfg_for(m, **over):
    cfg = {
        "api-keys": [KEY],
        "endpoints": {"gemini": m.base + "/gem", "claude": m.base + "/cla",
                      "codex-api": m.base + "/cdx/v1"},
        "generative-language-api-key": ["g-ok"],
        "claude-api-key": [{"api-key": "c-ok"},
                           {"api-key": "c-own", "base-url": m.base + "/own/",
                            "models": [{"name": "claude-opus-4-1-20250805", "alias": "opus"}]}],
        "codex-api-key": [{"api-key": "x-ok"}],
        "openai-compatibility": [{"name": "oc", "base-url": m.base + "/oc/v1",
                                  "api-keys": ["o-ok"],
                                  "models": [{"name": "up-local", "alias": "local-model"}]}],
    }
    cfg.update(over)
    return cfg


class Base(ps.DaemonPerClass, unittest.TestCase):
    MOCK = Mock
    SECRETS = ("g-ok", "c-ok", "c-own", "x-ok", KEY)
    cfg_over = {}

    @classmethod
    def cfg(cls, m):
        return cfg_for(m, **cls.cfg_over)

    def post(self, path, body, headers=None, raw=None):
        h = {"Authorization": "Bearer " + KEY}
        h.update(headers or {})
        return self.d.request("POST", path, raw if raw is not None else body, h)


class Passthrough(Base):
    def test_claude_json(self):
        raw = (b'{"model":"claude-sonnet-4-5","max_tokens":64,  "messages":'
               b'[{"role":"user","content":"hi"}],"metadata":{"user_id":"u1"}}')
        st, h, body = self.post("/v1/messages", None, raw=raw,
                                headers={"anthropic-version": "2023-06-01",
                                         "anthropic-beta": "interleaved-thinking-2025-05-14"})
        self.assertEqual(st, 200, body)
        self.assertEqual(body, CLAUDE_JSON % b"claude-sonnet-4-5")
        self.assertTrue(h["content-type"].startswith("application/json"))
        r = self.m.requests()
        self.assertEqual(len(r), 1)
        # either claude key (they rotate), each at its own base URL
        self.assertIn((r[0]["path"], r[0]["headers"]["x-api-key"]),
                      [("/cla/v1/messages", "c-ok"), ("/own/v1/messages", "c-own")])
        self.assertEqual(r[0]["headers"]["anthropic-version"], "2023-06-01")
        self.assertNotIn("authorization", r[0]["headers"])
        # the client's feature switches go along (passthrough)
        self.assertEqual(r[0]["headers"]["anthropic-beta"], "interleaved-thinking-2025-05-14")
        self.assertEqual(r[0]["json"], json.loads(raw))

    def test_claude_stream_and_rotation(self):
        # Two keys serve claude-*: the rotation alternates, each at its URL.
        paths = set()
        for _ in range(2):
            st, h, body = self.post("/v1/messages", {"model": "claude-sonnet-4-5",
                                                     "max_tokens": 8, "stream": True,
                                                     "messages": [{"role": "user",
                                                                   "content": "hi"}]})
            self.assertEqual(st, 200)
            self.assertEqual(h["content-type"], "text/event-stream")
            self.assertEqual(body, CLAUDE_SSE % b"claude-sonnet-4-5")
        for r in self.m.requests():
            paths.add((r["path"], r["headers"]["x-api-key"]))
            self.assertNotIn("anthropic-beta", r["headers"])
        self.assertEqual(paths, {("/cla/v1/messages", "c-ok"), ("/own/v1/messages", "c-own")})

    def test_claude_key_item_alias(self):
        st, _, body = self.post("/v1/messages", {"model": "opus", "max_tokens": 8,
                                                 "messages": [{"role": "user", "content": "x"}]})
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)["model"], "claude-opus-4-1-20250805")
        r = self.m.requests()
        self.assertEqual(r[0]["path"], "/own/v1/messages")
        self.assertEqual(r[0]["json"]["model"], "claude-opus-4-1-20250805")

    def test_claude_count_tokens(self):
        st, _, body = self.post("/v1/messages/count_tokens",
                                {"model": "claude-sonnet-4-5",
                                 "messages": [{"role": "user", "content": "x"}]})
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body), {"input_tokens": 42})
        self.assertTrue(self.m.requests()[0]["path"].endswith("/v1/messages/count_tokens"))

    def test_claude_400_passed(self):
        d = self.d
        # a 400 is the client's: passed on as is, nothing cools down
        cfg = cfg_for(self.m, **{"claude-api-key": [{"api-key": "k-400"}]})
        old = d.status()["config-sha256"]
        d.write_config(cfg)
        try:
            d.wait_status(lambda s: s["config-sha256"] != old)
            st, _, body = self.post("/v1/messages", {"model": "claude-x", "max_tokens": 1,
                                                     "messages": []})
            self.assertEqual(st, 400)
            self.assertEqual(json.loads(body)["error"]["message"], "bad thing")
            st, _, _ = self.post("/v1/messages", {"model": "claude-x", "max_tokens": 1,
                                                  "messages": []})
            self.assertEqual(st, 400)
            self.assertEqual(len(self.m.requests()), 2)
        finally:
            old = d.status()["config-sha256"]
            d.write_config(cfg_for(self.m))
            d.wait_status(lambda s: s["config-sha256"] != old)

    def test_gemini_generate(self):
        raw = b'{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
        st, h, body = self.d.request("POST", "/v1beta/models/gemini-2.5-flash:generateContent"
                                     "?key=" + KEY, raw, {})
        self.assertEqual(st, 200, body)
        self.assertEqual(body, GEMINI_JSON % b"gemini-2.5-flash")
        r = self.m.requests()[0]
        # the client's key stays here; the upstream gets its own
        self.assertEqual(r["path"], "/gem/v1beta/models/gemini-2.5-flash:generateContent")
        self.assertEqual(r["headers"]["x-goog-api-key"], "g-ok")
        self.assertEqual(r["raw"], raw)

    def test_gemini_stream_sse_and_array(self):
        raw = b'{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}'
        st, h, body = self.d.request(
            "POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", raw,
            {"x-goog-api-key": KEY})
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "text/event-stream")
        self.assertEqual(body, GEMINI_SSE % b"gemini-2.5-pro")
        st, h, body = self.d.request(
            "POST", "/v1beta/models/gemini-2.5-pro:streamGenerateContent", raw,
            {"x-goog-api-key": KEY})
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)[0]["modelVersion"], "gemini-2.5-pro")
        paths = [r["path"] for r in self.m.requests()]
        self.assertEqual(paths, [
            "/gem/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
            "/gem/v1beta/models/gemini-2.5-pro:streamGenerateContent"])

    def test_gemini_count(self):
        st, _, body = self.d.request(
            "POST", "/v1beta/models/gemini-2.5-pro:countTokens",
            b'{"contents":[{"parts":[{"text":"x"}]}]}', {"x-goog-api-key": KEY})
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body), {"totalTokens": 42})

    def test_count_tokens_local_estimate(self):
        # An upstream without a count endpoint (OpenAI Chat): the local
        # estimate, in the client's count shape, and no upstream call.
        st, _, body = self.post("/v1/messages/count_tokens", {
            "model": "local-model", "messages": [{"role": "user", "content": "hello " * 40}]})
        self.assertEqual(st, 200, body)
        n = json.loads(body)["input_tokens"]
        self.assertTrue(40 <= n <= 200, n)
        st, _, body = self.d.request(
            "POST", "/v1beta/models/local-model:countTokens",
            json.dumps({"contents": [{"parts": [{"text": "hello " * 40}]}]}).encode(),
            {"x-goog-api-key": KEY})
        self.assertEqual(st, 200, body)
        self.assertTrue(40 <= json.loads(body)["totalTokens"] <= 200, body)
        self.assertEqual(self.m.requests(), [])

    def test_gemini_unknown_model_404(self):
        st, _, body = self.d.request(
            "POST", "/v1beta/models/llama-3:generateContent", b'{"contents":[]}',
            {"x-goog-api-key": KEY})
        self.assertEqual(st, 404)
        self.assertIn("llama-3", body.decode())
        self.assertEqual(self.m.requests(), [])

    def test_codex_responses(self):
        raw = b'{"model":"gpt-5-codex","input":"hi","stream":false}'
        st, h, body = self.post("/v1/responses", None, raw=raw)
        self.assertEqual(st, 200, body)
        self.assertEqual(body, RESP_JSON % b"gpt-5-codex")
        r = self.m.requests()[0]
        self.assertEqual(r["path"], "/cdx/v1/responses")
        self.assertEqual(r["headers"]["authorization"], "Bearer x-ok")
        self.assertNotIn("chatgpt-account-id", r["headers"])
        self.assertEqual(r["raw"], raw)
        st, h, body = self.post("/v1/responses", {"model": "o3", "input": "hi",
                                                  "stream": True})
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "text/event-stream")
        self.assertEqual(body, RESP_SSE % b"o3")

    def test_models_lists_what_is_served(self):
        st, _, body = self.d.request("GET", "/v1/models", None,
                                     {"Authorization": "Bearer " + KEY})
        self.assertEqual(st, 200)
        ids = {m["id"] for m in json.loads(body)["data"]}
        for want in ("gemini-2.5-pro", "claude-sonnet-4-5", "gpt-5-codex", "opus"):
            self.assertIn(want, ids)
        self.assertNotIn("qwen3-coder-plus", ids)  # no qwen credential
        # Claude clients get the Claude list (when that codec can write it)
        st, _, body = self.d.request("GET", "/v1/models", None,
                                     {"x-api-key": KEY, "anthropic-version": "2023-06-01"})
        self.assertEqual(st, 200)
        self.assertIn("claude-sonnet-4-5", {m["id"] for m in json.loads(body)["data"]})

    def test_translation_unavailable_501(self):
        # The legacy completions format is passthrough only: a model that
        # only a Claude key serves cannot be reached from it.
        st, _, body = self.post("/v1/completions", {"model": "claude-sonnet-4-5",
                                                    "prompt": "x"})
        self.assertEqual(st, 501)
        self.assertIn("not available", json.loads(body)["error"]["message"])
        self.assertEqual(self.m.requests(), [])

    def test_hostile_model_never_reaches_a_url(self):
        # A gemini- name from a body goes into Gemini's URL path only
        # when it is a model name.
        for bad in ("gemini-x/../../evil", "gemini-x?key=1", "gemini-x#f", "gemini-x y"):
            st, _, body = self.post("/v1/completions", {"model": bad, "prompt": "x"})
            self.assertIn(st, (400, 501), body)
        self.assertEqual(self.m.requests(), [])


class Translate(Base):
    """Formats that differ go through the pivot (DESIGN 6): the upstream
    gets its own format, the client its own answer and error shape."""

    def test_claude_client_to_gemini_key(self):
        st, h, body = self.post("/v1/messages", {
            "model": "gemini-2.5-flash", "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}]})
        self.assertEqual(st, 200, body)
        j = json.loads(body)
        self.assertEqual(j["type"], "message")
        self.assertEqual(j["content"][0]["text"], "hi from gemini")
        self.assertEqual(j["stop_reason"], "end_turn")
        r = self.m.requests()[0]
        self.assertEqual(r["path"], "/gem/v1beta/models/gemini-2.5-flash:generateContent")
        self.assertEqual(r["json"]["contents"][0]["parts"][0]["text"], "hi")
        self.assertNotIn("model", r["json"])
        st, h, body = self.post("/v1/messages", {
            "model": "gemini-2.5-flash", "max_tokens": 64, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]})
        self.assertEqual(st, 200)
        self.assertTrue(h["content-type"].startswith("text/event-stream"))
        events = [ln[7:] for ln in body.decode().splitlines() if ln.startswith("event: ")]
        self.assertEqual(events[0], "message_start")
        self.assertEqual(events[-1], "message_stop")
        self.assertIn("content_block_delta", events)
        self.assertTrue(self.m.requests()[1]["path"].endswith(
            ":streamGenerateContent?alt=sse"))

    def test_gemini_client_to_claude_key(self):
        st, h, body = self.d.request(
            "POST", "/v1beta/models/claude-sonnet-4-5:generateContent",
            json.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}).encode(),
            {"x-goog-api-key": KEY})
        self.assertEqual(st, 200, body)
        j = json.loads(body)
        self.assertEqual(j["candidates"][0]["content"]["parts"][0]["text"], "hi from claude")
        r = self.m.requests()[0]
        self.assertTrue(r["path"].endswith("/v1/messages"))
        self.assertEqual(r["json"]["model"], "claude-sonnet-4-5")
        self.assertEqual(r["json"]["messages"][0]["role"], "user")

    def test_upstream_error_in_client_shape(self):
        old = self.d.status()["config-sha256"]
        self.d.write_config(cfg_for(self.m, **{"claude-api-key": [{"api-key": "k-400"}]}))
        try:
            self.d.wait_status(lambda s: s["config-sha256"] != old)
            st, _, body = self.d.request(
                "POST", "/v1beta/models/claude-sonnet-4-5:generateContent",
                json.dumps({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}).encode(),
                {"x-goog-api-key": KEY})
            self.assertEqual(st, 400)
            e = json.loads(body)["error"]
            # Gemini's shape, Claude's message
            self.assertEqual(e["message"], "bad thing")
            self.assertEqual(e["status"], "INVALID_ARGUMENT")
        finally:
            old = self.d.status()["config-sha256"]
            self.d.write_config(cfg_for(self.m))
            self.d.wait_status(lambda s: s["config-sha256"] != old)

    def test_anthropic_529_is_503_for_other_clients(self):
        # Gemini has no 529: its client gets 503 UNAVAILABLE, status line
        # and body alike.
        old = self.d.status()["config-sha256"]
        self.d.write_config(cfg_for(self.m, **{"claude-api-key": [{"api-key": "k-529"}],
                                               "request-retry": 0}))
        try:
            self.d.wait_status(lambda s: s["config-sha256"] != old)
            st, _, body = self.d.request(
                "POST", "/v1beta/models/claude-sonnet-4-5:generateContent",
                json.dumps({"contents": [{"role": "user", "parts": [{"text": "x"}]}]}).encode(),
                {"x-goog-api-key": KEY})
            self.assertEqual(st, 503, body)
            e = json.loads(body)["error"]
            self.assertEqual((e["code"], e["status"], e["message"]),
                             (503, "UNAVAILABLE", "Overloaded"))
        finally:
            old = self.d.status()["config-sha256"]
            self.d.write_config(cfg_for(self.m))
            self.d.wait_status(lambda s: s["config-sha256"] != old)


class Hints(Base):
    """Cooldowns from each kind of 429 hint (PROVIDERS.md 5)."""

    def reload(self, **over):
        old = self.d.status()["config-sha256"]
        self.d.write_config(cfg_for(self.m, **over))
        self.d.wait_status(lambda s: s["config-sha256"] != old)

    def keys_seen(self):
        return [key_of(r["headers"]) for r in self.m.requests()]

    def run_hint(self, over, path, body, bad, good, wait):
        self.reload(**over)
        for _ in range(3):  # whichever key the rotation starts at
            st, _, _ = self.post(path, body)
            self.assertEqual(st, 200)
        self.assertEqual(self.keys_seen().count(bad), 1, "a cooling key was used")
        self.assertEqual(self.keys_seen().count(good), 3)
        time.sleep(wait)
        for _ in range(2):
            st, _, _ = self.post(path, body)
        self.assertEqual(self.keys_seen().count(bad), 2, "the hint was not honoured")

    def test_retry_after_claude(self):
        self.run_hint({"claude-api-key": [{"api-key": "k-429-ra2"}, {"api-key": "c-ok"}]},
                      "/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 1,
                                       "messages": [{"role": "user", "content": "x"}]},
                      "k-429-ra2", "c-ok", 2.3)

    def test_retryinfo_gemini(self):
        self.run_hint({"generative-language-api-key": ["k-429-info2", "g-ok"]},
                      "/v1beta/models/gemini-2.5-pro:generateContent",
                      {"contents": [{"parts": [{"text": "x"}]}]}, "k-429-info2", "g-ok", 2.3)

    def test_resets_in_seconds_codex(self):
        self.run_hint({"codex-api-key": [{"api-key": "k-429-resets2"}, {"api-key": "x-ok"}]},
                      "/v1/responses", {"model": "gpt-5", "input": "x"},
                      "k-429-resets2", "x-ok", 2.3)

    def test_no_hint_is_thirty_minutes_and_retry_after_to_client(self):
        self.reload(**{"claude-api-key": [{"api-key": "k-429-nohint"}]})
        body = {"model": "claude-sonnet-4-5", "max_tokens": 1, "messages": []}
        st, h, _ = self.post("/v1/messages", body)
        self.assertEqual(st, 429)
        ra = int(h["retry-after"])
        self.assertTrue(1790 <= ra <= 1800, ra)
        st, h, _ = self.post("/v1/messages", body)
        self.assertEqual(st, 429)
        self.assertEqual(len(self.m.requests()), 1)
        # the status file says which credential cools down for what, and
        # never names its key
        stf = self.d.wait_status(lambda s: any(
            c.get("state") == "cooling" for c in s["credentials"]["list"]))
        c = [c for c in stf["credentials"]["list"] if c["state"] == "cooling"][0]
        self.assertEqual(c["kind"], "claude-api-key")
        self.assertEqual(c["label"], "claude-api-key#0")
        self.assertEqual([x["model"] for x in c["cooling"]], ["claude-sonnet-4-5"])
        self.assertNotIn("k-429-nohint", json.dumps(stf))
        # cooling for that model only: another model still goes up
        st, _, _ = self.post("/v1/messages", dict(body, model="claude-3-5-haiku-20241022"))
        self.assertEqual(st, 429)
        self.assertEqual(len(self.m.requests()), 2)

    def test_preview_models(self):
        # PROVIDERS 5: every credential of gemini-2.5-pro cooling down ->
        # its preview names (switch-preview-model, default on)
        self.reload(**{"generative-language-api-key": ["k-pro-429"]})
        path = "/v1beta/models/gemini-2.5-pro:generateContent"
        st, _, body = self.post(path, {"contents": []})
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["modelVersion"], "gemini-2.5-pro-preview-05-06")
        self.assertEqual([r["path"].rsplit("/", 1)[1] for r in self.m.requests()],
                         ["gemini-2.5-pro:generateContent",
                          "gemini-2.5-pro-preview-05-06:generateContent"])
        self.m.reset()
        self.reload(**{"generative-language-api-key": ["k-pro-429"],
                       "quota-exceeded": {"switch-preview-model": False}})
        st, _, _ = self.post(path, {"contents": []})
        self.assertEqual(st, 429)
        self.assertEqual(self.m.requests(), [])  # still cooling, no previews

    def test_model_not_found_moves_on(self):
        self.reload(**{"generative-language-api-key": ["k-404", "g-ok"]})
        path = "/v1beta/models/gemini-2.5-pro:generateContent"
        st, _, _ = self.post(path, {"contents": []})
        self.assertEqual(st, 200)
        self.assertEqual(self.keys_seen(), ["k-404", "g-ok"])
        for _ in range(3):
            self.post(path, {"contents": []})
        self.assertEqual(self.keys_seen().count("k-404"), 1)


class Reload(Base):
    cfg_over = {"generative-language-api-key": [], "codex-api-key": []}

    def test_keys_hot_reload(self):
        d = self.d
        gpath = "/v1beta/models/gemini-2.5-pro:generateContent"
        st, _, _ = self.post(gpath, {"contents": []})
        self.assertEqual(st, 404)
        st, _, _ = self.post("/v1/responses", {"model": "gpt-5", "input": "x"})
        self.assertEqual(st, 404)
        old = d.status()["config-sha256"]
        d.write_config(cfg_for(self.m, **{"generative-language-api-key": ["g-new"],
                                          "claude-api-key": [{"api-key": "c-new"}],
                                          "codex-api-key": [{"api-key": "x-new"}]}))
        d.wait_status(lambda s: s["config-sha256"] != old)
        st, _, _ = self.post(gpath, {"contents": []})
        self.assertEqual(st, 200)
        st, _, _ = self.post("/v1/messages", {"model": "claude-sonnet-4-5", "max_tokens": 1,
                                              "messages": []})
        self.assertEqual(st, 200)
        st, _, _ = self.post("/v1/responses", {"model": "gpt-5", "input": "x"})
        self.assertEqual(st, 200)
        self.assertEqual([key_of(r["headers"]) for r in self.m.requests()],
                         ["g-new", "c-new", "x-new"])
        self.assertEqual(d.status()["credentials"]["api-keys"], 4)  # + openai-compat


if __name__ == "__main__":
    tap.main()
