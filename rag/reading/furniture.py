"""Tell an article's text from the page furniture a web scrape carries with it.

Works line by line on the text and returns the character ranges that hold the article,
so offsets into the original text stay valid. The rules are general, not a list of
strings from any one site:

1. Header zone: news pages put bylines, photo captions, credits and share buttons between
   the headline and the first paragraph of prose. Before the first prose line only the
   headline is kept.
2. Web-furniture vocabulary: short lines made of share/copy/embed/comment buttons, social
   network names, copyright and photo credits, "breaking news", "advertisement",
   newsletter and cookie prompts, image placeholders such as "16x9 Image".
3. An end-of-article cue ("You might also like", "Related articles", "Read more", "Most
   read", ...) ends the article: what follows is a list of links to other pages.
4. A line repeated verbatim (a caption printed twice, a share bar at top and bottom) and
   lines without letters are kept only once or not at all.
5. Boilerplate written as sentences (`rag.reading.boilerplate`): an outlet's self-description
   at the end of the article ("X journalists report the news in 27 languages ..."), and
   prompts to subscribe or donate anywhere.

The units are lines (a soft-wrapped sentence joined into one), or the blocks a caller gives:
`rag.reading.markdown` gives a Markdown file's paragraphs, list items and table rows, leaving
its headings, front matter and raw HTML out. Lines repeated across an outlet's documents are
found later, over all documents (`rag.reading.boilerplate.drop_repeated`).

Does not: remove furniture inside a prose line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .boilerplate import ends_an_article, is_promo

_WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*")
_TERMINAL = tuple(".!?:;…\"”’')»。！？")
_WIDE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0e00-\u0e7f]")
_SOCIAL = r"facebook|twitter|pinterest|linkedin|tumblr|whatsapp|reddit|telegram|instagram|flipboard"
_FURNITURE = re.compile(
    r"\b(?:share|shares|shared|comments?|copy(?:/paste)?|clipboard|copied|embed|"
    r"copyright|all rights reserved|accessibility|skip to|breaking news|advertisement|"
    r"sponsored|promoted|subscribe|newsletter|sign up|sign in|log ?in|cookies?|"
    r"follow us|close button|click here|download (?:our|the) app|print this|"
    r"about us|contact us|privacy policy|terms of (?:use|service)|"
    r"photo|image|picture|caption|credit|getty|shutterstock|"
    r"appeared (?:first )?on|originally (?:published|appeared)|"
    + _SOCIAL
    + r")\b|©|\b\d+x\d+\b",
    re.IGNORECASE,
)
_END_CUE = re.compile(
    r"^\W*(?:you (?:might|may) (?:also )?like|related(?: articles| stories| news| content| coverage)?|"
    r"read more|read next|more (?:from|on|stories)|recommended(?: for you)?|most (?:read|popular|viewed)|"
    r"also read|see also|trending|more in)\W*$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?…。！？][\"”’')»]*$")
_BYLINE = re.compile(r"^\s*(?:by|written by|reporting by)\s+[A-Z]", re.IGNORECASE)
_SHORT = 12


def _lines(text: str, start: int) -> list[tuple[int, int]]:
    """(start, end) of each non-blank line from `start`, without surrounding whitespace."""
    out = []
    for m in re.finditer(r"[^\n]+", text[start:]):
        a, b = m.span()
        seg = m.group()
        lead = len(seg) - len(seg.lstrip())
        trail = len(seg) - len(seg.rstrip())
        if b - trail > a + lead:
            out.append((start + a + lead, start + b - trail))
    return out


def _n_words(line: str) -> int:
    """Words, counting each CJK/Thai character as one (those scripts have no spaces)."""
    wide = len(_WIDE.findall(line))
    return len(_WORD.findall(_WIDE.sub(" ", line))) + wide


def is_prose(line: str) -> bool:
    """A sentence-like line: enough words and closing punctuation, or long."""
    words = _n_words(line)
    return (words >= 6 and line.rstrip().endswith(_TERMINAL)) or words >= 30


def is_furniture(line: str) -> bool:
    """A short line of web furniture (buttons, credits, bylines, placeholders)."""
    words = _WORD.findall(line)
    if not any(ch.isalpha() for ch in line):
        return True
    if _BYLINE.match(line) and len(words) <= 8 and not line.rstrip().endswith("."):
        return True
    return len(words) <= _SHORT and bool(_FURNITURE.search(line)) and not is_prose(line)


def line_units(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Lines of text[start:end], with a soft-wrapped sentence (next line starts lowercase)
    joined into one: the units the rules judge."""
    groups: list[tuple[int, int]] = []
    for a, b in _lines(text[:end] if end is not None else text, start):
        if groups:
            pa, pb = groups[-1]
            between = text[pb:a]
            if between.count("\n") == 1 and not text[pa:pb].endswith(_TERMINAL) \
                    and text[a].islower():
                groups[-1] = (pa, b)
                continue
        groups.append((a, b))
    return groups


def _kept_lines(text: str, units: Sequence[tuple[int, int]], titled: bool,
                headline: list[tuple[int, int]] | None = None) -> list[tuple[int, int]]:
    """The units that hold the article; given a list as `headline`, a headline is left out and
    put there."""
    kept: list[tuple[int, int]] = []
    seen: set[str] = set()
    in_header, have_title = True, titled
    last_key = None
    for a, b in units:
        line = " ".join(text[a:b].split())
        key = line.casefold()
        if _END_CUE.match(line) and kept:
            break
        if key == last_key and kept and text[kept[-1][0]:kept[-1][1]].split() == text[a:b].split():
            kept.pop()  # a caption printed twice: neither copy is article text
        last_key = key
        duplicate = key in seen
        seen.add(key)
        if duplicate or is_furniture(line) or is_promo(line):
            continue
        if in_header and have_title:
            if not is_prose(line):
                continue
            in_header = False
        elif in_header:  # the headline, or a lede when the page has no headline
            in_header = _n_words(line) < 15 or not is_prose(line)
            have_title = True
            if headline is not None and in_header and not _SENTENCE_END.search(line):
                headline.append((a, b))  # a title, not a sentence of the article
                continue
        kept.append((a, b))
    while kept and ends_an_article(" ".join(text[kept[-1][0]:kept[-1][1]].split())):
        kept.pop()  # an outlet's "about us" closing the page
    return kept


def content_spans(text: str, *, start: int = 0, units: Sequence[tuple[int, int]] | None = None,
                  titled: bool = False,
                  headline: list[tuple[int, int]] | None = None) -> tuple[tuple[int, int], ...]:
    """Ranges of `text` (from `start`) that hold the article: runs of kept units.

    `units` are the (start, end) lines or blocks to judge, in order (default: the lines of
    text from `start`, `line_units`); `titled` says the title was found elsewhere (a Markdown
    heading), so the first unit is not taken for the headline. A span never crosses text that
    is not kept (a dropped line, a heading, a date line), so a chunk taken inside one span
    never carries furniture. Blank lines between kept units do not split a span. Given a list
    as `headline`, the headline (a short first line that does not end a sentence) is left out
    of the spans and its range appended there: a title, never an answer sentence.
    """
    units = line_units(text, start) if units is None else units
    kept = _kept_lines(text, units, titled, headline)
    if not kept and headline:
        kept = headline[:]  # a page that is only a headline: that is its content
    spans: list[list[int]] = []
    for a, b in kept:
        if spans and not text[spans[-1][1]:a].strip():
            spans[-1][1] = b
        else:
            spans.append([a, b])
    return tuple((a, b) for a, b in spans)


def find_title(text: str, spans: tuple[tuple[int, int], ...], *, limit: int = 100) -> str | None:
    """The first kept line, shortened at a word boundary when it is a long sentence."""
    if not spans:
        return None
    a, b = spans[0]
    first = text[a:b].split("\n", 1)[0].strip()
    first = first.lstrip("#").strip()
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "…"
