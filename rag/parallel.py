"""Spread pure CPU-bound work (reading, chunking, BM25 tokenizing) over the machine's cores.

`map_ordered(fn, items, state=...)` returns `[fn(state, item) for item in items]`, computed by
a pool of forked worker processes when there are at least `min_items` items, more than one
core, `RAG_WORKERS` is not 1 and this process runs a single thread (`rag index`, not a chat
server); otherwise in this process. Workers are forked, so `state`
(settings, a token counter) is inherited rather than pickled; only items and results cross.
Warnings a worker raises are sent back and raised again here, in order. `bar="chunking"`
shows a progress bar over the items (the first phase of `rag index` on a large collection).

Does not: run the embedding model (it has its own threads), or share anything mutable.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

MIN_ITEMS = 400  # below this the pool costs more than it saves
_state: Any = None
_fn: Callable | None = None


def workers() -> int:
    """`RAG_WORKERS` if set, else the number of cores this process may use."""
    if os.environ.get("RAG_WORKERS", "").strip().isdigit():
        return max(1, int(os.environ["RAG_WORKERS"]))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def map_ordered(fn: Callable[[Any, Any], Any], items: Iterable, *, state: Any = None,
                min_items: int = MIN_ITEMS, bar: str | None = None) -> list:
    """`[fn(state, item) for item in items]`, in worker processes when it pays. `bar` names a
    progress bar (on stderr, over the items) shown when there are `min_items` or more."""
    items = items if isinstance(items, Sequence) else list(items)
    bar = bar if len(items) >= min_items else None
    n = workers()
    if n < 2 or len(items) < min_items or not _safe_to_fork():
        return [fn(state, item) for item in _shown(items, bar, len(items))]
    global _state, _fn
    _state, _fn = state, fn
    try:
        context = multiprocessing.get_context("fork")
        size = max(1, len(items) // (n * 8))
        with ProcessPoolExecutor(max_workers=n, mp_context=context,
                                 initializer=_quiet_tokenizers) as pool:
            results = list(_shown(pool.map(_call, items, chunksize=size), bar, len(items)))
    finally:
        _state, _fn = None, None
    out = []
    for value, caught in results:
        for message, category in caught:
            warnings.warn(category(message), stacklevel=2)
        out.append(value)
    return out


def _shown(results: Iterable, bar: str | None, total: int) -> Iterable:
    if bar is None:
        return results
    from tqdm import tqdm

    return tqdm(results, total=total, desc=bar, unit="doc", leave=False, smoothing=0.1)


def _safe_to_fork() -> bool:
    """Fork only a single-threaded process (a chat server's threads could hold locks the
    copy would wait on forever)."""
    others = [t for t in threading.enumerate()
              if t is not threading.main_thread() and t.name != "tqdm_monitor"]  # sleeps only
    return "fork" in multiprocessing.get_all_start_methods() and not others


def _quiet_tokenizers() -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one process per core already


def _call(item):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = _fn(_state, item)
    return value, [(str(w.message), w.category) for w in caught]
