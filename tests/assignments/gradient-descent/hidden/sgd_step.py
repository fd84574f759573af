"""sgd_step, compared with the notebook's solution: the parameters after the step, and their .grad."""
import torch

from grader.banks import Mistake

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
    Mistake("sgd_no_zero", ("p.grad.zero_()", "pass"), "forgets to zero the gradients", cause="argument 1's .grad"),
    Mistake("sgd_rebinds", (("p -= lr * p.grad", "p = p - lr * p.grad"), ("p.grad.zero_()", "pass")),
            "rebinds p instead of updating it in place", cause="argument 1"),
    Mistake("sgd_ascends", ("p -= lr", "p += lr"), "steps along the gradient", cause="argument 1"),
)
