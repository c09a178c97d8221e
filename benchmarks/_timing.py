"""Timing helper shared by the benchmark scripts (run them as `python benchmarks/NAME.py`)."""

import os
import platform
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


def machine_description() -> str:
    """Return the CPU's model name, family and model numbers, LLVM's name for its microarchitecture, and the core count.

    The ratios of the benchmarks depend on the microarchitecture: a dense
    product gains more from full-width vector units than a load-bound
    event-driven loop does.
    """
    name, family, model = platform.processor() or platform.machine(), "?", "?"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            fields = dict(line.split(":", 1) for line in cpuinfo.read().split("\n\n")[0].splitlines() if ":" in line)
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        name, family, model = fields.get("model name", name), fields.get("cpu family", "?"), fields.get("model", "?")
    except OSError:
        pass
    try:
        import llvmlite.binding

        arch = llvmlite.binding.get_host_cpu_name()
    except ImportError:
        arch = "?"
    return f"{name} (family {family}, model {model}, LLVM {arch}), {os.cpu_count()} cores"
