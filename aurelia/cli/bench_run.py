"""``aurelia bench run|report|export``: run targets zero-shot and with r*, report, export reasoning.

Registered on ``bench_app`` by :mod:`aurelia.cli.bench`; every command goes through the one
error path. The work is ``aurelia.bench``'s Python API (``run_benchmark``, ``write_report``,
``export_reasoning``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from aurelia.bench.export import EXPORT_FORMATS, export_reasoning, rebuild_results
from aurelia.bench.progress import choose_progress, summary_line
from aurelia.bench.render import write_report
from aurelia.bench.report import judge_lines, judge_run
from aurelia.bench.runner import BenchConfig, RunResult, run_benchmark
from aurelia.cli.errors import one_line_errors
from aurelia.cli.options import BENCH_SETTINGS, with_settings
from aurelia.cli.progress import QuietOpt
from aurelia.errors import InputError
from aurelia.prompts.format import CONTROL_MODES, INJECT_MODES


@contextmanager
def stop_on_ctrl_c(out: Path) -> Iterator[None]:
    """Ctrl-C: one line and exit 130 at once (a model call on a worker thread could take minutes
    to unwind); nothing is lost, as every finished record is already committed to the store."""
    line = f"interrupted: {out} keeps every finished record; rerun the same command to resume"

    def handler(signum: int, frame: Any) -> None:
        os.write(2, f"\r\x1b[2K\x1b[?25h{line}\n".encode() if sys.stderr.isatty() else f"{line}\n".encode())
        os._exit(130)

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, handler) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


JudgeOpt = Annotated[
    str | None, typer.Option(help="An LLM judge for open answers (a model string): RUN/judge.json, reported apart from the metrics.")
]


InjectOpt = Annotated[
    str,
    typer.Option(
        help=f"Inject modes besides zero-shot, comma-separated: {', '.join(INJECT_MODES[:-1])}; "
        f"controls: {', '.join(CONTROL_MODES)} (chain of thought, self-consistency, another sample's r*)."
    ),
]
SampleOpt = Annotated[
    int | None, typer.Option(help="A seeded random N samples (after --tasks; seed: --seed), tasks and categories in their shares.")
]


def _csv(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@with_settings(BENCH_SETTINGS)
def run_cmd(
    manifest: Annotated[Path, typer.Argument(help="Manifest (JSONL, one sample a line).")],
    target: Annotated[list[str], typer.Option("--target", "-t", help="A target model string (repeat for each).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run folder: store.sqlite, results.jsonl, run.json (rerun to resume).")],
    tasks: Annotated[str | None, typer.Option(help="Only these tasks, comma-separated.")] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N samples (after --tasks).")] = None,
    sample: SampleOpt = None,
    concurrency: Annotated[int, typer.Option(help="Samples worked on at once.")] = 4,
    inject: InjectOpt = "steps",
    sc_samples: Annotated[int, typer.Option(help="Self-consistency (--inject sc): sampled answers per vote.")] = 5,
    sc_temperature: Annotated[float, typer.Option(help="Self-consistency: their sampling temperature (seeds: --seed on).")] = 0.7,
    cot_max_tokens: Annotated[int, typer.Option(help="Chain of thought (--inject cot): most tokens of its reply.")] = 512,
    repeats: Annotated[
        int, typer.Option(help="Answers per record at --target-temperature (above 0), seeds --seed on: the report gives mean ± sd.")
    ] = 1,
    ablate: Annotated[
        bool, typer.Option("--ablate", help="Answer every distinct r* of T' = 1…T and τ' = 4…10 (target calls only).")
    ] = False,
    cache: Annotated[Path | None, typer.Option(help="Reasoning cache file (default: the user's cache folder).")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Also redo the records that failed before.")] = False,
    media_root: Annotated[Path | None, typer.Option(help="Folder that media paths are relative to (default: the manifest's).")] = None,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Run the valid manifest lines, leave the bad ones out.")] = False,
    reasoning: Annotated[str, typer.Option(help="generate r* (default) or use the manifest's imported reasoning.")] = "generate",
    server: Annotated[str | None, typer.Option(help="Send the reasoning runs to this LangGraph server URL.")] = None,
    server_graph: Annotated[str, typer.Option(help="The server's reasoning graph (assistant or graph id).")] = "aurelia_reasoning",
    server_send_keys: Annotated[
        bool,
        typer.Option(
            "--server-send-keys",
            help="Send the --server host the LangGraph/LangSmith API key of the environment and model URLs with credentials "
            "(by default it gets neither).",
        ),
    ] = False,
    langsmith: Annotated[
        bool, typer.Option("--langsmith", help="Record the run in LangSmith: a dataset and one experiment per target.")
    ] = False,
    batch_size: Annotated[int, typer.Option(help="Most samples per target batch.")] = 8,
    quiet: QuietOpt = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="Progress as JSON lines on stdout (one per sample), for logs.")] = False,
    judge: JudgeOpt = None,
    *,
    settings: dict[str, Any],
) -> None:
    """Answer every sample zero-shot and with r* for each target; rerun the same command to resume."""
    with one_line_errors():
        if quiet and jsonl:
            raise InputError("give --quiet or --jsonl, not both")
        config = BenchConfig(
            inject=inject, tasks=_csv(tasks), limit=limit, concurrency=concurrency, ablate=ablate, cache=cache, retry_failed=retry_failed,
            media_root=media_root, skip_invalid=skip_invalid, reasoning=reasoning, server=server, server_graph=server_graph,
            server_send_keys=server_send_keys, langsmith=langsmith, batch_size=batch_size, sample=sample, sc_samples=sc_samples,
            sc_temperature=sc_temperature, cot_max_tokens=cot_max_tokens, repeats=repeats,
        )  # fmt: skip
        reporter = choose_progress(quiet=quiet, jsonl=jsonl)
        with reporter, stop_on_ctrl_c(out):
            result = run_benchmark(manifest, target, out, context=settings, config=config, progress=reporter)
    _print_outcome(result, judge, jsonl)


def _print_outcome(result: RunResult, judge: str | None, jsonl: bool) -> None:
    """The summary (not with --jsonl: stdout stays JSON lines), the judge's scores, LangSmith's record."""
    if not jsonl:
        typer.echo(summary_line(result.counts.to_dict()))
        typer.echo(f"{result.out}: {result.results} records in results.jsonl; `aurelia bench report {result.out}` writes the report")
    if judge:
        with one_line_errors():
            judged = judge_run(result.out, judge)
        if jsonl:
            typer.echo(
                json.dumps({"event": "judge", "model": judged["model"], "scores": judged["scores"], "failures": len(judged["failures"])})
            )
        for line in [] if jsonl else judge_lines(judged):
            typer.echo(line)
    if result.langsmith:
        ls = result.langsmith
        typer.echo(
            f"LangSmith: dataset {ls['dataset']!r} ({ls['examples']} examples), {len(ls['experiments'])} experiments, {ls['runs']} runs"
        )


def report_cmd(run: Annotated[Path, typer.Argument(help="A run folder written by `aurelia bench run`.")], judge: JudgeOpt = None) -> None:
    """Write RUN/report.md, RUN/report.json and the plots: the paper's tables and its open questions."""
    with one_line_errors():
        judged = judge_run(run, judge) if judge else None
        written = write_report(run)
    for line in judge_lines(judged) if judged else []:
        typer.echo(line)
    typer.echo(f"{written['markdown']}\n{written['json']}")
    for path in written["plots"]:
        typer.echo(str(path))
    for note in written["notes"]:
        typer.echo(note)


def export_cmd(
    run: Annotated[Path, typer.Argument(help="A run folder written by `aurelia bench run`.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="JSONL file to write.")] = None,
    fmt: Annotated[
        str, typer.Option("--format", help=f"{' or '.join(EXPORT_FORMATS)}: a fine-tuning set, or the authors' records.")
    ] = "sft",
    correct_only: Annotated[
        bool, typer.Option("--correct-only", help="Only samples whose r* reaches the right answer itself (closed tasks).")
    ] = False,
    rebuild_jsonl: Annotated[
        bool, typer.Option("--rebuild-jsonl", help="Rewrite RUN/results.jsonl from RUN/store.sqlite (the source of truth) instead.")
    ] = False,
) -> None:
    """Write the run's reasoning r* per sample: a fine-tuning set (sft) or the authors' record format."""
    with one_line_errors():
        if rebuild_jsonl:
            path, n = rebuild_results(run)
            typer.echo(f"{path}: {n} records rebuilt from store.sqlite")
            return
        if output is None:
            raise InputError("give --output FILE (or --rebuild-jsonl)")
        report = export_reasoning(run, output, fmt, correct_only=correct_only)
    typer.echo(f"{output}: {report.summary()}")
