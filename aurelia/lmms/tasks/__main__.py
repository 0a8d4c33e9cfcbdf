"""``python -m aurelia.lmms.tasks MANIFEST OUT [--media-root DIR]``: write lmms-eval task folders."""

from __future__ import annotations

import argparse
import sys

from aurelia.errors import AureliaError
from aurelia.lmms.tasks import write_task_folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aurelia.lmms.tasks", description=__doc__)
    parser.add_argument("manifest", help="an Aurelia manifest (JSONL) with music_avqa and/or avsd samples")
    parser.add_argument("out", help="the folder to write (give it to lmms-eval's --include_path)")
    parser.add_argument("--media-root", help="resolve the manifest's media paths against this folder (default: the manifest's)")
    args = parser.parse_args(argv)
    try:
        written = write_task_folder(args.manifest, args.out, media_root=args.media_root)
    except AureliaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    for name, n in written.items():
        print(f"{name}: {n} samples")
    print(f"lmms-eval --include_path {args.out} --tasks {','.join(written)} ...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
