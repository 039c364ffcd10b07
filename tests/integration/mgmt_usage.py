#!/usr/bin/env python3
"""mgmt_usage.py - issue 15 in cliproxy-mgmt under lighttpd, Apache
mod_fcgid and spawn-fcgi: GET /usage and /usage/export over a database
filled through the core writer (usage_fill), whose aggregates must equal
the sums of the rows; strict parameters; the api-key-policy list through
the generic object-list handler."""
import csv
import io
import json
import os
import random
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import mgmtlib  # noqa: E402
import tap  # noqa: E402

FIELDS = ["ts_ms", "key", "model", "upstream_model", "provider", "credential", "format",
          "status", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens",
          "ttfb_ms", "total_ms", "bytes_in", "bytes_out", "retries"]
TEXT = {"key", "model", "upstream_model", "provider", "credential", "format"}
# upper bounds of usage.c's latency buckets (ms)
LIMITS = [25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500,
          10000, 15000, 20000, 30000, 60000, 120000, 300000]
HOUR = 3600
POLICY_HASH = "sha256:" + "ab" * 32


def quantile(values, q):
    """usage.c's rule: the upper bound of the bucket holding rank ceil(n*q)."""
    if not values:
        return None
    need = max(1, -(-len(values) * int(q * 100) // 100))
    v = sorted(values)[need - 1]
    for lim in LIMITS:
        if v <= lim:
            return lim
    return LIMITS[-1]


def sums(rows):
    return {
        "requests": len(rows),
        "errors": sum(1 for r in rows if r["status"] == 0 or r["status"] >= 400),
        "tokens": {"input": sum(r["input_tokens"] for r in rows),
                   "output": sum(r["output_tokens"] for r in rows),
                   "cached": sum(r["cached_tokens"] for r in rows),
                   "reasoning": sum(r["reasoning_tokens"] for r in rows)},
        "bytes": {"in": sum(r["bytes_in"] for r in rows),
                  "out": sum(r["bytes_out"] for r in rows)},
        "latency_ms": {"p50": quantile([r["total_ms"] for r in rows], 0.50),
                       "p95": quantile([r["total_ms"] for r in rows], 0.95)},
    }


class UsageSuite(mgmtlib.DeploymentPerClass):
    """The usage endpoints and api-key-policy on one deployment."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        dep = cls.dep
        cls.state = os.path.join(dep.dir, "state")
        os.makedirs(cls.state)
        cls.db = os.path.join(cls.state, "usage.sqlite")
        # rows over the last 3 days, fixed seed: hostile text included
        rnd = random.Random(15)
        now_h = int(time.time()) // HOUR * HOUR
        cls.base = now_h - 72 * HOUR
        models = ["claude-x", "gpt-y", "=cmd|' /C calc'!A0", 'quo"te,comma']
        cls.rows = []
        for i in range(600):
            cls.rows.append({
                "ts_ms": (cls.base + rnd.randrange(72 * HOUR)) * 1000 + rnd.randrange(1000),
                "key": rnd.choice(["team-a", "team-b", "0123456789ab"]),
                "model": rnd.choice(models),
                "upstream_model": "up-" + str(i % 3),
                "provider": rnd.choice(["claude", "codex", "gemini"]),
                "credential": rnd.choice(["a.json", "b.json", "k:fedcba987654"]),
                "format": rnd.choice(["openai-chat", "claude", "gemini"]),
                "status": rnd.choice([200, 200, 200, 429, 500, 0]),
                "input_tokens": rnd.randrange(5000), "output_tokens": rnd.randrange(3000),
                "cached_tokens": rnd.randrange(100), "reasoning_tokens": rnd.randrange(50),
                "ttfb_ms": rnd.randrange(2000), "total_ms": rnd.choice(
                    [rnd.randrange(60), rnd.randrange(3000), rnd.randrange(400000)]),
                "bytes_in": rnd.randrange(10 ** 6), "bytes_out": rnd.randrange(10 ** 6),
                "retries": rnd.randrange(3)})
        text = "".join("\t".join(str(r[f]) for f in FIELDS) + "\n" for r in cls.rows)
        out = subprocess.run([harness.build_path("tests/integration/usage_fill"), cls.db],
                             input=text.encode(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=60)
        if out.returncode != 0:
            raise harness.HarnessError("usage_fill: %s" % out.stderr.decode())
        harness.give(cls.state)

    def setUp(self):
        text = self.dep.config_text() + 'state-dir: "%s"\n' % self.state
        self.dep.reset(text)

    def get(self, path):
        r = self.dep.req("GET", path)
        self.assertEqual(r.status, 200, "unexpected %r" % r)
        return r.json()

    def assertError(self, r, status, text=None):
        self.assertEqual(r.status, status, "unexpected %r" % r)
        self.assertEqual(list(r.json().keys()), ["error"])
        if text is not None:
            self.assertEqual(r.json()["error"], text)

    def in_range(self, frm, to):
        return [r for r in self.rows if frm * 1000 <= r["ts_ms"] < to * 1000]

    # ------------------------------------------------------------ /usage

    def test_series_equal_row_sums(self):
        frm, to = self.base, self.base + 72 * HOUR
        fieldof = {"key": "key", "model": "model", "provider": "provider",
                   "credential": "credential"}
        for step, width in (("hour", HOUR), ("day", 86400)):
            for by in ("key", "model", "provider", "credential"):
                j = self.get("/usage?from=%d&to=%d&step=%s&by=%s" % (frm, to, step, by))
                afrom = frm - frm % width
                ato = to + (-to) % width
                self.assertEqual((j["from"], j["to"], j["step"], j["by"]),
                                 (afrom, ato, step, by))
                rows = self.in_range(afrom, ato)
                self.assertEqual(j["totals"], sums(rows))
                keys = sorted({r[fieldof[by]] for r in rows})
                self.assertEqual([s["key"] for s in j["series"]], keys)
                for s in j["series"]:
                    mine = [r for r in rows if r[fieldof[by]] == s["key"]]
                    self.assertEqual(s["totals"], sums(mine))
                    for p in s["points"]:
                        self.assertEqual(p["t"] % width, 0)
                        pts = [r for r in mine if p["t"] * 1000 <= r["ts_ms"] <
                               (p["t"] + width) * 1000]
                        want = sums(pts)
                        want["t"] = p["t"]
                        self.assertEqual(p, want)
                    self.assertEqual(sum(p["requests"] for p in s["points"]), len(mine))

    def test_minute_series_from_raw_rows(self):
        frm = self.base + 24 * HOUR
        j = self.get("/usage?from=%d&to=%d&step=minute" % (frm, frm + 6 * HOUR))
        rows = self.in_range(frm, frm + 6 * HOUR)
        self.assertIsNone(j["by"])
        self.assertEqual(j["totals"], sums(rows))
        self.assertEqual(len(j["series"]), 1 if rows else 0)
        self.assertNotIn("key", j["series"][0])
        for p in j["series"][0]["points"]:
            want = sums([r for r in rows if p["t"] * 1000 <= r["ts_ms"] < (p["t"] + 60) * 1000])
            want["t"] = p["t"]
            self.assertEqual(p, want)

    def test_rfc3339_times_and_defaults(self):
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.base))
        a = self.get("/usage?from=%s&to=%d" % (t, self.base + 7200))
        b = self.get("/usage?from=%d&to=%d" % (self.base, self.base + 7200))
        self.assertEqual(a, b)
        j = self.get("/usage")   # the last 24 hours, hourly
        self.assertEqual(j["step"], "hour")
        self.assertEqual(j["to"] - j["from"], 25 * HOUR)

    def test_empty_range_and_missing_database(self):
        j = self.get("/usage?from=1000&to=2000")
        self.assertEqual(j["series"], [])
        self.assertEqual(j["totals"]["requests"], 0)
        self.assertIsNone(j["totals"]["latency_ms"]["p50"])
        self.dep.reset(self.dep.config_text() + 'state-dir: "%s/nowhere"\n' % self.dep.dir)
        self.assertEqual(self.get("/usage")["series"], [])
        r = self.dep.req("GET", "/usage/export?format=csv")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body.decode().splitlines()[1:], [])

    def test_parameters_are_strict(self):
        before = self.dep.read_config()
        cases = [
            ("/usage?step=week", "step must be minute, hour or day"),
            ("/usage?by=user", "by must be key, model, provider or credential"),
            ("/usage?form=1", "unknown parameter 'form'"),
            ("/usage?from=-1", None), ("/usage?from=01", None), ("/usage?from=1e3", None),
            ("/usage?from=%201", None), ("/usage?from=2026-01-01", None),
            ("/usage?from=99999999999999999999", None),
            ("/usage?from=10&to=10", "from must be before to"),
            ("/usage?from=0&to=100000000&step=minute", None),
            ("/usage?by=key%00x", "invalid query parameter"),
            ("/usage?step=hour&step=day", None),
            ("/usage/export?format=xml", "format must be csv or json"),
            ("/usage/export?by=key", "unknown parameter 'by'"),
            ("/usage?from=" + "9" * 2000, None),
        ]
        for path, text in cases:
            r = self.dep.req("GET", path)
            self.assertEqual(r.status, 400, "%s: %r" % (path, r))
            if "%00" in path and not r.body.startswith(b"{"):
                continue    # lighttpd refuses a NUL in the query itself
            self.assertError(r, 400, text)
        for m in ("PUT", "POST", "DELETE"):
            self.assertEqual(self.dep.req(m, "/usage", body={}).status, 405)
        self.assertEqual(self.dep.req("GET", "/usage", key=None).status, 401)
        self.assertEqual(self.dep.read_config(), before)

    # ------------------------------------------------------------ export

    def test_export_csv_and_json(self):
        frm, to = self.base + 10 * HOUR, self.base + 40 * HOUR
        rows = sorted(self.in_range(frm, to), key=lambda r: r["ts_ms"])
        r = self.dep.req("GET", "/usage/export?format=json&from=%d&to=%d" % (frm, to))
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("application/json"))
        got = json.loads(r.body)
        self.assertEqual(len(got), len(rows))
        self.assertEqual(sorted((g["ts_ms"], g["bytes_in"]) for g in got),
                         sorted((w["ts_ms"], w["bytes_in"]) for w in rows))
        self.assertEqual([g["ts_ms"] for g in got], sorted(g["ts_ms"] for g in got))
        for g in got:
            w = [x for x in rows if x["ts_ms"] == g["ts_ms"] and x["bytes_in"] == g["bytes_in"]][0]
            for f in FIELDS:
                self.assertEqual(g[f], w[f], f)
        r = self.dep.req("GET", "/usage/export?format=csv&from=%d&to=%d" % (frm, to))
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/csv"))
        recs = list(csv.DictReader(io.StringIO(r.body.decode())))
        self.assertEqual(len(recs), len(rows))
        for c in recs:
            w = [x for x in rows if x["ts_ms"] == int(c["ts_ms"]) and
                 x["bytes_in"] == int(c["bytes_in"])][0]
            m = w["model"]
            # a formula-like field is defused with a leading apostrophe
            self.assertEqual(c["model"], "'" + m if m[0] in "=+-@" else m)
            self.assertEqual(int(c["input_tokens"]), w["input_tokens"])
            self.assertEqual(c["credential"], w["credential"])

    def test_nothing_secret(self):
        # the management key and the policy keys never appear
        cfg = self.dep.config_text() + 'state-dir: "%s"\n' % self.state
        cfg += 'api-key-policy:\n  - api-key: "key-one"\n    name: "team-a"\n'
        self.dep.reset(cfg)
        for path in ("/usage?by=key", "/usage/export?format=csv&from=0",
                     "/usage/export?format=json&from=0"):
            r = self.dep.req("GET", path)
            self.assertEqual(r.status, 200)
            self.assertNotIn(self.dep.key.encode(), r.body)
            self.assertNotIn(b"key-one", r.body)

    # ----------------------------------------------------- api-key-policy

    def test_policy_list(self):
        p = "/api-key-policy"
        self.assertEqual(self.get(p), {"api-key-policy": []})
        item = {"api-key": "key-one", "name": "team-a", "models": ["claude-*", "gpt-4?"],
                "max-requests-per-minute": 60, "max-tokens-per-day": 1000000,
                "disabled": False}
        self.assertEqual(self.dep.req("PUT", p, body=[item, {"api-key": POLICY_HASH}]).status,
                         200)
        self.assertEqual(self.get(p)["api-key-policy"], [item, {
            "api-key": POLICY_HASH, "name": "", "models": [], "max-requests-per-minute": 0,
            "max-tokens-per-day": 0, "disabled": False}])
        self.assertIn("max-tokens-per-day: 1000000", self.dep.read_config().decode())
        # PATCH by api-key, then by index
        r = self.dep.req("PATCH", p, body={"match": "key-one",
                                           "value": dict(item, disabled=True)})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(self.get(p)["api-key-policy"][0]["disabled"])
        r = self.dep.req("PATCH", p, body={"index": 1, "value": {"api-key": POLICY_HASH,
                                                                  "name": "hashed"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.get(p)["api-key-policy"][1]["name"], "hashed")
        self.assertEqual(self.dep.req("DELETE", p + "?api-key=key-one").status, 200)
        self.assertEqual([i["api-key"] for i in self.get(p)["api-key-policy"]], [POLICY_HASH])
        self.assertEqual(self.dep.req("DELETE", p + "?index=0").status, 200)
        self.assertEqual(self.get(p), {"api-key-policy": []})

    def test_policy_validation(self):
        p = "/api-key-policy"
        before = self.dep.read_config()
        cases = [
            ([{"name": "x"}], "api-key must be a non-empty string"),
            ([{"api-key": ""}], "api-key must be a non-empty string"),
            ([{"api-key": "sha256:abc"}], "api-key sha256: must be followed by 64 hex digits"),
            ([{"api-key": "sha256:" + "g" * 64}], None),
            ([{"api-key": "k", "name": "has space"}], None),
            ([{"api-key": "k", "name": "x" * 65}], "name must be at most 64 bytes"),
            ([{"api-key": "k", "name": 5}], "name must be a string"),
            ([{"api-key": "k", "models": "claude-*"}], None),
            ([{"api-key": "k", "models": [""]}], None),
            ([{"api-key": "k", "max-requests-per-minute": -1}], None),
            ([{"api-key": "k", "max-requests-per-minute": 1.5}], None),
            ([{"api-key": "k", "max-requests-per-minute": "60"}], None),
            ([{"api-key": "k", "max-tokens-per-day": 10 ** 13}], None),
            ([{"api-key": "k", "disabled": "yes"}], "disabled must be true or false"),
            ([{"api-key": "k"}, {"api-key": "k"}], None),
            (["k"], None),
        ]
        for body, text in cases:
            r = self.dep.req("PUT", p, body=body)
            self.assertError(r, 400, text)
        self.assertEqual(self.dep.read_config(), before)
        # a broken policy in the file is named with its line
        self.dep.reset(self.dep.config_text() + "api-key-policy:\n  - api-key: \"k\"\n"
                       "    max-requests-per-minute: lots\n")
        r = self.dep.req("GET", p)
        self.assertEqual(r.status, 500, r)
        self.assertIn("max-requests-per-minute", self.dep.read_config().decode())


class Lighttpd(UsageSuite, unittest.TestCase):
    KIND = "lighttpd"


class Apache(UsageSuite, unittest.TestCase):
    KIND = "apache"


class SpawnFcgi(UsageSuite, unittest.TestCase):
    KIND = "spawn"


if __name__ == "__main__":
    tap.main()
