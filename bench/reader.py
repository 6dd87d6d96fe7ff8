"""The reader's cost: warm `Answerer.ask` latency per reader, and a one-off `rag ask`.

On an index of `seeds/` built with the real model: every question of the seed evaluation set
is asked once to warm up, then `rounds` times per reader (cheap, learned) in this process,
and each ask's wall time is kept (p50, p95, max). Then `rag ask --reader R` runs `repeat`
times per reader in a new process (the median is what a one-off user waits).

Does not: score answers (`rag eval` and `rag eval --qa` do).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from . import common, corpus
from .coldstart import QUESTION, RAG

READERS = ("cheap", "learned")


def run(*, rounds: int = 3, repeat: int = 5, say=print) -> dict:
    from rag.answering.answer import AnswerConfig, Answerer
    from rag.evaluation.evalset import load_set
    from rag.indexing.build import build_index
    from rag.search.retrieve import Retriever

    questions = [q.question for q in load_set(common.ROOT / "eval" / "sets" / "seeds.jsonl")]
    out: dict = {"machine_before": common.machine(), "questions": len(questions),
                 "rounds": rounds, "warm": {}, "one_off_s": {}}
    with tempfile.TemporaryDirectory(prefix="bench-reader-") as tmp:
        index = Path(tmp) / "index"
        say("reader: indexing seeds/ with the real model ...")
        build_index([corpus.SEEDS], index_dir=index)
        retriever = Retriever.load(index)
        for reader in READERS:
            answerer = Answerer(retriever, config=AnswerConfig(reader=reader))
            for q in questions:
                answerer.ask(q)
            times = []
            for _ in range(rounds):
                for q in questions:
                    start = time.perf_counter()
                    answerer.ask(q)
                    times.append((time.perf_counter() - start) * 1000)
            t = np.array(times)
            out["warm"][reader] = {"p50_ms": round(float(np.percentile(t, 50)), 1),
                                   "p95_ms": round(float(np.percentile(t, 95)), 1),
                                   "max_ms": round(float(t.max()), 1), "asks": len(times)}
            say(f"reader: {reader} warm p95 {out['warm'][reader]['p95_ms']} ms")
            argv = [RAG, "ask", QUESTION, "--index", str(index), "--reader", reader]
            runs = [round(common.run_command(argv), 3) for _ in range(repeat)]
            out["one_off_s"][reader] = {"median": round(statistics.median(runs), 3), "runs": runs}
        retriever.store.close()
    out["machine_after"] = common.machine()
    return out
