r"""Continuous-time LIFA circuit: one neuron, one astrocyte, one gliotransmitter pool.

The state $y = (V, C, G)$ follows, between events,

$$\tau_n \frac{dV}{dt} = -(V - V_\mathrm{rest}) + R\,I(t), \qquad
  I(t) = \frac{p(G)}{p_0} I_\mathrm{syn} + I_\mathrm{ext}(t)$$

$$\tau_c \frac{dC}{dt} = -(C - C_\mathrm{rest}) + \kappa_c \nu_D, \qquad
  \tau_g \frac{dG}{dt} = -G$$

with $p(G) = p_0 + \alpha G$ (tripartite coupling) and $\nu_D$ a constant spike
rate from the rest of the astrocyte's domain. Events are located by a root finder on
the Diffrax dense output:

- a spike at $V = V_\mathrm{th}$ resets $V$ by the neuron's reset rule, clamps it
  for `t_ref` and raises $C$ by $\kappa_c / \tau_c$ (the neuron's own Dirac pulse);
- a release at $C = C_\mathrm{th}$ resets $C$, clamps it for `t_ref_c` and raises
  $G$ by $\Delta_g / \tau_g$.

A clamped variable keeps its value while the rest of the system is integrated. A
spike that reaches a refractory astrocyte does not raise its calcium. Refractory
intervals are closed at the event and open at their end, as in the steppers of
`lifa_jax.dynamics.stepper`, but here `t_ref` is exact rather than a whole number
of steps.

Model: Yunusoglu, Le, Isik, Dikmen & Karadag, "Neuromorphic Circuits with Spiking
Astrocytes for Increased Energy Efficiency, Fault Tolerance, and Memory
Capacitance", 2025.
"""

import numbers
from collections.abc import Callable

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import jax.tree_util as jtu
import numpy as np
import optimistix as optx
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from .astrocyte import LIFA
from .base import check_non_negative
from .coupling import TripartiteCoupling
from .gliotransmitter import Gliotransmitter
from .neuron import LIF

# Kinds of event that end one pass of the event loop.
_NO_EVENT, _SPIKE, _RELEASE = 0, 1, 2


class LIFACircuit(eqx.Module):
    r"""A neuron whose spikes feed an astrocyte whose gliotransmitter scales its input.

    The state is the vector $y = (V, C, G)$ of shape `(3,)`: membrane, calcium and
    gliotransmitter (all dimensionless).

    $$\frac{dy}{dt} = \Big(
      \frac{-(V - V_\mathrm{rest}) + R\,[(p_0 + \alpha G)/p_0 \, I_\mathrm{syn}
            + I_\mathrm{ext}(t)]}{\tau_n},\;
      \frac{-(C - C_\mathrm{rest}) + \kappa_c \nu_D}{\tau_c},\;
      -\frac{G}{\tau_g}\Big)$$

    Spikes, releases and refractory periods are handled by `solve_circuit`.

    **Arguments:**

    - `neuron`: the `LIF` parameters.
    - `astrocyte`: the `LIFA` parameters.
    - `gliotransmitter`: the `Gliotransmitter` parameters.
    - `coupling`: the `TripartiteCoupling` from $G$ to the synaptic input.
    - `i_ext`: external current $I_\mathrm{ext}$, a number or a function of time
      `t -> current` (t in ms; same units as `v_th / resistance`).
    - `i_syn`: synaptic input current before astrocyte scaling (same units).
    - `domain_rate`: summed spike rate $\nu_D$ of the other neurons of the
      astrocyte's domain (spikes per ms, >= 0).

    **Example:**

    ```python
    circuit = LIFACircuit(i_ext=1.5)
    solution = solve_circuit(circuit, 0.0, 100.0)
    first_spike = solution.spike_times[0]  # about 22 ms
    ```
    """

    neuron: LIF = LIF()
    astrocyte: LIFA = LIFA()
    gliotransmitter: Gliotransmitter = Gliotransmitter()
    coupling: TripartiteCoupling = TripartiteCoupling()
    i_ext: float | Array | Callable[[ArrayLike], ArrayLike] = 0.0
    i_syn: float | Array = 0.0
    domain_rate: float | Array = 0.0

    def __check_init__(self):
        components = [
            ("neuron", self.neuron, LIF),
            ("astrocyte", self.astrocyte, LIFA),
            ("gliotransmitter", self.gliotransmitter, Gliotransmitter),
            ("coupling", self.coupling, TripartiteCoupling),
        ]
        for name, value, expected in components:
            if not isinstance(value, expected):
                raise TypeError(
                    f"{name} must be a {expected.__name__}, got {type(value).__name__}; pass {expected.__name__}(...)."
                )
        if not callable(self.i_ext) and np.ndim(self.i_ext) != 0:
            raise ValueError(
                f"i_ext must be a scalar or a function of time, got shape "
                f"{np.shape(self.i_ext)}; pass one number or a callable t -> current."
            )
        check_non_negative("domain_rate", self.domain_rate, "pass a summed spike rate in spikes/ms")

    def external_current(self, t: ArrayLike) -> Array:
        """Return $I_\\mathrm{ext}(t)$ at time `t` (ms)."""
        if callable(self.i_ext):
            return jnp.asarray(self.i_ext(t))
        return jnp.asarray(self.i_ext)

    def current(self, t: ArrayLike, g: ArrayLike) -> Array:
        """Return the neuron's input current at time `t` (ms) and gliotransmitter `g`.

        $$I = \\frac{p(G)}{p_0} I_\\mathrm{syn} + I_\\mathrm{ext}(t)$$
        """
        return self.coupling.scale(g) * self.i_syn + self.external_current(t)

    def vector_field(
        self,
        t: ArrayLike,
        y: Float[Array, "3"],
        args: tuple[ArrayLike, ArrayLike] | None = None,
    ) -> Float[Array, "3"]:
        """Return $dy/dt$ (1/ms) for the state $y = (V, C, G)$.

        **Arguments:**

        - `t`: time (ms).
        - `y`: state of shape `(3,)`.
        - `args`: `(neuron_active, astrocyte_active)`, two booleans. A variable
          whose flag is false is clamped (zero derivative). `None` means both
          are active.
        """
        v, c, g = y[0], y[1], y[2]
        neuron_active, astrocyte_active = (True, True) if args is None else args

        dv = self.neuron.vector_field(t, v, self.current(t, g))
        dc = self.astrocyte.vector_field(t, c, self.domain_rate)
        dg = self.gliotransmitter.vector_field(t, g)
        dv = jnp.where(neuron_active, dv, jnp.zeros_like(dv))
        dc = jnp.where(astrocyte_active, dc, jnp.zeros_like(dc))
        return jnp.stack(jnp.broadcast_arrays(dv, dc, dg)).astype(y.dtype)

    def threshold_gaps(self, y: Float[Array, "3"], neuron_active, astrocyte_active) -> tuple[Array, Array]:
        """Return the gaps $(V - V_\\mathrm{th}, C - C_\\mathrm{th})$ of state `y`.

        A clamped (refractory) variable gets `-inf`, so it can never cross.
        """
        v_gap = jnp.where(neuron_active, y[0] - self.neuron.v_th, -jnp.inf)
        c_gap = jnp.where(astrocyte_active, y[1] - self.astrocyte.c_th, -jnp.inf)
        return v_gap, c_gap


class CircuitSolution(eqx.Module):
    """Result of `solve_circuit`.

    Event buffers have the fixed size `max_events`; unused entries are `inf`.

    **Fields:**

    - `spike_times`: neuron spike times (ms), shape `(max_events,)`.
    - `num_spikes`: number of recorded spikes.
    - `release_times`: astrocyte release times (ms), shape `(max_events,)`.
    - `num_releases`: number of recorded releases.
    - `ts`: the requested save times (ms), shape `(n,)`, or `None`.
    - `ys`: the state $(V, C, G)$ at `ts`, shape `(n, 3)`, right-continuous at
      events (the value just after a reset); `inf` at times after `t_final`.
      `None` when no save times were requested.
    - `t_final`: time (ms) at which the solve stopped: `t1` unless a buffer filled.
    - `y_final`: the state at `t_final`, shape `(3,)`.
    - `max_events_reached`: true when an event found a full buffer; the solve then
      stopped at that event's time without applying it.
    - `stats`: `num_segments` (integration segments between events) and
      `num_steps` (accepted and rejected Diffrax steps, summed).
    """

    spike_times: Float[Array, " max_events"]
    num_spikes: Int[Array, ""]
    release_times: Float[Array, " max_events"]
    num_releases: Int[Array, ""]
    ts: Float[Array, " saves"] | None
    ys: Float[Array, "saves 3"] | None
    t_final: Float[Array, ""]
    y_final: Float[Array, "3"]
    max_events_reached: Bool[Array, ""]
    stats: dict[str, Int[Array, ""]]


class _LoopState(eqx.Module):
    t: Float[Array, ""]
    y: Float[Array, "3"]
    neuron_refractory_end: Float[Array, ""]
    astrocyte_refractory_end: Float[Array, ""]
    spike_times: Float[Array, " max_events"]
    num_spikes: Int[Array, ""]
    release_times: Float[Array, " max_events"]
    num_releases: Int[Array, ""]
    save_ys: Float[Array, "saves 3"]
    num_segments: Int[Array, ""]
    num_steps: Int[Array, ""]
    max_events_reached: Bool[Array, ""]


def default_root_finder(dtype) -> optx.AbstractRootFinder:
    """Return the Newton root finder used to locate events for floats of `dtype`.

    Newton stops when the last update of the event time is below
    `atol + rtol * |t|` (t in ms) and the last change of the threshold gap is below
    `atol`. In float64, `rtol=1e-12` and `atol=1e-10`: an event near t = 1000 ms is
    located to about 1e-9 ms on the dense output. In float32, `rtol=1e-5` and
    `atol=1e-4`, because times near 1000 ms are only resolved to about 6e-5 ms.
    """
    # NOTE: `optx.Bisection` compiles faster but breaks under `vmap` in Diffrax
    # 0.7.2: batch elements without an event are root-found on the decreasing
    # function `t_end - t`, which a bisection set up for upcrossings cannot solve.
    if jnp.finfo(dtype).bits >= 64:
        return optx.Newton(rtol=1e-12, atol=1e-10)
    return optx.Newton(rtol=1e-5, atol=1e-4)


def default_stepsize_controller(dtype) -> diffrax.PIDController:
    """Return the adaptive step-size controller used for floats of `dtype`.

    `rtol=1e-10, atol=1e-12` in float64 and `rtol=1e-6, atol=1e-8` in float32.
    """
    if jnp.finfo(dtype).bits >= 64:
        return diffrax.PIDController(rtol=1e-10, atol=1e-12)
    return diffrax.PIDController(rtol=1e-6, atol=1e-8)


def solve_circuit(
    circuit: LIFACircuit,
    t0: float,
    t1: float,
    y0: ArrayLike | None = None,
    *,
    solver: diffrax.AbstractSolver | None = None,
    stepsize_controller: diffrax.AbstractStepSizeController | None = None,
    root_finder: optx.AbstractRootFinder | None = None,
    dt0: float | None = None,
    max_events: int = 256,
    max_steps: int = 4096,
    saveat_ts: ArrayLike | None = None,
) -> CircuitSolution:
    r"""Solve a `LIFACircuit` from `t0` to `t1`, locating spikes and releases exactly.

    Between events the circuit's vector field is integrated with
    `diffrax.diffeqsolve`. One `diffrax.Event` watches
    $\max(V - V_\mathrm{th}, C - C_\mathrm{th})$ (a clamped variable is left out)
    for an upward zero crossing, so the earlier of the two crossings ends the
    segment, and `root_finder` locates its time on the dense output. The event is
    then applied (reset, jumps, refractory clamp) and integration restarts. A
    segment also ends where a refractory period does. The loop is a
    `jax.lax.while_loop`, so the whole solve can be jitted and vmapped, but not
    reverse-mode differentiated.

    At a located event the crossing variable is set to its threshold before the
    reset, so a `SubtractReset` neuron restarts from `v_th - v_th`. A variable that
    is at or above threshold when it becomes active (at `t0`, after an
    instantaneous jump, or at the end of a refractory period) fires at once,
    and then `SubtractReset` keeps the excess. Events exactly at `t1` are not
    applied.

    Crossings are detected by a sign change between the ends of a Diffrax step,
    so a threshold that is crossed and recrossed within one step is missed. Under
    a constant current and no coupling, $V(t)$ moves monotonically towards its
    steady state, so no crossing is missed there.

    Measured accuracy with the defaults, `LIF()` and a constant current (1000 ms,
    26 to 64 spikes): interspike intervals within 1e-9 ms of the closed form and
    spike times within 3e-8 ms in float64. In float32 the bounds are 2.5e-5 ms
    and 4e-4 ms.

    **Arguments:**

    - `circuit`: the `LIFACircuit`.
    - `t0`, `t1`: start and end times (ms), `t1 > t0`.
    - `y0`: initial state $(V, C, G)$ of shape `(3,)`; defaults to
      $(V_\mathrm{rest}, C_\mathrm{rest}, 0)$. Nothing is refractory at `t0`.
    - `solver`: a Diffrax solver with dense output; `diffrax.Tsit5()` by default.
    - `stepsize_controller`: a Diffrax step-size controller; defaults to
      `default_stepsize_controller(dtype)`. A `diffrax.ConstantStepSize` needs
      `dt0`.
    - `root_finder`: an Optimistix root finder for event times; defaults to
      `default_root_finder(dtype)`.
    - `dt0`: initial step (ms); `None` lets an adaptive controller choose it.
    - `max_events`: size of the spike and release buffers (static).
    - `max_steps`: maximum number of Diffrax steps per segment (static).
    - `saveat_ts`: non-decreasing times (ms) in `[t0, t1]` at which to save the
      state, shape `(n,)`; `None` saves nothing.

    The dtype is float64 when `jax_enable_x64` is on, else float32.

    **Returns:** a `CircuitSolution`.

    **Example:**

    ```python
    circuit = LIFACircuit(i_ext=1.5, domain_rate=0.02)
    solution = solve_circuit(circuit, 0.0, 500.0, saveat_ts=jnp.linspace(0, 500, 101))
    spikes = solution.spike_times[: solution.num_spikes]
    membrane = solution.ys[:, 0]
    ```
    """
    if not (isinstance(max_events, numbers.Integral) and max_events >= 1):
        raise ValueError(
            f"max_events must be a positive integer, got {max_events!r}; pass the "
            "largest number of spikes (or releases) you expect before t1."
        )
    if not (isinstance(max_steps, numbers.Integral) and max_steps >= 1):
        raise ValueError(f"max_steps must be a positive integer, got {max_steps!r}; pass e.g. 4096.")
    if isinstance(t0, numbers.Real) and isinstance(t1, numbers.Real) and not t1 > t0:
        raise ValueError(
            f"t1 must be greater than t0, got t0={t0!r} and t1={t1!r}; pass an end time after the start time."
        )
    dtype = jnp.result_type(float)
    if y0 is not None and np.shape(y0) != (3,):
        raise ValueError(f"y0 must have shape (3,) for (V, C, G), got shape {np.shape(y0)}; pass [v, c, g].")
    if saveat_ts is not None:
        if np.ndim(saveat_ts) != 1:
            raise ValueError(
                f"saveat_ts must be one-dimensional, got shape {np.shape(saveat_ts)}; pass a vector of times in ms."
            )
        _check_concrete_save_times(saveat_ts, t0, t1)

    if solver is None:
        solver = diffrax.Tsit5()
    if stepsize_controller is None:
        stepsize_controller = default_stepsize_controller(dtype)
    if root_finder is None:
        root_finder = default_root_finder(dtype)
    if y0 is None:
        y0 = jnp.stack(
            [
                jnp.asarray(circuit.neuron.v_rest, dtype),
                jnp.asarray(circuit.astrocyte.c_rest, dtype),
                jnp.zeros((), dtype),
            ]
        )
    # Python numbers would be static under `eqx.filter_jit` and force a new
    # compilation for every parameter value, so they travel as arrays.
    circuit = jtu.tree_map(lambda leaf: _as_float_array(leaf, dtype), circuit)
    if saveat_ts is not None:
        saveat_ts = jnp.asarray(saveat_ts, dtype)

    return _solve_circuit(
        circuit,
        jnp.asarray(t0, dtype),
        jnp.asarray(t1, dtype),
        jnp.asarray(y0, dtype),
        solver=solver,
        stepsize_controller=stepsize_controller,
        root_finder=root_finder,
        dt0=dt0,
        max_events=max_events,
        max_steps=max_steps,
        saveat_ts=saveat_ts,
    )


def _as_float_array(leaf, dtype):
    if isinstance(leaf, bool):
        return leaf
    if isinstance(leaf, numbers.Real) or eqx.is_inexact_array(leaf):
        return jnp.asarray(leaf, dtype)
    return leaf


def _check_concrete_save_times(saveat_ts, t0, t1) -> None:
    """Raise `ValueError` for concrete save times out of order or outside `[t0, t1]`."""
    if isinstance(saveat_ts, jax.core.Tracer):
        return
    ts = np.asarray(saveat_ts, dtype=float)
    if np.any(np.diff(ts) < 0):
        raise ValueError("saveat_ts must be non-decreasing, got times that decrease; sort them.")
    if isinstance(t0, numbers.Real) and isinstance(t1, numbers.Real) and ts.size:
        if ts[0] < t0 or ts[-1] > t1:
            raise ValueError(
                f"saveat_ts must lie in [t0, t1] = [{t0}, {t1}], got times from "
                f"{ts[0]} to {ts[-1]}; drop the times outside."
            )


@eqx.filter_jit
def _solve_circuit(
    circuit: LIFACircuit,
    t0: Float[Array, ""],
    t1: Float[Array, ""],
    y0: Float[Array, "3"],
    *,
    solver,
    stepsize_controller,
    root_finder,
    dt0,
    max_events: int,
    max_steps: int,
    saveat_ts: Float[Array, " saves"] | None,
) -> CircuitSolution:
    dtype = y0.dtype
    save_times = jnp.zeros((0,), dtype) if saveat_ts is None else saveat_ts
    save_times = eqx.error_if(
        save_times,
        (save_times < t0) | (save_times > t1),
        "saveat_ts must lie in [t0, t1]; drop the times outside.",
    )
    term = diffrax.ODETerm(circuit.vector_field)

    def crossing(t, y, args, **kwargs):
        del t, kwargs
        return jnp.maximum(*circuit.threshold_gaps(y, *args))

    event = diffrax.Event(crossing, root_finder=root_finder, direction=True)
    # Each loop pass ends with a spike, a release, the end of a refractory period or
    # t1, and each refractory period follows a spike or a release. So this bound is
    # never reached in a correct run, and it keeps the loop finite in any case.
    max_passes = 4 * max_events + 4

    def active_flags(state: _LoopState):
        return (
            state.t >= state.neuron_refractory_end,
            state.t >= state.astrocyte_refractory_end,
        )

    def integrate_segment(state: _LoopState):
        neuron_active, astrocyte_active = active_flags(state)
        t_end = jnp.minimum(
            t1,
            jnp.minimum(
                jnp.where(neuron_active, jnp.inf, state.neuron_refractory_end),
                jnp.where(astrocyte_active, jnp.inf, state.astrocyte_refractory_end),
            ),
        )
        # Diffrax requires save times inside [t, t_end]. Clamping keeps them
        # non-decreasing, and the mask below keeps only those in the segment.
        subs = [diffrax.SubSaveAt(t1=True)]
        if saveat_ts is not None:
            subs.append(diffrax.SubSaveAt(ts=jnp.clip(save_times, state.t, t_end)))
        saveat = diffrax.SaveAt(subs=tuple(subs))
        solution = diffrax.diffeqsolve(
            term,
            solver,
            state.t,
            t_end,
            dt0,
            state.y,
            args=(neuron_active, astrocyte_active),
            saveat=saveat,
            stepsize_controller=stepsize_controller,
            event=event,
            max_steps=max_steps,
            adjoint=diffrax.ForwardMode(),
        )
        t_new = solution.ts[0][0]
        y_new = solution.ys[0][0]

        happened = solution.event_mask
        v_gap, c_gap = circuit.threshold_gaps(y_new, neuron_active, astrocyte_active)
        is_spike = happened & (v_gap >= c_gap)
        kind = jnp.where(happened, jnp.where(is_spike, _SPIKE, _RELEASE), _NO_EVENT).astype(jnp.int32)
        # At a located crossing the variable equals its threshold by definition, so
        # setting it exactly removes the root finder's residual before the reset.
        y_new = jnp.where(kind == _SPIKE, y_new.at[0].set(circuit.neuron.v_th), y_new)
        y_new = jnp.where(kind == _RELEASE, y_new.at[1].set(circuit.astrocyte.c_th), y_new)

        in_segment = (save_times >= state.t) & ((save_times < t_new) | ((save_times == t_new) & (kind == _NO_EVENT)))
        save_ys = state.save_ys
        if saveat_ts is not None:
            save_ys = jnp.where(in_segment[:, None], solution.ys[1], save_ys)
        num_steps = state.num_steps + solution.stats["num_steps"]
        return t_new, y_new, kind, save_ys, num_steps

    def fire_at_once(state: _LoopState):
        neuron_active, _ = active_flags(state)
        spike_now = neuron_active & (state.y[0] >= circuit.neuron.v_th)
        kind = jnp.where(spike_now, _SPIKE, _RELEASE).astype(jnp.int32)
        return state.t, state.y, kind, state.save_ys, state.num_steps

    def apply_spike(state: _LoopState) -> _LoopState:
        neuron, astrocyte = circuit.neuron, circuit.astrocyte
        _, astrocyte_active = active_flags(state)
        v = neuron.reset(state.y[0], neuron.v_th, neuron.v_reset)
        calcium_jump = jnp.where(astrocyte_active, astrocyte.kappa_c / astrocyte.tau_c, 0.0)
        y = state.y.at[0].set(v).at[1].add(calcium_jump)
        return eqx.tree_at(
            lambda s: (s.y, s.neuron_refractory_end, s.spike_times, s.num_spikes),
            state,
            (
                y,
                state.t + neuron.t_ref,
                state.spike_times.at[state.num_spikes].set(state.t),
                state.num_spikes + 1,
            ),
        )

    def apply_release(state: _LoopState) -> _LoopState:
        astrocyte = circuit.astrocyte
        c = astrocyte.reset(state.y[1], astrocyte.c_th, astrocyte.c_reset)
        y = state.y.at[1].set(c).at[2].add(circuit.gliotransmitter.jump)
        return eqx.tree_at(
            lambda s: (
                s.y,
                s.astrocyte_refractory_end,
                s.release_times,
                s.num_releases,
            ),
            state,
            (
                y,
                state.t + astrocyte.t_ref_c,
                state.release_times.at[state.num_releases].set(state.t),
                state.num_releases + 1,
            ),
        )

    def body(state: _LoopState) -> _LoopState:
        neuron_active, astrocyte_active = active_flags(state)
        pending = (neuron_active & (state.y[0] >= circuit.neuron.v_th)) | (
            astrocyte_active & (state.y[1] >= circuit.astrocyte.c_th)
        )
        t, y, kind, save_ys, num_steps = jax.lax.cond(pending, fire_at_once, integrate_segment, state)

        full = jnp.where(
            kind == _SPIKE,
            state.num_spikes >= max_events,
            (kind == _RELEASE) & (state.num_releases >= max_events),
        )
        state = eqx.tree_at(
            lambda s: (s.t, s.y, s.save_ys, s.num_steps, s.num_segments),
            state,
            (t, y, save_ys, num_steps, state.num_segments + 1),
        )
        branch = jnp.where(full, _NO_EVENT, kind)
        state = jax.lax.switch(branch, [lambda s: s, apply_spike, apply_release], state)
        return eqx.tree_at(lambda s: s.max_events_reached, state, full)

    def keep_going(state: _LoopState):
        return (state.t < t1) & ~state.max_events_reached & (state.num_segments < max_passes)

    initial = _LoopState(
        t=t0,
        y=y0,
        neuron_refractory_end=jnp.asarray(-jnp.inf, dtype),
        astrocyte_refractory_end=jnp.asarray(-jnp.inf, dtype),
        spike_times=jnp.full((max_events,), jnp.inf, dtype),
        num_spikes=jnp.asarray(0, jnp.int32),
        release_times=jnp.full((max_events,), jnp.inf, dtype),
        num_releases=jnp.asarray(0, jnp.int32),
        save_ys=jnp.full((save_times.shape[0], 3), jnp.inf, dtype),
        num_segments=jnp.asarray(0, jnp.int32),
        num_steps=jnp.asarray(0, jnp.int32),
        max_events_reached=jnp.asarray(False),
    )
    final = jax.lax.while_loop(keep_going, body, initial)

    return CircuitSolution(
        spike_times=final.spike_times,
        num_spikes=final.num_spikes,
        release_times=final.release_times,
        num_releases=final.num_releases,
        ts=saveat_ts,
        ys=None if saveat_ts is None else final.save_ys,
        t_final=final.t,
        y_final=final.y,
        max_events_reached=final.max_events_reached,
        stats={"num_segments": final.num_segments, "num_steps": final.num_steps},
    )
