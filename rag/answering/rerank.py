"""Rerank retrieved passages with the learned reader: a passage scores as its best sentence.

`ReaderReranker` plugs into the retriever's reranking step (`SearchConfig(reranker=...)`,
`rag search/ask/eval --rerank reader`): it reads every sentence of the retriever's best
`rerank_depth` passages as the answerer does, scores each with the learned reader's sentence
model, and gives a passage the highest probability among its sentences.

Does not: train anything (see `rag.training.fit`), or change which passages are fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..search.rerank import Reranker
from ..search.retrieve import Passage, Retriever
from .answer import AnswerConfig, Answerer
from .reader import DEFAULT_MODEL, load_reader

READER = "reader"  # the --rerank value that selects this reranker


class ReaderReranker(Reranker):
    """Scores passages by the learned reader's best sentence probability."""

    name = READER

    def __init__(self, *, reader_model: str | None = None):
        self.config = AnswerConfig(reader="learned", reader_model=reader_model)
        load_reader(Path(reader_model or DEFAULT_MODEL))  # a missing or edited model fails here

    def _score(self, query: str, texts: list[str]) -> Sequence[float]:
        raise TypeError("the reader reranks passages, not bare texts: use score_passages")

    def score_passages(self, query: str, passages: Sequence[Passage],
                       retriever: Retriever) -> np.ndarray:
        """One float32 score per passage of `retriever`'s index, in order: its best
        sentence's reader probability (0 for a passage with no sentence to read)."""
        passages = [replace(p, rank=i) for i, p in enumerate(passages, start=1)]
        answerer = Answerer(retriever.with_config(reranker=None), config=self.config)
        docs = retriever.store.documents(sorted({p.doc_id for p in passages}))
        best = np.zeros(len(passages), dtype=np.float32)
        candidates = answerer.candidates(query, passages, docs)
        if not candidates:
            return best
        candidates, _ = answerer.read(query, candidates)
        for c in candidates:
            at = c.passage.rank - 1
            best[at] = max(best[at], c.score)
        return best


def with_reranker(retriever: Retriever, spec: str | None) -> Retriever:
    """`retriever` reranking with `spec`: "reader" for the learned reader, a cross-encoder
    directory, or None for no reranking."""
    if spec == READER:
        return retriever.with_config(reranker=ReaderReranker())
    return retriever.with_config(reranker=spec)
