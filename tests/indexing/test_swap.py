"""Publishing index versions: readers keep what they opened, one writer at a time."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest
from conftest import ARTICLES, ROOT, write_corpus

from rag.errors import IndexBusyError
from rag.indexing import swap
from rag.indexing.build import build_index
from rag.indexing.store import open_index


def test_the_index_path_is_a_link_to_its_current_version(tmp_path, corpus, fake_embedder):
    index = tmp_path / "index"
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert index.is_symlink() and index.resolve().name.startswith(".index.v-")
    assert json.loads((index / "manifest.json").read_text())["format"] == "verbatim-index"


def test_a_reader_keeps_the_version_it_opened_while_a_new_one_is_published(
        tmp_path, corpus, fake_embedder):
    index = tmp_path / "index"
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    reader = open_index(index)
    before = set(reader.documents())
    (corpus / "chess.txt").unlink()
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert not reader.is_current()
    assert set(reader.documents()) == before  # still the old version, whole
    _, rows = reader.search(reader.vectors()[:1], 3)
    assert rows[0][0] == 0 and reader.lexical.scores("chess").max() > 0
    fresh = open_index(index)
    assert fresh.is_current() and set(fresh.documents()) == before - {"chess"}


def test_a_second_writer_is_refused_with_a_clear_message(tmp_path, corpus, fake_embedder):
    index = tmp_path / "index"
    script = textwrap.dedent(f"""
        import sys, time
        from rag.indexing import swap
        with swap.locked(__import__("pathlib").Path({str(index)!r})):
            print("locked", flush=True)
            time.sleep(60)
    """)
    holder = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(IndexBusyError, match="another process is writing"):
            build_index([corpus], index_dir=index, embedder=fake_embedder)
    finally:
        holder.kill()
        holder.wait()
    build_index([corpus], index_dir=index, embedder=fake_embedder)  # free once it is gone
    assert open_index(index).manifest.chunks > 0


def test_an_index_from_before_versions_is_replaced_by_a_link(tmp_path, corpus, fake_embedder):
    index = tmp_path / "index"
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    plain = tmp_path / "plain"
    shutil.copytree(index.resolve(), plain)  # what older verbatim wrote: a plain directory
    write_corpus(corpus, {"extra.txt": ARTICLES["chess.txt"].replace("chess", "draughts")})
    build_index([corpus], index_dir=plain, embedder=fake_embedder)
    assert plain.is_symlink() and "extra" in open_index(plain).documents()
    assert not list(tmp_path.glob(".plain.old-*"))


def test_a_link_to_a_deleted_version_reads_as_no_index_and_is_rebuilt(
        tmp_path, corpus, fake_embedder):
    index = tmp_path / "index"
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    shutil.rmtree(index.resolve())
    with pytest.raises(Exception, match="no index at"):
        open_index(index)
    report = build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert report.written and open_index(index).manifest.chunks == report.chunks


def test_the_lock_is_reentrant_in_one_process(tmp_path):
    with swap.locked(tmp_path / "index"), swap.locked(tmp_path / "index"):
        assert not swap.locked_elsewhere(tmp_path / "index")
