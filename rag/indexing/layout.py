"""The files of an index version that are written once and then shared between snapshots.

`write_meta` writes `meta.sqlite` (documents with their text and content spans, chunks in
vector row order, and the size and modification time of every source file read);
`write_lexical` writes the BM25 index (`bm25/`); `link_or_copy` shares an unchanged file with
a newer version by hard link. `rag.indexing.store` puts them together into a version.

Does not: write vectors, FAISS or the manifest, or publish anything (`rag.indexing.store`).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

from ..reading.chunk import Chunk
from ..reading.ingest import Document
from .lexical import LexicalConfig, LexicalIndex, lexical_text


def link_or_copy(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def write_lexical(folder: Path, documents: list[Document], chunks: list[Chunk],
                   config: LexicalConfig, analyzed=None) -> None:
    titles = {d.id: d.title for d in documents}
    texts = [lexical_text(c.text, titles.get(c.doc_id), config) for c in chunks]
    LexicalIndex.build(texts, config, analyzed=analyzed).save(folder)


def write_meta(file: Path, documents: list[Document], chunks: list[Chunk],
                files: dict[str, tuple[int, int]]) -> None:
    con = sqlite3.connect(file)
    with con:
        con.executescript(SCHEMA)
        con.executemany(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?)",
            [(d.id, d.title, d.date, d.source, d.url, d.hash, d.text, json.dumps(d.spans))
             for d in documents],
        )
        con.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?)",
            [(row, c.id, c.doc_id, c.start, c.end, c.text, c.hash, c.n_tokens)
             for row, c in enumerate(chunks)],
        )
        con.executemany("INSERT INTO files VALUES (?,?,?)",
                        [(p, size, mtime) for p, (size, mtime) in sorted(files.items())])
    con.close()


SCHEMA = """
CREATE TABLE documents (id TEXT PRIMARY KEY, title TEXT, date TEXT, source TEXT, url TEXT,
                        hash TEXT, text TEXT, spans TEXT);
CREATE TABLE chunks (row INTEGER PRIMARY KEY, id TEXT, doc_id TEXT, start INTEGER, end INTEGER,
                     text TEXT, hash TEXT, n_tokens INTEGER);
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE INDEX documents_source ON documents(source);
CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER);
"""
