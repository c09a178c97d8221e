"""The weight-row additions of the event-driven engine alone, against the dense loop it is compared with.

Under a mask of Q2.6 bit flips at 1e-4 per bit, the event-driven engine adds
one weight row per presynaptic spike that differs from the fault-free run, per
sample and step. Measured with `bench_sweep.py --engine differential
--calibrate-only`, that is about 7.6 rows of 2,048 floats into the second hidden
layer, 100 rows of 512 floats into the third and 38 rows of 100 floats into the
output layer. This script times that work alone with the
engine's own addition loop (`_add_rows`, four rows per pass). It uses random row
lists of those sizes, 256 samples x 25 steps per mask, split over all cores as
the engine splits its samples. The rows come from matrices of the real
1024-768-2048-512-100 shapes (the two large ones, 6 and 4 MiB, are read from
L3), and, to show what the caches do, from matrices with the same row length
but few enough rows to stay in L2 or L1.

In the same run it times the dense jitted `simulate` of the network on the
256 samples, the part of the per-mask JAX loop of `bench_sweep.py` that the
weights' copy and the draw come on top of. The ratio loop / additions bounds
what any exact event-driven engine doing these additions can reach against
that loop on this machine.

Run: `.venv/bin/python benchmarks/bench_rows.py [--repeats 5]`
"""

import argparse
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numba
import numpy as np
from _timing import best_time, machine_description

from lifa_jax.faults.events import _add_rows
from lifa_jax.network import RegularEncoder, SpikingNetwork, predict, simulate
from lifa_jax.training import encode_batch

TOPOLOGY = (1024, 768, 2048, 512, 100)
# Rows added per sample and step into weight layers 1, 2 and 3 (layer 0's inputs never change).
CHANGED = (7.6, 100.0, 38.0)


@numba.njit(parallel=True)
def add_all(w, lists, counts, acc):  # pragma: no cover - compiled
    """Add the rows `lists[r, :counts[r]]` of `w` into `acc[thread, r % steps]` for every list `r`, in parallel.

    Each thread owns its block of `steps` accumulator rows, as the engine owns
    one sample's inputs per thread.
    """
    n = w.shape[1]
    steps = acc.shape[1]
    for r in numba.prange(lists.shape[0]):
        _add_rows(acc[numba.get_thread_id(), r % steps], w, lists[r], counts[r], n, 1)


def row_lists(rng, n_rows: int, mean: float, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Return `count` lists of distinct row indices below `n_rows`, of Poisson length with the given mean."""
    lengths = np.minimum(rng.poisson(mean, count), n_rows)
    lists = np.zeros((count, max(int(lengths.max()), 1)), np.int64)
    for r, length in enumerate(lengths):
        lists[r, :length] = rng.choice(n_rows, length, replace=False)
    return lists, lengths.astype(np.int64)


def time_additions(w: np.ndarray, lists, counts, steps: int, repeats: int) -> float:
    """Return the best time of adding every list once, in seconds."""
    acc = np.zeros((numba.get_num_threads(), steps, w.shape[1]), np.float32)
    add_all(w, lists, counts, acc)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        add_all(w, lists, counts, acc)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=256, help="test inputs per mask")
    parser.add_argument("--steps", type=int, default=25, help="simulation steps T")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls; the best is kept")
    args = parser.parse_args()

    print(f"machine: {machine_description()}, {numba.get_num_threads()} Numba threads, jax {jax.__version__}")
    rng = np.random.default_rng(0)
    lists_per_mask = args.samples * args.steps
    total = 0.0
    print("weight-row additions per mask (best of repeats):")
    for layer, mean in zip(range(1, 4), CHANGED):
        n_pre, n = TOPOLOGY[layer], TOPOLOGY[layer + 1]
        lists, counts = row_lists(rng, n_pre, mean, lists_per_mask)
        real = rng.standard_normal((n_pre, n)).astype(np.float32)
        seconds = time_additions(real, lists, counts, args.steps, args.repeats)
        total += seconds
        vectors = counts.sum() * n / 16
        line = (
            f"  weight layer {layer} ({n_pre} x {n}, {real.nbytes / 2**20:.1f} MiB, {mean:g} rows per step): "
            f"{seconds * 1e3:.2f} ms, {seconds * 1e9 / vectors:.3f} ns per 16-float vector"
        )
        # The same lists folded onto fewer rows, so the matrix stays in a smaller cache.
        for kib in (512, 32):
            rows = max(8, kib * 1024 // (4 * n))
            small = real[:rows]
            folded = (lists % rows).astype(np.int64)
            cached = time_additions(small, folded, counts, args.steps, args.repeats)
            line += f"; rows in {small.nbytes // 1024} KiB: {cached * 1e9 / vectors:.3f} ns"
        print(line)
    print(f"  all three layers: {total * 1e3:.2f} ms per mask")

    network = SpikingNetwork.init(TOPOLOGY, key=jax.random.key(0), domain_size=64)
    x = jax.random.uniform(jax.random.key(1), (args.samples, TOPOLOGY[0]))
    spikes = encode_batch(RegularEncoder(), x, args.steps, jax.random.key(2))
    labels = jnp.zeros(args.samples, jnp.int32)

    @eqx.filter_jit
    def dense_accuracy(network, weights, spikes, labels):
        faulty = eqx.tree_at(lambda n: n.weights, network, tuple(weights))
        predictions = jax.vmap(lambda s: predict(simulate(faulty, s)))(spikes)
        return jnp.mean(predictions == labels)

    weights = [jnp.asarray(w) for w in network.weights]
    dense = best_time(dense_accuracy, network, weights, spikes, labels, repeats=args.repeats)
    print(
        f"dense jitted simulate of the {args.samples} samples (the JAX loop without draw and copy): {dense * 1e3:.1f} ms"
    )
    print(
        f"bound: an engine doing only these additions would run at most {dense / total:.1f}x that loop "
        f"(20x needs {dense / 20 * 1e3:.1f} ms per mask for everything)"
    )


if __name__ == "__main__":
    main()
