"""Build or update an index from files: ingest, chunk, embed what is new, store.

Incremental by content: a document whose hash is unchanged keeps its chunks and vectors,
and any chunk whose exact text was already embedded reuses its vector, so re-indexing an
unchanged corpus loads no model and embeds nothing, adding one file embeds only that file,
and a removed file's chunks disappear. A file whose size and modification time match the
index's record is not even read again. An index built with another model or chunker is
rebuilt from scratch; changing only the BM25 or FAISS settings, or upgrading an index written
by an older format version, re-embeds nothing. Built again without an embedder or a chunker, an
index keeps the model that built it (`all-MiniLM-L6-v2` or its int8 twin) and its chunk size.

Large collections: the chunks are written (metadata and BM25) and published before the
model starts, so the collection is searchable by BM25 within seconds (chunks are packed by
tiktoken first; the model's own input limit is checked right after that snapshot, and a
document with a chunk over it is chunked again before anything is embedded); embedding then goes on
batch by batch, every batch is kept in `rag.indexing.embcache` the moment it is made (an interrupted
run resumes there), and a snapshot with what is embedded so far is published every
`snapshot_every` seconds. Vectors are collected in a memory-mapped work file, never twice
in memory.

The decisions (`plan_build`: what changed, which chunks are kept) are the same for every
store; writing them is `rag.indexing.job` for a directory, `rag.indexing.milvus_build` for a
Milvus URI (no snapshots there: a version is a set of collections, published once).

Does not: watch folders, or keep several versions of an index.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..errors import IndexMismatchError, IndexNotFoundError
from ..parallel import map_ordered
from ..reading.chunk import Chunk, ChunkConfig, chunk_document, fits_model
from ..reading.identity import where
from ..reading.ingest import Document, list_files, read_documents
from . import disk, settings, swap
from .embed import Embedder, get_embedder
from .health import describe
from .job import Job
from .lexical import LexicalConfig, analyze, lexical_text
from .location import MilvusURI, default_location, parse_location
from .manifest import FORMAT_VERSION, Manifest, package_version
from .store import IndexStore, StoreConfig, check_target, open_index

_ROOT = Path(__file__).resolve().parents[2]


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
    model: str = ""
    chunk_tokens: int = 0


def build_index(
    paths: list[str | Path], *, index_dir: str | Path | MilvusURI | None = None,
    embedder: Embedder | None = None, chunk_config: ChunkConfig | None = None,
    store_config: StoreConfig = StoreConfig(), lexical_config: LexicalConfig = LexicalConfig(),
    add: bool = False, progress: bool = False, snapshot_every: float | None = 30.0,
    on_publish: Callable[[Manifest], None] | None = None,
) -> BuildReport:
    """Index the articles under `paths` into `index_dir`: a directory, or a Milvus URI
    (`milvus:///path/file.db`, `milvus://host:19530`; see `rag.indexing.location`), by
    default `$RAG_STORE`, else `$RAG_INDEX`, else `index/default`.

    With `add=True` the documents already indexed stay and the new ones join them;
    otherwise the index ends up holding exactly the documents under `paths`. While a large
    collection is embedded into a directory, snapshots are published every `snapshot_every`
    seconds (None: only at the end) and `on_publish` is called with each published manifest.
    Without an `embedder` or a `chunk_config`, a directory index keeps its own (a new one gets
    the defaults); `add=True` with another one than the index's is an InputError.

    >>> build_index(["seeds/"])  # doctest: +SKIP
    """
    started = time.perf_counter()
    where = parse_location(index_dir) if index_dir else default_location()
    own = settings.own_manifest(where)
    settings.check_add(where, own, embedder, chunk_config, add)
    request = Request(list(paths), where, embedder or get_embedder(settings.model_of(own)),
                      chunk_config or settings.chunker_of(own), store_config, lexical_config,
                      add, progress, snapshot_every, on_publish,
                      by_size=(own is None and embedder is None, own is None and chunk_config is None))
    if isinstance(where, MilvusURI):
        from .milvus_build import build_milvus

        return build_milvus(request, started)
    with disk.writing(where), swap.locked(where):
        swap.recover(where)
        check_target(where)  # before any work, not after an hour of embedding
        old = _open_compatible(where, request.embedder, request.chunk_config)
        try:
            return _update(request, old, started)
        finally:
            if old is not None:
                old.close()


@dataclass(frozen=True)
class Request:
    """The arguments of one `build_index` call, resolved."""

    paths: list[str | Path]
    index_dir: Path | MilvusURI
    embedder: Embedder
    chunk_config: ChunkConfig
    store_config: StoreConfig
    lexical_config: LexicalConfig
    add: bool
    progress: bool
    snapshot_every: float | None
    on_publish: Callable[[Manifest], None] | None
    by_size: tuple[bool, bool] = (False, False)  # model, chunking: left to the collection's size


@dataclass(frozen=True)
class Plan:
    """What a build decided to write (`write` False: nothing changed, `manifest` is the old
    one): the documents and chunks in row order, the BM25 analysis of the new chunks (None
    for the old ones), the documents chunked now, the source files' sizes and times."""

    write: bool
    manifest: Manifest
    changes: dict[str, list[str]]
    documents: list[Document] = field(default_factory=list)
    chunks: list[Chunk] = field(default_factory=list)
    analyzed: list = field(default_factory=list)
    fresh: list[Document] = field(default_factory=list)
    stats: dict[str, tuple[int, int]] = field(default_factory=dict)
    request: Request | None = None  # the build's settings, sized to the collection


def plan_build(r: Request, old, *, reusable: bool) -> Plan:
    """Read what changed since `old` (a `rag.indexing.backend.Store`, None: no index yet) and
    decide the new version. `reusable`: `old` is whole, in the current format, with every
    vector made; then files unchanged since the last run are not read, and an unchanged
    corpus with unchanged settings writes nothing."""
    files = list_files(r.paths)
    known = old.files() if old is not None else {}  # sizes and times of the last run
    stats = (known if r.add else {}) | _stats(files)  # new sizes win
    sources = sorted({str(Path(p)) for p in r.paths}
                     | (set(old.manifest.sources) if r.add and old else set()))
    settled = reusable and _same_settings(old.manifest, r.store_config, r.lexical_config, sources)
    if settled and not r.add and known == stats:  # not a file touched: read none
        return Plan(False, old.manifest, _plan({}, {}))
    documents = _read(r.paths, files, old, known, stats, r.add)
    r = _sized(r, documents) if any(r.by_size) else r
    changes = _plan({d.id: d.hash for d in documents}, old.manifest.documents if old else {})
    if settled and not any(changes.values()):
        return Plan(False, old.manifest, changes)
    chunks, analyzed, fresh = _chunks(documents, old, r.chunk_config, r.lexical_config,
                                      progress=r.progress)
    manifest = Manifest(
        model=r.embedder.name, dimension=r.embedder.dimension, chunker=asdict(r.chunk_config),
        store=asdict(r.store_config), documents={d.id: d.hash for d in documents},
        sources=sources, chunks=len(chunks), lexical=asdict(r.lexical_config),
        package_version=package_version(), characters=settings.characters_of(documents))
    return Plan(True, manifest, changes, documents, chunks, analyzed, fresh, stats, r)


def _sized(r: Request, documents: list[Document]) -> Request:
    """`r` with the model and chunk size it left open set by the collection's size
    (`rag.indexing.settings.by_size`), told to the user when that changes them."""
    characters = settings.characters_of(documents)
    sized = settings.by_size(characters, model=r.by_size[0], chunking=r.by_size[1])
    line = settings.describe(sized, characters)
    if line and r.progress:
        print(line, file=sys.stderr, flush=True)
    embedder = r.embedder if sized.model in (None, r.embedder.name) else get_embedder(sized.model)
    return replace(r, embedder=embedder, chunk_config=sized.chunking or r.chunk_config,
                   by_size=(False, False))


def _update(r: Request, old: IndexStore | None, started: float) -> BuildReport:
    """Plan the new version of the index directory, then embed and publish it."""
    reusable = old is not None and old.manifest.pending == 0 and not old.damage \
        and old.manifest.format_version == FORMAT_VERSION
    plan = plan_build(r, old, reusable=reusable)
    if not plan.write:
        return build_report(r.index_dir, plan.manifest, None, 0, plan.changes, False, started)
    r = plan.request
    job = Job(r.index_dir, plan.manifest, plan.documents, plan.chunks, plan.stats,
              r.store_config, r.embedder, progress=r.progress, snapshot_every=r.snapshot_every,
              on_publish=r.on_publish, analyzed=plan.analyzed,
              check=lambda chunks, analyses: within_model(
                  plan.fresh, chunks, analyses, r.embedder, r.chunk_config))
    embedded = job.run(old)
    manifest = replace(plan.manifest, chunks=len(job.chunks))  # a few may have been re-cut
    return build_report(r.index_dir, manifest, len(plan.documents), embedded, plan.changes,
                        True, started)


def build_report(index_dir, manifest, n_docs, embedded, plan, written, started) -> BuildReport:
    return BuildReport(
        index_dir=str(index_dir), documents=len(manifest.documents) if n_docs is None else n_docs,
        chunks=manifest.chunks, embedded=embedded, reused=manifest.chunks - embedded,
        added=tuple(plan["added"]), changed=tuple(plan["changed"]),
        removed=tuple(plan["removed"]), written=written, seconds=time.perf_counter() - started,
        model=manifest.model, chunk_tokens=int((manifest.chunker or {}).get("max_tokens", 0)),
    )


def _stats(files: list[Path]) -> dict[str, tuple[int, int]]:
    out = {}
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue  # reading it will say why
        out[str(f)] = (st.st_size, st.st_mtime_ns)
    return out


def _read(paths, files: list[Path], old, known, stats, add: bool) -> list[Document]:
    """The documents under `paths`, after (with `add`) the old ones of other files; files
    unchanged since the last run come from the index. Ids: `rag.reading.identity`."""
    same = [f for f in map(str, files) if f in known and known[f] == stats.get(f)]
    reused = old.documents_from(same) if old is not None and same else {}
    previous: dict[str, list[str]] = {}
    for source, ids in (old.ids_by_source() if old is not None else {}).items():
        previous.setdefault(where(source), []).extend(ids)
    kept: list[Document] = []
    if add and old is not None:
        read_now = {where(str(f)) for f in files}
        kept = [d for d in old.documents().values() if where(d.source) not in read_now]
    documents = read_documents(list(paths), files=files, reuse=lambda f: reused.get(str(f)),
                               kept=kept, previous=previous)
    if add and old is not None:
        kept += _unread(old, read_now, documents)
    return kept + documents


def _unread(old, read_now: set[str], documents: list[Document]) -> list[Document]:
    """With --add, the indexed documents of listed files that gave nothing this time (the
    file could not be read): kept as indexed, with a warning, never lost."""
    got = {where(d.source) for d in documents}
    lost = [d for d in old.documents().values()
            if where(d.source) in read_now and where(d.source) not in got]
    if lost:
        names = ", ".join(sorted({d.source for d in lost}))
        warnings.warn(f"kept the indexed version of {names}: the file gave no document this "
                      "time (see the note above); fix it and run the same command again",
                      stacklevel=3)
    return lost


def _same_settings(m: Manifest, store: StoreConfig, lexical: LexicalConfig,
                   sources: list[str]) -> bool:
    """True when an index with manifest `m` needs no rewrite for these settings (one that
    records no characters, or no documents' text, is rewritten once to record them)."""
    return m.store == asdict(store) and m.lexical == asdict(lexical) and m.sources == sources \
        and (m.characters > 0 or not m.documents)


def _open_compatible(index_dir: Path, embedder: Embedder, config: ChunkConfig) -> IndexStore | None:
    """The existing index if its vectors can be reused, else None (a full rebuild). An index
    with damaged files but sound metadata opens, and is repaired: see `IndexStore.damage`."""
    try:
        old = open_index(index_dir, upgrade=True, damaged=True)
    except IndexNotFoundError:
        return None
    except IndexMismatchError as e:
        if hasattr(e, "why"):
            warnings.warn(f"the index at {index_dir} is damaged ({e.why}): building it again "
                          "from the files", stacklevel=4)
        return None
    m = old.manifest
    if m.model != embedder.name or m.dimension != embedder.dimension or m.chunker != asdict(config):
        old.close()
        return None
    if old.damage:
        warnings.warn(f"the index at {index_dir} is damaged ({describe(list(old.damage))}): "
                      "repairing it, reusing every vector that is whole", stacklevel=4)
    return old


def _plan(new: dict[str, str], old: dict[str, str]) -> dict[str, list[str]]:
    return {
        "added": sorted(i for i in new if i not in old),
        "changed": sorted(i for i in new if i in old and old[i] != new[i]),
        "removed": sorted(i for i in old if i not in new),
    }


def _chunks(documents: list[Document], old, config: ChunkConfig, lexical: LexicalConfig, *,
            progress: bool = False) -> tuple[list[Chunk], list, list[Document]]:
    """All chunks in document order (an unchanged document keeps its old chunks), the BM25
    analysis of each new chunk (None for the old ones), both made on every core, and the
    documents chunked now. New chunks are packed by tiktoken only: `within_model` checks the
    model's own limit after the first snapshot is out (a quarter of the chunking time)."""
    old_chunks: dict[str, list[Chunk]] = {}
    old_hashes = old.manifest.documents if old is not None else {}
    if old is not None:
        for _, chunk in old.chunks():
            old_chunks.setdefault(chunk.doc_id, []).append(chunk)
    fresh = [d for d in documents if not (old_hashes.get(d.id) == d.hash and d.id in old_chunks)]
    made = dict(zip((d.id for d in fresh), map_ordered(
        _chunk_one, fresh, state=(config, lexical), bar="chunking" if progress else None)))
    chunks: list[Chunk] = []
    analyzed: list = []
    for doc in documents:
        if doc.id in made:
            chunks += made[doc.id][0]
            analyzed += made[doc.id][1]
        else:
            chunks += old_chunks[doc.id]
            analyzed += [None] * len(old_chunks[doc.id])
    return chunks, analyzed, fresh


def _chunk_one(state, doc: Document) -> tuple[list[Chunk], list[tuple[str, str]]]:
    config, lexical = state
    chunks = chunk_document(doc, config=config)
    return chunks, [analyze(lexical_text(c.text, doc.title, lexical), stem=lexical.stem)
                    for c in chunks]


def within_model(fresh: list[Document], chunks: list[Chunk], analyzed: list,
                  embedder: Embedder, config: ChunkConfig) -> tuple[list[Chunk], list] | None:
    """None when every new chunk fits the model's input limit (the model would otherwise cut
    it silently); else the chunks and analyses with each document that had a chunk over it
    chunked again, the model counting its word pieces."""
    by_doc: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc_id, []).append(chunk)
    state = (config, embedder.max_tokens, embedder.count_tokens)
    redo = map_ordered(_recheck_one, [(d, by_doc.get(d.id, [])) for d in fresh], state=state)
    redone = {d.id: r for d, r in zip(fresh, redo) if r is not None}
    if not redone:
        return None
    out: list[Chunk] = []
    out_analyzed: list = []
    for chunk, a in zip(chunks, analyzed):
        if chunk.doc_id not in redone:
            out.append(chunk)
            out_analyzed.append(a)
        elif not out or out[-1].doc_id != chunk.doc_id:  # first chunk of a redone document
            out += redone[chunk.doc_id]
            out_analyzed += [None] * len(redone[chunk.doc_id])  # analysed by the BM25 build
    return out, out_analyzed


def _recheck_one(state, item: tuple[Document, list[Chunk]]) -> list[Chunk] | None:
    config, limit, counter = state
    doc, chunks = item
    specials = (counter("") or 0) if counter is not None and limit is not None else 0
    if all(fits_model(c.text, limit=limit, counter=counter, specials=specials) for c in chunks):
        return None
    return chunk_document(doc, config=config, model_limit=limit, model_counter=counter)
