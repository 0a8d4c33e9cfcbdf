"""``lmms-eval --model aurelia``: any lmms-eval model, with r* injected into its prompts.

``Aurelia`` wraps an inner lmms-eval model named by ``target=`` (built with ``target_args={...}``
and lmms-eval's ``--batch_size``/``--device`` unless ``target_args`` sets them). Each request keeps
the inner model's shape (its ``is_simple`` text prompts or its chat messages) and its batching: for
every doc the plugin first makes r* (reasoning-only graph, shared reasoning cache), then hands the
whole list of requests, r* injected, to the inner model in one call. The agents are configured as
everywhere (``make_context``): ``generator=``, ``summarizer=``, ``evaluator=``, ``feedback=``
(model strings), ``tau=``, ``max_iterations=`` and any other setting by its name
(``num_frames=8``, ``prompt_set=paper``); ``concurrency=`` docs are reasoned about at once
(default 4, as ``aurelia bench run``); ``inject=none`` is the zero-shot baseline of the same
run configuration (no agent is called, the prompts pass through unchanged).

A doc whose r* cannot be made (no video among its visuals, unreadable media, a failed agent) is
not put to the target: its answer is empty (unparsed, wrong), and the reasoning log says why.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lmms_eval.api.model import lmms

from aurelia.bench.cache import default_cache_path
from aurelia.bench.manifest import Sample
from aurelia.errors import AureliaError, MediaError, SettingError, describe_failure
from aurelia.graph.context import Context, make_context
from aurelia.lmms import MODEL_ID
from aurelia.lmms.compat import alias_filelock_api
from aurelia.lmms.inject import (
    inject_messages,
    inject_text,
    media_from_messages,
    media_from_visuals,
    question_of_messages,
)
from aurelia.lmms.reasoning import NO_ANSWER, DocReasoning, Reasoner, ReasoningLog, log_entry
from aurelia.lmms.tasks import SAMPLE_FIELD

log = logging.getLogger(__name__)

ROLES = {"generator": "generator_model", "summarizer": "summarizer_model", "evaluator": "evaluator_model", "feedback": "feedback_model"}
DocKey = tuple[str, str, Any]  # (task, split, doc_id)


def parse_target_args(value: Any) -> dict[str, Any]:
    """``target_args``: a JSON object (``{"pretrained": "..."}``), or lmms-eval's own
    ``key=value,...`` form with or without braces; empty: no arguments."""
    if isinstance(value, Mapping):
        return dict(value)
    text = str(value or "").strip()
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        from lmms_eval.utils import simple_parse_args_string

        inner = text[1:-1] if text.startswith("{") and text.endswith("}") else text
        try:
            return simple_parse_args_string(inner)
        except ValueError as exc:
            raise SettingError(f"target_args: not a JSON object nor key=value pairs: {text!r}") from exc
    if not isinstance(parsed, dict):
        raise SettingError(f"target_args must be an object of the target's arguments, got {text!r}")
    return parsed


def agent_context(inject: str, tau: Any, max_iterations: Any, roles: Mapping[str, Any], settings: Mapping[str, Any]) -> Context:
    """The run settings from the model args: role shorthands, ``tau``, then settings by name
    (an unknown name or a bad value is one SettingError line, as from every entry point)."""
    given = {ROLES[r]: str(v) for r, v in roles.items() if v not in (None, "")}
    twice = sorted(set(given) & set(settings)) + (["threshold"] if tau is not None and "threshold" in settings else [])
    if twice:
        raise SettingError(f"{twice[0]} is given twice (once by its short name)")
    return make_context({**settings, **given}, inject=inject, threshold=tau, max_iterations=max_iterations)


def default_log_dir(argv: list[str] | None = None) -> Path | None:
    """Where lmms-eval writes this run's sample logs: ``--output_path`` joined with the folder its
    evaluation tracker names after ``--model_args`` (lmms-eval's own functions); None without
    ``--output_path`` (lmms-eval then writes no sample log either)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--output_path")
    parser.add_argument("--model_args", default="")
    known, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if not known.output_path:
        return None
    from lmms_eval.loggers.evaluation_tracker import GeneralConfigTracker
    from lmms_eval.utils import sanitize_model_name

    return Path(known.output_path) / sanitize_model_name(GeneralConfigTracker._get_model_name(known.model_args))


def doc_key(request: Any) -> DocKey:
    """(task, split, doc_id) of a request: the last three arguments of every request type."""
    doc_id, task, split = request.args[-3:]
    return task, split, doc_id


def _injecting(doc_to_messages: Callable[..., Any], text: str, position: str) -> Callable[..., Any]:
    """``doc_to_messages`` whose last user turn carries r* (each round's, for multi-round tasks)."""

    def with_reasoning(doc: Any, **kwargs: Any) -> Any:
        out = doc_to_messages(doc, **kwargs)
        if isinstance(out, tuple) and out and isinstance(out[0], list):
            return (inject_messages(out[0], text, position), *out[1:])
        return inject_messages(out, text, position) if isinstance(out, list) else out

    return with_reasoning


class Aurelia(lmms):
    """The plugin model (see the module docstring). Registered as a chat model; each instance then
    takes the inner model's ``is_simple``, so lmms-eval builds the requests the inner model reads."""

    is_simple = False

    def __init__(
        self,
        target: str = "",
        target_args: Any = "",
        generator: str | None = None,
        summarizer: str | None = None,
        evaluator: str | None = None,
        feedback: str | None = None,
        tau: int | None = None,
        max_iterations: int | None = None,
        inject: str = "steps",
        cache: str | None = None,
        log_dir: str | None = None,
        concurrency: int = 4,
        batch_size: Any = None,
        max_batch_size: Any = None,
        device: Any = None,
        **settings: Any,
    ) -> None:
        super().__init__()
        alias_filelock_api()
        target = str(target or "").strip()
        if not target or target == MODEL_ID:
            raise SettingError(f"give the lmms-eval model to wrap: --model_args target=<model name>{' (not aurelia)' if target else ''}")
        roles = {"generator": generator, "summarizer": summarizer, "evaluator": evaluator, "feedback": feedback}
        self.ctx = agent_context(str(inject), tau, max_iterations, roles, settings)
        self.concurrency = int(concurrency)
        if self.concurrency < 1:
            raise SettingError(f"concurrency must be at least 1, got {concurrency}")
        from lmms_eval.models import get_model

        passed = {"batch_size": batch_size, "max_batch_size": max_batch_size, "device": device}
        args = parse_target_args(target_args)
        self.inner = get_model(target)(**args, **{k: v for k, v in passed.items() if v is not None and k not in args})
        self.is_simple = bool(getattr(self.inner, "is_simple", True))
        self.task_dict = self.inner.task_dict  # lmms-eval fills it in after construction: one dict for both
        self.reasoner = Reasoner(self.ctx, cache) if self.ctx.inject != "none" else None
        self.log_dir = Path(log_dir) if log_dir else default_log_dir()
        self.spill = (Path(cache).parent if cache else default_cache_path().parent) / "lmms-audio"
        self._log: ReasoningLog | None = None
        self._docs: dict[DocKey, DocReasoning] = {}

    def __getattr__(self, name: str) -> Any:
        """What lmms-eval reads off a model that is the inner model's (chat template, tokenizer…)."""
        inner = self.__dict__.get("inner")
        if inner is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(inner, name)

    # --- the request types lmms-eval sends ----------------------------------------------------

    def generate_until(self, requests: list[Any]) -> list[Any]:
        return self._delegate("generate_until", requests, "")

    def generate_until_multi_round(self, requests: list[Any]) -> list[Any]:
        return self._delegate("generate_until_multi_round", requests, "")

    def loglikelihood(self, requests: list[Any]) -> list[Any]:
        """Scored choices have no wrong answer to give a doc without r* (every choice at -inf would
        pick the first): such a doc stops the run instead (:meth:`_delegate`)."""
        return self._delegate("loglikelihood", requests, None)

    def set_cache_hook(self, cache_hook: Any) -> None:
        super().set_cache_hook(cache_hook)
        self.inner.set_cache_hook(cache_hook)

    def clean(self) -> None:
        if self.reasoner is not None:
            self.reasoner.close()
        if self._log is not None:
            self._log.close()
        self.inner.clean()

    # --- r* per doc, and the rewritten requests ----------------------------------------------

    def _delegate(self, method: str, requests: list[Any], unanswered: Any) -> list[Any]:
        """r* for every doc first, then one call of the inner model with every request that has
        its r* (a doc without one gets ``unanswered``)."""
        self.inner._rank, self.inner._world_size = self._rank, self._world_size
        self._reason_all(requests)
        got = [self._docs[doc_key(r)] for r in requests]
        asked = [i for i, g in enumerate(got) if g.error is None]
        if unanswered is None and len(asked) < len(requests):
            failed = next(g for g in got if g.error is not None)
            raise AureliaError(f"no r* for a doc of a {method} task, which cannot be scored without an answer: {failed.error}")
        mode, position = self.ctx.inject, self.ctx.inject_position
        answers = (
            getattr(self.inner, method)([self._rewritten(requests[i], got[i].injected(mode), position) for i in asked]) if asked else []
        )
        out = [unanswered] * len(requests)
        for i, answer in zip(asked, answers, strict=True):
            out[i] = answer
        return out

    def _rewritten(self, request: Any, text: str, position: str) -> Any:
        """A copy of ``request`` whose prompt carries ``text``: the context string of a simple
        request, the messages of a chat one. Nothing to inject: the request itself."""
        if not text:
            return request
        args = list(request.args)
        if self.is_simple:
            args[0] = inject_text(args[0], text, position)
        else:
            args[1] = _injecting(args[1], text, position)
        new = copy.copy(request)
        new.arguments = tuple(args)
        return new

    def _reason_all(self, requests: list[Any]) -> None:
        """r* for each doc of ``requests`` not seen before (a doc's several requests share one),
        ``concurrency`` docs at a time; each doc's line goes to the log in request order. What a
        doc gives the agents is read here, in lmms-eval's thread; only the graph runs in workers."""
        todo: dict[DocKey, Any] = {}
        for r in requests:
            if (key := doc_key(r)) not in self._docs:
                todo.setdefault(key, r)
        if self.reasoner is None:  # the baseline: no agent, nothing injected
            done = {key: DocReasoning(None) for key in todo}
        else:
            prepared = {key: self._prepare(r, key) for key, r in todo.items()}
            with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(todo)))) as pool:
                done = dict(zip(prepared, pool.map(self._reason, prepared.values()), strict=True))
        for key, got in done.items():
            self._docs[key] = got
            self._write(log_entry(key, got, self.ctx.inject, self.ctx.inject_position))

    def _prepare(self, request: Any, key: DocKey) -> DocReasoning:
        """The doc's sample for the agents (see :meth:`_fill`), or why there is none."""
        got = DocReasoning(None)
        try:
            self._fill(got, request, key)
        except Exception as exc:
            return self._failed(got, f"{key[0]} doc {key[2]}", exc)
        return got

    def _reason(self, got: DocReasoning) -> DocReasoning:
        if got.sample is None:
            return got
        try:
            made = self.reasoner.reason(got.sample)  # type: ignore[union-attr]
        except Exception as exc:  # recorded for this doc; the run goes on
            return self._failed(got, got.sample.id, exc)
        made.ignored_media = got.ignored_media
        return made

    @staticmethod
    def _failed(got: DocReasoning, where: str, exc: Exception) -> DocReasoning:
        got.error = str(exc) if isinstance(exc, AureliaError) else describe_failure(exc)
        log.warning("aurelia: no r* for %s: %s", where, got.error)
        return got

    def _fill(self, got: DocReasoning, request: Any, key: DocKey) -> None:
        """What the agents get for the doc: one of our manifest samples as it is, or the doc's
        media and the prompt's text (the question and choices as the task words them); media
        they cannot use go to ``got.ignored_media`` even when the doc fails."""
        task, split, doc_id = key
        doc = self.task_dict[task][split][doc_id]
        if isinstance(doc, Mapping) and isinstance(doc.get(SAMPLE_FIELD), str):
            got.sample = Sample.model_validate_json(doc[SAMPLE_FIELD])
            return
        if self.is_simple:
            media, question = media_from_visuals(request.args[2](doc), self.spill), str(request.args[0]).strip()
        else:
            messages = request.args[1](doc)
            messages = messages[0] if isinstance(messages, tuple) else messages
            media, question = media_from_messages(messages or [], self.spill), question_of_messages(messages or [])
        got.ignored_media = media.ignored
        if media.video is None:
            raise MediaError(f"no video among the doc's visuals ({', '.join(media.ignored) or 'none given'})")
        if not question:
            raise AureliaError("the doc's prompt has no text for the agents to read as the question")
        got.sample = Sample(
            id=f"{task}/{split}/{doc_id}", task=task, video=media.video, audio=media.audio, question=question, answer=NO_ANSWER
        )

    def _write(self, entry: dict[str, Any]) -> None:
        if self._log is None:
            self._log = ReasoningLog(self.log_dir, self._rank)
            if self.log_dir is None:
                log.warning("aurelia: no --output_path and no log_dir= model arg: r* is not logged")
        self._log.write(entry)
