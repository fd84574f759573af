"""Where a course's files live, read from its nbgrader_config.py."""

from __future__ import annotations

import ast
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from grader.assignment import Assignment, AssignmentError, notebook_in

__all__ = ["Course", "CourseError", "assignments_of", "course_root"]

# Where nbgrader's autograde reads a cell's time limit: its Execute preprocessor's own section
# first, then the nbconvert ExecutePreprocessor section it inherits.
_TIMEOUT_SECTIONS = ("Execute", "ExecutePreprocessor")

SECRET_FILE = ".grader-secret"


class CourseError(RuntimeError):
    """The course directory is not usable; the message says what to do."""


@dataclass(frozen=True)
class Course:
    """An nbgrader course directory, and the assignment of it that a command works on."""

    root: Path
    assignment: str
    notebook: str

    @classmethod
    def at(cls, root: str | os.PathLike = ".", assignment: str | None = None) -> "Course":
        """The course at `root` and one of its assignments (the only one when none is named).

        CourseError when `root` has no nbgrader_config.py or no source/<assignment>/ folder.
        """
        root = course_root(root)
        known = assignments_of(root)
        if assignment is None:
            if len(known) != 1:
                raise CourseError(f"name the assignment: the course has {', '.join(known) or 'none'}")
            assignment = known[0]
        if assignment not in known:
            raise CourseError(f"no assignment {assignment!r} in {root / 'source'} "
                              f"(known: {', '.join(known) or 'none'}); create source/{assignment}/")
        try:
            notebook = notebook_in(root / "source" / assignment).stem
        except AssignmentError as exc:
            raise CourseError(str(exc)) from None
        return cls(root=root, assignment=assignment, notebook=notebook)

    @cached_property
    def spec(self) -> Assignment:
        """The assignment's questions, checks and banks, read from source/<assignment>/."""
        try:
            return Assignment.load(self.root / "source" / self.assignment)
        except AssignmentError as exc:
            raise CourseError(str(exc)) from None

    @property
    def questions(self):
        return self.spec.questions

    @property
    def autograded(self):
        return self.spec.autograded

    @cached_property
    def coursedir(self):
        """nbgrader's CourseDirectory configured from the course's nbgrader_config.py."""
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config.loader import PyFileConfigLoader

        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        coursedir = CourseDirectory(config=config)
        coursedir.root = str(self.root)
        return coursedir

    @property
    def cell_timeout(self) -> float | None:
        """Seconds a cell may run at autograde, as the course tells nbgrader (`c.Execute.timeout`,
        or the `c.ExecutePreprocessor.timeout` nbgrader's Execute inherits); None when it says
        none (or no limit).

        Read from the config file's own statements when they set it to a number (loading the
        config runs it, and the kit's classes it names import nbconvert: some 0.3 s at the start
        of `grader grade`); loaded as nbgrader loads it otherwise."""
        settings = _literal_timeouts(self.root / "nbgrader_config.py")
        if settings is None:
            config = self.coursedir.config
            settings = {section: config[section]["timeout"] for section in _TIMEOUT_SECTIONS
                        if section in config and "timeout" in config[section]}
        value = next((settings[section] for section in _TIMEOUT_SECTIONS if section in settings), None)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None

    @property
    def db_url(self) -> str:
        return self.coursedir.db_url

    @property
    def course_id(self) -> str:
        return self.coursedir.course_id

    def source_notebook(self) -> Path:
        return self.root / "source" / self.assignment / f"{self.notebook}.ipynb"

    def release_notebook(self) -> Path:
        return self.root / "release" / self.assignment / f"{self.notebook}.ipynb"

    def submitted_dir(self) -> Path:
        return self.root / "submitted"

    def submission_folder(self, student: str) -> Path:
        return self.submitted_dir() / student / self.assignment

    def autograded_notebook(self, student: str) -> Path:
        return self.root / "autograded" / student / self.assignment / f"{self.notebook}.ipynb"

    def feedback_html(self, student: str) -> Path:
        return self.root / "feedback" / student / self.assignment / f"{self.notebook}.html"

    def students(self) -> list[str]:
        """Student ids with a folder for this assignment under submitted/, sorted."""
        base = self.submitted_dir()
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.iterdir() if (p / self.assignment).is_dir())

    def secret(self) -> bytes:
        """The per-course secret that seeds hidden inputs; created (mode 0600) on first use.

        It is written whole under a private name and linked into place, so judges starting
        together all read the same complete secret.
        """
        path = self.root / SECRET_FILE
        if not path.exists():
            _create_atomically(path, secrets.token_hex(32))
        text = path.read_text().strip()
        if not text:
            raise CourseError(f"{path} is empty; delete it to make a new secret (hidden inputs will change)")
        return text.encode()


def course_root(path: str | os.PathLike) -> Path:
    """The course directory at `path`; CourseError when it has no nbgrader_config.py."""
    root = Path(path).resolve()
    if not (root / "nbgrader_config.py").is_file():
        raise CourseError(f"{root} is not a course directory (no nbgrader_config.py)")
    return root


def assignments_of(root: Path) -> list[str]:
    """Assignment ids: the folders of source/ that hold a notebook, sorted."""
    source = Path(root) / "source"
    if not source.is_dir():
        return []
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def _create_atomically(path: Path, text: str) -> None:
    draft = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    try:
        os.link(draft, path)
    except FileExistsError:  # another judge made it first: use theirs
        pass
    finally:
        os.unlink(draft)


def _literal_timeouts(config: Path) -> dict[str, object] | None:
    """The numbers a course config's own statements give `c.<section>.timeout`, by section (the
    last one counts), or None when the file cannot say alone: it loads other configs, it cannot be
    read or parsed, or it names `timeout` anywhere else than in `c.<section>.timeout = <number>`."""
    try:
        text = config.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return None
    found: dict[str, object] = {}
    read = 0
    for node in tree.body:
        target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
        if (isinstance(target, ast.Attribute) and target.attr == "timeout" and isinstance(target.value, ast.Attribute)
                and target.value.attr in _TIMEOUT_SECTIONS and isinstance(target.value.value, ast.Name)
                and target.value.value.id == "c" and isinstance(node.value, ast.Constant)):
            found[target.value.attr], read = node.value.value, read + 1
    named = sum(isinstance(n, ast.Attribute) and n.attr == "timeout" or isinstance(n, ast.Constant) and n.value == "timeout"
                for n in ast.walk(tree))
    return None if "load_subconfig" in text or named != read else found
