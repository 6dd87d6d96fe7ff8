"""Fusing ranked lists, diversifying the top k, and the reranker interface."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.errors import EmbedderError
from rag.search.fusion import cap_per_document, mmr, rrf, score_fusion
from rag.search.rerank import CrossEncoderReranker, Reranker, get_reranker

DENSE = [(1, 0.9), (2, 0.8), (3, 0.7)]
LEXICAL = [(3, 14.0), (4, 9.0), (1, 2.0)]


# --- reciprocal rank fusion --------------------------------------------------------------

def test_rrf_known_answer():
    fused = dict(rrf([DENSE, LEXICAL], k=60))
    best = 2 / 61
    assert fused[1] == pytest.approx((1 / 61 + 1 / 63) / best)
    assert fused[3] == pytest.approx((1 / 63 + 1 / 61) / best)
    assert fused[2] == pytest.approx((1 / 62) / best)
    assert fused[4] == pytest.approx((1 / 62) / best)


def test_rrf_first_everywhere_scores_one_and_order_is_by_score_then_best_rank():
    fused = rrf([[(5, 1.0), (6, 0.5)], [(5, 3.0), (7, 1.0)]])
    assert fused[0] == (5, pytest.approx(1.0))
    assert [r for r, _ in fused] == [5, 6, 7]  # 6 and 7 tie; equal best rank: lower row


def test_rrf_ignores_scores_and_uses_ranks_only():
    scaled = [[(r, s * 1000) for r, s in DENSE], LEXICAL]
    assert rrf(scaled) == rrf([DENSE, LEXICAL])


def test_rrf_weights_favour_a_side():
    assert rrf([DENSE, LEXICAL], weights=[1, 0])[0][0] == 1
    assert [r for r, _ in rrf([DENSE, LEXICAL], weights=[0, 1])][:2] == [3, 4]
    assert [r for r, _ in rrf([DENSE, LEXICAL], weights=[3, 1])][:2] == [1, 3]


def test_rrf_of_one_list_keeps_its_order():
    assert [r for r, _ in rrf([LEXICAL])] == [3, 4, 1]
    assert rrf([[], []]) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"weights": [1]}, "1 weights for 2 lists"), ({"weights": [1, -1]}, "0 or more"),
    ({"k": -1}, "0 or more")])
def test_rrf_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rrf([DENSE, LEXICAL], **kwargs)


@given(st.lists(st.lists(st.integers(0, 30), unique=True, max_size=12), min_size=1, max_size=3))
def test_rrf_holds_each_row_once_with_scores_in_order(rankings):
    lists = [[(r, 1.0 / (i + 1)) for i, r in enumerate(ranking)] for ranking in rankings]
    fused = rrf(lists)
    rows = [r for r, _ in fused]
    assert sorted(rows) == sorted({r for ranking in rankings for r in ranking})
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 1 + 1e-9 for s in scores)


# --- score fusion ------------------------------------------------------------------------

def test_minmax_fusion_known_answer():
    fused = dict(score_fusion([DENSE, LEXICAL], normalization="minmax"))
    assert fused[1] == pytest.approx((1.0 + 0.0) / 2)
    assert fused[3] == pytest.approx((0.0 + 1.0) / 2)
    assert fused[4] == pytest.approx((7 / 12) / 2)


def test_zscore_fusion_shifts_each_list_to_start_at_zero():
    fused = dict(score_fusion([DENSE], normalization="zscore"))
    assert fused[3] == 0
    assert fused[1] > fused[2] > 0


def test_unknown_normalization_is_refused():
    with pytest.raises(ValueError, match="minmax, zscore"):
        score_fusion([DENSE], normalization="rank")


# --- diversity ---------------------------------------------------------------------------

DOCS = {1: "a", 2: "a", 3: "a", 4: "b", 5: "c", 6: "b"}


def test_cap_keeps_at_most_n_per_document_in_order():
    hits = [(r, 1.0 - r / 10) for r in (1, 2, 3, 4, 5, 6)]
    assert [r for r, _ in cap_per_document(hits, DOCS.get, cap=1, k=3)] == [1, 4, 5]
    assert [r for r, _ in cap_per_document(hits, DOCS.get, cap=2, k=4)] == [1, 2, 4, 5]


def test_cap_fills_k_with_held_back_hits_when_documents_run_out():
    hits = [(1, 0.9), (2, 0.8), (4, 0.7), (3, 0.6)]
    assert [r for r, _ in cap_per_document(hits, DOCS.get, cap=1, k=4)] == [1, 4, 2, 3]


def test_cap_below_one_is_refused():
    with pytest.raises(ValueError, match="1 or more"):
        cap_per_document(DENSE, DOCS.get, cap=0, k=2)


def _unit(*rows):
    v = np.asarray(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_mmr_skips_a_near_duplicate():
    hits = [(10, 0.9), (11, 0.89), (12, 0.5)]
    vectors = _unit([1, 0, 0], [0.99, 0.1, 0], [0, 1, 0])
    assert [r for r, _ in mmr(hits, vectors, k=2, lambda_=0.5)] == [10, 12]


def test_mmr_with_lambda_one_keeps_the_order():
    hits = [(10, 0.9), (11, 0.89), (12, 0.5)]
    vectors = _unit([1, 0, 0], [0.99, 0.1, 0], [0, 1, 0])
    assert mmr(hits, vectors, k=3, lambda_=1.0) == hits


@pytest.mark.parametrize("kwargs, message", [({"lambda_": 1.5}, "between 0 and 1"),
                                             ({"lambda_": -0.1}, "between 0 and 1")])
def test_mmr_bad_lambda(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mmr(DENSE, _unit([1, 0], [0, 1], [1, 1]), k=2, **kwargs)


def test_mmr_needs_one_vector_per_hit():
    with pytest.raises(ValueError, match="2 vectors for 3 hits"):
        mmr(DENSE, _unit([1, 0], [0, 1]), k=2)
    assert mmr([], np.zeros((0, 2)), k=3) == []


# --- the reranker interface --------------------------------------------------------------

class WordCount(Reranker):
    """Deterministic: the number of times the query's first word appears in the text."""

    name = "word-count"

    def __init__(self):
        self.batches: list[int] = []

    def _score(self, query, texts):
        self.batches.append(len(texts))
        word = query.split()[0].lower()
        return [t.lower().split().count(word) for t in texts]


def test_the_base_class_batches_and_returns_float32():
    r = WordCount()
    scores = r.score("lava", ["lava lava", "ash", "lava"] * 3, batch_size=4)
    assert scores.dtype == np.float32
    assert scores.tolist() == [2, 0, 1] * 3
    assert r.batches == [4, 4, 1]
    assert r.score("lava", []).tolist() == []


def test_a_reranker_that_miscounts_is_an_error():
    class Broken(Reranker):
        def _score(self, query, texts):
            return [1.0]

    with pytest.raises(ValueError, match="1 scores for 2 texts"):
        Broken().score("q", ["a", "b"])


def test_get_reranker_passes_instances_and_none_through():
    r = WordCount()
    assert get_reranker(r) is r
    assert get_reranker(None) is None


def test_a_path_that_is_not_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(EmbedderError, match="never downloaded"):
        get_reranker(tmp_path / "no-model-here")
    with pytest.raises(EmbedderError, match="not a model directory"):
        CrossEncoderReranker("cross-encoder/ms-marco-MiniLM-L-6-v2")
