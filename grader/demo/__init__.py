"""The demo and the benchmark's class: simulated submissions drawn from an assignment's banks."""
