"""A small offline benchmark that ships with the project: synthetic clips and a manifest.

Every task type is covered, and every answer follows from the media: colours and their order,
tones and their order, silences, counts of beeps, left/right loudness, tempo (Dance-Music:
which of four candidate audios has the dance's beat), reference captions that say what is
shown and heard. ``meta.evidence`` names the fact an answer rests on, so tests can check the
answers against what the media digest measures. Clips are seconds long, written with PyAV.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aurelia.bench.records import write_jsonl
from aurelia.errors import InputError
from aurelia.testing.clips import Segment, make_clip, write_audio_file

RED, BLUE, GREEN, YELLOW = (210, 35, 45), (30, 60, 210), (20, 150, 70), (245, 205, 20)
WHITE, BLACK, PURPLE, NIGHT = (240, 240, 240), (15, 15, 15), (130, 40, 170), (20, 20, 70)
LOW, MID, HIGH = 330.0, 550.0, 990.0

ABCD = [f"Audio option {x}" for x in "ABCD"]
FLAG_QUESTION = (
    "The clip shows three colours in turn, like the bands of a flag read from left to right or from top to bottom. "
    "Which country's flag has these colours in this order?"
)
MEME_CHOICES = [
    "When the quiet video suddenly screams at you",
    "The sound of silence",
    "Counting sheep, one beep at a time",
    "Elevator music that never ends",
]


def _beeps(n: int, color: tuple[int, int, int], hz: float = 880.0) -> list[Segment]:
    return [seg for _ in range(n) for seg in (Segment(0.4, color, hz), Segment(0.8, color, None))]


def _dance_moves(bpm: int, seconds: float = 6.0) -> list[Segment]:
    """A silent 'dance': white and black frames swapping on every beat, a square moving.

    At most 2 beats a second: the digest samples the video twice a second, so a faster change
    could not be measured (and the answer would not follow from what the agents see)."""
    beat = 60 / bpm
    return [Segment(beat, WHITE if i % 2 == 0 else BLACK, None, motion=True) for i in range(round(seconds / beat))]


# name: (segments, make_clip options)
CLIPS: dict[str, tuple[list[Segment], dict[str, Any]]] = {
    "beeps2": (_beeps(2, BLUE), {}),
    "beeps4": (_beeps(4, GREEN), {}),
    "pan_right": ([Segment(2.5, PURPLE, 440.0, pan=0.8)], {"channels": 2}),
    "order": ([Segment(1.5, RED, LOW), Segment(1.5, BLUE, HIGH)], {}),
    "gap": ([Segment(1.5, YELLOW, 440.0), Segment(1.5, GREEN, None)], {}),
    "three_colours": ([Segment(1.2, RED, LOW), Segment(1.2, GREEN, MID), Segment(1.2, BLUE, HIGH)], {}),
    "flag_it": ([Segment(1.2, GREEN, 440.0), Segment(1.2, WHITE, 440.0), Segment(1.2, RED, 440.0)], {}),
    "flag_fr": ([Segment(1.2, BLUE, 660.0), Segment(1.2, WHITE, 660.0), Segment(1.2, RED, 660.0)], {}),
    "flag_de": ([Segment(1.2, BLACK, 520.0), Segment(1.2, RED, 520.0), Segment(1.2, YELLOW, 520.0)], {}),
    "meme_scare": ([Segment(2.0, BLACK, None), Segment(1.0, WHITE, 880.0)], {}),
    "meme_silence": ([Segment(1.0, RED, None), Segment(1.0, BLUE, None), Segment(1.0, GREEN, None)], {}),
    "meme_sheep": ([Segment(4.0, NIGHT, 440.0, beeps_per_s=1.0)], {}),
    **{f"dance_{bpm}": (_dance_moves(bpm), {"audio_codec": None, "fps": 24}) for bpm in (60, 90, 120)},
}
# candidate audios for Dance-Music matching: beeps on a steady beat (6 s, so the digest measures the tempo)
BEATS = {f"beat_{bpm}": Segment(6.0, BLACK, 660.0, beeps_per_s=bpm / 60) for bpm in (60, 90, 120, 180)}


def _s(sid: str, task: str, clip: str, question: str, answer: str, evidence: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "task": task,
        "video": f"clips/{clip}.mp4",
        "question": question,
        "answer": answer,
        **fields,
        "meta": {"evidence": evidence},
    }


def _dance(sid: str, clip: str, beats: list[int], answer: str) -> dict[str, Any]:
    cands = [f"clips/beat_{b}.wav" for b in beats]
    q = "The video shows a dance without sound. Which audio option fits the rhythm of the dance?"
    return _s(sid, "dance_music", clip, q, answer, "tempo_match", category=["tempo"], choices=ABCD, audio_candidates=cands)


SAMPLES: list[dict[str, Any]] = [
    _s("mavqa-count-2", "music_avqa", "beeps2", "How many beeps are heard?", "two", "beep_count", category=["Audio", "Counting"]),
    _s("mavqa-count-4", "music_avqa", "beeps4", "How many beeps are heard?", "four", "beep_count", category=["Audio", "Counting"]),
    _s("mavqa-side", "music_avqa", "pan_right", "Is the sound louder on the left or on the right?", "right", "louder_side", category=["Audio", "Location"]),
    _s("mavqa-silence", "music_avqa", "gap", "Is there a moment of silence in the audio?", "yes", "silence_exists", category=["Audio", "Existential"]),
    _s("mavqa-order", "music_avqa", "order", "Is the higher tone heard before the lower tone?", "no", "high_first", category=["Audio", "Temporal"]),
    _s("avsd-start-colour", "avsd", "order", "what colour is the screen at the start?", "it is red at the start", "colour_sequence",
       references=["the screen starts out red", "red at first, then it turns blue"],
       history=[{"question": "is there any sound?", "answer": "yes, a low tone and then a high tone"}]),
    _s("avsd-sound-stops", "avsd", "gap", "does the sound ever stop?", "yes, it goes silent when the screen turns green", "colour_when_silent",
       references=["yes, the tone stops halfway through", "yes, the sound stops when the screen turns green"],
       history=[{"question": "what colour is the screen first?", "answer": "it is yellow"}]),
    _s("avsd-beeps", "avsd", "beeps4", "how many beeps do you hear?", "i hear four beeps", "beep_count",
       references=["there are four beeps", "four short beeps on a green screen"]),
    _s("cap-order", "av_captioning", "order", "Describe the video and its sound.", "a red screen with a low tone turns blue as a high tone plays",
       "colour_sequence", references=["a red screen and a low hum, then a blue screen and a high beep"]),
    _s("cap-gap", "av_captioning", "gap", "Describe the video and its sound.", "a yellow screen with a steady tone turns green and the sound stops",
       "colour_sequence", references=["a tone plays over a yellow screen, then the screen turns green in silence"]),
    _s("cap-three", "av_captioning", "three_colours", "Describe the video and its sound.", "the screen changes from red to green to blue while the tone rises",
       "colour_sequence", references=["red, green and blue screens in turn with a rising pitch"]),
    _s("comp-first", "av_compositional", "order", "Which sound comes first?", "The low tone", "high_first", category=["order"],
       choices=["The low tone", "The high tone", "Both at the same time", "There is no sound"]),
    _s("comp-binding", "av_compositional", "order", "What colour is the screen while the high tone plays?", "blue", "colour_during_high",
       category=["binding"], choices=["red", "blue", "green", "yellow"]),
    _s("comp-stops", "av_compositional", "gap", "What happens on screen when the sound stops?", "It turns green", "colour_when_silent",
       category=["binding"], choices=["It turns red", "Nothing changes", "It turns green", "It goes black"]),
    _s("comp-sequence", "av_compositional", "three_colours", "In which order do the colours appear?", "red, green, blue", "colour_sequence",
       category=["order"], choices=["blue, green, red", "green, red, blue", "red, blue, green", "red, green, blue"]),
    _s("geo-italy", "av_geoiq", "flag_it", FLAG_QUESTION, "Italy", "flag", category=["flags"], choices=["Ireland", "Italy", "France", "Germany"]),
    _s("geo-france", "av_geoiq", "flag_fr", FLAG_QUESTION, "France", "flag", category=["flags"], choices=["Netherlands", "Russia", "France", "Italy"]),
    _s("geo-germany", "av_geoiq", "flag_de", FLAG_QUESTION, "Germany", "flag", category=["flags"], choices=["Germany", "Belgium", "Spain", "Colombia"]),
    _s("meme-scare", "av_meme", "meme_scare", "Which caption makes this clip a meme?", MEME_CHOICES[0], "meme", category=["humour"], choices=MEME_CHOICES),
    _s("meme-silence", "av_meme", "meme_silence", "Which caption makes this clip a meme?", MEME_CHOICES[1], "meme", category=["humour"], choices=MEME_CHOICES),
    _s("meme-sheep", "av_meme", "meme_sheep", "Which caption makes this clip a meme?", MEME_CHOICES[2], "meme", category=["humour"], choices=MEME_CHOICES),
    _dance("dance-60", "dance_60", [90, 60, 120, 180], "B"),
    _dance("dance-90", "dance_90", [90, 180, 60, 120], "A"),
    _dance("dance-120", "dance_120", [60, 90, 180, 120], "D"),
]  # fmt: skip


def write_sample_benchmark(folder: str | Path) -> Path:
    """Write the clips under ``folder/clips`` and ``folder/manifest.jsonl``; returns the manifest."""
    folder = Path(folder)
    clips = folder / "clips"
    try:
        clips.mkdir(parents=True, exist_ok=True)
        for name, (segments, options) in CLIPS.items():
            make_clip(clips / f"{name}.mp4", segments, **options)
        for name, seg in BEATS.items():
            write_audio_file(clips / f"{name}.wav", [seg])
    except OSError as exc:
        raise InputError(f"cannot write the sample clips ({exc.strerror or exc})", path=str(clips)) from exc
    manifest = folder / "manifest.jsonl"
    write_jsonl(manifest, SAMPLES)
    return manifest
