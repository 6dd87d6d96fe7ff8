"""verbatim: question answering over articles, every answer built from verified quotes.

This is the public API. The pipeline's stages are packages, each importing only from the
stages before it: `reading` (files to `Document`s and `Chunk`s) -> `indexing` (vectors and
BM25, stored) -> `search` (`Passage`s) -> `answering` (`Answer`s with `Citation`s) ->
`evaluation` and `app`, with the `cli` on top. Heavy libraries (torch,
sentence-transformers, faiss, onnxruntime) load only when a model or an index is first
used, so `import rag` stays fast.
"""

from . import offline  # noqa: F401  (first: nothing imported after it may call home)
from .answering.answer import Answer as Answer
from .answering.answer import Answerer as Answerer
from .answering.answer import Citation as Citation
from .errors import RagError as RagError
from .indexing.build import BuildReport as BuildReport
from .indexing.build import build_index as build_index
from .reading.chunk import Chunk as Chunk
from .reading.ingest import Document as Document
from .search.retrieve import Passage as Passage
from .search.retrieve import Retriever as Retriever

__all__ = [
    "Answer", "Answerer", "BuildReport", "Chunk", "Citation", "Document", "Passage", "RagError",
    "Retriever", "build_index",
]
