"""A pytest plugin that fails a test which leaves a thread running or a TCP socket listening.

Why: a test server's handler thread once outlived its test, waited on a gate no one set, then
wrote to a killed client, and the BrokenPipeError landed in a later test's captured stderr: the
suite failed one run in N (issue 19). So each test's threads and this process's listening TCP
sockets are taken before its setup and after its teardown; whatever is new gets ``GRACE_S`` to
go away, and what is still there fails the test's teardown with the test, thread and socket named.

Something a broader-scoped fixture (module, class) started may live until that scope ends: when
the test uses such a fixture and the next test shares its module, what it left is checked when
the module's last test is torn down, and named with the test it appeared in.

Loaded by tests/conftest.py; ``pytest -p leak_check`` loads it elsewhere (its own tests do).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

GRACE_S = float(os.environ.get("AURELIA_LEAK_GRACE_S", "10"))  # what a test started may take this long to end after its teardown
WIDER = {"class", "module", "package"}  # fixture scopes that outlive one test (session ones are never excused)


class LeakError(AssertionError):
    """A test left a thread running or a socket listening."""


def _allowed(thread: threading.Thread) -> bool:
    """Long-lived library threads that are no test's doing."""
    if isinstance(thread, threading._DummyThread):  # started outside Python (a C library): cannot be joined or seen ending
        return True
    # tqdm's monitor: one per progress-bar class (transformers and huggingface_hub have their own),
    # started by a first bar and kept while any bar of the class is alive, for the bars to reuse
    monitor = getattr(sys.modules.get("tqdm._monitor"), "TMonitor", None)
    return monitor is not None and isinstance(thread, monitor)


def threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.is_alive() and t is not threading.main_thread() and not _allowed(t)}


def _address(hex_address: str) -> str:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))  # /proc prints each 32-bit word in host order
    ip = ".".join(map(str, words)) if len(words) == 4 else ":".join(words[i : i + 2].hex() for i in range(0, 16, 2))
    return f"{ip}:{int(port, 16)}"


def listening() -> dict[int, str]:
    """This process's listening TCP sockets: inode -> "address:port" (Linux /proc; elsewhere none)."""
    inodes = set()
    try:
        fds = os.listdir("/proc/self/fd")
    except OSError:
        return {}
    for fd in fds:
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed since the listing
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[8:-1]))
    found: dict[int, str] = {}
    if not inodes:
        return found
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[9]) in inodes:  # 0A: LISTEN
                found[int(fields[9])] = _address(fields[1])
    return found


def _describe_thread(thread: threading.Thread) -> str:
    return f"thread {thread.name!r} ({'daemon' if thread.daemon else 'non-daemon'})"


def _wider_fixtures(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:  # not a function test: assume the worst (its leftovers wait for the module's end)
        return True
    return any(defs and defs[-1].scope in WIDER for defs in info.name2fixturedefs.values())


def _module(item: pytest.Item | None) -> Any:
    return None if item is None else item.getparent(pytest.Module)


class LeakCheck:
    def __init__(self) -> None:
        self.threads_before: set[threading.Thread] = set()
        self.sockets_before: dict[int, str] = {}
        self.pending: dict[object, tuple[str, str]] = {}  # key -> (description, nodeid it appeared in)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> Any:
        self.threads_before, self.sockets_before = threads(), listening()
        return (yield)

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> Any:
        try:
            return (yield)
        finally:
            self._check(item, nextitem)

    def _check(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        new = {t: (_describe_thread(t), item.nodeid) for t in threads() - self.threads_before}
        new |= {("socket", k): (f"listening socket {v}", item.nodeid) for k, v in listening().items() if k not in self.sockets_before}
        same_module = nextitem is not None and _module(nextitem) is _module(item)
        if same_module and _wider_fixtures(item):
            self.pending |= new  # may be a module- or class-scoped fixture's: checked when the module ends
            return
        if not same_module:  # the module ends here: what its wider fixtures held must be gone too
            new |= self.pending
            self.pending = {}
        deadline = time.monotonic() + GRACE_S
        for key in new:
            if isinstance(key, threading.Thread):
                key.join(max(0.0, deadline - time.monotonic()))
        while True:
            sockets = listening()
            leaks = [
                f"{what} (appeared in {where})"
                for key, (what, where) in new.items()
                if (key.is_alive() if isinstance(key, threading.Thread) else key[1] in sockets)  # type: ignore[index]
            ]
            if not any(isinstance(key, tuple) for key in new) or not leaks or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if leaks:
            raise LeakError(f"{item.nodeid} left behind, {GRACE_S:.0f} s after its teardown:\n  " + "\n  ".join(sorted(leaks)))


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin("leak-check"):
        config.pluginmanager.register(LeakCheck(), "leak-check")
