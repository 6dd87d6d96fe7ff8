"""A large collection from the user's side: how soon `rag index` answers, and kill -9 resume.

Runs `rag index` on thousands of synthetic articles in a new process with the real model and
records, from the moment it starts:
- when it says the collection is searchable (its first snapshot: every chunk in BM25);
- when a `rag ask` in another process, started then, has its answer;
- after embedding for a while, how many chunks the embedding cache holds; then kill -9;
- a second `rag index`: when it is searchable again and how many chunks its first snapshot
  already has by meaning (all of the cache: nothing is embedded twice); then kill -9 again
  (finishing would take the better part of an hour of embedding).

Does not: wait for the whole collection to be embedded.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from . import common, corpus

# From a SciFact abstract the article generator (seed 7) puts in the corpus.
QUESTION = "What was the unadjusted hazard ratio for death in the radiotherapy-plus-temozolomide group?"
_SEARCHABLE = re.compile(r"searchable now: ([\d,]+) chunks by BM25, ([\d,]+) of them")


def run(documents: int, *, embed_seconds: float = 90.0, say=print) -> dict:
    """The timeline above on `documents` articles (the bench cache keeps the corpus)."""
    folder = corpus.cache_dir() / f"reindex-{documents}" / "corpus"
    if not folder.exists():
        import shutil

        shutil.copytree(corpus.make_articles(documents), folder,
                        ignore=shutil.ignore_patterns(".complete"))
    load = common.machine()
    with tempfile.TemporaryDirectory(prefix="bench-large-") as tmp:
        index = Path(tmp) / "index"
        say(f"large: `rag index` on {documents} articles, first run ...")
        first = _index_until(folder, index, ask=True, embed_seconds=embed_seconds, say=say)
        say("large: second run after kill -9 ...")
        second = _index_until(folder, index, ask=False, embed_seconds=0, say=say)
    return {"documents": documents, "question": QUESTION, "first_run": first,
            "after_kill": second,
            "resumed_without_reembedding": second["embedded_at_first_snapshot"]
            >= first["cached_at_kill"],
            "machine_before": load, "machine_after": common.machine()}


def _index_until(folder: Path, index: Path, *, ask: bool, embed_seconds: float, say) -> dict:
    argv = [common.PYTHON, "-m", "rag", "index", str(folder), "--index", str(index)]
    start = time.perf_counter()
    child = subprocess.Popen(argv, cwd=common.ROOT, stderr=subprocess.PIPE, text=True,
                             stdout=subprocess.DEVNULL)
    seen: dict = {}
    threading.Thread(target=_watch, args=(child, seen, start), daemon=True).start()
    out: dict = {}
    try:
        while "searchable_s" not in seen:
            if child.poll() is not None:
                raise RuntimeError(f"rag index ended before a snapshot: {seen.get('tail')}")
            time.sleep(0.1)
        out = {"searchable_s": round(seen["searchable_s"], 2), "chunks": seen["chunks"],
               "embedded_at_first_snapshot": seen["embedded"]}
        say(f"large: searchable after {out['searchable_s']} s")
        if ask:
            out.update(_ask(index, start))
            say(f"large: answered after {out['answered_s']} s")
        time.sleep(max(0.0, embed_seconds - (time.perf_counter() - start)))
        out["cached_at_kill"] = _cached(index)
        out["killed_after_s"] = round(time.perf_counter() - start, 1)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    return out


def _watch(child: subprocess.Popen, seen: dict, start: float) -> None:
    for line in child.stderr:
        match = _SEARCHABLE.search(line)
        if match and "searchable_s" not in seen:
            seen["chunks"] = int(match.group(1).replace(",", ""))
            seen["embedded"] = int(match.group(2).replace(",", ""))
            seen["searchable_s"] = time.perf_counter() - start
        seen["tail"] = line[-300:]


def _ask(index: Path, start: float) -> dict:
    argv = [common.PYTHON, "-m", "rag", "ask", QUESTION, "--index", str(index), "--json"]
    result = subprocess.run(argv, cwd=common.ROOT, capture_output=True, text=True, timeout=300,
                            check=False)
    answered = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"rag ask failed: {result.stderr[-1000:]}")
    answer = json.loads(result.stdout)
    return {"answered_s": round(answered, 2), "answer": answer.get("answer", "")[:300],
            "refused": answer.get("refused"), "citations": len(answer.get("citations", []))}


def _cached(index: Path) -> int:
    from rag.indexing.embcache import cache_file

    file = cache_file(index)
    if not file.exists():
        return 0
    con = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
    try:
        return con.execute("SELECT count(*) FROM vectors").fetchone()[0]
    finally:
        con.close()
