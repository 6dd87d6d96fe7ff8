"""Where an index lives: a local directory, or a Milvus URI (an embedded milvus-lite file or
a Milvus server).

`parse_location` is the one place that knows the URI forms:
- `milvus:///path/file.db`: milvus-lite, the embedded engine, in this process;
- `milvus://host:19530`, `http://host:19530`, `https://host:19530`: a Milvus server or
  cluster (token in `$RAG_MILVUS_TOKEN`; `https` for TLS);
- anything else is a local index directory, as `--index` takes it.
A URI may add `?name=NAME` (several indexes in one Milvus database, default `default`),
`/DATABASE` after the port (a server's database), and for a cluster `shards=N` (set when a
version's collections are created) and `replicas=N` (when they are loaded).

`default_location()` is `$RAG_STORE`, else the default index directory (`$RAG_INDEX`, else
`index/default`).

Does not: connect to anything or import pymilvus (`rag.indexing.milvus_connect`).
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from ..errors import InputError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,100}$")
FORMS = ("milvus:///path/file.db for milvus-lite, or milvus://host:19530 (or "
         "http(s)://host:19530) for a Milvus server")


@dataclass(frozen=True)
class MilvusURI:
    """An index kept in Milvus. `uri` is what pymilvus takes (an absolute `.db` path, or
    `http(s)://host:port`), `shown` what the user wrote (messages repeat it)."""

    uri: str
    shown: str
    name: str = "default"
    db_name: str = ""
    shards: int | None = None
    replicas: int | None = None

    @property
    def local_file(self) -> Path | None:
        """The milvus-lite data directory (`.db`), or None for a server."""
        return Path(self.uri) if not self.uri.startswith(("http://", "https://")) else None

    @property
    def prefix(self) -> str:
        """The alias of the published version; every collection name starts with it."""
        return f"verbatim_{self.name}"

    def __str__(self) -> str:
        return self.shown


Location = Path | MilvusURI


def parse_location(value: str | Path | MilvusURI) -> Location:
    """A `MilvusURI` for a URI, else the local index directory.

    >>> parse_location("milvus:///tmp/v.db").uri, parse_location("index/default")
    ('/tmp/v.db', PosixPath('index/default'))
    """
    if isinstance(value, (Path, MilvusURI)):
        return value
    text = str(value).strip()
    if "://" not in text:
        return Path(text)
    return _parse_uri(text)


def _parse_uri(text: str) -> MilvusURI:
    parsed = urlparse(text)
    query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
    unknown = sorted(set(query) - {"name", "shards", "replicas"})
    if unknown:
        raise InputError(f"unknown setting {unknown[0]!r} in {text}; a store URI takes "
                         "?name=NAME, shards=N and replicas=N")
    name = query.get("name", "default")
    if not _NAME.match(name):
        raise InputError(f"index name {name!r} in {text}: start with a letter, then letters, "
                         "digits and underscores")
    counts = {k: _count(query[k], k, text) for k in ("shards", "replicas") if k in query}
    if parsed.scheme == "milvus" and not parsed.netloc:
        if not parsed.path.endswith(".db"):
            raise InputError(f"{text}: a milvus-lite store is a path ending in .db, "
                             "e.g. milvus:///tmp/v.db")
        return MilvusURI(str(Path(parsed.path).resolve()), text, name, **counts)
    if parsed.scheme in ("milvus", "http", "https") and parsed.hostname:
        scheme = "https" if parsed.scheme == "https" else "http"
        try:
            port = parsed.port or 19530
        except ValueError as e:
            raise InputError(f"{text}: the port is not a number; e.g. milvus://host:19530") from e
        return MilvusURI(f"{scheme}://{parsed.hostname}:{port}", text, name,
                         parsed.path.strip("/"), **counts)
    raise InputError(f"unknown store {text!r}; use {FORMS}, or a directory for a local index")


def _count(value: str, key: str, text: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise InputError(f"{key}={value} in {text}: give a whole number, 1 or more")
    return int(value)


def default_location() -> Location:
    """`$RAG_STORE`, else `$RAG_INDEX`, else `index/default` in the project checkout."""
    from .build import default_index_dir

    store = os.environ.get("RAG_STORE", "").strip()
    return parse_location(store) if store else default_index_dir()


def is_milvus(location: str | Path | MilvusURI) -> bool:
    return isinstance(parse_location(location), MilvusURI)


def option(location: str | Path | MilvusURI) -> str:
    """The command-line option that names `location`: `--store URI` or `--index DIR`.

    >>> option("milvus://db.example:19530")
    '--store milvus://db.example:19530'
    """
    where = parse_location(location)
    flag = "--store" if isinstance(where, MilvusURI) else "--index"
    return f"{flag} {shlex.quote(str(where))}"
