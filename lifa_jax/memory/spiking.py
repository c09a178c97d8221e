"""Spiking Hopfield memory: LIF neurons, LIFA astrocytes, faults and homeostatic repair."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray

from ..dynamics import (
    LIF,
    LIFA,
    Gliotransmitter,
    TripartiteCoupling,
    astrocyte_init,
    astrocyte_step,
    lif_init,
    lif_step,
)
from .base import check_fraction, check_patterns, check_positive_int
from .faults import AbstractFault, sample_death_masks
from .hopfield import Hebbian, HopfieldNetwork
from .quality import flip_mask, recall_quality


def contiguous_domains(n_neurons: int, n_astrocytes: int) -> np.ndarray:
    """Return the astrocyte index of every neuron: `n_astrocytes` contiguous blocks of near-equal size."""
    return (np.arange(n_neurons) * n_astrocytes) // n_neurons


class Homeostasis(eqx.Module):
    r"""Per-neuron homeostatic repair by the astrocyte of each neuron's domain.

    After a fault, the network runs `n_passes` passes over an adaptation stream.
    After each pass, every living neuron $i$ with a positive set-point scales the
    efficacy of its incoming synapses:

    $$g_i \leftarrow \operatorname{clip}\left(g_i \left(1 + \eta\,
      \frac{r^*_i - r_i}{r^*_i}\right), g_\mathrm{min}, g_\mathrm{max}\right)$$

    with $r^*_i$ the neuron's fault-free rate on a calibration stream and $r_i$ its
    rate in the pass. Dead neurons are not revived. The biology is glia-mediated
    synaptic scaling (Stellwagen & Malenka, "Synaptic scaling mediated by glial
    TNF-alpha", Nature 2006).

    **Arguments:**

    - `eta`: step size per pass (dimensionless).
    - `gain_min`, `gain_max`: clip bounds of the gains.
    - `n_passes`: adaptation passes (static).
    """

    eta: float = 0.5
    gain_min: float = 0.25
    gain_max: float = 4.0
    n_passes: int = eqx.field(static=True, default=10)

    def __check_init__(self):
        check_positive_int("n_passes", self.n_passes, "pass the number of adaptation passes, e.g. 10")
        if isinstance(self.eta, float | int) and not self.eta > 0:
            raise ValueError(f"eta must be positive, got {self.eta!r}; pass a step size such as 0.5.")
        if isinstance(self.gain_min, float | int) and isinstance(self.gain_max, float | int):
            if not 0 < self.gain_min <= 1 <= self.gain_max:
                raise ValueError(
                    f"gain bounds must satisfy 0 < gain_min <= 1 <= gain_max, got "
                    f"gain_min={self.gain_min!r}, gain_max={self.gain_max!r}; use e.g. 0.25 and 4."
                )


class SpikingRecall(eqx.Module):
    """Outcome of one spiking recall.

    **Fields:**

    - `state`: +1 for neurons that spiked in the readout window, else -1.
    - `rates`: firing rate of every neuron in the readout window (Hz).
    - `releases`: gliotransmitter releases of every astrocyte during the recall.
    """

    state: Float[Array, " neurons"]
    rates: Float[Array, " neurons"]
    releases: Float[Array, " astrocytes"]


class SpikingHopfield(eqx.Module):
    r"""Hopfield memory run by LIF neurons, with LIFA astrocytes on contiguous domains.

    Pattern bit $+1$ is a firing neuron, $-1$ a silent one. Each step of `dt`,

    $$I_i = I_\mathrm{bias} + c_i(t) + J\, g_i\, \frac{p_{a(i)}}{p_0}
            \sum_j W_{ij} \left(z_j - \bar z\right)$$

    drives `lif_step`, where $z_j$ is neuron $j$'s saturating synaptic trace
    ($\tau_\mathrm{syn} \dot z = -z$, set to 1 by each spike, so fast and slow
    firing neurons both count about as "on"), $\bar z$ the trace
    averaged over all neurons (a global inhibition that removes the mean drive),
    $W$ the Hebbian weights, $g_i$ the repair gain (1 without repair),
    $p_{a(i)}/p_0 = 1 + \alpha G_{a(i)}/p_0$ the tripartite coupling of neuron
    $i$'s astrocyte and $c_i(t) = I_\mathrm{cue} (1 + \mathrm{cue}_i)/2$ during the
    first `t_cue` ms, 0 afterwards. Each astrocyte integrates its domain's spikes
    with `astrocyte_step`. The recalled state is read from the last `t_readout` ms:
    +1 for a neuron with at least one spike. Dead neurons never spike.

    **Arguments:**

    - `neuron`, `astrocyte`, `gliotransmitter`, `coupling`: the LIFA circuit.
    - `n_astrocytes`: number of astrocytes, each on a contiguous block of neurons.
    - `dt`: step (ms); `t_cue`, `t_recall`, `t_readout`: cue period, free-running
      period after it, and the readout window at its end (ms). These are static.
    - `tau_syn`: synaptic trace time constant (ms). It must outlast the
      interspike interval, or the trace decays between spikes and the activity
      dies once the cue ends.
    - `bias`: constant input current (threshold is 1): below 1 a neuron needs
      recurrent drive to fire.
    - `cue_current`: extra current into neurons whose cue bit is +1.
    - `recurrent_gain`: $J$. Measured with the other defaults: at $J = 1$ some
      recalls settle on part of the pattern, at $J = 2$ all recalls of 5-10 stored
      patterns in 64-200 neurons were perfect.
    """

    neuron: LIF = LIF(tau_n=10.0, t_ref=2.0)
    astrocyte: LIFA = LIFA()
    gliotransmitter: Gliotransmitter = Gliotransmitter()
    coupling: TripartiteCoupling = TripartiteCoupling()
    n_astrocytes: int = eqx.field(static=True, default=4)
    dt: float = eqx.field(static=True, default=1.0)
    t_cue: float = eqx.field(static=True, default=20.0)
    t_recall: float = eqx.field(static=True, default=60.0)
    t_readout: float = eqx.field(static=True, default=30.0)
    tau_syn: float = 40.0
    bias: float = 0.8
    cue_current: float = 1.0
    recurrent_gain: float = 2.0

    def __check_init__(self):
        check_positive_int("n_astrocytes", self.n_astrocytes, "pass the number of astrocytes, e.g. 4")
        for name in ("dt", "t_cue", "t_recall", "t_readout"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}; pass a duration in ms.")
        if self.t_readout > self.t_recall:
            raise ValueError(
                f"t_readout ({self.t_readout!r} ms) must not exceed t_recall ({self.t_recall!r} ms); "
                "shorten the readout window."
            )

    @property
    def n_steps(self) -> int:
        """Steps of one recall (cue plus free-running period)."""
        return round((self.t_cue + self.t_recall) / self.dt)

    def simulate(
        self,
        weights: Float[Array, "neurons neurons"],
        cue: Float[Array, " neurons"],
        gains: Float[Array, " neurons"],
        alive: Float[Array, " neurons"],
    ) -> SpikingRecall:
        """Run one recall from `cue` with repair `gains` and living-neuron mask `alive`.

        `weights` (shape `(neurons, neurons)`, row $i$ onto neuron $i$) already
        carries any dead synapses as zeros.
        """
        n = cue.shape[0]
        domain = jnp.asarray(contiguous_domains(n, self.n_astrocytes))
        cue_steps = round(self.t_cue / self.dt)
        readout_start = self.n_steps - round(self.t_readout / self.dt)
        cue_drive = self.cue_current * (1.0 + cue) / 2.0
        decay = jnp.exp(-self.dt / self.tau_syn)

        def step(carry, t):
            neurons, astrocytes, trace, counts, releases = carry
            efficacy = gains * self.coupling.scale(astrocytes.g[domain])
            recurrent = self.recurrent_gain * efficacy * (weights @ (trace - jnp.mean(trace)))
            current = self.bias + jnp.where(t < cue_steps, cue_drive, 0.0) + recurrent
            neurons, spikes = lif_step(self.neuron, neurons, current, self.dt)
            spikes = spikes * alive
            trace = jnp.where(spikes > 0, 1.0, trace * decay)
            domain_spikes = jax.ops.segment_sum(spikes, domain, num_segments=self.n_astrocytes)
            astrocytes, released = astrocyte_step(
                self.astrocyte, self.gliotransmitter, astrocytes, domain_spikes, self.dt
            )
            counts = counts + jnp.where(t >= readout_start, spikes, 0.0)
            return (neurons, astrocytes, trace, counts, releases + released), None

        start = (
            lif_init(self.neuron, (n,)),
            astrocyte_init(self.astrocyte, (self.n_astrocytes,)),
            jnp.zeros(n),
            jnp.zeros(n),
            jnp.zeros(self.n_astrocytes),
        )
        (_, _, _, counts, releases), _ = jax.lax.scan(step, start, jnp.arange(self.n_steps))
        return SpikingRecall(
            state=jnp.where(counts > 0, 1.0, -1.0),
            rates=counts * 1000.0 / self.t_readout,
            releases=releases,
        )


def homeostatic_update(
    gains: Float[Array, " neurons"],
    rates: Float[Array, " neurons"],
    set_points: Float[Array, " neurons"],
    alive: Float[Array, " neurons"],
    homeostasis: Homeostasis,
) -> Float[Array, " neurons"]:
    """Apply one repair pass of `homeostasis` to `gains` (living neurons with set-point > 0)."""
    adapts = (alive > 0) & (set_points > 0)
    safe_set_points = jnp.where(set_points > 0, set_points, 1.0)
    factor = 1.0 + homeostasis.eta * (set_points - rates) / safe_set_points
    updated = jnp.clip(gains * factor, homeostasis.gain_min, homeostasis.gain_max)
    return jnp.where(adapts, updated, gains)


class FaultRecall(eqx.Module):
    """Recall quality of a spiking memory under one fault kind, per mask.

    All three qualities use the same test cues; the faulty and repaired ones use
    the same mask.

    **Fields:**

    - `fault_free`: mean recall quality without faults (scalar, higher is better).
    - `faulty`: mean quality under each mask without repair, shape `(masks,)`.
    - `repaired`: mean quality under each mask after homeostatic repair.
    - `gains`: repair gains per mask and neuron, shape `(masks, neurons)`.
    """

    fault_free: Float[Array, ""]
    faulty: Float[Array, " masks"]
    repaired: Float[Array, " masks"]
    gains: Float[Array, "masks neurons"]


def _noisy_cues(patterns, uniform, cue_noise):
    """Pick stored patterns and flip round(cue_noise * N) bits of each, from uniform draws.

    `uniform` has shape `(cues, neurons + 1)`: the first column picks the pattern.
    """
    n_patterns, n = patterns.shape
    picks = jnp.minimum(jnp.floor(uniform[:, 0] * n_patterns), n_patterns - 1).astype(jnp.int32)
    targets = patterns[picks]
    flips = jax.vmap(lambda u: flip_mask(u, jnp.round(cue_noise * n)))(uniform[:, 1:])
    return targets, jnp.where(flips, -targets, targets)


@eqx.filter_jit
def _fault_campaign(model, homeostasis, weights, patterns, rates, cue_noise, n_test, n_adapt, n_masks, key):
    # Both fault kinds share this compiled program: their rates are traced inputs.
    # The recall simulation appears at only two call sites (fault-free run and the
    # per-mask pass loop), because each site adds a full copy of the time loop to
    # the program and compile time grows with the copies.
    n = patterns.shape[1]
    cue_key, mask_key = jax.random.split(key)
    uniform = jax.random.uniform(cue_key, (n_test + n_adapt, n + 1))
    test_targets, test_cues = _noisy_cues(patterns, uniform[:n_test], cue_noise)
    # The set-points are measured on the adaptation stream itself, run fault-free,
    # so repair leaves a fault-free network unchanged.
    _, adapt_cues = _noisy_cues(patterns, uniform[n_test:], cue_noise)
    ones = jnp.ones(n)

    def run(w, cues, gains, alive):
        recalls = jax.vmap(lambda c: model.simulate(w, c, gains, alive))(cues)
        rates = jnp.mean(recalls.rates[:n_adapt], axis=0)
        quality = jnp.mean(jax.vmap(recall_quality)(test_targets, recalls.state[n_adapt:]))
        return rates, quality

    adapt_and_test = jnp.concatenate([adapt_cues, test_cues])
    set_points, fault_free = run(weights, adapt_and_test, ones, ones)

    def one_mask(k):
        alive, synapse_keep = sample_death_masks(n, rates[0], rates[1], key=k)
        w = weights * synapse_keep

        # Pass 0 runs with unit gains (the faulty network); passes 1..n_passes
        # each run with the gains updated after the pass before.
        def one_pass(p, carry):
            gains, _, faulty, _ = carry
            pass_rates, quality = run(w, adapt_and_test, gains, alive)
            faulty = jnp.where(p == 0, quality, faulty)
            return homeostatic_update(gains, pass_rates, set_points, alive, homeostasis), gains, faulty, quality

        start = (ones, ones, jnp.float32(0.0), jnp.float32(0.0))
        _, used_gains, faulty, repaired = jax.lax.fori_loop(0, homeostasis.n_passes + 1, one_pass, start)
        return faulty, repaired, used_gains

    faulty, repaired, gains = jax.vmap(one_mask)(jax.random.split(mask_key, n_masks))
    return FaultRecall(fault_free=fault_free, faulty=faulty, repaired=repaired, gains=gains)


def recall_under_faults(
    model: SpikingHopfield,
    patterns: Float[Array, "patterns neurons"],
    fault: AbstractFault,
    *,
    key: PRNGKeyArray,
    homeostasis: Homeostasis = Homeostasis(),
    n_masks: int = 8,
    cue_noise: float = 0.1,
    n_test_cues: int = 16,
    n_adapt_cues: int = 8,
) -> FaultRecall:
    """Measure spiking recall quality under `fault` with and without astrocyte repair.

    Stores `patterns` with the Hebbian rule, draws `n_masks` fault masks from
    `key` (vmapped) and, for each, measures recall quality on the same test cues
    without repair and after `homeostasis`. Set-points are the fault-free rates on
    an adaptation stream, and repair runs on the same stream. Both that stream and
    the separate test cues are stored patterns with round(cue_noise * N) flipped
    bits.

    **Arguments:**

    - `model`: the `SpikingHopfield` configuration.
    - `patterns`: stored patterns, shape `(patterns, neurons)`, entries in {-1, +1}.
    - `fault`: `NeuronDeath(rate)` or `SynapseDeath(rate)`.
    - `key`: source of cues and masks.
    - `homeostasis`: the repair rule.
    - `n_masks`, `n_test_cues`, `n_adapt_cues`: sample sizes.
    - `cue_noise`: fraction of flipped cue bits, in [0, 1].

    **Returns:** a `FaultRecall`.
    """
    check_patterns(patterns)
    check_fraction("cue_noise", cue_noise, "pass the share of cue bits to flip, e.g. 0.1")
    for name, value in (("n_masks", n_masks), ("n_test_cues", n_test_cues), ("n_adapt_cues", n_adapt_cues)):
        check_positive_int(name, value, "pass a positive sample size")
    patterns = jnp.asarray(patterns, dtype=jnp.float32)
    weights = HopfieldNetwork.store(patterns, rule=Hebbian()).weights
    return _fault_campaign(
        model,
        homeostasis,
        weights,
        patterns,
        jnp.asarray(fault.rates, dtype=jnp.float32),
        jnp.float32(cue_noise),
        n_test_cues,
        n_adapt_cues,
        n_masks,
        key,
    )
