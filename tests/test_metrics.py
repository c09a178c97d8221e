"""Fault-tolerance metrics: FT, D, R and confidence intervals."""

import jax
import numpy as np
import pytest
import scipy.stats

from lifa_jax.metrics import (
    deviation,
    fault_tolerance,
    mean_ci95,
    recovery,
    recovery_ci95,
)


def test_ft_of_lifa_paper_numbers():
    # FT 81.10 % leaves an output deviation D of 18.90 %, the paper's "resilience improvement rate".
    assert float(fault_tolerance(1.0, 0.811)) == pytest.approx(81.10, abs=1e-4)
    assert float(deviation(1.0, 0.811)) == pytest.approx(18.90, abs=1e-4)


def test_ft_scalar_and_vector():
    assert float(fault_tolerance(0.9, 0.72)) == pytest.approx(80.0, rel=1e-6)
    assert float(fault_tolerance(0.9, 0.9)) == pytest.approx(100.0)
    # Vectors use the L1 norm: |(1, -1) - (0.5, -1)|_1 / |(1, -1)|_1 = 0.25.
    assert float(fault_tolerance(np.array([1.0, -1.0]), np.array([0.5, -1.0]))) == pytest.approx(75.0)


def test_recovery_share_and_undefined():
    assert float(recovery(0.95, 0.65, 0.80)) == pytest.approx(50.0, rel=1e-5)
    assert np.isnan(float(recovery(0.9, 0.9, 0.9)))


def test_mean_ci95_matches_student_t():
    values = np.array([0.80, 0.82, 0.85, 0.79, 0.84])
    stat = mean_ci95(values)
    expected = scipy.stats.t.ppf(0.975, 4) * values.std(ddof=1) / np.sqrt(5)
    assert stat["mean"] == pytest.approx(values.mean())
    assert stat["ci95"] == pytest.approx(expected)
    assert mean_ci95([0.5])["ci95"] is None


def test_recovery_ci95_from_means():
    a_f = np.array([0.6, 0.7, 0.65, 0.62])
    a_r = np.array([0.8, 0.85, 0.82, 0.79])
    stat = recovery_ci95(0.95, a_f, a_r, key=jax.random.key(0))
    expected = 100 * (a_r.mean() - a_f.mean()) / (0.95 - a_f.mean())
    assert stat["mean"] == pytest.approx(expected, rel=1e-5)
    assert stat["low"] <= stat["mean"] <= stat["high"]
    again = recovery_ci95(0.95, a_f, a_r, key=jax.random.key(0))
    assert again == stat


def test_recovery_ci95_undefined_without_loss():
    stat = recovery_ci95(
        0.9,
        np.array([0.9, 0.9]),
        np.array([0.9, 0.9]),
        key=jax.random.key(0),
        min_loss=0.003,
    )
    assert stat["mean"] is None
    assert "undefined" in stat["note"]
