"""``aurelia bench report RUN``: RUN/report.json (every number), RUN/report.md (the paper's tables
and the open questions, for people) and the PNG plots.

report.json and report.md are written (each replaced whole) before any plot is drawn, so a plot
that fails costs only itself. Text from the run (target names, task and category names) is
escaped for markdown: a ``|`` or a line break stays inside its table cell or heading.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aurelia.bench.plots import available, write_plots
from aurelia.bench.report import ZERO_SHOT, build_report
from aurelia.errors import InputError
from aurelia.files import atomic_write_text
from aurelia.redact import redact_deep

LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029\x85\v\f]+")


def inline(value: Any) -> str:
    """Run text on one line (a heading, a cell): line breaks become spaces."""
    return LINE_BREAKS.sub(" ", str(value))


def cell(value: Any) -> str:
    """A markdown table cell: one line, and a ``|`` escaped so that it does not end the cell."""
    return inline(value).replace("|", "\\|")


def num(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def gain(value: float | None) -> str:
    return "" if value is None else f" ({value:+.1f}%)"


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    return [
        "| " + " | ".join(map(cell, header)) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(map(cell, r)) + " |" for r in rows),
        "",
    ]


def pct(entry: dict[str, Any]) -> str:
    return "—" if entry["rate"] is None else f"{entry['count']} of {entry['n']} ({100 * entry['rate']:.1f}%)"


def settings_lines(report: dict[str, Any]) -> list[str]:
    s, ctx = report["settings"], report["settings"]["context"]
    agents = ", ".join(f"{role} `{ctx[f'{role}_model']}`" for role in ("generator", "summarizer", "evaluator") if f"{role}_model" in ctx)
    extra = "".join(f", {k} `{ctx[k]}`" for k in ("prompt_set", "feedback_mode") if ctx.get(k))
    by_task = ", ".join(f"{t} {n}" for t, n in report["samples"]["by_task"].items())
    last = report["last_invocation"]
    return [
        f"- samples: {report['samples']['total']} ({by_task})",
        f"- targets: {', '.join(f'`{inline(t)}`' for t in report['targets'])}; inject modes: {', '.join(inline(m) for m in report['inject'] if m != ZERO_SHOT)}",
        f"- agents: {agents}{extra}; τ = {report['threshold']}, T = {report['max_iterations']}, early stop {'on' if report['early_stop'] else 'off'}",
        f"- r*: {s.get('reasoning', 'generate')}" + (f" on the server {inline(s['server'])}" if s.get("server") else ""),
        f"- last invocation: {last['status']}, counts {json.dumps(last['counts'])}",
        "",
    ]


def table1_lines(report: dict[str, Any]) -> list[str]:
    t1 = report["table1"]
    lines = []
    for mode, rows in t1["tables"].items():
        lines += [f"## Table 1: zero-shot → with r* (inject `{inline(mode)}`)", ""]
        body = [
            [f"`{target}`", *(f"{num(c['zero_shot'])} → {num(c['aurelia'])}{gain(c['relative_gain'])}" for c in cells.values())]
            for target, cells in rows.items()
        ]
        lines += table(["target", *(f"{t} ({t1['metrics'][t]})" for t in t1["tasks"])], body)
    lines += ["Unparsed answers count as wrong; a sample with no answer (failed or not yet run) counts as unparsed.", ""]
    lines += ["### Every metric", ""]
    for target, modes in t1["scores"].items():
        metric_rows = []
        for name in t1["tasks"]:
            keys = [k for k in next(iter(modes.values()))["tasks"].get(name, {}) if k not in ("n",)]
            for key in keys:
                metric_rows.append([name, key, *(num(modes[m]["tasks"].get(name, {}).get(key)) for m in modes)])
        metric_rows.append(["all", "failed", *(modes[m]["failed"] for m in modes)])
        metric_rows.append(["all", "missing", *(modes[m]["missing"] for m in modes)])
        metric_rows.append(["all", "seconds per sample", *(num(modes[m]["seconds_per_sample"], 2) for m in modes)])
        lines += [
            f"`{inline(target)}`",
            "",
            *table(["task", "metric", *(("zero-shot" if m == ZERO_SHOT else m) for m in modes)], metric_rows),
        ]
    return lines


def ci_text(ci: list[float] | None, sign: str = "") -> str:
    return "—" if ci is None else f"[{ci[0]:{sign}.3f}, {ci[1]:{sign}.3f}]"


def p_text(p: float | None) -> str:
    return "—" if p is None else f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def comparison_text(c: dict[str, Any]) -> str:
    """'0.412 → 0.455 (+0.043, 95% CI [+0.010, +0.077], McNemar p = 0.012; 31 ↑ 18 ↓)'."""
    if c["difference"] is None:
        return "— (no sample answered in both)"
    head = f"{num(c['before'])} → {num(c['after'])} ({c['difference']:+.3f}, 95% CI {ci_text(c['ci'], '+')}"
    if c.get("mcnemar_p") is None:
        return head + ")"
    text = head + f", McNemar p = {p_text(c['mcnemar_p'])}; {len(c['wrong_to_right'])} ↑ {len(c['right_to_wrong'])} ↓)"
    if c.get("over_repeats"):
        r = c["over_repeats"]
        text += f"; over the repeats {r['difference']:+.3f}, 95% CI {ci_text(r['ci'], '+')}"
    return text


def ids_text(ids: list[str], most: int = 20) -> str:
    return ", ".join(f"`{inline(i)}`" for i in ids[:most]) + (f" and {len(ids) - most} more" if len(ids) > most else "") or "none"


def statistics_lines(report: dict[str, Any]) -> list[str]:
    """The "Is the gain real?" section: intervals, paired comparisons, answers, standard tables."""
    st = report.get("statistics")
    if not st:
        return []
    method = st["method"]
    lines = [
        "## Is the gain real?",
        "",
        f"95% intervals: Wilson for an accuracy; a percentile bootstrap over samples ({method['corpus_resamples']} resamples, "
        f"seed {method['seed']}) for a corpus metric (CIDEr). Each condition against zero-shot on the samples both answered: "
        f"the difference with a paired bootstrap interval ({method['resamples']} resamples; {method['corpus_resamples']} for a "
        "corpus metric) and, for right/wrong answers, the exact two-sided McNemar p-value; ↑ wrong → right, ↓ right → wrong.",
        "",
    ]
    if any("repeats" in e for modes in st["accuracy"].values() for cells in modes.values() for e in cells.values()):
        lines += [
            "Answered K times (`--repeats`): an accuracy reads mean ± sd across the repeats, its interval a bootstrap over samples "
            f"of each sample's mean correctness ({method['resamples']} resamples); the comparisons read each record's first repeat.",
            "",
        ]
    return lines + _interval_lines(report, st) + _comparison_lines(st) + condition_cost_lines(st) + _answer_lines(st) + _block_lines(st)


def tokens_text(tokens: dict[str, float]) -> str:
    if not tokens:
        return "—"
    return f"{num(tokens.get('input_tokens'), 1)} in, {num(tokens.get('output_tokens'), 1)} out"


def condition_cost_lines(st: dict[str, Any]) -> list[str]:
    """What each condition costs per answered sample, beside its accuracy (``cost.png``)."""
    if not st.get("cost"):
        return []
    shared = st["r_star_cost"]
    body = [
        [
            f"`{target}`",
            "zero-shot" if mode == ZERO_SHOT else mode,
            f"{c['samples']}" + (f" ({c['failed']} failed)" if c["failed"] else ""),
            num(c["target_calls_per_sample"], 2),
            num(c["agent_calls_per_sample"], 2),
            num(c["calls_per_sample"], 2),
            tokens_text(c["tokens_per_sample"]["target"]),
            tokens_text(c["tokens_per_sample"]["agent"]),
            num(c["seconds_per_sample"]["target"], 2),
            num(c["seconds_per_sample"]["agent"], 2),
        ]
        for target, modes in st["cost"].items()
        for mode, c in modes.items()
    ]
    header = ["target", "condition", "samples", "target calls", "agent calls (shared)", "calls", "target tokens", "agent tokens (shared)"]
    return [
        "### What each condition costs per sample",
        "",
        "Per answered sample, from the records: target calls (a record that holds several, as self-consistency's, counts each), "
        "the agent calls that made the r* it injected, tokens as reported and seconds. r* is generated once per sample and "
        "shared by every condition that injects it: the agent columns are the same calls, not additive. "
        f"The run's r* generation, counted once: {num(shared['agent_calls_per_sample'], 2)} agent calls and "
        f"{num(shared['agent_seconds_per_sample'], 2)} s per sample over {shared['samples']} samples. "
        "`cost.png` puts each condition's accuracy against its calls per sample.",
        "",
        *table([*header, "target s", "agent s (shared)"], body),
    ]


def value_text(entry: dict[str, Any]) -> str:
    """A metric's value; over ``--repeats`` answers, "mean ± sd (K repeats)"."""
    r = entry.get("repeats")
    return num(entry["value"]) if not r else f"{num(r['mean'])} ± {num(r['sd'])} ({r['k']} repeats)"


def _interval_lines(report: dict[str, Any], st: dict[str, Any]) -> list[str]:
    lines = []
    for target, modes in st["accuracy"].items():
        tasks = sorted({t for m in modes.values() for t in m})
        body = []
        for mode, cells in modes.items():
            row = [("zero-shot" if mode == ZERO_SHOT else mode)]
            for t in tasks:
                c = cells.get(t)
                row.append("—" if c is None else f"{value_text(c)} {ci_text(c['ci'])}, n {c['n']}")
            body.append(row)
        lines += [f"### `{inline(target)}`: each condition with its 95% interval", ""]
        lines += table(["condition", *(f"{t} ({report['table1']['metrics'].get(t, '')})" for t in tasks)], body)
    return lines


def _comparison_lines(st: dict[str, Any]) -> list[str]:
    lines = []
    for target, modes in st["comparisons"].items():
        lines += [f"### `{inline(target)}`: each condition against zero-shot", ""]
        for mode, tasks in modes.items():
            for name, c in tasks.items():
                excluded = f"; {c['excluded']} left out (no answer on one side)" if c["excluded"] else ""
                lines.append(f"- `{inline(mode)}`, {inline(name)} ({c['metric']}, n {c['n']}{excluded}): {comparison_text(c)}")
                if c.get("mcnemar_p") is not None:
                    lines.append(f"  - wrong → right: {ids_text(c['wrong_to_right'])}")
                    lines.append(f"  - right → wrong: {ids_text(c['right_to_wrong'])}")
        lines.append("")
    return lines


def _answer_lines(st: dict[str, Any]) -> list[str]:
    lines = []
    for name, a in st["answers"].items():
        maj = a["majority"]
        lines += [
            f"### {inline(name)}: answers and the majority baseline",
            "",
            f"Always answering the most common gold answer `{inline(maj['answer'])}` scores {num(maj['accuracy'])} "
            f"{ci_text(maj['ci'])} ({maj['correct']} of {maj['n']}).",
            "",
        ]
        shown = list(a["gold"])[:10]
        rows = [["gold", *(a["gold"].get(k, 0) for k in shown), sum(v for k, v in a["gold"].items() if k not in shown)]]
        for target, modes in a["predicted"].items():
            for mode, counts in modes.items():
                label = f"`{target}` {'zero-shot' if mode == ZERO_SHOT else mode}"
                rows.append([label, *(counts.get(k, 0) for k in shown), sum(v for k, v in counts.items() if k not in shown)])
        lines += table(["answers", *shown, "other"], rows)
    return lines


def _block_lines(st: dict[str, Any]) -> list[str]:
    lines = []
    for name, targets in st["blocks"].items():
        for target, modes in targets.items():
            first = next(iter(modes.values()))
            body = []
            for b_index, block in enumerate(first["blocks"]):
                for t_index, entry in enumerate(block["types"]):
                    cells = [_block_cell(m["blocks"], b_index, t_index) for m in modes.values()]
                    body.append([block["block"], entry["type"], *cells])
                body.append([f"**{block['block']}**", "average", *(_block_cell(m["blocks"], b_index, None) for m in modes.values())])
            overall = [f"{num(m['overall']['accuracy'])} {ci_text(m['overall']['ci'])}, n {m['overall']['n']}" for m in modes.values()]
            body.append(["**all**", "average", *overall])
            lines += [f"### {inline(name)}: the standard table, `{inline(target)}` (accuracy, 95% Wilson interval, n)", ""]
            lines += table(["block", "question type", *(("zero-shot" if m == ZERO_SHOT else m) for m in modes)], body)
    return lines


def _block_cell(blocks: list[dict[str, Any]], b: int, t: int | None) -> str:
    entry = blocks[b]["average"] if t is None else blocks[b]["types"][t]
    return f"{num(entry['accuracy'])} {ci_text(entry['ci'])}, n {entry['n']}"


def category_lines(report: dict[str, Any]) -> list[str]:
    t1 = report["table1"]
    lines: list[str] = []
    for target, modes in t1["scores"].items():
        for name in t1["tasks"]:
            cats = modes.get(ZERO_SHOT, next(iter(modes.values())))["categories"].get(name)
            if not cats:
                continue
            metric = t1["metrics"][name]
            rows = [[c, *(num(modes[m]["categories"][name].get(c, {}).get(metric)) for m in modes), cats[c]["n"]] for c in cats]
            lines += [f"### {inline(name)} by category, `{inline(target)}` ({metric})", ""]
            lines += table(["category", *(("zero-shot" if m == ZERO_SHOT else m) for m in modes), "n"], rows)
    return (["## By category", "", *lines]) if lines else []


def ablation_lines(report: dict[str, Any]) -> list[str]:
    ab = report.get("ablation")
    if not ab:
        return []
    metrics = report["table1"]["metrics"]
    lines = ["## Tables 5 and 6: T' and τ' (read off the stored trajectories: no agent call)", ""]
    lines.append(f"{ab['samples']} samples with a trajectory; seconds = the prefix's recorded agent time + the target's answer.")
    lines.append("")
    titles = {"T": f"Table 5: T' at τ = {ab['threshold']}", "tau": f"Table 6: τ' at T = {ab['max_iterations']}"}
    for target, modes in ab["tables"].items():
        for mode, tables in modes.items():
            for axis, rows in tables.items():
                key = "T" if axis == "T" else "tau"
                body = [
                    [
                        r[key],
                        *(num(r["tasks"].get(t, {}).get(m)) for t, m in metrics.items()),
                        num(r["seconds_per_sample"], 2),
                        r["covered"],
                    ]
                    for r in rows
                ]
                lines += [f"### {titles[axis]}, `{inline(target)}`, inject `{inline(mode)}`", ""]
                lines += table(["T'" if axis == "T" else "τ'", *metrics, "seconds per sample", "answered"], body)
    return lines


def cost_lines(report: dict[str, Any]) -> list[str]:
    c = report["cost"]
    agents = [
        [r, a["calls"], num(a["seconds"], 1), num(a["seconds_per_sample"], 2), a["tokens"].get("total_tokens", "—")]
        for r, a in c["agents"].items()
    ]
    targets = [
        [f"`{t}`", a["calls"], num(a["seconds"], 1), num(a["seconds_per_answer"], 3), a["tokens"].get("total_tokens", "—")]
        for t, a in c["targets"].items()
    ]
    return [
        "## Cost",
        "",
        f"Agents (the recorded calls that made each r*, also where this run read it from the cache): "
        f"{c['samples_with_trajectory']} samples, {num(c['agent_seconds_per_sample'], 2)} s per sample.",
        "",
        *table(["role", "calls", "seconds", "seconds per sample", "tokens"], agents),
        *table(["target", "answers", "seconds", "seconds per answer", "tokens"], targets),
    ]


def open_question_lines(report: dict[str, Any]) -> list[str]:
    q = report["open_questions"]
    sc, corr = q["score_vs_correctness"], q["correction"]
    leaks = q["leaks"]
    by_score = [[k, v["n"], num(v["accuracy"])] for k, v in sc["accuracy_by_score"].items()]
    used = [[k, v] for k, v in q["iterations_used"].items()]
    lines = [
        "## What the paper could not answer",
        "",
        f"Over {q['closed_samples']} samples of closed tasks (an answer is right or wrong); each iteration's own final answer is read "
        "as the target's answers are. Unscored iterations (failed evaluations) are left out of the score questions.",
        "",
        "**Does the evaluator's score track correctness?** "
        f"Pearson r between an iteration's score and the correctness of its own final answer: {num(sc['pearson_r'])} "
        f"over {sc['iterations']} scored iterations ({sc['unscored']} unscored); mean score {num(sc['mean_score_when_correct'], 2)} "
        f"when right, {num(sc['mean_score_when_wrong'], 2)} when wrong.",
        "",
        *table(["score", "iterations", "own answer accuracy"], by_score),
        "**Does feedback fix early perceptual errors?** "
        f"Of {corr['first_iteration_wrong']} samples whose first iteration was wrong, r* was right in {pct(corr['r_star_correct'])}; "
        f"some iteration was right in {pct(corr['some_iteration_correct'])}.",
        "",
        f"**Does the evaluator pass wrong answers (reinforcement)?** Iterations with a wrong answer scored ≥ τ: {pct(q['reinforcement'])}.",
        "",
        "**How often do steps leak the answer?** "
        + (
            f"Iterations whose step text gives the answer away: {pct(leaks['iterations'])}; r*: {pct(leaks['r_star'])}."
            if leaks["recorded"]
            else "Not recorded by the version that generated these trajectories."
        ),
        "",
        "**Iterations used** (at the run's τ and T):",
        "",
        *table(["iterations", "samples"], used),
    ]
    return lines


def judge_section(report: dict[str, Any]) -> list[str]:
    """The LLM judge's verdicts on open answers (``--judge``), apart from the rule-based metrics."""
    judged = report.get("judge")
    if not judged:
        return []
    lines = [f"## LLM judge `{inline(judged.get('model'))}` (apart from the metrics above)", ""]
    rows = [
        [f"`{inline(target)}`", "zero-shot" if mode == ZERO_SHOT else mode, task, num(v.get("accuracy")), v.get("n"), v.get("unjudged")]
        for target, modes in judged.get("scores", {}).items()
        for mode, tasks in modes.items()
        for task, v in tasks.items()
    ]
    lines += table(["target", "inject", "task", "judged right", "n", "unjudged"], rows)
    if judged.get("failures"):
        lines += [f"Judge failures: {len(judged['failures'])} (RUN/judge.json lists them).", ""]
    return lines


def render_markdown(report: dict[str, Any], plots: list[Path]) -> str:
    lines = [f"# AVReasonBench run `{inline(Path(report['run']).name)}`", "", *settings_lines(report)]
    lines += (
        table1_lines(report)
        + statistics_lines(report)
        + category_lines(report)
        + ablation_lines(report)
        + cost_lines(report)
        + open_question_lines(report)
        + judge_section(report)
    )
    if plots:
        lines += ["## Plots", "", *(f"![{p.stem}]({p.name})" for p in plots), ""]
    return "\n".join(lines)


def write_report(run_dir: str | Path, **statistics: Any) -> dict[str, Any]:
    """Write report.json and report.md, then the plots (report.md is rewritten to show the ones
    drawn); returns the paths and notes. A plot that cannot be drawn is a note, never a lost report.
    ``statistics``: ``resamples``, ``corpus_resamples``, ``seed`` for :func:`build_report`."""
    folder = Path(run_dir).expanduser()
    report = redact_deep(build_report(folder, **statistics))  # also a run.json written before URLs were redacted
    _write(folder / "report.json", json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    _write(folder / "report.md", render_markdown(report, []))
    notes = [] if available() else ["no plots: matplotlib is not installed (pip install 'aurelia-av[bench]')"]
    plots, failed = write_plots(report, folder)
    notes += [f"plot {name} not drawn ({why})" for name, why in failed]
    if plots:
        _write(folder / "report.md", render_markdown(report, plots))
    return {"json": folder / "report.json", "markdown": folder / "report.md", "plots": plots, "notes": notes, "report": report}


def _write(path: Path, text: str) -> None:
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise InputError(f"cannot write the report ({exc.strerror or exc})", path=str(path)) from exc
