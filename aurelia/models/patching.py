"""A patch of a library's internals, applied at most once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable


class PatchOnce:
    """``patch`` run by whichever thread asks first, never twice (a second wrap would wrap the
    wrapper); its outcome (False: this library version is laid out otherwise, nothing patched)
    is every later answer."""

    def __init__(self, patch: Callable[[], bool]) -> None:
        self._patch = patch
        self._lock = threading.Lock()
        self._outcome: bool | None = None  # None: not tried yet

    def __call__(self) -> bool:
        with self._lock:
            if self._outcome is None:
                self._outcome = self._patch()
            return self._outcome
