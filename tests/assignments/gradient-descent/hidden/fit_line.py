"""fit_line, compared with the notebook's solution: (w, b) after the given steps of gradient descent."""
from textwrap import dedent

import torch

from grader.banks import Answer

CONCEPT = ("Each step: backward() of the mean of the squared errors, then, under torch.no_grad(), move w and b in place "
           "against their gradients times lr, then zero both gradients before the next step.")
VISIBLE = [(torch.tensor([-1.0, 0.0, 1.0, 2.0]), torch.tensor([-1.5, 0.5, 2.5, 4.5]), 25, 0.1)]


def HIDDEN(rng):
    x = torch.tensor([rng.uniform(-2, 2) for _ in range(5)])
    return [(x, rng.uniform(-3, 3) * x + rng.uniform(-1, 1), rng.randint(10, 30), 0.05)]


WRONG = (
    Answer("fit_no_zero", "fit_line", dedent("""
        def fit_line(x, y, steps, lr):
            w, b = torch.zeros(()).requires_grad_(), torch.zeros(()).requires_grad_()
            for _ in range(steps):
                ((w * x + b - y) ** 2).mean().backward()
                with torch.no_grad():
                    w -= lr * w.grad
                    b -= lr * b.grad
            return w, b"""), "never zeroes the gradients, which then add up", cause="zero both gradients"),
    Answer("fit_ascends", "fit_line", dedent("""
        def fit_line(x, y, steps, lr):
            w, b = torch.zeros(()).requires_grad_(), torch.zeros(()).requires_grad_()
            for _ in range(steps):
                ((w * x + b - y) ** 2).mean().backward()
                with torch.no_grad():
                    for p in (w, b):
                        p += lr * p.grad
                        p.grad.zero_()
            return w, b"""), "steps along the gradient", cause="against their gradients"),
)
