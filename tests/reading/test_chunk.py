"""Chunking: exact offsets, content spans only, sentence overlap, and token limits."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.reading.chunk import ChunkConfig, chunk_document, sentences, token_counter
from rag.reading.ingest import Document, make_document, read_documents

count = token_counter()


def _words_limit(limit: int):
    """A model counter like the fake embedder's: whitespace words plus two specials."""
    return lambda text: len(text.split()) + 2


def _check_invariants(doc: Document, chunks, config: ChunkConfig) -> None:
    previous = None
    for n, c in enumerate(chunks):
        assert doc.text[c.start:c.end] == c.text
        assert c.text and c.text == c.text.strip()
        assert c.doc_id == doc.id
        assert c.id == f"{doc.id}:{n}"
        assert c.n_tokens == count(c.text)
        assert any(a <= c.start and c.end <= b for a, b in doc.spans), (c, doc.spans)
        if previous is not None:
            assert previous.start < c.start
            assert previous.end <= c.end
        previous = c


def _uncovered_words(doc: Document, chunks) -> list[str]:
    """Words of the content spans that no chunk holds."""
    covered = bytearray(len(doc.text))
    for c in chunks:
        covered[c.start:c.end] = b"\x01" * (c.end - c.start)
    missing = []
    for a, b in doc.spans:
        for i in range(a, b):
            if not doc.text[i].isspace() and not covered[i]:
                missing.append(doc.text[i])
    return missing


# --- hypothesis: arbitrary and article-like text ------------------------------------------

WORDS = st.sampled_from([
    "NATO", "alliance", "the", "of", "ﬁnance", "ﬂag", "café", "naïve", "Ⅻ", "①", "ｆｕｌｌ",
    "x²", "e\u0301", "👍", "🇺🇦", "👩‍👩‍👧", "1,000", "2%", "U.S.", "Dr.", "e.g.", "Mr.", "—",
    "«quote»", "“said”", "Kyiv's", "北约", "حلف", "Ünïcödé", "tab\tbed", "a.m.", "...",
])
SPACE = st.sampled_from([" ", " ", " ", "\u00a0", "  ", "\u2009"])
END = st.sampled_from([".", ".", "?", "!", "…", ".”", "", ":"])


@st.composite
def sentence(draw):
    words = draw(st.lists(WORDS, min_size=1, max_size=25))
    text = words[0]
    for w in words[1:]:
        text += draw(SPACE) + w
    return text + draw(END)


@st.composite
def article(draw):
    paragraphs = draw(st.lists(st.lists(sentence(), min_size=1, max_size=8)
                               .map(" ".join), min_size=1, max_size=6))
    breaks = st.sampled_from(["\n\n", "\n", "\n\n\n", "\n \n", "\r\n\r\n", "\n\u00a0\n"])
    text = draw(st.sampled_from(["", " date 2024-09-19 ", "Headline of the day\n\n"]))
    for p in paragraphs:
        text += p + draw(breaks)
    return text


CONFIGS = st.builds(ChunkConfig, max_tokens=st.sampled_from([16, 24, 48, 128]),
                    overlap=st.integers(0, 2))


@settings(max_examples=80)
@given(text=st.one_of(st.text(max_size=400), article()), config=CONFIGS)
def test_chunks_are_exact_slices_inside_content_spans_in_order(text, config):
    doc = make_document(text, id="d", source="d.txt")
    chunks = chunk_document(doc, config=config, model_limit=64, model_counter=_words_limit(64))
    _check_invariants(doc, chunks, config)


@settings(max_examples=80)
@given(text=article(), config=CONFIGS)
def test_chunks_cover_every_character_of_the_content_spans(text, config):
    doc = make_document(text, id="d", source="d.txt")
    chunks = chunk_document(doc, config=config)
    assert _uncovered_words(doc, chunks) == []


@settings(max_examples=50)
@given(text=article())
def test_chunks_fit_the_token_limits(text):
    config = ChunkConfig(max_tokens=24)
    doc = make_document(text, id="d", source="d.txt")
    for c in chunk_document(doc, config=config, model_limit=20, model_counter=_words_limit(20)):
        assert c.n_tokens <= config.max_tokens
        assert len(c.text.split()) + 2 <= 20


# Short plain sentences: any two fit in one chunk, so with overlap=1 every chunk holds at
# least two and the next one starts with its last.
PLAIN = st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "river", "stone"]),
                 min_size=3, max_size=6).map(lambda ws: " ".join(ws).capitalize() + ".")


@settings(max_examples=50)
@given(paragraph=st.lists(PLAIN, min_size=12, max_size=40).map(" ".join),
       overlap=st.integers(0, 1))
def test_overlap_repeats_one_sentence_or_none(paragraph, overlap):
    doc = make_document("Headline of the day\n\n" + paragraph + "\n", id="d", source="d.txt")
    chunks = chunk_document(doc, config=ChunkConfig(max_tokens=40, overlap=overlap))
    assert len(doc.spans) == 1 and len(chunks) > 1
    for first, second in pairwise(chunks):
        if overlap == 0:
            assert second.start >= first.end
        else:
            shared = doc.text[second.start:first.end]
            assert second.start < first.end
            assert first.text.endswith(shared) and second.text.startswith(shared)
            assert shared.endswith(".") and shared.count(".") == 1


# --- known answers -----------------------------------------------------------------------

KNOWN = ("Title of the piece\n\n"
         "The first sentence is short. The second one is a bit longer than that. "
         "A third sentence follows here. And the fourth closes the paragraph.\n")


def test_sentences_known_answer():
    assert [KNOWN[a:b] for a, b in sentences(KNOWN)] == [
        "Title of the piece",
        "The first sentence is short.",
        "The second one is a bit longer than that.",
        "A third sentence follows here.",
        "And the fourth closes the paragraph.",
    ]


def test_chunk_document_known_answer():
    doc = make_document(KNOWN, id="k", source="k.txt")
    chunks = chunk_document(doc, config=ChunkConfig(max_tokens=20, overlap=1))
    assert doc.title == "Title of the piece"  # the headline is the title, not a chunk
    assert [(c.id, c.text) for c in chunks] == [
        ("k:0", "The first sentence is short. The second one is a bit longer than that."),
        ("k:1", "The second one is a bit longer than that. A third sentence follows here."),
        ("k:2", "A third sentence follows here. And the fourth closes the paragraph."),
    ]
    assert [(c.start, c.end) for c in chunks] == [(20, 90), (49, 121), (91, 158)]


def test_chunk_document_known_answer_without_overlap():
    doc = make_document(KNOWN, id="k", source="k.txt")
    chunks = chunk_document(doc, config=ChunkConfig(max_tokens=20, overlap=0))
    assert [c.text for c in chunks] == [
        "The first sentence is short. The second one is a bit longer than that.",
        "A third sentence follows here. And the fourth closes the paragraph.",
    ]


def test_chunks_never_cross_dropped_furniture():
    text = ("Headline\n\nThe first paragraph of the article ends right here.\n"
            "Share this article\n"
            "The second paragraph of the article starts after the share bar.\n")
    doc = make_document(text, id="f", source="f.txt")
    chunks = chunk_document(doc, config=ChunkConfig(max_tokens=128))
    assert all("Share" not in c.text for c in chunks)
    assert any("second paragraph" in c.text for c in chunks)


@pytest.mark.parametrize("max_tokens, overlap", [(15, 1), (16, -1)])
def test_chunk_config_rejects_bad_values(max_tokens, overlap):
    with pytest.raises(ValueError, match="max_tokens|overlap"):
        ChunkConfig(max_tokens=max_tokens, overlap=overlap)


def test_document_without_spans_has_no_chunks():
    doc = make_document("Share this article\n", id="e", source="e.txt")
    assert chunk_document(doc) == []


# --- long input and the real model's word-piece limit --------------------------------------

def test_a_2000_word_sentence_without_punctuation_is_cut_into_pieces_that_fit():
    words = [f"word{i}" if i % 3 else "alliance" for i in range(2000)]
    body = " ".join(words)
    doc = make_document("Headline\n\n" + body + "\n", id="long", source="long.txt")
    config = ChunkConfig(max_tokens=128, overlap=1)
    chunks = chunk_document(doc, config=config, model_limit=100, model_counter=_words_limit(100))
    body_chunks = [c for c in chunks if c.start >= doc.text.index(body)]
    assert len(body_chunks) > 10
    for c in chunks:
        assert c.n_tokens <= 128
        assert len(c.text.split()) + 2 <= 100
    assert " ".join(c.text for c in body_chunks).split() == words


@pytest.fixture(scope="module")
def minilm():
    from rag.indexing.embed import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    assert embedder.max_tokens == 256
    return embedder


def _model_chunks(doc: Document, embedder, config: ChunkConfig | None = None):
    """Chunked as rag.indexing.build does it."""
    return chunk_document(doc, config=config or ChunkConfig(), model_limit=embedder.max_tokens,
                          model_counter=embedder.count_tokens)


@pytest.mark.parametrize("max_tokens", [128, 512])
def test_no_seed_chunk_exceeds_the_models_word_piece_limit(minilm, seeds_dir, max_tokens):
    config = ChunkConfig(max_tokens=max_tokens)
    chunks = [c for d in read_documents([seeds_dir]) for c in _model_chunks(d, minilm, config)]
    assert chunks
    assert max(minilm.count_tokens(c.text) for c in chunks) <= minilm.max_tokens


def _rare_words_text() -> str:
    """Rare words, codes and long numbers: few tiktoken tokens each, many word pieces."""
    parts = []
    for i in range(400):
        parts.append(f"Zyqx{i * 7919 % 10007}vaxl {i * 104729 % 99991}.{i % 97:02d}"
                     f"-kPa Ouagadougou{i} hemidemisemiquaver ÆØÅ-{i:x}")
        if i % 12 == 11:
            parts[-1] += "."
    return "Rare words and numbers\n\n" + " ".join(parts) + ".\n"


def test_rare_words_text_stays_within_the_models_word_piece_limit(minilm):
    doc = make_document(_rare_words_text(), id="rare", source="rare.txt")
    config = ChunkConfig(max_tokens=512)
    unguarded = chunk_document(doc, config=config)
    assert max(minilm.count_tokens(c.text) for c in unguarded) > minilm.max_tokens  # a real test
    chunks = _model_chunks(doc, minilm, config)
    assert max(minilm.count_tokens(c.text) for c in chunks) <= minilm.max_tokens
    assert _uncovered_words(doc, chunks) == []


def test_a_long_run_without_spaces_is_cut_to_the_models_limit(minilm):
    """Chinese has no spaces between words; a long sentence must still fit the model."""
    chars = "北约秘书长斯托尔滕贝格周四发表告别演讲警告美国不要奉行孤立主义盟国国防开支乌克兰战争"
    run = "".join(chars[(i * 7) % len(chars)] for i in range(400)) + "。"
    text = ("Headline of a story\n\nThe alliance published the statement below in Chinese on "
            "Monday morning, officials said.\n\n" + run + "\n")
    doc = make_document(text, id="zh", source="zh.txt")
    chunks = _model_chunks(doc, minilm)
    assert any(run[:20] in c.text for c in chunks)
    assert max(minilm.count_tokens(c.text) for c in chunks) <= minilm.max_tokens
    assert max(c.n_tokens for c in chunks) <= ChunkConfig().max_tokens
