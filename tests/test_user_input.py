"""A careless user's input: files given to --edit / --reasoning-file, thread ids and --db paths,
settings of the wrong type, hostile output text. Each is refused with one line naming the value,
or printed literally; a thread is used by one process at a time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
from fakes import REASONING_JSON, fake
from typer.testing import CliRunner

from aurelia import Context, build_graph
from aurelia.cli import app
from aurelia.durable import run_thread, thread_lock
from aurelia.errors import InputError, MediaError, ModelConfigError, ThreadBusyError
from aurelia.media.audio import analyse_file
from aurelia.models.spec import parse_model_string
from aurelia.run import run
from aurelia.testing.faults import FaultServer

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def one_line(result, code: int) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == code and len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def models(caption: str = "Green and silent at the end.", answer: str = "C"):
    return {
        "generator": fake(REASONING_JSON),
        "summarizer": fake(caption),
        "evaluator": fake('{"score": 8, "rationale": "matches"}'),
        "target": fake(answer),
    }


# ---------------------------------------------------------------------------------- user files
@pytest.fixture()
def bad_files(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        f.truncate(64 << 20)  # sparse: 64 MiB on paper, nothing on disk
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    broken = tmp_path / "broken.json"
    broken.write_text('{"steps": [{"step": "look", "answer": ')
    return {
        "fifo": (fifo, "not a regular file"),
        "device": (Path("/dev/zero"), "not a regular file"),
        "dir": (tmp_path, "is a directory"),
        "big": (big, "is 67108864 bytes; the limit is"),
        "loop": (loop, "symlink loop"),
        "missing": (tmp_path / "nope.json", "not found"),
        "broken": (broken, "is not valid JSON (line 1, column 39"),
    }


@pytest.mark.parametrize("kind", ["fifo", "device", "dir", "big", "loop", "missing", "broken"])
def test_edit_and_reasoning_files_are_bounded_regular_files(bad_files, kind, clip):
    path, needle = bad_files[kind]
    start = time.monotonic()
    edit = runner.invoke(app, ["resume", "any", "--edit", str(path)])
    assert needle in one_line(edit, 2)
    answer = runner.invoke(app, ["answer", str(clip), "-q", "what?", "--reasoning-file", str(path)])
    assert needle.replace("edited reasoning", "reasoning file") in one_line(answer, 2)
    assert time.monotonic() - start < 60  # a FIFO or a device is never opened for reading (it would block or never end)


def test_plain_text_edits(tmp_path, clip):
    db = tmp_path / "t.sqlite"
    kw = {"thread_id": "e1", "db": db, "models": models()}
    run_thread(clip, "What colour at the end?", choices=["red", "blue", "green"], settings={"review": True}, **kw)
    seven = tmp_path / "seven.txt"
    seven.write_text("\n".join(f"{i}. step {i}" for i in range(1, 8)) + "\n")
    refused = runner.invoke(app, ["resume", "e1", "--edit", str(seven), "--db", str(db)])
    assert "has 7 steps (one per non-empty line); at most 6" in one_line(refused, 2)
    done = run_thread(None, None, decision=(tmp_path / "seven.txt").read_text().rsplit("\n", 2)[0], **kw)  # six lines
    assert done["review"]["action"] == "edited" and len(done["reasoning_star"]["steps"]) == 6


# ---------------------------------------------------------------------------------- output
def test_markup_in_model_text_choices_and_thread_ids_prints_literally(tmp_path, clip):
    hostile = "[/x] [bold]not bold[/bold] [/INST] [link=file:///etc]x[/link]"
    replies = {"gen": REASONING_JSON, "sum": f"Green. {hostile}", "eval": json.dumps({"score": 8, "rationale": hostile}), "tgt": "(C)"}
    with FaultServer(replies=replies) as server:
        roles = [f"--generator={server.url('gen')}", f"--summarizer={server.url('sum')}", f"--evaluator={server.url('eval')}"]
        roles.append(f"--target={server.url('tgt')}")
        base = ["run", str(clip), "-q", "Colour [/x]?", "-c", "red", "-c", "blue", "-c", "green [/INST]", "--max-iterations", "1"]
        plain = runner.invoke(app, [*base, *roles])
        assert plain.exit_code == 0, plain.output
        assert "[/INST]" in plain.output and "(C) green [/INST]" in plain.output
        thread = runner.invoke(app, [*base, *roles, "--thread", "t[/x]", "--db", str(tmp_path / "t.sqlite")])
        assert thread.exit_code == 0, thread.output
        assert "thread t[/x]: done" in thread.output


def test_a_summary_that_cannot_print_never_loses_the_result(tmp_path, clip, monkeypatch):
    cli_app = sys.modules["aurelia.cli.app"]  # the package exports the Typer app under the same name

    def broken(result):
        raise UnicodeEncodeError("ascii", "é", 0, 1, "a terminal that cannot print it")

    monkeypatch.setattr(cli_app, "_print_result", broken)
    monkeypatch.setattr("aurelia.durable.build_graph", lambda **kw: build_graph(**{**kw, "models": models()}))
    db = tmp_path / "t.sqlite"
    out = runner.invoke(
        app, ["run", str(clip), "-q", "Colour?", "-c", "red", "-c", "blue", "-c", "green", "--thread", "p1", "--db", str(db)]
    )
    assert out.exit_code == 1 and "could not be printed" in out.output
    assert json.loads(out.output[out.output.index("{\n") : out.output.rindex("}") + 1])["answer"] == "green"  # as JSON instead
    again = run_thread(None, None, thread_id="p1", db=db)  # and stored before printing: no model runs again
    assert again["thread"]["resumed_from"] == "done" and again["answer"] == "green"


# ---------------------------------------------------------------------------------- threads and databases
def test_a_thread_is_used_by_one_process_at_a_time(tmp_path, clip):
    db, log = tmp_path / "threads.sqlite", tmp_path / "calls.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    worker = ROOT / "tests" / "durable_worker.py"
    proc = subprocess.Popen([sys.executable, str(worker), str(db), "job-1", str(log), str(clip), "--hang"], env=env, text=True)
    try:
        deadline = time.monotonic() + 90
        while not (log.exists() and log.read_text().count("generator start") >= 2):  # hung in iteration 2
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        with pytest.raises(ThreadBusyError, match=rf"thread 'job-1' is in use by another run \(pid {proc.pid}\)"):
            run_thread(clip, "What colour is the screen while the audio is silent?", thread_id="job-1", db=db, models=models())
        busy = runner.invoke(app, ["resume", "job-1", "--db", str(db)])
        assert "is in use by another run" in one_line(busy, 2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    # the OS released the lock with the killed process: the thread resumes here
    done = run_thread(None, None, thread_id="job-1", db=db, models=models())
    assert done["thread"]["resumed_from"] == "interrupted"
    with thread_lock(db, "job-2"), pytest.raises(ThreadBusyError):  # in one process too
        with thread_lock(db, "job-2"):
            pass


@pytest.mark.parametrize("kind", ["dir", "under-a-file", "not-sqlite"])
def test_unusable_db_paths_are_input_errors_naming_the_path(tmp_path, kind):
    afile = tmp_path / "afile"
    afile.write_text("not a database, just text " * 100)
    db = {"dir": tmp_path, "under-a-file": afile / "t.sqlite", "not-sqlite": afile}[kind]
    line = one_line(runner.invoke(app, ["resume", "x", "--db", str(db)]), 2)
    assert str(db) in line and "thread database" in line


# ---------------------------------------------------------------------------------- validation at the boundary
@pytest.mark.parametrize(
    ("context", "needle"),
    [
        ({"review": "no"}, "review: input should be a valid boolean, got 'no'"),
        ({"frame_size": -1}, "frame_size: input should be greater than or equal to 16, got -1"),
        ({"temperature": "hot"}, "temperature: input should be a valid number, got 'hot'"),
        ({"threshold": "7"}, "threshold τ: input should be a valid integer"),
        ({"max_iterations": 10**6}, "max_iterations T: input should be less than or equal to 50"),
        ({"request_timeout": 0}, "request_timeout: input should be greater than 0"),
    ],
)
def test_context_types_and_ranges(clip, context, needle):
    with pytest.raises(InputError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        run(clip, "Colour?", models=models(), context=context)  # local
    graph = build_graph(models=models())
    with pytest.raises(InputError, match="input should"):  # served: LangGraph builds the Context from the client's dict unchecked
        graph.invoke({"video": str(clip), "question": "Colour?"}, context=Context(**context))


@pytest.mark.parametrize(
    ("inputs", "needle"),
    [
        ({"choices": ["red", "Red "]}, "duplicate choice 'Red': the choices must differ"),
        ({"choices": ["red", "x" * 1001]}, "a choice is 1001 characters long"),
        ({"question": "q" * 20_001}, "the question is 20001 characters long"),
        ({"audio_candidates": [f"/nonexistent/{i}.wav" for i in range(27)]}, "at most 26 candidate audio clips, got 27"),
        ({"audio": 42}, "audio must be a file path"),
        ({"sample_id": "s" * 201}, "sample_id must be a string of at most 200"),
    ],
)
def test_input_limits_are_checked_before_any_file_is_read(clip, inputs, needle):
    graph = build_graph(models=models())
    with pytest.raises(InputError, match=needle):
        graph.invoke({"video": str(clip), "question": "Colour?", **inputs})


@pytest.mark.parametrize(
    ("raw", "needle"),
    [
        ("http:///v1?model=m", "names no host"),
        ("http://host:99999/v1?model=m", "invalid port"),
        ("http://host:abc/v1?model=m", "invalid port"),
        ("http://ho st/v1?model=m", "space or control character"),
    ],
)
def test_malformed_model_urls_are_input_errors_naming_the_value(clip, raw, needle):
    with pytest.raises(ModelConfigError, match=needle):
        parse_model_string(raw)
    line = one_line(runner.invoke(app, ["run", str(clip), "-q", "what?", "--generator", raw]), 2)
    assert needle in line and raw in line


def test_symlink_loop_and_constant_audio(tmp_path):
    loop = tmp_path / "loop.mp4"
    loop.symlink_to(loop)
    with pytest.raises(MediaError, match="symlink loop"):
        run(loop, "what?", models=models())
    dc = tmp_path / "dc.wav"
    with wave.open(str(dc), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes((np.full(16000 * 2, 0.5) * 32767).astype("<i2").tobytes())
    analysis, _ = analyse_file(dc)
    assert analysis.rms_dbfs > -10 and analysis.pitch_segments == []  # loud, but no tone: no dominant pitch
