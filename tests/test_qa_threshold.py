"""bench.qa_threshold: the refusal threshold chosen on other articles, on known answers."""

from __future__ import annotations

import json
from types import SimpleNamespace

from conftest import FakeEmbedder

from bench.qa_threshold import crossval, main, run
from rag.evaluation.qa import QAItem
from rag.indexing.build import build_index


def asked(doc: str, i: int, score: float, *, unanswerable: bool, refused: bool = False):
    item = QAItem(f"{doc}{i}", f"q{i}?", () if unanswerable else ("forty",), unanswerable, doc, 0)
    quote = SimpleNamespace(quote="Wardens counted forty seals.")
    return item, SimpleNamespace(score=score, refused=refused, citations=(quote,), confidence=0.5)


KNOWN = [asked("A", 0, 0.9, unanswerable=False), asked("A", 1, 0.2, unanswerable=True),
         asked("B", 0, 0.8, unanswerable=False), asked("B", 1, 0.3, unanswerable=True)]


def test_each_article_is_judged_with_a_threshold_chosen_on_the_other():
    report = crossval(KNOWN, folds=2, false_refusals=0.0, own=0.1)
    by_fold = {tuple(f["articles"]): f for f in report["folds"]}
    assert set(by_fold) == {("A",), ("B",)}
    assert 0.3 <= by_fold[("A",)]["threshold"] <= 0.8  # from B: refuses 0.3, answers 0.8
    assert 0.2 <= by_fold[("B",)]["threshold"] <= 0.9  # from A
    assert report["whole_set"]["overall"] == 1.0
    assert report["whole_set_own_threshold"]["overall"] == 0.5  # 0.1 refuses nothing
    assert report["whole_set"]["answerable"] == 2 and report["whole_set"]["unanswerable"] == 2


def test_no_qualifying_threshold_keeps_the_readers_own():
    # A's answerable question is refused by another rule: no threshold refuses none of A's
    ruled = [asked("A", 0, 0.9, unanswerable=False, refused=True), *KNOWN[1:]]
    report = crossval(ruled, folds=2, false_refusals=0.0, own=0.1)
    b = next(f for f in report["folds"] if f["articles"] == ["B"])
    assert (b["recommended"], b["threshold"]) == (False, 0.1)
    a = next(f for f in report["folds"] if f["articles"] == ["A"])
    assert a["recommended"] is True and a["false_refusals"] == 1.0


def test_a_tiny_folder_runs_end_to_end(tmp_path, capsys):
    folder = tmp_path / "qa"
    (folder / "corpus").mkdir(parents=True)
    for name, text in {"Seals.txt": "Seals\n\nWardens counted forty seals on Sunday.",
                       "Chess.txt": "Chess\n\nA grandmaster won the chess final."}.items():
        (folder / "corpus" / name).write_text(text, encoding="utf-8")
    lines = [{"id": "a", "question": "How many seals did wardens count?", "answers": ["forty"],
              "unanswerable": False, "doc": "Seals.txt"},
             {"id": "b", "question": "How many walruses did wardens count?", "answers": [],
              "unanswerable": True, "doc": "Seals.txt"},
             {"id": "c", "question": "Who won the chess final?", "answers": ["grandmaster"],
              "unanswerable": False, "doc": "Chess.txt"}]
    (folder / "questions.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    build_index([folder / "corpus"], index_dir=tmp_path / "i", embedder=FakeEmbedder())
    report = run(folder, index_dir=tmp_path / "i", embedder=FakeEmbedder(), folds=2)
    assert report["questions"] == 3 and len(report["folds"]) == 2
    assert sorted(a for f in report["folds"] for a in f["articles"]) == ["Chess.txt", "Seals.txt"]
    assert main([str(tmp_path / "nothing")]) == 1
    assert "needs corpus/ and questions.jsonl" in capsys.readouterr().err
