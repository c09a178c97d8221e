"""Figures of a run, drawn with matplotlib's non-interactive Agg backend."""

import io
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .atomic import atomic_write_bytes  # noqa: E402


def _save(fig, path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


def plot_ft_vs_rate(sweep: list[dict], path: str | os.PathLike) -> None:
    """Plot FT (%) against fault rate, without and with astrocyte repair, with 95 % bands."""
    kinds = list(dict.fromkeys(r["fault"] for r in sweep))
    fig, axes = plt.subplots(1, len(kinds), figsize=(5 * len(kinds), 4), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        rows = sorted((r for r in sweep if r["fault"] == kind), key=lambda r: r["rate"])
        rates = np.array([r["rate"] for r in rows])
        for field, label, color in (
            ("ft_no_repair", "without repair", "tab:red"),
            ("ft_repair", "with astrocyte repair", "tab:blue"),
        ):
            if any(r[field] is None for r in rows):
                continue
            mean = np.array([r[field]["mean"] for r in rows])
            half = np.array([r[field]["ci95"] or 0.0 for r in rows])
            ax.plot(rates, mean, "o-", color=color, label=label)
            ax.fill_between(rates, mean - half, mean + half, color=color, alpha=0.2)
        # Each kind of a combination goes on its own line, so long titles do not run into the next panel.
        name = kind.replace("_", " ").replace("+", " +\n")
        ax.set_title(f"{name}\n({rows[0]['masks']} masks per rate)")
        unit = "per bit" if "bitflip" in kind else "fraction of units"
        ax.set_xlabel(f"fault rate ({unit})")
        ax.set_ylabel("fault tolerance FT (%), higher is better")
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path)


def plot_raster(trace, path: str | os.PathLike, *, dt: float, title: str) -> None:
    """Plot a spike raster of every layer with the astrocytes' calcium and gliotransmitter."""
    n_layers = len(trace.spikes)
    fig, axes = plt.subplots(n_layers + 3, 1, figsize=(9, 2.0 * (n_layers + 3)), sharex=True)
    steps = np.asarray(trace.input_spikes).shape[0]
    t = np.arange(steps) * dt

    rasters = [("input", np.asarray(trace.input_spikes))] + [
        (f"layer {i + 1}" + (" (output)" if i == n_layers - 1 else ""), np.asarray(s))
        for i, s in enumerate(trace.spikes)
    ]
    for ax, (label, spikes) in zip(axes, rasters):
        times, neurons = np.nonzero(spikes)
        ax.scatter(times * dt, neurons, s=2, color="black", marker="|")
        ax.set_ylabel(f"{label}\nneuron")
        ax.set_ylim(-1, spikes.shape[1])

    calcium = np.concatenate([np.asarray(c) for c in trace.calcium], axis=1)
    glio = np.concatenate([np.asarray(g) for g in trace.gliotransmitter], axis=1)
    axes[-2].plot(t, calcium, lw=0.8)
    axes[-2].set_ylabel("astrocyte\ncalcium C")
    axes[-1].plot(t, glio, lw=0.8)
    axes[-1].set_ylabel("gliotransmitter G")
    axes[-1].set_xlabel("time (ms)")
    axes[0].set_title(title)
    _save(fig, path)


def plot_training(history: dict, path: str | os.PathLike) -> None:
    """Plot training loss and accuracy per epoch."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(history["loss"])
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss")
    ax2.plot(history["accuracy"])
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    _save(fig, path)


def plot_sensitivity(drops, path: str | os.PathLike) -> None:
    """Plot the accuracy drop caused by each neuron failing alone, per layer, sorted."""
    fig, axes = plt.subplots(1, len(drops), figsize=(5 * len(drops), 3.5), squeeze=False)
    for layer, (ax, drop) in enumerate(zip(axes[0], drops)):
        drop = np.asarray(drop)
        order = np.argsort(-drop)
        ax.bar(np.arange(drop.size), drop[order] * 100.0, color="tab:purple")
        ax.set_title(f"layer {layer + 1}: single-neuron faults")
        ax.set_xlabel("neurons, most critical first")
        ax.set_ylabel("accuracy drop (points), lower is better")
        ax.grid(alpha=0.3)
    _save(fig, path)
