"""Batched vs one-at-a-time answering with a local Hugging Face target (tiny model by default).

    python benchmarks/target_batch_bench.py                 # tiny Qwen2.5-Omni, 16 samples, CPU
    python benchmarks/target_batch_bench.py --model vlm     # tiny Qwen2-VL
    python benchmarks/target_batch_bench.py --path DIR      # any hf: checkpoint directory

The tiny checkpoints are built offline with random weights (``aurelia.testing.tiny``): the
answers are noise but the processor -> generate -> decode work is the real one. Both runs
decode greedily, so they must give the same texts; the script checks it. On a GPU the model
loads in bfloat16 and the peak GPU memory of each run is printed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from aurelia.media.prepare import prepare_media
from aurelia.targets import TargetSample, TargetSettings, load_target
from aurelia.testing.clips import Segment, make_clip
from aurelia.testing.tiny import build_tiny_omni, build_tiny_qwen2vl

QUESTIONS = [
    ("What colour is the screen while the audio is silent?", ["red", "blue", "green", "black"]),
    ("Which sound comes first?", ["a low tone", "a high tone", "silence", "speech"]),
    ("How many scene changes are there?", ["none", "one", "two", "three"]),
    ("Is there music?", None),
]
STAR = {
    "steps": [
        {"step": "Look at the colour in each part", "answer": "red, blue, green"},
        {"step": "Listen for silence", "answer": "the end is silent"},
    ],
    "final_answer": "green",
}
MODES = ["none", "steps", "steps_answers", "full"]


def make_samples(folder: Path, n: int) -> list[TargetSample]:
    """``n`` samples over 4 synthetic 6-second clips (same length: one input layout, one batch)."""
    colours = [(220, 30, 30), (30, 60, 220), (40, 200, 60), (200, 200, 40)]
    clips = []
    for k in range(4):
        segs = [
            Segment(2, colours[k], 440.0 * (k + 1)),
            Segment(2, colours[(k + 1) % 4], 660.0, motion=True),
            Segment(2, colours[(k + 2) % 4], None),
        ]
        clips.append(prepare_media(str(make_clip(folder / f"clip{k}.mp4", segs))))
    samples = []
    for i in range(n):
        question, choices = QUESTIONS[i % len(QUESTIONS)]
        samples.append(TargetSample(clips[i % 4], question, choices, STAR, MODES[(i // 4) % 4], sample_id=f"s{i}"))
    return samples


def peak_memory_reset() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peak_memory_mib() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() / 2**20


def generate_seconds(answers: list) -> float:
    """Time spent in model.generate: answers of one call share its timing entries."""
    return sum(g for g, _ in {(a.timing["generate_s"], a.timing["batch_s"]) for a in answers})


def compare(one, batch, repeats: int) -> dict[str, tuple[float, float, list, float | None]]:
    """Per way: median wall time, median generate time, the last answers and the peak GPU
    memory. The two ways alternate within a round, so that load from other processes on a
    shared machine hits both alike."""
    walls: dict[str, list[float]] = {"one": [], "batch": []}
    gens: dict[str, list[float]] = {"one": [], "batch": []}
    last: dict[str, list] = {}
    peaks: dict[str, float | None] = {}
    for _ in range(repeats):
        for name, fn in (("one", one), ("batch", batch)):
            peak_memory_reset()
            t0 = time.perf_counter()
            last[name] = fn()
            walls[name].append(time.perf_counter() - t0)
            gens[name].append(generate_seconds(last[name]))
            peaks[name] = peak_memory_mib()
    return {name: (statistics.median(walls[name]), statistics.median(gens[name]), last[name], peaks[name]) for name in walls}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["omni", "vlm"], default="omni", help="tiny checkpoint to build (ignored with --path)")
    parser.add_argument("--path", help="an hf: checkpoint directory instead of a tiny one")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, nargs="+", default=[16, 64], help="one row per value")
    parser.add_argument("--max-frames", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    rows, same = [], True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = args.path or str((build_tiny_omni if args.model == "omni" else build_tiny_qwen2vl)(folder / args.model))
        samples = make_samples(folder, args.samples)
        for max_new in args.max_new_tokens:
            settings = TargetSettings(max_new_tokens=max_new, batch_size=args.batch_size, max_frames=args.max_frames)
            target = load_target(f"hf:{path}", settings)  # the model itself is loaded once
            target.answer_batch(samples[:2])  # warm-up: first-call kernels, decoded media cache
            runs = compare(lambda t=target: [t.answer(s) for s in samples], lambda t=target: t.answer_batch(samples), args.repeats)
            (one_s, gen_one, singles, one_mem), (batch_s, gen_batch, batched, batch_mem) = runs["one"], runs["batch"]
            same = same and [a.text for a in singles] == [b.text for b in batched]
            generated = sum(a.usage["output_tokens"] for a in batched)
            rows.append((max_new, generated, one_s, batch_s, gen_one, gen_batch, one_mem, batch_mem))

    about = target.describe()
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU, {torch.get_num_threads()} torch threads"
    rec = batched[0].received
    print(f"model: {about['model_type']} ({about['family']}), {about['dtype']} on {device}, attention {about['attention']}")
    print(f"per sample: {rec.frames} frames, {rec.audio_seconds:.1f}s audio, ~{rec.prompt_tokens} prompt tokens {rec.media_tokens}")
    print(f"{args.samples} samples, batch size {args.batch_size}, median of {args.repeats} rounds")
    gpu = any(r[6] for r in rows)
    print("(wall: decode + processor + generate; generate: the model.generate calls alone)")
    print(
        "max_new_tokens  generated | wall: one-at-a-time  batched  ratio | generate: one-at-a-time  batched  ratio"
        + (" | peak GPU one / batched" if gpu else "")
    )
    for max_new, generated, one_s, batch_s, gen_one, gen_batch, one_mem, batch_mem in rows:
        mem = f" | {one_mem:.0f} / {batch_mem:.0f} MiB" if gpu else ""
        wall = f"{one_s:>17.2f} s  {batch_s:>5.2f} s  {one_s / batch_s:4.2f}x"
        gen = f"{gen_one:>21.2f} s  {gen_batch:>5.2f} s  {gen_one / gen_batch:4.2f}x"
        print(f"{max_new:>14}  {generated:>9} |{wall} |{gen}{mem}")
    print(f"batched answers identical to one-at-a-time (greedy): {same}")
    return 0 if same else 1


if __name__ == "__main__":
    from _docs import run as run_with_docs  # benchmarks/ is sys.path[0] when run as a script

    raise SystemExit(run_with_docs(main, "docs/performance.md"))
