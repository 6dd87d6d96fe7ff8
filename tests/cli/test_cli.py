"""The `rag` command, run in-process with the fake embedder."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest
from conftest import ARTICLES, write_corpus

import rag.indexing.build
import rag.indexing.embed
import rag.search.retrieve
from rag.cli import main
from rag.indexing.store import FORMAT_VERSION

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "indexing"))
from test_job import _article  # one-chunk articles, shared with the indexing tests


@pytest.fixture(autouse=True)
def fake_model(monkeypatch, fake_embedder):
    """Every place the CLI's library code looks up an embedder gets the fake one."""
    def get_embedder(model=None):
        return fake_embedder

    for module in (rag.indexing.build, rag.search.retrieve, rag.indexing.embed):
        monkeypatch.setattr(module, "get_embedder", get_embedder)
    return fake_embedder


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def index(tmp_path, corpus, capsys) -> Path:
    path = tmp_path / "index"
    code, _, err = run(capsys, "index", corpus, "--index", path)
    assert code == 0, err
    return path


def assert_one_line_error(code: int, out: str, err: str, *, mentions: str = "") -> None:
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert code == 1
    assert out == ""
    assert len(errors) == 1, err
    assert "Traceback" not in err
    assert all(line.startswith(("error: ", "note: ")) for line in lines), err
    assert mentions in errors[0]


# --- index, search, info -----------------------------------------------------------------

def test_index_reports_what_it_did(tmp_path, corpus, capsys, fake_model):
    code, out, err = run(capsys, "index", corpus, "--index", tmp_path / "idx")
    assert code == 0, err
    assert "updated, 3 documents" in out
    assert "added: bakery, chess, volcano" in out
    fake_model.texts.clear()
    code, out, _ = run(capsys, "index", corpus, "--index", tmp_path / "idx")
    assert code == 0
    assert "unchanged" in out and "0 embedded" in out
    assert fake_model.embedded == 0


def test_index_lists_ten_ids_of_a_large_change_and_counts_the_rest(tmp_path, capsys,
                                                                    fake_model):
    corpus = write_corpus(tmp_path / "many", {f"note{i:02d}.txt": f"Note {i}\n\nThe note "
                                              f"number {i} is about item {i}.\n"
                                              for i in range(25)})
    code, out, err = run(capsys, "index", corpus, "--index", tmp_path / "idx")
    assert code == 0, err
    assert "added: note00, note01," in out and ", and 15 more (`rag docs` lists them)" in out
    assert "note24" not in out
    code, out, _ = run(capsys, "index", corpus, "--index", tmp_path / "idx2", "--json")
    assert len(json.loads(out)["added"]) == 25


def test_index_json_report(tmp_path, corpus, capsys):
    code, out, _ = run(capsys, "index", corpus, "--index", tmp_path / "idx", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["documents"] == 3 and report["written"] is True
    assert report["embedded"] == report["chunks"]


def test_index_add_keeps_old_documents(tmp_path, index, capsys):
    extra = write_corpus(tmp_path / "extra", {"orchid.txt": (
        "Rare orchid found\n\nBotanists found a rare orchid in an alpine meadow above the "
        "glacier for the first time in eighty years.\n")})
    code, out, _ = run(capsys, "index", extra, "--index", index, "--add", "--json")
    assert code == 0
    assert json.loads(out)["documents"] == 4


def test_index_keeps_its_chunk_size_and_add_with_another_is_one_line(tmp_path, corpus, capsys,
                                                                      fake_model):
    where = tmp_path / "idx"
    code, _, err = run(capsys, "index", corpus, "--index", where, "--chunk-tokens", "64")
    assert code == 0, err
    fake_model.texts.clear()
    code, out, _ = run(capsys, "index", corpus, "--index", where, "--json")
    assert code == 0 and json.loads(out)["embedded"] == 0 and fake_model.texts == []
    code, out, _ = run(capsys, "info", "--index", where, "--json")
    assert json.loads(out)["chunker"]["max_tokens"] == 64
    assert_one_line_error(*run(capsys, "index", corpus, "--index", where, "--add",
                               "--chunk-tokens", "200"), mentions="chunked at 64 tokens")


@pytest.mark.parametrize("value", ["8", "300", "ten"])
def test_index_chunk_tokens_out_of_range_is_a_usage_error(tmp_path, corpus, capsys, value):
    with pytest.raises(SystemExit) as info:
        main(["index", str(corpus), "--index", str(tmp_path / "idx"), "--chunk-tokens", value])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "from 32 to 256" in err and "Traceback" not in err
    assert not (tmp_path / "idx").exists()


def test_search_json_has_the_documented_passage_fields(index, capsys, corpus):
    code, out, err = run(capsys, "search", "Where is the lava flowing from the volcano?",
                         "--json", "--index", index, "-k", 2)
    assert code == 0, err
    data = json.loads(out)
    assert data["question"] == "Where is the lava flowing from the volcano?"
    assert len(data["passages"]) == 2
    first = data["passages"][0]
    for key in ("rank", "score", "text", "doc_id", "title", "date", "source", "start", "end"):
        assert key in first
    assert first["rank"] == 1 and first["doc_id"] == "volcano"
    assert first["title"] == "Volcano erupts near the village of Grindavik"
    assert first["source"] == str(corpus / "volcano.txt")
    text = Path(first["source"]).read_text(encoding="utf-8")
    assert text[first["start"]:first["end"]] == first["text"]
    assert isinstance(first["score"], float)


def test_search_plain_text_for_people(index, capsys):
    code, out, _ = run(capsys, "search", "sourdough bakery", "--index", index, "-k", 1)
    assert code == 0
    assert out.startswith("[1] ")
    assert "A bakery revives sourdough traditions" in out
    assert "bakery.txt:" in out
    assert "[2]" not in out


def test_search_uses_rag_index_from_the_environment(index, capsys, monkeypatch):
    monkeypatch.setenv("RAG_INDEX", str(index))
    code, out, _ = run(capsys, "search", "chess championship", "--json")
    assert code == 0
    assert json.loads(out)["passages"][0]["doc_id"] == "chess"


def test_info_json(index, capsys):
    code, out, _ = run(capsys, "info", "--json", "--index", index)
    assert code == 0
    info = json.loads(out)
    assert info["documents"] == 3
    assert info["chunks"] >= 3
    assert info["model"] == "fake-hash"
    assert info["dimension"] == 64
    assert (info["index_type"], info["faiss"], info["pending"]) == ("auto", "flat", 0)
    assert info["size_bytes"] == sum(f.stat().st_size for f in index.rglob("*") if f.is_file())
    assert info["index"] == str(index)
    assert info["characters"] > 0 and info["fusion"] == "rrf"  # a small collection


def test_search_fusion_is_chosen_with_fusion_and_checked(index, capsys):
    scores = {}
    for how in ("rrf", "minmax"):
        code, out, _ = run(capsys, "search", "sourdough bakery", "--index", index, "--json",
                           "--fusion", how)
        assert code == 0
        scores[how] = [p["score"] for p in json.loads(out)["passages"]]
    assert scores["rrf"] != scores["minmax"]
    with pytest.raises(SystemExit):
        run(capsys, "search", "sourdough", "--index", index, "--fusion", "sum")
    assert "invalid choice: 'sum'" in capsys.readouterr().err


def test_rag_fusion_from_the_environment_is_used_and_checked(index, capsys, monkeypatch):
    from rag.cli.common import search_config

    monkeypatch.setenv("RAG_FUSION", "minmax")
    assert search_config(argparse.Namespace()).fusion == "minmax"  # rag serve has no --fusion
    assert search_config(argparse.Namespace(fusion="rrf")).fusion == "rrf"  # the flag wins
    monkeypatch.setenv("RAG_MODE", "lexical")
    assert search_config(argparse.Namespace()).mode == "lexical"
    monkeypatch.setenv("RAG_FUSION", "bogus")
    code, _, err = run(capsys, "search", "sourdough", "--index", index)
    assert code == 1 and err.strip() == ("error: unknown fusion 'bogus' (--fusion or RAG_FUSION); "
                                         "allowed: rrf, minmax, zscore")


def test_info_plain_text(index, capsys):
    code, out, _ = run(capsys, "info", "--index", index)
    assert code == 0
    assert "documents: 3" in out
    assert "size on disk:" in out and "MB" in out
    assert "fusion: rrf (hybrid search's default for this size; --fusion to choose)" in out


def test_search_without_an_index_builds_the_default_one_first(tmp_path, capsys, monkeypatch,
                                                              private_index):
    small = write_corpus(tmp_path / "small", {"chess.txt": ARTICLES["chess.txt"]})
    monkeypatch.setenv("RAG_CORPUS", str(small))
    code, out, err = run(capsys, "search", "Who won the chess championship?", "--json")
    assert code == 0, err
    assert "no index" in err and "building it from" in err and str(small) in err
    assert json.loads(out)["passages"][0]["doc_id"] == "chess"
    assert (private_index / "manifest.json").exists()
    code, _, err = run(capsys, "search", "chess", "--json")
    assert code == 0 and "building" not in err


def test_index_without_paths_indexes_the_default_corpus(tmp_path, capsys, monkeypatch,
                                                        private_index):
    small = write_corpus(tmp_path / "small", {"bakery.txt": ARTICLES["bakery.txt"]})
    monkeypatch.setenv("RAG_CORPUS", str(small))
    code, out, _ = run(capsys, "index", "--json")
    assert code == 0
    assert json.loads(out)["index_dir"] == str(private_index)
    assert json.loads(out)["documents"] == 1


def test_skipped_files_become_note_lines(tmp_path, corpus, capsys):
    (corpus / "empty.txt").write_text("")
    code, _, err = run(capsys, "index", corpus, "--index", tmp_path / "idx")
    assert code == 0
    assert any(line.startswith("note: ") and "empty.txt" in line for line in err.splitlines())
    assert "Traceback" not in err


# --- errors: one line, exit 1, no traceback ----------------------------------------------

def test_error_nonexistent_path(tmp_path, capsys):
    assert_one_line_error(*run(capsys, "index", tmp_path / "nope", "--index", tmp_path / "i"),
                          mentions="nope")


def test_error_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(*run(capsys, "index", tmp_path / "empty", "--index", tmp_path / "i"),
                          mentions="empty")


@pytest.mark.parametrize("k", ["0", "-1"])
def test_error_bad_k(index, capsys, k):
    assert_one_line_error(*run(capsys, "search", "volcano", "-k", k, "--index", index),
                          mentions="k must be")


@pytest.mark.parametrize("question", ["", "   "])
def test_error_empty_question(index, capsys, question):
    assert_one_line_error(*run(capsys, "search", question, "--index", index),
                          mentions="question")


def test_error_empty_question_builds_nothing(capsys, private_index):
    assert_one_line_error(*run(capsys, "search", " ", "--json"), mentions="question")
    assert not private_index.exists()


@pytest.mark.parametrize("command", [["search", "volcano"], ["info"]])
def test_error_missing_index_dir_names_the_rebuild_command(tmp_path, capsys, command):
    assert_one_line_error(*run(capsys, *command, "--index", tmp_path / "missing"),
                          mentions="rag index")


DAMAGE = {
    "manifest garbage": lambda p: (p / "manifest.json").write_text("{garbage"),
    "manifest not an object": lambda p: (p / "manifest.json").write_text("[]"),
    "other format version": lambda p: (p / "manifest.json").write_text(
        (p / "manifest.json").read_text().replace(f'"format_version": {FORMAT_VERSION}',
                                                  '"format_version": 9')),
    "vectors missing": lambda p: (p / "vectors.npy").unlink(),
    "database garbage": lambda p: (p / "meta.sqlite").write_bytes(b"not sqlite" * 500),
    "faiss garbage": lambda p: (p / "faiss.index").write_bytes(b"not faiss" * 500),
}


@pytest.mark.parametrize("command", ["search", "info"])
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_error_damaged_index(index, capsys, damage, command):
    DAMAGE[damage](index)
    argv = ["search", "volcano"] if command == "search" else ["info"]
    assert_one_line_error(*run(capsys, *argv, "--index", index))


def test_error_index_into_a_folder_that_is_not_an_index(tmp_path, corpus, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.txt").write_text("years of work")
    assert_one_line_error(*run(capsys, "index", corpus, "--index", mine),
                          mentions="not a verbatim index")
    assert (mine / "thesis.txt").read_text() == "years of work"
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.txt"]


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("index", "search", "info"):
        assert command in out


def test_index_says_when_it_is_searchable_and_search_notes_what_is_not_embedded(
        tmp_path, capsys, fake_model, monkeypatch):
    from rag.indexing.job import EARLY_SNAPSHOT_CHUNKS

    corpus = write_corpus(tmp_path / "big", {f"r{i:04d}.txt": _article(i)
                                             for i in range(EARLY_SNAPSHOT_CHUNKS + 10)})
    real_embed = type(fake_model)._embed

    def interrupted(self, texts):  # Ctrl-C once the BM25 snapshot is out
        raise KeyboardInterrupt

    monkeypatch.setattr(type(fake_model), "_embed", interrupted)
    code, _, err = run(capsys, "index", corpus, "--index", tmp_path / "index")
    assert code == 130
    assert "searchable now: 266 chunks by BM25, 0 of them by meaning" in err
    assert "run the same `rag index` again" in err
    monkeypatch.setattr(type(fake_model), "_embed", real_embed)
    code, out, err = run(capsys, "search", "tag265 survey", "--index", tmp_path / "index")
    assert code == 0 and "r0265" in out
    assert "266 of 266 chunks are still being embedded" in err
    code, out, err = run(capsys, "index", corpus, "--index", tmp_path / "index")
    assert code == 0 and "266 chunks of up to 128 tokens (266 embedded, 0 reused, " in out


# --- the reader (issue 13) -------------------------------------------------------------------

def test_ask_with_the_learned_reader_prints_its_confidence(index, capsys):
    code, out, err = run(capsys, "ask", "When were residents of Grindavik evacuated?",
                         "--json", "--index", index, "--reader", "learned")
    assert code == 0, err
    data = json.loads(out)
    assert 0.0 <= data["confidence"] <= 1.0
    code, out, err = run(capsys, "ask", "When were residents of Grindavik evacuated?",
                         "--index", index, "--reader", "learned")
    assert code == 0 and ("confidence: " in err or "I can't find" in out)


def test_ask_takes_the_reader_from_the_environment(index, capsys, monkeypatch):
    monkeypatch.setenv("RAG_READER", "learned")
    code, out, _ = run(capsys, "ask", "When were residents of Grindavik evacuated?", "--json",
                       "--index", index)
    data = json.loads(out)  # the learned reader decides by its confidence: it is the score
    assert code == 0 and data["confidence"] is not None and data["score"] == data["confidence"]


def test_an_unknown_reader_is_refused_with_the_choices(index, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["ask", "When?", "--index", str(index), "--reader", "bert"])
    assert exit_.value.code == 2
    assert "choose from 'learned', 'cheap'" in capsys.readouterr().err
