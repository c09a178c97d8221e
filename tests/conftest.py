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
