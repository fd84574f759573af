"""A progress line for long batches: done/total, rate, ETA and counts by status."""

from __future__ import annotations

import sys
import time
from collections import Counter

from grader.intake.text import printable

__all__ = ["Progress"]


class Progress:
    """Writes `[####....] 120/1000 12.3/s ETA 1m10s | graded 118, unreadable 2` to stderr."""

    def __init__(self, total: int, *, enabled: bool = True, stream=None, width: int = 24):
        self.total, self.enabled, self.width = total, enabled, width
        self.stream = stream or sys.stderr
        self.done = 0
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.interactive = getattr(self.stream, "isatty", lambda: False)()

    def advance(self, result) -> None:
        self.done += 1
        self.counts[_label(result)] += 1
        if self.enabled and self._due():
            self._draw(end="\r" if self.interactive else "\n")

    def finish(self) -> None:
        if self.enabled and self.total and (self.interactive or self.done < self.total):
            self._draw(end="\n")

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate else 0.0
        filled = int(self.width * self.done / self.total) if self.total else self.width
        counts = ", ".join(f"{printable(k)} {v}" for k, v in sorted(self.counts.items()))
        return (f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} "
                f"{rate:.1f}/s ETA {_duration(eta)} | {counts}")

    def _due(self) -> bool:
        now = time.monotonic()
        step = max(1, self.total // 10)
        if self.interactive and now - self.last_draw < 0.2 and self.done < self.total:
            return False
        if not self.interactive and self.done % step and self.done < self.total:
            return False
        self.last_draw = now
        return True

    def _draw(self, end: str) -> None:
        self.stream.write(self.line() + end)
        self.stream.flush()


def _label(result) -> str:
    if result.status != "graded":
        return result.status
    return "full marks" if result.score == result.max_score else "graded"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
