"""The same corpus, model and machine through LlamaIndex (`llama-index-core`, the `bench`
extra): `VectorStoreIndex` with its default in-memory `SimpleVectorStore`.

The model is ours: `STEmbedding` wraps the very SentenceTransformer that `rag` loads
(all-MiniLM-L6-v2, PyTorch, CPU), with the same batch size (64; LlamaIndex's default is
10). Nothing is downloaded and no OpenAI model is configured (`Settings.llm = None`).

- `ingestion`: `SimpleDirectoryReader` + `VectorStoreIndex.from_documents` over the same
  article folder as `bench.ingest.ingestion`, split by `SentenceSplitter` into chunks of
  the same size as ours (128 tiktoken tokens, 20 overlapping), model loaded beforehand.
- `search`: the same chunk texts and vectors as `bench.search` (real at 10k, synthetic at
  100k) given to both, each query as a vector (query embedding is timed apart, in
  `bench.coldstart`): LlamaIndex's retriever (`similarity_top_k=10`) against ours
  (`IndexStore.search` on the default exact FAISS index, then `Retriever.passages` to fetch
  the texts and metadata from SQLite). Memory is the RSS that building (LlamaIndex) or
  opening (ours) the index adds. Ours is also timed end to end (`Retriever.search` on the
  question text: ONNX query embedding, dense and hybrid).

Does not: compare answer quality (the same vectors give the same top 10 on both sides).
"""

from __future__ import annotations

import gc
import tempfile
import time
from pathlib import Path

import numpy as np

from . import common, corpus

BATCH = 64
CHUNK_TOKENS = 128
OVERLAP_TOKENS = 20


def _embedding():
    from llama_index.core.embeddings import BaseEmbedding

    from rag.indexing.embed import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder(onnx=False).model

    class STEmbedding(BaseEmbedding):
        """LlamaIndex embedding over rag's own SentenceTransformer (no download)."""

        def _encode(self, texts: list[str]) -> list[list[float]]:
            return model.encode(texts, batch_size=BATCH, normalize_embeddings=True,
                                convert_to_numpy=True, show_progress_bar=False).tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._encode([text])[0]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return self._encode(texts)

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._encode([query])[0]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return STEmbedding(model_name="all-MiniLM-L6-v2", embed_batch_size=BATCH)


def _settings():
    from llama_index.core import Settings

    Settings.llm = None
    return Settings


def ingestion(documents: int) -> dict:
    """Index the article folder with LlamaIndex (run in its own process)."""
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.node_parser import SentenceSplitter

    _settings()
    folder = corpus.make_articles(documents)
    load = common.machine()
    embed, model_s = common.timed(_embedding)
    embed.get_text_embedding_batch(["warm up the model"] * 32)
    splitter = SentenceSplitter(chunk_size=CHUNK_TOKENS, chunk_overlap=OVERLAP_TOKENS)
    cpu = time.process_time()
    start = time.perf_counter()
    docs = SimpleDirectoryReader(str(folder), required_exts=[".txt"],
                                 exclude_hidden=False).load_data()  # the cache is ~/.cache
    index = VectorStoreIndex.from_documents(docs, embed_model=embed, transformations=[splitter])
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    nodes = list(index.docstore.docs.values())
    from rag.indexing.embed import get_embedder

    tokens = sum(get_embedder().count_tokens(n.get_content()) or 0 for n in nodes)
    return {"documents": len(docs), "chunks": len(nodes), "build_s": round(seconds, 2),
            "build_cpu_s": round(cpu, 2), "tokens": tokens,
            "tokens_per_s": round(tokens / seconds, 1),
            "docs_per_s": round(len(docs) / seconds, 2),
            "chunks_per_s": round(len(nodes) / seconds, 2),
            "model_load_s": round(model_s, 2), "peak_rss_mb": round(common.peak_rss_mb(), 1),
            "machine_before": load, "machine_after": common.machine()}


def _data(files: dict) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """Base vectors, query vectors, chunk texts and question texts for a `bench.search` size.

    Real vectors come with their own chunk texts; synthetic ones get passages sampled from
    SciFact sentences (the texts only fill the metadata store; no one embeds them).
    """
    base = np.load(files["base"])
    queries = np.load(files["queries"])
    texts_file = Path(files.get("texts") or "")
    if texts_file.is_file():
        import json

        texts = json.loads(texts_file.read_text())["base"]
    else:
        texts = corpus.passage_texts(len(base))
    return base, queries, texts, corpus.scifact_queries()


def llama_search(files: dict, latency_queries: int = 200, budget_s: float = 120) -> dict:
    """LlamaIndex: memory of the built index and retrieval latency (own process)."""
    from llama_index.core import QueryBundle, VectorStoreIndex
    from llama_index.core.schema import TextNode

    _settings()
    embed = _no_embedding()
    base, queries, texts, _ = _data(files)
    load = common.machine()
    gc.collect()
    before = common.rss_mb()
    nodes = [TextNode(text=t, id_=f"n{i}", embedding=v.tolist())
             for i, (t, v) in enumerate(zip(texts, base))]
    index, build_s = common.timed(VectorStoreIndex, nodes, embed_model=embed)
    del nodes
    gc.collect()
    memory = common.rss_mb() - before
    retriever = index.as_retriever(similarity_top_k=10)
    seconds = _latencies(lambda q: retriever.retrieve(QueryBundle(query_str="q", embedding=q.tolist())),
                         queries, latency_queries, budget_s)
    return {"side": "llamaindex", "index_rss_mb": round(memory, 1), "build_s": round(build_s, 2),
            "queries_timed": len(seconds), **common.percentiles(seconds),
            "machine_before": load, "machine_after": common.machine()}


def ours_search(files: dict, index_dir: str, latency_queries: int = 200,
                budget_s: float = 120) -> dict:
    """verbatim: memory of the opened index and retrieval latency (own process)."""
    from rag.search.retrieve import Retriever, SearchConfig

    _, queries, _, question_texts = _data(files)
    load = common.machine()
    gc.collect()
    before = common.rss_mb()
    retriever = Retriever.load(index_dir, config=SearchConfig(mode="dense"))
    store = retriever.store

    def by_vector(q: np.ndarray):
        scores, rows = store.search(q[None, :], 10)
        return retriever.passages([(int(r), float(s)) for r, s in zip(rows[0], scores[0])])

    by_vector(queries[0])
    memory = common.rss_mb() - before
    seconds = _latencies(by_vector, queries, latency_queries, budget_s)
    out = {"side": "verbatim", "index_rss_mb": round(memory, 1), "queries_timed": len(seconds),
           **common.percentiles(seconds), "machine_before": load}
    for mode in ("dense", "hybrid"):
        r = retriever.with_config(mode=mode)
        r.search(question_texts[0], k=10)
        texts = question_texts[:latency_queries]
        times = _latencies(lambda t, r=r: r.search(t, k=10), texts, latency_queries, budget_s)
        out[f"{mode}_text_p50_ms"] = common.percentiles(times)["p50_ms"]
        out[f"{mode}_text_p95_ms"] = common.percentiles(times)["p95_ms"]
    out["query_backend"] = retriever.embedder.last_backend
    out["rss_after_hybrid_mb"] = round(common.rss_mb() - before, 1)
    out["machine_after"] = common.machine()
    return out


def _latencies(fn, queries, count: int, budget_s: float) -> list[float]:
    seconds: list[float] = []
    deadline = time.perf_counter() + budget_s
    for q in queries[:count]:
        start = time.perf_counter()
        fn(q)
        seconds.append(time.perf_counter() - start)
        if time.perf_counter() > deadline and len(seconds) >= 5:
            break
    return seconds


def _no_embedding():
    """An embed model that refuses to embed: the nodes and queries carry their vectors."""
    from llama_index.core.embeddings import BaseEmbedding

    class NoEmbedding(BaseEmbedding):
        def _get_text_embedding(self, text):
            raise AssertionError("nodes carry their embeddings")

        def _get_query_embedding(self, query):
            raise AssertionError("queries carry their embeddings")

        async def _aget_query_embedding(self, query):
            raise AssertionError("queries carry their embeddings")

    return NoEmbedding(model_name="none")


def build_ours(files: dict, folder: str) -> str:
    """Write a verbatim index (exact FAISS, SQLite, BM25) of the same texts and vectors."""
    from dataclasses import asdict

    from rag.indexing.embed import DEFAULT_MODEL
    from rag.indexing.lexical import LexicalConfig
    from rag.indexing.store import Manifest, StoreConfig, write_index
    from rag.reading.chunk import Chunk, ChunkConfig
    from rag.reading.ingest import make_document

    base, _, texts, _ = _data(files)
    docs = [make_document(t, id=f"d{i}", source="bench") for i, t in enumerate(texts)]
    chunks = [Chunk(id=f"d{i}:0", doc_id=f"d{i}", text=t, start=0, end=len(t), n_tokens=0)
              for i, t in enumerate(texts)]
    manifest = Manifest(model=DEFAULT_MODEL, dimension=base.shape[1],
                        chunker=asdict(ChunkConfig()), store=asdict(StoreConfig()),
                        documents={d.id: d.hash for d in docs}, chunks=len(chunks),
                        lexical=asdict(LexicalConfig()))
    write_index(folder, manifest=manifest, documents=docs, chunks=chunks, vectors=base,
                config=StoreConfig())
    return folder


def search(sizes: list[int], *, queries: int, real_upto: int, latency_queries: int = 200,
           say=print) -> list[dict]:
    """Both sides at each size, each in fresh processes."""
    from . import search as faiss_search

    rows = []
    for size in sizes:
        files = faiss_search.prepare(size, queries=queries, real_upto=real_upto)
        with tempfile.TemporaryDirectory(prefix="bench-llama-") as tmp:
            say(f"side by side: writing our index of {common.label(size)} chunks ...")
            index_dir = str(Path(tmp) / "index")
            common.run_worker("llamaindex.build_ours", files=files, folder=index_dir)
            say(f"side by side: {common.label(size)} ours ...")
            ours = common.run_worker("llamaindex.ours_search", files=files, index_dir=index_dir,
                                     latency_queries=latency_queries)
        say(f"side by side: {common.label(size)} LlamaIndex ...")
        theirs = common.run_worker("llamaindex.llama_search", files=files,
                                   latency_queries=latency_queries)
        for row in (ours, theirs):
            rows.append({"size": size, "chunks": common.label(size),
                         "vectors": files["source"].split(" ")[0], **row})
    return rows
