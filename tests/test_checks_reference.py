"""docs/checks.md, the check API's reference page: every public name has an example, and each runs as written."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import grader.runtime

DOC = Path(__file__).resolve().parent.parent / "docs" / "checks.md"
SECTION = re.compile(r"^### (.+?)\n(.*?)(?=^##|\Z)", re.MULTILINE | re.DOTALL)
EXAMPLE = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _sections() -> dict[str, list[str]]:
    """The names each `###` heading of the page documents, and the examples under it."""
    return {heading: EXAMPLE.findall(body) for heading, body in SECTION.findall(DOC.read_text())}


def test_every_public_name_of_the_check_api_has_an_example():
    """Is each name of grader.runtime.__all__ the heading of a section holding at least one example?"""
    documented = {name: examples for heading, examples in _sections().items()
                  for name in re.findall(r"`(\w+)`", heading)}
    assert sorted(set(grader.runtime.__all__) - set(documented)) == []
    assert [name for name, examples in documented.items() if not examples] == []
    assert sorted(set(documented) - set(grader.runtime.__all__)) == [], "a heading names no public name"


@pytest.mark.parametrize("heading", list(_sections()))
def test_each_example_runs_as_written(heading, monkeypatch, tmp_path):
    """Does the example under the heading run, its assertions holding, in a namespace of its own?"""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # an example may put its own checks package on it
    for example in _sections()[heading]:
        exec(compile(example, f"{DOC.name}: {heading}", "exec"), {"__name__": "__example__"})
