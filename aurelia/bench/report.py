"""The numbers of a run's report (``RUN/report.json``), read from its store alone.

- ``table1``: per inject mode, target and task, the task's main metric zero-shot and with r*
  (accuracy; CIDEr for open answers) and the relative gain, as in the paper's Table 1; the full
  metrics and the per-category rows come from part 1's :func:`aurelia.bench.score.score`.
- ``ablation``: the paper's Tables 5 (T' = 1…T at the run's τ) and 6 (τ' = 4…10 at the run's T):
  metric and seconds per sample (the prefix's recorded agent time plus the target's answer),
  read off the stored trajectories and the ``--ablate`` answers.
- ``statistics``: is a gain real? Every target × condition × task metric with n and its 95%
  interval (Wilson for accuracy, bootstrap for CIDEr), each condition against zero-shot on the
  same samples (paired bootstrap interval of the difference, exact McNemar p, the flipped ids),
  answer distributions with the majority baseline, Music-AVQA's block table (:mod:`aurelia.bench.stats`),
  and what each condition costs per sample next to it (:mod:`aurelia.bench.costs`).
- ``cost``: agent calls, seconds and tokens per role; target calls, seconds and tokens per target.
- ``open_questions``: what the paper could not answer (closed tasks, where an answer is right or
  wrong): does the evaluator's score track the correctness of that iteration's own final
  answer; does feedback fix a wrong first iteration (correction rate) or does the evaluator
  pass wrong answers (reinforcement rate); how often steps leak the answer; how many iterations
  runs use. Unscored iterations (failed evaluations) are counted apart, never as a score.
- ``judge``: when ``RUN/judge.json`` exists (``bench run|report --judge MODEL``), an LLM judge's
  verdicts on the open answers, per target, inject mode and task, apart from the metrics.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from langchain_core.language_models import BaseChatModel

from aurelia.bench.ablation import TAUS, prefix, reasoning_hash
from aurelia.bench.costs import condition_cost, r_star_cost
from aurelia.bench.engine import ZERO_SHOT
from aurelia.bench.judge import judge_answers
from aurelia.bench.manifest import Sample
from aurelia.bench.metrics import ACCURACY, answer_letter, corpus_scores, is_correct, normalize_answer, read_output
from aurelia.bench.score import Row, Tokens, score, scored_rows, summarize
from aurelia.bench.stats import (
    CORPUS_RESAMPLES,
    LEVEL,
    RESAMPLES,
    SEED,
    bootstrap_interval,
    paired_accuracy,
    paired_corpus_interval,
    paired_interval,
    repeated_accuracy,
    wilson,
)
from aurelia.bench.store import ResultStore, read_run_json
from aurelia.bench.tasks import CLOSED_KINDS, Task, builtin_tasks
from aurelia.errors import InputError
from aurelia.files import atomic_write_text
from aurelia.models.registry import RoleModel
from aurelia.models.structured import total_usage
from aurelia.parsing import parse_member

JUDGE_FILE = "judge.json"

OPEN_METRIC = "CIDEr"  # Table 1's number for open answers (every COCO metric is in report.json)


def main_metric(task: Task) -> str:
    return ACCURACY if task.answer_kind in CLOSED_KINDS else OPEN_METRIC


def relative_gain(before: float | None, after: float | None) -> float | None:
    """Percent change from ``before`` to ``after``; None when there is no base to divide by."""
    if before is None or after is None or before == 0:
        return None
    return round(100.0 * (after - before) / before, 1)


def mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(sum(items) / len(items), 4) if items else None


class Outcome(NamedTuple):
    """One target × inject mode read against every sample: the scored rows (a sample without an
    answer is unparsed), the tokenised open answers, and the ids that have a recorded answer."""

    rows: list[Row]
    tokens: Tokens
    answered: frozenset[str]
    predictions: dict[str, str]


class RunData:
    """A run's store and settings, loaded once."""

    def __init__(self, run_dir: str | Path) -> None:
        self.dir = Path(run_dir).expanduser()
        store = ResultStore(self.dir, create=False)
        try:
            rows = store.samples()
            self.results = store.results()
            ablations = list(store.ablations())
            ablated = bool(store.meta("ablate"))
        finally:
            store.close()
        self.run = read_run_json(self.dir)
        ctx = self.run["settings"]["context"]
        self.threshold, self.max_iterations = int(ctx["threshold"]), int(ctx["max_iterations"])
        self.early_stop = bool(ctx.get("early_stop", True))
        self.samples = [Sample.model_validate(r["sample"]) for r in rows]
        self.trajectories = {s.id: r["trajectory"] for s, r in zip(self.samples, rows, strict=True) if r["trajectory"]}
        self.tasks = builtin_tasks()
        self.ablations = [a for a in ablations if not a.get("error")]
        self.has_ablation = ablated or bool(ablations)
        # answers by (sample, target, inject, r* hash): the ablation answers and the main ones
        self.answers = {(a["id"], a["target"], a["inject"], a["rhash"]): a for a in self.ablations}
        for r in self.results:
            if r.get("rhash") and not r.get("error"):
                self.answers.setdefault((r["id"], r["target"], r["inject"], r["rhash"]), r)
        self.targets = list(dict.fromkeys([*self.run["settings"].get("targets", []), *(r["target"] for r in self.results)]))
        self.modes = list(dict.fromkeys(r["inject"] for r in self.results))
        self.modes.sort(key=lambda m: (m != ZERO_SHOT, m))
        self._outcomes: dict[tuple[str, str], Outcome] = {}

    def outcome(self, target: str, mode: str) -> Outcome:
        """The scored answers of ``target`` in ``mode`` (computed once: open answers cost a Java call)."""
        if (target, mode) not in self._outcomes:
            predictions = {r["id"]: r["output"] for r in self.records(target, mode) if not r.get("error")}
            rows, tokens = scored_rows(self.samples, predictions, self.tasks)
            self._outcomes[target, mode] = Outcome(rows, tokens, frozenset(predictions), predictions)
        return self._outcomes[target, mode]

    def repeats(self, target: str, mode: str) -> dict[str, list[bool]]:
        """Sample id -> whether each of its ``--repeats`` answers was right (records answered more than once)."""
        out = {}
        for r in self.records(target, mode):
            if len(r.get("repeats") or []) > 1 and not r.get("error"):
                out[r["id"]] = [bool(x["correct"]) for x in r["repeats"]]
        return out

    def records(self, target: str, mode: str) -> list[dict[str, Any]]:
        return [r for r in self.results if r["target"] == target and r["inject"] == mode]

    def star(self, trajectory: Mapping[str, Any]) -> dict[str, Any] | None:
        """r* of the run's own (τ, T): the stored one, or the prefix when early stop was off."""
        if not trajectory.get("iterations"):
            return trajectory.get("reasoning_star")
        p = None if self.early_stop else prefix(trajectory, self.threshold, self.max_iterations)
        return p.reasoning if p is not None else trajectory.get("reasoning_star")

    def used(self, trajectory: Mapping[str, Any]) -> int:
        p = prefix(trajectory, self.threshold, self.max_iterations)
        return p.used if p is not None else len(trajectory.get("iterations") or [])


def scored(data: RunData, predictions: dict[str, str], samples: list[Sample] | None = None) -> dict[str, Any]:
    """Part 1's scoring of ``predictions``, without the per-sample list."""
    result = score(samples if samples is not None else data.samples, predictions, tasks=data.tasks)
    return {"tasks": result["tasks"], "categories": result["categories"], "missing": len(result["missing"])}


def table1(data: RunData) -> dict[str, Any]:
    """scores[target][mode] and the Table 1 cells per inject mode with r*."""
    scores: dict[str, dict[str, Any]] = {}
    for target in data.targets:
        scores[target] = {}
        for mode in data.modes:
            records = data.records(target, mode)
            out = data.outcome(target, mode)
            entry = summarize(data.samples, out.predictions, out.rows, out.tokens)
            entry["missing"] = len(entry["missing"])
            entry["failed"] = sum(bool(r.get("error")) for r in records)
            ok = [r for r in records if not r.get("error")]
            entry["seconds_per_sample"] = mean((r.get("seconds") or 0.0) + (r.get("reasoning_seconds") or 0.0) for r in ok)
            scores[target][mode] = entry
    task_names = sorted({s.task for s in data.samples})
    tables = {}
    for mode in data.modes:
        if mode == ZERO_SHOT:
            continue
        rows = {}
        for target in data.targets:
            cells = {}
            for name in task_names:
                metric = main_metric(data.tasks[name])
                zs = scores[target].get(ZERO_SHOT, {}).get("tasks", {}).get(name, {}).get(metric)
                au = scores[target].get(mode, {}).get("tasks", {}).get(name, {}).get(metric)
                cells[name] = {"metric": metric, "zero_shot": zs, "aurelia": au, "relative_gain": relative_gain(zs, au)}
            rows[target] = cells
        tables[mode] = rows
    metrics = {name: main_metric(data.tasks[name]) for name in task_names}
    return {"scores": scores, "tables": tables, "tasks": task_names, "metrics": metrics}


def ablation(data: RunData) -> dict[str, Any] | None:
    """Tables 5 and 6 per target and inject mode; None when the run has no --ablate answers."""
    if not data.has_ablation:
        return None
    eligible = [s for s in data.samples if (data.trajectories.get(s.id) or {}).get("iterations")]
    lines = {
        "T": [(t, data.threshold) for t in range(1, data.max_iterations + 1)],
        "tau": [(data.max_iterations, tau) for tau in TAUS],
    }
    out: dict[str, Any] = {"threshold": data.threshold, "max_iterations": data.max_iterations, "samples": len(eligible), "tables": {}}
    for target in data.targets:
        for mode in data.modes:
            if mode == ZERO_SHOT:
                continue
            tables = {}
            for axis, cells in lines.items():
                rows = []
                for t, tau in cells:
                    predictions, seconds = {}, []
                    for s in eligible:
                        p = prefix(data.trajectories[s.id], tau, t)
                        answer = None if p is None else data.answers.get((s.id, target, mode, reasoning_hash(p.reasoning)))
                        if answer is not None:
                            predictions[s.id] = answer["output"]
                            seconds.append(p.seconds + (answer.get("seconds") or 0.0))
                    result = scored(data, predictions, eligible)
                    rows.append(
                        {"T": t, "tau": tau, "covered": len(predictions), "seconds_per_sample": mean(seconds), "tasks": result["tasks"]}
                    )
                tables[axis] = rows
            out["tables"].setdefault(target, {})[mode] = tables
    return out


def cost(data: RunData) -> dict[str, Any]:
    """Recorded agent work per role (what generating r* took, also when this run read it from the
    cache) and target work per target."""
    roles: dict[str, dict[str, Any]] = defaultdict(lambda: {"calls": 0, "seconds": 0.0, "usages": []})
    generated = [t for t in data.trajectories.values() if t.get("calls")]
    for trajectory in generated:
        for call in trajectory["calls"]:
            role = roles[call["role"]]
            role["calls"] += 1
            role["seconds"] += call["seconds"]
            role["usages"].append(call.get("usage"))
    agents = {
        name: {
            "calls": r["calls"],
            "seconds": round(r["seconds"], 3),
            "seconds_per_sample": round(r["seconds"] / len(generated), 4),
            "tokens": total_usage(r["usages"]),
        }
        for name, r in roles.items()
    }
    targets = {}
    for target in data.targets:
        answers = [r for r in [*data.results, *data.ablations] if r["target"] == target and not r.get("error")]
        targets[target] = {
            "calls": len(answers),
            "seconds": round(sum(a.get("seconds") or 0.0 for a in answers), 3),
            "seconds_per_answer": mean(a.get("seconds") or 0.0 for a in answers),
            "tokens": total_usage(a.get("usage") for a in answers),
        }
    seconds = [sum(c["seconds"] for c in t["calls"]) for t in generated]
    return {"samples_with_trajectory": len(generated), "agent_seconds_per_sample": mean(seconds), "agents": agents, "targets": targets}


def pearson(xs: list[float], ys: list[float]) -> float | None:
    """Pearson's r (point-biserial when ``ys`` are 0/1); None without variance on either side."""
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    if sx == 0 or sy == 0:
        return None
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / (sx * sy), 4)


def rate(hits: int, n: int) -> dict[str, Any]:
    return {"n": n, "count": hits, "rate": round(hits / n, 4) if n else None}


def own_answer_correct(sample: Sample, task: Task, reasoning: Mapping[str, Any] | None) -> bool:
    """Whether a reasoning's own final answer is right, read as the target's answers are."""
    parsed = read_output(str((reasoning or {}).get("final_answer") or ""), task.answer_kind, sample.choices, answer_set=task.answer_set)
    return bool(is_correct(parsed, task.answer_kind, sample.answer, sample.references or [], sample.choices, answer_set=task.answer_set))


@dataclass
class _OpenCounts:
    """What the open questions count over a run's trajectories (see :func:`open_questions`)."""

    pairs: list[tuple[int, bool]] = field(default_factory=list)  # (score, own answer right) per scored iteration
    by_iteration: dict[int, dict[str, list]] = field(default_factory=lambda: defaultdict(lambda: {"scores": [], "correct": []}))
    used: Counter[int] = field(default_factory=Counter)
    unscored: int = 0
    first_wrong: int = 0
    corrected: int = 0
    reachable: int = 0
    wrong_scored: int = 0
    passed_wrong: int = 0
    leak_iterations: int = 0
    leak_known: int = 0
    star_leaks: int = 0
    star_known: int = 0
    closed: int = 0

    def add_leaks(self, iterations: list[dict[str, Any]], star: Any) -> None:
        for it in iterations:
            if "leaks" in it:
                self.leak_known += 1
                self.leak_iterations += bool(it["leaks"])
        star_it = next((it for it in iterations if it["reasoning"] == star), None)
        if star_it is not None and "leaks" in star_it:
            self.star_known += 1
            self.star_leaks += bool(star_it["leaks"])

    def add_closed(self, iterations: list[dict[str, Any]], verdicts: list[bool], star_right: bool, threshold: int) -> None:
        self.closed += 1
        for it, right in zip(iterations, verdicts, strict=True):
            self.by_iteration[it["iteration"]]["correct"].append(right)
            if it.get("score") is None:
                self.unscored += 1
                continue
            self.by_iteration[it["iteration"]]["scores"].append(it["score"])
            self.pairs.append((it["score"], right))
            if not right:
                self.wrong_scored += 1
                self.passed_wrong += it["score"] >= threshold
        if not verdicts[0]:
            self.first_wrong += 1
            self.corrected += star_right
            self.reachable += any(verdicts)

    def score_vs_correctness(self) -> dict[str, Any]:
        by_score: dict[int, list[bool]] = defaultdict(list)
        for sc, right in self.pairs:
            by_score[sc].append(right)
        return {
            "iterations": len(self.pairs),
            "unscored": self.unscored,
            "pearson_r": pearson([float(sc) for sc, _ in self.pairs], [float(right) for _, right in self.pairs]),
            "mean_score_when_correct": mean(sc for sc, right in self.pairs if right),
            "mean_score_when_wrong": mean(sc for sc, right in self.pairs if not right),
            "accuracy_by_score": {str(k): {"n": len(v), "accuracy": mean(map(float, v))} for k, v in sorted(by_score.items())},
        }


def open_questions(data: RunData) -> dict[str, Any]:
    """What the paper could not measure: does the score track correctness, does the loop correct
    a wrong first answer, do steps leak the answer, how many samples reach each iteration."""
    counts = _OpenCounts()
    for s in data.samples:
        trajectory = data.trajectories.get(s.id) or {}
        iterations = trajectory.get("iterations") or []
        task = data.tasks[s.task]
        if not iterations:
            continue
        counts.used[data.used(trajectory)] += 1
        star = data.star(trajectory)
        counts.add_leaks(iterations, star)
        if task.answer_kind in CLOSED_KINDS:
            verdicts = [own_answer_correct(s, task, it["reasoning"]) for it in iterations]
            star_right = not verdicts[0] and own_answer_correct(s, task, star)
            counts.add_closed(iterations, verdicts, star_right, data.threshold)
    return {
        "closed_samples": counts.closed,
        "score_vs_correctness": counts.score_vs_correctness(),
        "correction": {
            "first_iteration_wrong": counts.first_wrong,
            "r_star_correct": rate(counts.corrected, counts.first_wrong),
            "some_iteration_correct": rate(counts.reachable, counts.first_wrong),
        },
        "reinforcement": rate(counts.passed_wrong, counts.wrong_scored),
        "leaks": {
            "recorded": counts.leak_known > 0,
            "iterations": rate(counts.leak_iterations, counts.leak_known),
            "r_star": rate(counts.star_leaks, counts.star_known),
        },
        "iterations_used": {str(k): v for k, v in sorted(counts.used.items())},
        "by_iteration": {
            str(k): {
                "reached": len(v["correct"]),
                "mean_score": mean(v["scores"]),
                "scored": len(v["scores"]),
                "own_answer_accuracy": mean(map(float, v["correct"])),
            }
            for k, v in sorted(counts.by_iteration.items())
        },
    }


# --- is the gain real? ------------------------------------------------------------------------

UNPARSED = "(unparsed)"
# Music-AVQA's standard table (Li et al., CVPR 2022): modality blocks and their question types, in
# the papers' order; a block or type the records name that is not listed here follows, sorted.
BLOCKS = ("Audio", "Visual", "Audio-Visual")
TYPES = ("Counting", "Comparative", "Location", "Existential", "Temporal")


def r4(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def interval(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [round(ci[0], 4), round(ci[1], 4)]


def proportion(verdicts: list[bool]) -> dict[str, Any]:
    """An accuracy with n, the count right and its Wilson 95% interval."""
    n, k = len(verdicts), sum(verdicts)
    return {"n": n, "correct": k, "accuracy": r4(k / n) if n else None, "ci": interval(wilson(k, n))}


def corpus_metric(ids: list[str], tokens: Tokens, metric: str) -> Any:
    """The corpus ``metric`` (CIDEr…) of the samples at the given positions of ``ids``, recomputed
    by the COCO toolkit on that corpus (a sample drawn twice counts twice)."""
    cands, refs = tokens

    def value(positions: list[int] | range) -> float:
        picked = [ids[i] for i in positions]
        got = corpus_scores({str(j): cands[i] for j, i in enumerate(picked)}, {str(j): refs[i] for j, i in enumerate(picked)}, (metric,))
        return float(got[metric])

    return value


def by_task(rows: list[Row]) -> dict[str, list[Row]]:
    out: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        out[r.sample.task].append(r)
    return out


def repeats_entry(rows: list[Row], repeats: Mapping[str, list[bool]], resamples: int, seed: int) -> dict[str, Any]:
    """An accuracy over ``--repeats`` answers: mean ± sd across repeats and a bootstrap interval
    over samples of the per-sample mean; a sample without them (failed, missing) is wrong in each."""
    k = max(len(v) for v in repeats.values())
    got = repeated_accuracy([repeats.get(r.sample.id, [False] * k) for r in rows], resamples=resamples, seed=seed)
    return {
        "metric": ACCURACY, "value": r4(got["mean"]), "n": got["n"], "correct": sum(bool(r.correct) for r in rows),
        "ci": interval(got["ci"]), "interval": "bootstrap",
        "repeats": {"k": got["k"], "mean": r4(got["mean"]), "sd": r4(got["sd"]), "per_repeat": [r4(v) for v in got["per_repeat"]]},
    }  # fmt: skip


def accuracy_entry(
    data: RunData,
    name: str,
    rows: list[Row],
    tokens: Tokens,
    corpus_resamples: int,
    seed: int,
    repeats: Mapping[str, list[bool]] | None = None,
) -> dict[str, Any]:
    """The task's main metric with n and its 95% interval: Wilson for accuracy (a bootstrap over
    samples with ``--repeats``: :func:`repeats_entry`), bootstrap for a corpus metric."""
    metric = main_metric(data.tasks[name])
    if metric == ACCURACY and repeats and any(r.sample.id in repeats for r in rows):
        return repeats_entry(rows, repeats, RESAMPLES, seed)
    if metric == ACCURACY:
        p = proportion([bool(r.correct) for r in rows])
        return {"metric": metric, "value": p["accuracy"], "n": p["n"], "correct": p["correct"], "ci": p["ci"], "interval": "wilson"}
    ids = [r.sample.id for r in rows]
    value = corpus_metric(ids, tokens, metric)
    ci = bootstrap_interval(len(ids), value, resamples=corpus_resamples, seed=seed)
    return {"metric": metric, "value": r4(value(range(len(ids)))), "n": len(ids), "ci": interval(ci), "interval": "bootstrap"}


def over_repeats(ids: list[str], first: Mapping[str, bool], repeats: Mapping[str, list[bool]]) -> list[float]:
    """Each sample's correctness averaged over its ``--repeats`` answers (its one answer when it
    has no repeats)."""
    return [sum(repeats[i]) / len(repeats[i]) if repeats.get(i) else float(first[i]) for i in ids]


def comparison(
    data: RunData,
    name: str,
    base: Outcome,
    cond: Outcome,
    resamples: int,
    corpus_resamples: int,
    seed: int,
    repeats: tuple[Mapping[str, list[bool]], Mapping[str, list[bool]]] = ({}, {}),
) -> dict[str, Any]:
    """A condition against zero-shot on the samples of ``name`` that both answered (a failed or
    missing answer on either side leaves the pair out: ``excluded``). With ``--repeats`` the
    difference is also given over each sample's mean across its repeats (``over_repeats``);
    McNemar and the flips read each record's own (first) answer."""
    metric = main_metric(data.tasks[name])
    rows = {r.sample.id: r for r in base.rows if r.sample.task == name}
    after = {r.sample.id: r for r in cond.rows if r.sample.task == name}
    ids = [i for i in rows if i in base.answered and i in cond.answered]
    out: dict[str, Any] = {"metric": metric, "excluded": len(rows) - len(ids)}
    if metric == ACCURACY:
        paired = paired_accuracy(
            {i: bool(rows[i].correct) for i in ids}, {i: bool(after[i].correct) for i in ids}, resamples=resamples, seed=seed
        )
        extra = {}
        if any(i in repeats[0] or i in repeats[1] for i in ids):
            b = over_repeats(ids, {i: bool(rows[i].correct) for i in ids}, repeats[0])
            a = over_repeats(ids, {i: bool(after[i].correct) for i in ids}, repeats[1])
            ci = paired_interval(b, a, resamples=resamples, seed=seed)
            extra = {"over_repeats": {"difference": r4((sum(a) - sum(b)) / len(ids)), "ci": interval(ci)}}
        return (
            out
            | extra
            | {
                "n": paired["n"],
                "before": r4(paired["before"]),
                "after": r4(paired["after"]),
                "difference": r4(paired["difference"]),
                "ci": interval(paired["ci"]),
                "mcnemar_p": paired["mcnemar_p"],
                "wrong_to_right": paired["wrong_to_right"],
                "right_to_wrong": paired["right_to_wrong"],
            }
        )
    before_fn, after_fn = corpus_metric(ids, base.tokens, metric), corpus_metric(ids, cond.tokens, metric)
    b, a = (before_fn(range(len(ids))), after_fn(range(len(ids)))) if ids else (None, None)
    ci = paired_corpus_interval(len(ids), before_fn, after_fn, resamples=corpus_resamples, seed=seed)
    diff = None if a is None or b is None else a - b
    return out | {"n": len(ids), "before": r4(b), "after": r4(a), "difference": r4(diff), "ci": interval(ci), "mcnemar_p": None}


def gold_key(sample: Sample, task: Task) -> str:
    """The gold answer as the readers write a parsed answer: a letter, a member of the set, or normalised text."""
    if task.answer_kind == "choice":
        return answer_letter(sample.answer, sample.choices or []) or sample.answer
    if task.answer_set:
        return parse_member(sample.answer, list(task.answer_set)) or normalize_answer(sample.answer)
    return normalize_answer(sample.answer)


def answers(data: RunData) -> dict[str, Any]:
    """Per closed task: the gold answers' distribution, the majority-answer baseline (always giving
    the most common gold answer, scored by the same rules) and each target's answer distribution."""
    out: dict[str, Any] = {}
    for name in sorted({s.task for s in data.samples}):
        task = data.tasks[name]
        if task.answer_kind not in CLOSED_KINDS:
            continue
        samples = [s for s in data.samples if s.task == name]
        gold = Counter(gold_key(s, task) for s in samples)
        top = gold.most_common(1)[0][0]
        verdicts = [
            bool(is_correct(top, task.answer_kind, s.answer, s.references or [], s.choices, answer_set=task.answer_set)) for s in samples
        ]
        predicted = {
            target: {
                mode: dict(Counter(r.parsed or UNPARSED for r in data.outcome(target, mode).rows if r.sample.task == name).most_common())
                for mode in data.modes
            }
            for target in data.targets
        }
        out[name] = {"gold": dict(gold.most_common()), "majority": {"answer": top, **proportion(verdicts)}, "predicted": predicted}
    return out


def _order(names: Iterable[str], known: tuple[str, ...]) -> list[str]:
    names = set(names)
    return [n for n in known if n in names] + sorted(names - set(known))


def block_table(rows: list[Row]) -> dict[str, Any] | None:
    """Music-AVQA's standard table from the records' category paths (block, question type): each
    type's accuracy, each block's average over all its questions (pooled, as the dataset's
    evaluation code computes it) and the overall accuracy; None when no sample has a path."""
    keyed = [r for r in rows if len(r.sample.category) >= 2]
    if not keyed:
        return None
    blocks = []
    for block in _order((r.sample.category[0] for r in keyed), BLOCKS):
        inside = [r for r in keyed if r.sample.category[0] == block]
        types = [
            {"type": t, **proportion([bool(r.correct) for r in inside if r.sample.category[1] == t])}
            for t in _order((r.sample.category[1] for r in inside), TYPES)
        ]
        blocks.append({"block": block, "types": types, "average": proportion([bool(r.correct) for r in inside])})
    return {"blocks": blocks, "overall": proportion([bool(r.correct) for r in keyed])}


def statistics(data: RunData, *, resamples: int = RESAMPLES, corpus_resamples: int = CORPUS_RESAMPLES, seed: int = SEED) -> dict[str, Any]:
    """Intervals for every target × condition × task, each condition against zero-shot (paired),
    the answer distributions with the majority baseline, and the block tables (Music-AVQA)."""
    acc: dict[str, Any] = {}
    comparisons: dict[str, Any] = {}
    blocks: dict[str, Any] = {}
    for target in data.targets:
        for mode in data.modes:
            out, repeats = data.outcome(target, mode), data.repeats(target, mode)
            for name, rows in sorted(by_task(out.rows).items()):
                entry = accuracy_entry(data, name, rows, out.tokens, corpus_resamples, seed, repeats)
                acc.setdefault(target, {}).setdefault(mode, {})[name] = entry
                if "category_path" in data.tasks[name].breakdown and main_metric(data.tasks[name]) == ACCURACY:
                    table = block_table(rows)
                    if table is not None:
                        blocks.setdefault(name, {}).setdefault(target, {})[mode] = table
                if mode != ZERO_SHOT and ZERO_SHOT in data.modes:
                    base = data.outcome(target, ZERO_SHOT)
                    comparisons.setdefault(target, {}).setdefault(mode, {})[name] = comparison(
                        data, name, base, out, resamples, corpus_resamples, seed, (data.repeats(target, ZERO_SHOT), repeats)
                    )
    return {
        "method": {
            "level": LEVEL,
            "accuracy_interval": "wilson",
            "repeats_interval": "percentile bootstrap over samples of each sample's mean correctness across repeats",
            "corpus_interval": "percentile bootstrap over samples",
            "difference_interval": "paired percentile bootstrap over samples",
            "test": "exact two-sided McNemar (binomial on the discordant pairs)",
            "resamples": resamples,
            "corpus_resamples": corpus_resamples,
            "seed": seed,
        },
        "accuracy": acc,
        "comparisons": comparisons,
        "answers": answers(data),
        "blocks": blocks,
        **condition_costs(data),
    }


def condition_costs(data: RunData) -> dict[str, Any]:
    """``cost[target][condition]``: each condition's work per answered sample, read from its
    records (:mod:`aurelia.bench.costs`); ``r_star_cost``: r* generation, counted once per sample."""
    star = {"early_stop": data.early_stop, "threshold": data.threshold, "max_iterations": data.max_iterations}
    cost = {
        target: {mode: condition_cost(data.records(target, mode), data.trajectories, **star) for mode in data.modes}
        for target in data.targets
    }
    return {"cost": cost, "r_star_cost": r_star_cost(data.trajectories, **star)}


def judge_run(run_dir: str | Path, judge: str | BaseChatModel | RoleModel) -> dict[str, Any]:
    """Ask ``judge`` about every open answer of a run (the tasks that are not multiple choice), per
    target and inject mode, and write ``RUN/judge.json``: apart from the rule-based metrics, which
    it never changes (a reply it cannot read, or a failed call, leaves the answer unjudged)."""
    data = RunData(run_dir)
    by_id = {s.id: s for s in data.samples}
    out: dict[str, Any] = {"model": None, "scores": {}, "failures": [], "samples": []}
    for target in data.targets:
        for mode in data.modes:
            records = [
                r
                for r in data.records(target, mode)
                if not r.get("error") and r["id"] in by_id and data.tasks[r["task"]].answer_kind != "choice"
            ]
            if not records:
                continue
            judgement = judge_answers([(by_id[r["id"]], (r.get("output") or "").strip() or None) for r in records], judge)
            out["model"] = judgement.model
            ids: dict[str, list[str]] = defaultdict(list)
            for r in records:
                ids[r["task"]].append(r["id"])
                out["samples"].append({"id": r["id"], "target": target, "inject": mode, "judge": judgement.verdicts.get(r["id"])})
            out["scores"].setdefault(target, {})[mode] = {t: judgement.summary(i) for t, i in sorted(ids.items())}
            out["failures"] += [f"{target}/{mode}: {f}" for f in judgement.failures]
    if out["model"] is None:
        raise InputError(
            "nothing for a judge in this run: no open answers (every task is multiple choice, or every answer failed)", path=str(run_dir)
        )
    try:
        atomic_write_text(data.dir / JUDGE_FILE, json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise InputError(f"cannot write {JUDGE_FILE} ({exc.strerror or exc})", path=str(data.dir)) from exc
    return out


def judge_lines(judged: dict[str, Any]) -> list[str]:
    """One line per target and inject mode: the judge's accuracy per task, with its counts."""
    lines = []
    for target, modes in judged["scores"].items():
        for mode, tasks in modes.items():
            cells = ", ".join(f"{t} {v['accuracy']:.3f}" if v["accuracy"] is not None else f"{t} —" for t, v in tasks.items())
            counts = ", ".join(f"n {v['n']}, unjudged {v['unjudged']}" for v in tasks.values())
            lines.append(f"judge {judged['model']} (apart from the metrics), {target} {mode}: {cells} ({counts})")
    return lines


def build_report(
    run_dir: str | Path, *, resamples: int = RESAMPLES, corpus_resamples: int = CORPUS_RESAMPLES, seed: int = SEED
) -> dict[str, Any]:
    """Every number of the report, as ``report.json`` holds it; ``resamples`` (per-sample metrics)
    and ``corpus_resamples`` (CIDEr…, each one a full recomputation) set the bootstraps, ``seed`` their draws."""
    data = RunData(run_dir)
    counts = Counter(s.task for s in data.samples)
    return {
        "run": str(data.dir),
        "settings": data.run["settings"],
        "last_invocation": {"status": data.run.get("status"), "counts": data.run.get("counts")},
        "samples": {"total": len(data.samples), "by_task": dict(sorted(counts.items()))},
        "threshold": data.threshold,
        "max_iterations": data.max_iterations,
        "early_stop": data.early_stop,
        "targets": data.targets,
        "inject": data.modes,
        "table1": table1(data),
        "statistics": statistics(data, resamples=resamples, corpus_resamples=corpus_resamples, seed=seed),
        "ablation": ablation(data),
        "cost": cost(data),
        "open_questions": open_questions(data),
        **({"judge": json.loads((data.dir / JUDGE_FILE).read_text(encoding="utf-8"))} if (data.dir / JUDGE_FILE).is_file() else {}),
    }
