"""Tests for astrocyte sizing, clusters and placement by fault injection."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from trained import ENCODER, STEPS, digits, trained_digits_network

from lifa_jax.faults import AstrocyteDead, NeuronDead, SynapseBitFlipFixed, SynapseDead, accuracy_under
from lifa_jax.network import SpikingNetwork, simulate
from lifa_jax.placement import (
    activation_clusters,
    allocate_astrocytes,
    cluster_faults,
    contiguous_clusters,
    error_sites,
    inject_cluster_errors,
    kmeans_labels,
    measure_reconstruction_error,
    neurons_per_astrocyte,
    place_astrocytes,
    reconstruction_error,
    reconstruction_window,
    with_domains,
)

# --- Sizing -------------------------------------------------------------------


def test_sizing_formula_hand_values():
    # 1 / (0.1^2 * 10 Hz * 1 s) = 10 neurons exactly.
    assert neurons_per_astrocyte(10.0, 0.1, 1000.0) == 10
    # 1 / (0.2^2 * 5 Hz * T_w): 100 at 50 ms, 99.01 -> 100 at 50.5 ms, 101.01 -> 102
    # at 49.5 ms and 83.3 -> 84 at 60 ms.
    assert neurons_per_astrocyte(5.0, 0.2, 50.0) == 100
    assert neurons_per_astrocyte(5.0, 0.2, 50.5) == 100
    assert neurons_per_astrocyte(5.0, 0.2, 49.5) == 102
    assert neurons_per_astrocyte(5.0, 0.2, 60.0) == 84
    assert reconstruction_error(100, 5.0, 50.0) == pytest.approx(0.2)
    assert reconstruction_window(100, 5.0, 0.2) == pytest.approx(50.0)


def test_sizing_lifa_paper_case():
    # Yunusoglu et al.: 2.17 Hz, at most 10 % error, 4452 neurons per astrocyte.
    window = reconstruction_window(4452, 2.17, 0.1)
    assert window == pytest.approx(1000.0 / (0.01 * 4452 * 2.17))
    assert round(window, 2) == 10.35
    assert neurons_per_astrocyte(2.17, 0.1, window) == 4452
    assert reconstruction_error(4452, 2.17, window) == pytest.approx(0.1)
    # Rounded to 10.35 ms the window is slightly short, and one more neuron is needed.
    assert neurons_per_astrocyte(2.17, 0.1, 10.35) == 4453


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: neurons_per_astrocyte(0.0, 0.1, 10.0), "rate_hz must be positive"),
        (lambda: neurons_per_astrocyte(2.0, -0.1, 10.0), "rel_error must be positive"),
        (lambda: reconstruction_error(0, 2.0, 10.0), "n_neurons must be a positive integer"),
        (lambda: reconstruction_window(10, 2.0, 0.0), "rel_error must be positive"),
        (
            lambda: measure_reconstruction_error(10, 2.0, 10.0, key=jax.random.key(0), trials=1),
            "trials must be at least 2",
        ),
    ],
)
def test_sizing_rejects_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    ("n_neurons", "rate_hz", "window_ms"),
    [(4452, 2.17, 10.351066780942443), (3, 20.0, 25.0), (50, 8.0, 40.0)],
)
def test_monte_carlo_matches_formula(n_neurons, rate_hz, window_ms):
    check = measure_reconstruction_error(n_neurons, rate_hz, window_ms, key=jax.random.key(3), trials=2000)
    assert check.predicted == pytest.approx(reconstruction_error(n_neurons, rate_hz, window_ms))
    # The sample standard deviation of 2000 trials has a relative standard error of
    # about 0.5 * sqrt(2 / 1999 + kurtosis / 2000) <= 2.2 % (Poisson excess kurtosis
    # 1 / (N f T_w) <= 0.67 here); four standard errors leave a failure chance
    # below 1e-4 for a random key.
    assert abs(check.measured - check.predicted) < 4.0 * check.standard_error
    assert check.standard_error < 0.025 * check.predicted
    # The estimate is unbiased: its mean lies within four standard errors of the mean.
    assert abs(check.mean_estimate_hz - rate_hz) < 4.0 * rate_hz * check.predicted / math.sqrt(check.trials)


def test_monte_carlo_separates_twice_the_neurons():
    check = measure_reconstruction_error(200, 5.0, 20.0, key=jax.random.key(4), trials=2000)
    # With twice the neurons the formula predicts an error sqrt(2) smaller; the
    # measurement must tell the two apart.
    assert abs(check.measured - reconstruction_error(400, 5.0, 20.0)) > 8.0 * check.standard_error


def test_monte_carlo_same_key_same_result():
    a = measure_reconstruction_error(20, 5.0, 20.0, key=jax.random.key(5), trials=100)
    b = measure_reconstruction_error(20, 5.0, 20.0, key=jax.random.key(5), trials=100)
    assert a.measured == b.measured


# --- Clusters -----------------------------------------------------------------


def test_contiguous_clusters_balanced_blocks():
    hidden, output, skipped = contiguous_clusters([10, 3, 4], [3, 3, 0])
    np.testing.assert_array_equal(hidden, [0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    np.testing.assert_array_equal(output, [0, 1, 2])
    np.testing.assert_array_equal(skipped, [-1, -1, -1, -1])


@pytest.mark.parametrize(
    ("n_clusters", "match"),
    [([2], "one count per layer"), ([2, 5], "layer 1 has 3 neurons but 5 clusters"), ([-1, 1], "non-negative")],
)
def test_contiguous_clusters_rejects_bad_counts(n_clusters, match):
    with pytest.raises(ValueError, match=match):
        contiguous_clusters([10, 3], n_clusters)


def test_kmeans_labels_separates_blobs():
    rng = np.random.default_rng(0)
    blobs = np.concatenate(
        [rng.normal(0.0, 0.1, (20, 3)), rng.normal(5.0, 0.1, (15, 3)), rng.normal(-5.0, 0.1, (10, 3))]
    )
    labels = kmeans_labels(blobs, 3, key=jax.random.key(0))
    # Labels are numbered in order of first appearance, so the blobs read 0, 1, 2.
    np.testing.assert_array_equal(labels, np.repeat([0, 1, 2], [20, 15, 10]))
    np.testing.assert_array_equal(kmeans_labels(blobs, 3, key=jax.random.key(0)), labels)


def test_kmeans_labels_rejects_too_few_patterns():
    features = np.zeros((6, 2))
    features[:3, 0] = 1.0
    with pytest.raises(ValueError, match="needs that many distinct feature rows, but there are 2"):
        kmeans_labels(features, 3, key=jax.random.key(0))


# --- Placement on the trained digits network ----------------------------------

# Hidden layer in four blocks of 32 neurons and the output layer as one cluster.
CLUSTER_COUNTS = [4, 1]
EVAL_SAMPLES = 120


@functools.cache
def evaluation_set():
    data = digits()
    x = jnp.asarray(data.x_test[:EVAL_SAMPLES])
    return jax.vmap(lambda sample: ENCODER(sample, STEPS))(x), jnp.asarray(data.y_test[:EVAL_SAMPLES])


@functools.cache
def dead_neuron_curves():
    network = trained_digits_network()
    spikes, labels = evaluation_set()
    clusters = contiguous_clusters(network.topology[1:], CLUSTER_COUNTS)
    measured = inject_cluster_errors(
        network, clusters, spikes, labels, NeuronDead(0.0), budget=32, evaluations=8, key=jax.random.key(7)
    )
    return clusters, measured


@pytest.mark.slow
def test_cluster_faults_stay_inside_cluster():
    network = trained_digits_network()
    members = np.zeros(128, dtype=bool)
    members[40:60] = True
    few = cluster_faults(network, NeuronDead(0.0), 0, members, 5, key=jax.random.key(1))
    more = cluster_faults(network, NeuronDead(0.0), 0, members, 12, key=jax.random.key(1))
    dead_few = np.asarray(few.neuron_alive[0]) == 0
    dead_more = np.asarray(more.neuron_alive[0]) == 0
    assert dead_few.sum() == 5
    assert dead_more.sum() == 12
    assert not np.any(dead_more & ~members)
    # Errors accumulate: the same key with more errors keeps the earlier ones.
    assert np.all(dead_more[dead_few])
    assert np.all(np.asarray(more.neuron_alive[1]) == 1)


def test_cluster_faults_synapses_and_bits():
    network = trained_digits_network()
    members = np.zeros(10, dtype=bool)
    members[[2, 7]] = True
    assert error_sites(network, SynapseDead(0.0), 1, members) == 128 * 2
    assert error_sites(network, SynapseBitFlipFixed(0.0), 1, members) == 128 * 2 * 8
    faults = cluster_faults(network, SynapseDead(0.0), 1, members, 50, key=jax.random.key(2))
    dead = np.asarray(faults.synapse_alive[1]) == 0
    assert dead.sum() == 50
    assert not np.any(dead[:, ~members])
    flips = cluster_faults(network, SynapseBitFlipFixed(0.0), 1, members, 40, key=jax.random.key(2))
    replaced = np.asarray(flips.synapse_replaced[1]) > 0
    assert replaced.sum() > 0
    assert not np.any(replaced[:, ~members])
    assert not np.any(np.asarray(flips.synapse_replaced[0]) > 0)


def test_cluster_faults_rejects_astrocyte_faults():
    network = trained_digits_network()
    with pytest.raises(ValueError, match="placement injects neuron or synapse errors, got AstrocyteDead"):
        cluster_faults(network, AstrocyteDead(0.0), 0, np.ones(128, dtype=bool), 1, key=jax.random.key(0))


def test_injection_curves_shape_and_endpoints():
    network = trained_digits_network()
    spikes, labels = evaluation_set()
    clusters, measured = dead_neuron_curves()
    np.testing.assert_array_equal(measured.layer, [0, 0, 0, 0, 1])
    np.testing.assert_array_equal(measured.size, [32, 32, 32, 32, 10])
    assert measured.accuracy.shape == (5, 1, 8)
    np.testing.assert_array_equal(measured.errors[0], [4, 8, 12, 16, 20, 24, 28, 32])
    # The output cluster has only 10 neurons, so the budget is capped at 10.
    np.testing.assert_array_equal(measured.errors[4], [2, 3, 4, 5, 7, 8, 9, 10])
    # The last evaluation kills the whole cluster; compare with a direct run.
    alive = network.no_faults().neuron_alive
    whole = tuple(a.at[:32].set(0.0) if layer == 0 else a for layer, a in enumerate(alive))
    faults = network.no_faults()
    faults = type(faults)(
        neuron_alive=whole, synapse_alive=faults.synapse_alive, astrocyte_alive=faults.astrocyte_alive
    )
    direct = float(accuracy_under(network, spikes, labels, faults, network.unit_gains()))
    assert measured.accuracy[0, 0, -1] == pytest.approx(direct)
    # Dead output neurons never spike, but `predict` still breaks the all-zero
    # tie by their membranes, so accuracy stays well above chance (0.1).
    assert measured.accuracy[4, 0, -1] < measured.accuracy_fault_free


def test_tighter_threshold_more_astrocytes():
    clusters, measured = dead_neuron_curves()
    drops = [0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    totals = [allocate_astrocytes(clusters, measured, tolerated_drop=d).total_astrocytes for d in drops]
    per_cluster = np.stack([allocate_astrocytes(clusters, measured, tolerated_drop=d).astrocytes for d in drops])
    assert np.all(np.diff(per_cluster, axis=0) <= 0), per_cluster
    assert totals[0] > totals[-1], totals
    # Nothing falls below A_ff - 1, so each cluster keeps its single astrocyte.
    np.testing.assert_array_equal(per_cluster[-1], np.ones(5))


def test_placement_map_covers_each_neuron_once():
    network = trained_digits_network()
    clusters, measured = dead_neuron_curves()
    placement = allocate_astrocytes(clusters, measured, tolerated_drop=0.02)
    for layer, (domain, cluster) in enumerate(zip(placement.domains, clusters)):
        assert domain.shape == (network.topology[layer + 1],)
        assert np.all(domain >= 0)
        ids, sizes = np.unique(domain, return_counts=True)
        np.testing.assert_array_equal(ids, np.arange(placement.n_astrocytes[layer]))
        for astro in ids:
            # Every astrocyte serves neurons of a single cluster.
            assert np.unique(cluster[domain == astro]).size == 1
        for c in np.unique(cluster):
            cluster_sizes = [np.sum(domain[cluster == c] == a) for a in np.unique(domain[cluster == c])]
            assert max(cluster_sizes) - min(cluster_sizes) <= 1
        del sizes
    assert sum(placement.n_astrocytes) == placement.total_astrocytes


def test_placement_reports_disabled_slots():
    clusters, measured = dead_neuron_curves()
    free = allocate_astrocytes(clusters, measured, tolerated_drop=0.0)
    capped = allocate_astrocytes(clusters, measured, tolerated_drop=0.0, slots_per_cluster=12)
    np.testing.assert_array_equal(capped.astrocytes, np.minimum(free.requested, np.minimum(12, measured.size)))
    np.testing.assert_array_equal(capped.disabled, 12 - capped.astrocytes)
    np.testing.assert_array_equal(free.disabled, free.requested - free.astrocytes)


def test_with_domains_runs_network():
    network = trained_digits_network()
    spikes, _ = evaluation_set()
    clusters, measured = dead_neuron_curves()
    placement = allocate_astrocytes(clusters, measured, tolerated_drop=0.02)
    placed = with_domains(network, placement.domains)
    assert placed.n_astrocytes == placement.n_astrocytes
    rebuilt = SpikingNetwork.init(network.topology, key=jax.random.key(0), domains=placement.domains)
    assert rebuilt.n_astrocytes == placed.n_astrocytes
    result = simulate(placed, spikes[0])
    assert result.counts[0].shape == (128,)
    with pytest.raises(ValueError, match="domains must give one index per neuron"):
        with_domains(network, placement.domains[:1])


def test_allocate_rejects_mismatched_clusters():
    clusters, measured = dead_neuron_curves()
    other = contiguous_clusters([128, 10], [2, 1])
    with pytest.raises(ValueError, match="measured does not match clusters"):
        allocate_astrocytes(other, measured, tolerated_drop=0.02)
    with pytest.raises(ValueError, match="tolerated_drop must lie in"):
        allocate_astrocytes(clusters, measured, tolerated_drop=-0.1)


def test_activation_clusters_on_digits():
    network = trained_digits_network()
    spikes, _ = evaluation_set()
    clusters = activation_clusters(network, spikes[:100], [5, 0], key=jax.random.key(3))
    again = activation_clusters(network, spikes[:100], [5, 0], key=jax.random.key(3))
    np.testing.assert_array_equal(clusters[0], again[0])
    np.testing.assert_array_equal(np.unique(clusters[0]), np.arange(5))
    np.testing.assert_array_equal(clusters[1], np.full(10, -1))


@pytest.mark.slow
def test_place_astrocytes_bit_flips_full():
    network = trained_digits_network()
    spikes, labels = evaluation_set()
    clusters = contiguous_clusters(network.topology[1:], [7, 1])
    loose = place_astrocytes(
        network,
        clusters,
        spikes,
        labels,
        SynapseBitFlipFixed(0.0),
        budget=2000,
        tolerated_drop=0.05,
        evaluations=10,
        repeats=2,
        key=jax.random.key(0),
    )
    tight = place_astrocytes(
        network,
        clusters,
        spikes,
        labels,
        SynapseBitFlipFixed(0.0),
        budget=2000,
        tolerated_drop=0.005,
        evaluations=10,
        repeats=2,
        key=jax.random.key(0),
    )
    assert np.all(tight.astrocytes >= loose.astrocytes)
    assert tight.total_astrocytes > loose.total_astrocytes


@pytest.mark.parametrize(
    ("clusters", "budget", "match"),
    [
        ((np.full(3, -1), np.full(2, -1)), 5, "clusters is empty because every index is -1"),
        ((np.zeros(3, dtype=int), np.zeros(2, dtype=int)), 0, "budget must be a positive integer"),
        ((np.zeros(4, dtype=int), np.zeros(2, dtype=int)), 5, "clusters must give one index per neuron"),
    ],
)
def test_inject_rejects_bad_arguments(clusters, budget, match):
    network = SpikingNetwork.init([4, 3, 2], key=jax.random.key(0))
    spikes, labels = jnp.zeros((2, 5, 4)), jnp.zeros((2,), dtype=jnp.int32)
    with pytest.raises(ValueError, match=match):
        inject_cluster_errors(network, clusters, spikes, labels, NeuronDead(0.0), budget=budget, key=jax.random.key(0))
