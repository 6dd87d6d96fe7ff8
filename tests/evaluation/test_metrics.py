"""The pure metric functions: textbook known answers, edge strings, no mutation of inputs."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.evaluation.evaluate import GATE, check
from rag.evaluation.metrics import (
    contains_answer,
    doc_run,
    normalize_answer,
    percentile,
    refusal_metrics,
    retrieval_metrics,
    retrieval_per_query,
    sweep,
    token_f1,
)


@pytest.mark.parametrize("raw, want", [
    ("", ""),
    ("a", "a"),
    ("Mark RUTTE", "mark rutte"),
    ("Oct.\u00a01", "oct 1"),                       # no-break space
    ("\uff11\uff12 ships", "12 ships"),             # full-width digits (NFKC)
    ("\ufb01nal", "final"),                         # ligature (NFKC)
    ("“isolationism”,", "isolationism"),            # curly quotes and a comma
    ("Agence France-Presse (AFP)", "agence france presse afp"),
    ("$2.5 billion", "2 5 billion"),
    ("NATO 🛡 allies", "nato allies"),
])
def test_normalize_answer(raw, want):
    assert normalize_answer(raw) == want


@pytest.mark.parametrize("text, answers, want", [
    ("Mark Rutte takes over. [1]", ["Rutte"], True),
    ("former Dutch Prime Minister Mark Rutte", ["dutch prime minister"], True),
    ("on Oct.\u00a01 after a decade", ["Oct. 1"], True),
    ("on October 10", ["October 1"], False),         # whole words only
    ("Ruttes", ["Rutte"], False),
    ("anything", [], False),
    ("anything", [""], False),                       # an empty answer matches nothing
    ("", ["Rutte"], False),
])
def test_contains_answer(text, answers, want):
    assert contains_answer(text, answers) is want


def test_token_f1_known_answers():
    assert token_f1("Mark Rutte", ["Mark Rutte"]) == 1.0
    assert token_f1("nothing shared", ["Mark Rutte"]) == 0.0
    assert token_f1("", ["Mark Rutte"]) == 0.0
    # 3 common tokens: precision 3/4, recall 3/3 -> F1 6/7
    assert token_f1("former Dutch Prime Minister", ["Dutch Prime Minister"]) == pytest.approx(6 / 7)
    # the best of several acceptable answers counts
    assert token_f1("AFP", ["Agence France-Presse", "AFP"]) == 1.0


@given(st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=40),
       st.sampled_from([0, 5, 50, 95, 100]))
def test_percentile_matches_numpy(values, q):
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_of_nothing_is_none():
    assert percentile([], 50) is None


def test_doc_run_keeps_each_document_at_its_best_rank():
    assert list(doc_run(["b", "a", "b", "c", "a"])) == ["b", "a", "c"]
    assert doc_run([]) == {}


def test_retrieval_metrics_textbook_values():
    qrels = {"q1": {"d2": 1}, "q2": {"d1": 1, "d3": 1}}
    run = {"q1": {"d1": 1.0, "d2": 0.5, "d3": 0.3}, "q2": {"d1": 1.0, "d2": 0.5, "d3": 0.3}}
    before = copy.deepcopy((qrels, run))
    per_query = retrieval_per_query(qrels, run)
    assert (qrels, run) == before  # inputs untouched
    assert per_query["hit@1"] == {"q1": 0.0, "q2": 1.0}
    assert per_query["hit@3"] == {"q1": 1.0, "q2": 1.0}
    assert per_query["mrr@10"] == {"q1": 0.5, "q2": 1.0}
    assert per_query["recall@5"] == {"q1": 1.0, "q2": 1.0}
    assert per_query["ndcg@10"]["q1"] == pytest.approx(1 / math.log2(3))
    ideal = 1 + 1 / math.log2(3)
    assert per_query["ndcg@10"]["q2"] == pytest.approx((1 + 1 / math.log2(4)) / ideal)
    means = retrieval_metrics(qrels, run)
    assert means["mrr@10"] == pytest.approx(0.75)
    assert means["hit@1"] == pytest.approx(0.5)


def test_a_query_without_results_scores_zero():
    per_query = retrieval_per_query({"q1": {"d1": 1}, "q2": {"d2": 1}}, {"q1": {"d1": 1.0}},
                                    ["hit@1", "ndcg@10"])
    assert per_query == {"hit@1": {"q1": 1.0, "q2": 0.0}, "ndcg@10": {"q1": 1.0, "q2": 0.0}}


def test_unknown_retrieval_metric_lists_the_allowed_ones():
    with pytest.raises(ValueError, match="allowed: .*ndcg@10"):
        retrieval_per_query({"q": {"d": 1}}, {"q": {"d": 1.0}}, ["precision@3"])


def test_refusal_metrics():
    # refused: u1 (right), a1 (wrong); answered: u2 (wrong), a2 (right)
    m = refusal_metrics([True, True, False, False], [False, True, False, True])
    assert m == {"refusal_precision": 0.5, "refusal_recall": 0.5, "false_refusal_rate": 0.5}
    never = refusal_metrics([False, False], [True, False])
    assert never["refusal_precision"] is None and never["refusal_recall"] == 0.0
    assert refusal_metrics([False], [True])["refusal_recall"] is None  # nothing to refuse


def test_sweep_recommends_the_threshold_that_separates_the_classes():
    scores = [0.2, 0.5, 0.8, 0.9]
    answerable = [False, False, True, True]
    cal = sweep(scores, [False] * 4, answerable, current=0.62)
    assert 0.5 < cal.recommended <= 0.8
    best = next(r for r in cal.rows if r.low <= cal.recommended <= r.high)
    assert best.balanced_accuracy == 1.0 and best.false_refusal_rate == 0.0
    assert cal.rows[0].refused == 0 and cal.rows[-1].refused == 4
    assert [r.refused for r in cal.rows] == sorted(r.refused for r in cal.rows)


def test_sweep_respects_the_false_refusal_cap():
    # refusing the unanswerable 0.6 would also refuse the answerable 0.55 (50% false refusals)
    scores = [0.3, 0.6, 0.55, 0.9]
    answerable = [False, False, True, True]
    cal = sweep(scores, [False] * 4, answerable, current=0.5, max_false_refusals=0.10)
    assert 0.3 < cal.recommended <= 0.55
    strict = sweep([0.9, 0.1], [False, False], [False, True], current=0.5, max_false_refusals=0.0)
    assert strict.recommended <= 0.1  # refusing the unanswerable would refuse the answerable


def test_sweep_counts_questions_refused_for_lack_of_quotes():
    cal = sweep([0.9, 0.9], [True, False], [False, True], current=0.5)
    assert cal.rows[0].refused == 1 and cal.rows[0].refusal_recall == 1.0


BASELINE = {"questions": 10, "metrics": {
    "hit@1": {"value": 0.80, "better": "higher", "tolerance": 0.02},
    "false_refusal_rate": {"value": 0.10, "better": "lower", "tolerance": 0.02},
    "citation_verified": {"value": 1.0, "better": "higher", "tolerance": 0.0},
}}


def test_check_passes_within_tolerance():
    assert check({"hit@1": 0.79, "false_refusal_rate": 0.115, "citation_verified": 1.0},
                 BASELINE, questions=10) == []


def test_check_names_the_metric_and_both_figures():
    problems = check({"hit@1": 0.70, "false_refusal_rate": 0.2, "citation_verified": 1.0}, BASELINE)
    assert len(problems) == 2
    assert "hit@1" in problems[0] and "0.7000" in problems[0] and "0.8000" in problems[0]
    assert "false_refusal_rate" in problems[1] and "above" in problems[1]


def test_check_demands_every_citation_verified():
    problems = check({"hit@1": 0.8, "false_refusal_rate": 0.1, "citation_verified": 0.99},
                     {"metrics": {}})
    assert problems == ["citation_verified: 0.9900, must be 1.0000"]


def test_check_flags_an_unmeasurable_metric_and_another_set():
    problems = check({"hit@1": None, "false_refusal_rate": 0.1, "citation_verified": 1.0},
                     BASELINE, questions=40)
    assert any(p.startswith("set: 40 questions") for p in problems)
    assert any(p.startswith("hit@1: not measurable") for p in problems)


def test_every_gated_metric_has_a_direction():
    assert {better for better, _ in GATE.values()} == {"higher", "lower"}
