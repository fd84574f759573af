"""Visible checks for Cube: gradcheck and gradgradcheck, the input kept with save_for_backward, and x.grad at an
upstream gradient that is not all ones."""

import torch

from .runtime import Hint, assert_close, assert_gradcheck, assert_gradgradcheck, expect_float_tensor

CHAIN = "backward returns grad_output times 3 * x ** 2, the derivative of x ** 3 at the x forward saved."
SAVED = Hint("forward must keep x with ctx.save_for_backward",
             "save_for_backward keeps x for backward as autograd tracks it, so backward can be differentiated again.")


def check_cube(subject, x: torch.Tensor, upstream: torch.Tensor) -> None:
    """gradcheck and gradgradcheck at x (the second at `upstream`); then x.grad for `upstream`."""
    assert_gradcheck(subject, "Cube", [x], "Cube.apply(x)")
    reply = subject.autograd_function("Cube", [x], upstream)
    call = f"Cube.apply(x) at x = {x.tolist()} with upstream gradient {upstream.tolist()}"
    assert reply.ctx.saved_tensors == 1, f"Cube: {SAVED.cause}.\n{call}: ctx saved {reply.ctx.saved_tensors} tensors. {SAVED.text}"
    assert_close(expect_float_tensor(reply.grads[0], f"{call}: x.grad"), upstream * 3 * x.detach() ** 2,
                 f"{call}: x.grad", hint=CHAIN)
    assert_gradgradcheck(subject, "Cube", [x], upstream, "Cube.apply(x)")


def visible(subject) -> None:
    f64 = {"dtype": torch.float64}
    check_cube(subject, torch.tensor([0.5, -1.5, 2.0], requires_grad=True, **f64), torch.tensor([1.0, -0.5, 2.0], **f64))
