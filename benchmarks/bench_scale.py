"""How close a benchmark run comes to its I/O floor as concurrency grows, and a 1M-line manifest.

A benchmark is I/O-bound: with every model behind an OpenAI-compatible server that answers each
call after ``--latency`` seconds, its floor is (model calls × latency) / concurrency. Every sample
here meets τ at iteration 1, so it makes 3 agent calls (generator, summarizer, evaluator) and 2
target calls (zero-shot and with r*): floor = samples / concurrency × 5 × latency, the issue's
formula, as if every call waited for the one before. The engine asks the two answers at once,
so a sample's own critical path is 4 calls: ``path`` = samples / concurrency × 4 × latency, and
``vs path`` = path / wall is how close the run comes to what its own design allows. Each point runs ``run_benchmark`` with all four roles named by URL — the code path of
``aurelia bench run --target URL --generator URL …`` — in a fresh child process, against a server
in another child process (so the server's own CPU is not counted), and reports:

- wall: seconds from the run's ``start`` event to its return (the export included);
- efficiency: floor / wall (goals: ≥ 0.9 at concurrency 64 and ≥ 0.8 at 256, 512 samples;
  wall at 256 at most 0.6 × wall at 64);
- CPU per request: the run process's user + system CPU over the same span / requests served
  (goal: ≤ 4 ms at 256);
- peak RSS of the run process (VmHWM; goal: ≤ 400 MB at 256).

Then the 1,000,000-line manifest of ``benchmarks/manifest_scale.py``: validated (goal: < 60 s,
< 500 MB) and run for a while with memory sampled every second (goal: flat).

The last point, ``256:512:2``, runs two runs side by side (256 samples, 128 in flight each): what
sharding one run over the two cores of this machine could at best give.

    python benchmarks/bench_scale.py [--latency 0.5] [--points 16:64,64:512,256:512,256:512:2] [--lines 1000000] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CALLS_PER_SAMPLE = 5  # 3 agent calls (τ met at iteration 1) + 2 target calls
CALLS_ON_PATH = 4  # the engine asks the two target answers at once: 3 agent calls, then both answers
REPLIES = {
    "generator": '{"steps": [{"step": "Watch the end of the clip", "answer": "blue"}], "final_answer": "blue"}',
    "summarizer": "A red frame with a tone, then a blue frame in silence.",
    "evaluator": '{"score": 8, "rationale": "matches"}',
    "target": "B",
}


def _completion(model: str, content: str) -> bytes:
    body = {
        "id": "chatcmpl-scale", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }  # fmt: skip
    return json.dumps(body).encode()


async def _serve_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float, served: list[int]) -> None:
    """HTTP/1.1 with keep-alive: each POST is answered after ``latency`` seconds by its model name."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            if lines[0].startswith("GET /served"):
                payload = json.dumps({"served": served[0]}).encode()
            else:
                model = json.loads(body)["model"]
                await asyncio.sleep(latency)
                served[0] += 1
                payload = _completion(model, REPLIES[model])
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(latency: float) -> None:
    served = [0]
    server = await asyncio.start_server(lambda r, w: _serve_one(r, w, latency, served), "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def _peak_mib() -> float:
    with open(f"/proc/{os.getpid()}/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))


def _child_run(url: str, manifest: str, out: str, concurrency: int) -> dict[str, Any]:
    """One run with every role served at ``url``; CPU and wall from its ``start`` event."""
    from aurelia.bench import run_benchmark

    os.environ.setdefault("OPENAI_API_KEY", "not-used")
    context = {f"{role}_model": f"{url}?model={role}" for role in ("generator", "summarizer", "evaluator")}
    marks: dict[str, float] = {}

    def progress(event: dict[str, Any]) -> None:
        if event["event"] == "start":
            usage = resource.getrusage(resource.RUSAGE_SELF)
            marks.update(wall=time.perf_counter(), cpu=usage.ru_utime + usage.ru_stime, sys=usage.ru_stime)

    result = run_benchmark(
        manifest, {"t": f"{url}?model=target"}, out, context=context, cache=f"{out}.cache.sqlite", concurrency=concurrency,
        progress=progress,
    )  # fmt: skip
    usage = resource.getrusage(resource.RUSAGE_SELF)
    counts = result.counts.to_dict()
    return {
        "wall": time.perf_counter() - marks["wall"],
        "cpu": usage.ru_utime + usage.ru_stime - marks["cpu"],
        "sys": usage.ru_stime - marks["sys"],
        "peak_rss_mib": _peak_mib(),
        "done": counts["samples_done"],
        "failed": counts.get("samples_failed", 0),
        "calls": counts["agent_calls"] + counts["target_calls"],
    }


def _served(port: int) -> int:
    import httpx

    return httpx.get(f"http://127.0.0.1:{port}/served").json()["served"]


def measure_point(concurrency: int, samples: int, latency: float, folder: Path, shards: int = 1) -> dict[str, Any]:
    """Run ``samples`` samples at ``concurrency`` against a fresh server; the figures of one row.
    ``shards`` > 1: that many runs side by side, each of samples / shards at concurrency / shards
    (what sharding one run over processes could at best give): wall is the longest, CPU and peak
    RSS the sums."""
    from manifest_scale import write_manifest

    sub = folder / f"c{concurrency}_{samples}x{shards}"
    sub.mkdir()
    manifests = []
    for k in range(shards):
        (sub / str(k)).mkdir()
        manifests.append(write_manifest(sub / str(k), samples // shards))
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(latency)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/v1"
        runs = [
            subprocess.Popen(
                [sys.executable, __file__, "--child", url, str(m), str(sub / str(k) / "run"), str(concurrency // shards)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for k, m in enumerate(manifests)
        ]  # fmt: skip
        parts = []
        for run in runs:
            out, err = run.communicate(timeout=1800)
            if run.returncode != 0:
                raise SystemExit(f"the run at concurrency {concurrency} failed ({run.returncode}):\n{out[-1000:]}{err[-3000:]}")
            parts.append(json.loads(out.strip().splitlines()[-1]))
        row = {"wall": max(p["wall"] for p in parts), "shards": shards}
        row |= {key: sum(p[key] for p in parts) for key in ("cpu", "sys", "peak_rss_mib", "done", "failed", "calls")}
        row["requests"] = _served(port)
    finally:
        server.terminate()
        server.wait()
    floor = samples / concurrency * CALLS_PER_SAMPLE * latency
    path = samples / concurrency * CALLS_ON_PATH * latency
    row |= {"concurrency": concurrency, "samples": samples, "floor": floor, "efficiency": floor / row["wall"], "path": path}
    row["cpu_ms_per_request"] = 1000 * row["cpu"] / max(row["requests"], 1)
    return row


def print_rows(rows: list[dict[str, Any]], latency: float) -> None:
    print(f"every model call answered after {latency} s by a server on 127.0.0.1; {os.cpu_count()} cores")
    print("concurrency  samples  requests  floor s  wall s  efficiency  path s  vs path  CPU s (sys)  CPU ms/request  peak RSS MiB")
    for r in rows:
        label = f"{r['concurrency']}" if r["shards"] == 1 else f"{r['concurrency']} ({r['shards']}x{r['concurrency'] // r['shards']})"
        print(
            f"{label:>11}  {r['samples']:>7}  {r['requests']:>8}  {r['floor']:>7.1f}  {r['wall']:>6.1f}  {r['efficiency']:>10.2f}"
            f"  {r['path']:>6.1f}  {r['path'] / r['wall']:>7.2f}"
            f"  {r['cpu']:>5.1f} ({r['sys']:.1f})  {r['cpu_ms_per_request']:>14.1f}  {r['peak_rss_mib']:>12.0f}"
        )
        if r["done"] != r["samples"] or r["requests"] != r["samples"] * CALLS_PER_SAMPLE:
            print(f"  !! {r['done']} of {r['samples']} samples done, {r['failed']} failed, {r['requests']} requests")
    if any(r["shards"] > 1 for r in rows):
        print("(NxC: N runs side by side, C in flight each, against one server; CPU and peak RSS summed)")
    by = {(r["concurrency"], r["samples"]): r for r in rows if r["shards"] == 1}
    if (64, 512) in by and (256, 512) in by:
        ratio = by[256, 512]["wall"] / by[64, 512]["wall"]
        print(f"wall at 256 / wall at 64 (512 samples): {ratio:.2f} (goal <= 0.6)")
    print("goals: efficiency >= 0.9 at 64 and >= 0.8 at 256; <= 4 ms CPU per request and <= 400 MB peak RSS at 256")


def print_manifest(lines: int) -> None:
    from manifest_scale import measure_manifest

    m = measure_manifest(lines)
    v, r = m["validate"], m["run"]
    print(f"manifest of {m['lines']:,} lines ({m['manifest_mib']} MiB): validated in {v['seconds']} s, peak RSS {v['peak_rss_mib']} MiB")
    print("  (goal: < 60 s and < 500 MB)")
    rss = r["rss_mib"]
    print(
        f"  run over it for 20 s: {r['samples_done']} samples; RSS {rss[0] if rss else '?'} MiB at the start, "
        f"{rss[-1] if rss else '?'} MiB at the end, {r['steady_growth_mib']} MiB growth after the first quarter (goal: flat)"
    )


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        asyncio.run(_serve(float(sys.argv[2])))
        return
    if sys.argv[1:2] == ["--child"]:
        url, manifest, out, concurrency = sys.argv[2:6]
        print(json.dumps(_child_run(url, manifest, out, int(concurrency))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.5, help="seconds the server takes to answer each call")
    parser.add_argument(
        "--points", default="16:64,64:512,256:512,256:512:2",
        help="concurrency:samples[:shards] points, comma-separated (shards: runs side by side, see measure_point)",
    )  # fmt: skip
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines of the big manifest (0: skip it)")
    opts = parser.parse_args()
    points = [tuple(map(int, p.split(":"))) for p in opts.points.split(",") if p]
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure_point(*point[:2], opts.latency, Path(tmp), *point[2:]) for point in points]
    print_rows(rows, opts.latency)
    if opts.lines:
        print_manifest(opts.lines)


if __name__ == "__main__":
    from _docs import run as run_with_docs  # benchmarks/ is sys.path[0] when run as a script

    run_with_docs(main, "docs/performance.md", "benchmarks/bench_scale.py")
