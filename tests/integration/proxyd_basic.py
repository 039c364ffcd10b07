#!/usr/bin/env python3
"""cliproxyd: client keys in every header form, trusted-proxy client
address, routing by alias, the OpenAI error shapes, /v1/models, info and
health endpoints (DESIGN 6)."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import proxyd_support as ps  # noqa: E402
import openai_mock  # noqa: E402

CLIENT_KEY = "client-key-0123456789"
CFG = None


def make_cfg(m):
    return {
        "api-keys": [CLIENT_KEY, "second-client-key"],
        "openai-compatibility": [
            ps.compat("mockA", m.base_url, ["k-ok"],
                      [("upstream-model-a", "alias-a"), ("same-name", "")]),
            ps.compat("mockB", m.base_url + "/", ["k-okb"], [("upstream-model-b", "alias-b")]),
            ps.compat("nokeys", m.base_url, [], [("lonely", "no-cred-model")]),
        ],
    }


class Basic(ps.DaemonPerClass, unittest.TestCase):
    @classmethod
    def cfg(cls, m):
        return make_cfg(m)

    def error_of(self, body):
        j = json.loads(body)
        self.assertEqual(set(j.keys()), {"error"})
        self.assertIn("message", j["error"])
        self.assertIn("type", j["error"])
        self.assertIn("code", j["error"])
        return j["error"]

    # --- keys ------------------------------------------------------------
    def test_key_forms_accepted(self):
        for form in ("bearer", "x-api-key", "x-goog-api-key", "query"):
            st, _, body = self.d.chat(CLIENT_KEY, "alias-a", header=form)
            self.assertEqual(st, 200, form)
            self.assertEqual(json.loads(body)["model"], "upstream-model-a")
        st, _, _ = self.d.chat("second-client-key", "alias-a")
        self.assertEqual(st, 200)

    def test_key_forms_rejected(self):
        for form in ("bearer", "x-api-key", "x-goog-api-key", "query"):
            st, _, body = self.d.chat(CLIENT_KEY + "x", "alias-a", header=form)
            self.assertEqual(st, 401, form)
            e = self.error_of(body)
            self.assertEqual(e["code"], "invalid_api_key")
            self.assertNotIn(CLIENT_KEY, body.decode())
        st, _, _ = self.d.chat(None, "alias-a")
        self.assertEqual(st, 401)
        st, _, _ = self.d.chat(CLIENT_KEY[:-1], "alias-a")
        self.assertEqual(st, 401)
        self.assertEqual(self.m.requests(), [], "a rejected request reached upstream")

    def test_models_needs_key(self):
        st, _, _ = self.d.request("GET", "/v1/models")
        self.assertEqual(st, 401)

    def test_models_list(self):
        st, h, body = self.d.request("GET", "/v1/models",
                                     headers={"Authorization": "Bearer " + CLIENT_KEY})
        self.assertEqual(st, 200)
        j = json.loads(body)
        self.assertEqual(j["object"], "list")
        ids = sorted(x["id"] for x in j["data"])
        self.assertEqual(ids, ["alias-a", "alias-b", "no-cred-model", "same-name"])
        for x in j["data"]:
            self.assertEqual(x["object"], "model")
            self.assertIsInstance(x["created"], int)
            self.assertIn(x["owned_by"], ("mockA", "mockB", "nokeys"))

    def test_info_and_health(self):
        st, _, body = self.d.request("GET", "/healthz")
        self.assertEqual((st, json.loads(body)), (200, {"status": "ok"}))
        st, _, body = self.d.request("GET", "/")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body)["name"], "cliproxyd")

    # --- routing ---------------------------------------------------------
    def test_alias_rewritten_to_name(self):
        st, _, body = self.d.chat(CLIENT_KEY, "alias-b", extra={"temperature": 0.5})
        self.assertEqual(st, 200)
        r = self.m.requests()
        self.assertEqual(len(r), 1)
        self.assertEqual(r[0]["path"], "/v1/chat/completions")  # no double slash
        self.assertEqual(r[0]["headers"]["authorization"], "Bearer k-okb")
        self.assertEqual(r[0]["json"]["model"], "upstream-model-b")
        self.assertEqual(r[0]["json"]["temperature"], 0.5)
        self.assertEqual(r[0]["json"]["messages"], [{"role": "user", "content": "hi"}])
        # The response is passed byte-exact (the mock's odd indentation).
        self.assertEqual(body, openai_mock.json_bytes("upstream-model-b", " [k-okb]"))

    def test_upstream_headers_passed_on(self):
        # request id, rate-limit state and processing time go to the
        # client (SDKs pace themselves by them); cookies and anything else
        # of the upstream's do not, streamed or not
        for stream in (False, True):
            self.m.reset()
            st, h, _ = self.d.chat(CLIENT_KEY, "alias-b", stream=stream)
            self.assertEqual(st, 200)
            self.assertEqual(h.get("x-request-id"), "req-mock-1", (stream, h))
            self.assertEqual(h.get("x-ratelimit-remaining-requests"), "99")
            self.assertEqual(h.get("openai-processing-ms"), "7")
            self.assertNotIn("set-cookie", h)
            self.assertNotIn("x-mock-internal", h)
            self.assertNotIn("mock-cookie-value", repr(h))

    def test_empty_alias_means_name(self):
        st, _, _ = self.d.chat(CLIENT_KEY, "same-name")
        self.assertEqual(st, 200)
        self.assertEqual(self.m.requests()[0]["json"]["model"], "same-name")

    def test_completions_endpoint(self):
        st, _, body = self.d.request("POST", "/v1/completions",
                                     {"model": "alias-a", "prompt": "x"},
                                     {"Authorization": "Bearer " + CLIENT_KEY})
        self.assertEqual(st, 200)
        r = self.m.requests()[0]
        self.assertEqual(r["path"], "/v1/completions")
        self.assertEqual(r["json"], {"model": "upstream-model-a", "prompt": "x"})

    def test_member_order_kept(self):
        raw = b'{"stream":false,"model":"alias-a","z":1,"a":[1,2]}'
        st, _, _ = self.d.request("POST", "/v1/chat/completions", raw,
                                  {"Authorization": "Bearer " + CLIENT_KEY})
        self.assertEqual(st, 200)
        self.assertEqual(self.m.requests()[0]["body"],
                         '{"stream":false,"model":"upstream-model-a","z":1,"a":[1,2]}')

    # --- errors ----------------------------------------------------------
    def test_unknown_model_404(self):
        st, _, body = self.d.chat(CLIENT_KEY, "no-such-model")
        self.assertEqual(st, 404)
        self.assertEqual(self.error_of(body)["code"], "model_not_found")

    def test_no_credential_503(self):
        st, _, body = self.d.chat(CLIENT_KEY, "no-cred-model")
        self.assertEqual(st, 503)
        self.error_of(body)

    def test_invalid_json_400(self):
        for raw in (b"{", b"", b'{"model":"alias-a"} junk', b"\xff\xfe", b"[1]",
                    b'{"model": 5}', b'{"messages":[]}', b'{"model":"alias-a","stream":"yes"}'):
            st, _, body = self.d.request("POST", "/v1/chat/completions", raw,
                                         {"Authorization": "Bearer " + CLIENT_KEY})
            self.assertEqual(st, 400, raw)
            self.error_of(body)
        self.assertEqual(self.m.requests(), [])

    def test_body_too_large_413(self):
        big = b'{"model":"alias-a","pad":"' + b"x" * (8 * 1024 * 1024) + b'"}'
        st, _, body = self.d.request("POST", "/v1/chat/completions", big,
                                     {"Authorization": "Bearer " + CLIENT_KEY})
        self.assertEqual(st, 413)
        self.error_of(body)

    def test_unknown_path_and_method(self):
        st, _, _ = self.d.request("GET", "/v1/nothing-here",
                                  headers={"Authorization": "Bearer " + CLIENT_KEY})
        self.assertEqual(st, 404)
        st, h, _ = self.d.request("GET", "/v1/chat/completions",
                                  headers={"Authorization": "Bearer " + CLIENT_KEY})
        self.assertEqual(st, 405)
        self.assertEqual(h.get("allow"), "POST")

    def test_pipelined_requests(self):
        import socket
        body = json.dumps({"model": "alias-a"}).encode()
        one = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
               CLIENT_KEY.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        two = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        s.sendall(one + two)  # the second arrives while the first is proxied
        data = ps.read_to_eof(s)
        s.close()
        self.assertEqual(data.count(b"HTTP/1.1 200"), 2, data[:300])
        self.assertIn(b"Hello from the mock", data)
        self.assertIn(b'{"status":"ok"}', data)

    def test_upstream_4xx_passed_on(self):
        d2cfg = make_cfg(self.m)
        d2cfg["openai-compatibility"][0]["api-keys"] = ["k-400"]
        d2 = ps.Daemon(d2cfg)
        try:
            d2.start()
            st, _, body = d2.chat(CLIENT_KEY, "alias-a")
            self.assertEqual(st, 400)
            self.assertEqual(json.loads(body)["error"]["message"], "mock error 400")
        finally:
            self.assertEqual(d2.stop(), 0)
            self.assertEqual(d2.sanitizer_errors(), [])
            d2.cleanup()


class LocalhostAndProxies(unittest.TestCase):
    """allow-localhost-unauthenticated with the trusted-proxy rule."""

    @classmethod
    def setUpClass(cls):
        cls.m = openai_mock.MockUpstream().start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def run_daemon(self, extra, checks):
        cfg = make_cfg(self.m)
        cfg.update(extra)
        d = ps.Daemon(cfg)
        try:
            d.start()
            checks(d)
        finally:
            self.assertEqual(d.stop(), 0)
            self.assertEqual(d.sanitizer_errors(), [])
            d.cleanup()

    def test_localhost_unauthenticated(self):
        def checks(d):
            st, _, _ = d.chat(None, "alias-a")
            self.assertEqual(st, 200)
            # Through a (loopback, hence trusted) proxy for a remote client:
            # the right-most untrusted X-Forwarded-For entry is the client.
            st, _, _ = d.request("POST", "/v1/chat/completions",
                                 {"model": "alias-a"}, {"X-Forwarded-For": "203.0.113.9"})
            self.assertEqual(st, 401)
            st, _, _ = d.request("POST", "/v1/chat/completions", {"model": "alias-a"},
                                 {"X-Forwarded-For": "127.0.0.1, 203.0.113.9, 127.0.0.1"})
            self.assertEqual(st, 401)
            # Trusted hops are walked past: the remote client behind
            # two local proxies is still found.
            st, _, _ = d.request("POST", "/v1/chat/completions", {"model": "alias-a"},
                                 {"X-Forwarded-For": "203.0.113.9, 127.0.0.1"})
            self.assertEqual(st, 401)
            # A local client through a local proxy stays local.
            st, _, _ = d.request("POST", "/v1/chat/completions", {"model": "alias-a"},
                                 {"X-Forwarded-For": "127.0.0.1"})
            self.assertEqual(st, 200)
            # The key still works for the remote client.
            st, _, _ = d.request("POST", "/v1/chat/completions", {"model": "alias-a"},
                                 {"X-Forwarded-For": "203.0.113.9",
                                  "Authorization": "Bearer " + CLIENT_KEY})
            self.assertEqual(st, 200)
        self.run_daemon({"allow-localhost-unauthenticated": True}, checks)

    def test_untrusted_proxy_xff_ignored(self):
        def checks(d):
            # The peer (127.0.0.1) is not trusted: its X-Forwarded-For is
            # ignored and the peer itself is the (local) client.
            st, _, _ = d.request("POST", "/v1/chat/completions", {"model": "alias-a"},
                                 {"X-Forwarded-For": "203.0.113.9"})
            self.assertEqual(st, 200)
        self.run_daemon({"allow-localhost-unauthenticated": True,
                         "trusted-proxies": ["192.0.2.0/24"]}, checks)

    def test_off_by_default(self):
        def checks(d):
            st, _, _ = d.chat(None, "alias-a")
            self.assertEqual(st, 401)
        self.run_daemon({}, checks)

    def test_empty_key_list_admits_nobody(self):
        def checks(d):
            st, _, _ = d.chat(None, "alias-a")
            self.assertEqual(st, 401)
            st, _, _ = d.chat("", "alias-a")
            self.assertEqual(st, 401)
            st, _, _ = d.chat("anything", "alias-a")
            self.assertEqual(st, 401)
        self.run_daemon({"api-keys": []}, checks)


class StartUp(unittest.TestCase):
    def test_refuses_bad_config(self):
        d = ps.Daemon({})
        try:
            d.write_config("api-keys: [unclosed\n")
            rc = d.start(expect_fail=True)
            self.assertNotEqual(rc, 0)
            self.assertIn("no usable config", d.log_text())
        finally:
            d.cleanup()

    def test_unix_socket(self):
        m = openai_mock.MockUpstream().start()
        d = ps.Daemon(make_cfg(m))
        d.listen = os.path.join(d.dir, "px.sock")
        d.listen = d.listen  # path form of --listen
        try:
            d.start()
            import socket
            s = socket.socket(socket.AF_UNIX)
            s.connect(d.listen)
            body = json.dumps({"model": "alias-a"}).encode()
            s.sendall(b"POST /v1/chat/completions HTTP/1.0\r\nAuthorization: Bearer " +
                      CLIENT_KEY.encode() + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            data = ps.read_to_eof(s)
            s.close()
            self.assertTrue(data.startswith(b"HTTP/1.0 200") or data.startswith(b"HTTP/1.1 200"),
                            data[:100])
        finally:
            self.assertEqual(d.stop(), 0)
            self.assertFalse(os.path.exists(d.listen))
            d.cleanup()
            m.stop()


if __name__ == "__main__":
    tap.main()
