"""An assignment as the kit reads it from `source/<id>/`: its questions from the notebook, its checks and banks beside it.

The notebook is the single source of ids, points and answer names: a solution cell's
nbgrader `grade_id` is the question id, its `grader.answers` metadata lists the names the
answer defines, and the points are those of its test cell `test_<id>` (or of the cell
itself for a hand-graded answer). Beside the notebook: `checks/` (visible checks, shipped to
students), `hidden/` (grading-time checks) and `banks/` (answers), both instructor-only.
"""

from __future__ import annotations

import ast
import importlib
import importlib.machinery
import importlib.util
import re
import sys
import zlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType

from grader.ipynb import read_ipynb

__all__ = ["Assignment", "AssignmentError", "Question", "INSTRUCTOR_ONLY", "VISIBLE_CHECKS"]

VISIBLE_CHECKS = "checks"  # shipped with the release
INSTRUCTOR_ONLY = ("hidden", "banks")  # never released, never visible to a worker


class AssignmentError(RuntimeError):
    """The assignment's folder is incomplete or inconsistent; the message names the file to fix."""


@dataclass(frozen=True)
class Question:
    """One graded question: its solution cell's grade_id is `id`, its test cell is `test_<id>`."""

    id: str
    points: float
    answers: tuple[str, ...] = ()  # the names the student's answer defines
    manual: bool = False

    @property
    def test_cell_id(self) -> str:
        return f"test_{self.id}"


@dataclass(frozen=True)
class Assignment:
    """The questions of `source/<id>/<notebook>.ipynb` and the modules beside it."""

    id: str
    folder: Path
    notebook: str  # the notebook's file name without .ipynb
    questions: tuple[Question, ...]
    setup: str  # the notebook's first code cell (its imports), which every answer relies on

    @classmethod
    def load(cls, folder: Path) -> "Assignment":
        """Read `folder` (source/<id>/); AssignmentError names what is missing or inconsistent."""
        folder = Path(folder).resolve()
        path = notebook_in(folder)
        try:
            nb = read_ipynb(path)
        except Exception as exc:
            raise AssignmentError(f"{path}: not a readable notebook ({exc})") from None
        questions = tuple(_questions(nb, path))
        assignment = cls(folder.name, folder, path.stem, questions, _setup(nb))
        assignment._check_files()
        return assignment

    def __getstate__(self) -> dict:
        """Pickled without the modules and functions it loaded (a Dask worker loads its own)."""
        return {k: v for k, v in self.__dict__.items() if k in ("id", "folder", "notebook", "questions", "setup")}

    @property
    def autograded(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if not q.manual)

    @property
    def manual(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.manual)

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.questions)

    def question(self, question_id: str) -> Question:
        """The question with this id; KeyError names the known ids."""
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(f"no question {question_id!r}; known: {', '.join(q.id for q in self.questions)}")

    @property
    def notebook_path(self) -> Path:
        return self.folder / f"{self.notebook}.ipynb"

    @property
    def vocabulary_path(self) -> Path:
        """The functions the checks pass to student code (they run beside it, in the worker too)."""
        return self.folder / VISIBLE_CHECKS / "vocabulary.py"

    # ------------------------------------------------------------------ modules
    @cached_property
    def package(self) -> str:
        """The assignment's folder imported as a package of its own (checks, hidden, banks)."""
        name = "_assignment_" + re.sub(r"\W", "_", self.id) + f"_{zlib.crc32(str(self.folder).encode()):x}"
        if name not in sys.modules:
            spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
            module = importlib.util.module_from_spec(spec)
            module.__path__ = [str(self.folder)]
            sys.modules[name] = module
        return name

    def module(self, dotted: str) -> ModuleType:
        """`checks.grad_at`, `hidden.SQ`, `banks`... of this assignment."""
        return importlib.import_module(f"{self.package}.{dotted}")

    def compared(self, question_id: str) -> bool:
        """Whether the question is graded against the notebook's own solution (`grader.compared`)."""
        from grader.compared import is_compared

        return is_compared(self.folder, question_id)

    def visible_checks(self, question_id: str):
        """The question's visible check module, or a compared question's checks."""
        if self.compared(question_id):
            return self._compared_checks(question_id)
        return self.module(f"{VISIBLE_CHECKS}.{question_id}")

    def hidden_checks(self, question_id: str):
        if self.compared(question_id):
            return self._compared_checks(question_id)
        if not (self.folder / "hidden" / f"{question_id}.py").is_file():
            return None
        return self.module(f"hidden.{question_id}")

    def _compared_checks(self, question_id: str):
        from grader.compared import compared_checks

        cached = self.__dict__.setdefault("_compared", {})
        if question_id not in cached:
            cached[question_id] = compared_checks(self, question_id)
        return cached[question_id]

    def parts(self, question_id: str) -> tuple:
        """The Parts a question's visible check module declares (one for the whole question when
        it declares none). A PARTS of literal `Part(...)` calls is read from the file without
        running the module (and torch with it); any other is imported."""
        from grader.runtime.points import Part, parts_of

        path = self.folder / VISIBLE_CHECKS / f"{question_id}.py"
        if self.compared(question_id):
            path = self.folder / "hidden" / f"{question_id}.py"
        try:
            declared = _literal_parts(ast.parse(path.read_text(encoding="utf-8")))
        except (OSError, SyntaxError, ValueError):
            declared = None
        if declared is None:
            return parts_of(self.visible_checks(question_id))  # a compared question's declaration too
        return tuple(Part(*args, **kwargs) for args, kwargs in declared) or parts_of(None)

    def load_checks(self) -> None:
        """Import every question's visible and hidden checks (a judge does it while its worker starts)."""
        for q in self.autograded:
            self.visible_checks(q.id)
            self.hidden_checks(q.id)

    @cached_property
    def functions(self) -> dict:
        """The vocabulary's FUNCTIONS: name -> a function the checks may pass to student code."""
        return dict(getattr(self.module(f"{VISIBLE_CHECKS}.vocabulary"), "FUNCTIONS", {}))

    @cached_property
    def banks(self):
        from grader.banks import Banks

        if not (self.folder / "banks" / "__init__.py").is_file():
            raise AssignmentError(f"{self.folder / 'banks' / '__init__.py'}: missing (the answer banks)")
        from grader.compared import bank_answers

        banks = Banks(self.module("banks"))
        for q in self.autograded:
            if self.compared(q.id):
                banks.with_answers(*bank_answers(self, q.id))
        return banks

    def _check_files(self) -> None:
        checks = self.folder / VISIBLE_CHECKS
        for needed in ("__init__.py", "runtime.py", "vocabulary.py"):
            if not (checks / needed).is_file():
                raise AssignmentError(f"{checks / needed}: missing (see docs/authoring.md)")
        for q in self.autograded:
            if not (checks / f"{q.id}.py").is_file() and not self.compared(q.id):
                raise AssignmentError(f"{checks / (q.id + '.py')}: missing, the visible checks of {q.id} (or "
                                      f"hidden/{q.id}.py declaring VISIBLE and HIDDEN, see docs/authoring.md)")


def notebook_in(folder: Path) -> Path:
    """The one notebook of an assignment folder."""
    if not folder.is_dir():
        raise AssignmentError(f"{folder}: no such assignment folder")
    found = sorted(p for p in folder.glob("*.ipynb"))
    preferred = folder / f"{folder.name}.ipynb"
    if preferred in found:
        return preferred
    if len(found) != 1:
        raise AssignmentError(f"{folder}: expected one notebook, {folder.name}.ipynb, found "
                              f"{', '.join(p.name for p in found) or 'none'}")
    return found[0]


def _literal_parts(tree: ast.Module) -> list | None:
    """[(args, kwargs) of each Part(...) in a module's `PARTS = (...)`]; [] without PARTS; None
    when PARTS is anything but literal Part calls (or is bound more than once)."""
    bound = [node for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign))
             and any(isinstance(t, ast.Name) and t.id == "PARTS"
                     for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))]
    if not bound:
        return []
    if len(bound) > 1 or not isinstance(bound[0], ast.Assign) or not isinstance(bound[0].value, (ast.Tuple, ast.List)):
        return None
    declared = []
    for call in bound[0].value.elts:
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "Part"):
            return None
        if any(k.arg is None for k in call.keywords):
            return None
        declared.append(([ast.literal_eval(a) for a in call.args],
                         {k.arg: ast.literal_eval(k.value) for k in call.keywords}))
    return declared


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _questions(nb, path: Path):
    tests = {_meta(c).get("grade_id"): c for c in nb.cells
             if _meta(c).get("grade") and not _meta(c).get("solution")}
    for cell in nb.cells:
        meta = _meta(cell)
        if not meta.get("solution"):
            continue
        qid = meta.get("grade_id")
        if not qid:
            raise AssignmentError(f"{path}: a solution cell has no grade_id")
        if meta.get("grade"):
            yield Question(qid, _points(meta, path, qid), (), manual=True)
            continue
        test = tests.get(f"test_{qid}")
        if test is None:
            raise AssignmentError(f"{path}: solution cell {qid} has no test cell test_{qid}")
        answers = (cell.get("metadata", {}).get("grader") or {}).get("answers")
        if not answers or not all(isinstance(a, str) and a.isidentifier() for a in answers):
            raise AssignmentError(f"{path}: solution cell {qid} needs metadata "
                                  '"grader": {"answers": [<the names it defines>]}')
        yield Question(qid, _points(_meta(test), path, f"test_{qid}"), tuple(answers))


def _points(meta: dict, path: Path, cell_id: str) -> float:
    points = meta.get("points")
    if not isinstance(points, (int, float)) or isinstance(points, bool) or points <= 0:
        raise AssignmentError(f"{path}: cell {cell_id} needs positive nbgrader points, has {points!r}")
    return float(points)


def _setup(nb) -> str:
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            return cell.source
    return ""
