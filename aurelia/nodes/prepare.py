"""prepare: validate the input and settings, probe the media and build its measured digest."""

from __future__ import annotations

from langgraph.runtime import Runtime

from aurelia.errors import InputError
from aurelia.graph.context import Context, validate_context
from aurelia.graph.state import State
from aurelia.media.prepare import prepare_media
from aurelia.models.registry import validate_model_string
from aurelia.nodes.common import Models, run_settings
from aurelia.schemas import check_question


def validate_input(state: State) -> None:
    check_question(state.get("question"), state.get("choices"))
    if not state.get("video"):
        raise InputError("no video path given")


def validate_models(ctx: Context, models: Models, with_target: bool) -> None:
    roles = ["generator", "summarizer", "evaluator", "feedback"] + (["target", "extractor"] if with_target else [])
    for role in roles:
        raw = getattr(ctx, f"{role}_model")
        if role not in models.overrides and raw:
            validate_model_string(raw)


def make_prepare(models: Models, with_target: bool):
    def prepare(state: State, runtime: Runtime[Context]) -> dict:
        ctx = validate_context(runtime.context or Context())
        validate_input(state)
        validate_models(ctx, models, with_target)
        return {
            "settings": run_settings(ctx, models),  # also refuses settings that cannot work together
            "media": prepare_media(state["video"], state.get("audio"), ctx.num_frames, audio_candidates=state.get("audio_candidates")),
            "review_requested": ctx.review,
            # the zero-shot baseline skips the loop (the router reads this)
            "stop_reason": "baseline" if with_target and ctx.inject == "none" else None,
        }

    return prepare
