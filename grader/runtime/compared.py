"""A question graded by comparing the student's replies with the notebook's own solution's, call by call."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .compare import (
    assert_close,
    describe,
    fail_if_raised,
    first_headline,
    kind_of,
    note,
    number,
    show,
)
from .messages import Hint, answer_name, failure
from .points import Part
from .subject import CallResult, decode_reply
from .values import Fn, RaisedValue, TensorValue, decode

__all__ = ["Call", "ComparedChecks", "cases_by_part", "call_text", "assert_same_reply", "shipped_checks"]


class Call:
    """The arguments of one call of the answer: `Call(Fn("cube"), 1.0)` is `answer(cube, 1.0)`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args, self.kwargs = args, kwargs


def cases_by_part(declared: Any, parts: tuple[Part, ...]) -> dict[str, list[Call]]:
    """A declaration's cases by part name: a list is the first part's, a dict names its parts."""
    declared = declared or []
    if isinstance(declared, dict):
        return {name: [_as_call(c) for c in declared.get(name, ())] for name in (p.name for p in parts)}
    return {parts[0].name: [_as_call(c) for c in declared]}


def _as_call(case: Any) -> Call:
    """A Call, or a tuple of positional arguments, or one argument."""
    if isinstance(case, Call):
        return case
    return Call(*case) if isinstance(case, tuple) else Call(case)


def _argument_text(value: Any) -> str:
    if isinstance(value, Fn):
        return value.name
    if isinstance(value, TensorValue):
        return f"tensor({show(value.tensor)})"
    if hasattr(value, "detach"):
        return f"tensor({show(value)})"
    if isinstance(value, float | int) and not isinstance(value, bool):
        return number(value)
    if isinstance(value, list | tuple):
        inner = ", ".join(_argument_text(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    return repr(value)[:60]


def call_text(name: str, args: tuple, kwargs: dict) -> str:
    """The call as a student would type it: `grad_at(cube, 2)`."""
    shown = [_argument_text(a) for a in args] + [f"{k}={_argument_text(v)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(shown)})"


def _tolerance(got: TensorValue, expected: TensorValue) -> str:
    """float32 when either side is float32 (the solution's own precision may be float32)."""
    return "float64" if got.dtype == expected.dtype == "float64" else "float32"


def _same(got: Any, expected: Any, what: str, hint: Hint | str | None, where: str = "") -> None:
    """`got` (the student's decoded value) must be `expected` (the solution's): tensors close, the
    same kinds of containers with the same keys or lengths, numbers close, anything else equal.
    `where` names what is compared when it is not the value returned (an argument after the call)."""
    fail_if_raised(got, what)
    if isinstance(expected, RaisedValue):
        raise RuntimeError(f"the notebook's solution raised {expected.type} for {what}: {expected.message}")
    if isinstance(expected, TensorValue):
        if not isinstance(got, TensorValue):
            _differ(got, expected, what, f"expected a torch tensor {show(expected.tensor)}", hint, where)
        if where:  # an argument read back after the call: the headline names it, not the value returned
            assert got.shape != expected.shape or bool(got.tensor.isfinite().all()), failure(
                f"{answer_name(what)}: {where} holds non-finite values (nan or inf).",
                f"{what}: got {show(got.tensor)}; expected {show(expected.tensor)}.")
            if not (isinstance(hint, Hint) and hint.cause):
                hint = Hint(f"{where} holds other values than expected", hint.text if isinstance(hint, Hint) else hint or "")
        assert_close(got, expected.tensor, what, hint=hint, tolerance=_tolerance(got, expected))
        return
    if isinstance(expected, list | tuple):
        if type(got) is not type(expected) or len(got) != len(expected):
            _differ(got, expected, what, f"expected {describe(expected)}", hint, where)
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            _same(g, e, f"{what}[{i}]", hint, where)
        return
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            _differ(got, expected, what, f"expected {_what(expected)}", hint, where)
        for key in expected:
            _same(got[key], expected[key], f"{what}[{key!r}]", hint, where)
        return
    if isinstance(expected, float | int) and not isinstance(expected, bool) and type(got) in (int, float):
        if math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-5):
            return
    elif got == expected and type(got) is type(expected):
        return
    _differ(got, expected, what, f"expected {describe(expected)}", hint, where)


def _what(value: Any) -> str:
    """What a value is, in words; a dict by its keys."""
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    return describe(value)


def _differ(got: Any, expected: Any, what: str, wanted: str, hint: Hint | str | None, where: str = "") -> None:
    hint = Hint("", hint) if isinstance(hint, str) else hint
    name = answer_name(what)
    said = f"{name}: {where} is" if where else f"{name} returned"
    raise AssertionError(failure(
        first_headline(f"{name}: {hint.cause}." if hint and hint.cause else "",
                       f"{said} {kind_of(got)} where {kind_of(expected)} is expected." if kind_of(got) != kind_of(expected)
                       else "", f"{said} {_what(got)} where {_what(expected)} is expected.",
                       f"{said} a dict whose keys are not the expected ones." if isinstance(got, dict) else "",
                       f"{name} returned another value than the one expected."),
        f"{what}: got {_what(got)}; {wanted}. {hint.text if hint else ''}".strip()))


def assert_same_reply(call: str, got: CallResult, expected: CallResult, hint: Hint | str | None) -> None:
    """The value returned, and each tensor argument after the call (its values and `.grad`), as the solution's."""
    _same(got.result, expected.result, call, hint)
    for i, (mine, theirs) in enumerate(zip(got.args_after, expected.args_after, strict=False)):
        if not isinstance(theirs, TensorValue) or not isinstance(mine, TensorValue):
            continue
        _same(mine, theirs, f"{call} then argument {i + 1}", hint, f"argument {i + 1} after the call")
        if theirs.grad is not None or mine.grad is not None:
            _same(mine.grad, theirs.grad, f"{call} then argument {i + 1}'s .grad", hint, f"argument {i + 1}'s .grad")


@dataclass
class ComparedChecks:
    """A compared question's checks, as run_question takes them: `visible(subject)` and
    `hidden(subject, rng)` for each part; each case's expected reply comes from `expected`."""

    answer: str
    visible_cases: dict[str, list[Call]]
    expected: Callable[[Call], CallResult]
    concept: str = ""
    hidden_cases: Callable[[Any], dict[str, list[Call]]] | None = None
    diagnose: Callable[[Call, Any, Any], Hint | str | None] | None = None
    PARTS: tuple[Part, ...] = field(default_factory=tuple)
    value_answer: bool = False  # the answer is a value (a dict, a tensor), read rather than called

    def __post_init__(self) -> None:
        for part in self.PARTS:
            if part.name:
                setattr(self, part.name, self._part(part.name))

    def _part(self, name: str):
        def run(subject, rng=None) -> None:
            cases = self.visible_cases if rng is None else (self.hidden_cases(rng) if self.hidden_cases else {})
            for case in cases.get(name, ()):
                self.check(subject, _as_call(case), shown=rng is None)
        return run

    def visible(self, subject) -> None:
        self._part(self.PARTS[0].name if self.PARTS else "")(subject)

    def hidden(self, subject, rng) -> None:
        self._part(self.PARTS[0].name if self.PARTS else "")(subject, rng)

    def check(self, subject, case: Call, shown: bool = True) -> None:
        """Call the student's answer with the case's arguments and compare with the solution's reply."""
        call = self.answer if self.value_answer else call_text(self.answer, case.args, case.kwargs)
        got = self.ask(subject, case)
        expected = self.expected(case)
        try:
            assert_same_reply(call, got, expected, self.concept)
        except AssertionError:
            # the instructor's diagnosis, when it recognises the mistake, names it instead
            diagnosis = self.diagnose(case, got.result, expected.result) if self.diagnose else None
            if diagnosis is None:
                raise
            assert_same_reply(call, got, expected, diagnosis)
            raise
        if shown and isinstance(got.result, TensorValue):
            note(f"{call} = {show(got.result.tensor)}")

    def ask(self, subject, case: Call) -> CallResult:
        if self.value_answer:
            return CallResult(subject.get(self.answer))
        return subject.call(self.answer, *case.args, **case.kwargs)


class _ShippedCall(Call):
    """A case as the release ships it: its arguments already on the wire, and the solution's reply."""

    def __init__(self, shipped: dict) -> None:
        super().__init__(*(decode(a) for a in shipped["args"]), **{k: decode(v) for k, v in shipped["kwargs"].items()})
        self.wire, self.reply = shipped, shipped["reply"]


class _ShippedChecks(ComparedChecks):
    def ask(self, subject, case: Call) -> CallResult:
        request = {"op": "call", "name": self.answer, "args": case.wire["args"], "kwargs": case.wire["kwargs"]}
        return decode_reply(request, subject.exchange(request))


def shipped_checks(data: dict) -> ComparedChecks:
    """The visible checks of a compared question from what the release ships (`checks/<q>.json`)."""
    parts = tuple(Part(p["name"], p["title"]) for p in data["parts"])
    cases = {name: [_ShippedCall(c) for c in shipped] for name, shipped in data["cases"].items()}

    def expected(case: Call) -> CallResult:
        request = {"op": "call", "name": data["answer"], "args": case.wire["args"], "kwargs": case.wire["kwargs"]}
        return decode_reply(request, case.reply)

    return _ShippedChecks(data["answer"], cases, expected, data.get("concept", ""), PARTS=parts)
