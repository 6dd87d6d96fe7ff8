"""Document ids: the file's stem, unless another file of the index shares it.

A document's *natural* id is its file's stem (`seeds/000_909c1f4abb7fe135.txt` gives
`000_909c1f4abb7fe135`) or, for a JSONL record, the record's own `id`. `assign_ids` keeps
the natural id wherever no other source file of the index has the same one, so a corpus of
uniquely named files is indexed under its file names. Files that do share one (`a/report.txt`
and `b/report.txt`, in one build, or one already in the index and one added with `--add` or
uploaded) get `<natural id>~<8 hex digits>`, the digits a hash of the file's absolute path: the
same for every build, whatever the order of the paths. Ids are sticky: a document whose
source file held an id in the index before keeps it, so an id already cited never changes
while its file stays where it is. Two records of one JSONL file with the same id get `-2`,
`-3`, ... in file order.

A document never takes an id held by a document of another source file, so adding a file
never replaces another file's document.

Does not: read files (`rag.reading.ingest`), or decide which documents stay in an index
(`rag.indexing.build`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ingest import Document

_SUFFIX = re.compile(r"~[0-9a-f]{8}(?:-\d+)?$")


def where(source: str) -> str:
    """The absolute, normalized path of a source file (no file system access)."""
    return os.path.abspath(source)


def natural(doc_id: str) -> str:
    """The id without a suffix `assign_ids` added: `natural("report~1a2b3c4d") == "report"`."""
    return _SUFFIX.sub("", doc_id)


def assign_ids(documents: Sequence[Document], *, kept: Sequence[Document] = (),
               previous: Mapping[str, Sequence[str]] | None = None) -> list[Document]:
    """`documents` (read now, in file order, with natural ids) with their final ids.

    `kept` are documents that stay in the index beside them (their ids are taken);
    `previous` maps `where(source)` to the ids that source had in the index before.

    >>> from rag.reading.ingest import make_document
    >>> a = make_document("One text.", id="report", source="/a/report.txt")
    >>> b = make_document("Another text.", id="report", source="/b/report.txt")
    >>> [d.id for d in assign_ids([a, b])]
    ['report~46c02817', 'report~48bef8e2']
    """
    previous = previous or {}
    taken = {d.id: where(d.source) for d in kept}  # id -> the source holding it
    sources: dict[str, set[str]] = {}  # natural id -> the sources that have it
    for d in (*kept, *documents):
        sources.setdefault(natural(d.id), set()).add(where(d.source))
    ids: list[str | None] = []
    for d in documents:  # first every document that had an id keeps it
        sticky = next((i for i in previous.get(where(d.source), ())
                       if natural(i) == natural(d.id) and i not in taken), None)
        if sticky is not None:
            taken[sticky] = where(d.source)
        ids.append(sticky)
    out = []
    for d, sticky in zip(documents, ids):
        new_id = sticky or _fresh_id(d, sources, taken)
        taken[new_id] = where(d.source)
        out.append(d if new_id == d.id else replace(d, id=new_id))
    return out


def _fresh_id(doc: Document, sources: dict[str, set[str]], taken: dict[str, str]) -> str:
    base, source = natural(doc.id), where(doc.source)
    shared = len(sources[base]) > 1 or taken.get(doc.id, source) != source
    first = f"{base}~{_digest(source)}" if shared else doc.id
    new_id, n = first, 2
    while new_id in taken:
        new_id, n = f"{first}-{n}", n + 1
    return new_id


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8", "surrogateescape")).hexdigest()[:8]
