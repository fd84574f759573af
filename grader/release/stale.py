"""Grades recorded under other points or another release: which submissions a regrade would change.

An autograded notebook is built from the release notebook it was graded under, so it keeps
that release's stamp (`grader.release.stamp`) and its test cells' points. A grade is stale
when either differs from the current release's.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.course import CourseError
from grader.ipynb import read_ipynb
from grader.release.stamp import stamp_of

__all__ = ["StaleGrade", "stale_grades", "stale_line", "stale_students"]

SHOWN = 5  # students named in the one line `grader release` prints


@dataclass(frozen=True)
class StaleGrade:
    """A student whose recorded grade predates the current release, and why."""

    student: str
    why: str


def stale_grades(course) -> list[StaleGrade]:
    """The recorded grades of `course`'s assignment that the current release would change, by student.

    CourseError when the assignment has no release to compare with."""
    if not course.release_notebook().is_file():
        raise CourseError(f"no {course.release_notebook().relative_to(course.root)}: "
                          f"run `grader release {course.assignment}` first")
    release = read_ipynb(course.release_notebook())
    grading, points = stamp_of(release).get("grading"), _test_points(release)
    released = course.release_notebook().stat().st_mtime
    stale = []
    for student in _graded_students(course):
        try:
            if course.autograded_notebook(student).stat().st_mtime >= released:
                continue  # graded under the release as it is now: only older grades are read
            graded = read_ipynb(course.autograded_notebook(student))
        except (OSError, ValueError):
            stale.append(StaleGrade(student, "its autograded notebook cannot be read"))
            continue
        why = _points_changed(_test_points(graded), points)
        if not why and stamp_of(graded).get("grading") != grading:
            why = "graded under another release"
        if why:
            stale.append(StaleGrade(student, why))
    return stale


def stale_students(course, among: list[str] | None = None) -> list[str]:
    """The students with a submission whose recorded grade is stale (of `among`, if given)."""
    submitted = set(course.students())
    return [g.student for g in stale_grades(course)
            if g.student in submitted and (among is None or g.student in among)]


def stale_line(course, stale: list[StaleGrade]) -> str:
    """One line for the TA: how many grades are stale, whose, why, and the command that regrades them."""
    named = "; ".join(f"{s.student}: {s.why}" for s in stale[:SHOWN]) + ("; ..." if len(stale) > SHOWN else "")
    return (f"{len(stale)} recorded grade{'s are' if len(stale) != 1 else ' is'} stale ({named}): "
            f"`grader autograde {course.assignment} --stale` regrades them")


def _graded_students(course) -> list[str]:
    base = course.root / "autograded"
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if course.autograded_notebook(p.name).is_file())


def _test_points(nb) -> dict[str, float]:
    """{question id: points} of the notebook's autograded test cells."""
    points = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader") or {}
        grade_id = meta.get("grade_id") or ""
        if meta.get("grade") and not meta.get("solution") and grade_id.startswith("test_"):
            points[grade_id.removeprefix("test_")] = float(meta.get("points") or 0)
    return points


def _points_changed(graded: dict[str, float], now: dict[str, float]) -> str:
    changes = [f"{qid} {graded.get(qid, 0):g} → {now.get(qid, 0):g}" for qid in sorted(set(graded) | set(now))
               if graded.get(qid) != now.get(qid)]
    return f"graded for other points ({', '.join(changes)})" if changes else ""
