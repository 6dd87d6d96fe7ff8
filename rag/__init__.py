"""verbatim: question answering over articles, every answer built from verified quotes.

This is the public API. Heavy libraries (torch, sentence-transformers, faiss) load only
when a model or an index is first used, so `import rag` stays fast.
"""

from .answer import Answer as Answer
from .answer import Answerer as Answerer
from .answer import Citation as Citation
from .build import BuildReport as BuildReport
from .build import build_index as build_index
from .chunk import Chunk as Chunk
from .errors import RagError as RagError
from .ingest import Document as Document
from .retrieve import Passage as Passage
from .retrieve import Retriever as Retriever

__all__ = [
    "Answer", "Answerer", "BuildReport", "Chunk", "Citation", "Document", "Passage", "RagError",
    "Retriever", "build_index",
]
