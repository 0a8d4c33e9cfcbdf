"""A durable run in its own process, for the kill-and-resume test.

Usage: durable_worker.py DB THREAD LOG VIDEO [--hang]. Every agent call appends
"<role> start" / "<role> done" to LOG. With --hang the generator of iteration 2 never returns,
so the test can SIGKILL the process mid-loop; without it, the thread runs (or resumes) to the end
and the result is printed as JSON.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from fakes import REASONING_JSON
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from aurelia.durable import run_thread


class LoggedFake(FakeListChatModel):
    role: str
    log: str
    hang: bool = False

    def _call(self, messages: Any, stop: Any = None, run_manager: Any = None, **kwargs: Any) -> str:
        log = Path(self.log)
        before = log.read_text().splitlines() if log.exists() else []
        with log.open("a") as f:
            f.write(f"{self.role} start\n")
        if self.hang and self.role == "generator" and before.count("generator done") >= 1:
            time.sleep(600)
        reply = super()._call(messages, stop=stop, run_manager=run_manager, **kwargs)
        with log.open("a") as f:
            f.write(f"{self.role} done\n")
        return reply


def main() -> None:
    db, thread, log, video = sys.argv[1:5]
    hang = "--hang" in sys.argv
    replies = {
        "generator": REASONING_JSON,
        "summarizer": "Red with a tone, then blue with beeps, then green and silent.",
        "evaluator": '{"score": 4, "rationale": "the caption misses the beeps"}',
        "target": "C",
    }
    models = {role: LoggedFake(responses=[text], role=role, log=log, hang=hang) for role, text in replies.items()}
    result = run_thread(
        video,
        "What colour is the screen while the audio is silent?",
        choices=["red", "blue", "green"],
        thread_id=thread,
        db=db,
        models=models,
        settings={"max_iterations": 2, "threshold": 9},
    )
    keep = ("thread", "answer", "stop_reason", "best_iteration", "iterations", "calls")
    print(json.dumps({k: result.get(k) for k in keep}))


if __name__ == "__main__":
    main()
