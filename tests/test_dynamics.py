"""Closed-form checks of the LIFA dynamics: event solver, steppers and parameters.

Closed forms used below, for a LIF neuron from rest under a constant current I:

    V(t) = V_rest + R I (1 - exp(-t / tau_n))
    t*   = tau_n ln(R I / (R I - (V_th - V_rest)))       first spike
    rate = 1 / (t_ref + t*)                              with a reset to rest

and likewise for the astrocyte's calcium under a constant domain rate nu, with
R I replaced by kappa_c nu. The event solver locates crossings to about 1e-9 ms in
float64. The stepper spikes at the end of the first step at or past t*, so its
first spike lies in [t*, t* + dt). When t_ref is a whole number of steps, its
interspike interval is exactly t_ref + dt * ceil(t* / dt).
"""

import logging
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lifa_jax.dynamics import (
    LIF,
    LIFA,
    Gliotransmitter,
    LIFACircuit,
    LIFState,
    SubtractReset,
    TripartiteCoupling,
    ZeroReset,
    astrocyte_init,
    astrocyte_step,
    lif_init,
    lif_step,
    reset_from_name,
    solve_circuit,
)

# Every default-set call of `solve_circuit` uses these static settings, so the
# solver is compiled once for the whole module.
MAX_EVENTS = 16
NUM_SAVES = 21


def _solve(circuit, t1, y0=None):
    """Solve `circuit` on [0, t1] with NUM_SAVES evenly spaced save times."""
    ts = np.linspace(0.0, t1, NUM_SAVES)
    return solve_circuit(circuit, 0.0, t1, y0, max_events=MAX_EVENTS, saveat_ts=ts)


def _event_times(times, count):
    return np.asarray(times)[: int(count)]


@eqx.filter_jit
def _run_lif(neuron, current, dt, num_steps):
    """Run one LIF neuron from rest; return its membrane and spikes at each step."""
    state = lif_init(neuron, (), dtype=jnp.result_type(float))

    def step(state, _):
        state, spike = lif_step(neuron, state, current, dt)
        return state, (state.v, spike, state.refractory)

    _, (v, spikes, refractory) = jax.lax.scan(step, state, None, length=num_steps)
    return v, spikes, refractory


@eqx.filter_jit
def _run_astrocyte(astrocyte, gliotransmitter, domain_spikes, dt, num_steps, g0=0.0):
    """Run one astrocyte from rest; return calcium, G and releases at each step."""
    state = astrocyte_init(astrocyte, (), dtype=jnp.result_type(float))
    state = eqx.tree_at(lambda s: s.g, state, jnp.asarray(g0, state.g.dtype))

    def step(state, _):
        state, release = astrocyte_step(astrocyte, gliotransmitter, state, domain_spikes, dt)
        return state, (state.c, state.g, release, state.refractory)

    _, out = jax.lax.scan(step, state, None, length=num_steps)
    return out


# First spike and firing rate of the neuron.


@pytest.mark.parametrize("current", [1.2, 1.5, 3.0])
def test_event_solver_first_spike_time(x64, current):
    neuron = LIF(tau_n=20.0, t_ref=2.0)
    solution = _solve(LIFACircuit(neuron=neuron, i_ext=current), 130.0)

    expected = 20.0 * math.log(current / (current - 1.0))
    assert float(neuron.first_spike_time(current)) == pytest.approx(expected, 1e-12)
    assert int(solution.num_spikes) >= 1
    assert abs(float(solution.spike_times[0]) - expected) < 1e-6


@pytest.mark.parametrize("current", [1.2, 1.5, 3.0])
def test_event_solver_firing_rate(x64, current):
    neuron = LIF(tau_n=20.0, t_ref=2.0)
    solution = _solve(LIFACircuit(neuron=neuron, i_ext=current), 130.0)

    spikes = _event_times(solution.spike_times, solution.num_spikes)
    intervals = np.diff(spikes)
    expected_interval = 2.0 + float(neuron.first_spike_time(current))
    assert len(intervals) >= 2
    np.testing.assert_allclose(intervals, expected_interval, rtol=0, atol=1e-6)
    rate_hz = 1000.0 / intervals.mean()
    assert rate_hz == pytest.approx(float(neuron.firing_rate(current)), rel=1e-8)
    t_star = expected_interval - 2.0
    assert int(solution.num_spikes) == math.floor((130.0 - t_star) / expected_interval) + 1


@pytest.mark.parametrize("dt", [0.1, 1.0])
@pytest.mark.parametrize("current", [1.2, 1.5, 3.0])
def test_stepper_first_spike_within_one_step(x64, dt, current):
    neuron = LIF(tau_n=20.0, t_ref=2.0)
    t_star = float(neuron.first_spike_time(current))
    _, spikes, _ = _run_lif(neuron, current, dt, int(t_star / dt) + 5)

    first_step = int(np.argmax(np.asarray(spikes) > 0)) + 1
    spike_time = first_step * dt
    assert t_star <= spike_time < t_star + dt
    assert first_step == math.ceil(t_star / dt)


@pytest.mark.parametrize("dt", [0.1, 1.0])
@pytest.mark.parametrize("current", [1.2, 1.5, 3.0])
def test_stepper_firing_rate_bound(x64, dt, current):
    # With t_ref = n_ref * dt the stepper's interval is exactly
    # t_ref + dt * ceil(t* / dt), which lies in [t_ref + t*, t_ref + t* + dt);
    # so the rate r_step lies in (1 / (T + dt), 1 / T] with T = t_ref + t*,
    # a relative error below dt / T.
    neuron = LIF(tau_n=20.0, t_ref=2.0)
    t_star = float(neuron.first_spike_time(current))
    _, spikes, _ = _run_lif(neuron, current, dt, int(round(400.0 / dt)))

    spike_steps = np.flatnonzero(np.asarray(spikes) > 0) + 1
    intervals = np.diff(spike_steps) * dt
    exact_interval = 2.0 + t_star
    assert len(intervals) >= 5
    expected_steps = round(2.0 / dt) + math.ceil(t_star / dt)
    np.testing.assert_array_equal(np.diff(spike_steps), expected_steps)
    rate_step = 1000.0 / intervals.mean()
    rate_exact = float(neuron.firing_rate(current))
    assert 1000.0 / (exact_interval + dt) < rate_step <= rate_exact
    assert (rate_exact - rate_step) / rate_exact < dt / exact_interval


# Release rate of the astrocyte under a constant domain rate.


@pytest.mark.parametrize("domain_rate", [0.05, 0.1])
def test_event_solver_release_rate(x64, domain_rate):
    astrocyte = LIFA(tau_c=2000.0, kappa_c=50.0, t_ref_c=5.0)
    circuit = LIFACircuit(astrocyte=astrocyte, domain_rate=domain_rate)
    solution = _solve(circuit, 4000.0)

    t_star = 2000.0 * math.log(50.0 * domain_rate / (50.0 * domain_rate - 1.0))
    releases = _event_times(solution.release_times, solution.num_releases)
    assert int(solution.num_spikes) == 0
    assert len(releases) >= 3
    assert abs(releases[0] - t_star) < 1e-6
    np.testing.assert_allclose(np.diff(releases), 5.0 + t_star, rtol=0, atol=1e-6)
    rate_hz = 1000.0 / np.diff(releases).mean()
    expected_rate = float(astrocyte.release_rate(domain_rate))
    assert rate_hz == pytest.approx(expected_rate, rel=1e-8)


@pytest.mark.parametrize("dt", [0.1, 1.0])
@pytest.mark.parametrize("domain_rate", [0.05, 0.1])
def test_stepper_release_rate_bound(x64, dt, domain_rate):
    # Same bound as for the neuron: the interval is t_ref_c + dt * ceil(t* / dt).
    astrocyte = LIFA(tau_c=2000.0, kappa_c=50.0, t_ref_c=5.0)
    t_star = float(astrocyte.first_release_time(domain_rate))
    _, _, releases, _ = _run_astrocyte(astrocyte, Gliotransmitter(), domain_rate * dt, dt, int(round(4000.0 / dt)))

    release_steps = np.flatnonzero(np.asarray(releases) > 0) + 1
    assert len(release_steps) >= 3
    assert t_star <= release_steps[0] * dt < t_star + dt
    expected_steps = round(5.0 / dt) + math.ceil(t_star / dt)
    np.testing.assert_array_equal(np.diff(release_steps), expected_steps)
    exact_interval = 5.0 + t_star
    rate_step = 1000.0 / (np.diff(release_steps).mean() * dt)
    rate_exact = float(astrocyte.release_rate(domain_rate))
    assert 1000.0 / (exact_interval + dt) < rate_step <= rate_exact


# Subthreshold traces and the coupled variables.


def test_solvers_agree_subthreshold(x64):
    dt = 0.5
    neuron, astrocyte, glio = LIF(tau_n=20.0), LIFA(), Gliotransmitter()
    circuit = LIFACircuit(
        neuron=neuron,
        astrocyte=astrocyte,
        gliotransmitter=glio,
        i_ext=0.8,
        domain_rate=0.015,
    )
    solution = _solve(circuit, 100.0, y0=jnp.array([0.0, 0.0, 0.3]))
    v_step, _, _ = _run_lif(neuron, 0.8, dt, 200)
    c_step, g_step, _, _ = _run_astrocyte(astrocyte, glio, 0.015 * dt, dt, 200, 0.3)

    ts = np.asarray(solution.ts)
    indices = np.round(ts[1:] / dt).astype(int) - 1
    ys = np.asarray(solution.ys)[1:]
    assert int(solution.num_spikes) == 0
    assert int(solution.num_releases) == 0
    np.testing.assert_allclose(ys[:, 0], np.asarray(v_step)[indices], atol=1e-6)
    np.testing.assert_allclose(ys[:, 1], np.asarray(c_step)[indices], atol=1e-6)
    np.testing.assert_allclose(ys[:, 2], np.asarray(g_step)[indices], atol=1e-6)
    v_exact = 0.8 * (1.0 - np.exp(-ts[1:] / 20.0))
    np.testing.assert_allclose(ys[:, 0], v_exact, atol=1e-8)
    np.testing.assert_allclose(np.asarray(v_step)[indices], v_exact, atol=1e-12)


def test_event_solver_spike_raises_calcium(x64):
    neuron, astrocyte = LIF(tau_n=20.0), LIFA(tau_c=2000.0, kappa_c=50.0)
    solution = _solve(LIFACircuit(neuron=neuron, astrocyte=astrocyte, i_ext=1.5), 50.0)

    spikes = _event_times(solution.spike_times, solution.num_spikes)
    assert len(spikes) == 2
    expected_c = sum(0.025 * math.exp(-(50.0 - s) / 2000.0) for s in spikes)
    assert float(solution.y_final[1]) == pytest.approx(expected_c, rel=1e-8)


def test_gliotransmitter_decay_event_solver(x64):
    astrocyte = LIFA(tau_c=2000.0, kappa_c=50.0, t_ref_c=5.0)
    glio = Gliotransmitter(tau_g=1000.0, delta_g=200.0)
    circuit = LIFACircuit(astrocyte=astrocyte, gliotransmitter=glio, domain_rate=0.05)
    solution = _solve(circuit, 1500.0)

    assert int(solution.num_releases) == 1
    t_release = float(solution.release_times[0])
    ts, ys = np.asarray(solution.ts), np.asarray(solution.ys)
    after = ts >= t_release
    g_expected = np.where(after, 0.2 * np.exp(-(ts - t_release) / 1000.0), 0.0)
    np.testing.assert_allclose(ys[:, 2], g_expected, rtol=1e-8, atol=1e-12)
    # The calcium restarts from its reset value once the refractory period ends.
    late = ts >= t_release + 5.0
    c_expected = 2.5 * (1.0 - np.exp(-(ts[late] - t_release - 5.0) / 2000.0))
    np.testing.assert_allclose(ys[late, 1], c_expected, rtol=1e-8)


def test_gliotransmitter_decay_stepper(x64):
    astrocyte = LIFA(tau_c=2000.0, kappa_c=50.0, t_ref_c=5.0)
    glio = Gliotransmitter(tau_g=1000.0, delta_g=200.0)
    _, g, releases, _ = _run_astrocyte(astrocyte, glio, 0.05 * 1.0, 1.0, 1500)

    release_steps = np.flatnonzero(np.asarray(releases) > 0)
    assert len(release_steps) == 1
    k = release_steps[0]
    steps_after = np.arange(1500 - k)
    expected = 0.2 * np.exp(-steps_after * 1.0 / 1000.0)
    np.testing.assert_allclose(np.asarray(g)[k:], expected, rtol=1e-12)
    np.testing.assert_array_equal(np.asarray(g)[:k], 0.0)


def test_event_solver_coupling_closed_form(x64):
    # With G(0) = g0 and no releases, I(t) = i_syn (1 + a exp(-t / tau_g)) with
    # a = alpha g0 / p0, and from rest
    # V(t) = R i_syn (1 - e^{-t/tau_n}) + A (e^{-t/tau_g} - e^{-t/tau_n}),
    # A = R i_syn a tau_g / (tau_g - tau_n).
    coupling = TripartiteCoupling(p0=1.0, alpha=0.2)
    circuit = LIFACircuit(
        neuron=LIF(tau_n=20.0),
        gliotransmitter=Gliotransmitter(tau_g=1000.0),
        coupling=coupling,
        i_syn=0.5,
    )
    solution = _solve(circuit, 100.0, y0=jnp.array([0.0, 0.0, 2.0]))

    ts = np.asarray(solution.ts)
    a = 0.2 * 2.0 / 1.0
    amplitude = 0.5 * a * 1000.0 / (1000.0 - 20.0)
    v_exact = 0.5 * (1.0 - np.exp(-ts / 20.0)) + amplitude * (np.exp(-ts / 1000.0) - np.exp(-ts / 20.0))
    assert int(solution.num_spikes) == 0
    np.testing.assert_allclose(np.asarray(solution.ys)[:, 0], v_exact, atol=1e-8)


def test_event_solver_refractory_clamp(x64):
    # V(0) = 1.5 fires at once; the zero reset sets V = 0.2, held for t_ref = 5 ms,
    # then V(t) = 0.2 exp(-(t - 5) / 20) with no input.
    neuron = LIF(tau_n=20.0, v_reset=0.2, t_ref=5.0)
    solution = _solve(LIFACircuit(neuron=neuron), 40.0, y0=jnp.array([1.5, 0.0, 0.0]))

    ts, v = np.asarray(solution.ts), np.asarray(solution.ys)[:, 0]
    assert int(solution.num_spikes) == 1
    assert float(solution.spike_times[0]) == 0.0
    clamped = ts < 5.0
    np.testing.assert_array_equal(v[clamped], 0.2)
    np.testing.assert_allclose(v[~clamped], 0.2 * np.exp(-(ts[~clamped] - 5.0) / 20.0), rtol=1e-8)
    np.testing.assert_allclose(np.asarray(solution.ys)[:, 1], 0.025 * np.exp(-ts / 2000.0), rtol=1e-8)


def test_event_solver_max_events_reached(x64):
    neuron = LIF(tau_n=20.0, t_ref=2.0)
    solution = _solve(LIFACircuit(neuron=neuron, i_ext=3.0), 400.0)

    interval = 2.0 + float(neuron.first_spike_time(3.0))
    assert bool(solution.max_events_reached)
    assert int(solution.num_spikes) == MAX_EVENTS
    assert np.all(np.isfinite(np.asarray(solution.spike_times)))
    expected_stop = float(neuron.first_spike_time(3.0)) + MAX_EVENTS * interval
    assert float(solution.t_final) == pytest.approx(expected_stop, abs=1e-5)
    ys = np.asarray(solution.ys)
    assert np.all(np.isinf(ys[np.asarray(solution.ts) > expected_stop]))


# Reset rules, refractory counting and coupling by hand.


@pytest.mark.parametrize(
    ("reset", "expected"),
    [
        (ZeroReset(), 0.25),
        (SubtractReset(), None),
    ],
)
def test_stepper_reset_rules(x64, reset, expected):
    neuron = LIF(tau_n=10.0, v_reset=0.25, reset=reset)
    state = LIFState(v=jnp.asarray(0.9), refractory=jnp.asarray(0, jnp.int32))
    new_state, spike = lif_step(neuron, state, 3.0, 1.0)

    decay = math.exp(-0.1)
    free = 0.9 * decay + 3.0 * (1.0 - decay)  # 1.0998..., above threshold
    assert float(spike) == 1.0
    if expected is None:
        expected = free - 1.0
    assert float(new_state.v) == pytest.approx(expected, abs=1e-12)


def test_reset_rules_by_hand():
    assert float(ZeroReset()(1.3, 1.0, -0.5)) == -0.5
    assert float(SubtractReset()(1.3, 1.0, -0.5)) == pytest.approx(0.3)
    assert isinstance(reset_from_name("zero"), ZeroReset)
    assert isinstance(reset_from_name("subtract"), SubtractReset)


@pytest.mark.parametrize(
    ("t_ref", "spikes", "counter"),
    [
        # round(2.6 / 1) = 3 clamped steps after each spike.
        (2.6, [1, 0, 0, 0, 1, 0, 0, 0, 1, 0], [3, 2, 1, 0, 3, 2, 1, 0, 3, 2]),
        # round(2.4 / 1) = 2.
        (2.4, [1, 0, 0, 1, 0, 0, 1, 0, 0, 1], [2, 1, 0, 2, 1, 0, 2, 1, 0, 2]),
        (0.0, [1] * 10, [0] * 10),
    ],
)
def test_stepper_refractory_steps(t_ref, spikes, counter):
    # A current far above threshold fires on every step that is not refractory.
    neuron = LIF(tau_n=1.0, t_ref=t_ref)
    _, fired, refractory = _run_lif(neuron, 100.0, 1.0, 10)

    np.testing.assert_array_equal(np.asarray(fired), spikes)
    np.testing.assert_array_equal(np.asarray(refractory), counter)


def test_astrocyte_refractory_steps():
    astrocyte = LIFA(tau_c=1.0, kappa_c=1.0, t_ref_c=3.0)
    _, _, releases, counter = _run_astrocyte(astrocyte, Gliotransmitter(), 100.0, 1.0, 9)

    np.testing.assert_array_equal(np.asarray(releases), [1, 0, 0, 0, 1, 0, 0, 0, 1])
    np.testing.assert_array_equal(np.asarray(counter), [3, 2, 1, 0, 3, 2, 1, 0, 3])


def test_coupling_alpha_zero_is_identity():
    weights = jnp.array([[0.5, -1.0, 2.0], [3.0, 0.0, -0.25]])
    g_post = jnp.array([0.0, 1.0, 7.5])
    effective = TripartiteCoupling(p0=1.0, alpha=0.0).effective_weights(weights, g_post)

    np.testing.assert_array_equal(np.asarray(effective), np.asarray(weights))


def test_coupling_by_hand():
    # p0 = 2, alpha = 0.5, G = (0, 2): p = (2, 3), p / p0 = (1, 1.5).
    coupling = TripartiteCoupling(p0=2.0, alpha=0.5)
    weights = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    effective = coupling.effective_weights(weights, jnp.array([0.0, 2.0]))

    np.testing.assert_allclose(np.asarray(coupling.activation(2.0)), 3.0)
    np.testing.assert_allclose(np.asarray(effective), [[1.0, 3.0], [3.0, 6.0]])


def test_circuit_vector_field_by_hand():
    # I = (2 + 0.5 * 2) / 2 * 1.0 + 0.5 = 2.0, so dV/dt = (-0.2 + 2.0) / 20 = 0.09.
    circuit = LIFACircuit(
        coupling=TripartiteCoupling(p0=2.0, alpha=0.5),
        i_syn=1.0,
        i_ext=0.5,
        domain_rate=0.01,
    )
    y = jnp.array([0.2, 0.1, 2.0])
    dy = np.asarray(circuit.vector_field(0.0, y, None))
    dy_clamped = np.asarray(circuit.vector_field(0.0, y, (False, False)))

    assert dy[0] == pytest.approx(0.09, rel=1e-6)
    assert dy[1] == pytest.approx((-0.1 + 50.0 * 0.01) / 2000.0, rel=1e-6)
    assert dy[2] == pytest.approx(-2.0 / 1000.0, rel=1e-6)
    np.testing.assert_array_equal(dy_clamped[:2], 0.0)
    assert dy_clamped[2] == pytest.approx(-2.0 / 1000.0, rel=1e-6)


def test_circuit_external_current_callable():
    circuit = LIFACircuit(i_ext=lambda t: 2.0 * t)

    assert float(circuit.external_current(3.0)) == 6.0
    assert float(circuit.current(3.0, 0.0)) == 6.0


# Construction and argument errors.


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: LIF(tau_n=0.0), ValueError, r"tau_n must be positive, got 0\.0"),
        (lambda: LIF(tau_n=-5.0), ValueError, r"tau_n must be positive, got -5\.0"),
        (lambda: LIF(resistance=0.0), ValueError, r"resistance must be positive"),
        (lambda: LIF(t_ref=-1.0), ValueError, r"t_ref must be non-negative, got -1"),
        (
            lambda: LIF(v_th=0.0, v_rest=0.0),
            ValueError,
            r"v_th must lie above v_rest, got v_th=0\.0 and v_rest=0\.0",
        ),
        (lambda: LIFA(tau_c=0.0), ValueError, r"tau_c must be positive, got 0\.0"),
        (lambda: LIFA(kappa_c=-1.0), ValueError, r"kappa_c must be non-negative"),
        (lambda: LIFA(t_ref_c=-2.0), ValueError, r"t_ref_c must be non-negative"),
        (lambda: Gliotransmitter(tau_g=0.0), ValueError, r"tau_g must be positive"),
        (
            lambda: Gliotransmitter(delta_g=-1.0),
            ValueError,
            r"delta_g must be non-negative",
        ),
        (lambda: TripartiteCoupling(p0=0.0), ValueError, r"p0 must be positive"),
        (
            lambda: TripartiteCoupling(alpha=-0.1),
            ValueError,
            r"alpha must be non-negative, got -0\.1",
        ),
        (
            lambda: reset_from_name("floor"),
            ValueError,
            r"unknown reset rule 'floor'; use one of: subtract, zero",
        ),
        (
            lambda: LIFACircuit(domain_rate=-1.0),
            ValueError,
            r"domain_rate must be non-negative, got -1\.0",
        ),
        (
            lambda: LIFACircuit(neuron=LIFA()),
            TypeError,
            r"neuron must be a LIF, got LIFA",
        ),
        (
            lambda: LIFACircuit(i_ext=[1.0, 2.0]),
            ValueError,
            r"i_ext must be a scalar or a function of time, got shape \(2,\)",
        ),
    ],
)
def test_construction_errors(build, error, message):
    with pytest.raises(error, match=message):
        build()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_events": 0}, r"max_events must be a positive integer, got 0"),
        ({"max_steps": 2.5}, r"max_steps must be a positive integer, got 2\.5"),
        ({"t1": 0.0}, r"t1 must be greater than t0, got t0=0\.0 and t1=0\.0"),
        ({"y0": [0.0, 0.0]}, r"y0 must have shape \(3,\) .* got shape \(2,\)"),
        ({"saveat_ts": [[1.0]]}, r"saveat_ts must be one-dimensional"),
        ({"saveat_ts": [2.0, 1.0]}, r"saveat_ts must be non-decreasing"),
        ({"saveat_ts": [0.0, 20.0]}, r"saveat_ts must lie in \[t0, t1\]"),
    ],
)
def test_solve_circuit_argument_errors(kwargs, message):
    arguments = {"t1": 10.0, **kwargs}
    t1 = arguments.pop("t1")
    with pytest.raises(ValueError, match=message):
        solve_circuit(LIFACircuit(), 0.0, t1, **arguments)


# Compilation and gradients.


def test_jitted_stepper_does_not_recompile():
    traces = []
    neuron = LIF()

    @jax.jit
    def step(state, current):
        traces.append(None)
        return lif_step(neuron, state, current, 0.5)

    state = lif_init(neuron, (4,))
    state, _ = step(state, jnp.full((4,), 1.5))
    state, _ = step(state, jnp.full((4,), 0.7))

    assert len(traces) == 1


def test_solve_circuit_does_not_recompile(x64, caplog):
    first = LIFACircuit(neuron=LIF(tau_n=20.0), i_ext=1.5)
    second = LIFACircuit(neuron=LIF(tau_n=15.0), i_ext=2.0, domain_rate=0.01)
    _solve(first, 60.0)

    with jax.log_compiles(True), caplog.at_level(logging.WARNING):
        solution = _solve(second, 80.0)
        jax.jit(lambda x: x + 1.0)(jnp.arange(3.0))

    compiled = [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]
    # The jitted lambda shows that compilations are logged here.
    assert any("<lambda>" in message for message in compiled)
    assert not any("_solve_circuit" in message for message in compiled)
    t_star = 15.0 * math.log(2.0)
    assert abs(float(solution.spike_times[0]) - t_star) < 1e-6


def test_stepper_gradient_tau_n(x64):
    dt, current, num_steps = 0.5, 0.8, 100
    weights = jnp.linspace(0.0, 1.0, num_steps)

    def weighted_trace(tau_n):
        v, _, _ = _run_lif(LIF(tau_n=tau_n), current, dt, num_steps)
        return jnp.sum(weights * v)

    tau_n, h = 20.0, 1e-4
    gradient = float(jax.grad(weighted_trace)(tau_n))
    finite_difference = float((weighted_trace(tau_n + h) - weighted_trace(tau_n - h)) / (2.0 * h))
    # dV_k/dtau_n = -R I exp(-k dt / tau_n) k dt / tau_n^2 for the subthreshold trace.
    k = np.arange(1, num_steps + 1)
    closed_form = float(np.sum(np.asarray(weights) * (-current * np.exp(-k * dt / tau_n) * k * dt / tau_n**2)))
    assert gradient == pytest.approx(finite_difference, rel=1e-7)
    assert gradient == pytest.approx(closed_form, rel=1e-10)


# Slower checks: each needs its own compilation of the event solver.


@pytest.mark.slow
def test_event_solver_subtract_reset(x64):
    # At a located crossing V equals v_th, so a subtract reset restarts from 0 and
    # the interval matches the zero reset. An immediate spike keeps the excess.
    neuron = LIF(tau_n=20.0, t_ref=0.0, reset=SubtractReset())
    solution = _solve(LIFACircuit(neuron=neuron), 40.0, y0=jnp.array([1.5, 0.0, 0.0]))
    ts, v = np.asarray(solution.ts), np.asarray(solution.ys)[:, 0]
    assert int(solution.num_spikes) == 1
    np.testing.assert_allclose(v, 0.5 * np.exp(-ts / 20.0), rtol=1e-8)

    driven = LIFACircuit(neuron=neuron, i_ext=1.5)
    solution = _solve(driven, 100.0)
    spikes = _event_times(solution.spike_times, solution.num_spikes)
    t_star = float(neuron.first_spike_time(1.5))
    np.testing.assert_allclose(np.diff(spikes), t_star, atol=1e-6)


@pytest.mark.slow
def test_event_solver_float32():
    neuron = LIF(tau_n=20.0, t_ref=2.0)
    solution = _solve(LIFACircuit(neuron=neuron, i_ext=1.5), 130.0)

    assert solution.spike_times.dtype == jnp.float32
    spikes = _event_times(solution.spike_times, solution.num_spikes)
    expected = 21.972245773362197 + 23.972245773362197 * np.arange(len(spikes))
    np.testing.assert_allclose(spikes, expected, atol=1e-3)


@pytest.mark.slow
def test_event_solver_vmap(x64):
    def solve(current):
        circuit = LIFACircuit(i_ext=current)
        return solve_circuit(circuit, 0.0, 100.0, max_events=MAX_EVENTS)

    solutions = eqx.filter_vmap(solve)(jnp.array([1.5, 0.5]))

    np.testing.assert_array_equal(np.asarray(solutions.num_spikes), [4, 0])
    assert abs(float(solutions.spike_times[0, 0]) - 21.972245773362197) < 1e-6
    np.testing.assert_array_equal(np.asarray(solutions.t_final), [100.0, 100.0])


@pytest.mark.slow
def test_event_solver_time_dependent_current(x64):
    # A current step at t = 10 ms: the first spike comes t* after it.
    circuit = LIFACircuit(i_ext=lambda t: jnp.where(t >= 10.0, 1.5, 0.0))
    solution = _solve(circuit, 60.0)

    t_star = 20.0 * math.log(3.0)
    assert abs(float(solution.spike_times[0]) - (10.0 + t_star)) < 1e-5
