"""Shared pytest fixtures.

The default dtype stays float32 for the whole suite. A test that needs float64
requests the `x64` fixture, which turns 64-bit mode on for that test only.
"""

import jax
import pytest


@pytest.fixture
def x64():
    """Run one test with `jax_enable_x64` on, so floats default to float64."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """Return the path of a saved untrained 64-24-10 network (digits inputs and classes), one per test module."""
    from lifa_jax.io import save_checkpoint
    from lifa_jax.network import SpikingNetwork

    path = tmp_path_factory.mktemp("model") / "model.eqx"
    save_checkpoint(path, SpikingNetwork.init([64, 24, 10], key=jax.random.key(0), domain_size=8))
    return path
