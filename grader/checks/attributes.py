"""Checks for ATTRIBUTES: data, grad, grad_fn, is_leaf, requires_grad of x and y after y.backward()."""

import random
import warnings

import torch

from grader.checks.common import describe, note
from grader.runtime.subject import Subject
from grader.runtime.values import OtherValue, TensorValue

__all__ = ["visible", "hidden", "reference_attributes", "FIELDS"]

FIELDS = ("data", "grad", "grad_fn", "is_leaf", "requires_grad")
_HINTS = {
    "data": "data is the tensor's value as a float.",
    "grad": "after y.backward(), x.grad holds dy/dx; y is not a leaf, so y.grad stays None.",
    "grad_fn": "grad_fn names the backward node of the operation that produced the tensor "
               "(type(t.grad_fn).__name__); tensors you create yourself have None.",
    "is_leaf": "tensors you create directly are leaves; results of operations on tensors "
               "that require grad are not.",
    "requires_grad": "requires_grad spreads from x to everything computed from it.",
}


def reference_attributes() -> dict[str, dict]:
    """What torch reports for x = torch.tensor(2.0, requires_grad=True); y = x ** 2; y.backward()."""
    x = torch.tensor(2.0, requires_grad=True)
    y = x**2
    y.backward()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # reading .grad of a non-leaf warns
        return {name: _attributes(t) for name, t in (("x", x), ("y", y))}


def _attributes(t: torch.Tensor) -> dict:
    return {"data": float(t.detach()), "grad": None if t.grad is None else float(t.grad),
            "grad_fn": None if t.grad_fn is None else type(t.grad_fn).__name__,
            "is_leaf": bool(t.is_leaf), "requires_grad": bool(t.requires_grad)}


def _entries(subject: Subject) -> dict:
    value = subject.get("ATTRIBUTES")
    assert isinstance(value, dict), f"ATTRIBUTES is {describe(value)}; expected a dict."
    for name in ("x", "y"):
        entry = value.get(name)
        assert isinstance(entry, dict), f"ATTRIBUTES[{name!r}] is {describe(entry)}; expected a dict."
        missing = [f for f in FIELDS if f not in entry]
        assert not missing, f"ATTRIBUTES[{name!r}] lacks {missing}; expected the keys {list(FIELDS)}."
    return value


def _as_number(value: object) -> float | None:
    if isinstance(value, TensorValue) and value.tensor.numel() == 1 and value.dtype != "bool":
        return float(value.tensor.reshape(()).to(torch.float64))
    if type(value) in (int, float):
        return float(value)
    return None


def _matches(field: str, got: object, expected: object) -> bool:
    if field in ("is_leaf", "requires_grad"):
        return type(got) is bool and got == expected
    if expected is None:
        return got is None
    if field == "grad_fn":
        return got == expected or (isinstance(got, OtherValue) and got.type == expected)
    number = _as_number(got)
    return number is not None and abs(number - float(expected)) <= 1e-5 + 1e-4 * abs(expected)


def visible(subject: Subject) -> None:
    """ATTRIBUTES has entries for x and y with the five keys."""
    _entries(subject)
    note("ATTRIBUTES has x and y with data, grad, grad_fn, is_leaf, requires_grad")


def hidden(subject: Subject, rng: random.Random) -> None:
    """Every field against what torch reports."""
    answers = _entries(subject)
    for name, fields in reference_attributes().items():
        for field, expected in fields.items():
            got = answers[name][field]
            assert _matches(field, got, expected), (
                f"ATTRIBUTES[{name!r}][{field!r}] is {describe(got)}; torch reports "
                f"{expected!r}. {_HINTS[field]}")
