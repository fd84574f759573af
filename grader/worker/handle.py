"""The judge's handle on one contained worker: cells and probes with deadlines, and its death confirmed."""

from __future__ import annotations

import itertools
import select
import socket
import time
from typing import TYPE_CHECKING, Any

from grader.worker.channel import (
    ChannelClosed,
    FrameError,
    FrameTimeout,
    ProbeFailed,
    encode_frame,
    read_frame,
    unsolicited,
)
from grader.worker.report import CellReport, describe_exit

__all__ = ["Worker"]

if TYPE_CHECKING:  # annotations only: the client module imports this one
    from grader.worker.client import WarmParent, _UidLease

MAX_EVENTS = 50
MAX_EVENT_CHARS = 300
MAX_ERROR_CHARS = 500
_EXIT_WAIT = 10.0  # for the warm parent to reap a worker it was told to kill
_DEATH_WAIT = 2.0  # for an exit notice after the channel closed; then the judge kills it
_LOST = {"kind": "lost"}


class _Killed(Exception):
    """The judge killed the worker because it ran past its deadline."""


class _Dead(Exception):
    """The worker died by itself; the message says how."""


class _Garbage(Exception):
    """The worker replied with something that is not a valid reply."""


class Worker:
    """One contained worker process: cells run in one persistent namespace, probes answer as data."""

    def __init__(
        self,
        parent: WarmParent,
        worker_id: int,
        sock: socket.socket,
        lease: _UidLease,
        pid: int | None,
        counter: socket.socket | None = None,
    ) -> None:
        self._parent, self.id, self._sock, self._lease = parent, worker_id, sock, lease
        self.counter = counter  # the line to the pid counter in its pid namespace, if one was placed
        self.uid, self.pid = lease.uid, pid
        self.containment: dict = {}
        self.hello: dict = {}  # what the worker said before any student code ran
        self._seq = itertools.count(1)
        self._exit: dict | None = None
        self._closed = False
        self._kill_sent = False
        self.probe_events: list[str] = []  # what the student's code did during the last probe
        self.sender: int | None = None  # the process its hello came from (the kernel's word)
        self.foreign: int | None = None  # another process that sent on its channel, if one did
        self._max_frame = parent.limits.max_frame
        self._poller = select.poll()  # this channel and the warm parent's link, registered once
        self._poller.register(sock.fileno(), select.POLLIN)
        self._poller.register(parent._link.sock.fileno(), select.POLLIN)

    def _await_hello(self, timeout: float) -> None:
        try:
            hello = self._await_reply(time.monotonic() + timeout)
        except (FrameError, FrameTimeout) as exc:
            self.close()
            raise RuntimeError(f"worker did not start: {type(exc).__name__}: {exc}") from None
        if not isinstance(hello, dict) or hello.get("op") != "hello" or "error" in hello:
            self.close()
            raise RuntimeError(
                f"worker did not start: {str(hello.get('error') if isinstance(hello, dict) else hello)[:1000]}"
            )
        self.containment = hello.get("containment") or {}
        self.hello = hello

    @property
    def alive(self) -> bool:
        """False once the worker has died, been killed or been closed."""
        if self._closed or self._exit is not None:
            return False
        self._parent._link.poll_exits()
        self._exit = self._parent._link.exits.pop(self.id, None)
        return self._exit is None

    def run_cell(self, index: int, source: str, timeout: float = 10.0, *, is_python: bool = False) -> CellReport:
        """Run one cell; "died" and "timeout" come from the judge's own observation, not the worker's word.

        With `is_python` the source is plain Python (IPython syntax already transformed) and
        the worker compiles it as it is.
        """
        if not self.alive:
            return CellReport(
                index, "died", error=f"the worker is not running ({self._exit_text()})"
            )
        if len(source.encode("utf-8", "replace")) > self._max_frame // 2:
            return CellReport(index, "error", error="the cell is too large to run")
        try:
            reply = self._exchange({"op": "run", "index": index, "source": source, "python": is_python}, timeout)
            return _cell_report(index, reply, self._parent.limits.output_cap)
        except _Killed:
            return CellReport(
                index, "timeout", error=f"the cell ran longer than {timeout:g} s and was stopped"
            )
        except _Dead as dead:
            return CellReport(index, "died", error=str(dead), events=_death_events(self._exit))
        except _Garbage as garbage:
            return CellReport(
                index,
                "error",
                error=f"the worker sent an unreadable reply ({garbage}); it was stopped",
            )

    def probe(self, request: dict, timeout: float = 5.0) -> dict:
        """Send one probe; ProbeFailed when the worker dies, hangs or replies with garbage."""
        if not self.alive:
            raise ProbeFailed("error", f"the worker is not running ({self._exit_text()})")
        try:
            reply = self._exchange({"op": "probe", "request": request}, timeout)
        except _Killed:
            raise ProbeFailed(
                "timeout", f"no reply within {timeout:g} s; the worker was stopped"
            ) from None
        except (_Dead, _Garbage) as exc:
            raise ProbeFailed("error", str(exc)) from None
        if not isinstance(reply.get("reply"), dict):
            self._kill()
            raise ProbeFailed(
                "error", "the worker's reply is not an object; the worker was stopped"
            )
        self.probe_events = _events_of(reply)
        return reply["reply"]

    def _exchange(self, message: dict, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        seq = next(self._seq)
        try:
            self._send({**message, "seq": seq}, deadline)
            reply = self._await_reply(deadline)
        except FrameTimeout:
            self._kill()
            raise _Killed() from None
        except (ChannelClosed, BrokenPipeError, ConnectionError):
            raise _Dead(self._wait_death()) from None
        except FrameError as exc:
            self._kill()
            raise _Garbage(str(exc)) from None
        if not isinstance(reply, dict) or reply.get("seq") != seq:
            self._kill()
            raise _Garbage("reply out of sequence")
        return reply

    def _await_reply(self, deadline: float) -> Any:
        """The reply frame, or ChannelClosed as soon as the warm parent reports the worker's exit.

        Watching the exit notice matters when a leftover child still holds the channel open.
        """
        link = self._parent._link
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FrameTimeout("deadline passed")
            ready = {fd for fd, _ in self._poller.poll(remaining * 1000)}
            if self._sock.fileno() in ready:
                senders: list[int | None] = []
                frame = read_frame(self._sock, deadline, self._max_frame, senders)
                self._heard_from(senders)
                return frame
            if ready:
                link.poll_exits()
                if self.id in link.exits:
                    raise ChannelClosed("the worker exited")

    def _heard_from(self, senders: list[int | None]) -> None:
        """Every piece of a frame must come from the process the hello came from."""
        for pid in senders:
            if self.sender is None:
                self.sender = pid
            elif pid != self.sender:
                self.foreign = pid
                raise FrameError("a frame came from another process, not the worker")

    def unsolicited(self) -> bool:
        """Whether the worker sent anything it was not asked for (read while it waits)."""
        return unsolicited(self._sock)

    def _send(self, message: dict, deadline: float) -> None:
        data = encode_frame(message, self._max_frame)
        try:  # a request usually fits the socket's buffer at once
            sent = self._sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
        if sent == len(data):
            return
        self._sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            self._sock.sendall(data[sent:])
        except TimeoutError:
            raise FrameTimeout("send deadline passed") from None
        finally:
            self._sock.settimeout(None)

    def _wait_death(self) -> str:
        if self._exit is None:
            self._exit = self._parent._link.wait_exit(self.id, _DEATH_WAIT)
        if (
            self._exit is None
        ):  # the channel closed yet the process lives on: it broke its own channel
            self._kill()
            return "closed its channel to the judge"
        return self._exit_text()

    def _exit_text(self) -> str:
        if self._closed and self._exit is None:
            return "closed"
        return describe_exit(self._exit or {})

    def _kill(self, timeout: float = _EXIT_WAIT) -> None:
        """Kill the worker's whole tree (once) and wait until the warm parent has reaped it."""
        if self._exit is not None:
            return
        self._send_kill()
        if self._exit is None:
            self._exit = self._parent._link.wait_exit(self.id, timeout) or dict(_LOST)

    def _send_kill(self) -> None:
        """Ask the warm parent to kill the worker, unless its exit is already known or asked for."""
        link = self._parent._link
        self._exit = self._exit or link.exits.pop(self.id, None)
        if self._exit is None and not self._kill_sent:
            try:
                link.send({"op": "kill", "id": self.id})
                self._kill_sent = True
            except OSError:
                self._exit = dict(_LOST)

    def close(self, wait: bool = True) -> None:
        """Kill the worker and everything it started.

        With wait (the default) it returns once every process of it is dead; without, the kill
        is sent and the judge must call `WarmParent.confirm_dead([worker.id])` before it
        records anything, so the next job can start while the kernel tears this one down.
        """
        if self._closed:
            return
        self._closed = True
        self._sock.close()
        if self.counter is not None:
            self.counter.close()
        self._parent._forget(self.id)
        if wait:
            self._settle(_EXIT_WAIT)
            return
        self._send_kill()
        self._parent._dying[self.id] = self

    def _settle(self, timeout: float) -> None:
        """Wait for the exit notice (killing first if need be), then free the worker's uid."""
        try:
            self._kill(timeout)
        finally:
            self._lease.release()


def _death_events(outcome: dict | None) -> list[str]:
    if outcome and "CPU time limit" in describe_exit(outcome):
        return ["hit the CPU time limit"]
    return []


def _clip(value: Any, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _events_of(reply: dict) -> list[str]:
    """The events a worker reported with a cell or a probe, capped in number and length."""
    events = reply.get("events") if isinstance(reply.get("events"), list) else []
    return [_clip(e, MAX_EVENT_CHARS) for e in events[:MAX_EVENTS] if isinstance(e, str)]


def _cell_report(index: int, reply: dict, output_cap: int) -> CellReport:
    """Validate a worker's cell reply; anything off the format becomes an error the student can read."""
    status = reply.get("status")
    if status not in ("ok", "error"):
        return CellReport(index, "error", error="the worker sent a malformed cell report")
    output = _clip(reply.get("output"), output_cap + 200)
    error = _clip(reply.get("error"), MAX_ERROR_CHARS).split("\n")[0] or None
    events = _events_of(reply)
    if status == "error" and error is None:
        error = "error"
    return CellReport(index, status, output, error if status == "error" else None, events)
