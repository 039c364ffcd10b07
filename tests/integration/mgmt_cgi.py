#!/usr/bin/env python3
"""mgmt_cgi.py - cliproxy-mgmt run as a plain CGI program (one request from
the environment and stdin, no web server): CGI detection, routing on the
variants of SCRIPT_NAME / PATH_INFO / REQUEST_URI that servers produce,
CONTENT_LENGTH handling (RFC 3875 4.1.2) and the body cap."""
import fcntl
import json
import os
import re
import secrets
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import mgmtlib  # noqa: E402
import tap  # noqa: E402

MIB = 1024 * 1024


class Cgi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.binary = harness.build_path("src/mgmt/cliproxy-mgmt")
        cls.dir = harness.tempdir("cliproxy-mgmt-cgi-")
        cls.key = secrets.token_urlsafe(24)
        cls.auth_dir = os.path.join(cls.dir, "auth")
        os.mkdir(cls.auth_dir)
        cls.config = os.path.join(cls.dir, "config.yaml")
        text = mgmtlib.CONFIG_TEMPLATE.format(secret=cls.key, allow_remote="false",
                                              auth_dir=cls.auth_dir)
        with open(cls.config, "w") as f:
            f.write(text)

    def run_cgi(self, method="GET", script="/v0/management", path_info="/debug", query="",
                body=b"", env=None, key=True, content_length=True):
        e = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1",
             "REQUEST_METHOD": method, "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1",
             "SERVER_PROTOCOL": "HTTP/1.1", "CLIPROXY_CONFIG": self.config}
        if script is not None:
            e["SCRIPT_NAME"] = script
        if path_info is not None:
            e["PATH_INFO"] = path_info
        if key:
            e["HTTP_AUTHORIZATION"] = "Bearer " + self.key
        if content_length and body:
            e["CONTENT_LENGTH"] = str(len(body))
        e.update(env or {})
        p = subprocess.run([self.binary], input=body, env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr.decode(errors="replace"))
        head, sep, payload = p.stdout.partition(b"\r\n\r\n")
        self.assertEqual(sep, b"\r\n\r\n", p.stdout[:200])
        headers = {}
        for line in head.decode().split("\r\n"):
            k, _, v = line.partition(": ")
            headers[k.lower()] = v
        status = int(headers["status"].split()[0])
        if "content-length" in headers and method != "HEAD":
            self.assertEqual(int(headers["content-length"]), len(payload))
        return status, headers, payload

    def jrun(self, *a, **kw):
        status, headers, payload = self.run_cgi(*a, **kw)
        return status, json.loads(payload) if payload else None

    def test_plain_cgi_request(self):
        status, headers, payload = self.run_cgi(path_info="/request-retry")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(payload), {"request-retry": 3})
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(headers["access-control-allow-origin"], "*")
        self.assertTrue(re.match(r"^200 OK$", headers["status"]))
        # the plaintext key in the file was hashed on the way
        with open(self.config) as f:
            self.assertTrue(self.key not in f.read(), "the plaintext key is still in the file")

    def test_head_writes_no_body(self):
        # issue 10: HEAD is GET without the body; the responder itself
        # sends none (web servers would hide a stray one)
        status, headers, payload = self.run_cgi(method="GET", path_info="/api-keys")
        self.assertEqual(status, 200)
        hs, hh, hp = self.run_cgi(method="HEAD", path_info="/api-keys")
        self.assertEqual((hs, hp), (200, b""))
        self.assertEqual(int(hh["content-length"]), len(payload))

    def test_long_plaintext_key_refused_at_load(self):
        # issue 10 item 8: a plaintext key longer than the 72 bytes bcrypt
        # reads does not load; the error names the line and the limit,
        # never the key, and the file is not rewritten
        key = secrets.token_hex(40)
        cfg = os.path.join(self.dir, "long-key.yaml")
        text = mgmtlib.CONFIG_TEMPLATE.format(secret=key, allow_remote="false",
                                              auth_dir=self.auth_dir)
        with open(cfg, "w") as f:
            f.write(text)
        for k in (True, False):
            e = {"CLIPROXY_CONFIG": cfg, "HTTP_AUTHORIZATION": "Bearer " + key} if k else \
                {"CLIPROXY_CONFIG": cfg}
            status, body = self.jrun(path_info="/debug", env=e, key=False)
            self.assertEqual(status, 500, body)
            self.assertRegex(body["error"], r"^failed to load config: line 8: "
                             r"remote-management.secret-key: the management key is longer than "
                             r"72 bytes, the most bcrypt reads; use a key of at most 72 bytes$")
            self.assertNotIn(key[:72], json.dumps(body))
        with open(cfg) as f:
            self.assertEqual(f.read(), text)

    def test_routing_variants(self):
        want = (200, {"api-keys": ["key-one", "key-two"]})
        # lighttpd / Apache: prefix in SCRIPT_NAME, the rest in PATH_INFO
        self.assertEqual(self.jrun(script="/v0/management", path_info="/api-keys"), want)
        # everything in SCRIPT_NAME (nginx without a split)
        self.assertEqual(self.jrun(script="/v0/management/api-keys", path_info=None), want)
        # a cgi-bin install: the path below the program
        self.assertEqual(self.jrun(script="/cgi-bin/cliproxy-mgmt", path_info="/api-keys"), want)
        # an outer prefix before /v0/management
        self.assertEqual(self.jrun(script="/proxy/v0/management", path_info="/api-keys"), want)
        # only REQUEST_URI
        self.assertEqual(self.jrun(script=None, path_info=None,
                                   env={"REQUEST_URI": "/v0/management/api-keys?x=1"}), want)
        self.assertEqual(self.jrun(script="/v0/managementX", path_info="/api-keys")[0], 200)
        self.assertEqual(self.jrun(script="/v0/management", path_info="/api-keys/"),
                         (404, {"error": "not found"}))
        self.assertEqual(self.jrun(script="/v0/management", path_info=""),
                         (404, {"error": "not found"}))
        self.assertEqual(self.jrun(method="BREW", path_info="/debug")[0], 405)

    def test_content_length_strict(self):
        body = b'{"value":true}'
        for cl in ("abc", "-1", "+14", " 14", "14 ", "1e3", "0x0e"):
            self.assertEqual(self.jrun("PUT", body=body, env={"CONTENT_LENGTH": cl}),
                             (400, {"error": "invalid body"}), cl)
        # announced longer than what arrives
        self.assertEqual(self.jrun("PUT", body=body, env={"CONTENT_LENGTH": "100"}),
                         (400, {"error": "invalid body"}))
        # announced past the cap: refused before reading
        self.assertEqual(self.jrun("PUT", body=body, env={"CONTENT_LENGTH": str(MIB + 1)}),
                         (413, {"error": "request body too large"}))
        self.assertEqual(self.jrun("PUT", body=body,
                                   env={"CONTENT_LENGTH": "99999999999999999999999"}),
                         (400, {"error": "invalid body"}))
        self.assertEqual(self.jrun("PUT", body=body), (200, {"status": "ok"}))

    def test_missing_content_length_reads_to_eof(self):
        self.assertEqual(self.jrun("PUT", path_info="/request-log", body=b'{"value":true}',
                                   content_length=False), (200, {"status": "ok"}))
        self.assertEqual(self.jrun(path_info="/request-log"), (200, {"request-log": True}))
        head, tail = b'["k"', b"]"
        ok = head + b" " * (MIB - 5) + tail
        self.assertEqual(len(ok), MIB)
        self.assertEqual(self.jrun("PUT", path_info="/generative-language-api-key", body=ok,
                                   content_length=False), (200, {"status": "ok"}))
        self.assertEqual(self.jrun("PUT", path_info="/generative-language-api-key",
                                   body=ok + b" ", content_length=False),
                         (413, {"error": "request body too large"}))

    def test_query_decoding(self):
        self.assertEqual(self.jrun("DELETE", path_info="/auth-files", query="name=a%00.json"),
                         (400, {"error": "invalid name"}))
        self.assertEqual(self.jrun("DELETE", path_info="/auth-files", query="name=%2"),
                         (400, {"error": "invalid name"}))
        self.assertEqual(self.jrun("DELETE", path_info="/auth-files", query="name=none.json"),
                         (404, {"error": "file not found"}))
        self.assertEqual(self.jrun("DELETE", path_info="/api-keys", query="x=1&value"),
                         (404, {"error": "item not found"}))

    def test_lock_timeout_is_503(self):
        # another writer holds the config lock past the bounded wait
        # (DESIGN 4: 5 s, then 503 "config is busy"); the file is untouched
        with open(self.config, "rb") as f:
            before = f.read()
        fd = os.open(os.path.join(self.dir, ".cliproxy.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX)
            t0 = time.monotonic()
            self.assertEqual(self.jrun("PUT", path_info="/debug", body=b'{"value":true}'),
                             (503, {"error": "config is busy"}))
            self.assertGreaterEqual(time.monotonic() - t0, 4.0)
        finally:
            os.close(fd)
        with open(self.config, "rb") as f:
            self.assertEqual(f.read(), before)
        self.assertEqual(self.jrun("PUT", path_info="/debug", body=b'{"value":false}'),
                         (200, {"status": "ok"}))

    def test_failed_save_is_500(self):
        # a config directory the responder cannot write to
        d = harness.tempdir("cliproxy-mgmt-ro-")
        cfg = os.path.join(d, "config.yaml")
        with open(self.config, "rb") as f:
            data = f.read()
        with open(cfg, "wb") as f:
            f.write(data)
        os.chmod(cfg, 0o644)
        os.chmod(d, 0o555)
        preexec = None
        if os.geteuid() == 0:
            _, uid, gid = harness.service_user()

            def preexec():
                os.setgid(gid)
                os.setuid(uid)
        e = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1", "REQUEST_METHOD": "PUT",
             "SCRIPT_NAME": "/v0/management", "PATH_INFO": "/debug", "REMOTE_ADDR": "::1",
             "CONTENT_LENGTH": "14", "CLIPROXY_CONFIG": cfg,
             "HTTP_X_MANAGEMENT_KEY": self.key}
        try:
            p = subprocess.run([self.binary], input=b'{"value":true}', env=e,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30,
                               preexec_fn=preexec)
        finally:
            os.chmod(d, 0o755)
        head, _, payload = p.stdout.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"Status: 500 "), p.stdout[:100])
        self.assertRegex(json.loads(payload)["error"], r"^failed to save config: .+")
        with open(cfg, "rb") as f:
            self.assertEqual(f.read(), data)

    def test_not_cgi_refuses(self):
        p = subprocess.run([self.binary], env={"PATH": "/usr/bin:/bin"}, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"not started as FastCGI or CGI", p.stderr)
        p = subprocess.run([self.binary, "--help"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"CLIPROXY_BAN_SECONDS", p.stderr)


if __name__ == "__main__":
    tap.main()
