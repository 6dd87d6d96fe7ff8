"""The SQuAD 2.0 gate: `rag eval --qa rag/training/data/squad2-half --check` reruns the 100
seeded questions of eval/baseline-squad2.json with the real model and passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.cli import main

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_the_squad2_gate_passes_on_its_baseline_questions(tmp_path, capsys):
    folder = ROOT / "rag" / "training" / "data" / "squad2-half"
    code = main(["eval", "--qa", str(folder), "--check", "--json", "--index",
                 str(tmp_path / "qa"), "--reports", str(tmp_path / "reports"),
                 "--baseline", str(ROOT / "eval" / "baseline-squad2.json")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0, out["regressions"]
    assert out["questions"] == 100 and out["regressions"] == []
