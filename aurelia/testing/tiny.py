"""Tiny random-weight checkpoints of real architectures, built offline in a second.

For tests, benchmarks and smoke checks without a download: each builder writes a directory
that ``from_pretrained`` reads like a downloaded checkpoint: a small config of the real
architecture (random weights), a byte-level BPE tokenizer trained here that carries the
architecture's real special tokens, the architecture's own image/video/audio processors and
its chat template. The answers are noise; the shapes, token counts and code paths are real.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

QWEN_SPECIALS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|AUDIO|>",
    "<|audio_bos|>",
    "<|audio_eos|>",
    "<|vision_bos|>",
    "<|vision_eos|>",
    "<|IMAGE|>",
    "<|VIDEO|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]

CORPUS = [
    "You answer questions about a video and its audio.",
    "Question: What colour is the screen while the audio is silent? Choices: (A) red (B) blue (C) green (D) black",
    "Answer with the letter of the correct choice (A, B, C, D) only. Answer with a short phrase.",
    "Reasoning steps to consider: Look at the colour after 6s. Listen for silence. Final answer: green",
    "Measured facts about the media: Video: 6.0s, 160x120, 25 fps. Keyframes, loudness, pitch, Hz, dBFS.",
    "system user assistant The quick brown fox jumps over the lazy dog 0123456789",
]

# Qwen2.5-Omni's chat template (placeholders: vision_bos/IMAGE|VIDEO/vision_eos, audio_bos/AUDIO/audio_eos)
OMNI_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}<|vision_bos|><|IMAGE|><|vision_eos|>"
    "{% elif content['type'] == 'audio' %}<|audio_bos|><|AUDIO|><|audio_eos|>"
    "{% elif content['type'] == 'video' %}<|vision_bos|><|VIDEO|><|vision_eos|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Qwen2-VL's chat template
VL_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}"
    "{% for content in message['content'] %}{% if content['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer(named: dict[str, str], vocab_size: int = 400):
    """A byte-level BPE tokenizer trained on a few sentences, with Qwen's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=QWEN_SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        extra_special_tokens=named,
        padding_side="left",
    )


def _ids(tokenizer, *tokens: str) -> list[int]:
    return [tokenizer.convert_tokens_to_ids(t) for t in tokens]


def _mrope_text_config(vocab: int, hidden: int, pad: int, eos: int) -> dict:
    """A two-layer Qwen2 text stack with multimodal rotary positions (Qwen2-VL and Omni)."""
    return {
        "vocab_size": vocab,
        "hidden_size": hidden,
        "intermediate_size": 128,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        "pad_token_id": pad,
        "eos_token_id": eos,
    }


def _small_vision_processors() -> dict:
    """Qwen2-VL image and video processors that keep frames tiny."""
    from transformers import Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    small = {"shortest_edge": 28 * 28 * 4, "longest_edge": 28 * 28 * 16}
    kw = {"size": small, "patch_size": 14, "temporal_patch_size": 2, "merge_size": 2}
    return {"image_processor": Qwen2VLImageProcessor(**kw), "video_processor": Qwen2VLVideoProcessor(**kw)}


def _save_model(build: Callable[[], Any], path: Path, pad: int, eos: int) -> None:
    """Build a model with seeded random weights (the same tiny model every time), set its
    generation's pad and end tokens, and save it to ``path``."""
    import torch

    torch.manual_seed(0)
    model = build()
    model.generation_config.pad_token_id = pad
    model.generation_config.eos_token_id = eos
    model.save_pretrained(path)


def build_tiny_omni(path: str | Path, full: bool = False) -> Path:
    """A tiny Qwen2.5-Omni: the thinker alone (``qwen2_5_omni_thinker``) or, with ``full``, the
    whole ``qwen2_5_omni`` checkpoint without its speech parts (text answers come from .thinker)."""
    import torch
    from transformers import (
        Qwen2_5OmniConfig,
        Qwen2_5OmniForConditionalGeneration,
        Qwen2_5OmniProcessor,
        Qwen2_5OmniThinkerForConditionalGeneration,
        WhisperFeatureExtractor,
    )

    path = Path(path)
    named = {
        "image_token": "<|IMAGE|>",
        "audio_token": "<|AUDIO|>",
        "video_token": "<|VIDEO|>",
        "vision_bos_token": "<|vision_bos|>",
        "vision_eos_token": "<|vision_eos|>",
        "audio_bos_token": "<|audio_bos|>",
        "audio_eos_token": "<|audio_eos|>",
    }
    tokenizer = build_tokenizer(named)
    thinker, pad, eos = _omni_thinker_config(tokenizer)
    if full:
        config = Qwen2_5OmniConfig(thinker_config=thinker.to_dict(), enable_audio_output=False)
        _save_model(lambda: Qwen2_5OmniForConditionalGeneration(config), path, pad, eos)
    else:
        _save_model(lambda: Qwen2_5OmniThinkerForConditionalGeneration(thinker), path, pad, eos)
    if full:
        torch.save({}, path / "spk_dict.pt")  # the real checkpoint ships its speakers; none needed for text
    processor = Qwen2_5OmniProcessor(
        **_small_vision_processors(),
        feature_extractor=WhisperFeatureExtractor(feature_size=128, chunk_length=30),
        tokenizer=tokenizer,
        chat_template=OMNI_TEMPLATE,
    )
    processor.save_pretrained(path)
    return path


def _omni_thinker_config(tokenizer: Any, hidden: int = 64) -> tuple[Any, int, int]:
    """The tiny thinker's config (one-layer audio and vision encoders over a small text model)
    and its pad and end-of-sequence token ids."""
    from transformers import Qwen2_5OmniThinkerConfig

    audio_id, audio_bos, audio_eos, vision_bos, image_id, video_id, pad, eos = _ids(
        tokenizer, "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>", "<|vision_bos|>", "<|IMAGE|>", "<|VIDEO|>", "<|endoftext|>", "<|im_end|>"
    )
    thinker = Qwen2_5OmniThinkerConfig(
        audio_config={
            "num_mel_bins": 128,
            "encoder_layers": 1,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 64,
            "d_model": 32,
            "output_dim": hidden,
            "n_window": 50,
            "max_source_positions": 1500,
        },
        vision_config={
            "depth": 1,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": hidden,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 56,
            "fullatt_block_indexes": [0],
        },
        text_config=_mrope_text_config(len(tokenizer), hidden, pad, eos),
        audio_token_index=audio_id,
        image_token_index=image_id,
        video_token_index=video_id,
        vision_start_token_id=vision_bos,
        audio_start_token_id=audio_bos,
        audio_end_token_id=audio_eos,
    )
    return thinker, pad, eos


def build_tiny_qwen2vl(path: str | Path) -> Path:
    """A tiny Qwen2-VL (vision-language: images and video, no audio)."""
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration, Qwen2VLProcessor

    path = Path(path)
    tokenizer = build_tokenizer({"image_token": "<|image_pad|>", "video_token": "<|video_pad|>"})
    vision_start, image_id, video_id, pad, eos = _ids(
        tokenizer, "<|vision_start|>", "<|image_pad|>", "<|video_pad|>", "<|endoftext|>", "<|im_end|>"
    )
    hidden = 64
    config = Qwen2VLConfig(
        vision_config={
            "depth": 1,
            "embed_dim": 32,
            "hidden_size": hidden,
            "num_heads": 2,
            "mlp_ratio": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        text_config={**_mrope_text_config(len(tokenizer), hidden, pad, eos), "bos_token_id": None},
        image_token_id=image_id,
        video_token_id=video_id,
        vision_start_token_id=vision_start,
    )
    _save_model(lambda: Qwen2VLForConditionalGeneration(config), path, pad, eos)
    processor = Qwen2VLProcessor(
        **_small_vision_processors(),
        tokenizer=tokenizer,
        chat_template=VL_TEMPLATE,
    )
    processor.save_pretrained(path)
    return path


def build_tiny_text_lm(path: str | Path) -> Path:
    """A tiny Qwen2 causal LM (text only)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    tokenizer = build_tokenizer({})
    tokenizer.chat_template = VL_TEMPLATE
    pad, eos = _ids(tokenizer, "<|endoftext|>", "<|im_end|>")
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        pad_token_id=pad,
        eos_token_id=eos,
    )
    _save_model(lambda: Qwen2ForCausalLM(config), path, pad, eos)
    tokenizer.save_pretrained(path)
    return path
