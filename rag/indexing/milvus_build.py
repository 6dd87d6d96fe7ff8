"""Build or update an index in Milvus: a new version of collections, published by an alias.

The same decisions as for a directory (`rag.indexing.build.plan_build`: what changed, the
chunks of unchanged documents kept, every new chunk checked against the model's input
limit), then:
1. a new version `n` is created (three collections, see `rag.indexing.milvus_store`), its
   `intent` (model, dimension) written first, then the documents;
2. every vector that exists already is copied in by chunk hash, from the published version
   and from any version an interrupted build left behind (its `intent` must match): no model
   work for those chunks;
3. the rest is embedded in windows sorted by length, and each batch of 32 is inserted as the
   model returns it: those rows are what a rerun after Ctrl-C, a crash or `kill -9` copies;
4. the word prefixes, the source files' sizes and times and, last, the manifest are written;
   the collections are flushed and loaded;
5. the alias is switched to the new chunks collection (Milvus's atomic step): readers that
   open the index from now on get version `n`. Every other version is dropped except the one
   just replaced, kept until the next publish so that a reader in the middle of a question
   finishes it on the version it started with.
A failure before 5 leaves the alias where it was; the next build reuses what was inserted.

Does not: publish snapshots while embedding (each would be a full copy of the index), or
hold a lock on a Milvus server: run one `rag index` per index there (milvus-lite itself lets
one process open a `.db`, and this module one build per index in a process).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace

import numpy as np

from ..errors import IndexBusyError, IndexMismatchError, IndexNotFoundError
from ..parallel import map_ordered
from ..reading.chunk import Chunk
from ..reading.ingest import Document
from . import milvus_connect as mc
from . import milvus_store as ms
from .ann import resolve_type
from .build import BuildReport, Request, build_report, plan_build, within_model
from .embed import Embedder, EmbeddingBar
from .lexical import LexicalConfig, analyze, lexical_text
from .location import MilvusURI
from .manifest import Manifest
from .store import StoreConfig

WINDOW = 512  # chunks sorted by length per step, so a batch pads little
BATCH = 32  # chunks per call to the model; each batch is inserted at once
_building: set[str] = set()
_building_lock = threading.Lock()


def build_milvus(r: Request, started: float) -> BuildReport:
    """`rag.indexing.build.build_index` for a Milvus URI (`r.index_dir`)."""
    where: MilvusURI = r.index_dir
    client = mc.connect(where)
    with _one_build(where):
        old = _open_compatible(where, r)
        plan = plan_build(r, old, reusable=old is not None)
        if not plan.write:
            return build_report(where, plan.manifest, None, 0, plan.changes, False, started)
        r = plan.request
        chunks, analyzed = plan.chunks, plan.analyzed
        fixed = within_model(plan.fresh, chunks, analyzed, r.embedder, r.chunk_config)
        if fixed is not None:  # a document had a chunk over the model's limit: chunked again
            chunks, analyzed = fixed
        kind, index = dense_index(len(chunks), r.store_config)
        manifest = replace(plan.manifest, chunks=len(chunks), faiss=kind, format=ms.FORMAT,
                           format_version=ms.FORMAT_VERSION)
        writer = VersionWriter(client, where, manifest, index)
        embedded = writer.fill(plan.documents, chunks, analyzed, r.embedder, plan.stats,
                               progress=r.progress)
        writer.publish()
        if r.on_publish is not None:
            r.on_publish(manifest)
    return build_report(where, manifest, len(plan.documents), embedded, plan.changes, True,
                        started)


@contextmanager
def _one_build(where: MilvusURI) -> Iterator[None]:
    key = f"{where.uri}/{where.db_name}/{where.prefix}"
    with _building_lock:
        if key in _building:
            raise IndexBusyError(f"another build is writing {where.shown} in this process; "
                                 "wait for it to finish")
        _building.add(key)
    try:
        yield
    finally:
        with _building_lock:
            _building.discard(key)


def _open_compatible(where: MilvusURI, r: Request) -> ms.MilvusStore | None:
    """The published version if its chunks can be kept, else None (a full rebuild; vectors
    of the same model are still copied by hash): another model or chunker, or a damaged record."""
    try:
        old = ms.open_milvus(where)
    except (IndexNotFoundError, IndexMismatchError):
        return None
    if not old.sound():
        return None
    m = old.manifest
    same = (m.model, m.dimension, m.chunker) == (r.embedder.name, r.embedder.dimension,
                                                  asdict(r.chunk_config))
    return old if same else None


def dense_index(chunks: int, config: StoreConfig) -> tuple[str, dict]:
    """(description, Milvus index parameters) of the dense field, chosen as the local store
    chooses its FAISS type (`rag.indexing.ann`): exact up to `auto_flat_max` chunks, IVF with
    the same number of lists above."""
    kind = resolve_type(config, chunks)
    if kind in ("ivf", "ivf-sq8") and chunks >= 1000:
        nlist = int(max(16, min(4 * np.sqrt(chunks), chunks // 39)))
        name = "IVF_SQ8" if kind == "ivf-sq8" else "IVF_FLAT"
        return (f"{name} nlist={nlist} nprobe={config.nprobe}",
                {"index_type": name, "params": {"nlist": nlist}})
    if kind == "hnsw":
        params = {"M": config.hnsw_m, "efConstruction": 200}
        return f"HNSW M={config.hnsw_m} ef={config.ef_search}", {"index_type": "HNSW",
                                                                  "params": params}
    return "FLAT", {"index_type": "FLAT", "params": {}}


def _both(params: dict) -> dict:
    """Index parameters as pymilvus 3 sends them (one key each: what a Milvus server reads)
    and again as one `params` value: the only form milvus-lite 3.2 reads (it drops the flat
    keys silently, so BM25 would run with its own k1 = 1.5, b = 0.75)."""
    return {**params, "params": dict(params)} if params else {}


def _schema(dimension: int, kind: str):
    """The schema of a version's `chunks`, `docs` or `meta` collection."""
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    if kind == "chunks":
        s.add_field("row", DataType.INT64, is_primary=True)
        for name in ("chunk_id", "doc_id", "hash", "title", "date", "source", "url", "text"):
            s.add_field(name, DataType.VARCHAR, max_length=ms.PART_BYTES)
        for name in ("start", "end", "n_tokens"):
            s.add_field(name, DataType.INT64)
        s.add_field("terms", DataType.VARCHAR, max_length=ms.PART_BYTES, enable_analyzer=True,
                    analyzer_params={"tokenizer": "standard"})
        s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        s.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        s.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                input_field_names=["terms"], output_field_names=["sparse"]))
        return s
    s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=ms.PART_BYTES)
    fields = ms.DOC_FIELDS if kind == "docs" else ["name", "part", "value"]
    for name in fields:
        if name == "part":
            s.add_field(name, DataType.INT64)
        else:
            s.add_field(name, DataType.VARCHAR, max_length=ms.PART_BYTES)
    s.add_field("_v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field everywhere
    return s


class VersionWriter:
    """The collections of one new version, filled, then published."""

    def __init__(self, client, where: MilvusURI, manifest: Manifest, dense: dict):
        self.client, self.where, self.manifest = client, where, manifest
        self.lexical = LexicalConfig(**manifest.lexical)
        existing = mc.call(where, "the index", ms.versions, client, where.prefix)
        self.version = max(existing, default=0) + 1
        self.names = ms.collection_names(where.prefix, self.version)
        self.earlier = sorted(existing, reverse=True)  # published and leftovers, newest first
        self._create(dense)
        self._put_blob("intent", self._intent())
        self._record = None  # row -> its chunk's fields, set by `fill`

    def _call(self, fn, *args, **kwargs):
        return mc.call(self.where, f"the new version {self.version}", fn, *args, **kwargs)

    def _create(self, dense: dict) -> None:
        extra = {"num_shards": self.where.shards} if self.where.shards else {}
        for kind, name in self.names.items():
            params = self.client.prepare_index_params()
            if kind == "chunks":
                params.add_index("dense", index_type=dense["index_type"], metric_type="IP",
                                 params=_both(dense["params"]))
                params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                                 params=_both({"bm25_k1": self.lexical.k1,
                                               "bm25_b": self.lexical.b}))
            else:
                params.add_index("_v", index_type="FLAT", metric_type="L2")
            self._call(self.client.create_collection, name,
                       schema=_schema(self.manifest.dimension, kind), index_params=params,
                       consistency_level="Strong", **extra)

    def _intent(self) -> str:
        return json.dumps({"model": self.manifest.model, "dimension": self.manifest.dimension})

    def _put_blob(self, name: str, value: str) -> None:
        self._call(self.client.insert, self.names["meta"], [
            {"key": f"{name}#{i}", "name": name, "part": i, "value": v, "_v": [0.0, 0.0]}
            for i, v in enumerate(ms.split_utf8(value))])

    def fill(self, documents: list[Document], chunks: list[Chunk], analyzed: list,
             embedder: Embedder, stats: dict, *, progress: bool = False) -> int:
        """Insert everything but the manifest; returns how many chunks the model embedded."""
        docs = {d.id: d for d in documents}
        self._insert_documents(documents)
        terms, prefixes, frequencies = _terms(chunks, docs, analyzed, self.lexical)
        self._record = lambda row: _chunk_record(row, chunks[row], docs[chunks[row].doc_id],
                                                 terms[row])
        rows_of: dict[str, list[int]] = {}
        for row, chunk in enumerate(chunks):
            rows_of.setdefault(chunk.hash, []).append(row)
        for version in self.earlier:
            if rows_of:
                self._copy_vectors(version, rows_of)
        todo = sorted(r for rows in rows_of.values() for r in rows)
        self._embed(todo, chunks, embedder, progress)
        self._put_blob("prefixes", json.dumps(sorted(prefixes), ensure_ascii=False))
        self._put_blob("frequencies", json.dumps(dict(sorted(frequencies.items())),
                                                 ensure_ascii=False, separators=(",", ":")))
        self._put_blob("files", json.dumps(stats, ensure_ascii=False))
        return len(todo)

    def _insert_chunks(self, rows: list[int], vectors) -> None:
        data = [{**self._record(row), "dense": np.asarray(v, dtype=np.float32).tolist()}
                for row, v in zip(rows, vectors)]
        self._call(self.client.insert, self.names["chunks"], data)

    def _insert_documents(self, documents: list[Document]) -> None:
        batch, size = [], 0
        for d in documents:
            texts = ms.split_utf8(d.text)
            spans = ms.split_utf8(json.dumps([list(s) for s in d.spans]))
            for part in range(max(len(texts), len(spans))):
                row = {"key": f"{d.id}#{part}", "doc_id": d.id, "part": part,
                       "title": d.title or "", "date": d.date or "", "source": d.source,
                       "url": d.url or "", "hash": d.hash, "_v": [0.0, 0.0],
                       "text": texts[part] if part < len(texts) else "",
                       "spans": spans[part] if part < len(spans) else ""}
                batch.append(row)
                size += len(row["text"]) + len(row["spans"])
                if size > 4_000_000 or len(batch) >= ms.BATCH:
                    self._call(self.client.insert, self.names["docs"], batch)
                    batch, size = [], 0
        if batch:
            self._call(self.client.insert, self.names["docs"], batch)

    def _copy_vectors(self, version: int, rows_of: dict[str, list[int]]) -> None:
        """Insert every chunk whose hash an earlier version holds a vector for (the same
        model's), taking those hashes out of `rows_of`."""
        names = ms.collection_names(self.where.prefix, version)
        try:
            for name in (names["meta"], names["chunks"]):
                ms.load(self.client, self.where, name)
            if ms.read_blob(self.client, names["meta"], "intent") != self._intent():
                return  # another model: its vectors do not fit
            pairs = ms.query_all(self.client, names["chunks"], ["row", "hash"])
        except Exception:  # noqa: BLE001 (a leftover missing a collection: nothing to take)
            return
        source: dict[str, int] = {}
        for p in pairs:
            if p["hash"] in rows_of:
                source.setdefault(p["hash"], p["row"])
        wanted = sorted(source.values())
        for i in range(0, len(wanted), ms.BATCH):
            got = self._call(self.client.get, names["chunks"], ids=wanted[i:i + ms.BATCH],
                             output_fields=["hash", "dense"])
            rows, vectors = [], []
            for g in got:
                for row in rows_of.pop(g["hash"], []):
                    rows.append(row)
                    vectors.append(g["dense"])
            if rows:
                self._insert_chunks(rows, vectors)

    def _embed(self, todo: list[int], chunks: list[Chunk], embedder: Embedder,
               progress: bool) -> None:
        bar = EmbeddingBar([chunks[r].text for r in todo]) \
            if progress and len(todo) > WINDOW else None
        try:
            for i in range(0, len(todo), WINDOW):
                window = sorted(todo[i:i + WINDOW], key=lambda r: len(chunks[r].text))
                for j in range(0, len(window), BATCH):
                    rows = window[j:j + BATCH]
                    texts = [chunks[r].text for r in rows]
                    vectors = embedder.embed(texts, batch_size=BATCH)
                    self._insert_chunks(rows, vectors)
                    if bar is not None:
                        bar.update(texts)
        finally:
            if bar is not None:
                bar.close()

    def publish(self) -> None:
        """Write the manifest, make the version searchable, switch the alias to it and drop
        every version but this one and the one it replaces."""
        record = {**self.manifest.__dict__, "format": ms.FORMAT,
                  "format_version": ms.FORMAT_VERSION}
        self._put_blob("manifest", json.dumps(record, ensure_ascii=False))  # last: it is whole
        for name in self.names.values():
            self._call(self.client.flush, name)
            ms.load(self.client, self.where, name)
        alias = self.where.prefix
        previous = self._call(ms.published_version, self.client, alias)
        if alias in self._call(self.client.list_aliases).get("aliases", []):
            self._call(self.client.alter_alias, self.names["chunks"], alias)
        else:
            self._call(self.client.create_alias, self.names["chunks"], alias)
        for version in self._call(ms.versions, self.client, alias):
            if version not in (self.version, previous):
                for name in ms.collection_names(alias, version).values():
                    self._call(self.client.drop_collection, name)


def _chunk_record(row: int, c: Chunk, d: Document, terms: str) -> dict:
    return {"row": row, "chunk_id": c.id, "doc_id": c.doc_id, "hash": c.hash,
            "title": d.title or "", "date": d.date or "", "source": d.source, "url": d.url or "",
            "text": c.text, "start": c.start, "end": c.end, "n_tokens": c.n_tokens,
            "terms": terms}


def _terms(chunks: list[Chunk], docs: dict[str, Document], analyzed: list,
           config: LexicalConfig) -> tuple[list[str], set[str], Counter]:
    """Each chunk's encoded BM25 terms (`milvus_store.lexical_terms`), the word prefixes of
    all of them and how many chunks hold each term, reusing the analysis the chunking
    workers made of the new chunks."""
    analyzed = list(analyzed) if analyzed else [None] * len(chunks)
    todo = [i for i, a in enumerate(analyzed) if a is None]
    texts = [lexical_text(chunks[i].text, docs[chunks[i].doc_id].title, config) for i in todo]
    for i, a in zip(todo, map_ordered(_analyze_one, texts, state=config.stem)):
        analyzed[i] = a
    terms, prefixes, frequencies = [], set(), Counter()
    for tokens, words in analyzed:
        held = [t for t in tokens.split("\0") if t]
        terms.append(" ".join(ms.encode_term(t) for t in held))
        frequencies.update(set(held))
        prefixes.update(words.split("\0"))
    prefixes.discard("")
    return terms, prefixes, frequencies


def _analyze_one(stem: bool, text: str) -> tuple[str, str]:
    return analyze(text, stem=stem)

