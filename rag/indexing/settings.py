"""Which embedding model and chunk size a build uses: the ones asked for, else the index's
own, else, for a new index, the ones its collection's size calls for.

A new index of a large collection (`LARGE_CHARACTERS` of text or more: about 50,000 chunks of
128 tokens, some 2,000 news articles) is embedded with the int8 model and chunked at 200
tokens (the float model under `RAG_ONNX=0`, which runs no int8). Measured on RealTimeQA 2023 (README, "News at scale"): it embeds in about half the
time, and news answers are found more often (answer recall@5 0.356 -> 0.406 on 500
questions, 0.345 -> 0.368 on 530 others). Small collections keep the float model and 128
tokens, which answer the seed questions better. An index keeps the settings it was built with
on every later build, whatever its size then.

A search that names no fusion (`SearchConfig.fusion` None) fuses the dense and lexical sides
of an index of `FUSION_CHARACTERS` or more (about 300 news articles) by min-max normalized
scores, of a smaller one by reciprocal rank (`fusion_by_size`, from the characters its
manifest records). Measured: RealTimeQA 2023 answer recall@5 0.416 -> 0.428 on 500 questions
(29.4 million characters), 0.381 -> 0.392 on 530 of other weeks; SciFact nDCG@10 0.721 ->
0.734 (7.8 million), and 0.860 -> 0.873 on a 1-million-character part of it. On the seeds
(20,000 characters) it costs hit@1 (0.796 -> 0.767), so small collections keep rank fusion.

Does not: read files or chunk them (`rag.indexing.build`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..reading.chunk import ChunkConfig
from . import onnx, swap
from .embed import DEFAULT_MODEL, INT8_MODEL, MODELS, Embedder
from .location import MilvusURI

LARGE_CHARACTERS = 20_000_000
LARGE_CHUNK_TOKENS = 200
FUSION_CHARACTERS = 1_000_000
LARGE_FUSION = "minmax"
SMALL_FUSION = "rrf"


@dataclass(frozen=True)
class Sized:
    """The settings a new index takes from its collection's size: `model` (a name in
    `MODELS`) and `chunking`, None where the caller named its own."""

    model: str | None
    chunking: ChunkConfig | None


def by_size(characters: int, *, model: bool, chunking: bool) -> Sized:
    """The settings for a new index of `characters` of text; `model` and `chunking` say which
    the caller left open."""
    large = characters >= LARGE_CHARACTERS
    quantized = large and onnx.enabled()  # the int8 model runs through onnxruntime only
    return Sized(model=(INT8_MODEL if quantized else DEFAULT_MODEL) if model else None,
                 chunking=(ChunkConfig(max_tokens=LARGE_CHUNK_TOKENS) if large else ChunkConfig())
                 if chunking else None)


def characters_of(documents) -> int:
    """The characters of the `documents`' text: what makes a collection large."""
    return sum(len(d.text) for d in documents)


def fusion_by_size(characters: int) -> str:
    """How a search that names no fusion fuses an index of `characters` of text (0 for one
    built before its manifest recorded them: rank fusion, until it is rebuilt)."""
    return LARGE_FUSION if characters >= FUSION_CHARACTERS else SMALL_FUSION


def describe(sized: Sized, characters: int) -> str | None:
    """One line telling the user that a large collection changed the defaults (None if not)."""
    chosen = []
    if sized.model == INT8_MODEL:
        chosen.append(f"the {sized.model} model")
    if sized.chunking is not None and sized.chunking != ChunkConfig():
        chosen.append(f"{sized.chunking.max_tokens}-token chunks")
    if characters < LARGE_CHARACTERS or not chosen:
        return None
    return (f"a large collection ({characters / 1e6:.1f} million characters): indexing with "
            f"{' and '.join(chosen)} (README: 'A large new index'); "
            f"--model {DEFAULT_MODEL} --chunk-tokens 128 keeps the small-collection settings")


def own_manifest(where: Path | MilvusURI) -> dict | None:
    """The manifest of the index at `where` as plain JSON, if it has one."""
    if isinstance(where, MilvusURI):
        from .milvus_store import published_manifest

        return published_manifest(where)
    version = swap.current_version(Path(where))
    try:
        manifest = json.loads((version / "manifest.json").read_text())
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def model_of(own: dict | None) -> str:
    """The embedding model of an index (its manifest `own`) when it is one this verbatim names,
    so that building again without naming one keeps it; else `DEFAULT_MODEL`."""
    model = (own or {}).get("model")
    return model if model in MODELS else DEFAULT_MODEL


def chunker_of(own: dict | None) -> ChunkConfig:
    """The chunk size and overlap an index (its manifest `own`) was built with, under today's
    reading rules and encoding; the defaults for a new index or one that records none."""
    recorded = (own or {}).get("chunker")
    try:
        return ChunkConfig(max_tokens=int(recorded["max_tokens"]),
                           overlap=int(recorded["overlap"]))
    except (TypeError, KeyError, ValueError):
        return ChunkConfig()


def check_add(where, own: dict | None, embedder: Embedder | None,
              chunk_config: ChunkConfig | None, add: bool) -> None:
    """`--add` with another model or chunk size than the index's would rebuild it without its
    documents: refused, saying how to change them for every document."""
    if not add or own is None:
        return
    if embedder is not None and own.get("model") not in (None, embedder.name):
        raise InputError(f"the index at {where} was embedded with {own['model']}; --add keeps "
                         f"it: drop --model, or index all its files again without --add to "
                         f"change to {embedder.name}")
    size = (own.get("chunker") or {}).get("max_tokens")
    if chunk_config is not None and size not in (None, chunk_config.max_tokens):
        raise InputError(f"the index at {where} was chunked at {size} tokens; --add keeps it: "
                         f"drop --chunk-tokens, or index all its files again without --add to "
                         f"change to {chunk_config.max_tokens}")
