"""The worker loop: run notebook cells like IPython would (without a kernel) and answer probes."""

from __future__ import annotations

import _signal
import ast
import builtins
import gc
import io
import linecache
import os
import signal
import socket
import sys
import tempfile
import traceback
import types
from collections.abc import Callable
from typing import Any

from IPython.core.inputtransformer2 import TransformerManager

from grader.runtime.jsontext import dumps
from grader.worker import channel
from grader.worker.channel import (
    ChannelClosed,
    FrameError,
    encode_frame,
    recv_frame_blocking,
    send_all,
)
from grader.worker.evidence import (
    MODE_DURING,
    MODE_LEFT,
    WATCHED,
    AuditRecorder,
    BuiltinsGuard,
    IPythonStub,
    PatchWatch,
)
from grader.worker.integrity import machinery_manifest
from grader.worker.loop_state import describe_loop

__all__ = ["CappedOutput", "CellRunner", "serve"]

MAX_ERROR = 500
# Bound at import: CappedOutput.write runs under the student's builtins, which may be rebound.
_len, _min, _max, _isinstance, _str, _type = len, min, max, isinstance, str, type
_gettrace, _getprofile, _settrace, _setprofile = sys.gettrace, sys.getprofile, sys.settrace, sys.setprofile
_collecting, _collect_on, _collect_off = gc.isenabled, gc.enable, gc.disable
# _signal's own function: signal's wrapper turns every signal of the mask it returns into an
# enum member, some 80 microseconds for a full mask
_sigmask, _SIG_BLOCK, _SIG_SETMASK = _signal.pthread_sigmask, signal.SIG_BLOCK, signal.SIG_SETMASK
_EVERY_SIGNAL = frozenset(int(number) for number in signal.valid_signals())
_frozenset = frozenset


def _drop_hooks() -> None:
    """Remove a trace or profile function a cell left: it would run inside the probes' own frames."""
    if _gettrace() is not None:
        _settrace(None)
    if _getprofile() is not None:
        _setprofile(None)


class _StudentTime:
    """Student code may leave code that runs by itself: signal handlers and finalisers that the
    cyclic collector calls. Between requests, while the loop seals its reply, sends it and waits
    for the next request, none of it can run: every signal is blocked (handlers already due run
    inside the call that blocks them, while the request is still the student's), the collector
    is off, and no trace or profile function is set. The student's collector setting and signal
    mask come back with the next request."""

    __slots__ = ("collect", "mask", "full")

    def __init__(self) -> None:
        self.collect, self.mask, self.full = True, _frozenset(), None

    def begin(self) -> None:
        """The student's own settings, for the request about to run."""
        _sigmask(_SIG_SETMASK, self.mask)
        if self.collect:
            _collect_on()

    def end(self) -> None:
        """Nothing of the student's runs from here until the next request begins."""
        self.collect = _collecting()
        _collect_off()
        try:  # a handler that was due runs inside this call, and may raise
            self.mask = _frozenset(_sigmask(_SIG_BLOCK, _EVERY_SIGNAL))
        except BaseException:  # noqa: B036 -- the mask is set all the same
            self.mask = _frozenset()
        for _ in range(8):  # what those handlers (or finalisers they freed) turned back on
            _drop_hooks()
            _collect_off()
            try:
                now = _sigmask(_SIG_BLOCK, _EVERY_SIGNAL)
            except BaseException:  # noqa: B036
                continue
            self.full = self.full or now  # every signal this libc lets a thread block
            if now == self.full and not _collecting() and _gettrace() is None and _getprofile() is None:
                return


_STUDENT_TIME = _StudentTime()


class _ModeStacks:
    """torch's stacks of __torch_function__ and __torch_dispatch__ modes, through functions bound
    at import. A mode left active sees, and can rewrite, every tensor the probes read."""

    def __init__(self) -> None:
        torch = sys.modules.get("torch")
        self.stacks: list[tuple] = []  # (size, mode at an index, pop)
        self.device_context = None  # torch.set_default_device's own mode, not the student's
        if torch is None:
            return
        import torch.utils._device

        torch_c = torch._C
        self.device_context = torch.utils._device.DeviceContext
        pop_dispatch = torch_c._pop_torch_dispatch_stack  # takes a mode key; None pops the top
        self.stacks = [
            (torch_c._len_torch_function_stack, torch_c._get_function_stack_at, torch_c._pop_torch_function_stack),
            (torch_c._len_torch_dispatch_stack, torch_c._get_dispatch_stack_at, lambda: pop_dispatch(None)),
        ]

    def foreign(self) -> int:
        """How many active modes are not torch's own default-device context."""
        return sum(1 for size, at, _ in self.stacks for index in range(size())
                   if _type(at(index)) is not self.device_context)

    def drop(self) -> None:
        """Pop every active mode."""
        for size, _, pop in self.stacks:
            while size() > 0:
                pop()


_MODES = _ModeStacks()


class CappedOutput(io.TextIOBase):
    """A text stream that keeps the first `cap` characters and counts the rest."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._parts: list[str] = []
        self._kept = 0
        self.dropped = 0

    def write(self, text: object) -> int:
        if not _isinstance(text, _str):
            raise TypeError(f"write() argument must be str, not {_type(text).__name__}")
        size = _len(text)
        room = self.cap - self._kept
        if room > 0:
            self._parts.append(text[:room])
            self._kept += _min(room, size)
        self.dropped += _max(0, size - _max(room, 0))
        return size

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"

    def text(self) -> str:
        """What was kept, with a note when something was cut."""
        kept = "".join(self._parts)
        if self.dropped:
            kept += f"\n[output truncated: {self.dropped} more characters not shown]\n"
        return kept


def _display(*objs: object, **kwargs: object) -> None:
    """IPython's display() where no front end shows rich output: each object's text, as a terminal IPython prints it."""
    for obj in objs:
        print(repr(obj))


def one_line_error(exc: BaseException) -> str:
    """'ZeroDivisionError: division by zero' (never raises, even for hostile __str__)."""
    try:
        lines = traceback.format_exception_only(type(exc), exc)
        text = lines[-1].strip().splitlines()[0] if lines else type(exc).__name__
    except BaseException:  # noqa: B036 -- a student's __str__ may raise anything
        text = type(exc).__name__
    return text[:MAX_ERROR]


def _traceback_text(exc: BaseException) -> str:
    tb = None if isinstance(exc, SyntaxError) else exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next  # the student sees their own frames, not the worker's
    try:
        return "".join(traceback.format_exception(type(exc), exc, tb))
    except BaseException:  # noqa: B036
        return one_line_error(exc) + "\n"


def _split_last_expression(tree: ast.Module) -> tuple[ast.Module, ast.Expression | None]:
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body[-1].value)
        return ast.Module(tree.body[:-1], type_ignores=[]), last
    return tree, None


class CellRunner:
    """One persistent __main__ namespace in which cells run in order."""

    # Fixed slots: the judge re-reads them from outside the worker (see integrity.py).
    __slots__ = ("output_cap", "audit", "patches", "builtins", "module", "namespace")

    def __init__(self, workdir: str, output_cap: int) -> None:
        self.output_cap = output_cap
        self.audit = AuditRecorder(workdir)
        self.patches = PatchWatch()
        self.builtins = BuiltinsGuard()
        self.module = types.ModuleType("__main__")
        self.namespace = self.module.__dict__
        self.namespace["__builtins__"] = builtins
        self.namespace["get_ipython"] = self._make_ipython()
        self.namespace["display"] = _display  # a builtin in every Jupyter kernel
        sys.modules["__main__"] = self.module  # `import __main__` sees the notebook, as in Jupyter
        sys.addaudithook(self.audit)

    def _make_ipython(self) -> Callable[[], IPythonStub]:
        stub = IPythonStub(self.audit.add, self._run_source, self._run_script)
        return lambda: stub

    def _run_source(self, source: str, filename: str = "<magic>") -> None:
        self._execute(*self._compile(source, filename))

    def _run_script(self, text: str, filename: str, in_namespace: bool) -> None:
        """%run of a Python file: in the notebook's namespace (-i), or in one of its own, as
        `__main__`, whose names then join the notebook's (what IPython does)."""
        body, last, _ = self._compile(text, filename, is_python=True)
        if in_namespace:
            self._execute(body, last, False)
            return
        scope = {"__name__": "__main__", "__file__": filename, "__builtins__": builtins}
        exec(body, scope)
        if last is not None:
            eval(last, scope)
        self.namespace.update({k: v for k, v in scope.items() if not k.startswith("__")})

    def _compile(self, source: str, filename: str, *, is_python: bool = False) -> tuple:
        # A fresh TransformerManager: one the student could reach would let them rewrite later cells.
        code = source if is_python else TransformerManager().transform_cell(source)
        linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
        body, last = _split_last_expression(ast.parse(code, filename))
        shown = last is not None and not source.rstrip().endswith(";")
        body_code = compile(body, filename, "exec", dont_inherit=True)
        last_code = None if last is None else compile(last, filename, "eval", dont_inherit=True)
        return body_code, last_code, shown

    def _execute(self, body_code: Any, last_code: Any, shown: bool) -> None:
        exec(body_code, self.namespace)
        if last_code is not None:
            value = eval(last_code, self.namespace)
            if value is not None and shown:
                self.namespace["_"] = value
                print(repr(value))

    def run_cell(self, index: int, source: str, *, is_python: bool = False) -> dict:
        """Run one cell; every exception, SystemExit and KeyboardInterrupt included, is reported.

        `is_python` says the judge already turned the cell's IPython syntax into Python.
        """
        events = self.audit.begin()
        modes = _MODES.foreign()
        output = CappedOutput(self.output_cap)
        try:
            compiled = self._compile(source, f"<cell {index}>", is_python=is_python)
        except BaseException as exc:  # noqa: B036 -- a syntax error is the student's error, not ours
            failure = exc
        else:
            failure = self._as_student(output, lambda: self._execute(*compiled))
        status, error = ("ok", None) if failure is None else ("error", one_line_error(failure))
        if failure is not None:
            output.write(_traceback_text(failure))
        for event in self.patches.changes(self.builtins.student_view()):
            self.audit.add(event)
        if _MODES.foreign() > modes:
            self.audit.add(MODE_LEFT)
        return {"status": status, "output": output.text(), "error": error, "events": list(events)}

    def _as_student(self, output: CappedOutput, body: Callable[[], None]) -> BaseException | None:
        """Run student code with its own builtins and output capture; return what it raised."""
        self.builtins.enter_student()
        try:
            with _redirected(output):
                body()
        except BaseException as exc:  # noqa: B036 -- a stray sys.exit() must not end the worker
            return exc
        finally:
            self.builtins.leave_student()
        return None

    def probe(self, run_probe: Callable[[dict, dict], str] | None, request: Any) -> tuple[str, list[str]]:
        """One probe's reply as JSON text, and what the student's code did while it ran (its
        events, as a cell's).

        Output the student's code prints during it is discarded; a trace or profile function,
        or a torch function or dispatch mode, left by a cell or made active during the probe,
        is removed before it starts and after.
        """
        _drop_hooks()
        _MODES.drop()  # one a cell left was named with that cell
        events = self.audit.begin()
        if run_probe is None:
            return dumps({"error": "probes unavailable"}), []
        with _redirected(CappedOutput(0)):
            try:
                reply = run_probe(self.namespace, request)
            except BaseException as exc:  # noqa: B036
                reply = dumps({"error": f"probe failed: {one_line_error(exc)}"})
        _drop_hooks()  # one the student's code installed: already among this probe's events
        if _MODES.foreign():
            self.audit.add(MODE_DURING)
        _MODES.drop()
        # (a watched function rebound during a probe is machinery the judge's next look sees)
        return reply if _type(reply) is _str else dumps({"error": "probe failed"}), list(events)


class _redirected:
    """Point sys.stdout and sys.stderr at one capture for the duration; always restore."""

    def __init__(self, stream: CappedOutput) -> None:
        self.stream = stream

    def __enter__(self) -> CappedOutput:
        sys.stdout = sys.stderr = self.stream
        return self.stream

    def __exit__(self, *exc_info: object) -> None:
        sys.stdout = sys.stderr = CappedOutput(0)


def _reply_frame(reply: str, seq: Any, max_frame: int) -> bytes:
    """The frame for a reply (a JSON object's text), its sequence number first."""
    try:
        body = ('{"seq":' + dumps(seq) + ("," if reply != "{}" else "") + reply[1:]).encode("utf-8")
        if len(body) > max_frame:
            raise FrameError(f"frame of {len(body)} bytes exceeds the cap of {max_frame}")
        return len(body).to_bytes(4, "big") + body
    except (TypeError, ValueError, FrameError, RecursionError, MemoryError) as exc:
        note = f"reply could not be sent: {type(exc).__name__}: {str(exc)[:200]}"
        return encode_frame(
            {"seq": seq, "status": "error", "reply": {"error": note}, "error": note}
        )


def handle(runner: CellRunner, run_probe: Callable | None, message: Any) -> str:
    """Dispatch one request from the judge; the reply as JSON text."""
    op = message.get("op") if isinstance(message, dict) else None
    if op == "run":
        return dumps(runner.run_cell(int(message["index"]), str(message["source"]),
                                     is_python=message.get("python") is True))
    if op == "probe":
        reply, events = runner.probe(run_probe, message.get("request"))
        return '{"reply":' + reply + ',"events":' + dumps(events) + "}"
    return dumps({
        "status": "error",
        "error": f"unknown op {op!r}",
        "reply": {"error": f"unknown op {op!r}"},
    })


def _answer(runner: CellRunner, run_probe: Callable | None, message: Any) -> str:
    """The reply to one request, as JSON text; the student's time ends before it is returned."""
    try:
        _STUDENT_TIME.begin()  # a handler due since the last request runs here, as the student's
        return handle(runner, run_probe, message)
    except BaseException as exc:  # noqa: B036 -- a malformed request must not end the worker
        note = f"worker could not handle the request: {one_line_error(exc)}"
        return dumps({
            "status": "error",
            "error": note,
            "output": "",
            "events": [],
            "reply": {"error": note},
        })
    finally:
        _STUDENT_TIME.end()


# Where the loop below waits for a request, innermost call first: the judge finds it there
# before it trusts a reply.
_WAITS_IN = (channel._receive.__code__, channel._recv_exact_blocking.__code__, recv_frame_blocking.__code__)


def _tmp_entries() -> list[str]:
    try:
        return sorted(os.listdir("/tmp"))[:100]
    except OSError:
        return []


def serve(
    fd: int, workdir: str, hello: dict, output_cap: int, max_frame: int, run_probe: Callable | None
) -> None:
    """Answer requests on fd until the judge closes it."""
    # Temporary files belong in the working directory: tempfile would otherwise probe /tmp by
    # writing there, which the evidence recorder rightly lists as a write outside it.
    tempfile.tempdir = workdir
    sock = socket.socket(fileno=fd)
    runner = CellRunner(workdir, output_cap)
    # Made before any student code runs: where the machinery lives, for the judge to re-read.
    # And what the kit itself put in /tmp (the working directory, the skeleton of a venv or
    # course kept under /tmp), which the judge's looks from outside then do not list.
    hello = {**hello, "machinery": machinery_manifest(runner, run_probe, WATCHED), "tmp_entries": _tmp_entries(),
             "channel_fd": fd,
             "loop": describe_loop(sys._getframe(), _WAITS_IN, {"sock": sock, "runner": runner, "run_probe": run_probe})}
    send_all(sock, encode_frame({"op": "hello", **hello}, max_frame))
    _STUDENT_TIME.end()  # as after every request: nothing but this loop runs while it waits
    while True:
        try:
            message, _ = recv_frame_blocking(sock, max_frame)
        except (ChannelClosed, FrameError, OSError):
            return
        seq = message.get("seq") if isinstance(message, dict) else None
        try:
            send_all(sock, _reply_frame(_answer(runner, run_probe, message), seq, max_frame))
        except OSError:
            return
