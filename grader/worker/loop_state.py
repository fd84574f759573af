"""Where the worker's request loop waits for the judge: described by the worker before any student
code runs, and checked by the judge from outside (through /proc) before it trusts a reply.

A reply counts only when, once it has arrived, the worker's one thread waits in the loop's own
receive call, called from the loop's own frame, the frame the worker described before its first
cell, holding the objects it held then. Code that took the loop over from inside a call (the
loop's functions called again from student code), a thread that answered in its place, or a
worker that stopped somewhere else after replying, leaves that thread anywhere but there.
CPython 3.11 on 64-bit Linux; elsewhere the description says the layout is unsupported.
"""

from __future__ import annotations

import ctypes
import struct
import sys
import types

__all__ = ["LoopCheck", "describe_loop"]

_PTR = 8
# CPython 3.11's layout: PyThreadState.cframe, then .c_profilefunc and .c_tracefunc;
# _PyCFrame.current_frame; _PyInterpreterFrame.f_code, .previous and .localsplus;
# PyFrameObject.f_frame.
_THREAD_CFRAME = 56
_CFRAME_CURRENT = 8
_FRAME_CODE, _FRAME_PREVIOUS, _FRAME_LOCALS = 32, 48, 72
_FRAME_OBJECT_FRAME = 24


def _word(address: int) -> int:
    # a C read: no Python frame of its own becomes the current frame while it reads
    return ctypes.c_uint64.from_address(address).value


def _thread_state() -> int:
    get = ctypes.pythonapi.PyThreadState_Get
    get.restype = ctypes.c_void_p
    return get()


def describe_loop(loop: types.FrameType, waits_in: tuple[types.CodeType, ...], held: dict[str, object]) -> dict:
    """The loop's frame `loop` (the caller's), the code of the calls it waits in when idle
    (innermost first), and the locals in `held` that must keep holding their objects; or
    {"unsupported": why}. Call it from the loop's own frame before any student code runs."""
    if sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11) or ctypes.sizeof(ctypes.c_void_p) != _PTR:
        return {"unsupported": f"{sys.implementation.name} {sys.version_info[:2]}"}
    thread = _thread_state()
    cframe = _word(thread + _THREAD_CFRAME)
    here = _word(id(sys._getframe()) + _FRAME_OBJECT_FRAME)
    frame = _word(id(loop) + _FRAME_OBJECT_FRAME)
    names = loop.f_code.co_varnames
    locals_ = [[_FRAME_LOCALS + _PTR * names.index(name), id(value), name] for name, value in held.items()]
    current = ctypes.c_uint64.from_address(cframe + _CFRAME_CURRENT).value  # read inline: this frame's
    understood = (current == here and _word(here + _FRAME_PREVIOUS) == frame
                  and _word(here + _FRAME_CODE) == id(describe_loop.__code__)
                  and _word(frame + _FRAME_CODE) == id(loop.f_code)
                  and all(_word(frame + offset) == value for offset, value, _ in locals_))
    if not understood:
        return {"unsupported": "the interpreter's frames are not laid out as expected"}
    return {"thread": thread, "cframe": cframe, "frame": frame, "code": id(loop.f_code),
            "waits_in": [id(code) for code in waits_in], "locals": locals_}


class LoopCheck:
    """The judge's side: whether a worker's thread waits where its description says."""

    def __init__(self, layout: object) -> None:
        self.layout = layout if isinstance(layout, dict) and "unsupported" not in layout else None
        if self.layout is not None:
            try:
                self.thread, self.cframe = int(self.layout["thread"]), int(self.layout["cframe"])
                self.frame, self.code = int(self.layout["frame"]), int(self.layout["code"])
                self.waits_in = [int(code) for code in self.layout["waits_in"]]
                self.locals = [(int(offset), int(value), str(name)) for offset, value, name in self.layout["locals"]]
            except (KeyError, TypeError, ValueError):
                self.layout = None

    @property
    def available(self) -> bool:
        return self.layout is not None

    def requests(self) -> list[tuple[int, int]]:
        """What one reading takes: the thread's frame and hook pointers, the innermost frame, and
        the memory just above the loop's own frame, where the calls it waits in sit."""
        return [(self.thread + _THREAD_CFRAME, 3 * _PTR), (self.cframe + _CFRAME_CURRENT, _PTR), (self.frame, _BLOCK)]

    def elsewhere(self, read, whole: bytes | None = None) -> str | None:
        """None when the thread waits in the loop's own receive call; else where it is instead.
        `read(address, size)` reads the worker's memory (None when it cannot); `whole`, if
        given, is what `requests()` read, in one piece."""
        if whole is not None:
            hooks, current, block = whole[:3 * _PTR], whole[3 * _PTR:4 * _PTR], whole[4 * _PTR:]
        else:
            hooks, current, block = read(self.thread + _THREAD_CFRAME, 3 * _PTR), None, None
        if hooks is None:
            return MEMORY_GONE
        cframe, profile, trace = struct.unpack("<3Q", hooks)
        if profile or trace:
            return "a trace or profile function was set"
        if cframe != self.cframe:
            return "its interpreter was running code called from somewhere other than the loop"
        current = current if current is not None else read(cframe + _CFRAME_CURRENT, _PTR)
        frame = struct.unpack("<Q", current)[0] if current else 0
        for code in self.waits_in:
            found = _code_and_caller(read, block, self.frame, frame)
            if found is None or found[0] != code:
                return "it was not waiting in the loop's receive call"
            frame = found[1]
        return None if frame == self.frame and self._holds(read, block) else "it was not the loop's own frame that waited"

    def _holds(self, read, block: bytes | None) -> bool:
        words = [_word_at(read, block, self.frame, self.frame + offset)
                 for offset in (_FRAME_CODE, *(offset for offset, _, _ in self.locals))]
        return words == [self.code, *(value for _, value, _ in self.locals)]


_BLOCK = 2048  # the loop's frame and the three calls it waits in take about 1 KiB
MEMORY_GONE = "its memory could not be read"


def _word_at(read, block: bytes | None, start: int, address: int) -> int | None:
    """The 8 bytes at `address`, from `block` (the memory from `start`) when it holds them."""
    at = address - start
    if block is not None and 0 <= at <= len(block) - _PTR:
        return struct.unpack_from("<Q", block, at)[0]
    data = read(address, _PTR)
    return None if data is None else struct.unpack("<Q", data)[0]


def _code_and_caller(read, block: bytes | None, start: int, frame: int) -> tuple[int, int] | None:
    if not frame:
        return None
    code, previous = (_word_at(read, block, start, frame + _FRAME_CODE),
                      _word_at(read, block, start, frame + _FRAME_PREVIOUS))
    return None if code is None or previous is None else (code, previous)
