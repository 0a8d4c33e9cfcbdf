"""The local Hugging Face target on tiny random-weight models of real architectures (offline).

Real processor -> generate -> decode on a tiny Qwen2.5-Omni (video + audio), a tiny Qwen2-VL
(frames / video, no audio) and a tiny Qwen2 text LM, with synthetic clips of known content.
"""

from __future__ import annotations

import concurrent.futures
import shutil

import pytest

pytest.importorskip("torchvision")
pytest.importorskip("transformers")

from fakes import REASONING_JSON
from tiny_hf import Recorder, find_module, tiny_model

from aurelia.errors import ModelConfigError
from aurelia.media.prepare import prepare_media
from aurelia.models.registry import validate_model_string
from aurelia.targets import TargetSample, TargetSettings, load_target
from aurelia.targets.hf import HFTarget

pytestmark = pytest.mark.hf

SETTINGS = TargetSettings(max_new_tokens=6, max_frames=4, max_pixels=28 * 28 * 8, batch_size=8)
CHOICES = ["red", "blue", "green", "black"]
STAR = {
    "steps": [
        {"step": "Look at the colour after 4s", "answer": "the screen is green"},
        {"step": "Listen for silence", "answer": "silent from 4s"},
    ],
    "final_answer": "green",
}


@pytest.fixture(scope="module")
def omni(tmp_path_factory):
    return tiny_model("omni", tmp_path_factory)


@pytest.fixture(scope="module")
def vlm(tmp_path_factory):
    return tiny_model("vlm", tmp_path_factory)


@pytest.fixture(scope="module")
def media(clip):
    return prepare_media(str(clip))


@pytest.fixture(scope="module")
def silent_media(silent_clip):
    return prepare_media(str(silent_clip))


def sample(media, inject="steps", reasoning=STAR, choices=CHOICES, sample_id=None):
    return TargetSample(media, "What colour is the screen while the audio is silent?", choices, reasoning, inject, sample_id)


def test_omni_gets_video_with_its_audio(omni, media):
    target = load_target(f"hf:{omni}", SETTINGS)
    assert isinstance(target, HFTarget) and target.caps.audio_in_video
    audio = Recorder(find_module(target.loaded.model, "audio_tower"))
    visual = Recorder(find_module(target.loaded.model, "visual"))
    try:
        result = target.answer(sample(media))
    finally:
        audio.close()
        visual.close()
    rec = result.received
    assert rec.modalities == ["text", "video", "audio"] and rec.audio_in_video and not rec.digest
    assert rec.frames == 4 and rec.frame_times == [0.0, 1.5, 3.0, 4.5] and rec.fps == pytest.approx(4 / 6.0, abs=0.01)
    assert rec.audio_seconds == pytest.approx(6.0, abs=0.1) and not rec.audio_truncated
    assert rec.media_tokens["audio"] == 150  # 25 audio tokens per second of the 6 s track
    assert rec.media_tokens["video"] > 0 and rec.prompt_tokens > rec.media_tokens["audio"] + rec.media_tokens["video"]
    # the waveform reached the audio encoder: 100 mel frames per second of audio
    assert len(audio.calls) == 1
    feature_lens = audio.calls[0][1]["feature_lens"]
    assert int(feature_lens.sum()) == pytest.approx(601, abs=2)
    assert len(visual.calls) == 1
    assert result.usage["output_tokens"] <= SETTINGS.max_new_tokens and result.timing["batch_size"] == 1
    assert result.seconds > 0 and result.error is None


def test_omni_on_a_silent_clip_gets_video_only(omni, silent_media):
    target = load_target(f"hf:{omni}", SETTINGS)
    audio = Recorder(find_module(target.loaded.model, "audio_tower"))
    try:
        rec = target.answer(sample(silent_media)).received
    finally:
        audio.close()
    assert rec.modalities == ["text", "video"] and "audio" not in rec.media_tokens and not audio.calls


def test_omni_with_a_separate_audio_file(omni, silent_clip, tone_wav):
    rec = load_target(f"hf:{omni}", SETTINGS).answer(sample(prepare_media(str(silent_clip), str(tone_wav)))).received
    assert rec.modalities == ["text", "video", "audio"] and not rec.audio_in_video
    assert rec.audio_seconds == pytest.approx(3.0, abs=0.05) and rec.media_tokens["audio"] == 75


def test_vlm_gets_frames_and_the_audio_digest(vlm, media):
    target = load_target(f"hf:{vlm}", SETTINGS)
    assert target.caps.family.startswith("vision-language") and not target.caps.audio
    visual = Recorder(find_module(target.loaded.model, "visual"))
    try:
        result = target.answer(sample(media))
    finally:
        visual.close()
    rec = result.received
    assert rec.modalities == ["text", "video", "digest"] and rec.digest and rec.frames == 4
    ((args, kwargs),) = visual.calls
    grid = kwargs["grid_thw"]
    assert grid.shape == (1, 3) and int(grid[0, 0]) == 2  # 4 frames / temporal patch 2
    assert args[0].shape[0] == int(grid.prod()) and rec.media_tokens["video"] == int(grid.prod()) // 4
    text = target.prepare(0, sample(media)).text
    assert "Measured facts about the media" in text and "Silence: 4.0s-6.0s" in text  # the audio, as measured text


def test_vlm_keyframes_as_images(vlm, media):
    target = load_target(f"hf:{vlm}#image", SETTINGS)
    rec = target.answer(sample(media)).received
    assert rec.modalities == ["text", "image", "digest"]
    assert rec.frames == len(media["keyframe_times"]) and rec.frame_times == media["keyframe_times"]
    assert rec.media_tokens["image"] > 0 and "video" not in rec.media_tokens
    assert "Keyframe at 2.0s:" in target.prepare(0, sample(media)).text


def test_text_lm_gets_the_digest(tmp_path_factory, media):
    target = load_target(f"hf:{tiny_model('text', tmp_path_factory)}", SETTINGS)
    result = target.answer(sample(media))
    assert result.received.modalities == ["text", "digest"] and result.received.labels() == ["text", "digest"]
    assert "Measured facts about the media" in target.prepare(0, sample(media)).text


@pytest.mark.parametrize("mode", ["steps", "steps_answers", "full", "none"])
def test_reasoning_in_the_prompt_per_mode(omni, media, mode):
    target = load_target(f"hf:{omni}", SETTINGS)
    text = target.prepare(0, sample(media, inject=mode)).text
    assert ("Look at the colour after 4s" in text) == (mode != "none")
    assert ("the screen is green" in text) == (mode in ("steps_answers", "full"))
    assert ("Final answer: green" in text) == (mode == "full")
    assert "(C) green" in text and "Answer with the letter of the correct choice (A, B, C, D) only." in text
    assert text.index("<|VIDEO|>") < text.index("Question:")  # media before the question


@pytest.mark.parametrize("position", ["before_question", "after_choices"])
def test_same_parts_in_the_same_order_as_the_chat_target(omni, media, position):
    from fakes import fake

    from aurelia.models.registry import as_role_model

    item = TargetSample(media, "Which colour?", CHOICES, STAR, "steps", inject_position=position, answer_kind="sentence")
    hf_text = load_target(f"hf:{omni}", SETTINGS).prepare(0, item).text
    chat_model = fake("C")
    load_target(as_role_model(chat_model, modalities=frozenset({"text", "video", "audio"}))).answer(item)
    chat_content = chat_model.seen[0][-1].content
    assert chat_content[-1]["type"] == "text" and {b["type"] for b in chat_content[:-1]} >= {"video"}  # media, then the text
    user = chat_content[-1]["text"]
    assert user in hf_text and hf_text.index("<|VIDEO|>") < hf_text.index(user)  # the same text, after the media
    assert (user.index("Reasoning steps") < user.index("Which colour?")) == (position == "before_question")
    assert load_target(f"hf:{omni}", TargetSettings(do_sample=True, temperature=0.5, seed=2)).sampling == {"temperature": 0.5, "seed": 2}


def test_reasoning_json_from_the_loop_and_open_questions(omni, media):
    import json

    target = load_target(f"hf:{omni}", SETTINGS)
    text = target.prepare(0, sample(media, reasoning=json.loads(REASONING_JSON), choices=None)).text
    assert "Look at the colour after 6s" in text and "Answer with a word or a short phrase." in text
    baseline, injected = target.answer_batch([sample(media, inject="none"), sample(media, inject="full")])
    assert injected.received.prompt_tokens > baseline.received.prompt_tokens and baseline.injected == ""


def test_batch_equals_one_by_one(omni, vlm, media, silent_media):
    samples = [
        sample(m, inject=i, sample_id=f"s{k}")
        for k, (m, i) in enumerate(
            [(media, "none"), (media, "steps"), (silent_media, "full"), (media, "steps_answers"), (silent_media, "none")]
        )
    ]
    for path in (omni, vlm):
        target = load_target(f"hf:{path}", SETTINGS)
        batched = target.answer_batch(samples)
        single = [target.answer(s) for s in samples]
        assert [b.sample_id for b in batched] == [s.sample_id for s in samples]
        assert [b.text for b in batched] == [s.text for s in single]
        assert [b.usage for b in batched] == [s.usage for s in single]
        assert max(b.timing["batch_size"] for b in batched) == 3  # the three samples of the 6 s clip share one generate call


def test_batch_records_a_broken_sample_and_goes_on(vlm, media, tmp_path):
    broken = dict(media, video=str(tmp_path / "gone.mp4"), sha256="0" * 64)
    results = load_target(f"hf:{vlm}", SETTINGS).answer_batch([sample(media), sample(broken), sample(media)])
    assert [r.error is None for r in results] == [True, False, True]
    assert "gone.mp4" in results[1].error and "not found" in results[1].error


def test_answers_from_worker_threads(vlm, media):
    target = load_target(f"hf:{vlm}", SETTINGS)
    expected = target.answer(sample(media)).text
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        texts = list(pool.map(lambda _: target.answer(sample(media)).text, range(3)))
    assert texts == [expected] * 3


def test_full_omni_checkpoint_answers_through_its_thinker(tmp_path_factory, media):
    target = load_target(f"hf:{tiny_model('omni_full', tmp_path_factory)}", SETTINGS)
    assert target.loaded.model_type == "qwen2_5_omni"
    assert type(target.loaded.model).__name__ == "Qwen2_5OmniThinkerForConditionalGeneration"
    rec = target.answer(sample(media)).received
    assert rec.audio_in_video and rec.media_tokens["audio"] == 150


def test_loaded_once_per_process(omni):
    a, b = load_target(f"hf:{omni}", SETTINGS), load_target(f"hf:{omni}", TargetSettings(max_new_tokens=3))
    assert a.loaded is b.loaded


def test_missing_local_path(tmp_path):
    missing = str(tmp_path / "no-such-model")
    for call in (lambda: load_target(f"hf:{missing}"), lambda: validate_model_string(f"hf:{missing}")):
        with pytest.raises(ModelConfigError) as err:
            call()
        assert str(err.value) == f"{missing}: Hugging Face model path not found"


def test_not_a_model_directory(tmp_path, clip):
    with pytest.raises(ModelConfigError, match=r"no config\.json"):
        load_target(f"hf:{tmp_path}")
    with pytest.raises(ModelConfigError, match="a file was given"):
        load_target(f"hf:{clip}")


def test_unsupported_model(tmp_path_factory):
    path = tiny_model("whisper", tmp_path_factory)
    with pytest.raises(
        ModelConfigError, match=r"unsupported model type 'whisper' \(WhisperForConditionalGeneration\): it is not a text-generating model"
    ):
        load_target(f"hf:{path}")


def test_modality_the_model_lacks(vlm):
    with pytest.raises(ModelConfigError, match=r"asked for audio input, but its processor takes no audio \(it takes: image, video\)"):
        load_target(f"hf:{vlm}#video+audio")


def test_vision_model_without_its_processor(vlm, tmp_path):
    bare = tmp_path / "weights-only"
    bare.mkdir()
    for name in ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(vlm / name, bare / name)
    with pytest.raises(ModelConfigError, match="the 'qwen2_vl' model has a vision encoder but its processor could not be loaded"):
        load_target(f"hf:{bare}")


def test_batch_without_stackable_processor_outputs(omni, media, monkeypatch):
    """Processors whose per-sample outputs do not stack get the whole group processed at once."""
    import aurelia.targets.hf as hf

    samples = [sample(media, inject=m) for m in ("none", "steps", "full")]
    target = load_target(f"hf:{omni}", SETTINGS)
    expected = [target.answer(s).text for s in samples]
    monkeypatch.setattr(hf, "collate", lambda features, pad_id: None)
    batched = target.answer_batch(samples)
    assert [b.text for b in batched] == expected and {b.timing["batch_size"] for b in batched} == {3}


def test_collate_refuses_what_does_not_stack():
    import torch
    from transformers import BatchFeature

    from aurelia.targets.hf import collate

    a = BatchFeature({"input_ids": torch.tensor([[5, 6]]), "attention_mask": torch.ones(1, 2), "pixel_values": torch.zeros(1, 3, 4, 4)})
    b = BatchFeature({"input_ids": torch.tensor([[7]]), "attention_mask": torch.ones(1, 1), "pixel_values": torch.zeros(1, 3, 8, 8)})
    assert collate([a, b], pad_id=0) is None
    b["pixel_values"] = torch.zeros(2, 3, 4, 4)
    batch = collate([a, b], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6], [0, 7]] and batch["attention_mask"].tolist() == [[1, 1], [0, 1]]
    assert batch["pixel_values"].shape == (3, 3, 4, 4)


def test_bfloat16_as_on_a_gpu(omni, media):
    """The GPU default dtype, run on the CPU: pixels and audio features follow the model's dtype."""
    target = load_target(f"hf:{omni}", TargetSettings(dtype="bfloat16", max_new_tokens=4, max_frames=4, max_pixels=28 * 28 * 8))
    results = target.answer_batch([sample(media), sample(media, inject="none")])
    assert target.describe()["dtype"] == "bfloat16" and target.loaded is not load_target(f"hf:{omni}", SETTINGS).loaded
    assert [r.error for r in results] == [None, None] and all(r.received.media_tokens["audio"] == 150 for r in results)
