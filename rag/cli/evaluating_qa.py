"""`rag eval --qa DIR`: answers on a QA folder, its report and its gate.

`--check` reads `eval/baseline-squad2.json` (or `--baseline`), runs the questions it was
computed on (its articles and sample) and exits 1 when a metric is worse than accepted;
`--update-baseline` accepts the figures just measured. `--calibrate` sweeps the refusal
threshold on the chosen questions and recommends one for a stated false-refusal rate
(`--false-refusals`): choose it on some articles, then score others with `--threshold`.

Does not: compute any metric itself (`rag.evaluation.qa`).
"""

from __future__ import annotations

import json
from dataclasses import asdict

from .common import say


def run_qa(args) -> int:
    from ..errors import InputError
    from ..evaluation import evaluate as ev
    from ..evaluation import qa
    from ..evaluation.qa_report import qa_summary, write_qa_report

    if args.beir or args.from_feedback is not None or args.set_file:
        raise InputError("--qa runs on its own: drop --set, --beir and --from-feedback, or "
                         "run them without --qa")
    if args.sample is not None and args.sample < 1:
        raise InputError(f"--sample must be at least 1, not {args.sample}")
    path = args.baseline or qa.DEFAULT_QA_BASELINE
    baseline = ev.read_baseline(path) if args.check else None
    articles = tuple(a.strip() for a in args.articles.split(",") if a.strip())
    sample = args.sample
    if baseline is not None and not articles and sample is None:
        articles, sample = tuple(baseline.get("articles") or ()), baseline.get("sample")
    _, items = qa.read_qa_folder(args.qa)  # a bad folder is reported before any model loads
    qa.pick(items, articles=articles, sample=sample)
    answerer = _answerer(args)
    if args.calibrate:
        return _calibrate(args, answerer, articles, sample)
    report = qa.evaluate_qa(args.qa, answerer, articles=articles, sample=sample,
                            progress=not args.json)
    md, png = write_qa_report(report, args.reports or ev.DEFAULT_REPORTS)
    problems = ev.check(report.figures, baseline, questions=report.questions) if baseline else []
    for problem in problems:
        say(f"regression: {problem}")
    if args.check and not problems:
        say(f"check passed: no metric worse than {path} beyond its tolerance")
    if args.update_baseline:
        say(f"baseline written to {qa.write_qa_baseline(report, path)}")
    if args.json:
        print(json.dumps({**asdict(report), "report": str(md), "chart": str(png),
                          "regressions": problems}))
    else:
        print(f"{qa_summary(report)}\n\nreport: {md}\nchart: {png}")
    return 1 if problems else 0


def _calibrate(args, answerer, articles, sample) -> int:
    from ..evaluation import qa
    from ..evaluation.report import calibration_table
    from .evaluating import false_refusals

    cal = qa.calibrate_qa(args.qa, answerer, articles=articles, sample=sample,
                          progress=not args.json, max_false_refusals=false_refusals(args))
    print(json.dumps(asdict(cal)) if args.json else calibration_table(cal))
    return 0


def _answerer(args):
    """The extractive answerer over the QA folder's index (built or reused first)."""
    from ..answering.answer import Answerer
    from ..answering.rerank import with_reranker
    from ..evaluation.qa import qa_index
    from ..search.retrieve import Retriever
    from .common import answer_config, search_config

    index_dir = qa_index(args.qa, index_dir=args.index, progress=not args.json)
    retriever = with_reranker(Retriever.load(index_dir, config=search_config(args)), args.rerank)
    return Answerer(retriever, config=answer_config(args))
