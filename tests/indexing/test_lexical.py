"""The lexical side: a tokenizer that keeps names, numbers and amounts; a BM25 index on disk."""

from __future__ import annotations

import json
import math
import unicodedata

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag.indexing.lexical import (
    FILES,
    PREFIXES_FILE,
    LexicalConfig,
    LexicalIndex,
    corpus_prefixes,
    fold,
    lexical_text,
    read_prefixes,
    tokenize,
    top,
)
from rag.reading.text import prefixes

# --- the tokenizer -----------------------------------------------------------------------

@pytest.mark.parametrize("text, terms", [
    # amounts, percentages and plain numbers stay whole (and the bare number is kept too)
    ("a $95.3 billion foreign aid bill", ["$95.3", "95.3", "billion"]),
    ("the alliance's spending target of 2% of GDP", ["2%", "2", "gdp"]),
    ("some 1,000 European soldiers", ["1000"]),
    ("Russia shares just 11% of its land border", ["11%", "11"]),
    ("his farewell speech in 2024.", ["2024"]),
    # hyphenated names whole and in parts; accents folded
    ("NATO Secretary-General Jens Stoltenberg", ["secretary-general", "secretary", "general"]),
    ("vetoed by Turkey's Recep Tayyip Erdoğan.", ["erdogan", "turkey"]),
    ("Kılıçdaroğlu and Müller", ["kilicdaroglu", "muller"]),
])
def test_seed_terms_survive_tokenization(text, terms):
    got = tokenize(text, stem=False)
    for term in terms:
        assert term in got, (term, got)


def test_the_seed_terms_are_in_the_seeds(seeds_dir):
    """The cases above are real: the seeds hold these exact strings."""
    text = "".join(p.read_text(encoding="utf-8") for p in sorted(seeds_dir.glob("*.txt")))
    for s in ("$95.3 billion", "2% of GDP", "Secretary-General", "Erdoğan", "11%", "1,000"):
        assert s in text


@pytest.mark.parametrize("a, b", [
    ("Erdoğan", "Erdogan"), ("ERDOĞAN", "erdogan"), ("Müller", "Muller"), ("Zürich", "zurich"),
    ("Secretary‑General", "Secretary-General"),  # no-break hyphen
    ("Stoltenberg’s", "Stoltenberg's"), ("ﬁnal", "final"),  # ligature (NFKC)
])
def test_spellings_that_must_match_give_the_same_terms(a, b):
    assert tokenize(a) == tokenize(b)


def test_stemming_matches_word_forms_but_not_numbers():
    assert tokenize("elections") == tokenize("election")
    assert tokenize("Secretary-General")[0] == tokenize("secretary-generals")[0]
    assert tokenize("95.3 2%") == ["95.3", "2%", "2"]


def test_stop_words_go_but_capital_acronyms_stay():
    assert tokenize("it is the US and IT", stem=False) == ["us", "it"]
    assert tokenize("The and of", stem=False) == []


def test_mixed_number_words_keep_the_number():
    assert tokenize("95.3bn in the 10th year, 2024-25", stem=False) == [
        "95.3bn", "95.3", "10th", "10", "year", "2024-25", "2024", "25"]


@pytest.mark.parametrize("text", ["", " ", "\n\t", "a", "🌋🔥", "???", "-", "$", "%", "x" * 20_000])
def test_edge_strings_do_not_fail(text):
    terms = tokenize(text)
    assert all(t and not any(ch.isspace() for ch in t) for t in terms)


def test_other_scripts_give_terms():
    assert tokenize("Кто сменит Столтенберга?", stem=False) == ["кто", "сменит", "столтенберга"]
    assert tokenize("北约秘书长") == ["北约秘书长"]


@given(st.text())
def test_terms_are_never_empty_or_spaced(text):
    assert all(t and not any(ch.isspace() for ch in t) for t in tokenize(text))


@given(st.text())
def test_composed_and_decomposed_text_give_the_same_terms(text):
    assert tokenize(unicodedata.normalize("NFD", text)) == tokenize(
        unicodedata.normalize("NFC", text))


@given(st.text())
def test_fold_is_idempotent(text):
    assert fold(fold(text)) == fold(text)


@pytest.mark.parametrize("text, title, want", [
    ("It erupted again.", "Volcano erupts", "Volcano erupts\nIt erupted again."),
    ("Volcano erupts near Grindavik. It erupted.", "Volcano erupts near Grindavik", None),
    ("The lava kept flowing past the road.", "The lava kept flowing…", None),  # cut title
    ("Some text.", "", None), ("Some text.", None, None),
])
def test_lexical_text_puts_the_title_before_a_chunk_that_lacks_it(text, title, want):
    assert lexical_text(text, title, LexicalConfig()) == (want or text)
    assert lexical_text(text, title, LexicalConfig(titles=False)) == text


# --- the BM25 index ----------------------------------------------------------------------

TEXTS = [
    "The volcano erupted near Grindavik and lava flowed.",
    "The bakery sells sourdough loaves and rye bread.",
    "Lava and ash: the volcano erupted again, lava everywhere.",
    "President Erdoğan lifted the veto on Sweden.",
]


def _bm25(tf: int, df: int, n: int, dl: int, avgdl: float, k1=1.2, b=0.75) -> float:
    """The BM25 of one term as Lucene computes it (Kamphuis et al., ECIR 2020): the
    textbook formula without its constant (k1 + 1) factor, which changes no ranking."""
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))


def test_scores_are_textbook_lucene_bm25():
    index = LexicalIndex.build(TEXTS, LexicalConfig(k1=1.2, b=0.75, stem=False))
    lengths = [len(tokenize(t, stem=False)) for t in TEXTS]
    avgdl = sum(lengths) / len(lengths)
    scores = index.scores("lava")
    assert scores[0] == pytest.approx(_bm25(1, 2, 4, lengths[0], avgdl), rel=1e-5)
    assert scores[2] == pytest.approx(_bm25(2, 2, 4, lengths[2], avgdl), rel=1e-5)
    assert scores[1] == scores[3] == 0


def test_search_ranks_by_score_and_skips_rows_without_a_term():
    index = LexicalIndex.build(TEXTS)
    hits = index.search("lava volcano", k=10)
    assert [r for r, _ in hits] == [2, 0]
    assert hits[0][1] > hits[1][1] > 0
    assert index.search("Erdogan", k=1)[0][0] == 3  # typed without the accent
    assert index.search("submarine", k=5) == []
    assert index.search("the and of", k=5) == []


def test_top_breaks_ties_by_row():
    assert top(np.array([0.0, 2.0, 1.0, 2.0], dtype=np.float32), 3) == [(1, 2.0), (3, 2.0), (2, 1.0)]
    assert top(np.zeros(3, dtype=np.float32), 2) == []


def test_save_and_load_round_trip_without_pickle(tmp_path):
    index = LexicalIndex.build(TEXTS)
    index.save(tmp_path / "bm25")
    assert sorted(p.name for p in (tmp_path / "bm25").iterdir()) == sorted(FILES + (PREFIXES_FILE,))
    for name in FILES + (PREFIXES_FILE,):
        raw = (tmp_path / "bm25" / name).read_bytes()
        if name.endswith(".npy"):
            assert np.load(tmp_path / "bm25" / name, allow_pickle=False).dtype != object
        else:
            json.loads(raw)
    loaded = LexicalIndex.load(tmp_path / "bm25", LexicalConfig(), rows=len(TEXTS))
    for q in ("lava", "Erdogan veto", "bread and bakery", "nothing matches"):
        np.testing.assert_array_equal(loaded.scores(q), index.scores(q))


def test_the_word_prefixes_of_every_text_are_saved_and_read_back(tmp_path):
    index = LexicalIndex.build(TEXTS)
    assert index.prefixes == set().union(*map(prefixes, TEXTS))
    index.save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25", LexicalConfig(), rows=len(TEXTS))
    assert loaded.prefixes == index.prefixes == read_prefixes(tmp_path / "bm25")
    assert {"erdog", "lava"} <= loaded.prefixes  # folded, cut to five letters


def test_prefixes_keep_what_stemming_would_lose():
    """"agreed" stems to "agre": the BM25 vocabulary alone would not know "agree" occurs."""
    assert "agree" in corpus_prefixes(["The allies agreed."])
    assert "agree" not in LexicalIndex.build(["The allies agreed."]).vocab


@pytest.mark.parametrize("content", [None, "not json", '{"a": 1}', '["ok", 3]'])
def test_an_index_without_readable_prefixes_has_none(tmp_path, content):
    LexicalIndex.build(TEXTS).save(tmp_path / "bm25")
    file = tmp_path / "bm25" / PREFIXES_FILE
    file.unlink()
    if content is not None:
        file.write_text(content, encoding="utf-8")
    loaded = LexicalIndex.load(tmp_path / "bm25", LexicalConfig(), rows=len(TEXTS))
    assert loaded.prefixes is None
    np.testing.assert_array_equal(loaded.scores("lava"), LexicalIndex.build(TEXTS).scores("lava"))


def test_an_empty_index_has_no_prefixes(tmp_path):
    index = LexicalIndex.build([])
    index.save(tmp_path / "bm25")
    assert index.prefixes == frozenset() == read_prefixes(tmp_path / "bm25")


def test_the_saved_index_is_bm25s_format(tmp_path):
    """bm25s itself reads the directory and scores exactly as we do."""
    import bm25s

    index = LexicalIndex.build(TEXTS)
    index.save(tmp_path / "bm25")
    theirs = bm25s.BM25.load(tmp_path / "bm25", allow_pickle=False)
    for q in ("lava volcano", "Erdogan Sweden"):
        np.testing.assert_allclose(theirs.get_scores(tokenize(q)), index.scores(q), rtol=1e-6)


@pytest.mark.parametrize("rows, config", [(3, LexicalConfig()), (4, LexicalConfig(k1=1.5))])
def test_load_refuses_an_index_of_other_rows_or_settings(tmp_path, rows, config):
    LexicalIndex.build(TEXTS).save(tmp_path / "bm25")
    with pytest.raises(ValueError, match="manifest"):
        LexicalIndex.load(tmp_path / "bm25", config, rows=rows)


def test_an_empty_corpus_builds_saves_and_finds_nothing(tmp_path):
    LexicalIndex.build([]).save(tmp_path / "bm25")
    loaded = LexicalIndex.load(tmp_path / "bm25", LexicalConfig(), rows=0)
    assert loaded.search("lava", k=3) == []


@pytest.mark.parametrize("changes, message", [
    ({"method": "bm42"}, "lucene"), ({"b": 1.5}, "b"), ({"k1": -1}, "k1")])
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        LexicalConfig(**changes)
