#!/usr/bin/env python3
"""rel_reload.py - cliproxyd under a reload storm (issue 5 "Faults";
DESIGN.md 6 "Reload").

A load generator keeps chat requests (plain and streaming) flowing through
cliproxyd to the mock upstream while the config is rewritten every 50 ms
for 30 s (REL_STORM_SECONDS), valid and invalid versions alternating (a
YAML syntax error, then a value out of range). Every valid version names
its own upstream key, and the mock tags each answer with the key it got,
so each response tells which snapshot served it. Checked: zero failed or
dropped client requests; every response came from a valid version that had
been written before the response ended, never from an invalid one; the
daemon loads the final version; VmRSS does not grow beyond a small bound.
"""
import os
import re
import sys
import threading
import time
import unittest
import hashlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import proxyd_support as ps  # noqa: E402
import openai_mock  # noqa: E402  (proxyd_support put tests/mock on the path)
import rellib  # noqa: E402
import tap  # noqa: E402

STORM = rellib.scaled("REL_STORM_SECONDS", 30, 15)
PERIOD = 0.05
CLIENTS = 4
CLIENT_KEY = "rel-client-key-7f3a"
TAG = re.compile(rb"\[up-(v|bad-)(\d+)\]")


def sanitized(pid):
    with open("/proc/%d/maps" % pid) as f:
        return "asan" in f.read()


class ReloadStorm(unittest.TestCase):
    def setUp(self):
        self.mock = openai_mock.MockUpstream().start()
        self.d = ps.Daemon(self.version(0))
        harness.sweep_marker("CLIPROXY_REL_RELOAD=" + self.d.dir)
        # a small ASan quarantine, so that VmRSS shows what the daemon
        # keeps, not what ASan holds back from reuse
        self.d.env = {"CLIPROXY_REL_RELOAD": self.d.dir,
                      "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:quarantine_size_mb=1"}
        self.d.start()

    def tearDown(self):
        rc = self.d.stop()
        bad = self.d.sanitizer_errors()
        self.d.cleanup()
        self.mock.stop()
        self.assertEqual(bad, [])
        self.assertEqual(rc, 0, "cliproxyd did not stop cleanly")

    def version(self, n):
        return {"api-keys": [CLIENT_KEY], "request-retry": 0,
                "openai-compatibility": [ps.compat("mock", self.mock.base_url, ["up-v%d" % n],
                                                   [("up-model", "stable")])]}

    def invalid_text(self, n):
        cfg = self.version(n)
        cfg["openai-compatibility"][0]["api-keys"] = ["up-bad-%d" % n]
        if (n // 2) % 2 == 0:
            return self.d.config_text(cfg) + "broken: [unclosed\n"
        cfg["request-retry"] = 500     # parses, but does not validate
        return self.d.config_text(cfg)

    def test_reload_storm_loses_no_request(self):
        d = self.d
        lock = threading.Lock()
        written = {0: time.monotonic()}    # valid version -> when written
        results = []                       # (start, end, kind, n) per response
        failures = []
        stop = threading.Event()

        def client(c):
            i = 0
            while not stop.is_set():
                stream = i % 3 == 2
                t0 = time.monotonic()
                try:
                    status, _, body = d.chat(CLIENT_KEY, "stable", stream=stream,
                                             header=("bearer", "x-api-key")[i % 2])
                except Exception as e:  # a dropped connection is a failure
                    failures.append("client %d: %r" % (c, e))
                    i += 1
                    continue
                t1 = time.monotonic()
                m = TAG.search(body)
                if status != 200 or m is None:
                    failures.append("client %d: %d %r" % (c, status, body[:200]))
                else:
                    with lock:
                        results.append((t0, t1, m.group(1), int(m.group(2))))
                i += 1

        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(1.0)  # warm up: pools, connections, allocator
        rss0 = ps.rss_kib(d.proc.pid)
        st0 = d.status()
        n = 0
        t_end = time.monotonic() + STORM
        next_at = time.monotonic()
        try:
            while time.monotonic() < t_end:
                n += 1
                if n % 2 == 0:
                    with lock:
                        written[n] = time.monotonic()
                    d.write_config(self.version(n))
                else:
                    d.write_config(self.invalid_text(n))
                next_at += PERIOD
                time.sleep(max(0, next_at - time.monotonic()))
            # the last version is a valid one; the daemon must load it
            n += 2 - n % 2
            final = d.config_text(self.version(n))
            with lock:
                written[n] = time.monotonic()
            d.write_config(final)
            want = hashlib.sha256(final.encode()).hexdigest()
            d.wait_status(lambda s: s.get("config-sha256") == want, timeout=10)
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        rss1 = ps.rss_kib(d.proc.pid)
        st1 = d.status()
        self.assertEqual(failures[:10], [])
        bad = [r for r in results if r[2] != b"v"]
        self.assertEqual(bad[:5], [], "a response came from an invalid config")
        early = [r for r in results if written.get(r[3]) is None or written[r[3]] > r[1]]
        self.assertEqual(early[:5], [], "a response from a version not (yet) written")
        last = [r for r in results if r[3] == n]
        self.assertTrue(last, "no request was served by the final version")
        reloads = st1["reloads"] - st0["reloads"]
        errors = st1["reload-errors"] - st0["reload-errors"]
        versions_seen = len({r[3] for r in results})
        self.assertGreater(reloads, 0)
        self.assertGreater(errors, 0, "invalid versions were not even noticed")
        bound = 64 * 1024 if sanitized(d.proc.pid) else 8 * 1024
        growth = rss1 - rss0
        self.assertLess(growth, bound, "VmRSS grew by %d KiB over %d reloads" % (growth, reloads))
        rellib.figure("reload storm: %.0fs, config writes: %d (valid %d, invalid %d), reloads: %d, "
                      "refused reloads: %d, versions that served requests: %d"
                      % (STORM, n, len(written), n - len(written), reloads, errors, versions_seen))
        rellib.figure("requests under reload: %d, failed or dropped: %d, served by an invalid "
                      "config: 0; VmRSS %d -> %d KiB (growth %d KiB, bound %d KiB)"
                      % (len(results), len(failures), rss0, rss1, growth, bound))


if __name__ == "__main__":
    tap.main()
