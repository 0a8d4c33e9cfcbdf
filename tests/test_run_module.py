"""``aurelia.run`` is both the function that runs the graph and the module ``aurelia.run``."""

from __future__ import annotations

import inspect

from fakes import REASONING_JSON, fake

import aurelia


def test_the_module_is_reachable_by_its_name():
    import aurelia.run as module

    assert module is aurelia.run
    assert module.RunEvents.__name__ == "RunEvents" and module.stream_graph.__module__ == "aurelia.run"
    assert inspect.signature(aurelia.run) == inspect.signature(module.run)  # help() and IDEs show run's parameters


def test_calling_aurelia_run_runs_the_graph(clip):
    models = {
        "generator": fake(REASONING_JSON),
        "summarizer": fake("Red, then blue, then green; a tone, then silence from 4 s."),
        "evaluator": fake('{"score": 8, "rationale": "matches"}'),
        "target": fake("(C) green"),
    }
    question, choices = "What colour is the screen while the audio is silent?", ["red", "blue", "green", "black"]
    result = aurelia.run(clip, question, choices=choices, context={"max_iterations": 1}, models=models)
    assert result["answer"] == "green" and result["answer_choice"] == "C"
    from aurelia import run

    assert run(clip, question, choices=choices, context={"max_iterations": 1}, models=models)["answer_choice"] == "C"
