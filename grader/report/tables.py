"""Tables for people: one notebook's verdicts, a class's summary (the class report draws the charts)."""

from __future__ import annotations

from collections import Counter

from grader.intake.text import printable
from grader.judge.results import SubmissionResult

__all__ = ["question_table", "class_table", "containment_line", "late_table", "listed", "pass_rates", "how_late"]

# What the kit's verdict totals count: the autograded questions only. The gradebook's total
# (grades.csv, feedback) adds the hand-graded ones.
SCOPE = "autograded"
CONTAINMENT_KEYS = ("user", "network", "filesystem", "pid_namespace", "limits", "syscalls")


def listed(items: list[str], most: int = 10, sep: str = ", ") -> str:
    """The first `most` items in order, made printable, and how many more: one line for a person."""
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return sep.join(printable(item) for item in sorted(items)[:most]) + more


def question_table(result: SubmissionResult) -> str:
    """Per-question scores of one notebook, with the first message of each question that lost points."""
    lines = [f"{printable(result.notebook)}: {SCOPE} {result.score:g} / {result.max_score:g}  "
             f"({printable(result.status)}; hand-graded questions are not included)"]
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
    width = max(len("student"), *(len(printable(r.student)) for r in results)) + 2
    header = f"{'student':<{width}}{SCOPE:>10}  {'status':<12} details"
    rows = [f"{printable(r.student):<{width}}{r.score:>7g}/{r.max_score:<3g} {printable(r.status):<12} {_details(r)}"
            for r in sorted(results, key=lambda r: r.student)]
    rates = "  ".join(f"{qid} {rate:.0%}" for qid, rate in pass_rates(results).items())
    statuses = ", ".join(f"{printable(k)}: {v}" for k, v in sorted(Counter(r.status for r in results).items()))
    mean = sum(r.score for r in results) / len(results)
    footer = [f"students: {len(results)}  mean {SCOPE} score: {mean:.2f}/{results[0].max_score:g}  ({statuses})",
              f"pass rate by question: {rates}",
              "scores count the autograded questions only; `grader export` writes totals with manual scores"]
    return "\n".join([header, *rows, *footer])


def late_table(late, rule: str) -> str:
    """The late submissions (grader.record.late.LateSubmission): how late, and the penalty the
    course's rule gave, as the gradebook now holds it."""
    lines = [f"late submissions: {len(late)} (penalty rule: {printable(rule)})"]
    lines += [f"  {printable(item.student):<20} {how_late(item.seconds_late):>10} late (due {item.due:%Y-%m-%d %H:%M} UTC)"
              f"  penalty {item.penalty:g}" for item in late]
    return "\n".join(lines)


def how_late(seconds: float) -> str:
    """A lateness as a person reads it: seconds and minutes under an hour (a submission 9 s late
    that lost every point must not read as 0.00 h), hours under two days, then days."""
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1g} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    hours = seconds / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def containment_line(containment: dict) -> str:
    """One line: the isolation student code runs under on this machine."""
    known = [f"{key}: {containment[key]}" for key in CONTAINMENT_KEYS if containment.get(key)]
    return "containment in force: " + ("; ".join(known) if known else "unknown (no worker reported)")


def pass_rates(results: list[SubmissionResult]) -> dict[str, float]:
    """Share of students whose question passed, in the question table's order."""
    total = max(len(results), 1)
    ids = dict.fromkeys(q.id for r in results for q in r.questions)
    return {qid: sum(_passed(r, qid) for r in results) / total for qid in ids}


def _passed(result: SubmissionResult, qid: str) -> bool:
    return any(q.id == qid and q.status == "passed" for q in result.questions)


def _details(result: SubmissionResult) -> str:
    lost = [q.id if q.status == "failed" else f"{q.id} ({q.status})" for q in result.questions if q.status != "passed"]
    text = f"lost: {', '.join(lost)}" if lost else "all autograded questions passed"
    if result.tamper:
        text += f"; tamper: {result.tamper[0]}" + (f" (+{len(result.tamper) - 1} more)" if len(result.tamper) > 1 else "")
    if result.status != "graded" and result.notes:
        text = f"{result.notes[0]}"
    if result.timestamp_note and result.timestamp_note not in text:
        text += f"; time: {result.timestamp_note}"
    return printable(text)


def _first(messages: list[str], width: int = 160) -> str:
    """The first line of the first message, cut at `width` with an ellipsis (`--json` holds it whole)."""
    if not messages or not messages[0]:
        return ""
    line = messages[0].splitlines()[0]
    return printable(line if len(line) <= width else line[:width - 1] + "…")
