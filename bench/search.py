"""Search at scale: latency p50/p95, recall@10 against exact search, memory and disk size for
each FAISS index type, at several collection sizes.

Types: `flat` (IndexFlatIP, exact, what `rag index` builds by default), `hnsw` (HNSW, M=32 as
`rag.indexing.store`), `ivf` (IVF-Flat, the store's nlist rule), and two compressed ones on the same
coarse quantizer: `ivf-sq8` (8-bit scalar quantization, 4x smaller) and `ivf-pq` (48-byte
product codes, 32x smaller; optionally re-ranked exactly from the float vectors on disk, as
`vectors.npy` of an index would allow). Each (size, type) runs in a fresh process: build,
write, then read back and measure the resident memory the index adds, then sweep its search
parameter (efSearch or nprobe) over single-query searches (what one question does).

Sizes up to `real_upto` use real embeddings (SciFact chunks, SciFact claims as queries);
bigger ones use the synthetic mixture of `bench.corpus`. Ground truth is exact search.

Does not: measure query embedding (see `bench.coldstart`) or the SQLite/BM25 side.
"""

from __future__ import annotations

import gc
import math
import time
from pathlib import Path

import numpy as np

from . import common, corpus

TYPES = ("flat", "hnsw", "ivf", "ivf-sq8", "ivf-pq")
SWEEPS = {
    "flat": [None],
    "hnsw": [16, 32, 64, 128, 256],
    "ivf": [4, 8, 16, 32, 64, 128],
    "ivf-sq8": [4, 8, 16, 32, 64, 128],
    "ivf-pq": [[16, 0], [64, 0], [16, 100], [32, 100], [64, 100], [64, 200]],  # [nprobe, re-rank]
}
PARAM = {"flat": None, "hnsw": "efSearch", "ivf": "nprobe", "ivf-sq8": "nprobe",
         "ivf-pq": "nprobe/rerank"}
K = 10
HNSW_M = 32
PQ_BYTES = 48


def nlist_for(n: int) -> int:
    """`rag.indexing.store`'s rule for the number of IVF lists."""
    return int(max(16, min(4 * np.sqrt(n), n // 39)))


def prepare(size: int, *, queries: int, real_upto: int) -> dict:
    """Files (base, queries, exact top-10) for one size, made once and cached."""
    cache = corpus.cache_dir()
    if size <= real_upto:
        real = corpus.real_vectors(size, queries=queries)
        key = f"real-{size}-{queries}"
        base_file, query_file = cache / f"{key}-base.npy", cache / f"{key}-queries.npy"
        if not base_file.exists():
            np.save(base_file, real["base"], allow_pickle=False)
            np.save(query_file, real["queries"], allow_pickle=False)
        source = "real (SciFact chunks, all-MiniLM-L6-v2)"
        texts = str(cache / f"real-{size}-texts.json")
    else:
        base_file, query_file = corpus.synthetic_vectors(size, queries=queries)
        key = base_file.stem
        source = "synthetic (Gaussian mixture, 384-d)"
        texts = None
    gt_file = cache / f"gt-{key}-q{queries}.npy"
    if not gt_file.exists():
        import faiss

        base = np.load(base_file, mmap_mode="r")
        index = faiss.IndexFlatIP(base.shape[1])
        for start in range(0, len(base), 200_000):
            index.add(np.ascontiguousarray(base[start:start + 200_000]))
        _, gt = index.search(np.load(query_file), K)
        np.save(gt_file, gt, allow_pickle=False)
    stats_file = cache / f"stats-{key}.json"
    if not stats_file.exists():
        import json

        stats_file.write_text(json.dumps(corpus.vector_stats(
            np.load(base_file, mmap_mode="r"), np.load(query_file))))
    return {"base": str(base_file), "queries": str(query_file), "gt": str(gt_file),
            "source": source, "stats_file": str(stats_file), "texts": texts}


def run(sizes: list[int], types: list[str], *, queries: int = 1000, latency_queries: int = 200,
        real_upto: int = 10_000, threads: int = 0, say=print) -> list[dict]:
    """One row per (size, type, search parameter); `threads` 0 keeps FAISS's default."""
    import json
    import tempfile

    rows = []
    for size in sizes:
        files = prepare(size, queries=queries, real_upto=real_upto)
        stats = json.loads(Path(files["stats_file"]).read_text())
        for kind in types:
            say(f"search: {common.label(size)} {kind} ...")
            with tempfile.TemporaryDirectory(prefix="bench-faiss-") as tmp:
                path = str(Path(tmp) / f"{kind}.index")
                built = common.run_worker("search.build_and_save", kind=kind, files=files,
                                          path=path, threads=threads)
                result = common.run_worker("search.measure", kind=kind, files=files, path=path,
                                           latency_queries=latency_queries, threads=threads)
            result.update(built)
            for point in result.pop("points"):
                rows.append({"size": size, "chunks": common.label(size),
                             "vectors": files["source"].split(" ")[0], "type": kind,
                             "param": PARAM[kind], **point, **result, "vector_stats": stats})
    return rows


def build_and_save(kind: str, files: dict, path: str, threads: int = 0) -> dict:
    """Build one index type over the base vectors and write it to `path` (own process)."""
    import faiss

    if threads:
        faiss.omp_set_num_threads(threads)
    load = common.machine()
    base = np.load(files["base"], mmap_mode="r")
    trained = kind.startswith("ivf") and not _centroid_file(files, nlist_for(len(base))).exists()
    index, build_s = common.timed(build, kind, base, files)
    faiss.write_index(index, path)
    return {"build_s": round(build_s, 2), "disk_mb": round(Path(path).stat().st_size / 1e6, 1),
            "build_includes_kmeans": trained,
            "build_peak_rss_mb": round(common.peak_rss_mb(), 1), "machine_build": load}


def measure(kind: str, files: dict, path: str, latency_queries: int = 200,
            threads: int = 0) -> dict:
    """Read a saved index in a fresh process, then sweep its search parameter."""
    import faiss

    if threads:
        faiss.omp_set_num_threads(threads)
    load = common.machine()
    queries = np.load(files["queries"])
    gt = np.load(files["gt"])
    gc.collect()
    before = common.rss_mb()
    index, load_s = common.timed(faiss.read_index, path)
    index_mb = common.rss_mb() - before
    vectors = np.load(files["base"], mmap_mode="r")  # for the ivf-pq re-rank only
    points = [_sweep_point(kind, index, value, queries, gt, vectors, latency_queries)
              for value in SWEEPS[kind]]
    return {"load_s": round(load_s, 3), "index_rss_mb": round(index_mb, 1),
            "process_rss_mb": round(common.rss_mb(), 1), "threads": faiss.omp_get_max_threads(),
            "ntotal": int(index.ntotal), "machine_before": load,
            "machine_after": common.machine(), "points": points}


def _sweep_point(kind, index, value, queries, gt, vectors, latency_queries) -> dict:
    rerank = 0
    if kind == "hnsw":
        index.hnsw.efSearch = value
    elif kind in ("ivf", "ivf-sq8"):
        index.nprobe = value
    elif kind == "ivf-pq":
        index.nprobe, rerank = value

    def search(q: np.ndarray) -> np.ndarray:
        if not rerank:
            return index.search(q, K)[1]
        _, cand = index.search(q, rerank)
        out = np.empty((len(q), K), dtype=np.int64)
        for i, rows in enumerate(cand):
            rows = np.sort(rows[rows >= 0])
            scores = np.asarray(vectors[rows]) @ q[i]
            out[i] = rows[np.argsort(-scores)[:K]]
        return out

    for i in range(10):  # warm up
        search(queries[i:i + 1])
    seconds = []
    for i in range(min(latency_queries, len(queries))):
        start = time.perf_counter()
        search(queries[i:i + 1])
        seconds.append(time.perf_counter() - start)
    found = search(queries) if kind != "flat" else gt
    recall = np.mean([len(set(f[f >= 0]) & set(g)) / K for f, g in zip(found, gt)])
    return {"value": value if not isinstance(value, list) else "/".join(map(str, value)),
            **common.percentiles(seconds), "recall@10": round(float(recall), 4)}


def build(kind: str, base: np.ndarray, files: dict):
    """A FAISS inner-product index of `kind` holding `base` (added in blocks)."""
    import faiss

    n, dim = base.shape
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    elif kind in ("ivf", "ivf-sq8", "ivf-pq"):
        index = _ivf(kind, base, files)
    else:
        raise ValueError(f"unknown index type {kind!r}; allowed: {', '.join(TYPES)}")
    for start in range(0, n, 100_000):
        index.add(np.ascontiguousarray(base[start:start + 100_000], dtype=np.float32))
    return index


def _ivf(kind: str, base: np.ndarray, files: dict):
    import faiss

    n, dim = base.shape
    nlist = nlist_for(n)
    quantizer = faiss.IndexFlatIP(dim)
    quantizer.add(_centroids(base, nlist, files))
    sample = _sample(base, min(n, 64 * 1024 if kind != "ivf-pq" else 16 * 1024))
    if kind == "ivf":
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
    elif kind == "ivf-sq8":
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist,
                                              faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, PQ_BYTES, 8, faiss.METRIC_INNER_PRODUCT)
    index.train(sample)  # the quantizer is trained already: only SQ ranges or PQ codebooks
    return index


def _sample(base: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    rows = np.sort(np.random.default_rng(seed).choice(len(base), size=count, replace=False))
    return np.ascontiguousarray(base[rows], dtype=np.float32)


def _centroids(base: np.ndarray, nlist: int, files: dict) -> np.ndarray:
    """k-means centroids for the coarse quantizer, trained once per data set and cached.

    Trained on at most 40 points per list (FAISS's own default would take up to 256; 40
    keeps the 1M-vector build within minutes on two cores, and is above its 39 minimum).
    """
    import faiss

    cache = _centroid_file(files, nlist)
    if cache.exists():
        return np.load(cache)
    sample = _sample(base, min(len(base), 40 * nlist))
    kmeans = faiss.Kmeans(base.shape[1], nlist, niter=20, seed=1, spherical=True,
                          max_points_per_centroid=math.ceil(len(sample) / nlist) + 1)
    kmeans.train(sample)
    np.save(cache, kmeans.centroids, allow_pickle=False)
    return kmeans.centroids


def _centroid_file(files: dict, nlist: int) -> Path:
    return Path(files["gt"]).with_name(f"centroids-{Path(files['base']).stem}-{nlist}.npy")


def best(rows: list[dict], *, recall: float = 0.95) -> list[dict]:
    """Per (size, type), the fastest setting (by p95) whose recall@10 reaches `recall`."""
    out = {}
    for r in rows:
        if r["recall@10"] < recall:
            continue
        key = (r["size"], r["type"])
        if key not in out or r["p95_ms"] < out[key]["p95_ms"]:
            out[key] = r
    return list(out.values())
