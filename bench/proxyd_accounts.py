#!/usr/bin/env python3
"""proxyd_accounts.py - cliproxyd with many OAuth accounts in auth-dir
(issue 12): how long until a new account file is served when N accounts
are already there (each round adds one file, then asks for a model only
that new account's kind serves until it gets 200), and the daemon's VmRSS
with the N accounts loaded. Prints the median and p99 over the rounds.
Loopback only (api_mock); stops itself.

    CLIPROXY_BUILDDIR=_build python3 bench/proxyd_accounts.py [N] [rounds]
"""
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
sys.path.insert(0, os.path.join(TOP, "tests", "mock"))
os.environ.setdefault("CLIPROXY_SRCDIR", TOP)
os.environ.setdefault("CLIPROXY_BUILDDIR", os.path.join(TOP, "_build"))
import proxyd_support as ps  # noqa: E402
import api_mock  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def write(d, name, doc):
    tmp = os.path.join(d.auth, "." + name)
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, os.path.join(d.auth, name))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    m = api_mock.ApiMock().start()
    u = m.url
    d = ps.Daemon({"api-keys": ["k"], "endpoints": {
        "claude": u, "qwen": u + "/qwen/v1", "claude-token-url": u + "/t",
        "qwen-token-url": u + "/t"}})
    try:
        for i in range(n):
            write(d, "claude-%05d.json" % i, {"type": "claude", "access_token":
                                              "sk-ant-oat01-%05d" % i, "expired": "2099-01-01T00:00:00Z"})
        d.start()
        d.wait_status(lambda st: len(st["credentials"]["list"]) == n, timeout=60)
        rss = ps.rss_kib(d.proc.pid)
        lat = []
        for r in range(rounds):
            name = "qwen-%03d.json" % r
            t0 = time.time()
            write(d, name, {"type": "qwen", "access_token": "q-%d" % r,
                            "expired": "2099-01-01T00:00:00Z"})
            while True:
                st, _, _ = d.chat("k", "qwen3-coder-plus")
                if st == 200:
                    break
                time.sleep(0.002)
            lat.append((time.time() - t0) * 1000)
            os.unlink(os.path.join(d.auth, name))
            while d.chat("k", "qwen3-coder-plus")[0] == 200:
                time.sleep(0.002)
        print("accounts loaded: %d claude; VmRSS %d KiB" % (n, rss))
        print("new account file -> served: median %.1f ms, p99 %.1f ms (%d rounds)"
              % (pct(lat, 50), pct(lat, 99), rounds))
    finally:
        d.cleanup()
        m.stop()


if __name__ == "__main__":
    main()
