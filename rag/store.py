"""Keep an index on disk: FAISS vectors, SQLite metadata, a manifest, written atomically.

An index is a directory:
- `manifest.json`: format name and version, package version, embedding model and
  dimension, chunker settings, FAISS index type, per-document content hashes, sources;
- `meta.sqlite`: documents (with their full text and content spans) and chunks (offsets,
  text, hash), in row order of the vectors;
- `vectors.npy`: the float32 unit vectors (`allow_pickle=False`), kept so an unchanged
  chunk is never embedded again and the FAISS index can be rebuilt in another type;
- `faiss.index`: the search structure (exact inner product by default);
- `bm25/`: the lexical index of the same chunks, row for row (`rag.lexical`: bm25s's
  directory format, `.npy` arrays without pickle and JSON), rebuilt from the chunk texts
  (with their documents' titles) on every write: seconds for 20,000 chunks.

`write_index` builds the new directory beside the old one and swaps it in with two renames;
a crash leaves the previous index whole (a half-finished swap is undone by `open_index`).
A directory that holds anything but an index is never overwritten.

Does not: embed, chunk or decide what changed (that is `rag.build`), or fuse rankings.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from .chunk import Chunk
from .errors import IndexMismatchError, IndexNotFoundError, InputError
from .ingest import Document
from .lexical import FILES as LEXICAL_FILES
from .lexical import TOKENIZER_VERSION, LexicalConfig, LexicalIndex, lexical_text

FORMAT = "verbatim-index"
FORMAT_VERSION = 2  # 2 added the BM25 index (bm25/) and the manifest's `lexical` settings
UPGRADABLE = (1,)  # older versions whose vectors `rag index` reuses when it rebuilds
IndexType = Literal["flat", "hnsw", "ivf"]
INDEX_TYPES = ("flat", "hnsw", "ivf")
REBUILD_HINT = "rebuild it with `rag index PATH ... --index {path}`"


@dataclass(frozen=True)
class StoreConfig:
    """How vectors are searched. `flat` is exact; `hnsw` and `ivf` are approximate."""

    index_type: IndexType = "flat"
    hnsw_m: int = 32
    ef_search: int = 128
    nprobe: int = 16

    def __post_init__(self):
        if self.index_type not in INDEX_TYPES:
            raise ValueError(f"unknown index type {self.index_type!r}; allowed: {', '.join(INDEX_TYPES)}")


@dataclass(frozen=True)
class Manifest:
    model: str
    dimension: int
    chunker: dict
    store: dict
    documents: dict[str, str]
    sources: list[str] = field(default_factory=list)
    chunks: int = 0
    lexical: dict = field(default_factory=lambda: asdict(LexicalConfig()))
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    package_version: str = ""

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, ensure_ascii=False)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("verbatim")
    except PackageNotFoundError:
        return "unknown"


_FILES = {"manifest.json", "meta.sqlite", "vectors.npy", "faiss.index", "bm25"}


def _is_ours(path: Path) -> bool:
    if path.is_dir() and {p.name for p in path.iterdir()} <= _FILES:
        return True
    try:
        return json.loads((path / "manifest.json").read_text()).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _recover(path: Path) -> None:
    """Undo a swap that stopped between its two renames."""
    if path.exists():
        return
    olds = sorted(path.parent.glob(f".{path.name}.old-*")) if path.parent.exists() else []
    if olds and _is_ours(olds[-1]):
        os.rename(olds[-1], path)


def write_index(path: str | Path, *, manifest: Manifest, documents: list[Document],
                chunks: list[Chunk], vectors: np.ndarray, config: StoreConfig) -> None:
    """Write a whole index to `path`, replacing an older one atomically.

    The BM25 index is built here from the chunk texts, with the manifest's `lexical` settings.
    """
    path = Path(path)
    _recover(path)
    if path.exists() and (not path.is_dir() or (any(path.iterdir()) and not _is_ours(path))):
        raise InputError(f"{path} exists and is not a verbatim index; choose another --index directory")
    if len(chunks) != len(vectors):
        raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        _write_meta(tmp / "meta.sqlite", documents, chunks)
        np.save(tmp / "vectors.npy", vectors.astype(np.float32), allow_pickle=False)
        _write_faiss(tmp / "faiss.index", vectors, config)
        _write_lexical(tmp / "bm25", documents, chunks, LexicalConfig(**manifest.lexical))
        (tmp / "manifest.json").write_text(manifest.to_json())
        _swap(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_lexical(folder: Path, documents: list[Document], chunks: list[Chunk],
                   config: LexicalConfig) -> None:
    titles = {d.id: d.title for d in documents}
    texts = [lexical_text(c.text, titles.get(c.doc_id), config) for c in chunks]
    LexicalIndex.build(texts, config).save(folder)


def _swap(tmp: Path, path: Path) -> None:
    old = None
    if path.exists():
        old = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(path, old)
    os.rename(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_meta(file: Path, documents: list[Document], chunks: list[Chunk]) -> None:
    con = sqlite3.connect(file)
    with con:
        con.executescript(_SCHEMA)
        con.executemany(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?)",
            [(d.id, d.title, d.date, d.source, d.url, d.hash, d.text, json.dumps(d.spans))
             for d in documents],
        )
        con.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)",
            [(row, c.id, c.doc_id, c.start, c.end, c.text, c.hash, c.n_tokens)
             for row, c in enumerate(chunks)],
        )
    con.close()


_SCHEMA = """
CREATE TABLE documents (id TEXT PRIMARY KEY, title TEXT, date TEXT, source TEXT, url TEXT,
                        hash TEXT, text TEXT, spans TEXT);
CREATE TABLE chunks (row INTEGER PRIMARY KEY, id TEXT, doc_id TEXT, start INTEGER, end INTEGER,
                     text TEXT, hash TEXT, n_tokens INTEGER);
CREATE INDEX chunks_doc ON chunks(doc_id);
"""


def build_faiss(vectors: np.ndarray, config: StoreConfig):
    """A FAISS inner-product index of the configured type holding `vectors`."""
    import faiss

    dim = vectors.shape[1]
    if config.index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = config.ef_search
    elif config.index_type == "ivf" and len(vectors) >= 1000:
        nlist = int(max(16, min(4 * np.sqrt(len(vectors)), len(vectors) // 39)))
        index = faiss.index_factory(dim, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = config.nprobe
    else:  # flat, or too few vectors to train IVF
        index = faiss.IndexFlatIP(dim)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def _write_faiss(file: Path, vectors: np.ndarray, config: StoreConfig) -> None:
    import faiss

    faiss.write_index(build_faiss(vectors, config), str(file))


class IndexStore:
    """An index opened for reading: manifest, metadata, vectors and FAISS structure."""

    def __init__(self, path: Path, manifest: Manifest):
        self.path = path
        self.manifest = manifest
        self._faiss = None
        self._lexical: LexicalIndex | None = None
        self._doc_ids: list[str] | None = None
        self._con = sqlite3.connect(f"file:{path / 'meta.sqlite'}?mode=ro", uri=True,
                                    check_same_thread=False)

    @property
    def faiss(self):
        if self._faiss is None:
            import faiss

            try:
                index = faiss.read_index(str(self.path / "faiss.index"))
            except RuntimeError as e:
                raise IndexMismatchError(
                    f"index at {self.path} is damaged (faiss.index unreadable: {e}); "
                    + REBUILD_HINT.format(path=self.path)) from e
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
                self._lexical = LexicalIndex.load(self.path / "bm25",
                                                  LexicalConfig(**self.manifest.lexical),
                                                  rows=self.manifest.chunks)
            except (OSError, ValueError, TypeError) as e:
                raise IndexMismatchError(
                    f"index at {self.path} is damaged (bm25/ unreadable: {e}); "
                    + REBUILD_HINT.format(path=self.path)) from e
        return self._lexical

    def doc_of(self, row: int) -> str:
        """The document id of chunk `row` (all rows are read once, then kept)."""
        if self._doc_ids is None:
            self._doc_ids = [r[0] for r in self._con.execute("SELECT doc_id FROM chunks ORDER BY row")]
        return self._doc_ids[row]

    def vectors(self) -> np.ndarray:
        return np.load(self.path / "vectors.npy", allow_pickle=False, mmap_mode="r")

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
        return sum(f.stat().st_size for f in self.path.rglob("*") if f.is_file())

    def close(self) -> None:
        self._con.close()


def open_index(path: str | Path, *, upgrade: bool = False) -> IndexStore:
    """Open and check an index directory; errors name the command that rebuilds it.

    With `upgrade=True` an index of an `UPGRADABLE` format version opens too (its BM25 part
    may be missing): `rag.build` reuses its vectors when it writes the current format.
    """
    path = Path(path)
    _recover(path)
    hint = REBUILD_HINT.format(path=path)
    if not (path / "manifest.json").exists():
        raise IndexNotFoundError(f"no index at {path}; {hint}")
    manifest = _read_manifest(path, hint, upgrade)
    current = manifest.format_version == FORMAT_VERSION
    files = ["meta.sqlite", "vectors.npy", "faiss.index"]
    files += [f"bm25/{f}" for f in LEXICAL_FILES] if current else []
    missing = [f for f in files if not (path / f).exists()]
    if missing:
        raise IndexMismatchError(f"index at {path} is damaged ({', '.join(missing)} missing); {hint}")
    try:
        store = IndexStore(path, manifest)
        store._con.execute("SELECT count(*) FROM chunks").fetchone()
        return store
    except sqlite3.Error as e:
        raise IndexMismatchError(f"index at {path} is damaged ({e}); {hint}") from e


def _read_manifest(path: Path, hint: str, upgrade: bool) -> Manifest:
    try:
        data = json.loads((path / "manifest.json").read_text())
        if not isinstance(data, dict):
            raise ValueError("manifest.json does not hold a JSON object")
        if data.get("format") != FORMAT:
            raise IndexMismatchError(f"{path} was not written by verbatim; {hint}")
        version = data.get("format_version")
        if version != FORMAT_VERSION and not (upgrade and version in UPGRADABLE):
            raise IndexMismatchError(
                f"index at {path} has format version {version}, this verbatim "
                f"reads version {FORMAT_VERSION}; {hint}"
            )
        manifest = Manifest(**data)
        tokenizer = LexicalConfig(**manifest.lexical).tokenizer
    except (ValueError, TypeError) as e:
        raise IndexMismatchError(f"the manifest of {path} is damaged ({e}); {hint}") from e
    if tokenizer != TOKENIZER_VERSION and version == FORMAT_VERSION and not upgrade:
        raise IndexMismatchError(
            f"index at {path} was tokenized for BM25 by tokenizer version {tokenizer}, this "
            f"verbatim uses version {TOKENIZER_VERSION}; {hint}")
    return manifest
