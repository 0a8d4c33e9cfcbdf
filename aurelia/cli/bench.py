"""``aurelia bench validate|import|score|sample`` (and ``run|report|export``, from ``bench_run``):
the AVReasonBench commands.

Written here, in the CLI layer, so that every command reports bad input through the one error
path (``aurelia.cli.errors``); the work itself is ``aurelia.bench``'s Python API.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from aurelia.bench import (
    COCO_METRICS,
    FORMATS,
    import_to_manifest,
    parse_mapping,
    score_files,
    validate_manifest,
    write_sample_benchmark,
)
from aurelia.bench.metrics import ACCURACY
from aurelia.cli.bench_run import export_cmd, report_cmd, run_cmd
from aurelia.cli.errors import one_line_errors
from aurelia.cli.help import App
from aurelia.errors import InputError

bench_app = App(add_completion=False, no_args_is_help=True, help="AVReasonBench: manifests, importers, scoring, a sample benchmark.")
console = Console()

MediaRootOpt = Annotated[Path | None, typer.Option(help="Folder that media paths are relative to (default: the manifest's folder).")]


@bench_app.command("validate")
def validate_cmd(
    manifest: Annotated[Path, typer.Argument(help="Manifest (JSONL, one sample a line).")],
    media_root: MediaRootOpt = None,
    probe: Annotated[bool, typer.Option("--probe", help="Also open every media file with PyAV (slower: reads each file).")] = False,
) -> None:
    """Check every line; list each bad one (line, field, reason) and exit 2 if there is any.
    Streamed: each problem is printed as it is found, and a manifest of any size is checked in
    little memory."""
    with one_line_errors():
        result = validate_manifest(manifest, media_root, probe=probe, on_problem=lambda p: typer.echo(p.located(manifest)))
        if result.problem_count:
            raise InputError(f"{result.bad_line_count} of {result.lines} lines invalid ({result.valid} valid)", path=str(manifest))
        if not result.valid:
            raise InputError("no samples in the manifest", path=str(manifest))
    counts = result.task_counts
    typer.echo(f"{manifest}: {result.valid} samples valid ({', '.join(f'{t} {n}' for t, n in sorted(counts.items()))})")


@bench_app.command("import")
def import_cmd(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help=f"One of: {', '.join(FORMATS)}.")],
    source: Annotated[Path, typer.Argument(help="The dataset's annotation file (for authors: a file or a folder of records).")],
    media_root: Annotated[Path, typer.Option(help="Folder holding the videos, in any subfolders.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="Manifest to write (JSONL); media paths relative to its folder when the media are under it, else absolute.",
        ),
    ],
    all_turns: Annotated[bool, typer.Option("--all-turns", help="avsd: one sample per dialog turn, not only the last.")] = False,
    task: Annotated[str | None, typer.Option(help="jsonl/csv/authors: the task of records that name none.")] = None,
    mapping: Annotated[
        list[str] | None, typer.Option("--map", help="jsonl/csv: FIELD=COLUMN (choices=A,B,C,D gathers columns); repeat for each.")
    ] = None,
    join: Annotated[
        Path | None,
        typer.Option(help="authors: attach each record's reasoning to the sample of this manifest with the same video and question."),
    ] = None,
    skipped: Annotated[Path | None, typer.Option(help="Write every skipped entry, with its reason, to this JSONL file.")] = None,
) -> None:
    """Turn a dataset's released annotation file into a manifest, and say what was skipped and why."""
    with one_line_errors():
        report = import_to_manifest(
            fmt,
            source,
            output,
            media_root,
            all_turns=all_turns,
            task=task,
            mapping=parse_mapping(mapping or []),
            join=join,
            skipped=skipped,
        )
    typer.echo(f"{output}: {report.summary()}")
    for note in report.notes:
        typer.echo(note)
    if skipped is not None:
        typer.echo(f"{skipped}: {len(report.entries)} skipped entries with their reasons")


def _fmt(value: Any) -> str:
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _table(title: str, rows: dict[str, dict[str, Any]], first: str) -> Table:
    """Accuracy rows one per task/category; the seven COCO metrics as rows, one column per task."""
    table = Table(title=title)
    if not any(m in r for r in rows.values() for m in COCO_METRICS):
        for col in (first, "n", "unparsed", ACCURACY):
            table.add_column(col)
        for name, r in rows.items():
            table.add_row(name, str(r["n"]), str(r["unparsed"]), _fmt(r.get(ACCURACY)))
        return table
    table.add_column("metric")
    for name in rows:
        table.add_column(name)
    for key in ("n", "unparsed", *COCO_METRICS):
        table.add_row(key, *(_fmt(r.get(key)) for r in rows.values()))
    return table


def _print_scores(result: dict[str, Any]) -> None:
    closed = {t: r for t, r in result["tasks"].items() if ACCURACY in r}
    opened = {t: r for t, r in result["tasks"].items() if ACCURACY not in r}
    if closed:
        console.print(_table("Accuracy (unparsed answers count as wrong)", closed, "task"))
    if opened:
        console.print(_table("Open answers: COCO caption metrics, corpus level", opened, "task"))
    for task, cats in result["categories"].items():
        if cats:
            console.print(_table(f"{task} by category", cats, "category"))
    if result["missing"]:
        console.print(f"{len(result['missing'])} samples had no prediction (scored unparsed, wrong)", highlight=False)
    if "judge" in result:
        judge = result["judge"]
        rows = ", ".join(f"{t} {_fmt(v['accuracy'])} (n {v['n']}, unjudged {v['unjudged']})" for t, v in judge["tasks"].items())
        console.print(f"judge {judge['model']} (apart from the metrics): {rows}", highlight=False)


@bench_app.command("score")
def score_cmd(
    manifest: Annotated[Path, typer.Argument(help="Manifest (JSONL).")],
    predictions: Annotated[Path, typer.Argument(help='Model outputs: JSONL lines {"id": ..., "output": ...}.')],
    media_root: MediaRootOpt = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Score the valid manifest lines and leave the bad ones out.")
    ] = False,
    judge: Annotated[str | None, typer.Option(help="An LLM judge for open answers (a model string); reported apart.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print tasks, categories and per-sample results as JSON.")] = False,
) -> None:
    """Score raw outputs: per task, per category, with counts of unparsed answers."""
    with one_line_errors():
        result = score_files(manifest, predictions, media_root=media_root, skip_invalid=skip_invalid, judge=judge)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        _print_scores(result)


@bench_app.command("sample")
def sample_cmd(folder: Annotated[Path, typer.Argument(help="Folder to write clips/ and manifest.jsonl into.")]) -> None:
    """Write the offline sample benchmark: synthetic clips covering every task, answers that follow from the media."""
    with one_line_errors():
        manifest = write_sample_benchmark(folder)
        result = validate_manifest(manifest)
    typer.echo(f"{manifest}: {result.valid} samples, {len(result.task_counts)} tasks")


bench_app.command("run")(run_cmd)
bench_app.command("report")(report_cmd)
bench_app.command("export")(export_cmd)
