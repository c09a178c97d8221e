"""Dead links and dead routers of a mesh."""

from collections.abc import Iterable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, PRNGKeyArray

from .mesh import Mesh


class FaultMap(eqx.Module):
    """Dead links and dead routers of a mesh.

    A dead link carries nothing in either direction. A dead router forwards,
    injects and ejects nothing, so its core is cut off from the mesh. A batch of
    fault maps has a leading axis on both arrays.

    **Arguments:**

    - `dead_links`: bool array (n_links,), links numbered as
      `Mesh.link_endpoints`.
    - `dead_routers`: bool array (n_cores,).
    """

    dead_links: Bool[Array, "*batch links"]
    dead_routers: Bool[Array, "*batch cores"]


def no_faults(mesh: Mesh) -> FaultMap:
    """Return the fault map of a fault-free mesh."""
    return FaultMap(
        dead_links=jnp.zeros(mesh.n_links, dtype=bool),
        dead_routers=jnp.zeros(mesh.n_cores, dtype=bool),
    )


def fault_map(
    mesh: Mesh,
    *,
    dead_links: Iterable[tuple[tuple[int, int], tuple[int, int]]] = (),
    dead_routers: Iterable[tuple[int, int]] = (),
) -> FaultMap:
    """Build a fault map from core coordinates.

    **Arguments:**

    - `mesh`: the `Mesh`.
    - `dead_links`: pairs of neighbouring cores `((x0, y0), (x1, y1))`.
    - `dead_routers`: cores `(x, y)`.

    **Example:**

    ```python
    faults = fault_map(mesh, dead_links=[((1, 0), (2, 0))], dead_routers=[(3, 3)])
    ```
    """
    ends = mesh.link_endpoints()
    index = {(int(a), int(b)): i for i, (a, b) in enumerate(ends)}
    links = np.zeros(mesh.n_links, dtype=bool)
    for first, second in dead_links:
        a = int(mesh.core_id(*first))
        b = int(mesh.core_id(*second))
        link = index.get((min(a, b), max(a, b)))
        if link is None:
            raise ValueError(
                f"cores {first} and {second} are not neighbours on the "
                f"{mesh.width}x{mesh.height} mesh; name two cores one hop apart."
            )
        links[link] = True

    routers = np.zeros(mesh.n_cores, dtype=bool)
    for x, y in dead_routers:
        if not (0 <= x < mesh.width and 0 <= y < mesh.height):
            raise ValueError(f"router ({x}, {y}) lies outside the {mesh.width}x{mesh.height} mesh.")
        routers[mesh.core_id(x, y)] = True
    return FaultMap(jnp.asarray(links), jnp.asarray(routers))


def _check_rate(name: str, rate: float) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {rate!r}.")


def _exact_mask(n: int, rate: float, key) -> Array:
    # round(rate * n) units without replacement, rounded half up.
    k = int(np.floor(rate * n + 0.5))
    rank = jnp.argsort(jax.random.uniform(key, (n,)))
    return jnp.zeros(n, dtype=bool).at[rank[:k]].set(True)


def draw_fault_map(mesh: Mesh, *, link_rate: float, router_rate: float, key: PRNGKeyArray) -> FaultMap:
    """Draw one fault map in exact mode.

    Exactly round(link_rate * n_links) links and round(router_rate * n_cores)
    routers die (rounded half up), chosen uniformly without replacement.

    **Arguments:**

    - `mesh`: the `Mesh`.
    - `link_rate`: fraction of dead links, in [0, 1].
    - `router_rate`: fraction of dead routers, in [0, 1].
    - `key`: PRNG key.
    """
    _check_rate("link_rate", link_rate)
    _check_rate("router_rate", router_rate)
    return _draw(mesh, float(link_rate), float(router_rate), key)


@eqx.filter_jit
def _draw(mesh, link_rate, router_rate, key):
    key_links, key_routers = jax.random.split(key)
    return FaultMap(
        dead_links=_exact_mask(mesh.n_links, link_rate, key_links),
        dead_routers=_exact_mask(mesh.n_cores, router_rate, key_routers),
    )


def draw_fault_maps(
    mesh: Mesh,
    *,
    link_rate: float,
    router_rate: float,
    n_maps: int,
    key: PRNGKeyArray,
) -> FaultMap:
    """Draw `n_maps` independent fault maps (see `draw_fault_map`), stacked.

    **Returns:** a `FaultMap` with arrays of shape (n_maps, n_links) and
    (n_maps, n_cores).
    """
    if n_maps < 1:
        raise ValueError(f"n_maps must be at least 1, got {n_maps!r}.")
    _check_rate("link_rate", link_rate)
    _check_rate("router_rate", router_rate)
    keys = jax.random.split(key, n_maps)
    return _draw_many(mesh, float(link_rate), float(router_rate), keys)


@eqx.filter_jit
def _draw_many(mesh, link_rate, router_rate, keys):
    return jax.vmap(lambda k: _draw(mesh, link_rate, router_rate, k))(keys)


def alive_ports(mesh: Mesh, faults: FaultMap) -> Bool[Array, "cores 4"]:
    """Return whether each router port leads over a live link to a live router."""
    neighbours = jnp.asarray(mesh.neighbours())
    links = jnp.asarray(mesh.port_links())
    router_ok = ~faults.dead_routers
    link_ok = ~faults.dead_links[jnp.maximum(links, 0)]
    neighbour_ok = router_ok[jnp.maximum(neighbours, 0)]
    return (neighbours >= 0) & link_ok & neighbour_ok & router_ok[:, None]
