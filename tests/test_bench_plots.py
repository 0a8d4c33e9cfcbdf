"""The per-iteration plot says when a later iteration is a selected subset (early stop), and
shows how many samples reached each iteration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aurelia.bench import plots

pytest.importorskip("matplotlib")


def _report(early_stop: bool, reached: list[int]) -> dict[str, Any]:
    rows = {str(i + 1): {"reached": n, "scored": n, "mean_score": 5.0 + i, "own_answer_accuracy": 0.5} for i, n in enumerate(reached)}
    return {"threshold": 6, "early_stop": early_stop, "open_questions": {"by_iteration": rows}}


@pytest.mark.parametrize(
    ("early_stop", "reached", "noted"),
    [(True, [40, 18, 7], True), (True, [40, 40, 40], False), (False, [40, 40, 40], False)],
)
def test_iterations_plot_names_the_selected_subset(tmp_path: Path, monkeypatch, early_stop: bool, reached: list[int], noted: bool):
    drawn: dict[str, Any] = {}
    save = plots._save
    monkeypatch.setattr(plots, "_save", lambda fig, path: drawn.setdefault("fig", fig) and save(fig, path))
    path = plots.iteration_lines(_report(early_stop, reached), tmp_path / "iterations.png")
    assert path is not None and path.stat().st_size > 0
    ax = drawn["fig"].axes[0]
    assert ("selected subset" in ax.get_title()) is noted
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"{i + 1}\nn = {n}" for i, n in enumerate(reached)]
