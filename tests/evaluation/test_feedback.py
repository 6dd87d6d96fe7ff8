"""`rag eval --from-feedback`: 👎 answers become candidate evaluation cases."""

from __future__ import annotations

import json

import pytest

from rag.cli import main
from rag.errors import EvalSetError
from rag.evaluation.evalset import TYPES
from rag.evaluation.feedback import candidates_from_feedback


def _write(path, records):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


DOWN = {"verdict": "down", "question": "How many submarines does Norway operate?",
        "answer": "Norway operates 6 submarines. [1]", "refused": False,
        "citations": [{"doc_id": "002_be2d0c343ec47e23"}]}
UP = {"verdict": "up", "question": "Who leads NATO?", "answer": "Mark Rutte [1]",
      "refused": False, "citations": []}


def test_only_thumbs_down_become_candidates_once_each(tmp_path):
    feedback = _write(tmp_path / "f.jsonl", [DOWN, UP, {**DOWN, "question": " how many SUBMARINES does norway operate? "}])
    found = candidates_from_feedback(feedback)
    assert [c["question"] for c in found] == [DOWN["question"]]
    c = found[0]
    assert c["type"] == "number" and c["type"] in TYPES
    assert c["answers"] == [] and c["gold_docs"] == [] and c["evidence"] == []
    assert "002_be2d0c343ec47e23" in c["review"] and "6 submarines" in c["review"]


def test_questions_already_in_the_set_are_left_out(tmp_path):
    feedback = _write(tmp_path / "f.jsonl", [DOWN])
    assert candidates_from_feedback(feedback, known={DOWN["question"].upper()}) == []


def test_a_malformed_line_is_skipped_with_its_number(tmp_path):
    feedback = _write(tmp_path / "f.jsonl", ["{not json", DOWN])
    with pytest.warns(UserWarning, match=r"f\.jsonl:1"):
        found = candidates_from_feedback(feedback)
    assert len(found) == 1


def test_missing_feedback_says_how_to_make_some(tmp_path):
    with pytest.raises(EvalSetError, match="rag serve"):
        candidates_from_feedback(tmp_path / "none.jsonl")


def test_cli_writes_candidates_beside_the_set(tmp_path, capsys):
    sets = tmp_path / "sets"
    sets.mkdir()
    set_file = sets / "mine.jsonl"
    set_file.write_text(json.dumps({
        "id": "q1", "question": "Who leads NATO?", "history": [], "type": "factoid",
        "answers": ["Rutte"], "gold_docs": ["a"], "evidence": [{"doc": "a", "text": "Rutte"}]}) + "\n")
    feedback = _write(tmp_path / "f.jsonl", [DOWN, UP])
    code = main(["eval", "--set", str(set_file), "--from-feedback", str(feedback)])
    out, _ = capsys.readouterr()
    assert code == 0 and "1 candidate" in out
    lines = (sets / "feedback-candidates.jsonl").read_text().splitlines()
    assert [json.loads(line)["question"] for line in lines] == [DOWN["question"]]
