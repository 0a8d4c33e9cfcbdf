"""``aurelia media probe FILE`` and ``aurelia media digest FILE [--frames N] [--out DIR]``:
see exactly what the agents see. Bad input exits 2 with one line naming the file and the cause."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from aurelia.cli.errors import one_line_errors, output_errors
from aurelia.cli.help import App
from aurelia.errors import MediaError
from aurelia.media.blocks import jpeg_bytes
from aurelia.media.keyframes import extract_frames
from aurelia.media.prepare import prepare_media
from aurelia.media.probe import MediaInfo, probe

media_app = App(add_completion=False, no_args_is_help=True, help="Inspect media the way the agents see it.")
console = Console()


@media_app.command("probe")
def probe_cmd(
    files: Annotated[list[Path], typer.Argument(help="One or more video or audio files (e.g. the four candidate clips of a question).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print every field as JSON (a list for several files).")] = False,
) -> None:
    """Container, streams, codecs, duration, frame rate (VFR), display size, audio format, sha256."""
    with one_line_errors():
        infos = [probe(f) for f in files]
    if as_json:
        data = [i.to_dict() for i in infos]
        typer.echo(json.dumps(data[0] if len(data) == 1 else data, indent=2))
        return
    console.print("\n\n".join(_describe(i) for i in infos), markup=False, highlight=False, soft_wrap=True)


def _describe(info: MediaInfo) -> str:
    lines = [
        f"file: {info.path}",
        f"container: {info.container}  size: {info.size_bytes} bytes  duration: {info.duration_s:.3f}s  kind: {info.kind}",
    ]
    if info.video:
        v = info.video
        rot = f"  rotation: {v.rotation} deg (coded {v.coded_width}x{v.coded_height})" if v.rotation else ""
        lines.append(
            f"video: {v.codec} {v.width}x{v.height} {v.pix_fmt}  {v.fps:g} fps{' (variable)' if v.vfr else ''}  {v.duration_s:.3f}s{rot}"
        )
    if info.audio:
        a = info.audio
        more = f" (+{info.audio_streams - 1} more audio streams)" if info.audio_streams > 1 else ""
        lines.append(f"audio: {a.codec} {a.sample_rate} Hz {a.channels} ch ({a.layout})  {a.duration_s:.3f}s{more}")
    other = [f"#{s.index} {s.kind} {s.codec}" for s in info.streams if s.kind not in ("video", "audio") or not s.decodable]
    if other:
        lines.append("other streams (not used): " + ", ".join(other))
    lines.append(f"sha256: {info.sha256}")
    return "\n".join(lines)


@media_app.command("digest")
def digest_cmd(
    file: Annotated[Path, typer.Argument(help="A video (or audio) file.")],
    frames: Annotated[int, typer.Option("--frames", "-n", help="Most keyframes to choose.")] = 5,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the keyframes as JPEGs and digest.txt here.")] = None,
    audio: Annotated[Path | None, typer.Option(help="Separate audio file for a silent video.")] = None,
    option: Annotated[list[Path] | None, typer.Option("--option", help="A candidate audio clip, labelled A, B, C... (repeat).")] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Read only the stream's own keyframes (long inputs).")] = False,
    frame_side: Annotated[int, typer.Option(help="Longest side of the written JPEGs.")] = 512,
) -> None:
    """The measured digest a text-only model receives, and (with --out) the keyframes an image model receives."""
    with one_line_errors(), output_errors(out):
        media = prepare_media(
            str(file),
            str(audio) if audio else None,
            frames,
            audio_candidates=[str(o) for o in option or []],
            mode="fast" if fast else "auto",
            allow_audio_only=True,
        )
        written = []
        if out is not None:
            if out.exists() and not out.is_dir():
                raise MediaError("--out must be a directory", path=str(out))
            out.mkdir(parents=True, exist_ok=True)
            times = media["keyframe_times"]
            for k, (t, rgb) in enumerate(zip(times, extract_frames(str(file), times, max_side=frame_side), strict=True)):
                target = out / f"keyframe_{k + 1:02d}_{t:07.2f}s.jpg"
                target.write_bytes(jpeg_bytes(rgb))
                written.append(target)
            (out / "digest.txt").write_text(media["digest"] + "\n")
            written.append(out / "digest.txt")
    console.print(media["digest"], markup=False, highlight=False, soft_wrap=True)
    for path in written:
        console.print(f"wrote {path}", markup=False, highlight=False, soft_wrap=True)
