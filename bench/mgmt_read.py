#!/usr/bin/env python3
"""mgmt_read.py - requests per second of an authenticated
GET /v0/management/api-keys next to a static file served by the same
lighttpd (mod_fastcgi starting cliproxy-mgmt, conf/lighttpd/cliproxy-mgmt.conf),
both measured with ab (apache2-utils). Not run by make check.

usage: bench/mgmt_read.py [-n REQUESTS] [-c CONCURRENCY] [-r ROUNDS]
  run from a build tree (or set CLIPROXY_BUILDDIR / CLIPROXY_SRCDIR).
The management key is generated per run and never printed. The key is
checked with bcrypt once per responder process, then against the
remembered SHA-256 (DESIGN.md 5), so the warm-up round matters.
Figures depend heavily on the machine (the CI box is a shared 2-core VM).
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("CLIPROXY_SRCDIR") or os.path.abspath(os.path.join(HERE, ".."))
os.environ.setdefault("CLIPROXY_SRCDIR", SRC)
os.environ.setdefault("CLIPROXY_BUILDDIR", os.getcwd())
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402
import mgmtlib  # noqa: E402


def ab(exe, n, c, url, headers=()):
    argv = [exe, "-q", "-n", str(n), "-c", str(c)]
    for h in headers:
        argv += ["-H", h]
    out = subprocess.run(argv + [url], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    text = out.stdout.decode(errors="replace")
    if out.returncode != 0:
        raise SystemExit("ab failed: %s" % out.stderr.decode(errors="replace").strip())
    rps = float(re.search(r"Requests per second:\s+([0-9.]+)", text).group(1))
    failed = re.search(r"Failed requests:\s+([0-9]+)(.*\n(\s+\(.*\)\n)?)", text)
    non2xx = re.search(r"Non-2xx responses:\s+([0-9]+)", text)
    mean = float(re.search(r"Time per request:\s+([0-9.]+) \[ms\] \(mean\)", text).group(1))
    bad = "%s failed%s, %s non-2xx" % (failed.group(1), (failed.group(3) or "").rstrip(),
                                        non2xx.group(1) if non2xx else "0")
    return rps, mean, bad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("-c", type=int, default=4)
    ap.add_argument("-r", "--rounds", type=int, default=3)
    a = ap.parse_args()
    exe = harness.need_program("ab", "apache2-utils")
    dep = mgmtlib.Deployment("lighttpd").start()
    try:
        base = "http://127.0.0.1:%d" % dep.server.port
        auth = "Authorization: Bearer " + dep.key
        # warm every responder process (one bcrypt each, then the memo)
        ab(exe, 200, a.c, base + mgmtlib.PREFIX + "/api-keys", [auth])
        # interleaved rounds, best of each: the machine is shared and noisy
        api = static = None
        for _ in range(a.rounds):
            r = ab(exe, a.n, a.c, base + mgmtlib.PREFIX + "/api-keys", [auth])
            api = r if api is None or r[0] > api[0] else api
            r = ab(exe, a.n, a.c, base + "/static.txt")
            static = r if static is None or r[0] > static[0] else static
        print("requests %d x %d rounds (best), concurrency %d, lighttpd max-procs 4"
              % (a.n, a.rounds, a.c))
        print("GET /v0/management/api-keys (authenticated): %9.1f req/s  %.3f ms mean  (%s)"
              % api)
        print("GET /static.txt (static file):               %9.1f req/s  %.3f ms mean  (%s)"
              % static)
        print("ratio management/static: %.3f" % (api[0] / static[0]))
    finally:
        dep.stop()


if __name__ == "__main__":
    main()
