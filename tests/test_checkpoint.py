"""Checkpoints: round trip and mismatch errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lifa_jax.dynamics import LIF, SubtractReset
from lifa_jax.io import CheckpointError, load_checkpoint, save_checkpoint
from lifa_jax.network import RegularEncoder, SpikingNetwork, simulate


def test_round_trip_gives_identical_outputs(tmp_path):
    net = SpikingNetwork.init(
        [6, 9, 3], key=jax.random.key(0), domain_size=4, neuron=LIF(tau_n=15.0, reset=SubtractReset())
    )
    path = save_checkpoint(tmp_path / "model.eqx", net, {"note": "test"})
    loaded, header = load_checkpoint(path)
    assert header["metadata"] == {"note": "test"}
    assert isinstance(loaded.neuron.reset, SubtractReset)
    spikes = RegularEncoder(max_rate=1000.0)(jnp.linspace(0, 1, 6), 30)
    for a, b in zip(simulate(net, spikes).counts, simulate(loaded, spikes).counts):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(net.weights, loaded.weights):
        np.testing.assert_array_equal(a, b)


def test_topology_mismatch_names_both(tmp_path):
    net = SpikingNetwork.init([6, 9, 3], key=jax.random.key(0))
    path = save_checkpoint(tmp_path / "model.eqx", net)
    with pytest.raises(CheckpointError, match=r"has topology \[6, 9, 3\], but \[6, 10, 3\] was requested"):
        load_checkpoint(path, expect_topology=[6, 10, 3])


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "model.eqx"
    path.write_bytes(b"\x00\x01garbage")
    with pytest.raises(CheckpointError, match="is not a lifa_jax checkpoint"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.eqx")


def test_truncated_checkpoint(tmp_path):
    net = SpikingNetwork.init([6, 9, 3], key=jax.random.key(0))
    path = save_checkpoint(tmp_path / "model.eqx", net)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(CheckpointError, match="is corrupt or truncated"):
        load_checkpoint(path)


def test_training_state_round_trip(tmp_path):
    import equinox as eqx
    import optax

    from lifa_jax.io import load_training_state, save_training_state

    net = SpikingNetwork.init([6, 9, 3], key=jax.random.key(0))
    optimizer = optax.adam(0.01)
    state = optimizer.init(eqx.filter(net, eqx.is_inexact_array))
    grads = jax.tree.map(jnp.ones_like, eqx.filter(net, eqx.is_inexact_array))
    _, state = optimizer.update(grads, state)
    path = save_training_state(tmp_path / "state.eqx", net, state, epoch=7, metadata={"note": "x"})
    net2, state2, epoch, header = load_training_state(path, optimizer)
    assert epoch == 7
    assert header["metadata"]["note"] == "x"
    for a, b in zip(jax.tree.leaves(state), jax.tree.leaves(state2)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(CheckpointError, match="does not match this optimiser"):
        load_training_state(path, optax.chain(optax.clip(1.0), optax.sgd(0.1, momentum=0.9)))
    model = save_checkpoint(tmp_path / "model.eqx", net)
    with pytest.raises(CheckpointError, match="contains a model, not a training state"):
        load_training_state(model, optimizer)
