"""Visible checks for ATTRIBUTES: the shape and types of its entries (values are checked at grading)."""

from .runtime import Subject, describe, expect_defined, failure, first_headline, kind_of, note

__all__ = ["visible", "entries", "FIELDS", "HINTS", "is_class_name"]

FIELDS = ("data", "grad", "grad_fn", "is_leaf", "requires_grad")
HINTS = {
    "data": "data is the tensor's value as a float.",
    "grad": "backward() stores dy/dx, its value at x, on the tensor you created; a tensor that is "
            "not a leaf keeps no gradient unless it called retain_grad().",
    "grad_fn": "grad_fn is the backward node of the operation that produced the tensor, and the "
               "entry is its class name, a str like 'MulBackward0' (the example cell above prints "
               "one), not the node itself or its repr; tensors you create yourself have None.",
    "is_leaf": "tensors you create directly are leaves; results of operations on tensors "
               "that require grad are not.",
    "requires_grad": "requires_grad spreads from x to everything computed from it.",
}
# What each entry must be, as the exercise asks: plain Python values a reader can compare, not tensors.
_TYPES = {"data": "a Python float", "grad": "a Python float or None",
          "grad_fn": "a class name (a str like 'MulBackward0') or None", "is_leaf": "a bool",
          "requires_grad": "a bool"}
_SHORT_TYPES = {"data": "a float", "grad": "a float or None", "grad_fn": "a class name or None",
                "is_leaf": "a bool", "requires_grad": "a bool"}
_NOT_A_VALUE = "A tensor is not the plain Python value asked for: .item() or float() gives its number."


def entries(subject: Subject) -> dict:
    """ATTRIBUTES, once it has a dict with the five keys for x and for y."""
    value = subject.get("ATTRIBUTES")
    expect_defined(value, "ATTRIBUTES")
    assert isinstance(value, dict), failure(f"ATTRIBUTES is {kind_of(value)}; expected a dict.",
                                            f"ATTRIBUTES is {describe(value)}; expected a dict.")
    for name in ("x", "y"):
        entry = value.get(name)
        assert isinstance(entry, dict), failure(f"ATTRIBUTES[{name!r}] is {kind_of(entry)}; expected a dict.",
                                                f"ATTRIBUTES[{name!r}] is {describe(entry)}; expected a dict.")
        missing = [f for f in FIELDS if f not in entry]
        assert not missing, failure(
            first_headline(f"ATTRIBUTES[{name!r}] lacks the keys {missing}.",
                           f"ATTRIBUTES[{name!r}] lacks some of the five keys."),
            f"ATTRIBUTES[{name!r}] lacks {missing}; expected the keys {list(FIELDS)}.")
    return value


def is_class_name(value: object) -> bool:
    """A class name as Python spells it ('PowBackward0'), not a node's repr ('<PowBackward0 object at ...>')."""
    return isinstance(value, str) and value.isidentifier()


def _has_type(field: str, value: object) -> bool:
    if field in ("is_leaf", "requires_grad"):
        return type(value) is bool
    if field == "grad_fn":
        return value is None or is_class_name(value)
    return type(value) in (int, float) or (field == "grad" and value is None)


def _type_headline(entry: str, field: str, value: object) -> str:
    if field == "grad_fn" and isinstance(value, str):
        return f"{entry} is a repr, not a class name like 'MulBackward0'."
    if field == "grad_fn" and not isinstance(value, str | bool | int | float | list | tuple | dict):
        return f"{entry} is the node itself, not its class name (a str)."
    return first_headline(f"{entry} is {kind_of(value)}; expected {_SHORT_TYPES[field]}.",
                          f"{entry} is not {_SHORT_TYPES[field]}.")


def visible(subject: Subject) -> None:
    """ATTRIBUTES has x and y, each with the five keys and values of the types asked for."""
    answers = entries(subject)
    for name in ("x", "y"):
        for field in FIELDS:
            got = answers[name][field]
            entry = f"ATTRIBUTES[{name!r}][{field!r}]"
            assert _has_type(field, got), failure(
                _type_headline(entry, field, got),
                f"{entry} is {describe(got)}; expected {_TYPES[field]}. {HINTS[field]}"
                + (f" {_NOT_A_VALUE}" if kind_of(got).endswith("tensor") else ""))
        leaf, grad_fn = answers[name]["is_leaf"], answers[name]["grad_fn"]
        assert not (leaf is False and grad_fn is None), failure(
            f"ATTRIBUTES[{name!r}] says is_leaf is False but grad_fn is None.",
            f"ATTRIBUTES[{name!r}] says is_leaf is False but grad_fn is None: a tensor that is not "
            "a leaf was produced by a recorded operation, so it has a grad_fn.")
    note("ATTRIBUTES has x and y with data, grad, grad_fn, is_leaf, requires_grad "
         "of the types asked for (their values are checked at grading)")
