"""The shipped reader file: its manifest is checked on load, and every mismatch says how to fix it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.answering.reader import (
    DEFAULT_MODEL,
    FORMAT_VERSION,
    Linear,
    load_reader,
    save_reader,
    weights_hash,
)
from rag.errors import ReaderError


def test_the_shipped_reader_loads_with_its_manifest():
    reader = load_reader(DEFAULT_MODEL)
    m = reader.manifest
    assert m["version"] == FORMAT_VERSION and m["sha256"] == weights_hash(m)
    assert set(m["data"]["held_out"]).isdisjoint(m["data"]["trained_on"])
    assert 0.0 < reader.threshold < 1.0
    assert "crossval_whole_set" in m["metrics"] and "held_out" in m["metrics"]


def test_a_linear_model_is_a_standardized_dot_product():
    m = Linear(np.array([1.0, 2.0]), np.array([2.0, 1.0]), np.array([1.0, -1.0]), 0.5)
    assert m.logits(np.array([[3.0, 2.0], [1.0, 4.0]])).tolist() == [1.5, -1.5]


def copy(tmp_path, edit=None):
    body = json.loads(DEFAULT_MODEL.read_text(encoding="utf-8"))
    if edit:
        edit(body)
    path = tmp_path / "reader.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def test_a_missing_model_says_how_to_rebuild_it(tmp_path):
    with pytest.raises(ReaderError, match=r"no reader model .*python -m rag\.training\.fit"):
        load_reader(tmp_path / "nothing.json")


def test_changed_weights_fail_the_hash(tmp_path):
    def edit(body):
        body["threshold"] = 0.01
    with pytest.raises(ReaderError, match="SHA-256"):
        load_reader(copy(tmp_path, edit))


@pytest.mark.parametrize("key, value, words", [
    ("version", 99, "format version 99"),
    ("format", "something-else", "not a verbatim reader model"),
])
def test_another_format_is_named(tmp_path, key, value, words):
    def edit(body):
        body[key] = value
    with pytest.raises(ReaderError, match=words):
        load_reader(copy(tmp_path, edit))


def test_other_features_are_refused_even_with_a_matching_hash(tmp_path):
    def edit(body):
        body["features"]["sentence"] = body["features"]["sentence"][::-1]
        body["sha256"] = weights_hash(body)
    with pytest.raises(ReaderError, match="other features"):
        load_reader(copy(tmp_path, edit))


def test_saving_and_loading_round_trips(tmp_path):
    r = load_reader(DEFAULT_MODEL)
    path = save_reader(tmp_path / "r.json", sentence=r.sentence, answer=r.answer, threshold=0.3,
                       cheap=r.cheap, about={"data": {}, "metrics": {}})
    again = load_reader(path)
    assert again.threshold == 0.3
    x = np.random.default_rng(0).normal(size=(4, len(r.sentence.coef)))
    assert np.allclose(again.sentence_logits(x), r.sentence_logits(x))
    q = np.random.default_rng(1).normal(size=len(r.cheap.coef))
    assert again.cheap_confidence(q) == pytest.approx(r.cheap_confidence(q))
    assert 0.0 < r.cheap_confidence(q) < 1.0


def test_a_file_of_the_first_format_asks_for_a_rebuild(tmp_path):
    def edit(body):  # a version 1 file: no cheap answer model, hash still matching
        body["version"] = 1
        del body["cheap_answer_model"]
        body["sha256"] = weights_hash(body)
    with pytest.raises(ReaderError, match=r"format version 1.*python -m rag\.training\.fit"):
        load_reader(copy(tmp_path, edit))


def test_the_cheap_confidence_was_scored_on_held_out_articles():
    m = load_reader(DEFAULT_MODEL).manifest["metrics"]["cheap_confidence_held_out"]
    assert m["questions"] > 0 and 0.5 < m["auc"] <= 1.0 and 0.0 <= m["ece"] < 0.2


def test_a_damaged_file_is_one_clear_error(tmp_path):
    path = tmp_path / "reader.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReaderError, match="unreadable"):
        load_reader(path)
