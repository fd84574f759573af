"""assert_gradcheck and assert_gradgradcheck: gradcheck's and gradgradcheck's verdicts on a student's Function,
reached in the judge from the data a worker returns."""

from __future__ import annotations

import pytest
import torch

from grader.runtime import LocalSubject, assert_gradcheck, assert_gradgradcheck
from grader.runtime.subject import ProbeSubject

FUNCTIONS = '''
import torch

class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 3 * x ** 2

class CubeIgnoresUpstream(Cube):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2

class CubeSlopeOfSquare(Cube):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 2 * x

class CubeSumsUpstream(Cube):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output.sum() * 3 * x ** 2

class CubeThroughNumpy(Cube):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.from_numpy(3 * x.detach().numpy() ** 2)

class CubeSecondOrderHidden(Cube):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 3 * x.detach() ** 2 + 0 * x

class CubeSavesDetached(Cube):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x.detach())
        return x ** 3

class Mul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad_output):
        a, b = ctx.saved_tensors
        return grad_output * b, grad_output * a

class Scale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return x * k

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.k, None
'''
NAMES = ["Cube", "CubeIgnoresUpstream", "CubeSlopeOfSquare", "CubeSumsUpstream"]
SECOND_ORDER = ["Cube", "CubeSlopeOfSquare", "CubeThroughNumpy", "CubeSecondOrderHidden", "CubeSavesDetached"]
UPSTREAM = [1.0, -0.5, 2.0]


class WorkerProbes(ProbeSubject):
    def __init__(self, worker):
        self.worker = worker

    def exchange(self, request: dict) -> dict:
        return self.worker.probe(request, timeout=60)


def _namespace() -> dict:
    namespace: dict = {}
    exec(compile(FUNCTIONS, "<functions>", "exec"), namespace)
    return namespace


def _x() -> torch.Tensor:
    return torch.tensor([0.5, -1.25, 2.0], dtype=torch.float64, requires_grad=True)


def _verdict(subject, name: str) -> str:
    try:
        assert_gradcheck(subject, name, [_x()], f"{name}.apply(x)")
    except AssertionError as failed:
        return str(failed)
    return ""


def _second_verdict(subject, name: str) -> str:
    try:
        assert_gradgradcheck(subject, name, [_x()], torch.tensor(UPSTREAM, dtype=torch.float64), f"{name}.apply(x)")
    except AssertionError as failed:
        return str(failed)
    return ""


@pytest.mark.parametrize("name", NAMES)
def test_the_verdict_is_torch_gradchecks(name):
    """Does assert_gradcheck pass exactly the Functions torch.autograd.gradcheck passes (run here, on them)?"""
    function = _namespace()[name]
    torch_says = torch.autograd.gradcheck(function.apply, (_x(),), raise_exception=False)
    assert (_verdict(LocalSubject(_namespace()), name) == "") == torch_says


def test_a_wrong_backward_is_told_the_call_the_element_and_both_slopes():
    """Does a backward of 2x instead of 3x**2 read which output and input element, what backward gave,
    what the output's change gives, and the concept?"""
    message = _verdict(LocalSubject(_namespace()), "CubeSlopeOfSquare")
    assert message.startswith("CubeSlopeOfSquare.apply(x), gradcheck: d output[0] / d input 0[0]: your backward "
                              "gives 1.0; the change of forward's output gives 0.75")
    assert "upstream gradient times the derivative" in message


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_the_second_order_verdict_is_torch_gradgradchecks(name):
    """Does assert_gradgradcheck pass exactly the Functions torch.autograd.gradgradcheck passes (run here, with
    the same upstream gradient)?"""
    function = _namespace()[name]
    upstream = torch.tensor(UPSTREAM, dtype=torch.float64)
    torch_says = torch.autograd.gradgradcheck(function.apply, (_x(),), (upstream,), raise_exception=False)
    assert (_second_verdict(LocalSubject(_namespace()), name) == "") == torch_says


def test_a_backward_hidden_from_autograd_is_told_where_its_own_derivative_goes_wrong():
    """Does a backward whose values are right but whose own derivative autograd cannot see read the elements,
    both slopes, the upstream gradient and the concept, and one that leaves the graph read that autograd cannot differentiate it?"""
    message = _second_verdict(LocalSubject(_namespace()), "CubeSecondOrderHidden")
    assert message.startswith("CubeSecondOrderHidden.apply(x), gradgradcheck: d (input 0's gradient)[0] / d input 0[0]: "
                              "autograd through your backward gives 0.0; the change of backward's output gives 3.0"), message
    assert "[1.0, -0.5, 2.0]" in message and "ctx.save_for_backward" in message
    raised = _second_verdict(LocalSubject(_namespace()), "CubeSavesDetached")
    assert raised.startswith("CubeSavesDetached") and "autograd cannot differentiate what its backward returns" in raised


def test_the_second_order_of_a_function_of_two_tensors_is_checked_against_both():
    """Is the gradient of a two-input Function's first input differentiated against both inputs?"""
    a = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    b = torch.tensor([-0.5, 3.0], dtype=torch.float64, requires_grad=True)
    upstream = torch.tensor([1.0, -2.0], dtype=torch.float64)
    assert_gradgradcheck(LocalSubject(_namespace()), "Mul", [a, b], upstream, "Mul.apply(a, b)")
    with pytest.raises(ValueError):
        assert_gradgradcheck(LocalSubject(_namespace()), "Mul", [a, b], upstream.float(), "Mul.apply(a, b)")


def test_a_number_among_the_inputs_is_passed_as_it_is():
    """Is a Function of a tensor and a Python number checked on its tensor alone?"""
    assert_gradcheck(LocalSubject(_namespace()), "Scale", [_x(), 2.5], "Scale.apply(x, 2.5)")


def test_inputs_gradcheck_cannot_judge_are_the_checks_own_error():
    """Are float32 inputs, or too many elements, refused as the check's mistake (ValueError), not the student's?"""
    with pytest.raises(ValueError):
        assert_gradcheck(LocalSubject(_namespace()), "Cube", [torch.ones(2, requires_grad=True)], "Cube.apply(x)")
    with pytest.raises(ValueError):
        assert_gradcheck(LocalSubject(_namespace()), "Cube",
                         [torch.ones(40, dtype=torch.float64, requires_grad=True)], "Cube.apply(x)")


@pytest.mark.slow
def test_through_a_real_worker_the_verdicts_are_the_same(grader):
    """Through a grading worker, do the right Cube pass and each wrong one fail as in this process?"""
    worker = grader.parent.start_worker()
    try:
        assert worker.run_cell(0, FUNCTIONS, timeout=60, is_python=True).status == "ok"
        for name in NAMES:
            assert _verdict(WorkerProbes(worker), name) == _verdict(LocalSubject(_namespace()), name), name
        for name in SECOND_ORDER:
            assert _second_verdict(WorkerProbes(worker), name) == _second_verdict(LocalSubject(_namespace()), name), name
    finally:
        worker.close()
