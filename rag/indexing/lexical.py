"""The lexical side of retrieval: a tokenizer for news and science text, and a BM25 index.

`tokenize` keeps what dense retrieval tends to miss: numbers whole ("95.3", "1,000" as
"1000"), amounts ("$95.3" and "95.3"), percentages ("2%" and "2"), hyphenated names whole
and in parts ("Secretary-General" gives "secretary-general", "secretary", "general"), and
accented names folded so either spelling matches ("Erdoğan" and "Erdogan" both give
"erdogan"). Common English stop words are dropped, except all-capital acronyms ("US",
"IT"); words are stemmed with the Snowball English stemmer (PyStemmer) when enabled.

`LexicalIndex.build` scores one text per row with bm25s; `save` writes bm25s's own
directory format (`params.index.json`, `vocab.index.json`, three `.npy` arrays written with
`allow_pickle=False`; no pickle anywhere). `load` reads those files back with numpy and
JSON and scores queries itself, so a search never imports bm25s or numba.

Beside them, `prefixes.index.json` keeps the five-letter word prefixes of every indexed
text (`rag.reading.text.prefixes`): what the corpus mentions at all, for the answerer's "the
sources never mention X" without reading every chunk back. The stemmed BM25 vocabulary
cannot stand in for it ("agreed" stems to "agre", so "agreement" would look unmentioned).

Does not: segment languages written without spaces (Chinese, Japanese: a run of such
characters is one token), or expand synonyms.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ..parallel import map_ordered
from ..reading.text import prefixes as word_prefixes
from .disk import save_npy

TOKENIZER_VERSION = 1  # bump when `tokenize` changes: indexes record it and are rebuilt
FILES = ("params.index.json", "vocab.index.json", "data.csc.index.npy",
         "indices.csc.index.npy", "indptr.csc.index.npy")
PREFIXES_FILE = "prefixes.index.json"  # written with FILES; optional on load (older indexes)
Method = Literal["lucene", "robertson", "atire"]
METHODS = ("lucene", "robertson", "atire")

STOP_WORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to", "was", "will", "with", "s", "t"])
_FOLD = str.maketrans({"ı": "i", "ø": "o", "đ": "d", "ł": "l", "ħ": "h", "þ": "th",
                       "æ": "ae", "œ": "oe", "ŀ": "l"})
_DASHES = str.maketrans({"‐": "-", "‑": "-"})  # hyphen, no-break hyphen
_NUM = r"\d+(?:[.,]\d+)*"
_PIECE = rf"(?:{_NUM}[^\W_]*|[^\W_]+)"
_TOKEN = re.compile(rf"(?P<sym>[$€£¥])?(?P<body>{_PIECE}(?:-{_PIECE})*)(?P<pct>%)?")
_NUMBER = re.compile(rf"({_NUM})(.*)")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


@dataclass(frozen=True)
class LexicalConfig:
    """BM25 settings; recorded in the index manifest.

    k1 and b are Anserini's defaults (0.9, 0.4). `titles` indexes each chunk together with
    its document's title (unless the chunk holds the title already), so a passage deep in
    an article still matches the article's subject.
    """

    k1: float = 0.9
    b: float = 0.4
    method: Method = "lucene"
    stem: bool = True
    titles: bool = True
    tokenizer: int = TOKENIZER_VERSION

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown BM25 method {self.method!r}; allowed: {', '.join(METHODS)}")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValueError(f"BM25 needs k1 >= 0 and 0 <= b <= 1 (got k1={self.k1}, b={self.b})")


def lexical_text(text: str, title: str | None, config: LexicalConfig) -> str:
    """What BM25 indexes for a chunk: its text, after its document's title when configured.

    >>> lexical_text("It erupted again.", "Volcano erupts", LexicalConfig())
    'Volcano erupts\\nIt erupted again.'
    """
    title = (title or "").strip().rstrip("…").strip()
    if not config.titles or not title or title in text:
        return text
    return f"{title}\n{text}"


def fold(text: str) -> str:
    """NFKC, case folded, accents removed: `fold("Erdoğan") == "erdogan"`."""
    text = unicodedata.normalize("NFKC", text).casefold().translate(_FOLD)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@functools.lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer
    except ImportError as e:
        raise ImportError("stemming needs PyStemmer: pip install PyStemmer") from e
    return Stemmer.Stemmer("english")


@functools.lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    if not word.isalpha():
        return word
    return _stemmer().stemWord(word)


def tokenize(text: str, *, stem: bool = True) -> list[str]:
    """Index terms of `text`, in order.

    >>> tokenize("Erdoğan's $95.3 billion, 2% rise", stem=False)
    ['erdogan', '$95.3', '95.3', 'billion', '2%', '2', 'rise']
    """
    out: list[str] = []
    for sym, body, pct in _TOKEN.findall(unicodedata.normalize("NFKC", text).translate(_DASHES)):
        out.extend(_match_terms(sym or None, body, pct or None, stem))
    return out


@functools.lru_cache(maxsize=500_000)
def _match_terms(sym: str | None, body: str, pct: str | None, stem: bool) -> tuple[str, ...]:
    """The terms of one match of `_TOKEN` (words repeat: each is worked out once)."""
    raw = body.split("-")
    parts = [fold(p) for p in raw]
    if len(parts) == 1:
        return tuple(_terms(parts[0], raw[0], sym, pct, stem))
    out = ["-".join(_stem(p) if stem else p for p in parts)]
    for i, (part, r) in enumerate(zip(parts, raw)):
        out.extend(_terms(part, r, sym if i == 0 else None,
                          pct if i == len(parts) - 1 else None, stem))
    return tuple(out)


def _terms(word: str, raw: str, symbol: str | None, percent: str | None, stem: bool) -> list[str]:
    """The terms of one piece: a number with its symbol or percent sign, or a word."""
    number = _NUMBER.fullmatch(word)
    if number is None:  # a word
        if word in STOP_WORDS and not (len(raw) > 1 and raw.isupper()):
            return []
        return [_stem(word) if stem else word]
    digits, suffix = number.groups()
    if _THOUSANDS.match(digits):
        digits = digits.replace(",", "")
    if suffix:  # "95.3bn", "10th"
        return [digits + suffix, digits]
    whole = (symbol or "") + digits + (percent or "")
    return [whole, digits] if whole != digits else [digits]


class LexicalIndex:
    """BM25 scores of every (term, row) pair, stored column-wise as bm25s does."""

    def __init__(self, config: LexicalConfig, vocab: dict[str, int], data: np.ndarray,
                 indices: np.ndarray, indptr: np.ndarray, rows: int, *,
                 prefixes: frozenset[str] | None = None, folder: str | Path | None = None):
        self.config = config
        self.vocab = vocab
        self.data = data
        self.indices = indices
        self.indptr = indptr
        self.rows = rows
        self._prefixes = prefixes
        self._folder = Path(folder) if folder is not None else None

    @property
    def prefixes(self) -> frozenset[str] | None:
        """Five-letter prefixes of the words of every indexed text (`rag.reading.text.prefixes`),
        read on first use; None for an index saved before they were kept."""
        if self._prefixes is None and self._folder is not None:
            self._prefixes = read_prefixes(self._folder)
            self._folder = None  # read once, found or not
        return self._prefixes

    @classmethod
    def build(cls, texts: list[str], config: LexicalConfig = LexicalConfig(), *,
              analyzed: list[tuple[str, str] | None] | None = None) -> LexicalIndex:
        """Index one text per row (row i of the result is `texts[i]`).

        `analyzed[i]`, when given, is `analyze(texts[i], stem=config.stem)` worked out
        already (by the chunking workers); the others are analyzed here, on every core.
        """
        import bm25s

        analyzed = list(analyzed) if analyzed is not None else [None] * len(texts)
        todo = [i for i, a in enumerate(analyzed) if a is None]
        for i, a in zip(todo, map_ordered(_analyze_one, [texts[i] for i in todo],
                                          state=config.stem)):
            analyzed[i] = a
        vocab: dict[str, int] = {}
        ids: list[list[int]] = []
        found: set[str] = set()
        for tokens, words in analyzed:
            ids.append([vocab.setdefault(t, len(vocab)) for t in tokens.split("\0") if t])
            found.update(words.split("\0"))
        found.discard("")
        prefixes = frozenset(found)
        bm25 = bm25s.BM25(k1=config.k1, b=config.b, method=config.method, backend="numpy")
        if texts:
            bm25.index((ids, vocab), create_empty_token=True, show_progress=False)
            s = bm25.scores
            return cls(config, bm25.vocab_dict, s["data"], s["indices"], s["indptr"], len(texts),
                       prefixes=prefixes)
        empty = np.zeros(0, dtype=np.float32)
        return cls(config, {}, empty, empty.astype(np.int32), np.zeros(1, np.int32), 0,
                   prefixes=prefixes)

    def save(self, folder: str | Path) -> None:
        """Write bm25s's directory format (readable by `bm25s.BM25.load`), no pickle."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in (("data", self.data), ("indices", self.indices),
                            ("indptr", self.indptr)):
            save_npy(folder / f"{name}.csc.index.npy", np.asarray(array))
        (folder / "vocab.index.json").write_text(
            json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        c = self.config
        params = {"k1": c.k1, "b": c.b, "delta": 0.5, "method": c.method,
                  "idf_method": c.method, "dtype": "float32", "int_dtype": "int32",
                  "num_docs": self.rows, "version": _bm25s_version(), "backend": "numpy"}
        (folder / "params.index.json").write_text(json.dumps(params, indent=2), encoding="utf-8")
        if self.prefixes is not None:
            (folder / PREFIXES_FILE).write_text(
                json.dumps(sorted(self.prefixes), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path, config: LexicalConfig, rows: int) -> LexicalIndex:
        """Read a saved index; raises ValueError when it does not hold `rows` rows of `config`."""
        folder = Path(folder)
        params = json.loads((folder / "params.index.json").read_text(encoding="utf-8"))
        if not isinstance(params, dict):
            raise ValueError("params.index.json does not hold a JSON object")  # noqa: TRY004 (damage)
        saved = {k: params.get(k) for k in ("k1", "b", "method", "num_docs")}
        wanted = {"k1": config.k1, "b": config.b, "method": config.method, "num_docs": rows}
        if saved != wanted:
            raise ValueError(f"BM25 index holds {saved}, the manifest says {wanted}")
        vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))
        arrays = [np.load(folder / f"{n}.csc.index.npy", allow_pickle=False)
                  for n in ("data", "indices", "indptr")]
        biggest = max((i for t, i in vocab.items() if t), default=-1)  # "" is bm25s's filler
        if len(arrays[2]) < biggest + 2 or len(arrays[0]) != len(arrays[1]):
            raise ValueError("BM25 arrays do not match the vocabulary")
        return cls(config, vocab, *arrays, rows, folder=folder)

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every row for `query` (zeros when no term is known)."""
        terms = [self.vocab[t] for t in tokenize(query, stem=self.config.stem) if t in self.vocab]
        if not terms or not self.rows:
            return np.zeros(self.rows, dtype=np.float32)
        starts, ends = self.indptr[terms], self.indptr[np.asarray(terms) + 1]
        picks = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
        return np.bincount(self.indices[picks], weights=self.data[picks],
                           minlength=self.rows).astype(np.float32)

    def document_frequencies(self, terms: list[str]) -> list[int]:
        """How many rows hold each analyzed term (`tokenize`'s output; 0 when unknown)."""
        out = []
        for t in terms:
            i = self.vocab.get(t)
            out.append(0 if i is None else int(self.indptr[i + 1] - self.indptr[i]))
        return out

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Up to `k` (row, score) pairs with a positive score, best first (ties by row)."""
        return top(self.scores(query), k)


def corpus_prefixes(texts) -> frozenset[str]:
    """The union of `rag.reading.text.prefixes` over `texts`: every word the corpus holds, cut to
    five letters.

    >>> sorted(corpus_prefixes(["Norwegian fjords", "NATO's F-16s"]))
    ['16s', 'f', 'fjord', 'nato', 'norwe', 's']
    """
    out: set[str] = set()
    for found in map_ordered(_prefixes_one, texts):
        out.update(p for p in found.split("\0") if p)
    return frozenset(out)


def analyze(text: str, *, stem: bool = True) -> tuple[str, str]:
    """A text's BM25 terms and word prefixes, each joined by NUL into one string (one string
    crosses between processes far faster than a list of them); see `LexicalIndex.build`."""
    return "\0".join(tokenize(text, stem=stem)), "\0".join(word_prefixes(text))


def _analyze_one(stem: bool, text: str) -> tuple[str, str]:
    return analyze(text, stem=stem)


def _prefixes_one(_, text: str) -> str:
    return "\0".join(word_prefixes(text))


def read_prefixes(folder: str | Path) -> frozenset[str] | None:
    """The word prefixes saved in `folder`, or None when there are none to trust (an index
    saved before they were kept, or an unreadable file): the caller then reads the texts."""
    try:
        words = json.loads((Path(folder) / PREFIXES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        return None
    return frozenset(words)


def top(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The `k` best rows with a positive score, best first (ties by the lower row)."""
    rows = np.flatnonzero(scores > 0)
    if len(rows) > k:
        rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
    return [(int(r), float(scores[r])) for r in sorted(rows.tolist(), key=lambda r: (-scores[r], r))]


def _bm25s_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bm25s")
    except PackageNotFoundError:
        return "unknown"
