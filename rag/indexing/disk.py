"""Write an index's files so that a full or read-only disk is a message, never a crash.

A memory-mapped file that outgrows a full disk kills the process with SIGBUS ("Bus error")
the moment a page is written; `reserved_memmap` reserves every byte of a new `.npy` file
with `posix_fallocate` before the first page is touched, so a full disk is an ordinary
`OSError` instead. `save_npy` and `write_faiss` write `.npy` arrays and FAISS indexes through
Python's own file object, so their errors carry `errno` too (not "N requested and M written",
not a C++ assertion). `writing` turns those errors, and SQLite's
"disk is full" and "read-only" ones, into one `IndexWriteError` that says what to do; the
callers (`rag.indexing.store`, `rag.indexing.job`) have already removed the partial version.

Does not: decide what to write, or clean up (`rag.indexing.store.IndexWriter.discard` does).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import IndexWriteError

_FULL = {errno.ENOSPC, errno.EDQUOT}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}
_SQLITE = {13: errno.ENOSPC, 8: errno.EROFS, 3: errno.EACCES, 14: errno.EACCES,
           10: errno.EIO}  # SQLITE_FULL, _READONLY, _PERM, _CANTOPEN, _IOERR


def reserved_memmap(file: Path, shape: tuple[int, int]) -> np.ndarray:
    """A new all-zero float32 `.npy` file of `shape`, mapped for writing, its disk space
    reserved first (OSError with errno ENOSPC when it does not fit)."""
    from numpy.lib.format import open_memmap

    array = open_memmap(file, mode="w+", dtype=np.float32, shape=shape)
    try:
        _reserve(file)
    except BaseException:
        del array
        file.unlink(missing_ok=True)
        raise
    return array


def _reserve(file: Path) -> None:
    fd = os.open(file, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as e:
            if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
                raise OSError(e.errno, e.strerror, str(file)) from None
            _write_zeros(fd, size)  # a file system without fallocate: allocate by writing
    finally:
        os.close(fd)


def _write_zeros(fd: int, size: int, block: int = 1 << 20) -> None:
    zeros = bytes(block)
    for start in range(0, size, block):
        os.pwrite(fd, zeros[:min(block, size - start)], start)


def save_npy(file: Path, array: np.ndarray) -> None:
    """`np.save(file, array, allow_pickle=False)`, written through Python's file object (numpy's
    own writer reports a full disk as "N requested and M written", without errno)."""
    from numpy.lib import format as npy

    array = np.ascontiguousarray(array)
    if array.dtype.hasobject:
        raise ValueError("object arrays are never saved (no pickle)")
    with open(file, "wb") as f:
        npy.write_array_header_1_0(f, npy.header_data_from_array_1_0(array))
        f.write(memoryview(array.reshape(-1)).cast("B"))


def write_faiss(file: Path, index) -> None:
    """`faiss.write_index` through a Python file, so a write error is an OSError."""
    import faiss

    with open(file, "wb") as f:
        writer = faiss.PyCallbackIOWriter(f.write)
        faiss.write_index(index, writer)
        del writer


@contextmanager
def writing(index_dir: Path) -> Iterator[None]:
    """Turn a failed write while building the index at `index_dir` into IndexWriteError."""
    try:
        yield
    except OSError as e:
        code = e.errno if e.errno is not None or not _full(index_dir) else errno.ENOSPC
        raise IndexWriteError(_message(index_dir, code, e.strerror or str(e), e.filename)) from e
    except sqlite3.OperationalError as e:
        code = _SQLITE.get((getattr(e, "sqlite_errorcode", None) or 0) & 0xFF)
        if code is None:
            raise
        raise IndexWriteError(_message(index_dir, code, str(e), None)) from e


def _message(index_dir: Path, code: int | None, why: str | None, filename) -> str:
    where = f" ({filename})" if filename else ""
    if code in _FULL:
        return (f"cannot write the index at {index_dir}: no space left on the disk{where}; "
                "free some space and run the same command again (the index keeps the last "
                "version it published, and the vectors made so far are kept)")
    if code == errno.EFBIG:
        return (f"cannot write the index at {index_dir}: a file is over this process's size "
                f"limit{where}; raise it (`ulimit -f unlimited`) and run the same command again")
    if code in _DENIED:
        if filename and not _within(Path(filename), index_dir.parent):
            return (f"permission denied on {filename}; give this user access to it (chmod) "
                    "or leave it out, and run the same command again")
        return (f"cannot write the index at {index_dir}: permission denied{where}; choose an "
                "--index in a folder this user can write to, or give it write access (chmod u+w)")
    return f"cannot write the index at {index_dir}: {why or 'error'}{where}; run it again"


def _full(index_dir: Path, *, below: int = 1 << 20) -> bool:
    """Whether the disk holding `index_dir` has less than `below` bytes free (for errors that
    carry no errno)."""
    folder = Path(os.path.abspath(index_dir))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free < below
    except OSError:
        return False


def _within(path: Path, folder: Path) -> bool:
    path, folder = Path(os.path.abspath(path)), Path(os.path.abspath(folder))
    return path == folder or folder in path.parents or path in folder.parents
