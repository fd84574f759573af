"""sgd_step, compared with the notebook's solution: the parameters after the step, and their .grad."""
from textwrap import dedent

import torch

from grader.banks import Answer

CONCEPT = ("A step moves each parameter in place (under torch.no_grad()), against its gradient times lr, "
           "then zeroes its .grad, which the next backward() would otherwise add to.")


def param(value, grad):
    p = torch.nn.Parameter(torch.tensor(value))
    p.grad = torch.tensor(grad)
    return p


VISIBLE = [([param([1.0, -2.0], [0.5, 1.5]), param(0.25, -1.0)], 0.1)]


def HIDDEN(rng):
    v = [rng.uniform(-2, 2) for _ in range(8)]
    return [([param(v[:3], v[3:6]), param(v[6], v[7])], round(rng.uniform(0.05, 0.5), 3))]


WRONG = (
    Answer("sgd_no_zero", "sgd_step", dedent("""
        def sgd_step(params, lr):
            with torch.no_grad():
                for p in params:
                    p -= lr * p.grad"""), "forgets to zero the gradients", cause="argument 1's .grad"),
    Answer("sgd_rebinds", "sgd_step", dedent("""
        def sgd_step(params, lr):
            with torch.no_grad():
                for p in params:
                    p = p - lr * p.grad
            for p in params:
                p.grad.zero_()"""), "rebinds p instead of updating it in place", cause="argument 1"),
    Answer("sgd_ascends", "sgd_step", dedent("""
        def sgd_step(params, lr):
            with torch.no_grad():
                for p in params:
                    p += lr * p.grad
                    p.grad.zero_()"""), "steps along the gradient", cause="argument 1"),
)
