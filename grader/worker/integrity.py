"""The worker's grading machinery as memory the judge can re-read from outside the worker.

Before any student code runs, the worker lists where its machinery lives: each namespace
(module, class, builtins) with the entries it must keep, each function's code and defaults,
the fixed attributes of its cell runner and evidence collectors. A forked worker shares the
warm parent's layout, so those addresses stay valid; the judge reads them through
/proc/<pid>/mem, which student code cannot intercept, and any entry that no longer holds the
object it held is a change to the machinery (CPython 3.11+ on 64-bit Linux; elsewhere the
manifest says it is unsupported and nothing is compared).
"""

from __future__ import annotations

import array
import copyreg
import ctypes
import functools
import gc
import hashlib
import itertools
import json
import operator
import os
import struct
import sys
import types
from collections.abc import Iterable

__all__ = ["prepare_manifest", "machinery_manifest", "machinery_checks", "changed_machinery", "MachineryCheck", "MemoryReader",
           "read_entries", "read_headers", "read_tables"]

_PTR = 8
_DICT_HEADER = 48  # refcnt, type, ma_used, ma_version_tag, ma_keys, ma_values
_KEYS_HEADER = 32  # refcnt, log2_size, log2_index_bytes, kind, pad, version, usable, nentries
_FUNCTION_FIELDS = (16, 64)  # globals, builtins, name, qualname, code, defaults, kwdefaults, closure
_MAX_KEYS_BYTES = 4 << 20
_VERSION_OFFSET = 24  # ma_version_tag: changes whenever an entry is set or deleted
# Machinery a probe or the evidence runs through; the packages' own dicts grow when a submodule
# is first imported, so their size is not held (their entries are).
_MACHINERY = ("grader.",)
# Libraries a reply is made with: the autograd engine the probes run, the figure and line
# methods the value encoding reads, JSON and sockets. Of the first group's modules, every
# entry the kit's own code names is held (torch itself rebinds others in use: torch.func
# replaces torch.manual_seed, set_default_dtype torch.Storage); of the second group's, every
# entry, and of the classes named, every entry and every name they inherit. A module may gain
# names (a lazy import adds its submodules), a class may gain new ones.
_LIBRARY_MODULES = ("torch", "torch.overrides", "torch.functional", "numpy")
_LIBRARY_CLASSES = {
    "torch._tensor": ("Tensor",),
    "torch.autograd": (),
    "torch.autograd.function": ("Function", "FunctionCtx", "_SingleLevelFunction", "BackwardCFunction"),
    "torch.autograd.graph": (),
    "torch.autograd.grad_mode": ("no_grad", "enable_grad", "set_grad_enabled"),
    "torch.autograd.variable": (),
    "json": (), "json.encoder": ("JSONEncoder",), "json.decoder": ("JSONDecoder",), "json.scanner": (),
    "socket": ("socket",), "_socket": ("socket",),
    "matplotlib.figure": ("Figure", "FigureBase"),
    "matplotlib.axes._base": ("_AxesBase",),
    "matplotlib.axes._axes": ("Axes",),
    "matplotlib.artist": ("Artist",),
    "matplotlib.lines": ("Line2D",),
    "matplotlib.legend": ("Legend",),
    "matplotlib.text": ("Text",),
    "matplotlib.axis": ("Axis", "XAxis", "YAxis"),
    "matplotlib.cbook": (),
}
_FIXED_SLOTS = {
    "CellRunner": ("audit", "patches", "builtins", "module", "namespace"),
    "AuditRecorder": ("workdir",),
    "PatchWatch": ("_modules", "_labels", "_seen"),
    "BuiltinsGuard": ("_namespace", "pristine", "overrides"),
}


# CPython clears a function's version tag whenever its __code__, __defaults__ or __kwdefaults__
# is set, and never sets it back: a function of the machinery tagged before any fork that has
# lost its tag was rewritten, even if what it held was put back afterwards.
_FUNCTION_VERSION = 128  # func_version, a uint32 after the vectorcall pointer
_TAGS = itertools.count(0xC0000000)  # far above the interpreter's own counter, so never shared


def _own_memory(address: int, size: int) -> bytes:
    return ctypes.string_at(address, size)


def _tag(function: types.FunctionType) -> None:
    """Give a function a version tag of its own if it has none (the interpreter gives one only
    to functions its specialiser has met)."""
    version = ctypes.c_uint32.from_address(id(function) + _FUNCTION_VERSION)
    if version.value == 0:
        version.value = next(_TAGS)


def _versions_understood() -> bool:
    """Whether setting a function's code clears the tag where this module reads it."""
    if sys.version_info[:2] != (3, 11) or types.FunctionType.__basicsize__ < _FUNCTION_VERSION + 4:
        return False

    def scratch() -> None:
        return None

    _tag(scratch)
    scratch.__code__ = scratch.__code__
    return ctypes.c_uint32.from_address(id(scratch) + _FUNCTION_VERSION).value == 0


_VERSIONED_FUNCTIONS = sys.implementation.name == "cpython" and _versions_understood()


class _OwnMemory:
    """This process's memory, for checking a manifest where it is made."""

    def many(self, requests: list[tuple[int, int]]) -> list[bytes | None]:
        return [_own_memory(address, size) for address, size in requests]


class _Iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("length", ctypes.c_size_t)]


_IOV_MAX = 1024


_vm_readv = getattr(ctypes.CDLL(None, use_errno=True), "process_vm_readv", None)


class MemoryReader:
    """Reads another process's memory (the judge's side): many pieces per process_vm_readv
    call, or one pread of /proc/<pid>/mem each where that call is refused."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._file = open(f"/proc/{pid}/mem", "rb", buffering=0)  # noqa: SIM115 -- closed by close()
        self._vm_readv = _vm_readv
        self._fixed: dict[int, FixedReads] = {}

    def many(self, requests: list[tuple[int, int]]) -> list[bytes | None]:
        """The bytes at each (address, size); None for a piece that cannot be read whole."""
        found: list[bytes | None] = []
        for first in range(0, len(requests), _IOV_MAX):
            batch = requests[first:first + _IOV_MAX]
            found += self._batch(batch) or [self._pread(address, size) for address, size in batch]
        return found

    def _batch(self, batch: list[tuple[int, int]]) -> list[bytes] | None:
        if self._vm_readv is None or not batch:
            return None
        # one local buffer for the whole batch, and both iovec arrays packed in one go: a ctypes
        # object per piece cost more than the read itself
        sizes = [size for _, size in batch]
        offsets = list(itertools.accumulate(sizes, initial=0))
        buffer = ctypes.create_string_buffer(offsets[-1] or 1)
        base = ctypes.addressof(buffer)
        local = array.array("Q", [n for offset, size in zip(offsets[:-1], sizes, strict=True) for n in (base + offset, size)])
        remote = array.array("Q", [n for piece in batch for n in piece])
        count = len(batch)
        total = self._vm_readv(self.pid, (_Iovec * count).from_buffer(local), count,
                               (_Iovec * count).from_buffer(remote), count, 0)
        if total != offsets[-1]:
            return None  # some piece failed: read them one by one to tell which
        raw = buffer.raw
        return [raw[offset:offset + size] for offset, size in zip(offsets[:-1], sizes, strict=True)]

    def _pread(self, address: int, size: int) -> bytes | None:
        try:
            data = os.pread(self._file.fileno(), size, address)
        except OSError:
            return None
        return data if len(data) == size else None

    def fixed(self, requests: list[tuple[int, int]]) -> FixedReads:
        """A reading of these same pieces that can be made again and again, cheaply."""
        key = id(requests)
        found = self._fixed.get(key)
        if found is None or found.requests is not requests:
            found = self._fixed[key] = FixedReads(self.pid, requests)
        return found

    def close(self) -> None:
        self._file.close()


class FixedReads:
    """The same pieces of another process's memory, read as often as needed: the buffer and both
    iovec arrays are made once, so each reading is one process_vm_readv call and no Python
    object per piece (a look before every probe must cost microseconds)."""

    def __init__(self, pid: int, requests: list[tuple[int, int]]) -> None:
        self.pid, self.requests = pid, requests
        sizes = [size for _, size in requests]
        self.offsets = list(itertools.accumulate(sizes, initial=0))
        self.total, self.count = self.offsets[-1], len(requests)
        # whole 8-byte words (the tail past `total` stays zero), so `words` can view it as such
        self._buffer = ctypes.create_string_buffer(max(8, -(-self.total // 8) * 8))
        base = ctypes.addressof(self._buffer)
        self._local_words = array.array("Q", [n for offset, size in zip(self.offsets, sizes, strict=False)
                                              for n in (base + offset, size)])
        self._remote_words = array.array("Q", [n for piece in requests for n in piece])
        usable = _vm_readv is not None and 0 < self.count <= _IOV_MAX
        self._local = (_Iovec * self.count).from_buffer(self._local_words) if usable else None
        self._remote = (_Iovec * self.count).from_buffer(self._remote_words) if usable else None

    def fresh(self) -> bool:
        """Read every piece again into the buffer; False when any cannot be read whole."""
        if self._local is None:
            return False
        return _vm_readv(self.pid, self._local, self.count, self._remote, self.count, 0) == self.total

    def read(self) -> bytes | None:
        """Every piece, one after the other; None when any cannot be read whole."""
        return self.held() if self.fresh() else None

    def held(self) -> bytes:
        """What the last reading put in the buffer, as bytes."""
        return self._buffer.raw[:self.total]

    def words(self):
        """The buffer as a numpy array of 8-byte words, with no copy: what the next `fresh` reads."""
        import numpy

        return numpy.frombuffer(self._buffer, dtype=numpy.uint64)


def _fixed(reader, requests: list[tuple[int, int]]) -> bytes | None:
    fixed = _fixed_reads(reader, requests)
    return fixed.read() if fixed is not None else None


def _fixed_reads(reader, requests: list[tuple[int, int]]) -> FixedReads | None:
    fixed = getattr(reader, "fixed", None)
    return fixed(requests) if fixed is not None and requests else None


def read_tables(reader, addresses: list[int], versions: list[int | None] | None = None) -> list:
    """(entries in use, raw entry table, entry width) of each combined-table dict, or why it
    cannot be read, or None for a dict still at its version in `versions` (none of its
    entries has been set or deleted since); three rounds of reads whatever the number of dicts."""
    keys = read_headers(reader, addresses)
    if versions is not None:
        keys = [None if type(k) is tuple and k[3] == v else k for k, v in zip(keys, versions, strict=True)]
    return read_entries(reader, keys)


def read_headers(reader, addresses: list[int]) -> list:
    """Each dict's header as (keys address, keys header size, entries in use, version), or why
    it cannot be read."""
    return [_keys_of(header) for header in reader.many([(address, _DICT_HEADER) for address in addresses])]


def read_entries(reader, keys: list) -> list:
    """The entry tables of the dicts whose headers `keys` holds (None or a reason passes through)."""
    keys_headers = iter(reader.many([k[0:2] for k in keys if type(k) is tuple]))
    found = [_table_of(k, next(keys_headers)) if type(k) is tuple else k for k in keys]
    tables = iter(reader.many([t[:2] for t in found if type(t) is tuple]))
    return [_with_data(t, next(tables)) if type(t) is tuple else t for t in found]


def _keys_of(header: bytes | None) -> tuple | str:
    if header is None:
        return "unreadable"
    _, _, used, version, keys, values = struct.unpack("<qQqQQQ", header)
    return "split-table dict" if values else (keys, _KEYS_HEADER, used, version)


def _table_of(keys: tuple, header: bytes | None) -> tuple | str:
    if header is None:
        return "unreadable keys"
    _, _, log2_index, kind, _, _, _, entries = struct.unpack("<qBBBBIqq", header)
    width = 16 if kind else 24  # unicode-keyed entries hold no hash
    if (1 << log2_index) + entries * width > _MAX_KEYS_BYTES or entries < 0:
        return "implausible dict"
    return keys[0] + _KEYS_HEADER + (1 << log2_index), entries * width, width, keys[2]


def _with_data(table: tuple, data: bytes | None) -> tuple[int, bytes, int] | str:
    return "unreadable entries" if data is None else (table[3], data, table[2])


def _holds(data: bytes, width: int, key: int, value: int) -> bool:
    """Whether the entry table maps key to value (value 0: has any entry for key)."""
    wanted = struct.pack("<QQ", key, value) if value else struct.pack("<Q", key)
    at = data.find(wanted)
    while at >= 0 and at % width != width - 16:  # only where an entry's key sits
        at = data.find(wanted, at + 1)
    return at >= 0


def _pairs(data: bytes, width: int) -> set[tuple[int, int]]:
    """The (key, value) addresses an entry table holds."""
    words = memoryview(data).cast("Q")
    step = width // _PTR  # (key, value) or (hash, key, value)
    return set(zip(words[step - 2::step], words[step - 1::step], strict=True))


# ---------------------------------------------------------------- the worker's side


def _real_dict(namespace: object) -> dict | None:
    if type(namespace) is dict:
        return namespace
    if isinstance(namespace, types.MappingProxyType):  # a class's __dict__
        inner = [r for r in gc.get_referents(namespace) if type(r) is dict]
        return inner[0] if len(inner) == 1 else None
    return None


class _Manifest:
    def __init__(self) -> None:
        self.namespaces: list[dict] = []
        self.regions: list[dict] = []
        self._seen: set[int] = set()

    def namespace(self, label: str, mapping: object, names: Iterable[str] | None, *, sized: bool,
                  whole: bool | None = None) -> None:
        """List a namespace's entries (`names`, or all of them), and whether it is listed `whole`
        (every entry held; by default, when no names are given): a whole one may not be written at all."""
        real = _real_dict(mapping)
        if real is None or id(real) in self._seen:
            return
        self._seen.add(id(real))
        wanted = [k for k in real if type(k) is str and (names is None or k in names)]
        # A watched name the namespace lacks (an inherited method) must stay absent: setattr
        # would add it under the interned string, so that is the key to look for.
        absent = [sys.intern(n) for n in sorted(names or ()) if n not in real]
        version = struct.unpack("<Q", _own_memory(id(real) + _VERSION_OFFSET, _PTR))[0]
        self.namespaces.append({
            "label": label, "address": id(real), "size": len(real) if sized else None, "version": version,
            "sealed": names is None if whole is None else whole,
            "entries": [[id(k), id(real[k]), k] for k in wanted] + [[id(n), 0, n] for n in absent],
        })
        for name in wanted:
            self._callable(f"{label}.{name}", real[name])

    def region(self, label: str, address: int, size: int) -> None:
        self.regions.append({"label": label, "address": address,
                             "bytes": _own_memory(address, size).hex()})

    def _callable(self, label: str, value: object) -> None:
        for inner in (value, getattr(value, "__func__", None), getattr(value, "fget", None)):
            if type(inner) is types.FunctionType and id(inner) not in self._seen:
                self._seen.add(id(inner))
                self.region(label, id(inner) + _FUNCTION_FIELDS[0], _FUNCTION_FIELDS[1])
                if _VERSIONED_FUNCTIONS:
                    _tag(inner)
                    self.region(f"{label} (its code or defaults, set even if set back)",
                                id(inner) + _FUNCTION_VERSION, 4)

    def slots(self, label: str, obj: object, names: tuple[str, ...]) -> None:
        """The type of `obj` and each named attribute that holds a distinct object for good."""
        self.region(f"{label}.__class__", id(obj) + _PTR, _PTR)
        size = type(obj).__basicsize__
        words = struct.unpack(f"<{size // _PTR}Q", _own_memory(id(obj), size - size % _PTR))
        for name in names:
            target = id(getattr(obj, name))
            offsets = [i * _PTR for i, word in enumerate(words) if word == target and i >= 2]
            if len(offsets) == 1:
                self.region(f"{label}.{name}", id(obj) + offsets[0], _PTR)


def _machinery_modules() -> list[tuple[str, types.ModuleType]]:
    return sorted((name, module) for name, module in list(sys.modules.items())
                  if name.startswith(_MACHINERY) and isinstance(module, types.ModuleType))


# The kit's and libraries' part, made once in the warm parent (a dict's content, not a global
# rebound, so the namespace it is listed in stays as listed).
_PREPARED: dict[str, dict] = {}


def prepare_manifest(watched: tuple[str, ...]) -> dict:
    """The namespaces and functions part of the manifest, checked against this process's memory.

    Called in the warm parent before any fork: every worker shares these addresses, so each
    only adds its own cell runner (see machinery_manifest).
    """
    if sys.implementation.name != "cpython" or sys.version_info < (3, 11) or ctypes.sizeof(ctypes.c_void_p) != _PTR:
        _PREPARED["manifest"] = {"unsupported": f"{sys.implementation.name} {sys.version_info[:2]}"}
        return _PREPARED["manifest"]
    _make_warning_registries([module for _, module in _machinery_modules()]
                             + [sys.modules.get(name) for name in _LIBRARY_CLASSES])
    manifest = _Manifest()
    for name, module in _machinery_modules():
        manifest.namespace(name, vars(module), None, sized=not hasattr(module, "__path__"))
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__ == name:
                manifest.namespace(f"{name}.{value.__qualname__}", value.__dict__, None, sized=True)
    used = _names_used(module for _, module in _machinery_modules())
    for name in _LIBRARY_MODULES:
        module = sys.modules.get(name)
        if isinstance(module, types.ModuleType):
            manifest.namespace(name, vars(module), used & set(vars(module)), sized=False)
    for name, classes in _LIBRARY_CLASSES.items():
        module = sys.modules.get(name)
        if isinstance(module, types.ModuleType):
            _library_namespaces(manifest, name, module, classes)
    _watched_namespaces(manifest, watched)
    prepared = {"namespaces": manifest.namespaces, "regions": manifest.regions}
    problems = changed_machinery(prepared, _OwnMemory())
    _PREPARED["manifest"] = {"unsupported": f"layout not understood ({problems[0]})"} if problems else prepared
    # Encoded once here, and sent to the judge once, in the warm parent's "ready": a worker that
    # encoded the lists itself would touch thousands of shared objects (copying their pages)
    # before its first cell, and one that sent them would add some 170 KB to every hello.
    _PREPARED["encoded"] = json.dumps(_PREPARED["manifest"])
    _PREPARED["digest"] = hashlib.sha256(_PREPARED["encoded"].encode()).hexdigest()
    return _PREPARED["manifest"]


def _make_warning_registries(modules: Iterable[object]) -> None:
    """Give each module listed whole its `__warningregistry__` now. Python stores it in a module's
    namespace at the first warning raised from that module's code (torch warns from
    torch.autograd.graph at every backward(create_graph=True)): made before the listing, an
    honest warning writes nothing to a namespace that may not be written at all."""
    for module in modules:
        if isinstance(module, types.ModuleType):
            vars(module).setdefault("__warningregistry__", {})


def prepared_manifest() -> str | None:
    """The warm parent's part of every worker's manifest, as JSON text (None before it is made)."""
    return _PREPARED.get("encoded")


def machinery_manifest(runner: object, run_probe: object, watched: tuple[str, ...]) -> dict:
    """Where the worker's machinery lives, for the judge to re-read later; call before student code.

    The warm parent's part is named by its digest: the judge has its text from the warm
    parent's "ready" (see `machinery_checks`).
    """
    prepared = _PREPARED.get("manifest") or prepare_manifest(watched)
    if "unsupported" in prepared:
        return prepared
    manifest = _Manifest()
    if isinstance(run_probe, functools.partial):
        manifest.region("run_probe", id(run_probe) + _PTR, 4 * _PTR)  # type, func, args, keywords
    for owner, obj in _collectors(runner):
        manifest.slots(owner, obj, _FIXED_SLOTS.get(type(obj).__name__, ()))
    return {"prepared": _PREPARED["digest"], "regions": manifest.regions}


def _collectors(runner: object) -> list[tuple[str, object]]:
    found = [("the cell runner", runner)]
    for name in ("audit", "patches", "builtins"):
        part = getattr(runner, name, None)
        if part is not None:
            found.append((f"the cell runner's {name}", part))
    return found


def _names_used(modules: Iterable[types.ModuleType]) -> set[str]:
    """Every name the functions and methods of these modules look up (globals and attributes)."""
    names: set[str] = set()
    codes = []
    for module in modules:
        for value in list(vars(module).values()):
            members = list(vars(value).values()) if isinstance(value, type) and value.__module__ == module.__name__ else [value]
            for member in members:
                for inner in (member, getattr(member, "__func__", None), getattr(member, "fget", None)):
                    if isinstance(inner, types.FunctionType):
                        codes.append(inner.__code__)
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


def _library_namespaces(manifest: _Manifest, name: str, module: types.ModuleType, classes: tuple[str, ...]) -> None:
    """Every entry of a library module, and of each of the named classes it defines: its own
    entries and the names it inherits (which it must go on inheriting)."""
    manifest.namespace(name, vars(module), None, sized=False)
    for class_name in classes:
        value = vars(module).get(class_name)
        if isinstance(value, type):
            # pickling a first instance (torch.save, say) caches the class's slot names in its
            # dict: cached here, before the dict is watched whole, so honest pickling writes nothing
            copyreg._slotnames(value)
            inherited = set(type.__dir__(value)) | set(value.__dict__)
            manifest.namespace(f"{name}.{class_name}", value.__dict__, inherited, sized=False, whole=True)


def _watched_namespaces(manifest: _Manifest, watched: tuple[str, ...]) -> None:
    """The namespaces holding the watched library functions, with just those entries."""
    by_owner: dict[str, set[str]] = {}
    for label in watched:
        owner, _, name = label.rpartition(".")
        by_owner.setdefault(owner, set()).add(name)
    for owner, names in by_owner.items():
        head, *rest = owner.split(".")
        obj = sys.modules.get(head)
        for part in rest:
            obj = (obj.__dict__ if isinstance(obj, type) else vars(obj)).get(part) if obj is not None else None
        if obj is not None:
            manifest.namespace(owner, obj.__dict__ if isinstance(obj, type) else vars(obj), names, sized=False)


# ---------------------------------------------------------------- the judge's side

_first = operator.itemgetter(0)


class MachineryCheck:
    """A manifest made ready for repeated comparison (spans and expected bytes worked out once)."""

    def __init__(self, manifest: dict) -> None:
        self.spaces = manifest.get("namespaces", [])
        # What each namespace must hold, and the keys it must not (watched names it lacked).
        self.held = [frozenset((k, v) for k, v, _ in space["entries"] if v) for space in self.spaces]
        self.absent = [frozenset(k for k, v, _ in space["entries"] if not v) for space in self.spaces]
        self.spans = [(start, size, [(r["address"] - start, bytes.fromhex(r["bytes"]), r["label"]) for r in members])
                      for start, size, members in _spans(manifest.get("regions", []))]
        # each span's regions cut out and compared in one C call each: the common case, all intact
        self.cuts = [operator.itemgetter(*(slice(o, o + len(b)) for o, b, _ in regions), slice(0, 0))
                     for _, _, regions in self.spans]
        self.intact = [(*(b for _, b, _ in regions), b"") for _, _, regions in self.spans]
        # what each look reads, in one call each when the reader can (see FixedReads)
        self.header_requests = [(space["address"], _DICT_HEADER) for space in self.spaces]
        self.versions = [space.get("version") for space in self.spaces]
        self.span_requests = [span[:2] for span in self.spans]
        self._masked = self._scratch = None  # made at the first look (see _spans_intact)
        # Each namespace's entry table as a look last found it holding every entry (a table read
        # again with the same bytes needs no comparing). The warm parent's part is shared by its
        # workers, whose tables start as its own.
        self._intact_tables: dict[int, bytes] = {}

    def changes(self, reader, *, quick: bool = False) -> list[str]:
        """What no longer holds what it held when the manifest was made (empty when all is intact).

        `reader.many([(address, size), ...])` gives the bytes at each place (None if unreadable).
        `quick` skips the entries of a namespace whose dict version is still the manifest's: any
        setattr or del changes it, only a raw write into its memory does not.
        """
        changed: list[str] = []
        headers = _fixed(reader, self.header_requests)
        if quick and headers is not None and list(memoryview(headers).cast("Q")[3::6]) == self.versions:
            return changed + self._region_changes(reader)  # no namespace written since the manifest
        if headers is None:
            keys = read_headers(reader, [space["address"] for space in self.spaces])
        else:
            keys = [_keys_of(headers[at:at + _DICT_HEADER]) for at in range(0, len(headers), _DICT_HEADER)]
        moved = [type(k) is tuple and k[3] != space.get("version") for k, space in zip(keys, self.spaces, strict=True)]
        # A namespace listed whole never changes in an honest worker: any write to it, even one
        # undone before this look, moved its version (a global counter that never runs back).
        changed += [f"{space['label']} (written to, even if set back)"
                    for space, written in zip(self.spaces, moved, strict=True) if written and space.get("sealed")]
        if quick:
            keys = [k if written else None for k, written in zip(keys, moved, strict=True)]
        tables = read_entries(reader, keys)
        for at, (space, held, absent, table) in enumerate(zip(self.spaces, self.held, self.absent, tables, strict=True)):
            if table is None:
                continue
            if type(table) is str:
                changed.append(f"{space['label']} (unreadable: {table})")
                continue
            used, data, width = table
            if space["size"] is not None and used != space["size"]:
                changed.append(f"{space['label']} (names added or removed)")
            if self._intact_tables.get(at) == data:
                continue  # the very bytes a look found holding every entry: nothing to compare again
            found = len(changed)
            if 8 * len(space["entries"]) < len(data) // width:  # a few names of a library's namespace
                changed += [f"{space['label']}.{name}" for key, value, name in space["entries"]
                            if _holds(data, width, key, value) != bool(value)]
            else:
                pairs = _pairs(data, width)
                if not held <= pairs or (absent and not absent.isdisjoint(map(_first, pairs))):
                    keys = {key for key, _ in pairs}
                    changed += [f"{space['label']}.{name}" for key, value, name in space["entries"]
                                if ((key, value) not in pairs if value else key in keys)]
            if len(changed) == found:
                self._intact_tables[at] = data
        return changed + self._region_changes(reader)

    def _region_changes(self, reader) -> list[str]:
        fixed = _fixed_reads(reader, self.span_requests)
        whole = None
        if fixed is not None and fixed.fresh():
            if self._spans_intact(fixed.words()):
                return []  # the common case: a few numpy calls over the spans, no bytes object per region
            whole = fixed.held()
        if whole is None:
            memories = reader.many(self.span_requests)
        else:
            offsets = itertools.accumulate((size for _, size in self.span_requests), initial=0)
            memories = [whole[at:at + size] for at, (_, size) in zip(offsets, self.span_requests, strict=False)]
        changed = []
        for (_, _, regions), cut, intact, memory in zip(self.spans, self.cuts, self.intact, memories, strict=True):
            if memory is None or cut(memory) != intact:
                changed += [label for offset, expected, label in regions
                            if (memory or b"")[offset:offset + len(expected)] != expected]
        return changed

    def _spans_intact(self, words) -> bool:
        """Whether every region holds its bytes, given the spans as read, as 8-byte words: the bytes
        between regions (other objects' reference counts) are masked out, the rest compared at once."""
        import numpy

        if self._masked is None:
            expected, mask = bytearray(len(words) * 8), bytearray(len(words) * 8)
            at = 0
            for _, size, regions in self.spans:
                for offset, data, _ in regions:
                    expected[at + offset:at + offset + len(data)] = data
                    mask[at + offset:at + offset + len(data)] = b"\xff" * len(data)
                at += size
            self._masked = tuple(numpy.frombuffer(bytes(b), dtype=numpy.uint64).copy() for b in (expected, mask))
            self._scratch = (numpy.empty(len(words), dtype=numpy.uint64), numpy.empty(len(words), dtype=bool))
        expected, mask = self._masked
        if len(words) != len(expected):
            return False
        masked, differs = self._scratch
        numpy.bitwise_and(words, mask, out=masked)
        numpy.not_equal(masked, expected, out=differs)
        return not differs.any()


def machinery_checks(manifest: object, prepared: str | None) -> list[MachineryCheck] | None:
    """The checks for a worker's manifest (None when missing or unsupported): the warm parent's
    part (`prepared`, the text its "ready" carried, which the worker's manifest names by digest),
    made ready once for every worker it forks, and the worker's own regions."""
    if not isinstance(manifest, dict) or "unsupported" in manifest or not isinstance(prepared, str):
        return None
    try:
        check = _prepared_check(prepared)
        if manifest["prepared"] != check[0]:
            return None
        return [check[1], MachineryCheck({"regions": manifest["regions"]})]
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


@functools.lru_cache(maxsize=4)
def _prepared_check(encoded: str) -> tuple[str, MachineryCheck]:
    return hashlib.sha256(encoded.encode()).hexdigest(), MachineryCheck(json.loads(encoded))


def changed_machinery(manifest: dict, reader) -> list[str]:
    """What of `manifest` no longer holds what it held (see MachineryCheck)."""
    return MachineryCheck(manifest).changes(reader)


def _spans(regions: list[dict], gap: int = 4096) -> list[tuple[int, int, list[dict]]]:
    """Regions grouped into spans read at once: functions of a module often lie close together."""
    spans: list[tuple[int, int, list[dict]]] = []
    for region in sorted(regions, key=lambda r: r["address"]):
        start, end = region["address"], region["address"] + len(region["bytes"]) // 2
        if spans and start - (spans[-1][0] + spans[-1][1]) <= gap and end - spans[-1][0] <= 16 * gap:
            first, _, members = spans[-1]
            spans[-1] = (first, max(spans[-1][1], end - first), [*members, region])
        else:
            spans.append((start, end - start, [region]))
    return spans
