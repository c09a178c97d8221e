"""Recall quality, quality-against-load curves and storage capacity."""

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from .base import RecallStatus, check_fraction, check_positive_int
from .models import AbstractMemoryModel, dynamic_floats


def random_patterns(n_patterns: int, n_neurons: int, *, key: PRNGKeyArray) -> Float[Array, "patterns neurons"]:
    """Draw `n_patterns` patterns of `n_neurons` independent, equiprobable +-1 entries."""
    return jax.random.rademacher(key, (n_patterns, n_neurons), dtype=jnp.float32)


def flip_mask(uniform: Float[Array, " neurons"], n_flip) -> Array:
    """Return a boolean mask that is True at the `n_flip` smallest entries of `uniform`.

    With `uniform` drawn i.i.d., these are `n_flip` positions chosen uniformly
    without replacement; `n_flip` may be traced.
    """
    n = uniform.shape[0]
    order = jnp.argsort(uniform)
    return jnp.zeros(n, dtype=bool).at[order].set(jnp.arange(n) < n_flip)


def corrupt(pattern: Float[ArrayLike, " neurons"], fraction, *, key: PRNGKeyArray) -> Float[Array, " neurons"]:
    """Flip exactly round(fraction * N) entries of `pattern`, chosen without replacement.

    `round` rounds half to even, as `jnp.round` and Python's `round` do. `fraction`
    may be traced; a concrete value outside [0, 1] raises `ValueError`.
    """
    check_fraction("fraction", fraction, "pass the share of cue bits to flip, e.g. 0.05")
    pattern = jnp.asarray(pattern, dtype=jnp.float32)
    n_flip = jnp.round(jnp.asarray(fraction) * pattern.shape[0])
    flip = flip_mask(jax.random.uniform(key, pattern.shape), n_flip)
    return jnp.where(flip, -pattern, pattern)


def recall_quality(pattern: Float[ArrayLike, " neurons"], state: Float[ArrayLike, " neurons"]) -> Float[Array, ""]:
    r"""Return the recall quality $m = \operatorname{clip}(\xi \cdot s / N, 0, 1)$.

    1 is perfect recall, 0 none; a recall of the inverted pattern counts as 0.
    """
    pattern = jnp.asarray(pattern, dtype=jnp.float32)
    return jnp.clip(pattern @ jnp.asarray(state, dtype=jnp.float32) / pattern.shape[0], 0.0, 1.0)


class QualityCurve(eqx.Module):
    """Mean recall quality against the number of stored patterns.

    **Fields:**

    - `n_neurons`: network size $N$.
    - `n_patterns`: numbers of stored patterns $K$, shape `(loads,)`.
    - `quality`: mean recall quality over trials and cues, shape `(loads,)`.
    - `quality_std`: standard deviation across trials of the per-trial mean.
    - `status_fraction`: share of recalls ending with each `RecallStatus` code,
      shape `(loads, len(RecallStatus))`.
    - `n_trials`, `n_cues`, `cue_noise`: the sweep's settings.
    """

    n_neurons: int = eqx.field(static=True)
    n_patterns: np.ndarray
    quality: np.ndarray
    quality_std: np.ndarray
    status_fraction: np.ndarray
    n_trials: int = eqx.field(static=True)
    n_cues: int = eqx.field(static=True)
    cue_noise: float = eqx.field(static=True)

    @property
    def loads(self) -> np.ndarray:
        """Loads $K / N$."""
        return self.n_patterns / self.n_neurons


def _random_spins(n_rows: int, n_neurons: int, *, key: PRNGKeyArray) -> Float[Array, "rows neurons"]:
    """Draw an `(n_rows, n_neurons)` array of independent, equiprobable +-1 entries.

    Each 32-bit random word gives 32 entries, so this draws 1/32 of the random
    numbers of `random_patterns`. With `jax_threefry_partitionable` (on by default
    in JAX 0.10.2) each word is drawn from its own index, so row `i` does not
    depend on `n_rows`.
    """
    n_words = -(-n_neurons // 32)
    words = jax.random.bits(key, (n_rows, n_words), dtype=jnp.uint32)
    bits = (words[:, :, None] >> jnp.arange(32, dtype=jnp.uint32)) & 1
    return jnp.where(bits.reshape(n_rows, 32 * n_words)[:, :n_neurons] == 1, 1.0, -1.0).astype(jnp.float32)


def _trial(model, n_neurons, capacity_rows, n_cues, cue_batch, cue_noise, n_patterns, key):
    """Store `n_patterns` random patterns, recall `n_cues` corrupted cues, score them."""
    # Patterns come from one `bits` call, cue choices and flipped bits from one
    # `uniform` call. Every separate random call adds a threefry hash to the
    # compiled program, and these hashes dominate the compile time of a sweep.
    pattern_key, draw_key, build_key, recall_key = jax.random.split(key, 4)
    patterns = _random_spins(capacity_rows, n_neurons, key=pattern_key)
    pattern_mask = (jnp.arange(capacity_rows) < n_patterns).astype(jnp.float32)
    memory = model.build(patterns, pattern_mask, key=build_key)

    uniform = jax.random.uniform(draw_key, (n_cues * (n_neurons + 1),))
    pick_draw, flip_draw = uniform[:n_cues], uniform[n_cues:]
    picks = jnp.minimum(jnp.floor(pick_draw * n_patterns), n_patterns - 1).astype(jnp.int32)
    targets = patterns[picks]
    n_flip = jnp.round(cue_noise * n_neurons)
    flips = jax.vmap(lambda u: flip_mask(u, n_flip))(flip_draw.reshape(n_cues, n_neurons))
    cues = jnp.where(flips, -targets, targets)

    def recall_one(cue_and_key):
        cue, cue_key = cue_and_key
        return model.recall_state(memory, cue, key=cue_key)

    recall_keys = jax.random.split(recall_key, n_cues)
    if cue_batch >= n_cues:
        states, status = jax.vmap(recall_one)((cues, recall_keys))
    else:
        # One cue at a time, each in its own loop, because a vmapped loop runs
        # until its slowest cue stops. For one cue, XLA's matrix-vector kernel
        # also beat its small matrix-matrix kernel on CPU (jaxlib 0.10.2).
        states, status = jax.lax.map(recall_one, (cues, recall_keys), batch_size=cue_batch if cue_batch > 1 else None)

    quality = jax.vmap(recall_quality)(targets, states)
    counts = jnp.sum(status[:, None] == jnp.arange(len(RecallStatus))[None, :], axis=0)
    return jnp.mean(quality), counts


@eqx.filter_jit
def _bucket(model, n_neurons, capacity_rows, n_cues, trial_batch, cue_batch, cue_noise, n_patterns, keys):
    """Evaluate every load of one bucket (same pattern-array size) and every trial."""

    def one_load(args):
        k, trial_keys = args
        trial = lambda key: _trial(model, n_neurons, capacity_rows, n_cues, cue_batch, cue_noise, k, key)  # noqa: E731
        if trial_batch >= trial_keys.shape[0]:
            return jax.vmap(trial)(trial_keys)
        return jax.lax.map(trial, trial_keys, batch_size=trial_batch if trial_batch > 1 else None)

    return jax.lax.map(one_load, (n_patterns, keys))


def _bucket_rows(n_patterns: np.ndarray, n_neurons: int) -> np.ndarray:
    """Return the pattern-array size used for each load.

    Every distinct size compiles once, so small sweeps use one array of the
    largest load for all loads. Storing that many patterns can cost more than
    2**27 multiply-adds per trial; then loads are grouped from the largest down.
    A group takes every load above half of its largest, which sets the group's
    size, so masked-out rows never cost more than the stored ones.
    """
    if n_patterns.max() * n_neurons**2 <= 2**27:
        return np.full_like(n_patterns, n_patterns.max())
    rows = np.zeros_like(n_patterns)
    unassigned = np.ones(n_patterns.shape, dtype=bool)
    while unassigned.any():
        size = n_patterns[unassigned].max()
        group = unassigned & (2 * n_patterns > size)
        rows[group] = size
        unassigned &= ~group
    return rows


def recall_quality_curve(
    model: AbstractMemoryModel,
    n_neurons: int,
    n_patterns: Sequence[int],
    *,
    key: PRNGKeyArray,
    cue_noise: float = 0.05,
    n_trials: int = 8,
    n_cues: int = 16,
    trial_batch: int | None = None,
    cue_batch: int | None = None,
) -> QualityCurve:
    """Measure mean recall quality for each number of stored patterns.

    Each trial draws fresh random patterns, stores the first $K$ of them, picks
    `n_cues` stored patterns at random, flips round(cue_noise * N) bits of each
    and recalls. Trials and cues are vmapped or looped over (`trial_batch`,
    `cue_batch`); the loads are swept with `lax.map` inside one compiled function
    per pattern-array size. Batch sizes change only the speed for Hebbian
    recall, whose fields are exact in float32; for other models they may change
    float rounding.

    **Arguments:**

    - `model`: a `HopfieldModel`, `DenseModel` or `NeuronAstrocyteModel`.
    - `n_neurons`: $N$.
    - `n_patterns`: the values of $K$ to sweep (integers >= 1).
    - `key`: the load $K$ is folded into it, so a load's result does not depend
      on which other loads are swept.
    - `cue_noise`: fraction of cue bits flipped, in [0, 1].
    - `n_trials`, `n_cues`: trials per load and cues per trial.
    - `cue_batch`: cues of a trial vmapped at once; with fewer than `n_cues`,
      batches run one after the other (default: `model.default_cue_batch`, which
      is 1 for synchronous Hopfield recall from N = 256 on and all cues
      otherwise). A vmapped recall loop runs until its slowest cue stops, so
      beyond capacity, where cues need 2 to 100 sweeps, it computes many sweeps
      for cues that have already stopped.
    - `trial_batch`: trials vmapped at once (default: 1 when `cue_batch` is 1;
      otherwise all for small networks and 2 at N = 1000). With vmapped cues at
      N = 1000 and K/N = 0.2-0.3, batches of 2 trials ran about twice as fast as
      batches of 25. For small networks the per-batch overhead dominates, and one
      batch is faster.

    **Returns:** a `QualityCurve`.
    """
    check_positive_int("n_neurons", n_neurons, "pass the network size N")
    check_positive_int("n_trials", n_trials, "pass the number of trials per load, e.g. 8")
    check_positive_int("n_cues", n_cues, "pass the number of cues per trial, e.g. 16")
    check_fraction("cue_noise", cue_noise, "pass the share of cue bits to flip, e.g. 0.05")
    n_patterns = np.asarray(n_patterns)
    if n_patterns.ndim != 1 or n_patterns.size == 0 or not np.issubdtype(n_patterns.dtype, np.integer):
        raise ValueError(
            f"n_patterns must be a non-empty sequence of integers, got {n_patterns.tolist()!r}; "
            "pass the numbers of stored patterns, e.g. [50, 100, 150]."
        )
    if n_patterns.min() < 1:
        raise ValueError(f"n_patterns must all be >= 1, got {int(n_patterns.min())}; store at least one pattern.")
    model.check_load(int(n_patterns.max()), n_neurons)
    if cue_batch is None:
        cue_batch = min(n_cues, model.default_cue_batch(n_neurons, n_cues))
    check_positive_int("cue_batch", cue_batch, "pass how many cues to vmap at once")
    if trial_batch is None:
        trial_batch = 1 if cue_batch == 1 else max(1, min(n_trials, 2**21 // n_neurons**2))
    check_positive_int("trial_batch", trial_batch, "pass how many trials to vmap at once")

    rows = _bucket_rows(n_patterns, n_neurons)
    quality = np.zeros((n_patterns.size, n_trials))
    counts = np.zeros((n_patterns.size, len(RecallStatus)))
    dynamic_model = dynamic_floats(model)
    for size in np.unique(rows):
        index = np.flatnonzero(rows == size)
        ks = jnp.asarray(n_patterns[index], dtype=jnp.int32)
        keys = jax.vmap(lambda k: jax.random.split(jax.random.fold_in(key, k), n_trials))(ks)
        means, status_counts = _bucket(
            dynamic_model, n_neurons, int(size), n_cues, trial_batch, cue_batch, jnp.float32(cue_noise), ks, keys
        )
        quality[index] = np.asarray(means)
        counts[index] = np.asarray(status_counts).sum(axis=1)

    return QualityCurve(
        n_neurons=n_neurons,
        n_patterns=n_patterns,
        quality=quality.mean(axis=1),
        quality_std=quality.std(axis=1),
        status_fraction=counts / (n_trials * n_cues),
        n_trials=n_trials,
        n_cues=n_cues,
        cue_noise=float(cue_noise),
    )


class CapacityResult(eqx.Module):
    """Storage capacity read off a quality curve.

    **Fields:**

    - `curve`: the `QualityCurve` it was read from.
    - `threshold`: the quality criterion (0.95 by default).
    - `n_patterns`: the largest swept $K$ such that it and every smaller swept
      load reach the threshold (0 when the smallest load already fails).
    - `load`: `n_patterns / N`.
    - `load_interpolated`: the load where the curve crosses the threshold, by
      linear interpolation between the last passing and the first failing load;
      NaN when no swept load fails or the first one does.
    - `bounded`: True when some swept load failed, so `load` is not merely a
      lower bound set by the end of the sweep.
    """

    curve: QualityCurve
    threshold: float = eqx.field(static=True)
    n_patterns: int = eqx.field(static=True)
    load: float = eqx.field(static=True)
    load_interpolated: float = eqx.field(static=True)
    bounded: bool = eqx.field(static=True)


def capacity_from_curve(curve: QualityCurve, threshold: float = 0.95) -> CapacityResult:
    """Read the capacity off `curve` (loads must be increasing)."""
    check_fraction("threshold", threshold, "pass a quality criterion such as 0.95")
    if np.any(np.diff(curve.n_patterns) <= 0):
        raise ValueError(
            f"n_patterns must increase strictly to read a capacity, got {curve.n_patterns.tolist()}; sort the loads."
        )
    passing = curve.quality >= threshold
    failing = np.flatnonzero(~passing)
    first_fail = int(failing[0]) if failing.size else len(passing)
    n_neurons = curve.n_neurons
    if first_fail == 0:
        n_patterns, interpolated = 0, math.nan
    else:
        n_patterns = int(curve.n_patterns[first_fail - 1])
        interpolated = math.nan
        if first_fail < len(passing):
            k0, k1 = curve.n_patterns[first_fail - 1], curve.n_patterns[first_fail]
            q0, q1 = curve.quality[first_fail - 1], curve.quality[first_fail]
            interpolated = float(k0 + (q0 - threshold) / (q0 - q1) * (k1 - k0)) / n_neurons
    return CapacityResult(
        curve=curve,
        threshold=float(threshold),
        n_patterns=n_patterns,
        load=n_patterns / n_neurons,
        load_interpolated=interpolated,
        bounded=bool(failing.size),
    )


def capacity(
    model: AbstractMemoryModel,
    n_neurons: int,
    n_patterns: Sequence[int],
    *,
    key: PRNGKeyArray,
    threshold: float = 0.95,
    cue_noise: float = 0.05,
    n_trials: int = 8,
    n_cues: int = 16,
    trial_batch: int | None = None,
) -> CapacityResult:
    """Measure the storage capacity: the largest load with mean recall quality >= `threshold`.

    Sweeps `n_patterns` (increasing) with `recall_quality_curve` and reads the
    capacity with `capacity_from_curve`. For the classical Hebbian network the
    capacity tends to $K/N \\approx 0.138$ as $N \\to \\infty$ (Amit, Gutfreund &
    Sompolinsky, Phys. Rev. Lett. 55, 1530, 1985).
    """
    check_fraction("threshold", threshold, "pass a quality criterion such as 0.95")
    curve = recall_quality_curve(
        model,
        n_neurons,
        n_patterns,
        key=key,
        cue_noise=cue_noise,
        n_trials=n_trials,
        n_cues=n_cues,
        trial_batch=trial_batch,
    )
    return capacity_from_curve(curve, threshold)


def fit_power_law(n_neurons: Sequence[float], n_patterns: Sequence[float]) -> tuple[float, float]:
    r"""Fit $K = c N^a$ by least squares on $\log K$ against $\log N$.

    **Returns:** `(a, c)`. The classical network has $a = 1$ ($c \approx 0.138$);
    a quartic dense associative memory grows faster than linearly ($a > 1$).
    """
    n_neurons = np.asarray(n_neurons, dtype=float)
    n_patterns = np.asarray(n_patterns, dtype=float)
    if n_neurons.shape != n_patterns.shape or n_neurons.size < 2:
        raise ValueError(
            f"need at least two (N, K) pairs of equal length, got {n_neurons.size} sizes "
            f"and {n_patterns.size} capacities; sweep two or more network sizes."
        )
    if np.any(n_neurons <= 0) or np.any(n_patterns <= 0):
        raise ValueError(
            "sizes and capacities must be positive to fit on a log scale, got "
            f"N={n_neurons.tolist()} and K={n_patterns.tolist()}; drop sizes whose capacity is 0."
        )
    slope, intercept = np.polyfit(np.log(n_neurons), np.log(n_patterns), 1)
    return float(slope), float(np.exp(intercept))
