"""Grading-time checks: a question's visible and hidden parts, with hidden inputs from the course secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

from grader.assignment import Assignment
from grader.runtime import Subject, Verdict, run_question

__all__ = ["grade_question", "seed_rng"]


def seed_rng(secret: bytes, student: str, qid: str, submission: str = "") -> random.Random:
    """A grading-time rng: HMAC-SHA256 of (student, question) under a secret the worker never sees.

    `submission` (a digest of the submitted file) makes a resubmission draw fresh hidden
    inputs, so inputs read in one submission's feedback say nothing about the next one's,
    while a regrade of the same file draws the same.
    """
    fields = [student, qid, submission] if submission else [student, qid]
    message = json.dumps(fields).encode("utf-8")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return random.Random(int.from_bytes(digest, "big"))


def grade_question(assignment: Assignment, qid: str, subject: Subject, rng: random.Random) -> Verdict:
    """Every part of `qid`, visible cases then hidden ones."""
    question = assignment.question(qid)
    return run_question(qid, question.answers, assignment.visible_checks(qid), subject,
                        assignment.hidden_checks(qid), rng)
