#!/usr/bin/env python3
"""mgmt_status_sync.py - "is my change live?" (issue 13): how long from a
management PUT until GET /v0/management/status answers "in-sync": true,
i.e. until cliproxyd has reloaded the file as the PUT left it and said so
in its status file.

lighttpd + cliproxy-mgmt (the packaged snippet, mgmtlib.Deployment) and
cliproxyd on the same config, both finding the state dir by the shared
default rule (<config dir>/state). Each round: PUT /api-keys with a new
key (timed), then GET /status until in-sync (timed from the PUT's
start). Rounds are 50 ms apart, as separate administrator changes are
(back-to-back changes wait for the daemon's 20 ms reload debounce).
Prints the median, p99, min and max over N rounds (default 100).
Loopback only; stops itself; the management key is never printed.

    CLIPROXY_BUILDDIR=_build python3 bench/mgmt_status_sync.py [rounds]
"""
import json
import os
import secrets
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
os.environ.setdefault("CLIPROXY_SRCDIR", TOP)
os.environ.setdefault("CLIPROXY_BUILDDIR", os.path.join(TOP, "_build"))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import harness  # noqa: E402
import mgmtlib  # noqa: E402

GAP_S = 0.05  # between rounds


def pctl(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def measure(rounds=100):
    """Run the rounds; returns a dict of figures in ms."""
    dep = mgmtlib.Deployment("lighttpd").start()
    daemon = None
    try:
        state = os.path.join(dep.cfgdir, "state")
        os.makedirs(state, exist_ok=True)
        harness.give(state)
        log = os.path.join(dep.dir, "cliproxyd.log")
        daemon = harness.start([harness.build_path("src/proxyd/cliproxyd"), "-c", dep.config,
                                "--listen", "127.0.0.1:0", "--log", "stderr"], log=log)

        def in_sync():
            r = dep.req("GET", "/status")
            if r.status != 200:
                raise harness.HarnessError("GET /status: %r" % r)
            return r.json()["in-sync"]

        deadline = time.monotonic() + 20
        while not in_sync():
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise harness.HarnessError("cliproxyd never in sync%s" % harness.tail(log))
            time.sleep(0.05)
        lat, puts, polls = [], [], 0
        for i in range(rounds):
            time.sleep(GAP_S)
            key = "sk-sync-%d-%s" % (i, secrets.token_hex(6))
            t0 = time.monotonic()
            r = dep.req("PUT", "/api-keys", [key])
            puts.append((time.monotonic() - t0) * 1000)
            if r.status != 200:
                raise harness.HarnessError("PUT /api-keys: %r" % r)
            while True:
                polls += 1
                if in_sync():
                    break
                if time.monotonic() - t0 > 10:
                    raise harness.HarnessError("round %d: never in sync" % i)
            lat.append((time.monotonic() - t0) * 1000)
        return {"n": rounds, "p50": statistics.median(lat), "p99": pctl(lat, 99),
                "min": min(lat), "max": max(lat), "put_p50": statistics.median(puts),
                "polls_per_round": polls / float(rounds)}
    finally:
        if daemon is not None:
            harness.stop(daemon)
        dep.stop()


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    r = measure(rounds)
    print("management PUT -> GET /status in-sync:true (lighttpd + cliproxyd), %d rounds"
          % r["n"])
    print("  median %.1f ms   p99 %.1f ms   min %.1f ms   max %.1f ms   (target: median < 100 ms)"
          % (r["p50"], r["p99"], r["min"], r["max"]))
    print("  (the PUT itself: median %.1f ms; %.1f /status polls per round)"
          % (r["put_p50"], r["polls_per_round"]))
    print(json.dumps(r))


if __name__ == "__main__":
    main()
