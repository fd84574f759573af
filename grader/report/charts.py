"""The class report's charts as PNG bytes (matplotlib Agg): score distribution, outcomes by question."""

from __future__ import annotations

import io

from grader.report.class_report import ClassReport

__all__ = ["score_distribution_png", "question_outcomes_png", "CHART_FILES"]

CHART_FILES = {"score distribution": "score-distribution.png", "outcomes by question": "question-outcomes.png"}
_COLOURS = {"passed": "#5a9a4e", "wrong": "#d08a2c", "error": "#b0413e", "blank": "#9a9a9a"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    _pyplot().close(fig)
    return buffer.getvalue()


def score_distribution_png(report: ClassReport) -> bytes:
    """A histogram of the gradebook totals of the submitted students."""
    plt = _pyplot()
    scores = [s.score for s in report.submitted if s.score is not None]
    top = int(report.autograded_points + report.hand_graded_points)
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.hist(scores, bins=range(0, top + 2), align="left", color="#4878a8", rwidth=0.85)
    ax.axvline(report.threshold * top, color="#b0413e", linestyle="--", label=f"threshold {report.threshold:.0%}")
    ax.set(xlabel=f"score (of {top})", ylabel="students", title=f"Scores of {len(scores)} submissions")
    ax.legend(loc="upper left")
    return _png(fig)


def question_outcomes_png(report: ClassReport) -> bytes:
    """Stacked horizontal bars: passed / wrong / error / blank-or-missing per autograded question."""
    plt = _pyplot()
    names = [q.id for q in report.questions][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.4))
    left = [0] * len(names)
    for outcome, colour in _COLOURS.items():
        counts = [getattr(q, outcome) for q in report.questions][::-1]
        label = "blank or missing" if outcome == "blank" else outcome
        ax.barh(names, counts, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set(xlabel="submitted students", title="Outcome by question")
    ax.legend(loc="lower right", fontsize="small", ncols=4, bbox_to_anchor=(1, 1.08))
    return _png(fig)
