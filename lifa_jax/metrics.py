r"""Fault-tolerance metrics and their confidence intervals.

With $O_{ff}$ the fault-free output (accuracy or any scalar; the L1 norm for
vectors), $O_f$ the output with a fault and no repair, and $A_r$ the accuracy with
the same fault and astrocyte repair:

- fault tolerance rate $FT = 100 (1 - |O_{ff} - O_f| / |O_{ff}|)$, higher is better;
- output deviation $D = 100 - FT$, lower is better;
- recovery $R = 100 (A_r - A_f) / (A_{ff} - A_f)$, the share of the lost accuracy
  won back, higher is better.

The LIFA paper (Yunusoglu et al., 2025) reports FT 63.11 % without astrocytes and
81.10 % with them; its "resilience improvement rate" of 18.90 % is D.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np

DIRECTIONS = {
    "accuracy": "higher is better",
    "ft": "higher is better",
    "deviation": "lower is better",
    "recovery": "higher is better",
}


def fault_tolerance(o_ff, o_f):
    """Return FT (%) of output `o_f` against the fault-free `o_ff` (L1 norm over the last axis of vectors).

    FT divides by the fault-free output, so it is NaN (undefined) where that
    output is zero, such as a fault-free accuracy of 0.
    """
    o_ff = jnp.asarray(o_ff, dtype=jnp.float32)
    o_f = jnp.asarray(o_f, dtype=jnp.float32)
    if o_ff.ndim == 0:
        change, reference = jnp.abs(o_ff - o_f), jnp.abs(o_ff)
    else:
        change, reference = jnp.sum(jnp.abs(o_ff - o_f), axis=-1), jnp.sum(jnp.abs(o_ff), axis=-1)
    defined = reference != 0
    return jnp.where(defined, 100.0 * (1.0 - change / jnp.where(defined, reference, 1.0)), jnp.nan)


def deviation(o_ff, o_f):
    """Return D = 100 - FT (%)."""
    return 100.0 - fault_tolerance(o_ff, o_f)


def recovery(a_ff, a_f, a_r):
    """Return R (%), or NaN where no accuracy was lost (`a_ff == a_f`)."""
    lost = jnp.asarray(a_ff) - jnp.asarray(a_f)
    return jnp.where(lost != 0, 100.0 * (jnp.asarray(a_r) - a_f) / jnp.where(lost != 0, lost, 1.0), jnp.nan)


def mean_ci95(values) -> dict:
    """Return the mean and the half-width of its 95 % Student-t confidence interval."""
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if n == 0:
        raise ValueError("mean_ci95 needs at least one value, got none; pass the per-mask values.")
    mean = float(values.mean())
    if n < 2:
        return {"mean": mean, "ci95": None, "n": int(n)}
    # scipy.stats takes seconds to import, so it is imported on first use.
    import scipy.stats

    half = float(scipy.stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "ci95": half, "n": int(n)}


def recovery_ci95(a_ff: float, a_f, a_r, *, key, resamples: int = 2000, min_loss: float = 0.0) -> dict:
    """Return the recovery of the mean accuracies with a bootstrap 95 % interval over masks.

    $R = 100 (\\bar A_r - \\bar A_f) / (A_{ff} - \\bar A_f)$ is computed from the means over
    masks, because per-mask ratios explode when a mask costs almost nothing. When
    the mean accuracy lost is at most `min_loss` (for example one test sample), R is
    undefined and `mean` is `None`.
    """
    a_f = jnp.asarray(a_f, dtype=jnp.float32)
    a_r = jnp.asarray(a_r, dtype=jnp.float32)
    lost = a_ff - float(a_f.mean())
    if lost <= min_loss:
        return {"mean": None, "ci95": None, "n": int(a_f.size), "note": "undefined: no measurable accuracy lost"}
    value = 100.0 * (float(a_r.mean()) - float(a_f.mean())) / lost

    idx = jax.random.randint(key, (resamples, a_f.size), 0, a_f.size)
    f, r = a_f[idx].mean(axis=1), a_r[idx].mean(axis=1)
    denom = a_ff - f
    boot = np.asarray(jnp.where(denom > min_loss, 100.0 * (r - f) / jnp.where(denom > min_loss, denom, 1.0), jnp.nan))
    boot = boot[np.isfinite(boot)]
    if boot.size < 2:
        return {"mean": value, "ci95": None, "n": int(a_f.size)}
    low, high = np.percentile(boot, [2.5, 97.5])
    return {
        "mean": value,
        "ci95": float((high - low) / 2.0),
        "low": float(low),
        "high": float(high),
        "n": int(a_f.size),
    }
