"""A trained digits network shared by the tests that need one (trained once per session)."""

import functools

import jax

from lifa_jax.data import load_digits
from lifa_jax.network import RegularEncoder, SpikingNetwork
from lifa_jax.training import TrainConfig, train

STEPS = 20
ENCODER = RegularEncoder()


@functools.cache
def digits():
    return load_digits()


@functools.cache
def trained_digits_network(epochs: int = 20) -> SpikingNetwork:
    """Return a 64-128-10 network trained on the digits with the default settings."""
    data = digits()
    network = SpikingNetwork.init([64, 128, 10], key=jax.random.key(0))
    config = TrainConfig(steps=STEPS, epochs=epochs, encoder=ENCODER)
    network, _ = train(network, data.x_train, data.y_train, config, key=jax.random.key(1))
    return network
