"""The class report's charts as PNG bytes (matplotlib Agg), and what each shows in words and numbers."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass

from grader.report.class_report import ClassReport

__all__ = ["score_distribution_png", "question_outcomes_png", "score_distribution_figure", "question_outcomes_figure",
           "chart_texts", "ChartText", "CHART_FILES"]

CHART_FILES = {"score distribution": "score-distribution.png", "outcomes by question": "question-outcomes.png"}
_COLOURS = {"passed": "#5a9a4e", "partial": "#8fb3d9", "wrong": "#d08a2c", "error": "#b0413e", "blank": "#9a9a9a"}
_LABELS = {"blank": "blank or missing"}


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


def _whole_ticks(axis) -> None:
    """Ticks on whole numbers only: points are counted in whole steps, and students one by one."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _top(report: ClassReport) -> int:
    return int(report.autograded_points + report.hand_graded_points)


def _scores(report: ClassReport) -> list[float]:
    return [s.score for s in report.submitted if s.score is not None]


def score_distribution_png(report: ClassReport) -> bytes:
    """A histogram of the gradebook totals of the submitted students."""
    return _png(score_distribution_figure(report))


def question_outcomes_png(report: ClassReport) -> bytes:
    """Stacked horizontal bars: passed / partial / wrong / error / blank-or-missing per autograded question."""
    return _png(question_outcomes_figure(report))


def score_distribution_figure(report: ClassReport):
    """The histogram's matplotlib figure (closed once drawn into a PNG)."""
    plt = _pyplot()
    scores, top = _scores(report), _top(report)
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    ax.hist(scores, bins=range(0, top + 2), align="left", color="#4878a8", rwidth=0.85)
    ax.axvline(report.threshold * top, color="#b0413e", linestyle="--", label=f"threshold {report.threshold:.0%}")
    ax.set(xlabel=f"score (of {top})", ylabel="students", title=f"Scores of {len(scores)} submissions")
    _whole_ticks(ax.xaxis)
    _whole_ticks(ax.yaxis)
    ax.legend(loc="upper left")
    return fig


def question_outcomes_figure(report: ClassReport):
    """The stacked bars' matplotlib figure (closed once drawn into a PNG)."""
    plt = _pyplot()
    names = [q.id for q in report.questions][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.4))
    left = [0] * len(names)
    for outcome, colour in _COLOURS.items():
        counts = [getattr(q, outcome) for q in report.questions][::-1]
        ax.barh(names, counts, left=left, color=colour, label=_LABELS.get(outcome, outcome))
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set(xlabel="submitted students", title="Outcome by question")
    _whole_ticks(ax.xaxis)
    ax.legend(loc="lower right", fontsize="small", ncols=5, bbox_to_anchor=(1, 1.08))
    return fig


@dataclass(frozen=True)
class ChartText:
    """A chart in words: `alt` says what it shows, `caption` gives its numbers."""

    alt: str
    caption: str


def chart_texts(report: ClassReport) -> dict[str, ChartText]:
    """Each chart's text alternative and the numbers it is drawn from, by chart name."""
    scores, top = _scores(report), _top(report)
    counts = sorted(Counter(scores).items())
    totals = "; ".join(f"{score:g}: {n} student{'' if n == 1 else 's'}" for score, n in counts) or "no submissions"
    outcomes = "; ".join(
        f"{q.id}: " + ", ".join(f"{getattr(q, outcome)} {_LABELS.get(outcome, outcome)}" for outcome in _COLOURS)
        for q in report.questions)
    return {
        "score distribution": ChartText(
            f"Histogram of the total scores of {len(scores)} submissions, out of {top} points, with the "
            f"help threshold at {report.threshold:.0%} ({report.threshold * top:g} points).",
            f"Students by total score (of {top}): {totals}."),
        "outcomes by question": ChartText(
            "Stacked bars, one per autograded question, of how many submitted students passed it, earned "
            "part of its points, answered it wrongly, had an error, or left it blank.",
            f"Students by outcome: {outcomes or 'no autograded questions'}."),
    }
