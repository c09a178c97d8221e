"""Plots and the Markdown report of the associative-memory study."""

import pathlib


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _ticker():
    """Return `matplotlib.ticker` (imported on first use, like pyplot)."""
    import matplotlib.ticker

    return matplotlib.ticker


def plot_quality_vs_load(summary: dict, path: pathlib.Path) -> None:
    """Plot recall quality of the classical network against the load K/N."""
    plt = _figure()
    record = summary["quality_vs_load"]
    n = record["n_neurons"]
    loads = [k / n for k in record["grid"]]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.errorbar(loads, record["quality"], yerr=record["quality_std"], marker="o", capsize=2, label=f"Hebbian, N = {n}")
    ax.axhline(0.95, color="grey", linestyle="--", linewidth=1, label="quality 0.95")
    ax.axvline(0.138, color="tab:red", linestyle=":", linewidth=1, label="0.138 (N to infinity)")
    ax.set_xlabel("load K / N")
    ax.set_ylabel("mean recall quality m (higher is better)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_capacity_vs_size(summary: dict, path: pathlib.Path) -> None:
    """Plot capacity K (patterns) against N on log-log axes for both memories."""
    plt = _figure()
    record = summary["capacity_vs_size"]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, label in (("classical", "classical Hopfield"), ("dense", "neuron-astrocyte (dense, quartic)")):
        points = [(r["n_neurons"], r["n_patterns"]) for r in record[name] if r["n_patterns"] > 0]
        if not points:
            continue
        sizes, capacities = zip(*points, strict=True)
        fit = record[f"fit_{name}"]
        suffix = "" if fit is None else f", K ~ N^{fit['exponent']:.2f}"
        ax.loglog(sizes, capacities, marker="o", label=label + suffix)
    sizes = [r["n_neurons"] for r in record["classical"]]
    ax.loglog(sizes, [0.138 * n for n in sizes], color="grey", linestyle=":", label="0.138 N")
    # Label the swept sizes only; the default log-axis minor labels overlap.
    ax.set_xticks(sizes, labels=[str(n) for n in sizes])
    ax.xaxis.set_minor_formatter(_ticker().NullFormatter())
    ax.set_xlabel("neurons N")
    ax.set_ylabel("capacity K at quality >= 0.95")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_quality_vs_kept(summary: dict, path: pathlib.Path) -> None:
    """Plot recall quality against the fraction of connections kept."""
    plt = _figure()
    record = summary["dilution"]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    styles = {"random": "-", "magnitude": "--"}
    for model, label in (("classical", "classical"), ("dense", "neuron-astrocyte")):
        for kind in ("random", "magnitude"):
            rows = sorted((r["keep"], r[f"{model}_quality"]) for r in record["records"] if r["dilution"] == kind)
            keep, quality = zip(*rows, strict=True)
            size = record[model]
            ax.plot(
                keep,
                quality,
                marker="o",
                linestyle=styles[kind],
                label=f"{label} N={size['n_neurons']} K={size['n_patterns']}, {kind}",
            )
    ax.set_xlabel("fraction of connections kept")
    ax.set_ylabel("mean recall quality m (higher is better)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_recall_vs_fault_rate(summary: dict, path: pathlib.Path) -> None:
    """Plot spiking recall quality against fault rate with and without astrocyte repair."""
    plt = _figure()
    records = summary["faults"]["records"]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), sharey=True)
    for ax, kind, title in zip(axes, ("neuron_dead", "synapse_dead"), ("dead neurons", "dead synapses"), strict=True):
        rows = [r for r in records if r["fault"] == kind]
        rates = [r["rate"] for r in rows]
        for field, label in (("quality_no_repair", "without astrocyte repair"), ("quality_repair", "with repair")):
            means = [r[field]["mean"] for r in rows]
            lower = [m - (r[field]["ci95"] or [m, m])[0] for m, r in zip(means, rows, strict=True)]
            upper = [(r[field]["ci95"] or [m, m])[1] - m for m, r in zip(means, rows, strict=True)]
            ax.errorbar(rates, means, yerr=[lower, upper], marker="o", capsize=2, label=label)
        ax.set_title(title)
        ax.set_xlabel("fault rate (fraction of units)")
    axes[0].set_ylabel("mean recall quality m (higher is better)")
    axes[0].set_ylim(0, 1.02)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


PLOTS = {
    "quality_vs_load.png": plot_quality_vs_load,
    "capacity_vs_size.png": plot_capacity_vs_size,
    "quality_vs_kept.png": plot_quality_vs_kept,
    "recall_vs_fault_rate.png": plot_recall_vs_fault_rate,
}


def _fmt(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _ci(stat: dict | None) -> str:
    if stat is None:
        return "n/a"
    if stat["ci95"] is None:
        return f"{stat['mean']:.3f}"
    low, high = stat["ci95"]
    return f"{stat['mean']:.3f} [{low:.3f}, {high:.3f}]"


def render_report(summary: dict) -> str:
    """Return the study's report as Markdown."""
    config = summary["config"]
    lines = ["# Associative memory study", ""]
    lines += [
        f"Seed {config['seed']}; cues have {config['cue_noise']:g} of their bits flipped; "
        f"{config['n_trials']} trials x {config['n_cues']} cues per point. Recall quality "
        "m = clip(xi . s / N, 0, 1): 1 is perfect recall (higher is better).",
        "",
    ]

    record = summary["quality_vs_load"]
    lines += ["## Classical Hopfield network: quality against load", ""]
    lines += [
        f"N = {record['n_neurons']}, Hebbian rule, synchronous recall. Capacity (largest swept load with "
        f"mean quality >= 0.95): {record['load']:.3f}; interpolated crossing "
        f"{_fmt(record['load_interpolated'])} (0.138 for N to infinity, Amit, Gutfreund & Sompolinsky 1985).",
        "",
        "| K | K/N | quality | 2-cycles |",
        "|---|---|---|---|",
    ]
    for k, q, cyc in zip(record["grid"], record["quality"], record["two_cycle_fraction"], strict=True):
        lines.append(f"| {k} | {k / record['n_neurons']:.3f} | {q:.3f} | {cyc:.2f} |")
    lines += ["", "![quality against load](quality_vs_load.png)", ""]

    record = summary["capacity_vs_size"]
    lines += ["## Capacity against network size", ""]
    lines += [
        "| N | classical K | classical K/N | neuron-astrocyte K | neuron-astrocyte K/N |",
        "|---|---|---|---|---|",
    ]
    for c, d in zip(record["classical"], record["dense"], strict=True):
        n = c["n_neurons"]
        bound = "" if d["bounded"] else " (lower bound)"
        lines.append(f"| {n} | {c['n_patterns']} | {c['load']:.3f} | {d['n_patterns']}{bound} | {d['load']:.2f} |")
    for name, label in (("fit_classical", "classical"), ("fit_dense", "neuron-astrocyte")):
        fit = record[name]
        if fit is not None:
            lines.append(f"\nFit {label}: K = {fit['prefactor']:.3g} N^{fit['exponent']:.2f}.")
    lines += [
        "",
        "The neuron-astrocyte capacity is measured on its reduced form, the quartic dense "
        "associative memory (see the ODE check below).",
        "",
        "![capacity against size](capacity_vs_size.png)",
        "",
    ]

    record = summary["dilution"]
    lines += ["## Fewer connections", ""]
    lines += [
        f"Classical: N = {record['classical']['n_neurons']}, K = {record['classical']['n_patterns']}. "
        f"Neuron-astrocyte (dense): N = {record['dense']['n_neurons']}, K = {record['dense']['n_patterns']}.",
        "",
        "| dilution | kept | classical quality | neuron-astrocyte quality |",
        "|---|---|---|---|",
    ]
    for r in record["records"]:
        lines.append(f"| {r['dilution']} | {r['keep']:g} | {r['classical_quality']:.3f} | {r['dense_quality']:.3f} |")
    lines += ["", "![quality against connections kept](quality_vs_kept.png)", ""]

    record = summary["faults"]
    lines += ["## Spiking memory under faults, with and without astrocyte repair", ""]
    lines += [
        f"N = {record['n_neurons']} LIF neurons, K = {record['n_patterns']} patterns, "
        f"{record['n_astrocytes']} LIFA astrocytes on contiguous domains, {record['masks']} masks per point, "
        f"{record['repair_passes']} repair passes. Quality mean [95 % CI over masks]; recovery "
        "R = 100 (A_r - A_f) / (A_ff - A_f), higher is better. A dead neuron reads as -1, so quality "
        "under dead neurons stays below about 1 - rate even with repair.",
        "",
        "| fault | rate | fault-free | no repair | repair | R % | mean gain |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in record["records"]:
        lines.append(
            f"| {r['fault']} | {r['rate']:g} | {r['quality_fault_free']:.3f} | {_ci(r['quality_no_repair'])} | "
            f"{_ci(r['quality_repair'])} | {_ci(r['recovery_percent'])} | {r['mean_gain']:.2f} |"
        )
    lines += ["", "![recall against fault rate](recall_vs_fault_rate.png)", ""]

    record = summary["cost"]
    lines += ["## Storage and write cost", ""]
    lines += [
        f"Weights of {record['bits_per_weight']} bits. Write energy: every stored bit written once.",
        "",
        "| model | weight bits | pattern bits | state bits | "
        + " | ".join(f"write energy, {t['name']} (J)" for t in record["technologies"])
        + " |",
        "|---|---|---|---|" + "---|" * len(record["technologies"]),
    ]
    for f in record["footprints"]:
        energies = " | ".join(f"{f['write_energy_j'][t['name']]:.3g}" for t in record["technologies"])
        lines.append(f"| {f['model']} | {f['weight_bits']} | {f['pattern_bits']} | {f['state_bits']} | {energies} |")
    lines += [
        "",
        "| technology | C per bit (F) | E per bit (J) | C per weight (F) | E per weight (J) | node | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in record["technologies"]:
        source = t["source"] + (" (includes estimates)" if t["estimate"] else "")
        lines.append(
            f"| {t['name']} | {t['capacitance_per_bit_f']:.3g} | {t['energy_per_bit_j']:.3g} | "
            f"{t['capacitance_per_weight_f']:.3g} | {t['energy_per_weight_j']:.3g} | {t['node']} | {source} |"
        )
    lines.append("")

    if "ode_check" in summary:
        record = summary["ode_check"]
        lines += ["## Neuron-astrocyte ODE against its dense reduction", ""]
        lines += [
            f"N = {record['n_neurons']}, cue noise {record['cue_noise']:g}.",
            "",
            "| K | ODE quality | dense quality | ODE solver failures |",
            "|---|---|---|---|",
        ]
        for k, q_ode, q_dense, failed in zip(
            record["n_patterns"],
            record["ode_quality"],
            record["dense_quality"],
            record["ode_solver_failed_fraction"],
            strict=True,
        ):
            lines.append(f"| {k} | {q_ode:.3f} | {q_dense:.3f} | {failed:.2f} |")
        lines.append("")
    return "\n".join(lines)
