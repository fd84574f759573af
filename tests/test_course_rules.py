"""The course's rules on time and the grade files an LMS imports: docs/course-rules.md followed
literally, late penalties alike on every path, timestamps checked, exports inert and per assignment."""

from __future__ import annotations

import csv
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from sample import ASSIGNMENT, AUTOGRADED_POINTS, KIT_ROOT, solved, write_submission

from grader.course import Course
from grader.intake.text import printable
from grader.intake.timestamps import format_timestamp, parse_timestamp, submission_time

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's row-by-row API

DOC = KIT_ROOT / "docs" / "course-rules.md"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
FULL = ASSIGNMENT.max_score  # 17: the hand-graded explain_bug included
UTC = datetime.timezone.utc
FORMULA = ("=", "+", "-", "@", "\t", "\r")
ONE_POINT_PER_ROUNDED_HOUR = '''
from nbgrader.plugins import BasePlugin


class SubMarks(BasePlugin):
    """nbgrader's documented example: 1 point per hour late."""

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return round(total_seconds_late / 3600, 0)
'''


def _env() -> dict:
    return {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}


def _run(args: list[str], cwd: Path, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=900, **kw)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def _now() -> datetime.datetime:
    return datetime.datetime.now(UTC).replace(tzinfo=None)


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _table(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["student"]: row for row in csv.DictReader(handle)}


def _by_student(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    header, *body = rows
    return {row[0]: dict(zip(header, row, strict=True)) for row in body}


def _exports(root: Path, assignment: str = "derivatives") -> dict[str, list[list[str]]]:
    folder = root / "exports" / assignment
    return {name: _rows(folder / name) for name in ("grades.csv", "canvas.csv", "moodle.csv")}


def _penalties(course: Course) -> dict[str, float | None]:
    """Each submission's late penalty as AssignLatePenalties left it on the notebook (None: none assigned)."""
    with Gradebook(course.db_url, course.course_id) as gb:
        return {s.student_id: s.notebooks[0].late_submission_penalty
                for s in gb.find_assignment(course.assignment).submissions}


def _totals(course: Course) -> dict[str, float]:
    """The gradebook's totals less the late penalty, as nbgrader's export computes `score`."""
    with Gradebook(course.db_url, course.course_id) as gb:
        return {s.student_id: max(0.0, s.score - s.late_submission_penalty)
                for s in gb.find_assignment(course.assignment).submissions}


def _set_rule(course: Course, line: str) -> None:
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text() + f"\n{line}\n")


def _set_due(course: Course, due: datetime.datetime) -> None:
    with Gradebook(course.db_url, course.course_id) as gb:
        gb.update_or_create_assignment(course.assignment, duedate=due)


def _canvas_accepts(rows: list[list[str]], assignment: str) -> dict[str, str]:
    """Canvas's importer rules (app/models/gradebook_importer.rb): a header whose first cell holds
    "Student" and second "ID", student columns Student, ID, SIS User ID, SIS Login ID ending in
    "Section", then assignment columns; a "Points Possible" row; students by ID, SIS ids or name.
    Returns {SIS Login ID: the assignment's cell}."""
    header, *body = rows
    assert "Student" in header[0] and "ID" in header[1] and len(header) > 3
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"] and "Section" in header[4]
    assert header[5:] == [assignment]
    points, *students = body
    assert "Points Possible" in points[0] and float(points[5]) == FULL
    for row in students:
        assert len(row) == 6 and (row[1] == "" or row[1].isdigit())  # Canvas reads ID as a number
        assert row[1] or row[3] or row[0], "a row Canvas cannot match to a student"
        float(row[5])  # a score Canvas reads as one (its decimal converter: a plain number)
    return {row[3]: row[5] for row in students}


def _moodle_accepts(rows: list[list[str]], identifier: str) -> dict[str, str]:
    """Moodle's CSV grade import (grade/import/csv/classes/load_data.php): one column maps to a user
    field (username, email, ID number or user id), a row whose user is missing stops the whole
    import, and a grade is a number or empty or "-". Returns {identifier: grade}."""
    header, *students = rows
    column = header.index(identifier)
    grade = header.index("derivatives")
    for row in students:
        assert row[column] and not row[column].startswith(("'", *FORMULA)), row
        assert row[grade] in ("", "-") or float(row[grade]) >= 0
    return {row[column]: row[grade] for row in students}


# ---------------------------------------------------------------- 1. the walk-through in the docs


def _follow_the_doc(root: Path) -> list[tuple[str, subprocess.CompletedProcess, dict]]:
    """Every block of docs/course-rules.md in order; each command with what it printed and, after
    an export, the files it wrote."""
    done = []
    for kind, info, body in BLOCK.findall(DOC.read_text()):
        info = info.strip()
        if kind == "console":
            for command in [line[2:] for line in body.splitlines() if line.startswith("$ ")]:
                result = _run(["bash", "-c", command], root)
                files = _exports(root) if command.startswith("grader export") else {}
                done.append((command, result, files))
        elif kind == "python" and info.startswith("file="):
            (root / info[len("file="):]).write_text(body)
        elif kind == "python" and info == "run":
            _run([sys.executable, "-c", body], root)
    return done


@pytest.mark.slow(120)
def test_the_course_rules_guide_runs_and_every_path_agrees(course):
    """Followed block by block, does docs/course-rules.md give bob (late) and carol (a timestamp from
    2000, so her collection time counts) nbgrader's zero penalty in the autograde summary, the
    exports, the feedback and the class report, then the course's own one-point-per-hour rule
    instead (never both), alike through `nbgrader autograde`, and files Canvas and Moodle import?"""
    steps = _follow_the_doc(course.root)
    out = {command: result for command, result, _ in steps}
    exports = [files for command, _, files in steps if command.startswith("grader export")]

    summary = out["grader autograde derivatives"].stdout
    assert "late submissions: 2 (penalty rule: nbgrader.plugins.latesubmission.LateSubmissionPlugin, " \
           "penalty_method 'zero')" in summary, summary
    assert re.search(r"^  bob .* (s|min|h|days) late .* penalty 16$", summary, re.M) and re.search(r"^  carol .* penalty 16$", summary, re.M)
    [carol_line] = [line for line in summary.splitlines() if line.startswith("carol")]
    assert "time: timestamp.txt says 2000-01-01 00:00:00.000000 UTC, before the assignment was released" in carol_line

    zero = _by_student(exports[0]["grades.csv"])
    assert {s: (float(r["total_with_manual"]), float(r["late_penalty"])) for s, r in zero.items()} == {
        "alice": (AUTOGRADED_POINTS, 0), "bob": (0, AUTOGRADED_POINTS), "carol": (0, AUTOGRADED_POINTS)}
    assert float(zero["alice"]["hours_late"]) == 0 < float(zero["bob"]["hours_late"]) < 0.2
    assert "before the assignment was released" in zero["carol"]["timestamp_note"] and not zero["bob"]["timestamp_note"]
    carol = json.loads((course.root / "autograded" / "carol" / "derivatives" / "grading.json").read_text())
    assert carol["timestamp_note"] in carol["notes"] and carol["timestamp"] != "2000-01-01 00:00:00.000000 UTC"

    pages = {s: course.feedback_html(s).read_text() for s in ("alice", "bob", "carol")}
    assert f"Total: {AUTOGRADED_POINTS:g} / {FULL:g}" in pages["alice"] and "Late submission penalty" not in pages["alice"]
    assert "late penalty" not in pages["alice"]
    for late in ("bob", "carol"):
        assert f"Total: 0 / {FULL:g}" in pages[late] and "Late submission penalty (Score: -16.0)" in pages[late]
        assert f"less a late penalty of {AUTOGRADED_POINTS:g}, as recorded" in pages[late]  # the first line says why

    report = json.loads((course.root / "reports" / "derivatives" / "report.json").read_text())
    rows = {row["student"]: row for row in report["students"]}
    assert {s: (r["score"], r["late_penalty"]) for s, r in rows.items()} == {
        "alice": (16, 0), "bob": (0, 16), "carol": (0, 16)}
    assert 0 < rows["bob"]["seconds_late"] < 600 and rows["alice"]["seconds_late"] == 0
    assert any(r["kind"] == "suspicious timestamp" and "2000-01-01" in r["detail"] for r in rows["carol"]["reasons"])
    page = (course.root / "reports" / "derivatives" / "report.html").read_text()
    assert re.search(r'<table id="late-table">.*data-student="bob".*data-student="carol".*</table>', page, re.S)

    own_rule, stock, by_email = exports[1], _penalties(course), exports[2]
    for files in (own_rule, by_email):
        grades = _by_student(files["grades.csv"])
        assert {s: float(r["total_with_manual"]) for s, r in grades.items()} == {"alice": 16, "bob": 15, "carol": 15}
        assert {s: float(r["late_penalty"]) for s, r in grades.items()} == {"alice": 0, "bob": 1, "carol": 1}
    assert stock == {"alice": None, "bob": 1, "carol": 1}  # after nbgrader autograde --force, through the kit
    assert _canvas_accepts(own_rule["canvas.csv"], "derivatives") == {"alice": "16", "bob": "15", "carol": "15"}
    assert _canvas_accepts(by_email["canvas.csv"], "derivatives") == {
        "alice@example.edu": "16", "bob@example.edu": "15", "carol@example.edu": "15"}
    assert _moodle_accepts(own_rule["moodle.csv"], "Username") == {"alice": "16", "bob": "15", "carol": "15"}
    assert _moodle_accepts(by_email["moodle.csv"], "Email address") == {
        "alice@example.edu": "16", "bob@example.edu": "15", "carol@example.edu": "15"}
    assert by_email["canvas.csv"][2][0] == "Liddell, Alice"
    with Gradebook(course.db_url, course.course_id) as gb:  # nbgrader's path kept the kit's submission time
        assert gb.find_submission("derivatives", "carol").timestamp.year != 2000


# ---------------------------------------------------------------- 2. late penalties on every path


@pytest.fixture
def nbgrader_api(course):
    """NbGraderAPI configured from the course's nbgrader_config.py: what formgrader's Autograde
    button and `nbgrader autograde` run (its autograde is the same converter)."""
    from nbgrader.apps import NbGraderAPI

    from grader.judge.nbgrader_preprocessor import close_graders

    def make():
        fresh = Course.at(course.root)  # the course config as it is now
        return NbGraderAPI(coursedir=fresh.coursedir, config=fresh.coursedir.config)

    yield make
    close_graders()


def _stock_autograde(api, course: Course, *students: str) -> None:
    for student in students:
        outcome = api.autograde(course.assignment, student, force=True, create=True)
        assert outcome["success"], outcome.get("error") or outcome.get("log")


def _feedback_pages(course: Course) -> dict[str, str]:
    from grader.cli import main

    assert main(["--course", str(course.root), "feedback", course.assignment]) == 0
    return {p.parent.parent.name: p.read_text() for p in (course.root / "feedback").glob("*/derivatives/derivatives.html")}


def _exported_totals(course: Course) -> dict[str, tuple[float, float]]:
    from grader.report.export import export_grades

    rows = _table(export_grades(Course.at(course.root)).grades)
    return {s: (float(r["total_with_manual"]), float(r["late_penalty"])) for s, r in rows.items()}


@pytest.mark.slow(90)
def test_zero_penalty_agrees_on_every_path_and_follows_due_dates_and_extensions(course, release_nb, nbgrader_api, tmp_path):
    """With a due date a month past and nbgrader's `zero`, does late bob get the same penalty and
    total 0 from `grader autograde`, `nbgrader autograde` (formgrader's converter), grades.csv,
    his feedback and the class report (seen in a browser), while alice, given an extension,
    loses her penalty at the next export; does a TA's score on his hand-graded answer leave him
    at 0; and does moving the due date later remove his penalty at the next regrade?"""
    from grader.judge.batch import autograde
    from grader.report.class_report import gather_report
    from grader.report.publish import write_report

    _set_rule(course, 'c.LateSubmissionPlugin.penalty_method = "zero"')
    for student in ("alice", "bob"):
        write_submission(course.root, student, solved(release_nb))
    _set_due(course, _now() - datetime.timedelta(days=30))
    autograde(Course.at(course.root), jobs=1, show_progress=False)
    assert _penalties(course) == {"alice": AUTOGRADED_POINTS, "bob": AUTOGRADED_POINTS}

    with Gradebook(course.db_url, course.course_id) as gb:
        gb.grant_extension(course.assignment, "alice", days=31)
    assert _exported_totals(course) == {"alice": (AUTOGRADED_POINTS, 0), "bob": (0, AUTOGRADED_POINTS)}
    _stock_autograde(nbgrader_api(), course, "alice", "bob")
    assert _penalties(course) == {"alice": None, "bob": AUTOGRADED_POINTS}
    assert _totals(course) == {"alice": AUTOGRADED_POINTS, "bob": 0}

    pages = _feedback_pages(course)
    assert f"Total: 0 / {FULL:g}" in pages["bob"] and "Late submission penalty (Score: -16.0)" in pages["bob"]
    assert f"Total: {AUTOGRADED_POINTS:g} / {FULL:g}" in pages["alice"] and "Late submission penalty" not in pages["alice"]
    report = gather_report(course.root, course.assignment)
    assert [(s.student, s.score, s.late_penalty) for s in report.late] == [("bob", 0, AUTOGRADED_POINTS)]
    assert 29.9 * 86400 < report.late[0].seconds_late < 30.1 * 86400
    assert _seen_in_a_browser(write_report(course.root, course.assignment, tmp_path).html) == [
        ["bob", report.late[0].submitted_at, "30.0 days", "16", f"0/{FULL:g} ({FULL - report.late[0].counted_max:g} awaiting)"]]

    with Gradebook(course.db_url, course.course_id) as gb:  # as formgrader records a TA's score
        gb.find_grade("explain_bug", course.notebook, course.assignment, "bob").manual_score = 1.0
        gb.db.commit()
    assert _exported_totals(course)["bob"] == (0, FULL)  # the penalty counts the whole score now

    _set_due(course, _now() + datetime.timedelta(days=1))
    autograde(Course.at(course.root), jobs=1, show_progress=False)
    assert _penalties(course) == {"alice": None, "bob": None}
    assert _exported_totals(course) == {"alice": (AUTOGRADED_POINTS, 0), "bob": (FULL, 0)}


def _seen_in_a_browser(page: Path) -> list[list[str]]:
    """The late-work table's rows as headless Chromium shows them (the page fetches nothing)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            view = browser.new_page()
            view.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:"))
                       else route.abort())
            view.goto(page.as_uri())
            rows = view.locator("#late-table tbody tr")
            assert all(rows.nth(i).is_visible() for i in range(rows.count()))
            return [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]
        finally:
            browser.close()


@pytest.mark.slow(60)
def test_a_course_plugin_gives_one_penalty_on_every_path_and_never_twice(course, release_nb, nbgrader_api):
    """With nbgrader's documented plugin (1 point per hour late, a module beside the course's
    config named in `c.AssignLatePenalties.plugin_class`) and bob three hours late, is his penalty 3
    after `grader autograde` and `nbgrader autograde` (formgrader's converter), each run twice,
    and his total 13 in the export, the feedback and the class report?"""
    from grader.judge.batch import autograde
    from grader.report.class_report import gather_report

    # a module name of its own: the guide's course, graded in this process too, has a late.py
    (course.root / "hourly_rule.py").write_text(ONE_POINT_PER_ROUNDED_HOUR)
    _set_rule(course, 'c.AssignLatePenalties.plugin_class = "hourly_rule.SubMarks"')
    write_submission(course.root, "bob", solved(release_nb))
    _set_due(course, _now() - datetime.timedelta(hours=3))
    for _ in range(2):
        autograde(Course.at(course.root), jobs=1, show_progress=False)
        assert _penalties(course) == {"bob": 3}
    for _ in range(2):
        _stock_autograde(nbgrader_api(), course, "bob")
        assert _penalties(course) == {"bob": 3}
    assert _exported_totals(course) == {"bob": (AUTOGRADED_POINTS - 3, 3)}
    assert f"Total: {AUTOGRADED_POINTS - 3:g} / {FULL:g}" in _feedback_pages(course)["bob"]
    [late] = gather_report(course.root, course.assignment).late
    assert (late.student, late.score, late.late_penalty) == ("bob", AUTOGRADED_POINTS - 3, 3)


def test_a_plugin_that_cannot_be_imported_is_one_line_naming_the_setting(course):
    """Does a misspelt plugin class stop `grader autograde` before it grades anyone, and `grader
    export`, with one line that names the setting?"""
    _set_rule(course, 'c.AssignLatePenalties.plugin_class = "late_rules.Missing"')
    write_submission(course.root, "bob", b"not a notebook")
    _set_due(course, _now() - datetime.timedelta(hours=1))
    for verb in ("autograde", "export"):
        done = _run_grader(course.root, verb, "derivatives", ok=False)
        assert done.returncode == 2 and "c.AssignLatePenalties.plugin_class = 'late_rules.Missing'" in done.stderr
        [line] = [line for line in done.stderr.splitlines() if "error" in line]
        assert line == (f"grader {verb}: error: c.AssignLatePenalties.plugin_class = 'late_rules.Missing' in "
                        "nbgrader_config.py cannot be used: ModuleNotFoundError: No module named 'late_rules'")
    assert _penalties(course) == {}  # autograde stopped before it graded bob, not after it recorded him


def test_a_misspelt_class_in_a_module_that_imports_is_named_as_such(course):
    """When the course's module imports but lacks the class, does the line say that (not "no module")?"""
    (course.root / "late_rules.py").write_text(ONE_POINT_PER_ROUNDED_HOUR)
    _set_rule(course, 'c.AssignLatePenalties.plugin_class = "late_rules.SubMarkz"')
    done = _run_grader(course.root, "export", "derivatives", ok=False)
    assert done.returncode == 2
    assert done.stderr.strip().endswith("cannot be used: module 'late_rules' imports but has no class 'SubMarkz'")


def _run_grader(root: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "grader", *args], cwd=root, env=_env(), capture_output=True,
                          text=True, timeout=900)
    if ok:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


# ---------------------------------------------------------------- 3. timestamps


def _folder(tmp_path: Path, claim: bytes | None) -> tuple[Path, Path]:
    folder = tmp_path / "submitted" / "ana" / "derivatives"
    folder.mkdir(parents=True)
    notebook = folder / "derivatives.ipynb"
    notebook.write_text("{}")
    if claim is not None:
        (folder / "timestamp.txt").write_bytes(claim)
    return folder, notebook


HOUR = datetime.timedelta(hours=1)
CLAIMS = {  # claim -> (trusted?, what the note says)
    "honest": (lambda now: format_timestamp(now - HOUR), None),
    "nbgrader's default format, another zone": (
        lambda now: (now - HOUR + datetime.timedelta(hours=-5)).strftime("%Y-%m-%d %H:%M:%S.%f -0500"), None),
    "before the release": (lambda now: "2000-01-01 00:00:00.000000 UTC", "before the assignment was released"),
    "in the future": (lambda now: "2099-01-01 00:00:00 UTC", "in the future"),
    "after the collection": (lambda now: format_timestamp(now + 2 * HOUR), "after the submission was collected"),
    "malformed": (lambda now: "yesterday, honest", "which is not a time nbgrader's submit writes"),
    "a zone abbreviation": (lambda now: format_timestamp(now - HOUR).replace("UTC", "PST"), "not a time"),
    "a formula": (lambda now: "=cmd|' /C calc'!A0", "holds \"=cmd|' /C calc'!A0\", which is not a time"),
    "empty": (lambda now: "", "timestamp.txt is empty"),
    "not UTF-8": (lambda now: b"\xff\xfe2026", "timestamp.txt was not read"),
    "missing": (lambda now: None, "no timestamp.txt"),
}


@pytest.mark.parametrize("case", CLAIMS)
def test_a_timestamp_counts_only_inside_the_release_collection_window(tmp_path, case):
    """Is a timestamp.txt trusted only between the release and the collection (and not in the future),
    and otherwise noted, naming what it held, with the collection time as the submission time?"""
    now = _now()
    make, problem = CLAIMS[case]
    claim = make(now)
    folder, notebook = _folder(tmp_path, claim.encode() if isinstance(claim, str) else claim)
    collected = datetime.datetime.fromtimestamp(min(os.lstat(p).st_ctime for p in (folder, *folder.glob("*"))), UTC)
    # "after the collection" needs a collection before now: the judge's clock is a day ahead here
    later = now + datetime.timedelta(days=1) if case == "after the collection" else None
    handed_in = submission_time(folder, notebook, now - datetime.timedelta(days=7), now=later)
    if problem is None:
        assert handed_in.note is None and handed_in.used == parse_timestamp(claim) == now - HOUR
    else:
        assert problem in handed_in.note and handed_in.note.endswith("is its submission time"), handed_in.note
        assert abs(handed_in.used - collected.replace(tzinfo=None)) <= datetime.timedelta(microseconds=1)
        assert "\n" not in handed_in.note and "\x1b" not in handed_in.note


def test_the_kit_reads_what_nbgraders_submit_writes_as_nbgrader_does():
    """Does a timestamp in nbgrader's submit format (Exchange.timestamp_format, zone UTC or a tz
    database name) read as nbgrader's own parse_utc reads it?"""
    from nbgrader.exchange.abc.exchange import Exchange
    from nbgrader.utils import as_timezone, parse_utc

    fmt = Exchange.class_traits()["timestamp_format"].default_value
    moment = datetime.datetime(2026, 3, 1, 22, 15, 7, 123456)
    for text in (as_timezone(moment, "UTC").strftime(fmt), moment.strftime("%Y-%m-%d %H:%M:%S.%f America/New_York"),
                 "2026-03-01T22:15:07Z"):
        assert parse_timestamp(text) == parse_utc(text), text


@pytest.mark.slow(20)
def test_a_suspicious_timestamp_is_a_note_in_grader_grade_and_the_report(course, release_nb):
    """Does `grader grade` of a submission whose timestamp.txt says 2000 print the note (table and
    JSON), and does the class report list the student as needing help, with why, even without a
    due date; while a missing timestamp.txt is flagged only once there is a due date?"""
    from grader.judge.batch import autograde
    from grader.report.class_report import gather_report

    path = write_submission(course.root, "carol", solved(release_nb))
    (path.parent / "timestamp.txt").write_text("2000-01-01 00:00:00.000000 UTC")
    write_submission(course.root, "dan", solved(release_nb))
    (course.submission_folder("dan") / "timestamp.txt").unlink()
    table = _run_grader(course.root, "grade", str(path)).stdout
    assert "note: timestamp.txt says 2000-01-01 00:00:00.000000 UTC, before the assignment was released" in table
    notes = json.loads(_run_grader(course.root, "grade", str(path), "--json").stdout)["notes"]
    assert any("before the assignment was released" in note for note in notes)
    autograde(course, jobs=1, show_progress=False)
    flagged = {s.student: [r.kind for r in s.reasons] for s in gather_report(course.root, "derivatives").needs_help}
    assert flagged == {"carol": ["suspicious timestamp"]}
    _set_due(course, _now() + datetime.timedelta(days=1))
    flagged = {s.student: [r.kind for r in s.reasons] for s in gather_report(course.root, "derivatives").needs_help}
    assert flagged == {"carol": ["suspicious timestamp"], "dan": ["suspicious timestamp"]}


@pytest.mark.slow(15)
def test_a_release_records_its_first_release_time_and_a_rerelease_keeps_it(course):
    """Does `grader release` record when the assignment was first released, and a second release keep
    that earlier time (so an earlier honest submission is never taken for one before the release)?"""
    from grader.intake.timestamps import released_at
    from grader.release.generate import generate_release, release_is_current

    first = released_at(nbformat.read(course.release_notebook(), as_version=4).metadata)
    assert first is not None and first <= _now()
    generate_release(course)
    assert released_at(nbformat.read(course.release_notebook(), as_version=4).metadata) == first
    assert release_is_current(course)  # the time is not the release's content


# ---------------------------------------------------------------- 4. exports


HOSTILE_IDS = ("=1+1", "+SUM(1)", "-2", "@SUM(A1)", "\t=1", "\r=1")


@pytest.mark.slow(20)
def test_every_cell_of_every_export_is_inert(course, release_nb):
    """With hostile student ids, names, emails and timestamp text, does no cell of grades.csv,
    canvas.csv or moodle.csv start like a formula unless it is a number the kit computed (a TA's
    score of -1 stays the number -1); do the LMS files leave out the ids they could not match and
    say so; and does alice still reach both LMS files?"""
    for student in HOSTILE_IDS:
        folder = write_submission(course.root, student, b"not a notebook").parent
        (folder / "timestamp.txt").write_text("=cmd|' /C calc'!A0")
    write_submission(course.root, "alice", solved(release_nb))
    from grader.judge.batch import autograde

    autograde(course, jobs=1, show_progress=False)
    with Gradebook(course.db_url, course.course_id) as gb:
        gb.update_or_create_student("alice", first_name='=HYPERLINK("http://evil.example","x")',
                                    last_name="@SUM(1)", email="-alice@example.edu", lms_user_id="+1")
        gb.find_grade("explain_bug", course.notebook, course.assignment, "alice").manual_score = -1.0
        gb.db.commit()
    done = _run_grader(course.root, "export", "derivatives")
    files = _exports(course.root)
    numeric = {"total_with_manual", "max_total", "autograded", "max_autograded", "late_penalty", "hours_late",
               *[q.id for q in ASSIGNMENT.questions], "derivatives"}
    for name, rows in files.items():
        header = rows[0]
        for row in rows:
            for column, cell in zip(header, row, strict=True):
                if cell.startswith(FORMULA):
                    assert column in numeric and float(cell) < 0, (name, column, cell)
    grades = _by_student(files["grades.csv"])
    assert set(grades) == {"alice", *(f"'{s}" for s in HOSTILE_IDS)}
    assert grades["alice"]["explain_bug"] == "-1" and float(grades["alice"]["total_with_manual"]) == AUTOGRADED_POINTS - 1
    assert all(grades[f"'{s}"]["timestamp_note"].startswith("timestamp.txt holds") for s in HOSTILE_IDS)
    assert _canvas_accepts(files["canvas.csv"], "derivatives") == {"alice": "15"}
    assert files["canvas.csv"][2][:2] == ["'@SUM(1), =HYPERLINK(\"http://evil.example\",\"x\")", ""]
    assert _moodle_accepts(files["moodle.csv"], "Username") == {"alice": "15"}
    assert files["moodle.csv"][1][:2] == ["'=HYPERLINK(\"http://evil.example\",\"x\")", "'@SUM(1)"]
    [canvas_line, moodle_line, *awaiting] = done.stderr.strip().splitlines()
    assert all("\r" not in line and "hand-graded answers a TA has not scored" in line for line in awaiting)
    assert canvas_line.startswith("grader export: left out of canvas.csv 6 of 7 students") and "\\x09=1" in canvas_line
    assert all(printable(s) in moodle_line for s in HOSTILE_IDS) and "\r" not in moodle_line
    by_email = _run_grader(course.root, "export", "derivatives", "--lms-id", "email")
    assert "alice: its identifier starts like a spreadsheet formula" in by_email.stderr


def test_exports_of_two_assignments_never_overwrite_each_other(course, release_nb):
    """Do `grader export` of two assignments of one course write two folders, the first left as it
    was, and are exports/ and reports/ ignored by git?"""
    from grader.report.export import export_grades

    root = course.root
    for tree in ("source", "release"):
        shutil.copytree(root / tree / "derivatives", root / tree / "chain-rule", ignore=shutil.ignore_patterns("__pycache__"))
        (root / tree / "chain-rule" / "derivatives.ipynb").rename(root / tree / "chain-rule" / "chain-rule.ipynb")
    with Gradebook(course.db_url, course.course_id) as gb:
        gb.add_student("alice")
        gb.add_submission("derivatives", "alice")
    first = export_grades(course)
    before = first.grades.read_bytes()
    second = export_grades(Course.at(root, "chain-rule"))
    assert first.folder == root / "exports" / "derivatives" and second.folder == root / "exports" / "chain-rule"
    assert first.grades.read_bytes() == before and "alice" in before.decode()
    assert _rows(second.grades)[1:] == [] and _rows(second.canvas)[0][-1] == "chain-rule"
    printed = _run_grader(root, "export", "derivatives").stdout
    assert str(root / "exports" / "derivatives" / "grades.csv") in printed
    ignored = subprocess.run(["git", "check-ignore", "exports/derivatives/grades.csv", "reports/derivatives/report.html"],
                             cwd=KIT_ROOT, capture_output=True, text=True)
    assert ignored.stdout.split() == ["exports/derivatives/grades.csv", "reports/derivatives/report.html"]
