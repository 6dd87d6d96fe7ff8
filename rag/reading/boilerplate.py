"""Boilerplate written as sentences, which the line rules of `rag.reading.furniture` let by.

Two general rules, no strings from any one outlet:

1. What an outlet says about itself (`is_self_description`): a paragraph that names the
   newsroom (its journalists, reporters, "a nonprofit news organization", "our newsroom")
   together with what it does or how far it reaches ("report the news in 27 languages",
   "free press", "we provide", "founded in 1949", "support our journalism"). Cut only from the
   end of an article (`ends_an_article`), where "about us" footers stand, so a story
   about a newsroom keeps its sentences. A reader prompt (`is_promo`: "Get the day's top
   stories in your inbox", "Support independent journalism: donate today") is cut anywhere.
   Both are short: a paragraph of more than `MAX_WORDS` words is article prose.
2. Repetition across one outlet's documents (`drop_repeated`): a line found, normalised, in
   at least `min_docs` documents of one folder is the outlet's furniture (a footer, a
   newsletter box, a standing disclaimer) and leaves every one of them. A document that
   would lose more than half its text this way is left as it is: it is a copy of the same
   story, not a page around one.

Does not: compare documents of different folders, or cut boilerplate inside a line of
article text.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .ingest import Document

Spans = tuple[tuple[int, int], ...]

MAX_WORDS = 80  # the longest paragraph either rule 1 or a reader prompt may take out

_NEWSROOM = re.compile(
    r"\b(?:journalists?|reporters?|correspondents?|editors|newsrooms?|journalism|"
    r"(?:news|media|journalism|broadcasting|publishing)\s+(?:organi[sz]ations?|outlets?|"
    r"agency|agencies|services?|sites?|websites?|company|companies|networks?|platforms?)|"
    r"newspapers?|magazines?|broadcasters?|publications?|publishers?)\b",
    re.IGNORECASE,
)
_MISSION = re.compile(
    r"\b(?:in|across)\s+(?:more than\s+|over\s+)?\d+\s+(?:languages|countries|markets|cities)\b|"
    r"\b(?:non-?profit|not-for-profit|nonpartisan|non-partisan|award-winning|reader-supported|"
    r"listener-supported|free press|uncensored|editorially independent|independent journalism|"
    r"founded in \d{4}|our (?:mission|journalism|reporting|reporters|journalists|newsroom|"
    r"coverage|audience|readers)|we (?:provide|publish|report|cover|deliver|believe|are)|"
    r"report the news|support (?:us|our|independent)|donat(?:e|ions?|ing)|about us)\b",
    re.IGNORECASE,
)
_PROMO = re.compile(
    r"\b(?:inbox|newsletters?|subscribe|subscription|subscribers?|sign(?:ing)? up|donate|"
    r"donations?|become a (?:member|subscriber|supporter|patron)|support (?:our|independent) "
    r"(?:journalism|reporting|work))\b",
    re.IGNORECASE,
)
_READER = re.compile(r"\b(?:you|your|yours)\b|^\W*(?:get|sign|subscribe|support|donate|join|"
                     r"become|follow|receive|stay)\b", re.IGNORECASE)
_NEWS = re.compile(r"\b(?:news|stories|story|headlines|newsletters?|journalism|reporting|"
                   r"briefing|updates|coverage|digest)\b", re.IGNORECASE)
_ABOUT = re.compile(r"^\W*about\b", re.IGNORECASE)


def is_self_description(line: str) -> bool:
    """An outlet describing itself: a newsroom word and a mission or reach phrase, in a
    paragraph of at most `MAX_WORDS` words.

    >>> is_self_description("RFE/RL journalists report the news in 27 languages in 23 countries.")
    True
    """
    return _short(line) and bool(_NEWSROOM.search(line) and _MISSION.search(line))


def _short(line: str) -> bool:
    """Boilerplate is a short paragraph: a longer one is article prose, whatever words it has
    (a 450-word paragraph naming "Hello! magazine" and a "non-profit empire" is a story)."""
    return len(line.split()) <= MAX_WORDS


def is_promo(line: str) -> bool:
    """A prompt to the reader to subscribe, sign up or donate for the outlet's news.

    >>> is_promo("Get the day's top stories delivered to your inbox every morning.")
    True
    """
    low = line.lower()
    if not _short(line):
        return False
    if not ("sign" in low or "subscri" in low or "newsletter" in low or "inbox" in low
            or "donat" in low or "support" in low or "become a" in low):
        return False  # the common case, a plain sentence: found fast
    return bool(_PROMO.search(line) and _READER.search(line) and _NEWS.search(line))


def ends_an_article(line: str) -> bool:
    """True for what may close a page after its article: a self-description, a promo, or a
    short "About ..." heading above them (`rag.reading.furniture` drops the run of these at
    the end of the kept lines)."""
    return (is_self_description(line) or is_promo(line)
            or bool(_ABOUT.match(line) and len(line.split()) <= 6))


# --- repetition across documents -------------------------------------------------------------

def _key(line: str) -> str:
    return " ".join(line.split()).casefold()  # split() also splits at no-break spaces


def _lines(text: str, spans: Spans) -> list[tuple[int, int]]:
    """(start, end) of every line inside `spans`, surrounding whitespace trimmed."""
    out = []
    for a, b in spans:
        for m in re.finditer(r"[^\n]+", text[a:b]):
            seg = m.group()
            lead, trail = len(seg) - len(seg.lstrip()), len(seg) - len(seg.rstrip())
            if m.end() - trail > m.start() + lead:
                out.append((a + m.start() + lead, a + m.end() - trail))
    return out


def base_hash(doc: Document) -> str:
    """The content hash of a document's text, without the mark `drop_repeated` adds."""
    return doc.hash.split("+", 1)[0]


def drop_repeated(documents: Sequence[Document], *, context: Iterable[Document] = (),
                  base: Callable[[Document], Spans], min_docs: int = 3) -> list[Document]:
    """`documents` with the lines that repeat across `min_docs` documents of one folder taken
    out of their spans. `context` documents (already in the index) are counted, not changed.

    `base(doc)` gives a document's spans before this rule: it is called only for documents
    this rule changed before (their hash carries a `+` mark), so counting starts from what the
    other rules kept. A changed document's hash becomes `<content hash>+<digest of what was
    dropped>`, so an index re-chunks it; `base_hash` gives the content hash back.
    """
    documents = list(documents)
    everyone = documents + list(context)
    size: dict[str, int] = {}
    for d in everyone:
        size[_folder(d)] = size.get(_folder(d), 0) + 1
    everyone = [d for d in everyone if size[_folder(d)] >= min_docs]
    if not everyone:
        return [_unmarked(d, base) for d in documents]
    spans = {id(d): (base(d) if "+" in d.hash else d.spans) for d in everyone}
    lines = {id(d): _lines(d.text, spans[id(d)]) for d in everyone}
    keys = {id(d): [_key(d.text[a:b]) for a, b in lines[id(d)]] for d in everyone}
    counts: dict[tuple[str, str], int] = {}
    for d in everyone:
        folder = _folder(d)
        for key in set(keys[id(d)]):
            counts[folder, key] = counts.get((folder, key), 0) + 1
    out = []
    for d in documents:
        if id(d) not in spans:  # in a folder of fewer than `min_docs` documents
            out.append(_unmarked(d, base))
            continue
        folder = _folder(d)
        drop = [ab for ab, key in zip(lines[id(d)], keys[id(d)])
                if counts[folder, key] >= min_docs]
        kept = spans[id(d)]
        if drop and 2 * sum(b - a for a, b in drop) <= sum(b - a for a, b in kept):
            new = _without(d.text, kept, drop)
            mark = hashlib.sha256(json.dumps(drop).encode()).hexdigest()[:16]
            out.append(replace(d, spans=new, hash=f"{base_hash(d)}+{mark}"))
        else:
            out.append(d if "+" not in d.hash else replace(d, spans=kept, hash=base_hash(d)))
    return out


def _folder(doc: Document) -> str:
    return os.path.dirname(os.path.abspath(doc.source))


def _unmarked(doc: Document, base: Callable[[Document], Spans]) -> Document:
    """`doc` with the spans and hash of the rules of one document alone."""
    return doc if "+" not in doc.hash else replace(doc, spans=base(doc), hash=base_hash(doc))


def _without(text: str, spans: Spans, drop: Sequence[tuple[int, int]]) -> Spans:
    """`spans` split around the `drop` ranges (each inside one span), whitespace trimmed."""
    out = []
    for a, b in spans:
        at = a
        for x, y in sorted((x, y) for x, y in drop if a <= x and y <= b):
            out.append((at, x))
            at = y
        out.append((at, b))
    trimmed = []
    for a, b in out:
        piece = text[a:b]
        if piece.strip():
            trimmed.append((a + len(piece) - len(piece.lstrip()), b - len(piece) + len(piece.rstrip())))
    return tuple(trimmed)
