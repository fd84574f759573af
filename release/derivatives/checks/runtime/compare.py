"""Comparison helpers for checks: what a value is, in words, and closeness with student-facing messages."""

import contextlib
import contextvars
import math
import re
from collections.abc import Callable, Iterator

import torch

from .messages import Hint, answer_name, failure, is_headline
from .values import FigureValue, Missing, OtherValue, RaisedValue, TensorValue

__all__ = [
    "TOLERANCES", "expect_upstream_untouched", "expect_inputs_untouched", "fail_if_raised", "note", "collecting_notes", "describe", "show",
    "expect_float_tensor", "assert_close", "is_close", "explain_raised", "number", "kind_of", "not_defined",
    "expect_defined", "first_headline",
]

TOLERANCES: dict[str, tuple[float, float]] = {"float32": (1e-4, 1e-5), "float64": (1e-7, 1e-9)}
_FLOAT_DTYPES = ("float32", "float64")
_NOTES: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("notes", default=None)

# Substrings of torch's error messages -> the misconception behind them, for students.
_RAISED_HINTS: tuple[tuple[str, Hint], ...] = (
    ("only tensors of floating point", Hint(
        "an integer tensor cannot require gradients",
        "an integer tensor cannot require gradients: build the leaf from a float (an int x0 makes an "
        "integer tensor)")),
    ("can't call numpy() on tensor that requires grad", Hint(
        "call .detach() before .numpy()",
        "call .detach() before .numpy() (matplotlib calls .numpy() on tensors you pass it)")),
    ("save_for_backward can only save variables", Hint(
        "save_for_backward only takes tensors",
        "save_for_backward only takes tensors; a Python number can be kept as an ordinary attribute of "
        "ctx instead")),
    ("incorrect number of gradients", Hint(
        "backward must return one gradient per input, as a tuple",
        "backward must return one gradient per input of forward, with None for non-tensor inputs, as a "
        "tuple (a list counts as one gradient)")),
    ("only integer tensors of a single element can be converted to an index", Hint(
        "ctx.saved_tensors is a tuple, even of one tensor",
        "a tuple or list was multiplied by a tensor: ctx.saved_tensors is a tuple of the saved tensors, "
        "even when there is one, so take the tensor out of it")),
    ("x, y, and format string must not be none", Hint(
        "something plotted was None, as .grad is before backward()",
        "something plotted was None: x.grad stays None until backward() has run on a result computed "
        "from x")),
    ("does not require grad and does not have a grad_fn", Hint(
        "what was differentiated is not connected to a leaf",
        "what was differentiated is not connected to a leaf that requires grad: the leaf needs "
        "requires_grad=True before f is computed, and f must not be computed under torch.no_grad() or "
        "from a .detach()ed or .data tensor")),
    ("returned a gradient different than none at position", Hint(
        "backward gave a gradient where an input that is not a tensor needs None",
        "backward returns one gradient per input of forward, in forward's order, with None for an input "
        "that is not a tensor")),
    ("backward through the graph a second time", Hint(
        "a second backward() through a graph already freed",
        "backward() frees the graph it ran through, so a second backward() through the same graph "
        "fails: call it once per result (or pass retain_graph=True to the first), and make a fresh leaf "
        "on every call of your function")),
    ("grad can be implicitly created only for scalar outputs", Hint(
        "backward() needs a scalar, or a gradient argument",
        "backward() without arguments needs a scalar: reduce with .sum() first (or pass "
        "gradient=torch.ones_like(y))")),
    ("expected variable or none (got ", Hint(
        "backward returns tensors, not a list or a number",
        "backward returns each gradient as a tensor (one per input of forward, as a tuple when there "
        "are several), not a list or a Python number")),
    ("returned an invalid gradient at index", Hint(
        "backward returned a gradient shaped unlike its input",
        "backward returns, for each input of forward, a gradient with that input's shape: grad_output "
        "has the output's shape, and an elementwise operation keeps it, so compute the gradient from "
        "grad_output rather than building a new tensor of another shape")),
    ("a leaf variable that requires grad is being used in an in-place operation", Hint(
        "a leaf was changed in place",
        "do not modify a leaf in place; work on a copy")),
    ("cannot be converted to scalar", Hint(
        ".item() needs a one-element tensor",
        ".item() turns a one-element tensor into a Python number, but the tensors autograd passes can "
        "have any shape: compute with the tensors themselves, elementwise")),
    ("object has no attribute 'backward'", Hint(
        "backward() was called on something that is not a tensor",
        "backward() belongs to tensors: what it was called on is a Python number or another value "
        "(f called on a plain number returns one), so compute f on a tensor that requires grad and "
        "call backward() on the tensor it returns")),
    ("'nonetype' object has no attribute 'zero_'", Hint(
        ".grad is None until a backward pass has run",
        "a leaf's .grad is None until a backward pass has run through it, so there is nothing to "
        "zero on a fresh leaf (and a fresh leaf needs no zeroing)")),
    ("mismatch in shape: grad_output", Hint(
        "the tensor given to backward() is shaped unlike the result",
        "the tensor passed to backward() must have the shape of the result it is called on (ones "
        "shaped like it), or the result is reduced to a scalar with .sum() first and backward() "
        "takes no argument")),
    ("received an invalid combination of arguments", Hint(
        "a torch function was called with arguments it does not take",
        "the call matches none of the forms torch accepts for that function (its documentation "
        "lists them): compare it argument by argument (torch.linspace, for one, needs the number "
        "of steps)")),
    ("is not defined", Hint(
        "a name it uses is not defined in this kernel",
        "a name the code uses is not defined in this kernel: if the notebook's first cell imports it "
        "(torch, plt), run the notebook from the top (Kernel → Restart Kernel and Run All Cells…); "
        "otherwise check its spelling and run the cell that defines it")),
)
_NOT_WRITTEN = Hint("the answer is not written yet", "write your answer in place of raise NotImplementedError()")
_ANY_ERROR = Hint("", "fix the error and run the cell again")


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


def kind_of(value: object) -> str:
    """What a decoded student value is, in two or three words (for a headline)."""
    if isinstance(value, TensorValue):
        return f"a {value.dtype} tensor"
    if isinstance(value, OtherValue):
        return "a numpy array" if value.type == "ndarray" else f"{_article(value.type)} {value.type} object"
    if isinstance(value, FigureValue):
        return "a figure"
    if value is None:
        return "None"
    if isinstance(value, bool | int | float | str | list | tuple | dict):
        name = type(value).__name__
        return f"{_article(name)} {name}"
    return describe(value)[:40]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def explain_raised(value: RaisedValue) -> Hint:
    """The likely misconception behind an exception (its cause empty when unknown)."""
    if value.type == "NotImplementedError":
        return _NOT_WRITTEN
    text = value.message.lower()
    for fragment, hint in _RAISED_HINTS:
        if fragment in text:
            return hint
    return _ANY_ERROR


def not_defined(name: str) -> str:
    """The message for an answer that is not defined in the notebook, and where it belongs."""
    return failure(f"{name} is not defined: write it in the answer cell above.",
                   f"{name} is not defined in this notebook's kernel. Define it in the answer cell of this "
                   "question (above this test), keep the name exactly as given, and run that cell: if "
                   "the cell stops with an error, nothing after the error is defined.")


def expect_defined(value: object, call: str) -> None:
    """Fail, saying where it belongs, if the answer `call` names is not defined."""
    assert not isinstance(value, Missing), not_defined(answer_name(call))


def fail_if_raised(value: object, call: str) -> None:
    """Fail with the exception and its likely misconception if student code raised (or is not defined)."""
    expect_defined(value, call)
    if isinstance(value, RaisedValue):
        name, hint = answer_name(call), explain_raised(value)
        detail = f": {_first_line(value.message).rstrip('.')}" if value.message.strip() else ""
        raise AssertionError(failure(
            first_headline(f"{name} raised {value.type}: {hint.cause}." if hint.cause else "",
                           f"{name}: {hint.cause}." if hint.cause else "",
                           f"{name} raised {value.type}{detail}.",
                           f"{name} raised {value.type}; the details follow."),
            f"{call} raised {value.type}{detail}. Hint: {hint.text}."))


def _first_line(message: str, limit: int = 300) -> str:
    """An exception's message as a sentence can hold it: its first line, cut at a word past `limit`
    (torch lists every form of a call it accepts on the lines after the first)."""
    lines = message.strip().splitlines()
    first = lines[0].strip()
    if len(first) > limit:
        first = first[:limit].rsplit(" ", 1)[0] + " …"
    elif len(lines) > 1:
        first = first.rstrip(":") + " (…)"
    return first


def first_headline(*candidates: str) -> str:
    """The first candidate that reads whole as a headline (the last one is always short enough)."""
    return next((c for c in candidates if is_headline(c)), candidates[-1])


def expect_upstream_untouched(result: object, call: str) -> None:
    """Assert an autograd Function's backward left the upstream gradient (grad_output) as it was."""
    assert not getattr(result, "upstream_changed", False), failure(
        f"{answer_name(call)}: backward changed grad_output in place.",
        f"{call}: backward changed grad_output in place. Autograd may hand that same tensor to "
        "other parts of the graph (an input used twice receives it twice), so compute a new "
        "tensor from grad_output rather than writing into it (*=, +=, mul_).")


def expect_inputs_untouched(result: object, call: str, names: tuple[str, ...]) -> None:
    """Assert an autograd Function's forward left the tensors it was given as they were (`names`:
    what each input is called in the message, in forward's order)."""
    changed = [name for name, flag in zip(names, getattr(result, "inputs_changed", ()), strict=False) if flag]
    if changed:
        raise AssertionError(failure(
            f"{answer_name(call)}: forward changed its input {changed[0]} in place.",
            f"{call}: forward changed the tensor {changed[0]} it was given in place (mul_, *=, copy_ and "
            "the like write into it), so the caller's tensor now holds other values. Inside forward "
            "nothing is recorded and nothing stops such a write, yet the caller's tensor is not "
            "forward's to change: compute a new tensor from it and return that."))


def _none_failure(call: str, name: str, none_hint: Hint | str | None) -> str:
    none_hint = Hint("", none_hint) if isinstance(none_hint, str) else none_hint or _RETURN_GRADIENT
    element = _ELEMENT.search(call)  # `f(...)[1] (df/dv)`: one item of what f returned
    came_back = f"{name}: {element[2] or 'item ' + element[1]} is None" if element else f"{name} returned None"
    return failure(first_headline(f"{came_back}: {none_hint.cause}." if none_hint.cause else "", f"{came_back}."),
                   f"{call} {'is' if element else 'returned'} None. {none_hint.text}")


_ELEMENT = re.compile(r"\)\[(\d+)\]\s*(?:\(([^()]*)\))?$")
_RETURN_GRADIENT = Hint("it must return the gradient", "Did you forget to return the gradient?")


def expect_float_tensor(value: object, call: str, *, none_hint: Hint | str | None = None) -> TensorValue:
    """Assert `value` is a float32/float64 tensor; messages explain the other cases (`none_hint`, a
    Hint or a plain str, why None came back)."""
    fail_if_raised(value, call)
    name = answer_name(call)
    if value is None:  # the message is built only for a failure: checks call this on every value
        raise AssertionError(_none_failure(call, name, none_hint))
    if not isinstance(value, TensorValue):
        one_tensor = isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], TensorValue)
        raise AssertionError(failure(
            f"{name} returned a tuple; expected a torch tensor, the one in that tuple." if one_tensor else
            first_headline(f"{name} returned {kind_of(value)}; expected a torch tensor, not .item()."
                           if type(value) in (int, float) else f"{name} returned {kind_of(value)}; expected a torch tensor.",
                           f"{name} returned no tensor; expected a torch tensor."),
            f"{call} returned {describe(value)}; expected a torch tensor " + (
                "(torch.autograd.grad returns a tuple with one gradient per input: return the tensor in it, "
                "not the tuple)." if one_tensor else
                "(return the tensor itself, not .item() or a numpy array).")))
    integer = not value.dtype.startswith(("float", "bfloat", "complex"))
    assert value.dtype in _FLOAT_DTYPES, failure(
        f"{name} returned a {value.dtype} tensor; " + (
            "integer tensors carry no gradients." if integer else "use float32 or float64."),
        f"{call} returned a tensor of dtype {value.dtype}; expected float32 or float64. " + (
            "Integer tensors cannot carry gradients: build the leaf from a float."
            if integer else "Use float32 (torch's default) or float64 for the leaf: half precision loses "
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
                 hint: Hint | str | Callable[[], Hint | None] | None = None, tolerance: str | None = None) -> None:
    """Assert strict shape, finite values and closeness; the message shows both sides.

    `hint` explains a wrong value: a Hint names its cause in the headline, a plain str only adds
    its text to the details, and a function giving either (or None) is called only for a value
    that fails, since finding the likely cause may cost a few tensor operations."""
    dtype = tolerance or value.dtype
    shaped = tuple(value.shape) == tuple(expected.shape)
    if shaped and _finite(value.tensor) and is_close(value.tensor, expected, dtype):
        return
    name = answer_name(call)
    hint = hint() if callable(hint) else hint
    hint = Hint("", hint) if isinstance(hint, str) else hint
    text = hint.text if hint else ""
    scalar = list(value.shape) == [1] and expected.dim() == 0
    assert shaped, failure(
        f"{name}: shape [1] where a 0-d tensor (shape []) belongs." if scalar else first_headline(
            f"{name}: a tensor of shape {list(value.shape)} where shape {list(expected.shape)} belongs.",
            f"{name} returned a tensor of another shape than the one expected."),
        f"{call}: got a tensor of shape {list(value.shape)}; expected shape "
        f"{list(expected.shape)} (no broadcasting). {SCALAR_SHAPE if scalar else text}".strip())
    assert _finite(value.tensor), failure(
        f"{name} returned non-finite values (nan or inf).",
        f"{call}: got non-finite values {show(value.tensor)}; expected {show(expected)}.")
    raise AssertionError(failure(
        first_headline(f"{name}: {hint.cause}." if hint and hint.cause else "",
                       f"{name} gave {show(value.tensor)} where {show(expected)} is expected." if expected.dim() == 0
                       else "", f"{name} returned values other than the expected ones."),
        f"{call}: got {show(value.tensor)}; expected {show(expected)}. "
        f"{_largest_difference(value.tensor, expected, dtype)}{text}".strip()))


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
