#!/usr/bin/env python3
"""cliproxyd: upstream connections (DESIGN 6, src/proxyd/upstream.c).
Sequential requests share one kept-alive upstream connection; an upstream
that closes each connection after its answer (without saying so) costs a
new connection per request and never a failed or stuck request. The
second case is the one where upstream.c keeps an idle socket registered
with the loop and must forget it before libcurl closes it: a new socket
that reuses the descriptor number would otherwise never be watched."""
import json
import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import proxyd_support as ps  # noqa: E402

CLIENT_KEY = "client-key-upconn-0123456789"
HEAD_MAX = 64 * 1024
BODY = json.dumps({"id": "chatcmpl-upconn", "object": "chat.completion",
                   "choices": [{"index": 0, "message": {"role": "assistant",
                                                        "content": "hi"},
                                "finish_reason": "stop"}]}).encode()


class Upstream:
    """A raw HTTP/1.1 upstream on a loopback port chosen at run time that
    counts the connections it accepts; with close_after set it closes each
    connection right after its answer, which it sends without
    "Connection: close", as a server whose keep-alive timed out does."""

    def __init__(self, close_after):
        self.close_after = close_after
        self.lock = threading.Lock()
        self.connections = 0
        self.answers = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.base_url = "http://127.0.0.1:%d/v1" % self.port
        self.stopping = False
        self.thread = threading.Thread(target=self.accept_loop, daemon=True)
        self.thread.start()

    def accept_loop(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = c.recv(65536)
                    if not chunk or len(buf) > HEAD_MAX:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v.strip())
                while len(buf) < length:
                    chunk = c.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                buf = buf[length:]
                with self.lock:  # counted before the client can see it
                    self.answers += 1
                c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                          b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY)
                if self.close_after:
                    return
        except OSError:
            return
        finally:
            c.close()

    def stop(self):
        self.stopping = True
        self.sock.close()


def make_cfg(up):
    return {"api-keys": [CLIENT_KEY],
            "openai-compatibility": [ps.compat("up", up.base_url, ["k-up"],
                                               [("upstream-model", "alias-up")])]}


class UpstreamConnections(unittest.TestCase):
    def run_daemon(self, up, fn):
        d = ps.Daemon(make_cfg(up))
        try:
            d.start()
            fn(d)
        finally:
            rc = d.stop()
            errs = d.sanitizer_errors()
            d.cleanup()
            up.stop()
        self.assertEqual(rc, 0)
        self.assertEqual(errs, [])

    def chat_ok(self, d):
        st, _, body = d.chat(CLIENT_KEY, "alias-up")
        self.assertEqual(st, 200, body[:200])
        self.assertEqual(body, BODY)

    def test_kept_alive_connection_reused(self):
        up = Upstream(close_after=False)

        def fn(d):
            for _ in range(20):
                self.chat_ok(d)
            self.assertEqual(up.answers, 20)
            self.assertEqual(up.connections, 1)
        self.run_daemon(up, fn)

    def test_upstream_closing_idle_connections(self):
        up = Upstream(close_after=True)

        def fn(d):
            errors = []
            sequential = 30
            for _ in range(sequential):
                self.chat_ok(d)
            self.assertEqual(up.answers, sequential)
            self.assertEqual(up.connections, sequential)
            # 8 clients at once: descriptors of closed upstream sockets
            # come back as client and upstream sockets alike.

            def client():
                try:
                    for _ in range(15):
                        st, _, body = d.chat(CLIENT_KEY, "alias-up")
                        if st != 200 or body != BODY:
                            errors.append((st, body[:200]))
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(repr(e))
            ts = [threading.Thread(target=client) for _ in range(8)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            self.assertEqual(errors, [])
            self.assertEqual(up.answers, sequential + 8 * 15)
        self.run_daemon(up, fn)


if __name__ == "__main__":
    tap.main()
