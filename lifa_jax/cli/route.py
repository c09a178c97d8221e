"""`lifa route`: route a trained network's spikes on a core mesh, with and without dead links and routers."""

import math
import pathlib
import sys
import time

from .common import (
    DefaultsHelpFormatter,
    UserError,
    add_output_arguments,
    default_out_dir,
    input_paths,
    parse_float_list,
    staged_output,
)
from .energy import (
    add_mesh_arguments,
    add_network_arguments,
    encode_test_set,
    network_setup,
    parse_mesh,
    save_trained,
    train_if_needed,
)

ROUTINGS = ("xy", "up_down", "shortest_path")

# Settings that --quick changes, unless the option is given explicitly.
FULL = {"epochs": 30, "fault_rates": "0.05,0.1,0.2", "maps": 100}
QUICK = {"epochs": 8, "fault_rates": "0.1", "maps": 8}


def register(subparsers) -> None:
    """Add the `route` subcommand."""
    p = subparsers.add_parser(
        "route",
        help="route a trained network's spikes on a core mesh: unicast, multicast, broadcast, with and without faults",
        description=(
            "Record the spikes of a digits network (loaded with --checkpoint or trained first) on the test set, "
            "place it on a mesh of cores, and route its spikes with unicast, multicast and broadcast packets, "
            "on the fault-free mesh and under random dead links and routers. Reports delivered fraction, hops, "
            "energy, busiest link and latency. Writes summary.json, report.md and plots into --out."
        ),
        formatter_class=DefaultsHelpFormatter,
    )
    add_network_arguments(p, QUICK["epochs"])

    mesh = p.add_argument_group("mesh and faults")
    add_mesh_arguments(mesh, allow_none=False)
    mesh.add_argument(
        "--fault-rates",
        type=str,
        default=None,
        help="fractions of links and routers that die, each in [0, 1] (default 0.05,0.1,0.2; 0.1 with --quick)",
    )
    mesh.add_argument("--maps", type=int, default=None, help="random fault maps per rate (default 100, 8 with --quick)")
    mesh.add_argument(
        "--routings",
        type=str,
        default="xy,up_down",
        help=f"routing algorithms, comma-separated, from {', '.join(ROUTINGS)}",
    )
    add_output_arguments(p, "route")
    p.set_defaults(func=run)


def _routing(name: str):
    from ..routing import ShortestPathRouting, UpDownRouting, XYRouting

    return {"xy": XYRouting(), "up_down": UpDownRouting(), "shortest_path": ShortestPathRouting()}[name]


def options_from_args(args) -> dict:
    """Validate every `lifa route` option; raise `UserError` naming the first invalid one."""
    preset = QUICK if args.quick else FULL
    for name, value in preset.items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)

    rates = parse_float_list(args.fault_rates, "--fault-rates")
    bad = [r for r in rates if not (math.isfinite(r) and 0.0 <= r <= 1.0)]
    if bad:
        raise UserError(f"--fault-rates must lie in [0, 1], got {bad[0]!r}; pass fractions such as 0.05,0.1.")
    if args.maps < 1:
        raise UserError(f"--maps must be at least 1, got {args.maps}; pass the fault maps drawn per rate.")
    routings = [name.strip() for name in args.routings.split(",") if name.strip()]
    unknown = [name for name in routings if name not in ROUTINGS]
    if unknown or not routings:
        raise UserError(f"--routings must name routings from {', '.join(ROUTINGS)}, got {args.routings!r}.")

    setup = network_setup(args)
    mesh = parse_mesh(args.mesh, args.n_max, sum(setup.topology), allow_none=False)
    return {"setup": setup, "mesh": mesh, "rates": rates, "maps": args.maps, "routings": routings}


def run(args) -> int:
    """Execute `lifa route`."""
    options = options_from_args(args)
    out = args.out or default_out_dir("route")

    with staged_output(out, overwrite=args.overwrite, inputs=input_paths(args)) as staging:
        _run_in(options, staging, out)
    return 0


def replace_non_finite(value, path: str = "", replaced: list | None = None):
    """Return `value` with every infinite or NaN float replaced by None; append their paths to `replaced`."""
    replaced = [] if replaced is None else replaced
    if isinstance(value, dict):
        return {k: replace_non_finite(v, f"{path}/{k}", replaced) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [replace_non_finite(v, f"{path}/{i}", replaced) for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        replaced.append(path)
        return None
    return value


def _run_in(options: dict, staging: pathlib.Path, out: pathlib.Path) -> None:
    import jax
    import numpy as np

    from ..io import atomic_write_json, atomic_write_text
    from ..routing.study import plot_link_load, plot_routing_comparison, run_routing_study

    started = time.perf_counter()
    setup, mesh = options["setup"], options["mesh"]
    key = jax.random.key(setup.config.seed)
    k_init, k_train, k_test, k_route = jax.random.split(key, 4)

    network, history = train_if_needed(setup, key=(k_init, k_train))
    spikes, labels = encode_test_set(setup, key=k_test)
    print("recording spikes on the test set...", file=sys.stderr)
    predictions, counts = record_spike_counts(network, spikes)
    n_samples, steps = int(spikes.shape[0]), int(spikes.shape[1])
    duration_ms = n_samples * steps * network.dt

    print("routing (each routing algorithm compiles once)...", file=sys.stderr)
    study = run_routing_study(
        network.topology,
        counts,
        mesh=mesh,
        key=k_route,
        fault_rates=options["rates"],
        n_fault_maps=options["maps"],
        duration_ms=duration_ms,
        routings=tuple(_routing(name) for name in options["routings"]),
    )

    first = next(iter(study["fault_free_link_loads"]))
    for scheme, loads in study["fault_free_link_loads"][first].items():
        plot_link_load(
            loads,
            mesh,
            staging / f"link_load_{first}_{scheme}.png",
            title=f"{first} {scheme}, no faults: packets per link over {n_samples} samples",
        )
    plot_routing_comparison(study, staging / "routing_comparison.png")
    plot_schemes(study, n_samples, staging / "schemes.png")

    replaced = []
    clean = replace_non_finite({k: v for k, v in study.items() if k != "fault_free_link_loads"}, "", replaced)
    summary = {
        "network": {
            "topology": list(network.topology),
            "source": "checkpoint" if setup.checkpoint is not None else "trained",
            "checkpoint": None if setup.checkpoint is None else str(setup.checkpoint),
            "training_epochs": None if history is None else setup.config.epochs,
            "steps": steps,
            "dt_ms": network.dt,
            "test_samples": n_samples,
            "accuracy": float(np.mean(predictions == np.asarray(labels))),
            "spikes_per_inference": float(sum(c.sum() for c in counts)) / n_samples,
            "input_spikes_per_inference": float(counts[0].sum()) / n_samples,
        },
        "study": clean,
        "non_finite": {
            "replaced_with_null": replaced,
            "why": "latencies are infinite where the busiest link is saturated (utilisation >= 1), and a 95 % "
            "interval is undefined when a value is infinite; JSON has no infinity, so they are written as null",
        },
        "per_inference_note": "counts and energies in 'study' are over the whole recording window "
        f"({n_samples} samples, {duration_ms:g} ms); divide by {n_samples} for one inference",
        "seed": setup.config.seed,
        "timings_s": {"total": time.perf_counter() - started},
        "out": str(out),
    }
    atomic_write_json(staging / "summary.json", summary)
    atomic_write_text(staging / "report.md", render_report(summary, first))
    save_trained(setup, network, history, staging / "model.eqx")
    _print_summary(summary)


def record_spike_counts(network, spikes, chunk_size: int = 128):
    """Return the predicted class of every sample and the spikes per neuron over all samples (inputs first)."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import numpy as np

    from ..network import predict, simulate

    @eqx.filter_jit
    def chunk_counts(network, chunk):
        results = jax.vmap(lambda sample: simulate(network, sample))(chunk)
        return jax.vmap(predict)(results), tuple(jnp.sum(c, axis=0) for c in results.counts)

    n = spikes.shape[0]
    chunk_size = min(chunk_size, n)
    predictions, counts = [], [np.asarray(jnp.sum(spikes, axis=(0, 1)))]
    for start in range(0, n, chunk_size):
        chunk = spikes[start : start + chunk_size]
        real = chunk.shape[0]
        # Pad the last chunk with empty samples (no input, so no spikes), so one shape is compiled.
        chunk = jnp.concatenate([chunk, jnp.zeros((chunk_size - real, *chunk.shape[1:]), chunk.dtype)])
        preds, layer_counts = chunk_counts(network, chunk)
        predictions.append(np.asarray(preds)[:real])
        if len(counts) == 1:
            counts += [np.asarray(c) for c in layer_counts]
        else:
            counts[1:] = [a + np.asarray(b) for a, b in zip(counts[1:], layer_counts)]
    return np.concatenate(predictions), counts


def plot_schemes(study: dict, n_samples: int, path) -> None:
    """Draw delivered fraction, mean hops and energy per inference per routing and scheme, for each condition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    conditions = ["no faults"] + [f"links {e['link_rate']:g}, routers {e['router_rate']:g}" for e in study["faults"]]
    pairs = [(r, s) for r, by_scheme in study["fault_free"].items() for s in by_scheme]
    panels = (
        ("delivered_fraction", "delivered fraction (higher is better)", 1.0),
        ("mean_hops", "mean hops per delivered pair", 1.0),
        ("energy_pj", "routing energy per inference, nJ (lower is better)", 1.0 / (1000.0 * n_samples)),
    )
    width = 0.8 / len(conditions)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, (metric, label, scale) in zip(axes, panels, strict=True):
        positions = np.arange(len(pairs))
        for index, condition in enumerate(conditions):
            values = []
            for routing, scheme in pairs:
                if index == 0:
                    value = study["fault_free"][routing][scheme][metric]
                else:
                    value = study["faults"][index - 1]["results"][routing][scheme][metric]["mean"]
                values.append(value * scale if math.isfinite(value) else np.nan)
            ax.bar(positions + (index - (len(conditions) - 1) / 2) * width, values, width, label=condition)
        ax.set_xticks(positions, [f"{r}\n{s}" for r, s in pairs], fontsize="small")
        ax.set_ylabel(label)
    axes[0].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _stat(value, digits: int = 3) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        mean, low, high = value["mean"], value["ci95_low"], value["ci95_high"]
        if mean is None:
            return "null"
        if low is None or high is None:
            return f"{mean:.{digits}g}"
        return f"{mean:.{digits}g} [{low:.{digits}g}, {high:.{digits}g}]"
    return f"{value:.{digits}g}"


def render_report(summary: dict, link_load_routing: str) -> str:
    """Return `report.md` for a `lifa route` summary."""
    network, study = summary["network"], summary["study"]
    mesh = study["mesh"]
    n = network["test_samples"]
    source = (
        "loaded from " + network["checkpoint"]
        if network["source"] == "checkpoint"
        else (f"trained for {network['training_epochs']} epochs")
    )
    lines = [
        f"# lifa route: digits {'-'.join(map(str, network['topology']))} on a {mesh['width']}x{mesh['height']} mesh",
        "",
        f"Network {source}; test accuracy {network['accuracy']:.4f}. Spikes recorded on {n} test samples of "
        f"{network['steps']} steps of {network['dt_ms']} ms ({study['duration_ms']:g} ms in all): "
        f"{network['spikes_per_inference']:.1f} spikes per inference, input layer included.",
        "",
        f"{study['n_neurons']} neurons in {study['n_blocks']} contiguous blocks of at most {mesh['n_max']}, "
        f"placed by {study['placement']}; {study['enabled_astrocytes']} astrocytes enabled and "
        f"{study['disabled_astrocytes']} disabled (cores without neurons). Consecutive layers are fully connected; "
        f"{study['remote_deliveries']:.0f} (spike, remote core) deliveries and {study['local_deliveries']:.0f} "
        "served inside their own core.",
        "",
        "Costs come from lifa_jax.routing.HopCost: "
        f"{study['cost']['link_energy_pj_per_bit']:g} pJ/bit per link, {study['cost']['router_energy_pj_per_bit']:g} "
        f"pJ/bit per router, {study['cost']['bits_per_packet']:g}-bit packets, {study['cost']['router_delay_ns']:g} ns "
        "per router; these defaults are illustrative, not measured on a chip.",
        "",
        "## No faults",
        "",
        "Energy and packets are per inference (the window divided by the samples). Delivered fraction: higher is "
        "better; hops, energy, load and latency: lower is better.",
        "",
        "| routing | scheme | delivered fraction | packets | link traversals | mean hops | max hops "
        "| energy per inference (nJ) | busiest link (packets per window) | mean latency (ns) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for routing, by_scheme in study["fault_free"].items():
        for scheme, m in by_scheme.items():
            lines.append(
                f"| {routing} | {scheme} | {_stat(m['delivered_fraction'], 4)} | {m['packets'] / n:.1f} "
                f"| {m['link_traversals'] / n:.1f} | {_stat(m['mean_hops'])} | {_stat(m['max_hops'])} "
                f"| {m['energy_pj'] / n / 1000:.3f} | {_stat(m['max_link_load'])} | {_stat(m['mean_latency_ns'])} |"
            )
    for entry in study["faults"]:
        lines += [
            "",
            f"## Dead links {entry['link_rate']:g}, dead routers {entry['router_rate']:g} "
            f"({entry['n_fault_maps']} maps, mean [95 % interval])",
            "",
            "| routing | scheme | delivered fraction | unreachable pairs | mean hops | energy per inference (nJ) "
            "| mean latency (ns) |",
            "|---|---|---|---|---|---|---|",
        ]
        for routing, by_scheme in entry["results"].items():
            for scheme, m in by_scheme.items():
                energy = {k: (None if v is None else v / n / 1000) for k, v in m["energy_pj"].items()}
                lines.append(
                    f"| {routing} | {scheme} | {_stat(m['delivered_fraction'], 4)} | {_stat(m['unreachable_pairs'])} "
                    f"| {_stat(m['mean_hops'])} | {_stat(energy)} | {_stat(m['mean_latency_ns'])} |"
                )
    replaced = summary["non_finite"]["replaced_with_null"]
    lines += [
        "",
        "XY routing is oblivious: a packet that meets a dead link or router is dropped, and the hops it made "
        "still count. Up*/down* and shortest-path routing take the shortest surviving path and report "
        "destinations outside the source's connected component as unreachable.",
        "",
        f"Non-finite values written as null in summary.json: {len(replaced)}"
        + (f" ({', '.join(replaced[:5])}{', ...' if len(replaced) > 5 else ''})." if replaced else "."),
        "",
        "## Files",
        "",
        "- `schemes.png`: delivered fraction, mean hops and energy per inference for every routing and scheme.",
        "- `routing_comparison.png`: delivered fraction, energy, busiest link and latency against the fault rate.",
        f"- `link_load_{link_load_routing}_*.png`: packets on every directed link, no faults, one map per scheme.",
        "- `summary.json`: every number above.",
    ]
    if network["source"] == "trained":
        lines.append("- `model.eqx`: the network trained here; pass it to --checkpoint.")
    lines.append("")
    return "\n".join(lines)


def _print_summary(summary: dict) -> None:
    study = summary["study"]
    n = summary["network"]["test_samples"]
    print(
        f"test accuracy {summary['network']['accuracy']:.4f}; routing on a {study['mesh']['width']}x{study['mesh']['height']} mesh"
    )
    for routing, by_scheme in study["fault_free"].items():
        for scheme, m in by_scheme.items():
            worst = (
                study["faults"][-1]["results"][routing][scheme]["delivered_fraction"]["mean"]
                if study["faults"]
                else None
            )
            worst_text = "" if worst is None else f", delivered {worst:.4f} at the highest fault rate"
            print(
                f"{routing:<14}{scheme:<10} energy {m['energy_pj'] / n / 1000:8.3f} nJ/inference, "
                f"mean hops {m['mean_hops']:.2f}{worst_text} (delivered fraction: higher is better)"
            )
    print(f"elapsed {summary['timings_s']['total']:.1f} s")


__all__ = ["register", "run", "options_from_args", "replace_non_finite"]
