"""Does the answerer refuse news questions its collection does not cover? (issues 13 and 16)

`python -m bench.refusals COVERED OTHER [--index DIR] [--reader cheap|learned] [--out FILE]`
takes two RealTimeQA sets built by `python -m bench.realtimeqa build` (OTHER with `--exclude
COVERED`, so their weeks differ), indexes COVERED's articles only (once; default
`index/rtqa-<COVERED name>`, the index `bench.realtimeqa run` builds) and asks every question
of both on its own date (`asked_on`: one that says "this week" prefers that week's
articles, as `bench.realtimeqa` asks), with no refusal threshold, keeping the answer's score (what the reader refuses by:
the cheap score, or the learned confidence) and its confidence. Two groups are compared:
- **right**: questions of either set whose answer's first quote holds the right choice;
- **uncovered**: questions of OTHER whose right choice is in none of the top 10 passages: the
  collection does not hold their answer, so "I can't find this" is the right reply.
It reports the ROC AUC of the score and of the confidence between them, and for a sweep of
thresholds the share of each group refused (rules such as "the sources never mention X" count
as refusals): the trade-off a threshold buys on news, where many questions fall outside the
collection.

Does not: build the sets (`bench.realtimeqa`), fetch anything, or change any default.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import print_report
from bench.realtimeqa import read_questions

FIXED = (0.42, 0.5, 0.6, 0.7, 0.74, 0.8, 0.9)
QUANTILES = (0.02, 0.05, 0.1)


def ask_all(covered: Path, other: Path, answerer) -> list[dict]:
    """Each question of both sets: its group labels and the answer's score, unthresholded."""
    from rag.evaluation.metrics import contains_answer

    rows = []
    for name, folder in (("covered", covered), ("other", other)):
        for q in read_questions(folder / "questions.jsonl"):
            passages = answerer.retriever.search(q.question, k=10, asked_on=q.date)
            answer = answerer.ask(q.question, asked_on=q.date)
            first = bool(answer.citations) and contains_answer(answer.citations[0].quote, [q.answer])
            # the score is what the reader refuses by (the learned reader's is its confidence)
            rows.append({"rule": answer.refused, "score": float(answer.score),
                         "confidence": float(answer.confidence),
                         "right": first and not answer.refused,
                         "uncovered": name == "other" and not any(
                             contains_answer(p.text, [q.answer]) for p in passages)})
    return rows


def sweep(rows: list[dict]) -> dict:
    """AUC of the score (right against uncovered) and, per threshold, the share refused of each."""
    from rag.evaluation.qa import auc

    right = np.array([r["score"] for r in rows if r["right"]])
    unc = [r for r in rows if r["uncovered"]]
    unc_score = np.array([r["score"] for r in unc])
    unc_rule = np.array([r["rule"] for r in unc], dtype=bool)
    if not len(right) or not unc:
        return {"right": len(right), "uncovered": len(unc), "auc": None, "thresholds": []}
    picked = [(f"{q:.0%} of right refused", float(np.quantile(right, q))) for q in QUANTILES]
    rows_out = [{"threshold": round(t, 3), "chosen_by": why,
                 "right_refused": round(float(np.mean(right < t)), 3),
                 "uncovered_refused": round(float(np.mean((unc_score < t) | unc_rule)), 3)}
                for why, t in [*picked, *(("fixed", t) for t in FIXED)]]
    labels = [True] * len(right) + [False] * len(unc)
    confidence = [r["confidence"] for r in rows if r["right"]] + [r["confidence"] for r in unc]
    return {"right": len(right), "uncovered": len(unc),
            "auc": auc(np.concatenate([right, unc_score]), labels),
            "confidence_auc": auc(confidence, labels), "thresholds": rows_out}


def run(covered: Path, other: Path, *, index_dir: Path | None = None, reader: str = "cheap",
        embedder=None) -> dict:
    from rag.answering.answer import AnswerConfig, Answerer
    from rag.indexing.build import build_index, default_index_dir
    from rag.search.retrieve import Retriever

    index_dir = index_dir or default_index_dir().parent / f"rtqa-{covered.name}"
    build_index([covered / "corpus.jsonl"], index_dir=index_dir, embedder=embedder)
    started = time.perf_counter()
    retriever = Retriever.load(index_dir, embedder=embedder)
    try:
        answerer = Answerer(retriever, config=AnswerConfig(reader=reader, threshold=float("-inf")))
        rows = ask_all(covered, other, answerer)
    finally:
        retriever.store.close()
    return {"covered": covered.name, "other": other.name, "reader": reader,
            "questions": len(rows), **sweep(rows), "seconds": round(time.perf_counter() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.refusals", description=__doc__.splitlines()[0])
    ap.add_argument("covered", type=Path, help="a built set whose articles are indexed")
    ap.add_argument("other", type=Path, help="a built set of other weeks (build --exclude COVERED)")
    ap.add_argument("--index", type=Path, default=None)
    ap.add_argument("--reader", choices=("cheap", "learned"), default="cheap")
    ap.add_argument("--out", type=Path, default=None, help="also write the report here (JSON)")
    args = ap.parse_args(argv)
    for need in (args.covered / "corpus.jsonl", args.covered / "questions.jsonl",
                 args.other / "questions.jsonl"):
        if not need.is_file():
            print(f"error: {need} is missing; build the set with python -m bench.realtimeqa build",
                  file=sys.stderr)
            return 1
    return print_report(run(args.covered, args.other, index_dir=args.index, reader=args.reader),
                        args.out)


if __name__ == "__main__":
    sys.exit(main())
