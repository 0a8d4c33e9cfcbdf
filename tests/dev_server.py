"""The one way tests serve the graphs with ``langgraph dev``: a ``langgraph.json`` that is the
project's own with every path made absolute (graphs, auth, the package) plus the tests' scripted
graphs, and a server started on it that stops with its test."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_sync_client

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


OFFLINE_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",  # no CLI analytics
    "LANGGRAPH_NO_VERSION_CHECK": "1",  # no PyPI version check
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
}


@contextmanager
def dev_server(folder: Path, env: Mapping[str, str | None], *, api_key: str | None = None, args: Sequence[str] = ()) -> Iterator[Any]:
    """``langgraph dev`` on ``folder/langgraph.json`` (see :func:`dev_config`) at a free loopback
    port, with this environment offline plus ``env`` (a None value removes the variable); yields
    (an SDK client, the server's log path) once it answers, and stops the server at the end."""
    cli = shutil.which("langgraph", path=str(Path(sys.executable).parent)) or shutil.which("langgraph")
    if cli is None:
        pytest.fail("langgraph-cli[inmem] is not installed (it is in the dev extra)")
    full = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for name, value in env.items():
        if value is None:
            full.pop(name, None)
        else:
            full[name] = value
    port = free_port()
    cmd = [
        cli,
        "dev",
        "--no-browser",
        "--no-reload",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        str(folder / "langgraph.json"),
    ]
    log_path = folder / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([*cmd, *args], cwd=folder, env=full, stdout=log, stderr=subprocess.STDOUT)
        try:
            client = get_sync_client(url=f"http://127.0.0.1:{port}", api_key=api_key)
            end = time.monotonic() + 90
            while True:
                try:
                    client.assistants.search()
                    break
                except Exception:
                    if proc.poll() is not None or time.monotonic() > end:
                        pytest.fail("langgraph dev did not start:\n" + log_path.read_text()[-3000:])
                    time.sleep(0.5)
            yield client, log_path
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
