"""RealTimeQA 2023 as a news-at-scale benchmark (issue 16): build the set, then score it.

`python -m bench.realtimeqa build SRC OUT [--weeks N] [--exclude SET]` reads a fetched copy of the public
repository realtimeqa/realtimeqa_public, folder `past/2023/` (SRC), and writes to OUT:
- `corpus.jsonl`: every `search_result` article of the chosen weeks' `*_gcs.jsonl`, once per
  URL, as verbatim's JSONL (`id`, `title`, `text`, `url`, `date`);
- `questions.jsonl`: the weeks' `*_qa.jsonl` items (`question_sentence`, `choices`, `answer`
  as the right choice's text, `question_date`);
- `nota.jsonl`: the `*_qa_nota.jsonl` variants, where the right choice became "none of the
  above" (the answer should name none of the other choices).
Only files named 2023* are read: RealTimeQA 2022 is kept aside for independent checks. The
article texts are news under copyright: OUT is for local runs, never for the repository.

`python -m bench.realtimeqa run OUT [--index DIR] [-k 5] [--out FILE] [--as-of-question-date]
[--model NAME] [--chunk-tokens N]`
indexes the corpus (once; default `index/rtqa-<OUT name>`), asks every question (with the
flag, as of its own date: `rag search --as-of`), and reports:
- answer recall@1/5/10: a retrieved passage in the top k holds the right choice
  (normalized as SQuAD does);
- answer accuracy: the answer holds it (and the first quote, separately);
- on the "none of the above" variants, the share of answers naming none of the wrong choices;
- where the corpus holds each right choice (`answer_in_corpus`): in an article of the
  question's week, only in articles of other days, or nowhere, with the share of questions and
  the answer recall@5 of each: the bound on what any retrieval can find.
There is no gold article, so no document metric.

Does not: fetch anything (use the fetch tool or `git clone`), or train.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import print_report

NOTA = "none of the above"


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    choices: tuple[str, ...]
    answer: str
    date: str
    week: str


def weeks_in(src: Path) -> list[str]:
    """The 2023 weeks (YYYYMMDD) that have both questions and search results."""
    qa = {p.name[:8] for p in src.glob("2023????_qa.jsonl")}
    gcs = {p.name[:8] for p in src.glob("2023????_gcs.jsonl")}
    return sorted(qa & gcs)


def pick_weeks(weeks: list[str], n: int | None) -> list[str]:
    """`n` weeks spread evenly over the year (all when None)."""
    if n is None or n >= len(weeks):
        return weeks
    step = len(weeks) / n
    return [weeks[int(i * step)] for i in range(n)]


def _lines(path: Path):
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


def _question(r: dict, week: str) -> Question:
    choices = tuple(str(c) for c in r["choices"])
    right = choices[int(r["answer"][0])]
    return Question(str(r["question_id"]), str(r["question_sentence"]), choices, right,
                    str(r.get("question_date", "")).replace("/", "-"), week)


def build(src: Path, out: Path, *, weeks: int | None = None,
          exclude: Path | None = None) -> dict:
    """Write corpus.jsonl, questions.jsonl and nota.jsonl for the chosen weeks (none of the
    weeks of the set in `exclude`, to check a setting on weeks it was not chosen on)."""
    taken = {q.week for q in read_questions(exclude / "questions.jsonl")} if exclude else set()
    chosen = pick_weeks([w for w in weeks_in(src) if w not in taken], weeks)
    if not chosen:
        raise SystemExit(f"error: no 2023????_qa.jsonl with its _gcs.jsonl in {src}; give the "
                         "past/2023 folder of realtimeqa/realtimeqa_public")
    out.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    articles = questions = nota = 0
    with open(out / "corpus.jsonl", "w", encoding="utf-8") as corpus, \
            open(out / "questions.jsonl", "w", encoding="utf-8") as qs, \
            open(out / "nota.jsonl", "w", encoding="utf-8") as ns:
        for week in chosen:
            for r in _lines(src / f"{week}_gcs.jsonl"):
                for a in r.get("search_result") or ():
                    url, text = a.get("url") or "", (a.get("text") or "").strip()
                    if not text or url in seen:
                        continue
                    seen.add(url)
                    corpus.write(json.dumps(_article(a, url, text), ensure_ascii=False) + "\n")
                    articles += 1
            for r in _lines(src / f"{week}_qa.jsonl"):
                qs.write(json.dumps(_question(r, week).__dict__, ensure_ascii=False) + "\n")
                questions += 1
            nota_file = src / f"{week}_qa_nota.jsonl"
            for r in _lines(nota_file) if nota_file.exists() else ():
                ns.write(json.dumps(_question(r, week).__dict__, ensure_ascii=False) + "\n")
                nota += 1
    return {"weeks": len(chosen), "first": chosen[0], "last": chosen[-1], "articles": articles,
            "questions": questions, "nota": nota}


def _article(a: dict, url: str, text: str) -> dict:
    date = (a.get("publish_date") or "").replace("/", "-")[:10] or None
    return {"id": "rtqa-" + hashlib.sha1(url.encode()).hexdigest()[:12],
            "title": (a.get("title") or "").strip() or None, "text": text, "url": url or None,
            "date": date}


def read_questions(path: Path) -> list[Question]:
    return [Question(r["id"], r["question"], tuple(r["choices"]), r["answer"], r["date"],
                     r["week"]) for r in _lines(path)] if path.exists() else []


def where_answers(folder: Path, questions: list[Question],
                  window: tuple[int, int] = (7, 3)) -> dict[str, str]:
    """For each question id, where the corpus holds its right choice (normalized, in an
    article's title or text): "week" (an article dated from `window[0]` days before the
    question's date to `window[1]` after), "other days" (only in articles of other dates),
    or "nowhere". It bounds what any retrieval can find: "nowhere" is out of reach, and an
    "other days" hit is often a mention in an older story."""
    from rag.evaluation.metrics import normalize_answer
    from rag.search.recency import day_of

    articles = [(f" {normalize_answer((a.get('title') or '') + ' . ' + a['text'])} ",
                 day_of(a.get("date"))) for a in _lines(folder / "corpus.jsonl")]
    out = {}
    for q in questions:
        day, said = day_of(q.date), f" {normalize_answer(q.answer)} "
        dates = [d for text, d in articles if said.strip() and said in text]
        near = day is not None and any(d is not None and -window[0] <= (d - day).days <= window[1]
                                       for d in dates)
        out[q.id] = "week" if near else "other days" if dates else "nowhere"
    return out


def _by_where(where: dict[str, str], questions: list[Question], found: list[bool]) -> dict:
    """Per group of `where_answers`: its share of the questions and its answer recall@5."""
    out = {}
    for group in ("week", "other days", "nowhere"):
        hits = [f for q, f in zip(questions, found) if where[q.id] == group]
        out[group] = {"share": round(len(hits) / len(questions), 4) if questions else None,
                      "answer_recall@5": round(sum(hits) / len(hits), 4) if hits else None}
    return out


def score(folder: Path, retriever, *, k: int = 5, dated: bool = False, say=print) -> dict:
    """Answer recall@1/5/10, answer accuracy, first-quote accuracy and the NOTA check. Each
    question is asked on its own date (`asked_on`: one that says "this week" prefers that
    week's articles); with `dated`, every question is read as of it (`as_of`)."""
    from rag.answering.answer import Answerer
    from rag.evaluation.metrics import contains_answer

    answerer = Answerer(retriever)
    recall = {1: [], 5: [], 10: []}
    right, first, started = [], [], time.perf_counter()
    questions = read_questions(folder / "questions.jsonl")
    for n, q in enumerate(questions, start=1):
        day = q.date if dated else None  # without it, still asked on its date
        passages = retriever.search(q.question, k=10, as_of=day, asked_on=q.date)
        for depth, hits in recall.items():
            hits.append(any(contains_answer(p.text, [q.answer]) for p in passages[:depth]))
        answer = answerer.ask(q.question, k=k, as_of=day, asked_on=q.date)
        right.append(not answer.refused and contains_answer(answer.text, [q.answer]))
        first.append(bool(answer.citations) and contains_answer(answer.citations[0].quote,
                                                                [q.answer]))
        if n % 100 == 0:
            say(f"realtimeqa: {n}/{len(questions)} questions, {time.perf_counter() - started:.0f} s")
    avoided = []
    for q in read_questions(folder / "nota.jsonl"):
        wrong = [c for c in q.choices if c.strip().lower() != NOTA]
        answer = answerer.ask(q.question, k=k, as_of=q.date if dated else None, asked_on=q.date)
        avoided.append(answer.refused or not any(contains_answer(answer.text, [c]) for c in wrong))
    mean = lambda xs: round(sum(xs) / len(xs), 4) if xs else None
    where = where_answers(folder, questions, retriever.config.date_window)
    return {"questions": len(questions), "k": k, "as_of_question_date": dated,
            "fusion": retriever.fusion if retriever.config.mode == "hybrid" else None,
            **{f"answer_recall@{d}": mean(h) for d, h in recall.items()},
            "answer_in_corpus": _by_where(where, questions, recall[5]),
            "answer_accuracy": mean(right), "first_quote_accuracy": mean(first),
            "nota_questions": len(avoided), "nota_avoids_wrong_choices": mean(avoided),
            "seconds": round(time.perf_counter() - started, 1)}


def run(folder: Path, *, index_dir: Path | None = None, k: int = 5, dated: bool = False,
        say=print, embedder=None, chunk_tokens: int | None = None) -> dict:
    """Index the corpus (once) and score the questions; the report with timings. `embedder`
    and `chunk_tokens` (the chunker's `max_tokens`) are the settings tried for indexing."""
    from rag.indexing.build import build_index, default_index_dir
    from rag.reading.chunk import ChunkConfig
    from rag.search.retrieve import Retriever

    index_dir = index_dir or default_index_dir().parent / f"rtqa-{folder.name}"
    chunking = ChunkConfig(max_tokens=chunk_tokens) if chunk_tokens else None  # the index's
    started = time.perf_counter()
    report = build_index([folder / "corpus.jsonl"], index_dir=index_dir, embedder=embedder,
                         chunk_config=chunking, progress=say is not None)
    indexed = time.perf_counter() - started
    retriever = Retriever.load(index_dir, embedder=embedder)
    try:
        figures = score(folder, retriever, k=k, dated=dated, say=say)
    finally:
        retriever.store.close()
    return {"set": folder.name, "index": str(index_dir), "documents": report.documents,
            "chunks": report.chunks, "index_seconds": round(indexed, 1), **figures}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.realtimeqa", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="make the set from a fetched past/2023 folder")
    b.add_argument("src", type=Path)
    b.add_argument("out", type=Path)
    b.add_argument("--weeks", type=int, default=None, help="weeks spread over the year (default all)")
    b.add_argument("--exclude", type=Path, default=None,
                   help="leave out the weeks of this built set (for a held-out check)")
    r = sub.add_parser("run", help="index the set's corpus and score its questions")
    r.add_argument("folder", type=Path)
    r.add_argument("--index", type=Path, default=None)
    r.add_argument("-k", type=int, default=5)
    r.add_argument("--out", type=Path, default=None, help="also write the report here (JSON)")
    r.add_argument("--as-of-question-date", action="store_true",
                   help="ask each question as of its date (its week's articles first)")
    r.add_argument("--model", default=None, help="embedding model to index with (default: "
                   "the index's own, else what `rag index` picks for the collection's size: "
                   "all-MiniLM-L6-v2-int8 from 20 million characters, else all-MiniLM-L6-v2)")
    r.add_argument("--chunk-tokens", type=int, default=None,
                   help="chunk size in tiktoken tokens (default: the index's own, else 200 "
                   "from 20 million characters, else 128)")
    args = ap.parse_args(argv)
    if args.command == "build":
        print(json.dumps(build(args.src, args.out, weeks=args.weeks, exclude=args.exclude)))
        return 0
    from rag.indexing.embed import get_embedder

    report = run(args.folder, index_dir=args.index, k=args.k, dated=args.as_of_question_date,
                 say=lambda t: print(t, file=sys.stderr, flush=True),
                 embedder=get_embedder(args.model) if args.model else None,
                 chunk_tokens=args.chunk_tokens)
    return print_report(report, args.out)


if __name__ == "__main__":
    sys.exit(main())
