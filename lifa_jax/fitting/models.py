r"""A LIFA circuit driven by given input time courses, and the quantities a fit can observe.

The circuit is the one of `lifa_jax.dynamics.LIFACircuit`: a neuron, the astrocyte
whose domain contains it, that astrocyte's gliotransmitter pool and the tripartite
coupling (Yunusoglu, Le, Isik, Dikmen & Karadag, "Neuromorphic Circuits with
Spiking Astrocytes for Increased Energy Efficiency, Fault Tolerance, and Memory
Capacitance", 2025). Here every input may vary in time, so a recorded stimulus
can drive it.
"""

import enum
from collections.abc import Callable

import diffrax
import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float

from ..dynamics import LIF, LIFA, Gliotransmitter, TripartiteCoupling

Signal = float | Array | Callable[[ArrayLike], ArrayLike] | diffrax.AbstractPath


class Observable(enum.Enum):
    """A quantity of the circuit that a target trace can record.

    - `MEMBRANE`: the membrane potential $V$ (dimensionless).
    - `CALCIUM`: the astrocyte calcium $C$ (dimensionless).
    - `GLIOTRANSMITTER`: the gliotransmitter $G$ (dimensionless).
    - `SPIKE_COUNT`: spikes of the neuron since $t = 0$ (stepper only).
    - `RELEASE_COUNT`: gliotransmitter releases since $t = 0$ (stepper only).
    """

    MEMBRANE = "membrane"
    CALCIUM = "calcium"
    GLIOTRANSMITTER = "gliotransmitter"
    SPIKE_COUNT = "spike_count"
    RELEASE_COUNT = "release_count"


def evaluate_signal(signal: Signal, t: ArrayLike) -> Array:
    """Return the value of `signal` at time `t` (ms): a constant, a callable or a Diffrax path."""
    if isinstance(signal, diffrax.AbstractPath):
        return signal.evaluate(t)
    if callable(signal):
        return jnp.asarray(signal(t))
    return jnp.asarray(signal)


class CircuitDrive(eqx.Module):
    """Inputs of a `DrivenCircuit`, each a constant, a function `t -> value` (t in ms) or a Diffrax path.

    **Fields:**

    - `i_syn`: synaptic current before astrocyte scaling (units of `v_th / R`).
    - `i_ext`: external current, not scaled by the astrocyte (same units).
    - `domain_rate`: summed spike rate of the other neurons of the astrocyte's
      domain (spikes per ms).
    - `release_rate`: rate of gliotransmitter releases (releases per ms). Only the
      smooth model uses it, in place of threshold-triggered releases.
    """

    i_syn: Signal = 0.0
    i_ext: Signal = 0.0
    domain_rate: Signal = 0.0
    release_rate: Signal = 0.0

    @classmethod
    def from_samples(cls, ts: ArrayLike, **samples: ArrayLike) -> "CircuitDrive":
        """Return a drive that interpolates sampled inputs linearly between the times `ts` (ms).

        **Arguments:**

        - `ts`: increasing sample times (ms), shape `(n,)`.
        - `samples`: any of `i_syn`, `i_ext`, `domain_rate`, `release_rate`, each of
          shape `(n,)` in the units of the field.

        Outside `[ts[0], ts[-1]]` Diffrax's `LinearInterpolation` extrapolates
        the first or last segment.
        """
        ts = np.asarray(ts, dtype=float)
        if ts.ndim != 1 or ts.size < 2 or np.any(np.diff(ts) <= 0):
            raise ValueError(f"ts must be at least two increasing times (ms), got shape {ts.shape}; sort them.")
        unknown = sorted(set(samples) - {"i_syn", "i_ext", "domain_rate", "release_rate"})
        if unknown:
            raise ValueError(f"unknown inputs {unknown}; pass i_syn, i_ext, domain_rate or release_rate.")
        dtype = jnp.result_type(float)
        paths = {}
        for name, values in samples.items():
            values = np.asarray(values, dtype=float)
            if values.shape != ts.shape:
                raise ValueError(f"{name} must have the shape of ts, {ts.shape}, got {values.shape}.")
            paths[name] = diffrax.LinearInterpolation(ts=jnp.asarray(ts, dtype), ys=jnp.asarray(values, dtype))
        return cls(**paths)


class DrivenCircuit(eqx.Module):
    r"""One neuron, its astrocyte and gliotransmitter, and the tripartite coupling, under a `CircuitDrive`.

    The neuron receives $I(t) = \frac{p_0 + \alpha G}{p_0} I_\mathrm{syn}(t) + I_\mathrm{ext}(t)$;
    the astrocyte's calcium integrates the neuron's spikes and `drive.domain_rate`.
    `SmoothSolver` and `DiscreteStepper` simulate it.

    **Fields:** `neuron` (`LIF`), `astrocyte` (`LIFA`), `gliotransmitter`
    (`Gliotransmitter`), `coupling` (`TripartiteCoupling`) and `drive`
    (`CircuitDrive`).
    """

    neuron: LIF = LIF()
    astrocyte: LIFA = LIFA()
    gliotransmitter: Gliotransmitter = Gliotransmitter()
    coupling: TripartiteCoupling = TripartiteCoupling()
    drive: CircuitDrive = CircuitDrive()

    def __check_init__(self):
        components = [
            ("neuron", self.neuron, LIF),
            ("astrocyte", self.astrocyte, LIFA),
            ("gliotransmitter", self.gliotransmitter, Gliotransmitter),
            ("coupling", self.coupling, TripartiteCoupling),
            ("drive", self.drive, CircuitDrive),
        ]
        for name, value, expected in components:
            if not isinstance(value, expected):
                raise TypeError(
                    f"{name} must be a {expected.__name__}, got {type(value).__name__}; pass {expected.__name__}(...)."
                )

    def neuron_current(self, t: ArrayLike, g: ArrayLike) -> Array:
        """Return the neuron's input current at time `t` (ms) under gliotransmitter `g`."""
        drive = self.drive
        return self.coupling.scale(g) * evaluate_signal(drive.i_syn, t) + evaluate_signal(drive.i_ext, t)

    def smooth_vector_field(self, t: ArrayLike, y: Float[Array, "3"], args=None) -> Float[Array, "3"]:
        r"""Return $dy/dt$ (1/ms) of the smooth model, state $y = (V, C, G)$.

        $$\tau_n \dot V = -(V - V_\mathrm{rest}) + R\,I(t), \quad
          \tau_c \dot C = -(C - C_\mathrm{rest}) + \kappa_c \nu_D(t), \quad
          \tau_g \dot G = -G + \Delta_g \rho(t)$$

        with $\nu_D$ = `drive.domain_rate` and $\rho$ = `drive.release_rate`. The
        neuron does not spike and the astrocyte does not release.
        """
        del args
        v, c, g = y[0], y[1], y[2]
        dv = self.neuron.vector_field(t, v, self.neuron_current(t, g))
        dc = self.astrocyte.vector_field(t, c, evaluate_signal(self.drive.domain_rate, t))
        release = evaluate_signal(self.drive.release_rate, t) * self.gliotransmitter.jump
        dg = self.gliotransmitter.vector_field(t, g) + release
        return jnp.stack(jnp.broadcast_arrays(dv, dc, dg)).astype(y.dtype)

    def initial_state(self, dtype=None) -> Float[Array, "3"]:
        """Return $(V_\\mathrm{rest}, C_\\mathrm{rest}, 0)$."""
        dtype = jnp.result_type(float) if dtype is None else dtype
        return jnp.stack(
            [
                jnp.asarray(self.neuron.v_rest, dtype),
                jnp.asarray(self.astrocyte.c_rest, dtype),
                jnp.zeros((), dtype),
            ]
        )


class TraceTarget(eqx.Module):
    r"""A recorded trace of one `Observable` that a fit should reproduce.

    Its contribution to the loss is
    $w \cdot \frac{1}{n}\sum_k (\hat y(t_k) - y_k)^2 / s^2$, with $\hat y$ the
    simulated observable, weight $w$ and scale $s$, so traces in different units
    weigh alike.

    **Arguments:**

    - `observable`: the `Observable` recorded.
    - `ts`: sample times (ms), shape `(n,)`, non-decreasing, >= 0, last one > 0.
      Simulations start at rest at $t = 0$.
    - `values`: recorded values at `ts`, shape `(n,)`.
    - `weight`: weight $w \ge 0$ of this trace in the loss.
    - `scale`: normalisation $s > 0$; defaults to the root mean square of
      `values` (1 when that is 0).
    """

    observable: Observable = eqx.field(static=True)
    ts: Float[Array, " saves"]
    values: Float[Array, " saves"]
    weight: float
    scale: float
    t_end: float = eqx.field(static=True)

    def __init__(
        self,
        observable: Observable,
        ts: ArrayLike,
        values: ArrayLike,
        *,
        weight: float = 1.0,
        scale: float | None = None,
    ):
        if not isinstance(observable, Observable):
            raise TypeError(f"observable must be an Observable, got {observable!r}; pass e.g. Observable.CALCIUM.")
        ts_np = np.asarray(ts, dtype=float)
        values_np = np.asarray(values, dtype=float)
        if ts_np.ndim != 1 or ts_np.size == 0 or values_np.shape != ts_np.shape:
            raise ValueError(
                f"ts and values must be two vectors of one length, got shapes {ts_np.shape} and {values_np.shape}."
            )
        if not (np.all(np.isfinite(ts_np)) and np.all(np.isfinite(values_np))):
            raise ValueError("ts and values must be finite; drop or fill the missing samples.")
        if ts_np[0] < 0 or np.any(np.diff(ts_np) < 0) or not ts_np[-1] > 0:
            raise ValueError(
                f"ts must be non-decreasing times from 0 ms on, ending after 0, got {ts_np[0]} to {ts_np[-1]} ms; "
                "shift the trace so the simulation start is t = 0 and sort it."
            )
        if not weight >= 0:
            raise ValueError(f"weight must be non-negative, got {weight!r}.")
        if scale is None:
            rms = float(np.sqrt(np.mean(values_np**2)))
            scale = rms if rms > 0 else 1.0
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale!r}; pass the typical size of the values.")

        dtype = jnp.result_type(float)
        self.observable = observable
        self.ts = jnp.asarray(ts_np, dtype)
        self.values = jnp.asarray(values_np, dtype)
        self.weight = float(weight)
        self.scale = float(scale)
        self.t_end = float(ts_np[-1])
