"""The judge's side: start the warm parent, start workers, run cells and probes with deadlines."""

from __future__ import annotations

import fcntl
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from grader.worker.channel import (
    FrameBuffer,
    FrameError,
    FrameTimeout,
    send_frame,
)
from grader.worker.handle import _EXIT_WAIT, _LOST, Worker
from grader.worker.limits import Limits

__all__ = ["WarmParent", "Worker", "launch_warm_parent", "warm_parent_config"]

# Environment variables the warm parent (and so every worker) may inherit; everything else is dropped.
_KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")


def _warm_parent_env(package_root: Path) -> dict[str, str]:
    env = {key: os.environ[key] for key in _KEPT_ENV if key in os.environ}
    env.update(
        PYTHONPATH=str(package_root),
        PYTHONDONTWRITEBYTECODE="1",
        OMP_NUM_THREADS="1",
        # read once, when OpenMP loads: torch.set_num_threads(2) in a cell then starts no thread,
        # which would read as a thread that could answer in the worker loop's place
        OMP_THREAD_LIMIT="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        MPLBACKEND="Agg",
        GRADER_SANDBOX_ROLE="warm-parent",
    )
    return env


def _default_hidden(course_root: str | os.PathLike | None, hidden: tuple) -> list[str]:
    """Paths no worker may see even if they sit inside a directory bound into its root."""
    package_root = Path(__file__).resolve().parents[2]
    paths = [package_root, Path.home(), Path(tempfile.gettempdir()), *map(Path, hidden)]
    if course_root is not None:
        paths.append(Path(course_root))
    return sorted({str(p.resolve()) for p in paths if str(p.resolve()) != "/"})


class _UidLease:
    """An exclusive claim on one worker uid, across every judge on the machine (flock)."""

    def __init__(self, limits: Limits) -> None:
        lock_dir = Path(
            "/run/grader-sandbox"
            if os.geteuid() == 0
            else tempfile.gettempdir() + f"/grader-sandbox-{os.getuid()}"
        )
        lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        for slot in range(limits.uid_slots):
            fd = os.open(
                lock_dir / f"{limits.uid_base + slot}.lock",
                os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                0o600,
            )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.uid, self._fd = limits.uid_base + slot, fd
            return
        raise RuntimeError("every worker uid is in use")

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class _ControlLink:
    """Frames to and from the warm parent; exit notices are kept for whoever asks later."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.frames = FrameBuffer(sock)
        self.lock = threading.RLock()
        self.exits: dict[int, dict] = {}
        self.replies: dict[tuple[str, int], dict] = {}

    def send(self, message: dict, fds: list[int] | None = None) -> None:
        with self.lock:
            send_frame(self.sock, message, fds=fds)

    def _pump(self, deadline: float) -> None:
        self._file(self.frames.read(deadline))

    def _file(self, message: Any) -> None:
        if not isinstance(message, dict):
            return
        if message.get("op") == "exited":
            self.exits[message["id"]] = message.get("outcome") or {}
        else:
            self.replies[(message.get("op"), message.get("id"))] = message

    def wait_reply(self, ops: tuple[str, ...], worker_id: int | None, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                for op in ops:
                    found = self.replies.pop((op, worker_id), None)
                    if found is not None:
                        return found
                self._pump(deadline)

    def wait_exit(self, worker_id: int, timeout: float) -> dict | None:
        """The worker's exit outcome; None on timeout, _LOST when the warm parent is gone."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while worker_id not in self.exits:
                try:
                    self._pump(deadline)
                except FrameTimeout:
                    return None
                except FrameError:  # warm parent gone: its death signal took every worker with it
                    return dict(_LOST)
            return self.exits.pop(worker_id)

    def poll_exits(self) -> None:
        """File every frame that has already arrived, without waiting."""
        with self.lock:
            try:
                while (message := self.frames.read_nowait()) is not None:
                    self._file(message)
            except FrameError:
                pass


def warm_parent_config(limits: Limits, *, course_root=None, hidden_paths: tuple = (), mode: str | None = None,
                       functions=None, many_workers: bool = True, student_run: list[int] | None = None) -> dict:
    """The warm parent's configuration frame (sent on its socket: `ps` would show a command line).

    `student_run`: the pipe ends (JOB, OUTCOMES) of the child that runs a release's test cells as
    a student does, which the parent forks once warm (`grader.release.student_run.fork_runner`)."""
    return {"op": "config", "limits": limits.to_json(), "hidden": _default_hidden(course_root, tuple(hidden_paths)),
            "mode": mode, "functions": str(functions) if functions else None, "many_workers": many_workers,
            "student_run": list(student_run) if student_run else None}


def launch_warm_parent(config: dict, judges: int, pass_fds: list[int] = ()) -> tuple[subprocess.Popen, list]:
    """Start a warm parent process; its control links: the launcher's (which sends `config`),
    then one socket per judge that will share it, to pass to that judge (`judges` of them).
    `pass_fds` (the student runs' pipe ends of `config`) go to the parent alone and are closed here."""
    ours, *theirs = pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(1 + judges)]
    package_root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "grader.worker.warm_parent"]
    for _, parent_end in pairs:
        command += ["--control-fd", str(parent_end.fileno())]
    process = subprocess.Popen(
        command,
        env=_warm_parent_env(package_root),
        cwd="/",
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        pass_fds=[parent_end.fileno() for _, parent_end in pairs] + list(pass_fds),
        start_new_session=True,
    )
    for _, parent_end in pairs:
        parent_end.close()
    for fd in pass_fds:
        os.close(fd)
    link = _ControlLink(ours[0])
    try:  # a launcher for judges only sends the configuration and holds the parent's lifetime
        link.send({**config, "tell_launcher": judges == 0})
    except OSError:
        pass  # the parent died at once; waiting for its "ready" reports it
    return process, [link, *(judge_end for judge_end, _ in theirs)]


class WarmParent:
    """A warm parent process (never forked from the judge) that forks contained workers on request."""

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        course_root: str | os.PathLike | None = None,
        hidden_paths: tuple = (),
        start_timeout: float = 120.0,
        mode: str | None = None,
        prefork: bool = True,
        functions: str | os.PathLike | None = None,
        wait: bool = True,
        many_workers: bool = True,
        control: socket.socket | None = None,
    ) -> None:
        """Start the warm parent; mode forces "userns" or "none" (for tests), default: the best available.

        `functions` is the path of an assignment's vocabulary, the functions probes may pass to
        student code; the warm parent loads it before it forks any worker. With wait=False this
        returns as soon as the warm parent is launched, so the caller's own start-up overlaps its
        warm-up; the first worker (or `wait_ready`) waits for it and raises if it did not start.
        With many_workers=False it prepares for one worker: no warm-up exercise, no heap freeze,
        no spare worker forked ahead. With `control` (a judge's end of a warm parent that a
        JudgePool started for all its judges, see `launch_warm_parent`) nothing is launched: the
        judge shares that parent, and only its own workers are its concern.
        """
        self.limits = limits or Limits()
        self._ids = itertools.count(1)
        self._workers: dict[int, Worker] = {}
        self._dying: dict[int, Worker] = {}  # killed, death not yet confirmed
        self._spare: tuple | None = None
        self.prefork = prefork and many_workers
        self._last_containment: dict | None = None
        self._start_timeout = start_timeout
        self._ready: dict | None = None
        if control is not None:
            self._process, self._link = None, _ControlLink(control)
        else:
            config = warm_parent_config(self.limits, course_root=course_root, hidden_paths=hidden_paths,
                                        mode=mode, functions=functions, many_workers=many_workers)
            self._process, [self._link] = launch_warm_parent(config, judges=0)
        if wait:
            self.wait_ready()

    def wait_ready(self) -> dict:
        """The warm parent's "ready" report, waiting for it once; RuntimeError if it did not start."""
        if self._ready is None:
            try:
                self._ready = self._link.wait_reply(("ready",), None, self._start_timeout)
            except (FrameError, FrameTimeout) as exc:
                if self._process is not None:
                    self._process.kill()
                    self._process.wait()
                self._link.sock.close()
                raise RuntimeError(f"the warm parent did not start: {exc}") from None
        return self._ready

    @property
    def mode(self) -> str:
        """How workers are contained: "root", "userns" or "none"."""
        return self.wait_ready()["mode"]

    @property
    def plan(self) -> dict:
        """The containment the warm parent plans for its workers, and what it warmed up."""
        return self.wait_ready()["containment"]

    def _running(self) -> bool:
        return self._process.poll() is None if self._process is not None else self._link.sock.fileno() != -1

    def __enter__(self) -> WarmParent:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def start_worker(self, timeout: float = 30.0) -> Worker:
        """A fresh contained worker, forked from the warm parent; raises RuntimeError if it cannot start.

        One spare is always being forked ahead, so the next job does not wait for fork and
        containment. A spare has never run anything but the kit's own worker loop.
        """
        self.wait_ready()
        pending = self._spare or self._request_start()
        self._spare = None
        try:
            worker = self._finish_start(pending, timeout)
        finally:
            if self.prefork and self._running():
                self._spare = self._request_start()
        return worker

    def _request_start(self) -> tuple:
        worker_id = next(self._ids)
        lease = _UidLease(self.limits)
        judge_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # the kernel names the process that sent each piece the judge reads (SCM_CREDENTIALS)
        judge_end.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        counter, counter_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._link.send({"op": "start", "id": worker_id, "uid": lease.uid},
                            fds=[worker_end.fileno(), counter_end.fileno()])
            error = None
        except OSError as exc:
            error = f"the warm parent is not answering ({exc})"
        finally:
            worker_end.close()
            counter_end.close()
        return worker_id, lease, (judge_end, counter), error

    def _finish_start(self, pending: tuple, timeout: float) -> Worker:
        worker_id, lease, (judge_end, counter), error = pending
        reply = {"op": "start_failed", "error": error}
        if error is None:
            try:
                reply = self._link.wait_reply(("started", "start_failed"), worker_id, timeout)
            except (OSError, FrameError, FrameTimeout) as exc:
                reply = {"op": "start_failed", "error": f"the warm parent is not answering ({exc})"}
        if reply["op"] != "started" or reply.get("counter") is not True:
            counter.close()  # no pid counter was placed (only a root warm parent places one)
            counter = None
        if reply["op"] == "start_failed":
            lease.release()
            judge_end.close()
            raise RuntimeError(f"worker could not start: {reply.get('error')}")
        worker = Worker(self, worker_id, judge_end, lease, reply.get("pid"), counter)
        self._workers[worker_id] = worker
        worker._await_hello(timeout)
        if counter is not None and isinstance(worker.containment.get("pid_namespace"), str):
            worker.containment["pid_namespace"] += ("; a pid counter placed there counts every process and "
                                                    "thread started in it, even those that end between looks")
        self._last_containment = worker.containment
        return worker

    def confirm_dead(self, worker_ids, timeout: float = _EXIT_WAIT) -> None:
        """Return once every listed worker (closed with wait=False) has been reaped, tree and all."""
        for worker_id in worker_ids:
            worker = self._dying.pop(worker_id, None)
            if worker is not None:
                worker._settle(timeout)

    @property
    def containment(self) -> dict:
        """What isolation workers get on this machine, as reported by a worker (one is started if needed)."""
        if self._last_containment is None:
            try:
                self.start_worker().close()
            except RuntimeError as exc:
                return dict(self.plan) | {"workers": f"cannot start: {exc}"}
        warm = {key: self.plan.get(key) for key in ("probes", "huge_pages")}
        return dict(self._last_containment or self.plan) | warm

    def close(self) -> None:
        """Kill every worker (the spare too), then the warm parent."""
        if self._spare is not None:
            spare, self._spare = self._spare, None
            self._discard(spare)
        for worker in list(self._workers.values()):
            worker.close()
        self.confirm_dead(list(self._dying))
        if self._process is None:  # a shared parent: hanging up kills what is left of ours
            try:
                self._link.send({"op": "shutdown"})
            except OSError:
                pass
        elif self._ready is None and self._process.poll() is None:  # still warming up: no worker to wait for
            self._process.kill()
            self._process.wait()
        elif self._process.poll() is None:
            try:
                self._link.send({"op": "shutdown"})
            except OSError:
                pass
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._link.sock.close()

    def _forget(self, worker_id: int) -> None:
        self._workers.pop(worker_id, None)

    def _discard(self, pending: tuple) -> None:
        try:
            self._finish_start(pending, 10.0).close()
        except RuntimeError:
            pass
