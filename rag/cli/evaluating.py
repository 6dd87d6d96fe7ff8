"""`rag eval`: the labelled question set, BEIR folders, calibration and the regression gate.

Does not: compute any metric itself (`rag.evaluation`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path

from .common import index_arg, json_arg, k_arg, open_answerer, say, search_args


def register(sub) -> None:
    p = sub.add_parser("eval", help="measure retrieval, answers, citations and refusals")
    p.add_argument("--set", dest="set_file", metavar="FILE", type=Path, default=None,
                   help="evaluation set, JSONL (default: $RAG_EVAL_SET or eval/sets/seeds.jsonl)")
    index_arg(p)
    k_arg(p)
    search_args(p)
    _modes(p.add_mutually_exclusive_group())
    p.add_argument("--baseline", metavar="FILE", type=Path, default=None,
                   help="baseline figures (default eval/baseline.json)")
    p.add_argument("--reports", metavar="DIR", type=Path, default=None,
                   help="folder for the Markdown report and chart (default eval/reports)")
    json_arg(p)
    p.set_defaults(func=run)


def _modes(mode) -> None:
    mode.add_argument("--check", action="store_true",
                      help="exit 1 when a metric is worse than the baseline beyond its tolerance")
    mode.add_argument("--update-baseline", action="store_true",
                      help="accept the current figures as the baseline")
    mode.add_argument("--calibrate", action="store_true",
                      help="sweep the refusal threshold and recommend one")
    mode.add_argument("--from-feedback", metavar="FILE", nargs="?", type=Path,
                      const=Path(""), default=None,
                      help="turn 👎 answers of the chat page (default eval/feedback.jsonl) into "
                           "candidate cases in eval/sets/feedback-candidates.jsonl, to review")
    mode.add_argument("--beir", metavar="DIR", type=Path, default=None,
                      help="retrieval metrics on a BEIR folder (index cached in index/beir-NAME "
                           "unless --index is given)")


def run(args) -> int:
    from ..evaluation import evaluate as ev
    from ..evaluation.report import beir_summary, calibration_table
    from ..search.retrieve import check_k

    check_k(args.k)
    if args.beir:
        beir = ev.evaluate_beir(args.beir, index_dir=args.index, progress=True, mode=args.mode)
        print(json.dumps(asdict(beir)) if args.json else beir_summary(beir))
        return 0
    set_file = args.set_file or Path(os.environ.get("RAG_EVAL_SET") or ev.DEFAULT_SET)
    questions = ev.load_set(set_file)  # a bad set fails before any model loads
    if args.from_feedback is not None:
        return _from_feedback(args.from_feedback, questions, Path(set_file).parent)
    if args.calibrate:
        cal = ev.calibrate(questions, open_answerer(args), k=args.k, progress=True)
        print(json.dumps(asdict(cal)) if args.json else calibration_table(cal))
        return 0
    return _evaluate(args, set_file)


def _evaluate(args, set_file: Path) -> int:
    """Run the set, write the report, print the summary, apply the gate."""
    from ..evaluation import evaluate as ev
    from ..evaluation.report import summary, write_report

    baseline_file = args.baseline or ev.DEFAULT_BASELINE
    baseline = ev.read_baseline(baseline_file) if args.check else None
    report = ev.evaluate(set_file, open_answerer(args), k=args.k, progress=not args.json)
    md, png = write_report(report, args.reports or ev.DEFAULT_REPORTS)
    problems = ev.check(report.overall, baseline, questions=len(report.results)) if baseline else []
    if args.json:
        print(json.dumps({"set": report.set_path, "overall": report.overall,
                          "by_type": report.by_type, "report": str(md), "chart": str(png),
                          "regressions": problems}))
    else:
        print(f"{summary(report)}\n\nreport: {md}\nchart: {png}")
    if args.update_baseline:
        say(f"baseline written to {ev.write_baseline(report, baseline_file)}")
    for problem in problems:
        say(f"regression: {problem}")
    if args.check and not problems:
        say(f"check passed: no metric worse than {baseline_file} beyond its tolerance")
    return 1 if problems else 0


def _from_feedback(feedback: Path, questions, sets_dir: Path) -> int:
    from ..app.chat import default_feedback_path
    from ..evaluation.feedback import candidates_from_feedback, write_candidates

    found = candidates_from_feedback(feedback if str(feedback) else default_feedback_path(),
                                     known={q.question for q in questions})
    out = write_candidates(found, sets_dir / "feedback-candidates.jsonl")
    print(f"{len(found)} candidate case(s) written to {out}; review them, then move them into the set")
    return 0
