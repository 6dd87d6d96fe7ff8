"""A Markdown file's layout, read by a real Markdown parser (markdown-it-py, CommonMark).

`read_markdown(text)` says which parts of the file's own text hold the article, without
changing a character of it (offsets stay offsets into the file):

- front matter (YAML between `---` lines, or TOML between `+++` lines) gives the title and
  date and is never content;
- the first level-1 heading is the title (the first heading of any level when there is no
  level-1 heading); every heading is metadata, never an answer sentence;
- paragraphs are the units the furniture rules judge, whole, however they are wrapped; list
  items, block quotes, table rows and code blocks are judged line by line;
- raw HTML blocks, thematic breaks, link reference definitions and paragraphs that hold only
  images are left out.

Does not: strip inline markup (`*emphasis*`, `[links](...)`) from the text, which would move
offsets: a quote keeps the characters of the file.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

from .furniture import line_units

_FENCE = {"---": re.compile(r"^---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.DOTALL | re.MULTILINE),
          "+++": re.compile(r"^\+\+\+[ \t]*\n(.*?)^\+\+\+[ \t]*$\n?", re.DOTALL | re.MULTILINE)}
_NEWLINE = re.compile(r"\n")
_DATE_KEYS = ("date", "published", "pubdate", "publishdate", "date_published", "created",
              "updated", "lastmod")


@dataclass(frozen=True)
class MarkdownLayout:
    """Where the article is in a Markdown file: `units` are (start, end) ranges of its text."""

    title: str | None
    date: str | None
    units: tuple[tuple[int, int], ...]
    body: int  # where the text after the front matter starts


def read_markdown(text: str) -> MarkdownLayout:
    """The title, date and content units of Markdown `text`.

    >>> layout = read_markdown("# Eldermoor opens\\n\\nThe library opened on Monday.\\n")
    >>> layout.title, layout.units
    ('Eldermoor opens', ((19, 48),))
    """
    from markdown_it import MarkdownIt

    start = 1 if text.startswith("\ufeff") else 0
    title, date, body = _front_matter(text, start)
    offsets = [body] + [m.end() for m in _NEWLINE.finditer(text, body)]  # where each line starts
    tokens = MarkdownIt("commonmark").enable("table").parse(text[body:])
    units: list[tuple[int, int]] = []
    headings: list[tuple[str, str]] = []
    depth = 0  # inside a paragraph of a list, quote or table that is judged line by line
    for i, token in enumerate(tokens):
        a, b = _range(text, offsets, token.map) if token.map else (0, 0)
        if token.type == "heading_open":
            headings.append((token.tag, tokens[i + 1].content))
        elif token.type in ("bullet_list_open", "ordered_list_open", "blockquote_open"):
            depth += 1
        elif token.type in ("bullet_list_close", "ordered_list_close", "blockquote_close"):
            depth -= 1
        elif token.type == "paragraph_open" and not _only_images(tokens[i + 1]):
            units += [(a, b)] if depth == 0 else line_units(text, a, b)
        elif token.type in ("tr_open", "fence", "code_block"):
            units += line_units(text, a, b)
    if title is None and headings:
        level_one = [content for tag, content in headings if tag == "h1"]
        title = _plain(level_one[0] if level_one else headings[0][1])
    return MarkdownLayout(title or None, date, tuple(sorted(set(units))), body)


def _range(text: str, offsets: list[int], lines: list[int]) -> tuple[int, int]:
    """The characters of source lines [first, last), surrounding whitespace trimmed."""
    first, last = lines
    a = offsets[first] if first < len(offsets) else len(text)
    b = offsets[last] if last < len(offsets) else len(text)
    piece = text[a:b]
    return a + len(piece) - len(piece.lstrip()), b - len(piece) + len(piece.rstrip())


def _only_images(inline) -> bool:
    children = inline.children or []
    return bool(children) and all(
        c.type == "image" or c.type in ("softbreak", "hardbreak")
        or (c.type == "text" and not c.content.strip()) for c in children)


def _plain(inline_source: str) -> str:
    """Heading text without its inline markup: `*Big* [news](u)` -> `Big news`."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parseInline(inline_source)
    children = tokens[0].children if tokens else []
    parts = [c.content for c in children or [] if c.type in ("text", "code_inline")]
    return " ".join("".join(parts).split()) or inline_source.strip()


def _front_matter(text: str, start: int) -> tuple[str | None, str | None, int]:
    """(title, date, where the body starts) from a leading front matter block."""
    for fence, pattern in _FENCE.items():
        if not text.startswith(fence, start):
            continue
        match = pattern.match(text, start)
        if match is None:
            return None, None, start
        meta = _parse_meta(match.group(1), toml=fence == "+++")
        if meta is None:
            return None, None, start
        title = meta.get("title")
        return (str(title).strip() if isinstance(title, str | int | float) else None,
                _meta_date(meta), match.end())
    return None, None, start


def _parse_meta(block: str, *, toml: bool) -> dict | None:
    try:
        if toml:
            import tomllib

            meta = tomllib.loads(block)
        else:
            import yaml

            meta = yaml.safe_load(block)
    except Exception:  # noqa: BLE001 - a block that does not parse is not front matter
        return None
    return {str(k).lower(): v for k, v in meta.items()} if isinstance(meta, dict) else None


def _meta_date(meta: dict) -> str | None:
    from .dates import parse_date

    for key in _DATE_KEYS:
        value = meta.get(key)
        if isinstance(value, _dt.datetime):
            return value.date().isoformat()
        if isinstance(value, _dt.date):
            return value.isoformat()
        if isinstance(value, str) and parse_date(value):
            return parse_date(value)
    return None
