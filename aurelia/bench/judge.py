"""An optional LLM judge for open answers (``--judge MODEL``), reported apart from the metrics.

N-gram metrics miss paraphrases; a judge model says whether a candidate answer means the same
as a reference. Its verdicts never change the metrics. A reply that is neither yes nor no, or a
failed call, leaves the sample *unjudged* (counted), never wrong; an empty answer is wrong
without asking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage

from aurelia.bench.manifest import Sample
from aurelia.errors import describe_failure
from aurelia.models.registry import RoleModel, as_role_model, resolve_model
from aurelia.prompts import render

YES = frozenset({"yes", "correct", "true", "right"})
NO = frozenset({"no", "incorrect", "false", "wrong"})


def parse_verdict(text: str) -> bool | None:
    """The judge's first word: yes/correct -> True, no/incorrect -> False, anything else None."""
    words = re.findall(r"[a-z]+", text.lower())
    if not words:
        return None
    return True if words[0] in YES else False if words[0] in NO else None


@dataclass
class Judgement:
    """Verdicts by sample id (None: unjudged) and the reasons calls failed."""

    model: str
    verdicts: dict[str, bool | None] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def summary(self, ids: list[str]) -> dict[str, object]:
        """Accuracy over the judged samples among ``ids``, with the counts."""
        judged = [self.verdicts[i] for i in ids if self.verdicts.get(i) is not None]
        return {
            "accuracy": sum(bool(v) for v in judged) / len(judged) if judged else None,
            "n": len(judged),
            "unjudged": len(ids) - len(judged),
        }


def judge_answers(items: list[tuple[Sample, str | None]], model: str | BaseChatModel | RoleModel) -> Judgement:
    """Ask the judge about each (sample, answer); ``model`` is a model string or a chat model."""
    role = resolve_model(model) if isinstance(model, str) else as_role_model(model)
    result = Judgement(model if isinstance(model, str) else role.spec.name)
    for sample, answer in items:
        if not answer:
            result.verdicts[sample.id] = False
            continue
        prompt = render(
            "judge", question=sample.question, references="\n".join(f"- {r}" for r in sample.all_references()), candidate=answer
        )
        try:
            reply = role.model.invoke([SystemMessage(prompt.system), HumanMessage(prompt.user)])
        except Exception as exc:  # a failed call leaves the sample unjudged
            result.failures.append(f"{sample.id}: {describe_failure(exc)}")
            result.verdicts[sample.id] = None
            continue
        result.verdicts[sample.id] = parse_verdict(reply.text)
    return result
