"""fit_line, compared with the notebook's solution: (w, b) after the given steps of gradient descent."""
import torch

from grader.banks import Mistake

CONCEPT = ("Each step: backward() of the mean of the squared errors, then, under torch.no_grad(), move w and b in place "
           "against their gradients times lr, then zero both gradients before the next step.")
VISIBLE = [(torch.tensor([-1.0, 0.0, 1.0, 2.0]), torch.tensor([-1.5, 0.5, 2.5, 4.5]), 25, 0.1)]


def HIDDEN(rng):
    x = torch.tensor([rng.uniform(-2, 2) for _ in range(5)])
    return [(x, rng.uniform(-3, 3) * x + rng.uniform(-1, 1), rng.randint(10, 30), 0.05)]


WRONG = (
    Mistake("fit_no_zero", ("p.grad.zero_()", "pass"), "never zeroes the gradients, which then add up",
            cause="zero both gradients"),
    Mistake("fit_ascends", ("p -= lr", "p += lr"), "steps along the gradient", cause="against their gradients"),
)
