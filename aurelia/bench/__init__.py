"""AVReasonBench: manifests, importers, tasks, metrics, a sample benchmark; the runner with its
reasoning cache and results store, the T/τ ablations, the report and the reasoning export.

The Python API behind ``aurelia bench``.
"""

from aurelia.bench.ablation import prefix
from aurelia.bench.cache import ReasoningCache, default_cache_path
from aurelia.bench.experiments import record_in_langsmith
from aurelia.bench.export import export_reasoning, rebuild_results
from aurelia.bench.importers import FORMATS, ImportReport, import_dataset, import_to_manifest, parse_mapping
from aurelia.bench.judge import judge_answers, parse_verdict
from aurelia.bench.manifest import Manifest, ManifestError, Sample, load_manifest, validate_manifest
from aurelia.bench.metrics import COCO_METRICS, coco_scores, normalize_answer, read_output
from aurelia.bench.records import Problem
from aurelia.bench.render import write_report
from aurelia.bench.report import build_report, judge_run
from aurelia.bench.runner import BenchConfig, RunResult, run_benchmark
from aurelia.bench.sample import write_sample_benchmark
from aurelia.bench.score import read_predictions, score, score_files
from aurelia.bench.tasks import Task, builtin_tasks, load_task_file, load_tasks, target_instruction

__all__ = [
    "COCO_METRICS",
    "FORMATS",
    "BenchConfig",
    "ImportReport",
    "Manifest",
    "ManifestError",
    "Problem",
    "ReasoningCache",
    "RunResult",
    "Sample",
    "Task",
    "build_report",
    "builtin_tasks",
    "coco_scores",
    "default_cache_path",
    "export_reasoning",
    "import_dataset",
    "import_to_manifest",
    "judge_answers",
    "judge_run",
    "load_manifest",
    "load_task_file",
    "load_tasks",
    "normalize_answer",
    "parse_mapping",
    "parse_verdict",
    "prefix",
    "read_output",
    "read_predictions",
    "rebuild_results",
    "record_in_langsmith",
    "run_benchmark",
    "score",
    "score_files",
    "target_instruction",
    "validate_manifest",
    "write_report",
    "write_sample_benchmark",
]
