#!/usr/bin/env python3
"""proxyd_ccr.py - issue 11's translation benchmark, run by bench/run after
mgmt_list.py, or alone from the source tree:

    CLIPROXY_BUILDDIR=_build python3 bench/proxyd_ccr.py [--duration S] [--repeats N] [--conns 16,64]

1. A Claude-format client (POST /v1/messages, JSON and stream) to an
   OpenAI-compatible upstream through cliproxyd, against the same through
   @musistudio/claude-code-router (npm, pinned in bench/ccr/package-lock.json;
   bench/run installs it with npm ci, alone: npm ci --prefix bench/ccr):
   req/s, p50 and p99 latency (wrk), proxy CPU per request, RSS (idle after
   start, and the peak, VmHWM, of the whole process tree); the ratio of
   req/s (issue 11's goal: cliproxyd at least 3x).
2. What translation costs per request in cliproxyd: an OpenAI client to the
   same upstream (passthrough: only the model name rewritten) against the
   Claude client (request, answer or stream translated).

The upstream is one nginx worker answering a fixed OpenAI Chat Completions
answer (/json/v1/chat/completions) or a fixed chat.completion.chunk stream
with usage and [DONE] (/sse/v1/chat/completions), so the proxies, not the
upstream, are what is measured (figure 5 of bench.py does the same). Both
proxies check a client key and hold one upstream key. Every case is
checked once (status, answer text, stream end) before it is timed; cases
run interleaved (A, B, C, A, B, C ...) after a warm-up run each, and every
figure is the median of the repeats. wrk, nginx and the proxies share the
machine's cores, which favours nobody.

Loopback ports chosen at run time; stops everything it started; keys are
made per run and never printed. Not part of make check (speed figures never
go into tests).
"""
import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
os.environ.setdefault("CLIPROXY_SRCDIR", TOP)
os.environ.setdefault("CLIPROXY_BUILDDIR", os.path.join(TOP, "_build"))
import harness  # noqa: E402
import proxyd_support as ps  # noqa: E402
import nginxlib  # noqa: E402

LUA = os.path.join(HERE, "wrk.lua")
CCR_DIR = os.path.join(HERE, "ccr")
CCR_CLI = os.path.join(CCR_DIR, "node_modules", "@musistudio", "claude-code-router", "dist",
                       "cli.js")
UP_MODEL = "bench-upstream"
ANSWER = "Hello! How can I help you today?"


def _chunk(delta, finish=None, usage=None):
    c = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
         "model": UP_MODEL, "choices": [] if usage else
         [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        c["usage"] = usage
    return "data: " + json.dumps(c, separators=(",", ":")) + "\n\n"


USAGE = {"prompt_tokens": 9, "completion_tokens": 9, "total_tokens": 18}
UP_JSON = json.dumps({
    "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
    "model": UP_MODEL, "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER},
                                    "finish_reason": "stop"}],
    "usage": USAGE}, separators=(",", ":"))
UP_SSE = (_chunk({"role": "assistant", "content": ""}) + _chunk({"content": "Hello!"}) +
          _chunk({"content": " How can I help"}) + _chunk({"content": " you today?"}) +
          _chunk({}, "stop") + _chunk(None, usage=USAGE) + "data: [DONE]\n\n")


def nginx_upstream(d):
    """One nginx worker with the two fixed answers; (process, port)."""
    return nginxlib.start(harness.need_program("nginx", "nginx-light"), d, "nginx-upstream", """
        location = /json/v1/chat/completions {
            default_type application/json;
            return 200 '%s';
        }
        location = /sse/v1/chat/completions {
            default_type text/event-stream;
            return 200 '%s';
        }""" % (UP_JSON, UP_SSE))


def start_ccr(d, up_port, key):
    """claude-code-router with a HOME of its own: providers "json" and
    "sse" on the two upstream paths; a client picks one with the model
    "json,bench-upstream" (its provider,model routing). (process, port)."""
    if not os.path.isfile(CCR_CLI):
        raise SystemExit("claude-code-router missing: npm ci --prefix %s (bench/run does)"
                         % CCR_DIR)
    home = os.path.join(d, "home")
    os.makedirs(os.path.join(home, ".claude-code-router"))
    port = harness.free_port()
    base = "http://127.0.0.1:%d" % up_port
    cfg = {"PORT": port, "HOST": "127.0.0.1", "APIKEY": key, "LOG": False,
           "NON_INTERACTIVE_MODE": True, "API_TIMEOUT_MS": 30000,
           "Providers": [{"name": n, "api_base_url": "%s/%s/v1/chat/completions" % (base, n),
                          "api_key": "sk-upstream-bench", "models": [UP_MODEL]}
                         for n in ("json", "sse")],
           "Router": {"default": "json," + UP_MODEL}}
    with open(os.path.join(home, ".claude-code-router", "config.json"), "w") as f:
        json.dump(cfg, f)
    env = dict(os.environ, HOME=home)
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        env.pop(k, None)
    log = os.path.join(d, "ccr.log")
    p = harness.start([shutil.which("node") or "node", CCR_CLI, "start"], env=env, log=log)
    harness.wait_port(port, timeout=60, proc=p, what="claude-code-router", log=log)
    return p, port


def start_cliproxyd(up_port, key):
    base = "http://127.0.0.1:%d" % up_port
    d = ps.Daemon({"api-keys": [key], "openai-compatibility": [
        ps.compat(n, "%s/%s/v1" % (base, n), ["sk-upstream-bench"], [(UP_MODEL, "bench-" + n)])
        for n in ("json", "sse")]})
    d.start()
    return d


# ------------------------------------------------------------- measuring

def tree(pid):
    """pid and its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def status_kib(pid, field):
    n = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for ln in f:
                    if ln.startswith(field + ":"):
                        n += int(ln.split()[1])
        except OSError:
            pass
    return n


def cpu_seconds(pid):
    t = 0.0
    for p in tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            t += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return t


def wrk(case, secs, conns):
    env = dict(os.environ, WRK_METHOD="POST", WRK_AUTH=case["auth"], WRK_BODY=case["body"],
               WRK_PATCH="0", WRK_HEADERS=case.get("headers", ""))
    c0 = cpu_seconds(case["pid"]) if case.get("pid") else 0.0
    out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % secs, "--timeout", "10s",
                          "-s", LUA, case["url"]], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, timeout=secs + 60)
    c1 = cpu_seconds(case["pid"]) if case.get("pid") else 0.0
    m = re.search(rb"BENCH rps=([0-9.]+) p50=([0-9.]+) p99=([0-9.]+) requests=(\d+) "
                  rb"bad=(\d+) errors=(\d+)", out.stdout)
    if m is None:
        raise SystemExit("wrk failed on %s: %s" % (case["name"], out.stdout[-300:]))
    n = int(m.group(4))
    return {"rps": float(m.group(1)), "p50": float(m.group(2)), "p99": float(m.group(3)),
            "cpu_us": (c1 - c0) * 1e6 / n if n else 0.0,
            "bad": int(m.group(5)) + int(m.group(6))}


def check(case):
    """One request of the case: 200 and the whole answer in the client's
    shape, so a broken translation is never timed."""
    h = {"Authorization": case["auth"], "Content-Type": "application/json"}
    for ln in case.get("headers", "").splitlines():
        k, v = ln.split(":", 1)
        h[k] = v.strip()
    port = int(case["url"].rsplit(":", 1)[1].split("/", 1)[0])
    path = "/" + case["url"].split("/", 3)[3]
    r = harness.http_request(port, "POST", path, case["body"], h, timeout=30)
    body = r.body.decode("utf-8", "replace")
    stream = '"stream":true' in case["body"]
    if r.status != 200:
        raise SystemExit("%s: status %d: %s" % (case["name"], r.status, body[:300]))
    if stream:
        text = ""
        for ln in body.splitlines():
            if ln.startswith("data: {"):
                ev = json.loads(ln[6:])
                text += ((ev.get("delta") or {}).get("text") or
                         "".join((c.get("delta") or {}).get("content") or ""
                                 for c in ev.get("choices") or []))
        end = "message_stop" if case["claude"] else "[DONE]"
        ok = text == ANSWER and end in body
    else:
        d = json.loads(body)
        text = ("".join(b.get("text", "") for b in d.get("content", []) if b.get("type") == "text")
                if case["claude"] else d["choices"][0]["message"]["content"])
        ok = text == ANSWER
    if not ok:
        raise SystemExit("%s: unexpected answer: %s" % (case["name"], body[:500]))


def claude_body(model, stream):
    b = {"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": "Hello"}]}
    if stream:
        b["stream"] = True
    return json.dumps(b, separators=(",", ":"))


def openai_body(model, stream):
    b = {"model": model, "messages": [{"role": "user", "content": "Hello"}]}
    if stream:
        b["stream"] = True
    return json.dumps(b, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--conns", default="16", help="connection counts, e.g. 16,64")
    a = ap.parse_args()
    harness.need_program("wrk", "wrk")
    d = harness.tempdir("bench-ccr-")
    key = "sk-bench-" + secrets.token_urlsafe(18)
    up, up_port = nginx_upstream(d)
    cp = start_cliproxyd(up_port, key)
    os.makedirs(os.path.join(d, "ccr"))
    ccr, ccr_port = start_ccr(os.path.join(d, "ccr"), up_port, key)
    try:
        time.sleep(1)
        rss0 = {"cliproxyd": status_kib(cp.proc.pid, "VmRSS"),
                "ccr": status_kib(ccr.pid, "VmRSS")}
        auth = "Bearer " + key
        anth = "anthropic-version: 2023-06-01"
        cu = "http://127.0.0.1:%d" % cp.port
        ru = "http://127.0.0.1:%d" % ccr_port
        cases = []
        for kind, stream in (("json", False), ("sse", True)):
            cases += [
                {"name": "cliproxyd claude " + kind, "url": cu + "/v1/messages", "auth": auth,
                 "headers": anth, "body": claude_body("bench-" + kind, stream),
                 "pid": cp.proc.pid, "claude": True},
                {"name": "ccr claude " + kind, "url": ru + "/v1/messages", "auth": auth,
                 "headers": anth, "body": claude_body("%s,%s" % (kind, UP_MODEL), stream),
                 "pid": ccr.pid, "claude": True},
                {"name": "cliproxyd openai " + kind, "url": cu + "/v1/chat/completions",
                 "auth": auth, "body": openai_body("bench-" + kind, stream),
                 "pid": cp.proc.pid, "claude": False},
                {"name": "direct " + kind,
                 "url": "http://127.0.0.1:%d/%s/v1/chat/completions" % (up_port, kind),
                 "auth": "Bearer sk-upstream-bench", "body": openai_body(UP_MODEL, stream),
                 "pid": up.pid, "claude": False},
            ]
        for c in cases:
            check(c)
        conns = [int(x) for x in a.conns.split(",")]
        res = {}
        for n in conns:
            for c in cases:  # warm-up (node's JIT, connection pools)
                wrk(c, 2, n)
            runs = {c["name"]: [] for c in cases}
            for _ in range(a.repeats):
                for c in cases:
                    runs[c["name"]].append(wrk(c, a.duration, n))
            res[n] = {name: {k: (sum(x[k] for x in rs) if k == "bad" else
                                 statistics.median(x[k] for x in rs)) for k in rs[0]}
                      for name, rs in runs.items()}
        peak = {"cliproxyd": status_kib(cp.proc.pid, "VmHWM"), "ccr": status_kib(ccr.pid, "VmHWM")}
        ver = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        report(res, a, rss0, peak, ver)
    finally:
        harness.stop(ccr)
        cp.stop()
        cp.cleanup()
        harness.stop(up)
        shutil.rmtree(d, ignore_errors=True)


def report(res, a, rss0, peak, nodever):
    with open(os.path.join(CCR_DIR, "package.json")) as f:
        ccrver = json.load(f)["dependencies"]["@musistudio/claude-code-router"]
    print("Claude client (POST /v1/messages) -> OpenAI-compatible upstream (nginx, fixed answer)")
    print("cliproxyd against @musistudio/claude-code-router %s (node %s); wrk -t2, %d x %d s "
          "interleaved, medians" % (ccrver, nodever, a.repeats, a.duration))
    print()
    print("%-5s %-6s %-20s %10s %9s %9s %11s" % ("conns", "answer", "proxy", "req/s", "p50 ms",
                                                  "p99 ms", "CPU us/req"))
    for n, r in res.items():
        for kind in ("json", "sse"):
            for who, label in (("cliproxyd claude", "cliproxyd"), ("ccr claude", "claude-code-router"),
                               ("direct", "(upstream direct)")):
                x = r["%s %s" % (who, kind)]
                print("%-5d %-6s %-20s %10.0f %9.2f %9.2f %11.1f" % (
                    n, "stream" if kind == "sse" else "JSON", label, x["rps"], x["p50"],
                    x["p99"], x["cpu_us"]))
            c, p = r["cliproxyd claude " + kind], r["ccr claude " + kind]
            print("%-5s %-6s ratio cliproxyd / claude-code-router: req/s %.1fx, p99 %.2fx, "
                  "CPU per request %.2fx  (goal: req/s >= 3x: %s)" % (
                      "", "", c["rps"] / p["rps"] if p["rps"] else 0,
                      c["p99"] / p["p99"] if p["p99"] else 0,
                      c["cpu_us"] / p["cpu_us"] if p["cpu_us"] else 0,
                      "met" if p["rps"] and c["rps"] / p["rps"] >= 3 else "NOT met"))
    print()
    print("RSS MiB            idle after start   peak (VmHWM) after the runs")
    for who, label in (("cliproxyd", "cliproxyd"), ("ccr", "claude-code-router")):
        print("%-18s %16.1f %16.1f" % (label, rss0[who] / 1024, peak[who] / 1024))
    print()
    print("Translation cost in cliproxyd (same upstream): OpenAI client (passthrough) "
          "against Claude client (translated)")
    print("%-5s %-6s %12s %12s %12s %12s %14s" % ("conns", "answer", "pass req/s", "xlate req/s",
                                                  "pass p99 ms", "xlate p99 ms",
                                                  "CPU us/req +"))
    for n, r in res.items():
        for kind in ("json", "sse"):
            p, t = r["cliproxyd openai " + kind], r["cliproxyd claude " + kind]
            print("%-5d %-6s %12.0f %12.0f %12.2f %12.2f %7.1f -> %.1f" % (
                n, "stream" if kind == "sse" else "JSON", p["rps"], t["rps"], p["p99"], t["p99"],
                p["cpu_us"], t["cpu_us"]))
    bad = sum(x["bad"] for r in res.values() for x in r.values())
    print()
    print("non-2xx answers or socket errors in all runs: %d" % bad)


if __name__ == "__main__":
    main()
