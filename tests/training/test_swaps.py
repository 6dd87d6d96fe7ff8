"""Swapped-question negatives (rag.training.swaps): known answers on small paragraphs."""

from __future__ import annotations

import random

from rag.training.pairs import reading_pairs
from rag.training.squad import Paragraph, Question
from rag.training.swaps import changed_question, swapped_pairs

NO_POOLS = {"name": [], "number": [], "word": []}


def test_a_name_the_sentence_holds_is_swapped_for_one_it_lacks():
    pools = {**NO_POOLS, "name": ["Austria", "Paris", "Prussia"]}
    changed = changed_question("Which city fell to Prussia?", "Paris fell to Prussia in 1871.",
                               pools, random.Random(0))
    assert changed == "Which city fell to Austria?"


def test_a_year_is_swapped_for_another_year_of_the_article():
    pools = {**NO_POOLS, "number": ["1871", "1914"]}
    changed = changed_question("Which city fell in 1871?", "Paris fell in 1871.", pools,
                               random.Random(0))
    assert changed == "Which city fell in 1914?"


def test_nothing_to_swap_for_gives_none():
    pools = {**NO_POOLS, "name": ["Paris", "Prussia"]}  # only what the sentence holds
    assert changed_question("Which city fell to Prussia?", "Paris fell to Prussia.", pools,
                            random.Random(0)) is None
    assert changed_question("Which city fell?", "Paris fell.", NO_POOLS, random.Random(0)) is None


def test_an_auxiliary_gets_a_negation():
    assert changed_question("What did they build?", "They built a bridge.", NO_POOLS,
                            random.Random(0)) == "What did not they build?"


def test_swapped_pairs_are_negatives_of_the_answer_sentence_in_the_question_group():
    context = ("The Normans settled in Normandy in the 10th century. Their leader was Rollo. "
               "They spoke Norman French and built many castles in England.")
    question = Question("Where did the Normans settle in the 10th century?",
                        (("Normandy", context.index("Normandy")),))
    paragraphs = [Paragraph("Normans", context, (question,))]
    swapped = swapped_pairs(paragraphs, seed=3)
    assert len(swapped) == 1
    pair = swapped[0]
    assert pair.y == 0 and pair.kind == "swapped" and pair.question != question.question
    assert pair.sentence == "The Normans settled in Normandy in the 10th century."
    assert pair.group == reading_pairs(paragraphs)[0].group
