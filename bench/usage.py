#!/usr/bin/env python3
"""usage.py - GET /v0/management/usage over a big usage database (issue 15:
a 30-day hourly series over 10 million raw rows in under 200 ms).

usage: bench/usage.py [-n ROWS] [-r REPEATS] [--db PATH] [--only proxy|query]
  run from a build tree (or set CLIPROXY_BUILDDIR / CLIPROXY_SRCDIR).

0. (proxy) figure 5 with usage recording on and off in the same run:
   three cliproxyd on the same nginx upstream (bench.py's figure 5
   set-up): "on", and "off" and "off2" with --no-usage. Each round runs
   wrk against each daemon, the order rotating; the cost is the median
   over rounds of 1 - on/off req/s (issue 15: under 5 %), and off2
   against off, an A/A comparison in the same rounds, shows what the
   bench cannot resolve on this machine. CPU per request is read per
   thread (the loop; the usage writer, cp-usage). --pin puts every
   daemon on core 0 and wrk and nginx on the others: the worst case (the
   writer takes the loop's core) and the quietest figure. The recording
   daemon's status must show no dropped rows, and its database as many
   rows as wrk made requests.

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


PIN = False  # main() sets it (--pin)


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


def thread_ticks(pid):
    """CPU clock ticks of a daemon's threads by name: "loop" is the main
    thread; the others by their comm (cp-usage, cp-refresh)."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = "loop" if int(tid) == pid else f.read().strip()
        except OSError:
            continue
        out[name] = out.get(name, 0) + int(fields[11]) + int(fields[12])
    return out


def proxy_cost(duration, repeats):
    """Figure 5, recording on vs off (see the module doc)."""
    argv = sys.argv
    sys.argv = [argv[0], "--builddir", os.environ["CLIPROXY_BUILDDIR"],
                "--duration", str(duration), "--repeats", str(repeats)]
    try:
        import bench  # noqa: E402  (bench.py parses its own arguments)
    finally:
        sys.argv = argv
    import json

    class Daemon(bench.Daemon):
        extra = []

        def start(self):
            binary = self.binary
            self.binary = binary
            port = harness.free_port()
            log = os.path.join(self.dir, "cliproxyd.log")
            # --pin: each daemon (every thread: the usage writer too) on
            # core 0, wrk and nginx on the others (this process's
            # affinity, which they inherit): the two daemons then differ
            # only by recording, not by where the scheduler put them
            pin = ["taskset", "-c", "0"] if PIN else []
            self.proc = harness.start(pin + [self.binary, "-c", self.config, "--listen",
                                             "127.0.0.1:%d" % port, "--state-dir", self.state,
                                             "--log", "stderr"] + self.extra, log=log)
            self.port = port
            harness.wait_port(port, proc=self.proc, what="cliproxyd", log=log)
            return self

    if PIN:
        os.sched_setaffinity(0, set(range(1, os.cpu_count())))
    top = harness.tempdir("cliproxy-bench-usage-")
    up, up_port = bench.nginx_upstream(top)
    daemons = {}
    try:
        # "off2" is a second --no-usage daemon: off2 against off is an
        # A/A comparison, what this bench cannot tell apart on this
        # machine, measured in the same rounds
        for name, extra in (("on", []), ("off", ["--no-usage"]), ("off2", ["--no-usage"])):
            d = os.path.join(top, name)
            os.makedirs(os.path.join(d, "auth"))
            dm = Daemon(d)
            dm.extra = extra
            dm.write_config(up_port, os.path.join(d, "auth"))
            daemons[name] = dm.start()
            time.sleep(0.3)
            dm.chat()
        path = "/v1/chat/completions"
        on = daemons["on"]
        names = ("on", "off", "off2")
        made = 0
        for conns in (16, 256):
            for dm in daemons.values():   # warm-up
                r = bench.wrk("http://127.0.0.1:%d%s" % (dm.port, path), conns,
                              "Bearer " + dm.key, method="POST", body=bench.CHAT_BODY,
                              duration=1)
                if dm is on:
                    made += r["requests"]

            def run(dm):
                nonlocal made
                t0 = thread_ticks(dm.proc.pid)
                r = bench.wrk("http://127.0.0.1:%d%s" % (dm.port, path), conns,
                              "Bearer " + dm.key, method="POST", body=bench.CHAT_BODY)
                t1 = thread_ticks(dm.proc.pid)
                n = max(1, r["requests"])
                # CPU per request by thread: the event loop, the usage
                # writer (cp-usage); the refresh workers idle here
                hz = os.sysconf("SC_CLK_TCK")
                for name in ("loop", "cp-usage"):
                    r[name] = 1e6 * (t1.get(name, 0) - t0.get(name, 0)) / hz / n
                if dm is on:
                    made += r["requests"]
                return r

            # rounds of one run of each daemon, the order rotating (a
            # drift of the machine weighs on all three); the cost is the
            # median over rounds of 1 - on/off, the A/A figure the same
            # for off2
            cost, aa, res = [], [], {n: [] for n in names}
            for i in range(repeats):
                got = {}
                for k in range(len(names)):
                    name = names[(i + k) % len(names)]
                    got[name] = run(daemons[name])
                    res[name].append(got[name])
                cost.append(1.0 - got["on"]["rps"] / got["off"]["rps"])
                aa.append(1.0 - got["off2"]["rps"] / got["off"]["rps"])
            print("%d connections, %d rounds of %.0f s per daemon:" % (conns, repeats, duration))
            print("  %-9s %9s %8s %8s %11s %13s" % ("recording", "req/s", "p50 ms", "p99 ms",
                                                   "loop us/req", "writer us/row"))
            med = {}
            for name in names:
                xs = res[name]
                med[name] = {k: statistics.median(x[k] for x in xs)
                             for k in ("rps", "p50", "p99", "loop", "cp-usage")}
                m = med[name]
                print("  %-9s %9.0f %8.2f %8.2f %11.1f %13s" % (
                    name, m["rps"], m["p50"], m["p99"], m["loop"],
                    "%.2f" % m["cp-usage"] if name == "on" else "-"))

            def quart(xs):
                xs = sorted(xs)
                return (100 * statistics.median(xs), 100 * xs[len(xs) // 4],
                        100 * xs[(3 * len(xs)) // 4])
            print("  cost of recording in req/s: %.1f %% (quartiles %.1f .. %.1f %%; bound 5 %%)"
                  % quart(cost))
            print("  A/A, off2 against off:      %.1f %% (quartiles %.1f .. %.1f %%)" % quart(aa))
            print("  daemon CPU per request, on against off: %+.1f %% (loop + writer); "
                  "off2 against off: %+.1f %%" % (
                      100.0 * (med["on"]["loop"] + med["on"]["cp-usage"] - med["off"]["loop"])
                      / med["off"]["loop"],
                      100.0 * (med["off2"]["loop"] - med["off"]["loop"]) / med["off"]["loop"]))
        time.sleep(2.5)
        with open(os.path.join(on.state, "cliproxyd.status")) as f:
            st = json.load(f)["usage"]
        c = sqlite3.connect(os.path.join(on.state, "usage.sqlite"))
        rows = c.execute("SELECT COUNT(*) FROM usage_raw").fetchone()[0]
        c.close()
        print("recording daemon: %d rows in the database (wrk counted %d requests + 1), "
              "status %s" % (rows, made, json.dumps(st)))
    finally:
        for dm in daemons.values():
            if dm.proc is not None:
                harness.stop(dm.proc)
        harness.stop(up)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10_000_000)
    ap.add_argument("-r", "--repeats", type=int, default=10)
    ap.add_argument("--db", help="reuse this filled database")
    ap.add_argument("--only", choices=("proxy", "query"))
    ap.add_argument("--duration", type=float, default=2.0, help="seconds per wrk run (proxy)")
    ap.add_argument("--rounds", type=int, default=10, help="on/off pairs of wrk runs (proxy)")
    ap.add_argument("--pin", action="store_true",
                    help="pin each daemon (usage writer included) to core 0, wrk and nginx "
                    "to the others")
    a = ap.parse_args()
    global PIN
    PIN = a.pin and (os.cpu_count() or 1) >= 2
    if a.only != "query":
        proxy_cost(a.duration, a.rounds)
    if a.only == "proxy":
        return
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
