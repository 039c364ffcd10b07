#!/usr/bin/env python3
"""sse_mock.py - the streaming upstream of bench/run figure 6 (issue 7):
an OpenAI-compatible /chat/completions that answers every POST with an
SSE stream, sends one chunk at once and then holds the stream open until
the peer closes it. Prints its loopback port (chosen at run time) on
stdout. Standard library only; not part of the product.
"""
import asyncio
import resource
import sys

CHUNK = (b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk",'
         b'"created":1700000000,"model":"bench-upstream","choices":[{"index":0,'
         b'"delta":{"role":"assistant","content":"hello"},"finish_reason":null}]}\n\n')
HEAD_MAX = 64 * 1024


def chunked(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


async def handle(reader, writer):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > HEAD_MAX:
            return
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1].strip())
        if length:
            await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                     b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + chunked(CHUNK))
        await writer.drain()
        await reader.read()            # hold until the peer goes away
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        writer.close()


async def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    srv = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    print(srv.sockets[0].getsockname()[1], flush=True)
    async with srv:
        await srv.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
