"""The hidden checks of gradient-descent.ipynb (instructor-only): grading-time cases, by part."""
