"""Evaluation: how well the pipeline retrieves, answers, cites and refuses, and a regression gate.

- `evalset`: the labelled question set and the conversation set (JSONL), and BEIR folders;
- `metrics`: pure metric functions (ranx for retrieval);
- `evaluate`: runs a set through an answerer and scores it; the baseline check;
- `conversations`: runs a conversation set turn by turn, as the chat does, and scores its
  follow-up rewrites and answers by turn;
- `report`: the Markdown report and chart;
- `feedback`: 👎 answers from the chat page turned into candidate cases.

Does not: change how anything is retrieved or answered, or serve the chat page (`rag.app`).
"""

from .evalset import load_set as load_set
from .evaluate import EvalReport as EvalReport
from .evaluate import evaluate_beir as evaluate_beir

# `rag.evaluation.evaluate` stays the module (its `evaluate()` runs a set).
__all__ = ["EvalReport", "evaluate_beir", "load_set"]
