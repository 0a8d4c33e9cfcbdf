"""Plain-text parsing for models without structured output: JSON in fences, "Score: 7/10",
numbered steps, number words; and an answer parser restricted to the valid choices."""

from __future__ import annotations

import math
import re
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


NUMBER = r"(-?\d+(?:\.\d+)?|zero|one|two|three|four|five|six|seven|eight|nine|ten)"
# "7/10", "7.5 / 10", "seven out of ten": a score written against its scale
EXPLICIT_SCORE = re.compile(rf"(?<![\w.]){NUMBER}\s*(?:/|\bout\s+of\b)\s*(?:10|ten)\b(?![.,]?\d)", re.I)
# "Score: 7", "score of 9", "rating is 6": the number after the word
KEYWORD_SCORE = re.compile(rf"\b(?:score|rating)\b\s*(?:is|of|=|:|would\s+be)?\s*\**\s*{NUMBER}\b", re.I)


def round_half_up(value: float) -> int:
    """6.5 -> 7 and 7.5 -> 8 (Python's ``round`` would give 6 and 8)."""
    return math.floor(value + 0.5)


def _number(token: str) -> float:
    return float(NUMBER_WORDS.get(token.lower(), token))


def parse_evaluation(text: str) -> Evaluation | None:
    """Score (as written, not clamped) and rationale from JSON, or from text: an explicit
    "N/10" or "N out of 10" wins over "score ... N" (an echoed rubric such as "a score of 10
    means ..." is not the verdict), and the last one written wins. Halves round up."""
    text = strip_think(text)
    data = extract_json(text)
    if data and "score" in data:
        value = data["score"]
        found = EXPLICIT_SCORE.search(value) or KEYWORD_SCORE.search(f"score {value}") if isinstance(value, str) else None
        try:
            number = _number(found.group(1)) if found else float(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: an integer too big for a float
            number = None
        if number is not None and math.isfinite(number):
            return Evaluation(score=round_half_up(number), rationale=str(data.get("rationale", "")).strip())
    for pattern in (EXPLICIT_SCORE, KEYWORD_SCORE):
        matches = list(pattern.finditer(text))
        if matches:
            last = matches[-1]
            number = _number(last.group(1))  # 400 digits are infinite as a float: no score can be read
            return Evaluation(score=round_half_up(number), rationale=_rationale(text, last)) if math.isfinite(number) else None
    return None


def _rationale(text: str, match: re.Match) -> str:
    rest = (text[: match.start()] + " " + text[match.end() :]).strip()
    rest = re.sub(r"^(?:/\s*10|out of 10)[\s.:,-]*", "", rest, flags=re.I)
    rest = re.sub(r"(?i)^\W*(rationale|reason)\s*:\s*", "", rest)
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


# "not C", "isn't C", "rule out C", "other than C": a mention that is no vote
NEGATED_BEFORE = re.compile(
    r"(?:\bnot|n['’]t|\bnor|\bneither|\bexcept|\bexclud(?:e|es|ing)|\beliminat(?:e|es|ing)|\brul(?:e|es|ing)\s+out|"
    r"\brather\s+than|\binstead\s+of|\bother\s+than)\s+(?:the\s+)?(?:(?:option|choice|answer)\s+)?\(?$",
    re.I,
)
# "C is wrong", "Option A (red) is incorrect"
NEGATED_AFTER = re.compile(
    r"^\)?(?:\s*\([^)]*\))?\s*(?:is|are|seems|looks|was)\s+(?:not\b|wrong|incorrect|unlikely|false|ruled\s+out|eliminated)", re.I
)


def _negated(text: str, start: int, end: int) -> bool:
    return bool(NEGATED_BEFORE.search(text[max(0, start - 40) : start]) or NEGATED_AFTER.match(text[end : end + 80]))


def _is_word(text: str, match: re.Match, group: str = "l") -> bool:
    """A bare "A" or "I" followed by a word is the article or the pronoun ("A blue screen",
    "I think it's C"), not option A or I; bracketed ("A)", "(I)") it is a letter."""
    letter, end = match.group(group), match.end(group)
    bracketed = end < len(text) and text[end] == ")"
    return letter in "AaIi" and not bracketed and re.match(r"\s+[A-Za-z]", text[end:]) is not None


def _option_spans(text: str, choices: list[str]) -> list[tuple[int, int, int]]:
    """(start, end, index) of each option text named in ``text``, longest options first so that
    "dark red" is not also read as "red"."""
    spans: list[tuple[int, int, int]] = []
    for i in sorted(range(len(choices)), key=lambda i: -len(choices[i].strip())):
        option = choices[i].strip()
        if not option:
            continue
        for m in re.finditer(rf"(?<!\w){re.escape(option)}(?!\w)", text, re.I):
            if not any(m.start() < e and s < m.end() for s, e, _ in spans):
                spans.append((m.start(), m.end(), i))
    return spans


def _named_option(text: str, choices: list[str]) -> int | None:
    """The option whose text is named, when exactly one is (negated mentions do not count)."""
    named = {i for s, e, i in _option_spans(text, choices) if not _negated(text, s, e)}
    return named.pop() if len(named) == 1 else None


def _drop_echoes(text: str, choices: list[str], letters: str) -> str:
    """Remove what repeats the prompt rather than answers it: letter lists ("(A, B, C or D)",
    "A/B", "A-D") and runs of two or more choice lines ("(A) red (B) blue …")."""

    def letter_list(m: re.Match) -> str:
        found = re.findall(rf"[{letters}]", m.group(0))
        joined = re.search(r"\bor\b|\band\b|/|\||[-–]", m.group(0)) or m.group(0).startswith("(")
        return " " if len(found) >= 3 or joined else m.group(0)

    sep = r"(?:\s*[,/|]\s*(?:or\s+|and\s+)?|\s+(?:or|and)\s+|\s*[-–]\s*)"
    text = re.sub(rf"\(?(?<![A-Za-z])[{letters}](?:{sep}[{letters}])+(?![A-Za-z'’])\)?", letter_list, text)
    pairs = []
    for i, option in enumerate(choices):
        pattern = rf"(?<![A-Za-z])\(?{letters[i]}\)?\s*[.):\-]?\s*(?i:{re.escape(option.strip())})(?!\w)"
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


def _tail_choice(tail: str, choices: list[str], letters: str) -> int | None:
    """What a statement's tail ("C", "(C) green", "green.", "a green screen") names."""
    # the letter class holds both cases: case-insensitive matching would also take the Kelvin sign for K
    m = re.match(rf"\s*(?:(?i:option|choice)\s+)?\(?(?P<l>[{letters}{letters.lower()}])\)?(?![A-Za-z0-9])", tail)
    if m and not _is_word(tail, m):
        return letters.index(m.group("l").upper())
    first = re.split(r"[.;!?](?:\s|$)", tail, maxsplit=1)[0]
    return _named_option(first, choices)


def _statements(text: str, choices: list[str], letters: str) -> list[tuple[int, int]]:
    """(position, index) of every explicit final-answer statement that names one option."""
    found: list[tuple[int, int]] = []
    tails = [
        r"\b(?:final\s+|correct\s+|right\s+|best\s+)?answer\b(?:\s+(?:is|would\s+be|should\s+be|must\s+be|will\s+be))?\s*[:=\-]?",
        r"\b(?:correct|right|best|final)\s+(?:option|choice)\s+(?:is|would\s+be)\s*[:\-]?",
        r"\bmy\s+(?:choice|pick|option)\s+(?:is|would\s+be)?\s*[:\-]?",
        r"\bI\s*(?:['’]ll|['’]d|\s+will|\s+would)?\s+(?:choose|pick|select|go\s+with|go\s+for)\b",
    ]
    for lead in tails:
        for m in re.finditer(rf"{lead}(?=(?P<tail>[^\n]*))", text, re.I):  # tails may hold later statements
            index = _tail_choice(m.group("tail"), choices, letters)  # "answer is not C" names nothing
            if index is not None:
                found.append((m.start(), index))
    correct = rf"(?<![A-Za-z'’])(?:(?i:option|choice)\s+)?\(?(?P<l>[{letters}])\)?(?:\s*\([^)]*\))?\s+(?i:is|seems)\s+(?i:the\s+)?(?i:correct|right|best)\b"
    found += [(m.start(), letters.index(m.group("l"))) for m in re.finditer(correct, text)]
    lines = [(m.start(), m.group(0)) for m in re.finditer(r"[^\n]*\S[^\n]*", text)]
    if lines:
        start, line = lines[-1]
        m = re.fullmatch(
            rf"\s*(?:(?i:option|choice)\s+)?\(?(?P<l>[{letters}{letters.lower()}])\)?\s*(?:[.):\-]\s*(?P<rest>.*?))?[\s.]*", line
        )
        if m:
            index = letters.index(m.group("l").upper())
            rest = (m.group("rest") or "").strip(" .")
            if not rest or rest.lower().startswith(choices[index].strip().lower()):
                found.append((start, index))
    return found


def _votes(text: str, letters: str) -> set[int]:
    """Options mentioned by letter ("option C", "(C)", "C)", a bare capital C), not negated."""
    patterns = [
        rf"\b(?i:option|choice)\s+\(?(?P<l>[{letters}{letters.lower()}])\)?(?![A-Za-z])",
        rf"\((?P<l>[{letters}])\)",
        rf"(?m:^)\s*(?P<l>[{letters}])[.):](?=\s|$)",
        rf"(?<![A-Za-z0-9'’\-])(?P<l>[{letters}])(?![A-Za-z0-9'’\-])",
    ]
    votes = set()
    for pattern in patterns:
        for m in re.finditer(pattern, text):
            if not _is_word(text, m) and not _negated(text, m.start("l"), m.end("l")):
                votes.add(letters.index(m.group("l").upper()))
    return votes


def parse_choice(text: str, choices: list[str]) -> int | None:
    """Index of the chosen option, or None (unparsed, never a default letter).

    In order: the last explicit final-answer statement ("the answer is C", "Answer: (C)",
    "Option C is correct", a lone letter on the last line) wins; else the letters mentioned,
    when they all name one option; else the option text, when exactly one option is named.
    ``<think>`` blocks, echoed letter lists and echoed choice lists are ignored first, a
    sentence-initial "A" or "I" is a word, and "not C" is no vote for C."""
    if not choices:
        return None
    letters = choice_letters(len(choices))
    plain = re.sub(r"\\boxed\{([^{}]*)\}", r"\1", strip_think(text))  # LaTeX \boxed{C}
    cleaned = _drop_echoes(re.sub(r"[*_`#]", "", plain), choices, letters)
    statements = _statements(cleaned, choices, letters)
    if statements:
        return max(statements)[1]
    votes = _votes(cleaned, letters)
    if votes:
        return votes.pop() if len(votes) == 1 else None
    return _named_option(cleaned, choices)


def read_answer(text: str, choices: list[str] | None) -> tuple[str | None, str | None]:
    """(answer, letter): for multiple choice only a valid option counts, never a default; an
    open answer is the whole reply (without its thinking), not its first line."""
    if not choices:
        return strip_think(text) or None, None
    index = parse_choice(text, choices)
    if index is None:
        return None, None
    return choices[index], choice_letters(len(choices))[index]


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
