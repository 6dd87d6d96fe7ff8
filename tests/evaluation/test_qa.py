"""`rag eval --qa DIR`: the QA-folder format, the figures on known answers, the report, the gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rag.indexing.build
import rag.indexing.embed
import rag.search.retrieve
from rag.cli import main
from rag.errors import EvalSetError
from rag.evaluation.qa import QAResult, auc, pick, read_qa_folder, reliability, score

SQUAD2_HALF = Path(__file__).resolve().parents[2] / "rag" / "training" / "data" / "squad2-half"


@pytest.fixture
def fake_model(monkeypatch, fake_embedder):
    for module in (rag.indexing.build, rag.search.retrieve, rag.indexing.embed):
        monkeypatch.setattr(module, "get_embedder", lambda model=None: fake_embedder)
    return fake_embedder


def qa_folder(root: Path, lines: list[dict | str], articles: dict[str, str] | None = None) -> Path:
    (root / "corpus").mkdir(parents=True)
    for name, text in (articles or {"Seals.txt": "Seals\n\nWardens counted forty seals."}).items():
        (root / "corpus" / name).write_text(text, encoding="utf-8")
    (root / "questions.jsonl").write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
        encoding="utf-8")
    return root


def q(i: int, doc: str = "Seals.txt", *, answers=("forty",), unanswerable=False) -> dict:
    return {"id": f"q{i}", "question": f"How many seals {i}?", "answers": list(answers),
            "unanswerable": unanswerable, "doc": doc}


def test_the_shared_squad2_half_reads_as_a_qa_folder():
    corpus, items = read_qa_folder(SQUAD2_HALF)
    assert len(items) == 2828 and sum(i.unanswerable for i in items) == 1529
    assert len(list(corpus.glob("*.txt"))) == 8
    assert all(i.answers for i in items if not i.unanswerable)


@pytest.mark.parametrize("lines, words", [
    (["{not json"], "not a QA question"),
    ([{"id": "1", "question": "Q?"}], "needs id, question, answers and unanswerable"),
    ([{"id": "1", "question": "Q?", "answers": [], "unanswerable": False}],
     "an answerable question needs answers"),
])
def test_a_bad_line_is_named_with_its_number(tmp_path, lines, words):
    folder = qa_folder(tmp_path / "qa", [q(0), *lines])
    with pytest.raises(EvalSetError, match=r"questions.jsonl:2: .*" + words):
        read_qa_folder(folder)


def test_a_folder_without_corpus_or_questions_says_what_it_needs(tmp_path):
    with pytest.raises(EvalSetError, match="needs corpus/ and questions.jsonl"):
        read_qa_folder(tmp_path)


def test_pick_by_article_and_a_seeded_sample(tmp_path):
    _, items = read_qa_folder(qa_folder(tmp_path / "qa", [q(i, "A.txt" if i % 2 else "B.txt")
                                                          for i in range(20)],
                                        {"A.txt": "A\n\nx.", "B.txt": "B\n\ny."}))
    assert {i.doc for i in pick(items, articles=("A",))} == {"A.txt"}
    first, again = pick(items, sample=5, seed=3), pick(items, sample=5, seed=3)
    assert first == again and len(first) == 5
    assert [i.id for i in first] == sorted((i.id for i in first), key=lambda x: int(x[1:]))
    with pytest.raises(EvalSetError, match="no questions on C.txt; the articles are: A.txt, B.txt"):
        pick(items, articles=("C.txt",))


def r(answerable: bool, refused: bool, hit: bool, confidence: float = 0.5, words: int = 9):
    return QAResult("x", answerable, refused, hit, confidence, 0 if refused else words)


def test_the_figures_on_known_answers():
    results = [r(True, False, True, 0.9), r(True, False, False, 0.6), r(True, True, True, 0.2),
               r(False, True, False, 0.1), r(False, False, False, 0.7)]
    f = score(results)
    approx = lambda x: pytest.approx(x, abs=1e-4)
    assert f["overall"] == approx(2 / 5)  # one right answer, one right refusal
    assert f["has_answer_accuracy"] == approx(1 / 3)
    assert f["refusal_recall"] == approx(1 / 2)
    assert f["refusal_precision"] == approx(1 / 2)
    assert f["false_refusals"] == approx(1 / 3)
    assert f["auc"] == approx(4 / 6)  # answerable 0.9, 0.6, 0.2 against 0.1, 0.7
    assert f["median_words"] == 9 and (f["answerable"], f["unanswerable"]) == (3, 2)


def test_auc_needs_both_kinds():
    assert auc([0.1, 0.9], [True, True]) is None


@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans(),
                          st.floats(0, 1)), min_size=1, max_size=40))
def test_reliability_bins_hold_every_answer_once(rows):
    results = [r(a, ref, h, c) for a, ref, h, c in rows]
    bins = reliability(results)
    assert sum(b["n"] for b in bins) == len(results)
    for b in bins:
        assert b["low"] <= b["confidence"] <= b["high"] and 0 <= b["right"] <= 1


def test_rag_eval_qa_on_a_tiny_folder_reports_and_gates(tmp_path, fake_model, capsys):
    articles = {"Seals.txt": "Harbour seals\n\nWardens counted forty harbour seals on the "
                             "sandbank at low tide on Sunday.\n",
                "Chess.txt": "Chess final\n\nA fifteen-year-old grandmaster won the national "
                             "chess championship on Sunday.\n"}
    folder = qa_folder(tmp_path / "qa", [
        {"id": "a", "question": "How many harbour seals did the wardens count?",
         "answers": ["forty"], "unanswerable": False, "doc": "Seals.txt"},
        {"id": "b", "question": "Who won the national chess championship?",
         "answers": ["A fifteen-year-old grandmaster"], "unanswerable": False, "doc": "Chess.txt"},
        {"id": "c", "question": "How many walruses did the wardens count?", "answers": [],
         "unanswerable": True, "doc": "Seals.txt"}], articles)
    common = ["eval", "--qa", str(folder), "--index", str(tmp_path / "i"), "--reports",
              str(tmp_path / "r"), "--baseline", str(tmp_path / "b.json")]
    assert main([*common, "--update-baseline", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["questions"] == 3 and set(out["figures"]) >= {"overall", "auc", "false_refusals"}
    assert Path(out["chart"]).stat().st_size > 0 and "Reliability" in Path(out["report"]).read_text()
    assert main([*common, "--check"]) == 0
    assert "check passed" in capsys.readouterr().err
    baseline = json.loads((tmp_path / "b.json").read_text())
    baseline["metrics"]["overall"]["value"] = 1.5  # a figure no run can reach
    (tmp_path / "b.json").write_text(json.dumps(baseline))
    assert main([*common, "--check"]) == 1
    assert "regression: overall" in capsys.readouterr().err


def test_rag_eval_qa_calibrate_sweeps_the_chosen_articles_only(tmp_path, fake_model, capsys):
    articles = {"Seals.txt": "Harbour seals\n\nWardens counted forty harbour seals on the "
                             "sandbank at low tide on Sunday.\n",
                "Chess.txt": "Chess final\n\nA grandmaster won the chess final on Sunday.\n"}
    folder = qa_folder(tmp_path / "qa", [
        {"id": "a", "question": "How many harbour seals did the wardens count?",
         "answers": ["forty"], "unanswerable": False, "doc": "Seals.txt"},
        {"id": "b", "question": "Who won the chess final?", "answers": ["A grandmaster"],
         "unanswerable": False, "doc": "Chess.txt"},
        {"id": "c", "question": "How many walruses did the wardens count?", "answers": [],
         "unanswerable": True, "doc": "Seals.txt"}], articles)
    common = ["eval", "--qa", str(folder), "--index", str(tmp_path / "i"), "--calibrate"]
    assert main([*common, "--articles", "Seals.txt", "--false-refusals", "0.5", "--json"]) == 0
    cal = json.loads(capsys.readouterr().out)
    refused = [row["refused"] for row in cal["rows"]]
    assert refused == sorted(refused) and refused[-1] == 2  # the 2 questions on Seals.txt
    assert cal["max_false_refusals"] == 0.5
    chosen = [r for r in cal["rows"] if r["low"] <= cal["recommended"] <= r["high"]]
    assert len(chosen) == 1 and chosen[0]["false_refusal_rate"] <= 0.5
    assert main([*common]) == 0  # all 3 questions; 10% of 2 answerable ones is none
    out = capsys.readouterr().out
    assert "threshold  refused" in out and "no threshold keeps false refusals at or under 10%" in out
    assert "allow more with --false-refusals" in out
    assert main([*common, "--articles", "Seals.txt", "--false-refusals", "0.5"]) == 0
    out = capsys.readouterr().out
    assert f"apply it with --threshold {cal['recommended']:.2f}" in out
    assert main([*common, "--false-refusals", "1.5"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--false-refusals is a share" in err[0]


def test_rag_eval_qa_on_a_bad_folder_is_one_line(tmp_path, capsys):
    assert main(["eval", "--qa", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs corpus/ and questions.jsonl" in err[0]


@pytest.mark.parametrize("reader, on", [("cheap", "score"), ("learned", "confidence")])
def test_the_report_says_what_the_threshold_is_compared_with(tmp_path, reader, on):
    from rag.evaluation.qa import QAReport
    from rag.evaluation.qa_report import qa_summary, write_qa_report

    results = [r(True, False, True, 0.8), r(False, True, False, 0.2)]
    report = QAReport("tiny", 2, (), None, 0.42, {**score(results), "answerable": 1,
                                                 "unanswerable": 1},
                      tuple(reliability(results)), "", 0.1, reader)
    assert report.threshold_on == on
    assert f"{reader} reader, threshold 0.420 on the {on}" in qa_summary(report)
    md, png = write_qa_report(report, tmp_path)
    assert png.stat().st_size > 0 and "threshold 0.420" in md.read_text(encoding="utf-8")
