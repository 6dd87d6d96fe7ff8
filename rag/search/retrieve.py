"""Find the passages of an index that best match a question: dense, lexical or hybrid.

`Retriever.load(location).search(question, k=5)` returns `Passage` records, best first,
each carrying what a citation needs: document id, title, date, source path and exact
character offsets. The index is read through `rag.indexing.backend.Store`: a local directory
(FAISS and bm25s) or Milvus (`milvus:///path/file.db`, `milvus://host:19530`), the same
calls either way. Three modes (`SearchConfig.mode`, or `mode=` per search):
- `dense`: the question embedded with the index's model, nearest chunks (FAISS, or Milvus);
- `lexical`: BM25 over the chunks (`rag.indexing.lexical`'s terms, scored by bm25s's
  arrays or by Milvus's BM25 function), exact names, numbers and rare words;
- `hybrid` (default): both sides fetch `candidates` chunks each, fused by reciprocal rank
  (`rag.search.fusion.rrf`, weights configurable) or by normalized scores; with no fusion
  named, an index of a million characters or more fuses by min-max normalized scores and a
  smaller one by rank (`rag.indexing.settings.fusion_by_size`).
Then, optionally, a cross-encoder reranks the best `rerank_depth` (`rag.search.rerank`). With
`as_of=` a date (a news question's day), chunks of articles dated from `date_window[0]` days
before to `date_window[1]` days after it come first, in their order (`rag.search.recency`); a
question that says "this week", "recently" or "yesterday" gets the day it is asked (today,
or `asked_on=`) as its `as_of` unless `recent_words` is off.
Last, a per-document cap (default: 2 passages) or MMR keeps one article from filling the top k.

`Passage.score` is the score the ranking used: cosine similarity (dense), BM25 (lexical),
the fused score scaled so 1.0 means first on both sides (hybrid), or the reranker's score;
`dense_score` and `lexical_score` give each side's own score where it was computed (a
passage outside the BM25 side's `candidates` has none). With a per-document cap or MMR, a
later passage may score higher than an earlier one. A Milvus version dropped under a search
by a newer publish is reopened and the search run again, on the new version only.

Questions are checked: empty ones are refused, and one longer than the model's input limit
is cut to fit, with a `QuestionTruncated` warning (it is still answered).

Does not: build indexes, compose answers, or rewrite follow-up questions.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from ..errors import IndexMismatchError, InputError
from ..indexing.backend import IndexChangedError, Store, as_store, open_store
from ..indexing.embed import Embedder, get_embedder
from ..indexing.location import Location, option
from ..indexing.settings import fusion_by_size
from ..indexing.store import IndexStore
from . import fusion, recency
from .rerank import Reranker, get_reranker

Mode = Literal["dense", "lexical", "hybrid"]
MODES = ("dense", "lexical", "hybrid")
Fusion = Literal["rrf", "minmax", "zscore"]
FUSIONS = ("rrf", "minmax", "zscore")
Hits = fusion.Hits


class QuestionTruncated(UserWarning):
    """The question was longer than the model reads and was cut."""


@dataclass(frozen=True)
class Passage:
    """One retrieved chunk: `text == open(source).read()[start:end]` for text files."""

    rank: int
    score: float
    text: str
    doc_id: str
    title: str
    date: str | None
    source: str
    start: int
    end: int
    chunk_id: str
    url: str | None = None
    dense_score: float | None = None
    lexical_score: float | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class SearchConfig:
    """How `Retriever.search` ranks passages.

    `candidates` chunks are fetched per side (at least k); hybrid fuses them with `fusion`
    (`rrf` with constant `rrf_k`, or a weighted sum of `minmax`/`zscore`-normalized scores;
    None: by the index's size, `Retriever.fusion`) and the side weights. `reranker` is a cross-encoder directory (or a `Reranker`) applied
    to the best `rerank_depth`. `max_per_doc` caps passages per document in the top k (a
    document's further passages come after the other documents'; None turns it off);
    `mmr` (a lambda in [0, 1]) diversifies by maximal marginal relevance instead.
    `date_window` is the days before and after a question's day whose articles come first;
    `recent_words` reads a question that says "this week" or "recently" as of the day asked.
    The defaults are the best measured on the seed set and BEIR SciFact (see README).
    """

    mode: Mode = "hybrid"
    candidates: int = 100
    fusion: Fusion | None = None
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    max_per_doc: int | None = 2
    mmr: float | None = None
    reranker: str | Reranker | None = None
    rerank_depth: int = 30
    date_window: tuple[int, int] = (7, 3)
    recent_words: bool = True

    def __post_init__(self):
        check_mode(self.mode)
        if self.fusion is not None and self.fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {self.fusion!r}; allowed: {', '.join(FUSIONS)}")
        for name in ("candidates", "rerank_depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be 1 or more (got {getattr(self, name)})")
        if self.max_per_doc is not None and self.max_per_doc < 1:
            raise ValueError(f"max_per_doc must be 1 or more, or None (got {self.max_per_doc})")
        if self.mmr is not None and not 0 <= self.mmr <= 1:
            raise ValueError(f"mmr must be a lambda between 0 and 1, or None (got {self.mmr})")
        if self.rrf_k < 0 or self.dense_weight < 0 or self.lexical_weight < 0:
            raise ValueError("rrf_k and the side weights must be 0 or more")
        if len(self.date_window) != 2 or min(self.date_window) < 0:
            raise ValueError(f"date_window must be (days before, days after), each 0 or more "
                             f"(got {self.date_window})")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InputError(f"unknown search mode {mode!r}; allowed: {', '.join(MODES)}")
    return mode


class Retriever:
    """Searches one index; reuses its embedder, BM25 index and open files across questions."""

    def __init__(self, store: Store | IndexStore, embedder: Embedder, *,
                 config: SearchConfig = SearchConfig()):
        if embedder.name != store.manifest.model or embedder.dimension != store.manifest.dimension:
            raise IndexMismatchError(
                f"index at {store.path} was built with {store.manifest.model} "
                f"({store.manifest.dimension} dimensions), not {embedder.name}; rebuild it with "
                f"`rag index PATH ... {option(store.path)}`"
            )
        self.store = as_store(store)
        self.embedder = embedder
        self.config = config
        self.reranker = get_reranker(config.reranker)

    @classmethod
    def load(cls, index_dir: str | Path | Location, *, embedder: Embedder | None = None,
             config: SearchConfig = SearchConfig()) -> Retriever:
        """Open the index at `index_dir` (a directory or a Milvus URI) with the embedder it
        was built with.

        >>> Retriever.load("milvus:///tmp/v.db")  # doctest: +SKIP
        """
        store = open_store(index_dir)
        return cls(store, embedder or get_embedder(store.manifest.model), config=config)

    def with_config(self, **changes) -> Retriever:
        """A retriever on the same open index with some settings changed.

        >>> Retriever.load("index/default").with_config(mode="lexical")  # doctest: +SKIP
        """
        return Retriever(self.store, self.embedder, config=replace(self.config, **changes))

    def search(self, question: str, *, k: int = 5, mode: Mode | None = None,
               as_of: str | None = None, asked_on: str | None = None) -> list[Passage]:
        """The `k` passages that best match `question`, best first. Without `as_of`, a
        question whose words point at the last few days ("this week", "recently") is read
        as of the day it is asked: `asked_on`, else today (`SearchConfig.recent_words`).

        >>> Retriever.load("index/default").search("Who succeeds Stoltenberg?", k=1)  # doctest: +SKIP
        """
        question = self.prepare(question)
        k = check_k(k)
        mode = check_mode(mode or self.config.mode)
        when = self.reading_day(question, as_of=as_of, asked_on=asked_on)
        try:
            return self._search(question, k, mode, when)
        except IndexChangedError:  # a newer publish dropped this version: read the new one
            self.store = open_store(self.store.path)
            return self._search(question, k, mode, when)

    def reading_day(self, question: str, *, as_of: str | None = None,
                    asked_on: str | None = None) -> dt.date | None:
        """The day `search` reads `question` as of: `as_of`; else, for a question that says
        "this week" or "recently", the day it is asked (`asked_on`, else today); else None."""
        when = recency.parse_day(as_of)
        asked = recency.parse_day(asked_on)
        if when is None and self.config.recent_words and recency.says_recent(question):
            when = asked or dt.date.today()
        return when

    def outside_note(self, dates, day: dt.date | None) -> str | None:
        """`rag.search.recency.outside_note` with this retriever's date window."""
        return recency.outside_note(dates, day, self.config.date_window)

    def _search(self, question: str, k: int, mode: Mode, when=None) -> list[Passage]:
        total = self.store.manifest.chunks
        if not total:
            return []
        depth = min(max(self.config.candidates, k), total)
        query = self.embedder.embed([question])[0] if mode != "lexical" else None
        dense = self.store.dense_hits(query, depth) if query is not None else []
        lexical = self.store.lexical_hits(question, depth) if mode != "dense" else None
        if mode == "hybrid":
            hits = self._fuse(dense, lexical)
        else:
            hits = dense if mode == "dense" else lexical
        if self.reranker is not None:
            hits = self._rerank(question, hits, max(self.config.rerank_depth, k))
        if when is not None:
            hits = recency.prefer_window(hits[:depth], self.store, when, self.config.date_window)
        hits = self._diversify(hits, k)
        return self.passages(hits, dense=_side(query, self.store, hits),
                             lexical=_lexical_scores(lexical, depth))

    @property
    def fusion(self) -> Fusion:
        """How hybrid search fuses the two sides: the config's, else by the index's size."""
        return self.config.fusion or fusion_by_size(self.store.manifest.characters)

    def _fuse(self, dense: Hits, lexical: Hits) -> Hits:
        c = self.config
        weights = (c.dense_weight, c.lexical_weight)
        how = self.fusion
        if how == "rrf":
            return fusion.rrf([dense, lexical], weights=weights, k=c.rrf_k)
        return fusion.score_fusion([dense, lexical], weights=weights, normalization=how)

    def _rerank(self, question: str, hits: Hits, depth: int) -> Hits:
        head, rest = hits[:depth], hits[depth:]
        scores = self.reranker.score_passages(question, self.passages(head), self)
        order = sorted(range(len(head)), key=lambda i: (-scores[i], i))
        return [(head[i][0], float(scores[i])) for i in order] + rest

    def _diversify(self, hits: Hits, k: int) -> Hits:
        c = self.config
        if c.mmr is not None and hits:
            pool = hits[:max(4 * k, 20)]
            vectors = self.store.vectors_of([r for r, _ in pool])
            return fusion.mmr(pool, vectors, k=k, lambda_=c.mmr)
        if c.max_per_doc is not None:
            return fusion.cap_per_document(hits, self.store.doc_of, cap=c.max_per_doc, k=k)
        return hits[:k]

    def passages(self, hits: list[tuple[int, float]], *, dense: dict[int, float] | None = None,
                 lexical: Callable[[int], float | None] | None = None) -> list[Passage]:
        """Passage records for (row, score) pairs, in the given order; `dense` and `lexical`
        give each side's own score of a row."""
        cited = self.store.cited_chunks([row for row, _ in hits])
        out = []
        for rank, (row, score) in enumerate(hits, start=1):
            c, title, date, source, url = cited[row]
            out.append(Passage(
                rank=rank, score=score, text=c.text, doc_id=c.doc_id, title=title, date=date,
                source=source, start=c.start, end=c.end, chunk_id=c.id, url=url,
                dense_score=dense.get(row) if dense else None,
                lexical_score=lexical(row) if lexical is not None else None))
        return out

    def prepare(self, question: str) -> str:
        """The question stripped and cut to the model's input limit (with a warning)."""
        if not isinstance(question, str) or not question.strip():
            raise InputError("the question is empty; type a question about the articles")
        question = " ".join(question.split())
        limit = self.embedder.max_tokens
        if limit and (self.embedder.count_tokens(question) or 0) > limit:
            cut = _cut_to_tokens(question, self.embedder, limit - 2)
            warnings.warn(QuestionTruncated(
                f"the question is {len(question):,} characters, longer than the model reads; "
                f"only its first {len(cut):,} characters were used"), stacklevel=3)
            question = cut
        return question


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"k must be a whole number of passages, 1 or more (got {k!r})")
    return k


def _cut_to_tokens(text: str, embedder: Embedder, limit: int) -> str:
    """The longest prefix of `text`, at a word boundary, that fits in `limit` tokens."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if (embedder.count_tokens(text[:mid]) or 0) <= limit:
            lo = mid
        else:
            hi = mid - 1
    cut = text[:lo]
    return cut.rsplit(" ", 1)[0] if " " in cut and lo < len(text) else cut


def _side(query: np.ndarray | None, store: Store, hits: Hits) -> dict[int, float] | None:
    """Cosine similarity of the question to each hit's stored vector."""
    if query is None or not hits:
        return None
    rows = [r for r, _ in hits]
    return dict(zip(rows, (store.vectors_of(rows) @ query).astype(float).tolist()))


def _lexical_scores(hits: Hits | None, depth: int) -> Callable[[int], float | None] | None:
    """A row's BM25 score: from the lexical hits; 0.0 for the other rows when the hits hold
    every row that matched (fewer than `depth`), else unknown (None)."""
    if hits is None:
        return None
    scores, rest = dict(hits), (0.0 if len(hits) < depth else None)
    return lambda row: scores.get(row, rest)
