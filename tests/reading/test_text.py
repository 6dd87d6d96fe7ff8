"""Folding, words and word prefixes: what every stage compares words with."""

import pytest

from rag.reading.text import fold, prefixes, words


@pytest.mark.parametrize("text, expected", [
    ("Erdoğan", "erdogan"),
    ("ERDOĞAN", "erdogan"),
    ("Recep\u00a0Tayyip", "recep tayyip"),
    ("Trump’s", "trump's"),
    ("ﬁnal", "final"),
    ("Straße", "strasse"),
    ("Zürich Malmö Piñera", "zurich malmo pinera"),
    ("", ""),
])
def test_fold(text, expected):
    assert fold(text) == expected


def test_words_split_on_no_break_spaces_and_keep_figures():
    assert words("told a\u00a0South Carolina rally 2% $95.3") == [
        "told", "a", "south", "carolina", "rally", "2%", "$95.3"]


def test_prefixes():
    assert prefixes("F-16 jets Erdoğan’s") == {"f", "16", "jets", "erdog", "s"}
    assert prefixes("") == set()
