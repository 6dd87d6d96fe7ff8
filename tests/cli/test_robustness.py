"""`rag` with bad input and a damaged index: one note or one error line, and the command the
error names repairs the index (issue 12, points 7, 9 and 2)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import test_cli
from conftest import ARTICLES, write_corpus
from test_cli import assert_one_line_error, run

import rag.indexing.embed
import rag.search.retrieve

fake_model = test_cli.fake_model  # the fake embedder everywhere (autouse)
index = test_cli.index  # the three articles, indexed

# --- point 7: JSONL fields of the wrong type ---------------------------------------------


def test_index_notes_each_wrongly_typed_jsonl_record_and_indexes_everything_else(
        tmp_path, capsys, corpus):
    good = {"id": "orchid", "title": "Rare orchid", "date": "2024-05-01",
            "text": "Botanists found a rare orchid in an alpine meadow above the glacier."}
    lines = [{"id": "a", "title": 123, "text": "A record whose title is a number."},
             {"id": "b", "date": [2024], "text": "A record whose date is a list of numbers."},
             {"id": {"x": 1}, "text": "A record whose id is an object."},
             {"id": "d", "text": ["a", "list"]}, good]
    (corpus / "news.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    code, out, err = run(capsys, "index", corpus, "--index", tmp_path / "idx")
    assert code == 0, err
    assert "Traceback" not in err and "Error" not in err
    notes = [line for line in err.splitlines() if line.startswith("note: ")]
    assert [n.split(": ")[1].rsplit(":", 1)[1] for n in notes] == ["1", "2", "3", "4"], notes
    assert "4 documents" in out  # the good record and the three .txt articles
    code, out, _ = run(capsys, "search", "orchid glacier", "--index", tmp_path / "idx", "--json")
    assert json.loads(out)["passages"][0]["date"] == "2024-05-01"


# --- point 9: a damaged index is repaired by the command its error names ------------------

def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])


def _overwrite(file: Path) -> None:
    """Garbage of the same size: only reading the file shows the damage."""
    file.write_bytes(b"x" * file.stat().st_size)


DAMAGE = {
    "vectors.npy truncated": lambda p: _truncate(p / "vectors.npy"),
    "faiss.index truncated": lambda p: _truncate(p / "faiss.index"),
    "faiss.index overwritten": lambda p: _overwrite(p / "faiss.index"),
    "bm25 vocabulary overwritten": lambda p: _overwrite(p / "bm25" / "vocab.index.json"),
    "bm25 array truncated": lambda p: _truncate(p / "bm25" / "data.csc.index.npy"),
    "bm25 vocabulary damaged": lambda p: (p / "bm25" / "vocab.index.json").write_text("{oops"),
    "bm25 parameters damaged": lambda p: (p / "bm25" / "params.index.json").write_text("[]"),
    "meta.sqlite truncated": lambda p: _truncate(p / "meta.sqlite"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_the_command_a_damage_error_names_repairs_the_index(index, capsys, corpus, damage):
    DAMAGE[damage](index.resolve())
    for argv in (["search", "volcano"], ["info"]):  # info, after a search has read every file
        code, out, err = run(capsys, *argv, "--index", index)
        assert_one_line_error(code, out, err, mentions="damaged")
        short = err.replace(str(index), "IDX").replace(str(corpus), "C")
        assert len(short) < 250 and "faiss::" not in err and "Error in" not in err, err
    command = re.search(r"`(rag index [^`]+)`", err).group(1)
    assert command == f"rag index {shlex.quote(str(corpus))} --index {shlex.quote(str(index))}"
    code, out, err = run(capsys, *shlex.split(command)[1:])
    assert code == 0, err
    assert "updated, 3 documents" in out, out
    if damage != "meta.sqlite truncated":  # the metadata says which vector is which chunk
        assert "(0 embedded" in out or damage == "vectors.npy truncated", out
    assert "note: the index at" in err and "damaged" in err
    for mode in ("dense", "lexical", "hybrid"):
        code, out, err = run(capsys, "search", "volcano lava Grindavik magma peninsula", "--index", index,
                             "--mode", mode, "--json")
        assert code == 0, err
        assert json.loads(out)["passages"][0]["doc_id"] == "volcano"
    assert run(capsys, "info", "--index", index)[0] == 0


def test_a_truncated_vectors_file_is_repaired_embedding_only_the_lost_rows(index, capsys,
                                                                        corpus, fake_model):
    store_file = index.resolve() / "vectors.npy"
    chunks = json.loads((index / "manifest.json").read_text())["chunks"]
    row = 64 * 4
    store_file.write_bytes(store_file.read_bytes()[:-(chunks // 2) * row - 1])
    fake_model.texts.clear()
    code, _, err = run(capsys, "index", corpus, "--index", index)
    assert code == 0, err
    assert 0 < fake_model.embedded <= chunks // 2 + 1 < chunks


def test_an_index_whose_model_is_gone_says_how_to_rebuild_it(index, capsys, corpus,
                                                              monkeypatch, fake_model):
    real = rag.indexing.embed.SentenceTransformerEmbedder

    def get_embedder(model=None):
        return fake_model if model in (None, fake_model.name) else real(model)

    monkeypatch.setattr(rag.search.retrieve, "get_embedder", get_embedder)
    manifest = index / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"fake-hash"', '"/gone/model"'))
    code, out, err = run(capsys, "search", "volcano", "--index", index)
    assert_one_line_error(code, out, err, mentions="is not a model directory on disk")
    assert f"rag index PATH ... --index {index}" in err
    code, out, err = run(capsys, "index", corpus, "--index", index)
    assert code == 0, err
    assert run(capsys, "search", "volcano", "--index", index)[0] == 0


# --- point 2: a file named like an indexed one never replaces it --------------------------

def test_add_of_a_file_named_like_an_indexed_one_keeps_both(tmp_path, capsys):
    a = write_corpus(tmp_path / "a", {"report.txt": ARTICLES["volcano.txt"]})
    b = write_corpus(tmp_path / "b", {"report.txt": ARTICLES["chess.txt"]})
    idx = tmp_path / "idx"
    assert run(capsys, "index", a, "--index", idx)[0] == 0
    code, out, err = run(capsys, "index", b, "--index", idx, "--add")
    assert code == 0, err
    assert "2 documents" in out and "removed" not in out and "changed" not in out
    for question, folder in (("lava Grindavik eruption", a), ("chess grandmaster rook", b)):
        code, out, _ = run(capsys, "search", question, "--index", idx, "--json", "-k", "1")
        passage = json.loads(out)["passages"][0]
        assert Path(passage["source"]).parent == folder
    ids = set(json.loads((idx / "manifest.json").read_text())["documents"])
    assert "report" in ids and len(ids) == 2
