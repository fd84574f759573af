"""Tamper evidence inside a worker: patched functions, audited operations, IPython internals."""

from __future__ import annotations

import builtins
import itertools
import os
import re
import shlex
import sys
import textwrap
from collections.abc import Callable

__all__ = ["INSIDE_THE_CHECKS", "MODE_DURING", "MODE_LEFT", "WATCHED", "AuditRecorder", "BuiltinsGuard", "IPythonStub", "PatchWatch"]

# Functions a check could be fooled through if student code rebinds them.
WATCHED = (
    "torch.allclose",
    "torch.equal",
    "torch.isclose",
    "torch.testing.assert_close",
    "torch.Tensor.__eq__",
    "torch.Tensor.__ne__",
    "torch.Tensor.__bool__",
    "torch.Tensor.__float__",
    "torch.Tensor.__len__",
    "torch.Tensor.item",
    "torch.Tensor.tolist",
    "torch.Tensor.backward",
    "torch.autograd.grad",
    "torch.autograd.backward",
    "torch.autograd.Function.apply",
    "builtins.isinstance",
    "builtins.type",
    "builtins.abs",
    "builtins.float",
    "builtins.len",
    "builtins.round",
    "builtins.__import__",
    "math.isclose",
    "numpy.allclose",
    "numpy.isclose",
    "numpy.testing.assert_allclose",
)
_MODULES = ("torch", "numpy", "math", "builtins")
_MISSING = object()
MAX_EVENTS = 50

_PROCESS_EVENTS = {
    "subprocess.Popen",
    "os.system",
    "os.fork",
    "os.forkpty",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
}
_SIMPLE_EVENTS = {
    "socket.connect": "opened a network connection",
    "socket.sendto": "opened a network connection",
    "socket.getaddrinfo": "looked up a host name",
    "socket.gethostbyname": "looked up a host name",
    "sqlite3.connect": "opened a database",
    "ctypes.dlopen": "loaded a native library through ctypes",
    "os.kill": "sent a signal to a process",
    "sys.addaudithook": "added an audit hook",
    "sys.settrace": "installed a trace function",
    "sys.setprofile": "installed a profile function",
}
MODE_LEFT = "left a torch function or dispatch mode active (removed before each check)"
MODE_DURING = "made a torch function or dispatch mode active while the checks ran"
# Run inside the probes' own frames or tensor operations, where they see and can change the
# checks' data: when one was active during a probe, the verdict goes to review.
INSIDE_THE_CHECKS = frozenset({_SIMPLE_EVENTS["sys.settrace"], _SIMPLE_EVENTS["sys.setprofile"], MODE_DURING})
# AF_UNIX, AF_INET, AF_INET6 as numbers: the socket module's names are the student's to rebind.
_CONFINED_FAMILIES = (1, 2, 10)
_FAMILY_NAMES = {16: "AF_NETLINK", 17: "AF_PACKET", 31: "AF_BLUETOOTH", 38: "AF_ALG", 40: "AF_VSOCK", 44: "AF_XDP"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_HARMLESS_WRITES = ("/dev/null",)
# The read-only library tree: code there is not the student's (their cells are "<cell N>").
_LIBRARY = tuple(sorted({p.rstrip("/") + "/" for p in (sys.prefix, sys.base_prefix)}))


def _library_import_in_progress() -> bool:
    """Whether an audited setattr comes from library code while a library module is being imported.

    Lazy imports inside torch (typing.NamedTuple, dataclasses) set __bases__, __qualname__ and
    __doc__ on torch classes the first time a cell prints a tensor; that is not tampering.
    """
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    if frame is None or not frame.f_code.co_filename.startswith(_LIBRARY):
        return False
    while frame is not None:
        code = frame.f_code
        if code.co_name == "<module>" and code.co_filename.startswith(_LIBRARY):
            return True
        frame = frame.f_back
    return False


def _class_attribute(cls: type, name: str) -> object:
    # Static lookup: a student's metaclass __getattr__ cannot lie about what is bound.
    for klass in type.__getattribute__(cls, "__mro__"):
        found = type.__getattribute__(klass, "__dict__").get(name, _MISSING)
        if found is not _MISSING:
            return found
    return _MISSING


def _resolve(modules: dict, label: str) -> object:
    parts = label.split(".")
    obj = modules.get(parts[0], _MISSING)
    for name in parts[1:]:
        if obj is _MISSING:
            return _MISSING
        obj = (
            _class_attribute(obj, name) if isinstance(obj, type) else vars(obj).get(name, _MISSING)
        )
    return obj


class PatchWatch:
    """Remembers the watched functions and reports each one that gets rebound."""

    __slots__ = ("_modules", "_labels", "_seen")

    def __init__(self, labels: tuple[str, ...] = WATCHED) -> None:
        self._modules = {name: sys.modules[name] for name in _MODULES if name in sys.modules}
        self._labels = tuple(label for label in labels if label.split(".")[0] in self._modules)
        self._seen = {label: _resolve(self._modules, label) for label in self._labels}

    def changes(self, builtins_view: dict) -> list[str]:
        """Labels rebound since the last call, as events; module swaps in sys.modules too.

        builtins_view is what the student's code sees as builtins (see BuiltinsGuard).
        """
        events = []
        for label in self._labels:
            head, _, name = label.partition(".")
            if head == "builtins":
                now = builtins_view.get(name, _MISSING)
            else:
                now = _resolve(self._modules, label)
            if now is not self._seen[label]:
                events.append(f"patched {label}")
                self._seen[label] = now
        for name, module in self._modules.items():
            if sys.modules.get(name) is not module:
                events.append(f"replaced the module {name} in sys.modules")
        return events


class BuiltinsGuard:
    """Student rebinding of builtins applies only while student code runs.

    The worker's own code (reply encoding, the probe runner) then always sees the real
    isinstance, len and friends, so `builtins.isinstance = ...` cannot break the worker loop.
    """

    __slots__ = ("_namespace", "pristine", "overrides")

    def __init__(self) -> None:
        self._namespace = vars(builtins)
        self.pristine = dict(self._namespace)
        self.overrides: dict[str, object] = {}

    def enter_student(self) -> None:
        """Put back what the student's code had rebound."""
        for name, value in self.overrides.items():
            if value is _MISSING:
                self._namespace.pop(name, None)
            else:
                self._namespace[name] = value

    def leave_student(self) -> None:
        """Remember the student's rebindings and restore the real builtins."""
        for name, real in self.pristine.items():
            now = self._namespace.get(name, _MISSING)
            if now is real:
                self.overrides.pop(name, None)
            else:
                self.overrides[name] = now
                self._namespace[name] = real

    def student_view(self) -> dict:
        """Builtins as the student's code sees them."""
        view = dict(self.pristine)
        view.update(self.overrides)
        return {name: value for name, value in view.items() if value is not _MISSING}


def _family_name(family: object) -> str:
    if type(family) is int or type(family).__name__ == "AddressFamily":
        return _FAMILY_NAMES.get(int(family), f"family {int(family)}")
    return "unknown family"


def _write_target(args: tuple) -> str | None:
    path, mode, flags = (tuple(args) + (None, None, None))[:3]
    if isinstance(mode, str):
        writing = any(c in mode for c in "wax+")
    else:
        writing = isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
    if not writing or isinstance(path, int) or path is None:
        return None
    return os.path.abspath(os.fsdecode(path))


class AuditRecorder:
    """A sys.addaudithook callback that turns audited operations into events for the current cell."""

    __slots__ = ("workdir", "events")

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.events: list[str] = []

    def begin(self) -> list[str]:
        """Start a fresh list of events (one per cell)."""
        self.events = []
        return self.events

    def add(self, event: str) -> None:
        """Record an event once, up to MAX_EVENTS per cell."""
        if event not in self.events and len(self.events) < MAX_EVENTS:
            self.events.append(event)

    def __call__(self, event: str, args: tuple) -> None:
        try:
            self._observe(event, args)
        except Exception:  # an audit hook that raises would abort the audited operation
            pass

    def _observe(self, event: str, args: tuple) -> None:
        if event in _SIMPLE_EVENTS:
            self.add(_SIMPLE_EVENTS[event])
        elif event in _PROCESS_EVENTS:
            self.add("started a process")
        elif event == "open":
            self._observe_open(args)
        elif event == "object.__setattr__":
            self._observe_setattr(args)
        elif event == "socket.__new__":
            self._observe_socket(args)

    def _observe_socket(self, args: tuple) -> None:
        family = args[1] if len(args) > 1 else None
        if family not in _CONFINED_FAMILIES:
            self.add(f"opened a socket of a family the sandbox does not allow ({_family_name(family)})")

    def _observe_open(self, args: tuple) -> None:
        target = _write_target(args)
        if target is None or target in _HARMLESS_WRITES:
            return
        if target != self.workdir and not target.startswith(self.workdir + "/"):
            self.add(f"opened a file for writing outside its working directory: {target[:200]}")

    def _observe_setattr(self, args: tuple) -> None:
        obj, name = args[0], args[1]
        module = getattr(obj, "__module__", None) if isinstance(obj, type) else None
        if isinstance(module, str) and module.split(".")[0] in _MODULES:
            if not _library_import_in_progress():
                self.add(f"patched {module}.{obj.__qualname__}.{name}")


class _Sink:
    """Accepts any use (append, register, call, iteration) and does nothing."""

    def __getattr__(self, name: str) -> _Sink:
        return self

    def __call__(self, *args: object, **kwargs: object) -> None:
        return None

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0


# The options of the magics whose statement still runs (`%timeit -n 1 -r 1 x = f()`): letters that
# take a value, and flags, as IPython's own option specs give them.
_MAGIC_OPTIONS = {"timeit": re.compile(r"\s*-(?:[nrp]\s*\S+|[tcqo]+)(?=\s)"),
                  "prun": re.compile(r"\s*-(?:[DlsT]\s*\S+|[rq]+)(?=\s)")}


def magic_statement(name: str, line: str) -> str:
    """The statement of a `%name line` magic, its leading options taken off."""
    options = _MAGIC_OPTIONS.get(name)
    while options is not None and (match := options.match(line)):
        line = line[match.end():]
    return line.strip()


_WRITEFILE = re.compile(r"\s*(?P<append>(?:-a|--append)\s+)?(?P<name>.*?)\s*", re.DOTALL)  # matches any line


def write_file(line: str, cell: str) -> None:
    """`%%writefile [-a] name`, as IPython runs it: the cell's text written to (or appended to)
    the file, and a line saying so. The file is written as the notebook's own code writes files:
    in the worker's working folder, with its limits, seen by the audit hook like any other."""
    match = _WRITEFILE.fullmatch(line)
    name, append = match["name"], bool(match["append"])
    if len(name) > 1 and name[0] == name[-1] and name[0] in "'\"":
        name = name[1:-1]
    name = os.path.expanduser(name)
    if os.path.exists(name):
        print(f"{'Appending to' if append else 'Overwriting'} {name}")
    else:
        print(f"Writing {name}")
    with open(name, "a" if append else "w", encoding="utf-8") as file:
        file.write(cell)


def run_script(line: str, run: Callable[[str, str, bool], None]) -> None:
    """`%run [-i] name.py [args]`, as IPython runs a Python file: its text read from the working
    folder, then `run(text, name, in_the_notebooks_namespace)` (`-i`; otherwise in a namespace of
    its own whose names then join the notebook's). Other options are taken as IPython's and left
    out; a notebook or a module name (`-m`) is not run."""
    words = shlex.split(line, posix=True)
    options = list(itertools.takewhile(lambda w: w.startswith("-"), words))
    rest = words[len(options):]
    if not rest or "-m" in options or not rest[0].endswith(".py"):
        return
    name = os.path.expanduser(rest[0])
    with open(name, encoding="utf-8") as file:
        text = file.read()
    saved, sys.argv = sys.argv, [name, *rest[1:]]
    try:
        run(text, name, "-i" in options)
    finally:
        sys.argv = saved


def _own_scope(source: str) -> str:
    """`source` as %timeit runs it: in a function of its own, so the names it assigns stay there."""
    return f"def _timeit_scope():\n{textwrap.indent(source, '    ')}\n    pass\n_timeit_scope()\ndel _timeit_scope\n"


class IPythonStub:
    """What get_ipython() returns in a worker: magics and shell commands do nothing, internals are recorded."""

    _RUN_BODY = ("time", "timeit", "capture", "prun")

    def __init__(self, record: Callable[[str], None], run_source: Callable[[str], None],
                 run_script: Callable[[str, str, bool], None]) -> None:
        object.__setattr__(self, "_record", record)
        object.__setattr__(self, "_run_source", run_source)
        object.__setattr__(self, "_run_script", run_script)

    def run_line_magic(
        self, name: str = "", line: str = "", *args: object, **kwargs: object
    ) -> None:
        # `%time x = f()` still defines x, as it would in Jupyter.
        statement = magic_statement(name, line)
        if name in self._RUN_BODY and statement.strip():
            self._run_source(_own_scope(statement) if name == "timeit" else statement)
        elif name == "run":  # a script the notebook wrote (%%writefile), as in Jupyter
            run_script(line, self._run_script)

    def run_cell_magic(
        self, name: str = "", line: str = "", cell: str = "", *args: object, **kwargs: object
    ) -> None:
        if name == "timeit":  # `%%timeit -n 1 setup`: the setup, then the cell
            self._run_source(_own_scope(f"{magic_statement(name, line)}\n{cell}"))
        elif name in self._RUN_BODY:
            self._run_source(cell)
        elif name == "writefile":  # a helper module the notebook imports later, as in Jupyter
            write_file(line, cell)

    def system(self, *args: object, **kwargs: object) -> None:
        return None

    def getoutput(self, *args: object, **kwargs: object) -> None:
        return None

    def magic(self, *args: object, **kwargs: object) -> None:
        return None

    def __getattr__(self, name: str) -> _Sink:
        self._record(f"used get_ipython().{name}")
        return _Sink()

    def __setattr__(self, name: str, value: object) -> None:
        self._record(f"used get_ipython().{name}")
