"""Routing algorithms: the path every packet takes from its source core.

Each algorithm builds, for every source core s, a routing tree rooted at s over
router states. A destination d is reached along the tree path from s to d; a
multicast packet follows the union of those paths, which is a subtree. Trees are
stored as parent pointers so that per-link loads are subtree sums (see
`subtree_sums`).

- `XYRouting`: dimension-order routing, first along x, then along y. It ignores
  faults, so a packet whose path meets a dead link or router is dropped there.
- `UpDownRouting`: the shortest surviving path that obeys the up*/down* rule
  (Schroeder et al., "Autonet: a high-speed, self-configuring local area
  network using point-to-point links", IEEE JSAC 1991). Deadlock-free.
- `ShortestPathRouting`: the shortest surviving path with no turn restriction.
  Minimal, but with no deadlock guarantee; a reference for the hop cost of the
  up*/down* restriction.

Deadlock freedom of up*/down*. In each connected component of the surviving
mesh the root is the live router with the lowest id, and every router gets the
rank (BFS level from the root, id), which orders routers totally. A link
traversal u -> v is "up" when rank(v) < rank(u) and "down" otherwise. A legal
route takes zero or more up hops followed by zero or more down hops. A wait-for
(channel dependency) edge from channel c1 to channel c2 exists only when some
route takes c2 right after c1, so it is up -> up (rank of the head falls),
down -> down (rank rises) or up -> down. A cycle of dependencies would need to
return to its start, which up -> up or down -> down chains alone cannot do
because the rank changes monotonically along them; so it would contain a
down -> up edge, which no route has. The dependency graph is acyclic, which is
the condition of Dally & Seitz ("Deadlock-free message routing in
multiprocessor interconnection networks", IEEE Trans. Computers 1987) for
deadlock-free wormhole routing. Every pair in one component has a legal route
(up to the root, then down), so up*/down* reaches exactly what the surviving
mesh connects.

NOTE: the argument covers each path. A multicast packet follows several legal
paths at once, and with wormhole replication a blocked branch can hold the
others; the argument then also needs branching routers that buffer whole
packets, which holds for single-flit spike packets.
"""

import abc

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Int

from .faults import FaultMap, alive_ports, no_faults
from .mesh import EAST, N_PORTS, NORTH, OPPOSITE_PORT, SOUTH, WEST, Mesh

_PARENT_PORT_ORDER = np.array([NORTH, SOUTH, EAST, WEST])

# Larger than any hop count on a mesh of up to 2**20 router states.
_UNREACHED = 2**30


class Routes(eqx.Module):
    """Routing trees of all source cores under one fault map.

    A state is a router, or a (phase, router) pair for routings with phases;
    state k of a routing with P phases is router k % n_cores in phase
    k // n_cores. Index n_states is a sink used as the parent of roots and of
    states outside the tree.

    **Arguments:**

    - `parent`: parent state in the tree of source s, int (n_cores, n_states + 1).
    - `link`: directed link that enters each state, `router * 4 + port` of the
      sending router, `n_cores * 4` where none, int (n_cores, n_states).
    - `reached`: whether a packet from s arrives in the state, bool
      (n_cores, n_states).
    - `target_state`: state in which a packet from s for core d arrives, int
      (n_cores, n_cores).
    - `sent`: whether s injects a packet for d, bool (n_cores, n_cores); false
      for d = s, for a dead source router and, under fault-aware routing, for an
      unreachable d.
    - `delivered`: whether a packet from s reaches d, bool (n_cores, n_cores).
    - `hops`: path length from s to d in links, int (n_cores, n_cores); valid
      where `delivered`.
    - `n_rounds`: pointer-doubling rounds that cover the deepest tree, int
      scalar.
    """

    parent: Int[Array, "cores states_and_sink"]
    link: Int[Array, "cores states"]
    reached: Bool[Array, "cores states"]
    target_state: Int[Array, "cores cores"]
    sent: Bool[Array, "cores cores"]
    delivered: Bool[Array, "cores cores"]
    hops: Int[Array, "cores cores"]
    n_rounds: Int[Array, ""]

    @property
    def n_states(self) -> int:
        """Number of router states (without the sink)."""
        return self.link.shape[-1]

    @property
    def traversed(self) -> Bool[Array, "cores states"]:
        """Whether the link into each state carries the packets of source s."""
        return self.reached & (self.parent[..., :-1] < self.n_states)


def _rounds(max_depth):
    # Pointer doubling covers 2**rounds states of a path, root included, so
    # ceil(log2(max_depth + 1)) rounds cover every path.
    rounds = jnp.ceil(jnp.log2(jnp.asarray(max_depth, jnp.float32) + 1.0))
    return jnp.maximum(rounds.astype(jnp.int32), 1)


def subtree_sums(parent, x, n_rounds: int):
    r"""Sum `x` over every subtree of a batch of trees by pointer doubling.

    $$y = \prod_{j < J} (I + A^{2^j})\, x = \sum_{k < 2^J} A^k x,$$

    where $A$ sends each state's value to its parent. After J rounds every state
    contains the sum over itself and its descendants up to depth 2^J - 1, so
    J = ceil(log2(depth + 1)) gathers and scatters replace one pass per tree
    level.

    **Arguments:**

    - `parent`: int (batch, n_states + 1); the last state is a sink that is its
      own parent.
    - `x`: float (batch, n_states + 1).
    - `n_rounds`: J.

    **Returns:** float (batch, n_states + 1), subtree sums (sink entry zero).
    """
    batch, size = parent.shape
    offset = (jnp.arange(batch) * size)[:, None]

    def double(_, carry):
        x, ancestor = carry
        moved = jax.ops.segment_sum(x.ravel(), (ancestor + offset).ravel(), num_segments=batch * size)
        x = (x + moved.reshape(batch, size)).at[:, -1].set(0)
        return x, jnp.take_along_axis(ancestor, ancestor, axis=1)

    x, _ = jax.lax.fori_loop(0, n_rounds, double, (x.at[:, -1].set(0), parent))
    return x


def _path_all(parent, good, n_rounds):
    # AND of `good` over each state and all its ancestors, by pointer doubling.
    def double(_, carry):
        good, ancestor = carry
        good = good & jnp.take_along_axis(good, ancestor, axis=1)
        return good, jnp.take_along_axis(ancestor, ancestor, axis=1)

    good, _ = jax.lax.fori_loop(0, n_rounds, double, (good.at[:, -1].set(True), parent))
    return good


def _path_sums(parent, edge, n_rounds):
    # Number of `edge` states on the path from each state up to its root, by
    # pointer doubling; the sink counts zero.
    def double(_, carry):
        depth, ancestor = carry
        depth = depth + jnp.take_along_axis(depth, ancestor, axis=1)
        return depth, jnp.take_along_axis(ancestor, ancestor, axis=1)

    start = jnp.concatenate([edge, jnp.zeros((edge.shape[0], 1), bool)], axis=1)
    depth, _ = jax.lax.fori_loop(0, n_rounds, double, (start.astype(jnp.int32), parent))
    return depth[:, :-1]


class AbstractRouting(eqx.Module):
    """Base class of routing algorithms, which fix the path of every packet."""

    @abc.abstractmethod
    def build(self, mesh: Mesh, faults: FaultMap) -> Routes:
        """Return the routing trees of every source core under `faults`."""


class XYRouting(AbstractRouting):
    """Dimension-order routing: along x to the destination column, then along y.

    The path from (x_s, y_s) to (x_d, y_d) has |x_d - x_s| + |y_d - y_s| links and
    is fixed; the routing is oblivious to faults, so a packet that meets a dead
    link or a dead router is dropped at the last live router before it. The hops
    up to that router still count as traversals.
    """

    def build(self, mesh, faults):
        parent, port = _xy_trees(mesh)
        n = mesh.n_cores
        sources = np.arange(n)[:, None]
        is_root = parent == n
        link = np.where(is_root, n * N_PORTS, parent * N_PORTS + np.maximum(port, 0))

        ok = alive_ports(mesh, faults)
        router_ok = ~faults.dead_routers
        hop_ok = ok[jnp.minimum(parent, n - 1), jnp.maximum(port, 0)]
        good = jnp.where(jnp.asarray(is_root), router_ok[:, None], hop_ok)
        good = jnp.concatenate([good, jnp.ones((n, 1), dtype=bool)], axis=1)
        parent_sink = np.concatenate([parent, np.full((n, 1), n)], axis=1)
        depth = mesh.width + mesh.height - 2
        reached = _path_all(jnp.asarray(parent_sink), good, _rounds(depth))[:, :n]

        off_source = jnp.asarray(sources != np.arange(n)[None, :])
        delivered = reached & off_source
        return Routes(
            parent=jnp.asarray(parent_sink),
            link=jnp.asarray(link),
            reached=reached,
            target_state=jnp.broadcast_to(jnp.arange(n), (n, n)),
            sent=router_ok[:, None] & off_source,
            delivered=delivered,
            hops=jnp.asarray(mesh.manhattan()),
            n_rounds=_rounds(depth),
        )


def _xy_trees(mesh: Mesh) -> tuple[np.ndarray, np.ndarray]:
    # Parent of router v in the XY tree of source s, and the parent's output port
    # towards v. Roots get parent n_cores and port -1.
    n = mesh.n_cores
    xy = mesh.core_xy()
    xs, ys = xy[:, None, 0], xy[:, None, 1]
    xv, yv = xy[None, :, 0], xy[None, :, 1]
    dy, dx = np.sign(yv - ys), np.sign(xv - xs)
    on_row = yv == ys
    parent_x = np.where(on_row, xv - dx, xv)
    parent_y = np.where(on_row, ys, yv - dy)
    parent = mesh.core_id(parent_x, parent_y)
    port = np.where(
        on_row,
        np.where(dx > 0, EAST, WEST),
        np.where(dy > 0, NORTH, SOUTH),
    )
    root = on_row & (dx == 0)
    return np.where(root, n, parent), np.where(root, -1, port)


def _components(ok, neighbours, router_ok):
    # Label every live router with the lowest id of its connected component, and
    # its BFS level from that root. Dead routers get label n and level _UNREACHED.
    n = ok.shape[0]
    ids = jnp.arange(n)
    safe = jnp.maximum(neighbours, 0)

    def relax_label(label):
        best = jnp.where(ok, label[safe], n).min(axis=1)
        return jnp.where(router_ok, jnp.minimum(label, best), n)

    def relax_level(level):
        best = jnp.where(ok, level[safe] + 1, _UNREACHED).min(axis=1)
        return jnp.minimum(level, best)

    label = _fixed_point(relax_label, jnp.where(router_ok, ids, n))
    root = router_ok & (label == ids)
    level = _fixed_point(relax_level, jnp.where(root, 0, _UNREACHED))
    return label, level


def _fixed_point(relax, start):
    def body(state):
        value, _ = state
        new = relax(value)
        return new, jnp.any(new != value)

    value, _ = jax.lax.while_loop(lambda s: s[1], body, (start, jnp.array(True)))
    return value


_ALL_BITS = np.uint32(0xFFFFFFFF)
_WORD_BITS = 32


def _source_seeds(n: int) -> np.ndarray:
    # Bit s % 32 of word s // 32 marks source s; seeds[w, v] contains the bit of
    # source v in word w, so each source starts at its own router.
    n_words = -(-n // _WORD_BITS)
    seeds = np.zeros((n_words, n), dtype=np.uint32)
    sources = np.arange(n)
    seeds[sources // _WORD_BITS, sources] = np.left_shift(np.uint32(1), (sources % _WORD_BITS).astype(np.uint32))
    return seeds


def _unpack_sources(bits, n: int):
    # (..., words, m) uint32 -> (..., n, m) bool, one row per source.
    shifts = jnp.arange(_WORD_BITS, dtype=jnp.uint32)[:, None]
    unpacked = (bits[..., :, None, :] >> shifts) & 1
    shape = (*bits.shape[:-2], bits.shape[-2] * _WORD_BITS, bits.shape[-1])
    return unpacked.reshape(shape)[..., :n, :].astype(bool)


def _state_bfs(mesh: Mesh, allowed, router_ok) -> Routes:
    # Breadth-first search from every source at once over (phase, router)
    # states. allowed[pf, pt, v, p]: a hop from (pf, neighbour of v through port
    # p) into (pt, v) is legal and alive. Sources are packed 32 to a uint32
    # word, so one bitwise operation advances 32 searches. A state's parent is
    # fixed when the state is first reached: the first candidate predecessor in
    # the order (phase, port) with ports north, south, east, west. Trying the
    # y neighbours first makes the last hops of a path run along y, so on a
    # fault-free mesh the unrestricted trees equal the XY trees.
    n = mesh.n_cores
    n_phases = allowed.shape[0]
    n_states = n_phases * n
    neighbours = np.maximum(mesh.neighbours(), 0)
    candidates = [(pf, port) for pf in range(n_phases) for port in _PARENT_PORT_ORDER]
    masks = jnp.where(allowed, _ALL_BITS, np.uint32(0))
    seeds = jnp.asarray(_source_seeds(n)) & jnp.where(router_ok, _ALL_BITS, 0)
    start = jnp.zeros((seeds.shape[0], n_phases, n), jnp.uint32).at[:, 0].set(seeds)
    choice = jnp.zeros((len(candidates), *start.shape), jnp.uint32)

    def body(state):
        visited, frontier, choice, steps, _ = state
        claimed = visited
        chosen = []
        for pf, port in candidates:
            incoming = frontier[:, pf, neighbours[:, port]]
            hit = incoming[:, None, :] & masks[pf, :, :, port][None] & ~claimed
            claimed = claimed | hit
            chosen.append(hit)
        fresh = claimed & ~visited
        choice = choice | jnp.stack(chosen)
        return claimed, fresh, choice, steps + 1, jnp.any(fresh != 0)

    visited, _, choice, steps, _ = jax.lax.while_loop(
        lambda s: s[4], body, (start, start, choice, jnp.int32(0), jnp.array(True))
    )

    hit = _unpack_sources(choice.reshape(len(candidates), -1, n_states), n)
    has_parent = jnp.any(hit, axis=0)
    pick = jnp.argmax(hit, axis=0)
    phase_from = pick // N_PORTS
    port = jnp.asarray(_PARENT_PORT_ORDER)[pick % N_PORTS]
    router = jnp.arange(n_states) % n
    sender = jnp.asarray(neighbours)[router[None, :], port]
    parent = jnp.where(has_parent, phase_from * n + sender, n_states)
    link = jnp.where(has_parent, sender * N_PORTS + jnp.asarray(OPPOSITE_PORT)[port], n * N_PORTS)
    parent = jnp.concatenate([parent, jnp.full((n, 1), n_states)], axis=1)
    reached = _unpack_sources(visited.reshape(-1, n_states), n)

    # The deepest path has steps - 1 hops (the last step finds nothing new).
    n_rounds = _rounds(steps - 1)
    depth = _path_sums(parent, has_parent, n_rounds)
    depth = jnp.where(reached, depth, _UNREACHED)
    depth = depth.reshape(n, n_phases, n)
    best_phase = jnp.argmin(depth, axis=1)
    hops = jnp.min(depth, axis=1)
    ids = jnp.arange(n)
    reachable = (hops < _UNREACHED) & (ids[:, None] != ids[None, :])
    return Routes(
        parent=parent,
        link=link,
        reached=reached,
        target_state=best_phase * n + ids[None, :],
        sent=reachable,
        delivered=reachable,
        hops=jnp.where(reachable, hops, 0),
        n_rounds=n_rounds,
    )


class UpDownRouting(AbstractRouting):
    """Shortest surviving path under the up*/down* rule; deadlock-free.

    Packets to a core outside the source's connected component are not sent and
    are reported as unreachable. On a fault-free mesh the root is the core at
    (0, 0), every hop towards smaller x or y is up, and a minimal path that takes
    all its decreasing hops first is legal, so routes are minimal (Manhattan).
    With faults a legal path can be longer than the shortest surviving path.
    """

    def build(self, mesh, faults):
        ok = alive_ports(mesh, faults)
        router_ok = ~faults.dead_routers
        neighbours = jnp.asarray(mesh.neighbours())
        _, level = _components(ok, neighbours, router_ok)
        n = mesh.n_cores
        # Dead routers keep level _UNREACHED; zero it so rank * n cannot overflow.
        # No live port leads to a dead router, so its rank is never compared.
        rank = jnp.where(level < _UNREACHED, level, 0) * n + jnp.arange(n)
        sender_rank = rank[jnp.maximum(neighbours, 0)]
        up = ok & (rank[:, None] < sender_rank)
        down = ok & (rank[:, None] > sender_rank)
        never = jnp.zeros_like(ok)
        allowed = jnp.stack([jnp.stack([up, down]), jnp.stack([never, down])])
        return _state_bfs(mesh, allowed, router_ok)


class ShortestPathRouting(AbstractRouting):
    """Shortest surviving path with no turn restriction (no deadlock guarantee).

    Ties go to the predecessor along y first (north, south, east, west), so on a
    fault-free mesh the routes equal the XY routes. Packets to an unreachable
    core are not sent.
    """

    def build(self, mesh, faults):
        ok = alive_ports(mesh, faults)
        return _state_bfs(mesh, ok[None, None], ~faults.dead_routers)


def build_routes(mesh: Mesh, routing: AbstractRouting, faults: FaultMap | None = None) -> Routes:
    """Build the routing trees of every source core; jit- and vmap-compatible.

    **Arguments:**

    - `mesh`: the `Mesh`.
    - `routing`: `XYRouting()`, `UpDownRouting()` or `ShortestPathRouting()`.
    - `faults`: a single `FaultMap`; `None` for a fault-free mesh.
    """
    return routing.build(mesh, no_faults(mesh) if faults is None else faults)
