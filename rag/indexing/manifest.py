"""An index's `manifest.json`: what built it, in which format version, checked on load.

`Manifest` records the format name and version, package version, embedding model and
dimension, chunker, BM25 and FAISS settings, per-document content hashes, the sources it was
built from, the characters of its documents' text (which make a collection large:
`rag.indexing.settings`), the chunks still waiting for their vectors and the size of every
file (so a truncated file is found without reading it: `rag.indexing.health`). `read_manifest` checks the
format and version and says which command rebuilds an index it cannot read; a field it does not
know (written by a newer verbatim of the same format version) is ignored, not called damage.

Does not: open the other files of an index (`rag.indexing.store`).
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import IndexMismatchError
from .lexical import TOKENIZER_VERSION, LexicalConfig

FORMAT = "verbatim-index"
# 2 added the BM25 index (bm25/) and the manifest's `lexical` settings; 3 added pending
# chunks, the resolved FAISS type and the `files` table (sizes and times of the sources);
# 4 added the size of every file of the version (`files` in the manifest)
FORMAT_VERSION = 4
READABLE = (2, 3)  # older versions read as they are (what they lack has a default)
UPGRADABLE = (1,)  # older versions whose vectors `rag index` reuses when it rebuilds
REBUILD_HINT = "rebuild it with `rag index PATH ... --index {path}`"


@dataclass(frozen=True)
class Manifest:
    model: str
    dimension: int
    chunker: dict
    store: dict
    documents: dict[str, str]
    sources: list[str] = field(default_factory=list)
    chunks: int = 0
    lexical: dict = field(default_factory=lambda: asdict(LexicalConfig()))
    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    package_version: str = ""
    pending: int = 0  # chunks not embedded yet (a snapshot published while embedding)
    faiss: str = ""  # the FAISS structure actually built, e.g. "ivf nlist=4000 nprobe=32"
    files: dict[str, int] = field(default_factory=dict)  # size of each file, by relative path
    characters: int = 0  # of all documents' text (0: built before it was recorded)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict) -> Manifest:
        """The manifest in `data`, ignoring fields this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("verbatim")
    except PackageNotFoundError:
        return "unknown"


def rebuild_hint(path: Path, sources: list[str] | None = None) -> str:
    """`rebuild it with `rag index ... --index path``, naming the sources when they are known
    and short enough to read."""
    shown = " ".join(shlex.quote(str(s)) for s in sources or ())
    if not shown or len(shown) > 200:
        return REBUILD_HINT.format(path=path)
    return f"rebuild it with `rag index {shown} --index {shlex.quote(str(path))}`"


def read_manifest(root: Path, *, upgrade: bool, shown: Path) -> Manifest:
    """The checked manifest of the version at `root` of the index named `shown`."""
    path, hint = shown, rebuild_hint(shown)
    try:
        data = json.loads((root / "manifest.json").read_text())
        if not isinstance(data, dict):
            raise ValueError("manifest.json does not hold a JSON object")  # noqa: TRY004 (damage, not a caller's type)
        if data.get("format") != FORMAT:
            raise IndexMismatchError(f"{path} was not written by verbatim; {hint}")
        hint = rebuild_hint(shown, data.get("sources") if _strings(data.get("sources")) else None)
        version = data.get("format_version")
        if type(version) is not int:
            raise ValueError(f"format_version is {json.dumps(version)}, not a whole number")
        readable = version == FORMAT_VERSION or version in READABLE
        if not readable and not (upgrade and version in UPGRADABLE):
            newer = " (written by a newer verbatim)" if version > FORMAT_VERSION else ""
            raise IndexMismatchError(
                f"index at {path} has format version {version}{newer}, this verbatim "
                f"reads version {FORMAT_VERSION}; {hint}"
            )
        manifest = Manifest.from_dict(data)
        tokenizer = LexicalConfig(**manifest.lexical).tokenizer
    except (ValueError, TypeError) as e:
        raise IndexMismatchError(f"the manifest of {path} is damaged ({e}); {hint}") from e
    if tokenizer != TOKENIZER_VERSION and readable and not upgrade:
        raise IndexMismatchError(
            f"index at {path} was tokenized for BM25 by tokenizer version {tokenizer}, this "
            f"verbatim uses version {TOKENIZER_VERSION}; {hint}")
    return manifest


def _strings(value) -> bool:
    return isinstance(value, list) and all(isinstance(s, str) for s in value)
