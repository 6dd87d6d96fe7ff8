"""`rag index`: build or update an index from files and folders, in a directory or in Milvus
(`--store URI`).

Does not: decide what changed or how to store it (`rag.indexing.build`).
"""

from __future__ import annotations

import json

from ..indexing.embed import DEFAULT_MODEL, INT8_MODEL, MODELS
from ..indexing.settings import LARGE_CHARACTERS, LARGE_CHUNK_TOKENS
from .common import index_arg, index_dir, json_arg, say

SHOWN = 10  # document ids listed per kind of change; --json lists them all
LARGE = f"new index of {LARGE_CHARACTERS / 1e6:.0f} million characters or more"


def register(sub) -> None:
    p = sub.add_parser("index", help="index files or folders (default: the seeds/ corpus)")
    p.add_argument("paths", nargs="*", metavar="PATH", help=".txt .md .html .pdf .jsonl files or folders")
    index_arg(p)
    p.add_argument("--add", action="store_true", help="keep the documents already indexed")
    p.add_argument("--index-type", choices=("auto", "flat", "hnsw", "ivf", "ivf-sq8"),
                   default="auto", help="vector index type, in FAISS or Milvus (default auto: "
                   "exact search up to 50,000 chunks, then IVF)")
    p.add_argument("--model", choices=MODELS, default=None,
                   help=f"embedding model: {INT8_MODEL} embeds about twice as fast for a small "
                   "loss (see the README); default: the index's own, else "
                   f"{DEFAULT_MODEL}, or {INT8_MODEL} for a {LARGE}. Another model than the "
                   "index's embeds everything again")
    p.add_argument("--chunk-tokens", type=_chunk_tokens, default=None, metavar="N",
                   help="chunk size in tiktoken tokens, 32 to 256 (default: the index's own, "
                   f"else 128, or {LARGE_CHUNK_TOKENS} for a {LARGE}); 200 finds more news "
                   "answers, 128 answers the seeds better (see the README). Another size than "
                   "the index's embeds everything again")
    json_arg(p, "print a JSON report")
    p.set_defaults(func=run)


def _chunk_tokens(value: str) -> int:
    import argparse

    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 32 <= n <= 256:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from 32 to 256 "
                                         "(the model reads at most 256 word pieces)")
    return n


def run(args) -> int:
    from ..indexing.build import build_index, default_corpus
    from ..indexing.embed import get_embedder
    from ..indexing.store import StoreConfig
    from ..reading.chunk import ChunkConfig

    paths = args.paths or [default_corpus()]
    try:
        embedder = get_embedder(args.model) if args.model else None
        chunking = ChunkConfig(max_tokens=args.chunk_tokens) if args.chunk_tokens else None
        report = build_index(paths, index_dir=index_dir(args), add=args.add, embedder=embedder,
                             chunk_config=chunking,
                             progress=not args.json, on_publish=_say_published,
                             store_config=StoreConfig(index_type=args.index_type))
    except KeyboardInterrupt:
        say("interrupted: every finished batch of embeddings is kept; run the same "
            "`rag index` again to go on from there")
        return 130
    if args.json:
        print(json.dumps(report.__dict__, ensure_ascii=False))
        return 0
    state = "updated" if report.written else "unchanged"
    print(f"{report.index_dir}: {state}, {report.documents} documents, {report.chunks} chunks "
          f"of up to {report.chunk_tokens} tokens ({report.embedded} embedded, {report.reused} "
          f"reused, {report.model}) in {report.seconds:.2f}s")
    for label in ("added", "changed", "removed"):
        ids = getattr(report, label)
        if ids:
            more = f", and {len(ids) - SHOWN:,} more (`rag docs` lists them)" \
                if len(ids) > SHOWN else ""
            print(f"  {label}: {', '.join(ids[:SHOWN])}{more}")
    return 0


def _say_published(manifest) -> None:
    """Tell the user a snapshot is searchable while embedding goes on."""
    if manifest.pending:
        done = manifest.chunks - manifest.pending
        say(f"searchable now: {manifest.chunks:,} chunks by BM25, {done:,} of them by meaning "
            f"too; embedding the other {manifest.pending:,} goes on")
