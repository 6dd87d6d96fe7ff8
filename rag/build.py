"""Build or update an index from files: ingest, chunk, embed what is new, store.

Incremental by content: a document whose hash is unchanged keeps its chunks and vectors,
and any chunk whose exact text was already embedded reuses its vector, so re-indexing an
unchanged corpus loads no model and embeds nothing, adding one file embeds only that file,
and a removed file's chunks disappear. An index built with another model or chunker is
rebuilt from scratch. The BM25 index is rebuilt from the chunk texts on every write (it is
cheap); changing only its settings, or upgrading an index written by an older format
version, re-embeds nothing.

Does not: watch folders, or keep several versions of an index.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .chunk import Chunk, ChunkConfig, chunk_document
from .embed import DEFAULT_MODEL, Embedder, get_embedder
from .errors import IndexMismatchError, IndexNotFoundError
from .ingest import Document, read_documents
from .lexical import LexicalConfig
from .store import (
    FORMAT_VERSION,
    IndexStore,
    Manifest,
    StoreConfig,
    _package_version,
    open_index,
    write_index,
)

_ROOT = Path(__file__).resolve().parent.parent


def default_index_dir() -> Path:
    """`$RAG_INDEX`, else `index/default` in the project checkout."""
    return Path(os.environ.get("RAG_INDEX") or _ROOT / "index" / "default")


def default_corpus() -> Path:
    """`$RAG_CORPUS`, else the project's `seeds/` folder."""
    return Path(os.environ.get("RAG_CORPUS") or _ROOT / "seeds")


@dataclass(frozen=True)
class BuildReport:
    """What one `build_index` call did."""

    index_dir: str
    documents: int
    chunks: int
    embedded: int
    reused: int
    added: tuple[str, ...]
    changed: tuple[str, ...]
    removed: tuple[str, ...]
    written: bool
    seconds: float


def build_index(
    paths: list[str | Path], *, index_dir: str | Path | None = None,
    embedder: Embedder | None = None, chunk_config: ChunkConfig = ChunkConfig(),
    store_config: StoreConfig = StoreConfig(), lexical_config: LexicalConfig = LexicalConfig(),
    add: bool = False, progress: bool = False,
) -> BuildReport:
    """Index the articles under `paths` into `index_dir`.

    With `add=True` the documents already indexed stay and the new ones join them;
    otherwise the index ends up holding exactly the documents under `paths`.

    >>> build_index(["seeds/"])  # doctest: +SKIP
    """
    started = time.perf_counter()
    index_dir = Path(index_dir) if index_dir else default_index_dir()
    embedder = embedder or get_embedder(DEFAULT_MODEL)
    documents = read_documents(list(paths))
    old = _open_compatible(index_dir, embedder, chunk_config)
    old_docs = old.documents() if old else {}
    if add:
        fresh = {d.id for d in documents}
        documents = [d for d in old_docs.values() if d.id not in fresh] + documents
    sources = sorted({str(Path(p)) for p in paths} | (set(old.manifest.sources) if add and old else set()))
    plan = _plan(documents, old_docs)
    if old and not (plan["added"] or plan["changed"] or plan["removed"]) \
            and _same_settings(old.manifest, store_config, lexical_config, sources):
        return _report(index_dir, old.manifest.chunks, len(documents), 0, old.manifest.chunks,
                       plan, False, started)
    chunks, vectors, embedded = _chunks_and_vectors(documents, old, embedder, chunk_config, progress)
    manifest = Manifest(
        model=embedder.name, dimension=embedder.dimension, chunker=asdict(chunk_config),
        store=asdict(store_config), documents={d.id: d.hash for d in documents},
        sources=sources, chunks=len(chunks), lexical=asdict(lexical_config),
        package_version=_package_version())
    if old:
        old.close()
    write_index(index_dir, manifest=manifest, documents=documents, chunks=chunks,
                vectors=vectors, config=store_config)
    return _report(index_dir, len(chunks), len(documents), embedded, len(chunks) - embedded,
                   plan, True, started)


def _report(index_dir, n_chunks, n_docs, embedded, reused, plan, written, started) -> BuildReport:
    return BuildReport(
        index_dir=str(index_dir), documents=n_docs, chunks=n_chunks, embedded=embedded,
        reused=reused, added=tuple(plan["added"]), changed=tuple(plan["changed"]),
        removed=tuple(plan["removed"]), written=written, seconds=time.perf_counter() - started,
    )


def _same_settings(m: Manifest, store: StoreConfig, lexical: LexicalConfig,
                   sources: list[str]) -> bool:
    """True when an index with manifest `m` needs no rewrite for these settings."""
    return (m.format_version == FORMAT_VERSION and m.store == asdict(store)
            and m.lexical == asdict(lexical) and m.sources == sources)


def _open_compatible(index_dir: Path, embedder: Embedder, config: ChunkConfig) -> IndexStore | None:
    """The existing index if its vectors can be reused, else None (a full rebuild)."""
    try:
        old = open_index(index_dir, upgrade=True)
    except (IndexNotFoundError, IndexMismatchError):
        return None
    m = old.manifest
    if m.model != embedder.name or m.dimension != embedder.dimension or m.chunker != asdict(config):
        old.close()
        return None
    return old


def _plan(documents: list[Document], old_docs: dict[str, Document]) -> dict[str, list[str]]:
    new = {d.id: d.hash for d in documents}
    return {
        "added": sorted(i for i in new if i not in old_docs),
        "changed": sorted(i for i in new if i in old_docs and old_docs[i].hash != new[i]),
        "removed": sorted(i for i in old_docs if i not in new),
    }


def _chunks_and_vectors(documents, old, embedder, config, progress):
    """All chunks in document order, with vectors reused by chunk text or newly embedded."""
    reuse: dict[str, int] = {}
    old_chunks: dict[str, list[tuple[int, Chunk]]] = {}
    if old is not None:
        for row, chunk in old.chunks():
            reuse.setdefault(chunk.hash, row)
            old_chunks.setdefault(chunk.doc_id, []).append((row, chunk))
    old_hashes = old.manifest.documents if old is not None else {}
    chunks: list[Chunk] = []
    for doc in documents:
        if old_hashes.get(doc.id) == doc.hash and doc.id in old_chunks:
            chunks.extend(c for _, c in old_chunks[doc.id])
        else:
            chunks.extend(chunk_document(doc, config=config, model_limit=embedder.max_tokens,
                                         model_counter=embedder.count_tokens))
    dim = embedder.dimension
    vectors = np.zeros((len(chunks), dim), dtype=np.float32)
    todo = [i for i, c in enumerate(chunks) if c.hash not in reuse]
    if reuse and len(todo) < len(chunks):
        old_vectors = old.vectors()
        for i, c in enumerate(chunks):
            if c.hash in reuse:
                vectors[i] = old_vectors[reuse[c.hash]]
    if todo:
        fresh = embedder.embed([chunks[i].text for i in todo], progress=progress)
        vectors[todo] = fresh
    return chunks, vectors, len(todo)
