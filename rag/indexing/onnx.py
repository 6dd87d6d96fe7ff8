"""Query embeddings without torch: an ONNX export of the embedding model, run by onnxruntime.

A one-off `rag search` would otherwise spend seconds importing torch to embed one question.
`ensure_export(model, path)` writes the transformer of an already loaded SentenceTransformer
to `model.onnx` (torch's TorchScript exporter, which needs the `onnx` package), checks it
against PyTorch on a few texts (cosine >= `MIN_COSINE`, else it is thrown away) and keeps it
in a cache directory: `$RAG_CACHE`, else `$XDG_CACHE_HOME/verbatim`, else `~/.cache/verbatim`,
under `onnx/NAME-FINGERPRINT/`, where the fingerprint covers the model's configuration,
tokenizer and weight files, so a changed model is exported again. `OnnxEncoder` tokenizes
with the model's `tokenizer.json` (the `tokenizers` library), runs the graph and does mean
pooling and L2 normalization in numpy, as the model's Pooling and Normalize modules do.

`ensure_int8(directory)` adds `model-int8.onnx` beside an export: its MatMul weights quantized
to int8 per channel by onnxruntime's dynamic quantization (4x smaller, about twice as fast on 2
cores), checked against the float export (cosine >= `MIN_COSINE_INT8`, else thrown away).
`rag.indexing.embed` offers it as its own model name, so an index and its questions always use
the same one.

`RAG_ONNX=0` turns the whole path off (queries are then embedded by PyTorch).

Does not: export models whose pooling is anything but mean pooling, or quantize anything but
the MatMul weights (activations are quantized on the fly, per batch).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXPORT_FORMAT = "verbatim-onnx"
EXPORT_VERSION = 1
MIN_COSINE = 0.99
MIN_COSINE_INT8 = 0.97  # measured: 0.986 at worst, 0.994 on average over 512 news chunks
INT8_FILE = "model-int8.onnx"
OPSET = 17
CHECK_TEXTS = (
    "Who succeeds Stoltenberg as NATO secretary general?",
    ("The volcano on the Reykjanes peninsula erupted again on Monday night, sending lava "
     "fountains into the sky above the evacuated fishing village of Grindavik."),
    "Prix: 3,50 € — 東京 2024",
    "x",
)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_CONFIGS = ("config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json",
            "1_Pooling/config.json")


class OnnxExportFailed(UserWarning):
    """The ONNX export could not be made or did not match PyTorch; queries use PyTorch."""


def enabled() -> bool:
    """False when `$RAG_ONNX` is 0, false, no or off."""
    return os.environ.get("RAG_ONNX", "1").strip().lower() not in ("0", "false", "no", "off")


def cache_root() -> Path:
    """`$RAG_CACHE`, else `$XDG_CACHE_HOME/verbatim`, else `~/.cache/verbatim`."""
    if os.environ.get("RAG_CACHE"):
        return Path(os.environ["RAG_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "verbatim"


def supported(model_path: str | Path) -> bool:
    """True when the model's pooling is plain mean pooling (what `OnnxEncoder` does)."""
    path = Path(model_path)
    try:
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    modes = {k: v for k, v in pooling.items() if k.startswith("pooling_mode")}
    return modes.get("pooling_mode_mean_tokens") is True and not any(
        v for k, v in modes.items() if k != "pooling_mode_mean_tokens")


@functools.lru_cache(maxsize=8)
def fingerprint(model_path: str) -> str:
    """A hash of the model's configuration and tokenizer files and its weights' size and date."""
    path = Path(model_path)
    h = hashlib.sha256(f"{EXPORT_FORMAT}/{EXPORT_VERSION}/{OPSET}".encode())
    for name in _CONFIGS:
        file = path / name
        h.update(name.encode() + (file.read_bytes() if file.exists() else b"-"))
    for name in _WEIGHTS:
        file = path / name
        if file.exists():
            st = file.stat()
            h.update(f"{name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def export_dir(model_path: str | Path) -> Path:
    """Where the export of the model at `model_path` lives (whether or not it exists yet)."""
    path = Path(model_path).resolve()
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in path.name)
    if name in ("model", "") and path.parent.name:  # packaged models sit in .../NAME/model
        name = path.parent.name
    return cache_root() / "onnx" / f"{name}-{fingerprint(str(path))}"


def find_export(model_path: str | Path) -> Path | None:
    """The directory of a finished export of this model, or None."""
    directory = export_dir(model_path)
    return directory if (directory / "export.json").exists() else None


_SPECIAL = frozenset({"[CLS]", "[SEP]", "[PAD]"})


@dataclass(frozen=True)
class TokenStates:
    """One text's contextual word-piece vectors (unit length, one row per piece) and pieces."""

    vectors: np.ndarray
    pieces: tuple[str, ...]


class OnnxEncoder:
    """Embeds texts with an exported model: tokenize, run, mean-pool, normalize."""

    def __init__(self, directory: str | Path, *, max_tokens: int | None = None,
                 threads: int | None = None, file: str = "model.onnx"):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        directory = Path(directory)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(directory / file), options,
                                            providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_tokens or 512)
        pad = self.tokenizer.token_to_id("[PAD]")
        self.tokenizer.enable_padding(pad_id=pad if pad is not None else 0)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors for `texts`, shape (len(texts), dimension)."""
        return self.encode_with_states(texts)[0]

    def encode_with_states(self, texts: list[str]) -> tuple[np.ndarray, list[TokenStates]]:
        """`encode(texts)`, and each text's token states from the same run: unit-length
        vectors of its word pieces (no [CLS] or [SEP]) with the pieces themselves."""
        encodings = self.tokenizer.encode_batch(list(texts))
        arrays = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        hidden = self.session.run(None, {k: v for k, v in arrays.items() if k in self.inputs})[0]
        mask = arrays["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        states = []
        for h, e in zip(hidden, encodings):
            keep = [i for i, (t, m) in enumerate(zip(e.tokens, e.attention_mask))
                    if m and t not in _SPECIAL]
            v = h[keep]
            v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
            states.append(TokenStates(v.astype(np.float32), tuple(e.tokens[i] for i in keep)))
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32), states


@functools.lru_cache(maxsize=4)
def _open(directory: str, max_tokens: int | None, file: str) -> OnnxEncoder:
    return OnnxEncoder(directory, max_tokens=max_tokens, file=file)


def load_encoder(model_path: str | Path, max_tokens: int | None = None, *,
                 int8: bool = False) -> OnnxEncoder | None:
    """The encoder for this model's export (opened once per process), or None when the path is
    off (`RAG_ONNX=0`), not exported yet (with `int8`, not quantized yet), or onnxruntime is
    missing."""
    if not enabled():
        return None
    directory = find_export(model_path)
    if directory is None or (int8 and not (directory / INT8_FILE).exists()):
        return None
    try:
        return _open(str(directory), max_tokens, INT8_FILE if int8 else "model.onnx")
    except ImportError:
        return None
    except Exception as e:  # noqa: BLE001 - a damaged file: drop it, the next load re-exports
        warnings.warn(OnnxExportFailed(f"the ONNX export at {directory} is unreadable ({e}); "
                                       "queries use PyTorch"), stacklevel=2)
        shutil.rmtree(directory, ignore_errors=True)
        return None


def ensure_export(model, model_path: str | Path) -> Path | None:
    """Export `model` (a loaded SentenceTransformer of `model_path`) unless done already.

    Returns the export directory, or None when the path is off, the model is not supported,
    or the export failed (then an `OnnxExportFailed` warning says why).

    >>> ensure_export(SentenceTransformer(path), path)  # doctest: +SKIP
    """
    if not enabled() or not supported(model_path):
        return None
    found = find_export(model_path)
    if found is not None:
        return found
    target = export_dir(model_path)
    try:
        return _export(model, Path(model_path), target)
    except Exception as e:  # noqa: BLE001 - any failure leaves PyTorch as the query path
        warnings.warn(OnnxExportFailed(
            f"could not export the embedding model to ONNX ({type(e).__name__}: {e}); one-off "
            "searches will load PyTorch (slower to start)"), stacklevel=2)
        return None


def _export(model, model_path: Path, target: Path) -> Path:
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        shutil.copyfile(model_path / "tokenizer.json", tmp / "tokenizer.json")
        transformer = model[0].auto_model
        max_tokens = getattr(model, "max_seq_length", None)
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(tmp / "tokenizer.json"))
        tokenizer.enable_padding()
        enc = tokenizer.encode_batch(list(CHECK_TEXTS[:2]))  # two lengths: padding is traced
        example = tuple(torch.tensor([getattr(e, a) for e in enc], dtype=torch.long)
                        for a in ("ids", "attention_mask", "type_ids"))
        dynamic = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(_hidden_module(transformer), example, str(tmp / "model.onnx"),
                              dynamo=False, input_names=list(_INPUTS),
                              output_names=["last_hidden_state"], dynamic_axes=dynamic,
                              opset_version=OPSET)
        cosine = _check(model, OnnxEncoder(tmp, max_tokens=max_tokens))
        if cosine < MIN_COSINE:
            raise ValueError(f"the export matches PyTorch to cosine {cosine:.4f} only")
        (tmp / "export.json").write_text(json.dumps({
            "format": EXPORT_FORMAT, "version": EXPORT_VERSION, "model": str(model_path),
            "fingerprint": fingerprint(str(model_path.resolve())), "opset": OPSET,
            "torch": torch.__version__, "min_cosine": cosine}, indent=2))
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first: keep theirs
            if not (target / "export.json").exists():
                raise
        return target
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_int8(directory: str | Path) -> Path:
    """Quantize the export in `directory` to `INT8_FILE` unless done already; its path.

    Raises ValueError when the quantized model strays from the float one (cosine below
    `MIN_COSINE_INT8` on `CHECK_TEXTS`); nothing is left behind then.
    """
    directory = Path(directory)
    target = directory / INT8_FILE
    if target.exists():
        return target
    fd, tmp = tempfile.mkstemp(prefix=".int8-", suffix=".onnx", dir=directory)
    os.close(fd)
    try:
        with _root_logging_kept():
            _quantize(directory / "model.onnx", Path(tmp))
        texts = list(CHECK_TEXTS)
        reference = OnnxEncoder(directory).encode(texts)
        quantized = OnnxEncoder(directory, file=Path(tmp).name).encode(texts)
        cosine = float(min((reference * quantized).sum(axis=1)))
        if cosine < MIN_COSINE_INT8:
            raise ValueError(f"the int8 model matches the float one to cosine {cosine:.4f} only")
        os.chmod(tmp, 0o644)  # as readable as the float export beside it
        os.replace(tmp, target)
        return target
    finally:
        Path(tmp).unlink(missing_ok=True)


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"])


@contextlib.contextmanager
def _root_logging_kept():
    """onnxruntime.quantization configures the root logger on import (INFO, a handler on
    stderr) and warns there; put it back as it was, so no library's debug lines leak out."""
    root = logging.getLogger()
    handlers, level, disabled = root.handlers[:], root.level, logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        logging.disable(disabled)


def _check(model, encoder: OnnxEncoder) -> float:
    """The lowest cosine between PyTorch's and the export's vectors of `CHECK_TEXTS`."""
    texts = list(CHECK_TEXTS)
    reference = model.encode(texts, convert_to_numpy=True, normalize_embeddings=True,
                             show_progress_bar=False)
    return float(min((reference * encoder.encode(texts)).sum(axis=1)))


def _hidden_module(transformer):
    import torch

    class Hidden(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                    token_type_ids=token_type_ids).last_hidden_state

    return Hidden()

