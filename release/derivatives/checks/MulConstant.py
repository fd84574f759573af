"""Visible checks for MulConstant: forward(ctx, x, k) = k * x with k kept on ctx; a gradient for x, None for k."""

import torch

from .runtime import (
    FunctionResult,
    Part,
    Subject,
    TensorValue,
    assert_close,
    confirm,
    describe,
    expect_float_tensor,
    expect_upstream_untouched,
    fail_if_raised,
    is_close,
    is_plain_class,
    note,
    number,
    show,
)

__all__ = ["PARTS", "forward", "backward", "require_function", "check_mul_constant"]

PARTS = (
    Part("forward", "forward returns k * x and keeps the number k on ctx"),
    Part("backward", "backward returns the upstream gradient times k for x, and None for k"),
)


def require_function(subject: Subject) -> None:
    info = subject.describe_class("MulConstant")
    plain = is_plain_class(subject.source_of, "MulConstant")
    assert confirm(subject, info["is_autograd_function"], plain, "MulConstant is an autograd Function"), (
        "MulConstant is not a subclass of torch.autograd.Function: write "
        "class MulConstant(torch.autograd.Function) with @staticmethod forward and backward.")


def _check_output(result: FunctionResult, expected: torch.Tensor, call: str) -> None:
    fail_if_raised(result.output, f"{call}: forward")
    output = expect_float_tensor(result.output, f"{call}: forward")
    assert_close(output, expected, f"{call}: forward", hint="forward computes k times x.")


def _check_grads(result: FunctionResult, expected: torch.Tensor, k: float, upstream: torch.Tensor,
                 call: str) -> None:
    assert len(result.grads) == 2, f"{call}: expected one gradient per input, got {len(result.grads)}."
    fail_if_raised(result.grads[0], f"{call}: backward")
    grad = expect_float_tensor(result.grads[0], f"{call}: the gradient for x",
                               none_hint="backward returns one gradient per input of forward: a tensor for x, None for k.")
    if k != 1 and is_close(grad.tensor, upstream, grad.dtype):
        raise AssertionError(
            f"{call}: your backward returns grad_output unchanged ({show(grad.tensor)}), ignoring "
            f"k: the gradient for x should be {show(expected)}. "
            "By the chain rule the upstream gradient is multiplied by the local derivative "
            "d(k*x)/dx = k: keep k on ctx in forward so backward can use it.")
    expect_upstream_untouched(result, call)
    assert_close(grad, expected, f"{call}: the gradient for x",
                 hint="d(k*x)/dx = k, times grad_output by the chain rule.")
    assert result.grads[1] is None, (
        f"{call}: the gradient for k is {describe(result.grads[1])}; expected None, "
        "because k is a Python number, not a tensor.")


def _holds(value: object, k: float) -> bool:
    if type(value) in (int, float):
        return abs(value - k) <= 1e-6 * max(1.0, abs(k))  # k rounded to float32 is still k
    if isinstance(value, TensorValue):
        return value.tensor.numel() == 1 and abs(float(value.tensor.reshape(())) - k) <= 1e-6 * max(1.0, abs(k))
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds(item, k) for item in value)
    return False


def _check_ctx(result: FunctionResult, k: float, call: str) -> None:
    assert any(_holds(v, k) for v in result.ctx.attributes.values()), (
        f"{call}: after forward, no attribute of ctx holds k = {number(k)}. k is a Python "
        "number, so store it as an attribute of ctx rather than with save_for_backward, "
        "which takes tensors only.")


def check_mul_constant(subject: Subject, x: torch.Tensor, k: float, upstream: torch.Tensor, part: str,
                       expected: torch.Tensor) -> None:
    """MulConstant.apply(x, k) for `upstream`: its output must be `expected` (part "forward"), or its
    gradient for x must be `expected` (part "backward")."""
    require_function(subject)
    shape = "a scalar" if x.dim() == 0 else f"a tensor of shape {list(x.shape)}"
    call = f"MulConstant.apply(x, {number(k)}) on {shape}"
    result = subject.autograd_function("MulConstant", [x, k], upstream)
    if part == "forward":
        _check_output(result, expected, call)
        _check_ctx(result, k, call)
        note(f"{call}: output {show(expected)}, and k kept on ctx")
    else:
        _check_grads(result, expected, k, upstream, call)
        note(f"{call}: gradient for x {show(expected)}, None for k")


def forward(subject: Subject) -> None:
    """The case shown in the notebook: k = 2 on [1, 2, 3]."""
    check_mul_constant(subject, torch.tensor([1.0, 2.0, 3.0], requires_grad=True), 2.0, torch.ones(3), "forward",
                       torch.tensor([2.0, 4.0, 6.0]))


def backward(subject: Subject) -> None:
    """k = 2 on [1, 2, 3], with an upstream gradient of ones."""
    check_mul_constant(subject, torch.tensor([1.0, 2.0, 3.0], requires_grad=True), 2.0, torch.ones(3), "backward",
                       torch.tensor([2.0, 2.0, 2.0]))
