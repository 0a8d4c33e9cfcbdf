"""Running a coroutine to its end from synchronous code: the runner's samples and the
``--server`` check both need it, and neither module may import the other (no import cycle)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def run_async(coro: Any) -> Any:
    """Run a coroutine to the end, also from a thread that already runs an event loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
