"""Fitting the reader on made-up examples whose answer is known, split by article."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rag.answering.features import SENTENCE_FEATURES
from rag.training.examples import Example
from rag.training.fit import (
    apply,
    calibration_error,
    cheap_figures,
    cheap_scores,
    crossval,
    figures,
    pick_threshold,
    train,
)

DENSE = SENTENCE_FEATURES.index("dense")
COVER = SENTENCE_FEATURES.index("idf_coverage")
GAP = SENTENCE_FEATURES.index("cheap_gap")


def made_up(n_articles=4, per_article=40, seed=0) -> list[Example]:
    """Answerable questions have one candidate with high dense and coverage that holds the
    answer; unanswerable ones have none that stands out."""
    rng = np.random.default_rng(seed)
    out = []
    for a in range(n_articles):
        for i in range(per_article):
            answerable = i % 2 == 0
            x = rng.normal(0, 0.3, size=(6, len(SENTENCE_FEATURES)))
            hits = np.zeros(6, dtype=bool)
            if answerable:
                j = int(rng.integers(6))
                x[j, DENSE] += 2.0
                x[j, COVER] += 2.0
                hits[j] = True
            out.append(Example(f"{a}-{i}", "Who leads the alliance?", f"article{a}", answerable,
                               x, hits, (12,) * 6))
    return out


def test_the_reader_learns_which_sentence_answers_and_when_none_does():
    examples = made_up()
    model = train(examples, {"article0", "article1", "article2"}, false_refusals=0.1)
    f = figures(apply(model, [e for e in examples if e.article == "article3"]))
    assert f["first_quote_hit"] >= 0.95
    assert f["auc"] >= 0.9
    assert f["refusal_recall"] >= 0.8 and f["false_refusals"] <= 0.2


def test_crossval_scores_every_question_once():
    examples = made_up()
    f = crossval(examples, [["article0"], ["article1"], ["article2"], ["article3"]],
                 false_refusals=0.1)
    assert f["questions"] == len(examples)
    assert f["overall"] >= 0.85


@given(st.lists(st.floats(0, 1), min_size=1, max_size=200), st.floats(0, 0.5))
def test_the_threshold_refuses_at_most_the_allowed_share(conf, rate):
    conf = np.array(conf)
    t = pick_threshold(conf, rate)
    assert (conf < t).mean() <= rate + 1e-9


def test_cheap_scores_are_the_best_ones_plus_each_gap():
    x = np.zeros((3, len(SENTENCE_FEATURES)))
    x[0, DENSE], x[0, SENTENCE_FEATURES.index("coverage")] = 0.6, 0.4
    x[0, SENTENCE_FEATURES.index("typed")] = 1.0
    x[:, GAP] = [0.0, -0.1, -0.5]
    e = Example("q", "Who?", "a", True, x, np.zeros(3, dtype=bool), (9, 9, 9))
    assert np.allclose(cheap_scores(e), [0.95, 0.85, 0.45])  # 0.6 + 0.5 x 0.4 + 0.15


def cheap_made_up(seed=0) -> list[Example]:
    """In the cheap score's order: an answerable question's first candidate holds the answer
    and stands far above the rest; an unanswerable one's candidates are all alike."""
    out = []
    for e in made_up(seed=seed):
        x, hits = e.x.copy(), np.zeros(len(e.hits), dtype=bool)
        x[:, GAP] = np.linspace(0, -0.05, len(x))
        if e.answerable:
            x[0, DENSE] += 2.0
            x[1:, GAP] -= 1.0
            hits[0] = True
        out.append(Example(e.id, e.question, e.article, e.answerable, x, hits, e.words))
    return out


def test_the_cheap_confidence_separates_on_unseen_articles():
    examples = cheap_made_up()
    model = train(examples, {"article0", "article1", "article2"}, false_refusals=0.1)
    f = cheap_figures(model, [e for e in examples if e.article == "article3"])
    assert f["questions"] == 40 and f["auc"] >= 0.9 and f["ece"] < 0.2


def test_the_calibration_error_of_known_cases():
    right = np.array([True, False] * 50)
    assert calibration_error(np.full(100, 0.5), right) == 0.0
    assert calibration_error(np.full(100, 0.9), np.zeros(100, dtype=bool)) == 0.9
    assert calibration_error(np.array([]), np.array([], dtype=bool)) is None


@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=100))
def test_the_calibration_error_is_a_share(pairs):
    conf, right = (np.array(v) for v in zip(*pairs))
    assert 0.0 <= calibration_error(conf, right) <= 1.0
