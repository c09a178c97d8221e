"""Routing under many fault maps: vmapped batches against a per-map Python loop.

Places the 1024-768-2048-512-100 network (4452 neurons, consecutive layers fully
connected) on a 16x16 mesh in contiguous blocks of 18 neurons. Spike counts are
Poisson at 2.17 Hz over 1 s, and the traffic is routed under `--maps` fault maps
(exact mode) with all three schemes. The same maps are evaluated in one
run by `evaluate_fault_maps` once per batch size in `--batch-sizes` (jax.vmap
over each batch inside one compiled jax.lax.map; batch 1 runs the maps one after
another inside it) and by a Python loop that calls the jitted single-map
`route_schemes` once per map. Timings exclude compilation (one warm-up call
each). Prints the times, the ratios loop / vmapped, the largest relative
difference between the results and the mean metrics.

Run: `.venv/bin/python benchmarks/bench_routing.py [--maps 1000] [--loop-maps 1000]
[--routing up_down] [--batch-sizes 8,1]`
"""

import argparse
import os
import platform
import time

import jax
import numpy as np

from lifa_jax.routing import (
    Broadcast,
    DenseLayers,
    Mesh,
    Multicast,
    ShortestPathRouting,
    Unicast,
    UpDownRouting,
    XYRouting,
    contiguous_blocks,
    draw_fault_maps,
    evaluate_fault_maps,
    place,
    poisson_spike_counts,
    route_schemes,
    traffic_from_spikes,
)

TOPOLOGY = (1024, 768, 2048, 512, 100)
ROUTINGS = {"xy": XYRouting(), "up_down": UpDownRouting(), "shortest_path": ShortestPathRouting()}
SCHEMES = (Unicast(), Multicast(), Broadcast())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--maps", type=int, default=1000, help="fault maps for the vmapped run")
    parser.add_argument("--loop-maps", type=int, default=1000, help="fault maps for the Python loop (first N)")
    parser.add_argument("--routing", choices=sorted(ROUTINGS), default="up_down", help="routing algorithm")
    parser.add_argument("--batch-sizes", default="8,1", help="comma-separated fault maps per vmapped batch, each timed")
    parser.add_argument("--link-rate", type=float, default=0.05, help="fraction of dead links")
    parser.add_argument("--router-rate", type=float, default=0.02, help="fraction of dead routers")
    args = parser.parse_args()
    if not 1 <= args.loop_maps <= args.maps:
        parser.error(f"--loop-maps must lie in [1, --maps={args.maps}], got {args.loop_maps}")

    routing = ROUTINGS[args.routing]
    mesh = Mesh(16, 16, n_max=18)
    key_counts, key_faults = jax.random.split(jax.random.key(0))
    counts = poisson_spike_counts(TOPOLOGY, rate_hz=2.17, duration_ms=1000.0, key=key_counts)
    placement = place(contiguous_blocks(sum(TOPOLOGY), mesh.n_max), mesh)
    traffic = traffic_from_spikes(counts, DenseLayers(TOPOLOGY), placement, duration_ms=1000.0)
    maps = draw_fault_maps(
        mesh, link_rate=args.link_rate, router_rate=args.router_rate, n_maps=args.maps, key=key_faults
    )

    print(f"machine: {platform.platform()}, {platform.processor() or 'cpu'}, {os.cpu_count()} CPUs")
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}")
    print(
        f"network {'-'.join(map(str, TOPOLOGY))}: {sum(TOPOLOGY)} neurons, "
        f"{int(np.sum(np.concatenate(counts)))} spikes in 1 s, "
        f"{int(placement.astrocyte_enabled.sum())} of {mesh.n_cores} cores used"
    )
    print(
        f"routing {args.routing}, schemes unicast/multicast/broadcast, {args.maps} fault maps "
        f"(links {args.link_rate}, routers {args.router_rate})"
    )

    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    vmapped_s, batched = {}, {}
    for batch_size in batch_sizes:
        jax.block_until_ready(
            evaluate_fault_maps(traffic, maps, schemes=SCHEMES, routing=routing, batch_size=batch_size)
        )
        start = time.perf_counter()
        batched[batch_size] = jax.block_until_ready(
            evaluate_fault_maps(traffic, maps, schemes=SCHEMES, routing=routing, batch_size=batch_size)
        )
        vmapped_s[batch_size] = time.perf_counter() - start

    def one(index):
        single = jax.tree.map(lambda a: a[index], maps)
        return route_schemes(traffic, SCHEMES, routing=routing, faults=single)

    jax.block_until_ready(one(0))
    start = time.perf_counter()
    looped = [jax.block_until_ready(one(i)) for i in range(args.loop_maps)]
    loop_s = time.perf_counter() - start
    loop_all_s = loop_s * args.maps / args.loop_maps

    worst = 0.0
    pairs = [(run, results, index) for run in batched.values() for index, results in enumerate(looped)]
    for run, results, index in pairs:
        for got, want in zip(run, results, strict=True):
            for name in ("delivered_fraction", "link_traversals", "max_link_load"):
                a, b = float(getattr(got, name)[index]), float(getattr(want, name))
                worst = max(worst, abs(a - b) / max(abs(b), 1.0))

    extrapolated = "" if args.loop_maps == args.maps else f", extrapolated from {args.loop_maps} maps"
    print(
        f"python loop: {loop_all_s:.2f} s for {args.maps} maps{extrapolated}, {1e3 * loop_s / args.loop_maps:.2f} ms/map"
    )
    for batch_size, seconds in vmapped_s.items():
        print(
            f"vmapped, batch {batch_size}: {seconds:.2f} s for {args.maps} maps, "
            f"{1e3 * seconds / args.maps:.2f} ms/map, ratio loop / vmapped {loop_all_s / seconds:.2f}"
        )
    print(f"largest relative difference vmapped vs loop: {worst:.2e}")
    for scheme, metrics in zip(("unicast", "multicast", "broadcast"), batched[batch_sizes[0]], strict=True):
        print(
            f"  {scheme:9s} delivered {float(np.mean(metrics.delivered_fraction)):.4f}, "
            f"link traversals {float(np.mean(metrics.link_traversals)):.0f}, "
            f"energy {float(np.mean(metrics.energy_pj)) / 1e6:.3f} uJ, "
            f"busiest link {float(np.mean(metrics.max_link_load)):.0f} packets, "
            f"mean hops {float(np.mean(metrics.mean_hops)):.2f}, "
            f"mean latency {float(np.mean(metrics.mean_latency_ns)):.1f} ns"
        )


if __name__ == "__main__":
    main()
