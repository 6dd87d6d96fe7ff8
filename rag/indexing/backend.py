"""One interface over the two places an index can live: a local directory or Milvus.

`Store` is what `rag.search`, `rag.answering` and `rag.app` read from an index, and what a
build reads of the previous version. `open_store(location)` opens either kind:
- a directory: `LocalStore`, today's `IndexStore` (FAISS, SQLite, bm25s) with the three
  search calls added;
- a Milvus URI: `rag.indexing.milvus_store.MilvusStore`, imported only then (pymilvus is
  heavy and optional: `pip install -e '.[milvus]'`).

A store is one version of the index: rows are numbered within it, so hits of one version
are never looked up in another. When a newer version has been published `is_current()` is
False; a Milvus version dropped under a reader raises `IndexChangedError`, and the reader
opens the index again.

Does not: build or publish versions (`rag.indexing.build`, `rag.indexing.milvus_build`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import RagError
from ..reading.chunk import Chunk
from ..reading.ingest import Document
from .lexical import top
from .location import Location, MilvusURI, parse_location
from .store import IndexStore, open_index

Hits = list[tuple[int, float]]  # (row, score), best first


class StoreUnavailableError(RagError):
    """The Milvus store cannot be used: the server is unreachable or refused the token, or
    pymilvus / milvus-lite are not installed (`pip install -e '.[milvus]'`)."""


class IndexChangedError(RagError):
    """The version a reader opened was dropped by a newer publish: open the index again."""


class CitedChunk(NamedTuple):
    """A chunk with what a citation shows of its document (no full text)."""

    chunk: Chunk
    title: str
    date: str | None
    source: str
    url: str | None


class Store(ABC):
    """One opened version of an index. `path` names it as the user did (a directory or a
    URI) and `manifest` says how it was built."""

    path: Path | str

    @abstractmethod
    def dense_hits(self, query: np.ndarray, depth: int) -> Hits:
        """The `depth` nearest chunks to the unit vector `query`, by inner product."""

    @abstractmethod
    def lexical_hits(self, question: str, depth: int) -> Hits:
        """Up to `depth` chunks with a positive BM25 score for `question`, best first."""

    @abstractmethod
    def vectors_of(self, rows: list[int]) -> np.ndarray:
        """The stored vectors of `rows`, in that order."""

    @abstractmethod
    def chunks(self, rows: list[int] | None = None) -> list[tuple[int, Chunk]]: ...

    @abstractmethod
    def documents(self, ids: list[str] | None = None) -> dict[str, Document]: ...

    @abstractmethod
    def doc_of(self, row: int) -> str: ...

    @abstractmethod
    def word_prefixes(self) -> frozenset[str] | None: ...

    @abstractmethod
    def document_frequencies(self, terms: list[str]) -> list[int] | None:
        """How many chunks hold each analyzed BM25 term (`rag.indexing.lexical.tokenize`'s
        output; 0 when unknown), or None when the index keeps no counts (built before they
        were kept)."""

    @abstractmethod
    def is_current(self) -> bool: ...

    # what a build reads of the previous version, and `rag info`
    @abstractmethod
    def files(self) -> dict[str, tuple[int, int]]: ...

    @abstractmethod
    def ids_by_source(self) -> dict[str, list[str]]: ...

    @abstractmethod
    def documents_from(self, sources: list[str]) -> dict[str, list[Document]]: ...

    @abstractmethod
    def chunk_hashes(self) -> list[tuple[int, str]]: ...

    @abstractmethod
    def size_on_disk(self) -> int | None: ...

    @abstractmethod
    def close(self) -> None: ...

    def cited_chunks(self, rows: list[int]) -> dict[int, CitedChunk]:
        """Each row's chunk with its document's title, date, source and url."""
        chunks = dict(self.chunks(list(rows)))
        docs = self.documents(sorted({c.doc_id for c in chunks.values()}))
        return {row: CitedChunk(c, docs[c.doc_id].title, docs[c.doc_id].date,
                                docs[c.doc_id].source, docs[c.doc_id].url)
                for row, c in chunks.items()}

    def details(self) -> dict:
        """What `rag info` shows beyond the manifest."""
        return {"store": "local"}


class LocalStore(IndexStore, Store):
    """An index directory (`rag.indexing.store.IndexStore`) behind the `Store` interface."""

    @classmethod
    def adopt(cls, index: IndexStore) -> LocalStore:
        """The same opened index (files, connection, damage found) as a `LocalStore`."""
        if isinstance(index, LocalStore):
            return index
        store = cls.__new__(cls)
        store.__dict__.update(index.__dict__)
        return store

    def dense_hits(self, query: np.ndarray, depth: int) -> Hits:
        scores, rows = self.search(np.asarray(query, dtype=np.float32)[None, :], depth)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0]) if r >= 0]

    def lexical_hits(self, question: str, depth: int) -> Hits:
        return top(self.lexical.scores(question), depth)

    def vectors_of(self, rows: list[int]) -> np.ndarray:
        return np.asarray(self.vectors()[list(rows)], dtype=np.float32)

    def document_frequencies(self, terms: list[str]) -> list[int]:
        return self.lexical.document_frequencies(terms)


def as_store(store: Store | IndexStore) -> Store:
    """`store` behind the `Store` interface (an `IndexStore` is adopted as a `LocalStore`)."""
    return LocalStore.adopt(store) if isinstance(store, IndexStore) else store


def open_store(location: str | Path | Location) -> Store:
    """Open the current version of the index at `location` (a directory or a URI); errors
    name the command that builds it.

    >>> open_store("milvus:///tmp/v.db").manifest.chunks  # doctest: +SKIP
    """
    where = parse_location(location)
    if isinstance(where, MilvusURI):
        from .milvus_store import open_milvus

        return open_milvus(where)
    return LocalStore.adopt(open_index(where))
