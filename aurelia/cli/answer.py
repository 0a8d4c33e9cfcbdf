"""``aurelia answer VIDEO -q ... --target hf:PATH [--reasoning-file r.json] [--inject MODE]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from aurelia.cli.errors import one_line_errors
from aurelia.cli.fidelity import AnswerKindOpt, ExtractorOpt, InjectPositionOpt
from aurelia.cli.progress import QuietOpt, watching
from aurelia.models.registry import validate_model_string
from aurelia.prompts.format import INJECT_MODES
from aurelia.targets.base import TARGET_MAX_TOKENS, TargetAnswer, TargetSample, TargetSettings

console = Console()


def _describe(result: TargetAnswer) -> str:
    rec = result.received
    parts = []
    if "video" in rec.modalities:
        size = f", {rec.frame_size[0]}x{rec.frame_size[1]}" if rec.frame_size else ""
        parts.append(f"video ({rec.frames} frames at {rec.fps:g} fps{size})" if rec.frames else "video")
    if "image" in rec.modalities:
        parts.append(f"{rec.frames} keyframes")
    if "audio" in rec.modalities:
        how = ", interleaved with the frames" if rec.audio_in_video else ""
        cut = ", truncated" if rec.audio_truncated else ""
        parts.append(f"audio {rec.audio_seconds:.1f}s{how}{cut}" if rec.audio_seconds else "audio")
    if rec.digest:
        parts.append("measured digest")
    tokens = ""
    if rec.prompt_tokens:
        media = ", ".join(f"{k} {v}" for k, v in rec.media_tokens.items())
        tokens = f"; {rec.prompt_tokens} prompt tokens" + (f" ({media})" if media else "")
    return "text + " + " + ".join(parts) + tokens if parts else "text" + tokens


def _extracted(record: dict) -> str:
    read = f"({record['letter']}) {record['answer']}" if record.get("letter") else "(unparsed)"
    return f"{read} [{record.get('source') or 'neither'}]"


def answer_cmd(
    video: Annotated[Path, typer.Argument(help="Video file (its audio track is used unless --audio is given).")],
    question: Annotated[str, typer.Option("--question", "-q", help="The question about the video.")],
    target: Annotated[str, typer.Option(help="Target model: hf:<hub id or path>, local, gguf:PATH, provider:model or a URL.")] = "local",
    audio: Annotated[Path | None, typer.Option(help="Separate audio file for a silent video.")] = None,
    choice: Annotated[list[str] | None, typer.Option("--choice", "-c", help="An answer choice (repeat for each).")] = None,
    reasoning_file: Annotated[Path | None, typer.Option(help="r* as JSON, or an `aurelia run --json` result.")] = None,
    inject: Annotated[
        str | None, typer.Option(help=f"What of r* the target sees: {', '.join(INJECT_MODES)} (default steps; none without r*).")
    ] = None,
    keyframes: Annotated[int, typer.Option(help="Keyframes for image-only models.")] = 5,
    max_frames: Annotated[int, typer.Option(help="Most video frames per clip for video models.")] = 32,
    fps: Annotated[float, typer.Option(help="Video frames sampled per second (before the --max-frames cap).")] = 2.0,
    max_pixels: Annotated[int, typer.Option(help="Most pixels per frame for dynamic-resolution processors (Qwen-VL/Omni).")] = 256
    * 28
    * 28,
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", "--target-max-tokens", help="Most tokens the target may generate.")
    ] = TARGET_MAX_TOKENS,
    dtype: Annotated[str, typer.Option(help="auto (bfloat16 on GPU, float32 on CPU), bfloat16, float16 or float32.")] = "auto",
    timeout: Annotated[float, typer.Option(help="Seconds one request to a hosted or served target may take.")] = 120.0,
    inject_position: InjectPositionOpt = None,
    answer_kind: AnswerKindOpt = None,
    extractor: ExtractorOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full answer record as JSON.")] = False,
    quiet: QuietOpt = False,
) -> None:
    """Answer a question about VIDEO with one target model, r* injected (or the zero-shot baseline)."""
    from aurelia.targets import load_target
    from aurelia.targets.api import extract_with, read_reasoning

    with one_line_errors(), watching(quiet) as progress:
        spec = validate_model_string(target)  # bad input fails before any progress, in one line
        reasoning = read_reasoning(reasoning_file) if reasoning_file else None
        settings = TargetSettings(
            max_new_tokens=max_new_tokens, max_frames=max_frames, fps=fps, max_pixels=max_pixels, dtype=dtype, request_timeout=timeout
        )
        with progress.phase("prepare", f"media of {video.name}"):
            sample = TargetSample.from_files(
                video,
                question,
                audio=audio,
                choices=choice or None,
                reasoning=reasoning,
                inject=inject,
                num_frames=keyframes,
                answer_kind=answer_kind or "short",
                inject_position=inject_position or "after_choices",
            )
        with progress.phase("load", spec.label):  # a URL shown without credentials
            model = load_target(target, settings)
        with progress.phase("generate"):
            result = model.answer(sample)
            if extractor:
                extract_with(extractor, result, sample)
    _print_answer(model.describe(), result, as_json)


def _print_answer(about: dict, result: Any, as_json: bool) -> None:
    """The answer record as JSON, or a few readable lines (target, input, r*, answer, time)."""
    if as_json:
        sys.stdout.write(json.dumps({"target": about, **result.to_dict()}, indent=2) + "\n")
        return
    shown = f"({result.letter}) {result.answer}" if result.letter else (result.answer or f"(unparsed) {result.text[:200]!r}")
    details = ", ".join(str(about[k]) for k in ("family", "model_type", "dtype", "device") if about.get(k))
    timing = ", ".join(f"{k.removesuffix('_s')} {v:.2f}s" for k, v in result.timing.items() if k.endswith("_s"))
    lines = [
        f"target: {result.model}" + (f" ({details})" if details else ""),
        f"received: {_describe(result)}",
        f"injected ({result.inject}): " + (result.injected.replace("\n", " | ") if result.injected else "nothing (baseline)"),
        f"answer: {shown}",
        *([f"answer with the extractor: {_extracted(result.extracted)}"] if result.extracted else []),
        f"time: {result.seconds:.2f}s ({timing})",
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
