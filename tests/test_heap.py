"""Objects a process keeps to its end are made with the collector off and frozen, once."""

import subprocess
import sys
import textwrap


def test_a_long_lived_block_freezes_what_it_made_once_and_restores_the_collector():
    script = textwrap.dedent("""
        import gc
        from grader.heap import long_lived

        with long_lived():
            assert not gc.isenabled()
            kept = [[i] for i in range(1000)]
        first = gc.get_freeze_count()
        assert gc.isenabled()
        assert first >= 1000, first
        with long_lived():
            more = [[i] for i in range(1000)]
        assert gc.get_freeze_count() == first  # a second block's objects are left to the collector
        gc.disable()
        with long_lived():
            pass
        assert not gc.isenabled()  # a collector that was off stays off
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr
