"""The check runtime: values on the wire, probes beside student code, and what checks are written with.

Student-safe by design: it holds no assignment's questions, answers or hidden cases, imports
nothing else from the kit, and `grader release` ships a copy of it beside each release's
visible checks. Checks import from it as `from .runtime import ...`.

Names load on first use (PEP 562): importing one small module of it, such as the exception
the judge's worker client shares, does not import torch.
"""

from importlib import import_module

if not __debug__:
    raise RuntimeError("the checks rely on assert statements: do not run them under python -O")

_EXPORTS = {
    "CheckFailed": ".cell",
    "notebook_check": ".cell",
    "run_visible": ".cell",
    "TOLERANCES": ".compare",
    "Call": ".compared",
    "ComparedChecks": ".compared",
    "assert_same_reply": ".compared",
    "assert_gradcheck": ".gradcheck",
    "assert_gradgradcheck": ".gradcheck",
    "assert_close": ".compare",
    "collecting_notes": ".compare",
    "describe": ".compare",
    "expect_float_tensor": ".compare",
    "expect_upstream_untouched": ".compare",
    "expect_inputs_untouched": ".compare",
    "explain_raised": ".compare",
    "fail_if_raised": ".compare",
    "is_close": ".compare",
    "note": ".compare",
    "number": ".compare",
    "kind_of": ".compare",
    "not_defined": ".compare",
    "expect_defined": ".compare",
    "first_headline": ".compare",
    "Hint": ".messages",
    "failure": ".messages",
    "answer_name": ".messages",
    "show": ".compare",
    "STATUSES": ".parts",
    "Part": ".points",
    "PartResult": ".parts",
    "Verdict": ".parts",
    "parts_of": ".points",
    "part_points": ".points",
    "run_question": ".parts",
    "run_probe": ".probes",
    "confirm": ".structure",
    "is_plain_class": ".structure",
    "method_uses": ".structure",
    "function_uses": ".structure",
    "loop_uses": ".structure",
    "calls_any": ".structure",
    "parameters_unused": ".structure",
    "returns_nothing": ".structure",
    "ProbeFailed": ".failures",
    "BadReply": ".subject",
    "CallResult": ".subject",
    "CtxInfo": ".subject",
    "FunctionResult": ".subject",
    "LocalSubject": ".subject",
    "ProbeSubject": ".subject",
    "Subject": ".subject",
    "AxesValue": ".values",
    "BadValue": ".values",
    "FigureValue": ".values",
    "Fn": ".values",
    "LineValue": ".values",
    "Missing": ".values",
    "OtherValue": ".values",
    "RaisedValue": ".values",
    "TensorValue": ".values",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
