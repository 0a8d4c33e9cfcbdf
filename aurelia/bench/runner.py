"""The benchmark runner: every sample zero-shot and with r*, for every target, resumable.

``run_benchmark`` checks the settings, loads the manifest and the targets, opens the run's
store (``RUN/store.sqlite``) and the reasoning cache, and runs an :class:`~aurelia.bench.engine.Engine`
over the samples; ``RUN/results.jsonl`` and ``RUN/run.json`` are rewritten at the end. The same
call again skips what is done; a killed run loses only the samples in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from aurelia.bench.cache import ReasoningCache, prompt_files_fingerprint, reasoning_identity
from aurelia.bench.engine import ZERO_SHOT, Counts, Engine, Plan, Progress, Reasoner
from aurelia.bench.manifest import Manifest, Sample, load_manifest
from aurelia.bench.store import ResultStore, write_run_json
from aurelia.bench.tasks import builtin_tasks
from aurelia.errors import InputError
from aurelia.graph.builder import build_graph
from aurelia.graph.context import Context
from aurelia.models.registry import RoleModel, as_role_model, validate_model_string
from aurelia.prompts.format import INJECT_MODES
from aurelia.redact import redact_text
from aurelia.run import check_review, make_context, public_context
from aurelia.targets import Target, TargetSettings, load_target

REASONING_SOURCES = ("generate", "imported")
TargetLike = str | BaseChatModel | RoleModel | Target


@dataclass
class RunResult:
    """A finished invocation: the run folder, its counts and settings."""

    out: Path
    counts: Counts
    settings: dict[str, Any]
    results: int  # records in RUN/results.jsonl
    langsmith: dict[str, Any] | None = None  # what --langsmith recorded: dataset, experiments, runs, feedback


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


def resolve_targets(targets: Sequence[TargetLike] | Mapping[str, TargetLike], settings: TargetSettings) -> dict[str, Target]:
    """Name -> Target (a model string is loaded here); a name given twice is an error."""
    items = list(targets.items()) if isinstance(targets, Mapping) else [(t if isinstance(t, str) else None, t) for t in targets]
    out: dict[str, Target] = {}
    for name, model in items:
        target = model if isinstance(model, Target) else load_target(model, settings)
        name = redact_text(name or target.name)  # the name records carry: a model URL without its credentials
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


def local_reasoner(models: Mapping[str, BaseChatModel | RoleModel] | None) -> Reasoner:
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
    server_send_keys: bool = False,
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
    server (its ``server_graph``); ``server_send_keys`` lets the environment's LangGraph/LangSmith
    key and model URLs with credentials go to it (by default neither does). ``langsmith`` records the finished run in LangSmith (a
    dataset and one experiment per target and inject mode). ``progress`` receives one event
    dict per finished sample.
    """
    if concurrency < 1:
        raise InputError(f"--concurrency must be at least 1, got {concurrency}")
    if reasoning not in REASONING_SOURCES:
        raise InputError(f"reasoning must be one of {', '.join(REASONING_SOURCES)}, got {reasoning!r}")
    ctx = bench_context(context)
    if ablate and ctx.early_stop:
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
    named = list(targets.items()) if isinstance(targets, Mapping) else [(None, t) for t in targets]
    if not named:
        raise InputError("give at least one target model (--target)")
    for _, model in named:
        if isinstance(model, str):
            validate_model_string(model)  # before anything is opened or loaded
    out = Path(out).expanduser()
    store = ResultStore(out, exclusive=True)
    reasoning_cache = ReasoningCache(cache)
    try:
        store.check_reasoning_settings(reasoning_identity(ctx, labels, reasoning))
        resolved = resolve_targets(targets, target_settings or TargetSettings())  # hf: targets load their weights here
        if server:
            from aurelia.bench.remote import server_reasoner

            reasoner, reasoner_name = server_reasoner(server, server_graph, ctx=ctx, send_keys=server_send_keys), "server"
        else:
            reasoner, reasoner_name = local_reasoner(models), "graph"
    except BaseException:
        store.close()
        reasoning_cache.close()
        raise
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
        "server": redact_text(server) if server else None,  # a URL's credentials are never written
        "cache": str(reasoning_cache.path),
        "context": public_context(ctx),
        "model_instances": labels,
        "prompts_fingerprint": prompt_files_fingerprint(),
    }
    plan = Plan(
        ctx=ctx,
        modes=modes,
        tasks=builtin_tasks(),
        model_labels=labels,
        concurrency=concurrency,
        ablate=ablate,
        retry_failed=retry_failed,
        source=reasoning,
        full_trajectories=not ctx.early_stop,
    )
    engine = Engine(
        plan, store=store, cache=reasoning_cache, reasoner=reasoner, reasoner_name=reasoner_name, targets=resolved, progress=progress
    )
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
