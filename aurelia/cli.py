"""Command line: ``aurelia run VIDEO -q ...``, ``aurelia demo``. Bad input exits 2 with one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from aurelia.errors import AureliaError
from aurelia.graph.context import INJECT_MODES
from aurelia.media.cli import media_app
from aurelia.nodes.common import format_reasoning
from aurelia.run import SAMPLE_CHOICES, SAMPLE_QUESTION, make_context, run, sample_clip
from aurelia.targets.cli import answer_cmd

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Aurelia: test-time reasoning distillation for audio-visual LLMs.")
console = Console()
err_console = Console(stderr=True)

app.add_typer(media_app, name="media")

ModelOpt = Annotated[str | None, typer.Option(help="Model string for this role (default: local).")]


def _fail(exc: AureliaError) -> None:
    err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def _print_result(result: dict[str, Any]) -> None:
    table = Table(title="Iterations")
    for col in ("#", "score", "seconds", "caption", "evaluator"):
        table.add_column(col, overflow="fold")
    for it in result.get("iterations", []):
        seconds = sum(it.get("seconds", {}).values())
        table.add_row(str(it["iteration"]), str(it["score"]), f"{seconds:.1f}", it["caption"][:160], it["rationale"][:120])
    console.print(table)
    console.print(f"stop reason: {result.get('stop_reason')}   best iteration: {result.get('best_iteration')}")
    console.print("[bold]r*[/bold]")
    console.print(format_reasoning(result.get("reasoning_star") or {}, "full"), markup=False)
    if "target" in result:
        answer = result.get("answer")
        letter = result.get("answer_choice")
        shown = f"({letter}) {answer}" if letter else (answer or f"(unparsed) {result['target']['raw'][:200]}")
        console.print(f"[bold]answer[/bold]: {shown}", highlight=False)
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in result.get("node_seconds", {}).items())
    console.print(f"time: {result.get('total_seconds', 0):.1f}s ({timings})", highlight=False)


def _execute(
    video: Path, question: str, audio: Path | None, choices: list[str] | None, as_json: bool, reasoning_only: bool, **settings: Any
) -> None:
    try:
        ctx = make_context(None, **settings)
        result = run(video, question, audio=audio, choices=choices, context=ctx, reasoning_only=reasoning_only)
    except AureliaError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
    else:
        _print_result(result)


@app.command("run")
def run_cmd(
    video: Annotated[Path, typer.Argument(help="Video file (its audio track is used unless --audio is given).")],
    question: Annotated[str, typer.Option("--question", "-q", help="The question about the video.")],
    audio: Annotated[Path | None, typer.Option(help="Separate audio file for a silent video.")] = None,
    choice: Annotated[list[str] | None, typer.Option("--choice", "-c", help="An answer choice (repeat for each).")] = None,
    threshold: Annotated[int | None, typer.Option(help="τ: stop when the score reaches this (1-10, default 6).")] = None,
    max_iterations: Annotated[int | None, typer.Option(help="T: most iterations (default 5).")] = None,
    generator: ModelOpt = None,
    summarizer: ModelOpt = None,
    evaluator: ModelOpt = None,
    feedback: Annotated[str | None, typer.Option(help="LLM critic for feedback (default: template).")] = None,
    target: ModelOpt = None,
    inject: Annotated[str | None, typer.Option(help=f"What of r* the target sees: {', '.join(INJECT_MODES)}.")] = None,
    frames: Annotated[int | None, typer.Option(help="Most keyframes per video (default 5).")] = None,
    reasoning_only: Annotated[bool, typer.Option("--reasoning-only", help="Stop after the loop: r* without a target answer.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Reason about VIDEO, inject the best reasoning r* into the target model, and answer."""
    _execute(
        video,
        question,
        audio,
        choice or None,
        as_json,
        reasoning_only,
        threshold=threshold,
        max_iterations=max_iterations,
        generator_model=generator,
        summarizer_model=summarizer,
        evaluator_model=evaluator,
        feedback_model=feedback,
        target_model=target,
        inject=inject,
        num_frames=frames,
    )


@app.command()
def demo(
    max_iterations: Annotated[int, typer.Option(help="T for the demo.")] = 3,
    threshold: Annotated[int | None, typer.Option(help="τ (default 6); raise it to watch the loop iterate.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Run the whole pipeline on the bundled sample clip with the embedded offline model."""
    clip = sample_clip()
    if not as_json:
        console.print(f"clip: {clip.name}  question: {SAMPLE_QUESTION}  choices: {SAMPLE_CHOICES}", highlight=False)
    _execute(clip, SAMPLE_QUESTION, None, SAMPLE_CHOICES, as_json, False, max_iterations=max_iterations, threshold=threshold)


app.command("answer")(answer_cmd)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
