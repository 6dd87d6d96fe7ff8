"""Turn 👎 feedback from the chat page into candidate evaluation cases to review.

Reads the feedback file the chat page appends to (`eval/feedback.jsonl`: one JSON object a
line with `verdict`, `question`, `answer`, `refused`, `citations`) and writes each 👎
question that is not already in the evaluation set as a candidate case in the set's own
format. A candidate has no acceptable answers, gold documents or evidence yet: a person
fills them in (the `review` field says what was answered and cited) and moves it into the
set. Malformed lines are skipped with a warning naming the line.

Does not: guess the right answer, or change the evaluation set itself.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from ..answering.scoring import answer_type
from ..errors import EvalSetError
from ..reading.text import fold

_TYPES = {"who": "factoid", "name": "factoid", "when": "date", "number": "number", "other": "factoid"}


def candidates_from_feedback(feedback: str | Path, *, known: set[str] = frozenset()) -> list[dict]:
    """Candidate cases for every 👎 question of `feedback` not in `known` (folded questions)."""
    path = Path(feedback)
    if not path.exists():
        raise EvalSetError(f"no feedback at {path}; give 👍/👎 on the chat page (`rag serve`) first")
    seen = {" ".join(fold(q).split()) for q in known}
    out: list[dict] = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            verdict, question = record["verdict"], record["question"].strip()
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            warnings.warn(f"skipped {path}:{lineno}: not a feedback record ({e})", stacklevel=2)
            continue
        key = " ".join(fold(question).split())
        if verdict != "down" or not question or key in seen:
            continue
        seen.add(key)
        out.append(_candidate(len(out) + 1, question, record))
    return out


def _candidate(n: int, question: str, record: dict) -> dict:
    cited = sorted({c.get("doc_id", "?") for c in record.get("citations") or []})
    got = "refused" if record.get("refused") else f"answered {record.get('answer', '')!r}"
    return {
        "id": f"fb{n:03d}", "question": question, "history": [],
        "type": _TYPES[answer_type(question)], "answers": [], "gold_docs": [], "evidence": [],
        "review": f"marked 👎: {got}; cited {', '.join(cited) or 'nothing'}. Fill in answers, "
                  f"gold_docs and evidence (or set type to unanswerable), then move it into the set.",
    }


def write_candidates(candidates: list[dict], out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in candidates),
                   encoding="utf-8")
    return out
