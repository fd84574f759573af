"""Release: generate the student version with nbgrader and audit the assignment before it goes out."""
