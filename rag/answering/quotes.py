"""Read an LLM's cited reply and find each quote, verbatim, in the passage it cites.

The reply format asked of the model is sentences that end in citations
`[n: "exact quote"]`; `[n] "exact quote"`, `[n: exact quote]` and bare `[n]` are read too
(a bare marker has no quote, so it proves nothing). `parse_reply` splits the reply into
`Sentence`s whose markers are replaced by placeholders, so that quoted text never confuses
the sentence splitter; each keeps its `Ref`s (passage number and quote).

`find_quote` matches a quote against a stretch of a document after folding both the same
way: NFKC, case folded, whitespace runs as one space, curly and straight quotes equal,
dashes equal. The match is mapped back to exact offsets in the original text, so
`text[start:end]` is what the document says, whatever the model typed.

Does not: judge whether a quote supports its sentence (the LLM answerer shows the quote,
never the sentence), or accept quotes with gaps ("...").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from ..reading.chunk import sentences
from .scoring import content_terms

_QUOTE_CHARS = "\"\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033"
_APOSTROPHES = "'\u2018\u2019\u201a\u201b\u2032\u02bc`\u00b4"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_TRANSLATE = str.maketrans({**{c: '"' for c in _QUOTE_CHARS}, **{c: "'" for c in _APOSTROPHES},
                            **{c: "-" for c in _DASHES}})
_EDGE = " .,;:!?\u2026'\""  # stripped from both ends of a quote before matching

_Q = f"[{_QUOTE_CHARS}]"
_MARKER = re.compile(
    rf"\[\s*(?P<n1>\d{{1,3}})\s*:\s*{_Q}(?P<q1>.+?){_Q}\s*\]"           # [2: "quote"]
    rf"|\[\s*(?P<n2>\d{{1,3}})\s*:\s*(?P<q2>[^\]\n]+?)\s*\]"              # [2: quote]
    rf"|\[\s*(?P<n3>\d{{1,3}}(?:\s*[,;]\s*\d{{1,3}})*)\s*\]"              # [2] or [2, 3] ...
    rf"(?:\s*:?\s*{_Q}(?P<q3>[^{_QUOTE_CHARS}\n]+){_Q})?",                # ... optionally "quote"
    re.DOTALL,
)
_HOLE = "\x00"
_PLACEHOLDER = re.compile(rf"{_HOLE}(\d+){_HOLE}")
_AFTER_MARKER = re.compile(rf"(?<={_HOLE})\s+(?=[A-Z])")  # "claim [1] Next claim"
_REFUSAL = re.compile(
    r"\b(?:can ?not|can't|could ?not|couldn't|unable to|don't|do not|does not|did not|doesn't)\b"
    r".{0,60}?\b(?:find|found|contain|contains|mention|say|says|state|provide|answer|know)\b"
    r"|\bnot (?:found|mentioned|stated|available|provided|given)\b|\bno (?:information|mention)\b",
    re.IGNORECASE | re.DOTALL,
)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Ref:
    """One citation marker in the reply: passage number `n` and its quote (None if bare)."""

    n: int
    quote: str | None


@dataclass(frozen=True)
class Sentence:
    """A reply sentence; `template` holds `\\x00i\\x00` where `refs[i]` stood."""

    template: str
    refs: tuple[Ref, ...]

    @property
    def is_claim(self) -> bool:
        """Whether it says anything: sentences of digits and punctuation only are not claims."""
        return any(ch.isalpha() for ch in _PLACEHOLDER.sub("", self.template))

    @property
    def plain(self) -> str:
        """The sentence without its markers."""
        return _tidy(_PLACEHOLDER.sub("", self.template))


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s+([.,;:!?)])", r"\1", text)


def clean_reply(reply: str) -> str:
    """The reply without reasoning blocks (`<think>...</think>`) or code fences."""
    reply = _THINK.sub("", reply.replace(_HOLE, ""))
    return re.sub(r"^\s*```\w*\s*$", "", reply, flags=re.MULTILINE).strip()


def parse_reply(reply: str) -> list[Sentence]:
    """The reply's sentences with their citation markers, in order.

    >>> [s.refs for s in parse_reply('Rutte leads NATO [1: "Mark Rutte"].')]
    [(Ref(n=1, quote='Mark Rutte'),)]
    """
    refs: list[Ref] = []

    def hole(m: re.Match) -> str:
        out = []
        if m.group("n3") is not None:
            numbers = [int(x) for x in re.findall(r"\d+", m.group("n3"))]
            quote = m.group("q3")
            for i, n in enumerate(numbers):  # a quote after [2, 3] belongs to the last number
                refs.append(Ref(n, quote if i == len(numbers) - 1 else None))
                out.append(f" {_HOLE}{len(refs) - 1}{_HOLE}")
            return "".join(out)
        n, quote = (m.group("n1"), m.group("q1")) if m.group("n1") else (m.group("n2"), m.group("q2"))
        refs.append(Ref(int(n), quote))
        return f" {_HOLE}{len(refs) - 1}{_HOLE}"

    template = _MARKER.sub(hole, clean_reply(reply))
    out: list[Sentence] = []
    for piece in _split(template):
        if not piece:
            continue
        lead = re.match(rf"^(?:{_HOLE}\d+{_HOLE}\s*[.,;:!?]*\s*)+", piece)
        if lead and out:  # markers placed after the full stop belong to the sentence before
            prev = out[-1]
            out[-1] = Sentence(prev.template + " " + lead.group(), prev.refs)
            piece = piece[lead.end():].strip()
            if not piece:
                continue
        out.append(Sentence(piece, ()))
    return [_local(s.template, refs) for s in out]


def _split(template: str) -> Iterator[str]:
    """Sentences of the template: lines, then sentencex's sentences, then after markers."""
    for line in template.split("\n"):
        for a, b in sentences(line):
            yield from (p.strip() for p in _AFTER_MARKER.split(line[a:b]))


def _local(template: str, refs: list[Ref]) -> Sentence:
    """A sentence whose placeholders count from 0, with its own refs."""
    mine = [refs[int(i)] for i in _PLACEHOLDER.findall(template)]
    count = iter(range(len(mine)))
    return Sentence(_PLACEHOLDER.sub(lambda m: f"{_HOLE}{next(count)}{_HOLE}", template), tuple(mine))


def fold_map(text: str, start: int = 0, end: int | None = None) -> tuple[str, list[int], list[int]]:
    """`text[start:end]` folded for matching, with each folded character's source offsets.

    Folded character i comes from `text[starts[i]:ends[i]]` (a character with its combining
    marks, which may fold to several characters).
    """
    end = len(text) if end is None else end
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    i = start
    while i < end:
        j = i + 1
        while j < end and unicodedata.combining(text[j]):
            j += 1
        for ch in unicodedata.normalize("NFKC", text[i:j]).casefold().translate(_TRANSLATE):
            if ch.isspace():
                if not chars or chars[-1] == " ":
                    continue
                ch = " "
            chars.append(ch)
            starts.append(i)
            ends.append(j)
        i = j
    return "".join(chars), starts, ends


def fold(text: str) -> str:
    """`text` folded for matching (see `fold_map`), outer spaces trimmed."""
    return fold_map(text)[0].strip()


def usable(quote: str) -> bool:
    """Whether a quote could support anything: it holds at least one content word."""
    return bool(content_terms(quote))


def find_quote(quote: str, text: str, start: int = 0, end: int | None = None) -> tuple[int, int] | None:
    """Exact (start, end) in `text`, inside [start, end), of the folded `quote`, or None.

    The match must not begin or end inside a word. When the whole quote is not found, it is
    tried again without the punctuation, quote marks and "..." at its ends.

    >>> find_quote("mark  rutte", "Then Mark Rutte spoke.")
    (5, 15)
    """
    whole = fold(quote)
    hay, starts, ends = fold_map(text, start, end)
    for needle in dict.fromkeys((whole, whole.strip(_EDGE))):
        at = hay.find(needle) if needle else -1
        while at >= 0:
            last = at + len(needle) - 1
            if _whole(hay, starts, at, last):
                return starts[at], ends[last]
            at = hay.find(needle, at + 1)
    return None


def _whole(hay: str, starts: list[int], first: int, last: int) -> bool:
    """Whether hay[first:last + 1] neither cuts a word nor a folded character in two."""
    before, after = first - 1, last + 1
    if before >= 0 and (starts[before] == starts[first]
                        or hay[first].isalnum() and hay[before].isalnum()):
        return False
    return not (after < len(hay) and (starts[after] == starts[last] or unicodedata.combining(hay[after])
                                      or hay[last].isalnum() and hay[after].isalnum()))


def is_refusal(reply: str) -> bool:
    """Whether the reply says the passages do not hold the answer."""
    return bool(_REFUSAL.search(fold_map(clean_reply(reply))[0]))
