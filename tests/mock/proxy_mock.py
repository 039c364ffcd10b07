#!/usr/bin/env python3
"""proxy_mock.py - a tiny HTTP proxy on 127.0.0.1 for proxy-url tests.

Standard library only. Handles absolute-URI forwarding ("POST http://...")
and CONNECT tunnels, to loopback targets only, and records each request it
proxied (method and target) so a test can see that the daemon used it.

    p = ProxyMock(); p.start(); ... "http://127.0.0.1:%d" % p.port ...
    p.seen() -> [{"method": "POST", "target": "http://127.0.0.1:.../v1/..."}]
"""
import select
import socket
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):
        pass

    def _loopback(self, host):
        return host in ("127.0.0.1", "localhost", "::1")

    def do_CONNECT(self):
        host, _, port = self.path.rpartition(":")
        self.server.mock._seen("CONNECT", self.path)
        if not self._loopback(host):
            self.send_error(403)
            return
        try:
            up = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            self.send_error(502)
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        socks = [self.connection, up]
        try:
            while True:
                r, _, _ = select.select(socks, [], [], 30)
                if not r:
                    break
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    (up if s is self.connection else self.connection).sendall(data)
        except OSError:
            pass
        finally:
            up.close()
            self.close_connection = True

    def _forward(self):
        u = urllib.parse.urlsplit(self.path)
        self.server.mock._seen(self.command, self.path)
        if u.scheme != "http" or not self._loopback(u.hostname or ""):
            self.send_error(403)
            return
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        path = u.path + ("?" + u.query if u.query else "")
        lines = ["%s %s HTTP/1.0" % (self.command, path or "/")]
        for k, v in self.headers.items():
            if k.lower() in ("proxy-connection", "connection", "keep-alive",
                             "proxy-authorization"):
                continue
            lines.append("%s: %s" % (k, v))
        lines.append("Connection: close")
        try:
            up = socket.create_connection((u.hostname, u.port or 80), timeout=30)
        except OSError:
            self.send_error(502)
            return
        try:
            up.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            while True:
                data = up.recv(65536)
                if not data:
                    break
                self.wfile.write(data)
                self.wfile.flush()
        except OSError:
            pass
        finally:
            up.close()
            self.close_connection = True

    do_GET = _forward
    do_POST = _forward


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class ProxyMock:
    def __init__(self):
        self._lock = threading.Lock()
        self._log = []
        self.srv = _Server(("127.0.0.1", 0), _Handler)
        self.srv.mock = self
        self.port = self.srv.server_address[1]

    def start(self):
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()

    def _seen(self, method, target):
        with self._lock:
            self._log.append({"method": method, "target": target})

    def seen(self):
        with self._lock:
            return list(self._log)
