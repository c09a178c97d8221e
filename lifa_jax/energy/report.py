"""The Markdown report of `lifa energy`."""


def _nj(record: dict, component: str = "total") -> str:
    return f"{record['energy_per_inference'][f'{component}_pj'] / 1000.0:.1f}"


def _fraction(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _regime_table(records: list[dict]) -> list[str]:
    off = records[0]["energy_per_inference"]["total_pj"]
    lines = [
        "| regime | accuracy | agreement with ARR off | neuron updates | saved updates | synaptic ops | spikes "
        "| synaptic nJ | neuron nJ | spike nJ | astrocyte nJ | routing nJ | total nJ | pJ per spike | energy saved |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        events = r["events_per_inference"]
        energy = r["energy_per_inference"]
        per_spike = "n/a" if energy["per_spike_pj"] is None else f"{energy['per_spike_pj']:.1f}"
        saved = 100.0 * (1.0 - energy["total_pj"] / off) if off > 0 else 0.0
        lines.append(
            f"| {r['regime']} | {_fraction(r['accuracy'])} | {_fraction(r['agreement'])} "
            f"| {sum(events['neuron_updates']):.1f} | {100 * r['saved_update_fraction']:.1f} % "
            f"| {sum(events['synaptic_ops']):.1f} | {sum(events['spikes']):.1f} "
            f"| {_nj(r, 'synaptic')} | {_nj(r, 'neuron')} | {_nj(r, 'spike')} | {_nj(r, 'astrocyte')} "
            f"| {_nj(r, 'routing')} | {_nj(r)} | {per_spike} | {saved:.1f} % |"
        )
    return lines


def _sweep_table(sweep: list[dict], baseline: dict, spikes_per_calcium: float) -> list[str]:
    reference_energy = baseline["energy_per_inference"]["total_pj"]
    reference_accuracy = baseline["accuracy"]
    lines = [
        "| c_gate | domain spikes to stay on | accuracy | accuracy lost (points) | agreement with ARR off "
        "| saved updates | total nJ | energy saved vs ARR off |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in sweep:
        lost = "n/a"
        if r["accuracy"] is not None and reference_accuracy is not None:
            lost = f"{100 * (reference_accuracy - r['accuracy']):.1f}"
        saved = 100.0 * (1.0 - r["energy_per_inference"]["total_pj"] / reference_energy) if reference_energy else 0.0
        lines.append(
            f"| {r['c_gate']:g} | {max(r['c_gate'], 0.0) * spikes_per_calcium:.1f} | {_fraction(r['accuracy'])} "
            f"| {lost} | {_fraction(r['agreement'])} | {100 * r['saved_update_fraction']:.1f} % | {_nj(r)} | {saved:.1f} % |"
        )
    return lines


def render_report(summary: dict) -> str:
    """Return `report.md` for a `lifa energy` summary."""
    network = summary["network"]
    table = summary["cost_table"]
    mesh = summary["mesh"]
    gating = summary["gating"]
    spikes_per_calcium = network["tau_c_ms"] / network["kappa_c_ms"]
    source = (
        "loaded from " + str(network["checkpoint"])
        if network["source"] == "checkpoint"
        else (
            f"trained for {network['training_epochs']} epochs (final training accuracy "
            f"{network['final_train_accuracy']:.4f})"
        )
    )
    routing = (
        f"{summary['scheme']} packets along XY routes on a {mesh['width']}x{mesh['height']} mesh with "
        f"{mesh['n_max']} neurons per core (contiguous blocks, inputs first, placed core after core)"
        if mesh
        else "not counted (no mesh)"
    )
    totals = [r["energy_per_inference"]["total_pj"] for r in summary["sweep"]]
    monotone = all(b <= a for a, b in zip(totals, totals[1:]))
    lines = [
        f"# lifa energy: digits {'-'.join(map(str, network['topology']))}",
        "",
        f"Network {source}; {network['test_samples']} test samples, T = {network['steps']} steps of "
        f"{network['dt_ms']} ms, seed {summary['seed']}.",
        "",
        f"Cost table **{table['name']}** ({table['node']}): synaptic op {table['synaptic_op_pj']:g} pJ, "
        f"neuron update {table['neuron_update_pj']:g} pJ, spike {table['spike_pj']:g} pJ, astrocyte update "
        f"{table['astrocyte_update_pj']:g} pJ, hop {table['hop_x_pj']:g} pJ along x and {table['hop_y_pj']:g} pJ "
        f"along y, router {table['router_pj']:g} pJ. Source: {table['source']}",
        "",
        f"Routing: {routing}.",
        "",
        "## Energy per inference",
        "",
        "Lower energy is better; higher accuracy and agreement are better. Counts are per inference.",
        "",
        *_regime_table(summary["digits"]),
        "",
        "- ARR off: every neuron is updated on every step.",
        "- ARR level 1: a neuron that receives no spike on a step is not updated; its leak and refractory "
        "steps are applied exactly when it is next updated, so spikes and predictions equal ARR off.",
        f"- ARR level 2: level 1, and each astrocyte switches its domain off (no updates, no spikes, no "
        f"synaptic ops onto it) from step {gating['probe_steps']} on while its calcium is below "
        f"c_gate = {gating['c_gate']:g} and it has not released gliotransmitter. The output layer is never "
        "switched off.",
        "- Synaptic ops are (presynaptic spike, synapse) pairs onto neurons that are on; spikes are those of "
        "hidden and output neurons (input spikes cost synaptic ops and routing only). Energy per spike "
        "divides the total by those spikes. Astrocytes are updated on every step in every regime.",
        "",
        "## Domain gating sweep (ARR level 2)",
        "",
        f"One domain spike raises calcium by kappa_c / tau_c = {1 / spikes_per_calcium:g}, so c_gate corresponds "
        f"to about c_gate x {spikes_per_calcium:g} domain spikes during the first {gating['probe_steps']} steps "
        "(calcium barely leaks within one sample). Accuracy lost is measured against ARR off.",
        "",
        *_sweep_table(summary["sweep"], summary["digits"][0], spikes_per_calcium),
        "",
        f"Energy {'falls monotonically' if monotone else 'does not fall monotonically'} with c_gate in this sweep.",
        "",
    ]
    large = summary.get("large")
    if large:
        large_mesh = large["mesh"]
        lines += [
            f"## Untrained {'-'.join(map(str, large['topology']))} network",
            "",
            f"Weights are {large['weights']}, not trained; inputs are {large['inputs']}, {large['samples']} samples "
            f"of {network['steps']} steps. Accuracy is undefined for untrained weights; agreement compares the "
            "predicted output neuron with ARR off."
            + (
                f" Spikes routed on a {large_mesh['width']}x{large_mesh['height']} mesh with {large_mesh['n_max']} "
                "neurons per core."
                if large_mesh
                else ""
            ),
            "",
            *_regime_table(large["regimes"]),
            "",
        ]
    lines += [
        "## Files",
        "",
        "- `energy_components.png`: energy per inference by component, one bar per regime.",
        "- `accuracy_vs_energy.png`: accuracy against energy for the c_gate sweep, with ARR off and level 1.",
        "- `summary.json`: every number above, with per-layer event counts.",
        *(
            ["- `model.eqx`: the network trained here; pass it to --checkpoint."]
            if network["source"] == "trained"
            else []
        ),
        "",
        "Timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in summary["timings_s"].items()) + ".",
        "",
    ]
    return "\n".join(lines)
