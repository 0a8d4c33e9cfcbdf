"""Test helpers around the tiny checkpoints of :mod:`aurelia.testing.tiny`."""

from __future__ import annotations

from pathlib import Path

from aurelia.testing.tiny import build_tiny_omni, build_tiny_qwen2vl, build_tiny_text_lm


def build_tiny_whisper(path: str | Path) -> Path:
    """A tiny Whisper: a real audio checkpoint that is not a chat model (for the 'unsupported' error)."""
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    path = Path(path)
    config = WhisperConfig(
        vocab_size=100,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
    )
    WhisperForConditionalGeneration(config).save_pretrained(path)
    return path


_BUILT: dict[str, Path] = {}
BUILDERS = {
    "omni": build_tiny_omni,
    "omni_full": lambda p: build_tiny_omni(p, full=True),
    "vlm": build_tiny_qwen2vl,
    "text": build_tiny_text_lm,
    "whisper": build_tiny_whisper,
}


def tiny_model(kind: str, tmp_path_factory) -> Path:
    """Build each tiny checkpoint once per test session (shared by every test module)."""
    if kind not in _BUILT:
        _BUILT[kind] = BUILDERS[kind](tmp_path_factory.mktemp(f"tiny-{kind}"))
    return _BUILT[kind]


def find_module(model, suffix: str):
    """The first sub-module whose dotted name ends with ``suffix`` (e.g. 'audio_tower', 'visual')."""
    for name, module in model.named_modules():
        if name.split(".")[-1] == suffix:
            return module
    raise LookupError(suffix)


class Recorder:
    """A forward hook that records the inputs a sub-module receives."""

    def __init__(self, module) -> None:
        self.calls: list[tuple[tuple, dict]] = []
        self.handle = module.register_forward_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs, output) -> None:
        self.calls.append((args, kwargs))

    def close(self) -> None:
        self.handle.remove()
