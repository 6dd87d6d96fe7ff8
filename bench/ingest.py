"""Ingestion throughput and incremental re-indexing, through `rag.indexing.build.build_index`.

`ingestion`: build a fresh index of synthetic articles (`bench.corpus.make_articles`) with
the real model, then `encode` the very same chunk texts with the same model and batch size:
the difference is everything that is not the model (reading, chunking, hashing, SQLite,
FAISS, BM25, writing). Tokens are the model's word pieces (special tokens included).

`reindex`: a corpus of thousands of articles is indexed once with a cheap stand-in
embedder that carries the real model's name, dimension and tokenizer (embedding 5,000
articles for real takes most of an hour on two cores, and these vectors are never looked
at); then, with the real `SentenceTransformerEmbedder`, the unchanged corpus is indexed
again (it must embed nothing), and again after one new article is dropped into the folder.
Both are timed in-process and as `rag index` in a new process (what a user waits).

Does not: measure search (see `bench.search`).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from rag.indexing.embed import Embedder

from . import common, corpus


def ingestion(documents: int, *, say=print) -> dict:
    """docs/s, chunks/s, tokens/s of `build_index`, beside `encode` alone on its chunks, and
    `build_index` with a stand-in embedder (everything but the model, measured directly,
    which stays meaningful when the load changes between the other two runs)."""
    from rag.indexing.build import build_index
    from rag.indexing.embed import SentenceTransformerEmbedder
    from rag.indexing.store import open_index

    folder = corpus.make_articles(documents)
    load = common.machine()
    embedder = SentenceTransformerEmbedder()
    _, model_s = common.timed(lambda: embedder.model)  # load (and export) outside the timing
    embedder.embed(["warm up the model"] * 32)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        say(f"ingestion: indexing {documents} articles ...")
        report, cpu_build = _cpu(build_index, [folder], index_dir=Path(tmp) / "index",
                                 embedder=embedder)
        store = open_index(Path(tmp) / "index")
        texts = [c.text for _, c in store.chunks()]
        disk = store.size_on_disk() + common.size_on_disk(Path(tmp) / "index" / "bm25")
        store.close()
        say("ingestion: again with a stand-in embedder (no model work) ...")
        rest = build_index([folder], index_dir=Path(tmp) / "rest", embedder=StandIn(embedder))
    tokens = sum(embedder.count_tokens(t) or 0 for t in texts)
    say(f"ingestion: encoding the same {len(texts)} chunks alone ...")
    (_, encode_s), cpu_encode = _cpu(common.timed, embedder.embed, texts)
    build_s = report.seconds
    return {
        "documents": report.documents, "chunks": report.chunks, "tokens": tokens,
        "embedded": report.embedded, "model_load_s": round(model_s, 2),
        "build_s": round(build_s, 2), "encode_s": round(encode_s, 2),
        "build_cpu_s": round(cpu_build, 2), "encode_cpu_s": round(cpu_encode, 2),
        "no_model_build_s": round(rest.seconds, 2),
        "docs_per_s": round(report.documents / build_s, 2),
        "chunks_per_s": round(report.chunks / build_s, 2),
        "tokens_per_s": round(tokens / build_s, 1),
        "bound_chunks_per_s": round(len(texts) / encode_s, 2),
        "bound_tokens_per_s": round(tokens / encode_s, 1),
        "overhead_s": round(build_s - encode_s, 2),
        "overhead_share": round((build_s - encode_s) / build_s, 3),
        "no_model_share": round(rest.seconds / build_s, 3),
        "index_mb": round(disk / 1e6, 2), "corpus": str(folder),
        "machine_before": load, "machine_after": common.machine(),
    }


def measure_ingestion(documents: int) -> dict:
    """`ingestion` as a `common.run_worker` target: quiet, with the process's peak RSS."""
    out = ingestion(documents, say=lambda *_: None)
    out["peak_rss_mb"] = round(common.peak_rss_mb(), 1)
    return out


def _cpu(fn, *args, **kwargs):
    """(fn's result, CPU seconds of this process, all threads, while it ran)."""
    start = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - start


class StandIn(Embedder):
    """Builds the first index cheaply: the real model's identity, hashed random vectors."""

    def __init__(self, real: Embedder):
        self.real = real
        self.name, self.dimension, self.max_tokens = real.name, real.dimension, real.max_tokens

    def count_tokens(self, text: str) -> int | None:
        return self.real.count_tokens(text)

    def _embed(self, texts: list[str]) -> np.ndarray:
        seeds = [int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little") for t in texts]
        return np.vstack([np.random.default_rng(s).standard_normal(self.dimension)
                          for s in seeds]).astype(np.float32)


def reindex(documents: int, *, say=print) -> dict:
    """Unchanged re-index and add-one timings on `documents` articles.

    The corpus folder and its first index are kept in the bench cache, so only the first run
    pays for chunking thousands of articles; each run re-indexes a copy of that index.
    """
    from rag.indexing.build import build_index
    from rag.indexing.embed import SentenceTransformerEmbedder

    home = corpus.cache_dir() / f"reindex-{documents}"
    folder, cached = home / "corpus", home / "index"
    if not folder.exists():
        shutil.copytree(corpus.make_articles(documents), folder,
                        ignore=shutil.ignore_patterns(".complete"))
    for extra in folder.glob("zz_*.txt"):
        extra.unlink()
    real = SentenceTransformerEmbedder()
    rag = [common.PYTHON, "-m", "rag", "index"]
    with tempfile.TemporaryDirectory(prefix="bench-reindex-") as tmp:
        index = Path(tmp) / "index"
        if cached.exists():
            shutil.copytree(cached, index)
        say(f"reindex: first index of {documents} articles (stand-in embedder) ...")
        first = build_index([folder], index_dir=index, embedder=StandIn(real))
        if first.written:
            shutil.rmtree(cached, ignore_errors=True)
            shutil.copytree(index, cached)
        load = common.machine()
        say("reindex: unchanged, in-process and as `rag index` ...")
        unchanged = build_index([folder], index_dir=index, embedder=real)
        cli_unchanged = common.run_command([*rag, str(folder), "--index", str(index)])
        try:
            (folder / "zz_new_article.txt").write_text(corpus.extra_article(), encoding="utf-8")
            say("reindex: one article added, in-process ...")
            added = build_index([folder], index_dir=index, embedder=real)
            (folder / "zz_newer_article.txt").write_text(corpus.extra_article(seed=100),
                                                          encoding="utf-8")
            say("reindex: another article added, as `rag index` ...")
            cli_added = common.run_command([*rag, str(folder), "--index", str(index)])
            after = common.run_command([*rag, str(folder), "--index", str(index)])
        finally:
            for extra in folder.glob("zz_*.txt"):
                extra.unlink()
    if unchanged.embedded or unchanged.written:
        raise RuntimeError(f"an unchanged re-index embedded {unchanged.embedded} chunks")
    return {
        "documents": unchanged.documents, "chunks": unchanged.chunks,
        "first_build_s_stand_in": round(first.seconds, 2), "first_build_written": first.written,
        "unchanged_s": round(unchanged.seconds, 3), "unchanged_embedded": unchanged.embedded,
        "unchanged_cli_s": round(cli_unchanged, 3),
        "add_one_s": round(added.seconds, 3), "add_one_embedded": added.embedded,
        "add_one_backend": real.last_backend,
        "add_one_cli_s": round(cli_added, 3), "unchanged_again_cli_s": round(after, 3),
        "machine_before": load, "machine_after": common.machine(),
    }
