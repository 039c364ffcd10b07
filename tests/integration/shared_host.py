#!/usr/bin/env python3
"""shared_host.py - cliproxy in a user's home on a shared Apache host
(issue 14, cgi-bin/, doc/deploy.md "Shared hosting").

Root sets up what a hosting company would: a non-root user with a home
(0711), mod_userdir, suexec (Debian apache2-suexec-pristine) and
AllowOverride for public_html as shared hosts set it. Two Apaches serve
it: one with mod_fcgid, one with plain CGI only (mod_cgid), both through
suexec, both on loopback ports chosen at run time. Then, as the user,
cgi-bin/install.sh puts the responder, the panel, cliproxyd and a config
with a fresh key under the home, adds the crontab @reboot line and starts
the daemon. Checked: the spec's curl examples through
~user/cgi-bin/cliproxy-mgmt.fcgi, the responder running as the user
(suexec) and finding ~/.config/cliproxy/config.yaml with a cleaned
environment, nothing else in cgi-bin served, the panel from ~user/ in
chromium, the daemon as the user with its state in the home, started again
by the crontab line in cron's environment, and a second install keeping
the config. The user, its crontab and its processes are removed at the end.

Needs root (useradd, suexec); without root it skips, and with CI=1 fails.
"""
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tap  # noqa: E402

SUEXEC = "/usr/lib/apache2/suexec"
MODULES_COMMON = ("mpm_event", "authz_core", "mime", "env", "userdir", "suexec")


def need_root():
    if os.geteuid() != 0:
        reason = "creating a user and running suexec need root"
        if os.environ.get("CI"):
            raise harness.HarnessError(reason + "; CI runs the tests as root")
        raise unittest.SkipTest(reason)
    harness.need_program("useradd", "passwd")
    harness.need_program("crontab", "cron")
    harness.need_program("setpriv", "util-linux")
    st = os.stat(harness.need_file(SUEXEC, "apache2-suexec-pristine"))
    if st.st_uid != 0 or not st.st_mode & 0o4000:
        raise harness.HarnessError("%s is not setuid root: reinstall apache2-suexec-pristine" % SUEXEC)


class Host:
    """The user, its home, the two Apaches and the installed cliproxy."""

    def __init__(self):
        self.dir = harness.tempdir("cliproxy-shared-")
        self.homes = os.path.join(self.dir, "home")
        os.mkdir(self.homes, 0o755)
        self.user = "cpsh" + secrets.token_hex(4)
        self.home = os.path.join(self.homes, self.user)
        self.servers = {}
        self.made_user = False

    def start(self):
        subprocess.run(["useradd", "--create-home", "--home-dir", self.home, "--shell", "/bin/sh",
                        "--user-group", self.user], check=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
        self.made_user = True
        pw = pwd.getpwnam(self.user)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        os.chmod(self.home, 0o711)      # as shared hosts do: the web server may pass through
        # what the user unpacked: the two programs and the panel
        self.bundle = os.path.join(self.dir, "bundle")
        os.makedirs(self.bundle)
        shutil.copy(harness.build_path("src/mgmt/cliproxy-mgmt"), self.bundle)
        shutil.copy(harness.build_path("src/proxyd/cliproxyd"), self.bundle)
        shutil.copytree(harness.src_path("www"), os.path.join(self.bundle, "www"))
        for root, dirs, files in os.walk(self.bundle):
            for n in dirs + files:
                os.chmod(os.path.join(root, n), 0o755)
        self.dport = harness.free_port()
        for kind in ("fcgid", "cgi"):
            self.servers[kind] = self.apache(kind)
        port = self.servers["fcgid"].port
        self.url = "http://127.0.0.1:%d/~%s" % (port, self.user)
        self.install_out = self.install("--url", self.url, "--port", str(self.dport),
                                        "--cron", "--start")
        m = re.search(r"^  management key  : (\S+)$", self.install_out, re.M)
        if m is None:
            raise harness.HarnessError("install.sh printed no key:\n" +
                                       self.install_out.replace(self.url, "<url>"))
        self.key = m.group(1)
        return self

    def apache(self, kind):
        d = os.path.join(self.dir, "apache-" + kind)
        os.makedirs(d)
        body = [
            "UserDir public_html",
            "UserDir disabled root",
            # as shared hosts set it (cPanel's default list): .htaccess may
            # set handlers, access and ExecCGI, nothing more
            '<Directory "%s/*/public_html">' % self.homes,
            "  AllowOverride AuthConfig FileInfo Indexes Limit "
            "Options=ExecCGI,Includes,IncludesNOEXEC,Indexes,MultiViews,SymLinksIfOwnerMatch",
            "  Options MultiViews Indexes SymLinksIfOwnerMatch IncludesNoExec",
            "  Require all granted",
            "</Directory>",
            '<FilesMatch "^\\.ht">', "  Require all denied", "</FilesMatch>",
            "<IfModule mod_cgid.c>", "  ScriptSock %s/apache-run/cgisock" % d, "</IfModule>",
        ]
        mods = MODULES_COMMON + (("fcgid",) if kind == "fcgid" else ("cgid",))
        s = harness.apache(d, "\n".join(body), modules=mods, remoteip=False)
        return s

    def as_user(self, argv, env=None, check=True, timeout=60):
        """Run argv as the user with a login-like clean environment."""
        e = {"HOME": self.home, "USER": self.user, "LOGNAME": self.user, "SHELL": "/bin/sh",
             "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C"}
        e.update(env or {})
        full = ["setpriv", "--reuid", self.user, "--regid", self.user, "--init-groups",
                "env", "-i"] + ["%s=%s" % kv for kv in e.items()] + list(argv)
        p = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.home,
                           timeout=timeout)
        out = p.stdout.decode("utf-8", "replace")
        if check and p.returncode != 0:
            raise harness.HarnessError("%s failed (%d):\n%s" % (argv[0], p.returncode, out))
        return out

    def install(self, *args):
        return self.as_user(["/bin/sh", harness.src_path("cgi-bin/install.sh"),
                             "--from", self.bundle] + list(args))

    def path(self, rel):
        return os.path.join(self.home, rel)

    def user_pids(self):
        pids = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    if os.stat("/proc/" + d).st_uid == self.uid:
                        pids.append(int(d))
                except OSError:
                    pass
        return pids

    def daemon_pid(self):
        """pid of the user's running cliproxyd, or None."""
        for pid in self.user_pids():
            try:
                with open("/proc/%d/comm" % pid) as f:
                    if f.read().strip() == "cliproxyd":
                        return pid
            except OSError:
                pass
        return None

    def kill_user_processes(self):
        for _ in range(50):
            pids = self.user_pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.1)

    def stop(self):
        for s in self.servers.values():
            s.stop()
        if self.made_user:
            self.kill_user_processes()
            subprocess.run(["crontab", "-r", "-u", self.user], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            subprocess.run(["userdel", "--remove", self.user], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


HOST = None


def setUpModule():
    global HOST
    need_root()
    HOST = Host()
    try:
        HOST.start()
    except Exception:
        HOST.stop()
        raise


def tearDownModule():
    if HOST is not None:
        HOST.stop()


def curl(*args):
    """The real curl; (status, body as JSON or bytes)."""
    p = subprocess.run([harness.need_program("curl", "curl"), "-s", "-S", "-o", "-", "-w",
                        "\n%{http_code}"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    body, _, code = p.stdout.rpartition(b"\n")
    try:
        return int(code), json.loads(body) if body else None
    except ValueError:
        return int(code), body


class Installed(unittest.TestCase):
    """What install.sh left in the home (once, before any request)."""

    def test_config_has_the_hash_not_the_key(self):
        text = open(HOST.path(".config/cliproxy/config.yaml")).read()
        self.assertRegex(text, r'secret-key: "?\$2b\$10\$')
        self.assertNotIn(HOST.key, text, "the plaintext key is in the config")
        st = os.stat(HOST.path(".config/cliproxy/config.yaml"))
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (HOST.uid, 0o600))
        self.assertEqual(os.stat(HOST.path(".config/cliproxy")).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(HOST.path(".cli-proxy-api")).st_mode & 0o777, 0o700)

    def test_files_in_place_with_suexec_modes(self):
        for rel, mode in (("public_html/cgi-bin/cliproxy-mgmt.fcgi", 0o755),
                          ("public_html/cgi-bin/.htaccess", 0o644),
                          ("public_html/management.html", 0o644),
                          ("public_html/management/app.js", 0o644),
                          (".local/bin/cliproxyd", 0o755),
                          (".local/bin/cliproxyd-start", 0o755)):
            st = os.stat(HOST.path(rel))
            self.assertEqual((st.st_uid, st.st_mode & 0o777), (HOST.uid, mode), rel)
        for rel in ("public_html", "public_html/cgi-bin"):
            self.assertEqual(os.stat(HOST.path(rel)).st_mode & 0o777, 0o755, rel)

    def test_output_names_the_urls(self):
        out = HOST.install_out
        self.assertIn("admin panel     : %s/management.html" % HOST.url, out)
        self.assertIn("management API  : %s/cgi-bin/cliproxy-mgmt.fcgi/v0/management" % HOST.url, out)
        self.assertIn("added to your crontab: @reboot %s" % HOST.path(".local/bin/cliproxyd-start"), out)

    def test_zz_second_install_keeps_the_config(self):
        before = open(HOST.path(".config/cliproxy/config.yaml"), "rb").read()
        out = HOST.install("--url", HOST.url, "--port", str(HOST.dport), "--cron")
        self.assertIn("kept the existing config", out)
        self.assertNotIn("management key  :", out)
        self.assertIn("crontab already has", out)
        self.assertEqual(open(HOST.path(".config/cliproxy/config.yaml"), "rb").read(), before)
        crontab = subprocess.run(["crontab", "-l", "-u", HOST.user], stdout=subprocess.PIPE).stdout
        self.assertEqual(crontab.decode().count("cliproxyd-start"), 1, "one @reboot line")

    def test_install_refuses_root_and_bad_options(self):
        p = subprocess.run(["/bin/sh", harness.src_path("cgi-bin/install.sh")],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"not as root", p.stdout)
        with self.assertRaises(harness.HarnessError):
            HOST.install("--port", "99999")


class ThroughApache:
    """The API and the panel below ~user/ through one of the Apaches."""

    KIND = None

    @classmethod
    def setUpClass(cls):
        cls.server = HOST.servers[cls.KIND]
        cls.base = "http://127.0.0.1:%d/~%s" % (cls.server.port, HOST.user)
        cls.api = cls.base + "/cgi-bin/cliproxy-mgmt.fcgi/v0/management"

    def curl(self, *args):
        """curl with the spec's placeholders replaced."""
        return curl(*[a.replace("<MANAGEMENT_KEY>", HOST.key).replace(
            "http://localhost:8317/v0/management", self.api) for a in args])

    def diag(self):
        logs = self.server.error_log()
        try:
            with open("/var/log/apache2/suexec.log") as f:
                logs += "\n--- suexec.log ---\n" + "".join(f.readlines()[-10:])
        except OSError:
            pass
        return logs.replace(HOST.key, "<key>")

    def test_spec_curl_examples(self):
        auth = ["-H", "Authorization: Bearer <MANAGEMENT_KEY>"]
        ct = ["-H", "Content-Type: application/json"]
        u = "http://localhost:8317/v0/management"
        ok = (200, {"status": "ok"})
        steps = [
            (["-X", "PUT", *auth, *ct, "-d", '{"value":true}', u + "/debug"], ok),
            ([*auth, u + "/debug"], (200, {"debug": True})),
            (["-X", "PATCH", *ct, *auth, "-d", '{"value":"socks5://user:pass@127.0.0.1:1080/"}',
              u + "/proxy-url"], ok),
            (["-X", "PUT", *ct, *auth, "-d", '{"value":false}',
              u + "/quota-exceeded/switch-project"], ok),
            (["-X", "PUT", *ct, *auth, "-d", '["k1","k2","k3"]', u + "/api-keys"], ok),
            (["-X", "PATCH", *ct, *auth, "-d", '{"old":"k2","new":"k2b"}', u + "/api-keys"], ok),
            ([*auth, "-X", "DELETE", u + "/api-keys?value=k1"], ok),
            ([*auth, u + "/api-keys"], (200, {"api-keys": ["k2b", "k3"]})),
            (["-X", "PUT", *ct, *auth, "-d",
              '[{"api-key":"sk-a"},{"api-key":"sk-b","base-url":"https://c.example.com"}]',
              u + "/claude-api-key"], ok),
            (["-X", "PATCH", *ct, *auth, "-d",
              '{"index":1,"value":{"api-key":"sk-b2","base-url":"https://c.example.com"}}',
              u + "/claude-api-key"], ok),
            (["-X", "PATCH", *ct, *auth, "-d", '{"match":"sk-a","value":{"api-key":"sk-a","base-url":""}}',
              u + "/claude-api-key"], ok),
            ([*auth, "-X", "DELETE", u + "/claude-api-key?api-key=sk-b2"], ok),
            ([*auth, u + "/claude-api-key"], (200, {"claude-api-key": [{"api-key": "sk-a", "base-url": ""}]})),
            (["-X", "PUT", *ct, *auth, "-d",
              '[{"name":"openrouter","base-url":"https://openrouter.ai/api/v1","api-keys":["sk"],'
              '"models":[{"name":"m","alias":"a"}]}]', u + "/openai-compatibility"], ok),
            (["-X", "PATCH", *ct, *auth, "-d",
              '{"name":"openrouter","value":{"name":"openrouter","base-url":"https://openrouter.ai/api/v1",'
              '"api-keys":[],"models":[]}}', u + "/openai-compatibility"], ok),
            ([*auth, "-X", "DELETE", u + "/openai-compatibility?index=0"], ok),
            ([*auth, u + "/openai-compatibility"], (200, {"openai-compatibility": []})),
            ([*auth, "-X", "DELETE", u + "/proxy-url"], ok),
            ([*auth, u + "/proxy-url"], (200, {"proxy-url": ""})),
        ]
        for args, want in steps:
            got = self.curl(*args)
            self.assertEqual(got, want, "curl %s%s" % (" ".join(a for a in args if "Bearer" not in a),
                                                       "" if got[0] == want[0] else self.diag()))
        # the errors of the spec, in its words
        self.assertEqual(self.curl(u + "/debug"), (401, {"error": "missing management key"}))
        self.assertEqual(self.curl("-H", "Authorization: Bearer wrong", u + "/debug"),
                         (401, {"error": "invalid management key"}))
        self.assertEqual(self.curl(*auth, u + "/nope"), (404, {"error": "not found"}))

    def test_auth_files_through_the_cgi(self):
        auth = ["-H", "Authorization: Bearer <MANAGEMENT_KEY>"]
        u = "http://localhost:8317/v0/management"
        f = os.path.join(HOST.dir, "acc-%s.json" % self.KIND)
        with open(f, "w") as fh:
            fh.write('{"type":"claude","email":"a@example.com"}')
        name = os.path.basename(f)
        self.assertEqual(self.curl(*auth, "-F", "file=@%s" % f, u + "/auth-files"),
                         (200, {"status": "ok"}))
        code, body = self.curl(*auth, u + "/auth-files")
        self.assertEqual(code, 200)
        self.assertIn(name, [x["name"] for x in body["files"]])
        self.assertEqual(os.stat(HOST.path(".cli-proxy-api/" + name)).st_uid, HOST.uid,
                         "the upload was written by the user (suexec)")
        code, body = self.curl(*auth, u + "/auth-files/download?name=" + name)
        self.assertEqual((code, body), (200, {"type": "claude", "email": "a@example.com"}))
        self.assertEqual(self.curl(*auth, "-X", "DELETE", u + "/auth-files?name=" + name),
                         (200, {"status": "ok"}))

    def test_responder_runs_as_the_user_with_a_clean_environment(self):
        self.assertEqual(self.curl("-X", "PUT", "-H", "Authorization: Bearer <MANAGEMENT_KEY>",
                                   "-H", "Content-Type: application/json", "-d", '{"value":5}',
                                   "http://localhost:8317/v0/management/request-retry"),
                         (200, {"status": "ok"}), self.diag())
        cfg = HOST.path(".config/cliproxy/config.yaml")
        st = os.stat(cfg)
        # the atomic write made a new file: its owner is whoever ran the responder
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (HOST.uid, 0o600))
        self.assertIn("request-retry: 5", open(cfg).read())
        self.assertEqual(os.stat(HOST.path(".config/cliproxy/.cliproxy.lock")).st_uid, HOST.uid)

    def test_nothing_else_in_cgi_bin_is_served(self):
        notes = HOST.path("public_html/cgi-bin/notes.txt")
        HOST.as_user(["/bin/sh", "-c", "echo secret > '%s'" % notes])
        try:
            for rel in ("cgi-bin/.htaccess", "cgi-bin/notes.txt", "cgi-bin/"):
                code, _ = curl(self.base + "/" + rel)
                self.assertEqual(code, 403, rel)
        finally:
            os.unlink(notes)
        code, body = curl(self.base + "/management.html")
        self.assertEqual(code, 200)
        self.assertIn(b"cliproxy management", body)

    def test_panel_from_the_home_in_chromium(self):
        node = harness.need_program("node", "nodejs")
        mjs = harness.src_path("tests/browser/panel.mjs")
        if not os.path.exists(harness.src_path("tests/browser/node_modules/playwright-core")):
            raise harness.HarnessError("playwright-core is not installed: run tools/test")
        shots = os.path.join(harness.BUILDDIR, "tests", "browser", "screenshots", "shared-" + self.KIND)
        os.makedirs(shots, exist_ok=True)
        env = dict(os.environ)
        env.update({
            "PANEL_ORIGIN": "http://127.0.0.1:%d" % self.server.port,
            "PANEL_PAGE": self.base + "/management.html",
            "PANEL_API": self.api,
            "PANEL_KEY": HOST.key,
            "PANEL_CONFIG": HOST.path(".config/cliproxy/config.yaml"),
            "PANEL_AUTH_DIR": HOST.path(".cli-proxy-api"),
            "PANEL_SHOTS": shots,
            "PANEL_CHROMIUM": harness.need_program("chromium", "chromium"),
            "PANEL_ONLY": "the panel loads,log in by keyboard,list api-keys,auth files:,"
                          "the status pane goes live,no console",
        })
        p = subprocess.run([node, mjs], env=env, cwd=os.path.dirname(mjs), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=300)
        out = p.stdout.decode("utf-8", "replace").replace(HOST.key, "<key>")
        self.assertEqual(p.returncode, 0, "the panel from ~%s/ failed:\n%s" % (HOST.user, out))
        self.assertRegex(out, r"(?m)^1\.\.6$")
        self.assertNotRegex(out, r"(?m)^not ok")
        for line in out.splitlines():   # what ran, and what the server lacked
            if line.startswith("ok "):
                print("# panel: " + line)


class Fcgid(ThroughApache, unittest.TestCase):
    KIND = "fcgid"

    def test_fcgid_keeps_the_responder_running(self):
        for _ in range(3):
            self.assertEqual(self.curl("-H", "Authorization: Bearer <MANAGEMENT_KEY>",
                                       "http://localhost:8317/v0/management/debug")[0], 200)
        pids = [p for p in HOST.user_pids()
                if open("/proc/%d/comm" % p).read().strip().startswith("cliproxy-mgmt")]
        self.assertTrue(pids, "no responder process of the user lives between requests")


class PlainCgi(ThroughApache, unittest.TestCase):
    KIND = "cgi"

    # once is enough: the fcgid class runs the panel
    test_panel_from_the_home_in_chromium = None


class Daemon(unittest.TestCase):
    """cliproxyd as the user: started by install.sh --start, and by the
    crontab line in cron's environment after it died."""

    def wait_daemon(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            pid = HOST.daemon_pid()
            if pid is not None and os.path.exists(HOST.path(".local/state/cliproxy/cliproxyd.status")):
                try:
                    r = harness.http_request(HOST.dport, "GET", "/healthz", timeout=2)
                    if r.status == 200:
                        return pid
                except OSError:
                    pass
            time.sleep(0.1)
        log = HOST.path(".local/state/cliproxy/cliproxyd.log")
        self.fail("cliproxyd did not come up as the user" + harness.tail(log))

    def test_started_as_the_user_with_state_in_the_home(self):
        pid = self.wait_daemon()
        self.assertEqual(os.stat("/proc/%d" % pid).st_uid, HOST.uid)
        st = os.stat(HOST.path(".local/state/cliproxy/cliproxyd.status"))
        self.assertEqual(st.st_uid, HOST.uid)
        with open(HOST.path(".local/state/cliproxy/cliproxyd.status")) as f:
            self.assertEqual(json.load(f)["pid"], pid)

    def test_crontab_reboot_line_starts_it_again(self):
        crontab = subprocess.run(["crontab", "-l", "-u", HOST.user], stdout=subprocess.PIPE,
                                 check=True).stdout.decode()
        m = re.search(r"(?m)^@reboot (.+)$", crontab)
        self.assertIsNotNone(m, crontab)
        cmd = m.group(1)
        pid = self.wait_daemon()
        # already running: the line does nothing
        out = HOST.as_user(["/bin/sh", "-c", cmd], env={"PATH": "/usr/bin:/bin"})
        self.assertIn("already runs", out)
        self.assertEqual(HOST.daemon_pid(), pid)
        # the machine rebooted: no daemon, a stale pid file; cron runs the
        # line with its own small environment
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while HOST.daemon_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        out = HOST.as_user(["/bin/sh", "-c", cmd], env={"PATH": "/usr/bin:/bin"})
        self.assertIn("cliproxyd started", out)
        new = self.wait_daemon()
        self.assertNotEqual(new, pid)
        self.assertEqual(os.stat("/proc/%d" % new).st_uid, HOST.uid)

    def test_daemon_sees_a_change_made_through_the_cgi(self):
        self.wait_daemon()
        key = "sk-shared-" + secrets.token_hex(6)
        code, _ = curl("-X", "PUT", "-H", "Authorization: Bearer " + HOST.key, "-H",
                       "Content-Type: application/json", "-d", json.dumps([key]),
                       "http://127.0.0.1:%d/~%s/cgi-bin/cliproxy-mgmt.fcgi/v0/management/api-keys"
                       % (HOST.servers["fcgid"].port, HOST.user))
        self.assertEqual(code, 200)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            r = harness.http_request(HOST.dport, "GET", "/v1/models",
                                     headers={"Authorization": "Bearer " + key}, timeout=5)
            if r.status == 200:
                return
            time.sleep(0.05)
        self.fail("cliproxyd did not take the client key put through ~user/cgi-bin: %r" % r)


if __name__ == "__main__":
    tap.main()
