"""The figure and the lines of docs/bench.md's "Is the gain real?": a seeded, hand-written run
(no model, no media) read by ``aurelia bench report``.

120 Music-AVQA questions over its Audio / Visual / Audio-Visual blocks; one scripted target
whose answers are right with probability 0.45 zero-shot and 0.55 with r* (independently per
sample, seeded), so the gain is real but small and the interval says how sure one can be.

    python benchmarks/report_statistics.py OUT_DIR

writes OUT_DIR/run/ (store, run.json, report.json, report.md, plots) and prints the report's
comparison line and the paths of the plots.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from aurelia.bench.manifest import Sample
from aurelia.bench.render import comparison_text, write_report
from aurelia.bench.store import ResultStore, write_run_json

TYPES = [("Audio", "Counting"), ("Audio", "Comparative"), ("Visual", "Counting"), ("Visual", "Location"),
         ("Audio-Visual", "Existential"), ("Audio-Visual", "Counting"), ("Audio-Visual", "Temporal")]  # fmt: skip
GOLD = {"Counting": "two", "Comparative": "yes", "Location": "left", "Existential": "yes", "Temporal": "simultaneously"}
WRONG = {"Counting": "three", "Comparative": "no", "Location": "right", "Existential": "no", "Temporal": "left"}


def write_run(folder: Path, n: int = 120, seed: int = 7) -> Path:
    rng = random.Random(seed)
    store = ResultStore(folder)
    for i in range(n):
        block, kind = TYPES[i % len(TYPES)]
        sample = Sample(id=f"q{i:03d}", task="music_avqa", video="clip.mp4", question="?", category=[block, kind], answer=GOLD[kind])
        store.add_sample(sample, i)
        for inject, p in (("none", 0.45), ("steps", 0.55)):
            output = GOLD[kind] if rng.random() < p else WRONG[kind]
            store.put_result({"id": sample.id, "task": "music_avqa", "category": sample.category, "target": "scripted",
                              "inject": inject, "output": output, "error": None, "seconds": 0.1})  # fmt: skip
    store.close()
    write_run_json(folder, {"targets": ["scripted"], "context": {"threshold": 6, "max_iterations": 3}}, {}, "finished")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    written = write_report(write_run(args.out / "run"))
    cmp = written["report"]["statistics"]["comparisons"]["scripted"]["steps"]["music_avqa"]
    print(f"music_avqa, steps against zero-shot: {comparison_text(cmp)}")
    for path in written["plots"]:
        print(path)


if __name__ == "__main__":
    main()
