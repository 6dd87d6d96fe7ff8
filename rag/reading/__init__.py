"""Reading: files and folders become `Document`s, and documents become `Chunk`s.

- `ingest`: `.txt`, `.md`, `.html`, `.pdf` and `.jsonl` files read into `Document` records
  whose text keeps exact offsets into the file;
- `identity`: document ids, the file's stem unless another file shares it;
- `furniture`: which character ranges of a page hold the article, and which are page
  furniture (share buttons, bylines, captions, "related" lists);
- `chunk`: sentence-boundary chunks of at most 128 tiktoken tokens, each within the embedding
  model's own limit;
- `text`: folded words and word prefixes, for matching words across stages.

Does not: embed, store or search anything (`rag.indexing`, `rag.search`).
"""

from .chunk import Chunk as Chunk
from .chunk import ChunkConfig as ChunkConfig
from .chunk import chunk_document as chunk_document
from .chunk import sentences as sentences
from .ingest import Document as Document
from .ingest import IngestWarning as IngestWarning
from .ingest import read_documents as read_documents

__all__ = ["Chunk", "ChunkConfig", "Document", "IngestWarning", "chunk_document", "read_documents",
           "sentences"]
