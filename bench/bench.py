#!/usr/bin/env python3
"""bench.py - the figures of bench/run (issue 7), each measured in the same
run as its reference, medians over interleaved repeats (the machine is
shared and noisy: only ratios taken in one run mean anything).

Run through bench/run (it installs wrk, nginx-light, gnuplot-nox, builds
the tree and the two helper programs). Everything listens on loopback
ports chosen at run time; every process started here is stopped on exit.
Keys are generated per run and never printed.

  bench.py --builddir DIR [--duration S] [--repeats N] [--only 1,2,...]
           [--streams 1000,5000,9900] [--out bench/results]
"""
import argparse
import datetime
import http.client
import json
import os
import platform
import re
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, ".."))

# ------------------------------------------------------------------ setup

ap = argparse.ArgumentParser()
ap.add_argument("--builddir", required=True)
ap.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats (median)")
ap.add_argument("--only", default="1,2,3,4,5,6,7,8")
ap.add_argument("--streams", default="1000,5000,9900")
ap.add_argument("--reloads", type=int, default=200)
ap.add_argument("--syncs", type=int, default=100, help="figure 8 rounds")
ap.add_argument("--out", default=os.path.join(HERE, "results"))
ARGS = ap.parse_args()
ONLY = set(int(x) for x in ARGS.only.split(","))

os.environ["CLIPROXY_SRCDIR"] = SRC
os.environ["CLIPROXY_BUILDDIR"] = os.path.abspath(ARGS.builddir)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
sys.path.insert(0, HERE)
import harness  # noqa: E402
import mgmtlib  # noqa: E402
import nginxlib  # noqa: E402
import proxyd_support as ps  # noqa: E402

_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))
NOFILE = _hard

WRK = harness.need_program("wrk", "wrk")
NGINX = harness.need_program("nginx", "nginx-light")
LUA = os.path.join(HERE, "wrk.lua")
PREFIX = mgmtlib.PREFIX
T_START = time.monotonic()


def log(msg):
    sys.stderr.write("[%6.1fs] %s\n" % (time.monotonic() - T_START, msg))
    sys.stderr.flush()


def tool(name):
    """A helper program bench/run compiled into the build dir."""
    return harness.build_path(os.path.join("bench", name))


# ------------------------------------------------------------- measuring

def wrk(url, conns, auth=None, method="GET", body=None, patch=False, duration=None,
        threads=None):
    """One wrk run; returns dict rps, p50, p99 (ms), requests, bad, errors."""
    threads = threads or min(2, conns)
    env = dict(os.environ, WRK_METHOD=method, WRK_AUTH=auth or "", WRK_BODY=body or "",
               WRK_PATCH="1" if patch else "0")
    argv = [WRK, "-t%d" % threads, "-c%d" % conns, "-d%ds" % max(1, round(duration or ARGS.duration)),
            "--timeout", "10s", "-s", LUA, url]
    out = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=(duration or ARGS.duration) + 60)
    text = out.stdout.decode(errors="replace")
    m = re.search(r"BENCH rps=([0-9.]+) p50=([0-9.]+) p99=([0-9.]+) requests=(\d+) "
                  r"bad=(\d+) errors=(\d+)", text)
    if out.returncode != 0 or m is None:
        raise harness.HarnessError("wrk failed on %s: %s" % (url, text[-500:]))
    return {"rps": float(m.group(1)), "p50": float(m.group(2)), "p99": float(m.group(3)),
            "requests": int(m.group(4)), "bad": int(m.group(5)), "errors": int(m.group(6))}


def interleave(cases, repeats=None):
    """cases: [(name, fn)]; runs every fn once per round, rounds repeated,
    so every case sees the same noise. Returns {name: median result}, where
    each numeric field is the median over rounds and bad/errors are sums."""
    runs = {name: [] for name, _ in cases}
    for r in range(repeats or ARGS.repeats):
        for name, fn in cases:
            runs[name].append(fn())
    out = {}
    for name, rs in runs.items():
        m = {}
        for k in rs[0]:
            vals = [x[k] for x in rs]
            m[k] = sum(vals) if k in ("bad", "errors") else statistics.median(vals)
        m["runs"] = len(rs)
        out[name] = m
    return out


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pids_of(exe, env_marker=None):
    """Processes whose executable is exe (the responders a web server
    spawned), optionally only those whose environment holds env_marker."""
    exe = os.path.realpath(exe)
    found = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.path.realpath("/proc/%s/exe" % d) != exe:
                    continue
                if env_marker is not None:
                    with open("/proc/%s/environ" % d, "rb") as f:
                        if env_marker.encode() not in f.read():
                            continue
                found.append(int(d))
            except OSError:
                pass
    return found


def pctl(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


# ------------------------------------------------------- deployments

def mgmt_json(dep):
    r = dep.req("GET", "/api-keys")
    if r.status != 200:
        raise harness.HarnessError("GET /api-keys: %r" % r)
    return r.body


class Mgmt(mgmtlib.Deployment):
    """The packaged web-server snippets (conf/) serving cliproxy-mgmt, plus
    the FastCGI hello responder on /hello and the same JSON as a static
    file /api-keys.json, all on one server. memo=False sets the
    benchmark-only CLIPROXY_NO_KEY_MEMO=1 in the responders' environment."""

    def __init__(self, kind, memo=True):
        super().__init__(kind)
        self.memo = memo
        self.hello = os.path.join(self.dir, "fcgi_hello")
        shutil.copy(tool("fcgi_hello"), self.hello)
        os.chmod(self.hello, 0o755)

    def start(self):
        self.write_config(self.config_text(secret=self.key))
        env = {"CLIPROXY_CONFIG": self.config}
        if not self.memo:
            env["CLIPROXY_NO_KEY_MEMO"] = "1"
        if self.kind == "lighttpd":
            snippet = harness.mgmt_conf("lighttpd", self.binary, env,
                                        socket="%s/sock/mgmt.socket" % self.dir)
            snippet += ('\nfastcgi.server += ( "/hello" => (( "bin-path" => "%s", '
                        '"socket" => "%s/sock/hello.socket", "max-procs" => 4, '
                        '"check-local" => "disable" )) )\n' % (self.hello, self.dir))
            os.makedirs(os.path.join(self.dir, "sock"))
            harness.give(os.path.join(self.dir, "sock"))
            self.server = harness.lighttpd(self.dir, snippet, extforward=False,
                                           modules=harness.LIGHTTPD_MGMT_MODULES)
        else:
            snippet = harness.mgmt_conf("apache", self.binary, env)
            snippet += ("\nAlias /hello %s\n<Location /hello>\n\tSetHandler fcgid-script\n"
                        "\tOptions +ExecCGI\n\tRequire all granted\n</Location>\n" % self.hello)
            self.server = harness.apache(self.dir, snippet, remoteip=False)
        r = self.req("GET", "/debug")
        if r.status != 200:
            raise harness.HarnessError("first request failed: %r%s" % (r, self.server.error_log()))
        body = mgmt_json(self)
        harness.write_file(os.path.join(self.server.dir, "htdocs", "api-keys.json"), body)
        r = harness.http_request(self.server.port, "GET", "/hello")
        if r.status != 200:
            raise harness.HarnessError("hello responder: %r%s" % (r, self.server.error_log()))
        return self

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.server.port, path)

    def auth(self):
        return "Bearer " + self.key


NGINX_BODY = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
    "model": "bench-upstream",
    "choices": [{"index": 0, "message": {"role": "assistant",
                                         "content": "Hello! How can I help you today?"},
                 "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18}},
    separators=(",", ":"))
CHAT_BODY = json.dumps({"model": "bench-model",
                        "messages": [{"role": "user", "content": "Hello"}]},
                       separators=(",", ":"))


def nginx(dir, name, server_block, upstream_block=""):
    """nginx with one worker (nginxlib.py). Returns (process, port)."""
    return nginxlib.start(NGINX, dir, name, server_block, upstream_block, NOFILE)


def nginx_upstream(dir):
    body = NGINX_BODY.replace("'", "\\'")
    return nginx(dir, "nginx-upstream", """
        location = /v1/chat/completions {
            default_type application/json;
            return 200 '%s';
        }""" % body)


def nginx_peer(dir, up_port):
    return nginx(dir, "nginx-peer", """
        location / {
            proxy_pass http://bench_up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }""", "upstream bench_up { server 127.0.0.1:%d; keepalive 64; }" % up_port)


class Daemon:
    """cliproxyd over a config whose openai-compatibility provider points
    at a loopback upstream; clients use a per-run key."""

    def __init__(self, dir, config=None):
        self.dir = dir
        self.binary = harness.build_path("src/proxyd/cliproxyd")
        self.key = "sk-bench-" + secrets.token_urlsafe(18)
        self.config = config or os.path.join(dir, "cliproxyd.yaml")
        self.state = os.path.join(dir, "state")
        os.makedirs(self.state, exist_ok=True)
        self.proc = None
        self.port = None

    @staticmethod
    def provider_yaml(up_port):
        return ("openai-compatibility:\n"
                "  - name: bench\n"
                "    base-url: \"http://127.0.0.1:%d/v1\"\n"
                "    api-keys: [\"sk-upstream-bench\"]\n"
                "    models:\n"
                "      - name: bench-upstream\n"
                "        alias: bench-model\n" % up_port)

    def write_config(self, up_port, auth_dir):
        text = ("# bench/run cliproxyd config\nhost: 127.0.0.1\nport: 8318\n"
                "auth-dir: \"%s\"\ndebug: false\nrequest-log: false\n"
                "api-keys:\n  - \"%s\"\n" % (auth_dir, self.key)) + self.provider_yaml(up_port)
        harness.write_file(self.config, text, mode=0o640)

    def start(self):
        self.port = harness.free_port()
        log = os.path.join(self.dir, "cliproxyd.log")
        self.proc = harness.start([self.binary, "-c", self.config, "--listen",
                                   "127.0.0.1:%d" % self.port, "--state-dir", self.state,
                                   "--log", "stderr"], log=log)
        harness.wait_port(self.port, proc=self.proc, what="cliproxyd", log=log)
        deadline = time.monotonic() + 10
        while True:
            r = harness.http_request(self.port, "GET", "/healthz")
            if r.status == 200:
                break
            if time.monotonic() > deadline:
                raise harness.HarnessError("cliproxyd /healthz: %r%s" % (r, harness.tail(log)))
            time.sleep(0.05)
        return self

    def chat(self):
        r = harness.http_request(self.port, "POST", "/v1/chat/completions", CHAT_BODY,
                                 {"Authorization": "Bearer " + self.key,
                                  "Content-Type": "application/json"})
        if r.status != 200:
            raise harness.HarnessError("cliproxyd chat: %r%s" % (
                r, harness.tail(os.path.join(self.dir, "cliproxyd.log"))))
        return r


# ---------------------------------------------------------------- figures

RESULTS = {}      # figure -> data, for the report
NOTES = []        # things the report must say (skipped figures, failures)


def fig1_2():
    """Management read through lighttpd and Apache next to a static file
    and the FastCGI hello ceiling (1); the same without the key memory (2)."""
    conns = 8
    for kind in ("lighttpd", "apache"):
        if 1 not in ONLY and kind == "apache":
            continue
        log("figure 1/%s: starting" % kind)
        dep = Mgmt(kind).start()
        nomemo = Mgmt(kind, memo=False).start() if 2 in ONLY else None
        try:
            cases = [
                ("mgmt", lambda: wrk(dep.url(PREFIX + "/api-keys"), conns, dep.auth())),
                ("static", lambda: wrk(dep.url("/api-keys.json"), conns)),
                ("hello", lambda: wrk(dep.url("/hello"), conns)),
            ]
            if nomemo is not None:
                cases.append(("nomemo", lambda: wrk(nomemo.url(PREFIX + "/api-keys"), conns,
                                                    nomemo.auth())))
            # warm up: every responder process spawned, one bcrypt each
            wrk(dep.url(PREFIX + "/api-keys"), conns, dep.auth(), duration=2)
            wrk(dep.url("/hello"), conns, duration=1)
            if nomemo is not None:
                wrk(nomemo.url(PREFIX + "/api-keys"), conns, nomemo.auth(), duration=2)
            res = interleave(cases)
            res["conns"] = conns
            pids = pids_of(dep.binary, "CLIPROXY_CONFIG=" + dep.config)
            res["responders"] = len(pids)
            res["responder_rss_kib"] = statistics.median([ps.rss_kib(p) for p in pids]) if pids else 0
            hp = pids_of(dep.hello)
            res["hello_rss_kib"] = statistics.median([ps.rss_kib(p) for p in hp]) if hp else 0
            RESULTS["fig1_" + kind] = res
            log("figure 1/%s: %s" % (kind, json.dumps(res)))
        finally:
            dep.stop()
            if nomemo is not None:
                nomemo.stop()


def fig3():
    """PATCH throughput with 1 and 8 writers against an fsync+rename loop
    on the same disk (the config's directory)."""
    log("figure 3: starting")
    dep = Mgmt("lighttpd").start()
    try:
        size = os.path.getsize(dep.config)
        refdir = os.path.join(dep.dir, "fsync-ref")
        os.makedirs(refdir)
        loop = tool("fsync_loop")

        def ref():
            out = subprocess.run([loop, refdir, str(ARGS.duration), str(size)],
                                 stdout=subprocess.PIPE, check=True).stdout.split()
            ops, secs = int(out[0]), float(out[1])
            return {"rps": ops / secs, "p50": secs * 1000 / max(ops, 1)}

        url = dep.url(PREFIX + "/api-keys")
        wrk(url, 1, dep.auth(), patch=True, duration=1)
        res = interleave([
            ("w1", lambda: wrk(url, 1, dep.auth(), patch=True)),
            ("w8", lambda: wrk(url, 8, dep.auth(), patch=True)),
            ("fsync", ref),
        ])
        r = dep.req("GET", "/api-keys")
        if r.status != 200 or not r.json()["api-keys"][0].startswith("bench-"):
            raise harness.HarnessError("PATCH did not change the config: %r" % r)
        res["config_bytes"] = size
        RESULTS["fig3"] = res
        log("figure 3: %s" % json.dumps(res))
    finally:
        dep.stop()


def guarded(fn, *a):
    """Run one figure; a failure becomes a note in the report and the run
    goes on with the next figure."""
    try:
        fn(*a)
    except (harness.HarnessError, OSError, subprocess.SubprocessError, ValueError) as e:
        NOTES.append("%s failed: %s" % (fn.__name__, str(e)[:2000]))
        log(NOTES[-1])


def fig4_5_6_7():
    """Everything with cliproxyd: proxy overhead (5), streaming scale (6),
    idle memory (7), reload latency (4)."""
    dir = harness.tempdir("cliproxy-bench-")
    up, up_port = nginx_upstream(dir)
    peer, peer_port = nginx_peer(dir, up_port)
    d = Daemon(dir)
    auth_dir = os.path.join(dir, "auth")
    os.makedirs(auth_dir)
    d.write_config(up_port, auth_dir)
    try:
        d.start()
        time.sleep(0.5)
        RESULTS["fig7"] = {"daemon_idle_rss_kib": ps.rss_kib(d.proc.pid)}
        d.chat()
        if 5 in ONLY:
            guarded(fig5, d, up_port, peer_port, up, peer)
        if 5 in ONLY:
            RESULTS["fig7"]["daemon_after_load_rss_kib"] = ps.rss_kib(d.proc.pid)
        if 6 in ONLY:
            guarded(fig6, dir, d)
    finally:
        if d.proc is not None:
            harness.stop(d.proc)
        harness.stop(peer)
        harness.stop(up)
    if 4 in ONLY:
        guarded(fig4)


def fig5(d, up_port, peer_port, up, peer):
    log("figure 5: starting")
    path = "/v1/chat/completions"
    direct = "http://127.0.0.1:%d%s" % (up_port, path)
    viapeer = "http://127.0.0.1:%d%s" % (peer_port, path)
    viad = "http://127.0.0.1:%d%s" % (d.port, path)
    auth = "Bearer " + d.key
    r = harness.http_request(peer_port, "POST", path, CHAT_BODY,
                             {"Content-Type": "application/json"})
    if r.status != 200:
        raise harness.HarnessError("nginx peer: %r" % r)
    res = {}
    workers = [p for p in pids_of(NGINX) if p not in (peer.pid, up.pid)
               and _parent(p) == peer.pid]
    peer_worker = workers[0] if workers else peer.pid

    def counted(url, conns, pid):
        """wrk through a proxy, plus how many upstream connections the
        proxy opened and closed per 1000 requests: sockets it left in
        TIME_WAIT towards the upstream port during the run (wrk itself
        keeps its connections, and nothing else talks to the upstream)."""
        before, cpu = time_wait(up_port), cpu_seconds(pid)
        r = wrk(url, conns, auth, method="POST", body=CHAT_BODY)
        r["upconn_per_1k"] = 1000.0 * max(0, time_wait(up_port) - before) / max(r["requests"], 1)
        r["cpu_ms_per_req"] = 1000.0 * (cpu_seconds(pid) - cpu) / max(r["requests"], 1)
        return r

    for conns in (16, 256):
        for u in (direct, viapeer, viad):
            wrk(u, conns, auth, method="POST", body=CHAT_BODY, duration=1)
        res[conns] = interleave([
            ("direct", lambda: wrk(direct, conns, auth, method="POST", body=CHAT_BODY)),
            ("nginx", lambda: counted(viapeer, conns, peer_worker)),
            ("cliproxyd", lambda: counted(viad, conns, d.proc.pid)),
        ])
        log("figure 5 @%d: %s" % (conns, json.dumps(res[conns])))
    res["nginx_worker_rss_kib"] = ps.rss_kib(peer_worker)
    RESULTS["fig5"] = res


def _parent(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def time_wait(port):
    """Loopback sockets in TIME_WAIT towards port (ss, iproute2)."""
    out = subprocess.run(["ss", "-Htan", "state", "time-wait", "dport", "=", ":%d" % port],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    return len(out.splitlines())


def stream_client(port, n, key, hold):
    env = dict(os.environ, BENCH_CLIENT_KEY=key)
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "sse_client.py"), "--port",
                          str(port), "--n", str(n), "--key-env", "BENCH_CLIENT_KEY"]
                         + (["--hold"] if hold else []),
                         env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         start_new_session=True)
    return p


def fig6(dir, d):
    """SSE streams held open through cliproxyd to a python mock that holds
    them: daemon RSS and CPU per level, time to first event."""
    log("figure 6: starting")
    # the mock prints its run-time port on stdout
    mock = subprocess.Popen([sys.executable, os.path.join(HERE, "sse_mock.py")],
                            stdout=subprocess.PIPE, start_new_session=True)
    harness._procs.append(mock)   # stopped by harness.stop_all() on any exit
    mock_port = int(mock.stdout.readline())
    # a daemon process of its own for the streams, so figure 5's load does
    # not count in its memory
    sdir = os.path.join(dir, "sse")
    os.makedirs(sdir)
    sd = Daemon(sdir)
    sd.write_config(mock_port, os.path.join(dir, "auth"))
    sd.start()
    res = {"levels": {}, "nofile": NOFILE}
    try:
        # idle time to first event: 100 sequential streams, direct vs proxied
        seq = {}
        for name, port, key in (("direct", mock_port, ""), ("cliproxyd", sd.port, sd.key)):
            vals = []
            for _ in range(3):
                p = stream_client(port, 1, key, False)
                p.wait()
            for _ in range(5):
                p = stream_client(port, 40, key, False)
                out, _ = p.communicate(timeout=60)
                j = json.loads(out.splitlines()[0])
                vals.append(j["ttfb_p50_ms"])
            seq[name] = statistics.median(vals)
        res["ttfb_idle"] = seq
        base_rss = ps.rss_kib(sd.proc.pid)
        res["base_rss_kib"] = base_rss
        for n in [int(x) for x in ARGS.streams.split(",")]:
            if 2 * n + 64 > NOFILE:
                res["levels"][n] = {"skipped": "needs %d descriptors, RLIMIT_NOFILE is %d"
                                    % (2 * n + 64, NOFILE)}
                continue
            log("figure 6: %d streams" % n)
            c0 = cpu_seconds(sd.proc.pid)
            t0 = time.monotonic()
            p = stream_client(sd.port, n, sd.key, True)
            line = p.stdout.readline()
            t1 = time.monotonic()
            c1 = cpu_seconds(sd.proc.pid)
            j = json.loads(line)
            time.sleep(1.0)
            rss_open = ps.rss_kib(sd.proc.pid)
            c2 = cpu_seconds(sd.proc.pid)
            time.sleep(3.0)
            c3 = cpu_seconds(sd.proc.pid)
            p.stdin.write(b"close\n")
            p.stdin.flush()
            p.wait(timeout=120)
            time.sleep(1.0)
            lvl = {"open": j["open"], "failed": j["failed"], "first_error": j["first_error"],
                   "ramp_s": t1 - t0, "ttfb_p50_ms": j["ttfb_p50_ms"],
                   "ttfb_p99_ms": j["ttfb_p99_ms"], "rss_kib": rss_open,
                   "rss_per_stream_kib": (rss_open - base_rss) / max(j["open"], 1),
                   "ramp_cpu_s": c1 - c0, "hold_cpu_pct": (c3 - c2) / 3.0 * 100,
                   "rss_after_close_kib": ps.rss_kib(sd.proc.pid)}
            res["levels"][n] = lvl
            log("figure 6 @%d: %s" % (n, json.dumps(lvl)))
    finally:
        harness.stop(sd.proc)
        harness.stop(mock)
    RESULTS["fig6"] = res


def fig4():
    """Management PUT returns -> cliproxyd admits the new key."""
    log("figure 4: starting")
    dep = Mgmt("lighttpd").start()
    d = Daemon(dep.dir, config=dep.config)
    # the shared config: mgmt's template plus a provider; the daemon
    # starts on it as is (its api-keys are the template's)
    text = dep.read_config().decode()
    text = text.replace("openai-compatibility: []\n", Daemon.provider_yaml(1))
    harness.write_file(dep.config, text, mode=0o640)
    harness.give(dep.config)
    d.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        lat = []
        puts = []
        misses = 0
        for i in range(ARGS.reloads):
            key = "sk-reload-%d-%s" % (i, secrets.token_hex(6))
            tp = time.monotonic()
            r = dep.req("PUT", "/api-keys", [key])
            t0 = time.monotonic()
            puts.append((t0 - tp) * 1000)
            if r.status != 200:
                raise harness.HarnessError("PUT /api-keys: %r" % r)
            while True:
                conn.request("GET", "/v1/models", headers={"Authorization": "Bearer " + key})
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    break
                if resp.status != 401:
                    raise harness.HarnessError("GET /v1/models: %d" % resp.status)
                if time.monotonic() - t0 > 10:
                    misses += 1
                    break
            lat.append((time.monotonic() - t0) * 1000)
        conn.close()
        res = {"n": len(lat), "p50": statistics.median(lat), "p99": pctl(lat, 99),
               "min": min(lat), "max": max(lat), "timeouts": misses,
               "put_p50": statistics.median(puts)}
        RESULTS["fig4"] = res
        RESULTS["fig4_samples"] = lat
        log("figure 4: %s" % json.dumps(res))
    finally:
        harness.stop(d.proc)
        dep.stop()


def fig8():
    """Management PUT -> GET /status answers in-sync (issue 13)."""
    import mgmt_status_sync
    log("figure 8: starting")
    res = mgmt_status_sync.measure(ARGS.syncs)
    RESULTS["fig8"] = res
    log("figure 8: %s" % json.dumps(res))


# ----------------------------------------------------------------- report

def machine():
    cpu = "unknown cpu"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    def ver(argv, pat):
        try:
            out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT).stdout
            m = re.search(pat, out.decode(errors="replace"))
            return m.group(1) if m else "?"
        except OSError:
            return "?"
    return ("%d x %s, %d MiB RAM, Linux %s; %s; lighttpd %s, Apache %s, nginx %s, wrk %s" % (
        os.cpu_count(), cpu, mem, platform.release(),
        ver(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"], r"(.+)"),
        ver([shutil.which("lighttpd", path="/usr/sbin:/usr/bin") or "lighttpd", "-v"],
            r"lighttpd/(\S+)"),
        ver([shutil.which("apache2", path="/usr/sbin:/usr/bin") or "apache2", "-v"],
            r"Apache/(\S+)"),
        ver([NGINX, "-v"], r"nginx/(\S+)"), ver([WRK, "--version"], r"wrk (\S+)")))


def f0(x):
    return "%.0f" % x


def f1(x):
    return "%.1f" % x


def f2(x):
    return "%.2f" % x


def pct(a, b):
    return "%.0f%%" % (100.0 * a / b) if b else "-"


def verdict(ok):
    return "**met**" if ok else "**not met**"


def report():
    L = []
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    L.append("# cliproxy benchmarks (bench/run)\n")
    L.append("Run: %s. Machine: %s.\n" % (now, machine()))
    L.append("Every figure is a median over %d interleaved repeats of %.0f s wrk runs, "
             "next to its reference measured in the same run (the machine is shared and "
             "noisy: read the ratios, not the absolute numbers). Latencies in ms. "
             "Everything on loopback; wrk, the servers and the daemon share the same %d "
             "cores.\n" % (ARGS.repeats, ARGS.duration, os.cpu_count()))
    targets = []

    for kind in ("lighttpd", "apache"):
        r = RESULTS.get("fig1_" + kind)
        if not r:
            continue
        name = {"lighttpd": "lighttpd mod_fastcgi", "apache": "Apache mod_fcgid"}[kind]
        L.append("\n## 1. Management read through %s (%d connections)\n" % (name, r["conns"]))
        L.append("| what | req/s | p50 | p99 | vs FastCGI ceiling | non-2xx/errors |")
        L.append("|---|---:|---:|---:|---:|---:|")
        rows = [("static file, same JSON", "static"), ("FastCGI hello (the ceiling)", "hello"),
                ("GET /v0/management/api-keys", "mgmt")]
        if "nomemo" in r:
            rows.append(("same, no key memory (bcrypt every request; figure 2)", "nomemo"))
        for label, k in rows:
            x = r[k]
            L.append("| %s | %s | %s | %s | %s | %d/%d |" % (
                label, f0(x["rps"]), f2(x["p50"]), f2(x["p99"]),
                pct(x["rps"], r["hello"]["rps"]), x["bad"], x["errors"]))
        ok = r["mgmt"]["rps"] >= 0.8 * r["hello"]["rps"]
        targets.append(("management read >= 80%% of the FastCGI ceiling (%s)" % name,
                        "%s of ceiling" % pct(r["mgmt"]["rps"], r["hello"]["rps"]), ok))
        L.append("\nwrk, the web server and its responders share the same cores, so "
                 "the web server's one process is the bottleneck of all three rows; the "
                 "hello row is the FastCGI path's cost, not a hard ceiling (a row above "
                 "100% is within the noise of this machine).")
        L.append("%d responder processes (packaged snippet), median RSS %d KiB each; "
                 "the hello responder %d KiB." % (r["responders"], r["responder_rss_kib"],
                                                  r["hello_rss_kib"]))
        if "nomemo" in r:
            L.append("The key memory buys %.0fx on reads (%s vs %s req/s)." % (
                r["mgmt"]["rps"] / max(r["nomemo"]["rps"], 0.001), f0(r["mgmt"]["rps"]),
                f0(r["nomemo"]["rps"])))

    r = RESULTS.get("fig3")
    if r:
        L.append("\n## 3. Management write: PATCH /api-keys (every write: lock, fsync, "
                 "rename, fsync dir)\n")
        L.append("| what | writes/s | p50 | p99 | vs fsync+rename limit | non-2xx/errors |")
        L.append("|---|---:|---:|---:|---:|---:|")
        lim = r["fsync"]["rps"]
        L.append("| fsync+rename loop, same disk, %d bytes (the limit) | %s | %s | - | 100%% | - |"
                 % (r["config_bytes"], f0(lim), f2(r["fsync"]["p50"])))
        for label, k in (("PATCH, 1 writer", "w1"), ("PATCH, 8 concurrent writers", "w8")):
            x = r[k]
            L.append("| %s | %s | %s | %s | %s | %d/%d |" % (
                label, f0(x["rps"]), f2(x["p50"]), f2(x["p99"]), pct(x["rps"], lim),
                x["bad"], x["errors"]))

    r = RESULTS.get("fig4")
    if r:
        L.append("\n## 4. Reload latency: management PUT returns -> cliproxyd admits the "
                 "new key (%d changes)\n" % r["n"])
        L.append("| median | p99 | min | max | not admitted within 10 s |")
        L.append("|---:|---:|---:|---:|---:|")
        L.append("| %s | %s | %s | %s | %d |" % (f1(r["p50"]), f1(r["p99"]), f1(r["min"]),
                                                 f1(r["max"]), r["timeouts"]))
        L.append("\ncliproxyd reloads at once on the responder's rename when its last "
                 "reload is at least 20 ms old (PXD_DEBOUNCE_MS, DESIGN 6), else when that "
                 "20 ms is up. The changes here come back to back (one per PUT), so most "
                 "wait for the rest of the 20 ms; an isolated change is admitted within "
                 "a few ms. The rename happens before the PUT returns (the responder "
                 "still fsyncs the directory and answers). The PUT itself took %s ms "
                 "(median)." % f1(r.get("put_p50", 0)))
        targets.append(("reload median < 20 ms", "%s ms" % f1(r["p50"]), r["p50"] < 20))

    r = RESULTS.get("fig5")
    if r:
        L.append("\n## 5. Proxy overhead: non-streaming chat completion, nginx upstream "
                 "returning a fixed body\n")
        L.append("| connections | path | req/s | p50 | p99 | vs direct | vs nginx peer | "
                 "new upstream connections per 1000 requests | proxy CPU ms per request | "
                 "non-2xx/errors |")
        L.append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for conns in (16, 256):
            x = r[conns]
            for label, k in (("straight to the upstream (the limit)", "direct"),
                             ("nginx reverse proxy (the peer)", "nginx"),
                             ("cliproxyd", "cliproxyd")):
                y = x[k]
                L.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %d/%d |" % (
                    conns, label, f0(y["rps"]), f2(y["p50"]), f2(y["p99"]),
                    pct(y["rps"], x["direct"]["rps"]), pct(y["rps"], x["nginx"]["rps"]),
                    f1(y["upconn_per_1k"]) if "upconn_per_1k" in y else "-",
                    "%.3f" % y["cpu_ms_per_req"] if "cpu_ms_per_req" in y else "-",
                    y["bad"], y["errors"]))
        x = r[256]
        targets.append(("proxy >= nginx peer at 256 connections",
                        "%s of peer" % pct(x["cliproxyd"]["rps"], x["nginx"]["rps"]),
                        x["cliproxyd"]["rps"] >= x["nginx"]["rps"]))
        targets.append(("proxy >= 70% of direct at 256 connections",
                        "%s of direct" % pct(x["cliproxyd"]["rps"], x["direct"]["rps"]),
                        x["cliproxyd"]["rps"] >= 0.7 * x["direct"]["rps"]))
        L.append("\nBoth nginx instances run one worker process, as cliproxyd runs one "
                 "event loop; the peer keeps 64 idle upstream connections alive.")

    r = RESULTS.get("fig6")
    if r:
        L.append("\n## 6. Streaming scale: SSE streams held open through cliproxyd\n")
        t = r["ttfb_idle"]
        L.append("Time to first event, one stream at a time (median of 5 runs of 40): direct to "
                 "the mock %s ms, through cliproxyd %s ms: overhead %s ms.\n" % (
                     f2(t["direct"]), f2(t["cliproxyd"]), f2(t["cliproxyd"] - t["direct"])))
        L.append("| streams | open | failed | daemon RSS MiB | KiB per stream | CPU to open "
                 "them (s) | CPU while held | first event p50 / p99 (ms, while opening "
                 "200 at a time) | RSS MiB after they close |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|---|---:|")
        L.append("| 0 | - | - | %s | - | - | - | - | - |" % f1(r["base_rss_kib"] / 1024))
        big = None
        for n, x in sorted(r["levels"].items()):
            if "skipped" in x:
                L.append("| %d | skipped: %s |||||||" % (n, x["skipped"]))
                continue
            L.append("| %d | %d | %d | %s | %s | %s | %s%% | %s / %s | %s |" % (
                n, x["open"], x["failed"], f1(x["rss_kib"] / 1024), f1(x["rss_per_stream_kib"]),
                f2(x["ramp_cpu_s"]), f1(x["hold_cpu_pct"]),
                f1(x["ttfb_p50_ms"] or 0), f1(x["ttfb_p99_ms"] or 0),
                f1(x["rss_after_close_kib"] / 1024)))
            if x["first_error"]:
                L.append("| | first error: %s |||||||" % x["first_error"].replace("|", "/"))
            big = (n, x)
        L.append("\nEach stream costs the daemon two descriptors (client and upstream). "
                 "RLIMIT_NOFILE here is %d (hard limit, and this container lacks "
                 "CAP_SYS_RESOURCE to raise it), so a single daemon process can hold at most "
                 "about %d streams: the 10k level is measured as %s and extrapolated linearly "
                 "to 10,000 below." % (r["nofile"], (r["nofile"] - 64) // 2,
                                       big[0] if big else "-"))
        opened = [(n, x) for n, x in sorted(r["levels"].items()) if x.get("open")]
        if len(opened) >= 2:
            L.append("Daemon CPU per stream opened: %s. Time to first event while "
                     "opening includes the python client's and mock's own queueing." % ", ".join(
                         "%s ms at %d" % (f2(1000.0 * x["ramp_cpu_s"] / x["open"]), n)
                         for n, x in opened))
        if big:
            n, x = big
            est = (r["base_rss_kib"] + x["rss_per_stream_kib"] * 10000) / 1024
            L.append("Estimated RSS at 10,000 streams: %s MiB." % f1(est))
            targets.append(("10k idle streams under 100 MiB RSS",
                            "%s MiB measured at %d, %s MiB extrapolated to 10k" % (
                                f1(x["rss_kib"] / 1024), n, f1(est)),
                            est < 100 and x["failed"] == 0))

    r = RESULTS.get("fig7") or {}
    if r or RESULTS.get("fig1_lighttpd"):
        L.append("\n## 7. Memory\n")
        L.append("| process | RSS KiB |")
        L.append("|---|---:|")
        if "daemon_idle_rss_kib" in r:
            L.append("| cliproxyd, idle after start | %d |" % r["daemon_idle_rss_kib"])
        if "daemon_after_load_rss_kib" in r:
            L.append("| cliproxyd, idle after figure 5's load | %d |" % r["daemon_after_load_rss_kib"])
        f = RESULTS.get("fig1_lighttpd")
        if f:
            L.append("| cliproxy-mgmt responder, after figure 1 (median of %d) | %d |" % (
                f["responders"], f["responder_rss_kib"]))
            L.append("| FastCGI hello responder (reference) | %d |" % f["hello_rss_kib"])
        f = RESULTS.get("fig5")
        if f and f.get("nginx_worker_rss_kib"):
            L.append("| nginx worker (reference, after figure 5) | %d |" % f["nginx_worker_rss_kib"])

    r = RESULTS.get("fig8")
    if r:
        L.append("\n## 8. Is my change live? Management PUT -> GET /status says in-sync "
                 "(%d changes, 50 ms apart)\n" % r["n"])
        L.append("| median | p99 | min | max | PUT alone (median) |")
        L.append("|---:|---:|---:|---:|---:|")
        L.append("| %s | %s | %s | %s | %s |" % (f1(r["p50"]), f1(r["p99"]), f1(r["min"]),
                                                 f1(r["max"]), f1(r["put_p50"])))
        L.append("\nTimed from the start of the PUT (it includes the PUT) until a "
                 "GET /status through lighttpd answers in-sync: cliproxyd reloaded the "
                 "file and rewrote its status file with the new sha256.")
        targets.append(("PUT -> /status in-sync median < 100 ms", "%s ms" % f1(r["p50"]),
                        r["p50"] < 100))

    for n in NOTES:
        L.append("\n**Note:** " + n)
    L.append("\n## Targets\n")
    L.append("| target | where we stand | |")
    L.append("|---|---|---|")
    for t, where, ok in targets:
        L.append("| %s | %s | %s |" % (t, where, verdict(ok)))
    L.append("\nTotal run time %.0f s." % (time.monotonic() - T_START))
    return "\n".join(L) + "\n"


def chart(outdir):
    """One PNG: management read (1), proxy throughput (5), RSS vs streams (6)."""
    gp = shutil.which("gnuplot")
    if gp is None:
        return None
    d = harness.tempdir("cliproxy-chart-")
    plots = []
    f1d = []
    for kind in ("lighttpd", "apache"):
        r = RESULTS.get("fig1_" + kind)
        if r:
            f1d.append('"%s" %f %f %f' % (kind, r["static"]["rps"], r["hello"]["rps"],
                                          r["mgmt"]["rps"]))
    if f1d:
        with open(os.path.join(d, "f1.dat"), "w") as f:
            f.write("\n".join(f1d) + "\n")
        plots.append('set title "1. management read (req/s)"\n'
                     'plot "%s/f1.dat" using 2:xtic(1) title "static file", '
                     '"" using 3 title "FastCGI hello", "" using 4 title "GET api-keys"' % d)
    r = RESULTS.get("fig5")
    if r:
        with open(os.path.join(d, "f5.dat"), "w") as f:
            for c in (16, 256):
                f.write('"%d conns" %f %f %f\n' % (c, r[c]["direct"]["rps"], r[c]["nginx"]["rps"],
                                                    r[c]["cliproxyd"]["rps"]))
        plots.append('set title "5. chat completion proxy (req/s)"\n'
                     'plot "%s/f5.dat" using 2:xtic(1) title "direct", '
                     '"" using 3 title "nginx proxy", "" using 4 title "cliproxyd"' % d)
    r = RESULTS.get("fig6")
    if r and any("rss_kib" in x for x in r["levels"].values()):
        with open(os.path.join(d, "f6.dat"), "w") as f:
            f.write("0 %f\n" % (r["base_rss_kib"] / 1024))
            for n, x in sorted(r["levels"].items()):
                if "rss_kib" in x:
                    f.write("%d %f\n" % (x["open"], x["rss_kib"] / 1024))
        plots.append('set title "6. cliproxyd RSS (MiB) vs open SSE streams"\n'
                     'set style data linespoints\nunset xtics\nset xtics auto\n'
                     'set xrange [0:10000]\nset offsets 0,0,20,0\n'
                     'plot "%s/f6.dat" using 1:2 title "RSS" lw 2, '
                     '100 title "target at 10k streams" dt 2' % d)
    if not plots:
        return None
    png = os.path.join(outdir, "latest.png")
    script = ['set terminal pngcairo size 1500,450 font ",10"' if _has_cairo(gp)
              else "set terminal png size 1500,450",
              'set output "%s"' % png,
              "set multiplot layout 1,%d" % len(plots),
              "set style data histograms", "set style histogram clustered gap 1",
              "set style fill solid 0.8 border -1", "set key top left", "set yrange [0:*]",
              "set grid ytics"]
    script += plots
    script.append("unset multiplot")
    subprocess.run([gp], input="\n".join(script).encode(), check=True)
    return png


def _has_cairo(gp):
    out = subprocess.run([gp, "-e", "set terminal"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT).stdout
    return b"pngcairo" in out


def main():
    os.makedirs(ARGS.out, exist_ok=True)
    try:
        if ONLY & {1, 2}:
            guarded(fig1_2)
        if 3 in ONLY:
            guarded(fig3)
        if ONLY & {4, 5, 6, 7}:
            if os.path.exists(os.path.join(ARGS.builddir, "src/proxyd/cliproxyd")):
                guarded(fig4_5_6_7)
            else:
                NOTES.append("cliproxyd is not built in %s: figures 4, 5, 6 and the "
                             "daemon's part of 7 were not measured." % ARGS.builddir)
                log(NOTES[-1])
        if 8 in ONLY:
            if os.path.exists(os.path.join(ARGS.builddir, "src/proxyd/cliproxyd")):
                guarded(fig8)
            else:
                NOTES.append("cliproxyd is not built: figure 8 was not measured.")
    finally:
        text = report()
        with open(os.path.join(ARGS.out, "latest.md"), "w") as f:
            f.write(text)
        with open(os.path.join(ARGS.out, "latest.json"), "w") as f:
            json.dump(RESULTS, f, indent=1, default=str)
        try:
            chart(ARGS.out)
        except (OSError, subprocess.CalledProcessError) as e:
            log("chart failed: %s" % e)
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
