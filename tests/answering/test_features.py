"""The reader's features: known answers on hand-made candidates, and their shape."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.answering.features import (
    QUESTION_FEATURES,
    SENTENCE_FEATURES,
    index_idf,
    question_features,
    sentence_features,
    uniform_idf,
)


@dataclass(frozen=True)
class P:
    text: str
    title: str = "Alliance news"
    rank: int = 1


@dataclass(frozen=True)
class C:
    text: str
    passage: P
    dense: float = 0.5
    score: float = 0.5
    focus: tuple[int, int] | None = None


def col(x, name):
    return x[:, SENTENCE_FEATURES.index(name)]


def rare_idf(terms):
    """'rutt' (Rutte, stemmed) is rare; every other word is common."""
    return [5.0 if t.startswith("rutt") else 1.0 for t in terms]


Q = "Who will succeed Stoltenberg as head of NATO, Mark Rutte?"


def test_a_sentence_with_every_word_covers_all_and_misses_nothing():
    s = "Mark Rutte will succeed Stoltenberg as head of NATO."
    x = sentence_features(Q, [C(s, P(s))], rare_idf)
    assert x.shape == (1, len(SENTENCE_FEATURES))
    assert col(x, "idf_coverage")[0] == 1.0
    assert col(x, "missing_rarest")[0] == 0.0
    assert col(x, "names")[0] == 1.0


def test_the_rarest_missing_word_weighs_most():
    without_rare = "Stoltenberg will hand over as head of NATO."
    without_common = "Mark Rutte takes over from Stoltenberg."
    x = sentence_features(Q, [C(without_rare, P(without_rare)), C(without_common, P(without_common))],
                          rare_idf)
    assert col(x, "missing_rarest")[0] == 1.0  # Rutte, the rarest word, is missing
    assert col(x, "missing_rarest")[1] < 1.0
    assert col(x, "idf_coverage")[1] > col(x, "idf_coverage")[0]


def test_a_word_in_the_passage_or_title_counts_as_context_not_as_the_sentence():
    s = "He will take over in October."
    x = sentence_features(Q, [C(s, P("Mark Rutte will succeed Stoltenberg. " + s))], rare_idf)
    assert col(x, "idf_coverage")[0] == 0.0
    assert col(x, "context_coverage")[0] > 0.5


def test_negation_on_one_side_only_is_flagged():
    x = sentence_features("Which country did not join NATO?",
                          [C("Sweden joined NATO.", P("Sweden joined NATO.")),
                           C("Austria did not join NATO.", P("Austria did not join NATO."))],
                          uniform_idf)
    assert col(x, "negation_mismatch").tolist() == [1.0, 0.0]


@given(st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=6), st.text(max_size=60))
def test_features_are_finite_and_gaps_never_positive(texts, question):
    x = sentence_features(question, [C(t, P(t), dense=0.1 * i) for i, t in enumerate(texts)],
                          uniform_idf)
    assert np.isfinite(x).all()
    assert (col(x, "dense_gap") <= 0).all() and (col(x, "idf_gap") <= 0).all()
    q = question_features(x, np.arange(len(texts), dtype=float), question)
    assert q.shape == (len(QUESTION_FEATURES),) and np.isfinite(q).all()


def test_no_candidate_gives_the_weakest_question_row():
    q = question_features(np.zeros((0, len(SENTENCE_FEATURES))), np.zeros(0), "Who leads NATO?")
    assert q[QUESTION_FEATURES.index("best_logit")] == -10.0


def test_index_idf_weighs_rare_terms_more_and_falls_back_to_even_weights():
    counts = {"nato": 90, "rutte": 1}
    idf = index_idf(100, lambda terms: [counts.get(t, 0) for t in terms])
    common, rare, unknown = idf(["nato", "rutte", "zzz"])
    assert 0 < common < rare < unknown
    assert rare == pytest.approx(math.log(1 + 99.5 / 1.5))
    assert index_idf(100, lambda terms: None)(["nato", "rutte"]) == [1.0, 1.0]
