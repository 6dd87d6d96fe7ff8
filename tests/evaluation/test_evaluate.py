"""The evaluation suite: the seed set, bad input, BEIR mode, reports and the regression gate.

Most tests use the fake embedder. Those marked `integration` share one index of seeds/
built with the real model and one real evaluation of the whole seed set and of the whole
conversation set (session fixtures);
one more run swaps in a retriever that returns random passages to show the gate fails.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

import rag.cli.common
import rag.search.retrieve
from rag.answering.answer import Answerer
from rag.cli import main
from rag.errors import EvalSetError
from rag.evaluation.conversations import (
    DEFAULT_CONVERSATION_BASELINE,
    DEFAULT_CONVERSATIONS,
    evaluate_conversations,
)
from rag.evaluation.evalset import TYPES, EvalQuestion, Evidence, check_against, load_beir, load_set
from rag.evaluation.evaluate import (
    DEFAULT_BASELINE,
    DEFAULT_SET,
    check,
    evaluate,
    evaluate_beir,
    failed_metrics,
    read_baseline,
    run_questions,
    summarize,
)
from rag.evaluation.report import beir_summary, markdown, write_report
from rag.indexing.build import build_index
from rag.indexing.embed import DEFAULT_MODEL, get_embedder
from rag.indexing.store import open_index
from rag.reading.ingest import make_document, read_documents
from rag.search.retrieve import Retriever

ROOT = Path(__file__).resolve().parents[2]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write_lines(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


# --- the seed set ----------------------------------------------------------------------

def test_every_evidence_string_stands_verbatim_in_its_document():
    docs = {d.id: d for d in read_documents([ROOT / "seeds"])}
    questions = load_set(DEFAULT_SET)
    wrong = [(q.id, e.doc, e.text[:40]) for q in questions for e in q.evidence
             if e.doc not in docs or e.text not in docs[e.doc].text]
    assert wrong == []
    assert all(set(q.gold_docs) <= set(docs) for q in questions)
    check_against(questions, docs)


def test_the_seed_set_has_what_the_issue_asks_for():
    questions = load_set(DEFAULT_SET)
    types = Counter(q.type for q in questions)
    assert len(questions) >= 80
    assert types["unanswerable"] >= 15
    assert sum(bool(q.history) for q in questions if q.type == "follow-up") >= 8
    assert sum(len(q.gold_docs) >= 2 for q in questions if q.type == "multi-document") >= 8
    assert set(types) <= set(TYPES)


# --- bad set files -----------------------------------------------------------------------

GOOD = {"id": "q1", "question": "Which village was evacuated?", "type": "factoid",
        "answers": ["Grindavik"], "gold_docs": ["volcano"],
        "evidence": [{"doc": "volcano", "text": "fishing village of Grindavik"}]}


@pytest.mark.parametrize("bad, message", [
    ('{"id": "q2", "question": "Cut short?"', "Expecting"),
    ("[1, 2]", "expected a JSON object"),
    ({"id": "q2", "type": "factoid"}, "missing field 'question'"),
    ({**GOOD, "id": "q2", "type": "trivia"}, "unknown question type 'trivia'; allowed: factoid"),
    ({**GOOD, "id": "q2", "evidence": []}, "needs 'answers', 'gold_docs' and 'evidence'"),
    ({**GOOD, "id": "q2", "type": "unanswerable"}, "an unanswerable question has no"),
    ({**GOOD, "id": "q2", "type": "follow-up"}, "needs 'history'"),
    ({**GOOD, "id": "q2", "history": "Who?"}, "'history' must be a list of strings"),
    ({**GOOD, "id": "q2", "question": "  "}, "non-empty string"),
    (GOOD, "id 'q1' already used on line 1"),
])
def test_a_bad_line_stops_the_run_naming_its_line(tmp_path, bad, message):
    path = write_lines(tmp_path / "set.jsonl", [GOOD, "", bad])
    with pytest.raises(EvalSetError) as e:
        load_set(path)
    assert "set.jsonl:3: " in str(e.value)
    assert message in str(e.value)


def test_missing_or_empty_set_files(tmp_path):
    with pytest.raises(EvalSetError, match="cannot read the evaluation set"):
        load_set(tmp_path / "nope.jsonl")
    with pytest.raises(EvalSetError, match="holds no questions"):
        load_set(write_lines(tmp_path / "empty.jsonl", ["", "  "]))


def test_the_cli_reports_a_bad_set_in_one_line_before_loading_a_model(tmp_path, capsys):
    path = write_lines(tmp_path / "set.jsonl", [GOOD, {**GOOD, "id": "q2", "type": "gossip"}])
    code, out, err = run_cli(capsys, "eval", "--set", path)
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "set.jsonl:2: unknown question type 'gossip'" in err


def test_evidence_not_in_its_document_is_named():
    docs = {"volcano": make_document("Lava reached the fishing village of Grindavik.",
                                     id="volcano", source="volcano.txt")}
    check_against([_question(GOOD)], docs)
    moved = replace(_question(GOOD), evidence=(Evidence("volcano", "village of Reykjavik"),))
    with pytest.raises(EvalSetError, match="question q1: evidence 'village of Reykjavik' is not "
                                           "found verbatim in document volcano"):
        check_against([moved], docs)
    elsewhere = replace(_question(GOOD), gold_docs=("chess",))
    with pytest.raises(EvalSetError, match="document 'chess' is not in the index"):
        check_against([elsewhere], docs)


def _question(record: dict) -> EvalQuestion:
    ev = tuple(Evidence(e["doc"], e["text"]) for e in record["evidence"])
    return EvalQuestion(record["id"], record["question"], record["type"], (),
                        tuple(record["answers"]), tuple(record["gold_docs"]), ev)


# --- BEIR folders --------------------------------------------------------------------------

@pytest.fixture
def beir_dir(tmp_path) -> Path:
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    write_lines(folder / "corpus.jsonl", [
        {"_id": "d1", "title": "Volcano", "text": "Lava fountains rose over Grindavik on the "
                                                  "Reykjanes peninsula after the eruption."},
        {"_id": "d2", "title": "Bakery", "text": "The sourdough starter came from San Francisco "
                                                 "and the bakers knead rye flour by hand."},
        {"_id": "d3", "title": "Chess", "text": "A grandmaster won the championship with rook "
                                                "and bishop against a lone knight."},
        {"_id": "d4", "title": "Bakery", "text": "The sourdough starter came from San Francisco "
                                                 "and the bakers knead rye flour by hand."},
        {"_id": "d5", "title": "", "text": ""},
    ])
    write_lines(folder / "queries.jsonl", [
        {"_id": "1", "text": "lava Grindavik Reykjanes eruption"},
        {"_id": "2", "text": "sourdough starter rye flour"},
        {"_id": "3", "text": "grandmaster rook bishop knight"},
        {"_id": "4", "text": "a query with no relevance labels"},
    ])
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n1\td1\t1\n2\td2\t1\n3\td3\t1\n3\td1\t0\n")
    return folder


@pytest.mark.parametrize("missing", ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"])
def test_a_beir_folder_missing_a_file_is_one_line_error(beir_dir, missing, capsys):
    (beir_dir / missing).unlink()
    with pytest.raises(EvalSetError, match=f"has no {missing}"):
        load_beir(beir_dir)
    code, _, err = run_cli(capsys, "eval", "--beir", beir_dir)
    assert code == 1 and err.count("\n") == 1 and missing in err


def test_a_missing_beir_folder_and_bad_qrels_line(tmp_path, beir_dir):
    with pytest.raises(EvalSetError, match="does not exist"):
        load_beir(tmp_path / "absent")
    with (beir_dir / "qrels" / "test.tsv").open("a") as f:
        f.write("5 d2\n")
    with pytest.raises(EvalSetError, match=r"test.tsv:6: expected 'query-id corpus-id score'"):
        load_beir(beir_dir)


def test_beir_keeps_only_labelled_queries(beir_dir):
    data = load_beir(beir_dir)
    assert sorted(data.queries) == ["1", "2", "3"]
    assert data.qrels["3"] == {"d3": 1}  # score 0 is not relevant
    assert data.name == "tiny"


def test_beir_runs_through_our_index_and_caches_it(tmp_path, beir_dir, fake_embedder):
    index = tmp_path / "indexes" / "beir-tiny"
    first = evaluate_beir(beir_dir, index_dir=index, embedder=fake_embedder, progress=True)
    assert first.queries == 3 and first.documents == 3 and first.skipped == 1  # d4 repeats d2; d5 is empty
    assert first.metrics["ndcg@10"] == 1.0 and first.metrics["hit@1"] == 1.0
    assert set(first.metrics) == {"ndcg@10", "recall@100", "mrr@10", "hit@1", "hit@5", "hit@10"}
    cached = tmp_path / "indexes" / "beir-cache" / "tiny.jsonl"
    assert json.loads(cached.read_text().splitlines()[0])["text"].startswith("Volcano\n\nLava")
    embedded = fake_embedder.embedded
    second = evaluate_beir(beir_dir, index_dir=index, embedder=fake_embedder, mode="dense")
    assert fake_embedder.embedded - embedded == 3  # only the three queries: the index is reused
    assert second.mode == "dense" and second.metrics["ndcg@10"] == 1.0
    lexical = evaluate_beir(beir_dir, index_dir=index, embedder=fake_embedder, mode="lexical")
    assert fake_embedder.embedded - embedded == 3 and lexical.metrics["hit@1"] == 1.0
    again = evaluate_beir(beir_dir, index_dir=index, embedder=fake_embedder)
    assert again.metrics == first.metrics and again.mode == first.mode
    assert (first.fusion, second.fusion) == ("rrf", None)  # a small index; dense fuses nothing
    fused = evaluate_beir(beir_dir, index_dir=index, embedder=fake_embedder, fusion="minmax")
    assert fused.fusion == "minmax" and fused.metrics["recall@100"] == 1.0
    assert "hybrid search, minmax fusion" in beir_summary(fused)


def test_beir_with_the_reader_reranking_the_head(tmp_path, beir_dir, fake_embedder):
    """`rag eval --beir DIR --rerank reader`: every document is still ranked once."""
    index = tmp_path / "indexes" / "beir-tiny"
    report = evaluate_beir(beir_dir, index_dir=index, embedder=fake_embedder, rerank="reader")
    assert report.queries == 3 and report.metrics["recall@100"] == 1.0
    assert 0 < report.metrics["ndcg@10"] <= 1.0


# --- the whole run, with the fake embedder ----------------------------------------------------

TINY_SET = [
    GOOD,
    {"id": "q2", "question": "How long ago did the founder bring the starter from San Francisco?",
     "type": "number", "answers": ["thirty years"], "gold_docs": ["bakery"],
     "evidence": [{"doc": "bakery", "text": "brought from San Francisco thirty years ago"}]},
    {"id": "q3", "question": "Which opening did she prepare for the final round?",
     "history": ["Who won the national chess championship?"], "type": "follow-up",
     "answers": ["Sicilian defence", "Sicilian"], "gold_docs": ["chess"],
     "evidence": [{"doc": "chess", "text": "the Sicilian defence she played in the final round"}]},
    {"id": "q4", "question": "What is the population of Mongolia?", "type": "unanswerable"},
]


@pytest.fixture
def tiny(tmp_path, corpus, fake_embedder, monkeypatch):
    """(set file, index dir) over the three small articles; the CLI gets the fake embedder."""
    index = tmp_path / "index"
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    monkeypatch.setattr(rag.search.retrieve, "get_embedder", lambda model=None: fake_embedder)
    return write_lines(tmp_path / "tiny.jsonl", TINY_SET), index


def test_a_run_scores_every_question_and_type(tiny, fake_embedder):
    set_file, index = tiny
    report = evaluate(set_file, Answerer(Retriever.load(index, embedder=fake_embedder)))
    assert [r.question.id for r in report.results] == ["q1", "q2", "q3", "q4"]
    assert list(report.by_type) == ["factoid", "number", "follow-up", "unanswerable"]
    assert report.overall["citation_verified"] in (1.0, None)
    assert report.overall["hit@5"] == 1.0  # three documents: the gold one is always in the top 5
    assert report.by_type["unanswerable"]["hit@1"] is None
    assert report.by_type["factoid"]["refusal_recall"] is None
    assert all(r.retrieval == {} for r in report.results if not r.question.answerable)
    for r in report.results:
        expected = {"answer_contains"} if r.question.answerable and not r.contains else set()
        assert expected <= set(failed_metrics(r))
    assert summarize(report.results) == report.overall


def test_two_runs_give_the_same_figures(tiny, fake_embedder):
    set_file, index = tiny
    answerer = Answerer(Retriever.load(index, embedder=fake_embedder))
    a, b = (evaluate(set_file, answerer) for _ in range(2))
    assert _without_latency(a.overall) == _without_latency(b.overall)
    assert [replace(r, latency_ms=0) for r in a.results] == [replace(r, latency_ms=0)
                                                             for r in b.results]


def _without_latency(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if not k.startswith("latency")}


def test_report_holds_tables_chart_and_failing_questions(tiny, fake_embedder, tmp_path):
    set_file, index = tiny
    report = evaluate(set_file, Answerer(Retriever.load(index, embedder=fake_embedder)))
    answered = replace(report.results[3], refused=False, answer="Ulaanbaatar is big. [1]")
    report = replace(report, results=report.results[:3] + (answered,))
    md, png = write_report(report, tmp_path / "reports")
    assert (md.name, png.name) == ("tiny.md", "tiny.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = md.read_text()
    assert "## Overall" in text and "![metrics by question type](tiny.png)" in text
    assert "| q4 | unanswerable | What is the population of Mongolia? | (refusal) | " \
           "Ulaanbaatar is big. [1] | refusal_recall |" in text
    assert text == markdown(report, "tiny.png")


def test_cli_update_baseline_then_check_then_a_regression(tiny, tmp_path, capsys):
    set_file, index = tiny
    baseline = tmp_path / "baseline.json"
    common = ["eval", "--set", set_file, "--index", index, "--reports", tmp_path / "rep",
              "--baseline", baseline]
    code, out, err = run_cli(capsys, *common, "--update-baseline")
    assert code == 0 and "baseline written" in err and "hit@1" in out
    accepted = read_baseline(baseline)
    assert accepted["questions"] == 4 and accepted["set"].endswith("tiny.jsonl")
    assert set(accepted["by_type"]) == {"factoid", "number", "follow-up", "unanswerable"}
    code, out, err = run_cli(capsys, *common, "--check", "--json")
    assert code == 0 and "check passed" in err and json.loads(out)["regressions"] == []
    accepted["metrics"]["mrr@10"] = {"value": 1.5, "better": "higher", "tolerance": 0.02}
    baseline.write_text(json.dumps(accepted))
    code, out, err = run_cli(capsys, *common, "--check")
    assert code == 1
    assert "regression: mrr@10:" in err and "below the baseline 1.5000" in err


def test_cli_check_without_a_baseline_says_how_to_make_one(tiny, tmp_path, capsys):
    set_file, index = tiny
    code, _, err = run_cli(capsys, "eval", "--set", set_file, "--index", index, "--check",
                           "--baseline", tmp_path / "none.json")
    assert code == 1 and "rag eval --update-baseline" in err


def test_cli_calibrate_prints_the_sweep(tiny, capsys):
    set_file, index = tiny
    code, out, _ = run_cli(capsys, "eval", "--set", set_file, "--index", index, "--calibrate")
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["threshold", "refused", "precision"]
    assert "<- current" in out
    assert "recommended threshold" in out or "no threshold keeps" in out


def test_the_baseline_in_the_repository_gates_every_metric():
    accepted = read_baseline(DEFAULT_BASELINE)
    assert accepted["set"] == "eval/sets/seeds.jsonl"
    assert accepted["metrics"]["citation_verified"] == {"value": 1.0, "better": "higher",
                                                         "tolerance": 0.0}
    assert check({k: v["value"] for k, v in accepted["metrics"].items()}, accepted) == []


def test_importing_the_evaluation_modules_stays_light():
    code = ("import sys, rag.evaluation.evaluate, rag.evaluation.report, rag.evaluation.metrics, rag.evaluation.evalset; "
            "heavy = {'ranx', 'matplotlib', 'torch', 'numba'} & set(sys.modules); "
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --- the real model: one shared evaluation of the seed set ------------------------------------

class RandomRetriever(Retriever):
    """Returns k passages drawn at random (seeded): stands in for a broken retriever."""

    def search(self, question: str, *, k: int = 5, **options):
        question = self.prepare(question)
        rng = random.Random(question)
        rows = rng.sample(range(self.store.manifest.chunks), min(k, self.store.manifest.chunks))
        return self.passages([(row, 0.0) for row in rows])


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory) -> Path:
    index = tmp_path_factory.mktemp("seed-eval") / "index"
    build_index([ROOT / "seeds"], index_dir=index)
    return index


@pytest.fixture(scope="session")
def seed_report(seed_index):
    return evaluate(DEFAULT_SET, Answerer.load(seed_index))


@pytest.mark.integration
def test_the_seed_set_passes_the_gate(seed_report):
    problems = check(seed_report.overall, read_baseline(), questions=len(seed_report.results))
    assert problems == [], "figures changed; accept them with `rag eval --update-baseline`"


@pytest.fixture(scope="session")
def conversation_report(seed_index):
    return evaluate_conversations(DEFAULT_CONVERSATIONS, Answerer.load(seed_index))


@pytest.mark.integration
def test_the_conversation_set_passes_its_gate(conversation_report):
    """Each conversation asked turn by turn with its earlier answers, against
    eval/baseline-conversations.json: rewrite accuracy, answers by turn, every metric."""
    accepted = read_baseline(DEFAULT_CONVERSATION_BASELINE)
    problems = check(conversation_report.overall, accepted,
                     questions=len(conversation_report.results))
    assert problems == [], "figures changed; accept them with `rag eval --update-baseline`"


@pytest.mark.integration
def test_new_questions_in_conversations_are_never_rewritten(conversation_report):
    new = [t for t in conversation_report.turns if t.kind == "new"]
    assert new and all(t.result.standalone_query == t.result.question.question for t in new)
    assert conversation_report.overall["citation_verified"] == 1.0
    assert not any(t.result.question.history and f"({t.result.question.history[-1]})"
                   in t.result.standalone_query for t in conversation_report.turns)


@pytest.mark.integration
def test_every_citation_on_the_seed_set_is_verified(seed_report):
    assert seed_report.overall["citation_verified"] == 1.0
    assert sum(r.citations for r in seed_report.results) > 0


@pytest.mark.integration
def test_a_second_run_gives_the_same_results(seed_report, seed_index):
    picked = [r for r in seed_report.results if r.question.type in ("follow-up", "unanswerable")]
    picked = picked[::3] + [r for r in seed_report.results if r.question.type == "quote"][:3]
    again = run_questions([r.question for r in picked], Answerer.load(seed_index))
    assert [replace(r, latency_ms=0) for r in again] == [replace(r, latency_ms=0) for r in picked]


@pytest.mark.integration
def test_runs_in_two_processes_give_the_same_figures(seed_index, tmp_path):
    """Separate processes with different string-hash seeds: no figure may hang on set order."""
    rows = [line for line in DEFAULT_SET.read_text().splitlines() if line.strip()]
    subset = write_lines(tmp_path / "subset.jsonl", rows[::6])
    outputs = []
    for seed in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-m", "rag", "eval", "--set", str(subset), "--index", str(seed_index),
             "--reports", str(tmp_path / seed), "--json"],
            capture_output=True, text=True, cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": seed}, check=True)
        figures = json.loads(proc.stdout)
        outputs.append((_without_latency(figures["overall"]),
                        {t: _without_latency(m) for t, m in figures["by_type"].items()},
                        (tmp_path / seed / "subset.md").read_text()))
    assert outputs[0][:2] == outputs[1][:2]
    assert _failures(outputs[0][2]) == _failures(outputs[1][2])


def _failures(markdown_text: str) -> str:
    return markdown_text[markdown_text.index("## Failing questions"):]


@pytest.mark.integration
def test_random_passages_fail_the_gate(seed_index, tmp_path, capsys, monkeypatch):
    def broken(args):
        return RandomRetriever(open_index(seed_index), get_embedder(DEFAULT_MODEL))

    monkeypatch.setattr(rag.cli.common, "open_retriever", broken)
    code, _, err = run_cli(capsys, "eval", "--check", "--index", seed_index,
                           "--reports", tmp_path)
    assert code == 1
    regressions = [line for line in err.splitlines() if line.startswith("regression: ")]
    assert any(line.startswith("regression: hit@1: ") for line in regressions)
    assert all("baseline" in line for line in regressions)
