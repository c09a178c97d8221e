"""The Markdown report of a run."""

import json


def _fmt(stat: dict | None, digits: int = 2, scale: float = 1.0) -> str:
    if stat is None or stat.get("mean") is None:
        return "undefined"
    text = f"{stat['mean'] * scale:.{digits}f}"
    if stat.get("low") is not None and stat.get("high") is not None:
        # A bootstrap percentile interval need not be symmetric about the mean.
        text += f" [{stat['low'] * scale:.{digits}f}, {stat['high'] * scale:.{digits}f}]"
    elif stat.get("ci95") is not None:
        text += f" ± {stat['ci95'] * scale:.{digits}f}"
    return text


# Cell text of a repair metric in a campaign run without repair.
NO_REPAIR_CELL = "n/a (no repair run)"


def flagged_masks(record: dict) -> int:
    """Return how many masks of a sweep record have a nonzero status (0 when the record has no status counts)."""
    status = record.get("status")
    if not isinstance(status, dict):
        return 0
    return record["masks"] - status.get("ok", record["masks"])


def _repair_cell(stat: dict | None, repaired: bool, digits: int = 2) -> str:
    return _fmt(stat, digits) if repaired else NO_REPAIR_CELL


def _deviation_cell(record: dict) -> str:
    """Return the D cell: 100 - FT repair, or 100 - FT no repair marked "(no repair)" when repair was not run."""
    if record.get("ft_repair") is not None or record.get("deviation_no_repair") is None:
        return _fmt(record.get("deviation"))
    text = _fmt(record["deviation_no_repair"])
    return text if text == "undefined" else f"{text} (no repair)"


def reference_row(sweep: list[dict], kind: str = "neuron_dead", rate: float = 0.3) -> dict | None:
    """Return the sweep entry used for the FT row of the Table I summary."""
    rows = [r for r in sweep if r["fault"] == kind]
    if not rows:
        rows = sweep
    return min(rows, key=lambda r: abs(r["rate"] - rate)) if rows else None


def render_report(summary: dict) -> str:
    """Return `report.md`: the LIFA paper's Table I rows for this run and the sweep table."""
    ref = reference_row(summary["sweep"])
    lines = [
        f"# lifa run: {summary['dataset']}",
        "",
        f"Topology {'-'.join(map(str, summary['topology']))}, T = {summary['steps']} steps of "
        f"{summary['dt_ms']} ms, seed {summary['seed']}, {summary['samples']['test']} test samples.",
        "",
        "## Table I of Yunusoglu et al. (2025), for this run",
        "",
        "| quantity | this run | LIFA paper | how it was measured here |",
        "|---|---|---|---|",
        f"| topology | {'-'.join(map(str, summary['topology']))} | 1024-768-2048-512-100 | layer sizes, input first |",
        f"| neurons | {summary['neurons']} | 4452 | sum of all layer sizes, input layer included |",
        f"| synapses (weights) | {summary['synapses']:,} | 3,459,072 | dense weights, no biases |",
        f"| synapses (paper convention) | {summary['synapses_paper_convention']:,} | 6,918,144 | twice the weights, "
        "as the paper counts them |",
        f"| astrocytes | {summary['astrocytes']} | not stated | contiguous domains of "
        f"{summary['neurons_per_astrocyte']} neurons in hidden and output layers |",
        f"| MACs per step | {summary['macs_per_step']:,} | 6.9 M | one multiply-accumulate per weight per step (dense) |",
        f"| synaptic events per step | {summary['synaptic_events_per_step']:,.0f} | not stated | measured spikes times "
        "fan-out, mean over test samples |",
        f"| latency per sample | {summary['latency_s_per_sample']:.3g} s | 9.038 s | best of 3 timed batched runs over the "
        f"test set / samples, on {summary['device']} |",
        f"| throughput | {summary['throughput_neurons_per_s']:,.0f} neurons/s | 492.56 neurons/s | neurons / latency per sample |",
        f"| average spike frequency | {summary['avg_spike_frequency_hz']:.2f} Hz | 2.173 Hz | spikes / (neurons x T x dt), "
        "hidden and output neurons, test set |",
        f"| fault-free accuracy | {summary['accuracy_fault_free']:.4f} | not stated | test set, regular input coding |",
    ]
    if ref is not None:
        lines += [
            f"| FT without astrocytes | {_fmt(ref['ft_no_repair'])} % | 63.11 % | {ref['fault']} at rate {ref['rate']:g}, "
            f"{ref['masks']} masks, mean ± 95 % CI |",
            f"| FT with astrocytes | {_fmt(ref['ft_repair'])} % | 81.10 % | same masks and inputs, homeostatic repair |",
            f"| output deviation D | {_fmt(ref['deviation'])} % | 18.90 % | 100 - FT with astrocytes, lower is better |",
        ]
    lines += [
        "",
        "The paper's figures were measured on its own network and hardware (an RTX 3060 GPU and a Core i9 CPU); "
        "they are listed for orientation, not as targets of this run.",
        "",
        "## Fault sweep",
        "",
    ]
    lines += _sweep_table(summary["sweep"])
    lines += [
        "",
        "Figures: `ft_vs_rate.png` (FT against fault rate with 95 % bands), `raster.png` (spikes, astrocyte calcium "
        "and gliotransmitter for one test sample), `training.png` (loss and accuracy per epoch, when trained).",
        "",
    ]
    return "\n".join(lines)


def _sweep_table(sweep: list[dict]) -> list[str]:
    legend = (
        "Accuracy and FT are higher-is-better, D is lower-is-better, R (share of the lost accuracy won back by repair) "
        "is higher-is-better. Each cell is the mean ± the half-width of its 95 % confidence interval over masks "
        "(Student t). R is the ratio of the mean accuracies with its bootstrap 95 % interval [low, high], which "
        "need not be symmetric. R is undefined when the faults cost less than one test sample on average."
    )
    if any(r.get("ft_repair") is None for r in sweep):
        legend += (
            " Where repair was not run, D is 100 - FT no repair, marked (no repair), and the repair columns read "
            f"{NO_REPAIR_CELL}."
        )
    lines = [
        legend,
        "",
        "| fault | rate | masks | accuracy, no repair | accuracy, repair | FT no repair (%) | FT repair (%) | D (%) | R (%) | masks flagged |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sweep:
        repaired = r.get("ft_repair") is not None
        lines.append(
            f"| {r['fault']} | {r['rate']:g} | {r['masks']} | {_fmt(r['accuracy_no_repair'], 4)} | "
            f"{_repair_cell(r['accuracy_repair'], repaired, 4)} | {_fmt(r['ft_no_repair'])} | "
            f"{_repair_cell(r['ft_repair'], repaired)} | {_deviation_cell(r)} | "
            f"{_repair_cell(r['recovery'], repaired, 1)} | {flagged_masks(r)} |"
        )
    return lines


def _describe_engine(engine: str, capacity) -> str:
    """Return one sentence naming a sweep engine and, for the differential engine, its capacity."""
    if engine == "event":
        return (
            "Engine: event (the differential engine's masks, each simulated event-driven on the CPU: weight rows "
            "are summed only for the spikes that fire or differ from the fault-free run)."
        )
    if engine != "differential":
        return f"Engine: {engine} (every mask simulates the whole network)."
    if capacity is None or (isinstance(capacity, list) and all(c is None for c in capacity)):
        limit = "capacity none (a dense product through the faulty weights in every hidden layer)"
    elif isinstance(capacity, list):
        values = ", ".join("none" if c is None else str(c) for c in capacity)
        limit = f"capacity {values} changed spikes per mask, one value per hidden layer (none: a dense product)"
    else:
        limit = f"capacity {capacity} changed spikes per mask in every hidden layer"
    return (
        f"Engine: differential, {limit}. Each mask's differences are propagated from one fault-free run, and "
        "masks that overflow the capacity are evaluated again with the dense engine."
    )


_TIMING_LABELS = {"data": "data", "model": "model", "sweep": "sweep", "sensitivity_map": "sensitivity map"}


def _timings_line(summary: dict) -> list[str]:
    timings = summary.get("timings_s")
    if not timings:
        return []
    parts = [f"{label} {timings[key]:.1f} s" for key, label in _TIMING_LABELS.items() if key in timings]
    return [
        "",
        f"Wall-clock time of the run that wrote these outputs: {', '.join(parts)}; total {timings['total']:.1f} s. "
        f"The model was {summary.get('model_source', 'not recorded')}. A resumed run counts only its own work, "
        "so chunks written before the interruption are not included.",
    ]


def _option_text(value) -> str:
    """Return a fault field's value as written in a TOML [fault_options.KIND] table (None as none)."""
    if value is None:
        return "none"
    return json.dumps(value)


def _settings_lines(summary: dict) -> list[str]:
    """Return the lines naming each fault kind's fields and the sampling settings, for reproducing a run."""
    config = summary.get("config", {})
    options = summary.get("fault_options")
    if not options:
        return []
    lines = ["", "Fault kinds and their fields (as built, defaults included):", ""]
    for kind, fields in options.items():
        values = ", ".join(f"{name} = {_option_text(value)}" for name, value in fields.items())
        lines.append(f"- {kind}: {values}" if values else f"- {kind}")
    if config:
        lines += [
            "",
            f"{config.get('masks')} masks per kind and rate {_chunk_text(config.get('masks'), config.get('chunk_size'))}; "
            f"{'transient' if config.get('transient') else 'permanent'} faults; "
            f"seed {config.get('run', {}).get('seed', 'not recorded')}.",
        ]
    return lines


def render_sweep_report(summary: dict) -> str:
    """Return `report.md` of a `lifa sweep` campaign."""
    config = summary.get("config", {})
    engine = summary.get("engine", config.get("engine", "dense"))
    capacity = summary.get("capacity", config.get("engine_options", {}).get("capacity"))
    lines = [
        f"# lifa sweep: {summary['dataset']}",
        "",
        f"Topology {'-'.join(map(str, summary['topology']))}; fault-free accuracy "
        f"{summary['accuracy_fault_free']:.4f}; astrocyte repair {'on' if summary['repair'] else 'off'}. "
        f"Per-mask results are in `{summary['dataset_file']}` (xarray, netCDF).",
        "",
        _describe_engine(engine, capacity),
    ]
    lines += _settings_lines(summary)
    lines += _timings_line(summary)
    lines += ["", "## Fault sweep", ""]
    lines += _sweep_table(summary["sweep"])
    lines += ["", "## Most critical neurons (single-neuron faults)", ""]
    if summary["critical_neurons"] is None:
        lines += ["Not computed: the campaign ran with --no-sensitivity.", "", "Figure: `ft_vs_rate.png`.", ""]
        return "\n".join(lines)
    for entry in summary["critical_neurons"]:
        pairs = ", ".join(f"{n} ({d * 100:.1f})" for n, d in zip(entry["neurons"], entry["accuracy_drop"]))
        layer = entry["layer"]
        lines.append(
            f"- layer {layer + 1} after the input (`layer` {layer} in summary.json): {pairs} "
            "(neuron index, accuracy drop in points)"
        )
    lines += ["", "Figures: `ft_vs_rate.png`, `sensitivity.png`.", ""]
    return "\n".join(lines)


def _chunk_text(masks, chunk_size) -> str:
    """Return how the masks were split into chunks, "in one chunk" when they fit in one."""
    if isinstance(masks, int) and isinstance(chunk_size, int) and masks <= chunk_size:
        return "in one chunk"
    return f"in chunks of {chunk_size}"
