"""The reader's training command, end to end on a tiny slice of the committed data (CI)."""

from __future__ import annotations

import json

import pytest

from rag.answering.reader import load_reader
from rag.training.fit import main

pytestmark = pytest.mark.integration


def test_the_training_command_writes_a_reader_that_loads_and_scores(tmp_path, capsys):
    out = tmp_path / "reader.json"
    assert main(["--tiny", "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0
    printed = capsys.readouterr().out
    report = json.loads(printed[printed.index("{"):])
    reader = load_reader(out)
    assert reader.manifest["data"]["held_out"] == ["1973_oil_crisis", "Scottish_Parliament"]
    assert reader.manifest["data"]["questions"] == report["data"]["questions"] == 8 * 30
    held = reader.manifest["metrics"]["held_out"]
    assert held["questions"] == 60
    assert held["first_quote_hit"] > 0.5  # the sentence model beats chance by far on 60 questions
    assert 0 < reader.threshold < 1
    cheap = reader.manifest["metrics"]["cheap_confidence_held_out"]
    assert cheap["questions"] == 60 and cheap["auc"] is not None
    assert 0 < reader.cheap_confidence(reader.cheap.mean) < 1
