"""Hidden checks for leaves: every prediction against torch, and the gradients at random points."""

import random

import torch

from ..checks.leaves import EXPRESSIONS, WHY, check_grads, leaf_predictions

__all__ = ["predictions", "grads", "reference_predictions"]


def reference_predictions() -> dict[str, tuple[bool, bool]]:
    """What torch reports for each expression: (is_leaf, requires_grad)."""
    # eval of our own constant strings only, so the reference is exactly the text students see.
    scope = {"torch": torch, "__builtins__": {}}
    tensors = {text: eval(text, scope) for text in EXPRESSIONS}
    return {text: (bool(t.is_leaf), bool(t.requires_grad)) for text, t in tensors.items()}


def predictions(subject, rng: random.Random) -> None:
    """Every prediction against what torch reports."""
    answers = leaf_predictions(subject)
    for text, expected in reference_predictions().items():
        got = tuple(answers[text])
        assert got == expected, (
            f"LEAF_PREDICTIONS[{text!r}] is (is_leaf={got[0]}, requires_grad={got[1]}), which "
            f"is not what torch reports. {WHY}")


def grads(subject, rng: random.Random) -> None:
    """The gradients at random points."""
    for _ in range(2):
        check_grads(subject, round(rng.uniform(-5.0, 5.0), 3))
