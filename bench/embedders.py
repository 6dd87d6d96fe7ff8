"""Embedding throughput per model on the same chunks: all-MiniLM-L6-v2 against its int8 twin.

Synthetic articles (`corpus.article_texts`) are chunked as `rag index` chunks them; each
model named in `MODELS` embeds every chunk once after a warm-up batch (so quantizing the
model, once per machine, is not timed), as `rag index` does (sorted by length, 32 at a time).
Reported per model: seconds, chunks/s, model tokens/s, and the cosine of its vectors to the
float model's (min, mean), which says how far the int8 model moves a chunk.

Does not: measure retrieval (`rag eval --beir DIR` on an index built with `rag index --model`).
"""

from __future__ import annotations

import time

import numpy as np

from . import common, corpus

MODELS = ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8")


def chunk_texts(documents: int) -> list[str]:
    """The chunk texts `rag index` would embed for `documents` synthetic articles."""
    from rag.indexing.embed import get_embedder
    from rag.reading.chunk import chunk_document
    from rag.reading.ingest import make_document

    embedder = get_embedder(MODELS[0])
    out = []
    for n, text in enumerate(corpus.article_texts(documents)):
        doc = make_document(text, id=f"a{n}", source="bench")
        out += [c.text for c in chunk_document(doc, model_limit=embedder.max_tokens,
                                               model_counter=embedder.count_tokens)]
    return out


def run(documents: int, *, say=print) -> dict:
    from rag.indexing.embed import SentenceTransformerEmbedder

    texts = chunk_texts(documents)
    first = SentenceTransformerEmbedder(MODELS[0])
    tokens = sum(first.count_tokens(t) for t in texts)
    out: dict = {"documents": documents, "chunks": len(texts), "tokens": tokens, "rows": [],
                 "machine_before": common.machine()}
    reference = None
    for name in MODELS:
        embedder = SentenceTransformerEmbedder(name)
        embedder.embed(texts[:32])  # warm-up: loads (and once per machine, makes) the model
        say(f"embedders: {name} on {len(texts)} chunks ...")
        started = time.perf_counter()
        vectors = embedder.embed(texts, batch_size=32)
        seconds = time.perf_counter() - started
        reference = vectors if reference is None else reference
        cosine = (reference * vectors).sum(axis=1)
        out["rows"].append({
            "model": name, "backend": embedder.last_backend, "seconds": round(seconds, 1),
            "chunks_per_s": round(len(texts) / seconds, 1), "tokens_per_s": round(tokens / seconds),
            "cosine_min": round(float(cosine.min()), 4),
            "cosine_mean": round(float(np.mean(cosine)), 4)})
    base = out["rows"][0]["seconds"]
    for row in out["rows"]:
        row["speedup"] = round(base / row["seconds"], 2)
    out["machine_after"] = common.machine()
    return out
