"""Read articles from files and folders into `Document` records.

Reads `.txt`, `.md`, `.html`/`.htm`, `.pdf` and `.jsonl` (one article per line with
`text` and optional `id`, `title`, `date`, `url`). For `.txt` and `.md` the document text
is the file's decoded text, unchanged, so `open(source).read()[start:end]` checks any
passage; HTML and PDF text is what their parsers extract.

Page furniture (share buttons, bylines, photo captions and credits, "related" link
lists) is not cut out of the text: `Document.spans` lists the character ranges that
hold the article itself and the chunker only reads those (see `rag.reading.furniture`).

A document's id is its file's stem, or a JSONL record's `id`; files that share one get
distinct ids (`rag.reading.identity`).

Does not: fetch URLs, run OCR on scanned PDFs, or guess encodings other than UTF-8.
Unreadable, empty, binary or wrongly encoded files, folders that cannot be read and JSONL
records with a field of the wrong type are skipped with an `IngestWarning` naming the file
(and line); documents whose normalized text was already seen are dropped the same way.
"""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import InputError, NoDocumentsError
from ..parallel import map_ordered
from .boilerplate import base_hash, drop_repeated
from .dates import find_date
from .furniture import content_spans, find_title, is_prose, line_units
from .html import read_html
from .identity import assign_ids
from .markdown import read_markdown

SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf", ".jsonl")
# The version of the rules that give a document its text, title, date and content spans: 2 added
# the Markdown parser, date lines, an outlet's self-description and repeated lines, trafilatura;
# 3 made a plain-text headline the title, not content; 4 keeps paragraphs of more than 80 words
# whatever boilerplate words they hold.
READING_VERSION = 4
Markup = Literal["text", "markdown"]
MARKUPS = ("text", "markdown")


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
    date: str | None = None, url: str | None = None, markup: Markup = "text",
) -> Document:
    """Build a Document from raw text: its date line, title and content spans.

    `markup="markdown"` reads `text` with a Markdown parser (`rag.reading.markdown`): its
    front matter and headings give the title and date and are never content. A date line
    near the top ("Published 2025-04-02", " date 2024-09-19 ...") gives the date
    (`rag.reading.dates`) and is left out of the content. A `title` or `date` given wins.

    >>> make_document(" date 2024-09-19 NATO met today.", id="a", source="a.txt").date
    '2024-09-19'
    """
    if markup not in MARKUPS:
        raise ValueError(f"markup must be one of {', '.join(MARKUPS)}, got {markup!r}")
    body_start = 1 if text.startswith("\ufeff") else 0
    titled = False
    if markup == "markdown":
        layout = read_markdown(text)
        units = list(layout.units)
        titled = layout.title is not None
        title, date = title or layout.title, date or layout.date
    else:
        units = line_units(text, body_start)
    found = find_date(text, units, prose=is_prose)
    if found is not None:
        iso, (a, b) = found
        date = date or iso
        units = _without_range(text, units, a, b)
        if not text[body_start:a].strip():  # a leading date line is not part of the article
            body_start = b
    headline: list[tuple[int, int]] = []  # a plain-text headline is the title, not content
    spans = content_spans(text, units=units, titled=titled, headline=headline)
    title = title or find_title(text, tuple(headline) or spans) or id
    return Document(
        id=id, title=title.strip(), text=text, source=source, date=date, url=url,
        hash=content_hash(text[body_start:]), spans=spans,
    )


def _without_range(text: str, units: list[tuple[int, int]], a: int, b: int) -> list[tuple[int, int]]:
    """`units` less the range [a, b): a unit it covers goes, a unit it starts keeps its rest."""
    out = []
    for u0, u1 in units:
        if u0 < b and a < u1:
            rest = text[b:u1]
            if rest.strip():
                out.append((u1 - len(rest.lstrip()), u1))
            continue
        out.append((u0, u1))
    return out


def markup_of(source: str) -> Markup:
    """How a file's text is read: Markdown for `.md`, plain text for everything else."""
    return "markdown" if source.lower().endswith(".md") else "text"


def read_documents(paths: list[str | Path], *,
                   reuse: Callable[[Path], list[Document] | None] | None = None,
                   files: list[Path] | None = None, kept: Sequence[Document] = (),
                   previous: Mapping[str, Sequence[str]] | None = None) -> list[Document]:
    """Read every supported file under `paths`, skipping bad ones with a warning.

    `reuse(path)` may return the documents a file gave last time (the index knows its size
    and modification time are unchanged): they are used instead of reading it again.
    `files` is `list_files(paths)` when the caller has it already. `kept` are documents that
    stay in the index beside these and `previous` the ids each source had in it before: ids
    are given by `rag.reading.identity.assign_ids`, and a text already kept is not read twice.
    Raises InputError for a path that does not exist or cannot be reached, and
    NoDocumentsError when nothing readable is found.
    """
    files = list_files(paths) if files is None else files
    known = {path: reuse(path) if reuse is not None else None for path in files}
    unread = [path for path in files if known[path] is None]
    known.update(zip(unread, map_ordered(_read_one, unread)))  # on every core when many
    documents: list[Document] = []
    seen = {base_hash(doc): doc for doc in kept}
    for path in files:
        for doc in known[path]:
            if base_hash(doc) in seen:
                first = seen[base_hash(doc)]
                _skip(path, f"same text as document {first.id!r} ({first.source}), indexed once")
                continue
            seen[base_hash(doc)] = doc
            documents.append(doc)
    if not documents and not any(known.values()):
        where = ", ".join(str(p) for p in paths)
        raise NoDocumentsError(
            f"no readable articles in {where}; add {', '.join(SUFFIXES)} files and run again"
        )
    documents = drop_repeated(documents, context=kept, base=_base_spans)
    return assign_ids(documents, kept=kept, previous=previous)


def _base_spans(doc: Document) -> tuple[tuple[int, int], ...]:
    """A document's spans by the rules of one document alone (before `drop_repeated`)."""
    return make_document(doc.text, id=doc.id, source=doc.source, markup=markup_of(doc.source)).spans


def list_files(paths: list[str | Path]) -> list[Path]:
    """The supported files under `paths`, folders expanded in sorted order; warns on others.

    A folder that cannot be read inside a named folder is skipped with a warning; a named
    path that does not exist or cannot be reached raises InputError.
    """
    if not paths:
        raise InputError("no paths given; name files or folders of articles to index")
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        try:
            exists, is_dir = path.exists(), path.is_dir()
        except PermissionError as e:
            raise InputError(f"{path} cannot be reached: permission denied on a folder above "
                             f"it; give this user access (chmod a+rx on that folder) or leave "
                             f"it out") from e
        if not exists:
            raise InputError(f"{path} does not exist; check the path and run again")
        if is_dir:
            found = _walk(path)
            if not found:
                _skip(path, f"folder holds no {', '.join(SUFFIXES)} files")
            files.extend(found)
        elif path.suffix.lower() in SUFFIXES:
            files.append(path)
        else:
            _skip(path, f"unsupported file type {path.suffix!r}; supported: {', '.join(SUFFIXES)}")
    return files


def _walk(folder: Path) -> list[Path]:
    """The supported files under `folder`, sorted; a subfolder that cannot be read is noted."""
    def unreadable(e: OSError) -> None:
        if Path(e.filename) == folder:
            raise InputError(f"{folder} cannot be read ({e.strerror}); give this user read "
                             f"access (chmod a+rx {folder}) or leave it out") from e
        _skip(e.filename, f"folder cannot be read ({e.strerror}); its files are not indexed: "
                          f"give this user read access (chmod a+rx) or move it out")

    found = []
    for root, _, names in os.walk(folder, onerror=unreadable):
        found += [p for p in (Path(root) / n for n in names) if _wanted(p) and _is_file(p)]
    return sorted(found)


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError as e:  # in a folder that may be listed but not entered (r without x)
        _skip(path, f"cannot be read ({e.strerror}); give this user access to its folder "
                    f"(chmod a+rx) or move it out")
        return False


def _wanted(path: Path) -> bool:
    hidden = any(part.startswith(".") for part in path.parts[-1:])
    return not hidden and path.suffix.lower() in SUFFIXES


def _skip(path: Path | str, why: str) -> None:
    warnings.warn(IngestWarning(f"skipped {path}: {why}"), stacklevel=3)


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
        _skip(path, f"cannot be read ({e.strerror or e}); give this user read access "
                    f"(chmod a+r) or move it out")
        return []
    if suffix == ".jsonl":
        return _jsonl_documents(path, text)
    if suffix in (".html", ".htm"):
        page = read_html(text)
        return _one(path, page.text, title=page.title, date=page.date)
    return _one(path, text)


def _one(path: Path, text: str | None, *, title: str | None = None,
         date: str | None = None) -> list[Document]:
    if text is None:
        return []
    if not text.strip():
        _skip(path, "is empty")
        return []
    doc = make_document(text, id=path.stem, source=str(path), title=title, date=date,
                        markup=markup_of(str(path)))
    if not doc.spans:
        _skip(path, "holds no article text (only page furniture)")
        return []
    return [doc]


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
        except json.JSONDecodeError as e:
            _skip(f"{path}:{lineno}", f"not valid JSON ({e.msg}, column {e.colno}); fix the line")
            continue
        problem = _record_problem(record)
        if problem is not None:
            _skip(f"{path}:{lineno}", f"{problem}; fix the record")
            continue
        doc_id = record.get("id")
        docs.append(make_document(
            record["text"], id=str(doc_id) if doc_id not in (None, "") else f"{path.stem}-{lineno}",
            source=str(path), title=record.get("title"), date=record.get("date"),
            url=record.get("url"),
        ))
    return docs


def _record_problem(record) -> str | None:
    """Why a parsed JSONL line cannot be an article, or None: a JSON object whose `text` is a
    non-empty string, `id` a string or whole number, `title`, `date` and `url` strings."""
    if not isinstance(record, dict):
        return f"is {_kind(record)}, not a JSON object with a 'text' field"
    body = record.get("text")
    if "text" not in record:
        return "has no 'text' field"
    if not isinstance(body, str):
        return f"field 'text' is {_kind(body)}, not a string"
    if not body.strip():
        return "field 'text' is empty"
    doc_id = record.get("id")
    if doc_id is not None and not isinstance(doc_id, str) and type(doc_id) is not int:
        return f"field 'id' is {_kind(doc_id)}, not a string"
    for key in ("title", "date", "url"):
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            return f"field {key!r} is {_kind(value)}, not a string"
    return None


def _kind(value) -> str:
    """How a JSON value reads in a message: `a number (123)`, `a list`, ..."""
    shown = json.dumps(value, ensure_ascii=False)
    shown = f" ({shown})" if len(shown) <= 20 else ""
    names = {bool: "true or false", int: "a number", float: "a number", str: "a string",
             list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__) + shown
