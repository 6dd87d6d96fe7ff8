"""Answering: an `Answer` made of verbatim quotes of the retrieved passages, or a refusal.

- `answer`: the extractive `Answerer` (sentences scored, quotes verified at their offsets,
  refusal on weak evidence), and the `Citation` and `Answer` records;
- `scoring`: answer types, content terms and the span that answers (name, date, figure);
- `features`, `reader`: the learned reader's features of each candidate sentence, and its
  two logistic models with their checked manifest (`--reader learned`);
- `rewrite`: follow-up questions made standalone;
- `conflicts`: sources that give different figures for the same thing;
- `llm`, `quotes`: the optional OpenAI-compatible LLM answerer, whose every quote is found
  verbatim in the passage it cites.

Does not: search (`rag.search`) or measure answers (`rag.evaluation`).
"""

from .answer import REFUSAL as REFUSAL
from .answer import Answer as Answer
from .answer import AnswerConfig as AnswerConfig
from .answer import Answerer as Answerer
from .answer import Citation as Citation
from .answer import check_citation as check_citation

__all__ = ["REFUSAL", "Answer", "AnswerConfig", "Answerer", "Citation", "check_citation"]
