"""The benchmark engine's blocking work, each measured against the way it was done before, in the
same run (issue 20: a run at ``--concurrency 256`` was slower than at 64).

    python benchmarks/engine_io.py [--concurrency 256] [--records 100000] [--writes 4000]

Prints, each as a ratio against its baseline:
- a clip asked for again: ``prepare_media`` on a cached clip (a ``stat`` per file, then a copy of
  the cached reference) vs what each call cost before (probe and hash the file, then the cache);
- ``--concurrency`` samples of one clip asking at once on a cold cache: measurements made and CPU
  seconds, single-flight vs each sample measuring in its own thread;
- ``--writes`` result records written by ``--concurrency`` tasks at once: CPU seconds, all on one
  store thread vs a ``to_thread`` hop each (the shared pool, as many threads as tasks);
- exporting ``--records`` records of about 1 kB: peak memory the export allocates (tracemalloc),
  streamed from a cursor vs every record read into a list first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aurelia.media.prepare as prepare_mod
from aurelia.bench.offloop import SingleFlight, StoreThread
from aurelia.bench.records import write_jsonl
from aurelia.bench.store import ResultStore
from aurelia.media.probe import probe
from aurelia.testing.clips import Segment, make_clip


def cpu(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()`` and the CPU seconds of the process (every thread) it took."""
    start = time.process_time()
    value = fn()
    return value, time.process_time() - start


def repeated_clip(clip: Path, n: int = 50) -> None:
    prepare_mod._prepare_cached.cache_clear()
    _, cold = cpu(lambda: prepare_mod.prepare_media(str(clip)))
    _, warm = cpu(lambda: [prepare_mod.prepare_media(str(clip)) for _ in range(n)])
    _, before = cpu(lambda: [probe(clip) for _ in range(n)])  # what every call did before the cache was found
    print(f"clip asked again: {1e3 * warm / n:.2f} ms CPU per call (first call {1e3 * cold:.0f} ms)")
    print(f"  baseline (probe + sha256 per call, as before): {1e3 * before / n:.2f} ms -> RATIO {before / warm:.0f}x less CPU")


def concurrent_clip(clip: Path, concurrency: int) -> None:
    async def ask(single: bool) -> int:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=concurrency + 4))
        flight: SingleFlight[Any] = SingleFlight()
        if single:
            await asyncio.gather(*(flight.run(str(clip), prepare_mod.prepare_media, str(clip)) for _ in range(concurrency)))
        else:
            await asyncio.gather(*(asyncio.to_thread(prepare_mod.prepare_media, str(clip)) for _ in range(concurrency)))
        return prepare_mod._prepare_cached.cache_info().misses

    figures = {}
    for single in (False, True):
        prepare_mod._prepare_cached.cache_clear()
        figures[single] = cpu(lambda single=single: asyncio.run(ask(single)))
    (made_before, cpu_before), (made_now, cpu_now) = figures[False], figures[True]
    print(f"\n{concurrency} samples of one clip at once, cold cache: {made_now} measurement(s), {cpu_now:.2f} s CPU")
    print(
        f"  baseline (each in its own thread): {made_before} measurements, {cpu_before:.2f} s CPU -> RATIO {cpu_before / cpu_now:.1f}x less CPU"
    )


def record(i: int) -> dict[str, Any]:
    return {"id": f"s{i}", "target": "t", "inject": "none", "output": "C" * 1000, "parsed": "C", "correct": True, "error": None}


def concurrent_writes(folder: Path, concurrency: int, writes: int) -> None:
    async def write(store: ResultStore, single: bool) -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=2 * concurrency + 4))
        io = StoreThread()
        queue = iter(range(writes))

        async def worker() -> None:
            for i in queue:
                if single:
                    await io(store.put_result, record(i))
                else:
                    await asyncio.to_thread(store.put_result, record(i))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        io.close()

    figures = {}
    for single in (False, True):
        store = ResultStore(folder / f"writes-{single}")
        try:
            started = time.perf_counter()
            used = cpu(lambda store=store, single=single: asyncio.run(write(store, single)))[1]
            figures[single] = (used, time.perf_counter() - started)
        finally:
            store.close()
    (cpu_now, wall_now), (cpu_before, wall_before) = figures[True], figures[False]
    print(f"\n{writes} records written by {concurrency} tasks: one store thread {cpu_now:.2f} s CPU, {wall_now:.2f} s wall")
    print(
        f"  baseline (a to_thread hop each): {cpu_before:.2f} s CPU, {wall_before:.2f} s wall -> RATIO {cpu_before / cpu_now:.2f}x CPU, "
        f"{wall_before / wall_now:.2f}x wall"
    )


def fill(store: ResultStore, n: int) -> None:
    with store.db.lock, store.db.conn:
        store.db.conn.executemany(
            "INSERT INTO samples (id, ord, sample, status) VALUES (?, ?, '{}', 'done')", ((f"s{i}", i) for i in range(n))
        )
        rows = ((f"s{i}", json.dumps(record(i), ensure_ascii=False)) for i in range(n))
        store.db.conn.executemany("INSERT INTO results VALUES (?, 't', 'none', 'done', ?)", rows)


def peak_of(fn: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def export(folder: Path, n: int) -> None:
    store = ResultStore(folder / "export")
    try:
        fill(store, n)
        streamed = peak_of(store.write_results)
        listed = peak_of(lambda: write_jsonl(folder / "listed.jsonl", store.results()))
        same = (folder / "listed.jsonl").read_bytes() == (folder / "export" / "results.jsonl").read_bytes()
    finally:
        store.close()
    print(f"\nexport of {n} records: {streamed:.1f} MiB allocated at the peak, streamed from the store (same bytes: {same})")
    print(f"  baseline (every record in a list first): {listed:.1f} MiB -> RATIO {listed / streamed:.0f}x less memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--writes", type=int, default=4000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="aurelia-engine-io-"))
    try:
        clip = make_clip(folder / "clip.mp4", [Segment(5, (200, 40, 40), 440.0), Segment(5, (40, 60, 200), 880.0)], size=(640, 360))
        repeated_clip(clip)
        concurrent_clip(clip, args.concurrency)
        concurrent_writes(folder, args.concurrency, args.writes)
        export(folder, args.records)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
