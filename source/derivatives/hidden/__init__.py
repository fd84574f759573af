"""The hidden checks of derivatives.ipynb (instructor-only): grading-time cases, by part."""
