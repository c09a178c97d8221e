"""Exact semantics of every fault kind on hand-computed small cases."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lifa_jax.dynamics import LIF, LIFA
from lifa_jax.faults import (
    STATUS_NONFINITE_WEIGHTS,
    AstrocyteDead,
    AstrocyteStuck,
    NeuronDead,
    NeuronParametric,
    NeuronSaturated,
    NeuronStuck,
    SynapseBitFlipFixed,
    SynapseBitFlipFloat,
    SynapseSaturated,
    describe_status,
    draw_faults,
    evaluate_mask,
    fault_from_name,
)
from lifa_jax.network import DenseProjection, RegularEncoder, SpikingNetwork, propagate_nonfinite, simulate

KEY = jax.random.key(0)


def one_neuron(weight=30.0, **neuron):
    """A 1-input, 1-neuron network whose input spikes on every step."""
    net = SpikingNetwork.init([1, 1], key=KEY, domain_size=1, neuron=LIF(**neuron))
    return eqx.tree_at(lambda n: n.weights, net, (jnp.array([[weight]]),))


def run(net, faults=None, steps=30, record=False):
    return simulate(net, jnp.ones((steps, 1)), faults=faults, record=record)


def test_saturated_neuron_spikes_whenever_not_refractory():
    # t_ref = 2 ms at dt = 1 ms: a spike, two refractory steps, a spike: 10 in 30 steps.
    net = one_neuron(weight=0.0, t_ref=2.0)
    faults = draw_faults(net, NeuronSaturated(1.0, layers=(0,)), key=KEY)
    assert float(run(net).counts[0][0]) == 0.0
    assert float(run(net, faults).counts[0][0]) == 10.0
    net0 = one_neuron(weight=0.0, t_ref=0.0)
    assert float(run(net0, draw_faults(net0, NeuronSaturated(1.0, layers=(0,)), key=KEY)).counts[0][0]) == 30.0


@pytest.mark.parametrize("value, expected", [(0.5, 0.0), (1.0, 10.0), (1.5, 10.0)])
def test_stuck_neuron_holds_membrane(value, expected):
    net = one_neuron(weight=30.0, t_ref=2.0)
    faults = draw_faults(net, NeuronStuck(1.0, layers=(0,), value=value), key=KEY)
    result = run(net, faults, record=True)
    assert float(result.counts[0][0]) == expected


def test_parametric_fault_equals_changed_parameters():
    net = one_neuron(weight=2.0, t_ref=1.0)
    faults = draw_faults(net, NeuronParametric(1.0, layers=(0,), threshold_factor=1.2, tau_factor=0.5), key=KEY)
    changed = eqx.tree_at(lambda n: (n.neuron.v_th, n.neuron.tau_n), net, (1.2, 10.0))
    np.testing.assert_array_equal(run(net, faults, steps=100).counts[0], run(changed, steps=100).counts[0])
    assert float(run(net, faults, steps=100).counts[0][0]) != float(run(net, steps=100).counts[0][0])


def test_parametric_factor_must_be_positive():
    with pytest.raises(ValueError, match="threshold_factor must be positive, got 0.0"):
        NeuronParametric(0.1, threshold_factor=0.0)


def test_synapse_saturated_sets_w_max():
    net = SpikingNetwork.init([3, 2], key=KEY, domain_size=2)
    w = jnp.array([[1.0, -2.0], [0.5, 3.0], [-0.5, 0.25]])
    net = eqx.tree_at(lambda n: n.weights, net, (w,))
    for sign, expected in ((1, 3.0 * jnp.ones_like(w)), (-1, -3.0 * jnp.ones_like(w)), (0, 3.0 * jnp.sign(w))):
        faults = draw_faults(net, SynapseSaturated(1.0, sign=sign), key=KEY)
        np.testing.assert_array_equal(jnp.where(faults.synapse_replaced[0] > 0, faults.synapse_value[0], w), expected)
    faults = draw_faults(net, SynapseSaturated(1.0, w_max=7.0), key=KEY)
    np.testing.assert_array_equal(faults.synapse_value[0], 7.0)


def test_fixed_point_two_complement_values():
    fault = SynapseBitFlipFixed(0.0)  # Q2.6, 8 bits
    words = fault.quantize(jnp.array([1.0, 0.5, -1.0, -2.0]), 1.0)
    np.testing.assert_array_equal(words, [0b01000000, 0b00100000, 0b11000000, 0b10000000])
    # Flipping the sign bit of 1.0 (0100 0000) gives 1100 0000 = -64 / 64 = -1.0.
    assert float(fault.dequantize(words[0] ^ 0x80, 1.0)) == -1.0
    # Flipping bit 0 of 0.5 gives 33 / 64.
    assert float(fault.dequantize(words[1] ^ 0x01, 1.0)) == 33 / 64
    # Flipping the sign bit of -2.0 (1000 0000) gives 0.
    assert float(fault.dequantize(words[3] ^ 0x80, 1.0)) == 0.0


def test_fixed_point_flip_in_network():
    net = SpikingNetwork.init([2, 2], key=KEY, domain_size=2)
    net = eqx.tree_at(lambda n: n.weights, net, (jnp.array([[1.0, 0.5], [-1.0, 1.5]]),))
    faults = draw_faults(net, SynapseBitFlipFixed(1.0, bits=(7,), scale=1.0), key=KEY)
    np.testing.assert_array_equal(faults.synapse_value[0], [[-1.0, -1.5], [1.0, -0.5]])


def test_bit_flip_exact_count():
    net = SpikingNetwork.init([20, 10], key=KEY)
    faults = draw_faults(net, SynapseBitFlipFixed(0.01), key=KEY)
    # floor(200 weights * 8 bits * 0.01) = 16 flipped bits; each differs from the stored word.
    fault = SynapseBitFlipFixed(0.01)
    masks = fault.flip_masks(KEY, [(20, 10)])
    assert int(sum(bin(int(m)).count("1") for m in np.asarray(masks[0]).ravel())) == 16
    assert int(faults.synapse_replaced[0].sum()) <= 16


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: SynapseBitFlipFixed(0.1, bits=(8,)), r"bit positions \[8\] lie outside the 8-bit Q\(2, 6\) word"),
        (lambda: SynapseBitFlipFloat(0.1, bits=(32,)), r"bit positions \[32\] lie outside the 32-bit float word"),
        (lambda: SynapseBitFlipFixed(0.1, int_bits=0), r"Q\(0, 6\) is not a supported fixed-point format"),
        # Q(1, 0) words are 0 and -1 only, so the largest weight had an infinite scale and every flip gave inf or NaN.
        (lambda: SynapseBitFlipFixed(0.1, int_bits=1, frac_bits=0), r"Q\(1, 0\) has no positive value"),
        # A repeated position used to be counted twice: bits=(3, 3) flipped bit 4.
        (lambda: SynapseBitFlipFixed(0.1, bits=(3, 3)), r"bit positions \[3\] appear more than once"),
        (lambda: SynapseBitFlipFloat(0.1, bits=(30, 1, 30)), r"bit positions \[30\] appear more than once"),
        (lambda: SynapseBitFlipFixed(0.1, scale=0.0), r"scale must be a positive finite number, got 0.0"),
        (lambda: SynapseBitFlipFixed(0.1, scale=float("nan")), r"scale must be a positive finite number"),
    ],
)
def test_bit_positions_outside_format(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_float_bit_30_of_one_is_inf():
    net = SpikingNetwork.init([1, 1], key=KEY, domain_size=1)
    net = eqx.tree_at(lambda n: n.weights, net, (jnp.array([[1.0]]),))
    faults = draw_faults(net, SynapseBitFlipFloat(1.0, bits=(30,)), key=KEY)
    assert float(faults.synapse_value[0][0, 0]) == np.inf
    assert faults.nonfinite
    # +inf input fires the neuron on every step it may (t_ref 2 ms: 10 of 30 steps).
    assert float(run(net, faults).counts[0][0]) == 10.0


def test_nonfinite_propagation_rules():
    w = jnp.array([[jnp.inf, 1.0, 2.0, jnp.nan], [-jnp.inf, 0.5, jnp.inf, 1.0]])
    prop = DenseProjection()
    # Silent presynaptic neurons contribute nothing, whatever their weight.
    np.testing.assert_array_equal(propagate_nonfinite(prop, w, jnp.array([0.0, 0.0])), [0.0, 0.0, 0.0, 0.0])
    out = propagate_nonfinite(prop, w, jnp.array([1.0, 0.0]))
    np.testing.assert_array_equal(out, [np.inf, 1.0, 2.0, np.nan])
    out = propagate_nonfinite(prop, w, jnp.array([0.0, 1.0]))
    np.testing.assert_array_equal(out, [-np.inf, 0.5, np.inf, 1.0])
    out = propagate_nonfinite(prop, w, jnp.array([1.0, 1.0]))
    np.testing.assert_array_equal(out, [np.nan, 1.5, np.inf, np.nan])


def test_nan_membrane_never_fires_and_status_reports_it():
    net = SpikingNetwork.init([2, 3], key=KEY, domain_size=3)
    net = eqx.tree_at(lambda n: n.weights, net, (jnp.array([[jnp.nan, 30.0, 1.0], [0.0, 0.0, 1.0]]),))
    faults = eqx.tree_at(lambda f: f.synapse_alive, net.no_faults(), (jnp.ones((2, 3)),))
    faults = dataclasses.replace(faults, nonfinite=True)
    result = simulate(net, jnp.ones((30, 2)), faults=faults)
    assert float(result.counts[0][0]) == 0.0
    assert float(result.counts[0][1]) > 0.0
    assert int(result.nonfinite_membranes) == 1

    spikes = jnp.ones((4, 30, 2))
    labels = jnp.zeros((4,), jnp.int32)
    mask = evaluate_mask(net, faults, spikes, labels, None, None, None)
    assert np.isfinite(float(mask.accuracy_no_repair))
    assert int(mask.status) & STATUS_NONFINITE_WEIGHTS
    assert describe_status(int(mask.status)) == [
        "the mask holds infinite or NaN weights",
        "some membrane was infinite or NaN at the end of a sample",
    ]


def test_astrocyte_dead_and_stuck():
    net = SpikingNetwork.init(
        [4, 4], key=KEY, domain_size=4, weight_scale=8.0, astrocyte=LIFA(kappa_c=500.0, t_ref_c=5.0)
    )
    spikes = RegularEncoder(max_rate=1000.0)(jnp.ones(4), 60)
    healthy = simulate(net, spikes, record=True).trace
    assert float(healthy.releases[0].sum()) > 0

    dead = simulate(net, spikes, faults=draw_faults(net, AstrocyteDead(1.0), key=KEY), record=True).trace
    assert float(dead.releases[0].sum()) == 0.0
    np.testing.assert_array_equal(dead.calcium[0], 0.0)

    quiet = eqx.tree_at(lambda n: n.weights, net, (jnp.zeros((4, 4)),))
    stuck = simulate(quiet, spikes, faults=draw_faults(quiet, AstrocyteStuck(1.0), key=KEY), record=True).trace
    # t_ref_c = 5 ms at dt = 1 ms: one release every 6 steps, 10 in 60 steps.
    assert float(stuck.releases[0].sum()) == 10.0


def test_cluster_targeting_with_among():
    net = SpikingNetwork.init([4, 12, 3], key=KEY, domain_size=4)
    cluster = net.domains[0] == 1  # neurons 4-7
    faults = draw_faults(net, NeuronDead(1.0, layers=(0,), among=(cluster,)), key=KEY)
    np.testing.assert_array_equal(faults.neuron_alive[0] == 0, cluster)
    half = draw_faults(net, NeuronDead(0.5, layers=(0,), among=(cluster,)), key=KEY)
    assert int((half.neuron_alive[0] == 0).sum()) == 2
    assert bool(jnp.all((half.neuron_alive[0] == 0) <= cluster))


def test_combined_kinds_in_one_mask():
    net = SpikingNetwork.init([4, 10, 3], key=KEY, domain_size=5)
    faults = draw_faults(net, NeuronDead(0.2), NeuronSaturated(0.1), AstrocyteDead(0.5), key=KEY)
    assert int((faults.neuron_alive[0] == 0).sum()) == 2
    assert int(faults.neuron_saturated[0].sum()) == 1
    assert int((faults.astrocyte_alive[0] == 0).sum()) + int((faults.astrocyte_alive[1] == 0).sum()) == 2


def test_transient_fault_redrawn_every_step():
    from lifa_jax.faults import Transient

    net = SpikingNetwork.init([4, 12, 3], key=KEY, domain_size=4, neuron=LIF(t_ref=0.0))
    net = eqx.tree_at(lambda n: n.weights, net, (jnp.zeros((4, 12)), jnp.zeros((12, 3))))
    transient = Transient(NeuronSaturated(0.25, layers=(0,)))
    result = simulate(net, jnp.zeros((40, 4)), transient=transient, key=jax.random.key(5), record=True)
    per_step = np.asarray(result.trace.spikes[0]).sum(axis=1)
    # Exactly round(0.25 * 12) = 3 neurons are saturated on each step, a fresh draw each time.
    np.testing.assert_array_equal(per_step, 3.0)
    assert len({tuple(np.flatnonzero(row)) for row in np.asarray(result.trace.spikes[0])}) > 5
    again = simulate(net, jnp.zeros((40, 4)), transient=transient, key=jax.random.key(5), record=True)
    np.testing.assert_array_equal(result.trace.spikes[0], again.trace.spikes[0])
    with pytest.raises(ValueError, match="a transient fault needs a key"):
        simulate(net, jnp.zeros((5, 4)), transient=transient)


def test_parametric_default_raises_threshold():
    # Built from its name alone (as the CLI does), the kind must change the neuron.
    net = one_neuron(weight=2.0, t_ref=1.0)
    fault = fault_from_name("neuron_parametric", 1.0)
    faults = draw_faults(net, fault, key=KEY)
    np.testing.assert_array_equal(np.asarray(faults.threshold_factor[0]), [1.5])
    np.testing.assert_array_equal(np.asarray(faults.tau_factor[0]), [1.0])


def test_one_bit_word_with_scale_is_finite():
    # With a given scale, Q(1, 0) words are 0 and -scale: a flip is finite.
    fault = SynapseBitFlipFixed(0.1, int_bits=1, frac_bits=0, scale=0.5)
    words = fault.quantize(jnp.asarray([0.2, -0.4]), 0.5)
    np.testing.assert_array_equal(np.asarray(fault.dequantize(words ^ 1, 0.5)), [-0.5, 0.0])
