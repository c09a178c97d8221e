"""Benchmark the Hebbian capacity sweep: lifa_jax against a plain NumPy loop.

Both run the same experiment. Each trial of a load draws fresh random patterns
and cues with round(cue_noise * N) flipped bits. Recall is synchronous sign
updates (a tie keeps the state) until a fixed point, a 2-cycle or `max_sweeps`,
scored by the mean recall quality clip(xi . s / N, 0, 1). The NumPy version builds W = (1/N) sum xi xi^T
with zero diagonal and recalls one cue at a time. lifa_jax also recalls one cue
at a time, in a compiled loop, and computes the field from the patterns,
W s = (Xi^T (Xi s) - K s) / N (`FactoredHebbianNetwork`). Random draws differ
between the two, so their qualities agree only within sampling error.

Run: .venv/bin/python benchmarks/bench_memory.py [--numpy-trials 20]
"""

import argparse
import os
import time

import jax
import numpy as np
from _timing import machine_description

from lifa_jax.memory import HopfieldModel, capacity_from_curve, recall_quality_curve


def numpy_quality_curve(n, counts, n_trials, n_cues, cue_noise, max_sweeps, rng):
    """Return mean recall quality per load, computed with plain NumPy loops."""
    n_flip = round(cue_noise * n)
    qualities = []
    for k in counts:
        total = 0.0
        for _ in range(n_trials):
            patterns = rng.choice(np.array([-1.0, 1.0]), size=(k, n))
            weights = patterns.T @ patterns / n
            np.fill_diagonal(weights, 0.0)
            for _ in range(n_cues):
                target = patterns[rng.integers(k)]
                state = target.copy()
                state[rng.choice(n, size=n_flip, replace=False)] *= -1.0
                previous = None
                for _ in range(max_sweeps):
                    field = weights @ state
                    new = np.where(field > 0, 1.0, np.where(field < 0, -1.0, state))
                    if np.array_equal(new, state):
                        break
                    if previous is not None and np.array_equal(new, previous):
                        state = new
                        break
                    previous, state = state, new
                total += min(1.0, max(0.0, float(target @ state) / n))
        qualities.append(total / (n_trials * n_cues))
    return np.array(qualities)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="neurons")
    parser.add_argument("--loads", type=int, default=30, help="number of loads, K = 10, 20, ... (N = 1000)")
    parser.add_argument("--trials", type=int, default=100, help="trials per load (fresh patterns each)")
    parser.add_argument("--cues", type=int, default=10, help="cues recalled per trial")
    parser.add_argument("--cue-noise", type=float, default=0.05, help="fraction of cue bits flipped")
    parser.add_argument("--max-sweeps", type=int, default=100, help="bound on synchronous sweeps")
    parser.add_argument(
        "--numpy-trials",
        type=int,
        default=None,
        help="trials per load for NumPy (default: same as --trials); fewer trials are timed and scaled per trial",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of both random generators")
    args = parser.parse_args()

    counts = [round(args.n * 0.01 * (i + 1)) for i in range(args.loads)]
    numpy_trials = args.numpy_trials or args.trials
    print(f"machine: {machine_description()}, jax {jax.__version__} on {jax.devices()[0]}")
    print(f"load average at start (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        f"capacity sweep: N = {args.n}, {len(counts)} loads (K = {counts[0]}..{counts[-1]}), "
        f"{args.trials} trials x {args.cues} cues per load, cue noise {args.cue_noise:g}"
    )

    model = HopfieldModel(max_sweeps=args.max_sweeps)
    settings = dict(cue_noise=args.cue_noise, n_trials=args.trials, n_cues=args.cues)
    start = time.perf_counter()
    curve = recall_quality_curve(model, args.n, counts, key=jax.random.key(args.seed), **settings)
    jax_cold = time.perf_counter() - start
    start = time.perf_counter()
    curve = recall_quality_curve(model, args.n, counts, key=jax.random.key(args.seed + 1), **settings)
    jax_warm = time.perf_counter() - start

    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    numpy_quality = numpy_quality_curve(args.n, counts, numpy_trials, args.cues, args.cue_noise, args.max_sweeps, rng)
    numpy_time = (time.perf_counter() - start) * args.trials / numpy_trials

    print(f"load average at end (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    jax_capacity = capacity_from_curve(curve)
    print(f"lifa_jax, first call (includes compiling): {jax_cold:8.1f} s")
    print(f"lifa_jax, second call:                     {jax_warm:8.1f} s")
    scaled = "" if numpy_trials == args.trials else f" (timed on {numpy_trials} trials per load, scaled)"
    print(f"NumPy loop:                                {numpy_time:8.1f} s{scaled}")
    print(f"speed-up, second call: {numpy_time / jax_warm:.1f}x; first call: {numpy_time / jax_cold:.1f}x")
    print(
        f"capacity (quality >= 0.95): lifa_jax {jax_capacity.load:.3f} "
        f"(interpolated {jax_capacity.load_interpolated:.3f})"
    )
    print("load   quality lifa_jax   quality NumPy")
    for k, q_jax, q_np in zip(counts, curve.quality, numpy_quality, strict=True):
        print(f"{k / args.n:5.2f}   {q_jax:16.3f}   {q_np:13.3f}")


if __name__ == "__main__":
    main()
