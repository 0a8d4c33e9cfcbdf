"""Plain-text parsing for models without structured output: JSON in fences, "Score: 7/10",
numbered steps, number words; and an answer parser restricted to the valid choices."""

from __future__ import annotations

import re

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


def parse_evaluation(text: str) -> Evaluation | None:
    """Score (unclamped) and rationale from JSON, "Score: 7/10", "7 out of 10", or number words."""
    data = extract_json(text)
    if data and "score" in data:
        try:
            return Evaluation(score=round(float(data["score"])), rationale=str(data.get("rationale", "")).strip())
        except (TypeError, ValueError):
            pass
    patterns = [
        r"score\s*(?:is|of|=|:)?\s*\**\s*(-?\d+(?:\.\d+)?)",
        r"(-?\d+(?:\.\d+)?)\s*(?:/|out of)\s*10\b",
        r"\brat(?:e|ing)\s*(?:is|of|=|:)?\s*(-?\d+(?:\.\d+)?)",
    ]
    for pattern in patterns:
        m = re.search(pattern, text, re.I)
        if m:
            return Evaluation(score=round(float(m.group(1))), rationale=_rationale(text, m))
    words = "|".join(NUMBER_WORDS)
    m = re.search(rf"\b(?:score\s*(?:is|of|:)?\s*)({words})\b|\b({words})\s*(?:/|out of)\s*(?:10|ten)\b", text, re.I)
    if m:
        return Evaluation(score=NUMBER_WORDS[(m.group(1) or m.group(2)).lower()], rationale=_rationale(text, m))
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
            return Reasoning(steps=steps[:MAX_STEPS], final_answer=str(data.get("final_answer", data.get("answer", ""))))
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


def _is_article(text: str, match: re.Match) -> bool:
    """'A blue screen…': an unbracketed "A" followed by a word is the article, not option A."""
    letter_end = match.end(1)
    bracketed = letter_end < len(text) and text[letter_end] == ")"
    return match.group(1) in "Aa" and not bracketed and re.match(r"\s+[a-z]", text[letter_end:]) is not None


def parse_choice(text: str, choices: list[str]) -> int | None:
    """Index of the chosen option, or None: only valid letters/option texts count, never a default."""
    if not choices:
        return None
    letters = choice_letters(len(choices))
    lower = letters.lower()
    cleaned = re.sub(r"[*_`]", "", text).strip()
    patterns = [
        rf"(?i:answer|option|choice)\s*(?i:is|:)?\s*\(?([{letters}])\)?(?![A-Za-z])",
        rf"(?i:answer|option|choice)\s*(?i:is|:)?\s*\(?([{lower}])\)?\s*(?:[.)]|$)",
        rf"^\(?([{letters}])\)?(?:[.):\s]|$)",
        rf"\(([{letters}])\)",
    ]
    for pattern in patterns:
        for m in re.finditer(pattern, cleaned, re.M):
            if _is_article(cleaned, m):
                continue
            return letters.index(m.group(1).upper())
    lowered = cleaned.lower()
    hits = [i for i, c in enumerate(choices) if c.strip() and re.search(rf"\b{re.escape(c.strip().lower())}\b", lowered)]
    return hits[0] if len(hits) == 1 else None


def read_answer(text: str, choices: list[str] | None) -> tuple[str | None, str | None]:
    """(answer, letter): for multiple choice only a valid option counts; never a default."""
    if not choices:
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        return (first or None), None
    index = parse_choice(text, choices)
    if index is None:
        return None, None
    return choices[index], choice_letters(len(choices))[index]
