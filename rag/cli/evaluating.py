"""`rag eval`: the question set and the conversation set, QA folders, BEIR folders,
calibration and the regression gate.

With no `--set`, `rag eval` runs the seed question set and the conversation set, each gated
against its own baseline by `--check`; `--set FILE` runs one set of either kind; `--qa DIR`
answers a QA folder (the SQuAD 2.0 format) and `--qa DIR --check` reruns its baseline's
questions and gates them.

Does not: compute any metric itself (`rag.evaluation`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .common import (
    index_arg,
    json_arg,
    k_arg,
    open_answerer,
    reader_arg,
    say,
    search_args,
    search_config,
)


def register(sub) -> None:
    p = sub.add_parser("eval", help="measure retrieval, answers, citations, refusals and "
                                    "follow-up rewrites")
    p.add_argument("--set", dest="set_file", metavar="FILE", type=Path, default=None,
                   help="one evaluation set, JSONL: questions or conversations (default: "
                        "$RAG_EVAL_SET, else eval/sets/seeds.jsonl and eval/sets/conversations.jsonl)")
    index_arg(p)
    k_arg(p)
    search_args(p)
    reader_arg(p)
    _modes(p.add_mutually_exclusive_group())
    p.add_argument("--baseline", metavar="FILE", type=Path, default=None,
                   help="baseline figures of the (first) set (default eval/baseline.json; "
                        "eval/baseline-conversations.json for a conversation set)")
    p.add_argument("--reports", metavar="DIR", type=Path, default=None,
                   help="folder for the Markdown report and chart (default eval/reports)")
    p.add_argument("--qa", metavar="DIR", type=Path, default=None,
                   help="answer a QA folder (corpus/ and questions.jsonl with answers and "
                        "unanswerable, as ../shared/benchmarks/squad2); index kept in "
                        "index/qa-NAME unless --index is given")
    p.add_argument("--articles", metavar="A,B", default="",
                   help="with --qa: only the questions on these articles (corpus file names)")
    p.add_argument("--sample", metavar="N", type=int, default=None,
                   help="with --qa: a seeded sample of N questions")
    p.add_argument("--false-refusals", metavar="RATE", type=float, default=0.10,
                   help="with --calibrate: the most answerable questions the recommended "
                        "threshold may refuse (default 0.10)")
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


def false_refusals(args) -> float:
    """`--false-refusals`, checked: a share from 0 to 1."""
    from ..errors import InputError

    if not 0 <= args.false_refusals <= 1:
        raise InputError(f"--false-refusals is a share of the answerable questions, from 0 to "
                         f"1 (e.g. 0.10), not {args.false_refusals:g}")
    return args.false_refusals


def run(args) -> int:
    from ..errors import EvalSetError
    from ..evaluation import evaluate as ev
    from ..evaluation.report import beir_summary, calibration_table
    from ..search.retrieve import check_k

    check_k(args.k)
    if args.qa:
        from .evaluating_qa import run_qa

        return run_qa(args)
    if args.beir:
        beir = ev.evaluate_beir(args.beir, index_dir=args.index, progress=True, mode=args.mode,
                                rerank=args.rerank, fusion=search_config(args).fusion)
        print(json.dumps(asdict(beir)) if args.json else beir_summary(beir))
        return 0
    sets = _sets(args)  # every set is read and checked before any model loads
    question_sets = [s for s in sets if not s.conversations]
    if args.from_feedback is not None or args.calibrate:
        if not question_sets:
            raise EvalSetError(f"{sets[0].path} is a conversation set; --calibrate and "
                               f"--from-feedback take a question set (--set eval/sets/seeds.jsonl)")
        chosen = question_sets[0]
        if args.from_feedback is not None:
            return _from_feedback(args.from_feedback, chosen.items, chosen.path.parent)
        cal = ev.calibrate(chosen.items, open_answerer(args), k=args.k, progress=True,
                           max_false_refusals=false_refusals(args))
        print(json.dumps(asdict(cal)) if args.json else calibration_table(cal))
        return 0
    return _evaluate(args, sets)


@dataclass(frozen=True)
class _Set:
    path: Path
    conversations: bool
    items: list
    baseline: Path


def _sets(args) -> list[_Set]:
    """The sets to run: --set or $RAG_EVAL_SET, else the seed set and the conversation set;
    each with its baseline (--baseline is the first set's)."""
    from ..evaluation import conversations as cv
    from ..evaluation import evaluate as ev
    from ..evaluation.evalset import is_conversation_set, load_conversations

    named = args.set_file or os.environ.get("RAG_EVAL_SET")
    paths = [Path(named)] if named else [ev.DEFAULT_SET, cv.DEFAULT_CONVERSATIONS]
    out = []
    for i, path in enumerate(paths):
        dialogue = is_conversation_set(path)
        items = load_conversations(path) if dialogue else ev.load_set(path)
        default = cv.DEFAULT_CONVERSATION_BASELINE if dialogue else ev.DEFAULT_BASELINE
        out.append(_Set(path, dialogue, items, (args.baseline if i == 0 else None) or default))
    return out


def _evaluate(args, sets: list[_Set]) -> int:
    """Run each set, write its report, print the summaries, apply the gate."""
    answerer = open_answerer(args)
    shown, failed = [], False
    for s in sets:
        figures, text, problems = _run_set(args, s, answerer)
        shown.append((figures, text))
        for problem in problems:
            say(f"regression: {problem}" + (f" ({figures['set']})" if len(sets) > 1 else ""))
        if args.check and not problems:
            say(f"check passed: no metric worse than {s.baseline} beyond its tolerance")
        failed = failed or bool(problems)
    if args.json:
        first = shown[0][0]
        print(json.dumps(first if len(shown) == 1 else {**first, "conversations": shown[1][0]}))
    else:
        print("\n\n".join(text for _, text in shown))
    return 1 if failed else 0


def _run_set(args, s: _Set, answerer) -> tuple[dict, str, list[str]]:
    """(figures for --json, text for people, regressions) of one set."""
    from ..evaluation import conversations as cv
    from ..evaluation import evaluate as ev
    from ..evaluation import report as rp

    baseline = ev.read_baseline(s.baseline) if args.check else None
    progress = not args.json
    if s.conversations:
        report = cv.evaluate_conversations(s.path, answerer, k=args.k, progress=progress)
        md = rp.write_conversation_report(report, args.reports or ev.DEFAULT_REPORTS)
        figures = {"set": report.set_path, "conversations": report.conversations,
                   "turns": len(report.turns), "overall": report.overall,
                   "by_turn": report.by_turn, "by_kind": report.by_kind, "report": str(md)}
        text = f"{rp.conversation_summary(report)}\n\nreport: {md}"
        write = cv.write_conversation_baseline
    else:
        report = ev.evaluate(s.path, answerer, k=args.k, progress=progress)
        md, png = rp.write_report(report, args.reports or ev.DEFAULT_REPORTS)
        figures = {"set": report.set_path, "overall": report.overall, "by_type": report.by_type,
                   "report": str(md), "chart": str(png)}
        text = f"{rp.summary(report)}\n\nreport: {md}\nchart: {png}"
        write = ev.write_baseline
    problems = ev.check(report.overall, baseline, questions=len(report.results)) if baseline else []
    figures["regressions"] = problems
    if args.update_baseline:
        say(f"baseline written to {write(report, s.baseline)}")
    return figures, text, problems


def _from_feedback(feedback: Path, questions, sets_dir: Path) -> int:
    from ..app.chat import default_feedback_path
    from ..evaluation.feedback import candidates_from_feedback, write_candidates

    found = candidates_from_feedback(feedback if str(feedback) else default_feedback_path(),
                                     known={q.question for q in questions})
    out = write_candidates(found, sets_dir / "feedback-candidates.jsonl")
    print(f"{len(found)} candidate case(s) written to {out}; review them, then move them into the set")
    return 0
