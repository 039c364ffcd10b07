#!/usr/bin/env python3
"""usage.py - GET /v0/management/usage over a big usage database (issue 15:
a 30-day hourly series over 10 million raw rows in under 200 ms).

usage: bench/usage.py [-n ROWS] [-r REPEATS] [--db PATH]
  run from a build tree (or set CLIPROXY_BUILDDIR / CLIPROXY_SRCDIR).

1. the schema comes from the core writer (tests/integration/usage_fill with
   no rows), so the bench measures the real tables and indexes;
2. ROWS raw rows spread over the last 30 days are inserted in one
   transaction by one INSERT ... SELECT over a recursive counter (random
   keys, models, providers, credentials, statuses, tokens, latencies), and
   the hourly aggregates (one table row per hour, dimension and value, as
   usage.c keeps them) are built from them with one GROUP BY per
   dimension, the latency histogram packed as usage.c packs it;
3. the responder runs under lighttpd (mod_fastcgi, the packaged snippet),
   and each query is timed from the request to the last byte: a 30-day
   hourly series without grouping and by model, a 30-day daily series by
   key, and a 1-hour minute series (raw rows). The first request of each
   kind is a warm-up (page cache); the figures are min / median / max of
   the rest. The series' request total is checked against ROWS.
Figures depend on the machine (the CI box is a shared 2-core VM).
"""
import argparse
import os
import sqlite3
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("CLIPROXY_SRCDIR") or os.path.abspath(os.path.join(HERE, ".."))
os.environ.setdefault("CLIPROXY_SRCDIR", SRC)
os.environ.setdefault("CLIPROXY_BUILDDIR", os.getcwd())
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
import harness  # noqa: E402
import mgmtlib  # noqa: E402

# usage.c's latency buckets (upper bounds, ms; the last is open)
LIMITS = [25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500,
          10000, 15000, 20000, 30000, 60000, 120000, 300000]
DAYS = 30


def fill(db, n):
    t0 = time.time()
    out = subprocess.run([harness.build_path("tests/integration/usage_fill"), db],
                         input=b"", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if out.returncode != 0:
        raise SystemExit("usage_fill: %s" % out.stderr.decode())
    now = int(time.time())
    start = (now - DAYS * 86400) * 1000
    span = DAYS * 86400 * 1000
    bucket = "CASE " + " ".join("WHEN t<=%d THEN %d" % (lim, i)
                                for i, lim in enumerate(LIMITS)) + " ELSE %d END" % len(LIMITS)
    c = sqlite3.connect(db, isolation_level=None)
    # a bulk load: no journal (one huge transaction in the WAL grows
    # without bound), WAL again afterwards as the writer keeps it
    c.execute("PRAGMA journal_mode=OFF")
    c.execute("PRAGMA synchronous=OFF")
    c.execute("PRAGMA cache_size=-262144")
    c.execute("BEGIN")
    c.execute("""
        WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM seq WHERE i+1<?1),
        r AS (SELECT i, ?2 + i * ?3 / ?1 AS ts, abs(random()) % 20 AS k,
                     abs(random()) % 12 AS m, abs(random()) % 4 AS p,
                     abs(random()) % 30 AS cr, abs(random()) % 100 AS st,
                     abs(random()) % 40000 AS t FROM seq)
        INSERT INTO usage_raw SELECT ts, 'key-' || k, 'model-' || m, 'up-' || m,
            CASE p WHEN 0 THEN 'claude' WHEN 1 THEN 'codex' WHEN 2 THEN 'gemini'
                   ELSE 'openai-compat' END,
            'cred-' || cr || '.json', 'openai-chat',
            CASE WHEN st < 95 THEN 200 WHEN st < 98 THEN 429 ELSE 500 END,
            i % 5000, i % 3000, i % 100, i % 50, t / 4, t, 1000 + i % 5000,
            2000 + i % 9000, 0, """ + bucket + " FROM r", (n, start, span))
    t1 = time.time()
    sums = ", ".join("SUM(lat_bucket=%d)" % i for i in range(len(LIMITS) + 1))
    nhourly = 0
    for dim, col in enumerate(("''", "key_id", "model", "provider", "credential")):
        rows = c.execute("SELECT ts/3600000*3600, %d, %s, COUNT(*),"
                         " SUM(status=0 OR status>=400), SUM(in_tok), SUM(out_tok),"
                         " SUM(cached_tok), SUM(reasoning_tok), SUM(bytes_in), SUM(bytes_out), "
                         "%s FROM usage_raw GROUP BY 1, 3" % (dim, col, sums)).fetchall()
        c.executemany("INSERT INTO usage_hourly VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                      (r[:11] + (struct.pack("<%dq" % (len(LIMITS) + 1), *r[11:]),)
                       for r in rows))
        nhourly += len(rows)
    c.execute("COMMIT")
    c.execute("PRAGMA journal_mode=WAL")
    c.close()
    print("filled %d raw rows in %.1f s, %d hourly rows in %.1f s, file %.0f MiB"
          % (n, t1 - t0, nhourly, time.time() - t1, os.path.getsize(db) / 2 ** 20))


def timed(dep, path, repeats):
    times = []
    body = None
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        r = dep.req("GET", path)
        dt = (time.perf_counter() - t0) * 1000
        if r.status != 200:
            raise SystemExit("%s: %r" % (path, r))
        if i > 0:
            times.append(dt)
        body = r
    return times, body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10_000_000)
    ap.add_argument("-r", "--repeats", type=int, default=10)
    ap.add_argument("--db", help="reuse this filled database")
    a = ap.parse_args()
    dep = mgmtlib.Deployment("lighttpd")
    state = os.path.join(dep.dir, "state")
    os.makedirs(state)
    db = os.path.join(state, "usage.sqlite")
    if a.db:
        os.symlink(os.path.abspath(a.db), db)
    else:
        fill(db, a.n)
    harness.give(state)
    for f in os.listdir(state):
        harness.give(os.path.join(state, f))
    try:
        dep.start()
        dep.write_config(dep.config_text() + 'state-dir: "%s"\n' % state)
        now = int(time.time())
        frm = now - DAYS * 86400
        cases = [
            ("30 days hourly", "/usage?from=%d&to=%d&step=hour" % (frm, now)),
            ("30 days hourly by model", "/usage?from=%d&to=%d&step=hour&by=model" % (frm, now)),
            ("30 days daily by key", "/usage?from=%d&to=%d&step=day&by=key" % (frm, now)),
            ("1 hour by minute (raw rows)", "/usage?from=%d&to=%d&step=minute" % (now - 3600, now)),
        ]
        print("%-30s %8s %8s %8s  %s" % ("query", "min ms", "median", "max", "requests"))
        for name, path in cases:
            times, r = timed(dep, path, a.repeats)
            total = r.json()["totals"]["requests"]
            print("%-30s %8.1f %8.1f %8.1f  %d" % (name, min(times), statistics.median(times),
                                                  max(times), total))
            if name == "30 days hourly" and not a.db and total != a.n:
                raise SystemExit("the series counts %d requests, %d rows were written"
                                 % (total, a.n))
    finally:
        dep.stop()


if __name__ == "__main__":
    main()
