"""A served drip run neither hangs nor queues the others: a real ``langgraph dev`` started with
``--n-jobs-per-worker 2`` (as docs/security.md says to), a run whose generator is an
OpenAI-compatible server on 127.0.0.1 that drips one byte a second, and a scripted run that
completes while the drip run is still in flight. The drip run then ends on its run budget, with
the connection closed. No network beyond loopback."""

from __future__ import annotations

import time

import pytest
from dev_server import dev_config, dev_server

from aurelia.testing.faults import FaultServer


@pytest.fixture()
def served(tmp_path, clip):
    with FaultServer({"drip": ["drip"]}) as faults:
        dev_config(tmp_path, graphs=("aurelia",))
        env = {"AURELIA_MEDIA_ROOT": str(clip.parent), "AURELIA_ALLOWED_MODELS": f"local,{faults.url('drip')}"}
        with dev_server(tmp_path, env, args=("--n-jobs-per-worker", "2")) as (client, log):
            yield client, faults, log


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
