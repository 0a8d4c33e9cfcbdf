"""The functions the task templates name (``!function aurelia.lmms.tasks.utils.…``).

A doc is one manifest sample (its JSON in ``aurelia_sample``, media paths absolute). The target's
text is ``aurelia bench``'s zero-shot prompt (question, dialog, choices, the task's instruction);
the metrics call :func:`aurelia.bench.score.score` on the collected outputs, so the numbers are
the ones ``aurelia bench score`` gives for the same outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from aurelia.bench.manifest import Sample
from aurelia.bench.score import score
from aurelia.bench.tasks import builtin_tasks, target_instruction
from aurelia.lmms.tasks import SAMPLE_FIELD
from aurelia.prompts.format import dialog_question, target_prompt


def sample_of(doc: dict[str, Any]) -> Sample:
    return Sample.model_validate_json(doc[SAMPLE_FIELD])


def doc_to_visual(doc: dict[str, Any]) -> list[str]:
    """The video, then the separate audio track when the sample has one (lmms-eval tells them
    apart by extension)."""
    s = sample_of(doc)
    return [s.video, *([s.audio] if s.audio else [])]


def doc_to_text(doc: dict[str, Any], lmms_eval_specific_kwargs: dict[str, Any] | None = None) -> str:
    """``aurelia bench``'s zero-shot user text for the sample (r* is added by the plugin)."""
    s = sample_of(doc)
    task = builtin_tasks()[s.task]
    kind = "short" if task.answer_kind == "choice" else task.answer_kind
    question = dialog_question(s.question, [t.model_dump() for t in s.history or []])
    return target_prompt(question, s.choices, None, "none", answer_kind=kind, instruction=target_instruction(task)).user


def doc_to_target(doc: dict[str, Any]) -> str:
    return sample_of(doc).answer


def process_results(doc: dict[str, Any], results: Sequence[Any]) -> dict[str, dict[str, str]]:
    """The raw output under each of the task's metrics; scored together at aggregation."""
    s = sample_of(doc)
    output = results[0] if results else ""
    item = {SAMPLE_FIELD: doc[SAMPLE_FIELD], "output": output if isinstance(output, str) else str(output)}
    return dict.fromkeys(builtin_tasks()[s.task].metrics, item)


@lru_cache(maxsize=4)
def _scores(items: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    samples = [Sample.model_validate_json(raw) for raw, _ in items]
    return score(samples, {s.id: output for s, (_, output) in zip(samples, items, strict=True)})["tasks"]


def aggregate(metric: str, items: Sequence[dict[str, str]]) -> float:
    """``metric`` over the docs, as ``aurelia bench`` scores them (one scoring for every metric
    of the same docs: the COCO ones tokenise with one Java call)."""
    tasks = _scores(tuple((i[SAMPLE_FIELD], i["output"]) for i in items))
    (task,) = tasks.values()
    return task[metric]


def _aggregator(metric: str) -> Callable[[Sequence[dict[str, str]]], float]:
    def aggregate_metric(items: Sequence[dict[str, str]]) -> float:
        return aggregate(metric, items)

    aggregate_metric.__name__ = f"aggregate_{metric}"
    return aggregate_metric


aggregate_accuracy = _aggregator("accuracy")
aggregate_Bleu_1 = _aggregator("Bleu_1")
aggregate_Bleu_2 = _aggregator("Bleu_2")
aggregate_Bleu_3 = _aggregator("Bleu_3")
aggregate_Bleu_4 = _aggregator("Bleu_4")
aggregate_METEOR = _aggregator("METEOR")
aggregate_ROUGE_L = _aggregator("ROUGE_L")
aggregate_CIDEr = _aggregator("CIDEr")
