"""The experimental reader: its manifest is checked on load, and training pairs are built
from SQuAD-style paragraphs as documented."""

from __future__ import annotations

import json

import pytest

from rag.errors import ReaderError
from rag.training.pairs import reading_pairs
from rag.training.reader import FORMAT, FORMAT_VERSION, read_manifest, segment_b, sha256
from rag.training.squad import Paragraph, Question


def model_dir(tmp_path, **changes):
    d = tmp_path / "reader"
    d.mkdir()
    (d / "reader.onnx").write_bytes(b"not really a graph")
    (d / "tokenizer.json").write_text("{}")
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "max_length": 96,
                "sha256": {n: sha256(d / n) for n in ("reader.onnx", "tokenizer.json")}}
    (d / "manifest.json").write_text(json.dumps({**manifest, **changes}))
    return d


def test_a_whole_model_folder_passes_the_manifest_check(tmp_path):
    assert read_manifest(model_dir(tmp_path))["max_length"] == 96


def test_a_missing_model_says_how_to_rebuild_it(tmp_path):
    with pytest.raises(ReaderError, match=r"no reader model .*python -m rag.training"):
        read_manifest(tmp_path)


def test_a_changed_file_fails_its_hash(tmp_path):
    d = model_dir(tmp_path)
    (d / "reader.onnx").write_bytes(b"replaced")
    with pytest.raises(ReaderError, match="does not match the SHA-256 in its manifest"):
        read_manifest(d)


@pytest.mark.parametrize("changes, words", [({"format_version": 99}, "format version 99"),
                                            ({"format": "other"}, "not a verbatim reader")])
def test_another_format_is_named(tmp_path, changes, words):
    with pytest.raises(ReaderError, match=words):
        read_manifest(model_dir(tmp_path, **changes))


def test_the_sentence_follows_its_title():
    text, shift = segment_b("Normans", "They settled in Normandy.")
    assert text[shift:] == "They settled in Normandy." and text.startswith("Normans")


def test_reading_pairs_hold_the_answer_sentence_and_negatives_without_it():
    context = ("The Normans settled in Normandy in the 10th century. Their leader was Rollo. "
               "They spoke Norman French and built many castles.")
    at = context.index("Rollo")
    paragraphs = [Paragraph("Normans", context, (Question("Who was the leader of the Normans?",
                                                          (("Rollo", at),)),))]
    pairs = reading_pairs(paragraphs)
    positive = [p for p in pairs if p.y == 1]
    assert len(positive) == 1 and positive[0].sentence[positive[0].a:positive[0].b] == "Rollo"
    assert all("Rollo" not in p.sentence for p in pairs if p.y == 0) and len(pairs) >= 2
