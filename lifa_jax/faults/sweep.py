"""Fault sweeps: many masks per fault kind and rate, with and without astrocyte repair."""

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..network import NetworkFaults, SpikingNetwork, predict, simulate
from ..repair import HomeostaticRepair, SetPoints
from .specs import AbstractFault, draw_faults


class MaskResult(eqx.Module):
    """Accuracies under one fault mask (or a batch of masks, leading axis)."""

    accuracy_no_repair: Float[Array, "..."]
    accuracy_repair: Float[Array, "..."]


def accuracy_under(
    network: SpikingNetwork,
    spikes: Float[Array, "samples steps inputs"],
    labels: Int[Array, " samples"],
    faults: NetworkFaults,
    gains: tuple[Array, ...],
) -> Float[Array, ""]:
    """Return the accuracy of `network` with `faults` and `gains` on encoded inputs."""
    preds = jax.vmap(lambda s: predict(simulate(network, s, faults=faults, gains=gains)))(spikes)
    return jnp.mean(preds == labels)


def evaluate_mask(
    network: SpikingNetwork,
    faults: NetworkFaults,
    spikes: Array,
    labels: Array,
    repair: HomeostaticRepair | None,
    set_points: SetPoints | None,
    adapt_spikes: Array | None,
) -> MaskResult:
    """Return the accuracy under `faults` without repair and, when `repair` is given, with it."""
    a_f = accuracy_under(network, spikes, labels, faults, network.unit_gains())
    if repair is None:
        return MaskResult(a_f, jnp.full_like(a_f, jnp.nan))
    gains = repair.adapt(network, faults, set_points, adapt_spikes)
    a_r = accuracy_under(network, spikes, labels, faults, gains)
    return MaskResult(a_f, a_r)


def sweep_masks(
    network: SpikingNetwork,
    fault: AbstractFault,
    keys: PRNGKeyArray,
    spikes: Array,
    labels: Array,
    *,
    repair: HomeostaticRepair | None = None,
    set_points: SetPoints | None = None,
    adapt_spikes: Array | None = None,
    chunk_size: int = 16,
) -> MaskResult:
    """Evaluate one fault kind and rate under one mask per key, vmapped in chunks.

    `jax.lax.map` with `batch_size=chunk_size` vmaps `chunk_size` masks at a time, so
    memory is bounded by one chunk whatever the number of masks. Masks are drawn
    from `keys` inside the compiled function; the same keys give the same masks.

    **Returns:** a `MaskResult` whose fields have shape `(len(keys),)`.
    """

    def one(key):
        faults = draw_faults(network, fault, key=key)
        return evaluate_mask(network, faults, spikes, labels, repair, set_points, adapt_spikes)

    return jax.lax.map(one, keys, batch_size=chunk_size)


_sweep_masks_jit = eqx.filter_jit(sweep_masks)


def run_sweep(
    network: SpikingNetwork,
    faults: Sequence[AbstractFault],
    spikes: Array,
    labels: Array,
    *,
    n_masks: int,
    key: PRNGKeyArray,
    repair: HomeostaticRepair | None = None,
    set_points: SetPoints | None = None,
    adapt_spikes: Array | None = None,
    chunk_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict]:
    """Run `n_masks` masks of every fault in `faults` and return one record per fault.

    All faults draw their masks from `key` split the same way, so faults of one
    kind at different rates are compared on related draws, and the runs with and
    without repair share each mask and the inputs exactly.

    **Returns:** one dict per fault with `fault`, `rate`, `masks`,
    `accuracy_no_repair` and `accuracy_repair` (numpy arrays of shape `(n_masks,)`).
    """
    if n_masks < 1:
        raise ValueError(f"n_masks must be at least 1, got {n_masks}; pass the number of masks per rate.")
    if repair is not None and (set_points is None or adapt_spikes is None):
        raise ValueError("repair needs set_points (HomeostaticRepair.calibrate) and adapt_spikes.")

    keys = jax.random.split(key, n_masks)
    records = []
    for i, fault in enumerate(faults):
        rate = float(fault.rate)
        # The rate is a traced array, so one compilation serves every rate of a kind.
        fault = eqx.tree_at(lambda f: f.rate, fault, jnp.asarray(fault.rate, dtype=jnp.float32))
        result = _sweep_masks_jit(
            network,
            fault,
            keys,
            spikes,
            labels,
            repair=repair,
            set_points=set_points,
            adapt_spikes=adapt_spikes,
            chunk_size=chunk_size,
        )
        records.append(
            {
                "fault": fault.name,
                "rate": rate,
                "masks": int(n_masks),
                "accuracy_no_repair": np.asarray(result.accuracy_no_repair),
                "accuracy_repair": np.asarray(result.accuracy_repair),
            }
        )
        if progress is not None:
            progress(i + 1, len(faults))
    return records
