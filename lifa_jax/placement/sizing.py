r"""Neurons per astrocyte from the frequency-reconstruction error of a spike count.

An astrocyte that counts the spikes of $N$ neurons, each firing as a Poisson
process at rate $f$, over a window $T_w$ sees a Poisson count with mean
$\Lambda = N f T_w$. Its rate estimate $\hat f = \mathrm{count} / (N T_w)$ is
unbiased with relative standard error

$$\varepsilon = \frac{\sqrt{\Lambda}}{\Lambda} = \frac{1}{\sqrt{N f T_w}},
\qquad\text{so}\qquad N = \left\lceil \frac{1}{\varepsilon^2 f T_w} \right\rceil .$$

Yunusoglu et al., "Neuromorphic Circuits with Spiking Astrocytes for Increased
Energy Efficiency, Fault Tolerance, and Memory Capacitance" (ICMI 2025), size
their astrocytes for a mean rate of 2.17 Hz and at most 10 % error with 4452
neurons per astrocyte; the formula gives that number for $T_w \approx 10.35$ ms.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import PRNGKeyArray

from ..dynamics.base import check_positive

# A ratio within this relative distance of an integer counts as that integer, so
# that `neurons_per_astrocyte` inverts `reconstruction_window` despite rounding.
_CEIL_TOLERANCE = 1e-9


def _check_count(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}; pass a count such as 100.")


def neurons_per_astrocyte(rate_hz: float, rel_error: float, window_ms: float) -> int:
    r"""Return the fewest neurons one astrocyte must count to estimate their rate within `rel_error`.

    $$N = \left\lceil \frac{1}{\varepsilon^2 f T_w} \right\rceil$$

    **Arguments:**

    - `rate_hz`: mean firing rate $f$ of the neurons (Hz).
    - `rel_error`: tolerated relative standard error $\varepsilon$ of the rate
      estimate (0.1 for 10 %).
    - `window_ms`: counting window $T_w$ (ms).

    **Returns:** $N$ as an int. A ratio within a relative 1e-9 of an integer
    rounds to that integer.

    **Example:**

    ```python
    neurons_per_astrocyte(2.17, 0.1, reconstruction_window(4452, 2.17, 0.1))  # 4452
    ```
    """
    check_positive("rate_hz", rate_hz, "pass a firing rate in Hz")
    check_positive("rel_error", rel_error, "pass a relative error such as 0.1 for 10 %")
    check_positive("window_ms", window_ms, "pass a counting window in ms")
    ratio = 1.0 / (rel_error**2 * rate_hz * window_ms / 1000.0)
    return max(1, math.ceil(ratio * (1.0 - _CEIL_TOLERANCE)))


def reconstruction_error(n_neurons: int, rate_hz: float, window_ms: float) -> float:
    r"""Return the relative standard error $1/\sqrt{N f T_w}$ of the rate estimated from `n_neurons`.

    **Arguments:**

    - `n_neurons`: neurons counted by the astrocyte, $N$.
    - `rate_hz`: their mean firing rate $f$ (Hz).
    - `window_ms`: counting window $T_w$ (ms).
    """
    _check_count("n_neurons", n_neurons)
    check_positive("rate_hz", rate_hz, "pass a firing rate in Hz")
    check_positive("window_ms", window_ms, "pass a counting window in ms")
    return 1.0 / math.sqrt(n_neurons * rate_hz * window_ms / 1000.0)


def reconstruction_window(n_neurons: int, rate_hz: float, rel_error: float) -> float:
    r"""Return the counting window $T_w = 1 / (\varepsilon^2 N f)$ (ms) that reaches `rel_error` with `n_neurons`.

    **Arguments:**

    - `n_neurons`: neurons counted by the astrocyte, $N$.
    - `rate_hz`: their mean firing rate $f$ (Hz).
    - `rel_error`: relative standard error $\varepsilon$ (0.1 for 10 %).
    """
    _check_count("n_neurons", n_neurons)
    check_positive("rate_hz", rate_hz, "pass a firing rate in Hz")
    check_positive("rel_error", rel_error, "pass a relative error such as 0.1 for 10 %")
    return 1000.0 / (rel_error**2 * n_neurons * rate_hz)


def _poisson_counts(key: PRNGKeyArray, mean: float, shape: tuple[int, ...]) -> jax.Array:
    """Draw Poisson counts of `mean` by inverse-transform sampling.

    `jax.random.poisson` compiles a rejection sampler and is slow on CPU for
    millions of draws; a lookup in the cumulative distribution is exact up to
    float32 resolution and the 1e-12 tail that is cut off.
    """
    from scipy.stats import poisson

    largest = int(poisson.isf(1e-12, mean)) + 1
    cdf = jnp.asarray(poisson.cdf(np.arange(largest + 1), mean), dtype=jnp.float32)
    return jnp.searchsorted(cdf, jax.random.uniform(key, shape), side="right")


class ReconstructionCheck(eqx.Module):
    """Monte Carlo measurement of the rate-reconstruction error, beside the formula.

    **Fields:**

    - `measured`: sample standard deviation of the rate estimates divided by the
      true rate.
    - `predicted`: $1/\\sqrt{N f T_w}$.
    - `mean_estimate_hz`: mean of the rate estimates (Hz); unbiased, so close to
      the true rate.
    - `trials`: number of windows drawn.
    - `standard_error`: standard error of `measured`, from the variance of a
      sample variance, $\\varepsilon \\tfrac12\\sqrt{2/(n-1) + \\kappa/n}$ with
      $n$ trials and the Poisson excess kurtosis $\\kappa = 1/(N f T_w)$.
    """

    measured: float
    predicted: float
    mean_estimate_hz: float
    trials: int
    standard_error: float


def measure_reconstruction_error(
    n_neurons: int,
    rate_hz: float,
    window_ms: float,
    *,
    key: PRNGKeyArray,
    trials: int = 1000,
) -> ReconstructionCheck:
    """Measure the relative error of an astrocyte's rate estimate by Monte Carlo.

    Each trial draws the spike count of every one of `n_neurons` neurons over one
    window as an independent Poisson variable with mean `rate_hz * window_ms /
    1000`, sums them, and estimates the rate as `total / (n_neurons * window)`.
    Counts are drawn by inverse-transform sampling of float32 uniforms, so each
    count probability is resolved to about 1e-7 and counts with a tail
    probability below 1e-12 are never drawn.

    **Arguments:**

    - `n_neurons`, `rate_hz`, `window_ms`: as in `reconstruction_error`.
    - `key`: a JAX PRNG key; the same key gives the same counts.
    - `trials`: windows drawn (at least 2). Memory grows as `trials * n_neurons`.

    **Returns:** a `ReconstructionCheck`.
    """
    _check_count("n_neurons", n_neurons)
    _check_count("trials", trials)
    if trials < 2:
        raise ValueError(f"trials must be at least 2 to measure a spread, got {trials}; pass 1000 or more.")
    predicted = reconstruction_error(n_neurons, rate_hz, window_ms)

    mean_count = rate_hz * window_ms / 1000.0
    counts = _poisson_counts(key, mean_count, (trials, n_neurons)).sum(axis=1)
    estimates = np.asarray(counts, dtype=np.float64) / (n_neurons * window_ms / 1000.0)

    measured = float(np.std(estimates, ddof=1) / rate_hz)
    kurtosis = 1.0 / (n_neurons * mean_count)
    standard_error = predicted * 0.5 * math.sqrt(2.0 / (trials - 1) + kurtosis / trials)
    return ReconstructionCheck(
        measured=measured,
        predicted=predicted,
        mean_estimate_hz=float(np.mean(estimates)),
        trials=int(trials),
        standard_error=standard_error,
    )
