#!/usr/bin/env python3
"""openai_mock.py - a mock OpenAI-compatible upstream for cliproxyd tests.

Python standard library only. Listens on 127.0.0.1 on a port chosen at run
time (bind port 0). Use it in-process:

    m = MockUpstream(); m.start(); ... m.port ... m.requests() ... m.stop()

or standalone: `openai_mock.py [--port-file F]` prints "PORT <n>" and serves
until killed; GET /_mock/requests and /_mock/events return what it saw,
POST /_mock/reset forgets it.

Behaviour is chosen per request, by the key (Authorization: Bearer <key>):
  k-429[-raN]   429 with Retry-After: N (default 60); k-429-nora: no header
  k-4xx/k-5xx   that status with an OpenAI error body (k-403, k-500, ...)
  k-close       close the connection without any answer
  anything else a normal answer
and by the upstream model name (after the key passed):
  *drip*        SSE, one event every 0.1 s for 30 s (records a client close)
  *hold*        SSE, one event then a comment every second for 120 s
  *big*         SSE of 64 MiB in 16 KiB events (backpressure; progress in
                MockUpstream.big_sent)
  *midclose*    SSE of three events, then an abrupt close
  *empty*       200 with an empty body
  *slow*        a JSON answer after 3 s (records a client close meanwhile)
  otherwise     SSE when "stream": true, else one JSON completion; both
                deterministic (see sse_bytes / json_bytes).
"""
import json
import os
import select
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sse_bytes(model, key_tag=""):
    """The exact SSE stream the mock sends for a normal streaming request."""
    out = []
    words = ["Hello", " from", " the", " mock", key_tag]
    for i, w in enumerate(words):
        chunk = {"id": "chatcmpl-mock", "object": "chat.completion.chunk",
                 "created": 1700000000, "model": model,
                 "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
        out.append("data: " + json.dumps(chunk, separators=(",", ":")) + "\n\n")
        if i == 1:
            out.append(": keep-alive comment\n\n")
    out.append("data: [DONE]\n\n")
    return "".join(out).encode()


def json_bytes(model, key_tag=""):
    """The exact JSON body the mock sends for a normal non-stream request."""
    body = {"id": "chatcmpl-mock", "object": "chat.completion", "created": 1700000000,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant",
                                                 "content": "Hello from the mock" + key_tag},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
    # Deliberately unusual spacing: the proxy must pass bytes, not re-encode.
    return json.dumps(body, indent=1).encode()


BIG_EVENTS = 4096


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "openai-mock/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _record(self, body):
        rec = {"method": self.command, "path": self.path,
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "body": body.decode("utf-8", "replace"), "t": time.time()}
        try:
            rec["json"] = json.loads(body) if body else None
        except ValueError:
            rec["json"] = None
        self.server.mock._add(rec)
        return rec

    def _send(self, status, body, ctype="application/json", extra=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        # what a provider sends along: the proxy passes the first three
        # on and must keep the last two to itself
        self.send_header("X-Request-Id", "req-mock-%d" % len(self.server.mock.requests()))
        self.send_header("X-RateLimit-Remaining-Requests", "99")
        self.send_header("Openai-Processing-Ms", "7")
        self.send_header("Set-Cookie", "upstream-session=mock-cookie-value")
        self.send_header("X-Mock-Internal", "upstream only")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        m = self.server.mock
        if self.path == "/_mock/requests":
            self._send(200, json.dumps(m.requests()).encode())
        elif self.path == "/_mock/events":
            self._send(200, json.dumps(m.events()).encode())
        else:
            self._send(404, b'{"error":"not found"}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/_mock/reset":
            self.server.mock.reset()
            self._send(200, b"{}")
            return
        rec = self._record(body)
        auth = self.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else ""
        req = rec["json"] or {}
        model = str(req.get("model", ""))
        stream = req.get("stream") is True
        if key.startswith("k-429"):
            extra = {}
            if "-nora" not in key:
                ra = "60"
                if "-ra" in key:
                    ra = key.split("-ra", 1)[1]
                extra["Retry-After"] = ra
            self._send(429, b'{"error":{"message":"quota exceeded","type":"rate_limit"}}',
                       extra=extra)
            return
        if key == "k-close":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if len(key) == 5 and key.startswith("k-") and key[2:].isdigit():
            status = int(key[2:])
            self._send(status, json.dumps({"error": {"message": "mock error %d" % status,
                                                     "type": "mock"}}).encode())
            return
        tag = " [" + key + "]"
        if "slow" in model:
            # Think for 3 s before answering, watching for the caller
            # to hang up (EOF on the socket) meanwhile.
            end = time.time() + 3.0
            while time.time() < end:
                r, _, _ = select.select([self.connection], [], [], 0.05)
                if r:
                    try:
                        gone = self.connection.recv(1, socket.MSG_PEEK) == b""
                    except OSError:
                        gone = True
                    if gone:
                        self.server.mock._event({"kind": "client_closed", "model": model,
                                                 "sent": 0, "t": time.time()})
                        self.close_connection = True
                        return
            self._send(200, json_bytes(model, tag))
            return
        if "empty" in model:
            self._send(200, b"")
            return
        if "drip" in model or "hold" in model or "big" in model or "midclose" in model:
            self._stream_special(model)
            return
        if stream:
            self._send(200, sse_bytes(model, tag), ctype="text/event-stream")
        else:
            self._send(200, json_bytes(model, tag))

    def _stream_special(self, model):
        m = self.server.mock
        if "midclose" in model:
            # Chunked, so that the early close is visible as a truncation.
            self.protocol_version = "HTTP/1.1"
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(3):
                ev = b'data: {"n":%d}\n\n' % i
                self.wfile.write(b"%x\r\n%s\r\n" % (len(ev), ev))
            self.wfile.flush()
            time.sleep(0.05)
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        sent = 0
        try:
            if "big" in model:
                line = b"data: " + b"x" * 16378 + b"\n\n"  # 16 KiB events
                for _ in range(BIG_EVENTS):  # 64 MiB
                    self.wfile.write(line)
                    sent += 1
                    m.big_sent = sent
                self.wfile.write(b"data: [DONE]\n\n")
                m._event({"kind": "done", "model": model, "sent": sent})
                return
            if "hold" in model:
                self.wfile.write(b'data: {"hold":true}\n\n')
                self.wfile.flush()
                end = time.time() + m.hold_seconds
                while time.time() < end and not m.stopping:
                    time.sleep(1.0)
                    self.wfile.write(b": ping\n\n")
                    self.wfile.flush()
                m._event({"kind": "done", "model": model})
                return
            for i in range(300):  # drip: 30 s
                self.wfile.write(b'data: {"drip":%d}\n\n' % i)
                self.wfile.flush()
                sent += 1
                time.sleep(0.1)
            self.wfile.write(b"data: [DONE]\n\n")
            m._event({"kind": "done", "model": model, "sent": sent})
        except (BrokenPipeError, ConnectionResetError, OSError):
            m._event({"kind": "client_closed", "model": model, "sent": sent, "t": time.time()})
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 2048


class MockUpstream:
    """The mock in a background thread of the calling process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._reqs = []
        self._events = []
        self.stopping = False
        self.hold_seconds = 120
        self.big_sent = 0
        self.srv = _Server(("127.0.0.1", 0), _Handler)
        self.srv.mock = self
        self.port = self.srv.server_address[1]
        self._thr = None

    @property
    def base_url(self):
        return "http://127.0.0.1:%d/v1" % self.port

    def start(self):
        self._thr = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self._thr.start()
        return self

    def stop(self):
        self.stopping = True
        self.srv.shutdown()
        self.srv.server_close()

    def _add(self, rec):
        with self._lock:
            self._reqs.append(rec)

    def _event(self, ev):
        with self._lock:
            self._events.append(ev)

    def requests(self):
        with self._lock:
            return list(self._reqs)

    def events(self):
        with self._lock:
            return list(self._events)

    def reset(self):
        with self._lock:
            self._reqs = []
            self._events = []


def main():
    m = MockUpstream().start()
    if len(sys.argv) == 3 and sys.argv[1] == "--port-file":
        tmp = sys.argv[2] + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % m.port)
        os.replace(tmp, sys.argv[2])
    print("PORT %d" % m.port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        m.stop()


if __name__ == "__main__":
    main()
