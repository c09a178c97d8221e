"""Timing helper shared by the benchmark scripts (run them as `python benchmarks/NAME.py`)."""

import time

import jax


def best_time(fn, *args, repeats: int) -> float:
    """Return the fastest of `repeats` timed calls after one warm-up (compilation) call, in seconds."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return min(times)
