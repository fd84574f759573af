"""docs/trust.md names every field a probe's reply can hold, and says how the judge trusts it."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from grader.runtime.probes import run_probe
from grader.runtime.subject import make_request
from grader.runtime.values import Fn

TRUST = Path(__file__).resolve().parent.parent / "docs" / "trust.md"


class _Scaled(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        ctx.save_for_backward(x)
        ctx.k = k
        return k * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return ctx.k * grad_output + 0 * x, None


def _every_reply() -> list[tuple[str, object]]:
    """One request of every kind `probes.py` answers, with the reply it gave: a call kept and
    not, its kept object, a name bound and one not, an autograd Function with a second order, a
    class described, and a request the probes refuse."""
    namespace = {"double": lambda f, x: 2 * f(x), "SCALED": _Scaled, "VALUE": {"a": 1.0}}
    functions = {"identity": lambda x: x}
    x = torch.ones(3, requires_grad=True)
    kept = run_probe(namespace, make_request("call", "double", args=(Fn("identity"), x), keep=True), functions)
    requests = [
        make_request("call", "double", args=(Fn("identity"), torch.ones(2))),
        make_request("call", "undefined"),
        make_request("kept", "kept", number=kept["kept"]),
        make_request("get", "VALUE"),
        make_request("get", "undefined"),
        make_request("autograd_function", "SCALED", inputs=[x, 2.0], upstream=torch.ones(3),
                     second_upstream=torch.ones(3)),
        make_request("describe_class", "SCALED"),
        {"op": "unknown", "name": "VALUE"},
    ]
    return [("call", kept)] + [(request["op"], run_probe(namespace, request, functions)) for request in requests]


def _fields(op: str, reply: dict) -> set[str]:
    """The dotted names of a reply's fields, down to the values they hold (an encoded value, or a
    mapping of names to encoded values such as ctx.attributes, is one field)."""
    found: set[str] = set()

    def walk(prefix: str, value: object) -> None:
        is_value = isinstance(value, dict) and ("kind" in value or value and all(
            isinstance(v, dict) and "kind" in v for v in value.values()))
        if isinstance(value, dict) and value and not is_value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}", inner)
        else:
            found.add(prefix)

    for key, value in reply.items():
        walk("error" if key == "error" else f"{op}.{key}", value)
    return found


def _named_fields() -> set[str]:
    """The fields the reply-field table of docs/trust.md names."""
    section = TRUST.read_text().split("## Reply fields", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z_.]+)` \|", section, flags=re.MULTILINE))


def test_every_reply_field_is_named_in_the_trust_document():
    """Does docs/trust.md name every field a probe's reply can hold (so a new field cannot earn
    points without a word on why the judge may trust it), and only fields replies hold?"""
    replies = _every_reply()
    assert any(op == "autograd_function" and reply.get("second") for op, reply in replies), replies
    held = set().union(*(_fields(op, reply) for op, reply in replies))
    named = _named_fields()
    assert held - named == set(), f"reply fields docs/trust.md does not name: {sorted(held - named)}"
    assert named - held == set(), f"docs/trust.md names fields no reply holds: {sorted(named - held)}"


def test_every_check_of_the_sample_is_in_the_facts_table():
    """Does the facts table of docs/trust.md cover every part of every autograded question of the
    sample assignment (its visible and hidden checks), naming only reply fields that exist?"""
    from sample import ASSIGNMENT, AUTOGRADED

    from grader.runtime.parts import parts_of

    section = TRUST.read_text().split("## Facts that can raise a score", 1)[1].split("\n## ", 1)[0]
    questions = set(re.findall(r"^\| `([A-Za-z_]+)` \|", section, flags=re.MULTILINE))
    assert {q.id for q in AUTOGRADED} <= questions, sorted({q.id for q in AUTOGRADED} - questions)
    mentioned = {re.sub(r"\[\d+\]", "", name) for name in re.findall(r"`((?:call|get|kept|autograd_function|"
                                                                     r"describe_class)\.[a-z_.\[\]0-9]+)`", section)}
    named = _named_fields()
    unknown = {m for m in mentioned if not any(n == m or n.startswith(m + ".") for n in named)}
    assert not unknown, sorted(unknown)
    for question in AUTOGRADED:
        rows = "\n".join(line for line in section.splitlines() if line.startswith(f"| `{question.id}` |"))
        names = [part.name for part in parts_of(ASSIGNMENT.visible_checks(question.id))]
        whole = ["visible", "hidden"] if ASSIGNMENT.hidden_checks(question.id) is not None else ["visible"]
        for name in [n for n in names if n] or whole:
            assert f"`{name}`" in rows, f"{question.id}: its part or check {name} is not in the facts table"
