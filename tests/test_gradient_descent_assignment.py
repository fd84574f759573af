"""The gradient-descent assignment (tests/assignments/gradient-descent), written as docs/authoring.md
tells a new instructor: released beside the sample, audited, graded, and what each question costs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from guide import KIT_ROOT, empty_course, grader
from sample import SAMPLE

from grader.assignment import Assignment
from grader.demo.scenarios import with_answers

pytestmark = pytest.mark.slow(90)

NAME = "gradient-descent"
FIXTURE = Path(__file__).parent / "assignments" / NAME
BUDGET = 40  # a minimal question: three cells and one file (docs/authoring.md), 40 lines (tests/test_compared.py)
# The file beside the notebook that holds one question's lines: each is compared with the solution
# and declares everything in hidden/<q>.py (Cube, an autograd Function, its gradchecks too).
OWN_FILES = {qid: (f"hidden/{qid}.py",) for qid in ("mse_grads", "sgd_step", "fit_line", "Cube")}
# One misconception a question's bank holds, handed in alone: it must lose exactly its question, and
# its student read first the headline, then the call with what came back and what was expected.
HANDED_IN_WRONG = {
    "mse_grads_no_backward": ("mse_grads", "mse_grads: argument 1's .grad is None where a float32 tensor is expected.",
                              "then argument 1's .grad: got None; expected a torch tensor 0.416667"),
    "sgd_no_zero": ("sgd_step", "sgd_step: argument 1's .grad holds other values than expected.",
                    "then argument 1's .grad: got [0.5, 1.5] (shape [2]); expected [0, 0]"),
    "sgd_rebinds": ("sgd_step", "sgd_step: argument 1 after the call holds other values than expected.",
                    "then argument 1: got [1, -2] (shape [2]); expected [0.95, -2.15]"),
    "fit_no_zero": ("fit_line", "fit_line gave 4.07047 where 1.99199 is expected.",
                    "fit_line(tensor([-1, 0, 1, 2] (shape [4])), tensor([-1.5, 0.5, 2.5, 4.5] (shape [4])), 25, 0.1)[0]"),
    "cube_ignores_upstream": ("Cube", "Cube: input 1's gradient holds other values than expected.",
                              "backward at upstream gradient [1.5, -0.5, 2] (shape [3]): input 1's gradient: got "
                              "[0.75, 6.75, 12] (shape [3]); expected [1.125, -3.375, 24]"),
    "cube_ctx_attribute": ("Cube", "Cube: forward saved no tensor with ctx.save_for_backward.",
                           "Cube.apply(tensor([0.5, -1.5, 2] (shape [3]))): ctx saved 0 tensors"),
    "cube_saves_detached": ("Cube", "Cube: autograd cannot differentiate what its backward returns.",
                            "Cube.apply(tensor([0.5, -1.5, 2] (shape [3]))), autograd through its backward raised RuntimeError"),
}


def _cells_of(nb: nbformat.NotebookNode, qid: str) -> list:
    """The question's cells: those after the previous question's test cell (after the import cell and the
    title `grader new` writes, for the first) up to its own test cell."""
    ids = [(c.metadata.get("nbgrader") or {}).get("grade_id") or "" for c in nb.cells]
    answer, test = ids.index(qid), ids.index(f"test_{qid}")
    before = [i for i, gid in enumerate(ids[:answer]) if gid.startswith("test_")]
    return nb.cells[(before[-1] + 1 if before else 2):test + 1]


def own_lines(qid: str) -> dict[str, tuple[int, int]]:
    """(non-blank lines, lines) the question adds, by file: its notebook cells and its own files."""
    nb = nbformat.read(FIXTURE / f"{NAME}.ipynb", as_version=4)
    texts = {f"{NAME}.ipynb": "\n".join(c.source for c in _cells_of(nb, qid))}
    texts |= {name: (FIXTURE / name).read_text() for name in OWN_FILES[qid]}
    return {name: (sum(1 for ln in text.splitlines() if ln.strip()), len(text.splitlines()))
            for name, text in texts.items()}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> tuple[Path, str]:
    """A course holding the sample assignment and, beside it, gradient-descent, released by `grader
    release` (its audit's output)."""
    root = empty_course(tmp_path_factory.mktemp("gd") / "course")
    for tree in ("source", "release"):
        shutil.copytree(KIT_ROOT / tree / SAMPLE, root / tree / SAMPLE, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(FIXTURE, root / "source" / NAME, ignore=shutil.ignore_patterns("__pycache__"))
    done = grader(root, "release", NAME)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    return root, done.stdout


@pytest.fixture(scope="module")
def solutions(course) -> dict[str, str]:
    """Each autograded question's answer cell as the source notebook holds it (the solution)."""
    nb = nbformat.read(course[0] / "source" / NAME / f"{NAME}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if (c.metadata.get("nbgrader") or {}).get("solution")}


def _grade(root: Path, answers: dict[str, str], name: str) -> dict[str, dict]:
    """`grader grade --json` of the release with these answers: each question's result by id."""
    release = nbformat.read(root / "release" / NAME / f"{NAME}.ipynb", as_version=4)
    nbformat.write(with_answers(release, answers), root / f"{name}.ipynb")
    done = grader(root, "grade", f"{name}.ipynb", "--json")
    assert done.returncode in (0, 1), done.stderr[-2000:]
    return {q["id"]: q for q in json.loads(done.stdout)["questions"]}


@pytest.mark.parametrize("qid", OWN_FILES)
def test_a_question_costs_at_most_40_lines_of_its_own(qid):
    """Does the question cost at most 40 non-blank lines of its own (its notebook cells and its files), in
    the notebook and at most one other file, as a minimal question does?"""
    lines = own_lines(qid)
    total = sum(nonblank for nonblank, _ in lines.values())
    assert total <= BUDGET and len(lines) <= 2, lines


def test_the_release_passes_its_audit_each_misconception_losing_its_question(course):
    """Does `grader release gradient-descent`, beside the sample assignment, pass its audit: the solution
    full, every bank misconception losing exactly its question, each compared question at hidden inputs?"""
    _, out = course
    assert "audit passed" in out, out[-3000:]
    wrong = Assignment.load(FIXTURE).banks.wrong
    assert len(wrong) >= 10
    for answer in wrong:
        assert f"ok  wrong answer {answer.name} loses exactly {answer.question}:" in out, answer.name
    for qid in ("mse_grads", "sgd_step", "fit_line"):
        assert f"ok  {qid} is compared at hidden inputs too" in out


def test_the_solution_scores_full_marks(course, solutions):
    """Does the notebook's own solution, handed in as a student's notebook, score 8 of 8?"""
    graded = _grade(course[0], solutions, "solution")
    assert {qid: q["score"] for qid, q in graded.items()} == {"mse_grads": 2, "sgd_step": 2, "fit_line": 2, "Cube": 2}


@pytest.mark.parametrize("name", HANDED_IN_WRONG)
def test_a_misconception_loses_exactly_its_question_naming_the_call_and_values(course, solutions, name):
    """Does a notebook right but for one misconception (a .grad left unset, not zeroed, a parameter
    rebound instead of updated in place, gradients added up across steps, a backward that ignores
    grad_output, an input kept on ctx or saved detached, which gradcheck passes) lose exactly that question, with a message naming the call, what came back and what
    was expected?"""
    qid, headline, shown = HANDED_IN_WRONG[name]
    answer = Assignment.load(FIXTURE).banks.answer(name)
    graded = _grade(course[0], {**solutions, qid: answer.source}, name)
    assert {q: r["score"] for q, r in graded.items() if r["score"] < r["max_score"]} == {qid: 0}
    message = "\n".join(graded[qid]["messages"])
    assert message.startswith(headline) and shown in message and answer.cause in message, message
