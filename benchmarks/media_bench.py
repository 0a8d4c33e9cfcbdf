"""Media layer benchmark: ratios measured in one run, against a baseline measured in the same run.

    python benchmarks/media_bench.py [--workdir DIR] [--baseline-pairs 20]

It writes a 60 s 1280x720 30 fps H.264 clip with 8 textured, moving scenes (cuts every 7.5 s)
and a tone per scene, then prints:
- keyframe selection vs the authors' method (decode every frame at full resolution, per-channel
  SSIM with 7x7 windows against the previous frame). The full-resolution decode of all 1800
  frames is timed in full; the SSIM is timed on ``--baseline-pairs`` frame pairs spread over the
  clip and extrapolated to 1799 pairs (said in the output);
- whole preparation (probe + keyframes + audio + digest) vs real time, in CPU seconds (all
  threads summed, i.e. one core's worth) and wall seconds;
- fast mode (stream keyframes only) vs real time;
- peak memory of preparing a 10-minute clip vs a 1-minute clip (320x180, each in a fresh process).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from aurelia.media.keyframes import scan
from aurelia.media.prepare import prepare_media
from aurelia.testing.clips import Segment, cut_times, make_clip

COLOURS = [(200, 40, 40), (40, 60, 200), (40, 180, 60), (220, 200, 40), (150, 40, 160), (40, 180, 190), (230, 120, 30), (120, 120, 120)]


def scenes(seconds: float, count: int = 8) -> list[Segment]:
    return [Segment(seconds / count, COLOURS[i % len(COLOURS)], 220.0 * (1 + i % 8), motion=True, texture=True) for i in range(count)]


def box_mean(x: np.ndarray, k: int = 7) -> np.ndarray:
    """Mean over k x k windows (valid region), per channel, with cumulative sums."""
    c = np.cumsum(np.cumsum(np.pad(x, ((1, 0), (1, 0), (0, 0))), axis=0), axis=1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def windowed_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Per-channel SSIM with 7x7 windows, averaged (what skimage's structural_similarity computes with channel_axis)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ma, mb = box_mean(a), box_mean(b)
    va, vb, cov = box_mean(a * a) - ma * ma, box_mean(b * b) - mb * mb, box_mean(a * b) - ma * mb
    return float((((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))).mean())


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def baseline(path: Path, pairs: int) -> tuple[float, float, int]:
    """(seconds for the full method extrapolated, seconds per frame, frames). Decode is timed in full."""
    picks: dict[int, np.ndarray] = {}
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        n_frames = stream.frames
        wanted = {int(i) for i in np.linspace(1, n_frames - 1, pairs)}
        wanted |= {i - 1 for i in wanted}
        start = time.process_time()
        for i, frame in enumerate(c.decode(stream)):
            rgb = frame.to_ndarray(format="rgb24")  # the baseline converts every frame at full size
            if i in wanted:
                picks[i] = rgb
        decode_s = time.process_time() - start
    start = time.process_time()
    done = 0
    for i in sorted(picks):
        if i - 1 in picks:
            windowed_ssim(picks[i - 1], picks[i])
            done += 1
    ssim_per_pair = (time.process_time() - start) / max(done, 1)
    total = decode_s + ssim_per_pair * (n_frames - 1)
    return total, total / n_frames, n_frames


def _status_kb(field: str) -> int:
    """VmHWM (peak) / VmRSS (now) of this process. ru_maxrss is not used: Linux keeps it across
    exec, so a child would report the parent's peak (the benchmark's own 720p frames)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child_memory(path: str) -> None:
    import tracemalloc

    before = _status_kb("VmRSS")
    tracemalloc.start()
    prepare_media(path)
    _, peak = tracemalloc.get_traced_memory()
    print(json.dumps({"rss_kb": _status_kb("VmHWM"), "rss_before_kb": before, "py_peak": peak}))


def memory_of(path: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child-memory", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--baseline-pairs", type=int, default=20)
    parser.add_argument("--child-memory", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_memory:
        child_memory(args.child_memory)
        return
    work = args.workdir or Path(tempfile.mkdtemp(prefix="aurelia-media-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = work / "scenes_720p_60s.mp4"
    segs = scenes(60.0)
    if not clip.exists():
        print(f"writing {clip.name} (1280x720, 30 fps, H.264 veryfast, 8 scenes)...", flush=True)
        make_clip(clip, segs, size=(1280, 720), fps=30, options={"preset": "veryfast"})
    truth = cut_times(segs)
    print(f"clip: {clip.stat().st_size / 1e6:.1f} MB, cuts at {', '.join(f'{t:g}' for t in truth)} s")

    result, wall, cpu = timed(lambda: scan(clip))
    found = result.cut_times
    matched = all(any(abs(f - t) <= 0.5 for f in found) for t in truth)
    spurious = [f for f in found if all(abs(f - t) > 0.5 for t in truth)]
    worst = max((min(abs(f - t) for f in found) for t in truth), default=float("nan"))
    base_s, base_per_frame, n = baseline(clip, args.baseline_pairs)
    print(
        f"\nkeyframes (auto): {cpu:.2f} s CPU ({wall:.2f} s wall), {result.decoded_frames} frames decoded, {len(result.samples)} thumbnails"
    )
    print(f"  cuts found: {', '.join(f'{f:g}' for f in found)} s")
    print(f"  every cut within +-0.5 s: {matched} (worst error {worst:.3f} s); spurious: {len(spurious)}")
    print(
        f"  baseline (full-res decode of all {n} frames, timed in full, + per-channel 7x7 SSIM, timed on {args.baseline_pairs} pairs and "
        f"extrapolated): {base_s:.1f} s CPU = {base_per_frame:.3f} s/frame"
    )
    print(f"  RATIO keyframe selection vs baseline: {base_s / cpu:.0f}x faster (target >= 100x)")

    from aurelia.media import prepare as prep_mod

    prep_mod._prepare_cached.cache_clear()
    _, wall, cpu = timed(lambda: prepare_media(str(clip)))
    print(f"\nprepare (probe + keyframes + audio + digest): {cpu:.2f} s CPU, {wall:.2f} s wall for 60 s of media")
    print(f"  RATIO vs real time: {60 / cpu:.0f}x on one core's CPU time, {60 / wall:.0f}x wall (target >= 10x)")

    fast, wall, cpu = timed(lambda: scan(clip, mode="fast"))
    print(f"\nfast mode keyframes: {cpu:.3f} s CPU ({wall:.3f} s wall), {fast.decoded_frames} frames decoded (stream keyframes only)")
    print(f"  RATIO vs real time: {60 / cpu:.0f}x (target >= 200x)")
    prep_mod._prepare_cached.cache_clear()
    _, wall, cpu = timed(lambda: prepare_media(str(clip), mode="fast"))
    print(f"  whole preparation in fast mode: {cpu:.2f} s CPU -> {60 / cpu:.0f}x real time (audio decode dominates)")

    mem = {}
    for minutes in (1, 10):
        path = work / f"small_{minutes}min.mp4"
        if not path.exists():
            print(f"\nwriting {path.name} (320x180, 30 fps)...", flush=True)
            make_clip(path, scenes(60.0 * minutes, 8 * minutes), size=(320, 180), fps=30, options={"preset": "ultrafast"})
        mem[minutes] = memory_of(path)
    r1, r10 = mem[1]["rss_kb"], mem[10]["rss_kb"]
    g1, g10 = r1 - mem[1]["rss_before_kb"], r10 - mem[10]["rss_before_kb"]
    for minutes, r, g in ((1, r1, g1), (10, r10, g10)):
        before = mem[minutes]["rss_before_kb"] / 1024
        heap = mem[minutes]["py_peak"] / 1e6
        growth = f"{g / 1024:.1f} MiB above {before:.0f} MiB after imports"
        print(f"\npeak memory preparing {minutes} min: {r / 1024:.0f} MiB RSS ({growth}); Python heap {heap:.1f} MB")
    heap_ratio = mem[10]["py_peak"] / mem[1]["py_peak"]
    ratios = f"{r10 / r1:.2f}x peak RSS, {g10 / max(g1, 1):.2f}x RSS growth, {heap_ratio:.2f}x Python heap"
    print(f"  RATIO 10 min / 1 min: {ratios} (target <= 1.5x)")


if __name__ == "__main__":
    from _docs import run as run_with_docs  # benchmarks/ is sys.path[0] when run as a script

    run_with_docs(main, "docs/performance.md")
