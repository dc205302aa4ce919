"""How the outbound HTTP client was chosen: bare loops of three Python clients POSTing the same
payload to the same 1,000 loopback URLs, side by side in one run.

    .venv/bin/python -m bench.http_clients [--rounds 3]

The receiver is push_fanout's (a separate asyncio process answering 204). Each client gets the
same work: `requests` with a ThreadPoolExecutor(32) and a Session pooled to 32 connections (the
previous engine's shape), aiohttp with one ClientSession and 256 connections, and httpx's
AsyncClient with 256 connections, each sending 256 at a time. Rounds interleave; medians. The
service uses aiohttp (syndication/outbound/): fastest here, and asyncio holds thousands of slow
peers on one thread where a thread pool runs out of threads.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from bench.push_fanout import HOST, N_SUBSCRIBERS, Child

BODY = b'{"type":"story.published","data":{"text":"' + b"x" * 2600 + b'"}}'
HEADERS = {"Content-Type": "application/json"}
IN_FLIGHT = 256


def run_requests(urls: list[str]) -> float:
    import requests
    from requests.adapters import HTTPAdapter

    http = requests.Session()
    http.mount("http://", HTTPAdapter(pool_connections=32, pool_maxsize=32, max_retries=0))
    started = time.perf_counter()
    with ThreadPoolExecutor(32) as pool:
        list(pool.map(lambda u: http.post(u, data=BODY, headers=HEADERS).status_code, urls))
    took = time.perf_counter() - started
    http.close()
    return took


async def _aiohttp(urls: list[str]) -> float:
    import aiohttp

    gate = asyncio.Semaphore(IN_FLIGHT)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=IN_FLIGHT)) as http:

        async def post(url: str) -> int:
            async with gate, http.post(url, data=BODY, headers=HEADERS) as resp:
                await resp.read()
                return resp.status

        started = time.perf_counter()
        await asyncio.gather(*(post(u) for u in urls))
        return time.perf_counter() - started


async def _httpx(urls: list[str]) -> float:
    import httpx

    gate = asyncio.Semaphore(IN_FLIGHT)
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(limits=limits) as http:

        async def post(url: str) -> int:
            async with gate:
                return (await http.post(url, content=BODY, headers=HEADERS)).status_code

        started = time.perf_counter()
        await asyncio.gather(*(post(u) for u in urls))
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_clients")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    from bench.http_harness import bench_env, free_port

    port = free_port()
    receiver = Child(
        "receiver",
        [sys.executable, "-m", "bench.push_fanout", "--receiver", str(port)],
        bench_env(),
        "receiver listening",
    ).start()
    urls = [f"http://{HOST}:{port}/hook/{n}" for n in range(N_SUBSCRIBERS)]
    clients = {
        "requests, 32 threads": lambda: run_requests(urls),
        f"aiohttp, {IN_FLIGHT} connections": lambda: asyncio.run(_aiohttp(urls)),
        f"httpx AsyncClient, {IN_FLIGHT} connections": lambda: asyncio.run(_httpx(urls)),
    }
    times: dict[str, list[float]] = {name: [] for name in clients}
    try:
        for _ in range(args.rounds):
            for name, run in clients.items():
                times[name].append(run())
    finally:
        receiver.stop()
    anchor = statistics.median(times["requests, 32 threads"])
    print(f"{N_SUBSCRIBERS:,} POSTs of {len(BODY):,} B to loopback, medians of {args.rounds}")
    for name, runs in times.items():
        took = statistics.median(runs)
        print(
            f"  {name:<36} {took * 1000:7.0f} ms {N_SUBSCRIBERS / took:8,.0f}/s "
            f"{anchor / took:6.2f}x requests"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
