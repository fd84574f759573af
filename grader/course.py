"""Where a course's files live, read from its nbgrader_config.py."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from grader.questions import ASSIGNMENT, NOTEBOOK

__all__ = ["Course", "CourseError"]

SECRET_FILE = ".grader-secret"


class CourseError(RuntimeError):
    """The course directory is not usable; the message says what to do."""


@dataclass(frozen=True)
class Course:
    """An nbgrader course directory holding the derivatives assignment."""

    root: Path
    assignment: str = ASSIGNMENT
    notebook: str = NOTEBOOK

    @classmethod
    def at(cls, root: str | os.PathLike = ".", assignment: str = ASSIGNMENT) -> "Course":
        """The course at `root`; CourseError when it has no nbgrader_config.py."""
        root = Path(root).resolve()
        if not (root / "nbgrader_config.py").is_file():
            raise CourseError(f"{root} is not a course directory (no nbgrader_config.py)")
        if assignment != ASSIGNMENT:
            raise CourseError(f"this kit grades the assignment {ASSIGNMENT!r}, not {assignment!r}")
        return cls(root=root, assignment=assignment)

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
