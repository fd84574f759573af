"""Messages that teach: no solution line in any failure message, the essence first, Validate shows it."""

from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import sys
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pytest  # noqa: E402
from sample import (  # noqa: E402
    ASSIGNMENT,
    AUTOGRADED,
    KIT_ROOT,
    TUTORIAL_SQ,
    WRONG,
    local_subject,
    reference,
    run_question,
    solved,
    with_answers,
)

from grader.release.leaks import find_leaks, secret_lines  # noqa: E402
from grader.runtime.cell import HEADLINE, failure_text  # noqa: E402
from grader.runtime.compare import _RAISED_HINTS  # noqa: E402

pytestmark = pytest.mark.duration(3)  # each runs a notebook or nbgrader


def _messages(answer) -> list[str]:
    namespace: dict = {"__name__": "__main__"}
    exec(ASSIGNMENT.setup, namespace)
    sources = {}
    for q in AUTOGRADED:
        source = answer.source if q.id == answer.question else reference(q.id).source
        exec(source, namespace)
        sources.update({name: source for name in q.answers})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verdict = run_question(answer.question, local_subject(namespace, sources.get), random.Random(0))
    plt.close("all")
    return verdict.messages


@pytest.fixture(scope="module")
def all_messages() -> dict[str, list[str]]:
    return {answer.name: _messages(answer) for answer in WRONG}


# What the message of a misconception must name: its cause, not only the numbers.
CAUSES = {
    "sq_forward_squares_in_place": "the i your backward read held i ** 2",
    "sq_backward_returns_a_list": "not a list",
    "sq_saves_a_decoy": "never reads ctx.saved_tensors",
    "sq_saves_a_decoy_and_reads_it_unused": "none of which holds i",
    "attributes_grad_fn_repr": "not the node itself or its repr",
    "grid_leaves_a_grad_on_caller_x": "left a gradient in the caller's x.grad",
    "grad_at_forgets_return": "no return statement with a value",
    "grad_at_returns_the_grad_tuple": "torch.autograd.grad returns a tuple",
    "plot_returns_a_new_figure": "plt.figure makes a new, empty figure",
    "partials_leaves_of_shape_one": "has shape [1]",
    "sq_saved_tensors_not_unpacked": "ctx.saved_tensors is a tuple",
    "mulconstant_backward_returns_a_list": "a list counts as one gradient",
    "sq_scales_grad_output_in_place": "changed grad_output in place",
    "grid_points_as_the_gradient": "times x_i",
    "sq_saves_the_output_and_takes_its_root": "wrong sign where i < 0",
    "mulconstant_scales_grad_output_in_place": "changed grad_output in place",
}


@pytest.mark.parametrize("name", sorted(CAUSES))
def test_a_misconceptions_message_names_its_cause(all_messages, name):
    assert any(CAUSES[name] in message for message in all_messages[name]), all_messages[name]


def test_no_failure_message_of_a_bank_answer_holds_a_solution_line(all_messages, tmp_path):
    """Does every misconception's message guide without handing out a line of any solution or bank answer?"""
    folder = tmp_path / "messages"
    folder.mkdir()
    for name, messages in all_messages.items():
        assert messages, name
        (folder / f"{name}.txt").write_text("\n".join(messages))
    assert find_leaks(ASSIGNMENT, folder) == []


def test_no_message_spells_out_a_short_solution_statement(all_messages):
    """Does no message, nor any hint the runtime attaches to torch's errors, write out a solution's
    assignment or call, however short (`ctx.k = k`), which prose-level leak checks let through?"""
    answers, _ = secret_lines(ASSIGNMENT)
    statements = {line for line in answers if len(line) >= 8 and ("=" in line or line.endswith(")"))
                  and not line.startswith(("def ", "class ", "return", "@"))}
    texts = [m for messages in all_messages.values() for m in messages] + [hint for _, hint in _RAISED_HINTS]
    shown = [(line, text[:120]) for text in texts for line in statements
             if re.search(rf"(?<![\w.]){re.escape(line)}(?![\w(])", text)]
    assert shown == []


def test_every_misconception_gets_a_headline_validate_can_show(all_messages):
    """Does each failure's first line carry its essence in under ~90 characters?"""
    for name, messages in all_messages.items():
        first = failure_text(messages, "").splitlines()[0]
        assert 10 < len(first) <= HEADLINE, (name, first)


def test_nbgrader_validate_shows_why_the_tutorial_sq_fails(tmp_path):
    """Does `nbgrader validate` on the tutorial's SQ fail, and say that backward ignores grad_output?"""
    folder = tmp_path / ASSIGNMENT.id
    shutil.copytree(KIT_ROOT / "release" / ASSIGNMENT.id, folder, ignore=shutil.ignore_patterns("__pycache__"))
    release = nbformat.read(folder / f"{ASSIGNMENT.notebook}.ipynb", as_version=4)
    notebook = folder / f"{ASSIGNMENT.notebook}.ipynb"
    nbformat.write(with_answers(solved(release), {"SQ": TUTORIAL_SQ}), notebook)
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(notebook)], capture_output=True,
                          text=True, cwd=folder, env=env, timeout=600)
    shown = done.stdout + done.stderr
    assert "VALIDATION FAILED" in shown and "ignores grad_output" in shown, shown[-3000:]


def test_values_that_print_alike_are_told_apart_where_they_differ_most():
    """When got and expected print the same at six digits, does the message name the index
    where they differ most, both values in full and the tolerance that was exceeded?"""
    import torch

    from grader.runtime.compare import assert_close
    from grader.runtime.values import TensorValue

    got = torch.tensor([1.0, 2.0 + 3e-7, 3.0], dtype=torch.float64)
    with pytest.raises(AssertionError) as failure:
        assert_close(TensorValue(got, "float64", False, True, None), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64),
                     "f(x)")
    message = str(failure.value)
    assert "at index 1" in message and "2.0000003" in message and "float64 tolerance" in message, message


def test_a_one_element_list_tensor_is_told_from_a_0d_one():
    import torch

    from grader.runtime.compare import SCALAR_SHAPE, assert_close
    from grader.runtime.values import TensorValue

    with pytest.raises(AssertionError) as failure:
        assert_close(TensorValue(torch.tensor([4.0]), "float32", False, True, None), torch.tensor(4.0), "g(1.0)",
                     hint="a hint about something else")
    assert SCALAR_SHAPE in str(failure.value) and "something else" not in str(failure.value)
