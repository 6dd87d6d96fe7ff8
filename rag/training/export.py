"""Write a trained reader as the shipped model: ONNX, int8 where it holds up, and a manifest.

`export(model, out_dir, ...)` writes `reader.onnx` (opset 17, dynamic batch and length) from
the PyTorch model, quantizes its weights to int8 (onnxruntime's dynamic quantization) and
keeps the int8 graph only when it agrees with float32 on held-out pairs (the same best
candidate for at least `min_agreement` of the questions); it copies the tokenizer and writes
`manifest.json`: format and version, the SHA-256 of every file, the training data, seed,
settings, metrics, the answerability model and the refusal threshold.
`rag.training.reader.Reader` checks all of that on load.

Does not: train, or choose the threshold (`rag.training.calibrate`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .model import TrainConfig, minilm_dir
from .pairs import Pair
from .reader import FORMAT, FORMAT_VERSION, Reader, sha256


def to_onnx(model, path: Path) -> None:
    """The PyTorch reader as an ONNX graph with inputs ids, mask, types and three outputs."""
    import torch

    model.eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(
            model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logit", "start", "end"], opset_version=17, dynamo=False,
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in
                          ("input_ids", "attention_mask", "token_type_ids", "start", "end")}
            | {"logit": {0: "batch"}})
    model.eval()


def quantize(src: Path, dst: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True)


def agreement(a: Reader, b: Reader, groups: dict[str, list[Pair]]) -> float:
    """Share of questions on which two readers pick the same best sentence."""
    same = []
    for pairs in groups.values():
        args = (pairs[0].question, [p.title for p in pairs], [p.sentence for p in pairs])
        la = [r.logit for r in a.read(*args)]
        lb = [r.logit for r in b.read(*args)]
        same.append(int(np.argmax(la)) == int(np.argmax(lb)))
    return float(np.mean(same)) if same else 1.0


def write(directory: Path, manifest: dict) -> None:
    """Fill in the files' hashes and write the manifest."""
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest,
                "sha256": {name: sha256(directory / name)
                           for name in ("reader.onnx", "tokenizer.json")}}
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n",
                                             encoding="utf-8")


def export(model, out: Path, *, config: TrainConfig, manifest: dict,
           check: dict[str, list[Pair]], min_agreement: float = 0.97, say=print) -> dict:
    """Write the shipped model into `out` (replaced whole at the end); returns the manifest.

    `manifest` holds what the caller knows (data, metrics, answerability); `check` are
    held-out questions with their candidate pairs for the int8 agreement check.
    """
    out = Path(out)
    work = Path(tempfile.mkdtemp(prefix=".reader-", dir=out.parent))
    try:
        to_onnx(model, work / "fp32.onnx")
        quantize(work / "fp32.onnx", work / "reader.onnx")
        shutil.copyfile(minilm_dir() / "tokenizer.json", work / "tokenizer.json")
        base = {**manifest, "max_length": config.max_length}
        write(work, base)
        int8 = Reader(work)
        (work / "reader.onnx").rename(work / "int8.onnx")
        (work / "fp32.onnx").rename(work / "reader.onnx")
        write(work, base)
        agree = agreement(int8, Reader(work), check)
        weights = "int8" if agree >= min_agreement else "float32"
        if weights == "int8":
            (work / "int8.onnx").replace(work / "reader.onnx")
        else:
            (work / "int8.onnx").unlink()
        say(f"export: int8 agrees with float32 on {agree:.3f} of {len(check)} questions: "
            f"shipping {weights}")
        base |= {"weights": weights, "int8_agreement": round(agree, 4),
                 "size_bytes": (work / "reader.onnx").stat().st_size}
        write(work, base)
        if out.exists():
            shutil.rmtree(out)
        work.replace(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))
