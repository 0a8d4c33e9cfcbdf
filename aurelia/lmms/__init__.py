"""An lmms-eval model plugin: ``lmms-eval --model aurelia --model_args target=<lmms-eval model>,...``
runs any lmms-eval task with Aurelia's r* injected into the inner model's prompt (docs/lmms-eval.md).

lmms-eval 0.7 finds plugin models through the ``lmms_eval.models`` entry-point group; ours names
:func:`manifests`, which lmms-eval calls for the ``ModelManifest`` list. Importing this package
imports nothing of lmms-eval (it is an optional extra: ``aurelia-av[lmms]``).
"""

from __future__ import annotations

from typing import Any

from aurelia.lmms.compat import alias_filelock_api

MODEL_ID = "aurelia"


def manifests() -> list[Any]:
    """The entry point's payload: one chat-capable model, ``aurelia`` (its requests follow the
    inner model's: simple or chat, per instance)."""
    from lmms_eval.models.registry_v2 import ModelManifest

    alias_filelock_api()  # before lmms-eval's evaluator reaches for filelock._api
    return [ModelManifest(model_id=MODEL_ID, chat_class_path="aurelia.lmms.plugin.Aurelia")]


__all__ = ["MODEL_ID", "manifests"]
