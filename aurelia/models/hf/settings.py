"""Load options and input budget of the local Hugging Face runtime (agent roles and targets)."""

from __future__ import annotations

from dataclasses import dataclass

from aurelia.errors import InputError


@dataclass(frozen=True)
class HFSettings:
    """How a checkpoint is loaded and how much media one prompt may carry."""

    fps: float = 2.0  # video frames sampled per second ...
    max_frames: int = 32  # ... up to this many per clip
    max_pixels: int = 256 * 28 * 28  # per frame, for processors that resize dynamically (Qwen-VL/Omni)
    frame_side: int = 512  # longest side of decoded frames and keyframes
    max_audio_seconds: float | None = None  # None: what the audio processor takes in one go
    dtype: str = "auto"  # auto = bfloat16 on GPU, float32 on CPU
    device_map: str | None = "auto"  # used on GPU only
    attn_implementation: str = "sdpa"
    trust_remote_code: bool = False

    def __post_init__(self) -> None:
        if self.max_frames < 1 or self.fps <= 0:
            raise InputError(f"need max_frames >= 1 and fps > 0, got {self.max_frames} and {self.fps}")
        if self.dtype not in ("auto", "bfloat16", "float16", "float32"):
            raise InputError(f"dtype must be auto, bfloat16, float16 or float32, got {self.dtype!r}")
