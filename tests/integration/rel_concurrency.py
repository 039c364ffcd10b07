#!/usr/bin/env python3
"""rel_concurrency.py - concurrent writers (issue 5 "Concurrency";
DESIGN.md 4).

8 writers x 100 changes through Apache mod_fcgid (up to 8 responders) and
through lighttpd mod_fastcgi (max-procs 4), mixing PUT, PATCH and DELETE
on every list kind, scalar PUTs, and auth-file uploads (multipart and raw)
and deletes. Each writer owns disjoint slots (api-keys index i, the
openai-compatibility entry "w<i>", its claude-api-key and
generative-language-api-key entries, one scalar, its auth files
"w<i>-*.json"; writer 7 owns the whole codex-api-key list), so the final
state must equal the serial application of every acknowledged change, and
every change must be acknowledged.

Then the responder races a second writer on the core API (rel_core:
cfg_transact / authstore_write, as cliproxyd's token refresh does) on the
same config and the same auth file: nothing acknowledged is lost and the
files always parse.
"""
import json
import os
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import mgmtlib  # noqa: E402
import rellib  # noqa: E402
import tap  # noqa: E402

WRITERS = 8
CHANGES = rellib.scaled("REL_CHANGES", 100, 40)
SCALARS = [("/debug", "debug", "bool"), ("/request-log", "request-log", "bool"),
           ("/allow-localhost-unauthenticated", "allow-localhost-unauthenticated", "bool"),
           ("/quota-exceeded/switch-project", "switch-project", "bool"),
           ("/quota-exceeded/switch-preview-model", "switch-preview-model", "bool"),
           ("/request-retry", "request-retry", "int"), ("/proxy-url", "proxy-url", "url")]


def compat(i, k):
    return {"name": "w%d" % i, "base-url": "http://127.0.0.1:%d/v1" % (1000 + k),
            "api-keys": ["w%d-ck-%d" % (i, k)], "models": [{"name": "m%d" % k, "alias": "a%d" % i}]}


def scalar_value(kind, k):
    if kind == "bool":
        return k % 2 == 0
    if kind == "int":
        return k % 101
    return "http://proxy%d.example:3128" % k


class Model:
    """The serial application of one writer's acknowledged changes."""

    def __init__(self, i):
        self.i = i
        self.api_key = "w%d-init" % i
        self.compat = compat(i, -1)
        self.claude = "w%d-claude-init" % i
        self.gl = "w%d-gl-init" % i
        self.scalar = None
        self.codex = []
        self.files = {}


class Writers:
    """Runs WRITERS x CHANGES mixed changes against a deployment."""

    def __init__(self, dep):
        self.dep = dep
        self.problems = []
        self.acks = 0
        self.lock = threading.Lock()
        self.models = [Model(i) for i in range(WRITERS)]
        self.pids = set()

    def req(self, method, path, body=None, headers=None):
        h = {"Authorization": "Bearer " + self.dep.key}
        h.update(headers or {})
        return harness.http_request(self.dep.server.port, method, mgmtlib.PREFIX + path, body, h,
                                    timeout=60)

    def setup(self):
        for path, body in (("/api-keys", [m.api_key for m in self.models]),
                           ("/openai-compatibility", [m.compat for m in self.models]),
                           ("/claude-api-key", [{"api-key": m.claude} for m in self.models]),
                           ("/generative-language-api-key", [m.gl for m in self.models]),
                           ("/codex-api-key", [])):
            r = self.req("PUT", path, body)
            if r.status != 200:
                raise AssertionError("setup %s: %r" % (path, r))

    def change(self, m, k):
        """(method, path, body, headers, apply) of change k of writer m.i."""
        i = m.i
        op = k % 6
        if op == 0:
            v = "w%d-%d" % (i, k)
            return ("PATCH", "/api-keys", {"index": i, "value": v}, None,
                    lambda: setattr(m, "api_key", v))
        if op == 1:
            c = compat(i, k)
            return ("PATCH", "/openai-compatibility", {"name": "w%d" % i, "value": c}, None,
                    lambda: setattr(m, "compat", c))
        if op == 2:
            v = "w%d-claude-%d" % (i, k)
            return ("PATCH", "/claude-api-key", {"match": m.claude, "value": {"api-key": v}},
                    None, lambda: setattr(m, "claude", v))
        if op == 3:
            v = "w%d-gl-%d" % (i, k)
            return ("PATCH", "/generative-language-api-key", {"old": m.gl, "new": v}, None,
                    lambda: setattr(m, "gl", v))
        if op == 4:
            name = "w%d-%d.json" % (i, (k // 6) % 4)
            doc = json.dumps({"writer": i, "seq": k}).encode()

            def put_file():
                m.files[name] = doc
            if k % 12 == 4:
                ct, body = harness.multipart([("file", name, doc)])
                return ("POST", "/auth-files", body, {"Content-Type": ct}, put_file)
            return ("POST", "/auth-files?name=" + name, doc, None, put_file)
        # op 5: deletes of auth files, scalars, and writer 7's codex list
        old = "w%d-%d.json" % (i, ((k // 6) + 2) % 4)
        if k % 12 == 5 and old in m.files:
            return ("DELETE", "/auth-files?name=" + old, None, None, lambda: m.files.pop(old))
        if i == 7:
            if k % 4 == 1 and m.codex:
                gone = m.codex[0]["api-key"]
                return ("DELETE", "/codex-api-key?api-key=" + gone, None, None,
                        lambda: setattr(m, "codex", m.codex[1:]))
            v = [{"api-key": "w7-x-%d" % k}, {"api-key": "w7-y-%d" % k,
                                               "base-url": "https://codex.example/v1"}]
            return ("PUT", "/codex-api-key", v, None, lambda: setattr(m, "codex", v))
        path, _, kind = SCALARS[i]
        v = scalar_value(kind, k)
        return ("PUT", path, {"value": v}, None, lambda: setattr(m, "scalar", v))

    def run(self):
        start = threading.Barrier(WRITERS)

        def writer(m):
            try:
                start.wait()
                for k in range(CHANGES):
                    method, path, body, headers, apply = self.change(m, k)
                    r = self.req(method, path, body, headers)
                    if r.status != 200:
                        with self.lock:
                            self.problems.append("writer %d change %d %s %s: %r"
                                                 % (m.i, k, method, path, r))
                        continue
                    apply()
                    with self.lock:
                        self.acks += 1
                    if k % 10 == 0:
                        pids = rellib.responder_pids(self.dep.binary, self.dep.config)
                        with self.lock:
                            self.pids.update(pids)
            except Exception as e:  # reported, not lost in a thread
                with self.lock:
                    self.problems.append("writer %d: %r" % (m.i, e))

        threads = [threading.Thread(target=writer, args=(m,)) for m in self.models]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        return time.monotonic() - t0

    def check(self, tc):
        cfg = rellib.load_config(self.dep.config)
        checked = 0
        tc.assertEqual(cfg["api-keys"], [m.api_key for m in self.models])
        tc.assertEqual(cfg["openai-compatibility"], [m.compat for m in self.models])
        tc.assertEqual([c["api-key"] for c in cfg["claude-api-key"]],
                       [m.claude for m in self.models])
        tc.assertEqual(cfg["generative-language-api-key"], [m.gl for m in self.models])
        want_codex = [dict({"base-url": ""}, **c) for c in self.models[7].codex]
        tc.assertEqual(cfg["codex-api-key"], want_codex)
        checked += 5 * WRITERS
        for m in self.models[:len(SCALARS)]:
            _, key, _ = SCALARS[m.i]
            got = cfg["quota-exceeded"][key] if key.startswith("switch-") else cfg[key]
            tc.assertEqual(got, m.scalar, "scalar %s of writer %d" % (key, m.i))
            checked += 1
        want_files = {}
        for m in self.models:
            want_files.update(m.files)
        got_files = {}
        for n in os.listdir(self.dep.auth_dir):
            if not n.startswith("."):
                got_files[n] = harness.read_file(os.path.join(self.dep.auth_dir, n))
        tc.assertEqual(sorted(got_files), sorted(want_files))
        for n in want_files:
            tc.assertEqual(got_files[n], want_files[n], n)
            checked += 1
        tc.assertEqual(rellib.temps(self.dep.cfgdir) + rellib.temps(self.dep.auth_dir), [])
        return checked


class ConcurrentWriters(mgmtlib.DeploymentPerClass):
    MIN_PIDS = 2

    def test_1_mixed_writers_equal_serial_application(self):
        self.dep.reset()
        w = Writers(self.dep)
        w.setup()
        secs = w.run()
        self.assertEqual(w.problems, [])
        self.assertEqual(w.acks, WRITERS * CHANGES)
        checked = w.check(self)
        self.assertGreaterEqual(len(w.pids), self.MIN_PIDS,
                                "%s ran only %d responder processes" % (self.KIND, len(w.pids)))
        crashes = rellib.error_log_crashes(self.dep.server.log)
        self.assertEqual(crashes, [])
        rellib.figure("%s: writers: %d x %d changes, acknowledged: %d, final slots checked: %d, "
                      "lost: 0, responder processes: %d, %.1fs (%.0f writes/s)"
                      % (self.KIND, WRITERS, CHANGES, w.acks, checked, len(w.pids), secs,
                         w.acks / secs))

    def test_2_core_api_writer_races_the_responder(self):
        dep = self.dep
        dep.reset()
        n_http, n_core = 4, 150
        r = dep.req("PUT", "/api-keys", body=["h%d--1" % i for i in range(n_http)])
        self.assertEqual(r.status, 200, r)
        shared = os.path.join(dep.auth_dir, "shared.json")
        user = harness.service_user()
        kw = {"user": user[1], "group": user[2]} if os.geteuid() == 0 else {}
        # The core writers run back to back, with no pause between their
        # transactions: the lock is fair (lock.c), so the responder's
        # writers are not starved into 503 "config is busy".
        core_cfg = subprocess.Popen([rellib.core_bin(), "cfgappend", dep.config, "core", str(n_core),
                                     "0"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
        core_auth = subprocess.Popen([rellib.core_bin(), "authwrite", dep.auth_dir, "shared.json",
                                      str(n_core), "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, **kw)
        problems, acked = [], [-1] * n_http
        http_shared = [None]
        lock = threading.Lock()
        stop = threading.Event()
        reads = [0]

        def http_writer(i):
            try:
                for k in range(60):
                    r = dep.req("PATCH", "/api-keys", body={"index": i, "value": "h%d-%d" % (i, k)})
                    if r.status != 200:
                        problems.append("http %d: %r" % (i, r))
                        continue
                    acked[i] = k
                    if i == 0:
                        doc = json.dumps({"writer": "http", "seq": k})
                        r = dep.req("POST", "/auth-files?name=shared.json", body=doc)
                        if r.status != 200:
                            problems.append("upload %d: %r" % (k, r))
                        else:
                            with lock:
                                http_shared[0] = doc.encode()
            except Exception as e:
                problems.append("http %d: %r" % (i, e))

        def reader():
            # the files always parse, whoever wrote last
            while not stop.is_set():
                try:
                    rellib.load_config(dep.config)
                    if os.path.exists(shared):
                        json.loads(harness.read_file(shared).decode())
                    reads[0] += 1
                except Exception as e:
                    problems.append("reader: %r" % e)
                    return

        threads = [threading.Thread(target=http_writer, args=(i,)) for i in range(n_http)]
        rd = threading.Thread(target=reader)
        rd.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        out_cfg, err_cfg = core_cfg.communicate(timeout=300)
        out_auth, err_auth = core_auth.communicate(timeout=300)
        stop.set()
        rd.join(60)
        self.assertEqual(problems, [])
        self.assertEqual(core_cfg.returncode, 0, out_cfg.decode()[-500:] + err_cfg.decode()[-500:])
        self.assertEqual(core_auth.returncode, 0, out_auth.decode()[-500:] + err_auth.decode()[-500:])
        core_acks = [ln for ln in out_cfg.decode().splitlines() if ln.startswith("ack ")]
        self.assertEqual(len(core_acks), n_core)
        cfg = rellib.load_config(dep.config)
        self.assertEqual(cfg["api-keys"][:n_http], ["h%d-%d" % (i, acked[i]) for i in range(n_http)])
        self.assertEqual(cfg["api-keys"][n_http:], ["core-%d" % k for k in range(n_core)])
        final = harness.read_file(shared)
        self.assertIn(final, (http_shared[0], b'{"writer":"core","seq":%d}' % (n_core - 1)))
        # the responder still reads the files the other writer made
        self.assertEqual(dep.req("GET", "/api-keys").json()["api-keys"], cfg["api-keys"])
        self.assertEqual(dep.req("GET", "/auth-files/download?name=shared.json").body, final)
        rellib.figure("%s + core API: responder writes acknowledged: %d, core transactions "
                      "acknowledged: %d + auth writes %d, lost: 0, reads that parsed: %d"
                      % (self.KIND, sum(a + 1 for a in acked), len(core_acks),
                         out_auth.decode().count("ack "), reads[0]))


class Apache(ConcurrentWriters, unittest.TestCase):
    KIND = "apache"


class Lighttpd(ConcurrentWriters, unittest.TestCase):
    KIND = "lighttpd"
    MIN_PIDS = 4


if __name__ == "__main__":
    tap.main()
