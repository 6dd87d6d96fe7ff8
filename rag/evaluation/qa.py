"""Answers on a QA folder (the SQuAD 2.0 format), scored as a user would judge them.

A QA folder holds `corpus/` (one article a file) and `questions.jsonl`, a line per question:
`id`, `question`, `answers` (gold answer texts), `unanswerable`, and optionally `doc` (the
article it was written on) and `paragraph`. `evaluate_qa` indexes the corpus (default
`index/qa-<folder name>`; a second run embeds nothing), asks every chosen question open-domain
over the whole corpus through the `Answerer`, and reports:
- overall: the first quote holds a gold answer, or an unanswerable question is refused;
- has-answer accuracy: of the answerable questions, answered with a first quote holding a
  gold answer (a refusal counts as wrong);
- refusal precision and recall (of the unanswerable questions), false refusals (of the
  answerable ones);
- ROC AUC of `Answer.confidence` for answerable against unanswerable;
- the median answer length in words, and a reliability table: in each confidence bin, the
  share of answers whose first quote holds a gold answer.

The answerer is asked once per question with its refusal threshold lowered out of the way
and the refusal decided here against the real threshold, the same comparison the answerer
makes (`Answer.score < Answerer.threshold`), so that a question refused for a low score
still shows which sentence it would have quoted (the reliability table needs it). Refusals
for other reasons (a word the sources never mention) stay refusals. The confidence is
`Answer.confidence`, the reader's calibrated probability (for an answer without one, its
score clipped to [0, 1], which is no probability: the reliability table shows how far).

`calibrate_qa` sweeps the refusal threshold over the chosen questions' scores the same way
(`rag.evaluation.metrics.sweep`), so a threshold can be chosen on some articles for a stated
false-refusal rate and scored on others.

Does not: train anything (`rag.training`).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import EvalSetError
from .metrics import contains_answer


@dataclass(frozen=True)
class QAItem:
    """A question of a QA folder."""

    id: str
    question: str
    answers: tuple[str, ...]
    unanswerable: bool
    doc: str
    paragraph: int


def read_qa_folder(folder: str | Path) -> tuple[Path, list[QAItem]]:
    """The corpus folder and the questions of a QA folder, checked line by line."""
    folder = Path(folder)
    corpus, questions = folder / "corpus", folder / "questions.jsonl"
    if not corpus.is_dir() or not questions.is_file():
        raise EvalSetError(f"{folder} is not a QA folder: it needs corpus/ and questions.jsonl "
                           "(the format of ../shared/benchmarks/squad2)")
    return corpus, list(_qa_items(questions))


def _qa_items(path: Path) -> Iterator[QAItem]:
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
            item = QAItem(str(r["id"]), str(r["question"]), tuple(map(str, r.get("answers") or ())),
                          bool(r["unanswerable"]), str(r.get("doc", "")),
                          int(r.get("paragraph", -1)))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise EvalSetError(f"{path}:{n}: not a QA question ({e}); each line needs id, "
                               "question, answers and unanswerable") from e
        if not item.unanswerable and not item.answers:
            raise EvalSetError(f"{path}:{n}: an answerable question needs answers; give them, "
                               "or mark it unanswerable")
        yield item


def pick(items: list[QAItem], *, articles: tuple[str, ...] = (), sample: int | None = None,
         seed: int = 7) -> list[QAItem]:
    """The questions of `articles` (file names, with or without .txt; all when empty), then a
    seeded sample of `sample` of them (all when None), in file order."""
    if articles:
        wanted = {a if a.endswith(".txt") else f"{a}.txt" for a in articles}
        known = {i.doc for i in items}
        unknown = sorted(wanted - known)
        if unknown:
            raise EvalSetError(f"no questions on {', '.join(unknown)}; the articles are: "
                               f"{', '.join(sorted(known))}")
        items = [i for i in items if i.doc in wanted]
    if sample is not None and sample < len(items):
        chosen = set(random.Random(seed).sample(range(len(items)), sample))
        items = [item for n, item in enumerate(items) if n in chosen]
    return items


@dataclass(frozen=True)
class QAResult:
    """One question as answered."""

    id: str
    answerable: bool
    refused: bool
    hit: bool  # the first quote (shown or, when refused for low confidence, withheld) holds gold
    confidence: float
    words: int  # of the answer's quotes; 0 when refused


@dataclass(frozen=True)
class QAReport:
    name: str
    questions: int
    articles: tuple[str, ...]
    sample: int | None
    threshold: float
    figures: dict
    reliability: tuple[dict, ...]
    index_dir: str
    seconds: float
    reader: str = "cheap"  # "learned" refuses by the confidence, "cheap" by its score

    @property
    def threshold_on(self) -> str:
        """What the threshold is compared with."""
        return "confidence" if self.reader == "learned" else "score"


def evaluate_qa(folder: str | Path, answerer, *, articles: tuple[str, ...] = (),
                sample: int | None = None, seed: int = 7, progress: bool = False) -> QAReport:
    """Ask the chosen questions of the QA `folder` with `answerer` (over an index of the
    folder's corpus) and score them (see the module docstring)."""
    folder = Path(folder)
    threshold = answerer.threshold
    started = time.perf_counter()
    results = [judged(item, answer, threshold) for item, answer in answered(
        folder, answerer, articles=articles, sample=sample, seed=seed, progress=progress)]
    return QAReport(folder.name, len(results), tuple(articles), sample, round(threshold, 4),
                    score(results), tuple(reliability(results)),
                    str(getattr(answerer.retriever.store, "path", "")),
                    round(time.perf_counter() - started, 1), answerer.config.reader)


def calibrate_qa(folder: str | Path, answerer, *, articles: tuple[str, ...] = (),
                 sample: int | None = None, seed: int = 7, progress: bool = False,
                 max_false_refusals: float = 0.10):
    """The refusal threshold swept over the chosen questions of the QA `folder`, with the
    one recommended for at most `max_false_refusals` of the answerable ones refused."""
    from .metrics import sweep

    pairs = answered(folder, answerer, articles=articles, sample=sample, seed=seed,
                     progress=progress)
    return sweep([a.score for _, a in pairs], [a.refused for _, a in pairs],
                 [not item.unanswerable for item, _ in pairs], current=answerer.threshold,
                 max_false_refusals=max_false_refusals)


def answered(folder: str | Path, answerer, *, articles: tuple[str, ...] = (),
             sample: int | None = None, seed: int = 7, progress: bool = False) -> list[tuple]:
    """(item, answer) for the chosen questions of the QA `folder`, each asked once with the
    refusal threshold out of the way, so that any threshold can judge them (`judged`)."""
    from ..answering.answer import Answerer

    _, items = read_qa_folder(folder)
    chosen = pick(items, articles=articles, sample=sample, seed=seed)
    ask = Answerer(answerer.retriever, config=replace(answerer.config, threshold=float("-inf")))
    return [(item, ask.ask(item.question)) for item in _bar(chosen, progress)]


def qa_index(folder: str | Path, *, index_dir: str | Path | None = None, progress: bool = False):
    """Index the QA folder's corpus (default `index/qa-<name>`); returns the index directory."""
    from ..indexing.build import build_index, default_index_dir

    corpus, _ = read_qa_folder(folder)
    index_dir = Path(index_dir or default_index_dir().parent / f"qa-{Path(folder).name}")
    build_index([corpus], index_dir=index_dir, progress=progress)
    return index_dir


def judged(item: QAItem, answer, threshold: float) -> QAResult:
    """`answer` to `item` judged as if refused under `threshold` (see the module docstring)."""
    quotes = [c.quote for c in answer.citations]
    refused = answer.refused or answer.score < threshold
    hit = bool(quotes) and not item.unanswerable and contains_answer(quotes[0], item.answers)
    confidence = answer.confidence if answer.confidence is not None \
        else min(max(float(answer.score), 0.0), 1.0)
    return QAResult(item.id, not item.unanswerable, refused, hit, confidence,
                    0 if refused else sum(len(q.split()) for q in quotes))


def score(results: list[QAResult]) -> dict:
    """Overall, has-answer accuracy, refusal precision and recall, false refusals, AUC and the
    median answer length of `results`."""
    answerable = np.array([r.answerable for r in results], dtype=bool)
    refused = np.array([r.refused for r in results], dtype=bool)
    hit = np.array([r.hit for r in results], dtype=bool)
    right = np.where(answerable, hit & ~refused, refused)
    words = [r.words for r in results if not r.refused]
    return {
        "overall": _mean(right), "has_answer_accuracy": _mean((hit & ~refused)[answerable]),
        "refusal_precision": _mean(~answerable[refused]),
        "refusal_recall": _mean(refused[~answerable]),
        "false_refusals": _mean(refused[answerable]),
        "auc": auc([r.confidence for r in results], answerable),
        "median_words": float(np.median(words)) if words else None,
        "answerable": int(answerable.sum()), "unanswerable": int((~answerable).sum()),
    }


def auc(scores, labels) -> float | None:
    """ROC AUC of `scores` for the positive `labels`, or None with one class only."""
    from sklearn.metrics import roc_auc_score

    labels = np.asarray(labels, dtype=bool)
    if labels.all() or not labels.any():
        return None
    return round(float(roc_auc_score(labels, np.asarray(scores, dtype=float))), 4)


def reliability(results: list[QAResult], bins: int = 10) -> list[dict]:
    """Per confidence bin: how many answers, their mean confidence, and the share whose
    first quote holds a gold answer (what the confidence claims to predict)."""
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [r for r in results
                  if lo <= r.confidence < hi or (b == bins - 1 and r.confidence == 1.0)]
        if inside:
            out.append({"low": lo, "high": hi, "n": len(inside),
                        "confidence": _mean([r.confidence for r in inside]),
                        "right": _mean([r.hit for r in inside])})
    return out


def _mean(values) -> float | None:
    values = np.asarray(values, dtype=float)
    return round(float(values.mean()), 4) if values.size else None


def _bar(items, progress: bool):
    if not progress:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="questions", unit="q", leave=False)


DEFAULT_QA_BASELINE = Path("eval/baseline-squad2.json")
QA_GATE = {"overall": ("higher", 0.02), "has_answer_accuracy": ("higher", 0.03),
           "refusal_recall": ("higher", 0.03), "false_refusals": ("lower", 0.03),
           "auc": ("higher", 0.02)}


def write_qa_baseline(report: QAReport, path: str | Path = DEFAULT_QA_BASELINE) -> Path:
    """Accept `report`'s figures (and the questions it ran: folder, articles, sample) as the
    baseline that `rag eval --qa DIR --check` compares with."""
    path = Path(path)
    data = {"about": "Accepted figures of `rag eval --qa`; `--check` runs the same questions "
                     "and fails when a metric is worse by more than its tolerance. Change them "
                     "only with `rag eval --qa DIR --update-baseline`.",
            "set": report.name, "questions": report.questions, "articles": list(report.articles),
            "sample": report.sample, "threshold": report.threshold,
            "metrics": {name: {"value": report.figures[name], "better": better, "tolerance": tol}
                        for name, (better, tol) in QA_GATE.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return path
