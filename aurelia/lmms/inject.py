"""What the plugin reads from an lmms-eval request and what it changes in it: the media (from
``doc_to_visual`` or the chat messages' content parts), the question the agents read, and r*
injected into the prompt text or the last user turn.

Pure functions on lmms-eval's plain data (strings, lists, dicts), so that they are tested without
lmms-eval. Where r* goes follows our ``inject_position``: ``after_choices`` (the default, as in
``aurelia bench``) puts it after the task's whole text, ``before_question`` before it (the
paper prepends it); a chat turn's media parts stay first.
"""

from __future__ import annotations

import copy
import hashlib
import wave
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aurelia.errors import MediaError

# how lmms-eval itself tells media kinds apart by extension (ConfigurableMessagesTask._visual_to_content)
AUDIO_EXTS = frozenset({".wav", ".mp3", ".flac", ".m4a", ".ogg", ".aac", ".opus", ".wma"})
IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


@dataclass
class RequestMedia:
    """The files the agents get for one doc: the first video, a separate audio track when the
    task gives one, and what could not be used (said in the reasoning log, never dropped silently)."""

    video: str | None = None
    audio: str | None = None
    ignored: list[str] = field(default_factory=list)

    def add_path(self, path: str, kind: str | None = None) -> None:
        suffix = Path(path).suffix.lower()
        kind = kind or ("audio" if suffix in AUDIO_EXTS else "image" if suffix in IMAGE_EXTS else "video")
        if kind == "video" and self.video is None:
            self.video = path
        elif kind == "audio" and self.audio is None:
            self.audio = path
        else:
            self.ignored.append(f"{kind}: {path}" if kind in ("image", "video", "audio") else path)


def _add_visual(media: RequestMedia, visual: Any, kind: str | None, spill: Path) -> None:
    if isinstance(visual, str | Path):
        media.add_path(str(visual), kind)
    elif isinstance(visual, Mapping) and "array" in visual and "sampling_rate" in visual:
        media.add_path(str(write_wav(visual["array"], int(visual["sampling_rate"]), spill)), "audio")
    elif isinstance(visual, Mapping) and isinstance(visual.get("path") or visual.get("url"), str):
        media.add_path(visual.get("path") or visual["url"], kind or visual.get("type"))
    else:
        media.ignored.append(f"{kind or 'visual'}: an in-memory {type(visual).__name__}")


def media_from_visuals(visuals: Any, spill: Path) -> RequestMedia:
    """What ``doc_to_visual(doc)`` returned: paths (video, or audio by extension), audio dicts
    (``{"path"}``, or ``{"array", "sampling_rate"}`` written once as a WAV under ``spill``)."""
    media = RequestMedia()
    for visual in visuals if isinstance(visuals, list | tuple) else [visuals] if visuals is not None else []:
        _add_visual(media, visual, None, spill)
    return media


def media_from_messages(messages: Sequence[Mapping[str, Any]], spill: Path) -> RequestMedia:
    """The media parts (``{"type": "video"|"audio"|"image", "url": ...}``) of every turn."""
    media = RequestMedia()
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            if isinstance(part, Mapping) and part.get("type") in ("video", "audio", "image"):
                _add_visual(media, part.get("url"), part["type"], spill)
    return media


def write_wav(array: Any, rate: int, spill: Path) -> Path:
    """A mono 16-bit WAV of ``array`` (floats in [-1, 1], or int16), named by its content's
    sha256: the same audio is written once and hashes the same for the reasoning cache."""
    import numpy as np

    samples = np.asarray(array)
    if samples.ndim > 1:
        samples = samples.mean(axis=-1 if samples.shape[-1] <= 8 else 0)
    if samples.dtype.kind == "f":
        samples = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    data = samples.astype("<i2").tobytes()
    if not data or rate < 1:
        raise MediaError(f"an audio array with {samples.size} samples at {rate} Hz cannot be used")
    spill.mkdir(parents=True, exist_ok=True)
    path = spill / f"{hashlib.sha256(data + rate.to_bytes(4, 'little')).hexdigest()[:32]}.wav"
    if not path.exists():
        part = path.with_suffix(".part")
        with wave.open(str(part), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(data)
        part.replace(path)
    return path


def last_user_turn(messages: Sequence[Mapping[str, Any]]) -> int | None:
    """The index of the last user message, or None."""
    return next((i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "user"), None)


def text_of(content: Any) -> str:
    """The text of a message's content (a string, or its text parts joined)."""
    if isinstance(content, str):
        return content
    parts: Iterable[Any] = content if isinstance(content, list) else []
    return "\n".join(p["text"] for p in parts if isinstance(p, Mapping) and p.get("type") == "text" and isinstance(p.get("text"), str))


def question_of_messages(messages: Sequence[Mapping[str, Any]]) -> str:
    """What the agents read as the question of a chat request: the last user turn's text."""
    i = last_user_turn(messages)
    return "" if i is None else text_of(messages[i].get("content")).strip()


def inject_text(text: str, injected: str, position: str) -> str:
    """``text`` with r* after it (``after_choices``) or before it (``before_question``); ``text``
    as it is when nothing is injected (inject ``none``)."""
    if not injected:
        return text
    if position == "before_question":
        return f"{injected}\n\n{text.lstrip()}"
    return f"{text.rstrip()}\n\n{injected}"


def inject_messages(messages: Sequence[Mapping[str, Any]], injected: str, position: str) -> list[dict[str, Any]]:
    """A copy of ``messages`` with r* in the last user turn: joined to its last text part
    (``after_choices``) or its first (``before_question``), or as a new text part when it has none.
    The caller's messages are never changed (lmms-eval may reuse them)."""
    out = [dict(m) for m in copy.deepcopy(list(messages))]
    i = last_user_turn(out)
    if not injected or i is None:
        return out
    content = out[i].get("content")
    if isinstance(content, str) or content is None:
        out[i]["content"] = inject_text(content or "", injected, position)
        return out
    texts = [j for j, p in enumerate(content) if isinstance(p, Mapping) and p.get("type") == "text"]
    if not texts:
        content.append({"type": "text", "text": injected})
    else:
        j = texts[0] if position == "before_question" else texts[-1]
        content[j] = {**content[j], "text": inject_text(str(content[j].get("text") or ""), injected, position)}
    return out
