"""Event counts of a simulation and their energy under a cost table."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..routing import EAST, NORTH, SOUTH, WEST, RoutingMetrics
from .costs import CostTable


class EventCounts(eqx.Module):
    """Events counted during simulations, one entry per weight layer where it applies.

    Layer `l` is the `l`-th weight layer, whose postsynaptic neurons are layer
    `l + 1` of the topology. Counts add up over samples: sum a batch with
    `sum_events`.

    **Fields:**

    - `synaptic_ops`: (presynaptic spike, synapse) pairs delivered to neurons that
      were switched on; a synapse is a nonzero effective weight, so without
      faults and gating a spike of layer `l` costs `topology[l + 1]` operations.
    - `neuron_updates`: membrane updates performed.
    - `neuron_steps`: neurons times steps, the updates without gating.
    - `spikes`: spikes emitted by the postsynaptic neurons.
    - `astrocyte_updates`: astrocyte steps (every live astrocyte, every step).
    - `input_spikes`: spikes of the input layer (they cost synaptic operations
      and routing, not spike energy).
    - `samples`: simulations counted.
    """

    synaptic_ops: Float[Array, "*batch layers"]
    neuron_updates: Float[Array, "*batch layers"]
    neuron_steps: Float[Array, "*batch layers"]
    spikes: Float[Array, "*batch layers"]
    astrocyte_updates: Float[Array, "*batch layers"]
    input_spikes: Float[Array, "*batch"]
    samples: Float[Array, "*batch"]

    @property
    def saved_updates(self) -> Array:
        """Neuron updates skipped by gating, per layer."""
        return self.neuron_steps - self.neuron_updates


def sum_events(events: EventCounts) -> EventCounts:
    """Sum batched `EventCounts` (leading batch axis) into one."""
    return jax.tree.map(lambda a: jnp.sum(a, axis=0), events)


class RoutingEvents(eqx.Module):
    """Packet movements on the mesh: link traversals along x and y, router traversals, packets."""

    hops_x: Float[Array, ""]
    hops_y: Float[Array, ""]
    router_traversals: Float[Array, ""]
    packets: Float[Array, ""]


def routing_events(metrics: RoutingMetrics) -> RoutingEvents:
    """Return the packet movements of one routed window from its `RoutingMetrics`.

    Hops along x are the loads of the east and west ports, hops along y those of
    the north and south ports.
    """
    loads = jnp.asarray(metrics.link_loads)
    return RoutingEvents(
        hops_x=jnp.sum(loads[..., EAST]) + jnp.sum(loads[..., WEST]),
        hops_y=jnp.sum(loads[..., NORTH]) + jnp.sum(loads[..., SOUTH]),
        router_traversals=jnp.asarray(metrics.router_traversals),
        packets=jnp.asarray(metrics.packets),
    )


COMPONENTS = ("synaptic", "neuron", "spike", "astrocyte", "routing")


class EnergyBreakdown(eqx.Module):
    """Energy (pJ) of a set of events, by component.

    **Fields:** `synaptic`, `neuron`, `spike`, `astrocyte`, `routing` (pJ), and
    `spikes`, the hidden and output spikes the energy paid for.
    """

    synaptic: float
    neuron: float
    spike: float
    astrocyte: float
    routing: float
    spikes: float

    @property
    def total(self) -> float:
        """Sum of all components (pJ)."""
        return self.synaptic + self.neuron + self.spike + self.astrocyte + self.routing

    @property
    def per_spike(self) -> float:
        """Total energy divided by the hidden and output spikes (pJ per spike); NaN without spikes."""
        return self.total / self.spikes if self.spikes > 0 else float("nan")

    def scaled(self, factor: float) -> "EnergyBreakdown":
        """Return every energy and the spike count multiplied by `factor` (e.g. 1 / samples)."""
        return EnergyBreakdown(*(getattr(self, name) * factor for name in (*COMPONENTS, "spikes")))

    def as_dict(self) -> dict:
        """Return the components, the total (pJ) and the energy per spike (pJ, None without spikes)."""
        per_spike = self.per_spike
        return {
            **{f"{name}_pj": float(getattr(self, name)) for name in COMPONENTS},
            "total_pj": float(self.total),
            "spikes": float(self.spikes),
            "per_spike_pj": None if np.isnan(per_spike) else float(per_spike),
        }


def energy_breakdown(events: EventCounts, table: CostTable, routing: RoutingEvents | None = None) -> EnergyBreakdown:
    r"""Multiply event counts by the per-event energies of `table`.

    $E_\mathrm{syn} = n_\mathrm{syn} e_\mathrm{syn}$, $E_\mathrm{neuron} =
    n_\mathrm{upd} e_\mathrm{upd}$, $E_\mathrm{spike} = n_\mathrm{spk}
    e_\mathrm{spk}$, $E_\mathrm{astro} = n_\mathrm{ast} e_\mathrm{ast}$ and
    $E_\mathrm{routing} = h_x e_x + h_y e_y + r e_r$ (0 without `routing`).

    **Arguments:**

    - `events`: summed `EventCounts` (no batch axis).
    - `table`: the `CostTable`.
    - `routing`: packet movements of the same spikes, or None.

    **Returns:** an `EnergyBreakdown` in pJ for all counted samples together; use
    `.scaled(1 / samples)` for one inference.
    """
    if np.ndim(events.samples) != 0:
        raise ValueError("events has a batch axis; sum it first with sum_events(events).")
    routing_pj = 0.0
    if routing is not None:
        routing_pj = (
            float(routing.hops_x) * table.hop_x_pj
            + float(routing.hops_y) * table.hop_y_pj
            + float(routing.router_traversals) * table.router_pj
        )
    return EnergyBreakdown(
        synaptic=float(jnp.sum(events.synaptic_ops)) * table.synaptic_op_pj,
        neuron=float(jnp.sum(events.neuron_updates)) * table.neuron_update_pj,
        spike=float(jnp.sum(events.spikes)) * table.spike_pj,
        astrocyte=float(jnp.sum(events.astrocyte_updates)) * table.astrocyte_update_pj,
        routing=routing_pj,
        spikes=float(jnp.sum(events.spikes)),
    )
