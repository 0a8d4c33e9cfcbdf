"""CPU per request of the async HTTP layer alone: httpx's own pool against Aurelia's aiohttp one.

The same POST (a chat-completion body) is sent ``--requests`` times at each concurrency, with that
many requests in flight, to the server of ``bench_scale.py`` (another process, answering after
``--latency`` seconds). Rows: CPU milliseconds per request of this process with
``httpx.AsyncClient()`` (httpcore's pool) and with ``aurelia.models.retry.async_deadline_client``
(the client the registry gives hosted models: aiohttp underneath), and their ratio. Then, at one
concurrency (``--stack-concurrency``), what each layer above adds per call, all over Aurelia's
client: the OpenAI SDK's ``chat.completions.create``, LangChain's ``ChatOpenAI.ainvoke``, and
Aurelia's structured call (``acall_structured`` with the Evaluation schema): the CPU floor of
one model call on this path, before LangGraph and the benchmark engine.

    python benchmarks/http_pool.py [--requests 1024] [--concurrency 8,64,256] [--latency 0.05] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

BODY = {"model": "target", "messages": [{"role": "user", "content": "Which colour is the last frame? " * 20}]}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _cpu_per_call(call: Callable[[], Awaitable[object]], requests: int, concurrency: int) -> float:
    """CPU ms per call over ``requests`` calls, ``concurrency`` at a time (after a warm-up round)."""
    from aurelia.models.retry import close_loop_transports

    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one() for _ in range(concurrency)))  # connections opened, imports done
    start = _cpu()
    await asyncio.gather(*(one() for _ in range(requests)))
    spent = _cpu() - start
    await close_loop_transports()
    return 1000 * spent / requests


async def _measure(make: Callable[[], httpx.AsyncClient], url: str, requests: int, concurrency: int) -> float:
    """CPU ms per request of plain POSTs through the client ``make`` builds."""
    client = make()

    async def post() -> None:
        response = await client.post(url, json=BODY)
        response.raise_for_status()
        response.json()

    try:
        return await _cpu_per_call(post, requests, concurrency)
    finally:
        await client.aclose()


def _stack(base_url: str) -> dict[str, Callable[[], Awaitable[object]]]:
    """One call of each layer, every one over the client the registry builds."""
    from langchain_core.messages import HumanMessage

    from aurelia.models.registry import resolve_model
    from aurelia.models.structured import acall_structured
    from aurelia.parsing import parse_evaluation
    from aurelia.schemas import Evaluation

    text = resolve_model(f"{base_url}?model=target", 120, False).model
    evaluator = resolve_model(f"{base_url}?model=evaluator", 120, False)
    messages = [HumanMessage(BODY["messages"][0]["content"])]
    return {
        "OpenAI SDK chat.completions.create": lambda: text.async_client.create(model="target", messages=BODY["messages"]),
        "LangChain ChatOpenAI.ainvoke": lambda: text.ainvoke(messages),
        "Aurelia acall_structured (Evaluation)": lambda: acall_structured(evaluator, messages, Evaluation, parse_evaluation),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1024)
    parser.add_argument("--concurrency", default="8,64,256")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--stack-concurrency", type=int, default=64)
    opts = parser.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "not-used")  # the server takes any key
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
        print(f"one model call, {opts.stack_concurrency} in flight, CPU per call:")
        for name, call in _stack(url.removesuffix("/chat/completions")).items():
            print(f"  {name:<40} {asyncio.run(_cpu_per_call(call, opts.requests, opts.stack_concurrency)):>6.2f} ms")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    from _docs import run as run_with_docs  # benchmarks/ is sys.path[0] when run as a script

    run_with_docs(main, "docs/performance.md", "benchmarks/http_pool.py")
