"""Placement of neuron blocks on the cores of a mesh.

A block is the set of neurons that shares one core (and so one astrocyte domain).
Blocks come from contiguous neuron ranges or from a neuron-to-cluster map (each
cluster split into balanced blocks of at most `n_max` neurons). Every block goes to
its own core. Placements that use measured spike traffic minimise the unicast
communication cost

$$C = \\sum_{a, b} T_{ab} \\, d(\\pi(a), \\pi(b)),$$

where $T_{ab}$ counts the spikes of block $a$ that must reach block $b$, $\\pi$
maps blocks to cores and $d$ is the Manhattan hop distance. $C$ equals the number
of link traversals of unicast dimension-order (XY) routing on a fault-free mesh.
"""

import abc
import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from .mesh import Mesh


def contiguous_blocks(n_neurons: int, block_size: int) -> np.ndarray:
    """Split neurons 0..n_neurons-1 into contiguous blocks of `block_size` neurons.

    **Arguments:**

    - `n_neurons`: number of neurons.
    - `block_size`: neurons per block (the last block may be smaller); use the
      mesh's `n_max` to fill cores.

    **Returns:** the block of every neuron, int array of shape (n_neurons,).
    """
    if n_neurons < 0:
        raise ValueError(f"n_neurons must be non-negative, got {n_neurons!r}.")
    if block_size < 1:
        raise ValueError(f"block_size must be at least 1, got {block_size!r}.")
    return np.arange(n_neurons) // block_size


def blocks_from_clusters(cluster_of_neuron, n_max: int) -> np.ndarray:
    """Split each cluster into the fewest blocks of at most `n_max` neurons.

    A cluster of m neurons becomes k = ceil(m / n_max) blocks whose sizes differ by
    at most one, so the astrocytes of a cluster serve balanced domains. Neurons keep
    their index order inside a cluster; blocks are numbered cluster by cluster in
    increasing cluster label.

    **Arguments:**

    - `cluster_of_neuron`: cluster label of every neuron, int array (n_neurons,).
    - `n_max`: maximum neurons per block (the mesh's `n_max`).

    **Returns:** the block of every neuron, int array of shape (n_neurons,).
    """
    labels = np.asarray(cluster_of_neuron)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"cluster_of_neuron must be a 1-D integer array, got shape {labels.shape} and dtype {labels.dtype}."
        )
    if n_max < 1:
        raise ValueError(f"n_max must be at least 1, got {n_max!r}.")

    _, cluster, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    order = np.argsort(cluster, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty_like(order)
    rank[order] = np.arange(labels.size) - np.repeat(starts, sizes)

    blocks_per_cluster = -(-sizes // n_max)
    first_block = np.concatenate([[0], np.cumsum(blocks_per_cluster)[:-1]])
    k = blocks_per_cluster[cluster]
    return first_block[cluster] + rank * k // sizes[cluster]


class Placement(eqx.Module):
    """Neuron blocks placed on the cores of a mesh, one block per core at most.

    **Arguments:**

    - `mesh`: the `Mesh`.
    - `block_of_neuron`: block of every neuron, int array (n_neurons,).
    - `core_of_block`: core of every block, int array (n_blocks,), no core twice.
    """

    mesh: Mesh
    block_of_neuron: np.ndarray
    core_of_block: np.ndarray

    def __check_init__(self):
        blocks = np.asarray(self.block_of_neuron)
        cores = np.asarray(self.core_of_block)
        if blocks.size and (blocks.min() < 0 or blocks.max() >= cores.size):
            raise ValueError(
                f"block_of_neuron must lie in [0, {cores.size}), got values in "
                f"[{blocks.min()}, {blocks.max()}]; pass one core per block."
            )
        if cores.size and (cores.min() < 0 or cores.max() >= self.mesh.n_cores):
            raise ValueError(
                f"core_of_block must lie in [0, {self.mesh.n_cores}), got values in [{cores.min()}, {cores.max()}]."
            )
        if np.unique(cores).size != cores.size:
            raise ValueError("core_of_block places two blocks on one core; give every block its own core.")
        sizes = np.bincount(blocks, minlength=cores.size)
        if sizes.size and sizes.max() > self.mesh.n_max:
            big = int(np.argmax(sizes))
            raise ValueError(
                f"block {big} contains {sizes[big]} neurons, more than "
                f"n_max={self.mesh.n_max}; split clusters with "
                "blocks_from_clusters(cluster_of_neuron, n_max) or raise n_max."
            )

    @property
    def n_neurons(self) -> int:
        """Number of placed neurons."""
        return int(np.asarray(self.block_of_neuron).size)

    @property
    def core_of_neuron(self) -> np.ndarray:
        """Core of every neuron, int array (n_neurons,)."""
        return np.asarray(self.core_of_block)[np.asarray(self.block_of_neuron)]

    @property
    def neurons_per_core(self) -> np.ndarray:
        """Number of neurons on every core, int array (n_cores,)."""
        return np.bincount(self.core_of_neuron, minlength=self.mesh.n_cores)

    @property
    def astrocyte_enabled(self) -> np.ndarray:
        """Whether each core's astrocyte serves any neuron, bool array (n_cores,)."""
        return self.neurons_per_core > 0


def placement_cost(core_of_block, block_traffic, mesh: Mesh) -> float:
    """Return the unicast cost sum_ab T_ab d(core a, core b) in spike hops."""
    cores = np.asarray(core_of_block)
    distance = mesh.manhattan()[np.ix_(cores, cores)]
    return float((np.asarray(block_traffic) * distance).sum())


class AbstractPlacementStrategy(eqx.Module):
    """Base class of strategies that assign blocks to cores."""

    @abc.abstractmethod
    def assign(self, block_traffic: np.ndarray, mesh: Mesh, key) -> np.ndarray:
        """Return the core of every block, shape (n_blocks,)."""


class SequentialPlacement(AbstractPlacementStrategy):
    """Block b goes to core b: row by row from the core at (0, 0)."""

    def assign(self, block_traffic, mesh, key):
        del mesh, key
        return np.arange(block_traffic.shape[0])


class GreedyPlacement(AbstractPlacementStrategy):
    """Constructive placement that puts talkative blocks next to each other.

    The block with the most traffic (sent plus received) goes to the core nearest
    the mesh centre. Then, repeatedly, the unplaced block with the most traffic to
    the placed blocks goes to the free core that adds the least cost C; ties go to
    the core nearest the centre, then to the lowest core id. Deterministic.
    """

    def assign(self, block_traffic, mesh, key):
        del key
        weight = block_traffic + block_traffic.T
        n_blocks = weight.shape[0]
        distance = mesh.manhattan().astype(float)
        xy = mesh.core_xy()
        centre = np.array([(mesh.width - 1) / 2, (mesh.height - 1) / 2])
        to_centre = np.abs(xy - centre).sum(axis=1)

        core_of_block = np.full(n_blocks, -1)
        free = np.ones(mesh.n_cores, dtype=bool)
        placed = np.zeros(n_blocks, dtype=bool)
        total = weight.sum(axis=1)
        for _ in range(n_blocks):
            pull = weight[:, placed].sum(axis=1) if placed.any() else total
            candidates = np.where(placed, -np.inf, pull)
            if not np.any(candidates[~placed] > 0):
                candidates = np.where(placed, -np.inf, total)
            block = int(np.argmax(candidates))

            cores = core_of_block[placed]
            cost = distance[:, cores] @ weight[block, placed]
            order = np.lexsort((np.arange(mesh.n_cores), to_centre, cost))
            core = int(order[np.argmax(free[order])])

            core_of_block[block] = core
            free[core] = False
            placed[block] = True
        return core_of_block


class AnnealedPlacement(AbstractPlacementStrategy):
    r"""Simulated annealing over swaps of two cores.

    Each step swaps the contents of a core holding a block with another core
    (holding a block or empty) and accepts the swap with the Metropolis rule,
    probability $\min(1, e^{-\Delta C / T_k})$. The temperature falls
    geometrically, $T_k = T_0\, r^{k / n}$ with $r$ = `final_temperature_ratio`.
    The best assignment seen is returned, so the cost never exceeds that of the
    start.

    **Arguments:**

    - `n_steps`: number of proposed swaps n.
    - `initial_temperature`: $T_0$ in spike hops; `None` uses the mean
      $|\Delta C|$ of 256 random swaps from the start.
    - `final_temperature_ratio`: $r = T_n / T_0$.
    - `start`: strategy giving the starting assignment; `None` starts from the
      cheaper of `SequentialPlacement` and `GreedyPlacement`.
    """

    n_steps: int = eqx.field(static=True, default=20_000)
    initial_temperature: float | None = None
    final_temperature_ratio: float = 1e-3
    start: AbstractPlacementStrategy | None = None

    def __check_init__(self):
        if self.n_steps < 1:
            raise ValueError(f"n_steps must be at least 1, got {self.n_steps!r}.")
        if self.initial_temperature is not None and not self.initial_temperature > 0:
            raise ValueError(f"initial_temperature must be positive or None, got {self.initial_temperature!r}.")
        if not 0 < self.final_temperature_ratio <= 1:
            raise ValueError(f"final_temperature_ratio must lie in (0, 1], got {self.final_temperature_ratio!r}.")

    def _start(self, block_traffic, mesh) -> np.ndarray:
        if self.start is not None:
            return np.asarray(self.start.assign(block_traffic, mesh, None))
        options = [
            np.asarray(strategy.assign(block_traffic, mesh, None))
            for strategy in (SequentialPlacement(), GreedyPlacement())
        ]
        costs = [placement_cost(cores, block_traffic, mesh) for cores in options]
        return options[int(np.argmin(costs))]

    def assign(self, block_traffic, mesh, key):
        if key is None:
            raise ValueError("AnnealedPlacement needs a key; pass key=jax.random.key(0).")
        n_blocks = block_traffic.shape[0]
        start = self._start(block_traffic, mesh)
        if n_blocks < 2:
            return start

        # Pad to a permutation of all cores: items >= n_blocks are empty cores.
        weight = np.zeros((mesh.n_cores, mesh.n_cores), dtype=np.float32)
        weight[:n_blocks, :n_blocks] = block_traffic + block_traffic.T
        np.fill_diagonal(weight, 0.0)
        empty = np.setdiff1d(np.arange(mesh.n_cores), start)
        position = np.concatenate([start, empty])
        t0 = -1.0 if self.initial_temperature is None else self.initial_temperature
        best = _anneal(
            jnp.asarray(weight),
            jnp.asarray(mesh.manhattan(), dtype=jnp.float32),
            jnp.asarray(position),
            t0,
            self.final_temperature_ratio,
            key,
            n_blocks=n_blocks,
            n_steps=self.n_steps,
        )
        best = np.asarray(best)[:n_blocks]
        # The loop tracks the cost in float32, which drifts for costs above
        # 2**24 spike hops; the exact comparison keeps the guarantee.
        if placement_cost(best, block_traffic, mesh) > placement_cost(start, block_traffic, mesh):
            return start
        return best


def _swap_delta(weight, distance, position, i, j):
    # Change of C when items i and j exchange cores. Terms with c in {i, j} cancel
    # except -2 W_ij d(p_i, p_j), which the last term puts back.
    gain = weight[i] - weight[j]
    shift = distance[position[j], position] - distance[position[i], position]
    return gain @ shift + 2.0 * weight[i, j] * distance[position[i], position[j]]


@functools.partial(jax.jit, static_argnames=("n_blocks", "n_steps"))
def _anneal(weight, distance, position, t0, ratio, key, *, n_blocks, n_steps):
    n_items = weight.shape[0]
    cost0 = 0.5 * jnp.sum(weight * distance[position][:, position])

    # All random numbers are drawn up front: the loop body then only indexes.
    key_first, key_offset, key_accept = jax.random.split(key, 3)
    first = jax.random.randint(key_first, (n_steps + 256,), 0, n_blocks)
    offset = jax.random.randint(key_offset, (n_steps + 256,), 1, n_items)
    second = (first + offset) % n_items
    uniform = jax.random.uniform(key_accept, (n_steps,))

    # A non-positive t0 asks for the mean |delta C| of 256 random swaps.
    deltas = jax.vmap(lambda a, b: _swap_delta(weight, distance, position, a, b))(first[n_steps:], second[n_steps:])
    typical = jnp.maximum(jnp.mean(jnp.abs(deltas)), 1e-12)
    t0 = jnp.where(t0 > 0, t0, typical)

    def step(k, carry):
        position, cost, best, best_cost = carry
        i, j = first[k], second[k]
        delta = _swap_delta(weight, distance, position, i, j)
        temperature = t0 * ratio ** (k / n_steps)
        accept = uniform[k] < jnp.exp(-jnp.maximum(delta, 0.0) / temperature)
        swapped = position.at[i].set(position[j]).at[j].set(position[i])
        position = jnp.where(accept, swapped, position)
        cost = jnp.where(accept, cost + delta, cost)
        improved = cost < best_cost
        best = jnp.where(improved, position, best)
        best_cost = jnp.where(improved, cost, best_cost)
        return position, cost, best, best_cost

    carry = (position, cost0, position, cost0)
    _, _, best, _ = jax.lax.fori_loop(0, n_steps, step, carry)
    return best


def place(
    block_of_neuron,
    mesh: Mesh,
    strategy: AbstractPlacementStrategy = SequentialPlacement(),
    *,
    block_traffic=None,
    key: PRNGKeyArray | None = None,
) -> Placement:
    """Place neuron blocks on the cores of `mesh`.

    **Arguments:**

    - `block_of_neuron`: block of every neuron, int array (n_neurons,), from
      `contiguous_blocks` or `blocks_from_clusters`.
    - `mesh`: the `Mesh`.
    - `strategy`: `SequentialPlacement()`, `GreedyPlacement()` or
      `AnnealedPlacement(...)`.
    - `block_traffic`: spikes from block a that must reach block b, array
      (n_blocks, n_blocks), from `block_traffic`; required by the traffic-aware
      strategies.
    - `key`: PRNG key, required by `AnnealedPlacement`.

    **Returns:** a `Placement`.
    """
    blocks = np.asarray(block_of_neuron)
    if blocks.ndim != 1 or not np.issubdtype(blocks.dtype, np.integer):
        raise ValueError(
            f"block_of_neuron must be a 1-D integer array, got shape {blocks.shape} and dtype {blocks.dtype}."
        )
    if blocks.size and blocks.min() < 0:
        raise ValueError(f"block_of_neuron must be non-negative, got {blocks.min()}.")
    mesh.check_fits(blocks.size)
    n_blocks = int(blocks.max()) + 1 if blocks.size else 0
    if n_blocks > mesh.n_cores:
        side = math.ceil(math.sqrt(n_blocks))
        raise ValueError(
            f"{n_blocks} blocks need {n_blocks} cores but the "
            f"{mesh.width}x{mesh.height} mesh has {mesh.n_cores}; use a mesh of at "
            f"least {side}x{side} cores or make fewer, larger blocks (at most "
            f"n_max={mesh.n_max} neurons each)."
        )

    if block_traffic is None:
        if not isinstance(strategy, SequentialPlacement):
            raise ValueError(
                f"{type(strategy).__name__} needs block_traffic; compute it with "
                "block_traffic(...) or use SequentialPlacement()."
            )
        traffic = np.zeros((n_blocks, n_blocks))
    else:
        traffic = np.asarray(block_traffic, dtype=float)
        if traffic.shape != (n_blocks, n_blocks):
            raise ValueError(
                f"block_traffic must have shape ({n_blocks}, {n_blocks}) for {n_blocks} blocks, got {traffic.shape}."
            )

    core_of_block = strategy.assign(traffic, mesh, key)
    return Placement(mesh, blocks, np.asarray(core_of_block))
