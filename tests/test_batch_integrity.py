"""Batch integrity: no byte of a submission stops recording, reads of submitted files are bounded,
judge-side work is bounded, and what a TA reads is what the submission holds."""

from __future__ import annotations

import datetime
import json
import os
import random
import re
import sys
import time

import nbformat
import pytest
from nbgrader.api import Gradebook
from sample import AUTOGRADED, EXPLAIN_BUG, solved, with_answers, write_submission

from grader.judge.batch import autograde
from grader.judge.grader import Grader

pytestmark = [
    pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux-only"),
    pytest.mark.duration(0.5),  # each grades a batch
]

FULL_MARKS = sum(q.points for q in AUTOGRADED)


def _ascii_json(nb) -> bytes:
    """Notebook bytes with every non-ASCII character escaped, so a lone surrogate survives as `\\ud83d`."""
    return json.dumps(json.loads(nbformat.writes(nb)), ensure_ascii=True).encode()


def _scores(course) -> dict[str, float]:
    with Gradebook(course.db_url, course.course_id) as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(course.assignment)}


# ---------------------------------------------------------------- 1. no byte stops recording


def _cli(*args: str):
    import subprocess

    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, timeout=600)


@pytest.mark.slow(30)
def test_poisoned_submissions_do_not_stop_the_batch(course, release_nb):
    """Through `grader autograde` (twice) and `grader feedback`: do a lone surrogate in a cell, a
    non-UTF-8 byte in a file name and in a student folder's name, and control codes in another's,
    each end as a status for that student, while classmates after them keep their grades, no
    file is left truncated, the table prints escaped, and feedback covers everyone recorded?"""
    reference = solved(release_nb)
    write_submission(course.root, "alice", reference)
    poisoned = with_answers(reference, {EXPLAIN_BUG.question: "the bug \ud83d is here \udcff"})
    write_submission(course.root, "bob", _ascii_json(poisoned))
    renamed = write_submission(course.root, "carol", reference)
    os.rename(renamed, os.fsencode(renamed.parent) + b"/der\xffivatives.ipynb")
    folder = os.fsencode(course.submitted_dir()) + b"/m\xff/derivatives"
    os.makedirs(folder)
    with open(folder + b"/derivatives.ipynb", "wb") as handle:
        handle.write(nbformat.writes(reference).encode())
    forger = "n\x1b[2K\r16"
    write_submission(course.root, forger, reference)
    write_submission(course.root, "zed", reference)
    recorded = ("alice", "bob", "carol", forger, "zed")

    for _ in range(2):  # a rerun records the same way
        done = _cli("--course", str(course.root), "autograde", "derivatives", "--jobs", "1")
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
        table = done.stdout.decode("utf-8")
        assert "\x1b" not in table and "\r" not in table and "unrecordable" in table, table
        scores = _scores(course)
        assert {student: scores.get(student) for student in recorded} == dict.fromkeys(recorded, FULL_MARKS)
        statuses = {r["student"]: r["status"] for r in _status_files(course)}
        assert statuses == dict.fromkeys(recorded, "graded"), statuses
    for student in recorded:
        folder = course.autograded_notebook(student).parent
        nbformat.read(course.autograded_notebook(student), as_version=4)  # whole, valid notebooks
        assert not [p for p in folder.iterdir() if p.name.startswith(".")], "a temporary file was left"
    assert "the bug" in course.autograded_notebook("bob").read_text()
    done = _cli("--course", str(course.root), "feedback", "derivatives")
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert {student for student in recorded if course.feedback_html(student).is_file()} == set(recorded)


def test_a_student_id_that_is_not_utf8_is_unrecordable(course, release_nb):
    """Is a student folder named with a non-UTF-8 byte given the status `unrecordable` with the
    reason, instead of poisoning the gradebook commit of its classmates?"""
    folder = os.fsencode(course.submitted_dir()) + b"/m\xff/derivatives"
    os.makedirs(folder)
    with open(folder + b"/derivatives.ipynb", "wb") as handle:
        handle.write(nbformat.writes(solved(release_nb)).encode())
    write_submission(course.root, "zed", solved(release_nb))
    results = {r.student: r for r in autograde(course, jobs=1, show_progress=False)}
    odd = os.fsdecode(b"m\xff")
    assert results[odd].status == "unrecordable" and "UTF-8" in results[odd].notes[0]
    assert _scores(course) == {"zed": FULL_MARKS}


def _status_files(course) -> list[dict]:
    return [json.loads(p.read_text()) for p in (course.root / "autograded").glob("*/*/grading.json")]


# ---------------------------------------------------------------- 2. bounded reads of submitted files


@pytest.fixture
def alarm():
    """Fail (instead of hanging the suite) when the code under test blocks for `seconds`."""
    import signal

    def expire(*_):  # not an OSError, which a reader's own error handling would swallow
        raise RuntimeError("grading blocked on a submitted file")

    previous = signal.signal(signal.SIGALRM, expire)
    yield signal.alarm
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


TIMESTAMP_POISONS = {
    "fifo": lambda path: os.mkfifo(path),
    "link-to-dev-zero": lambda path: os.symlink("/dev/zero", path),
    "directory": lambda path: path.mkdir(),
}


@pytest.mark.parametrize("poison", TIMESTAMP_POISONS)
def test_poisoned_timestamp_is_ignored_quickly(poison, grader, course, release_nb, alarm):
    """Does a timestamp.txt that is a FIFO, a link to /dev/zero or a directory get ignored, in
    bounded time and memory, with a note for the TA and the collection time as the submission
    time, while the correct notebook beside it keeps full marks?"""
    from grader.intake.timestamps import parse_timestamp

    path = write_submission(course.root, "alice", solved(release_nb)).parent / "timestamp.txt"
    path.unlink()
    TIMESTAMP_POISONS[poison](path)
    alarm(60)
    started = time.monotonic()
    result = Grader.grade_student(_with_course(grader, course), "alice")
    assert time.monotonic() - started < 30
    assert result.status == "graded" and result.score == FULL_MARKS, result.notes
    assert "timestamp.txt was not read" in result.timestamp_note and result.timestamp_note in result.notes
    folder = course.submission_folder("alice")
    collected = min(os.lstat(p).st_ctime for p in (folder, path, folder / "derivatives.ipynb"))
    used = parse_timestamp(result.timestamp).replace(tzinfo=datetime.timezone.utc).timestamp()
    assert abs(used - collected) < 0.001


def _with_course(grader, course):
    """The session's warm grader, pointed at this test's course (its plan is the same)."""
    view = object.__new__(Grader)
    view.__dict__.update(grader.__dict__, course=course)
    return view


def test_hard_link_to_the_source_notebook_is_refused(grader, course, alarm):
    """Is a submission that is a hard link to the instructor's source notebook refused with a
    clear note, instead of scoring full marks?"""
    folder = course.submission_folder("mallory")
    folder.mkdir(parents=True)
    os.link(course.source_notebook(), folder / "derivatives.ipynb")
    alarm(120)
    result = Grader.grade_student(_with_course(grader, course), "mallory")
    assert result.score == 0 and result.status == "unreadable", (result.score, result.notes)
    assert "hard link" in [note for note in result.notes if note != result.timestamp_note][-1]


# ---------------------------------------------------------------- 3. malformed replies, student-safe messages


ZERO_SIZE_SHAPES = {"2**62": [0, 2 ** 62, 2 ** 62], "wide": [0] + [10 ** 6] * 7, "negative": [0, -1, 5]}


def _zero_size(shape) -> dict:
    return {"kind": "tensor", "dtype": "float32", "shape": shape, "data": "",
            "requires_grad": False, "is_leaf": True, "grad_fn": None}


@pytest.mark.parametrize("name", ZERO_SIZE_SHAPES)
def test_zero_size_tensor_with_an_overflowing_shape_is_refused(name):
    """Is a zero-size tensor whose other dimensions multiply past the element cap refused at decode?"""
    from grader.runtime.values import BadValue, decode

    with pytest.raises(BadValue):
        decode(_zero_size(ZERO_SIZE_SHAPES[name]))


class _StubSession:
    """Enough of a WorkerSession for the judge's per-question step, answering with `subject`."""

    def __init__(self, subject):
        self.checking, self._subject = None, subject
        self.horizon = None  # the checks run after the last cell
        self.notes: list[str] = []  # what the TA reads beside the verdict

    def ensure_alive(self) -> None:
        pass

    def subject(self):
        return self._subject

    def look_from_outside(self, where: str, **kinds) -> None:
        pass


class _RaisingSubject:
    """A subject whose every exchange hits a judge-side fault, as a bug in a check would."""

    def get(self, name):
        return lambda *args, **kwargs: None

    def __getattr__(self, name):
        def fault(*args, **kwargs):
            raise ZeroDivisionError("internal fault")
        return fault


def test_internal_errors_reach_students_without_a_traceback(grader):
    """Does a judge-side fault while checking reach the student as an error without a traceback,
    kit paths or source lines, while the TA's notes keep what was raised?"""
    from grader.judge.submission import _judge_question

    for q in AUTOGRADED:
        session = _StubSession(_RaisingSubject())
        result = _judge_question(q, session, grader.plan.assignment,
                                 lambda *seed: random.Random(0), "student", "digest", {})
        text = "\n".join(result.messages)
        assert result.status in ("error", "failed") and result.score == 0
        assert "Traceback" not in text and 'File "' not in text and "grader/" not in text, text
        if result.status == "error":  # a fault, not a wrong-looking answer: the TA reads what was raised
            assert any("ZeroDivisionError: internal fault" in n for n in session.notes), (q.id, session.notes)


# ---------------------------------------------------------------- 4. what a TA reads is what the submission holds


# An ESC sequence that erases the line and rewrites the score, a carriage return, a bidi override.
FORGERY = "\x1b[2K\x1b[1G\r16/16 \u202e\x9b"
_TERMINAL_CONTROLS = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _forged_result():
    from grader.judge.results import QuestionResult, SubmissionResult

    questions = [QuestionResult(q.id, 0.0 if i == 0 else float(q.points), float(q.points),
                                "failed" if i == 0 else "passed", [f"wrong{FORGERY}"])
                 for i, q in enumerate(AUTOGRADED)]
    return SubmissionResult(f"eve{FORGERY}", f"derivatives{FORGERY}.ipynb", "graded", questions,
                            notes=[f"note{FORGERY}"], tamper=[f"cell 3: patched{FORGERY}"])


def test_terminal_output_has_no_control_codes():
    """Do the autograde table, `grader grade`'s table and the progress line show a student's
    control codes escaped, so a row cannot be redrawn to read as full marks?"""
    import io

    from grader.report.progress import Progress
    from grader.report.tables import class_table, question_table

    result = _forged_result()
    stream = io.StringIO()
    progress = Progress(1, stream=stream)
    result.status = f"graded{FORGERY}"
    progress.advance(result)
    result.status = "graded"
    for text in (class_table([result]), question_table(result), stream.getvalue().rstrip("\n")):
        assert not _TERMINAL_CONTROLS.search(text), repr(text)
        assert "\\x1b[2K" in text


def test_evidence_and_messages_from_a_worker_are_neutralised(judge_bytes, release_nb):
    """Are tamper evidence, verdict messages and the cell outputs of the autograded notebook that
    carry a student's control codes recorded with those codes escaped?"""
    attack = (f"open({'/tmp/x' + FORGERY!r}, 'w').close()\nprint({FORGERY!r})\n"
              f"def grad_at(f, x0):\n    raise ValueError({FORGERY!r})\n")
    nb = with_answers(solved(release_nb), {"grad_at": attack})
    result = judge_bytes(nbformat.writes(nb).encode())
    texts = [*result.tamper, *result.notes, *(m for q in result.questions for m in q.messages)]
    assert any("\\x1b[2K" in t for t in result.tamper), result.tamper
    for text in texts:
        assert not _TERMINAL_CONTROLS.search(text), repr(text)
    from grader.record.notebook import autograded_notebook

    for cell in autograded_notebook(release_nb, result).cells:
        for output in cell.get("outputs", []):
            text = output.get("text", "") + output.get("evalue", "") + "\n".join(output.get("traceback", []))
            assert not _TERMINAL_CONTROLS.search(text.replace("\n", "")), repr(text)


@pytest.fixture
def judge_bytes(grader, tmp_path):
    """Grade notebook bytes through the trusted path (a judge-side exception fails the test)."""
    from grader.judge.submission import judge_notebook
    from grader.worker.session import WorkerSession

    def grade(data: bytes):
        path = tmp_path / "derivatives.ipynb"
        path.write_bytes(data)
        sessions = []

        def session():
            sessions.append(WorkerSession(grader.parent))
            return sessions[-1]

        try:
            return judge_notebook(path, "student", grader.plan, session)
        finally:
            for done in sessions:
                done.close()
                grader.parent.confirm_dead(done.killed)

    return grade


def test_every_added_cell_is_in_the_autograded_notebook(release_nb):
    """Does the autograded notebook a TA reviews show every cell the student added or changed: a
    raw cell, a second cell claiming an answer's id, an edited test cell, a markdown cell under
    a code answer's id?"""
    from grader.judge.results import CellOutcome, SubmissionResult
    from grader.record.notebook import autograded_notebook

    nb = solved(release_nb)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    answer = AUTOGRADED[0].id
    cells = [CellOutcome(i, c.cell_type, c.source, ids[i]) for i, c in enumerate(nb.cells)]
    added = {
        "raw": CellOutcome(len(cells), "raw", "RAW: grade me by hand", None),
        "second claim": CellOutcome(len(cells) + 1, "code", "SECOND = 'claims the answer id'", answer),
        "edited test": CellOutcome(len(cells) + 2, "code", "assert True  # EDITED TEST", f"test_{answer}"),
        "markdown under a code id": CellOutcome(len(cells) + 3, "markdown", "MARKDOWN under a code id", answer),
    }
    result = SubmissionResult("student", "derivatives.ipynb", "graded", [], cells + list(added.values()))
    sources = [c.source for c in autograded_notebook(release_nb, result).cells]
    missing = [name for name, cell in added.items() if cell.source not in sources]
    assert not missing, missing
    assert sources.count(nb.cells[ids.index(answer)].source) == 1  # the answer itself, once


# ---------------------------------------------------------------- 5. the judge's own work is bounded


MAGIC_FLOODS = {
    "one-cell-of-8000-magics": ["%a\n" * 8000],
    "many-cells-of-magics": ["%a\n" * 120 + "x = 1\n" * 40] * 60,
    # lines that end where IPython's transformer ends them (str.splitlines), not at "\n"
    "one-cell-of-magics-ended-by-carriage-returns": ["%a\r" * 16_000],
    "cells-of-magics-ended-by-form-feeds-and-line-separators": ["%a\x0c" * 4_000, "%a\u2028" * 4_000],
}


@pytest.mark.parametrize("name", MAGIC_FLOODS)
def test_magic_floods_are_refused_before_the_transformer(name, judge_bytes, release_nb):
    """Is a notebook flooded with IPython magic lines graded quickly, the flooded cells not run and
    named in a note, while the correct answers keep full marks?"""
    from grader.demo.scenarios import with_extra_cell

    nb = solved(release_nb)
    for source in MAGIC_FLOODS[name]:
        nb = with_extra_cell(nb, source)
    started = time.monotonic()
    result = judge_bytes(nbformat.writes(nb).encode())
    assert time.monotonic() - started < 20
    assert result.score == FULL_MARKS, [(q.id, q.status, q.messages[:1]) for q in result.questions]
    assert any("magic" in note and "was not run" in note for note in result.notes), result.notes


CODE_FLOODS = {  # a list literal: the most tree for the fewest characters
    "one-cell-of-200k-characters": ["a = 0\nv = [" + "a," * 100_000 + "]\n"],
    "many-cells-over-the-notebooks-total": ["a = 0\nv = [" + "a," * 20_000 + "]\n"] * 8,
}


@pytest.mark.parametrize("name", CODE_FLOODS)
def test_code_floods_are_refused_before_the_scan(name, judge_bytes, release_nb):
    """Is a notebook of huge code cells graded quickly (the judge's scan and parse of a 20 MB
    notebook of code took three minutes and 4 GB), the cells over the size limits not run and
    named in a note, while the correct answers keep full marks?"""
    from grader.demo.scenarios import with_extra_cell

    nb = solved(release_nb)
    for source in CODE_FLOODS[name]:
        nb = with_extra_cell(nb, source)
    started = time.monotonic()
    result = judge_bytes(nbformat.writes(nb).encode())
    assert time.monotonic() - started < 20
    assert result.score == FULL_MARKS, [(q.id, q.status, q.messages[:1]) for q in result.questions]
    assert any("characters" in note and "was not run" in note for note in result.notes), result.notes


# ---------------------------------------------------------------- 6. socket families


SOCKET_PROBE = """\
import ctypes, socket
for family in (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6):
    socket.socket(family, socket.SOCK_STREAM).close()
socket.socketpair()[0].close()
libc = ctypes.CDLL(None, use_errno=True)
for family in (40, 16, 17):  # AF_VSOCK, AF_NETLINK, AF_PACKET straight through libc
    print('raw', family, libc.socket(family, 1, 0), ctypes.get_errno())
socket.socket(40, socket.SOCK_STREAM)  # AF_VSOCK through Python
"""


def test_a_vsock_socket_fails_and_is_evidence(judge_bytes, release_nb):
    """Does a cell creating an AF_VSOCK (or netlink, packet) socket fail, with the attempt named
    in the tamper evidence, while AF_UNIX, AF_INET and AF_INET6 sockets still work?"""
    from grader.demo.scenarios import with_extra_cell

    if os.geteuid() != 0:
        pytest.skip("the seccomp filter is installed in the full containment (root)")
    nb = with_extra_cell(solved(release_nb), SOCKET_PROBE)
    result = judge_bytes(nbformat.writes(nb).encode())
    cell = result.cells[-1]
    assert cell.status == "error" and "Errno 97" in (cell.error or ""), (cell.status, cell.error, cell.output)
    raw = [line.split()[2:] for line in cell.output.splitlines() if line.startswith("raw ")]
    assert raw == [["-1", "97"]] * 3, cell.output
    assert any("AF_VSOCK" in item for item in result.tamper), result.tamper
    assert result.score == FULL_MARKS


def test_containment_says_how_memory_is_bounded(grader):
    """Does the containment report say how memory is bounded: by a cgroup for the worker's whole
    tree (as root, where the machine has cgroup v1's memory controller), else per process only?"""
    memory = grader.containment["memory"]
    if grader.parent.mode == "root" and memory_cgroups_here():
        assert memory.startswith("a memory cgroup per worker: 3 GiB for its whole process tree"), memory
    else:
        assert "per process only" in memory and "no per-worker memory cgroup" in memory, memory
    assert "per process" in grader.containment["limits"]


def memory_cgroups_here() -> bool:
    from grader.worker.memcg import WorkerMemory

    return WorkerMemory(1024**3).available


def test_the_judges_own_scan_counts_against_the_budget(grader, release_nb, tmp_path, monkeypatch):
    """When the judge's own scan of a submission is slow, is that time taken from the submission's
    budget, ending in a time-budget status instead of extending it?"""
    import grader.judge.submission as submission
    from grader.worker.session import WorkerSession

    scan = submission.scan_cells

    def slow_scan(cells):
        time.sleep(1.5)
        return scan(cells)

    monkeypatch.setattr(submission, "scan_cells", slow_scan)
    path = tmp_path / "derivatives.ipynb"
    path.write_text(nbformat.writes(solved(release_nb)))
    sessions = []

    def session():
        sessions.append(WorkerSession(grader.parent, budget=1.0))
        return sessions[-1]

    try:
        result = submission.judge_notebook(path, "student", grader.plan, session)
    finally:
        for done in sessions:
            done.close()
            grader.parent.confirm_dead(done.killed)
    skipped = [c for c in result.cells if c.status == "skipped"]
    assert skipped and all("time budget" in c.error for c in skipped), [(c.status, c.error) for c in result.cells]


def test_a_result_the_gradebook_refuses_costs_no_classmate(course, release_nb, monkeypatch):
    """When the gradebook refuses one student's rows mid-batch, do classmates recorded before it
    (not yet committed) and after it keep their grades, and is that student marked unrecordable?"""
    from grader.record.gradebook import GradebookWriter

    for student in ("alice", "bob", "zed"):
        write_submission(course.root, student, solved(release_nb))
    write_grades = GradebookWriter._write_grades

    def refuse_bob(self, result, nb):
        write_grades(self, result, nb)
        if result.student == "bob":
            self.gradebook.db.flush()
            raise RuntimeError("the gradebook refused a row")

    monkeypatch.setattr(GradebookWriter, "_write_grades", refuse_bob)
    monkeypatch.setattr(GradebookWriter, "COMMIT_SECONDS", 1e9)  # alice is still uncommitted
    results = {r.student: r for r in autograde(course, jobs=1, show_progress=False)}
    assert results["bob"].status == "unrecordable" and "refused" in results["bob"].notes[0]
    assert _scores(course) == {"alice": FULL_MARKS, "zed": FULL_MARKS}


def test_a_judge_crash_names_no_kit_internals_to_the_student(grader, course, release_nb, monkeypatch):
    """When the judge itself fails on a submission, is the student told so without the exception's
    text (kit paths), while the TA's note keeps it?"""
    import grader.judge.submission as judging

    def broken(*args, **kwargs):
        raise FileNotFoundError(f"{course.source_notebook()} vanished")

    monkeypatch.setattr(judging, "judge_submission", broken)
    write_submission(course.root, "alice", solved(release_nb))
    result = Grader.grade_student(_with_course(grader, course), "alice")
    assert result.status == "crashed" and "vanished" in result.notes[0]
    student_text = "\n".join(m for q in result.questions for m in q.messages)
    assert "FileNotFoundError" in student_text and str(course.root) not in student_text, student_text


def test_an_answer_whose_cell_raised_is_an_error_of_that_cell_not_a_blank(judge_bytes, release_nb):
    """Is an answer that was never defined because its own cell raised first graded as an error
    naming that cell and the exception, rather than as a missing (blank) answer?"""
    from sample import reference, with_answers

    source = reference("attributes").source.replace("ATTRIBUTES = {", "raise RuntimeError('cell-level crash')\nATTRIBUTES = {")
    result = judge_bytes(nbformat.writes(with_answers(solved(release_nb), {"attributes": source})).encode())
    [question] = [q for q in result.questions if q.id == "attributes"]
    assert question.status == "error" and question.score == 0, question
    assert "RuntimeError: cell-level crash" in question.messages[0] and "defines ATTRIBUTES" in question.messages[0]



@pytest.mark.parametrize("source, said", [
    ("class SQ(torch.autograd.Function):\n    @staticmethod\n    def forward(ctx, x)\n        return x * x\n",
     "raised SyntaxError"),
    ("import os\nos._exit(3)\n", "ended its worker"),
], ids=["does_not_parse", "ends_its_worker"])
def test_an_answer_cell_that_stops_before_defining_anything_is_named(judge_bytes, release_nb, source, said):
    """Is an answer cell that defines nothing the judge can parse (a SyntaxError) or that ends its
    worker graded as an error of that very cell, not as a blank answer to write ("not defined:
    write it in the answer cell above")?"""
    from sample import with_answers

    result = judge_bytes(nbformat.writes(with_answers(solved(release_nb), {"SQ": source})).encode())
    [question] = [q for q in result.questions if q.id == "SQ"]
    headline = question.messages[0].splitlines()[0]
    assert question.status == "error" and question.score == 0, question
    assert headline.startswith("SQ is not defined: cell ") and "the answer cell of SQ" in headline, headline
    assert said in headline and "write it in the answer cell above" not in question.messages[0]

def test_the_class_tables_header_keeps_its_columns_apart_for_short_ids():
    from grader.judge.results import SubmissionResult
    from grader.report.tables import class_table

    header = class_table([SubmissionResult("bob", "derivatives.ipynb", "graded", [], [], [], [])]).splitlines()[0]
    assert header.split() == ["student", "autograded", "status", "details"]


def test_the_static_scan_leaves_honest_notebook_habits_alone():
    """Are a cell magic, reproducibility flags and an object's setattr left out of the tamper
    evidence, while reaching IPython's hooks, patching torch and setattr on a library stay in?"""
    from grader.intake.tamper import scan_cell

    for honest in ("%%time\nx = 1\n", "%matplotlib inline\nevents = [1]\n",
                   "torch.backends.cudnn.deterministic = True\ntorch.backends.cudnn.benchmark = False\n",
                   'setattr(ctx, "k", k)\n'):
        assert scan_cell(honest) == [], honest
    for attack in ('get_ipython().events.register("pre_run_cell", f)\n', "torch.allclose = f\n",
                   'setattr(torch, "allclose", f)\n'):
        assert scan_cell(attack), attack
