"""Document ids: the file's stem when no other file shares it; distinct, deterministic and
sticky when files do (issue 12, point 2)."""

from __future__ import annotations

import hashlib
import os
from itertools import permutations

from hypothesis import given
from hypothesis import strategies as st

from rag.reading.identity import assign_ids, natural, where
from rag.reading.ingest import make_document


def _doc(source: str, doc_id: str | None = None, text: str | None = None):
    stem = os.path.splitext(os.path.basename(source))[0]
    return make_document(text or f"An article read from {source}.", id=doc_id or stem,
                         source=source)


def _digest(source: str) -> str:
    return hashlib.sha256(os.path.abspath(source).encode()).hexdigest()[:8]


def test_unique_stems_stay_exactly_the_stem():
    docs = [_doc("/seeds/000_909c1f4abb7fe135.txt"), _doc("/seeds/001_4db963de024e33e7.txt")]
    assert [d.id for d in assign_ids(docs)] == ["000_909c1f4abb7fe135", "001_4db963de024e33e7"]


def test_a_shared_stem_gives_every_file_an_id_of_its_own_path_in_any_order():
    docs = [_doc("/a/report.txt"), _doc("/b/report.md"), _doc("/c/report.html")]
    want = {d.source: f"report~{_digest(d.source)}" for d in docs}
    for order in permutations(docs):
        assert {d.source: d.id for d in assign_ids(list(order))} == want


def test_a_file_added_beside_an_indexed_one_of_the_same_name_never_takes_its_id():
    kept = [_doc("/a/report.txt")]
    [new] = assign_ids([_doc("/b/report.txt")], kept=kept)
    assert new.id == f"report~{_digest('/b/report.txt')}"


def test_ids_are_sticky_while_the_file_stays_where_it_is():
    previous = {"/a/report.txt": ["report"], "/b/report.txt": [f"report~{_digest('/b/report.txt')}"]}
    docs = assign_ids([_doc("/b/report.txt"), _doc("/a/report.txt")], previous=previous)
    assert [d.id for d in docs] == [previous["/b/report.txt"][0], "report"]


def test_an_upload_named_like_a_seed_gets_its_own_id():
    seed = _doc("/srv/seeds/004_47575fa39b048119.txt")
    upload = _doc("/srv/index/default-uploads/004_47575fa39b048119.txt", text="Pyongyang.")
    [new] = assign_ids([upload], kept=[seed])
    assert new.id != seed.id and natural(new.id) == seed.id


def test_records_of_one_jsonl_file_with_the_same_id_are_numbered_in_file_order():
    docs = [_doc("/n/news.jsonl", "x", text=f"Record {i}.") for i in range(3)]
    assert [d.id for d in assign_ids(docs)] == ["x", "x-2", "x-3"]


def test_where_is_the_absolute_path():
    assert where("a/../b/report.txt") == os.path.abspath("b/report.txt")


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(["r", "s", "r~1a2b3c4d"])),
                min_size=1, max_size=8, unique=True),
       st.integers(min_value=0, max_value=8))
def test_ids_are_always_distinct_and_kept_ids_never_change(files, split):
    docs = [_doc(f"/{folder}/{stem}.txt") for folder, stem in files]
    kept, fresh = assign_ids(docs[:split]), docs[split:]  # kept: what an index holds
    out = assign_ids(fresh, kept=kept)
    ids = [d.id for d in kept] + [d.id for d in out]
    assert len(set(ids)) == len(ids)
    assert [d.source for d in out] == [d.source for d in fresh]
