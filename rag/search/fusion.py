"""Combine ranked candidate lists and pick a diverse top k; pure functions on row numbers.

A candidate list is `[(row, score), ...]`, best first, where a row is a chunk's row in the
index. `rrf` fuses lists by reciprocal rank (weights per list), `score_fusion` by a weighted
sum of normalized scores. Diversity comes after fusion: `cap_per_document` keeps at most n
passages of one document in the top k, and `mmr` trades relevance for novelty with maximal
marginal relevance over the chunks' vectors.

Does not: search, embed or read the index (see `rag.search.retrieve`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

Hits = list[tuple[int, float]]
Normalization = Literal["minmax", "zscore"]


def rrf(lists: Sequence[Hits], *, weights: Sequence[float] | None = None, k: int = 60) -> Hits:
    """Reciprocal rank fusion: a row scores sum(w / (k + rank)) over the lists it is in.

    Scores are divided by the best possible one, so a row first in every list scores 1.0.
    Ties go to the row with the better single rank, then the lower row number.

    >>> rrf([[(7, 0.9), (3, 0.5)], [(3, 12.0), (9, 4.0)]], k=60)[0][0]
    3
    """
    weights = _weights(lists, weights)
    if k < 0:
        raise ValueError(f"the RRF constant k must be 0 or more (got {k})")
    total = sum(weights) / (k + 1)
    scores: dict[int, float] = {}
    best: dict[int, int] = {}
    for hits, w in zip(lists, weights):
        for rank, (row, _) in enumerate(hits, start=1):
            scores[row] = scores.get(row, 0.0) + w / (k + rank)
            best[row] = min(best.get(row, rank), rank)
    order = sorted(scores, key=lambda r: (-scores[r], best[r], r))
    return [(r, scores[r] / total if total else 0.0) for r in order]


def score_fusion(lists: Sequence[Hits], *, weights: Sequence[float] | None = None,
                 normalization: Normalization = "minmax") -> Hits:
    """A weighted sum of each list's normalized scores (a row absent from a list adds 0).

    `minmax` maps each list to [0, 1]; `zscore` to standard scores shifted so that the
    list's lowest is 0. The result is divided by the weights' sum.
    """
    weights = _weights(lists, weights)
    if normalization not in ("minmax", "zscore"):
        raise ValueError(f"unknown normalization {normalization!r}; allowed: minmax, zscore")
    scores: dict[int, float] = {}
    for hits, w in zip(lists, weights):
        for row, s in zip((r for r, _ in hits), _normalize([s for _, s in hits], normalization)):
            scores[row] = scores.get(row, 0.0) + w * s
    total = sum(weights) or 1.0
    order = sorted(scores, key=lambda r: (-scores[r], r))
    return [(r, float(scores[r] / total)) for r in order]


def _normalize(values: list[float], how: Normalization) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        return v
    if how == "zscore":
        std = v.std()
        z = (v - v.mean()) / std if std > 0 else np.zeros_like(v)
        return z - z.min()
    span = v.max() - v.min()
    return (v - v.min()) / span if span > 0 else np.ones_like(v)


def _weights(lists: Sequence[Hits], weights: Sequence[float] | None) -> list[float]:
    weights = [1.0] * len(lists) if weights is None else [float(w) for w in weights]
    if len(weights) != len(lists):
        raise ValueError(f"{len(weights)} weights for {len(lists)} lists")
    if any(w < 0 for w in weights):
        raise ValueError(f"weights must be 0 or more (got {weights})")
    return weights


def cap_per_document(hits: Hits, doc_of: Callable[[int], str], *, cap: int, k: int) -> Hits:
    """The first `k` hits taking at most `cap` per document, in order.

    When too few documents are left to fill `k`, the held-back hits fill the rest after
    them, in their original order, so a one-document corpus still returns k passages.

    >>> cap_per_document([(1, .9), (2, .8), (3, .7)], {1: "a", 2: "a", 3: "b"}.get, cap=1, k=2)
    [(1, 0.9), (3, 0.7)]
    """
    if cap < 1:
        raise ValueError(f"the per-document cap must be 1 or more (got {cap})")
    taken: list[int] = []
    held: list[int] = []
    per_doc: dict[str, int] = {}
    for i, (row, _) in enumerate(hits):
        doc = doc_of(row)
        if len(taken) < k and per_doc.get(doc, 0) < cap:
            per_doc[doc] = per_doc.get(doc, 0) + 1
            taken.append(i)
        elif len(taken) < k:
            held.append(i)
    return [hits[i] for i in taken + held[:k - len(taken)]]


def mmr(hits: Hits, vectors: np.ndarray, *, k: int, lambda_: float = 0.7) -> Hits:
    """Maximal marginal relevance: repeatedly take the hit maximizing
    `lambda_ * relevance - (1 - lambda_) * max similarity to those taken`.

    Relevance is the hit's score scaled to [0, 1] within `hits`; `vectors` holds one unit
    vector per hit, in order. `lambda_ = 1` keeps the given order.
    """
    if not 0 <= lambda_ <= 1:
        raise ValueError(f"the MMR lambda must be between 0 and 1 (got {lambda_})")
    if len(vectors) != len(hits):
        raise ValueError(f"{len(vectors)} vectors for {len(hits)} hits")
    if not hits:
        return []
    relevance = _normalize([s for _, s in hits], "minmax")
    sims = np.asarray(vectors, dtype=np.float32) @ np.asarray(vectors, dtype=np.float32).T
    chosen: list[int] = []
    closest = np.full(len(hits), -np.inf)
    free = np.ones(len(hits), dtype=bool)
    while len(chosen) < min(k, len(hits)):
        penalty = np.where(np.isfinite(closest), closest, 0.0)
        value = lambda_ * relevance - (1 - lambda_) * penalty
        value[~free] = -np.inf
        i = int(np.argmax(value))  # first maximum: ties keep the given order
        chosen.append(i)
        free[i] = False
        closest = np.maximum(closest, sims[:, i])
    return [hits[i] for i in chosen]
