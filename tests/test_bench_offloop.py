"""The benchmark's blocking work off the event loop, done once: a clip is measured and hashed once
per version of the file (a changed file is measured again, a failure is not remembered), concurrent samples of
one clip share one measurement (a failure reaches every one of them as the same typed error), every
SQLite call of a run happens on one store thread, and the export streamed from the store is the
same file as before, without holding every record."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import threading
import tracemalloc
from pathlib import Path

import pytest
from test_bench_runner import write_manifest

import aurelia.bench.engine as engine_mod
import aurelia.media.prepare as prepare_mod
import aurelia.media.probe as probe_mod
from aurelia.bench import run_benchmark
from aurelia.bench.cache import ReasoningCache, media_hashes
from aurelia.bench.db import Database
from aurelia.bench.engine import Engine, Plan
from aurelia.bench.export import rebuild_results
from aurelia.bench.manifest import load_manifest
from aurelia.bench.store import ResultStore
from aurelia.bench.tasks import builtin_tasks
from aurelia.errors import MediaError
from aurelia.graph.context import Context
from aurelia.media.prepare import prepare_media
from aurelia.testing.chat import TimedFakeChat, agent_models


@pytest.fixture()
def probes(monkeypatch) -> list[str]:
    """The paths prepare_media probed (and hashed), in order; the cache starts empty."""
    seen: list[str] = []
    real = prepare_mod.probe

    def counting(path):
        seen.append(str(path))
        return real(path)

    prepare_mod._prepare_cached.cache_clear()
    monkeypatch.setattr(prepare_mod, "probe", counting)
    yield seen
    prepare_mod._prepare_cached.cache_clear()


def test_a_clip_measured_once_is_not_probed_or_hashed_again(tmp_path, clip, probes):
    video = str(shutil.copy(clip, tmp_path / "a.mp4"))
    first, second = prepare_media(video), prepare_media(video)
    assert probes == [video]
    assert first == second and first is not second  # each caller gets its own copy
    prepare_media(video, num_frames=3)  # other settings: measured for them
    assert probes == [video, video]


def test_a_changed_file_is_measured_again(tmp_path, clip, silent_clip, probes):
    video = tmp_path / "a.mp4"
    shutil.copy(clip, video)
    before = prepare_media(str(video))
    shutil.copy(silent_clip, video)  # new content, size and mtime
    after = prepare_media(str(video))
    assert len(probes) == 2 and after["sha256"] != before["sha256"] and not after["has_audio"]
    st = video.stat()
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # same bytes, touched
    assert prepare_media(str(video)) == after and len(probes) == 3


def test_a_failed_clip_is_not_remembered(tmp_path, clip, probes):
    video = tmp_path / "a.mp4"
    video.write_bytes(b"not a video" * 100)
    for _ in range(2):
        with pytest.raises(MediaError, match="not a readable media file") as err:
            prepare_media(str(video))
        assert err.value.path == str(video)
    assert len(probes) == 2  # the second call tried again
    shutil.copy(clip, video)
    assert prepare_media(str(video))["has_video"]


def test_the_probe_and_the_cache_key_hash_a_clip_once(tmp_path, clip, probes, monkeypatch):
    hashed: list[str] = []
    real = probe_mod.open_regular  # what reads a file's bytes to hash them, whoever asks
    monkeypatch.setattr(probe_mod, "open_regular", lambda path: hashed.append(str(path)) or real(path))
    probe_mod._sha256_of_version.cache_clear()
    video = str(shutil.copy(clip, tmp_path / "a.mp4"))
    sample = next(load_manifest(write_manifest(tmp_path, Path(video), 1)).iter_samples())
    media = prepare_media(video)
    assert media_hashes(sample) == {"video": media["sha256"]} and hashed == [video]
    Path(video).write_bytes(Path(video).read_bytes() + b"\0")  # another version: hashed again
    assert media_hashes(sample)["video"] != media["sha256"] and hashed == [video, video]


def make_engine(tmp_path: Path, concurrency: int = 2) -> Engine:
    plan = Plan(
        ctx=Context(), modes=["none"], tasks=builtin_tasks(), model_labels={}, concurrency=concurrency, ablate=False,
        retry_failed=False, source="generate", full_trajectories=False,
    )  # fmt: skip
    store, cache = ResultStore(tmp_path / "run"), ReasoningCache(tmp_path / "c.sqlite")
    return Engine(plan, store=store, cache=cache, reasoner=None, reasoner_name="graph", targets={}, progress=None)  # type: ignore[arg-type]


class GatedPrepare:
    """prepare_media that waits for ``gate`` (set once every sample has asked), counting calls;
    the first ``fail`` calls raise the typed error a corrupt clip gives."""

    def __init__(self, fail: int = 0) -> None:
        self.calls, self.fail = 0, fail
        self.gate = threading.Event()

    def __call__(self, video, *args, **kwargs):
        self.calls += 1
        assert self.gate.wait(10), "the samples never all asked"
        if self.calls <= self.fail:
            raise MediaError("not a readable media file (Invalid data found when processing input)", path=video)
        return prepare_media(video, *args, **kwargs)


def media_of_both(engine: Engine, samples: list, gated: GatedPrepare) -> list:
    async def both() -> list:
        tasks = [asyncio.create_task(engine.media(s)) for s in samples]
        await asyncio.sleep(0)  # each task has asked for its clip (the first one started the measurement)
        gated.gate.set()
        return await asyncio.gather(*tasks)

    return asyncio.run(both())


def test_concurrent_samples_of_one_clip_share_one_measurement(tmp_path, clip, monkeypatch):
    samples = list(load_manifest(write_manifest(tmp_path, clip, 3)).iter_samples())
    gated = GatedPrepare()
    monkeypatch.setattr(engine_mod, "prepare_media", gated)
    engine = make_engine(tmp_path)
    try:
        got = media_of_both(engine, samples, gated)
        assert gated.calls == 1 and engine.measuring.joined == 2
        (m0, e0), (m1, e1), (m2, e2) = got
        assert e0 is e1 is e2 is None and m0 == m1 == m2 and m0["sha256"]
        assert m0 is not m1 and m1 is not m2  # a sample may change its copy without touching another's
        assert not engine.measuring.flights  # nothing in flight is left behind
    finally:
        engine.store.close()
        engine.cache.close()


def test_a_failing_clip_fails_every_waiter_with_the_typed_error_and_is_tried_again(tmp_path, clip, monkeypatch):
    samples = list(load_manifest(write_manifest(tmp_path, clip, 2)).iter_samples())
    gated = GatedPrepare(fail=1)
    monkeypatch.setattr(engine_mod, "prepare_media", gated)
    engine = make_engine(tmp_path)
    try:
        (m0, e0), (m1, e1) = media_of_both(engine, samples, gated)
        assert gated.calls == 1 and m0 is None and m1 is None
        assert e0 == e1 == f"{clip}: not a readable media file (Invalid data found when processing input)"
        media, error = asyncio.run(engine.media(samples[0]))  # asked again later: measured again
        assert gated.calls == 2 and error is None and media["has_video"]
    finally:
        engine.store.close()
        engine.cache.close()


def test_every_sqlite_call_of_a_run_is_on_one_store_thread(tmp_path, clip, monkeypatch):
    threads: list[tuple[str, int]] = []
    for name in ("write", "rows", "iter_rows"):
        real = getattr(Database, name)

        def recording(self, *args, _real=real, **kwargs):
            threads.append((threading.current_thread().name, threading.get_ident()))
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(Database, name, recording)
    manifest = write_manifest(tmp_path, clip, 6)
    run_benchmark(
        manifest, {"t": TimedFakeChat(responses=["C"])}, tmp_path / "run", models=agent_models(), cache=tmp_path / "c.sqlite", concurrency=4
    )
    main = threading.main_thread().ident
    during = [t for t in threads if t[1] != main]  # opening and exporting happen on the caller's thread
    assert len(during) >= 6 * 5  # per sample: statuses, trajectory, add, cache get and put, trajectory, results
    assert {name.split("_")[0] for name, _ in during} == {"aurelia-store"} and len({i for _, i in during}) == 1


def old_export(run: Path) -> bytes:
    """results.jsonl as it was written before the export was streamed: every record read into a
    list, then each dumped on its own line."""
    with sqlite3.connect(run / "store.sqlite") as db:
        rows = db.execute("SELECT r.record FROM results r JOIN samples s ON s.id = r.id ORDER BY s.ord, r.target, r.inject").fetchall()
    records = [json.loads(r[0]) for r in rows]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def test_the_streamed_export_is_the_same_file(tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, 5, extra=[{"id": "s-é", "task": "av_compositional", "video": str(clip),
        "question": "Quelle couleur — en dernier ?", "choices": ["rouge", "bleu", "vert"], "answer": "vert"}])  # fmt: skip
    run = tmp_path / "run"
    targets = {"right": TimedFakeChat(responses=["C"]), "other": TimedFakeChat(responses=["(A) red \u2028 ünïcode"])}
    result = run_benchmark(manifest, targets, run, models=agent_models(), cache=tmp_path / "c.sqlite", inject="steps,full", concurrency=3)
    exported = (run / "results.jsonl").read_bytes()
    assert exported == old_export(run) and result.results == 6 * 2 * 3
    (run / "results.jsonl").unlink()
    assert rebuild_results(run) == (run / "results.jsonl", 36) and (run / "results.jsonl").read_bytes() == exported


def test_the_export_never_holds_every_record(tmp_path):
    """20,000 records of about 1 kB: what the export allocates at its peak is a small part of them."""
    store = ResultStore(tmp_path / "run")
    try:
        with store.db.lock, store.db.conn:
            store.db.conn.executemany(
                "INSERT INTO samples (id, ord, sample, status) VALUES (?, ?, '{}', 'done')", ((f"s{i}", i) for i in range(20_000))
            )
            store.db.conn.executemany(
                "INSERT INTO results VALUES (?, 't', 'none', 'done', ?)",
                ((f"s{i}", json.dumps({"id": f"s{i}", "output": "x" * 1000})) for i in range(20_000)),
            )
        tracemalloc.start()
        try:
            _, n = store.write_results()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        store.close()
    assert n == 20_000 and (tmp_path / "run" / "results.jsonl").stat().st_size > 20_000_000
    assert peak < 4_000_000, peak  # the records themselves are over 20 MB
