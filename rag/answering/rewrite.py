"""Turn a follow-up question into one that stands on its own, by resolving what it leans on.

A question leans on the conversation when it has a pronoun with nothing in the question
itself to refer to ("When does he start?", "Who lifted the veto holding it up?"), when it is
a bare "And X?" / "What about X?", or when it is only a question word ("Why?", "Where?",
"Who else?"). Such a question is rewritten from the previous turn alone, by replacing or
completing the part that leans:
- a pronoun becomes what it stands for: the name the last answer gave when the last
  question asked for one ("Who will succeed Stoltenberg?" -> "When does he start?" ->
  "When does Mark Rutte start?"), otherwise the subject of the last question ("When did
  the library open?" -> "Who designed it?" -> "Who designed the library?");
- "And X?" puts X in the place of the same kind of thing in the last question: "And
  Sweden?" after "When did Finland join NATO?" -> "When did Sweden join NATO?"; "And in
  2014?" swaps a year, "And according to AFP?" the phrase after "according to";
- a lone question word takes the place of the last question's: "Why?" after "When did
  Finland join NATO?" -> "Why did Finland join NATO?".

A self-contained question is returned exactly as it is (only its whitespace folded), and
so is a leaning one whose referent is not found: an earlier question is never appended.

Rule-based and deterministic, over the question's words, the previous standalone question
and the previous answer (its focus and quotes); see `rag.answering.phrases`. Does not: call
a language model or a tagger, resolve "this"/"that" (they stand for whole events), or look
further back than one turn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .phrases import (
    AUX,
    DET,
    NUMBER,
    PERSONAL,
    PLURAL,
    PRONOUNS,
    ROLE,
    TIME,
    WH,
    Clause,
    answer_names,
    is_name,
    name_runs,
    person_like,
    plural,
    possessive,
    tokens,
)
from .scoring import STOP, answer_type, stem

_POSSESSIVE = frozenset("his hers its their theirs".split())
_LEAD = re.compile(r"^(?:(?:and|but|so|also|then|ok|okay)\b,?\s*)+", re.IGNORECASE)
_ABOUT = re.compile(r"^(?:what|how)\s+about\s+(?P<x>.+)$", re.IGNORECASE)
_FRAGMENT = re.compile(r"^(?:(?:for|since|until|by|from|to|in|at)\s+)?(?:how(?:\s+(?:many|much|"
                       r"long|far|often|come|so))?|why|when|where|who|what|which)"
                       r"(?:\s+(?:else|exactly|then|again|not))?$", re.IGNORECASE)
_PREPOSITIONS = (r"according to|as of|in|on|at|for|from|to|about|since|by|after|before|with|"
                 r"during|against|among|under")
_PREP = re.compile(rf"^(?P<p>{_PREPOSITIONS})\s+(?P<x>.+)$", re.IGNORECASE)
_YEAR = re.compile(r"^(?:1[89]|20)\d\d$")
_EXPLETIVE = frozenset("true possible likely clear important necessary known said reported "
                       "expected take takes took seems seemed appears appeared".split())


@dataclass(frozen=True)
class Turn:
    """The previous turn: its standalone question and, when known, its answer's focus (the
    name, date or figure that answers it) and verbatim quotes, the lead one first."""

    question: str
    answer_focus: str | None = None
    answer_quotes: tuple[str, ...] = ()


def needs_context(question: str) -> bool:
    """True when the question leans on an earlier turn: a pronoun with nothing in the
    question to refer to, a bare "And X?" / "What about X?", or a lone question word.

    >>> needs_context("When does he start?"), needs_context("When did Trump say he would?")
    (True, False)
    """
    q = " ".join(question.split()).rstrip("?!. ")
    if not q:
        return False
    body = _LEAD.sub("", q)
    if not body or _ABOUT.match(body) or _FRAGMENT.match(body):
        return True  # "And then?", "What about X?", "Why?"
    if body != q and not _opens_question(body):
        return True  # "And Sweden?", "And in 2014?"
    return _leaning(body) is not None


def rewrite(question: str, previous: Turn | None) -> str:
    """A standalone version of `question`, given the previous turn (or None).

    >>> rewrite("When does he start?", Turn("Who will succeed Stoltenberg?", "Mark Rutte"))
    'When does Mark Rutte start?'
    >>> rewrite("And Sweden?", Turn("When did Finland join NATO?"))
    'When did Sweden join NATO?'
    """
    q = " ".join(question.split())
    if previous is None or not needs_context(q):
        return q
    prev = " ".join(previous.question.split())
    body = _LEAD.sub("", q).strip()
    bare = body.rstrip("?!. ")
    about = _ABOUT.match(bare)
    if _FRAGMENT.match(bare):
        out = _ask_again(prev, bare)
    elif about or (body != q and bare and not _opens_question(bare)):
        out = _swap(prev, about.group("x") if about else bare)
    else:
        out = _resolve(body, prev, previous)
    return _cap(out) if out else q


# --- does it lean? ----------------------------------------------------------------------------

def _opens_question(text: str) -> bool:
    first = text.split()[0].lower()
    return first in WH or first in AUX or bool(
        _PREP.match(text) and _FRAGMENT.match(" ".join(text.split()[:3])))


def _leaning(text: str, skip: int = 0) -> int | None:
    """Index of the first token (from `skip`) that is a pronoun without an antecedent."""
    toks = tokens(text)
    for i in range(skip, len(toks)):
        if (toks[i].low in PRONOUNS or toks[i].low == "there") and not _resolved_inside(toks, i):
            return i
    return None


def _resolved_inside(toks, i: int) -> bool:
    """True when token i is no pronoun here, or something before it can be its antecedent."""
    low, nxt = toks[i].low, (toks[i + 1].low if i + 1 < len(toks) else "")
    before = toks[:i]
    if low == "there":  # "Is there ...?", "there were", or a place named before it
        return nxt in {"is", "are", "was", "were", "has", "have", "had", "will"} or (
            bool(before) and before[-1].low in {"is", "are", "was", "were"}) or any(
            j > 0 and toks[j - 1].low in {"in", "at", "to"} and is_name(toks, j)
            for j in range(i))
    if low == "it" and (nxt in _EXPLETIVE or (nxt in {"is", "was"} and i + 2 < len(toks)
                                               and toks[i + 2].low in _EXPLETIVE)):
        return True  # "Is it true that ...?", "How long did it take?"
    person = low in PERSONAL
    if any(is_name(toks, j) and not (person and (t.text.isupper() or (
            j > 0 and toks[j - 1].low == "the"))) for j, t in enumerate(before)):
        return True
    # "What attacks were they ...?": the question phrase is no antecedent of the subject
    inverted = bool(before) and before[-1].low in AUX and toks[0].low in WH
    content = [t for j, t in enumerate(before) if t.low not in STOP and t.low not in WH
               and not (inverted and j < i - 1)]
    if person:
        return any(t.low in ROLE for t in content)
    if low in _POSSESSIVE:
        return bool(content)  # "Which country lifted its veto?"
    if low in PLURAL:
        return any(plural(t.low) for t in content)
    return False


# --- rewriting --------------------------------------------------------------------------------

def _ask_again(prev: str, wh: str) -> str | None:
    """The previous question asked with another question word ("Why?" -> "Why did ...?")."""
    clause = Clause(prev)
    if clause.subject_wh:  # "Who else?" after "Who hit back ...?"
        return _cap(wh) + prev[clause.wh_end:] if wh.split()[0].lower() in WH - {
            "when", "where", "why", "how"} else None
    if clause.aux is None:
        return None
    rest = prev[clause.toks[clause.aux].start:]
    if clause.wh_word is None:  # "Did Sweden join?" -> "Why did Sweden join?"
        rest = rest[:1].lower() + rest[1:]
    return f"{_cap(wh)} {rest}"


def _swap(prev: str, x: str) -> str | None:
    """`prev` with `x` in the place of the same kind of thing ("And Sweden?")."""
    x = x.strip().rstrip("?!. ")
    if not x or _leaning(x) is not None:
        return None
    prep = _PREP.match(x)
    if prep:  # "And according to AFP?": the phrase after the same preposition
        m = re.search(rf"\b{re.escape(prep.group('p'))}\s+(.+?)(?=,|\?|$|\s(?:{_PREPOSITIONS})\s)",
                      prev, re.IGNORECASE)
        if m:
            return prev[:m.start(1)] + prep.group("x") + prev[m.end(1):]
        x = prep.group("x")
    toks = tokens(prev)
    for shape in (_YEAR, NUMBER):
        if shape.match(x):
            hits = [t for t in toks if shape.match(prev[t.start:t.end].rstrip(",."))]
            return prev[:hits[0].start] + x + prev[hits[0].end:] if hits else None
    if x.split()[-1].lower() in TIME:
        hits = [t for t in toks if t.low in TIME]
        return prev[:hits[0].start] + x + prev[hits[0].end:] if hits else None
    xtoks = tokens(x)
    if not any(is_name(xtoks, j) for j in range(len(xtoks))):
        return _same_head(prev, toks, x)
    return _swap_name(prev, toks, x)


def _swap_name(prev: str, toks, x: str) -> str | None:
    """Put the name `x` in the place of a name of the same shape, the subject's first."""
    runs = name_runs(prev, toks)
    subject = Clause(prev).subject
    if not runs:  # "What about Anna Berg?" after "How did the city council ...?"
        return prev[:subject[0]] + x + prev[subject[1]:] if subject else None
    acronym = re.sub(r"(?i)^the\s+", "", x).isupper()
    best = min(runs, key=lambda r: (r.text.isupper() != acronym,
                                    not (subject and subject[0] <= r.start < subject[1]), r.start))
    start = best.start - 4 if best.the and not x.lower().startswith("the ") else best.start
    return prev[:start] + x + prev[best.end:]


def _same_head(prev: str, toks, x: str) -> str | None:
    """Swap the noun phrase of `prev` whose last word is `x`'s ("And the rye loaf?")."""
    head = stem(x.split()[-1].lower())
    for i, t in enumerate(toks):
        if stem(t.low) == head:
            j = i
            while j > 0 and toks[j - 1].low not in STOP | WH | AUX and not toks[j - 1].cap:
                j -= 1
            if j > 0 and (toks[j - 1].low in DET or possessive(prev, toks[j - 1])):
                j -= 1
            return prev[:toks[j].start] + x + prev[t.end:]
    return None


def _resolve(body: str, prev: str, turn: Turn) -> str | None:
    """Replace each pronoun that lacks an antecedent with what it stands for; a pronoun
    whose referent is not found stays."""
    out, changed, skip = body, False, 0
    while (i := _leaning(out, skip)) is not None:
        toks = tokens(out)
        t, skip = toks[i], i + 1
        referent = _referent(t.low, prev, turn)
        if referent is None:
            continue
        nxt = toks[i + 1].low if i + 1 < len(toks) else ""
        if t.low == "there":
            referent = ("at " if " " in referent else "in ") + referent
        elif t.low in _POSSESSIVE or (t.low == "her" and nxt and nxt not in STOP):
            plural_noun = " " in referent and referent.endswith("s") and referent.split()[-1].islower()
            referent += "'" if plural_noun else "'s"
        word = out[t.start:t.end]
        out = out[:t.start] + (_cap(referent) if word[:1].isupper() else referent) + out[t.end:]
        changed = True
    return out if changed else None


def _referent(pronoun: str, prev: str, turn: Turn) -> str | None:
    clause = Clause(prev)
    if pronoun in PERSONAL:
        return _person(clause, prev, turn)
    if pronoun == "there":
        if clause.wh_word == "where":
            places = answer_names(prev, turn.answer_quotes, kind="place")
            return places[0] if places else None
        m = re.search(r"\b(?:in|at)\s+((?:the\s+)?[A-Z][\w'’-]*(?:\s+(?:of\s+)?[A-Z][\w'’-]*)*)", prev)
        return m.group(1) if m and m.group(1).split()[-1].lower() not in TIME else None
    if clause.asks_entity:  # "Which country ...?" -> "it" is the country the answer named
        names = [n for n in answer_names(prev, turn.answer_quotes)
                 if not any(w.lower() in ROLE for w in n.split())]  # no "President X"
        found = turn.answer_focus or (names[0] if names else None)
        if found:
            return found
    if pronoun in PLURAL:
        return clause.plural()
    subject = clause.subject_text()
    if subject and not (person_like(subject) and (" " in subject or subject == turn.answer_focus)):
        return subject
    return clause.first_thing()


def _person(clause: Clause, prev: str, turn: Turn) -> str | None:
    """Who "he" or "she" is: the person the last answer named when the last question asked
    who did something or who someone is, else the person the last question named."""
    focus = turn.answer_focus
    answer = [focus] if focus and person_like(focus) and not any(
        f"the {focus}" in q for q in turn.answer_quotes) else []
    answer += answer_names(prev, turn.answer_quotes, kind="person")
    if answer_type(prev) == "who" and clause.subject_wh:
        return answer[0] if answer else None
    if answer_type(prev) == "who" and clause.copula:
        return answer[0] if answer else clause.person()
    return clause.person() or (answer[0] if answer else None)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]
