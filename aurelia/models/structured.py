"""One agent call: structured output where the model supports it, else plain-text parsing,
with one repair prompt before recording a parse failure. Never raises on bad model output.

Every request goes through the one retry policy (:mod:`aurelia.models.retry`); ``attempts``
counts the requests of the whole logical call. A server that rejects structured output (HTTP
400/404/422), or a reply the client's strict parser refuses, gets the plain-text request; any
other failure (a fault that outlasted its retries, a bad key, a local error) ends the call."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.messages.ai import add_usage
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ValidationError

from aurelia.errors import ModelCallError
from aurelia.media.ref import MediaRef
from aurelia.models.messages import build_messages
from aurelia.models.registry import PerModel, RoleModel
from aurelia.models.retry import RequestTally, acall_with_retry, call_with_retry
from aurelia.prompts import Prompt, render

T = TypeVar("T")

REJECTED_FEATURE = {400, 404, 405, 415, 422, 501}  # a server that does not take tools / response_format
# failures of the structured request itself (no such mode, a reply the client's strict parser refused)
STRUCTURED_ONLY = (NotImplementedError, ValidationError, OutputParserException)


@dataclass
class CallResult:
    """Outcome of one agent call: the value (or None), how it was obtained, and its cost."""

    value: Any
    raw: str
    status: str  # "structured" | "parsed" | "repaired" | "failed" | "text"
    seconds: float
    usage: dict[str, int] = field(default_factory=dict)
    attempts: int = 1  # HTTP requests (or local generations), retries included


def total_usage(usages: Iterable[Mapping[str, int] | None]) -> dict[str, int]:
    """Token counts summed with LangChain's ``add_usage`` (reported counts only; {} when none)."""
    total = None
    for usage in usages:
        if usage:
            total = add_usage(total, usage)  # type: ignore[arg-type]
    return {k: int(total[k]) for k in ("input_tokens", "output_tokens", "total_tokens") if k in total} if total else {}


def reply_usage(total: dict[str, int], message: Any) -> dict[str, int]:
    """``total`` plus the tokens a reply reports."""
    return total_usage([total, getattr(message, "usage_metadata", None)])


def reply_text(message: Any) -> str:
    """The text of a reply (text blocks only, as LangChain's ``BaseMessage.text``)."""
    return str(message.text) if isinstance(message, BaseMessage) else str(message)


def supports_structured(model: Any) -> bool:
    """Whether the model's class offers structured output (asked once per class: building the
    structured runnable costs about a millisecond, and every agent call asks)."""
    kind = type(model)
    if kind not in _STRUCTURED:
        try:
            model.with_structured_output(_Probe)
        except (NotImplementedError, AttributeError, ValueError):
            _STRUCTURED[kind] = False
        else:
            _STRUCTURED[kind] = True
    return _STRUCTURED[kind]


_STRUCTURED: dict[type, bool] = {}


class _Probe(BaseModel):
    ok: bool


@dataclass(frozen=True)
class PreparedStructured:
    """``ChatOpenAI.with_structured_output(schema, include_raw=True)`` (its default ``json_schema``
    method) with the work of each request done once: ``response_format`` is bound as the strict
    JSON schema the OpenAI SDK derives from ``schema`` on every request, and the reply is parsed
    here as the SDK and LangChain's parser would parse it. The same request body, the same
    ``{"raw", "parsed", "parsing_error"}`` result, the same errors (a reply that does not fit
    ``schema`` raises pydantic's ValidationError, as the SDK's ``parse`` does); about a third less
    CPU per structured call (benchmarks/bench_scale.py)."""

    model: Any
    schema: type[BaseModel]
    kwargs: dict[str, Any]  # what ``model.bind`` would bind; passed per call, without a binding's config merge

    def invoke(self, messages: list[BaseMessage], config: RunnableConfig | None = None) -> dict[str, Any]:
        return self.result(self.model.invoke(messages, config=config, **self.kwargs))

    async def ainvoke(self, messages: list[BaseMessage], config: RunnableConfig | None = None) -> dict[str, Any]:
        return self.result(await self.model.ainvoke(messages, config=config, **self.kwargs))

    def result(self, message: BaseMessage) -> dict[str, Any]:
        content = message.content if isinstance(message.content, str) else reply_text(message)
        refused = message.additional_kwargs.get("refusal")
        parsed = self.schema.model_validate_json(content) if content and not refused else None  # the SDK's parse
        error = None if parsed is not None or getattr(message, "tool_calls", None) else self.no_parse(message, refused)
        return {"raw": message, "parsed": parsed, "parsing_error": error}

    @staticmethod
    def no_parse(message: BaseMessage, refused: Any) -> Exception:
        """The error LangChain's parser records for a reply with nothing parsed (as ``parsing_error``)."""
        if refused:
            from langchain_openai.chat_models.base import OpenAIRefusalError

            return OpenAIRefusalError(refused, raw_message=message)
        return ValueError(
            f"Structured Output response does not have a 'parsed' field nor a 'refusal' field. Received message:\n\n{message}"
        )

    @classmethod
    def build(cls, model: Any, schema: type[BaseModel]) -> PreparedStructured:
        from langchain_core.utils.function_calling import convert_to_openai_tool
        from openai.lib._parsing._completions import type_to_response_format_param

        traced = {"kwargs": {"method": "json_schema", "strict": None}, "schema": convert_to_openai_tool(schema)}  # as LangChain binds it
        return cls(model, schema, {"response_format": type_to_response_format_param(schema), "ls_structured_output_format": traced})


def structured_runnable(rm: RoleModel, schema: type[BaseModel]) -> Any:
    """What a structured request invokes: for a model the registry built, made once per model
    and schema (a ChatOpenAI's as :class:`PreparedStructured`); for an app's own model instance,
    its ``with_structured_output`` each time (it may change between calls)."""
    if rm.spec.provider == "instance":
        return rm.model.with_structured_output(schema, include_raw=True)
    return _RUNNABLES.get(rm.model, schema, lambda: _structured(rm.model, schema))


def _structured(model: Any, schema: type[BaseModel]) -> Any:
    if type(model).__name__ == "ChatOpenAI" and type(model).__module__.startswith("langchain_openai"):
        return PreparedStructured.build(model, schema)
    return model.with_structured_output(schema, include_raw=True)


_RUNNABLES = PerModel()


@dataclass(frozen=True)
class Call:
    """One step of a call written once for both drivers: :func:`drive` returns ``run()``,
    :func:`adrive` awaits ``arun()``; the step's generator receives the result (or its error)."""

    run: Callable[[], Any]
    arun: Callable[[], Awaitable[Any]]


Steps = Generator[Call, Any, T]


def drive(steps: Steps[T]) -> T:
    """Run a call's steps here and now; what a step raises is thrown into the call at that step."""
    try:
        step = next(steps)
        while True:
            try:
                result = step.run()
            except Exception as exc:
                step = steps.throw(exc)
            else:
                step = steps.send(result)
    except StopIteration as done:
        return done.value


async def adrive(steps: Steps[T]) -> T:
    """:func:`drive` on the event loop: each step's ``arun()`` is awaited."""
    try:
        step = next(steps)
        while True:
            try:
                result = await step.arun()
            except Exception as exc:
                step = steps.throw(exc)
            else:
                step = steps.send(result)
    except StopIteration as done:
        return done.value


def request(rm: RoleModel, runnable: Any, messages: list[BaseMessage], config: RunnableConfig | None, tally: RequestTally) -> Call:
    """One model request under the retry policy (``invoke`` or ``ainvoke``); what still fails is a ModelCallError."""
    return Call(
        lambda: call_with_retry(lambda: runnable.invoke(messages, config=config), rm.limits, rm.spec.label, tally),
        lambda: acall_with_retry(lambda: runnable.ainvoke(messages, config=config), rm.limits, rm.spec.label, tally),
    )


def blocking(fn: Callable[[], T], *, heavy: bool = True) -> Call:
    """Work that blocks (encoding media, loading a model): in the sync driver as is; in the async
    one in a thread when ``heavy``, else on the loop (a thread costs more than light work)."""

    async def arun() -> T:
        return await asyncio.to_thread(fn) if heavy else fn()

    return Call(fn, arun)


def messages_step(
    prompt: Prompt, rm: RoleModel | None = None, media: MediaRef | None = None, frame_side: int = 512, *, media_first: bool = False
) -> Call:
    """:func:`~aurelia.models.messages.build_messages` as a step: off the event loop when the
    model takes media beyond text (frames and audio are decoded and base64-encoded), on it when
    the call is text only (the prompt, or the measured digest)."""
    heavy = media is not None and rm is not None and bool(rm.modalities - {"text"})
    return blocking(lambda: build_messages(prompt, rm, media, frame_side, media_first=media_first), heavy=heavy)


def text_steps(rm: RoleModel, messages: list[BaseMessage], config: RunnableConfig | None = None, **bind: Any) -> Steps[CallResult]:
    """The steps of :func:`call_text`."""
    start = time.perf_counter()
    model = rm.model.bind(**bind) if bind else rm.model
    tally = RequestTally()
    reply = yield request(rm, model, messages, config, tally)
    usage = reply_usage({}, reply)
    return CallResult(reply_text(reply).strip(), reply_text(reply), "text", time.perf_counter() - start, usage, attempts=tally.attempts)


def call_text(rm: RoleModel, messages: list[BaseMessage], *, config: RunnableConfig | None = None, **bind: Any) -> CallResult:
    """A plain-text call (summarizer, feedback critic, target); ``config`` names the traced run."""
    return drive(text_steps(rm, messages, config, **bind))


async def acall_text(rm: RoleModel, messages: list[BaseMessage], *, config: RunnableConfig | None = None, **bind: Any) -> CallResult:
    """:func:`call_text` with ``ainvoke``."""
    return await adrive(text_steps(rm, messages, config, **bind))


def structured_steps(
    rm: RoleModel,
    messages: list[BaseMessage],
    schema: type[BaseModel],
    parse_text: Callable[[str], BaseModel | None],
    config: RunnableConfig | None = None,
) -> Steps[CallResult]:
    """The steps of :func:`call_structured`."""
    start = time.perf_counter()
    usage: dict[str, int] = {}
    tally = RequestTally()
    raw = ""
    out = None
    if supports_structured(rm.model):
        try:
            out = yield request(rm, structured_runnable(rm, schema), messages, config, tally)
        except ModelCallError as exc:
            if exc.status not in REJECTED_FEATURE and not isinstance(exc.__cause__, STRUCTURED_ONLY):
                raise  # a transient fault that outlasted its retries, a bad key, a local failure: plain text would fail alike
            out = None  # a server that rejects tool calls / response_format: plain text below
    if out is not None:
        usage = reply_usage(usage, out.get("raw"))
        raw = reply_text(out.get("raw")) if out.get("raw") is not None else ""
        parsed = out.get("parsed")
        if parsed is None and getattr(out.get("raw"), "tool_calls", None):
            raw = json.dumps(out["raw"].tool_calls[0].get("args", {}))
        if isinstance(parsed, schema):
            return CallResult(parsed, raw or parsed.model_dump_json(), "structured", time.perf_counter() - start, usage, tally.attempts)
    else:
        reply = yield request(rm, rm.model, messages, config, tally)
        usage = reply_usage(usage, reply)
        raw = reply_text(reply)
    value = parse_text(raw)
    if value is not None:
        return CallResult(value, raw, "parsed", time.perf_counter() - start, usage, tally.attempts)
    repair = render("repair", schema=json.dumps(schema.model_json_schema()))
    repair_config = {**(config or {}), "run_name": f"{(config or {}).get('run_name', 'agent')} repair"}
    repair_messages = [*messages, AIMessage(content=raw or "(empty)"), HumanMessage(content=repair.user)]
    reply = yield request(rm, rm.model, repair_messages, repair_config, tally)  # type: ignore[arg-type]
    usage = reply_usage(usage, reply)
    repaired_raw = reply_text(reply)
    value = parse_text(repaired_raw)
    status = "repaired" if value is not None else "failed"
    return CallResult(value, repaired_raw if value is not None else raw, status, time.perf_counter() - start, usage, tally.attempts)


def call_structured(
    rm: RoleModel,
    messages: list[BaseMessage],
    schema: type[BaseModel],
    parse_text: Callable[[str], BaseModel | None],
    *,
    config: RunnableConfig | None = None,
) -> CallResult:
    """Ask for ``schema``; fall back to parsing text, then one repair prompt, then 'failed'.

    ``config`` (run name, tags, metadata) applies to every model call made here, for tracing."""
    return drive(structured_steps(rm, messages, schema, parse_text, config))


async def acall_structured(
    rm: RoleModel,
    messages: list[BaseMessage],
    schema: type[BaseModel],
    parse_text: Callable[[str], BaseModel | None],
    *,
    config: RunnableConfig | None = None,
) -> CallResult:
    """:func:`call_structured` with ``ainvoke``: the same requests and the same result."""
    return await adrive(structured_steps(rm, messages, schema, parse_text, config))
