"""The answer banks of derivatives.ipynb (instructor-only): honest styles, misconceptions, broken files."""

from .broken import BROKEN
from .correct import CORRECT, EXPLAIN_BUG
from .wrong import WRONG

__all__ = ["BROKEN", "CORRECT", "MANUAL", "WRONG"]

MANUAL = (EXPLAIN_BUG,)
