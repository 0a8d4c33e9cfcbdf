"""The report's PNG plots (matplotlib, in the ``bench`` extra), drawn from ``report.json``'s numbers.

matplotlib's object API (``Figure``) draws without pyplot's global state or a display. Text from
the run (a target named ``$\\undefinedcmd{x}$``) is drawn as written: mathtext and TeX are off.
Each PNG is replaced whole (:mod:`aurelia.files`), and a plot that fails is reported, not raised.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aurelia.bench.engine import ZERO_SHOT
from aurelia.bench.stats import wilson
from aurelia.errors import describe_failure
from aurelia.files import atomic_open

PLAIN_TEXT = {"text.parse_math": False, "text.usetex": False}


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    with atomic_open(path, binary=True) as handle:
        fig.savefig(handle, dpi=110, format="png", bbox_inches="tight")  # legends outside the axes stay in
    return path


def _metric_rows(metrics: dict[str, str]) -> list[tuple[str, list[str]]]:
    """Tasks grouped by their main metric (accuracy first): one row of panels, one y-scale, per metric."""
    order = sorted(set(metrics.values()), key=lambda m: (m != "accuracy", m))
    return [(m, [t for t, tm in metrics.items() if tm == m]) for m in order]


def _ylim(ax: Any, metric: str, top: float) -> None:
    ax.set_ylim(0, 1.12 if metric == "accuracy" else max(top, 1e-6) * 1.2)


def table1_bars(report: dict[str, Any], path: Path) -> Path | None:
    """A panel per target and metric (tasks scored by accuracy apart from those scored by CIDEr),
    the same y-scale along a metric's row: a bar per condition with its value, its 95% interval as
    an error bar, and n under each task."""
    from matplotlib.figure import Figure

    stats = report.get("statistics", {}).get("accuracy", {})
    targets, modes = report["targets"], report["inject"]
    groups = _metric_rows(report["table1"]["metrics"])
    if not targets or not groups:
        return None
    most = max(len(tasks) for _, tasks in groups)
    fig = Figure(figsize=(max(4.5, 1.2 * most * len(modes)) * len(targets) + 1.5, 3.6 * len(groups)))
    width = 0.8 / len(modes)
    handles: dict[str, Any] = {}
    for row, (metric, tasks) in enumerate(groups):
        axes = [fig.add_subplot(len(groups), len(targets), row * len(targets) + k + 1) for k in range(len(targets))]
        top = 0.0
        for ax, target in zip(axes, targets, strict=True):
            ns = []
            for j, mode in enumerate(modes):
                cells = [stats.get(target, {}).get(mode, {}).get(name) for name in tasks]
                values = [c["value"] if c and c["value"] is not None else 0.0 for c in cells]
                low = [v - c["ci"][0] if c and c["ci"] else 0.0 for v, c in zip(values, cells, strict=True)]
                high = [c["ci"][1] - v if c and c["ci"] else 0.0 for v, c in zip(values, cells, strict=True)]
                top = max([top, *(v + h for v, h in zip(values, high, strict=True))])
                xs = [i + (j - (len(modes) - 1) / 2) * width for i in range(len(tasks))]
                label = "zero-shot" if mode == ZERO_SHOT else f"with r* ({mode})"
                bars = ax.bar(xs, values, width, yerr=[low, high], capsize=3, label=label, error_kw={"elinewidth": 1})
                ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=2)
                handles.setdefault(label, bars)
                ns.append([c["n"] if c else 0 for c in cells])
            n_text = [f"{name}\nn = {max(col)}" for name, col in zip(tasks, zip(*ns, strict=True), strict=True)]
            ax.set_xticks(range(len(tasks)), n_text, fontsize=8)
            ax.set_title(target, fontsize=9)
            ax.set_ylabel(metric + (" (95% Wilson interval)" if metric == "accuracy" else " (95% bootstrap interval)"), fontsize=8)
        for ax in axes:
            _ylim(ax, metric, top)
    fig.legend(list(handles.values()), list(handles), fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(fig, path)


def _wilson_bars(accuracies: list[float | None], ns: list[int]) -> list[list[float]]:
    """Error bar lengths (below, above) of Wilson intervals for accuracies over n samples each."""
    low, high = [], []
    for a, n in zip(accuracies, ns, strict=True):
        ci = None if a is None else wilson(round(a * n), n)
        low.append(0.0 if ci is None else a - ci[0])
        high.append(0.0 if ci is None else ci[1] - a)
    return [low, high]


def iteration_lines(report: dict[str, Any], path: Path) -> Path | None:
    """Mean evaluator score and the accuracy of the iteration's own final answer, per iteration,
    with how many samples reached each one (with early stop, a later iteration holds only the
    samples that had not yet passed: a selected subset, which the plot says)."""
    from matplotlib.figure import Figure

    rows = report["open_questions"]["by_iteration"]
    if not rows:
        return None
    xs = [int(k) for k in rows]
    reached = [rows[str(x)].get("reached", rows[str(x)]["scored"]) for x in xs]
    fig = Figure(figsize=(7.5, 4.0))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(xs, [rows[str(x)]["mean_score"] for x in xs], marker="o", color="tab:blue", label="mean evaluator score (left)")
    ax.axhline(report["threshold"], color="tab:blue", linestyle=":", linewidth=1, label=f"τ = {report['threshold']} (left)")
    ax.set_xlabel("iteration (n = samples that reached it)")
    ax.set_ylabel("evaluator score (1-10)")
    ax.set_ylim(0, 10.5)
    ax.set_xticks(xs, [f"{x}\nn = {n}" for x, n in zip(xs, reached, strict=True)])
    right = ax.twinx()
    acc = [rows[str(x)]["own_answer_accuracy"] for x in xs]
    right.errorbar(
        xs, acc, yerr=_wilson_bars(acc, reached), marker="s", capsize=3, color="tab:orange", label="own answer accuracy, 95% CI (right)"
    )
    for x, a in zip(xs, acc, strict=True):
        if a is not None:
            right.annotate(f"{a:.2f}", (x, a), textcoords="offset points", xytext=(6, 4), fontsize=7, color="tab:orange")
    right.set_ylabel("accuracy of the iteration's final answer")
    right.set_ylim(0, 1.05)
    if report.get("early_stop", True) and len(set(reached)) > 1:
        ax.set_title("early stop: a later iteration holds only the samples not yet passed (a selected subset)", fontsize=8)
    fig.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 0.95))
    return _save(fig, path)


def ablation_lines(report: dict[str, Any], path: Path) -> Path | None:
    """The main metric per task against T' and against τ' (each target, each inject mode), one row
    of panels per metric with a shared y-scale, 95% intervals for accuracies, integer ticks."""
    from matplotlib.figure import Figure

    ablation = report.get("ablation")
    if not ablation:
        return None
    groups = _metric_rows(report["table1"]["metrics"])
    fig = Figure(figsize=(11, 3.8 * len(groups)))
    for row, (metric, tasks) in enumerate(groups):
        axes = {"T": fig.add_subplot(len(groups), 2, 2 * row + 1), "tau": fig.add_subplot(len(groups), 2, 2 * row + 2)}
        top = 0.0
        for target, modes in ablation["tables"].items():
            for mode, tables in modes.items():
                for axis, rows in tables.items():
                    key = "T" if axis == "T" else "tau"
                    for name in tasks:
                        ys = [r["tasks"].get(name, {}).get(metric) for r in rows]
                        if not any(y is not None for y in ys):
                            continue
                        xs = [r[key] for r in rows]
                        ns = [r["tasks"].get(name, {}).get("n", 0) for r in rows]
                        yerr = _wilson_bars(ys, ns) if metric == "accuracy" else None
                        line = axes[axis].errorbar(
                            xs, ys, yerr=yerr, marker="o", capsize=3, label=f"{target} · {mode} · {name} (n = {max(ns)})"
                        )
                        for x, y in zip(xs, ys, strict=True):
                            if y is not None:
                                axes[axis].annotate(
                                    f"{y:.2f}", (x, y), textcoords="offset points", xytext=(5, 3), fontsize=7, color=line[0].get_color()
                                )
                        top = max([top, *(y for y in ys if y is not None)])
        axes["T"].set_xlabel(f"T' (τ = {ablation['threshold']})")
        axes["T"].set_xticks(range(1, ablation["max_iterations"] + 1))
        axes["tau"].set_xlabel(f"τ' (T = {ablation['max_iterations']})")
        axes["tau"].set_xticks(range(4, 11))
        for ax in axes.values():
            ax.set_ylabel(metric + (" (95% Wilson interval)" if metric == "accuracy" else ""), fontsize=8)
            _ylim(ax, metric, top)
        axes["tau"].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return _save(fig, path)


MARKERS = "osD^vP*X"


def _cost_points(report: dict[str, Any], task: str) -> list[tuple[str, str, float, dict[str, Any]]]:
    """(target, condition, calls per sample, accuracy entry) of each condition that answered ``task``."""
    st = report["statistics"]
    points = []
    for target, modes in st["cost"].items():
        for mode, c in modes.items():
            x = c["by_task"].get(task, {}).get("calls_per_sample")
            entry = st["accuracy"].get(target, {}).get(mode, {}).get(task)
            if x is not None and entry and entry["value"] is not None:
                points.append((target, mode, x, entry))
    return points


def _dodges(xs: list[float], step: float = 12.0) -> list[float]:
    """Horizontal offsets (points) that set side by side the points sharing an x (zero-shot and a one-call control)."""
    out = []
    for i, x in enumerate(xs):
        same = [j for j, y in enumerate(xs) if y == x]
        out.append((same.index(i) - (len(same) - 1) / 2) * step)
    return out


def cost_points(report: dict[str, Any], path: Path) -> Path | None:
    """Each condition's main metric, with its 95% interval, against its calls per sample (target
    calls plus the agent calls that made its r*, shared by the conditions that inject it): a
    panel per task, one y-scale per metric, a point per target × condition labelled with n."""
    from matplotlib.figure import Figure
    from matplotlib.transforms import offset_copy

    st = report.get("statistics") or {}
    if not st.get("cost"):
        return None
    groups = _metric_rows(report["table1"]["metrics"])
    most = max(len(tasks) for _, tasks in groups)
    fig = Figure(figsize=(4.6 * most + 0.5, 3.8 * len(groups)))
    colours = {m: f"C{i % 10}" for i, m in enumerate(report["inject"])}
    markers = {t: MARKERS[i % len(MARKERS)] for i, t in enumerate(report["targets"])}
    handles: dict[str, Any] = {}
    for row, (metric, tasks) in enumerate(groups):
        axes = [fig.add_subplot(len(groups), most, row * most + k + 1) for k in range(len(tasks))]
        top, right = 0.0, 1.0
        for ax, task in zip(axes, tasks, strict=True):
            points = _cost_points(report, task)
            for (target, mode, x, e), dx in zip(points, _dodges([p[2] for p in points]), strict=True):
                v, ci = e["value"], e["ci"]
                name, label = "zero-shot" if mode == ZERO_SHOT else mode, f"{target} · {'zero-shot' if mode == ZERO_SHOT else mode}"
                shifted = offset_copy(ax.transData, fig=fig, x=dx, units="points")  # side by side, the x value unchanged
                line = ax.errorbar(
                    [x], [v], yerr=[[v - ci[0]], [ci[1] - v]] if ci else None, fmt=markers[target], color=colours[mode], capsize=3,
                    label=label, transform=shifted,
                )  # fmt: skip
                ax.annotate(
                    f"{name} {v:.2f}\nn = {e['n']}",
                    (x, v),
                    textcoords="offset points",
                    xytext=(dx - 6, -4) if dx < 0 else (dx + 6, 3),  # the left one of a side-by-side pair: labelled below left
                    ha="right" if dx < 0 else "left",
                    va="top" if dx < 0 else "baseline",
                    fontsize=7,
                    color=colours[mode],
                )
                handles.setdefault(label, line)
                top, right = max(top, ci[1] if ci else v), max(right, x)
            ax.set_title(task, fontsize=9)
            ax.set_xlabel("calls per sample (target + r*'s agent calls, shared)", fontsize=8)
            ax.set_ylabel(metric + (" (95% Wilson interval)" if metric == "accuracy" else " (95% bootstrap interval)"), fontsize=8)
        for ax in axes:
            _ylim(ax, metric, top)
            ax.set_xlim(-0.3 * right - 0.5, right * 1.25 + 0.5)  # room for a label left of a point at one call
            ax.set_xticks([t for t in ax.get_xticks() if 0 <= t <= right * 1.25 + 0.5])
    if not handles:
        return None
    fig.suptitle(
        "accuracy against cost per sample\nr*'s agent calls are made once per sample, shared by the conditions that inject it", fontsize=9
    )
    fig.legend(list(handles.values()), list(handles), fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(fig, path)


def write_plots(report: dict[str, Any], folder: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Every plot the report has numbers for (none when matplotlib is not installed), and the
    (name, reason) of each that could not be drawn."""
    if not available():
        return [], []
    import matplotlib

    makers: dict[str, Callable[[dict[str, Any], Path], Path | None]] = {
        "table1.png": table1_bars,
        "iterations.png": iteration_lines,
        "ablation.png": ablation_lines,
        "cost.png": cost_points,
    }
    drawn, failed = [], []
    with matplotlib.rc_context(PLAIN_TEXT):
        for name, make in makers.items():
            try:
                path = make(report, folder / name)
            except Exception as exc:  # a plot is an extra: the report stands without it
                failed.append((name, describe_failure(exc)))
                continue
            if path is not None:
                drawn.append(path)
    return drawn, failed
