"""The RealTimeQA benchmark on a synthetic stand-in of the same shape (no news texts in CI).

Two 2023 weeks of `*_gcs.jsonl`, `*_qa.jsonl` and `*_qa_nota.jsonl` made up here, plus a 2022
week that must never be read; built into a set and scored with the fake embedder.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import FakeEmbedder

from bench.realtimeqa import (
    NOTA,
    Question,
    build,
    pick_weeks,
    read_questions,
    run,
    weeks_in,
    where_answers,
)

FACTS = {  # week -> [(question, right choice, wrong choices, the article's sentence)]
    "20230106": [
        ("Which team does the quarterback Zorbin Quill play for?", "Vantor Owls",
         ["Melk Rams", "Tosh Hawks", "Pell Bears"],
         "The quarterback Zorbin Quill led the Vantor Owls to a narrow win on Sunday."),
        ("Which city hosted the glassblowing summit this week?", "Brellport",
         ["Dunmoor", "Kestwick", "Ashvale"],
         "The glassblowing summit opened in Brellport on Tuesday with 400 artisans."),
    ],
    "20230113": [
        ("Which company recalled its robotic lawnmowers?", "Griddle Dynamics",
         ["Fenwick Labs", "Ostra Motors", "Pallow Inc"],
         "Griddle Dynamics recalled 80,000 robotic lawnmowers after reports of fires."),
    ],
}


def write_week(src: Path, week: str, facts, *, year_ok: bool = True) -> None:
    gcs, qa, nota = [], [], []
    for i, (question, right, wrong, sentence) in enumerate(facts):
        qid = f"{week}_{i}"
        choices = [wrong[0], right, *wrong[1:]]
        article = {"url": f"https://news.example/{qid}", "title": f"Report {qid}",
                   "text": f"{sentence} Officials said more details would follow later.",
                   "authors": [], "publish_date": f"{week[:4]}/{week[4:6]}/{week[6:]}"}
        filler = {"url": "https://news.example/weather", "title": "Weather",  # shared by all
                  "text": "Rain is expected across the region through the weekend.",
                  "authors": [], "publish_date": f"{week[:4]}/{week[4:6]}/{week[6:]}"}
        gcs.append({"question_id": qid, "search_time": "x", "search_result": [article, filler]})
        base = {"question_id": qid, "question_date": f"{week[:4]}/{week[4:6]}/{week[6:]}",
                "question_sentence": question}
        qa.append({**base, "choices": choices, "answer": ["1"]})
        nota.append({**base, "choices": [wrong[0], "None of the above", *wrong[1:]],
                     "answer": ["1"]})
    for name, rows in (("gcs", gcs), ("qa", qa), ("qa_nota", nota)):
        (src / f"{week}_{name}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def stand_in(tmp_path: Path) -> Path:
    src = tmp_path / "past" / "2023"
    src.mkdir(parents=True)
    for week, facts in FACTS.items():
        write_week(src, week, facts)
    write_week(src, "20221230", FACTS["20230106"])  # 2022: kept aside, never read
    return src


def test_the_set_holds_the_2023_weeks_only_with_each_article_once(tmp_path):
    src = stand_in(tmp_path)
    assert weeks_in(src) == ["20230106", "20230113"]
    summary = build(src, tmp_path / "set")
    assert summary == {"weeks": 2, "first": "20230106", "last": "20230113", "articles": 4,
                       "questions": 3, "nota": 3}
    questions = read_questions(tmp_path / "set" / "questions.jsonl")
    assert [q.answer for q in questions] == ["Vantor Owls", "Brellport", "Griddle Dynamics"]
    assert all(q.date.startswith("2023-") for q in questions)
    corpus = [json.loads(x) for x in (tmp_path / "set" / "corpus.jsonl").read_text().splitlines()]
    assert len({a["url"] for a in corpus}) == 4 and all(a["date"].startswith("2023-") for a in corpus)
    assert all(NOTA in (c.lower() for c in q.choices)
               for q in read_questions(tmp_path / "set" / "nota.jsonl"))


def test_weeks_are_spread_over_the_year():
    weeks = [f"w{i:02d}" for i in range(51)]
    assert pick_weeks(weeks, 3) == ["w00", "w17", "w34"]
    assert pick_weeks(weeks, None) == weeks and pick_weeks(weeks, 99) == weeks


def test_the_stand_in_is_indexed_and_scored(tmp_path):
    src = stand_in(tmp_path)
    build(src, tmp_path / "set")
    report = run(tmp_path / "set", index_dir=tmp_path / "index", embedder=FakeEmbedder(),
                 say=lambda _: None)
    assert report["questions"] == 3 and report["nota_questions"] == 3
    assert report["documents"] == 4
    assert report["fusion"] == "rrf"  # a small collection
    assert report["answer_recall@10"] == 1.0  # each answer's article shares the question's words
    assert report["answer_recall@1"] <= report["answer_recall@5"] <= report["answer_recall@10"]
    assert report["answer_in_corpus"]["week"]["share"] == 1.0  # each article of its own week
    assert report["answer_in_corpus"]["nowhere"] == {"share": 0.0, "answer_recall@5": None}
    for key in ("answer_accuracy", "first_quote_accuracy", "nota_avoids_wrong_choices"):
        assert 0.0 <= report[key] <= 1.0


def test_the_stand_in_can_be_asked_as_of_each_questions_date(tmp_path):
    src = stand_in(tmp_path)
    build(src, tmp_path / "set")
    report = run(tmp_path / "set", index_dir=tmp_path / "index", embedder=FakeEmbedder(),
                 dated=True, say=lambda _: None)
    assert report["as_of_question_date"] is True
    assert report["answer_recall@10"] == 1.0


def test_a_held_out_set_leaves_out_the_weeks_of_another(tmp_path):
    src = stand_in(tmp_path)
    build(src, tmp_path / "first", weeks=1)
    summary = build(src, tmp_path / "held-out", exclude=tmp_path / "first")
    assert summary["weeks"] == 1 and summary["first"] == "20230113"


# --- bench.refusals: questions of weeks the index does not hold ---------------------------

def test_refusals_compare_right_answers_with_questions_the_index_does_not_cover(tmp_path):
    from bench.refusals import main as refusals_main
    from bench.refusals import run as refusals_run

    src = stand_in(tmp_path)
    build(src, tmp_path / "covered", weeks=1)  # 20230106: two questions, answered from its articles
    build(src, tmp_path / "other", exclude=tmp_path / "covered")  # 20230113: not indexed
    report = refusals_run(tmp_path / "covered", tmp_path / "other", index_dir=tmp_path / "index",
                          embedder=FakeEmbedder())
    assert report["questions"] == 3
    assert report["uncovered"] == 1  # the lawnmower recall is in no indexed article
    assert report["right"] >= 1 and report["reader"] == "cheap"
    assert report["confidence_auc"] is not None
    shares = {row["threshold"]: row for row in report["thresholds"]}
    assert shares[0.9]["uncovered_refused"] >= shares[0.42]["uncovered_refused"]
    assert all(0.0 <= row["right_refused"] <= 1.0 for row in report["thresholds"])
    assert refusals_main([str(tmp_path / "nowhere"), str(tmp_path / "other")]) == 1


def test_refusals_sweep_on_known_scores():
    from bench.refusals import sweep

    rows = [{"score": s, "confidence": c, "rule": False, "right": True, "uncovered": False}
            for s, c in ((0.8, 0.7), (0.9, 0.6), (1.0, 0.5))]
    rows += [{"score": s, "confidence": c, "rule": r, "right": False, "uncovered": True}
             for s, c, r in ((0.3, 0.1, False), (0.95, 0.2, True))]
    report = sweep(rows)
    assert report["auc"] == 0.6667  # 4 of the 6 pairs ordered: AUC reads scores, not rules
    assert report["confidence_auc"] == 1.0  # every right answer's confidence is above
    fixed = {row["threshold"]: row for row in report["thresholds"] if row["chosen_by"] == "fixed"}
    assert fixed[0.42] == {"threshold": 0.42, "chosen_by": "fixed", "right_refused": 0.0,
                           "uncovered_refused": 1.0}
    assert fixed[0.9]["right_refused"] == 0.333


def test_where_the_corpus_holds_each_answer(tmp_path):
    articles = [{"id": "a", "title": "Owls win", "text": "The Vantor Owls won.", "date": "2023-01-04"},
                {"id": "b", "title": "History", "text": "Brellport was founded.", "date": "2022-05-01"},
                {"id": "c", "title": "Later", "text": "Griddle Dynamics grew.", "date": "2023-01-09"},
                {"id": "d", "title": "Undated", "text": "Pell Bears news.", "date": None}]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps(a) + "\n" for a in articles))
    ask = lambda i, answer: Question(i, "?", (), answer, "2023-01-05", "20230106")
    questions = [ask("owls", "Vantor Owls"), ask("old", "brellport"), ask("later", "Griddle Dynamics"),
                 ask("undated", "Pell Bears"), ask("none", "Tosh Hawks"), ask("part", "Owl")]
    assert where_answers(tmp_path, questions, (7, 3)) == {
        "owls": "week", "old": "other days", "later": "other days",  # 4 days after: outside
        "undated": "other days", "none": "nowhere", "part": "nowhere"}  # whole words only
    assert where_answers(tmp_path, questions, (7, 4))["later"] == "week"
