"""The answer banks of gradient-descent.ipynb (instructor-only): honest styles, misconceptions, broken files."""

from grader.banks import Answer, BrokenFile  # noqa: F401

CORRECT: tuple = ()  # Answer(name, question id, cell source, style): the first per question is its reference
WRONG: tuple = ()  # Answer(name, question id, cell source, misconception, cause=words its message names it by):
#                   each must lose exactly its question
MANUAL: tuple = ()  # model answers of hand-graded questions
BROKEN: tuple = ()  # BrokenFile(name, build(release bytes) -> bytes, what grading must do)
