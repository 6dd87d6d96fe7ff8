"""Lexical signals for choosing answer sentences: content terms, answer types, spans.

- `content_terms`: the words of a question that carry meaning (no stop words), with
  names and numbers marked, folded for matching (case, accents, no-break spaces).
- `answer_type`: who / name / when / number / other, from the wording of the sentence that
  asks (`asking_part`), not of a statement before it.
- `focus_span`: inside a sentence, the span that answers that type (a name, a date, a
  number or amount), as offsets into the sentence.
- `figures`: the (number, thing counted) pairs a sentence states, to spot sources that
  disagree ("31 countries" against "32 countries").

Does not: embed anything, or know any fact; it reads words and patterns only.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from typing import Literal

from ..reading.chunk import sentences
from ..reading.text import fold, words
from .units import MEASURE, in_unit, unit_named

AnswerType = Literal["who", "name", "when", "number", "other"]

STOP = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each either ever few for from
further had has have having he her here hers herself him himself his how i if in into is it its
itself just let me more most my myself no nor not now of off on once only or other our ours out
over own per same say said says she should so some such than that the their theirs them then there
these they this those through to too under until up upon us very was we were what when where which
while who whom whose why will with would yet you your yours tell told exactly according kind
many much did does do happen happened mention mentioned article articles source sources report
""".split())

_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
           r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DATE = re.compile(
    rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b|\b\d{{1,2}}\s+{_MONTHS}(?:\s+\d{{4}})?\b|"
    rf"\b{_MONTHS}\s+\d{{4}}\b|\b(?:in|since|by|until|from|of)\s+{_MONTHS}(?:\s+\d{{4}})?(?=\W|$)|"
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b|"
    r"\b\d{4}-\d{2}-\d{2}\b|\b(?:1[89]\d\d|20\d\d)\b",
    re.IGNORECASE,
)
_CALENDAR = re.compile(rf"{_MONTHS}|(?:mon|tues|wednes|thurs|fri|satur|sun)day", re.IGNORECASE)
_SPELLED = (r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
            r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
            r"eighty|ninety|hundred|thousand|dozen|half|a decade|a dozen")
_NUMBER = re.compile(
    rf"(?:[$€£]\s?)?\b\d[\d,.]*(?:\s?(?:%|percent|per cent|billion|million|trillion|thousand))?"
    rf"|\b(?:{_SPELLED})(?:[\s-](?:{_SPELLED}))*(?:\s(?:percent|per cent|billion|million))?\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:[A-Z][\w'’.-]*|de|van|von|der|al))*\b")
_ABBREVIATION = re.compile(r"^(?:[A-Z]\.)+$|^(?:Mr|Mrs|Ms|Dr|St|Jr|Sr|Gen|Lt|Col|Sen|Rep|Gov)\.$")
_TITLES = frozenset("""
president president-elect prime minister secretary secretary-general general chancellor chief
former leader head ambassador foreign defense defence minister's mr mrs ms dr sir
dutch french german british american russian ukrainian swedish finnish turkish european
nato us u.s u.s. eu un the in on at with said but and however
""".split())


def stem(word: str) -> str:
    """A light stem: enough to match 'spending'/'spend', 'countries'/'country'."""
    word = word.removesuffix("'s")
    for suffix in ("ies", "ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def content_terms(text: str) -> dict[str, float]:
    """Stemmed meaningful words of `text` with weights: names and numbers count double."""
    terms: dict[str, float] = {}
    raw = re.findall(r"[\w$%]+(?:['’.-][\w]+)*", text)
    for i, word in enumerate(raw):
        w = fold(word).rstrip(".")
        if w in STOP or len(w) < 2:
            continue
        weight = 2.0 if (word[:1].isupper() and i > 0) or any(ch.isdigit() for ch in w) else 1.0
        key = stem(w)
        terms[key] = max(terms.get(key, 0.0), weight)
    return terms


def coverage(terms: dict[str, float], text: str) -> float:
    """Share of the terms' weight found in `text` (0 when there are no terms)."""
    if not terms:
        return 0.0
    present = {stem(w) for w in words(text)}
    return sum(w for t, w in terms.items() if t in present) / sum(terms.values())


_WH = re.compile(r"\b(?:what|which|who|whom|whose|when|where|why|how)\b")
# "which (one or two describing words) noun": the nouns that name a person, or a named thing
_DESCRIBING = (r"(?:(?!(?:is|was|are|were|did|does|do|has|have|had|will|would|can|could|"
               r"the|a|an)\b)[\w-]+ ){0,2}")
_PERSON = (r"leader|person|official|politician|president|minister|prime minister|celebrity|singer|"
           r"actor|actress|star|musician|rapper|player|athlete|footballer|quarterback|coach|senator|"
           r"governor|mayor|ceo|founder|author|writer|director|billionaire|candidate|judge|artist|"
           r"comedian|host|astronaut|scientist|journalist|prince|princess|king|queen|pope")
_NAMED = (r"country|nation|state|city|town|capital|region|province|island|continent|company|firm|"
          r"brand|retailer|carmaker|automaker|airline|bank|network|channel|newspaper|outlet|"
          r"magazine|app|platform|website|team|club|band|party|organi[sz]ation|agency|university|"
          r"airport|river|language|giant")


def asking_part(question: str) -> str:
    """The sentence of `question` that asks, when a statement comes first ("Sen. Feinstein
    will not run again. What year was she first elected?"): the last sentence with a question
    mark or a question word; the whole question otherwise."""
    parts = [question[a:b] for a, b in sentences(question)]
    asking = [p for p in parts if p.rstrip().endswith("?") or _WH.search(fold(p))]
    return asking[-1] if len(parts) > 1 and asking else question


def answer_type(question: str) -> AnswerType:
    """What the question asks for, read from its first question word on: "What did Trump
    say he told a leader who asked..." asks for words, not for the leader's name. A statement
    before the asking sentence is not read."""
    q = fold(asking_part(question))
    wh = _WH.search(q)
    if wh is None:
        return "other"
    head, find = q[wh.start():], re.match
    if find(r"how (?:many|much|big|large|long|far|old)\b|"
            r"what (?:share|percentage|percent|proportion|number|amount|figure)\b", head):
        return "number"
    if find(r"when\b|(?:what|which) (?:year|date|day|month)\b", head):
        return "when"
    if find(rf"who(?:m|se)?\b|(?:which|what) {_DESCRIBING}(?:{_PERSON})s?\b", head):
        return "who"
    if find(rf"(?:which|what) {_DESCRIBING}(?:{_NAMED})\b", head):
        return "name"
    return "other"


def is_question(sentence: str) -> bool:
    """True when `sentence` asks rather than states (it ends with a question mark, before any
    closing quote or bracket): it answers nothing."""
    return sentence.rstrip().rstrip("\"'”’)]»").endswith("?")


_SEVERAL = re.compile(r"\b(?:what|which|who) (?:are|were)\b|\blist\b|\bname (?:the|all|two|three|some)\b|"
                      r"\b(?:two|three|four|several|some|main) (?:\w+ )?(?:reasons|ways|countries|"
                      r"members|things|steps|issues|causes|effects|examples)\b", re.IGNORECASE)


def asks_for_several(question: str) -> bool:
    """True when the question asks for several things ("What are...", "list", "three reasons")."""
    return bool(_SEVERAL.search(question))


def focus_span(sentence: str, kind: AnswerType, question: str = "") -> tuple[int, int] | None:
    """The (start, end) in `sentence` that answers a who/name/when/number question, if any."""
    if kind == "when":
        given = fold(question)
        return next((m.span() for m in _DATE.finditer(sentence) if fold(m.group()) not in given),
                    None)
    if kind == "number":
        return _number_span(sentence, question)
    if kind in ("who", "name"):
        return _name_span(sentence, question, person=kind == "who")
    return None


def _name_span(sentence: str, question: str, *, person: bool = False) -> tuple[int, int] | None:
    """A name the question does not give, preferring one beside a word of the question. For
    a person it is a full name ("Mark Rutte"); otherwise one word ("Brazil") will do where it
    does not start the sentence."""
    asked = {stem(w) for w in words(question)}
    terms = set(content_terms(question))
    found = []
    for run in _name_runs(sentence):
        span = _strip_titles(sentence, run)
        if span is None or (person and len(sentence[span[0]:span[1]].split()) < 2) \
                or {stem(w) for w in words(sentence[span[0]:span[1]])} & asked:
            continue
        near = [stem(w) for w in words(sentence[max(0, span[0] - 50):span[1] + 50])]
        found.append((not (set(near) & terms), span[0], span))
    return min(found)[2] if found else None


def _number_span(sentence: str, question: str) -> tuple[int, int] | None:
    """The figure of the thing asked about: the one a word of the question follows soonest."""
    asked = set(content_terms(question))
    unit = asked_unit(question)
    duration = unit is None and bool(re.search(r"\bhow long\b", fold(question)))
    total = bool(_ASKS_TOTAL.search(fold(question)))
    count = unit is None and bool(re.search(r"\bhow many\b", fold(question)))
    found = []
    for m in _NUMBER.finditer(sentence):
        value = m.group().strip(" ,.")
        if not value or _DATE.fullmatch(value) or _after_month(sentence, m.start()) \
                or not total and _whole_not_asked(sentence[max(0, m.start() - 40):m.start()], asked) \
                or unit is not None and not in_unit(sentence, m, unit) \
                or count and MEASURE.search(value):
            continue
        whole = _OF_WHOLE.match(sentence, m.end())  # "18 of the alliance's 32 countries are..."
        if whole and total:
            continue  # a part is not the total asked for
        rest = whole.end() if whole else m.end()
        after = [stem(w) for w in words(sentence[rest:rest + 60])[:5]]
        hits = [i for i, w in enumerate(after) if w in asked]
        span = m.span()
        if duration and (end := _duration_end(sentence, m)):
            hits, span = [0], (m.start(), end)  # "a decade", "ten years" answer "how long"
        hits = hits or ([5] if unit else [])  # in the unit asked, after the figures the question names
        if hits:
            found.append((hits[0], span[0], _trim(sentence, span)))
    return min(found)[2] if found else None


def asked_unit(question: str) -> str | None:
    """The unit a question asks its figure in ("How long in kilometres...?": "kilometre"),
    or None when it names none (`rag.answering.units`)."""
    return unit_named(fold(asking_part(question)))


_UNIT = re.compile(r"\s+(?:years?|months?|weeks?|days?|hours?|minutes?|decades?|centur(?:y|ies))\b",
                   re.IGNORECASE)


def _duration_end(sentence: str, figure: re.Match) -> int | None:
    """Where a duration ends: after the unit that follows the figure ("10 years"), or the
    figure's own end when it is one ("a decade"); None when the figure counts something else."""
    if re.search(r"decade|centur", figure.group(), re.IGNORECASE):
        return figure.end()
    unit = _UNIT.match(sentence, figure.end())
    return unit.end() if unit else None


# "How many members does NATO have?" asks for the whole, "32" in "18 of the alliance's 32"
_ASKS_TOTAL = re.compile(r"\bhow many\b[^?]*\b(?:do|does|did)\b[^?]*\b(?:have|has|had|count|number)\b\W*$")

# " of the alliance's ", between a part and its whole in "18 of the alliance's 32"
_OF = r"\s+(?:out\s+)?of\s+(?:(?:the|its|their)\s+)?(?:[\w.-]+['’]s\s+)?"
# "23 of NATO's 32 countries": the 32 is the whole, not the count of those the sentence is about
_DENOMINATOR = re.compile(rf"\d[\d,.]*{_OF}$", re.IGNORECASE)
# what follows a part before the words about it: "18| of the alliance's 32| countries are..."
_OF_WHOLE = re.compile(rf"{_OF}\d[\d,.]*(?=\s)", re.IGNORECASE)


def _whole_not_asked(before: str, asked: set[str]) -> bool:
    """True when the number after `before` is the whole of "23 of NATO's 32" and the question
    does not ask about that whole (it names nothing between the two numbers)."""
    m = _DENOMINATOR.search(before)
    return bool(m) and not {stem(w) for w in words(m.group())} & asked


def _after_month(text: str, at: int) -> bool:
    """True when the number at `at` is a day of the month ("November 13")."""
    return bool(re.search(rf"\b{_MONTHS}\s*$", text[max(0, at - 12):at], re.IGNORECASE))


def salient_terms(question: str) -> list[str]:
    """Names, numbers and codes in the question (not its first word): what an answer must mention."""
    raw = re.findall(r"[\w$%]+(?:['’.-][\w]+)*", question)
    out = []
    for i, word in enumerate(raw):
        w = fold(word).rstrip(".")
        if w in STOP or len(w) < 2:
            continue
        if _YEAR.fullmatch(w):
            continue  # a year is as often the article's date as a word of its text
        if (i > 0 and word[:1].isupper()) or any(ch.isdigit() for ch in w):
            out.append(_term(w))
    return out


def _term(word: str) -> str:
    """A question word as the terms compare it: folded, without a final dot or possessive."""
    return re.sub(r"'s$", "", fold(word).rstrip("."))


_YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")


def with_years(sentence: str, date: str | None) -> str:
    """`sentence` followed by the years its "this year" and "last year" mean in a document
    of `date` (YYYY-MM-DD), to compare with the years a question names."""
    year = int(date[:4]) if date and date[:4].isdigit() else None
    if year is None:
        return sentence
    said = [str(year - (w.lower() == "last")) for w in re.findall(r"\b(this|last)\s+year\b",
                                                                   sentence, re.IGNORECASE)]
    return " ".join([sentence, *said])


def other_years(sentence: str, question: str) -> bool:
    """True when the question names a year and the sentence names years, none of them that
    one: "seven countries met the target in 2022" does not answer a question about 2024."""
    asked = set(_YEAR.findall(question))
    named = set(_YEAR.findall(sentence))
    return bool(asked and named and not asked & named)


# the source says the outcome is not known yet: "allies wait to see if Trump will win"
_UNSETTLED = re.compile(
    r"\bwait(?:s|ed|ing)? to see (?:if|whether)\b|\bremains? to be seen\b|"
    r"\b(?:is|are|was|were|remains?) (?:still )?(?:unclear|unknown|undecided) (?:if|whether|who|what|when)\b|"
    r"\b(?:has|have) yet to (?:be )?(?:decided?|announced?|named?|determined?|chosen|choose)\b",
    re.IGNORECASE)
# a question about what will or may happen can be answered by such a sentence
_AHEAD = re.compile(r"\b(?:will|would|could|might|may|should|plan(?:s|ned)?|expected|likely|"
                    r"hopes?|next|upcoming|whether|if)\b", re.IGNORECASE)


def unsettled(sentence: str, question: str) -> bool:
    """True when `sentence` says the outcome is not known yet ("wait to see if Trump will
    win") and `question` asks what happened, not what will or may happen."""
    return bool(_UNSETTLED.search(sentence)) and not _AHEAD.search(question)


def missing_terms(question: str, vocabulary: AbstractSet[str]) -> list[str]:
    """The salient terms of `question` whose prefix no word of the `vocabulary` shares, less
    those describing the answer itself ("Which *Turkish* leader", "Which *TV* outlet"): the
    sources may name the answer without them."""
    described = answer_description(question)
    return [t for t in salient_terms(question) if t not in described
            and not all(part[:5] in vocabulary for part in re.findall(r"[\w$%]+", t))]


_DESCRIBED = re.compile(r"\b(?i:which|what)\s+((?:[A-Z][\w'’.-]*\s+)+)")


def answer_description(question: str) -> set[str]:
    """The capitalized words right after "which" or "what", folded: in "Which British newspaper
    published...", "british" describes the answer rather than naming a fact the question gives."""
    m = _DESCRIBED.search(question)
    return {_term(w) for w in m.group(1).split()} if m else set()


def _trim(text: str, span: tuple[int, int]) -> tuple[int, int]:
    a, b = span
    while b > a and text[b - 1] in " ,.":
        b -= 1
    return a, b


def _name_runs(sentence: str):
    """Capitalized runs, split where a token ends a sentence ("States. They")."""
    for m in _NAME.finditer(sentence):
        start = m.start()
        for t in re.finditer(r"\S+", m.group()):
            tok = t.group()
            if tok.endswith(".") and not _ABBREVIATION.match(tok):
                yield start, m.start() + t.end() - 1
                start = m.start() + t.end() + 1
        if start < m.end():
            yield start, m.end()


def _strip_titles(sentence: str, span: tuple[int, int]) -> tuple[int, int] | None:
    """The name in a capitalized run: no leading titles ('former Dutch Prime Minister') or
    possessors ("Turkey's"), no trailing possessive; None for a lone word that starts the
    sentence or names a month or a day."""
    a, b = span
    tokens = [t for t in re.finditer(r"\S+", sentence[a:b])]
    while tokens and (tokens[0].group().casefold().strip(",.") in _TITLES
                      or re.search(r"['’]s$", tokens[0].group()) and len(tokens) > 1):
        tokens.pop(0)
    if not tokens or len(tokens) == 1 and (a + tokens[0].start() == 0 or
                                           _CALENDAR.fullmatch(tokens[0].group().strip(",."))):
        return None  # a lone first word is as often "Officials" as "Sweden"; or a month
    start, end = a + tokens[0].start(), a + tokens[-1].end()
    if re.search(r"['’]s$", sentence[start:end]):
        end -= 2
    return _trim(sentence, (start, end))


def figures(sentence: str) -> list[tuple[str, str]]:
    """(number, counted thing) pairs such as ('32', 'country'), for spotting disagreement."""
    return [(number, noun) for number, noun, _ in figure_words(sentence)]


def figure_words(sentence: str) -> list[tuple[str, str, str]]:
    """As `figures`, with the counted thing also as the source wrote it ('countries')."""
    out = []
    for m in re.finditer(r"\b(\d[\d,.]*)\s+((?:[a-z'’-]+\s+){0,2}?)([a-z]{4,})\b", sentence):
        number, word = m.group(1).rstrip(".,"), m.group(3)
        noun = stem(word)
        if noun not in STOP and not _DATE.fullmatch(number) and not _after_month(sentence, m.start()):
            out.append((number, noun, word))
    return out
