"""Contained workers for student code: a warm parent forks them, the judge talks to them as data."""

from grader.sandbox.channel import ProbeFailed
from grader.sandbox.client import WarmParent, Worker
from grader.sandbox.limits import Limits
from grader.sandbox.report import CellReport

__all__ = ["CellReport", "Limits", "ProbeFailed", "WarmParent", "Worker"]
