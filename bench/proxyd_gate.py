#!/usr/bin/env python3
"""proxyd_gate.py - what the connection gate (src/proxyd/gate.c, issue 10)
costs per request: wrk against two cliproxyd builds side by side, on paths
that never reach an upstream, so the daemon's own work is what is timed:
GET /healthz (no key) and GET /v1/models (the key checked by the gate and
again by the handler), keep-alive, 32 connections; rounds interleaved so
both builds see the same noise; the median of each is printed.

    CLIPROXY_BUILDDIR=_build python3 bench/proxyd_gate.py OTHER_BUILDDIR [seconds] [rounds]

Loopback only; stops everything it started.
"""
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
os.environ.setdefault("CLIPROXY_SRCDIR", TOP)
os.environ.setdefault("CLIPROXY_BUILDDIR", os.path.join(TOP, "_build"))
import proxyd_support as ps  # noqa: E402

KEY = "bench-gate-key-0123456789"
LUA = os.path.join(HERE, "wrk.lua")


def wrk(url, secs, auth):
    env = dict(os.environ, WRK_METHOD="GET", WRK_AUTH=auth or "", WRK_BODY="", WRK_PATCH="0")
    out = subprocess.run(["wrk", "-t2", "-c32", "-d%ds" % secs, "--timeout", "10s", "-s", LUA,
                          url], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=secs + 60)
    m = re.search(rb"BENCH rps=([0-9.]+) p50=([0-9.]+) p99=([0-9.]+) requests=(\d+) "
                  rb"bad=(\d+) errors=(\d+)", out.stdout)
    if m is None:
        raise SystemExit("wrk failed: %s" % out.stdout[-300:])
    return float(m.group(1)), int(m.group(5)) + int(m.group(6))


def start(builddir):
    ps.BUILDDIR = builddir
    d = ps.Daemon({"api-keys": [KEY]})
    d.start()
    return d


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    other = os.path.abspath(sys.argv[1])
    secs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    builds = [("this", os.path.abspath(os.environ["CLIPROXY_BUILDDIR"])), ("other", other)]
    daemons = {name: start(b) for name, b in builds}
    res = {(n, p): [] for n, _ in builds for p in ("/healthz", "/v1/models")}
    bad = 0
    try:
        for _ in range(rounds):
            for name, _ in builds:
                for path in ("/healthz", "/v1/models"):
                    rps, b = wrk("http://127.0.0.1:%d%s" % (daemons[name].port, path), secs,
                                 "Bearer " + KEY if path != "/healthz" else None)
                    res[(name, path)].append(rps)
                    bad += b
    finally:
        for d in daemons.values():
            d.stop()
            d.cleanup()
    for path in ("/healthz", "/v1/models"):
        a = statistics.median(res[("this", path)])
        b = statistics.median(res[("other", path)])
        print("GET %-11s this %8.0f req/s   other %8.0f req/s   ratio %.3f" %
              (path, a, b, a / b if b else 0))
    print("rounds %d x %d s, 32 connections, non-2xx or errors: %d" % (rounds, secs, bad))


if __name__ == "__main__":
    main()
