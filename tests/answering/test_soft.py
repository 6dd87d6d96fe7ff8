"""Soft coverage and the first quote: known answers on made-up token states, and the real
model's states (integration: the same vectors as `embed`, and the paraphrase quoted first)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from conftest import FakeEmbedder

from rag.answering.soft import first_by_soft, question_pieces, soft_coverage
from rag.indexing.onnx import TokenStates


def states(pieces: str, rows: list[list[float]]) -> TokenStates:
    v = np.array(rows, dtype=np.float32)
    return TokenStates(v / np.linalg.norm(v, axis=1, keepdims=True), tuple(pieces.split()))


@dataclass(frozen=True)
class Cand:
    text: str
    score: float
    focus: tuple[int, int] | None = None
    soft: float | None = None


def test_question_pieces_keep_whole_content_words():
    q = states("who will succeed st ##olt ? 2024", [[1, 0, 0]] * 7)
    assert len(question_pieces(q)) == 3  # succeed, st, 2024: not who, will, ##olt or ?
    only_stop = states("who is it", [[1, 0, 0]] * 3)
    assert len(question_pieces(only_stop)) == 3  # nothing else to read: all of it


def test_soft_coverage_is_the_mean_best_cosine_per_question_piece():
    question = np.eye(3, dtype=np.float32)[:2]  # two pieces, along x and y
    both = states("a b", [[1, 0, 0], [0, 1, 0]])
    one = states("a c", [[1, 0, 0], [0, 0, 1]])
    leaning = states("d", [[1, 1, 0]])
    empty = TokenStates(np.zeros((0, 3), dtype=np.float32), ())
    got = soft_coverage(question, [both, one, leaning, empty])
    assert got == pytest.approx([1.0, 0.5, 2 ** -0.5, 0.0])


def test_the_softest_match_goes_first_with_the_best_score():
    cands = [Cand("cheap best", 0.9, soft=0.5), Cand("runner", 0.8, soft=0.6),
             Cand("soft best", 0.7, soft=0.7)]
    out = first_by_soft(cands, 0.15)
    assert [c.text for c in out] == ["soft best", "cheap best", "runner"]
    assert out[0].score == 0.9  # refusing reads the same best score as before
    typed = [Cand("cheap best", 0.9, focus=(0, 5), soft=0.6), Cand("soft", 0.8, soft=0.7)]
    assert first_by_soft(typed, 0.15)[0].text == "cheap best"  # 0.6 + 0.15 > 0.7


def test_without_states_the_cheap_order_stands():
    cands = [Cand("a", 0.9), Cand("b", 0.8)]
    assert first_by_soft(cands, 0.15) == cands
    assert first_by_soft([Cand("a", 0.9, soft=0.1)], 0.15)[0].text == "a"
    vectors, got = FakeEmbedder().embed_with_states(["one text"])
    assert got is None and vectors.shape == (1, 64)


@pytest.mark.integration
def test_the_real_model_gives_states_from_the_same_run():
    from rag.indexing.embed import get_embedder

    embedder = get_embedder()
    texts = ["Who will succeed Stoltenberg?", "A longer sentence about NATO's summit in June."] * 20
    vectors, got = embedder.embed_with_states(texts)
    assert np.allclose(vectors, embedder.embed(texts), atol=1e-5)
    assert got[0].pieces[:3] == ("who", "will", "succeed") and len(got) == len(texts)
    assert np.allclose(np.linalg.norm(got[1].vectors, axis=1), 1.0, atol=1e-5)
