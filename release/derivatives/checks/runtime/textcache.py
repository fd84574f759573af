"""A cache for work on text that keeps only short texts: a long one is worked on each time.

The judge parses and transforms every submitted cell; the release's own cells recur in every
submission, so their results are kept. A cell's tree takes about 300 bytes a character, and a
cache keyed by long texts would hold what a few large submissions made for as long as the
judge lives.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

__all__ = ["CACHED_CHARS", "cached_for_short_texts"]

CACHED_CHARS = 8_192
T = TypeVar("T")


def cached_for_short_texts(maxsize: int) -> Callable[[Callable[[str], T]], Callable[[str], T]]:
    """Decorate a function of one text (or None): calls with texts up to CACHED_CHARS are cached."""

    def decorate(function: Callable[[str], T]) -> Callable[[str], T]:
        cached = functools.lru_cache(maxsize=maxsize)(function)

        @functools.wraps(function)
        def work(text: str) -> T:
            return function(text) if text is not None and len(text) > CACHED_CHARS else cached(text)

        work.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        return work

    return decorate
