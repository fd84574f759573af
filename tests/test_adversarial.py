"""The adversarial corpus run through the trusted path: attacks gain nothing, honest faults cost nothing."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from attacks import (
    ATTACKS,
    DESERIALISATION,
    FAULTS,
    READING,
    Attack,
    attack,
    baseline,
    build,
    build_fault,
)
from nbgrader.api import Gradebook
from sample import (
    AUTOGRADED,
    CORRECT,
    WRONG,
    run_question,
    solved,
    with_answers,
    with_extra_cell,
    write_submission,
    wrong_for,
)

from grader.course import Course
from grader.judge.batch import autograde
from grader.judge.grader import Grader
from grader.judge.results import REVIEW_MESSAGE, REVIEW_NOTE
from grader.judge.submission import judge_notebook
from grader.record.notebook import autograded_notebook
from grader.runtime.subject import ProbeFailed, ProbeSubject
from grader.worker.session import WorkerSession

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only"),
    pytest.mark.duration(0.8),  # each grades attack notebooks
]

FULL_MARKS = sum(q.points for q in AUTOGRADED)
# For attacks that hang: short timeouts for the hanging cell or probe, and a budget that leaves
# the rest of the notebook room to run even when other processes share the cores.
QUICK = {"cell_timeout": 2.0, "probe_timeout": 2.0, "budget": 15.0}
OUTPUT_CAP = 20_000 + 200  # Limits.output_cap plus the truncation note
SITE_DROPS = ("zz-evil.pth", "sitecustomize.py")


def _ids(items) -> list[str]:
    return [item.name for item in items]


# ---------------------------------------------------------------- grading helpers


@pytest.fixture(scope="module")
def judge(grader, tmp_path_factory):
    """Grade notebook bytes through judge_notebook (a judge-side exception fails the test)."""
    folder = tmp_path_factory.mktemp("adversarial")

    def grade(data: bytes, *, quick: bool = False, student: str = "student"):
        path = folder / "derivatives.ipynb"
        path.write_bytes(data)
        sessions: list[WorkerSession] = []

        def session():
            sessions.append(WorkerSession(grader.parent, **(QUICK if quick else {})))
            return sessions[-1]

        try:
            return judge_notebook(path, student, grader.plan, session)
        finally:  # as Grader does: the verdict is only released once its workers are dead
            for done in sessions:
                done.close()
                grader.parent.confirm_dead(done.killed)

    return grade


@pytest.fixture(scope="module")
def graded(judge, release_nb, released_course):
    """Each attack graded once per module and kept (fresh=True grades it again)."""
    cache: dict[str, tuple[bytes, object]] = {}

    def result_of(item: Attack, *, fresh: bool = False):
        if fresh or item.name not in cache:
            data, _ = build(item, release_nb, released_course.root)
            cache[item.name] = data, judge(data, quick=item.hangs)
        return cache[item.name][1]

    result_of.cached = cache.get  # (the bytes graded, the result) of an attack graded already
    return result_of


@pytest.fixture(scope="module")
def baseline_of(judge, release_nb):
    """The score of the submission without the attack (its target answer WRONG), per target."""
    cache: dict[str | None, object] = {}

    def result_of(item: Attack):
        if item.target not in cache:
            cache[item.target] = judge(baseline(item, release_nb))
        return cache[item.target]

    return result_of


def _statuses(result) -> dict[str, str]:
    return {q.id: q.status for q in result.questions}


def _texts(result) -> list[str]:
    """Everything a student or TA is shown about a graded notebook."""
    return ([c.output for c in result.cells] + [c.error or "" for c in result.cells]
            + [m for q in result.questions for m in q.messages] + result.notes + result.tamper)


def _attack_output(result, index: int) -> str:
    return next(c.output for c in result.cells if c.index == index)


def _course_state(course: Course) -> dict[str, tuple[int, int]]:
    """Every file under the course root with its size and mtime, and the gradebook's hash."""
    state = {str(p.relative_to(course.root)): (p.stat().st_size, p.stat().st_mtime_ns)
             for p in course.root.rglob("*") if p.is_file()}
    state["gradebook sha256"] = hashlib.sha256((course.root / "gradebook.db").read_bytes()).hexdigest()
    return state


def _site_packages() -> list[Path]:
    import site
    import sysconfig

    return [Path(p) for p in {*site.getsitepackages(), site.getusersitepackages(),
                              sysconfig.get_paths()["purelib"]}]


# ---------------------------------------------------------------- 1. attacks gain nothing


@pytest.mark.parametrize("item", ATTACKS, ids=_ids(ATTACKS))
def test_attack_scores_no_more_than_the_wrong_answer(item, graded, baseline_of, released_course):
    """Does the attack score at most what its submission scores without it (target answer wrong),
    with the target lost, the submission graded, and the course folder untouched?"""
    before = _course_state(released_course)
    result = graded(item, fresh=True)
    assert result.status == ("review" if item.review else "graded"), (result.notes, result.review)
    assert result.score <= baseline_of(item).score, _statuses(result)
    if item.target:
        assert _statuses(result)[item.target] != "passed", result.questions
    assert result.max_score == FULL_MARKS
    assert _course_state(released_course) == before, "the attack changed the course folder"
    assert not any((folder / name).exists() for folder in _site_packages() for name in SITE_DROPS)


READERS = [a for a in ATTACKS if a.reads]


@pytest.mark.parametrize("item", READERS, ids=_ids(READERS))
def test_reading_attack_learns_nothing(item, graded, released_course, release_nb):
    """Does every read of solutions, tests, the secret or the judge fail, and does nothing hidden
    reach what the student is shown?"""
    result = graded(item)
    _, index = build(item, release_nb, released_course.root)
    shown = "\n".join(_texts(result))
    assert "READ-FAILED" in _attack_output(result, index)
    assert "READ-OK" not in shown
    assert released_course.secret().decode() not in shown
    assert "BEGIN HIDDEN TESTS" not in shown and "check_hidden(" not in shown


def test_probe_time_snooping_finds_no_expected_values(graded):
    """Does an answer that searches its callers' frames and gc for expected values come back empty
    (it would return what it found; it returns None, so nothing was there)?"""
    result = graded(attack("caller_frames_and_gc_during_probe"))
    (grad_at,) = [q for q in result.questions if q.id == "grad_at"]
    assert "returned None" in grad_at.messages[0]


def test_reduce_payload_is_never_unpickled(graded, released_course):
    """Is an answer with a __reduce__ that would run a command only described, never loaded?"""
    result = graded(attack("reduce_payload_answer"))
    assert not (released_course.root / "PWNED").exists()
    assert any("Payload object" in m for q in result.questions for m in q.messages)


def test_writes_outside_the_worker_fail(graded, released_course, release_nb):
    """Do the gradebook UPDATE and the site-packages drops fail in the worker, and does nothing
    land in the real autograded/ or site-packages?"""
    for name in ("sqlite_update_gradebook", "drop_pth_and_sitecustomize", "libc_writes_outside_the_folder"):
        _, index = build(attack(name), release_nb, released_course.root)
        output = _attack_output(graded(attack(name)), index)
        assert "WRITE-FAILED" in output and "WRITE-OK" not in output, output
    graded(attack("write_into_autograded"))  # its course path may exist in the worker's own /tmp
    assert not (released_course.root / "autograded" / "student").exists()
    assert not any((folder / name).exists() for folder in _site_packages() for name in SITE_DROPS)


def test_nothing_is_left_for_the_next_student(graded, judge, release_nb):
    """Is a file left in /tmp or the working directory gone for the next notebook graded?"""
    graded(attack("leave_file_in_tmp"))
    reader = ("import os\nfor path in ('/tmp/for-the-next-student', 'leftover.txt', '/tmp/seen-inputs'):\n"
              "    print('READ-OK' if os.path.exists(path) else 'READ-FAILED', path)\n")
    result = judge(nbformat.writes(with_extra_cell(solved(release_nb), reader, after="imports")).encode())
    assert "READ-OK" not in _attack_output(result, 1) and "READ-FAILED" in _attack_output(result, 1)
    assert result.score == FULL_MARKS
    assert not Path("/tmp/for-the-next-student").exists()


def test_flooding_stays_within_the_output_cap(graded, release_nb):
    """Are 30 MB lines, raw fd writes and huge errors cut to the cap in results and autograded notebooks?"""
    for name in ("one_30mb_line", "flood_from_answer", "raw_fd_flood", "huge_error_message"):
        result = graded(attack(name))
        assert all(len(c.output) <= OUTPUT_CAP and len(c.error or "") <= 500 for c in result.cells), name
        assert all(len(m) <= 5000 for q in result.questions for m in q.messages), name
        written = nbformat.writes(autograded_notebook(release_nb, result))
        assert len(written) < 1_000_000, f"{name}: autograded notebook of {len(written)} bytes"


def test_symlinked_submissions_are_not_graded(course, release_nb):
    """Is a submission that links to the source notebook, or to a classmate's, refused instead of
    graded as this student's work?"""
    write_submission(course.root, "alice", solved(release_nb))
    for student, target in (("mallory", "../../../source/derivatives/derivatives.ipynb"),
                            ("trudy", "../../alice/derivatives/derivatives.ipynb")):
        folder = course.submission_folder(student)
        folder.mkdir(parents=True)
        os.symlink(target, folder / "derivatives.ipynb")
    sneak = course.submitted_dir() / "eve"
    sneak.mkdir()
    os.symlink(course.submission_folder("alice"), sneak / "derivatives")
    with Grader(course) as own:
        results = {s: own.grade_student(s) for s in ("alice", "mallory", "trudy", "eve")}
    assert results["alice"].score == FULL_MARKS
    for student in ("mallory", "trudy", "eve"):
        assert results[student].score == 0 and results[student].status == "unreadable"
        why = [note for note in results[student].notes if note != results[student].timestamp_note]
        assert "links to a file outside" in why[-1]


def test_course_under_a_bound_directory_stays_hidden(released_course, release_nb):
    """With the course kept under /usr (bound read-only into every worker), can a cell still not
    read its source notebook or gradebook?"""
    parent_dir = Path("/usr/local/share")
    if os.geteuid() != 0 or not os.access(parent_dir, os.W_OK):
        pytest.skip("needs root to place a course under /usr/local/share")
    base = Path(tempfile.mkdtemp(prefix="grader-adversarial-", dir=parent_dir))
    try:
        base.chmod(0o755)
        shutil.copytree(released_course.root, base / "course")
        course = Course.at(base / "course")
        reader = ("for name in ('source/derivatives/derivatives.ipynb', 'gradebook.db', 'release'):\n"
                  f"    path = {str(course.root)!r} + '/' + name\n"
                  "    try:\n        open(path, 'rb').read(10)\n        print('READ-OK', path)\n"
                  "    except Exception as exc:\n        print('READ-FAILED', path, type(exc).__name__)\n")
        path = base / "derivatives.ipynb"
        nbformat.write(with_extra_cell(solved(release_nb), reader, after="imports"), path)
        with Grader(course) as own:
            result = own.grade_notebook(path)
        assert "READ-OK" not in _attack_output(result, 1)
        assert _attack_output(result, 1).count("READ-FAILED") == 3
    finally:
        shutil.rmtree(base)


def test_oversized_notebooks_are_refused_quickly(judge, release_nb):
    """Are a notebook over the 20 MB cap and one with 600 cells refused at intake, fast and scored 0?"""
    nb = json.loads(nbformat.writes(solved(release_nb)))
    too_big = dict(nb, cells=nb["cells"] + [{"cell_type": "raw", "metadata": {}, "source": "x" * 21 * 2**20}])
    too_many = dict(nb, cells=nb["cells"] + [{"cell_type": "code", "metadata": {}, "outputs": [],
                                              "execution_count": None, "source": "x = 1"}] * 600)
    for data in (json.dumps(too_big).encode(), json.dumps(too_many).encode()):
        started = time.monotonic()
        result = judge(data)
        assert result.status == "unreadable" and result.score == 0, result.notes
        assert time.monotonic() - started < 5


# ---------------------------------------------------------------- 2. honest faults cost nothing


@pytest.mark.parametrize("fault", FAULTS, ids=_ids(FAULTS))
def test_honest_fault_keeps_full_marks(fault, judge, release_nb):
    """Does a correct notebook with this honest fault keep every point it does not affect?"""
    result = judge(build_fault(fault, release_nb), quick=fault.hangs)
    lost = {q.id: (q.status, q.messages[:1]) for q in result.questions
            if q.status != "passed" and q.id not in fault.affects}
    assert not lost, lost
    if not fault.affects:
        assert result.score == FULL_MARKS
    assert result.status == "graded" and result.review == [], result.review
    assert not any("deleted or relabelled" in note for note in result.notes), result.notes
    if not fault.witnessed:
        assert result.tamper == [], "an honest fault is not tampering"
    else:  # what the cell did is evidence (os._exit, say); that it died or hung is a note
        assert any("skipped" in note or "time" in note for note in result.notes), result.notes
        assert not any("skipped" in item for item in result.tamper), result.tamper


def test_honest_acts_are_notes_not_tamper(judge, release_nb):
    """Are a scratch cell that hangs, tempfile.gettempdir() and an answer style built with eval
    recorded as notes for the TA, never as tamper evidence, and do they cost nothing?"""
    evaluated = next(a for a in CORRECT if "eval(" in a.source)
    nb = with_answers(solved(release_nb), {evaluated.question: evaluated.source})
    nb = with_extra_cell(nb, "import tempfile\nprint(tempfile.gettempdir())\n")
    nb = with_extra_cell(nb, "import time\nwhile True:\n    time.sleep(0.5)\n")
    result = judge(nbformat.writes(nb).encode(), quick=True)
    assert result.score == FULL_MARKS, result.questions
    assert result.tamper == [], result.tamper
    assert any("ran past its time limit" in note for note in result.notes), result.notes
    assert any("eval" in note for note in result.notes), result.notes


def test_right_to_left_comments_and_fullwidth_names_are_read_as_python_reads_them(judge, release_nb):
    """Does an answer commented in Arabic and Hebrew with ordinary direction marks (U+200E, U+200F,
    U+061C), and one whose names are written in fullwidth letters (which Python reads as ASCII
    after NFKC), keep full marks with no tamper evidence, while reaching IPython's hooks through
    a fullwidth name is still found?"""
    from grader.intake.tamper import scan_cell

    arabic = ('def grad_at(f, x0):\n'
              '    # \u0627\u0644\u0645\u0634\u062a\u0642\u0629 \u200fx0\u200e \u061c\u0639\u0646\u062f\n'
              '    x = torch.tensor(float(x0), requires_grad=True)  # \u05e0\u05e7\u05d5\u05d3\u05d4 \u200f(x0)\u200f\n'
              '    label = "\u200f\u05e9\u05d9\u05e4\u05d5\u05e2\u200e"\n'
              '    f(x).backward()\n'
              '    return x.grad\n')
    fullwidth = ('def \uff47rad_at(f, x0):\n'
                 '    \uff58 = torch.tensor(float(x0), requires_grad=True)\n'
                 '    f(\uff58).backward()\n'
                 '    return x.grad\n')
    for source in (arabic, fullwidth):
        result = judge(nbformat.writes(with_answers(solved(release_nb), {"grad_at": source})).encode())
        assert result.score == FULL_MARKS, result.questions
        assert result.status == "graded" and result.review == [] and result.tamper == [], (result.review, result.tamper)
    assert scan_cell('\uff47et_ipython().input_transformers_cleanup.append(f)\n')
    assert scan_cell('exec("\uff47et_ipython().events.register(1, 2)")\n')
    assert scan_cell("x = 1  # \u202e\u2066 reordered \u2069\n")


def test_honest_notebook_has_no_tamper_evidence(judge, release_nb):
    """Is a plain correct notebook (which prints tensors, importing torch internals lazily) free
    of tamper evidence and structure notes?"""
    result = judge(nbformat.writes(solved(release_nb)).encode())
    assert result.score == FULL_MARKS
    assert result.tamper == [] and result.notes == []


_FORKS_AND_REAPS = """import ctypes


def grad_at(f, x0):
    libc = ctypes.CDLL(None)
    child = libc.fork()  # through libc: no audit event, and reaped before anyone looks
    if child == 0:
        libc._exit(0)
    libc.waitpid(child, None, 0)
    x = torch.tensor(float(x0), requires_grad=True)
    f(x).backward()
    return x.grad
"""


def test_a_process_that_came_and_went_during_a_check_is_counted(judge, release_nb, grader):
    """Is a process that an answer starts and reaps within one call counted from outside, named
    with the check it happened in, and does the verdict go to review (while the checks run, a
    process could answer in the loop's place)?"""
    if grader.parent.mode != "root":
        pytest.skip("only a root warm parent places the pid counter")
    result = judge(nbformat.writes(with_answers(solved(release_nb), {"grad_at": _FORKS_AND_REAPS})).encode())
    assert result.status == "review", result.review
    assert any(re.match(r"during the grad_at check: started \d+ process(es)? or threads? that ended before the judge "
                        r"looked", line) for line in result.tamper), result.tamper
    assert any("a process or thread was started while the checks ran" in reason for reason in result.review)


WITHOUT_ROOT = ("loop_served_from_a_call", "loop_answered_by_a_fork", "probes_patched_and_restoring_themselves")


@pytest.mark.slow(30)
@pytest.mark.parametrize("mode", ["userns", "none"])
def test_the_loop_is_checked_without_root_too(mode, grader, release_nb, released_course, tmp_path):
    """With a warm parent that is not root's (no pid counter: user namespaces, or no namespaces at
    all), is a correct notebook still graded in full, and does a loop served from a call, a
    forked twin or a patch put back still give a review?"""
    from grader.worker.client import WarmParent

    with WarmParent(mode=mode, course_root=released_course.root,
                    functions=grader.plan.assignment.vocabulary_path) as parent:
        def grade(data: bytes):
            path = tmp_path / "derivatives.ipynb"
            path.write_bytes(data)
            sessions: list[WorkerSession] = []

            def session():
                sessions.append(WorkerSession(parent))
                return sessions[-1]

            try:
                return judge_notebook(path, "student", grader.plan, session)
            finally:
                for done in sessions:
                    done.close()
                    parent.confirm_dead(done.killed)

        honest = grade(nbformat.writes(solved(release_nb)).encode())
        assert honest.status == "graded" and honest.score == FULL_MARKS, (honest.review, honest.questions)
        assert "pid counter" not in parent.containment["pid_namespace"]
        for name in WITHOUT_ROOT:
            result = grade(build(attack(name), release_nb, released_course.root)[0])
            assert result.status == "review" and result.score == 0, (name, result.review)


def test_the_containment_report_names_the_pid_counter(grader):
    """Does the containment a worker reports say that a pid counter counts what starts in its
    namespace, where a root warm parent placed one?"""
    if grader.parent.mode != "root":
        pytest.skip("only a root warm parent places the pid counter")
    assert "a pid counter placed there" in grader.parent.containment["pid_namespace"]


def test_what_the_kit_put_in_tmp_is_not_the_students(tmp_path):
    """When the venv or the course sits under /tmp (a CI checkout), the worker's /tmp holds the
    skeleton of its bind mounts: is that left out of the looks from outside, while a file the
    student leaves there is listed?"""
    from grader.worker.outside import OutsideView

    kit, student = f"0000-kit-{tmp_path.name}", f"0001-student-{tmp_path.name}"  # listed first
    view = OutsideView(None, {"tmp_entries": [kit, "work"]})
    view.worker = os.getpid()  # a stand-in whose /proc/<pid>/root/tmp is this machine's /tmp
    view.hello = {"containment": {"filesystem": "private read-only root"}}
    made = [Path("/tmp") / kit, Path("/tmp") / student]
    for path in made:
        path.write_text("x")
    try:
        listed = view.files_outside()
    finally:
        for path in made:
            path.unlink()
    assert not any(f"/tmp/{kit} " in line for line in listed), listed
    assert any(f"/tmp/{student} " in line for line in listed), listed


def _bank_notebooks(answers, release_nb) -> list[bytes]:
    """The bank's styles, the k-th style of every question in the k-th notebook."""
    by_question: dict[str, list] = {}
    for item in answers:
        by_question.setdefault(item.question, []).append(item)
    rounds = max(len(styles) for styles in by_question.values())
    return [nbformat.writes(with_answers(solved(release_nb), {qid: styles[k].source for qid, styles
                                                                in by_question.items() if k < len(styles)})).encode()
            for k in range(rounds)]


@pytest.mark.parametrize("bank", ["CORRECT", "WRONG"])
def test_no_bank_style_is_sent_for_review(bank, judge, release_nb):
    """Is every honest style of the banks, right or wrong, graded through the worker without a
    review (the judge's parse and its look from outside find nothing to hold against it)?"""
    for data in _bank_notebooks(CORRECT if bank == "CORRECT" else WRONG, release_nb):
        result = judge(data)
        assert result.status == "graded" and result.review == [], result.review
        if bank == "CORRECT":
            assert result.score == FULL_MARKS, [(q.id, q.messages[:1]) for q in result.questions if q.status != "passed"]


REVIEWERS = [a for a in ATTACKS if a.review]


@pytest.mark.parametrize("item", REVIEWERS, ids=_ids(REVIEWERS))
def test_changed_machinery_withholds_the_score(item, graded):
    """Does a notebook that changes the worker's grading machinery get the status review, every
    autograded score withheld (0), a note for the TA saying why, and a message for the student
    that names no part of the grader?"""
    result = graded(item)
    assert result.status == "review" and result.score == 0, result.questions
    assert result.review and result.notes[0] == REVIEW_NOTE, result.review
    assert all(q.messages[0] == REVIEW_MESSAGE for q in result.questions)
    assert "grader" not in REVIEW_MESSAGE
    document = result.to_json()
    assert document["status"] == "review" and document["review"] == result.review


def test_a_review_reaches_every_table_export_and_report(course, release_nb):
    """Does a notebook sent to review show as review, with 0 points and the reason, in the
    autograde summary, `grader grade`'s table, grading.json, grades.csv, the class report's
    flagged list and the student's feedback, while a classmate keeps full marks?"""
    import csv

    from grader.report.class_report import gather_report
    from grader.report.export import export_grades, read_status
    from grader.report.feedback import generate_feedback
    from grader.report.tables import class_table, question_table

    write_submission(course.root, "alice", solved(release_nb))
    write_submission(course.root, "mallory", build(attack("rewrite_worker_probe_code"), release_nb, course.root)[0])
    results = {r.student: r for r in autograde(course, jobs=1, show_progress=False)}
    assert results["alice"].status == "graded" and results["alice"].score == FULL_MARKS
    assert results["mallory"].status == "review" and results["mallory"].score == 0
    summary = class_table(list(results.values()))
    assert any(line.startswith("mallory") and " review " in line and REVIEW_NOTE[:40] in line
               for line in summary.splitlines()), summary
    assert "(review;" in question_table(results["mallory"])
    record = read_status(course, "mallory")
    assert record["status"] == "review" and record["review"] == results["mallory"].review
    with open(export_grades(course).grades) as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert rows["mallory"]["status"] == "review" and float(rows["mallory"]["autograded"]) == 0
    assert rows["alice"]["status"] == "graded"
    flagged = {s.student: s.reasons for s in gather_report(course.root, "derivatives").needs_help}
    assert any(r.kind == "flagged for review" and r.detail.startswith("review:") for r in flagged["mallory"])
    assert "alice" not in flagged
    (feedback,) = generate_feedback(course, ["mallory"])
    assert REVIEW_MESSAGE in feedback.read_text()


# ---------------------------------------------------------------- 3. a batch with an attacker


BATCH_ATTACKERS = ("detached_double_fork_edits_gradebook", "sqlite_update_gradebook",
                   "write_into_autograded", "bogus_metadata_types", "points_set_to_100",
                   "one_30mb_line", "reduce_payload_answer", "popen_new_session",
                   "os_exit_at_top_level")


def _gradebook_scores(course: Course) -> dict[str, float]:
    with Gradebook(course.db_url, course.course_id) as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(course.assignment)}


def _gradebook_grades(course: Course, students) -> dict[tuple[str, str], float | None]:
    with Gradebook(course.db_url, course.course_id) as gb:
        return {(student, f"test_{q.id}"): gb.find_grade(f"test_{q.id}", course.notebook,
                                                         course.assignment, student).auto_score
                for student in students for q in AUTOGRADED}


@pytest.mark.slow(16)
def test_batch_with_attackers_leaves_classmates_and_gradebook_intact(course, release_nb):
    """Do attackers in a parallel batch leave their classmates' verdicts and gradebook rows exactly
    as in a batch without them, and is the gradebook untouched after autograde returns?"""
    reference = solved(release_nb)
    classmates = {
        "alice": reference,
        "bob": with_answers(reference, {"SQ": wrong_for("SQ")[0].source}),
        "carol": release_nb,
    }
    for student, nb in classmates.items():
        write_submission(course.root, student, nb)
    alone = {r.student: r.to_json() for r in autograde(course, jobs=1, show_progress=False)}
    alone_grades = _gradebook_grades(course, classmates)

    attackers = {name.replace("_", "-"): attack(name) for name in BATCH_ATTACKERS}
    for student, item in attackers.items():
        write_submission(course.root, student, build(item, release_nb, course.root)[0])
    linked = write_submission(course.root, "mallory", b"{}")  # a link to the solutions instead
    linked.unlink()
    os.symlink(course.source_notebook(), linked)
    results = {r.student: r for r in autograde(course, jobs=2, show_progress=False)}
    returned = time.monotonic()

    assert {s: results[s].to_json() for s in classmates} == alone
    assert _gradebook_grades(course, classmates) == alone_grades
    for student, item in attackers.items():
        assert results[student].status == ("review" if item.review else "graded"), results[student].notes
        target = next(q for q in results[student].questions if q.id == item.target)
        assert target.status != "passed" and target.score < target.max_score, target
    assert results["mallory"].score == 0
    points = {f"test_{q.id}": q.points for q in AUTOGRADED}
    given = _gradebook_grades(course, [*attackers, "mallory"])
    assert all((score or 0) <= points[grade_id] for (_, grade_id), score in given.items()), given

    gradebook = course.root / "gradebook.db"
    stamp, scores = gradebook.stat().st_mtime_ns, _gradebook_scores(course)
    time.sleep(max(0.0, 2.5 - (time.monotonic() - returned)))  # the grandchild acts after 1.5 s
    assert gradebook.stat().st_mtime_ns == stamp
    assert _gradebook_scores(course) == scores
    assert scores["alice"] == FULL_MARKS and scores["carol"] == 0
    assert not (course.root / "ESCAPED").exists() and not (course.root / "PWNED").exists()
    assert not list(course.root.glob("gradebook.db-*")), "a journal means someone is writing"


# ---------------------------------------------------------------- 4. malformed worker replies


def _tensor(shape, data="AACAQA==", dtype="float32") -> dict:
    return {"kind": "tensor", "dtype": dtype, "shape": shape, "data": data,
            "requires_grad": False, "is_leaf": True, "grad_fn": None}


def _nested(depth: int, kind: str) -> dict:
    value: dict = {"kind": "none"}
    for _ in range(depth):
        value = ({"kind": "seq", "type": "list", "items": [value]} if kind == "seq"
                 else {"kind": "dict", "items": [[{"kind": "str", "value": "k"}, value]]})
    return value


GARBAGE_REPLIES = {  # whole replies, in place of the envelope
    "list-reply": lambda: [1, 2, 3],
    "string-reply": lambda: "passed",
    "none-reply": lambda: None,
    "huge-int-reply": lambda: 10 ** 40,
    "error-not-a-string": lambda: {"error": {"nested": True}},
    "extra-fields": lambda: {"result": {"kind": "bool", "value": True}, "args_after": [], "grads_left": [],
                             "verdict": "passed"},
    "empty-dict": lambda: {},
}
GARBAGE_VALUES = {  # values inside a well-formed envelope
    "wrong-kind": lambda: {"kind": "pickle", "data": "gASVCAAAAAAAAACMBHBvc2l4lC4="},
    "kind-not-a-string": lambda: {"kind": 7},
    "nan-shape": lambda: _tensor([math.nan]),
    "negative-shape": lambda: _tensor([-1, -4]),
    "float-shape": lambda: _tensor([1.0]),
    "buffer-too-short": lambda: _tensor([3]),
    "buffer-too-long": lambda: _tensor([], data="AACAQAAAgEA="),
    "billion-elements": lambda: _tensor([10 ** 9]),
    "elements-by-product": lambda: _tensor([10 ** 6] * 8),
    "too-many-dims": lambda: _tensor([1] * 40, data="AACAQA=="),
    "zero-size-overflowing-shape": lambda: _tensor([0, 2 ** 62, 2 ** 62], data=""),
    "zero-size-wide-shape": lambda: _tensor([0] + [10 ** 6] * 7, data=""),
    "bad-base64": lambda: _tensor([1], data="!!!!"),
    "unknown-dtype": lambda: _tensor([1], dtype="complex128"),
    "requires-grad-not-bool": lambda: {**_tensor([1]), "requires_grad": "yes"},
    "deeply-nested-list": lambda: _nested(10_000, "seq"),
    "deeply-nested-dict": lambda: _nested(50, "dict"),
    "number-is-bool": lambda: {"kind": "number", "value": True},
    "number-too-big": lambda: {"kind": "number", "value": 10 ** 400},
    "nan-number": lambda: {"kind": "number", "value": math.nan},
    "huge-string": lambda: {"kind": "str", "value": "x" * 1_000_000},
    "unhashable-dict-key": lambda: {"kind": "dict", "items": [[{"kind": "seq", "type": "list", "items": []},
                                                               {"kind": "none"}]]},
    "million-items": lambda: {"kind": "seq", "type": "list", "items": [{"kind": "none"}] * 1_000_000},
    "figure-2d-line": lambda: {"kind": "figure", "axes": [{"xlabel": "x", "ylabel": "", "title": "",
                                                           "legend": None, "lines": [
                                                               {"label": "f", "x": _tensor([1, 1]),
                                                                "y": _tensor([1, 1])}]}]},
    "raised-not-a-string": lambda: {"kind": "raised", "type": 3, "message": None},
    "nan-tensor": lambda: _tensor([1], data="AADAfw=="),
}


class GarbageSubject(ProbeSubject):
    """A fake worker: names look defined, then every other reply is the given garbage."""

    def __init__(self, make, whole: bool):
        self.make, self.whole = make, whole
        self.asked: set[str] = set()

    def exchange(self, request: dict):
        if request["op"] == "get" and request["name"] not in self.asked:
            self.asked.add(request["name"])  # the presence check: say it is a function
            return {"result": {"kind": "other", "type": "function", "repr": request["name"]}}
        if self.whole:
            return self.make()
        value = self.make()
        return {
            "call": {"result": value, "args_after": [value], "grads_left": [False]},
            "get": {"result": value},
            "autograd_function": {"output": value, "grads": [value], "second": [value], "upstream_changed": False,
                                  "inputs_changed": [], "ctx": {"saved_tensors": 0, "saved": [], "attributes": {"k": value}}},
            "describe_class": {"is_autograd_function": True,
                               "staticmethods": {"forward": True, "backward": True, "setup_context": False}},
        }[request["op"]]


class RaisingSubject(ProbeSubject):
    """A fake worker whose exchange fails the way a broken channel might."""

    def __init__(self, exc: Exception):
        self.exc = exc

    def exchange(self, request: dict):
        raise self.exc


FAILING_EXCHANGES = {
    "probe-failed-odd-status": ProbeFailed("exploded", "odd"),
    "probe-failed-timeout": ProbeFailed("timeout", "no reply"),
    "runtime-error": RuntimeError("channel broke"),
    "recursion-error": RecursionError("deep"),
}


def _verdicts(subject_for) -> dict[str, tuple[str, list[str]]]:
    import random

    verdicts = {}
    for q in AUTOGRADED:
        verdict = run_question(q.id, subject_for(), random.Random(0))
        verdicts[q.id] = (verdict.status, verdict.messages)
    return verdicts


@pytest.mark.parametrize("name", [*GARBAGE_REPLIES, *GARBAGE_VALUES])
def test_malformed_reply_fails_without_crashing(name):
    """Does every check answer a malformed reply with failed or error, never an exception or a pass?"""
    whole = name in GARBAGE_REPLIES
    make = GARBAGE_REPLIES[name] if whole else GARBAGE_VALUES[name]
    verdicts = _verdicts(lambda: GarbageSubject(make, whole))
    passed = {qid: v for qid, v in verdicts.items() if v[0] not in ("failed", "error")}
    assert not passed, passed


@pytest.mark.parametrize("name", FAILING_EXCHANGES)
def test_failing_exchange_is_an_error_not_an_exception(name):
    """Does a channel that raises give every question an error or timeout verdict?"""
    verdicts = _verdicts(lambda: RaisingSubject(FAILING_EXCHANGES[name]))
    assert {status for status, _ in verdicts.values()} <= {"error", "timeout"}, verdicts


# ---------------------------------------------------------------- 5. nothing survives a job


WARM_PARENT = "grader.worker.warm_parent"  # also the command line of its forked inits and workers


def _leftovers(workers: dict[int, int], warm_parent: int, finished: float) -> list[str]:
    """Live processes with one of our workers' uids that belong to one of our workers.

    `workers` maps each worker's init pid to its uid. A process under our warm parent is ours
    when its init is one of our workers' (not the spare forked ahead); one under another warm
    parent belongs to another judge that leased the uid after us; one under no warm parent at
    all escaped, and is ours if it is older than our job's end.
    """
    found = []
    for proc in psutil.process_iter(["pid", "uids", "status", "create_time", "cmdline"]):
        info = proc.info
        if info["uids"] is None or info["uids"].real not in workers.values() \
                or info["status"] == psutil.STATUS_ZOMBIE:
            continue
        try:
            chain = [proc.pid] + [p.pid for p in proc.parents()]
            forks = [pid for pid in chain[1:] if WARM_PARENT in " ".join(psutil.Process(pid).cmdline())]
        except psutil.Error:
            continue  # it ended while we looked
        if warm_parent in chain:
            ours = chain[chain.index(warm_parent) - 1] in workers
        else:
            ours = not forks and info["create_time"] <= finished
        if ours:
            found.append(f"{info['pid']} uid {info['uids'].real}: {' '.join(info['cmdline'] or [])[:80]}")
    return found


DETACHERS = [a for a in ATTACKS if a.detaches]


@pytest.mark.parametrize("item", DETACHERS, ids=_ids(DETACHERS))
def test_no_process_survives_the_job(item, judge, grader, release_nb, released_course, monkeypatch):
    """After grading an attack that leaves detached children, is no process of its workers alive,
    even a couple of seconds later when the children meant to act?"""
    if grader.parent.mode != "root":
        pytest.skip("worker uids are only distinct from the judge's as root")
    workers: dict[int, int] = {}
    start_worker = grader.parent.start_worker

    def recording_start(*args, **kwargs):
        worker = start_worker(*args, **kwargs)
        workers[worker.pid] = worker.uid
        return worker

    monkeypatch.setattr(grader.parent, "start_worker", recording_start)
    data, _ = build(item, release_nb, released_course.root)
    judge(data, quick=item.hangs)
    finished = time.time()
    assert workers and min(workers.values()) >= grader.parent.limits.uid_base
    own = grader.parent._process.pid
    assert _leftovers(workers, own, finished) == []
    time.sleep(2.0)
    assert _leftovers(workers, own, finished) == []
    assert not (released_course.root / "ESCAPED").exists()


# ---------------------------------------------------------------- 6. regrades are identical

STEADY = [a for a in ATTACKS if not a.hangs]


@pytest.mark.parametrize("item", STEADY, ids=_ids(STEADY))
def test_regrade_is_identical(item, graded, judge, release_nb, released_course):
    """Does grading the same attack notebook (the same bytes) again give an identical verdict document
    (for an attack whose own thread or detached process races the judge's looks, which look sees it
    first varies: the same scores, status and review)?"""
    data, _ = build(item, release_nb, released_course.root)
    graded_bytes, first = graded.cached(item.name) or (None, None)
    if graded_bytes != data:  # not graded yet in this process, or built with other bytes this time
        first = judge(data)
    again = judge(data)
    if item.races or item.detaches:
        assert _verdict(first) == _verdict(again)
    else:
        assert first.to_json() == again.to_json()


def _verdict(result) -> tuple:
    """What a grade is made of, without the words of the evidence."""
    return result.status, [(q.id, q.score, q.status) for q in result.questions], bool(result.review)


def test_regrade_by_another_judge_is_identical(judge, released_course, release_nb, tmp_path):
    """Does a second judge process (another warm parent, other memory addresses) give the same
    messages for an answer whose default repr names an address?"""
    nb = with_answers(solved(release_nb), {"grad_at": "def grad_at(f, x0):\n    return object()\n"})
    data = nbformat.writes(nb).encode()
    path = tmp_path / "derivatives.ipynb"
    path.write_bytes(data)
    with Grader(released_course) as other:
        theirs = other.grade_notebook(path)
    ours = judge(data)
    assert ours.to_json() == theirs.to_json()
    assert not any(re.search(r"0x[0-9a-f]{6,}", m) for q in ours.questions for m in q.messages)


# ---------------------------------------------------------------- 7. tamper evidence

WITNESSED = [a for a in ATTACKS if a.evidence or a.notes]


@pytest.mark.parametrize("item", WITNESSED, ids=_ids(WITNESSED))
def test_attack_is_named_with_its_cell(item, graded, release_nb, released_course):
    """Does the result's tamper list name what the attack did and the cell it came from?"""
    result = graded(item)
    _, index = build(item, release_nb, released_course.root)
    for expected in item.evidence:
        lines = [t for t in result.tamper if expected in t]
        assert lines, f"{expected!r} not in {result.tamper}"
        if index is not None:
            assert any(re.match(rf"cell {index}\b", t) for t in lines), (index, lines)
    for expected in item.notes:
        assert any(expected in note for note in result.notes), result.notes


def test_corpus_covers_every_class():
    """Does the corpus hold at least 30 attacks, spread over every class of the threat model?"""
    assert len(ATTACKS) >= 30 and len({a.name for a in ATTACKS}) == len(ATTACKS)
    assert len({a.threat for a in ATTACKS}) == 13
    assert {READING, DESERIALISATION} <= {a.threat for a in ATTACKS}
    assert all(a.target is None or a.target in {q.id for q in AUTOGRADED} for a in ATTACKS)


# A shared leaf (gradients pile up across calls) that takes a fresh one at the visible inputs only:
# it passes the visible tests, and its hidden failure shows the hidden inputs drawn for it.
SHARED_LEAF_BUT_AT_THE_VISIBLE_INPUTS = """
_x = torch.tensor(0.0, requires_grad=True)


def grad_at(f, x0):
    if x0 in (2, -1.5, 0.0):
        x = torch.tensor(float(x0), requires_grad=True)
        f(x).backward()
        return x.grad
    with torch.no_grad():
        _x.fill_(float(x0))
    f(_x).backward()
    return _x.grad
"""


def test_a_resubmission_draws_new_hidden_inputs_and_a_regrade_the_same(grade_nb, solved_nb):
    """Are hidden inputs read in one submission's feedback useless for the next (no hard-coding them)?"""
    shared_leaf = with_answers(solved_nb, {"grad_at": SHARED_LEAF_BUT_AT_THE_VISIBLE_INPUTS})
    first = grade_nb(shared_leaf, "mallory")
    resubmitted = copy.deepcopy(shared_leaf)
    resubmitted.cells.append(nbformat.v4.new_markdown_cell("second attempt"))
    second = grade_nb(resubmitted, "mallory")
    [feedback] = [q.messages for q in first.questions if q.id == "grad_at"]
    assert any("twice" in line for line in feedback), feedback
    assert grade_nb(shared_leaf, "mallory").to_json() == first.to_json(), "a regrade must read the same"
    assert [q.messages for q in second.questions if q.id == "grad_at"] != [feedback]
    assert first.score == second.score
