"""The notebook's own test cells, run in-process the way a student's kernel runs them."""

import contextlib
import io
import json
from pathlib import Path

import pytest
import torch
from sample import CHECKS, local_subject

from grader.runtime.probes import run_probe
from grader.runtime.subject import make_request

KIT = Path(__file__).resolve().parent.parent
SOURCE = KIT / "source" / "derivatives" / "derivatives.ipynb"
RELEASE = KIT / "release" / "derivatives" / "derivatives.ipynb"


def _run_cells(path: Path, monkeypatch) -> tuple[dict[str, BaseException | None], str]:
    """Exec every code cell in one namespace, in the notebook's folder as Jupyter would;
    each graded test cell's outcome, and all stderr."""
    import sys

    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(path.parent)
    monkeypatch.syspath_prepend(str(path.parent))
    for name in [n for n in sys.modules if n == "checks" or n.startswith("checks.")]:
        monkeypatch.delitem(sys.modules, name)
    outcomes: dict[str, BaseException | None] = {}
    namespace: dict = {"__name__": "__main__"}
    stderr = io.StringIO()
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        try:
            with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
                exec("".join(cell["source"]), namespace)
            outcome = None
        except Exception as exc:  # a release notebook's unanswered cells raise
            outcome = exc
        if grade_id.startswith("test_"):
            outcomes[grade_id.removeprefix("test_")] = outcome
    return outcomes, stderr.getvalue()


@pytest.mark.skipif(not SOURCE.exists(), reason="no source notebook")
def test_source_notebook_passes_every_test_cell_silently(monkeypatch):
    """Does the instructor's solution pass every visible and hidden test cell without writing to stderr?"""
    outcomes, stderr = _run_cells(SOURCE, monkeypatch)
    assert outcomes == dict.fromkeys(CHECKS, None)
    assert stderr == ""


@pytest.mark.skipif(not RELEASE.exists(), reason="no release notebook")
def test_release_notebook_fails_every_test_cell_with_a_message(monkeypatch):
    """Does the unanswered release notebook fail each test cell with AssertionError, never a crash?"""
    outcomes, _ = _run_cells(RELEASE, monkeypatch)
    assert set(outcomes) == set(CHECKS)
    assert all(isinstance(e, AssertionError) and str(e) for e in outcomes.values()), outcomes


@pytest.mark.skipif(not RELEASE.exists(), reason="no release notebook")
def test_an_undefined_answer_is_told_where_it_belongs_and_a_blank_one_once(monkeypatch):
    """In the unanswered release, is an answer that its cell never defined told that it is not
    defined and where it belongs (not that it "returned nothing"), and does a blank MulConstant get
    its one message, without a consequence of it (no gradients from a forward that raised)?"""
    outcomes, _ = _run_cells(RELEASE, monkeypatch)
    leaves = str(outcomes["leaves"])
    assert "leaf_and_intermediate_grads is not defined: write it in the answer cell above." in leaves
    assert "returned nothing" not in leaves and "LEAF_PREDICTIONS is not defined" in leaves
    assert str(outcomes["attributes"]).startswith("ATTRIBUTES is not defined: write it in the answer cell above.")
    blank = str(outcomes["MulConstant"]).splitlines()
    assert blank[0] == "MulConstant raised NotImplementedError: the answer is not written yet."
    assert not any("gradient" in line for line in blank), blank


def test_replies_fit_a_frame_whatever_the_student_returns():
    """Does a reply stay under the 8 MiB frame when the answer returns several huge tensors?"""
    namespace = {"huge": lambda: [torch.zeros(10**6, dtype=torch.float64)] * 4 + ["x" * 500] * 900}
    reply = run_probe(namespace, make_request("call", "huge"))
    assert len(json.dumps(reply)) < 8 * 1024 * 1024
    local_subject(namespace).call("huge")  # and it still decodes
