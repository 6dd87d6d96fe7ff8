"""The page's documents panel: what is indexed, and removing documents when the operator allows.

`documents_html(docs)` is the table of the indexed documents (title, date, file, chunks,
id), safe as `rag.app.render` makes everything: every value is escaped. `remove(retriever,
ids, ...)` takes documents out through `rag.indexing.catalog.remove_documents` (the writer
lock and atomic swap that uploads use), after checking what a reader sent: a list of at most
`MAX_REMOVE` short strings, each an indexed document's id. A removed upload's copy in the
page's upload folder is deleted too, once none of its documents is indexed.

Does not: decide who may remove (the operator does, with `rag serve --allow-remove`; see
`rag.app.chat.ChatService`), delete any file outside the upload folder, or import Gradio.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import RagError
from ..indexing.catalog import DocumentInfo
from ..search.retrieve import Retriever
from .render import md_text

MAX_REMOVE = 100  # documents one request may remove
MAX_ID = 300  # characters of a document id a request may send
MAX_ROWS = 200  # documents the table shows at once; the rest are found by title


@dataclass(frozen=True)
class Removal:
    """What a remove request did: a Markdown message, and the new retriever (None: unchanged)."""

    message: str
    retriever: Retriever | None = None


def documents_html(docs: Sequence[DocumentInfo], *, total: int, title: str = "") -> str:
    """The documents table; `total` is how many the index holds, `title` what was searched."""
    shown = docs[:MAX_ROWS]
    rows = "".join(
        f'<tr class="vb-doc" data-id="{_esc(d.id)}"><td class="vb-doc-title">{_esc(d.title)}</td>'
        f'<td class="vb-doc-date">{_esc(d.date or "undated")}</td>'
        f'<td class="vb-doc-file" title="{_esc(d.source)}">{_esc(Path(d.source).name)}</td>'
        f'<td class="vb-doc-chunks">{d.chunks:,}</td><td class="vb-doc-id">{_esc(d.id)}</td></tr>'
        for d in shown)
    if title.strip():
        count = f"{len(docs):,} of {total:,} documents match “{_esc(title.strip())}”"
    else:
        count = f"{total:,} documents"
    if len(docs) > len(shown):
        count += f"; showing the first {len(shown):,}: search by title to find others"
    head = ("<thead><tr><th>Title</th><th>Date</th><th>File</th><th>Chunks</th><th>Id</th>"
            "</tr></thead>")
    table = (f'<div class="vb-docs-scroll"><table class="vb-docs">{head}<tbody>{rows}</tbody>'
             "</table></div>" if shown else "")
    return f'<div class="vb-docs-panel"><p class="vb-docs-count">{count}</p>{table}</div>'


def choices(docs: Sequence[DocumentInfo]) -> list[tuple[str, str]]:
    """(label, id) pairs for the picker of documents to remove."""
    return [(f"{d.title[:80]} ({d.id})", d.id) for d in docs[:MAX_ROWS]]


def checked_ids(ids, known: set[str]) -> tuple[list[str], str]:
    """The ids a reader sent, if they are a short list of indexed ids; else no ids and why."""
    if isinstance(ids, str):
        ids = [ids]
    if not isinstance(ids, (list, tuple)) or not ids:
        return [], "Choose one or more documents to remove first."
    if len(ids) > MAX_REMOVE:
        return [], f"Remove at most {MAX_REMOVE} documents at a time."
    out = []
    for i in ids:
        if not isinstance(i, str) or not 0 < len(i) <= MAX_ID or i not in known:
            shown = md_text(str(i)[:80]) if isinstance(i, str) else "a value that is not an id"
            return [], f"Nothing was removed: {shown} is not a document of this index."
        if i not in out:
            out.append(i)
    if set(out) >= known:
        return [], "Nothing was removed: at least one document must stay in the index."
    return out, ""


def remove(retriever: Retriever, ids, *, uploads_dir: Path) -> Removal:
    """Remove the documents `ids` (as a reader sent them) from the retriever's index."""
    from ..indexing.catalog import remove_documents

    store = retriever.store
    wanted, why = checked_ids(ids, set(store.manifest.documents))
    if why:
        return Removal(why)
    docs = store.documents(wanted)
    try:
        report = remove_documents(wanted, index_dir=store.path, embedder=retriever.embedder)
    except RagError as e:  # busy, or a full disk: the index keeps the version it had
        return Removal(f"Nothing was removed: {md_text(str(e))}")
    fresh = Retriever.load(store.path, embedder=retriever.embedder, config=retriever.config)
    fresh.search("warm up", k=1)  # load its search structures before readers switch
    _delete_uploads({d.source for d in docs.values()}, fresh, uploads_dir)
    titles = "; ".join(md_text(f"{docs[i].title} ({i})") for i in wanted)
    return Removal(f"Removed {len(wanted)} document(s): {titles}. The index now holds "
                   f"{report.documents:,} documents.", fresh)


def _delete_uploads(sources: set[str], retriever: Retriever, uploads_dir: Path) -> None:
    """Delete the page's own copies of uploads that no indexed document comes from now."""
    root = os.path.realpath(uploads_dir)
    still = {os.path.realpath(s) for s in retriever.store.ids_by_source()}
    for source in sources:
        real = os.path.realpath(source)
        if os.path.dirname(real) == root and real not in still and os.path.isfile(real) \
                and not os.path.islink(source):
            Path(real).unlink(missing_ok=True)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


DOCUMENTS_CSS = """
.vb-docs-panel { font-size: 0.88rem; }
.vb-docs-scroll { max-height: 24rem; overflow: auto; }
.vb-docs-panel table.vb-docs { width: 100%; border-collapse: collapse; border: none; margin: 0; }
.vb-docs th, .vb-docs td { text-align: left; padding: 0.2rem 0.5rem; vertical-align: top;
  border: none; border-bottom: 1px solid var(--border-color-primary, #ddd); }
.vb-docs td.vb-doc-chunks { text-align: right; }
.vb-docs td.vb-doc-date { white-space: nowrap; }
.vb-docs td.vb-doc-id, .vb-docs td.vb-doc-file { font-family: monospace; font-size: 0.8rem;
  word-break: break-all; }
.vb-docs-count { opacity: 0.75; margin: 0.2rem 0; }
"""
