"""Turn a follow-up question into one that stands on its own.

"When does he start?" after "Who will succeed Stoltenberg?" becomes "When does Mark Rutte
start?" when the earlier answer named Mark Rutte, and otherwise carries the earlier question
along as context. "And what about 2016?" after a question that named a year swaps the year
in. A self-contained question is returned unchanged. Only the last user turn (and its
answer, when known) is used, so a history of hundreds of turns costs nothing.

Rule-based and deterministic; does not: call a language model, or resolve references
further back than the previous turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PRONOUN = re.compile(
    r"\b(he|she|him|her|his|hers|they|them|their|theirs|it|its|this|that|these|those|there|"
    r"the same)\b", re.IGNORECASE)
_PERSONAL = re.compile(r"\b(he|she|him|her|his|they|them|their)\b", re.IGNORECASE)
_ELLIPSIS = re.compile(
    r"^\s*(?:and|but|so|also)?\s*(?:what|how)\s+about\s+(?P<x>.+?)\s*\??\s*$|"
    r"^\s*(?:and|but)\s+(?P<y>.+?)\s*\??\s*$", re.IGNORECASE)
_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")
_DANGLING = re.compile(r"^\s*(?:what about it|and then|why|how come|really|such as)\W*$", re.IGNORECASE)


@dataclass(frozen=True)
class Turn:
    """An earlier user question and, when known, the key phrase its answer gave."""

    question: str
    answer_focus: str | None = None


def needs_context(question: str) -> bool:
    """True when the question leans on an earlier turn (pronoun, ellipsis, 'what about')."""
    q = question.strip()
    if _ELLIPSIS.match(q) or _DANGLING.match(q):
        return True
    words = re.findall(r"[\w'’-]+", q)
    has_name = any(w[:1].isupper() for w in words[1:]) or bool(re.search(r"\d", q))
    return bool(_PRONOUN.search(q)) and (len(words) <= 8 or not has_name)


def rewrite(question: str, previous: Turn | None) -> str:
    """A standalone version of `question`, given the previous turn (or None).

    >>> rewrite("When does he start?", Turn("Who will succeed Stoltenberg?", "Mark Rutte"))
    'When does Mark Rutte start?'
    """
    q = " ".join(question.split())
    if previous is None or not needs_context(q):
        return q
    prev = " ".join(previous.question.split())
    ellipsis = _ELLIPSIS.match(q)
    if ellipsis:
        return _swap_in(prev, (ellipsis.group("x") or ellipsis.group("y")).strip())
    if _DANGLING.match(q):
        return f"{prev} {q}"
    if previous.answer_focus and _PERSONAL.search(q):
        return _PERSONAL.sub(lambda m: _as_case(previous.answer_focus, m.group(0)), q, count=1)
    return f"{q} ({prev})"


def _as_case(name: str, pronoun: str) -> str:
    return name + "'s" if pronoun.lower() in ("his", "their") else name


def _swap_in(previous: str, focus: str) -> str:
    """Put `focus` in the place of the same kind of thing in the previous question."""
    focus = focus.rstrip("?. ")
    if _YEAR.fullmatch(focus) and _YEAR.search(previous):
        return _YEAR.sub(focus, previous, count=1)
    return f"{previous.rstrip('?. ')}, about {focus}?"
