"""Training: the learned reader, and an experimental cross-encoder, from committed public data.

`python -m rag.training.fit` rebuilds the shipped learned reader
(`rag/answering/models/reader.json`, used with `--reader learned`) from the SQuAD 2.0 half:
- `examples`: every question asked as the answerer asks it, each candidate's features
  (`rag.answering.features`) and label, cached;
- `fit`: the two logistic models, the threshold, by-article cross-validation, the command.

The rest is an experimental cross-encoder that the answerer does not use: on SQuAD 2.0
articles it never saw it picks the answer sentence about as often as the cheap score, and
worse on the news seeds (figures in `docs/reader.md`). It is kept so that its recipe can be
improved and measured.

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
