"""Show a QA-folder evaluation: a plain-text summary, a Markdown report and a reliability
diagram (PNG): per confidence bin, the share of answers whose first quote is right against
the mean confidence, beside the diagonal a calibrated model would follow.

Does not: compute figures (`rag.evaluation.qa`). matplotlib is imported only to draw.
"""

from __future__ import annotations

from pathlib import Path

from .qa import QAReport

ROWS = (("overall", "overall (right answer or right refusal)"),
        ("has_answer_accuracy", "has-answer accuracy (first quote holds gold)"),
        ("refusal_precision", "refusal precision"), ("refusal_recall", "refusal recall"),
        ("false_refusals", "false refusals"), ("auc", "ROC AUC of the confidence"),
        ("median_words", "median answer length (words)"))


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def qa_summary(report: QAReport) -> str:
    """The figures as plain text for a terminal."""
    f = report.figures
    where = f" on {', '.join(report.articles)}" if report.articles else ""
    sample = f", a sample of {report.sample}" if report.sample else ""
    lines = [(f"{report.name}: {report.questions} questions{where}{sample} ({f['answerable']} "
             f"answerable, {f['unanswerable']} unanswerable), {report.reader} reader, threshold "
             f"{report.threshold:.3f} on the {report.threshold_on}, "
             f"{report.seconds:.1f}s"), ""]
    lines += [f"  {label:>46}  {_fmt(f[key])}" for key, label in ROWS]
    return "\n".join(lines)


def write_qa_report(report: QAReport, folder: str | Path) -> tuple[Path, Path]:
    """Write `qa-<name>.md` and `qa-<name>-reliability.png` into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    png = reliability_chart(report, folder / f"qa-{report.name}-reliability.png")
    md = folder / f"qa-{report.name}.md"
    rows = "\n".join(f"| {label} | {_fmt(report.figures[key])} |" for key, label in ROWS)
    bins = "\n".join(f"| {b['low']:.1f}–{b['high']:.1f} | {b['n']} | {b['confidence']:.3f} | "
                     f"{b['right']:.3f} |" for b in report.reliability)
    md.write_text(f"# {report.name}: answers on a QA folder\n\n"
                  f"```\n{qa_summary(report)}\n```\n\n| figure | value |\n|---|---|\n{rows}\n\n"
                  f"## Reliability\n\n![reliability]({png.name})\n\n| confidence | answers | "
                  f"mean confidence | first quote right |\n|---|---|---|---|\n{bins}\n",
                  encoding="utf-8")
    return md, png


def reliability_chart(report: QAReport, path: Path) -> Path:
    """The reliability diagram (matplotlib, no display)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 5), dpi=100)
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="calibrated")
    bins = report.reliability
    ax.bar([(b["low"] + b["high"]) / 2 for b in bins], [b["right"] for b in bins], width=0.09,
           alpha=0.4, label="share right, per bin")
    ax.plot([b["confidence"] for b in bins], [b["right"] for b in bins], marker="o",
            label="mean confidence vs share right")
    if report.threshold_on == "confidence":  # the cheap reader's threshold is on another scale
        ax.axvline(report.threshold, color="red", linewidth=1,
                   label=f"threshold {report.threshold:.2f}")
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="first quote holds a gold answer",
           title=f"{report.name}: {report.questions} questions")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path
