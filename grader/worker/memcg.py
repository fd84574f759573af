"""A memory cgroup per worker, where the machine lets the warm parent make one.

RLIMIT_AS bounds each process; a worker that forks could hold that much in every child. Run
as root under cgroup v1's memory controller, the warm parent makes a child cgroup of its own
for each worker, puts the worker in it before the judge hears that it started (so before any
student code runs), and every process the worker forks is charged to the same limit. Where it
cannot (no root, cgroup v2 without a delegated subtree), workers are bounded per process only,
and the containment report says so.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["WorkerMemory"]

_V1_ROOT = Path("/sys/fs/cgroup/memory")


def _own_memory_cgroup() -> Path | None:
    """This process's cgroup v1 memory directory, if there is one."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            folder = _V1_ROOT / path.lstrip("/")
            return folder if folder.is_dir() else None
    return None


class WorkerMemory:
    """One memory cgroup per worker under this process's own, each limited to `limit` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.base = _own_memory_cgroup() if os.geteuid() == 0 else None
        self.stale: list[Path] = []  # cgroups whose last process had not yet gone
        if self.base is not None and not self._works():
            self.base = None

    def _works(self) -> bool:
        probe = self.base / f"grader-probe-{os.getpid()}"
        try:
            probe.mkdir()
            (probe / "memory.limit_in_bytes").write_text(str(self.limit))
            return True
        except OSError:
            return False
        finally:
            _remove(probe)

    @property
    def available(self) -> bool:
        return self.base is not None

    def describe(self) -> str:
        return f"a memory cgroup per worker: {self.limit / 1024**3:g} GiB for its whole process tree"

    def place(self, worker: str, pid: int) -> None:
        """Put process `pid` (just forked, still running kit code) in a new cgroup of its own."""
        if self.base is None:
            return
        folder = self.base / f"grader-{os.getpid()}-{worker}"
        folder.mkdir(exist_ok=True)
        (folder / "memory.limit_in_bytes").write_text(str(self.limit))
        swap = folder / "memory.memsw.limit_in_bytes"  # present only where swap is accounted
        if swap.exists():
            swap.write_text(str(self.limit))
        (folder / "cgroup.procs").write_text(str(pid))

    def release(self, worker: str) -> None:
        """Remove the worker's cgroup once its processes are gone (later if some are exiting)."""
        if self.base is None:
            return
        self.stale.append(self.base / f"grader-{os.getpid()}-{worker}")
        self.release_stale()

    def release_stale(self) -> None:
        self.stale = [folder for folder in self.stale if not _remove(folder)]


def _remove(folder: Path) -> bool:
    try:
        folder.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True
