"""The index in a local directory and in milvus-lite, side by side: build, open, search, memory.

At each size (10k and 100k chunks by default) both stores are written through their own
write paths (`rag.indexing.job.Job` for a directory: embedding cache, FAISS, BM25, SQLite;
`rag.indexing.milvus_build.VersionWriter` for Milvus: documents, chunks with their encoded
BM25 terms and vectors inserted 32 at a time, flush, load, alias) from the same synthetic
documents and chunks, with a stand-in embedder that looks up prepared vectors (no model: the
stores are what is measured). Then each is opened in a fresh process and searched through
`Retriever.search(k=5)` in every mode, which includes fetching the passages' chunks and
vectors. Each step runs in its own process, so peak RSS is that step's.

Data: chunks of 80 Zipf-distributed pseudo-words, 10 to a document; vectors from the bench's
clustered Gaussian mixture (`bench.corpus.synthetic_vectors`); each query is a chunk's vector
with a little noise (cosine about 0.95 to it) and 3 to 5 of that chunk's words, so dense
recall@10 against exact search measures the vector index.

Does not: embed with the real model (see the `ingest` section), or measure a Milvus server.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from . import common, corpus

WORDS_PER_CHUNK = 80
CHUNKS_PER_DOC = 10
MODES = ("dense", "lexical", "hybrid")
QUERY_NOISE = 0.33  # length of the noise added to a unit chunk vector to make a query


def _data(n: int, queries: int) -> dict:
    """Documents, chunks, vectors and queries of the synthetic corpus of `n` chunks."""
    from rag.reading.chunk import Chunk
    from rag.reading.ingest import Document

    rng = np.random.default_rng(0)
    vocab = np.array([f"w{i}x{chr(97 + i % 26)}" for i in range(30_000)])
    p = 1 / np.arange(1, len(vocab) + 1) ** 1.1
    words = vocab[rng.choice(len(vocab), size=(n, WORDS_PER_CHUNK), p=p / p.sum())]
    docs, chunks = [], []
    for d in range(-(-n // CHUNKS_PER_DOC)):
        rows = range(d * CHUNKS_PER_DOC, min(n, (d + 1) * CHUNKS_PER_DOC))
        texts = [" ".join(words[r]) + "." for r in rows]
        starts = np.cumsum([0] + [len(t) + 1 for t in texts])
        doc = Document(id=f"d{d:06d}", title=f"Title {d}", text=" ".join(texts),
                       source=f"/synthetic/d{d:06d}.txt", hash=f"h{d}")
        docs.append(doc)
        chunks += [Chunk(id=f"{doc.id}:{i}", doc_id=doc.id, text=t, start=int(starts[i]),
                         end=int(starts[i]) + len(t), n_tokens=WORDS_PER_CHUNK)
                   for i, t in enumerate(texts)]
    base = np.load(corpus.synthetic_vectors(n, queries=1)[0], mmap_mode="r")
    picked = rng.choice(n, size=queries, replace=False)
    noise = rng.standard_normal((queries, base.shape[1])).astype(np.float32)
    noise *= QUERY_NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
    qv = np.asarray(base[picked]) + noise
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    qt = [" ".join(rng.choice(words[r], size=int(rng.integers(3, 6)), replace=False)) + f" q{i}"
          for i, r in enumerate(picked)]
    return {"docs": docs, "chunks": chunks, "base": base, "query_texts": qt, "queries": qv}


class Lookup:
    """A stand-in embedder: the prepared vector of each text, no model."""

    name, max_tokens = "synthetic", None

    def __init__(self, texts: list[str], vectors: np.ndarray):
        self.dimension = vectors.shape[1]
        self.rows = {t: i for i, t in enumerate(texts)}
        self.vectors = vectors

    def count_tokens(self, text: str) -> None:
        return None

    def embed(self, texts: list[str], **_) -> np.ndarray:
        return np.asarray(self.vectors[[self.rows[t] for t in texts]], dtype=np.float32)


def _manifest(data: dict):
    from rag.indexing.lexical import LexicalConfig
    from rag.indexing.manifest import Manifest
    from rag.indexing.store import StoreConfig
    from rag.reading.chunk import ChunkConfig

    return Manifest(model="synthetic", dimension=data["base"].shape[1],
                    chunker=asdict(ChunkConfig()), store=asdict(StoreConfig()),
                    documents={d.id: d.hash for d in data["docs"]}, sources=["/synthetic"],
                    chunks=len(data["chunks"]), lexical=asdict(LexicalConfig()))


def _where(store: str, folder: str):
    from rag.indexing.location import parse_location

    return parse_location(f"milvus://{folder}/v.db" if store == "milvus" else f"{folder}/local")


def build(store: str, size: int, folder: str) -> dict:
    """Write the corpus of `size` chunks into `store` ("local" or "milvus"); own process."""
    data = _data(size, 1)
    embedder = Lookup([c.text for c in data["chunks"]], data["base"])
    rss = common.rss_mb()
    started = time.perf_counter()
    if store == "local":
        from rag.indexing.job import Job
        from rag.indexing.store import StoreConfig

        Job(_where(store, folder), _manifest(data), data["docs"], data["chunks"], {},
            StoreConfig(), embedder, snapshot_every=None).run(None)
    else:
        _build_milvus(_where(store, folder), data, embedder)
    return {"build_s": round(time.perf_counter() - started, 1),
            "build_peak_rss_mb": round(common.peak_rss_mb()),
            "corpus_rss_mb": round(rss)}


def _build_milvus(where, data: dict, embedder: Lookup) -> None:
    from rag.indexing import milvus_build, milvus_connect, milvus_store
    from rag.indexing.store import StoreConfig

    kind, dense = milvus_build.dense_index(len(data["chunks"]), StoreConfig())
    manifest = replace(_manifest(data), faiss=kind, format=milvus_store.FORMAT,
                       format_version=milvus_store.FORMAT_VERSION)
    writer = milvus_build.VersionWriter(milvus_connect.connect(where), where, manifest, dense)
    writer.fill(data["docs"], data["chunks"], None, embedder, {})
    writer.publish()


def search(store: str, size: int, folder: str, queries: int) -> dict:
    """Open the index in a fresh process and time `Retriever.search(k=5)` in each mode."""
    from rag.indexing.backend import open_store
    from rag.search.retrieve import Retriever

    data = _data(size, queries)
    exact = _exact_top10(data["base"], data["queries"])
    embedder = Lookup(data["query_texts"], data["queries"])
    texts = data["query_texts"]
    del data
    rss = common.rss_mb()
    started = time.perf_counter()
    index = open_store(_where(store, folder))
    opened = time.perf_counter() - started
    retriever = Retriever(index, embedder)
    out = {"open_s": round(opened, 2), "queries": len(texts), "dense_index": index.manifest.faiss}
    for mode in MODES:
        retriever.search(texts[0], k=5, mode=mode)  # the first loads what is lazy
        seconds = [common.timed(retriever.search, q, k=5, mode=mode)[1] for q in texts]
        out[mode] = common.percentiles(seconds)
    found = [[r for r, _ in index.dense_hits(v, 10)] for v in embedder.vectors]
    out["recall@10"] = round(float(np.mean([len(set(f) & set(e)) / 10
                                            for f, e in zip(found, exact)])), 3)
    out["search_rss_growth_mb"] = round(common.rss_mb() - rss)
    out["disk_mb"] = round((index.size_on_disk() or 0) / 2**20)  # the published version
    return out


def _exact_top10(base: np.ndarray, queries: np.ndarray) -> list[list[int]]:
    scores = np.concatenate([queries @ np.asarray(base[i:i + 100_000]).T
                             for i in range(0, len(base), 100_000)], axis=1)
    return np.argsort(-scores, axis=1)[:, :10].tolist()


def run(sizes: list[int], *, queries: int = 200, say=print) -> dict:
    """Both stores at each size: build, then search, each in its own process."""
    rows = []
    for size in sizes:
        n_queries = queries if size <= 20_000 else max(20, queries // 4)  # lite is slow there
        with tempfile.TemporaryDirectory(prefix="bench-milvus-") as tmp:
            for store in ("local", "milvus"):
                say(f"milvus: {store} at {common.label(size)} chunks: building ...")
                folder = str(Path(tmp) / store)
                Path(folder).mkdir()
                row = {"store": store, "size": size, "machine_before": common.machine()}
                row |= common.run_worker("milvus.build", store=store, size=size, folder=folder)
                say(f"milvus: {store} at {common.label(size)}: built in {row['build_s']} s; "
                    f"searching {n_queries} questions ...")
                row |= common.run_worker("milvus.search", store=store, size=size, folder=folder,
                                         queries=n_queries)
                rows.append(row)
                shutil.rmtree(folder, ignore_errors=True)
    return {"rows": rows}


def table(out: dict) -> str:
    """The section's figures as a plain-text table."""
    rows = []
    for r in out["rows"]:
        rows.append({"store": "milvus-lite" if r["store"] == "milvus" else "local",
                     "chunks": common.label(r["size"]), "build s": r["build_s"],
                     "build peak MB": r["build_peak_rss_mb"], "open s": r["open_s"],
                     **{f"{m} p50/p95 ms": f"{r[m]['p50_ms']:.1f} / {r[m]['p95_ms']:.1f}"
                        for m in MODES},
                     "recall@10": r["recall@10"], "search +MB": r["search_rss_growth_mb"],
                     "disk MB": r["disk_mb"], "queries": r["queries"],
                     "load": r["machine_before"]["load_1m"]})
    cols = ["store", "chunks", "build s", "build peak MB", "open s",
            *(f"{m} p50/p95 ms" for m in MODES), "recall@10", "search +MB", "disk MB",
            "queries", "load"]
    return common.table(rows, cols, "Local directory vs milvus-lite (synthetic chunks, "
                        "k=5, stand-in embedder)") + "\n" + json.dumps(
        {r["store"] + "@" + common.label(r["size"]): r["dense_index"] for r in out["rows"]})
