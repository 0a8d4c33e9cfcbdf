"""Bench media that are not regular files: a FIFO, a device (``/dev/zero``), a directory, and a
file over the size limit (sparse, so nothing is written). ``bench validate``, ``bench run`` and
the reasoning cache's key refuse each in one line naming the file and the reason, without
opening it. Each command runs in a child process with a timeout, so that a regression (a read
that blocks on the FIFO or never ends on /dev/zero) fails the test instead of hanging the suite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aurelia.bench.manifest import MAX_MEDIA_BYTES

CLI = [sys.executable, "-c", "from aurelia.cli import main; main()"]
GUARD_S = 120  # far above what the refusals take; only a hang reaches it


def cli(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=GUARD_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`aurelia {' '.join(map(str, args))}` hung on a media file that is not a regular file")


@pytest.fixture()
def hostile(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, what the refusal says)."""
    fifo = tmp_path / "fifo.mp4"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.mp4"
    folder.mkdir()
    huge = tmp_path / "huge.mp4"
    with huge.open("wb") as f:
        f.truncate(MAX_MEDIA_BYTES + 1)  # sparse: no byte is written
    return {
        "fifo": (fifo, "not a regular file (a device, FIFO or socket is never read)"),
        "device": (Path("/dev/zero"), "not a regular file (a device, FIFO or socket is never read)"),
        "folder": (folder, "is a folder, not a file"),
        "huge": (huge, f"the limit is {MAX_MEDIA_BYTES}"),
    }


def manifest(tmp_path: Path, videos: dict[str, Path]) -> Path:
    lines = [
        {"id": name, "task": "av_compositional", "video": str(path), "question": "Last colour?", "choices": ["red", "green"], "answer": "green"}
        for name, path in videos.items()
    ]  # fmt: skip
    path = tmp_path / "manifest.jsonl"
    path.write_text("\n".join(map(json.dumps, lines)) + "\n")
    return path


def test_validate_refuses_each_without_opening_it(tmp_path, hostile):
    path = manifest(tmp_path, {n: p for n, (p, _) in hostile.items()})
    for flags in ([], ["--probe"]):
        result = cli("bench", "validate", path, *flags)
        assert result.returncode == 2, result.stderr
        out = result.stdout.splitlines()
        assert len(out) == len(hostile) and "Traceback" not in result.stderr
        for line_no, (p, why) in enumerate(hostile.values(), start=1):
            assert any(o.startswith(f"{path}:{line_no}: video: ") and why in o and str(p) in o for o in out), (why, out)
        assert result.stderr.strip() == f"error: {path}: 4 of 4 lines invalid (0 valid)"


def test_run_refuses_the_manifest_in_one_line(tmp_path, hostile):
    fifo, why = hostile["fifo"]
    result = cli(
        "bench", "run", manifest(tmp_path, {"fifo": fifo}), "-t", "local", "--out", tmp_path / "run", "--cache", tmp_path / "c.sqlite"
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'manifest.jsonl'}: 1 of 1 lines invalid: line 1: video: {why} ({fifo})"
    ]


@pytest.mark.parametrize("name", ["fifo", "device", "folder", "huge"])
def test_the_cache_key_checks_a_file_before_hashing_it(tmp_path, clip, hostile, name):
    """A file swapped after the manifest was checked: the key refuses it (a MediaError naming it)."""
    path, _ = hostile[name]
    code = (
        "import sys\n"
        "from aurelia.bench.cache import key_parts\n"
        "from aurelia.bench.manifest import load_manifest\n"
        "from aurelia.errors import MediaError\n"
        "from aurelia.graph.context import Context\n"
        "sample = load_manifest(sys.argv[1]).samples[0].model_copy(update={'video': sys.argv[2]})\n"
        "try:\n"
        "    key_parts(sample, Context())\n"
        "except MediaError as exc:\n"
        "    print(exc)\n"
    )
    good = manifest(tmp_path, {"ok": clip})
    try:
        done = subprocess.run([sys.executable, "-c", code, str(good), str(path)], capture_output=True, text=True, timeout=GUARD_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"hashing {name} for the cache key hung")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{path}: ") and ("directory" in done.stdout if name == "folder" else hostile[name][1] in done.stdout)


def test_a_run_probes_the_media_before_hashing_them(tmp_path, clip, monkeypatch):
    """Media swapped for a file that is not media after the manifest was read: the probe refuses
    it before anything hashes it for the cache key, and no agent is called."""
    import aurelia.bench.cache as cache_mod
    from aurelia.bench import run_benchmark
    from aurelia.bench.manifest import load_manifest
    from aurelia.testing.chat import TimedFakeChat, agent_models, calls_of

    loaded = load_manifest(manifest(tmp_path, {"s0": clip}))
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video at all\n" * 100)
    loaded.samples = [s.model_copy(update={"video": str(junk)}) for s in loaded.samples]
    hashed: list[str] = []
    monkeypatch.setattr(cache_mod, "cached_sha256", lambda path: hashed.append(str(path)) or "x")
    models = agent_models()
    result = run_benchmark(loaded, {"t": TimedFakeChat(responses=["B"])}, tmp_path / "run", models=models, cache=tmp_path / "c.sqlite")
    records = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert result.counts.samples_failed == 1 and hashed == [] and calls_of(models) == 0
    assert len(records) == 2 and all(r["error"].startswith(f"{junk}: not a readable media file") for r in records), records
