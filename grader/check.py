"""`grader check`: a student's own run of the visible tests, in a child process, with a table."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from grader.assignment import Assignment
from grader.intake.notebook import read_notebook

__all__ = ["CheckReport", "check_notebook"]

RESULT_PREFIX = "GRADER-CHECK-RESULT "
_TEST_CALL = re.compile(r"^check_question\(.*\)\s*$", re.MULTILINE)  # a test cell whose metadata was stripped
CHECK_TIMEOUT = 300


@dataclass
class CheckReport:
    """Visible-test outcome per question: (id, "pass" | "FAIL", message)."""

    rows: list[tuple[str, str, str]]
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.rows) and all(status == "pass" for _, status, _ in self.rows)

    def table(self) -> str:
        width = max(len(qid) for qid, _, _ in self.rows) + 2 if self.rows else 10
        lines = [f"{qid:<{width}}{status:<6}{message}" for qid, status, message in self.rows]
        lines += [f"note: {note}" for note in self.notes]
        failed = sum(status != "pass" for _, status, _ in self.rows)
        lines.append("all visible tests pass" if self.passed else f"{failed} question(s) fail their visible tests")
        return "\n".join(lines)


def check_notebook(path: Path, assignment: Assignment, timeout: float = CHECK_TIMEOUT) -> CheckReport:
    """Run the notebook's own cells, then every question's visible checks, in a child process."""
    intake = read_notebook(Path(path))
    cells = [(c.index, c.source) for c in intake.cells if c.cell_type == "code" and not _is_test(c)]
    job = {"assignment": str(assignment.folder), "cells": cells}
    ids = [q.id for q in assignment.autograded]
    try:
        done = subprocess.run([sys.executable, "-m", "grader.check"], input=json.dumps(job), text=True,
                              capture_output=True, timeout=timeout, cwd=Path(path).resolve().parent)
    except subprocess.TimeoutExpired:
        return _all_failed(ids, f"the notebook did not finish within {timeout:.0f} s")
    return _parse(done.stdout) or _all_failed(ids, f"the notebook stopped the checker (exit status {done.returncode})")


def _is_test(cell) -> bool:
    return (cell.grade_id or "").startswith("test_") or bool(_TEST_CALL.search(cell.source))


def _parse(stdout: str) -> CheckReport | None:
    lines = [line for line in stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if not lines:
        return None
    data = json.loads(lines[-1][len(RESULT_PREFIX):])
    return CheckReport([tuple(row) for row in data["rows"]], data["notes"])


def _all_failed(ids: list[str], note: str) -> CheckReport:
    return CheckReport([(qid, "FAIL", note) for qid in ids], [note])


def _run_here(folder: str, cells: list[tuple[int, str]]) -> dict:
    """In the child: run the cells in order, then each question's visible checks."""
    from grader.runtime import notebook_check
    from grader.worker.worker import CellRunner

    assignment = Assignment.load(Path(folder))
    check_visible = notebook_check(f"{assignment.package}.checks", assignment.functions)

    runner = CellRunner(tempfile.gettempdir(), output_cap=0)
    notes = []
    for index, source in cells:
        report = runner.run_cell(index, source)
        if report["status"] != "ok":
            notes.append(f"cell {index} raised {report['error']}")
    rows = []
    for q in assignment.autograded:
        rows.append((q.id, *_visible(check_visible, q.id, runner.namespace)))
    return {"rows": rows, "notes": notes}


def _visible(check_visible, qid: str, namespace: dict) -> tuple[str, str]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            check_visible(qid, namespace)
        except AssertionError as failure:
            return "FAIL", str(failure).splitlines()[0] if str(failure) else "assertion failed"
        except BaseException as exc:  # noqa: B036 -- the student's code may raise anything, exits included
            return "FAIL", f"{type(exc).__name__}: {exc}"
    return "pass", ""


if __name__ == "__main__":
    job = json.loads(sys.stdin.read())
    result = _run_here(job["assignment"], [tuple(cell) for cell in job["cells"]])
    os.write(sys.__stdout__.fileno(), (RESULT_PREFIX + json.dumps(result) + "\n").encode())
