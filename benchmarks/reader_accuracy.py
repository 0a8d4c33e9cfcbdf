"""How well the answer readers read replies they were not tuned on.

The batteries in ``tests/data/readers/`` hold model replies with the reading a careful person
gives: ``*.yaml`` is the table the tests check case by case, ``*.heldout.yaml`` was written
before the readers were tuned and is not tuned on. This prints, per reader, the share read
right on the held-out set (or another split), and for multiple choice how many replies were
read as a *different* letter than their answer (the error that biases a benchmark most).

    python benchmarks/reader_accuracy.py [--split heldout|train|all] [-v]

Targets (issue 17): multiple choice >= 97% and no different letter; open words >= 95%;
evaluator scores >= 95% on each prompt set. Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from aurelia.bench.metrics import read_output
from aurelia.parsing import read_evaluation
from aurelia.prompts import PROMPT_SETS, render

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "readers"
READERS = ("choice", "open", "score")
TARGETS = {"choice": 0.97, "open": 0.95, "score": 0.95}


@dataclass(frozen=True)
class Case:
    """One reply, what it should read as (None: unparsed / unscored), and its context."""

    reader: str
    reply: str
    want: Any
    choices: tuple[str, ...] = ()
    answer_set: tuple[str, ...] = ()
    caption: str = ""
    prompt_set: str = ""
    source: str = field(default="", compare=False)

    @property
    def label(self) -> str:
        where = self.prompt_set or ",".join(self.choices[:2]) or ""
        return f"{self.source}[{where}] {self.reply[:70]!r}"


def _row(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if len(raw) == 3:
        return {"want": raw[0], "set": raw[1], "reply": raw[2]}
    return {"want": raw[0], "reply": raw[1]}


def load(reader: str, split: str = "heldout") -> list[Case]:
    """The cases of one reader's battery: ``train`` (the test table), ``heldout`` or ``all``."""
    names = {"train": [f"{reader}.yaml"], "heldout": [f"{reader}.heldout.yaml"]}.get(split, [f"{reader}.yaml", f"{reader}.heldout.yaml"])
    cases: list[Case] = []
    for name in names:
        doc = yaml.safe_load((DATA / name).read_text(encoding="utf-8"))
        sets = doc.get("sets", {})
        for n, raw in enumerate(doc["cases"], start=1):
            row = _row(raw)
            reply, want, source = str(row["reply"]), row["want"], f"{name}#{n}"
            want = None if want is None else str(want) if reader != "score" else int(want)
            if reader == "choice":
                cases.append(Case(reader, reply, want, choices=tuple(sets[row["set"]]), source=source))
            elif reader == "open":
                cases.append(Case(reader, reply, want, answer_set=tuple(sets[row.get("set") or doc["set"]]), source=source))
            else:
                for prompt_set in row.get("sets") or PROMPT_SETS:
                    caption = row.get("caption", doc["caption"])
                    cases.append(Case(reader, reply, want, caption=caption, prompt_set=prompt_set, source=source))
    return cases


def read(case: Case) -> Any:
    """What the project's reader makes of the reply, as the benchmark and the evaluator node read it."""
    if case.reader == "choice":
        return read_output(case.reply, "choice", list(case.choices))
    if case.reader == "open":
        return read_output(case.reply, "short", answer_set=list(case.answer_set))
    prompt = render("evaluator", prompt_set=case.prompt_set, caption=case.caption)
    evaluation = read_evaluation(case.reply, prompt.user, prompt.system)
    return None if evaluation is None else evaluation.score


@dataclass
class Tally:
    right: int = 0
    total: int = 0
    other_letter: int = 0  # multiple choice: an answer read as a different letter
    misses: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 0.0


def tally(cases: list[Case]) -> dict[str, Tally]:
    """Per reader (per prompt set for scores): how many cases read right."""
    out: dict[str, Tally] = {}
    for case in cases:
        key = f"score/{case.prompt_set}" if case.reader == "score" else case.reader
        t = out.setdefault(key, Tally())
        got = read(case)
        t.total += 1
        if got == case.want:
            t.right += 1
            continue
        if case.reader == "choice" and case.want is not None and got is not None:
            t.other_letter += 1
        t.misses.append(f"{case.label}: want {case.want!r}, read {got!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=["heldout", "train", "all"], default="heldout")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every misread reply")
    args = parser.parse_args(argv)
    ok = True
    for reader in READERS:
        for key, t in tally(load(reader, args.split)).items():
            target = TARGETS[reader]
            met = t.accuracy >= target and (reader != "choice" or t.other_letter == 0)
            ok &= met
            extra = f", {t.other_letter} read as a different letter" if reader == "choice" else ""
            print(f"{key:14} {t.right:4d}/{t.total:<4d} {t.accuracy:7.1%} (target {target:.0%}{extra}) {'ok' if met else 'MISSED'}")
            if args.verbose:
                for miss in t.misses:
                    print(f"    {miss}")
    return 0 if ok else 1


if __name__ == "__main__":
    from _docs import run as run_with_docs  # benchmarks/ is sys.path[0] when run as a script

    raise SystemExit(run_with_docs(main, "docs/bench.md"))
