"""Spot sources that give different figures for the same thing, and lead with the newest.

When a chosen answer sentence states a figure ("23 of NATO's 32 countries") and a strong
candidate sentence from another document states another figure for the same counted thing
("now includes 31 countries"), the answer leads with the sentence of the most recently dated
document (an undated document counts as oldest) and cites the other as disagreeing.

Does not: judge which source is right, or compare anything but figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .scoring import figure_words


@dataclass(frozen=True)
class Conflict:
    """`lead` (newest source) and `other` give `lead_figure` and `other_figure` of `thing`."""

    lead: Any
    other: Any
    thing: str
    lead_figure: str
    other_figure: str
    word: str = field(default="", compare=False)  # the counted thing as the lead source wrote it


def _date_key(candidate, docs) -> str:
    return docs[candidate.passage.doc_id].date or ""


def find(chosen: list, candidates: list, *, strength: float = 0.65) -> Conflict | None:
    """The first disagreement between a chosen sentence and a strong one from another document."""
    if not candidates:
        return None
    floor = strength * candidates[0].score
    rivals = [c for c in candidates[:12] if c.score >= floor]
    for c in chosen:
        for number, thing, word in figure_words(c.text):
            for o in rivals:
                if o.passage.doc_id == c.passage.doc_id:
                    continue
                for other_number, other_thing, other_word in figure_words(o.text):
                    if other_thing == thing and other_number != number:
                        return Conflict(c, o, thing, number, other_number, word)
    return None


def order(chosen: list, candidates: list, docs: dict) -> tuple[list, Conflict | None]:
    """`chosen` reordered to lead with the newest of two disagreeing sources, and the conflict."""
    conflict = find(chosen, candidates)
    if conflict is None:
        return chosen, None
    a, b = conflict.lead, conflict.other
    if _date_key(b, docs) > _date_key(a, docs):
        word = next((w for _, t, w in figure_words(b.text) if t == conflict.thing), conflict.word)
        conflict = Conflict(b, a, conflict.thing, conflict.other_figure, conflict.lead_figure, word)
    rest = [c for c in chosen if c is not conflict.lead and c is not conflict.other]
    return [conflict.lead, conflict.other] + rest[:1], conflict


def note(conflict: Conflict, numbers: dict) -> str:
    """A sentence telling the reader the sources disagree, citing both by number."""
    lead, other = conflict.lead.passage, conflict.other.passage
    lead_n = numbers.get((lead.doc_id, conflict.lead.start))
    other_n = numbers.get((other.doc_id, conflict.other.start))
    lead_when = f"dated {lead.date}" if lead.date else "undated"
    other_when = f"dated {other.date}" if other.date else "undated"
    return (f"Note: the sources disagree. The most recent ({lead_when}) [{lead_n}] gives "
            f"{conflict.lead_figure} {conflict.word or conflict.thing}; \u201c{other.title}\u201d ({other_when}) "
            f"[{other_n}] gives {conflict.other_figure}.")
