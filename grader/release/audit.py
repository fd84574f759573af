"""Audit an assignment before it goes out: its own tests, a blank release, leaks, the answer banks."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from grader.course import Course
from grader.questions import AUTOGRADED

__all__ = ["AuditReport", "Finding", "audit_assignment"]


@dataclass(frozen=True)
class Finding:
    """One audit check: what was checked, whether it held, and why not."""

    check: str
    ok: bool
    detail: str = ""


@dataclass
class AuditReport:
    findings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(f.ok for f in self.findings)

    def failures(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    def summary(self) -> str:
        return f"{sum(f.ok for f in self.findings)}/{len(self.findings)} checks held"

    def table(self) -> str:
        lines = [f"{'ok ' if f.ok else 'FAIL'} {f.check}{': ' + f.detail if f.detail else ''}" for f in self.findings]
        verdict = "audit passed" if self.passed else f"audit FAILED: {len(self.failures())} problem(s)"
        return "\n".join([*lines, f"{verdict} ({self.summary()})"])


def audit_assignment(course: Course, *, jobs: int | None = None) -> AuditReport:
    """Run every audit check; the report says which failed and why."""
    from grader.release.generate import find_leaks
    from grader.judge.grader import Grader

    report = AuditReport()
    leaks = find_leaks(course.source_notebook(), course.release_notebook())
    report.findings.append(Finding("no solution text in the release", not leaks, "; ".join(leaks[:3])))
    with Grader(course) as grader, tempfile.TemporaryDirectory() as scratch:
        for check, notebook, expected in _cases(course):
            report.findings.append(_judge_case(grader, Path(scratch), check, notebook, expected))
    return report


def _cases(course: Course):
    """(check name, notebook, ids expected to pass) for every audited notebook."""
    from grader.banks import CORRECT, WRONG
    from grader.demo.scenarios import solved, with_answers

    release = nbformat.read(course.release_notebook(), as_version=4)
    everything = {q.id for q in AUTOGRADED}
    yield "the source notebook passes all its own tests", nbformat.read(course.source_notebook(), as_version=4), everything
    yield "the blank release scores 0", release, set()
    reference = solved(release)
    for answer in CORRECT:
        yield f"correct answer {answer.name} scores full", with_answers(reference, {answer.question: answer.source}), everything
    for answer in WRONG:
        yield (f"wrong answer {answer.name} loses exactly {answer.question}",
               with_answers(reference, {answer.question: answer.source}), everything - {answer.question})


def _judge_case(grader, scratch: Path, check: str, notebook, expected: set[str]) -> Finding:
    path = scratch / f"{len(list(scratch.iterdir()))}.ipynb"
    nbformat.write(notebook, path)
    result = grader.grade_notebook(path, student="audit")
    passed = {q.id for q in result.questions if q.status == "passed"}
    if passed == expected:
        return Finding(check, True)
    unexpected = sorted(passed - expected)
    lost = sorted(expected - passed)
    detail = []
    if lost:
        first = next(q for q in result.questions if q.id == lost[0])
        detail.append(f"lost {', '.join(lost)} ({first.status}: {(first.messages or [''])[0][:160]})")
    if unexpected:
        detail.append(f"passed {', '.join(unexpected)} but should not")
    return Finding(check, False, "; ".join(detail))
