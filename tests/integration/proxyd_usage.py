#!/usr/bin/env python3
"""proxyd_usage.py - issue 15 in cliproxyd against the strict four-API mock
(tests/mock/api_mock.py): one usage row per exchange, stream and not, for
every client format, passthrough and translated, with the token counts the
upstream reported; /usage through the real responder (run as CGI, as
another user when we are root) equal to the sums of the rows while the
daemon writes; api-key-policy refusals in each client's error shape;
token limits that survive a restart; SIGKILL under load leaves a sound
database missing at most about the last second of rows."""
import json
import os
import pwd
import grp
import sqlite3
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mock"))
import tap  # noqa: E402
import harness  # noqa: E402
import proxyd_support as ps  # noqa: E402
import api_mock  # noqa: E402

K_TEAM = "sk-usage-team-a-0001"       # policy name team-a, models allow-list
K_FREE = "sk-usage-free-0002"         # no policy item
K_OFF = "sk-usage-disabled-0003"      # disabled
K_HASHED = "sk-usage-hashed-0004"     # policy by sha256:, claude-* only
K_RPM = "sk-usage-rpm-0005"           # 2 requests a minute
K_TPD = "sk-usage-tpd-0006"           # 30 tokens a day
K_TPD_BIG = "sk-usage-tpd-big-0007"   # a million tokens a day
KEYS = [K_TEAM, K_FREE, K_OFF, K_HASHED, K_RPM, K_TPD, K_TPD_BIG]
MGMT_KEY = "usage-mgmt-key-0123456789"


def sha(s):
    import hashlib
    return hashlib.sha256(s.encode()).hexdigest()


def config(m):
    u = m.url
    return {
        "api-keys": KEYS,
        "claude-api-key": [{"api-key": "sk-ant-up"}],
        "generative-language-api-key": ["gk-up"],
        "codex-api-key": [{"api-key": "sk-codex-up"}],
        "openai-compatibility": [ps.compat("mock", u + "/v1", ["sk-compat-up"],
                                           [("gpt-4o-mini", "chatmodel")])],
        "endpoints": {"gemini": u, "claude": u, "codex-api": u + "/v1"},
        "remote-management": {"secret-key": MGMT_KEY},
        "api-key-policy": [
            {"api-key": K_TEAM, "name": "team-a",
             "models": ["claude-*", "gemini-*", "gpt-5*", "chatmodel"]},
            {"api-key": K_OFF, "name": "off", "disabled": True},
            {"api-key": "sha256:" + sha(K_HASHED).upper(), "name": "hashed",
             "models": ["claude-*"]},
            {"api-key": K_RPM, "name": "rpm", "max-requests-per-minute": 2},
            {"api-key": K_TPD, "name": "tpd", "max-tokens-per-day": 30},
            {"api-key": K_TPD_BIG, "name": "tpd-big", "max-tokens-per-day": 1000000},
        ],
    }


# ------------------------------------------------------------ requests

MSG = [{"role": "user", "content": "hello there usage"}]


def request_of(fmt, model, stream):
    """(path, body) of a generate request in client format fmt."""
    if fmt == "chat":
        b = {"model": model, "messages": MSG}
        if stream:
            b["stream"] = True
            b["stream_options"] = {"include_usage": True}
        return "/v1/chat/completions", b
    if fmt == "responses":
        b = {"model": model, "input": "hello there usage"}
        if stream:
            b["stream"] = True
        return "/v1/responses", b
    if fmt == "claude":
        b = {"model": model, "max_tokens": 100, "messages": MSG}
        if stream:
            b["stream"] = True
        return "/v1/messages", b
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return ("/v1beta/models/%s:%s" % (model, action),
            {"contents": [{"role": "user", "parts": [{"text": "hello there usage"}]}]})


def headers_of(fmt, key):
    if fmt == "claude":
        return {"x-api-key": key, "anthropic-version": "2023-06-01"}
    if fmt == "gemini":
        return {"x-goog-api-key": key}
    return {"Authorization": "Bearer " + key}


def sse_json(body):
    out = []
    for block in body.decode().replace("\r\n", "\n").split("\n\n"):
        data = "\n".join(l[5:].lstrip() for l in block.split("\n") if l.startswith("data:"))
        if data and data != "[DONE]":
            out.append(json.loads(data))
    return out


def usage_of(fmt, stream, body):
    """(input, output, cached, reasoning) the answer reports, in the
    pivot's meaning (input includes cached, output includes reasoning)."""
    u = {"in": 0, "out": 0, "cached": 0, "reasoning": 0}
    docs = sse_json(body) if stream else [json.loads(body)]
    for d in docs:
        if fmt == "chat" and d.get("usage"):
            x = d["usage"]
            u["in"], u["out"] = x.get("prompt_tokens", 0), x.get("completion_tokens", 0)
            u["cached"] = (x.get("prompt_tokens_details") or {}).get("cached_tokens", 0)
            u["reasoning"] = (x.get("completion_tokens_details") or {}).get("reasoning_tokens", 0)
        elif fmt == "responses":
            r = d.get("response", d) if stream else d
            x = r.get("usage") if isinstance(r, dict) else None
            if x:
                u["in"], u["out"] = x.get("input_tokens", 0), x.get("output_tokens", 0)
                u["cached"] = (x.get("input_tokens_details") or {}).get("cached_tokens", 0)
                u["reasoning"] = (x.get("output_tokens_details") or {}).get("reasoning_tokens", 0)
        elif fmt == "claude":
            x = d.get("usage") or (d.get("message") or {}).get("usage")
            if x:
                if "input_tokens" in x:
                    u["in"] = (x["input_tokens"] + x.get("cache_read_input_tokens", 0) +
                               x.get("cache_creation_input_tokens", 0))
                if "cache_read_input_tokens" in x:
                    u["cached"] = x["cache_read_input_tokens"]
                if "output_tokens" in x:
                    u["out"] = x["output_tokens"]
        elif fmt == "gemini" and d.get("usageMetadata"):
            x = d["usageMetadata"]
            u["in"] = x.get("promptTokenCount", 0)
            u["cached"] = x.get("cachedContentTokenCount", 0)
            u["reasoning"] = x.get("thoughtsTokenCount", 0)
            u["out"] = x.get("candidatesTokenCount", 0) + u["reasoning"]
    return u


def read_rows(db):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        c.row_factory = sqlite3.Row
        return [dict(r) for r in c.execute("SELECT * FROM usage_raw ORDER BY ts")]
    finally:
        c.close()


def mgmt_binary():
    return harness.build_path("src/mgmt/cliproxy-mgmt")


class UsageDaemon(ps.DaemonPerClass, unittest.TestCase):
    SECRETS = KEYS

    @classmethod
    def setUpClass(cls):
        cls.m = api_mock.ApiMock().start()
        cls.d = ps.Daemon(config(cls.m))
        cfg = config(cls.m)
        cfg["state-dir"] = cls.d.state  # where the responder looks too
        cls.d.write_config(cfg)
        cls.db = os.path.join(cls.d.state, "usage.sqlite")
        cls.responder_user = None
        if os.geteuid() == 0:
            # the packaged split (doc/deploy.md): the daemon's files, the
            # responder as another user in the state dir's group
            try:
                www = pwd.getpwnam("www-data")
                g = grp.getgrnam("nogroup").gr_gid
            except KeyError:
                raise RuntimeError("users www-data and group nogroup needed (base-passwd)")
            for p in (cls.d.dir, cls.d.cfgdir):
                os.chmod(p, 0o755)
            os.chown(cls.d.cfgdir, 0, g)
            os.chmod(cls.d.cfgdir, 0o2770)
            os.chown(cls.d.config, 0, g)
            os.chmod(cls.d.config, 0o660)
            os.chown(cls.d.state, 0, g)
            os.chmod(cls.d.state, 0o2770)
            cls.responder_user = (www.pw_uid, www.pw_gid, g)
        cls.d.start()

    def call(self, fmt, model, stream, key):
        path, body = request_of(fmt, model, stream)
        return self.d.request("POST", path, body, headers_of(fmt, key))

    def wait_rows(self, n, timeout=10):
        deadline = time.time() + timeout
        rows = []
        while time.time() < deadline:
            if os.path.exists(self.db):
                rows = read_rows(self.db)
                if len(rows) >= n:
                    return rows
            time.sleep(0.1)
        self.fail("%d rows, wanted %d" % (len(rows), n))

    def mgmt(self, path, query=""):
        e = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "GET",
             "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1",
             "CLIPROXY_CONFIG": self.d.config, "SCRIPT_NAME": "/v0/management",
             "PATH_INFO": path, "HTTP_AUTHORIZATION": "Bearer " + MGMT_KEY}
        kw = {}
        if self.responder_user:
            uid, gid, g = self.responder_user
            kw = {"user": uid, "group": gid, "extra_groups": [g]}
        p = subprocess.run([mgmt_binary()], env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30, **kw)
        self.assertEqual(p.returncode, 0, p.stderr)
        head, _, payload = p.stdout.partition(b"\r\n\r\n")
        status = int(head.decode().split("\r\n")[0].split()[1])
        return status, payload

    # -------------------------------------------------------------- tests

    def test_1_rows_for_every_format(self):
        """Stream and non-stream, every client format, passthrough and
        translated: one row each with the answer's token counts, the key
        by policy name or hash prefix, never the key."""
        cases = [("chat", "chatmodel", "mock"), ("responses", "gpt-5", "codex"),
                 ("claude", "claude-sonnet-4-5", "claude"), ("gemini", "gemini-2.5-flash", "gemini"),
                 # translated: the pivot decoder's usage
                 ("claude", "gemini-2.5-flash", "gemini"), ("chat", "claude-sonnet-4-5", "claude"),
                 ("gemini", "gpt-5", "codex"), ("responses", "claude-sonnet-4-5", "claude")]
        before = len(read_rows(self.db)) if os.path.exists(self.db) else 0
        want = []
        for fmt, model, kind in cases:
            for stream in (False, True):
                for key, kid in ((K_TEAM, "team-a"), (K_FREE, sha(K_FREE)[:12])):
                    st, h, body = self.call(fmt, model, stream, key)
                    self.assertEqual(st, 200, (fmt, model, stream, body[:300]))
                    u = usage_of(fmt, stream, body)
                    self.assertGreater(u["in"], 0, (fmt, model, stream, body[:400]))
                    self.assertGreater(u["out"], 0, (fmt, model, stream))
                    want.append((fmt, model, kind, stream, kid, u, len(body)))
        rows = self.wait_rows(before + len(want))[before:]
        self.assertEqual(len(rows), len(want))
        fmt_names = {"chat": "openai-chat", "responses": "openai-responses",
                     "claude": "claude", "gemini": "gemini"}
        for r, (fmt, model, kind, stream, kid, u, blen) in zip(rows, want):
            what = (fmt, model, stream, r)
            self.assertEqual(r["key_id"], kid, what)
            self.assertEqual(r["model"], model, what)
            self.assertEqual(r["format"], fmt_names[fmt], what)
            self.assertEqual(r["provider"], {"mock": "openai-compatibility",
                                             "codex": "codex-api-key",
                                             "claude": "claude-api-key",
                                             "gemini": "generative-language-api-key"}[kind], what)
            self.assertTrue(r["credential"], what)
            self.assertEqual(r["status"], 200, what)
            self.assertEqual((r["in_tok"], r["out_tok"], r["cached_tok"], r["reasoning_tok"]),
                             (u["in"], u["out"], u["cached"], u["reasoning"]), what)
            self.assertEqual(r["bytes_out"], blen, what)
            self.assertGreater(r["bytes_in"], 0, what)
            self.assertLessEqual(r["ttfb_ms"], r["total_ms"], what)
            for k in KEYS + ["sk-ant-up", "gk-up", "sk-codex-up", "sk-compat-up"]:
                self.assertNotIn(k, json.dumps(r))
        kinds = {r["provider"] for r in rows}
        self.assertEqual(len(kinds), 4, kinds)

    def test_1b_token_limited_chat_stream_without_usage_is_counted(self):
        """A Chat stream that does not ask for usage, passed through,
        carries none: for a key with a token limit it is counted anyway
        (else such a key streams past its limit), and the client still
        gets no usage chunk it did not ask for."""
        before = len(read_rows(self.db)) if os.path.exists(self.db) else 0
        body = {"model": "chatmodel", "messages": MSG, "stream": True}
        st, _, out = self.d.request("POST", "/v1/chat/completions", body,
                                    headers_of("chat", K_TPD_BIG))
        self.assertEqual(st, 200, out[:300])
        chunks = [json.loads(l[5:]) for l in out.decode().splitlines()
                  if l.startswith("data:") and l.strip() != "data: [DONE]"]
        self.assertTrue(chunks)
        self.assertFalse([c for c in chunks if c.get("usage")], out[-400:])
        self.assertTrue(out.rstrip().endswith(b"data: [DONE]"))
        row = self.wait_rows(before + 1)[before]
        self.assertEqual(row["key_id"], "tpd-big")
        self.assertGreater(row["in_tok"], 0, row)
        self.assertGreater(row["out_tok"], 0, row)
        # what the upstream was asked: usage included
        rec = self.m.last()
        self.assertEqual(rec["json"].get("stream_options"), {"include_usage": True}, rec["json"])

    def test_1c_model_lists_follow_the_allow_list(self):
        """A key limited to some models sees only those in /v1/models and
        /v1beta/models; a key without a list sees every one."""
        def ids(key):
            st, _, body = self.d.request("GET", "/v1/models", None, headers_of("chat", key))
            self.assertEqual(st, 200, body)
            return {m["id"] for m in json.loads(body)["data"]}
        every = ids(K_FREE)
        self.assertTrue(any(i.startswith("gemini-") for i in every), every)
        limited = ids(K_HASHED)
        self.assertTrue(limited, every)
        self.assertEqual(limited, {i for i in every if i.startswith("claude-")})
        st, _, body = self.d.request("GET", "/v1beta/models", None, headers_of("gemini", K_HASHED))
        self.assertEqual(st, 200, body)
        names = [m["name"] for m in json.loads(body)["models"]]
        self.assertTrue(names)
        self.assertTrue(all(n.startswith("models/claude-") for n in names), names)
        st, _, _ = self.d.request("GET", "/v1beta/models/gemini-2.5-flash", None,
                                  headers_of("gemini", K_HASHED))
        self.assertEqual(st, 404)
        st, _, _ = self.d.request("GET", "/v1beta/models/gemini-2.5-flash", None,
                                  headers_of("gemini", K_FREE))
        self.assertEqual(st, 200)

    def test_2_usage_endpoint_equals_rows(self):
        """GET /usage through the responder (another user when root),
        while the daemon writes: totals and per-key totals are the sums."""
        stop = threading.Event()

        def load():
            while not stop.is_set():
                self.call("claude", "claude-sonnet-4-5", False, K_FREE)

        t = threading.Thread(target=load)
        t.start()
        try:
            time.sleep(1.5)
            st, body = self.mgmt("/usage", "by=key&step=hour")
            self.assertEqual(st, 200, body)
        finally:
            stop.set()
            t.join()
        time.sleep(1.5)  # the last rows reach the database
        rows = read_rows(self.db)
        st, body = self.mgmt("/usage", "by=key&step=minute")
        self.assertEqual(st, 200, body)
        ans = json.loads(body)
        tot = ans["totals"]
        self.assertEqual(tot["requests"], len(rows))
        self.assertEqual(tot["tokens"]["input"], sum(r["in_tok"] for r in rows))
        self.assertEqual(tot["tokens"]["output"], sum(r["out_tok"] for r in rows))
        self.assertEqual(tot["errors"], sum(1 for r in rows if r["status"] == 0 or
                                            r["status"] >= 400))
        per = {s["key"]: s["totals"] for s in ans["series"]}
        for kid in {r["key_id"] for r in rows}:
            mine = [r for r in rows if r["key_id"] == kid]
            self.assertEqual(per[kid]["requests"], len(mine), kid)
            self.assertEqual(per[kid]["tokens"]["output"], sum(r["out_tok"] for r in mine))
        st, body = self.mgmt("/usage", "step=hour")
        self.assertEqual(json.loads(body)["totals"]["requests"], len(rows))
        if self.responder_user:
            for suffix in ("", "-wal", "-shm"):
                s = os.stat(self.db + suffix)
                self.assertEqual(s.st_mode & 0o777, 0o660, suffix)
                self.assertEqual(s.st_gid, self.responder_user[2], suffix)

    def check_shape(self, fmt, status, body, etype):
        j = json.loads(body)
        if fmt == "claude":
            self.assertEqual(j["type"], "error", body)
            self.assertEqual(j["error"]["type"], etype, body)
        elif fmt == "gemini":
            self.assertEqual(j["error"]["code"], status, body)
            self.assertIn("status", j["error"], body)
        else:
            self.assertIn("message", j["error"], body)
            self.assertIn("type", j["error"], body)

    def test_3_policy_refusals(self):
        """Disabled 401, model outside the allow-list 403, over the
        requests per minute 429 + Retry-After, in each client's shape;
        sha256: items match the key."""
        models = {"chat": "chatmodel", "responses": "gpt-5", "claude": "claude-sonnet-4-5",
                  "gemini": "gemini-2.5-flash"}
        for fmt in ("chat", "responses", "claude", "gemini"):
            st, h, body = self.call(fmt, models[fmt], False, K_OFF)
            self.assertEqual(st, 401, (fmt, body))
            self.check_shape(fmt, 401, body, "authentication_error")
            st, _, _ = self.d.request("GET", "/v1/models", None, {"Authorization": "Bearer " + K_OFF})
            self.assertEqual(st, 401)
            if fmt != "claude":
                st, h, body = self.call(fmt, models[fmt], False, K_HASHED)
                self.assertEqual(st, 403, (fmt, body))
                self.check_shape(fmt, 403, body, "permission_error")
            else:
                st, h, body = self.call(fmt, models[fmt], False, K_HASHED)
                self.assertEqual(st, 200, body)
            st, h, body = self.call(fmt, "gpt-4.1", False, K_TEAM)
            self.assertEqual(st, 403, (fmt, body))
            self.check_shape(fmt, 403, body, "permission_error")
        st, h, body = self.call("claude", "gpt-5", False, K_TEAM)
        self.assertEqual(st, 200, body)
        for fmt in ("chat", "responses", "claude", "gemini"):
            seen = []
            for _ in range(3):
                st, h, body = self.call(fmt, models[fmt], False, K_RPM)
                seen.append(st)
                if st == 429:
                    self.check_shape(fmt, 429, body, "rate_limit_error")
                    self.assertTrue(1 <= int(h["retry-after"]) <= 60, h)
            self.assertEqual(seen[-1], 429, (fmt, seen))
            if fmt == "chat":
                self.assertEqual(seen, [200, 200, 429])

    def test_4_token_limit_survives_restart(self):
        """max-tokens-per-day: over it, 429 until 00:00 UTC; a restart
        reads today's count back from the database."""
        n = 0
        while True:
            st, h, body = self.call("claude", "claude-sonnet-4-5", False, K_TPD)
            if st == 429:
                break
            self.assertEqual(st, 200, body)
            n += 1
            self.assertLess(n, 20)
        self.assertGreater(n, 0)
        ra = int(h["retry-after"])
        self.assertTrue(0 < ra <= 86400, ra)
        self.check_shape("claude", 429, body, "rate_limit_error")
        self.assertIn("tokens", json.loads(body)["error"]["message"])
        self.assertEqual(self.d.stop(), 0)
        self.d.start()
        st, h, body = self.call("gemini", "gemini-2.5-flash", False, K_TPD)
        self.assertEqual(st, 429, body)
        self.check_shape("gemini", 429, body, None)
        st, h, body = self.call("gemini", "gemini-2.5-flash", False, K_FREE)
        self.assertEqual(st, 200, body)
        stat = self.d.wait_status(lambda s: "usage" in s)
        self.assertTrue(stat["usage"]["recording"], stat)
        self.assertEqual(stat["usage"]["dropped"], 0, stat)

    def test_5_sigkill_under_load(self):
        """SIGKILL while 4 clients send: the database checks out and
        holds every exchange that ended more than ~1 s before the kill."""
        done = []
        lock = threading.Lock()
        stop = threading.Event()

        def load():
            while not stop.is_set():
                try:
                    st, _, _ = self.call("chat", "chatmodel", False, K_FREE)
                except OSError:
                    return
                if st == 200:
                    with lock:
                        done.append(time.time())

        before = len(read_rows(self.db))
        ts = [threading.Thread(target=load) for _ in range(4)]
        for t in ts:
            t.start()
        time.sleep(2.5)
        killed_at = time.time()
        self.d.proc.kill()
        self.d.proc.wait()
        stop.set()
        for t in ts:
            t.join()
        c = sqlite3.connect(self.db, timeout=10)
        try:
            self.assertEqual(c.execute("PRAGMA integrity_check").fetchone()[0], "ok")
            n = c.execute("SELECT COUNT(*) FROM usage_raw").fetchone()[0] - before
        finally:
            c.close()
        early = sum(1 for t in done if t < killed_at - 1.3)
        self.assertGreater(early, 10)
        self.assertGreaterEqual(n, early, (n, early, len(done)))
        self.assertLessEqual(n, len(done) + 4)
        self.d.proc = None
        self.d.logf.close()
        self.d.start()

    def test_6_retention_hot_reload(self):
        """usage-raw-days and usage-days changed by a reload prune at
        once: raw rows first, then the hourly aggregates."""
        old = int((time.time() - 5 * 86400) * 1000)
        line = "\t".join(str(x) for x in (old, "old-key", "old-model", "old-model", "claude-api-key",
                                           "c", "claude", 200, 1, 1, 0, 0, 5, 5, 1, 1, 0))
        out = subprocess.run([harness.build_path("tests/integration/usage_fill"), self.db],
                             input=(line + "\n").encode(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        self.assertEqual(out.returncode, 0, out.stderr)

        def counts():
            c = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
            try:
                return (c.execute("SELECT COUNT(*) FROM usage_raw WHERE key_id='old-key'")
                        .fetchone()[0],
                        c.execute("SELECT COUNT(*) FROM usage_hourly WHERE dim=1 AND "
                                  "value='old-key'").fetchone()[0])
            finally:
                c.close()

        self.assertEqual(counts(), (1, 1))
        cfg = config(self.m)
        cfg["state-dir"] = self.d.state
        cfg["usage-raw-days"] = 3
        self.d.write_config(cfg)
        ps.wait_until(lambda: counts() == (0, 1), timeout=10, step=0.1)
        self.assertEqual(counts(), (0, 1))
        cfg["usage-days"] = 4
        self.d.write_config(cfg)
        ps.wait_until(lambda: counts() == (0, 0), timeout=10, step=0.1)
        self.assertEqual(counts(), (0, 0))
        self.assertIn("usage retention: raw rows 3 days, hourly 4 days", self.d.log_text())

    def test_7_policy_hot_reload(self):
        """A reload that adds an item applies at once: a key gets an
        allow-list, then is disabled, then is free again."""
        cfg = config(self.m)
        cfg["state-dir"] = self.d.state
        st, _, _ = self.call("gemini", "gemini-2.5-flash", False, K_FREE)
        self.assertEqual(st, 200)
        cfg["api-key-policy"] = cfg["api-key-policy"] + [
            {"api-key": K_FREE, "name": "free", "models": ["claude-*"]}]
        self.d.write_config(cfg)
        ps.wait_until(lambda: self.call("gemini", "gemini-2.5-flash", False, K_FREE)[0] == 403,
                      timeout=10, step=0.05)
        self.assertEqual(self.call("claude", "claude-sonnet-4-5", False, K_FREE)[0], 200)
        cfg["api-key-policy"][-1]["disabled"] = True
        self.d.write_config(cfg)
        ps.wait_until(lambda: self.call("claude", "claude-sonnet-4-5", False, K_FREE)[0] == 401,
                      timeout=10, step=0.05)
        cfg["api-key-policy"].pop()
        self.d.write_config(cfg)
        ps.wait_until(lambda: self.call("gemini", "gemini-2.5-flash", False, K_FREE)[0] == 200,
                      timeout=10, step=0.05)
        # the named item's rows say "free", the others the hash prefix
        time.sleep(1.5)
        ids = {r["key_id"] for r in read_rows(self.db)}
        self.assertIn("free", ids)
        self.assertIn(sha(K_FREE)[:12], ids)

    def test_8_upstream_error_row(self):
        """An upstream error passed on byte for byte: its status and bytes
        in the row, no tokens."""
        before = len(read_rows(self.db))
        st, _, body = self.call("claude", "claude-err400-x", False, K_TEAM)
        self.assertEqual(st, 400, body)
        r = self.wait_rows(before + 1)[-1]
        self.assertEqual((r["status"], r["bytes_out"], r["in_tok"], r["out_tok"], r["model"]),
                         (400, len(body), 0, 0, "claude-err400-x"))


if __name__ == "__main__":
    tap.main()
