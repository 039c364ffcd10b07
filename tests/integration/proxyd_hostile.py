#!/usr/bin/env python3
"""cliproxyd from outside as a hostile client (issue 10, daemon part):
X-Forwarded-For that cannot be followed under allow-localhost-unauthenticated,
unauthenticated large bodies (RSS bounded: the figure is printed), the
per-route body cap and the connection cap, client keys in every spelling
and escaped query values in the logs, NULs in keys, duplicate JSON members.
"""
import json
import os
import socket
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import proxyd_support as ps  # noqa: E402
import openai_mock  # noqa: E402

CLIENT_KEY = "hostile-client-key-0123456789abcdef"
BODY_MIB = 16
CLIENTS = 20


def make_cfg(m, **extra):
    cfg = {
        "api-keys": [CLIENT_KEY],
        "openai-compatibility": [
            ps.compat("mockA", m.base_url, ["k-ok"], [("upstream-model-a", "alias-a")]),
        ],
    }
    cfg.update(extra)
    return cfg


def sanitized(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "asan" in f.read()


def raw(port, data, timeout=10, half_close=True):
    """Send data on a fresh connection, return what comes back until EOF
    (or the timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        return ps.read_to_eof(s)
    except OSError:
        return b""
    finally:
        s.close()


def status_of(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def chat_head(path="/v1/chat/completions", headers=None, length=0):
    h = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" % path.encode()
    for k, v in (headers or {}).items():
        h += k.encode() + b": " + v.encode() + b"\r\n"
    return h + b"Content-Length: %d\r\n\r\n" % length


class ForwardedFor(ps.DaemonPerClass, unittest.TestCase):
    """allow-localhost-unauthenticated behind a loopback (trusted) proxy:
    an address that cannot be determined is never loopback."""

    @classmethod
    def cfg(cls, m):
        return make_cfg(m, **{"allow-localhost-unauthenticated": True})

    def post(self, xff, key=None):
        h = {}
        if xff is not None:
            h["X-Forwarded-For"] = xff
        if key is not None:
            h["Authorization"] = "Bearer " + key
        st, _, _ = self.d.request("POST", "/v1/chat/completions", {"model": "alias-a"}, h)
        return st

    def test_local_still_served(self):
        self.assertEqual(self.post(None), 200)
        self.assertEqual(self.post("127.0.0.1"), 200)

    def test_overlong_header_is_not_loopback(self):
        xff = "203.0.113.9, " + ", ".join(["127.0.0.1"] * 500)
        self.assertGreater(len(xff), 4096)
        self.assertEqual(self.post(xff), 401)
        self.assertEqual(self.post(xff, CLIENT_KEY), 200)

    def test_more_entries_than_the_walk_is_not_loopback(self):
        xff = "203.0.113.9, " + ", ".join(["127.0.0.1"] * 40)
        self.assertLess(len(xff), 4096)
        self.assertEqual(self.post(xff), 401)
        self.assertEqual(self.post(xff, CLIENT_KEY), 200)

    def test_malformed_entries_are_not_loopback(self):
        for xff in ("1" * 80, "203.0.113.9, " + "a" * 70, "127.0.0.1, , 127.0.0.1",
                    "not-an-address", "127.0.0.1:8080", "127.0.0.1 127.0.0.2", ",", " "):
            self.assertEqual(self.post(xff), 401, xff)

    def test_two_headers_are_not_loopback(self):
        body = b'{"model":"alias-a"}'
        resp = raw(self.d.port, chat_head(headers={"X-Forwarded-For": "127.0.0.1"},
                                          length=len(body))
                   .replace(b"\r\n\r\n", b"\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n") + body)
        self.assertEqual(status_of(resp), 401, resp[:200])


class TrustedProxiesEmpty(unittest.TestCase):
    def test_explicit_empty_list_trusts_nobody(self):
        # One definition of the default (config.c): an explicit [] is not
        # "loopback", so the loopback peer's X-Forwarded-For is ignored.
        m = openai_mock.MockUpstream().start()
        d = ps.Daemon(make_cfg(m, **{"allow-localhost-unauthenticated": True,
                                     "trusted-proxies": []}))
        try:
            d.start()
            st, _, _ = d.request("POST", "/v1/chat/completions", {"model": "alias-a"},
                                 {"X-Forwarded-For": "203.0.113.9"})
            self.assertEqual(st, 200)
        finally:
            self.assertEqual(d.stop(), 0)
            self.assertEqual(d.sanitizer_errors(), [])
            d.cleanup()
            m.stop()


class Limits(ps.DaemonPerClass, unittest.TestCase):
    # Under ASan, freed memory sits in a quarantine (256 MiB by default)
    # that would count as RSS: keep it small, as rel_reload does.
    ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:quarantine_size_mb=1"}

    @classmethod
    def cfg(cls, m):
        return make_cfg(m, **{"request-body-max": 1024 * 1024, "max-connections": 64})

    def test_unauthenticated_large_bodies_rss_bounded(self):
        # 20 clients without a key each announce 16 MiB, send all of it
        # but the last byte and hold the connection.
        pid = self.d.proc.pid
        before = ps.rss_kib(pid)
        body = b"x" * (BODY_MIB * 1024 * 1024 - 1)
        socks, answers, sent = [], [], [0]
        lock = threading.Lock()

        def client():
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=60)
            socks.append(s)
            s.sendall(chat_head(length=len(body) + 1))
            try:
                s.sendall(body)
                with lock:
                    sent[0] += 1
            except OSError:
                pass
        ts = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        time.sleep(0.5)
        during = ps.rss_kib(pid)
        growth = during - before
        print("# %d unauthenticated clients x %d MiB body (all but the last byte "
              "sent by %d): RSS %d KiB before, %d KiB while held, growth %d KiB "
              "(%.1f KiB per connection)" % (CLIENTS, BODY_MIB, sent[0], before, during,
                                             growth, growth / CLIENTS))
        try:
            self.assertEqual(sent[0], CLIENTS)
            # main before the fix: ~270 MiB (the bodies, buffered)
            self.assertLess(growth, (32 if sanitized(pid) else 4) * 1024)
            for s in socks:
                s.settimeout(10)
                answers.append(s.recv(4096))
        finally:
            for s in socks:
                s.close()
        for a in answers:
            self.assertEqual(status_of(a), 401, a[:200])
            self.assertIn(b'"invalid_api_key"', a)

    def test_body_cap_answered_before_the_body(self):
        # Only the head is sent: the 413 comes without waiting for the body.
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        s.sendall(chat_head(headers={"Authorization": "Bearer " + CLIENT_KEY},
                            length=2 * 1024 * 1024))
        resp = s.recv(4096)
        s.close()
        self.assertEqual(status_of(resp), 413, resp[:200])
        self.assertIn(b'"request_too_large"', resp)
        # At the cap it is read and served.
        body = json.dumps({"model": "alias-a", "pad": "y" * (1024 * 1024 - 100)}).encode()
        self.assertLessEqual(len(body), 1024 * 1024)
        st, _, _ = self.d.request("POST", "/v1/chat/completions", body,
                                  {"Authorization": "Bearer " + CLIENT_KEY})
        self.assertEqual(st, 200)

    def test_refused_body_dropped_and_connection_kept(self):
        # A client that sends the refused body anyway reads its 401 and
        # can go on with the same connection.
        body = b'{"model":"alias-a"}' + b" " * 100000
        one = chat_head(length=len(body)) + body
        two = chat_head(headers={"Authorization": "Bearer " + CLIENT_KEY,
                                 "Connection": "close"}, length=19) + b'{"model":"alias-a"}'
        resp = raw(self.d.port, one + two, timeout=20, half_close=False)
        self.assertEqual(resp.count(b"HTTP/1.1 401"), 1, resp[:300])
        self.assertEqual(resp.count(b"HTTP/1.1 200"), 1, resp[:300])

    def test_unknown_route_and_method_do_not_read_the_body(self):
        for head in (chat_head("/v1/nothing", length=64 * 1024 * 1024),
                     chat_head(length=64 * 1024 * 1024).replace(b"POST", b"PUT", 1)):
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
            s.sendall(head)
            resp = s.recv(4096)
            s.close()
            self.assertIn(status_of(resp), (404, 501), resp[:200])

    def test_chunked_body_over_cap(self):
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        head = chat_head(headers={"Authorization": "Bearer " + CLIENT_KEY}).replace(
            b"Content-Length: 0", b"Transfer-Encoding: chunked")
        s.sendall(head)
        chunk = b"x" * 65536
        try:
            for _ in range(40):
                s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except OSError:
            pass
        resp = ps.read_to_eof(s)
        s.close()
        self.assertEqual(status_of(resp), 413, resp[:200])
        # in the client's own error shape (was evhttp's HTML page)
        self.assertIn(b"application/json", resp.split(b"\r\n\r\n", 1)[0].lower())
        err = json.loads(resp.split(b"\r\n\r\n", 1)[1])["error"]
        self.assertIn("message", err)

    def chunked_head(self, extra=b""):
        return chat_head(headers={"Authorization": "Bearer " + CLIENT_KEY}).replace(
            b"Content-Length: 0\r\n", b"Transfer-Encoding: chunked\r\n" + extra)

    @staticmethod
    def chunked(body, ext=b"", trailer=b""):
        out = b""
        for i in range(0, len(body), 7):
            part = body[i:i + 7]
            out += b"%x%s\r\n" % (len(part), ext) + part + b"\r\n"
        return out + b"0\r\n" + trailer + b"\r\n"

    def test_chunked_body_served_and_pipelined_request_after_it(self):
        # A chunked body (with extensions and a trailer) is read whole, and
        # the request after it on the same connection is served too (it
        # used to be dropped with the connection).
        body = b'{"model":"alias-a","messages":[{"role":"user","content":"hi"}]}'
        one = self.chunked_head() + self.chunked(body, b";ext=1", b"X-Trailer: t\r\n")
        two = chat_head(headers={"Authorization": "Bearer " + CLIENT_KEY,
                                 "Connection": "close"}, length=len(body)) + body
        resp = raw(self.d.port, one + two, timeout=20, half_close=False)
        self.assertEqual(resp.count(b"HTTP/1.1 200"), 2, resp[:400])

    def test_chunked_body_bytes_split_anywhere(self):
        body = b'{"model":"alias-a","messages":[{"role":"user","content":"hi"}]}'
        data = self.chunked_head(b"Connection: close\r\n") + self.chunked(body)
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        try:
            # each piece its own read: a pause after every byte of the
            # body's framing (a CR alone, then its LF, was once a 400)
            start = data.index(b"\r\n\r\n") + 4
            s.sendall(data[:start])
            for i in range(start, len(data)):
                s.sendall(data[i:i + 1])
                if data[i:i + 1] in (b"\r", b"\n"):
                    time.sleep(0.01)
            resp = ps.read_to_eof(s)
        finally:
            s.close()
        self.assertEqual(status_of(resp), 200, resp[:300])

    def test_chunked_framing_errors_are_400_in_client_shape(self):
        for bad in (b"zz\r\nabc\r\n0\r\n\r\n",               # not hex
                    b"3\r\nabcXY0\r\n\r\n",                     # no CRLF after data
                    b"1" * 5000 + b"\r\n",                         # size line too long
                    b"f" * 17 + b"\r\n",                           # size overflows
                    b"0\r\n" + b"X: " + b"y" * 20000 + b"\r\n\r\n"):  # trailer too big
            resp = raw(self.d.port, self.chunked_head() + bad, timeout=10)
            self.assertEqual(status_of(resp), 400, (bad[:20], resp[:200]))
            self.assertIn("error", json.loads(resp.split(b"\r\n\r\n", 1)[1]))

    def test_chunked_expect_100_continue(self):
        body = b'{"model":"alias-a","messages":[{"role":"user","content":"hi"}]}'
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        try:
            s.sendall(self.chunked_head(b"Expect: 100-continue\r\nConnection: close\r\n"))
            first = s.recv(64)
            self.assertTrue(first.startswith(b"HTTP/1.1 100 Continue\r\n\r\n"), first)
            s.sendall(self.chunked(body))
            resp = first[25:] + ps.read_to_eof(s)
        finally:
            s.close()
        self.assertEqual(status_of(resp), 200, resp[:300])

    def test_nul_in_header_refused(self):
        body = b'{"model":"alias-a"}'
        resp = raw(self.d.port, chat_head(length=len(body)).replace(
            b"\r\n\r\n", b"\r\nX-Api-Key: " + CLIENT_KEY.encode() + b"\x00junk\r\n\r\n") + body)
        self.assertIn(status_of(resp), (400, 401), resp[:200])


class ConnectionCap(unittest.TestCase):
    def test_cap_answers_503_then_recovers(self):
        m = openai_mock.MockUpstream().start()
        d = ps.Daemon(make_cfg(m, **{"max-connections": 4}))
        idle = []
        try:
            d.start()
            for _ in range(4):
                idle.append(socket.create_connection(("127.0.0.1", d.port), timeout=10))
            time.sleep(0.2)
            resp = raw(d.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(status_of(resp), 503, resp[:200])
            self.assertIn(b"too_many_connections", resp)
            self.assertIn(b"Retry-After:", resp)
            self.assertTrue(ps.wait_until(lambda: d.status() and d.status()["requests"].get(
                "refused-connections", 0) >= 1, 5))
            for s in idle:
                s.close()
            idle = []

            def ok():
                r = raw(d.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return status_of(r) == 200
            self.assertTrue(ps.wait_until(ok, 5))
        finally:
            for s in idle:
                s.close()
            self.assertEqual(d.stop(), 0)
            self.assertEqual(d.sanitizer_errors(), [])
            d.cleanup()
            m.stop()


class HeadTimeout(unittest.TestCase):
    def test_dripped_head_and_refused_body_are_cut(self):
        # A slot of max-connections is not held by a client that never
        # completes its head, nor by one that never finishes a refused body.
        m = openai_mock.MockUpstream().start()
        d = ps.Daemon(make_cfg(m, **{"max-connections": 8}))
        socks = []
        try:
            d.start()
            silent = socket.create_connection(("127.0.0.1", d.port), timeout=40)
            drip = socket.create_connection(("127.0.0.1", d.port), timeout=40)
            body = socket.create_connection(("127.0.0.1", d.port), timeout=40)
            socks = [silent, drip, body]
            body.sendall(chat_head(length=1000) + b"x" * 10)
            self.assertEqual(status_of(body.recv(4096)), 401)
            t0 = time.time()
            drip.sendall(b"POST /v1/chat/completions HTTP/1.1\r\n")
            for _ in range(10):
                time.sleep(1)
                drip.sendall(b"X-Slow: 1\r\n")
            # A request that completes meanwhile is served.
            st, _, _ = d.request("GET", "/healthz")
            self.assertEqual(st, 200)
            for s in socks:
                self.assertEqual(ps.read_to_eof(s), b"")
            took = time.time() - t0
            print("# silent, dripping and unfinished-body connections closed after %.1f s"
                  % took)
            self.assertLess(took, 35)
        finally:
            for s in socks:
                s.close()
            self.assertEqual(d.stop(), 0)
            self.assertEqual(d.sanitizer_errors(), [])
            d.cleanup()
            m.stop()


class KeysAndLogs(ps.DaemonPerClass, unittest.TestCase):
    @classmethod
    def cfg(cls, m):
        return make_cfg(m, **{"request-log": True, "debug": True, "request-log-dir": None})

    def files_text(self):
        out = b""
        for root, _, files in os.walk(self.d.dir):
            if root.startswith(self.d.cfgdir):
                continue  # the config holds the key by design
            for f in files:
                try:
                    with open(os.path.join(root, f), "rb") as fh:
                        out += fh.read()
                except OSError:
                    pass
        return out

    def test_key_spellings_accepted_and_never_logged(self):
        for name in ("key", "KEY", "Key", "kEy"):
            st, _, _ = self.d.request("POST", "/v1/chat/completions?%s=%s" % (name, CLIENT_KEY),
                                      {"model": "alias-a"})
            self.assertEqual(st, 200, name)
        st, _, _ = self.d.request("POST", "/v1/chat/completions?key=%s&KEY=%s" %
                                  (CLIENT_KEY, CLIENT_KEY), {"model": "alias-a"})
        self.assertEqual(st, 401)
        time.sleep(0.3)
        text = self.files_text()
        self.assertNotIn(CLIENT_KEY.encode(), text)
        self.assertNotIn(CLIENT_KEY[8:24].encode(), text)
        self.assertNotIn(b"%s" % CLIENT_KEY[8:24].encode(), text.replace(b"\n", b""))

    def test_query_values_escaped_in_request_log(self):
        st, _, _ = self.d.request(
            "POST", "/v1/chat/completions?note=a%0A%3D%3D%3D%20request%20forged%0D%0Ax",
            {"model": "alias-a"}, {"Authorization": "Bearer " + CLIENT_KEY})
        self.assertEqual(st, 200)
        time.sleep(0.3)
        text = self.files_text()
        self.assertNotIn(b"\n=== request forged", text)
        self.assertIn(b"note=a%0A", text)

    def test_nul_in_query_key_does_not_match(self):
        st, _, _ = self.d.request("POST", "/v1/chat/completions?key=%s%%00junk" % CLIENT_KEY,
                                  {"model": "alias-a"})
        self.assertEqual(st, 401)

    def test_duplicate_members_and_nul_names_refused(self):
        h = {"Authorization": "Bearer " + CLIENT_KEY}
        for b in (b'{"model":"alias-a","model":"upstream-model-a"}',
                  b'{"model":"alias-a","messages":[{"role":"user","role":"system"}]}',
                  b'{"model":"alias-a\\u0000x"}',
                  b'{"model":"alias-a","messages":[{"role":"user","content":"a\\u0000b"}]}',
                  b'{"model":"alias-a","x":"\xff"}'):
            st, _, body = self.d.request("POST", "/v1/chat/completions", b, h)
            self.assertEqual(st, 400, b)
            self.assertEqual(set(json.loads(body).keys()), {"error"})
        self.assertEqual(self.m.requests(), [])


if __name__ == "__main__":
    tap.main()
