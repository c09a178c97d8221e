r"""Event-driven fault sweeps on the CPU for sparse synapse faults.

A hidden layer's input is a sum of weight rows selected by binary spikes,
$I_j = \sum_{i:\,s_i = 1} W_{ij}$. A dense product pays for every presynaptic
neuron. An event-driven product pays only for those that fired, so its cost
follows the spike density (5 to 10 % in the deep layers of the 1024-768-2048-512-100
benchmark network). XLA's gathers and scatters are slow on a CPU, so this engine runs its
inner loops as a Numba kernel instead of an XLA program, and is therefore a CPU
engine that runs outside `jit`.

For each mask the engine reuses the golden (fault-free) run, as concurrent fault
simulation does (Ulrich & Baker, "Concurrent simulation of nearly identical
digital networks", IEEE Computer 1974). With $s$ the golden presynaptic spikes,
$s_f$ the faulty ones, $W$ the weights and $\delta W = W_f - W$ the mask's
changes, the faulty input is, per sample, step and layer, the cheaper of two
exact forms:

- differential: $I_f = I_\mathrm{golden} + W^\top (s_f - s) + \delta W^\top s_f$,
  one weight row per spike that differs from the golden run;
- direct: $I_f = W^\top s_f + \delta W^\top s_f$, one weight row per spike.

The weights are never copied: the faulty entries enter only through the sparse
term $\delta W^\top s_f$, so a huge faulty value is added once and cancels
against nothing. The input layer's spikes never change, so its input is always
differential.

One kernel runs a whole sample at a time, and the samples are split over the
CPU cores. The network is feedforward, so a sample runs layer by layer: all
steps of one layer, then the next. A layer's inputs for all steps start from the
golden inputs (a contiguous block), then each faulty entry adds its change at
the steps its presynaptic neuron fired, then the weight rows are added step by
step. Each step's spikes are packed 64 neurons to a word, so the lists of fired
or changed neurons come from trailing-zero counts and the changed spikes are
counted with popcounts. Each neuron's spikes are also packed 64 steps to a word,
which the faulty entries of the next layer read. The neuron
and astrocyte dynamics use the same floating-point operations in the same order
as `simulate`.

Sums run in another order than XLA's dense product, so a membrane within
rounding error of threshold can fire in one path and not the other. The engine
agrees with the dense path on spikes, not bit for bit on membranes, as the
differential engine does.

Masks whose faulty weights are infinite or NaN (float32 bit flips) are evaluated
with the dense path, which defines what non-finite values do, and are flagged
`STATUS_DENSE_FALLBACK`.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numba
import numpy as np
from jaxtyping import Array, Int, PRNGKeyArray
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic

from ..dynamics import SubtractReset, ZeroReset, refractory_steps
from ..network import DenseProjection, SpikingNetwork
from .differential import (
    GoldenRun,
    _check_spikes,
    _predictions,
    check_sparse_engine,
    draw_sparse_faults,
    golden_run,
    sparse_fault_capacity,
    to_network_faults,
)
from .specs import AbstractFault
from .sweep import STATUS_DENSE_FALLBACK, STATUS_OVERFLOW, AbstractEngine, MaskResult, evaluate_mask

# Multiplying a 64-bit word of eight 0/1 bytes by this constant gathers the eight
# bits into its top byte (bit u of the result is byte u of the word).
_GATHER = np.uint64(0x0102040810204080)
_TOP = np.uint64(56)
_ONE = np.uint64(1)
_HIGH = np.uint64(1 << 63)


@intrinsic
def _trailing_zeros(typingctx, word):
    """Return the index of the lowest set bit of a nonzero uint64 (LLVM `cttz`)."""
    if word != numba.types.uint64:
        return None

    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(64), [ir.IntType(64), ir.IntType(1)]), "llvm.cttz.i64"
        )
        return builder.call(fn, [args[0], ir.Constant(ir.IntType(1), 1)])

    return numba.types.int64(numba.types.uint64), codegen


@intrinsic
def _popcount(typingctx, word):
    """Return the number of set bits of a uint64 (LLVM `ctpop`)."""
    if word != numba.types.uint64:
        return None

    def codegen(context, builder, signature, args):
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.IntType(64), [ir.IntType(64)]), "llvm.ctpop.i64"
        )
        return builder.call(fn, [args[0]])

    return numba.types.int64(numba.types.uint64), codegen


# ---------------------------------------------------------------------------
# Kernel. Golden rows are sample-major (row = sample * steps + step), and golden
# spike rows are padded to a multiple of 64 neurons. Spikes are kept as 0/1 bytes
# for the dynamics and packed into 64-bit words (bit p of word q: neuron 64 q + p)
# for the event lists.


@numba.njit(inline="always", cache=True)
def _append(out, n, word, base):  # pragma: no cover - compiled
    """Write `base` plus the positions of the set bits of `word` at `out[n:]` and return the new length."""
    while word:
        out[n] = base + _trailing_zeros(word)
        n += 1
        word &= word - _ONE
    return n


@numba.njit(inline="always", cache=True)
def _count_bits(words, start, stop):  # pragma: no cover - compiled
    """Return the number of set bits at positions `start` to `stop - 1` of the packed `words`."""
    total = 0
    q = start // 64
    while q * 64 < stop:
        word = words[q]
        low = start - q * 64
        if low > 0:
            word &= ~((_ONE << np.uint64(low)) - _ONE)
        high = stop - q * 64
        if high < 64:
            word &= (_ONE << np.uint64(high)) - _ONE
        total += _popcount(word)
        q += 1
    return total


@numba.njit(inline="always", cache=True)
def _add_rows(x_in, w, rows, count, n, sign):  # pragma: no cover - compiled
    """Add (`sign` > 0) or subtract the weight rows `rows[:count]` to `x_in`."""
    k = 0
    # Four rows per pass keep the loop vectorised and cut the accumulator traffic.
    if sign > 0:
        while k + 4 <= count:
            i0, i1, i2, i3 = rows[k], rows[k + 1], rows[k + 2], rows[k + 3]
            for j in range(n):
                x_in[j] += (w[i0, j] + w[i1, j]) + (w[i2, j] + w[i3, j])
            k += 4
        while k < count:
            i0 = rows[k]
            for j in range(n):
                x_in[j] += w[i0, j]
            k += 1
    else:
        while k + 4 <= count:
            i0, i1, i2, i3 = rows[k], rows[k + 1], rows[k + 2], rows[k + 3]
            for j in range(n):
                x_in[j] -= (w[i0, j] + w[i1, j]) + (w[i2, j] + w[i3, j])
            k += 4
        while k < count:
            i0 = rows[k]
            for j in range(n):
                x_in[j] -= w[i0, j]
            k += 1


@numba.njit(parallel=True, cache=True)
def _simulate_mask(
    input_steps,
    weights,
    golden_input,
    golden_bits,
    fault_pre,
    fault_post,
    fault_delta,
    seg_start,
    seg_stop,
    seg_astro,
    n_astro,
    neuron,
    astro,
    steps,
    counts,
    membrane_sum,
):  # pragma: no cover - compiled
    """Simulate every sample under one mask, adding the output spike counts and membranes into `counts` and `membrane_sum`.

    Each sample runs layer by layer, every step of a layer before the next
    layer, which a feedforward network allows. Bit `t % 64` of
    `input_steps[b, t // 64, i]` is input neuron `i`'s spike at step `t` of
    sample `b`. For weight layer `k`, `golden_input[k]` is its golden synaptic
    input (rows, post) and `golden_bits[k]` contains the golden spikes of its
    neurons as packed words. The output layer's entry is unused. The mask's
    faulty entries of layer `k` are `(fault_pre[k], fault_post[k])`, sorted by
    presynaptic neuron, with weight changes `fault_delta[k]`. The neurons are cut
    into segments of one astrocyte's domain (`seg_astro` -1: no astrocyte).
    """
    samples = input_steps.shape[0]
    n_layers = len(weights)
    v_rest, v_th, v_reset, decay, one_minus, resistance, n_ref, subtract, p0, alpha, dt, inv_dt = neuron
    # `inv_dt` is 1 / dt when dt is a power of two, because then x * inv_dt rounds exactly as x / dt. Otherwise it is 0.
    by_inverse = inv_dt != 0
    c_rest, c_th, c_reset, decay_c, one_minus_c, kappa, n_ref_c, subtract_c, decay_g, jump = astro
    sizes = np.empty(n_layers + 1, np.int64)
    sizes[0] = weights[0].shape[0]
    for layer in range(n_layers):
        sizes[layer + 1] = weights[layer].shape[1]
    widest = 0
    for layer in range(n_layers + 1):
        widest = max(widest, sizes[layer])
    # Spikes are packed per step into words of 64 neurons, and per neuron into words of 64 steps.
    widest_words = (widest + 63) // 64
    step_words = input_steps.shape[1]
    total_astro = 1
    for layer in range(n_layers):
        total_astro = max(total_astro, n_astro[layer])
    for b in numba.prange(samples):
        # Presynaptic spikes of the current weight layer: per step and per neuron.
        pre_bits = np.zeros((steps, widest_words), np.uint64)
        pre_steps = input_steps[b]
        pre_fired = np.zeros(steps, np.int64)
        pre_changed = np.zeros(steps, np.int64)
        # Buffers reused by every layer, and the spikes of the layer being simulated.
        fired = np.empty(widest, np.int64)
        gained = np.empty(widest, np.int64)
        lost = np.empty(widest, np.int64)
        input_buffer = np.empty((steps + 1) * widest, np.float32)
        v_buffer = np.empty(widest, np.float32)
        refractory_buffer = np.empty(widest, np.int32)
        gain_buffer = np.empty(widest, np.float32)
        c_buffer = np.empty(total_astro, np.float32)
        refractory_c_buffer = np.empty(total_astro, np.int32)
        g_buffer = np.empty(total_astro, np.float32)
        count = np.zeros(total_astro, np.int64)
        byte_words = np.zeros(widest_words * 8, np.uint64)
        next_bits = np.zeros((steps, widest_words), np.uint64)
        next_steps = np.zeros((step_words, widest_words * 64), np.uint64)
        next_fired = np.zeros(steps, np.int64)
        next_changed = np.zeros(steps, np.int64)
        for layer in range(n_layers):
            w = weights[layer]
            n_pre = sizes[layer]
            n = sizes[layer + 1]
            n_q = (n_pre + 63) // 64
            n_words = (n + 63) // 64
            last = layer == n_layers - 1
            rows = golden_input[layer][b * steps : (b + 1) * steps]
            # The layer's input at every step. The first layer's presynaptic spikes are the
            # golden ones. Later layers start each step from the golden input (differential
            # form) when fewer spikes changed than fired, else from zero (direct form).
            inputs = input_buffer[: (steps + 1) * n].reshape((steps + 1, n))
            for t in range(steps):
                x_in = inputs[t]
                if layer == 0 or pre_changed[t] <= pre_fired[t]:
                    source = rows[t]
                    for j in range(n):
                        x_in[j] = source[j]
                else:
                    for j in range(n):
                        x_in[j] = 0.0
            # The faulty weights' changes, delta W^T s_f, at the steps their presynaptic neuron
            # fires, in presynaptic order.
            f_pre = fault_pre[layer]
            f_post = fault_post[layer]
            f_delta = fault_delta[layer]
            # The first two steps of each word are taken without a branch: a word without
            # them adds to the spare row `steps`, whose sums are never read.
            for k in range(f_pre.shape[0]):
                i = f_pre[k]
                j = f_post[k]
                delta = f_delta[k]
                for word_index in range(step_words):
                    word = pre_steps[word_index, i]
                    base = word_index * 64
                    t = base + _trailing_zeros(word | _HIGH)
                    inputs[t if word else steps, j] += delta
                    word &= word - _ONE
                    t = base + _trailing_zeros(word | _HIGH)
                    inputs[t if word else steps, j] += delta
                    word &= word - _ONE
                    while word:
                        inputs[base + _trailing_zeros(word), j] += delta
                        word &= word - _ONE
            # The weight rows: of the spikes that changed (differential) or fired (direct).
            if layer > 0:
                for t in range(steps):
                    x_in = inputs[t]
                    now_bits = pre_bits[t]
                    if pre_changed[t] <= pre_fired[t]:
                        gold = golden_bits[layer - 1][b * steps + t]
                        n_gained = 0
                        n_lost = 0
                        for q in range(n_q):
                            now = now_bits[q]
                            before = gold[q]
                            diff = now ^ before
                            n_gained = _append(gained, n_gained, diff & now, q * 64)
                            n_lost = _append(lost, n_lost, diff & before, q * 64)
                        _add_rows(x_in, w, gained, n_gained, n, 1)
                        _add_rows(x_in, w, lost, n_lost, n, -1)
                    else:
                        n_f = 0
                        for q in range(n_q):
                            n_f = _append(fired, n_f, now_bits[q], q * 64)
                        _add_rows(x_in, w, fired, n_f, n, 1)
            # The neurons and astrocytes of the layer, step by step. `gain` contains p / p0
            # of each neuron's astrocyte (1 without one).
            m = n_astro[layer]
            v = v_buffer[:n]
            refractory = refractory_buffer[:n]
            gain = gain_buffer[:n]
            c = c_buffer[:m]
            refractory_c = refractory_c_buffer[:m]
            g = g_buffer[:m]
            for j in range(n):
                v[j] = v_rest
                refractory[j] = 0
                gain[j] = 1.0
            for a in range(m):
                c[a] = c_rest
                refractory_c[a] = 0
                g[a] = 0.0
            released = False
            # Bytes beyond n stay 0, so the packed words have no spikes past the layer's end.
            out = byte_words.view(np.uint8)
            for j in range(widest_words * 8 * 8):
                out[j] = 0
            next_steps[:, :] = 0
            starts = seg_start[layer]
            stops = seg_stop[layer]
            domain = seg_astro[layer]
            for t in range(steps):
                x_in = inputs[t]
                for j in range(n):
                    x_old = v[j]
                    left = refractory[j]
                    active = left == 0
                    drive = x_in[j] * gain[j]
                    drive = drive * inv_dt if by_inverse else drive / dt
                    x = v_rest + (x_old - v_rest) * decay + resistance * drive * one_minus
                    x = x if active else x_old
                    fire = (x >= v_th) & active
                    after = x - v_th if subtract else v_reset
                    v[j] = after if fire else x
                    refractory[j] = n_ref if fire else max(left - 1, 0)
                    out[j] = np.uint8(fire)
                # Pack the spikes into the step's words (bit p of word q: neuron 64 q + p), and
                # record each neuron's spike at step t.
                layer_bits = next_bits[t]
                packed = layer_bits.view(np.uint8)
                for k in range(n_words * 8):
                    packed[k] = np.uint8((byte_words[k] * _GATHER) >> _TOP)
                shift = np.uint64(t % 64)
                spike_steps = next_steps[t // 64]
                for j in range(n):
                    spike_steps[j] |= np.uint64(out[j]) << shift
                # Spikes per astrocyte domain, then the astrocytes.
                for a in range(m):
                    count[a] = 0
                for s in range(starts.shape[0]):
                    d = domain[s]
                    if d >= 0:
                        count[d] += _count_bits(layer_bits, starts[s], stops[s])
                any_release = False
                for a in range(m):
                    left = refractory_c[a]
                    active = left == 0
                    x = c_rest + (c[a] - c_rest) * decay_c + (kappa * np.float32(count[a]) / dt) * one_minus_c
                    release = active & (x >= c_th)
                    after = x - c_th if subtract_c else c_reset
                    x = after if release else x
                    c[a] = x if active else c[a]
                    refractory_c[a] = n_ref_c if release else max(left - 1, 0)
                    g[a] = g[a] * decay_g + (jump if release else np.float32(0.0))
                    any_release = any_release | release
                released = released or any_release
                if released:
                    # The next step's p / p0 from the gliotransmitter just updated.
                    for s in range(starts.shape[0]):
                        d = domain[s]
                        if d >= 0:
                            scale = (p0 + alpha * g[d]) / p0
                            seg_gain = gain[starts[s] : stops[s]]
                            for j in range(seg_gain.shape[0]):
                                seg_gain[j] = scale
                if last:
                    for j in range(n):
                        counts[b, j] += out[j]
                        membrane_sum[b, j] += v[j]
                else:
                    # Spikes that fired and spikes that differ from the golden run.
                    gold = golden_bits[layer][b * steps + t]
                    n_fire = 0
                    changed = 0
                    for q in range(n_words):
                        n_fire += _popcount(layer_bits[q])
                        changed += _popcount(layer_bits[q] ^ gold[q])
                    next_fired[t] = n_fire
                    next_changed[t] = changed
            pre_bits, next_bits = next_bits, pre_bits
            pre_steps = next_steps
            pre_fired, next_fired = next_fired, pre_fired
            pre_changed, next_changed = next_changed, pre_changed


# ---------------------------------------------------------------------------
# Host side


def _f32(value) -> np.float32:
    return np.float32(np.asarray(value, dtype=np.float32))


def _is_power_of_two(value) -> bool:
    """Return whether the float32 `value` is a positive power of two (so dividing by it equals multiplying by its inverse)."""
    value = _f32(value)
    mantissa, _ = np.frexp(value)
    return bool(value > 0 and np.isfinite(value) and mantissa == 0.5 and np.isfinite(np.float32(1.0) / value))


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
        _f32(1.0 / dt) if _is_power_of_two(dt) else np.float32(0.0),
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


def _segments(domain: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a layer into runs of neurons with the same astrocyte: start, stop and astrocyte (-1: none) of each."""
    n = len(domain)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    cuts = np.flatnonzero(np.diff(domain)) + 1
    start = np.concatenate([[0], cuts]).astype(np.int64)
    stop = np.concatenate([cuts, [n]]).astype(np.int64)
    return start, stop, np.ascontiguousarray(domain[start], dtype=np.int64)


def _bits(spikes: np.ndarray) -> np.ndarray:
    """Return 0/1 spike rows packed into 64-bit words (bit p of word q: neuron 64 q + p), zero-padded."""
    rows, n = spikes.shape
    padded = np.zeros((rows, (n + 63) // 64 * 64), np.uint8)
    padded[:, :n] = spikes
    return np.ascontiguousarray(np.packbits(padded, axis=1, bitorder="little")).view(np.uint64)


class _Golden:
    """The golden run in the kernel's layout: sample-major rows, spikes as 64-bit words."""

    def __init__(self, network: SpikingNetwork, golden: GoldenRun):
        def rows(a, dtype):
            a = np.asarray(a, dtype=dtype)
            return np.ascontiguousarray(a.transpose(1, 0, 2).reshape(-1, a.shape[2]))

        self.samples, self.steps = golden.samples, golden.steps
        spikes = [rows(s, np.uint8) for s in golden.spikes]
        # Input spikes per sample, packed over the steps: bit t % 64 of input_steps[b, t // 64, i].
        steps = np.asarray(golden.spikes[0], dtype=np.uint8).transpose(1, 2, 0)
        padded = np.zeros(steps.shape[:2] + ((steps.shape[2] + 63) // 64 * 64,), np.uint8)
        padded[:, :, : steps.shape[2]] = steps
        words = np.ascontiguousarray(np.packbits(padded, axis=2, bitorder="little")).view(np.uint64)
        self.input_steps = np.ascontiguousarray(words.transpose(0, 2, 1))
        # Golden spikes of each hidden layer; the last entry, for the output layer, is never read.
        self.golden_bits = tuple([_bits(s) for s in spikes[1:]] + [np.zeros((1, 1), np.uint64)])
        self.synaptic = tuple(rows(s, np.float32) for s in golden.synaptic)
        self.weights = tuple(np.ascontiguousarray(np.asarray(w, dtype=np.float32)) for w in network.weights)
        segments = [_segments(np.asarray(d, dtype=np.int64)) for d in network.domains]
        self.seg_start = tuple(s[0] for s in segments)
        self.seg_stop = tuple(s[1] for s in segments)
        self.seg_astro = tuple(s[2] for s in segments)
        self.n_astro = np.asarray(network.n_astrocytes, dtype=np.int64)


def _fault_tables(gold: _Golden, layer_faults) -> tuple[tuple, tuple, tuple]:
    """Return per layer the mask's faulty entries sorted by presynaptic neuron: rows, columns and weight changes."""
    pres, posts, deltas = [], [], []
    for weights, (pre, post, value) in zip(gold.weights, layer_faults):
        order = np.argsort(pre, kind="stable")
        pre, post, value = pre[order], post[order], value[order]
        pres.append(np.ascontiguousarray(pre, dtype=np.int64))
        posts.append(np.ascontiguousarray(post, dtype=np.int64))
        deltas.append((value - weights[pre, post]).astype(np.float32))
    return tuple(pres), tuple(posts), tuple(deltas)


def _evaluate(gold: _Golden, constants, layer_faults) -> tuple[np.ndarray, np.ndarray]:
    """Return the output spike counts and mean output membranes, each `(samples, outputs)`, under one mask."""
    neuron, astro = constants
    n_out = gold.weights[-1].shape[1]
    counts = np.zeros((gold.samples, n_out), np.float32)
    membrane_sum = np.zeros((gold.samples, n_out), np.float32)
    _simulate_mask(
        gold.input_steps,
        gold.weights,
        gold.synaptic,
        gold.golden_bits,
        *_fault_tables(gold, layer_faults),
        gold.seg_start,
        gold.seg_stop,
        gold.seg_astro,
        gold.n_astro,
        neuron,
        astro,
        gold.steps,
        counts,
        membrane_sum,
    )
    return counts, membrane_sum / np.float32(gold.steps)


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
        counts[m], membranes[m] = _evaluate(gold, constants, faults)
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
        check_sparse_engine("event-driven", fault, repair=repair, sharded=sharded, concrete_rate=True)

    def compiled_fault(self, fault: AbstractFault) -> AbstractFault:
        """Return `fault` unchanged: its rate stays concrete, because it sets the fault list's size."""
        return fault

    def sweep(self, network, fault, keys, spikes, labels, *, repair, set_points, adapt_spikes, chunk_size, mesh):
        """Evaluate one sparse mask per key with `sweep_events` (see `AbstractEngine.sweep`)."""
        return sweep_events(network, fault, keys, spikes, labels)
