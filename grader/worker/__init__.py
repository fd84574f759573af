"""Contained workers for student code: a warm parent forks them, the judge talks to them as data."""

from grader.worker.channel import ProbeFailed
from grader.worker.client import WarmParent, Worker
from grader.worker.limits import Limits
from grader.worker.report import CellReport

__all__ = ["CellReport", "Limits", "ProbeFailed", "WarmParent", "Worker"]
