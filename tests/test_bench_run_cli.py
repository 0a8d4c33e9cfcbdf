"""``aurelia bench run`` end to end through the CLI, with every model named by the URL of a loopback
OpenAI-compatible server: JSON-lines progress, a resume that skips what is done, and bad settings
as one line with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openai_fake import openai_server
from typer.testing import CliRunner

from aurelia.cli import app

runner = CliRunner()
REASONING = '{"steps": [{"step": "Watch the end of the clip", "answer": "green"}], "final_answer": "green"}'
REPLIES = {
    "gen": [REASONING],
    "sum": ["Red with a tone, then green and silent."],
    "eval": ['{"score": 8, "rationale": "ok"}'],
    "tgt": ["C"],
}


@pytest.fixture
def manifest(tmp_path: Path, clip: Path) -> Path:
    lines = [
        {
            "id": f"s{i}",
            "task": "av_compositional",
            "video": str(clip),
            "question": f"Last colour? ({i})",
            "choices": ["red", "blue", "green"],
            "answer": "green",
        }
        for i in range(3)
    ]
    path = tmp_path / "manifest.jsonl"
    path.write_text("\n".join(map(json.dumps, lines)) + "\n")
    return path


def bench_args(manifest: Path, url: str, tmp_path: Path) -> list[str]:
    """`aurelia bench run` on the manifest with every role served by the local server."""
    args = ["bench", "run", str(manifest), "--target", f"{url}?model=tgt", "--out", str(tmp_path / "run")]
    args += ["--cache", str(tmp_path / "c.sqlite")]
    args += ["--generator", f"{url}?model=gen", "--summarizer", f"{url}?model=sum", "--evaluator", f"{url}?model=eval"]
    return args


def test_run_then_resume(manifest: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "not-used")
    with openai_server(REPLIES) as (url, requests):
        args = bench_args(manifest, url, tmp_path)
        first = runner.invoke(app, [*args, "--jsonl"])
        assert first.exit_code == 0, first.output
        events = [json.loads(line) for line in first.output.splitlines()]
        assert [e["event"] for e in events] == ["start", "sample", "sample", "sample", "end"]
        counts = events[-1]["counts"]
        assert counts["samples_done"] == 3 and counts["agent_calls"] == 9 and counts["target_calls"] == 6
        assert counts["tokens"]["total_tokens"] == 15 * 15  # every call reported 15 tokens
        assert len(requests) == 15
        again = runner.invoke(app, args)
        quiet = runner.invoke(app, [*args, "--quiet"])
    assert again.exit_code == 0, again.output
    assert "0 done, 3 skipped (already done), 0 failed; calls: 0 agent, 0 target" in again.output
    assert again.output.count("skipped · agent 0 · target 0") == 3  # a timestamped line per sample (no terminal here)
    assert "skipped · agent" not in quiet.output and "3 skipped" in quiet.output
    assert len(requests) == 15
    rows = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(r["correct"] for r in rows)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--ablate"], "add --no-early-stop"),
        (["--quiet", "--jsonl"], "not both"),
        (["--inject", "sideways"], "inject must be"),
        (["--tasks", "nope"], "unknown task nope"),
        (["--concurrency", "0"], "at least 1"),
        (["--reasoning", "borrowed"], "--reasoning must be one of"),
    ],
)
def test_bad_settings_are_one_line(manifest: Path, tmp_path: Path, extra: list[str], needle: str) -> None:
    result = runner.invoke(app, ["bench", "run", str(manifest), "--target", "ollama:x", "--out", str(tmp_path / "run"), *extra])
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run").exists()


def test_a_setting_this_version_lacks_is_refused_not_dropped(manifest: Path, tmp_path: Path) -> None:
    from aurelia.bench import run_benchmark
    from aurelia.errors import InputError

    with pytest.raises(InputError, match="no setting 'colour'"):
        run_benchmark(manifest, ["ollama:x"], tmp_path / "run", context={"colour": "red"})
    assert not (tmp_path / "run").exists()


def test_paper_settings_full_trajectories_and_ablate(manifest: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "not-used")
    with openai_server(REPLIES) as (url, _requests):
        args = bench_args(manifest, url, tmp_path)
        args += ["--prompt-set", "paper", "--no-early-stop", "--max-iterations", "2", "--quiet"]
        first = runner.invoke(app, args)
        assert first.exit_code == 0, first.output
        assert "calls: 18 agent, 6 target" in first.output  # 8 ≥ τ at once, yet both iterations ran
        ablated = runner.invoke(app, [*args, "--ablate"])
    assert ablated.exit_code == 0, ablated.output
    assert "calls: 0 agent, 0 target" in ablated.output  # both iterations give the same r*: the main answer's
    context = json.loads((tmp_path / "run" / "run.json").read_text())["settings"]["context"]
    assert context["prompt_set"] == "paper" and context["early_stop"] is False


def test_url_credentials_never_reach_the_run_or_the_cache(manifest: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-benchtest-0123456789abcdefKEY")
    with openai_server(REPLIES) as (url, requests):
        creds = url.replace("http://", "http://bench:s3cretpw@")
        args = [
            "bench",
            "run",
            str(manifest),
            "--target",
            f"{creds}?model=tgt",
            "--out",
            str(tmp_path / "run"),
            "--cache",
            str(tmp_path / "cache" / "c.sqlite"),
        ]
        args += [
            "--generator",
            f"{creds}?model=gen",
            "--summarizer",
            f"{url}?model=sum&api_key=k3yparam",
            "--evaluator",
            f"{url}?model=eval",
            "--jsonl",
        ]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert len(requests) == 15
    written = b"".join(p.read_bytes() for folder in (tmp_path / "run", tmp_path / "cache") for p in folder.iterdir())
    for secret in (b"s3cretpw", b"k3yparam", b"sk-benchtest"):
        assert secret not in written and secret not in result.output.encode()
    rows = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert {r["target"] for r in rows} == {f"{url.replace('http://', 'http://***@')}?model=tgt"} and all(r["correct"] for r in rows)


def test_the_progress_bar_prints_names_literally() -> None:
    import io

    from rich.console import Console

    from aurelia.bench.progress import RichProgress

    out = io.StringIO()
    event = {"event": "sample", "id": "s[/x]", "status": "done", "finished": 1, "total": 2, "accuracy": {"[/INST]": {"zero_shot": 0.5}}}
    event["counts"] = {"agent_calls": 3, "target_calls": 2, "samples_failed": 0, "tokens": {}}
    with RichProgress(Console(file=out, force_terminal=True, width=200)) as bar:
        bar({"event": "start", "total": 2})
        bar(event)
    assert "[/INST] 0.50→–" in out.getvalue()
