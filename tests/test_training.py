"""Surrogate gradients and training on the digits."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from trained import ENCODER, STEPS, digits, trained_digits_network

from lifa_jax.training import Arctan, FastSigmoid, Sigmoid, Triangle, evaluate, surrogate_from_name


@pytest.mark.parametrize("surrogate", [FastSigmoid(), Arctan(), Triangle(), Sigmoid()], ids=lambda s: type(s).__name__)
def test_surrogate_forward_is_step(surrogate):
    x = jnp.array([-1.0, -1e-6, 0.0, 1e-6, 2.0])
    np.testing.assert_array_equal(surrogate(x), [0.0, 0.0, 1.0, 1.0, 1.0])


def test_surrogate_derivatives_closed_form():
    grad = jax.vmap(jax.grad(lambda v, s: s(v)), in_axes=(0, None))
    x = jnp.array([0.0, 0.1, -0.3])
    np.testing.assert_allclose(grad(x, FastSigmoid(slope=10.0)), 1.0 / (1.0 + 10.0 * jnp.abs(x)) ** 2, rtol=1e-6)
    np.testing.assert_allclose(grad(x, Triangle(width=0.5)), jnp.maximum(0.0, 1 - jnp.abs(x) / 0.5) / 0.5, rtol=1e-6)
    np.testing.assert_allclose(grad(x, Arctan(alpha=2.0)), 1.0 / (1.0 + (jnp.pi * x) ** 2), rtol=1e-6)


def test_surrogate_by_name():
    assert isinstance(surrogate_from_name("arctan"), Arctan)
    with pytest.raises(
        ValueError, match="unknown surrogate 'relu'; use one of: arctan, fast_sigmoid, sigmoid, triangle"
    ):
        surrogate_from_name("relu")


def test_default_training_reaches_ninety_percent():
    data = digits()
    network = trained_digits_network()
    accuracy = float(evaluate(network, data.x_test, data.y_test, steps=STEPS, encoder=ENCODER, key=jax.random.key(0)))
    assert accuracy >= 0.90


@pytest.mark.slow
def test_fault_aware_loss_mixes_masks():
    from lifa_jax.faults import NeuronDead
    from lifa_jax.network import SpikingNetwork
    from lifa_jax.training import TrainConfig, batch_loss, encode_batch

    data = digits()
    net = SpikingNetwork.init([64, 32, 10], key=jax.random.key(0))
    spikes = encode_batch(ENCODER, jnp.asarray(data.x_train[:16]), STEPS, jax.random.key(1))
    labels = jnp.asarray(data.y_train[:16])
    clean_config = TrainConfig(steps=STEPS)
    clean, _ = batch_loss(net, spikes, labels, clean_config)
    only_faulty = TrainConfig(steps=STEPS, fault=NeuronDead(0.5), fault_weight=1.0, fault_masks=3)
    faulty, _ = batch_loss(net, spikes, labels, only_faulty, jax.random.key(2))
    half = TrainConfig(steps=STEPS, fault=NeuronDead(0.5), fault_weight=0.5, fault_masks=3)
    mixed, _ = batch_loss(net, spikes, labels, half, jax.random.key(2))
    assert float(faulty) != pytest.approx(float(clean))
    assert float(mixed) == pytest.approx(0.5 * float(clean) + 0.5 * float(faulty), rel=1e-5)
    grads = eqx.filter_grad(lambda n: batch_loss(n, spikes, labels, only_faulty, jax.random.key(2))[0])(net)
    assert float(jnp.abs(grads.weights[0]).sum()) > 0
    with pytest.raises(ValueError, match="fault-aware training needs a key"):
        batch_loss(net, spikes, labels, only_faulty)
    with pytest.raises(ValueError, match=r"fault_weight must lie in \[0, 1\], got 1.5"):
        TrainConfig(fault_weight=1.5)


def _tiny_batch():
    from lifa_jax.network import SpikingNetwork

    data = digits()
    network = SpikingNetwork.init([64, 8, 10], key=jax.random.key(0))
    x = jnp.asarray(data.x_train[:4])
    spikes = jax.random.bernoulli(jax.random.key(1), x, (5, *x.shape)).swapaxes(0, 1).astype(jnp.float32)
    return network, spikes, jnp.asarray(data.y_train[:4])


@eqx.filter_jit
def _tiny_fault_loss(network, spikes, labels, rate, rate_weight, key):
    # Rate and weight are arrays, so both tests below share one compilation.
    from lifa_jax.faults import NeuronDead
    from lifa_jax.training import TrainConfig, batch_loss

    config = TrainConfig(steps=5, fault=NeuronDead(rate), fault_weight=1.0, fault_masks=2, rate_weight=rate_weight)
    return batch_loss(network, spikes, labels, config, key)[0]


def test_all_dead_loss_closed_form():
    from lifa_jax.training import TrainConfig

    network, spikes, labels = _tiny_batch()
    loss = _tiny_fault_loss(network, spikes, labels, jnp.asarray(1.0), jnp.asarray(2.0), jax.random.key(3))
    # With every hidden neuron dead the output never spikes: uniform logits, zero hidden rate.
    expected = np.log(10.0) + 2.0 * TrainConfig().rate_target ** 2
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_fault_loss_follows_mask_key():
    network, spikes, labels = _tiny_batch()
    rate, rate_weight = jnp.asarray(0.5), jnp.asarray(1.0)
    losses = [
        float(_tiny_fault_loss(network, spikes, labels, rate, rate_weight, jax.random.key(k))) for k in (0, 0, 1, 2, 3)
    ]
    assert losses[0] == losses[1]
    assert len(set(losses[1:])) > 1
