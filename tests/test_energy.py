"""Energy accounting and the alternative reduce regime: lossless gating, counts, costs, domain gating."""

import functools
import json
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lifa_jax.dynamics import LIF, SubtractReset
from lifa_jax.energy import (
    COST_TABLES,
    LOIHI,
    CostTable,
    DomainGating,
    EventCounts,
    NeuronGating,
    NoGating,
    RoutingEvents,
    cost_table_from_dict,
    energy_breakdown,
    load_cost_table,
    routing_events,
    simulate_gated,
    sum_events,
)
from lifa_jax.network import NetworkFaults, SpikingNetwork, simulate


def array_lif(**kwargs):
    # Array parameters are traced, so networks that differ only in them share compiled code.
    return LIF(**{k: (v if k == "reset" else jnp.asarray(v, dtype=jnp.float32)) for k, v in kwargs.items()})


NEURONS = {
    "zero reset": array_lif(tau_n=20.0, v_rest=0.0, v_reset=0.0, t_ref=2.0),
    "rest and reset apart": array_lif(tau_n=20.0, v_rest=0.1, v_reset=-0.3, t_ref=3.0),
}
# Subtract reset with no refractory period can leave the membrane above threshold after a spike.
SUBTRACT = array_lif(tau_n=20.0, v_rest=-0.2, v_reset=0.0, t_ref=0.0, reset=SubtractReset())
TOPOLOGY = [20, 30, 5]


def random_inputs(key, samples=8, steps=30, inputs=20, rate=0.05):
    return (jax.random.uniform(key, (samples, steps, inputs)) < rate).astype(jnp.float32)


def full_faults(network, **changes):
    """Return fault masks with every optional field present (no faults unless `changes` sets some).

    One fault structure for all tests on one network shape means one compilation.
    """
    ones = tuple(jnp.ones((n,)) for n in network.topology[1:])
    zeros = tuple(jnp.zeros((n,)) for n in network.topology[1:])
    fields = {
        "neuron_saturated": zeros,
        "neuron_stuck": zeros,
        "neuron_stuck_value": zeros,
        "threshold_factor": ones,
        "tau_factor": ones,
        "synapse_replaced": tuple(jnp.zeros_like(w) for w in network.weights),
        "synapse_value": tuple(jnp.zeros_like(w) for w in network.weights),
        "astrocyte_stuck": tuple(jnp.zeros((a,)) for a in network.n_astrocytes),
    }
    fields.update(changes)
    return NetworkFaults(**dict(vars(network.no_faults()), **fields))


# Module-level compiled functions, so tests on the same shapes share compilations.
# Arrays made here carry an explicit dtype: a weakly typed array would compile anew.
@eqx.filter_jit
def gated_batch(network, spikes, params, faults):
    return jax.vmap(lambda s: simulate_gated(network, s, params, faults=faults, record=True))(spikes)


@eqx.filter_jit
def simulate_batch(network, spikes, faults):
    return jax.vmap(lambda s: simulate(network, s, faults=faults, record=True))(spikes)


def run_batch(network, spikes, gating, faults=None):
    faults = full_faults(network) if faults is None else faults
    return gated_batch(network, spikes, gating.parameters(), faults)


def reference_batch(network, spikes, faults=None):
    faults = full_faults(network) if faults is None else faults
    return simulate_batch(network, spikes, faults)


def make_network(name="zero reset", key=0, neuron=None):
    neuron = NEURONS[name] if neuron is None else neuron
    return SpikingNetwork.init(TOPOLOGY, key=jax.random.key(key), neuron=neuron, domain_size=8, weight_scale=3.0)


def single_layer_network():
    # One weight layer, four domains: each domain's activity depends only on the
    # fixed input and on itself, so a higher c_gate can only switch more off.
    network = SpikingNetwork.init([30, 32], key=jax.random.key(7), domain_size=8, weight_scale=3.0)
    return network


@functools.cache
def base_runs():
    network = make_network()
    spikes = random_inputs(jax.random.key(1))
    return network, spikes, reference_batch(network, spikes), run_batch(network, spikes, NoGating())


def test_no_gating_equals_simulate_bitwise():
    network, spikes, ref, run = base_runs()

    for layer in range(len(TOPOLOGY) - 1):
        np.testing.assert_array_equal(run.result.trace.spikes[layer], ref.trace.spikes[layer])
        np.testing.assert_array_equal(run.result.trace.calcium[layer], ref.trace.calcium[layer])
    np.testing.assert_array_equal(run.result.output_membrane, ref.output_membrane)
    events = sum_events(run.events)
    np.testing.assert_array_equal(events.neuron_updates, events.neuron_steps)


def assert_same_spikes(run, ref):
    for layer in range(len(TOPOLOGY) - 1):
        assert float(ref.trace.spikes[layer].sum()) > 0, "the check needs spikes in every layer"
        np.testing.assert_array_equal(run.result.trace.spikes[layer], ref.trace.spikes[layer])
        np.testing.assert_allclose(run.result.trace.calcium[layer], ref.trace.calcium[layer], atol=1e-6)
    np.testing.assert_allclose(run.result.output_membrane, ref.output_membrane, atol=1e-5)


@pytest.mark.parametrize("name", sorted(NEURONS))
def test_neuron_gating_is_lossless(name):
    network = make_network(name)
    spikes = random_inputs(jax.random.key(2))

    run = run_batch(network, spikes, NeuronGating())

    assert_same_spikes(run, reference_batch(network, spikes))
    assert np.all(sum_events(run.events).saved_updates > 0)


@pytest.mark.slow
def test_neuron_gating_is_lossless_subtract_reset():
    network = make_network(neuron=SUBTRACT)
    spikes = random_inputs(jax.random.key(2))

    run = run_batch(network, spikes, NeuronGating())

    assert_same_spikes(run, reference_batch(network, spikes))


def test_neuron_gating_is_lossless_under_faults():
    # Rest 0.1 and reset -0.3: a threshold of 0.05 lies between them, so neuron 2
    # (tau 2 ms) fires again without input a few steps after each spike.
    network = make_network("rest and reset apart", key=3)
    faults = full_faults(
        network,
        neuron_saturated=tuple(jnp.zeros((n,)).at[0].set(1.0) for n in network.topology[1:]),
        neuron_stuck=tuple(jnp.zeros((n,)).at[1].set(1.0) for n in network.topology[1:]),
        neuron_stuck_value=tuple(jnp.zeros((n,)).at[1].set(1.5) for n in network.topology[1:]),
        threshold_factor=tuple(jnp.ones((n,)).at[2].set(0.05) for n in network.topology[1:]),
        tau_factor=tuple(jnp.ones((n,)).at[2].set(0.1) for n in network.topology[1:]),
        synapse_alive=tuple(jnp.ones_like(w).at[:, 3].set(0.0) for w in network.weights),
    )
    spikes = random_inputs(jax.random.key(4))

    ref = reference_batch(network, spikes, faults)
    run = run_batch(network, spikes, NeuronGating(), faults)

    assert_same_spikes(run, ref)
    for layer in range(len(TOPOLOGY) - 1):
        assert float(ref.trace.spikes[layer][:, :, 2].sum()) > 0, "the low-threshold neuron must fire"


def test_saved_updates_silent_input():
    # Weights far below threshold, so nothing fires. Sample 0 gets one input spike on
    # steps 0 and 6; the other samples get none. Only those two steps update the layer.
    network = single_layer_network()
    network = eqx.tree_at(lambda n: n.weights, network, (jnp.full((30, 32), 0.01, dtype=jnp.float32),))
    spikes = jnp.zeros((6, 30, 30)).at[0, 0, 0].set(1.0).at[0, 6, 1].set(1.0)

    run = run_batch(network, spikes, NeuronGating())
    events = sum_events(run.events)

    np.testing.assert_array_equal(events.neuron_updates, [64.0])
    np.testing.assert_array_equal(events.neuron_steps, [6 * 30 * 32])
    np.testing.assert_array_equal(events.saved_updates, [6 * 30 * 32 - 64])
    np.testing.assert_array_equal(run.updated[0][0, :10, 0], [1, 0, 0, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(events.synaptic_ops, [64.0])
    assert float(events.input_spikes) == 2.0
    assert float(run.result.trace.spikes[0].sum()) == 0.0


def one_neuron(**lif):
    return SpikingNetwork.init([1, 1], key=jax.random.key(0), neuron=array_lif(**lif), domain_size=1)


def test_deferred_leak_and_refractory_exact():
    # One neuron: fires at step 0, is refractory for steps 1-3, leaks on 4-5, gets input on 6.
    tau, v_rest, v_reset, w = 10.0, 0.2, -0.5, 10.0
    network = one_neuron(tau_n=tau, v_rest=v_rest, v_reset=v_reset, t_ref=3.0)
    network = eqx.tree_at(lambda n: n.weights, network, (jnp.full((1, 1), w, dtype=jnp.float32),))
    spikes = jnp.zeros((1, 20, 1)).at[0, 0, 0].set(1.0).at[0, 6, 0].set(1.0)

    run = run_batch(network, spikes, NeuronGating())

    d = math.exp(-1.0 / tau)
    v6 = v_rest + (v_reset - v_rest) * d**3 + w * (1 - d)
    expected = [v_reset] * 4 + [v_rest + (v_reset - v_rest) * d**k for k in (1, 2)] + [v6]
    expected += [v_rest + (v6 - v_rest) * d**k for k in range(1, 14)]
    np.testing.assert_array_equal(run.result.trace.spikes[0][0, :, 0], [1] + [0] * 19)
    np.testing.assert_array_equal(run.events.neuron_updates[0], [2.0])
    np.testing.assert_allclose(run.result.output_membrane[0, 0], np.mean(expected), rtol=1e-6)


def lif_by_hand(drive, *, tau, v_rest, v_reset, v_th, t_ref_steps, subtract=False):
    """Return the spikes and membranes of one LIF neuron stepped exactly in float64, step by step."""
    d = math.exp(-1.0 / tau)
    v, refractory, spikes, membranes = v_rest, 0, [], []
    for current in drive:
        fired = 0
        if refractory == 0:
            v = v_rest + (v - v_rest) * d + current * (1 - d)
            if v >= v_th:
                fired = 1
                v = v - v_th if subtract else v_reset
                refractory = t_ref_steps
        else:
            refractory -= 1
        spikes.append(fired)
        membranes.append(v)
    return spikes, membranes


def test_neuron_gating_updates_neuron_resting_above_threshold():
    # A threshold fault puts V_th = 0.05 between the reset (-0.3) and the rest (0.1):
    # with no input at all the neuron fires, and gating must not skip those steps.
    network = one_neuron(tau_n=2.0, v_rest=0.1, v_reset=-0.3, t_ref=1.0)
    faults = full_faults(network, threshold_factor=(jnp.full((1,), 0.05, dtype=jnp.float32),))
    spikes = jnp.zeros((1, 20, 1))

    run = run_batch(network, spikes, NeuronGating(), faults)

    expected, _ = lif_by_hand([0.0] * 20, tau=2.0, v_rest=0.1, v_reset=-0.3, v_th=0.05, t_ref_steps=1)
    assert sum(expected) == 4
    np.testing.assert_array_equal(run.result.trace.spikes[0][0, :, 0], expected)
    np.testing.assert_array_equal(run.events.neuron_updates[0], [20.0])


def test_neuron_gating_updates_membrane_left_above_threshold():
    # Subtract reset without refractory period: one strong input leaves V above
    # threshold after the spike, so the neuron fires again on input-free steps.
    network = one_neuron(tau_n=20.0, v_rest=0.0, v_reset=0.0, t_ref=0.0, reset=SubtractReset())
    network = eqx.tree_at(lambda n: n.weights, network, (jnp.full((1, 1), 80.0, dtype=jnp.float32),))
    spikes = jnp.zeros((1, 20, 1)).at[0, 0, 0].set(1.0)

    run = run_batch(network, spikes, NeuronGating())

    drive = [80.0] + [0.0] * 19
    expected, membranes = lif_by_hand(drive, tau=20.0, v_rest=0.0, v_reset=0.0, v_th=1.0, t_ref_steps=0, subtract=True)
    assert expected[:4] == [1, 1, 1, 0], "the neuron must fire again without input"
    np.testing.assert_array_equal(run.result.trace.spikes[0][0, :, 0], expected)
    np.testing.assert_allclose(run.result.output_membrane[0, 0], np.mean(membranes), rtol=1e-5)


def test_synaptic_ops_count_spikes_times_fan_out():
    network, spikes, _, run = base_runs()
    events = sum_events(run.events)

    spike_counts = [float(spikes.sum())] + [float(c.sum()) for c in run.result.counts[:-1]]
    np.testing.assert_allclose(events.synaptic_ops, np.array(spike_counts) * np.array(TOPOLOGY[1:]))
    np.testing.assert_allclose(events.spikes, [float(c.sum()) for c in run.result.counts])
    np.testing.assert_allclose(events.astrocyte_updates, np.array([4, 1]) * spikes.shape[0] * spikes.shape[1])


def test_cost_arithmetic_hand_case():
    events = EventCounts(
        synaptic_ops=jnp.array([100.0, 20.0]),
        neuron_updates=jnp.array([30.0, 10.0]),
        neuron_steps=jnp.array([50.0, 10.0]),
        spikes=jnp.array([4.0, 1.0]),
        astrocyte_updates=jnp.array([6.0, 2.0]),
        input_spikes=jnp.array(7.0),
        samples=jnp.array(2.0),
    )
    table = CostTable(
        name="hand",
        node="none",
        source="test",
        synaptic_op_pj=2.0,
        neuron_update_pj=3.0,
        spike_pj=5.0,
        astrocyte_update_pj=7.0,
        hop_x_pj=11.0,
        hop_y_pj=13.0,
        router_pj=17.0,
    )
    routing = RoutingEvents(jnp.array(1.0), jnp.array(2.0), jnp.array(4.0), jnp.array(1.0))

    energy = energy_breakdown(events, table, routing)

    assert energy.synaptic == 240.0
    assert energy.neuron == 120.0
    assert energy.spike == 25.0
    assert energy.astrocyte == 56.0
    assert energy.routing == 11.0 + 26.0 + 68.0
    assert energy.total == 240.0 + 120.0 + 25.0 + 56.0 + 105.0
    assert energy.per_spike == energy.total / 5.0
    assert energy.scaled(0.5).total == energy.total / 2


def test_negative_cost_raises():
    with pytest.raises(ValueError, match="spike_pj must be non-negative, got -1.0"):
        CostTable(name="bad", node="none", source="test", spike_pj=-1.0)
    with pytest.raises(ValueError, match="hop_x_pj must be a finite number"):
        CostTable(name="bad", node="none", source="test", hop_x_pj=math.inf)


def test_cost_table_from_json(tmp_path):
    path = tmp_path / "mine.json"
    data = LOIHI.as_dict() | {"name": "mine", "spike_pj": 2.5}
    path.write_text(json.dumps(data))

    table = load_cost_table(path)

    assert table.name == "mine"
    assert table.spike_pj == 2.5
    assert table.synaptic_op_pj == LOIHI.synaptic_op_pj
    assert load_cost_table("loihi") is LOIHI
    assert set(COST_TABLES) == {"loihi", "horowitz-45nm", "horowitz-45nm-dram"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"neuron_update_pj": -3.0}, "neuron_update_pj must be non-negative"),
        ({"colour": 1.0}, "unknown cost table entry 'colour'"),
        ({"router_pj": "cheap"}, "router_pj must be a finite number"),
    ],
)
def test_cost_table_from_dict_rejects(change, message):
    with pytest.raises(ValueError, match=message):
        cost_table_from_dict(LOIHI.as_dict() | change)


def test_cost_table_missing_entry_and_file():
    data = LOIHI.as_dict()
    del data["spike_pj"]
    with pytest.raises(ValueError, match="'spike_pj' is missing"):
        cost_table_from_dict(data)
    with pytest.raises(ValueError, match="neither a built-in table"):
        load_cost_table("no-such-table")


def test_routing_events_from_link_loads():
    from lifa_jax.routing import EAST, NORTH, SOUTH, WEST, RoutingMetrics

    loads = jnp.zeros((4, 4)).at[0, EAST].set(3.0).at[1, WEST].set(2.0).at[2, NORTH].set(5.0).at[3, SOUTH].set(7.0)
    zero = jnp.zeros(())
    metrics = RoutingMetrics(
        packets=jnp.asarray(4.0),
        link_traversals=jnp.asarray(17.0),
        router_traversals=jnp.asarray(21.0),
        **dict.fromkeys(
            (
                "energy_pj",
                "required_deliveries",
                "delivered",
                "delivered_fraction",
                "unreachable_pairs",
                "mean_hops",
                "max_hops",
                "max_link_load",
                "max_link_utilisation",
                "mean_latency_ns",
                "max_latency_ns",
            ),
            zero,
        ),
        link_loads=loads,
    )

    events = routing_events(metrics)

    assert float(events.hops_x) == 5.0
    assert float(events.hops_y) == 12.0
    assert float(events.router_traversals) == 21.0
    assert float(events.packets) == 4.0


@pytest.mark.slow
def test_routing_events_split_axes():
    from lifa_jax.routing import Mesh, Multicast, Traffic, route_traffic

    mesh = Mesh(3, 2, n_max=1)
    # One spike from core (0, 0) to (2, 0) and (2, 1): multicast along x twice, then y once.
    destinations = np.zeros((1, 6), dtype=bool)
    destinations[0, [mesh.core_id(2, 0), mesh.core_id(2, 1)]] = True
    traffic = Traffic(mesh=mesh, source_core=[0], destinations=destinations, spikes=[1.0], local_deliveries=0.0)

    events = routing_events(route_traffic(traffic, Multicast()))

    assert float(events.hops_x) == 2.0
    assert float(events.hops_y) == 1.0
    assert float(events.packets) == 1.0
    assert float(events.router_traversals) == 4.0


def test_domain_gating_low_threshold_is_level_one():
    network = single_layer_network()
    spikes = random_inputs(jax.random.key(8), samples=6, inputs=30, rate=0.08)
    level_one = run_batch(network, spikes, NeuronGating())
    low = run_batch(network, spikes, DomainGating(c_gate=0.0, probe_steps=3, gate_output=True))

    np.testing.assert_array_equal(low.result.trace.spikes[0], level_one.result.trace.spikes[0])
    np.testing.assert_array_equal(sum_events(low.events).neuron_updates, sum_events(level_one.events).neuron_updates)


def test_domain_gating_energy_falls_with_threshold():
    network = single_layer_network()
    spikes = random_inputs(jax.random.key(8), samples=6, inputs=30, rate=0.08)
    energies, updates = [], []
    for c_gate in (0.0, 0.02, 0.05, 0.1, 0.2, 10.0):
        run = run_batch(network, spikes, DomainGating(c_gate=c_gate, probe_steps=3, gate_output=True))
        events = sum_events(run.events)
        energies.append(energy_breakdown(events, LOIHI).total)
        updates.append(float(events.neuron_updates.sum()))

    assert all(later <= earlier for earlier, later in zip(energies, energies[1:]))
    assert energies[-1] < energies[0]
    # Above any reachable calcium, neurons are updated only during the probe window.
    assert updates[-1] <= 3 * 32 * 6


def test_domain_gating_switches_hidden_domains_off():
    network, spikes, _, _ = base_runs()
    run = run_batch(network, spikes, DomainGating(c_gate=10.0, probe_steps=2))

    # Calcium never reaches 10, so hidden neurons update and spike only during the probe window.
    for layer in range(len(TOPOLOGY) - 2):
        assert float(run.updated[layer][:, :2].sum()) > 0
        assert float(run.updated[layer][:, 2:].sum()) == 0.0
        assert float(run.result.trace.spikes[layer][:, 2:].sum()) == 0.0


def test_domain_gating_output_layer_on_by_default():
    # In a one-layer network the only layer is the output layer.
    network = single_layer_network()
    spikes = random_inputs(jax.random.key(8), samples=6, inputs=30, rate=0.08)
    level_one = run_batch(network, spikes, NeuronGating())
    kept_on = run_batch(network, spikes, DomainGating(c_gate=10.0, probe_steps=2))
    gated = run_batch(network, spikes, DomainGating(c_gate=10.0, probe_steps=2, gate_output=True))

    np.testing.assert_array_equal(kept_on.result.trace.spikes[0], level_one.result.trace.spikes[0])
    assert float(gated.updated[0][:, 2:].sum()) == 0.0
    assert float(kept_on.updated[0][:, 2:].sum()) > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"c_gate": math.nan}, "c_gate must be finite"),
        ({"probe_steps": -1}, "probe_steps must be a non-negative integer"),
    ],
)
def test_domain_gating_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DomainGating(**kwargs)


def test_simulate_gated_rejects_wrong_shape():
    network = SpikingNetwork.init([4, 3], key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"input_spikes must have shape \(steps, 4\)"):
        simulate_gated(network, jnp.zeros((5, 3)))


@pytest.mark.slow
def test_neuron_gating_lossless_on_trained_digits():
    from trained import ENCODER, STEPS, digits, trained_digits_network

    from lifa_jax.training import encode_batch

    network = trained_digits_network()
    data = digits()
    spikes = encode_batch(ENCODER, jnp.asarray(data.x_test[:64]), STEPS, jax.random.key(0))
    ref = reference_batch(network, spikes)
    run = run_batch(network, spikes, NeuronGating())

    for layer in range(2):
        np.testing.assert_array_equal(run.result.trace.spikes[layer], ref.trace.spikes[layer])


# The `lifa energy` command line.


def lifa(argv, monkeypatch):
    """Run `lifa` with the energy and route commands registered; return the exit status."""
    from lifa_jax import cli

    missing = tuple(name for name in ("energy", "route") if name not in cli.COMMAND_MODULES)
    monkeypatch.setattr(cli, "COMMAND_MODULES", cli.COMMAND_MODULES + missing)
    return cli.main([str(a) for a in argv])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--mesh", "2x2", "--n-max", "16"], "does not fit a 2x2 mesh"),
        (["--mesh", "4by4"], "--mesh must be WIDTHxHEIGHT"),
        (["--cost-table", "cheapest"], "--cost-table: cost table 'cheapest' is neither"),
        (["--gate-thresholds", "0,nan"], "--gate-thresholds must be finite"),
        (["--probe-steps", "-1"], "--probe-steps must be non-negative"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--large-rate", "2000"], "--large-rate 2000.0 Hz gives more than one spike"),
    ],
)
def test_energy_cli_rejects_bad_input(extra, message, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"

    status = lifa(["energy", "--quick", "--out", out, *extra], monkeypatch)

    error = capsys.readouterr().err
    assert status == 2
    assert message in error
    assert error.count("\n") == 1
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_energy_cli_rejects_negative_cost(tmp_path, monkeypatch, capsys):
    table = tmp_path / "table.json"
    table.write_text(json.dumps(LOIHI.as_dict() | {"synaptic_op_pj": -2.0}))
    out = tmp_path / "out"

    status = lifa(["energy", "--quick", "--cost-table", table, "--out", out], monkeypatch)

    assert status == 2
    assert "synaptic_op_pj must be non-negative, got -2.0" in capsys.readouterr().err
    assert not out.exists()


def test_energy_cli_rejects_corrupt_checkpoint(tmp_path, monkeypatch, capsys):
    checkpoint = tmp_path / "model.eqx"
    checkpoint.write_text("not a checkpoint\n")
    out = tmp_path / "out"

    status = lifa(["energy", "--checkpoint", checkpoint, "--out", out], monkeypatch)

    assert status == 2
    assert "is not a lifa_jax checkpoint" in capsys.readouterr().err
    assert not out.exists()


def read_json_strict(path):
    def reject(constant):
        raise ValueError(f"{path} holds the non-JSON constant {constant}")

    return json.loads(path.read_text(), parse_constant=reject)


@pytest.mark.slow
def test_energy_cli_quick_run(tmp_path, monkeypatch):
    out = tmp_path / "energy"

    status = lifa(["energy", "--quick", "--out", out, "--large-samples", "2"], monkeypatch)

    assert status == 0
    for name in ("summary.json", "report.md", "energy_components.png", "accuracy_vs_energy.png"):
        assert (out / name).is_file(), name
    summary = read_json_strict(out / "summary.json")
    off, level_one, level_two = summary["digits"]
    assert level_one["accuracy"] == off["accuracy"]
    assert level_one["agreement"] == 1.0
    assert level_one["energy_per_inference"]["neuron_pj"] < off["energy_per_inference"]["neuron_pj"]
    assert level_one["saved_update_fraction"] > 0
    assert off["accuracy"] > 0.8
    assert len(summary["sweep"]) == 8
    assert summary["large"]["regimes"][1]["agreement"] == 1.0
    report = (out / "report.md").read_text()
    assert "## Domain gating sweep (ARR level 2)" in report
    assert "untrained" in report
