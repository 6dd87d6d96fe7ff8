"""Read articles from files and folders into `Document` records.

Reads `.txt`, `.md`, `.html`/`.htm`, `.pdf` and `.jsonl` (one article per line with
`text` and optional `id`, `title`, `date`, `url`). For `.txt` and `.md` the document text
is the file's decoded text, unchanged, so `open(source).read()[start:end]` checks any
passage; HTML and PDF text is what their parsers extract.

Page furniture (share buttons, bylines, photo captions and credits, "related" link
lists) is not cut out of the text: `Document.spans` lists the character ranges that
hold the article itself and the chunker only reads those (see `rag.reading.furniture`).

Does not: fetch URLs, run OCR on scanned PDFs, or guess encodings other than UTF-8.
Unreadable, empty, binary or wrongly encoded files are skipped with an `IngestWarning`
naming the file; documents whose normalized text was already seen are dropped the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, NoDocumentsError
from ..parallel import map_ordered
from .furniture import content_spans, find_title

SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".jsonl")
_DATE_LINE = re.compile(r"\s*date\s+(\d{4}-\d{2}-\d{2})\b[ \t]*")


class IngestWarning(UserWarning):
    """A file or record was skipped; the message names it and says why."""


@dataclass(frozen=True)
class Document:
    """One article. `spans` are the (start, end) ranges of `text` that hold content."""

    id: str
    title: str
    text: str
    source: str
    date: str | None = None
    url: str | None = None
    hash: str = ""
    spans: tuple[tuple[int, int], ...] = ()


def normalize(text: str) -> str:
    """NFKC, no-break spaces as spaces, whitespace folded, case folded: for matching only."""
    text = unicodedata.normalize("NFKC", text).replace("\u00a0", " ")
    return " ".join(text.split()).casefold()


def content_hash(text: str) -> str:
    return hashlib.sha256(normalize(text).encode("utf-8")).hexdigest()


def make_document(
    text: str, *, id: str, source: str, title: str | None = None,
    date: str | None = None, url: str | None = None,
) -> Document:
    """Build a Document from raw text: finds a leading `date YYYY-MM-DD`, title and content spans.

    >>> make_document(" date 2024-09-19 NATO met today.", id="a", source="a.txt").date
    '2024-09-19'
    """
    body_start = 1 if text.startswith("\ufeff") else 0
    match = _DATE_LINE.match(text, body_start)
    if match:
        date = date or match.group(1)
        body_start = match.end()
    spans = content_spans(text, start=body_start)
    title = title or find_title(text, spans) or id
    return Document(
        id=id, title=title.strip(), text=text, source=source, date=date, url=url,
        hash=content_hash(text[body_start:]), spans=spans,
    )


def read_documents(paths: list[str | Path], *,
                   reuse: Callable[[Path], list[Document] | None] | None = None,
                   files: list[Path] | None = None) -> list[Document]:
    """Read every supported file under `paths`, skipping bad ones with a warning.

    `reuse(path)` may return the documents a file gave last time (the index knows its size
    and modification time are unchanged): they are used instead of reading it again.
    `files` is `list_files(paths)` when the caller has it already.
    Raises InputError for a path that does not exist and NoDocumentsError when nothing
    readable is found.
    """
    files = list_files(paths) if files is None else files
    known = {path: reuse(path) if reuse is not None else None for path in files}
    unread = [path for path in files if known[path] is None]
    known.update(zip(unread, map_ordered(_read_one, unread)))  # on every core when many
    documents: list[Document] = []
    seen: dict[str, str] = {}
    used_ids: set[str] = set()
    for path in files:
        for doc in known[path]:
            if doc.hash in seen:
                _skip(path, f"same text as document {seen[doc.hash]!r}, indexed once")
                continue
            doc = _unique_id(doc, used_ids)
            seen[doc.hash] = doc.id
            documents.append(doc)
    if not documents:
        where = ", ".join(str(p) for p in paths)
        raise NoDocumentsError(
            f"no readable articles in {where}; add {', '.join(SUFFIXES)} files and run again"
        )
    return documents


def list_files(paths: list[str | Path]) -> list[Path]:
    """The supported files under `paths`, folders expanded in sorted order; warns on others."""
    if not paths:
        raise InputError("no paths given; name files or folders of articles to index")
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{path} does not exist; check the path and run again")
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and _wanted(p))
            if not found:
                _skip(path, f"folder holds no {', '.join(SUFFIXES)} files")
            files.extend(found)
        elif path.suffix.lower() in SUFFIXES:
            files.append(path)
        else:
            _skip(path, f"unsupported file type {path.suffix!r}; supported: {', '.join(SUFFIXES)}")
    return files


def _wanted(path: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.parts[-1:])
    return not hidden and path.suffix.lower() in SUFFIXES


def _skip(path: Path | str, why: str) -> None:
    warnings.warn(IngestWarning(f"skipped {path}: {why}"), stacklevel=3)


def _unique_id(doc: Document, used: set[str]) -> Document:
    new_id, n = doc.id, 2
    while new_id in used:
        new_id, n = f"{doc.id}-{n}", n + 1
    used.add(new_id)
    if new_id == doc.id:
        return doc
    return Document(**{**doc.__dict__, "id": new_id})


def _read_one(_, path: Path) -> list[Document]:
    return _read_file(path)


def _read_file(path: Path) -> list[Document]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            return _one(path, _pdf_text(path))
        raw = path.read_bytes()
        if b"\x00" in raw[:8192]:
            _skip(path, "looks binary (NUL bytes); save it as UTF-8 text")
            return []
        text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except UnicodeDecodeError as e:
        _skip(path, f"not valid UTF-8 at byte {e.start}; re-save it as UTF-8")
        return []
    except OSError as e:
        _skip(path, f"cannot be read ({e.strerror or e})")
        return []
    if suffix == ".jsonl":
        return _jsonl_documents(path, text)
    if suffix in (".html", ".htm"):
        title, text = _html_text(text)
        return _one(path, text, title=title)
    return _one(path, text)


def _one(path: Path, text: str | None, *, title: str | None = None) -> list[Document]:
    if text is None:
        return []
    if not text.strip():
        _skip(path, "is empty")
        return []
    doc = make_document(text, id=path.stem, source=str(path), title=title)
    if not doc.spans:
        _skip(path, "holds no article text (only page furniture)")
        return []
    return [doc]


def _html_text(markup: str) -> tuple[str | None, str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(markup, "lxml")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for tag in soup(["script", "style", "noscript", "template", "nav", "footer", "aside", "form"]):
        tag.decompose()
    body = soup.body or soup
    blocks = [" ".join(b.get_text().split()) for b in body.find_all(_BLOCKS) if not b.find(_BLOCKS)]
    text = "\n\n".join(b for b in blocks if b) or body.get_text("\n", strip=True)
    return title or None, text


_BLOCKS = ["p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td", "dd", "dt"]


def _pdf_text(path: Path) -> str | None:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, OSError, ValueError, KeyError) as e:
        _skip(path, f"is not a readable PDF ({e})")
        return None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        _skip(path, "PDF holds no extractable text (scanned images need OCR first)")
        return None
    return text


def _jsonl_documents(path: Path, text: str) -> list[Document]:
    docs = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            body = record["text"]
            if not isinstance(body, str) or not body.strip():
                raise ValueError("empty text")
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            _skip(f"{path}:{lineno}", f"not a JSON object with a non-empty 'text' ({e})")
            continue
        doc_id = str(record.get("id") or f"{path.stem}-{lineno}")
        docs.append(make_document(
            body, id=doc_id, source=str(path), title=record.get("title"),
            date=record.get("date"), url=record.get("url"),
        ))
    return docs
