"""What an index holds, document by document, and taking documents out of it.

`list_documents(store)` gives each indexed document's id, title, date, source, URL and chunk
count, read from the index's metadata without loading any article text. `remove_documents(ids,
index_dir=...)` publishes a version of the index without those documents through the same
machinery as `rag.indexing.build` (the writer lock, a `Job` that reuses every remaining
vector, one atomic swap): nothing is embedded, a search keeps the version it opened, and a
second writer is told the index is busy.

Does not: delete the files documents were read from, so a later `rag index` of the folder a
removed document came from indexes it again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..errors import InputError
from . import disk, swap
from .build import BuildReport, default_index_dir
from .embed import Embedder, get_embedder
from .job import Job
from .manifest import package_version
from .settings import characters_of
from .store import IndexStore, StoreConfig, open_index

MAX_REMOVE = 1000  # documents one call may remove


@dataclass(frozen=True)
class DocumentInfo:
    """One indexed document, without its text."""

    id: str
    title: str
    date: str | None
    source: str
    url: str | None
    chunks: int

    def to_dict(self) -> dict:
        return asdict(self)


def list_documents(store: IndexStore, *, title: str = "") -> list[DocumentInfo]:
    """The documents of `store` in index order; with `title`, those whose title, id or file
    name contains it (case and spacing ignored).

    >>> [d.id for d in list_documents(open_index("index/default"), title="rutte")]  # doctest: +SKIP
    ['004_47575fa39b048119']
    """
    con = sqlite3.connect(f"file:{store.root / 'meta.sqlite'}?mode=ro", uri=True)
    try:
        counts = dict(con.execute("SELECT doc_id, COUNT(*) FROM chunks GROUP BY doc_id"))
        rows = con.execute("SELECT id, title, date, source, url FROM documents ORDER BY rowid")
        docs = [DocumentInfo(*row, chunks=counts.get(row[0], 0)) for row in rows]
    finally:
        con.close()
    wanted = _fold(title)
    if not wanted:
        return docs
    return [d for d in docs
            if any(wanted in _fold(s) for s in (d.title, d.id, Path(d.source).name))]


def _fold(text: str | None) -> str:
    return " ".join(str(text or "").split()).casefold()


def remove_documents(ids: Iterable[str], *, index_dir: str | Path | None = None,
                     embedder: Embedder | None = None) -> BuildReport:
    """Publish the index at `index_dir` without the documents `ids`; what was done.

    Every id must be indexed, and at least one document must stay. A file that held a removed
    document loses its size-and-time record, so the next `rag index` over it reads it again.

    >>> remove_documents(["003_e0c101915f90f1cd"])  # doctest: +SKIP
    """
    started = time.perf_counter()
    index_dir = Path(index_dir) if index_dir else default_index_dir()
    gone = _checked(ids)
    with disk.writing(index_dir), swap.locked(index_dir):
        old = open_index(index_dir, upgrade=True, damaged=True)
        try:
            unknown = sorted(gone - set(old.manifest.documents))
            if unknown:
                raise InputError(f"no document {', '.join(unknown[:5])} in the index at "
                                 f"{index_dir}; `rag docs` lists the ids")
            if gone >= set(old.manifest.documents):
                raise InputError("that would remove every document of the index; build a new "
                                 "index with `rag index PATH ... --index DIR` instead")
            job = _job(old, gone, embedder or get_embedder(old.manifest.model))
            embedded = job.run(old)
        finally:
            old.close()
    return BuildReport(index_dir=str(index_dir), documents=len(job.documents),
                       chunks=len(job.chunks), embedded=embedded,
                       reused=len(job.chunks) - embedded, added=(), changed=(),
                       removed=tuple(sorted(gone)), written=True,
                       seconds=time.perf_counter() - started)


def _checked(ids: Iterable[str]) -> set[str]:
    if isinstance(ids, str):
        ids = [ids]
    out = set()
    for i in ids:
        if not isinstance(i, str) or not i:
            raise InputError(f"a document id must be a non-empty string (got {i!r})")
        out.add(i)
    if not out:
        raise InputError("name at least one document to remove")
    if len(out) > MAX_REMOVE:
        raise InputError(f"{len(out):,} documents at once; remove at most {MAX_REMOVE:,} per call")
    return out


def _job(old: IndexStore, gone: set[str], embedder: Embedder) -> Job:
    """The build job that publishes `old` without the documents `gone`."""
    m = old.manifest
    if embedder.name != m.model or embedder.dimension != m.dimension:
        raise InputError(f"the index at {old.path} was built with {m.model}, not "
                         f"{embedder.name}; remove documents with the index's own model")
    texts = old.documents()
    documents = [texts[i] for i in m.documents if i not in gone]
    emptied = {texts[i].source for i in gone}
    files = {path: stat for path, stat in old.files().items() if path not in emptied}
    chunks = [c for _, c in old.chunks() if c.doc_id not in gone]
    manifest = replace(m, documents={d.id: m.documents[d.id] for d in documents},
                       chunks=len(chunks), package_version=package_version(),
                       characters=characters_of(documents))
    return Job(old.path, manifest, documents, chunks, files, StoreConfig(**m.store), embedder,
               snapshot_every=None)
