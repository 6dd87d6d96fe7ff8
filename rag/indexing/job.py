"""Fill an index's vectors and publish it: reuse, resume, embed the rest, snapshot on the way.

A `Job` gets everything `rag.indexing.build` decided (documents, chunks, manifest) and:
1. writes the metadata and BM25 index once, into the first version it publishes;
2. takes every vector it can without the model: from the old index (by chunk hash; its
   pending rows are zeros and do not count) and from the embedding cache of an
   interrupted run (`rag.indexing.embcache`);
3. publishes a first snapshot before embedding many chunks, so BM25 answers within seconds;
   then runs `check` (`rag.indexing.build`: is every new chunk within the model's input limit?) and,
   if some documents had to be chunked again, starts over from 2 with their new chunks;
4. embeds the rest in steps of `WINDOW` chunks, each sorted by length so that a batch pads
   little (3% more tokens than the texts hold), commits every batch of `BATCH` chunks to the
   cache as the model returns it (a kill loses at most the batch being embedded: about a
   second of work on 2 idle cores, 10 s at load 11), and publishes a snapshot (metadata and BM25 shared by hard
   link) whenever `snapshot_every` seconds have passed, and at least ten times the last
   snapshot's own cost (0: after every step);
5. publishes the finished index and deletes the cache.

Vectors live in a memory-mapped work file beside the index until each publish copies them;
its disk space is reserved first (`rag.indexing.disk`), so a full disk is an error, not a crash.

Does not: decide what changed (`rag.indexing.build`), or choose the FAISS type (`rag.indexing.ann`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..reading.chunk import Chunk
from ..reading.ingest import Document
from .disk import reserved_memmap
from .embcache import EmbeddingCache, cache_file
from .embed import Embedder, EmbeddingBar
from .lexical import LexicalConfig
from .store import IndexStore, IndexWriter, Manifest, StoreConfig

EARLY_SNAPSHOT_CHUNKS = 256  # embed more than this and a first snapshot is published before
WINDOW = 512  # chunks embedded per step, shortest first inside it (a batch pads little)
BATCH = 32  # chunks per call to the model; each batch is committed to the cache at once


class Job:
    """One build's vector filling and publishing (see the module docstring)."""

    def __init__(self, index_dir: Path, manifest: Manifest, documents: list[Document],
                 chunks: list[Chunk], files: dict[str, tuple[int, int]], config: StoreConfig,
                 embedder: Embedder, *, progress: bool = False,
                 snapshot_every: float | None = 30.0,
                 on_publish: Callable[[Manifest], None] | None = None,
                 analyzed: list | None = None, check: Callable | None = None):
        self.index_dir, self.manifest, self.config = index_dir, manifest, config
        self.documents, self.chunks, self.files = documents, chunks, files
        self.embedder, self.progress = embedder, progress
        self.snapshot_every, self.on_publish = snapshot_every, on_publish
        self.analyzed = analyzed  # BM25 analysis of the new chunks, from the chunking workers
        self.check = check  # (chunks, analyzed) -> new (chunks, analyzed), or None if all fit
        self._base: Path | None = None  # a published version whose meta and BM25 are ours
        self._snapshot_cost = 0.0

    def run(self, old: IndexStore | None) -> int:
        """Publish the whole index; returns how many chunks the model embedded."""
        work_file = self.index_dir.parent / f".{self.index_dir.name}.work.npy"
        cache = EmbeddingCache(cache_file(self.index_dir), model=self.embedder.name,
                               dimension=self.embedder.dimension)
        try:
            work = reserved_memmap(work_file, (len(self.chunks), self.embedder.dimension))
            todo = self._fill(work, old, cache)
            if len(todo) > EARLY_SNAPSHOT_CHUNKS:
                self._publish(work)
            fixed = self.check(self.chunks, self.analyzed) if self.check is not None else None
            self.analyzed = None
            if fixed is not None:  # some chunk was over the model's limit: chunked again
                self.chunks, self.analyzed = fixed
                self._base = None  # metadata and BM25 are written anew
                work = None  # let go of the old mapping before the file is made again
                work = reserved_memmap(work_file, (len(self.chunks), self.embedder.dimension))
                todo = self._fill(work, old, cache)
            self._embed(work, todo, cache)
            self._publish(work)
            cache.remove()
            return len(todo)
        finally:
            cache.close()
            work = None
            work_file.unlink(missing_ok=True)

    def _fill(self, work: np.ndarray, old: IndexStore | None, cache: EmbeddingCache) -> list[int]:
        """Copy in every vector already made; the rows still to embed."""
        rows_of: dict[str, list[int]] = {}
        for row, chunk in enumerate(self.chunks):
            rows_of.setdefault(chunk.hash, []).append(row)
        if old is not None:
            vectors = old.vectors()  # of a damaged index: the rows still whole, maybe fewer
            made = np.concatenate([np.any(vectors[i:i + 65_536] != 0, axis=1)
                                   for i in range(0, len(vectors), 65_536)] or [np.zeros(0, bool)])
            dst, src = [], []
            for row, h in old.chunk_hashes():
                if row < len(made) and made[row] and h in rows_of:
                    targets = rows_of.pop(h)
                    dst.extend(targets)
                    src.extend([row] * len(targets))
            _copy_rows(work, np.array(dst, dtype=np.int64), vectors, np.array(src, dtype=np.int64))
        for h, vector in cache.get(rows_of).items():
            work[rows_of.pop(h)] = vector
        return sorted(r for rows in rows_of.values() for r in rows)

    def _embed(self, work: np.ndarray, todo: list[int], cache: EmbeddingCache) -> None:
        """Embed `todo` a window at a time, shortest chunks first in each (a batch pads
        little), committing every batch to the cache as the model returns it."""
        bar = EmbeddingBar([self.chunks[r].text for r in todo]) \
            if self.progress and len(todo) > WINDOW else None
        last = time.monotonic()
        try:
            for i in range(0, len(todo), WINDOW):
                window = sorted(todo[i:i + WINDOW], key=lambda r: len(self.chunks[r].text))
                for j in range(0, len(window), BATCH):
                    rows = window[j:j + BATCH]
                    texts = [self.chunks[r].text for r in rows]
                    vectors = self.embedder.embed(texts, batch_size=BATCH)
                    work[rows] = vectors
                    cache.put([self.chunks[r].hash for r in rows], vectors)
                    if bar is not None:
                        bar.update(texts)
                wait = self.snapshot_every and max(self.snapshot_every, 10 * self._snapshot_cost)
                if self.snapshot_every is not None and i + WINDOW < len(todo) \
                        and time.monotonic() - last >= wait:
                    self._publish(work)
                    last = time.monotonic()
        finally:
            if bar is not None:
                bar.close()  # before any message about why it stopped

    def _publish(self, work: np.ndarray) -> None:
        started = time.monotonic()
        work.flush()
        with IndexWriter(self.index_dir) as writer:
            if self._base is not None and self._base.is_dir():
                writer.reuse(self._base)
            else:
                writer.write_meta(self.documents, self.chunks, self.files)
                writer.write_lexical(self.documents, self.chunks,
                                     LexicalConfig(**self.manifest.lexical), self.analyzed)
            out = writer.vectors(*work.shape)
            for i in range(0, len(work), 65_536):
                out[i:i + 65_536] = work[i:i + 65_536]
            published = writer.publish(self.manifest, self.config)
            self._base = writer.dir
        self._snapshot_cost = time.monotonic() - started
        if self.on_publish is not None:
            self.on_publish(published)


def _copy_rows(out: np.ndarray, dst: np.ndarray, source: np.ndarray, src: np.ndarray) -> None:
    """out[dst] = source[src], a block at a time (source may be a memory map)."""
    order = np.argsort(src, kind="stable")  # read the source front to back
    dst, src = dst[order], src[order]
    for i in range(0, len(src), 65_536):
        out[dst[i:i + 65_536]] = source[src[i:i + 65_536]]

