"""What the gateway's metrics cost per request, and what a scrape costs.

    $APP_VENV/bin/python -m bench.metrics_overhead [--requests 3000]

Two in-process aiohttp apps answer the same small JSON route, one bare and one with the gateway's request
middleware (request id, log context, per-route counter and histogram), served alternately in rounds so the
shared machine's noise hits both alike; the figure is the server's CPU time per request (process CPU, the
client runs in the same process and is the same for both). Then /metrics' text rendering of the registry
after those requests (the database part of a scrape, queue and operators, is not included).
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client import REGISTRY, generate_latest

from core.metrics_http import request_context


async def _hello(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _app(with_metrics: bool) -> web.Application:
    app = web.Application(middlewares=[request_context] if with_metrics else [])
    app.router.add_get("/hello", _hello, name="hello")
    return app


async def _round(http: aiohttp.ClientSession, url: str, count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        async with http.get(url) as resp:
            await resp.read()
    return time.process_time() - started


async def main(requests: int, rounds: int) -> None:
    """Print one line per figure."""
    servers = {name: TestServer(_app(name == "with metrics")) for name in ("bare", "with metrics")}
    for server in servers.values():
        await server.start_server()
    spent = dict.fromkeys(servers, 0.0)
    async with aiohttp.ClientSession() as http:
        for server in servers.values():  # warm up
            await _round(http, str(server.make_url("/hello")), 200)
        for _ in range(rounds):
            for name, server in servers.items():
                spent[name] += await _round(http, str(server.make_url("/hello")), requests // rounds)
    for server in servers.values():
        await server.close()
    per_request = {name: spent[name] / requests * 1e6 for name in spent}
    print(f"process CPU per request, bare app: {per_request['bare']:.0f} µs")
    print(f"process CPU per request, with the metrics middleware: {per_request['with metrics']:.0f} µs")
    print(f"metrics middleware cost per request: {per_request['with metrics'] - per_request['bare']:.0f} µs")
    started = time.perf_counter()
    body = b""
    for _ in range(100):
        body = generate_latest(REGISTRY)
    print(f"rendering the registry for a scrape: {(time.perf_counter() - started) * 10:.2f} ms ({len(body)} bytes)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
