"""Units a question asks its figure in, and whether a sentence's figure is given in one.

`unit_named(asking)` reads the unit from the folded asking part of a question ("How long in
kilometres...?": "kilometre"; "what percentage": "percent"); `in_unit(sentence, figure,
unit)` says whether the figure matched at `figure` is written in it ("1,340 km", "€2.5
billion", "2%"); `MEASURE` finds a share or a sum of money, which does not answer "how many".

Does not: find figures or read questions' other words (`rag.answering.scoring` does).
"""

from __future__ import annotations

import re

# each unit a pattern of its own
UNITS = {
    "euro": r"€|\beur(?:os?)?\b",
    "dollar": r"\$|\bdollars?\b|\busd\b",
    "pound": r"£|\bpounds?\b|\bgbp\b",
    "kilometre": r"\bkilomet(?:re|er)s?\b|\bkm\b",
    "mile": r"\bmiles?\b",
    "metre": r"\bmet(?:re|er)s?\b|\bm\b",
    "percent": r"%|\bper ?cent\b",
}
_ASKED = re.compile(
    r"\b(?:in|how many|what(?: is| was)? the number of) (euros?|dollars?|pounds? sterling|"
    r"kilomet(?:re|er)s|km|miles|met(?:re|er)s)\b|\bwhat (percent)(?:age)?\b")
# a share or a sum of money, which does not answer "how many"
MEASURE = re.compile(r"%|\bper ?cent\b|[$€£]", re.IGNORECASE)
_SCALE = r"(?:\s?(?:bn|billion|million|trillion|thousand|hundred))?"
_SIGN = {u: re.compile(p, re.IGNORECASE) for u, p in UNITS.items()}
_AFTER = {u: re.compile(rf"{_SCALE}[\s-]?(?:{p})", re.IGNORECASE) for u, p in UNITS.items()}


def unit_named(asking: str) -> str | None:
    """The unit named in `asking` (a question's asking part, folded), or None."""
    m = _ASKED.search(asking)
    if m is None:
        return None
    word = (m.group(1) or m.group(2)).replace("kilometer", "kilometre").replace("meter", "metre")
    return next(u for u in UNITS if word.startswith(u) or word == "km" and u == "kilometre")


def in_unit(sentence: str, figure: re.Match, unit: str) -> bool:
    """Whether the figure at `figure` is given in `unit`: its sign in it ("€3", "2%"; a
    currency sign before the digits is part of the figure), or its word right after it, past
    a scale ("95 billion euros", "1,340-kilometre"). Read on the sentence itself, so offsets
    stay true."""
    return bool(_SIGN[unit].search(figure.group()) or _AFTER[unit].match(sentence, figure.end()))
