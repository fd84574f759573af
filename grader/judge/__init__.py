"""Judge: run a submission's cells in a worker, check its answers from outside, in parallel for a class."""
