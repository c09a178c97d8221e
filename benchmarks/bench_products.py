"""Synaptic products on this machine: dense float32 against lower precisions and event-driven sums.

A layer's synaptic input over a run is `S @ W`, with `S` the 0/1 presynaptic
spikes of every step and sample stacked as rows. This script times, in the same
run and on the same spikes:

- the dense product in float32 (the baseline), and with int8, float16 and
  bfloat16 operands (exact here: spikes are 0/1 and the weights are integers up
  to 127, as Q2.6 words are);
- an event-driven gather-and-sum: for each row, the rows of `W` selected by its
  spikes, padded to the row with the most spikes, gathered and summed in chunks
  of 64 rows;
- an event-driven scatter-add of the same gathered rows onto the output.

Two shapes follow the 1024-768-2048-512-100 network with 256 samples and
T = 25 (6,400 rows): 768 inputs into 2,048 neurons at 9.5 % spike density, and
2,048 inputs into 512 neurons at 6.8 %. Times are the best of `--repeats` calls
after compilation; ratios are time / dense float32 time.

Run: `.venv/bin/python benchmarks/bench_products.py [--repeats 3]`
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from _timing import best_time, machine_description

SHAPES = ((6400, 768, 2048, 0.095), (6400, 2048, 512, 0.068))


def padded_indices(spikes: np.ndarray, multiple: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Return, per row, the indices of its spikes padded with index 0 and a 0/1 validity weight."""
    counts = spikes.sum(axis=1).astype(int)
    width = -(-int(counts.max()) // multiple) * multiple
    index = np.zeros((spikes.shape[0], width), np.int32)
    weight = np.zeros((spikes.shape[0], width), np.float32)
    for row in range(spikes.shape[0]):
        (active,) = np.nonzero(spikes[row])
        index[row, : active.size] = active
        weight[row, : active.size] = 1.0
    return index, weight


@jax.jit
def gather_sum(index, weight, w):
    """Sum, per row, the rows of `w` that `index` selects, weighted by `weight`, 64 rows at a time."""
    rows, width = index.shape

    def chunk(part):
        i, v = part
        return jnp.einsum("rk,rkn->rn", v, w[i])

    parts = (index.reshape(-1, 64, width), weight.reshape(-1, 64, width))
    return jax.lax.map(chunk, parts).reshape(rows, w.shape[1])


@jax.jit
def scatter_add(index, weight, w):
    """Gather the selected rows of `w`, weighted, and scatter-add them onto their rows."""
    rows, width = index.shape
    target = jnp.repeat(jnp.arange(rows), width)
    gathered = w[index.reshape(-1)] * weight.reshape(-1)[:, None]
    return jnp.zeros((rows, w.shape[1])).at[target].add(gathered, indices_are_sorted=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions (best is reported)")
    args = parser.parse_args()
    print(f"machine: {machine_description()}, {jax.devices()[0]}, jax {jax.__version__}")

    for rows, n_pre, n_post, density in SHAPES:
        k_spikes, k_weights = jax.random.split(jax.random.key(0))
        spikes = (jax.random.uniform(k_spikes, (rows, n_pre)) < density).astype(jnp.float32)
        weights = jnp.clip(jnp.round(jax.random.normal(k_weights, (n_pre, n_post)) * 20.0), -128, 127)
        print(f"{rows} x {n_pre} spikes at {density:.1%} density, times {n_pre} x {n_post} weights:")

        reference = jax.jit(jnp.dot)(spikes, weights)
        t_dense = best_time(jax.jit(jnp.dot), spikes, weights, repeats=args.repeats)
        flops = 2.0 * rows * n_pre * n_post
        print(f"  dense float32      {t_dense * 1e3:8.1f} ms  ({flops / t_dense / 1e9:.1f} GFLOP/s)  ratio 1.00")

        for name, dtype, accumulate in (
            ("int8", jnp.int8, jnp.int32),
            ("float16", jnp.float16, jnp.float32),
            ("bfloat16", jnp.bfloat16, jnp.float32),
        ):
            product = jax.jit(lambda s, w, acc=accumulate: jnp.dot(s, w, preferred_element_type=acc))
            a, b = spikes.astype(dtype), weights.astype(dtype)
            if not np.array_equal(np.asarray(product(a, b), np.float32), np.asarray(reference)):
                raise AssertionError(f"{name} product differs from float32")
            t = best_time(product, a, b, repeats=args.repeats)
            print(f"  dense {name:<12} {t * 1e3:8.1f} ms  ratio {t / t_dense:.2f}")

        index, weight = padded_indices(np.asarray(spikes))
        width = index.shape[1]
        index, weight = jnp.asarray(index), jnp.asarray(weight)

        if not np.array_equal(np.asarray(gather_sum(index, weight, weights)), np.asarray(reference)):
            raise AssertionError("gather-and-sum differs from the dense product")
        t_gather = best_time(gather_sum, index, weight, weights, repeats=args.repeats)
        print(
            f"  gather-and-sum     {t_gather * 1e3:8.1f} ms  ratio {t_gather / t_dense:.2f} "
            f"(mean {float(weight.sum(1).mean()):.0f} spikes per row, padded to {width})"
        )

        if not np.array_equal(np.asarray(scatter_add(index, weight, weights)), np.asarray(reference)):
            raise AssertionError("scatter-add differs from the dense product")
        t_scatter = best_time(scatter_add, index, weight, weights, repeats=args.repeats)
        print(f"  scatter-add        {t_scatter * 1e3:8.1f} ms  ratio {t_scatter / t_dense:.2f}")


if __name__ == "__main__":
    main()
