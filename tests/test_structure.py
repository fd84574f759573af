"""The judge's own reading of the submitted source: what it can decide, and replies it does not believe."""

import random

import pytest
import torch
from sample import CORRECT, WRONG, local_subject, reference, run_question

from grader.runtime import (
    CtxInfo,
    FunctionResult,
    calls_any,
    function_uses,
    is_plain_class,
    loop_uses,
    method_uses,
    parameters_unused,
)
from grader.worker.session import definition_source, mentions

FUNCTION_STYLES = {
    "attribute": "class SQ(torch.autograd.Function):\n    pass\n",
    "imported": "from torch.autograd import Function\n\n\nclass SQ(Function):\n    pass\n",
    "alias": "import torch.autograd as ag\nF = ag.Function\n\n\nclass SQ(F):\n    pass\n",
    "module path": "class SQ(torch.autograd.function.Function):\n    pass\n",
    "decorated": "import functools\n\n\n@functools.total_ordering\nclass SQ(torch.autograd.Function):\n    pass\n",
    "own base": "class Base(torch.autograd.Function):\n    pass\n\n\nclass SQ(Base):\n    pass\n",
    "metaclass": "class SQ(metaclass=type):\n    pass\n",
    "assigned": "SQ = type('SQ', (torch.autograd.Function,), {})\n",
}
PLAIN_STYLES = {
    "no bases": "class SQ:\n    pass\n",
    "object": "class SQ(object):\n    pass\n",
    "a function": "def SQ(x):\n    return x ** 2\n",
    "plain own base": "class Base:\n    pass\n\n\nclass SQ(Base, object):\n    pass\n",
}


def _lookup(source: str):
    return lambda name: definition_source([source], name)


@pytest.mark.parametrize("style", FUNCTION_STYLES, ids=list(FUNCTION_STYLES))
def test_an_autograd_function_is_never_called_plain(style):
    """Is no way of writing an autograd Function (imports, aliases, decorators, own bases) read as
    a plain class, so no honest style is contradicted?"""
    assert is_plain_class(_lookup(FUNCTION_STYLES[style]), "SQ") is not True


@pytest.mark.parametrize("style", PLAIN_STYLES, ids=list(PLAIN_STYLES))
def test_a_plain_class_is_read_as_plain(style):
    """Is a class with no base but object (or a function) read as definitely not a Function?"""
    assert is_plain_class(_lookup(PLAIN_STYLES[style]), "SQ") is True


@pytest.mark.parametrize("ans", [a for a in CORRECT if a.question in ("SQ", "MulConstant")], ids=lambda a: a.name)
def test_bank_functions_are_confirmed(ans):
    """Does the parse agree with every honest SQ and MulConstant of the bank (a Function whose
    backward reads grad_output)?"""
    source = definition_source([ans.source], ans.question)
    assert is_plain_class(_lookup(ans.source), ans.question) is not True
    assert parameters_unused(source, "backward") is not True


@pytest.mark.parametrize("body, expected", [
    ("return grad_output * 2 * i", False),
    ("return 2 * i", True),
    ("return helper(ctx, grad_output)", False),
    ("return locals()['grad_output'] * 2", None),
])
def test_backward_reading_grad_output(body, expected):
    """Is a backward that never reads grad_output told apart from one that does, and is one that
    could read it indirectly left undecided?"""
    source = ("class SQ(torch.autograd.Function):\n    @staticmethod\n    def backward(ctx, grad_output):\n"
              f"        (i,) = ctx.saved_tensors\n        {body}\n")
    assert parameters_unused(source, "backward") is expected
    assert parameters_unused("class SQ:\n    @staticmethod\n    def backward(ctx, *grads):\n        return 1\n",
                             "backward") is None


_SQ_BODY = ("    @staticmethod\n    def forward(ctx, i):\n        {body}\n        return i ** 2\n\n"
            "    @staticmethod\n    def backward(ctx, grad_output):\n        (i,) = ctx.saved_tensors\n"
            "        return grad_output * 2 * i\n")


@pytest.mark.parametrize("source, expected", [
    ("class SQ(torch.autograd.Function):\n" + _SQ_BODY.format(body="ctx.save_for_backward(i)"), True),
    ("class SQ(torch.autograd.Function):\n" + _SQ_BODY.format(body="ctx.i = i"), False),
    ("class Square(torch.autograd.Function):\n" + _SQ_BODY.format(body="ctx.save_for_backward(i)")
     + "\n\nSQ = Square\n", True),
    ("class Square(torch.autograd.Function):\n" + _SQ_BODY.format(body="ctx.save_for_backward(i)")
     + "\n\nSQ: type = Square\n", True),
    ("class Base(torch.autograd.Function):\n" + _SQ_BODY.format(body="ctx.save_for_backward(i)")
     + "\n\nclass SQ(Base):\n    pass\n", True),
    ("def keep(ctx, i):\n    ctx.save_for_backward(i)\n\n\nclass SQ(torch.autograd.Function):\n"
     + _SQ_BODY.format(body="keep(ctx, i)"), None),
    ("class SQ(torch.autograd.Function):\n" + _SQ_BODY.format(body="getattr(ctx, 'save_for_' + 'backward')(i)"),
     None),
    ("class SQ(torch.autograd.Function):\n" + _SQ_BODY.format(body="exec('ctx.save_for_backward(i)')"), None),
    ("SQ = make_square()\n", None),
    ("class SQ(torch.autograd.Function):\n    @staticmethod\n    def forward(i):\n        return i.pow(2)\n\n"
     "    @staticmethod\n    def setup_context(ctx, inputs, output):\n        ctx.save_for_backward(*inputs)\n", True),
    ("class SQ(torch.autograd.Function):\n    @staticmethod\n    def forward(i):\n        return i.pow(2)\n\n"
     "    @staticmethod\n    def setup_context(ctx, inputs, output):\n        ctx.i = inputs[0]\n", False),
    ("class SavesInputs(torch.autograd.Function):\n    @staticmethod\n    def setup_context(ctx, inputs, output):\n"
     "        ctx.save_for_backward(*inputs)\n\n\nclass SQ(SavesInputs):\n    @staticmethod\n    def forward(i):\n"
     "        return i.square()\n", True),
], ids=["direct", "plain attribute", "alias", "annotated alias", "inherited", "helper", "getattr", "exec",
        "built at run time", "setup_context saves", "setup_context keeps an attribute", "setup_context inherited"])
def test_forward_reaching_save_for_backward(source, expected):
    """Is a forward that saves found through aliases and the submission's own bases, one that only
    keeps ctx attributes told apart, and one that hands ctx on or builds calls at run time left
    undecided (so no honest style is contradicted)?"""
    assert method_uses(_lookup(source), "SQ", "forward", "save_for_backward") is expected


def test_mentions_is_a_whole_word():
    """Is a name found only as a whole word, in code or in a string, and not inside another name?"""
    assert mentions(["x = grad_at(f, 1)"], "grad_at") and mentions(["globals()['grad_at'] = g"], "grad_at")
    assert not mentions(["my_grad_at_2 = 1", "name = 'grad' + '_at'"], "grad_at")


class ForgingSubject:
    """Replies as changed probes would give them, over the true submitted source."""

    def __init__(self, source: str, namespace: dict):
        self.inner = local_subject(namespace, source_lookup=_lookup(source))
        self.contradictions: list[str] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def contradiction(self, text: str) -> None:
        self.contradictions.append(text)

    def describe_class(self, name: str) -> dict:
        return {**self.inner.describe_class(name), "is_autograd_function": True}

    def autograd_function(self, name, inputs, upstream, second_upstream=None) -> FunctionResult:
        real = self.inner.autograd_function(name, inputs, torch.ones_like(upstream), second_upstream)
        scaled = [g if not hasattr(g, "tensor") else type(g)(**{**vars(g), "tensor": g.tensor * upstream})
                  for g in real.grads]
        return FunctionResult(real.output, tuple(scaled), real.second, real.ctx)


PLAIN_SQ = """class SQ:
    @staticmethod
    def forward(ctx, i):
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return grad_output * 2 * i


SQ.apply = type("Hidden", (torch.autograd.Function,), {"forward": SQ.forward, "backward": SQ.backward}).apply
"""
IGNORING_SQ = next(a.source for a in WRONG if a.name == "sq_ignores_grad_output")


@pytest.mark.parametrize("source", [PLAIN_SQ, IGNORING_SQ], ids=["plain class", "ignores grad_output"])
def test_forged_replies_about_sq_are_not_believed(source):
    """With replies forged to claim a Function and the chain rule, does SQ still fail, and is the
    contradiction reported (in trusted grading it sends the notebook to a TA)?"""
    namespace = {"torch": torch}
    exec(compile(source, "<SQ>", "exec"), namespace)
    subject = ForgingSubject(source, namespace)
    verdict = run_question("SQ", subject, random.Random(0))
    assert verdict.status == "failed" and verdict.earned(3) < 3, verdict
    assert subject.contradictions, verdict.messages


def test_forged_saved_tensors_are_not_believed():
    """Does an SQ that keeps i as a plain attribute of ctx lose the forward part even when the
    reply claims ctx.saved_tensors holds it (the source must call ctx.save_for_backward)?"""
    source = next(a.source for a in WRONG if a.name == "sq_ctx_attribute")
    assert "save_for_backward" not in source
    namespace = {"torch": torch}
    exec(compile(source, "<SQ>", "exec"), namespace)
    subject = ForgingSubject(source, namespace)
    real = subject.autograd_function

    def claims_saved(*args, **kwargs):
        result = real(*args, **kwargs)
        return FunctionResult(result.output, result.grads, result.second, CtxInfo(1, result.ctx.attributes))

    subject.autograd_function = claims_saved
    verdict = run_question("SQ", subject, random.Random(0))
    forward = next(p for p in verdict.parts if p.name == "forward")
    assert forward.status == "failed" and "save_for_backward" in forward.message, forward


def test_a_decoy_save_loses_the_forward_part_and_says_why():
    """Does an SQ that saves an empty tensor, keeps i as ctx.i and reads only that in backward
    lose the forward part, with a message that names the unread ctx.saved_tensors, while the
    chain rule (its numbers are right) still passes?"""
    source = next(a.source for a in WRONG if a.name == "sq_saves_a_decoy")
    namespace = {"torch": torch}
    exec(compile(source, "<SQ>", "exec"), namespace)
    verdict = run_question("SQ", local_subject(namespace, lambda name: source), random.Random(0))
    parts = {p.name: p for p in verdict.parts}
    assert parts["forward"].status == "failed", verdict
    assert "never reads ctx.saved_tensors" in parts["forward"].message and "ctx.i" in parts["forward"].message
    assert parts["chain_rule"].status == "passed", verdict


def test_a_ctx_class_put_in_torchs_place_tells_nothing():
    """Is a ctx whose class the student put in place of torch's (SQ._backward_cls, with a
    saved_tensors property) read as holding nothing, so a forward that never saved loses its part?"""
    source = (
        "def _keep(ctx, i):\n    ctx.i = i\n\n\n"
        "class SQ(torch.autograd.Function):\n"
        "    @staticmethod\n    def forward(ctx, i):\n        _keep(ctx, i)\n        return i ** 2\n\n"
        "    @staticmethod\n    def backward(ctx, grad_output):\n        return grad_output * 2 * ctx.i\n\n\n"
        "class _Claims(torch.autograd.function.BackwardCFunction):\n"
        "    _forward_cls = SQ\n    saved_tensors = property(lambda self: (self.i,))\n\n\n"
        "SQ._backward_cls = _Claims\n")
    namespace = {"torch": torch}
    exec(compile(source, "<SQ>", "exec"), namespace)
    verdict = run_question("SQ", local_subject(namespace, source_lookup=_lookup(source)), random.Random(0))
    forward = next(p for p in verdict.parts if p.name == "forward")
    assert forward.status == "failed" and "saved_tensors is empty" in forward.message, forward


def test_honest_sq_is_not_contradicted():
    """Does the reference SQ pass with no contradiction reported?"""
    source = reference("SQ").source
    namespace = {"torch": torch}
    exec(compile(source, "<SQ>", "exec"), namespace)
    subject = local_subject(namespace, source_lookup=_lookup(source))
    reported: list[str] = []
    subject.contradiction = reported.append
    assert run_question("SQ", subject, random.Random(0)).passed and reported == []


AUTOGRAD = ("backward", "retain_grad", "register_hook", "autograd", "func")
BY_AUTOGRAD = {  # honest ways to get leaf_and_intermediate_grads' pair from autograd
    "retain_grad": "def g(x0):\n    x = torch.tensor(float(x0), requires_grad=True)\n    y = x ** 2\n"
                   "    y.retain_grad()\n    (3 * y).backward()\n    return x.grad, y.grad\n",
    "autograd.grad": "def g(x0):\n    x = torch.tensor(x0, requires_grad=True)\n    y = x * x\n"
                     "    return tuple(torch.autograd.grad(3 * y, (x, y)))\n",
    "imported grad": "from torch.autograd import grad\n\n\ndef g(x0):\n    x = torch.tensor(x0, requires_grad=True)\n"
                     "    y = x * x\n    return grad(3 * y, (x, y))\n",
    "a helper": "def helper(x0):\n    return 1, 2\n\n\ndef g(x0):\n    return helper(x0)\n",
    "torch.func": "def g(x0):\n    x = torch.tensor(float(x0))\n    y = x ** 2\n"
                  "    return torch.func.grad(lambda t: 3 * t ** 2)(x), torch.func.grad(lambda u: 3 * u)(y)\n",
    "getattr": "def g(x0):\n    x = torch.tensor(x0, requires_grad=True)\n    getattr(x, 'retain_' + 'grad')()\n"
               "    return x, x\n",
    "alias": "def f(x0):\n    y = torch.tensor(x0, requires_grad=True)\n    y.sum().backward()\n    return y.grad, y.grad\n\n\n"
             "g = f\n",
}


@pytest.mark.parametrize("style", BY_AUTOGRAD, ids=list(BY_AUTOGRAD))
def test_a_function_that_may_run_autograd_is_never_said_not_to(style):
    """Is no way of reaching autograd (its attributes, an imported function, a helper, getattr)
    read as a function that does not, so no honest style loses the point?"""
    assert function_uses(_lookup(BY_AUTOGRAD[style]), "g", AUTOGRAD) is not False


def test_gradients_typed_in_by_hand_are_read_as_no_autograd():
    """Is a function that builds its answer from torch.tensor and arithmetic alone (the calculus
    typed in: x.grad = 6 * x0, y.grad = 3) read as one that never reaches autograd?"""
    source = ("def g(x0):\n    # no backward here: the calculus\n    \"\"\"retain_grad? backward?\"\"\"\n"
              "    return torch.tensor(6.0 * float(x0)), torch.tensor(3.0)\n")
    assert function_uses(_lookup(source), "g", AUTOGRAD) is False
    assert function_uses(_lookup("g = 3\n"), "g", AUTOGRAD) is None  # not a function: undecided


def test_a_backward_pass_per_item_is_read_as_a_loop_and_one_through_a_sum_is_not():
    """Is backward called in a for loop or a comprehension read as work done per item, while one
    backward through a sum (reading .grad in a comprehension after it) is not?"""
    per_point = ("def d(f, x):\n    out = []\n    for xi in x:\n        p = xi.detach().requires_grad_()\n"
                 "        f(p).backward()\n        out.append(p.grad)\n    return torch.stack(out)\n")
    in_comprehension = "def d(f, x):\n    return [torch.autograd.grad(f(p), p)[0] for p in x]\n"
    one_pass = ("def d(f, x):\n    x = x.detach().clone().requires_grad_()\n    f(x).sum().backward()\n"
                "    return torch.stack([g for g in x.grad])\n")
    assert loop_uses(_lookup(per_point), "d", ("backward", "autograd")) is True
    assert loop_uses(_lookup(in_comprehension), "d", ("backward", "autograd")) is True
    assert loop_uses(_lookup(one_pass), "d", ("backward", "autograd")) is False


def test_a_loop_calling_a_function_of_the_submissions_that_runs_backward_is_a_pass_per_item():
    """Is a loop that calls the submission's own grad_at (which runs backward) read as a backward
    pass per item, while a loop calling a helper that only makes a leaf, or a parameter that
    shadows the submission's function of the same name, is not?"""
    cells = ["def grad_at(f, x0):\n    x = torch.tensor(float(x0), requires_grad=True)\n    f(x).backward()\n"
             "    return x.grad\n",
             "def leaf(p):\n    return p.detach().requires_grad_()\n",
             "def via_grad_at(f, x):\n    return torch.stack([grad_at(f, float(p)) for p in x])\n",
             "def via_leaf(f, x):\n    y = f(torch.stack([leaf(p) for p in x]))\n    return y\n",
             "def shadowed(f, x, grad_at=lambda f, p: p):\n    return [grad_at(f, p) for p in x]\n"]
    lookup = lambda name: definition_source(cells, name)  # noqa: E731
    assert loop_uses(lookup, "via_grad_at", ("backward", "autograd")) is True
    assert loop_uses(lookup, "via_leaf", ("backward", "autograd")) is False
    assert loop_uses(lookup, "shadowed", ("backward", "autograd")) is False


def test_a_whole_jacobian_is_found_by_attribute_by_imported_name_and_through_a_helper():
    """Is a call of torch.autograd.functional.jacobian, of jacobian imported by name, or of a
    helper of the submission's that calls torch.func.jacrev found, and one backward through a sum not?"""
    cells = ["def by_attribute(f, x):\n    return torch.autograd.functional.jacobian(f, x).diagonal()\n",
             "from torch.autograd.functional import jacobian\n\n\ndef by_name(f, x):\n"
             "    return jacobian(f, x).diagonal()\n",
             "def helper(f, x):\n    return torch.func.jacrev(f)(x)\n",
             "def through_helper(f, x):\n    return helper(f, x).diagonal()\n",
             "def one_pass(f, x):\n    x = x.detach().requires_grad_()\n    f(x).sum().backward()\n    return x.grad\n"]
    lookup = lambda name: definition_source(cells, name)  # noqa: E731
    whole = ("jacobian", "jacrev", "jacfwd", "hessian")
    assert [calls_any(lookup, name, whole) for name in ("by_attribute", "by_name", "through_helper", "one_pass")] \
        == [True, True, True, False]
    assert calls_any(lookup, "absent", whole) is None


def test_what_a_loop_reads_once_and_a_class_of_the_submissions_are_not_misread():
    """Is a backward pass in the iterable a loop reads once (not per item) not read as one per
    item, and is a call to a method of the submission's own class left undecided (it may reach
    autograd), never read as a function that does not?"""
    once = ("def d(f, x):\n    x = x.detach().requires_grad_()\n"
            "    return [g for g in torch.autograd.grad(f(x).sum(), [x])][0]\n")
    loop_once = ("def d(f, x):\n    x = x.detach().requires_grad_()\n"
                 "    for g in torch.autograd.grad(f(x).sum(), [x]):\n        return g\n")
    assert loop_uses(_lookup(once), "d", ("backward", "autograd")) is False
    assert loop_uses(_lookup(loop_once), "d", ("backward", "autograd")) is False
    chain = ("class Chain:\n    @staticmethod\n    def run(x0):\n        return 1, 2\n\n\n"
             "def g(x0):\n    return Chain.run(x0)\n")
    assert function_uses(lambda name: definition_source([chain], name), "g", AUTOGRAD) is None
    method = "def g(x0):\n    x = torch.tensor(x0)\n    return x.double(), x.float()\n"
    assert function_uses(_lookup(method), "g", AUTOGRAD) is None


def test_a_lambda_bound_to_a_name_reads_as_the_function_it_is():
    """`d = lambda f, x: [...]`: does a loop in its body count as the function's loop?"""
    from grader.runtime import loop_uses

    per_point = {"d": "d = lambda f, x: torch.stack([g(f, p) for p in x])\n",
                 "g": "def g(f, p):\n    p = p.detach().requires_grad_()\n    f(p).backward()\n    return p.grad\n"}
    assert loop_uses(per_point.get, "d", ("backward", "autograd")) is True
    one_pass = {"d": "d = lambda f, x: torch.autograd.grad(f(x).sum(), x)[0]\n"}
    assert loop_uses(one_pass.get, "d", ("backward", "autograd")) is False
