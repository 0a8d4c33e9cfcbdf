"""Content blocks per provider, and the cache: one encode per clip per run, however many calls."""

from __future__ import annotations

import base64

import av
import pytest

from aurelia.media import blocks
from aurelia.media.blocks import ENCODES, clear_caches, media_blocks, set_gemini_uploader
from aurelia.media.prepare import prepare_media

IMAGE = frozenset({"text", "image"})
IMAGE_AUDIO = frozenset({"text", "image", "audio"})
ALL = frozenset({"text", "image", "audio", "video"})


@pytest.fixture(autouse=True)
def fresh_caches():
    clear_caches()
    yield
    clear_caches()
    set_gemini_uploader(None)


def _decodes_as(b64: str, codec: str, tmp_path) -> None:
    path = tmp_path / f"x.{codec}"
    path.write_bytes(base64.b64decode(b64))
    with av.open(str(path)) as c:
        assert c.streams[0].codec_context.name == codec


def test_openai_frames_as_jpeg_data_urls_and_input_audio(clip, tmp_path):
    """Standard blocks, translated by langchain-openai itself into its wire format."""
    from langchain_core.messages import HumanMessage
    from langchain_openai.chat_models.base import _convert_message_to_dict

    media = prepare_media(str(clip), num_frames=3)
    blocks, sent = media_blocks(media, IMAGE_AUDIO, frame_side=96, provider="openai")
    assert {b["type"] for b in blocks} == {"text", "image", "audio"}
    out = _convert_message_to_dict(HumanMessage(content=blocks))["content"]
    images = [b for b in out if b["type"] == "image_url"]
    assert len(images) == 3 and sent.labels() == ["text", "frames:3", "audio"]
    url = images[0]["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    path = tmp_path / "f.jpg"
    path.write_bytes(base64.b64decode(url.split(",", 1)[1]))
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        assert max(frame.width, frame.height) == 96
    (audio,) = [b for b in out if b["type"] == "input_audio"]
    assert audio["input_audio"]["format"] == "wav"
    assert base64.b64decode(audio["input_audio"]["data"])[:4] == b"RIFF"


def test_anthropic_images_and_digest_for_the_audio(clip):
    from langchain_anthropic.chat_models import _format_data_content_block

    media = prepare_media(str(clip), num_frames=2)
    out, sent = media_blocks(media, IMAGE, provider="anthropic")
    images = [_format_data_content_block(b) for b in out if b["type"] == "image"]  # as langchain-anthropic sends them
    assert [b["source"]["media_type"] for b in images] == ["image/jpeg", "image/jpeg"]
    assert sent.labels() == ["text", "frames:2", "digest"]  # no audio input: the measured digest covers it
    assert "Dominant pitch" in out[-1]["text"]


def test_text_only_gets_the_digest(clip):
    media = prepare_media(str(clip))
    out, sent = media_blocks(media, frozenset({"text"}), provider="ollama")
    assert sent.labels() == ["text", "digest"] and [b["type"] for b in out] == ["text"]
    assert ENCODES == {}


def test_gemini_separate_audio_as_flac(silent_clip, tone_wav, tmp_path):
    media = prepare_media(str(silent_clip), str(tone_wav))
    out, sent = media_blocks(media, ALL, provider="google_genai")
    assert sent.labels() == ["text", "video", "audio"]
    (audio,) = [b for b in out if b["type"] == "audio"]
    assert audio["mime_type"] == "audio/flac"
    _decodes_as(audio["base64"], "flac", tmp_path)


def test_gemini_inline_video_then_upload_once_when_large(clip, monkeypatch):
    media = prepare_media(str(clip))
    out, sent = media_blocks(media, ALL, provider="google_genai")
    assert sent.labels() == ["text", "video", "audio"] and out[0]["type"] == "video" and out[0]["mime_type"] == "video/mp4"
    assert base64.b64decode(out[0]["base64"]) == clip.read_bytes()
    uploads = []
    set_gemini_uploader(lambda path, mime: uploads.append((path, mime)) or "files/abc")
    monkeypatch.setattr(blocks, "INLINE_VIDEO_LIMIT", 1000)
    for _ in range(4):
        out, sent = media_blocks(media, ALL, provider="google_genai")
    assert out[0] == {"type": "video", "file_id": "files/abc", "mime_type": "video/mp4"}
    assert uploads == [(str(clip), "video/mp4")]


def test_one_encode_per_clip_across_iterations_agents_and_providers(clip):
    media = prepare_media(str(clip), num_frames=4)
    for _iteration in range(5):
        for provider in ("openai", "anthropic", None, "openai_compatible"):
            media_blocks(media, IMAGE_AUDIO, frame_side=256, provider=provider)
    assert ENCODES == {"jpeg": 4, "wav": 1}
    media_blocks(media, IMAGE, frame_side=128, provider="openai")  # other settings: a new encode
    assert ENCODES["jpeg"] == 8


def test_audio_options_sent_to_audio_models(clip, tmp_path):
    from aurelia.testing.clips import Segment, write_audio_file

    options = [str(write_audio_file(tmp_path / f"o{k}.wav", [Segment(1, (0, 0, 0), 300.0 + k)])) for k in range(4)]
    media = prepare_media(str(clip), audio_candidates=options)
    out, sent = media_blocks(media, IMAGE_AUDIO)
    assert "audio_options:4" in sent.labels()
    labels = [b["text"] for b in out if b["type"] == "text" and b["text"].startswith("Audio option")]
    assert [x.split()[2] for x in labels] == ["A", "B", "C", "D"]
    _, sent = media_blocks(media, IMAGE)
    assert sent.labels()[-1] == "digest"  # an image-only model learns about the options from the digest


def test_gemini_gets_frames_for_a_container_it_does_not_take(tmp_path):
    from aurelia.testing.clips import Segment, make_clip

    mkv = make_clip(tmp_path / "c.mkv", [Segment(1, (200, 0, 0), 440.0)], audio_codec="flac")
    out, sent = media_blocks(prepare_media(str(mkv)), ALL, provider="google_genai")
    assert sent.labels()[1].startswith("frames:") and "audio" in sent.labels() and not any(b["type"] == "video" for b in out)


def test_hf_blocks_reference_the_file_and_encode_nothing(clip, silent_clip, tone_wav):
    """A local Hugging Face model decodes the files itself: references, no bytes, no encodes."""
    media = prepare_media(str(clip), num_frames=3)
    out, sent = media_blocks(media, ALL, provider="hf")
    assert sent.labels() == ["text", "video", "audio"] and [b["type"] for b in out] == ["video"]
    assert out[0]["url"] == clip.resolve().as_uri() and out[0]["extras"]["audio"] is True and "base64" not in out[0]
    # a vision-language model cannot hear the track inside the video: the digest covers it
    out, sent = media_blocks(media, frozenset({"text", "image", "video"}), provider="hf")
    assert sent.labels() == ["text", "video", "digest"] and out[0]["extras"]["audio"] is False
    out, sent = media_blocks(media, IMAGE_AUDIO, frame_side=96, provider="hf")
    images = [b for b in out if b["type"] == "image"]
    assert sent.labels() == ["text", "frames:3", "audio"] and [b["extras"]["time"] for b in images] == media["keyframe_times"]
    assert {b["extras"]["max_side"] for b in images} == {96} and out[-1]["type"] == "audio"
    separate = prepare_media(str(silent_clip), str(tone_wav))
    out, sent = media_blocks(separate, ALL, provider="hf")
    assert sent.labels() == ["text", "video", "audio"] and out[0]["extras"]["audio"] is False
    assert out[-1]["url"] == tone_wav.resolve().as_uri() and out[-2]["text"] == "Audio track (3.0s):"
    assert not ENCODES


def test_openai_compatible_server_gets_a_video_url_and_the_audio_track(clip, monkeypatch):
    """vLLM-style payload: the video as a data URL, its sound as input_audio (the request builds)."""
    from langchain_core.messages import HumanMessage
    from langchain_openai import ChatOpenAI

    from aurelia.media.prepare import prepare_media

    media = prepare_media(str(clip))
    blocks, sent = media_blocks(media, frozenset({"text", "video", "audio"}), provider="openai_compatible")
    assert sent.labels()[1:3] == ["video", "audio"]
    assert [b["type"] for b in blocks if b["type"] != "text"] == ["video_url", "audio"]  # langchain-openai sends input_audio
    assert blocks[0]["video_url"]["url"].startswith("data:video/mp4;base64,")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    payload = ChatOpenAI(model="m", base_url="http://127.0.0.1:9/v1")._get_request_payload([HumanMessage(blocks)])
    kinds = [part["type"] for part in payload["messages"][0]["content"]]
    assert "video_url" in kinds and "input_audio" in kinds
