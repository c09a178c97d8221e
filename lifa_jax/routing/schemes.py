r"""Delivery schemes (unicast, multicast, broadcast) and their costs.

All three schemes use the routing trees of one `AbstractRouting`, so each
destination is reached along the same path whatever the scheme. The schemes
differ in how many packets travel and which links they use:

- `Unicast`: one packet per (spike, destination core) along the tree path.
- `Multicast`: one packet per spike along the union of the paths to its
  destination cores (a subtree), copied at branch routers.
- `Broadcast`: one packet per spike flooded over the whole tree, reaching every
  core the source reaches.

Energy of the traffic in a recording window:

$$E = b\,(e_\mathrm{link} L + e_\mathrm{router} R),\qquad R = L + P,$$

with b bits per packet, L link traversals, P injected packets (each packet
enters its source router once and one router per link).

Latency estimate of one packet over h hops (wormhole switching, so the packet
serialises once):

$$t = h\,(t_\mathrm{router} + W) + b / B,$$

where B is the link bandwidth and W the mean M/D/1 waiting time at the busiest
link, $W = \rho\, s / (2 (1 - \rho))$ with service time $s = b / B$ and
utilisation $\rho = \lambda s$, $\lambda$ the busiest link's packets per unit
time. Charging W at every hop makes the queueing part an upper estimate; with
$\rho \ge 1$ the link saturates and t is infinite.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .faults import FaultMap, no_faults
from .mesh import N_PORTS
from .paths import AbstractRouting, Routes, XYRouting, build_routes, subtree_sums
from .traffic import Traffic


class HopCost(eqx.Module):
    """Per-hop energy and timing of the mesh.

    The defaults are illustrative, not measured on any chip: a 32-bit spike
    packet costs 1.28 pJ per link hop and 2.24 pJ per router traversal, a
    router adds 4 ns and a link moves 32 bits per ns.

    **Arguments:**

    - `link_energy_pj_per_bit`: energy to move one bit over one link (pJ/bit).
    - `router_energy_pj_per_bit`: energy for one bit through one router (pJ/bit).
    - `bits_per_packet`: packet size b (bits).
    - `router_delay_ns`: pipeline delay of one router (ns).
    - `link_bandwidth_bits_per_ns`: link bandwidth B (bits/ns).
    """

    link_energy_pj_per_bit: float = 0.04
    router_energy_pj_per_bit: float = 0.07
    bits_per_packet: float = 32.0
    router_delay_ns: float = 4.0
    link_bandwidth_bits_per_ns: float = 32.0

    def __check_init__(self):
        for name in (
            "link_energy_pj_per_bit",
            "router_energy_pj_per_bit",
            "router_delay_ns",
        ):
            value = getattr(self, name)
            if isinstance(value, int | float) and not value >= 0:
                raise ValueError(f"{name} must be non-negative, got {value!r}.")
        for name in ("bits_per_packet", "link_bandwidth_bits_per_ns"):
            value = getattr(self, name)
            if isinstance(value, int | float) and not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}.")

    @property
    def serialisation_ns(self) -> float:
        """Time for one packet to cross a link, b / B (ns)."""
        return self.bits_per_packet / self.link_bandwidth_bits_per_ns


class AbstractScheme(eqx.Module):
    """Base class of delivery schemes, which turn a spike with several destination cores into packets."""


class Unicast(AbstractScheme):
    """One packet per (spike, destination core)."""


class Multicast(AbstractScheme):
    """One packet per spike along the tree to its destinations, copied at branches."""


class Broadcast(AbstractScheme):
    """One packet per spike, flooded over a spanning tree to every reachable core."""


class RoutingMetrics(eqx.Module):
    """Costs of routing one window of traffic; every field gets a batch axis under vmap.

    Counts are over the recording window of the `Traffic`.

    **Arguments:**

    - `packets`: injected packets.
    - `link_traversals`: packet-hops over links (lower is better).
    - `router_traversals`: packet visits to routers, link traversals + packets.
    - `energy_pj`: routing energy (pJ, lower is better).
    - `required_deliveries`: (spike, remote destination core) pairs to deliver.
    - `delivered`: of those, pairs delivered.
    - `delivered_fraction`: delivered / required, 1 when nothing is required
      (higher is better).
    - `unreachable_pairs`: (source core, destination core) pairs with traffic
      whose packets cannot arrive (lower is better).
    - `mean_hops`, `max_hops`: path length of delivered pairs (links).
    - `max_link_load`: packets over the busiest directed link.
    - `max_link_utilisation`: its utilisation rho (dimensionless).
    - `mean_latency_ns`, `max_latency_ns`: latency estimate over `mean_hops` and
      `max_hops` (ns, lower is better).
    - `link_loads`: packets over each directed link, `link_loads[core, port]`,
      float (n_cores, 4).
    """

    packets: Float[Array, "*batch"]
    link_traversals: Float[Array, "*batch"]
    router_traversals: Float[Array, "*batch"]
    energy_pj: Float[Array, "*batch"]
    required_deliveries: Float[Array, "*batch"]
    delivered: Float[Array, "*batch"]
    delivered_fraction: Float[Array, "*batch"]
    unreachable_pairs: Float[Array, "*batch"]
    mean_hops: Float[Array, "*batch"]
    max_hops: Float[Array, "*batch"]
    max_link_load: Float[Array, "*batch"]
    max_link_utilisation: Float[Array, "*batch"]
    mean_latency_ns: Float[Array, "*batch"]
    max_latency_ns: Float[Array, "*batch"]
    link_loads: Float[Array, "*batch cores 4"]


def _state_counts(routes: Routes, sources, amounts):
    # Scatter each flow's packets per destination core, float (n_flows, n_cores),
    # onto the target states of its source; a destination the source does not
    # send to adds nothing. Also returns the mask of sent destinations.
    wanted = (amounts > 0) & routes.sent[sources]
    n_flows = amounts.shape[0]
    rows = jnp.arange(n_flows)[:, None]
    counts = jnp.zeros((n_flows, routes.n_states + 1))
    counts = counts.at[rows, routes.target_state[sources]].add(jnp.where(wanted, amounts, 0.0))
    return counts, wanted


def _scheme_requests(routes: Routes, traffic: Traffic, scheme: AbstractScheme):
    # The request one scheme makes of the routing trees: tree rows (source cores), the
    # packets per target state of each row, the packets a row sends along every
    # used link (None for unicast, where each target's packets travel
    # separately), and the number of injected packets.
    n = traffic.mesh.n_cores
    if isinstance(scheme, Unicast):
        demand = traffic.demand()
        counts, wanted = _state_counts(routes, jnp.arange(n), demand)
        return jnp.arange(n), counts, None, jnp.sum(jnp.where(wanted, demand, 0.0))

    if isinstance(scheme, Multicast):
        sources, destinations = traffic.source_core, traffic.destinations
        spikes = traffic.spikes
    elif isinstance(scheme, Broadcast):
        sources = jnp.arange(n)
        spikes = jax.ops.segment_sum(traffic.spikes, traffic.source_core, n)
        destinations = jnp.broadcast_to(~jnp.eye(n, dtype=bool), (n, n))
    else:
        raise TypeError(f"scheme must be Unicast(), Multicast() or Broadcast(), got {scheme!r}.")
    counts, wanted = _state_counts(routes, sources, destinations.astype(jnp.float32))
    return sources, counts, spikes, jnp.sum(jnp.where(jnp.any(wanted, axis=1), spikes, 0.0))


def _link_loads(routes: Routes, requests) -> list[Array]:
    # Packets per directed link for each request. All requests share one
    # subtree-sum pass (stacked rows), which keeps the compiled program small.
    # below[f, k] counts the packets (unicast) or target cores (multicast,
    # broadcast) at or under state k; a traversed link into k carries below
    # packets, or weight[f] once when any target lies under k.
    sources = jnp.concatenate([r[0] for r in requests])
    counts = jnp.concatenate([r[1] for r in requests])
    below = subtree_sums(routes.parent[sources], counts, routes.n_rounds)[:, :-1]
    traversed = routes.traversed[sources]
    links = routes.link[sources]
    n_links = routes.sent.shape[0] * N_PORTS

    loads, start = [], 0
    for request_sources, _, weight, _ in requests:
        rows = slice(start, start + request_sources.shape[0])
        start = rows.stop
        if weight is None:
            carried = jnp.where(traversed[rows], below[rows], 0.0)
        else:
            carried = jnp.where(traversed[rows] & (below[rows] > 0), weight[:, None], 0.0)
        per_link = jax.ops.segment_sum(carried.ravel(), links[rows].ravel(), num_segments=n_links + 1)
        loads.append(per_link[:n_links])
    return loads


def scheme_link_loads(routes: Routes, traffic: Traffic, scheme: AbstractScheme) -> tuple[Array, Array]:
    """Return packets per directed link, (n_cores * 4,), and injected packets."""
    request = _scheme_requests(routes, traffic, scheme)
    return _link_loads(routes, [request])[0], request[3]


def routing_metrics(routes: Routes, traffic: Traffic, scheme: AbstractScheme, cost: HopCost) -> RoutingMetrics:
    """Compute the metrics of one scheme on already built routes (see module doc)."""
    return _schemes_metrics(routes, traffic, (scheme,), cost)[0]


def _schemes_metrics(routes, traffic, schemes, cost) -> tuple[RoutingMetrics, ...]:
    requests = [_scheme_requests(routes, traffic, scheme) for scheme in schemes]
    loads = _link_loads(routes, requests)
    return tuple(_package(routes, traffic, cost, load, r[3]) for load, r in zip(loads, requests, strict=True))


def _package(routes, traffic, cost, loads, packets) -> RoutingMetrics:
    n = traffic.mesh.n_cores
    link_traversals = jnp.sum(loads)
    router_traversals = link_traversals + packets
    energy = cost.bits_per_packet * (
        cost.link_energy_pj_per_bit * link_traversals + cost.router_energy_pj_per_bit * router_traversals
    )

    demand = traffic.demand()
    required = jnp.sum(demand)
    arrived = jnp.where(routes.delivered, demand, 0.0)
    delivered = jnp.sum(arrived)
    fraction = jnp.where(required > 0, delivered / jnp.maximum(required, 1e-30), 1.0)
    unreachable = jnp.sum((demand > 0) & ~routes.delivered)
    hops = routes.hops.astype(jnp.float32)
    mean_hops = jnp.sum(arrived * hops) / jnp.maximum(delivered, 1e-30)
    max_hops = jnp.max(jnp.where((demand > 0) & routes.delivered, hops, 0.0))

    service = cost.serialisation_ns
    max_load = jnp.max(loads)
    utilisation = max_load * service / (traffic.duration_ms * 1e6)
    wait = jnp.where(
        utilisation < 1,
        utilisation * service / (2 * jnp.maximum(1 - utilisation, 1e-30)),
        jnp.inf,
    )
    per_hop = cost.router_delay_ns + wait

    return RoutingMetrics(
        packets=packets,
        link_traversals=link_traversals,
        router_traversals=router_traversals,
        energy_pj=energy,
        required_deliveries=required,
        delivered=delivered,
        delivered_fraction=fraction,
        unreachable_pairs=unreachable.astype(jnp.float32),
        mean_hops=mean_hops,
        max_hops=max_hops,
        max_link_load=max_load,
        max_link_utilisation=utilisation,
        mean_latency_ns=mean_hops * per_hop + service,
        max_latency_ns=max_hops * per_hop + service,
        link_loads=loads.reshape(n, N_PORTS),
    )


def route_schemes(
    traffic: Traffic,
    schemes: tuple[AbstractScheme, ...],
    *,
    routing: AbstractRouting = XYRouting(),
    cost: HopCost = HopCost(),
    faults: FaultMap | None = None,
) -> tuple[RoutingMetrics, ...]:
    """Route one window of traffic with several schemes over the same routes.

    **Arguments:**

    - `traffic`: the `Traffic` of a placed network.
    - `schemes`: e.g. `(Unicast(), Multicast(), Broadcast())`.
    - `routing`: `XYRouting()`, `UpDownRouting()` or `ShortestPathRouting()`.
    - `cost`: the `HopCost`.
    - `faults`: one `FaultMap`; `None` for a fault-free mesh.

    **Returns:** one `RoutingMetrics` per scheme.

    **Example:**

    ```python
    unicast, multicast = route_schemes(
        traffic, (Unicast(), Multicast()), routing=UpDownRouting()
    )
    float(multicast.delivered_fraction)  # 1.0 on a fault-free mesh
    ```
    """
    if faults is None:
        faults = no_faults(traffic.mesh)
    traffic, cost = _traced_numbers(traffic), _traced_numbers(cost)
    return _route_schemes(traffic, tuple(schemes), routing, cost, faults)


def route_traffic(
    traffic: Traffic,
    scheme: AbstractScheme,
    *,
    routing: AbstractRouting = XYRouting(),
    cost: HopCost = HopCost(),
    faults: FaultMap | None = None,
) -> RoutingMetrics:
    """Route one window of traffic with one scheme; see `route_schemes`."""
    return route_schemes(traffic, (scheme,), routing=routing, cost=cost, faults=faults)[0]


def _traced_numbers(tree):
    # eqx.filter_jit treats Python floats as static, so a new cost or window
    # would compile anew; as arrays they are traced and share compiled code.
    return jax.tree.map(lambda x: jnp.asarray(x, jnp.float32) if isinstance(x, float) else x, tree)


@eqx.filter_jit
def _route_schemes(traffic, schemes, routing, cost, faults):
    routes = build_routes(traffic.mesh, routing, faults)
    return _schemes_metrics(routes, traffic, schemes, cost)


def evaluate_fault_maps(
    traffic: Traffic,
    fault_maps: FaultMap,
    *,
    schemes: tuple[AbstractScheme, ...] = (Unicast(), Multicast(), Broadcast()),
    routing: AbstractRouting = XYRouting(),
    cost: HopCost = HopCost(),
    batch_size: int = 8,
) -> tuple[RoutingMetrics, ...]:
    """Route the same traffic under many fault maps, vectorised.

    Routes are built once per fault map and shared by all schemes. Fault maps are
    processed `batch_size` at a time with `jax.vmap` inside `jax.lax.map`, which
    bounds memory (about 10 MB per map on a 16x16 mesh). The batch is padded
    with copies of the last map to a multiple of `batch_size`, so only one batch
    shape is compiled.

    **Arguments:**

    - `traffic`: the `Traffic`.
    - `fault_maps`: a stacked `FaultMap` from `draw_fault_maps`, batch axis first.
    - `schemes`: the schemes to evaluate.
    - `routing`: the routing algorithm.
    - `cost`: the `HopCost`.
    - `batch_size`: fault maps per vmapped batch.

    **Returns:** one `RoutingMetrics` per scheme, each field with a leading
    (n_maps,) axis.
    """
    if fault_maps.dead_routers.ndim != 2:
        raise ValueError(
            "fault_maps must be a stacked FaultMap with a leading batch axis; draw it with draw_fault_maps(...)."
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}.")
    n_maps = fault_maps.dead_routers.shape[0]
    batch_size = min(batch_size, n_maps)
    pad = -n_maps % batch_size
    padded = jax.tree.map(lambda a: jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)]), fault_maps)
    traffic, cost = _traced_numbers(traffic), _traced_numbers(cost)
    metrics = _evaluate_batch(traffic, padded, tuple(schemes), routing, cost, batch_size)
    return jax.tree.map(lambda a: a[:n_maps], metrics)


@eqx.filter_jit
def _evaluate_batch(traffic, fault_maps, schemes, routing, cost, batch_size):
    def one(faults):
        routes = build_routes(traffic.mesh, routing, faults)
        return _schemes_metrics(routes, traffic, schemes, cost)

    return jax.lax.map(one, fault_maps, batch_size=batch_size)
