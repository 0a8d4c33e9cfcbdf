"""The benchmark runner with fake chat models on real synthetic clips: records, the reasoning cache
(hits and misses), resume (after completion, after a SIGKILL, after failures), concurrency and
batching, progress events, imported r*."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import pytest

import aurelia.bench.cache as cache_mod
from aurelia.bench import run_benchmark
from aurelia.bench.ablation import reasoning_hash
from aurelia.bench.cache import NOT_REASONING, key_parts, prompt_files_fingerprint, reasoning_key
from aurelia.bench.manifest import load_manifest
from aurelia.bench.progress import JsonlProgress
from aurelia.errors import InputError
from aurelia.graph.context import Context
from aurelia.media.received import Received
from aurelia.targets import Target, TargetSettings
from aurelia.testing.chat import TimedFakeChat, agent_models, calls_of

HERE = Path(__file__).parent
CHOICES = ["red", "blue", "green"]


def write_manifest(folder: Path, clip: Path, n: int, *, extra: list[dict] | None = None) -> Path:
    """n multiple-choice samples on one clip (answer: green, the letter C), plus ``extra`` lines."""
    lines = [
        {
            "id": f"s{i}",
            "task": "av_compositional",
            "video": str(clip),
            "question": f"Which colour comes last? (#{i})",
            "choices": CHOICES,
            "answer": "green",
        }
        for i in range(n)
    ]
    path = folder / "manifest.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines + (extra or [])) + "\n")
    return path


def results(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]


def test_every_sample_target_and_inject_mode_is_recorded(tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, 3)
    models = agent_models(scores=(3, 8))
    targets = {"right": TimedFakeChat(responses=["C"]), "wrong": TimedFakeChat(responses=["(A) red"])}
    run = tmp_path / "run"
    result = run_benchmark(manifest, targets, run, models=models, cache=tmp_path / "c.sqlite", inject="steps,full", concurrency=1)
    rows = results(run)
    assert {(r["id"], r["target"], r["inject"]) for r in rows} == {
        (f"s{i}", t, m) for i in range(3) for t in ("right", "wrong") for m in ("none", "steps", "full")
    }
    assert len(rows) == 18
    assert all(r["correct"] is (r["target"] == "right") for r in rows)
    assert {r["parsed"] for r in rows if r["target"] == "wrong"} == {"A"}
    with_r = [r for r in rows if r["inject"] != "none"]
    assert all(r["best_iteration"] == 2 and r["iterations_used"] == 2 and r["reasoning_calls"] == 6 for r in with_r)
    counts = json.loads((run / "run.json").read_text())["counts"]
    assert counts == result.counts.to_dict()
    assert counts["samples_done"] == 3 and counts["agent_calls"] == 18 == calls_of(models)
    assert counts["target_calls"] == 18 and counts["reasoning_generated"] == 3
    with sqlite3.connect(run / "store.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_second_run_with_other_targets_makes_no_agent_call(tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, 3)
    cache = tmp_path / "cache.sqlite"
    first = agent_models()
    run_benchmark(manifest, {"a": TimedFakeChat(responses=["C"])}, tmp_path / "run1", models=first, cache=cache)
    assert calls_of(first) == 9
    again = agent_models()
    targets = {name: TimedFakeChat(responses=["B"]) for name in ("b", "c", "d", "e")}
    result = run_benchmark(manifest, targets, tmp_path / "run2", models=again, cache=cache)
    assert calls_of(again) == 0 and result.counts.agent_calls == 0
    assert result.counts.reasoning_cached == 3 and result.counts.target_calls == 3 * 4 * 2
    # same r* reached every target: the injected reasoning came from the cache
    assert len({r["rhash"] for r in results(tmp_path / "run2") if r["inject"] == "steps"}) == 1


def test_a_rerun_after_completion_makes_no_call(tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, 2)
    target = TimedFakeChat(responses=["C"])
    args = dict(models=agent_models(), cache=tmp_path / "c.sqlite")
    run_benchmark(manifest, {"t": target}, tmp_path / "run", **args)
    before = results(tmp_path / "run")
    again = run_benchmark(manifest, {"t": target}, tmp_path / "run", **args)
    assert again.counts.samples_skipped == 2 and again.counts.agent_calls == 0 and again.counts.target_calls == 0
    assert target.calls == 4 and results(tmp_path / "run") == before
    assert json.loads((tmp_path / "run" / "run.json").read_text())["invocations"] == 2


@pytest.mark.parametrize(
    "change",
    [{"threshold": 7}, {"max_iterations": 3}, {"generator_model": "ollama:other"}, {"num_frames": 3}, {"temperature": 0.2}],
)
def test_a_reasoning_setting_changes_the_key(change, tmp_path, clip):
    sample = load_manifest(write_manifest(tmp_path, clip, 1)).samples[0]
    assert reasoning_key(key_parts(sample, Context())) != reasoning_key(key_parts(sample, Context(**change)))


@pytest.mark.parametrize("change", [{"target_model": "ollama:other"}, {"inject": "full"}, {"request_timeout": 5.0}, {"run_budget": 60.0}])
def test_target_settings_keep_the_key(change, tmp_path, clip):
    sample = load_manifest(write_manifest(tmp_path, clip, 1)).samples[0]
    assert reasoning_key(key_parts(sample, Context())) == reasoning_key(key_parts(sample, Context(**change)))


def test_the_key_reads_every_context_field_but_the_target_ones(tmp_path, clip):
    sample = load_manifest(write_manifest(tmp_path, clip, 1)).samples[0]
    keyed = set(key_parts(sample, Context())["settings"])
    assert keyed == {f.name for f in fields(Context)} - NOT_REASONING
    assert {
        "threshold",
        "max_iterations",
        "generator_model",
        "seed",
        "temperature",
        "num_frames",
        "frame_size",
        "early_stop",
        "prompt_set",
    } <= keyed


def test_media_content_not_path_is_keyed(tmp_path, clip):
    copy = tmp_path / "copy.mp4"
    copy.write_bytes(clip.read_bytes())
    a, b = (load_manifest(write_manifest(tmp_path, v, 1)).samples[0] for v in (clip, copy))
    assert reasoning_key(key_parts(a, Context())) == reasoning_key(key_parts(b, Context()))
    other = load_manifest(write_manifest(tmp_path, clip, 2)).samples[1]  # another question
    assert reasoning_key(key_parts(a, Context())) != reasoning_key(key_parts(other, Context()))


def test_any_prompt_file_changes_the_fingerprint(tmp_path):
    import shutil

    from aurelia.bench.cache import fingerprint_files

    root = Path(str(cache_mod.resources.files("aurelia.prompts")))
    copy = tmp_path / "prompts"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert fingerprint_files(copy) == prompt_files_fingerprint()
    (copy / "nested").mkdir()
    (copy / "nested" / "extra.txt").write_text("[user]\nhello")
    assert fingerprint_files(copy) != prompt_files_fingerprint()
    (copy / "nested" / "extra.txt").unlink()
    (copy / "evaluator.txt").write_text((copy / "evaluator.txt").read_text() + " ")
    assert fingerprint_files(copy) != prompt_files_fingerprint()


def test_changed_prompts_or_tau_miss_the_cache(tmp_path, clip, monkeypatch):
    manifest = write_manifest(tmp_path, clip, 2)
    cache = tmp_path / "c.sqlite"
    target = {"t": TimedFakeChat(responses=["C"])}
    run_benchmark(manifest, target, tmp_path / "r1", models=agent_models(), cache=cache)
    hit = run_benchmark(manifest, target, tmp_path / "r2", models=agent_models(), cache=cache)
    assert hit.counts.reasoning_cached == 2 and hit.counts.agent_calls == 0
    tau = run_benchmark(manifest, target, tmp_path / "r3", models=agent_models(), cache=cache, context={"threshold": 7})
    assert tau.counts.reasoning_generated == 2 and tau.counts.agent_calls == 6
    monkeypatch.setattr(cache_mod, "prompt_files_fingerprint", lambda: "edited prompts")
    prompts = run_benchmark(manifest, target, tmp_path / "r4", models=agent_models(), cache=cache)
    assert prompts.counts.reasoning_generated == 2


def test_a_resume_with_other_agent_settings_is_refused(tmp_path, clip, monkeypatch):
    manifest = write_manifest(tmp_path, clip, 1)
    run = tmp_path / "run"
    run_benchmark(manifest, {"t": TimedFakeChat(responses=["C"])}, run, models=agent_models(), cache=tmp_path / "c.sqlite")
    settings = (run / "run.json").read_text()
    with pytest.raises(InputError, match=r"threshold 6 \(now 8\)"):
        run_benchmark(
            manifest,
            {"t": TimedFakeChat(responses=["C"])},
            run,
            models=agent_models(),
            cache=tmp_path / "c.sqlite",
            context={"threshold": 8},
        )
    assert (run / "run.json").read_text() == settings  # the refused invocation changed nothing
    monkeypatch.setattr(cache_mod, "prompt_files_fingerprint", lambda: "edited prompt files")
    with pytest.raises(InputError, match="prompt files"):  # r* and answers under other prompts would mix
        run_benchmark(manifest, {"t": TimedFakeChat(responses=["C"])}, run, models=agent_models(), cache=tmp_path / "c.sqlite")


def test_a_failing_sample_is_recorded_and_the_run_goes_on(tmp_path, clip):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    bad = {"id": "bad", "task": "av_compositional", "video": str(broken), "question": "Which colour?", "choices": CHOICES, "answer": "red"}
    manifest = write_manifest(tmp_path, clip, 2, extra=[bad])
    args = dict(models=agent_models(), cache=tmp_path / "c.sqlite")
    result = run_benchmark(manifest, {"t": TimedFakeChat(responses=["C"])}, tmp_path / "run", **args)
    assert result.counts.samples_done == 2 and result.counts.samples_failed == 1
    rows = {(r["id"], r["inject"]): r for r in results(tmp_path / "run")}
    assert "not a readable media file" in rows[("bad", "none")]["error"] and "broken.mp4" in rows[("bad", "steps")]["error"]
    assert rows[("bad", "none")]["correct"] is None and rows[("s0", "steps")]["correct"] is True
    again = run_benchmark(manifest, {"t": TimedFakeChat(responses=["C"])}, tmp_path / "run", **args)
    assert again.counts.samples_skipped == 3 and again.counts.target_calls == 0  # failures wait for --retry-failed
    retried = run_benchmark(manifest, {"t": TimedFakeChat(responses=["C"])}, tmp_path / "run", retry_failed=True, **args)
    assert retried.counts.samples_skipped == 2 and retried.counts.samples_failed == 1
    assert len(results(tmp_path / "run")) == 6  # never duplicated


def test_a_killed_run_resumes_without_loss_duplicates_or_repeated_agent_calls(tmp_path, clip):
    n = 8
    manifest = write_manifest(tmp_path, clip, n)
    run, cache = tmp_path / "run", tmp_path / "cache.sqlite"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    # the last sample's target never answers: the run cannot finish before the kill, whatever the timing
    hold = f"(#{n - 1})"
    proc = subprocess.Popen([sys.executable, str(HERE / "bench_worker.py"), str(manifest), str(run), str(cache), "0.15", hold], env=env)
    try:
        deadline = time.monotonic() + 120
        while _finished(run) < 3:
            assert proc.poll() is None, "the worker ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    finished, cached = _finished(run), _cached(cache)
    assert 3 <= finished < n and cached >= finished
    models, target = agent_models(), TimedFakeChat(responses=["C"])
    resumed = run_benchmark(manifest, {"fake": target}, run, models=models, cache=cache, concurrency=2)
    rows = results(run)
    assert len(rows) == 2 * n and len({(r["id"], r["inject"]) for r in rows}) == 2 * n
    assert all(r["error"] is None and r["correct"] for r in rows)
    assert resumed.counts.agent_calls == calls_of(models) == 3 * (n - cached)  # one iteration (score 8 ≥ τ 6): 3 calls each
    assert resumed.counts.samples_skipped == finished


def _finished(run: Path) -> int:
    """Samples with both records stored (read while the worker writes: WAL allows it)."""
    if not (run / "store.sqlite").exists():
        return 0
    try:
        with sqlite3.connect(run / "store.sqlite") as db:
            return db.execute(
                "SELECT COUNT(*) FROM (SELECT id FROM results WHERE status = 'done' GROUP BY id HAVING COUNT(*) = 2)"
            ).fetchone()[0]
    except sqlite3.OperationalError:  # the tables are being created
        return 0


def _cached(cache: Path) -> int:
    with sqlite3.connect(cache) as db:
        return db.execute("SELECT COUNT(*) FROM reasoning").fetchone()[0]


def test_samples_and_agent_calls_run_concurrently(tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, 8)
    models = agent_models(delay=0.05)
    run_benchmark(
        manifest, {"t": TimedFakeChat(responses=["C"])}, tmp_path / "run", models=models, cache=tmp_path / "c.sqlite", concurrency=4
    )
    assert models["generator"].active_max > 1


class BatchTarget(Target):
    """A local-model-like target (not a chat target): one batch at a time; records the batch sizes."""

    def __init__(self) -> None:
        self.name = "batcher"
        self.settings = TargetSettings(batch_size=8)
        self.sampling = {"temperature": 0.0, "seed": 0}  # what its replies are generated with
        self.batches: list[int] = []

    def answer_batch(self, samples, config=None):
        self.batches.append(len(samples))
        time.sleep(0.05)
        return [self.answered(s, "C", Received(), 0.05, {}, {}) for s in samples]


def test_a_local_target_answers_in_batches(tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, 8)
    target = BatchTarget()
    run_benchmark(manifest, {"batcher": target}, tmp_path / "run", models=agent_models(), cache=tmp_path / "c.sqlite", concurrency=8)
    assert sum(target.batches) == 16 and max(target.batches) > 1
    assert all(r["correct"] for r in results(tmp_path / "run"))


def test_progress_reports_each_sample_as_json_lines(tmp_path, clip, capsys):
    manifest = write_manifest(tmp_path, clip, 3)
    run_benchmark(
        manifest,
        {"t": TimedFakeChat(responses=["C"])},
        tmp_path / "run",
        models=agent_models(),
        cache=tmp_path / "c.sqlite",
        progress=JsonlProgress(),
    )
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["event"] for e in events] == ["start", "sample", "sample", "sample", "end"]
    last = events[-2]
    assert last["finished"] == last["total"] == 3 and last["accuracy"] == {"t": {"zero_shot": 1.0, "aurelia": 1.0}}
    assert events[-1]["counts"]["target_calls"] == 6


def test_imported_reasoning_makes_no_agent_call(tmp_path, clip):
    imported = {"steps": [{"step": "Watch the end", "answer": "green"}], "final_answer": "green"}
    line = {
        "id": "i0",
        "task": "av_compositional",
        "video": str(clip),
        "question": "Last colour?",
        "choices": CHOICES,
        "answer": "C",
        "reasoning": imported,
    }
    manifest = write_manifest(tmp_path, clip, 0, extra=[line])
    target, models = TimedFakeChat(responses=["C"]), agent_models()
    result = run_benchmark(manifest, {"t": target}, tmp_path / "run", models=models, cache=tmp_path / "c.sqlite", reasoning="imported")
    assert calls_of(models) == 0 and result.counts.agent_calls == 0 and result.counts.target_calls == 2
    rows = results(tmp_path / "run")
    assert [r["inject"] for r in rows] == ["none", "steps"]
    assert rows[1]["rhash"] == reasoning_hash(imported) and rows[1]["iterations_used"] == 0


def test_bad_settings_are_input_errors(tmp_path, clip):
    manifest = write_manifest(tmp_path, clip, 1)
    t = {"t": TimedFakeChat(responses=["C"])}
    with pytest.raises(InputError, match="--no-early-stop"):
        run_benchmark(manifest, t, tmp_path / "r", ablate=True, cache=tmp_path / "c.sqlite")
    with pytest.raises(InputError, match="inject must be"):
        run_benchmark(manifest, t, tmp_path / "r", inject="sideways", cache=tmp_path / "c.sqlite")
    with pytest.raises(InputError, match="unknown task"):
        run_benchmark(manifest, t, tmp_path / "r", tasks=["nope"], cache=tmp_path / "c.sqlite")
    with pytest.raises(InputError, match="no setting 'colour'"):
        run_benchmark(manifest, t, tmp_path / "r", context={"colour": "red"}, cache=tmp_path / "c.sqlite")
    with pytest.raises(InputError, match="at least one target"):
        run_benchmark(manifest, {}, tmp_path / "r", cache=tmp_path / "c.sqlite")
    with pytest.raises(InputError, match="given twice"):  # two unnamed instances: name them with a mapping
        run_benchmark(
            manifest, [TimedFakeChat(responses=["A"]), TimedFakeChat(responses=["B"])], tmp_path / "r", cache=tmp_path / "c.sqlite"
        )


def test_each_sample_gets_its_own_run_budget(tmp_path, clip):
    """The budget bounds one sample's reasoning: a benchmark longer than it still runs every sample."""
    manifest = write_manifest(tmp_path, clip, 6)  # 6 samples × 3 calls × 0.05 s: 0.9 s of agent calls, one after another
    result = run_benchmark(
        manifest, {"t": TimedFakeChat(responses=["C"])}, tmp_path / "run", models=agent_models(delay=0.05), cache=tmp_path / "c.sqlite",
        concurrency=1, context={"run_budget": 0.6},
    )  # fmt: skip
    assert result.counts.samples_done == 6 and result.counts.samples_failed == 0
