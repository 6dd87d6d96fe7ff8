"""Search: the passages of an index that best match a question, with what a citation needs.

- `retrieve`: `Retriever.search` embeds the question, asks FAISS and BM25, fuses them, and
  returns `Passage` records (document, title, date, source, exact offsets);
- `fusion`: reciprocal rank fusion, score fusion, a per-document cap and MMR, on row numbers;
- `rerank`: an optional cross-encoder over the best candidates.

Does not: build indexes (`rag.indexing`), choose answer sentences or rewrite follow-ups
(`rag.answering`).
"""

from .retrieve import Passage as Passage
from .retrieve import Retriever as Retriever
from .retrieve import SearchConfig as SearchConfig
from .retrieve import check_k as check_k

__all__ = ["Passage", "Retriever", "SearchConfig", "check_k"]
