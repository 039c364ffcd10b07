#!/usr/bin/env python3
"""web_sites.py - the site files the Debian package installs
(/etc/lighttpd/conf-available/50-cliproxy.conf and
/etc/apache2/conf-available/cliproxy.conf), as `make` builds them from
conf/*/ (the management snippet spliced into the site template, see
conf/local.mk), started by real lighttpd and Apache with only the packaged
paths and ports replaced (harness.mgmt_conf()).

What the site adds around the snippet is checked here: the listener,
/v0/management going to the responder (never to the daemon), everything
else reverse-proxied to the daemon's port (a small stand-in daemon here),
the Authorization header reaching the responder, and the body limits. The
management API itself is mgmt_lighttpd.py's and mgmt_apache.py's job,
through the same snippet.
"""
import http.server
import json
import os
import re
import secrets
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import tap  # noqa: E402

MIB = 1024 * 1024
PREFIX = "/v0/management"


class Daemon:
    """Stand-in for cliproxyd behind the site: answers every GET and POST
    with {"path": ..., "host": ...} and remembers the paths it saw."""

    def __init__(self):
        self.seen = []
        seen = self.seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                seen.append(self.path)
                body = json.dumps({"path": self.path,
                                   "host": self.headers.get("Host")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = answer
            do_POST = answer

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class SiteSuite:
    KIND = None       # "lighttpd" or "apache"
    OVER_LIMIT = None     # the web server's status for a body above the site's 2 MiB

    @classmethod
    def setUpClass(cls):
        cls.key = secrets.token_urlsafe(24)        # never printed
        cls.dir = harness.tempdir("cliproxy-site-%s-" % cls.KIND)
        cls.cfgdir = os.path.join(cls.dir, "etc")
        cls.auth_dir = os.path.join(cls.dir, "auth")
        for d in (cls.cfgdir, cls.auth_dir):
            os.makedirs(d)
        harness.give(cls.cfgdir)
        harness.give(cls.auth_dir)
        cls.config = os.path.join(cls.cfgdir, "config.yaml")
        harness.sweep_marker("CLIPROXY_CONFIG=" + cls.config)
        harness.write_file(cls.config,
                           "# site test\nremote-management:\n  allow-remote: false\n"
                           '  secret-key: "%s"\nauth-dir: "%s"\ndebug: false\n'
                           % (cls.key, cls.auth_dir), mode=0o640)
        cls.daemon = Daemon()
        cls.port = harness.free_port()
        binary = harness.build_path("src/mgmt/cliproxy-mgmt")
        env = {"CLIPROXY_CONFIG": cls.config}
        try:
            if cls.KIND == "lighttpd":
                sock = os.path.join(cls.dir, "sock")
                os.makedirs(sock)
                harness.give(sock)
                text = harness.mgmt_conf("lighttpd", binary, env, socket=sock + "/mgmt.socket",
                                         site=(cls.port, cls.daemon.port))
                cls.server = harness.lighttpd(cls.dir, text, extforward=False,
                                              modules=harness.LIGHTTPD_SITE_MODULES)
            else:
                text = harness.mgmt_conf("apache", binary, env, site=(cls.port, cls.daemon.port))
                cls.server = harness.apache(cls.dir, text, modules=harness.APACHE_SITE_MODULES,
                                            remoteip=False)
            harness.wait_port(cls.port, proc=cls.server.proc, what=cls.KIND, log=cls.server.log)
        except Exception:
            cls.daemon.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.daemon.stop()

    def req(self, method, path, body=None, headers=None):
        return harness.http_request(self.port, method, path, body, headers, timeout=30)

    def auth(self):
        return {"Authorization": "Bearer " + self.key}

    def assertError(self, r, status, text):
        self.assertEqual(r.status, status, "%r%s" % (r, self.server.error_log()))
        self.assertEqual(r.json(), {"error": text})

    # --------------------------------------------------------------- tests

    def test_built_site_holds_the_snippet(self):
        # the splice copied every setting line of the snippet, indented
        snippet = harness.read_file(harness.src_path(
            "conf/%s/cliproxy-mgmt.conf" % self.KIND)).decode().splitlines()
        site = harness.read_file(harness.build_path(
            harness.SITE_FILES[self.KIND])).decode().splitlines()
        body = [line for line in snippet if not line.startswith("##")]
        self.assertGreater(len(body), 5)
        starts = [i for i, line in enumerate(site) if line.strip() == body[0].strip()]
        self.assertEqual(len(starts), 1, "the snippet's first line once in the site")
        i = starts[0]
        indent = site[i][:len(site[i]) - len(site[i].lstrip())]
        self.assertEqual(site[i:i + len(body)], [indent + line if line else "" for line in body])
        self.assertFalse(any(line.startswith("##") for line in site), "source notes left in")
        self.assertFalse(any("@include" in line for line in site))

    def test_other_paths_go_to_the_daemon(self):
        for path in ("/healthz", "/v1/models?x=1", "/v1beta/models", "/"):
            r = self.req("GET", path)
            self.assertEqual(r.status, 200, "%s: %r%s" % (path, r, self.server.error_log()))
            self.assertEqual(r.json()["path"], path)
        # ProxyPreserveHost (Apache) / lighttpd's default: the client's Host
        r = self.req("GET", "/healthz", headers={"Host": "proxy.example"})
        self.assertEqual(r.json()["host"], "proxy.example")

    def test_management_goes_to_the_responder_only(self):
        before = len(self.daemon.seen)
        self.assertError(self.req("GET", PREFIX + "/debug"), 401, "missing management key")
        self.assertError(self.req("GET", PREFIX + "/no-such"), 401, "missing management key")
        self.assertError(self.req("GET", PREFIX), 401, "missing management key")
        self.assertEqual(self.daemon.seen[before:], [])

    def test_panel_is_served_from_www(self):
        # the admin panel (issue 14): static files, never the daemon's
        before = len(self.daemon.seen)
        r = self.req("GET", "/management.html")
        self.assertEqual(r.status, 200, "%r%s" % (r, self.server.error_log()))
        self.assertTrue(r.header("Content-Type").startswith("text/html"), r.header("Content-Type"))
        self.assertEqual(r.body, harness.read_file(harness.src_path("www/management.html")))
        for name in os.listdir(harness.src_path("www/management")):
            r = self.req("GET", "/management/" + name)
            self.assertEqual(r.status, 200, name)
            self.assertEqual(r.body, harness.read_file(harness.src_path("www/management/" + name)))
            want = "text/css" if name.endswith(".css") else "text/javascript"
            self.assertTrue(r.header("Content-Type").startswith(want), "%s: %s" %
                            (name, r.header("Content-Type")))
        self.assertEqual(self.req("GET", "/management/no-such.js").status, 404)
        self.assertEqual(self.daemon.seen[before:], [])
        # only those two: a look-alike path still goes to the daemon
        r = self.req("GET", "/management.htmlx")
        self.assertEqual(r.json()["path"], "/management.htmlx")

    def test_authorization_reaches_the_responder(self):
        # Apache passes it only with CGIPassAuth On (DESIGN 5)
        r = self.req("GET", PREFIX + "/debug", headers=self.auth())
        self.assertEqual(r.status, 200, "%r%s" % (r, self.server.error_log()))
        self.assertEqual(r.json(), {"debug": False})
        self.assertError(self.req("GET", PREFIX + "/debug",
                                  headers={"Authorization": "Bearer wrong-" + self.key}),
                         401, "invalid management key")

    def test_change_through_the_site(self):
        r = self.req("PUT", PREFIX + "/request-retry", {"value": 7}, self.auth())
        self.assertEqual(r.status, 200, "%r%s" % (r, self.server.error_log()))
        self.assertEqual(r.json(), {"status": "ok"})
        text = harness.read_file(self.config).decode()
        self.assertRegex(text, r"(?m)^request-retry: 7$")
        self.assertIn("# site test", text)
        r = self.req("GET", PREFIX + "/request-retry", headers={"X-Management-Key": self.key})
        self.assertEqual(r.json(), {"request-retry": 7})

    def test_body_limits(self):
        h = dict(self.auth(), **{"Content-Type": "application/json"})
        # 1 MiB + 1 passes the web server and is refused by the responder
        body = b'{"value":"' + b"x" * (MIB + 1 - 12) + b'"}'
        self.assertEqual(len(body), MIB + 1)
        self.assertError(self.req("PUT", PREFIX + "/proxy-url", body, h), 413,
                         "request body too large")
        # a body of exactly 1 MiB passes both
        content = b'{"a":"' + b"x" * (MIB - 8) + b'"}'
        self.assertEqual(len(content), MIB)
        r = self.req("POST", PREFIX + "/auth-files?name=big.json", content, h)
        self.assertEqual(r.status, 200, "%r%s" % (r, self.server.error_log()))
        self.assertEqual(os.path.getsize(os.path.join(self.auth_dir, "big.json")), MIB)
        self.assertEqual(self.req("DELETE", PREFIX + "/auth-files?name=big.json",
                                  headers=self.auth()).status, 200)
        # above the site's 5 MiB the web server refuses on its own
        before = len(self.daemon.seen)
        # (its own HTML page: never the responder's JSON, never the daemon)
        r = self.req("PUT", PREFIX + "/proxy-url", b"{" + b" " * (6 * MIB) + b"}", h)
        self.assertEqual(r.status, self.OVER_LIMIT, repr(r))
        self.assertTrue(r.body.lstrip().startswith(b"<"), repr(r))
        self.assertEqual(self.daemon.seen[before:], [])

class Docs(unittest.TestCase):
    """What the documents print of these files is the files."""

    def test_deploy_md_nginx_block_is_the_example(self):
        doc = harness.read_file(harness.src_path("doc/deploy.md")).decode()
        blocks = re.findall(r"```nginx\n(.*?)```", doc, re.S)
        self.assertEqual(len(blocks), 1)
        ex = harness.read_file(harness.src_path("conf/spawn-fcgi/nginx.conf.example")).decode()
        self.assertEqual(blocks[0], ex[ex.index("\nserver {") + 1:])

    def test_site_files_name_the_packaged_responder(self):
        # the package installs the responder under this name (debian/rules)
        for server, rel in sorted(harness.SITE_FILES.items()):
            text = harness.read_file(harness.build_path(rel)).decode()
            self.assertIn(harness.PACKAGED["binary"], text, rel)
            self.assertEqual(len(re.findall(r"/usr/lib/cgi-bin/\S+", text)),
                             text.count(harness.PACKAGED["binary"]), rel)


class Lighttpd(SiteSuite, unittest.TestCase):
    KIND = "lighttpd"
    OVER_LIMIT = 413      # server.max-request-size


class Apache(SiteSuite, unittest.TestCase):
    KIND = "apache"
    OVER_LIMIT = 500      # mod_fcgid past FcgidMaxRequestLen (its documented answer)


if __name__ == "__main__":
    tap.main()
