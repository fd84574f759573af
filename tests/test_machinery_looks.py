"""The judge's look at a worker's machinery: every listed region must hold its bytes, while the
bytes between regions (other objects' reference counts, read along in the same span) may change."""

import ctypes
import os

from grader.worker.integrity import MachineryCheck, MemoryReader, _Manifest


def _memory_with_regions():
    memory = ctypes.create_string_buffer(bytes(range(256)) * 64)  # 16 KiB: the regions make two spans
    base = ctypes.addressof(memory)
    manifest = _Manifest()
    for label, offset, size in (("first.code", 16, 64), ("first.version", 128, 4), ("second.code", 12_000, 64)):
        manifest.region(label, base + offset, size)
    return memory, MachineryCheck({"regions": manifest.regions})


def test_a_look_names_a_changed_region_and_ignores_bytes_between_regions():
    memory, check = _memory_with_regions()
    reader = MemoryReader(os.getpid())  # this process stands in for a worker
    try:
        assert check.changes(reader) == [] and check.changes(reader, quick=True) == []
        memory[100] = b"\xff"  # between two regions of one span
        memory[4000] = b"\xff"  # in a gap the span reads along
        assert check.changes(reader, quick=True) == []
        memory[130] = b"\x00"
        assert check.changes(reader, quick=True) == ["first.version"]
        memory[12_063] = b"\x00"  # the last byte of the other span's region
        assert check.changes(reader) == ["first.version", "second.code"]
    finally:
        reader.close()


def test_a_reader_without_fixed_reads_finds_the_same():
    memory, check = _memory_with_regions()

    class OneByOne:
        def many(self, requests):
            return [ctypes.string_at(address, size) for address, size in requests]

    assert check.changes(OneByOne()) == []
    memory[16] = b"\x01" if memory[16] != b"\x01" else b"\x02"
    assert check.changes(OneByOne()) == ["first.code"]
