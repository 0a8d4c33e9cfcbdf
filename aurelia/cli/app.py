"""Command line: ``aurelia run VIDEO -q ...``, ``aurelia demo``. Bad input exits 2 with one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from aurelia import DISTRIBUTION, __version__
from aurelia.boundary import looks_like_json, parse_json, read_user_file
from aurelia.cli.answer import answer_cmd
from aurelia.cli.bench import bench_app
from aurelia.cli.errors import err_console, fail, one_line_errors
from aurelia.cli.fidelity import (
    ExtractorOpt,
    FeedbackModeOpt,
    InjectPositionOpt,
    NoEarlyStopOpt,
    PromptSetOpt,
    evaluator_note,
    fidelity_settings,
    setting_lines,
)
from aurelia.cli.help import App
from aurelia.cli.media import media_app
from aurelia.cli.options import with_settings
from aurelia.cli.progress import QuietOpt, observer, watching
from aurelia.durable import DEFAULT_DB, NO_DECISION, run_thread
from aurelia.errors import InputError
from aurelia.graph.context import SETTINGS, make_context
from aurelia.nodes.common import ROLES
from aurelia.prompts.format import format_reasoning, score_text
from aurelia.run import SAMPLE_CHOICES, SAMPLE_QUESTION, run, sample_clip

DB_HELP = "SQLite file holding the checkpoints of --thread runs."

app = App(add_completion=False, no_args_is_help=True, help="Aurelia: test-time reasoning distillation for audio-visual LLMs.")
console = Console()


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"{DISTRIBUTION} {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the distribution name and version, then exit.")
    ] = False,
) -> None:
    # no docstring: the app's help stays the one given above
    pass


app.add_typer(media_app, name="media")
app.add_typer(bench_app, name="bench")


def _print_result(result: dict[str, Any]) -> None:
    table = Table(title="Iterations")
    for col in ("#", "score", "seconds", "caption", "evaluator"):
        table.add_column(col, overflow="fold")
    for it in result.get("iterations", []):
        seconds = sum(it.get("seconds", {}).values())
        # model text is printed literally (Text, not markup): "[/INST]" in a caption must not crash the print
        cells = (str(it["iteration"]), score_text(it["score"]), f"{seconds:.1f}", it["caption"][:160], evaluator_note(it)[:120])
        table.add_row(*(Text(cell) for cell in cells))
    if result.get("stop_reason") == "baseline":
        say("zero-shot baseline (inject none): no reasoning loop")
    else:
        console.print(table)
        say(f"stop reason: {result.get('stop_reason')}   best iteration: {result.get('best_iteration')}")
        say("r*", bold=True)
        say(format_reasoning(result.get("reasoning_star") or {}, "full"))
    for line in setting_lines(result):
        say(line)
    if "review" in result:
        say(f"review: r* {result['review']['action']} by a human")
    if "target" in result:
        answer = result.get("answer")
        letter = result.get("answer_choice")
        shown = f"({letter}) {answer}" if letter else (answer or f"(unparsed) {result['target']['raw'][:200]}")
        say("answer", f": {shown}", bold=True)
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in result.get("node_seconds", {}).items())
    say(f"time: {result.get('total_seconds', 0):.1f}s ({timings})")


def say(text: str, rest: str = "", *, bold: bool = False) -> None:
    """Print literally: user, model and file text is never read as console markup (a caption
    holding "[/INST]" must not crash the summary); ``bold`` styles ``text``, not ``rest``."""
    console.print(Text.assemble((text, "bold" if bold else ""), rest), highlight=False, soft_wrap=True)


def _print_review(result: dict[str, Any]) -> None:
    request = result["interrupt"]
    tid = result["thread"]["id"]
    say("paused for review", f" (thread {tid}): best iteration {request.get('best_iteration')}", bold=True)
    for it in request.get("trajectory", []):
        say(f"  #{it['iteration']} score {score_text(it['score'])}: {it['caption'][:120]}")
    say("r*", bold=True)
    say(format_reasoning(request.get("reasoning_star") or {}, "full"))
    say(f"approve: aurelia resume {tid} --approve    edit: aurelia resume {tid} --edit FILE (JSON reasoning or one step per line)")


def _emit(result: dict[str, Any], as_json: bool) -> None:
    """Print a finished (and, with --thread, already checkpointed) result. Printing never loses
    it: if the summary cannot be printed, the result is written as JSON instead."""
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2, default=str) + "\n")
        return
    try:
        if "interrupt" in result:
            _print_review(result)
        else:
            if "thread" in result:
                thread = result["thread"]
                say(f"thread {thread['id']}: {thread['status']} (was {thread['resumed_from']})")
            _print_result(result)
    except Exception as exc:
        sys.stdout.write(json.dumps(result, indent=2, default=str, ensure_ascii=True) + "\n")
        err_console.print(f"error: the summary could not be printed ({type(exc).__name__}); the result is above as JSON", markup=False)
        raise typer.Exit(code=1) from exc


def _decision(approve: bool, edit: Path | None) -> Any:
    """The resume value for a paused review, from --approve / --edit FILE."""
    if approve and edit:
        raise InputError("give --approve or --edit, not both")
    if approve:
        return "approve"
    if edit is None:
        return NO_DECISION
    text = read_user_file(edit, "edited reasoning")  # a bounded regular file, never a device or FIFO
    if looks_like_json(text):  # meant as JSON: it must be valid JSON, never silently one step of text
        return {"action": "edit", "reasoning": parse_json(text, "edited reasoning", str(edit))}
    return {"action": "edit", "reasoning": text}


def _execute(
    video: Path,
    question: str,
    audio: Path | None,
    choices: list[str] | None,
    as_json: bool,
    reasoning_only: bool,
    audio_candidates: list[Path] | None = None,
    quiet: bool = False,
    **settings: Any,
) -> None:
    with one_line_errors(), watching(quiet) as progress:
        ctx = make_context(None, **settings)
        result = run(
            video, question, audio=audio, choices=choices, context=ctx, reasoning_only=reasoning_only, audio_candidates=audio_candidates,
            on_event=observer(progress),
        )  # fmt: skip
    _emit(result, as_json)


def _execute_thread(
    thread: str,
    db: Path,
    decision: Any,
    as_json: bool,
    video: Path | None = None,
    question: str | None = None,
    quiet: bool = False,
    **kw: Any,
) -> None:
    with one_line_errors(), watching(quiet, thread, db) as progress:
        result = run_thread(video, question, thread_id=thread, db=db, decision=decision, on_event=observer(progress), **kw)
    _emit(result, as_json)


@app.command("run")
@with_settings(SETTINGS)
def run_cmd(
    video: Annotated[Path, typer.Argument(help="Video file (its audio track is used unless --audio is given).")],
    question: Annotated[str, typer.Option("--question", "-q", help="The question about the video.")],
    audio: Annotated[Path | None, typer.Option(help="Separate audio file for a silent video.")] = None,
    choice: Annotated[list[str] | None, typer.Option("--choice", "-c", help="An answer choice (repeat for each).")] = None,
    option: Annotated[
        list[Path] | None, typer.Option("--option", help="A candidate audio clip to choose between, labelled A, B, C… (repeat for each).")
    ] = None,
    reasoning_only: Annotated[bool, typer.Option("--reasoning-only", help="Stop after the loop: r* without a target answer.")] = False,
    thread: Annotated[str | None, typer.Option(help="Durable run: checkpoint every node under this id; rerun to resume.")] = None,
    db: Annotated[Path, typer.Option(help=DB_HELP)] = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
    quiet: QuietOpt = False,
    *,
    settings: dict[str, Any],
) -> None:
    """Reason about VIDEO, inject the best reasoning r* into the target model, and answer.
    Every run setting has an option (--review pauses before injection and needs --thread)."""
    if thread is None:
        if settings.get("review"):
            fail(InputError("--review pauses the run: give it a --thread so that it can be resumed"))
        _execute(video, question, audio, choice or None, as_json, reasoning_only, option or None, quiet, **settings)
    else:
        _execute_thread(
            thread,
            db,
            NO_DECISION,
            as_json,
            video,
            question,
            audio=audio,
            choices=choice or None,
            audio_candidates=option or None,
            settings=settings,
            reasoning_only=reasoning_only or None,
            quiet=quiet,
        )


@app.command()
def resume(
    thread: Annotated[str, typer.Argument(help="The thread id given to `aurelia run --thread`.")],
    approve: Annotated[bool, typer.Option("--approve", help="Approve r* of a run paused for review.")] = False,
    edit: Annotated[Path | None, typer.Option(help="Replace r* of a paused run: a JSON reasoning or one step per line.")] = None,
    model: Annotated[
        list[str] | None, typer.Option(help="ROLE=MODEL: a model URL with credentials, given again (they are never stored).")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds one request to a hosted or served model may take.")] = None,
    budget: Annotated[float | None, typer.Option(help="Seconds this resumption may take (0: no budget).")] = None,
    db: Annotated[Path, typer.Option(help=DB_HELP)] = DEFAULT_DB,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Continue a thread: after a kill or a failure, or past a review pause (--approve / --edit)."""
    with one_line_errors():
        decision = _decision(approve, edit)
        settings = {**_role_models(model or []), "request_timeout": timeout, "run_budget": budget}
    _execute_thread(thread, db, decision, as_json, settings=settings, quiet=quiet)


def _role_models(values: list[str]) -> dict[str, str]:
    """``generator=URL`` pairs -> ``{"generator_model": URL}``."""
    out = {}
    for value in values:
        role, sep, raw = value.partition("=")
        if not sep or role.strip() not in ROLES or not raw.strip():
            raise InputError(f"--model takes ROLE=MODEL with ROLE one of {', '.join(ROLES)}, got {value!r}")
        out[f"{role.strip()}_model"] = raw.strip()
    return out


@app.command()
def demo(
    max_iterations: Annotated[int, typer.Option(help="T for the demo.")] = 3,
    threshold: Annotated[int | None, typer.Option(help="τ (default 6); raise it to watch the loop iterate.")] = None,
    prompt_set: PromptSetOpt = None,
    feedback_mode: FeedbackModeOpt = None,
    no_early_stop: NoEarlyStopOpt = False,
    inject_position: InjectPositionOpt = None,
    extractor: ExtractorOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Run the whole pipeline on the bundled sample clip with the embedded offline model."""
    clip = sample_clip()
    if not as_json:
        console.print(f"clip: {clip.name}  question: {SAMPLE_QUESTION}  choices: {SAMPLE_CHOICES}", highlight=False)
    fidelity = fidelity_settings(prompt_set, feedback_mode, no_early_stop, inject_position, extractor)
    _execute(
        clip,
        SAMPLE_QUESTION,
        None,
        SAMPLE_CHOICES,
        as_json,
        False,
        quiet=quiet,
        max_iterations=max_iterations,
        threshold=threshold,
        **fidelity,
    )


app.command("answer")(answer_cmd)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
