"""Intake: read a submission as data (bounded, never executed here) and scan its source."""
