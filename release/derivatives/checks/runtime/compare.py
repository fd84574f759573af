"""Comparison helpers for checks: what a value is, in words, and closeness with student-facing messages."""

import contextlib
import contextvars
import math
from collections.abc import Iterator

import torch

from .values import FigureValue, Missing, OtherValue, RaisedValue, TensorValue

__all__ = [
    "TOLERANCES", "expect_upstream_untouched", "fail_if_raised", "note", "collecting_notes", "describe", "show",
    "expect_float_tensor", "assert_close", "is_close", "explain_raised", "number",
]

TOLERANCES: dict[str, tuple[float, float]] = {"float32": (1e-4, 1e-5), "float64": (1e-7, 1e-9)}
_FLOAT_DTYPES = ("float32", "float64")
_NOTES: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("notes", default=None)

# Substrings of torch's error messages -> the misconception behind them, for students.
_RAISED_HINTS: tuple[tuple[str, str], ...] = (
    ("only tensors of floating point", "an integer tensor cannot require gradients: build the "
     "leaf from a float (an int x0 makes an integer tensor)"),
    ("can't call numpy() on tensor that requires grad", "call .detach() before .numpy() "
     "(matplotlib calls .numpy() on tensors you pass it)"),
    ("save_for_backward can only save variables", "save_for_backward only takes tensors; "
     "a Python number can be kept as an ordinary attribute of ctx instead"),
    ("incorrect number of gradients", "backward must return one gradient per input of "
     "forward, with None for non-tensor inputs, as a tuple (a list counts as one gradient)"),
    ("only integer tensors of a single element can be converted to an index", "a tuple or list "
     "was multiplied by a tensor: ctx.saved_tensors is a tuple of the saved tensors, even when "
     "there is one, so take the tensor out of it"),
    ("x, y, and format string must not be none", "something plotted was None: x.grad stays None "
     "until backward() has run on a result computed from x"),
    ("does not require grad and does not have a grad_fn", "what was differentiated is not "
     "connected to a leaf that requires grad: the leaf needs requires_grad=True before f is "
     "computed, and f must not be computed under torch.no_grad() or from a .detach()ed or .data "
     "tensor"),
    ("returned a gradient different than none at position", "backward returns one gradient per "
     "input of forward, in forward's order, with None for an input that is not a tensor"),
    ("backward through the graph a second time", "backward() frees the graph it ran through, "
     "so a second backward() through the same graph fails: call it once per result (or pass "
     "retain_graph=True to the first), and make a fresh leaf on every call of your function"),
    ("grad can be implicitly created only for scalar outputs", "backward() without arguments "
     "needs a scalar: reduce with .sum() first (or pass gradient=torch.ones_like(y))"),
    ("expected variable or none (got ", "backward returns each gradient as a tensor (one per "
     "input of forward, as a tuple when there are several), not a list or a Python number"),
    ("a leaf variable that requires grad is being used in an in-place operation",
     "do not modify a leaf in place; work on a copy"),
)


def note(text: str) -> None:
    """Record a passing case (printed by the notebook for visible checks)."""
    notes = _NOTES.get()
    if notes is not None:
        notes.append(text)


@contextlib.contextmanager
def collecting_notes() -> Iterator[list[str]]:
    """Collect the notes of the checks run inside the block."""
    notes: list[str] = []
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)


def show(tensor: torch.Tensor) -> str:
    """A short readable rendering of a tensor's values."""
    values = tensor.detach().to(torch.float64).reshape(-1).tolist()
    if tensor.dim() == 0:
        return f"{values[0]:.6g}"
    shown = ", ".join(f"{v:.6g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")
    return f"[{shown}] (shape {list(tensor.shape)})"


def describe(value: object) -> str:
    """What a decoded student value is, in words."""
    if isinstance(value, TensorValue):
        return f"a {value.dtype} tensor {show(value.tensor)}"
    if isinstance(value, RaisedValue):
        return f"an exception {value.type}: {value.message}"
    if isinstance(value, Missing):
        return "nothing (the name is not defined)"
    if isinstance(value, FigureValue):
        return f"a figure with {len(value.axes)} axes"
    if isinstance(value, OtherValue):
        return f"a {value.type} object ({value.repr})"
    if value is None:
        return "None"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} item{'' if len(value) == 1 else 's'}"
    return f"{type(value).__name__} {value!r}"[:200]


def explain_raised(value: RaisedValue) -> str:
    """The likely misconception behind an exception, or a generic hint."""
    if value.type == "NotImplementedError":
        return "write your answer in place of raise NotImplementedError()"
    text = value.message.lower()
    for fragment, hint in _RAISED_HINTS:
        if fragment in text:
            return hint
    return "fix the error and run the cell again"


def fail_if_raised(value: object, call: str) -> None:
    """Fail with the exception and its likely misconception if student code raised."""
    if isinstance(value, RaisedValue):
        detail = f": {value.message.rstrip('.')}" if value.message.strip() else ""
        raise AssertionError(f"{call} raised {value.type}{detail}. Hint: {explain_raised(value)}.")


def expect_upstream_untouched(result: object, call: str) -> None:
    """Assert an autograd Function's backward left the upstream gradient (grad_output) as it was."""
    assert not getattr(result, "upstream_changed", False), (
        f"{call}: backward changed grad_output in place. Autograd may hand that same tensor to "
        "other parts of the graph (an input used twice receives it twice), so compute a new "
        "tensor from grad_output rather than writing into it (*=, +=, mul_).")


def expect_float_tensor(value: object, call: str, *, none_hint: str | None = None) -> TensorValue:
    """Assert `value` is a float32/float64 tensor; messages explain the other cases."""
    fail_if_raised(value, call)
    assert not isinstance(value, Missing), (
        f"{call} could not run: the name is not defined. Run the cell that defines your answer, "
        "and keep its name exactly as given.")
    assert value is not None, (
        f"{call} returned None. " + (none_hint or "Did you forget to return the gradient?"))
    assert isinstance(value, TensorValue), f"{call} returned {describe(value)}; expected a torch tensor " + (
        "(torch.autograd.grad returns a tuple with one gradient per input: return the tensor in it, not the tuple)."
        if isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], TensorValue) else
        "(return the tensor itself, not .item() or a numpy array).")
    assert value.dtype in _FLOAT_DTYPES, (
        f"{call} returned a tensor of dtype {value.dtype}; expected float32 or float64. " + (
            "Integer tensors cannot carry gradients: build the leaf from a float."
            if not value.dtype.startswith(("float", "bfloat", "complex"))
            else "Use float32 (torch's default) or float64 for the leaf: half precision loses "
                 "most of a gradient's digits."))
    return value


def is_close(actual: torch.Tensor, expected: torch.Tensor, dtype: str) -> bool:
    """Same shape, finite, and within the tolerance of `dtype` (compared in float64)."""
    if tuple(actual.shape) != tuple(expected.shape):
        return False
    rtol, atol = TOLERANCES.get(dtype, TOLERANCES["float32"])
    few_actual, few_expected = _few_floats(actual), _few_floats(expected)
    if few_actual is not None and few_expected is not None:
        return _values_close(few_actual, few_expected, rtol, atol)
    actual, expected = actual.to(torch.float64), expected.to(torch.float64)
    if not bool(torch.isfinite(actual).all()):
        return False
    return bool(torch.allclose(actual, expected, rtol=rtol, atol=atol))


_FEW = 256  # up to this many values, Python floats compare faster than half a dozen tensor calls


def _few_floats(tensor: torch.Tensor) -> list[float] | None:
    """A tensor's values as Python floats (float64, as compared) when it holds few real ones; else None."""
    if tensor.numel() > _FEW or tensor.layout != torch.strided or tensor.is_complex():
        return None
    return [float(v) for v in tensor.reshape(-1).tolist()]


def _finite(tensor: torch.Tensor) -> bool:
    values = _few_floats(tensor)
    if values is not None:
        return all(math.isfinite(v) for v in values)
    return bool(torch.isfinite(tensor.to(torch.float64)).all())


def _values_close(actual: list[float], expected: list[float], rtol: float, atol: float) -> bool:
    """torch.allclose on float64 values, one pair at a time, the actual values finite."""
    for a, e in zip(actual, expected, strict=True):  # the shapes are equal
        if not math.isfinite(a):
            return False
        error = abs(a - e)
        if not (a == e or (math.isfinite(error) and error <= atol + abs(rtol * e))):
            return False
    return True


def assert_close(value: TensorValue, expected: torch.Tensor, call: str, *,
                 hint: str = "", tolerance: str | None = None) -> None:
    """Assert strict shape, finite values and closeness; the message shows both sides."""
    scalar = list(value.shape) == [1] and expected.dim() == 0
    assert tuple(value.shape) == tuple(expected.shape), (
        f"{call}: got a tensor of shape {list(value.shape)}; expected shape "
        f"{list(expected.shape)} (no broadcasting). {SCALAR_SHAPE if scalar else hint}".strip())
    assert _finite(value.tensor), (
        f"{call}: got non-finite values {show(value.tensor)}; expected {show(expected)}.")
    dtype = tolerance or value.dtype
    assert is_close(value.tensor, expected, dtype), (
        f"{call}: got {show(value.tensor)}; expected {show(expected)}. "
        f"{_largest_difference(value.tensor, expected, dtype)}{hint}".strip())


SCALAR_SHAPE = ("A tensor made from a list of one number (torch.tensor([v])) has shape [1]; "
                "a single number's tensor has shape [] (0-d).")


def _largest_difference(actual: torch.Tensor, expected: torch.Tensor, dtype: str) -> str:
    """Where values that print alike differ most, and what is allowed there ("" when they print differently)."""
    if show(actual) != show(expected) or actual.numel() == 0:
        return ""
    actual, expected = actual.to(torch.float64).reshape(-1), expected.to(torch.float64).reshape(-1)
    errors = (actual - expected).abs()
    at = int(errors.argmax())
    rtol, atol = TOLERANCES.get(dtype, TOLERANCES["float32"])
    return (f"They differ most at index {at}: {actual[at].item():.17g} against {expected[at].item():.17g}, "
            f"more than the {dtype} tolerance allows ({atol:g} + {rtol:g} x |expected|). ")


def number(value: float) -> str:
    """A number as a student would type it (floats keep their decimal point)."""
    if isinstance(value, int):
        return repr(value)
    text = f"{value:.6g}"
    return text if any(c in text for c in ".ein") else f"{text}.0"
