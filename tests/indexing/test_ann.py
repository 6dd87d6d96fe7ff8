"""The FAISS structure: exact while small, IVF when large, only embedded rows while partial."""

from __future__ import annotations

import numpy as np
import pytest

from rag.indexing import ann
from rag.indexing.store import StoreConfig


def _unit(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _recall_at_10(index, vectors: np.ndarray, queries: np.ndarray) -> float:
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    _, found = index.search(queries, 10)
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, found)]))


def test_auto_is_exact_up_to_its_limit_then_ivf():
    config = StoreConfig(auto_flat_max=1_000)
    assert ann.resolve_type(config, 1_000) == "flat"
    assert ann.resolve_type(config, 1_001) == "ivf"
    assert ann.resolve_type(StoreConfig(index_type="hnsw"), 10) == "hnsw"
    vectors = _unit(3_000)
    index, described = ann.build(vectors, np.arange(3_000), config)
    assert described.startswith("ivf nlist=") and index.ntotal == 3_000
    assert _recall_at_10(index, vectors, _unit(50, seed=1)) >= 0.9


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf", "ivf-sq8"])
def test_every_type_finds_a_stored_vector_itself(kind):
    vectors = _unit(2_000)
    index, _ = ann.build(vectors, np.arange(len(vectors)), StoreConfig(index_type=kind))
    _, rows = index.search(vectors[:20], 1)
    assert (rows[:, 0] == np.arange(20)).mean() >= 0.95


def test_a_partial_index_holds_only_the_embedded_rows_under_their_own_numbers():
    vectors = _unit(100)
    vectors[50:] = 0  # not embedded yet
    index, described = ann.build(vectors, np.arange(50), StoreConfig())
    assert "partial: 50 of 100" in described
    _, rows = index.search(vectors[[10]], 100)
    assert set(rows[0][rows[0] >= 0]) == set(range(50)) and rows[0][0] == 10
