"""Publish index versions atomically: one writer at a time, readers never see half an index.

An index path (say `index/default`) is a symbolic link to a version directory beside it
(`index/.default.v-<time>-<id>`). A writer holds an exclusive lock (`index/.default.lock`,
an `flock` the kernel drops if the process dies, even by kill -9), fills a new version
directory, then points the link at it with one `os.replace`, atomic on POSIX. A reader
resolves the link once when it opens the index and keeps reading that version, which stays
on disk until the next publish; so a search running while `rag index` publishes snapshots
never mixes two versions. Older versions and the leftovers of crashed writers are removed
under the lock.

An index written by verbatim before versions existed is a plain directory; its first
publish moves it aside (`.default.old-<id>`) and puts the link in its place; `recover`
undoes that one step if a crash stopped it half way.

Does not: decide what goes into a version (`rag.indexing.store`, `rag.indexing.build`).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import IndexBusyError

_held: dict[str, tuple[int, int]] = {}  # lock file -> (fd, depth): the lock is re-entrant


def lock_file(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


@contextmanager
def locked(path: str | Path) -> Iterator[None]:
    """Hold the writer lock of the index at `path`; raises IndexBusyError if another has it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(lock_file(path).resolve())
    if key in _held:
        fd, depth = _held[key]
        _held[key] = (fd, depth + 1)
    else:
        fd = os.open(key, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise IndexBusyError(
                f"another process is writing the index at {path} (`rag index` or an upload); "
                "wait for it to finish, or stop it, and run this again") from None
        _held[key] = (fd, 1)
    try:
        yield
    finally:
        fd, depth = _held[key]
        if depth > 1:
            _held[key] = (fd, depth - 1)
        else:
            del _held[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def locked_elsewhere(path: Path) -> bool:
    """True while another process (or another open of the lock file) holds `path`'s lock."""
    key = lock_file(path)
    if str(key.resolve()) in _held or not key.exists():
        return False
    fd = os.open(key, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def new_version(path: Path) -> Path:
    """An empty version directory for `path`, to be filled and then `publish`ed or dropped.

    Made with the permissions of the umask (as `mkdir` makes a folder), so other users can
    read the index when they can read its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    while True:
        version = path.parent / f".{path.name}.v-{stamp}-{uuid.uuid4().hex[:8]}"
        try:
            version.mkdir(mode=0o777)
            return version
        except FileExistsError:
            continue


def current_version(path: Path) -> Path | None:
    """The version directory `path` points at (or `path` itself for a plain directory)."""
    if path.is_symlink():
        target = path.resolve()
        return target if target.is_dir() else None
    return path if path.is_dir() else None


def publish(path: Path, version: Path) -> None:
    """Make `version` the index at `path` in one atomic step, then tidy older versions."""
    previous = current_version(path)
    if path.exists() and not path.is_symlink():  # an index from before versions existed
        aside = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(path, aside)
        previous = None
    link = path.with_name(f".{path.name}.link-{uuid.uuid4().hex[:8]}")
    os.symlink(version.name, link)
    os.replace(link, path)
    keep = {version.name} | ({previous.name} if previous is not None else set())
    tidy(path, keep=keep)


def tidy(path: Path, *, keep: set[str]) -> None:
    """Remove this index's versions not in `keep`, and leftovers of interrupted writers."""
    if not path.parent.exists():
        return
    prefix = f".{path.name}."
    for entry in path.parent.iterdir():
        kind = entry.name[len(prefix):].split("-", 1)[0] if entry.name.startswith(prefix) else ""
        if kind in ("v", "old", "link", "tmp") and entry.name not in keep:
            if entry.is_symlink() or entry.is_file():
                entry.unlink(missing_ok=True)
            else:
                shutil.rmtree(entry, ignore_errors=True)


def discard(version: Path) -> None:
    shutil.rmtree(version, ignore_errors=True)


def recover(path: Path, *, wait: float = 5.0) -> None:
    """Put back a plain-directory index whose first publish stopped half way.

    While a writer holds the lock the gap is its own (it is about to publish): wait for
    `path` to appear rather than undo its work.
    """
    deadline = time.monotonic() + wait
    while not path.exists() and not path.is_symlink() and locked_elsewhere(path) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    if path.exists() or path.is_symlink() or not path.parent.exists() or locked_elsewhere(path):
        return
    olds = sorted(path.parent.glob(f".{path.name}.old-*"))
    if olds and (olds[-1] / "manifest.json").exists():
        os.rename(olds[-1], path)
