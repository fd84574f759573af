"""Resource limits and caps for one worker (plain data, sent to the warm parent as JSON)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["GiB", "MiB", "Limits"]

MiB = 1024 * 1024
GiB = 1024 * MiB


@dataclass(frozen=True)
class Limits:
    """Per-worker limits; the defaults fit one derivatives notebook on a CPU torch."""

    address_space: int = 3 * GiB
    cpu_seconds: int = 60
    processes: int = 32  # RLIMIT_NPROC counts threads too, per uid
    file_size: int = 16 * MiB
    open_files: int = 64
    core: int = 0
    tmp_size: int = 64 * MiB
    output_cap: int = 20_000  # characters of stdout+stderr kept per cell
    max_frame: int = 8 * MiB
    uid_base: int = 61000
    uid_slots: int = 1000

    def to_json(self) -> dict:
        """The limits as a JSON-ready dict."""
        return asdict(self)

    def rlimits(self) -> dict[str, int]:
        """The setrlimit subset, keyed as isolation.apply_rlimits expects."""
        keys = ("address_space", "cpu_seconds", "processes", "file_size", "open_files", "core")
        return {key: getattr(self, key) for key in keys}
