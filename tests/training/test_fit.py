"""Fitting the reader on made-up examples whose answer is known, split by article."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rag.answering.features import SENTENCE_FEATURES
from rag.training.examples import Example
from rag.training.fit import apply, crossval, figures, pick_threshold, train

DENSE = SENTENCE_FEATURES.index("dense")
COVER = SENTENCE_FEATURES.index("idf_coverage")


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
