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

One kernel runs a whole sample at a time, step by step and layer by layer as
`simulate` does, so the faulty spikes and inputs of a step stay in the core's
cache; the samples are split over the CPU cores. Spikes are packed 64 to a
word, so the lists of fired or changed neurons come from trailing-zero counts
and the changed spikes are counted with popcounts. The next step's golden inputs
are prefetched while a step runs. The neuron and astrocyte dynamics use the same
floating-point operations in the same order as `simulate`.

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
from llvmlite import ir
from numba.core import cgutils
from numba.extending import intrinsic

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

# Multiplying a 64-bit word of eight 0/1 bytes by this constant gathers the eight
# bits into its top byte (bit u of the result is byte u of the word).
_GATHER = np.uint64(0x0102040810204080)
_TOP = np.uint64(56)
_ONE = np.uint64(1)


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
def _prefetch(typingctx, address):
    """Ask the CPU to load the cache line at `address` (an integer) for reading soon (LLVM `prefetch`)."""
    if not isinstance(address, numba.types.Integer):
        return None

    def codegen(context, builder, signature, args):
        pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [pointer, i32, i32, i32]), "llvm.prefetch.p0"
        )
        builder.call(
            fn, [builder.inttoptr(args[0], pointer), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)]
        )
        return context.get_dummy_value()

    return numba.types.none(address), codegen


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
# Kernel. Spike rows are sample-major (row = sample * steps + step). Each layer's
# neurons are padded to a multiple of 64. Spikes are kept as 0/1 bytes for the
# dynamics and packed into 64-bit words (bit p of word q: neuron 64 q + p) for the
# event lists.


@numba.njit(inline="always", cache=True)
def _append(out, n, word, base):  # pragma: no cover - compiled
    """Write `base` plus the positions of the set bits of `word` at `out[n:]` and return the new length."""
    while word:
        out[n] = base + _trailing_zeros(word)
        n += 1
        word &= word - _ONE
    return n


@numba.njit(inline="always", cache=True)
def _correct(x_in, word, base, f_ptr, f_post, f_delta):  # pragma: no cover - compiled
    """Add the weight changes of the presynaptic neurons `base + bit` for each set bit of `word`."""
    while word:
        i = base + _trailing_zeros(word)
        for k in range(f_ptr[i], f_ptr[i + 1]):
            x_in[f_post[k]] += f_delta[k]
        word &= word - _ONE


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
    fault_mask,
    fault_ptr,
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

    Bit `t % 64` of word `t // 64` of `input_steps[b, i]` is input neuron `i`'s
    spike at step `t` of sample `b`. For weight layer `k`, `golden_input[k]` is
    its golden synaptic input (rows, post) and `golden_bits[k]` contains the
    golden spikes of its neurons as packed words. The output layer's entry is
    unused. Bit `p` of word `q` of
    `fault_mask[k]` is set when presynaptic neuron `64 q + p` has a faulty
    weight. That neuron's faulty entries are
    `fault_post[k][fault_ptr[k][i]:fault_ptr[k][i + 1]]`, with weight changes
    `fault_delta[k][...]` at the same positions. The neurons are cut into
    segments of one astrocyte's domain (`seg_astro` -1: no astrocyte).
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
    # Each layer's neurons start at a multiple of 64, so that its spikes pack into whole words.
    offset = np.zeros(n_layers + 1, np.int64)
    astro_offset = np.zeros(n_layers + 1, np.int64)
    for layer in range(n_layers):
        offset[layer + 1] = offset[layer] + (sizes[layer + 1] + 63) // 64 * 64
        astro_offset[layer + 1] = astro_offset[layer] + n_astro[layer]
    widest = 0
    for layer in range(n_layers + 1):
        widest = max(widest, sizes[layer])
    total = offset[n_layers]
    total_astro = max(astro_offset[n_layers], 1)
    for b in numba.prange(samples):
        v = np.full(total, v_rest, np.float32)
        gain = np.ones(total, np.float32)
        refractory = np.zeros(total, np.int32)
        byte_words = np.zeros(total // 8, np.uint64)
        spiked = byte_words.view(np.uint8)
        packed = np.zeros(total // 8, np.uint8)
        bits = packed.view(np.uint64)
        c = np.full(total_astro, c_rest, np.float32)
        refractory_c = np.zeros(total_astro, np.int32)
        g = np.zeros(total_astro, np.float32)
        count = np.zeros(total_astro, np.int64)
        released = np.zeros(n_layers, np.bool_)
        n_fired = np.zeros(n_layers, np.int64)
        n_changed = np.zeros(n_layers, np.int64)
        current = np.empty(widest, np.float32)
        fired = np.empty(widest, np.int64)
        gained = np.empty(widest, np.int64)
        lost = np.empty(widest, np.int64)
        # The first layer's input at every step of the sample. The input spikes are the golden
        # ones, so it is the golden input plus the faulty weights' changes, added in the order
        # of the presynaptic neurons as at any other layer.
        first = golden_input[0][b * steps : (b + 1) * steps].copy()
        f_ptr = fault_ptr[0]
        f_post = fault_post[0]
        f_delta = fault_delta[0]
        for i in range(sizes[0]):
            for k in range(f_ptr[i], f_ptr[i + 1]):
                j = f_post[k]
                delta = f_delta[k]
                for word_index in range(input_steps.shape[2]):
                    word = input_steps[b, i, word_index]
                    while word:
                        first[word_index * 64 + _trailing_zeros(word), j] += delta
                        word &= word - _ONE
        for t in range(steps):
            r = b * steps + t
            if t + 1 < steps:
                # The next step's golden inputs stream from memory while this step runs.
                for layer in range(1, n_layers):
                    row = golden_input[layer][r + 1]
                    address = np.int64(row.ctypes.data)
                    for line in range(0, row.shape[0] * 4, 64):
                        _prefetch(address + line)
            for layer in range(n_layers):
                w = weights[layer]
                n_pre = sizes[layer]
                n = sizes[layer + 1]
                o = offset[layer]
                n_q = (n_pre + 63) // 64
                x_in = current[:n]
                f_mask = fault_mask[layer]
                f_ptr = fault_ptr[layer]
                f_post = fault_post[layer]
                f_delta = fault_delta[layer]
                if layer == 0:
                    x_in = first[t]
                else:
                    now_bits = bits[offset[layer - 1] // 64 :]
                    if n_changed[layer - 1] <= n_fired[layer - 1]:
                        # Differential form: golden input plus the rows of the spikes that changed.
                        source = golden_input[layer][r]
                        for j in range(n):
                            x_in[j] = source[j]
                        gold = golden_bits[layer - 1][r]
                        n_gained = 0
                        n_lost = 0
                        for q in range(n_q):
                            now = now_bits[q]
                            before = gold[q]
                            diff = now ^ before
                            n_gained = _append(gained, n_gained, diff & now, q * 64)
                            n_lost = _append(lost, n_lost, diff & before, q * 64)
                            _correct(x_in, now & f_mask[q], q * 64, f_ptr, f_post, f_delta)
                        _add_rows(x_in, w, gained, n_gained, n, 1)
                        _add_rows(x_in, w, lost, n_lost, n, -1)
                    else:
                        # Direct form: the rows of the spikes that fired.
                        for j in range(n):
                            x_in[j] = 0.0
                        n_f = 0
                        for q in range(n_q):
                            now = now_bits[q]
                            n_f = _append(fired, n_f, now, q * 64)
                            _correct(x_in, now & f_mask[q], q * 64, f_ptr, f_post, f_delta)
                        _add_rows(x_in, w, fired, n_f, n, 1)
                # The neurons of the layer. `gain` contains p / p0 of each neuron's astrocyte (1 without one).
                a0 = astro_offset[layer]
                m = n_astro[layer]
                last = layer == n_layers - 1
                out = spiked[o : o + n]
                layer_v = v[o : o + n]
                layer_ref = refractory[o : o + n]
                layer_gain = gain[o : o + n]
                for j in range(n):
                    x_old = layer_v[j]
                    left = layer_ref[j]
                    active = left == 0
                    drive = x_in[j] * layer_gain[j]
                    drive = drive * inv_dt if by_inverse else drive / dt
                    x = v_rest + (x_old - v_rest) * decay + resistance * drive * one_minus
                    x = x if active else x_old
                    fire = (x >= v_th) & active
                    after = x - v_th if subtract else v_reset
                    layer_v[j] = after if fire else x
                    layer_ref[j] = n_ref if fire else max(left - 1, 0)
                    out[j] = np.uint8(fire)
                # Pack the spikes into words (bit p of word q: neuron 64 q + p of the layer).
                q0 = o // 64
                n_words = (n + 63) // 64
                layer_bytes = byte_words[o // 8 : o // 8 + n_words * 8]
                layer_packed = packed[q0 * 8 : q0 * 8 + n_words * 8]
                for k in range(n_words * 8):
                    layer_packed[k] = np.uint8((layer_bytes[k] * _GATHER) >> _TOP)
                layer_bits = bits[q0 : q0 + n_words]
                # Spikes per astrocyte domain, then the astrocytes.
                starts = seg_start[layer]
                stops = seg_stop[layer]
                domain = seg_astro[layer]
                layer_count = count[a0 : a0 + m]
                for a in range(m):
                    layer_count[a] = 0
                for s in range(starts.shape[0]):
                    d = domain[s]
                    if d >= 0:
                        layer_count[d] += _count_bits(layer_bits, starts[s], stops[s])
                layer_c = c[a0 : a0 + m]
                layer_ref_c = refractory_c[a0 : a0 + m]
                layer_g = g[a0 : a0 + m]
                any_release = False
                for a in range(m):
                    left = layer_ref_c[a]
                    active = left == 0
                    x = (
                        c_rest
                        + (layer_c[a] - c_rest) * decay_c
                        + (kappa * np.float32(layer_count[a]) / dt) * one_minus_c
                    )
                    release = active & (x >= c_th)
                    after = x - c_th if subtract_c else c_reset
                    x = after if release else x
                    layer_c[a] = x if active else layer_c[a]
                    layer_ref_c[a] = n_ref_c if release else max(left - 1, 0)
                    layer_g[a] = layer_g[a] * decay_g + (jump if release else np.float32(0.0))
                    any_release = any_release | release
                released[layer] = released[layer] or any_release
                if released[layer]:
                    # The next step's p / p0 from the gliotransmitter just updated.
                    for s in range(starts.shape[0]):
                        d = domain[s]
                        if d >= 0:
                            scale = (p0 + alpha * layer_g[d]) / p0
                            seg_gain = layer_gain[starts[s] : stops[s]]
                            for j in range(seg_gain.shape[0]):
                                seg_gain[j] = scale
                f_total = 0
                if not last:
                    # Spikes that fired and spikes that differ from the golden run.
                    gold = golden_bits[layer][r]
                    changed = 0
                    for q in range(n_words):
                        f_total += _popcount(layer_bits[q])
                        changed += _popcount(layer_bits[q] ^ gold[q])
                    n_changed[layer] = changed
                n_fired[layer] = f_total
                if last:
                    for j in range(n):
                        counts[b, j] += out[j]
                        membrane_sum[b, j] += layer_v[j]


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
        # Input spikes per sample and input neuron, packed over the steps (bit t % 64 of word t // 64).
        steps = np.asarray(golden.spikes[0], dtype=np.uint8).transpose(1, 2, 0)
        padded = np.zeros(steps.shape[:2] + ((steps.shape[2] + 63) // 64 * 64,), np.uint8)
        padded[:, :, : steps.shape[2]] = steps
        self.input_steps = np.ascontiguousarray(np.packbits(padded, axis=2, bitorder="little")).view(np.uint64)
        # Golden spikes of each hidden layer; the last entry, for the output layer, is never read.
        self.golden_bits = tuple([_bits(s) for s in spikes[1:]] + [np.zeros((1, 1), np.uint64)])
        self.synaptic = tuple(rows(s, np.float32) for s in golden.synaptic)
        self.weights = tuple(np.ascontiguousarray(np.asarray(w, dtype=np.float32)) for w in network.weights)
        segments = [_segments(np.asarray(d, dtype=np.int64)) for d in network.domains]
        self.seg_start = tuple(s[0] for s in segments)
        self.seg_stop = tuple(s[1] for s in segments)
        self.seg_astro = tuple(s[2] for s in segments)
        self.n_astro = np.asarray(network.n_astrocytes, dtype=np.int64)


def _fault_tables(gold: _Golden, layer_faults) -> tuple[tuple, tuple, tuple, tuple]:
    """Return per layer the mask's faulty presynaptic bits and, sorted by presynaptic neuron, its weight changes."""
    masks, ptrs, posts, deltas = [], [], [], []
    for weights, (pre, post, value) in zip(gold.weights, layer_faults):
        n_pre = weights.shape[0]
        order = np.argsort(pre, kind="stable")
        pre, post, value = pre[order], post[order], value[order]
        flags = np.zeros((n_pre + 63) // 64 * 64, np.uint8)
        flags[pre] = 1
        masks.append(np.packbits(flags, bitorder="little").view(np.uint64))
        ptrs.append(np.searchsorted(pre, np.arange(n_pre + 1)).astype(np.int64))
        posts.append(np.ascontiguousarray(post, dtype=np.int64))
        deltas.append((value - weights[pre, post]).astype(np.float32))
    return tuple(masks), tuple(ptrs), tuple(posts), tuple(deltas)


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
