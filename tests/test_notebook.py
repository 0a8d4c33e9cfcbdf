"""notebooks/quickstart.ipynb executes top to bottom (nbclient, a real kernel, the embedded
model): digest and keyframes shown, the graph drawn, the score per iteration plotted, r* and
the answer printed. The committed copy carries the outputs of such a run and stays small."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"


def _outputs(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _text(outputs: list[dict]) -> str:
    return "\n".join(o.get("text", "") or o.get("data", {}).get("text/markdown", "") for o in outputs)


def test_committed_notebook_has_real_outputs_and_is_small():
    assert NOTEBOOK.stat().st_size < 100_000
    nb = nbformat.read(NOTEBOOK, as_version=4)
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2
    text = _text(outputs)
    # the last beep of the blue part ends at 5.65 s
    assert "Silence: 5.7s-9.0s." in text and "```mermaid" in text and "answer:" in text


@pytest.mark.llm
def test_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = _outputs(nb)
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2  # keyframes, scores
    text = _text(outputs)
    assert "Keyframes (time: dominant colour" in text and "generator" in text and "evaluator" in text
    assert "{'iteration': 1, 'score':" in text  # a second iteration only if the first scored below 10
    assert "r* = iteration" in text and "answer: (" in text
