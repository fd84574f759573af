"""The judge's caches of work on submitted text keep short texts only."""

from grader.runtime.textcache import CACHED_CHARS, cached_for_short_texts


def test_a_long_text_is_worked_on_each_time_and_never_kept():
    calls = []

    @cached_for_short_texts(maxsize=8)
    def work(text):
        calls.append(text)
        return len(text)

    short, long = "x" * 10, "y" * (CACHED_CHARS + 1)
    assert [work(short), work(short), work(long), work(long)] == [10, 10, CACHED_CHARS + 1, CACHED_CHARS + 1]
    assert calls == [short, long, long]  # the short text once, the long one every time
