"""Render answers for the chat page as safe Markdown (the chat bubble) and HTML (sources).

Safe by construction: every piece of article text, title, file name and question goes
through `html.escape` (and, in Markdown, backslash escaping of Markdown's punctuation), and
the markup around it is a fixed set of tags whose only attributes are classes, numbers and
http(s) links. The sources panel shows each quote highlighted (`<mark>`) inside its passage
with the answering span emphasised (`<strong>`), and the whole article with the quotes in
place (a `<details>` element, so opening it needs no script; `ARTICLE_JS`, which the page
adds once, scrolls the quote into view when it opens). In the article, text outside the
document's content spans (a leading date line, page furniture) is dimmed and marked as left
out of the search. A refusal shows its reasons and the closest passages instead. No icon is
an emoji (a machine without an emoji font would show empty boxes): words and CSS only.

Does not: emit scripts, inline styles or event handlers; style anything beyond `SOURCES_CSS`,
which the page adds once.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from ..answering.answer import Answer
from ..reading.ingest import Document
from ..search.retrieve import Passage

ARTICLE_LIMIT = 200_000  # characters of an article shown whole; longer ones show a window


# Markdown's inline markers always, and block markers where they could start a block:
# "1. " / "1) " (ordered list) and a free-standing "-" or "+" (list, rule). Newlines are
# folded first, so nothing else can start a block inside the text.
_MD_SPECIAL = re.compile(r"[\\`*_\[\]#~]|(?<=\d)[.)](?=\s|$)|(?<!\S)[-+](?=[\s-]|$)")
_MARKER = re.compile(r"\[(\d+)\]")


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def md_text(text: str) -> str:
    """`text` shown literally in a Markdown message: Markdown and HTML characters escaped.

    >>> md_text("<b>*hi*</b>")
    '&lt;b&gt;\\\\*hi\\\\*&lt;/b&gt;'
    """
    return html.escape(_MD_SPECIAL.sub(r"\\\g<0>", re.sub(r"\s+", " ", text)), quote=False)


def rewritten(answer: Answer) -> bool:
    return answer.standalone_query != " ".join(answer.question.split())


def answer_markdown(answer: Answer) -> str:
    """The chat bubble: searched-for line, the answer with [n] markers, or a refusal."""
    parts = [f"*searched for:* “{md_text(answer.standalone_query)}”"] if rewritten(answer) else []
    if answer.refused:
        reasons = "; ".join(answer.notes)
        why = f"\n>\n> {md_text(reasons)}" if reasons else ""
        parts.append(f"> **{md_text(answer.text)}**{why}"
                     "\n>\n> The closest matches are listed under **Sources**.")
        return "\n\n".join(parts)
    parts.append(_marked_answer(answer))
    parts += [f"*Note: {md_text(n)}*" for n in answer.notes if n not in answer.text]
    if answer.confidence is not None:
        parts.append(f'<span class="vb-confidence">Confidence {answer.confidence:.0%}: the '
                     "reader's estimate that the first quote answers the question.</span>")
    return "\n\n".join(parts)


def _marked_answer(answer: Answer) -> str:
    """The answer text with each cited quote's answering span in bold and [n] as superscripts."""
    out, at, text = [], 0, answer.text
    for c in answer.citations:
        found = text.find(c.quote, at)
        if found < 0:
            continue
        out.append(_markers(text[at:found]))
        q = c.quote
        if c.focus:
            a, b = c.focus_start - c.start, c.focus_end - c.start
            q = f"{md_text(q[:a])}<strong>{md_text(q[a:b])}</strong>{md_text(q[b:])}"
        out.append(q if c.focus else md_text(q))
        at = found + len(c.quote)
    out.append(_markers(text[at:]))
    return "".join(out).strip()


def _markers(text: str) -> str:
    pieces = _MARKER.split(text)  # text, n, text, n, ...
    return "".join(md_text(p) if i % 2 == 0 else f"<sup>[{p}]</sup>" for i, p in enumerate(pieces))


WORKING = '<p class="vb-working">Searching the articles…</p>'
EMPTY_SOURCES = ('<div class="vb-sources" data-state="empty" data-turn="0"><p class="vb-empty">'
                 "Ask a question: the quotes that answer it appear here, highlighted in their "
                 "articles.</p></div>")


def panel(turn: int, state: str, body: str) -> str:
    """The panel's frame; `data-turn` counts the questions so far, so a page can wait for one."""
    return (f'<div class="vb-sources vb-{state}" data-state="{state}" data-turn="{turn}">'
            f"{body}</div>")


def error_html(message: str, *, turn: int) -> str:
    return panel(turn, "error", f'<p class="vb-error">{_esc(message)}</p>')


def sources_html(answer: Answer, docs: dict[str, Document], *, turn: int = 1) -> str:
    """The sources panel: each citation with its passage and article, or the closest matches."""
    head = ""
    if rewritten(answer):
        head = f'<p class="vb-searched">Searched for: <q>{_esc(answer.standalone_query)}</q></p>'
    marks = [(c.start, c.end, c.focus_start, c.focus_end, c.n) for c in answer.citations]
    if answer.refused:
        reasons = "".join(f"<li>{_esc(n)}</li>" for n in answer.notes)
        head += (f'<p class="vb-refusal"><strong>{_esc(answer.text)}</strong></p>'
                 + (f'<ul class="vb-reasons">{reasons}</ul>' if reasons else "")
                 + "<h4>Closest matches</h4>")
        items = [_match_item(p, docs.get(p.doc_id)) for p in answer.passages]
        return panel(turn, "refused", head + f'<ol class="vb-matches">{"".join(items)}</ol>')
    passages = {(p.doc_id, p.rank): p for p in answer.passages}
    items = []
    for c in answer.citations:
        doc = docs.get(c.doc_id)
        p = passages.get((c.doc_id, c.passage_rank))
        lo, hi = (p.start, p.end) if p else (c.start, c.end)
        mine = [m for m, o in zip(marks, answer.citations, strict=True) if o.doc_id == c.doc_id]
        passage = highlight(doc.text, lo, hi, mine) if doc else _esc(c.quote)
        items.append(
            f'<li class="vb-citation" data-n="{c.n}"><div class="vb-head"><span class="vb-n">'
            f'[{c.n}]</span> <span class="vb-title">{_esc(c.title)}</span></div>'
            f'{_meta(c.date, c.source, c.start, c.end, doc)}'
            f'<blockquote class="vb-passage">{passage}</blockquote>'
            f'{_article(doc, mine) if doc else ""}</li>')
    return panel(turn, "answered", head + f'<ol class="vb-citations">{"".join(items)}</ol>')


def _match_item(p: Passage, doc: Document | None) -> str:
    marks = [(p.start, p.end, None, None, 0)]
    body = highlight(doc.text, p.start, p.end, []) if doc else _esc(p.text)
    return (f'<li class="vb-match"><div class="vb-head"><span class="vb-title">{_esc(p.title)}'
            f'</span> <span class="vb-score">score {p.score:.2f}</span></div>'
            f'{_meta(p.date, p.source, p.start, p.end, doc)}'
            f'<blockquote class="vb-passage">{body}</blockquote>'
            f'{_article(doc, marks) if doc else ""}</li>')


def _meta(date: str | None, source: str, start: int, end: int, doc: Document | None) -> str:
    link = ""
    url = doc.url if doc else None
    if url and urllib.parse.urlsplit(url).scheme in ("http", "https"):
        link = (f' · <a href="{_esc(url)}" target="_blank" rel="noopener noreferrer nofollow">'
                f"original</a>")
    return (f'<div class="vb-meta"><span class="vb-date">{_esc(date or "undated")}</span> · '
            f'<span class="vb-file" title="{_esc(source)}">{_esc(Path(source).name)}</span> · '
            f'<span class="vb-span">characters {start:,}–{end:,}</span>{link}</div>')


def _article(doc: Document, marks: list[tuple]) -> str:
    """The whole article (or a window of a very long one) with the quotes highlighted in place
    and the text outside its content spans dimmed."""
    lo, hi = 0, len(doc.text)
    note = ""
    if hi > ARTICLE_LIMIT and marks:
        lo = max(0, min(m[0] for m in marks) - ARTICLE_LIMIT // 2)
        hi = min(len(doc.text), lo + ARTICLE_LIMIT)
        note = (f'<p class="vb-window">Showing characters {lo:,}–{hi:,} of '
                f"{len(doc.text):,}.</p>")
    dimmed = ('; <span class="vb-furniture">dimmed text</span> is not part of the article '
              "(a date line, page furniture) and is not searched" if _outside(doc, lo, hi) else "")
    head = (f'<p class="vb-article-head">{_esc(doc.date or "undated")} · {len(doc.text):,} '
            f"characters{dimmed}</p>")
    return (f'<details class="vb-article"><summary>Read the whole article</summary>{head}{note}'
            f'<div class="vb-article-text">{article_text(doc, lo, hi, marks)}</div></details>')


def _outside(doc: Document, lo: int, hi: int) -> list[tuple[int, int]]:
    """The ranges of `doc.text[lo:hi]` outside its content spans (none if it has no spans)."""
    if not doc.spans:
        return []
    out, at = [], lo
    for start, end in sorted(doc.spans):
        if start > at:
            out.append((at, min(start, hi)))
        at = max(at, end)
    if at < hi:
        out.append((at, hi))
    return [(a, b) for a, b in out if a < b]


def article_text(doc: Document, lo: int, hi: int, marks: Sequence[tuple]) -> str:
    """`doc.text[lo:hi]` as `highlight` shows it, each range outside the content spans
    wrapped in a dimmed `<span class="vb-furniture">`.

    >>> d = Document(id="a", title="t", text=" date 2024-09-19 Hi.", source="a", spans=((17, 20),))
    >>> article_text(d, 0, 20, [])
    '<span class="vb-furniture"> date 2024-09-19 </span>Hi.'
    """
    out, at = [], lo
    for a, b in _outside(doc, lo, hi):
        out.append(highlight(doc.text, at, a, marks))
        out.append(f'<span class="vb-furniture">{highlight(doc.text, a, b, marks)}</span>')
        at = b
    out.append(highlight(doc.text, at, hi, marks))
    return "".join(out)


def highlight(text: str, lo: int, hi: int, marks: Sequence[tuple]) -> str:
    """`text[lo:hi]` escaped, each (start, end, focus_start, focus_end, n) span in a <mark>.

    Offsets are document offsets; the focus span is wrapped in <strong> inside its mark, and
    `n` 0 marks a passage (class vb-near) rather than a quote. Overlapping spans are clipped.

    >>> highlight("a <b> c", 0, 7, [(2, 5, 3, 4, 1)])
    'a <mark class="vb-quote" data-n="1">&lt;<strong class="vb-focus">b</strong>&gt;</mark> c'
    """
    out, at = [], lo
    for start, end, fs, fe, n in sorted(marks, key=lambda m: (m[0], m[1])):
        start, end = max(start, at), min(end, hi)
        if start >= end:
            continue
        out.append(_esc(text[at:start]))
        inner = _esc(text[start:end])
        if fs is not None and start <= fs < fe <= end:
            inner = (_esc(text[start:fs]) + f'<strong class="vb-focus">{_esc(text[fs:fe])}</strong>'
                     + _esc(text[fe:end]))
        kind = f'class="vb-quote" data-n="{n}"' if n else 'class="vb-near"'
        out.append(f"<mark {kind}>{inner}</mark>")
        at = end
    out.append(_esc(text[at:hi]))
    return "".join(out)


SOURCES_CSS = """
.vb-sources { font-size: 0.95rem; line-height: 1.5; }
.vb-sources ol { padding-left: 0; list-style: none; margin: 0; }
.vb-sources ol > li { border: 1px solid var(--border-color-primary, #ddd);
  border-left: 4px solid #2f7d32; border-radius: 6px; padding: 0.6rem 0.8rem;
  margin: 0 0 0.8rem 0; }
.vb-refused ol > li { border-left-color: #b26a00; }
.vb-reasons { margin: 0.3rem 0 0.6rem 1.2rem; }
.vb-refusal { border-left: 4px solid #c62828; padding: 0.4rem 0.8rem;
  background: rgba(198, 40, 40, 0.08); }
.vb-head { font-weight: 600; } .vb-n { color: #2f7d32; }
.vb-score { font-weight: 400; opacity: 0.7; }
.vb-confidence { font-size: 0.85em; opacity: 0.75; }
.vb-meta { font-size: 0.82rem; opacity: 0.75; margin: 0.15rem 0 0.4rem 0; }
.vb-passage, .vb-article-text { white-space: pre-wrap; margin: 0.3rem 0; }
.vb-passage { border-left: 3px solid var(--border-color-primary, #ccc); padding-left: 0.6rem; }
.vb-sources mark.vb-quote { background: #fff176; color: #111; padding: 0 1px; }
.vb-sources mark.vb-near { background: #ffe0b2; color: #111; }
.vb-sources strong.vb-focus { background: #ffca28; font-weight: 700; }
.vb-article summary { cursor: pointer; font-size: 0.88rem; }
.vb-article-text { max-height: 28rem; overflow-y: auto; padding: 0.5rem; font-size: 0.9rem;
  border: 1px dashed var(--border-color-primary, #ccc); position: relative; }
.vb-article-head { font-size: 0.82rem; opacity: 0.75; margin: 0.3rem 0 0.2rem 0; }
.vb-sources .vb-furniture { opacity: 0.5; font-size: 0.85em; font-style: italic; }
.vb-searched { font-style: italic; } .vb-error { color: #c62828; }
"""

# Added once to the page: when a "Read the whole article" box opens, scroll its first quote
# (or the passage of a closest match) to a third of the box's height, and the box into view.
ARTICLE_JS = """
() => {
  document.addEventListener("toggle", (event) => {
    const article = event.target;
    if (!(article instanceof HTMLDetailsElement) || !article.open
        || !article.classList.contains("vb-article")) return;
    const box = article.querySelector(".vb-article-text");
    const mark = box && box.querySelector("mark.vb-quote, mark.vb-near");
    if (!mark) return;
    const top = mark.getBoundingClientRect().top - box.getBoundingClientRect().top;
    box.scrollTop += top - Math.max(0, (box.clientHeight - mark.offsetHeight) / 3);
    const r = box.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight) box.scrollIntoView({block: "nearest"});
  }, true);
}
"""
