"""One invocation's work on a run folder: each sample's r*, its answers and their records.

For each sample: r* from the run's store, the reasoning cache, or (on a miss) the reasoning
graph; then, for each target, the zero-shot answer (inject ``none``), the answer with r* for
each inject mode and the controls asked for (``cot``, ``sc``: see :mod:`aurelia.bench.controls`);
then part 1's reader and verdict. Placebo answers come last, once every r* is made (each sample
gets another's). Samples run concurrently (an asyncio
semaphore; graph calls through ``ainvoke``, whose agent nodes run on the event loop, or in a
thread for a model run in this process; media
work (one measurement per clip at a time) and local target calls in threads, every SQLite call on
the run's one store thread, never on the event loop). Answers go to
one queue per target: a local ``hf:`` model answers a batch at a time through ``answer_batch``
in a thread; a chat target answers up to ``concurrency`` × (modes asked) calls at once on the event loop
(``aanswer_batch``: async requests, no thread per call). Each finished record is written at once
in its own transaction.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sized
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from itertools import islice
from typing import Any, TypeVar, cast

from aurelia.bench.ablation import TAUS, distinct_reasonings, prefix, reasoning_hash
from aurelia.bench.cache import ReasoningCache, key_parts, reasoning_key
from aurelia.bench.controls import COT, PLACEBO, SC, STAR_MODES, Controls, placebo_donors, vote
from aurelia.bench.manifest import Sample
from aurelia.bench.metrics import final_answer_text, is_correct, read_output
from aurelia.bench.offloop import SingleFlight, StoreThread
from aurelia.bench.store import DONE, FAILED, ResultStore
from aurelia.bench.tasks import CLOSED_KINDS, Task, target_instruction
from aurelia.bench.trajectory import trajectory_of, trajectory_problem
from aurelia.errors import AureliaError, InputError, ModelCallError, describe_failure
from aurelia.graph.context import Context
from aurelia.media.prepare import prepare_media
from aurelia.models.retry import close_loop_transports
from aurelia.models.structured import total_usage
from aurelia.prompts.format import dialog_question
from aurelia.run import make_inputs
from aurelia.targets import Target, TargetAnswer, TargetSample
from aurelia.targets.chat import ChatTarget

ZERO_SHOT = "none"
REPEAT = "repeat"  # the variants key of --repeats' seeded twins

Progress = Callable[[dict[str, Any]], None]
Reasoner = Callable[[dict[str, Any], Context], Any]
T = TypeVar("T")


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


def describe(exc: BaseException) -> str:
    """One line for a failure recorded in a result: a typed error's own text, else type and message."""
    return str(exc) if isinstance(exc, AureliaError) else describe_failure(exc)


class TargetQueue:
    """One target's queue: a local model answers a batch at a time in a thread (``workers``
    batches at once); a chat target answers each sample as it comes, on the event loop
    (:meth:`~aurelia.targets.chat.ChatTarget.aanswer_batch`, ``workers`` at once): no batching
    to wait for and no thread per call."""

    def __init__(self, name: str, target: Target, workers: int) -> None:
        self.name, self.target, self.workers = name, target, workers
        self.queue: asyncio.Queue[tuple[Target, TargetSample, asyncio.Future[TargetAnswer]]] = asyncio.Queue()
        self.tasks: list[asyncio.Task] = []
        self.config = {"run_name": "target", "tags": ["aurelia-bench", f"target:{name}"]}
        self.direct = isinstance(target, ChatTarget)
        self.slots = asyncio.Semaphore(workers)

    def start(self) -> None:
        if not self.direct:
            self.tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def answer(self, sample: TargetSample, variant: Target | None = None) -> TargetAnswer:
        """The target's answer; ``variant``: the same model with other generation settings (see
        :meth:`~aurelia.targets.Target.variant`), answered in batches of its own."""
        if self.direct:
            async with self.slots:
                return (await self._answer(variant or self.target, [sample]))[0]
        future: asyncio.Future[TargetAnswer] = asyncio.get_running_loop().create_future()
        await self.queue.put((variant or self.target, sample, future))
        return await future

    async def _answer(self, target: Target, samples: list[TargetSample]) -> list[TargetAnswer]:
        """The answers; a batch that fails as a whole fails each of its samples."""
        started = time.perf_counter()
        try:
            return await target.aanswer_batch(samples, self.config)
        except Exception as exc:
            return [target.failed(s, exc, started) for s in samples]

    async def _work(self) -> None:
        held = None  # the first item of another variant: the next batch starts with it
        while True:
            first = held or await self.queue.get()
            held, batch = None, [first]
            target = first[0]
            while len(batch) < target.settings.batch_size and not self.queue.empty():
                item = self.queue.get_nowait()
                if item[0] is not target:
                    held = item
                    break
                batch.append(item)
            answers = await self._answer(target, [s for _, s, _ in batch])  # a local model's: in a thread
            for (_, _, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)


class AccuracyTally:
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


@dataclass(frozen=True)
class Plan:
    """What an invocation does, fixed before it starts."""

    ctx: Context  # the agents' settings (τ, T, models, …)
    modes: list[str]  # inject modes, zero-shot first
    tasks: dict[str, Task]
    model_labels: dict[str, str]  # agent model instances by role (part of the cache key)
    concurrency: int
    ablate: bool
    retry_failed: bool
    source: str  # "generate" or "imported"
    full_trajectories: bool  # early stop off: r* of the run's (τ, T) is a prefix of the trajectory
    controls: Controls = field(default_factory=Controls)  # cot, sc and placebo: K, temperature, seed
    repeats: int = 1  # answers per record at the target's temperature, seeds controls.seed … + repeats - 1

    def repeat_seeds(self) -> list[int]:
        return [self.controls.seed + k for k in range(self.repeats)]


class Engine:
    """One invocation's work on a run folder (see the module docstring)."""

    def __init__(
        self,
        plan: Plan,
        *,
        store: ResultStore,
        cache: ReasoningCache,
        reasoner: Reasoner,
        reasoner_name: str,
        targets: dict[str, Target],
        progress: Progress | None,
    ) -> None:
        self.plan, self.ctx, self.modes = plan, plan.ctx, plan.modes
        self.store, self.cache, self.reasoner, self.reasoner_name = store, cache, reasoner, reasoner_name
        self.targets, self.progress = targets, progress
        self.counts = Counts()
        self.tally = AccuracyTally(next((m for m in self.modes if m in STAR_MODES), next((m for m in self.modes if m != ZERO_SHOT), None)))
        for record in store.iter_results():  # streamed: a million records are never held
            self.tally.add(record)
        self.finished = 0
        self.total = 0
        self.queues: dict[str, TargetQueue] = {}
        self.variants: dict[tuple[str, str], list[Target]] = {}  # (target, cot or sc) -> the targets that answer it
        # sample id -> skipped, done or failed in this invocation: kept only with placebo (its answers, made
        # after every sample, may change a sample's count), so that a million samples hold no million entries
        self.outcomes: dict[str, str] = {}
        self.io = StoreThread()  # every SQLite call of the run, on one thread (see run)
        self.measuring: SingleFlight[Any] = SingleFlight()  # one measurement per clip at a time

    # --- plumbing ---------------------------------------------------------------------------

    def emit(self, event: dict[str, Any]) -> None:
        if self.progress is not None:
            self.progress(event)

    def wanted(self, status: str | None) -> bool:
        return status is None or (status == FAILED and self.plan.retry_failed)

    async def run(self, samples: Iterable[Sample], total: int | None = None) -> Counts:
        """Run the samples (a list, or a streamed :class:`~aurelia.bench.runner.Selection`):
        ``concurrency`` workers each take the next sample when done with one, so that only a
        bounded number is ever read ahead or in flight; ``total`` (default: ``len(samples)``)
        is the progress events' total."""
        loop = asyncio.get_running_loop()
        # every sample in flight asks each of its modes at once: a chat target with fewer slots than
        # that would answer a sample's zero-shot and r* calls one after the other (a latency more)
        asked = self.plan.concurrency * max(1, sum(m != PLACEBO for m in self.modes))
        workers = {name: asked if isinstance(t, ChatTarget) else 1 for name, t in self.targets.items()}
        threads = sum(w for name, w in workers.items() if not isinstance(self.targets[name], ChatTarget))
        loop.set_default_executor(ThreadPoolExecutor(max_workers=2 * self.plan.concurrency + threads + 4))
        self.queues = {name: TargetQueue(name, t, workers[name]) for name, t in self.targets.items()}
        self.variants = self.control_variants()
        for queue in self.queues.values():
            queue.start()
        self.total = len(cast(Sized, samples)) if total is None else total
        self.emit({"event": "start", "total": self.total, "targets": list(self.targets), "inject": self.modes})
        semaphore = asyncio.Semaphore(self.plan.concurrency)
        try:
            await self.pool(enumerate(samples), lambda item: self.sample(semaphore, item[1], item[0]))
            await self.placebo(semaphore, samples)  # once every r* of this invocation is made
        finally:
            for queue in self.queues.values():
                await queue.stop()
            if (close := getattr(self.reasoner, "aclose", None)) is not None:  # a --server client's connections
                await close()
            await asyncio.to_thread(self.io.close)  # the writes already asked land before the store closes
            self.io = StoreThread()
            await close_loop_transports()  # the model clients' kept-alive connections end with the run
        return self.counts

    async def pool(self, items: Iterable[T], work: Callable[[T], Awaitable[None]]) -> None:
        """``work`` on each item by ``concurrency`` workers, each taking the next item when done
        with one; items are read off the event loop (a manifest is read from disk), a worker's
        worth at a time. One task per worker, never one per item: a million samples cost no more
        memory than ``concurrency`` of them. A failure to read the items stops every worker."""
        source = iter(items)
        ahead: deque[T] = deque()
        lock = asyncio.Lock()
        chunk = self.plan.concurrency

        async def take() -> tuple[bool, T | None]:
            async with lock:
                if not ahead:
                    ahead.extend(await asyncio.to_thread(lambda: list(islice(source, chunk))))
                return (True, ahead.popleft()) if ahead else (False, None)

        async def worker() -> None:
            while True:
                found, item = await take()
                if not found:
                    return
                await work(cast(T, item))

        tasks = [asyncio.create_task(worker()) for _ in range(self.plan.concurrency)]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if (exc := task.exception()) is not None:
                    raise exc
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- one sample -------------------------------------------------------------------------

    async def sample(self, semaphore: asyncio.Semaphore, sample: Sample, order: int) -> None:
        async with semaphore:
            started = time.perf_counter()
            try:
                status = await self.work(sample, order)
            except Exception as exc:  # a bug must not stop the run: the sample is recorded as failed
                await self.io(self.store.fail_sample, sample.id, describe(exc))
                status = FAILED
            self.finished += 1
            self.recount(sample.id, status)
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

    def recount(self, sample_id: str, status: str) -> None:
        """Count the sample as skipped, done or failed (a placebo answered after it may change that)."""
        before = self.outcomes.get(sample_id)
        if before is not None:
            field_name = "samples_skipped" if before == "skipped" else f"samples_{before}"
            setattr(self.counts, field_name, getattr(self.counts, field_name) - 1)
        if PLACEBO in self.modes:
            self.outcomes[sample_id] = status
        field_name = "samples_skipped" if status == "skipped" else f"samples_{status}"
        setattr(self.counts, field_name, getattr(self.counts, field_name) + 1)

    def control_variants(self) -> dict[tuple[str, str], list[Target]]:
        """Each target's twins for the controls: a longer reply for cot, K seeded samplers for sc;
        with ``--repeats`` R, R seeded twins (at the target's own temperature) for every other mode."""
        c, repeats = self.plan.controls, self.plan.repeats
        out: dict[tuple[str, str], list[Target]] = {}
        for name, target in self.targets.items():
            if COT in self.modes:
                cot = {"max_new_tokens": c.cot_max_tokens}
                out[(name, COT)] = (
                    [target.variant(**cot, seed=s) for s in self.plan.repeat_seeds()] if repeats > 1 else [target.variant(**cot)]
                )
            if repeats > 1:
                out[(name, REPEAT)] = [target.variant(seed=s) for s in self.plan.repeat_seeds()]
            if SC in self.modes:
                out[(name, SC)] = [target.variant(do_sample=True, temperature=c.sc_temperature, seed=s) for s in c.sc_seeds()]
        return out

    async def media(self, sample: Sample) -> tuple[Any, str | None]:
        """The sample's media (probed, regular files, PyAV: before anything hashes them for the
        cache key), or why they cannot be read."""
        candidates = sample.audio_candidates
        key = (sample.video, sample.audio, tuple(candidates or ()), self.ctx.num_frames)
        try:  # samples of one clip asking at once share one measurement (a failure fails them all)
            media, first = await self.measuring.run(
                key, prepare_media, sample.video, sample.audio, self.ctx.num_frames, audio_candidates=candidates
            )
        except Exception as exc:
            return None, describe(exc)
        return (media if first else copy.deepcopy(media)), None

    async def work(self, sample: Sample, order: int) -> str:
        """'skipped', 'done' or 'failed' for this sample in this invocation (placebo comes later)."""
        statuses = await self.io(self.store.statuses, sample.id)
        pairs = [(t, m) for t in self.targets for m in self.modes if m != PLACEBO and self.wanted(statuses.get((t, m)))]
        trajectory = await self.io(self.store.trajectory, sample.id)
        # placebo still to answer: this sample's r* is made too (it is a donor, and compared with)
        for_placebo = trajectory is None and PLACEBO in self.modes
        for_placebo = for_placebo and any(self.wanted(statuses.get((t, PLACEBO))) for t in self.targets)
        if not pairs and not for_placebo and (trajectory is None or not await self.ablation_jobs(sample, trajectory, pairs, statuses)):
            return "skipped"
        await self.io(self.store.add_sample, sample, order)
        media, unreadable = await self.media(sample)
        unreasoned: str | None = None  # why r* records cannot be answered
        if unreadable is not None:
            if trajectory is None:  # no reasoning without readable media (the graph would refuse them too)
                await self.io(self.store.fail_sample, sample.id, unreadable)
        elif trajectory is None and (any(m in STAR_MODES for _, m in pairs) or for_placebo or self.plan.ablate):
            try:
                trajectory = await self.reasoning(sample)
            except Exception as exc:
                unreasoned = f"reasoning failed: {describe(exc)}"
                await self.io(self.store.fail_sample, sample.id, unreasoned)
        jobs = []
        for target, mode in pairs:
            error = unreadable or (unreasoned if mode in STAR_MODES else None)
            jobs.append(self.answer(sample, target, mode, media, trajectory, error))
        if trajectory is not None and media is not None:
            for target, mode, h, r in await self.ablation_jobs(sample, trajectory, pairs, statuses):
                jobs.append(self.answer_ablation(sample, target, mode, media, h, r))
        records = await asyncio.gather(*jobs)
        return FAILED if any(r.get("error") for r in records) else DONE

    async def reasoning(self, sample: Sample) -> dict[str, Any]:
        """r* and its trajectory: imported with the sample, from the cache, or generated (then cached)."""
        if self.plan.source == "imported":
            if sample.reasoning is None:
                raise InputError("the sample has no imported reasoning (--reasoning imported)")
            trajectory = {"iterations": [], "calls": [], "reasoning_star": sample.reasoning.model_dump(), "stop_reason": "imported"}
            await self.io(self.store.set_trajectory, sample.id, None, "imported", trajectory)
            return trajectory
        parts = await asyncio.to_thread(key_parts, sample, self.ctx, self.plan.model_labels)
        key = reasoning_key(parts)
        trajectory = await self.io(self.cache.get, key)
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
            result = await self.reasoner(inputs, replace(self.ctx))  # a fresh Context: run_budget is per sample
            if problem := trajectory_problem(result):  # checked before anything is cached or stored
                raise ModelCallError(f"the reasoning {self.reasoner_name} replied with no usable trajectory: {problem}")
            trajectory = trajectory_of(result)
            calls = trajectory.get("calls") or []
            self.counts.agent_calls += len(calls)
            self.counts.reasoning_generated += 1
            for call in calls:
                self.counts.add_tokens(call.get("usage"))
            await self.io(self.cache.put, key, trajectory, parts)
            source = self.reasoner_name
        else:
            self.counts.reasoning_cached += 1
        await self.io(self.store.set_trajectory, sample.id, key, source, trajectory)
        return trajectory

    def star(self, trajectory: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """r* for the configured (τ, T), and what it cost. Early stop off: the prefix that an
        early-stopping run would have made (the full trajectory serves the ablations)."""
        iterations = trajectory.get("iterations") or []
        p = prefix(trajectory, self.ctx.threshold, self.ctx.max_iterations) if iterations else None
        if p is None or not self.plan.full_trajectories:
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
        """How the target is asked to answer: the task's own instruction (with its answer set),
        its kind of open answer (multiple choice always answers with a letter), and where r*
        goes (the context's ``inject_position``)."""
        task = self.plan.tasks[sample.task]
        kind = "short" if task.answer_kind == "choice" else task.answer_kind
        return {"answer_kind": kind, "inject_position": self.ctx.inject_position, "instruction": target_instruction(task)}

    async def ask(
        self, sample: Sample, target: str, mode: str, media: Any, reasoning: dict[str, Any] | None, variant: Target | None = None
    ) -> TargetAnswer | str:
        """The target's answer, or why the sample could not be put to it. The controls' prompts:
        cot its own, sc the zero-shot one (sampled by ``variant``), placebo that of ``steps``."""
        prompt_mode = {SC: ZERO_SHOT, PLACEBO: "steps"}.get(mode, mode)
        if mode == COT and variant is None:
            variant = self.variants[(target, COT)][0]
        try:
            question = dialog_question(sample.question, [t.model_dump() for t in sample.history or []])
            ts = TargetSample(
                media, question, sample.choices, reasoning if prompt_mode in STAR_MODES else None, prompt_mode, sample.id,
                **self.answer_settings(sample),
            )  # fmt: skip
        except Exception as exc:
            return describe(exc)
        answer = await self.queues[target].answer(ts, variant)
        self.counts.target_calls += 1
        self.counts.add_tokens(answer.usage)
        return answer

    def record(self, sample: Sample, target: str, mode: str, answer: TargetAnswer | str, **extra: Any) -> dict[str, Any]:
        """The stored record: the raw output, what part 1's reader makes of it, and whether it is right."""
        task = self.plan.tasks[sample.task]
        head = {"id": sample.id, "task": sample.task, "category": sample.category, "target": target, "inject": mode}
        if isinstance(answer, str) or answer.error:
            error = answer if isinstance(answer, str) else answer.error
            return head | {"output": None, "parsed": None, "correct": None, "error": error} | extra
        text = final_answer_text(answer.text) if mode == COT else answer.text  # a chain of thought answers on its last line
        parsed = read_output(text, task.answer_kind, sample.choices, answer_set=task.answer_set)
        body = {
            "output": answer.text,
            "parsed": parsed,
            "correct": is_correct(
                parsed, task.answer_kind, sample.answer, sample.references or [], sample.choices, answer_set=task.answer_set
            ),
            "error": None,
            "seconds": answer.seconds,
            "usage": answer.usage,
            "received": answer.received.labels(),
        }
        return head | body | extra

    async def answer(
        self,
        sample: Sample,
        target: str,
        mode: str,
        media: Any,
        trajectory: Mapping[str, Any] | None,
        error: str | None,
        donor: tuple[str, Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Answer one (sample, target, mode) and store its record; ``donor``: (id, trajectory) of
        the sample whose r* a placebo answer gets."""
        reasoning, extra = None, {}
        if mode in STAR_MODES and trajectory is not None:
            reasoning, extra = self.star(trajectory)
        elif mode == PLACEBO and donor is not None:
            reasoning, extra = self.star(donor[1])[0], {"placebo_of": donor[0]}
        if reasoning is not None:
            extra["rhash"] = reasoning_hash(reasoning)
        if error:
            record = self.record(sample, target, mode, error, **extra)
        elif mode == SC:
            record = await self.self_consistency(sample, target, media)
        elif self.plan.repeats > 1:
            record = await self.repeated(sample, target, mode, media, reasoning, extra)
        else:
            record = self.record(sample, target, mode, await self.ask(sample, target, mode, media, reasoning), **extra)
        await self.io(self.store.put_result, record)
        self.tally.add(record)
        return record

    async def self_consistency(self, sample: Sample, target: str, media: Any) -> dict[str, Any]:
        """K sampled zero-shot answers and the majority of what the reader makes of them (a tie
        is unparsed); one failed call fails the record (``--retry-failed`` asks all K again)."""
        task, c = self.plan.tasks[sample.task], self.plan.controls
        if task.answer_kind not in CLOSED_KINDS:
            return self.record(sample, target, SC, f"self-consistency votes on closed answers; {task.name}'s are open ({task.answer_kind})")
        variants = self.variants[(target, SC)]
        answers = await asyncio.gather(*(self.ask(sample, target, SC, media, None, v) for v in variants))
        failed = next((a if isinstance(a, str) else a.error for a in answers if isinstance(a, str) or a.error), None)
        if failed:
            return self.record(sample, target, SC, f"a self-consistency sample failed: {failed}")
        records = [self.record(sample, target, SC, a) for a in answers]
        winner, votes = vote(r["parsed"] for r in records)
        pick = next((r for r in records if winner is not None and r["parsed"] == winner), records[0])
        drawn = {"samples": len(records), "temperature": c.sc_temperature, "seeds": c.sc_seeds(), "votes": votes}
        drawn |= {"outputs": [r["output"] for r in records], "parsed": [r["parsed"] for r in records]}
        return pick | {
            "parsed": winner,
            "correct": pick["correct"] if winner is not None else False,
            "seconds": round(sum(r["seconds"] for r in records), 4),
            "usage": total_usage([r["usage"] for r in records]),
            "target_calls": len(records),
            "sc": drawn,
        }

    async def repeated(
        self, sample: Sample, target: str, mode: str, media: Any, reasoning: dict[str, Any] | None, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """``--repeats`` R: R answers at the target's temperature (seeds ``seed`` … ``seed + R - 1``).
        The record is the first repeat's (its ``correct`` too), with all R under ``repeats``; one
        failed call fails the record (``--retry-failed`` asks all R again)."""
        variants = self.variants[(target, COT if mode == COT else REPEAT)]
        answers = await asyncio.gather(*(self.ask(sample, target, mode, media, reasoning, v) for v in variants))
        failed = next((a if isinstance(a, str) else a.error for a in answers if isinstance(a, str) or a.error), None)
        if failed:
            return self.record(sample, target, mode, f"a repeat failed: {failed}", **extra)
        records = [self.record(sample, target, mode, a, **extra) for a in answers]
        drawn = [
            {"seed": s, "output": r["output"], "parsed": r["parsed"], "correct": r["correct"]}
            for s, r in zip(self.plan.repeat_seeds(), records, strict=True)
        ]
        return records[0] | {
            "seconds": round(sum(r["seconds"] for r in records), 4),
            "usage": total_usage([r["usage"] for r in records]),
            "target_calls": len(records),
            "repeats": drawn,
        }

    async def placebo(self, semaphore: asyncio.Semaphore, samples: Iterable[Sample]) -> None:
        """Answer the placebo records still to do, once every r* of the run is made: each sample
        gets the r* of another sample of its task (:func:`~aurelia.bench.controls.placebo_donors`
        over the samples that have r*, seeded). What it holds is ids; each r* is read from the
        store when it is given."""
        if PLACEBO not in self.modes:
            return
        todo = await self.io(self.placebo_todo, samples)
        if not todo:
            return
        by_task = await self.io(self.starred_by_task, samples)
        starred = {sid for ids in by_task.values() for sid in ids}
        donors = placebo_donors(by_task, self.plan.controls.seed)
        await self.pool((s for s in samples if s.id in todo), lambda s: self.placebo_sample(semaphore, s, todo[s.id], starred, donors))

    def placebo_todo(self, samples: Iterable[Sample]) -> dict[str, list[str]]:
        """Sample id -> the targets whose placebo answer is still to do (in a thread: it reads the store)."""
        todo: dict[str, list[str]] = {}
        for s in samples:
            statuses = self.store.statuses(s.id)
            if wanted := [t for t in self.targets if self.wanted(statuses.get((t, PLACEBO)))]:
                todo[s.id] = wanted
        return todo

    def starred_by_task(self, samples: Iterable[Sample]) -> dict[str, list[str]]:
        """Task -> the ids of its samples that have r* (the placebo donors), in manifest order."""
        by_task: dict[str, list[str]] = {}
        for s in samples:
            if self.store.trajectory(s.id) is not None:
                by_task.setdefault(s.task, []).append(s.id)
        return by_task

    async def placebo_sample(
        self, semaphore: asyncio.Semaphore, sample: Sample, targets: list[str], starred: Collection[str], donors: Mapping[str, str]
    ) -> None:
        async with semaphore:
            media, error = await self.media(sample)
            donor = donors.get(sample.id)
            if error is None and sample.id not in starred:
                error = "no r* of its own to compare with (its reasoning failed)"
            elif error is None and donor is None:
                error = f"no other sample of task {sample.task} has r* to give as placebo"
            given = (donor, await self.io(self.store.trajectory, donor)) if donor is not None else None
            records = await asyncio.gather(*(self.answer(sample, t, PLACEBO, media, None, error, given) for t in targets))
            failed = any(r.get("error") for r in records) or self.outcomes.get(sample.id) == FAILED
            self.recount(sample.id, FAILED if failed else DONE)

    async def ablation_jobs(
        self, sample: Sample, trajectory: Mapping[str, Any], pairs: list[tuple[str, str]], statuses: Mapping[tuple[str, str], str]
    ) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(target, mode, r* hash, r*) still to answer for the T/τ grid: each distinct r* once,
        less the r* that the main answer (being made now, or done) already gives."""
        if not self.plan.ablate or not trajectory.get("iterations"):
            return []
        distinct = distinct_reasonings(trajectory, self.ctx.max_iterations, TAUS)
        main = reasoning_hash(self.star(trajectory)[0])
        done = await self.io(self.store.ablation_statuses, sample.id)
        jobs = []
        for target in self.targets:
            for mode in [m for m in self.modes if m in STAR_MODES]:
                for h, reasoning in distinct.items():
                    answered_by_main = h == main and ((target, mode) in pairs or statuses.get((target, mode)) == DONE)
                    if not answered_by_main and self.wanted(done.get((target, mode, h))):
                        jobs.append((target, mode, h, reasoning))
        return jobs

    async def answer_ablation(self, sample: Sample, target: str, mode: str, media: Any, h: str, reasoning: dict) -> dict[str, Any]:
        answer = await self.ask(sample, target, mode, media, reasoning)
        record = self.record(sample, target, mode, answer, rhash=h)
        await self.io(self.store.put_ablation, ablation_copy(record))
        return record


ABLATION_FIELDS = ("id", "task", "target", "inject", "rhash", "output", "parsed", "correct", "error", "seconds", "usage")


def ablation_copy(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: record.get(k) for k in ABLATION_FIELDS}
