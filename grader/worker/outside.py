"""What the judge sees of a worker from outside its interpreter: memory, processes, files.

Student code can rebind or silence anything inside its own interpreter, evidence collectors
included; these views are read by the judge through /proc, which it cannot reach.
"""

from __future__ import annotations

import os
import select
import socket
import time

from grader.worker.integrity import MemoryReader, machinery_checks
from grader.worker.loop_state import MEMORY_GONE, LoopCheck

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


class _ProcFiles:
    """Files of /proc about one process, opened once and read again with pread (each read gives
    the file as it is then): a look before every probe must cost microseconds, not opens."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._open: dict[str, int | None] = {}

    def _fd(self, name: str) -> int | None:
        if name not in self._open:
            try:
                self._open[name] = os.open(f"/proc/{self.pid}/{name}", os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self._open[name] = None
        return self._open[name]

    def read(self, name: str, size: int = 4096) -> bytes | None:
        fd = self._fd(name)
        try:
            return None if fd is None else os.pread(fd, size, 0)
        except OSError:
            return None

    def memory(self, address: int, size: int) -> bytes | None:
        fd = self._fd("mem")
        try:
            data = None if fd is None else os.pread(fd, size, address)
        except OSError:
            return None
        return data if data is not None and len(data) == size else None

    def threads(self) -> int | None:
        """How many threads the process has (None when it is gone): a proc task folder links
        two plus one per thread, and fstat asks the kernel again each time."""
        fd = self._fd("task")
        try:
            return None if fd is None else os.fstat(fd).st_nlink - 2
        except OSError:
            return None

    def state(self) -> tuple[str | None, int]:
        """The process's state letter and its number of threads (None when it is gone)."""
        try:
            fields = (self.read("stat") or b"").rpartition(b")")[2].split()
            return fields[0].decode(), int(fields[17])
        except (IndexError, ValueError):
            return None, 0

    def children(self) -> list[int]:
        """The children of its main thread (of all of it, when it has no other)."""
        return [int(child) for child in (self.read(f"task/{self.pid}/children") or b"").split()]

    def close(self) -> None:
        for fd in self._open.values():
            if fd is not None:
                os.close(fd)
        self._open = {}


def _link(pid: int | None, fd: object) -> str | None:
    if pid is None or type(fd) is not int:
        return None
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return None


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()[:40]
    except OSError:
        return "?"


class PidCount:
    """The last pid the worker's pid namespace gave out, as the pid counter the warm parent placed
    in that namespace reads it: every process or thread started there takes the next pid, so
    one that came and went between two readings still moved it."""

    def __init__(self, line: socket.socket | None) -> None:
        self.line = line

    def read(self, timeout: float = 2.0) -> int | None:
        """The count now; None without a counter or once it is gone (with its namespace)."""
        if self.line is None:
            return None
        try:
            self.line.sendall(b"\n")
            answer = b""
            deadline = time.monotonic() + timeout
            while not answer.endswith(b"\n"):
                if not select.select([self.line], [], [], max(0.0, deadline - time.monotonic()))[0]:
                    raise TimeoutError("no answer")
                piece = self.line.recv(64)
                if not piece or len(answer) > 64:
                    raise ConnectionError("the counter is gone")
                answer += piece
            return int(answer)
        except (OSError, ValueError):
            self.line = None  # one answer lost would shift every later one
            return None


class OutsideView:
    """One worker seen from the judge: `top` is the process the warm parent forked."""

    def __init__(self, top: int | None, hello: dict, prepared: str | None = None,
                 counter: socket.socket | None = None) -> None:
        """`prepared`: the warm parent's part of the machinery manifest, from its "ready";
        `counter`: the line to the pid counter in the worker's pid namespace, if one was placed."""
        self.top, self.hello = top, hello
        self.worker = self._find_worker()
        self.known = {p for p in (top, self.worker) if p is not None}
        self.known |= {p for p in self._supervisors()}
        self.count = PidCount(counter)
        self.last_pid = self.count.read()  # before any cell ran
        self.checks_from: int | None = None  # the count when the checks began
        self.seen_tasks = self._tasks()
        self.proc = {pid: _ProcFiles(pid) for pid in self.known}
        self._reader: MemoryReader | None = None  # kept open for the worker's looks
        self.seen_processes: set[tuple[int, str]] = set()
        # what the kit put in the worker's /tmp before any student code ran is not the student's
        entries = hello.get("tmp_entries")
        self.seen_files: set[str] = (
            {f"/tmp/{n}" for n in entries if isinstance(n, str)} if isinstance(entries, list) else set())
        self.machinery = machinery_checks(hello.get("machinery"), prepared)
        self.loop = LoopCheck(hello.get("loop"))
        self._loop_requests = self.loop.requests() if self.loop.available else []
        self.channel = _link(self.worker, hello.get("channel_fd"))  # read before any cell runs

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
            reader = self._reader = self._reader or MemoryReader(self.worker)
        except OSError:
            return []  # the worker has ended: nothing left to compare
        changed = [label for check in self.machinery for label in check.changes(reader, quick=quick)]
        # Memory that vanished with a worker that just ended is no change (it may die at any time).
        return changed if not changed or _running(self.worker) else []

    def loop_waiting(self, deadline: float, *, processes: bool = True) -> str | None:
        """None when the worker, after its last reply, waits for the next request in its own loop,
        one thread and (with `processes`) no process of the notebook's beside it; else what is
        wrong. It waits up to `deadline` for the worker to get back there: an honest loop takes
        microseconds, and one that waits in its own receive call has sent its reply."""
        if self.worker is None:
            return None
        files, misses, pause = self.proc[self.worker], 0, 0.00005
        while True:
            threads = files.threads()
            if threads is None:
                return "the worker ended right after it replied"
            if threads != 1:
                return f"the worker ran {threads} threads: a thread other than its loop's could answer"
            running = self._running() if processes else []
            if running:
                return f"a process of the notebook ({_command(running[0])}) was running beside the worker"
            why = self._elsewhere(files)
            if why is None:
                return self._channel_swapped()
            state, _ = files.state()
            if state is None or state in "ZX" or why == MEMORY_GONE:
                return "the worker ended right after it replied"
            if state != "R":
                misses += 1
                if misses >= 3:  # waiting, and not in its loop: where the student's code left it
                    return f"the worker's thread waited outside its own loop: {why}"
            if time.monotonic() >= deadline:
                return "the worker did not go back to its loop after it replied"
            time.sleep(pause)
            pause = min(2 * pause, 0.002)

    def _elsewhere(self, files: _ProcFiles) -> str | None:
        if not self.loop.available:  # the layout is not understood: waiting (not running) must do
            state, _ = files.state()
            return None if state is not None and state not in "RZX" else "it was running"
        if self._reader is None:
            try:
                self._reader = MemoryReader(self.worker)
            except OSError:
                return MEMORY_GONE
        return self.loop.elsewhere(files.memory, self._reader.fixed(self._loop_requests).read())

    def _running(self) -> list[int]:
        """Processes under the worker (or its init) other than the kit's own: a child the worker or
        an init reaped from it is listed as a child of one of them."""
        return [pid for known in self.proc.values() for pid in known.children() if pid not in self.known]

    @property
    def counting(self) -> bool:
        """Whether a pid counter counts what starts in the worker's namespace."""
        return self.count.line is not None

    def close(self) -> None:
        for files in self.proc.values():
            files.close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _channel_swapped(self) -> str | None:
        if self.hello.get("channel_guarded") is True:  # the worker's syscall filter keeps it as it was
            return None
        if self.channel is not None and _link(self.worker, self.loop_channel_fd) != self.channel:
            return "the worker's channel to the judge was replaced by another file"
        return None

    @property
    def loop_channel_fd(self) -> object:
        return self.hello.get("channel_fd")

    def tasks_gone(self) -> int:
        """How many processes or threads were started since the last look and ended before this one."""
        now = self.count.read()
        if now is None or self.last_pid is None or now == self.last_pid:
            return 0
        started, self.last_pid = now - self.last_pid, now
        alive = self._tasks() - self.seen_tasks
        self.seen_tasks |= alive
        return max(0, started - len(alive))

    def begin_checks(self) -> None:
        """Remember the count as the checks begin (once per worker)."""
        if self.checks_from is None:
            self.checks_from = self.last_pid = self.count.read()

    def end_checks(self) -> None:
        """Checks paused for more cells: the next ones count from where they begin."""
        self.checks_from = None

    def started_during_checks(self) -> bool:
        """Whether a process or thread was started in the worker's namespace between the beginning
        of the checks and the last reading of the count (`tasks_gone` reads it)."""
        return None not in (self.checks_from, self.last_pid) and self.last_pid != self.checks_from

    def _tasks(self) -> set[int]:
        """Every thread of every process under the worker (the looks' own counter is not under it)."""
        if self.top is None:
            return set()
        found = set()
        for pid in [self.top, *_descendants(self.top)]:
            try:
                found |= {int(task) for task in os.listdir(f"/proc/{pid}/task")}
            except (OSError, ValueError):
                continue
        return found

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
