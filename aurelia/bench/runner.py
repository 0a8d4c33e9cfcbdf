"""The benchmark runner: every sample zero-shot and with r*, for every target, resumable.

``run_benchmark`` checks the settings, loads the manifest and the targets, opens the run's
store (``RUN/store.sqlite``) and the reasoning cache, and runs an :class:`~aurelia.bench.engine.Engine`
over the samples; ``RUN/results.jsonl`` and ``RUN/run.json`` are rewritten at the end. The same
call again skips what is done; a killed run loses only the samples in flight.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from aurelia.bench.cache import ReasoningCache, prompt_files_fingerprint, reasoning_identity
from aurelia.bench.controls import Controls, stratified_ids
from aurelia.bench.engine import ZERO_SHOT, Counts, Engine, Plan, Progress, Reasoner
from aurelia.bench.loop import run_async
from aurelia.bench.manifest import Manifest, Sample, load_manifest
from aurelia.bench.store import ResultStore, write_run_json
from aurelia.bench.tasks import builtin_tasks
from aurelia.errors import InputError
from aurelia.graph.builder import build_graph
from aurelia.graph.context import Context, make_context
from aurelia.models.registry import RoleModel, as_role_model, validate_model_string
from aurelia.prompts.format import CONTROL_MODES, INJECT_MODES
from aurelia.redact import redact_text
from aurelia.run import check_review, public_context
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
    """A validated reasoning Context (:func:`~aurelia.graph.context.make_context`: a setting this
    installed version lacks is an InputError, never silently dropped); review is refused (a
    benchmark has no human in the loop)."""
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


@dataclass(frozen=True)
class Selection:
    """The samples a run goes through, streamed from the manifest each time it is iterated
    (never a list of them): those of ``tasks``, drawn (``ids``) or the first ``limit``; ``len``
    is how many there are, counted beforehand (the progress events' total)."""

    manifest: Manifest
    tasks: frozenset[str] | None
    ids: frozenset[str] | None
    limit: int | None
    size: int

    def __iter__(self) -> Iterator[Sample]:
        samples = self.manifest.iter_samples(self.tasks)
        if self.ids is not None:
            samples = (s for s in samples if s.id in self.ids)
        return islice(samples, self.limit) if self.limit is not None else samples

    def __len__(self) -> int:
        return self.size


def select_samples(
    manifest: Manifest, tasks: Sequence[str] | None, limit: int | None, sample: int | None = None, seed: int = 0
) -> Selection:
    """The samples to run: of ``tasks`` (all by default), then the first ``limit``, or a seeded
    random ``sample`` stratified by task and category (:func:`~aurelia.bench.controls.stratified_ids`:
    the same ids for the same seed, drawn from the ids alone)."""
    known = builtin_tasks()
    chosen_tasks = None
    if tasks:
        unknown = sorted(set(tasks) - set(known))
        if unknown:
            raise InputError(f"unknown task {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        chosen_tasks = frozenset(tasks)
    if sample is not None and limit is not None:
        raise InputError("give --sample (a seeded random subset) or --limit (the first N), not both")
    size = manifest.size(chosen_tasks)
    ids = None
    if sample is not None:
        keys = ((s.task, s.category, s.id) for s in manifest.iter_samples(chosen_tasks))
        if manifest.held_samples is None:  # the file's valid lines: their ids without making Samples
            keys = ((o["task"], o.get("category") or [], o["id"]) for _, o in manifest.records(chosen_tasks))
        drawn = stratified_ids(keys, sample, seed, known)
        if drawn is not None:
            ids, size = frozenset(drawn), len(drawn)
    if limit is not None:
        if limit < 1:
            raise InputError(f"--limit must be at least 1, got {limit}")
        size = min(size, limit)
    if not size:
        raise InputError("no samples left to run (check --tasks)", path=str(manifest.path))
    return Selection(manifest, chosen_tasks, ids, limit, size)


def inject_modes(inject: Sequence[str] | str) -> list[str]:
    """The zero-shot baseline first, then each requested inject mode and control once."""
    modes = [m.strip() for m in (inject.split(",") if isinstance(inject, str) else inject) if m.strip()]
    bad = [m for m in modes if m not in INJECT_MODES + CONTROL_MODES]
    if bad:
        raise InputError(f"inject must be some of {', '.join(INJECT_MODES + CONTROL_MODES)}, got {', '.join(bad)}")
    return list(dict.fromkeys([ZERO_SHOT, *modes]))


def local_reasoner(models: Mapping[str, BaseChatModel | RoleModel] | None) -> Reasoner:
    """The reasoning-only graph in this process, shared by every sample (``ainvoke``)."""
    graph = build_graph(models=models, reasoning_only=True)

    async def reason(inputs: dict[str, Any], ctx: Context) -> dict[str, Any]:
        config = {"run_name": "aurelia-bench", "tags": ["aurelia", "aurelia-bench"], "metadata": {"sample_id": inputs.get("sample_id")}}
        return await graph.ainvoke(inputs, config=config, context=ctx)

    return reason


@dataclass(frozen=True)
class BenchConfig:
    """How a benchmark runs, besides the agents' settings (a Context) and the targets: what
    ``aurelia bench run`` builds from its options and :func:`run_benchmark` takes (``config=``,
    or these names as keyword arguments).

    ``inject``: the inject modes and controls (``cot``, ``sc``, ``placebo``: see
    :mod:`aurelia.bench.controls`) answered besides the zero-shot baseline; ``sc_samples``
    answers at ``sc_temperature`` per self-consistency vote, ``cot_max_tokens`` per chain of
    thought. ``repeats``: answers per record at the targets' own temperature
    (``--target-temperature``, above 0 when more than one), seeds ``seed`` … ``seed + repeats - 1``
    (self-consistency and ablation answers are not repeated). ``sample``: a seeded random subset of that many samples, stratified by task (and
    category); ``limit``: the first N. ``seed`` draws the subset, the placebo donors and the
    self-consistency seeds (None: the context's ``seed``). ``reasoning='imported'``
    uses each sample's imported r* instead of generating one. ``server``: send the reasoning runs
    to a LangGraph server (its ``server_graph``); ``server_send_keys`` lets the environment's
    LangGraph/LangSmith key and model URLs with credentials go to it (by default neither does).
    ``langsmith`` records the finished run in LangSmith (a dataset and one experiment per target
    and inject mode). ``batch_size``: most samples per target batch.
    """

    inject: Sequence[str] | str = ("steps",)
    tasks: Sequence[str] | None = None
    limit: int | None = None
    concurrency: int = 4
    ablate: bool = False
    cache: str | Path | None = None
    retry_failed: bool = False
    media_root: str | Path | None = None
    skip_invalid: bool = False
    reasoning: str = "generate"
    server: str | None = None
    server_graph: str = "aurelia_reasoning"
    server_send_keys: bool = False
    langsmith: bool = False
    batch_size: int = 8
    sample: int | None = None
    seed: int | None = None
    sc_samples: int = 5
    sc_temperature: float = 0.7
    cot_max_tokens: int = 512
    repeats: int = 1

    def controls(self, ctx: Context) -> Controls:
        """The controls' settings; the seed is the context's unless given here."""
        seed = ctx.seed if self.seed is None else self.seed
        return Controls(self.sc_samples, self.sc_temperature, self.cot_max_tokens, seed)

    def check(self, ctx: Context, target_settings: TargetSettings | None = None) -> None:
        """Refuse options that cannot work (alone or with the agents' settings) before anything opens."""
        self.controls(ctx).check()
        if self.repeats < 1:
            raise InputError(f"--repeats must be at least 1, got {self.repeats}")
        if self.repeats > 1 and (target_settings or ctx.target_settings()).sampling_temperature == 0:
            raise InputError("--repeats above 1 needs --target-temperature above 0: greedy repeats are identical and measure nothing")
        if self.concurrency < 1:
            raise InputError(f"--concurrency must be at least 1, got {self.concurrency}")
        if self.reasoning not in REASONING_SOURCES:
            raise InputError(f"--reasoning must be one of {', '.join(REASONING_SOURCES)}, got {self.reasoning!r}")
        if self.ablate and ctx.early_stop:
            raise InputError("--ablate reads the T/τ runs off full trajectories: add --no-early-stop")
        if self.ablate and self.reasoning == "imported":
            raise InputError("--ablate needs generated trajectories, not an imported r*")
        if self.langsmith:
            from aurelia.bench.experiments import check_langsmith

            check_langsmith()


def _named_targets(targets: Sequence[TargetLike] | Mapping[str, TargetLike]) -> None:
    """At least one target, and each model string usable (before anything is opened or loaded)."""
    named = list(targets.items()) if isinstance(targets, Mapping) else [(None, t) for t in targets]
    if not named:
        raise InputError("give at least one target model (--target)")
    for _, model in named:
        if isinstance(model, str):
            validate_model_string(model)


def _reasoner(config: BenchConfig, ctx: Context, models: Mapping[str, BaseChatModel | RoleModel] | None) -> tuple[Reasoner, str]:
    if config.server:
        from aurelia.bench.remote import server_reasoner

        return server_reasoner(config.server, config.server_graph, ctx=ctx, send_keys=config.server_send_keys), "server"
    return local_reasoner(models), "graph"


def check_repeats(store: ResultStore, repeats: int) -> None:
    """Remember the run's ``--repeats``; a resume with another number is refused (its records
    would hold different numbers of answers, and the report's spread across repeats needs one)."""
    saved = store.meta("repeats")
    if saved is None:
        store.set_meta("repeats", repeats)
    elif saved != repeats:
        raise InputError(f"{store.dir} was run with --repeats {saved}; resume it with the same (or give a new --out), not {repeats}")


def _open_run(
    out: Path,
    targets: Sequence[TargetLike] | Mapping[str, TargetLike],
    config: BenchConfig,
    ctx: Context,
    models: Mapping[str, BaseChatModel | RoleModel] | None,
    labels: dict[str, str],
    target_settings: TargetSettings | None,
) -> tuple[ResultStore, ReasoningCache, dict[str, Target], tuple[Reasoner, str]]:
    """The run's store (refusing other reasoning settings than it was started with), the
    reasoning cache, the loaded targets (``hf:`` weights load here) and the reasoner; what was
    opened is closed again if any of it fails."""
    store = ResultStore(out, exclusive=True)
    reasoning_cache = ReasoningCache(config.cache)
    try:
        store.check_reasoning_settings(reasoning_identity(ctx, labels, config.reasoning))
        check_repeats(store, config.repeats)
        resolved = resolve_targets(targets, target_settings or ctx.target_settings(batch_size=config.batch_size))
        return store, reasoning_cache, resolved, _reasoner(config, ctx, models)
    except BaseException:
        store.close()
        reasoning_cache.close()
        raise


def _settings_record(
    config: BenchConfig,
    manifest: Manifest,
    resolved: dict[str, Target],
    modes: list[str],
    n_samples: int,
    cache: ReasoningCache,
    ctx: Context,
    labels: dict[str, str],
) -> dict[str, Any]:
    """What RUN/run.json records of the run's settings (a URL's credentials are never written)."""
    return {
        "manifest": str(manifest.path),
        "media_root": str(manifest.root),
        "targets": list(resolved),
        "targets_described": {n: t.describe() for n, t in resolved.items()},
        "inject": modes,
        "tasks": list(config.tasks) if config.tasks else None,
        "limit": config.limit,
        "sample": config.sample,
        "controls": asdict(config.controls(ctx)),
        "repeats": config.repeats,
        "samples": n_samples,
        "concurrency": config.concurrency,
        "ablate": config.ablate,
        "retry_failed": config.retry_failed,
        "reasoning": config.reasoning,
        "server": redact_text(config.server) if config.server else None,
        "cache": str(cache.path),
        "context": public_context(ctx),
        "model_instances": labels,
        "prompts_fingerprint": prompt_files_fingerprint(),
    }


def _run_engine(
    engine: Engine, samples: Selection, out: Path, settings: dict[str, Any], store: ResultStore, cache: ReasoningCache
) -> tuple[Counts, int]:
    """Run every sample; RUN/run.json and RUN/results.jsonl are rewritten however it ends."""
    write_run_json(out, settings, Counts().to_dict(), "running")
    status = "interrupted"
    try:
        counts = run_async(engine.run(samples))
        status = "finished"
    finally:
        write_run_json(out, settings, engine.counts.to_dict(), status)
        n = store.write_results()[1]  # streamed from the store: never every record in memory at once
        store.close()
        cache.close()
    return counts, n


def run_benchmark(
    manifest: str | Path | Manifest,
    targets: Sequence[TargetLike] | Mapping[str, TargetLike],
    out: str | Path,
    *,
    context: Context | Mapping[str, Any] | None = None,
    models: Mapping[str, BaseChatModel | RoleModel] | None = None,
    config: BenchConfig | None = None,
    target_settings: TargetSettings | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> RunResult:
    """Run (or resume) a benchmark into the folder ``out``; see the module docstring.

    ``targets``: model strings, chat models or Targets (a mapping names them). ``context``:
    the agents' settings (τ, T, model per role, prompt set, …; the targets' reply length and
    temperature too, unless ``target_settings`` is given); ``models``: agent chat model instances
    by role, named in the cache key by their label. ``config`` (or its fields as keyword
    ``options``): see :class:`BenchConfig`. ``progress`` receives one event dict per finished sample.
    """
    config = replace(config or BenchConfig(), **options)
    ctx = bench_context(context)
    config.check(ctx, target_settings)
    modes = inject_modes(config.inject)
    if not isinstance(manifest, Manifest):
        manifest = load_manifest(manifest, config.media_root, skip_invalid=config.skip_invalid)
    samples = select_samples(manifest, config.tasks, config.limit, config.sample, config.controls(ctx).seed)
    labels = {role: as_role_model(m, name=f"{role}-instance").spec.label for role, m in (models or {}).items()}
    _named_targets(targets)
    out = Path(out).expanduser()
    store, reasoning_cache, resolved, (reasoner, reasoner_name) = _open_run(out, targets, config, ctx, models, labels, target_settings)
    settings = _settings_record(config, manifest, resolved, modes, len(samples), reasoning_cache, ctx, labels)
    plan = Plan(
        ctx=ctx, modes=modes, tasks=builtin_tasks(), model_labels=labels, concurrency=config.concurrency, ablate=config.ablate,
        retry_failed=config.retry_failed, source=config.reasoning, full_trajectories=not ctx.early_stop,
        controls=config.controls(ctx), repeats=config.repeats,
    )  # fmt: skip
    engine = Engine(
        plan, store=store, cache=reasoning_cache, reasoner=reasoner, reasoner_name=reasoner_name, targets=resolved, progress=progress
    )
    if config.ablate:
        store.set_meta("ablate", True)  # the report builds Tables 5-6 (also when every r* is the main one)
    counts, n = _run_engine(engine, samples, out, settings, store, reasoning_cache)
    engine.emit({"event": "end", "counts": counts.to_dict(), "run": str(out)})
    recorded = None
    if config.langsmith:
        from aurelia.bench.experiments import record_in_langsmith

        recorded = record_in_langsmith(out)
    return RunResult(out, counts, settings, n, recorded)
