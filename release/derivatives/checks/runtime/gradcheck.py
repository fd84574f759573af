"""gradcheck of a student's autograd Function, reached in the judge from the values its worker returns."""

from __future__ import annotations

import torch

from .compare import fail_if_raised, number
from .messages import answer_name, failure
from .values import RaisedValue, TensorValue

__all__ = ["assert_gradcheck", "assert_gradgradcheck", "MAX_GRADCHECK_ELEMENTS"]

MAX_GRADCHECK_ELEMENTS = 64  # input and output elements: one probe per element each way


def assert_gradcheck(subject, name: str, inputs: list, call: str, *, eps: float = 1e-6,
                     atol: float = 1e-5, rtol: float = 1e-3) -> None:
    """torch.autograd.gradcheck's verdict on the Function `name` at `inputs`, from data alone.

    The numerical Jacobian is built here from the outputs the worker returns at inputs moved by
    +-eps (central differences, as gradcheck does); the analytical one from the input gradients
    its backward returns for each one-hot upstream gradient. What this trusts: the worker's
    replies, plain data validated before use; student code never runs here. Every float64
    tensor of `inputs` that requires grad is checked; other inputs are passed as they are.
    """
    checked = _checked(inputs, "assert_gradcheck")
    base = _output(subject, name, inputs, call)
    if sum(inputs[k].numel() for k in checked) + base.numel() > MAX_GRADCHECK_ELEMENTS:
        raise ValueError(f"assert_gradcheck checks at most {MAX_GRADCHECK_ELEMENTS} elements")
    analytical = _analytical(subject, name, inputs, checked, base, call)
    for k in checked:
        for j in range(inputs[k].numel()):
            numerical = (_output(subject, name, _moved(inputs, k, j, eps), call)
                         - _output(subject, name, _moved(inputs, k, j, -eps), call)) / (2 * eps)
            for i in range(base.numel()):
                got, expected = analytical[k][i].reshape(-1)[j], numerical.reshape(-1)[i]
                assert abs(got - expected) <= atol + rtol * abs(expected), (
                    f"{call}, gradcheck: d output{_at(base, i)} / d input {k}{_at(inputs[k], j)}: your backward "
                    f"gives {number(float(got))}; the change of forward's output gives {number(float(expected))} "
                    f"(central differences, eps={eps:g}). backward must return, for each input, the upstream "
                    "gradient times the derivative of forward's output with respect to that input.")


def assert_gradgradcheck(subject, name: str, inputs: list, upstream: torch.Tensor, call: str, *,
                         eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3) -> None:
    """torch.autograd.gradgradcheck's verdict on the Function `name` at `inputs`, from data alone:
    whether its backward can itself be differentiated, and rightly.

    `g` is the gradient backward gives the first input that requires grad, for `upstream` (a
    float64 tensor of the output's shape; one that is not all ones also shows a backward that
    ignores it). The numerical Jacobian of `g` is built here from the `g` the worker returns at
    inputs moved by +-eps; the analytical one from the gradients of `g` the worker's autograd
    takes through the student's backward, for each one-hot second upstream. Trusted as in
    assert_gradcheck: the worker's replies, plain data validated before use.
    """
    checked = _checked(inputs, "assert_gradgradcheck")
    first = checked[0]
    if not isinstance(upstream, torch.Tensor) or upstream.dtype != torch.float64:
        raise ValueError("assert_gradgradcheck needs a float64 upstream gradient")
    if 2 * inputs[first].numel() + sum(inputs[k].numel() for k in checked) > MAX_GRADCHECK_ELEMENTS:
        raise ValueError(f"assert_gradgradcheck checks at most {MAX_GRADCHECK_ELEMENTS} elements")
    backward = f"{call}'s backward"
    rows = {k: [] for k in checked}  # per input: for each element i of g, d g[i] / d input
    for i in range(inputs[first].numel()):
        second = torch.zeros(inputs[first].numel(), dtype=torch.float64)
        second[i] = 1.0
        reply = subject.autograd_function(name, inputs, upstream, second.reshape(inputs[first].shape))
        fail_if_raised(reply.output, call)
        _expect_differentiable(reply.second or (), call)
        for k in checked:
            rows[k].append(_input_gradient(reply.second or [], inputs, k, f"{call}, autograd through its backward"))
    for k in checked:
        for j in range(inputs[k].numel()):
            numerical = (_first_gradient(subject, name, _moved(inputs, k, j, eps), upstream, first, backward)
                         - _first_gradient(subject, name, _moved(inputs, k, j, -eps), upstream, first, backward)) / (2 * eps)
            for i in range(inputs[first].numel()):
                got, expected = rows[k][i].reshape(-1)[j], numerical.reshape(-1)[i]
                assert abs(got - expected) <= atol + rtol * abs(expected), (
                    f"{call}, gradgradcheck: d (input {first}'s gradient){_at(inputs[first], i)} / d input {k}"
                    f"{_at(inputs[k], j)}: autograd through your backward gives {number(float(got))}; the change of "
                    f"backward's output gives {number(float(expected))} (central differences, eps={eps:g}, upstream "
                    f"{upstream.tolist()}). backward must compute its gradient with torch operations on what forward "
                    "saved with ctx.save_for_backward, so autograd can differentiate it again.")


def _expect_differentiable(second: tuple, call: str) -> None:
    """Fail, saying why, when autograd could not differentiate the gradient backward returned: it
    was computed from no tensor autograd tracks (a detached copy, numpy, .item())."""
    raised = next((g for g in second if isinstance(g, RaisedValue)), None)
    if raised is None or "does not require grad" not in raised.message:
        return
    raise AssertionError(failure(
        f"{answer_name(call)}: autograd cannot differentiate what its backward returns.",
        f"{call}, autograd through its backward raised {raised.type}: {raised.message.rstrip('.')}. backward must "
        "compute its gradient with torch operations on what forward saved with ctx.save_for_backward (not a "
        ".detach()ed copy, numpy or .item()), so autograd can differentiate it again."))


def _checked(inputs: list, check: str) -> list[int]:
    """The positions of the inputs a gradcheck moves: float64 tensors that require grad."""
    checked = [k for k, x in enumerate(inputs) if isinstance(x, torch.Tensor) and x.requires_grad]
    if not checked or any(inputs[k].dtype != torch.float64 for k in checked):
        raise ValueError(f"{check} needs float64 inputs that require grad")
    return checked


def _first_gradient(subject, name: str, inputs: list, upstream: torch.Tensor, first: int, backward: str) -> torch.Tensor:
    reply = subject.autograd_function(name, inputs, upstream)
    fail_if_raised(reply.output, backward.removesuffix("'s backward"))
    return _input_gradient(reply.grads, inputs, first, backward)


def _input_gradient(found: list, inputs: list, k: int, what: str) -> torch.Tensor:
    """Input k's gradient from a reply's list of them (none: zeros, as gradcheck reads an unused input)."""
    grad = found[k] if k < len(found) else None
    fail_if_raised(grad, what)
    if grad is None:
        return torch.zeros_like(inputs[k], dtype=torch.float64)
    assert isinstance(grad, TensorValue) and tuple(grad.shape) == tuple(inputs[k].shape), (
        f"{what} returned {grad!r:.80} for input {k}; expected a tensor of its shape {list(inputs[k].shape)}.")
    return grad.tensor.to(torch.float64)


def _output(subject, name: str, inputs: list, call: str) -> torch.Tensor:
    reply = subject.autograd_function(name, inputs, None)
    fail_if_raised(reply.output, call)
    assert isinstance(reply.output, TensorValue) and reply.output.dtype == "float64", (
        f"{call} returned {reply.output!r:.80}; expected a float64 tensor (forward keeps its input's dtype).")
    return reply.output.tensor


def _analytical(subject, name: str, inputs: list, checked: list[int], base: torch.Tensor, call: str) -> dict:
    """Per checked input: for each output element, the input gradient backward gives for its one-hot upstream."""
    rows: dict[int, list[torch.Tensor]] = {k: [] for k in checked}
    for i in range(base.numel()):
        upstream = torch.zeros(base.numel(), dtype=torch.float64)
        upstream[i] = 1.0
        reply = subject.autograd_function(name, inputs, upstream.reshape(base.shape))
        for k in checked:
            rows[k].append(_input_gradient(reply.grads, inputs, k, f"{call}'s backward"))
    return rows


def _moved(inputs: list, k: int, j: int, by: float) -> list:
    moved, shifted = list(inputs), inputs[k].detach().clone()
    shifted.view(-1)[j] += by
    moved[k] = shifted.requires_grad_(True)
    return moved


def _at(tensor: torch.Tensor, index: int) -> str:
    """`[1, 0]` for the flat `index` of a tensor of several elements; nothing for one of a single element."""
    if tensor.dim() == 0:
        return ""
    return str(list(torch.unravel_index(torch.tensor(index), tensor.shape))).replace("tensor(", "").replace(")", "")
