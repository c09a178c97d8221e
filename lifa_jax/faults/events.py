r"""Event-driven fault sweeps on the CPU for sparse synapse faults.

A hidden layer's input is a sum of weight rows selected by binary spikes,
$I_j = \sum_{i:\,s_i = 1} W_{ij}$. A dense product pays for every presynaptic
neuron. An event-driven product pays only for those that fired, so its cost
follows the spike density (5 to 10 % in the deep layers of the 1024-768-2048-512-100
benchmark network). XLA's gathers and scatters are slow on a CPU, so this engine runs its
inner loops as Numba kernels instead of XLA programs, and is therefore a CPU
engine that runs outside `jit`.

For each mask the engine reuses the golden (fault-free) run, as concurrent fault
simulation does (Ulrich & Baker, "Concurrent simulation of nearly identical
digital networks", IEEE Computer 1974), and chooses per layer the cheaper of two
exact forms of the faulty input:

- differential: $I_f = I_\mathrm{golden} + W_f^\top \delta s + \delta W^\top s$,
  where $s$ are the golden presynaptic spikes, $\delta s \in \{-1, 0, 1\}$ the
  changed ones, $W_f = W + \delta W$ the faulty weights; it costs one weight row
  per changed spike;
- direct: $I_f = W_f^\top (s + \delta s)$, one weight row per faulty spike.

The input layer's spikes never change, so its input is always differential. The
products run over blocks of 128 postsynaptic neurons, whose weights (with the
mask's faulty values written in) stay in the core's cache while every sample and
step is summed. The neuron and astrocyte dynamics then run per sample, as in
`simulate`, with the same floating-point operations in the same order.

Sums run in another order than XLA's dense product, so a membrane within
rounding error of threshold can fire in one path and not the other. The engine
agrees with the dense path on spikes, not bit for bit on membranes, as the
differential engine does.

Masks whose faulty weights are infinite or NaN (float32 bit flips) are evaluated
with the dense path, which defines what non-finite values do, and are flagged
`STATUS_DENSE_FALLBACK`.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numba
import numpy as np
from jaxtyping import Array, Int, PRNGKeyArray

from ..dynamics import SubtractReset, ZeroReset, refractory_steps
from ..network import DenseProjection, SpikingNetwork
from .differential import (
    SUPPORTED_FAULTS,
    GoldenRun,
    _check_spikes,
    _predictions,
    draw_sparse_faults,
    golden_run,
    sparse_fault_capacity,
    to_network_faults,
)
from .specs import AbstractFault, Transient
from .sweep import STATUS_DENSE_FALLBACK, STATUS_OVERFLOW, AbstractEngine, MaskResult, evaluate_mask

# The event-driven product sums blocks of 128 postsynaptic neurons. On a 2-core
# AVX2 machine, 128 ran 1.2 to 2 times faster than 32 or 64 on layers of 768 and
# 2,048 presynaptic neurons, because the per-row overhead outweighs the smaller
# blocks' better cache use.
_BLOCK = 128


# A faulty weight whose change exceeds this multiple of the layer's largest weight
# makes the layer take the direct form.
_LARGE = 1024.0


# ---------------------------------------------------------------------------
# Kernels. Spike arrays are uint8 of shape (rows, neurons), rows = samples * steps,
# sample-major; currents are float32 of shape (rows, neurons).


@numba.njit(parallel=True, cache=True)
def _row_lists(spikes, golden, fired, changed, direct):  # pragma: no cover - compiled
    """Return CSR lists of each row's changed spikes or, if `direct` or longer, of its spikes.

    `fired[r + 1]` and `changed[r + 1]` are row `r`'s counts, from `_dynamics`.
    Row `r`'s entries `index[ptr[r]:middle[r]]` enter with sign +1 (new spikes)
    and `index[middle[r]:ptr[r + 1]]` with sign -1 (lost spikes).
    """
    rows, n = spikes.shape
    fired_ptr = np.cumsum(fired)
    changed_ptr = np.cumsum(changed)
    use_changed = changed_ptr[rows] < fired_ptr[rows] and not direct
    ptr = changed_ptr if use_changed else fired_ptr
    index = np.empty(ptr[rows], np.int32)
    middle = np.empty(rows, np.int64)
    for r in numba.prange(rows):
        front = ptr[r]
        back = ptr[r + 1]
        for i in range(n):
            s = spikes[r, i]
            if use_changed:
                if s != golden[r, i]:
                    if s:
                        index[front] = i
                        front += 1
                    else:
                        back -= 1
                        index[back] = i
            elif s:
                index[front] = i
                front += 1
        middle[r] = front
    return use_changed, ptr, middle, index


@numba.njit(parallel=True, cache=True)
def _block_product(
    ptr, middle, index, weights, fault_pre, fault_post, fault_value, init, out, width_max
):  # pragma: no cover
    """Write `init + sum W_f[i, :]` over each row's +1 entries, minus the sum over its -1 entries, into `out`.

    `W_f` is `weights` with `fault_value` written at `(fault_pre, fault_post)`;
    an `init` with no rows stands for zeros. See `_row_lists` for the lists.
    """
    rows = ptr.shape[0] - 1
    n_pre, n_post = weights.shape
    n_blocks = (n_post + width_max - 1) // width_max
    accumulate = init.shape[0] > 0
    for block in numba.prange(n_blocks):
        j0 = block * width_max
        width = min(j0 + width_max, n_post) - j0
        w = np.empty((n_pre, width), np.float32)
        for i in range(n_pre):
            for j in range(width):
                w[i, j] = weights[i, j0 + j]
        for k in range(fault_pre.shape[0]):
            q = fault_post[k] - j0
            if 0 <= q < width:
                w[fault_pre[k], q] = fault_value[k]
        acc = np.empty(width, np.float32)
        for r in range(rows):
            if accumulate:
                for j in range(width):
                    acc[j] = init[r, j0 + j]
            else:
                for j in range(width):
                    acc[j] = 0.0
            # Four rows per pass keep the loop vectorised and halve the accumulator traffic.
            k = ptr[r]
            end = middle[r]
            while k + 4 <= end:
                i0, i1, i2, i3 = index[k], index[k + 1], index[k + 2], index[k + 3]
                for j in range(width):
                    acc[j] += (w[i0, j] + w[i1, j]) + (w[i2, j] + w[i3, j])
                k += 4
            while k < end:
                i0 = index[k]
                for j in range(width):
                    acc[j] += w[i0, j]
                k += 1
            end = ptr[r + 1]
            while k + 4 <= end:
                i0, i1, i2, i3 = index[k], index[k + 1], index[k + 2], index[k + 3]
                for j in range(width):
                    acc[j] -= (w[i0, j] + w[i1, j]) + (w[i2, j] + w[i3, j])
                k += 4
            while k < end:
                i0 = index[k]
                for j in range(width):
                    acc[j] -= w[i0, j]
                k += 1
            for j in range(width):
                out[r, j0 + j] = acc[j]


@numba.njit(parallel=True, cache=True)
def _dynamics(
    synaptic,
    fault_pre,
    fault_post,
    fault_delta,
    presynaptic,
    domain,
    domain_start,
    domain_stop,
    n_astro,
    neuron,
    astro,
    steps,
    spikes_out,
    golden_out,
    fired,
    changed,
    membrane_sum,
    last,
):  # pragma: no cover - compiled
    """Run one layer's LIF neurons and LIFA astrocytes, as `simulate` does, on rows of `synaptic`.

    Before the dynamics, `fault_delta[k]` is added to neuron `fault_post[k]`'s
    input on every row where `presynaptic[:, fault_pre[k]]` fired. Writes the
    spikes, each row's spike count into `fired[r + 1]` and, when `golden_out`
    has rows, its count of spikes that differ from it into `changed[r + 1]`.
    When every astrocyte's domain is one contiguous range of neurons,
    `domain_start` and `domain_stop` hold the ranges (else they are empty).
    """
    rows, n = synaptic.shape
    samples = rows // steps
    v_rest, v_th, v_reset, decay, one_minus, resistance, n_ref, subtract, p0, alpha, dt = neuron
    c_rest, c_th, c_reset, decay_c, one_minus_c, kappa, n_ref_c, subtract_c, decay_g, jump = astro
    m = max(n_astro, 1)
    compare = golden_out.shape[0] > 0
    corrected = fault_pre.shape[0] > 0
    ranges = domain_start.shape[0] == n_astro
    for b in numba.prange(samples):
        v = np.full(n, v_rest, np.float32)
        refractory = np.zeros(n, np.int32)
        current = np.empty(n, np.float32)
        c = np.full(m, c_rest, np.float32)
        refractory_c = np.zeros(m, np.int32)
        g = np.zeros(m, np.float32)
        count = np.zeros(m, np.float32)
        scale = np.ones(m, np.float32)
        neuron_scale = np.ones(n, np.float32)
        released = False
        for t in range(steps):
            r = b * steps + t
            source = synaptic[r]
            if corrected:
                for j in range(n):
                    current[j] = source[j]
                # Branch-free: adding 0 where the presynaptic neuron did not fire.
                for k in range(fault_pre.shape[0]):
                    current[fault_post[k]] += fault_delta[k] * np.float32(presynaptic[r, fault_pre[k]])
                source = current
            if released:
                # p / p0 of each neuron's astrocyte; exactly 1 without gliotransmitter.
                for a in range(n_astro):
                    scale[a] = (p0 + alpha * g[a]) / p0
                if ranges:
                    for a in range(n_astro):
                        for j in range(domain_start[a], domain_stop[a]):
                            neuron_scale[j] = scale[a]
                else:
                    for j in range(n):
                        d = domain[j]
                        if d >= 0:
                            neuron_scale[j] = scale[d]
            row = spikes_out[r]
            for j in range(n):
                x_old = v[j]
                left = refractory[j]
                active = left == 0
                x = v_rest + (x_old - v_rest) * decay + resistance * (source[j] * neuron_scale[j] / dt) * one_minus
                x = x if active else x_old
                fire = (x >= v_th) & active
                after = x - v_th if subtract else v_reset
                v[j] = after if fire else x
                refractory[j] = n_ref if fire else max(left - 1, 0)
                row[j] = fire
            f = 0
            for j in range(n):
                f += row[j]
            fired[r + 1] = f
            if compare:
                golden_row = golden_out[r]
                d_count = np.uint32(0)
                for j in range(n):
                    d_count += np.uint32(row[j] ^ golden_row[j])
                changed[r + 1] = d_count
            if ranges:
                for a in range(n_astro):
                    total = np.uint32(0)
                    for j in range(domain_start[a], domain_stop[a]):
                        total += np.uint32(row[j])
                    count[a] = total
            else:
                for a in range(n_astro):
                    count[a] = 0.0
                if f > 0:
                    for j in range(n):
                        d = domain[j]
                        if row[j] and d >= 0:
                            count[d] += 1.0
            if last:
                for j in range(n):
                    membrane_sum[b, j] += v[j]
            for a in range(n_astro):
                release = False
                if refractory_c[a] == 0:
                    x = c_rest + (c[a] - c_rest) * decay_c + (kappa * count[a] / dt) * one_minus_c
                    if x >= c_th:
                        release = True
                        x = x - c_th if subtract_c else c_reset
                        refractory_c[a] = n_ref_c
                    c[a] = x
                else:
                    refractory_c[a] -= 1
                g[a] = g[a] * decay_g + (jump if release else np.float32(0.0))
                released = released or release


# ---------------------------------------------------------------------------
# Host side


def _f32(value) -> np.float32:
    return np.float32(np.asarray(value, dtype=np.float32))


def _scalar(name: str, value) -> None:
    if np.ndim(value) != 0:
        raise ValueError(
            f"the event-driven engine needs scalar neuron and astrocyte parameters, but {name} has shape "
            f"{np.shape(value)}; use engine=Dense() for per-neuron parameters."
        )


def _reset_is_subtract(name: str, reset) -> bool:
    if isinstance(reset, SubtractReset):
        return True
    if isinstance(reset, ZeroReset):
        return False
    raise ValueError(
        f"the event-driven engine supports ZeroReset and SubtractReset, got {type(reset).__name__} for {name}; "
        "use engine=Dense()."
    )


def _parameters(network: SpikingNetwork) -> tuple[tuple, tuple]:
    """Return the neuron and astrocyte constants in float32, computed as `lif_step` and `astrocyte_step` do."""
    neuron, astro, glio, coupling, dt = (
        network.neuron,
        network.astrocyte,
        network.gliotransmitter,
        network.coupling,
        network.dt,
    )
    for name in ("tau_n", "v_rest", "v_th", "v_reset", "resistance", "t_ref"):
        _scalar(f"neuron.{name}", getattr(neuron, name))
    for name in ("tau_c", "c_rest", "c_th", "c_reset", "kappa_c", "t_ref_c"):
        _scalar(f"astrocyte.{name}", getattr(astro, name))
    for name in ("tau_g", "jump"):
        _scalar(f"gliotransmitter.{name}", getattr(glio, name))
    for name in ("p0", "alpha"):
        _scalar(f"coupling.{name}", getattr(coupling, name))
    # The same expressions as lif_step and astrocyte_step, so the constants round alike.
    decay = jnp.exp(-dt / neuron.tau_n)
    decay_c = jnp.exp(-dt / astro.tau_c)
    neuron_constants = (
        _f32(neuron.v_rest),
        _f32(neuron.v_th),
        _f32(neuron.v_reset),
        _f32(decay),
        _f32(1.0 - decay),
        _f32(neuron.resistance),
        int(refractory_steps(neuron.t_ref, dt)),
        _reset_is_subtract("neuron.reset", neuron.reset),
        _f32(coupling.p0),
        _f32(coupling.alpha),
        _f32(dt),
    )
    astro_constants = (
        _f32(astro.c_rest),
        _f32(astro.c_th),
        _f32(astro.c_reset),
        _f32(decay_c),
        _f32(1.0 - decay_c),
        _f32(astro.kappa_c),
        int(refractory_steps(astro.t_ref_c, dt)),
        _reset_is_subtract("astrocyte.reset", astro.reset),
        _f32(jnp.exp(-dt / glio.tau_g)),
        _f32(glio.jump),
    )
    return neuron_constants, astro_constants


def _domain_ranges(domain: np.ndarray, n_astro: int) -> tuple[np.ndarray, np.ndarray]:
    """Return each astrocyte's first and past-the-end neuron if every domain is one contiguous range, else empties."""
    start = np.zeros(n_astro, np.int64)
    stop = np.zeros(n_astro, np.int64)
    for a in range(n_astro):
        members = np.flatnonzero(domain == a)
        if len(members) == 0 or members[-1] - members[0] + 1 != len(members):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        start[a], stop[a] = members[0], members[-1] + 1
    return start, stop


class _Golden:
    """The golden run in the engine's layout: sample-major rows, spikes as uint8."""

    def __init__(self, network: SpikingNetwork, golden: GoldenRun):
        def rows(a, dtype):
            a = np.asarray(a, dtype=dtype)
            return np.ascontiguousarray(a.transpose(1, 0, 2).reshape(-1, a.shape[2]))

        self.samples, self.steps = golden.samples, golden.steps
        self.spikes = [rows(s, np.uint8) for s in golden.spikes]
        self.synaptic = [rows(s, np.float32) for s in golden.synaptic]
        self.weights = [np.ascontiguousarray(np.asarray(w, dtype=np.float32)) for w in network.weights]
        self.domains = [np.ascontiguousarray(np.asarray(d, dtype=np.int64)) for d in network.domains]
        self.domain_ranges = [_domain_ranges(d, a) for d, a in zip(self.domains, network.n_astrocytes)]
        rows = self.samples * self.steps
        # Buffers reused by every mask: faulty synaptic inputs and spikes, per-row counts.
        self.synaptic_buffer = [np.empty_like(s) for s in self.synaptic]
        self.spike_buffer = [np.empty((rows, w.shape[1]), np.uint8) for w in self.weights]
        self.fired = [np.zeros(rows + 1, np.int64) for _ in self.weights]
        self.changed = [np.zeros(rows + 1, np.int64) for _ in self.weights]
        self.input_fired = np.concatenate([[0], self.spikes[0].sum(axis=1, dtype=np.int64)])
        self.empty_f = np.zeros((0, 0), np.float32)
        self.empty_i = np.zeros(0, np.int64)
        self.empty_delta = np.zeros(0, np.float32)
        self.empty_u8 = np.zeros((0, 0), np.uint8)
        self.large = [_LARGE * float(np.max(np.abs(w), initial=0.0)) for w in self.weights]


def _evaluate(network, gold: "_Golden", constants, layer_faults):
    """Return the output spikes `(samples, steps, outputs)` and mean output membrane under one mask."""
    neuron, astro = constants
    samples, steps = gold.samples, gold.steps
    n_layers = len(gold.weights)
    empty_f, empty_i, empty_u8 = gold.empty_f, gold.empty_i, gold.empty_u8
    membrane_sum = np.zeros((samples, network.topology[-1]), np.float32)
    spikes = gold.spikes[0]
    for layer in range(n_layers):
        pre, post, value = layer_faults[layer]
        weights = gold.weights[layer]
        # A faulty weight far outside the layer's range (a float exponent flip) would
        # cancel against the golden sum in the differential form, so its layer is direct.
        direct = len(pre) > 0 and bool(np.max(np.abs(value - weights[pre, post])) > gold.large[layer])
        if layer == 0 and not direct:
            use_changed, synaptic = True, gold.synaptic[0]
        else:
            if layer == 0:
                fired, changed = gold.input_fired, gold.input_fired
            else:
                fired, changed = gold.fired[layer - 1], gold.changed[layer - 1]
            use_changed, ptr, middle, index = _row_lists(spikes, gold.spikes[layer], fired, changed, direct)
            synaptic = gold.synaptic_buffer[layer]
            init = gold.synaptic[layer] if use_changed else empty_f
            _block_product(ptr, middle, index, weights, pre, post, value, init, synaptic, _BLOCK)
        if use_changed and len(pre):
            delta = (value - weights[pre, post]).astype(np.float32)
            corrections = (pre, post, delta, gold.spikes[layer])
        else:
            corrections = (empty_i, empty_i, gold.empty_delta, empty_u8)
        last = layer == n_layers - 1
        out = gold.spike_buffer[layer]
        _dynamics(
            synaptic,
            *corrections,
            gold.domains[layer],
            *gold.domain_ranges[layer],
            network.n_astrocytes[layer],
            neuron,
            astro,
            steps,
            out,
            empty_u8 if last else gold.spikes[layer + 1],
            gold.fired[layer],
            gold.changed[layer],
            membrane_sum,
            last,
        )
        spikes = out
    return spikes.reshape(samples, steps, -1), membrane_sum / np.float32(steps)


def _split_faults(network: SpikingNetwork, layer, pre, post, value, valid):
    """Return per layer the (pre, post, value) arrays of one mask's valid entries."""
    out = []
    for index in range(len(network.weights)):
        mine = valid & (layer == index)
        out.append(
            (
                np.ascontiguousarray(pre[mine], dtype=np.int64),
                np.ascontiguousarray(post[mine], dtype=np.int64),
                np.ascontiguousarray(value[mine], dtype=np.float32),
            )
        )
    return out


def check_event_network(network: SpikingNetwork) -> None:
    """Raise `ValueError` when the event-driven engine cannot simulate `network`.

    It needs the default `DenseProjection` and scalar neuron, astrocyte,
    gliotransmitter and coupling parameters, with `ZeroReset` or `SubtractReset`.
    """
    if not isinstance(network.propagation, DenseProjection):
        raise ValueError(
            f"the event-driven engine supports DenseProjection only, got {type(network.propagation).__name__}; "
            "use engine=Dense()."
        )
    _parameters(network)


_GOLDEN_CACHE: list = []


def _golden_for(network: SpikingNetwork, spikes: Array, golden: GoldenRun | None) -> _Golden:
    """Return the golden run in the engine's layout, reusing the last one for the same objects.

    Campaigns call the engine once per chunk of masks with the same network and
    inputs, so one cached entry serves them all. Its arrays stay alive until the
    next miss.
    """
    if _GOLDEN_CACHE:
        cached_network, cached_spikes, cached_golden, gold = _GOLDEN_CACHE[0]
        if cached_network is network and cached_spikes is spikes and (golden is None or golden is cached_golden):
            return gold
    _GOLDEN_CACHE.clear()
    if golden is None:
        golden = eqx.filter_jit(golden_run)(network, spikes)
    gold = _Golden(network, golden)
    _GOLDEN_CACHE.append((network, spikes, golden, gold))
    return gold


@eqx.filter_jit
def _draw_many(network, fault, keys, sizes):
    return jax.vmap(lambda key: draw_sparse_faults(network, fault, key=key, capacity=sizes))(keys)


@eqx.filter_jit
def _dense_mask(network, sparse, spikes, labels):
    """Evaluate one sparse mask with the dense path (`evaluate_mask`), which defines non-finite weights."""
    return evaluate_mask(network, to_network_faults(network, sparse), spikes, labels, None, None, None)


@eqx.filter_jit
def _accuracy_many(counts, membranes, labels):
    """Return the accuracy under every mask from output counts and mean membranes, as `differential_accuracy`."""
    return jax.vmap(lambda c, v: jnp.mean(_predictions(c[None], v) == labels))(counts, membranes)


def sweep_events(
    network: SpikingNetwork,
    fault: AbstractFault,
    keys: PRNGKeyArray,
    spikes: Array,
    labels: Int[Array, " samples"],
    *,
    golden: GoldenRun | None = None,
) -> MaskResult:
    """Evaluate one synapse fault kind and rate under one sparse mask per key, event-driven on the CPU.

    Masks are drawn with `draw_sparse_faults`, as the differential engine draws
    them, so both engines see the same masks for the same keys. Each mask is
    simulated exactly (see the module docstring for the rounding caveat). Masks
    are evaluated one after the other, and each kernel uses every CPU core
    (`numba.set_num_threads` limits them). Masks with non-finite faulty weights
    take the dense path and are flagged `STATUS_DENSE_FALLBACK`.

    Runs eagerly (not under `jit`): the kernels are compiled by Numba on first
    use and cached on disk.

    **Arguments:**

    - `fault`: a `SynapseDead`, `SynapseSaturated`, `SynapseBitFlipFixed` or
      `SynapseBitFlipFloat` without `among`, with a concrete rate.
    - `keys`: one PRNG key per mask; the same keys give the same masks.
    - `spikes`: encoded inputs `(samples, steps, topology[0])`; `labels`: their classes.
    - `golden`: a `golden_run` of `network` on `spikes`, to reuse across calls.

    **Returns:** a `MaskResult` with fields of shape `(len(keys),)`;
    `accuracy_repair` is NaN (repair is not supported on this path).
    """
    _check_spikes(network, spikes)
    EventDriven().check(fault)
    check_event_network(network)
    constants = _parameters(network)
    gold = _golden_for(network, spikes, golden)
    sizes = sparse_fault_capacity(network, fault)
    sparse = _draw_many(network, fault, keys, sizes)
    layer, pre, post, value, valid, count = (
        np.asarray(a) for a in (sparse.layer, sparse.pre, sparse.post, sparse.value, sparse.valid, sparse.count)
    )
    labels = np.asarray(labels)
    n_masks = int(keys.shape[0])
    accuracy = np.full(n_masks, np.nan, np.float32)
    status = np.zeros(n_masks, np.int32)
    n_out = network.topology[-1]
    counts = np.zeros((n_masks, gold.samples, n_out), np.float32)
    membranes = np.zeros((n_masks, gold.samples, n_out), np.float32)
    simulated = np.zeros(n_masks, bool)
    for m in range(n_masks):
        if count[m] > sizes[0]:
            # A Bernoulli draw beyond the list's capacity: the mask cannot be represented.
            status[m] = STATUS_OVERFLOW
            continue
        mine = valid[m]
        if not np.all(np.isfinite(value[m][mine])):
            one = jax.tree_util.tree_map(lambda a, m=m: a[m], sparse)
            result = _dense_mask(network, one, spikes, labels)
            accuracy[m] = float(result.accuracy_no_repair)
            status[m] = int(result.status) | STATUS_DENSE_FALLBACK
            continue
        faults = _split_faults(network, layer[m], pre[m], post[m], value[m], mine)
        output, membranes[m] = _evaluate(network, gold, constants, faults)
        counts[m] = output.sum(axis=1, dtype=np.float32)
        simulated[m] = True
    if simulated.any():
        # One XLA call for all masks: XLA's worker threads then stay idle while the kernels run.
        accuracy[simulated] = np.asarray(_accuracy_many(counts[simulated], membranes[simulated], labels))
    return MaskResult(
        accuracy_no_repair=jnp.asarray(accuracy),
        accuracy_repair=jnp.full((n_masks,), jnp.nan, jnp.float32),
        status=jnp.asarray(status),
    )


class EventDriven(AbstractEngine):
    """Sweep engine that simulates each sparse synapse mask event-driven on the CPU (`sweep_events`).

    Masks are the same as those of `Differential` for the same keys. Supports
    `SynapseDead`, `SynapseSaturated`, `SynapseBitFlipFixed` and
    `SynapseBitFlipFloat` without `among`, with a concrete rate, on networks with
    `DenseProjection` and scalar parameters. It does not support transient
    faults, repair or sharding over a mesh; use `Dense()` for those. It runs
    outside `jit` (Numba kernels), so `sweep_masks` calls it eagerly.
    """

    traceable = False

    def check(self, fault: AbstractFault, *, repair: bool = False, sharded: bool = False) -> None:
        """Raise `ValueError` naming the fault kind when the event-driven engine cannot sweep `fault`."""
        if isinstance(fault, Transient):
            raise ValueError(
                f"the event-driven engine does not support transient faults ({fault.name!r}); use engine=Dense()."
            )
        if not isinstance(fault, SUPPORTED_FAULTS):
            names = ", ".join(cls.__name__ for cls in SUPPORTED_FAULTS)
            raise ValueError(
                f"the event-driven engine does not support fault kind {fault.name!r} ({type(fault).__name__}); "
                f"it supports {names}. Use engine=Dense() for this kind."
            )
        if fault.among is not None:
            raise ValueError(
                f"the event-driven engine does not support {fault.name!r} restricted by `among`; use engine=Dense()."
            )
        if not isinstance(fault.rate, int | float) or isinstance(fault.rate, bool) or not math.isfinite(fault.rate):
            raise ValueError(
                f"the event-driven engine needs a concrete rate (a Python float), got {fault.rate!r} for "
                f"{fault.name!r}."
            )
        if repair:
            raise ValueError(
                "the event-driven engine does not evaluate repair; pass repair=None or use engine=Dense()."
            )
        if sharded:
            raise ValueError("the event-driven engine does not split masks over a mesh; pass mesh=None.")

    def compiled_fault(self, fault: AbstractFault) -> AbstractFault:
        """Return `fault` unchanged: its rate stays concrete, because it sets the fault list's size."""
        return fault

    def sweep(self, network, fault, keys, spikes, labels, *, repair, set_points, adapt_spikes, chunk_size, mesh):
        """Evaluate one sparse mask per key with `sweep_events` (see `AbstractEngine.sweep`)."""
        return sweep_events(network, fault, keys, spikes, labels)
