"""Record verdicts the nbgrader way: autograded/ notebooks and the gradebook, one writer."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import stat
import tempfile
import time
import warnings
from pathlib import Path

import nbformat
from nbgrader import utils as nbutils
from nbgrader.api import (
    Assignment,
    BaseCell,
    Comment,
    Grade,
    Gradebook,
    MissingEntry,
    Notebook,
    Student,
    SubmittedAssignment,
    SubmittedNotebook,
)
from sqlalchemy import bindparam, or_, update
from sqlalchemy.exc import SAWarning
from sqlalchemy.orm import contains_eager

from grader.course import Course, CourseError
from grader.intake.text import printable, storable_tree
from grader.intake.timestamps import TIMESTAMP_FILE, parse_timestamp
from grader.judge.results import SubmissionResult
from grader.record.notebook import autograded_notebook, notebook_json
from grader.report.export import STATUS_FILE

__all__ = ["GradebookWriter", "UNRECORDABLE", "prepare_gradebook", "recorded_time", "save_notebook_grades",
           "write_atomically", "write_status"]

UNRECORDABLE = "unrecordable"

# nbgrader's submit writes this beside the notebook; release_feedback needs it in feedback/.
SUBMISSION_SECRET = "submission_secret.txt"
SECRET_BYTES = 1024


class GradebookWriter:
    """Holds one gradebook session open and records submissions into it as they arrive.

    Rows are nbgrader's own (students, submissions and their grades and comments, built as
    nbgrader's add_submission and SaveAutoGrades build them) and are committed together every
    COMMIT_EVERY submissions or COMMIT_SECONDS, and on close. nbgrader's one-call-per-row API
    commits three times per new student and reloads the assignment after each commit: about
    four times the writer's CPU per submission of a new class.
    """

    COMMIT_EVERY = 50
    COMMIT_SECONDS = 1.0

    def __init__(self, course: Course):
        self.course = course
        self.release = nbformat.read(course.release_notebook(), as_version=4)
        self.gradebook = Gradebook(course.db_url, course.course_id)
        assignment = self.gradebook.find_assignment(course.assignment)
        self.assignment_id = assignment.id
        # the assignment's structure never changes while it is graded: read it once
        self.notebook_cells = {notebook.id: _cell_rows(notebook) for notebook in assignment.notebooks}
        notebook = self.gradebook.find_notebook(course.notebook, course.assignment)
        self.notebook_id = notebook.id
        self.cell_names = {cell.id: cell.name for cell in [*notebook.grade_cells, *notebook.solution_cells, *notebook.task_cells]}
        self.students = {student for (student,) in self.gradebook.db.query(Student.id)}
        self.submitted = {student for (student,) in self.gradebook.db.query(SubmittedAssignment.student_id)
                          .filter(SubmittedAssignment.assignment_id == self.assignment_id)}
        self.uncommitted: set[str] = set()
        self.pending: list[tuple[SubmissionResult, nbformat.NotebookNode]] = []  # since the last commit
        self.last_commit = time.monotonic()
        self._recorded: dict[str, _RowIds] | None = None  # read at the first regrade

    def __enter__(self) -> "GradebookWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        """Commit what was recorded (also when grading was interrupted) and let go of the gradebook."""
        try:
            self.commit()
        finally:
            self.gradebook.close()

    def record(self, result: SubmissionResult) -> nbformat.NotebookNode | None:
        """Write the autograded notebook and the grades of one submission; return the notebook.

        Never raises for anything in the result: one that cannot be recorded gets the status
        `unrecordable` (with the reason in its notes) and the batch goes on; classmates
        recorded before and after it keep their rows and files.
        """
        try:
            _student_id_storable(result.student)
            nb, files = self._rendered(result)
            self._write_files(result, files)
            self._write_grades(result, nb)
        except Exception as exc:  # the batch must never stop at one student
            self._recover()
            result.status = UNRECORDABLE
            # first, so the autograde table's details column shows why
            result.notes.insert(0, f"could not be recorded: {type(exc).__name__}: {printable(str(exc))[:300]}")
            return None
        self.pending.append((result, nb))
        if len(self.uncommitted) >= self.COMMIT_EVERY or time.monotonic() - self.last_commit >= self.COMMIT_SECONDS:
            self.commit()
        return nb

    def commit(self) -> None:
        with _nbgrader_warnings_silenced():
            self.gradebook.db.commit()
        self.uncommitted.clear()
        self.pending.clear()
        self.last_commit = time.monotonic()

    def _rendered(self, result: SubmissionResult) -> tuple[nbformat.NotebookNode, dict[str, bytes]]:
        """The autograded notebook and the files' bytes; text that is not valid UTF-8 (a lone
        surrogate in a cell, an undecodable byte in a file name) is replaced, then rendered again."""
        try:
            nb = autograded_notebook(self.release, result)
            return nb, self._files(result, nb)
        except UnicodeEncodeError:
            storable = SubmissionResult.from_dict(storable_tree(result.to_dict()))
            result.notebook, result.notes, result.tamper = storable.notebook, storable.notes, storable.tamper
            result.questions, result.cells = storable.questions, storable.cells
            nb = autograded_notebook(self.release, result)
            return nb, self._files(result, nb)

    def _files(self, result: SubmissionResult, nb: nbformat.NotebookNode) -> dict[str, bytes]:
        path = self.course.autograded_notebook(result.student)
        files = {path.name: notebook_json(nb).encode("utf-8")}
        if recorded_time(result) is not None:  # the time lateness counts from, as nbgrader reads it
            files[TIMESTAMP_FILE] = result.timestamp.encode("utf-8")
        # one line through the C encoder: an indented dump takes the pure-Python encoder
        files[STATUS_FILE] = (json.dumps(_status_record(result), ensure_ascii=False) + "\n").encode("utf-8")
        secret = _submission_secret(self.course.submission_folder(result.student))
        if secret is not None:
            files[SUBMISSION_SECRET] = secret
        else:  # a resubmission without one must not keep the old secret
            (path.parent / SUBMISSION_SECRET).unlink(missing_ok=True)
        return files

    def _write_files(self, result: SubmissionResult, files: dict[str, bytes]) -> None:
        folder = self.course.autograded_notebook(result.student).parent
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            write_atomically(folder / name, data)

    def _recover(self) -> None:
        """After a failed record: roll the session back and record again what had not been committed."""
        self.gradebook.db.rollback()
        replay, self.pending = self.pending, []
        self.uncommitted.clear()
        self._recorded = None  # row ids read since the last commit may have been rolled back
        self.students = {student for (student,) in self.gradebook.db.query(Student.id)}
        self.submitted = {student for (student,) in self.gradebook.db.query(SubmittedAssignment.student_id)
                          .filter(SubmittedAssignment.assignment_id == self.assignment_id)}
        for done, nb in replay:
            self._write_grades(done, nb)
            self.pending.append((done, nb))

    def _write_grades(self, result: SubmissionResult, nb: nbformat.NotebookNode) -> None:
        with _nbgrader_warnings_silenced():
            if result.student not in self.submitted:
                notebook = self._new_submission(result.student, recorded_time(result))
                _save_cells(nb, {self.cell_names[grade.cell_id]: grade for grade in notebook.grades},
                            {self.cell_names[comment.cell_id]: comment for comment in notebook.comments})
            else:
                self._update_rows(self._rows_of(result.student), recorded_time(result), nb)
        self.uncommitted.add(result.student)

    def _rows_of(self, student: str) -> _RowIds:
        """The row ids of a recorded submission; read again once when it was added after the last reading."""
        rows = self._recorded_rows().get(student)
        if rows is None:  # recorded earlier in this run (the same student twice): the query flushes it
            self._recorded = None
            rows = self._recorded_rows().get(student)
        if rows is None:
            raise MissingEntry(f"the gradebook has a submission of {self.course.assignment} by this student "
                               f"but no row for {self.course.notebook}.ipynb")
        return rows

    def _recorded_rows(self) -> dict[str, _RowIds]:
        """The row ids of every recorded submission, by student, read in three queries for the class
        (a regrade would otherwise load each student's rows, three queries each)."""
        if self._recorded is None:
            db, cells = self.gradebook.db, list(self.cell_names)
            found, by_notebook = {}, {}
            for student, submission, notebook in (
                    db.query(SubmittedAssignment.student_id, SubmittedAssignment.id, SubmittedNotebook.id)
                    .join(SubmittedNotebook, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
                    .filter(SubmittedAssignment.assignment_id == self.assignment_id,
                            SubmittedNotebook.notebook_id == self.notebook_id)):
                found[student] = by_notebook[notebook] = _RowIds(submission, {}, {})
            # by cell: nbgrader's only index on grades and comments starts with the cell
            for model, kind in ((Grade, "grades"), (Comment, "comments")):
                for row, notebook, cell in db.query(model.id, model.notebook_id, model.cell_id).filter(model.cell_id.in_(cells)):
                    if notebook in by_notebook:
                        getattr(by_notebook[notebook], kind)[self.cell_names[cell]] = row
            self._recorded = found
        return self._recorded

    def _update_rows(self, rows: _RowIds, timestamp, nb: nbformat.NotebookNode) -> None:
        """What SaveAutoGrades sets, as three statements: a manual score is kept, and the grade is
        then flagged for review, as the row holds it when written."""
        scores, comments = _cell_values(nb)
        db = self.gradebook.db
        grades = [{"row": rows.grades[name], "auto": score} for name, score in scores.items()]
        texts = [{"row": rows.comments[name], "auto": text} for name, text in comments.items()]
        if grades:
            _rows_written(db.execute(_GRADE_UPDATE, grades), len(grades))
        if texts:
            _rows_written(db.execute(_COMMENT_UPDATE, texts), len(texts))
        if timestamp:
            table = SubmittedAssignment.__table__
            _rows_written(db.execute(update(table).where(table.c.id == rows.submission).values(timestamp=timestamp)), 1)

    def _new_submission(self, student_id: str, timestamp) -> SubmittedNotebook:
        """As nbgrader's add_submission: the submission mirrors every notebook and cell of the assignment."""
        db = self.gradebook.db
        if student_id not in self.students:
            db.add(Student(id=student_id))
            self.students.add(student_id)
        submission = SubmittedAssignment(assignment_id=self.assignment_id, student_id=student_id, timestamp=timestamp)
        mine = None
        for notebook_id, (grade_cells, comment_cells) in self.notebook_cells.items():
            notebook = SubmittedNotebook(notebook_id=notebook_id, assignment=submission)
            for cell_id in grade_cells:
                Grade(cell_id=cell_id, notebook=notebook)
            for cell_id in comment_cells:
                Comment(cell_id=cell_id, notebook=notebook)
            if notebook_id == self.notebook_id:
                mine = notebook
        db.add(submission)
        self.submitted.add(student_id)
        return mine


def prepare_gradebook(course: Course) -> bool:
    """Make sure the gradebook knows the assignment before anything is recorded; True when it was added.

    A course autograded before its release was recorded (a fresh gradebook, a copied course)
    gets the assignment, notebooks and cells that `nbgrader generate_assignment --create` records.
    """
    if not course.release_notebook().is_file():
        raise CourseError(f"no {course.release_notebook().relative_to(course.root)}: "
                          f"run `grader release {course.assignment}` first")
    from grader.release.generate import alembic_on_path, register_assignment

    with _nbgrader_warnings_silenced(), alembic_on_path():  # a new gradebook runs `alembic`
        try:
            with Gradebook(course.db_url, course.course_id) as gb:
                gb.find_notebook(course.notebook, course.assignment)
            return False
        except MissingEntry:
            pass
    if not course.source_notebook().is_file():
        raise CourseError(f"the gradebook does not know {course.assignment!r} and there is no source notebook: "
                          f"run `nbgrader db assignment add {course.assignment}` and `nbgrader generate_assignment "
                          f"{course.assignment} --create`")
    register_assignment(course, course.db_url)
    return True


@contextlib.contextmanager
def _nbgrader_warnings_silenced():
    """nbgrader's models trip SQLAlchemy's relationship warnings; they are nbgrader's, harmless,
    and would bury the progress line."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)
        yield


def _cell_rows(notebook) -> tuple[list[str], list[str]]:
    """Ids of the cells that get a grade row and of those that get a comment row, as add_submission orders them."""
    grades = [cell.id for cell in notebook.grade_cells] + [cell.id for cell in notebook.task_cells]
    comments = [cell.id for cell in notebook.solution_cells] + [cell.id for cell in notebook.task_cells]
    return grades, comments


def save_notebook_grades(gradebook: Gradebook, assignment: str, notebook: str, student: str,
                         nb: nbformat.NotebookNode, *, submitted=None, set_time: bool = False) -> bool:
    """Record one autograded notebook's grades and comments as nbgrader's SaveAutoGrades does,
    in three queries and one commit (SaveAutoGrades queries and commits once per cell); with
    `set_time`, the submission's time becomes `submitted`, in the same commit. True when the
    submission is late or carries a late penalty (nbgrader's AssignLatePenalties has work to do).

    The submission's rows exist already: nbgrader's autograde creates them before its steps run.
    """
    db = gradebook.db
    with _nbgrader_warnings_silenced():
        row = (db.query(SubmittedNotebook)
               .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
               .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
               .join(Notebook, SubmittedNotebook.notebook_id == Notebook.id)
               .filter(Assignment.name == assignment, Notebook.name == notebook,
                       SubmittedAssignment.student_id == student)
               .options(contains_eager(SubmittedNotebook.assignment))
               .one())
        names = dict(db.query(BaseCell.id, BaseCell.name).filter(BaseCell.notebook_id == row.notebook_id))
        # by cell as well as by notebook: nbgrader's only index on grades and comments starts with the cell
        grades = db.query(Grade).filter(Grade.cell_id.in_(names), Grade.notebook_id == row.id)
        comments = db.query(Comment).filter(Comment.cell_id.in_(names), Comment.notebook_id == row.id)
        _save_cells(nb, {names[grade.cell_id]: grade for grade in grades},
                    {names[comment.cell_id]: comment for comment in comments})
        if set_time:
            row.assignment.timestamp = submitted
        late = row.assignment.total_seconds_late > 0 or bool(row.late_submission_penalty)
        db.commit()
    return late


def _save_cells(nb: nbformat.NotebookNode, grades: dict, comments: dict) -> None:
    """Each grade cell's score and each answer's comment, by cell name, as SaveAutoGrades sets
    them: a manual grade is kept and flagged for review."""
    scores, texts = _cell_values(nb)
    for name, score in scores.items():
        grade = grades[name]
        grade.auto_score = score
        grade.needs_manual_grade = grade.manual_score is not None or score is None
    for name, text in texts.items():
        comments[name].auto_comment = text


def _cell_values(nb: nbformat.NotebookNode) -> tuple[dict[str, float | None], dict[str, str | None]]:
    """Each grade cell's automatic score and each answer's automatic comment, by cell name."""
    scores, texts = {}, {}
    for cell in nb.cells:
        name = cell.metadata.get("nbgrader", {}).get("grade_id")
        if nbutils.is_grade(cell):
            scores[name], _ = nbutils.determine_grade(cell)
        if nbutils.is_solution(cell) or nbutils.is_task(cell):
            unchanged = cell.metadata.nbgrader.get("checksum") == nbutils.compute_checksum(cell)
            texts[name] = "No response." if unchanged and not nbutils.is_task(cell) else None
    return scores, texts


@dataclasses.dataclass
class _RowIds:
    """A recorded submission's rows: its own, and its grades' and comments' by cell name."""

    submission: str
    grades: dict[str, str]
    comments: dict[str, str]


_GRADE_UPDATE = (update(Grade.__table__).where(Grade.__table__.c.id == bindparam("row"))
                 .values(auto_score=bindparam("auto"),
                         needs_manual_grade=or_(Grade.__table__.c.manual_score.is_not(None), bindparam("auto").is_(None))))
_COMMENT_UPDATE = (update(Comment.__table__).where(Comment.__table__.c.id == bindparam("row"))
                   .values(auto_comment=bindparam("auto")))


def _rows_written(done, expected: int) -> None:
    if done.rowcount not in (expected, -1):  # -1: the driver does not say
        raise MissingEntry(f"{expected - done.rowcount} of the submission's gradebook rows are gone")


def write_status(course: Course, result: SubmissionResult) -> None:
    """autograded/<student>/<assignment>/grading.json: the kit's record of one submission."""
    folder = course.autograded_notebook(result.student).parent
    folder.mkdir(parents=True, exist_ok=True)
    # one line through the C encoder: an indented dump takes the pure-Python encoder
    write_atomically(folder / STATUS_FILE, (json.dumps(_status_record(result), ensure_ascii=False) + "\n").encode())


def write_atomically(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all: a temporary file in the same folder, then a rename."""
    fd, draft = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(draft, 0o644)  # as an ordinary write would leave it: TAs read these files
        os.replace(draft, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(draft)
        raise


def _student_id_storable(student: str) -> None:
    """The gradebook keys rows by student id: one that is not valid UTF-8 cannot be a row."""
    try:
        student.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the student folder's name is not valid UTF-8; rename it and grade again") from None


def _status_record(result: SubmissionResult) -> dict:
    """The verdict, its totals named for what they count: the autograded questions only."""
    record = result.to_json()
    record["autograded_score"] = record.pop("score")
    record["autograded_max_score"] = record.pop("max_score")
    record["counts"] = "autograded questions only; manual scores are in the gradebook and grades.csv"
    record.update(student=result.student, status=result.status, notes=result.notes, tamper=result.tamper,
                  review=result.review, timestamp=result.timestamp, timestamp_note=result.timestamp_note)
    return record


def _submission_secret(submitted: Path) -> bytes | None:
    """nbgrader's submission_secret.txt, to copy as stock autograde does, so release_feedback finds it.

    The file is the student's: read without following links or blocking (a FIFO, a link to
    /dev/zero), only when it is a small regular file of printable ASCII.
    """
    try:
        fd = os.open(submitted / SUBMISSION_SECRET, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = handle.read(SECRET_BYTES + 1)
    if len(data) <= SECRET_BYTES and data.isascii() and data.strip() and data.decode().isprintable():
        return data
    return None


def recorded_time(result: SubmissionResult):
    """The submission time the judge decided on (see grader.intake.timestamps), as naive UTC; None if unknown."""
    if not result.timestamp:
        return None
    try:
        return parse_timestamp(result.timestamp)
    except ValueError:  # the judge writes this field; anything else is not a time to record
        return None
