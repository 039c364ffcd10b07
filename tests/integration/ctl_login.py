#!/usr/bin/env python3
"""ctl_login.py - `cliproxyctl login` for every kind against the OAuth mock
(tests/mock/oauth_mock.py) on loopback (PROVIDERS.md 3, 4; DESIGN 4):
the loopback listener (the test plays the browser: it GETs the authorize
URL and follows the redirect to the listener) and the --no-browser paste,
qwen's device flow with authorization_pending / slow_down / expired_token /
access_denied, Gemini's project discovery with onboarding, token endpoint
failures (invalid_grant, 500, junk), a stray request to the listener, and
the secrets rule: no token the mock issued appears in any output."""
import http.client
import json
import os
import stat
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "mock"))
import harness  # noqa: E402
import oauth_mock  # noqa: E402
import tap  # noqa: E402


def get(url, headers=None):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        c.request("GET", u.path + ("?" + u.query if u.query else ""), headers=headers or {})
        r = c.getresponse()
        return r.status, r.getheader("Location"), r.read()
    finally:
        c.close()


class Run:
    """cliproxyctl login in the background; stdout read line by line."""

    def __init__(self, test, args, stdin=False):
        self.test = test
        env = dict(os.environ)
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        self.p = subprocess.Popen([test.ctl, "login"] + args + ["-c", test.config],
                                  stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        self.lines = []
        self.err = b""
        self._t = threading.Thread(target=self._read, daemon=True)
        self._t.start()
        self._e = threading.Thread(target=self._read_err, daemon=True)
        self._e.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.decode().rstrip("\n"))

    def _read_err(self):
        self.err = self.p.stderr.read()

    def url(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if line.startswith("http://"):
                    return line
            if self.p.poll() is not None and not self.lines:
                break
            time.sleep(0.02)
        self.test.fail("no URL printed: %r %r" % (self.lines, self.err[-500:]))

    def paste(self, text):
        self.p.stdin.write(text.encode() + b"\n")
        self.p.stdin.flush()

    def wait(self, timeout=60):
        rc = self.p.wait(timeout)
        self._t.join(5)
        self._e.join(5)
        out = "\n".join(self.lines)
        self.test.outputs.append(out.encode() + b"\n" + self.err)
        return rc, out, self.err.decode("utf-8", "replace")


class CtlLogin(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ctl = harness.build_path("src/ctl/cliproxyctl")
        cls.mock = oauth_mock.OAuthMock().start()
        cls.dir = harness.tempdir("cliproxy-ctl-")
        cls.auth = os.path.join(cls.dir, "auth")
        cls.config = os.path.join(cls.dir, "config.yaml")
        with open(cls.config, "w") as f:
            f.write('auth-dir: "%s"\n' % cls.auth + cls.mock.endpoints_yaml())
        cls.outputs = []

    @classmethod
    def tearDownClass(cls):
        cls.mock.stop()

    def setUp(self):
        self.mock.reset()
        self.mock.project = None
        self.mock.device_script = []
        self.mock.device_pending = 2
        if os.path.isdir(self.auth):
            for n in os.listdir(self.auth):
                os.unlink(os.path.join(self.auth, n))

    def saved(self, out):
        line = [ln for ln in out.splitlines() if ln.startswith("saved ")]
        self.assertEqual(len(line), 1, out)
        path = line[0][6:]
        self.assertEqual(os.path.dirname(path), self.auth)
        st = os.stat(path)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(path) as f:
            return os.path.basename(path), json.load(f)

    def browser(self, run):
        """Play the browser: authorize, then follow the redirect."""
        status, loc, body = get(run.url())
        self.assertEqual(status, 302, body)
        status, _, body = get(loc)
        self.assertEqual(status, 200, body)
        self.assertIn(b"Login complete", body)
        return loc

    def account(self):
        return self.mock.accounts[-1]

    def test_claude_loopback_listener(self):
        port = harness.free_port()
        run = Run(self, ["claude", "--callback-port", str(port)])
        url = run.url()
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
        self.assertEqual(q["redirect_uri"], ["http://localhost:%d/callback" % port])
        self.assertEqual(q["code_challenge_method"], ["S256"])
        # a stray request without our state is ignored, not fatal
        status, _, _ = get("http://127.0.0.1:%d/callback?code=evil&state=wrong" % port)
        self.assertEqual(status, 400)
        status, _, _ = get("http://127.0.0.1:%d/other" % port)
        self.assertEqual(status, 404)
        self.browser(run)
        rc, out, err = run.wait()
        self.assertEqual(rc, 0, err)
        name, doc = self.saved(out)
        a = self.account()
        self.assertEqual(name, "claude-%s.json" % a["email"])
        self.assertEqual(doc["type"], "claude")
        self.assertEqual(doc["email"], a["email"])
        self.assertEqual(doc["access_token"], a["access_token"])
        self.assertTrue(doc["refresh_token"].startswith("rt-claude-"))
        self.assertEqual(doc["id_token"], "")
        for k in ("expired", "last_refresh"):
            self.assertRegex(doc[k], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
        # the exchange was JSON, as Anthropic takes it
        tok = self.mock.requests("/claude/token")[-1]
        self.assertEqual(tok["ctype"], "application/json")

    def test_codex_no_browser_paste(self):
        run = Run(self, ["codex", "--no-browser"], stdin=True)
        status, loc, body = get(run.url())
        self.assertEqual(status, 302, body)
        self.assertTrue(loc.startswith("http://localhost:1455/auth/callback?"), loc)
        run.paste(loc)
        rc, out, err = run.wait()
        self.assertEqual(rc, 0, err)
        name, doc = self.saved(out)
        a = self.account()
        self.assertEqual(name, "codex-%s.json" % a["email"])
        self.assertEqual(doc["account_id"], a["account_id"])
        self.assertEqual(doc["email"], a["email"])
        self.assertEqual(doc["id_token"].count("."), 2)
        self.assertEqual(self.mock.requests("/codex/token")[-1]["ctype"],
                         "application/x-www-form-urlencoded")

    def test_claude_paste_code_hash_state(self):
        run = Run(self, ["claude", "--no-browser"], stdin=True)
        status, loc, _ = get(run.url())
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query)
        run.paste("%s#%s" % (q["code"][0], q["state"][0]))
        rc, out, err = run.wait()
        self.assertEqual(rc, 0, err)
        self.saved(out)

    def test_paste_of_another_login_is_refused(self):
        run = Run(self, ["codex", "--no-browser"], stdin=True)
        status, loc, _ = get(run.url())
        run.paste(loc.replace("state=", "state=x"))
        rc, out, err = run.wait()
        self.assertEqual(rc, 1)
        self.assertIn("state differs", err)
        self.assertEqual(os.listdir(self.auth) if os.path.isdir(self.auth) else [], [])

    def test_gemini_onboarding(self):
        port = harness.free_port()
        self.mock.onboard_polls = 2
        run = Run(self, ["gemini", "--callback-port", str(port)])
        self.browser(run)
        rc, out, err = run.wait(90)
        self.assertEqual(rc, 0, err)
        name, doc = self.saved(out)
        a = self.account()
        self.assertEqual(name, "%s-onboarded-proj-1.json" % a["email"])
        self.assertEqual(doc["project_id"], "onboarded-proj-1")
        self.assertEqual(doc["token"]["access_token"], a["access_token"])
        self.assertTrue(doc["token"]["refresh_token"].startswith("rt-gemini-"))
        self.assertRegex(doc["token"]["expiry"], r"\.\d+(Z|[+-]\d\d:\d\d)$")
        self.assertEqual(doc["email"], a["email"])
        calls = self.mock.onboard_calls
        self.assertEqual(len(calls), 2)
        # PROVIDERS 3: polled every 5 s
        self.assertGreaterEqual(calls[1] - calls[0], 4.8)

    def test_gemini_existing_project(self):
        port = harness.free_port()
        self.mock.project = "my-proj-7"
        run = Run(self, ["gemini", "--callback-port", str(port)])
        self.browser(run)
        rc, out, err = run.wait()
        self.assertEqual(rc, 0, err)
        name, doc = self.saved(out)
        self.assertEqual(doc["project_id"], "my-proj-7")
        self.assertEqual(self.mock.onboard_calls, [])

    def test_qwen_device_flow(self):
        self.mock.device_script = ["pending", "slow_down", "pending", "ok"]
        run = Run(self, ["qwen", "--alias", "team a"])
        url = run.url()
        self.assertIn("/qwen/verify?user_code=", url)
        rc, out, err = run.wait(60)
        self.assertEqual(rc, 0, err)
        name, doc = self.saved(out)
        self.assertEqual(name, "qwen-team_a.json")
        self.assertEqual(doc["email"], "team a")
        self.assertEqual(doc["resource_url"], "portal.qwen.example")
        gaps = self.mock.device_gaps[-1]
        self.assertEqual(len(gaps), 3)
        # interval 1 s; after slow_down x1.5
        self.assertGreaterEqual(gaps[0], 0.9)
        self.assertGreaterEqual(gaps[1], 0.9)
        self.assertGreaterEqual(gaps[2], 1.4)

    def test_qwen_device_refusals(self):
        for step in ("expired_token", "access_denied"):
            self.mock.device_script = ["pending", step]
            run = Run(self, ["qwen"])
            rc, out, err = run.wait(60)
            self.assertEqual(rc, 1, out)
            self.assertIn(step, err)
        self.assertEqual(os.listdir(self.auth) if os.path.isdir(self.auth) else [], [])

    def test_token_endpoint_failures(self):
        for mode, needle in (("invalid_grant", "invalid_grant"), ("500", "HTTP 500"),
                             ("junk", "without a JSON object")):
            self.mock.fail_next("codex", mode)
            run = Run(self, ["codex", "--no-browser"], stdin=True)
            status, loc, _ = get(run.url())
            run.paste(loc)
            rc, out, err = run.wait()
            self.assertEqual(rc, 1, out)
            self.assertIn(needle, err)
            self.assertNotIn("saved", out)
        self.assertEqual(os.listdir(self.auth) if os.path.isdir(self.auth) else [], [])

    def test_token_endpoint_hangs(self):
        # the client's deadline (HTTPC_TIMEOUT_MS, 30 s) ends the wait
        self.mock.hang_seconds = 45
        self.mock.fail_next("claude", "hang")
        run = Run(self, ["claude", "--no-browser"], stdin=True)
        status, loc, _ = get(run.url())
        t0 = time.monotonic()
        run.paste(loc)
        rc, out, err = run.wait(60)
        took = time.monotonic() - t0
        self.assertEqual(rc, 1, out)
        self.assertIn("timed out", err.lower())
        self.assertTrue(25 < took < 40, took)
        self.assertEqual(os.listdir(self.auth) if os.path.isdir(self.auth) else [], [])

    def test_usage_errors(self):
        r = subprocess.run([self.ctl, "login", "openai", "-c", self.config],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([self.ctl, "login", "claude", "--callback-port", "0x50"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 2)
        r = subprocess.run([self.ctl, "check-config", "-c", self.config],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([self.ctl, "hash-key"], input=b"k3y\n",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout.decode(), r"^\$2b\$10\$")

    def test_status(self):
        sd = os.path.join(self.dir, "state")
        os.makedirs(sd, exist_ok=True)
        st = os.path.join(sd, "cliproxyd.status")
        cmd = [self.ctl, "status", "-c", self.config, "--state-dir", sd]
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 1)
        self.assertIn(b"is cliproxyd running", r.stderr)
        with open(st, "w") as f:
            json.dump({"pid": os.getpid(), "started": "x", "credentials": []}, f)
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["pid"], os.getpid())
        dead = subprocess.Popen(["true"])
        dead.wait()
        with open(st, "w") as f:
            json.dump({"pid": dead.pid}, f)
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 3)
        with open(st, "w") as f:
            f.write("{junk")
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(r.returncode, 1)
        # the default: .cliproxyd beside the config (cliproxyd's development rule)
        os.makedirs(os.path.join(self.dir, ".cliproxyd"), exist_ok=True)
        with open(os.path.join(self.dir, ".cliproxyd", "cliproxyd.status"), "w") as f:
            json.dump({"pid": os.getpid()}, f)
        if not os.access("/var/lib/cliproxy/cliproxyd.status", os.R_OK):
            r = subprocess.run([self.ctl, "status", "-c", self.config],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_zz_no_token_in_any_output(self):
        # runs last (alphabetical): every output of this class so far
        self.assertGreater(len(self.mock.issued), 5)
        for out in self.outputs:
            for t in self.mock.issued:
                self.assertNotIn(t.encode(), out, "a token reached cliproxyctl's output")


if __name__ == "__main__":
    tap.main()
