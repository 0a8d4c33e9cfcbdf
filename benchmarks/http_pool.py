"""CPU per request of the async HTTP layer alone: httpx's own pool against Aurelia's aiohttp one.

The same POST (a chat-completion body) is sent ``--requests`` times at each concurrency, with that
many requests in flight, to the server of ``bench_scale.py`` (another process, answering after
``--latency`` seconds). Rows: CPU milliseconds per request of this process with
``httpx.AsyncClient()`` (httpcore's pool) and with ``aurelia.models.retry.async_deadline_client``
(the client the registry gives hosted models: aiohttp underneath), and their ratio.

    python benchmarks/http_pool.py [--requests 1024] [--concurrency 8,64,256] [--latency 0.05] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

BODY = {"model": "target", "messages": [{"role": "user", "content": "Which colour is the last frame? " * 20}]}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _measure(make: Callable[[], httpx.AsyncClient], url: str, requests: int, concurrency: int) -> float:
    """CPU ms per request over ``requests`` POSTs, ``concurrency`` at a time (after a warm-up round)."""
    from aurelia.models.retry import close_loop_transports

    client = make()
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            response = await client.post(url, json=BODY)
            response.raise_for_status()
            response.json()

    await asyncio.gather(*(one() for _ in range(concurrency)))  # connections opened, imports done
    start = _cpu()
    await asyncio.gather(*(one() for _ in range(requests)))
    spent = _cpu() - start
    await client.aclose()
    await close_loop_transports()
    return 1000 * spent / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1024)
    parser.add_argument("--concurrency", default="8,64,256")
    parser.add_argument("--latency", type=float, default=0.05)
    opts = parser.parse_args()
    from aurelia.models.retry import ASYNC_POOL_LIMITS, async_deadline_client

    clients = {
        "httpx (httpcore pool)": lambda: httpx.AsyncClient(limits=ASYNC_POOL_LIMITS, timeout=120),
        "aurelia (aiohttp pool)": lambda: async_deadline_client(120),
    }
    server = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("bench_scale.py")), "--serve", str(opts.latency)], stdout=subprocess.PIPE, text=True
    )
    try:
        url = f"http://127.0.0.1:{int(server.stdout.readline())}/v1/chat/completions"  # type: ignore[union-attr]
        print(f"{opts.requests} POSTs of {len(json.dumps(BODY))} bytes per row; server answers after {opts.latency} s")
        print("concurrency  " + "  ".join(f"{name:>22}" for name in clients) + "  ratio")
        for concurrency in (int(c) for c in opts.concurrency.split(",")):
            ms = [asyncio.run(_measure(make, url, opts.requests, concurrency)) for make in clients.values()]
            print(f"{concurrency:>11}  " + "  ".join(f"{m:>19.2f} ms" for m in ms) + f"  {ms[0] / ms[1]:>4.1f}x")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    from _docs import run as run_with_docs  # benchmarks/ is sys.path[0] when run as a script

    run_with_docs(main, "docs/performance.md", "benchmarks/http_pool.py")
