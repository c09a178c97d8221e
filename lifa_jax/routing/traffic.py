"""Spike traffic between cores, from recorded per-neuron spike counts.

Every spike of neuron j must reach each core that contains at least one of j's
targets. Targets on j's own core are served inside the core and never enter the
mesh; all other (spike, destination core) pairs are routed.
"""

import abc
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from .mesh import Mesh
from .placement import Placement


def poisson_spike_counts(
    layer_sizes: Sequence[int],
    *,
    rate_hz: float = 2.17,
    duration_ms: float = 1000.0,
    key: PRNGKeyArray,
) -> list[Array]:
    r"""Draw per-neuron spike counts of independent Poisson neurons.

    $$n_j \sim \mathrm{Poisson}(f\, T)$$

    The default rate is the mean spike frequency (2.17 Hz) reported by Yunusoglu,
    Le, Isik, Dikmen & Karadag, "Neuromorphic Circuits with Spiking Astrocytes for
    Increased Energy Efficiency, Fault Tolerance, and Memory Capacitance" (2025).

    **Arguments:**

    - `layer_sizes`: neurons per layer.
    - `rate_hz`: firing rate f (Hz).
    - `duration_ms`: recording window T (ms).
    - `key`: PRNG key.

    **Returns:** one int32 array of spike counts per layer.
    """
    sizes = _check_layer_sizes(layer_sizes)
    if not rate_hz >= 0:
        raise ValueError(f"rate_hz must be non-negative, got {rate_hz!r}.")
    if not duration_ms > 0:
        raise ValueError(f"duration_ms must be positive, got {duration_ms!r}.")
    mean = rate_hz * duration_ms / 1000.0
    counts = jax.random.poisson(key, mean, (sum(sizes),)).astype(jnp.int32)
    return list(jnp.split(counts, np.cumsum(sizes)[:-1]))


def _check_layer_sizes(layer_sizes) -> list[int]:
    sizes = [int(n) for n in layer_sizes]
    if len(sizes) < 1 or min(sizes) < 1:
        raise ValueError(f"layer_sizes must list at least one positive size, got {layer_sizes!r}.")
    return sizes


class AbstractConnectivity(eqx.Module):
    """Base class of connectivities, which name the targets of every neuron."""

    @abc.abstractmethod
    def n_neurons(self) -> int:
        """Return the number of neurons."""

    @abc.abstractmethod
    def group_traffic(
        self, counts: np.ndarray, group_of_neuron: np.ndarray, n_groups: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Aggregate spikes by (source group, set of target groups).

        Returns `(source, targets, spikes)`. `source` is the source group of
        each class, int (n_classes,). `targets` marks the target groups of each
        class, bool (n_classes, n_groups). `spikes` counts the spikes of each
        class, float (n_classes,).
        """


class DenseLayers(AbstractConnectivity):
    """Feed-forward layers with all-to-all connections between consecutive layers.

    Neuron j of layer l targets every neuron of layer l + 1; neurons of the last
    layer target nothing. Neurons are numbered layer after layer.

    **Arguments:**

    - `layer_sizes`: neurons per layer, e.g. `(1024, 768, 2048, 512, 100)`.
    """

    layer_sizes: tuple[int, ...] = eqx.field(static=True, converter=tuple)

    def __check_init__(self):
        _check_layer_sizes(self.layer_sizes)

    def n_neurons(self) -> int:
        return int(sum(self.layer_sizes))

    def group_traffic(self, counts, group_of_neuron, n_groups):
        n_layers = len(self.layer_sizes)
        layer = np.repeat(np.arange(n_layers), self.layer_sizes)
        slot = group_of_neuron * n_layers + layer
        size = n_groups * n_layers
        spikes = np.bincount(slot, weights=counts, minlength=size)
        present = np.bincount(slot, minlength=size) > 0
        spikes = spikes.reshape(n_groups, n_layers)[:, :-1]
        present = present.reshape(n_groups, n_layers)

        # Class (g, l): spikes of layer-l neurons in group g, aimed at the groups
        # that hold layer l + 1.
        source, source_layer = np.nonzero(spikes > 0)
        targets = present[:, source_layer + 1].T
        return source, targets, spikes[source, source_layer]


class ExplicitConnectivity(AbstractConnectivity):
    """Arbitrary connections given as a boolean adjacency matrix.

    **Arguments:**

    - `adjacency`: bool array (n_neurons, n_neurons); `adjacency[j, i]` is true
      when neuron j sends spikes to neuron i.
    """

    adjacency: np.ndarray

    def __check_init__(self):
        shape = np.shape(self.adjacency)
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"adjacency must be a square (n_neurons, n_neurons) array, got shape {shape}.")

    def n_neurons(self) -> int:
        return int(np.shape(self.adjacency)[0])

    def group_traffic(self, counts, group_of_neuron, n_groups):
        adjacency = np.asarray(self.adjacency, dtype=bool)
        order = np.argsort(group_of_neuron, kind="stable")
        groups, starts = np.unique(group_of_neuron[order], return_index=True)
        targets = np.zeros((adjacency.shape[0], n_groups), dtype=bool)
        if groups.size:
            hits = np.logical_or.reduceat(adjacency[:, order], starts, axis=1)
            targets[:, groups] = hits

        # Neurons with the same group and the same target groups form one class.
        packed = np.packbits(targets, axis=1)
        rows = np.concatenate([group_of_neuron[:, None].astype(np.int64), packed.astype(np.int64)], axis=1)
        unique, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
        spikes = np.bincount(inverse.ravel(), weights=counts, minlength=len(unique))
        keep = spikes > 0
        return group_of_neuron[first][keep], targets[first][keep], spikes[keep]


def _flat_counts(spike_counts, n_neurons: int) -> np.ndarray:
    if isinstance(spike_counts, list | tuple):
        parts = [np.asarray(c, dtype=float).ravel() for c in spike_counts]
        counts = np.concatenate(parts) if parts else np.zeros(0)
    else:
        counts = np.asarray(spike_counts, dtype=float)
    if counts.ndim != 1 or counts.size != n_neurons:
        raise ValueError(
            f"spike_counts must hold one count per neuron ({n_neurons}), got "
            f"{counts.size} values; pass one array per layer or one flat array."
        )
    if not np.all(np.isfinite(counts)) or counts.min(initial=0.0) < 0:
        raise ValueError("spike_counts must be finite and non-negative.")
    return counts


def block_traffic(spike_counts, connectivity: AbstractConnectivity, block_of_neuron) -> np.ndarray:
    """Count the spikes each block sends to each other block.

    $T_{ab}$ is the number of spikes of neurons in block a that have at least one
    target in block b (a != b); the diagonal is zero. This is the input of the
    traffic-aware placements.

    **Arguments:**

    - `spike_counts`: spikes per neuron, one array per layer or one flat array.
    - `connectivity`: `DenseLayers(...)` or `ExplicitConnectivity(...)`.
    - `block_of_neuron`: block of every neuron, int array (n_neurons,).

    **Returns:** float array (n_blocks, n_blocks) in spikes.
    """
    blocks = np.asarray(block_of_neuron)
    n_neurons = connectivity.n_neurons()
    if blocks.shape != (n_neurons,):
        raise ValueError(f"block_of_neuron must have shape ({n_neurons},), got {blocks.shape}.")
    counts = _flat_counts(spike_counts, n_neurons)
    n_blocks = int(blocks.max()) + 1 if blocks.size else 0

    source, targets, spikes = connectivity.group_traffic(counts, blocks, n_blocks)
    traffic = np.zeros((n_blocks, n_blocks))
    np.add.at(traffic, source, spikes[:, None] * targets)
    np.fill_diagonal(traffic, 0.0)
    return traffic


class Traffic(eqx.Module):
    """Spike flows between the cores of a mesh over a recording window.

    A flow is a class of spikes with one source core and one set of remote
    destination cores. `traffic_from_spikes` pads the flows with empty ones (no
    destinations, zero spikes) to a power of two; they cost nothing.

    **Arguments:**

    - `mesh`: the `Mesh`.
    - `source_core`: int array (n_flows,).
    - `destinations`: bool array (n_flows, n_cores), never true at the source.
    - `spikes`: spikes in each flow, float array (n_flows,).
    - `local_deliveries`: (spike, own core) deliveries served inside the source
      core, which never enter the mesh.
    - `duration_ms`: recording window (ms), used for link utilisation.
    """

    # Converters fix the dtypes, so every Traffic of one shape shares compiled code.
    mesh: Mesh
    source_core: Int[Array, " flows"] = eqx.field(converter=lambda x: jnp.asarray(x, jnp.int32))
    destinations: Bool[Array, "flows cores"] = eqx.field(converter=lambda x: jnp.asarray(x, bool))
    spikes: Float[Array, " flows"] = eqx.field(converter=lambda x: jnp.asarray(x, jnp.float32))
    local_deliveries: Float[Array, ""] = eqx.field(converter=lambda x: jnp.asarray(x, jnp.float32))
    duration_ms: float | Float[Array, ""] = 1000.0

    def __check_init__(self):
        if isinstance(self.duration_ms, int | float) and not self.duration_ms > 0:
            raise ValueError(f"duration_ms must be positive, got {self.duration_ms!r}.")

    def demand(self) -> Float[Array, "cores cores"]:
        """Return the (spike, destination) pairs from core s to core d, (n, n)."""
        n = self.mesh.n_cores
        per_flow = self.spikes[:, None] * self.destinations
        return jax.ops.segment_sum(per_flow, self.source_core, num_segments=n)


def traffic_from_spikes(
    spike_counts,
    connectivity: AbstractConnectivity,
    placement: Placement,
    *,
    duration_ms: float,
) -> Traffic:
    """Build the core-to-core spike flows of a placed network.

    **Arguments:**

    - `spike_counts`: spikes per neuron over the window, one array per layer or
      one flat array (neurons numbered layer after layer).
    - `connectivity`: `DenseLayers(layer_sizes)` or `ExplicitConnectivity(adj)`.
    - `placement`: the `Placement` of the same neurons.
    - `duration_ms`: the recording window of the counts (ms).

    **Returns:** a `Traffic`.

    **Example:**

    ```python
    sizes = (1024, 768, 2048, 512, 100)
    counts = poisson_spike_counts(sizes, key=jax.random.key(0))
    mesh = Mesh(16, 16, n_max=32)
    placement = place(contiguous_blocks(sum(sizes), 32), mesh)
    traffic = traffic_from_spikes(
        counts, DenseLayers(sizes), placement, duration_ms=1000.0
    )
    ```
    """
    n_neurons = connectivity.n_neurons()
    if placement.n_neurons != n_neurons:
        raise ValueError(
            f"placement contains {placement.n_neurons} neurons but the connectivity "
            f"has {n_neurons}; place the same network."
        )
    counts = _flat_counts(spike_counts, n_neurons)
    mesh = placement.mesh

    source, targets, spikes = connectivity.group_traffic(counts, placement.core_of_neuron, mesh.n_cores)
    own = targets[np.arange(source.size), source]
    local = float(np.sum(spikes * own))
    remote = targets.copy()
    remote[np.arange(source.size), source] = False
    keep = remote.any(axis=1)
    source, remote, spikes = source[keep], remote[keep], spikes[keep]

    # Pad with empty flows (no destinations, no spikes) to a power of two, so
    # networks of similar size reuse the compiled routing code.
    size = max(8, 1 << max(source.size - 1, 0).bit_length())
    pad = size - source.size
    return Traffic(
        mesh=mesh,
        source_core=jnp.asarray(np.pad(source, (0, pad)), dtype=jnp.int32),
        destinations=jnp.asarray(np.pad(remote, ((0, pad), (0, 0)))),
        spikes=jnp.asarray(np.pad(spikes, (0, pad)), dtype=jnp.float32),
        local_deliveries=jnp.asarray(local, dtype=jnp.float32),
        duration_ms=float(duration_ms),
    )
