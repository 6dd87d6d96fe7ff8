"""The benchmark's data: synthetic articles, real embeddings, synthetic vectors.

- Articles (`make_articles`): news-length `.txt` files whose sentences are sampled from
  real text: the abstracts of BEIR SciFact (`/work/shared/benchmarks/scifact/corpus.jsonl`,
  5,183 abstracts) and the five news articles of `seeds/`. Each article has a title line, a
  date line and 4-9 paragraphs of 2-5 sentences (about 2,500-5,500 characters), drawn
  mostly from three consecutive abstracts so it keeps to one subject, with one seed sentence
  in four. Deterministic for a given count and seed.
- Real embeddings (`real_vectors`): SciFact abstracts chunked by `rag.reading.chunk` exactly as
  `rag index` does and embedded with the real model (PyTorch), with the SciFact claims as
  queries. Used for the smaller sizes (10k chunks by default).
- Synthetic vectors (`synthetic_vectors`): a two-level Gaussian mixture in 384 dimensions
  (topics, sub-topics within a topic, points around a sub-topic, plus a shared direction as
  real sentence embeddings have), each point normalized; queries come from the same
  sub-topics but further out, as questions are not chunks. Used for 100k and 1M chunks,
  where embedding real text would take hours here. Calibrated at 10k against the real
  embeddings: recall@10 of IVF-Flat (256 lists) at nprobe 1/4/16 is 0.49/0.73/0.95 on the
  mixture and 0.48/0.73/0.90 on the real vectors; HNSW (M=8) at efSearch 8/16 is
  0.49/0.64 against 0.75/0.86 (harder than real, so HNSW figures err low); median
  nearest-neighbour cosine 0.82 (real 0.84), random pairs 0.10 (0.11), a query's best
  match 0.60 (0.62). `vector_stats` in the JSON repeats these measures for every size.

Everything is cached under `$BENCH_CACHE` (default: `rag.indexing.onnx.cache_root()/bench`).

Does not: download anything.
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SCIFACT = Path(os.environ.get("BENCH_SCIFACT", "/work/shared/benchmarks/scifact"))
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def cache_dir() -> Path:
    if os.environ.get("BENCH_CACHE"):
        path = Path(os.environ["BENCH_CACHE"])
    else:
        from rag.indexing.onnx import cache_root

        path = cache_root() / "bench"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _split(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if len(s.strip()) > 20]


def scifact_abstracts() -> list[dict]:
    file = SCIFACT / "corpus.jsonl"
    if not file.exists():
        raise FileNotFoundError(f"{file} is missing; set BENCH_SCIFACT to a BEIR SciFact folder")
    with file.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def scifact_queries() -> list[str]:
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def seed_sentences() -> list[str]:
    out: list[str] = []
    for file in sorted(SEEDS.glob("*.txt")):
        for para in file.read_text(encoding="utf-8").split("\n\n")[1:]:
            out.extend(_split(para))
    return out


def article_texts(count: int, *, seed: int = 7) -> list[str]:
    """`count` article texts (title line, date line, paragraphs), deterministic."""
    rng = random.Random(seed)
    abstracts = [(a.get("title") or "", _split(a["text"])) for a in scifact_abstracts()]
    abstracts = [(t, s) for t, s in abstracts if len(s) >= 2]
    seeds = seed_sentences()
    out = []
    for n in range(count):
        start = rng.randrange(len(abstracts))
        pool = [s for _, sents in abstracts[start:start + 3] for s in sents]
        paragraphs = []
        for _ in range(rng.randint(4, 9)):
            para = []
            for _ in range(rng.randint(2, 5)):
                para.append(rng.choice(seeds) if rng.random() < 0.25 else rng.choice(pool))
            paragraphs.append(" ".join(para))
        title = abstracts[start][0].rstrip(".") or f"Article {n}"
        date = f"date 20{rng.randint(10, 24):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        out.append(f"{date}\n{title}\n\n" + "\n\n".join(paragraphs) + "\n")
    return out


def make_articles(count: int, *, seed: int = 7, folder: Path | None = None) -> Path:
    """A folder of `count` synthetic `.txt` articles (made once, then reused)."""
    folder = folder or cache_dir() / f"articles-{count}-{seed}"
    done = folder / ".complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for n, text in enumerate(article_texts(count, seed=seed)):
        (folder / f"article_{n:06d}.txt").write_text(text, encoding="utf-8")
    done.write_text(str(count))
    return folder


def passage_texts(count: int, *, seed: int = 3) -> list[str]:
    """`count` chunk-sized passages (3-5 SciFact sentences each), deterministic."""
    rng = random.Random(seed)
    sentences = [s for a in scifact_abstracts() for s in _split(a["text"])]
    return [" ".join(rng.choice(sentences) for _ in range(rng.randint(3, 5)))
            for _ in range(count)]


def extra_article(seed: int = 99) -> str:
    """One more article, not in any `make_articles` folder (its seed differs)."""
    return article_texts(1, seed=seed)[0].replace("\n\n", "\n\nBreaking update. ", 1)


# --- vectors -----------------------------------------------------------------------------


def _cached(name: str) -> Path:
    return cache_dir() / name


def real_vectors(count: int, *, queries: int = 1000, progress: bool = True) -> dict:
    """{"base", "queries", "texts", "query_texts"}: real embeddings of SciFact chunks."""
    file = _cached(f"real-{count}-{queries}.npz")
    texts_file = _cached(f"real-{count}-texts.json")
    if file.exists() and texts_file.exists():
        data = np.load(file, allow_pickle=False)
        texts = json.loads(texts_file.read_text())
        return {"base": data["base"], "queries": data["queries"], "texts": texts["base"],
                "query_texts": texts["queries"]}
    from rag.indexing.embed import SentenceTransformerEmbedder
    from rag.reading.chunk import chunk_document
    from rag.reading.ingest import make_document

    embedder = SentenceTransformerEmbedder(onnx=False)
    texts: list[str] = []
    for a in scifact_abstracts():
        doc = make_document(f"{a.get('title', '')}\n\n{a['text']}", id=a["_id"], source="scifact")
        texts.extend(c.text for c in chunk_document(doc, model_limit=embedder.max_tokens,
                                                    model_counter=embedder.count_tokens))
        if len(texts) >= count:
            break
    if len(texts) < count:
        raise ValueError(f"SciFact gives {len(texts)} chunks, fewer than {count}; "
                         "use synthetic vectors for this size")
    texts = texts[:count]
    query_texts = scifact_queries()[:queries]
    base = embedder.embed(texts, progress=progress)
    q = embedder.embed(query_texts)
    np.savez(file, base=base, queries=q)
    texts_file.write_text(json.dumps({"base": texts, "queries": query_texts}))
    return {"base": base, "queries": q, "texts": texts, "query_texts": query_texts}


def synthetic_vectors(count: int, *, queries: int = 1000, dim: int = 384, seed: int = 0,
                      folder: Path | None = None) -> tuple[Path, Path]:
    """(base.npy, queries.npy) of a normalized two-level Gaussian mixture, made once."""
    folder = folder or cache_dir()
    stem = f"synthetic-v{_Mixture.VERSION}-{count}-{dim}-{seed}"
    base_file, query_file = folder / f"{stem}.npy", folder / f"{stem}-q{queries}.npy"
    if base_file.exists() and query_file.exists():
        return base_file, query_file
    mixture = _Mixture(count, dim, seed)
    tmp = base_file.with_suffix(".tmp.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(count, dim))
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        out[start:start + n] = mixture.sample(n)
    out.flush()
    del out
    os.replace(tmp, base_file)
    np.save(query_file, mixture.sample(queries, query=True), allow_pickle=False)
    return base_file, query_file


class _Mixture:
    """Topics around a shared direction, sub-topics around topics, points around sub-topics.

    Queries are drawn further from their sub-topic than chunks are (questions are not
    chunks). The spreads were set so recall@10 of IVF and HNSW at a few settings, and the
    nearest-neighbour, random-pair and query-to-best cosines, come near those of real MiniLM
    embeddings of SciFact chunks and claims at 10k (the JSON's `vector_stats` shows both).
    """

    SHARED = 0.35        # weight of the direction every vector shares
    TOPIC_SPREAD = 1.0
    SUB_SPREAD = 1.0
    SUB_SIZE = 3         # points per sub-topic, on average
    POINT_SPREAD = 0.5
    QUERY_SPREAD = 1.15
    VERSION = 2          # part of the cache file names: change it with any setting above

    def __init__(self, count: int, dim: int, seed: int):
        self.rng = np.random.default_rng(seed)
        self.dim = dim
        topics = max(8, count // 2000)
        subs = max(4 * topics, count // self.SUB_SIZE)
        shared = _unit(self.rng.standard_normal(dim))
        centres = _unit(self.SHARED * shared + self.TOPIC_SPREAD * _unit(
            self.rng.standard_normal((topics, dim))))
        weights = self.rng.pareto(1.5, topics) + 1  # some topics are much bigger than others
        owner = self.rng.choice(topics, size=subs, p=weights / weights.sum())
        self.subs = _unit(centres[owner] + self.SUB_SPREAD * _unit(
            self.rng.standard_normal((subs, dim))))
        sub_weights = self.rng.pareto(2.0, subs) + 1
        self.p = sub_weights / sub_weights.sum()

    def sample(self, n: int, *, query: bool = False) -> np.ndarray:
        which = self.rng.choice(len(self.subs), size=n, p=self.p)
        noise = self.rng.standard_normal((n, self.dim)).astype(np.float32)
        scale = self.QUERY_SPREAD if query else self.POINT_SPREAD
        spread = scale * self.rng.uniform(0.7, 1.3, size=(n, 1)).astype(np.float32)
        return _unit(self.subs[which].astype(np.float32) + spread * _unit(noise))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def vector_stats(base: np.ndarray, queries: np.ndarray | None = None, *, sample: int = 1000,
                 seed: int = 0) -> dict:
    """Median nearest-neighbour cosine of `sample` rows, mean random-pair cosine and, with
    `queries`, the median cosine of each query's best match."""
    rng = np.random.default_rng(seed)
    own = np.sort(rng.choice(len(base), size=min(sample, len(base)), replace=False))
    q = np.asarray(base[own], dtype=np.float32)
    best = np.full(len(q), -2.0, dtype=np.float32)
    query_best = None if queries is None else np.full(len(queries), -2.0, dtype=np.float32)
    for start in range(0, len(base), 200_000):
        block = np.asarray(base[start:start + 200_000], dtype=np.float32)
        sims = q @ block.T
        inside = (own >= start) & (own < start + len(block))
        sims[np.nonzero(inside)[0], own[inside] - start] = -2.0
        best = np.maximum(best, sims.max(axis=1))
        if queries is not None:
            query_best = np.maximum(query_best, (np.asarray(queries) @ block.T).max(axis=1))
    pairs = rng.choice(len(base), size=(2000, 2))
    random_cos = np.einsum("ij,ij->i", np.asarray(base[pairs[:, 0]]), np.asarray(base[pairs[:, 1]]))
    out = {"nn_cosine_median": round(float(np.median(best)), 3),
           "random_pair_cosine_mean": round(float(random_cos.mean()), 3)}
    if query_best is not None:
        out["query_best_cosine_median"] = round(float(np.median(query_best)), 3)
    return out
