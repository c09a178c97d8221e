r"""Astrocyte placement by fault injection (Algorithm 1 of Yunusoglu et al.).

Yunusoglu, Le, Isik, Dikmen & Karadag, "Neuromorphic Circuits with Spiking
Astrocytes for Increased Energy Efficiency, Fault Tolerance, and Memory
Capacitance" (ICMI 2025) place astrocytes cluster by cluster. They inject
random errors into one cluster of a trained model at a time, as the ARES
framework of Reagen et al. (DAC 2018) does, and measure the accuracy after each
injection. Whenever the accuracy falls below a threshold, the cluster gets one
more astrocyte. Neurons are balanced across a cluster's astrocytes, and the
output is the neuron-to-astrocyte map. The paper gives no equations or code
for it; this module fixes the details as follows.

1. A cluster $c$ of layer $l$ is a set of neurons. Its error sites are its
   neurons (neuron faults), its incoming synapses (synapse faults), or the bit
   positions of those synapses (bit flips).
2. Errors accumulate: one random order of the sites is drawn per repeat, and
   the $k$-th evaluation injects the first $k$ errors of that order (the masks
   are nested). The budget $E$ is spread over `evaluations` checkpoints,
   $k_s = \lceil s \min(E, \mathrm{sites}) / S \rceil$ for $s = 1..S$, all
   evaluated in one vmapped batch because each is independent of the others.
   Bit flips are drawn by `SynapseBitFlipFixed`/`SynapseBitFlipFloat` over all
   weights and kept inside the cluster, so $k_s$ is their expected count.
3. Every evaluation whose accuracy is below $A_\mathrm{ff} - \Delta$ adds one
   astrocyte, where $A_\mathrm{ff}$ is the fault-free accuracy on the same
   samples and $\Delta$ the tolerated drop (the paper's $A_\mathrm{th}$). A
   cluster starts with one astrocyte, so it asks for $1 + $ (failing
   evaluations), at most one per neuron. A cluster that breaks after few
   errors therefore gets many small domains; a robust one keeps one large
   domain.
4. Adding an astrocyte does not change the measured accuracy: astrocytes are
   not simulated during the injection runs. With the homeostatic repair of
   this library every neuron already has its own set-point, so the number of
   astrocytes per cluster would not feed back on accuracy anyway.
5. A cluster's neurons, in index order, are split into as many contiguous
   groups as it has astrocytes, with sizes differing by at most one.
6. When the cluster's core has a fixed number of astrocyte slots
   (`slots_per_cluster`), the slots that serve no neuron are reported as
   disabled; without it, the requested astrocytes beyond one per neuron are.
"""

import dataclasses
from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int, PRNGKeyArray

from ..faults import (
    AbstractFault,
    NeuronDead,
    NeuronParametric,
    NeuronSaturated,
    NeuronStuck,
    SynapseBitFlipFixed,
    SynapseBitFlipFloat,
    SynapseDead,
    SynapseSaturated,
    accuracy_under,
    draw_faults,
)
from ..network import NetworkFaults, SpikingNetwork, count_astrocytes

# One compiled call draws a mask much faster than eager op-by-op dispatch.
_draw_faults_jit = eqx.filter_jit(draw_faults)

_NEURON_FAULTS = (NeuronDead, NeuronSaturated, NeuronStuck, NeuronParametric)
_SYNAPSE_FAULTS = (SynapseDead, SynapseSaturated, SynapseBitFlipFixed, SynapseBitFlipFloat)


def _check_error_kind(error: AbstractFault) -> None:
    if not isinstance(error, _NEURON_FAULTS + _SYNAPSE_FAULTS):
        supported = ", ".join(cls.__name__ for cls in _NEURON_FAULTS + _SYNAPSE_FAULTS)
        raise ValueError(
            f"placement injects neuron or synapse errors, got {type(error).__name__}; use one of: {supported}."
        )


def _positions_per_unit(error: AbstractFault) -> int:
    """Bit positions per weight for bit flips, 1 for unit faults."""
    if isinstance(error, SynapseBitFlipFixed):
        return len(error.bits) if error.bits is not None else error.width
    if isinstance(error, SynapseBitFlipFloat):
        return len(error.bits) if error.bits is not None else 32
    return 1


def _eligible_units(network: SpikingNetwork, error: AbstractFault, layer: int, members: np.ndarray) -> np.ndarray:
    """Return the cluster's units: its neurons, or the synapses onto them (shape of the weights)."""
    if isinstance(error, _NEURON_FAULTS):
        return members
    return np.broadcast_to(members[None, :], network.weights[layer].shape)


def error_sites(network: SpikingNetwork, error: AbstractFault, layer: int, members: np.ndarray) -> int:
    """Return the number of places where `error` can strike the cluster `members` of `layer`.

    Neurons for neuron faults, incoming synapses for synapse faults, and
    (synapse, bit) positions for bit flips.
    """
    _check_error_kind(error)
    units = int(np.sum(_eligible_units(network, error, layer, np.asarray(members, dtype=bool))))
    return units * _positions_per_unit(error)


def _cluster_error(network: SpikingNetwork, error: AbstractFault, layer: int, members: np.ndarray) -> AbstractFault:
    """Return `error` aimed at one cluster, with a traced rate of 0.

    The fault targets every layer, with no eligible unit outside the cluster, so
    clusters of all layers share one fault structure and one compilation.
    """
    among = []
    for other in range(len(network.weights)):
        cluster = members if other == layer else np.zeros((network.topology[other + 1],), dtype=bool)
        among.append(jnp.asarray(_eligible_units(network, error, other, cluster)))
    layers = tuple(range(len(network.weights)))
    return dataclasses.replace(error, rate=jnp.float32(0.0), layers=layers, among=tuple(among))


def cluster_faults(
    network: SpikingNetwork,
    error: AbstractFault,
    layer: int,
    members: np.ndarray,
    n_errors: int,
    *,
    key: PRNGKeyArray,
) -> NetworkFaults:
    """Return the fault masks of `n_errors` errors of kind `error` injected into one cluster only.

    The same key with a larger `n_errors` gives a superset of the failed units,
    so a sequence of calls injects errors cumulatively.

    **Arguments:**

    - `network`: the network.
    - `error`: a neuron or synapse fault kind; its `rate`, `layers` and `among`
      are replaced.
    - `layer`: the weight layer of the cluster (0 is the first hidden layer).
    - `members`: boolean mask of shape `(topology[layer + 1],)` selecting the
      cluster's neurons.
    - `n_errors`: errors to inject, at most `error_sites(...)`; exact for unit
      faults, expected count for bit flips.
    - `key`: a JAX PRNG key.
    """
    members = np.asarray(members, dtype=bool)
    sites = error_sites(network, error, layer, members)
    if not 0 <= n_errors <= sites:
        raise ValueError(f"n_errors must lie in [0, {sites}] (the cluster's error sites), got {n_errors}.")
    fault = _cluster_error(network, error, layer, members)
    fault = eqx.tree_at(lambda f: f.rate, fault, jnp.float32(n_errors / sites))
    return _draw_faults_jit(network, fault, key=key)


@eqx.filter_jit
def _accuracy_curve(network, fault, rates, repeat_index, repeat_keys, spikes, labels, chunk_size):
    """Accuracy under each (rate, repeat) pair, `chunk_size` masks vmapped at a time."""

    def one(args):
        rate, repeat = args
        faults = draw_faults(network, eqx.tree_at(lambda f: f.rate, fault, rate), key=repeat_keys[repeat])
        return accuracy_under(network, spikes, labels, faults, network.unit_gains())

    return jax.lax.map(one, (rates, repeat_index), batch_size=chunk_size)


class ClusterAccuracy(eqx.Module):
    """Accuracy with errors injected into one cluster at a time.

    Clusters are listed layer by layer, in increasing cluster index.

    **Fields:**

    - `layer`, `index`: layer and in-layer index of each cluster, shape `(clusters,)`.
    - `size`: neurons in each cluster.
    - `sites`: error sites of each cluster (see `error_sites`).
    - `errors`: errors injected at each evaluation, shape `(clusters, evaluations)`.
    - `accuracy`: shape `(clusters, repeats, evaluations)`.
    - `accuracy_fault_free`: accuracy without faults on the same samples.
    - `error_name`: the fault kind's name.
    """

    layer: np.ndarray
    index: np.ndarray
    size: np.ndarray
    sites: np.ndarray
    errors: np.ndarray
    accuracy: np.ndarray
    accuracy_fault_free: float
    error_name: str = eqx.field(static=True)


def _check_clusters(network: SpikingNetwork, clusters: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    sizes = network.topology[1:]
    clusters = tuple(np.asarray(c) for c in clusters)
    if len(clusters) != len(sizes) or any(c.shape != (n,) for c, n in zip(clusters, sizes)):
        raise ValueError(
            f"clusters must give one index per neuron of each layer after the input (sizes {list(sizes)}); "
            f"got shapes {[c.shape for c in clusters]}."
        )
    for layer, c in enumerate(clusters):
        if not np.issubdtype(c.dtype, np.integer) or (c.size and c.min() < -1):
            raise ValueError(
                f"clusters[{layer}] must hold integers >= -1 (-1: no cluster); got dtype {c.dtype} "
                f"and minimum {c.min() if c.size else None}."
            )
    return clusters


def _cluster_list(clusters: tuple[np.ndarray, ...]) -> list[tuple[int, int]]:
    return [(layer, int(c)) for layer, labels in enumerate(clusters) for c in np.unique(labels) if c >= 0]


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def inject_cluster_errors(
    network: SpikingNetwork,
    clusters: Sequence[np.ndarray],
    spikes: Float[Array, "samples steps inputs"],
    labels: Int[Array, " samples"],
    error: AbstractFault,
    *,
    budget: int,
    key: PRNGKeyArray,
    evaluations: int = 10,
    repeats: int = 1,
    chunk_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> ClusterAccuracy:
    r"""Inject up to `budget` errors into each cluster in turn and measure the accuracy along the way.

    For each cluster and repeat, one random order of the cluster's error sites
    is drawn; evaluation $s$ of `evaluations` injects the first
    $k_s = \lceil s \min(E, \mathrm{sites}) / S \rceil$ errors of that order.
    All evaluations of a cluster are independent runs, vmapped `chunk_size` at a
    time with `jax.lax.map`. One compilation serves all clusters.

    **Arguments:**

    - `network`: the trained network.
    - `clusters`: per layer, the cluster of each neuron (-1: none), e.g. from
      `contiguous_clusters` or `activation_clusters`.
    - `spikes`, `labels`: encoded evaluation samples and their classes.
    - `error`: the error kind, e.g. `NeuronDead(0.0)` or
      `SynapseBitFlipFixed(0.0)`; its `rate`, `layers` and `among` are replaced.
    - `budget`: the error budget $E$ per cluster and repeat (capped at the
      cluster's error sites).
    - `key`: a JAX PRNG key; the same key gives the same error orders.
    - `evaluations`: accuracy checkpoints per repeat, $S$.
    - `repeats`: independent error orders per cluster.
    - `chunk_size`: masks evaluated at once (memory grows with it).
    - `progress`: called as `progress(done, total)` after each cluster.

    **Returns:** a `ClusterAccuracy`.
    """
    _check_error_kind(error)
    clusters = _check_clusters(network, clusters)
    for name, value in (("budget", budget), ("evaluations", evaluations), ("repeats", repeats)):
        _check_count(name, value)
    cluster_list = _cluster_list(clusters)
    if not cluster_list:
        raise ValueError(
            "clusters is empty because every index is -1; assign the neurons of at least one layer to clusters."
        )

    spikes, labels = jnp.asarray(spikes), jnp.asarray(labels)
    steps = np.arange(1, evaluations + 1)
    # Each repeat starts with one run at rate 0: the fault-free accuracy comes out
    # of the same compiled call, which is cheaper than a separate evaluation.
    repeat_index = jnp.repeat(jnp.arange(repeats), evaluations + 1)

    rows = {"size": [], "sites": [], "errors": [], "accuracy": [], "fault_free": []}
    for i, ((layer, c), cluster_key) in enumerate(zip(cluster_list, jax.random.split(key, len(cluster_list)))):
        members = clusters[layer] == c
        sites = error_sites(network, error, layer, members)
        errors = np.ceil(steps * min(budget, sites) / evaluations).astype(np.int64)
        rates = jnp.tile(jnp.asarray(np.concatenate([[0.0], errors / sites]), dtype=jnp.float32), repeats)

        fault = _cluster_error(network, error, layer, members)
        accuracy = _accuracy_curve(
            network, fault, rates, repeat_index, jax.random.split(cluster_key, repeats), spikes, labels, chunk_size
        )

        rows["size"].append(int(members.sum()))
        rows["sites"].append(sites)
        rows["errors"].append(errors)
        accuracy = np.asarray(accuracy).reshape(repeats, evaluations + 1)
        rows["fault_free"].append(accuracy[:, 0])
        rows["accuracy"].append(accuracy[:, 1:])
        if progress is not None:
            progress(i + 1, len(cluster_list))

    return ClusterAccuracy(
        layer=np.array([layer for layer, _ in cluster_list], dtype=np.int32),
        index=np.array([c for _, c in cluster_list], dtype=np.int32),
        size=np.array(rows["size"], dtype=np.int64),
        sites=np.array(rows["sites"], dtype=np.int64),
        errors=np.stack(rows["errors"]),
        accuracy=np.stack(rows["accuracy"]),
        accuracy_fault_free=float(rows["fault_free"][0][0]),
        error_name=error.name,
    )


class AstrocytePlacement(eqx.Module):
    """Neuron-to-astrocyte map chosen by fault injection, with per-cluster counts.

    **Fields:**

    - `domains`: per layer, the astrocyte of each neuron (-1: none); astrocyte
      indices restart at 0 in every layer, as `SpikingNetwork.init(...,
      domains=...)` expects.
    - `layer`, `index`: each cluster's layer and in-layer index (as in
      `ClusterAccuracy`).
    - `requested`: astrocytes each cluster asked for, 1 + failing evaluations.
    - `astrocytes`: astrocytes placed (enabled) in each cluster.
    - `disabled`: astrocytes of each cluster that serve no neuron.
    - `threshold`: the accuracy below which an evaluation failed,
      $A_\\mathrm{ff} - \\Delta$.
    - `tolerated_drop`: $\\Delta$.
    """

    domains: tuple[np.ndarray, ...]
    layer: np.ndarray
    index: np.ndarray
    requested: np.ndarray
    astrocytes: np.ndarray
    disabled: np.ndarray
    threshold: float
    tolerated_drop: float

    @property
    def n_astrocytes(self) -> tuple[int, ...]:
        """Enabled astrocytes per layer."""
        return tuple(count_astrocytes(d) for d in self.domains)

    @property
    def total_astrocytes(self) -> int:
        """Enabled astrocytes in the whole network."""
        return int(np.sum(self.astrocytes))


def allocate_astrocytes(
    clusters: Sequence[np.ndarray],
    measured: ClusterAccuracy,
    *,
    tolerated_drop: float,
    slots_per_cluster: int | None = None,
) -> AstrocytePlacement:
    r"""Give each cluster one astrocyte plus one per evaluation that fell below $A_\mathrm{ff} - \Delta$.

    A cluster gets at most one astrocyte per neuron and at most
    `slots_per_cluster`. Its neurons, in index order, are split into that many
    contiguous groups whose sizes differ by at most one. A smaller
    `tolerated_drop` never gives fewer astrocytes.

    **Arguments:**

    - `clusters`: the clusters passed to `inject_cluster_errors`.
    - `measured`: its result.
    - `tolerated_drop`: $\Delta$, the accuracy drop tolerated (0.02 for two
      percentage points).
    - `slots_per_cluster`: astrocyte slots on each cluster's core, or `None` for
      as many as requested.

    **Returns:** an `AstrocytePlacement`.
    """
    clusters = tuple(np.asarray(c) for c in clusters)
    if not (isinstance(tolerated_drop, int | float) and 0.0 <= tolerated_drop <= 1.0):
        raise ValueError(
            f"tolerated_drop must lie in [0, 1], got {tolerated_drop!r}; pass an accuracy drop such as 0.02."
        )
    if slots_per_cluster is not None:
        _check_count("slots_per_cluster", slots_per_cluster)
    listed = [(int(layer), int(c)) for layer, c in zip(measured.layer, measured.index)]
    if listed != _cluster_list(clusters) or any(
        int(np.sum(clusters[layer] == c)) != size for (layer, c), size in zip(listed, measured.size)
    ):
        raise ValueError("measured does not match clusters; pass the clusters given to inject_cluster_errors.")

    threshold = measured.accuracy_fault_free - tolerated_drop
    requested = 1 + np.sum(measured.accuracy < threshold, axis=(1, 2))
    slots = requested if slots_per_cluster is None else np.full_like(requested, slots_per_cluster)
    placed = np.minimum(np.minimum(requested, slots), measured.size)

    domains = [np.full(c.shape, -1, dtype=np.int32) for c in clusters]
    next_id = [0] * len(clusters)
    for (layer, c), n_astro in zip(listed, placed):
        members = np.flatnonzero(clusters[layer] == c)
        for group in np.array_split(members, int(n_astro)):
            domains[layer][group] = next_id[layer]
            next_id[layer] += 1

    return AstrocytePlacement(
        domains=tuple(domains),
        layer=measured.layer,
        index=measured.index,
        requested=requested.astype(np.int64),
        astrocytes=placed.astype(np.int64),
        disabled=(slots - placed).astype(np.int64),
        threshold=float(threshold),
        tolerated_drop=float(tolerated_drop),
    )


def place_astrocytes(
    network: SpikingNetwork,
    clusters: Sequence[np.ndarray],
    spikes: Float[Array, "samples steps inputs"],
    labels: Int[Array, " samples"],
    error: AbstractFault,
    *,
    budget: int,
    tolerated_drop: float,
    key: PRNGKeyArray,
    evaluations: int = 10,
    repeats: int = 1,
    slots_per_cluster: int | None = None,
    chunk_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> AstrocytePlacement:
    """Run Algorithm 1: inject errors cluster by cluster, then allocate astrocytes.

    `inject_cluster_errors` followed by `allocate_astrocytes`; call those two
    directly to compare several tolerated drops on one set of injection runs.

    **Example:**

    ```python
    clusters = contiguous_clusters(network.topology[1:], [7, 1])
    placement = place_astrocytes(
        network, clusters, spikes, labels, NeuronDead(0.0),
        budget=100, tolerated_drop=0.02, key=jax.random.key(0),
    )
    network = with_domains(network, placement.domains)
    ```
    """
    measured = inject_cluster_errors(
        network,
        clusters,
        spikes,
        labels,
        error,
        budget=budget,
        key=key,
        evaluations=evaluations,
        repeats=repeats,
        chunk_size=chunk_size,
        progress=progress,
    )
    return allocate_astrocytes(clusters, measured, tolerated_drop=tolerated_drop, slots_per_cluster=slots_per_cluster)


def with_domains(network: SpikingNetwork, domains: Sequence[np.ndarray]) -> SpikingNetwork:
    """Return `network` with a new neuron-to-astrocyte map and matching astrocyte counts.

    **Arguments:**

    - `network`: the network; weights and parameters are kept.
    - `domains`: per layer after the input, the astrocyte of each neuron (-1:
      none), astrocyte indices from 0 in every layer.

    **Returns:** a `SpikingNetwork` whose `n_astrocytes[l]` is `max(domains[l]) + 1`.
    Fault masks drawn for the old network do not fit the new one when the
    astrocyte counts differ; draw them again.
    """
    sizes = network.topology[1:]
    domains = tuple(np.asarray(d) for d in domains)
    if len(domains) != len(sizes) or any(d.shape != (n,) for d, n in zip(domains, sizes)):
        raise ValueError(
            f"domains must give one index per neuron of each layer after the input (sizes {list(sizes)}); "
            f"got shapes {[d.shape for d in domains]}."
        )
    for layer, d in enumerate(domains):
        if not np.issubdtype(d.dtype, np.integer) or (d.size and d.min() < -1):
            raise ValueError(f"domains[{layer}] must hold integers >= -1 (-1: no astrocyte), got dtype {d.dtype}.")
    return dataclasses.replace(
        network,
        domains=tuple(jnp.asarray(d, dtype=jnp.int32) for d in domains),
        n_astrocytes=tuple(count_astrocytes(d) for d in domains),
    )
