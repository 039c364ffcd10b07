#!/usr/bin/env python3
"""mgmt_list.py - how long one list edit takes as the list grows (issue 10
item 6): DELETE /api-keys?value= (every equal entry), PATCH {old,new} and
DELETE ?index= on a list of 1k, 10k and 100k items, through lighttpd
mod_fastcgi starting cliproxy-mgmt (conf/lighttpd/cliproxy-mgmt.conf).

Each edit holds the config lock from the read to the rename, so its time
is what a concurrent writer waits (the wait is bounded at 5 s, DESIGN 4).
A linear edit costs about the same per item at every size: the last
column (microseconds per item) must stay flat. Not run by make check.

usage: bench/mgmt_list.py [--sizes 1000,10000,100000] [--repeats N]
  run from a build tree (or set CLIPROXY_BUILDDIR / CLIPROXY_SRCDIR).
The management key is generated per run and never printed.
"""
import argparse
import os
import statistics
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("CLIPROXY_SRCDIR") or os.path.abspath(os.path.join(HERE, ".."))
os.environ.setdefault("CLIPROXY_SRCDIR", SRC)
os.environ.setdefault("CLIPROXY_BUILDDIR", os.getcwd())
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import mgmtlib  # noqa: E402


def config_with(dep, n):
    """The test config with api-keys holding n distinct items."""
    items = "".join('  - "k%07d"\n' % i for i in range(n))
    text = dep.config_text()
    head, sep, tail = text.partition('api-keys:\n  - "key-one"    # first client key\n  - "key-two"\n')
    assert sep, "template changed"
    return head + "api-keys:\n" + items + tail


def timed(dep, method, path, body=None):
    t0 = time.perf_counter()
    r = dep.req(method, path, body)
    ms = (time.perf_counter() - t0) * 1000.0
    if r.status != 200:
        raise SystemExit("%s %s: unexpected %r" % (method, path.split("?")[0], r))
    return ms


CASES = (
    ("DELETE ?value=", lambda n: ("DELETE", "/api-keys?value=" +
                                  urllib.parse.quote("k%07d" % (n // 2)), None)),
    ("PATCH {old,new}", lambda n: ("PATCH", "/api-keys",
                                   {"old": "k%07d" % (n // 2), "new": "changed"})),
    ("DELETE ?index=", lambda n: ("DELETE", "/api-keys?index=%d" % (n // 2), None)),
)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    dep = mgmtlib.Deployment("lighttpd").start()
    try:
        res = {}
        for n in sizes:
            text = config_with(dep, n)
            # warm the responder processes (bcrypt once, then the memo)
            dep.write_config(text)
            for _ in range(4):
                dep.req("GET", "/debug")
            for _ in range(a.repeats):
                # interleaved: every case sees the same machine noise
                for name, mk in CASES:
                    dep.write_config(text)
                    method, path, body = mk(n)
                    res.setdefault((name, n), []).append(timed(dep, method, path, body))
        print("list edit on api-keys through lighttpd mod_fastcgi, median of %d (ms),"
              " config size: %s" % (a.repeats, ", ".join(
                  "%dk items %.1f MiB" % (n // 1000, len(config_with(dep, n)) / 1048576.0)
                  for n in sizes)))
        print("%-16s %s" % ("", "".join("%14s" % ("%d items" % n) for n in sizes)) +
              "   us/item at each size")
        for name, _ in CASES:
            meds = [statistics.median(res[(name, n)]) for n in sizes]
            print("%-16s %s   %s" % (name, "".join("%11.1f ms" % m for m in meds),
                                     " ".join("%.2f" % (m * 1000.0 / n) for m, n in zip(meds, sizes))))
    finally:
        dep.stop()


if __name__ == "__main__":
    main()
