#!/usr/bin/env python3
"""proxyd_rss.py - cliproxyd memory: RSS when idle, and with N concurrent
open SSE streams (default 1000) that the mock upstream holds open.

Raises RLIMIT_NOFILE (the daemon inherits it), loopback only, bounded:
the mock releases every stream after HOLD seconds and the script stops
everything it started.

    CLIPROXY_BUILDDIR=_build python3 bench/proxyd_rss.py [streams]
"""
import json
import os
import resource
import select
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
os.environ.setdefault("CLIPROXY_SRCDIR", TOP)
os.environ.setdefault("CLIPROXY_BUILDDIR", os.path.join(TOP, "_build"))
import proxyd_support as ps  # noqa: E402
import openai_mock  # noqa: E402

HOLD = 90


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 4 * n + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < 3 * n + 64:
        raise SystemExit("RLIMIT_NOFILE hard limit %d too low for %d streams" % (hard, n))
    m = openai_mock.MockUpstream()
    m.hold_seconds = HOLD
    m.start()
    key = "bench-key"
    d = ps.Daemon({"api-keys": [key],
                   "openai-compatibility": [ps.compat("mock", m.base_url, ["k-ok"],
                                                      [("hold-up", "hold")])]})
    socks = []
    try:
        d.start()
        time.sleep(0.5)
        idle = ps.rss_kib(d.proc.pid)
        body = json.dumps({"model": "hold", "stream": True}).encode()
        req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
               key.encode() + b"\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body) + body)
        t0 = time.time()
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", d.port))
            s.sendall(req)
            s.setblocking(False)
            socks.append(s)
        # Wait until every stream delivered its first event.
        pending = {s: b"" for s in socks}
        poller = select.poll()
        byfd = {}
        for s in socks:
            poller.register(s, select.POLLIN)
            byfd[s.fileno()] = s
        deadline = time.time() + 60
        while pending and time.time() < deadline:
            for fd, _ in poller.poll(1000):
                s = byfd[fd]
                if s not in pending:
                    poller.unregister(fd)
                    continue
                try:
                    pending[s] += s.recv(65536)
                except BlockingIOError:
                    continue
                if b'{"hold":true}' in pending[s]:
                    del pending[s]
        opened = n - len(pending)
        t_open = time.time() - t0
        time.sleep(1.0)
        busy = ps.rss_kib(d.proc.pid)
        st = d.status()
        for s in socks:
            s.close()
        socks = []
        ps.wait_until(lambda: d.status()["requests"]["in-flight"] == 0, timeout=30)
        time.sleep(0.5)
        after = ps.rss_kib(d.proc.pid)
    finally:
        for s in socks:
            s.close()
        rc = d.stop()
        d.cleanup()
        m.stop()
    print("cliproxyd RSS")
    print("  idle:                         %6.1f MiB" % (idle / 1024.0))
    print("  %d concurrent SSE streams:  %6.1f MiB  (%.1f KiB per stream; %d/%d open "
          "after %.1f s; in-flight %d)" % (n, busy / 1024.0, (busy - idle) / max(1, opened),
                                          opened, n, t_open, st["requests"]["in-flight"]))
    print("  after all closed:             %6.1f MiB   (exit %s)" % (after / 1024.0, rc))


if __name__ == "__main__":
    main()
