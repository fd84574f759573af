"""The wire format: encode never raises and caps sizes; decode validates every field and raises BadValue."""

import base64
import json

import pytest
import torch

from grader.runtime.values import (
    MAX_DEPTH,
    MAX_ELEMENTS,
    MAX_STR,
    BadValue,
    OtherValue,
    TensorValue,
    decode,
    encode,
    encode_raised,
)


def _tensor_wire(**changes) -> dict:
    wire = {"kind": "tensor", "dtype": "float32", "shape": [2],
            "data": base64.b64encode(torch.tensor([1.0, 2.0]).numpy().tobytes()).decode(),
            "requires_grad": False, "is_leaf": True, "grad_fn": None}
    wire.update(changes)
    return wire


def _nested(depth: int) -> dict:
    value: dict = {"kind": "none"}
    for _ in range(depth):
        value = {"kind": "seq", "type": "list", "items": [value]}
    return value


MALFORMED = {
    "dtype_not_allowed": _tensor_wire(dtype="float128"),
    "dtype_object": _tensor_wire(dtype="object"),
    "dtype_not_a_string": _tensor_wire(dtype=5),
    "negative_size": _tensor_wire(shape=[-2]),
    "float_size": _tensor_wire(shape=[2.0]),
    "bool_size": _tensor_wire(shape=[True, True]),
    "shape_not_a_list": _tensor_wire(shape="2"),
    "buffer_shorter_than_shape": _tensor_wire(shape=[3]),
    "buffer_longer_than_shape": _tensor_wire(shape=[1]),
    "buffer_of_wrong_itemsize": _tensor_wire(dtype="float64"),
    "huge_shape": _tensor_wire(shape=[MAX_ELEMENTS + 1]),
    "huge_product": _tensor_wire(shape=[100_000, 100_000]),
    "too_many_dims": _tensor_wire(shape=[1] * 20),
    "not_base64": _tensor_wire(data="!!!!????"),
    "data_not_a_string": _tensor_wire(data=[1, 2]),
    "extra_field": _tensor_wire(secret="x"),
    "missing_field": {k: v for k, v in _tensor_wire().items() if k != "is_leaf"},
    "requires_grad_not_bool": _tensor_wire(requires_grad="yes"),
    "grad_fn_not_a_string": _tensor_wire(grad_fn=3),
    "number_as_string": {"kind": "number", "value": "1"},
    "number_as_bool": {"kind": "number", "value": True},
    "number_too_big": {"kind": "number", "value": 2**70},
    "bool_as_int": {"kind": "bool", "value": 1},
    "string_too_long": {"kind": "str", "value": "x" * (MAX_STR + 1)},
    "unknown_kind": {"kind": "pickle", "value": "gASV"},
    "kind_missing": {"value": 1},
    "not_an_object": [1, 2],
    "nested_too_deeply": _nested(MAX_DEPTH + 2),
    "seq_too_long": {"kind": "seq", "type": "list", "items": [{"kind": "none"}] * 1001},
    "seq_bad_type": {"kind": "seq", "type": "set", "items": []},
    "dict_duplicate_keys": {"kind": "dict", "items": [[{"kind": "str", "value": "a"}, {"kind": "none"}]] * 2},
    "dict_unhashable_key": {"kind": "dict", "items": [[{"kind": "seq", "type": "list", "items": []},
                                                       {"kind": "none"}]]},
    "figure_2d_line": {"kind": "figure", "axes": [{"xlabel": "x", "ylabel": "", "title": "", "legend": None,
                                                   "lines": [{"label": "f", "x": _tensor_wire(shape=[1, 2]),
                                                              "y": _tensor_wire(shape=[1, 2])}]}]},
    "figure_axes_extra_field": {"kind": "figure", "axes": [{"xlabel": "x", "ylabel": "", "title": "",
                                                            "legend": None, "lines": [], "score": 2}]},
    "raised_message_too_long": {"kind": "raised", "type": "E", "message": "m" * 501},
}


@pytest.mark.parametrize("wire", MALFORMED.values(), ids=MALFORMED.keys())
def test_decode_rejects_malformed_values(wire):
    """Is every malformed field rejected with BadValue rather than trusted or crashing?"""
    with pytest.raises(BadValue):
        decode(wire)


ROUND_TRIPS = {
    "float32": torch.tensor([1.5, -2.0]),
    "float64_matrix": torch.arange(6, dtype=torch.float64).reshape(2, 3),
    "int64": torch.tensor([1, 2, 3]),
    "bool": torch.tensor([True, False]),
    "zero_d": torch.tensor(4.0),
    "empty": torch.zeros(0, 3),
    "non_contiguous": torch.arange(6.0).reshape(2, 3).t(),
}


@pytest.mark.parametrize("tensor", ROUND_TRIPS.values(), ids=ROUND_TRIPS.keys())
def test_tensors_round_trip_exactly(tensor):
    """Does a tensor come back with the same values, shape and dtype through JSON?"""
    value = decode(json.loads(json.dumps(encode(tensor))))
    assert isinstance(value, TensorValue)
    assert value.dtype == str(tensor.dtype).removeprefix("torch.")
    assert torch.equal(value.tensor, tensor)


def test_bfloat16_travels_as_float32_with_its_dtype_recorded():
    """Is a bfloat16 tensor readable judge-side, still labelled bfloat16?"""
    value = decode(encode(torch.tensor([1.0, 2.5], dtype=torch.bfloat16)))
    assert value.dtype == "bfloat16" and value.tensor.dtype == torch.float32
    assert value.tensor.tolist() == [1.0, 2.5]


def test_autograd_metadata_is_carried():
    """Are requires_grad, is_leaf and the grad_fn name those of the student's tensor?"""
    x = torch.tensor(2.0, requires_grad=True)
    value = decode(encode(x**2))
    assert (value.requires_grad, value.is_leaf, value.grad_fn) == (True, False, "PowBackward0")


class LyingTensor(torch.Tensor):
    """A tensor subclass that claims equality with everything and lies through torch functions."""

    def __eq__(self, other):
        return True

    def __bool__(self):
        return True

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return torch.tensor(4.0)


def test_tensor_subclass_is_read_from_its_buffer():
    """Does a subclass that overrides __eq__, __bool__ and __torch_function__ encode its real data?"""
    spoof = torch.Tensor._make_subclass(LyingTensor, torch.tensor(1.0))
    value = decode(encode(spoof))
    assert isinstance(value, TensorValue) and type(value.tensor) is torch.Tensor
    assert value.tensor.item() == 1.0


class Hostile:
    """An object that says it equals anything and cannot be printed."""

    def __eq__(self, other):
        return True

    def __repr__(self):
        raise RuntimeError("no")


ENCODE_CAPS = {
    "huge_tensor": torch.zeros(MAX_ELEMENTS + 1),
    "deep_nesting": [[[[[[[[[[[1]]]]]]]]]]],
    "long_list": list(range(5000)),
    "hostile_object": Hostile(),
    "complex_tensor": torch.zeros(2, dtype=torch.complex64),
    "many_large_tensors": [torch.zeros(MAX_ELEMENTS)] * 6,
}


@pytest.mark.parametrize("obj", ENCODE_CAPS.values(), ids=ENCODE_CAPS.keys())
def test_encode_caps_sizes_and_never_raises(obj):
    """Does encode answer with small, valid, JSON-able data whatever it is given?"""
    wire = encode(obj)
    assert len(json.dumps(wire)) < 40 * MAX_ELEMENTS
    decode(json.loads(json.dumps(wire)))


def test_hostile_object_becomes_other():
    """Is an object whose __eq__ always says True carried as an opaque 'other' value?"""
    value = decode(encode(Hostile()))
    assert isinstance(value, OtherValue) and value.type == "Hostile"


def test_long_strings_are_truncated():
    """Is a 10 000-character string cut to the cap?"""
    assert len(decode(encode("x" * 10_000))) == MAX_STR


def test_exception_with_unprintable_message_is_encoded():
    """Does an exception whose __str__ raises still become a 'raised' value?"""
    class Weird(Exception):
        def __str__(self):
            raise ValueError("nope")

    assert decode(encode_raised(Weird())).type == "Weird"


def test_numpy_scalars_become_numbers():
    """Is a numpy float64 scalar a plain number judge-side?"""
    import numpy

    assert decode(encode(numpy.float64(2.5))) == 2.5
    assert isinstance(decode(encode(numpy.zeros(2))), OtherValue)


def test_an_unreadable_tensor_does_not_hide_its_siblings():
    """Is a meta-device tensor inside a tuple 'other' while the readable tensor beside it survives?"""
    value = decode(encode((torch.empty(3, device="meta"), torch.tensor(1.0))))
    assert isinstance(value[0], OtherValue) and value[1].tensor.item() == 1.0


SPECIAL = [0.0, -0.0, 1.0, -1.0, 1e-5, 1e-9, 5e-324, 1e308, -1e308, float("inf"), float("-inf"), float("nan"),
           1.00001, 1.0001, 0.99999, 2.0]


def _torch_rule(actual: torch.Tensor, expected: torch.Tensor, dtype: str) -> bool:
    """The comparison as torch states it: shape, finite actual values, allclose in float64."""
    from grader.runtime.compare import TOLERANCES

    if tuple(actual.shape) != tuple(expected.shape):
        return False
    actual, expected = actual.to(torch.float64), expected.to(torch.float64)
    rtol, atol = TOLERANCES[dtype]
    return bool(torch.isfinite(actual).all()) and bool(torch.allclose(actual, expected, rtol=rtol, atol=atol))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_is_close_follows_torch_allclose_on_small_tensors(dtype):
    """Does the comparison of a few values (done with Python floats) agree with torch.allclose
    on infinities, NaNs, signed zeros, values at the tolerance's edge and mixed dtypes?"""
    import random

    from grader.runtime.compare import is_close

    rng = random.Random(7)
    dtypes = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
    for _ in range(3000):
        size = rng.choice([0, 1, 3])
        actual = [rng.choice([*SPECIAL, rng.uniform(-3, 3)]) for _ in range(size)]
        expected = [a * (1 + rng.choice([0, 1e-9, 1e-7, 1e-5, 1e-4, 1e-3])) if rng.random() < 0.7
                    else rng.choice(SPECIAL) for a in actual]
        a = torch.tensor(actual, dtype=rng.choice(dtypes))
        e = torch.tensor(expected, dtype=rng.choice(dtypes))
        if size == 1 and rng.random() < 0.5:
            a, e = a.reshape(()), e.reshape(())
        assert is_close(a, e, dtype) == _torch_rule(a, e, dtype), (a, e)
    assert not is_close(torch.ones(2), torch.ones(2, 1), dtype)
    big = torch.linspace(-1, 1, 1000, dtype=torch.float64)
    assert is_close(big, big * (1 + 1e-12), dtype) and not is_close(big, big + 1e-2, dtype)
