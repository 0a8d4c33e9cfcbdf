"""``hf:`` for the agent roles: the target's loader as a LangChain chat model (offline, tiny models).

A tiny Qwen2.5-Omni generator must hear the audio and see the video, a tiny Qwen2-VL evaluator
must see the pixels (the audio reaches it as the measured digest), a tiny Qwen2 text LM
summarizer gets text; each is loaded once per process and shared with the target.
"""

from __future__ import annotations

import base64
import concurrent.futures

import pytest

pytest.importorskip("torchvision")
pytest.importorskip("transformers")

from tiny_hf import Recorder, find_module, tiny_model

import aurelia
from aurelia.errors import MediaError, ModelConfigError
from aurelia.media.audio import load_audio, wav_bytes
from aurelia.media.blocks import jpeg_bytes
from aurelia.media.keyframes import extract_frames
from aurelia.media.prepare import prepare_media
from aurelia.models.hf.chat import ChatHF
from aurelia.models.messages import build_messages
from aurelia.models.registry import resolve_model
from aurelia.models.structured import call_structured, supports_structured
from aurelia.parsing import parse_evaluation
from aurelia.prompts import Prompt, render
from aurelia.schemas import Evaluation
from aurelia.targets.hf import HFTarget

pytestmark = pytest.mark.hf

QUESTION = "What colour is the screen while the audio is silent?"
PROMPT = Prompt("You describe a video and its audio.", "What do you see and hear?")
OMNI_MODS = frozenset({"text", "image", "video", "audio"})


@pytest.fixture(scope="module")
def omni(tmp_path_factory):
    return tiny_model("omni", tmp_path_factory)


@pytest.fixture(scope="module")
def vlm(tmp_path_factory):
    return tiny_model("vlm", tmp_path_factory)


@pytest.fixture(scope="module")
def text_lm(tmp_path_factory):
    return tiny_model("text", tmp_path_factory)


@pytest.fixture(scope="module")
def media(clip):
    return prepare_media(str(clip))


@pytest.fixture(scope="module")
def run(omni, vlm, text_lm, clip):
    """The whole graph once, with forward hooks on the encoders of the omni and the VLM."""
    gen, ev = resolve_model(f"hf:{omni}").model.loaded.model, resolve_model(f"hf:{vlm}").model.loaded.model
    hooks = {
        "omni_audio": find_module(gen, "audio_tower"),
        "omni_visual": find_module(gen, "visual"),
        "vlm_visual": find_module(ev, "visual"),
    }
    recorders = {name: Recorder(module) for name, module in hooks.items()}
    ctx = aurelia.Context(
        generator_model=f"hf:{omni}",
        evaluator_model=f"hf:{vlm}",
        summarizer_model=f"hf:{text_lm}",
        target_model=f"hf:{omni}",
        max_iterations=2,
        max_tokens=16,
        threshold=10,
    )
    try:
        result = aurelia.build_graph().invoke({"video": str(clip), "question": QUESTION, "choices": ["red", "blue", "green"]}, context=ctx)
    finally:
        for r in recorders.values():
            r.close()
    return result, recorders


def test_graph_runs_end_to_end_with_hf_agents(run):
    result, _ = run
    assert [it["iteration"] for it in result["iterations"]] == [1, 2] and result["stop_reason"] == "max_iterations"
    by_role = {}
    for call in result["calls"]:
        by_role.setdefault(call["role"], []).append(call)
    assert [c["received"] for c in by_role["generator"]] == [["text", "video", "audio"]] * 2
    # frames as video, audio as the digest; a random tiny model's unusable score is re-asked once per iteration
    assert 2 <= len(by_role["evaluator"]) <= 4 and all(c["received"] == ["text", "video", "digest"] for c in by_role["evaluator"])
    assert [c["received"] for c in by_role["summarizer"]] == [["text"]] * 2
    assert by_role["target"][0]["received"][:2] == ["text", "video:12"]
    for call in result["calls"]:
        usage = call["usage"]
        assert usage["input_tokens"] > 0 and usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    for call in by_role["summarizer"]:  # one plain call each, within max_tokens
        assert 0 < call["usage"]["output_tokens"] <= 16
    assert result["target"]["model"].startswith("hf:") and result["answer_choice"] in (None, "A", "B", "C")


def test_encoders_received_the_media_as_agents(run):
    result, rec = run
    generator_calls = len([c for c in result["calls"] if c["role"] == "generator"])
    # every generator invocation (first try and repair) runs the audio encoder on the 6 s track (100 mel frames/s); +1 for the target
    assert len(rec["omni_audio"].calls) >= generator_calls + 1
    assert all(int(kw["feature_lens"].sum()) == pytest.approx(601, abs=2) for _, kw in rec["omni_audio"].calls)
    assert len(rec["omni_visual"].calls) == len(rec["omni_audio"].calls)
    # the VLM's vision encoder got pixel values: one row per patch of the sampled frames (12 frames / temporal patch 2)
    assert len(rec["vlm_visual"].calls) >= 2
    for args, kwargs in rec["vlm_visual"].calls:
        grid = kwargs["grid_thw"]
        assert int(grid[0, 0]) == 6 and args[0].shape[0] == int(grid.prod()) and args[0].dtype.is_floating_point


def test_loaded_once_and_shared_with_the_target(run, omni, vlm, text_lm):
    agent = resolve_model(f"hf:{omni}")
    assert isinstance(agent.model, ChatHF) and agent.model.loaded is HFTarget(f"hf:{omni}").loaded
    assert agent.model.model_copy(update={"max_tokens": 5}).loaded is agent.model.loaded  # what Models.get hands the nodes
    assert agent.modalities == OMNI_MODS
    assert resolve_model(f"hf:{vlm}").modalities == {"text", "image", "video"}
    assert resolve_model(f"hf:{text_lm}").modalities == {"text"}


def test_omni_agent_hears_the_audio_and_sees_the_video(omni, media):
    rm = resolve_model(f"hf:{omni}")
    messages, received = build_messages(PROMPT, rm, media)
    video = messages[-1].content[1]
    assert received.labels() == ["text", "video", "audio"] and video["type"] == "video" and "base64" not in video
    assert video["url"].startswith("file://") and video["extras"]["audio"] is True
    audio = Recorder(find_module(rm.model.loaded.model, "audio_tower"))
    try:
        reply = rm.model.invoke(messages, max_tokens=4)
    finally:
        audio.close()
    got = reply.response_metadata["received"]
    assert got["frames"] == 12 and got["audio_seconds"] == pytest.approx(6.0, abs=0.05) and not got["audio_truncated"]
    assert reply.response_metadata["media_tokens"]["audio"] == 150 and reply.response_metadata["media_tokens"]["video"] > 0
    assert len(audio.calls) == 1 and 0 < reply.usage_metadata["output_tokens"] <= 4


def test_vlm_agent_gets_frames_and_the_digest(vlm, media):
    rm = resolve_model(f"hf:{vlm}")
    messages, received = build_messages(PROMPT, rm, media)
    assert received.labels() == ["text", "video", "digest"]
    assert "Measured facts about the media" in messages[-1].content[-1]["text"]
    keyframes = resolve_model(f"hf:{vlm}#image")
    messages, received = build_messages(PROMPT, keyframes, media)
    assert received.labels() == ["text", f"frames:{len(media['keyframe_times'])}", "digest"]
    visual = Recorder(find_module(rm.model.loaded.model, "visual"))
    try:
        reply = keyframes.model.invoke(messages, max_tokens=3)
    finally:
        visual.close()
    assert reply.response_metadata["received"]["frames"] == len(media["keyframe_times"])
    ((args, kwargs),) = visual.calls
    assert kwargs["grid_thw"].shape[0] == len(media["keyframe_times"]) and args[0].shape[0] == int(kwargs["grid_thw"].prod(-1).sum())
    assert reply.response_metadata["media_tokens"]["image"] > 0


def test_text_suffix_keeps_a_multimodal_model_on_the_digest(omni, media):
    rm = resolve_model(f"hf:{omni}#text")
    assert rm.modalities == {"text"} and rm.model.loaded is resolve_model(f"hf:{omni}").model.loaded
    messages, received = build_messages(PROMPT, rm, media)
    assert received.labels() == ["text", "digest"] and isinstance(messages[-1].content, str)
    audio = Recorder(find_module(rm.model.loaded.model, "audio_tower"))
    try:
        reply = rm.model.invoke(messages, max_tokens=3)
    finally:
        audio.close()
    assert not audio.calls and "audio" not in reply.response_metadata["media_tokens"]


def test_standard_base64_blocks(omni, clip, tone_wav):
    """Blocks as any LangChain app writes them: base64 JPEG, WAV and the video file itself."""
    chat = resolve_model(f"hf:{omni}").model
    jpeg = base64.b64encode(jpeg_bytes(extract_frames(str(clip), [3.0], max_side=160)[0])).decode()
    wav = base64.b64encode(wav_bytes(load_audio(str(tone_wav))[0])).decode()
    blocks = [
        {"type": "text", "text": "Describe these."},
        {"type": "image", "base64": jpeg, "mime_type": "image/jpeg"},
        {"type": "audio", "base64": wav, "mime_type": "audio/wav"},
    ]
    reply = chat.invoke([("user", blocks)], max_tokens=3)
    got = reply.response_metadata["received"]
    assert got["frames"] == 1 and got["audio_seconds"] == pytest.approx(3.0, abs=0.05)
    assert reply.response_metadata["media_tokens"]["audio"] == 75 and reply.response_metadata["media_tokens"]["image"] > 0
    # the video as bytes decodes exactly like the same file by reference (interleaved audio included): same greedy answer
    data = base64.b64encode(clip.read_bytes()).decode()
    by_bytes = chat.invoke([("user", [{"type": "video", "base64": data, "mime_type": "video/mp4"}])], max_tokens=6)
    by_ref = chat.invoke([("user", [{"type": "video", "url": clip.as_uri(), "mime_type": "video/mp4"}])], max_tokens=6)
    assert by_bytes.content == by_ref.content and by_bytes.usage_metadata == by_ref.usage_metadata
    assert by_bytes.response_metadata["media_tokens"]["audio"] == 150


def test_greedy_deterministic_max_tokens_and_threads(vlm, media):
    rm = resolve_model(f"hf:{vlm}")
    messages, _ = build_messages(PROMPT, rm, media)
    short = rm.model.model_copy(update={"max_tokens": 5})  # as Models.get does for local providers
    first = short.invoke(messages)
    assert first.usage_metadata["output_tokens"] <= 5
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        replies = list(pool.map(lambda _: short.invoke(messages), range(3)))
    assert [r.content for r in replies] == [first.content] * 3
    assert [r.usage_metadata for r in replies] == [first.usage_metadata] * 3


def test_generator_schedule_samples_hf_models_seeded_and_records_it(vlm, media, monkeypatch):
    from aurelia.models.hf import io as hf_io
    from aurelia.nodes.common import Models

    configs = []
    real_generate = hf_io.generate

    def spy(loaded, inputs, gen, **kw):  # the real generate, noting the config it was given
        configs.append((gen.do_sample, gen.temperature, kw.get("seed")))
        return real_generate(loaded, inputs, gen, **kw)

    monkeypatch.setattr(hf_io, "generate", spy)
    ctx = aurelia.Context(generator_model=f"hf:{vlm}", max_tokens=5, seed=3)
    greedy, warm = (Models().get("generator", ctx, temperature=t) for t in (0.0, 0.9))
    assert greedy.sampling() == {"temperature": 0.0, "seed": 3} and warm.sampling() == {"temperature": 0.9, "seed": 3}
    messages, _ = build_messages(PROMPT, warm, media)
    first, again = warm.model.invoke(messages), warm.model.invoke(messages)
    greedy.model.invoke(messages)
    assert configs == [(True, 0.9, 3), (True, 0.9, 3), (False, None, 3)]
    assert first.content == again.content  # seeded: reproducible
    assert first.response_metadata["sampling"] == {"temperature": 0.9, "seed": 3}


def test_structured_output_by_text_parsing_and_repair(text_lm):
    rm = resolve_model(f"hf:{text_lm}")
    assert not supports_structured(rm.model)  # no tool calling: JSON from the prompt, parsed as text
    prompt = render("evaluator", caption="A red screen, then blue, then green.")
    messages, _ = build_messages(prompt)
    result = call_structured(rm, messages, Evaluation, parse_evaluation)
    # one generation, or one more for the repair prompt
    assert result.status in ("parsed", "repaired", "failed") and result.attempts == (1 if result.status == "parsed" else 2)
    assert result.usage["input_tokens"] > 0


def test_typed_errors(tmp_path_factory, tmp_path, vlm, text_lm, clip):
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(ModelConfigError, match="Hugging Face model path not found"):
        resolve_model(f"hf:{missing}")
    with pytest.raises(ModelConfigError, match=r"unsupported model type 'whisper'"):
        resolve_model(f"hf:{tiny_model('whisper', tmp_path_factory)}")
    with pytest.raises(ModelConfigError, match=r"asked for audio input, but its processor takes no audio"):
        resolve_model(f"hf:{vlm}#video+audio")
    chat = resolve_model(f"hf:{vlm}").model
    with pytest.raises(ModelConfigError, match=r"was sent an audio block but takes no audio input \(it takes: image, video\)"):
        chat.invoke([("user", [{"type": "audio", "url": clip.as_uri(), "mime_type": "video/mp4"}])])
    with pytest.raises(ModelConfigError, match=r"takes standard content blocks .* not 'image_url'"):
        chat.invoke([("user", [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}])])
    with pytest.raises(MediaError, match="takes media blocks as base64 or local files"):
        chat.invoke([("user", [{"type": "image", "url": "https://localhost/x.jpg"}])])
    with pytest.raises(MediaError, match=r"gone\.mp4: media file not found"):
        chat.invoke([("user", [{"type": "video", "url": (tmp_path / "gone.mp4").as_uri()}])])
    with pytest.raises(ModelConfigError, match=r"was sent an image block but takes no image input \(it takes: text only\)"):
        resolve_model(f"hf:{text_lm}").model.invoke([("user", [{"type": "image", "url": clip.as_uri(), "extras": {"time": 0.0}}])])


def test_hf_target_gets_candidate_clips_as_the_digest(omni, clip, tone_wav):
    from aurelia.media.prepare import prepare_media
    from aurelia.targets import TargetSample
    from aurelia.targets.hf import HFTarget

    media = prepare_media(str(clip), audio_candidates=[str(tone_wav), str(clip)])
    result = HFTarget(f"hf:{omni}").answer(TargetSample(media, "Which audio fits?", ["A", "B"], None, "none"))
    assert result.received.digest and "digest" in result.received.labels()
