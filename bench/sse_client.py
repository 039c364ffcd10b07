#!/usr/bin/env python3
"""sse_client.py - opens N streaming chat completions (SSE) against one
loopback port, measures each stream's time to its first event, and holds
them all open (bench/run figure 6, issue 7). Standard library only.

  sse_client.py --port P --n N [--parallel K] [--key-env VAR] [--hold]

Prints one JSON line when every stream is open (or failed):
  {"open": n, "failed": f, "ttfb_p50_ms": .., "ttfb_p99_ms": .., "seconds": ..}
With --hold it then waits for a line on stdin before closing them, so the
caller can measure the daemon while the streams are held. The client key is
read from the environment variable named by --key-env (never printed).
"""
import argparse
import asyncio
import json
import os
import resource
import sys
import time

BODY = json.dumps({"model": "bench-model", "stream": True,
                   "messages": [{"role": "user", "content": "hello"}]}).encode()


def pct(v, p):
    if not v:
        return None
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


async def one(port, key, sem, ttfbs, streams, errors):
    async with sem:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Type: application/json\r\nAccept: text/event-stream\r\n")
            if key:
                req += b"Authorization: Bearer " + key.encode() + b"\r\n"
            req += b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY
            t0 = time.monotonic()
            writer.write(req)
            await writer.drain()
            got = b""
            while b"data:" not in got:
                data = await asyncio.wait_for(reader.read(65536), 30)
                if not data:
                    raise ConnectionError("closed before the first event")
                got += data
                if len(got) > 65536:
                    raise ValueError("no event in the first 64 KiB")
            if not got.startswith(b"HTTP/1.1 200"):
                raise ValueError(got.split(b"\r\n", 1)[0].decode(errors="replace"))
            ttfbs.append((time.monotonic() - t0) * 1000.0)
            streams.append(writer)
        except Exception as e:  # noqa: BLE001 - every failure is counted
            errors.append(str(e)[:200])


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--parallel", type=int, default=200)
    ap.add_argument("--key-env", default="")
    ap.add_argument("--hold", action="store_true")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    key = os.environ.get(a.key_env, "") if a.key_env else ""
    sem = asyncio.Semaphore(a.parallel)
    ttfbs, streams, errors = [], [], []
    t0 = time.monotonic()
    await asyncio.gather(*(one(a.port, key, sem, ttfbs, streams, errors) for _ in range(a.n)))
    out = {"open": len(streams), "failed": len(errors),
           "ttfb_p50_ms": pct(ttfbs, 50), "ttfb_p99_ms": pct(ttfbs, 99),
           "seconds": time.monotonic() - t0,
           "first_error": errors[0] if errors else None}
    print(json.dumps(out), flush=True)
    if a.hold:
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for w in streams:
        w.close()
    await asyncio.sleep(0.2)


if __name__ == "__main__":
    asyncio.run(main())
