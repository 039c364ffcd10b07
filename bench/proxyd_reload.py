#!/usr/bin/env python3
"""proxyd_reload.py - cliproxyd reload latency: how long from a config
change on disk until the next request is admitted with the new client key.

Each round writes the config the way the management responder does (temp
file + rename), then polls with the new key until it gets 200. Prints the
median and p99 over N rounds (default 200). Loopback only; stops itself.

    CLIPROXY_BUILDDIR=_build python3 bench/proxyd_reload.py [rounds]
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
os.environ.setdefault("CLIPROXY_SRCDIR", TOP)
os.environ.setdefault("CLIPROXY_BUILDDIR", os.path.join(TOP, "_build"))
import proxyd_support as ps  # noqa: E402
import openai_mock  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    m = openai_mock.MockUpstream().start()

    def cfg(key):
        return {"api-keys": [key],
                "openai-compatibility": [ps.compat("mock", m.base_url, ["k-ok"], [("up", "m")])]}

    d = ps.Daemon(cfg("key-0"))
    lat = []
    polls = 0
    try:
        d.start()
        conn = d.conn()
        body = b'{"model":"m"}'
        for i in range(1, rounds + 1):
            key = "key-%d" % i
            d.write_config(cfg(key))
            t0 = time.perf_counter()
            while True:
                conn.request("POST", "/v1/chat/completions", body,
                             {"Authorization": "Bearer " + key,
                              "Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                polls += 1
                if r.status == 200:
                    break
                if time.perf_counter() - t0 > 10:
                    raise SystemExit("round %d: new key never admitted" % i)
            lat.append((time.perf_counter() - t0) * 1000.0)
        conn.close()
        st = d.status()
    finally:
        rc = d.stop()
        d.cleanup()
        m.stop()
    print("cliproxyd reload latency (config rename -> new key admitted), %d rounds" % rounds)
    print("  median %.1f ms   p99 %.1f ms   min %.1f ms   max %.1f ms" %
          (pct(lat, 50), pct(lat, 99), min(lat), max(lat)))
    print("  (debounce %d ms included; %d polling requests; daemon reloads %d; exit %s)" %
          (20, polls, st["reloads"], rc))


if __name__ == "__main__":
    main()
