"""Fault-sweep throughput: the event-driven or differential engine against per-mask dense loops in JAX and PyTorch.

Network 1024-768-2048-512-100 (random Gaussian weights from `SpikingNetwork.init`,
key 0, 64 neurons per astrocyte), 256 inputs drawn uniformly in [0, 1] and
rate-coded for T = 25 steps, masks of Q2.6 fixed-point weight bit flips at a
per-bit rate of 1e-4 in exact mode (floor(1e-4 * 3,459,072 * 8) = 2767 flipped
bits per mask). Labels are the fault-free predictions, so the fault-free accuracy
is 1 by construction.

Measured in one run:

- the engine chosen with `--engine`: `event` (the default, `sweep_events`) or
  `differential` (`sweep_differential`, after a few calibration masks that
  choose its buffer capacities). The golden run comes first, then `--masks`
  masks in blocks of `--block`. Masks/s is taken over the blocks after the
  first, which compiles;
- (a) a per-mask loop on the first `--loop-masks` of the same masks: copy the
  weights, write the flipped values, run the jitted dense model (`simulate`);
- (b) the same loop in PyTorch on the CPU, once per `--torch-threads` setting
  (skipped when torch is not installed); on a CPU shared with other jobs one
  thread can beat two, so the ratio is taken against the faster setting.

Masks/s of the loops are extrapolated from the masks they timed. Accuracies of
the engine and the loops are compared mask by mask. Peak memory is the process's
peak resident set (`ru_maxrss`), read after each phase.

With `--calibrate-only` the script stops after the calibration masks and prints
their changed spikes per hidden layer and their accuracies, then the time of
each weight layer's dense product and dynamics in the golden run: how far a
mask's differences spread, and the least work a mask needs.

Run: `.venv/bin/python benchmarks/bench_sweep.py [--masks 64] [--loop-masks 5]`
"""

import argparse
import resource
import time

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from _timing import best_time, machine_description

from lifa_jax.faults import SynapseBitFlipFixed, sweep_events
from lifa_jax.faults.differential import (
    _dense_synaptic,
    _layer_dynamics,
    differential_masks,
    draw_sparse_faults,
    golden_run,
    sparse_fault_capacity,
    suggest_capacity,
    sweep_differential,
)
from lifa_jax.network import PoissonEncoder, RegularEncoder, SpikingNetwork, predict, simulate
from lifa_jax.training import encode_batch

TOPOLOGY = (1024, 768, 2048, 512, 100)


def peak_memory_gib() -> float:
    """Return the process's peak resident set so far, in GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def parse_capacity(text: str):
    """Parse `--capacity`: "auto", or one int or "none" per hidden layer, comma-separated."""
    if text == "auto":
        return "auto"
    return tuple(None if part.strip().lower() == "none" else int(part) for part in text.split(","))


def injected_weights(network: SpikingNetwork, sparse) -> list[np.ndarray]:
    """Return copies of the weights with the mask's faulty values written in (host side)."""
    layer, pre, post, value, valid = (
        np.asarray(a) for a in (sparse.layer, sparse.pre, sparse.post, sparse.value, sparse.valid)
    )
    weights = []
    for index, w in enumerate(network.weights):
        w = np.array(w, dtype=np.float32, copy=True)
        mine = valid & (layer == index)
        w[pre[mine], post[mine]] = value[mine]
        weights.append(w)
    return weights


def golden_pieces(network, golden, repeats: int = 3) -> tuple[list[float], list[float]]:
    """Return, per weight layer, the best time of the golden run's dense product and of its dynamics."""

    products, dynamics = [], []
    for layer, weights in enumerate(network.weights):
        product = eqx.filter_jit(lambda n, w, s: _dense_synaptic(n, w, s))
        products.append(best_time(product, network, weights, golden.spikes[layer], repeats=repeats))
        step = eqx.filter_jit(lambda n, i, layer=layer: _layer_dynamics(n, layer, i)[0])
        dynamics.append(best_time(step, network, golden.synaptic[layer], repeats=repeats))
    return products, dynamics


def run_engine(network, fault, spikes, labels, keys, args):
    """Run the chosen engine; return its results, timings and the capacity used."""
    timings = {}
    start = time.perf_counter()
    golden = jax.block_until_ready(eqx.filter_jit(golden_run)(network, spikes))
    timings["golden"] = time.perf_counter() - start

    capacity = args.capacity if args.engine == "differential" else None
    if args.engine == "differential" and capacity == "auto":
        # Calibration: a few other masks, every hidden layer dense, to see how many spikes change.
        start = time.perf_counter()
        calibration_keys = jax.random.split(jax.random.key(args.seed + 1), args.calibration_masks)
        probe = eqx.filter_jit(differential_masks)(
            network,
            fault,
            calibration_keys,
            golden,
            labels,
            capacity=None,
            fault_capacity=sparse_fault_capacity(network, fault),
            chunk_size=args.chunk_size,
        )
        capacity = suggest_capacity(probe.changed_spikes, network, golden)
        timings["calibration"] = time.perf_counter() - start
        timings["changed"] = np.asarray(probe.changed_spikes)
        timings["calibration_accuracy"] = np.asarray(probe.accuracy)
        if args.calibrate_only:
            return None, None, capacity, timings

    accuracy, status, block_times = [], [], []
    for first in range(0, len(keys), args.block):
        start = time.perf_counter()
        if args.engine == "event":
            result = sweep_events(network, fault, keys[first : first + args.block], spikes, labels, golden=golden)
        else:
            result = sweep_differential(
                network,
                fault,
                keys[first : first + args.block],
                spikes,
                labels,
                capacity=capacity,
                chunk_size=args.chunk_size,
                golden=golden,
            )
        accuracy.append(np.asarray(result.accuracy_no_repair))
        status.append(np.asarray(result.status))
        block_times.append(time.perf_counter() - start)
        print(f"  block {len(block_times)}: {len(accuracy[-1])} masks in {block_times[-1]:.1f} s", flush=True)
    timings["blocks"] = block_times
    timings["peak_gib"] = peak_memory_gib()
    return np.concatenate(accuracy), np.concatenate(status), capacity, timings


def run_jax_loop(network, fault, spikes, labels, keys, sizes):
    """Per-mask loop: copy the weights, inject the flips, run the jitted dense model."""

    @eqx.filter_jit
    def dense_accuracy(network, weights, spikes, labels):
        faulty = eqx.tree_at(lambda n: n.weights, network, tuple(weights))
        predictions = jax.vmap(lambda s: predict(simulate(faulty, s)))(spikes)
        return jnp.mean(predictions == labels)

    draw = eqx.filter_jit(draw_sparse_faults)
    # Compile both functions before timing.
    jax.block_until_ready(draw(network, fault, key=keys[0], capacity=sizes))
    jax.block_until_ready(dense_accuracy(network, [jnp.asarray(w) for w in network.weights], spikes, labels))

    accuracies, times = [], []
    for key in keys:
        start = time.perf_counter()
        weights = injected_weights(network, draw(network, fault, key=key, capacity=sizes))
        accuracies.append(float(dense_accuracy(network, [jnp.asarray(w) for w in weights], spikes, labels)))
        times.append(time.perf_counter() - start)
    return np.asarray(accuracies), times


def torch_model(network, torch):
    """Return a PyTorch function computing the predictions of `network` with given weights."""
    neuron, astro, glio, coupling = network.neuron, network.astrocyte, network.gliotransmitter, network.coupling
    dt = network.dt
    decay_n, decay_c, decay_g = np.exp(-dt / neuron.tau_n), np.exp(-dt / astro.tau_c), np.exp(-dt / glio.tau_g)
    n_ref, n_ref_c = int(round(neuron.t_ref / dt)), int(round(astro.t_ref_c / dt))
    members = [
        torch.from_numpy((np.asarray(d)[:, None] == np.arange(a)[None, :]).astype(np.float32))
        for d, a in zip(network.domains, network.n_astrocytes)
    ]

    def predictions(weights, spikes):
        samples, steps, _ = spikes.shape
        v = [torch.zeros(samples, w.shape[1]) for w in weights]
        ref = [torch.zeros(samples, w.shape[1], dtype=torch.int32) for w in weights]
        c = [torch.zeros(samples, m.shape[1]) for m in members]
        ref_c = [torch.zeros(samples, m.shape[1], dtype=torch.int32) for m in members]
        g = [torch.zeros(samples, m.shape[1]) for m in members]
        counts = torch.zeros(samples, weights[-1].shape[1])
        v_sum = torch.zeros(samples, weights[-1].shape[1])
        for t in range(steps):
            s = spikes[:, t]
            for layer, w in enumerate(weights):
                member = members[layer]
                current = (s @ w) * ((coupling.p0 + coupling.alpha * (g[layer] @ member.T)) / coupling.p0) / dt
                free = (
                    neuron.v_rest + (v[layer] - neuron.v_rest) * decay_n + neuron.resistance * current * (1 - decay_n)
                )
                active = ref[layer] == 0
                v_new = torch.where(active, free, v[layer])
                fired = (v_new >= neuron.v_th) & active
                v[layer] = torch.where(fired, torch.full_like(v_new, neuron.v_reset), v_new)
                ref[layer] = torch.where(fired, torch.full_like(ref[layer], n_ref), (ref[layer] - 1).clamp(min=0))
                s = fired.float()
                drive = astro.kappa_c * (s @ member) / dt
                free_c = astro.c_rest + (c[layer] - astro.c_rest) * decay_c + drive * (1 - decay_c)
                active_c = ref_c[layer] == 0
                c_new = torch.where(active_c, free_c, c[layer])
                released = (c_new >= astro.c_th) & active_c
                c[layer] = torch.where(released, torch.full_like(c_new, astro.c_reset), c_new)
                ref_c[layer] = torch.where(
                    released, torch.full_like(ref_c[layer], n_ref_c), (ref_c[layer] - 1).clamp(min=0)
                )
                g[layer] = g[layer] * decay_g + released.float() * glio.jump
            counts += s
            v_sum += v[-1]
        return torch.argmax(counts + 0.5 * torch.sigmoid(v_sum / steps), dim=1)

    return predictions


def run_torch_loop(network, fault, spikes, labels, keys, sizes, threads):
    """Per-mask loop in PyTorch on the CPU with `threads` threads; None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    model = torch_model(network, torch)
    base = [torch.tensor(np.asarray(w, dtype=np.float32)) for w in network.weights]
    spikes_t = torch.tensor(np.asarray(spikes, dtype=np.float32))
    labels_t = torch.tensor(np.asarray(labels))
    draw = eqx.filter_jit(draw_sparse_faults)
    jax.block_until_ready(draw(network, fault, key=keys[0], capacity=sizes))

    accuracies, times = [], []
    with torch.inference_mode():
        model(base, spikes_t)  # warm-up
        for key in keys:
            start = time.perf_counter()
            sparse = draw(network, fault, key=key, capacity=sizes)
            layer, pre, post, value, valid = (
                np.asarray(a) for a in (sparse.layer, sparse.pre, sparse.post, sparse.value, sparse.valid)
            )
            weights = []
            for index, w in enumerate(base):
                w = w.clone()
                mine = valid & (layer == index)
                w[torch.tensor(pre[mine]), torch.tensor(post[mine])] = torch.tensor(value[mine])
                weights.append(w)
            predictions = model(weights, spikes_t)
            accuracies.append(float((predictions == labels_t).float().mean()))
            times.append(time.perf_counter() - start)
    return np.asarray(accuracies), times, torch.__version__


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--engine",
        choices=("event", "differential"),
        default="event",
        help="engine timed against the loops: event-driven (sweep_events) or differential (sweep_differential)",
    )
    parser.add_argument("--masks", type=int, default=64, help="masks evaluated by the differential engine")
    parser.add_argument("--block", type=int, default=16, help="masks per sweep_differential call")
    parser.add_argument("--chunk-size", type=int, default=2, help="masks vmapped together inside a call")
    parser.add_argument("--loop-masks", type=int, default=5, help="masks timed in each per-mask loop")
    parser.add_argument("--calibration-masks", type=int, default=4, help="masks used to choose the capacity")
    parser.add_argument(
        "--capacity", type=parse_capacity, default="auto", help='"auto", or per hidden layer an int or "none"'
    )
    parser.add_argument("--samples", type=int, default=256, help="test inputs")
    parser.add_argument("--steps", type=int, default=25, help="simulation steps T")
    parser.add_argument("--rate", type=float, default=1e-4, help="per-bit flip rate (exact mode)")
    parser.add_argument("--encoding", choices=("regular", "poisson"), default="regular", help="rate coding of inputs")
    parser.add_argument(
        "--torch-threads",
        type=lambda text: [int(t) for t in text.split(",")],
        default=[1, 2],
        help="PyTorch thread counts to time, comma-separated; the faster sets the ratio",
    )
    parser.add_argument("--seed", type=int, default=5, help="seed of the mask keys")
    parser.add_argument(
        "--weight-scale", type=float, default=2.0, help="weight_scale of SpikingNetwork.init (default 2, its default)"
    )
    parser.add_argument(
        "--calibrate-only",
        action="store_true",
        help="stop after the calibration masks: print their changed spikes per layer and accuracies, and time the golden run per layer",
    )
    args = parser.parse_args()
    if args.masks < 2 * args.block:
        parser.error(f"--masks must be at least 2 * --block ({2 * args.block}) to time blocks after compilation")

    network = SpikingNetwork.init(TOPOLOGY, key=jax.random.key(0), domain_size=64, weight_scale=args.weight_scale)
    x = jax.random.uniform(jax.random.key(1), (args.samples, TOPOLOGY[0]))
    encoder = RegularEncoder() if args.encoding == "regular" else PoissonEncoder()
    spikes = encode_batch(encoder, x, args.steps, jax.random.key(2))
    golden = eqx.filter_jit(golden_run)(network, spikes)
    labels = golden.predictions
    fault = SynapseBitFlipFixed(args.rate)
    sizes = sparse_fault_capacity(network, fault)
    keys = jax.random.split(jax.random.key(args.seed), args.masks)

    print(f"machine: {machine_description()}, {jax.devices()[0]}, jax {jax.__version__}")
    print(
        f"network {'-'.join(map(str, TOPOLOGY))}, {network.n_synapses:,} weights; {args.samples} samples, "
        f"T = {args.steps}, {args.encoding} encoding; Q2.6 bit flips at {args.rate:g} per bit "
        f"({sizes[0]} bits per mask)"
    )

    print(f"{args.engine} engine:")
    accuracy, status, capacity, timings = run_engine(network, fault, spikes, labels, keys, args)
    if args.calibrate_only:
        if "changed" not in timings:
            parser.error("--calibrate-only needs --engine differential --capacity auto")
        golden_counts = [int(s.sum()) for s in golden.spikes[1:]]
        print(f"  golden spikes per hidden layer {golden_counts}")
        for changed, accuracy in zip(timings["changed"].tolist(), timings["calibration_accuracy"].tolist()):
            print(f"  calibration mask: changed spikes per hidden layer {changed}, accuracy {accuracy:.3f}")
        print(f"  suggested capacity {capacity}")
        products, dynamics = golden_pieces(network, golden)
        print(
            f"  golden run pieces (best of 3): dense products {[round(t * 1e3) for t in products]} ms, "
            f"dynamics {[round(t * 1e3) for t in dynamics]} ms per weight layer"
        )
        return
    steady = sum(timings["blocks"][1:])
    steady_masks = args.masks - args.block
    engine_rate = steady_masks / steady
    total = timings["golden"] + timings.get("calibration", 0.0) + sum(timings["blocks"])
    golden_counts = [int(s.sum()) for s in golden.spikes[1:]]
    print(f"  golden run {timings['golden']:.1f} s; capacity {capacity}")
    if "changed" in timings:
        print(
            f"  calibration {timings['calibration']:.1f} s; changed spikes per hidden layer (max of "
            f"{args.calibration_masks} masks) {timings['changed'].max(axis=0).tolist()} of golden {golden_counts}"
        )
    fallback = int(np.sum(status & 8 > 0))
    print(
        f"  {args.masks} masks: {engine_rate:.3f} masks/s after compilation ({steady_masks} masks in {steady:.1f} s); "
        f"{args.masks / total:.3f} masks/s counting golden run, calibration and compilation; "
        f"{fallback} masks fell back to the dense path"
    )
    print(f"  mean accuracy {np.nanmean(accuracy):.4f}; peak memory {timings['peak_gib']:.2f} GiB")

    print(f"(a) JAX per-mask loop, {args.loop_masks} masks:")
    loop_accuracy, loop_times = run_jax_loop(network, fault, spikes, labels, keys[: args.loop_masks], sizes)
    loop_rate = len(loop_times) / sum(loop_times)
    same = int(np.sum(loop_accuracy == accuracy[: args.loop_masks]))
    print(
        f"  {loop_rate:.3f} masks/s (extrapolated from {len(loop_times)} masks, {np.mean(loop_times):.2f} s each); "
        f"accuracy equal to the engine's on {same}/{len(loop_times)} masks, "
        f"largest difference {np.max(np.abs(loop_accuracy - accuracy[: args.loop_masks])):.4f}"
    )
    print(f"  peak memory so far {peak_memory_gib():.2f} GiB")

    torch_rate = None
    for threads in args.torch_threads:
        print(f"(b) PyTorch per-mask loop, {args.loop_masks} masks, {threads} threads:")
        torch_result = run_torch_loop(network, fault, spikes, labels, keys[: args.loop_masks], sizes, threads)
        if torch_result is None:
            print("  skipped: torch is not installed (pip install torch); the JAX comparison above stands alone")
            break
        torch_accuracy, torch_times, torch_version = torch_result
        rate = len(torch_times) / sum(torch_times)
        torch_rate = rate if torch_rate is None else max(torch_rate, rate)
        same = int(np.sum(torch_accuracy == loop_accuracy))
        print(
            f"  torch {torch_version}: {rate:.3f} masks/s (extrapolated from {len(torch_times)} masks, "
            f"{np.mean(torch_times):.2f} s each); accuracy equal to the JAX loop's on {same}/{len(torch_times)} masks"
        )
        print(f"  peak memory so far {peak_memory_gib():.2f} GiB")

    print("ratios (goal: >= 20 against (a), >= 10 against (b), peak memory < 4 GiB):")
    print(f"  engine / (a) = {engine_rate / loop_rate:.2f}")
    if torch_rate is not None:
        print(f"  engine / (b) = {engine_rate / torch_rate:.2f} (against the faster thread setting)")


if __name__ == "__main__":
    main()
