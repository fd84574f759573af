"""The student's answers as seen by checks: the Subject protocol and the in-process LocalSubject."""

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .failures import ProbeFailed
from .probes import run_probe
from .values import MAX_NAME, BadValue, Fn, decode, encode

__all__ = [
    "Subject", "ProbeSubject", "LocalSubject", "CallResult", "FunctionResult", "CtxInfo",
    "ProbeFailed", "BadReply", "Fn", "decode_reply", "make_request", "inspect_source",
]


class BadReply(AssertionError):
    """A reply that breaks the wire format: the check fails (student code controls the reply)."""


@dataclass(frozen=True)
class CallResult:
    """What a call returned, and each tensor argument as it was after the call (with its `.grad`),
    in the order the arguments hold them, depth first through lists, tuples and dicts."""

    result: Any
    args_after: tuple = ()
    kept: int | None = None  # with `call_and_keep`: the number to read the same object again by
    grads_left: tuple = ()  # for each tensor argument: whether the call left a .grad on it


@dataclass(frozen=True)
class CtxInfo:
    """What the autograd Function's ctx held after forward."""

    saved_tensors: int = 0
    attributes: dict = field(default_factory=dict)
    saved: tuple = ()  # the values of the first saved tensors


@dataclass(frozen=True)
class FunctionResult:
    """Output of `Cls.apply(*inputs)`, the input gradients, and second-order products."""

    output: Any
    grads: tuple
    second: tuple | None
    ctx: CtxInfo
    upstream_changed: bool = False  # backward changed the upstream gradient (grad_output) in place
    inputs_changed: tuple[bool, ...] = ()  # per input: forward changed that tensor in place


class Subject(Protocol):
    """Probes into one student's namespace."""

    def call(self, name: str, *args: Any, **kwargs: Any) -> CallResult: ...

    def call_and_keep(self, name: str, *args: Any, **kwargs: Any) -> CallResult: ...

    def kept(self, number: int) -> Any: ...

    def get(self, name: str) -> Any: ...

    def autograd_function(self, name: str, inputs: list, upstream: Any,
                          second_upstream: Any = None) -> FunctionResult: ...

    def describe_class(self, name: str) -> dict: ...

    def source_of(self, name: str) -> str | None: ...


def make_request(op: str, name: str, **fields: Any) -> dict:
    """Build a wire request, encoding arguments (tensors, numbers, Fn markers)."""
    request: dict = {"op": op, "name": name}
    if op == "call":
        request["args"] = [encode(a) for a in fields.get("args", ())]
        request["kwargs"] = {k: encode(v) for k, v in fields.get("kwargs", {}).items()}
        if fields.get("keep"):
            request["keep"] = True
    if op == "kept":
        request["number"] = fields["number"]
    if op == "autograd_function":
        request["inputs"] = [encode(v) for v in fields["inputs"]]
        request["upstream"] = encode(fields["upstream"])
        if fields.get("second_upstream") is not None:
            request["second_upstream"] = encode(fields["second_upstream"])
    return request


def decode_reply(request: dict, reply: Any) -> Any:
    """Validate a reply to `request`; ProbeFailed for {"error"}, BadReply when malformed."""
    if type(reply) is dict and set(reply) == {"error"}:
        message = reply["error"] if type(reply["error"]) is str else "unreadable error"
        raise ProbeFailed("error", message[:500])
    try:
        if request["op"] == "call" and request.get("keep"):
            return _decode_call(reply, kept=True)
        return _REPLY_DECODERS[request["op"]](reply)
    except (BadValue, KeyError, TypeError) as exc:
        raise BadReply(f"{request['name']}: the grader could not read the reply ({exc})") from exc


def _exact(reply: Any, keys: set[str]) -> dict:
    if type(reply) is not dict or set(reply) != keys:
        raise BadValue(f"reply must have exactly the fields {sorted(keys)}")
    return reply


def _value_list(items: Any) -> tuple:
    if type(items) is not list or len(items) > 64:
        raise BadValue("expected a short list of values")
    return tuple(decode(item) for item in items)


def _decode_call(reply: Any, kept: bool = False) -> CallResult:
    """A call's reply; with `kept` (a call asked to keep its result) also the number it is kept under."""
    reply = _exact(reply, {"result", "args_after", "grads_left"} | ({"kept"} if kept else set()))
    if kept and type(reply["kept"]) is not int:
        raise BadValue("kept must be a number")
    return CallResult(decode(reply["result"]), _value_list(reply["args_after"]), reply.get("kept"),
                      _flags(reply["grads_left"]))


def _flags(items: Any) -> tuple[bool, ...]:
    if type(items) is not list or len(items) > 64 or any(type(item) is not bool for item in items):
        raise BadValue("expected a short list of true or false")
    return tuple(items)


def _decode_get(reply: Any) -> Any:
    return decode(_exact(reply, {"result"})["result"])


def _decode_function(reply: Any) -> FunctionResult:
    reply = _exact(reply, {"output", "grads", "second", "ctx", "upstream_changed", "inputs_changed"})
    second = None if reply["second"] is None else _value_list(reply["second"])
    if type(reply["upstream_changed"]) is not bool:
        raise BadValue("upstream_changed must be true or false")
    return FunctionResult(decode(reply["output"]), _value_list(reply["grads"]), second,
                          _decode_ctx(reply["ctx"]), reply["upstream_changed"], _flags(reply["inputs_changed"]))


def _decode_ctx(ctx: Any) -> CtxInfo:
    ctx = _exact(ctx, {"saved_tensors", "saved", "attributes"})
    count, attributes = ctx["saved_tensors"], ctx["attributes"]
    if type(count) is not int or not 0 <= count <= 1000:
        raise BadValue("ctx.saved_tensors must be a small count")
    if type(attributes) is not dict or len(attributes) > 64:
        raise BadValue("ctx.attributes must be a small object")
    if not all(type(k) is str and len(k) <= MAX_NAME for k in attributes):
        raise BadValue("ctx attribute names must be short strings")
    return CtxInfo(count, {k: decode(v) for k, v in attributes.items()}, _value_list(ctx["saved"]))


def _decode_class(reply: Any) -> dict:
    reply = _exact(reply, {"is_autograd_function", "staticmethods"})
    methods = _exact(reply["staticmethods"], {"forward", "backward", "setup_context"})
    if not all(type(v) is bool for v in [reply["is_autograd_function"], *methods.values()]):
        raise BadValue("describe_class flags must be bools")
    return {"is_autograd_function": reply["is_autograd_function"], "staticmethods": dict(methods)}


_REPLY_DECODERS: dict[str, Callable[[Any], Any]] = {
    "call": _decode_call, "get": _decode_get, "kept": _decode_get,
    "autograd_function": _decode_function, "describe_class": _decode_class,
}


# Probes whose reply one subject (one question's checks) reuses for the same request: a Function
# applied to the same inputs and upstream gradient, a class described again. The raw reply is
# kept and decoded afresh each time, so no check sees another's objects.
_REUSED_OPS = frozenset({"autograd_function", "describe_class"})


class ProbeSubject:
    """A Subject that sends wire requests through `exchange`; subclasses say how they travel."""

    def exchange(self, request: dict) -> Any:
        """Send one request and return the raw reply (plain JSON data)."""
        raise NotImplementedError

    def source_of(self, name: str) -> str | None:
        """Source text of the student's definition of `name`, or None if unknown."""
        return None

    def _probe(self, op: str, name: str, **fields: Any) -> Any:
        request = make_request(op, name, **fields)
        if op not in _REUSED_OPS:
            return decode_reply(request, self.exchange(request))
        replies = self.__dict__.setdefault("_replies", {})
        key = json.dumps(request, sort_keys=True)
        if key not in replies:
            replies[key] = self.exchange(request)
        return decode_reply(request, replies[key])

    def call(self, name: str, *args: Any, **kwargs: Any) -> CallResult:
        """Call the student's `name(*args, **kwargs)`; Fn("square") passes a vocabulary f."""
        return self._probe("call", name, args=args, kwargs=kwargs)

    def call_and_keep(self, name: str, *args: Any, **kwargs: Any) -> CallResult:
        """As `call`, and the worker keeps the object returned: `kept(result.kept)` reads it again."""
        return self._probe("call", name, args=args, kwargs=kwargs, keep=True)

    def kept(self, number: int) -> Any:
        """The object a `call_and_keep` returned, as it is now (after whatever ran since)."""
        return self._probe("kept", "kept", number=number)

    def get(self, name: str) -> Any:
        """The value the student bound to `name` (MISSING when undefined)."""
        return self._probe("get", name)

    def autograd_function(self, name: str, inputs: list, upstream: Any,
                          second_upstream: Any = None) -> FunctionResult:
        """Apply the student's autograd Function and backpropagate `upstream` (and a second order)."""
        return self._probe("autograd_function", name, inputs=inputs, upstream=upstream,
                           second_upstream=second_upstream)

    def describe_class(self, name: str) -> dict:
        """Whether `name` is an autograd Function and which staticmethods the student defined."""
        return self._probe("describe_class", name)


class LocalSubject(ProbeSubject):
    """Probes run in this process, through the same JSON encoding and validation as a worker."""

    def __init__(self, namespace: dict, functions: dict | None = None,
                 source_lookup: Callable[[str], str | None] | None = None):
        self.namespace = namespace
        self.functions = functions or {}
        self.source_lookup = source_lookup

    def exchange(self, request: dict) -> Any:
        """Run the probe here; a JSON round trip keeps the data path identical to a worker's."""
        request = json.loads(json.dumps(request))
        return json.loads(json.dumps(run_probe(self.namespace, request, self.functions)))

    def source_of(self, name: str) -> str | None:
        """Source from `source_lookup` if given, else `inspect.getsource` of the object."""
        if self.source_lookup is not None:
            try:
                return self.source_lookup(name)
            except Exception:
                return None
        return inspect_source(self.namespace.get(name))


def inspect_source(obj: Any) -> str | None:
    """Source of a function or class; for classes in a notebook, the source of its methods."""
    if obj is None:
        return None
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        pass
    if not isinstance(obj, type):
        return None
    parts = []
    for member in vars(obj).values():
        function = getattr(member, "__func__", member)
        if not inspect.isfunction(function):
            continue  # a nested class (an autograd Function's _backward_cls) would send inspect parsing torch's files
        try:
            parts.append(inspect.getsource(function))
        except (OSError, TypeError):
            continue
    return "\n".join(parts) or None
