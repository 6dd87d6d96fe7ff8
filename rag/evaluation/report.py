"""Show an evaluation: a plain-text summary, a Markdown report and a PNG chart by question type;
for a conversation set, a summary and a Markdown report by turn position and kind of turn.

The report holds the overall figures, tables by question type, the chart, and one row per
failing question (question, expected, got, which metrics it fails). Nothing in it depends
on the machine or the time of day except the latency figures.

Does not: compute metrics (see `rag.evaluation.evaluate`). matplotlib is imported only to draw.
"""

from __future__ import annotations

from pathlib import Path

from .evaluate import DEFAULT_REPORTS, METRICS, EvalReport, QuestionResult, failed_metrics
from .metrics import SET_RETRIEVAL

LABELS = {
    "hit@1": "hit@1", "hit@3": "hit@3", "hit@5": "hit@5", "recall@5": "recall@5",
    "mrr@10": "MRR@10", "ndcg@10": "nDCG@10", "answer_contains": "answer contains",
    "answer_f1": "answer F1", "citation_verified": "citations verified",
    "citation_precision": "citation precision", "citation_recall": "citation recall",
    "refusal_precision": "refusal precision", "refusal_recall": "refusal recall",
    "false_refusal_rate": "false refusals", "latency_p50_ms": "latency p50 (ms)",
    "latency_p95_ms": "latency p95 (ms)", "decision": "right to answer / refuse",
}
_QUALITY = ("answer_contains", "answer_f1", "citation_precision", "citation_recall",
            "refusal_recall", "false_refusal_rate", "latency_p50_ms")
_CHART = ("hit@1", "ndcg@10", "answer_contains", "answer_f1", "citation_precision",
          "citation_recall", "decision")


def fmt(value: float | None, name: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:.0f}" if name.endswith("_ms") else f"{value:.3f}"


def summary(report: EvalReport) -> str:
    """The figures as plain text for a terminal: overall, then one line per question type."""
    n = len(report.results)
    head = (f"{report.set_path}: {n} questions, index {report.index} ({report.model}), "
            f"{report.seconds:.1f}s")
    lines = [head, ""]
    lines += [f"  {LABELS[m]:>20}  {fmt(report.overall[m], m)}" for m in METRICS]
    cols = SET_RETRIEVAL[:1] + SET_RETRIEVAL[-2:] + _QUALITY
    lines += ["", f"{'type':<15}{'n':>4}" + "".join(f"{_short(m):>10}" for m in cols)]
    for kind, m in report.by_type.items():
        count = sum(r.question.type == kind for r in report.results)
        lines.append(f"{kind:<15}{count:>4}" + "".join(f"{fmt(m[c], c):>10}" for c in cols))
    return "\n".join(lines)


def _short(name: str) -> str:
    return {"answer_contains": "contains", "answer_f1": "F1", "citation_precision": "cit.prec",
            "citation_recall": "cit.rec", "refusal_recall": "ref.rec",
            "false_refusal_rate": "false.ref", "latency_p50_ms": "p50 ms",
            "rewrite_accuracy": "rewrite"}.get(name, name)


def write_report(report: EvalReport, folder: str | Path = DEFAULT_REPORTS) -> tuple[Path, Path]:
    """Write `<set name>.md` and `<set name>.png` into `folder`; returns both paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(report.set_path).stem
    png = chart(report, folder / f"{stem}.png")
    md = folder / f"{stem}.md"
    md.write_text(markdown(report, png.name), encoding="utf-8")
    return md, png


def markdown(report: EvalReport, chart_name: str) -> str:
    results = report.results
    answerable = sum(r.question.answerable for r in results)
    about = (f"{len(results)} questions ({answerable} answerable, {len(results) - answerable} "
             f"unanswerable), model `{report.model}`, k = {report.k}. Retrieval is judged on gold "
             f"documents; answers, citation precision and recall on answerable questions.")
    out = [f"# Evaluation of `{report.set_path}`", "", about, "", "## Overall", "", "| metric | value |", "|---|---:|"]
    out += [f"| {LABELS[m]} | {fmt(report.overall[m], m)} |" for m in METRICS]
    out += ["", "## By question type", "", f"![metrics by question type]({chart_name})", ""]
    for cols in (SET_RETRIEVAL, _QUALITY):
        out += ["| type | n | " + " | ".join(LABELS[c] for c in cols) + " |",
                "|---|---:|" + "---:|" * len(cols)]
        for kind, m in report.by_type.items():
            n = sum(r.question.type == kind for r in results)
            out.append(f"| {kind} | {n} | " + " | ".join(fmt(m[c], c) for c in cols) + " |")
        out.append("")
    failing = [(r, failed_metrics(r)) for r in results]
    failing = [(r, f) for r, f in failing if f]
    out += [f"## Failing questions ({len(failing)})", "",
            "| id | type | question | expected | got | fails |", "|---|---|---|---|---|---|"]
    out += [_failure_row(r, f) for r, f in failing]
    return "\n".join(out) + "\n"


def _failure_row(r: QuestionResult, failed: list[str]) -> str:
    q = r.question
    asked = q.question if not q.history else f"{' / '.join(q.history)} / {q.question}"
    expected = " \\| ".join(_cell(a) for a in q.answers) if q.answerable else "(refusal)"
    got = "(refused)" if r.refused else r.answer
    return (f"| {q.id} | {q.type} | {_cell(asked)} | {expected} | {_cell(got, 240)} | "
            f"{', '.join(failed)} |")


def _cell(text: str, limit: int = 400) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --- conversation sets ---------------------------------------------------------------------

_TURN_COLS = ("rewrite_accuracy", "answer_contains", "hit@1", "citation_recall",
              "false_refusal_rate")


def conversation_summary(report) -> str:
    """A `rag.evaluation.conversations.ConversationReport` as plain text: rewrites and
    answers overall, by turn position and by kind of turn."""
    head = (f"{report.set_path}: {report.conversations} conversations, {len(report.turns)} turns, "
            f"index {report.index} ({report.model}), {report.seconds:.1f}s")
    lines = [head, "", f"  {'rewrite accuracy':>20}  {fmt(report.overall['rewrite_accuracy'])}"]
    lines += [f"  {LABELS[m]:>20}  {fmt(report.overall[m], m)}" for m in METRICS]
    for title, groups in (("turn", report.by_turn), ("kind", report.by_kind)):
        lines += ["", f"{title:<16}{'n':>4}" + "".join(f"{_short(c):>10}" for c in _TURN_COLS)]
        for name, m in groups.items():
            n = sum(_group(t, title) == name for t in report.turns)
            lines.append(f"{name:<16}{n:>4}" + "".join(f"{fmt(m[c], c):>10}" for c in _TURN_COLS))
    return "\n".join(lines)


def _group(turn, title: str) -> str:
    return str(turn.position) if title == "turn" else turn.kind


def write_conversation_report(report, folder: str | Path = DEFAULT_REPORTS) -> Path:
    """Write `<set name>.md` into `folder`: figures, then every turn that fails."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    md = folder / f"{Path(report.set_path).stem}.md"
    md.write_text(conversation_markdown(report), encoding="utf-8")
    return md


def conversation_markdown(report) -> str:
    about = (f"{report.conversations} conversations, {len(report.turns)} turns, each asked with "
             f"the earlier answers as history; model `{report.model}`, k = {report.k}. A rewrite "
             f"is right when the standalone query equals an expected one after folding case, "
             f"punctuation and whitespace; `new` questions must come back unchanged.")
    out = [f"# Evaluation of `{report.set_path}`", "", about, "", "## Overall", "",
           "| metric | value |", "|---|---:|",
           f"| rewrite accuracy | {fmt(report.overall['rewrite_accuracy'])} |"]
    out += [f"| {LABELS[m]} | {fmt(report.overall[m], m)} |" for m in METRICS]
    names = " | ".join(LABELS.get(c, c.replace("_", " ")) for c in _TURN_COLS)
    for title, groups in (("turn", report.by_turn), ("kind", report.by_kind)):
        out += ["", f"## By {title}", "", f"| {title} | n | {names} |",
                "|---|---:|" + "---:|" * len(_TURN_COLS)]
        for name, m in groups.items():
            n = sum(_group(t, title) == name for t in report.turns)
            out.append(f"| {name} | {n} | " + " | ".join(fmt(m[c], c) for c in _TURN_COLS) + " |")
    failing = [t for t in report.turns if not t.rewrite_ok or failed_metrics(t.result)]
    out += ["", f"## Failing turns ({len(failing)})", "",
            "| turn | kind | question | searched for | expected | fails |",
            "|---|---|---|---|---|---|"]
    out += [_turn_row(t) for t in failing]
    return "\n".join(out) + "\n"


def _turn_row(t) -> str:
    fails = ([] if t.rewrite_ok else ["rewrite"]) + failed_metrics(t.result)
    expected = " \\| ".join(_cell(s) for s in t.expected)
    return (f"| {t.result.question.id} | {t.kind} | {_cell(t.result.question.question)} | "
            f"{_cell(t.result.standalone_query)} | {expected} | {', '.join(fails)} |")


def chart(report: EvalReport, file: str | Path) -> Path:
    """A grouped bar chart of the main metrics by question type (matplotlib, no display)."""
    from matplotlib.figure import Figure

    kinds = list(report.by_type)
    fig = Figure(figsize=(12, 5), dpi=100)
    ax = fig.add_subplot()
    width = 0.8 / len(_CHART)
    for i, name in enumerate(_CHART):
        values = [_value(report.by_type[k], name, k) for k in kinds]
        xs = [x + (i - (len(_CHART) - 1) / 2) * width for x in range(len(kinds))]
        ax.bar(xs, [float("nan") if v is None else v for v in values], width, label=LABELS[name])
    ax.set_xticks(range(len(kinds)), kinds)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title(f"{report.set_path}: metrics by question type")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=len(_CHART), fontsize=8)
    fig.tight_layout()
    file = Path(file)
    fig.savefig(file, metadata={"Software": None})
    return file


def _value(m: dict, name: str, kind: str) -> float | None:
    if name != "decision":
        return m.get(name)
    if kind == "unanswerable":
        return m["refusal_recall"]
    return None if m["false_refusal_rate"] is None else 1 - m["false_refusal_rate"]


def calibration_table(cal) -> str:
    """The threshold sweep of `rag.evaluation.evaluate.calibrate` as plain text, recommendation last."""
    lines = [(f"{'threshold':>15}{'refused':>9}{'precision':>11}{'recall':>8}{'false ref':>11}"
              f"{'bal.acc':>9}{'F1':>7}")]
    for r in cal.rows:
        span = f"{r.low:.2f}" if r.high == r.low else f"{r.low:.2f}-{r.high:.2f}"
        marks = (" <- recommended" if cal.recommended is not None
                 and r.low <= cal.recommended <= r.high else "")
        below_all = r is cal.rows[0] and cal.current < r.low  # refuses no more than this row
        marks += " <- current" if r.low <= cal.current <= r.high or below_all else ""
        lines.append(f"{span:>15}{r.refused:>9}{fmt(r.refusal_precision):>11}"
                     f"{fmt(r.refusal_recall):>8}{fmt(r.false_refusal_rate):>11}"
                     f"{fmt(r.balanced_accuracy):>9}{fmt(r.f1):>7}{marks}")
    if cal.rows:
        lines.append(f"{cal.rows[0].refused} questions are refused at any threshold (the answerer's "
                     f"other checks, or no verified quote)")
    if cal.recommended is None:
        lines.append(f"no threshold keeps false refusals at or under {cal.max_false_refusals:.0%}; "
                     f"allow more with --false-refusals")
    else:
        lines.append(f"recommended threshold: {cal.recommended:.2f} (best balanced accuracy with "
                     f"false refusals <= {cal.max_false_refusals:.0%}; current {cal.current:g}); "
                     f"apply it with --threshold {cal.recommended:.2f} or "
                     f"RAG_THRESHOLD={cal.recommended:.2f}")
    return "\n".join(lines)


def beir_summary(r) -> str:
    """A `rag.evaluation.evaluate.BeirReport` as plain text."""
    how = f"{r.mode} search, {r.fusion} fusion" if r.fusion else f"{r.mode} search"
    lines = [(f"{r.name} ({how}): {r.queries} queries, {r.documents} documents, "
              f"{r.chunks} chunks "
              f"(index {r.index_dir}; built in {r.build_seconds:.0f}s, searched in "
              f"{r.search_seconds:.0f}s)")]
    if r.skipped:
        lines.append(f"  {r.skipped} corpus records skipped (empty or duplicate text)")
    lines += [f"  {name:>10}  {fmt(value)}" for name, value in r.metrics.items()]
    return "\n".join(lines)
