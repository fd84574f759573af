"""Back the warm parent's heap with transparent huge pages before it starts forking workers.

Forking copies one page-table entry per 4 KiB page of private memory, and every worker's exit
drops them again: for the ~200 MB warm image that is about 50,000 entries each way, the largest
fixed cost of a worker. Collapsing the heap into 2 MiB pages (MADV_COLLAPSE, Linux 6.1) leaves a
few hundred entries. A worker that writes to a shared huge page still copies only the 4 KiB it
touched: the kernel splits the mapping in the writer first, so isolation between workers and the
warm parent is unchanged.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["collapse_private_memory"]

MADV_COLLAPSE = 25
HUGE_PAGE = 2 * 1024 * 1024

_libc = ctypes.CDLL(None, use_errno=True)
_libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def collapse_private_memory(maps_path: str = "/proc/self/maps") -> str:
    """Collapse the anonymous writable mappings into huge pages; returns what happened, in words.

    Best effort: a kernel without MADV_COLLAPSE, or one that cannot find free huge pages,
    leaves the memory as it was, and workers are only slower to fork.
    """
    collapsed = last_error = 0
    for start, end in _anonymous_ranges(maps_path):
        if _libc.madvise(start, end - start, MADV_COLLAPSE) == 0:
            collapsed += end - start
        else:
            last_error = ctypes.get_errno()
    if not collapsed:
        why = os.strerror(last_error) if last_error else "no anonymous memory large enough"
        return f"not available: {why}"
    return f"{collapsed // 2**20} MiB of the warm image in huge pages"


def _anonymous_ranges(maps_path: str) -> list[tuple[int, int]]:
    """Huge-page-aligned parts of the private, writable mappings with no file behind them."""
    ranges = []
    with open(maps_path) as maps:
        for line in maps:
            fields = line.split()
            address, perms = fields[0], fields[1]
            name = fields[5] if len(fields) > 5 else ""
            if not perms.startswith("rw") or perms[3] != "p" or name not in ("", "[heap]"):
                continue
            low, high = (int(part, 16) for part in address.split("-"))
            start = -(-low // HUGE_PAGE) * HUGE_PAGE
            end = high // HUGE_PAGE * HUGE_PAGE
            if end > start:
                ranges.append((start, end))
    return ranges
