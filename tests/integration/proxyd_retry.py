#!/usr/bin/env python3
"""cliproxyd: request-retry, 429 cooldowns and the quota-exceeded switch
across several keys, error answers on every exhausted path (DESIGN 3, 6)."""
import hashlib
import http.client
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tap  # noqa: E402
import proxyd_support as ps  # noqa: E402
import openai_mock  # noqa: E402

KEY = "retry-client-key"


class Retry(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.m = openai_mock.MockUpstream().start()

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def setUp(self):
        self.m.reset()
        self.d = None

    def tearDown(self):
        if self.d is not None:
            rc = self.d.stop()
            errs = self.d.sanitizer_errors()
            log = self.d.log_text()
            self.d.cleanup()
            self.assertEqual(rc, 0, log)
            self.assertEqual(errs, [])
            for k in ("k-ok", "k-500", "k-429"):
                pass
            self.assertNotIn(KEY, log, "client key in the log")

    def start(self, keys, **extra):
        cfg = {"api-keys": [KEY],
               "openai-compatibility": [ps.compat("mock", self.m.base_url, keys,
                                                  [("up", "m"), ("empty-up", "empty"),
                                                   ("midclose-up", "midclose")])]}
        cfg.update(extra)
        self.d = ps.Daemon(cfg)
        self.d.start()
        return self.d

    def keys_seen(self):
        return [r["headers"]["authorization"][7:] for r in self.m.requests()]

    def test_5xx_retried_on_next_key(self):
        d = self.start(["k-500", "k-ok"], **{"request-retry": 1})
        st, _, body = d.chat(KEY, "m")
        self.assertEqual(st, 200)
        self.assertEqual(self.keys_seen(), ["k-500", "k-ok"])
        self.assertIn(b"[k-ok]", body)
        st = d.wait_status(lambda s: s["requests"]["retries"] >= 1)
        self.assertEqual(st["requests"]["retries"], 1)

    def test_no_retry_budget_passes_error_on(self):
        d = self.start(["k-503", "k-ok"], **{"request-retry": 0})
        st, _, body = d.chat(KEY, "m")
        self.assertEqual(st, 503)
        self.assertEqual(json.loads(body)["error"]["message"], "mock error 503")
        self.assertEqual(self.keys_seen(), ["k-503"])
        # Round-robin: the next request starts on the next key.
        st, _, _ = d.chat(KEY, "m")
        self.assertEqual(st, 200)
        self.assertEqual(self.keys_seen(), ["k-503", "k-ok"])

    def test_retries_bounded(self):
        # PROVIDERS 5: a 5xx cools its key down for a minute, a 403 for 30
        # minutes, so an exchange tries each key once; the last failure
        # is passed on.
        d = self.start(["k-503", "k-502", "k-403"], **{"request-retry": 5})
        st, _, body = d.chat(KEY, "m")
        self.assertEqual(st, 403)
        self.assertEqual(json.loads(body)["error"]["message"], "mock error 403")
        self.assertEqual(self.keys_seen(), ["k-503", "k-502", "k-403"])
        st = d.wait_status(lambda s: s["credentials"]["cooling-down"] == 3)
        self.assertEqual(st["requests"]["retries"], 2)

    def test_retry_budget_caps_attempts(self):
        d = self.start(["k-503", "k-502", "k-500", "k-ok"], **{"request-retry": 1})
        st, _, body = d.chat(KEY, "m")
        self.assertEqual(st, 502)
        self.assertEqual(self.keys_seen(), ["k-503", "k-502"])

    def test_transport_error(self):
        d = self.start(["k-close", "k-ok"], **{"request-retry": 1})
        st, _, _ = d.chat(KEY, "m")
        self.assertEqual(st, 200)
        self.assertEqual(self.keys_seen(), ["k-close", "k-ok"])

    def test_transport_error_502(self):
        d = self.start(["k-close"], **{"request-retry": 0})
        st, _, body = d.chat(KEY, "m")
        self.assertEqual(st, 502)
        e = json.loads(body)["error"]
        self.assertEqual(e["code"], "upstream_failure")

    def test_unreachable_upstream_502(self):
        port = ps.free_port()
        cfg = {"api-keys": [KEY], "request-retry": 2,
               "openai-compatibility": [ps.compat("dead", "http://127.0.0.1:%d/v1" % port,
                                                  ["k-ok"], [("up", "m")])]}
        self.d = ps.Daemon(cfg)
        self.d.start()
        st, _, body = self.d.chat(KEY, "m")
        self.assertEqual(st, 502)
        self.assertEqual(json.loads(body)["error"]["type"], "upstream_error")

    def test_empty_200_is_an_error(self):
        d = self.start(["k-ok"], **{"request-retry": 0})
        st, _, body = d.chat(KEY, "empty")
        self.assertEqual(st, 502)
        self.assertIn("error", json.loads(body))

    def test_429_switches_without_spending_retry(self):
        d = self.start(["k-429-ra60", "k-ok"], **{"request-retry": 0})
        st, _, _ = d.chat(KEY, "m")
        self.assertEqual(st, 200)
        self.assertEqual(self.keys_seen(), ["k-429-ra60", "k-ok"])
        for _ in range(4):  # the cooling key is skipped, whatever the rotation
            st, _, _ = d.chat(KEY, "m")
            self.assertEqual(st, 200)
        self.assertEqual(self.keys_seen().count("k-429-ra60"), 1)
        s = d.wait_status(lambda s: s["credentials"]["cooling-down"] == 1)
        self.assertEqual(s["requests"]["cooldowns"], 1)

    def test_all_cooling_429(self):
        d = self.start(["k-429-ra60", "k-429-nora"])
        st, _, body = d.chat(KEY, "m")
        self.assertEqual(st, 429)
        self.assertEqual(json.loads(body)["error"]["code"], "rate_limit_exceeded")
        self.assertEqual(len(self.m.requests()), 2)
        st, _, body = d.chat(KEY, "m", stream=True)
        self.assertEqual(st, 429)
        self.assertEqual(len(self.m.requests()), 2, "a cooling key was contacted")

    def test_switch_project_off_passes_429(self):
        d = self.start(["k-429-ra60", "k-ok"], **{"quota-exceeded": {"switch-project": False}})
        st, h, body = d.chat(KEY, "m")
        self.assertEqual(st, 429)
        self.assertEqual(json.loads(body)["error"]["message"], "quota exceeded")
        self.assertEqual(self.keys_seen(), ["k-429-ra60"])
        # the upstream's own answer comes with its Retry-After, request
        # id and rate-limit state, and without its cookie
        self.assertEqual(h.get("retry-after"), "60")
        self.assertEqual(h.get("x-request-id"), "req-mock-1")
        self.assertEqual(h.get("x-ratelimit-remaining-requests"), "99")
        self.assertNotIn("set-cookie", h)
        self.assertNotIn("x-mock-internal", h)

    def test_retry_after_honoured(self):
        d = self.start(["k-429-ra1"])
        st, _, _ = d.chat(KEY, "m")
        self.assertEqual(st, 429)
        st, _, _ = d.chat(KEY, "m")
        self.assertEqual(st, 429)
        self.assertEqual(len(self.m.requests()), 1)  # second one: cooling
        time.sleep(1.3)
        st, _, _ = d.chat(KEY, "m")
        self.assertEqual(st, 429)
        self.assertEqual(len(self.m.requests()), 2)  # cooled off, tried again

    def test_cooldown_survives_reload(self):
        cfg = {"api-keys": [KEY],
               "openai-compatibility": [ps.compat("mock", self.m.base_url,
                                                  ["k-429-ra60", "k-ok"], [("up", "m")])]}
        self.d = d = ps.Daemon(cfg)
        d.start()
        st, _, _ = d.chat(KEY, "m")
        self.assertEqual(st, 200)
        old = d.status()["config-sha256"]
        cfg["api-keys"] = [KEY, "another-key"]
        d.write_config(cfg)
        d.wait_status(lambda s: s["config-sha256"] != old)
        for _ in range(3):
            st, _, _ = d.chat(KEY, "m")
            self.assertEqual(st, 200)
        self.assertEqual(self.keys_seen().count("k-429-ra60"), 1)

    def test_mid_stream_failure_truncates(self):
        d = self.start(["k-ok"], **{"request-retry": 3})
        c = d.conn()
        c.request("POST", "/v1/chat/completions",
                  json.dumps({"model": "midclose", "stream": True}).encode(),
                  {"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
        r = c.getresponse()
        self.assertEqual(r.status, 200)
        with self.assertRaises((http.client.IncompleteRead, ConnectionError)):
            r.read()
        c.close()
        self.assertEqual(len(self.m.requests()), 1, "retried after bytes were sent")


if __name__ == "__main__":
    tap.main()
