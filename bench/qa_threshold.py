"""The refusal threshold chosen by article, scored on the articles it never saw (issue 13).

`python -m bench.qa_threshold QA_DIR [--false-refusals 0.15] [--folds 4] [--reader cheap]
[--index DIR] [--out FILE]` answers every question of a QA folder (the format of
`../shared/benchmarks/squad2`, as `rag eval --qa` reads it) once, with the refusal threshold
out of the way, over an index of its corpus (default `index/qa-<name>`, the one `rag eval --qa`
builds). Its articles are cut into folds (`rag.training.squad.folds`, seeded). For each fold,
the threshold is the one `rag eval --qa --calibrate` would recommend on the other folds'
questions (the best balanced accuracy refusing at most `--false-refusals` of their answerable
ones, `rag.evaluation.metrics.sweep`), and it is applied to the fold's questions. The report
gives each fold's threshold and figures, and the whole set's, pooled: every question judged
with a threshold chosen without its article. Beside them, the same figures with the reader's
own threshold.

Does not: train anything, or change any default (apply a threshold with `--threshold`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.common import print_report


def crossval(asked: list[tuple], *, folds: int, false_refusals: float, own: float) -> dict:
    """Each fold judged with the threshold recommended on the others; pooled figures."""
    from rag.evaluation.metrics import sweep
    from rag.evaluation.qa import judged, score
    from rag.training.squad import folds as split

    articles = sorted({item.doc for item, _ in asked})
    out, pooled = [], []
    for fold in split(articles, min(folds, len(articles))):
        rest = [(i, a) for i, a in asked if i.doc not in fold]
        cal = sweep([a.score for _, a in rest], [a.refused for _, a in rest],
                    [not i.unanswerable for i, _ in rest], current=own,
                    max_false_refusals=false_refusals)
        threshold = own if cal.recommended is None else cal.recommended
        results = [judged(i, a, threshold) for i, a in asked if i.doc in fold]
        pooled += results
        out.append({"articles": fold, "threshold": threshold,
                    "recommended": cal.recommended is not None, **score(results)})
    return {"folds": out, "whole_set": score(pooled),
            "whole_set_own_threshold": score([judged(i, a, own) for i, a in asked])}


def run(folder: Path, *, index_dir: Path | None = None, reader: str = "cheap", folds: int = 4,
        false_refusals: float = 0.15, embedder=None) -> dict:
    from rag.answering.answer import AnswerConfig, Answerer
    from rag.evaluation.qa import answered, qa_index
    from rag.search.retrieve import Retriever

    index_dir = qa_index(folder, index_dir=index_dir) if embedder is None else index_dir
    started = time.perf_counter()
    retriever = Retriever.load(index_dir, embedder=embedder)
    try:
        answerer = Answerer(retriever, config=AnswerConfig(reader=reader))
        asked = answered(folder, answerer)
        figures = crossval(asked, folds=folds, false_refusals=false_refusals,
                           own=answerer.threshold)
    finally:
        retriever.store.close()
    return {"qa": folder.name, "reader": reader, "questions": len(asked),
            "false_refusals_allowed": false_refusals, "own_threshold": answerer.threshold,
            **figures, "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.qa_threshold",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("qa", type=Path, help="a QA folder: corpus/ and questions.jsonl")
    ap.add_argument("--index", type=Path, default=None)
    ap.add_argument("--reader", choices=("cheap", "learned"), default="cheap")
    ap.add_argument("--folds", type=int, default=4)
    ap.add_argument("--false-refusals", type=float, default=0.15)
    ap.add_argument("--out", type=Path, default=None, help="also write the report here (JSON)")
    args = ap.parse_args(argv)
    if not (args.qa / "questions.jsonl").is_file() or not (args.qa / "corpus").is_dir():
        print(f"error: {args.qa} needs corpus/ and questions.jsonl (as ../shared/benchmarks/squad2)",
              file=sys.stderr)
        return 1
    if args.folds < 2 or not 0 <= args.false_refusals <= 1:
        print("error: --folds needs 2 or more and --false-refusals a share from 0 to 1",
              file=sys.stderr)
        return 1
    return print_report(run(args.qa, index_dir=args.index, reader=args.reader, folds=args.folds,
                            false_refusals=args.false_refusals), args.out)


if __name__ == "__main__":
    sys.exit(main())
