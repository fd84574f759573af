"""Checks for MulConstant: forward(ctx, x, k) = k * x with k kept on ctx; backward (g * k, None)."""

import random

import torch

from grader.checks.common import (
    assert_close,
    describe,
    expect_float_tensor,
    fail_if_raised,
    is_close,
    note,
    number,
    show,
)
from grader.runtime.subject import FunctionResult, Subject
from grader.runtime.values import TensorValue

__all__ = ["visible", "hidden"]


def _require_function(subject: Subject) -> None:
    info = subject.describe_class("MulConstant")
    assert info["is_autograd_function"], (
        "MulConstant is not a subclass of torch.autograd.Function: write "
        "class MulConstant(torch.autograd.Function) with @staticmethod forward and backward.")


def _check_output(result: FunctionResult, x: torch.Tensor, k: float, call: str) -> None:
    fail_if_raised(result.output, f"{call}: forward")
    output = expect_float_tensor(result.output, f"{call}: forward")
    assert_close(output, k * x.detach(), f"{call}: forward", hint="forward must return k * x.")


def _check_grads(result: FunctionResult, x: torch.Tensor, k: float, upstream: torch.Tensor,
                 call: str) -> None:
    assert len(result.grads) == 2, f"{call}: expected one gradient per input, got {len(result.grads)}."
    fail_if_raised(result.grads[0], f"{call}: backward")
    grad = expect_float_tensor(result.grads[0], f"{call}: the gradient for x",
                               none_hint="backward must return (grad_output * k, None).")
    expected = upstream * k
    if k != 1 and is_close(grad.tensor, upstream, grad.dtype):
        raise AssertionError(
            f"{call}: your backward returns grad_output unchanged ({show(grad.tensor)}), ignoring "
            f"k: the gradient for x should be grad_output * k = {show(expected)}. "
            "Keep k on ctx in forward (ctx.k = k) and return (grad_output * ctx.k, None).")
    assert_close(grad, expected, f"{call}: the gradient for x",
                 hint="d(k*x)/dx = k, times grad_output by the chain rule.")
    assert result.grads[1] is None, (
        f"{call}: the gradient for k is {describe(result.grads[1])}; expected None, "
        "because k is a Python number, not a tensor.")


def _holds(value: object, k: float) -> bool:
    if type(value) in (int, float):
        return abs(value - k) <= 1e-9 * max(1.0, abs(k))
    if isinstance(value, TensorValue):
        return value.tensor.numel() == 1 and abs(float(value.tensor.reshape(())) - k) <= 1e-6 * max(1.0, abs(k))
    if isinstance(value, (list, tuple)):
        return any(_holds(item, k) for item in value)
    return False


def _check_ctx(result: FunctionResult, k: float, call: str) -> None:
    assert any(_holds(v, k) for v in result.ctx.attributes.values()), (
        f"{call}: after forward, no attribute of ctx holds k = {number(k)}. k is a Python "
        "number, so keep it on ctx directly (ctx.k = k) rather than in save_for_backward.")


def _check(subject: Subject, x: torch.Tensor, k: float, upstream: torch.Tensor) -> None:
    shape = "a scalar" if x.dim() == 0 else f"a tensor of shape {list(x.shape)}"
    call = f"MulConstant.apply(x, {number(k)}) on {shape}"
    result = subject.autograd_function("MulConstant", [x, k], upstream)
    _check_output(result, x, k, call)
    _check_grads(result, x, k, upstream, call)
    _check_ctx(result, k, call)
    note(f"{call}: output {show(k * x.detach())}, gradient for x {show(upstream * k)}")


def visible(subject: Subject) -> None:
    """The case shown in the notebook: k = 2 on [1, 2, 3] with upstream ones."""
    _require_function(subject)
    _check(subject, torch.tensor([1.0, 2.0, 3.0], requires_grad=True), 2.0, torch.ones(3))


def _random(rng: random.Random, shape: list[int], dtype: torch.dtype) -> torch.Tensor:
    count = 1
    for n in shape:
        count *= n
    return torch.tensor([rng.uniform(-3.0, 3.0) for _ in range(count)], dtype=dtype).reshape(shape)


def hidden(subject: Subject, rng: random.Random) -> None:
    """Random k (float and int), shapes, dtypes and upstream gradients."""
    _require_function(subject)
    k = round(rng.choice((-1, 1)) * rng.uniform(1.5, 4.0), 3)
    shape = [rng.randint(1, 4), rng.randint(1, 4)]
    _check(subject, _random(rng, shape, torch.float32).requires_grad_(True), k,
           _random(rng, shape, torch.float32))
    _check(subject, torch.tensor(1.5, requires_grad=True), rng.choice((3, -2, 5)),
           torch.tensor(round(rng.uniform(0.5, 2.0), 3)))
    x64 = _random(rng, [rng.randint(2, 6)], torch.float64).requires_grad_(True)
    _check(subject, x64, round(rng.uniform(-3.0, -0.5), 3), _random(rng, list(x64.shape), torch.float64))
