"""A question graded by comparing the student's replies with the notebook's own solution's, call by call."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .compare import (
    assert_close,
    describe,
    expect_upstream_untouched,
    fail_if_raised,
    first_headline,
    kind_of,
    note,
    number,
    show,
)
from .gradcheck import assert_gradcheck, assert_gradgradcheck
from .messages import Hint, answer_name, failure
from .points import Part
from .subject import CallResult, FunctionResult, decode_reply
from .values import Fn, RaisedValue, TensorValue, decode

__all__ = ["Call", "ComparedChecks", "cases_by_part", "call_text", "assert_same_reply", "shipped_checks",
           "GRADCHECKS", "upstream_for", "function_reply"]

GRADCHECKS = ("gradcheck", "gradgradcheck")  # what a compared Function may declare in GRADCHECK
_UPSTREAM = (1.5, -0.5, 2.0, 0.75)  # not all ones: a backward that ignores grad_output shows


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


def upstream_for(output: Any) -> torch.Tensor:
    """The upstream gradient a compared Function's backward is called with: 1.5, -0.5, 2, 0.75,
    1.5... in the shape and dtype of its output."""
    if not isinstance(output, TensorValue):
        raise ValueError(f"a compared autograd Function returns one tensor; the solution returned {describe(output)}")
    values = [_UPSTREAM[i % len(_UPSTREAM)] for i in range(output.tensor.numel())]
    return torch.tensor(values, dtype=output.tensor.dtype).reshape(output.shape)


def function_reply(subject, answer: str, args: tuple) -> FunctionResult:
    """The solution's `answer.apply(*args)`, backpropagated from `upstream_for` its output."""
    output = subject.autograd_function(answer, list(args), None).output
    if isinstance(output, RaisedValue):
        raise RuntimeError(f"the notebook's solution raised {output.type} in {answer}.apply: {output.message}")
    return subject.autograd_function(answer, list(args), upstream_for(output))


def _as_input(value: Any) -> Any:
    """A Function's input as a tensor again (a shipped case's arguments are decoded values)."""
    if isinstance(value, TensorValue):
        return value.tensor.detach().clone().requires_grad_(value.requires_grad)
    return value


_UNSAVED = ("backward must read what forward kept with ctx.save_for_backward: autograd keeps those tensors for "
            "backward, checks that nothing changed them in place, and can differentiate through them again; a "
            "tensor kept as an attribute of ctx gets none of that.")


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
    function_answer: bool = False  # the answer is an autograd Function: applied, then backpropagated
    gradchecks: tuple[str, ...] = ()  # for a Function: of GRADCHECKS, those run at each case

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
        if self.function_answer:
            self._check_function(subject, case, shown)
            return
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

    def _check_function(self, subject, case: Call, shown: bool) -> None:
        """Apply the student's Function at the case's inputs: its output, whether forward saved its
        tensors, and the input gradients backward gives for `upstream_for` the output, each as the
        solution's; then the declared gradchecks."""
        call = f"{self.answer}.apply({', '.join(_argument_text(a) for a in case.args)})"
        expected = self.expected(case)
        upstream = upstream_for(expected.output)
        got = self.ask_function(subject, case, upstream)
        if isinstance(got.output, RaisedValue):
            self._expect_function(subject, call)
        fail_if_raised(got.output, call)
        _same(got.output, expected.output, call, self.concept)
        assert got.ctx.saved_tensors or not expected.ctx.saved_tensors, failure(
            f"{self.answer}: forward saved no tensor with ctx.save_for_backward.",
            f"{call}: ctx saved 0 tensors with ctx.save_for_backward. {_UNSAVED}")
        expect_upstream_untouched(got, call)
        backward = f"{call}, backward at upstream gradient {show(upstream)}"
        for i, theirs in enumerate(expected.grads):
            mine = got.grads[i] if i < len(got.grads) else None
            _same(mine, theirs, f"{backward}: input {i + 1}'s gradient", self.concept, f"input {i + 1}'s gradient")
        inputs = [_as_input(a) for a in case.args]
        if "gradcheck" in self.gradchecks:
            assert_gradcheck(subject, self.answer, inputs, call)
        if "gradgradcheck" in self.gradchecks:
            assert_gradgradcheck(subject, self.answer, inputs, upstream.to(torch.float64), call)
        if shown:
            note(f"{call} = {show(got.output.tensor)}")

    def _expect_function(self, subject, call: str) -> None:
        """Fail, saying what an autograd Function is, when the answer is not one (its apply raised)."""
        name = self.answer
        assert subject.describe_class(name)["is_autograd_function"], failure(
            f"{name} is not an autograd Function: {call} cannot run.",
            f"{call}: {name} is not a subclass of torch.autograd.Function. Write it as class {name}"
            "(torch.autograd.Function) with a @staticmethod forward(ctx, ...) that returns the output and a "
            "@staticmethod backward(ctx, grad_output) that returns one gradient per input; it runs as "
            f"{name}.apply(...).")

    def ask_function(self, subject, case: Call, upstream: torch.Tensor):
        return subject.autograd_function(self.answer, [_as_input(a) for a in case.args], upstream)

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
        return decode_reply(_request(self.answer, case), subject.exchange(_request(self.answer, case)))

    def ask_function(self, subject, case: Call, upstream: torch.Tensor):
        return decode_reply(_request(self.answer, case, True), subject.exchange(_request(self.answer, case, True)))


def _request(answer: str, case: Call, function: bool = False) -> dict:
    """The request a shipped case makes, its arguments as shipped: a call, or a Function applied."""
    if function:
        return {"op": "autograd_function", "name": answer, "inputs": case.wire["args"], "upstream": case.wire["upstream"]}
    return {"op": "call", "name": answer, "args": case.wire["args"], "kwargs": case.wire["kwargs"]}


def shipped_checks(data: dict) -> ComparedChecks:
    """The visible checks of a compared question from what the release ships (`checks/<q>.json`)."""
    parts = tuple(Part(p["name"], p["title"]) for p in data["parts"])
    cases = {name: [_ShippedCall(c) for c in shipped] for name, shipped in data["cases"].items()}

    function = bool(data.get("function"))

    def expected(case: Call) -> CallResult | FunctionResult:
        return decode_reply(_request(data["answer"], case, function), case.reply)

    return _ShippedChecks(data["answer"], cases, expected, data.get("concept", ""), PARTS=parts,
                          function_answer=function, gradchecks=tuple(data.get("gradchecks", ())))
