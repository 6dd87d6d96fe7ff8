"""Files added through the chat page: where they may come from, and what each one does.

`add_files(retriever, paths, received_in=..., uploads_dir=...)` reads only files whose real
path (symlinks and `..` resolved) lies inside `received_in`, the folder the web framework
saved this request's uploads in. Any other path, a forged one naming a server file, a `..`
path out of the folder or a symlink inside it, refuses the whole request: nothing is read,
copied or indexed. Each accepted file is then, and the page says which:

- added: a new document, kept as `uploads_dir/<name>` and indexed incrementally;
- refused: a document with its name (or id) is already indexed; an upload never replaces
  one, unless the operator allowed replacing (`rag serve --allow-replace`) and the existing
  one is an earlier upload of the same name;
- replaced: that earlier upload, when the operator allowed it;
- unchanged: its text is indexed already;
- skipped: unsupported, too large or unreadable, with the reason.

Does not: remove documents (`rag.app.documents`), replace a document that did not come from an upload, or trust a
file name to say where a file is.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import NoDocumentsError, RagError
from ..reading.ingest import SUFFIXES, Document, IngestWarning, read_documents
from ..search.retrieve import Retriever
from .render import md_text

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class UploadResult:
    """What adding files did, file by file (names only, never server paths)."""

    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    documents: int = 0
    seconds: float = 0.0

    @property
    def message(self) -> str:
        lines = []
        if self.added:
            lines.append(f"Indexed {len(self.added)} document(s) in {self.seconds:.1f} s, "
                         f"added as new: {md_text(', '.join(self.added))}. The index now holds "
                         f"{self.documents} documents; ask about them now.")
        lines += [f"Replaced {md_text(s)}" for s in self.replaced]
        lines += [f"Refused {md_text(s)}" for s in self.refused]
        lines += [f"**Unchanged:** {md_text(s)}" for s in self.unchanged]
        lines += [f"**Skipped:** {md_text(s)}" for s in self.skipped]
        return "\n\n".join(lines) or "Choose one or more files first."


@dataclass(frozen=True)
class _Plan:
    """What to do with each readable file: (source in the upload folder, kept path, docs)."""

    add: tuple[tuple[Path, Path, tuple[Document, ...]], ...]
    replace: tuple[tuple[Path, Path, tuple[Document, ...]], ...]
    refused: tuple[str, ...]
    unchanged: tuple[str, ...]


def received(paths: Sequence[str | Path], received_in: str | Path) -> tuple[list[Path], str]:
    """The real paths of `paths` if every one is a regular file inside `received_in`;
    otherwise no paths and why (naming the file, never the folder)."""
    root = os.path.realpath(received_in)
    out = []
    for raw in paths or ():
        real = os.path.realpath(raw)
        inside = os.path.commonpath([root, real]) == root and real != root
        if not inside or os.path.islink(raw) or not os.path.isfile(real):
            return [], (f"{Path(str(raw)).name or 'a file'}: it was not uploaded through this "
                        "page; nothing was added. Choose the files with the upload box.")
        out.append(Path(real))
    return out, ""


def add_files(retriever: Retriever, paths: Sequence[str | Path], *, received_in: str | Path,
              uploads_dir: Path, allow_replace: bool = False,
              max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[UploadResult, Retriever | None]:
    """Index the uploaded `paths`; the result and the new retriever (None if nothing changed)."""
    files, why = received(paths, received_in)
    if why:
        return UploadResult(refused=(why,)), None
    files, skipped = _acceptable(files, max_bytes)
    docs, unreadable = _readable(files)
    skipped += unreadable
    plan = _plan(retriever, docs, uploads_dir, allow_replace)
    result = UploadResult(refused=plan.refused, unchanged=plan.unchanged, skipped=tuple(skipped))
    if not plan.add and not plan.replace:
        return result, None
    try:
        report = _index(retriever, plan, uploads_dir)
    except RagError as e:  # the index is written atomically: the old one is intact
        return UploadResult(refused=plan.refused, unchanged=plan.unchanged,
                            skipped=(*skipped, f"indexing failed: {e}")), None
    fresh = Retriever.load(retriever.store.path, embedder=retriever.embedder,
                           config=retriever.config)
    fresh.search("warm up", k=1)  # load its search structures before readers switch
    added = tuple(report.added)  # the ids the index gave them
    replaced = tuple(f"{kept.name}: it replaced the earlier upload of that name (the operator "
                     "allows replacing uploads)" for _, kept, _ in plan.replace)
    return UploadResult(added, replaced, plan.refused, plan.unchanged, tuple(skipped),
                        report.documents, report.seconds), fresh


def _plan(retriever: Retriever, docs: list[Document], uploads_dir: Path,
          allow_replace: bool) -> _Plan:
    store = retriever.store
    hashes = {h: i for i, h in store.manifest.documents.items()}
    by_name: dict[str, set[str]] = {}
    for source in store.files():
        by_name.setdefault(Path(source).name, set()).add(_where(source))
    add, replace, refused, unchanged, names = [], [], [], [], set()
    for source, mine in _by_file(docs).items():
        name, kept = source.name, uploads_dir / source.name
        clash = by_name.get(name, set()) | _id_sources(store, mine)
        if name in names:
            refused.append(f"{name}: another file of this upload has the same name; rename one")
        elif all(d.hash in hashes for d in mine):
            unchanged.append(f"{name}: the same text is indexed already (as "
                             f"{', '.join(hashes[d.hash] for d in mine)}); nothing changed")
        elif not clash:
            add.append((source, kept, mine))
        elif allow_replace and clash == {_where(kept)}:
            replace.append((source, kept, mine))
        else:
            refused.append(_refusal(name, clash == {_where(kept)}))
        names.add(name)
    return _Plan(tuple(add), tuple(replace), tuple(refused), tuple(unchanged))


def _refusal(name: str, earlier_upload: bool) -> str:
    if earlier_upload:
        return (f"{name}: an earlier upload with this name is indexed and uploads never replace "
                "documents; rename the file to add it as a new document (the operator can "
                "allow replacing uploads with rag serve --allow-replace)")
    return (f"{name}: a document with this name is already indexed and uploads never replace "
            "documents; rename the file to add it as a new document")


def _where(path: str | Path) -> str:
    return os.path.realpath(path)


def _id_sources(store, docs: tuple[Document, ...]) -> set[str]:
    """Where the indexed documents holding any of these documents' ids come from."""
    ids = [d.id for d in docs if d.id in store.manifest.documents]
    return {_where(d.source) for d in store.documents(ids).values()} if ids else set()


def _by_file(docs: list[Document]) -> dict[Path, tuple[Document, ...]]:
    out: dict[Path, list[Document]] = {}
    for d in docs:
        out.setdefault(Path(d.source), []).append(d)
    return {source: tuple(ds) for source, ds in out.items()}


def _index(retriever: Retriever, plan: _Plan, uploads_dir: Path):
    """Copy the files in place and index them; put everything back if indexing fails."""
    from ..indexing.build import build_index
    from ..indexing.store import StoreConfig

    uploads_dir.mkdir(parents=True, exist_ok=True)
    done: list[tuple[Path, Path | None]] = []  # (kept, backup of what it replaced)
    try:
        for source, kept, _ in plan.add + plan.replace:
            backup = kept.with_name(f".{kept.name}.replaced") if kept.exists() else None
            if backup is not None:
                os.replace(kept, backup)
            done.append((kept, backup))
            shutil.copyfile(source, kept)
        store = retriever.store
        report = build_index([kept for kept, _ in done], index_dir=store.path,
                             embedder=retriever.embedder,
                             store_config=StoreConfig(**store.manifest.store), add=True)
    except BaseException:
        for kept, backup in reversed(done):
            kept.unlink(missing_ok=True)
            if backup is not None:
                os.replace(backup, kept)
        raise
    for _, backup in done:
        if backup is not None:
            backup.unlink(missing_ok=True)
    return report


def _acceptable(files: list[Path], limit: int) -> tuple[list[Path], list[str]]:
    good, skipped = [], []
    for path in files:
        size = path.stat().st_size
        if path.suffix.lower() not in SUFFIXES:
            skipped.append(f"{path.name}: unsupported file type; use {', '.join(SUFFIXES)}")
        elif size > limit:
            skipped.append(f"{path.name}: {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit")
        else:
            good.append(path)
    return good, skipped


def _readable(files: list[Path]) -> tuple[list[Document], list[str]]:
    """The documents in `files` and, for files that could not be read, why."""
    if not files:
        return [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IngestWarning)
        try:
            docs = read_documents(files)
        except NoDocumentsError:
            docs = []
    names = {str(f): f.name for f in files}
    why = []
    for w in caught:
        if issubclass(w.category, IngestWarning):
            text = str(w.message).removeprefix("skipped ")
            for full, name in names.items():
                text = text.replace(full, name)
            why.append(text)
    return docs, why
