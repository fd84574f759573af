"""The `grader grade` and `grader check` contract: JSON shape, exit codes, bad input."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import nbformat
import pytest
from sample import AUTOGRADED, with_extra_cell, write_submission

import grader.judge.batch
from grader.cli import main
from grader.course import Course

pytestmark = pytest.mark.duration(3)  # each runs the grader command


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=300)


def test_grade_json_of_a_correct_notebook_is_full_marks(released_course, solved_nb, tmp_path):
    """Does `grader grade --json` report full marks with every question passed, in the notebook's order?"""
    path = tmp_path / "derivatives.ipynb"
    nbformat.write(solved_nb, path)
    done = run_cli("--course", str(released_course.root), "grade", str(path), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {"notebook", "score", "max_score", "questions"}
    assert report["score"] == report["max_score"] == sum(q.points for q in AUTOGRADED)
    assert [q["id"] for q in report["questions"]] == [q.id for q in AUTOGRADED]
    for q in report["questions"]:
        assert set(q) == {"id", "score", "max_score", "status", "messages", "parts"}
        assert q["status"] == "passed", q


def test_grade_json_names_the_tamper_evidence_a_table_shows(released_course, solved_nb, tmp_path):
    """Does `grader grade --json` carry the tamper evidence (and notes) the table shows a TA?"""
    path = tmp_path / "derivatives.ipynb"
    nbformat.write(with_extra_cell(solved_nb, "import sys\nsys.setprofile(lambda *a: None)\nsys.setprofile(None)"), path)
    done = run_cli("--course", str(released_course.root), "grade", str(path), "--json")
    report = json.loads(done.stdout)
    assert any("installed a profile function" in line for line in report["tamper"]), report
    assert report["score"] == report["max_score"]


def test_grade_json_of_the_blank_release_scores_zero(released_course, tmp_path):
    """Does the untouched release score 0, with exit code 0 (it graded)?"""
    done = run_cli("--course", str(released_course.root), "grade", str(released_course.release_notebook()), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["score"] == 0
    assert {q["status"] for q in report["questions"]} <= {"missing", "failed"}


@pytest.mark.parametrize("content", [b"{not json", b"", b"[1, 2, 3]", b"\x00\xff\xfe garbage"],
                         ids=["truncated-json", "empty-file", "json-list", "binary"])
def test_grade_of_an_unreadable_file_exits_2_with_one_line(released_course, tmp_path, capsys, content):
    """Does a file that is not a notebook exit 2 with a one-line error and nothing on stdout?"""
    path = tmp_path / "broken.ipynb"
    path.write_bytes(content)
    code = main(["--course", str(released_course.root), "grade", str(path), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1 and "error" in captured.err


def test_grade_of_a_missing_file_exits_2(released_course, capsys, tmp_path):
    """Does a path that does not exist exit 2 with a one-line error?"""
    assert main(["--course", str(released_course.root), "grade", str(tmp_path / "nope.ipynb")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_grade_outside_a_course_directory_exits_2(tmp_path, capsys, solved_nb):
    """Does pointing --course at a folder without nbgrader_config.py fail clearly?"""
    path = tmp_path / "derivatives.ipynb"
    nbformat.write(solved_nb, path)
    assert main(["--course", str(tmp_path), "grade", str(path)]) == 2
    assert "not a course directory" in capsys.readouterr().err


def test_check_passes_a_correct_notebook_and_fails_a_wrong_one(released_course, solved_nb, tmp_path):
    """Does `grader check` print a per-question table and exit non-zero only when a visible test fails?"""
    from sample import with_answers, wrong_for

    good, bad = tmp_path / "good.ipynb", tmp_path / "bad.ipynb"
    nbformat.write(solved_nb, good)
    nbformat.write(with_answers(solved_nb, {"grad_at": "def grad_at(f, x0):\n    return torch.tensor(0.0)\n"}), bad)
    ok = run_cli("--course", str(released_course.root), "check", str(good))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert all(q.id in ok.stdout for q in AUTOGRADED)
    failing = run_cli("--course", str(released_course.root), "check", str(bad))
    assert failing.returncode == 1
    assert "grad_at" in failing.stdout and "FAIL" in failing.stdout
    assert wrong_for("grad_at")  # the bank has targeted answers for this question too


def test_help_lists_every_command_the_readme_uses():
    """Do the README's `grader ...` commands all exist in the CLI's --help?"""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    used = set(re.findall(r"^grader (\w+)", readme, flags=re.M))
    done = run_cli("--help")
    assert used, "the README shows no grader commands"
    for command in used:
        assert command in done.stdout, f"README uses `grader {command}` but --help does not list it"


def test_autograde_runs_the_jobs_asked_for_and_refuses_zero(course, solved_nb, monkeypatch, capsys):
    """Does `--jobs N` reach the batch (one judge here), and `--jobs 0` exit 2 with one line?"""
    write_submission(course.root, "alice", solved_nb)
    asked = []
    real = grader.judge.batch.grade_in_parallel
    monkeypatch.setattr(grader.judge.batch, "grade_in_parallel",
                        lambda course, students, jobs, **kw: asked.append(jobs) or real(course, students, jobs, **kw))
    assert main(["--course", str(course.root), "autograde", "derivatives", "--jobs", "1"]) == 0
    assert asked == [1] and "alice" in capsys.readouterr().out
    assert main(["--course", str(course.root), "autograde", "derivatives", "--jobs", "0"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "grader autograde: error: --jobs must be at least 1"


def test_check_explains_why_the_tutorials_sq_fails(released_course, solved_nb, tmp_path):
    """Does `grader check` fail the tutorial's SQ (backward ignores grad_output) and say so?"""
    from sample import TUTORIAL_SQ, with_answers

    path = tmp_path / "tutorial.ipynb"
    nbformat.write(with_answers(solved_nb, {"SQ": TUTORIAL_SQ}), path)
    done = run_cli("--course", str(released_course.root), "check", str(path))
    assert done.returncode == 1
    [row] = [line for line in done.stdout.splitlines() if line.startswith("SQ ")]
    assert "FAIL" in row and "ignores grad_output" in row


def test_the_grade_table_cuts_a_long_headline_where_it_says_so():
    """Does `grader grade`'s table show a question's headline whole when it fits, and cut a longer one
    with an ellipsis (the whole message is in --json), never silently?"""
    from grader.judge.results import QuestionResult, SubmissionResult
    from grader.report.tables import question_table

    short, long = "grad_at returned 3.0; expected 6.0.", "SQ: " + "the gradient is off " * 20
    questions = [QuestionResult("grad_at", 0, 2, "failed", [short + "\ndetails"]),
                 QuestionResult("SQ", 0, 3, "failed", [long])]
    table = question_table(SubmissionResult("ada", "derivatives.ipynb", "graded", questions))
    rows = table.splitlines()[1:3]
    assert rows[0].endswith(short) and "details" not in table
    assert rows[1].endswith("…") and long[:159] in rows[1] and long not in rows[1]


def test_lateness_reads_in_the_unit_a_person_would_use():
    """Does a submission a few seconds late read as seconds (not 0.00 h beside a full penalty), and
    longer ones as minutes, hours and days?"""
    from grader.report.tables import how_late

    assert [how_late(s) for s in (0.2, 8.8, 59, 754, 3 * 3600 + 900, 5 * 86400)] == \
        ["0.2 s", "9 s", "59 s", "13 min", "3.2 h", "5.0 days"]


def test_autograde_of_a_student_with_no_submission_exits_2_and_records_no_one(course, solved_nb, capsys):
    """Does `grader autograde --student` with a mistyped id stop with one line before grading, instead
    of recording a student who handed in nothing (who would then reach the LMS files)?"""
    from nbgrader.api import Gradebook

    write_submission(course.root, "alice", solved_nb)
    assert main(["--course", str(course.root), "autograde", "derivatives", "--student", "alicee"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("grader autograde: error: no submission of derivatives for alicee under submitted/"), error
    assert not (course.root / "autograded" / "alicee").exists()
    with Gradebook(course.db_url, course.course_id) as gb:
        assert "alicee" not in {s.id for s in gb.students}


@pytest.mark.parametrize("command", ["export", "feedback"])
def test_a_command_that_reads_grades_stops_without_a_gradebook_and_writes_nothing(course, capsys, command):
    """Do `grader export` and `grader feedback` stop with one line when the gradebook is gone, rather
    than create an empty one and write grade files without a row (or crash)?"""
    (course.root / "gradebook.db").unlink()
    assert main(["--course", str(course.root), command, "derivatives"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"grader {command}: error: no gradebook at {course.root / 'gradebook.db'}: "), error
    assert not (course.root / "gradebook.db").exists()
    assert not (course.root / "exports").exists() and not (course.root / "feedback").exists()


def test_check_piped_into_a_reader_that_stops_prints_no_traceback(released_course, tmp_path):
    """Does `grader check NB | head -1` end quietly (exit 1, no BrokenPipeError traceback) when the
    reader stops before the table is written?"""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has already gone
    try:
        done = subprocess.run([sys.executable, "-m", "grader", "--course", str(released_course.root), "check",
                               str(released_course.release_notebook())],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(write_end)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr


@pytest.mark.slow(12)
def test_a_cell_runs_as_long_as_the_course_tells_nbgrader_and_one_past_it_is_named(course, solved_nb, tmp_path):
    """Does a cell get the course's own time limit (`c.ExecutePreprocessor.timeout`, as nbgrader's
    Execute reads it), and does an answer cell that runs past it say so, rather than that it stopped
    before its answer was defined?"""
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text() + "\nc.ExecutePreprocessor.timeout = 4\n")
    slow = "\nimport time\ntime.sleep({})\n"
    solved_nb = copy.deepcopy(solved_nb)  # the session's notebook, shared with other tests
    answer = next(c for c in solved_nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "grad_at")
    verdicts = {}
    for seconds in (0.5, 6):
        answer.source = answer.source.split("\nimport time")[0] + slow.format(seconds)
        path = tmp_path / f"slow-{seconds}.ipynb"
        nbformat.write(solved_nb, path)
        done = run_cli("--course", str(course.root), "grade", str(path), "--json")
        assert done.returncode == 0, done.stderr
        verdicts[seconds] = next(q for q in json.loads(done.stdout)["questions"] if q["id"] == "grad_at")
    assert course.cell_timeout == 4.0
    assert verdicts[0.5]["status"] == "passed", verdicts[0.5]
    message = verdicts[6]["messages"][0]
    assert verdicts[6]["score"] == 0 and "ran past its time limit of 4 s" in message, message
    assert "stopped before" not in message and "scratch cell of its own" in message


@pytest.mark.slow(16)
def test_slow_scratch_cells_are_stopped_at_the_kits_limit_so_the_answers_after_them_run(course, solved_nb, tmp_path,
                                                                                        monkeypatch):
    """Does a scratch cell get at most the kit's own limit while an answer cell gets the course's,
    so that slow scratch cells before the answers cannot use up the time the answers need?"""
    import grader.worker.session
    from grader.judge.grader import Grader

    monkeypatch.setattr(grader.worker.session, "CELL_TIMEOUT", 3.0)  # room for the import cell on a busy machine
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text() + "\nc.ExecutePreprocessor.timeout = 9\n")
    solved_nb = copy.deepcopy(solved_nb)  # the session's notebook, shared with other tests
    answer = next(c for c in solved_nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "grad_at")
    answer.source += "\nimport time\ntime.sleep(4)\n"  # past the kit's limit, within the course's
    nb = solved_nb
    for _ in range(3):
        nb = with_extra_cell(nb, "import time\ntime.sleep(30)\n", after="imports")
    path = tmp_path / "slow-scratch.ipynb"
    nbformat.write(nb, path)
    with Grader(Course.at(course.root)) as judge:
        result = judge.grade_notebook(path)
    assert result.score == sum(q.points for q in AUTOGRADED), [(q.id, q.messages[:1]) for q in result.questions]
    assert sum("ran past its time limit" in note for note in result.notes) == 3, result.notes


@pytest.mark.parametrize("setting, limit", [
    ("c.ExecutePreprocessor.timeout = 7", 7.0),
    ("c.Execute.timeout = 5", 5.0),  # nbgrader's Execute reads its own section first
    ("c.ExecutePreprocessor.timeout = 3 * 4", 12.0),  # not a number written out: the config is loaded
    ("c.ExecutePreprocessor.timeout = None", None),
    ("c.ExecutePreprocessor.timeout = -1", None),
], ids=["inherited", "own_section", "computed", "none", "no_limit"])
def test_the_cell_limit_is_the_one_nbgrader_reads_from_the_course_config(course, setting, limit):
    """Is the limit read from the course config's statements what loading the config gives?"""
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text() + f"\n{setting}\n")
    fresh = Course.at(course.root)
    loaded = fresh.coursedir.config
    section = next(s for s in ("Execute", "ExecutePreprocessor") if s in loaded and "timeout" in loaded[s])
    value = loaded[section]["timeout"]
    assert fresh.cell_timeout == limit == (float(value) if value is not None and value > 0 else None)
