"""A served drip run neither hangs nor queues the others: a real ``langgraph dev`` started with
``--n-jobs-per-worker 2`` (as docs/security.md says to), a run whose generator is an
OpenAI-compatible server on 127.0.0.1 that drips one byte a second, and a scripted run that
completes while the drip run is still in flight. The drip run then ends on its run budget, with
the connection closed. No network beyond loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dev_server import dev_config, free_port
from langgraph_sdk import get_sync_client

from aurelia.testing.faults import FaultServer

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = {"LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGGRAPH_NO_VERSION_CHECK": "1", "LANGSMITH_TRACING": "false"}


@pytest.fixture()
def served(tmp_path, clip):
    cli = shutil.which("langgraph", path=str(Path(sys.executable).parent)) or shutil.which("langgraph")
    if cli is None:
        pytest.fail("langgraph-cli[inmem] is not installed (it is in the dev extra)")
    with FaultServer({"drip": ["drip"]}) as faults:
        dev_config(tmp_path, graphs=("aurelia",))
        env = {**os.environ, **OFFLINE, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        env["AURELIA_MEDIA_ROOT"] = str(clip.parent)
        env["AURELIA_ALLOWED_MODELS"] = f"local,{faults.url('drip')}"
        port = free_port()
        cmd = [cli, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--config", str(tmp_path / "langgraph.json"), "--n-jobs-per-worker", "2"]
        with (tmp_path / "server.log").open("w") as log:
            proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                client = get_sync_client(url=f"http://127.0.0.1:{port}")
                end = time.monotonic() + 90
                while True:
                    try:
                        client.assistants.search()
                        break
                    except Exception:
                        if proc.poll() is not None or time.monotonic() > end:
                            pytest.fail("langgraph dev did not start:\n" + (tmp_path / "server.log").read_text()[-3000:])
                        time.sleep(0.5)
                yield client, faults, tmp_path / "server.log"
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def test_a_drip_run_does_not_queue_other_runs_and_ends_on_its_budget(served, clip):
    client, faults, log = served
    drip_thread = client.threads.create()["thread_id"]
    context = {"generator_model": faults.url("drip"), "max_iterations": 1, "request_timeout": 600, "run_budget": 20}
    drip = client.runs.create(drip_thread, "aurelia", input={"video": str(clip), "question": "Colour?"}, context=context)
    end = time.monotonic() + 60
    while faults.count("drip") == 0:  # the drip run holds a worker
        assert time.monotonic() < end, log.read_text()[-3000:]
        time.sleep(0.1)
    other = client.threads.create()["thread_id"]
    out = client.runs.wait(
        other, "aurelia_scripted", input={"video": str(clip), "question": "Colour?", "choices": ["red", "blue", "green"]}
    )
    assert out["answer"] == "green"
    assert faults.cut_off == [] and faults.count("drip") == 1  # it completed while the drip was still in flight
    client.runs.join(drip_thread, drip["run_id"])
    assert client.runs.get(drip_thread, drip["run_id"])["status"] == "error"
    (task,) = client.threads.get_state(drip_thread)["tasks"]
    assert task["name"] == "generator" and "the run's time budget of 20s is spent" in task["error"], task["error"]
    end = time.monotonic() + 30  # the drip notices the hang-up at its next byte
    while faults.cut_off != ["drip"] and time.monotonic() < end:
        time.sleep(0.1)
    assert faults.cut_off == ["drip"]  # cut in flight by the budget, its connection closed
