"""Connect to Milvus (milvus-lite in this process, or a server) and turn its failures into
one-line errors that name the fix.

- pymilvus and milvus-lite are the optional extra `milvus`: when either is missing the
  error says `pip install -e '.[milvus]'`.
- A server's token comes from `$RAG_MILVUS_TOKEN` (`user:password` or an API key) and is
  never shown. pymilvus reports a refused token and an unreachable server with the same
  message ("Fail connecting to server ..."); the gRPC status under it tells them apart.
- milvus-lite lets one process open a `.db` at a time (an `flock` on `<db>/LOCK`) and then
  only says "Open local milvus failed": the lock is checked to say so, and what to run
  instead (`milvus-lite server`, then `--store milvus://127.0.0.1:19530` everywhere).
- pymilvus logs every failed call with a traceback, milvus-lite every failed start, and
  gRPC's C core prints keep-alive complaints: all three are silenced, since every failure
  is raised anyway.

One client per URI is kept for the whole process (`disconnect` closes it and stops the
milvus-lite server thread pymilvus started for a `.db`).

Does not: read or write collections (`rag.indexing.milvus_store`, `rag.indexing.milvus_build`).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from pathlib import Path

from ..errors import IndexBusyError, InputError, RagError
from .backend import IndexChangedError, StoreUnavailableError
from .location import MilvusURI

INSTALL = "pip install -e '.[milvus]'"
_clients: dict[tuple[str, str, str], object] = {}
_lock = threading.Lock()


def quiet() -> None:
    """Silence pymilvus's and milvus-lite's logging (call after importing pymilvus, which
    sets up its own handler on import), and gRPC's server log: milvus-lite's in-process server
    logs a traceback for each call it does not implement (pymilvus's query iterator asks for
    `AllocTimestamp`, then does without)."""
    for name in ("pymilvus", "milvus_lite", "grpc._server"):
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def _pymilvus():
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # before grpc's C core starts
    try:
        import pymilvus
    except ImportError as e:
        raise StoreUnavailableError(f"the Milvus store needs pymilvus: {INSTALL}") from e
    quiet()
    return pymilvus


def connect(where: MilvusURI, *, timeout: float = 10.0):
    """The `pymilvus.MilvusClient` for `where` (one per URI and process), or a one-line
    error naming the fix."""
    token = os.environ.get("RAG_MILVUS_TOKEN", "") if where.local_file is None else ""
    key = (where.uri, where.db_name, token)
    with _lock:
        if key not in _clients:
            _clients[key] = _new_client(where, token, timeout)
        return _clients[key]


def _new_client(where: MilvusURI, token: str, timeout: float):
    pymilvus = _pymilvus()
    file = where.local_file
    if file is not None:
        try:
            import milvus_lite  # noqa: F401
        except ImportError as e:
            raise StoreUnavailableError(f"{where.shown} needs milvus-lite: {INSTALL}") from e
        if not file.parent.is_dir():
            raise InputError(f"{file.parent} does not exist; create it or choose another --store")
    try:
        return pymilvus.MilvusClient(uri=where.uri, token=token, db_name=where.db_name,
                                     timeout=timeout)
    except Exception as e:  # MilvusException, or a gRPC error pymilvus did not wrap
        if file is not None and _busy(file):
            raise IndexBusyError(
                f"{where.shown} is open in another process (milvus-lite allows one at a time); "
                f"stop it, or serve the file with `milvus-lite server --data-dir {file} --port "
                "19530` and use --store milvus://127.0.0.1:19530 in every process") from e
        raise failure(e, where) from e


def disconnect(where: MilvusURI | None = None) -> None:
    """Close the client of `where` (None: every client), stopping milvus-lite's server
    thread for a `.db`, so another process may open the file."""
    with _lock:
        keys = [k for k in _clients if where is None or k[0] == where.uri]
        clients = [_clients.pop(k) for k in keys]
    for client in clients:
        client.close()
    try:
        from milvus_lite.server_manager import server_manager_instance
    except ImportError:
        return
    for uri, _, _ in keys:
        if not uri.startswith(("http://", "https://")):
            server_manager_instance.release_server(uri)


def _busy(file: Path) -> bool:
    """True when another process holds milvus-lite's lock on the `.db` at `file` (asked only
    when this process failed to open it: its own server thread would hold the lock too)."""
    try:
        with open(file / "LOCK", "rb") as lock:  # closing it lets go of the shared lock
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # no lock file: nobody opened it
        return False
    return False


def _grpc_code(e: BaseException | None) -> str | None:
    """The gRPC status name behind an exception (pymilvus raises its own `from` the RpcError)."""
    for _ in range(10):
        if e is None:
            return None
        code = getattr(e, "code", None)
        name = getattr(code(), "name", None) if callable(code) else None
        if isinstance(name, str):
            return name
        e = e.__cause__ or e.__context__
    return None


def failure(e: BaseException, where: MilvusURI) -> RagError:
    """The one-line error for a failed connection or call."""
    code, text = _grpc_code(e), str(e)
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or "auth check failure" in text:
        fix = ("grant this user access to the database" if code == "PERMISSION_DENIED"
               else "set RAG_MILVUS_TOKEN to a valid 'user:password' or API key")
        return StoreUnavailableError(f"the Milvus server at {where.shown} refused the token; {fix}")
    if where.local_file is not None:
        return StoreUnavailableError(f"milvus-lite could not open {where.shown} ({_short(text)}); "
                                     "is it a milvus-lite data directory? choose another --store")
    if code in ("UNAVAILABLE", "DEADLINE_EXCEEDED") or "Fail connecting" in text:
        return StoreUnavailableError(
            f"cannot reach a Milvus server at {where.shown}; start it, check the host and port, "
            "or use --store milvus:///path/file.db for the embedded milvus-lite")
    return StoreUnavailableError(f"Milvus at {where.shown} failed: {_short(text)}")


def _short(text: str) -> str:
    return " ".join(text.split())[:300]


def _rpc_error() -> type:
    import grpc

    return grpc.RpcError


def gone(e: BaseException) -> bool:
    """True when `e` says a collection does not exist (dropped by a newer publish)."""
    text = str(e).lower()
    return "not exist" in text or "not found" in text


def call(where: MilvusURI, what: str, fn, *args, **kwargs):
    """`fn(*args, **kwargs)` with Milvus's exceptions as one-line errors: a collection gone
    raises `IndexChangedError` (`what` names the version), anything else `failure`."""
    from pymilvus.exceptions import MilvusException

    try:
        return fn(*args, **kwargs)
    except (MilvusException, _rpc_error()) as e:
        if gone(e):
            raise IndexChangedError(f"{what} of {where.shown} was replaced while it was read; "
                                    "open the index again") from e
        raise failure(e, where) from e
