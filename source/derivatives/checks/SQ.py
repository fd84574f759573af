"""Visible checks for SQ: a custom autograd Function squaring its input, with save_for_backward."""

import torch

from .runtime import (
    FunctionResult,
    Hint,
    Part,
    RaisedValue,
    Subject,
    TensorValue,
    assert_close,
    confirm,
    describe,
    expect_float_tensor,
    expect_inputs_untouched,
    expect_upstream_untouched,
    fail_if_raised,
    failure,
    is_close,
    is_plain_class,
    method_uses,
    note,
    parameters_unused,
    show,
)

__all__ = ["expect_tracked", "fail_if_forward_name", "PARTS", "forward", "chain_rule", "general", "require_function", "apply", "check_output",
           "check_saved", "check_vjp", "check_second_order", "call_text"]

PARTS = (
    Part("forward", "forward returns i ** 2 and keeps i with ctx.save_for_backward"),
    Part("chain_rule", "backward multiplies the local derivative by the upstream gradient"),
    Part("general", "any shape, float64 inputs and second-order gradients"),
)

SAVE_HINT = ("Keep tensors for backward with ctx.save_for_backward and read them back from "
             "ctx.saved_tensors: autograd then checks they were not modified in place and frees "
             "them after backward, which a plain attribute of ctx does not.")
CHAIN_RULE = Hint("the input gradient is not the upstream gradient times the local derivative",
                  "backward receives the upstream gradient dL/dy as grad_output, and by the chain "
                  "rule dL/di = dL/dy * dy/di: the local derivative of i ** 2 times grad_output.")


SQUARED_I = ("grad_output times 2 * i ** 2, so the i your backward read held i ** 2. "
             "backward needs forward's input as it came in: an in-place operation in forward "
             "(i.mul_(i), i **= 2) changes the very tensor that was saved, and a saved output "
             "is i ** 2, not i.")


SIGN_LOST = ("right where i > 0 and of the wrong sign where i < 0, as if backward used |i|: a "
             "square root of i ** 2 gives |i|, not i, so backward needs i itself kept for it.")


IGNORES = "SQ: your backward ignores grad_output, the upstream gradient.\n"

# The visible inputs: no entry where 2i = i ** 2 (i = 0 or 2), one below 0, and an upstream
# gradient that is not all ones, so no common slip gives the expected values by coincidence.
VISIBLE_X = torch.tensor([1.5, -2.0, 0.5])
VISIBLE_UPSTREAM = torch.tensor([3.0, -1.0, 0.5])
VISIBLE_WEIGHTS = torch.tensor([0.5, 2.0, -1.0], dtype=torch.float64)  # the second order's upstream
SAVED_PROBE = VISIBLE_X  # no two entries with one ratio to i or to i ** 2


def require_function(subject: Subject) -> None:
    info = subject.describe_class("SQ")
    plain = is_plain_class(subject.source_of, "SQ")
    assert confirm(subject, info["is_autograd_function"], plain, "SQ is an autograd Function"), failure(
        "SQ is not a subclass of torch.autograd.Function.",
        "SQ is not a subclass of torch.autograd.Function: write class SQ(torch.autograd.Function) "
        "with @staticmethod forward and backward.")


def apply(subject: Subject, x: torch.Tensor, upstream: torch.Tensor,
          second: torch.Tensor | None = None) -> FunctionResult:
    return subject.autograd_function("SQ", [x], upstream, second)


def call_text(x: torch.Tensor, upstream: torch.Tensor) -> str:
    dtype = str(x.dtype).removeprefix("torch.")
    if x.dim() == 0:
        return f"SQ.apply(x) at x = {show(x)} ({dtype}) with upstream gradient {show(upstream)}"
    if x.dim() == 1 and x.numel() <= 4:
        return f"SQ.apply(x) at x = {_values(x)} ({dtype}) with upstream gradient {_values(upstream)}"
    return f"SQ.apply(x) on a {dtype} tensor of shape {list(x.shape)} with a random upstream gradient"


def _values(t: torch.Tensor) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in t.detach().to(torch.float64).tolist()) + "]"


def check_output(result: FunctionResult, expected: torch.Tensor, call: str, x: torch.Tensor | None = None) -> None:
    """forward's output must be `expected` (i ** 2 at the input `x`)."""
    fail_if_raised(result.output, f"{call}: forward")
    output = expect_float_tensor(result.output, f"{call}: forward")
    assert_close(output, expected, f"{call}: forward", hint=lambda: _forward_hint(output, x))
    expect_inputs_untouched(result, call, ("i",))
    expect_tracked(output, call, "SQ", x)


def expect_tracked(output: TensorValue, call: str, function: str, x: torch.Tensor | None) -> None:
    """Given an input that requires grad, the Function's output must be one autograd differentiates."""
    assert x is None or not x.requires_grad or output.requires_grad, failure(
        f"{function}: the output is marked non-differentiable; backward never runs.",
        f"{call}: the output does not require grad (it has no grad_fn), though its input does. "
        "ctx.mark_non_differentiable is for outputs that have no derivative (indices, masks); this "
        "output has one, so leave it unmarked and autograd will call backward for it.")


def _forward_hint(output: TensorValue, x: torch.Tensor | None) -> Hint:
    if x is not None and is_close(output.tensor, 2 * x.detach().to(torch.float64), "float32"):
        return Hint("forward returned 2 * i, the derivative, where i ** 2 belongs",
                    "forward computes the square of i; 2 * i is the derivative of i ** 2, which backward uses.")
    return Hint("forward does not return the square of i", "forward computes the square of i.")


def fail_if_forward_name(grad: object, call: str, function: str, names: dict[str, str]) -> None:
    """A backward that raised NameError for one of forward's parameters (`names`: each one's way
    across, for the message): forward's names are its own, and backward runs later, elsewhere."""
    if not isinstance(grad, RaisedValue) or grad.type != "NameError":
        return
    name = next((n for n in names if f"'{n}'" in grad.message), None)
    if name is not None:
        raise AssertionError(failure(
            f"{function}: backward uses forward's {name}, which backward cannot see.",
            f"{call}: backward raised NameError: {grad.message.rstrip('.')}. {name} is a parameter of forward, "
            f"a name only forward sees; backward is a separate function autograd calls later. {names[name]}"))


def _input_grad(result: FunctionResult, call: str) -> TensorValue:
    grad = result.grads[0] if result.grads else None
    fail_if_forward_name(grad, call, "SQ", {"i": "Save it in forward with ctx.save_for_backward and read it "
                                            "back in backward from ctx.saved_tensors."})
    fail_if_raised(grad, f"{call}: backward")
    return expect_float_tensor(grad, f"{call}: the input gradient", none_hint=Hint(
        "backward must return the gradient for i", "backward returns the gradient for its input i."))


def check_vjp(subject: Subject, x: torch.Tensor, upstream: torch.Tensor, output: torch.Tensor,
              local: torch.Tensor) -> FunctionResult:
    """SQ.apply(x) must give `output`, and its input gradient for `upstream` must be the upstream
    gradient times `local`, the local derivative dy/di at x (the chain rule)."""
    call = call_text(x, upstream)
    result = apply(subject, x, upstream)
    check_output(result, output, call, x)
    grad = _input_grad(result, call)
    expect_upstream_untouched(result, call)
    expected = upstream * local
    scaled = not is_close(upstream, torch.ones_like(upstream), "float64")
    if scaled and is_close(grad.tensor, local, grad.dtype):
        raise AssertionError(IGNORES + f"{call}: the input gradient should be {show(expected)}, "
                             f"got {show(grad.tensor)}, the local derivative alone. {CHAIN_RULE.text}")
    # The judge's own reading of backward: a reply claiming the chain rule from a backward that
    # never reads grad_output is not believed.
    ignored = parameters_unused(subject.source_of("SQ"), "backward")
    if scaled and is_close(grad.tensor, expected, grad.dtype) and not confirm(
            subject, True, ignored, "SQ's backward uses grad_output"):
        raise AssertionError(IGNORES + f"{call}: backward never reads grad_output, so it "
                             f"cannot give the input gradient {show(expected)}. {CHAIN_RULE.text}")
    unsigned = upstream * 2 * x.detach().abs()  # i recovered from i ** 2 by a square root
    if (x.detach() < 0).any() and is_close(grad.tensor, unsigned, grad.dtype):
        raise AssertionError(failure(
            "SQ: the input gradient has the wrong sign where i < 0, as if from |i|.",
            f"{call}: the input gradient should be {show(expected)}, got {show(grad.tensor)}: {SIGN_LOST}"))
    at_output = upstream * 2 * output  # the local derivative taken at i ** 2 instead of i
    if is_close(grad.tensor, at_output, grad.dtype) and not is_close(at_output, 2 * expected, "float64") \
            and not is_close(output, x.detach(), "float64"):
        raise AssertionError(failure(
            "SQ: backward read i ** 2 where it needs forward's input i.",
            f"{call}: the input gradient should be {show(expected)}, got {show(grad.tensor)}: {SQUARED_I}"))
    assert_close(grad, expected, f"{call}: the input gradient", hint=CHAIN_RULE)
    _keeps_float64(result.output, grad, x, call)
    return result


def _keeps_float64(output: TensorValue, grad: TensorValue, x: torch.Tensor, call: str) -> None:
    """A float64 input gives a float64 output and input gradient."""
    if x.dtype != torch.float64:
        return
    lowered = [f"{what} is {value.dtype}" for what, value in (("forward's output", output), ("the input gradient", grad))
               if value.dtype != "float64"]
    assert not lowered, failure(
        f"SQ: {lowered[0]} for a float64 input.",
        f"{call}: {' and '.join(lowered)} for a float64 input. A Function keeps its input's dtype: "
        "converting (.float(), .to(torch.float32)) throws away the precision float64 inputs are "
        "given for, and gradcheck relies on.")


def check_saved(subject: Subject, result: FunctionResult) -> None:
    tensors_on_ctx = [k for k, v in result.ctx.attributes.items() if isinstance(v, TensorValue)]
    kept = f" (your forward keeps {', '.join('ctx.' + k for k in tensors_on_ctx)} instead)" \
        if tensors_on_ctx else ""
    assert result.ctx.saved_tensors >= 1, failure(
        "SQ: forward keeps no tensor with ctx.save_for_backward.",
        f"SQ: after forward, ctx.saved_tensors is empty{kept}. {SAVE_HINT}")
    # The judge's own reading of forward: a reply claiming saved tensors from a forward that
    # never reaches ctx.save_for_backward is not believed.
    saves = method_uses(subject.source_of, "SQ", "forward", "save_for_backward")
    assert confirm(subject, True, saves is False, "SQ's forward calls ctx.save_for_backward"), failure(
        "SQ: your forward does not call ctx.save_for_backward.",
        f"SQ: your forward does not call ctx.save_for_backward{kept}. {SAVE_HINT}")
    # ... and what it saves must be what backward works from.
    reads = method_uses(subject.source_of, "SQ", "backward", "saved_tensors")
    if reads is False:  # the older name torch still answers to
        reads = method_uses(subject.source_of, "SQ", "backward", "saved_variables")
    assert reads is not False, failure(
        "SQ: backward never reads ctx.saved_tensors, so what forward saves goes unused.",
        f"SQ: your forward calls ctx.save_for_backward, but your backward never reads "
        f"ctx.saved_tensors{kept}, so what forward saves is never used. {SAVE_HINT}")


def forward(subject: Subject) -> None:
    """SQ.apply(x) on [1.5, -2, 0.5] gives [2.25, 4, 0.25], and forward saves a tensor that holds i."""
    require_function(subject)
    x = VISIBLE_X.clone().requires_grad_(True)
    result = apply(subject, x, VISIBLE_UPSTREAM)
    check_output(result, VISIBLE_X.to(torch.float64) ** 2, call_text(x, VISIBLE_UPSTREAM), x)
    check_saved(subject, result)
    check_saved_holds_i(result, SAVED_PROBE)
    note(f"SQ.apply(x) at x = {_values(VISIBLE_X)}: output {_values(VISIBLE_X ** 2)}, and forward saves i "
         "with ctx.save_for_backward")


def check_saved_holds_i(result: FunctionResult, x: torch.Tensor) -> None:
    """Something forward saved must hold i: i itself, or a multiple of i or of i ** 2 (the output)."""
    if result.ctx.saved_tensors < 1 or not result.ctx.saved:
        return  # nothing saved, or nothing read back: check_saved says why
    if any(_multiple_of(value, x) or _multiple_of(value, x * x) for value in result.ctx.saved):
        return
    raise AssertionError(failure(
        "SQ: nothing forward saves with ctx.save_for_backward holds i.",
        f"SQ.apply(x) on x = {show(x)}: forward saved {', '.join(describe(v) for v in result.ctx.saved)} "
        f"with ctx.save_for_backward, none of which holds i (or i ** 2). {SAVE_HINT}"))


def _multiple_of(value: object, base: torch.Tensor) -> bool:
    if not isinstance(value, TensorValue) or value.tensor.numel() != base.numel():
        return False
    ratio = value.tensor.reshape(-1).to(torch.float64) / base.reshape(-1).to(torch.float64)
    return bool(ratio[0] != 0) and is_close(ratio, ratio[0].expand_as(ratio), "float32")


def chain_rule(subject: Subject) -> None:
    """The input gradient on [1.5, -2, 0.5] for the upstream gradient [3, -1, 0.5] is
    upstream * 2i = [9, 4, 0.5]: the chain rule with an upstream gradient other than ones."""
    require_function(subject)
    x = VISIBLE_X.to(torch.float64)
    check_vjp(subject, VISIBLE_X.clone().requires_grad_(True), VISIBLE_UPSTREAM, x ** 2, 2 * x)
    note(f"SQ at x = {_values(VISIBLE_X)} with upstream gradient {_values(VISIBLE_UPSTREAM)}: input gradient "
         f"{_values(VISIBLE_UPSTREAM * 2 * VISIBLE_X)}")


def general(subject: Subject) -> None:
    """The same in float64, and the second order: backward is differentiable itself."""
    require_function(subject)
    x64 = VISIBLE_X.to(torch.float64)
    upstream64 = VISIBLE_UPSTREAM.to(torch.float64)
    check_vjp(subject, x64.clone().requires_grad_(True), upstream64, x64 ** 2, 2 * x64)
    check_second_order(subject, x64, upstream64, VISIBLE_WEIGHTS)
    note("SQ in float64, and its second-order gradients")


SECOND_ORDER = Hint("its second-order gradients are wrong",
                    "Compute backward with torch operations on the saved tensor, so that autograd can "
                    "differentiate it as it differentiates any other function.")


def check_second_order(subject: Subject, x: torch.Tensor, upstream: torch.Tensor, weights: torch.Tensor) -> None:
    """Differentiating the input gradient (upstream * 2i) against `weights` gives 2 * upstream * weights."""
    result = apply(subject, x.detach().clone().requires_grad_(True), upstream, weights)
    expected = 2 * upstream.to(torch.float64) * weights.to(torch.float64)  # d/di (upstream * 2i . weights)
    second = result.second[0] if result.second else None
    call = f"SQ, second order (what gradgradcheck tests), at x = {show(x)}"
    if isinstance(second, RaisedValue):
        raise AssertionError(failure(
            "SQ: second-order gradients fail: backward must stay on autograd's graph.",
            f"{call}: differentiating your backward raised {second.type}: "
            f"{second.message}. Compute backward with torch operations on the "
            "saved tensor so autograd can differentiate it again: backward itself "
            "must stay on the graph (not under torch.no_grad(), not on .data or a "
            ".detach()ed tensor, not marked @once_differentiable), and so must what it "
            "works from: save forward's input i itself, since a tensor made inside forward "
            "(a clone or a copy of i) is cut off from i's graph, nothing being recorded there."))
    assert isinstance(second, TensorValue), failure(
        "SQ: differentiating your backward gave no tensor.",
        f"{call}: differentiating your backward gave {describe(second)}; expected "
        f"{show(expected)}. Compute backward with torch operations on the saved tensor.")
    assert_close(second, expected, call, hint=SECOND_ORDER)
