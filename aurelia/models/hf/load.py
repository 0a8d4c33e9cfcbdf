"""Load a local Hugging Face model once per process and find out what it can take.

The model class comes from the checkpoint's config (multimodal LM, image-text-to-text, causal
LM), never from a list of names; the capabilities come from the processor the checkpoint
ships (image / video processor, audio feature extractor, omni audio-in-video interleaving).
Needs the optional ``hf`` extra; nothing here is imported on the default (llama.cpp) path.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aurelia.errors import ModelConfigError, describe_failure
from aurelia.models.hf.settings import HFSettings
from aurelia.models.spec import parse_model_string

_LOAD_LOCK = threading.Lock()
_LOADED: dict[tuple, LoadedModel] = {}


@dataclass(frozen=True)
class Capabilities:
    """What the checkpoint's processor (and so the model) takes besides text."""

    image: bool = False
    video: bool = False
    audio: bool = False
    audio_in_video: bool = False  # omni: the video's audio interleaved with its frames (Qwen-Omni)

    @property
    def family(self) -> str:
        if self.audio_in_video:
            return "omni (video + audio)"
        if self.audio and (self.image or self.video):
            return "images + audio"
        if self.image or self.video:
            return "vision-language (frames/video + audio digest)"
        if self.audio:
            return "audio-language (audio + visual digest)"
        return "text-only (digest)"

    def names(self) -> list[str]:
        return [m for m in ("image", "video", "audio") if getattr(self, m)]

    @property
    def modalities(self) -> frozenset[str]:
        """As a model string's modalities: text plus whatever media it takes."""
        return frozenset({"text", *self.names()})


@dataclass
class LoadedModel:
    """A model, its processor and what it takes; shared by every node and benchmark worker."""

    source: str
    model_type: str
    processor: Any  # a ProcessorMixin, or a tokenizer for text-only models
    model: Any  # the module whose ``generate`` writes the text answer (``.thinker`` for omni)
    caps: Capabilities
    dtype: str
    device: str
    attn_implementation: str
    load_seconds: float
    accepts_audio_in_video_flag: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def tokenizer(self) -> Any:
        return getattr(self.processor, "tokenizer", self.processor)


def requested_modalities(raw: str) -> frozenset[str] | None:
    """Modalities forced by a ``#video+audio`` suffix on the model string, else None."""
    return parse_model_string(raw).modalities if "#" in raw else None


def allowed_capabilities(caps: Capabilities, requested: frozenset[str] | None, raw: str) -> Capabilities:
    """Narrow the model's capabilities to the requested ones; asking for more is an error."""
    if requested is None:
        return caps
    missing = sorted(m for m in requested - {"text"} if not getattr(caps, m))
    if missing:
        takes = ", ".join(caps.names()) or "text only"
        asked, lacks = " + ".join(missing), " or ".join(missing)
        raise ModelConfigError(f"model {raw!r} was asked for {asked} input, but its processor takes no {lacks} (it takes: {takes})")
    video, audio = "video" in requested, "audio" in requested
    return Capabilities(image="image" in requested, video=video, audio=audio, audio_in_video=caps.audio_in_video and video and audio)


def require_hf() -> None:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ModelConfigError("hf: models need the optional extra: pip install 'aurelia-av[hf]'") from exc


def resolve_source(name: str) -> str:
    """A local directory (must hold config.json) or a hub id (used only if cached or online)."""
    local = Path(name).expanduser()
    if local.exists():
        if not local.is_dir():
            raise ModelConfigError("not a Hugging Face model directory (a file was given; GGUF files use 'gguf:PATH')", path=name)
        if not (local / "config.json").is_file():
            raise ModelConfigError("not a Hugging Face model directory: no config.json in it", path=name)
        return str(local)
    if name.startswith((".", "/", "~")) or "\\" in name or name.count("/") > 1:
        raise ModelConfigError("Hugging Face model path not found", path=name)
    return name


def model_class_for(config: Any):
    """The transformers auto class that generates text for this checkpoint: its declared
    architecture must be a multimodal-LM, image-text-to-text or causal-LM class."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoModelForMultimodalLM
    from transformers.models.auto import modeling_auto as ma

    kind = config.model_type
    archs = list(getattr(config, "architectures", None) or [])
    candidates = (
        (AutoModelForMultimodalLM, ma.MODEL_FOR_MULTIMODAL_LM_MAPPING_NAMES),
        (AutoModelForImageTextToText, ma.MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES),
        (AutoModelForCausalLM, ma.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES),
    )
    for auto_cls, names in candidates:
        if kind not in names:
            continue
        classes = names[kind] if isinstance(names[kind], tuple | list) else (names[kind],)
        if not archs or set(archs) & set(classes):
            return auto_cls
    shown = f" ({', '.join(archs)})" if archs else ""
    raise ModelConfigError(
        f"unsupported model type {kind!r}{shown}: it is not a text-generating model "
        "(no multimodal-LM, image-text-to-text or causal-LM class in transformers)"
    )


def _has_part(processor: Any, *names: str) -> bool:
    return any(getattr(processor, n, None) is not None for n in names)


def _config_has(config: Any, key: str) -> bool:
    """Whether the config (or an omni thinker sub-config) declares an encoder like ``vision_config``."""
    for cfg in (config, getattr(config, "thinker_config", None)):
        if cfg is not None and getattr(cfg, key, None) is not None:
            return True
    return False


def detect_capabilities(processor: Any, config: Any, source: str) -> Capabilities:
    """Capabilities from the processor; a config/processor mismatch is an error naming what is missing."""
    from transformers import PreTrainedTokenizerBase

    if isinstance(processor, PreTrainedTokenizerBase):
        image = video = audio = False
    else:
        image = _has_part(processor, "image_processor")
        video = _has_part(processor, "video_processor")
        audio = _has_part(processor, "feature_extractor", "audio_processor")
    if _config_has(config, "vision_config") and not (image or video):
        raise ModelConfigError(
            f"the {config.model_type!r} model has a vision encoder but its directory has no image or video processor "
            "(preprocessor_config.json / processor_config.json missing?)",
            path=source,
        )
    if _config_has(config, "audio_config") and not audio:
        raise ModelConfigError(
            f"the {config.model_type!r} model has an audio encoder but its directory has no audio feature extractor", path=source
        )
    try:
        from transformers.processing_utils import OmniModalProcessorMixin
    except ImportError:  # pragma: no cover - older transformers
        OmniModalProcessorMixin = ()
    omni = bool(OmniModalProcessorMixin) and isinstance(processor, OmniModalProcessorMixin)
    return Capabilities(image=image, video=video, audio=audio, audio_in_video=omni and video and audio)


def _torch_dtype(name: str):
    import torch

    if name == "auto":
        return torch.bfloat16 if torch.cuda.is_available() else torch.float32
    return getattr(torch, name)


def load_model(name: str, settings: HFSettings | None = None) -> LoadedModel:
    """Load ``name`` (a local directory or a hub id) once per process for these load options."""
    require_hf()
    settings = settings or HFSettings()
    key = (name, settings.dtype, settings.device_map, settings.attn_implementation, settings.trust_remote_code)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _LOADED[key] = _load(name, settings)
        return _LOADED[key]


def _load(name: str, settings: HFSettings) -> LoadedModel:
    from transformers import AutoConfig

    start = time.perf_counter()
    source = resolve_source(name)
    try:
        config = AutoConfig.from_pretrained(source, trust_remote_code=settings.trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ModelConfigError(f"could not read the model config ({describe_failure(exc)})", path=name) from exc
    auto_cls = model_class_for(config)  # an architecture we cannot run fails before anything loads
    processor = _load_processor(source, config, name, settings)
    caps = detect_capabilities(processor, config, name)
    if hasattr(config, "enable_audio_output"):
        config.enable_audio_output = False  # omni: text answers only, no talker / speech decoder in memory
    dtype = _torch_dtype(settings.dtype)
    model, attn = _load_weights(auto_cls, source, config, dtype, name, settings)
    text_model = getattr(model, "thinker", None) or model  # omni: the thinker writes the text
    import inspect

    flag = "use_audio_in_video" in inspect.signature(text_model.forward).parameters
    return LoadedModel(
        source=source,
        model_type=config.model_type,
        processor=processor,
        model=text_model,
        caps=caps,
        dtype=str(dtype).removeprefix("torch."),
        device=str(text_model.device),
        attn_implementation=attn,
        load_seconds=round(time.perf_counter() - start, 3),
        accepts_audio_in_video_flag=flag,
    )


def _load_processor(source: str, config: Any, name: str, settings: HFSettings) -> Any:
    """The model's processor (or tokenizer), set to pad on the left for batched generation; a
    processor that cannot load is a ModelConfigError saying which encoder's files are missing."""
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(source, trust_remote_code=settings.trust_remote_code)
    except (OSError, ValueError, ImportError, TypeError) as exc:
        lacks = [
            what for key, what in (("vision_config", "a vision encoder"), ("audio_config", "an audio encoder")) if _config_has(config, key)
        ]
        if lacks:
            raise ModelConfigError(
                f"the {config.model_type!r} model has {' and '.join(lacks)} but its processor could not be loaded: "
                f"the directory lacks its image/video/audio processor files ({describe_failure(exc)})",
                path=name,
            ) from exc
        raise ModelConfigError(f"could not load the processor or tokenizer ({describe_failure(exc)})", path=name) from exc
    tokenizer = getattr(processor, "tokenizer", processor)
    tokenizer.padding_side = "left"  # batched generation appends after the prompt
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return processor


def _load_weights(auto_cls: Any, source: str, config: Any, dtype: Any, name: str, settings: HFSettings) -> tuple[Any, str]:
    """The model in eval mode on the GPU when there is one (placed by accelerate with a
    ``device_map``), and the attention implementation it got (eager where SDPA has no kernel)."""
    import torch

    cuda = torch.cuda.is_available()
    kwargs: dict[str, Any] = {"config": config, "dtype": dtype, "trust_remote_code": settings.trust_remote_code}
    use_map = cuda and settings.device_map is not None and _has_accelerate()
    if use_map:
        kwargs["device_map"] = settings.device_map
    attn = settings.attn_implementation
    try:
        model = auto_cls.from_pretrained(source, attn_implementation=attn, **kwargs)
    except (ValueError, ImportError) as exc:
        if "attn" not in str(exc).lower() and "attention" not in str(exc).lower():
            raise ModelConfigError(f"could not load the model ({describe_failure(exc)})", path=name) from exc
        attn = "eager"  # this architecture has no SDPA kernel
        model = auto_cls.from_pretrained(source, attn_implementation=attn, **kwargs)
    except OSError as exc:
        raise ModelConfigError(f"could not load the model weights ({describe_failure(exc)})", path=name) from exc
    if cuda and not use_map:
        model = model.to("cuda")
    model.eval()
    return model, attn


def _has_accelerate() -> bool:
    import importlib.util

    return importlib.util.find_spec("accelerate") is not None
