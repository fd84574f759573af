"""mse_grads, compared with the notebook's solution: the loss, and the .grad it leaves on w and b."""
from textwrap import dedent

import torch

from grader.banks import Answer

CONCEPT = "The loss is the mean of the squared errors of w * x + b; backward() leaves dloss/dw in w.grad, dloss/db in b.grad."
VISIBLE = [(torch.tensor(0.5, requires_grad=True), torch.tensor(-1.0, requires_grad=True),
            torch.tensor([1.0, 2.0, -1.5]), torch.tensor([2.0, 0.5, 1.0]))]


def HIDDEN(rng):
    def draw(n):
        return torch.tensor([rng.uniform(-2, 2) for _ in range(n)])
    return [(draw(1)[0].requires_grad_(), draw(1)[0].requires_grad_(), draw(4), draw(4)) for _ in range(2)]


WRONG = (
    Answer("mse_grads_sum", "mse_grads", dedent("""
        def mse_grads(w, b, x, y):
            loss = ((w * x + b - y) ** 2).sum()
            loss.backward()
            return loss"""), "sums the squared errors", cause="the mean of the squared errors"),
    Answer("mse_grads_no_backward", "mse_grads", dedent("""
        def mse_grads(w, b, x, y):
            return ((w * x + b - y) ** 2).mean()"""), "never calls backward", cause="argument 1's .grad"),
)
