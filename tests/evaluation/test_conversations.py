"""The conversation set: its file format, the set in the repository, the turn-by-turn run, its
report and its gate (the real-model run of the whole set is in test_evaluate.py, beside the
seed set's, sharing its index).
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from pathlib import Path

import pytest

import rag.search.retrieve
from rag.answering.answer import Answer, Answerer
from rag.cli import main
from rag.errors import EvalSetError
from rag.evaluation import conversations as cv
from rag.evaluation import evaluate as ev
from rag.evaluation.conversations import (
    DEFAULT_CONVERSATIONS,
    evaluate_conversations,
    same_question,
)
from rag.evaluation.evalset import KINDS, is_conversation_set, load_conversations
from rag.evaluation.evaluate import check, read_baseline
from rag.evaluation.report import conversation_markdown, conversation_summary
from rag.indexing.build import build_index
from rag.reading.ingest import read_documents
from rag.search.retrieve import Retriever

ROOT = Path(__file__).resolve().parents[2]


def write_lines(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- the set in the repository -----------------------------------------------------------

def test_the_conversation_set_has_what_the_issue_asks_for():
    conversations = load_conversations(DEFAULT_CONVERSATIONS)
    turns = [t for c in conversations for t in c.turns]
    kinds = Counter(t.kind for t in turns)
    assert len(conversations) >= 40
    assert all(2 <= len(c.turns) <= 4 for c in conversations)
    assert {len(c.turns) for c in conversations} >= {2, 3, 4}
    assert set(kinds) == set(KINDS) and all(n >= 5 for n in kinds.values()), kinds
    later_new = [t for c in conversations for t in c.turns[1:] if t.kind == "new"]
    assert len(later_new) >= 10  # new questions inside conversations, to be left alone
    assert all(t.standalone == (t.question.question,) for t in turns if t.kind == "new")
    assert all(t.question.question not in t.standalone for t in turns if t.kind != "new")


def test_every_evidence_string_of_the_conversations_stands_verbatim_in_its_seed():
    docs = {d.id: d for d in read_documents([ROOT / "seeds"])}
    questions = [t.question for c in load_conversations(DEFAULT_CONVERSATIONS) for t in c.turns]
    wrong = [(q.id, e.doc, e.text[:40]) for q in questions for e in q.evidence
             if e.doc not in docs or e.text not in docs[e.doc].text]
    assert wrong == []
    assert all(set(q.gold_docs) <= set(docs) for q in questions)


def test_the_rewrite_rules_name_nothing_from_the_seed_articles():
    """General rules only: no string in the code of rewrite.py and phrases.py (docstrings
    aside) holds a name that the seed articles spell with a capital."""
    seeds = " ".join(d.text for d in read_documents([ROOT / "seeds"]))
    names = {w for w in re.findall(r"\b[A-Z][\w'’-]{2,}", seeds)} - {"The", "And", "But"}
    strings = []
    for module in ("rewrite.py", "phrases.py"):
        strings += _code_strings(ROOT / "rag" / "answering" / module)
    found = {w for s in strings for w in re.findall(r"[\w'’-]+", s)} & names
    assert found == set()


def _code_strings(path: Path) -> list[str]:
    """The string constants of a module, its docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docstrings]


# --- the file format -----------------------------------------------------------------------

EVIDENCE = {"answers": ["November"], "gold_docs": ["volcano"],
            "evidence": [{"doc": "volcano", "text": "Residents of Grindavik were evacuated in November"}]}
WHY = {"answers": ["earthquakes"], "gold_docs": ["volcano"],
       "evidence": [{"doc": "volcano", "text": "hundreds of small earthquakes opened deep cracks"}]}
GOOD = {"id": "c1", "turns": [
    {"question": "When were residents of Grindavik evacuated?", "kind": "new", "type": "date", **EVIDENCE},
    {"question": "Why?", "kind": "ellipsis", "standalone": ["Why were residents of Grindavik evacuated?"],
     "type": "factoid", **WHY}]}


def test_a_conversation_reads_into_turns_with_their_history(tmp_path):
    (c,) = load_conversations(write_lines(tmp_path / "c.jsonl", [GOOD]))
    first, second = c.turns
    assert (first.question.id, second.question.id) == ("c1.1", "c1.2")
    assert first.standalone == (first.question.question,)
    assert second.question.history == (first.question.question,)
    assert second.standalone == ("Why were residents of Grindavik evacuated?",)


def _with_turn(n: int, **changes) -> dict:
    turns = [dict(t) for t in GOOD["turns"]]
    turns[n - 1].update(changes)
    turns[n - 1] = {k: v for k, v in turns[n - 1].items() if v is not None}
    return {"id": "c2", "turns": turns}


@pytest.mark.parametrize("bad, message", [
    ({"id": "c2", "turns": GOOD["turns"][:1]}, "two or more turns"),
    ({"id": "c2"}, "a list of 'turns'"),
    (_with_turn(2, kind="guess"), "turn 2: unknown kind 'guess'; allowed: new, pronoun-answer"),
    (_with_turn(1, kind="swap"), "turn 1: the first turn has nothing to lean on"),
    (_with_turn(2, standalone=None), "turn 2: a follow-up needs 'standalone'"),
    (_with_turn(1, standalone=["When was Grindavik evacuated?"]), "turn 1: a new question is left exactly"),
    (_with_turn(2, history=["x"]), "turn 2: a turn has no 'id' or 'history'"),
    (_with_turn(2, answers=[]), "turn 2: a factoid question needs 'answers'"),
    (GOOD, "id 'c1' already used on line 1"),
])
def test_a_bad_conversation_stops_the_run_naming_its_line(tmp_path, bad, message):
    path = write_lines(tmp_path / "conv.jsonl", [GOOD, "", bad])
    with pytest.raises(EvalSetError) as e:
        load_conversations(path)
    assert "conv.jsonl:3: " in str(e.value)
    assert message in str(e.value)


def test_the_two_kinds_of_set_are_told_apart(tmp_path):
    assert is_conversation_set(DEFAULT_CONVERSATIONS)
    assert not is_conversation_set(ev.DEFAULT_SET)
    assert not is_conversation_set(write_lines(tmp_path / "odd.jsonl", ["not json"]))


@pytest.mark.parametrize("a, b, same", [
    ("When did Sweden join NATO?", "when did sweden join nato", True),
    ("When  did Sweden\tjoin NATO ?", "When did Sweden join NATO?", True),
    ("What is Borrell's job?", "What is Borrell’s job?", True),
    ("When did Sweden join NATO?", "When did Finland join NATO?", False),
    ("When did Sweden join NATO?", "And when did Sweden join NATO?", False),
])
def test_a_rewrite_is_compared_after_folding_case_punctuation_and_whitespace(a, b, same):
    assert same_question(a, b) is same


# --- the run, with the fake embedder ---------------------------------------------------------

MISSED = {"id": "c2", "turns": [
    {"question": "Who won the national chess championship?", "kind": "new", "type": "factoid",
     "answers": ["grandmaster"], "gold_docs": ["chess"],
     "evidence": [{"doc": "chess", "text": "A fifteen-year-old grandmaster won the national chess championship"}]},
    {"question": "Which opening did she prepare for the final round?", "kind": "pronoun-answer",
     "standalone": ["Which opening did the grandmaster prepare for the final round?"], "type": "factoid",
     "answers": ["Sicilian defence"], "gold_docs": ["chess"],
     "evidence": [{"doc": "chess", "text": "the Sicilian defence she played in the final round"}]},
    {"question": "What is the population of Mongolia?", "kind": "new", "type": "unanswerable"}]}


@pytest.fixture
def tiny(tmp_path, corpus, fake_embedder, monkeypatch):
    """(conversation set, index dir) over the three small articles; the CLI gets the fake embedder."""
    index = tmp_path / "index"
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    monkeypatch.setattr(rag.search.retrieve, "get_embedder", lambda model=None: fake_embedder)
    return write_lines(tmp_path / "conv.jsonl", [GOOD, MISSED]), index


class RecordingAnswerer(Answerer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.histories: list[list] = []

    def ask(self, question, *, history=(), k=None):
        self.histories.append(list(history))
        return super().ask(question, history=history, k=k)


def test_each_turn_is_asked_with_the_earlier_answers_as_history(tiny, fake_embedder):
    set_file, index = tiny
    answerer = RecordingAnswerer(Retriever.load(index, embedder=fake_embedder))
    report = evaluate_conversations(set_file, answerer)
    assert [len(h) for h in answerer.histories] == [0, 1, 0, 1, 2]
    for turn, history in zip(report.turns, answerer.histories):
        assert all(isinstance(a, Answer) for a in history)
        assert tuple(a.question for a in history) == turn.result.question.history
    assert [t.result.question.id for t in report.turns] == ["c1.1", "c1.2", "c2.1", "c2.2", "c2.3"]


def test_a_run_scores_rewrites_and_answers_by_turn_and_kind(tiny, fake_embedder):
    set_file, index = tiny
    report = evaluate_conversations(set_file, Answerer(Retriever.load(index, embedder=fake_embedder)))
    ok = {t.result.question.id: t.rewrite_ok for t in report.turns}
    assert ok == {"c1.1": True, "c1.2": True, "c2.1": True, "c2.2": False, "c2.3": True}
    assert report.overall["rewrite_accuracy"] == pytest.approx(4 / 5)
    assert list(report.by_turn) == ["1", "2", "3"]
    assert report.by_turn["2"]["rewrite_accuracy"] == 0.5
    assert report.by_kind["new"]["rewrite_accuracy"] == 1.0
    assert set(report.by_kind) == {"new", "ellipsis", "pronoun-answer"}
    assert report.overall["answer_contains_turn3"] is None  # turn 3 is unanswerable
    assert report.overall["answer_contains_turn4"] is None
    contains = [t.result.contains for t in report.turns if t.position == 1]
    assert report.overall["answer_contains_turn1"] == sum(contains) / len(contains)
    assert report.conversations == 2 and len(report.results) == 5
    text = conversation_markdown(report)
    assert "| c2.2 | pronoun-answer | Which opening did she prepare for the final round? |" in text
    assert "rewrite" in text.split("| c2.2 |")[1].splitlines()[0]
    assert "rewrite accuracy" in conversation_summary(report)


def test_cli_conversation_set_update_baseline_then_check_then_a_regression(tiny, tmp_path, capsys):
    set_file, index = tiny
    baseline = tmp_path / "baseline-conversations.json"
    common = ["eval", "--set", set_file, "--index", index, "--reports", tmp_path / "rep",
              "--baseline", baseline]
    code, out, err = run_cli(capsys, *common, "--update-baseline")
    assert code == 0 and "baseline written" in err and "rewrite accuracy" in out
    accepted = read_baseline(baseline)
    assert accepted["questions"] == 5 and set(accepted) >= {"by_turn", "by_kind"}
    assert accepted["metrics"]["rewrite_accuracy"]["value"] == 0.8
    assert "answer_contains_turn2" in accepted["metrics"]
    code, out, err = run_cli(capsys, *common, "--check", "--json")
    figures = json.loads(out)
    assert code == 0 and "check passed" in err and figures["regressions"] == []
    assert figures["conversations"] == 2 and figures["turns"] == 5
    assert set(figures["by_turn"]) == {"1", "2", "3"} and "pronoun-answer" in figures["by_kind"]
    assert (tmp_path / "rep" / "conv.md").exists()
    accepted["metrics"]["rewrite_accuracy"]["value"] = 1.0
    baseline.write_text(json.dumps(accepted))
    code, _, err = run_cli(capsys, *common, "--check")
    assert code == 1 and "regression: rewrite_accuracy: 0.8000 is below the baseline 1.0000" in err


def test_cli_without_a_set_runs_both_sets_each_against_its_baseline(tiny, tmp_path, capsys,
                                                                   monkeypatch):
    set_file, index = tiny
    questions = write_lines(tmp_path / "questions.jsonl", [
        {"id": "q1", "question": "Which village was evacuated?", "type": "factoid",
         "answers": ["Grindavik"], "gold_docs": ["volcano"],
         "evidence": [{"doc": "volcano", "text": "fishing village of Grindavik"}]}])
    monkeypatch.delenv("RAG_EVAL_SET", raising=False)
    monkeypatch.setattr(ev, "DEFAULT_SET", questions)
    monkeypatch.setattr(ev, "DEFAULT_BASELINE", tmp_path / "b.json")
    monkeypatch.setattr(cv, "DEFAULT_CONVERSATIONS", set_file)
    monkeypatch.setattr(cv, "DEFAULT_CONVERSATION_BASELINE", tmp_path / "bc.json")
    common = ["eval", "--index", index, "--reports", tmp_path / "rep"]
    code, out, err = run_cli(capsys, *common, "--update-baseline")
    assert code == 0 and err.count("baseline written") == 2
    assert read_baseline(tmp_path / "b.json")["questions"] == 1
    assert read_baseline(tmp_path / "bc.json")["questions"] == 5
    code, out, err = run_cli(capsys, *common, "--check", "--json")
    figures = json.loads(out)
    assert code == 0 and err.count("check passed") == 2
    assert figures["set"].endswith("questions.jsonl") and "by_type" in figures
    assert figures["conversations"]["set"].endswith("conv.jsonl")
    assert figures["conversations"]["overall"]["rewrite_accuracy"] == 0.8


def test_calibrating_needs_a_question_set(tiny, capsys):
    set_file, index = tiny
    code, out, err = run_cli(capsys, "eval", "--set", set_file, "--index", index, "--calibrate")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "is a conversation set; --calibrate and --from-feedback take a question set" in err


def test_the_conversation_baseline_in_the_repository_gates_rewrites_and_turns():
    accepted = read_baseline(cv.DEFAULT_CONVERSATION_BASELINE)
    assert accepted["set"] == "eval/sets/conversations.jsonl"
    assert set(cv.CONVERSATION_GATE) <= set(accepted["metrics"])
    assert accepted["questions"] == sum(len(c.turns) for c in load_conversations(DEFAULT_CONVERSATIONS))
    assert check({k: v["value"] for k, v in accepted["metrics"].items()}, accepted) == []
