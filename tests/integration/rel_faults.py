#!/usr/bin/env python3
"""rel_faults.py - the file system fails under the responder (issue 5
"Faults"; DESIGN.md 4, 5).

The config dir and auth-dir are tiny tmpfs mounts (64 KiB) under a
lighttpd deployment. Full disk, read-only remount, a directory the web
server user cannot write, a missing auth-dir: every refused write answers
a clear JSON error ("failed to save config: ...", "failed to save auth
file: ..."), the previous files stay byte-identical, no temp is left
behind, reads keep working, and writes work again once the fault is gone.
A cliproxyd watching the same config keeps serving throughout.

Mounting needs root. In CI (CI set) a non-root run fails with the reason;
elsewhere it is skipped with the reason printed.
"""
import atexit
import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import mgmtlib  # noqa: E402
import rellib  # noqa: E402
import tap  # noqa: E402

TMPFS_SIZE = "64k"
_mounts = []


def _umount_all():
    for d in reversed(_mounts):
        subprocess.run(["umount", "-l", d], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    del _mounts[:]


# registered after harness's own atexit, so it runs first (before the temp
# dirs are removed); on a signal harness exits with os._exit, skipping
# atexit, so its handlers are wrapped too
atexit.register(_umount_all)


def _wrap(sig):
    prev = signal.getsignal(sig)

    def handler(signum, frame):
        _umount_all()
        if callable(prev):
            prev(signum, frame)
        os._exit(128 + signum)
    signal.signal(sig, handler)


for _s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    _wrap(_s)


def mount_tmpfs(d):
    exe = harness.need_program("mount", "mount")
    p = subprocess.run([exe, "-t", "tmpfs", "-o", "size=%s,mode=0755" % TMPFS_SIZE, "tmpfs", d],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise harness.HarnessError("mount tmpfs on %s: %s" % (d, p.stdout.decode(errors="replace")))
    _mounts.append(d)
    harness.give(d)


def remount(d, mode):
    p = subprocess.run(["mount", "-o", "remount,%s" % mode, d], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    if p.returncode != 0:
        raise AssertionError("remount %s %s: %s" % (mode, d, p.stdout.decode(errors="replace")))


def fill(d):
    """Fill the file system of d to the last byte; returns the filler path."""
    path = os.path.join(d, "filler.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (4096, 1):  # pages, then the last partial page
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return path


def start_daemon(config, state):
    """cliproxyd on the deployment's config; returns (process, port)."""
    exe = harness.build_path("src/proxyd/cliproxyd")
    log = os.path.join(state, "cliproxyd.log")
    p = harness.start([exe, "-c", config, "--listen", "127.0.0.1:0", "--state-dir", state,
                       "--log", "stderr"], log=log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with open(os.path.join(state, "cliproxyd.status")) as f:
                st = json.load(f)
            if st.get("pid") == p.pid and st.get("listen"):
                return p, int(st["listen"].rsplit(":", 1)[1])
        except (OSError, ValueError):
            pass
        if p.poll() is not None:
            break
        time.sleep(0.05)
    raise harness.HarnessError("cliproxyd did not start%s" % harness.tail(log))


class Faults(unittest.TestCase):
    dep = None
    daemon = None

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            reason = "needs root to mount a tmpfs (mount -t tmpfs -o size=64k)"
            if rellib.in_ci():
                raise harness.HarnessError(reason + "; CI runs the tests as root")
            raise unittest.SkipTest(reason)
        cls.dep = mgmtlib.Deployment("lighttpd")
        try:
            mount_tmpfs(cls.dep.cfgdir)
            mount_tmpfs(cls.dep.auth_dir)
            cls.dep.start()
            state = os.path.join(cls.dep.dir, "pxd-state")
            os.mkdir(state)
            cls.daemon, cls.daemon_port = start_daemon(cls.dep.config, state)
        except Exception:
            cls.dep.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.daemon is not None:
            harness.stop(cls.daemon)
        if cls.dep is not None:
            cls.dep.stop()
            _umount_all()

    def setUp(self):
        self.dep.reset()
        self.cleanups_done = False

    def tearDown(self):
        for d in (self.dep.cfgdir, self.dep.auth_dir):
            subprocess.run(["mount", "-o", "remount,rw", d], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            try:
                os.unlink(os.path.join(d, "filler.bin"))
            except FileNotFoundError:
                pass
            harness.give(d)
        self.assertEqual(rellib.error_log_crashes(self.dep.server.log), [])
        # the daemon watching this config kept serving through the fault
        self.assertIsNone(self.daemon.poll(), "cliproxyd died")
        r = harness.http_request(self.daemon_port, "GET", "/healthz", timeout=10)
        self.assertEqual(r.status, 200, r)
        # and it loaded the config as the fault left it (the last good one)
        want = hashlib.sha256(self.dep.read_config()).hexdigest()
        state = os.path.join(self.dep.dir, "pxd-state", "cliproxyd.status")
        deadline = time.monotonic() + 10
        got = None
        while time.monotonic() < deadline:
            try:
                with open(state) as f:
                    got = json.load(f).get("config-sha256")
            except (OSError, ValueError):
                got = None
            if got == want:
                break
            time.sleep(0.05)
        self.assertEqual(got, want, "cliproxyd did not load the config after the fault")

    def req(self, *a, **kw):
        return self.dep.req(*a, **kw)

    def assertSaveError(self, r, prefix, reason=None):
        self.assertTrue(500 <= r.status < 600, "unexpected %r" % r)
        j = r.json()
        self.assertEqual(list(j), ["error"], r)
        self.assertTrue(j["error"].startswith(prefix), r)
        if reason is not None:
            self.assertIn(reason, j["error"], r)
        return j["error"]

    def assertServing(self):
        self.assertEqual(self.req("GET", "/debug").status, 200)
        self.assertEqual(self.req("GET", "/auth-files").status, 200)

    def test_full_disk(self):
        dep = self.dep
        self.assertEqual(self.req("POST", "/auth-files?name=a.json", body=b'{"v":1}').status, 200)
        cfg_before = dep.read_config()
        auth_before = harness.read_file(os.path.join(dep.auth_dir, "a.json"))
        fill(dep.cfgdir)
        fill(dep.auth_dir)
        refused = 0
        msgs = set()
        for m, p, b in (("PUT", "/debug", {"value": True}),
                        ("PUT", "/api-keys", ["k%03d-%s" % (i, "x" * 40) for i in range(200)]),
                        ("PATCH", "/api-keys", {"index": 0, "value": "changed"}),
                        ("PUT", "/proxy-url", {"value": "http://proxy.example:3128"})):
            r = self.req(m, p, body=b)
            if r.status == 200:
                st = os.statvfs(dep.cfgdir)
                self.fail("%s %s acknowledged on a full disk (free blocks %d, size %d)"
                          % (m, p, st.f_bfree, len(dep.read_config())))
            msgs.add(self.assertSaveError(r, "failed to save config: ", "No space left on device"))
            refused += 1
        for name, body in (("a.json", b'{"v":"' + b"y" * 20000 + b'"}'), ("b.json", b'{"new":1}')):
            r = self.req("POST", "/auth-files?name=" + name, body=body)
            msgs.add(self.assertSaveError(r, "failed to save auth file: ", "No space left on device"))
            refused += 1
        self.assertEqual(dep.read_config(), cfg_before, "config changed on a full disk")
        self.assertEqual(harness.read_file(os.path.join(dep.auth_dir, "a.json")), auth_before)
        self.assertFalse(os.path.exists(os.path.join(dep.auth_dir, "b.json")))
        self.assertEqual(rellib.temps(dep.cfgdir) + rellib.temps(dep.auth_dir), [])
        self.assertServing()
        self.assertEqual(self.req("GET", "/auth-files/download?name=a.json").body, auth_before)
        # space back: writes work again
        os.unlink(os.path.join(dep.cfgdir, "filler.bin"))
        os.unlink(os.path.join(dep.auth_dir, "filler.bin"))
        self.assertEqual(self.req("PUT", "/debug", body={"value": True}).status, 200)
        self.assertEqual(self.req("GET", "/debug").json(), {"debug": True})
        self.assertEqual(self.req("POST", "/auth-files?name=b.json", body=b'{"new":1}').status, 200)
        rellib.figure("full disk: writes refused: %d, config and auth file byte-identical, "
                      "temps left: 0, recovered after space freed; errors: %s"
                      % (refused, "; ".join(sorted(msgs))))

    def test_read_only(self):
        dep = self.dep
        self.assertEqual(self.req("POST", "/auth-files?name=a.json", body=b'{"v":1}').status, 200)
        cfg_before = dep.read_config()
        remount(dep.cfgdir, "ro")
        remount(dep.auth_dir, "ro")
        msgs = set()
        for m, p, b in (("PUT", "/debug", {"value": True}),
                        ("PATCH", "/api-keys", {"index": 0, "value": "changed"})):
            r = self.req(m, p, body=b)
            self.assertTrue(500 <= r.status < 600, r)
            self.assertEqual(list(r.json()), ["error"], r)
            self.assertNotIn("busy", r.json()["error"], "a read-only dir is not a busy lock: %r" % r)
            # The reason, not a path on the server.
            self.assertIn("Read-only file system", r.json()["error"], r)
            self.assertNotIn(dep.cfgdir, r.json()["error"], r)
            msgs.add(r.json()["error"])
        r = self.req("POST", "/auth-files?name=a.json", body=b'{"v":2}')
        self.assertTrue(500 <= r.status < 600, r)
        msgs.add(r.json()["error"])
        r = self.req("DELETE", "/auth-files?name=a.json")
        self.assertTrue(500 <= r.status < 600, r)
        msgs.add(r.json()["error"])
        for msg in msgs:
            self.assertRegex(msg, r"[Rr]ead-only|cannot|failed", msg)
        self.assertEqual(dep.read_config(), cfg_before)
        self.assertEqual(harness.read_file(os.path.join(dep.auth_dir, "a.json")), b'{"v":1}')
        self.assertServing()
        remount(dep.cfgdir, "rw")
        remount(dep.auth_dir, "rw")
        self.assertEqual(self.req("PUT", "/debug", body={"value": True}).status, 200)
        rellib.figure("read-only mount: 4 writes refused with: %s; files identical, reads served"
                      % "; ".join(sorted(msgs)))

    def test_wrong_owner(self):
        dep = self.dep
        self.assertEqual(self.req("POST", "/auth-files?name=a.json", body=b'{"v":1}').status, 200)
        cfg_before = dep.read_config()
        for d in (dep.cfgdir, dep.auth_dir):
            os.chown(d, 0, 0)
            os.chmod(d, 0o755)
        msgs = set()
        r = self.req("PUT", "/debug", body={"value": True})
        msgs.add(self.assertSaveError(r, "failed to save config: ", "ermission denied"))
        r = self.req("POST", "/auth-files?name=a.json", body=b'{"v":2}')
        msgs.add(self.assertSaveError(r, "failed to save auth file: "))
        r = self.req("POST", "/auth-files?name=new.json", body=b'{"v":2}')
        msgs.add(self.assertSaveError(r, "failed to save auth file: "))
        self.assertEqual(dep.read_config(), cfg_before)
        self.assertEqual(harness.read_file(os.path.join(dep.auth_dir, "a.json")), b'{"v":1}')
        self.assertServing()
        # the config file itself unreadable for the web server user
        harness.give(dep.cfgdir)
        os.chown(dep.config, 0, 0)
        os.chmod(dep.config, 0o600)
        r = self.req("PUT", "/debug", body={"value": True})
        self.assertTrue(500 <= r.status < 600, r)
        self.assertEqual(list(r.json()), ["error"])
        msgs.add(r.json()["error"])
        self.assertEqual(dep.read_config(), cfg_before)
        harness.give(dep.config)
        harness.give(dep.auth_dir)
        self.assertEqual(self.req("PUT", "/debug", body={"value": True}).status, 200)
        rellib.figure("wrong owner: writes refused with: %s; files identical" % "; ".join(sorted(msgs)))

    def test_missing_auth_dir(self):
        dep = self.dep
        cases = 0
        seen = []
        for sub in ("missing-auth", "no/such/parent/auth"):
            target = os.path.join(dep.dir, sub)
            dep.reset(dep.config_text().replace('auth-dir: "%s"' % dep.auth_dir,
                                                'auth-dir: "%s"' % target))
            r = self.req("GET", "/auth-files")
            self.assertIn(r.status, (200, 404, 500), r)
            if r.status == 200:
                self.assertEqual(r.json(), {"files": []})
            else:
                self.assertEqual(list(r.json()), ["error"], r)
            r = self.req("GET", "/auth-files/download?name=x.json")
            self.assertIn(r.status, (404, 500), r)
            self.assertEqual(list(r.json()), ["error"], r)
            seen.append("%s: list %d, download %d" % (sub, self.req("GET", "/auth-files").status,
                                                       r.status))
            r = self.req("POST", "/auth-files?name=x.json", body=b'{"k":1}')
            seen[-1] += ", upload %d" % r.status
            if r.status == 200:
                self.assertEqual(harness.read_file(os.path.join(target, "x.json")), b'{"k":1}')
            else:
                self.assertSaveError(r, "failed to save auth file: ")
            self.assertEqual(self.req("DELETE", "/auth-files?all=true").status in (200, 404, 500),
                             True)
            self.assertEqual(self.req("GET", "/debug").status, 200)
            cases += 1
        rellib.figure("missing auth-dir: %d layouts (%s), clear answers, responder alive"
                      % (cases, "; ".join(seen)))


if __name__ == "__main__":
    tap.main()
