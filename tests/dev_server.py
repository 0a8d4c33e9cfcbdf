"""The one way tests write a ``langgraph.json`` for ``langgraph dev``: the project's own file with
every path made absolute (graphs, auth, the package), plus the tests' scripted graphs."""

from __future__ import annotations

import json
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTED = {
    "aurelia_scripted": str(ROOT / "tests" / "studio_graphs.py") + ":graph",
    "aurelia_bench_reasoning": str(ROOT / "tests" / "studio_graphs.py") + ":reasoning_graph",
}


def dev_config(folder: Path, graphs: tuple[str, ...] = ("aurelia", "aurelia_reasoning")) -> Path:
    """``folder/langgraph.json``: the project's graphs named in ``graphs``, its auth, and the
    scripted test graphs; returns its path."""
    config = json.loads((ROOT / "langgraph.json").read_text())
    config["graphs"] = {k: str(ROOT / v.removeprefix("./")) for k, v in config["graphs"].items() if k in graphs} | SCRIPTED
    config["auth"]["path"] = str(ROOT / config["auth"]["path"].removeprefix("./"))
    config["dependencies"] = [str(ROOT)]
    path = folder / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
