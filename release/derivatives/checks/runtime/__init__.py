"""The check runtime: values on the wire, probes beside student code, and what checks are written with.

Student-safe by design: it holds no assignment's questions, answers or hidden cases, imports
nothing else from the kit, and `grader release` ships a copy of it beside each release's
visible checks. Checks import from it as `from .runtime import ...`.
"""

from .cell import CheckFailed, notebook_check, run_visible
from .compare import (
    TOLERANCES,
    assert_close,
    collecting_notes,
    describe,
    expect_float_tensor,
    explain_raised,
    fail_if_raised,
    is_close,
    note,
    number,
    show,
)
from .parts import STATUSES, Part, PartResult, Verdict, parts_of, run_question
from .probes import run_probe
from .structure import confirm, is_plain_class, parameters_unused
from .subject import (
    BadReply,
    CallResult,
    CtxInfo,
    FunctionResult,
    LocalSubject,
    ProbeFailed,
    ProbeSubject,
    Subject,
)
from .values import (
    AxesValue,
    BadValue,
    FigureValue,
    Fn,
    LineValue,
    Missing,
    OtherValue,
    RaisedValue,
    TensorValue,
)

__all__ = [
    "TOLERANCES", "assert_close", "collecting_notes", "describe", "expect_float_tensor",
    "explain_raised", "fail_if_raised", "is_close", "note", "number", "show",
    "CheckFailed", "notebook_check", "run_visible",
    "STATUSES", "Part", "PartResult", "Verdict", "parts_of", "run_question", "run_probe",
    "BadReply", "CallResult", "CtxInfo", "FunctionResult", "LocalSubject", "ProbeFailed",
    "ProbeSubject", "Subject", "confirm", "is_plain_class", "parameters_unused",
    "AxesValue", "BadValue", "FigureValue", "Fn", "LineValue", "Missing", "OtherValue", "RaisedValue", "TensorValue",
]
