"""What students get: release/<assignment>/ alone, in a fresh venv with only its requirements.txt."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest
from sample import ASSIGNMENT, KIT_ROOT, SAMPLE, TUTORIAL_SQ, check_visible, solved, with_answers
from traitlets.config.loader import PyFileConfigLoader

from grader.course import Course
from grader.demo.run import prepare_course
from grader.release.generate import release_is_current
from grader.release.leaks import find_copied_answers, find_leaks
from grader.release.scaffold import RUNTIME_SHIM

pytestmark = pytest.mark.slow(10)  # its venv takes about 45 s to build

RELEASE = KIT_ROOT / "release" / ASSIGNMENT.id
# Runs inside the student's venv: execute a notebook with its own kernel, as Jupyter would.
EXECUTE = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
               resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[1])
"""


@pytest.fixture(scope="module")
def student_venv(tmp_path_factory) -> Path:
    """A fresh venv with nothing but release/<assignment>/requirements.txt installed."""
    folder = tmp_path_factory.mktemp("student") / "venv"
    venv.EnvBuilder(with_pip=True).create(folder)
    python = folder / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                    "-r", str(RELEASE / "requirements.txt")], check=True, timeout=1200)
    return folder


def _python(venv_folder: Path) -> str:
    return str(venv_folder / "bin" / "python")


def _run_notebook(venv_folder: Path, folder: Path, nb) -> nbformat.NotebookNode:
    path = folder / f"{ASSIGNMENT.notebook}.ipynb"
    nbformat.write(nb, path)
    subprocess.run([_python(venv_folder), "-c", EXECUTE, str(path), str(folder)], check=True,
                   timeout=900, cwd=folder, env={"PATH": str(venv_folder / "bin") + ":/usr/bin:/bin",
                                                 "HOME": str(folder), "MPLBACKEND": "Agg"})
    return nbformat.read(path, as_version=4)


def _test_cells(nb) -> dict[str, nbformat.NotebookNode]:
    return {c.metadata["nbgrader"]["grade_id"][len("test_"):]: c for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_")}


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def _errors(cell) -> list:
    return [o for o in cell.outputs if o.output_type == "error"]


def _copy_release(tmp_path: Path) -> Path:
    folder = tmp_path / "release"
    shutil.copytree(RELEASE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_the_kit_and_nbgrader_are_not_installed(student_venv):
    """Does the student's venv lack the kit and nbgrader (so nothing of them can help or leak)?"""
    done = subprocess.run([_python(student_venv), "-m", "pip", "list", "--format=json"],
                          capture_output=True, text=True, check=True)
    names = {p["name"].lower() for p in json.loads(done.stdout)}
    assert "torch" in names and not names & {"derivatives-grader", "nbgrader"}
    probe = subprocess.run([_python(student_venv), "-c", "import grader"], capture_output=True, cwd="/")
    assert probe.returncode != 0


def test_correct_notebook_passes_every_visible_test_with_the_same_messages(student_venv, tmp_path, capsys):
    """With only the release folder and its requirements, do a correct notebook's test cells all pass,
    printing the lines the kit's own visible checks print?"""
    release = nbformat.read(RELEASE / f"{ASSIGNMENT.notebook}.ipynb", as_version=4)
    ran = _run_notebook(student_venv, _copy_release(tmp_path), solved(release))
    namespace = {}
    exec(ASSIGNMENT.setup, namespace)
    for q in ASSIGNMENT.autograded:
        exec(ASSIGNMENT.banks.reference(q.id).source, namespace)
    for qid, cell in _test_cells(ran).items():
        assert not _errors(cell), (qid, _errors(cell))
        check_visible(qid, namespace)
        assert _stdout(cell) == capsys.readouterr().out, qid


def test_tutorial_sq_fails_its_visible_test_in_the_notebook(student_venv, tmp_path):
    """Does the tutorial's SQ fail its visible test, saying it ignores grad_output, without the checks' frames?"""
    release = nbformat.read(RELEASE / f"{ASSIGNMENT.notebook}.ipynb", as_version=4)
    ran = _run_notebook(student_venv, _copy_release(tmp_path), with_answers(solved(release), {"SQ": TUTORIAL_SQ}))
    [error] = _errors(_test_cells(ran)["SQ"])
    first = error["traceback"][0]
    assert "ignores grad_output" in first and len(first) < 120
    assert not any("runtime" in line or "File " in line for line in error["traceback"])


def test_a_test_cell_run_before_the_imports_cell_says_to_run_from_the_top(student_venv, tmp_path):
    """In a fresh kernel that never ran the notebook's first cell (only an answer cell and its test
    cell), does the test cell say to run the notebook from the top rather than raise a NameError?"""
    release = nbformat.read(RELEASE / f"{ASSIGNMENT.notebook}.ipynb", as_version=4)
    skipped = solved(release)
    skipped.cells = [c for c in skipped.cells if c.metadata.get("nbgrader", {}).get("grade_id") in ("grad_at", "test_grad_at")]
    ran = _run_notebook(student_venv, _copy_release(tmp_path), skipped)
    [error] = _errors(_test_cells(ran)["grad_at"])
    assert error["ename"] != "NameError" and "Run the notebook from the top" in error["evalue"], error


def test_missing_runtime_says_so_in_one_line(student_venv, tmp_path):
    """Opened away from its checks/ folder, does each test cell say why in one line, not a traceback?"""
    folder = tmp_path / "alone"
    folder.mkdir()
    release = nbformat.read(RELEASE / f"{ASSIGNMENT.notebook}.ipynb", as_version=4)
    ran = _run_notebook(student_venv, folder, solved(release))
    for qid, cell in _test_cells(ran).items():
        [error] = _errors(cell)
        assert len(error["traceback"]) == 1 and "checks/" in error["traceback"][0], (qid, error)


def _plain_nbgrader_release(tmp_path: Path, config_lines: str = "") -> Course:
    """A course of the sample released by `nbgrader generate_assignment` alone, through its
    nbgrader_config.py (with `config_lines` appended)."""
    course = prepare_course(tmp_path, KIT_ROOT, SAMPLE)
    with open(course.root / "nbgrader_config.py", "a") as config:
        config.write(config_lines)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", SAMPLE], cwd=course.root,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return course


def test_a_release_by_plain_nbgrader_is_the_kits_and_works_without_the_kit(student_venv, tmp_path):
    """Does `nbgrader generate_assignment derivatives`, typed by hand in the course, write the
    release `grader release` writes (the runtime beside the checks, the stamp), whose test cells
    pass in a student's venv without the kit?"""
    course = _plain_nbgrader_release(tmp_path)
    assert release_is_current(course) is True
    folder = course.release_notebook().parent
    ran = _run_notebook(student_venv, folder, solved(nbformat.read(course.release_notebook(), as_version=4)))
    for qid, cell in _test_cells(ran).items():
        assert not _errors(cell) and _stdout(cell).startswith("ok"), (qid, cell.outputs)


def test_a_release_without_the_kits_step_says_so_in_one_line(student_venv, tmp_path):
    """Released by nbgrader's own steps only (an older course config), so that the source's
    checks/runtime.py ships, does each test cell say in one line that the release must come from
    `grader release`, and not send the student looking for a checks/ folder they have?"""
    course = _plain_nbgrader_release(tmp_path, "\nfrom nbgrader.converters import GenerateAssignment\n"
                                     "c.GenerateAssignment.preprocessors = "
                                     "GenerateAssignment.class_traits()['preprocessors'].default()\n")
    folder = course.release_notebook().parent
    assert (folder / "checks" / "runtime.py").read_text() == RUNTIME_SHIM
    ran = _run_notebook(student_venv, folder, solved(nbformat.read(course.release_notebook(), as_version=4)))
    for qid, cell in _test_cells(ran).items():
        [error] = _errors(cell)
        [line] = error["traceback"]
        assert "`grader release`" in line and "keep this notebook" not in line, (qid, line)


def test_the_sample_ships_the_scaffolds_runtime_shim():
    """Is the sample's checks/runtime.py the one `grader new` writes (which says what a release
    made without the kit lacks)?"""
    assert (ASSIGNMENT.folder / "checks" / "runtime.py").read_text() == RUNTIME_SHIM


def test_nothing_installed_or_released_holds_a_solution(student_venv):
    """Does no file of the release hold a line of a solution, and no text file its requirements
    installed hold an answer's lines (three in a row: single lines like `plt.close(fig)` are common)?"""
    assert find_leaks(ASSIGNMENT, RELEASE) == []
    site = next((student_venv / "lib").glob("python3*/site-packages"))
    assert find_copied_answers(ASSIGNMENT, site) == []
    assert find_copied_answers(ASSIGNMENT, KIT_ROOT / "source" / ASSIGNMENT.id / "banks"), "the scan finds a bank"


def _guide_commands(where: str) -> list[list[str]]:
    """The commands of docs/students.md's shell blocks marked for `where` (own-machine or hub)."""
    guide = (KIT_ROOT / "docs" / "students.md").read_text()
    blocks = re.findall(rf"```shell {where}\n(.*?)```", guide, re.DOTALL)
    return [shlex.split(line) for block in blocks for line in block.splitlines() if line.strip()]


def test_the_student_guide_names_only_commands_that_run_where_it_says(student_venv):
    """Does every command docs/students.md gives for the student's own machine exist in a venv
    built from requirements.txt alone (JupyterLab starts, nbgrader is absent), and is every command
    it gives for the hub a command of nbgrader, for the course's id?"""
    own, hub = _guide_commands("own-machine"), _guide_commands("hub")
    assert own and hub
    bin_ = student_venv / "bin"
    for command in own:
        assert command[0] != "nbgrader", command
        if command[0] == ".":
            assert (bin_ / "activate").is_file() and command[1] == "venv/bin/activate", command
        elif command[0] == "pip":
            assert command[1:3] == ["install", "-r"] and command[3] == f"{ASSIGNMENT.id}/requirements.txt"
            assert (RELEASE / "requirements.txt").is_file()
        else:
            assert (bin_ / command[0]).is_file(), command
    jupyter = subprocess.run([str(bin_ / "jupyter"), "lab", "--version"], capture_output=True, text=True)
    assert jupyter.returncode == 0, jupyter.stderr
    assert not (bin_ / "nbgrader").exists()
    config = PyFileConfigLoader("nbgrader_config.py", path=str(KIT_ROOT)).load_config()
    for command in hub:
        assert command[0] == "nbgrader" and ASSIGNMENT.id in command[2], command
        if "--course" in command:
            assert command[command.index("--course") + 1] == config.CourseDirectory.course_id
        done = subprocess.run([sys.executable, "-m", "nbgrader", command[1], "--help"], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, (command, done.stderr[-500:])


def test_kit_python_is_not_the_students(student_venv):
    """Guard: the venv really is separate from the kit's interpreter."""
    assert Path(sys.prefix).resolve() != student_venv.resolve()
