"""The SQuAD 2.0 gates: `rag eval --qa rag/training/data/squad2-half --check` reruns the 100
seeded questions of eval/baseline-squad2.json (cheap reader) and of
eval/baseline-squad2-learned.json (learned reader, held-out articles) with the real model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def qa_index(tmp_path_factory):
    return tmp_path_factory.mktemp("qa") / "index"


@pytest.mark.parametrize("reader, baseline", [
    ("cheap", "baseline-squad2.json"),
    # the learned reader on 100 questions of the 2 articles it never trained on
    ("learned", "baseline-squad2-learned.json"),
])
def test_the_squad2_gate_passes_on_its_baseline_questions(qa_index, tmp_path, capsys, reader,
                                                           baseline):
    folder = ROOT / "rag" / "training" / "data" / "squad2-half"
    code = main(["eval", "--qa", str(folder), "--check", "--json", "--index", str(qa_index),
                 "--reports", str(tmp_path / "reports"), "--reader", reader,
                 "--baseline", str(ROOT / "eval" / baseline)])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out["regressions"]
    assert out["questions"] == 100 and out["regressions"] == []
