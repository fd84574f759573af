"""Structural facts read from the submitted source itself, to confirm what a probe reply claims.

Each reader answers True, False or None (the parse cannot decide: an alias, a helper, code
built at run time). Only a definite False contradicts a reply, so an honest style the parse
does not follow never costs a point.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable
from typing import Any

from .textcache import cached_for_short_texts

__all__ = ["is_plain_class", "method_uses", "function_uses", "loop_uses", "calls_any", "parameters_unused",
           "returns_nothing", "confirm"]

# Calls through which a function can read its parameters without naming them.
_INDIRECT_READS = {"locals", "vars", "globals", "eval", "exec", "_getframe", "currentframe", "getframeinfo"}
_MAX_DEPTH = 8
# Builtins a call to which reaches no attribute of anything by name (getattr and eval can).
_PLAIN_BUILTINS = frozenset(dir(builtins)) - {"getattr", "setattr", "delattr", "eval", "exec", "compile",
                                               "__import__", "vars", "locals", "globals", "breakpoint"}


@cached_for_short_texts(maxsize=64)  # the same definitions are read by several checks; nodes are only read
def _parse(source: str | None) -> ast.stmt | None:
    """The single top-level statement `source` holds (as `definition_source` returns it)."""
    if not source:
        return None
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return body[0] if len(body) == 1 else None


def is_plain_class(source_of, name: str, depth: int = 0) -> bool | None:
    """Whether `name` is definitely not a subclass of anything but `object` (or not a class).

    `source_of(name)` gives the submitted source of a name's last top-level definition (None
    if unknown). A base defined in the submission is followed; any other base is unknown.
    """
    if depth > _MAX_DEPTH:
        return None
    node = _parse(source_of(name))
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return True  # a function is no class at all
    if not isinstance(node, ast.ClassDef) or node.keywords:
        return None  # an assignment, an alias or a metaclass: the parse cannot tell
    verdicts = [_plain_base(source_of, base, depth) for base in node.bases]
    if all(v is True for v in verdicts):
        return True
    return False if any(v is False for v in verdicts) else None


def _plain_base(source_of, base: ast.expr, depth: int) -> bool | None:
    if isinstance(base, ast.Name) and base.id == "object":
        return True
    if isinstance(base, ast.Name):
        return is_plain_class(source_of, base.id, depth + 1)
    return None


def method_uses(source_of, name: str, method: str, attribute: str, depth: int = 0) -> bool | None:
    """Whether `method` of the class `name` reaches `<first parameter>.<attribute>` (a call or a read).

    Aliases (`SQ = Square`) and bases defined in the submission are followed. False only when
    the method is found in a class body and uses its first parameter (ctx) for nothing but its
    own attributes: handing ctx to a helper, a decorator or an indirect read leaves it to None.
    A class that defines `setup_context` gives its `forward` no ctx: what forward would do with
    ctx is then setup_context's (torch's newer style).
    """
    if depth > _MAX_DEPTH:
        return None
    node = _unaliased(source_of, name)
    if not isinstance(node, ast.ClassDef):
        return None
    if method == "forward" and _binds(source_of, node, "setup_context", depth):
        return method_uses(source_of, name, "setup_context", attribute, depth + 1)
    bound = [item for item in node.body if method in _bound_names(item)]
    if not bound:
        verdicts = [method_uses(source_of, base.id, method, attribute, depth + 1)
                    for base in node.bases if isinstance(base, ast.Name)]
        return True if True in verdicts else None  # the first base that defines it is not worked out
    function = bound[-1]
    if not isinstance(function, ast.FunctionDef) or function.args.vararg or function.args.kwarg:
        return None
    if any(not (isinstance(d, ast.Name) and d.id == "staticmethod") for d in function.decorator_list):
        return None
    parameters = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    if not parameters:
        return None
    if any(isinstance(n, ast.Attribute) and n.attr == attribute for n in ast.walk(function)):
        return True
    own = parameters[0]
    attribute_owners = {id(n.value) for n in ast.walk(function) if isinstance(n, ast.Attribute)}
    elsewhere = [n for n in ast.walk(function)
                 if isinstance(n, ast.Name) and n.id == own and id(n) not in attribute_owners]
    if elsewhere or any(_indirect(n) for n in ast.walk(function)):
        return None
    return False


def function_uses(source_of, name: str, attributes: Iterable[str]) -> bool | None:
    """Whether the function `name` reaches `<anything>.<attribute>` for one of `attributes` (a call or a read).

    False only when its definition is found (through aliases) and every call it makes is to a
    builtin or to a function of the libraries themselves (`torch.tensor(...)`, `math.exp(...)`):
    a call to anything else (a helper or a class of the submission's, an imported function, a
    method of a value), getattr, eval or a decorator leaves it to None.
    """
    node = _unaliased(source_of, name)
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    wanted = set(attributes)
    nodes = list(ast.walk(node))
    if any(isinstance(n, ast.Attribute) and n.attr in wanted for n in nodes):
        return True
    calls = [n.func for n in nodes if isinstance(n, ast.Call)]
    followed = all(isinstance(f, ast.Name) and f.id in _PLAIN_BUILTINS or _library_call(f) for f in calls)
    return False if followed and not node.decorator_list and not any(map(_indirect, nodes)) else None


_LIBRARIES = frozenset({"torch", "math", "numpy", "np"})


def _library_call(func: ast.expr) -> bool:
    """`torch.tensor`, `torch.nn.functional.relu`: an attribute path from a library's own name."""
    while isinstance(func, ast.Attribute):
        func = func.value
    return isinstance(func, ast.Name) and func.id in _LIBRARIES


_LOOPS = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def loop_uses(source_of, name: str, attributes: Iterable[str], calls: Iterable[str] = ()) -> bool | None:
    """Whether a loop of the function `name` (for, while, a comprehension, `map`) reaches
    `<anything>.<attribute>` for one of `attributes`, or calls one of `calls` (`grad(y, p)`,
    `torch.func.grad(f)(p)`, or a local name bound to such a call), in
    what it runs once per item (not in the iterable it reads once): itself, through a function of
    the submission that the loop calls (`grad_at(f, p)` per point), or in a loop of a function of
    the submission it calls. None when its definition is not found."""
    node = _unaliased(source_of, name)
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    return _loops_reach(source_of, node, set(attributes), set(calls), {name}, 0)


def _loops_reach(source_of, node: ast.FunctionDef | ast.AsyncFunctionDef, wanted: set[str], calls: set[str],
                 seen: set[str], depth: int) -> bool:
    local = _local_names(node)
    made = {target.id for n in ast.walk(node) if isinstance(n, ast.Assign) and _does(n.value, wanted, calls, set())
            for target in n.targets if isinstance(target, ast.Name)}
    for loop in ast.walk(node):
        for part in _per_item(loop):
            for n in ast.walk(part):
                if _does(n, wanted, calls, made):
                    return True
                if _calls_helper(n, local) and _reaches(source_of, n.func.id, wanted, seen, depth + 1,
                                                        names=True, calls=calls):
                    return True
    if depth >= _MAX_DEPTH:
        return False
    for n in ast.walk(node):  # a function of the submission that holds the loop
        if _calls_helper(n, local) and n.func.id not in seen:
            helper = _unaliased(source_of, n.func.id)
            if isinstance(helper, (ast.FunctionDef, ast.AsyncFunctionDef)) and _loops_reach(
                    source_of, helper, wanted, calls, seen | {n.func.id}, depth + 1):
                return True
    return False


def _does(node: ast.AST, wanted: set[str], calls: set[str], made: set[str]) -> bool:
    """`<anything>.<wanted>`, a call of one of `calls` (by name or attribute), or of a name in `made`."""
    if isinstance(node, ast.Attribute) and node.attr in wanted:
        return True
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and (func.id in calls or func.id in made)
            or isinstance(func, ast.Attribute) and func.attr in calls
            or isinstance(func, ast.Call) and _does(func, wanted, calls, made))


def calls_any(source_of, name: str, functions: Iterable[str]) -> bool | None:
    """Whether the function `name` calls one of `functions`, by attribute (`torch.func.jacrev(f)`)
    or by a name imported as such (`jacobian(f, x)`), itself or through a function of the
    submission that it calls. None when its definition is not found."""
    node = _unaliased(source_of, name)
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    return _reaches(source_of, name, set(functions), set(), 0, names=True)


def _reaches(source_of, name: str, wanted: set[str], seen: set[str], depth: int, *, names: bool = False,
             calls: set[str] = frozenset()) -> bool:
    """Whether the submission's function `name` reaches one of `wanted` anywhere in its body (or,
    with `names`, calls one of `wanted` by a name, or one of `calls` by name or attribute)."""
    node = _unaliased(source_of, name)
    if name in seen or depth > _MAX_DEPTH or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    local = _local_names(node)
    for n in ast.walk(node):
        if isinstance(n, ast.Attribute) and n.attr in wanted:
            return True
        if isinstance(n, ast.Call) and calls and _does(n, set(), calls, set()):
            return True
        if names and isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in wanted:
            return True
        if _calls_helper(n, local) and _reaches(source_of, n.func.id, wanted, seen | {name}, depth + 1,
                                                names=names, calls=calls):
            return True
    return False


def _calls_helper(node: ast.AST, local: set[str]) -> bool:
    """A call by a global name (a parameter or a local variable shadows the submission's functions)."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id not in local


def names_read(source: str | None) -> set[str]:
    """The names a definition (as `definition_source` gives it) reads from outside itself: not
    its parameters, the names it binds, or the functions and classes it defines."""
    node = _parse(source)
    if node is None:
        return set()
    nodes = list(ast.walk(node))
    local = {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    local |= {n.arg for n in nodes if isinstance(n, ast.arg)}
    local |= {n.name for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    return {n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - local


def _local_names(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    arguments = function.args
    parameters = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]
    stored = {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return {a.arg for a in parameters if a is not None} | stored


def _per_item(loop: ast.AST) -> list[ast.AST]:
    """The parts of a loop that run once per item (none for a node that is not a loop); `map(g, xs)`
    runs g once per item: a lambda's body, or a call of the function named."""
    if isinstance(loop, ast.Call) and isinstance(loop.func, ast.Name) and loop.func.id == "map" and loop.args:
        function = loop.args[0]
        if isinstance(function, ast.Lambda):
            return [function.body]
        return [ast.Call(func=function, args=[], keywords=[])]
    if not isinstance(loop, _LOOPS):
        return []
    if isinstance(loop, (ast.For, ast.AsyncFor)):
        return list(loop.body)
    if isinstance(loop, ast.While):
        return [loop.test, *loop.body]
    first, *inner = loop.generators
    results = [loop.key, loop.value] if isinstance(loop, ast.DictComp) else [loop.elt]
    return [*results, *first.ifs, *inner]


def _binds(source_of, node: ast.ClassDef, method: str, depth: int) -> bool:
    """Whether the class, or a base defined in the submission, binds `method` in its body (a
    base from elsewhere, torch's Function, is taken not to: it overrides nothing)."""
    if depth > _MAX_DEPTH:
        return False
    if any(method in _bound_names(item) for item in node.body):
        return True
    bases = [_unaliased(source_of, base.id) for base in node.bases if isinstance(base, ast.Name)]
    return any(isinstance(base, ast.ClassDef) and _binds(source_of, base, method, depth + 1) for base in bases)


def _unaliased(source_of, name: str) -> ast.stmt | None:
    """The definition `name` stands for, through aliases (`SQ = Square`, `SQ: type = Square`); a
    lambda bound to it reads as the function it is (`f = lambda x: ...`: a def returning its body)."""
    node = _parse(source_of(name))
    for _ in range(_MAX_DEPTH):
        if not (isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Name)):
            return _lambda_as_def(node, name)
        node = _parse(source_of(node.value.id))
    return None


def _lambda_as_def(node: ast.stmt | None, name: str) -> ast.stmt | None:
    if not (isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Lambda)):
        return node
    function = ast.FunctionDef(name=name, args=node.value.args, body=[ast.Return(node.value.body)],
                               decorator_list=[], returns=None, type_comment=None)
    return ast.fix_missing_locations(ast.copy_location(function, node))


def _bound_names(item: ast.stmt) -> list[str]:
    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [item.name]
    targets = item.targets if isinstance(item, ast.Assign) else [item.target] if isinstance(
        item, (ast.AnnAssign, ast.AugAssign)) else []
    return [t.id for t in targets if isinstance(t, ast.Name)]


def parameters_unused(source: str | None, method: str, skip: int = 1) -> bool | None:
    """Whether `method` of the class in `source` never reads its parameters after the first `skip`.

    True only for a method defined in the class body whose parameters are all named and never
    read, with no call that could read them indirectly (locals(), eval, frames).
    """
    node = _parse(source)
    if not isinstance(node, ast.ClassDef):
        return None
    found = [item for item in node.body if isinstance(item, ast.FunctionDef) and item.name == method]
    if not found:
        return None
    function = found[-1]
    arguments = function.args
    if arguments.vararg or arguments.kwarg:
        return None
    names = [a.arg for a in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]][skip:]
    if not names:
        return None
    reads = {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)}
    if any(_indirect(n) for n in ast.walk(function)):
        return None
    return not (set(names) & reads)


def returns_nothing(source: str | None) -> bool | None:
    """Whether the function in `source` can only return None: no `return` with a value (and no
    `yield`) in its own body. None when `source` is not one function definition."""
    node = _parse(source)
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    pending = list(node.body)
    while pending:
        item = pending.pop()
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue  # its returns are another function's
        if isinstance(item, ast.Return) and item.value is not None or isinstance(item, (ast.Yield, ast.YieldFrom)):
            return False
        pending.extend(ast.iter_child_nodes(item))
    return True


def _indirect(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    target = node.func
    name = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else ""
    return name in _INDIRECT_READS


def confirm(subject: Any, claimed: bool, contradicted: bool | None, what: str) -> bool:
    """A reply's `claimed` fact, unless the judge's parse `contradicted` it.

    A contradiction is reported to the subject (in trusted grading, it puts the verdict up
    for review: only changed grading machinery makes a worker claim what the source denies).
    """
    if claimed and contradicted is True:
        report = getattr(subject, "contradiction", None)
        if report is not None:
            report(f"a worker reply claimed {what}, which the submitted source contradicts")
        return False
    return claimed
