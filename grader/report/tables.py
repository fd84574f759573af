"""Tables and charts for people: one notebook's verdicts, a class's summary."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from grader.intake.text import printable
from grader.judge.results import SubmissionResult
from grader.questions import AUTOGRADED

__all__ = ["question_table", "class_table", "pass_rates", "save_charts"]


def question_table(result: SubmissionResult) -> str:
    """Per-question scores of one notebook, with the first message of each question that lost points."""
    lines = [f"{printable(result.notebook)}: {result.score:g} / {result.max_score:g}  ({printable(result.status)})"]
    lines += [f"  {printable(q.id):<30} {q.score:>4g}/{q.max_score:<3g} {printable(q.status):<8} {_first(q.messages)}"
              for q in result.questions]
    lines += [f"  note: {printable(note)}" for note in result.notes]
    lines += [f"  tamper: {printable(item)}" for item in result.tamper]
    return "\n".join(lines)


def class_table(results: list[SubmissionResult]) -> str:
    """One line per student, then pass rates and totals by status."""
    if not results:
        return "no submissions found under submitted/"
    # Every field a submission can influence is shown with its control codes escaped: an ESC
    # sequence, a carriage return or a bidi override in a student id, note or tamper line
    # could otherwise redraw the row (a 14/16 printed as 16/16).
    width = max(len(printable(r.student)) for r in results) + 2
    header = f"{'student':<{width}}{'score':>7}  {'status':<12} details"
    rows = [f"{printable(r.student):<{width}}{r.score:>4g}/{r.max_score:<3g} {printable(r.status):<12} {_details(r)}"
            for r in sorted(results, key=lambda r: r.student)]
    rates = "  ".join(f"{qid} {rate:.0%}" for qid, rate in pass_rates(results).items())
    statuses = ", ".join(f"{printable(k)}: {v}" for k, v in sorted(Counter(r.status for r in results).items()))
    mean = sum(r.score for r in results) / len(results)
    footer = [f"students: {len(results)}  mean score: {mean:.2f}/{results[0].max_score:g}  ({statuses})",
              f"pass rate by question: {rates}"]
    return "\n".join([header, *rows, *footer])


def pass_rates(results: list[SubmissionResult]) -> dict[str, float]:
    """Share of students whose question passed, in the question table's order."""
    total = max(len(results), 1)
    return {q.id: sum(_passed(r, q.id) for r in results) / total for q in AUTOGRADED}


def save_charts(results: list[SubmissionResult], folder: Path) -> list[Path]:
    """A histogram of scores and a bar chart of pass rates by question, as PNG files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    histogram, rates = folder / "score-histogram.png", folder / "pass-rates.png"
    max_score = results[0].max_score if results else 16
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist([r.score for r in results], bins=range(0, int(max_score) + 2), align="left", color="#4878a8", rwidth=0.85)
    ax.set(xlabel="autograded score", ylabel="students", title=f"Scores of {len(results)} submissions")
    fig.tight_layout()
    fig.savefig(histogram, dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 3.5))
    shares = pass_rates(results)
    ax.barh(list(shares)[::-1], [100 * v for v in shares.values()][::-1], color="#6a9f58")
    ax.set(xlabel="students passing (%)", xlim=(0, 100), title="Pass rate by question")
    fig.tight_layout()
    fig.savefig(rates, dpi=110)
    plt.close(fig)
    return [histogram, rates]


def _passed(result: SubmissionResult, qid: str) -> bool:
    return any(q.id == qid and q.status == "passed" for q in result.questions)


def _details(result: SubmissionResult) -> str:
    lost = [q.id if q.status == "failed" else f"{q.id} ({q.status})" for q in result.questions if q.status != "passed"]
    text = f"lost: {', '.join(lost)}" if lost else "all autograded questions passed"
    if result.tamper:
        text += f"; tamper: {result.tamper[0]}" + (f" (+{len(result.tamper) - 1} more)" if len(result.tamper) > 1 else "")
    if result.status != "graded" and result.notes:
        text = f"{result.notes[0]}"
    return printable(text)


def _first(messages: list[str]) -> str:
    return printable(messages[0].splitlines()[0][:100]) if messages and messages[0] else ""
