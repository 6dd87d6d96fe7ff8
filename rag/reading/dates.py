"""An article's date from a date line near its top: "Published 2025-04-02", "Updated March 3,
2024", "Posted on 3 March 2024", "2024-09-19", " date 2024-09-19 The outgoing NATO chief ...".

A date line is a line that holds a date and, besides it, only a label ("published",
"updated", "posted on", "date", ...), a weekday, a time and a time zone, separators, or a
byline ("By Jane Doe | March 3, 2024"). A line that starts with a labelled date and goes on
with the article ("date 2024-09-19 The outgoing ...") gives the date from its start. The date
itself is found by shape (ISO, a month name with a day and a year, or a numeric day and month
that cannot be read both ways) and checked and read by python-dateutil, so "February 30,
2024" is no date. `find_date` looks at the first lines of the article, before its first
paragraph of prose: a date inside the story ("On March 3, 2024, the council voted ...") is
never taken.

Does not: read relative dates ("2 hours ago"), guess between day-first and month-first
readings of "03/04/2024" (no date), or look for dates in the middle or at the end.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
import warnings
from collections.abc import Callable, Sequence

_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_YEAR = r"(?:19|20)\d{2}"
_DATE = re.compile(
    rf"\b{_YEAR}-\d{{1,2}}-\d{{1,2}}(?=\b|T)"                               # 2024-09-19
    rf"|\b{_YEAR}/\d{{1,2}}/\d{{1,2}}\b"                                    # 2024/09/19
    rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+{_YEAR}\b"              # March 3, 2024
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?(?:\s+of)?\s+{_MONTH},?\s+{_YEAR}\b"    # 3 March 2024
    rf"|\b\d{{1,2}}[./]\d{{1,2}}[./]{_YEAR}\b",                            # 19.09.2024
    re.IGNORECASE,
)
_ANY_YEAR = re.compile(_YEAR)
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_LABEL = re.compile(
    r"^(?:(?:first|last|originally|date)\s+)?(?:published|updated|posted|dated?|modified|"
    r"created|released|written|issued)\b(?:\s+(?:on|at))?\s*[:\-–—]?\s*",
    re.IGNORECASE,
)
# What may stand beside the date on a date line: weekdays, times, zones, small words.
_BESIDE = re.compile(
    r"\b(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?"
    r"|(?<![\d:])\d{1,2}(?::\d{2}){1,2}(?:\.\d+)?\s*(?:[ap]\.?m\.?)?|\b\d{1,2}\s*[ap]\.?m\.?"
    r"|(?-i:\b[A-Z]{2,5}\b)|\b[ap]\.m\.|\b(?:utc|gmt)(?:[+-]\d{1,2}(?::?\d{2})?)?"
    r"|[+-]\d{2}:?\d{2}\b|T(?=\d)|(?<=\d)Z\b|\b(?:on|at|and|updated|published|last|modified|posted)\b",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"^\s*(?:by|written by|reporting by)\s+[A-Z][^|•·]*[|•·]", re.IGNORECASE)
_LEAD = re.compile(r"[\s>*_#`~\-+]*")
_TRIM = " ,|•·-–—()[].*_`~\t"
_LOOK = 8  # lines looked at, at most


def parse_date(text: str) -> str | None:
    """The ISO date (YYYY-MM-DD) that `text` names, or None.

    >>> parse_date("Updated March 3, 2024")
    '2024-03-03'
    """
    found = _date_in(text)
    return found[0] if found else None


def _date_in(text: str) -> tuple[str, re.Match] | None:
    if not _ANY_YEAR.search(text):  # the common case: no year, no date
        return None
    for match in _DATE.finditer(text):
        iso = _read(match.group())
        if iso is not None:
            return iso, match
    return None


@functools.lru_cache(maxsize=4096)
def _read(expression: str) -> str | None:
    """dateutil's reading of a date expression, or None when it is no date or ambiguous."""
    from dateutil import parser

    iso = _ISO.fullmatch(expression)
    if iso:  # 2024-09-19: no need for dateutil
        try:
            return _dt.date(*map(int, iso.groups())).isoformat()
        except ValueError:
            return None

    numeric = re.fullmatch(r"(\d{1,2})[./](\d{1,2})[./](\d{4})", expression)
    day_first = False
    if numeric:
        a, b = int(numeric.group(1)), int(numeric.group(2))
        if a <= 12 and b <= 12 and a != b:
            return None  # 03/04/2024: March or April?
        day_first = a > 12
    cleaned = re.sub(r"(?<=\d)(?:st|nd|rd|th)\b|\bof\b", "", expression, flags=re.IGNORECASE)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            when = parser.parse(cleaned, dayfirst=day_first, yearfirst=not numeric)
    except (ValueError, OverflowError):
        return None
    return when.date().isoformat()


def date_line(line: str) -> tuple[str, int] | None:
    """(ISO date, length of the metadata at the start of `line`) when `line` is a date line or
    starts with a labelled date; None otherwise.

    >>> date_line("Posted on 3 March 2024")
    ('2024-03-03', 22)
    >>> date_line(" date 2024-09-19 The outgoing NATO chief ...")
    ('2024-09-19', 17)
    """
    lead = _LEAD.match(line).end()
    body = line[lead:]
    label = _LABEL.match(body)
    rest = body[label.end():] if label else body
    found = _date_in(rest)
    if found is None:
        return None
    iso, match = found
    before = _BESIDE.sub("", rest[:match.start()]).strip(_TRIM)
    after = _DATE.sub("", rest[match.end():])  # "Published 2 April 2025, updated 3 April 2025"
    if not before and not _BESIDE.sub("", after).strip(_TRIM):
        return iso, len(line)
    if label and not before and after[:1] in (" ", "\t"):  # the article goes on after it
        stop = lead + label.end() + match.end()
        while stop < len(line) and line[stop] in " \t":
            stop += 1
        return iso, stop
    if _BYLINE.match(rest[:match.start()]) and not _BESIDE.sub("", after).strip(_TRIM):
        return iso, len(line)
    return None


def find_date(text: str, lines: Sequence[tuple[int, int]], *,
              prose: Callable[[str], bool]) -> tuple[str, tuple[int, int]] | None:
    """The first date line among the first `lines` before the first line of prose (the line
    that starts with a labelled date counts even when it goes on as prose), as (ISO date,
    (start, end) of the metadata in `text`).

    >>> find_date("Published 2025-04-02\\nText.", [(0, 20), (21, 26)], prose=lambda s: True)
    ('2025-04-02', (0, 20))
    """
    for a, b in lines[:_LOOK]:
        found = date_line(text[a:b])
        if found is not None:
            return found[0], (a, a + found[1])
        if prose(text[a:b]):
            return None
    return None
