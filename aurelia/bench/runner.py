"""The benchmark runner: every sample zero-shot and with r*, for every target, resumable.

For each sample: r* from the run's store, the reasoning cache, or (on a miss) the reasoning-only
graph; then, for each target, the zero-shot answer (inject ``none``) and the answer with r* for
each inject mode; then the task's scoring (part 1's reader and metrics). Samples run
concurrently (an asyncio semaphore of ``concurrency``; graph calls through ``ainvoke``, whose
sync nodes LangGraph runs in threads; media work, target calls and SQLite writes in threads,
never on the event loop). Answers go to one queue per target: a local ``hf:`` model answers a
batch at a time through ``answer_batch``; a chat target answers up to ``concurrency`` calls at
once. Each finished record is written at once in its own transaction, so a rerun of the same
command skips what is done and a killed run loses only the samples in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from aurelia.bench.ablation import TAUS, distinct_reasonings, prefix, reasoning_hash
from aurelia.bench.cache import ReasoningCache, key_parts, prompts_fingerprint, reasoning_identity, reasoning_key
from aurelia.bench.manifest import Manifest, Sample, load_manifest
from aurelia.bench.metrics import is_correct, read_output
from aurelia.bench.store import DONE, FAILED, ResultStore, write_run_json
from aurelia.bench.tasks import Task, builtin_tasks
from aurelia.errors import AureliaError, InputError, describe_failure
from aurelia.graph.builder import build_graph
from aurelia.graph.context import Context
from aurelia.media.prepare import prepare_media
from aurelia.models.registry import RoleModel, as_role_model, validate_model_string
from aurelia.models.structured import total_usage
from aurelia.prompts.format import INJECT_MODES, dialog_question
from aurelia.run import check_review, make_context, make_inputs
from aurelia.targets import Target, TargetAnswer, TargetSample, TargetSettings, load_target
from aurelia.targets.chat import ChatTarget

ZERO_SHOT = "none"
REASONING_SOURCES = ("generate", "imported")
TARGET_SAMPLE_FIELDS = frozenset(f.name for f in fields(TargetSample))
TRAJECTORY_KEYS = ("iterations", "calls", "best_iteration", "reasoning_star", "stop_reason", "would_stop_at", "settings")

Progress = Callable[[dict[str, Any]], None]
TargetLike = str | BaseChatModel | RoleModel | Target


@dataclass
class Counts:
    """What one invocation did (a resumed run counts only its own work)."""

    samples_done: int = 0
    samples_skipped: int = 0  # nothing left to do (already done)
    samples_failed: int = 0  # some record of the sample failed in this invocation
    agent_calls: int = 0
    target_calls: int = 0
    reasoning_generated: int = 0
    reasoning_cached: int = 0  # r* read from the reasoning cache
    tokens: dict[str, int] = field(default_factory=dict)  # when the models report them

    def add_tokens(self, usage: Mapping[str, int] | None) -> None:
        self.tokens = total_usage([self.tokens, usage])

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class RunResult:
    """A finished invocation: the run folder, its counts and settings."""

    out: Path
    counts: Counts
    settings: dict[str, Any]
    results: int  # records in RUN/results.jsonl
    langsmith: dict[str, Any] | None = None  # what --langsmith recorded: dataset, experiments, runs, feedback


def describe(exc: BaseException) -> str:
    """One line for a failure recorded in a result: a typed error's own text, else type and message."""
    return str(exc) if isinstance(exc, AureliaError) else describe_failure(exc)


def bench_context(context: Context | Mapping[str, Any] | None = None, **overrides: Any) -> Context:
    """A validated reasoning Context; a setting this installed version lacks is an InputError
    (never silently dropped), and review is refused (a benchmark has no human in the loop)."""
    names = {f.name for f in fields(Context)}
    given = [] if context is None or isinstance(context, Context) else list(context)
    unknown = sorted({*given, *(k for k, v in overrides.items() if v is not None)} - names)
    if unknown:
        raise InputError(f"this installed version of aurelia has no run setting {', '.join(map(repr, unknown))} (not a Context field)")
    ctx = make_context(context, **overrides)
    check_review(ctx, True)
    return ctx


def early_stop(ctx: Context) -> bool:
    return bool(getattr(ctx, "early_stop", True))


def resolve_targets(targets: Sequence[TargetLike] | Mapping[str, TargetLike], settings: TargetSettings) -> dict[str, Target]:
    """Name -> Target. Model strings are checked before anything loads; a name given twice is an error."""
    items = list(targets.items()) if isinstance(targets, Mapping) else [(t if isinstance(t, str) else None, t) for t in targets]
    if not items:
        raise InputError("give at least one target model (--target)")
    for _, model in items:
        if isinstance(model, str):
            validate_model_string(model)
    out: dict[str, Target] = {}
    for name, model in items:
        target = model if isinstance(model, Target) else load_target(model, settings)
        name = name or target.name
        if name in out:
            raise InputError(f"target {name!r} given twice (pass a mapping of names to models to tell instances apart)")
        out[name] = target
    return out


def select_samples(manifest: Manifest, tasks: Sequence[str] | None, limit: int | None) -> list[Sample]:
    samples = manifest.samples
    if tasks:
        known = builtin_tasks()
        unknown = sorted(set(tasks) - set(known))
        if unknown:
            raise InputError(f"unknown task {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        samples = [s for s in samples if s.task in set(tasks)]
    if limit is not None:
        if limit < 1:
            raise InputError(f"--limit must be at least 1, got {limit}")
        samples = samples[:limit]
    if not samples:
        raise InputError("no samples left to run (check --tasks)", path=str(manifest.path))
    return samples


def inject_modes(inject: Sequence[str] | str) -> list[str]:
    """The zero-shot baseline first, then each requested inject mode once."""
    modes = [m.strip() for m in (inject.split(",") if isinstance(inject, str) else inject) if m.strip()]
    bad = [m for m in modes if m not in INJECT_MODES]
    if bad:
        raise InputError(f"inject must be some of {', '.join(INJECT_MODES)}, got {', '.join(bad)}")
    return list(dict.fromkeys([ZERO_SHOT, *modes]))


class TargetQueue:
    """One target's queue: answers a batch at a time (``workers`` batches at once)."""

    def __init__(self, name: str, target: Target, workers: int) -> None:
        self.name, self.target, self.workers = name, target, workers
        self.queue: asyncio.Queue[tuple[TargetSample, asyncio.Future[TargetAnswer]]] = asyncio.Queue()
        self.tasks: list[asyncio.Task] = []
        self.config = {"run_name": "target", "tags": ["aurelia-bench", f"target:{name}"]}

    def start(self) -> None:
        self.tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def answer(self, sample: TargetSample) -> TargetAnswer:
        future: asyncio.Future[TargetAnswer] = asyncio.get_running_loop().create_future()
        await self.queue.put((sample, future))
        return await future

    async def _work(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < self.target.settings.batch_size and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            samples = [s for s, _ in batch]
            started = time.perf_counter()
            try:
                answers = await asyncio.to_thread(self.target.answer_batch, samples, self.config)
            except Exception as exc:  # a batch that fails as a whole fails each of its samples
                answers = [self.target.failed(s, exc, started) for s in samples]
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)


class Tally:
    """Running accuracy per target (closed tasks): zero-shot and with r* (the first inject mode)."""

    def __init__(self, first_mode: str | None) -> None:
        self.first_mode = first_mode
        self.counts: dict[str, dict[str, list[int]]] = {}

    def add(self, record: Mapping[str, Any]) -> None:
        if record.get("correct") is None or record["inject"] not in (ZERO_SHOT, self.first_mode):
            return
        side = "zero_shot" if record["inject"] == ZERO_SHOT else "aurelia"
        pair = self.counts.setdefault(record["target"], {}).setdefault(side, [0, 0])
        pair[0] += bool(record["correct"])
        pair[1] += 1

    def accuracy(self) -> dict[str, dict[str, float]]:
        return {t: {side: round(c / n, 4) for side, (c, n) in sides.items() if n} for t, sides in self.counts.items()}


class Engine:
    """One invocation's work on a run folder (see the module docstring)."""

    def __init__(
        self,
        *,
        store: ResultStore,
        cache: ReasoningCache,
        reasoner: Callable[[dict[str, Any], Context], Any],
        targets: dict[str, Target],
        ctx: Context,
        modes: list[str],
        tasks: dict[str, Task],
        model_labels: dict[str, str],
        concurrency: int,
        ablate: bool,
        retry_failed: bool,
        source: str,
        reasoner_name: str,
        progress: Progress | None,
    ) -> None:
        self.store, self.cache, self.reasoner, self.targets, self.ctx = store, cache, reasoner, targets, ctx
        self.modes, self.tasks, self.model_labels = modes, tasks, model_labels
        self.concurrency, self.ablate, self.retry_failed = concurrency, ablate, retry_failed
        self.source, self.reasoner_name, self.progress = source, reasoner_name, progress
        self.counts = Counts()
        self.tally = Tally(next((m for m in modes if m != ZERO_SHOT), None))
        for record in store.results():
            self.tally.add(record)
        self.finished = 0
        self.total = 0
        self.queues: dict[str, TargetQueue] = {}

    # --- plumbing ---------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        if self.progress is not None:
            self.progress(event)

    def wanted(self, status: str | None) -> bool:
        return status is None or (status == FAILED and self.retry_failed)

    async def run(self, samples: list[Sample]) -> Counts:
        loop = asyncio.get_running_loop()
        workers = {name: self.concurrency if isinstance(t, ChatTarget) else 1 for name, t in self.targets.items()}
        loop.set_default_executor(ThreadPoolExecutor(max_workers=2 * self.concurrency + sum(workers.values()) + 4))
        self.queues = {name: TargetQueue(name, t, workers[name]) for name, t in self.targets.items()}
        for queue in self.queues.values():
            queue.start()
        self.total = len(samples)
        self.emit({"event": "start", "total": self.total, "targets": list(self.targets), "inject": self.modes})
        semaphore = asyncio.Semaphore(self.concurrency)
        try:
            await asyncio.gather(*(self.sample(semaphore, s, i) for i, s in enumerate(samples)))
        finally:
            for queue in self.queues.values():
                await queue.stop()
        return self.counts

    # --- one sample -------------------------------------------------------------------------

    async def sample(self, semaphore: asyncio.Semaphore, sample: Sample, order: int) -> None:
        async with semaphore:
            started = time.perf_counter()
            try:
                status = await self.work(sample, order)
            except Exception as exc:  # a bug must not stop the run: the sample is recorded as failed
                await asyncio.to_thread(self.store.fail_sample, sample.id, describe(exc))
                status = FAILED
            self.finished += 1
            if status == "skipped":
                self.counts.samples_skipped += 1
            elif status == FAILED:
                self.counts.samples_failed += 1
            else:
                self.counts.samples_done += 1
            self.emit(
                {
                    "event": "sample",
                    "id": sample.id,
                    "status": status,
                    "seconds": round(time.perf_counter() - started, 3),
                    "finished": self.finished,
                    "total": self.total,
                    "counts": self.counts.to_dict(),
                    "accuracy": self.tally.accuracy(),
                }
            )

    async def work(self, sample: Sample, order: int) -> str:
        """'skipped', 'done' or 'failed' for this sample in this invocation."""
        statuses = await asyncio.to_thread(self.store.statuses, sample.id)
        pairs = [(t, m) for t in self.targets for m in self.modes if self.wanted(statuses.get((t, m)))]
        trajectory = await asyncio.to_thread(self.store.trajectory, sample.id)
        if not pairs and (trajectory is None or not await self.ablation_jobs(sample, trajectory, pairs, statuses)):
            return "skipped"
        await asyncio.to_thread(self.store.add_sample, sample, order)
        unreasoned: str | None = None  # why r* records cannot be answered
        if trajectory is None and (any(m != ZERO_SHOT for _, m in pairs) or self.ablate):
            try:
                trajectory = await self.reasoning(sample)
            except Exception as exc:
                unreasoned = f"reasoning failed: {describe(exc)}"
                await asyncio.to_thread(self.store.fail_sample, sample.id, unreasoned)
        media, unreadable = None, None
        try:
            media = await asyncio.to_thread(
                prepare_media, sample.video, sample.audio, self.ctx.num_frames, audio_candidates=sample.audio_candidates
            )
        except Exception as exc:
            unreadable = describe(exc)
        jobs = []
        for target, mode in pairs:
            error = unreadable or (unreasoned if mode != ZERO_SHOT else None)
            jobs.append(self.answer(sample, target, mode, media, trajectory, error))
        if trajectory is not None and media is not None:
            for target, mode, h, r in await self.ablation_jobs(sample, trajectory, pairs, statuses):
                jobs.append(self.answer_ablation(sample, target, mode, media, h, r))
        records = await asyncio.gather(*jobs)
        return FAILED if any(r.get("error") for r in records) else DONE

    async def reasoning(self, sample: Sample) -> dict[str, Any]:
        """r* and its trajectory: imported with the sample, from the cache, or generated (then cached)."""
        if self.source == "imported":
            if sample.reasoning is None:
                raise InputError("the sample has no imported reasoning (--reasoning imported)")
            trajectory = {"iterations": [], "calls": [], "reasoning_star": sample.reasoning.model_dump(), "stop_reason": "imported"}
            await asyncio.to_thread(self.store.set_trajectory, sample.id, None, "imported", trajectory)
            return trajectory
        parts = await asyncio.to_thread(key_parts, sample, self.ctx, self.model_labels)
        key = reasoning_key(parts)
        trajectory = await asyncio.to_thread(self.cache.get, key)
        source = "cache"
        if trajectory is None:
            inputs = make_inputs(
                sample.video,
                dialog_question(sample.question, [t.model_dump() for t in sample.history or []]),
                sample.audio,
                sample.choices,
                sample.id,
                sample.audio_candidates,
            )
            result = await self.reasoner(inputs, self.ctx)
            trajectory = {k: result[k] for k in TRAJECTORY_KEYS if k in result}
            calls = trajectory.get("calls") or []
            self.counts.agent_calls += len(calls)
            self.counts.reasoning_generated += 1
            for call in calls:
                self.counts.add_tokens(call.get("usage"))
            await asyncio.to_thread(self.cache.put, key, trajectory, parts)
            source = self.reasoner_name
        else:
            self.counts.reasoning_cached += 1
        await asyncio.to_thread(self.store.set_trajectory, sample.id, key, source, trajectory)
        return trajectory

    def star(self, trajectory: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """r* for the configured (τ, T), and what it cost. Early stop off: the prefix that an
        early-stopping run would have made (the full trajectory serves the ablations)."""
        iterations = trajectory.get("iterations") or []
        p = prefix(trajectory, self.ctx.threshold, self.ctx.max_iterations) if iterations else None
        if p is None or early_stop(self.ctx):
            calls = trajectory.get("calls") or []
            info = {
                "best_iteration": trajectory.get("best_iteration"),
                "iterations_used": len(iterations),
                "reasoning_seconds": round(sum(c["seconds"] for c in calls), 3),
                "reasoning_calls": len(calls),
            }
            return trajectory["reasoning_star"], info
        info = {"best_iteration": p.best, "iterations_used": p.used, "reasoning_seconds": p.seconds, "reasoning_calls": p.calls}
        return p.reasoning, info

    # --- answers ----------------------------------------------------------------------------

    def answer_settings(self, sample: Sample) -> dict[str, Any]:
        """How the target is asked to answer, where this version's TargetSample takes it: the
        task's kind of open answer, and where r* goes (the context's ``inject_position``)."""
        out: dict[str, Any] = {}
        kind = self.tasks[sample.task].answer_kind
        if "answer_kind" in TARGET_SAMPLE_FIELDS and kind != "choice":
            out["answer_kind"] = kind
        if "inject_position" in TARGET_SAMPLE_FIELDS and hasattr(self.ctx, "inject_position"):
            out["inject_position"] = self.ctx.inject_position
        return out

    async def ask(self, sample: Sample, target: str, mode: str, media: Any, reasoning: dict[str, Any] | None) -> TargetAnswer | str:
        """The target's answer, or why the sample could not be put to it."""
        try:
            question = dialog_question(sample.question, [t.model_dump() for t in sample.history or []])
            ts = TargetSample(
                media, question, sample.choices, reasoning if mode != ZERO_SHOT else None, mode, sample.id, **self.answer_settings(sample)
            )
        except Exception as exc:
            return describe(exc)
        answer = await self.queues[target].answer(ts)
        self.counts.target_calls += 1
        self.counts.add_tokens(answer.usage)
        return answer

    def record(self, sample: Sample, target: str, mode: str, answer: TargetAnswer | str, **extra: Any) -> dict[str, Any]:
        """The stored record: the raw output, what part 1's reader makes of it, and whether it is right."""
        task = self.tasks[sample.task]
        head = {"id": sample.id, "task": sample.task, "category": sample.category, "target": target, "inject": mode}
        if isinstance(answer, str) or answer.error:
            error = answer if isinstance(answer, str) else answer.error
            return head | {"output": None, "parsed": None, "correct": None, "error": error} | extra
        parsed = read_output(answer.text, task.answer_kind, sample.choices)
        body = {
            "output": answer.text,
            "parsed": parsed,
            "correct": is_correct(parsed, task.answer_kind, sample.answer, sample.references or [], sample.choices),
            "error": None,
            "seconds": answer.seconds,
            "usage": answer.usage,
            "received": answer.received.labels(),
        }
        return head | body | extra

    async def answer(
        self, sample: Sample, target: str, mode: str, media: Any, trajectory: Mapping[str, Any] | None, error: str | None
    ) -> dict[str, Any]:
        reasoning, extra = (None, {}) if mode == ZERO_SHOT or trajectory is None else self.star(trajectory)
        if reasoning is not None:
            extra["rhash"] = reasoning_hash(reasoning)
        answer = error or await self.ask(sample, target, mode, media, reasoning)
        record = self.record(sample, target, mode, answer, **extra)
        await asyncio.to_thread(self.store.put_result, record)
        self.tally.add(record)
        return record

    async def ablation_jobs(
        self, sample: Sample, trajectory: Mapping[str, Any], pairs: list[tuple[str, str]], statuses: Mapping[tuple[str, str], str]
    ) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(target, mode, r* hash, r*) still to answer for the T/τ grid: each distinct r* once,
        less the r* that the main answer (being made now, or done) already gives."""
        if not self.ablate or not trajectory.get("iterations"):
            return []
        distinct = distinct_reasonings(trajectory, self.ctx.max_iterations, TAUS)
        main = reasoning_hash(self.star(trajectory)[0])
        done = await asyncio.to_thread(self.store.ablation_statuses, sample.id)
        jobs = []
        for target in self.targets:
            for mode in self.modes[1:]:
                for h, reasoning in distinct.items():
                    answered_by_main = h == main and ((target, mode) in pairs or statuses.get((target, mode)) == DONE)
                    if not answered_by_main and self.wanted(done.get((target, mode, h))):
                        jobs.append((target, mode, h, reasoning))
        return jobs

    async def answer_ablation(self, sample: Sample, target: str, mode: str, media: Any, h: str, reasoning: dict) -> dict[str, Any]:
        answer = await self.ask(sample, target, mode, media, reasoning)
        record = self.record(sample, target, mode, answer, rhash=h)
        await asyncio.to_thread(self.store.put_ablation, ablation_copy(record))
        return record


ABLATION_FIELDS = ("id", "task", "target", "inject", "rhash", "output", "parsed", "correct", "error", "seconds", "usage")


def ablation_copy(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ABLATION_FIELDS}


def local_reasoner(models: Mapping[str, BaseChatModel | RoleModel] | None) -> Callable[[dict[str, Any], Context], Any]:
    """The reasoning-only graph in this process, shared by every sample (``ainvoke``)."""
    graph = build_graph(models=models, reasoning_only=True)

    async def reason(inputs: dict[str, Any], ctx: Context) -> dict[str, Any]:
        config = {"run_name": "aurelia-bench", "tags": ["aurelia", "aurelia-bench"], "metadata": {"sample_id": inputs.get("sample_id")}}
        return await graph.ainvoke(inputs, config=config, context=ctx)

    return reason


def run_benchmark(
    manifest: str | Path | Manifest,
    targets: Sequence[TargetLike] | Mapping[str, TargetLike],
    out: str | Path,
    *,
    context: Context | Mapping[str, Any] | None = None,
    models: Mapping[str, BaseChatModel | RoleModel] | None = None,
    inject: Sequence[str] | str = ("steps",),
    tasks: Sequence[str] | None = None,
    limit: int | None = None,
    concurrency: int = 4,
    ablate: bool = False,
    cache: str | Path | None = None,
    retry_failed: bool = False,
    media_root: str | Path | None = None,
    skip_invalid: bool = False,
    reasoning: str = "generate",
    server: str | None = None,
    server_graph: str = "aurelia_reasoning",
    langsmith: bool = False,
    target_settings: TargetSettings | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Run (or resume) a benchmark into the folder ``out``; see the module docstring.

    ``targets``: model strings, chat models or Targets (a mapping names them). ``context``:
    the agents' settings (τ, T, model per role, prompt set, …); ``models``: agent chat model
    instances by role, named in the cache key by their label. ``inject``: the inject modes
    answered besides the zero-shot baseline. ``reasoning='imported'`` uses each sample's
    imported r* instead of generating one. ``server``: send the reasoning runs to a LangGraph
    server (its ``server_graph``). ``langsmith`` records the finished run in LangSmith (a
    dataset and one experiment per target and inject mode). ``progress`` receives one event
    dict per finished sample.
    """
    if concurrency < 1:
        raise InputError(f"--concurrency must be at least 1, got {concurrency}")
    if reasoning not in REASONING_SOURCES:
        raise InputError(f"reasoning must be one of {', '.join(REASONING_SOURCES)}, got {reasoning!r}")
    ctx = bench_context(context)
    if ablate and early_stop(ctx):
        raise InputError("--ablate reads the T/τ runs off full trajectories: add --no-early-stop")
    if ablate and reasoning == "imported":
        raise InputError("--ablate needs generated trajectories, not an imported r*")
    if langsmith:
        from aurelia.bench.experiments import check_langsmith

        check_langsmith()
    modes = inject_modes(inject)
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(manifest, media_root, skip_invalid=skip_invalid)
    samples = select_samples(manifest, tasks, limit)
    labels = {role: as_role_model(m, name=f"{role}-instance").spec.label for role, m in (models or {}).items()}
    resolved = resolve_targets(targets, target_settings or TargetSettings())
    if server:
        from aurelia.bench.remote import server_reasoner

        reasoner, reasoner_name = server_reasoner(server, server_graph), "server"
    else:
        reasoner, reasoner_name = local_reasoner(models), "graph"
    out = Path(out).expanduser()
    store = ResultStore(out)
    reasoning_cache = ReasoningCache(cache)
    settings = {
        "manifest": str(manifest.path),
        "media_root": str(manifest.root),
        "targets": list(resolved),
        "targets_described": {n: t.describe() for n, t in resolved.items()},
        "inject": modes,
        "tasks": list(tasks) if tasks else None,
        "limit": limit,
        "samples": len(samples),
        "concurrency": concurrency,
        "ablate": ablate,
        "retry_failed": retry_failed,
        "reasoning": reasoning,
        "server": server,
        "cache": str(reasoning_cache.path),
        "context": {f.name: getattr(ctx, f.name) for f in fields(Context)},
        "model_instances": labels,
        "prompts_fingerprint": prompts_fingerprint(),
    }
    engine = Engine(
        store=store,
        cache=reasoning_cache,
        reasoner=reasoner,
        targets=resolved,
        ctx=ctx,
        modes=modes,
        tasks=builtin_tasks(),
        model_labels=labels,
        concurrency=concurrency,
        ablate=ablate,
        retry_failed=retry_failed,
        source=reasoning,
        reasoner_name=reasoner_name,
        progress=progress,
    )
    try:
        store.check_reasoning_settings(reasoning_identity(ctx, labels, reasoning))
    except InputError:
        store.close()
        reasoning_cache.close()
        raise
    if ablate:
        store.set_meta("ablate", True)  # the report builds Tables 5-6 (also when every r* is the main one)
    write_run_json(out, settings, Counts().to_dict(), "running")
    status = "interrupted"
    try:
        counts = run_async(engine.run(samples))
        status = "finished"
    finally:
        write_run_json(out, settings, engine.counts.to_dict(), status)
        n = len(store.results())
        store.export_results()
        store.close()
        reasoning_cache.close()
    engine.emit({"event": "end", "counts": counts.to_dict(), "run": str(out)})
    recorded = None
    if langsmith:
        from aurelia.bench.experiments import record_in_langsmith

        recorded = record_in_langsmith(out)
    return RunResult(out, counts, settings, n, recorded)


def run_async(coro: Any) -> Any:
    """Run a coroutine to the end, also from a thread that already runs an event loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
