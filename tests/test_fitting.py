"""Parameter fitting: transforms, recovery of known parameters, gradients against finite differences."""

import argparse
import json
import re
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from lifa_jax.cli import fit as fit_command
from lifa_jax.cli.common import UserError
from lifa_jax.dynamics import LIF, LIFA, Gliotransmitter, TripartiteCoupling, astrocyte_init, astrocyte_step
from lifa_jax.fitting import (
    AbstractSimulator,
    CircuitDrive,
    DiscreteStepper,
    DrivenCircuit,
    FitParameters,
    Observable,
    SmoothSolver,
    Softplus,
    TraceTarget,
    fit_circuit,
    trace_loss,
)
from lifa_jax.network import SpikingNetwork
from lifa_jax.training import FastSigmoid

# Astrocyte drive: domain rate a + b sin(w t) (spikes/ms), release rate a + b cos(w t) (releases/ms).
_DOMAIN_RATE = (0.02, 0.015, 2 * np.pi / 1000.0)
_RELEASE_RATE = (0.002, 0.002, 2 * np.pi / 700.0)


def _astrocyte_drive():
    (a, b, w), (a_g, b_g, w_g) = _DOMAIN_RATE, _RELEASE_RATE
    return CircuitDrive(
        domain_rate=lambda t: a + b * jnp.sin(w * t),
        release_rate=lambda t: a_g + b_g * jnp.cos(w_g * t),
    )


def _closed_form_astrocyte(ts, tau_c, kappa_c, tau_g, delta_g):
    """Return calcium and gliotransmitter from rest under `_astrocyte_drive`, with no release threshold."""
    (a, b, w), (a_g, b_g, w_g) = _DOMAIN_RATE, _RELEASE_RATE
    decay_c, wt_c = np.exp(-ts / tau_c), w * tau_c
    calcium = kappa_c * (
        a * (1 - decay_c) + b * (np.sin(w * ts) - wt_c * np.cos(w * ts) + wt_c * decay_c) / (1 + wt_c**2)
    )
    decay_g, wt_g = np.exp(-ts / tau_g), w_g * tau_g
    glio = delta_g * (
        a_g * (1 - decay_g) + b_g * (np.cos(w_g * ts) + wt_g * np.sin(w_g * ts) - decay_g) / (1 + wt_g**2)
    )
    return calcium, glio


def _membrane_drive():
    return CircuitDrive(
        i_syn=lambda t: 0.4 + 0.3 * jnp.sin(2 * jnp.pi * t / 40.0),
        i_ext=lambda t: 0.2 * jnp.cos(2 * jnp.pi * t / 65.0),
        domain_rate=lambda t: 0.05 + 0.04 * jnp.sin(2 * jnp.pi * t / 90.0),
        release_rate=lambda t: 0.01 * (1.0 + jnp.sin(2 * jnp.pi * t / 110.0)),
    )


def _synthetic_targets(circuit, simulator, observables, ts):
    placeholders = [TraceTarget(o, ts, np.zeros_like(ts), scale=1.0) for o in observables]
    traces = eqx.filter_jit(simulator.observe)(circuit, placeholders)
    return [TraceTarget(o, ts, np.asarray(trace)) for o, trace in zip(observables, traces)]


def _relative_errors(values, truth):
    return {name: abs(values[name] - truth[name]) / abs(truth[name]) for name in truth}


def _finite_difference_check(circuit, targets, simulator, names, h=1e-5):
    parameters = FitParameters.from_model(circuit, names)
    loss = eqx.filter_jit(trace_loss)
    grads = eqx.filter_jit(jax.grad(trace_loss))(parameters, circuit, targets, simulator)
    for name in names:
        up = eqx.tree_at(lambda p, n=name: p.raw[n], parameters, parameters.raw[name] + h)
        down = eqx.tree_at(lambda p, n=name: p.raw[n], parameters, parameters.raw[name] - h)
        numeric = (float(loss(up, circuit, targets, simulator)) - float(loss(down, circuit, targets, simulator))) / (
            2 * h
        )
        automatic = float(grads.raw[name])
        assert abs(numeric) > 1e-6, name  # the parameter reaches the loss
        assert abs(automatic - numeric) / abs(numeric) < 1e-4, (name, automatic, numeric)


def test_softplus_inverse_round_trip():
    for scale in (1.0, 20.0, 2000.0):
        transform = Softplus(scale)
        values = jnp.asarray([1e-3, 0.5, 1.0, 3.0, 50.0]) * scale
        np.testing.assert_allclose(transform.forward(transform.inverse(values)), values, rtol=1e-5)


def test_parameters_start_at_model_values():
    circuit = DrivenCircuit(astrocyte=LIFA(tau_c=1234.0), coupling=TripartiteCoupling(alpha=0.2))
    parameters = FitParameters.from_model(circuit, ["tau_c", "alpha", "c_rest"])
    values = parameters.values()
    assert float(values["tau_c"]) == pytest.approx(1234.0, rel=1e-6)
    assert float(values["alpha"]) == pytest.approx(0.2, rel=1e-6)
    assert float(values["c_rest"]) == 0.0
    # Every unconstrained number starts near 1, whatever the parameter's unit.
    assert float(parameters.raw["tau_c"]) == pytest.approx(np.log(np.e - 1.0), rel=1e-5)


def test_apply_writes_into_any_model():
    parameters = FitParameters.from_values({"tau_n": 12.0, "tau_g": 300.0})
    network = parameters.apply(SpikingNetwork.init([3, 4, 2], key=jax.random.key(0)))
    assert float(network.neuron.tau_n) == pytest.approx(12.0, rel=1e-6)
    assert float(network.gliotransmitter.tau_g) == pytest.approx(300.0, rel=1e-6)


def test_unknown_parameter_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown parameter 'tau_x'; valid names: tau_n, v_rest, .*alpha"):
        FitParameters.from_values({"tau_x": 1.0})
    with pytest.raises(ValueError, match="refractory periods are whole steps"):
        FitParameters.from_values({"t_ref": 2.0})
    with pytest.raises(ValueError, match="tau_c must be positive, got a starting value of -5.0"):
        FitParameters.from_values({"tau_c": -5.0})


def test_target_validation():
    with pytest.raises(ValueError, match="non-decreasing times from 0 ms on"):
        TraceTarget(Observable.CALCIUM, [0.0, 20.0, 10.0], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="two vectors of one length"):
        TraceTarget(Observable.CALCIUM, [0.0, 10.0], [0.0])
    with pytest.raises(TypeError, match="observable must be an Observable"):
        TraceTarget("calcium", [0.0, 10.0], [0.0, 1.0])


def test_simulators_reject_unsupported_targets():
    count = TraceTarget(Observable.SPIKE_COUNT, [0.0, 10.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="SmoothSolver has no spikes or releases"):
        fit_circuit(DrivenCircuit(), [count], ["tau_n"])
    off_grid = TraceTarget(Observable.MEMBRANE, [0.0, 0.75], [0.0, 1.0])
    with pytest.raises(ValueError, match=r"t = 0.75 ms, which is not a multiple of dt = 0.5 ms"):
        fit_circuit(DrivenCircuit(), [off_grid], ["tau_n"], simulator=DiscreteStepper(dt=0.5))


@pytest.mark.slow
def test_smooth_fit_recovers_astrocyte_parameters():
    truth = {"tau_c": 1500.0, "kappa_c": 40.0, "tau_g": 800.0, "delta_g": 150.0}
    circuit = DrivenCircuit(
        astrocyte=LIFA(tau_c=truth["tau_c"], kappa_c=truth["kappa_c"]),
        gliotransmitter=Gliotransmitter(tau_g=truth["tau_g"], delta_g=truth["delta_g"]),
        drive=_astrocyte_drive(),
    )
    ts = np.linspace(0.0, 3000.0, 151)
    calcium, glio = _closed_form_astrocyte(ts, **truth)
    targets = [TraceTarget(Observable.CALCIUM, ts, calcium), TraceTarget(Observable.GLIOTRANSMITTER, ts, glio)]
    start = FitParameters.from_values(
        {
            "tau_c": 1.3 * truth["tau_c"],
            "kappa_c": 0.7 * truth["kappa_c"],
            "tau_g": 0.75 * truth["tau_g"],
            "delta_g": 1.25 * truth["delta_g"],
        }  # fmt: skip
    )

    result = fit_circuit(circuit, targets, start, max_iterations=300)

    assert result.losses[-1] < 1e-3 * result.losses[0]
    for name, error in _relative_errors(result.values, truth).items():
        assert error < 0.02, (name, result.values[name])
    assert result.initial_values["tau_c"] == pytest.approx(1950.0, rel=1e-5)


def test_stepper_fit_recovers_membrane_parameters():
    truth = {"tau_n": 15.0, "resistance": 1.2, "alpha": 0.5}
    circuit = DrivenCircuit(
        # A high threshold keeps the membrane subthreshold for every starting value.
        neuron=LIF(tau_n=truth["tau_n"], resistance=truth["resistance"], v_th=5.0),
        coupling=TripartiteCoupling(alpha=truth["alpha"]),
        gliotransmitter=Gliotransmitter(tau_g=100.0, delta_g=100.0),
        drive=_membrane_drive(),
    )
    simulator = DiscreteStepper(dt=0.5)
    ts = np.arange(0.0, 300.0 + 0.25, 0.5)
    targets = _synthetic_targets(circuit, simulator, [Observable.MEMBRANE], ts)
    start = FitParameters.from_values({"tau_n": 0.7 * 15.0, "resistance": 1.3 * 1.2, "alpha": 0.7 * 0.5})

    result = fit_circuit(circuit, targets, start, simulator=simulator, max_iterations=600)

    for name, error in _relative_errors(result.values, truth).items():
        assert error < 0.02, (name, result.values[name])


def test_smooth_gradient_matches_finite_differences(x64):
    circuit = DrivenCircuit(
        neuron=LIF(tau_n=15.0, resistance=1.2),
        astrocyte=LIFA(tau_c=300.0, kappa_c=40.0),
        gliotransmitter=Gliotransmitter(tau_g=100.0, delta_g=100.0),
        coupling=TripartiteCoupling(alpha=0.5),
        drive=_membrane_drive(),
    )
    ts = np.linspace(0.0, 300.0, 61)
    targets = [
        TraceTarget(Observable.MEMBRANE, ts, 0.3 + 0.1 * np.sin(ts / 20.0)),
        TraceTarget(Observable.CALCIUM, ts, ts / 300.0),
        TraceTarget(Observable.GLIOTRANSMITTER, ts, 0.2 * np.ones_like(ts)),
    ]
    names = ["tau_n", "resistance", "alpha", "tau_c", "kappa_c", "c_rest", "tau_g", "delta_g"]
    _finite_difference_check(circuit, targets, SmoothSolver(), names)


def test_stepper_gradient_matches_finite_differences(x64):
    # Spikes and releases occur; with heaviside thresholds the loss is smooth between them.
    circuit = DrivenCircuit(
        neuron=LIF(tau_n=15.0, resistance=2.0),
        astrocyte=LIFA(tau_c=300.0, kappa_c=40.0, c_th=0.5),
        gliotransmitter=Gliotransmitter(tau_g=100.0, delta_g=100.0),
        coupling=TripartiteCoupling(alpha=0.5),
        drive=_membrane_drive(),
    )
    simulator = DiscreteStepper(dt=0.5)
    states = simulator.trajectory(circuit, 600)
    assert float(states[-1, 3]) > 3  # spikes
    assert float(states[-1, 4]) > 1  # releases
    ts = np.arange(0.0, 300.0 + 0.25, 0.5)
    targets = [
        TraceTarget(Observable.MEMBRANE, ts, 0.3 + 0.1 * np.sin(ts / 20.0)),
        TraceTarget(Observable.CALCIUM, ts, 0.3 * np.ones_like(ts)),
        TraceTarget(Observable.GLIOTRANSMITTER, ts, 0.5 * np.ones_like(ts)),
    ]
    names = ["tau_n", "resistance", "alpha", "tau_c", "kappa_c", "tau_g", "delta_g"]
    _finite_difference_check(circuit, targets, simulator, names, h=1e-6)


def test_stepper_calcium_equals_astrocyte_step():
    circuit = DrivenCircuit(
        neuron=LIF(tau_n=15.0, resistance=2.0),
        astrocyte=LIFA(tau_c=300.0, kappa_c=40.0, c_th=0.5, t_ref_c=3.0),
        gliotransmitter=Gliotransmitter(tau_g=100.0, delta_g=100.0),
        drive=_membrane_drive(),
    )
    dt = 0.5
    states = DiscreteStepper(dt=dt).trajectory(circuit, 600)
    spikes = jnp.diff(states[:, 3])
    domain_rate = circuit.drive.domain_rate(jnp.arange(600) * dt)
    outside = circuit.drive.release_rate(jnp.arange(600) * dt)

    def body(state, inputs):
        count, rate = inputs
        state, release = astrocyte_step(circuit.astrocyte, circuit.gliotransmitter, state, count, dt)
        # The stepper also integrates releases from outside the circuit, which astrocyte_step lacks.
        decay = jnp.exp(-dt / circuit.gliotransmitter.tau_g)
        state = eqx.tree_at(lambda s: s.g, state, state.g + circuit.gliotransmitter.delta_g * rate * (1 - decay))
        return state, (state.c, state.g, release)

    _, (calcium, glio, releases) = jax.lax.scan(
        body, astrocyte_init(circuit.astrocyte, ()), (spikes + domain_rate * dt, outside)
    )
    assert float(releases.sum()) > 1
    np.testing.assert_array_equal(jnp.cumsum(releases), states[1:, 4])
    np.testing.assert_allclose(calcium, states[1:, 1], atol=1e-5)
    np.testing.assert_allclose(glio, states[1:, 2], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_smooth_and_stepper_agree_below_threshold():
    circuit = DrivenCircuit(
        neuron=LIF(tau_n=15.0),
        astrocyte=LIFA(tau_c=300.0, kappa_c=4.0),
        gliotransmitter=Gliotransmitter(tau_g=100.0, delta_g=100.0),
        coupling=TripartiteCoupling(alpha=0.5),
        drive=_membrane_drive(),
    )
    ts = np.arange(0.0, 300.0 + 0.05, 0.1)
    observables = [Observable.MEMBRANE, Observable.CALCIUM, Observable.GLIOTRANSMITTER]
    placeholders = [TraceTarget(o, ts, np.zeros_like(ts), scale=1.0) for o in observables]
    smooth = SmoothSolver().observe(circuit, placeholders)
    stepped = DiscreteStepper(dt=0.1).observe(circuit, placeholders)
    assert float(jnp.max(stepped[0])) < 1.0
    for a, b in zip(smooth, stepped):
        # The stepper keeps the drive constant over each step, an O(dt) difference.
        np.testing.assert_allclose(a, b, atol=0.01 * float(jnp.max(jnp.abs(a))))


class _TraceCounter:
    """Counts how often a simulator is traced; hashed by identity, so it can be a static field."""

    def __init__(self):
        self.count = 0


class _CountingSimulator(AbstractSimulator):
    inner: AbstractSimulator
    counter: _TraceCounter = eqx.field(static=True)

    def observe(self, circuit, targets):
        self.counter.count += 1
        return self.inner.observe(circuit, targets)


def test_second_fit_does_not_recompile():
    ts = np.arange(0.0, 50.0 + 0.25, 0.5)
    circuit = DrivenCircuit(drive=_membrane_drive())
    targets = [TraceTarget(Observable.MEMBRANE, ts, 0.3 * np.ones_like(ts))]
    counter = _TraceCounter()
    simulator = _CountingSimulator(DiscreteStepper(dt=0.5), counter)
    optimizer = optax.adam(0.01)
    fit_circuit(circuit, targets, ["tau_n"], simulator=simulator, optimizer=optimizer, max_iterations=3)
    after_first = counter.count
    fit_circuit(circuit, targets, ["tau_n"], simulator=simulator, optimizer=optimizer, max_iterations=3)
    assert after_first >= 1
    assert counter.count == after_first


@pytest.mark.slow
def test_surrogate_fit_matches_spike_count():
    circuit = DrivenCircuit(neuron=LIF(tau_n=15.0, v_th=1.0, t_ref=0.0), drive=CircuitDrive(i_ext=1.6))
    simulator = DiscreteStepper(dt=0.5, spike_fn=FastSigmoid(slope=5.0))
    ts = np.asarray([200.0])
    target_count = float(simulator.trajectory(circuit, 400)[-1, 3])
    start = DrivenCircuit(neuron=LIF(tau_n=15.0, v_th=1.3, t_ref=0.0), drive=circuit.drive)
    initial_count = float(simulator.trajectory(start, 400)[-1, 3])
    assert initial_count < target_count - 2

    targets = [TraceTarget(Observable.SPIKE_COUNT, ts, [target_count])]
    result = fit_circuit(start, targets, ["v_th"], simulator=simulator, optimizer=optax.adam(0.01), max_iterations=200)

    fitted_count = float(simulator.trajectory(result.circuit, 400)[-1, 3])
    assert abs(fitted_count - target_count) <= 1


def _lifa_fit(argv):
    """Run `lifa fit` through its own parser, with the error handling of `lifa_jax.cli.main`."""
    parser = argparse.ArgumentParser(prog="lifa")
    fit_command.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["fit", *argv])
    try:
        return args.func(args)
    except UserError as error:
        print(f"lifa fit: error: {error}", file=sys.stderr)
        return 2


def _write_csv(path, columns):
    names = list(columns)
    rows = [",".join(names)] + [",".join(repr(float(v)) for v in row) for row in zip(*columns.values())]
    path.write_text("\n".join(rows) + "\n")
    return path


def _membrane_csv(path):
    circuit = DrivenCircuit(
        neuron=LIF(tau_n=15.0, resistance=1.2, v_th=5.0),
        drive=CircuitDrive(i_ext=lambda t: 0.5 + 0.4 * jnp.sin(t / 7.0)),
    )
    ts = np.arange(0.0, 200.0 + 0.25, 0.5)
    (membrane,) = DiscreteStepper(dt=0.5).observe(circuit, [TraceTarget(Observable.MEMBRANE, ts, np.zeros_like(ts))])
    return _write_csv(path, {"t": ts, "membrane": np.asarray(membrane), "i_ext": 0.5 + 0.4 * np.sin(ts / 7.0)})


def test_cli_fit_writes_outputs(tmp_path, capsys):
    traces = _membrane_csv(tmp_path / "traces.csv")
    out = tmp_path / "out"
    argv = [str(traces), "--params", "tau_n,resistance", "--method", "stepper", "--dt", "0.5"]
    argv += ["--set", "tau_n=11,resistance=1.5,v_th=5", "--iterations", "400", "--out", str(out)]

    assert _lifa_fit(argv) == 0

    assert "results written to" in capsys.readouterr().out
    for name in ("fitted.json", "loss.csv", "fit.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "fitted.json").read_text())
    assert summary["parameters"]["tau_n"]["initial"] == pytest.approx(11.0, rel=1e-5)
    assert summary["parameters"]["tau_n"]["fitted"] == pytest.approx(15.0, rel=0.02)
    assert summary["parameters"]["resistance"]["fitted"] == pytest.approx(1.2, rel=0.02)
    assert summary["fixed"] == {"v_th": 5.0}
    assert summary["final_loss"] < summary["initial_loss"]
    losses = (out / "loss.csv").read_text().splitlines()
    assert losses[0] == "iteration,loss"
    assert len(losses) == 1 + summary["iterations"] + 1


def _bad_trace_files(tmp_path):
    good = {"t": [0.0, 1.0, 2.0], "calcium": [0.0, 0.1, 0.2]}
    files = {
        "missing": tmp_path / "missing.csv",
        "no_trace": _write_csv(tmp_path / "no_trace.csv", {"t": [0.0, 1.0]}),
        "no_t": _write_csv(tmp_path / "no_t.csv", {"calcium": [0.0, 1.0]}),
        "unsorted": _write_csv(tmp_path / "unsorted.csv", {"t": [0.0, 2.0, 1.0], "calcium": [0.0, 0.1, 0.2]}),
        "unknown_column": _write_csv(tmp_path / "unknown.csv", {**good, "calcum": [0.0, 0.1, 0.2]}),
        "good": _write_csv(tmp_path / "good.csv", good),
    }
    (tmp_path / "text.csv").write_text("t,calcium\n0,0\n1,abc\n")
    files["text"] = tmp_path / "text.csv"
    np.savez(tmp_path / "no_t.npz", calcium=np.zeros(3))
    files["npz_no_t"] = tmp_path / "no_t.npz"
    return files


CLI_BAD_INPUTS = [
    ("missing", ["--params", "tau_c"], "trace file .*missing.csv' not found"),
    ("no_trace", ["--params", "tau_c"], "has no trace to fit; add at least one column of: membrane, calcium"),
    ("no_t", ["--params", "tau_c"], "has no t column"),
    ("npz_no_t", ["--params", "tau_c"], "has no t column"),
    ("unsorted", ["--params", "tau_c"], r"t must increase strictly, but sample 2 \(t = 1.0 ms\)"),
    ("unknown_column", ["--params", "tau_c"], r"unknown columns \['calcum'\]"),
    ("text", ["--params", "tau_c"], "line 3 .*column calcium: 'abc' is not a number"),
    ("good", ["--params", "tau_x"], "unknown parameter 'tau_x'; valid names: tau_n, v_rest, .*, alpha"),
    ("good", ["--params", "tau_c", "--set", "tau_c"], "--set takes NAME=VALUE pairs"),
    ("good", ["--params", "tau_c", "--set", "tau_c=-3"], "tau_c must be positive"),
    ("good", ["--params", "v_th"], "v_th does not affect the calcium traces of the smooth model"),
    ("good", ["--params", "tau_c", "--method", "stepper", "--dt", "0.3"], "not a multiple of dt = 0.3 ms"),
]


@pytest.mark.parametrize("file, args, message", CLI_BAD_INPUTS, ids=[f"{f}-{a[-1]}" for f, a, _ in CLI_BAD_INPUTS])
def test_cli_fit_bad_input_exits_2(tmp_path, capsys, file, args, message):
    traces = _bad_trace_files(tmp_path)[file]
    out = tmp_path / "out"

    code = _lifa_fit([str(traces), *args, "--out", str(out)])

    err = capsys.readouterr().err
    assert code == 2
    assert re.search(message, err), err
    assert not out.exists()
