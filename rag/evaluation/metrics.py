"""Pure evaluation metrics: answer matching, retrieval (through ranx), refusals, latency.

Retrieval metrics speak BEIR's plain dicts, qrels `{qid: {doc_id: int}}` and run
`{qid: {doc_id: score}}`, and are computed by ranx, keyed like `"ndcg@10"`. Passages are
judged at the document level: `doc_run` collapses a ranked passage list to its documents,
each keeping its best rank. No function mutates its inputs; an undefined ratio (0/0) is
`None`, not 0.

Does not: run the pipeline, read files or know the evaluation set (see `rag.evaluation.evaluate`).
"""

from __future__ import annotations

import math
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ..reading.ingest import normalize

# Our metric name -> ranx's. "hit@k" is 1 when any gold document is in the first k.
RANX_NAMES = {"hit@1": "hit_rate@1", "hit@3": "hit_rate@3", "hit@5": "hit_rate@5",
              "hit@10": "hit_rate@10", "recall@5": "recall@5", "recall@100": "recall@100",
              "mrr@10": "mrr@10", "ndcg@10": "ndcg@10"}
SET_RETRIEVAL = ("hit@1", "hit@3", "hit@5", "recall@5", "mrr@10", "ndcg@10")
BEIR_RETRIEVAL = ("ndcg@10", "recall@100", "mrr@10", "hit@1", "hit@5", "hit@10")


def normalize_answer(text: str) -> str:
    """NFKC, no-break spaces, case and punctuation folded to single spaces.

    >>> normalize_answer("Oct.\u00a01, AFP’s")
    'oct 1 afp s'
    """
    text = normalize(text)
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return " ".join(text.split())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """True when some acceptable answer stands in `text` as whole words, after normalization.

    >>> contains_answer("Mark Rutte takes over on Oct. 1 [1]", ["October 1", "Oct. 1"])
    True
    """
    padded = f" {normalize_answer(text)} "
    return any(norm and f" {norm} " in padded for norm in map(normalize_answer, answers))


def token_f1(text: str, answers: Iterable[str]) -> float:
    """The best SQuAD-style token F1 of `text` against any acceptable answer (0 if none).

    >>> round(token_f1("former Dutch Prime Minister", ["Dutch Prime Minister"]), 3)
    0.857
    """
    got = normalize_answer(text).split()
    best = 0.0
    for answer in answers:
        want = normalize_answer(answer).split()
        common = sum(min(got.count(t), want.count(t)) for t in set(want))
        if common:
            p, r = common / len(got), common / len(want)
            best = max(best, 2 * p * r / (p + r))
    return best


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def mean(values: Iterable[float | None]) -> float | None:
    """The mean of the values that are not None (None when there are none)."""
    vals = [float(v) for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default."""
    vals = sorted(values)
    if not vals:
        return None
    pos = (len(vals) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def doc_run(doc_ids: Sequence[str]) -> dict[str, float]:
    """Passages' document ids, best first, as a run entry: each document once, at its best rank.

    Scores are 1/rank, so ties cannot reorder documents.
    >>> doc_run(["a", "b", "a", "c"])
    {'a': 1.0, 'b': 0.5, 'c': 0.3333333333333333}
    """
    out: dict[str, float] = {}
    for doc in doc_ids:
        if doc not in out:
            out[doc] = 1.0 / (len(out) + 1)
    return out


def retrieval_per_query(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]],
                        metrics: Sequence[str] = SET_RETRIEVAL) -> dict[str, dict[str, float]]:
    """`{metric: {qid: value}}` for every query of `qrels`, computed by ranx.

    A query missing from `run` (or with an empty ranking) scores 0.
    >>> retrieval_per_query({"q": {"d2": 1}}, {"q": {"d1": 1.0, "d2": 0.5}}, ["mrr@10"])
    {'mrr@10': {'q': 0.5}}
    """
    unknown = [m for m in metrics if m not in RANX_NAMES]
    if unknown:
        raise ValueError(f"unknown retrieval metric {unknown[0]!r}; allowed: {', '.join(RANX_NAMES)}")
    if not qrels:
        return {m: {} for m in metrics}
    try:
        from ranx import Qrels, Run, evaluate
    except ImportError as e:
        raise ImportError("retrieval metrics need ranx: pip install 'verbatim[eval]'") from e
    qrels = {q: {d: int(r) for d, r in docs.items()} for q, docs in qrels.items()}
    ranked = {q: dict(run.get(q) or {}) for q in qrels if run.get(q)}
    empty = [q for q in qrels if q not in ranked]
    per_query: dict[str, dict[str, float]] = {m: {q: 0.0 for q in empty} for m in metrics}
    if ranked:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba's "unsafe cast" notes
            qr, rn = Qrels(qrels), Run(ranked)
            evaluate(qr, rn, [RANX_NAMES[m] for m in metrics], make_comparable=True)
        for m in metrics:
            per_query[m].update({q: float(v) for q, v in rn.scores[RANX_NAMES[m]].items()
                                 if q in ranked})
    return {m: dict(sorted(v.items())) for m, v in per_query.items()}


def retrieval_metrics(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]],
                      metrics: Sequence[str] = SET_RETRIEVAL) -> dict[str, float | None]:
    """Mean of each retrieval metric over the queries of `qrels` (None when there are none)."""
    per_query = retrieval_per_query(qrels, run, metrics)
    return {m: mean(per_query[m].values()) for m in metrics}


def refusal_metrics(refused: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float | None]:
    """Precision and recall of refusing the unanswerable; false refusals of the answerable.

    >>> refusal_metrics([True, True, False, False], [False, True, True, False])
    {'refusal_precision': 0.5, 'refusal_recall': 0.5, 'false_refusal_rate': 0.5}
    """
    if len(refused) != len(answerable):
        raise ValueError(f"{len(refused)} refusal flags but {len(answerable)} answerable flags")
    hits = sum(r and not a for r, a in zip(refused, answerable))
    false = sum(r and a for r, a in zip(refused, answerable))
    unanswerable = sum(not a for a in answerable)
    return {"refusal_precision": ratio(hits, hits + false),
            "refusal_recall": ratio(hits, unanswerable),
            "false_refusal_rate": ratio(false, len(answerable) - unanswerable)}


def balanced_accuracy(m: dict[str, float | None]) -> float | None:
    """Mean of refusal recall and (1 - false-refusal rate)."""
    if m["refusal_recall"] is None or m["false_refusal_rate"] is None:
        return None
    return (m["refusal_recall"] + 1 - m["false_refusal_rate"]) / 2


def refusal_f1(m: dict[str, float | None]) -> float | None:
    p, r = m["refusal_precision"], m["refusal_recall"]
    if p is None or r is None:
        return None
    return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class ThresholdRow:
    """The refusal figures for every threshold from `low` to `high` (they refuse the same)."""

    low: float
    high: float
    refused: int
    refusal_precision: float | None
    refusal_recall: float | None
    false_refusal_rate: float | None
    balanced_accuracy: float | None
    f1: float | None


@dataclass(frozen=True)
class Calibration:
    rows: tuple[ThresholdRow, ...]
    recommended: float | None
    current: float
    max_false_refusals: float


def sweep(scores: Sequence[float], always_refused: Sequence[bool], answerable: Sequence[bool], *,
          current: float, step: float = 0.01, max_false_refusals: float = 0.10) -> Calibration:
    """Refusal figures on a grid of thresholds; recommends the best balanced accuracy
    among those with false refusals <= `max_false_refusals` (the middle of its range)."""
    lo, hi = int(min(scores) // step), int(max(scores) // step) + 2
    rows: list[ThresholdRow] = []
    last = None
    for i in range(lo, hi + 1):
        t = round(i * step, 6)
        refused = [a or s < t for s, a in zip(scores, always_refused)]
        if refused == last:
            rows[-1] = replace(rows[-1], high=t)
            continue
        m = refusal_metrics(refused, answerable)
        rows.append(ThresholdRow(t, t, sum(refused), m["refusal_precision"], m["refusal_recall"],
                                 m["false_refusal_rate"], balanced_accuracy(m), refusal_f1(m)))
        last = refused
    allowed = [r for r in rows if r.balanced_accuracy is not None
               and (r.false_refusal_rate or 0.0) <= max_false_refusals]
    best = max(allowed, key=lambda r: (r.balanced_accuracy, -(r.false_refusal_rate or 0.0)),
               default=None)
    recommended = None if best is None else round(round((best.low + best.high) / 2 / step) * step, 6)
    return Calibration(tuple(rows), recommended, current, max_false_refusals)
