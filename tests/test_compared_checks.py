"""Compared checks on their own: parts, a diagnosis, containers and arguments read back, the shipped form."""

from __future__ import annotations

import json
import random
import re

import nbformat
import pytest
import torch
from test_gradcheck import _namespace

from grader.assignment import Assignment, AssignmentError
from grader.compared import compared_checks, shipped_cases
from grader.release.scaffold import TEST_CELL, new_assignment
from grader.runtime import (
    Call,
    CallResult,
    ComparedChecks,
    Fn,
    Hint,
    LocalSubject,
    Part,
    run_question,
)
from grader.runtime.compared import cases_by_part, function_reply, shipped_checks, upstream_for
from grader.runtime.probes import run_probe
from grader.runtime.subject import make_request

PARTS = (Part("values", "the value and its slope"), Part("step", "the step on w"))


def solution_tangent(f, x0):
    x = torch.tensor(float(x0), requires_grad=True)
    y = f(x)
    y.backward()
    return {"value": y.detach(), "slope": x.grad}


def solution_step(w):
    with torch.no_grad():
        w -= 0.5 * w
    return None


def doubled(call, got, expected):
    return Hint("the slope came back doubled", "the slope is twice the expected one") if isinstance(got, dict) else None


def checks(diagnose=None) -> ComparedChecks:
    solution = LocalSubject({"tangent": solution_tangent, "step": solution_step}, {"square": lambda x: x ** 2})
    visible = cases_by_part({"values": [Call(Fn("square"), 1.5)],
                             "step": []}, PARTS)
    return ComparedChecks("tangent", visible, lambda case: solution.call("tangent", *case.args, **case.kwargs),
                          "tangent returns f(x0) and f'(x0).",
                          lambda rng: {"values": [(Fn("square"),
                                                   rng.uniform(-2, 2))], "step": []},
                          diagnose, PARTS)


def student(tangent) -> LocalSubject:
    return LocalSubject({"tangent": tangent}, {"square": lambda x: x ** 2})


def test_a_right_answer_in_another_style_passes_every_part():
    """Does a tangent that uses torch.autograd.grad pass the compared parts, visible and hidden?"""
    def tangent(f, x0):
        x = torch.tensor(float(x0), dtype=torch.float64, requires_grad=True)
        y = f(x)
        (slope,) = torch.autograd.grad(y, x)
        return {"value": y.detach(), "slope": slope}

    verdict = run_question("tangent", ("tangent",), checks(), student(tangent), checks(), random.Random(1))
    assert verdict.passed, verdict.messages


def test_a_wrong_entry_of_a_returned_dict_is_named_with_the_diagnosis():
    """Does a tangent whose slope is doubled lose its part, with the diagnosis's cause in the headline and the
    dict entry, the value and the expected value named?"""
    def tangent(f, x0):
        result = solution_tangent(f, x0)
        return {**result, "slope": 2 * result["slope"]}

    verdict = run_question("tangent", ("tangent",), checks(doubled), student(tangent), checks(doubled),
                           random.Random(1))
    assert [p.status for p in verdict.parts] == ["failed", "passed"]
    message = verdict.messages[0]
    assert message.startswith("tangent: the slope came back doubled.")
    assert "tangent(square, 1.5)['slope']: got 6; expected 3." in message


def test_the_shipped_form_checks_in_the_students_kernel_from_data():
    """Do the cases as a release ships them (JSON of the calls and the solution's replies) pass the solution and
    fail a wrong answer, with nothing of the solution in the data but its replies?"""
    functions = {"square": lambda x: x ** 2}
    request = make_request("call", "tangent", args=(Fn("square"), 1.5), kwargs={})
    reply = run_probe({"tangent": solution_tangent}, json.loads(json.dumps(request)), functions)
    data = json.loads(json.dumps({"answer": "tangent", "concept": "", "parts": [],
                                  "cases": {"": [{"args": request["args"], "kwargs": {}, "reply": reply}]}}))
    shipped = shipped_checks(data)
    shipped.visible(LocalSubject({"tangent": solution_tangent}, functions))
    try:
        shipped.visible(LocalSubject({"tangent": lambda f, x0: {"value": f(torch.tensor(x0))}}, functions))
    except AssertionError as wrong:
        assert str(wrong) == ("tangent returned a dict whose keys are not the expected ones.\ntangent(square, 1.5): "
                              "got a dict with keys ['value']; expected a dict with keys ['slope', 'value'].")
    else:
        raise AssertionError("a dict without its slope passed")


def test_an_argument_changed_in_place_is_read_back():
    """Does a step that changes w other than the solution does fail, naming w's values after the call?"""
    solution = LocalSubject({"step": solution_step})
    w = torch.tensor([2.0, -4.0])
    compared = ComparedChecks("step", {"": [Call(w)]}, lambda case: solution.call("step", *case.args))
    compared.visible(LocalSubject({"step": solution_step}))
    try:
        compared.visible(LocalSubject({"step": lambda w: None}))
    except AssertionError as wrong:
        assert "step(tensor([2, -4] (shape [2]))) then argument 1: got [2, -4] (shape [2]); expected [1, -2]" \
            in str(wrong)
    else:
        raise AssertionError("a step that left w alone passed")


def test_an_argument_or_its_grad_wrong_after_the_call_is_named_in_the_headline():
    """Does an SGD step that returns None as it should, but leaves w as it was, its .grad not zeroed or w not
    finite, read that w (its .grad) holds other or non-finite values, rather than that the step returned them?"""
    def sgd_step(params, lr):
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad.zero_()

    def unzeroed(params, lr):
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad

    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    w.grad = torch.tensor([0.5, 1.5])
    solution = LocalSubject({"sgd_step": sgd_step})
    compared = ComparedChecks("sgd_step", {"": [Call([w], 0.1)]}, lambda case: solution.call("sgd_step", *case.args),
                              "A step moves each parameter in place, then zeroes its .grad.")
    def divided(params, lr):
        with torch.no_grad():
            for p in params:
                p /= 0.0
                p.grad.zero_()

    headlines = {}
    for name, answer in (("left", lambda params, lr: None), ("unzeroed", unzeroed), ("divided", divided)):
        with pytest.raises(AssertionError) as wrong:
            compared.visible(LocalSubject({"sgd_step": answer}))
        headlines[name] = str(wrong.value).splitlines()[0]
    assert headlines == {"left": "sgd_step: argument 1 after the call holds other values than expected.",
                         "unzeroed": "sgd_step: argument 1's .grad holds other values than expected.",
                         "divided": "sgd_step: argument 1 after the call holds non-finite values (nan or inf)."}


def test_a_value_answer_ships_no_expected_value(tmp_path):
    """Does a visible case of an answer that is a value (its expected value is the answer itself) stop the
    release's cases, naming the declaration?"""
    folder = new_assignment(tmp_path, "weights")
    nb = nbformat.read(folder / "weights.ipynb", as_version=4)
    answer = nbformat.v4.new_code_cell("WEIGHTS = {'a': 0.25, 'b': 0.75}")
    answer.metadata.update(nbgrader={"grade": False, "grade_id": "weights", "locked": False, "schema_version": 3,
                                     "solution": True}, grader={"answers": ["WEIGHTS"]})
    test = nbformat.v4.new_code_cell(TEST_CELL.format(comment="", qid="weights"))
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "test_weights", "locked": True, "points": 1,
                                 "schema_version": 3, "solution": False}
    nb.cells += [answer, test]
    nbformat.write(nb, folder / "weights.ipynb")
    (folder / "hidden" / "weights.py").write_text("VISIBLE = [()]\n")
    with pytest.raises(ValueError, match=r"hidden/weights.py: WEIGHTS is a value, not a function"):
        shipped_cases(Assignment.load(folder), "weights")


def test_a_value_answer_is_read_and_compared_at_grading():
    """Is an answer that is a value read (not called) and compared with the solution's, entry by entry?"""
    solution = LocalSubject({"WEIGHTS": {"a": 0.25, "b": 0.75}})
    compared = ComparedChecks("WEIGHTS", {}, lambda case: CallResult(solution.get("WEIGHTS")),
                              hidden_cases=lambda rng: {"": [()]}, value_answer=True)
    compared.hidden(LocalSubject({"WEIGHTS": {"b": 0.75, "a": 0.25}}), random.Random(0))
    with pytest.raises(AssertionError, match=r"WEIGHTS\['b'\]: got float 0.5; expected float 0.75"):
        compared.hidden(LocalSubject({"WEIGHTS": {"a": 0.25, "b": 0.5}}), random.Random(0))


CUBES = _namespace()  # tests/test_gradcheck.py's Cube and its wrong variants, defined as a notebook cell defines them
Cube, CubeIgnoresUpstream, CubeThroughNumpy = (CUBES[name] for name in ("Cube", "CubeIgnoresUpstream", "CubeThroughNumpy"))


class CubeInSetupContext(torch.autograd.Function):
    @staticmethod
    def forward(x):
        return x * x * x

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], output)

    @staticmethod
    def backward(ctx, g):
        x, _ = ctx.saved_tensors
        return 3 * x.pow(2) * g


class CubeOnCtx(Cube):
    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x ** 3

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * 3 * ctx.x ** 2


class CubeScalesUpstreamInPlace(Cube):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output.mul_(3 * x ** 2)


def function_checks(gradchecks=("gradcheck", "gradgradcheck")) -> ComparedChecks:
    """Cube compared with the solution's: applied at one visible x, its gradient at an upstream not all ones."""
    solution = LocalSubject({"Cube": Cube})
    x = torch.tensor([0.5, -1.5, 2.0], dtype=torch.float64, requires_grad=True)
    return ComparedChecks("Cube", {"": [Call(x)]}, lambda case: function_reply(solution, "Cube", case.args),
                          "backward returns grad_output times 3 * x ** 2.", function_answer=True, gradchecks=gradchecks)


@pytest.mark.parametrize("honest", [Cube, CubeInSetupContext], ids=lambda c: c.__name__)
def test_a_compared_function_passes_in_another_style(honest):
    """Does a Cube written with setup_context, saving its output too, pass as the solution does?"""
    function_checks().visible(LocalSubject({"Cube": honest}))


WRONG_FUNCTIONS = {
    CubeIgnoresUpstream: ("Cube: input 1's gradient holds other values than expected.",
                          "Cube.apply(tensor([0.5, -1.5, 2] (shape [3]))), backward at upstream gradient [1.5, -0.5, 2] "
                          "(shape [3]): input 1's gradient: got [0.75, 6.75, 12] (shape [3]); expected [1.125, -3.375, 24]"),
    CubeOnCtx: ("Cube: forward saved no tensor with ctx.save_for_backward.", "ctx saved 0 tensors"),
    CubeScalesUpstreamInPlace: ("Cube: backward changed grad_output in place.", "compute a new tensor from grad_output"),
    CubeThroughNumpy: ("Cube: autograd cannot differentiate what its backward returns.",
                       "(not a .detach()ed copy, numpy or .item())"),
}


def cube_as_a_function(x):
    return x ** 3


WRONG_FUNCTIONS[cube_as_a_function] = ("Cube is not an autograd Function: Cube.apply(tensor([0.5, -1.5, 2] (shape [3]))) "
                                       "cannot run.", "Write it as class Cube(torch.autograd.Function)")


@pytest.mark.parametrize("wrong", WRONG_FUNCTIONS, ids=lambda c: c.__name__)
def test_a_compared_function_names_what_differs(wrong):
    """Does a Cube that ignores grad_output, keeps x on ctx, scales grad_output in place or computes its
    gradient through numpy (which gradgradcheck cannot differentiate) fail, with that in its message?"""
    headline, detail = WRONG_FUNCTIONS[wrong]
    with pytest.raises(AssertionError) as failed:
        function_checks().visible(LocalSubject({"Cube": wrong}))
    assert str(failed.value).startswith(headline) and detail in str(failed.value), str(failed.value)


def test_a_compared_function_ships_its_cases_as_data():
    """Does the shipped form of a compared Function (the inputs, the upstream gradient and the solution's reply)
    give the same verdicts in a student's kernel as the judge's own comparison?"""
    x = torch.tensor([0.5, -1.5, 2.0], dtype=torch.float64, requires_grad=True)
    request = make_request("autograd_function", "Cube", inputs=[x],
                           upstream=upstream_for(function_reply(LocalSubject({"Cube": Cube}), "Cube", (x,)).output))
    reply = run_probe({"Cube": Cube}, json.loads(json.dumps(request)))
    data = json.loads(json.dumps({"answer": "Cube", "concept": "backward returns grad_output times 3 * x ** 2.",
                                  "parts": [], "function": True, "gradchecks": ["gradcheck", "gradgradcheck"],
                                  "cases": {"": [{"args": request["inputs"], "kwargs": {},
                                                  "upstream": request["upstream"], "reply": reply}]}}))
    for answer in (Cube, CubeInSetupContext, *WRONG_FUNCTIONS):
        verdicts = []
        for checks in (shipped_checks(data), function_checks()):
            try:
                checks.visible(LocalSubject({"Cube": answer}))
                verdicts.append("passed")
            except AssertionError as failed:
                verdicts.append(str(failed))
        assert verdicts[0] == verdicts[1], answer.__name__


@pytest.mark.parametrize(("declared", "error"), [
    ("GRADCHECK = ('gradchek',)", "GRADCHECK names 'gradchek'; it may name 'gradcheck' and 'gradgradcheck'"),
    ("GRADCHECK = 'gradcheck'\nANSWER = 'cube'", "GRADCHECK applies to an autograd Function; the answer is not one"),
])
def test_a_gradcheck_declaration_is_checked(tmp_path, declared, error):
    """Does a GRADCHECK naming an unknown check, or declared for an answer that is no autograd Function, stop
    with a one-line error naming the declaration?"""
    folder = new_assignment(tmp_path, "functions")
    nb = nbformat.read(folder / "functions.ipynb", as_version=4)
    answer = nbformat.v4.new_code_cell(
        "class Cube(torch.autograd.Function):\n    @staticmethod\n    def forward(ctx, x):\n        ctx.save_for_backward(x)\n"
        "        return x ** 3\n\n    @staticmethod\n    def backward(ctx, g):\n        (x,) = ctx.saved_tensors\n"
        "        return g * 3 * x ** 2\n\ndef cube(x):\n    return x ** 3")
    answer.metadata.update(nbgrader={"grade": False, "grade_id": "Cube", "locked": False, "schema_version": 3,
                                     "solution": True}, grader={"answers": ["Cube", "cube"]})
    test = nbformat.v4.new_code_cell(TEST_CELL.format(comment="", qid="Cube"))
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "test_Cube", "locked": True, "points": 1,
                                 "schema_version": 3, "solution": False}
    nb.cells += [answer, test]
    nbformat.write(nb, folder / "functions.ipynb")
    (folder / "hidden" / "Cube.py").write_text(f"{declared}\nHIDDEN = lambda rng: [()]\n")
    with pytest.raises(AssignmentError, match=r"hidden/Cube.py: " + re.escape(error)):
        compared_checks(Assignment.load(folder), "Cube")
