"""The streamed manifest: read line by line and again on demand, never held whole. The same lines
and problems as the text read at once, problems beyond the ones held still counted and reported,
the same seeded subset as the in-memory draw gave, a run that reads only a few samples ahead of
the ones it finished, and a manifest changed after validation refused instead of mixed in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_bench_runner import write_manifest

from aurelia.bench import run_benchmark
from aurelia.bench.manifest import MAX_HELD_PROBLEMS, Manifest, ManifestError, load_manifest, validate_manifest
from aurelia.bench.records import iter_jsonl, read_jsonl
from aurelia.bench.runner import select_samples
from aurelia.errors import InputError
from aurelia.testing.chat import TimedFakeChat, agent_models

CHOICES = ["red", "blue", "green"]


def sample_line(sid: str, task: str = "av_compositional", category: str = "early", video: str = "clip.mp4") -> str:
    line = {"id": sid, "task": task, "category": [category], "video": video, "question": f"q {sid}", "choices": CHOICES, "answer": "green"}
    return json.dumps(line)


def test_a_file_read_line_by_line_splits_as_its_text_does(tmp_path: Path) -> None:
    """Every line break JSON text may hold (CRLF, CR, LF), a line break inside a string that is
    not one (U+2028), a byte-order mark, blank lines and a byte that is not UTF-8."""
    raw = '\ufeff{"a": 1}\r\n\r\n{"b": "x\u2028y"}\r{"c": 3}\n  \n{"d": "caf'.encode() + b"\xe9" + b'"}\n{"e": 5}'
    path = tmp_path / "m.jsonl"
    path.write_bytes(raw)
    streamed = list(read_jsonl(path))
    assert streamed == list(iter_jsonl(raw.decode("utf-8-sig", errors="surrogateescape")))
    assert [n for n, _ in streamed] == [1, 3, 4, 6, 7]
    assert streamed[1][1] == {"b": "x\u2028y"} and str(streamed[3][1]).startswith("line 6: not UTF-8 text")


def test_problems_beyond_the_ones_held_are_counted_and_each_reported(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 64)
    bad = MAX_HELD_PROBLEMS + 20
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(["{"] * bad + [sample_line("ok")]) + "\n")
    seen: list[int] = []
    result = validate_manifest(path, on_problem=lambda p: seen.append(p.line))
    assert seen == list(range(1, bad + 1))  # every one, in order, as found
    assert len(result.problems) == MAX_HELD_PROBLEMS and result.problem_count == bad and result.bad_line_count == bad
    assert (result.lines, result.valid, dict(result.task_counts)) == (bad + 1, 1, {"av_compositional": 1})
    with pytest.raises(ManifestError) as err:
        load_manifest(path)
    assert str(err.value).startswith(f"{path}: {bad} of {bad + 1} lines invalid: line 1: bad JSON")
    assert f"(and {bad - 1} more" in str(err.value)
    assert [s.id for s in load_manifest(path, skip_invalid=True).iter_samples()] == ["ok"]


def test_a_line_with_task_and_media_problems_reports_both_and_a_clip_named_often_once(tmp_path: Path) -> None:
    lines = [sample_line(f"s{i}", video="missing.mp4") for i in range(3)] + [sample_line("s3", task="avsd", video="gone.mp4")]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    problems = validate_manifest(path).problems
    assert [(p.line, p.field) for p in problems] == [(1, "video"), (2, "video"), (3, "video"), (4, "choices"), (4, "video")]
    assert all(p.reason == f"file not found ({tmp_path / 'missing.mp4'})" for p in problems[:3])


def test_skipped_lines_and_duplicates_stay_out_of_the_stream(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 64)
    lines = ["{", sample_line("a"), sample_line("b", task="av_geoiq"), sample_line("a"), "", sample_line("c"), sample_line("d")]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    manifest = load_manifest(path, skip_invalid=True)
    assert [(p.line, p.field) for p in manifest.problems] == [(1, None), (4, "id")]
    assert [s.id for s in manifest.iter_samples()] == ["a", "b", "c", "d"]
    assert all(Path(s.video) == tmp_path / "clip.mp4" for s in manifest.iter_samples())
    assert [s.id for s in manifest.iter_samples({"av_compositional"})] == ["a", "c", "d"]
    first = select_samples(manifest, ["av_compositional"], 2)
    assert (len(first), [s.id for s in first]) == (2, ["a", "c"])
    assert [s.id for s in first] == ["a", "c"]  # iterated again: streamed again, the same


# drawn by the in-memory stratified_sample before the manifest was streamed: the same seed must
# keep drawing the same ids (a subset reported in a paper is reproducible)
PINNED = [
    (11, 8, None, ["c0", "c5", "c7", "c20", "c24", "c25", "g1", "g9"]),
    (0, 13, None, ["c2", "c4", "c6", "c12", "c14", "c19", "c21", "c25", "c26", "c27", "g4", "g5", "g6"]),
    (5, 4, ["av_geoiq"], ["g2", "g6", "g7", "g9"]),
]


def test_the_seeded_subset_is_the_one_the_in_memory_draw_gave(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 64)
    lines = [sample_line(f"c{i}", category=("early", "late", "mid")[i % 3]) for i in range(30)]
    lines += [sample_line(f"g{i}", task="av_geoiq", category=("early", "late", "mid")[i % 3]) for i in range(10)]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(lines) + "\n")
    manifest = load_manifest(path)
    for seed, n, tasks, ids in PINNED:
        chosen = select_samples(manifest, tasks, None, sample=n, seed=seed)
        assert (len(chosen), [s.id for s in chosen]) == (len(ids), ids), (seed, n, tasks)
    assert len(select_samples(manifest, None, None, sample=400)) == 40


def test_a_manifest_changed_after_validation_is_refused(tmp_path: Path) -> None:
    (tmp_path / "clip.mp4").write_bytes(b"\0" * 64)
    path = tmp_path / "m.jsonl"
    path.write_text(sample_line("a") + "\n")
    manifest = load_manifest(path)
    with path.open("a") as f:
        f.write(sample_line("b") + "\n")
    with pytest.raises(InputError, match="changed since it was validated"):
        list(manifest.iter_samples())


def test_a_run_reads_only_a_few_samples_ahead_of_those_finished(tmp_path, clip, monkeypatch):
    """Each sample finished was read from the manifest at most two workers' worth ahead (one
    sample in hand per worker, one batch read ahead): a million lines are never all in memory."""
    n, concurrency = 24, 3
    read: list[str] = []
    streamed = Manifest.iter_samples

    def counted(self, tasks=None):
        for sample in streamed(self, tasks):
            read.append(sample.id)
            yield sample

    monkeypatch.setattr(Manifest, "iter_samples", counted)
    events: list[dict] = []
    ahead: list[int] = []

    def progress(event: dict) -> None:
        events.append(event)
        if event["event"] == "sample":
            ahead.append(len(read) - event["finished"])

    manifest = write_manifest(tmp_path, clip, n)
    result = run_benchmark(
        manifest, {"t": TimedFakeChat(responses=["C"])}, tmp_path / "run", models=agent_models(), cache=tmp_path / "c.sqlite",
        concurrency=concurrency, progress=progress,
    )  # fmt: skip
    assert events[0]["event"] == "start" and events[0]["total"] == n
    assert result.counts.samples_done == n and result.results == 2 * n and sorted(read) == sorted(f"s{i}" for i in range(n))
    assert len(ahead) == n and max(ahead) <= 2 * concurrency, ahead
