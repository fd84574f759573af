"""Cube, compared with the notebook's solution: its output and input gradient, gradcheck and gradgradcheck."""
import torch

from grader.banks import Mistake

CONCEPT = "backward returns grad_output times 3 * x ** 2, the derivative of x ** 3 at the x forward saved."
GRADCHECK = ("gradcheck", "gradgradcheck")
VISIBLE = [torch.tensor([0.5, -1.5, 2.0], dtype=torch.float64, requires_grad=True)]


def HIDDEN(rng):
    return [torch.tensor([rng.uniform(-2, 2) for _ in range(4)], dtype=torch.float64, requires_grad=True)]


WRONG = (
    Mistake("cube_ignores_upstream", ("grad_output * 3", "3"), "ignores grad_output", cause="input 1's gradient"),
    Mistake("cube_3x", ("x ** 2", "x"), "takes 3 * x for the derivative of x ** 3", cause="input 1's gradient"),
    Mistake("cube_saves_output", ("save_for_backward(x)", "save_for_backward(x ** 3)"),
            "saves forward's output, not its input", cause="input 1's gradient"),
    Mistake("cube_ctx_attribute", (("ctx.save_for_backward(x)", "ctx.x = x"), ("(x,) = ctx.saved_tensors", "x = ctx.x")),
            "keeps x as an attribute of ctx", cause="save_for_backward"),
    Mistake("cube_saves_detached", ("save_for_backward(x)", "save_for_backward(x.detach())"),
            "saves a detached copy of x, so backward cannot be differentiated", cause="cannot differentiate"),
)
