"""What a model actually received for one call: one structured record for every back-end
(agent calls and targets), so that no modality is dropped silently."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Received:
    """What a model actually received for one call or sample (nothing is dropped silently)."""

    modalities: list[str] = field(default_factory=lambda: ["text"])  # text, video, image, audio, digest
    frames: int = 0  # video frames or keyframe images sent
    frame_times: list[float] = field(default_factory=list)
    frame_size: list[int] | None = None  # [width, height] of the frames handed to the processor
    fps: float | None = None  # sampling rate of the video frames
    audio_seconds: float = 0.0
    audio_truncated: bool = False
    audio_in_video: bool = False  # audio interleaved with the video frames (omni models)
    audio_options: int = 0  # candidate audio clips sent as audio (A, B, C…)
    digest: bool = False  # the measured digest was added as text
    prompt_tokens: int | None = None
    media_tokens: dict[str, int] = field(default_factory=dict)  # placeholder tokens per modality

    def labels(self) -> list[str]:
        """Short labels as in the graph's call records: text, video, frames:5, audio, digest."""
        out = ["text"]
        if "video" in self.modalities:
            out.append(f"video:{self.frames}" if self.frames else "video")
        elif "image" in self.modalities:
            out.append(f"frames:{self.frames}")
        if "audio" in self.modalities:
            out.append("audio")
        if self.audio_options:
            out.append(f"audio_options:{self.audio_options}")
        if self.digest:
            out.append("digest")
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
