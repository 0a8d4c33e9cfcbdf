"""prepare: validate the input and settings, probe the media and build its measured digest.

It is the graph's trust boundary: every check runs here, before any model or file is touched,
so runs from the CLI, the Python API, Studio, the SDK and embedding apps get the same ones.
"""

from __future__ import annotations

from langgraph.runtime import Runtime

from aurelia.boundary import Policy, check_audio_candidates
from aurelia.errors import InputError
from aurelia.graph.context import Context, validate_context
from aurelia.graph.state import State
from aurelia.media.prepare import prepare_media
from aurelia.models.registry import validate_model_string
from aurelia.nodes.common import GraphNode, Models, blocking_node, run_settings
from aurelia.schemas import check_question

MAX_SAMPLE_ID_CHARS = 200


def validate_input(state: State) -> None:
    """Types and sizes of the input (a served client's JSON is not checked by LangGraph)."""
    check_question(state.get("question"), state.get("choices"))
    if not isinstance(state.get("video"), str) or not state["video"].strip():
        raise InputError("no video path given")
    if state.get("audio") is not None and not isinstance(state.get("audio"), str):
        raise InputError(f"audio must be a file path, got {state.get('audio')!r}")
    check_audio_candidates(state.get("audio_candidates"))
    sample_id = state.get("sample_id")
    if sample_id is not None and (not isinstance(sample_id, str) or len(sample_id) > MAX_SAMPLE_ID_CHARS):
        raise InputError(f"sample_id must be a string of at most {MAX_SAMPLE_ID_CHARS} characters")


def validate_models(ctx: Context, models: Models, with_target: bool, policy: Policy | None = None) -> None:
    """Each role's model string is one this deployment allows, and usable (nothing is loaded)."""
    policy = policy or Policy()
    roles = ["generator", "summarizer", "evaluator", "feedback"] + (["target", "extractor"] if with_target else [])
    for role in roles:
        raw = getattr(ctx, f"{role}_model")
        if role not in models.overrides and raw:
            policy.check_model(raw, f"{role}_model")
            validate_model_string(policy.model_source(raw, f"{role}_model"))


def media_paths(state: State, policy: Policy) -> tuple[str, str | None, list[str] | None]:
    """The video, audio and candidate paths this run may open (served: under the media root)."""
    video = policy.media_path(state["video"], "video")
    audio = policy.media_path(state["audio"], "audio") if state.get("audio") else None
    candidates = [policy.media_path(p, "candidate audio clip") for p in state.get("audio_candidates") or []]
    return video, audio, candidates or None


def make_prepare(models: Models, with_target: bool) -> GraphNode:
    def prepare(state: State, runtime: Runtime[Context]) -> dict:
        ctx = validate_context(runtime.context or Context())
        policy = models.policy()
        validate_input(state)
        validate_models(ctx, models, with_target, policy)
        video, audio, candidates = media_paths(state, policy)
        return {
            "settings": run_settings(ctx, models),  # also refuses settings that cannot work together
            "media": prepare_media(video, audio, ctx.num_frames, audio_candidates=candidates),
            "review_requested": ctx.review,
            # the zero-shot baseline skips the loop (the router reads this)
            "stop_reason": "baseline" if with_target and ctx.inject == "none" else None,
        }

    return blocking_node("prepare", prepare)  # probing and hashing the media block: in a thread under ainvoke
