"""What the judge sees of a worker from outside its interpreter: memory, processes, files.

Student code can rebind or silence anything inside its own interpreter, evidence collectors
included; these views are read by the judge through /proc, which it cannot reach.
"""

from __future__ import annotations

import os

from grader.worker.integrity import MemoryReader, machinery_checks

__all__ = ["OutsideView"]

MAX_LISTED = 20


def _children(pid: int) -> list[int]:
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as listing:
                found += [int(child) for child in listing.read().split()]
        except (OSError, ValueError):
            continue
    return found


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier and len(found) < 10_000:
        children = [c for p in frontier for c in _children(p)]
        found += children
        frontier = children
    return found


def _namespace_pid(pid: int) -> int | None:
    """The pid a process has in its innermost pid namespace."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("NSpid:"):
                    return int(line.split()[-1])
    except (OSError, ValueError):
        return None
    return None


def _running(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()[:40]
    except OSError:
        return "?"


class OutsideView:
    """One worker seen from the judge: `top` is the process the warm parent forked."""

    def __init__(self, top: int | None, hello: dict, prepared: str | None = None) -> None:
        """`prepared`: the warm parent's part of the machinery manifest, from its "ready"."""
        self.top, self.hello = top, hello
        self.worker = self._find_worker()
        self.known = {p for p in (top, self.worker) if p is not None}
        self.known |= {p for p in self._supervisors()}
        self.seen_processes: set[tuple[int, str]] = set()
        # what the kit put in the worker's /tmp before any student code ran is not the student's
        entries = hello.get("tmp_entries")
        self.seen_files: set[str] = (
            {f"/tmp/{n}" for n in entries if isinstance(n, str)} if isinstance(entries, list) else set())
        self.machinery = machinery_checks(hello.get("machinery"), prepared)

    def _find_worker(self) -> int | None:
        said = self.hello.get("pid")
        if self.top is None or type(said) is not int:
            return None
        for pid in [self.top, *_descendants(self.top)]:
            if _namespace_pid(pid) == said:
                return pid
        return None

    def _supervisors(self) -> list[int]:
        """Processes between the forked one and the worker (an init under a user namespace)."""
        if self.top is None or self.worker is None or self.worker == self.top:
            return []
        return [p for p in _descendants(self.top) if self.worker in _descendants(p)]

    @property
    def available(self) -> bool:
        return self.worker is not None

    def machinery_changes(self, *, quick: bool = False) -> list[str]:
        """Labels of the worker's machinery that changed since before its first cell (`quick`:
        namespaces whose dict versions are unchanged are not re-read entry by entry)."""
        if self.worker is None or self.machinery is None:
            return []
        try:
            reader = MemoryReader(self.worker)
        except OSError:
            return []  # the worker has ended: nothing left to compare
        try:
            changed = [label for check in self.machinery for label in check.changes(reader, quick=quick)]
        finally:
            reader.close()
        # Memory that vanished with a worker that just ended is no change (it may die at any time).
        return changed if not changed or _running(self.worker) else []

    def new_processes(self) -> list[str]:
        """Processes the worker started that are alive now and were not reported before."""
        if self.top is None:
            return []
        found = []
        for pid in _descendants(self.top):
            seen = (pid, _command(pid))  # a process that runs another program is listed again
            if pid not in self.known and seen not in self.seen_processes:
                self.seen_processes.add(seen)
                found.append(f"started a process ({seen[1]}), seen from outside the worker")
        return found[:MAX_LISTED]

    def files_outside(self, workdir: str = "/tmp/work") -> list[str]:
        """Entries of the worker's private /tmp other than its working directory."""
        if self.worker is None or not self.hello.get("containment", {}).get("filesystem", "").startswith("private"):
            return []
        try:
            names = sorted(os.listdir(f"/proc/{self.worker}/root/tmp"))
        except OSError:
            return []
        outside = [f"/tmp/{n}" for n in names if f"/tmp/{n}" != workdir and f"/tmp/{n}" not in self.seen_files]
        self.seen_files.update(outside)
        return [f"left {path[:200]} outside its working directory, seen from outside the worker"
                for path in outside[:MAX_LISTED]]
