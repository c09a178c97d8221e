"""A routing study: place a network, route its spikes, repeat under faults.

The functions here return plain numbers and write figures, so a command-line
tool only has to parse arguments and save the result.
"""

import os
import re
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from .faults import draw_fault_maps, no_faults
from .mesh import EAST, NORTH, PORT_STEP, SOUTH, WEST, Mesh
from .paths import AbstractRouting, UpDownRouting, XYRouting
from .placement import (
    AbstractPlacementStrategy,
    SequentialPlacement,
    contiguous_blocks,
    place,
    placement_cost,
)
from .schemes import (
    AbstractScheme,
    Broadcast,
    HopCost,
    Multicast,
    RoutingMetrics,
    Unicast,
    evaluate_fault_maps,
)
from .traffic import DenseLayers, _flat_counts, block_traffic, traffic_from_spikes

SUMMARY_METRICS = (
    "delivered_fraction",
    "unreachable_pairs",
    "packets",
    "link_traversals",
    "router_traversals",
    "energy_pj",
    "mean_hops",
    "max_hops",
    "max_link_load",
    "max_link_utilisation",
    "mean_latency_ns",
    "max_latency_ns",
)


def option_name(option) -> str:
    """Return the snake-case name of a routing or scheme object, e.g. "up_down"."""
    name = type(option).__name__.removesuffix("Routing")
    name = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name)
    return name.lower()


def _rates(fault_rates) -> list[tuple[float, float]]:
    pairs = []
    for rate in fault_rates:
        if isinstance(rate, int | float):
            pairs.append((float(rate), float(rate)))
        elif len(rate) == 2:
            pairs.append((float(rate[0]), float(rate[1])))
        else:
            raise ValueError(
                "each fault rate must be a number (links and routers alike) or a "
                f"(link_rate, router_rate) pair, got {rate!r}."
            )
    for link_rate, router_rate in pairs:
        for name, value in (("link rate", link_rate), ("router rate", router_rate)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value!r}.")
    return pairs


def _summarise(metrics: RoutingMetrics) -> dict:
    # Mean and normal-approximation 95 % confidence interval over fault maps,
    # mean +- 1.96 s / sqrt(n); not clipped, so a fraction's bound can pass 1.
    summary = {}
    for name in SUMMARY_METRICS:
        values = np.asarray(getattr(metrics, name), dtype=float)
        mean = float(np.mean(values))
        if values.size > 1 and np.all(np.isfinite(values)):
            half = 1.96 * float(np.std(values, ddof=1)) / np.sqrt(values.size)
        else:
            half = 0.0 if np.all(np.isfinite(values)) else float("nan")
        summary[name] = {"mean": mean, "ci95_low": mean - half, "ci95_high": mean + half}
    return summary


def run_routing_study(
    layer_sizes: Sequence[int],
    spike_counts,
    *,
    mesh: Mesh,
    key: PRNGKeyArray,
    fault_rates: Sequence[float | tuple[float, float]],
    n_fault_maps: int,
    duration_ms: float = 1000.0,
    placement: AbstractPlacementStrategy = SequentialPlacement(),
    routings: Sequence[AbstractRouting] = (XYRouting(), UpDownRouting()),
    schemes: Sequence[AbstractScheme] = (Unicast(), Multicast(), Broadcast()),
    cost: HopCost = HopCost(),
    batch_size: int = 8,
) -> dict:
    """Place a feed-forward network on a mesh and compare routing under faults.

    Neurons are cut into contiguous blocks of `mesh.n_max` neurons and placed
    with `placement`; traffic-aware strategies use the block traffic of
    `spike_counts`. Every routing and scheme is then evaluated on the
    fault-free mesh and on `n_fault_maps` fault maps per fault rate (exact
    mode).

    **Arguments:**

    - `layer_sizes`: neurons per layer; consecutive layers are fully connected.
    - `spike_counts`: spikes per neuron over `duration_ms`, one array per layer
      or one flat array.
    - `mesh`: the `Mesh`.
    - `key`: PRNG key for fault maps and annealing.
    - `fault_rates`: each a number (the same fraction of links and routers
      die) or a `(link_rate, router_rate)` pair.
    - `n_fault_maps`: fault maps per rate.
    - `duration_ms`: recording window of the counts (ms).
    - `placement`, `routings`, `schemes`, `cost`: options as objects.
    - `batch_size`: fault maps per vmapped batch.

    **Returns:** a dict with the network and placement facts, `"fault_free"`
    metrics as `[routing][scheme][metric]`, fault-free link loads as nested
    lists `[routing][scheme]` of shape (n_cores, 4), and `"faults"`: one entry
    per rate with `[routing][scheme][metric]` = mean and 95 % interval.
    """
    sizes = [int(n) for n in layer_sizes]
    connectivity = DenseLayers(tuple(sizes))
    rates = _rates(fault_rates)
    if n_fault_maps < 1:
        raise ValueError(f"n_fault_maps must be at least 1, got {n_fault_maps!r}.")
    if not routings or not schemes:
        raise ValueError("routings and schemes must each name at least one option.")
    mesh.check_fits(sum(sizes))

    blocks = contiguous_blocks(sum(sizes), mesh.n_max)
    traffic_between_blocks = block_traffic(spike_counts, connectivity, blocks)
    key_place, key_faults = jax.random.split(key)
    placed = place(
        blocks,
        mesh,
        placement,
        block_traffic=traffic_between_blocks,
        key=key_place,
    )
    traffic = traffic_from_spikes(spike_counts, connectivity, placed, duration_ms=duration_ms)

    result = {
        "mesh": {
            "width": mesh.width,
            "height": mesh.height,
            "n_max": mesh.n_max,
            "n_cores": mesh.n_cores,
        },
        "layer_sizes": sizes,
        "n_neurons": sum(sizes),
        "n_blocks": int(blocks.max()) + 1,
        "enabled_astrocytes": int(placed.astrocyte_enabled.sum()),
        "disabled_astrocytes": int((~placed.astrocyte_enabled).sum()),
        "placement": type(placement).__name__,
        "placement_cost_spike_hops": placement_cost(placed.core_of_block, traffic_between_blocks, mesh),
        "duration_ms": float(duration_ms),
        "spikes": float(np.sum(_flat_counts(spike_counts, sum(sizes)))),
        "remote_deliveries": float(np.sum(traffic.demand())),
        "local_deliveries": float(traffic.local_deliveries),
        "cost": {
            "link_energy_pj_per_bit": cost.link_energy_pj_per_bit,
            "router_energy_pj_per_bit": cost.router_energy_pj_per_bit,
            "bits_per_packet": cost.bits_per_packet,
            "router_delay_ns": cost.router_delay_ns,
            "link_bandwidth_bits_per_ns": cost.link_bandwidth_bits_per_ns,
        },
        "fault_free": {},
        "fault_free_link_loads": {},
    }

    # One batch per routing: the fault-free map first, then every rate's maps.
    batches = [jax.tree.map(lambda a: a[None], no_faults(mesh))]
    for index, (link_rate, router_rate) in enumerate(rates):
        batches.append(
            draw_fault_maps(
                mesh,
                link_rate=link_rate,
                router_rate=router_rate,
                n_maps=n_fault_maps,
                key=jax.random.fold_in(key_faults, index),
            )
        )
    maps = jax.tree.map(lambda *a: jnp.concatenate(a), *batches)
    result["faults"] = [
        {
            "link_rate": link_rate,
            "router_rate": router_rate,
            "n_fault_maps": n_fault_maps,
            "results": {},
        }
        for link_rate, router_rate in rates
    ]

    for routing in routings:
        name = option_name(routing)
        metrics = evaluate_fault_maps(
            traffic,
            maps,
            schemes=tuple(schemes),
            routing=routing,
            cost=cost,
            batch_size=batch_size,
        )
        result["fault_free"][name] = {}
        result["fault_free_link_loads"][name] = {}
        for entry in result["faults"]:
            entry["results"][name] = {}
        for scheme, m in zip(schemes, metrics, strict=True):
            scheme_name = option_name(scheme)
            first = jax.tree.map(lambda a: np.asarray(a)[0], m)
            result["fault_free"][name][scheme_name] = {k: float(getattr(first, k)) for k in SUMMARY_METRICS}
            result["fault_free_link_loads"][name][scheme_name] = first.link_loads.tolist()
            for index, entry in enumerate(result["faults"]):
                rows = slice(1 + index * n_fault_maps, 1 + (index + 1) * n_fault_maps)
                part = jax.tree.map(lambda a, rows=rows: a[rows], m)
                entry["results"][name][scheme_name] = _summarise(part)
    return result


def plot_link_load(link_loads, mesh: Mesh, path: str | os.PathLike, *, title: str = "") -> None:
    """Draw the packets on every directed link of the mesh and save the figure.

    Each bidirectional link is drawn as two parallel segments, one per
    direction, coloured by load.

    **Arguments:**

    - `link_loads`: packets per directed link, array (n_cores, 4), e.g.
      `RoutingMetrics.link_loads`.
    - `mesh`: the `Mesh`.
    - `path`: output file; the suffix picks the format (e.g. `.png`, `.pdf`).
    - `title`: figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    loads = np.asarray(link_loads, dtype=float)
    if loads.shape != (mesh.n_cores, 4):
        raise ValueError(f"link_loads must have shape ({mesh.n_cores}, 4), got {loads.shape}.")
    xy = mesh.core_xy().astype(float)
    neighbours = mesh.neighbours()
    # Offset each direction sideways so both directions of a link show.
    side = {EAST: (0, -0.08), WEST: (0, 0.08), NORTH: (0.08, 0), SOUTH: (-0.08, 0)}
    segments, values = [], []
    for core in range(mesh.n_cores):
        for port in (EAST, WEST, NORTH, SOUTH):
            if neighbours[core, port] < 0:
                continue
            start = xy[core] + np.array(side[port]) + 0.2 * PORT_STEP[port]
            end = xy[core] + np.array(side[port]) + 0.8 * PORT_STEP[port]
            segments.append([start, end])
            values.append(loads[core, port])

    size = max(4.0, 0.45 * max(mesh.width, mesh.height))
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    lines = LineCollection(segments, array=np.asarray(values), cmap="viridis", lw=2.5)
    ax.add_collection(lines)
    ax.scatter(xy[:, 0], xy[:, 1], s=12, c="0.4", zorder=3)
    fig.colorbar(lines, ax=ax, label="packets per window")
    ax.set_xlim(-0.6, mesh.width - 0.4)
    ax.set_ylim(-0.6, mesh.height - 0.4)
    ax.set_aspect("equal")
    ax.set_xlabel("core x")
    ax.set_ylabel("core y")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_routing_comparison(study: dict, path: str | os.PathLike):
    """Compare routings and schemes across fault rates and save the figure.

    Four panels: delivered fraction (higher is better), energy, busiest link
    load and mean latency (lower is better), for the fault-free mesh and each
    fault rate, one line per (routing, scheme) with its 95 % interval. Schemes
    that share a routing deliver the same destinations, so their
    delivered-fraction lines coincide. An infinite mean (a saturated link makes
    the latency estimate infinite) is drawn as a triangle at the top of its
    panel.

    **Arguments:**

    - `study`: the dict returned by `run_routing_study`.
    - `path`: output file; the suffix picks the format.

    **Returns:** the matplotlib figure, already saved and closed.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        ("delivered_fraction", "delivered fraction (higher is better)"),
        ("energy_pj", "routing energy, pJ (lower is better)"),
        ("max_link_load", "busiest link, packets (lower is better)"),
        ("mean_latency_ns", "mean latency, ns (lower is better)"),
    )
    conditions = ["no faults"] + [
        f"links {entry['link_rate']:g}\nrouters {entry['router_rate']:g}" for entry in study["faults"]
    ]
    positions = np.arange(len(conditions))
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5))
    for ax, (metric, label) in zip(axes.ravel(), panels, strict=True):
        saturated = False
        for routing, by_scheme in study["fault_free"].items():
            for scheme, values in by_scheme.items():
                means = [values[metric]]
                low, high = [values[metric]], [values[metric]]
                for entry in study["faults"]:
                    stats = entry["results"][routing][scheme][metric]
                    means.append(stats["mean"])
                    low.append(stats["ci95_low"])
                    high.append(stats["ci95_high"])
                means, low, high = (np.asarray(v, dtype=float) for v in (means, low, high))
                line = ax.plot(positions, means, marker="o", label=f"{routing} {scheme}")
                ax.fill_between(positions, low, high, color=line[0].get_color(), alpha=0.2)
                infinite = np.isposinf(means)
                if np.any(infinite):
                    # A saturated link makes the latency infinite: mark it at the top of the panel.
                    ax.plot(
                        positions[infinite],
                        np.full(int(infinite.sum()), 0.97),
                        linestyle="none",
                        marker="^",
                        color=line[0].get_color(),
                        transform=ax.get_xaxis_transform(),
                        clip_on=False,
                    )
                    saturated = True
        if saturated:
            ax.text(0.5, 0.9, "triangle: infinite (a link saturated)", transform=ax.transAxes, ha="center")
        ax.set_xticks(positions, conditions, fontsize="small")
        ax.set_xlabel("fault rate (fraction of links and routers dead)")
        ax.set_ylabel(label)
    axes[0, 0].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return fig
