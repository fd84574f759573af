"""Points that change: split over parts as a person would write them, stated in the text, and grades kept current."""

from __future__ import annotations

import csv
import json
import re

import nbformat
import pytest
from sample import answer, solved, with_answers, write_submission

from grader.cli import main
from grader.course import Course
from grader.release.audit import static_findings
from grader.runtime.parts import Part, part_points

PARTLY_RIGHT_SQ = "sq_backward_under_no_grad"  # forward and chain rule right, no second-order gradient


def _parts(count: int, **declared) -> tuple[Part, ...]:
    return tuple(Part(f"p{n}", f"part {n}", points=declared.get(f"p{n}")) for n in range(count))


@pytest.mark.parametrize(("points", "count", "expected"), [
    (3, 3, (1, 1, 1)), (4, 3, (1.5, 1.5, 1)), (2, 3, (1, 0.5, 0.5)), (5, 2, (2.5, 2.5)), (2, 1, (2,)),
    (1.5, 2, (1, 0.5)),
], ids=["3 over 3", "4 over 3", "2 over 3", "5 over 2", "one part", "1.5 over 2"])
def test_points_split_in_half_points_with_the_remainder_to_the_first_parts(points, count, expected):
    """Do a question's points split over its parts in whole and half points, the half points
    left over going to the first parts (never 1.3333)?"""
    assert part_points(_parts(count), points) == expected


def test_declared_part_points_are_kept_and_must_add_up():
    """Are parts declared with points= worth exactly those (thirds too, when asked for), and is a
    declaration that does not add up to the question's points, or covers only some parts, refused?"""
    assert part_points(_parts(3, p0=2, p1=1, p2=1), 4) == (2, 1, 1)
    assert part_points(_parts(3, p0=1 / 3, p1=1 / 3, p2=1 / 3), 1) == (1 / 3, 1 / 3, 1 / 3)
    for parts, points in ((_parts(3, p0=2, p1=1, p2=1), 3), (_parts(3, p0=2), 4)):
        with pytest.raises(ValueError):
            part_points(parts, points)


@pytest.mark.parametrize(("points", "count"), [(1, 3), (0.75, 2)], ids=["a part with nothing", "quarter points"])
def test_a_split_a_person_would_not_write_is_refused(points, count):
    """Is a split that leaves a part nothing, or needs quarter points, refused with what to do?"""
    with pytest.raises(ValueError, match="points="):
        part_points(_parts(count), points)


def set_points(course: Course, qid: str, points: float, *, text: bool = True) -> None:
    """Give question `qid` other points in the source notebook (and its "(N points)" text, unless text=False)."""
    path = course.source_notebook()
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    answer_at = next(i for i, c in enumerate(cells) if c.metadata.get("nbgrader", {}).get("grade_id") == qid)
    for cell in cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == f"test_{qid}":
            cell.metadata.nbgrader.points = points
    if text:
        stated = next(c for c in reversed(cells[:answer_at]) if c.cell_type == "markdown" and "points)" in c.source)
        stated.source = re.sub(r"\(\d+ points\)", f"({points:g} points)", stated.source)
    nbformat.write(nb, path)


def _finding(course: Course, start: str):
    return next(f for f in static_findings(course) if f.check.startswith(start))


def test_audit_names_the_cell_whose_points_text_is_stale(course):
    """After SQ's points change in the metadata only, does the audit fail naming the markdown
    cell that still says (3 points)?"""
    set_points(course, "SQ", 4, text=False)
    finding = _finding(Course.at(course.root), "the points a question's text states")
    assert not finding.ok and "(3 points)" in finding.detail and "markdown cell" in finding.detail
    assert "SQ is worth 4" in finding.detail
    set_points(course, "SQ", 4)
    assert _finding(Course.at(course.root), "the points a question's text states").ok


def test_audit_refuses_points_its_parts_cannot_share(course):
    """Does SQ worth 1 point over 3 parts fail the audit, naming SQ's check module and asking for
    each part's points?"""
    set_points(course, "SQ", 1)
    finding = _finding(Course.at(course.root), "SQ: 1 points split over its 3 parts")
    assert not finding.ok and "checks/SQ.py" in finding.detail and "points=" in finding.detail


def _csv(course: Course) -> dict[str, dict]:
    with open(course.root / "exports" / course.assignment / "grades.csv", newline="") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


@pytest.mark.slow(60)
def test_grades_under_old_points_are_named_stale_and_regraded(course, capsys):
    """After SQ goes from 3 to 4 points, does `grader release` name the grades recorded under 3,
    does `grader autograde --stale` regrade them (full marks read full, a partly right SQ earns
    3 of 4, not 2.6667), and does the next release find nothing stale?"""
    root = str(course.root)
    release = nbformat.read(course.release_notebook(), as_version=4)
    write_submission(course.root, "ada", solved(release))
    write_submission(course.root, "ben", with_answers(solved(release), {"SQ": answer(PARTLY_RIGHT_SQ).source}))
    assert main(["--course", root, "autograde", course.assignment]) == 0
    set_points(course, "SQ", 4)
    capsys.readouterr()

    assert main(["--course", root, "release", course.assignment, "--question", "SQ"]) == 0
    [line] = [ln for ln in capsys.readouterr().out.splitlines() if "stale" in ln]
    assert line.startswith("2 recorded grades are stale") and "ada: graded for other points (SQ 3 → 4)" in line
    assert f"grader autograde {course.assignment} --stale" in line
    assert main(["--course", root, "export", course.assignment]) == 0  # what it hands on says so
    assert "grader export: 2 recorded grades are stale" in capsys.readouterr().err

    assert main(["--course", root, "autograde", course.assignment, "--stale"]) == 0
    assert main(["--course", root, "export", course.assignment]) == 0
    assert "stale" not in capsys.readouterr().err
    rows = _csv(course)
    assert rows["ada"]["SQ"] == "4" and rows["ada"]["autograded"] == rows["ada"]["max_autograded"]
    assert rows["ben"]["SQ"] == "3"
    graded = json.loads((course.root / "autograded" / "ben" / course.assignment / "grading.json").read_text())
    sq = next(q for q in graded["questions"] if q["id"] == "SQ")
    assert [p["points"] for p in sq["parts"]] == [1.5, 1.5, 1]

    capsys.readouterr()
    assert main(["--course", root, "release", course.assignment, "--question", "SQ"]) == 0
    assert "stale" not in capsys.readouterr().out
    assert main(["--course", root, "autograde", course.assignment, "--stale"]) == 0
    assert "nothing to regrade" in capsys.readouterr().out


@pytest.mark.slow(40)
def test_grades_under_another_release_are_stale(course, capsys):
    """Does a change to a hidden check, released, make the recorded grades stale (another
    release), while a release that changes nothing that grades leaves them current?"""
    root = str(course.root)
    write_submission(course.root, "ada", solved(nbformat.read(course.release_notebook(), as_version=4)))
    assert main(["--course", root, "autograde", course.assignment]) == 0
    notebook = course.source_notebook()
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[1].source += "\n\nA sentence added to the introduction."
    nbformat.write(nb, notebook)
    capsys.readouterr()
    assert main(["--course", root, "release", course.assignment, "--question", "grad_at"]) == 0
    assert "stale" not in capsys.readouterr().out
    hidden = course.root / "source" / course.assignment / "hidden" / "grad_at.py"
    hidden.write_text(hidden.read_text() + "\n# one more case to come\n")
    assert main(["--course", root, "release", course.assignment, "--question", "grad_at"]) == 0
    assert "1 recorded grade is stale (ada: graded under another release)" in capsys.readouterr().out
