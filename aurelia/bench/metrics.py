"""Reading an answer and scoring it: accuracy for closed answers, COCO caption metrics for open ones.

Closed answers: a multiple-choice output is read with the choice-restricted reader the graph's
target uses (``aurelia.parsing``); an output it cannot read is *unparsed* and wrong, never a
default letter. Open words (Music-AVQA) are compared after normalisation: case, punctuation,
articles, number words to digits. Open-ended answers (AVSD, captioning) get BLEU-1..4, METEOR,
ROUGE-L and CIDEr computed at corpus level by the COCO caption toolkit (``pycocoevalcap``), on
text tokenised by its PTB tokenizer, with several references per sample; METEOR and the
tokenizer run on Java.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any

from aurelia.errors import AureliaError
from aurelia.parsing import TENS, UNITS, choice_letters, parse_member, read_answer

ACCURACY = "accuracy"
COCO_METRICS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")

ARTICLES = frozenset({"a", "an", "the"})
_LABEL = re.compile(r"^\W*(?:final\s+)?answer\s*(?:is)?\s*[:\-]\s*", re.I)


def _numbers_to_digits(tokens: list[str]) -> list[str]:
    """'twenty', 'one' -> '21'; 'three' -> '3'; other tokens unchanged."""
    out: list[str] = []
    for tok in tokens:
        if tok in UNITS and UNITS[tok] < 10 and out and out[-1].isdecimal() and int(out[-1]) in TENS.values():  # not '²'
            out[-1] = str(int(out[-1]) + UNITS[tok])
        elif tok in UNITS or tok in TENS:
            out.append(str(UNITS.get(tok, TENS.get(tok))))
        else:
            out.append(tok)
    return out


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation (a decimal point stays), no articles, number words as digits."""
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text.lower())
    text = re.sub(r"[^\w\s.]|_", " ", text)
    tokens = [t for t in text.split() if t not in ARTICLES]
    return " ".join(_numbers_to_digits(tokens))


def answer_letter(answer: str, choices: list[str]) -> str | None:
    """The letter of a multiple-choice answer given as a choice's text or as a letter; None if neither.

    The text wins over the letter reading; a sample whose answer reads as two different choices
    is rejected by manifest validation (see :func:`ambiguous_answer`)."""
    letters = choice_letters(len(choices))
    for i, choice in enumerate(choices):
        if answer.strip() == choice.strip():
            return letters[i]
    for i, choice in enumerate(choices):
        if answer.strip().casefold() == choice.strip().casefold():
            return letters[i]
    a = answer.strip().upper()
    return a if len(a) == 1 and a in letters else None


def ambiguous_answer(answer: str, choices: list[str]) -> bool:
    """A one-letter answer that is also the text of a different choice (choices 'B', 'A' and answer 'A')."""
    a = answer.strip()
    letters = choice_letters(len(choices))
    if len(a) != 1 or a.upper() not in letters:
        return False
    return any(c.strip().casefold() == a.casefold() and letters[i] != a.upper() for i, c in enumerate(choices))


def read_output(output: str, kind: str, choices: list[str] | None = None, *, answer_set: Sequence[str] | None = None) -> str | None:
    """What a raw model output answers: a choice letter, a normalised short answer, the member
    of a closed ``answer_set`` it names (as the set writes it), or the text; None when nothing
    can be read (unparsed)."""
    if kind == "choice":
        return read_answer(output, choices or [])[1]
    if kind == "short" and answer_set:
        return parse_member(output, list(answer_set))
    if kind == "short":  # a word or short phrase: its first line (the reader keeps the whole reply)
        text, _ = read_answer(output, None)
        first = next((line for line in (text or "").splitlines() if line.strip()), "")
        return normalize_answer(_LABEL.sub("", first)) or None
    text = " ".join(_LABEL.sub("", output.strip()).split())
    return text or None


_ANSWER_LINE = re.compile(r"^[\W_]*(?:final\s+)?answer\s*(?:is)?\s*[:\-]\s*(?P<a>.*)$", re.I | re.M)


def final_answer_text(output: str) -> str:
    """What a chain-of-thought reply answers: the text of its last ``Answer:`` line (the prompt
    asks for one); without such a line, the whole reply, read by the same rules as any other."""
    lines = [m.group("a").strip(" \t*_") for m in _ANSWER_LINE.finditer(output)]
    return lines[-1] if lines and lines[-1] else output


def is_correct(
    parsed: str | None,
    kind: str,
    answer: str,
    references: list[str],
    choices: list[str] | None = None,
    *,
    answer_set: Sequence[str] | None = None,
) -> bool | None:
    """Closed kinds: right or wrong (unparsed is wrong); open kinds have no per-sample verdict (None).

    A short answer is right when it normalises like the gold answer or a reference; with an
    ``answer_set`` the gold answers are also read into the set ("drums" is the member "drum")."""
    if kind == "choice":
        return parsed is not None and parsed == answer_letter(answer, choices or [])
    if kind == "short":
        golds = [answer, *references]
        if answer_set:
            golds += [m for m in (parse_member(g, list(answer_set)) for g in golds) if m is not None]
        return parsed is not None and normalize_answer(parsed) in {normalize_answer(g) for g in golds}
    return None


def accuracy(verdicts: list[bool]) -> float:
    return sum(verdicts) / len(verdicts) if verdicts else 0.0


# --- COCO caption metrics -------------------------------------------------------------------


def _require_java() -> None:
    """The caption metrics need the optional ``bench`` extra and a Java runtime: say which is missing."""
    if importlib.util.find_spec("pycocoevalcap") is None:
        raise AureliaError("the COCO caption metrics need the 'bench' extra: pip install 'aurelia-av[bench]'")
    if shutil.which("java") is None:
        raise AureliaError(
            "the COCO caption metrics need Java (PTB tokenizer, METEOR): install a Java runtime (Debian: default-jre-headless)"
        )


@contextmanager
def _java_stderr() -> Iterator[list[str]]:
    """Keep the tokenizer's progress chatter off the terminal; what it printed is yielded for errors."""
    captured: list[str] = []
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            captured.append(sink.read().decode(errors="replace"))


def ptb_tokenize(texts: dict[Any, list[str]]) -> dict[Any, list[str]]:
    """The COCO toolkit's PTB tokenisation (lower case, punctuation removed), one Java call."""
    _require_java()
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    data = {k: [{"caption": " ".join(t.split())} for t in v] for k, v in texts.items()}
    with _java_stderr() as err:
        try:
            out = PTBTokenizer().tokenize(data)
        except Exception as exc:
            raise AureliaError(f"the PTB tokenizer failed: {exc}") from exc
    if set(out) != set(data):
        raise AureliaError(f"the PTB tokenizer failed: {''.join(err).strip()[:300]}")
    return out


@cache
def _meteor() -> Any:
    """One METEOR Java process per Python process (loading its paraphrase table takes seconds)."""
    _require_java()
    from pycocoevalcap.meteor.meteor import Meteor

    return Meteor()


def corpus_scores(
    candidates: dict[str, str], references: dict[str, list[str]], metrics: tuple[str, ...] = COCO_METRICS
) -> dict[str, float]:
    """COCO metrics over a corpus of already tokenised text; ids are the samples to score."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    if not candidates:
        return {}
    res = {k: [candidates[k]] for k in candidates}
    gts = {k: references[k] for k in candidates}
    out: dict[str, float] = {}
    if any(m.startswith("Bleu_") for m in metrics):
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
        out.update({f"Bleu_{n}": float(bleu[n - 1]) for n in range(1, 5) if f"Bleu_{n}" in metrics})
    if "METEOR" in metrics:
        out["METEOR"] = float(_meteor().compute_score(gts, res)[0])
    if "ROUGE_L" in metrics:
        out["ROUGE_L"] = float(Rouge().compute_score(gts, res)[0])
    if "CIDEr" in metrics:
        out["CIDEr"] = float(Cider().compute_score(gts, res)[0])
    return {m: out[m] for m in metrics if m in out}


def coco_scores(candidates: dict[str, str], references: dict[str, list[str]], metrics: tuple[str, ...] = COCO_METRICS) -> dict[str, float]:
    """Tokenise with PTB, then score the corpus: the COCO caption toolkit's numbers."""
    res, gts = tokenize_pairs(candidates, references)
    return corpus_scores(res, gts, metrics)


def tokenize_pairs(candidates: dict[str, str], references: dict[str, list[str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Candidates and references tokenised together, in one Java call (none when there is nothing)."""
    if not candidates:
        return {}, {}
    joined = {("c", k): [v] for k, v in candidates.items()} | {("r", k): list(v) for k, v in references.items()}
    tok = ptb_tokenize(joined)
    return {k: tok[("c", k)][0] for k in candidates}, {k: tok[("r", k)] for k in references}
