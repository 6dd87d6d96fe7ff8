"""Training (experimental): a reader model, rebuilt from committed public data.

The answerer does not use it yet: the first reader trained by this recipe picks the sentence
holding the answer on SQuAD 2.0 articles it never saw about as often as the answerer's own
score does, and worse on the news seeds (figures in `docs/reader.md`). It is kept so that the
recipe can be improved and measured, not shipped.

`python -m rag.training` trains the reader and writes it to `rag/training/reader/` (not
committed); `--tiny` does the same on a few hundred examples; `--crossval` scores the recipe
on SQuAD 2.0 by article, on articles each model never trained on. Seeds are fixed and every
figure is printed and kept in the model's manifest.

- `reader`: inference through onnxruntime, with the manifest checked on load;

- `squad`: SQuAD-format data: the committed SQuAD 1.1 train sample and the SQuAD 2.0 half
  (`data/`, CC BY-SA 4.0, see `data/README.md`);
- `pairs`: (question, sentence) training pairs: answer sentences, hard negatives, and the
  product's own open-domain candidates (`rag.answering.answer.Answerer.candidates`) with real unanswerables;
- `model`: the cross-encoder in PyTorch and one training loop;
- `export`: ONNX, int8, the agreement check and the manifest;
- `calibrate`: the answerability model and the refusal threshold;
- `recipe`: the folds, the steps in order, and the report.

Does not: run at question time, or read any SQuAD 2.0 dev data beyond the half committed
here.
"""
