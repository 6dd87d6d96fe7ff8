"""Build the FAISS structure of an index: exact while small, approximate when large.

`build` indexes the rows of a (possibly memory-mapped) vector array block by block, so the
vectors are never copied whole; a partial set of rows (a snapshot published while embedding
goes on) gets an exact index with the rows as ids. `resolve_type` says what `auto` means at
a given size. The settings come from `rag.indexing.store.StoreConfig`.

Does not: read or write files, or search (FAISS does).
"""

from __future__ import annotations

import numpy as np


def resolve_type(config, rows: int) -> str:
    """The FAISS type `config` asks for at this size: `auto` is exact up to `auto_flat_max`."""
    if config.index_type != "auto":
        return config.index_type
    return "flat" if rows <= config.auto_flat_max else "ivf"


def build(vectors: np.ndarray, rows: np.ndarray, config):
    """(index, description) over `vectors[rows]`; a partial set of rows gets an exact ID map."""
    import faiss

    dim = vectors.shape[1]
    if len(rows) < len(vectors):  # a snapshot while embedding goes on: exact, rows as ids
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        for block in _blocks(len(rows)):
            index.add_with_ids(_rows(vectors, rows[block]), rows[block].astype(np.int64))
        return index, f"flat (partial: {len(rows)} of {len(vectors)} rows)"
    kind = resolve_type(config, len(vectors))
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = config.ef_search
        described = f"hnsw M={config.hnsw_m} efSearch={config.ef_search}"
    elif kind in ("ivf", "ivf-sq8") and len(vectors) >= 1000:
        nlist = int(max(16, min(4 * np.sqrt(len(vectors)), len(vectors) // 39)))
        codes = "SQ8" if kind == "ivf-sq8" else "Flat"
        index = faiss.index_factory(dim, f"IVF{nlist},{codes}", faiss.METRIC_INNER_PRODUCT)
        index.train(_training_sample(vectors, nlist))
        index.nprobe = config.nprobe
        described = f"{kind} nlist={nlist} nprobe={config.nprobe}"
    else:  # flat, or too few vectors to train IVF
        index, described = faiss.IndexFlatIP(dim), "flat"
    for block in _blocks(len(vectors)):
        index.add(np.ascontiguousarray(vectors[block], dtype=np.float32))
    return index, described


def _blocks(n: int, size: int = 65_536) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def _rows(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(vectors[rows], dtype=np.float32)


def _training_sample(vectors: np.ndarray, nlist: int, per_list: int = 40) -> np.ndarray:
    """At most `per_list` points per list for k-means, drawn evenly (k-means cost is linear)."""
    n = min(len(vectors), nlist * per_list)
    rows = np.sort(np.random.default_rng(0).choice(len(vectors), size=n, replace=False))
    return _rows(vectors, rows)
