"""The warm parent (zygote): pays torch's start-up once, then forks one contained worker per request."""

from __future__ import annotations

import argparse
import gc
import json
import os
import selectors
import signal
import socket
import sys
import time
from dataclasses import dataclass

from grader.worker import isolation
from grader.worker.channel import ChannelClosed, FrameError, recv_frame_blocking, send_frame
from grader.worker.hugepages import collapse_private_memory
from grader.worker.integrity import prepared_manifest
from grader.worker.memcg import WorkerMemory
from grader.worker.spawn import Job, describe_limits, describe_memory, outcome, spawn
from grader.worker.warmup import warm_up

__all__ = ["choose_mode", "main", "plan_containment"]


def _namespaces_work(flags: int) -> bool:
    pid = os.fork()
    if pid == 0:
        try:
            isolation.unshare(flags)
            os._exit(0)
        except BaseException:  # noqa: B036
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def choose_mode() -> str:
    """'root' (namespaces and a uid switch), 'userns' (namespaces via a user namespace) or 'none'."""
    every = isolation.CLONE_NEWPID | isolation.CLONE_NEWNS | isolation.CLONE_NEWNET
    if os.geteuid() == 0 and _namespaces_work(every):
        return "root"
    if _namespaces_work(isolation.CLONE_NEWUSER | every):
        return "userns"
    return "none"


def plan_containment(mode: str, limits: dict) -> dict:
    """What workers will get, before any has started (each worker's hello reports the actual)."""
    if mode == "none":
        why = "not available: not root and user namespaces are not allowed"
        return {k: why for k in ("user", "network", "filesystem", "pid_namespace")} | {
            "limits": describe_limits(limits), "memory": describe_memory(limits)
        }
    user = (
        f"uids from {limits['uid_base']}"
        if mode == "root"
        else "one mapped uid in a user namespace"
    )
    return {
        "user": user,
        "network": "new network namespace",
        "filesystem": "private read-only root",
        "pid_namespace": "new pid namespace",
        "limits": describe_limits(limits),
        "memory": describe_memory(limits),
    }


@dataclass
class _Running:
    id: int
    status_fd: int
    kill_signal: int
    control: socket.socket  # the judge that asked for it, told of its exit
    killed: bool = False


class WarmParentServer:
    """The control loop: start and kill workers on request of each judge, report every exit to it.

    Each judge has a control socket of its own; worker ids are per judge. A judge that closes its
    socket has its workers killed; the parent returns once every judge has gone.
    """

    def __init__(self, controls: list[socket.socket], mode: str, limits: dict, hidden: list[str],
                 run_probe=None, memory: WorkerMemory | None = None) -> None:
        self.controls, self.mode, self.limits, self.hidden = list(controls), mode, limits, hidden
        self.memory = memory  # a memory cgroup per worker, where the machine allows one
        self.run_probe = run_probe  # what workers answer probes with
        self.running: dict[int, _Running] = {}
        self.by_id: dict[tuple[int, int], int] = {}  # (control fd, worker id) -> pid
        self.own_pidns = (
            os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC) if mode == "root" else None
        )
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def forget_in_child(self) -> None:
        """In a forked child: drop the parent's objects without closing fds twice later."""
        controls = [control.detach() for control in self.controls]
        for fd in [*controls, self.wake_r, self.wake_w] + [
            r.status_fd for r in self.running.values()
        ]:
            _close_quietly(fd)
        if self.own_pidns is not None:
            _close_quietly(self.own_pidns)

    def serve(self) -> None:
        """Run until every judge has closed its control socket, then kill every worker."""
        selector = selectors.DefaultSelector()
        for control in self.controls:
            selector.register(control, selectors.EVENT_READ)
        selector.register(self.wake_r, selectors.EVENT_READ)
        try:
            while self.controls:
                for key, _ in selector.select():
                    if key.fileobj == self.wake_r:
                        _drain(self.wake_r)
                    elif not self._handle_request(key.fileobj):
                        selector.unregister(key.fileobj)
                        self._hang_up(key.fileobj)
                self._reap()
        finally:
            self._kill_all()

    def _hang_up(self, control: socket.socket) -> None:
        """A judge has gone: its workers are killed (and reaped like any other)."""
        self.controls.remove(control)
        for pid, record in self.running.items():
            if record.control is control:
                record.killed = True
                self.by_id.pop((control.fileno(), record.id), None)
                _signal_quietly(pid, record.kill_signal)
        control.close()

    def _handle_request(self, control: socket.socket) -> bool:
        try:
            message, fds = recv_frame_blocking(control)
        except (ChannelClosed, FrameError, OSError):
            return False
        op = message.get("op") if isinstance(message, dict) else None
        if op == "start":
            self._start(control, message, fds)
        elif op == "kill":
            self._kill(control, message.get("id"))
        elif op == "shutdown":
            return False
        return True

    def _start(self, control: socket.socket, message: dict, fds: list[int]) -> None:
        """Fork a worker on its channel (the first fd) and, where there is a second, place a pid
        counter on it in the worker's pid namespace."""
        worker_id = message.get("id")
        for fd in fds:  # kept from the spawned counter: it is told only its own line
            os.set_inheritable(fd, False)
        if len(fds) not in (1, 2) or not isinstance(worker_id, int):
            for fd in fds:
                _close_quietly(fd)
            _tell(control, {"op": "start_failed", "id": worker_id, "error": "no channel fd or id"})
            return
        try:
            pid, counter = self._fork_worker(control, worker_id, int(message["uid"]), fds[0], fds[1:])
        except Exception as exc:
            _tell(control, {"op": "start_failed", "id": worker_id, "error": f"{type(exc).__name__}: {exc}"})
        else:
            _tell(control, {"op": "started", "id": worker_id, "pid": pid, "counter": counter is not None})
        finally:
            for fd in fds:
                _close_quietly(fd)

    def _fork_worker(self, control: socket.socket, worker_id: int, uid: int, channel_fd: int,
                     counter_fd: list[int]) -> tuple[int, int | None]:
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        job = Job(
            worker_id,
            uid,
            uid,
            channel_fd,
            status_w,
            self.mode,
            self.limits,
            self.hidden,
            self.run_probe,
            counter_fd=counter_fd[0] if counter_fd else None,
        )
        try:
            pid, kill_signal = spawn(job, self.own_pidns, self.forget_in_child)
        except BaseException:
            os.close(status_r)
            raise
        finally:
            os.close(status_w)
        if self.memory is not None:
            try:  # before "started" reaches the judge, so before any student code runs
                self.memory.place(f"{pid}", pid)
            except OSError:
                _signal_quietly(pid, kill_signal)
                raise
        self.running[pid] = _Running(worker_id, status_r, kill_signal, control)
        self.by_id[(control.fileno(), worker_id)] = pid
        return pid, job.counter

    def _kill(self, control: socket.socket, worker_id: object) -> None:
        pid = self.by_id.get((control.fileno(), worker_id))  # type: ignore[arg-type]
        if pid is None:  # already reaped; its exit was reported
            return
        record = self.running[pid]
        record.killed = True
        _signal_quietly(pid, record.kill_signal)

    def _reap(self) -> None:
        while self.running:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            record = self.running.pop(pid, None)  # None: a worker's pid counter, gone with its namespace
            if self.memory is not None and record is not None:
                self.memory.release(f"{pid}")
            if record is not None:
                outcome = self._outcome(record, status, usage)
                if record.control in self.controls:
                    self.by_id.pop((record.control.fileno(), record.id), None)
                    _tell(record.control, {"op": "exited", "id": record.id, "outcome": outcome})

    def _outcome(self, record: _Running, status: int, usage) -> dict:
        written = _written_outcome(record)
        if written is not None:
            return written
        if record.killed:
            return {"kind": "killed"}
        if self.mode == "root":  # the worker was our own child: its status is first-hand
            return outcome(status, usage.ru_utime + usage.ru_stime, self.limits["cpu_seconds"])
        return {"kind": "supervisor", "value": status}

    def _kill_all(self) -> None:
        for pid, record in list(self.running.items()):
            _signal_quietly(pid, record.kill_signal)
            _signal_quietly(pid, signal.SIGKILL)
        # any child, not each worker in turn: a worker that is pid 1 of its namespace ends only
        # once its pid counter (our child too) has been reaped
        while self.running:
            try:
                pid, _ = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            if self.running.pop(pid, None) is not None and self.memory is not None:
                self.memory.release(f"{pid}")
        if self.memory is not None:  # the last processes of a killed tree may take a moment
            for _ in range(50):
                if not self.memory.stale:
                    break
                time.sleep(0.02)
                self.memory.release_stale()


def _written_outcome(record: _Running) -> dict | None:
    """What a supervising init wrote about its worker's end, if there was one."""
    try:
        written = os.read(record.status_fd, 4096)
    except OSError:
        written = b""
    finally:
        os.close(record.status_fd)
    try:
        return json.loads(written) if written else None
    except ValueError:
        return None


def _tell(control: socket.socket, message: dict) -> None:
    """A frame to one judge; a judge that has gone is noticed when its socket reads closed."""
    try:
        send_frame(control, message)
    except OSError:
        pass


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _signal_quietly(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _freeze_heap() -> None:
    """Move every object made so far out of the collector's reach, and collect again from here on.

    The imports and the warm-up ran with the collector off (0.15 s less start-up); their few
    MB of garbage is kept rather than collected (another 0.15 s). A collection in a worker
    would otherwise touch every inherited object and copy the warm parent's whole heap page
    by page (measured here: about 100 ms per worker). Freezing moves the collector's lists
    at once, so a warm parent for one worker does it too.
    """
    gc.freeze()
    gc.enable()


def _fork_student_run(ends, controls: list[socket.socket]) -> int | None:
    """The child that runs a release's test cells as a student does, forked with torch and
    matplotlib imported (a judges' process would import matplotlib again), before any worker;
    it holds none of the control sockets. None when the configuration asks for none."""
    if not ends:
        return None
    from grader.release.student_run import fork_runner

    return fork_runner((int(ends[0]), int(ends[1])), [control.fileno() for control in controls])


def main(argv: list[str] | None = None) -> None:
    """Entry point: python -m grader.worker.warm_parent --control-fd N [--control-fd M ...].

    The configuration (limits, the paths to hide) arrives as the first frame on the first
    control socket, not on the command line, where any local user's `ps` would read the
    course's paths. Every control socket is a judge's (or the pool's that started the parent
    for its judges); each is told when the parent is ready.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--control-fd", type=int, action="append", required=True)
    args = parser.parse_args(argv)
    gc.disable()  # until _freeze_heap, before the first fork
    controls = [socket.socket(fileno=fd) for fd in args.control_fd]
    for control in controls:  # for this process and its forks, never for a program it spawns
        control.set_inheritable(False)
    config, _ = recv_frame_blocking(controls[0])
    if not isinstance(config, dict) or config.get("op") != "config":
        raise SystemExit("warm parent: the judge's first frame is not its configuration")
    many = config.get("many_workers", True)
    warm, run_probe = warm_up(config.get("functions"), exercise=many)
    _freeze_heap()
    runner = _fork_student_run(config.get("student_run"), controls)
    if many:  # pays off over many forks; one worker would only wait for it
        warm["huge_pages"] = collapse_private_memory()
    else:
        warm["huge_pages"] = "not used: one worker"
    mode = config.get("mode") or choose_mode()
    limits = dict(config["limits"])
    memory = WorkerMemory(limits["address_space"]) if mode == "root" else None
    if memory is not None and memory.available:
        limits["tree_memory"] = memory.describe()
    else:
        memory = None
    plan = plan_containment(mode, limits) | warm
    ready = {"op": "ready", "mode": mode, "containment": plan, "pid": os.getpid(), "machinery": prepared_manifest()}
    # the judges are told; a launcher that started the parent for them reads no "ready", and a
    # frame it never reads could fill its socket and hold the parent before the judges hear
    for control in controls if config.get("tell_launcher", True) else controls[1:]:
        _tell(control, ready)
    WarmParentServer(controls, mode, limits, config["hidden"], run_probe, memory).serve()
    if runner is not None:
        from grader.release.student_run import end_runner

        end_runner(runner)
    # Every worker is reaped and nothing is buffered (the parent writes only whole frames); an
    # orderly interpreter exit would spend half a second tearing down torch's state.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
