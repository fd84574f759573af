"""Submissions whose work is unusually close, with the evidence side by side: a lead for a person, never a verdict."""
