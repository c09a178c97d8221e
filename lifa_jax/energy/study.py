"""Energy per inference under each ARR regime, domain-gating sweeps, and their figures.

The functions return plain numbers (dicts of floats and lists) so that a
command-line tool only has to parse arguments and write them out.
"""

import os
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ..network import SpikingNetwork, predict
from ..routing import (
    AbstractRouting,
    AbstractScheme,
    DenseLayers,
    Mesh,
    Multicast,
    XYRouting,
    contiguous_blocks,
    place,
    route_traffic,
    traffic_from_spikes,
)
from .costs import CostTable
from .events import COMPONENTS, EventCounts, energy_breakdown, routing_events, sum_events
from .gating import AbstractGating, DomainGating, NeuronGating, NoGating, simulate_gated


def regime_name(gating: AbstractGating) -> str:
    """Return a short label: "ARR off", "ARR level 1" or "ARR level 2 (c_gate=...)"."""
    if isinstance(gating, DomainGating):
        return f"ARR level 2 (c_gate={float(gating.c_gate):g})"
    if isinstance(gating, NeuronGating):
        return "ARR level 1"
    return "ARR off"


@eqx.filter_jit
def _run_chunk(network, spikes, params):
    def one(sample):
        run = simulate_gated(network, sample, params)
        return run.result.counts, predict(run.result), run.events

    return jax.vmap(one)(spikes)


def run_regime(
    network: SpikingNetwork,
    spikes: Float[Array, "samples steps inputs"],
    gating: AbstractGating,
    *,
    chunk_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[EventCounts, np.ndarray, list[np.ndarray]]:
    """Simulate every sample under `gating`, `chunk_size` samples at a time.

    The last chunk is padded with copies of the first sample, so one shape is
    compiled; padded samples are dropped from every result.

    **Returns:** `(events, predictions, spike_counts)`: the summed `EventCounts`,
    the predicted class of each sample, and spikes per neuron summed over all
    samples, one array per layer with the input layer first.
    """
    n = spikes.shape[0]
    if n < 1:
        raise ValueError("spikes must hold at least one sample.")
    chunk_size = min(chunk_size, n)
    # As arrays, every regime shares one compilation.
    params = gating.parameters()
    predictions, counts, chunk_events = [], None, []
    for start in range(0, n, chunk_size):
        chunk = spikes[start : start + chunk_size]
        real = chunk.shape[0]
        if real < chunk_size:
            chunk = jnp.concatenate([chunk, jnp.repeat(spikes[:1], chunk_size - real, axis=0)])
        layer_counts, preds, events = _run_chunk(network, chunk, params)
        events = jax.tree.map(lambda a, real=real: a[:real], events)
        chunk_events.append(sum_events(events))
        predictions.append(np.asarray(preds[:real]))
        sums = [np.asarray(jnp.sum(chunk[:real], axis=(0, 1)))] + [
            np.asarray(jnp.sum(c[:real], axis=0)) for c in layer_counts
        ]
        counts = sums if counts is None else [a + b for a, b in zip(counts, sums)]
        if progress is not None:
            progress(min(start + chunk_size, n), n)
    events = jax.tree.map(lambda *a: sum(a), *chunk_events)
    return events, np.concatenate(predictions), counts


def route_spike_counts(
    network: SpikingNetwork,
    spike_counts: Sequence[np.ndarray],
    mesh: Mesh,
    *,
    duration_ms: float,
    scheme: AbstractScheme = Multicast(),
    routing: AbstractRouting = XYRouting(),
):
    """Place the network on `mesh` in blocks of `n_max` neurons and route its spikes once.

    Blocks are contiguous (neurons numbered layer after layer, inputs first) and
    placed core after core; consecutive layers are fully connected.

    **Returns:** the `RoutingMetrics` of `scheme` on the fault-free mesh.
    """
    sizes = tuple(network.topology)
    mesh.check_fits(sum(sizes))
    placement = place(contiguous_blocks(sum(sizes), mesh.n_max), mesh)
    traffic = traffic_from_spikes(list(spike_counts), DenseLayers(sizes), placement, duration_ms=duration_ms)
    return route_traffic(traffic, scheme, routing=routing)


def measure_regime(
    network: SpikingNetwork,
    spikes: Float[Array, "samples steps inputs"],
    gating: AbstractGating,
    table: CostTable,
    *,
    labels=None,
    reference_predictions=None,
    mesh: Mesh | None = None,
    scheme: AbstractScheme = Multicast(),
    routing: AbstractRouting = XYRouting(),
    chunk_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Measure events and energy per inference of one regime.

    **Arguments:**

    - `network`, `spikes`: the network and the encoded samples, shape
      `(samples, steps, topology[0])`.
    - `gating`: the regime.
    - `table`: the `CostTable`.
    - `labels`: true classes, for accuracy (optional).
    - `reference_predictions`: predictions without gating, for the agreement
      (fraction of samples with the same predicted class; optional).
    - `mesh`: route the spikes on this mesh (`route_spike_counts`) and add
      their hops to the energy; without it the routing energy is 0.
    - `scheme`, `routing`: how spikes are routed.

    **Returns:** a dict with `"regime"`, `"predictions"` (array), `"accuracy"`
    and `"agreement"` (None when not measured), `"events_per_inference"` (per
    layer lists), `"saved_update_fraction"`, `"routing_per_inference"` (None
    without a mesh) and `"energy_per_inference"` (pJ by component, total, and
    energy per hidden or output spike).
    """
    n = int(spikes.shape[0])
    steps = int(spikes.shape[1])
    events, predictions, counts = run_regime(network, spikes, gating, chunk_size=chunk_size, progress=progress)

    hops = None
    routing_summary = None
    if mesh is not None:
        metrics = route_spike_counts(
            network, counts, mesh, duration_ms=n * steps * network.dt, scheme=scheme, routing=routing
        )
        hops = routing_events(metrics)
        routing_summary = {
            "hops_x": float(hops.hops_x) / n,
            "hops_y": float(hops.hops_y) / n,
            "router_traversals": float(hops.router_traversals) / n,
            "packets": float(hops.packets) / n,
            "delivered_fraction": float(metrics.delivered_fraction),
        }
    energy = energy_breakdown(events, table, hops).scaled(1.0 / n)

    per_layer = {
        "synaptic_ops": events.synaptic_ops,
        "neuron_updates": events.neuron_updates,
        "neuron_steps": events.neuron_steps,
        "spikes": events.spikes,
        "astrocyte_updates": events.astrocyte_updates,
    }
    total_steps = float(jnp.sum(events.neuron_steps))
    return {
        "regime": regime_name(gating),
        "predictions": predictions,
        "accuracy": None if labels is None else float(np.mean(predictions == np.asarray(labels))),
        "agreement": None
        if reference_predictions is None
        else float(np.mean(predictions == np.asarray(reference_predictions))),
        "samples": n,
        "events_per_inference": {
            **{name: (np.asarray(values) / n).tolist() for name, values in per_layer.items()},
            "input_spikes": float(events.input_spikes) / n,
        },
        "saved_update_fraction": float(jnp.sum(events.saved_updates)) / total_steps,
        "routing_per_inference": routing_summary,
        "energy_per_inference": energy.as_dict(),
        "spike_counts": counts,
    }


def compare_regimes(
    network: SpikingNetwork,
    spikes: Float[Array, "samples steps inputs"],
    table: CostTable,
    *,
    domain_gating: DomainGating,
    labels=None,
    mesh: Mesh | None = None,
    scheme: AbstractScheme = Multicast(),
    routing: AbstractRouting = XYRouting(),
    chunk_size: int = 64,
) -> list[dict]:
    """Measure ARR off, level 1 and level 2 (`domain_gating`) on the same samples.

    Level 1 is checked against ARR off: its predictions must agree on every
    sample (it is lossless); the agreement is reported for every regime.

    **Returns:** three `measure_regime` dicts, in the order off, level 1, level 2.
    """
    kwargs = {"labels": labels, "mesh": mesh, "scheme": scheme, "routing": routing, "chunk_size": chunk_size}
    off = measure_regime(network, spikes, NoGating(), table, **kwargs)
    reference = off["predictions"]
    off["agreement"] = 1.0
    level_one = measure_regime(network, spikes, NeuronGating(), table, reference_predictions=reference, **kwargs)
    level_two = measure_regime(network, spikes, domain_gating, table, reference_predictions=reference, **kwargs)
    return [off, level_one, level_two]


def sweep_domain_gating(
    network: SpikingNetwork,
    spikes: Float[Array, "samples steps inputs"],
    thresholds: Sequence[float],
    table: CostTable,
    *,
    probe_steps: int,
    reference_predictions,
    labels=None,
    mesh: Mesh | None = None,
    scheme: AbstractScheme = Multicast(),
    routing: AbstractRouting = XYRouting(),
    chunk_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """Measure ARR level 2 at every calcium threshold `c_gate` in `thresholds`.

    **Returns:** one `measure_regime` dict per threshold, each with `"c_gate"`.
    """
    records = []
    for index, c_gate in enumerate(thresholds):
        record = measure_regime(
            network,
            spikes,
            DomainGating(c_gate=float(c_gate), probe_steps=probe_steps),
            table,
            labels=labels,
            reference_predictions=reference_predictions,
            mesh=mesh,
            scheme=scheme,
            routing=routing,
            chunk_size=chunk_size,
        )
        record["c_gate"] = float(c_gate)
        records.append(record)
        if progress is not None:
            progress(index + 1, len(thresholds))
    return records


def random_input_spikes(
    n_inputs: int, *, steps: int, samples: int, rate_hz: float, dt: float, key: PRNGKeyArray
) -> Float[Array, "samples steps inputs"]:
    """Draw Bernoulli input spikes: each input fires on each step with probability `rate_hz * dt / 1000`."""
    probability = rate_hz * dt / 1000.0
    if not 0.0 <= probability <= 1.0:
        raise ValueError(
            f"rate_hz * dt must give a spike probability in [0, 1] per step, got {probability!r}; lower rate_hz."
        )
    return (jax.random.uniform(key, (samples, steps, n_inputs)) < probability).astype(jnp.float32)


def plot_energy_components(panels: Sequence[tuple[str, Sequence[dict]]], path: str | os.PathLike) -> None:
    """Draw energy per inference by component, one stacked bar per regime, and save the figure.

    **Arguments:**

    - `panels`: `(title, records)` pairs, one panel each; `records` are
      `measure_regime` dicts (e.g. from `compare_regimes`).
    - `path`: output file; the suffix picks the format.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.5), squeeze=False)
    colours = plt.get_cmap("tab10").colors
    for ax, (title, records) in zip(axes[0], panels, strict=True):
        labels = [r["regime"].replace(" (", "\n(") for r in records]
        positions = np.arange(len(records))
        bottom = np.zeros(len(records))
        for colour, component in zip(colours, COMPONENTS):
            values = np.array([r["energy_per_inference"][f"{component}_pj"] for r in records]) / 1000.0
            ax.bar(positions, values, bottom=bottom, color=colour, label=component)
            bottom += values
        ax.set_xticks(positions, labels, fontsize="small")
        ax.set_ylabel("energy per inference, nJ (lower is better)")
        ax.set_title(title, fontsize="medium")
    axes[0, 0].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_accuracy_vs_energy(sweep: Sequence[dict], baselines: Sequence[dict], path: str | os.PathLike) -> None:
    """Draw accuracy against energy per inference for a domain-gating sweep and save the figure.

    Each sweep point is labelled with its `c_gate`; `baselines` (ARR off and
    level 1) are drawn as separate markers. Records without accuracy use the
    agreement with ARR off instead.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def score(record):
        return record["accuracy"] if record["accuracy"] is not None else record["agreement"]

    measure = "accuracy" if all(r["accuracy"] is not None for r in sweep) else "agreement with ARR off"
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    energy = [r["energy_per_inference"]["total_pj"] / 1000.0 for r in sweep]
    ax.plot(energy, [score(r) for r in sweep], marker="o", label="ARR level 2 (domain gating)")
    for r, x in zip(sweep, energy):
        ax.annotate(f"{r['c_gate']:g}", (x, score(r)), textcoords="offset points", xytext=(4, 4), fontsize="small")
    for marker, record in zip(("s", "^"), baselines):
        ax.plot(
            record["energy_per_inference"]["total_pj"] / 1000.0,
            score(record),
            marker=marker,
            linestyle="none",
            label=record["regime"],
        )
    ax.set_xlabel("energy per inference, nJ (lower is better)")
    ax.set_ylabel(f"{measure} (higher is better)")
    ax.set_title("domain gating: points labelled with c_gate", fontsize="medium")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
