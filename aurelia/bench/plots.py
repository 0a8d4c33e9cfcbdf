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
from aurelia.errors import describe_failure
from aurelia.files import atomic_open

PLAIN_TEXT = {"text.parse_math": False, "text.usetex": False}


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    with atomic_open(path, binary=True) as handle:
        fig.savefig(handle, dpi=110, format="png")
    return path


def table1_bars(report: dict[str, Any], path: Path) -> Path | None:
    """Per target: for each task, bars for zero-shot and for each inject mode (the main metric)."""
    from matplotlib.figure import Figure

    scores, tasks = report["table1"]["scores"], report["table1"]["tasks"]
    targets, modes = report["targets"], report["inject"]
    if not targets or not tasks:
        return None
    fig = Figure(figsize=(max(5.0, 1.6 * len(tasks)) * len(targets), 3.8))
    width = 0.8 / len(modes)
    for k, target in enumerate(targets):
        ax = fig.add_subplot(1, len(targets), k + 1)
        for j, mode in enumerate(modes):
            metrics = report["table1"]["metrics"]
            values = [scores[target].get(mode, {}).get("tasks", {}).get(name, {}).get(metrics[name]) or 0.0 for name in tasks]
            label = "zero-shot" if mode == ZERO_SHOT else f"with r* ({mode})"
            ax.bar([i + (j - (len(modes) - 1) / 2) * width for i in range(len(tasks))], values, width, label=label)
        ax.set_xticks(range(len(tasks)), tasks, rotation=30, ha="right")
        ax.set_title(target, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.set_ylabel("accuracy (CIDEr for open answers)")
        ax.legend(fontsize=7)
    return _save(fig, path)


def iteration_lines(report: dict[str, Any], path: Path) -> Path | None:
    """Mean evaluator score and the accuracy of the iteration's own final answer, per iteration."""
    from matplotlib.figure import Figure

    rows = report["open_questions"]["by_iteration"]
    if not rows:
        return None
    xs = [int(k) for k in rows]
    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(xs, [rows[str(x)]["mean_score"] for x in xs], marker="o", color="tab:blue", label="mean score")
    ax.axhline(report["threshold"], color="tab:blue", linestyle=":", linewidth=1, label="τ")
    ax.set_xlabel("iteration")
    ax.set_ylabel("evaluator score (1-10)")
    ax.set_ylim(0, 10.5)
    ax.set_xticks(xs)
    right = ax.twinx()
    right.plot(xs, [rows[str(x)]["own_answer_accuracy"] for x in xs], marker="s", color="tab:orange", label="own answer accuracy")
    right.set_ylabel("accuracy of the iteration's final answer")
    right.set_ylim(0, 1)
    fig.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.1, 0.95))
    return _save(fig, path)


def ablation_lines(report: dict[str, Any], path: Path) -> Path | None:
    """The main metric per task against T' and against τ' (each target, each inject mode)."""
    from matplotlib.figure import Figure

    ablation = report.get("ablation")
    if not ablation:
        return None
    fig = Figure(figsize=(10, 3.8))
    axes = {"T": fig.add_subplot(1, 2, 1), "tau": fig.add_subplot(1, 2, 2)}
    for target, modes in ablation["tables"].items():
        for mode, tables in modes.items():
            for axis, rows in tables.items():
                key = "T" if axis == "T" else "tau"
                for name, metric in report["table1"]["metrics"].items():
                    ys = [r["tasks"].get(name, {}).get(metric) for r in rows]
                    if any(y is not None for y in ys):
                        axes[axis].plot([r[key] for r in rows], ys, marker="o", label=f"{target} · {mode} · {name}")
    axes["T"].set_xlabel(f"T' (τ = {ablation['threshold']})")
    axes["tau"].set_xlabel(f"τ' (T = {ablation['max_iterations']})")
    for ax in axes.values():
        ax.set_ylabel("accuracy (CIDEr for open answers)")
    axes["tau"].legend(fontsize=6)
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
