"""Simulation cost of ARR gating on the LIFA paper's network, against plain `simulate`.

Simulates the untrained 1024-768-2048-512-100 network on a batch of random
Bernoulli inputs and times `simulate` and `simulate_gated` with ARR off, level 1
and level 2. Gating skips neuron updates on the modelled chip, but this
simulator still computes every neuron. Counting the events costs one extra
product per layer and step, so gated runs are slower here. Prints the
seconds per batch, the ratio to `simulate`, and the neuron updates saved.

Run: `.venv/bin/python benchmarks/bench_energy.py [--batch 16] [--steps 20] [--rate 50] [--repeats 3]`
"""

import argparse
import platform
import time

import jax
import jax.numpy as jnp

from lifa_jax.energy import DomainGating, NeuronGating, NoGating, simulate_gated, sum_events
from lifa_jax.energy.study import random_input_spikes
from lifa_jax.network import SpikingNetwork, simulate

TOPOLOGY = (1024, 768, 2048, 512, 100)


def best_time(fn, *args, repeats: int) -> tuple[float, float]:
    """Return (first call including compilation, fastest of `repeats` later calls) in seconds."""
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return first, min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16, help="samples per batch")
    parser.add_argument("--steps", type=int, default=20, help="simulation steps T")
    parser.add_argument("--rate", type=float, default=50.0, help="firing rate of each random input (Hz)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions (best is reported)")
    args = parser.parse_args()

    network = SpikingNetwork.init(TOPOLOGY, key=jax.random.key(0))
    spikes = random_input_spikes(
        TOPOLOGY[0], steps=args.steps, samples=args.batch, rate_hz=args.rate, dt=network.dt, key=jax.random.key(1)
    )

    plain = jax.jit(jax.vmap(lambda s: simulate(network, s).counts))
    first, best = best_time(plain, spikes, repeats=args.repeats)
    print(f"{platform.machine()} {platform.system()}, jax {jax.__version__}, {jax.devices()[0]}")
    print(f"batch {args.batch}, T = {args.steps}, inputs at {args.rate:g} Hz")
    print(f"{'run':<28}{'first call s':>14}{'best s':>10}{'vs simulate':>13}{'saved updates':>15}")
    print(f"{'simulate':<28}{first:>14.2f}{best:>10.3f}{1.0:>13.2f}{'':>15}")

    # One compiled function serves every regime: the regime enters as arrays.
    @jax.jit
    def gated(params, spikes):
        return jax.vmap(lambda s: simulate_gated(network, s, params).events)(spikes)

    for name, gating in (
        ("ARR off", NoGating()),
        ("ARR level 1", NeuronGating()),
        ("ARR level 2 (c_gate=0.05)", DomainGating(c_gate=0.05, probe_steps=5)),
    ):
        first, t = best_time(gated, gating.parameters(), spikes, repeats=args.repeats)
        events = sum_events(gated(gating.parameters(), spikes))
        saved = float(jnp.sum(events.saved_updates) / jnp.sum(events.neuron_steps))
        print(f"{name:<28}{first:>14.2f}{t:>10.3f}{t / best:>13.2f}{100 * saved:>14.1f}%")


if __name__ == "__main__":
    main()
