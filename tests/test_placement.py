"""Tests for astrocyte sizing, clusters and placement by fault injection."""

import math

import jax
import pytest

from lifa_jax.placement import (
    measure_reconstruction_error,
    neurons_per_astrocyte,
    reconstruction_error,
    reconstruction_window,
)

# --- Sizing -------------------------------------------------------------------


def test_sizing_formula_hand_values():
    # 1 / (0.1^2 * 10 Hz * 1 s) = 10 neurons exactly.
    assert neurons_per_astrocyte(10.0, 0.1, 1000.0) == 10
    # 1 / (0.2^2 * 5 Hz * T_w): 100 at 50 ms, 99.01 -> 100 at 50.5 ms, 101.01 -> 102
    # at 49.5 ms and 83.3 -> 84 at 60 ms.
    assert neurons_per_astrocyte(5.0, 0.2, 50.0) == 100
    assert neurons_per_astrocyte(5.0, 0.2, 50.5) == 100
    assert neurons_per_astrocyte(5.0, 0.2, 49.5) == 102
    assert neurons_per_astrocyte(5.0, 0.2, 60.0) == 84
    assert reconstruction_error(100, 5.0, 50.0) == pytest.approx(0.2)
    assert reconstruction_window(100, 5.0, 0.2) == pytest.approx(50.0)


def test_sizing_lifa_paper_case():
    # Yunusoglu et al.: 2.17 Hz, at most 10 % error, 4452 neurons per astrocyte.
    window = reconstruction_window(4452, 2.17, 0.1)
    assert window == pytest.approx(1000.0 / (0.01 * 4452 * 2.17))
    assert round(window, 2) == 10.35
    assert neurons_per_astrocyte(2.17, 0.1, window) == 4452
    assert reconstruction_error(4452, 2.17, window) == pytest.approx(0.1)
    # Rounded to 10.35 ms the window is slightly short, and one more neuron is needed.
    assert neurons_per_astrocyte(2.17, 0.1, 10.35) == 4453


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: neurons_per_astrocyte(0.0, 0.1, 10.0), "rate_hz must be positive"),
        (lambda: neurons_per_astrocyte(2.0, -0.1, 10.0), "rel_error must be positive"),
        (lambda: reconstruction_error(0, 2.0, 10.0), "n_neurons must be a positive integer"),
        (lambda: reconstruction_window(10, 2.0, 0.0), "rel_error must be positive"),
        (
            lambda: measure_reconstruction_error(10, 2.0, 10.0, key=jax.random.key(0), trials=1),
            "trials must be at least 2",
        ),
    ],
)
def test_sizing_rejects_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    ("n_neurons", "rate_hz", "window_ms"),
    [(4452, 2.17, 10.351066780942443), (3, 20.0, 25.0), (50, 8.0, 40.0)],
)
def test_monte_carlo_matches_formula(n_neurons, rate_hz, window_ms):
    check = measure_reconstruction_error(n_neurons, rate_hz, window_ms, key=jax.random.key(3), trials=2000)
    assert check.predicted == pytest.approx(reconstruction_error(n_neurons, rate_hz, window_ms))
    # The sample standard deviation of 2000 trials has a relative standard error of
    # about 0.5 * sqrt(2 / 1999 + kurtosis / 2000) <= 2.2 % (Poisson excess kurtosis
    # 1 / (N f T_w) <= 0.67 here); four standard errors leave a failure chance
    # below 1e-4 for a random key.
    assert abs(check.measured - check.predicted) < 4.0 * check.standard_error
    assert check.standard_error < 0.025 * check.predicted
    # The estimate is unbiased: its mean lies within four standard errors of the mean.
    assert abs(check.mean_estimate_hz - rate_hz) < 4.0 * rate_hz * check.predicted / math.sqrt(check.trials)


def test_monte_carlo_separates_twice_the_neurons():
    check = measure_reconstruction_error(200, 5.0, 20.0, key=jax.random.key(4), trials=2000)
    # With twice the neurons the formula predicts an error sqrt(2) smaller; the
    # measurement must tell the two apart.
    assert abs(check.measured - reconstruction_error(400, 5.0, 20.0)) > 8.0 * check.standard_error


def test_monte_carlo_same_key_same_result():
    a = measure_reconstruction_error(20, 5.0, 20.0, key=jax.random.key(5), trials=100)
    b = measure_reconstruction_error(20, 5.0, 20.0, key=jax.random.key(5), trials=100)
    assert a.measured == b.measured
