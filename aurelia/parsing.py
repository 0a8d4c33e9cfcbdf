"""Plain-text parsing for models without structured output: JSON in fences, "Score: 7/10",
numbered steps, number words; an answer parser restricted to the valid choices; and what a reply
merely repeats from its prompt blanked (:func:`without_echo`), so only its own words are read."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import json_repair

from aurelia.schemas import MAX_STEPS, Evaluation, Reasoning, Step

NUMBER_WORDS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def extract_json(text: str) -> dict | None:
    """The first JSON object in a model's text (fenced or not), repaired by ``json-repair``:
    unquoted keys, trailing commas, and an object cut off at ``max_tokens`` are closed instead of
    costing a repair call. None when there is no object."""
    start = text.find("{")
    if start == -1:
        return None
    value = json_repair.loads(text[start:])
    if isinstance(value, list):  # several objects in a row: the first one
        value = next((v for v in value if isinstance(v, dict)), None)
    return value if isinstance(value, dict) and value else None


def round_half_up(value: float) -> int:
    """6.5 -> 7 and 7.5 -> 8 (Python's ``round`` would give 6 and 8)."""
    return math.floor(value + 0.5)


def _number(token: str) -> float:
    return float(NUMBER_WORDS.get(token.lower(), token))


# a score's number: digits (a sign only where no digit or word precedes it: "6-7" is a range,
# not -7) or a number word; "N/M", "N out of M", "N%" and "N points" give its scale
_N = r"(?P<n>(?:(?<![\w.])-(?=\d)|(?<![\w.\-–—/]))\d+(?:\.\d+)?(?![\d])|(?<![\w-])(?:zero|one|two|three|four|five|six|seven|eight|nine|ten)(?![\w-]))"
_SCALE = r"(?P<scale>\s*(?:points?\s+|stars?\s+)?(?:/|\bout\s+of\b)\s*(?P<m>\d+|ten|five|hundred)(?![\d.]?\d)|\s*(?P<pct>%)|\s*points?\b)?"
_A = r"(?:(?:a|an)\s+)?(?:(?:solid|strong|generous|fair|firm|clear)\s+)?"
_OBJECT = r"(?:(?:it|this|that|the\s+caption|this\s+caption|the\s+description)\s+)?(?:(?:at|as)\s+)?"
SCORE_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("explicit", re.compile(rf"{_N}\s*(?:points?\s+|stars?\s+)?(?:/|\bout\s+of\b)\s*(?P<m>\d+|ten|five|hundred)(?![\d.]?\d)", re.I)),
    (
        "label",
        re.compile(
            r"(?:\b(?:(?P<final>final|overall|total|revised|updated|adjusted|corrected)\s+|(?P<tentative>initial|tentative|preliminary|first)\s+|(?:my|the|your)\s+)?"
            r"(?:score|rating|grade|verdict|similarity(?:\s+score)?|note|punktzahl|bewertung|puntuaci[oó]n|оценка)\b|(?P<final2>\b(?:final|overall|total)\b)|评分|分数|得分|打分)"
            rf"\s*(?:\([^)\n]{{0,20}}\)\s*)?(?:\bis\b|\bof\b|=|:|-|–|—|,|→|\bwould\s+be\b)?\s*{_A}{_N}{_SCALE}",
            re.I,
        ),
    ),
    (
        "verb",
        re.compile(
            r"(?:\b(?P<me>I)\s*(?:['’]d|\s+would|['’]ll|\s+will|\s+can|\s+must)?\s+)?\b(?:give|rate|score|put|assign|award|mark|grade)s?\s+"
            rf"{_OBJECT}{_A}{_N}{_SCALE}",
            re.I,
        ),
    ),
    ("verb", re.compile(rf"\b(?:deserves?|earns?|gets?|merits?|scores?|receives?|warrants?)\s+{_A}{_N}{_SCALE}", re.I)),
    (
        "verb",
        re.compile(
            rf"\b(?P<me>I)\s*(?:['’]d|\s+would|['’]ll|\s+will)?\s+(?:say|go\s+with|settle\s+on)\s+(?:about\s+|around\s+)?{_A}{_N}{_SCALE}",
            re.I,
        ),
    ),
    ("verb", re.compile(rf"\b(?:that['’]s|this\s+is|it['’]s|it\s+is)\s+(?:a|an)\s+(?:solid\s+|strong\s+|clear\s+)?{_N}{_SCALE}", re.I)),
    ("verb", re.compile(rf"\b(?:solid|strong)\s+{_N}{_SCALE}", re.I)),
    (
        "revision",
        re.compile(rf"\b(?:make\s+it|change\s+(?:it|that)\s+to|lower(?:ing)?\s+it\s+to|rais(?:e|ing)\s+it\s+to)\s+{_A}{_N}{_SCALE}", re.I),
    ),
    ("revision", re.compile(rf"\b(?:so|thus|therefore|hence)\s*,?\s*{_A}{_N}{_SCALE}(?=\s*[.!]?\s*$|\s*[.!]\s)", re.I)),
    ("bare", re.compile(rf"^\s*[\"'“]?{_N}{_SCALE}[\"'”]?(?=\s*(?:[.!\-–—:]|$)|[ \t]*\n)", re.I)),
    ("bare", re.compile(rf"(?:^|(?<=[.!?\n→:])|^\s*[A-Za-z]+,)\s*[\"'“]?{_N}{_SCALE}[\"'”]?\s*[.!]?\s*$", re.I)),
    ("bare", re.compile(rf"(?m)^[^\n]*\b(?:score|rate|rating|scale)\b[^\n]*[:→,]\s*{_N}{_SCALE}\s*[.!]?\s*$", re.I)),
]
# what follows a number that is mentioned, not given: "10/10 would be perfect", "a score of 10 means …"
MENTION_AFTER = re.compile(
    r"^[ \t]*[)\]]?[ \t]*(?:caption\s+|one\s+|score\s+|version\s+)?(?:would|could|might|means?\b|=|indicates?|represents?|stands?\s+for|"
    r"is\s+(?:perfect|reserved|the\s+(?:best|highest|maximum|top))|if\b|\?|:\s*(?:least|most|perfect|no\b|every|means))",
    re.I,
)
# what, earlier in its clause, makes a number hypothetical or part of a rubric
MENTION_BEFORE = re.compile(
    r"\b(?:if|unless|would|could|might|should|otherwise|e\.g|for\s+example|such\s+as|where|range|ranges|between|from|scale\s+of|had|were|"
    r"perfect|ideal|higher|lower|than|"
    # reported, not given: "the caption claims it scored 10/10", "it says 10"
    r"claims?|claimed|says|said|states?|stated|asserts?|asserted|according\s+to|allegedly|supposedly|purports?)\b|['’]d\s+have",
    re.I,
)
REVISION = re.compile(
    r"\b(?:so|thus|therefore|hence|actually|instead|after|now|but|on\s+reflection|on\s+second\s+thought|make\s+it|settle|ultimately|in\s+the\s+end)\b",
    re.I,
)
TENTATIVE = re.compile(r"\b(?:at\s+first|initially|first\s+impression|tentative|preliminary|initial)\b", re.I)
CLAUSE_START = re.compile(r"[.!?;:\n(]\s|[\n(:]|,\s*|\bbut\b|\s[—–]\s|—")
RANGE_AFTER = re.compile(
    rf"^\s*(?:/\s*10\s*)?(?:or|to|-|–|—|and)\s*{_A}(?:\d|(?:zero|one|two|three|four|five|six|seven|eight|nine|ten)\b)", re.I
)


# a scale named apart from the score: "Out of 5, I'd give 4", "on a scale of 1 to 100"
OTHER_SCALE_FIRST = re.compile(
    r"(?:^|[.!?\n]\s*|,\s*)(?:out\s+of|on\s+a\s+scale\s+(?:of|from)\s+(?:0|1|one|zero)\s*(?:to|-|–)\s*)\s*(?P<m>\d+|five|ten|hundred)\b",
    re.I,
)


@dataclass
class _Candidate:
    start: int
    end: int
    value: float
    given: bool
    other_scale: bool
    ambiguous: bool
    final: bool
    tentative: bool
    revision: bool


def _candidates(text: str) -> list[_Candidate]:
    """Every number written as a score, with what the words around it make of it."""
    found: dict[int, _Candidate] = {}
    for kind, pattern in SCORE_PATTERNS:
        for m in pattern.finditer(text):
            groups = m.groupdict()
            scale = groups.get("m")
            other = bool(groups.get("pct")) or (scale is not None and scale.lower() not in ("10", "ten"))
            try:
                value = _number(m.group("n"))
            except (ValueError, OverflowError):
                value = math.inf
            clause = CLAUSE_START.split(text[: m.start("n")])[-1] if kind != "bare" else ""
            if kind in ("label", "verb", "revision"):
                clause = CLAUSE_START.split(text[: m.start()])[-1]
            after = text[m.end() :]
            me = bool(groups.get("me"))
            mention = bool(MENTION_AFTER.match(after)) or (not me and bool(MENTION_BEFORE.search(clause)))
            before = text[max(0, m.start() - 40) : m.start()]
            cand = _Candidate(
                m.start("n"),
                m.end(),
                value,
                not mention,
                other,
                bool(RANGE_AFTER.match(after)),
                bool(groups.get("final") or groups.get("final2")),
                bool(groups.get("tentative")) or bool(TENTATIVE.search(clause)),
                kind == "revision" or bool(REVISION.search(clause or before)),
            )
            old = found.get(cand.start)
            if old is None:
                found[cand.start] = cand
            else:  # one number read by several patterns: given if any says so, flags pooled
                old.given |= cand.given
                old.other_scale |= cand.other_scale
                old.ambiguous |= cand.ambiguous
                old.final |= cand.final
                old.revision |= cand.revision
                old.end = max(old.end, cand.end)
    return [found[k] for k in sorted(found)]


def _text_score(text: str) -> tuple[float, int, int] | None:
    """(value, start, end) of the score a text gives, or None: the last final/overall score; else
    the one score given (repeats agree); else the last of several when it revises the earlier
    ones ("… so 5 out of 10"). Another scale, a range, two competing scores: None."""
    given = [c for c in _candidates(text) if c.given]
    if not given:
        return None
    if any(m.group("m").lower() not in ("10", "ten") for m in OTHER_SCALE_FIRST.finditer(text)):
        return None
    finals = [c for c in given if c.final]
    if finals:
        chosen = finals[-1]
    elif any(c.other_scale or c.ambiguous for c in given):
        return None
    elif len({c.value for c in given}) == 1:
        chosen = given[-1]
    elif given[-1].revision or all(c.tentative for c in given[:-1]):
        chosen = given[-1]
    else:
        return None
    if chosen.other_scale or chosen.ambiguous or not math.isfinite(chosen.value):
        return None
    return chosen.value, chosen.start, chosen.end


SCORE_KEYS = (
    "score",
    "rating",
    "overall_score",
    "final_score",
    "overall",
    "overall_rating",
    "total_score",
    "similarity",
    "similarity_score",
    "grade",
)
RATIONALE_KEYS = ("rationale", "reason", "reasoning", "explanation", "comment", "justification")


def _json_objects(text: str) -> list[dict]:
    """The JSON objects of a reply (repaired), and the objects nested one level inside them."""
    start = text.find("{")
    if start == -1:
        return []
    try:
        value = json_repair.loads(text[start:])
    except (ValueError, RecursionError):
        return []
    objects = [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, dict)]
    return objects + [v for obj in objects for v in obj.values() if isinstance(v, dict)]


def _json_score(text: str) -> Evaluation | bool | None:
    """The score of a JSON reply; False when no object holds a readable score key."""
    readings: list[tuple[float, str]] = []
    for obj in _json_objects(text):
        keys = {str(k).strip().lower(): v for k, v in obj.items()}
        key = next((k for k in SCORE_KEYS if k in keys), None)
        if key is None:
            continue
        value = keys[key]
        rationale = next((str(keys[k]).strip() for k in RATIONALE_KEYS if k in keys and keys[k] is not None), "")
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:  # an integer too big for a float
                return None
        elif isinstance(value, str) and value.strip():
            read = _text_score(value.translate(_WIDE))
            if read is None:
                if re.search(r"\d", value):
                    return None  # "4/5", "6-7": written, but not a 1-10 score
                continue
            number = read[0]
        else:
            continue
        if not math.isfinite(number):
            return None
        readings.append((number, rationale))
    if not readings:
        return False
    if len({n for n, _ in readings}) > 1:
        return None
    return Evaluation(score=round_half_up(readings[-1][0]), rationale=readings[-1][1])


def parse_evaluation(text: str) -> Evaluation | None:
    """The score an evaluator *gives* (as written, not clamped; halves round up) and its rationale,
    or None (unscored: the node re-asks).

    A JSON reply's ``score`` (or ``rating`` …) wins. In text a score is given by a label
    ("Score: 7", "**Rating**: 8/10", "Final score — 6"), a verb ("I'd give it 7", "I rate it a 3",
    "deserves a 7") or standing alone ("7", "7/10. Mostly right."); a number in a rubric or a
    hypothetical ("10/10 would be perfect", "a score of 10 means …", "it would get a 9 if …") is
    only mentioned. A final or overall score wins; a later score that revises ("… so 5/10") wins;
    another scale ("3/5", "80%"), a range ("6-7") or two competing scores ("Visual: 6/10.
    Audio: 8/10.") is no score."""
    text = strip_think(text).translate(_WIDE)
    from_json = _json_score(text)
    if from_json is not False:
        return from_json  # type: ignore[return-value]
    flat = re.sub(r"[*#`]+", "", text)
    read = _text_score(flat)
    if read is None:
        return None
    value, start, end = read
    return Evaluation(score=round_half_up(value), rationale=_rationale(flat, start, end))


# ------------------------------------------------------------- what the reply says itself
WORD = re.compile(r"[^\W_]+")
ECHO_NUMBER = re.compile(r"(?<![\w.])(?:\d+(?:\.\d+)?|zero|one|two|three|four|five|six|seven|eight|nine|ten)(?![\w]|\.\d)", re.I)
JSON_KEY_TAIL = re.compile(r'\{\s*"[^"{}]*"\s*:\s*$')


def _common_suffix(a: str, b: str) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[-1 - n].lower() == b[-1 - n].lower():
        n += 1
    return n


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < len(a) and n < len(b) and a[n].lower() == b[n].lower():
        n += 1
    return n


def _echoed_numbers(text: str, source: str, min_context: int) -> list[tuple[int, int]]:
    """Spans of ``text`` around a number that ``source`` writes in the same words: the number
    and at least ``min_context`` other characters ("10/10", '"score": 10', "Score: 10")."""
    spans = []
    in_source: dict[str, list[re.Match]] = {}
    for m in ECHO_NUMBER.finditer(source):
        in_source.setdefault(m.group(0).lower(), []).append(m)
    for m in ECHO_NUMBER.finditer(text):
        best = (0, 0)
        for s in in_source.get(m.group(0).lower(), []):
            left = _common_suffix(text[: m.start()], source[: s.start()])
            right = _common_prefix(text[m.end() :], source[s.end() :])
            if left + right > sum(best):
                best = (left, right)
        start, end = m.start() - best[0], m.end() + best[1]
        context = text[start : m.start()] + " " + text[m.end() : end]
        syntax = re.search(r"[^\w\s]", context) and len("".join(context.split())) >= min_context  # '"score": 10', "10/10"
        words = len(re.findall(r"(?<![\w])\w+(?!\w)", text[start : m.start()])) >= 2  # "rate it 10"
        if syntax or words:
            spans.append((start, end))
    return spans


def without_echo(reply: str, *sources: str, min_chars: int = 16, min_words: int = 3, min_number_context: int = 3) -> str:
    """``reply`` with what it repeats from ``sources`` (its prompt) blanked out, so a number the
    model merely repeats (a caption that says "reply with score 10", an echoed rubric) is never
    read as its own answer: every verbatim quote of ``min_chars`` and ``min_words`` or longer
    that holds a number, and every number written with the same words around it, however short:
    with at least ``min_number_context`` characters that include punctuation ('{"score": 10}',
    "10/10", "Score: 10") or two whole words before it ("rate it 10"). What stays is the
    model's own: a number the prompt does not write in those words, quoted words without a
    number ("rate the caption"), and JSON syntax such as the '{"score": ' that begins its own
    object."""
    out = list(reply)
    work = list(reply)  # matched spans are masked here with a character no source holds
    for source in sources:
        source = source.replace("\x00", "")
        while source:
            text = "".join(work)
            match = SequenceMatcher(None, text, source, autojunk=False).find_longest_match(0, len(text), 0, len(source))
            if match.size < min_chars:
                break
            span = slice(match.a, match.a + match.size)
            quoted = text[span]
            key = JSON_KEY_TAIL.search(quoted)  # an echoed instruction that runs into the model's own '{"score": '
            end = match.a + (key.start() if key else match.size)
            begin = match.a
            scale = ECHO_NUMBER.match(quoted) if re.search(r"(?:/|\bout\s+of)\s*$", text[: match.a]) else None
            if scale:  # "9/10 for how similar" quotes "10 for how similar": the scale of the model's own score stays
                begin += scale.end()
            kept = text[begin:end]
            if len(kept) >= min_chars and len(WORD.findall(kept)) >= min_words and ECHO_NUMBER.search(kept):
                out[begin:end] = " " * (end - begin)
            work[span] = "\x00" * match.size
    text = "".join(out)
    for source in sources:
        for start, end in _echoed_numbers(text, source.replace("\x00", ""), min_number_context):
            out[start:end] = " " * (end - start)
    return "".join(out)


def read_evaluation(reply: str, *prompt_texts: str) -> Evaluation | None:
    """The evaluator's own score: what its reply repeats from ``prompt_texts`` (the caption, the
    rubric) is blanked first (:func:`without_echo`), then the score is read."""
    return parse_evaluation(without_echo(reply, *prompt_texts))


def _rationale(text: str, start: int, end: int) -> str:
    rest = (text[:start] + " " + text[end:]).strip()
    rest = re.sub(r"^(?:/\s*10|out of 10)[\s.:,-]*", "", rest, flags=re.I)
    rest = re.sub(r"(?i)^\W*(?:score|rating)?\W*(rationale|reason)\s*:\s*", "", rest)
    return re.sub(r"\s+", " ", rest).strip(" .:-") or text.strip()


def parse_reasoning(text: str) -> Reasoning | None:
    """Steps and final answer from JSON, or from numbered/"Step N:" lines and "Final answer:"."""
    data = extract_json(text)
    if data and isinstance(data.get("steps"), list):
        steps = []
        for item in data["steps"]:
            if isinstance(item, dict):
                steps.append(Step(step=str(item.get("step", item.get("description", ""))), answer=str(item.get("answer", ""))))
            else:
                steps.append(Step(step=str(item), answer=""))
        if steps:
            final = data.get("final_answer", data.get("answer"))
            return Reasoning(steps=steps[:MAX_STEPS], final_answer="" if final is None else str(final))
    final = ""
    m = re.search(r"final answer\s*[:\-]\s*(.+)", text, re.I)
    if m:
        final = m.group(1).strip()
    steps: list[Step] = []
    for line in text.splitlines():
        line = line.strip()
        sm = re.match(r"^(?:step\s*)?(\d+)[.):]\s*(.+)$", line, re.I)
        if sm:
            body = sm.group(2)
            parts = re.split(r"\s*(?:answer\s*:|->|=>|—)\s*", body, maxsplit=1, flags=re.I)
            steps.append(Step(step=parts[0].strip(), answer=parts[1].strip() if len(parts) > 1 else ""))
        elif steps and re.match(r"^answer\s*:", line, re.I) and not steps[-1].answer:
            steps[-1] = Step(step=steps[-1].step, answer=line.split(":", 1)[1].strip())
    if not steps:
        return None
    return Reasoning(steps=steps[:MAX_STEPS], final_answer=final)


def choice_letters(n: int) -> str:
    return LETTERS[:n]


THINK_BLOCK = re.compile(r"<think>.*?</think>", re.S | re.I)


def strip_think(text: str) -> str:
    """The reply without its ``<think>…</think>`` part; a reply whose thinking never closed has
    no answer after it, and one that only closes it (the template opened it) starts after it."""
    text = THINK_BLOCK.sub(" ", text)
    text = re.split(r"</think>", text, flags=re.I)[-1]
    return re.split(r"<think>", text, flags=re.I)[0].strip()


# full-width forms (Ｂ, （Ｂ）, ：, ２) and CJK punctuation as their ASCII twins; NFKC would also
# turn the Kelvin sign into K, which must never read as option K
_WIDE = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)} | {0x3000: " ", 0x3002: ". ", 0x3001: ", ", 0x2192: " → "}


def plain_reply(text: str) -> str:
    """What a reader reads: the reply without its thinking, full-width forms as ASCII, LaTeX
    ``\\boxed{C}`` / ``\\text{C}`` / ``$…$`` unwrapped and markdown emphasis removed."""
    text = strip_think(text).translate(_WIDE)
    for _ in range(2):
        text = re.sub(r"\\(?:boxed|text|mathrm|textbf)\{([^{}]*)\}", r"\1", text)
    text = re.sub(r"\$|\\[()\[\]]", " ", text)
    return re.sub(r"[*`#]+|(?<!\w)_+|_+(?!\w)", "", text)


# "not C", "isn't C", "rule out C", "other than C", "no piano": a mention that is no vote
NEGATED_BEFORE = re.compile(
    r"(?:\bnot|n['’]t|\bnor|\bneither|\bexcept|\bexclud(?:e|es|ing)|\beliminat(?:e|es|ing)|\brul(?:e|es|ing)\s+out|\bwithout|"
    r"\bunlike|\brather\s+than|\binstead\s+of|\bother\s+than|\bno)\s+(?:(?:a|an|the)\s+)?(?:(?:option|choice|answer)\s+)?[(\[]?$",
    re.I,
)
# "C is wrong", "Option A (red) is incorrect", "the piano isn't playing"
NEGATED_AFTER = re.compile(
    r"^[)\]]?(?:\s*\([^)]*\))?\s*(?:(?:is|are|was|were|seems|looks)\s+(?:not\b|wrong|incorrect|unlikely|false|ruled\s+out|eliminated|"
    r"absent|missing|silent|inaudible)|(?:is|are|was|were|does|do|did|ca)n['’]t\b|(?:does|do|did)\s+not\b|never\b|cannot\b)",
    re.I,
)


# "not the violin or the piano", "neither A nor B": the negation covers the second one too
NEGATED_LIST = re.compile(
    r"\b(?:not|neither|nor|no)\s+(?:(?:a|an|the)\s+)?[\w ()]{1,30}?\s*(?:,|\bor|\bnor)\s+(?:(?:a|an|the)\s+)?[(\[]?$", re.I
)


def _negated(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 40) : start]
    return bool(NEGATED_BEFORE.search(before) or NEGATED_LIST.search(before) or NEGATED_AFTER.match(text[end : end + 80]))


def _is_word(text: str, match: re.Match, group: str = "l") -> bool:
    """A bare "A" or "I" followed by a word is the article or the pronoun ("A blue screen",
    "I think it's C"), not option A or I; bracketed ("A)", "(I)") it is a letter."""
    letter, end = match.group(group), match.end(group)
    bracketed = end < len(text) and text[end] in ")]"
    return letter in "AaIi" and not bracketed and re.match(r"\s+[A-Za-z]", text[end:]) is not None


_DIGIT_WORDS = {str(i): w for w, i in NUMBER_WORDS.items()}
# "the one on the left", "one of them": the pronoun, not the number
_PRONOUN_ONE = re.compile(
    r"(?i:\b(?:the|this|that|which|each|every|any|no|some|other|another)\s+(?:\w+\s+)?one\b(?!\s+\w+s\b)|\bone\s+of\b)"
)


def _forms(option: str, all_options: list[str]) -> list[str]:
    """The ways a reply may write an option: as given, without its article, with digits and
    number words swapped, singular or plural, and by its head noun when it is a two-word name
    no other option shares ("guitar" for "acoustic guitar")."""
    base = " ".join(option.replace("_", " ").split())
    if not base:
        return []
    forms = {base, re.sub(r"(?i)^(?:a|an|the)\s+", "", base)}
    for form in list(forms):
        words = form.split(" ")
        swapped = [_DIGIT_WORDS.get(w.lower(), str(NUMBER_WORDS[w.lower()]) if w.lower() in NUMBER_WORDS else w) for w in words]
        forms.add(" ".join(swapped))
    for form in list(forms):
        last = form.split(" ")[-1]
        if len(last) > 3 and last.isalpha():
            stem = form[: -len(last)]
            if last.lower().endswith("s") and not last.lower().endswith("ss"):
                forms.add(stem + last[:-1])
            else:
                forms.add(stem + last + ("es" if re.search(r"(?:s|x|ch|sh)$", last, re.I) else "s"))
    words = re.sub(r"(?i)^(?:a|an|the)\s+", "", base).split(" ")
    if len(words) == 2 and len(words[1]) > 3 and words[1].isalpha():
        head = words[1].lower().rstrip("s")
        if sum(head in o.lower() for o in all_options) == 1:
            forms |= {head, head + "s"}
    return sorted(forms, key=len, reverse=True)


def _edge(form: str) -> tuple[str, str]:
    """Word boundaries for ASCII-edged forms; none for CJK text, which has no spaces."""
    before = r"(?<![A-Za-z0-9])" if form[:1].isascii() and form[:1].isalnum() else ""
    after = r"(?![A-Za-z0-9])" if form[-1:].isascii() and form[-1:].isalnum() else ""
    return before, after


def _option_spans(text: str, choices: list[str]) -> list[tuple[int, int, int]]:
    """(start, end, index) of each option named in ``text`` in any of its forms, longest forms
    first so that "dark red" is not also read as "red"."""
    spans: list[tuple[int, int, int]] = []
    candidates = [(form, i) for i, option in enumerate(choices) for form in _forms(option, choices)]
    for form, i in sorted(candidates, key=lambda c: -len(c[0])):
        before, after = _edge(form)
        pattern = before + r"\s+".join(map(re.escape, form.split(" "))) + after
        for m in re.finditer(pattern, text, re.I):
            if form.lower() == "one" and any(p.start() <= m.start() < p.end() for p in _PRONOUN_ONE.finditer(text)):
                continue
            if not any(m.start() < e and s < m.end() for s, e, _ in spans):
                spans.append((m.start(), m.end(), i))
    return sorted(spans)


def _named(text: str, choices: list[str]) -> set[int]:
    """Options named in ``text`` and not negated."""
    return {i for s, e, i in _option_spans(text, choices) if not _negated(text, s, e)}


STOPWORDS = frozenset("a an the is are was were be being been of in on at to and with while its it this that there their his her".split())


def _stems(text: str) -> set[str]:
    stems = {re.sub(r"(?:ing|es|s|ed)$", "", w) or w for w in re.findall(r"[a-z]+", text.lower()) if w not in STOPWORDS}
    return {re.sub(r"([b-df-hj-np-tv-z])\1$", r"\1", s) for s in stems}  # "clapping" -> "clap"


def _paraphrased(text: str, choices: list[str]) -> set[int]:
    """Options of three words or more whose content words all appear in ``text`` ("A man is
    playing the cello" names "A man playing the cello")."""
    said = _stems(text)
    return {i for i, c in enumerate(choices) if len(c.split()) >= 3 and len(_stems(c)) >= 2 and _stems(c) <= said}


def _drop_echoes(text: str, choices: list[str], letters: str) -> str:
    """Remove what repeats the prompt rather than answers it: letter lists ("(A, B, C or D)",
    "A/B", "A-D") and runs of two or more choice lines ("(A) red (B) blue …")."""

    def letter_list(m: re.Match) -> str:
        found = re.findall(rf"[{letters}]", m.group(0))
        joined = re.search(r"\bor\b|\band\b|/|\||[-–]", m.group(0)) or m.group(0).startswith("(")
        return " " if len(found) >= 3 or joined else m.group(0)

    sep = r"(?:\s*[,/|]\s*(?:or\s+|and\s+)?|\s+(?:or|and)\s+|\s*[-–]\s*)"
    text = re.sub(rf"\(?(?<![A-Za-z])[{letters}](?:{sep}[{letters}])+(?![A-Za-z'’])\)?(?!\s*[:\-–—]\s*\S)", letter_list, text)
    pairs = []
    for i, option in enumerate(choices):
        pattern = rf"(?<![A-Za-z])[(\[]?{letters[i]}[)\]]?\s*[.):\-]?\s*(?i:{re.escape(option.strip())})(?!\w)"
        pairs += [(m.start(), m.end(), i) for m in re.finditer(pattern, text)]
    pairs.sort()
    runs: list[list[tuple[int, int, int]]] = []
    for pair in pairs:
        if runs and pair[2] > runs[-1][-1][2] and re.fullmatch(r"[\s,;.|]*", text[runs[-1][-1][1] : pair[0]]):
            runs[-1].append(pair)
        else:
            runs.append([pair])
    for run in reversed([r for r in runs if len(r) >= 2]):
        text = text[: run[0][0]] + "\n" + text[run[-1][1] :]
    return text


AMBIGUOUS = -1  # a statement that names two different options
_QUOTES = "\"'“”‘’"


def _letter_at(tail: str, letters: str) -> re.Match | None:
    """A letter at the start of a statement's tail: "C", "(C)", "[C]", "\"C\"", "option C"."""
    m = re.match(
        rf"[\s:=,\-–—{_QUOTES}]*(?:(?i:most\s+likely|probably|likely|clearly|definitely|certainly|perhaps|possibly)\s+)?(?:(?i:option|choice|letter)\s+)?[(\[{_QUOTES}]?\s*(?P<l>[{letters}{letters.lower()}])\s*[)\]{_QUOTES}]?(?![A-Za-z0-9])",
        tail,
    )
    return None if m is None or _is_word(tail, m) else m


def _tail_choice(tail: str, choices: list[str], letters: str) -> int | None:
    """What a statement's tail ("C", "(C) green", "green.", "a green screen", "B or C") names:
    an index, AMBIGUOUS, or None when it names nothing (or only negates)."""
    m = _letter_at(tail, letters)
    if m:
        index = letters.index(m.group("l").upper())
        rest = tail[m.end() :]
        other = re.match(
            rf"\s*(?:\([^)]*\)\s*|[^\n.;:]{{0,40}}?)(?:,|\bor\b|\band\b|/|&)\s*(?:(?i:option|choice)\s+)?[(\[]?(?P<l>[{letters}])[)\]]?(?![A-Za-z0-9])",
            rest,
        )
        if other and other.group("l") != m.group("l") and not re.search(r"\bnot\b|n['’]t\b", other.group(0)):
            return AMBIGUOUS
        return index
    first = re.split(r"[.;!?\n](?:\s|$)|\s\(", tail, maxsplit=1)[0]
    named = _named(first, choices) or _paraphrased(first, choices)
    return (named.pop() if len(named) == 1 else AMBIGUOUS) if named else None


# leads of an answer statement; the tail after them names the answer
STATEMENT_LEADS = [
    r"\b(?:(?:the|my|our)\s+)?(?:final\s+|correct\s+|right\s+|best\s+)?answer\b(?:\s+(?:here\s+)?(?:is|would\s+be|should\s+be|must\s+be|will\s+be|has\s+to\s+be))?\s*(?:[:=\-–—]|\bis\b)?",
    r"\b(?:the\s+)?(?:correct|right|best|final|selected|chosen)\s+(?:option|choice|letter|one)\b(?:\s+(?:is|would\s+be|here\s+is))?\s*[:\-–—]?",
    r"\bmy\s+(?:choice|pick|option|selection)\b(?:\s+(?:is|would\s+be))?\s*[:\-–—]?",
    r"\b(?:letter|conclusion|selection)\s*[:\-–—]",
    r"\bI\s*(?:['’]ll|['’]d|\s+will|\s+would|['’]m\s+going\s+to|\s+am\s+going\s+to)?\s+(?:choose|pick|select|go\s+with|go\s+for|say)\b",
    r"\bI['’]m\s+going\s+with\b|\bI\s+am\s+going\s+with\b",
    r"(?:^|(?<=[\s,.;:]))(?:so|therefore|thus|hence)\b,?(?:\s+it(?:['’]s|\s+is|\s+must\s+be))?(?=[\s:(\[]*\S)",
    r"(?:r[ée]ponse(?:\s+correcte)?(?:\s+est)?|antwort|respuesta(?:\s+correcta)?(?:\s+es)?|ответ)\s*[:\-]?",
    r"(?:正确)?答案(?:是|为|應為|应为)?\s*:?|选(?:项|择)?(?:是)?\s*:?|我(?:认为|觉得|选择|选)(?:是)?",
]
# "if …, the answer would be C", "had there been keys, I would answer A": hypotheticals
HYPOTHETICAL = re.compile(r"\b(?:if|unless|otherwise|were|had|suppose|assuming)\b", re.I)
IF_I_HAD_TO = re.compile(r"\bif\s+I\s+(?:had|have|must|were)\s+to\s+(?:choose|pick|guess|answer|decide|select)\b", re.I)


def _hypothetical(text: str, start: int, end: int) -> bool:
    """A statement inside a conditional: the sentence before it (or, for "would be", the whole
    sentence) holds "if", "unless", "were", "had" — but "if I had to pick, …" is an answer."""
    left = re.split(r"[.!?\n]\s", text[:start])[-1]
    right = re.split(r"[.!?\n](?:\s|$)", text[end:], maxsplit=1)[0]
    sentence = left + text[start:end] + (right if re.search(r"\b(?:would|could|might)\b", text[start:end]) else "")
    return bool(HYPOTHETICAL.search(sentence)) and not IF_I_HAD_TO.search(left)


def _statements(text: str, choices: list[str], letters: str, hypothetical: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """(position, index or AMBIGUOUS) of every answer statement that names an option; the spans
    of hypothetical ones (to the end of their sentence) go to ``hypothetical``."""
    found: list[tuple[int, int]] = []
    for lead in STATEMENT_LEADS:
        for m in re.finditer(rf"(?i:{lead})(?=(?P<tail>[^\n]*))", text):
            if _hypothetical(text, m.start(), m.end()):
                if hypothetical is not None:
                    sentence_end = re.search(r"[.!?\n](?:\s|$)|$", text[m.end() :])
                    hypothetical.append((m.start(), m.end() + sentence_end.end()))  # type: ignore[union-attr]
                continue
            index = _tail_choice(m.group("tail"), choices, letters)  # "answer is not C" names nothing
            if index is not None:
                found.append((m.start(), index))
    correct = (
        rf"(?<![A-Za-z'’])(?:(?i:option|choice)\s+)?[(\[]?(?P<l>[{letters}])[)\]]?(?:\s*\([^)]*\))?\s+"
        r"(?i:is|seems)\s+(?i:the\s+)?(?i:correct|right|best|answer)\b"
    )
    found += [(m.start(), letters.index(m.group("l"))) for m in re.finditer(correct, text) if not _hypothetical(text, m.start(), m.end())]
    lines = [(m.start(), m.group(0)) for m in re.finditer(r"[^\n]*\S[^\n]*", text)]
    for start, line in lines[:1] + lines[-1:]:  # a lone letter (with its option text) on the first or the last line
        m = re.fullmatch(
            rf"\s*[-•]?\s*(?:(?i:option|choice)\s+)?[(\[]?(?P<l>[{letters}{letters.lower()}])[)\]]?\s*(?:[.):\-–—]\s*(?P<rest>.*?))?[\s.!]*",
            line,
        )
        if m:
            index = letters.index(m.group("l").upper())
            rest = " ".join((m.group("rest") or "").strip(" .").lower().split())
            if not rest or rest == " ".join(choices[index].strip().lower().split()):
                found.append((start, index))
        elif start == lines[0][0]:  # a first sentence that is only an option: "Blue. Red appears only at first."
            first = re.split(r"[.!?](?:\s|$)", line, maxsplit=1)[0]
            bare = re.sub(r"(?i)^\s*(?:it(?:['’]s|\s+is)\s+)?(?:(?:a|an|the)\s+)?", "", first).strip(" ,")
            spans = _option_spans(bare, choices)
            if len(spans) == 1 and spans[0][:2] == (0, len(bare)):
                found.append((start, spans[0][2]))
    return found


VERDICT_POSITIVE = r"yes|true|correct|right|present|heard|audible|visible|matches|✓|✔|✅|☑"
VERDICT_ANY = rf"not\s+\w+|no|false|incorrect|wrong|absent|missing|inaudible|maybe|possible|possibly|unlikely|unclear|partially|✗|✘|❌|{VERDICT_POSITIVE}"


def _verdicts(text: str, choices: list[str], letters: str) -> int | None:
    """A verdict per option ("A. piano - no", "B) violin: yes", "(C) drums ✓"): the one option
    marked yes when at least two options carry verdicts; AMBIGUOUS when none or several are."""
    pattern = (
        rf"(?<![A-Za-z0-9])[(\[]?(?P<l>[{letters}])[)\]]?[.)]?\s*(?:\([^)\n]*\)|[^\n:\-–—,;.()✓✔✅☑✗✘❌]{{0,40}}?)?\s*"
        rf"(?:[:\-–—=]\s*|(?=[✓✔✅☑✗✘❌]))(?P<v>{VERDICT_ANY})(?![A-Za-z])"
    )
    marks: dict[int, bool] = {}
    for m in re.finditer(pattern, text, re.I):
        letter = m.group("l")
        if letter not in letters:
            continue
        positive = re.fullmatch(VERDICT_POSITIVE, m.group("v"), re.I) is not None
        marks[letters.index(letter)] = marks.get(letters.index(letter), False) or positive
    if len(marks) < 2:
        return None
    yes = [i for i, positive in marks.items() if positive]
    return yes[0] if len(yes) == 1 else AMBIGUOUS


def _votes(text: str, choices: list[str], letters: str) -> set[int]:
    """Options mentioned by letter ("option C", "(C)", "[C]", "C)", a bare capital C), not negated;
    "the piano (A)" carries the negation of "not the piano"."""
    for i, option in enumerate(choices):
        if option.strip():
            text = re.sub(rf"(?i:{re.escape(option.strip())})\s*(\({letters[i]}\))", r"\1", text)
    patterns = [
        rf"\b(?i:option|choice)\s+[(\[]?(?P<l>[{letters}{letters.lower()}])[)\]]?(?![A-Za-z])",
        rf"[(\[](?P<l>[{letters}])[)\]]",
        rf"(?m:^)\s*(?P<l>[{letters}])[.):](?=\s|$)",
        rf"(?<![A-Za-z0-9'’\-])(?P<l>[{letters}])(?![A-Za-z0-9'’\-])",
    ]
    votes = set()
    for pattern in patterns:
        for m in re.finditer(pattern, text):
            if not _is_word(text, m) and not _negated(text, m.start("l"), m.end("l")):
                votes.add(letters.index(m.group("l").upper()))
    return votes


ANSWER_KEYS = ("answer", "final_answer", "final answer", "choice", "option", "letter", "selected", "selection", "prediction")


def json_answer(text: str) -> str | None:
    """The value of an answer key ("answer", "final_answer", "choice" …) of the reply's first
    JSON object that has one, as text; None when no object has one."""
    start = text.find("{")
    if start == -1:
        return None
    try:
        value = json_repair.loads(text[start:])
    except (ValueError, RecursionError):
        return None
    for obj in value if isinstance(value, list) else [value]:
        if isinstance(obj, dict):
            keys = {str(k).strip().lower(): v for k, v in obj.items()}
            for key in ANSWER_KEYS:
                if key in keys and not isinstance(keys[key], dict | list):
                    return "" if keys[key] is None else str(keys[key])
    return None


def parse_choice(text: str, choices: list[str]) -> int | None:
    """Index of the chosen option, or None (unparsed, never a default letter).

    In order: an answer key of a JSON reply; the last answer statement ("the answer is C",
    "Answer: (C)", "Option C is correct", "答案：C", a lone letter on the first or the last
    line), hypotheticals ("if …, the answer would be C") excepted; a verdict list with exactly
    one option marked yes; the letters mentioned, when they all name one option; the option
    text in any of its forms, when exactly one option is named. A statement that names two
    options ("B or C") is unparsed. ``<think>`` blocks, echoed letter lists and echoed choice
    lists are ignored first, a sentence-initial "A" or "I" is a word, and "not C" is no vote."""
    if not choices:
        return None
    letters = choice_letters(len(choices))
    plain = plain_reply(text)
    answer = json_answer(plain)
    if answer is not None:
        index = _tail_choice(answer, choices, letters)
        return None if index is None or index == AMBIGUOUS else index
    cleaned = _drop_echoes(plain, choices, letters)
    hypothetical: list[tuple[int, int]] = []
    statements = _statements(cleaned, choices, letters, hypothetical)
    if statements:
        index = max(statements)[1]
        return None if index == AMBIGUOUS else index
    for start, end in hypothetical:  # "if …, the answer would be C" is no vote for C either
        cleaned = cleaned[:start] + " " * (end - start) + cleaned[end:]
    verdict = _verdicts(cleaned, choices, letters)
    if verdict is not None:
        return None if verdict == AMBIGUOUS else verdict
    votes = _votes(cleaned, choices, letters)
    if votes:
        return votes.pop() if len(votes) == 1 else None
    named = _named(cleaned, choices) or _paraphrased(cleaned, choices)
    return named.pop() if len(named) == 1 else None


def read_answer(text: str, choices: list[str] | None) -> tuple[str | None, str | None]:
    """(answer, letter): for multiple choice only a valid option counts, never a default; an
    open answer is the whole reply (without its thinking), not its first line."""
    if not choices:
        return strip_think(text) or None, None
    index = parse_choice(text, choices)
    if index is None:
        return None, None
    return choices[index], choice_letters(len(choices))[index]


# --- open replies read into a closed answer set -------------------------------------------------

_UNITS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
UNITS = {w: i for i, w in enumerate(_UNITS.split())}
TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
# a few words that mean a member without being one of its forms
MEMBER_ALIASES = {"yeah": "yes", "yep": "yes", "yup": "yes", "nope": "no", "center": "middle", "centre": "middle"}
_COUNT = re.compile(
    rf"(?<![\w.:/])(?:(?P<d>\d+)(?![\w:/]|\.\d)|(?P<w>(?:{'|'.join(TENS)})(?:[\s-](?:{'|'.join(list(UNITS)[1:10])}))?|{'|'.join(UNITS)})(?![\w-]))",
    re.I,
)
_MORE_THAN = re.compile(r"^more\s+than\s+(\w+)$", re.I)


def _count_value(m: re.Match) -> int:
    if m.group("d"):
        return int(m.group("d"))
    words = re.split(r"[\s-]", m.group("w").lower())
    return sum(UNITS.get(w, TENS.get(w, 0)) for w in words)


def _word_value(token: str) -> int | None:
    token = token.strip().lower()
    if token.isdecimal() and token.isascii():
        return int(token)
    return UNITS.get(token, TENS.get(token))


class _Members:
    """A closed answer set as a reader sees it: every written form of each member."""

    def __init__(self, members: list[str]) -> None:
        self.members = [m for m in members if str(m).strip()]
        self.forms: list[tuple[str, int]] = []  # (form, member index), longest first
        self.numbers: dict[int, int] = {}  # value -> member index
        self.more_than: tuple[int, int] | None = None  # (threshold, member index)
        for i, member in enumerate(self.members):
            text = " ".join(str(member).replace("_", " ").replace("-", " ").split()).lower()
            value = _word_value(text)
            more = _MORE_THAN.match(text)
            if value is not None:
                self.numbers.setdefault(value, i)
                continue
            if more and _word_value(more.group(1)) is not None:
                self.more_than = (_word_value(more.group(1)), i)  # type: ignore[assignment]
            forms = {text}
            last = text.split(" ")[-1]
            if len(last) > 2 and last.isalpha() and text not in ("yes", "no"):
                stem = text[: -len(last)]
                forms.add(
                    stem + (last[:-1] if last.endswith("s") and not last.endswith("ss") else last + ("es" if last[-1] in "sxh" else "s"))
                )
            self.forms += [(f, i) for f in forms]
        for alias, target in MEMBER_ALIASES.items():
            index = next((i for i, m in enumerate(self.members) if str(m).lower() == target), None)
            if index is not None:
                self.forms.append((alias, index))
        self.forms.sort(key=lambda f: -len(f[0]))

    def mentions(self, clause: str) -> list[tuple[int, int, int]]:
        """(start, end, member index) of every member named in ``clause`` and not negated: counts
        ("2", "two", "12" for "more than ten"), then written forms, longest first. "yes"/"no"
        count only as words of their own ("no guitar" is no answer); an instrument right after a
        count ("two violins") is what was counted, not a second answer."""
        spans: list[tuple[int, int, int]] = []

        def free(s: int, e: int) -> bool:
            return not any(s < e2 and s2 < e for s2, e2, _ in spans)

        for form, i in self.forms:
            body = r"[\s_-]+".join(map(re.escape, form.split(" ")))
            for m in re.finditer(rf"(?<![A-Za-z0-9]){body}(?![A-Za-z0-9])", clause, re.I):
                if form in ("yes", "no") and re.match(r"\s+(?!or\b|and\b)[a-z]", clause[m.end() :], re.I):
                    continue
                if free(m.start(), m.end()):
                    spans.append((m.start(), m.end(), i))
        pronouns = [p.span() for p in _PRONOUN_ONE.finditer(clause)]
        counted: list[int] = []
        for m in _COUNT.finditer(clause):
            if not free(m.start(), m.end()) or any(s <= m.start() < e for s, e in pronouns):
                continue
            value = _count_value(m)
            index = self.numbers.get(value)
            if index is None and self.more_than and value > self.more_than[0]:
                index = self.more_than[1]
            if index is not None:
                spans.append((m.start(), m.end(), index))
                counted.append(m.end())
        for end in counted:  # "two violins", "3 acoustic guitars": the count answers, the noun is what was counted
            nxt = re.match(r"(\s+)(?:[a-z]+\s+)?", clause[end:], re.I)
            if nxt:
                starts = {end + len(nxt.group(1)), end + nxt.end()}
                spans[:] = [s for s in spans if s[0] not in starts or s[2] in self.numbers.values()]
        return sorted((s, e, i) for s, e, i in spans if not _negated(clause, s, e))


def _clause_member(clause: str, members: _Members) -> int | None:
    """The member a clause names: one member (as often as it likes), the member after "is"
    when the subject names another ("the instrument on the left is a piano"), else AMBIGUOUS
    for several and None for none."""
    found = members.mentions(clause)
    named = {i for _, _, i in found}
    if len(named) <= 1:
        return named.pop() if named else None
    after_is = {i for s, _, i in found if re.search(r"\b(?:is|are|was|were)\s+(?:(?:a|an|the)\s+)?$", clause[:s], re.I)}
    return after_is.pop() if len(after_is) == 1 else AMBIGUOUS


ANSWER_LEAD = re.compile(
    r"(?i:\b(?:(?:the|my)\s+)?(?:final\s+|correct\s+)?answer\b(?:\s+(?:is|would\s+be|should\s+be))?\s*(?:[:=\-–—]|\bis\b)|"
    r"(?:正确)?答案(?:是|为)?\s*:?|r[ée]ponse\s*:|antwort\s*:|respuesta\s*:|ответ\s*:)"
)
CONCLUSION = re.compile(r"^\s*(?:so|therefore|thus|hence|in\s+total|overall|in\s+conclusion|that\s+makes|which\s+makes)\b", re.I)


def parse_member(text: str, answer_set: list[str]) -> str | None:
    """The member of a closed answer set that an open reply answers, or None (unparsed).

    In order: the ``answer`` of a JSON reply; the last answer statement ("The answer is: yes",
    "Answer: two (2)"); a reply that opens with "Yes"/"No"; the one member the reply names
    (in any form: digits or number words, plural, spaces for underscores, "more than ten" for
    12); else a conclusion ("…, so two") or the first clause ("There are two instruments: a
    piano and a violin"). A reply naming two different members, or none, is unparsed;
    negated members ("no guitar", "not the cello") are not named."""
    members = _Members([str(m) for m in answer_set])
    if not members.members:
        return None
    plain = plain_reply(text)

    def member(index: int | None) -> str | None:
        return None if index is None or index == AMBIGUOUS else members.members[index]

    answer = json_answer(plain)
    if answer is not None:
        return member(_clause_member(answer, members))
    statements = []
    for m in ANSWER_LEAD.finditer(plain):
        tail = re.split(r"\n|[.;!?,](?:\s|$)|\s\(", plain[m.end() :], maxsplit=1)[0]
        index = _clause_member(tail, members)
        if index is not None:
            statements.append(index)
    if statements:
        return member(statements[-1])
    # a first line that is just an answer ("two", "**Left.**") is the answer; what follows is talk
    head = next((line for line in plain.splitlines() if line.strip()), "")
    if head != plain.strip() and len(re.findall(r"\w+", head)) <= 3:
        index = _clause_member(head.strip(" *_#>`'\".!:-"), members)
        if index is not None and index != AMBIGUOUS:
            return member(index)
    # "Yes, …", "No it isn't", and a run-on "no Ignore the above…": the opening word answers
    opening = re.match(
        r"\s*(yes|no|yeah|yep|nope)\b(?=\s*(?:[,.!;:\-–—]|$)|\s+(?:it|there|they|this|that|he|she|I)\b|(?-i:\s+[A-Z]))", plain, re.I
    )
    if opening:
        index = next((i for f, i in members.forms if f == opening.group(1).lower()), None)
        if index is not None:
            return member(index)
    joined = re.sub(r"(?i)\b(so|therefore|thus|hence|overall|in total),\s*", r"\1 ", plain)
    clauses = [c for c in re.split(r"[.!?;\n](?:\s|$)|,\s*|\s+(?:but|while|whereas)\s+|(:)\s", joined) if c and c.strip()]
    readings = [_clause_member(c, members) for c in clauses]
    named = {r for r in readings if r is not None}
    if len(named) == 1:
        return member(named.pop())
    concluded = [r for c, r in zip(clauses, readings, strict=True) if r is not None and CONCLUSION.match(c)]
    if concluded:
        return member(concluded[-1])
    # "There are two instruments: a piano and a violin": the answer, then its detail
    first = next((n for n, r in enumerate(readings) if r is not None), None)
    return member(readings[first]) if first is not None and clauses[first + 1 : first + 2] == [":"] else None


def find_leaks(reasoning: dict[str, Any], choices: list[str] | None = None) -> list[dict[str, Any]]:
    """Steps whose own text gives the answer away: it contains the final answer, or the text of
    a choice (the answer belongs in the step's answer field and in the final answer)."""
    final = (reasoning.get("final_answer") or "").strip().rstrip(".!")
    needles: dict[str, str] = {}
    if choices:
        index = parse_choice(final, choices) if final else None
        for i, option in enumerate(choices):
            needles[option.strip()] = "final_answer" if i == index else "choice"
    if len(final) >= 3:
        needles.setdefault(final, "final_answer")
    leaks = []
    for n, step in enumerate(reasoning.get("steps") or [], start=1):
        text = str(step.get("step", ""))
        for needle, kind in needles.items():
            if needle and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", text, re.I):
                leaks.append({"step": n, "kind": kind, "text": needle})
    return leaks
