"""Find the passages of an index that best match a question.

`Retriever.load(index_dir).search(question, k=5)` embeds the question with the model the
index was built with and returns `Passage` records, best first, each carrying what a
citation needs: document id, title, date, source path and exact character offsets.

Questions are checked: empty ones are refused, and one longer than the model's input limit
is cut to fit, with a `QuestionTruncated` warning (it is still answered).

Does not: build indexes, compose answers, or rewrite follow-up questions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from .embed import Embedder, get_embedder
from .errors import IndexMismatchError, InputError
from .store import IndexStore, open_index


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

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class Retriever:
    """Searches one index; reuses its embedder and open files across questions."""

    def __init__(self, store: IndexStore, embedder: Embedder):
        if embedder.name != store.manifest.model or embedder.dimension != store.manifest.dimension:
            raise IndexMismatchError(
                f"index at {store.path} was built with {store.manifest.model} "
                f"({store.manifest.dimension} dimensions), not {embedder.name}; rebuild it with "
                f"`rag index PATH ... --index {store.path}`"
            )
        self.store = store
        self.embedder = embedder

    @classmethod
    def load(cls, index_dir: str | Path, *, embedder: Embedder | None = None) -> Retriever:
        """Open the index at `index_dir` with the embedder it was built with."""
        store = open_index(index_dir)
        return cls(store, embedder or get_embedder(store.manifest.model))

    def search(self, question: str, *, k: int = 5) -> list[Passage]:
        """The `k` passages closest to `question`, best first.

        >>> Retriever.load("index/default").search("Who succeeds Stoltenberg?", k=1)  # doctest: +SKIP
        """
        question = self.prepare(question)
        k = check_k(k)
        vector = self.embedder.embed([question])
        scores, rows = self.store.search(vector, min(k, max(self.store.manifest.chunks, 1)))
        hits = [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]
        return self.passages(hits)

    def passages(self, hits: list[tuple[int, float]]) -> list[Passage]:
        """Passage records for (row, score) pairs, in the given order."""
        chunks = dict(self.store.chunks([row for row, _ in hits]))
        docs = self.store.documents(sorted({c.doc_id for c in chunks.values()}))
        out = []
        for rank, (row, score) in enumerate(hits, start=1):
            c = chunks[row]
            d = docs[c.doc_id]
            out.append(Passage(rank=rank, score=score, text=c.text, doc_id=d.id, title=d.title,
                               date=d.date, source=d.source, start=c.start, end=c.end,
                               chunk_id=c.id, url=d.url))
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
