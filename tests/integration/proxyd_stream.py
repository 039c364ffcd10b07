#!/usr/bin/env python3
"""cliproxyd: SSE passthrough, client disconnect, backpressure, proxy-url,
request-log, debug toggle, graceful stop (DESIGN 3, 6)."""
import json
import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import proxyd_support as ps  # noqa: E402
import openai_mock  # noqa: E402
import proxy_mock  # noqa: E402

KEY = "stream-client-key-abcdefghijklmnop"
UPKEY = "k-upstream-secret-0123456789"


def cfg_for(m, **extra):
    cfg = {"api-keys": [KEY],
           "openai-compatibility": [ps.compat("mock", m.base_url, [UPKEY],
                                              [("up", "m"), ("drip-up", "drip"),
                                               ("big-up", "big"), ("slow-up", "slow")])]}
    cfg.update(extra)
    return cfg


def raw_request(port, model, stream=True):
    s = socket.create_connection(("127.0.0.1", port))
    body = json.dumps({"model": model, "stream": stream}).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
              b"Authorization: Bearer " + KEY.encode() + b"\r\n"
              b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    return s


def read_until(s, marker, limit=1 << 20, timeout=10):
    """Read until marker appears (only the new tail is searched)."""
    s.settimeout(timeout)
    data = bytearray()
    while len(data) < limit:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        start = max(0, len(data) - len(marker))
        data += chunk
        if data.find(marker, start) >= 0:
            break
    return bytes(data)


def dechunk(data):
    """Body of a chunked HTTP/1.1 response (after the header block)."""
    head, _, rest = data.partition(b"\r\n\r\n")
    out = bytearray()
    pos = 0
    while pos < len(rest):
        eol = rest.index(b"\r\n", pos)
        n = int(rest[pos:eol].split(b";")[0], 16)
        if n == 0:
            break
        out += rest[eol + 2:eol + 2 + n]
        pos = eol + 2 + n + 2
    return head, bytes(out)


class Stream(ps.DaemonPerClass, unittest.TestCase):
    @classmethod
    def cfg(cls, m):
        return cfg_for(m)

    def test_sse_passthrough_byte_exact(self):
        st, h, body = self.d.chat(KEY, "m", stream=True)
        self.assertEqual(st, 200)
        self.assertEqual(h["content-type"], "text/event-stream")
        self.assertEqual(body, openai_mock.sse_bytes("up", " [" + UPKEY + "]"))
        r = self.m.requests()[0]
        self.assertEqual(r["headers"]["accept"], "text/event-stream")
        self.assertIs(r["json"]["stream"], True)

    def test_client_disconnect_cancels_upstream(self):
        s = raw_request(self.d.port, "drip")
        data = read_until(s, b'"drip":2')
        self.assertIn(b"200", data.split(b"\r\n")[0])
        t0 = time.time()
        s.close()
        ev = ps.wait_until(lambda: [e for e in self.m.events()
                                    if e["kind"] == "client_closed"], timeout=5)
        self.assertTrue(ev, "upstream never saw the connection close")
        self.assertLess(ev[0]["t"] - t0, 2.0)
        self.assertLess(ev[0]["sent"], 50)
        st = self.d.wait_status(lambda s: s["requests"]["in-flight"] == 0)
        self.assertEqual(st["requests"]["in-flight"], 0)

    def test_disconnect_while_waiting_cancels_upstream(self):
        s = raw_request(self.d.port, "slow", stream=False)
        ps.wait_until(lambda: self.m.requests(), timeout=5)
        time.sleep(0.2)
        t0 = time.time()
        s.close()
        ev = ps.wait_until(lambda: [e for e in self.m.events()
                                    if e["kind"] == "client_closed"], timeout=5)
        self.assertTrue(ev, "upstream never saw the connection close")
        self.assertLess(ev[0]["t"] - t0, 1.5)
        st = self.d.wait_status(lambda s: s["requests"]["in-flight"] == 0)
        self.assertEqual(st["requests"]["in-flight"], 0)

    def test_backpressure_pauses_upstream(self):
        before = ps.rss_kib(self.d.proc.pid)
        self.m.big_sent = 0
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.connect(("127.0.0.1", self.d.port))
        body = json.dumps({"model": "big", "stream": True}).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + KEY.encode() + b"\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body) + body)
        time.sleep(2.0)  # do not read: the daemon must not buffer 64 MiB
        during = ps.rss_kib(self.d.proc.pid)
        sent_paused = self.m.big_sent * 16386
        data = read_until(s, b"\r\n0\r\n\r\n", limit=80 << 20, timeout=60)
        s.close()
        head, body = dechunk(data)
        self.assertIn(b" 200 ", head.split(b"\r\n")[0])
        line = b"data: " + b"x" * 16378 + b"\n\n"
        expect = line * openai_mock.BIG_EVENTS + b"data: [DONE]\n\n"
        self.assertEqual(len(body), len(expect))
        self.assertEqual(body, expect)
        # While the client did not read, upstream was held back: what it
        # could send is the daemon's cap plus kernel socket buffers, far
        # from 64 MiB, and the daemon's memory did not follow.
        self.assertLess(sent_paused, 24 << 20, "upstream was not paused")
        self.assertLess(during - before, 16 * 1024, "daemon buffered the stream")

    def test_inflight_keeps_old_snapshot(self):
        s = raw_request(self.d.port, "drip")
        read_until(s, b'"drip":1')
        old = self.d.status()["config-sha256"]
        cfg = cfg_for(self.m)
        cfg["openai-compatibility"][0]["models"] = [{"name": "up", "alias": "m"}]
        self.d.write_config(cfg)
        self.d.wait_status(lambda st: st["config-sha256"] != old)
        st, _, _ = self.d.chat(KEY, "drip")
        self.assertEqual(st, 404)  # new requests see the new config
        data = read_until(s, b'"drip":12')  # the old stream keeps flowing
        self.assertIn(b'"drip":12', data)
        s.close()
        self.d.write_config(cfg_for(self.m))
        self.d.wait_status(lambda st: st["config-sha256"] == old)


class ProxyUrl(unittest.TestCase):
    def test_proxy_url_used_and_hot_reloaded(self):
        m = openai_mock.MockUpstream().start()
        p = proxy_mock.ProxyMock().start()
        d = ps.Daemon(cfg_for(m, **{"proxy-url": "http://127.0.0.1:%d" % p.port}))
        try:
            d.start()
            st, _, body = d.chat(KEY, "m")
            self.assertEqual(st, 200)
            seen = p.seen()
            self.assertEqual(len(seen), 1)
            self.assertEqual(seen[0]["method"], "POST")
            self.assertEqual(seen[0]["target"], m.base_url + "/chat/completions")
            st, _, body = d.chat(KEY, "m", stream=True)
            self.assertEqual(body, openai_mock.sse_bytes("up", " [" + UPKEY + "]"))
            self.assertEqual(len(p.seen()), 2)
            old = d.status()["config-sha256"]
            d.write_config(cfg_for(m))  # proxy-url removed
            d.wait_status(lambda st: st["config-sha256"] != old)
            st, _, _ = d.chat(KEY, "m")
            self.assertEqual(st, 200)
            self.assertEqual(len(p.seen()), 2, "proxy still used after reload")
            self.assertEqual(len(m.requests()), 3)
        finally:
            self.assertEqual(d.stop(), 0)
            self.assertEqual(d.sanitizer_errors(), [])
            d.cleanup()
            p.stop()
            m.stop()


class LogsAndStop(unittest.TestCase):
    def test_request_log_masked_and_bounded(self):
        m = openai_mock.MockUpstream().start()
        d = ps.Daemon({})
        logdir = os.path.join(d.dir, "reqlog")
        os.mkdir(logdir)
        for i in range(1005):  # older than anything the daemon writes
            with open(os.path.join(logdir, "20000101T000000Z-%08d-1.log" % i), "w") as f:
                f.write("old\n")
        d.write_config(d.config_text(cfg_for(m, **{"request-log": True,
                                                   "request-log-dir": logdir})))
        try:
            d.start()
            st, _, _ = d.chat(KEY, "m", header="x-api-key")
            self.assertEqual(st, 200)
            st, _, _ = d.chat(KEY, "m", header="query")
            self.assertEqual(st, 200)
            names = ps.wait_until(lambda: sorted(n for n in os.listdir(logdir)
                                                 if not n.startswith("2000")) or None)
            self.assertEqual(len(names), 2)
            all_names = os.listdir(logdir)
            self.assertLessEqual(len(all_names), 1000)
            self.assertNotIn("20000101T000000Z-%08d-1.log" % 0, all_names)  # oldest gone
            for n in names:
                with open(os.path.join(logdir, n)) as f:
                    text = f.read()
                self.assertIn("/v1/chat/completions", text)
                self.assertIn("Hello from the mock", text)
                self.assertNotIn(KEY, text)
                # (the mock echoes the upstream key in its answer, so only
                # the client key can be checked here)
            self.assertNotIn(KEY, d.log_text())
        finally:
            self.assertEqual(d.stop(), 0)
            self.assertEqual(d.sanitizer_errors(), [])
            d.cleanup()
            m.stop()

    def test_debug_hot_toggle(self):
        m = openai_mock.MockUpstream().start()
        d = ps.Daemon(cfg_for(m))
        try:
            d.start()
            d.chat(KEY, "m")
            self.assertNotIn("debug:", d.log_text())
            old = d.status()["config-sha256"]
            d.write_config(cfg_for(m, debug=True))
            d.wait_status(lambda st: st["config-sha256"] != old)
            d.chat(KEY, "m")
            self.assertTrue(ps.wait_until(lambda: "debug:" in d.log_text(), timeout=3))
        finally:
            self.assertEqual(d.stop(), 0)
            d.cleanup()
            m.stop()

    def test_sigterm_finishes_inflight(self):
        m = openai_mock.MockUpstream().start()
        d = ps.Daemon(cfg_for(m))
        try:
            d.start()
            s = raw_request(d.port, "drip")
            read_until(s, b'"drip":1')
            t0 = time.time()
            d.proc.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            # No longer accepting.
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", d.port), timeout=2).recv(1)
            # The stream still flows during the grace period...
            self.assertIn(b'"drip":8', read_until(s, b'"drip":8'))
            rc = d.proc.wait(timeout=30)
            self.assertEqual(rc, 0)
            # ...and is cut at the deadline (10 s), not the 30 s stream end.
            self.assertLess(time.time() - t0, 20)
            s.close()
            self.assertTrue(ps.wait_until(lambda: [e for e in m.events()
                                                   if e["kind"] == "client_closed"], 5))
        finally:
            d.stop()
            self.assertEqual(d.sanitizer_errors(), [])
            d.cleanup()
            m.stop()


if __name__ == "__main__":
    tap.main()
