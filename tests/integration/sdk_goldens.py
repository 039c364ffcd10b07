#!/usr/bin/env python3
"""sdk_goldens.py - the official openai SDK (tests/sdk, npm) reads every
client answer of the OpenAI codec goldens (tests/data/formats/openai-*),
served byte for byte by a loopback server, and gets out of it what the
golden says: text, finish reason or status, tool calls, usage, output
items, a thrown error for a failed stream. test_formats proves the codecs
write exactly these bytes; this proves the bytes are what the SDK expects,
event for event (its stream helpers check the order as they accumulate).

Needs node and tests/sdk/node_modules (tools/test runs npm ci there).
Standard library only.
"""
import http.server
import json
import os
import subprocess
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("CLIPROXY_SRCDIR", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)
import tap  # noqa: E402
from sdk_mock import node_or_fail, SDK_DIR  # noqa: E402

GOLDENS = os.path.join(SRCDIR, "tests", "data", "formats")
ANSWERS = (("client_answer.sse", "text/event-stream"), ("client_answer.json", "application/json"))


def cases():
    out = []
    for name in sorted(os.listdir(GOLDENS)):
        if name.startswith(("openai-chat--", "openai-responses--")) and any(
                os.path.exists(os.path.join(GOLDENS, name, f)) for f, _ in ANSWERS):
            out.append(name)
    return out


class Replay(http.server.BaseHTTPRequestHandler):
    """POST /<case>/v1/...: that case's client answer."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        case = self.path.split("/")[1]
        for f, ctype in ANSWERS:
            p = os.path.join(GOLDENS, case, f)
            if case in cases() and os.path.exists(p):
                with open(p, "rb") as fh:
                    body = fh.read()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
        self.send_error(404)

    def log_message(self, *args):
        pass


def sse_data(path):
    """[(event name, data as JSON or the literal [DONE])] of a golden stream."""
    out, event, data = [], None, []
    with open(path) as fh:
        for line in fh.read().split("\n") + [""]:
            if line == "":
                if data:
                    d = "\n".join(data)
                    out.append((event, d if d == "[DONE]" else json.loads(d)))
                event, data = None, []
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
    return out


def expect_chat(case):
    """What the SDK must report for a Chat golden, from the golden."""
    d = os.path.join(GOLDENS, case)
    if os.path.exists(os.path.join(d, "client_answer.json")):
        with open(os.path.join(d, "client_answer.json")) as fh:
            a = json.load(fh)
        c = a["choices"][0]
        return {"finish_reason": c["finish_reason"], "content": c["message"]["content"],
                "calls": [[t["id"], t["function"]["name"], t["function"]["arguments"]]
                          for t in c["message"].get("tool_calls", [])],
                "usage": a["usage"]}
    content, finish, usage, calls, error = None, None, None, {}, None
    for _, o in sse_data(os.path.join(d, "client_answer.sse")):
        if o == "[DONE]":
            continue
        if "error" in o:
            error = o["error"]["message"]
            continue
        usage = o.get("usage") or usage
        for ch in o["choices"]:
            delta = ch["delta"]
            if delta.get("content") is not None:
                content = (content or "") + delta["content"]
            for t in delta.get("tool_calls", []):
                c = calls.setdefault(t["index"], ["", "", ""])
                c[0] = t.get("id", c[0])
                c[1] += t.get("function", {}).get("name", "")
                c[2] += t.get("function", {}).get("arguments", "")
            finish = ch.get("finish_reason") or finish
    if error is not None:
        return {"error": error}
    # the SDK's accumulator starts content at the first chunk's ""
    return {"finish_reason": finish, "content": content if not calls or content else None,
            "calls": [calls[i] for i in sorted(calls)], "usage": usage}


def expect_responses(case):
    d = os.path.join(GOLDENS, case)
    if os.path.exists(os.path.join(d, "client_answer.json")):
        with open(os.path.join(d, "client_answer.json")) as fh:
            resp = json.load(fh)
        events = []
    else:
        evs = sse_data(os.path.join(d, "client_answer.sse"))
        resp = evs[-1][1]["response"]
        events = [[o["type"], o["sequence_number"]] for _, o in evs]
    text = "".join(p["text"] for i in resp["output"] if i["type"] == "message"
                   for p in i["content"] if p["type"] == "output_text")
    return {"status": resp["status"], "text": text, "items": [i["type"] for i in resp["output"]],
            "calls": [[i["call_id"], i["name"], i["arguments"]] for i in resp["output"]
                      if i["type"] == "function_call"],
            "usage": resp["usage"], "events": events}


class SdkGoldens(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        node = node_or_fail()
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Replay)
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        base = "http://127.0.0.1:%d" % cls.server.server_address[1]
        p = subprocess.run([node, os.path.join(SDK_DIR, "goldens.mjs"), "--base-url", base]
                           + cases(), capture_output=True, text=True, timeout=300, cwd=SDK_DIR)
        if p.returncode != 0:
            raise RuntimeError("goldens.mjs exited %d: %s" % (p.returncode, p.stderr[-2000:]))
        cls.results = {}
        for ln in p.stdout.splitlines():
            r = json.loads(ln)
            cls.results[r["case"]] = r

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def test_every_case_read(self):
        self.assertGreater(len(cases()), 30)
        self.assertEqual(sorted(self.results), cases())

    def test_chat_answers(self):
        bad = []
        for case in cases():
            if not case.startswith("openai-chat--"):
                continue
            want, got = expect_chat(case), self.results[case]
            if "error" in want:
                if got["ok"] or want["error"] not in got["error"]:
                    bad.append((case, want, got))
            elif not got["ok"] or got["result"] != want:
                bad.append((case, want, got))
        self.assertEqual(bad, [])

    def test_responses_answers(self):
        bad = []
        for case in cases():
            if not case.startswith("openai-responses--"):
                continue
            want, got = expect_responses(case), self.results[case]
            # the stream helper saw every event, numbered 0, 1, ...
            if not got["ok"] or got["result"] != want or \
                    [n for _, n in got["result"]["events"]] != list(range(len(want["events"]))):
                bad.append((case, want, got))
        self.assertEqual(bad, [])

if __name__ == "__main__":
    tap.main()
