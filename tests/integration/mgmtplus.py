"""mgmtplus.py - the management endpoints beyond the spec (issue 13), run
by mgmt_plus.py under lighttpd, Apache mod_fcgid and spawn-fcgi:
GET /config, GET/PUT /config.yaml, ETag / If-None-Match / If-Match on
config-backed data and auth files, GET /status (with and without a
running cliproxyd), the audit log and GET /audit, the history and its
restore, the request logs, GET /endpoints, CORS.

Every refused request is checked to leave the config byte-identical. The
management key and the hash are never printed (mgmtlib.redact).
"""
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import threading
import time
import unittest

import harness
import mgmtlib

PLACEHOLDER = "<secret-key unchanged>"
MIB = 1024 * 1024


def sha(data):
    return hashlib.sha256(data).hexdigest()


def etag_of(data):
    return '"%s"' % sha(data)


class PlusSuite(mgmtlib.DeploymentPerClass):
    """Mixed into one unittest.TestCase per deployment (KIND)."""

    def setUp(self):
        self.dep.reset()
        self.state = os.path.join(self.dep.cfgdir, "state")
        self.history = os.path.join(self.dep.cfgdir, ".cliproxy-history")
        for d in (self.state, self.history):
            shutil.rmtree(d, ignore_errors=True)
        # made as the service user, as the package's postinst makes it;
        # cliproxyd (root here) finds it there by the same default rule
        os.mkdir(self.state, 0o755)
        harness.give(self.state)
        self.daemon = None

    def tearDown(self):
        if self.daemon is not None:
            harness.stop(self.daemon)

    # ------------------------------------------------------------ helpers

    def req(self, *a, **kw):
        return self.dep.req(*a, **kw)

    def ok(self, r, status=200):
        self.assertEqual(r.status, status, "unexpected %r" % r)
        self.assertEqual(r.header("Access-Control-Allow-Origin"), "*")
        self.assertEqual(r.header("Access-Control-Expose-Headers"), "ETag")
        return r

    def error(self, r, status, text=None):
        self.assertEqual(r.status, status, "unexpected %r" % r)
        j = r.json()
        self.assertEqual(list(j.keys()), ["error"], repr(r))
        if text is not None:
            self.assertEqual(j["error"], text)
        return j["error"]

    def config(self):
        return self.dep.read_config()

    def untouched(self, before, what=""):
        after = self.config()
        self.assertTrue(after == before, "config changed by a refused request %s:\n%s"
                        % (what, mgmtlib.redact(after)))

    def secret_values(self):
        """Every value that must never reach the audit log or an answer."""
        return [self.dep.key, self.dep.hash]

    def history_ids(self):
        r = self.ok(self.req("GET", "/config/history"))
        return [h["id"] for h in r.json()["history"]]

    def audit(self, limit=None):
        r = self.ok(self.req("GET", "/audit" + ("" if limit is None else "?limit=%s" % limit)))
        return r.json()["entries"]

    def start_daemon(self):
        """cliproxyd on the deployment's config, with no --state-dir: it
        must find the state dir by the rule the responder uses."""
        exe = harness.build_path("src/proxyd/cliproxyd")
        log = os.path.join(self.dep.dir, "cliproxyd.log")
        self.daemon = harness.start([exe, "-c", self.dep.config, "--listen", "127.0.0.1:0",
                                     "--log", "stderr"], log=log)
        path = os.path.join(self.state, "cliproxyd.status")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with open(path) as f:
                    if json.load(f).get("pid") == self.daemon.pid:
                        return
            except (OSError, ValueError):
                pass
            if self.daemon.poll() is not None:
                break
            time.sleep(0.02)
        self.fail("cliproxyd did not write %s:\n%s" % (path, harness.tail(log)))

    def wait_in_sync(self, timeout=10):
        deadline = time.monotonic() + timeout
        st = None
        while time.monotonic() < deadline:
            st = self.ok(self.req("GET", "/status")).json()
            if st["in-sync"]:
                return st
            time.sleep(0.02)
        self.fail("never in sync: %r" % st)

    # -------------------------------------------------------- /endpoints

    def test_endpoints_from_the_table(self):
        r = self.ok(self.req("GET", "/endpoints"))
        eps = {e["path"]: e["methods"] for e in r.json()["endpoints"]}
        self.assertEqual(eps["/api-keys"], ["GET", "PUT", "PATCH", "DELETE"])
        self.assertEqual(eps["/debug"], ["GET", "PUT", "PATCH"])
        self.assertEqual(eps["/auth-files"], ["GET", "POST", "DELETE"])
        self.assertEqual(eps["/config.yaml"], ["GET", "PUT"])
        self.assertEqual(eps["/config/history/{id}/restore"], ["POST"])
        self.assertEqual(eps["/request-logs/{name}"], ["GET"])
        self.assertEqual(eps["/endpoints"], ["GET"])
        for p in ("/config", "/status", "/audit", "/config/history", "/request-logs",
                  "/codex-api-key", "/openai-compatibility", "/auth-files/download"):
            self.assertIn(p, eps)
        # the list is the router: every method listed is served, others 405
        for path, methods in eps.items():
            if "{" in path:
                continue
            r = self.req("OPTIONS", path, key=None)
            self.assertEqual(r.status, 204, path)
            if "GET" not in methods:
                self.assertEqual(self.req("GET", path).status, 405, path)
        # same access rules as everything else
        self.error(self.req("GET", "/endpoints", key=None), 401, "missing management key")
        self.error(self.req("GET", "/endpoints", xff="203.0.113.5"), 403,
                   "remote management disabled")

    # ------------------------------------------------------------ /config

    def test_config_json_is_effective_without_secret(self):
        r = self.ok(self.req("GET", "/config"))
        j = r.json()
        for s in self.secret_values():
            self.assertNotIn(s.encode(), r.body)
        self.assertNotIn("secret-key", j["remote-management"])
        self.assertNotIn("remote-management-key", j)
        self.assertEqual(j["remote-management"], {"allow-remote": False})
        self.assertEqual(j["api-keys"], ["key-one", "key-two"])
        self.assertEqual(j["request-retry"], 3)
        self.assertEqual(j["port"], 8317)
        self.assertEqual(j["claude-api-key"], [])
        # unknown keys as read
        self.assertEqual(j["future-setting"], {"nested": [1, 2, 3]})
        # the defaults made effective
        self.assertEqual(j["state-dir"], self.state)
        self.assertEqual(j["request-log-dir"], os.path.join(self.state, "requests"))
        self.assertEqual(j["trusted-proxies"], ["127.0.0.0/8", "::1"])
        self.assertEqual(r.header("ETag"), etag_of(self.config()))
        # the flat spelling of the key is not shown either
        text = self.dep.config_text().replace("remote-management:\n", "remote-management:\n"
                                              "  unknown-child: 7\n")
        text += 'remote-management-key: "%s"\n' % self.dep.hash
        self.dep.write_config(text)
        r = self.ok(self.req("GET", "/config"))
        self.assertNotIn(self.dep.hash.encode(), r.body)
        self.assertEqual(r.json()["remote-management"], {"allow-remote": False,
                                                         "unknown-child": 7})

    def test_config_broken_file_is_500_without_etag(self):
        self.ok(self.req("GET", "/config"))
        good = self.config()
        self.dep.write_config(good + b"request-retry: [\n")
        for p in ("/config", "/config.yaml", "/api-keys"):
            r = self.req("GET", p)
            self.assertEqual(r.status, 500, repr(r))
            self.assertIsNone(r.header("ETag"))
            self.assertRegex(r.json()["error"], r"^failed to load config: line [0-9]+")

    # ------------------------------------------------------- /config.yaml

    def test_config_yaml_hides_the_key(self):
        r = self.ok(self.req("GET", "/config.yaml"))
        self.assertEqual(r.header("Content-Type"), "application/yaml; charset=utf-8")
        self.assertEqual(r.header("ETag"), etag_of(self.config()))
        for s in self.secret_values():
            self.assertNotIn(s.encode(), r.body)
        expect = self.config().replace(self.dep.hash.encode(), PLACEHOLDER.encode())
        self.assertEqual(r.body, expect)
        # both spellings, quoted any way, are hidden
        text = self.dep.config_text().replace('"%s"' % self.dep.hash, "'%s'" % self.dep.hash)
        text += "remote-management-key: %s\n" % self.dep.hash
        self.dep.write_config(text)
        r = self.ok(self.req("GET", "/config.yaml"))
        self.assertNotIn(self.dep.hash.encode(), r.body)
        self.assertEqual(r.body.count(b'"' + PLACEHOLDER.encode() + b'"'), 2)

    def test_config_yaml_round_trip_is_byte_identical(self):
        before = self.config()
        r = self.ok(self.req("GET", "/config.yaml"))
        put = self.ok(self.req("PUT", "/config.yaml", body=r.body,
                               headers={"Content-Type": "application/yaml"}))
        self.assertEqual(put.json(), {"status": "ok", "kept": []})
        self.assertEqual(put.header("ETag"), etag_of(before))
        self.untouched(before, "(round trip)")
        self.assertEqual(self.history_ids(), [])   # nothing changed, nothing kept
        # an edit of the text: comments and layout of the body are written,
        # the placeholder never is
        edited = r.body.replace(b"debug: false", b"debug: true   # edited by hand") + \
            b"# a new last comment\n"
        put = self.ok(self.req("PUT", "/config.yaml", body=edited))
        self.assertEqual(put.json(), {"status": "ok", "kept": []})
        after = self.config()
        self.assertEqual(after, edited.replace(PLACEHOLDER.encode(), self.dep.hash.encode()))
        self.assertNotIn(PLACEHOLDER.encode(), after)
        self.assertEqual(put.header("ETag"), etag_of(after))
        self.assertEqual(self.req("GET", "/debug").json(), {"debug": True})
        # the key still works (it is the same hash)
        self.ok(self.req("GET", "/debug"))
        self.assertEqual(len(self.history_ids()), 1)
        self.assertEqual(self.audit(1)[0]["keys"], ["debug"])

    def test_config_yaml_protected_keys_are_kept(self):
        before = self.config().decode()
        body = before.replace("allow-remote: false", "allow-remote: true").replace(
            '"%s"' % self.dep.hash, '"attacker-key"').replace("request-retry: 3", "request-retry: 4")
        r = self.ok(self.req("PUT", "/config.yaml", body=body))
        self.assertEqual(r.json(), {"status": "ok", "kept": ["remote-management"]})
        after = self.config().decode()
        self.assertEqual(after, before.replace("request-retry: 3", "request-retry: 4"))
        self.error(self.req("GET", "/debug", key="attacker-key"), 401)
        # flat aliases in the body are taken out; a body without the key
        # gets the file's key back
        body = re.sub(r"(?s)remote-management:.*?auth-dir", "auth-dir", after)
        body += "allow-remote-management: true\nremote-management-key: other\n"
        r = self.ok(self.req("PUT", "/config.yaml", body=body))
        self.assertEqual(sorted(r.json()["kept"]), ["allow-remote-management", "remote-management",
                                                    "remote-management-key"])
        now = self.config().decode()
        self.assertNotIn("allow-remote-management", now)
        self.assertNotIn("remote-management-key", now)
        self.assertIn(self.dep.hash, now)
        self.ok(self.req("GET", "/debug"))
        j = self.req("GET", "/config").json()
        self.assertEqual(j["remote-management"], {"allow-remote": False})

    def test_config_yaml_errors_write_nothing(self):
        before = self.config()
        cases = [
            (b"port: [1\n", r"^line 2: "),
            (b"debug: true\nrequest-retry: 500\n", r"^line 2: request-retry: must be an integer"),
            (b"- a\n- b\n", r"^line 1: the top level must be a mapping"),
            (b"debug: true\ndebug: false\n", r"^line 2: .*duplicate"),
            (b"proxy-url: ftp://x\n", r"^line 1: proxy-url: "),
            (b"debug: \xff\n", r"UTF-8"),
            (b"debug: true\x00\n", r"NUL"),
        ]
        for body, pattern in cases:
            r = self.req("PUT", "/config.yaml", body=body)
            self.assertEqual(r.status, 400, "%r for %r" % (r, body))
            self.assertRegex(self.error(r, 400), pattern)
            self.untouched(before, repr(body))
        # 4 MiB is the cap: one byte more is 413; 4 MiB of valid YAML passes
        # the body cap, but with the management key put back the file would
        # pass the config cap: 400, nothing written
        big = b"debug: true\n" + b"#" * (4 * MIB - 13) + b"\n"
        self.assertEqual(len(big), 4 * MIB)
        r = self.req("PUT", "/config.yaml", body=big + b"\n")
        self.error(r, 413, "request body too large")
        self.untouched(before, "(4 MiB + 1)")
        self.error(self.req("PUT", "/config.yaml", body=big), 400,
                   "config would be larger than 4194304 bytes")
        self.untouched(before, "(4 MiB without the key)")
        big = big[:-1024] + b"\n"
        r = self.ok(self.req("PUT", "/config.yaml", body=big))
        self.assertEqual(r.json()["kept"], ["remote-management"])
        self.assertEqual(self.req("GET", "/debug").json(), {"debug": True})
        self.assertEqual(self.history_ids().__len__(), 1)
        self.assertEqual(self.audit(), self.audit(1))

    # -------------------------------------------------- ETag, If-None-Match

    def test_etag_on_every_config_get_and_304(self):
        e = etag_of(self.config())
        for p in ("/debug", "/proxy-url", "/quota-exceeded/switch-project", "/request-retry",
                  "/api-keys", "/generative-language-api-key", "/claude-api-key",
                  "/codex-api-key", "/openai-compatibility", "/config", "/config.yaml",
                  "/request-log", "/allow-localhost-unauthenticated",
                  "/quota-exceeded/switch-preview-model"):
            r = self.ok(self.req("GET", p))
            self.assertEqual(r.header("ETag"), e, p)
            for inm in (e, "W/" + e, '"x", ' + e, "*"):
                r = self.ok(self.req("GET", p, headers={"If-None-Match": inm}), 304)
                self.assertEqual(r.header("ETag"), e)
                self.assertEqual(r.body, b"")
            for inm in ('"x"', e[:-2] + '"', "garbage", e + " junk"):
                self.ok(self.req("GET", p, headers={"If-None-Match": inm}), 200)
        # a change makes a new tag, the old one stops matching
        r = self.ok(self.req("PUT", "/debug", body={"value": True}))
        self.assertEqual(r.header("ETag"), etag_of(self.config()))
        self.assertNotEqual(r.header("ETag"), e)
        self.ok(self.req("GET", "/debug", headers={"If-None-Match": e}), 200)
        # a no-op change answers the tag of the file it left alone
        r = self.ok(self.req("PUT", "/debug", body={"value": True}))
        self.assertEqual(r.header("ETag"), etag_of(self.config()))
        # the spec's endpoints without config data carry none
        self.assertIsNone(self.req("GET", "/auth-files").header("ETag"))

    # ------------------------------------------------------------ If-Match

    def test_if_match_on_every_change(self):
        changes = [
            ("PUT", "/debug", {"value": True}),
            ("PATCH", "/request-retry", {"value": 5}),
            ("PUT", "/proxy-url", {"value": "http://127.0.0.1:3128"}),
            ("DELETE", "/proxy-url", None),
            ("PUT", "/api-keys", ["k9"]),
            ("PATCH", "/api-keys", {"index": 0, "value": "k10"}),
            ("DELETE", "/api-keys?index=0", None),
            ("PUT", "/claude-api-key", [{"api-key": "c1"}]),
            ("PUT", "/config.yaml", None),
        ]
        stale = etag_of(b"something else")
        for method, path, body in changes:
            before = self.config()
            n, audit = len(self.history_ids()), self.audit()
            if path == "/config.yaml":
                body = before + b"# appended by a whole-file write\n"
            for im in (stale, "W/" + etag_of(before), "not-a-tag", '"' + sha(before) + '" x'):
                r = self.req(method, path, body=body, headers={"If-Match": im})
                self.error(r, 412, "config changed since it was read")
                self.untouched(before, "%s %s If-Match %s" % (method, path, im))
            # a refused change leaves no history and no audit line either
            self.assertEqual(len(self.history_ids()), n)
            self.assertEqual(self.audit(), audit)
            r = self.ok(self.req(method, path, body=body,
                                 headers={"If-Match": '"nope", ' + etag_of(before)}))
            self.assertEqual(r.header("ETag"), etag_of(self.config()), path)
            self.assertTrue(self.config() != before, "%s %s changed nothing" % (method, path))
            self.assertEqual(len(self.history_ids()), n + 1, path)
        # "*": any current file
        self.ok(self.req("PUT", "/debug", body={"value": False}, headers={"If-Match": "*"}))
        # a refused change (404 inside the transaction) writes no history
        n = len(self.history_ids())
        self.error(self.req("DELETE", "/api-keys?value=nothing",
                            headers={"If-Match": etag_of(self.config())}), 404)
        self.assertEqual(len(self.history_ids()), n)

    # -------------------------------------------------------- auth files

    def test_auth_files_etag_and_if_match(self):
        data = b'{"type":"claude","refresh_token":"rt-secret-123"}'
        r = self.ok(self.req("POST", "/auth-files?name=a.json", body=data))
        self.assertEqual(r.header("ETag"), etag_of(data))
        r = self.ok(self.req("GET", "/auth-files/download?name=a.json"))
        self.assertEqual(r.body, data)
        self.assertEqual(r.header("ETag"), etag_of(data))
        r = self.ok(self.req("GET", "/auth-files/download?name=a.json",
                             headers={"If-None-Match": etag_of(data)}), 304)
        self.assertEqual(r.body, b"")
        path = os.path.join(self.dep.auth_dir, "a.json")
        new = b'{"type":"claude","refresh_token":"rt-secret-456"}'
        for im in (etag_of(b"{}"), "W/" + etag_of(data), "junk"):
            self.error(self.req("POST", "/auth-files?name=a.json", body=new,
                                headers={"If-Match": im}), 412, "file changed since it was read")
            self.error(self.req("DELETE", "/auth-files?name=a.json", headers={"If-Match": im}),
                       412, "file changed since it was read")
            self.assertEqual(harness.read_file(path), data)
        # If-Match on a file that does not exist fails, "*" included
        self.error(self.req("POST", "/auth-files?name=b.json", body=new,
                            headers={"If-Match": "*"}), 412)
        self.assertFalse(os.path.exists(os.path.join(self.dep.auth_dir, "b.json")))
        ct, mp = harness.multipart([("file", "a.json", new)])
        self.error(self.req("POST", "/auth-files", body=mp,
                            headers={"Content-Type": ct, "If-Match": etag_of(b"x")}), 412)
        r = self.ok(self.req("POST", "/auth-files", body=mp,
                             headers={"Content-Type": ct, "If-Match": etag_of(data)}))
        self.assertEqual(r.header("ETag"), etag_of(new))
        self.assertEqual(harness.read_file(path), new)
        self.ok(self.req("DELETE", "/auth-files?name=a.json", headers={"If-Match": etag_of(new)}))
        self.assertFalse(os.path.exists(path))
        # audited by name, never by content
        entries = self.audit(3)
        self.assertEqual([e.get("files") for e in entries], [["a.json"]] * 3)
        log = harness.read_file(os.path.join(self.state, "audit.log"))
        self.assertNotIn(b"rt-secret", log)

    # ------------------------------------------------------------- /audit

    def test_audit_lines_and_limit(self):
        self.assertEqual(self.audit(), [])
        secret = "sk-very-secret-claude-key-0001"
        steps = [("PUT", "/debug", {"value": True}, ["debug"]),
                 ("PUT", "/claude-api-key", [{"api-key": secret}], ["claude-api-key"]),
                 ("DELETE", "/api-keys?value=key-one", None, ["api-keys"]),
                 ("PATCH", "/quota-exceeded/switch-project", {"value": False},
                  ["quota-exceeded.switch-project"])]
        shas = [sha(self.config())]
        for method, path, body, _ in steps:
            self.ok(self.req(method, path, body=body))
            shas.append(sha(self.config()))
        entries = self.audit()
        self.assertEqual(len(entries), len(steps))
        for i, e in enumerate(reversed(entries)):       # newest first
            method, path, _, keys = steps[i]
            self.assertEqual(e["method"], method)
            self.assertEqual(e["path"], path.split("?")[0])  # never the query
            self.assertEqual(e["keys"], keys)
            self.assertEqual(e["client"], "127.0.0.1")
            self.assertEqual(e["sha256-before"], shas[i])
            self.assertEqual(e["sha256-after"], shas[i + 1])
            self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(self.audit(2), entries[:2])
        for bad in ("0", "-1", "abc", "10001", "", "1.5", "01"):
            self.error(self.req("GET", "/audit?limit=" + bad), 400,
                       "limit must be an integer 1..10000")
        log = harness.read_file(os.path.join(self.state, "audit.log"))
        for s in [secret, "key-one"] + self.secret_values():
            self.assertNotIn(s.encode(), log)
        self.assertEqual(len(log.splitlines()), len(steps))

    def test_audit_rotation(self):
        log = os.path.join(self.state, "audit.log")
        # a log at the 10 MiB mark and four older ones: the next change
        # rotates, the oldest goes, five files stay
        for i in range(1, 5):
            harness.write_file("%s.%d" % (log, i), b'{"old":%d}\n' % i, mode=0o640)
        with open(log, "wb") as f:
            f.write(b'{"filler":true}\n' * (10 * MIB // 16 + 1))
        harness.give(self.state)
        size = os.path.getsize(log)
        self.assertGreaterEqual(size, 10 * MIB)
        self.ok(self.req("PUT", "/debug", body={"value": True}))
        self.assertEqual(os.path.getsize(log + ".1"), size)
        self.assertEqual(harness.read_file(log + ".4"), b'{"old":3}\n')
        self.assertFalse(os.path.exists(log + ".5"))
        self.assertEqual(len(harness.read_file(log).splitlines()), 1)
        # GET /audit reads across the files, newest first
        entries = self.audit(3)
        self.assertEqual(entries[0]["keys"], ["debug"])
        self.assertEqual(entries[1:], [{"filler": True}] * 2)

    # ----------------------------------------------------------- history

    def test_history_list_and_restore(self):
        original = self.config()
        self.ok(self.req("PUT", "/debug", body={"value": True}))
        second = self.config()
        self.ok(self.req("PUT", "/api-keys", body=["only"]))
        self.ok(self.req("PUT", "/request-retry", body={"value": 9}))
        r = self.ok(self.req("GET", "/config/history"))
        h = r.json()["history"]
        self.assertEqual(len(h), 3)
        self.assertEqual([x["change"]["keys"] for x in h], [["request-retry"], ["api-keys"],
                                                           ["debug"]])
        self.assertEqual(h[-1]["sha256"], sha(original))
        self.assertEqual(h[-1]["size"], len(original))
        self.assertEqual(h[-2]["sha256"], sha(second))
        for x in h:
            self.assertEqual(sorted(x), ["change", "id", "sha256", "size", "time"])
            self.assertRegex(x["id"], r"^[0-9]{15}-[0-9a-f]{8}$")
        for s in self.secret_values():
            self.assertNotIn(s.encode(), r.body)
        # files: 0600 in a 0700 directory
        self.assertEqual(stat.S_IMODE(os.stat(self.history).st_mode), 0o700)
        for n in os.listdir(self.history):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.history, n)).st_mode), 0o600)
        oldest = h[-1]["id"]
        # If-Match is honoured
        before = self.config()
        self.error(self.req("POST", "/config/history/%s/restore" % oldest,
                            headers={"If-Match": etag_of(b"old")}), 412,
                   "config changed since it was read")
        self.untouched(before)
        r = self.ok(self.req("POST", "/config/history/%s/restore" % oldest,
                             headers={"If-Match": etag_of(before)}))
        self.assertEqual(r.json(), {"status": "ok", "kept": []})
        self.assertEqual(self.config(), original)
        self.assertEqual(r.header("ETag"), etag_of(original))
        # the restore is a change: audited, kept in history
        e = self.audit(1)[0]
        self.assertEqual(e["restored"], oldest)
        self.assertEqual(e["method"], "POST")
        self.assertEqual(sorted(e["keys"]), ["api-keys", "debug", "request-retry"])
        h2 = self.ok(self.req("GET", "/config/history")).json()["history"]
        self.assertEqual(len(h2), 4)
        self.assertEqual(h2[0]["sha256"], sha(before))
        self.assertEqual(h2[0]["change"]["restored"], oldest)
        # undo the undo
        self.ok(self.req("POST", "/config/history/%s/restore" % h2[0]["id"]))
        self.assertEqual(self.config(), before)
        # bad and unknown ids
        before = self.config()
        for bad in ("x", "1-2", "000000000000001-ABCDEF12", "000000000000001-abcdef1",
                    "%2e%2e", "..%2fx"):
            r = self.req("POST", "/config/history/%s/restore" % bad)
            self.assertIn(r.status, (400, 404), "%s: %r" % (bad, r))
        self.error(self.req("POST", "/config/history/000000000000001-abcdef12/restore"), 404,
                   "version not found")
        self.error(self.req("GET", "/config/history/%s/restore" % oldest), 405)
        self.untouched(before)

    def test_history_restore_keeps_protected_keys(self):
        self.ok(self.req("PUT", "/debug", body={"value": True}))
        old = self.history_ids()[0]
        # the admin turns remote management on by hand
        self.dep.write_config(self.dep.config_text(allow_remote=True))
        r = self.ok(self.req("POST", "/config/history/%s/restore" % old))
        self.assertEqual(r.json(), {"status": "ok", "kept": ["remote-management"]})
        self.assertIn(b"allow-remote: true", self.config())
        self.assertEqual(self.req("GET", "/debug").json(), {"debug": False})

    def test_change_that_cannot_be_recorded_is_not_made(self):
        before = self.config()
        # no history directory possible: a file is in the way
        harness.write_file(self.history, b"in the way")
        r = self.req("PUT", "/debug", body={"value": True})
        self.assertRegex(self.error(r, 500), r"^failed to save config: cannot keep the previous "
                         r"version: ")
        self.untouched(before, "(history impossible)")
        self.assertEqual(self.audit(), [])
        os.unlink(self.history)
        # a symlink in its place is not followed: nothing lands outside
        outside = os.path.join(self.dep.outside, "hist")
        os.mkdir(outside)
        harness.give(outside)
        os.symlink(outside, self.history)
        r = self.req("PUT", "/debug", body={"value": True})
        self.assertRegex(self.error(r, 500), r"^failed to save config: cannot keep the previous "
                         r"version: ")
        self.untouched(before, "(history is a symlink)")
        self.assertEqual(os.listdir(outside), [])
        os.unlink(self.history)
        # an audit log that is a symlink is not followed either
        target = os.path.join(self.dep.outside, "audit-target")
        harness.write_file(target, b"")
        log = os.path.join(self.state, "audit.log")
        self.assertEqual(harness.read_file(log), b"")   # opened, never written
        os.unlink(log)
        os.symlink(target, log)
        r = self.req("PUT", "/debug", body={"value": True})
        self.assertRegex(self.error(r, 500), r"^failed to save config: cannot write the audit "
                         r"log: ")
        self.untouched(before, "(audit.log is a symlink)")
        self.assertEqual(harness.read_file(target), b"")
        os.unlink(os.path.join(self.state, "audit.log"))
        # no audit log possible
        shutil.rmtree(self.state)
        harness.write_file(self.state, b"in the way")
        r = self.req("PUT", "/debug", body={"value": True})
        self.assertRegex(self.error(r, 500), r"^failed to save config: cannot write the audit "
                         r"log: ")
        self.untouched(before, "(audit impossible)")
        self.assertFalse(os.path.exists(self.history) and os.listdir(self.history))
        os.unlink(self.state)
        # the state dir is made when missing
        self.ok(self.req("PUT", "/debug", body={"value": True}))
        self.assertEqual(len(self.audit()), 1)

    def test_history_keeps_twenty(self):
        for i in range(25):
            self.ok(self.req("PUT", "/request-retry", body={"value": i + 10}))
        ids = self.history_ids()
        self.assertEqual(len(ids), 20)
        self.assertEqual(ids, sorted(ids, reverse=True))
        self.assertEqual(len(os.listdir(self.history)), 20)

    # ------------------------------------------------------------ /status

    def test_status_without_daemon(self):
        st = self.ok(self.req("GET", "/status")).json()
        self.assertEqual(st["config-sha256"], sha(self.config()))
        self.assertFalse(st["in-sync"])
        self.assertFalse(st["daemon"]["running"])
        self.assertEqual(st["daemon"]["reason"], "no status file")
        self.assertRegex(st["version"], r"^[0-9]+\.[0-9]+")
        self.assertEqual(st["state-dir"], self.state)
        # a status file left by a daemon that is gone
        harness.write_file(os.path.join(self.state, "cliproxyd.status"), json.dumps(
            {"pid": 2 ** 22 + 12345, "config-sha256": sha(self.config())}))
        st = self.ok(self.req("GET", "/status")).json()
        self.assertFalse(st["daemon"]["running"])
        self.assertFalse(st["in-sync"])
        self.assertEqual(st["daemon"]["pid"], 2 ** 22 + 12345)

    def test_status_follows_the_daemon(self):
        self.start_daemon()
        st = self.wait_in_sync()
        self.assertTrue(st["daemon"]["running"])
        self.assertEqual(st["daemon"]["pid"], self.daemon.pid)
        self.assertEqual(st["daemon"]["config-sha256"], sha(self.config()))
        for k in ("started", "loaded-at", "credentials", "requests", "last-error"):
            self.assertIn(k, st["daemon"])
        # a change: out of sync until the daemon has reloaded
        self.ok(self.req("PUT", "/api-keys", body=["new-client-key"]))
        st = self.wait_in_sync()
        self.assertEqual(st["config-sha256"], sha(self.config()))
        # a whole-file write and a restore are picked up the same way
        text = self.ok(self.req("GET", "/config.yaml")).body.replace(b"debug: false",
                                                                     b"debug: true")
        self.ok(self.req("PUT", "/config.yaml", body=text))
        self.assertEqual(self.wait_in_sync()["config-sha256"], sha(self.config()))
        self.ok(self.req("POST", "/config/history/%s/restore" % self.history_ids()[-1]))
        self.assertEqual(self.wait_in_sync()["config-sha256"], sha(self.config()))
        harness.stop(self.daemon)
        self.daemon = None
        st = self.ok(self.req("GET", "/status")).json()
        self.assertFalse(st["daemon"]["running"])
        self.assertFalse(st["in-sync"])

    def test_status_dead_unreaped_daemon_is_not_running(self):
        # A daemon killed and not yet reaped by its parent is a zombie:
        # its pid still exists, but it serves nothing.
        self.start_daemon()
        self.wait_in_sync()
        pid = self.daemon.pid
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 10
        while time.time() < deadline:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            time.sleep(0.02)
        st = self.ok(self.req("GET", "/status")).json()
        self.assertEqual(st["daemon"]["pid"], pid)
        self.assertFalse(st["daemon"]["running"])
        self.assertFalse(st["in-sync"])
        self.daemon.wait()
        self.daemon = None

    # ------------------------------------------------------ request logs

    def test_request_logs(self):
        d = os.path.join(self.state, "requests")
        os.mkdir(d)
        harness.give(d)   # the daemon's group shares it with the responder
        a = "20261130T080000Z-00000001-4242.log"
        b = "20261130T080001Z-00000002-4242.log"
        c = "20261130T080002Z-00000003-4242.log"
        files = {
            a: b"=== request x ===\nPOST /v1/chat/completions\n\n=== response (status 200) ===\n{}",
            b: b"=== request x ===\nPOST /v1/chat/completions\n\n=== error 503 ===\nno upstream\n",
            c: b"=== request x ===\n" + b"x" * 200000 + b"\n=== response (status 429) ===\n",
        }
        for n, data in files.items():
            harness.write_file(os.path.join(d, n), data, mode=0o600)
        outside = os.path.join(self.dep.outside, "secret.log")
        harness.write_file(outside, b"outside", mode=0o644)
        os.symlink(outside, os.path.join(d, "20261130T090000Z-00000009-1.log"))
        os.mkdir(os.path.join(d, "dir.log"))
        harness.write_file(os.path.join(d, ".hidden.log"), b"x")
        harness.write_file(os.path.join(d, "notes.txt"), b"x")
        r = self.ok(self.req("GET", "/request-logs"))
        got = r.json()["files"]
        self.assertEqual([f["name"] for f in got], [c, b, a])       # newest first
        self.assertEqual([f["status"] for f in got], [429, 503, 200])
        self.assertEqual([f["size"] for f in got], [len(files[c]), len(files[b]), len(files[a])])
        for f in got:
            self.assertRegex(f["modtime"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        r = self.ok(self.req("GET", "/request-logs/" + a))
        self.assertEqual(r.body, files[a])
        self.assertTrue(r.header("Content-Type").startswith("text/plain"))
        for bad in ("notes.txt", ".hidden.log", "a%20b.log", "x.json", "%2e%2e.log"):
            self.error(self.req("GET", "/request-logs/" + bad), 400, "invalid name")
        self.error(self.req("GET", "/request-logs/20261130T090000Z-00000009-1.log"), 404,
                   "file not found")
        self.error(self.req("GET", "/request-logs/dir.log"), 404, "file not found")
        self.error(self.req("GET", "/request-logs/missing.log"), 404, "file not found")
        self.error(self.req("PUT", "/request-logs"), 405)
        r = self.ok(self.req("DELETE", "/request-logs"))
        self.assertEqual(r.json(), {"status": "ok", "deleted": 3})
        self.assertEqual(sorted(os.listdir(d)), sorted([".hidden.log", "notes.txt", "dir.log",
                                                        "20261130T090000Z-00000009-1.log"]))
        self.assertEqual(harness.read_file(outside), b"outside")
        self.assertEqual(self.ok(self.req("GET", "/request-logs")).json(), {"files": []})
        self.assertEqual(self.audit(1)[0]["files-deleted"], 3)
        # no directory yet: an empty list
        shutil.rmtree(d)
        self.assertEqual(self.ok(self.req("GET", "/request-logs")).json(), {"files": []})
        self.assertEqual(self.ok(self.req("DELETE", "/request-logs")).json(),
                         {"status": "ok", "deleted": 0})

    # --------------------------------------------------------------- CORS

    def test_cors_allows_conditional_headers(self):
        r = self.req("OPTIONS", "/config.yaml", key=None)
        self.assertEqual(r.status, 204)
        allow = [h.strip() for h in r.header("Access-Control-Allow-Headers").split(",")]
        for h in ("If-Match", "If-None-Match", "Authorization", "Content-Type"):
            self.assertIn(h, allow)
        self.assertEqual(r.header("Access-Control-Expose-Headers"), "ETag")
        r = self.req("OPTIONS", "/config/history/000000000000001-abcdef12/restore", key=None)
        self.assertEqual(r.status, 204)
        self.assertEqual(self.req("GET", "/nope").header("Access-Control-Expose-Headers"), "ETag")


class RaceSuite:
    """Two clients read-modify-write the same list with If-Match through
    several responder processes: exactly one wins each round, the other
    gets 412, nothing is lost (mixed into the Apache case)."""

    ROUNDS = 12

    def test_if_match_race_one_winner(self):
        self.ok(self.req("PUT", "/api-keys", body=[]))
        winners = []
        for rnd in range(self.ROUNDS):
            r = self.ok(self.req("GET", "/api-keys"))
            tag, keys = r.header("ETag"), r.json()["api-keys"]
            barrier = threading.Barrier(2)
            results = [None, None]

            def client(i):
                barrier.wait()
                results[i] = self.req("PUT", "/api-keys", body=keys + ["r%d-c%d" % (rnd, i)],
                                      headers={"If-Match": tag})

            ts = [threading.Thread(target=client, args=(i,)) for i in range(2)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
            statuses = sorted(r.status for r in results)
            self.assertEqual(statuses, [200, 412], "round %d: %r" % (rnd, results))
            loser = [r for r in results if r.status == 412][0]
            self.assertEqual(loser.json(), {"error": "config changed since it was read"})
            win = [i for i, r in enumerate(results) if r.status == 200][0]
            winners.append("r%d-c%d" % (rnd, win))
            # the winner's answer names the file as it is now
            self.assertEqual(results[win].header("ETag"), etag_of(self.config()))
        # nothing lost: every winner's item is there, in order
        self.assertEqual(self.ok(self.req("GET", "/api-keys")).json()["api-keys"], winners)
        self.assertEqual(len(self.history_ids()), min(20, self.ROUNDS + 1))
