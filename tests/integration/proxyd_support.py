"""proxyd_support.py - small helpers for the cliproxyd integration tests:
a YAML writer, a daemon runner (temp config, auth-dir and state dir, port
chosen at run time, clean stop with SIGTERM), and an HTTP client.

Standard library only; loopback only.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get("CLIPROXY_SRCDIR", os.path.dirname(os.path.dirname(HERE)))
BUILDDIR = os.environ.get("CLIPROXY_BUILDDIR", SRCDIR)
sys.path.insert(0, os.path.join(SRCDIR, "tests", "mock"))
import openai_mock  # noqa: E402


def daemon_path():
    p = os.path.join(BUILDDIR, "src", "proxyd", "cliproxyd")
    if not os.access(p, os.X_OK):
        raise RuntimeError("cliproxyd not built at %s (run make first)" % p)
    return p


def _scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))  # a double-quoted YAML scalar


def to_yaml(obj, indent=0):
    """Block-style YAML for dicts/lists of scalars and dicts."""
    pad = " " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                out.append("%s%s:" % (pad, k))
                out.append(to_yaml(v, indent + 2))
            elif isinstance(v, list) and v:
                out.append("%s%s:" % (pad, k))
                out.append(to_yaml(v, indent + 2))
            elif isinstance(v, (list, dict)):
                out.append("%s%s: %s" % (pad, k, "[]" if isinstance(v, list) else "{}"))
            else:
                out.append("%s%s: %s" % (pad, k, _scalar(v)))
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict):
                sub = to_yaml(item, indent + 2).split("\n")
                sub[0] = pad + "- " + sub[0].lstrip()
                out.append("\n".join(sub))
            else:
                out.append("%s- %s" % (pad, _scalar(item)))
    return "\n".join(x for x in out if x != "")


def compat(name, base_url, keys, models):
    """One openai-compatibility entry; models: list of (name, alias)."""
    return {"name": name, "base-url": base_url, "api-keys": list(keys),
            "models": [{"name": n, "alias": a} if a else {"name": n} for n, a in models]}


class Daemon:
    """cliproxyd in a temp dir. cfg is a dict written as YAML."""

    def __init__(self, cfg, listen="127.0.0.1:0", env=None):
        self.dir = tempfile.mkdtemp(prefix="pxd-")
        self.cfgdir = os.path.join(self.dir, "etc")
        self.auth = os.path.join(self.dir, "auth")
        self.state = os.path.join(self.dir, "state")
        for d in (self.cfgdir, self.auth, self.state):
            os.mkdir(d)
        self.config = os.path.join(self.cfgdir, "config.yaml")
        self.log = os.path.join(self.dir, "cliproxyd.log")
        self.listen = listen
        self.env = env
        self.proc = None
        self.port = None
        cfg = dict(cfg)
        cfg.setdefault("auth-dir", self.auth)
        self.write_config(cfg)

    # --- files -----------------------------------------------------------
    def config_text(self, cfg):
        cfg = dict(cfg)
        cfg.setdefault("auth-dir", self.auth)
        return to_yaml(cfg) + "\n"

    def write_config(self, cfg, how="rename"):
        """how: rename (temp + os.replace, as the responder does), inplace
        (truncate + write), or raw text when cfg is a str."""
        text = cfg if isinstance(cfg, str) else self.config_text(cfg)
        if how == "rename":
            tmp = os.path.join(self.cfgdir, ".config.yaml.tmp%d" % os.getpid())
            with open(tmp, "w") as f:
                f.write(text)
            os.replace(tmp, self.config)
        else:
            with open(self.config, "w") as f:
                f.write(text)

    def status(self):
        try:
            with open(os.path.join(self.state, "cliproxyd.status")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    # --- process ---------------------------------------------------------
    def start(self, extra=None, expect_fail=False):
        args = [daemon_path(), "-c", self.config, "--listen", self.listen,
                "--state-dir", self.state, "--log", "stderr"] + (extra or [])
        env = dict(os.environ)
        env.pop("http_proxy", None)
        env.pop("HTTP_PROXY", None)
        env.pop("https_proxy", None)
        env.pop("all_proxy", None)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        if self.env:
            env.update(self.env)
        self.logf = open(self.log, "ab")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=self.logf, env=env)
        if expect_fail:
            return self.proc.wait(timeout=20)
        deadline = time.time() + 20
        while time.time() < deadline:
            st = self.status()
            if st and st.get("pid") == self.proc.pid and st.get("listen"):
                if self.listen.startswith("/"):
                    self.port = None
                else:
                    self.port = int(st["listen"].rsplit(":", 1)[1])
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("cliproxyd exited %s:\n%s" % (self.proc.returncode,
                                                                 self.log_text()))
            time.sleep(0.02)
        raise RuntimeError("cliproxyd did not start:\n" + self.log_text())

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout=20):
        """SIGTERM and wait; returns the exit code. Sanitizer reports in
        the log make it fail (the sanitizer build runs this suite)."""
        rc = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "timeout"
        elif self.proc is not None:
            rc = self.proc.returncode
        if self.proc is not None:
            self.logf.close()
        self.proc = None
        return rc

    def sanitizer_errors(self):
        t = self.log_text()
        bad = [l for l in t.splitlines() if "Sanitizer" in l or "runtime error:" in l]
        return bad

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- waiting ---------------------------------------------------------
    def wait_status(self, pred, timeout=10):
        deadline = time.time() + timeout
        st = None
        while time.time() < deadline:
            st = self.status()
            if st is not None and pred(st):
                return st
            time.sleep(0.01)
        raise AssertionError("status never matched; last: %r" % (st,))

    # --- HTTP ------------------------------------------------------------
    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=30):
        """Returns (status, headers dict (lowercase), body bytes)."""
        c = self.conn(timeout)
        h = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            c.close()

    def chat(self, key, model, stream=False, path="/v1/chat/completions", extra=None,
             header="bearer"):
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        if stream:
            body["stream"] = True
        if extra:
            body.update(extra)
        h = {}
        if key is not None:
            if header == "bearer":
                h["Authorization"] = "Bearer " + key
            elif header == "x-api-key":
                h["X-Api-Key"] = key
            elif header == "x-goog-api-key":
                h["X-Goog-Api-Key"] = key
            elif header == "query":
                path = path + "?key=" + key
        return self.request("POST", path, body, h)


class DaemonPerClass:
    """Mixed into a unittest.TestCase: one mock upstream (cls.m) and one
    cliproxyd on cfg(cls.m) (cls.d) for the whole class; a daemon that
    does not exit 0, or that a sanitizer complained about, fails the
    class at its end. Each test starts with an empty mock record."""

    @classmethod
    def cfg(cls, m):
        raise NotImplementedError

    ENV = None  # extra environment of the daemon

    @classmethod
    def setUpClass(cls):
        cls.m = openai_mock.MockUpstream().start()
        cls.d = Daemon(cls.cfg(cls.m), env=cls.ENV)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        errs = cls.d.sanitizer_errors()
        cls.d.cleanup()
        cls.m.stop()
        if rc != 0 or errs:
            raise AssertionError("daemon exit %r, sanitizer: %r" % (rc, errs))

    def setUp(self):
        self.m.reset()


def rss_kib(pid):
    """VmRSS of process pid in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def read_to_eof(s):
    """Everything the peer sends on socket s until it closes."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def wait_until(pred, timeout=10, step=0.01):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p
