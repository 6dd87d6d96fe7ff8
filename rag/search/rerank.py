"""Rerank retrieved passages with a model that reads the question and passage together.

`Reranker` is the swappable part: implement `_score(query, texts)` and the base class adds
batching and checks. `CrossEncoderReranker` loads a sentence-transformers cross-encoder
from a directory on disk (e.g. a copy of cross-encoder/ms-marco-MiniLM-L-6-v2), with the
Hugging Face offline switches set. None ships with verbatim, so reranking is off unless a
path is given: `Retriever.load(index, config=SearchConfig(reranker="/models/ce"))` or
`rag search --rerank /models/ce`.

Does not: download models, or decide how many passages to rerank (see `rag.search.retrieve`).
"""

from __future__ import annotations

import functools
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import EmbedderError

if TYPE_CHECKING:
    from .retrieve import Passage, Retriever


class Reranker(ABC):
    """Scores (query, text) pairs; higher means more relevant."""

    name: str = "reranker"

    @abstractmethod
    def _score(self, query: str, texts: list[str]) -> Sequence[float]:
        """One score per text of one batch."""

    def score_passages(self, query: str, passages: Sequence[Passage],
                       retriever: Retriever) -> np.ndarray:
        """Scores of `retriever`'s passages, as the retriever reranks them: by default those of
        their texts (`score`); a reranker that also reads titles, dates or whole documents
        overrides this."""
        return self.score(query, [p.text for p in passages])

    def score(self, query: str, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        """float32 scores of `texts` for `query`, in order, batch by batch."""
        texts = list(texts)
        parts = []
        for i in range(0, len(texts), batch_size):
            batch = texts[i:i + batch_size]
            scores = np.asarray(self._score(query, batch), dtype=np.float32).reshape(-1)
            if len(scores) != len(batch):
                raise ValueError(f"{self.name} gave {len(scores)} scores for {len(batch)} texts")
            parts.append(scores)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


class CrossEncoderReranker(Reranker):
    """A sentence-transformers CrossEncoder from a local directory; loaded on first use."""

    def __init__(self, path: str | Path, *, device: str = "cpu"):
        self.path = Path(path).expanduser()
        if not (self.path / "config.json").exists():
            raise EmbedderError(
                f"reranker {str(path)!r} is not a model directory on disk (no config.json); "
                "models are never downloaded: give the path of a cross-encoder model")
        self.name = str(self.path)
        self.device = device

    def _score(self, query: str, texts: list[str]) -> Sequence[float]:
        model = _load_cross_encoder(str(self.path), self.device)
        return model.predict([(query, t) for t in texts], batch_size=len(texts),
                             show_progress_bar=False, convert_to_numpy=True)


@functools.lru_cache(maxsize=2)
def _load_cross_encoder(path: str, device: str):
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        os.environ.setdefault(var, "1")
    try:
        from sentence_transformers import CrossEncoder
    except ImportError as e:
        raise EmbedderError("reranking needs sentence-transformers: pip install "
                            "sentence-transformers") from e
    try:
        return CrossEncoder(path, device=device, local_files_only=True)
    except (OSError, ValueError) as e:
        raise EmbedderError(f"cannot load the reranker at {path}: {e}") from e


def get_reranker(spec: str | Path | Reranker | None) -> Reranker | None:
    """A reranker for a path (a cross-encoder directory), an instance as is, or None."""
    if spec is None or isinstance(spec, Reranker):
        return spec
    return _cross_encoder(str(spec))


@functools.lru_cache(maxsize=4)
def _cross_encoder(path: str) -> CrossEncoderReranker:
    return CrossEncoderReranker(path)
