"""Load: 50 concurrent runs of the in-process graph with fast fake models all complete, while the
provider of some of them hangs (they end with a one-line timeout error, leaving no blocked
worker). Memory across hundreds of sequential runs is measured by benchmarks/memory_runs.py."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fakes import REASONING_JSON, fake

from aurelia.errors import ModelCallError
from aurelia.run import run
from aurelia.testing.faults import FaultServer

RUNS = 50
HUNG_EVERY = 10  # runs 0, 10, 20, 30, 40 use the hung provider
QUESTION = "What colour is the screen while the audio is silent?"


def models(with_generator: bool = True) -> dict:
    roles = {
        "generator": fake(REASONING_JSON),
        "summarizer": fake("Red with a tone, blue with beeps, then green and silent."),
        "evaluator": fake('{"score": 4, "rationale": "misses the beeps"}', '{"score": 8, "rationale": "matches"}'),
        "target": fake("C"),
    }
    return roles if with_generator else {k: v for k, v in roles.items() if k != "generator"}


def test_fifty_concurrent_runs_complete_while_one_provider_hangs(clip):
    choices = ["red", "blue", "green"]
    run(clip, QUESTION, choices=choices, models=models())  # the media digest is measured once, then cached
    before = set(threading.enumerate())
    with FaultServer({"hung": ["hang"]}) as server:

        def one(i: int) -> dict:
            if i % HUNG_EVERY == 0:
                context = {"generator_model": server.url("hung"), "request_timeout": 0.3, "max_iterations": 1}
                return run(clip, QUESTION, choices=choices, context=context, models=models(with_generator=False))
            return run(clip, QUESTION, choices=choices, context={"max_iterations": 2, "threshold": 7}, models=models())

        with ThreadPoolExecutor(RUNS) as pool:
            futures = [pool.submit(one, i) for i in range(RUNS)]
            outcomes = [f.exception(timeout=300) or f.result() for f in futures]
        hung_requests = server.count("hung")
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    done = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(failed) == RUNS // HUNG_EVERY and all(isinstance(e, ModelCallError) for e in failed)
    assert all("failed after 3 attempts" in str(e) and "timed out" in str(e).lower() for e in failed)
    assert hung_requests == 3 * len(failed)  # each hung run tried three times, no more
    assert len(done) == RUNS - len(failed)
    assert all(o["answer"] == "green" and [it["score"] for it in o["iterations"]] == [4, 8] for o in done)

    def left() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t not in before and "process_request" not in t.name and t.is_alive()]

    deadline = time.monotonic() + 10
    while left() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left(), left()  # no worker is left blocked on the hung provider
