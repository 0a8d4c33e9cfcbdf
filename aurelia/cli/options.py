"""Options that several commands share (``aurelia run``, ``aurelia bench run``): one spelling, one help text."""

from __future__ import annotations

from typing import Annotated

import typer

ModelOpt = Annotated[str | None, typer.Option(help="Model string for this role (default: local).")]
ThresholdOpt = Annotated[int | None, typer.Option(help="τ: stop when the score reaches this (1-10, default 6).")]
MaxIterationsOpt = Annotated[int | None, typer.Option(help="T: most iterations (default 5).")]
FeedbackOpt = Annotated[str | None, typer.Option(help="LLM critic for feedback (default: template).")]
