"""The parts of a question that a follow-up can lean on, found from its words alone.

- `tokens`: words with their offsets, a possessive 's and a final full stop left off;
- `name_runs`: capitalised names ("Warsaw School of Economics", "Mark Rutte"), a possessive
  ending one, each knowing whether "the" comes before it;
- `Clause`: a question's question phrase ("How many NATO countries"), auxiliary ("did")
  and subject ("the library", "NATO's defense spending target");
- `answer_names`: names an answer's quote gives that its question did not, nearest the
  question's words first: where "it" or "he" in the next question may find its referent.

Does not: tag parts of speech or know any name; it reads capitals, function words and
word order, so a person and a place with one name each look alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..reading.text import fold
from .scoring import STOP, stem

PERSONAL = frozenset("he she him her his hers himself herself".split())
THING = frozenset("it its itself".split())
PLURAL = frozenset("they them their theirs themselves".split())
PRONOUNS = PERSONAL | THING | PLURAL
WH = frozenset("what which who whom whose when where why how".split())
AUX = frozenset("did does do is was are were will would can could has have had should must "
                "may might shall".split())
DO = frozenset("did does do will would can could should must may might shall".split())
BE = frozenset("is was are were".split())
DET = frozenset("the a an this that these those some any all no every each both".split())
TIME = frozenset("""january february march april may june july august september october
november december monday tuesday wednesday thursday friday saturday sunday""".split())
ROLE = frozenset("""president chief minister secretary secretary-general chancellor leader head
spokesman spokeswoman spokesperson ambassador envoy king queen pope prime general commander
official director chairman chair mayor governor senator founder ceo""".split())
_NOT_ENTITY = frozenset("share percentage year date day month time kind word number".split())
_WORD = re.compile(r"[\w$%][\w'’$%.&-]*")
NUMBER = re.compile(r"^[$€£]?\d[\d,.]*%?$")


@dataclass(frozen=True)
class Token:
    start: int
    end: int
    text: str  # without a possessive 's

    @property
    def low(self) -> str:
        return self.text.lower()

    @property
    def cap(self) -> bool:
        return self.text[:1].isupper()


def tokens(text: str) -> list[Token]:
    """The words of `text` with their offsets (a final full stop left off, but not "U.S.")."""
    out = []
    for m in _WORD.finditer(text):
        word = m.group()
        if not re.fullmatch(r"(?:[A-Z]\.)+", word):
            word = word.rstrip(".")
        out.append(Token(m.start(), m.start() + len(word), re.sub(r"['’]s?$", "", word) or word))
    return out


def possessive(text: str, tok: Token) -> bool:
    return text[tok.start:tok.end].endswith(("'s", "’s", "s'", "s’"))


def is_name(toks: list[Token], j: int) -> bool:
    """A capitalised word that is no month, day or question word opening the question."""
    t = toks[j]
    if not t.cap or t.low in TIME or t.text == "I":
        return False
    return j > 0 or (t.low not in STOP and t.low not in WH and t.low not in AUX)


def plural(word: str) -> bool:
    return len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is"))


def person_like(name: str) -> bool:
    """Capitalised words ("Mark Rutte", "Stoltenberg") or a role ("the outgoing NATO chief")."""
    words = name.split()
    if not words:
        return False
    if words[0].lower() == "the":
        return any(w.lower() in ROLE for w in words)
    return not name.isupper() and words[0].lower() not in TIME and all(
        w[:1].isupper() or w.lower() in {"de", "van", "von", "der", "al"} for w in words)


@dataclass(frozen=True)
class NameRun:
    first: int  # token indices
    last: int
    start: int  # offsets, without a possessive 's
    end: int
    text: str
    the: bool  # a lowercase "the" comes before it


def name_runs(text: str, toks: list[Token] | None = None) -> list[NameRun]:
    """Capitalised runs, split at punctuation and after a possessive; "of" may join two
    ("Warsaw School of Economics"). A lone capital opening the text is left out."""
    toks = tokens(text) if toks is None else toks
    runs, i = [], 0
    while i < len(toks):
        if not is_name(toks, i) or (i == 0 and not (len(toks) > 1 and toks[1].cap)):
            i += 1
            continue
        j = i
        while j + 1 < len(toks) and not possessive(text, toks[j]) \
                and not text[toks[j].end:toks[j + 1].start].strip() and (
                is_name(toks, j + 1) or (toks[j + 1].low in {"of", "de", "van", "von"}
                                         and j + 2 < len(toks) and toks[j + 2].cap)):
            j += 1
        the = i > 0 and text[toks[i - 1].start:toks[i - 1].end] == "the"
        end = toks[j].start + len(toks[j].text)
        runs.append(NameRun(i, j, toks[i].start, end, text[toks[i].start:end], the))
        i = j + 1
    return runs


def answer_names(question: str, quotes: Sequence[str], *,
                 kind: Literal["any", "person", "place"] = "any") -> list[str]:
    """Names in the first quote that has any which the question does not give, the one
    nearest the question's words first, with "the" where the quote has it. Words of the
    question and, for a person, titles are left off a name's front ("European Council
    President Charles Michel" -> "Charles Michel"); a person has two names or more, a place
    follows in/at/to.

    >>> answer_names("Which country lifted its veto?", ["after Hungary lifted its veto on Stockholm's bid"])
    ['Hungary', 'Stockholm']
    """
    qtoks = tokens(question)
    asked = {stem(fold(t.text)) for t in qtoks}
    named = {stem(fold(t.text)) for j, t in enumerate(qtoks) if is_name(qtoks, j)}
    for quote in quotes:
        toks = tokens(quote)
        hits = [i for i, t in enumerate(toks) if stem(fold(t.text)) in asked and t.low not in STOP]
        scored = []
        for run in name_runs(quote, toks):
            first = run.first
            while first <= run.last and (stem(fold(toks[first].text)) in named or (
                    kind == "person" and (toks[first].low in ROLE or _nationality(toks, first)))):
                first += 1
            if first > run.last or _nationality(toks, run.last) or any(
                    stem(fold(t.text)) in named for t in toks[first:run.last + 1]):
                continue
            the = run.the and first == run.first
            if kind == "person" and (the or first == run.last):
                continue
            if kind == "place" and not (first > 0 and toks[first - 1 - the].low in {"in", "at", "to"}):
                continue
            near = sum(1 / max(1, first - h, h - run.last) for h in hits)
            name = ("the " if the else "") + quote[toks[first].start:run.end]
            scored.append((-near, toks[first].start, name))
        if scored:
            return [name for _, _, name in sorted(scored)]
    return []


def _nationality(toks: list[Token], i: int) -> bool:
    """"European countries", "Dutch Prime Minister": a nationality word before a noun."""
    return (toks[i].low.endswith(("an", "ish", "ese", "ch")) and i + 1 < len(toks)
            and toks[i + 1].low not in STOP
            and (toks[i + 1].text[:1].islower() or toks[i + 1].low in ROLE))


class Clause:
    """A question's question phrase, auxiliary and subject.

    >>> Clause("When did the library open?").subject_text()
    'the library'
    """

    def __init__(self, text: str):
        self.text, self.toks = text, tokens(text)
        toks = self.toks
        w = next((i for i, t in enumerate(toks[:3]) if t.low in WH), None)
        self.wh_word = toks[w].low if w is not None else None
        self.aux = next((i for i, t in enumerate(toks[:10]) if t.low in AUX
                         and (w is None or i > w)), None)
        if w is None and self.aux != 0:
            self.aux = None  # a statement, or a question this does not read
        after = toks[self.aux + 1] if self.aux is not None and self.aux + 1 < len(toks) else None
        # "Who lifted the veto?", "How many countries were meeting ...?": the question phrase
        # is the subject.
        self.subject_wh = w is not None and (after is None or not _starts_np(after))
        if w is None:
            self.wh_end = 0
        elif self.subject_wh and toks[w].low == "who":
            self.wh_end = toks[w].end
        else:
            self.wh_end = toks[self.aux - 1].end if self.aux else toks[w].end
        self.subject = None if self.subject_wh or after is None else self._np(self.aux + 1)
        nxt = toks[w + 1] if w is not None and w + 1 < len(toks) else None
        # "Which country ...?", "What summit ...?": the answer is an entity a pronoun may mean
        self.asks_entity = (self.wh_word in {"which", "what", "whose"} and nxt is not None
                            and nxt.low not in AUX and nxt.low not in STOP
                            and stem(nxt.low) not in _NOT_ENTITY)

    @property
    def copula(self) -> bool:
        return self.aux is not None and self.toks[self.aux].low in BE

    def _np(self, i: int) -> tuple[int, int] | None:
        """The noun phrase starting at token i: "Finland", "NATO's defense spending target",
        "the president of the European Commission"; without the verb after a do-auxiliary."""
        toks, text = self.toks, self.text
        if toks[i].low in PRONOUNS:
            return None
        det = toks[i].low in DET
        j = i + 1 if det else i
        if j < len(toks) and toks[j].cap:
            while j + 1 < len(toks) and toks[j + 1].cap and not possessive(text, toks[j]):
                j += 1
            if not det and not possessive(text, toks[j]):
                return toks[i].start, toks[j].end  # a bare name: the verb follows
            j += 1
        k = j
        while k < len(toks) and self._continues_np(k):
            k += 1
        verb_after = k < len(toks) and toks[k].low in {"be", "have", "been", "get"}
        if self.aux is not None and toks[self.aux].low in DO and k > j and not verb_after:
            k -= 1  # the last word before a function word is the verb: "the library open"
        while k > i and toks[k - 1].low in {"of", "the"}:
            k -= 1
        return (toks[i].start, toks[k - 1].end) if k > i else None

    def _continues_np(self, k: int) -> bool:
        toks = self.toks
        t, before = toks[k], toks[k - 1]
        if t.low == "of":
            return k + 1 < len(toks)
        if t.cap or t.low == "the":
            return before.low in {"of", "the"} or (t.cap and before.cap)
        if t.low in STOP:
            return False
        do = self.aux is not None and toks[self.aux].low in DO  # then the verb is a base form
        return do or not (t.low.endswith(("ed", "ing"))
                          and (k + 1 == len(toks) or toks[k + 1].low in STOP))

    def subject_text(self) -> str | None:
        return self.text[self.subject[0]:self.subject[1]] if self.subject else None

    def person(self) -> str | None:
        """The subject if it names a person, else the first name that may, else a role."""
        s = self.subject_text()
        if s and person_like(s):
            return re.sub(r"['’]s$", "", s)
        for run in name_runs(self.text, self.toks):
            place = run.first > 0 and self.toks[run.first - 1].low in {
                "in", "at", "from", "into", "near", "on"}
            if not run.the and not place and person_like(run.text):
                return run.text
        m = re.search(r"\bthe\s+(?:[\w-]+\s+){0,3}?(?:" + "|".join(sorted(ROLE)) + r")\b", self.text)
        return m.group() if m else None

    def plural(self) -> str | None:
        """What "they" may mean: the things counted ("How many European soldiers ...?"), or a
        plural subject."""
        m = re.match(r"(?i)\s*how many\s+((?:[\w'’-]+\s+){0,3}?[\w'’-]+s)\b", self.text)
        if m:
            return m.group(1)
        s = self.subject_text()
        if s and (plural(s.split(" of ")[0].split()[-1].lower()) or " and " in s):
            return s
        return None

    def first_thing(self) -> str | None:
        """The first "the ..." phrase after the question phrase ("the South Carolina rally")."""
        m = re.search(r"\bthe\s+(?:[A-Z][\w'’-]*\s+)*[a-z][\w'’-]+", self.text[self.wh_end:])
        return m.group() if m else None


def _starts_np(t: Token) -> bool:
    return t.cap or t.low in DET or t.low in PRONOUNS or bool(NUMBER.match(t.text)) \
        or t.low in {"we", "you", "i"} or plural(t.low)
