"""Record: verdicts into nbgrader's gradebook and autograded/ notebooks, through one writer."""
