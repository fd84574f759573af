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

import ctypes
import functools
import gc
import struct
import sys
import types
from collections.abc import Callable, Iterable

__all__ = ["prepare_manifest", "machinery_manifest", "changed_machinery", "MemoryReader", "read_dict"]

Reader = Callable[[int, int], bytes]
_PTR = 8
_DICT_HEADER = 48  # refcnt, type, ma_used, ma_version_tag, ma_keys, ma_values
_KEYS_HEADER = 32  # refcnt, log2_size, log2_index_bytes, kind, pad, version, usable, nentries
_FUNCTION_FIELDS = (16, 64)  # globals, builtins, name, qualname, code, defaults, kwdefaults, closure
_MAX_KEYS_BYTES = 4 << 20
# Machinery a probe or the evidence runs through; the packages' own dicts grow when a submodule
# is first imported, so their size is not held (their entries are).
_MACHINERY = ("grader.",)
_FIXED_SLOTS = {
    "CellRunner": ("audit", "patches", "builtins", "module", "namespace"),
    "AuditRecorder": ("workdir",),
    "PatchWatch": ("_modules", "_labels", "_seen"),
    "BuiltinsGuard": ("_namespace", "pristine", "overrides"),
}


def _own_memory(address: int, size: int) -> bytes:
    return ctypes.string_at(address, size)


class MemoryReader:
    """Reads another process's memory through /proc/<pid>/mem (the judge's side)."""

    def __init__(self, pid: int) -> None:
        self._file = open(f"/proc/{pid}/mem", "rb", buffering=0)  # noqa: SIM115 -- closed by close()

    def __call__(self, address: int, size: int) -> bytes:
        import os

        data = os.pread(self._file.fileno(), size, address)
        if len(data) != size:
            raise OSError("short read")
        return data

    def close(self) -> None:
        self._file.close()


def read_dict(read: Reader, address: int) -> dict[int, int]:
    """{key address: value address} of a combined-table dict, read through `read`."""
    _, kind_ptr, used, _, keys, values = struct.unpack("<qQqQQQ", read(address, _DICT_HEADER))
    if values:
        raise ValueError("split-table dict")
    _, log2_size, log2_index, kind, _, _, _, entries = struct.unpack(
        "<qBBBBIqq", read(keys, _KEYS_HEADER))
    width = 16 if kind else 24  # unicode-keyed entries hold no hash
    span = (1 << log2_index) + entries * width
    if span > _MAX_KEYS_BYTES or entries < 0:
        raise ValueError("implausible dict")
    words = memoryview(read(keys + _KEYS_HEADER + (1 << log2_index), entries * width)).cast("Q")
    step = width // _PTR  # (key, value) or (hash, key, value)
    found = dict(zip(words[step - 2::step], words[step - 1::step], strict=True))
    found.pop(0, None)  # deleted entries
    if len(found) != used:
        raise ValueError("dict entries do not add up")
    return found


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

    def namespace(self, label: str, mapping: object, names: Iterable[str] | None, *, sized: bool) -> None:
        real = _real_dict(mapping)
        if real is None or id(real) in self._seen:
            return
        self._seen.add(id(real))
        wanted = [k for k in real if type(k) is str and (names is None or k in names)]
        # A watched name the namespace lacks (an inherited method) must stay absent: setattr
        # would add it under the interned string, so that is the key to look for.
        absent = [sys.intern(n) for n in sorted(names or ()) if n not in real]
        self.namespaces.append({
            "label": label, "address": id(real), "size": len(real) if sized else None,
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
    manifest = _Manifest()
    for name, module in _machinery_modules():
        manifest.namespace(name, vars(module), None, sized=not hasattr(module, "__path__"))
        for value in list(vars(module).values()):
            if isinstance(value, type) and value.__module__ == name:
                manifest.namespace(f"{name}.{value.__qualname__}", value.__dict__, None, sized=True)
    _watched_namespaces(manifest, watched)
    prepared = {"namespaces": manifest.namespaces, "regions": manifest.regions}
    problems = changed_machinery(prepared, _own_memory)
    _PREPARED["manifest"] = {"unsupported": f"layout not understood ({problems[0]})"} if problems else prepared
    return _PREPARED["manifest"]


def machinery_manifest(runner: object, run_probe: object, watched: tuple[str, ...]) -> dict:
    """Where the worker's machinery lives, for the judge to re-read later; call before student code."""
    prepared = _PREPARED.get("manifest") or prepare_manifest(watched)
    if "unsupported" in prepared:
        return prepared
    manifest = _Manifest()
    if isinstance(run_probe, functools.partial):
        manifest.region("run_probe", id(run_probe) + _PTR, 4 * _PTR)  # type, func, args, keywords
    for owner, obj in _collectors(runner):
        manifest.slots(owner, obj, _FIXED_SLOTS.get(type(obj).__name__, ()))
    return {"namespaces": prepared["namespaces"], "regions": prepared["regions"] + manifest.regions}


def _collectors(runner: object) -> list[tuple[str, object]]:
    found = [("the cell runner", runner)]
    for name in ("audit", "patches", "builtins"):
        part = getattr(runner, name, None)
        if part is not None:
            found.append((f"the cell runner's {name}", part))
    return found


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


def changed_machinery(manifest: dict, read: Reader) -> list[str]:
    """What no longer holds what it held when the manifest was made (empty when all is intact)."""
    changed = []
    for space in manifest.get("namespaces", []):
        try:
            now = read_dict(read, space["address"])
        except (OSError, ValueError, struct.error) as exc:
            changed.append(f"{space['label']} (unreadable: {exc})")
            continue
        for key, value, name in space["entries"]:
            if now.get(key, 0) != value:
                changed.append(f"{space['label']}.{name}")
        if space["size"] is not None and len(now) != space["size"]:
            changed.append(f"{space['label']} (names added or removed)")
    for span_start, span, regions in _spans(manifest.get("regions", [])):
        try:
            memory = read(span_start, span)
        except OSError:
            memory = b""
        for region in regions:
            expected = bytes.fromhex(region["bytes"])
            offset = region["address"] - span_start
            if memory[offset:offset + len(expected)] != expected:
                changed.append(region["label"])
    return changed


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
