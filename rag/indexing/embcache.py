"""Keep vectors by chunk hash as they are made, so an interrupted `rag index` resumes.

A small SQLite file beside the index (`index/.default.embeddings.sqlite`), outside its
versions: each batch of vectors is committed as soon as the model returns it, so after
Ctrl-C, a crash or kill -9 the next run finds every finished batch and embeds only the rest.
The file is tied to one model and dimension (another model's vectors are dropped) and is
deleted once an index holding all its vectors is published.

Does not: decide what to embed (`rag.indexing.build`), or serve searches.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np


def cache_file(index_dir: Path) -> Path:
    return index_dir.parent / f".{index_dir.name}.embeddings.sqlite"


class EmbeddingCache:
    """Vectors of one model by chunk hash, durable batch by batch."""

    def __init__(self, file: str | Path, *, model: str, dimension: int):
        self.file = Path(file)
        self.dimension = dimension
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(self.file)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        with self._con:
            self._con.execute("CREATE TABLE IF NOT EXISTS meta (model TEXT, dimension INTEGER)")
            self._con.execute("CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, "
                              "vector BLOB)")
            row = self._con.execute("SELECT model, dimension FROM meta").fetchone()
            if row != (model, dimension):
                self._con.execute("DELETE FROM vectors")
                self._con.execute("DELETE FROM meta")
                self._con.execute("INSERT INTO meta VALUES (?, ?)", (model, dimension))

    def get(self, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored vectors of those of `hashes` that have one."""
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(wanted), 500):
            part = wanted[i:i + 500]
            rows = self._con.execute(
                f"SELECT hash, vector FROM vectors WHERE hash IN ({','.join('?' * len(part))})",
                part)
            for h, blob in rows:
                vector = np.frombuffer(blob, dtype=np.float32)
                if vector.shape == (self.dimension,):
                    found[h] = vector
        return found

    def put(self, hashes: list[str], vectors: np.ndarray) -> None:
        """Store one batch and commit it (durable once this returns)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        with self._con:
            self._con.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                  [(h, v.tobytes()) for h, v in zip(hashes, vectors)])

    def close(self) -> None:
        self._con.close()

    def remove(self) -> None:
        """Close and delete the file (its vectors are all in a published index)."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.file}{suffix}").unlink(missing_ok=True)
