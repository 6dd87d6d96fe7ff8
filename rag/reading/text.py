"""Words of a text for matching: folded case and accents, word lists, five-letter prefixes.

- `fold`: lower case, NFKC, accents removed, no-break spaces as spaces, curly apostrophes
  straight (an ASCII text only has its case folded: the common case, much faster);
- `words`: the words of a text after folding, keeping inner apostrophes, dots and hyphens
  ("u.s.", "secretary-general", "nato's");
- `prefixes`: the five-letter prefixes of those words, hyphens split: what a corpus mentions
  at all, saved with the BM25 index and read by the answerer's "never mentions" check.

Does not: stem, drop stop words or tokenize for BM25 (`rag.indexing.lexical` does that).
"""

from __future__ import annotations

import re
import unicodedata


def fold(text: str) -> str:
    """Lower case, NFKC, accents removed, no-break spaces as spaces: for comparing words.

    >>> fold("Erdoğan’s")
    "erdogan's"
    """
    if text.isascii():  # nothing to normalize: the common case, much faster
        return text.casefold()
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return text.replace("\u00a0", " ").replace("’", "'").casefold()


def words(text: str) -> list[str]:
    """The folded words of `text`.

    >>> words("NATO's Secretary-General, in 2024")
    ["nato's", 'secretary-general', 'in', '2024']
    """
    return re.findall(r"[\w$%]+(?:['.-][\w]+)*", fold(text))


def prefixes(text: str) -> set[str]:
    """Five-letter prefixes of the words of `text` (whole words when shorter), hyphens split.

    >>> sorted(prefixes("Norwegian F-16s"))
    ['16s', 'f', 'norwe']
    """
    return {w[:5] for w in re.findall(r"[\w$%]+", fold(text))}
