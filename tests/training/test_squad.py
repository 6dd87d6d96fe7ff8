"""SQuAD 2.0 JSON to a QA folder (rag.training.squad.squad_to_folder), and `--also` folders."""

from __future__ import annotations

import json

import pytest

from rag.evaluation.qa import read_qa_folder
from rag.training.__main__ import main
from rag.training.squad import SQUAD2_HALF, SQUAD2_TRAIN_SLICE, squad_to_folder

SQUAD = {"version": "v2.0", "data": [
    {"title": "Paris_(city)", "paragraphs": [
        {"context": "Paris is the capital of France.", "qas": [
            {"id": "a1", "question": "What is the capital of France?", "is_impossible": False,
             "answers": [{"text": "Paris", "answer_start": 0},
                         {"text": "Paris", "answer_start": 0}]},
            {"id": "a2", "question": "What is the capital of Spain?", "is_impossible": True,
             "answers": [], "plausible_answers": [{"text": "Paris", "answer_start": 0}]}]},
        {"context": "It lies on the Seine.", "qas": [
            {"id": "a3", "question": "Which river runs through it?", "is_impossible": False,
             "answers": [{"text": "the Seine", "answer_start": 12}]}]}]},
    {"title": "Rome", "paragraphs": [
        {"context": "Rome is old.", "qas": [
            {"id": "b1", "question": "What is old?", "is_impossible": False,
             "answers": [{"text": "Rome", "answer_start": 0}]}]}]}]}


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "train-v2.0.json"
    path.write_text(json.dumps(SQUAD), encoding="utf-8")
    return path


def test_a_squad_article_becomes_a_qa_folder_the_eval_reads(source, tmp_path):
    assert squad_to_folder(source, tmp_path / "qa", titles=("Paris_(city)",)) == (3, 1)
    corpus, items = read_qa_folder(tmp_path / "qa")
    assert [p.name for p in corpus.iterdir()] == ["Paris_city.txt"]
    assert (corpus / "Paris_city.txt").read_text(encoding="utf-8") == \
        "Paris (city)\n\nParis is the capital of France.\n\nIt lies on the Seine.\n"
    assert [(i.id, i.answers, i.unanswerable, i.paragraph) for i in items] == [
        ("a1", ("Paris",), False, 0), ("a2", (), True, 0), ("a3", ("the Seine",), False, 1)]


def test_every_article_when_none_is_named(source, tmp_path):
    assert squad_to_folder(source, tmp_path / "qa") == (4, 1)


def test_an_unknown_title_is_refused_with_the_known_ones(source, tmp_path):
    with pytest.raises(ValueError, match="no article Lyon .*Paris_\\(city\\), Rome"):
        squad_to_folder(source, tmp_path / "qa", titles=("Lyon",))


def test_the_committed_train_slice_is_other_articles_than_the_half():
    _, half = read_qa_folder(SQUAD2_HALF)
    _, extra = read_qa_folder(SQUAD2_TRAIN_SLICE)
    assert len(extra) == 836 and sum(i.unanswerable for i in extra) == 348
    assert not {i.doc for i in half} & {i.doc for i in extra}


def test_also_with_the_training_articles_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["--tiny", "--also", str(SQUAD2_HALF), "--cache", str(tmp_path / "cache"),
                 "--out", str(tmp_path / "out"), "--qa", str(SQUAD2_HALF)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "give --also folders of other articles" in err
    assert "\n" not in err
