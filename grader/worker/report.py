"""What the judge learns about one cell, and how a worker's exit is put into words."""

from __future__ import annotations

import signal
from dataclasses import dataclass, field

__all__ = ["CellReport", "describe_exit"]

_SIGNAL_CAUSES = {
    signal.SIGXCPU: "CPU time limit",
    signal.SIGXFSZ: "file size limit",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGBUS: "bus error",
    signal.SIGABRT: "aborted",
}


@dataclass
class CellReport:
    """One cell's outcome: status is "ok", "error", "died" or "timeout"."""

    index: int
    status: str
    output: str = ""
    error: str | None = None
    events: list[str] = field(default_factory=list)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_exit(outcome: dict) -> str:
    """Words for a worker exit reported by the warm parent ({"kind", "value", "cpu"})."""
    kind, value = outcome.get("kind"), outcome.get("value")
    if kind == "exited":
        return f"exited with status {value}"
    if kind == "signaled":
        cause = _SIGNAL_CAUSES.get(value)
        if value == signal.SIGKILL and outcome.get("cpu_limit_hit"):
            cause = "CPU time limit"
        name = _signal_name(int(value))
        return f"killed by {name} ({cause})" if cause else f"killed by {name}"
    if kind == "killed":
        return "killed by the judge"
    if kind == "lost":
        return "lost: the warm parent stopped answering"
    return "ended for an unknown reason"
