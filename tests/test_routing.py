"""Tests of many-core mapping and routing, checked against hand-drawn cases."""

import collections
import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lifa_jax.routing import (
    EAST,
    AnnealedPlacement,
    Broadcast,
    DenseLayers,
    ExplicitConnectivity,
    GreedyPlacement,
    HopCost,
    Mesh,
    Multicast,
    SequentialPlacement,
    ShortestPathRouting,
    Traffic,
    Unicast,
    UpDownRouting,
    XYRouting,
    block_traffic,
    blocks_from_clusters,
    build_routes,
    contiguous_blocks,
    draw_fault_map,
    draw_fault_maps,
    evaluate_fault_maps,
    fault_map,
    no_faults,
    place,
    placement_cost,
    poisson_spike_counts,
    route_schemes,
    traffic_from_spikes,
)
from lifa_jax.routing.study import (
    plot_link_load,
    plot_routing_comparison,
    run_routing_study,
)

MESH = Mesh(4, 4, n_max=4)
SCHEMES = (Unicast(), Multicast(), Broadcast())
ROUTINGS = (XYRouting(), UpDownRouting(), ShortestPathRouting())
build = eqx.filter_jit(build_routes)


def flow_traffic(mesh, source, destinations, spikes=1.0, duration_ms=1000.0):
    """One flow from core `source` (x, y) to cores `destinations`, padded to 8."""
    mask = np.zeros((8, mesh.n_cores), dtype=bool)
    for x, y in destinations:
        mask[0, mesh.core_id(x, y)] = True
    sources = np.zeros(8, dtype=np.int32)
    sources[0] = mesh.core_id(*source)
    counts = np.zeros(8, dtype=np.float32)
    counts[0] = spikes
    return Traffic(
        mesh,
        jnp.asarray(sources),
        jnp.asarray(mask),
        jnp.asarray(counts),
        jnp.asarray(0.0),
        duration_ms,
    )


SIZES = (8, 8, 4)


def layered_counts():
    # Fixed counts (0 to 6 spikes per neuron), one array per layer.
    counts = (np.arange(sum(SIZES)) * 5) % 7
    return [counts[:8], counts[8:16], counts[16:]]


@functools.cache
def layered_traffic():
    placement = place(contiguous_blocks(sum(SIZES), MESH.n_max), MESH)
    return traffic_from_spikes(layered_counts(), DenseLayers(SIZES), placement, duration_ms=1000.0)


# Mesh and routes on a fault-free mesh.


def test_xy_hops_are_manhattan():
    routes = build(MESH, XYRouting(), no_faults(MESH))
    off_diagonal = ~np.eye(MESH.n_cores, dtype=bool)
    assert np.array_equal(np.asarray(routes.hops), MESH.manhattan())
    assert np.array_equal(np.asarray(routes.delivered), off_diagonal)


@pytest.mark.parametrize("routing", ROUTINGS[1:])
def test_fault_aware_routes_minimal_without_faults(routing):
    routes = build(MESH, routing, no_faults(MESH))
    off_diagonal = ~np.eye(MESH.n_cores, dtype=bool)
    assert np.array_equal(np.asarray(routes.hops)[off_diagonal], MESH.manhattan()[off_diagonal])
    assert np.array_equal(np.asarray(routes.delivered), off_diagonal)


def test_shortest_path_trees_equal_xy_without_faults():
    xy = build(MESH, XYRouting(), no_faults(MESH))
    shortest = build(MESH, ShortestPathRouting(), no_faults(MESH))
    assert np.array_equal(np.asarray(xy.parent), np.asarray(shortest.parent))
    assert np.array_equal(np.asarray(xy.link), np.asarray(shortest.link))


def test_unicast_single_pair_hops():
    # (0, 0) -> (3, 2): 3 hops east, 2 north.
    traffic = flow_traffic(MESH, (0, 0), [(3, 2)])
    unicast, multicast, _ = route_schemes(traffic, SCHEMES, faults=no_faults(MESH))
    assert float(unicast.link_traversals) == 5.0
    assert float(unicast.router_traversals) == 6.0
    assert float(multicast.link_traversals) == 5.0
    assert float(unicast.mean_hops) == 5.0


def test_multicast_tree_hand_drawn():
    # From (0, 0) to {(3, 0), (3, 3), (1, 2)}. Unicast: 3 + 6 + 3 = 12 links.
    # XY tree: row 0 to x = 3 (3 links), column 1 to y = 2 (2), column 3 to
    # y = 3 (3): 8 links. Broadcast: a spanning tree of 16 cores, 15 links.
    traffic = flow_traffic(MESH, (0, 0), [(3, 0), (3, 3), (1, 2)], spikes=2.0)
    for routing in ROUTINGS[:2]:
        unicast, multicast, broadcast = route_schemes(traffic, SCHEMES, routing=routing, faults=no_faults(MESH))
        assert float(unicast.link_traversals) == 2 * 12
        assert float(multicast.link_traversals) == 2 * 8
        assert float(broadcast.link_traversals) == 2 * 15
        assert float(unicast.packets) == 2 * 3
        assert float(multicast.packets) == 2
        assert float(broadcast.packets) == 2
        assert float(multicast.router_traversals) == 2 * 9


def test_link_loads_along_row():
    # 3 spikes from (0, 0) to (2, 0) load the east ports of (0, 0) and (1, 0).
    traffic = flow_traffic(MESH, (0, 0), [(2, 0)], spikes=3.0)
    unicast, _, _ = route_schemes(traffic, SCHEMES, faults=no_faults(MESH))
    loads = np.asarray(unicast.link_loads)
    expected = np.zeros((MESH.n_cores, 4))
    expected[MESH.core_id(0, 0), EAST] = 3.0
    expected[MESH.core_id(1, 0), EAST] = 3.0
    assert np.array_equal(loads, expected)
    assert float(unicast.max_link_load) == 3.0


def test_unicast_traversals_closed_form():
    traffic = layered_traffic()
    unicast, _, _ = route_schemes(traffic, SCHEMES, faults=no_faults(MESH))
    demand = np.asarray(traffic.demand())
    expected = float(np.sum(demand * MESH.manhattan()))
    assert float(unicast.link_traversals) == pytest.approx(expected)
    assert float(np.sum(unicast.link_loads)) == pytest.approx(expected)


@pytest.mark.parametrize("routing", ROUTINGS[:2])
def test_delivered_fraction_one_without_faults(routing):
    traffic = layered_traffic()
    for metrics in route_schemes(traffic, SCHEMES, routing=routing, faults=no_faults(MESH)):
        assert float(metrics.delivered_fraction) == 1.0
        assert float(metrics.unreachable_pairs) == 0.0
        assert float(metrics.required_deliveries) > 0


# Costs.


def test_energy_counts_links_and_routers():
    cost = HopCost(link_energy_pj_per_bit=1.0, router_energy_pj_per_bit=2.0, bits_per_packet=1.0)
    traffic = flow_traffic(MESH, (0, 0), [(3, 2)])
    unicast, _, _ = route_schemes(traffic, SCHEMES, cost=cost, faults=no_faults(MESH))
    # 5 links and 6 routers.
    assert float(unicast.energy_pj) == 5 * 1.0 + 6 * 2.0


def test_latency_md1_on_busiest_link():
    # One packet over one link in a 2 ns window: service 1 ns, rho = 0.5, and the
    # M/D/1 wait is rho s / (2 (1 - rho)) = 0.5 ns.
    cost = HopCost(bits_per_packet=32.0, link_bandwidth_bits_per_ns=32.0)
    traffic = flow_traffic(MESH, (0, 0), [(1, 0)], duration_ms=2e-6)
    unicast, _, _ = route_schemes(traffic, SCHEMES, cost=cost, faults=no_faults(MESH))
    assert float(unicast.max_link_utilisation) == pytest.approx(0.5)
    assert float(unicast.mean_latency_ns) == pytest.approx(1 * (4.0 + 0.5) + 1.0)


def test_latency_infinite_when_link_saturates():
    traffic = flow_traffic(MESH, (0, 0), [(1, 0)], spikes=3.0, duration_ms=2e-6)
    unicast, _, _ = route_schemes(traffic, SCHEMES, faults=no_faults(MESH))
    assert float(unicast.max_link_utilisation) == pytest.approx(1.5)
    assert np.isinf(float(unicast.mean_latency_ns))


def test_hop_cost_rejects_zero_bandwidth():
    with pytest.raises(ValueError, match="link_bandwidth_bits_per_ns must be positive"):
        HopCost(link_bandwidth_bits_per_ns=0.0)


# Faults.


def test_detour_around_dead_link():
    # (0, 0) -> (3, 0) with the link (1, 0)-(2, 0) dead: XY drops the packet;
    # the fault-aware routings go round through row 1, 3 + 2 = 5 hops.
    faults = fault_map(MESH, dead_links=[((1, 0), (2, 0))])
    source, target = MESH.core_id(0, 0), MESH.core_id(3, 0)
    xy = build(MESH, XYRouting(), faults)
    assert not bool(xy.delivered[source, target])
    for routing in ROUTINGS[1:]:
        routes = build(MESH, routing, faults)
        assert bool(routes.delivered[source, target])
        assert int(routes.hops[source, target]) == 3 + 2


def test_xy_drop_counts_hops_before_fault():
    faults = fault_map(MESH, dead_links=[((1, 0), (2, 0))])
    traffic = flow_traffic(MESH, (0, 0), [(3, 0)])
    unicast, _, broadcast = route_schemes(traffic, SCHEMES, faults=faults)
    # The packet crosses (0, 0)-(1, 0) and is dropped at (1, 0).
    assert float(unicast.link_traversals) == 1.0
    assert float(unicast.delivered_fraction) == 0.0
    assert float(unicast.unreachable_pairs) == 1.0
    # The broadcast tree keeps columns 0 and 1: 1 + 3 + 3 links.
    assert float(broadcast.link_traversals) == 7.0


def test_isolated_corner_reported_unreachable():
    faults = fault_map(MESH, dead_links=[((0, 0), (1, 0)), ((0, 0), (0, 1))])
    corner = MESH.core_id(0, 0)
    for routing in ROUTINGS[1:]:
        routes = build(MESH, routing, faults)
        delivered = np.asarray(routes.delivered)
        assert not delivered[:, corner].any()
        assert not delivered[corner, :].any()
        others = np.arange(1, MESH.n_cores)
        inner = delivered[np.ix_(others, others)]
        assert inner.sum() == others.size * (others.size - 1)

    traffic = flow_traffic(MESH, (3, 3), [(0, 0), (2, 2)])
    for metrics in route_schemes(traffic, SCHEMES, routing=UpDownRouting(), faults=faults):
        assert float(metrics.unreachable_pairs) == 1.0
        assert float(metrics.delivered_fraction) == 0.5


def test_dead_router_cuts_its_core():
    faults = fault_map(MESH, dead_routers=[(1, 1)])
    core = MESH.core_id(1, 1)
    routes = build(MESH, UpDownRouting(), faults)
    delivered = np.asarray(routes.delivered)
    assert not delivered[core].any()
    assert not delivered[:, core].any()
    # (0, 1) -> (2, 1) goes round the dead router: 2 + 2 hops.
    assert int(routes.hops[MESH.core_id(0, 1), MESH.core_id(2, 1)]) == 4


def test_fault_map_rejects_non_neighbours():
    with pytest.raises(ValueError, match="not neighbours"):
        fault_map(MESH, dead_links=[((0, 0), (2, 0))])


def test_exact_fault_counts():
    mesh = Mesh(16, 16, n_max=1)
    faults = draw_fault_map(mesh, link_rate=0.1, router_rate=0.1, key=jax.random.key(0))
    assert int(faults.dead_links.sum()) == round(0.1 * 480)
    assert int(faults.dead_routers.sum()) == 26  # 25.6 rounded


def test_fault_maps_same_key_same_maps():
    first = draw_fault_maps(MESH, link_rate=0.2, router_rate=0.1, n_maps=3, key=jax.random.key(5))
    again = draw_fault_maps(MESH, link_rate=0.2, router_rate=0.1, n_maps=3, key=jax.random.key(5))
    assert np.array_equal(np.asarray(first.dead_links), np.asarray(again.dead_links))
    assert first.dead_links.shape == (3, MESH.n_links)


def test_fault_rate_out_of_range():
    with pytest.raises(ValueError, match=r"link_rate must lie in \[0, 1\]"):
        draw_fault_map(MESH, link_rate=1.5, router_rate=0.0, key=jax.random.key(0))


def _python_up_down_hops(mesh, faults):
    # Reference: plain BFS over (phase, router) states with the up*/down* rule.
    n = mesh.n_cores
    neighbours = mesh.neighbours()
    links = mesh.port_links()
    dead_links = np.asarray(faults.dead_links)
    dead_routers = np.asarray(faults.dead_routers)

    def alive(u, p):
        v = neighbours[u, p]
        return v >= 0 and not dead_links[links[u, p]] and not dead_routers[u] and not dead_routers[v]

    label = np.full(n, -1)
    level = np.full(n, -1)
    for root in range(n):
        if dead_routers[root] or label[root] >= 0:
            continue
        label[root], level[root] = root, 0
        queue = collections.deque([root])
        while queue:
            u = queue.popleft()
            for p in range(4):
                v = neighbours[u, p]
                if alive(u, p) and label[v] < 0:
                    label[v], level[v] = root, level[u] + 1
                    queue.append(v)
    rank = level * n + np.arange(n)

    hops = np.full((n, n), -1)
    for s in range(n):
        if dead_routers[s]:
            continue
        dist = {(0, s): 0}
        queue = collections.deque([(0, s)])
        while queue:
            phase, u = queue.popleft()
            for p in range(4):
                v = neighbours[u, p]
                if not alive(u, p):
                    continue
                up = rank[v] < rank[u]
                if up and phase == 1:
                    continue
                state = (0 if up else 1, v)
                if state not in dist:
                    dist[state] = dist[(phase, u)] + 1
                    queue.append(state)
        for (_, v), d in dist.items():
            if v != s and (hops[s, v] < 0 or d < hops[s, v]):
                hops[s, v] = d
    return hops, rank


def test_up_down_matches_reference_bfs_and_is_legal():
    mesh = MESH
    for index in range(4):
        faults = draw_fault_map(mesh, link_rate=0.2, router_rate=0.05, key=jax.random.key(index))
        routes = build(mesh, UpDownRouting(), faults)
        expected, rank = _python_up_down_hops(mesh, faults)
        delivered = np.asarray(routes.delivered)
        assert np.array_equal(delivered, expected >= 0)
        assert np.array_equal(np.asarray(routes.hops)[delivered], expected[delivered])

        # Walk every tree path back from its target: no up hop after a down hop.
        n = mesh.n_cores
        parent = np.asarray(routes.parent)
        target = np.asarray(routes.target_state)
        for s, d in zip(*np.nonzero(delivered), strict=True):
            state, went_down = target[s, d], False
            path = []
            while parent[s, state] != routes.n_states:
                path.append((parent[s, state] % n, state % n))
                state = parent[s, state]
            for u, v in reversed(path):
                up = rank[v] < rank[u]
                assert not (up and went_down)
                went_down = went_down or not up
            assert len(path) == expected[s, d]


def test_up_down_channel_dependencies_acyclic():
    faults = draw_fault_map(MESH, link_rate=0.15, router_rate=0.0, key=jax.random.key(7))
    routes = build(MESH, UpDownRouting(), faults)
    parent = np.asarray(routes.parent)
    link = np.asarray(routes.link)
    target = np.asarray(routes.target_state)
    delivered = np.asarray(routes.delivered)

    edges = set()
    for s, d in zip(*np.nonzero(delivered), strict=True):
        channels, state = [], target[s, d]
        while parent[s, state] != routes.n_states:
            channels.append(link[s, state])
            state = parent[s, state]
        channels.reverse()
        edges.update(zip(channels[:-1], channels[1:], strict=True))

    # Kahn's algorithm: every channel is removed only if the graph is acyclic.
    nodes = {c for edge in edges for c in edge}
    indegree = collections.Counter(b for _, b in edges)
    successors = collections.defaultdict(list)
    for a, b in edges:
        successors[a].append(b)
    ready = [c for c in nodes if indegree[c] == 0]
    removed = 0
    while ready:
        c = ready.pop()
        removed += 1
        for b in successors[c]:
            indegree[b] -= 1
            if indegree[b] == 0:
                ready.append(b)
    assert edges
    assert removed == len(nodes)


def test_vmapped_fault_maps_match_single_runs():
    traffic = layered_traffic()
    maps = draw_fault_maps(MESH, link_rate=0.1, router_rate=0.05, n_maps=4, key=jax.random.key(2))
    batched = evaluate_fault_maps(traffic, maps, routing=XYRouting(), batch_size=4)
    for index in range(4):
        single = jax.tree.map(lambda a, i=index: a[i], maps)
        expected = route_schemes(traffic, SCHEMES, routing=XYRouting(), faults=single)
        for got, want in zip(batched, expected, strict=True):
            assert float(got.link_traversals[index]) == pytest.approx(float(want.link_traversals))
            assert float(got.delivered_fraction[index]) == pytest.approx(float(want.delivered_fraction))


def test_evaluate_fault_maps_needs_batch_axis():
    with pytest.raises(ValueError, match="leading batch axis"):
        evaluate_fault_maps(layered_traffic(), no_faults(MESH))


# Placement.


def test_mesh_too_small_for_network():
    with pytest.raises(ValueError, match=r"50 neurons does not fit a 2x2 mesh.*raise n_max to 13"):
        place(contiguous_blocks(50, 10), Mesh(2, 2, n_max=10))


def test_too_many_blocks_for_cores():
    with pytest.raises(ValueError, match="5 blocks need 5 cores"):
        place(contiguous_blocks(10, 2), Mesh(2, 2, n_max=4))


def test_block_larger_than_n_max():
    with pytest.raises(ValueError, match="contains 6 neurons, more than n_max=4"):
        place(contiguous_blocks(12, 6), Mesh(2, 2, n_max=4))


def test_traffic_aware_placement_needs_traffic():
    with pytest.raises(ValueError, match="GreedyPlacement needs block_traffic"):
        place(contiguous_blocks(8, 4), MESH, GreedyPlacement())


def test_astrocytes_disabled_on_empty_cores():
    placement = place(contiguous_blocks(10, 2), Mesh(3, 3, n_max=2))
    enabled = placement.astrocyte_enabled
    assert enabled.tolist() == [True] * 5 + [False] * 4
    assert placement.neurons_per_core.tolist() == [2] * 5 + [0] * 4


def test_blocks_from_clusters_balanced():
    clusters = np.array([0] * 7 + [1] * 3)
    blocks = blocks_from_clusters(clusters, n_max=3)
    # Cluster 0 (7 neurons) -> 3 blocks of 3, 2, 2; cluster 1 -> 1 block of 3.
    assert blocks.tolist() == [0, 0, 0, 1, 1, 2, 2, 3, 3, 3]


def test_greedy_puts_talkative_pair_adjacent():
    traffic = np.zeros((3, 3))
    traffic[0, 2] = 100.0
    placement = place(np.array([0, 1, 2]), Mesh(3, 3, n_max=1), GreedyPlacement(), block_traffic=traffic)
    distance = Mesh(3, 3, n_max=1).manhattan()
    cores = placement.core_of_block
    assert distance[cores[0], cores[2]] == 1


def test_annealed_placement_deterministic_and_no_worse():
    blocks = contiguous_blocks(sum(SIZES), 2)
    traffic = block_traffic(layered_counts(), DenseLayers(SIZES), blocks)
    strategy = AnnealedPlacement(n_steps=2000)
    first = place(blocks, MESH, strategy, block_traffic=traffic, key=jax.random.key(1))
    again = place(blocks, MESH, strategy, block_traffic=traffic, key=jax.random.key(1))
    assert np.array_equal(first.core_of_block, again.core_of_block)
    sequential = place(blocks, MESH, SequentialPlacement())
    greedy = place(blocks, MESH, GreedyPlacement(), block_traffic=traffic)
    annealed_cost = placement_cost(first.core_of_block, traffic, MESH)
    assert annealed_cost <= placement_cost(sequential.core_of_block, traffic, MESH)
    assert annealed_cost <= placement_cost(greedy.core_of_block, traffic, MESH)


def test_annealed_placement_needs_key():
    traffic = np.ones((2, 2))
    with pytest.raises(ValueError, match="needs a key"):
        place(np.array([0, 1]), MESH, AnnealedPlacement(n_steps=10), block_traffic=traffic)


def test_place_large_network_on_16x16():
    sizes = (25_000,) * 4
    counts = poisson_spike_counts(sizes, key=jax.random.key(0))
    mesh = Mesh(16, 16, n_max=400)
    blocks = contiguous_blocks(sum(sizes), mesh.n_max)
    traffic = block_traffic(counts, DenseLayers(sizes), blocks)
    placement = place(blocks, mesh, GreedyPlacement(), block_traffic=traffic)
    assert placement.neurons_per_core.sum() == 100_000
    assert placement.neurons_per_core.max() == 400
    assert int(placement.astrocyte_enabled.sum()) == 250


# Traffic.


def test_dense_layer_traffic_by_hand():
    # Layer 0 (2 neurons) on core 0 fires 1 + 2 spikes aimed at layer 1 on core 1.
    mesh = Mesh(2, 1, n_max=2)
    placement = place(contiguous_blocks(4, 2), mesh)
    counts = [np.array([1, 2]), np.array([5, 5])]
    traffic = traffic_from_spikes(counts, DenseLayers((2, 2)), placement, duration_ms=1.0)
    demand = np.asarray(traffic.demand())
    assert demand.tolist() == [[0.0, 3.0], [0.0, 0.0]]
    assert block_traffic(counts, DenseLayers((2, 2)), contiguous_blocks(4, 2)).tolist() == [
        [0.0, 3.0],
        [0.0, 0.0],
    ]


def test_explicit_connectivity_matches_dense_layers():
    adjacency = np.zeros((20, 20), dtype=bool)
    adjacency[:8, 8:16] = True
    adjacency[8:16, 16:] = True
    counts = layered_counts()
    placement = place(contiguous_blocks(20, MESH.n_max), MESH)
    dense = traffic_from_spikes(counts, DenseLayers(SIZES), placement, duration_ms=1e3)
    explicit = traffic_from_spikes(counts, ExplicitConnectivity(adjacency), placement, duration_ms=1e3)
    assert np.allclose(np.asarray(dense.demand()), np.asarray(explicit.demand()))
    assert float(dense.local_deliveries) == float(explicit.local_deliveries)


def test_local_targets_stay_on_core():
    # Both layers on one core: every delivery is local, nothing enters the mesh.
    placement = place(contiguous_blocks(4, 4), MESH)
    counts = [np.array([1, 1]), np.array([0, 0])]
    traffic = traffic_from_spikes(counts, DenseLayers((2, 2)), placement, duration_ms=1.0)
    assert float(traffic.local_deliveries) == 2.0
    assert float(np.sum(traffic.demand())) == 0.0


def test_spike_counts_size_checked():
    placement = place(contiguous_blocks(4, 4), MESH)
    with pytest.raises(ValueError, match=r"one count per neuron \(4\), got 3"):
        traffic_from_spikes([np.ones(3)], DenseLayers((2, 2)), placement, duration_ms=1.0)


def test_poisson_counts_deterministic_with_mean_rate():
    first = poisson_spike_counts((25_000,) * 4, key=jax.random.key(0))
    again = poisson_spike_counts((25_000,) * 4, key=jax.random.key(0))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    mean = float(np.mean(np.concatenate(first)))
    # 2.17 Hz over 1 s; standard error of the mean sqrt(2.17 / 1e5) = 0.005.
    assert abs(mean - 2.17) < 0.025


# Study and figures.


def _xy_study() -> dict:
    return run_routing_study(
        SIZES,
        layered_counts(),
        mesh=MESH,
        key=jax.random.key(0),
        fault_rates=[0.1],
        n_fault_maps=3,
        routings=(XYRouting(),),
        batch_size=4,
    )


def test_routing_study_and_figures(tmp_path):
    study = _xy_study()
    assert study["fault_free"]["xy"]["multicast"]["delivered_fraction"] == 1.0
    faulty = study["faults"][0]["results"]["xy"]["unicast"]["delivered_fraction"]
    assert faulty["ci95_low"] <= faulty["mean"] <= faulty["ci95_high"]
    assert faulty["mean"] < 1.0
    assert study["disabled_astrocytes"] == MESH.n_cores - 5

    plot_link_load(study["fault_free_link_loads"]["xy"]["unicast"], MESH, tmp_path / "load.png")
    plot_routing_comparison(study, tmp_path / "comparison.png")
    assert (tmp_path / "load.png").stat().st_size > 0
    assert (tmp_path / "comparison.png").stat().st_size > 0


def test_routing_comparison_marks_infinite_latency(tmp_path):
    # A saturated link makes the latency estimate infinite and its interval NaN;
    # the figure must still be written and show those points as triangles.
    study = _xy_study()
    study["fault_free"]["xy"]["unicast"]["mean_latency_ns"] = float("inf")
    study["faults"][0]["results"]["xy"]["unicast"]["mean_latency_ns"] = {
        "mean": float("inf"),
        "ci95_low": float("nan"),
        "ci95_high": float("nan"),
    }
    fig = plot_routing_comparison(study, tmp_path / "comparison.png")
    assert (tmp_path / "comparison.png").stat().st_size > 0
    latency_panel = fig.axes[3]
    triangles = [line for line in latency_panel.lines if line.get_marker() == "^"]
    assert len(triangles) == 1
    assert len(triangles[0].get_xdata()) == 2
    # Finite schemes keep their ordinary lines and no triangle.
    assert sum(line.get_marker() == "o" for line in latency_panel.lines) == 3
