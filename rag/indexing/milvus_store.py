"""An index kept in Milvus (a milvus-lite file or a server): its collections, and one
published version opened for reading.

Each version `n` of the index named `name` is three collections and the alias `verbatim_<name>`
points at the chunks collection of the published one:
- `verbatim_<name>_v<n>_chunks`: a row per chunk, keyed by its row number: chunk id, doc id,
  start, end, token count, text, hash, and its document's title, date, source and url; the
  dense vector; and `terms`, the chunk's BM25 terms made by verbatim's own tokenizer
  (`rag.indexing.lexical`: numbers, amounts, hyphenated names, folding, stemming), each
  written as one run of `[0-9a-z_]` that Milvus's standard analyzer keeps whole. Milvus's
  own BM25 function turns `terms` into the sparse field `sparse` (k1 and b as ours).
- `..._docs`: each document's full text (quotes are verified against it) and content spans,
  cut into parts of at most 65,535 UTF-8 bytes (Milvus's VARCHAR limit);
- `..._meta`: named JSON blobs, in parts too: `intent` (model and dimension, written first),
  `prefixes` (the answerer's word prefixes), `frequencies` (how many chunks hold each BM25
  term, which Milvus does not expose: the answerer weighs words by them as it does with a
  local index), `files` (sizes and times of the source files),
  and `manifest`, written last: a version without one is unfinished.
Milvus needs a vector field in every collection, so `_docs` and `_meta` carry a 2-d dummy.

A reader resolves the alias once and reads that version only (row numbers belong to it);
`is_current()` says when a newer one is out. BM25 scores are divided by (k1 + 1), which makes
them bm25s's "lucene" scores, as the local store gives them (milvus-lite reports them as
negative distances, a server as positive scores).

Does not: write versions (`rag.indexing.milvus_build`), embed, or fuse rankings.
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np

from ..errors import IndexMismatchError, IndexNotFoundError
from ..reading.chunk import Chunk
from ..reading.ingest import Document
from . import milvus_connect as mc
from .backend import CitedChunk, Hits, Store
from .lexical import LexicalConfig, tokenize
from .location import MilvusURI, option
from .manifest import Manifest

FORMAT = "verbatim-milvus"
FORMAT_VERSION = 1
PART_BYTES = 65_535  # Milvus's VARCHAR limit, in UTF-8 bytes (milvus-lite counts characters)
BATCH = 1000  # rows per get, query or insert
TIES = 16  # BM25 hits fetched beyond those asked for, so ties are broken as bm25s breaks them
CHUNK_FIELDS = ["row", "chunk_id", "doc_id", "start", "end", "n_tokens", "text", "hash",
                "title", "date", "source", "url"]
DOC_FIELDS = ["doc_id", "part", "title", "date", "source", "url", "hash", "text", "spans"]
_WORD = re.compile(r"[0-9a-z]+")
_LONGEST = 40  # encoded terms longer than this are hashed (analyzers may drop long tokens)


def collection_names(prefix: str, version: int) -> dict[str, str]:
    base = f"{prefix}_v{version:06d}"
    return {"chunks": f"{base}_chunks", "docs": f"{base}_docs", "meta": f"{base}_meta"}


def versions(client, prefix: str) -> list[int]:
    """Every version of the index with at least one collection, published or not."""
    pattern = re.compile(rf"^{re.escape(prefix)}_v(\d{{6}})_(chunks|docs|meta)$")
    found = {int(m.group(1)) for m in map(pattern.match, client.list_collections()) if m}
    return sorted(found)


def published_version(client, prefix: str) -> int | None:
    """The version the alias points at, or None when nothing is published."""
    if prefix not in client.list_aliases().get("aliases", []):
        return None
    target = client.describe_alias(prefix)["collection_name"]
    m = re.fullmatch(rf"{re.escape(prefix)}_v(\d{{6}})_chunks", target)
    return int(m.group(1)) if m else None


# -- our BM25 terms, and long values in parts --------------------------------------------------

def encode_term(term: str) -> str:
    """A term as one run of `[0-9a-z_]` that Milvus's standard analyzer keeps whole: plain
    ASCII words and numbers as they are, anything else (`secretary-general`, `$95.3`, `2%`,
    a non-Latin word) as `_` + the hex of its UTF-8 (our terms never contain `_`); a long
    one as `_` + a hash of it.

    >>> encode_term("nato"), encode_term("$95.3")
    ('nato', '_2439352e33')
    """
    if _WORD.fullmatch(term) and len(term) <= _LONGEST:
        return term
    encoded = "_" + term.encode("utf-8").hex()
    if len(encoded) <= _LONGEST:
        return encoded
    return "_" + hashlib.blake2b(term.encode("utf-8"), digest_size=16).hexdigest()


def lexical_terms(text: str, config: LexicalConfig) -> str:
    """What goes into `terms` for a chunk's BM25 text, and what a question becomes."""
    return " ".join(encode_term(t) for t in tokenize(text, stem=config.stem))


def split_utf8(text: str, limit: int = PART_BYTES) -> list[str]:
    """`text` in pieces of at most `limit` UTF-8 bytes, cut between characters.

    >>> split_utf8("aéb", 2)
    ['a', 'é', 'b']
    """
    data = text.encode("utf-8")
    parts, i = [], 0
    while i < len(data):
        j = min(i + limit, len(data))
        while j < len(data) and (data[j] & 0xC0) == 0x80:  # never inside a character
            j -= 1
        parts.append(data[i:j].decode("utf-8"))
        i = j
    return parts or [""]


def quoted(values: list[str]) -> str:
    """A filter expression's list literal: `["a", "b"]` (Milvus reads JSON's escapes)."""
    return json.dumps(values, ensure_ascii=False)


def read_blob(client, collection: str, name: str) -> str | None:
    rows = client.query(collection, filter=f"name == {quoted([name])[1:-1]}",
                        output_fields=["part", "value"])
    if not rows:
        return None
    return "".join(r["value"] for r in sorted(rows, key=lambda r: r["part"]))


def query_all(client, collection: str, fields: list[str], expr: str = "") -> list[dict]:
    """Every row of `collection` matching `expr`, in batches."""
    out: list[dict] = []
    it = client.query_iterator(collection, batch_size=BATCH, output_fields=fields, filter=expr)
    try:
        while batch := it.next():
            out.extend(batch)
    finally:
        it.close()
    return out


def assemble_documents(records: list[dict]) -> dict[str, Document]:
    """Documents from their part rows, in any order."""
    by_doc: dict[str, list[dict]] = {}
    for r in records:
        by_doc.setdefault(r["doc_id"], []).append(r)
    out = {}
    for doc_id, parts in by_doc.items():
        parts.sort(key=lambda r: r["part"])
        head = parts[0]
        spans = json.loads("".join(p["spans"] for p in parts) or "[]")
        out[doc_id] = Document(id=doc_id, title=head["title"], text="".join(p["text"] for p in parts),
                               source=head["source"], date=head["date"] or None,
                               url=head["url"] or None, hash=head["hash"],
                               spans=tuple(tuple(s) for s in spans))
    return out


class MilvusStore(Store):
    """One published version of an index in Milvus, opened for reading."""

    def __init__(self, client, where: MilvusURI, version: int, manifest: Manifest):
        self.client, self.where, self.version = client, where, version
        self.path = where.shown  # what messages show and `open_store` opens again
        self.names = collection_names(where.prefix, version)
        self.manifest = manifest
        self.lexical_config = LexicalConfig(**manifest.lexical)
        self.damage: tuple = ()  # nothing to repair: Milvus keeps its own files
        self._doc_ids: dict[int, str] = {}
        self._prefixes: frozenset[str] | None = None
        self._frequencies: dict[str, int] | None = None
        self._search_params = {"metric_type": "IP", "params": search_params(manifest)}

    def _call(self, fn, *args, **kwargs):
        return mc.call(self.where, f"version {self.version}", fn, *args, **kwargs)

    def dense_hits(self, query: np.ndarray, depth: int) -> Hits:
        vector = np.asarray(query, dtype=np.float32).tolist()
        res = self._call(self.client.search, self.names["chunks"], [vector], anns_field="dense",
                         limit=depth, output_fields=["doc_id"], search_params=self._search_params)
        return [(row, score) for row, score in self._rows(res[0])]

    def lexical_hits(self, question: str, depth: int) -> Hits:
        terms = lexical_terms(question, self.lexical_config)
        if not terms:
            return []
        limit = min(depth + TIES, max(self.manifest.chunks, 1))  # ties at the cut: lower row
        res = self._call(self.client.search, self.names["chunks"], [terms], anns_field="sparse",
                         limit=limit, output_fields=["doc_id"],
                         search_params={"metric_type": "BM25"})
        scale = 1 + self.lexical_config.k1  # Milvus's BM25 = (k1 + 1) x bm25s's "lucene"
        hits = [(row, float(np.float32(abs(score) / scale))) for row, score in self._rows(res[0])]
        return sorted((h for h in hits if h[1] > 0), key=lambda h: (-h[1], h[0]))[:depth]

    def _rows(self, result) -> list[tuple[int, float]]:
        out = []
        for hit in result:
            row = int(hit["row"])
            self._doc_ids[row] = hit["entity"]["doc_id"]
            out.append((row, float(hit["distance"])))
        return out

    def vectors_of(self, rows: list[int]) -> np.ndarray:
        rows = [int(r) for r in rows]
        got: dict[int, list[float]] = {}
        for i in range(0, len(rows), BATCH):
            for r in self._call(self.client.get, self.names["chunks"], ids=rows[i:i + BATCH],
                                output_fields=["row", "dense"]):
                got[r["row"]] = r["dense"]
        if not rows:
            return np.zeros((0, self.manifest.dimension), np.float32)
        return np.asarray([got[r] for r in rows], dtype=np.float32)

    def _chunk_records(self, rows: list[int] | None) -> list[dict]:
        if rows is None:
            return self._call(query_all, self.client, self.names["chunks"], CHUNK_FIELDS)
        out: list[dict] = []
        for i in range(0, len(rows), BATCH):
            out += self._call(self.client.get, self.names["chunks"],
                              ids=[int(r) for r in rows[i:i + BATCH]], output_fields=CHUNK_FIELDS)
        return out

    def chunks(self, rows: list[int] | None = None) -> list[tuple[int, Chunk]]:
        return [(row, cited.chunk) for row, cited in sorted(self._cited(rows).items())]

    def cited_chunks(self, rows: list[int]) -> dict[int, CitedChunk]:
        return self._cited(list(rows))

    def _cited(self, rows: list[int] | None) -> dict[int, CitedChunk]:
        out = {}
        for r in self._chunk_records(rows):
            self._doc_ids[r["row"]] = r["doc_id"]
            chunk = Chunk(id=r["chunk_id"], doc_id=r["doc_id"], start=r["start"], end=r["end"],
                          text=r["text"], n_tokens=r["n_tokens"])
            out[r["row"]] = CitedChunk(chunk, r["title"], r["date"] or None, r["source"],
                                       r["url"] or None)
        return out

    def doc_of(self, row: int) -> str:
        if row not in self._doc_ids:
            self._chunk_records([row])
        return self._doc_ids[row]

    def documents(self, ids: list[str] | None = None) -> dict[str, Document]:
        return assemble_documents(self._doc_records("doc_id", ids))

    def _doc_records(self, field: str, values: list[str] | None) -> list[dict]:
        name = self.names["docs"]
        if values is None:
            return self._call(query_all, self.client, name, DOC_FIELDS)
        out: list[dict] = []
        for i in range(0, len(values), 200):
            expr = f"{field} in {quoted(list(values[i:i + 200]))}"
            out += self._call(query_all, self.client, name, DOC_FIELDS, expr)
        return out

    def documents_from(self, sources: list[str]) -> dict[str, list[Document]]:
        out: dict[str, list[Document]] = {}
        for doc in assemble_documents(self._doc_records("source", sources)).values():
            out.setdefault(doc.source, []).append(doc)
        return out

    def ids_by_source(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in self._call(query_all, self.client, self.names["docs"], ["doc_id", "source"],
                            "part == 0"):
            out.setdefault(r["source"], []).append(r["doc_id"])
        return out

    def chunk_hashes(self) -> list[tuple[int, str]]:
        return sorted((r["row"], r["hash"]) for r in self._call(
            query_all, self.client, self.names["chunks"], ["row", "hash"]))

    def blob(self, name: str) -> str | None:
        return self._call(read_blob, self.client, self.names["meta"], name)

    def json_blob(self, name: str, missing):
        """The JSON record `name` of this version, or `missing` when it has none; a record
        that is not JSON is an `IndexMismatchError` that says how to rebuild."""
        saved = self.blob(name)
        try:
            return json.loads(saved) if saved is not None else missing
        except ValueError:
            raise IndexMismatchError(
                f"the '{name}' record of the index at {self.where.shown} is damaged; rebuild it "
                f"with `rag index PATH ... {option(self.where)}`") from None

    def sound(self) -> bool:
        """Whether every JSON record of this version reads (a build replaces one that does not)."""
        try:
            for name in ("files", "prefixes", "frequencies"):
                self.json_blob(name, None)
        except IndexMismatchError:
            return False
        return True

    def files(self) -> dict[str, tuple[int, int]]:
        return {k: tuple(v) for k, v in self.json_blob("files", {}).items()}

    def word_prefixes(self) -> frozenset[str] | None:
        if self._prefixes is None:
            saved = self.json_blob("prefixes", None)
            self._prefixes = frozenset(saved) if saved is not None else None
        return self._prefixes

    def document_frequencies(self, terms: list[str]) -> list[int] | None:
        if self._frequencies is None:  # read once; {} for a version saved without them
            self._frequencies = self.json_blob("frequencies", {})
        if not self._frequencies:
            return None
        return [int(self._frequencies.get(t, 0)) for t in terms]

    def is_current(self) -> bool:
        return self._call(published_version, self.client, self.where.prefix) == self.version

    def size_on_disk(self) -> int | None:
        """The whole milvus-lite data directory (every index in it); None for a server."""
        file = self.where.local_file
        if file is None:
            return None
        return sum(f.stat().st_size for f in file.rglob("*") if f.is_file())

    def details(self) -> dict:
        kind = "milvus-lite" if self.where.local_file is not None else "milvus server"
        stored = self._call(versions, self.client, self.where.prefix)
        return {"store": kind, "version": self.version, "collections": sorted(self.names.values()),
                "versions_stored": stored, "bm25": "Milvus BM25 function over verbatim's terms"}

    def close(self) -> None:
        """Nothing to release: the client is shared by every store of the same URI."""


def search_params(manifest: Manifest) -> dict:
    """The dense search settings of the index type built (`Manifest.faiss` names it)."""
    kind, store = manifest.faiss.split(" ")[0], manifest.store
    if kind.startswith("IVF"):
        return {"nprobe": store.get("nprobe", 32)}
    return {"ef": store.get("ef_search", 128)} if kind == "HNSW" else {}


def open_milvus(where: MilvusURI) -> MilvusStore:
    """Open the published version of the index at `where`; errors name the fix."""
    client = mc.connect(where)
    version = mc.call(where, "the index", published_version, client, where.prefix)
    if version is None:
        raise IndexNotFoundError(f"no index at {where.shown}; build it with "
                                 f"`rag index PATH ... {option(where)}`")
    names = collection_names(where.prefix, version)
    for name in names.values():
        load(client, where, name)
    data = _manifest(client, where, version, names["meta"])
    return MilvusStore(client, where, version, Manifest.from_dict(data))


def published_manifest(where: MilvusURI) -> dict | None:
    """The published version's manifest as plain JSON, read with only its small meta
    collection loaded (not its chunks); None without a readable one of this format."""
    client = mc.connect(where)
    version = mc.call(where, "the index", published_version, client, where.prefix)
    if version is None:
        return None
    meta = collection_names(where.prefix, version)["meta"]
    load(client, where, meta)
    try:
        return _manifest(client, where, version, meta)
    except IndexMismatchError:
        return None


def _manifest(client, where: MilvusURI, version: int, meta: str) -> dict:
    """The manifest record of `version` (its meta collection loaded), checked: damaged,
    missing or of another format is an `IndexMismatchError` that says how to rebuild."""
    hint = f"rebuild it with `rag index PATH ... {option(where)}`"
    raw = mc.call(where, f"version {version}", read_blob, client, meta, "manifest")
    try:
        data = json.loads(raw) if raw is not None else {}
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise IndexMismatchError(f"the manifest of the index at {where.shown} is damaged; {hint}")
    if data.get("format") != FORMAT or data.get("format_version") != FORMAT_VERSION:
        found = (f"format {data.get('format')} version {data.get('format_version')}"
                 if raw is not None else "no manifest")
        raise IndexMismatchError(f"index at {where.shown} has {found}; this verbatim reads "
                                 f"{FORMAT} version {FORMAT_VERSION}; {hint}")
    return data


def load(client, where: MilvusURI, name: str) -> None:
    """Load a collection for searching (after a restart milvus-lite has them released)."""
    extra = {"replica_number": where.replicas} if where.replicas else {}
    mc.call(where, name, client.load_collection, name, **extra)
