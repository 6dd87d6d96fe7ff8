"""SQuAD-format data for training and scoring the reader.

Two shapes are read:
- a paragraph file (`*.jsonl.gz`): one paragraph a line, `{"article", "context", "qas":
  [{"question", "answers": [{"text", "start"}]}]}`; the committed SQuAD 1.1 train sample is
  one (`sample_squad11` made it from the official JSON);
- a QA folder in the format of `../shared/benchmarks/squad2` is read by
  `rag.evaluation.qa.read_qa_folder` (`rag eval --qa` reads it too); `squad_to_folder`
  writes one from an official-format SQuAD 2.0 JSON (the train split, for `--also`).

Does not: tokenize, or decide what a training pair is (`rag.training.pairs`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
SQUAD11_SAMPLE = DATA / "squad11-train-sample.jsonl.gz"
SQUAD2_HALF = DATA / "squad2-half"
SQUAD2_TRAIN_SLICE = DATA / "squad2-train-slice"


@dataclass(frozen=True)
class Question:
    """A question on a paragraph: answers as (text, start) in the paragraph (none: unanswerable)."""

    question: str
    answers: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class Paragraph:
    article: str
    context: str
    questions: tuple[Question, ...]


def read_paragraphs(path: str | Path) -> list[Paragraph]:
    """The paragraphs of a paragraph file (gzip or plain JSONL)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    out = []
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                qs = tuple(Question(q["question"], tuple((a["text"], a["start"])
                                                         for a in q["answers"]))
                           for q in r["qas"])
                out.append(Paragraph(r["article"], r["context"], qs))
    return out


def sample_squad11(source: str | Path, out: str | Path, *, questions: int = 12_000,
                   seed: int = 7) -> int:
    """Write a paragraph file of `questions` questions drawn at random (seeded) from an
    official-format SQuAD 1.1 JSON; returns how many paragraphs it holds."""
    data = json.loads(Path(source).read_text(encoding="utf-8"))["data"]
    every = [(ai, pi, qi) for ai, art in enumerate(data) for pi, p in enumerate(art["paragraphs"])
             for qi in range(len(p["qas"]))]
    chosen = sorted(random.Random(seed).sample(every, min(questions, len(every))))
    by_paragraph: dict[tuple[int, int], list[int]] = {}
    for ai, pi, qi in chosen:
        by_paragraph.setdefault((ai, pi), []).append(qi)
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as f:
        for (ai, pi), qis in by_paragraph.items():
            p = data[ai]["paragraphs"][pi]
            qas = [{"question": p["qas"][qi]["question"],
                    "answers": [{"text": a["text"], "start": a["answer_start"]}
                                for a in p["qas"][qi]["answers"]]} for qi in qis]
            record = {"article": data[ai]["title"], "context": p["context"], "qas": qas}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(by_paragraph)


def squad_to_folder(source: str | Path, out: str | Path, *,
                    titles: tuple[str, ...] = ()) -> tuple[int, int]:
    """Write a QA folder (`corpus/` and `questions.jsonl`) from an official-format SQuAD 2.0
    JSON, of the articles named in `titles` (all when empty); returns (questions,
    unanswerable). Each article becomes `corpus/<title>.txt`: its title, then its paragraphs
    separated by blank lines."""
    data = json.loads(Path(source).read_text(encoding="utf-8"))["data"]
    unknown = sorted(set(titles) - {a["title"] for a in data})
    if unknown:
        raise ValueError(f"no article {', '.join(unknown)} in {source}; the articles are: "
                         f"{', '.join(a['title'] for a in data)}")
    out = Path(out)
    (out / "corpus").mkdir(parents=True, exist_ok=True)
    rows = []
    for article in (a for a in data if not titles or a["title"] in titles):
        name = re.sub(r"(?:[^\w.-]|_)+", "_", article["title"]).strip("_") + ".txt"
        paragraphs = [p["context"].strip() for p in article["paragraphs"]]
        (out / "corpus" / name).write_text(
            "\n\n".join([article["title"].replace("_", " "), *paragraphs]) + "\n",
            encoding="utf-8")
        rows += [{"id": q["id"], "question": q["question"],
                  "answers": list(dict.fromkeys(a["text"] for a in q["answers"])),
                  "unanswerable": bool(q.get("is_impossible")), "doc": name, "paragraph": n}
                 for n, p in enumerate(article["paragraphs"]) for q in p["qas"]]
    (out / "questions.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows), sum(r["unanswerable"] for r in rows)


def folder_key(folder: Path, *settings) -> str:
    """A short hash of every file of `folder` (names and bytes) and `settings`: a cache key."""
    digest = hashlib.sha256("|".join(map(str, settings)).encode())
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def first_per_article(items, n: int) -> list:
    """The first `n` questions of each article (`item.doc`), in order."""
    seen: dict[str, int] = {}
    out = []
    for item in items:
        seen[item.doc] = seen.get(item.doc, 0) + 1
        if seen[item.doc] <= n:
            out.append(item)
    return out


def folds(articles: list[str], n: int = 4, *, seed: int = 7) -> list[list[str]]:
    """`articles` split into `n` folds of whole articles, seeded."""
    order = sorted(articles)
    random.Random(seed).shuffle(order)
    return [sorted(order[i::n]) for i in range(n)]
