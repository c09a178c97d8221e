"""Inference speed of the LIFA paper's network against its dense matrix products alone.

Simulates the 1024-768-2048-512-100 network (4452 neurons) on a batch of 64
Poisson-coded inputs for T = 50 steps, and times, in the same run, the same dense
matrix products (64 x n_pre times n_pre x n_post, per layer and step) on the
spikes the simulation produced. Prints samples/s, the LIFA paper's throughput
(neurons / latency per sample; the paper reports 492.56 neurons/s) and the ratio
simulation / products (goal: at most 1.25).

Run: `.venv/bin/python benchmarks/bench_inference.py [--batch 64] [--steps 50] [--repeats 5]`
"""

import argparse

import jax
import jax.numpy as jnp
from _timing import best_time, machine_description

from lifa_jax.network import PoissonEncoder, SpikingNetwork, simulate
from lifa_jax.training import encode_batch

TOPOLOGY = (1024, 768, 2048, 512, 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="samples per batch")
    parser.add_argument("--steps", type=int, default=50, help="simulation steps T")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions (best is reported)")
    args = parser.parse_args()

    network = SpikingNetwork.init(TOPOLOGY, key=jax.random.key(0), domain_size=64)
    x = jax.random.uniform(jax.random.key(1), (args.batch, TOPOLOGY[0]))
    spikes = encode_batch(PoissonEncoder(max_rate=200.0), x, args.steps, jax.random.key(2))

    simulate_batch = jax.jit(jax.vmap(lambda s: simulate(network, s).counts))
    t_sim = best_time(simulate_batch, spikes, repeats=args.repeats)

    # The presynaptic spikes of every layer and step, as the simulation produced them.
    trace = jax.jit(jax.vmap(lambda s: simulate(network, s, record=True).trace))(spikes)
    layer_inputs = [spikes] + list(trace.spikes[:-1])
    layer_inputs = [jnp.swapaxes(s, 0, 1) for s in layer_inputs]  # (steps, batch, pre)

    @jax.jit
    def products(inputs, weights):
        def body(carry, xs):
            outs = [jnp.dot(s, w, precision="highest") for s, w in zip(xs, weights)]
            return carry + sum(o.sum() for o in outs), None

        total, _ = jax.lax.scan(body, jnp.zeros(()), inputs)
        return total

    t_mm = best_time(products, layer_inputs, network.weights, repeats=args.repeats)

    @jax.jit
    def products_at_once(inputs, weights):
        # One product per layer over every step and sample: the fastest dense
        # schedule, open only to a feedforward network whose spikes are known.
        return sum(jnp.dot(s.reshape(-1, s.shape[-1]), w, precision="highest").sum() for s, w in zip(inputs, weights))

    t_once = best_time(products_at_once, layer_inputs, network.weights, repeats=args.repeats)

    latency = t_sim / args.batch
    macs = args.batch * args.steps * network.n_synapses
    rates = [float(s.mean()) * 1000.0 / network.dt for s in trace.spikes]
    print(f"machine: {machine_description()}, {jax.devices()[0]}, jax {jax.__version__}")
    print(f"network {'-'.join(map(str, TOPOLOGY))}: {network.n_neurons} neurons, {network.n_synapses:,} weights")
    print(f"batch {args.batch}, T = {args.steps}, mean rates per layer (Hz): {', '.join(f'{r:.0f}' for r in rates)}")
    print(f"simulation:      {t_sim * 1e3:9.1f} ms  ({args.batch / t_sim:,.0f} samples/s)")
    print(f"matrix products: {t_mm * 1e3:9.1f} ms  ({2 * macs / t_mm / 1e9:.1f} GFLOP/s)")
    print(
        f"  the same, one product per layer over all steps: {t_once * 1e3:9.1f} ms ({2 * macs / t_once / 1e9:.1f} GFLOP/s)"
    )
    print(
        f"latency per sample: {latency * 1e3:.2f} ms; throughput {network.n_neurons / latency:,.0f} neurons/s "
        "(LIFA paper: 492.56 neurons/s)"
    )
    print(f"ratio simulation / matrix products: {t_sim / t_mm:.3f} (goal <= 1.25)")
    print(f"ratio simulation / products over all steps at once: {t_sim / t_once:.3f}")


if __name__ == "__main__":
    main()
