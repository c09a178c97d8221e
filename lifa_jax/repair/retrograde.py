r"""Self-repair by retrograde endocannabinoid signalling through an astrocyte.

Wade, McDaid, Harkin, Crunelli & Kelso, "Self-repair in a bidirectionally
coupled astrocyte-neuron (AN) system based on retrograde signaling", Frontiers
in Computational Neuroscience 2012, with the parameters of the re-implementation
by Han, Islam & Sengupta (AAAI 2023).

Each postsynaptic spike of neuron $n$ releases 2-arachidonyl glycerol (2-AG).
Its 2-AG depresses the neuron's own synapses directly (depolarisation-induced
suppression of excitation, DSE) and, through the astrocyte's IP$_3$ and Ca$^{2+}$,
triggers glutamate release that potentiates every synapse of the astrocyte's
domain (e-SP). When most synapses of a neuron fail, its rate and its 2-AG fall,
so its DSE weakens while the shared e-SP stays, and the release probability of
its healthy synapses rises.

Continuous parts (times in ms, concentrations in uM):

$$\frac{dAG_n}{dt} = -\frac{AG_n}{\tau_{AG}}, \quad
  \mathrm{DSE}_n = K_{AG} AG_n$$

$$\frac{dIP_3}{dt} = \frac{IP_3^* - IP_3}{\tau_{IP_3}} + r_{IP_3} \sum_n AG_n$$

$$\frac{dCa}{dt} = J_\mathrm{chan} + J_\mathrm{leak} - J_\mathrm{pump}, \qquad
  \frac{dh}{dt} = a_2 \big(Q_2 (1 - h) - Ca\, h\big)$$

$$\frac{dGlu}{dt} = -\frac{Glu}{\tau_{Glu}}, \qquad
  \tau_{eSP} \frac{de}{dt} = -e + m_{eSP}\, Glu$$

with the Li-Rinzel calcium fluxes (Li & Rinzel, J. Theor. Biol. 1994)

$$J_\mathrm{chan} = r_C\, m_\infty^3 n_\infty^3 h^3 \big(c_0 - (1 + c_1) Ca\big), \quad
  J_\mathrm{leak} = r_L \big(c_0 - (1 + c_1) Ca\big), \quad
  J_\mathrm{pump} = \frac{v_{ER}\, Ca^2}{k_{ER}^2 + Ca^2}$$

$$m_\infty = \frac{IP_3}{IP_3 + d_1}, \quad n_\infty = \frac{Ca}{Ca + d_5}, \quad
  Q_2 = d_2 \frac{IP_3 + d_1}{IP_3 + d_3}$$

where $c_0 - (1 + c_1) Ca = c_1 (Ca_{ER} - Ca)$ with the ER calcium
$Ca_{ER} = (c_0 - Ca) / c_1$ from conservation of total calcium.

Events: a spike of neuron $n$ raises $AG_n$ by `ag_per_spike`; whenever
$Ca \ge$ `ca_threshold` and the last glutamate pulse lies at least
`pulse_interval` back, a pulse raises $Glu$ by `glu_per_pulse`. The release
probability of synapse $j$ of neuron $n$ is

$$PR_j = \mathrm{clip}\big(PR_j(0)\,(1 + (\mathrm{DSE}_n + e) / 100),\ 0,\ 1\big).$$

Units. The re-implementation adds $r_{AG}$ and $r_{Glu}$ (in uM/s) over one
1 ms step per spike or pulse; here those increments are parameters of their
own, $r_{AG} \times 1$ ms = 0.8 nM per spike and $r_{Glu} \times 1$ ms = 10 nM
per pulse, so the model does not depend on the step. Its neuron fires on
every release (one release moves the membrane 133 mV against a 9 mV threshold).
Here one release gives a subthreshold EPSP instead: the membrane is
dimensionless with threshold 1, and a release injects an exponential current
(`tau_syn`) whose charge is scaled so that the EPSP peaks at `epsp`.

Steady state and loop gain. A neuron firing steadily at rate $\nu$ has
$AG_n = \Delta_{AG} \tau_{AG} \nu$ (with $\Delta_{AG}$ = `ag_per_spike`), so
$\mathrm{DSE}_n = -k \nu$ with $k = |K_{AG}| \Delta_{AG} \tau_{AG}$ = 8 % per Hz
(`steady_dse_per_hz`). While calcium stays above threshold, glutamate pulses
come every `pulse_interval` and e-SP settles at
$E = m_{eSP} \Delta_{Glu} \tau_{Glu} / T_{pulse}$ = 183 % (`esp_plateau`). Every
release probability of the neuron is then $PR_j(0)\,F$ with
$F = 1 + (E - k\nu)/100$: a proportional feedback on the neuron's own rate.
If the neuron's rate grows linearly with the release rate, $\nu = \nu_0 F$ with
$\nu_0$ its rate at $PR(0)$, the loop gain is $g = k \nu_0 / 100$, and a fault
that leaves a fraction $s$ of the release capacity gives

$$\frac{\nu_\mathrm{after}}{\nu_\mathrm{before}} = \frac{s\,(1 + g)}{1 + s\,g}.$$

The rate therefore returns close to its pre-fault value only when $g \gg 1/s$,
that is when the synapses at $PR(0)$ could drive the neuron far above the rate
the loop holds (for $s$ = 0.3, $g$ = 20 gives 0.9). With 10 synapses at 20 Hz
and $PR(0)$ = 0.3 the neuron receives 60 releases/s, so even a neuron that
fires once on every release has $g \le 4.8$ and recovers to at most 0.71.

Why the stepping is fixed-step forward Euler at `dt` = 1 ms in one `lax.scan`:
release is stochastic on every step and spikes reset the neuron, so an
adaptive solver would restart on nearly every step. The fastest continuous time
scale is $\tau_{Glu}$ = 100 ms, so $dt/\tau \le 0.01$ and the first-order error
stays small (checked against Diffrax's `Tsit5` in the tests). A 400 s run of
two neurons (400,000 steps) took about 2 s of CPU time after compilation with
10 synapses per neuron and about 5 s with 80, on a shared 2-core CPU.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Bool, Float, Int, PRNGKeyArray

from ..dynamics import LIF, LIFState, lif_init, lif_step
from ..dynamics.base import check_non_negative, check_positive


class RetrogradeSignals(eqx.Module):
    """Continuous state of the astrocyte and the 2-AG of its neurons (uM, except `h` and `esp`).

    - `ag`: 2-AG of each neuron, shape `(neurons,)`.
    - `ip3`, `ca`: astrocyte IP3 and cytosolic Ca2+.
    - `h`: fraction of IP3 receptors not inactivated by Ca2+ (dimensionless).
    - `glu`: glutamate released by the astrocyte.
    - `esp`: e-SP, the shared potentiation (percent of the initial release probability).
    """

    ag: Float[Array, " neurons"]
    ip3: Float[Array, ""]
    ca: Float[Array, ""]
    h: Float[Array, ""]
    glu: Float[Array, ""]
    esp: Float[Array, ""]


class RetrogradeAstrocyte(eqx.Module):
    r"""Astrocyte of the astrocyte-neuron model with retrograde 2-AG signalling (Wade et al. 2012).

    Parameters carry the values of Han, Islam & Sengupta (AAAI 2023), converted
    to milliseconds; see the module docstring for the equations.

    **Arguments:**

    - `tau_ag` (ms), `ag_per_spike` (uM), `k_ag` (percent per uM): 2-AG decay,
      2-AG released per spike ($r_{AG}$ = 0.8 uM/s for 1 ms) and DSE gain.
    - `ip3_star` (uM), `tau_ip3` (ms), `r_ip3` (1/ms): IP3 baseline, decay and
      production per uM of 2-AG.
    - `r_c`, `r_l` (1/ms), `v_er` (uM/ms), `k_er`, `c0`, `d1`, `d2`, `d3`, `d5`
      (uM), `c1` (ER-to-cytosol volume ratio), `a2` (1/(uM ms)): Li-Rinzel
      constants.
    - `ca_threshold` (uM), `pulse_interval` (ms), `glu_per_pulse` (uM),
      `tau_glu` (ms): glutamate release when calcium is high, at most one pulse
      per interval.
    - `tau_esp` (ms), `m_esp` (percent per uM): e-SP time constant and gain.
    - `ca_initial` (uM), `h_initial`: calcium and receptor state at the start,
      close to rest at `ip3_star`.
    """

    tau_ag: float = 10_000.0
    ag_per_spike: float = 8e-4
    k_ag: float = -1000.0
    ip3_star: float = 0.16
    tau_ip3: float = 7_000.0
    r_ip3: float = 5e-4
    r_c: float = 6e-3
    r_l: float = 1.1e-4
    v_er: float = 8e-4
    k_er: float = 0.1
    c0: float = 2.0
    c1: float = 0.185
    d1: float = 0.13
    d2: float = 1.049
    d3: float = 0.9434
    d5: float = 0.08234
    a2: float = 2e-4
    ca_threshold: float = 0.3
    pulse_interval: float = 300.0
    glu_per_pulse: float = 0.01
    tau_glu: float = 100.0
    tau_esp: float = 40_000.0
    m_esp: float = 5.5e4
    ca_initial: float = 0.071
    h_initial: float = 0.78

    def __check_init__(self):
        for name in ("tau_ag", "tau_ip3", "tau_glu", "tau_esp", "c0", "c1", "d1", "d2", "d3", "d5", "k_er"):
            check_positive(name, getattr(self, name), "pass a positive value in the units of the docstring")
        for name in ("ag_per_spike", "r_ip3", "r_c", "r_l", "v_er", "a2", "glu_per_pulse", "pulse_interval"):
            check_non_negative(name, getattr(self, name), "pass a non-negative value in the units of the docstring")

    def initial_signals(self, n_neurons: int) -> RetrogradeSignals:
        """Return the state at the start: no 2-AG, glutamate or e-SP, IP3 at its baseline."""
        return RetrogradeSignals(
            ag=jnp.zeros((n_neurons,)),
            ip3=jnp.asarray(self.ip3_star, dtype=jnp.float32),
            ca=jnp.asarray(self.ca_initial, dtype=jnp.float32),
            h=jnp.asarray(self.h_initial, dtype=jnp.float32),
            glu=jnp.zeros(()),
            esp=jnp.zeros(()),
        )

    def vector_field(self, t, y: RetrogradeSignals, args) -> RetrogradeSignals:
        """Return the time derivative (per ms) of the continuous state between spikes and pulses."""
        del t, args
        m_inf = y.ip3 / (y.ip3 + self.d1)
        n_inf = y.ca / (y.ca + self.d5)
        er_gradient = self.c0 - (1.0 + self.c1) * y.ca
        j_chan = self.r_c * (m_inf * n_inf * y.h) ** 3 * er_gradient
        j_leak = self.r_l * er_gradient
        j_pump = self.v_er * y.ca**2 / (self.k_er**2 + y.ca**2)
        q2 = self.d2 * (y.ip3 + self.d1) / (y.ip3 + self.d3)
        return RetrogradeSignals(
            ag=-y.ag / self.tau_ag,
            ip3=(self.ip3_star - y.ip3) / self.tau_ip3 + self.r_ip3 * jnp.sum(y.ag),
            ca=j_chan + j_leak - j_pump,
            h=self.a2 * (q2 * (1.0 - y.h) - y.ca * y.h),
            glu=-y.glu / self.tau_glu,
            esp=(-y.esp + self.m_esp * y.glu) / self.tau_esp,
        )

    def step(self, t, y: RetrogradeSignals, dt: float) -> RetrogradeSignals:
        """Advance the continuous state by one forward-Euler step of `dt` (ms)."""
        dy = self.vector_field(t, y, None)
        return jax.tree.map(lambda value, rate: value + dt * rate, y, dy)

    def steady_dse_per_hz(self) -> Float[Array, ""]:
        r"""Return the steady-state DSE (percent) per Hz of firing rate, $K_{AG}\,\Delta_{AG}\,\tau_{AG}$ / 1000 ms.

        2-AG settles at `ag_per_spike` $\times$ `tau_ag` $\times \nu$ for a
        neuron firing at $\nu$, so its DSE is this value times $\nu$ in Hz
        (-8 % per Hz with the defaults).
        """
        return jnp.asarray(self.k_ag * self.ag_per_spike * self.tau_ag / 1000.0)

    def esp_plateau(self) -> Float[Array, ""]:
        r"""Return the mean e-SP (percent) while a glutamate pulse comes every `pulse_interval`.

        Each pulse adds `glu_per_pulse` $\times$ `tau_glu` of glutamate
        integrated over time, so e-SP settles at
        $m_{eSP}\,\Delta_{Glu}\,\tau_{Glu} / T_{pulse}$ (183 % with the defaults).
        """
        return jnp.asarray(self.m_esp * self.glu_per_pulse * self.tau_glu / self.pulse_interval)

    def dse(self, y: RetrogradeSignals) -> Float[Array, " neurons"]:
        """Return each neuron's DSE, $K_{AG} AG_n$ (percent; negative)."""
        return self.k_ag * y.ag

    def release_probability(
        self, initial: Float[Array, "neurons synapses"], y: RetrogradeSignals
    ) -> Float[Array, "neurons synapses"]:
        r"""Return $PR_j = \mathrm{clip}(PR_j(0)(1 + (\mathrm{DSE}_n + e)/100), 0, 1)$ for every synapse."""
        modulation = 1.0 + (self.dse(y)[:, None] + y.esp) / 100.0
        return jnp.clip(initial * modulation, 0.0, 1.0)


class RetrogradeCircuit(eqx.Module):
    """Neurons with stochastic synapses, all enwrapped by one retrograde astrocyte.

    Every synapse receives its own Poisson spike train at `input_rate`. On a
    presynaptic spike it releases with its release probability, and each
    release injects an exponential current into its neuron.

    **Arguments:**

    - `astrocyte`: the `RetrogradeAstrocyte`.
    - `neuron`: `LIF` parameters of the postsynaptic neurons (membrane
      dimensionless, threshold 1). The default takes the 60 ms membrane time
      constant and 2 ms refractory period of Wade et al.
    - `epsp`: peak of the EPSP one release causes at rest (threshold units);
      below 1 a single release does not fire the neuron.
    - `tau_syn`: decay time constant of the synaptic current (ms).
    - `input_rate`: presynaptic Poisson rate of each synapse (Hz).
    - `dt`: step (ms).
    """

    astrocyte: RetrogradeAstrocyte = RetrogradeAstrocyte()
    neuron: LIF = LIF(tau_n=60.0, t_ref=2.0)
    epsp: float = 0.8
    tau_syn: float = 5.0
    input_rate: float = 20.0
    dt: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        check_positive("epsp", self.epsp, "pass the peak EPSP of one release in threshold units, such as 0.8")
        check_positive("tau_syn", self.tau_syn, "pass a synaptic time constant in ms")
        check_non_negative("input_rate", self.input_rate, "pass a presynaptic rate in Hz")
        check_positive("dt", self.dt, "pass a step in ms")
        if isinstance(self.input_rate, int | float) and self.input_rate * self.dt / 1000.0 > 1.0:
            raise ValueError(
                f"input_rate * dt / 1000 = {self.input_rate * self.dt / 1000.0:g} exceeds 1 "
                f"(input_rate={self.input_rate} Hz, dt={self.dt} ms); lower input_rate or dt."
            )

    def release_charge(self) -> Float[Array, ""]:
        r"""Return the current jump per release that makes the EPSP peak at `epsp`.

        With the synaptic current decaying by $s = e^{-\Delta t/\tau_s}$ and the
        membrane by $d = e^{-\Delta t/\tau_n}$ per step, a unit jump gives the
        membrane, $n$ steps later (the jump's own step counts as 1),

        $$V_n = R (1 - d) \sum_{i=0}^{n-1} d^{n-1-i} s^i = R (1 - d) \frac{d^n - s^n}{d - s}$$

        ($R(1-d)\,n\,d^{n-1}$ when $d = s$). $V_n$ rises then falls, so its
        maximum over whole steps lies at the floor or the ceiling of the real
        maximiser $n^* = \ln(\tau_n/\tau_s) / (\Delta t/\tau_s - \Delta t/\tau_n)$.
        """
        tau_n = jnp.asarray(self.neuron.tau_n, dtype=jnp.float32)
        tau_s = jnp.asarray(self.tau_syn, dtype=jnp.float32)
        d = jnp.exp(-self.dt / tau_n)
        s = jnp.exp(-self.dt / tau_s)
        equal = jnp.abs(tau_n - tau_s) < 1e-6 * tau_n

        rate_gap = jnp.where(equal, 1.0, self.dt / tau_s - self.dt / tau_n)
        n_star = jnp.where(equal, tau_n / self.dt, jnp.log(tau_n / tau_s) / rate_gap)
        n = jnp.maximum(jnp.stack([jnp.floor(n_star), jnp.ceil(n_star)]), 1.0)

        gap = jnp.where(equal, 1.0, d - s)
        kernel = jnp.where(equal, n * d ** (n - 1.0), (d**n - s**n) / gap)
        peak = self.neuron.resistance * (1.0 - d) * jnp.max(kernel)
        return self.epsp / peak


class RetrogradeResult(eqx.Module):
    """Record of a retrograde-repair run, one row per bin of `bin_ms`.

    - `time`: end of each bin (ms), shape `(bins,)`.
    - `rate`: firing rate of each neuron over the bin (Hz), shape `(bins, neurons)`.
    - `release_probability`: at the end of each bin, `(bins, neurons, synapses)`.
    - `dse`: DSE of each neuron at the end of each bin (percent), `(bins, neurons)`.
    - `esp`: e-SP at the end of each bin (percent), `(bins,)`.
    - `ip3`: IP3 at the end of each bin (uM), `(bins,)`.
    - `calcium`: mean Ca2+ over the bin (uM), `(bins,)`.
    - `pulses`: glutamate pulses during the bin, `(bins,)`.
    """

    time: Float[Array, " bins"]
    rate: Float[Array, "bins neurons"]
    release_probability: Float[Array, "bins neurons synapses"]
    dse: Float[Array, "bins neurons"]
    esp: Float[Array, " bins"]
    ip3: Float[Array, " bins"]
    calcium: Float[Array, " bins"]
    pulses: Int[Array, " bins"]

    def window_rate(self, start_ms: float, end_ms: float) -> Float[Array, " neurons"]:
        """Return each neuron's mean rate (Hz) over the bins ending in `(start_ms, end_ms]`."""
        inside = (self.time > start_ms) & (self.time <= end_ms)
        if not bool(jnp.any(inside)):
            raise ValueError(
                f"no bin ends in ({start_ms}, {end_ms}] ms; the record covers "
                f"{float(self.time[0])} to {float(self.time[-1])} ms."
            )
        return jnp.sum(self.rate * inside[:, None], axis=0) / jnp.sum(inside)


class _Carry(eqx.Module):
    neurons: LIFState
    current: Float[Array, " neurons"]
    signals: RetrogradeSignals
    last_pulse: Float[Array, ""]
    step: Int[Array, ""]


def simulate_retrograde(
    circuit: RetrogradeCircuit,
    initial_release: Float[Array, "neurons synapses"],
    duration_ms: float,
    *,
    key: PRNGKeyArray,
    faulty: Bool[Array, "neurons synapses"] | None = None,
    fault_time_ms: float = math.inf,
    repair: bool = True,
    bin_ms: float = 1000.0,
) -> RetrogradeResult:
    """Simulate neurons sharing one retrograde astrocyte, with synapses that fail at `fault_time_ms`.

    Each step of `circuit.dt` runs five stages:

    1. draw releases: a presynaptic Poisson spike and a release with probability
       $PR_j$, decided by one uniform number per synapse;
    2. update the synaptic currents and the neurons (`lif_step`);
    3. add 2-AG for each spike;
    4. advance the astrocyte by one Euler step;
    5. emit a glutamate pulse when calcium is at or above threshold and the
       last pulse is at least `pulse_interval` old.

    **Arguments:**

    - `circuit`: the `RetrogradeCircuit`.
    - `initial_release`: $PR_j(0)$, shape `(neurons, synapses)`, values in [0, 1].
    - `duration_ms`: simulated time (ms), a whole number of bins.
    - `key`: a JAX PRNG key; the same key gives the same run.
    - `faulty`: synapses whose release probability is 0 from `fault_time_ms` on
      (stuck at zero), shape `(neurons, synapses)`.
    - `fault_time_ms`: when the faults start (ms).
    - `repair`: with False, every release probability stays at $PR_j(0)$ (no
      retrograde modulation), the baseline without astrocyte repair. The
      astrocyte's signals are still simulated and recorded.
    - `bin_ms`: width of a recorded bin (ms), a whole number of steps.

    **Returns:** a `RetrogradeResult`.
    """
    initial_release = jnp.asarray(initial_release, dtype=jnp.float32)
    if initial_release.ndim != 2:
        raise ValueError(f"initial_release must have shape (neurons, synapses), got {initial_release.shape}.")
    if not isinstance(initial_release, jax.core.Tracer) and not bool(
        jnp.all((initial_release >= 0) & (initial_release <= 1))
    ):
        raise ValueError(
            "initial_release must lie in [0, 1]; pass release probabilities, such as 0.3 for every synapse."
        )
    faulty = jnp.zeros(initial_release.shape, dtype=bool) if faulty is None else jnp.asarray(faulty, dtype=bool)
    if faulty.shape != initial_release.shape:
        raise ValueError(f"faulty must have the shape of initial_release {initial_release.shape}, got {faulty.shape}.")
    steps_per_bin = round(bin_ms / circuit.dt)
    n_bins = round(duration_ms / bin_ms)
    if steps_per_bin < 1 or abs(steps_per_bin * circuit.dt - bin_ms) > 1e-9 * bin_ms:
        raise ValueError(
            f"bin_ms={bin_ms} must be a whole number of steps of dt={circuit.dt} ms; pass a multiple of dt."
        )
    if n_bins < 1 or abs(n_bins * bin_ms - duration_ms) > 1e-9 * duration_ms:
        raise ValueError(
            f"duration_ms={duration_ms} must be a whole number of bins of {bin_ms} ms; pass a multiple of bin_ms."
        )

    # Numbers become arrays, so one compilation serves every parameter value.
    circuit = jax.tree.map(lambda leaf: jnp.asarray(leaf, dtype=jnp.float32), circuit)
    fault_time = jnp.float32(fault_time_ms)
    return _simulate(circuit, initial_release, faulty, fault_time, jnp.bool_(repair), key, steps_per_bin, n_bins)


@eqx.filter_jit
def _simulate(circuit, initial_release, faulty, fault_time, repair, key, steps_per_bin, n_bins):
    astrocyte, dt = circuit.astrocyte, circuit.dt
    n_neurons, n_synapses = initial_release.shape
    release_per_spike = circuit.input_rate * dt / 1000.0
    current_decay = jnp.exp(-dt / circuit.tau_syn)
    charge = circuit.release_charge()

    def one_step(carry: _Carry, uniform):
        t = carry.step * dt
        faulted = t >= fault_time
        modulated = astrocyte.release_probability(initial_release, carry.signals)
        probability = jnp.where(repair, modulated, initial_release)
        probability = jnp.where(faulty & faulted, 0.0, probability)

        releases = jnp.sum(uniform < release_per_spike * probability, axis=1)
        current = carry.current * current_decay + charge * releases
        neurons, spikes = lif_step(circuit.neuron, carry.neurons, current, dt)

        signals = astrocyte.step(t, carry.signals, dt)
        signals = eqx.tree_at(lambda s: s.ag, signals, signals.ag + astrocyte.ag_per_spike * spikes)
        pulse = (signals.ca >= astrocyte.ca_threshold) & (t + dt - carry.last_pulse >= astrocyte.pulse_interval)
        signals = eqx.tree_at(lambda s: s.glu, signals, signals.glu + astrocyte.glu_per_pulse * pulse)
        last_pulse = jnp.where(pulse, t + dt, carry.last_pulse)

        new = _Carry(neurons, current, signals, last_pulse, carry.step + 1)
        return new, (spikes, signals.ca, pulse, probability)

    def one_bin(carry: _Carry, bin_key):
        uniforms = jax.random.uniform(bin_key, (steps_per_bin, n_neurons, n_synapses))
        carry, (spikes, calcium, pulses, probability) = jax.lax.scan(one_step, carry, uniforms)
        record = (
            jnp.sum(spikes, axis=0) * 1000.0 / (steps_per_bin * dt),
            probability[-1],
            astrocyte.dse(carry.signals),
            carry.signals.esp,
            carry.signals.ip3,
            jnp.mean(calcium),
            jnp.sum(pulses),
        )
        return carry, record

    carry = _Carry(
        neurons=lif_init(circuit.neuron, (n_neurons,)),
        current=jnp.zeros((n_neurons,)),
        signals=astrocyte.initial_signals(n_neurons),
        last_pulse=jnp.float32(-jnp.inf),
        step=jnp.int32(0),
    )
    _, (rate, probability, dse, esp, ip3, calcium, pulses) = jax.lax.scan(one_bin, carry, jax.random.split(key, n_bins))
    time = (jnp.arange(n_bins) + 1) * steps_per_bin * dt
    return RetrogradeResult(
        time=time.astype(jnp.float32),
        rate=rate,
        release_probability=probability,
        dse=dse,
        esp=esp,
        ip3=ip3,
        calcium=calcium,
        pulses=pulses.astype(jnp.int32),
    )
