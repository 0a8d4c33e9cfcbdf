"""The lmms-eval plugin's pieces: r* injected into a prompt or the last user turn, media read
from ``doc_to_visual`` and chat messages, the model args, the log folder, the filelock alias."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aurelia.errors import MediaError, SettingError
from aurelia.lmms.inject import inject_messages, inject_text, media_from_messages, media_from_visuals, question_of_messages, write_wav
from aurelia.lmms.plugin import agent_context, default_log_dir, parse_target_args
from aurelia.media.probe import probe
from aurelia.prompts.format import injection_text

STAR = {"steps": [{"step": "Listen to the start", "answer": "a tone"}], "final_answer": "yes"}
R = injection_text(STAR, "steps")


def test_injection_text_is_the_bench_s_own() -> None:
    assert R == "Reasoning steps to consider:\n1. Listen to the start"


@pytest.mark.parametrize(
    ("position", "expected"),
    [("after_choices", f"Question?\n(A) x\n\n{R}"), ("before_question", f"{R}\n\nQuestion?\n(A) x\n")],
)
def test_inject_text_places_r_star_after_or_before_the_task_text(position: str, expected: str) -> None:
    assert inject_text("Question?\n(A) x\n", R, position) == expected


def test_inject_text_with_nothing_to_inject_keeps_the_prompt_byte_for_byte() -> None:
    assert inject_text("  Question?\n", "", "after_choices") == "  Question?\n"


def test_inject_messages_changes_only_a_copy_of_the_last_user_turn() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "video", "url": "a.mp4"}, {"type": "text", "text": "First?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "yes"}]},
        {
            "role": "user",
            "content": [{"type": "video", "url": "a.mp4"}, {"type": "text", "text": "Q?"}, {"type": "text", "text": "Say A."}],
        },
    ]
    after = inject_messages(messages, R, "after_choices")
    assert after[3]["content"][0] == {"type": "video", "url": "a.mp4"}  # media stay first
    assert after[3]["content"][1]["text"] == "Q?" and after[3]["content"][2]["text"] == f"Say A.\n\n{R}"
    assert after[:3] == messages[:3] and messages[3]["content"][2]["text"] == "Say A."  # the caller's messages are untouched
    before = inject_messages(messages, R, "before_question")
    assert before[3]["content"][1]["text"] == f"{R}\n\nQ?"


def test_inject_messages_string_content_and_turn_without_text() -> None:
    assert inject_messages([{"role": "user", "content": "Q?"}], R, "after_choices")[0]["content"] == f"Q?\n\n{R}"
    media_only = inject_messages([{"role": "user", "content": [{"type": "video", "url": "a.mp4"}]}], R, "after_choices")
    assert media_only[0]["content"][-1] == {"type": "text", "text": R}
    assert inject_messages([{"role": "user", "content": "Q?"}], "", "after_choices") == [{"role": "user", "content": "Q?"}]


def test_media_from_visuals_tells_video_audio_and_what_is_not_used(tmp_path: Path) -> None:
    media = media_from_visuals(["clip.mp4", "track.WAV", "frame.png", "second.mkv", {"path": "more.flac"}], tmp_path)
    assert (media.video, media.audio) == ("clip.mp4", "track.WAV")
    assert media.ignored == ["image: frame.png", "video: second.mkv", "audio: more.flac"]
    assert media_from_visuals("one.mp4", tmp_path).video == "one.mp4"
    assert media_from_visuals(None, tmp_path).video is None
    assert media_from_visuals([object()], tmp_path).ignored == ["visual: an in-memory object"]


def test_audio_arrays_become_one_wav_per_content(tmp_path: Path) -> None:
    rate = 16000
    tone = np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32) * 0.5
    media = media_from_visuals([{"array": tone, "sampling_rate": rate}], tmp_path)
    info = probe(media.audio)
    assert info.audio is not None and info.duration_s == pytest.approx(1.0, abs=0.05)
    again = media_from_visuals([{"array": tone.copy(), "sampling_rate": rate}], tmp_path)
    assert again.audio == media.audio and len(list(tmp_path.iterdir())) == 1
    with pytest.raises(MediaError, match="0 samples"):
        write_wav(np.zeros(0), rate, tmp_path)


def test_media_and_question_from_chat_messages(tmp_path: Path) -> None:
    messages = [
        {
            "role": "user",
            "content": [{"type": "video", "url": "v.mp4"}, {"type": "audio", "url": {"path": "a.mp3"}}, {"type": "text", "text": "Q?"}],
        }
    ]
    media = media_from_messages(messages, tmp_path)
    assert (media.video, media.audio, media.ignored) == ("v.mp4", "a.mp3", [])
    assert question_of_messages(messages) == "Q?"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ('{"pretrained": "org/model", "max_frames": 8}', {"pretrained": "org/model", "max_frames": 8}),
        ("{pretrained=org/model,max_frames=8}", {"pretrained": "org/model", "max_frames": 8}),
        ("pretrained=org/model", {"pretrained": "org/model"}),
        ("", {}),
        ({"a": 1}, {"a": 1}),
    ],
)
def test_target_args_in_json_or_lmms_eval_s_own_form(given: object, expected: dict) -> None:
    assert parse_target_args(given) == expected


@pytest.mark.parametrize("given", ["[1, 2]", "{oops}"])
def test_bad_target_args_are_a_setting_error(given: str) -> None:
    with pytest.raises(SettingError, match="target_args"):
        parse_target_args(given)


def test_agent_settings_from_role_shorthands_and_names() -> None:
    ctx = agent_context("full", 7, 2, {"generator": "ollama:a", "summarizer": None}, {"num_frames": 8, "prompt_set": "paper"})
    assert (ctx.generator_model, ctx.summarizer_model, ctx.threshold, ctx.max_iterations) == ("ollama:a", "local", 7, 2)
    assert (ctx.inject, ctx.num_frames, ctx.prompt_set) == ("full", 8, "paper")
    with pytest.raises(SettingError, match="did you mean 'threshold'"):
        agent_context("steps", None, None, {}, {"threshhold": 5})
    with pytest.raises(SettingError, match="inject"):
        agent_context("everything", None, None, {}, {})
    with pytest.raises(SettingError, match="generator_model is given twice"):
        agent_context("steps", None, None, {"generator": "local"}, {"generator_model": "local"})


def test_default_log_dir_is_where_lmms_eval_writes_the_sample_logs(tmp_path: Path) -> None:
    argv = ["--model", "aurelia", "--model_args", "target=echo,pretrained=org/name", "--output_path", str(tmp_path), "--log_samples"]
    assert default_log_dir(argv) == tmp_path / "org__name"
    assert default_log_dir(["--model_args=target=echo", f"--output_path={tmp_path}"]) == tmp_path
    assert default_log_dir(["--model", "aurelia"]) is None


def test_filelock_api_alias_gives_lmms_eval_the_names_it_imports() -> None:
    code = (
        "import importlib.util, filelock\n"
        "assert importlib.util.find_spec('filelock._api') is None, 'this filelock still has _api: nothing to alias'\n"
        "from aurelia.lmms.compat import alias_filelock_api\n"
        "assert alias_filelock_api() and not alias_filelock_api()\n"
        "import filelock._api as api\n"
        "assert type(filelock.FileLock) is api.FileLockMeta and issubclass(filelock.FileLock, api.BaseFileLock)\n"
        "assert api._UNSET_FILE_MODE == -1\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
