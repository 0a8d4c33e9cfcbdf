"""lmms-eval 0.7.3 with filelock 4: the names lmms-eval reads from ``filelock._api`` moved.

``lmms_eval.evaluator._enable_reentrant_filelocks`` imports ``filelock._api`` for
``FileLockMeta``, ``BaseFileLock`` and ``_UNSET_FILE_MODE``; filelock 4 split that module into
``filelock._core`` (we need filelock ≥ 4.3 for the run locks). Without an alias every
``lmms-eval`` run stops with ``ModuleNotFoundError: No module named 'filelock._api'`` before the
first task loads. The alias is added only where ``filelock._api`` is missing, so a filelock 3
install is left as it is.
"""

from __future__ import annotations

import importlib
import sys
import types


def alias_filelock_api() -> bool:
    """Make ``import filelock._api`` work on filelock 4 (True when the alias was added now)."""
    if "filelock._api" in sys.modules:
        return False
    try:
        importlib.import_module("filelock._api")
        return False
    except ModuleNotFoundError:
        pass
    import filelock
    from filelock import _core
    from filelock._core._singleton import FileLockMeta

    api = types.ModuleType("filelock._api", "Alias of filelock 4's moved names for lmms-eval 0.7 (aurelia.lmms.compat).")
    api.FileLockMeta = FileLockMeta  # type: ignore[attr-defined]
    api.BaseFileLock = _core.BaseFileLock  # type: ignore[attr-defined]
    api._UNSET_FILE_MODE = _core.UNSET_FILE_MODE  # type: ignore[attr-defined]
    sys.modules["filelock._api"] = api
    filelock._api = api  # type: ignore[attr-defined]
    return True
