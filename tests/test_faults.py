"""Fault masks and vmapped sweeps."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lifa_jax.faults import (
    Dense,
    NeuronDead,
    SynapseDead,
    draw_faults,
    fault_from_name,
    run_sweep,
    sweep_masks,
)
from lifa_jax.faults.sweep import evaluate_mask
from lifa_jax.network import RegularEncoder, SpikingNetwork
from lifa_jax.repair import HomeostaticRepair


@pytest.fixture(scope="module")
def net():
    return SpikingNetwork.init([12, 20, 10, 4], key=jax.random.key(0), domain_size=5)


@pytest.mark.parametrize("rate, expected", [(0.0, 0), (0.1, 3), (0.3, 9), (0.5, 15), (1.0, 30)])
def test_neuron_dead_exact_count(net, rate, expected):
    # Hidden layers hold 20 + 10 = 30 neurons; exact mode fails round(rate * 30).
    faults = draw_faults(net, NeuronDead(rate), key=jax.random.key(1))
    dead = sum(int((a == 0).sum()) for a in faults.neuron_alive[:2])
    assert dead == expected
    assert int((faults.neuron_alive[2] == 0).sum()) == 0


def test_synapse_dead_exact_count(net):
    faults = draw_faults(net, SynapseDead(0.25), key=jax.random.key(2))
    total = sum(w.size for w in net.weights)
    dead = sum(int((a == 0).sum()) for a in faults.synapse_alive)
    assert dead == round(0.25 * total)


def test_layer_targeting(net):
    faults = draw_faults(net, SynapseDead(0.5, layers=(1,)), key=jax.random.key(2))
    assert int((faults.synapse_alive[0] == 0).sum()) == 0
    assert int((faults.synapse_alive[1] == 0).sum()) == 100
    assert int((faults.synapse_alive[2] == 0).sum()) == 0
    with pytest.raises(ValueError, match=r"fault layers \[5\] do not exist"):
        draw_faults(net, NeuronDead(0.1, layers=(5,)), key=jax.random.key(0))


def test_bernoulli_mode_rate(net):
    big = SpikingNetwork.init([100, 100, 2], key=jax.random.key(0))
    keys = jax.random.split(jax.random.key(4), 50)
    masks = jax.vmap(lambda k: draw_faults(big, SynapseDead(0.2, exact=False), key=k))(keys)
    fraction = 1.0 - float(masks.synapse_alive[0].mean())
    # 500,000 Bernoulli(0.2) draws: standard error 0.0006.
    assert abs(fraction - 0.2) < 0.003
    counts = (masks.synapse_alive[0] == 0).sum(axis=(1, 2))
    assert len(np.unique(np.asarray(counts))) > 1


def test_same_key_same_mask_and_combination(net):
    a = draw_faults(net, NeuronDead(0.3), SynapseDead(0.1), key=jax.random.key(7))
    b = draw_faults(net, NeuronDead(0.3), SynapseDead(0.1), key=jax.random.key(7))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(x, y)
    assert sum(int((m == 0).sum()) for m in a.neuron_alive) == 9
    assert sum(int((m == 0).sum()) for m in a.synapse_alive) == round(0.1 * sum(w.size for w in net.weights))


@pytest.mark.parametrize("rate", [-0.1, 1.5])
def test_rate_outside_unit_interval(rate):
    with pytest.raises(ValueError, match="fault rate must lie in \\[0, 1\\]"):
        NeuronDead(rate)


def test_unknown_kind_lists_valid():
    with pytest.raises(
        ValueError,
        match="unknown fault kind 'neuron_zombie'; use one of: astrocyte_dead, astrocyte_stuck, neuron_dead",
    ):
        fault_from_name("neuron_zombie", 0.1)


@pytest.mark.slow
def test_vmapped_sweep_equals_python_loop(net):
    x = jax.random.uniform(jax.random.key(5), (24, 12))
    labels = jax.random.randint(jax.random.key(6), (24,), 0, 4)
    spikes = jax.vmap(lambda xi: RegularEncoder(max_rate=1000.0)(xi, 15))(x)
    repair = HomeostaticRepair(passes=3)
    set_points = repair.calibrate(net, spikes)
    key = jax.random.key(9)
    n_masks = 4

    records = run_sweep(
        net,
        [NeuronDead(0.3), SynapseDead(0.2)],
        spikes,
        labels,
        n_masks=n_masks,
        key=key,
        repair=repair,
        set_points=set_points,
        adapt_spikes=spikes,
        chunk_size=2,
    )
    keys = jax.random.split(key, n_masks)
    evaluate = eqx.filter_jit(evaluate_mask)
    for record, fault in zip(records, [NeuronDead(0.3), SynapseDead(0.2)]):
        for i in range(n_masks):
            faults = draw_faults(net, fault, key=keys[i])
            single = evaluate(net, faults, spikes, labels, repair, set_points, spikes)
            assert record["accuracy_no_repair"][i] == pytest.approx(float(single.accuracy_no_repair), abs=1e-6)
            assert record["accuracy_repair"][i] == pytest.approx(float(single.accuracy_repair), abs=1e-6)


def test_sweep_rejects_no_masks(net):
    with pytest.raises(ValueError, match="n_masks must be an integer of at least 1, got 0"):
        run_sweep(
            net,
            [NeuronDead(0.1)],
            jnp.zeros((2, 5, 12)),
            jnp.zeros((2,), jnp.int32),
            n_masks=0,
            key=jax.random.key(0),
        )


def test_fault_is_a_pytree_with_traced_rate(net):
    fault = eqx.tree_at(lambda f: f.rate, NeuronDead(0.1), jnp.asarray(0.5))
    masks = jax.jit(lambda f, k: draw_faults(net, f, key=k))(fault, jax.random.key(0))
    assert sum(int((m == 0).sum()) for m in masks.neuron_alive) == 15


TOP_LEVEL_REEXPORTS = [
    (
        "faults",
        (
            "AbstractEngine",
            "Dense",
            "Differential",
            "STATUS_OVERFLOW",
            "STATUS_DENSE_FALLBACK",
            "golden_run",
            "sweep_differential",
        ),
    ),
    (
        "energy",
        (
            "COST_TABLES",
            "CostTable",
            "DomainGating",
            "NeuronGating",
            "NoGating",
            "energy_breakdown",
            "load_cost_table",
            "simulate_gated",
        ),
    ),
]


@pytest.mark.parametrize(("subpackage", "names"), TOP_LEVEL_REEXPORTS)
def test_top_level_reexports(subpackage, names):
    import importlib

    import lifa_jax

    module = importlib.import_module(f"lifa_jax.{subpackage}")
    for name in names:
        assert getattr(lifa_jax, name) is getattr(module, name)
        assert name in lifa_jax.__all__


def test_sweep_masks_compiles_once(net, monkeypatch):
    # sweep_masks used to run the dense engine outside jit, tracing and compiling on every call.
    traces = []
    original = Dense.sweep

    def counting(self, *args, **kwargs):
        traces.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Dense, "sweep", counting)
    x = jax.random.uniform(jax.random.key(5), (6, 12))
    labels = jax.random.randint(jax.random.key(6), (6,), 0, 4)
    spikes = jax.vmap(lambda xi: RegularEncoder(max_rate=1000.0)(xi, 5))(x)
    keys = jax.random.split(jax.random.key(7), 2)
    first = sweep_masks(net, NeuronDead(0.3), keys, spikes, labels, chunk_size=2)
    again = sweep_masks(net, NeuronDead(0.3), keys, spikes, labels, chunk_size=2)
    other_rate = sweep_masks(net, NeuronDead(0.5), keys, spikes, labels, chunk_size=2)
    assert len(traces) == 1
    np.testing.assert_array_equal(first.accuracy_no_repair, again.accuracy_no_repair)
    assert other_rate.accuracy_no_repair.shape == (2,)


def test_smallest_equals_stable_argsort_ranks():
    from lifa_jax.faults.specs import smallest

    rng = np.random.default_rng(0)
    for trial in range(60):
        n = int(rng.integers(1, 120))
        # Odd trials hold many equal values, which a stable argsort ranks by index.
        u = (rng.integers(0, 5, n) / 4 if trial % 2 else rng.random(n)).astype(np.float32)
        if trial % 5 == 0:
            u[rng.random(n) < 0.3] = 2.0  # the value ineligible units get
        k = int(rng.integers(-1, n + 2))
        order = np.argsort(u, kind="stable")
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n)
        np.testing.assert_array_equal(np.asarray(smallest(jnp.asarray(u), k)), rank < k)
