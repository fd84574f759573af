"""Visible checks for Cube: gradcheck, the input kept with save_for_backward, then x.grad and its own gradient
at upstream gradients that are not all ones."""

import torch

from .runtime import Hint, assert_close, assert_gradcheck, expect_float_tensor

CHAIN = "backward returns grad_output times 3 * x ** 2, the derivative of x ** 3 at the x forward saved."
SAVED = Hint("forward must keep x with ctx.save_for_backward",
             "save_for_backward keeps x for backward as autograd tracks it, so backward can be differentiated again.")


def check_cube(subject, x: torch.Tensor, upstream: torch.Tensor, again: torch.Tensor) -> None:
    """gradcheck at x; x.grad for `upstream`; the gradient of x.grad · `again` (the product gradgradcheck checks)."""
    assert_gradcheck(subject, "Cube", [x], "Cube.apply(x)")
    reply = subject.autograd_function("Cube", [x], upstream, again)
    call = f"Cube.apply(x) at x = {x.tolist()} with upstream gradient {upstream.tolist()}"
    assert reply.ctx.saved_tensors == 1, f"Cube: {SAVED.cause}.\n{call}: ctx saved {reply.ctx.saved_tensors} tensors. {SAVED.text}"
    grad = expect_float_tensor(reply.grads[0], f"{call}: x.grad")
    assert_close(grad, upstream * 3 * x.detach() ** 2, f"{call}: x.grad", hint=CHAIN)
    twice = f"{call}: the gradient of x.grad · {again.tolist()}"
    assert_close(expect_float_tensor((reply.second or [None])[0], twice, none_hint=SAVED), again * upstream * 6 * x.detach(),
                 twice, hint=CHAIN)


def visible(subject) -> None:
    f64 = {"dtype": torch.float64}
    check_cube(subject, torch.tensor([0.5, -1.5, 2.0], requires_grad=True, **f64),
               torch.tensor([1.0, -0.5, 2.0], **f64), torch.tensor([0.5, 1.0, -1.0], **f64))
