"""Neuron clusters for astrocyte placement: contiguous blocks or k-means on activity.

A clustering is one integer array per weight layer (hidden and output layers,
`network.topology[1:]`), holding the cluster of each neuron. Cluster indices
restart at 0 in every layer, so a cluster is named by `(layer, index)`; -1
marks a neuron left out of every cluster (it gets no astrocyte).
"""

from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ..network import SpikingNetwork, simulate


def _per_layer(n_clusters: int | Sequence[int], n_layers: int) -> list[int]:
    """Expand `n_clusters` to one count per layer and check it."""
    counts = [n_clusters] * n_layers if isinstance(n_clusters, int | np.integer) else list(n_clusters)
    if len(counts) != n_layers:
        raise ValueError(
            f"n_clusters must be one int or one count per layer after the input ({n_layers} layers), "
            f"got {list(counts)}."
        )
    bad = [c for c in counts if isinstance(c, bool) or not isinstance(c, int | np.integer) or c < 0]
    if bad:
        raise ValueError(f"cluster counts must be non-negative integers, got {bad}; pass 0 to leave a layer out.")
    return [int(c) for c in counts]


def _check_fits(layer: int, n_neurons: int, n_clusters: int) -> None:
    if n_clusters > n_neurons:
        raise ValueError(
            f"layer {layer} has {n_neurons} neurons but {n_clusters} clusters were requested; pass at most {n_neurons}."
        )


def contiguous_clusters(layer_sizes: Sequence[int], n_clusters: int | Sequence[int]) -> tuple[np.ndarray, ...]:
    """Split each layer into contiguous blocks of neurons whose sizes differ by at most one.

    **Arguments:**

    - `layer_sizes`: neurons per layer after the input, e.g. `network.topology[1:]`.
    - `n_clusters`: clusters per layer, one int for every layer or one per layer;
      0 leaves a layer unclustered (all -1).

    **Returns:** one int32 array per layer with the cluster of each neuron.

    **Example:**

    ```python
    contiguous_clusters([5, 2], [2, 1])  # ([0, 0, 0, 1, 1], [0, 0])
    ```
    """
    sizes = [int(n) for n in layer_sizes]
    counts = _per_layer(n_clusters, len(sizes))
    out = []
    for layer, (n, k) in enumerate(zip(sizes, counts)):
        if k == 0:
            out.append(np.full((n,), -1, dtype=np.int32))
            continue
        _check_fits(layer, n, k)
        # Block b holds neurons [floor(b n / k), floor((b + 1) n / k)).
        out.append((np.arange(n) * k // n).astype(np.int32))
    return tuple(out)


def kmeans_labels(features: np.ndarray, n_clusters: int, *, key: PRNGKeyArray, n_init: int = 10) -> np.ndarray:
    """Cluster the rows of `features` with k-means (scikit-learn's `KMeans`).

    The integer `random_state` of `KMeans` is drawn from `key`, so the same key
    gives the same clusters. Labels are renumbered in order of each cluster's
    first row, so the numbering does not depend on the k-means initialisation.

    **Arguments:**

    - `features`: shape `(rows, features)`, one row per neuron.
    - `n_clusters`: number of clusters, at most the number of distinct rows.
    - `key`: a JAX PRNG key.
    - `n_init`: k-means restarts; the run with the lowest inertia is kept.

    **Returns:** int32 labels of shape `(rows,)` in `[0, n_clusters)`.
    """
    from sklearn.cluster import KMeans

    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features must have shape (rows, features), got {features.shape}.")
    distinct = np.unique(features, axis=0).shape[0]
    if not 1 <= n_clusters <= distinct:
        raise ValueError(
            f"n_clusters={n_clusters} needs that many distinct feature rows, but there are {distinct}; "
            "pass fewer clusters or measure activity on more samples."
        )

    seed = int(jax.random.randint(key, (), 0, np.iinfo(np.int32).max))
    raw = KMeans(n_clusters=n_clusters, n_init=n_init, random_state=seed).fit_predict(features)

    _, first = np.unique(raw, return_index=True)
    order = np.argsort(first)
    relabel = np.full(n_clusters, -1, dtype=np.int32)
    relabel[raw[first[order]]] = np.arange(len(first), dtype=np.int32)
    return relabel[raw]


@eqx.filter_jit
def _simulate_batch(network, spikes):
    return jax.vmap(lambda sample: simulate(network, sample))(spikes)


def activation_clusters(
    network: SpikingNetwork,
    spikes: Float[Array, "samples steps inputs"],
    n_clusters: int | Sequence[int],
    *,
    key: PRNGKeyArray,
    n_init: int = 10,
) -> tuple[np.ndarray, ...]:
    """Group each layer's neurons by their activation pattern with k-means.

    A neuron's activation pattern is its spike count on each sample of `spikes`
    (fault-free network), so neurons that respond to the same inputs share a
    cluster. Cluster sizes are not balanced.

    **Arguments:**

    - `network`: the trained network.
    - `spikes`: encoded samples, shape `(samples, steps, inputs)`.
    - `n_clusters`: clusters per layer (one int or one per layer; 0 leaves a
      layer unclustered).
    - `key`: a JAX PRNG key, split into one k-means seed per layer.
    - `n_init`: k-means restarts per layer.

    **Returns:** one int32 array per layer with the cluster of each neuron.
    """
    sizes = network.topology[1:]
    counts = _per_layer(n_clusters, len(sizes))
    for layer, (n, k) in enumerate(zip(sizes, counts)):
        _check_fits(layer, n, k)

    results = _simulate_batch(network, jnp.asarray(spikes))

    out = []
    for n, k, layer_key, layer_counts in zip(sizes, counts, jax.random.split(key, len(sizes)), results.counts):
        if k == 0:
            out.append(np.full((n,), -1, dtype=np.int32))
            continue
        patterns = np.asarray(layer_counts).T
        out.append(kmeans_labels(patterns, k, key=layer_key, n_init=n_init))
    return tuple(out)
