"""Instructors author assignments without touching the engine: docs/authoring.md followed literally, and a copy."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil

import nbformat
import pytest
from guide import empty_course, follow_guide, grader
from sample import KIT_ROOT, solved, with_answers, write_submission

from grader.course import Course

pytestmark = pytest.mark.slow


def _engine_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted((KIT_ROOT / "grader").rglob("*.py")):
        digest.update(str(path.relative_to(KIT_ROOT)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_authoring_guide_builds_releases_and_grades_a_new_assignment(tmp_path):
    """Does following docs/authoring.md block by block give released assignments (the minimal question's
    and one with checks of its own) that grade a right answer full and a wrong one 0, with no file of grader/
    touched?"""
    before = _engine_digest()
    root = empty_course(tmp_path / "course")
    outputs = follow_guide(root)
    graded = {cmd.split()[2]: json.loads(out) for cmd, out in outputs if cmd.startswith("grader grade")}
    assert graded["right.ipynb"]["score"] == graded["right.ipynb"]["max_score"] == 2
    assert graded["wrong.ipynb"]["score"] == 0
    [wrong] = graded["wrong.ipynb"]["questions"]
    assert "create_graph=True" in wrong["messages"][0]
    assert graded["losses-right.ipynb"]["score"] == graded["losses-right.ipynb"]["max_score"] == 2
    assert graded["losses-wrong.ipynb"]["score"] == 0
    [compared] = graded["losses-wrong.ipynb"]["questions"]
    assert "got 8.5; expected 4.25" in compared["messages"][0]
    assert (root / "release" / "losses" / "checks" / "mse_step.json").is_file()
    assert not (root / "release" / "losses" / "hidden").exists()
    assert not (root / "release" / "second-order" / "hidden").exists()
    assert (root / "release" / "second-order" / "checks" / "runtime" / "__init__.py").is_file()
    assert _engine_digest() == before


def test_a_copied_assignment_with_other_points_releases_grades_autogrades_and_exports(course):
    """Copied to source/<new>/ with SQ worth 4 (test cell and text), does every verb count the new points?"""
    root = course.root
    shutil.copytree(root / "source" / "derivatives", root / "source" / "chain-rule",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "source" / "chain-rule" / "derivatives.ipynb").rename(root / "source" / "chain-rule" / "chain-rule.ipynb")
    path = root / "source" / "chain-rule" / "chain-rule.ipynb"
    nb = nbformat.read(path, as_version=4)
    [test] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test_SQ"]
    test.metadata["nbgrader"]["points"] = 4
    [text] = [c for c in nb.cells if c.cell_type == "markdown" and "### Exercise 6 (3 points)" in c.source]
    text.source = text.source.replace("(3 points)", "(4 points)")  # the audit reads the text's points too
    nbformat.write(nb, path)

    released = grader(root, "release", "chain-rule", "--question", "SQ")
    assert released.returncode == 0, released.stdout[-3000:] + released.stderr[-2000:]
    release = nbformat.read(root / "release" / "chain-rule" / "chain-rule.ipynb", as_version=4)
    assert release.metadata["grader"]["assignment"] == "chain-rule"
    answered = solved(release)
    nbformat.write(answered, root / "answered.ipynb")
    graded = json.loads(grader(root, "grade", "answered.ipynb", "--json").stdout)
    sq = next(q for q in graded["questions"] if q["id"] == "SQ")
    assert sq["max_score"] == sq["score"] == 4

    write_submission(root, "ada", answered, assignment="chain-rule")
    (root / "submitted" / "ada" / "chain-rule" / "derivatives.ipynb").rename(
        root / "submitted" / "ada" / "chain-rule" / "chain-rule.ipynb")
    write_submission(root, "ben", with_answers(answered, {"SQ": release.cells[0].source}), assignment="chain-rule")
    assert grader(root, "autograde", "chain-rule").returncode == 0
    assert grader(root, "export", "chain-rule").returncode == 0
    rows = {r["student"]: r for r in csv.DictReader((root / "exports" / "chain-rule" / "grades.csv").open())}
    total = Course.at(root, "chain-rule").spec.max_score
    assert total == Course.at(root, "derivatives").spec.max_score + 1
    assert float(rows["ada"]["max_total"]) == total and float(rows["ada"]["SQ"]) == 4
    assert float(rows["ben"]["SQ"]) == 0


def test_a_notebook_of_no_assignment_is_refused_in_one_line(course, tmp_path):
    """Does `grader grade` refuse a notebook it cannot place, with one line and exit 2?"""
    stray = tmp_path / "stray.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), stray)
    for verb in ("grade", "check"):
        done = grader(course.root, verb, str(stray))
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "--assignment" in done.stderr


def test_unknown_assignment_is_refused_in_one_line(course):
    """Does a verb given an assignment the course does not have say so in one line, naming the folder?"""
    done = grader(course.root, "autograde", "nope")
    assert done.returncode == 2 and "source/nope/" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_failed_release_leaves_the_previous_release(course):
    """When the audit's inputs are broken (a check module missing), is release/ left as it was?"""
    folder = course.root / "release" / course.assignment
    before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    (course.root / "source" / course.assignment / "checks" / "SQ.py").unlink()
    done = grader(course.root, "release", course.assignment)
    assert done.returncode != 0 and "checks/SQ.py" in done.stderr
    after = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before


def test_audit_reports_points_that_disagree(course):
    """If the gradebook still holds other points for a question, does the audit say so?"""
    from nbgrader.api import Gradebook

    from grader.release.audit import static_findings

    with Gradebook(course.db_url, course.course_id) as gb:
        cell = gb.find_grade_cell("test_SQ", course.notebook, course.assignment)
        cell.max_score = 9
        gb.db.commit()
    finding = next(f for f in static_findings(Course.at(course.root)) if f.check.startswith("ids and points"))
    assert not finding.ok and "gradebook" in finding.detail


def test_audit_counts_misconceptions_per_question(course):
    """Does the audit name a question whose bank has fewer than two known misconceptions?"""
    from grader.release.audit import static_findings

    banks = course.root / "source" / course.assignment / "banks" / "__init__.py"
    banks.write_text(banks.read_text() + "\nWRONG = tuple(a for a in WRONG if a.question != 'leaves')\n")
    findings = {f.check: f for f in static_findings(Course.at(course.root))}
    assert not findings["leaves has at least 2 known misconceptions in its bank"].ok
    assert findings["SQ has at least 2 known misconceptions in its bank"].ok
