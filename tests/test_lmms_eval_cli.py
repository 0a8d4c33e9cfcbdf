"""The real ``lmms-eval`` command line with ``--model aurelia``, end to end and offline: our
Music-AVQA task folder (local JSONL, no hub), tiny lmms-eval models registered by entry point
(tests/lmms_echo.py) as the targets, and the agents served by the OpenAI-compatible fake server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from lmms_echo import echo_distribution
from openai_fake import openai_server

import aurelia
from aurelia.bench.manifest import load_manifest
from aurelia.bench.score import score
from aurelia.lmms.tasks import write_task_folder

REASONING = '{"steps": [{"step": "Listen for a tone at the very start", "answer": "a 440 Hz tone"}], "final_answer": "yes"}'
REPLIES = {"gen": [REASONING], "sum": ["A red screen with a tone, then a silent green one."], "eval": ['{"score": 8, "rationale": "ok"}']}
QUESTIONS = [("Is there sound at the start?", "yes"), ("Is the screen blue at the start?", "no"), ("Is there sound at the end?", "no")]
HEADER = "Reasoning steps to consider:"


@pytest.fixture
def tasks(tmp_path: Path, clip: Path) -> Path:
    lines = [{"id": f"m{i}", "task": "music_avqa", "video": str(clip), "question": q, "answer": a} for i, (q, a) in enumerate(QUESTIONS)]
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert write_task_folder(manifest, tmp_path / "tasks") == {"aurelia_music_avqa": 3}
    return tmp_path / "tasks"


def lmms_eval(tmp_path: Path, tasks: Path, name: str, model_args: str) -> Path:
    """One ``lmms-eval`` run (a subprocess, as a user runs it); returns its output folder."""
    assert any(ep.name == "aurelia" for ep in entry_points(group="lmms_eval.models")), "reinstall: the aurelia entry point is missing"
    out = tmp_path / name
    repo = Path(aurelia.__file__).parents[1]
    path = [str(repo), str(Path(__file__).parent), str(echo_distribution(tmp_path / "dist")), os.environ.get("PYTHONPATH", "")]
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join(p for p in path if p),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "OPENAI_API_KEY": "not-used",
    }
    command = [sys.executable, "-m", "lmms_eval", "--model", "aurelia", "--model_args", model_args, "--tasks", "aurelia_music_avqa"]
    command += ["--include_path", str(tasks), "--output_path", str(out), "--log_samples", "--verbosity", "WARNING"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def only(folder: Path, pattern: str) -> Path:
    (path,) = folder.rglob(pattern)
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_lmms_eval_runs_a_local_task_with_r_star_and_reuses_it(tmp_path: Path, tasks: Path) -> None:
    record = tmp_path / "record.jsonl"
    with openai_server(REPLIES) as (url, requests):
        agents = f"generator={url}?model=gen,summarizer={url}?model=sum,evaluator={url}?model=eval,cache={tmp_path / 'r.sqlite'}"
        first = lmms_eval(tmp_path, tasks, "steps", f'target=echo,target_args={{"reply": "yes", "record": "{record}"}},{agents}')
        assert len(requests) == 9  # three docs, one iteration each (8 ≥ τ): generator, summarizer, evaluator
        seen = read_jsonl(record)
        assert len(seen) == 3 and {s["batch"] for s in seen} == {3}  # the inner model got every request in one call
        assert all(HEADER in s["prompt"] and "Listen for a tone" in s["prompt"] for s in seen)
        assert all(s["prompt"].index("Possible answers:") < s["prompt"].index(HEADER) for s in seen)  # after the task's text
        assert all(s["visuals"][0].endswith("rgb.mp4") for s in seen)
        samples = only(first, "*_samples_aurelia_music_avqa.jsonl")
        log = read_jsonl(samples.parent / "aurelia_reasoning.jsonl")  # beside lmms-eval's sample log
        assert [(e["doc_id"], e["source"], e["agent_calls"]) for e in log] == [(0, "graph", 3), (1, "graph", 3), (2, "graph", 3)]
        assert log[0]["reasoning_star"]["steps"][0]["step"] == "Listen for a tone at the very start"
        assert log[0]["trajectory"]["iterations"][0]["score"] == 8 and log[0]["sample_id"] == "m0"

        record.unlink()
        chat = lmms_eval(tmp_path, tasks, "chat", f'target=echo_chat,target_args={{"record": "{record}"}},{agents}')
        assert len(requests) == 9  # another target: r* from the cache, no agent call
        log = read_jsonl(only(chat, "aurelia_reasoning.jsonl"))
        assert {(e["source"], e["agent_calls"]) for e in log} == {("cache", 0)}
        turns = [s["messages"][-1]["content"] for s in read_jsonl(record)]
        assert all(t[0]["type"] == "video" and HEADER in t[-1]["text"] for t in turns)

        record.unlink()
        base = lmms_eval(tmp_path, tasks, "none", f'target=echo,target_args={{"record": "{record}"}},{agents},inject=none')
        assert len(requests) == 9
    assert not any(HEADER in s["prompt"] for s in read_jsonl(record))  # the baseline sends no reasoning
    assert {e["source"] for e in read_jsonl(only(base, "aurelia_reasoning.jsonl"))} == {None}
    # the task's accuracy is aurelia bench's score of the same outputs (every answer "yes": 1 of 3)
    expected = score(load_manifest(tmp_path / "manifest.jsonl").samples, {f"m{i}": "yes" for i in range(3)})["tasks"]["music_avqa"]
    for out in (first, base):
        results = json.loads(only(out, "*_results.json").read_text())["results"]["aurelia_music_avqa"]
        assert results["accuracy,none"] == pytest.approx(expected["accuracy"]) == pytest.approx(1 / 3)
