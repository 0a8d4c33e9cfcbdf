"""Reading what models write, as tables: evaluator scores, multiple-choice answers, open
answers, leaks of the answer into the steps; and the text the target is sent."""

from __future__ import annotations

import pytest

from aurelia.parsing import find_leaks, parse_choice, parse_evaluation, read_answer, round_half_up, strip_think
from aurelia.prompts import PROMPT_SETS, prompt_set_fingerprint, render
from aurelia.prompts.format import target_prompt

COLOURS = ["red", "blue", "green", "black"]
NINE = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


# ----------------------------------------------------------------------------- scores
@pytest.mark.parametrize(
    ("text", "score"),
    [
        # an echoed rubric does not read as the verdict: the explicit N/10 wins
        ("A score of 10 means every claim matches; this caption deserves 4/10.", 4),
        ("Rubric: 1 = contradicts, 10 = matches. Score: 3", 3),
        # the last explicit score wins
        ("At first glance 7/10, but the audio is wrong, so 5 out of 10.", 5),
        ("score: 8. (1/10 would mean nothing matches.) Final: 6/10", 6),
        # halves round half up, on every path
        ("Score: 6.5/10", 7),
        ("7.5 out of 10", 8),
        ('{"score": 6.5, "rationale": "half right"}', 7),
        ('{"score": "7/10", "rationale": "as text"}', 7),
        # number words
        ("six out of ten", 6),
        # the number as written, never clamped: the node re-asks
        ("Score: 85", 85),
        ('{"score": 0, "rationale": "nothing matches"}', 0),
        ("<think>maybe 9/10?</think>Score: 2/10, it invents a dog.", 2),
    ],
)
def test_scores_read_as_written(text, score):
    ev = parse_evaluation(text)
    assert ev is not None and ev.score == score


@pytest.mark.parametrize(("value", "rounded"), [(6.5, 7), (7.5, 8), (6.49, 6), (0.5, 1), (10.0, 10)])
def test_round_half_up(value, rounded):
    assert round_half_up(value) == rounded


# ----------------------------------------------------------------------------- choices
@pytest.mark.parametrize(
    ("text", "choices", "letter"),
    [
        # the last explicit final-answer statement wins over earlier mentions
        ("Option A (red) is wrong … Option C is correct. Answer: C", COLOURS, "C"),
        ("The answer is A. On reflection the screen was green, so the answer is C.", COLOURS, "C"),
        ("Answer: B", COLOURS, "B"),
        ("answer is d", COLOURS, "D"),
        ("The correct answer is (C) green.", COLOURS, "C"),
        ("The correct option is B.", COLOURS, "B"),
        ("C is the correct answer.", COLOURS, "C"),
        ("I'd go with B.", COLOURS, "B"),
        ("Answer: C\n\nExplanation: A is wrong because the screen turns green.", COLOURS, "C"),
        ("Final Answer: \\boxed{C}", COLOURS, "C"),
        # a lone letter on the last line
        ("The screen turns green when the tone stops.\nC", COLOURS, "C"),
        ("(C) green", COLOURS, "C"),
        ("B", COLOURS, "B"),
        ("**B**", COLOURS, "B"),
        ("A) red", COLOURS, "A"),
        ("A. red", COLOURS, "A"),
        # letters inside an echoed instruction or choice list do not count
        ("Answer with the letter (A, B, C or D). The answer is B", COLOURS, "B"),
        ("Choices: (A) red (B) blue (C) green (D) black. Answer: (C) green", COLOURS, "C"),
        ("A. red\nB. blue\nC. green\nD. black\nC", COLOURS, "C"),
        ("Answer with the letter of the correct choice only. B", COLOURS, "B"),
        # a sentence-initial "I" or "A" is a word (9+ choices: I is an option)
        ("I think it's C", NINE, "C"),
        ("Answer: I", NINE, "I"),
        ("A blue screen is shown.", COLOURS, "B"),
        ("Answer: A blue screen", COLOURS, "B"),
        ("The answer is a green screen", COLOURS, "C"),
        # "not X" is not a vote for X
        ("It's not A, it's B", COLOURS, "B"),
        ("Red is wrong, green is right.", COLOURS, "C"),
        # <think> is stripped
        ("<think>The answer is A.</think> The answer is B", COLOURS, "B"),
        ("<think>A or C? The tone stops at 6 s.</think>\nC", COLOURS, "C"),
        # option text, when exactly one option is named
        ("It is green.", COLOURS, "C"),
        ("The screen is dark red at the end.", ["red", "dark red", "blue"], "B"),
        ("Based on the frames, (B) blue.", COLOURS, "B"),
        # verbose replies of real targets
        ("The screen is red, then blue, then green while it is silent. Therefore, the answer is (C) green.", COLOURS, "C"),
        ("The colour during the silence is green, which corresponds to option C.", COLOURS, "C"),
        ("A: red, B: blue, C: green, D: black. The correct one is C.", COLOURS, "C"),
        ("Neither A nor B; it's D.", COLOURS, "D"),
        ("The answer is C, not A.", COLOURS, "C"),
    ],
)
def test_choice_reading(text, choices, letter):
    index = parse_choice(text, choices)
    assert index is not None and "ABCDEFGHI"[index] == letter


@pytest.mark.parametrize(
    ("text", "choices"),
    [
        # an echoed instruction alone names no answer (it read A before)
        ("Answer with the letter (A, B, C or D): I cannot tell from the audio.", COLOURS),
        ("Please choose A, B, C or D.", COLOURS),
        # several different letters without a final statement
        ("Maybe A, maybe C.", COLOURS),
        ("A or B", COLOURS),
        ("(A) or (C), hard to say", COLOURS),
        # "not X" is no vote, and nothing else is named
        ("The answer is not A.", COLOURS),
        # a thinking block that never closed gives no answer
        ("<think>The answer is B because", COLOURS),
        # several options named by text
        ("red or blue", COLOURS),
        ("A red or blue screen", COLOURS),
        ("Answer: A red or blue screen", COLOURS),
        # letters that are not options, words, nothing
        ("E", COLOURS),
        ("Answer: Z", COLOURS),
        ("I am not sure", COLOURS),
        ("I cannot tell.", NINE),
        ("", COLOURS),
    ],
)
def test_choice_reading_leaves_unparsed_never_a_default(text, choices):
    assert parse_choice(text, choices) is None


def test_read_answer_open_is_the_whole_reply():
    reply = "<think>hm</think>\nThe screen turns green.\nAt the same moment the tone stops."
    assert read_answer(reply, None) == ("The screen turns green.\nAt the same moment the tone stops.", None)
    assert read_answer("   ", None) == (None, None)
    assert read_answer("Answer: C", COLOURS) == ("green", "C")


def test_strip_think_forms():
    assert strip_think("<think>x</think>answer") == "answer"
    assert strip_think("reasoning the template opened</think> answer") == "answer"
    assert strip_think("<think>never closed") == ""


# ----------------------------------------------------------------------------- leaks
def test_leaks_are_steps_that_state_the_answer_or_a_choice():
    reasoning = {
        "steps": [
            {"step": "Look at the screen after 6 s", "answer": "it is green"},
            {"step": "The screen is green while it is silent", "answer": "yes"},
            {"step": "Check whether it could be blue instead", "answer": "no"},
        ],
        "final_answer": "C",
    }
    leaks = find_leaks(reasoning, COLOURS)
    assert leaks == [{"step": 2, "kind": "final_answer", "text": "green"}, {"step": 3, "kind": "choice", "text": "blue"}]
    open_question = {"steps": [{"step": "The instrument is a sitar from India", "answer": ""}], "final_answer": "a sitar"}
    assert find_leaks(open_question) == [{"step": 1, "kind": "final_answer", "text": "a sitar"}]
    assert find_leaks({"steps": [{"step": "Listen to the end", "answer": "silence"}], "final_answer": "silence"}) == []


# ----------------------------------------------------------------------------- prompts
def test_answer_instruction_depends_on_the_answer_kind():
    star = {"steps": [{"step": "Look at the end", "answer": "green"}], "final_answer": "green"}
    texts = {kind: target_prompt("What happens?", None, star, "steps", answer_kind=kind).user for kind in ("short", "sentence", "caption")}
    assert "a word or a short phrase" in texts["short"]
    assert "one complete sentence" in texts["sentence"]
    assert "paragraph" in texts["caption"]
    assert "letter of the correct choice (A, B, C, D)" in target_prompt("Which?", COLOURS, star, "steps").user


@pytest.mark.parametrize("position", ["after_choices", "before_question"])
def test_injection_position(position):
    star = {"steps": [{"step": "Look at the end", "answer": "green"}], "final_answer": "green"}
    user = target_prompt("Which colour?", COLOURS, star, "steps", position=position).user
    order = [user.index(part) for part in ("Reasoning steps", "Question:", "(D) black", "Answer with")]
    if position == "before_question":
        assert order == sorted(order)
    else:
        assert order[1] < order[2] < order[0] < order[3]


def test_prompt_sets_render_and_differ():
    values = {
        "question": "Which colour?",
        "choices": "",
        "feedback": "",
        "caption": "A green screen.",
        "reasoning": "1. look",
        "steps": "1. look",
        "step_answers": "1. green",
        "final_answer": "green",
        "score": 4,
        "comment": "",
    }
    for name in ("generator", "summarizer", "evaluator", "feedback"):
        ours, paper = (render(name, prompt_set=s, **values) for s in ("aurelia", "paper"))
        assert ours != paper
    assert '"rationale"' in render("evaluator", **values).system
    paper_eval = render("evaluator", prompt_set="paper", **values)
    assert paper_eval.system == "" and '{"score"' in paper_eval.user and "rationale" not in paper_eval.user
    assert render("target", prompt_set="paper", **values, facts="", reasoning_before="", reasoning_after="", instruction="x") == render(
        "target", **values, facts="", reasoning_before="", reasoning_after="", instruction="x"
    )  # a set without its own file uses the default one
    assert len({prompt_set_fingerprint(s) for s in PROMPT_SETS}) == len(PROMPT_SETS)
