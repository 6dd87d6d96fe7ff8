"""Keep an index on disk: FAISS vectors, SQLite metadata, a manifest, written atomically.

An index is a directory:
- `manifest.json` (`rag.indexing.manifest`): format name and version, package version,
  embedding model and dimension, chunker settings, FAISS index type, per-document content
  hashes, sources, and the size of every other file;
- `meta.sqlite`: documents (with their full text and content spans) and chunks (offsets,
  text, hash), in row order of the vectors;
- `vectors.npy`: the float32 unit vectors (`allow_pickle=False`), kept so an unchanged
  chunk is never embedded again and the FAISS index can be rebuilt in another type;
- `faiss.index`: the search structure (exact inner product by default);
- `bm25/`: the lexical index of the same chunks, row for row (`rag.indexing.lexical`: bm25s's
  directory format, `.npy` arrays without pickle and JSON), rebuilt from the chunk texts
  (with their documents' titles) on every write: seconds for 20,000 chunks.

The path is a link to a version directory (`rag.indexing.swap`): `IndexWriter` fills a new version
beside the old one and publishes it in one atomic step, so a crash leaves the previous index
whole, and a reader keeps the version it opened. A directory that holds anything but an
index is never overwritten. While `rag index` is still embedding it publishes snapshots:
every chunk is in the metadata and BM25, and the manifest's `pending` counts the chunks whose
vectors are not made yet (zero rows in `vectors.npy`, left out of FAISS).

`open_index` checks every file against the manifest first (`rag.indexing.health`): a damaged
index is an error naming the command that rebuilds it, never a crash later in a search. Space
for the vectors is reserved before they are written (`rag.indexing.disk`), so a full disk is
an error, not a "Bus error".

Does not: embed, chunk or decide what changed (that is `rag.indexing.build`), or fuse rankings.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Self

import numpy as np

from ..errors import IndexMismatchError, IndexNotFoundError, InputError, RagError
from ..reading.chunk import Chunk
from ..reading.ingest import Document
from . import ann, disk, health, layout, swap
from .lexical import LexicalConfig, LexicalIndex, read_prefixes
from .manifest import FORMAT, FORMAT_VERSION, Manifest, read_manifest, rebuild_hint

IndexType = Literal["auto", "flat", "hnsw", "ivf", "ivf-sq8"]
INDEX_TYPES = ("auto", "flat", "hnsw", "ivf", "ivf-sq8")


@dataclass(frozen=True)
class StoreConfig:
    """How vectors are searched. `flat` is exact; `hnsw`, `ivf` and `ivf-sq8` (8-bit codes,
    a quarter of the memory) are approximate; `auto` is exact up to `auto_flat_max` chunks,
    then `ivf` (recall@10 >= 0.95 at 1M chunks with `nprobe` 32, see bench/)."""

    index_type: IndexType = "auto"
    hnsw_m: int = 32
    ef_search: int = 128
    nprobe: int = 32
    auto_flat_max: int = 50_000

    def __post_init__(self):
        if self.index_type not in INDEX_TYPES:
            raise ValueError(f"unknown index type {self.index_type!r}; allowed: {', '.join(INDEX_TYPES)}")


_FILES = {"manifest.json", "meta.sqlite", "vectors.npy", "faiss.index", "bm25", health.MARK}


def _is_ours(path: Path) -> bool:
    if path.is_dir() and {p.name for p in path.iterdir()} <= _FILES:
        return True
    try:
        return json.loads((path / "manifest.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def check_target(path: Path) -> None:
    """Refuse to write over a file, or a directory that holds anything but an index."""
    if path.is_symlink() and not path.exists():
        return  # a link to a version someone deleted: replaced by the next publish
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not _is_ours(path))):
        raise InputError(f"{path} exists and is not a verbatim index; choose another --index directory")


class IndexWriter:
    """A new version of the index at `path`, written beside it and published in one step.

    Holds the index's writer lock from creation to `publish` or `discard`; as a context
    manager it discards the version if the block raises. `vectors` is a memory-mapped
    `vectors.npy`, so a large index never holds its vectors in memory twice. Rows whose
    vector is still all zeros are pending (not embedded yet): the FAISS index leaves them
    out and the manifest counts them.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = swap.locked(self.path)
        self._lock.__enter__()
        try:
            swap.recover(self.path)
            check_target(self.path)
            self.dir = swap.new_version(self.path)
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        self._vectors: np.ndarray | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind, value, tb) -> None:
        if kind is not None:
            self.discard()

    def vectors(self, rows: int, dimension: int) -> np.ndarray:
        """The writable (rows, dimension) float32 array stored as `vectors.npy`, all zeros."""
        self._vectors = disk.reserved_memmap(self.dir / "vectors.npy", (rows, dimension))
        return self._vectors

    def write_meta(self, documents: list[Document], chunks: list[Chunk],
                   files: dict[str, tuple[int, int]] | None = None) -> None:
        layout.write_meta(self.dir / "meta.sqlite", documents, chunks, files or {})

    def write_lexical(self, documents: list[Document], chunks: list[Chunk],
                      config: LexicalConfig, analyzed=None) -> None:
        """The BM25 index; `analyzed` as `rag.indexing.lexical.LexicalIndex.build` takes it."""
        layout.write_lexical(self.dir / "bm25", documents, chunks, config, analyzed)

    def reuse(self, version: Path, names: tuple[str, ...] = ("meta.sqlite", "bm25")) -> None:
        """Share unchanged files of another version by hard link (a copy where links fail)."""
        for name in names:
            source, target = version / name, self.dir / name
            if source.is_dir():
                shutil.copytree(source, target, copy_function=layout.link_or_copy)
            else:
                layout.link_or_copy(source, target)

    def publish(self, manifest: Manifest, config: StoreConfig) -> Manifest:
        """Build the FAISS index, write the manifest and swap this version in."""
        if self._vectors is None:
            raise ValueError("IndexWriter.vectors() was never called")
        self._vectors.flush()
        embedded = np.flatnonzero(np.any(self._vectors != 0, axis=1))
        index, described = ann.build(self._vectors, embedded, config)
        _write_faiss(self.dir / "faiss.index", index)
        manifest = replace(manifest, pending=len(self._vectors) - len(embedded), faiss=described,
                           format_version=FORMAT_VERSION, chunks=len(self._vectors),
                           files=health.sizes(self.dir))
        (self.dir / "manifest.json").write_text(manifest.to_json())
        self._vectors = None
        swap.publish(self.path, self.dir)
        self._lock.__exit__(None, None, None)
        return manifest

    def discard(self) -> None:
        self._vectors = None
        swap.discard(self.dir)
        self._lock.__exit__(None, None, None)


def write_index(path: str | Path, *, manifest: Manifest, documents: list[Document],
                chunks: list[Chunk], vectors: np.ndarray, config: StoreConfig,
                files: dict[str, tuple[int, int]] | None = None) -> Manifest:
    """Write a whole index to `path`, replacing an older one atomically.

    The BM25 index is built here from the chunk texts, with the manifest's `lexical` settings.
    """
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    with IndexWriter(path) as writer:
        writer.write_meta(documents, chunks, files)
        out = writer.vectors(len(chunks), vectors.shape[1] if vectors.ndim == 2 else manifest.dimension)
        out[:] = vectors
        writer.write_lexical(documents, chunks, LexicalConfig(**manifest.lexical))
        return writer.publish(manifest, config)


def _write_faiss(file: Path, index) -> None:
    disk.write_faiss(file, index)


class IndexStore:
    """An index opened for reading: manifest, metadata, vectors and FAISS structure."""

    def __init__(self, path: Path, manifest: Manifest, *, root: Path | None = None,
                 meta: bool = True):
        self.path = path  # as the user named it
        self.root = root or path  # the version directory it pointed at when opened
        self.manifest = manifest
        self.damage: tuple[tuple[str, str], ...] = ()  # (file, what is wrong): `open_index`
        self._faiss = None
        self._lexical: LexicalIndex | None = None
        self._vectors: np.ndarray | None = None
        self._doc_ids: list[str] | None = None
        self._con = sqlite3.connect(f"file:{self.root / 'meta.sqlite'}?mode=ro" if meta
                                    else ":memory:", uri=True, check_same_thread=False)

    def _damaged(self, file: str, why: str) -> IndexMismatchError:
        """The error for a file found unreadable now, noted in the version for `rag index`."""
        health.mark(self.root, file, why)
        return IndexMismatchError(f"index at {self.path} is damaged ({file} {why}); "
                                  + rebuild_hint(self.path, self.manifest.sources))

    def is_current(self) -> bool:
        """False once a newer version of the index has been published at `path`."""
        return swap.current_version(self.path) == self.root

    @property
    def faiss(self):
        if self._faiss is None:
            import faiss

            try:
                index = faiss.read_index(str(self.root / "faiss.index"))
            except RuntimeError as e:  # FAISS's message is a C++ assertion: not for people
                raise self._damaged("faiss.index", "is not a readable FAISS index") from e
            params = self.manifest.store
            if hasattr(index, "hnsw"):
                index.hnsw.efSearch = params.get("ef_search", 128)
            if hasattr(index, "nprobe"):
                index.nprobe = params.get("nprobe", 16)
            self._faiss = index
        return self._faiss

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index of the chunks (row i is chunk row i), loaded on first use."""
        if self._lexical is None:
            try:
                self._lexical = LexicalIndex.load(self.root / "bm25",
                                                  LexicalConfig(**self.manifest.lexical),
                                                  rows=self.manifest.chunks)
            except (OSError, ValueError, TypeError) as e:
                raise self._damaged("bm25/", f"is unreadable ({e})") from e
        return self._lexical

    def word_prefixes(self) -> frozenset[str] | None:
        """The corpus's word prefixes saved beside the BM25 index (without loading BM25 itself
        when it is not loaded yet); None for an index saved before they were kept."""
        if self._lexical is not None:
            return self._lexical.prefixes
        return read_prefixes(self.root / "bm25")

    def doc_of(self, row: int) -> str:
        """The document id of chunk `row` (all rows are read once, then kept)."""
        if self._doc_ids is None:
            self._doc_ids = [r[0] for r in self._con.execute("SELECT doc_id FROM chunks ORDER BY row")]
        return self._doc_ids[row]

    def vectors(self) -> np.ndarray:
        """All vectors, memory-mapped (read once; pending rows are zeros). Of an index opened
        with damaged vectors (`open_index(damaged=True)`), the whole rows it still holds."""
        if self._vectors is None:
            file = self.root / "vectors.npy"
            if any(f == "vectors.npy" for f, _ in self.damage):
                self._vectors = health.salvage_vectors(file, self.manifest.dimension)
                return self._vectors
            try:
                self._vectors = np.load(file, allow_pickle=False, mmap_mode="r")
            except (OSError, ValueError) as e:
                raise self._damaged("vectors.npy", f"is unreadable ({e})") from e
        return self._vectors

    def chunk_hashes(self) -> list[tuple[int, str]]:
        """(row, chunk text hash) of every chunk, in row order."""
        return list(self._con.execute("SELECT row, hash FROM chunks ORDER BY row"))

    def files(self) -> dict[str, tuple[int, int]]:
        """Source file path -> (size, mtime_ns) when it was read; empty for older indexes."""
        try:
            return {r[0]: (r[1], r[2]) for r in self._con.execute("SELECT * FROM files")}
        except sqlite3.OperationalError:
            return {}

    def ids_by_source(self) -> dict[str, list[str]]:
        """Source file -> the ids of the documents read from it (without their texts)."""
        out: dict[str, list[str]] = {}
        for doc_id, source in self._con.execute("SELECT id, source FROM documents ORDER BY rowid"):
            out.setdefault(source, []).append(doc_id)
        return out

    def documents_from(self, sources: list[str]) -> dict[str, list[Document]]:
        """The documents read from each of these source files (one file may hold several)."""
        out: dict[str, list[Document]] = {}
        for i in range(0, len(sources), 500):
            part = sources[i:i + 500]
            rows = self._con.execute(f"SELECT id FROM documents WHERE source IN "
                                     f"({','.join('?' * len(part))}) ORDER BY rowid", part)
            for doc in self.documents([r[0] for r in rows]).values():
                out.setdefault(doc.source, []).append(doc)
        return out

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, rows) for each query; rows are -1 where fewer than k exist."""
        return self.faiss.search(np.ascontiguousarray(queries, dtype=np.float32), k)

    def chunks(self, rows: list[int] | None = None) -> list[tuple[int, Chunk]]:
        sql = "SELECT row, id, doc_id, start, end, text, n_tokens FROM chunks"
        if rows is None:
            cur = self._con.execute(sql + " ORDER BY row")
        else:
            cur = self._con.execute(sql + f" WHERE row IN ({','.join('?' * len(rows))})", rows)
        return [(r[0], Chunk(id=r[1], doc_id=r[2], start=r[3], end=r[4], text=r[5], n_tokens=r[6]))
                for r in cur]

    def documents(self, ids: list[str] | None = None) -> dict[str, Document]:
        sql = "SELECT id, title, date, source, url, hash, text, spans FROM documents"
        if ids is None:
            cur = self._con.execute(sql)
        else:
            cur = self._con.execute(sql + f" WHERE id IN ({','.join('?' * len(ids))})", ids)
        return {r[0]: Document(id=r[0], title=r[1], date=r[2], source=r[3], url=r[4], hash=r[5],
                               text=r[6], spans=tuple(tuple(s) for s in json.loads(r[7])))
                for r in cur}

    def size_on_disk(self) -> int:
        return sum(f.stat().st_size for f in self.root.rglob("*") if f.is_file())

    def close(self) -> None:
        self._con.close()


def open_index(path: str | Path, *, upgrade: bool = False, damaged: bool = False) -> IndexStore:
    """Open and check an index directory; errors name the command that rebuilds it.

    With `upgrade=True` an index of an `UPGRADABLE` format version opens too (its BM25 part
    may be missing): `rag.indexing.build` reuses its vectors when it writes the current format.
    With `damaged=True` an index whose metadata is sound opens even when other files are
    damaged (`IndexStore.damage` lists what is wrong): `rag.indexing.build` repairs it.
    """
    path = Path(path)
    try:
        swap.recover(path)
        root = swap.current_version(path)
        if root is None or not (root / "manifest.json").exists():
            raise IndexNotFoundError(f"no index at {path}; {rebuild_hint(path)}")
        manifest = read_manifest(root, upgrade=upgrade, shown=path)
        meta = (root / "meta.sqlite").is_file()
        store = IndexStore(path, manifest, root=root, meta=meta)
    except PermissionError as e:
        raise RagError(f"cannot read the index at {path}: permission denied ({e.filename}); "
                       f"run as a user who can read it, or give this one access "
                       f"(chmod -R a+rX on the index folder)") from e
    found = health.problems(root, manifest, store._con if meta else None)
    bad_meta = any(f == "meta.sqlite" for f, _ in found)
    if found and (bad_meta or not damaged):
        store.close()
        error = IndexMismatchError(f"index at {path} is damaged ({health.describe(found)}); "
                                   + rebuild_hint(path, manifest.sources))
        error.why = health.describe(found)
        raise error
    store.damage = tuple(found)
    return store
