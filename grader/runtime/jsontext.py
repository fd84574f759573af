"""JSON text through `_json`'s C encoder and scanner, bound at import: rebinding `json.dumps`,
`JSONEncoder.encode` or anything else of the json package later changes nothing here."""

import _json
from json.decoder import JSONDecoder
from typing import Any

__all__ = ["dumps", "loads"]

_Encoder, _encode_string, _scan = _json.make_encoder, _json.encode_basestring, JSONDecoder().scan_once
_join, _type = "".join, type


def _not_serializable(obj: Any) -> Any:
    raise TypeError(f"Object of type {_type(obj).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """Compact JSON, as json.dumps with ensure_ascii=False and no spaces; ValueError on a
    circular reference, TypeError on a value JSON cannot hold."""
    return _join(_Encoder({}, _not_serializable, _encode_string, None, ":", ",", False, False, True)(value, 0))


def loads(text: str) -> Any:
    """The one JSON value `text` holds (nothing before or after it); ValueError otherwise."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        raise ValueError("no JSON value") from None
    if end != len(text):
        raise ValueError("extra data after the JSON value")
    return value
