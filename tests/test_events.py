"""Event-driven CPU sweep engine against the dense and differential paths."""

import json
import re

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lifa_jax.campaign import CampaignConfig
from lifa_jax.cli import main
from lifa_jax.dynamics import LIF, SubtractReset
from lifa_jax.faults import (
    STATUS_DENSE_FALLBACK,
    STATUS_NONFINITE_WEIGHTS,
    EventDriven,
    NeuronDead,
    SynapseBitFlipFixed,
    SynapseBitFlipFloat,
    SynapseDead,
    SynapseSaturated,
    Transient,
    check_event_network,
    draw_sparse_faults,
    evaluate_mask,
    golden_run,
    sparse_fault_capacity,
    sweep_differential,
    sweep_events,
    sweep_masks,
    to_network_faults,
)
from lifa_jax.faults import events as events_module
from lifa_jax.io import save_checkpoint
from lifa_jax.network import RegularEncoder, SpikingNetwork, simulate
from lifa_jax.training import encode_batch

N_MASKS = 6


@pytest.fixture(scope="module")
def net():
    return SpikingNetwork.init([16, 24, 12, 4], key=jax.random.key(0), domain_size=5)


@pytest.fixture(scope="module")
def spikes(net):
    x = jax.random.uniform(jax.random.key(1), (8, 16))
    return encode_batch(RegularEncoder(), x, 10, jax.random.key(2))


@pytest.fixture(scope="module")
def labels(net, spikes):
    return golden_run(net, spikes).predictions


def dense_accuracies(net, fault, keys, spikes, labels):
    """Accuracy and status of the dense path on the engine's masks (drawn with `draw_sparse_faults`)."""
    sizes = sparse_fault_capacity(net, fault)

    @eqx.filter_jit
    def run(net, keys, spikes, labels):
        def one(key):
            sparse = draw_sparse_faults(net, fault, key=key, capacity=sizes)
            return evaluate_mask(net, to_network_faults(net, sparse), spikes, labels, None, None, None)

        return jax.lax.map(one, keys)

    result = run(net, keys, spikes, labels)
    return list(zip(np.asarray(result.accuracy_no_repair).tolist(), np.asarray(result.status).tolist()))


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(SynapseDead(0.3), marks=pytest.mark.slow),
        pytest.param(SynapseSaturated(0.1), marks=pytest.mark.slow),
        SynapseBitFlipFixed(0.02),
        pytest.param(SynapseBitFlipFixed(0.02, bits=(7,)), marks=pytest.mark.slow),
    ],
    ids=["dead", "saturated", "fixed", "fixed-sign"],
)
def test_event_engine_equals_dense_path(net, spikes, labels, fault):
    keys = jax.random.split(jax.random.key(3), N_MASKS)
    result = sweep_events(net, fault, keys, spikes, labels)
    dense = dense_accuracies(net, fault, keys, spikes, labels)
    np.testing.assert_array_equal(np.asarray(result.accuracy_no_repair), [a for a, _ in dense])
    np.testing.assert_array_equal(np.asarray(result.status), 0)
    assert np.all(np.isnan(np.asarray(result.accuracy_repair)))
    # The masks change the network: not every accuracy is the fault-free 1.
    assert np.min(np.asarray(result.accuracy_no_repair)) < 1.0


@pytest.mark.slow
def test_event_engine_equals_differential_engine(net, spikes, labels):
    fault = SynapseBitFlipFixed(0.01)
    keys = jax.random.split(jax.random.key(4), N_MASKS)
    events = sweep_events(net, fault, keys, spikes, labels)
    differential = sweep_differential(net, fault, keys, spikes, labels, capacity=None)
    np.testing.assert_array_equal(np.asarray(events.accuracy_no_repair), np.asarray(differential.accuracy_no_repair))


def test_float_bit_flips_fall_back_to_dense_path(net, spikes, labels):
    # Exponent bit 30 turns most weights infinite; bit 27 makes them huge but finite.
    for bits in ((30,), (27,)):
        fault = SynapseBitFlipFloat(0.05, bits=bits)
        keys = jax.random.split(jax.random.key(5), 4)
        result = sweep_events(net, fault, keys, spikes, labels)
        dense = dense_accuracies(net, fault, keys, spikes, labels)
        np.testing.assert_array_equal(np.asarray(result.accuracy_no_repair), [a for a, _ in dense])
        status = np.asarray(result.status)
        if bits == (30,):
            assert np.all(status & STATUS_DENSE_FALLBACK)
            assert np.all(status & STATUS_NONFINITE_WEIGHTS)
        else:
            # Finite values: simulated by the engine itself, in the direct form.
            np.testing.assert_array_equal(status, 0)
        assert np.all(np.isfinite(np.asarray(result.accuracy_no_repair)))


def test_subtract_reset_and_scattered_domains(spikes):
    # Astrocyte domains that are not contiguous ranges take the scatter path of the kernel.
    rng = np.random.default_rng(0)
    domains = [rng.integers(-1, 3, size=n) for n in (24, 12, 4)]
    net = SpikingNetwork.init(
        [16, 24, 12, 4], key=jax.random.key(7), neuron=LIF(reset=SubtractReset()), domains=domains
    )
    labels = golden_run(net, spikes).predictions
    fault = SynapseSaturated(0.1)
    keys = jax.random.split(jax.random.key(8), 4)
    result = sweep_events(net, fault, keys, spikes, labels)
    dense = dense_accuracies(net, fault, keys, spikes, labels)
    np.testing.assert_array_equal(np.asarray(result.accuracy_no_repair), [a for a, _ in dense])


@pytest.mark.slow
def test_astrocyte_releases_are_simulated(net, spikes, labels):
    # A low calcium threshold makes astrocytes release within the run, so the
    # gliotransmitter scales the weights; the engine must follow the dense path.
    strong = eqx.tree_at(lambda n: n.astrocyte.c_th, net, 0.01)
    strong = eqx.tree_at(lambda n: n.coupling.alpha, strong, 5.0)
    golden = golden_run(strong, spikes)
    fault = SynapseDead(0.2)
    keys = jax.random.split(jax.random.key(9), 4)
    result = sweep_events(strong, fault, keys, spikes, golden.predictions)
    dense = dense_accuracies(strong, fault, keys, spikes, golden.predictions)
    np.testing.assert_array_equal(np.asarray(result.accuracy_no_repair), [a for a, _ in dense])


def test_sweep_masks_runs_event_engine_eagerly(net, spikes, labels):
    fault = SynapseDead(0.3)
    keys = jax.random.split(jax.random.key(10), 4)
    via_masks = sweep_masks(net, fault, keys, spikes, labels, engine=EventDriven())
    direct = sweep_events(net, fault, keys, spikes, labels)
    np.testing.assert_array_equal(np.asarray(via_masks.accuracy_no_repair), np.asarray(direct.accuracy_no_repair))
    assert EventDriven.traceable is False


def test_golden_run_is_reused_for_the_same_inputs(net, spikes, labels):
    fault = SynapseDead(0.3)
    keys = jax.random.split(jax.random.key(11), 2)
    sweep_events(net, fault, keys, spikes, labels)
    first = events_module._GOLDEN_CACHE[0][3]
    sweep_events(net, fault, keys, spikes, labels)
    assert events_module._GOLDEN_CACHE[0][3] is first
    other = jnp.asarray(spikes)[:4]
    sweep_events(net, fault, keys, other, labels[:4])
    assert events_module._GOLDEN_CACHE[0][3] is not first


def test_same_keys_same_results(net, spikes, labels):
    fault = SynapseBitFlipFixed(0.02)
    keys = jax.random.split(jax.random.key(12), 3)
    a = sweep_events(net, fault, keys, spikes, labels)
    b = sweep_events(net, fault, keys, spikes, labels)
    np.testing.assert_array_equal(np.asarray(a.accuracy_no_repair), np.asarray(b.accuracy_no_repair))


@pytest.mark.parametrize(
    ("fault", "kwargs", "match"),
    [
        (NeuronDead(0.1), {}, "does not support fault kind 'neuron_dead'"),
        (Transient(SynapseDead(0.1)), {}, "does not support transient faults"),
        (SynapseDead(0.1), {"repair": True}, "does not evaluate repair"),
        (SynapseDead(0.1), {"sharded": True}, "does not split masks over a mesh"),
    ],
)
def test_event_engine_rejects_unsupported(fault, kwargs, match):
    with pytest.raises(ValueError, match=match):
        EventDriven().check(fault, **kwargs)


def test_event_engine_rejects_per_neuron_parameters(spikes):
    net = SpikingNetwork.init([16, 24, 24, 24], key=jax.random.key(0), neuron=LIF(v_th=jnp.ones(24) * 1.0))
    with pytest.raises(ValueError, match=r"neuron.v_th has shape \(24,\); use engine=Dense\(\)"):
        check_event_network(net)


def test_campaign_config_accepts_event_engine():
    config = CampaignConfig(faults=("synapse_dead",), repair=False, engine="event")
    config.validate()
    assert isinstance(config.build_engine(), EventDriven)
    with pytest.raises(ValueError, match="does not evaluate repair"):
        CampaignConfig(faults=("synapse_dead",), repair=True, engine="event").validate()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "model.eqx"
    save_checkpoint(path, SpikingNetwork.init([64, 24, 10], key=jax.random.key(0), domain_size=8))
    return path


def cli_sweep(checkpoint, out, *extra):
    args = ["sweep", "--checkpoint", str(checkpoint), "--rates", "0.01", "--masks", "4", "--chunk-size", "2"]
    return main([*args, "--max-test", "30", "--out", str(out), *extra])


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            ["--engine", "event", "--no-repair", "--faults", "synapse_dead,neuron_dead"],
            "--engine event does not support fault kind 'neuron_dead'; it supports synapse_dead",
        ),
        (["--engine", "event", "--faults", "synapse_dead"], "--engine event does not evaluate repair; add --no-repair"),
        (
            ["--engine", "event", "--no-repair", "--faults", "synapse_dead", "--capacity", "64"],
            "--capacity applies only",
        ),
        (
            ["--engine", "event", "--no-repair", "--faults", "synapse_dead", "--rates", "0.9"],
            "--engine event, fault kind 'synapse_dead': rate 0.9 fails",
        ),
    ],
    ids=["kind", "repair", "capacity", "rate"],
)
def test_cli_event_engine_bad_input(checkpoint, tmp_path, capsys, extra, message):
    out = tmp_path / "o"
    code = cli_sweep(checkpoint, out, *extra)
    err = capsys.readouterr().err
    assert code == 2
    assert re.search(message, err), err
    assert not out.exists()


@pytest.mark.slow
def test_cli_event_engine_matches_differential(checkpoint, tmp_path):
    extra = ["--no-repair", "--faults", "synapse_bitflip_fixed", "--rates", "0.002"]
    assert cli_sweep(checkpoint, tmp_path / "event", "--engine", "event", *extra) == 0
    assert cli_sweep(checkpoint, tmp_path / "diff", "--engine", "differential", *extra) == 0
    event = json.loads((tmp_path / "event" / "summary.json").read_text())
    differential = json.loads((tmp_path / "diff" / "summary.json").read_text())
    assert event["engine"] == "event"
    assert "Engine: event" in (tmp_path / "event" / "report.md").read_text()
    assert event["sweep"] == differential["sweep"]


def fault_free_kernel(net, spikes):
    """Return the kernel's output spike counts and mean membranes without faults."""
    gold = events_module._Golden(net, golden_run(net, spikes))
    empty = [(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)) for _ in net.weights]
    return events_module._evaluate(gold, events_module._parameters(net), empty)


@pytest.mark.parametrize(
    "dt, topology, domain_size",
    [(1.0, [16, 24, 12, 4], 5), (0.5, [16, 24, 12, 4], 5), (0.3, [16, 24, 12, 4], 5), (1.0, [16, 150, 70, 4], 48)],
    ids=["dt-1", "dt-half", "dt-0.3", "domains-across-words"],
)
def test_kernel_without_faults_reproduces_simulate(spikes, dt, topology, domain_size):
    # dt = 0.3 is not a power of two, so the kernel divides by it as `simulate` does.
    # For powers of two it multiplies by the exact inverse. Astrocytes release within
    # the run, so the gliotransmitter gain enters the dynamics. Domains of 48 neurons
    # straddle the kernel's 64-neuron spike words.
    net = SpikingNetwork.init(topology, key=jax.random.key(11), domain_size=domain_size, dt=dt)
    net = eqx.tree_at(lambda n: n.astrocyte.c_th, net, 0.01)
    net = eqx.tree_at(lambda n: n.coupling.alpha, net, 5.0)
    counts, membranes = fault_free_kernel(net, spikes)
    reference = jax.vmap(lambda s: simulate(net, s))(spikes)
    np.testing.assert_array_equal(counts, np.asarray(reference.counts[-1]))
    np.testing.assert_allclose(membranes, np.asarray(reference.output_membrane), rtol=1e-6, atol=1e-6)
    assert counts.sum() > 0


@pytest.mark.slow
def test_more_than_64_steps_match_dense_path(net):
    # 70 steps take two 64-step words per neuron in the kernel's spike tables.
    x = jax.random.uniform(jax.random.key(13), (4, 16))
    long_spikes = encode_batch(RegularEncoder(), x, 70, jax.random.key(14))
    labels = golden_run(net, long_spikes).predictions
    fault = SynapseBitFlipFixed(0.02)
    keys = jax.random.split(jax.random.key(15), 4)
    result = sweep_events(net, fault, keys, long_spikes, labels)
    dense = dense_accuracies(net, fault, keys, long_spikes, labels)
    np.testing.assert_array_equal(np.asarray(result.accuracy_no_repair), [a for a, _ in dense])
    counts, _ = fault_free_kernel(net, long_spikes)
    reference = jax.vmap(lambda s: simulate(net, s))(long_spikes)
    np.testing.assert_array_equal(counts, np.asarray(reference.counts[-1]))
