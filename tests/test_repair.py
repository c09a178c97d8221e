"""Homeostatic astrocyte repair."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from trained import ENCODER, STEPS, digits, trained_digits_network

from lifa_jax.faults import NeuronDead, SynapseDead, run_sweep
from lifa_jax.metrics import recovery_ci95
from lifa_jax.repair import HomeostaticRepair
from lifa_jax.training import encode_batch


@pytest.fixture(scope="module")
def setting():
    data = digits()
    net = trained_digits_network()
    stream = encode_batch(ENCODER, jnp.asarray(data.x_train[:128]), STEPS, jax.random.key(3))
    test = encode_batch(ENCODER, jnp.asarray(data.x_test), STEPS, jax.random.key(4))
    return net, stream, test, jnp.asarray(data.y_test)


def test_gains_stay_one_without_faults(setting):
    net, stream, _, _ = setting
    repair = HomeostaticRepair(passes=5)
    gains = repair.adapt(net, net.no_faults(), repair.calibrate(net, stream), stream)
    for g in gains:
        np.testing.assert_array_equal(g, 1.0)


def test_dead_astrocyte_leaves_domain_at_one(setting):
    net, stream, _, _ = setting
    repair = HomeostaticRepair(passes=5)
    set_points = repair.calibrate(net, stream)
    faults = net.no_faults()
    # Kill the first half of the hidden neurons and the astrocyte of domain 0 (neurons 0-15).
    alive = faults.neuron_alive[0].at[:64].set(0.0)
    astro = faults.astrocyte_alive[1].at[0].set(0.0)
    faults = eqx.tree_at(
        lambda f: (f.neuron_alive, f.astrocyte_alive),
        faults,
        ((alive, faults.neuron_alive[1]), (faults.astrocyte_alive[0], astro)),
    )
    gains = repair.adapt(net, faults, set_points, stream)
    # The output layer (10 neurons, one astrocyte) lost its astrocyte: no repair there.
    np.testing.assert_array_equal(gains[1], 1.0)
    # Dead hidden neurons are not revived and keep gain 1.
    np.testing.assert_array_equal(gains[0][:64], 1.0)


def test_gains_respect_limits(setting):
    net, stream, _, _ = setting
    repair = HomeostaticRepair(passes=30, eta=2.0, g_min=0.5, g_max=1.5)
    faults = eqx.tree_at(
        lambda f: f.synapse_alive,
        net.no_faults(),
        (
            jnp.zeros_like(net.weights[0]).at[:32].set(1.0),
            jnp.ones_like(net.weights[1]),
        ),
    )
    gains = repair.adapt(net, faults, repair.calibrate(net, stream), stream)
    for g in gains:
        assert float(g.min()) >= 0.5
        assert float(g.max()) <= 1.5
    assert float(gains[0].max()) == pytest.approx(1.5)


def test_invalid_limits():
    with pytest.raises(ValueError, match="g_max=0.5 is below g_min=1.0"):
        HomeostaticRepair(g_min=1.0, g_max=0.5)
    with pytest.raises(ValueError, match="passes must be positive, got 0"):
        HomeostaticRepair(passes=0)


@pytest.mark.parametrize(
    "fault",
    [NeuronDead(0.5), SynapseDead(0.3, layers=(0,))],
    ids=["neurons", "input_synapses"],
)
def test_repair_wins_back_lost_accuracy(setting, fault):
    net, stream, test, labels = setting
    repair = HomeostaticRepair()
    set_points = repair.calibrate(net, stream)
    a_ff = float(
        jnp.mean(
            jax.vmap(lambda s: __import__("lifa_jax").predict(__import__("lifa_jax").simulate(net, s)))(test) == labels
        )
    )
    (record,) = run_sweep(
        net,
        [fault],
        test,
        labels,
        n_masks=12,
        key=jax.random.key(11),
        repair=repair,
        set_points=set_points,
        adapt_spikes=stream,
        chunk_size=12,
    )
    stat = recovery_ci95(
        a_ff,
        record["accuracy_no_repair"],
        record["accuracy_repair"],
        key=jax.random.key(0),
    )
    assert a_ff > 0.9
    assert a_ff - record["accuracy_no_repair"].mean() > 0.02
    # A clear share: at least a fifth of the lost accuracy, with the bootstrap interval above zero.
    assert stat["mean"] > 20.0
    assert stat["low"] > 0.0


@pytest.mark.slow
def test_repair_parameters_tune_by_gradient(setting):
    from lifa_jax.repair import RepairParameters, repaired_loss, tune_repair
    from lifa_jax.training import FastSigmoid

    net, stream, test, labels = setting
    repair = HomeostaticRepair(passes=3)
    set_points = repair.calibrate(net, stream[:32])
    params = RepairParameters.from_values(0.5, 4.0, 0.05)
    assert float(params.eta) == pytest.approx(0.5, rel=1e-5)
    assert float(params.g_max) == pytest.approx(4.0, rel=1e-5)

    from lifa_jax.faults import draw_faults

    masks = jax.vmap(lambda k: draw_faults(net, NeuronDead(0.4), key=k))(jax.random.split(jax.random.key(0), 2))
    grads = eqx.filter_grad(repaired_loss)(
        params, repair, net, masks, set_points, stream[:32], test[:64], labels[:64], FastSigmoid()
    )
    for g in (grads.raw_eta, grads.raw_g_max, grads.raw_alpha):
        assert np.isfinite(float(g))
    assert float(jnp.abs(grads.raw_eta)) > 0

    tuned, losses = tune_repair(
        net,
        repair,
        NeuronDead(0.4),
        set_points,
        stream[:32],
        test[:64],
        labels[:64],
        key=jax.random.key(1),
        spike_fn=FastSigmoid(),
        steps=3,
        masks_per_step=2,
    )
    assert len(losses) == 3
    assert all(np.isfinite(losses))
    assert float(tuned.eta) != pytest.approx(0.5, abs=1e-6)
