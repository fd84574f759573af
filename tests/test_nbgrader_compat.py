"""Stock `nbgrader autograde` and the kit agree on honest submissions, question by question.

The course's nbgrader_config.py routes `nbgrader autograde` through the kit's judge
(tests/test_nbgrader_autograde_path.py); this test overrides that with nbgrader's own
preprocessors, so the notebooks' test cells really run in a kernel and are compared with the kit.
"""

from __future__ import annotations

import copy

import nbformat
import pytest
from nbgrader.api import Gradebook
from sample import CORRECT, TUTORIAL_SQ, question, solved, with_answers, write_submission

from grader.judge.batch import autograde
from grader.judge.nbgrader_steps import STOCK_AUTOGRADE_PREPROCESSORS, STOCK_SANITIZE_PREPROCESSORS


def per_question(course, student: str) -> dict[str, float]:
    """{grade cell: score} of a student, for every grade cell the gradebook knows."""
    with Gradebook(course.db_url, course.course_id) as gb:
        notebook = gb.find_submission_notebook(course.notebook, course.assignment, student)
        return {grade.name: grade.score for grade in notebook.grades}


def ran_in_a_kernel(course, student: str) -> bool:
    """nbgrader's Execute numbers the cells it runs; the kit's judge leaves execution counts empty."""
    nb = nbformat.read(course.autograded_notebook(student), as_version=4)
    return any(cell.get("execution_count") for cell in nb.cells if cell.cell_type == "code")


@pytest.mark.slow(20)
def test_stock_nbgrader_gives_the_kit_scores_for_honest_submissions(course, release_nb):
    """Does nbgrader's own autograde (stock preprocessors, a real kernel) score honest styles, and the
    tutorial's SQ with its partial credit, as the kit does?"""
    from nbgrader.apps import NbGraderAPI

    reference = solved(release_nb)
    alternate = solved(release_nb, style="alternate")
    chatty = with_answers(reference, {a.question: a.source for a in CORRECT if "chatty" in a.name or "warns" in a.name})
    one_wrong = with_answers(reference, {"grad_at": "def grad_at(f, x0):\n    return torch.tensor(float(x0))\n"})
    tutorial = with_answers(reference, {"SQ": TUTORIAL_SQ})
    cases = {"ref": reference, "alt": alternate, "chatty": chatty, "wrong": one_wrong, "tutorial": tutorial}
    for student, nb in cases.items():
        write_submission(course.root, student, nb)
    kit = {student: per_question(course, student) for student in [r.student for r in autograde(course, jobs=1, show_progress=False)]}
    config = copy.deepcopy(course.coursedir.config)
    config.Autograde.autograde_preprocessors = STOCK_AUTOGRADE_PREPROCESSORS
    config.Autograde.sanitize_preprocessors = STOCK_SANITIZE_PREPROCESSORS
    api = NbGraderAPI(coursedir=course.coursedir, config=config)
    for student in cases:
        outcome = api.autograde(course.assignment, student, force=True, create=True)
        assert outcome["success"], outcome.get("error") or outcome.get("log")
        assert ran_in_a_kernel(course, student), "the stock comparison did not run nbgrader's Execute"
        assert per_question(course, student) == kit[student], f"{student}: stock nbgrader and the kit disagree"
    assert kit["wrong"]["test_grad_at"] == 0 and kit["ref"]["test_grad_at"] == 2
    assert 0 < kit["tutorial"]["test_SQ"] < question("SQ").points, "the tutorial's SQ earns partial credit"


@pytest.mark.duration(2)
def test_validation_without_the_iri_format_checker_still_refuses_a_broken_notebook():
    """With jsonschema's IRI format checker kept out (the kit's commands and judges do, as it
    compiles grammars for most of a second), does nbformat still validate, accepting a good
    notebook and refusing a broken one, without loading the grammar library?"""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from grader.ipynb import without_iri_format_checker\n"
        "without_iri_format_checker()\n"
        "import nbformat\n"
        "good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')])\n"
        "nbformat.validate(good)\n"
        "broken = nbformat.v4.new_notebook(); broken.cells = [{'cell_type': 'code'}]\n"
        "try:\n"
        "    nbformat.validate(broken)\n"
        "except nbformat.ValidationError:\n"
        "    print('refused', 'lark' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "refused False", done.stdout + done.stderr


@pytest.mark.duration(3)
def test_the_kits_commands_use_nbgrader_without_its_server_extensions():
    """With nbgrader loaded as a folder of modules (as every `grader` command does), do its
    gradebook, preprocessors and converters work, does `nbgrader.__version__` read as installed, is
    the Jupyter server left out, and is the formgrader's template folder the one its handlers use?"""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from grader.nbgrader_package import formgrader_templates, without_server_extensions\n"
        "without_server_extensions()\n"
        "from nbgrader.api import Gradebook\n"
        "from nbgrader.converters import GenerateFeedback\n"
        "from nbgrader.preprocessors import AssignLatePenalties\n"
        "import nbgrader\n"
        "with Gradebook('sqlite:///:memory:') as gb:\n"
        "    gb.add_student('ada')\n"
        "    print(len(gb.students), 'jupyter_server' in sys.modules, nbgrader.__version__)\n"
        "print(formgrader_templates())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    from nbgrader import __version__
    from nbgrader.server_extensions.formgrader.handlers import template_path

    assert done.stdout.splitlines() == [f"1 False {__version__}", template_path]
