"""`rag info`: what an index holds and how it was built, in a directory or in Milvus.

Does not: open the model or search anything.
"""

from __future__ import annotations

import json

from .common import index_arg, index_dir, json_arg


def register(sub) -> None:
    p = sub.add_parser("info", help="describe an index")
    index_arg(p)
    json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..indexing.backend import open_store
    from ..indexing.settings import fusion_by_size

    store = open_store(index_dir(args))
    m = store.manifest
    info = {"index": str(store.path), "documents": len(m.documents), "chunks": m.chunks,
            "model": m.model, "dimension": m.dimension, "index_type": m.store.get("index_type"),
            "faiss": m.faiss, "pending": m.pending, "characters": m.characters or None,
            "fusion": fusion_by_size(m.characters),
            "chunker": m.chunker, "lexical": m.lexical, "sources": m.sources,
            "size_bytes": store.size_on_disk(),
            "package_version": m.package_version, **store.details()}
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return 0
    for key, value in info.items():
        if key == "size_bytes":
            key, value = "size on disk", "n/a (on the server)" if value is None else \
                f"{value / 1e6:.2f} MB"
        if key == "characters":
            value = "not recorded (built by an older verbatim)" if value is None else f"{value:,}"
        if key == "fusion":
            value = f"{value} (hybrid search's default for this size; --fusion to choose)"
        if key == "faiss" and info["store"] != "local":
            key = "dense index"
        print(f"{key:>16}: {value}")
    return 0
