"""The Music-AVQA importer on files written as the released v2.0 test files are (tests/data/bench:
entries without question_id, full-width question marks, trailing spaces, keys in another order,
an unmatch_audio entry, the balanced and the bias file sharing questions) and on a few hundred
generated entries with the released mix: nothing is dropped except with a named reason."""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from aurelia.bench import import_dataset, import_to_manifest, validate_manifest
from aurelia.bench.importers import question_key, render_question
from aurelia.bench.tasks import builtin_tasks
from aurelia.cli.app import app
from aurelia.errors import InputError

DATA = Path(__file__).parent / "data" / "bench"
BALANCE, BIAS = DATA / "music_avqa_v2_balance.json", DATA / "music_avqa_v2_bias.json"
LAYOUT = {  # the released folders: real and synthetic videos, and the v2.0 additions
    "MUSIC-AVQA-videos-Real": ["00005754", "00006405", "00008531", "00002248", "00001400", "00000994", "00006459"],
    "MUSIC-AVQA-videos-Synthetic": ["sa00006547", "esa00000446"],
    "MUSIC-AVQA-v2.0-videos": ["tOcOiTFQYp4", "9G7EAFgjQyQ", "eGmXU1Tpc-M_flip", "_WPwXJDSoV8", "iveNvQ4jCis_flip"],
}


def place(root: Path, layout: dict[str, list[str]]) -> Path:
    """Placeholder videos in the layout's folders (the importer only looks them up)."""
    for folder, names in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name in names:
            (root / folder / f"{name}.mp4").write_bytes(b"\x00video")
    return root


@pytest.fixture
def media(tmp_path: Path) -> Path:
    return place(tmp_path / "MUSIC-AVQA", LAYOUT)


def test_the_balanced_file_imports_with_its_quirks(media: Path, tmp_path: Path) -> None:
    out, skipped = tmp_path / "runs" / "balance.jsonl", tmp_path / "skipped.jsonl"
    report = import_to_manifest("music-avqa", BALANCE, out, media, skipped=skipped)
    assert (report.read, report.imported) == (12, 10)
    assert report.skipped == {
        "question_deleted: the authors deleted the question": 1,
        "video_id: no video file of that name under the media root": 1,
    }
    rows = {r["meta"]["video_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    v2 = rows["tOcOiTFQYp4"]  # no question_id in the v2.0 rebalancing entries: a stable hash
    assert v2["id"] == f"music_avqa-v2-{question_key('tOcOiTFQYp4', 'How many sounding <Object> in the video？', ['erhu'], '')}"
    assert v2["question"] == "How many sounding erhu in the video?"  # the full-width "？" as the authors render it
    assert v2["video"] == str(media / "MUSIC-AVQA-v2.0-videos" / "tOcOiTFQYp4.mp4")  # media outside the manifest's folder
    assert rows["9G7EAFgjQyQ"]["question"] == "Are there flute and clarinet sound?"  # trailing space
    guitar = rows["00006405"]
    assert guitar["question"] == "What is the instrument on the left of acoustic guitar?" and guitar["answer"] == "acoustic_guitar"
    assert guitar["id"] == "music_avqa-40512" and guitar["category"] == ["Visual", "Location"]
    assert rows["eGmXU1Tpc-M_flip"]["category"] == ["Audio-Visual", "Temporal"]  # keys in another order
    assert rows["esa00000446"]["video"].endswith("MUSIC-AVQA-videos-Synthetic/esa00000446.mp4")
    # the unmatched sound: the video with the other clip's audio, as the gold answer "no" says
    unmatched = rows["sa00006547"]
    assert unmatched["audio"] == str(media / "MUSIC-AVQA-videos-Real" / "00008531.mp4")
    assert unmatched["answer"] == "no" and unmatched["question"] == "Is this sound from the instrument in the video?"
    assert unmatched["meta"]["unmatch_audio"] == "00008531" and unmatched["meta"]["audio_instrument"] == "pipa"
    assert "audio" not in rows["00008531"]  # its own question keeps its own sound
    assert all(r["answer"] in builtin_tasks()["music_avqa"].answer_set for r in rows.values())
    # every skipped entry, as released, with its reason and value
    lines = [json.loads(x) for x in skipped.read_text().splitlines()]
    assert [(x["at"], x["entry"]["video_id"]) for x in lines] == [(11, "00001400"), (12, "00009999")]
    assert lines[0]["detail"] == "question_deleted is 1"
    assert "video_id '00009999': no file 00009999.mp4, .mkv, .webm or .avi in" in lines[1]["detail"]
    assert validate_manifest(out).problems == []


def test_the_balanced_and_bias_files_agree_on_shared_questions(media: Path, tmp_path: Path) -> None:
    balance, _ = import_dataset("music-avqa", BALANCE, media)
    bias, report = import_dataset("music-avqa", BIAS, media)
    assert (report.read, report.imported) == (6, 6)
    in_balance = {(r["meta"]["video_id"], r["question"]): r["id"] for r in balance}
    in_bias = {(r["meta"]["video_id"], r["question"]): r["id"] for r in bias}
    shared = in_balance.keys() & in_bias.keys()
    assert len(shared) == 3  # one with a question_id, two without
    assert {in_bias[k] for k in shared} == {in_balance[k] for k in shared}
    assert all(in_bias[k] == in_balance[k] for k in shared)
    assert len(set(in_balance.values()) | set(in_bias.values())) == len(in_balance) + len(in_bias) - 3  # distinct otherwise
    again, _ = import_dataset("music-avqa", BIAS, media)
    assert again == bias  # deterministic


def test_render_question() -> None:
    assert render_question("Where is the <FL> sounding instrument？ ", ["first"]) == "Where is the first sounding instrument?"
    assert render_question("Is the <Object> louder than the <Object> ?", ["electric_bass", "acoustic_guitar"]) == (
        "Is the electric bass louder than the acoustic guitar?"
    )
    assert render_question("Is <Object> <TH>?", ["it"]) is None


def test_a_video_in_two_folders_is_skipped_with_both_paths(media: Path) -> None:
    place(media, {"copies": ["00005754"]})
    _, report = import_dataset("music-avqa", BALANCE, media)
    assert report.skipped["video named twice under the media root"] == 1
    [entry] = [e for e in report.entries if e["reason"] == "video named twice under the media root"]
    assert "MUSIC-AVQA-videos-Real/00005754.mp4" in entry["detail"] and "copies/00005754.mp4" in entry["detail"]


def test_a_missing_unmatched_audio_is_named(media: Path) -> None:
    (media / "MUSIC-AVQA-videos-Real" / "00008531.mp4").unlink()
    _, report = import_dataset("music-avqa", BALANCE, media)
    [entry] = [e for e in report.entries if e["entry"]["video_id"] == "sa00006547"]
    assert entry["reason"] == "unmatch_audio: no video file of that name under the media root"
    assert entry["detail"].startswith("unmatch_audio '00008531': no file 00008531.mp4")


def test_nothing_found_says_what_was_looked_for_and_leaves_the_manifest(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "videos").mkdir(parents=True)
    (empty / "videos" / "clip.mov").write_bytes(b"\x00")
    out = tmp_path / "manifest.jsonl"
    out.write_text('{"kept": true}\n')
    with pytest.raises(InputError) as err:
        import_to_manifest("music-avqa", BALANCE, out, empty)
    message = str(err.value)
    assert "nothing imported" in message and "left as it was" in message
    assert "extensions .mp4, .mkv, .webm or .avi (e.g. 00005754.mp4, tOcOiTFQYp4.mp4" in message
    assert "all its subfolders; it holds 0 video files" in message
    assert out.read_text() == '{"kept": true}\n'


def test_a_failed_write_leaves_the_old_manifest(media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "manifest.jsonl"
    out.write_text('{"kept": true}\n')

    def broken(rows, root, tasks, report, base=None):  # the import fails half way
        raise InputError("disk went away")

    monkeypatch.setattr("aurelia.bench.importers.admit", broken)
    with pytest.raises(InputError, match="disk went away"):
        import_to_manifest("music-avqa", BALANCE, out, media)
    assert out.read_text() == '{"kept": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary file left


def test_a_manifest_works_from_any_folder(media: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inside = media / "manifest.jsonl"  # beside its media: relative paths, the pair can move together
    import_to_manifest("music-avqa", BALANCE, inside, media)
    first = json.loads(inside.read_text().splitlines()[0])
    assert first["video"] == "MUSIC-AVQA-videos-Real/00005754.mp4"
    elsewhere = tmp_path / "runs" / "manifest.jsonl"  # apart from its media: absolute paths
    import_to_manifest("music-avqa", BALANCE, elsewhere, media)
    assert json.loads(elsewhere.read_text().splitlines()[0])["video"] == str(media / "MUSIC-AVQA-videos-Real" / "00005754.mp4")
    moved = tmp_path / "moved"
    media.rename(moved)
    somewhere = tmp_path / "cwd"
    somewhere.mkdir()
    monkeypatch.chdir(somewhere)
    result = CliRunner().invoke(app, ["bench", "validate", os.path.relpath(moved / "manifest.jsonl")])
    assert result.exit_code == 0, result.output
    assert "10 samples valid" in result.output
    loaded = validate_manifest(os.path.relpath(moved / "manifest.jsonl"))
    assert all(Path(s.video).is_absolute() and Path(s.video).is_file() for s in loaded.samples)


def test_the_cli_writes_the_skipped_file(media: Path, tmp_path: Path) -> None:
    out, skipped = tmp_path / "m.jsonl", tmp_path / "skipped.jsonl"
    args = ["bench", "import", "music-avqa", str(BALANCE), "--media-root", str(media), "-o", str(out), "--skipped", str(skipped)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "read 12, imported 10, skipped 2" in result.output and f"{skipped}: 2 skipped entries" in result.output
    assert len(skipped.read_text().splitlines()) == 2


# --- a few hundred entries with the released mix ------------------------------------------------

TEMPLATES = [  # (type, template, value pools, answers)
    ('["Audio-Visual", "Existential"]', "Is there a voiceover?", [], ["yes", "no"]),
    ('["Audio-Visual", "Counting"]', "How many sounding <Object> in the video\uff1f", [["erhu", "violin", "acoustic_guitar"]], ["one", "two", "three"]),
    ('["Audio", "Counting"]', "Are there <Object> and <Object> sound? ", [["flute", "cello"], ["clarinet", "piano"]], ["yes", "no"]),
    ('["Visual", "Location"]', "Where is the performance?", [], ["indoor", "outdoor"]),
    ('["Audio-Visual", "Temporal"]', "Where is the <FL> sounding instrument?", [["first", "last"]], ["left", "middle", "right"]),
    ('["Visual", "Location"]', "What is the instrument on the <LR> of <Object>?", [["left", "right"], ["electric_bass", "pipa"]], ["drum", "suona", "acoustic_guitar"]),
    ('["Audio-Visual", "Temporal"]', "Which <Object> makes the sound <FL>?", [["guzheng", "tuba"], ["first"]], ["simultaneously", "left"]),
]  # fmt: skip


def released_mix(n: int, seed: int) -> tuple[list[dict], dict[str, list[str]], Counter[str]]:
    """``n`` entries as the released test files mix them (about 84% with question_id, the rest
    v2.0 entries without, 2% unmatched sounds, lists as strings or as lists, keys in any order,
    a few deleted questions and missing videos); the videos to place; the skips expected."""
    rng = random.Random(seed)
    entries, videos, expected = [], {"Real": [], "Synthetic": [], "v2": []}, Counter()
    for i in range(n):
        kind, template, pools, answers = rng.choice(TEMPLATES)
        values = [rng.choice(pool) for pool in pools]
        folder = rng.choices(["Real", "Synthetic", "v2"], [70, 14, 16])[0]
        vid = {"Real": f"{i:08d}", "Synthetic": f"sa{i:08d}", "v2": f"yt{i:09d}_x"}[folder]
        entry: dict = {
            "video_id": vid,
            "type": kind,
            "question_content": template,
            "templ_values": json.dumps(values),
            "anser": rng.choice(answers),
        }
        if folder != "v2" or rng.random() < 0.3:
            entry["question_id"] = 100_000 + i
            entry["question_deleted"] = 0
        roll = rng.random()
        if roll < 0.02:
            entry = {"video_id": vid, "unmatch_audio": f"{(i + 1) % n:08d}", "audio_instrument": "pipa", "video_instrument": "trumpet",
                     "question_content": "Is this sound from the instrument in the video?", "anser": "no", "templ_values": [],
                     "type": '["Audio-Visual", "Existential"]'}  # fmt: skip
            videos["Real"].append(f"{(i + 1) % n:08d}")
        elif roll < 0.03:
            entry["question_deleted"] = 1
            expected["question_deleted: the authors deleted the question"] += 1
        elif roll < 0.04:
            expected["video_id: no video file of that name under the media root"] += 1
            entries.append(dict(rng.sample(list(entry.items()), len(entry))))
            continue
        videos[folder].append(vid)
        entries.append(dict(rng.sample(list(entry.items()), len(entry))))  # keys in any order
    layout = {"MUSIC-AVQA-videos-Real": videos["Real"], "MUSIC-AVQA-videos-Synthetic": videos["Synthetic"], "v2.0": videos["v2"]}
    return entries, layout, expected


def test_a_few_hundred_entries_lose_nothing_without_a_named_reason(tmp_path: Path) -> None:
    entries, layout, expected = released_mix(600, seed=17)
    source = tmp_path / "avqa-test.json"
    source.write_text(json.dumps(entries, indent=2))
    media = place(tmp_path / "media", layout)
    rows, report = import_dataset("music-avqa", source, media)
    assert report.read == 600 and report.skipped == expected and report.imported == 600 - sum(expected.values())
    assert len({r["id"] for r in rows}) == len(rows)
    assert sum(r["id"].startswith("music_avqa-v2-") for r in rows) > 50  # the entries without question_id are in
    assert sum("audio" in r for r in rows) == sum("unmatch_audio" in e for e in entries)
    placed = {v for names in layout.values() for v in names}
    kept = [e for e in entries if e.get("question_deleted", 0) == 0 and e["video_id"] in placed]
    yes_no = Counter(e["anser"] for e in kept if e["anser"] in ("yes", "no"))
    assert yes_no["yes"] and yes_no["no"]  # the yes:no balance of what is kept is the imported one
    assert Counter(r["answer"] for r in rows if r["answer"] in ("yes", "no")) == yes_no
    assert all("?" in r["question"] and "？" not in r["question"] and "_" not in r["question"] for r in rows)
    again, _ = import_dataset("music-avqa", source, media)
    assert again == rows
