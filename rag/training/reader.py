"""The reader: how likely each candidate sentence is to answer the question, and where in it.

A small cross-encoder (the first layers of all-MiniLM-L6-v2, fine-tuned here: see
`rag.training`) reads "[CLS] question [SEP] title | sentence [SEP]" and gives:
- a logit that the sentence answers the question (`Reading.prob` after a sigmoid);
- start and end logits over the sentence's tokens: the answering span (`Reading.span`, as
  character offsets into the sentence), e.g. the name for "who", the date for "when".
`Reader.answerability(features)` turns the best candidates' readings into the calibrated
probability that the sources answer at all (`Answer.confidence`), with a logistic model
fitted on questions the reader never trained on; `Reader.threshold` is the refusal threshold
chosen on those questions for a stated false-refusal rate.

The model is ONNX (`rag/training/reader/` by default) beside `manifest.json`,
which records the training data, seed, metrics, the answerability model and the SHA-256 of
every file; `Reader.load` checks all of it and says how to fix a missing or mismatched
model. Inference is onnxruntime only: no torch.

Does not: choose candidates (`rag.answering.answer.Answerer.candidates`) or compose answers
(`rag.answering.answer`); train anything (`rag.training`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ReaderError

FORMAT = "verbatim-reader"
FORMAT_VERSION = 1
DEFAULT_DIR = Path(__file__).resolve().parent / "reader"
FILES = ("reader.onnx", "tokenizer.json")
MAX_QUESTION_TOKENS = 32
MAX_SPAN_TOKENS = 24
SEPARATOR = " | "


@dataclass(frozen=True)
class Reading:
    """What the reader makes of one candidate sentence."""

    prob: float
    logit: float
    span: tuple[int, int] | None  # offsets into the sentence text
    span_score: float


def segment_b(title: str, sentence: str) -> tuple[str, int]:
    """The second segment the reader reads, and where the sentence starts in it."""
    title = " ".join((title or "").split())[:120]
    if not title:
        return sentence, 0
    return f"{title}{SEPARATOR}{sentence}", len(title) + len(SEPARATOR)


@dataclass(frozen=True)
class Encoded:
    """A padded batch of (question, title | sentence) pairs and where each sentence lies."""

    input_ids: np.ndarray
    attention_mask: np.ndarray
    token_type_ids: np.ndarray
    offsets: list[list[tuple[int, int]]]
    in_sentence: np.ndarray  # bool (batch, tokens): a token of the sentence itself
    shifts: list[int]  # where the sentence starts in segment B


def tokenizer(path: str | Path, max_length: int):
    """The word-piece tokenizer of the reader, truncating the sentence side to `max_length`."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.no_padding()
    tok.enable_truncation(max_length=max_length, strategy="only_second")
    return tok


def encode(tok, questions: Sequence[str], titles: Sequence[str], texts: Sequence[str]) -> Encoded:
    """Tokenize pairs the way the reader was trained (also used by `rag.training`)."""
    pairs, shifts = [], []
    for q, title, text in zip(questions, titles, texts, strict=True):
        pieces = tok.encode(q, add_special_tokens=False)
        if len(pieces.ids) > MAX_QUESTION_TOKENS:
            q = q[:pieces.offsets[MAX_QUESTION_TOKENS - 1][1]]
        b, shift = segment_b(title, text)
        pairs.append((q, b))
        shifts.append(shift)
    encodings = tok.encode_batch(pairs)
    width = max(len(e.ids) for e in encodings)
    shape = (len(encodings), width)
    ids, mask, types = (np.zeros(shape, dtype=np.int64) for _ in range(3))
    inside = np.zeros(shape, dtype=bool)
    offsets = []
    for i, (e, shift) in enumerate(zip(encodings, shifts, strict=True)):
        n = len(e.ids)
        ids[i, :n], mask[i, :n], types[i, :n] = e.ids, e.attention_mask, e.type_ids
        inside[i, :n] = [s == 1 and o[1] > o[0] and o[0] >= shift
                         for s, o in zip(e.sequence_ids, e.offsets, strict=True)]
        offsets.append(list(e.offsets))
    return Encoded(ids, mask, types, offsets, inside, shifts)


def best_span(start: np.ndarray, end: np.ndarray, inside: np.ndarray,
              offsets: list[tuple[int, int]], shift: int) -> tuple[tuple[int, int] | None, float]:
    """The highest-scoring (start <= end, at most MAX_SPAN_TOKENS) span of sentence tokens, as
    character offsets into the sentence, and its score (start + end logit)."""
    idx = np.flatnonzero(inside)
    if idx.size == 0:
        return None, float("-inf")
    s, e = start[idx], end[idx]
    scores = s[:, None] + e[None, :]
    gap = idx[None, :] - idx[:, None]
    scores = np.where((gap >= 0) & (gap < MAX_SPAN_TOKENS), scores, -np.inf)
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    a, b = offsets[idx[i]][0] - shift, offsets[idx[j]][1] - shift
    return (a, b), float(scores[i, j])


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(directory: Path) -> dict:
    """The reader's manifest, checked: format, version and every file's SHA-256."""
    fix = ("reinstall verbatim, or rebuild the model with `python -m rag.training` "
           "(see the README)")
    try:
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ReaderError(f"no reader model at {directory} (manifest.json is missing); "
                          f"{fix}") from e
    except (OSError, ValueError) as e:
        raise ReaderError(f"the reader's manifest at {directory} is unreadable ({e}); {fix}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ReaderError(f"{directory}/manifest.json is not a verbatim reader manifest; {fix}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ReaderError(f"the reader at {directory} has format version "
                          f"{manifest.get('format_version')!r}; this verbatim reads version "
                          f"{FORMAT_VERSION}; {fix}")
    for name in FILES:
        path = directory / name
        if not path.is_file():
            raise ReaderError(f"the reader at {directory} lacks {name}; {fix}")
        if sha256(path) != manifest.get("sha256", {}).get(name):
            raise ReaderError(f"{path} does not match the SHA-256 in its manifest (damaged or "
                              f"replaced); {fix}")
    return manifest


class Reader:
    """A loaded reader model: `read` scores candidates, `answerability` calibrates."""

    def __init__(self, directory: str | Path = DEFAULT_DIR, *, threads: int | None = None):
        import onnxruntime as ort

        self.directory = Path(directory)
        self.manifest = read_manifest(self.directory)
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(self.directory / "reader.onnx"), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as e:
            raise ReaderError(f"onnxruntime cannot load {self.directory / 'reader.onnx'} ({e}); "
                              "reinstall verbatim or rebuild it with `python -m rag.training`") from e
        self.tok = tokenizer(self.directory / "tokenizer.json", self.manifest["max_length"])
        head = self.manifest.get("answerability")  # None while `rag.training` calibrates it
        self.features: tuple[str, ...] = tuple(head["features"]) if head else ()
        if head:
            self._coef, self._mean, self._scale = (np.array(head[k], dtype=np.float64)
                                                   for k in ("coef", "mean", "scale"))
            self._intercept = float(head["intercept"])
        self.threshold = float(self.manifest.get("threshold", 0.5))

    def read(self, question: str, titles: Sequence[str], texts: Sequence[str]) -> list[Reading]:
        """A `Reading` of each sentence in `texts` (with its document's title), in order."""
        if not texts:
            return []
        batch = encode(self.tok, [question] * len(texts), titles, texts)
        logits, start, end = self.session.run(None, {
            "input_ids": batch.input_ids, "attention_mask": batch.attention_mask,
            "token_type_ids": batch.token_type_ids})
        out = []
        for i, logit in enumerate(logits.tolist()):
            span, score = best_span(start[i], end[i], batch.in_sentence[i], batch.offsets[i],
                                    batch.shifts[i])
            out.append(Reading(_sigmoid(logit), float(logit), span, score))
        return out

    def answerability(self, features: dict[str, float]) -> float:
        """The calibrated probability that the question is answered, from named features."""
        if not self.features:
            raise ReaderError(f"the reader at {self.directory} has no answerability model yet; "
                              "rebuild it with `python -m rag.training`")
        x = np.array([features[name] for name in self.features], dtype=np.float64)
        z = float(((x - self._mean) / self._scale) @ self._coef + self._intercept)
        return _sigmoid(z)


def answerability_features(probs: Sequence[float], logits: Sequence[float],
                           span_scores: Sequence[float], cheap: Sequence[float],
                           coverage: Sequence[float]) -> dict[str, float]:
    """The features of a question's shortlist that the answerability model reads, best reading
    first (also used by `rag.training` to fit it)."""
    order = sorted(range(len(probs)), key=lambda i: -logits[i])
    if not order:
        return {name: 0.0 for name in FEATURES}
    best = order[0]
    second = logits[order[1]] if len(order) > 1 else logits[best] - 5.0
    return {
        "best_logit": float(logits[best]), "margin": float(logits[best] - second),
        "best_span": float(max(min(span_scores[best], 30.0), -30.0)),
        "best_cheap": float(cheap[best]), "best_coverage": float(coverage[best]),
        "top_cheap": float(max(cheap)), "mass": float(sum(sorted(probs, reverse=True)[:3])),
    }


FEATURES = ("best_logit", "margin", "best_span", "best_cheap", "best_coverage", "top_cheap",
            "mass")


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


@functools.lru_cache(maxsize=2)
def load(directory: str | None = None) -> Reader:
    """The reader at `directory` (default: the one shipped with verbatim), opened once."""
    return Reader(Path(directory) if directory else DEFAULT_DIR)
