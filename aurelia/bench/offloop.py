"""Blocking work of a benchmark run kept off the event loop, without a thread per call.

:class:`SingleFlight`: concurrent asks for one key (the same clip, with the same settings) share
one call in a thread, so 256 samples of one clip on a cold cache measure it once, not 256 times
at once. :class:`StoreThread`: every SQLite call of a run on one dedicated thread, in the order
asked, so the store neither takes threads from the shared pool nor contends with itself for its
connection's lock.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class SingleFlight(Generic[V]):
    """One call in a thread per key at a time; whoever asks while it runs awaits the same call.

    A failure reaches every waiter as the same exception and is not remembered: the next ask
    calls again. A waiter that is cancelled leaves the call running for the others."""

    def __init__(self) -> None:
        self.flights: dict[Hashable, asyncio.Future[V]] = {}
        self.calls = 0  # calls started
        self.joined = 0  # asks that awaited a call another had started

    async def run(self, key: Hashable, fn: Callable[..., V], *args: Any, **kwargs: Any) -> tuple[V, bool]:
        """``fn(*args, **kwargs)``'s result, and whether this ask started the call (the others
        share its value: copy it before changing it)."""
        flight = self.flights.get(key)
        first = flight is None
        if flight is None:
            flight = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
            self.flights[key] = flight
            self.calls += 1
            flight.add_done_callback(functools.partial(self._landed, key))
        else:
            self.joined += 1
        return await asyncio.shield(flight), first

    def _landed(self, key: Hashable, flight: asyncio.Future[V]) -> None:
        if self.flights.get(key) is flight:
            del self.flights[key]
        if not flight.cancelled():
            flight.exception()  # marked as retrieved: every waiter may have been cancelled


class StoreThread:
    """A single-thread executor for a run's SQLite calls (the results store and the reasoning
    cache): ``await io(fn, *args)``. Each call still commits on its own, so a killed run loses
    only what was not yet written; the thread starts on the first call."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="aurelia-store")

    async def __call__(self, fn: Callable[..., V], *args: Any) -> V:
        return await asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(fn, *args))

    def close(self) -> None:
        """Wait for the calls already asked (a cancelled sample's write still lands), then stop."""
        self.executor.shutdown(wait=True)
