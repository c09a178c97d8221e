"""A two-dimensional mesh of neuromorphic cores joined by routers."""

import math

import equinox as eqx
import numpy as np

# Output ports of a router. Core ids run row by row, core = y * width + x, and
# north is +y.
EAST, WEST, NORTH, SOUTH = 0, 1, 2, 3
N_PORTS = 4
OPPOSITE_PORT = np.array([WEST, EAST, SOUTH, NORTH])
PORT_STEP = np.array([[1, 0], [-1, 0], [0, 1], [0, -1]])


def _check_size(name: str, value) -> None:
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


class Mesh(eqx.Module):
    """An X by Y mesh of cores; each core has a router, `n_max` neurons, one astrocyte.

    Neighbouring routers are joined by one bidirectional link (two directed
    channels). The astrocyte of a core serves the neurons placed on that core (its
    domain); an astrocyte with no neurons on its core is disabled.

    **Arguments:**

    - `width`: number of cores along x.
    - `height`: number of cores along y.
    - `n_max`: maximum number of neurons one core holds.

    **Example:**

    ```python
    mesh = Mesh(width=16, height=16, n_max=32)
    mesh.n_cores  # 256
    ```
    """

    width: int = eqx.field(static=True)
    height: int = eqx.field(static=True)
    n_max: int = eqx.field(static=True)

    def __check_init__(self):
        _check_size("width", self.width)
        _check_size("height", self.height)
        _check_size("n_max", self.n_max)

    @property
    def n_cores(self) -> int:
        """Number of cores, width * height."""
        return self.width * self.height

    @property
    def capacity(self) -> int:
        """Number of neurons the mesh holds, n_cores * n_max."""
        return self.n_cores * self.n_max

    @property
    def n_links(self) -> int:
        """Number of bidirectional links, (X - 1) Y + X (Y - 1)."""
        return (self.width - 1) * self.height + self.width * (self.height - 1)

    def core_id(self, x, y):
        """Return the id of the core at column `x`, row `y`."""
        return np.asarray(y) * self.width + np.asarray(x)

    def core_xy(self) -> np.ndarray:
        """Return the (x, y) coordinates of every core, shape (n_cores, 2)."""
        cores = np.arange(self.n_cores)
        return np.stack([cores % self.width, cores // self.width], axis=1)

    def neighbours(self) -> np.ndarray:
        """Return the neighbour of every core through each port, shape (n_cores, 4).

        Ports are `EAST, WEST, NORTH, SOUTH`; -1 marks a port on the mesh border.
        """
        xy = self.core_xy()
        target = xy[:, None, :] + PORT_STEP[None, :, :]
        inside = (
            (target[..., 0] >= 0)
            & (target[..., 0] < self.width)
            & (target[..., 1] >= 0)
            & (target[..., 1] < self.height)
        )
        ids = target[..., 1] * self.width + target[..., 0]
        return np.where(inside, ids, -1)

    def manhattan(self) -> np.ndarray:
        """Return the hop distance |dx| + |dy| between all cores, shape (n, n)."""
        xy = self.core_xy()
        return np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=-1)

    def link_endpoints(self) -> np.ndarray:
        """Return the two cores of every link, shape (n_links, 2).

        Horizontal links come first, ordered by (y, x) of their west end, then
        vertical links ordered by (y, x) of their south end.
        """
        xs, ys = np.meshgrid(np.arange(self.width - 1), np.arange(self.height))
        west = self.core_id(xs.ravel(), ys.ravel())
        horizontal = np.stack([west, west + 1], axis=1)
        xs, ys = np.meshgrid(np.arange(self.width), np.arange(self.height - 1))
        south = self.core_id(xs.ravel(), ys.ravel())
        vertical = np.stack([south, south + self.width], axis=1)
        return np.concatenate([horizontal, vertical], axis=0).reshape(-1, 2)

    def port_links(self) -> np.ndarray:
        """Return the link behind every router port, shape (n_cores, 4); -1 at borders."""
        ends = self.link_endpoints()
        table = np.full((self.n_cores, N_PORTS), -1)
        n_horizontal = (self.width - 1) * self.height
        ids = np.arange(ends.shape[0])
        horizontal = ids < n_horizontal
        table[ends[horizontal, 0], EAST] = ids[horizontal]
        table[ends[horizontal, 1], WEST] = ids[horizontal]
        table[ends[~horizontal, 0], NORTH] = ids[~horizontal]
        table[ends[~horizontal, 1], SOUTH] = ids[~horizontal]
        return table

    def check_fits(self, n_neurons: int) -> None:
        """Raise `ValueError` when `n_neurons` neurons exceed the mesh capacity."""
        if n_neurons > self.capacity:
            side = math.ceil(math.sqrt(math.ceil(n_neurons / self.n_max)))
            raise ValueError(
                f"a network of {n_neurons} neurons does not fit a "
                f"{self.width}x{self.height} mesh with n_max={self.n_max} "
                f"({self.capacity} neurons); use a mesh of at least {side}x{side} "
                f"cores or raise n_max to "
                f"{math.ceil(n_neurons / self.n_cores)}."
            )
