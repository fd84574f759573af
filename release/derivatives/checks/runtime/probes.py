"""One probe against the student's namespace: run student code, answer with plain data."""

import sys
import warnings
from typing import Any

import torch
from torch.autograd.function import BackwardCFunction

from .jsontext import dumps, loads
from .values import (
    MAX_NAME,
    MAX_STR,
    BadValue,
    Budget,
    Fn,
    TensorValue,
    decode,
    encode,
    encode_raised,
    to_torch_dtype,
)

__all__ = ["run_probe", "reply_text", "OPS"]

OPS = ("call", "get", "autograd_function", "describe_class", "kept")
MAX_CTX_ATTRIBUTES = 20
MAX_SAVED = 8  # saved tensors whose values a reply carries
MAX_KEPT = 16  # values calls asked to keep, the latest ones: a check rereads them later

# Real functions captured at import: student code may rebind the public names later.
_autograd_grad = torch.autograd.grad
_enable_grad = torch.enable_grad
_Function = torch.autograd.Function
_Tensor = torch.Tensor
_get_grad_fn = torch._C.TensorBase.__dict__["grad_fn"].__get__
_get_requires_grad = torch._C.TensorBase.__dict__["requires_grad"].__get__
_get_grad = torch._C.TensorBase.__dict__["grad"].__get__
_set_grad = torch._C.TensorBase.__dict__["grad"].__set__
_Parameter = torch.nn.Parameter
_requires_grad_ = torch.Tensor.requires_grad_
_as_subclass, _detach, _contiguous, _numpy = (torch.Tensor.as_subclass, torch.Tensor.detach,
                                               torch.Tensor.contiguous, torch.Tensor.numpy)
_bytes, _str_of = bytes, str
# pyplot.close("all") is Gcf.destroy_all; a worker's warm parent imports pyplot before this
# module, so the real one is held here before student code could rebind either
_destroy_all = getattr(getattr(sys.modules.get("matplotlib._pylab_helpers"), "Gcf", None), "destroy_all", None)
_to = torch.Tensor.to
_catch_warnings, _simplefilter = warnings.catch_warnings, warnings.simplefilter
_isinstance, _issubclass, _type, _len, _vars = isinstance, issubclass, type, len, vars
_dict_get, _dict_items = dict.get, dict.items
_tuple, _frozenset, _zip = tuple, frozenset, zip
_saved_tensors = torch._C._FunctionBase.__dict__["saved_tensors"].__get__
_mro_of, _dict_of = type.__dict__["__mro__"].__get__, type.__dict__["__dict__"].__get__
_BACKWARD_MRO = BackwardCFunction.__mro__
_backward_apply = BackwardCFunction.apply  # what autograd's engine calls on a Function's node
_set_grad_enabled, _ones_like, _clone = torch.set_grad_enabled, torch.ones_like, torch.Tensor.clone
_sum_to_size, _numel = torch.Tensor.sum_to_size, torch.Tensor.numel
_GENERATED = frozenset({"__doc__", "__module__", "_autograd_function_id", "_forward_cls"})  # by FunctionMeta
_ABSENT = object()
_KEPT: dict[int, Any] = {}


def run_probe(namespace: dict, request: dict, functions: dict | None = None) -> dict:
    """Answer one request of docs/design.md against `namespace`; never raises.

    `functions` maps the names a request may pass as `{"kind": "fn"}` to the callables the
    student's code receives (an assignment's vocabulary).
    """
    return loads(reply_text(namespace, request, functions))


def reply_text(namespace: dict, request: dict, functions: dict | None = None) -> str:
    """`run_probe`'s reply as the JSON text a worker sends: each part is sealed as text as soon
    as it is read, and the reply never becomes an object again, so code that runs after the
    student's last call (a finaliser, a signal handler) finds nothing it could change."""
    try:
        with _catch_warnings():
            _simplefilter("ignore")
            with _enable_grad():
                return _dispatch(namespace, request, functions or {})
    except BaseException as exc:  # a probe must answer whatever happens
        return _sealed({"error": _error_text(exc)})


def _error_text(exc: BaseException) -> str:
    message = encode_raised(exc)
    return f"probe failed: {message['type']}: {message['message']}"[:MAX_STR]


def _dispatch(namespace: dict, request: dict, functions: dict) -> str:
    if _type(request) is not dict or request.get("op") not in OPS:
        return _sealed({"error": f"bad request: op must be one of {', '.join(OPS)}"})
    name = request.get("name")
    if _type(name) is not str or _len(name) > MAX_NAME:
        return _sealed({"error": "bad request: name must be a short string"})
    op, budget = request["op"], Budget()  # one budget per reply: it must fit one frame
    if op == "kept":
        number = request.get("number")
        if _type(number) is not int or number not in _KEPT:
            return _sealed({"error": "bad request: no value kept under that number"})
        return _result_text(_sealed(encode(_KEPT[number], budget)))
    target = _dict_get(namespace, name, _ABSENT)
    if op == "get":
        return _result_text(_MISSING if target is _ABSENT else _sealed(encode(target, budget)))
    if target is _ABSENT:
        if op == "call":
            return _result_text(_MISSING, ',"args_after":[],"grads_left":[]')
        return _sealed({"error": f"{name} is not defined"})
    if op == "call":
        return _call(target, request, budget, functions)
    if op == "autograd_function":
        return _autograd_function(target, request, budget, functions)
    return _sealed(_describe_class(target))


_MISSING = '{"kind":"missing"}'


def _result_text(result: str, rest: str = "") -> str:
    return '{"result":' + result + rest + "}"


def _student(thunk) -> tuple[bool, Any]:
    """Run student code: (True, value) or (False, the exception it raised, whatever it was)."""
    try:
        return True, thunk()
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included
        return False, exc


def _result(ok: bool, value: Any, budget: Budget) -> dict:
    return encode(value, budget) if ok else encode_raised(value)


# ---------------------------------------------------------------- arguments

def _argument(wire: Any, functions: dict) -> Any:
    """Decode one argument: tensors become fresh tensors (leaves when requires_grad), fn -> f."""
    return _materialize(decode(wire), functions)


def _materialize(value: Any, functions: dict) -> Any:
    if _isinstance(value, TensorValue):
        tensor = _plain(value)
        if value.parameter:
            tensor = _Parameter(tensor, requires_grad=value.requires_grad)
        elif value.requires_grad:
            tensor = _requires_grad_(tensor)
        if value.grad is not None:  # a gradient the caller's tensor already holds
            _set_grad(tensor, _plain(value.grad))
        return tensor
    if _isinstance(value, Fn):
        if value.name not in functions:
            raise BadValue(f"unknown function {value.name!r}")
        function = functions[value.name]
        return getattr(function, "fn", function)
    if _isinstance(value, (list, tuple)):
        return _type(value)(_materialize(item, functions) for item in value)
    if _isinstance(value, dict):
        return {key: _materialize(item, functions) for key, item in value.items()}
    if value is None or _type(value) in (bool, int, float, str):
        return value
    raise BadValue(f"{_type(value).__name__} cannot be an argument")


def _plain(value: TensorValue) -> torch.Tensor:
    tensor = value.tensor
    if str(tensor.dtype).removeprefix("torch.") != value.dtype:
        tensor = _to(tensor, to_torch_dtype(value.dtype))
    return tensor


def _tensors_in(values: Any, found: list) -> list:
    """Every tensor among `values`, depth first through lists, tuples and dicts: the order of a
    call's `args_after`."""
    if _isinstance(values, _Tensor):
        found.append(values)
    elif _type(values) in (list, tuple):
        for item in values:
            _tensors_in(item, found)
    elif _type(values) is dict:
        for item in values.values():
            _tensors_in(item, found)
    return found


def _arguments(request: dict, functions: dict) -> tuple[list, dict]:
    args, kwargs = request.get("args", []), request.get("kwargs", {})
    if _type(args) is not list or _type(kwargs) is not dict:
        raise BadValue("args must be a list and kwargs an object")
    return ([_argument(a, functions) for a in args],
            {str(k): _argument(v, functions) for k, v in kwargs.items()})


# ---------------------------------------------------------------- ops

def _call(target: Any, request: dict, budget: Budget, functions: dict) -> dict:
    args, kwargs = _arguments(request, functions)
    # Tuples, taken before the call: student code that walks up to this frame cannot swap the
    # judge's tensors for others before they are read back.
    args = _tuple(args)
    tensors = _tuple(_tensors_in([*args, *kwargs.values()], []))  # in lists, tuples and dicts too
    _close_figures()
    ok, value = _student(lambda: target(*args, **kwargs))
    # The judge's own tensors as they are now, and whether the call left a gradient on them,
    # sealed before encoding the result (whose dispatch may run student code) or closing figures.
    after = _sealed([encode(t, budget) for t in tensors])
    left = _sealed([_get_grad(t) is not None for t in tensors])
    result = _sealed(_result(ok, value, budget))
    _close_figures()
    kept = ""
    if request.get("keep") is True:  # the very object returned, to be read again after later calls
        kept = f',"kept":{_keep(value if ok else None)}'
    return _result_text(result, f',"args_after":{after},"grads_left":{left}{kept}')


def _keep(value: Any) -> int:
    number = max(_KEPT, default=-1) + 1
    _KEPT[number] = value
    _KEPT.pop(number - MAX_KEPT, None)
    return number


def _close_figures() -> None:
    # A figure left current by earlier code would receive the student's plt.plot lines.
    if _destroy_all is not None:
        _student(_destroy_all)
        return
    pyplot = sys.modules.get("matplotlib.pyplot")  # a kernel that imported pyplot after the runtime
    if pyplot is not None:
        _student(lambda: pyplot.close("all"))


def _autograd_function(cls: Any, request: dict, budget: Budget, functions: dict) -> dict:
    inputs = request.get("inputs")
    if _type(inputs) is not list:
        raise BadValue("inputs must be a list")
    inputs = _tuple(_argument(v, functions) for v in inputs)
    upstream = _argument(request.get("upstream"), functions)
    second = request.get("second_upstream")
    second = None if second is None else _argument(second, functions)
    before = [_snapshot(value) for value in inputs]  # forward may not change its inputs in place
    ok, output = _student(lambda: cls.apply(*inputs))
    changed = [b is not None and _snapshot(value) != b for value, b in _zip(inputs, before)]
    if not ok:
        return _sealed({"output": encode_raised(output), "grads": [], "second": None, "upstream_changed": False,
                        "inputs_changed": changed, "ctx": {"saved_tensors": 0, "saved": [], "attributes": {}}})
    # Read before backward frees the saved tensors, and kept as text while backward (student
    # code, which may walk up to this frame) runs.
    described = _sealed({"ctx": _describe_ctx(output, budget), "output": encode(output, budget),
                         "inputs_changed": changed})
    gradients = _gradients(output, inputs, upstream, second, budget, cls)
    return described[:-1] + "," + gradients[1:]  # two JSON objects' fields, joined as text


def _sealed(value: Any) -> str:
    """Plain data as JSON text: no code can change it afterwards."""
    return dumps(value)


def _gradients(output: Any, inputs: tuple, upstream: Any, second: Any, budget: Budget, cls: Any) -> str:
    """The gradients' reply, sealed (see `_sealed`) as soon as each part is encoded."""
    leaves = _tuple(i for i, t in enumerate(inputs) if _isinstance(t, _Tensor) and _get_requires_grad(t))
    tensors = _tuple(inputs[i] for i in leaves)
    own = _own_backward(output, upstream, second is not None, cls)  # before autograd frees what forward saved
    before = _snapshot(upstream)  # bytes: nothing student code reaches can change them
    ok, grads = _student(lambda: _autograd_grad(
        (output,), tensors, (upstream,), create_graph=second is not None, allow_unused=True))
    # backward may not change grad_output in place: autograd hands the same tensor to other nodes
    changed = _snapshot(upstream) != before
    if ok and own is not None:
        ok, grads = _student(lambda: _agrees_with_backward(grads, own, leaves))
    if not ok:
        raised = encode_raised(grads)
        return _sealed({"grads": [raised] * _len(inputs), "second": None, "upstream_changed": changed})
    firsts = _sealed(_per_input(inputs, leaves, grads, budget))
    seconds = "null"
    if second is not None:
        ok, values = _student(lambda: _autograd_grad(
            (grads[0],), tensors, (second,), allow_unused=True))
        seconds = _sealed(_per_input(inputs, leaves, values, budget) if ok
                          else [encode_raised(values)] * _len(inputs))
    return f'{{"grads":{firsts},"second":{seconds},"upstream_changed":{_sealed(changed)}}}'


def _own_backward(output: Any, upstream: Any, create_graph: bool, cls: Any) -> tuple[bool, Any] | None:
    """What the Function's own backward returns for `upstream`, called as autograd's engine calls
    it (its node as ctx, grad mode as create_graph asks) but with no hook of the graph around it:
    (ok, value), or None when the output is not a Function's node's or the upstream is unknown.

    A hook on the node (ctx.register_hook, register_prehook) or on a tensor of the graph can
    change the gradient autograd hands on after backward returned it; the judge grades backward.
    An output whose node another Function made (an `apply` rebound to another class's) has no
    gradient of this Function's to grade.
    """
    ok, node = _student(lambda: _get_grad_fn(output))
    if not ok or node is None:
        return None
    if not _made_by_torch(_type(node)):
        return False, TypeError("the output's backward node is not the one torch made for a Function "
                                "(its class was changed)")
    made_by = _dict_of(_type(node)).get("_forward_cls")
    if made_by is not cls:
        return False, TypeError(f"apply returned the output of another Function "
                                f"({_str_of(getattr(made_by, '__name__', '?'))[:MAX_NAME]}), not of this one")
    if upstream is None:
        if _numel(output) != 1:
            return None
        upstream = _ones_like(output)  # as autograd's engine starts a scalar's backward
    if not _isinstance(upstream, _Tensor):
        return None
    given = _clone(_detach(_as_subclass(upstream, _Tensor)))  # backward may write into it
    with _set_grad_enabled(create_graph):
        return _student(lambda: _backward_apply(node, given))


def _agrees_with_backward(grads: tuple, own: tuple[bool, Any], leaves: tuple) -> tuple:
    """`grads`, autograd's gradient for each leaf input, when each is the one backward itself
    returns for it (shaped and typed as the engine shapes a returned gradient); where the two
    differ, a hook changed it or backward answers otherwise inside autograd's engine, and this
    raises: neither counts."""
    ok, value = own
    if not ok:
        raise value
    returned = value if _type(value) is tuple else (value,)
    for engine, position in _zip(grads, leaves):
        mine = returned[position] if position < _len(returned) else None
        if mine is None or engine is None:
            if (mine is None) != (engine is None):
                raise RuntimeError(f"autograd hands on a gradient for input {position} where backward returns "
                                   "none, or none where it returns one (a hook on the graph)")
            continue
        if not _isinstance(mine, _Tensor):
            raise TypeError(f"backward returned {_type(mine).__name__} for input {position}; expected a tensor")
        shaped = _as_subclass(mine, _Tensor)
        if shaped.shape != engine.shape:
            shaped = _sum_to_size(shaped, engine.shape)
        if _snapshot(_to(shaped, engine.dtype)) != _snapshot(engine):
            raise RuntimeError(f"the gradient autograd hands on for input {position} is not the one backward "
                               "returns (a hook on the graph, or a backward that answers otherwise inside "
                               "autograd's engine)")
    return grads


def _snapshot(tensor: Any) -> bytes | None:
    """A tensor's dtype, shape and values as bytes, read as a plain tensor (no dispatch of a subclass)."""
    if not _isinstance(tensor, _Tensor):
        return None
    plain = _detach(_as_subclass(tensor, _Tensor))
    return _bytes(_str_of((plain.dtype, plain.shape)), "utf-8") + _numpy(_contiguous(plain)).tobytes()


def _per_input(inputs: tuple, leaves: tuple, grads: Any, budget: Budget) -> list:
    by_position = dict(zip(leaves, grads, strict=True))
    return [encode(by_position.get(i), budget) for i in range(_len(inputs))]


def _describe_ctx(output: Any, budget: Budget) -> dict:
    """What the student's ctx holds, read before backward frees the saved tensors."""
    ok, node = _student(lambda: _get_grad_fn(output))
    if not ok or node is None or not _made_by_torch(_type(node)):
        return {"saved_tensors": 0, "saved": [], "attributes": {}}
    ok, saved = _student(lambda: _tuple(_saved_tensors(node)))
    saved = saved if ok and _type(saved) is tuple else ()
    ok_vars, attributes = _student(lambda: list(_dict_items(_vars(node)))[:MAX_CTX_ATTRIBUTES])
    return {"saved_tensors": _len(saved), "saved": [encode(t, budget) for t in saved[:MAX_SAVED]],
            "attributes": {str(k)[:MAX_NAME]: encode(v, budget) for k, v in attributes}
            if ok_vars else {}}


def _made_by_torch(kind: type) -> bool:
    """Whether `kind` is the backward class torch made for a Function, not one put in its place
    (whose saved_tensors or attributes could say anything)."""
    return _mro_of(kind)[1:] == _BACKWARD_MRO and _GENERATED.issuperset(_dict_of(kind))


def _describe_class(cls: Any) -> dict:
    is_class = _isinstance(cls, type)
    return {
        "is_autograd_function": bool(is_class and _issubclass(cls, _Function)),
        "staticmethods": {name: bool(is_class and _own_staticmethod(cls, name))
                          for name in ("forward", "backward", "setup_context")},
    }


def _own_staticmethod(cls: type, name: str) -> bool:
    """Whether the student (not torch) defines `name` as a staticmethod."""
    for klass in type.mro(cls):
        attributes = _vars(klass)
        if name in attributes:
            module = getattr(klass, "__module__", "") or ""
            return not module.startswith("torch") and _isinstance(attributes[name], staticmethod)
    return False
