"""Music-AVQA and AVSD as lmms-eval task folders, read from an Aurelia manifest (no hub).

:func:`write_task_folder` (``python -m aurelia.lmms.tasks MANIFEST OUT``) validates the manifest
and writes, per task it holds, the template (``_music_avqa.yaml``/``_avsd.yaml``), a task YAML
(``aurelia_music_avqa``/``aurelia_avsd``) and the samples as local JSONL; give the folder to
``lmms-eval --include_path OUT --tasks aurelia_music_avqa``. Media paths in the JSONL are absolute
(resolved as the manifest resolves them), so the folder may be moved, the media not.
"""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

from aurelia.bench.manifest import Sample, load_manifest
from aurelia.errors import InputError

# our task -> its template here; the lmms-eval task is named aurelia_<task>
TEMPLATES = {"music_avqa": "_music_avqa.yaml", "avsd": "_avsd.yaml"}
SAMPLE_FIELD = "aurelia_sample"  # a doc's field holding its manifest sample as JSON (the plugin reads it too)


def lmms_task_name(task: str) -> str:
    return f"aurelia_{task}"


def doc_line(sample: Sample) -> str:
    """One JSONL line of the task's dataset: plain columns for reading, the sample whole as JSON
    (its nested fields differ between lines, which a dataset's columns would not hold)."""
    doc = {"id": sample.id, "question": sample.question, "answer": sample.answer, SAMPLE_FIELD: sample.model_dump_json(exclude_none=True)}
    return json.dumps(doc, ensure_ascii=False)


def _task_yaml(task: str, data: str) -> str:
    return (
        f"# written by `python -m aurelia.lmms.tasks` from an Aurelia manifest\n"
        f"include: {TEMPLATES[task]}\n"
        f"task: {lmms_task_name(task)}\n"
        f"dataset_kwargs:\n  data_files:\n    test: {data}\n"
    )


def write_task_folder(manifest: str | Path, out_dir: str | Path, *, media_root: str | Path | None = None) -> dict[str, int]:
    """Write the task folder for the manifest's Music-AVQA and AVSD samples; returns the lmms-eval
    task names written and their sample counts. A bad manifest line is a ManifestError naming
    it; a manifest with neither task is an InputError."""
    loaded = load_manifest(manifest, media_root)
    counts = {t: n for t, n in loaded.task_counts.items() if t in TEMPLATES and n}
    if not counts:
        raise InputError(
            f"no {' or '.join(TEMPLATES)} samples in the manifest (tasks: {', '.join(sorted(loaded.task_counts))})", path=str(manifest)
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    templates = resources.files("aurelia.lmms.tasks")
    for task in counts:
        with resources.as_file(templates / TEMPLATES[task]) as template:
            shutil.copyfile(template, out / TEMPLATES[task])
        data = f"{task}.jsonl"
        with (out / data).open("w", encoding="utf-8") as f:
            for sample in loaded.iter_samples([task]):
                f.write(doc_line(sample) + "\n")
        (out / f"{task}.yaml").write_text(_task_yaml(task, data), encoding="utf-8")
    return {lmms_task_name(t): n for t, n in counts.items()}


__all__ = ["TEMPLATES", "write_task_folder"]
