r"""The two ways a fit simulates a `DrivenCircuit`: a Diffrax solve of the smooth part, or the network stepper.

The event-driven `solve_circuit` runs in a `jax.lax.while_loop`, which reverse-mode
autodiff cannot pass, so fits use one of these instead:

- `SmoothSolver`: `diffrax.diffeqsolve` of the circuit without spikes or releases
  (subthreshold membrane, calcium driven by a given domain spike rate,
  gliotransmitter driven by a given release rate), differentiated through the
  chosen Diffrax adjoint.
- `DiscreteStepper`: the exponential-integration steps of `lifa_jax.dynamics.stepper`
  under `jax.lax.scan`, spikes and releases included; surrogate spike functions
  give gradients where spikes matter.
"""

import abc
from collections.abc import Callable, Sequence

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from ..dynamics import LIF, default_stepsize_controller, heaviside, lif_init, lif_step
from .models import DrivenCircuit, Observable, TraceTarget, evaluate_signal


class AbstractSimulator(eqx.Module):
    """Simulates a `DrivenCircuit` and returns the observables that targets record."""

    @abc.abstractmethod
    def observe(self, circuit: DrivenCircuit, targets: Sequence[TraceTarget]) -> list[Float[Array, " saves"]]:
        """Return the simulated observable of each target at its sample times."""

    def check(self, targets: Sequence[TraceTarget]) -> None:
        """Raise `ValueError` for targets this simulator cannot produce (called before heavy work)."""
        if not targets:
            raise ValueError("no targets; pass at least one TraceTarget.")


class SmoothSolver(AbstractSimulator):
    r"""Solve the smooth part of the circuit with `diffrax.diffeqsolve`; reverse-differentiable.

    The state $y = (V, C, G)$ starts at $(V_\mathrm{rest}, C_\mathrm{rest}, 0)$ at
    $t = 0$ and follows `DrivenCircuit.smooth_vector_field`: the neuron never
    spikes, the calcium integrates `drive.domain_rate` without releasing, and the
    gliotransmitter integrates `drive.release_rate`. Fit membrane traces recorded
    below threshold, and calcium and gliotransmitter traces under a known drive.

    **Arguments:**

    - `solver`: a Diffrax solver, `diffrax.Tsit5()` by default.
    - `stepsize_controller`: a Diffrax controller; `None` uses
      `lifa_jax.dynamics.default_stepsize_controller` for the float type.
    - `adjoint`: how gradients pass the solve; `diffrax.RecursiveCheckpointAdjoint()`
      (discretise-then-optimise, exact gradients of the numerical solution) by
      default, or e.g. `diffrax.BacksolveAdjoint()`.
    - `dt0`: initial step (ms); `None` lets an adaptive controller choose.
    - `max_steps`: maximum number of solver steps (static).
    """

    solver: diffrax.AbstractSolver = diffrax.Tsit5()
    stepsize_controller: diffrax.AbstractStepSizeController | None = None
    adjoint: diffrax.AbstractAdjoint = diffrax.RecursiveCheckpointAdjoint()
    dt0: float | None = None
    max_steps: int = eqx.field(static=True, default=16384)

    def check(self, targets):
        super().check(targets)
        for target in targets:
            if target.observable in (Observable.SPIKE_COUNT, Observable.RELEASE_COUNT):
                raise ValueError(
                    f"SmoothSolver has no spikes or releases, so it cannot fit a {target.observable.value} trace; "
                    "use DiscreteStepper."
                )

    def observe(self, circuit, targets):
        dtype = jnp.result_type(float)
        all_ts = jnp.concatenate([target.ts for target in targets])
        order = jnp.argsort(all_ts)
        controller = self.stepsize_controller
        if controller is None:
            controller = default_stepsize_controller(dtype)

        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(circuit.smooth_vector_field),
            self.solver,
            t0=0.0,
            t1=max(target.t_end for target in targets),
            dt0=self.dt0,
            y0=circuit.initial_state(dtype),
            saveat=diffrax.SaveAt(ts=all_ts[order]),
            stepsize_controller=controller,
            adjoint=self.adjoint,
            max_steps=self.max_steps,
        )
        ys = jnp.zeros_like(solution.ys).at[order].set(solution.ys)

        column = {Observable.MEMBRANE: 0, Observable.CALCIUM: 1, Observable.GLIOTRANSMITTER: 2}
        outputs, start = [], 0
        for target in targets:
            stop = start + target.ts.shape[0]
            outputs.append(ys[start:stop, column[target.observable]])
            start = stop
        return outputs


def calcium_as_lif(circuit: DrivenCircuit) -> LIF:
    r"""Return the astrocyte's calcium equation written as a `LIF`, so `lif_step` can advance it.

    $\tau_c \dot C = -(C - C_\mathrm{rest}) + \kappa_c \nu$ is the LIF equation with
    $\tau_n = \tau_c$, $V_\mathrm{rest} = C_\mathrm{rest}$, $R = \kappa_c$ and input
    current $\nu$; threshold, reset value, reset rule and refractory period carry
    over. One step of `lif_step` then equals one step of `astrocyte_step`, and it
    also accepts a surrogate spike function for the release.
    """
    astrocyte = circuit.astrocyte
    return LIF(
        tau_n=astrocyte.tau_c,
        v_rest=astrocyte.c_rest,
        v_th=astrocyte.c_th,
        v_reset=astrocyte.c_reset,
        resistance=astrocyte.kappa_c,
        t_ref=astrocyte.t_ref_c,
        reset=astrocyte.reset,
    )


class DiscreteStepper(AbstractSimulator):
    r"""Simulate the circuit with the network's exponential-integration steps under `jax.lax.scan`.

    Step $k$ covers $[k\Delta t, (k + 1)\Delta t)$ with the drive sampled at
    $t_k = k\Delta t$ and held over the step, as in `SpikingNetwork`:

    1. the neuron advances by `lif_step` under
       $I_k = (p_0 + \alpha G_k)/p_0 \cdot I_\mathrm{syn}(t_k) + I_\mathrm{ext}(t_k)$;
    2. the calcium advances by one LIFA step driven by the neuron's spike plus
       $\nu_D(t_k)\Delta t$ domain spikes (`calcium_as_lif`);
    3. $G \leftarrow G e^{-\Delta t/\tau_g} + r_k \Delta_g/\tau_g
       + \Delta_g \rho(t_k) (1 - e^{-\Delta t/\tau_g})$, with $r_k$ the release of
       this step and $\rho$ = `drive.release_rate` (releases from outside the
       circuit; 0 by default).

    As in `SpikingNetwork.step`, the spike that reaches the astrocyte carries no
    gradient, and resets are detached. With `heaviside` spike functions the
    gradient is exact wherever no spike or release changes its step. Surrogates
    (`lifa_jax.training.FastSigmoid` and others) give gradients through spike and
    release times, for fitting thresholds to spike or release counts.

    **Arguments:**

    - `dt`: step (ms). Target sample times must be whole multiples of it.
    - `spike_fn`: threshold function of the neuron.
    - `release_fn`: threshold function of the astrocyte.
    """

    dt: float = eqx.field(static=True, default=1.0)
    spike_fn: Callable[[Array], Array] = heaviside
    release_fn: Callable[[Array], Array] = heaviside

    def __check_init__(self):
        if not self.dt > 0:
            raise ValueError(f"dt must be positive, got {self.dt!r}; pass a step in ms.")

    def check(self, targets):
        super().check(targets)
        for target in targets:
            ratio = np.asarray(target.ts, dtype=float) / self.dt
            off_grid = np.abs(ratio - np.round(ratio)) > 1e-6 * np.maximum(1.0, np.abs(ratio))
            if np.any(off_grid):
                first = float(np.asarray(target.ts)[np.argmax(off_grid)])
                raise ValueError(
                    f"the {target.observable.value} trace has a sample at t = {first} ms, which is not a "
                    f"multiple of dt = {self.dt} ms; resample the trace or choose a dt that divides its times."
                )

    def trajectory(self, circuit: DrivenCircuit, n_steps: int) -> Float[Array, "steps_plus_one 5"]:
        """Return $(V, C, G, \\text{spikes so far}, \\text{releases so far})$ at $t = k\\Delta t$, $k = 0..n$."""
        dtype = jnp.result_type(float)
        dt = self.dt
        calcium_lif = calcium_as_lif(circuit)
        decay_g = jnp.exp(-dt / circuit.gliotransmitter.tau_g)
        jump = circuit.gliotransmitter.jump

        def body(carry, k):
            neuron_state, calcium_state, g, spikes, releases = carry
            t = k * dt
            current = circuit.neuron_current(t, g)
            neuron_state, spike = lif_step(circuit.neuron, neuron_state, current, dt, self.spike_fn)

            domain_spikes = jax.lax.stop_gradient(spike) + evaluate_signal(circuit.drive.domain_rate, t) * dt
            calcium_state, release = lif_step(calcium_lif, calcium_state, domain_spikes / dt, dt, self.release_fn)

            outside = evaluate_signal(circuit.drive.release_rate, t)
            g = g * decay_g + release * jump + circuit.gliotransmitter.delta_g * outside * (1.0 - decay_g)
            carry = (neuron_state, calcium_state, g, spikes + spike, releases + release)
            record = jnp.stack([neuron_state.v, calcium_state.v, g, spikes + spike, releases + release])
            return carry, record

        neuron0 = lif_init(circuit.neuron, (), dtype)
        calcium0 = lif_init(calcium_lif, (), dtype)
        zero = jnp.zeros((), dtype)
        carry0 = (neuron0, calcium0, zero, zero, zero)
        _, records = jax.lax.scan(body, carry0, jnp.arange(n_steps, dtype=dtype))
        first = jnp.stack([neuron0.v, calcium0.v, zero, zero, zero])
        return jnp.concatenate([first[None, :], records.astype(dtype)], axis=0)

    def observe(self, circuit, targets):
        n_steps = int(round(max(target.t_end for target in targets) / self.dt))
        states = self.trajectory(circuit, n_steps)
        column = {
            Observable.MEMBRANE: 0,
            Observable.CALCIUM: 1,
            Observable.GLIOTRANSMITTER: 2,
            Observable.SPIKE_COUNT: 3,
            Observable.RELEASE_COUNT: 4,
        }
        outputs = []
        for target in targets:
            index = jnp.round(target.ts / self.dt).astype(jnp.int32)
            outputs.append(states[index, column[target.observable]])
        return outputs
