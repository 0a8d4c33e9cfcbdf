"""Tiny lmms-eval models for the plugin's tests: they answer ``reply`` to every request and write
what they were given (the prompt or the chat messages, the media, the batch size) to ``record``.

``echo`` takes simple requests (``is_simple``), ``echo_chat`` chat ones. The tests register them
through lmms-eval's ``lmms_eval.models`` entry-point group, from a ``.dist-info`` folder they put
on the subprocess's path (:func:`echo_distribution`), as an installed plugin would be.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lmms_eval.api.model import lmms
from lmms_eval.models.registry_v2 import ModelManifest


def manifests() -> list[ModelManifest]:
    return [
        ModelManifest(model_id="echo", simple_class_path="lmms_echo.Echo"),
        ModelManifest(model_id="echo_chat", chat_class_path="lmms_echo.EchoChat"),
    ]


def echo_distribution(root: Path) -> Path:
    """A distribution folder under ``root`` whose entry point registers the echo models."""
    info = root / "aurelia_test_echo-0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: aurelia-test-echo\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[lmms_eval.models]\necho = lmms_echo:manifests\n")
    return root


class Echo(lmms):
    is_simple = True

    def __init__(self, reply: str = "yes", record: str = "", **kwargs: Any) -> None:
        super().__init__()
        self.reply, self.record, self.kwargs = str(reply), record, {k: v for k, v in kwargs.items() if v is not None}

    def _write(self, entry: dict[str, Any]) -> None:
        with open(self.record, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, default=str) + "\n")

    def generate_until(self, requests: list[Any]) -> list[str]:
        for r in requests:
            context, _gen, doc_to_visual, doc_id, task, split = r.args
            visuals = doc_to_visual(self.task_dict[task][split][doc_id])
            self._write({"kind": "simple", "batch": len(requests), "prompt": context, "visuals": visuals, "kwargs": self.kwargs})
        return [self.reply] * len(requests)

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        raise NotImplementedError

    def generate_until_multi_round(self, requests: list[Any]) -> list[str]:
        raise NotImplementedError


class EchoChat(Echo):
    is_simple = False

    def generate_until(self, requests: list[Any]) -> list[str]:
        for r in requests:
            _context, doc_to_messages, _gen, doc_id, task, split = r.args
            messages = doc_to_messages(self.task_dict[task][split][doc_id])
            self._write({"kind": "chat", "batch": len(requests), "messages": messages, "kwargs": self.kwargs})
        return [self.reply] * len(requests)
