"""Measure how well the pipeline retrieves, answers, cites and refuses; gate regressions.

`evaluate(set_path, answerer)` asks every question of a labelled set (follow-ups with their
history), then scores, overall and by question type:
- retrieval of the gold documents (hit@1/3/5, recall@5, MRR@10, nDCG@10; ranx), at the
  document level: the standalone query is searched `RETRIEVAL_DEPTH` passages deep and the
  passages collapse to their documents, each at its best rank;
- answers of the answerable questions: contains an acceptable answer, token F1;
- citations: verified at their offsets (`check_citation`), precision (the quote overlaps
  gold evidence or lies in a gold document, over answerable questions) and recall (answerable
  questions with a citation into a gold document);
- refusals of the unanswerable (precision, recall) and false refusals of the answerable;
- latency per question (p50, p95), the only figure that varies between runs.

`check` compares figures with `eval/baseline.json`; `calibrate` sweeps the answerer's
refusal threshold; `evaluate_beir` runs the retrieval metrics on a BEIR data set through
the project's own indexing and retriever, caching the built index.

Does not: judge answers with a language model, or write reports (see `rag.evaluation.report`).
"""

from __future__ import annotations

import functools
import json
import re
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import EvalSetError
from .evalset import TYPES, EvalQuestion, check_against, evidence_spans, load_beir, load_set
from .metrics import (
    BEIR_RETRIEVAL,
    SET_RETRIEVAL,
    Calibration,
    contains_answer,
    doc_run,
    mean,
    percentile,
    ratio,
    refusal_metrics,
    retrieval_metrics,
    retrieval_per_query,
    sweep,
    token_f1,
)

_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SET = _ROOT / "eval" / "sets" / "seeds.jsonl"
DEFAULT_BASELINE = _ROOT / "eval" / "baseline.json"
DEFAULT_REPORTS = _ROOT / "eval" / "reports"
RETRIEVAL_DEPTH = 50  # passages searched per question for the retrieval metrics
BEIR_DEPTH = 500  # passages searched per BEIR query: enough documents for recall@100
_MARK = re.compile(r"\[\d+\]")

# Gated metrics: which direction is better, and the default tolerance. Latency is not gated.
GATE = {
    **{m: ("higher", 0.02) for m in SET_RETRIEVAL},
    "answer_contains": ("higher", 0.02), "answer_f1": ("higher", 0.02),
    "citation_verified": ("higher", 0.0), "citation_precision": ("higher", 0.02),
    "citation_recall": ("higher", 0.02), "refusal_precision": ("higher", 0.02),
    "refusal_recall": ("higher", 0.02), "false_refusal_rate": ("lower", 0.02),
}
METRICS = tuple(GATE) + ("latency_p50_ms", "latency_p95_ms")


@dataclass(frozen=True)
class QuestionResult:
    """What the pipeline did with one question, and how it scored."""

    question: EvalQuestion
    standalone_query: str
    answer: str
    refused: bool
    score: float
    ranked_docs: tuple[str, ...]
    citations: int
    verified: int
    precise: int
    cited_gold: bool | None
    contains: bool | None
    f1: float | None
    latency_ms: float
    retrieval: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EvalReport:
    set_path: str
    index: str
    model: str
    k: int
    overall: dict
    by_type: dict
    results: tuple[QuestionResult, ...]
    seconds: float


def evaluate(set_path: str | Path, answerer, *, k: int = 5, progress: bool = False) -> EvalReport:
    """Run the set at `set_path` through `answerer` (an `rag.answering.answer.Answerer`) and score it.

    >>> evaluate(DEFAULT_SET, Answerer.load("index/default")).overall["ndcg@10"]  # doctest: +SKIP
    """
    started = time.perf_counter()
    questions = load_set(set_path)
    results = run_questions(questions, answerer, k=k, progress=progress)
    by_type = {t: summarize([r for r in results if r.question.type == t])
               for t in TYPES if any(r.question.type == t for r in results)}
    store = answerer.retriever.store
    return EvalReport(set_path=_shown(set_path), index=str(store.path), model=store.manifest.model,
                      k=k, overall=summarize(results), by_type=by_type, results=tuple(results),
                      seconds=time.perf_counter() - started)


def run_questions(questions: Sequence[EvalQuestion], answerer, *, k: int = 5,
                  progress: bool = False) -> list[QuestionResult]:
    """Ask every question (after checking the set against the index) and judge each answer."""
    documents = answerer.retriever.store.documents()
    check_against(list(questions), documents)
    results = []
    for q in _bar(questions, progress, "questions", "question"):
        started = time.perf_counter()
        answer = answerer.ask(q.question, history=list(q.history), k=k)
        latency = (time.perf_counter() - started) * 1000
        passages = answerer.retriever.search(answer.standalone_query, k=RETRIEVAL_DEPTH)
        results.append(_judge(q, answer, [p.doc_id for p in passages], documents, latency))
    return with_retrieval(results)


def with_retrieval(results: list[QuestionResult]) -> list[QuestionResult]:
    """The results with their per-question retrieval metrics (those with gold documents)."""
    qrels = {r.question.id: {d: 1 for d in r.question.gold_docs} for r in results
             if r.question.gold_docs}
    run = {r.question.id: doc_run(r.ranked_docs) for r in results}
    per_query = retrieval_per_query(qrels, run, SET_RETRIEVAL)
    return [replace(r, retrieval={m: v[r.question.id] for m, v in per_query.items()})
            if r.question.id in qrels else r for r in results]


def _judge(q: EvalQuestion, answer, ranked: list[str], documents, latency: float) -> QuestionResult:
    from ..answering.answer import check_citation

    spans = evidence_spans(q, documents)
    text = " ".join(_MARK.sub(" ", answer.text).split())
    got = "" if answer.refused else text
    precise = sum(c.doc_id in q.gold_docs or any(
        d == c.doc_id and s < c.end and c.start < e for d, s, e in spans) for c in answer.citations)
    return QuestionResult(
        question=q, standalone_query=answer.standalone_query, answer=answer.text,
        refused=answer.refused, score=float(answer.score), ranked_docs=tuple(doc_run(ranked)),
        citations=len(answer.citations),
        verified=sum(check_citation(c, documents, answer.passages) for c in answer.citations),
        precise=precise,
        cited_gold=any(c.doc_id in q.gold_docs for c in answer.citations) if q.answerable else None,
        contains=contains_answer(got, q.answers) if q.answerable else None,
        f1=token_f1(got, q.answers) if q.answerable else None, latency_ms=latency)


def summarize(results: Sequence[QuestionResult]) -> dict[str, float | None]:
    """Every metric over `results` (None where it is undefined, e.g. no citations at all)."""
    answerable = [r for r in results if r.question.answerable]
    ranked = [r for r in results if r.retrieval]
    m: dict[str, float | None] = {n: mean(r.retrieval[n] for r in ranked) for n in SET_RETRIEVAL}
    m["answer_contains"] = mean(r.contains for r in answerable)
    m["answer_f1"] = mean(r.f1 for r in answerable)
    m["citation_verified"] = ratio(sum(r.verified for r in results),
                                   sum(r.citations for r in results))
    m["citation_precision"] = ratio(sum(r.precise for r in answerable),
                                    sum(r.citations for r in answerable))
    m["citation_recall"] = mean(r.cited_gold for r in answerable)
    m.update(refusal_metrics([r.refused for r in results],
                             [r.question.answerable for r in results]))
    m["latency_p50_ms"] = percentile([r.latency_ms for r in results], 50)
    m["latency_p95_ms"] = percentile([r.latency_ms for r in results], 95)
    return m


def failed_metrics(r: QuestionResult) -> list[str]:
    """The metrics this question fails, e.g. ["false_refusal_rate", "answer_contains"]."""
    out = ["citation_verified"] if r.verified < r.citations else []
    if not r.question.answerable:
        return out + ([] if r.refused else ["refusal_recall"])
    if r.retrieval.get("hit@1") == 0:
        out.append("hit@1")
    if r.refused:
        out.append("false_refusal_rate")
    if not r.contains:
        out.append("answer_contains")
    if r.precise < r.citations:
        out.append("citation_precision")
    if not r.cited_gold:
        out.append("citation_recall")
    return out


# --- the regression gate ---------------------------------------------------------------

def read_baseline(path: str | Path = DEFAULT_BASELINE) -> dict:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data.get("metrics"), dict):
            raise TypeError("no 'metrics' object")
    except FileNotFoundError as e:
        raise EvalSetError(f"no baseline at {path}; accept the current figures with "
                           f"`rag eval --update-baseline`") from e
    except (OSError, ValueError, TypeError, AttributeError) as e:
        raise EvalSetError(f"the baseline {path} is damaged ({e}); restore it from git or run "
                           f"`rag eval --update-baseline`") from e
    return data


def check(metrics: dict[str, float | None], baseline: dict, *,
          questions: int | None = None) -> list[str]:
    """One message per metric worse than the baseline by more than its tolerance.

    `questions`, the size of the set just run, must match the baseline's when both are known.
    """
    problems = []
    if questions is not None and baseline.get("questions") not in (None, questions):
        problems.append(f"set: {questions} questions, but the baseline was computed on "
                        f"{baseline['questions']} ({baseline.get('set')}); compare like with like")
    verified = metrics.get("citation_verified")
    if verified is not None and verified < 1.0:  # the verbatim invariant, whatever the baseline
        problems.append(f"citation_verified: {verified:.4f}, must be 1.0000")
    for name, accepted in baseline["metrics"].items():
        if name == "citation_verified" and verified is not None and verified < 1.0:
            continue
        value, want = metrics.get(name), accepted.get("value")
        tol = float(accepted.get("tolerance", 0.0))
        lower = accepted.get("better", GATE.get(name, ("higher",))[0]) == "lower"
        if want is None:
            continue
        if value is None:
            problems.append(f"{name}: not measurable now, baseline {want:.4f}")
        elif (value > want + tol) if lower else (value < want - tol):
            word = "above" if lower else "below"
            problems.append(f"{name}: {value:.4f} is {word} the baseline {want:.4f} by more than "
                            f"the tolerance {tol:g}")
    return problems


def write_baseline(report, path: str | Path = DEFAULT_BASELINE, *, gate: dict = GATE,
                   sections: dict | None = None) -> Path:
    """Accept `report`'s figures for the metrics of `gate`, keeping the tolerances already in
    the file; `sections` (default: by question type) are written for reading, not gated."""
    path = Path(path)
    try:
        old = read_baseline(path)["metrics"]
    except EvalSetError:
        old = {}
    sections = {"by_type": report.by_type} if sections is None else sections
    lines = [f'    "{name}": ' + json.dumps({
        "value": _round(report.overall[name]), "better": better,
        "tolerance": old.get(name, {}).get("tolerance", tol)}) for name, (better, tol) in gate.items()]
    head = {"about": "Accepted figures of `rag eval`; `rag eval --check` fails when a metric is "
                     "worse by more than its tolerance. Change them only with "
                     f"`rag eval --update-baseline`. {', '.join(sections)} "
                     f"{'is' if len(sections) == 1 else 'are'} for reading, not gated.",
            "set": report.set_path, "questions": len(report.results), "model": report.model,
            "k": report.k}
    text = ("{\n" + "".join(f"  {json.dumps(key)}: {json.dumps(v)},\n" for key, v in head.items())
            + '  "metrics": {\n' + ",\n".join(lines) + "\n  }")
    for name, groups in sections.items():
        rows = [f'    "{g}": ' + json.dumps({n: _round(v) for n, v in m.items()
                                             if n in gate and v is not None})
                for g, m in groups.items()]
        text += f',\n  "{name}": {{\n' + ",\n".join(rows) + "\n  }"
    text += "\n}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


# --- calibrating the refusal threshold ---------------------------------------------------

def calibrate(questions: Sequence[EvalQuestion], answerer, *, k: int = 5, progress: bool = False,
              max_false_refusals: float = 0.10) -> Calibration:
    """Sweep `answerer`'s refusal threshold over the set's best-evidence scores.

    Each question is answered once with no threshold; a threshold t then refuses exactly
    those whose `Answer.score` is under t (plus any refused for lack of verified quotes).
    """
    from ..answering.answer import Answerer

    config = replace(answerer.config, threshold=float("-inf"))
    open_answerer = Answerer(answerer.retriever, config=config)
    check_against(list(questions), answerer.retriever.store.documents())
    answers = [open_answerer.ask(q.question, history=list(q.history), k=k)
               for q in _bar(questions, progress, "questions", "question")]
    return sweep([a.score for a in answers], [a.refused for a in answers],
                 [q.answerable for q in questions], current=answerer.threshold,
                 max_false_refusals=max_false_refusals)


# --- BEIR data sets -----------------------------------------------------------------------

@dataclass(frozen=True)
class BeirReport:
    name: str
    mode: str
    queries: int
    documents: int
    chunks: int
    metrics: dict
    index_dir: str
    skipped: int
    build_seconds: float
    search_seconds: float
    fusion: str | None = None  # how a hybrid search fused its two sides


def evaluate_beir(folder: str | Path, *, index_dir: str | Path | None = None, embedder=None,
                  split: str = "test", mode: str | None = None, rerank: str | None = None,
                  fusion: str | None = None, progress: bool = False) -> BeirReport:
    """Retrieval metrics on a BEIR folder, through `build_index` and `Retriever`.

    The corpus is written as `beir-cache/<name>.jsonl` beside the index (title and text as
    one article) and indexed into `index_dir` (default `index/beir-<name>`); a second run
    reuses that index and embeds nothing. `mode` picks the retriever's search mode (dense,
    lexical or hybrid; default: the retriever's own); `rerank` a reranker ("reader" or a
    cross-encoder directory, as `rag eval --rerank`); `fusion` the hybrid fusion (default: by
    the index's size).
    >>> evaluate_beir("../shared/benchmarks/scifact").metrics["ndcg@10"]  # doctest: +SKIP
    """
    from ..answering.rerank import with_reranker
    from ..indexing.build import build_index, default_index_dir
    from ..reading.ingest import IngestWarning
    from ..search.retrieve import Retriever, SearchConfig

    data = load_beir(folder, split=split)
    index_dir = Path(index_dir or default_index_dir().parent / f"beir-{data.name}")
    corpus_file = _write_corpus(data, index_dir.parent / "beir-cache" / f"{data.name}.jsonl")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IngestWarning)
        built = build_index([corpus_file], index_dir=index_dir, embedder=embedder,
                            progress=progress)
    skipped = sum(issubclass(w.category, IngestWarning) for w in caught)
    for w in caught:
        if not issubclass(w.category, IngestWarning):
            warnings.warn(w.message, w.category, stacklevel=2)
    started = time.perf_counter()
    retriever = Retriever.load(index_dir, embedder=embedder, config=SearchConfig(fusion=fusion))
    options = {"mode": mode} if mode else {}
    search = functools.partial(retriever.search, k=BEIR_DEPTH, **options)
    if rerank is not None:  # the reranked head, then the rest in the retriever's order
        reranked = with_reranker(retriever, rerank)
        depth = reranked.config.rerank_depth
        search = functools.partial(_reranked_head, reranked.search, retriever.search, depth,
                                   options)
    run = {qid: doc_run([p.doc_id for p in search(data.queries[qid])])
           for qid in _bar(sorted(data.queries), progress, "queries", "query")}
    metrics = retrieval_metrics(data.qrels, run, BEIR_RETRIEVAL)
    used = mode or getattr(getattr(retriever, "config", None), "mode", "dense")
    return BeirReport(data.name, used, len(data.queries), built.documents, built.chunks, metrics,
                      str(index_dir), skipped, built.seconds, time.perf_counter() - started,
                      retriever.fusion if used == "hybrid" else None)


def _reranked_head(reranked, plain, depth: int, options: dict, query: str) -> list:
    """The reranker's best `depth` passages, then the other of the `BEIR_DEPTH` in order (so
    recall@100 does not pay for reranking 500 passages)."""
    head = reranked(query, k=depth, **options)
    seen = {p.chunk_id for p in head}
    return head + [p for p in plain(query, k=BEIR_DEPTH, **options) if p.chunk_id not in seen]


def _write_corpus(data, file: Path) -> Path:
    """The corpus as ingestible JSONL; the file is left alone when its content is unchanged."""
    lines = []
    for doc_id, d in data.corpus.items():
        text = "\n\n".join(p for p in (d["title"].strip(), d["text"].strip()) if p)
        if text:
            lines.append(json.dumps({"id": doc_id, "title": d["title"], "text": text},
                                    ensure_ascii=False) + "\n")
    content = "".join(lines)
    if not file.exists() or file.read_text(encoding="utf-8") != content:
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_name(file.name + ".tmp")
        tmp.write_text(content, encoding="utf-8")
        tmp.replace(file)
    return file


def _bar(items, progress: bool, desc: str, unit: str):
    if not progress:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit=unit, leave=False)


def _shown(path: str | Path) -> str:
    """`path` relative to the project when inside it, for reports that do not vary by machine."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(_ROOT))
    except ValueError:
        return str(path)
