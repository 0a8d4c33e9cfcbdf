"""Disk faults for the thread store, inside a private mount namespace (``unshare -m``, run by
tests/test_fault_store.py): a read-only file system and a full one, made with tmpfs mounts that
vanish with this process. Prints one JSON object: what each command did.

Usage: unshare -m -- python store_faults_worker.py ROOT CLIP
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from aurelia.cli import app
from aurelia.testing.crash import ScriptedAgents, checkpoint_iterations, integrity, stranded

QUESTION = ["-q", "What colour is the screen while the audio is silent?", "-c", "red", "-c", "blue", "-c", "green"]
SETTINGS = ["--max-iterations", "3", "--threshold", "9", "--json", "--quiet"]
FREE = 96 * 1024  # room left on the "full" file system: a run's store outgrows it (about 170 kB)


def mount(*args: object) -> None:
    subprocess.run(["mount", *map(str, args)], check=True, capture_output=True, text=True)


def cli(*args: object) -> dict[str, Any]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    escaped = result.exception if result.exception is not None and not isinstance(result.exception, SystemExit) else None
    return {"code": result.exit_code, "stdout": result.stdout, "stderr": result.stderr, "escaped": repr(escaped) if escaped else None}


def stored(db: Path, thread: str) -> dict[str, Any]:
    """What the store holds: its integrity, the iterations last checkpointed, whether a task's writes wait without a checkpoint."""
    checkpointed = [len(its) for its in checkpoint_iterations(db, thread)][-1:]
    return {"integrity": integrity(db), "checkpointed": checkpointed, "stranded": stranded(db, thread)}


def main() -> None:
    root, clip = Path(sys.argv[1]), sys.argv[2]
    try:
        mount("-t", "tmpfs", "-o", "size=8m", "tmpfs", root)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(json.dumps({"skip": f"cannot mount a tmpfs here ({getattr(exc, 'stderr', '') or exc})"}))
        return
    report: dict[str, Any] = {}
    with ScriptedAgents() as agents:
        run = ["run", clip, *QUESTION, *agents.role_options(), *SETTINGS]
        report["calm"] = cli(*run, "--thread", "calm", "--db", root / "calm.sqlite")

        # a read-only file system under a store that holds a finished thread
        ro = root / "ro"
        ro.mkdir()
        db = ro / "threads.sqlite"
        report["ro_first"] = cli(*run, "--thread", "t1", "--db", db)
        mount("--bind", ro, ro)
        mount("-o", "remount,bind,ro", ro)
        report["ro_resume"] = cli("resume", "t1", "--db", db, "--json", "--quiet")
        report["ro_new_thread"] = cli(*run, "--thread", "t2", "--db", db)
        report["ro_new_db"] = cli(*run, "--thread", "t3", "--db", ro / "sub" / "threads.sqlite")
        subprocess.run(["umount", str(ro)], check=True)
        report["ro_after"] = cli("resume", "t1", "--db", db, "--json", "--quiet") | stored(db, "t1")

        # a full file system: the store fills it mid-run; room is made; the run resumes
        full = root / "full"
        full.mkdir()
        mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", full)
        filler = full / "filler"
        filler.write_bytes(b"\0" * (1024 * 1024 - FREE))
        fdb = full / "threads.sqlite"
        report["full_run"] = cli(*run, "--thread", "f1", "--db", fdb) | stored(fdb, "f1")
        report["full_media"] = cli("media", "digest", clip, "--out", full / "frames")
        filler.unlink()
        report["full_resume"] = cli("resume", "f1", "--db", fdb, "--json", "--quiet") | stored(fdb, "f1")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
