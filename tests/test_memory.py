"""Tests of lifa_jax.memory: Hopfield recall, quality, capacity, astrocyte memory."""

import json
import logging
import re
import subprocess
import sys

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lifa_jax.memory import (
    DRAM,
    SRAM,
    Asynchronous,
    DenseAssociativeMemory,
    DenseModel,
    FactoredHebbianNetwork,
    Hebbian,
    Homeostasis,
    HopfieldModel,
    HopfieldNetwork,
    MagnitudePruning,
    NeuronAstrocyteMemory,
    NeuronAstrocyteModel,
    NeuronDeath,
    PseudoInverse,
    RandomDilution,
    RecallStatus,
    SpikingHopfield,
    SynapseDeath,
    Synchronous,
    astrocyte_coupling,
    astrocyte_coupling_tensor,
    astrocyte_footprint,
    capacity,
    contiguous_domains,
    corrupt,
    diluted_footprint,
    exact_fault_mask,
    fit_power_law,
    homeostatic_update,
    hopfield_footprint,
    neuron_input_on_manifold,
    random_patterns,
    recall,
    recall_quality,
    recall_quality_curve,
    recall_under_faults,
    sample_death_masks,
    spiking_footprint,
    write_energy_j,
)

# ---------------------------------------------------------------- Hopfield storage


def test_hebbian_weights_n4_by_hand():
    patterns = jnp.array([[1, 1, -1, -1], [1, -1, 1, -1]], dtype=jnp.float32)
    net = HopfieldNetwork.store(patterns, rule=Hebbian())
    # (1/4) * (xi1 xi1^T + xi2 xi2^T) = (1/4) [[2,0,0,-2],[0,2,-2,0],[0,-2,2,0],[-2,0,0,2]],
    # then the diagonal is cleared.
    expected = np.array(
        [
            [0.0, 0.0, 0.0, -0.5],
            [0.0, 0.0, -0.5, 0.0],
            [0.0, -0.5, 0.0, 0.0],
            [-0.5, 0.0, 0.0, 0.0],
        ]
    )
    np.testing.assert_allclose(net.weights, expected)


def test_hebbian_pattern_mask_stores_marked_rows():
    patterns = random_patterns(5, 12, key=jax.random.key(1))
    masked = HopfieldNetwork.store(patterns, pattern_mask=jnp.array([1.0, 1.0, 0.0, 0.0, 0.0]))
    direct = HopfieldNetwork.store(patterns[:2])
    np.testing.assert_allclose(masked.weights, direct.weights, atol=1e-7)


def test_pseudo_inverse_fixes_correlated_patterns():
    base = random_patterns(1, 64, key=jax.random.key(2))[0]
    # Six patterns that each agree with `base` on 56 of 64 bits: strongly correlated.
    keys = jax.random.split(jax.random.key(10), 6)
    patterns = jax.vmap(lambda k: corrupt(base, 8 / 64, key=k))(keys)
    pinv = HopfieldNetwork.store(patterns, rule=PseudoInverse())
    hebb = HopfieldNetwork.store(patterns, rule=Hebbian())
    pinv_fixed = jnp.all(jnp.sign(pinv.weights @ patterns.T) == patterns.T, axis=0)
    hebb_fixed = jnp.all(jnp.sign(hebb.weights @ patterns.T) == patterns.T, axis=0)
    assert bool(jnp.all(pinv_fixed))
    assert not bool(jnp.all(hebb_fixed))


def test_factored_hebbian_field_equals_weights():
    patterns = random_patterns(8, 64, key=jax.random.key(60))
    mask = jnp.array([1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0])
    state = corrupt(patterns[0], 0.3, key=jax.random.key(61))
    explicit = HopfieldNetwork.store(patterns, pattern_mask=mask).field(state)
    factored = FactoredHebbianNetwork(patterns, mask).field(state)
    np.testing.assert_allclose(factored, explicit, atol=1e-6)


# ---------------------------------------------------------------- recall dynamics


def test_stored_pattern_is_fixed_point():
    patterns = random_patterns(3, 64, key=jax.random.key(3))
    result = recall(HopfieldNetwork.store(patterns), patterns[0])
    assert int(result.status) == RecallStatus.FIXED_POINT
    assert int(result.sweeps) == 1
    np.testing.assert_array_equal(result.state, patterns[0])


def test_synchronous_detects_two_cycle():
    # Two neurons with a positive mutual weight, started anti-aligned, swap states
    # every synchronous sweep: (+1, -1) -> (-1, +1) -> (+1, -1).
    net = HopfieldNetwork(jnp.array([[0.0, 1.0], [1.0, 0.0]]))
    result = recall(net, jnp.array([1.0, -1.0]), update=Synchronous(), max_sweeps=50)
    assert int(result.status) == RecallStatus.TWO_CYCLE
    assert int(result.sweeps) == 2
    np.testing.assert_array_equal(result.state, [1.0, -1.0])


def test_asynchronous_leaves_two_cycle_for_fixed_point():
    net = HopfieldNetwork(jnp.array([[0.0, 1.0], [1.0, 0.0]]))
    result = recall(net, jnp.array([1.0, -1.0]), update=Asynchronous(), key=jax.random.key(0))
    assert int(result.status) == RecallStatus.FIXED_POINT
    assert float(result.state[0]) == float(result.state[1])


def test_max_sweeps_bounds_recall():
    net = HopfieldNetwork(jnp.array([[0.0, 1.0], [1.0, 0.0]]))
    result = recall(net, jnp.array([1.0, -1.0]), max_sweeps=1)
    assert int(result.status) == RecallStatus.MAX_SWEEPS
    assert int(result.sweeps) == 1


def test_vmapped_batch_reports_status_per_cue():
    net = HopfieldNetwork(jnp.array([[0.0, 1.0], [1.0, 0.0]]))
    cues = jnp.array([[1.0, -1.0], [1.0, 1.0], [-1.0, -1.0]])
    results = jax.vmap(lambda c: recall(net, c))(cues)
    expected = [RecallStatus.TWO_CYCLE, RecallStatus.FIXED_POINT, RecallStatus.FIXED_POINT]
    assert results.status.tolist() == expected


def test_asynchronous_same_key_same_result():
    patterns = random_patterns(8, 64, key=jax.random.key(4))
    net = HopfieldNetwork.store(patterns)
    cue = corrupt(patterns[0], 0.3, key=jax.random.key(5))
    first = recall(net, cue, update=Asynchronous(), key=jax.random.key(6))
    second = recall(net, cue, update=Asynchronous(), key=jax.random.key(6))
    np.testing.assert_array_equal(first.state, second.state)
    assert int(first.sweeps) == int(second.sweeps)


def test_recall_corrects_corrupted_cue():
    patterns = random_patterns(8, 64, key=jax.random.key(7))
    net = HopfieldNetwork.store(patterns)
    cue = corrupt(patterns[3], 0.15, key=jax.random.key(8))
    for update, key in ((Synchronous(), None), (Asynchronous(), jax.random.key(9))):
        result = recall(net, cue, update=update, key=key)
        assert float(recall_quality(patterns[3], result.state)) == 1.0


# ---------------------------------------------------------------- recall quality


def test_corrupt_flips_exact_count():
    pattern = jnp.ones(101)
    for fraction, expected in ((0.0, 0), (0.05, 5), (0.5, 50), (1.0, 101)):
        flipped = int(jnp.sum(corrupt(pattern, fraction, key=jax.random.key(0)) < 0))
        assert flipped == expected


def test_recall_quality_range():
    pattern = random_patterns(1, 64, key=jax.random.key(11))[0]
    assert float(recall_quality(pattern, pattern)) == 1.0
    assert float(recall_quality(pattern, -pattern)) == 0.0
    sixteen_flipped = corrupt(pattern, 0.25, key=jax.random.key(12))
    assert float(recall_quality(pattern, sixteen_flipped)) == pytest.approx(0.5)


# ---------------------------------------------------------------- capacity


def test_classical_capacity_near_0138_at_n1000():
    # Synchronous recall from the stored pattern itself, 6 trials x 16 cues per load.
    # At N = 1000 the retrieval transition is smeared over a load range of a few
    # hundredths. Measured quality was 0.968 at 0.13, 0.947 at 0.14 and 0.883 at
    # 0.15 (interpolated crossing 0.139). Keys 1 and 2 crossed at 0.136 and 0.137.
    # The tolerance of 0.02 covers that width and the trial-to-trial spread; a
    # wrong rule or recall moves the result far outside it.
    result = capacity(
        HopfieldModel(rule=Hebbian()),
        1000,
        [120, 130, 140, 150, 160],
        key=jax.random.key(0),
        cue_noise=0.0,
        n_trials=6,
        n_cues=16,
    )
    assert result.bounded
    assert abs(result.load - 0.138) <= 0.02
    assert abs(result.load_interpolated - 0.138) <= 0.02


def test_looped_factored_sweep_equals_vmapped_weights():
    # At N = 256 HopfieldModel() recalls one cue at a time from the patterns;
    # keeping every connection makes it build the weight matrix instead, here
    # with trials and cues vmapped. The entries of W are multiples of 1/256, so
    # both fields are exact and the curves must agree bit for bit. Loads 0.16
    # and 0.23 lie beyond capacity, where cues end in 2-cycles.
    kwargs = dict(key=jax.random.key(70), cue_noise=0.1, n_trials=3, n_cues=4)
    looped = recall_quality_curve(HopfieldModel(), 256, [20, 40, 60], **kwargs)
    full_dilution = HopfieldModel(dilution=RandomDilution(keep=1.0))
    vmapped = recall_quality_curve(full_dilution, 256, [20, 40, 60], cue_batch=4, trial_batch=3, **kwargs)
    assert looped.status_fraction[:, RecallStatus.TWO_CYCLE].max() > 0
    np.testing.assert_array_equal(looped.quality, vmapped.quality)
    np.testing.assert_array_equal(looped.status_fraction, vmapped.status_fraction)


@pytest.mark.slow
def test_load_result_ignores_other_loads():
    # The pattern array has as many rows as the largest swept load (40 or 60
    # here), so this checks that the draws of a load do not depend on that size.
    kwargs = dict(key=jax.random.key(72), cue_noise=0.1, n_trials=3, n_cues=4)
    short = recall_quality_curve(HopfieldModel(), 256, [20, 40], **kwargs)
    longer = recall_quality_curve(HopfieldModel(), 256, [20, 40, 60], **kwargs)
    np.testing.assert_array_equal(short.quality, longer.quality[:2])
    np.testing.assert_array_equal(short.status_fraction, longer.status_fraction[:2])


# ---------------------------------------------------------------- neuron-astrocyte memory


def test_astrocyte_coupling_equals_explicit_tensor():
    patterns = random_patterns(3, 5, key=jax.random.key(20))
    psi = jax.random.normal(jax.random.key(21), (5, 5))
    explicit = jnp.einsum("ijkl,kl->ij", astrocyte_coupling_tensor(patterns), psi)
    np.testing.assert_allclose(astrocyte_coupling(patterns, psi), explicit, rtol=1e-5, atol=1e-6)


def test_astrocyte_coupling_pattern_mask():
    patterns = random_patterns(4, 6, key=jax.random.key(22))
    psi = jax.random.normal(jax.random.key(23), (6, 6))
    masked = astrocyte_coupling(patterns, psi, jnp.array([1.0, 0.0, 1.0, 0.0]))
    direct = astrocyte_coupling(patterns[jnp.array([0, 2])], psi)
    np.testing.assert_allclose(masked, direct, rtol=1e-5, atol=1e-7)


def test_astrocyte_manifold_input_is_quartic_field():
    patterns = random_patterns(6, 20, key=jax.random.key(24))
    memory = NeuronAstrocyteMemory(patterns)
    cue = corrupt(patterns[0], 0.1, key=jax.random.key(25))
    phi = jnp.tanh(memory.beta * cue)
    dense_field = DenseAssociativeMemory(patterns).field(phi)
    np.testing.assert_allclose(neuron_input_on_manifold(memory, cue), dense_field, rtol=1e-4, atol=1e-6)


def test_astrocyte_energy_rate_equals_dissipation():
    patterns = jnp.array([[1, -1, 1, 1, -1, -1], [1, 1, -1, 1, -1, 1], [-1, 1, 1, 1, 1, -1]], dtype=jnp.float32)
    memory = NeuronAstrocyteMemory(patterns, beta=2.0, tau_n=0.2, tau_s=3.0, tau_p=10.0)
    # An arbitrary state off the recall manifold, with symmetric S and P.
    index = jnp.arange(6.0)
    state = (0.3 * jnp.sin(index), 0.4 * jnp.cos(jnp.outer(index, index)), 0.5 * jnp.sin(index[:, None] + index))

    @jax.jit
    def rate_and_dissipation(state):
        # One compiled program: op by op, every operation would compile on its own.
        velocity = memory.vector_field(0.0, state, None)
        _, rate = jax.jvp(memory.energy, (state,), (velocity,))
        slopes = [memory.beta * (1.0 - jnp.tanh(memory.beta * v) ** 2) for v in state]
        weights = (2.0 * memory.tau_n, memory.tau_s, memory.tau_p)
        dissipation = sum(w * jnp.sum(k * v**2) for w, k, v in zip(weights, slopes, velocity, strict=True))
        return rate, dissipation

    rate, dissipation = rate_and_dissipation(state)
    assert float(dissipation) > 0.0
    np.testing.assert_allclose(float(rate), -float(dissipation), rtol=1e-4)


@pytest.mark.slow
def test_astrocyte_energy_decreases_along_recall():
    patterns = random_patterns(8, 16, key=jax.random.key(82))
    memory = NeuronAstrocyteMemory(patterns)
    cue = corrupt(patterns[0], 0.125, key=jax.random.key(83))
    times = jnp.linspace(0.0, 10.0, 41)
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(memory.vector_field),
        diffrax.Tsit5(),
        t0=0.0,
        t1=10.0,
        dt0=0.05,
        y0=memory.initial_state(cue),
        stepsize_controller=diffrax.PIDController(rtol=1e-6, atol=1e-8),
        saveat=diffrax.SaveAt(ts=times),
    )
    energies = np.asarray(jax.vmap(memory.energy)(solution.ys))
    # float32 rounding of an energy of size ~1e3 is ~1e-4 per evaluation.
    assert np.all(np.diff(energies) <= 1e-3)
    assert energies[-1] < energies[0] - 100.0


@pytest.mark.slow
def test_astrocyte_ode_recalls_at_low_load():
    patterns = random_patterns(3, 16, key=jax.random.key(26))
    memory = NeuronAstrocyteMemory(patterns)
    cue = corrupt(patterns[1], 0.125, key=jax.random.key(27))
    result = memory.recall(cue, t1=20.0)
    assert bool(result.solved)
    np.testing.assert_array_equal(result.state, patterns[1])


def test_dense_memory_beyond_classical_load():
    # K = N = 64 is seven times the classical capacity (about 0.138 N = 8.8).
    patterns = random_patterns(64, 64, key=jax.random.key(28))
    cues = jax.vmap(lambda p, k: corrupt(p, 0.05, key=k))(patterns[:8], jax.random.split(jax.random.key(29), 8))
    dense = jax.vmap(lambda c: recall(DenseAssociativeMemory(patterns), c).state)(cues)
    classical = jax.vmap(lambda c: recall(HopfieldNetwork.store(patterns), c).state)(cues)
    assert float(jnp.mean(jax.vmap(recall_quality)(patterns[:8], dense))) >= 0.95
    assert float(jnp.mean(jax.vmap(recall_quality)(patterns[:8], classical))) < 0.8


@pytest.mark.slow
def test_dense_capacity_grows_faster_than_linear():
    sizes, capacities = [16, 32, 64], []
    for n in sizes:
        grid = np.unique(np.round(np.geomspace(n / 2, n * n / 2, 16)).astype(int))
        result = capacity(DenseModel(), n, grid, key=jax.random.key(29), n_trials=8, n_cues=16)
        assert result.bounded
        capacities.append(result.n_patterns)
    exponent, _ = fit_power_law(sizes, capacities)
    # Measured: K = 42, 203, 1176 (exponent 2.4); linear growth would give 1.
    assert exponent > 1.5


@pytest.mark.slow
def test_astrocyte_ode_quality_curve_runs_vmapped():
    curve = recall_quality_curve(
        NeuronAstrocyteModel(t1=20.0), 16, [2, 8], key=jax.random.key(30), cue_noise=0.1, n_trials=2, n_cues=4
    )
    assert curve.status_fraction[:, RecallStatus.END_TIME].tolist() == [1.0, 1.0]
    assert curve.quality[0] == 1.0


# ---------------------------------------------------------------- fewer connections


def test_random_dilution_keeps_exact_count():
    weights = jnp.ones((10, 10))
    mask = RandomDilution(keep=0.3).mask(weights, key=jax.random.key(31))
    assert int(mask.sum()) == round(0.3 * 90)
    assert float(jnp.trace(mask)) == 0.0


def test_magnitude_pruning_keeps_largest():
    weights = jnp.arange(16.0).reshape(4, 4) - 7.5
    weights = weights * (1.0 - jnp.eye(4))
    mask = MagnitudePruning(keep=0.5).mask(weights, key=jax.random.key(32))
    kept = np.abs(np.asarray(weights))[np.asarray(mask) > 0]
    cut = np.abs(np.asarray(weights))[(np.asarray(mask) == 0) & ~np.eye(4, dtype=bool)]
    assert mask.sum() == 6
    assert kept.min() >= cut.max()


def test_new_keep_fraction_does_not_recompile(caplog):
    model = HopfieldModel(dilution=RandomDilution(keep=0.5))
    kwargs = dict(key=jax.random.key(34), n_trials=2, n_cues=4)
    recall_quality_curve(model, 32, [3], **kwargs)
    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        recall_quality_curve(HopfieldModel(dilution=RandomDilution(keep=0.3)), 32, [3], **kwargs)
    compiled = [r.getMessage() for r in caplog.records if "Compiling" in r.getMessage()]
    assert compiled == []


@pytest.mark.slow
def test_dilution_lowers_recall_quality():
    kwargs = dict(key=jax.random.key(33), cue_noise=0.1, n_trials=4, n_cues=8)
    full = recall_quality_curve(HopfieldModel(), 200, [20], **kwargs).quality[0]
    sparse = recall_quality_curve(HopfieldModel(dilution=RandomDilution(keep=0.1)), 200, [20], **kwargs).quality[0]
    assert full > 0.95
    assert sparse < full - 0.1


# ---------------------------------------------------------------- spiking memory and faults


def test_exact_fault_mask_counts():
    for rate, expected in ((0.0, 0), (0.25, 25), (0.333, 33), (1.0, 100)):
        assert int(exact_fault_mask(100, rate, key=jax.random.key(50)).sum()) == expected


def test_synapse_death_mask_off_diagonal_exact():
    alive, keep = sample_death_masks(10, 0.0, 0.5, key=jax.random.key(51))
    assert float(alive.sum()) == 10.0
    assert float(jnp.trace(keep)) == 10.0
    assert int((keep == 0).sum()) == 45


def test_contiguous_domains_blocks():
    assert contiguous_domains(10, 3).tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]


def test_spiking_recall_of_stored_pattern():
    patterns = random_patterns(5, 100, key=jax.random.key(52))
    weights = HopfieldNetwork.store(patterns).weights
    cue = corrupt(patterns[2], 0.1, key=jax.random.key(53))
    result = SpikingHopfield().simulate(weights, cue, jnp.ones(100), jnp.ones(100))
    assert float(recall_quality(patterns[2], result.state)) == 1.0
    assert float(result.rates[patterns[2] < 0].max()) == 0.0


def test_homeostatic_update_by_hand():
    gains = jnp.array([1.0, 1.0, 1.0, 2.0, 1.0])
    rates = jnp.array([5.0, 20.0, 0.0, 10.0, 3.0])
    set_points = jnp.array([10.0, 10.0, 10.0, 10.0, 0.0])
    alive = jnp.array([1.0, 1.0, 0.0, 1.0, 1.0])
    updated = homeostatic_update(gains, rates, set_points, alive, Homeostasis(eta=0.5, gain_min=0.25, gain_max=4.0))
    # 1 * (1 + 0.5 * 0.5) = 1.25; 1 * (1 - 0.5) = 0.5; dead neuron unchanged;
    # at its set-point unchanged; no set-point (never fired when calibrated) unchanged.
    np.testing.assert_allclose(updated, [1.25, 0.5, 1.0, 2.0, 1.0])


@pytest.mark.slow
def test_repair_restores_recall_after_synapse_death():
    patterns = random_patterns(5, 100, key=jax.random.key(54))
    kwargs = dict(key=jax.random.key(55), homeostasis=Homeostasis(n_passes=8), n_masks=2, n_test_cues=8)
    clean = recall_under_faults(SpikingHopfield(), patterns, SynapseDeath(0.0), **kwargs)
    broken = recall_under_faults(SpikingHopfield(), patterns, SynapseDeath(0.6), **kwargs)
    # Without faults the set-points equal the rates, so repair changes nothing.
    assert float(clean.fault_free) == 1.0
    np.testing.assert_array_equal(clean.repaired, clean.faulty)
    np.testing.assert_array_equal(clean.gains, 1.0)
    # Measured: 0.42 without repair, 0.99 with it (4 masks, N = 100, K = 5).
    assert float(broken.faulty.mean()) < 0.7
    assert float(broken.repaired.mean()) > 0.9


@pytest.mark.slow
def test_dead_neurons_are_not_revived():
    patterns = random_patterns(5, 100, key=jax.random.key(56))
    result = recall_under_faults(SpikingHopfield(), patterns, NeuronDeath(0.4), key=jax.random.key(57), n_masks=2)
    # A dead neuron reads as -1, so recall quality cannot exceed about 1 - 0.4.
    assert float(result.repaired.max()) <= 0.7
    assert float(result.repaired.mean()) >= float(result.faulty.mean())


# ---------------------------------------------------------------- memory cost


def test_footprints_count_bits():
    assert hopfield_footprint(4, 8).total_bits == 128
    assert astrocyte_footprint(100, 30).total_bits == 3000
    assert spiking_footprint(10, 4).total_bits == 10 * 10 * 4 + 2 * 10 * 4
    # keep = 0.1 of 90 synapses: 9 weights of 8 bits with a 4-bit column index each,
    # plus 2 x 11 row pointers of 4 bits.
    assert diluted_footprint(10, 8, 0.1).total_bits == 9 * 12 + 2 * 11 * 4


def test_write_energy_scales_with_bits():
    assert DRAM.energy_per_bit_j == pytest.approx(30e-15 * 1.2**2)
    assert DRAM.weight_energy_j(8) == pytest.approx(8 * DRAM.energy_per_bit_j)
    assert SRAM.weight_capacitance_f(4) == pytest.approx(4e-15)
    footprint = hopfield_footprint(100, 8)
    assert write_energy_j(footprint, SRAM) == pytest.approx(80000 * 1e-15)


# ---------------------------------------------------------------- errors


def test_error_patterns_not_spins():
    with pytest.raises(ValueError, match=r"patterns must contain only -1 and \+1, found 0.0"):
        HopfieldNetwork.store(jnp.array([[0.0, 1.0, 1.0], [1.0, 0.0, 1.0]]))


def test_error_cue_shape_mismatch():
    net = HopfieldNetwork.store(random_patterns(2, 8, key=jax.random.key(0)))
    with pytest.raises(ValueError, match=r"cue must have shape \(8,\).*got shape \(9,\)"):
        recall(net, jnp.ones(9))


def test_error_corruption_fraction_outside_unit_interval():
    with pytest.raises(ValueError, match=r"fraction must lie in \[0, 1\], got 1.5"):
        corrupt(jnp.ones(10), 1.5, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"cue_noise must lie in \[0, 1\], got -0.1"):
        capacity(HopfieldModel(), 50, [5], key=jax.random.key(0), cue_noise=-0.1)


def test_error_load_too_large():
    patterns = random_patterns(11, 10, key=jax.random.key(0))
    with pytest.raises(ValueError, match=r"Hebbian accepts at most 10 patterns for 10 neurons, got n_patterns=11"):
        HopfieldNetwork.store(patterns)
    with pytest.raises(ValueError, match=r"PseudoInverse accepts at most 9 patterns .* got n_patterns=10"):
        HopfieldNetwork.store(patterns[:10], rule=PseudoInverse())
    with pytest.raises(ValueError, match=r"Hebbian accepts at most 50 patterns for 50 neurons, got n_patterns=60"):
        capacity(HopfieldModel(), 50, [10, 60], key=jax.random.key(0))


def test_error_asynchronous_without_key():
    net = HopfieldNetwork.store(random_patterns(2, 8, key=jax.random.key(0)))
    with pytest.raises(ValueError, match=r"Asynchronous\(\) draws a random update order and needs a key"):
        recall(net, jnp.ones(8), update=Asynchronous())


def test_error_dilution_keep_outside_unit_interval():
    with pytest.raises(ValueError, match=r"keep must lie in \[0, 1\], got 1.2"):
        RandomDilution(keep=1.2)


def test_error_dense_load_too_large():
    with pytest.raises(ValueError, match=r"accepts at most N\^3 = 27 patterns for N=3 neurons, got n_patterns=28"):
        DenseAssociativeMemory(jnp.ones((28, 3)))


def test_error_fault_rate_outside_unit_interval():
    with pytest.raises(ValueError, match=r"rate must lie in \[0, 1\], got 1.5"):
        NeuronDeath(1.5)
    with pytest.raises(ValueError, match=r"rate must lie in \[0, 1\], got -0.2"):
        SynapseDeath(-0.2)


# ---------------------------------------------------------------- command line


def _lifa_main(argv, monkeypatch):
    from lifa_jax import cli

    if "memory" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "memory"))
    return cli.main(argv)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--cue-noise", "1.5"], r"--cue-noise must lie in \[0, 1\], got 1.5"),
        (["--sizes", "16"], r"sizes needs at least two distinct sizes"),
        (["--loads", "0,0.1"], r"loads must lie in \(0, 1\], got \[0.0, 0.1\]"),
        (["--masks", "0"], r"--masks must be at least 1, got 0"),
        (["--keep", "1.2"], r"--keep must lie in \[0, 1\], got 1.2"),
        (["--loads", "a,b"], r"--loads must be comma-separated numbers, got 'a,b'"),
    ],
)
def test_cli_bad_input_exit_status_2(argv, message, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    status = _lifa_main(["memory", "--quick", "--out", str(out), *argv], monkeypatch)
    assert status == 2
    assert re.search(message, capsys.readouterr().err)
    assert not out.exists()


def test_cli_refuses_non_empty_out(tmp_path, monkeypatch, capsys):
    (tmp_path / "old.txt").write_text("keep me")
    status = _lifa_main(["memory", "--quick", "--out", str(tmp_path)], monkeypatch)
    assert status == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert (tmp_path / "old.txt").read_text() == "keep me"


@pytest.mark.slow
def test_cli_quick_run_writes_results(tmp_path):
    # A fresh process, as `lifa memory --quick` runs: measured 33 s on 2 shared cores.
    out = tmp_path / "memory"
    script = (
        "import sys\n"
        "from lifa_jax import cli\n"
        "if 'memory' not in cli.COMMAND_MODULES:\n"
        "    cli.COMMAND_MODULES = (*cli.COMMAND_MODULES, 'memory')\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, "memory", "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    expected = {
        "summary.json",
        "report.md",
        "quality_vs_load.png",
        "capacity_vs_size.png",
        "quality_vs_kept.png",
        "recall_vs_fault_rate.png",
    }
    assert expected <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["capacity_vs_size"]["fit_dense"]["exponent"] > 1.5
    synapse = [r for r in summary["faults"]["records"] if r["fault"] == "synapse_dead" and r["rate"] > 0]
    assert synapse[0]["quality_repair"]["mean"] > synapse[0]["quality_no_repair"]["mean"]
