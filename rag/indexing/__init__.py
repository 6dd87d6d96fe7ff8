"""Indexing: chunks become vectors and a BM25 index, stored as one version of an index.

- `build`: what changed since the last build, read and chunked on every core;
- `catalog`: the documents an index holds, and removing some through the same publishing;
- `job`: fills the vectors (reused, resumed from the cache, or embedded) and publishes
  snapshots while embedding goes on; `embcache` keeps every finished batch;
- `embed`, `onnx`: the embedding model (all-MiniLM-L6-v2), through its ONNX export;
- `lexical`: the BM25 tokenizer and index (bm25s);
- `store`, `layout`, `ann`, `swap`: an index version on disk (manifest, SQLite metadata,
  vectors, FAISS, BM25), published by one atomic link swap under a writer lock;
- `manifest`, `health`, `disk`: the manifest and its format version, the check of every file
  against it on open, and writing with space reserved first (a full disk is an error).
- `location`, `backend`: where an index lives (a directory, or a Milvus URI) and the one
  `Store` interface both kinds are read through;
- `milvus_connect`, `milvus_store`, `milvus_build`: the same index in Milvus (milvus-lite or a
  server): one-line errors, versioned collections read and written, published by an alias.

Does not: rank passages for a question (`rag.search`) or answer (`rag.answering`).
"""

from .build import BuildReport as BuildReport
from .build import build_index as build_index
from .build import default_corpus as default_corpus
from .build import default_index_dir as default_index_dir
from .embed import Embedder as Embedder
from .embed import get_embedder as get_embedder
from .store import IndexStore as IndexStore
from .store import StoreConfig as StoreConfig
from .store import open_index as open_index

__all__ = ["BuildReport", "Embedder", "IndexStore", "StoreConfig", "build_index", "default_corpus",
           "default_index_dir", "get_embedder", "open_index"]
