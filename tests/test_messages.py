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
    answer,
    local_subject,
    question,
    reference,
    run_question,
    solved,
    with_answers,
)

from grader.release.audit import MIN_NAMED, named_by_message  # noqa: E402
from grader.release.leaks import find_leaks, secret_lines  # noqa: E402
from grader.runtime.cell import HEADLINE, failure_text  # noqa: E402
from grader.runtime.compare import _RAISED_HINTS  # noqa: E402
from grader.runtime.messages import is_headline  # noqa: E402
from grader.worker.session import definition_source  # noqa: E402

pytestmark = pytest.mark.duration(3)  # each runs a notebook or nbgrader


def _messages(wrong) -> list[str]:
    namespace: dict = {"__name__": "__main__"}
    exec(ASSIGNMENT.setup, namespace)
    sources = []
    for q in AUTOGRADED:
        source = wrong.source if q.id == wrong.question else reference(q.id).source
        exec(source, namespace)
        sources.append(source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        verdict = run_question(wrong.question, local_subject(namespace, lambda name: definition_source(sources, name)),
                               random.Random(0))  # the definitions as the judge reads them
    plt.close("all")
    return verdict.messages


@pytest.fixture(scope="module")
def all_messages() -> dict[str, list[str]]:
    return {wrong.name: _messages(wrong) for wrong in WRONG}


@pytest.mark.parametrize("name", [a.name for a in WRONG if a.cause])
def test_a_misconceptions_message_names_its_cause(all_messages, name):
    """Does each misconception's message hold the words its bank entry names its cause by?"""
    assert named_by_message(answer(name), all_messages[name]), (answer(name).cause, all_messages[name])


def test_nine_in_ten_misconceptions_are_named_by_their_message(all_messages):
    """Does the message of at least 90% of the WRONG bank name its cause (the bank's words for it)?"""
    named = [a.name for a in WRONG if named_by_message(a, all_messages[a.name])]
    assert len(named) >= MIN_NAMED * len(WRONG), sorted({a.name for a in WRONG} - set(named))


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
    texts = [m for messages in all_messages.values() for m in messages] + [hint.text for _, hint in _RAISED_HINTS]
    shown = [(line, text[:120]) for text in texts for line in statements
             if re.search(rf"(?<![\w.]){re.escape(line)}(?![\w(])", text)]
    assert shown == []


def test_every_misconception_gets_a_headline_validate_can_show(all_messages):
    """Is each failure's first line one whole sentence, under 90 characters (short enough for
    `nbgrader validate` to show whole), that starts with the question's answer it names, and is
    every message's first line such a headline, never cut inside an expression?"""
    for name, messages in all_messages.items():
        first = failure_text(messages, "").splitlines()[0]
        assert is_headline(first) and len(first) <= HEADLINE < 90, (name, first)
        answers = (answer(name).question, *question(answer(name).question).answers)
        for message in messages:
            headline = message.splitlines()[0]
            assert is_headline(headline) and headline.startswith(answers), (name, headline)
            assert "a check failed" not in headline, (name, headline)


# Failures nbgrader validate must show whole: each answer, its headline and words of its hint.
VALIDATED = (
    ("SQ", TUTORIAL_SQ, "SQ: your backward ignores grad_output, the upstream gradient.",
     "by the chain rule dL/di = dL/dy * dy/di"),
    ("derivative_on_grid", answer("grid_mean").source,
     "derivative_on_grid: every value is divided by 10: .mean() where .sum() belongs.",
     "The sum's gradient with respect to x_i is exactly f'(x_i)."),
    ("grad_at", answer("grad_at_y_grad").source,
     "grad_at returned None: the gradient is in the leaf's .grad, not y.grad.",
     "read it there after y.backward(), or use torch.autograd.grad."),
)


def test_nbgrader_validate_shows_why_the_tutorial_sq_fails(tmp_path):
    """Does `nbgrader validate`, on a student's notebook beside the release's checks, fail the
    tutorial's SQ and two other misconceptions, each with its whole headline (the cause) and its
    hint, and no line cut short?"""
    folder = tmp_path / ASSIGNMENT.id
    shutil.copytree(KIT_ROOT / "release" / ASSIGNMENT.id, folder, ignore=shutil.ignore_patterns("__pycache__"))
    release = nbformat.read(folder / f"{ASSIGNMENT.notebook}.ipynb", as_version=4)
    notebook = folder / f"{ASSIGNMENT.notebook}.ipynb"
    nbformat.write(with_answers(solved(release), {qid: source for qid, source, _, _ in VALIDATED}), notebook)
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ.get('PATH', '')}"}
    done = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(notebook)], capture_output=True,
                          text=True, cwd=folder, env=env, timeout=600)
    shown = done.stdout + done.stderr
    assert "VALIDATION FAILED ON 3 CELL(S)" in shown, shown[-3000:]
    errors = [block.split("=" * 10)[0] for block in shown.split("The error was:")[1:]]
    assert not [line for block in errors for line in block.splitlines() if line.endswith("...")], errors
    text = " ".join(" ".join(block.split()) for block in errors)
    for _, _, headline, hint in VALIDATED:
        assert f"\n    {headline}\n" in shown and hint in text, (headline, shown[-4000:])


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
    from grader.runtime.messages import Hint
    from grader.runtime.values import TensorValue

    with pytest.raises(AssertionError) as failure:
        assert_close(TensorValue(torch.tensor([4.0]), "float32", False, True, None), torch.tensor(4.0), "g(1.0)",
                     hint=Hint("something else", "a hint about something else"))
    assert SCALAR_SHAPE in str(failure.value) and "something else" not in str(failure.value)
