"""Check, in milliseconds, that the files of an index version are whole before they are used.

Every publish records the size of each file in the manifest (`files`). `problems` compares
the sizes, reads the headers of the `.npy` arrays (shape and type against the manifest, data
length against the file) and counts the chunks and documents in `meta.sqlite`: a truncated,
missing or overwritten file is found without reading the data. A search then says the index
is damaged and which command rebuilds it, `rag info` fails, and `rag index` rebuilds it
instead of finding every file "unchanged". A reader that finds a file unreadable whose size
was right (FAISS or BM25 cannot parse it) leaves a note in the version (`mark`), so the next
check, and the next `rag index`, sees that damage too. `salvage_vectors` reads the rows a truncated
`vectors.npy` still holds whole, so that the rebuild embeds only the rows that were lost.

Does not: checksum contents (a changed byte that keeps a file's size is found only when FAISS
or BM25 reads the file; a changed vector that still parses is not found), or repair anything
(`rag.indexing.build` does).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from .lexical import FILES as LEXICAL_FILES
from .manifest import UPGRADABLE, Manifest

Problem = tuple[str, str]  # (file, what is wrong with it)
MARK = "damaged.txt"  # left in a version by a reader that found a file unreadable


def sizes(version: Path) -> dict[str, int]:
    """The size of every file of a version but the manifest, by path relative to it."""
    return {p.relative_to(version).as_posix(): p.stat().st_size
            for p in sorted(version.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def mark(version: Path, file: str, why: str) -> None:
    """Note in the version that `file` was found unreadable although its size was right, so
    that `problems`, and with it the next `rag index`, sees it too. Best effort: a reader
    that may not write there leaves no note."""
    try:
        with open(version / MARK, "a", encoding="utf-8") as f:
            f.write(f"{file}\t{why}\n")
    except OSError:
        pass


def problems(root: Path, manifest: Manifest, con: sqlite3.Connection | None) -> list[Problem]:
    """What is wrong with the files of the version at `root` (empty when nothing is); `con`
    is its open `meta.sqlite` (None when it is missing)."""
    required = ["meta.sqlite", "vectors.npy", "faiss.index"]
    if manifest.format_version not in UPGRADABLE:
        required += [f"bm25/{f}" for f in LEXICAL_FILES]
    found = [(f, "is missing") for f in required if not (root / f).is_file()]
    found += _marked(root / MARK)
    for name, size in sorted(manifest.files.items()):
        file = root / name
        if file.is_file() and file.stat().st_size != size:
            found.append((name, f"is {file.stat().st_size:,} bytes, {size:,} when written"))
    arrays = {"vectors.npy": ((manifest.chunks, manifest.dimension), "<f4")}
    arrays |= {f"bm25/{f}": (None, None) for f in LEXICAL_FILES if f.endswith(".npy")}
    for name, (shape, dtype) in arrays.items():
        why = _array_problem(root / name, shape, dtype) if (root / name).is_file() else None
        if why is not None and not any(f == name for f, _ in found):
            found.append((name, why))
    return found + (_meta_problems(con, manifest) if con is not None else [])


def describe(found: list[Problem]) -> str:
    """`vectors.npy is 6,720 bytes, 13,440 when written; ...`: the first problem of each
    file, at most three files."""
    first = {}
    for file, why in found:
        first.setdefault(file, why)
    text = "; ".join(f"{f} {why}" for f, why in list(first.items())[:3])
    return text + (f"; and {len(first) - 3} more files" if len(first) > 3 else "")


def salvage_vectors(file: Path, dimension: int) -> np.ndarray:
    """The whole rows at the start of a possibly truncated `vectors.npy` (none when even its
    header is unreadable), memory-mapped."""
    try:
        shape, dtype, offset = _header(file)
    except (OSError, ValueError):
        return np.zeros((0, dimension), dtype=np.float32)
    if dtype != np.dtype("<f4") or len(shape) != 2 or shape[1] != dimension:
        return np.zeros((0, dimension), dtype=np.float32)
    rows = min(shape[0], max(file.stat().st_size - offset, 0) // (4 * dimension))
    if rows == 0:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.memmap(file, dtype=np.float32, mode="r", offset=offset, shape=(rows, dimension))


def _array_problem(file: Path, shape: tuple | None, dtype: str | None) -> str | None:
    try:
        found_shape, found_dtype, offset = _header(file)
    except (OSError, ValueError) as e:
        return f"is not a readable .npy array ({e})"
    if shape is not None and tuple(found_shape) != shape:
        return f"holds an array of shape {tuple(found_shape)}, the manifest says {shape}"
    if dtype is not None and found_dtype != np.dtype(dtype):
        return f"holds {found_dtype} numbers, not {np.dtype(dtype)}"
    want = offset + int(np.prod(found_shape)) * found_dtype.itemsize
    size = file.stat().st_size
    return None if size == want else f"is {size:,} bytes, its header says {want:,}"


def _header(file: Path) -> tuple[tuple, np.dtype, int]:
    """(shape, dtype, data offset) from a `.npy` file's header."""
    from numpy.lib import format as npy

    with open(file, "rb") as f:
        version = npy.read_magic(f)
        readers = {(1, 0): npy.read_array_header_1_0, (2, 0): npy.read_array_header_2_0}
        if version not in readers:
            raise ValueError(f".npy format version {version} is not supported")
        shape, _, dtype = readers[version](f)
        return shape, dtype, f.tell()


def _marked(file: Path) -> list[Problem]:
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError):
        return []
    return [tuple(line.split("\t", 1)) for line in lines if "\t" in line]


def _meta_problems(con: sqlite3.Connection, manifest: Manifest) -> list[Problem]:
    try:
        chunks = con.execute("SELECT count(*) FROM chunks").fetchone()[0]
        documents = con.execute("SELECT count(*) FROM documents").fetchone()[0]
    except sqlite3.Error as e:
        return [("meta.sqlite", f"is not a readable index database ({e})")]
    if chunks != manifest.chunks or documents != len(manifest.documents):
        why = (f"holds {chunks} chunks of {documents} documents, the manifest says "
               f"{manifest.chunks} of {len(manifest.documents)}")
        return [("meta.sqlite", why)]
    return []
